/* t-addr.c - table-driven tests for addr.c: address-list parsing,
 * envelope forms, IDN conversion, display-name phrases, lists, RFC 5321
 * size limits. */
#include "addr.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tap.h"

/* "name|local|domain" per address ("~" for NULL), joined by " ; ". */
static char *render(const struct addrlist *l)
{
	struct buf b;
	buf_init(&b);
	for (size_t i = 0; i < l->n; i++) {
		const struct addr *a = &l->v[i];
		buf_printf(&b, "%s%s|%s|%s", i ? " ; " : "", a->name ? a->name : "~", a->local,
		           a->domain ? a->domain : "~");
	}
	return buf_steal(&b);
}

/* ---- addr_parse_list ---- */

static const struct {
	const char *in, *want;
} parse_cases[] = {
	{ "a@x", "~|a|x" },
	{ "a@x, b@y", "~|a|x ; ~|b|y" },
	{ "root (Cron Daemon)", "Cron Daemon|root|~" },
	{ "\"(Cron Daemon)\" <user>", "(Cron Daemon)|user|~" },
	{ "Logwatch", "~|Logwatch|~" },
	{ "mdadm monitoring <root>", "mdadm monitoring|root|~" },
	{ "<user>", "~|user|~" },
	{ "John Q. Public <jqp@example.org>", "John Q. Public|jqp|example.org" },
	{ "\"Smith, John\" <js@example.org>", "Smith, John|js|example.org" },
	{ "\"Giant; \\\"Big\\\" Box\" <sysservices@example.net>",
	  "Giant; \"Big\" Box|sysservices|example.net" },
	{ "John \"Q\" Smith <j@x>", "John Q Smith|j|x" },
	{ "\"\" <a@x>", "~|a|x" },
	{ "Mary Smith <mary@x.test>, jdoe@example.org, Who? <one@y.test>",
	  "Mary Smith|mary|x.test ; ~|jdoe|example.org ; Who?|one|y.test" },
	{ "Friends: a@x, b@y;", "~|a|x ; ~|b|y" },
	{ "undisclosed-recipients:;", "" },
	{ "undisclosed-recipients:;, c@z", "~|c|z" },
	{ "A Group:Ed Jones <c@a.test>,joe@where.test,John <jdoe@one.test>;",
	  "Ed Jones|c|a.test ; ~|joe|where.test ; John|jdoe|one.test" },
	{ "A: a@x;, B: b@y, c@z;", "~|a|x ; ~|b|y ; ~|c|z" },
	{ "Empty:", "" },
	{ "G: , a@x , ;", "~|a|x" },
	{ "a@x (Comment (nested) here)", "Comment (nested) here|a|x" },
	{ "a(one)@(two)x(three)", "three|a|x" },
	{ "Pete(A nice \\) chap) <pete(his account)@silly.test(his host)>", "Pete|pete|silly.test" },
	{ "(leading) a@x", "~|a|x" },
	{ "a@x ()", "~|a|x" },
	{ "user@example.org (Name), other@example.org", "Name|user|example.org ; ~|other|example.org" },
	{ "a@x (  padded  )", "padded|a|x" },
	{ "\"john doe\"@example.org", "~|john doe|example.org" },
	{ "\"john \\\"q\\\" doe\"@example.org", "~|john \"q\" doe|example.org" },
	{ "\"a\\\\b\"@x", "~|a\\b|x" },
	{ "<@a.test,@b.test:user@x.test>", "~|user|x.test" },
	{ "Route <@a.test,,@b.test:user@x.test>", "Route|user|x.test" },
	{ "user@[192.0.2.1]", "~|user|[192.0.2.1]" },
	{ "user@[IPv6:2001:db8::1]", "~|user|[IPv6:2001:db8::1]" },
	{ "a@x, , b@y,", "~|a|x ; ~|b|y" },
	{ ",,,", "" },
	{ "", "" },
	{ "   ", "" },
	{ "J\xc3\xb6rg M\xc3\xbcller <jm@b\xc3\xbc" "cher.example>",
	  "J\xc3\xb6rg M\xc3\xbcller|jm|b\xc3\xbc" "cher.example" },
	{ "\xc3\xbcser@b\xc3\xbc" "cher.example", "~|\xc3\xbcser|b\xc3\xbc" "cher.example" },
	{ "first.last@sub.example.org", "~|first.last|sub.example.org" },
	{ "a . b @ example . org", "~|a.b|example.org" },
	{ "\"folded\r\n name\" <a@x>", "folded name|a|x" },
	{ "Name\r\n <a@x>,\tb@y", "Name|a|x ; ~|b|y" },
	{ "a..b@docomo.example", "~|a..b|docomo.example" },
	{ "ALL-CAPS@EXAMPLE.ORG", "~|ALL-CAPS|EXAMPLE.ORG" },
	{ "x+tag=1@example.org", "~|x+tag=1|example.org" },
	{ "root, admin@example.org", "~|root|~ ; ~|admin|example.org" },
	/* errors */
	{ "a@b@c", "ERR 65: invalid address list \"a@b@c\": unexpected '@'" },
	{ "a@", "ERR 65: invalid address list \"a@\": missing domain after '@'" },
	{ "a@,b@y", "ERR 65: invalid address list \"a@,b@y\": missing domain after '@'" },
	{ "\"unterminated <a@x>",
	  "ERR 65: invalid address list \"\"unterminated <a@x>\": unterminated quoted string" },
	{ "a@x (unclosed", "ERR 65: invalid address list \"a@x (unclosed\": unterminated comment" },
	{ "a@x ((nested)", "ERR 65: invalid address list \"a@x ((nested)\": unterminated comment" },
	{ "Name <a@x", "ERR 65: invalid address list \"Name <a@x\": missing '>'" },
	{ "a@x>", "ERR 65: invalid address list \"a@x>\": unexpected '>'" },
	{ "a@x)", "ERR 65: invalid address list \"a@x)\": unexpected ')'" },
	{ "John Smith", "ERR 65: invalid address list \"John Smith\": unexpected 'Smith'" },
	{ "<>", "ERR 65: invalid address list \"<>\": empty address <>" },
	{ "user@[1.2.3.4", "ERR 65: invalid address list \"user@[1.2.3.4\": unterminated domain literal" },
	{ "G: H: a@x;;", "ERR 65: invalid address list \"G: H: a@x;;\": nested group" },
	{ "a@b.", "ERR 65: invalid address list \"a@b.\": unexpected end of input" },
	{ "a@b..c", "ERR 65: invalid address list \"a@b..c\": unexpected '.'" },
	{ "a\x01" "b@x", "ERR 65: invalid address list \"a?b@x\": control character 0x01" },
	{ ";", "ERR 65: invalid address list \";\": unexpected ';'" },
	{ "(c) : a@x", "ERR 65: invalid address list \"(c) : a@x\": unexpected ':'" },
	{ "a@x; b@y", "ERR 65: invalid address list \"a@x; b@y\": unexpected ';'" },
	{ "a@x \"q\"", "ERR 65: invalid address list \"a@x \"q\"\": unexpected quoted string" },
	{ "<a@x> <b@y>", "ERR 65: invalid address list \"<a@x> <b@y>\": unexpected '<'" },
};

