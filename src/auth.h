/* auth.h - SMTP AUTH (RFC 4954) through GNU SASL, with XOAUTH2 and
 * OAUTHBEARER (RFC 7628) written here because GNU SASL lacks them. */
#ifndef POSTIE_AUTH_H
#define POSTIE_AUTH_H

#include <stddef.h>
#include "route.h"
#include "smtp.h"

#define AUTH_MAX_MECHS 16

/* What the choice depends on. */
struct auth_ctx {
	const char *offered;  /* the server's AUTH list, space-separated */
	const char *forced;   /* a mechanism from the config, or NULL for auto */
	int protected;        /* verified TLS, or TLS with tls_certcheck off */
	int tls;              /* any TLS (channel binding possible) */
	int allow_exposed;    /* auth_without_tls on */
	int (*supported)(void *arg, const char *mech); /* NULL: everything is */
	void *supported_arg;
};

/* The mechanisms to try, in order (upper case), into out; returns how
 * many. When it returns 0, why says in words why none is usable. */
size_t auth_choose(const struct auth_ctx *c, char out[][24], size_t max, char *why, size_t whylen);

/* 1 for mechanisms that hand the secret itself to the server (PLAIN,
 * LOGIN, XOAUTH2, OAUTHBEARER). */
int auth_exposes_secret(const char *mech);

/* The mechanisms this build can use, space-separated, in the order of
 * the automatic choice then those used only when named (for --version).
 * Allocated. */
char *auth_mechanisms(void);

/* Authenticate s on hop h as policy p says (p->auth.mech set). EX_OK with
 * s->auth set, or: EX_UNAVAILABLE when no mechanism can be used (the
 * message lists what the server offers and what was tried),
 * EX_NOPERM for 535 and other 5xx, EX_TEMPFAIL for 4xx, EX_CONFIG when
 * there is no user or password, EX_PROTOCOL for a broken exchange. */
int auth_run(struct smtp_session *s, const struct hop *h, const struct policy *p, struct perr *e);

#endif
