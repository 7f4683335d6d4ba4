/* status.h - outcomes: the error struct that travels up to main(), and the
 * one place that maps SMTP replies and local failures to sysexits codes. */
#ifndef POSTIE_STATUS_H
#define POSTIE_STATUS_H

#include <sysexits.h>

/* An error as it travels up to main.c, which prints "postie: <msg>".
 * ex is a sysexits code (EX_OK when no error). code/enh are the SMTP reply
 * that caused it, if any. msg never contains a secret. */
struct perr {
	int ex;
	int code;        /* SMTP reply code, 0 if none */
	char enh[16];    /* enhanced status code "5.1.1", "" if none */
	char msg[1024];  /* diagnostic without the "postie: " prefix */
};

/* The SMTP step a reply answers. */
enum smtp_phase {
	PH_GREETING,
	PH_EHLO,      /* EHLO, HELO or LHLO */
	PH_STARTTLS,
	PH_AUTH,
	PH_MAIL,
	PH_RCPT,
	PH_DATA,      /* the 354 to DATA */
	PH_DATA_END,  /* the reply after the data (DATA end or BDAT LAST) */
	PH_LMTP_RCPT, /* an LMTP per-recipient reply after the data */
	PH_QUIT,
};

/* The exit status for a reply with the given code and enhanced code
 * ("" or NULL if none) to the given step. 2xx/3xx give EX_OK. */
int status_from_reply(enum smtp_phase ph, int code, const char *enh);

/* Combine two outcomes (e.g. of two recipients) into the one to report:
 * EX_TEMPFAIL wins over everything, then the other failures, then EX_OK. */
int status_combine(int a, int b);

/* "EX_TEMPFAIL" etc., for log lines. */
const char *status_name(int ex);

/* Fill e with ex and a formatted message; code/enh cleared. Returns ex. */
int perr_set(struct perr *e, int ex, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Fill e for a server reply: ex from status_from_reply(ph, code, enh), the
 * message is the formatted prefix; code/enh kept. Returns e->ex. */
int perr_reply(struct perr *e, enum smtp_phase ph, int code, const char *enh,
               const char *fmt, ...) __attribute__((format(printf, 5, 6)));
void perr_clear(struct perr *e);

#endif