static void test_parse(void)
{
	for (size_t i = 0; i < sizeof parse_cases / sizeof parse_cases[0]; i++) {
		struct addrlist l = { NULL, 0, 0 };
		struct perr e;
		char *got, desc[160];
		perr_clear(&e);
		int rc = addr_parse_list(parse_cases[i].in, &l, &e);
		if (rc)
			got = xasprintf("ERR %d: %s%s", rc, e.msg, l.n ? " (list not empty)" : "");
		else
			got = render(&l);
		snprintf(desc, sizeof desc, "parse '%.100s'", parse_cases[i].in);
		for (char *c = desc; *c; c++)
			if ((unsigned char)*c < 0x20)
				*c = '?';
		check_str(desc, got, parse_cases[i].want);
		free(got);
		addrlist_free(&l);
	}
}

/* An error in a long input quotes only its first 100 octets; a failed
 * parse leaves what the list held before untouched. */
static void test_parse_extra(void)
{
	struct addrlist l = { NULL, 0, 0 };
	struct perr e;
	struct buf in;
	char *got, *want;
	buf_init(&in);
	for (int i = 0; i < 30; i++)
		buf_adds(&in, "abc@x, ");
	buf_adds(&in, "bad@@x");
	addrlist_add(&l, NULL, "keep", "x");
	int rc = addr_parse_list(in.s, &l, &e);
	got = xasprintf("%d %s", rc, e.msg);
	want = xasprintf("65 invalid address list \"%.100s...\": unexpected '@'", in.s);
	check_str("long input quoted to 100 octets", got, want);
	free(got);
	free(want);
	got = render(&l);
	check_str("failed parse rolls back the list", got, "~|keep|x");
	free(got);
	rc = addr_parse_list("n1@x, n2@y", &l, &e);
	got = render(&l);
	check_str("parse appends to a list", got, "~|keep|x ; ~|n1|x ; ~|n2|y");
	free(got);
	addrlist_free(&l);
	buf_free(&in);
}

