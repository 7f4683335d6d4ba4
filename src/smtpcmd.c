/* smtpcmd.c - the command parser of postie -bs: one command line (RFC
 * 5321 4.1) in, a struct smtpcmd out, or the reply that refuses the line:
 * the verb, the length and character checks, the path of MAIL and RCPT
 * (4.1.2, with Postfix's default leniency: a space after the colon, a
 * path without angle brackets) and their parameters (RFC 1870 SIZE, RFC
 * 6152 BODY, RFC 6531 SMTPUTF8, RFC 3461 DSN). Pure: no I/O, no state
 * between lines; the addresses themselves are addr.c's to judge, the
 * order of commands the session's (smtpd.c). */
#include "smtpcmd.h"

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

#define NELEM(a) (sizeof (a) / sizeof (a)[0])

/* RFC 3461 4.4 and 4.2: the longest ENVID and ORCPT values, counted as
 * the client wrote them (ORCPT with its address type). */
#define ENVID_MAX 100
#define ORCPT_MAX 500

enum arg_rule {
	A_NONE,      /* no argument: 501 with the verb's syntax */
	A_ANY,       /* any argument, ignored */
	A_REQUIRED,  /* an argument, kept in c->arg */
	A_PATH,      /* KEYWORD:path [parameters] */
	A_NOTIMPL,   /* a command postie -bs does not offer: 502 */
};

static const struct verb_def {
	const char *name;
	enum smtpcmd_verb verb;
	enum arg_rule rule;
	const char *syntax;   /* the text of the 501 */
	const char *keyword;  /* A_PATH: what comes before the path */
} verbs[] = {
	{ "HELO", SC_HELO, A_REQUIRED, "5.5.4 Syntax: HELO hostname", NULL },
	{ "EHLO", SC_EHLO, A_REQUIRED, "5.5.4 Syntax: EHLO hostname", NULL },
	{ "MAIL", SC_MAIL, A_PATH, "5.5.4 Syntax: MAIL FROM:<address>", "FROM:" },
	{ "RCPT", SC_RCPT, A_PATH, "5.5.4 Syntax: RCPT TO:<address>", "TO:" },
	{ "DATA", SC_DATA, A_NONE, "5.5.4 Syntax: DATA", NULL },
	{ "RSET", SC_RSET, A_NONE, "5.5.4 Syntax: RSET", NULL },
	{ "NOOP", SC_NOOP, A_ANY, NULL, NULL },
	{ "VRFY", SC_VRFY, A_REQUIRED, "5.5.4 Syntax: VRFY address", NULL },
	{ "HELP", SC_HELP, A_ANY, NULL, NULL },
	{ "QUIT", SC_QUIT, A_NONE, "5.5.4 Syntax: QUIT", NULL },
	{ "STARTTLS", SC_NOTIMPL, A_NOTIMPL, NULL, NULL },
	{ "AUTH", SC_NOTIMPL, A_NOTIMPL, NULL, NULL },
	{ "BDAT", SC_NOTIMPL, A_NOTIMPL, NULL, NULL },
	{ "EXPN", SC_NOTIMPL, A_NOTIMPL, NULL, NULL },
	{ "ETRN", SC_NOTIMPL, A_NOTIMPL, NULL, NULL },
	{ "TURN", SC_NOTIMPL, A_NOTIMPL, NULL, NULL },
};

static int is_wsp(char ch)
{
	return ch == ' ' || ch == '\t';
}

static __attribute__((format(printf, 3, 4)))
int refuse(struct smtpcmd *c, int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(c->reply, sizeof c->reply, fmt, ap);
	va_end(ap);
	c->code = code;
	return code;
}

/* The 555 for a parameter, quoting it as written; a long one is cut at a
 * character boundary (UTF-8) to fit the reply. */
static int refuse_param(struct smtpcmd *c, const char *tok, size_t n)
{
	static const char prefix[] = "5.5.4 Unsupported option: ";
	size_t room = sizeof c->reply - sizeof prefix;
	if (n > room) {
		n = room;
		while (n > 0 && ((unsigned char)tok[n] & 0xC0) == 0x80)
			n--;
	}
	return refuse(c, 555, "%s%.*s", prefix, (int)n, tok);
}

/* ---- the verb and the line ---- */

static int is_ctl(char ch)
{
	return ((unsigned char)ch < 0x20 && ch != '\t') || ch == 0x7F;
}

