/* addr.c - RFC 5322 address lists (parser), envelope forms, IDN domains
 * and display-name phrases. Pure functions over bytes; no global state. */
#include "addr.h"
#include "idnlib.h"
#include "util.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* How much of the offending input an error message quotes. */
#define QUOTE_MAX 100

/* Longest encoded text in one RFC 2047 encoded-word: 75 octets minus the
 * 12 of "=?UTF-8?X?" and "?=". Base64 of 45 octets is 60 characters. */
#define EW_Q_MAX 63
#define EW_B_MAX 45

enum tok_type { T_END, T_ATOM, T_QSTR, T_DLIT, T_SPECIAL, T_COMMENT };

struct tok {
	enum tok_type type;
	char c;      /* the character of a T_SPECIAL */
	int gap;     /* white space or a comment came before this token */
	char *text;  /* atom, decoded quoted string or comment, domain literal */
};

struct parser {
	const char *src;
	struct tok *t;
	size_t n, cap;
	size_t pos;       /* next token */
	size_t last_end;  /* index after the last consumed token */
	struct addrlist *out;
	struct perr *e;
};

static const struct tok end_tok = { T_END, 0, 0, NULL };

static int is_special(unsigned char c)
{
	return c && strchr("()<>[]:;@\\,.\"", c) != NULL;
}

