/* t-aliases.c - table-driven tests for aliases.c: parsing, default,
 * recursion, loops, depth and size limits, comments, case, errors with
 * file:line, dedup. */
#include "aliases.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>

#include "tap.h"

/* Envelope forms joined by ", ", or "ERR <status>: <message>". */
static char *render(const struct addrlist *l)
{
	struct buf b;
	buf_init(&b);
	for (size_t i = 0; i < l->n; i++) {
		char *env = addr_envelope(&l->v[i]);
		buf_printf(&b, "%s%s", i ? ", " : "", env);
		free(env);
	}
	return buf_steal(&b);
}

static const char base[] =
	"# Example aliases file\n"
	"\n"
	"root: joe@example.com, jane@example.com   # the admins\n"
	"cron: mark@example.com\n"
	"   Postmaster :  root  \n"
	"team: cron, ops, Ops Desk <desk@example.com>\n"
	"ops: root, joe@EXAMPLE.com, ann@example.com\n"
	"chain1: chain2\n"
	"chain2: chain3\n"
	"chain3: end@example.com\n"
	"named: \"Doe, John\" <jd@example.com>\n"
	"crlf: crlf@example.com\r\n"
	"hash: h@example.com#no space before the comment\n"
	"root: ignored@example.com\n"
	"list: a@example.com,b@example.com , ,c@example.com";

static const struct {
	const char *desc, *file, *rcpts, *want;
} cases[] = {
	{ "basic", base, "root", "joe@example.com, jane@example.com" },
	{ "single", base, "cron", "mark@example.com" },
	{ "domain addresses are left alone", base, "root@example.org, x@y", "root@example.org, x@y" },
	{ "unknown name without default stays", base, "nobody", "nobody" },
	{ "case-insensitive name", base, "ROOT", "joe@example.com, jane@example.com" },
	{ "indented name, spaces around ':'", base, "postmaster", "joe@example.com, jane@example.com" },
	{ "recursion through several aliases", base, "team",
	  "mark@example.com, joe@example.com, jane@example.com, ann@example.com, desk@example.com" },
	{ "chain of three", base, "chain1", "end@example.com" },
	{ "display name in value", base, "named", "jd@example.com" },
	{ "CRLF line ending", base, "crlf", "crlf@example.com" },
	{ "comment without space", base, "hash", "h@example.com" },
	{ "first definition wins", base, "root", "joe@example.com, jane@example.com" },
	{ "empty elements, no final newline", base, "list",
	  "a@example.com, b@example.com, c@example.com" },
	{ "dedup after expansion", base, "root, ops, jane@example.com, cron, cron",
	  "joe@example.com, jane@example.com, ann@example.com, mark@example.com" },
	{ "mixed list keeps order", base, "x@y, cron, nobody",
	  "x@y, mark@example.com, nobody" },
	{ "default catch-all", "root: r@example.org\ndefault: admin@example.org\n", "bob",
	  "admin@example.org" },
	{ "default not used for a known name", "root: r@example.org\ndefault: admin@example.org\n",
	  "root", "r@example.org" },
	{ "default to the same name does not loop", "default: root@example.org\n", "root",
	  "root@example.org" },
	{ "default to a domainless name used once", "default: admin\n", "bob, admin", "admin" },
	{ "default to a known alias recurses", "default: staff\nstaff: s1@x, s2@x\n", "bob",
	  "s1@x, s2@x" },
	{ "default's local name not found stays", "default: staff, z@x\nstaff: helper\n", "bob",
	  "helper, z@x" },
	{ "alias named default used directly", "default: d@x\n", "default", "d@x" },
	{ "loop a/b", "a: b\nb: a\n", "a", "ERR 78: aliases t.aliases: alias loop: a -> b -> a" },
	{ "self loop", "root: root\n", "root", "ERR 78: aliases t.aliases: alias loop: root -> root" },
	{ "loop through case", "a: B\nb: c@x, A\n", "a",
	  "ERR 78: aliases t.aliases: alias loop: a -> b -> a" },
	{ "loop via default", "default: x\nx: y\ny: x\n", "bob",
	  "ERR 78: aliases t.aliases: alias loop: x -> y -> x" },
	{ "loop names only the cycle", "top: a\na: b, t@x\nb: c\nc: b\n", "top",
	  "ERR 78: aliases t.aliases: alias loop: b -> c -> b" },
	{ "loop through 'default' named directly", "default: a\na: default\n", "bob",
	  "ERR 78: aliases t.aliases: alias loop: default -> a -> default" },
	{ "an alias named twice is not a loop", "a: b, c\nb: d\nc: d\nd: d1@x, d2@x\n", "a, d, b",
	  "d1@x, d2@x" },
	{ "a name met again after 'default' stays", "a: x\ndefault: a\n", "a", "x" },
	{ "expanded once per 'default used' state", "default: n\nn: m\nm: q\n", "zzz, m", "q" },
	{ "dedup keeps the first occurrence", "a: 1@x, b, 2@x\nb: 2@X, 3@x, 1@x\n",
	  "3@x, a, 1@x", "3@x, 1@x, 2@X" },
	{ "local part compared exactly", "a: u@x, U@x, u@X\n", "a", "u@x, U@x" },
	{ "empty file", "", "root", "root" },
	{ "only comments", "# nothing\n   # here\n\n", "root", "root" },
	{ "line without ':'", "root: a@x\n\nbogus line\n", "root",
	  "ERR 78: t.aliases:3: missing ':' after the alias name" },
	{ "empty name", "# c\n : a@x\n", "root", "ERR 78: t.aliases:2: empty alias name" },
	{ "name with space", "a b: a@x\n", "root", "ERR 78: t.aliases:1: invalid alias name 'a b'" },
	{ "name with domain", "a@x: b@y\n", "root", "ERR 78: t.aliases:1: invalid alias name 'a@x'" },
	{ "bad address", "ok: a@x\nbad: a@b@c\n", "root",
	  "ERR 78: t.aliases:2: invalid address list \"a@b@c\": unexpected '@'" },
	{ "no address", "none:   # nothing\n", "root", "ERR 78: t.aliases:1: no address for alias 'none'" },
	{ "'#' ends the value", "x: a@x # , b@y\n", "x", "a@x" },
};

