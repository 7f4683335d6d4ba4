/* smtp.h - the SMTP/LMTP client: replies, EHLO capabilities, pipelining,
 * MAIL/RCPT/DATA or BDAT, dot-stuffing via msg_write, per-recipient results.
 * STARTTLS and AUTH plug in between smtp_start() and smtp_send_mail(). */
#ifndef POSTIE_SMTP_H
#define POSTIE_SMTP_H

#include <stdio.h>
#include "util.h"
#include "status.h"
#include "net.h"
#include "msg.h"
#include "deliver.h"
#include "log.h"

struct tls;

#define SMTP_MAX_REPLY_LINES 1000

struct smtp_reply {
	int code;          /* 200..599 */
	char enh[16];      /* enhanced status code of the first line, "" if none */
	struct buf text;   /* the text of every line (after "NNN-"/"NNN "), joined with '\n' */
	int nlines;
};

struct smtp_caps {
	int esmtp;         /* EHLO/LHLO was accepted (not HELO) */
	int pipelining, chunking, eightbitmime, smtputf8, dsn, enhancedstatuscodes, starttls;
	int size_offered;
	long long size;    /* SIZE limit, 0 = none stated */
	char *auth;        /* "PLAIN LOGIN ..." as offered (AUTH or AUTH=), NULL if none */
};

/* Pure parsers, testable without sockets. */
/* Parse one reply line: "250-text", "250 text", "250" (no text). Returns 0
 * and sets code, last (1 for a final line) and text (points into line), or
 * -1 if the line is malformed (not 3 digits 2..5 followed by ' ', '-' or end). */
int smtp_parse_line(const char *line, size_t n, int *code, int *last, const char **text);
/* Extract an enhanced status code "x.y.z" at the start of text into enh
 * (size 16) if there is a valid one (class 2, 4 or 5 matching code/100). */
void smtp_parse_enh(int code, const char *text, char enh[16]);
/* Fill caps from an EHLO/LHLO reply (first line is the greeting). */
void smtp_parse_caps(const struct smtp_reply *r, struct smtp_caps *caps);
void smtp_caps_free(struct smtp_caps *caps);

void smtp_reply_init(struct smtp_reply *r);
void smtp_reply_free(struct smtp_reply *r);
/* Read a whole (multi-line) reply. A malformed reply or mismatched codes
 * between lines: EX_PROTOCOL. Connection problems: from net_getline. */
int smtp_read_reply(struct conn *c, struct smtp_reply *r, struct perr *e);

struct smtp_session {
	struct conn *c;
	const char *peer;        /* host name for messages */
	const char *helo;        /* EHLO/LHLO argument */
	int lmtp;
	struct smtp_caps caps;
	struct smtp_caps pre_tls_caps; /* the EHLO reply before STARTTLS ... */
	int pre_tls;             /* ... kept there (1) once STARTTLS succeeded */
	struct smtp_reply greeting;
	int tls, auth;           /* set by the TLS/AUTH layers, for logs */
	int tls_failed;          /* opportunistic TLS failed (STARTTLS refused
	                            or the handshake failed): went on in plain
	                            text, for logs ("tls=failed") */
	char tls_how[400];       /* how TLS was reached or why not, for
	                            --serverinfo ("STARTTLS (offered and used)") */
	char notice[700];        /* opportunistic TLS not used: what to tell the
	                            user although the session works, "" if nothing */
	int handshake_failed;    /* the last TLS handshake failed before it
	                            completed (no TLS session exists) */
	int oauth_rejected;      /* AUTH with an OAuth2 token got the error
	                            challenge (334): the token was refused */
	struct tls *tls_state;   /* the TLS session while c is open (owned by c) */
	int quit_sent;           /* internal: QUIT has been sent */
	int dead;                /* internal: no further I/O (closed, broken, timed out) */
};

/* Read the greeting, send EHLO (LHLO for LMTP), fall back to HELO when
 * EHLO is refused with 500/502 (SMTP only). Fills s->caps. */