static int is_ws(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static int is_ctl(unsigned char c)
{
	return (c < 0x20 && !is_ws(c)) || c == 0x7f;
}

/* RFC 5322 atext, extended by RFC 6532 with every 8-bit octet. */
static int is_atext(unsigned char c)
{
	return c >= 0x80 || (c > 0x20 && c < 0x7f && !is_special(c));
}

/* Copy at most max octets of s into dst for quoting in a message:
 * control characters become '?', a cut never splits a UTF-8 sequence,
 * and "..." marks a cut. */
static void snip(const char *s, size_t max, char *dst, size_t cap)
{
	size_t n = strlen(s), k = n > max ? max : n, o = 0;
	if (k < n)
		while (k > 0 && ((unsigned char)s[k] & 0xc0) == 0x80)
			k--;
	for (size_t i = 0; i < k && o + 4 < cap; i++)
		dst[o++] = is_ctl((unsigned char)s[i]) ? '?' : s[i];
	if (k < n && o + 4 < cap)
		for (int i = 0; i < 3; i++)
			dst[o++] = '.';
	dst[o] = '\0';
}

static int list_error(struct parser *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int list_error(struct parser *p, const char *fmt, ...)
{
	char what[160], q[QUOTE_MAX + 8];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(what, sizeof what, fmt, ap);
	va_end(ap);
	snip(p->src, QUOTE_MAX, q, sizeof q);
	return perr_fail(p->e, FC_MESSAGE, "invalid address list \"%s\": %s", q, what);
}

/* ---- lexer ---- */

static void push(struct parser *p, enum tok_type type, char c, int gap, char *text)
{
	if (p->n == p->cap) {
		p->cap = p->cap ? p->cap * 2 : 16;
		p->t = xrealloc(p->t, p->cap * sizeof *p->t);
	}
	p->t[p->n++] = (struct tok){ type, c, gap, text };
}

/* A quoted-string starting after its '"'; folding line breaks are dropped,
 * quoted-pairs stand for their character. */
static int lex_qstring(struct parser *p, size_t *i, struct buf *b)
{
	const char *s = p->src;
	for (;;) {
		unsigned char c = (unsigned char)s[*i];
		if (!c || (c == '\\' && !s[*i + 1]))
			return list_error(p, "unterminated quoted string");
		(*i)++;
		if (c == '"')
			return 0;
		if (c == '\\')
			c = (unsigned char)s[(*i)++];
		if (c != '\r' && c != '\n')
			buf_addc(b, (char)c);
	}
}

/* A comment starting after its '('; nested comments are kept as text. */
static int lex_comment(struct parser *p, size_t *i, struct buf *b)
{
	const char *s = p->src;
	int depth = 1;
	for (;;) {
		unsigned char c = (unsigned char)s[*i];
		if (!c || (c == '\\' && !s[*i + 1]))
			return list_error(p, "unterminated comment");
		(*i)++;
		if (c == '(')
			depth++;
		else if (c == ')' && --depth == 0)
			return 0;
		if (c == '\\')
			c = (unsigned char)s[(*i)++];
		if (c != '\r' && c != '\n')
			buf_addc(b, (char)c);
	}
}

/* A domain literal starting after its '['; white space is dropped. */
static int lex_dliteral(struct parser *p, size_t *i, struct buf *b)
{
	const char *s = p->src;
	buf_addc(b, '[');
	for (;;) {
		unsigned char c = (unsigned char)s[*i];
		if (!c || (c == '\\' && !s[*i + 1]))
			return list_error(p, "unterminated domain literal");
		(*i)++;
		if (c == '[')
			return list_error(p, "unexpected '[' in domain literal");
		if (c == '\\')
			c = (unsigned char)s[(*i)++];
		if (!is_ws(c))
			buf_addc(b, (char)c);
		if (c == ']')
			return 0;
	}
}

/* Lex a quoted string, comment or domain literal (opened by s[*i - 1]). */
static int lex_delimited(struct parser *p, size_t *i, char open, int gap)
{
	struct buf b;
	int rc;
	buf_init(&b);
	if (open == '"')
		rc = lex_qstring(p, i, &b);
	else if (open == '(')
		rc = lex_comment(p, i, &b);
	else
		rc = lex_dliteral(p, i, &b);
	if (rc) {
		buf_free(&b);
		return rc;
	}
	enum tok_type type = open == '"' ? T_QSTR : open == '(' ? T_COMMENT : T_DLIT;
	push(p, type, 0, gap, buf_steal(&b));
	return 0;
}

static int lex(struct parser *p)
{
	const char *s = p->src;
	size_t i = 0;
	int gap = 0;
	for (size_t k = 0; s[k]; k++)
		if (is_ctl((unsigned char)s[k]))
			return list_error(p, "control character 0x%02x", (unsigned char)s[k]);
	while (s[i]) {
		unsigned char c = (unsigned char)s[i];
		if (is_ws(c)) {
			gap = 1;
			i++;
		} else if (is_atext(c)) {
			size_t j = i;
			while (is_atext((unsigned char)s[j]))
				j++;
			push(p, T_ATOM, 0, gap, xstrndup(s + i, j - i));
			gap = 0;
			i = j;
		} else if (c == '"' || c == '(' || c == '[') {
			i++;
			if (lex_delimited(p, &i, (char)c, gap))
				return p->e->ex;
			gap = c == '(' ? 1 : 0;
		} else if (c == ')' || c == ']' || c == '\\') {
			return list_error(p, "unexpected '%c'", c);
		} else {
			push(p, T_SPECIAL, (char)c, gap, NULL);
			gap = 0;
			i++;
		}
	}
	return 0;
}

/* ---- parser ---- */

static const struct tok *cur(struct parser *p)
{
	while (p->pos < p->n && p->t[p->pos].type == T_COMMENT)
		p->pos++;
	return p->pos < p->n ? &p->t[p->pos] : &end_tok;
}

static void take(struct parser *p)
{
	cur(p);
	p->pos++;
	p->last_end = p->pos;
}

static int is_sp(const struct tok *t, char c)
{
	return t->type == T_SPECIAL && t->c == c;
}

static int is_word(const struct tok *t)
{
	return t->type == T_ATOM || t->type == T_QSTR;
}

static int unexpected(struct parser *p, const struct tok *t)
{
	char q[48];
	switch (t->type) {
	case T_END:
		return list_error(p, "unexpected end of input");
	case T_SPECIAL:
		return list_error(p, "unexpected '%c'", t->c);
	case T_QSTR:
		return list_error(p, "unexpected quoted string");
	default:
		snip(t->text, 40, q, sizeof q);
		return list_error(p, "unexpected '%s'", q);
	}
}

/* display-name: words and (obsolete) dots, joined with one space where
 * white space or a comment separated them. Returns how many it read. */
static size_t parse_phrase(struct parser *p, struct buf *name)
{
	for (size_t n = 0;; n++) {
		const struct tok *t = cur(p);
		if (!is_word(t) && !is_sp(t, '.'))
			return n;
		if (name->len && t->gap)
			buf_addc(name, ' ');
		buf_adds(name, is_word(t) ? t->text : ".");
		take(p);
	}
}

/* local-part: dot-atom, quoted-string or obsolete words with dots,
 * in unquoted form. Two words in a row end it (the caller then fails). */
static int parse_local(struct parser *p, struct buf *local)
{
	int words = 0, prev_word = 0;
	for (;;) {
		const struct tok *t = cur(p);
		if (is_word(t) && !prev_word) {
			buf_adds(local, t->text);
			words++;
			prev_word = 1;
		} else if (is_sp(t, '.')) {
			buf_addc(local, '.');
			prev_word = 0;
		} else {
			break;
		}
		take(p);
	}
	return words ? 0 : unexpected(p, cur(p));
}

static int parse_domain(struct parser *p, char **domain)
{
	const struct tok *t = cur(p);
	struct buf b;
	if (t->type == T_DLIT) {
		*domain = xstrdup(t->text);
		take(p);
		return 0;
	}
	if (t->type == T_END || is_sp(t, ',') || is_sp(t, ';') || is_sp(t, '>'))
		return list_error(p, "missing domain after '@'");
	if (t->type != T_ATOM)
		return unexpected(p, t);
	buf_init(&b);
	for (;;) {
		buf_adds(&b, t->text);
		take(p);
		if (!is_sp(cur(p), '.'))
			break;
		take(p);
		t = cur(p);
		if (t->type != T_ATOM) {
			buf_free(&b);
			return unexpected(p, t);
		}
		buf_addc(&b, '.');
	}
	*domain = buf_steal(&b);
	return 0;
}

static int parse_addr_spec(struct parser *p, struct buf *local, char **domain)
{
	*domain = NULL;
	if (parse_local(p, local))
		return p->e->ex;
	if (!is_sp(cur(p), '@'))
		return 0;
	take(p);
	return parse_domain(p, domain);
}

/* obs-route: "@a,@b:" before the addr-spec of an angle-addr; ignored. */
static int parse_route(struct parser *p)
{
	for (;;) {
		const struct tok *t = cur(p);
		char *d;
		if (is_sp(t, ',')) {
			take(p);
		} else if (is_sp(t, '@')) {
			take(p);
			if (parse_domain(p, &d))
				return p->e->ex;
			free(d);
		} else if (is_sp(t, ':')) {
			take(p);
			return 0;
		} else {
			return unexpected(p, t);
		}
	}
}

static void add_mailbox(struct parser *p, struct buf *name, struct buf *local, char *domain)
{
	addrlist_add(p->out, name->len ? name->s : NULL, local->s ? local->s : "", domain);
	free(domain);
}

/* angle-addr after its '<'. */
static int parse_angle(struct parser *p, struct buf *name)
{
	struct buf local;
	char *domain = NULL;
	const struct tok *t;
	if (is_sp(cur(p), '@') && parse_route(p))
		return p->e->ex;
	if (is_sp(cur(p), '>'))
		return list_error(p, "empty address <>");
	buf_init(&local);
	if (parse_addr_spec(p, &local, &domain))
		goto fail;
	t = cur(p);
	if (!is_sp(t, '>')) {
		if (t->type == T_END)
			list_error(p, "missing '>'");
		else
			unexpected(p, t);
		goto fail;
	}
	take(p);
	add_mailbox(p, name, &local, domain);
	buf_free(&local);
	return 0;
fail:
	free(domain);
	buf_free(&local);
	return p->e->ex;
}

/* A bare addr-spec; a comment right after it names it (obsolete style,
 * as cron writes "root (Cron Daemon)"). */
static int parse_bare(struct parser *p)
{
	struct buf local, name;
	char *domain;
	buf_init(&local);
	buf_init(&name);
	if (parse_addr_spec(p, &local, &domain)) {
		buf_free(&local);
		return p->e->ex;
	}
	for (size_t i = p->last_end; i < p->n && p->t[i].type == T_COMMENT; i++) {
		const char *c = p->t[i].text;
		size_t len = strlen(c);
		while (*c == ' ' || *c == '\t')
			c++, len--;
		while (len && (c[len - 1] == ' ' || c[len - 1] == '\t'))
			len--;
		if (len) {
			buf_add(&name, c, len);
			break;
		}
	}
	add_mailbox(p, &name, &local, domain);
	buf_free(&local);
	buf_free(&name);
	return 0;
}

static int parse_address(struct parser *p, int in_group);

/* Addresses separated by commas (empty elements allowed, RFC 5322
 * 4.4), up to the end; in a group's list after "name:", up to and
 * including its ';' (or the end). */
static int parse_items(struct parser *p, int in_group)
{
	for (;;) {
		const struct tok *t = cur(p);
		if (t->type == T_END)
			return 0;
		if (in_group && is_sp(t, ';')) {
			take(p);
			return 0;
		}
		if (is_sp(t, ',')) {
			take(p);
			continue;
		}
		if (parse_address(p, in_group))
			return p->e->ex;
		t = cur(p);
		if (!is_sp(t, ',') && !(in_group && is_sp(t, ';')) && t->type != T_END)
			return unexpected(p, t);
	}
}

/* mailbox (name-addr or addr-spec) or, outside a group, a group. */
static int parse_address(struct parser *p, int in_group)
{
	size_t start = p->pos;
	struct buf name;
	const struct tok *t;
	int rc;
	buf_init(&name);
	size_t words = parse_phrase(p, &name);
	t = cur(p);
	if (is_sp(t, '<')) {
		take(p);
		rc = parse_angle(p, &name);
	} else if (is_sp(t, ':') && words) {
		rc = in_group ? list_error(p, "nested group") : 0;
		if (!rc) {
			take(p);
			rc = parse_items(p, 1);
		}
	} else {
		p->pos = start;
		rc = parse_bare(p);
	}
	buf_free(&name);
	return rc;
}

int addr_parse_list(const char *s, struct addrlist *out, struct perr *e)
{
	struct parser p;
	size_t n0 = out->n;
	int rc;
	memset(&p, 0, sizeof p);
	p.src = s;
	p.out = out;
	p.e = e;
	rc = lex(&p);
	if (!rc)
		rc = parse_items(&p, 0);
	for (size_t i = 0; i < p.n; i++)
		free(p.t[i].text);
	free(p.t);
	if (rc)
		while (out->n > n0)
			addr_free(&out->v[--out->n]);
	return rc;
}

/* ---- envelope forms and IDN ---- */

static int is_dot_atom(const char *s)
{
	if (!*s || *s == '.')
		return 0;
	for (; *s; s++) {
		if (*s == '.') {
			if (s[1] == '.' || !s[1])
				return 0;
		} else if (!is_atext((unsigned char)*s)) {
			return 0;
		}
	}
	return 1;
}

/* RFC 5321 Quoted-string for a local part that is not a dot-atom. */
static void add_local(struct buf *b, const char *local)
{
	if (is_dot_atom(local)) {
		buf_adds(b, local);
		return;
	}
	buf_addc(b, '"');
	for (; *local; local++) {
		if (*local == '"' || *local == '\\')
			buf_addc(b, '\\');
		buf_addc(b, *local);
	}
	buf_addc(b, '"');
}

char *addr_envelope(const struct addr *a)
{
	struct buf b;
	buf_init(&b);
	add_local(&b, a->local ? a->local : "");
	if (a->domain) {
		buf_addc(&b, '@');
		buf_adds(&b, a->domain);
	}
	return buf_steal(&b);
}

int addr_is_8bit(const char *s)
{
	for (; s && *s; s++)
		if ((unsigned char)*s >= 0x80)
			return 1;
	return 0;
}

/* Lenient check of an ASCII domain: NULL if fine, else the reason. */
static const char *ascii_domain_problem(const char *d)
{
	size_t label = 0;
	for (; *d; d++) {
		unsigned char c = (unsigned char)*d;
		if (c == '.') {
			if (!label)
				return "empty label";
			label = 0;
		} else if (c <= ' ' || c == 0x7f) {
			return "invalid character";
		} else {
			label++;
		}
	}
	return label ? NULL : "empty label";
}

static int domain_error(struct perr *e, const char *domain, const char *why)
{
	char q[QUOTE_MAX + 8];
	snip(domain, QUOTE_MAX, q, sizeof q);
	return perr_fail(e, FC_MESSAGE, "invalid domain '%s': %s", q, why);
}

int addr_domain_ascii(const char *domain, char **out, struct perr *e)
{
	char *res = NULL;
	const char *why;
	int rc;
	*out = NULL;
	if (!domain || !*domain)
		return perr_fail(e, FC_MESSAGE, "invalid domain '': empty");
	if (domain[0] == '[') {
		*out = xstrdup(domain);
		return 0;
	}
	if (!addr_is_8bit(domain)) {
		why = ascii_domain_problem(domain);
		if (why)
			return domain_error(e, domain, why);
		*out = xstrdup(domain);
		return 0;
	}
	if (idnlib_load(e))
		return e->ex;
	rc = idn2_to_ascii_8z(domain, &res, IDN2_NONTRANSITIONAL | IDN2_NFC_INPUT);
	if (rc == IDN2_DISALLOWED)
		rc = idn2_to_ascii_8z(domain, &res, IDN2_TRANSITIONAL | IDN2_NFC_INPUT);
	if (rc != IDN2_OK)
		return domain_error(e, domain, idn2_strerror(rc));
	/* UTS#46 mapping can yield empty labels or a space (from U+00A0). */
	why = ascii_domain_problem(res);
	if (!why)
		*out = xstrdup(res);
	idn2_free(res);
	return why ? domain_error(e, domain, why) : 0;
}

/* The envelope form of a with its domain converted by conv. */
static int envelope_with(const struct addr *a, int (*conv)(const char *, char **, struct perr *),
                         char **out, struct perr *e)
{
	struct addr t = *a;
	char *d = NULL;
	*out = NULL;
	if (a->domain && conv(a->domain, &d, e))
		return e->ex;
	t.domain = d;
	*out = addr_envelope(&t);
	free(d);
	return 0;
}

int addr_envelope_ascii(const struct addr *a, char **out, struct perr *e)
{
	return envelope_with(a, addr_domain_ascii, out, e);
}

/* A label of d starts with "xn--" (any case): an A-label. */
static int has_alabel(const char *d)
{
	for (const char *p = d; *p; p = strchr(p, '.') ? strchr(p, '.') + 1 : p + strlen(p))
		if (ascii_ncasecmp(p, "xn--", 4) == 0)
			return 1;
	return 0;
}

/* A domain in U-labels (IDNA2008 with libidn2); an ASCII domain without
 * A-labels or a literal is copied. */
static int domain_utf8(const char *domain, char **out, struct perr *e)
{
	char *ascii = NULL, *res = NULL;
	*out = NULL;
	if (domain[0] == '[') {
		*out = xstrdup(domain);
		return 0;
	}
	if (addr_domain_ascii(domain, &ascii, e))
		return e->ex;
	if (!has_alabel(ascii)) {   /* nothing to convert: no need for libidn2 */
		*out = ascii;
		return 0;
	}
	if (idnlib_load(e)) {
		free(ascii);
		return e->ex;
	}
	int rc = idn2_to_unicode_8z8z(ascii, &res, 0);
	if (rc != IDN2_OK) {
		rc = domain_error(e, domain, idn2_strerror(rc));
		free(ascii);
		return rc;
	}
	*out = xstrdup(res);
	idn2_free(res);
	free(ascii);
	return 0;
}

int addr_envelope_utf8(const struct addr *a, char **out, struct perr *e)
{
	return envelope_with(a, domain_utf8, out, e);
}

const char *addr_domain_of(const char *addr)
{
	const char *at = strrchr(addr, '@');
	return at ? at + 1 : NULL;
}

char *addr_strip_detail(const char *addr)
{
	const char *at = strrchr(addr, '@');
	size_t local = at ? (size_t)(at - addr) : strlen(addr);
	const char *plus = memchr(addr, '+', local);
	if (!plus || plus == addr)
		return NULL;
	return xasprintf("%.*s%s", (int)(plus - addr), addr, addr + local);
}

/* ---- lists ---- */

static char *dup_or_null(const char *s)
{
	return s ? xstrdup(s) : NULL;
}

void addrlist_add(struct addrlist *l, const char *name, const char *local, const char *domain)
{
	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 8;
		l->v = xrealloc(l->v, l->cap * sizeof *l->v);
	}
	struct addr *a = &l->v[l->n++];
	a->name = dup_or_null(name);
	a->local = xstrdup(local ? local : "");
	a->domain = dup_or_null(domain);
}

static int same_addr(const struct addr *a, const struct addr *b)
{
	if (strcmp(a->local, b->local) != 0)
		return 0;
	if (!a->domain || !b->domain)
		return !a->domain && !b->domain;
	return ascii_casecmp(a->domain, b->domain) == 0;
}

/* FNV-1a over the local part as is and the domain in lower case, so that
 * addresses same_addr() calls equal hash alike. */
static size_t addr_hash(const struct addr *a)
{
	uint64_t h = 14695981039346656037u;
	for (const unsigned char *p = (const unsigned char *)a->local; *p; p++)
		h = (h ^ *p) * 1099511628211u;
	h = (h ^ (a->domain ? '@' : 0)) * 1099511628211u;
	for (const char *p = a->domain; p && *p; p++) {
		unsigned char c = (unsigned char)*p;
		h = (h ^ (c >= 'A' && c <= 'Z' ? c + 32 : c)) * 1099511628211u;
	}
	return (size_t)(h ^ (h >> 32));
}

void addrset_init(struct addrset *s)
{
	s->slot = NULL;
	s->cap = s->n = 0;
}

void addrset_free(struct addrset *s)
{
	free(s->slot);
	addrset_init(s);
}

/* The slot that holds an address equal to a, or the empty slot where it
 * would go. cap is a power of two and the table is never full. */
static size_t *set_slot(const struct addrset *s, const struct addrlist *l, const struct addr *a)
{
	size_t mask = s->cap - 1, i = addr_hash(a) & mask;
	while (s->slot[i] && !same_addr(&l->v[s->slot[i] - 1], a))
		i = (i + 1) & mask;
	return &s->slot[i];
}

/* Double the table (at least 16 slots) and put the entries back. */
static void set_grow(struct addrset *s, const struct addrlist *l)
{
	size_t *old = s->slot, oldcap = s->cap;
	s->cap = oldcap ? oldcap * 2 : 16;
	s->slot = xcalloc(s->cap, sizeof *s->slot);
	for (size_t i = 0; i < oldcap; i++)
		if (old[i])
			*set_slot(s, l, &l->v[old[i] - 1]) = old[i];
	free(old);
}

int addrset_add(struct addrset *s, const struct addrlist *l, size_t i)
{
	size_t *slot;
	if (2 * (s->n + 1) > s->cap)
		set_grow(s, l);
	slot = set_slot(s, l, &l->v[i]);
	if (*slot)
		return 0;
	*slot = i + 1;
	s->n++;
	return 1;
}

int addrlist_add_unique(struct addrlist *l, struct addrset *s, const char *name, const char *local,
                        const char *domain)
{
	addrlist_add(l, name, local, domain);
	if (addrset_add(s, l, l->n - 1))
		return 1;
	addr_free(&l->v[--l->n]);
	return 0;
}

/* A hash set of the entries kept so far: O(n) expected instead of the
 * pairwise O(n^2) (65,000 recipients from -t took 9 s). */
void addrlist_dedup(struct addrlist *l)
{
	struct addrset s;
	size_t k = 0;
	addrset_init(&s);
	for (size_t i = 0; i < l->n; i++) {
		struct addr a = l->v[i];
		l->v[i] = l->v[k];
		l->v[k] = a;
		if (addrset_add(&s, l, k))
			k++;
		else
			addr_free(&l->v[k]);
	}
	l->n = k;
	addrset_free(&s);
}

void addr_free(struct addr *a)
{
	free(a->name);
	free(a->local);
	free(a->domain);
	a->name = a->local = a->domain = NULL;
}

void addrlist_free(struct addrlist *l)
{
	for (size_t i = 0; i < l->n; i++)
		addr_free(&l->v[i]);
	free(l->v);
	l->v = NULL;
	l->n = l->cap = 0;
}

/* ---- display-name phrases ---- */

/* Atoms separated by single spaces: usable as a phrase unchanged. */
static int is_atom_phrase(const char *s)
{
	int prev_space = 1;
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == ' ') {
			if (prev_space)
				return 0;
			prev_space = 1;
		} else if (c >= 0x80 || !is_atext(c)) {
			return 0;
		} else {
			prev_space = 0;
		}
	}
	return !prev_space;
}

