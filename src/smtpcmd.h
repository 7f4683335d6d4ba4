/* smtpcmd.h - the command parser of postie -bs (the SMTP server side):
 * one command line in, the verb with its path and parameters out, or the
 * reply that refuses the line. Pure: no I/O, no state between lines; the
 * order of commands and every other reply belong to the session
 * (smtpd.c). */
#ifndef POSTIE_SMTPCMD_H
#define POSTIE_SMTPCMD_H

#include <stddef.h>

#define SMTPCMD_MAX_LINE 510        /* RFC 5321 4.5.3.1.4: 512 with CRLF */
#define SMTPCMD_MAX_MAIL_LINE 1022  /* MAIL and RCPT with RFC 1870/3461/6531 parameters */

enum smtpcmd_verb { SC_HELO, SC_EHLO, SC_MAIL, SC_RCPT, SC_DATA, SC_RSET, SC_NOOP,
                    SC_VRFY, SC_HELP, SC_QUIT, SC_NOTIMPL, SC_UNKNOWN };

struct smtpcmd {
	enum smtpcmd_verb verb;  /* set even when the arguments are bad */
	char *arg;        /* HELO/EHLO domain, VRFY argument (trimmed); MAIL/RCPT:
	                     the path between < >, source route removed, "" for <> */
	int body;         /* MAIL BODY=: 0 not given, 7 (7BIT), 8 (8BITMIME) */
	int smtputf8;     /* MAIL SMTPUTF8 */
	long long size;   /* MAIL SIZE=, -1 when not given */
	const char *ret;  /* MAIL RET=: NULL, "full" or "headers" (static strings) */
	char *envid;      /* MAIL ENVID= xtext-decoded, NULL if not given */
	char *notify;     /* RCPT NOTIFY= as lower-case comma list ("never",
	                     "success,failure"), NULL if not given */
	char *orcpt;      /* RCPT ORCPT=rfc822;X: X xtext-decoded; NULL if not given
	                     or another address type */
	int code;         /* 0 when the line is a valid command, else the reply code */
	char reply[200];  /* code != 0: the reply text after the code, e.g.
	                     "5.5.4 Syntax: MAIL FROM:<address>" */
};

/* Parse one command line (without its CRLF/LF; n octets, may contain NULs).
 * Returns 0 or c->code. c must be freed with smtpcmd_free either way. */
int smtpcmd_parse(const char *line, size_t n, struct smtpcmd *c);
void smtpcmd_free(struct smtpcmd *c);

#endif