int smtp_start(struct smtp_session *s, struct perr *e);
/* Send EHLO/LHLO again (after STARTTLS) and refill caps. */
int smtp_ehlo(struct smtp_session *s, struct perr *e);
/* Send one command line (without CRLF; logged to the transcript as how
 * says), flush, and read its reply into r (for STARTTLS and AUTH). what names the reply
 * in timeout messages ("reply to AUTH"). Returns EX_OK when a reply was
 * read, whatever its code, else the connection error in e. */
int smtp_command(struct smtp_session *s, const char *line, enum redact how, const char *what,
                 struct smtp_reply *r, struct perr *e);

/* Send STARTTLS and check that the connection is ready for the handshake:
 * EX_OK after a 220 with nothing behind it; the capabilities seen so far
 * move to pre_tls_caps (smtp_ehlo fills caps again). A refusal is reported like
 * any reply (e->code set: 454 gives EX_TEMPFAIL, 5xx EX_UNAVAILABLE). Any
 * byte the server sent after its 220 (before the handshake) is discarded
 * and the session ends with EX_PROTOCOL: it would be a command injection. */
int smtp_starttls(struct smtp_session *s, struct perr *e);

/* One mail transaction for every pending recipient of env: their state
 * becomes RCPT_DELIVERED, RCPT_REFUSED (result: "recipient <bob@x>
 * rejected by HOST: 550 5.1.1 text", for LMTP also "delivery to <bob@x>
 * refused by HOST: ...") or stays RCPT_PENDING when the transaction
 * failed as a whole (d->session says why). The message is sent when at
 * least one recipient is accepted; if none is, the transaction is
 * abandoned (RSET) and no data sent. With PIPELINING, MAIL, every RCPT
 * and DATA leave in one write; with CHUNKING, MAIL, RCPT and "BDAT n
 * LAST" plus the data. quit: send QUIT after the data (pipelined when
 * possible). Fills d's ex, session, ndelivered, sent, last_code and
 * last_msg; returns d->ex. */
int smtp_send_mail(struct smtp_session *s, struct envelope *env, struct msg *m, int quit,
                   struct delivery *d);

/* The MAIL parameters of a transaction: SIZE (-1: none), BODY=8BITMIME,
 * SMTPUTF8; each sent when the server supports it. */
struct smtp_mail_opts {
	long long size;
	int eightbit;
	int smtputf8;
};

/* -bs relays a client's transaction command by command, each server
 * reply kept in r to be passed back. smtp_relay_mail and smtp_relay_rcpt
 * return EX_OK when a reply was read, whatever its code (a refused RCPT
 * gets state RCPT_REFUSED and its result), else the failure in e.
 * smtp_relay_data sends the message to the accepted recipients (DATA or
 * BDAT), reads the reply to its end into r, and settles like
 * smtp_send_mail (never QUIT: the session stays for the next one).
 * smtp_relay_rset abandons a transaction. */
int smtp_relay_mail(struct smtp_session *s, const struct envelope *env,
                    const struct smtp_mail_opts *o, struct smtp_reply *r, struct perr *e);
int smtp_relay_rcpt(struct smtp_session *s, struct rcpt *rc, struct smtp_reply *r, struct perr *e);
int smtp_relay_data(struct smtp_session *s, struct envelope *env, struct msg *m,
                    struct smtp_reply *r, struct delivery *d);
void smtp_relay_rset(struct smtp_session *s);

/* Send QUIT (unless already sent), read its reply if possible, close. */
void smtp_quit(struct smtp_session *s);
void smtp_session_free(struct smtp_session *s);
/* Free s without a byte to the server (no QUIT, no close_notify): after
 * a fork, in the process that leaves the session to the other. */
void smtp_session_drop(struct smtp_session *s);

/* --serverinfo: greeting and capabilities, human-readable. */
void smtp_print_info(const struct smtp_session *s, FILE *out);

#endif
