/* status.c - the single place that turns an outcome into a sysexits code. */
#include "status.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

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

void perr_clear(struct perr *e)
{
	e->ex = EX_OK;
	e->code = 0;
	e->enh[0] = '\0';
	e->msg[0] = '\0';
}

int perr_set(struct perr *e, int ex, const char *fmt, ...)
{
	va_list ap;
	perr_clear(e);
	e->ex = ex;
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof e->msg, fmt, ap);
	va_end(ap);
	return ex;
}

int perr_reply(struct perr *e, enum smtp_phase ph, int code, const char *enh, const char *fmt, ...)
{
	va_list ap;
	perr_clear(e);
	e->ex = status_from_reply(ph, code, enh);
	e->code = code;
	if (enh)
		snprintf(e->enh, sizeof e->enh, "%s", enh);
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof e->msg, fmt, ap);
	va_end(ap);
	return e->ex;
}
