/* smtp.c - the SMTP/LMTP client: reply parsing, EHLO capabilities, one
 * mail transaction with PIPELINING and CHUNKING, per-recipient results. */
#include "smtp.h"

#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "log.h"

#define QUIT_TIMEOUT 10   /* seconds to wait for the reply to QUIT */
#define QUOTE_MAX 400     /* bytes of server text quoted in a message */

/* ---- pure parsers ---- */

static int is_digit(char c)
{
	return c >= '0' && c <= '9';
}

int smtp_parse_line(const char *line, size_t n, int *code, int *last, const char **text)
{
	if (n < 3 || line[0] < '2' || line[0] > '5' || !is_digit(line[1]) || !is_digit(line[2]))
		return -1;
	if (n > 3 && line[3] != ' ' && line[3] != '-')
		return -1;
	if (memchr(line, '\0', n))
		return -1;
	*code = (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
	*last = n == 3 || line[3] == ' ';
	*text = line + (n > 3 ? 4 : 3);
	return 0;
}

/* Skip 1 to 3 digits; NULL if there are none. */
static const char *skip_digits(const char *p)
{
	const char *s = p;
	while (is_digit(*p) && p - s < 3)
		p++;
	return p == s ? NULL : p;
}

void smtp_parse_enh(int code, const char *text, char enh[16])
{
	int cls = code / 100;
	enh[0] = '\0';
	if ((cls != 2 && cls != 4 && cls != 5) || text[0] != '0' + cls || text[1] != '.')
		return;
	const char *p = skip_digits(text + 2);
	if (!p || *p != '.')
		return;
	p = skip_digits(p + 1);
	if (!p || (*p != ' ' && *p != '\0'))
		return;
	memcpy(enh, text, (size_t)(p - text));
	enh[p - text] = '\0';
}

/* The EHLO keywords that are simple flags, with their --serverinfo text. */
static const struct cap_flag {
	const char *name;
	size_t off;
	const char *doc;
} cap_flags[] = {
	{ "PIPELINING", offsetof(struct smtp_caps, pipelining),
	  "Commands may be sent in groups (RFC 2920)" },
	{ "CHUNKING", offsetof(struct smtp_caps, chunking),
	  "Message data may be sent in BDAT chunks (RFC 3030)" },
	{ "8BITMIME", offsetof(struct smtp_caps, eightbitmime),
	  "8-bit message content is accepted (RFC 6152)" },
	{ "SMTPUTF8", offsetof(struct smtp_caps, smtputf8),
	  "UTF-8 addresses and headers are accepted (RFC 6531)" },
	{ "DSN", offsetof(struct smtp_caps, dsn),
	  "Delivery status notifications can be requested (RFC 3461)" },
	{ "ENHANCEDSTATUSCODES", offsetof(struct smtp_caps, enhancedstatuscodes),
	  "Replies carry enhanced status codes (RFC 2034)" },
	{ "STARTTLS", offsetof(struct smtp_caps, starttls),
	  "The session can be switched to TLS (RFC 3207)" },
};

static int *cap_field(struct smtp_caps *caps, const struct cap_flag *f)
{
	return (int *)(void *)((char *)caps + f->off);
}

static int cap_get(const struct smtp_caps *caps, const struct cap_flag *f)
{
	return *(const int *)(const void *)((const char *)caps + f->off);
}

static int is_space(char c)
{
	return c == ' ' || c == '\t';
}

/* "PLAIN  LOGIN " -> "PLAIN LOGIN" */
static char *word_list(const char *p, const char *end)
{
	struct buf b;
	buf_init(&b);
	while (p < end) {
		while (p < end && is_space(*p))
			p++;
		const char *w = p;
		while (p < end && !is_space(*p))
			p++;
		if (p > w) {
			if (b.len)
				buf_addc(&b, ' ');
			buf_add(&b, w, (size_t)(p - w));
		}
	}
	return buf_steal(&b);
}

/* SIZE's argument: digits, else (or on overflow) 0 = no limit stated. */
static long long size_arg(const char *p, const char *end)
{
	long long v = 0;
	while (p < end && is_space(*p))
		p++;
	if (p == end || !is_digit(*p))
		return 0;
	for (; p < end && is_digit(*p); p++) {
		if (v > (0x7fffffffffffffffLL - 9) / 10)
			return 0;
		v = v * 10 + (*p - '0');
	}
	return v;
}

/* One capability line [p, end). auth_word is set once "AUTH mechs" was
 * seen, which then wins over the old "AUTH=mechs" form. */
static void parse_cap_line(const char *p, const char *end, struct smtp_caps *caps, int *auth_word)
{
	while (p < end && is_space(*p))
		p++;
	const char *kw = p;
	while (p < end && !is_space(*p) && *p != '=')
		p++;
	size_t n = (size_t)(p - kw);
	if (n == 4 && ascii_ncasecmp(kw, "AUTH", 4) == 0) {
		int eq = p < end && *p == '=';
		if (eq && *auth_word)
			return;
		free(caps->auth);
		caps->auth = word_list(p + eq, end);
		*auth_word = !eq;
		return;
	}
	if (p < end && *p == '=')
		return;
	if (n == 4 && ascii_ncasecmp(kw, "SIZE", 4) == 0) {
		caps->size_offered = 1;
		caps->size = size_arg(p, end);
		return;
	}
	for (size_t i = 0; i < sizeof cap_flags / sizeof cap_flags[0]; i++)
		if (strlen(cap_flags[i].name) == n && ascii_ncasecmp(kw, cap_flags[i].name, n) == 0)
			*cap_field(caps, &cap_flags[i]) = 1;
}

void smtp_parse_caps(const struct smtp_reply *r, struct smtp_caps *caps)
{
	int auth_word = 0;
	memset(caps, 0, sizeof *caps);
	caps->esmtp = 1;
	const char *p = r->text.s ? strchr(r->text.s, '\n') : NULL;
	while (p) {
		const char *line = p + 1;
		p = strchr(line, '\n');
		parse_cap_line(line, p ? p : line + strlen(line), caps, &auth_word);
	}
}

void smtp_caps_free(struct smtp_caps *caps)
{
	free(caps->auth);
	caps->auth = NULL;
}

void smtp_reply_init(struct smtp_reply *r)
{
	r->code = 0;
	r->enh[0] = '\0';
	r->nlines = 0;
	buf_init(&r->text);
}

void smtp_reply_free(struct smtp_reply *r)
{
	buf_free(&r->text);
	r->nlines = 0;
}

/* ---- reading replies ---- */

/* Copy at most QUOTE_MAX bytes of [p, p+n) into out, control characters
 * replaced so a server cannot write escape sequences to a terminal. */
static void quote_text(struct buf *out, const char *p, size_t n)
{
	size_t max = n > QUOTE_MAX ? QUOTE_MAX : n;
	for (size_t i = 0; i < max; i++) {
		unsigned char c = (unsigned char)p[i];
		buf_addc(out, c < 0x20 || c == 0x7f ? '?' : (char)c);
	}
	if (max < n)
		buf_adds(out, "...");
}

/* "550 5.1.1 text" from the first line of r. Caller frees. */
static char *reply_quote(const struct smtp_reply *r)
{
	struct buf b;
	const char *t = r->text.s ? r->text.s : "";
	const char *nl = strchr(t, '\n');
	buf_init(&b);
	buf_printf(&b, "%d", r->code);
	size_t n = nl ? (size_t)(nl - t) : strlen(t);
	if (n) {
		buf_addc(&b, ' ');
		quote_text(&b, t, n);
	}
	return buf_steal(&b);
}

static int malformed(struct conn *c, const struct buf *line, struct perr *e)
{
	struct buf q;
	buf_init(&q);
	quote_text(&q, line->s, line->len);
	perr_fail(e, FC_PROTOCOL, "malformed reply from %s: '%s'", net_peer_name(c), q.s ? q.s : "");
	buf_free(&q);
	return e->ex;
}

/* Add one parsed line to r. */
static int add_reply_line(struct conn *c, struct smtp_reply *r, const struct buf *line,
                          struct perr *e)
{
	int code, last;
	const char *text;
	if (smtp_parse_line(line->s, line->len, &code, &last, &text) < 0 ||
	    (r->nlines > 0 && code != r->code))
		return malformed(c, line, e);
	if (r->nlines >= SMTP_MAX_REPLY_LINES)
		return perr_fail(e, FC_PROTOCOL, "reply from %s has more than %d lines",
		                net_peer_name(c), SMTP_MAX_REPLY_LINES);
	if (r->nlines == 0) {
		r->code = code;
		smtp_parse_enh(code, text, r->enh);
	} else {
		buf_addc(&r->text, '\n');
	}
	buf_add(&r->text, text, line->len - (size_t)(text - line->s));
	r->nlines++;
	return last ? -1 : EX_OK;
}

int smtp_read_reply(struct conn *c, struct smtp_reply *r, struct perr *e)
{
	struct buf line;
	int rc;
	buf_init(&line);
	buf_reset(&r->text);
	r->code = 0;
	r->enh[0] = '\0';
	r->nlines = 0;
	/* The timeout bounds the whole reply, not each line: a server that
	 * drips continuation lines cannot hold the client any longer. */
	net_reply_deadline(c, net_deadline(net_timeout(c)));
	do {
		rc = net_getline(c, &line, e);
		if (rc != EX_OK)
			break;
		log_transcript(0, SHOW_LINE, line.s, line.len);
		rc = add_reply_line(c, r, &line, e);
	} while (rc == EX_OK);
	net_reply_deadline(c, -1);
	buf_free(&line);
	if (rc == -1)
		perr_clear(e);
	return rc == -1 ? EX_OK : rc;
}

/* ---- session I/O ---- */

/* After a connection failure: name the reply waited for. */
static int conn_failed(struct smtp_session *s, const char *what, struct perr *e)
{
	s->dead = 1;
	if (net_timed_out(s->c) == NET_EXPIRED_TIMEOUT)
		return perr_fail(e, FC_TIMEOUT, "timeout after %d s waiting for %s's %s",
		                net_timeout(s->c), s->peer, what);
	if (e->ex == EX_TEMPFAIL) {
		char tmp[sizeof e->msg];
		memcpy(tmp, e->msg, sizeof tmp);
		perr_fail(e, e->fc, "%s (waiting for the %s)", tmp, what);
	}
	return e->ex;
}

static int get_reply(struct smtp_session *s, const char *what, struct smtp_reply *r,
                     struct perr *e)
{
	if (smtp_read_reply(s->c, r, e) == EX_OK)
		return EX_OK;
	conn_failed(s, what, e);
	if (net_timed_out(s->c) && r->nlines > 0) {
		size_t n = strlen(e->msg);
		snprintf(e->msg + n, sizeof e->msg - n, " (%d line%s of it had arrived, but not "
		         "its last; the timeout bounds the whole reply)", r->nlines,
		         r->nlines == 1 ? "" : "s");
	}
	return e->ex;
}

/* Queue one command line; it leaves with the next flush. */
static int send_line(struct smtp_session *s, const char *line, enum redact how, struct perr *e)
{
	size_t n = strlen(line);
	log_transcript(1, how, line, n);
	if (net_write(s->c, line, n, e) != EX_OK)
		return e->ex;
	return net_write(s->c, "\r\n", 2, e);
}

int smtp_command(struct smtp_session *s, const char *line, enum redact how, const char *what,
                 struct smtp_reply *r, struct perr *e)
{
	perr_clear(e);
	if (send_line(s, line, how, e) != EX_OK || net_flush(s->c, e) != EX_OK) {
		s->dead = 1;
		return e->ex;
	}
	return get_reply(s, what, r, e);
}

/* Record a failure reply as "<what failed>: <code> <text>"; a 2xx/3xx
 * where it makes no sense is a protocol error. */
static int reply_failed(struct perr *e, enum smtp_phase ph, const struct smtp_reply *r,
                        const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static int reply_failed(struct perr *e, enum smtp_phase ph, const struct smtp_reply *r,
                        const char *fmt, ...)
{
	struct buf b;
	va_list ap;
	char *q = reply_quote(r);
	buf_init(&b);
	va_start(ap, fmt);
	buf_vprintf(&b, fmt, ap);
	va_end(ap);
	perr_reply(e, ph, r->code, r->enh, "%s: %s", b.s ? b.s : "", q);
	if (e->ex == EX_OK)
		perr_reclass(e, FC_PROTOCOL);
	buf_free(&b);
	free(q);
	return e->ex;
}

/* EHLO (or LHLO); with fallback, HELO when EHLO is not understood. */
static int hello(struct smtp_session *s, int fallback, struct perr *e)
{
	const char *verb = s->lmtp ? "LHLO" : "EHLO";
	const char *name = s->helo && *s->helo ? s->helo : "localhost";
	struct smtp_reply r;
	smtp_reply_init(&r);
	char *cmd = xasprintf("%s %s", verb, name);
	char *what = xasprintf("reply to %s", verb);
	int rc = smtp_command(s, cmd, SHOW_LINE, what, &r, e);
	if (rc == EX_OK && r.code / 100 == 2) {
		smtp_caps_free(&s->caps);
		smtp_parse_caps(&r, &s->caps);
	} else if (rc == EX_OK && fallback && !s->lmtp && (r.code == 500 || r.code == 502)) {
		free(cmd);
		cmd = xasprintf("HELO %s", name);
		rc = smtp_command(s, cmd, SHOW_LINE, "reply to HELO", &r, e);
		if (rc == EX_OK && r.code / 100 == 2) {
			smtp_caps_free(&s->caps);
			memset(&s->caps, 0, sizeof s->caps);
		} else if (rc == EX_OK) {
			rc = reply_failed(e, PH_EHLO, &r, "HELO rejected by %s", s->peer);
		}
	} else if (rc == EX_OK) {
		rc = reply_failed(e, PH_EHLO, &r, "%s rejected by %s", verb, s->peer);
	}
	free(what);
	free(cmd);
	smtp_reply_free(&r);
	return rc;
}

int smtp_start(struct smtp_session *s, struct perr *e)
{
	perr_clear(e);
	smtp_reply_init(&s->greeting);
	memset(&s->caps, 0, sizeof s->caps);
	s->quit_sent = s->dead = 0;
	if (get_reply(s, "greeting", &s->greeting, e) != EX_OK)
		return e->ex;
	/* RFC 5321 4.3.2: only 220 opens a session; 554 (and any 5xx) refuses
	 * it for good, 4xx for now; anything else is a protocol error. */
	if (s->greeting.code / 100 == 4 || s->greeting.code / 100 == 5)
		return reply_failed(e, PH_GREETING, &s->greeting, "%s refused the connection",
		                    s->peer);
	if (s->greeting.code != 220)
		return reply_failed(e, PH_GREETING, &s->greeting, "unexpected greeting from %s "
		                    "(only 220 opens a session, RFC 5321 4.3.2; nothing was sent)",
		                    s->peer);
	return hello(s, 1, e);
}

int smtp_ehlo(struct smtp_session *s, struct perr *e)
{
	perr_clear(e);
	return hello(s, 0, e);
}

int smtp_starttls(struct smtp_session *s, struct perr *e)
{
	struct smtp_reply r;
	smtp_reply_init(&r);
	int rc = smtp_command(s, "STARTTLS", SHOW_LINE, "reply to STARTTLS", &r, e);
	if (rc == EX_OK && r.code != 220)
		rc = reply_failed(e, PH_STARTTLS, &r, "STARTTLS refused by %s", s->peer);
	smtp_reply_free(&r);
	if (rc == EX_OK && net_pending(s->c) > 0) {
		size_t n = net_pending(s->c);
		net_discard_pending(s->c);
		s->dead = 1;
		rc = perr_fail(e, FC_PROTOCOL, "%s sent %zu byte%s after its 220 reply to STARTTLS, "
		              "before the TLS handshake; this is how a command injection attack "
		              "looks, so postie stops here", s->peer, n, n == 1 ? "" : "s");
	}
	if (rc == EX_OK) {   /* RFC 3207 4.2: forget them, keep them for --serverinfo */
		smtp_caps_free(&s->pre_tls_caps);
		s->pre_tls_caps = s->caps;
		s->pre_tls = 1;
		memset(&s->caps, 0, sizeof s->caps);
	}
	return rc;
}

/* Send QUIT unless done, read the reply within a short time, ignore it. */
static void quit(struct smtp_session *s)
{
	struct perr e;
	struct smtp_reply r;
	if (s->dead)
		return;
	if (!s->quit_sent) {
		s->quit_sent = 1;
		if (send_line(s, "QUIT", SHOW_LINE, &e) != EX_OK || net_flush(s->c, &e) != EX_OK) {
			s->dead = 1;
			return;
		}
	}
	int t = net_timeout(s->c);
	if (t == 0 || t > QUIT_TIMEOUT)
		net_set_timeout(s->c, QUIT_TIMEOUT);
	smtp_reply_init(&r);
	smtp_read_reply(s->c, &r, &e);
	smtp_reply_free(&r);
	s->dead = 1;
}

void smtp_quit(struct smtp_session *s)
{
	if (!s->c)
		return;
	quit(s);
	net_close(s->c);
	s->c = NULL;
	s->tls_state = NULL;
	s->dead = 1;
}

void smtp_session_free(struct smtp_session *s)
{
	smtp_reply_free(&s->greeting);
	smtp_caps_free(&s->caps);
	smtp_caps_free(&s->pre_tls_caps);
	if (s->c)
		net_close(s->c);
	s->c = NULL;
	s->tls_state = NULL;
}

void smtp_session_drop(struct smtp_session *s)
{
	net_drop(s->c);
	s->c = NULL;
	smtp_session_free(s);
}

/* ---- one mail transaction ---- */

/* The recipients of a transaction are those pending when it starts;
 * their state changes only as replies arrive, so "still pending" marks
 * the ones whose RCPT is in flight. */
struct tx {
	struct smtp_session *s;
	struct envelope *env;
	struct msg *m;
	int quit;              /* QUIT after the data */
	struct delivery *o;
	int pipe;              /* PIPELINING */
	int bdat;              /* CHUNKING */
	long long size;        /* wire size of the data as sent, -1 unknown */
	long long count;       /* data bytes handed to net_write */
	int mail_ok;
	size_t accepted;       /* recipients accepted at RCPT */
	int completed;         /* the reply to the end of data was read */
	int wfail;             /* a write failed: werr */
	struct perr werr;
	struct smtp_reply *relay; /* -bs: a copy of the last reply noted, or NULL */
};

static void tx_fail(struct tx *t, const struct perr *e)
{
	if (t->o->session.ex == EX_OK)
		t->o->session = *e;
}

static void reply_copy(struct smtp_reply *to, const struct smtp_reply *from)
{
	smtp_reply_free(to);
	smtp_reply_init(to);
	to->code = from->code;
	memcpy(to->enh, from->enh, sizeof to->enh);
	if (from->text.s)
		buf_add(&to->text, from->text.s, from->text.len);
	to->nlines = from->nlines;
}

static void note(struct tx *t, const struct smtp_reply *r)
{
	char *q = reply_quote(r);
	if (t->relay)
		reply_copy(t->relay, r);
	t->o->last_code = r->code;
	snprintf(t->o->last_msg, sizeof t->o->last_msg, "%s", q);
	free(q);
}

/* A reply is due: read it. Nonzero if the connection is unusable. */
static int tx_reply(struct tx *t, const char *what, struct smtp_reply *r)
{
	struct perr e;
	if (t->s->dead)
		return -1;
	if (get_reply(t->s, what, r, &e) == EX_OK)
		return 0;
	tx_fail(t, t->wfail ? &t->werr : &e);
	return -1;
}

/* A write failed. Replies already received may still explain why (a
 * refusal before the server hung up), so they are read, but only briefly:
 * the connection is lost either way. */
static int tx_write_failed(struct tx *t)
{
	int to = net_timeout(t->s->c);
	t->wfail = 1;
	if (to == 0 || to > 1)
		net_set_timeout(t->s->c, 1);
	return -1;
}

static int tx_queue(struct tx *t, const char *line)
{
	if (t->wfail || t->s->dead)
		return -1;
	if (send_line(t->s, line, SHOW_LINE, &t->werr) != EX_OK)
		return tx_write_failed(t);
	return 0;
}

static int tx_flush(struct tx *t)
{
	if (t->wfail || t->s->dead)
		return -1;
	if (net_flush(t->s->c, &t->werr) != EX_OK)
		return tx_write_failed(t);
	return 0;
}

/* RFC 3461 xtext. */
static void add_xtext(struct buf *b, const char *s)
{
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c >= '!' && c <= '~' && c != '+' && c != '=')
			buf_addc(b, (char)c);
		else
			buf_printf(b, "+%02X", c);
	}
}

