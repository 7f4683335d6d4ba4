/* fuzz-conf.c - libFuzzer target for the configuration parser: the input
 * is one postierc file. Every account it defines is copied, finished
 * (substitutions, defaults, consistency checks) and printed. eval lines
 * run nothing (see fuzz.h). */
#include "fuzz.h"
#include "conf.h"

#include <stdio.h>

static FILE *devnull(void)
{
	static FILE *f;
	if (!f && !(f = fopen("/dev/null", "w")))
		abort();
	return f;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config cfg = { 0 };
	struct perr e;

	perr_clear(&e);
	if (conf_parse_buf("fuzz.rc", (const char *)data, size, &cfg, &e) == 0) {
		for (size_t i = 0; i < cfg.nacc; i++) {
			struct account *a = account_dup(cfg.acc[i]);
			struct perr fe;
			perr_clear(&fe);
			conf_finish(a, CONF_SHOW, &fe);
			conf_print(a, devnull());
			account_free(a);
		}
		conf_find(&cfg, "default");
		conf_find_by_from(&cfg, "someone+tag@example.org");
	}
	config_free(&cfg);
	return 0;
}