/* ---- addr_envelope ---- */

static const struct {
	const char *local, *domain, *want;
} env_cases[] = {
	{ "a", "x", "a@x" },
	{ "root", NULL, "root" },
	{ "first.last", "example.org", "first.last@example.org" },
	{ "john doe", "x", "\"john doe\"@x" },
	{ "a\"b\\c", "x", "\"a\\\"b\\\\c\"@x" },
	{ "a..b", "docomo.example", "\"a..b\"@docomo.example" },
	{ ".a", "x", "\".a\"@x" },
	{ "a.", "x", "\"a.\"@x" },
	{ "", "x", "\"\"@x" },
	{ "a,b", "x", "\"a,b\"@x" },
	{ "\xc3\xbcser", "x", "\xc3\xbcser@x" },
	{ "x+tag=1", "example.org", "x+tag=1@example.org" },
	{ "user", "[192.0.2.1]", "user@[192.0.2.1]" },
};

static void test_envelope(void)
{
	for (size_t i = 0; i < sizeof env_cases / sizeof env_cases[0]; i++) {
		struct addr a = { NULL, (char *)env_cases[i].local, (char *)env_cases[i].domain };
		char *got = addr_envelope(&a), desc[96];
		snprintf(desc, sizeof desc, "envelope '%s'", env_cases[i].want);
		check_str(desc, got, env_cases[i].want);
		free(got);
	}
}

/* ---- IDN ---- */

static const struct {
	const char *in, *want;
} idn_cases[] = {
	{ "b\xc3\xbc" "cher.example", "xn--bcher-kva.example" },
	{ "B\xc3\x9c" "CHER.example", "xn--bcher-kva.example" },
	{ "fa\xc3\x9f.de", "xn--fa-hia.de" },
	{ "a\xe2\x98\x83.example", "xn--a-1xp.example" },
	{ "example.org", "example.org" },
	{ "Example.ORG", "Example.ORG" },
	{ "xn--bcher-kva.example", "xn--bcher-kva.example" },
	{ "under_score.example", "under_score.example" },
	{ "[192.0.2.1]", "[192.0.2.1]" },
	{ "a..b", "ERR 65: invalid domain 'a..b': empty label" },
	{ ".a", "ERR 65: invalid domain '.a': empty label" },
	{ "a.", "ERR 65: invalid domain 'a.': empty label" },
	{ "a b", "ERR 65: invalid domain 'a b': invalid character" },
	{ "", "ERR 65: invalid domain '': empty" },
	{ "\xff.example", "ERR 65: invalid domain '\xff.example': string encoding error" },
	{ "\xc3\xbc.-x.example",
	  "ERR 65: invalid domain '\xc3\xbc.-x.example': string start/ends with forbidden hyphen" },
	{ "\xe2\x92\x88.example",
	  "ERR 65: invalid domain '\xe2\x92\x88.example': string contains a disallowed character" },
	{ "a\xc2\xa0" "b.example", "ERR 65: invalid domain 'a\xc2\xa0" "b.example': invalid character" },
	{ "a..\xc3\xbc", "ERR 65: invalid domain 'a..\xc3\xbc': empty label" },
};

