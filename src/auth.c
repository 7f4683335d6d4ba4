/* auth.c - choose a SASL mechanism, run the exchange over smtp_command(),
 * report the outcome. GNU SASL does the mechanisms; XOAUTH2 and
 * OAUTHBEARER are a single message each and are built here. The secret
 * is fetched only when a mechanism asks for it, once, and wiped at the
 * end; the transcript shows every client payload as [redacted]. */
#include "auth.h"
#include "sasllib.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "oauth.h"
#include "net.h"
#include "secret.h"
#include "tls.h"
#include "util.h"

#define AUTH_MAX_ROUNDS 32
#define AUTH_LINE_MAX 512     /* RFC 4954 4: longer initial responses wait for a 334 */

enum { AUTH_NEXT = -1 };      /* try_mech: the server declined the mechanism */

static const struct mech {
	const char *name;
	int rank;          /* order of automatic choice, 0 = only when named */
	int exposes;       /* hands the secret itself to the server */
	int client_first;  /* has an initial response */
	int needs_cb;      /* -PLUS: needs TLS channel binding */
	int needs_user;
} mechs[] = {
	{ "SCRAM-SHA-256-PLUS", 1, 0, 1, 1, 1 },
	{ "SCRAM-SHA-1-PLUS",   2, 0, 1, 1, 1 },
	{ "SCRAM-SHA-256",      3, 0, 1, 0, 1 },
	{ "SCRAM-SHA-1",        4, 0, 1, 0, 1 },
	{ "PLAIN",              5, 1, 1, 0, 1 },
	{ "LOGIN",              6, 1, 0, 0, 1 },
	{ "CRAM-MD5",           7, 0, 0, 0, 1 },
	{ "DIGEST-MD5",         8, 0, 0, 0, 1 },
	{ "EXTERNAL",           0, 0, 1, 0, 0 },
	{ "GSSAPI",             0, 0, 1, 0, 0 },
	{ "NTLM",               0, 0, 1, 0, 1 },
	{ "XOAUTH2",            0, 1, 1, 0, 1 },
	{ "OAUTHBEARER",        0, 1, 1, 0, 1 },
};
#define NMECHS (sizeof mechs / sizeof mechs[0])

/* Mechanisms not in the table: unknown to us, so treated with care. */
static const struct mech unknown_mech = { NULL, 0, 1, 0, 0, 1 };

static const struct mech *mech_info(const char *name)
{
	for (size_t i = 0; i < NMECHS; i++)
		if (ascii_casecmp(mechs[i].name, name) == 0)
			return &mechs[i];
	return &unknown_mech;
}

int auth_exposes_secret(const char *mech)
{
	return mech_info(mech)->exposes;
}


static int is_ours(const char *mech)
{
	return ascii_casecmp(mech, "XOAUTH2") == 0 || ascii_casecmp(mech, "OAUTHBEARER") == 0;
}

char *auth_mechanisms(void)
{
	Gsasl *ctx = NULL;
	struct buf b;
	struct perr e;
	buf_init(&b);
	if (sasllib_load(&e) != EX_OK || gsasl_init(&ctx) != GSASL_OK)
		ctx = NULL;
	for (size_t i = 0; i < NMECHS; i++)   /* the table is in that order */
		if (is_ours(mechs[i].name) || (ctx && gsasl_client_support_p(ctx, mechs[i].name)))
			buf_printf(&b, "%s%s", b.len ? " " : "", mechs[i].name);
	if (ctx)
		gsasl_done(ctx);
	return buf_steal(&b);
}

/* Is word (any case) in the space-separated list? */
static int offered(const char *list, const char *word)
{
	size_t n = strlen(word);
	for (const char *p = list; p && *p;) {
		p += strspn(p, " ");
		size_t m = strcspn(p, " ");
		if (m == n && ascii_ncasecmp(p, word, n) == 0)
			return 1;
		p += m;
	}
	return 0;
}

static void upper(char *dst, const char *src, size_t n)
{
	size_t i = 0;
	for (; src[i] && i + 1 < n; i++)
		dst[i] = (char)(src[i] >= 'a' && src[i] <= 'z' ? src[i] - 32 : src[i]);
	dst[i] = '\0';
}