static char *run_case(const char *file, const char *rcpts)
{
	struct aliases *al = NULL;
	struct addrlist l = { NULL, 0, 0 };
	struct perr e;
	char *got;
	if (aliases_parse("t.aliases", file, strlen(file), &al, &e))
		return xasprintf("ERR %d: %s", e.ex, e.msg);
	if (addr_parse_list(rcpts, &l, &e))
		got = xasprintf("bad test input: %s", e.msg);
	else if (aliases_expand(al, &l, &e))
		got = xasprintf("ERR %d: %s%s", e.ex, e.msg, l.n ? "" : " (list emptied)");
	else
		got = render(&l);
	addrlist_free(&l);
	aliases_free(al);
	return got;
}

/* Generated files: a chain of n aliases c0: c1, ..., c<n-1>: end@x. */
static char *chain_file(int n)
{
	struct buf f;
	buf_init(&f);
	for (int i = 0; i < n - 1; i++)
		buf_printf(&f, "c%d: c%d\n", i, i + 1);
	buf_printf(&f, "c%d: end@x\n", n - 1);
	return buf_steal(&f);
}

/* l0 .. l<levels-1>, each level n names wide, each name listing all n of
 * the next level; the last level lists n addresses each: n * n distinct
 * addresses, n^levels * n without memoisation. */
static char *layer_file(int levels, int n)
{
	struct buf f;
	buf_init(&f);
	for (int l = 0; l < levels; l++)
		for (int i = 0; i < n; i++) {
			buf_printf(&f, "l%d_%d:", l, i);
			for (int k = 0; k < n; k++)
				if (l + 1 < levels)
					buf_printf(&f, "%s l%d_%d", k ? "," : "", l + 1, k);
				else
					buf_printf(&f, "%s u%d_%d@x", k ? "," : "", i, k);
			buf_addc(&f, '\n');
		}
	return buf_steal(&f);
}

/* One alias listing n addresses. */
static char *wide_file(int n)
{
	struct buf f;
	buf_init(&f);
	buf_adds(&f, "big:");
	for (int i = 0; i < n; i++)
		buf_printf(&f, "%s u%d@x", i ? "," : "", i);
	buf_addc(&f, '\n');
	return buf_steal(&f);
}

