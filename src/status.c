/* status.c - the single place that turns a failure into a sysexits code
 * and an action: one table for the failure classes, one for the SMTP
 * phases, and the reply-code logic for FC_REPLY. The actions follow
 * Postfix's smtp_trouble.c: a failure of this server (cannot reach it,
 * cannot talk to it) sends delivery to the next host; a temporary refusal
 * of the message or a recipient is retried later; a permanent refusal,
 * or a fault on this side, is final. */
#include "status.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

struct class_row {
	const char *name;
	int ex;                     /* for FC_REPLY: the reply decides */
	enum status_action action;  /* for FC_REPLY: the phase table decides */
};

static const struct class_row class_tab[FC_COUNT] = {
	[FC_NONE] = { "none", EX_OK, ACTION_FINAL },
	/* Local faults: the next attempt would meet the same argv, file or
	 * setting; sendmail(8) exits with these and keeps nothing. */
	[FC_USAGE] = { "usage", EX_USAGE, ACTION_FINAL },
	[FC_CONFIG] = { "config", EX_CONFIG, ACTION_FINAL },
	[FC_NOINPUT] = { "no-input", EX_NOINPUT, ACTION_FINAL },
	[FC_PERMISSION] = { "permission", EX_NOPERM, ACTION_FINAL },
	/* A bug: retrying would repeat it. */
	[FC_INTERNAL] = { "internal", EX_SOFTWARE, ACTION_FINAL },
	/* The message or the address is wrong wherever it goes (RFC 5321
	 * 4.2.1: a permanent condition). */
	[FC_MESSAGE] = { "message", EX_DATAERR, ACTION_FINAL },
	[FC_ADDRESS] = { "address", EX_NOUSER, ACTION_FINAL },
	/* Local resources (disk, descriptors, processes) come back: Postfix
	 * defers on a local data error (smtp_stream_except, 4.3.0). */
	[FC_IOERR] = { "io", EX_IOERR, ACTION_RETRY },
	[FC_CANTCREAT] = { "cantcreat", EX_CANTCREAT, ACTION_RETRY },
	[FC_OS] = { "os", EX_OSERR, ACTION_RETRY },
	/* NXDOMAIN is authoritative (RFC 1035 4.1.1 RCODE 3); SERVFAIL and
	 * timeouts are not (RFC 2308 7). */
	[FC_DNS_NOTFOUND] = { "dns-notfound", EX_NOHOST, ACTION_FINAL },
	[FC_DNS_TEMP] = { "dns-temp", EX_TEMPFAIL, ACTION_RETRY },
	/* This server cannot be reached or talked to: RFC 5321 5.1 and
	 * Postfix smtp_connect.c try the next address/MX host. */
	[FC_CONNECT] = { "connect", EX_TEMPFAIL, ACTION_NEXT_HOP },
	[FC_TIMEOUT] = { "timeout", EX_TEMPFAIL, ACTION_NEXT_HOP },
	[FC_LOST] = { "lost", EX_TEMPFAIL, ACTION_NEXT_HOP },
	/* A broken TLS stack, certificate, or server is a fact about this
	 * host: Postfix defers it (4.7.5) so a backup host gets the mail;
	 * RFC 7672 likewise skips an MX host that fails DANE. */
	[FC_TLS_HANDSHAKE] = { "tls-handshake", EX_PROTOCOL, ACTION_NEXT_HOP },
	[FC_TLS_VERIFY] = { "tls-verify", EX_UNAVAILABLE, ACTION_NEXT_HOP },
	[FC_PROTOCOL] = { "protocol", EX_PROTOCOL, ACTION_NEXT_HOP },
	/* Another host of the destination may offer it; Postfix defers a
	 * missing STARTTLS (4.7.4) and unusable AUTH as soft errors. */
	[FC_EXTENSION] = { "extension", EX_UNAVAILABLE, ACTION_NEXT_HOP },
	/* Without a reply code it is a malformed reply (see reply_action). */
	[FC_REPLY] = { "reply", EX_PROTOCOL, ACTION_NEXT_HOP },
	/* The same credentials go to every host (RFC 4954 6: 535). */
	[FC_AUTH] = { "auth", EX_NOPERM, ACTION_FINAL },
	/* The token endpoint is not the mail server: another SMTP host gets
	 * the same token; wait (RFC 6749 5.2 has no temporary errors, HTTP
	 * 429 and 5xx are). */
	[FC_OAUTH_TEMP] = { "oauth-temp", EX_TEMPFAIL, ACTION_RETRY },
};