static void test_idn(void)
{
	for (size_t i = 0; i < sizeof idn_cases / sizeof idn_cases[0]; i++) {
		struct perr e;
		char *out = NULL, *got, desc[96];
		int rc = addr_domain_ascii(idn_cases[i].in, &out, &e);
		got = rc ? xasprintf("ERR %d: %s", rc, e.msg) : xstrdup(out);
		snprintf(desc, sizeof desc, "domain_ascii '%s'", idn_cases[i].in);
		check_str(desc, got, idn_cases[i].want);
		free(got);
		free(out);
	}
}

struct env_case {
	const char *local, *domain, *want;  /* want "ERR N: message start" on failure */
};

static const struct env_case enva_cases[] = {
	{ "jm", "b\xc3\xbc" "cher.example", "jm@xn--bcher-kva.example" },
	{ "\xc3\xbc", "b\xc3\xbc" "cher.example", "\xc3\xbc@xn--bcher-kva.example" },
	{ "john doe", "b\xc3\xbc" "cher.example", "\"john doe\"@xn--bcher-kva.example" },
	{ "root", NULL, "root" },
	{ "a", "example.org", "a@example.org" },
	{ "a", "\xe2\x92\x88.example",
	  "ERR 65: invalid domain '\xe2\x92\x88.example': string contains a disallowed character" },
};

/* One envelope form (fn) over a table; an error message is compared
 * up to the length of the wanted one (libidn2's words follow). */
static void test_envelope_form(const char *what, const struct env_case *c, size_t n,
                               int (*fn)(const struct addr *, char **, struct perr *))
{
	for (size_t i = 0; i < n; i++) {
		struct addr a = { NULL, (char *)c[i].local, (char *)c[i].domain };
		struct perr e;
		char *out = NULL, *got, desc[96];
		int rc = fn(&a, &out, &e);
		got = rc ? xasprintf("ERR %d: %s", rc, e.msg) : xstrdup(out);
		if (rc && strlen(got) > strlen(c[i].want))
			got[strlen(c[i].want)] = '\0';
		snprintf(desc, sizeof desc, "%s '%s'", what, c[i].want);
		check_str(desc, got, c[i].want);
		free(got);
		free(out);
	}
}

static const struct env_case envu_cases[] = {
	{ "jm", "xn--bcher-kva.example", "jm@b\xc3\xbc" "cher.example" },
	{ "jm", "B\xc3\x9c" "cher.example", "jm@b\xc3\xbc" "cher.example" },
	{ "a", "example.org", "a@example.org" },
	{ "a", "[192.0.2.1]", "a@[192.0.2.1]" },
	{ "root", NULL, "root" },
	{ "a", "xn--zz.example", "ERR 65: invalid domain 'xn--zz.example': " },
};

static void test_domain_detail(void)
{
	char *s;
	check_str("domain_of", addr_domain_of("a@b@example.org"), "example.org");
	check_int("domain_of without @", addr_domain_of("root") == NULL, 1);
	s = addr_strip_detail("bob+cron@example.org");
	check_str("strip_detail", s, "bob@example.org");
	free(s);
	check_int("strip_detail without detail", addr_strip_detail("bob@example.org") == NULL, 1);
	check_int("strip_detail with a leading +", addr_strip_detail("+x@example.org") == NULL, 1);
	check_int("strip_detail: + in the domain only", addr_strip_detail("a@b+c.org") == NULL, 1);
}

/* ---- addr_phrase ---- */