#define EXPOSED_HINT "send the password itself over a connection that is not verified TLS; " \
	"use TLS with a verified certificate (tls on), or set auth_without_tls on to allow it anyway"

size_t auth_choose(const struct auth_ctx *c, char out[][24], size_t max, char *why, size_t whylen)
{
	size_t n = 0;
	why[0] = '\0';
	if (max == 0) {
		snprintf(why, whylen, "no room for a mechanism");
		return 0;
	}
	if (c->forced) {
		char m[24];
		const struct mech *mi = mech_info(c->forced);
		upper(m, c->forced, sizeof m);
		if (!offered(c->offered, m))
			snprintf(why, whylen, "the server does not offer %s (it offers %s)", m, c->offered);
		else if (c->supported && !c->supported(c->supported_arg, m))
			snprintf(why, whylen, "GNU SASL cannot do %s here", m);
		else if (mi->needs_cb && !c->tls)
			snprintf(why, whylen, "%s needs TLS for its channel binding", m);
		else if (mi->exposes && !c->protected && !c->allow_exposed)
			snprintf(why, whylen, "%s is refused: it would " EXPOSED_HINT, m);
		else
			memcpy(out[n++], m, sizeof m);
		return n;
	}
	int held_back = 0, no_cb = 0;
	for (int rank = 1; n < max; rank++) {
		const struct mech *mi = NULL;
		for (size_t i = 0; i < NMECHS; i++)
			if (mechs[i].rank == rank)
				mi = &mechs[i];
		if (!mi)
			break;
		if (!offered(c->offered, mi->name) || (c->supported && !c->supported(c->supported_arg, mi->name)))
			continue;
		if (mi->needs_cb && !c->tls) {
			no_cb = 1;
			continue;
		}
		if (mi->exposes && !c->protected && !c->allow_exposed) {
			held_back = 1;
			continue;
		}
		snprintf(out[n++], 24, "%s", mi->name);
	}
	if (n == 0)
		snprintf(why, whylen, "no usable mechanism: the server offers %s%s%s", c->offered,
		         no_cb ? "; the -PLUS mechanisms need TLS for their channel binding" : "",
		         held_back ? "; PLAIN and LOGIN are not chosen: they would " EXPOSED_HINT
		                   : "; postie chooses among SCRAM-SHA-256(-PLUS), SCRAM-SHA-1(-PLUS), "
		                     "PLAIN, LOGIN, CRAM-MD5 and DIGEST-MD5 (name another with auth)");
	return n;
}

/* ---- the exchange ---- */

struct state {
	struct smtp_session *s;
	const struct hop *h;
	const struct policy *p;
	Gsasl *ctx;
	char *secret;            /* fetched once, when first needed */
	int secret_failed;
	struct perr secret_err;
	const char *cb_type;     /* "tls-exporter", "tls-unique" or NULL */
	char *cb64;              /* its data, base64 */
	char detail[300];        /* the decoded error a server sent in a 334 (OAuth) */
	int plus;                /* the mechanism being run is a -PLUS one */
};

static int need_secret(struct state *st)
{
	const char *source;
	if (st->secret)
		return 0;
	if (st->secret_failed)
		return -1;
	if (st->p->use_oauth) {   /* the secret is an access token, never a password */
		source = "the OAuth2 token file";
		if (oauth_access_token(&st->p->oauth, 0, &st->secret, &st->secret_err) != EX_OK) {
			st->secret_failed = 1;
			return -1;
		}
	} else if (secret_get(st->h, st->p, &st->secret, &source, &st->secret_err) != EX_OK) {
		st->secret_failed = 1;
		return -1;
	}
	log_info("%s for %s from %s", st->p->use_oauth ? "access token" : "password",
	         st->p->auth.user ? st->p->auth.user : "(no user)", source);
	return 0;
}

