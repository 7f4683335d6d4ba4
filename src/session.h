/* session.h - a ready SMTP/LMTP session for an account: connect, TLS as
 * the account asks (off, opportunistic STARTTLS, required STARTTLS or
 * implicit TLS), EHLO, and AUTH when the account asks for it. */
#ifndef POSTIE_SESSION_H
#define POSTIE_SESSION_H

#include <stdio.h>
#include "conf.h"
#include "smtp.h"

/* How an account's tls, tls_starttls and socket settings combine. */
enum tls_mode {
	TM_OFF,            /* tls off (or unset over a local socket) */
	TM_OPPORTUNISTIC,  /* tls unset: STARTTLS when offered, certificate not required */
	TM_STARTTLS,       /* tls on: STARTTLS required and verified */
	TM_IMPLICIT,       /* tls_starttls off (tls on or unset): TLS from the first byte */
};
enum tls_mode session_tls_mode(const struct account *a);

/* Open s for account a, and authenticate when asked to and the account
 * has auth. On failure s may still hold a connection (with a TLS session
 * whose certificate failed verification, for --serverinfo);
 * smtp_quit()/smtp_session_free() clean up either way. */
int session_open(const struct account *a, int authenticate, struct smtp_session *s, struct perr *e);

/* --serverinfo: the TLS facts (when TLS is up), then the SMTP ones. */
void session_print_info(const struct smtp_session *s, FILE *out);

#endif
