/* deliver.c - one delivery over a route: recipients in their envelope
 * forms, a session on the first hop that gives one, one transaction,
 * QUIT; the facts the caller reports (hop, TLS, AUTH, notices). Nothing
 * here prints or exits. */
#include "deliver.h"

#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "mx.h"
#include "secret.h"
#include "session.h"
#include "smtp.h"
#include "util.h"

int rcpt_init(struct rcpt *r, const struct addr *a, struct perr *e)
{
	memset(r, 0, sizeof *r);
	perr_clear(&r->result);
	r->given = addr_envelope(a);
	if (!a->domain)
		return perr_fail(e, FC_ADDRESS, "recipient '%s' has no domain: give a full address, or map it "
		                "in an aliases file ('aliases' in postierc(5))", a->local);
	if (addr_envelope_ascii(a, &r->ascii, e) || addr_check_limits(r->ascii, "recipient", e) ||
	    addr_envelope_utf8(a, &r->utf8, e))
		return perr_reclass(e, FC_ADDRESS);
	r->state = RCPT_PENDING;
	return EX_OK;
}

void rcpt_free(struct rcpt *r)
{
	free(r->given);
	free(r->ascii);
	free(r->utf8);
	free(r->orcpt);
	memset(r, 0, sizeof *r);
}

size_t envelope_pending(const struct envelope *env)
{
	size_t n = 0;
	for (size_t i = 0; i < env->nrcpt; i++)
		n += env->rcpt[i].state == RCPT_PENDING;
	return n;
}

/* tls= for the log: what the session did, else what the hop asks for. */
static const char *tls_word(const struct hop *h, const struct smtp_session *s)
{
	if (s->tls)
		return "on";
	if (s->tls_failed)
		return "failed";
	return h->tls_mode == TM_STARTTLS || h->tls_mode == TM_IMPLICIT ? "on" : "off";
}

/* The server refused the OAuth2 access token (RFC 7628 3.2.2): refresh
 * it once and open a new session. */
static int open_with_fresh_token(const struct route *r, struct smtp_session *s,
                                 const struct hop **used, struct perr *e)
{
	char *token;
	if (!s->oauth_rejected)
		return e->ex;
	log_info("%s; refreshing the access token and trying again", e->msg);
	if (s->c)
		smtp_quit(s);
	smtp_session_free(s);
	memset(s, 0, sizeof *s);
	if (oauth_access_token(&r->policy.oauth, 1, &token, e))
		return e->ex;
	secret_free(token);
	return session_open_route(r, 1, s, used, e);
}

void courier_init(struct courier *k, const struct route *r)
{
	memset(k, 0, sizeof *k);
	k->r = r;
	k->used = r->nhop ? &r->hop[0] : NULL;
	k->s = xcalloc(1, sizeof *k->s);
}

static void end_session(struct courier *k)
{
	if (k->s->c)
		smtp_quit(k->s);
	smtp_session_free(k->s);
	k->open = 0;
}

int courier_send(struct courier *k, struct envelope *env, struct msg *m, int last, struct delivery *d)
{
	struct perr e;
	int fresh = !k->open;
	if (k->r->mx.on)   /* a route per recipient domain, no session kept */
		return mx_deliver(k->r, env, m, d, &k->mx);
	perr_clear(&e);
	if (fresh && (session_open_route(k->r, 1, k->s, &k->used, &e) == EX_OK ||
	              open_with_fresh_token(k->r, k->s, &k->used, &e) == EX_OK))
		k->open = 1;
	if (k->open) {
		smtp_send_mail(k->s, env, m, last, d);
	} else {
		memset(d, 0, sizeof *d);
		d->sent = -1;
		d->session = e;
		d->ex = e.ex;
	}
	d->hop = k->used;
	d->tls = tls_word(k->used, k->s);
	d->auth = k->s->auth;
	snprintf(d->notice, sizeof d->notice, "%s", fresh ? k->s->notice : "");
	if (!k->open || last || k->s->dead || !k->s->c)
		end_session(k);
	return d->ex;
}

void courier_close(struct courier *k)
{
	if (k->open)
		end_session(k);
	mx_plan_free(k->mx);
	k->mx = NULL;
	free(k->s);
	k->s = NULL;
}

void courier_drop(struct courier *k)
{
	smtp_session_drop(k->s);
	k->open = 0;
	courier_close(k);
}

int deliver(struct envelope *env, struct msg *m, const struct route *r, struct delivery *d)
{
	struct courier k;
	courier_init(&k, r);
	int ex = courier_send(&k, env, m, 1, d);
	courier_close(&k);
	return ex;
}
