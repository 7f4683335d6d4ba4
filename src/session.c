/* session.c - connect, secure and greet one hop, per its TLS policy,
 * and walk a route's hops. The policy in one place:
 *   TM_OFF            plain text, STARTTLS never sent
 *   TM_OPPORTUNISTIC  STARTTLS whenever offered; an unverifiable
 *                     certificate is noted (and keeps credentials back,
 *                     see auth), a refused STARTTLS goes on in plain
 *                     text and a failed handshake moves to the route's
 *                     plain-text hop, as an MTA's opportunistic TLS does
 *   TM_STARTTLS       STARTTLS required: not offered 69, refused per
 *                     reply, handshake failure 76, verification failure 69
 *   TM_IMPLICIT       TLS from the first byte, verified
 * then AUTH (auth.c), which sends a password itself only over verified
 * TLS unless auth_without_tls is on.
 * A TLS mode that does not fit the port is a configuration error (78):
 * a TLS record instead of a greeting, or silence on port 465, when
 * postie waits for a greeting; a plain-text greeting where a TLS
 * handshake was due. Opportunistic TLS that fails leaves a notice in
 * the session for the caller to show.
 * The whole session gets a deadline of SESSION_TIMEOUTS timeouts
 * (smtp_send_mail extends it for each message). */
#include "session.h"

#include <stdio.h>
#include <string.h>

#include "auth.h"
#include "log.h"
#include "net.h"
#include "tls.h"
#include "util.h"

#define PROBE_SECONDS 3     /* silence before a greeting that means TLS on port 465 */
#define SESSION_TIMEOUTS 10 /* the session deadline, in timeouts */
#define SMTPS_PORT 465      /* RFC 8314 7.3: submission over implicit TLS */

/* One connection's options: the hop's, with the timeout defaults. */
static void conn_options(const struct hop *h, struct conn_opts *o)
{
	memset(o, 0, sizeof *o);
	o->host = h->host;
	o->port = h->port;
	o->socket_path = h->socket;
	o->source_ip = h->source_ip;
	if (h->timeout < 0) {          /* unset: RFC 5321 4.5.3.2 spirit */
		o->connect_timeout = 30;
		o->deadline = 120;
		o->io_timeout = 300;
	} else {                       /* 0 = off: the system's own */
		o->connect_timeout = h->timeout;
		o->deadline = 0;
		o->io_timeout = h->timeout;
	}
}

/* The handshake; first_byte: implicit TLS, before any greeting. */
static int start_tls(const struct hop *h, const struct policy *p, struct smtp_session *s,
                     int required, int first_byte, struct perr *e)
{
	struct tls_opts o = h->tls;
	char hint[200];
	o.required = required;
	o.timeout = net_timeout(s->c);
	o.plain_hint = NULL;
	if (first_byte) {
		snprintf(hint, sizeof hint, "account '%s' uses implicit TLS (tls_starttls off): set "
		         "'tls_starttls on' for port %d", p->name, net_peer_port(s->c));
		o.plain_hint = hint;
	}
	int r = tls_start(s->c, &o, &s->tls_state, e);
	if (r)
		s->dead = 1;   /* no QUIT over a failed or unverified session */
	if (s->tls_state) {
		s->tls = 1;
		tls_log_info(s->tls_state);
	}
	return r;
}

/* A TLS record header: alert (0x15) or handshake (0x16), version 3.x. */
static int looks_like_tls(const char *p, size_t n)
{
	const unsigned char *u = (const unsigned char *)p;
	return n >= 3 && (u[0] == 0x15 || u[0] == 0x16) && u[1] == 3 && u[2] <= 4;
}

/* Before the greeting, in plain text over TCP: an implicit-TLS port
 * (RFC 8314 3.3) waits silently for a ClientHello. A TLS record instead
 * of a greeting says so on any port; on port 465 a few seconds of
 * silence do. Elsewhere silence stays a timeout, with a hint. */
static int check_greeting_start(const struct hop *h, const struct policy *pol,
                                struct smtp_session *s, struct perr *e)
{
	const char *p = NULL;
	size_t n = 0;
	int port = net_peer_port(s->c);
	if (h->socket)
		return EX_OK;
	int r = net_peek(s->c, port == SMTPS_PORT ? PROBE_SECONDS : 0, &p, &n);
	if (r < 0 || (r == 1 && !looks_like_tls(p, n)))
		return EX_OK;
	s->dead = 1;
	if (r == 0 && port != SMTPS_PORT)
		return perr_fail(e, FC_TIMEOUT, "timeout after %d s waiting for %s's greeting "
		                "(nothing at all arrived; if this port uses implicit TLS, set "
		                "'tls_starttls off')", net_timeout(s->c), s->peer);
	return perr_fail(e, FC_CONFIG, "%s port %d %s: it expects TLS from the first byte "
	                "(implicit TLS), but account '%s' %s", s->peer, port,
	                r ? "sent a TLS record instead of an SMTP greeting"
	                  : "sent no greeting",
	                pol->name, h->tls_mode == TM_OFF ? "has tls off: set 'tls on' and 'tls_starttls off'"
	                                                 : "uses STARTTLS: set 'tls_starttls off'");
}

/* Opportunistic TLS did not happen: the caller shows the notice even
 * without -v. */
static void tls_fell_back(const struct policy *p, struct smtp_session *s, const char *why)
{
	s->tls_failed = 1;
	snprintf(s->tls_how, sizeof s->tls_how, "not used (%.300s)", why);
	snprintf(s->notice, sizeof s->notice, "%.500s; sending without TLS because tls is not set "
	         "in account '%s' (set 'tls on' to require it)", why, p->name);
}