/* The action for a 4xx / 5xx reply to each step. */
static const struct {
	enum status_action temp, perm;
} phase_tab[] = {
	/* A server that will not greet us says nothing about the message:
	 * Postfix skips it, 5xx too (smtp_skip_5xx_greeting). */
	[PH_GREETING] = { ACTION_NEXT_HOP, ACTION_NEXT_HOP },
	/* Postfix smtp_helo: 4xx is a soft site failure, next host; a 5xx to
	 * HELO after EHLO is a hard one. */
	[PH_EHLO] = { ACTION_NEXT_HOP, ACTION_FINAL },
	/* RFC 3207 4 (454 TLS not available): a fact about this server. */
	[PH_STARTTLS] = { ACTION_NEXT_HOP, ACTION_NEXT_HOP },
	/* RFC 4954 6: 454 is temporary at this server; 535 refuses the
	 * credentials, which every host would see. */
	[PH_AUTH] = { ACTION_NEXT_HOP, ACTION_FINAL },
	/* Postfix smtp_mesg_fail: a soft error before the data moves the
	 * message to the next host; a hard one bounces it. */
	[PH_MAIL] = { ACTION_NEXT_HOP, ACTION_FINAL },
	[PH_DATA] = { ACTION_NEXT_HOP, ACTION_FINAL },
	/* RFC 5321 4.5.4.1: a recipient deferred (greylisting, mailbox busy)
	 * is retried after a delay; 5xx refuses it for good. */
	[PH_RCPT] = { ACTION_RETRY, ACTION_FINAL },
	/* The server has the whole message and deferred it: retry later
	 * (RFC 5321 4.5.4.1); RFC 2033 4.2: the same per LMTP recipient. */
	[PH_DATA_END] = { ACTION_RETRY, ACTION_FINAL },
	[PH_LMTP_RCPT] = { ACTION_RETRY, ACTION_FINAL },
	/* The message was accepted before QUIT (RFC 5321 4.1.1.10). */
	[PH_QUIT] = { ACTION_FINAL, ACTION_FINAL },
};

static int enh_is(const char *enh, const char *prefix)
{
	return enh && strncmp(enh, prefix, strlen(prefix)) == 0;
}

/* A permanent refusal that carries an enhanced status code (RFC 3463):
 * its subject decides, wherever it came. 0 when the code says nothing
 * the phase does not already say (5.0.0, 5.4.x, 5.5.x). */
static int from_enh(int code, const char *enh)
{
	if (code == 530 || enh_is(enh, "5.7.8") || enh_is(enh, "5.7.9") ||
	    enh_is(enh, "5.7.11") || enh_is(enh, "5.7.30"))
		return EX_NOPERM;          /* authentication needed or refused */
	if (enh_is(enh, "5.1."))
		return EX_NOUSER;          /* addressing: no such mailbox, bad address */
	if (enh_is(enh, "5.2.3") || enh_is(enh, "5.3.4") || enh_is(enh, "5.6."))
		return EX_DATAERR;         /* the message: too long, bad content */
	if (enh_is(enh, "5.2."))
		return EX_NOUSER;          /* a mailbox's state: full, disabled */
	if (enh_is(enh, "5.3.") || enh_is(enh, "5.7."))
		return EX_UNAVAILABLE;     /* the mail system, or policy */
	return 0;
}

/* A 5xx to MAIL, RCPT or the data without a telling enhanced code. */
static int from_phase(enum smtp_phase ph, int code)
{
	switch (ph) {
	case PH_RCPT:
		return EX_NOUSER;
	case PH_LMTP_RCPT:
		return code == 552 ? EX_DATAERR : EX_NOUSER;
	default:       /* MAIL, DATA, after the data: 552 is "too much mail" */
		return code == 552 ? EX_DATAERR : EX_UNAVAILABLE;
	}
}

int status_from_reply(enum smtp_phase ph, int code, const char *enh)
{
	if (code >= 200 && code < 400)
		return EX_OK;
	if (code >= 400 && code < 500)
		return EX_TEMPFAIL;
	if (code < 500 || code > 599)
		return EX_PROTOCOL;
	switch (ph) {
	case PH_GREETING:
	case PH_EHLO:
	case PH_STARTTLS:
		return EX_UNAVAILABLE;
	case PH_AUTH:
		return EX_NOPERM;
	case PH_QUIT:
		return EX_OK;
	default:
		break;
	}
	/* RFC 5321 4.5.3.1.10: 552 to RCPT means too many recipients and is
	 * to be treated as temporary. */
	if (ph == PH_RCPT && code == 552 && (!enh || !*enh || enh_is(enh, "5.5.3")))
		return EX_TEMPFAIL;
	int ex = enh && *enh ? from_enh(code, enh) : code == 530 ? EX_NOPERM : 0;
	return ex ? ex : from_phase(ph, code);
}

