/* aliases.c - msmtp-format aliases file: "local: addr, addr" lines, '#'
 * comments, a "default" catch-all; recursive, loop-safe expansion. */
#include "aliases.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Deepest chain of aliases expanded within one another. */
#define MAX_DEPTH 20

struct alias {
	char *name;
	struct addrlist to;
};

struct aliases {
	char *fname;
	struct alias *v;
	size_t n, cap;
};

/* State of one expansion: the chain of names being expanded. */
struct expansion {
	const struct aliases *al;
	struct addrlist *out;
	const char *chain[MAX_DEPTH];
	size_t depth;
	struct perr *e;
};

static const struct alias *find(const struct aliases *al, const char *name)
{
	for (size_t i = 0; i < al->n; i++)
		if (ascii_casecmp(al->v[i].name, name) == 0)
			return &al->v[i];
	return NULL;
}

static int is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r';
}

/* Trim blanks from both ends of s[0..*len) in place; returns the start. */
static char *trim(char *s, size_t *len)
{
	while (*len && is_blank(*s))
		s++, (*len)--;
	while (*len && is_blank(s[*len - 1]))
		(*len)--;
	s[*len] = '\0';
	return s;
}

static int valid_name(const char *s)
{
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c <= ' ' || c == 0x7f || c == '@')
			return 0;
	}
	return 1;
}

static void add_alias(struct aliases *al, const char *name, struct addrlist *to)
{
	if (find(al, name)) {
		/* As msmtp does, the first definition of a name is the one used. */
		addrlist_free(to);
		return;
	}
	if (al->n == al->cap) {
		al->cap = al->cap ? al->cap * 2 : 16;
		al->v = xrealloc(al->v, al->cap * sizeof *al->v);
	}
	al->v[al->n].name = xstrdup(name);
	al->v[al->n].to = *to;
	al->n++;
}

/* One line (without its '\n'), already free of NUL bytes; text is a
 * modifiable copy. */
static int parse_entry(struct aliases *al, char *text, size_t lineno, struct perr *e)
{
	const char *f = al->fname;
	char *hash = strchr(text, '#'), *colon, *name, *value;
	size_t len;
	struct addrlist to = { NULL, 0, 0 };
	struct perr ae;
	if (hash)
		*hash = '\0';
	len = strlen(text);
	text = trim(text, &len);
	if (!len)
		return 0;
	colon = strchr(text, ':');
	if (!colon)
		return perr_set(e, EX_CONFIG, "%s:%zu: missing ':' after the alias name", f, lineno);
	*colon = '\0';
	len = (size_t)(colon - text);
	name = trim(text, &len);
	if (!len)
		return perr_set(e, EX_CONFIG, "%s:%zu: empty alias name", f, lineno);
	if (!valid_name(name))
		return perr_set(e, EX_CONFIG, "%s:%zu: invalid alias name '%s'", f, lineno, name);
	value = colon + 1;
	while (is_blank(*value))
		value++;
	if (addr_parse_list(value, &to, &ae)) {
		addrlist_free(&to);
		return perr_set(e, EX_CONFIG, "%s:%zu: %s", f, lineno, ae.msg);
	}
	if (!to.n) {
		addrlist_free(&to);
		return perr_set(e, EX_CONFIG, "%s:%zu: no address for alias '%s'", f, lineno, name);
	}
	add_alias(al, name, &to);
	return 0;
}

int aliases_parse(const char *fname, const char *buf, size_t len, struct aliases **out, struct perr *e)
{
	struct aliases *al = xcalloc(1, sizeof *al);
	size_t pos = 0, lineno = 0;
	al->fname = xstrdup(fname);
	*out = NULL;
	while (pos < len) {
		const char *nl = memchr(buf + pos, '\n', len - pos);
		size_t n = nl ? (size_t)(nl - (buf + pos)) : len - pos;
		char *text;
		int rc;
		lineno++;
		if (memchr(buf + pos, '\0', n)) {
			perr_set(e, EX_CONFIG, "%s:%zu: NUL byte in line", fname, lineno);
			aliases_free(al);
			return EX_CONFIG;
		}
		text = xstrndup(buf + pos, n);
		rc = parse_entry(al, text, lineno, e);
		free(text);
		if (rc) {
			aliases_free(al);
			return rc;
		}
		pos += n + (nl != NULL);
	}
	*out = al;
	return 0;
}

int aliases_load(const char *path, struct aliases **out, struct perr *e)
{
	struct buf b;
	char tmp[4096];
	int fd = open(path, O_RDONLY | O_CLOEXEC), rc;
	*out = NULL;
	if (fd < 0)
		return perr_set(e, EX_NOINPUT, "cannot open aliases file %s: %s", path, strerror(errno));
	buf_init(&b);
	for (;;) {
		ssize_t n = read(fd, tmp, sizeof tmp);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = perr_set(e, EX_NOINPUT, "cannot read aliases file %s: %s", path, strerror(errno));
			close(fd);
			buf_free(&b);
			return rc;
		}
		if (n == 0)
			break;
		buf_add(&b, tmp, (size_t)n);
	}
	close(fd);
	rc = aliases_parse(path, b.s ? b.s : "", b.len, out, e);
	buf_free(&b);
	return rc;
}

static int loop_error(struct expansion *x, const char *name)
{
	return perr_set(x->e, EX_CONFIG, "aliases %s: alias loop involving '%s'", x->al->fname, name);
}

/* Expand the domainless address a into x->out. The default alias is used
 * at most once along a chain, so "default: admin" cannot loop on admin. */
static int expand_one(struct expansion *x, const struct addr *a, int used_default)
{
	const struct alias *m = find(x->al, a->local);
	if (!m) {
		if (used_default || !(m = find(x->al, "default"))) {
			addrlist_add(x->out, a->name, a->local, NULL);
			return 0;
		}
		used_default = 1;
	}
	for (size_t i = 0; i < x->depth; i++)
		if (ascii_casecmp(x->chain[i], a->local) == 0)
			return loop_error(x, a->local);
	if (x->depth == MAX_DEPTH)
		return loop_error(x, a->local);
	x->chain[x->depth++] = a->local;
	for (size_t i = 0; i < m->to.n; i++) {
		const struct addr *t = &m->to.v[i];
		if (t->domain)
			addrlist_add(x->out, t->name, t->local, t->domain);
		else if (expand_one(x, t, used_default))
			return x->e->ex;
	}
	x->depth--;
	return 0;
}

int aliases_expand(const struct aliases *al, struct addrlist *l, struct perr *e)
{
	struct addrlist res = { NULL, 0, 0 };
	struct expansion x;
	memset(&x, 0, sizeof x);
	x.al = al;
	x.out = &res;
	x.e = e;
	for (size_t i = 0; i < l->n; i++) {
		const struct addr *a = &l->v[i];
		if (a->domain) {
			addrlist_add(&res, a->name, a->local, a->domain);
		} else if (expand_one(&x, a, 0)) {
			addrlist_free(&res);
			return e->ex;
		}
	}
	addrlist_dedup(&res);
	addrlist_free(l);
	*l = res;
	return 0;
}

void aliases_free(struct aliases *al)
{
	if (!al)
		return;
	for (size_t i = 0; i < al->n; i++) {
		free(al->v[i].name);
		addrlist_free(&al->v[i].to);
	}
	free(al->v);
	free(al->fname);
	free(al);
}
