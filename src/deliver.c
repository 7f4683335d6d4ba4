/* deliver.c - one delivery over a route: recipients in their envelope
 * forms, a session on the first hop that gives one, one transaction,
 * QUIT; the same down the route's fallback accounts while the failure
 * allows it; the facts the caller reports (hop, route, TLS, AUTH,
 * notices). Nothing here prints or exits. */
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
	k->cur = r;
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

int delivery_may_fail_over(const struct delivery *d)
{
	if (d->data_sent || d->ndelivered || d->session.ex == EX_OK)
		return 0;
	switch (status_action(&d->session)) {
	case ACTION_NEXT_HOP:
		return 1;
	case ACTION_RETRY:   /* this account's name server or token endpoint */
		return d->session.fc == FC_DNS_TEMP || d->session.fc == FC_OAUTH_TEMP;
	default:
		return 0;
	}
}

/* One transaction over route r: on the kept session, else on a new one. */
static void attempt(struct courier *k, const struct route *r, struct envelope *env, struct msg *m,
                    int last, struct delivery *d)
{
	struct perr e;
	int fresh = !k->open;
	perr_clear(&e);
	if (fresh) {
		k->cur = r;
		if (session_open_route(r, 1, k->s, &k->used, &e) == EX_OK ||
		    open_with_fresh_token(r, k->s, &k->used, &e) == EX_OK)
			k->open = 1;
	}
	if (k->open) {
		smtp_send_mail(k->s, env, m, last, d);
	} else {
		memset(d, 0, sizeof *d);
		d->sent = -1;
		d->session = e;
		d->ex = e.ex;
	}
	d->hop = k->used;
	d->route = r;
	d->tls = tls_word(k->used, k->s);
	d->auth = k->s->auth;
	snprintf(d->notice, sizeof d->notice, "%s", fresh ? k->s->notice : "");
	if (!k->open || last || k->s->dead || !k->s->c)
		end_session(k);
}

/* The failures of the routes a message left behind on its way down the
 * fallback chain. */
struct chain {
	struct buf why;      /* "account 'a': ...; fallback account 'b': ..." */
	struct perr temp;    /* the first temporary one; EX_OK: none */
};

static void chain_note(struct chain *ch, const struct route *r, int n, const struct perr *e)
{
	buf_printf(&ch->why, "%s%saccount '%s': %s", ch->why.len ? "; " : "", n ? "fallback " : "",
	           r->policy.name, e->msg);
	if (ch->temp.ex == EX_OK && status_temporary(e))
		ch->temp = *e;
}

/* Every route failed: d->session names each failure; its class is the
 * last route's, or the first temporary one's when the last is not
 * temporary, so that the message is retried rather than given up while
 * a server of the chain may come back. */
static void chain_settle(struct chain *ch, const struct route *r, int n, struct envelope *env,
                         struct delivery *d)
{
	struct perr out = status_temporary(&d->session) || ch->temp.ex == EX_OK ? d->session : ch->temp;
	chain_note(ch, r, n, &d->session);
	snprintf(out.msg, sizeof out.msg, "%s", ch->why.s);
	d->session = out;
	d->ex = out.ex;
	for (size_t i = 0; i < env->nrcpt; i++)
		if (env->rcpt[i].state == RCPT_REFUSED)
			d->ex = status_combine(d->ex, env->rcpt[i].result.ex);
}

/* How far down r's chain to is: 0 for r itself. */
static int chain_index(const struct route *r, const struct route *to)
{
	int n = 0;
	for (; r && r != to; r = r->fallback)
		n++;
	return r ? n : 0;
}

int courier_send(struct courier *k, struct envelope *env, struct msg *m, int last, struct delivery *d)
{
	if (k->r->mx.on) {   /* a route per recipient domain, no session kept */
		int ex = mx_deliver(k->r, env, m, d, &k->mx);
		d->route = k->r;
		d->fallback = 0;
		return ex;
	}
	const struct route *r = k->open ? k->cur : k->r;
	int n = chain_index(k->r, r), failed = 0;
	struct chain ch;
	buf_init(&ch.why);
	perr_clear(&ch.temp);
	for (;;) {
		attempt(k, r, env, m, last, d);
		d->fallback = n;
		if (!r->fallback || !delivery_may_fail_over(d) || envelope_pending(env) == 0)
			break;
		log_info("trying fallback account '%s' after account '%s' failed: %s",
		         r->fallback->policy.name, r->policy.name, d->session.msg);
		chain_note(&ch, r, n, &d->session);
		failed++;
		if (k->open)
			end_session(k);
		r = r->fallback;
		n++;
	}
	if (failed && d->session.ex != EX_OK)
		chain_settle(&ch, r, n, env, d);
	else if (n && d->ndelivered)
		log_info("delivered through fallback account '%s'", r->policy.name);
	buf_free(&ch.why);
	return d->ex;
}