/* Octets in the UTF-8 sequence at s (1 for anything malformed). */
static size_t utf8_len(const unsigned char *s, size_t rem)
{
	size_t n = s[0] < 0x80 ? 1 : s[0] >= 0xc2 && s[0] <= 0xdf ? 2
	         : s[0] >= 0xe0 && s[0] <= 0xef ? 3 : s[0] >= 0xf0 && s[0] <= 0xf4 ? 4 : 1;
	if (n > rem)
		return 1;
	for (size_t i = 1; i < n; i++)
		if ((s[i] & 0xc0) != 0x80)
			return 1;
	return n;
}

/* RFC 2047 5(3): characters allowed unencoded in a phrase's Q text. */
static int q_plain(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       (c && strchr("!*+-/", c));
}

static size_t q_cost(const unsigned char *s, size_t n)
{
	size_t k = 0;
	for (size_t i = 0; i < n; i++)
		k += (q_plain(s[i]) || s[i] == ' ') ? 1 : 3;
	return k;
}

static void q_encode(struct buf *b, const unsigned char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (q_plain(s[i]))
			buf_addc(b, (char)s[i]);
		else if (s[i] == ' ')
			buf_addc(b, '_');
		else
			buf_printf(b, "=%02X", s[i]);
	}
}

static void b_encode(struct buf *b, const unsigned char *s, size_t n)
{
	static const char tab[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	for (size_t i = 0; i < n; i += 3) {
		unsigned long v = (unsigned long)s[i] << 16;
		if (i + 1 < n)
			v |= (unsigned long)s[i + 1] << 8;
		if (i + 2 < n)
			v |= s[i + 2];
		buf_addc(b, tab[(v >> 18) & 63]);
		buf_addc(b, tab[(v >> 12) & 63]);
		buf_addc(b, i + 1 < n ? tab[(v >> 6) & 63] : '=');
		buf_addc(b, i + 2 < n ? tab[v & 63] : '=');
	}
}

/* Encoded-words of at most 75 octets, split between UTF-8 characters. */
static char *encode_words(const unsigned char *s, size_t n, int q)
{
	struct buf b;
	size_t i = 0;
	buf_init(&b);
	while (i < n) {
		size_t j = i, cost = 0;
		while (j < n) {
			size_t cl = utf8_len(s + j, n - j);
			size_t c = cost + (q ? q_cost(s + j, cl) : cl);
			if (c > (q ? EW_Q_MAX : EW_B_MAX))
				break;
			cost = c;
			j += cl;
		}
		if (b.len)
			buf_addc(&b, ' ');
		buf_adds(&b, q ? "=?UTF-8?Q?" : "=?UTF-8?B?");
		if (q)
			q_encode(&b, s + i, j - i);
		else
			b_encode(&b, s + i, j - i);
		buf_adds(&b, "?=");
		i = j;
	}
	return buf_steal(&b);
}

static char *quote_phrase(const char *s)
{
	struct buf b;
	buf_init(&b);
	buf_addc(&b, '"');
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			buf_addc(&b, '\\');
		buf_addc(&b, *s);
	}
	buf_addc(&b, '"');
	return buf_steal(&b);
}