static int callback(Gsasl *ctx, Gsasl_session *sctx, Gsasl_property prop)
{
	struct state *st = gsasl_callback_hook_get(ctx);
	const struct auth_policy *a = &st->p->auth;
	switch (prop) {
	case GSASL_AUTHID:
		return a->user ? gsasl_property_set(sctx, prop, a->user) : GSASL_NO_AUTHID;
	case GSASL_PASSWORD:
		if (need_secret(st))
			return GSASL_NO_PASSWORD;
		return gsasl_property_set(sctx, prop, st->secret);
	case GSASL_SERVICE:
		return gsasl_property_set(sctx, prop, "smtp");
	case GSASL_HOSTNAME:
		return gsasl_property_set(sctx, prop, st->h->host ? st->h->host : "localhost");
	case GSASL_REALM:
		return a->ntlmdomain ? gsasl_property_set(sctx, prop, a->ntlmdomain) : GSASL_NO_CALLBACK;
	case GSASL_CB_TLS_UNIQUE:
	case GSASL_CB_TLS_EXPORTER:
		/* Only for -PLUS: GNU SASL 2.2's plain SCRAM client fails its
		 * first step when it is given binding data. */
		if (st->plus && st->cb64 && strcmp(st->cb_type, prop == GSASL_CB_TLS_UNIQUE ? "tls-unique" : "tls-exporter") == 0)
			return gsasl_property_set(sctx, prop, st->cb64);
		return GSASL_NO_CALLBACK;
	default:
		return GSASL_NO_CALLBACK;
	}
}

static int supported_here(void *ctx, const char *mech)
{
	return is_ours(mech) || gsasl_client_support_p(ctx, mech);
}

static void free_b64(char *s)
{
	if (s) {
		wipe(s, strlen(s));
		gsasl_free(s);
	}
}

/* Send one client line of the exchange (redacted in the transcript). */
static int send_payload(struct state *st, const char *line, struct smtp_reply *r, struct perr *e)
{
	return smtp_command(st->s, line, SHOW_NOTHING, "reply to AUTH", r, e);
}

/* XOAUTH2 / OAUTHBEARER: the one message, base64-encoded. */
static int oauth_message(struct state *st, const char *mech, char **b64, struct perr *e)
{
	struct buf m;
	if (need_secret(st)) {
		*e = st->secret_err;
		return e->ex;
	}
	buf_init(&m);
	if (ascii_casecmp(mech, "XOAUTH2") == 0) {
		buf_printf(&m, "user=%s\001auth=Bearer %s\001\001", st->p->auth.user, st->secret);
	} else {
		/* RFC 7628 3.1, with the gs2 header's a= escaped per RFC 5801 */
		buf_adds(&m, "n,a=");
		for (const char *p = st->p->auth.user; *p; p++)
			buf_adds(&m, *p == ',' ? "=2C" : *p == '=' ? "=3D" : (char[]){ *p, 0 });
		buf_printf(&m, ",\001host=%s\001port=%d\001auth=Bearer %s\001\001",
		           st->h->host ? st->h->host : "localhost", st->h->port, st->secret);
	}
	int r = gsasl_base64_to(m.s, m.len, b64, NULL);
	buf_free(&m);
	if (r != GSASL_OK)
		return perr_fail(e, FC_INTERNAL, "cannot encode the %s message", mech);
	return EX_OK;
}

/* The first response: base64, "" when the mechanism starts empty, NULL
 * when the server speaks first. */
static int first_response(struct state *st, const char *mech, Gsasl_session *sctx, char **b64,
                          struct perr *e)
{
	*b64 = NULL;
	if (is_ours(mech))
		return oauth_message(st, mech, b64, e);
	if (!mech_info(mech)->client_first)
		return EX_OK;
	int r = gsasl_step64(sctx, "", b64);
	if (r == GSASL_OK || r == GSASL_NEEDS_MORE)
		return EX_OK;
	if (st->secret_failed) {
		*e = st->secret_err;
		return e->ex;
	}
	return perr_fail(e, FC_CONFIG, "cannot start %s: %s", mech, gsasl_strerror(r));
}

/* Decode the text of a 334 for a message (OAuth error JSON). */
static void note_detail(struct state *st, const char *b64)
{
	char *raw = NULL;
	size_t n = 0;
	if (gsasl_base64_from(b64, strlen(b64), &raw, &n) != GSASL_OK || !raw)
		return;
	size_t k = 0;
	for (size_t i = 0; i < n && k + 1 < sizeof st->detail; i++)
		st->detail[k++] = raw[i] >= 0x20 && raw[i] < 0x7f ? raw[i] : ' ';
	st->detail[k] = '\0';
	gsasl_free(raw);
}