/* The verb: the first word, up to white space, a control character (so
 * that the verb of a line with one is known) or the end; NULL for an
 * unknown one. */
static const struct verb_def *find_verb(const char *s, size_t n)
{
	size_t w = 0;
	while (w < n && !is_wsp(s[w]) && !is_ctl(s[w]))
		w++;
	for (size_t i = 0; i < NELEM(verbs); i++)
		if (strlen(verbs[i].name) == w && ascii_ncasecmp(s, verbs[i].name, w) == 0)
			return &verbs[i];
	return NULL;
}

/* A NUL or another control character but TAB (DEL included). */
static int has_bad_char(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (is_ctl(s[i]))
			return 1;
	return 0;
}

/* ---- MAIL and RCPT parameters ---- */

static int set_size(struct smtpcmd *c, const char *v, size_t n)
{
	long long size = 0;
	for (size_t i = 0; i < n; i++) {
		if (v[i] < '0' || v[i] > '9' || size > (LLONG_MAX - (v[i] - '0')) / 10)
			return -1;
		size = size * 10 + (v[i] - '0');
	}
	c->size = size;
	return 0;
}

static int value_is(const char *v, size_t n, const char *word)
{
	return strlen(word) == n && ascii_ncasecmp(v, word, n) == 0;
}

/* RFC 6152 BODY=8BITMIME and RFC 1652's 7BIT; BINARYMIME needs CHUNKING,
 * which postie -bs does not offer (RFC 3030 3). */
static int set_body(struct smtpcmd *c, const char *v, size_t n)
{
	if (value_is(v, n, "7BIT"))
		c->body = 7;
	else if (value_is(v, n, "8BITMIME"))
		c->body = 8;
	else
		return -1;
	return 0;
}

static int set_smtputf8(struct smtpcmd *c, const char *v, size_t n)
{
	(void)v;
	(void)n;
	c->smtputf8 = 1;
	return 0;
}

static int set_ret(struct smtpcmd *c, const char *v, size_t n)
{
	if (value_is(v, n, "FULL"))
		c->ret = "full";
	else if (value_is(v, n, "HDRS"))
		c->ret = "headers";
	else
		return -1;
	return 0;
}

static int hex_digit(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	return -1;
}

/* RFC 3461 4: xtext, "+" and two hex digits for a character outside "!"
 * to "~" or "+" or "="; lower-case hex digits are accepted too. What it
 * stands for must be printable US-ASCII (4.2, 4.4). NULL if invalid. */
static char *xtext_decode(const char *v, size_t n)
{
	struct buf out;
	size_t i = 0;
	int ok = 1;
	buf_init(&out);
	while (ok && i < n) {
		unsigned char ch = (unsigned char)v[i++];
		if (ch == '+') {
			int hi = i < n ? hex_digit(v[i]) : -1;
			int lo = i + 1 < n ? hex_digit(v[i + 1]) : -1;
			ok = hi >= 0 && lo >= 0 && hi * 16 + lo >= 0x20 && hi * 16 + lo <= 0x7E;
			ch = ok ? (unsigned char)(hi * 16 + lo) : 0;
			i += 2;
		} else {
			ok = ch >= '!' && ch <= '~' && ch != '=';
		}
		buf_addc(&out, (char)ch);
	}
	if (ok)
		return buf_steal(&out);
	buf_free(&out);
	return NULL;
}

static int set_envid(struct smtpcmd *c, const char *v, size_t n)
{
	if (n > ENVID_MAX)
		return -1;
	c->envid = xtext_decode(v, n);
	return c->envid ? 0 : -1;
}

/* RFC 3461 4.1: NEVER alone, or SUCCESS, FAILURE and DELAY, each once. */
static int set_notify(struct smtpcmd *c, const char *v, size_t n)
{
	static const char *const words[] = { "NEVER", "SUCCESS", "FAILURE", "DELAY" };
	struct buf out;
	unsigned seen = 0;
	size_t i = 0;
	buf_init(&out);
	while (i <= n) {
		size_t len = 0, w;
		while (i + len < n && v[i + len] != ',')
			len++;
		for (w = 0; w < NELEM(words) && !value_is(v + i, len, words[w]); w++)
			;
		if (w == NELEM(words) || seen & (1u << w) || (seen && (w == 0 || seen & 1u))) {
			buf_free(&out);
			return -1;
		}
		seen |= 1u << w;
		for (size_t k = 0; k < len; k++)
			buf_addc(&out, (char)(v[i + k] | 0x20));
		buf_addc(&out, ',');
		i += len + 1;
	}
	out.s[--out.len] = '\0';
	c->notify = buf_steal(&out);
	return 0;
}

