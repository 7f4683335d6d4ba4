/* t-golden.c - the golden-file test of msg.c: every NAME.in in the golden
 * directory (the argument, else $GOLDEN_DIR) is read from memory through
 * the push parser, prepared with the edits of tests/golden/README (a
 * fixed default set, changed by NAME.opt), written, and compared byte for
 * byte with NAME.ref; then the prepared message is saved to a memory
 * store, loaded back and written again, which must give NAME.ref too.
 * Date is in UTC (TZ=UTC0). The first difference is printed. */
#include "msg.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util.h"

#include "tap.h"

struct golden_opts {
	struct msg_edits ed;
	int dotstuff;
	char *from_name, *from_addr, *msgid, *msgid_domain;  /* set by NAME.opt */
};

static void default_opts(struct golden_opts *o)
{
	memset(o, 0, sizeof *o);
	o->ed.set_from = HDR_AUTO;
	o->ed.from_addr = "sender@example.org";
	o->ed.set_date = HDR_AUTO;
	o->ed.set_msgid = HDR_AUTO;
	o->ed.msgid_domain = "example.org";
	o->ed.msgid = "<20231114221320.golden@example.org>";
	o->ed.set_to = HDR_OFF;
	o->ed.remove_bcc = 1;
	o->ed.now = 1700000000;  /* Tue, 14 Nov 2023 22:13:20 +0000 */
	o->dotstuff = 1;
}

static void free_opts(struct golden_opts *o)
{
	free(o->from_name);
	free(o->from_addr);
	free(o->msgid);
	free(o->msgid_domain);
}

static char *read_file(const char *path, size_t *n)
{
	FILE *f = fopen(path, "rb");
	struct buf b;
	char chunk[4096];
	size_t got;
	if (!f)
		return NULL;
	buf_init(&b);
	buf_add(&b, "", 0);
	while ((got = fread(chunk, 1, sizeof chunk, f)) > 0)
		buf_add(&b, chunk, got);
	fclose(f);
	*n = b.len;
	return buf_steal(&b);
}

/* off / auto / on as HDR_*; yes / no as 1 / 0; -1 if neither. */
static int word_value(const char *v)
{
	static const struct { const char *w; int v; } words[] = {
		{ "off", HDR_OFF }, { "auto", HDR_AUTO }, { "on", HDR_ON },
		{ "no", 0 }, { "yes", 1 },
	};
	for (size_t i = 0; i < NELEM(words); i++)
		if (!strcmp(v, words[i].w))
			return words[i].v;
	return -1;
}

/* A string option: "none" is NULL. */
static const char *keep(char **slot, const char *v)
{
	free(*slot);
	*slot = strcmp(v, "none") ? xstrdup(v) : NULL;
	return *slot;
}

/* One "key value" line of NAME.opt; -1 for an unknown key or value. */
static int set_opt(struct golden_opts *o, const char *k, const char *v)
{
	struct msg_edits *ed = &o->ed;
	int *flags[] = { &ed->set_from, &ed->set_date, &ed->set_msgid, &ed->set_to,
	                 &ed->remove_bcc, &o->dotstuff };
	static const char *const flag_keys[] = { "from", "date", "msgid", "to", "remove-bcc",
	                                         "dotstuff" };
	for (size_t i = 0; i < NELEM(flag_keys); i++) {
		if (strcmp(k, flag_keys[i]))
			continue;
		*flags[i] = word_value(v);
		return *flags[i] < 0 ? -1 : 0;
	}
	if (!strcmp(k, "from-name"))
		ed->from_name = keep(&o->from_name, v);
	else if (!strcmp(k, "from-addr"))
		ed->from_addr = keep(&o->from_addr, v);
	else if (!strcmp(k, "msgid-value"))
		ed->msgid = keep(&o->msgid, v);
	else if (!strcmp(k, "msgid-domain"))
		ed->msgid_domain = keep(&o->msgid_domain, v);
	else if (!strcmp(k, "time"))
		ed->now = (time_t)strtoll(v, NULL, 10);
	else
		return -1;
	return 0;
}

/* NAME.opt, if there is one: "key value" lines, "#" comments. */
static int load_opts(const char *base, struct golden_opts *o)
{
	char *path = xasprintf("%s.opt", base);
	size_t n;
	char *text = read_file(path, &n);
	int rc = 0;
	free(path);
	for (char *line = text, *next; line && *line && !rc; line = next) {
		next = line + strcspn(line, "\n");
		if (*next)
			*next++ = '\0';
		if (*line == '#' || *line == '\0')
			continue;
		char *sp = strchr(line, ' ');
		if (!sp)
			rc = fail("%s.opt: no value in \"%s\"", base, line);
		else if ((*sp = '\0', set_opt(o, line, sp + 1)))
			rc = fail("%s.opt: bad line \"%s %s\"", base, line, sp + 1);
	}
	free(text);
	return rc;
}