char *addr_phrase(const char *name)
{
	char *s = xstrdup(name ? name : ""), *r;
	size_t n = strlen(s);
	/* Control characters (a line break would end the header) become spaces. */
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			s[i] = ' ';
	/* "=?" in a phrase would read as an encoded-word; in a quoted-string
	 * it cannot (RFC 2047 5). */
	if (is_atom_phrase(s) && !strstr(s, "=?")) {
		r = s;
	} else if (!addr_is_8bit(s)) {
		r = quote_phrase(s);
		free(s);
	} else {
		const unsigned char *u = (const unsigned char *)s;
		size_t blen = (n + 2) / 3 * 4;
		r = encode_words(u, n, q_cost(u, n) <= blen);
		free(s);
	}
	return r;
}

/* ---- RFC 5321 size limits ---- */

#define LOCAL_MAX 64       /* RFC 5321 4.5.3.1.1 */
#define DOMAIN_MAX 255     /* RFC 5321 4.5.3.1.2 */
#define PATH_OCTETS_MAX 256 /* RFC 5321 4.5.3.1.3, "<" and ">" included */
#define LABEL_MAX 63       /* RFC 1035 2.3.4 */
#define SHOW_MAX 40        /* octets of one part quoted in a message */

/* s[0..n) for a message: as is, or its first SHOW_MAX octets and "...". */
static void add_short(struct buf *b, const char *s, size_t n)
{
	buf_add(b, s, n > SHOW_MAX ? SHOW_MAX : n);
	if (n > SHOW_MAX)
		buf_adds(b, "...");
}