int status_combine(int a, int b)
{
	if (a == EX_TEMPFAIL || b == EX_TEMPFAIL)
		return EX_TEMPFAIL;
	if (a != EX_OK)
		return a;
	return b;
}

const char *status_name(int ex)
{
	static const struct { int ex; const char *name; } t[] = {
		{ EX_OK, "EX_OK" },           { EX_USAGE, "EX_USAGE" },
		{ EX_DATAERR, "EX_DATAERR" }, { EX_NOINPUT, "EX_NOINPUT" },
		{ EX_NOUSER, "EX_NOUSER" },   { EX_NOHOST, "EX_NOHOST" },
		{ EX_UNAVAILABLE, "EX_UNAVAILABLE" }, { EX_SOFTWARE, "EX_SOFTWARE" },
		{ EX_OSERR, "EX_OSERR" },     { EX_OSFILE, "EX_OSFILE" },
		{ EX_CANTCREAT, "EX_CANTCREAT" }, { EX_IOERR, "EX_IOERR" },
		{ EX_TEMPFAIL, "EX_TEMPFAIL" }, { EX_PROTOCOL, "EX_PROTOCOL" },
		{ EX_NOPERM, "EX_NOPERM" },   { EX_CONFIG, "EX_CONFIG" },
	};
	for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
		if (t[i].ex == ex)
			return t[i].name;
	return "EX_SOFTWARE";
}

const char *fail_class_name(enum fail_class c)
{
	if ((unsigned)c >= FC_COUNT)
		return "unknown";
	return class_tab[c].name;
}

const char *status_action_name(enum status_action a)
{
	switch (a) {
	case ACTION_RETRY:
		return "retry";
	case ACTION_NEXT_HOP:
		return "next-hop";
	default:
		return "final";
	}
}

/* The exit status e's class and reply give. */
static int class_exit(const struct perr *e)
{
	if ((unsigned)e->fc >= FC_COUNT)
		return EX_SOFTWARE;
	if (e->fc == FC_REPLY)
		return status_from_reply(e->phase, e->code, e->enh);
	return class_tab[e->fc].ex;
}

static enum status_action reply_action(const struct perr *e)
{
	/* malformed, or a 2xx/3xx where the caller needed another */
	if (e->code < 400 || e->code > 599)
		return class_tab[FC_PROTOCOL].action;
	if ((unsigned)e->phase >= sizeof phase_tab / sizeof phase_tab[0])
		return ACTION_FINAL;
	/* status_from_reply also decides 552 to RCPT (too many recipients) */
	if (status_from_reply(e->phase, e->code, e->enh) == EX_TEMPFAIL)
		return phase_tab[e->phase].temp;
	return phase_tab[e->phase].perm;
}

enum status_action status_action(const struct perr *e)
{
	if (e->ex == EX_OK)
		return ACTION_FINAL;
	if (e->fc == FC_REPLY)
		return reply_action(e);
	if ((unsigned)e->fc >= FC_COUNT)
		return ACTION_FINAL;
	return class_tab[e->fc].action;
}

int status_temporary(const struct perr *e)
{
	return e->ex == EX_TEMPFAIL && status_action(e) != ACTION_FINAL;
}

void perr_clear(struct perr *e)
{
	e->ex = EX_OK;
	e->fc = FC_NONE;
	e->phase = PH_GREETING;
	e->code = 0;
	e->enh[0] = '\0';
	e->msg[0] = '\0';
}

int perr_fail(struct perr *e, enum fail_class c, const char *fmt, ...)
{
	va_list ap;
	perr_clear(e);
	e->fc = c;
	e->ex = class_exit(e);
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof e->msg, fmt, ap);
	va_end(ap);
	return e->ex;
}

int perr_reclass(struct perr *e, enum fail_class c)
{
	if (e->fc == FC_OS)   /* the system failed (a library would not load): not the input */
		return e->ex;
	e->fc = c;
	e->ex = class_exit(e);
	return e->ex;
}

int perr_reply(struct perr *e, enum smtp_phase ph, int code, const char *enh, const char *fmt, ...)
{
	va_list ap;
	perr_clear(e);
	e->fc = FC_REPLY;
	e->phase = ph;
	e->code = code;
	if (enh)
		snprintf(e->enh, sizeof e->enh, "%s", enh);
	e->ex = class_exit(e);
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof e->msg, fmt, ap);
	va_end(ap);
	return e->ex;
}
