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

/* --serverinfo: the TLS facts (when TLS is up), then the SMTP ones. */
void session_print_info(const struct smtp_session *s, FILE *out);

#endif
