/* fuzz-netrc.c - libFuzzer target for the netrc parser: the input's first
 * line is "host [user]", the rest is the text of a netrc file, looked up
 * for that host and user, and for that host and any user. */
#include "fuzz.h"
#include "secret.h"

static void lookup(const char *text, const char *host, const char *user)
{
	char *pw = NULL;
	if (netrc_lookup(text, host, user, &pw))
		secret_free(pw);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *nl = memchr(data, '\n', size);
	size_t first = nl ? (size_t)(nl - data) : size;
	char *host = fuzz_str(data, first);
	char *text = nl ? fuzz_str(nl + 1, size - first - 1) : fuzz_str(data, 0);
	char *user = strchr(host, ' ');

	if (user)
		*user++ = '\0';
	lookup(text, host, user);
	lookup(text, host, NULL);
	free(text);
	free(host);
	return 0;
}