static void add_upper(struct buf *b, const char *s)
{
	for (; *s; s++)
		buf_addc(b, *s >= 'a' && *s <= 'z' ? (char)(*s - 32) : *s);
}

/* Recipients still to be tried. */
/* NOTIFY needs the server's DSN; ORCPT alone is left out without it. */
static int wants_dsn(const struct envelope *env)
{
	for (size_t i = 0; i < env->nrcpt; i++)
		if (env->rcpt[i].state == RCPT_PENDING && env->rcpt[i].notify)
			return 1;
	return 0;
}

/* SMTP: the end of data accepted, for every accepted recipient. */
static void mark_delivered(struct tx *t)
{
	for (size_t i = 0; i < t->env->nrcpt; i++)
		if (t->env->rcpt[i].state == RCPT_ACCEPTED) {
			t->env->rcpt[i].state = RCPT_DELIVERED;
			t->o->ndelivered++;
		}
}

/* SMTPUTF8 is needed when an address has 8-bit octets. */
static int check_utf8(struct tx *t, int *needed, struct perr *e)
{
	const struct envelope *env = t->env;
	const char *which = NULL;
	if (env->from && addr_is_8bit(env->from))
		which = env->from;
	for (size_t i = 0; !which && i < env->nrcpt; i++)
		if (env->rcpt[i].state == RCPT_PENDING && addr_is_8bit(env->rcpt[i].ascii))
			which = env->rcpt[i].ascii;
	*needed = which != NULL;
	if (which && !t->s->caps.smtputf8)
		return perr_fail(e, FC_EXTENSION, "%s does not support SMTPUTF8, needed for <%s>",
		                t->s->peer, which);
	return EX_OK;
}