/* Connect, check the start of the greeting, TLS from the first byte. */
static int open_conn(const struct hop *h, const struct policy *p, struct smtp_session *s,
                     struct perr *e)
{
	struct conn_opts co;
	memset(s, 0, sizeof *s);
	conn_options(h, &co);
	if (net_open(&co, &s->c, e))
		return e->ex;
	if (co.io_timeout > 0)
		net_session_limit(s->c, SESSION_TIMEOUTS * co.io_timeout);
	s->peer = hop_name(h);
	s->helo = p->helo;
	s->lmtp = p->lmtp;
	log_info("connected to %s", net_peer_name(s->c));
	if (h->tls_mode == TM_IMPLICIT) {
		if (start_tls(h, p, s, 1, 1, e))
			return e->ex;
		snprintf(s->tls_how, sizeof s->tls_how, "implicit (from the first byte)");
	} else if (check_greeting_start(h, p, s, e)) {
		return e->ex;
	} else if (h->tls_mode == TM_OFF && !h->after_tls_failure) {
		snprintf(s->tls_how, sizeof s->tls_how, "not used (%s)", h->tls_off_why);
	}
	return smtp_start(s, e);
}

/* STARTTLS on an open session, per the hop's mode. */
static int upgrade(const struct hop *h, const struct policy *p, struct smtp_session *s,
                   struct perr *e)
{
	if (h->tls_mode == TM_STARTTLS && !s->caps.starttls)
		return perr_fail(e, FC_EXTENSION, "%s does not offer STARTTLS, and account '%s' requires "
		                "TLS (tls on); nothing was sent", s->peer, p->name);
	if (h->tls_mode == TM_OPPORTUNISTIC && !s->caps.starttls) {
		log_info("%s does not offer STARTTLS; continuing without TLS (tls is not set)", s->peer);
		snprintf(s->tls_how, sizeof s->tls_how, "not used (STARTTLS not offered)");
		return EX_OK;
	}
	if (h->tls_mode != TM_STARTTLS && h->tls_mode != TM_OPPORTUNISTIC)
		return EX_OK;
	if (smtp_starttls(s, e)) {
		if (h->tls_mode == TM_OPPORTUNISTIC && e->code) {
			tls_fell_back(p, s, e->msg);
			perr_clear(e);
			return EX_OK;
		}
		return e->ex;
	}
	if (start_tls(h, p, s, h->tls_mode == TM_STARTTLS, 0, e)) {
		s->handshake_failed = e->fc == FC_TLS_HANDSHAKE && !s->tls_state;
		return e->ex;
	}
	snprintf(s->tls_how, sizeof s->tls_how, "STARTTLS (offered and used)");
	return smtp_ehlo(s, e);
}

/* A greeted session, TLS as the hop asks; no AUTH yet. */
static int reach(const struct hop *h, const struct policy *p, struct smtp_session *s,
                 struct perr *e)
{
	int r = open_conn(h, p, s, e);
	return r == EX_OK ? upgrade(h, p, s, e) : r;
}

static int login(const struct hop *h, const struct policy *p, int authenticate,
                 struct smtp_session *s, struct perr *e)
{
	if (authenticate && policy_wants_auth(p))
		return auth_run(s, h, p, e);
	return EX_OK;
}

int session_open(const struct hop *h, const struct policy *p, int authenticate,
                 struct smtp_session *s, struct perr *e)
{
	int r = reach(h, p, s, e);
	return r == EX_OK ? login(h, p, authenticate, s, e) : r;
}

/* Whether hop i is to be tried after hop i-1 failed as s and e say:
 * status.c decides whether a failure moves on to the next hop; a
 * plain-text hop follows only a handshake that failed. */
static int next_applies(const struct route *r, size_t i, const struct smtp_session *s,
                        const struct perr *e)
{
	if (i >= r->nhop || status_action(e) != ACTION_NEXT_HOP)
		return 0;
	return !r->hop[i].after_tls_failure || s->handshake_failed;
}

int session_open_route(const struct route *r, int authenticate, struct smtp_session *s,
                       const struct hop **used, struct perr *e)
{
	char why[sizeof e->msg] = "";
	size_t i = 0;
	int rc;
	for (;;) {
		*used = &r->hop[i];
		rc = reach(&r->hop[i], &r->policy, s, e);
		if (rc == EX_OK || !next_applies(r, i + 1, s, e))
			break;
		if (r->hop[i + 1].after_tls_failure) {
			snprintf(why, sizeof why, "%s", e->msg);
			log_info("%s; trying again without TLS (tls is not set)", e->msg);
		}
		smtp_session_free(s);
		perr_clear(e);
		i++;
	}
	if (rc != EX_OK)
		return rc;
	if ((*used)->after_tls_failure)
		tls_fell_back(&r->policy, s, why);
	return login(*used, &r->policy, authenticate, s, e);
}

int session_serverinfo(const struct route *r, FILE *out, struct perr *e)
{
	struct smtp_session s;
	const struct hop *used;
	int rc = session_open_route(r, 0, &s, &used, e);
	if (s.notice[0])
		log_notice("%s", s.notice);
	if (rc == EX_OK) {
		fprintf(out, "TLS: %s\n", s.tls_how);
		if (s.tls_state)
			tls_print_info(s.tls_state, out);
		smtp_print_info(&s, out);
	} else if (s.tls_state) {   /* verification failed: still show the certificate */
		tls_print_info(s.tls_state, out);
	}
	if (s.c)
		smtp_quit(&s);
	smtp_session_free(&s);
	return rc;
}