static int limit_error(struct perr *e, const char *who, const char *part, size_t n, int max,
                       const char *rfc)
{
	return perr_fail(e, FC_USAGE, "%s: %s is %zu octets, over the limit of %d (%s)", who, part, n, max, rfc);
}

/* Total length and labels of the ASCII domain d[0..n); who names it in
 * the message. */
static int domain_limits(const char *d, size_t n, const char *who, struct perr *e)
{
	if (n > DOMAIN_MAX)
		return limit_error(e, who, "domain", n, DOMAIN_MAX, "RFC 5321 4.5.3.1.2");
	if (n && d[0] == '[') /* an address literal has no labels */
		return 0;
	for (size_t i = 0; i <= n;) {
		size_t k = i;
		while (k < n && d[k] != '.')
			k++;
		if (k == i)
			return perr_fail(e, FC_USAGE, "%s: domain has an empty label (RFC 1035 2.3.4)", who);
		if (k - i > LABEL_MAX) {
			struct buf part;
			buf_init(&part);
			buf_adds(&part, "domain label ");
			add_short(&part, d + i, k - i);
			limit_error(e, who, part.s, k - i, LABEL_MAX, "RFC 1035 2.3.4");
			buf_free(&part);
			return EX_USAGE;
		}
		i = k + 1;
	}
	return 0;
}

