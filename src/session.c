/* session.c - connect, secure and greet, per the account's TLS policy.
 * The policy in one place:
 *   tls off        plain text, STARTTLS never sent
 *   tls unset      STARTTLS whenever offered; an unverifiable certificate
 *                  is noted (and keeps credentials back, see auth), a
 *                  refused STARTTLS or failed handshake falls back to
 *                  plain text, as an MTA's opportunistic TLS does
 *   tls on         STARTTLS required: not offered 69, refused per reply,
 *                  handshake failure 76, verification failure 69
 *   tls_starttls off  TLS from the first byte, verified
 * then AUTH (auth.c), which sends a password itself only over verified
 * TLS unless auth_without_tls is on.
 * (Port 465 without a tls_starttls line means implicit TLS: conf_finish
 * settles that.)
 * A TLS mode that does not fit the port is a configuration error (78):
 * a TLS record instead of a greeting, or silence on port 465, when
 * postie waits for a greeting; a plain-text greeting where a TLS
 * handshake was due. Opportunistic TLS that fails says so on stderr.
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

enum tls_mode session_tls_mode(const struct account *a)
{
	if (a->tls == TLS_OFF)
		return TM_OFF;
	if (!a->tls_starttls)
		return TM_IMPLICIT;
	if (a->tls == TLS_ON)
		return TM_STARTTLS;
	return a->socket ? TM_OFF : TM_OPPORTUNISTIC;
}

static void conn_options(const struct account *a, struct conn_opts *o)
{
	memset(o, 0, sizeof *o);
	o->host = a->host;
	o->port = a->port;
	o->socket_path = a->socket;
	o->source_ip = a->source_ip;
	if (a->timeout < 0) {          /* unset: RFC 5321 4.5.3.2 spirit */
		o->connect_timeout = 30;
		o->deadline = 120;
		o->io_timeout = 300;
	} else {                       /* 0 = off: the system's own */
		o->connect_timeout = a->timeout;
		o->deadline = 0;
		o->io_timeout = a->timeout;
	}
}

