/* fuzz-aliases.c - libFuzzer target for the aliases file: the input's
 * first line is a recipient list (as on the command line), the rest is an
 * aliases file. The file is parsed and the recipients expanded. */
#include "fuzz.h"
#include "aliases.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *nl = memchr(data, '\n', size);
	size_t first = nl ? (size_t)(nl - data) : size;
	char *rcpts = fuzz_str(data, first);
	const char *file = nl ? (const char *)nl + 1 : "";
	size_t flen = nl ? size - first - 1 : 0;
	struct aliases *al = NULL;
	struct addrlist l = { 0 };
	struct perr e;

	perr_clear(&e);
	if (aliases_parse("fuzz.aliases", file, flen, &al, &e) == 0) {
		if (addr_parse_list(rcpts, &l, &e) == 0)
			aliases_expand(al, &l, &e);
		aliases_free(al);
	}
	addrlist_free(&l);
	free(rcpts);
	return 0;
}