/* Answer one 334 challenge. Sets *line to the base64 answer. */
static int answer(struct state *st, const char *mech, Gsasl_session *sctx, const char *challenge,
                  char **line, struct perr *e)
{
	*line = NULL;
	if (is_ours(mech)) {
		/* an OAuth 334 is the server's error report; RFC 7628 3.2.3
		 * wants a dummy reply (XOAUTH2: an empty line) to get the 5xx */
		note_detail(st, challenge);
		/* RFC 7628 3.2.2: the token was refused; a fresh one may pass */
		st->s->oauth_rejected = st->p->use_oauth;
		*line = strdup(ascii_casecmp(mech, "OAUTHBEARER") == 0 ? "AQ==" : "");
		return *line ? EX_OK : perr_fail(e, FC_OS, "out of memory");
	}
	int r = gsasl_step64(sctx, challenge, line);
	if (r == GSASL_OK || r == GSASL_NEEDS_MORE) {
		if (!*line)
			*line = strdup("");
		return *line ? EX_OK : perr_fail(e, FC_OS, "out of memory");
	}
	if (st->secret_failed) {
		*e = st->secret_err;
		return e->ex;
	}
	if (r == GSASL_AUTHENTICATION_ERROR)
		return perr_fail(e, FC_PROTOCOL, "%s: the server's final %s message is wrong (it did not "
		                "prove that it knows the password); stopped", st->s->peer, mech);
	return perr_fail(e, FC_PROTOCOL, "%s: cannot answer the %s challenge: %s", st->s->peer, mech,
	                gsasl_strerror(r));
}

/* One mechanism from AUTH to the final reply. AUTH_NEXT when the server
 * declines the mechanism itself (504, 534, 538) and auto may go on. */
static int try_mech(struct state *st, const char *mech, int may_fall_back, char *tried, size_t tlen,
                    struct perr *e)
{
	Gsasl_session *sctx = NULL;
	struct smtp_reply r;
	char *ir = NULL, *cmd = NULL;
	int rc, pending_ir = 0;

	perr_clear(e);
	st->detail[0] = '\0';
	st->plus = mech_info(mech)->needs_cb;
	if (mech_info(mech)->needs_user && !st->p->auth.user)
		return perr_fail(e, FC_CONFIG, "account %s: %s needs a user name (set user)", st->p->name, mech);
	if (!is_ours(mech) && (rc = gsasl_client_start(st->ctx, mech, &sctx)) != GSASL_OK)
		return perr_fail(e, FC_EXTENSION, "cannot start %s: %s", mech, gsasl_strerror(rc));
	if ((rc = first_response(st, mech, sctx, &ir, e)) != EX_OK)
		goto out;
	if (ir && strlen(mech) + strlen(ir) + 6 <= AUTH_LINE_MAX) {
		cmd = xasprintf("AUTH %s %s", mech, *ir ? ir : "=");
	} else {
		cmd = xasprintf("AUTH %s", mech);
		pending_ir = ir != NULL;
	}
	smtp_reply_init(&r);
	rc = smtp_command(st->s, cmd, SHOW_LINE, "reply to AUTH", &r, e);
	for (int round = 0; rc == EX_OK && r.code == 334; round++) {
		char *line = NULL;
		if (round >= AUTH_MAX_ROUNDS) {
			rc = perr_fail(e, FC_PROTOCOL, "%s: the %s exchange does not end", st->s->peer, mech);
			break;
		}
		if (pending_ir) {
			pending_ir = 0;
			line = strdup(ir);
		} else if ((rc = answer(st, mech, sctx, r.text.s ? r.text.s : "", &line, e)) != EX_OK) {
			/* cancel (RFC 4954 4: "*"), read the 501, keep our error */
			struct perr ignored;
			struct smtp_reply cancel;
			smtp_reply_init(&cancel);
			smtp_command(st->s, "*", SHOW_LINE, "reply to the cancelled AUTH", &cancel, &ignored);
			smtp_reply_free(&cancel);
			break;
		}
		rc = send_payload(st, line ? line : "", &r, e);
		free_b64(line);
	}
	if (rc == EX_OK) {
		size_t used = strlen(tried);
		snprintf(tried + used, tlen - used, "%s%s (%d)", used ? ", " : "", mech, r.code);
		if (r.code == 235) {
			log_info("authenticated as %s with %s", st->p->auth.user ? st->p->auth.user : "(none)", mech);
		} else if (may_fall_back && (r.code == 504 || r.code == 534 || r.code == 538)) {
			rc = AUTH_NEXT;
		} else {
			char *q = xstrndup(r.text.s ? r.text.s : "", strcspn(r.text.s ? r.text.s : "", "\n"));
			rc = perr_reply(e, PH_AUTH, r.code, r.enh, "authentication as %s with %s refused by %s: "
			                "%d %s%s%s%s", st->p->auth.user ? st->p->auth.user : "(none)", mech, st->s->peer,
			                r.code, q, st->detail[0] ? " (" : "", st->detail,
			                st->detail[0] ? ")" : "");
			free(q);
			if (rc == EX_OK)
				rc = perr_fail(e, FC_PROTOCOL, "%s answered AUTH with %d", st->s->peer, r.code);
		}
	}
	smtp_reply_free(&r);
out:
	free(cmd);
	free_b64(ir);
	if (sctx)
		gsasl_finish(sctx);
	return rc;
}