/* The handshake; first_byte: implicit TLS, before any greeting. */
static int start_tls(const struct account *a, struct smtp_session *s, int required,
                     int first_byte, struct perr *e)
{
	struct tls_opts o = {
		.host = a->tls_host_override ? a->tls_host_override : a->host,
		.trust_file = a->tls_trust_file,
		.crl_file = a->tls_crl_file,
		.fingerprint = a->tls_fingerprint,
		.cert_file = a->tls_cert_file,
		.key_file = a->tls_key_file,
		.priorities = a->tls_priorities,
		.min_dh_prime_bits = a->tls_min_dh_prime_bits,
		.certcheck = a->tls_certcheck,
		.required = required,
		.timeout = net_timeout(s->c),
	};
	char hint[200];
	if (first_byte) {
		snprintf(hint, sizeof hint, "account '%s' uses implicit TLS (tls_starttls off): set "
		         "'tls_starttls on' for port %d", a->name, net_peer_port(s->c));
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
static int check_greeting_start(const struct account *a, enum tls_mode mode,
                                struct smtp_session *s, struct perr *e)
{
	const char *p = NULL;
	size_t n = 0;
	int port = net_peer_port(s->c);
	if (a->socket)
		return EX_OK;
	int r = net_peek(s->c, port == SMTPS_PORT ? PROBE_SECONDS : 0, &p, &n);
	if (r < 0 || (r == 1 && !looks_like_tls(p, n)))
		return EX_OK;
	s->dead = 1;
	if (r == 0 && port != SMTPS_PORT)
		return perr_set(e, EX_TEMPFAIL, "timeout after %d s waiting for %s's greeting "
		                "(nothing at all arrived; if this port uses implicit TLS, set "
		                "'tls_starttls off')", net_timeout(s->c), s->peer);
	return perr_set(e, EX_CONFIG, "%s port %d %s: it expects TLS from the first byte "
	                "(implicit TLS), but account '%s' %s", s->peer, port,
	                r ? "sent a TLS record instead of an SMTP greeting"
	                  : "sent no greeting",
	                a->name, mode == TM_OFF ? "has tls off: set 'tls on' and 'tls_starttls off'"
	                                        : "uses STARTTLS: set 'tls_starttls off'");
}

/* Opportunistic TLS did not happen: say so even without -v. */
static void tls_fell_back(const struct account *a, struct smtp_session *s, const char *why)
{
	s->tls_failed = 1;
	snprintf(s->tls_how, sizeof s->tls_how, "not used (%.300s)", why);
	log_notice("%s; sending without TLS because tls is not set in account '%s' "
	           "(set 'tls on' to require it)", why, a->name);
}

/* Connect, check the start of the greeting, TLS from the first byte. */
static int open_conn(const struct account *a, enum tls_mode mode, struct smtp_session *s,
                     struct perr *e)
{
	struct conn_opts co;
	memset(s, 0, sizeof *s);
	conn_options(a, &co);
	if (net_open(&co, &s->c, e))
		return e->ex;
	if (co.io_timeout > 0)
		net_session_limit(s->c, SESSION_TIMEOUTS * co.io_timeout);
	s->peer = a->socket ? a->socket : a->host;
	s->helo = a->domain;
	s->lmtp = a->protocol == PROTO_LMTP;
	log_info("connected to %s", net_peer_name(s->c));
	if (mode == TM_IMPLICIT) {
		if (start_tls(a, s, 1, 1, e))
			return e->ex;
		snprintf(s->tls_how, sizeof s->tls_how, "implicit (from the first byte)");
	} else if (check_greeting_start(a, mode, s, e)) {
		return e->ex;
	} else if (mode == TM_OFF) {
		snprintf(s->tls_how, sizeof s->tls_how, "not used (%s)",
		         a->tls == TLS_OFF ? "tls off" : "a local socket, tls is not set");
	}
	return smtp_start(s, e);
}

/* One connection. *retry_plain is set when an opportunistic handshake
 * failed, so the caller may try again without TLS. */
static int attempt(const struct account *a, enum tls_mode mode, struct smtp_session *s,
                   int *retry_plain, struct perr *e)
{
	if (open_conn(a, mode, s, e))
		return e->ex;
	if (mode == TM_STARTTLS && !s->caps.starttls)
		return perr_set(e, EX_UNAVAILABLE, "%s does not offer STARTTLS, and account '%s' requires "
		                "TLS (tls on); nothing was sent", s->peer, a->name);
	if (mode == TM_OPPORTUNISTIC && !s->caps.starttls) {
		log_info("%s does not offer STARTTLS; continuing without TLS (tls is not set)", s->peer);
		snprintf(s->tls_how, sizeof s->tls_how, "not used (STARTTLS not offered)");
		return EX_OK;
	}
	if (mode != TM_STARTTLS && mode != TM_OPPORTUNISTIC)
		return EX_OK;
	if (smtp_starttls(s, e)) {
		if (mode == TM_OPPORTUNISTIC && e->code) {
			tls_fell_back(a, s, e->msg);
			perr_clear(e);
			return EX_OK;
		}
		return e->ex;
	}
	if (start_tls(a, s, mode == TM_STARTTLS, 0, e)) {
		*retry_plain = mode == TM_OPPORTUNISTIC && e->ex == EX_PROTOCOL && !s->tls_state;
		return e->ex;
	}
	snprintf(s->tls_how, sizeof s->tls_how, "STARTTLS (offered and used)");
	return smtp_ehlo(s, e);
}

int session_open(const struct account *a, int authenticate, struct smtp_session *s, struct perr *e)
{
	enum tls_mode mode = session_tls_mode(a);
	int retry_plain = 0;
	int r = attempt(a, mode, s, &retry_plain, e);
	if (r && retry_plain) {
		char why[sizeof e->msg];
		snprintf(why, sizeof why, "%s", e->msg);
		log_info("%s; trying again without TLS (tls is not set)", e->msg);
		smtp_session_free(s);
		perr_clear(e);
		r = attempt(a, TM_OFF, s, &retry_plain, e);
		if (r == EX_OK)
			tls_fell_back(a, s, why);
	}
	if (r == EX_OK && authenticate && a->auth && ascii_casecmp(a->auth, "off") != 0)
		r = auth_run(s, a, e);
	return r;
}

void session_print_info(const struct smtp_session *s, FILE *out)
{
	fprintf(out, "TLS: %s\n", s->tls_how);
	if (s->tls_state)
		tls_print_info(s->tls_state, out);
	smtp_print_info(s, out);
}