static void show_bytes(struct buf *b, const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)p[i];
		if (c == '\r')
			buf_adds(b, "\\r");
		else if (c == '\n')
			buf_adds(b, "\\n");
		else if (c < 32 || c > 126 || c == '\\')
			buf_printf(b, "\\x%02x", c);
		else
			buf_addc(b, (char)c);
	}
}

/* The first difference: offset, line, and up to 40 octets of each. */
static int compare(const char *what, const char *got, size_t gn, const char *want, size_t wn)
{
	size_t d = 0, line = 1;
	if (gn == wn && memcmp(got, want, gn) == 0)
		return 0;
	for (; d < gn && d < wn && got[d] == want[d]; d++)
		line += got[d] == '\n';
	struct buf b;
	buf_init(&b);
	buf_printf(&b, "%s: first difference at octet %zu (line %zu): got \"", what, d, line);
	show_bytes(&b, got + d, gn - d < 40 ? gn - d : 40);
	buf_adds(&b, "\", want \"");
	show_bytes(&b, want + d, wn - d < 40 ? wn - d : 40);
	buf_adds(&b, "\"");
	fail("%s", b.s);
	buf_free(&b);
	return 1;
}

static int buf_sink(void *ctx, const char *p, size_t n)
{
	buf_add(ctx, p, n);
	return 0;
}

/* Saved to memory, loaded, written: the same bytes again. */
static int reload(struct msg *m, const struct golden_opts *o, const char *ref, size_t rn)
{
	struct msg_store s;
	struct msg l;
	struct perr e;
	struct buf out;
	msg_store_mem(&s);
	if (msg_save(m, &s, &e) || msg_load(&s, &l, &e))
		return fail("save/load: %s", e.msg);
	buf_init(&out);
	int rc = msg_write(&l, o->dotstuff, buf_sink, &out, &e);
	if (rc)
		rc = fail("write after load: %s", e.msg);
	else
		rc = compare("after save and load", out.s, out.len, ref, rn);
	buf_free(&out);
	msg_free(&l);
	return rc;
}

static int run_one(const char *base, const struct golden_opts *o)
{
	size_t in_n, rn;
	char *in_path = xasprintf("%s.in", base), *ref_path = xasprintf("%s.ref", base);
	char *in = read_file(in_path, &in_n), *ref = read_file(ref_path, &rn);
	struct msg m;
	struct perr e;
	struct buf out;
	int rc = 0;
	buf_init(&out);
	if (!in || !ref)
		rc = fail("cannot read %s: %s", in ? ref_path : in_path, strerror(errno));
	else if (msg_read_mem(in, in_n, &m, &e))
		rc = fail("msg_read_mem: %s", e.msg);
	else {
		if (msg_prepare(&m, &o->ed, &e) || msg_write(&m, o->dotstuff, buf_sink, &out, &e))
			rc = fail("prepare/write: %s", e.msg);
		else
			rc = compare("output", out.s, out.len, ref, rn) || reload(&m, o, ref, rn);
		msg_free(&m);
	}
	buf_free(&out);
	free(in);
	free(ref);
	free(in_path);
	free(ref_path);
	return rc;
}

static int by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The NAMEs of the *.in files in dir, sorted; NULL if dir cannot be read. */
static char **list_inputs(const char *dir, size_t *n)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char **v = NULL;
	size_t cap = 0;
	*n = 0;
	if (!d)
		return NULL;
	while ((de = readdir(d))) {
		size_t len = strlen(de->d_name);
		if (len < 4 || strcmp(de->d_name + len - 3, ".in"))
			continue;
		if (*n == cap)
			v = xrealloc(v, (cap = cap ? cap * 2 : 32) * sizeof *v);
		v[(*n)++] = xstrndup(de->d_name, len - 3);
	}
	closedir(d);
	qsort(v, *n, sizeof *v, by_name);
	return v;
}

int main(int argc, char **argv)
{
	const char *dir = argc > 1 ? argv[1] : getenv("GOLDEN_DIR");
	size_t n = 0;
	char **names = dir ? list_inputs(dir, &n) : NULL;
	setenv("TZ", "UTC0", 1);
	tzset();
	if (!names || n == 0) {
		printf("Bail out! no golden files in %s (give the directory as the argument "
		       "or in GOLDEN_DIR)\n", dir ? dir : "(none given)");
		return 2;
	}
	for (size_t i = 0; i < n; i++) {
		struct golden_opts o;
		char *base = xasprintf("%s/%s", dir, names[i]);
		default_opts(&o);
		int bad = load_opts(base, &o) || run_one(base, &o);
		report(names[i], bad);
		free_opts(&o);
		free(base);
		free(names[i]);
	}
	free(names);
	return tap_done();
}
