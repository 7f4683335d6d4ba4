/* aliases.c - msmtp-format aliases file: "local: addr, addr" lines, '#'
 * comments, a "default" catch-all; recursive expansion, each alias once,
 * bounded in depth and in the number of recipients it gives. */
#include "aliases.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Deepest nesting of aliases within one another (a chain a: b, b: c, ...
 * of this many aliases still expands). Generous, as Postfix's
 * virtual_alias_recursion_limit of 1000; it bounds the C stack. */
#define MAX_DEPTH 1000
/* Most distinct recipients that alias expansion may produce for one
 * message: a small file can describe millions (10 levels of 10 names
 * that each list the next 10), and no real list needs more. */
#define MAX_EXPANDED 10000

#define NONE ((size_t)-1)

struct alias {
	char *name;
	struct addrlist to;
};

/* The aliases in file order; index is a hash table over v (open
 * addressing, slot = position in v + 1, 0 = empty; icap a power of two). */
struct aliases {
	char *fname;
	struct alias *v;
	size_t n, cap;
	size_t *index, icap;
};

/* Expansion states of an alias: one per alias and per "default already
 * used on this chain" (the default alias applies at most once along a
 * chain, so the two expand differently). */
enum { UNSEEN, ACTIVE, DONE };

/* State of one aliases_expand call. Each (alias, default used) state is
 * expanded once: when it is met again after it is DONE, every address it
 * gives is already in out, so it adds nothing; met while ACTIVE, it is a
 * loop. The output is that of the naive expansion with duplicates
 * removed, in time linear in the size of the file. */
struct expansion {
	const struct aliases *al;
	struct addrlist *out;
	struct addrset seen;   /* over out */
	unsigned char *state;  /* 2 per alias: [2 * i + default used] */
	size_t chain[MAX_DEPTH]; /* states being expanded, outermost first */
	size_t depth, added;
	struct perr *e;
};

/* FNV-1a over the name in lower case: names compare ignoring ASCII case. */
static size_t name_hash(const char *s)
{
	uint64_t h = 14695981039346656037u;
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		h = (h ^ (c >= 'A' && c <= 'Z' ? c + 32 : c)) * 1099511628211u;
	}
	return (size_t)(h ^ (h >> 32));
}

/* The index slot holding name, or the empty slot where it would go. */
static size_t *index_slot(const struct aliases *al, const char *name)
{
	size_t mask = al->icap - 1, i = name_hash(name) & mask;
	while (al->index[i] && ascii_casecmp(al->v[al->index[i] - 1].name, name) != 0)
		i = (i + 1) & mask;
	return &al->index[i];
}

/* Position of the alias called name in al->v, or NONE. */
static size_t find(const struct aliases *al, const char *name)
{
	if (!al->icap)
		return NONE;
	size_t slot = *index_slot(al, name);
	return slot ? slot - 1 : NONE;
}