/* Where the local part of an ASCII envelope address ends: at its '@', or
 * at the end when it has no domain. A quoted local part may hold '@'. */
static size_t local_end(const char *a)
{
	size_t i = 0;
	if (a[0] == '"') {
		for (i = 1; a[i] && a[i] != '"'; i++)
			if (a[i] == '\\' && a[i + 1])
				i++;
		if (a[i])
			i++;
	}
	while (a[i] && a[i] != '@')
		i++;
	return i;
}

/* The address's three limits, in the order local part, domain, path. */
static int address_limits(const char *a, size_t len, size_t nl, const char *who, struct perr *e)
{
	if (nl > LOCAL_MAX)
		return limit_error(e, who, "local part", nl, LOCAL_MAX, "RFC 5321 4.5.3.1.1");
	if (a[nl] && domain_limits(a + nl + 1, len - nl - 1, who, e))
		return e->ex;
	if (len + 2 > PATH_OCTETS_MAX)
		return limit_error(e, who, "path", len + 2, PATH_OCTETS_MAX, "RFC 5321 4.5.3.1.3");
	return 0;
}

int addr_check_limits(const char *addr_ascii, const char *what, struct perr *e)
{
	size_t len = strlen(addr_ascii), nl = local_end(addr_ascii);
	struct buf who;
	int rc;
	buf_init(&who);
	buf_printf(&who, "%s <", what);
	add_short(&who, addr_ascii, nl);
	if (addr_ascii[nl]) {
		buf_addc(&who, '@');
		add_short(&who, addr_ascii + nl + 1, len - nl - 1);
	}
	buf_addc(&who, '>');
	rc = address_limits(addr_ascii, len, nl, who.s, e);
	buf_free(&who);
	return rc;
}

int addr_check_domain(const char *domain, const char *what, struct perr *e)
{
	size_t n = strlen(domain);
	struct buf who;
	int rc;
	buf_init(&who);
	buf_printf(&who, "%s domain ", what);
	add_short(&who, domain, n);
	rc = domain_limits(domain, n, who.s, e);
	buf_free(&who);
	return rc;
}