static const struct {
	const char *in, *want;
} phrase_cases[] = {
	{ "Cron Daemon", "Cron Daemon" },
	{ "root", "root" },
	{ "Smith, John", "\"Smith, John\"" },
	{ "John Q. Public", "\"John Q. Public\"" },
	{ "a \"b\" c\\d", "\"a \\\"b\\\" c\\\\d\"" },
	{ "two  spaces", "\"two  spaces\"" },
	{ " lead", "\" lead\"" },
	{ "", "\"\"" },
	{ "=?UTF-8?Q?x?=", "\"=?UTF-8?Q?x?=\"" },
	{ "Evil\r\nBcc: x@y", "\"Evil  Bcc: x@y\"" },
	{ "J\xc3\xb6rg M\xc3\xbcller", "=?UTF-8?B?SsO2cmcgTcO8bGxlcg==?=" },
	{ "Caf\xc3\xa9 Society Members", "=?UTF-8?Q?Caf=C3=A9_Society_Members?=" },
	{ "\xc3\x9cn\xc3\xafode, Inc.", "=?UTF-8?B?w5xuw69vZGUsIEluYy4=?=" },
	{ "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e", "=?UTF-8?B?5pel5pys6Kqe?=" },
};

static void test_phrase(void)
{
	for (size_t i = 0; i < sizeof phrase_cases / sizeof phrase_cases[0]; i++) {
		char *got = addr_phrase(phrase_cases[i].in), desc[96];
		snprintf(desc, sizeof desc, "phrase '%s'", phrase_cases[i].want);
		check_str(desc, got, phrase_cases[i].want);
		free(got);
	}
}