/* Keep the index at most half full. */
static void index_grow(struct aliases *al)
{
	if (2 * (al->n + 1) <= al->icap)
		return;
	free(al->index);
	al->icap = al->icap ? al->icap * 2 : 64;
	al->index = xcalloc(al->icap, sizeof *al->index);
	for (size_t i = 0; i < al->n; i++)
		*index_slot(al, al->v[i].name) = i + 1;
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
	size_t *slot;
	index_grow(al);
	slot = index_slot(al, name);
	if (*slot) {
		/* As msmtp does, the first definition of a name is the one used. */
		addrlist_free(to);
		return;
	}
	*slot = al->n + 1;
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
		return perr_fail(e, FC_CONFIG, "%s:%zu: missing ':' after the alias name", f, lineno);
	*colon = '\0';
	len = (size_t)(colon - text);
	name = trim(text, &len);
	if (!len)
		return perr_fail(e, FC_CONFIG, "%s:%zu: empty alias name", f, lineno);
	if (!valid_name(name))
		return perr_fail(e, FC_CONFIG, "%s:%zu: invalid alias name '%s'", f, lineno, name);
	value = colon + 1;
	while (is_blank(*value))
		value++;
	if (addr_parse_list(value, &to, &ae)) {
		addrlist_free(&to);
		return perr_fail(e, FC_CONFIG, "%s:%zu: %s", f, lineno, ae.msg);
	}
	if (!to.n) {
		addrlist_free(&to);
		return perr_fail(e, FC_CONFIG, "%s:%zu: no address for alias '%s'", f, lineno, name);
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
			perr_fail(e, FC_CONFIG, "%s:%zu: NUL byte in line", fname, lineno);
			aliases_free(al);
			return e->ex;
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
		return perr_fail(e, FC_NOINPUT, "cannot open aliases file %s: %s", path, strerror(errno));
	buf_init(&b);
	for (;;) {
		ssize_t n = read(fd, tmp, sizeof tmp);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = perr_fail(e, FC_NOINPUT, "cannot read aliases file %s: %s", path, strerror(errno));
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

/* "alias loop: a -> b -> a", from the first expansion of the alias met
 * again (state st) to the end of the chain. */
static int loop_error(struct expansion *x, size_t st)
{
	struct buf b;
	size_t i = 0;
	while (x->chain[i] != st)
		i++;
	buf_init(&b);
	for (; i < x->depth; i++)
		buf_printf(&b, "%s -> ", x->al->v[x->chain[i] / 2].name);
	buf_adds(&b, x->al->v[st / 2].name);
	perr_fail(x->e, FC_CONFIG, "aliases %s: alias loop: %s", x->al->fname, b.s);
	buf_free(&b);
	return x->e->ex;
}

/* Add one address that the expansion gives, once, within MAX_EXPANDED. */
static int add_result(struct expansion *x, const struct addr *a)
{
	if (!addrlist_add_unique(x->out, &x->seen, a->name, a->local, a->domain))
		return 0;
	if (++x->added <= MAX_EXPANDED)
		return 0;
	return perr_fail(x->e, FC_CONFIG, "aliases %s: the aliases of '%s' expand to more than %d recipients",
	                 x->al->fname, x->al->v[x->chain[0] / 2].name, MAX_EXPANDED);
}

static int expand_one(struct expansion *x, const struct addr *a, int used_default);

/* Expand alias m (state st = 2 * m + default used) into x->out. */
static int expand_alias(struct expansion *x, size_t st)
{
	const struct addrlist *to = &x->al->v[st / 2].to;
	if (x->state[st] == DONE)
		return 0;
	if (x->state[st] == ACTIVE)
		return loop_error(x, st);
	if (x->depth == MAX_DEPTH)
		return perr_fail(x->e, FC_CONFIG, "aliases %s: aliases nested deeper than %d, from '%s'",
		                 x->al->fname, MAX_DEPTH, x->al->v[x->chain[0] / 2].name);
	x->state[st] = ACTIVE;
	x->chain[x->depth++] = st;
	for (size_t i = 0; i < to->n; i++) {
		const struct addr *t = &to->v[i];
		if (t->domain ? add_result(x, t) : expand_one(x, t, st % 2))
			return x->e->ex;
	}
	x->depth--;
	x->state[st] = DONE;
	return 0;
}

/* Expand the domainless address a into x->out. The default alias is used
 * at most once along a chain, so "default: admin" cannot loop on admin. */
static int expand_one(struct expansion *x, const struct addr *a, int used_default)
{
	size_t m = find(x->al, a->local);
	if (m == NONE) {
		if (used_default || (m = find(x->al, "default")) == NONE) {
			if (x->depth)
				return add_result(x, a);
			/* a recipient as given: kept, not counted as expanded */
			addrlist_add_unique(x->out, &x->seen, a->name, a->local, NULL);
			return 0;
		}
		used_default = 1;
	}
	return expand_alias(x, 2 * m + (size_t)used_default);
}

int aliases_expand(const struct aliases *al, struct addrlist *l, struct perr *e)
{
	struct addrlist res = { NULL, 0, 0 };
	struct expansion *x = xcalloc(1, sizeof *x);
	int rc = 0;
	x->al = al;
	x->out = &res;
	x->e = e;
	x->state = xcalloc(2 * al->n + 1, 1);
	addrset_init(&x->seen);
	for (size_t i = 0; i < l->n && !rc; i++) {
		const struct addr *a = &l->v[i];
		if (a->domain)
			addrlist_add_unique(&res, &x->seen, a->name, a->local, a->domain);
		else
			rc = expand_one(x, a, 0);
	}
	addrset_free(&x->seen);
	free(x->state);
	free(x);
	if (rc) {
		addrlist_free(&res);
		return rc;
	}
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
	free(al->index);
	free(al->fname);
	free(al);
}
