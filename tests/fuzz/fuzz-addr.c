/* fuzz-addr.c - libFuzzer target for the address-list parser: the input
 * is a header field body (to its first NUL). Every address parsed is
 * turned into its envelope form, its ASCII (IDNA) envelope form and its
 * display-name phrase; then the list is deduplicated. */
#include "fuzz.h"
#include "addr.h"

static void use_addr(const struct addr *a)
{
	struct perr e;
	char *s = addr_envelope(a);
	free(s);
	perr_clear(&e);
	if (addr_envelope_ascii(a, &s, &e) == 0)
		free(s);
	if (a->name) {
		s = addr_phrase(a->name);
		free(s);
	}
	addr_is_8bit(a->local);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = fuzz_str(data, size);
	struct addrlist l = { 0 };
	struct perr e;

	perr_clear(&e);
	if (addr_parse_list(s, &l, &e) == 0) {
		for (size_t i = 0; i < l.n; i++)
			use_addr(&l.v[i]);
		addrlist_dedup(&l);
	}
	addrlist_free(&l);
	free(s);
	return 0;
}