static void set_channel_binding(struct state *st)
{
	struct buf d;
	const char *type;
	buf_init(&d);
	if (st->s->tls_state && tls_channel_binding(st->s->tls_state, &type, &d) == 0 &&
	    gsasl_base64_to(d.s, d.len, &st->cb64, NULL) == GSASL_OK)
		st->cb_type = type;
	buf_free(&d);
}

int auth_run(struct smtp_session *s, const struct hop *h, const struct policy *p, struct perr *e)
{
	struct state st;
	char list[AUTH_MAX_MECHS][24], why[600], tried[400] = "";
	int rc = EX_UNAVAILABLE;

	perr_clear(e);
	if (!s->caps.auth)
		return perr_fail(e, FC_EXTENSION, "%s does not offer authentication (no AUTH in its "
		                "EHLO reply), and account %s asks for it (auth %s)", s->peer, p->name, p->auth.mech);
	memset(&st, 0, sizeof st);
	st.s = s;
	st.h = h;
	st.p = p;
	if (sasllib_load(e))
		return e->ex;
	if (gsasl_init(&st.ctx) != GSASL_OK)
		return perr_fail(e, FC_INTERNAL, "cannot initialise GNU SASL");
	gsasl_callback_set(st.ctx, callback);
	gsasl_callback_hook_set(st.ctx, &st);
	struct auth_ctx c = {
		.offered = s->caps.auth,
		.forced = ascii_casecmp(p->auth.mech, "on") == 0 ? NULL : p->auth.mech,
		.tls = s->tls_state != NULL,
		.protected = s->tls_state && (tls_verified(s->tls_state) || !h->tls.certcheck),
		.allow_exposed = p->auth.without_tls,
		.supported = supported_here,
		.supported_arg = st.ctx,
	};
	size_t n = auth_choose(&c, list, AUTH_MAX_MECHS, why, sizeof why);
	if (n == 0) {
		rc = perr_fail(e, FC_EXTENSION, "cannot authenticate to %s: %s", s->peer, why);
		goto out;
	}
	set_channel_binding(&st);
	for (size_t i = 0; i < n; i++) {
		rc = try_mech(&st, list[i], c.forced == NULL, tried, sizeof tried, e);
		if (rc != AUTH_NEXT)
			break;
	}
	if (rc == AUTH_NEXT)
		rc = perr_fail(e, FC_EXTENSION, "cannot authenticate to %s: it offers %s, and declined "
		              "every mechanism tried: %s", s->peer, s->caps.auth, tried);
	if (rc == EX_OK)
		s->auth = 1;
out:
	secret_free(st.secret);
	free_b64(st.cb64);
	gsasl_done(st.ctx);
	return rc;
}
