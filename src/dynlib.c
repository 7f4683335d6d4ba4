/* dynlib.c - the tables of the libraries postie loads on first use, and
 * their loading (see dynlib.h). */
#define DYNLIB_TABLES
#include "dynlib.h"

#include <dlfcn.h>
#include <stdio.h>

#include "curllib.h"
#include "idnlib.h"
#include "jsonlib.h"
#include "sasllib.h"
#include "tlslib.h"

struct tlslib tlslib;
struct idnlib idnlib;
struct sasllib sasllib;
struct curllib curllib;
struct jsonlib jsonlib;

struct sym {
	const char *name;
	void **slot;
};

struct lib {
	const char *soname;
	const char *what;         /* for messages: "the TLS library" */
	const struct sym *syms;
	size_t nsyms;
	int state;                /* 0: not tried, 1: loaded, -1: failed */
	char why[300];
};

/* Open l (once) and fill its table: EX_OK, or EX_OSERR naming the
 * library and why it cannot be used. */
static int load(struct lib *l, struct perr *e)
{
	if (l->state == 0) {
		void *h = dlopen(l->soname, RTLD_NOW | RTLD_LOCAL);
		l->state = h ? 1 : -1;
		if (!h)
			snprintf(l->why, sizeof l->why, "%s", dlerror());
		for (size_t i = 0; h && i < l->nsyms; i++)
			if (!(*l->syms[i].slot = dlsym(h, l->syms[i].name))) {
				snprintf(l->why, sizeof l->why, "it has no %s", l->syms[i].name);
				l->state = -1;
				break;
			}
	}
	if (l->state < 0)
		return perr_fail(e, FC_OS, "cannot load %s, %s: %s", l->soname, l->what, l->why);
	return EX_OK;
}

#define SYM(table, name) { #name, (void **)&table.p_##name },
#define TLS_SYM(name) SYM(tlslib, name)
#define IDN_SYM(name) SYM(idnlib, name)
#define SASL_SYM(name) SYM(sasllib, name)
#define CURL_SYM(name) SYM(curllib, name)
#define JSON_SYM(name) SYM(jsonlib, name)
static const struct sym tls_syms[] = { TLSLIB_NAMES(TLS_SYM) };
static const struct sym idn_syms[] = { IDNLIB_NAMES(IDN_SYM) };
static const struct sym sasl_syms[] = { SASLLIB_NAMES(SASL_SYM) };
static const struct sym curl_syms[] = { CURLLIB_NAMES(CURL_SYM) };
static const struct sym json_syms[] = { JSONLIB_NAMES(JSON_SYM) };
#define LIB(soname, what, syms) { soname, what, syms, sizeof syms / sizeof syms[0], 0, "" }

int tlslib_load(struct perr *e)
{
	static struct lib l = LIB(GNUTLS_SONAME, "the TLS library", tls_syms);
	return load(&l, e);
}

int idnlib_load(struct perr *e)
{
	static struct lib l = LIB(IDN2_SONAME, "the library for international domain names", idn_syms);
	return load(&l, e);
}

int sasllib_load(struct perr *e)
{
	static struct lib l = LIB(GSASL_SONAME, "the SASL library", sasl_syms);
	return load(&l, e);
}

int curllib_load(struct perr *e)
{
	static struct lib l = LIB(CURL_SONAME, "needed for OAuth2", curl_syms);
	int ex = l.state;
	if (load(&l, e))
		return e->ex;
	if (ex == 0)
		curllib.p_curl_global_init(CURL_GLOBAL_DEFAULT);
	return EX_OK;
}

int jsonlib_load(struct perr *e)
{
	static struct lib l = LIB(JANSSON_SONAME, "the JSON library, needed for OAuth2", json_syms);
	return load(&l, e);
}