static int b64val(int c)
{
	const char *tab = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	const char *p = c ? strchr(tab, c) : NULL;
	return p ? (int)(p - tab) : -1;
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Decode the text of one encoded-word into out; -1 if malformed. */
static int decode_text(char enc, const char *s, size_t n, struct buf *out)
{
	if (enc == 'Q') {
		for (size_t i = 0; i < n; i++) {
			if (s[i] == '_') {
				buf_addc(out, ' ');
			} else if (s[i] == '=') {
				if (i + 2 >= n)
					return -1;
				int h = hexval(s[i + 1]), l = hexval(s[i + 2]);
				if (h < 0 || l < 0)
					return -1;
				buf_addc(out, (char)(h * 16 + l));
				i += 2;
			} else if (strchr("!*+-/", s[i]) || (s[i] >= '0' && s[i] <= '9') ||
			           (s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z')) {
				buf_addc(out, s[i]);
			} else {
				return -1;
			}
		}
		return 0;
	}
	if (n % 4)
		return -1;
	for (size_t i = 0; i < n; i += 4) {
		int v[4];
		for (int k = 0; k < 4; k++)
			v[k] = s[i + k] == '=' ? 0 : b64val(s[i + k]);
		if (v[0] < 0 || v[1] < 0 || v[2] < 0 || v[3] < 0)
			return -1;
		unsigned long w = (unsigned long)v[0] << 18 | (unsigned long)v[1] << 12 |
		                  (unsigned long)v[2] << 6 | (unsigned long)v[3];
		buf_addc(out, (char)(w >> 16));
		if (s[i + 2] != '=')
			buf_addc(out, (char)(w >> 8));
		if (s[i + 3] != '=')
			buf_addc(out, (char)w);
	}
	return 0;
}

/* Nonzero if s[0..n) is complete UTF-8 (no sequence cut at either end). */
static int whole_utf8(const unsigned char *s, size_t n)
{
	for (size_t i = 0; i < n;) {
		size_t k = s[i] < 0x80 ? 1 : s[i] >= 0xf0 ? 4 : s[i] >= 0xe0 ? 3 : s[i] >= 0xc0 ? 2 : 0;
		if (!k || i + k > n)
			return 0;
		for (size_t j = 1; j < k; j++)
			if ((s[i + j] & 0xc0) != 0x80)
				return 0;
		i += k;
	}
	return 1;
}

/* Decode a space-separated sequence of encoded-words; checks each word's
 * length and that each holds whole UTF-8 characters. NULL if malformed. */
static char *decode_words(const char *s, size_t *nwords, char *why, size_t whylen)
{
	struct buf out;
	buf_init(&out);
	*nwords = 0;
	while (*s) {
		const char *end = strchr(s, ' ');
		size_t len = end ? (size_t)(end - s) : strlen(s);
		size_t before = out.len;
		if (len > 75 || len < 12 || strncmp(s, "=?UTF-8?", 8) != 0 ||
		    (s[8] != 'B' && s[8] != 'Q') || s[9] != '?' || strncmp(s + len - 2, "?=", 2) != 0) {
			snprintf(why, whylen, "bad word (%zu octets): %.*s", len, (int)len, s);
			buf_free(&out);
			return NULL;
		}
		if (decode_text(s[8], s + 10, len - 12, &out) < 0 ||
		    !whole_utf8((unsigned char *)out.s + before, out.len - before)) {
			snprintf(why, whylen, "undecodable or split word: %.*s", (int)len, s);
			buf_free(&out);
			return NULL;
		}
		(*nwords)++;
		s += len;
		if (*s == ' ')
			s++;
	}
	return buf_steal(&out);
}

static void roundtrip(const char *desc, const char *name, size_t min_words, char want_enc)
{
	char *enc = addr_phrase(name), why[256] = "";
	size_t words;
	char *dec = decode_words(enc, &words, why, sizeof why);
	int ok = dec && strcmp(dec, name) == 0 && words >= min_words && enc[8] == want_enc;
	char *got = xasprintf("%s; %zu words; %s", dec ? dec : why, words, enc);
	char *want = xasprintf("%s; >= %zu words; %c encoding", name, min_words, want_enc);
	check(desc, ok, got, want);
	free(got);
	free(want);
	free(dec);
	free(enc);
}

static void test_phrase_long(void)
{
	struct buf a, b, c, d;
	buf_init(&a);
	buf_init(&b);
	buf_init(&c);
	buf_init(&d);
	for (int i = 0; i < 40; i++)
		buf_adds(&a, "\xc3\xbc");                 /* 80 octets, 2-octet chars */
	for (int i = 0; i < 31; i++)
		buf_adds(&b, "\xe2\x82\xac");             /* 93 octets, 3-octet chars */
	buf_adds(&c, "x");
	for (int i = 0; i < 25; i++)
		buf_adds(&c, "\xf0\x9f\x98\x80");         /* emoji, 4-octet chars */
	buf_adds(&d, "Gr\xc3\xbc\xc3\x9f" "e aus dem sch\xc3\xb6nen ");
	for (int i = 0; i < 6; i++)
		buf_adds(&d, "Rechenzentrum ");
	buf_adds(&d, "M\xc3\xbcnchen");
	roundtrip("phrase 80-octet umlauts: words <= 75, decode back", a.s, 2, 'B');
	roundtrip("phrase 3-octet chars split on boundaries", b.s, 3, 'B');
	roundtrip("phrase 4-octet chars split on boundaries", c.s, 3, 'B');
	roundtrip("phrase long mostly-ASCII name in Q words", d.s, 2, 'Q');
	roundtrip("phrase short Q name decodes back", "Caf\xc3\xa9 Society Members", 1, 'Q');
	buf_free(&a);
	buf_free(&b);
	buf_free(&c);
	buf_free(&d);
}

/* ---- lists ---- */

static void test_lists(void)
{
	struct addrlist l = { NULL, 0, 0 };
	char *got;
	addrlist_add(&l, "First", "a", "x.example");
	addrlist_add(&l, NULL, "A", "x.example");
	addrlist_add(&l, "Second", "a", "X.EXAMPLE");
	addrlist_add(&l, NULL, "a", NULL);
	addrlist_add(&l, "Other", "a", NULL);
	addrlist_add(&l, NULL, "b", "y");
	addrlist_add(&l, NULL, "a", "x.Example");
	addrlist_dedup(&l);
	got = render(&l);
	check_str("dedup: local exact, domain ignoring case, first kept", got,
	          "First|a|x.example ; ~|A|x.example ; ~|a|~ ; ~|b|y");
	free(got);
	addrlist_free(&l);
	got = xasprintf("%zu %s", l.n, l.v ? "set" : "NULL");
	check_str("addrlist_free empties the list", got, "0 NULL");
	free(got);
	got = xasprintf("%d%d%d%d", addr_is_8bit("abc"), addr_is_8bit("a\xc3\xbc"),
	                addr_is_8bit(""), addr_is_8bit("\x7f"));
	check_str("addr_is_8bit", got, "0100");
	free(got);
}

/* ---- addrlist_dedup at scale: the same result as the pairwise way ---- */

static void test_dedup_large(void)
{
	struct addrlist l = { NULL, 0, 0 }, want = { NULL, 0, 0 };
	char local[32], domain[32];
	unsigned seed = 12345;
	char *got, *exp;
	for (int i = 0; i < 3000; i++) {
		seed = seed * 1103515245u + 12345u;
		snprintf(local, sizeof local, "%c%u", (seed >> 8) & 1 ? 'u' : 'U', (seed >> 12) % 300);
		snprintf(domain, sizeof domain, "%s%u.example", (seed >> 9) & 1 ? "d" : "D", (seed >> 20) % 3);
		addrlist_add(&l, NULL, local, (seed >> 10) % 7 ? domain : NULL);
	}
	/* the reference: keep an address when no earlier kept one is equal */
	for (size_t i = 0; i < l.n; i++) {
		size_t j;
		for (j = 0; j < want.n; j++)
			if (strcmp(want.v[j].local, l.v[i].local) == 0 &&
			    (want.v[j].domain && l.v[i].domain ? ascii_casecmp(want.v[j].domain, l.v[i].domain) == 0
			                                       : !want.v[j].domain && !l.v[i].domain))
				break;
		if (j == want.n)
			addrlist_add(&want, NULL, l.v[i].local, l.v[i].domain);
	}
	addrlist_dedup(&l);
	got = render(&l);
	exp = render(&want);
	check_str("dedup of 3000 addresses keeps the pairwise result and order", got, exp);
	check_int("dedup of 3000 addresses leaves some", want.n > 100 && want.n < 3000, 1);
	free(got);
	free(exp);
	addrlist_free(&l);
	addrlist_free(&want);
}

/* ---- RFC 5321 size limits ---- */

/* Expand "{c*N}" into N copies of c. */
static char *pattern(const char *p)
{
	struct buf b;
	buf_init(&b);
	for (; *p; p++) {
		char c;
		int n, used;
		if (*p == '{' && sscanf(p, "{%c*%d}%n", &c, &n, &used) == 2 && used > 0) {
			while (n-- > 0)
				buf_addc(&b, c);
			p += used - 1;
		} else {
			buf_addc(&b, *p);
		}
	}
	return buf_steal(&b);
}

#define L63 "{a*63}"
static const struct {
	const char *desc;
	int domain_only;
	const char *in, *want;  /* want "" = accepted */
} limit_cases[] = {
	{ "local part of 64", 0, "{x*64}@example.org", "" },
	{ "local part of 65", 0, "{x*65}@example.org",
	  "recipient <{x*40}...@example.org>: local part is 65 octets, over the limit of 64 (RFC 5321 4.5.3.1.1)" },
	{ "local part of 120003", 0, "{x*120003}@example.org",
	  "recipient <{x*40}...@example.org>: local part is 120003 octets, over the limit of 64 (RFC 5321 4.5.3.1.1)" },
	{ "domainless local part of 65", 0, "{x*65}",
	  "recipient <{x*40}...>: local part is 65 octets, over the limit of 64 (RFC 5321 4.5.3.1.1)" },
	{ "domainless postmaster", 0, "postmaster", "" },
	{ "quoted local part with '@'", 0, "\"a@b\"@example.org", "" },
	/* a domain of 255 passes its own limit, but no path can hold it */
	{ "domain of 255", 0, "u@" L63 "." L63 "." L63 "." L63,
	  "recipient <u@{a*40}...>: path is 259 octets, over the limit of 256 (RFC 5321 4.5.3.1.3)" },
	{ "domain of 256", 0, "u@" L63 "." L63 "." L63 ".{a*62}.b",
	  "recipient <u@{a*40}...>: domain is 256 octets, over the limit of 255 (RFC 5321 4.5.3.1.2)" },
	{ "label of 63", 0, "u@" L63 ".example", "" },
	{ "label of 64", 0, "u@x.{b*64}.example",
	  "recipient <u@x.{b*38}...>: domain label {b*40}... is 64 octets, over the limit of 63 (RFC 1035 2.3.4)" },
	{ "empty label", 0, "u@a..example", "recipient <u@a..example>: domain has an empty label (RFC 1035 2.3.4)" },
	{ "trailing dot", 0, "u@example.org.", "recipient <u@example.org.>: domain has an empty label (RFC 1035 2.3.4)" },
	{ "empty domain", 0, "u@", "recipient <u@>: domain has an empty label (RFC 1035 2.3.4)" },
	{ "address literal", 0, "u@[192.0.2.1]", "" },
	{ "path of 256", 0, "{x*64}@" L63 "." L63 ".{a*61}", "" },
	{ "path of 257", 0, "{x*64}@" L63 "." L63 ".{a*62}",
	  "recipient <{x*40}...@{a*40}...>: path is 257 octets, over the limit of 256 (RFC 5321 4.5.3.1.3)" },
	{ "envelope sender", 0, "{x*65}@example.org",
	  "envelope sender <{x*40}...@example.org>: local part is 65 octets, over the limit of 64 (RFC 5321 4.5.3.1.1)" },
	{ "bare domain of 255", 1, L63 "." L63 "." L63 "." L63, "" },
	{ "bare domain of 256", 1, L63 "." L63 "." L63 ".{a*62}.b",
	  "recipient domain {a*40}...: domain is 256 octets, over the limit of 255 (RFC 5321 4.5.3.1.2)" },
	{ "bare label of 63", 1, "x." L63 ".example", "" },
	{ "bare label of 64", 1, "{c*64}.example",
	  "recipient domain {c*40}...: domain label {c*40}... is 64 octets, over the limit of 63 (RFC 1035 2.3.4)" },
	{ "bare empty label", 1, ".example", "recipient domain .example: domain has an empty label (RFC 1035 2.3.4)" },
	{ "bare empty domain", 1, "", "recipient domain : domain has an empty label (RFC 1035 2.3.4)" },
};

static void test_limits(void)
{
	for (size_t i = 0; i < NELEM(limit_cases); i++) {
		char *in = pattern(limit_cases[i].in), *want = pattern(limit_cases[i].want), *got;
		const char *what = strstr(limit_cases[i].desc, "sender") ? "envelope sender" : "recipient";
		struct perr e;
		int rc;
		perr_clear(&e);
		rc = limit_cases[i].domain_only ? addr_check_domain(in, what, &e) : addr_check_limits(in, what, &e);
		got = rc ? xasprintf("%d %s", rc, e.msg) : xstrdup("");
		if (*want) {
			char *w = xasprintf("%d %s", EX_USAGE, want);
			free(want);
			want = w;
		}
		check_str(limit_cases[i].desc, got, want);
		free(in);
		free(want);
		free(got);
	}
}

int main(void)
{
	test_parse();
	test_parse_extra();
	test_envelope();
	test_idn();
	test_envelope_form("envelope_ascii", enva_cases, NELEM(enva_cases), addr_envelope_ascii);
	test_envelope_form("envelope_utf8", envu_cases, NELEM(envu_cases), addr_envelope_utf8);
	test_domain_detail();
	test_phrase();
	test_phrase_long();
	test_lists();
	test_dedup_large();
	test_limits();
	return tap_done();
}