/* RFC 5322 atext, for the address type of ORCPT (RFC 3461 4.2). */
static int is_atext(char ch)
{
	return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9')
	       || (ch && strchr("!#$%&'*+-/=?^_`{|}~", ch));
}

/* RFC 3461 4.2: ORCPT=addr-type;xtext. Only rfc822 is decoded and kept;
 * another type (RFC 6533's utf-8, x400...) is accepted and dropped. */
static int set_orcpt(struct smtpcmd *c, const char *v, size_t n)
{
	const char *semi = memchr(v, ';', n);
	size_t tlen = semi ? (size_t)(semi - v) : 0;
	if (n > ORCPT_MAX || tlen == 0 || tlen + 1 == n)
		return -1;
	for (size_t i = 0; i < tlen; i++)
		if (!is_atext(v[i]))
			return -1;
	if (!value_is(v, tlen, "rfc822"))
		return 0;
	c->orcpt = xtext_decode(semi + 1, n - tlen - 1);
	return c->orcpt ? 0 : -1;
}

static const struct param_def {
	const char *name;
	enum smtpcmd_verb verb;
	int value;  /* 1: NAME=VALUE, 0: NAME alone */
	int (*set)(struct smtpcmd *c, const char *v, size_t n);  /* -1: invalid */
} params[] = {
	{ "SIZE", SC_MAIL, 1, set_size },          /* RFC 1870 */
	{ "BODY", SC_MAIL, 1, set_body },          /* RFC 6152 */
	{ "SMTPUTF8", SC_MAIL, 0, set_smtputf8 },  /* RFC 6531 */
	{ "RET", SC_MAIL, 1, set_ret },            /* RFC 3461 */
	{ "ENVID", SC_MAIL, 1, set_envid },
	{ "NOTIFY", SC_RCPT, 1, set_notify },
	{ "ORCPT", SC_RCPT, 1, set_orcpt },
};

/* One parameter, tok (n octets, no white space): 0, or -1 when it is
 * unknown for the verb, given twice (seen: the ones before), has a value
 * when it takes none or none when it takes one, or an invalid value. */
static int one_param(struct smtpcmd *c, const char *tok, size_t n, unsigned *seen)
{
	const char *eq = memchr(tok, '=', n);
	size_t klen = eq ? (size_t)(eq - tok) : n;
	for (size_t i = 0; i < NELEM(params); i++) {
		const struct param_def *p = &params[i];
		if (p->verb != c->verb || !value_is(tok, klen, p->name))
			continue;
		if (*seen & (1u << i) || p->value != (eq != NULL) || (eq && klen + 1 == n))
			return -1;
		*seen |= 1u << i;
		return eq ? p->set(c, eq + 1, n - klen - 1) : p->set(c, NULL, 0);
	}
	return -1;
}

/* The parameters after the path, separated by white space. */
static int parse_params(struct smtpcmd *c, const char *s)
{
	unsigned seen = 0;
	for (;;) {
		size_t n = 0;
		while (is_wsp(*s))
			s++;
		if (!*s)
			return 0;
		while (s[n] && !is_wsp(s[n]))
			n++;
		if (one_param(c, s, n, &seen) != 0)
			return refuse_param(c, s, n);
		s += n;
	}
}

/* ---- the path of MAIL and RCPT ---- */

/* Where the path starting at p ends: after its '>' when bracketed (p
 * after the '<'), else at the first white space outside quotes or the
 * end. NULL when a quoted string is left open, a '<' or a stray '>'
 * appears, or a bracketed path holds white space outside quotes. */
static const char *path_end(const char *p, int bracketed)
{
	int quoted = 0;
	for (; *p; p++) {
		if (quoted) {
			if (*p == '\\' && p[1])
				p++;
			else if (*p == '"')
				quoted = 0;
		} else if (*p == '"') {
			quoted = 1;
		} else if (*p == '>') {
			return bracketed ? p + 1 : NULL;
		} else if (*p == '<') {
			return NULL;
		} else if (is_wsp(*p)) {
			return bracketed ? NULL : p;
		}
	}
	return quoted || bracketed ? NULL : p;
}