static const struct {
	const char *desc;
	char *(*make)(int, int);
	int a, b;
	const char *rcpts, *want;  /* want: the result, or its first address and count "N" */
} gen_cases[] = {
	{ "chain of 21 aliases expands", NULL, 21, 0, "c0", "end@x 1" },
	{ "chain of 1000 aliases expands", NULL, 1000, 0, "c0", "end@x 1" },
	{ "chain of 1001 aliases refused as depth, not loop", NULL, 1001, 0, "c0",
	  "ERR 78: aliases t.aliases: aliases nested deeper than 1000, from 'c0'" },
	{ "7 levels x 10 x 10 expands once each", layer_file, 7, 10, "l0_0", "u0_0@x 100" },
	{ "30 levels x 3 x 3", layer_file, 30, 3, "l0_0, l0_1", "u0_0@x 9" },
	{ "10000 recipients from one alias", NULL, 0, 10000, "big", "u0@x 10000" },
	{ "10001 recipients refused", NULL, 0, 10001, "big",
	  "ERR 78: aliases t.aliases: the aliases of 'big' expand to more than 10000 recipients" },
	{ "the limit counts what the aliases give", NULL, 0, 10000, "a@x, big, b@x", "a@x 10002" },
	{ "10 levels x 3 x 120 refused", layer_file, 10, 120, "l0_0",
	  "ERR 78: aliases t.aliases: the aliases of 'l0_0' expand to more than 10000 recipients" },
};

static char *make_gen(size_t i)
{
	if (gen_cases[i].make)
		return gen_cases[i].make(gen_cases[i].a, gen_cases[i].b);
	return gen_cases[i].a ? chain_file(gen_cases[i].a) : wide_file(gen_cases[i].b);
}

static void test_generated(void)
{
	for (size_t i = 0; i < NELEM(gen_cases); i++) {
		char *file = make_gen(i), *got = run_case(file, gen_cases[i].rcpts);
		if (strncmp(got, "ERR", 3) != 0) {
			/* first address and count */
			size_t n = 1;
			char *comma = strchr(got, ',');
			for (const char *p = got; (p = strchr(p, ',')); p++)
				n++;
			if (comma)
				*comma = '\0';
			char *short_got = xasprintf("%s %zu", got, n);
			free(got);
			got = short_got;
		}
		check_str(gen_cases[i].desc, got, gen_cases[i].want);
		free(got);
		free(file);
	}
}

/* Lines of any length. */
static void test_long_line(void)
{
	struct buf f, want;
	char *got;
	buf_init(&f);
	buf_init(&want);
	buf_adds(&f, "big:");
	for (int i = 0; i < 2000; i++) {
		buf_printf(&f, "%s user%d@example.org", i ? "," : "", i);
		buf_printf(&want, "%suser%d@example.org", i ? ", " : "", i);
	}
	buf_addc(&f, '\n');
	got = run_case(f.s, "big");
	check_str("a 40 kB line", got, want.s);
	free(got);
	buf_free(&f);
	buf_free(&want);
}

static void test_load(void)
{
	char path[] = "/tmp/t-aliases-XXXXXX";
	struct aliases *al = NULL;
	struct addrlist l = { NULL, 0, 0 };
	struct perr e;
	char *got;
	int fd = mkstemp(path);
	static const char text[] = "root: a@x\nbad line\n";
	if (fd < 0 || write(fd, text, sizeof text - 1) != (ssize_t)(sizeof text - 1)) {
		check_str("aliases_load setup", "cannot write temp file", "");
		return;
	}
	close(fd);
	aliases_load(path, &al, &e);
	got = xasprintf("%d %s", e.ex, e.msg);
	char *want = xasprintf("78 %s:2: missing ':' after the alias name", path);
	check_str("aliases_load: file:line in errors", got, want);
	free(got);
	free(want);
	fd = open(path, O_WRONLY | O_TRUNC);
	if (fd >= 0) {
		if (write(fd, "root: a@x\n", 10) != 10)
			perror("write");
		close(fd);
	}
	if (aliases_load(path, &al, &e) == 0 && addr_parse_list("root", &l, &e) == 0 &&
	    aliases_expand(al, &l, &e) == 0)
		got = render(&l);
	else
		got = xasprintf("ERR %d: %s", e.ex, e.msg);
	check_str("aliases_load: good file", got, "a@x");
	free(got);
	addrlist_free(&l);
	aliases_free(al);
	unlink(path);
	al = NULL;
	aliases_load("/nonexistent/postie-aliases", &al, &e);
	got = xasprintf("%d %s %s", e.ex, e.msg, al ? "set" : "NULL");
	check_str("aliases_load: missing file", got,
	          "66 cannot open aliases file /nonexistent/postie-aliases: No such file or directory NULL");
	free(got);
}

int main(void)
{
	for (size_t i = 0; i < NELEM(cases); i++) {
		char *got = run_case(cases[i].file, cases[i].rcpts);
		check_str(cases[i].desc, got, cases[i].want);
		free(got);
	}
	test_generated();
	test_long_line();
	test_load();
	return tap_done();
}
