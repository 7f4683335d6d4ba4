/* smtpd.h - postie -bs: an SMTP server on standard input and output, one
 * session, for programs that speak SMTP to sendmail over a pipe (Symfony
 * Mailer, Laravel). Each transaction becomes a job like a command-line
 * send: the account chosen from MAIL FROM, the same header edits, the
 * same delivery; the server's replies to MAIL, RCPT and the end of data
 * are passed back as they came. */
#ifndef POSTIE_SMTPD_H
#define POSTIE_SMTPD_H

#include "job.h"

/* Called for a message queued with "queue always" (or -odb), to start
 * the detached process that sends it. */
typedef void (*smtpd_queued_fn)(const struct cli *c, const char *dir, const char *id);

/* Run the session until QUIT or the end of the input. Returns the exit
 * status: 0 after QUIT or at the end of the input between transactions,
 * EX_TEMPFAIL when the input ended in the middle of the message data or
 * the client was idle for the timeout, EX_IOERR when standard output
 * failed. */
int smtpd_run(const struct cli *c, smtpd_queued_fn queued);

#endif