/* A domain of a source route, from p: letters, digits, '-', '.', UTF-8
 * (RFC 6531), or an address literal [...]. Returns its end, p if none. */
static const char *route_domain(const char *p, const char *end)
{
	if (p < end && *p == '[') {
		const char *close = memchr(p, ']', (size_t)(end - p));
		return close ? close + 1 : p;
	}
	while (p < end && ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')
	                   || (*p >= '0' && *p <= '9') || *p == '-' || *p == '.'
	                   || (unsigned char)*p >= 0x80))
		p++;
	return p;
}

/* The mailbox after the source route "@a,@b:" of RFC 5321 4.1.2 (which
 * a receiver may ignore, C and 3.3), or p itself when there is none;
 * NULL when the route is malformed. */
static const char *skip_route(const char *p, const char *end)
{
	if (p == end || *p != '@')
		return p;
	for (;;) {
		const char *d = route_domain(p + 1, end);
		if (d == p + 1 || d == end)
			return NULL;
		if (*d == ':')
			return d + 1;
		if (*d != ',' || d + 1 == end || d[1] != '@')
			return NULL;
		p = d + 1;
	}
}

/* KEYWORD:path [parameters], with s after the verb and its white space. */
static int parse_path(struct smtpcmd *c, const struct verb_def *v, const char *s)
{
	const char *p, *end, *box, *box_end;
	int bracketed;
	if (!ascii_caseprefix(s, v->keyword))
		return refuse(c, 501, "%s", v->syntax);
	p = s + strlen(v->keyword);
	while (is_wsp(*p))  /* "MAIL FROM: <a@b>": Postfix takes it */
		p++;
	bracketed = *p == '<';
	p += bracketed;
	end = path_end(p, bracketed);
	if (!end || (*end && !is_wsp(*end)))
		return refuse(c, 501, "%s", v->syntax);
	box_end = end - bracketed;
	box = skip_route(p, box_end);
	if (!box || (box == box_end && (box != p || v->verb != SC_MAIL || !bracketed)))
		return refuse(c, 501, "%s", v->syntax);
	c->arg = xstrndup(box, (size_t)(box_end - box));
	return parse_params(c, end);
}

/* ---- the command ---- */

/* What follows the verb, in s (a NUL-terminated copy of the line without
 * control characters), by the verb's rule. */
static int parse_args(struct smtpcmd *c, const struct verb_def *v, char *s)
{
	size_t n;
	s += strlen(v->name);
	while (is_wsp(*s))
		s++;
	n = strlen(s);
	while (n > 0 && is_wsp(s[n - 1]))
		s[--n] = '\0';
	switch (v->rule) {
	case A_NONE:
		return n ? refuse(c, 501, "%s", v->syntax) : 0;
	case A_ANY:
		return 0;
	case A_REQUIRED:
		if (!n)
			return refuse(c, 501, "%s", v->syntax);
		c->arg = xstrdup(s);
		return 0;
	case A_PATH:
		return parse_path(c, v, s);
	case A_NOTIMPL:
		break;
	}
	return refuse(c, 502, "5.5.1 Error: command not implemented");
}

int smtpcmd_parse(const char *line, size_t n, struct smtpcmd *c)
{
	const struct verb_def *v = find_verb(line, n);
	size_t max = v && v->rule == A_PATH ? SMTPCMD_MAX_MAIL_LINE : SMTPCMD_MAX_LINE;
	char *s;
	int rc;
	memset(c, 0, sizeof *c);
	c->size = -1;
	c->verb = v ? v->verb : SC_UNKNOWN;
	if (n > max)
		return refuse(c, 500, "5.5.2 Error: line too long");
	if (has_bad_char(line, n))
		return refuse(c, 500, "5.5.2 Error: bad character in command");
	if (!v)
		return refuse(c, 500, "5.5.2 Error: command not recognized");
	s = xstrndup(line, n);
	rc = parse_args(c, v, s);
	free(s);
	return rc;
}

void smtpcmd_free(struct smtpcmd *c)
{
	free(c->arg);
	free(c->envid);
	free(c->notify);
	free(c->orcpt);
	c->arg = c->envid = c->notify = c->orcpt = NULL;
}
