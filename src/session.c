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
 * TLS unless auth_without_tls is on. */
#include "session.h"

#include <string.h>

#include "auth.h"
#include "log.h"
#include "net.h"
#include "tls.h"
#include "util.h"

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

static int start_tls(const struct account *a, struct smtp_session *s, int required, struct perr *e)
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
	int r = tls_start(s->c, &o, &s->tls_state, e);
	if (r)
		s->dead = 1;   /* no QUIT over a failed or unverified session */
	if (s->tls_state) {
		s->tls = 1;
		tls_log_info(s->tls_state);
	}
	return r;
}

/* One connection. *retry_plain is set when an opportunistic handshake
 * failed, so the caller may try again without TLS. */
static int attempt(const struct account *a, enum tls_mode mode, struct smtp_session *s,
                   int *retry_plain, struct perr *e)
{
	struct conn_opts co;
	memset(s, 0, sizeof *s);
	conn_options(a, &co);
	if (net_open(&co, &s->c, e))
		return e->ex;
	s->peer = a->socket ? a->socket : a->host;
	s->helo = a->domain;
	s->lmtp = a->protocol == PROTO_LMTP;
	log_info("connected to %s", net_peer_name(s->c));
	if (mode == TM_IMPLICIT && start_tls(a, s, 1, e))
		return e->ex;
	if (smtp_start(s, e))
		return e->ex;
	if (mode == TM_STARTTLS && !s->caps.starttls)
		return perr_set(e, EX_UNAVAILABLE, "%s does not offer STARTTLS, and account '%s' requires "
		                "TLS (tls on); nothing was sent", s->peer, a->name);
	if (mode == TM_OPPORTUNISTIC && !s->caps.starttls) {
		log_info("%s does not offer STARTTLS; continuing without TLS (tls is not set)", s->peer);
		return EX_OK;
	}
	if (mode != TM_STARTTLS && mode != TM_OPPORTUNISTIC)
		return EX_OK;
	if (smtp_starttls(s, e)) {
		if (mode == TM_OPPORTUNISTIC && e->code) {
			log_info("%s; continuing without TLS (tls is not set)", e->msg);
			perr_clear(e);
			return EX_OK;
		}
		return e->ex;
	}
	if (start_tls(a, s, mode == TM_STARTTLS, e)) {
		*retry_plain = mode == TM_OPPORTUNISTIC && e->ex == EX_PROTOCOL && !s->tls_state;
		return e->ex;
	}
	return smtp_ehlo(s, e);
}

int session_open(const struct account *a, int authenticate, struct smtp_session *s, struct perr *e)
{
	enum tls_mode mode = session_tls_mode(a);
	int retry_plain = 0;
	int r = attempt(a, mode, s, &retry_plain, e);
	if (r && retry_plain) {
		log_info("%s; trying again without TLS (tls is not set)", e->msg);
		smtp_session_free(s);
		perr_clear(e);
		r = attempt(a, TM_OFF, s, &retry_plain, e);
	}
	if (r == EX_OK && authenticate && a->auth && ascii_casecmp(a->auth, "off") != 0)
		r = auth_run(s, a, e);
	return r;
}

void session_print_info(const struct smtp_session *s, FILE *out)
{
	if (s->tls_state)
		tls_print_info(s->tls_state, out);
	smtp_print_info(s, out);
}