/* Addresses go into command lines: no control characters. */
static int check_addrs(const struct envelope *env, struct perr *e)
{
	const char *bad = NULL;
	for (const char *p = env->from ? env->from : ""; !bad && *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			bad = "sender";
	for (size_t i = 0; !bad && i < env->nrcpt; i++)
		for (const char *p = env->rcpt[i].ascii; !bad && *p; p++)
			if ((unsigned char)*p < 0x20 || *p == 0x7f)
				bad = "recipient";
	if (bad)
		return perr_fail(e, FC_MESSAGE, "%s address contains a control character", bad);
	return EX_OK;
}

/* The wire size when SIZE or BDAT needs it, checked against the limit. */
static int mail_size(struct tx *t, struct perr *e)
{
	const struct smtp_caps *caps = &t->s->caps;
	if (caps->size_offered || t->bdat) {
		off_t n = msg_wire_size(t->m, !t->bdat, e);
		if (n < 0)
			return e->ex;
		t->size = (long long)n;
	}
	if (caps->size_offered && caps->size > 0 && t->size > caps->size)
		return perr_fail(e, FC_MESSAGE, "message size %lld exceeds %s's limit of %lld bytes",
		                t->size, t->s->peer, caps->size);
	return EX_OK;
}

/* "MAIL FROM:<...> params": each parameter the server supports. */
static void mail_line(struct buf *cmd, const struct smtp_session *s, const struct envelope *j,
                      const struct smtp_mail_opts *o)
{
	const struct smtp_caps *caps = &s->caps;
	buf_printf(cmd, "MAIL FROM:<%s>", j->from ? j->from : "");
	if (caps->size_offered && o->size >= 0)
		buf_printf(cmd, " SIZE=%lld", o->size);
	if (o->eightbit && caps->eightbitmime)
		buf_adds(cmd, " BODY=8BITMIME");
	if (o->smtputf8)
		buf_adds(cmd, " SMTPUTF8");
	if (caps->dsn && j->dsn_return) {
		int hdrs = !ascii_casecmp(j->dsn_return, "headers") || !ascii_casecmp(j->dsn_return, "hdrs");
		buf_adds(cmd, hdrs ? " RET=HDRS" : " RET=FULL");
	}
	if (caps->dsn && j->envid) {
		buf_adds(cmd, " ENVID=");
		add_xtext(cmd, j->envid);
	}
}

/* Build "MAIL FROM:<...> params", or fail before anything is sent. */
static int mail_command(struct tx *t, struct buf *cmd, struct perr *e)
{
	const struct envelope *j = t->env;
	const struct smtp_caps *caps = &t->s->caps;
	struct smtp_mail_opts o;
	if (envelope_pending(j) == 0)
		return perr_fail(e, FC_INTERNAL, "no recipients");
	if (check_addrs(j, e) != EX_OK || check_utf8(t, &o.smtputf8, e) != EX_OK)
		return e->ex;
	if ((wants_dsn(j) || j->dsn_return) && !caps->dsn)
		return perr_fail(e, FC_EXTENSION, "%s does not support DSN (dsn_notify/dsn_return set)",
		                t->s->peer);
	if (mail_size(t, e) != EX_OK)
		return e->ex;
	o.size = t->size;
	o.eightbit = t->m->eightbit;
	mail_line(cmd, t->s, j, &o);
	return EX_OK;
}

/* "RCPT TO:<...>" with the DSN parameters the server supports. */
static void rcpt_line(struct buf *cmd, const struct smtp_session *s, const struct rcpt *r)
{
	buf_printf(cmd, "RCPT TO:<%s>", r->ascii);
	if (s->caps.dsn && r->notify) {
		buf_adds(cmd, " NOTIFY=");
		add_upper(cmd, r->notify);
	}
	if (s->caps.dsn && r->orcpt && !addr_is_8bit(r->orcpt)) {
		buf_adds(cmd, " ORCPT=rfc822;");   /* RFC 3461 4.2 */
		add_xtext(cmd, r->orcpt);
	}
}

static void queue_rcpt(struct tx *t, const struct rcpt *r)
{
	struct buf cmd;
	buf_init(&cmd);
	rcpt_line(&cmd, t->s, r);
	tx_queue(t, cmd.s);
	buf_free(&cmd);
}

static void read_mail(struct tx *t)
{
	struct smtp_reply r;
	struct perr e;
	smtp_reply_init(&r);
	if (tx_reply(t, "reply to MAIL", &r) == 0) {
		note(t, &r);
		if (r.code / 100 == 2) {
			t->mail_ok = 1;
		} else {
			reply_failed(&e, PH_MAIL, &r, "sender <%s> rejected by %s",
			             t->env->from ? t->env->from : "", t->s->peer);
			tx_fail(t, &e);
		}
	}
	smtp_reply_free(&r);
}

static void read_rcpt(struct tx *t, struct rcpt *rc)
{
	struct smtp_reply r;
	smtp_reply_init(&r);
	if (tx_reply(t, "reply to RCPT", &r) == 0 && t->mail_ok) {
		note(t, &r);
		if (r.code / 100 == 2) {
			rc->state = RCPT_ACCEPTED;
			t->accepted++;
		} else {
			rc->state = RCPT_REFUSED;
			reply_failed(&rc->result, PH_RCPT, &r, "recipient <%s> rejected by %s",
			             rc->ascii, t->s->peer);
		}
	}
	smtp_reply_free(&r);
}

/* msg_write_to writes the data straight into the connection's buffer. */
static int data_window(void *ctx, size_t used, char **p, size_t *room)
{
	struct tx *t = ctx;
	t->count += (long long)used;
	if (net_window(t->s->c, used, p, room, &t->werr) != EX_OK) {
		tx_write_failed(t);
		return 1;
	}
	return 0;
}

/* Stream the message (and the DATA terminator), then QUIT if pipelined. */
static int queue_data(struct tx *t, int dotstuff)
{
	struct perr e;
	struct msg_out out = { data_window, t };
	if (t->wfail || t->s->dead)
		return -1;
	t->count = 0;
	int rc = msg_write_to(t->m, dotstuff, &out, &e);
	log_info("<%lld bytes of message data>", t->count);
	if (rc == 0 && t->size >= 0 && t->count != t->size)
		rc = -1, perr_fail(&e, FC_INTERNAL, "message data changed size while sending");
	if (rc < 0) {
		/* the peer waits for data that will not come: give up */
		tx_fail(t, &e);
		t->s->dead = 1;
		return -1;
	}
	if (rc > 0)
		return -1;
	if (dotstuff && tx_queue(t, ".") != 0)
		return -1;
	if (t->pipe && t->quit && tx_queue(t, "QUIT") == 0)
		t->s->quit_sent = 1;
	return 0;
}

static void queue_bdat(struct tx *t)
{
	char cmd[64];
	snprintf(cmd, sizeof cmd, "BDAT %lld LAST", t->size);
	if (tx_queue(t, cmd) == 0)
		queue_data(t, 0);
}

/* LMTP: one reply per accepted recipient after the data. */
static void read_lmtp(struct tx *t)
{
	struct smtp_reply r;
	smtp_reply_init(&r);
	for (size_t i = 0; i < t->env->nrcpt; i++) {
		struct rcpt *rc = &t->env->rcpt[i];
		if (rc->state != RCPT_ACCEPTED)
			continue;
		if (tx_reply(t, "reply to the end of data", &r) != 0)
			break;
		note(t, &r);
		if (r.code / 100 == 2) {
			rc->state = RCPT_DELIVERED;
			t->o->ndelivered++;
		} else {
			rc->state = RCPT_REFUSED;
			reply_failed(&rc->result, PH_LMTP_RCPT, &r, "delivery to <%s> refused by %s",
			             rc->ascii, t->s->peer);
		}
	}
	t->completed = 1;
	smtp_reply_free(&r);
}

/* The reply(ies) to the end of the data (DATA's "." or BDAT LAST). */
static void read_data_end(struct tx *t)
{
	struct smtp_reply r;
	struct perr e;
	if (!t->mail_ok || t->accepted == 0) {
		/* BDAT in flight with nobody to deliver to: the refusal is expected */
		smtp_reply_init(&r);
		tx_reply(t, "reply to BDAT", &r);
		smtp_reply_free(&r);
		return;
	}
	if (t->s->lmtp) {
		read_lmtp(t);
	} else {
		smtp_reply_init(&r);
		if (tx_reply(t, "reply to the end of data", &r) == 0) {
			note(t, &r);
			t->completed = 1;
			if (r.code / 100 == 2) {
				mark_delivered(t);
			} else {
				reply_failed(&e, PH_DATA_END, &r, "message rejected by %s", t->s->peer);
				tx_fail(t, &e);
			}
		}
		smtp_reply_free(&r);
	}
	if (t->o->ndelivered > 0)
		t->o->sent = t->count;
}

/* DATA was queued and flushed: its 354, then the message. */
static void data_phase(struct tx *t)
{
	struct smtp_reply r;
	struct perr e;
	smtp_reply_init(&r);
	if (tx_reply(t, "reply to DATA", &r) != 0)
		goto out;
	if (!t->mail_ok || t->accepted == 0) {
		/* DATA is expected to fail; a server that says 354 anyway gets an
		 * empty message it will refuse for lack of recipients */
		if (r.code == 354 && tx_queue(t, ".") == 0 && tx_flush(t) == 0)
			tx_reply(t, "reply to the end of data", &r);
		goto out;
	}
	if (r.code != 354) {
		note(t, &r);
		reply_failed(&e, PH_DATA, &r, "DATA rejected by %s", t->s->peer);
		tx_fail(t, &e);
		goto out;
	}
	if (queue_data(t, 1) == 0 && tx_flush(t) == 0) {
		t->o->data_sent = 1;
		read_data_end(t);
	}
out:
	smtp_reply_free(&r);
}

/* The commands, in one flight with PIPELINING, else one at a time. */
static void run(struct tx *t, const char *mail)
{
	if (tx_queue(t, mail) != 0)
		return;
	if (!t->pipe) {
		if (tx_flush(t) != 0)
			return;
		read_mail(t);
		if (!t->mail_ok)
			return;
	}
	for (size_t i = 0; i < t->env->nrcpt; i++) {
		struct rcpt *rc = &t->env->rcpt[i];
		if (rc->state != RCPT_PENDING)
			continue;
		queue_rcpt(t, rc);
		if (t->pipe)
			continue;
		if (tx_flush(t) != 0)
			return;
		read_rcpt(t, rc);
		if (t->s->dead)
			return;
	}
	if (!t->pipe && t->accepted == 0)
		return;
	if (t->bdat)
		queue_bdat(t);
	else
		tx_queue(t, "DATA");
	if (tx_flush(t) == 0 && t->bdat)
		t->o->data_sent = 1;
	if (t->pipe) {
		read_mail(t);
		for (size_t i = 0; i < t->env->nrcpt; i++)
			if (t->env->rcpt[i].state == RCPT_PENDING)
				read_rcpt(t, &t->env->rcpt[i]);
	}
	/* BDAT went with MAIL and RCPT: a server that refused them all
	 * refuses the data too */
	if (t->bdat && !t->s->dead && (!t->mail_ok || t->accepted == 0))
		t->o->data_sent = 0;
	if (t->bdat)
		read_data_end(t);
	else
		data_phase(t);
}

/* After the transaction: QUIT (or its pipelined reply), or RSET when the
 * session stays open and the transaction was left unfinished. */
static void wind_up(struct tx *t)
{
	struct smtp_session *s = t->s;
	if (t->wfail)
		tx_fail(t, &t->werr);
	if (t->wfail || s->dead)
		s->dead = 1;
	else if (t->quit || s->quit_sent)
		quit(s);
	else if (t->mail_ok && !t->completed) {
		struct smtp_reply r;
		struct perr e;
		smtp_reply_init(&r);
		smtp_command(s, "RSET", SHOW_LINE, "reply to RSET", &r, &e);
		smtp_reply_free(&r);
	}
}

static void delivery_init(struct delivery *d)
{
	memset(d, 0, sizeof *d);
	perr_clear(&d->session);
	d->sent = -1;
}

/* Each transaction extends the session deadline (if one is set) by a
 * timeout's worth, plus one per 10 recipients and one per 16 KiB of
 * message: a slow server is not cut off, a dripping one still is. */
static void extend_session(struct smtp_session *s, const struct envelope *env, const struct msg *m)
{
	long long units = 1 + (long long)envelope_pending(env) / 10 + (m ? (long long)m->size / 16384 : 0);
	long long sec = units * net_timeout(s->c);
	net_extend_session(s->c, sec > INT_MAX ? INT_MAX : (int)sec);
}

/* The transaction is over: accepted recipients that did not get the
 * message are pending again; the combined status. */
static void settle(struct tx *t)
{
	struct delivery *d = t->o;
	d->ex = d->session.ex;
	for (size_t i = 0; i < t->env->nrcpt; i++) {
		struct rcpt *rc = &t->env->rcpt[i];
		if (rc->state == RCPT_ACCEPTED)
			rc->state = RCPT_PENDING;
		if (rc->state == RCPT_REFUSED)
			d->ex = status_combine(d->ex, rc->result.ex);
	}
}

static void tx_init(struct tx *t, struct smtp_session *s, struct envelope *env, struct msg *m,
                    struct delivery *d)
{
	memset(t, 0, sizeof *t);
	t->s = s;
	t->env = env;
	t->m = m;
	t->o = d;
	t->pipe = s->caps.pipelining;
	t->bdat = s->caps.chunking;
	t->size = -1;
	delivery_init(d);
}

int smtp_send_mail(struct smtp_session *s, struct envelope *env, struct msg *m, int quit,
                   struct delivery *d)
{
	struct tx t;
	struct buf mail;
	tx_init(&t, s, env, m, d);
	t.quit = quit;
	buf_init(&mail);
	if (s->c)
		extend_session(s, env, m);
	if (s->dead || !s->c)
		perr_fail(&d->session, FC_INTERNAL, "the session with %s is closed", s->peer);
	else if (mail_command(&t, &mail, &d->session) == EX_OK)
		run(&t, mail.s);
	if (s->c)
		wind_up(&t);
	settle(&t);
	buf_free(&mail);
	return d->ex;
}

/* ---- -bs: a client's transaction relayed one command at a time ---- */

int smtp_relay_mail(struct smtp_session *s, const struct envelope *env,
                    const struct smtp_mail_opts *o, struct smtp_reply *r, struct perr *e)
{
	struct buf cmd;
	perr_clear(e);
	if (s->dead || !s->c)
		return perr_fail(e, FC_INTERNAL, "the session with %s is closed", s->peer);
	if (check_addrs(env, e) != EX_OK)
		return e->ex;
	if (o->smtputf8 && !s->caps.smtputf8)
		return perr_fail(e, FC_EXTENSION, "%s does not support SMTPUTF8, needed for this message",
		                s->peer);
	net_extend_session(s->c, net_timeout(s->c));
	buf_init(&cmd);
	mail_line(&cmd, s, env, o);
	int rc = smtp_command(s, cmd.s, SHOW_LINE, "reply to MAIL", r, e);
	buf_free(&cmd);
	return rc;
}

int smtp_relay_rcpt(struct smtp_session *s, struct rcpt *rc, struct smtp_reply *r, struct perr *e)
{
	struct buf cmd;
	perr_clear(e);
	if (s->dead || !s->c)
		return perr_fail(e, FC_INTERNAL, "the session with %s is closed", s->peer);
	for (const char *p = rc->ascii; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			return perr_fail(e, FC_MESSAGE, "recipient address contains a control character");
	net_extend_session(s->c, net_timeout(s->c));
	buf_init(&cmd);
	rcpt_line(&cmd, s, rc);
	int ex = smtp_command(s, cmd.s, SHOW_LINE, "reply to RCPT", r, e);
	buf_free(&cmd);
	if (ex != EX_OK)
		return ex;
	if (r->code / 100 == 2) {
		rc->state = RCPT_ACCEPTED;
	} else {
		rc->state = RCPT_REFUSED;
		reply_failed(&rc->result, PH_RCPT, r, "recipient <%s> rejected by %s", rc->ascii, s->peer);
	}
	return EX_OK;
}

int smtp_relay_data(struct smtp_session *s, struct envelope *env, struct msg *m,
                    struct smtp_reply *r, struct delivery *d)
{
	struct tx t;
	tx_init(&t, s, env, m, d);
	t.mail_ok = 1;
	t.relay = r;
	for (size_t i = 0; i < env->nrcpt; i++)
		t.accepted += env->rcpt[i].state == RCPT_ACCEPTED;
	if (s->dead || !s->c) {
		perr_fail(&d->session, FC_INTERNAL, "the session with %s is closed", s->peer);
	} else {
		extend_session(s, env, m);
		if (t.bdat && mail_size(&t, &d->session) != EX_OK) {
			;   /* nothing sent: wind_up's RSET ends the transaction */
		} else if (t.bdat) {
			queue_bdat(&t);
			if (tx_flush(&t) == 0)
				d->data_sent = 1;
			read_data_end(&t);
		} else if (tx_queue(&t, "DATA") == 0 && tx_flush(&t) == 0) {
			data_phase(&t);
		}
	}
	if (s->c)
		wind_up(&t);
	settle(&t);
	return d->ex;
}

void smtp_relay_rset(struct smtp_session *s)
{
	struct smtp_reply r;
	struct perr e;
	if (s->dead || !s->c)
		return;
	smtp_reply_init(&r);
	smtp_command(s, "RSET", SHOW_LINE, "reply to RSET", &r, &e);
	smtp_reply_free(&r);
}

/* ---- --serverinfo ---- */

static void print_text(FILE *out, const char *indent, const char *text)
{
	const char *p = text ? text : "";
	for (;;) {
		const char *nl = strchr(p, '\n');
		size_t n = nl ? (size_t)(nl - p) : strlen(p);
		struct buf b;
		buf_init(&b);
		quote_text(&b, p, n);
		fprintf(out, "%s%s\n", indent, b.s ? b.s : "");
		buf_free(&b);
		if (!nl)
			break;
		p = nl + 1;
	}
}

static void print_caps(const struct smtp_caps *caps, FILE *out)
{
	int any = 0;
	if (caps->size_offered) {
		any = 1;
		if (caps->size > 0)
			fprintf(out, "    SIZE %lld:\n        Largest message accepted: %lld bytes = %.2f MiB\n",
			        caps->size, caps->size, (double)caps->size / (1024.0 * 1024.0));
		else
			fprintf(out, "    SIZE:\n        No size limit stated\n");
	}
	for (size_t i = 0; i < sizeof cap_flags / sizeof cap_flags[0]; i++) {
		if (!cap_get(caps, &cap_flags[i]))
			continue;
		any = 1;
		fprintf(out, "    %s:\n        %s\n", cap_flags[i].name, cap_flags[i].doc);
	}
	if (caps->auth) {
		any = 1;
		fprintf(out, "    AUTH:\n        Authentication mechanisms: ");
		print_text(out, "", caps->auth);
	}
	if (!any)
		fprintf(out, "    (none)\n");
}

void smtp_print_info(const struct smtp_session *s, FILE *out)
{
	const char *proto = s->lmtp ? "LMTP" : "SMTP";
	const char *addr = s->c ? net_peer_addr(s->c) : "";
	if (*addr)
		fprintf(out, "%s server at %s (%s port %d):\n", proto, s->peer, addr,
		        net_peer_port(s->c));
	else
		fprintf(out, "%s server at %s:\n", proto, s->peer);
	print_text(out, "    ", s->greeting.text.s);
	if (s->pre_tls) {
		fprintf(out, "Capabilities before STARTTLS:\n");
		print_caps(&s->pre_tls_caps, out);
	}
	if (!s->caps.esmtp) {
		fprintf(out, "No ESMTP capabilities (the server does not support EHLO).\n");
		return;
	}
	fprintf(out, "%s:\n", s->pre_tls ? "Capabilities after STARTTLS" : "Capabilities");
	print_caps(&s->caps, out);
	if (s->caps.starttls && !s->tls)
		fprintf(out, "The server may offer more or other capabilities after STARTTLS.\n");
}
