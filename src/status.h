/* status.h - outcomes: the error struct that travels up to main(), the
 * failure classes it carries, and the one place (status.c) that derives
 * from a failure both the sysexits code and what delivery does next. */
#ifndef POSTIE_STATUS_H
#define POSTIE_STATUS_H

#include <sysexits.h>

/* What went wrong, as the code that saw it knows it. status.c maps each
 * class to an exit status and an action; FC_REPLY defers to the reply. */
enum fail_class {
	FC_NONE,          /* no failure */
	FC_USAGE,         /* command-line usage */
	FC_CONFIG,        /* configuration: a setting, a file it names, TLS/port mismatch */
	FC_NOINPUT,       /* an input file cannot be opened or read */
	FC_MESSAGE,       /* the message: malformed, too big, no recipients */
	FC_ADDRESS,       /* a recipient invalid or unroutable */
	FC_IOERR,         /* local I/O (spool, stdin, output) */
	FC_CANTCREAT,     /* a local file (a named spool file) cannot be created */
	FC_OS,            /* the operating system: fork, socket, resolver call */
	FC_INTERNAL,      /* a library call that cannot fail did */
	FC_PERMISSION,    /* permission denied */
	FC_DNS_NOTFOUND,  /* a host name does not exist */
	FC_DNS_TEMP,      /* the resolver failed for now */
	FC_CONNECT,       /* connection refused, unreachable, reset while connecting */
	FC_TIMEOUT,       /* a connect, read, write or handshake timed out */
	FC_LOST,          /* the connection closed or failed mid-session */
	FC_TLS_HANDSHAKE, /* the TLS handshake failed */
	FC_TLS_VERIFY,    /* the server's certificate was not verified */
	FC_PROTOCOL,      /* the server broke the protocol: malformed reply, injection */
	FC_EXTENSION,     /* a needed extension not offered: STARTTLS, DSN, SMTPUTF8, AUTH */
	FC_REPLY,         /* an SMTP reply: phase, code and enhanced code decide */
	FC_AUTH,          /* credentials refused, or none usable (OAuth: log in again) */
	FC_OAUTH_TEMP,    /* the OAuth token endpoint failed for now (down, 429, 5xx) */
	FC_COUNT
};

/* What delivery does after a failure (ACT_* belongs to options.h). */
enum status_action {
	ACTION_FINAL,     /* give up (or done): the same would happen again */
	ACTION_RETRY,     /* keep the recipient(s) and try again later */
	ACTION_NEXT_HOP,  /* try the next host now; retry later when none is left */
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

/* An error as it travels up to main.c, which prints "postie: <msg>".
 * ex is a sysexits code (EX_OK when no error), derived from fc (and, for
 * FC_REPLY, from phase/code/enh). code/enh are the SMTP reply that caused
 * it, if any. msg never contains a secret. */
struct perr {
	int ex;
	enum fail_class fc;
	enum smtp_phase phase; /* the step a reply answered (FC_REPLY) */
	int code;        /* SMTP reply code, 0 if none */
	char enh[16];    /* enhanced status code "5.1.1", "" if none */
	char msg[1024];  /* diagnostic without the "postie: " prefix */
};

/* The exit status for a reply with the given code and enhanced code
 * ("" or NULL if none) to the given step. 2xx/3xx give EX_OK. */
int status_from_reply(enum smtp_phase ph, int code, const char *enh);

/* What to do after e: from its class, or for FC_REPLY from the phase and
 * whether the reply is temporary. ACTION_FINAL when e holds no failure. */
enum status_action status_action(const struct perr *e);
/* 1 when e is worth trying again later: exit status 75 and an action
 * other than giving up. */
int status_temporary(const struct perr *e);

/* Combine two outcomes (e.g. of two recipients) into the one to report:
 * EX_TEMPFAIL wins over everything, then the other failures, then EX_OK. */
int status_combine(int a, int b);

/* "EX_TEMPFAIL" etc., for log lines. */
const char *status_name(int ex);
/* "timeout", "tls-verify" etc., for log lines and tests. */
const char *fail_class_name(enum fail_class c);
/* "final", "retry", "next-hop". */
const char *status_action_name(enum status_action a);

/* Fill e with class c, the exit status it maps to and a formatted
 * message; code/enh cleared. Returns e->ex. */
int perr_fail(struct perr *e, enum fail_class c, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Fill e for a server reply: class FC_REPLY, phase ph, ex from
 * status_from_reply(ph, code, enh), the message is the formatted prefix;
 * code/enh kept. Returns e->ex. */
int perr_reply(struct perr *e, enum smtp_phase ph, int code, const char *enh,
               const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* Re-label e (message, reply and phase kept) as class c; e->ex follows.
 * A failure of the system (FC_OS) keeps its class. Returns e->ex. */
int perr_reclass(struct perr *e, enum fail_class c);
void perr_clear(struct perr *e);

#endif
