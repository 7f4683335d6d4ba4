/* session.h - a ready SMTP/LMTP session over one hop of a route:
 * connect, TLS as the hop asks (off, opportunistic STARTTLS, required
 * STARTTLS or implicit TLS), EHLO, and AUTH when the policy asks for it;
 * and the walk over a route's hops until one gives a session. */
#ifndef POSTIE_SESSION_H
#define POSTIE_SESSION_H

#include <stdio.h>
#include "route.h"
#include "smtp.h"

/* Open s on hop h with policy p, and authenticate when asked to and the
 * policy has auth. On failure s may still hold a connection (with a TLS
 * session whose certificate failed verification, for --serverinfo);
 * smtp_quit()/smtp_session_free() clean up either way. */
int session_open(const struct hop *h, const struct policy *p, int authenticate,
                 struct smtp_session *s, struct perr *e);

/* Open a session on the first hop of r that gives one: a hop marked
 * after_tls_failure is tried only when the previous hop's TLS handshake
 * failed, and then says so (s->tls_failed, s->notice). *used is set to
 * the hop last tried. */
int session_open_route(const struct route *r, int authenticate, struct smtp_session *s,
                       const struct hop **used, struct perr *e);

/* --serverinfo: open a session on r without AUTH and print to out how
 * TLS was used, the TLS facts and the SMTP greeting and capabilities;
 * when the certificate failed verification, its facts all the same.
 * A notice (opportunistic TLS not used) goes to stderr first. Returns
 * EX_OK or the failure in e. */
int session_serverinfo(const struct route *r, FILE *out, struct perr *e);

#endif