/* The facts of the session for the report. */
static void courier_facts(struct courier *k, int fresh, struct delivery *d)
{
	d->hop = k->used;
	d->route = k->cur;
	d->fallback = chain_index(k->r, k->cur);
	d->tls = k->used ? tls_word(k->used, k->s) : "off";
	d->auth = k->s->auth;
	snprintf(d->notice, sizeof d->notice, "%s", fresh ? k->s->notice : "");
}

/* MAIL over route rt: on the kept session, else on a new one (and once
 * more on a new one when the kept session turns out to have ended). */
static int mail_on(struct courier *k, const struct route *rt, struct envelope *env,
                   const struct smtp_mail_opts *o, struct smtp_reply *r, struct delivery *d)
{
	struct perr e;
	perr_clear(&e);
	for (int tries = 0; tries < 2; tries++) {
		int fresh = !k->open;
		if (fresh) {
			k->cur = rt;
			if (session_open_route(rt, 1, k->s, &k->used, &e) == EX_OK ||
			    open_with_fresh_token(rt, k->s, &k->used, &e) == EX_OK)
				k->open = 1;
		}
		if (k->open && smtp_relay_mail(k->s, env, o, r, &e) == EX_OK &&
		    (fresh || r->code != 421)) {
			courier_facts(k, fresh, d);
			return EX_OK;
		}
		courier_facts(k, fresh, d);
		if (k->open || k->s->c)
			end_session(k);
		if (fresh)
			break;
		log_info("the session with %s ended while idle; opening a new one", hop_name(k->used));
	}
	if (e.ex == EX_OK)   /* 421 from a fresh session: passed back as it is */
		return EX_OK;
	d->session = e;
	d->ex = e.ex;
	return e.ex;
}

int courier_mail(struct courier *k, struct envelope *env, const struct smtp_mail_opts *o,
                 struct smtp_reply *r, struct delivery *d)
{
	const struct route *rt = k->open ? k->cur : k->r;
	struct perr temp;
	perr_clear(&temp);
	for (;;) {
		memset(d, 0, sizeof *d);
		perr_clear(&d->session);
		d->sent = -1;
		int ex = mail_on(k, rt, env, o, r, d);
		int busy = ex == EX_OK && r->code / 100 == 4;   /* a 4xx to MAIL: next account */
		if (ex != EX_OK && temp.ex == EX_OK && status_temporary(&d->session))
			temp = d->session;
		if (!rt->fallback || (ex == EX_OK && !busy) || (ex != EX_OK && !delivery_may_fail_over(d)))
			break;
		if (busy)
			log_info("trying fallback account '%s' after account '%s' answered MAIL with %d %s",
			         rt->fallback->policy.name, rt->policy.name, r->code, r->text.s ? r->text.s : "");
		else
			log_info("trying fallback account '%s' after account '%s' failed: %s",
			         rt->fallback->policy.name, rt->policy.name, d->session.msg);
		if (k->open)
			end_session(k);
		rt = rt->fallback;
	}
	/* a broken fallback does not make a temporary failure final */
	if (d->ex != EX_OK && temp.ex != EX_OK && !status_temporary(&d->session)) {
		d->session = temp;
		d->ex = temp.ex;
	}
	if (d->ex == EX_OK && d->fallback && r->code / 100 == 2)
		log_info("sending through fallback account '%s'", rt->policy.name);
	return d->ex;
}

int courier_rcpt(struct courier *k, struct rcpt *rc, struct smtp_reply *r, struct perr *e)
{
	if (!k->open)
		return perr_fail(e, FC_INTERNAL, "no session for RCPT");
	return smtp_relay_rcpt(k->s, rc, r, e);
}

int courier_data(struct courier *k, struct envelope *env, struct msg *m, struct smtp_reply *r,
                 struct delivery *d)
{
	if (!k->open) {
		memset(d, 0, sizeof *d);
		d->sent = -1;
		d->ex = perr_fail(&d->session, FC_INTERNAL, "no session for DATA");
		return d->ex;
	}
	smtp_relay_data(k->s, env, m, r, d);
	courier_facts(k, 0, d);
	if (k->s->dead || !k->s->c)
		end_session(k);
	return d->ex;
}

void courier_rset(struct courier *k)
{
	if (!k->open)
		return;
	smtp_relay_rset(k->s);
	if (k->s->dead || !k->s->c)
		end_session(k);
}

long long courier_size_limit(const struct courier *k)
{
	return k->open && k->s->caps.size_offered ? k->s->caps.size : 0;
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
