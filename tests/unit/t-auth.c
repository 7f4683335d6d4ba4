/* t-auth.c - unit tests for the pure parts of auth.c (the mechanism
 * choice, which mechanisms expose the secret) and for secret.c (netrc
 * lookup, the password sources in order). */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "auth.h"
#include "conf.h"
#include "secret.h"
#include "util.h"

#include "tap.h"

/* ---- auth_choose ---- */

/* The supported() of the tests: says no to the words of arg (a
 * space-separated list, compared exactly: auth_choose passes upper case),
 * and counts the names it was asked about that were not upper case. */
static int lower_asked;

static int deny_list(void *arg, const char *mech)
{
	const char *list = arg;
	size_t n = strlen(mech);
	for (const char *p = mech; *p; p++)
		if (*p >= 'a' && *p <= 'z') {
			lower_asked++;
			break;
		}
	for (const char *p = list; *p;) {
		p += strspn(p, " ");
		size_t m = strcspn(p, " ");
		if (m && m == n && strncmp(p, mech, n) == 0)
			return 0;
		p += m;
	}
	return 1;
}

struct ccase {
	const char *desc;
	const char *offered;
	const char *forced;   /* NULL: automatic */
	int protected, tls, allow_exposed;
	const char *deny;     /* NULL: no supported() at all */
	size_t max;
	const char *want;     /* the chosen list, space-separated; "" for none */
	const char *why;      /* "|"-separated parts the why must contain; "!x": must not */
};

#define ALL8 "SCRAM-SHA-256-PLUS SCRAM-SHA-1-PLUS SCRAM-SHA-256 SCRAM-SHA-1 PLAIN LOGIN CRAM-MD5 DIGEST-MD5"
#define EVERY "ntlm DIGEST-MD5 xoauth2 CRAM-MD5 LOGIN GSSAPI plain SCRAM-SHA-1 EXTERNAL scram-sha-256 " \
	"SCRAM-SHA-1-PLUS OAUTHBEARER SCRAM-SHA-256-PLUS"
#define HELD "no usable mechanism|PLAIN and LOGIN are not chosen|auth_without_tls|tls on"
#define NONE_OK "no usable mechanism|name another with auth|!PLAIN and LOGIN are not chosen"

static const struct ccase ccases[] = {
	/* automatic choice */
	{ "auto: PLAIN LOGIN over verified TLS", "PLAIN LOGIN", NULL, 1, 1, 0, NULL, 16, "PLAIN LOGIN", NULL },
	{ "auto: lower case, any order", "login plain cram-md5", NULL, 1, 1, 0, NULL, 16, "PLAIN LOGIN CRAM-MD5", NULL },
	{ "auto: mixed case", "Scram-Sha-1 Plain", NULL, 1, 1, 0, NULL, 16, "SCRAM-SHA-1 PLAIN", NULL },
	{ "auto: no TLS holds PLAIN and LOGIN back", "login plain cram-md5", NULL, 0, 0, 0, NULL, 16, "CRAM-MD5", NULL },
	{ "auto: only PLAIN LOGIN, no TLS", "PLAIN LOGIN", NULL, 0, 0, 0, NULL, 16, "",
	  HELD "|the server offers PLAIN LOGIN" },
	{ "auto: only PLAIN LOGIN, unverified TLS", "PLAIN LOGIN", NULL, 0, 1, 0, NULL, 16, "", HELD },
	{ "auto: only LOGIN, no TLS", "LOGIN", NULL, 0, 0, 0, NULL, 16, "", HELD },
	{ "auto: auth_without_tls allows PLAIN LOGIN", "PLAIN LOGIN", NULL, 0, 0, 1, NULL, 16, "PLAIN LOGIN", NULL },
	{ "auto: SCRAM with and without -PLUS over verified TLS", "SCRAM-SHA-256 SCRAM-SHA-256-PLUS PLAIN", NULL, 1, 1, 0,
	  NULL, 16, "SCRAM-SHA-256-PLUS SCRAM-SHA-256 PLAIN", NULL },
	{ "auto: SCRAM without TLS: no -PLUS, no PLAIN", "SCRAM-SHA-256 SCRAM-SHA-256-PLUS PLAIN", NULL, 0, 0, 0, NULL, 16,
	  "SCRAM-SHA-256", NULL },
	{ "auto: SCRAM over unverified TLS: -PLUS, no PLAIN", "SCRAM-SHA-256 SCRAM-SHA-256-PLUS PLAIN", NULL, 0, 1, 0, NULL,
	  16, "SCRAM-SHA-256-PLUS SCRAM-SHA-256", NULL },
	{ "auto: no TLS but auth_without_tls: PLAIN, still no -PLUS", "SCRAM-SHA-256 SCRAM-SHA-256-PLUS PLAIN", NULL, 0, 0,
	  1, NULL, 16, "SCRAM-SHA-256 PLAIN", NULL },
	{ "auto: everything offered, verified TLS: the full order", EVERY, NULL, 1, 1, 0, NULL, 16, ALL8, NULL },
	{ "auto: everything offered, no TLS", EVERY, NULL, 0, 0, 0, NULL, 16,
	  "SCRAM-SHA-256 SCRAM-SHA-1 CRAM-MD5 DIGEST-MD5", NULL },
	{ "auto: everything offered, unverified TLS", EVERY, NULL, 0, 1, 0, NULL, 16,
	  "SCRAM-SHA-256-PLUS SCRAM-SHA-1-PLUS SCRAM-SHA-256 SCRAM-SHA-1 CRAM-MD5 DIGEST-MD5", NULL },
	{ "auto: the full order from the reverse list", "DIGEST-MD5 CRAM-MD5 LOGIN PLAIN SCRAM-SHA-1 SCRAM-SHA-256 "
	  "SCRAM-SHA-1-PLUS SCRAM-SHA-256-PLUS", NULL, 1, 1, 0, NULL, 16, ALL8, NULL },
	{ "auto: XOAUTH2 OAUTHBEARER never automatic", "XOAUTH2 OAUTHBEARER", NULL, 1, 1, 0, NULL, 16, "",
	  NONE_OK "|the server offers XOAUTH2 OAUTHBEARER" },
	{ "auto: EXTERNAL GSSAPI NTLM never automatic", "EXTERNAL GSSAPI NTLM", NULL, 1, 1, 1, NULL, 16, "", NONE_OK },
	{ "auto: only -PLUS without TLS", "SCRAM-SHA-256-PLUS SCRAM-SHA-1-PLUS", NULL, 0, 0, 1, NULL, 16, "",
	  "no usable mechanism" },
	{ "auto: nothing offered", "", NULL, 1, 1, 1, NULL, 16, "", "no usable mechanism" },
	{ "auto: extra spaces in the list", "  PLAIN   LOGIN  ", NULL, 1, 1, 0, NULL, 16, "PLAIN LOGIN", NULL },
	{ "auto: words, not prefixes or suffixes", "PLAINX XLOGIN CRAM-MD5X SCRAM-SHA-1-PLUSX", NULL, 1, 1, 1, NULL, 16, "",
	  "no usable mechanism" },
	{ "auto: -PLUS offered does not offer the plain SCRAM", "SCRAM-SHA-256-PLUS", NULL, 0, 0, 0, NULL, 16, "",
	  "no usable mechanism" },
	{ "auto: duplicates chosen once", "CRAM-MD5 cram-md5 CRAM-MD5", NULL, 1, 1, 0, NULL, 16, "CRAM-MD5", NULL },
	/* supported() */
	{ "auto: unsupported SCRAM-SHA-256 skipped", "SCRAM-SHA-256 SCRAM-SHA-1 PLAIN", NULL, 1, 1, 0, "SCRAM-SHA-256", 16,
	  "SCRAM-SHA-1 PLAIN", NULL },
	{ "auto: unsupported -PLUS skipped", EVERY, NULL, 1, 1, 0, "SCRAM-SHA-256-PLUS SCRAM-SHA-1-PLUS DIGEST-MD5", 16,
	  "SCRAM-SHA-256 SCRAM-SHA-1 PLAIN LOGIN CRAM-MD5", NULL },
	{ "auto: supported() saying yes to all", EVERY, NULL, 1, 1, 0, "", 16, ALL8, NULL },
	{ "auto: nothing supported", "CRAM-MD5 DIGEST-MD5", NULL, 1, 1, 0, "CRAM-MD5 DIGEST-MD5", 16, "", NONE_OK },
	{ "auto: unsupported PLAIN LOGIN are not \"held back\"", "PLAIN LOGIN", NULL, 0, 0, 0, "PLAIN LOGIN", 16, "",
	  NONE_OK },
	/* max */
	{ "auto: max 1", EVERY, NULL, 1, 1, 0, NULL, 1, "SCRAM-SHA-256-PLUS", NULL },
	{ "auto: max 3, no TLS", EVERY, NULL, 0, 0, 0, NULL, 3, "SCRAM-SHA-256 SCRAM-SHA-1 CRAM-MD5", NULL },
	{ "auto: max 7", EVERY, NULL, 1, 1, 0, NULL, 7,
	  "SCRAM-SHA-256-PLUS SCRAM-SHA-1-PLUS SCRAM-SHA-256 SCRAM-SHA-1 PLAIN LOGIN CRAM-MD5", NULL },
	{ "auto: max 8 exactly", EVERY, NULL, 1, 1, 0, NULL, 8, ALL8, NULL },
	{ "auto: max 0 writes nothing", EVERY, NULL, 1, 1, 0, NULL, 0, "", NULL },
	/* a forced mechanism */
	{ "forced plain over verified TLS", "PLAIN LOGIN", "plain", 1, 1, 0, NULL, 16, "PLAIN", NULL },
	{ "forced PLAIN, offered lower case", "login plain", "PLAIN", 1, 1, 0, NULL, 16, "PLAIN", NULL },
	{ "forced PLAIN without TLS refused", "login plain", "PLAIN", 0, 0, 0, NULL, 16, "",
	  "PLAIN is refused|auth_without_tls|tls on" },
	{ "forced PLAIN over unverified TLS refused", "PLAIN", "PLAIN", 0, 1, 0, NULL, 16, "", "PLAIN is refused" },
	{ "forced PLAIN with auth_without_tls", "PLAIN", "PLAIN", 0, 0, 1, NULL, 16, "PLAIN", NULL },
	{ "forced login among SCRAM", "SCRAM-SHA-256 LOGIN", "login", 1, 1, 0, NULL, 16, "LOGIN", NULL },
	{ "forced xoauth2", "XOAUTH2 OAUTHBEARER", "xoauth2", 1, 1, 0, NULL, 16, "XOAUTH2", NULL },
	{ "forced xoauth2 without TLS refused", "XOAUTH2 OAUTHBEARER", "xoauth2", 0, 0, 0, NULL, 16, "",
	  "XOAUTH2 is refused|auth_without_tls" },
	{ "forced xoauth2 not offered", "PLAIN LOGIN", "xoauth2", 1, 1, 0, NULL, 16, "",
	  "does not offer XOAUTH2|it offers PLAIN LOGIN" },
	{ "forced oauthbearer over unverified TLS refused", "OAUTHBEARER", "oauthbearer", 0, 1, 0, NULL, 16, "",
	  "OAUTHBEARER is refused" },
	{ "forced oauthbearer with auth_without_tls", "OAUTHBEARER", "OAuthBearer", 0, 0, 1, NULL, 16, "OAUTHBEARER", NULL },
	{ "forced scram-sha-256-plus over TLS", "SCRAM-SHA-256 SCRAM-SHA-256-PLUS", "scram-sha-256-plus", 0, 1, 0, NULL, 16,
	  "SCRAM-SHA-256-PLUS", NULL },
	{ "forced scram-sha-256-plus without TLS", "SCRAM-SHA-256 SCRAM-SHA-256-PLUS", "scram-sha-256-plus", 0, 0, 1, NULL,
	  16, "", "SCRAM-SHA-256-PLUS needs TLS|channel binding" },
	{ "forced scram-sha-1-plus without TLS", "SCRAM-SHA-1-PLUS", "SCRAM-SHA-1-PLUS", 1, 0, 1, NULL, 16, "",
	  "channel binding" },
	{ "forced scram-sha-256 without TLS (no secret exposed)", "SCRAM-SHA-256", "scram-sha-256", 0, 0, 0, NULL, 16,
	  "SCRAM-SHA-256", NULL },
	{ "forced SCRAM-SHA-1 when only -PLUS is offered", "SCRAM-SHA-1-PLUS", "SCRAM-SHA-1", 1, 1, 0, NULL, 16, "",
	  "does not offer SCRAM-SHA-1 " },
	{ "forced external without TLS", "EXTERNAL PLAIN", "external", 0, 0, 0, NULL, 16, "EXTERNAL", NULL },
	{ "forced gssapi without TLS", "GSSAPI", "gssapi", 0, 0, 0, NULL, 16, "GSSAPI", NULL },
	{ "forced gssapi unsupported", "GSSAPI PLAIN", "gssapi", 1, 1, 0, "GSSAPI", 16, "", "GNU SASL cannot do GSSAPI" },
	{ "forced ntlm", "NTLM", "ntlm", 0, 0, 0, NULL, 16, "NTLM", NULL },
	{ "forced cram-md5 not offered", "PLAIN LOGIN", "cram-md5", 1, 1, 1, NULL, 16, "",
	  "does not offer CRAM-MD5|it offers PLAIN LOGIN" },
	{ "forced digest-md5, nothing offered", "", "digest-md5", 1, 1, 1, NULL, 16, "", "does not offer DIGEST-MD5" },
	{ "forced PLAIN unsupported (checked before TLS)", "PLAIN", "PLAIN", 0, 0, 0, "PLAIN", 16, "",
	  "GNU SASL cannot do PLAIN" },
	{ "forced unknown mechanism over verified TLS", "X-FOO PLAIN", "x-foo", 1, 1, 0, NULL, 16, "X-FOO", NULL },
	{ "forced unknown mechanism without TLS refused", "X-FOO", "X-FOO", 0, 0, 0, NULL, 16, "", "X-FOO is refused" },
	{ "forced unknown mechanism not offered", "PLAIN", "X-BAR", 1, 1, 0, NULL, 16, "", "does not offer X-BAR" },
	{ "forced, max 1", "PLAIN LOGIN", "LOGIN", 1, 1, 0, NULL, 1, "LOGIN", NULL },
	{ "forced, max 0 writes nothing", "PLAIN LOGIN", "LOGIN", 1, 1, 0, NULL, 0, "", NULL },
};

/* The n names of out joined by spaces. */
static void join(char out[][24], size_t n, char *dst, size_t len)
{
	dst[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		size_t l = strlen(dst);
		snprintf(dst + l, len - l, "%s%s", i ? " " : "", out[i]);
	}
}

/* Every "|"-separated part of want is in why ("!part": is not). */
static int why_has(const char *why, const char *want)
{
	char *w = xstrdup(want), *save = NULL;
	int ok = 1;
	for (char *part = strtok_r(w, "|", &save); part && ok; part = strtok_r(NULL, "|", &save)) {
		if (part[0] == '!')
			ok = strstr(why, part + 1) == NULL;
		else
			ok = strstr(why, part) != NULL;
		if (!ok)
			fail("why \"%s\" %s \"%s\"", why, part[0] == '!' ? "contains" : "lacks",
			     part[0] == '!' ? part + 1 : part);
	}
	free(w);
	return ok;
}

static int run_ccase(const struct ccase *c)
{
	char out[AUTH_MAX_MECHS][24], why[1024], got[512];
	struct auth_ctx ctx = { c->offered, c->forced, c->protected, c->tls, c->allow_exposed,
	                        c->deny ? deny_list : NULL, (void *)c->deny };
	for (size_t i = 0; i < AUTH_MAX_MECHS; i++)
		snprintf(out[i], sizeof out[i], "#untouched");
	snprintf(why, sizeof why, "#untouched");
	size_t n = auth_choose(&ctx, out, c->max, why, sizeof why);
	if (n > c->max)
		return fail("returned %zu, more than max %zu", n, c->max);
	for (size_t i = n; i < AUTH_MAX_MECHS; i++)
		if (strcmp(out[i], "#untouched") != 0)
			return fail("out[%zu] written beyond the %zu returned: \"%s\"", i, n, out[i]);
	join(out, n, got, sizeof got);
	if (strcmp(got, c->want) != 0)
		return fail("got \"%s\", want \"%s\" (why \"%s\")", got, c->want, n ? "" : why);
	if (n && why[0])
		return fail("why is \"%s\" though %zu were chosen", why, n);
	if (!n && c->why && !why_has(why, c->why))
		return 1;
	return 0;
}

static void test_choose(void)
{
	for (size_t i = 0; i < NELEM(ccases); i++)
		reportf(run_ccase(&ccases[i]), "auth_choose: %s", ccases[i].desc);
	check_int("auth_choose: supported() is asked with upper-case names", lower_asked, 0);
}

/* ---- auth_exposes_secret ---- */

static const struct {
	const char *mech;
	int want;
} ecases[] = {
	{ "PLAIN", 1 }, { "plain", 1 }, { "LOGIN", 1 }, { "XOAUTH2", 1 }, { "OAUTHBEARER", 1 },
	{ "oauthbearer", 1 }, { "SCRAM-SHA-256-PLUS", 0 }, { "SCRAM-SHA-1-PLUS", 0 }, { "SCRAM-SHA-256", 0 },
	{ "scram-sha-1", 0 }, { "CRAM-MD5", 0 }, { "DIGEST-MD5", 0 }, { "EXTERNAL", 0 }, { "GSSAPI", 0 },
	{ "NTLM", 0 }, { "X-UNKNOWN", 1 }, { "PLAINX", 1 }, { "SCRAM-SHA-512", 1 },
};

static void test_exposes(void)
{
	for (size_t i = 0; i < NELEM(ecases); i++) {
		int got = auth_exposes_secret(ecases[i].mech);
		if (got != ecases[i].want)
			fail("got %d, want %d", got, ecases[i].want);
		reportf(got != ecases[i].want, "auth_exposes_secret(%s) is %d", ecases[i].mech, ecases[i].want);
	}
}

/* ---- netrc_lookup ---- */

struct ncase {
	const char *desc;
	const char *text;
	const char *host, *user;
	const char *want;  /* the password, or NULL for no match */
};

#define BOB "machine mail.example.org login bob password s3cret\n"

static const struct ncase ncases[] = {
	{ "machine, login and password", BOB, "mail.example.org", "bob", "s3cret" },
	{ "host case-insensitive", BOB, "MAIL.Example.ORG", "bob", "s3cret" },
	{ "machine name case-insensitive", "machine MAIL.EXAMPLE.ORG login bob password p\n", "mail.example.org", "bob", "p" },
	{ "other host", BOB, "smtp.example.org", "bob", NULL },
	{ "host is not a prefix match", BOB, "mail.example.or", "bob", NULL },
	{ "login must match the user", BOB, "mail.example.org", "alice", NULL },
	{ "login is case-sensitive", BOB, "mail.example.org", "Bob", NULL },
	{ "user NULL matches any login", BOB, "mail.example.org", NULL, "s3cret" },
	{ "entry without login matches any user", "machine h password p\n", "h", "anyone", "p" },
	{ "entry without login, user NULL", "machine h password p\n", "h", NULL, "p" },
	{ "first matching machine wins", "machine h password p1\nmachine h password p2\n", "h", "u", "p1" },
	{ "first matching login wins", "machine h login a password pa\nmachine h login b password pb\n"
	  "machine h login b password pb2\n", "h", "b", "pb" },
	{ "user NULL takes the first entry", "machine h login a password pa\nmachine h login b password pb\n", "h", NULL,
	  "pa" },
	{ "entry for another user skipped, entry without login used", "machine h login a password pa\n"
	  "machine h password any\n", "h", "b", "any" },
	{ "default when no machine matches", "machine h password m\ndefault password d\n", "x", "u", "d" },
	{ "machine after default wins", "default password d\nmachine h password m\n", "h", "u", "m" },
	{ "default first, no machine matches", "default password d\nmachine h password m\n", "x", "u", "d" },
	{ "default between machines", "machine a password pa\ndefault password d\nmachine h password m\n", "h", "u", "m" },
	{ "default login must match too", "default login bob password d\n", "x", "alice", NULL },
	{ "default login matches", "default login bob password d\n", "x", "bob", "d" },
	{ "first default wins", "default password d1\ndefault password d2\n", "x", NULL, "d1" },
	{ "machine with wrong login, then default", "machine h login a password m\ndefault password d\n", "h", "b", "d" },
	{ "default alone on one line", "machine a password pa default password d", "h", NULL, "d" },
	/* macdef */
	{ "macdef body skipped", "machine a password pa\nmacdef init\nmachine h password evil\n\nmachine h password good\n",
	  "h", NULL, "good" },
	{ "macdef body does not give a password", "machine h login bob\nmacdef m\npassword evil\n\n", "h", "bob", NULL },
	{ "macdef body does not end the entry", "machine h login bob\nmacdef m\nmachine x password evil\n\npassword good\n",
	  "h", "bob", "good" },
	{ "macdef body up to EOF", "machine h password p\nmacdef m\nmachine x password y\n", "x", NULL, NULL },
	{ "entry before an unterminated macdef", "machine h password p\nmacdef m\nmachine x password y", "h", NULL, "p" },
	{ "empty macdef body", "macdef m\n\nmachine h password p\n", "h", NULL, "p" },
	{ "macdef body with default", "machine a password pa\nmacdef m\ndefault password evil\n\n", "h", NULL, NULL },
	{ "macdef in a CRLF file ends at an empty line", "machine a password pa\r\nmacdef m\r\nmachine h password evil\r\n"
	  "\r\nmachine h password good\r\n", "h", NULL, "good" },
	/* tokens */
	{ "quoted login with a space", "machine h login \"bob smith\" password p\n", "h", "bob smith", "p" },
	{ "quoted password with spaces and escapes", "machine h password \"pa ss\\\"wo\\\\rd\"\n", "h", NULL,
	  "pa ss\"wo\\rd" },
	{ "quoted machine name", "machine \"h\" password p\n", "h", NULL, "p" },
	{ "backslash escapes a space in a bare token", "machine h password pa\\ ss\n", "h", NULL, "pa ss" },
	{ "backslash before an ordinary character", "machine h password \\p\\w\n", "h", NULL, "pw" },
	{ "quoted token at EOF without closing quote", "machine h password \"p w", "h", NULL, "p w" },
	{ "account token ignored", "machine h login bob account acct password p\n", "h", "bob", "p" },
	{ "account value \"password\" is not a keyword", "machine h account password password p\n", "h", NULL, "p" },
	{ "account without password does not match", "machine h login bob account p\n", "h", "bob", NULL },
	{ "unknown tokens ignored", "machine h port 25 login bob password p\n", "h", "bob", "p" },
	{ "login value \"machine\" is not a keyword", "machine h login machine password p\n", "h", "machine", "p" },
	{ "password value \"default\" is not a keyword", "machine h password default\n", "x", NULL, NULL },
	{ "password value \"default\"", "machine h password default\n", "h", NULL, "default" },
	{ "all on one line, several entries", "machine a login u password pa machine h login u password ph", "h", "u",
	  "ph" },
	{ "tabs and newlines between tokens", "machine\th\n\tlogin\tbob\n\n\tpassword\tp\n", "h", "bob", "p" },
	{ "CRLF line ends", "machine h\r\nlogin bob\r\npassword p\r\n", "h", "bob", "p" },
	{ "commas before tokens", "machine h ,login bob ,password p", "h", "bob", "p" },
	{ "commas after tokens separate them", "machine h, login bob, password p\n", "h", "bob", "p" },
	{ "commas alone separate tokens", "machine h,login bob,password p\n", "h", "bob", "p" },
	/* incomplete entries */
	{ "entry without a password does not match", "machine h login bob\n", "h", "bob", NULL },
	{ "entry without a password, then one with", "machine h login bob\nmachine h password p2\n", "h", "bob", "p2" },
	{ "entry without a password, then default", "machine h login bob\ndefault password d\n", "h", "bob", "d" },
	{ "password before any machine", "password p\nmachine h login bob\n", "h", "bob", NULL },
	{ "empty text", "", "h", NULL, NULL },
	{ "only white space", " \n\t\r\n,,\n", "h", NULL, NULL },
	{ "EOF after login", "machine x login", "x", "bob", NULL },
	{ "EOF after machine", "machine", "x", NULL, NULL },
	{ "EOF after password", "machine x login bob password", "x", "bob", NULL },
	{ "EOF after default", "default", "x", NULL, NULL },
	{ "EOF after macdef", "machine x password p macdef", "x", NULL, "p" },
};

static int run_ncase(const struct ncase *c)
{
	char *pw = (char *)"#untouched";
	int r = netrc_lookup(c->text, c->host, c->user, &pw);
	int bad = 0;
	if (c->want && r != 1)
		bad = fail("returned %d (password %s), want 1 and \"%s\"", r, r ? pw : "-", c->want);
	else if (c->want && strcmp(pw, c->want) != 0)
		bad = fail("password \"%s\", want \"%s\"", pw, c->want);
	else if (!c->want && r != 0)
		bad = fail("returned %d with \"%s\", want no match", r, pw);
	if (r)
		secret_free(pw);
	return bad;
}

static void test_netrc(void)
{
	for (size_t i = 0; i < NELEM(ncases); i++)
		reportf(run_ncase(&ncases[i]), "netrc_lookup: %s", ncases[i].desc);
}

/* ---- secret_get ---- */

static char tmpdir[64];
static int etc_netrc_match;  /* /etc/netrc exists and has an entry for the test host */

#define HOST "mail.example.org"
#define USER "bob"

static struct account *acc(const char *password, const char *passwordeval)
{
	struct account *a = account_new("acct", "t.rc", 1);
	a->host = xstrdup(HOST);
	a->user = xstrdup(USER);
	a->password = password ? xstrdup(password) : NULL;
	a->passwordeval = passwordeval ? xstrdup(passwordeval) : NULL;
	return a;
}

static int put_netrc(const char *text)
{
	char *path = xasprintf("%s/.netrc", tmpdir);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	int bad = fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text);
	if (fd >= 0)
		close(fd);
	free(path);
	return bad;
}

static void rm_netrc(void)
{
	char *path = xasprintf("%s/.netrc", tmpdir);
	unlink(path);
	free(path);
}

/* What secret_get gave. */
struct got {
	int rc;
	int done;          /* secret_get returned (the child did not hang) */
	int tty_opened;    /* the child could open /dev/tty */
	char source[32];
	char out[256];
	char msg[1024];
};

static void got_fill(struct got *g, int rc, const char *source, char *out, const struct perr *e)
{
	memset(g, 0, sizeof *g);
	g->rc = rc;
	g->done = 1;
	snprintf(g->source, sizeof g->source, "%s", rc == EX_OK && source ? source : "");
	snprintf(g->out, sizeof g->out, "%s", out ? out : "(null)");
	snprintf(g->msg, sizeof g->msg, "%s", rc == EX_OK ? "" : e->msg);
	secret_free(out);
}

static void get_here(const struct account *a, struct got *g)
{
	struct perr e;
	char *out = (char *)"#untouched";
	const char *source = NULL;
	perr_clear(&e);
	struct route r;
	route_from_account(a, &r);
	int rc = secret_get(&r.hop[0], &r.policy, &out, &source, &e);
	route_free(&r);
	got_fill(g, rc, source, out, &e);
}

/* secret_get in a child without a controlling terminal (setsid), whose
 * stdin is a pipe that nobody ever writes to or closes: the sources must
 * neither prompt nor read stdin. The child and whatever it started are
 * killed after 3 s. */
static void get_in_child(const struct account *a, struct got *g)
{
	int rp[2];
	memset(g, 0, sizeof *g);
	if (pipe2(rp, O_CLOEXEC) < 0) {
		snprintf(g->msg, sizeof g->msg, "pipe: %s", strerror(errno));
		return;
	}
	fflush(stdout);
	pid_t pid = fork();
	if (pid < 0) {
		snprintf(g->msg, sizeof g->msg, "fork: %s", strerror(errno));
		close(rp[0]);
		close(rp[1]);
		return;
	}
	if (pid == 0) {
		struct got r;
		int in[2];
		close(rp[0]);
		memset(&r, 0, sizeof r);
		if (setsid() < 0 || pipe(in) < 0 || dup2(in[0], 0) < 0)
			_exit(2);
		/* in[1], the write end, stays open for as long as the child lives */
		int fd = open("/dev/tty", O_RDWR | O_NOCTTY);
		if (fd >= 0) {
			r.tty_opened = 1;
			close(fd);
		} else {
			get_here(a, &r);
		}
		if (write(rp[1], &r, sizeof r) != (ssize_t)sizeof r)
			_exit(3);
		_exit(0);
	}
	close(rp[1]);
	struct pollfd pf = { rp[0], POLLIN, 0 };
	int ready = poll(&pf, 1, 3000);
	ssize_t n = ready > 0 ? read(rp[0], g, sizeof *g) : 0;
	close(rp[0]);
	if (ready <= 0) {
		kill(-pid, SIGKILL);  /* the child's session: it and its command */
		kill(pid, SIGKILL);
	}
	int st;
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	if (n != (ssize_t)sizeof *g) {
		memset(g, 0, sizeof *g);
		snprintf(g->msg, sizeof g->msg, ready <= 0 ? "timed out (hung)" : "child failed (status %d)", st);
	}
}

/* rc, source, out and the parts of msg ("|"-separated) as expected. */
static int check_got(const struct got *g, int rc, const char *source, const char *out, const char *msg)
{
	if (g->tty_opened)
		return fail("the child could open /dev/tty after setsid(); cannot test without a terminal");
	if (!g->done)
		return fail("%s", g->msg);
	if (g->rc != rc)
		return fail("status %d, want %d (%s)", g->rc, rc, g->msg);
	if (rc == EX_OK && strcmp(g->source, source) != 0)
		return fail("source \"%s\", want \"%s\"", g->source, source);
	if (strcmp(g->out, out) != 0)
		return fail("password \"%s\", want \"%s\"", g->out, out);
	if (msg && !why_has(g->msg, msg))
		return 1;
	return 0;
}

static int marker_exists(void)
{
	char *path = xasprintf("%s/ran", tmpdir);
	int r = access(path, F_OK) == 0;
	free(path);
	return r;
}

static void test_sources(void)
{
	struct account *a;
	struct got g;
	char *cmd;

	/* password wins over everything */
	rm_netrc();
	a = acc("pw1", NULL);
	get_here(a, &g);
	report("secret_get: password", check_got(&g, EX_OK, "password", "pw1", NULL));
	account_free(a);

	cmd = xasprintf("touch '%s/ran'; echo evalpw", tmpdir);
	a = acc("pw1", cmd);
	put_netrc("machine " HOST " login " USER " password netpw\n");
	get_here(a, &g);
	report("secret_get: password wins over passwordeval and ~/.netrc", check_got(&g, EX_OK, "password", "pw1", NULL));
	check_int("secret_get: passwordeval not run when password is set", marker_exists(), 0);
	account_free(a);

	/* passwordeval */
	a = acc(NULL, cmd);
	get_here(a, &g);
	report("secret_get: passwordeval wins over ~/.netrc", check_got(&g, EX_OK, "passwordeval", "evalpw", NULL));
	check_int("secret_get: passwordeval was run", marker_exists(), 1);
	account_free(a);
	free(cmd);
	rm_netrc();

	a = acc(NULL, "printf 'tok\\n\\nmore'");
	get_here(a, &g);
	report("secret_get: passwordeval first line", check_got(&g, EX_OK, "passwordeval", "tok", NULL));
	account_free(a);

	a = acc(NULL, "printf 'tok\\r\\nmore\\r\\n'");
	get_here(a, &g);
	report("secret_get: passwordeval first line, CRLF", check_got(&g, EX_OK, "passwordeval", "tok", NULL));
	account_free(a);

	a = acc(NULL, "printf ' t o k '");
	get_here(a, &g);
	report("secret_get: passwordeval keeps blanks, no newline needed",
	       check_got(&g, EX_OK, "passwordeval", " t o k ", NULL));
	account_free(a);

	a = acc(NULL, "echo s3cretout; echo 'vault is locked' >&2; echo second >&2; exit 3");
	get_here(a, &g);
	report("secret_get: passwordeval exit 3",
	       check_got(&g, EX_CONFIG, NULL, "(null)",
	                 "acct|passwordeval|exit status 3|vault is locked|!second|!s3cretout"));
	account_free(a);

	a = acc(NULL, "/nonexistent/postie-pw-helper");
	get_here(a, &g);
	report("secret_get: passwordeval command not found",
	       check_got(&g, EX_CONFIG, NULL, "(null)", "exit status 127|/nonexistent/postie-pw-helper"));
	account_free(a);

	a = acc(NULL, "true");
	get_here(a, &g);
	report("secret_get: passwordeval printing nothing",
	       check_got(&g, EX_CONFIG, NULL, "(null)", "acct|passwordeval printed no password"));
	account_free(a);

	a = acc(NULL, "echo 'no entry for bob' >&2");
	get_here(a, &g);
	report("secret_get: passwordeval printing only to stderr",
	       check_got(&g, EX_CONFIG, NULL, "(null)", "printed no password|no entry for bob"));
	account_free(a);

	a = acc(NULL, "printf '\\nlater'");
	get_here(a, &g);
	report("secret_get: passwordeval with an empty first line",
	       check_got(&g, EX_CONFIG, NULL, "(null)", "printed no password"));
	account_free(a);

	a = acc(NULL, "cat");
	get_in_child(a, &g);
	report("secret_get: passwordeval reading stdin gets /dev/null, not an open pipe",
	       check_got(&g, EX_CONFIG, NULL, "(null)", "printed no password"));
	account_free(a);

	a = acc(NULL, "read -r x; printf '%s' \"${x:-empty}\"");
	get_in_child(a, &g);
	report("secret_get: passwordeval's read sees EOF at once",
	       check_got(&g, EX_OK, "passwordeval", "empty", NULL));
	account_free(a);

	/* ~/.netrc */
	put_netrc("machine other.example.org password no\nmachine " HOST " login " USER " password netpw\n");
	a = acc(NULL, NULL);
	get_here(a, &g);
	report("secret_get: ~/.netrc", check_got(&g, EX_OK, "~/.netrc", "netpw", NULL));
	account_free(a);

	put_netrc("default login " USER " password dflt\n");
	a = acc(NULL, NULL);
	get_here(a, &g);
	report("secret_get: ~/.netrc default entry", check_got(&g, EX_OK, "~/.netrc", "dflt", NULL));
	account_free(a);

	/* nothing: no password, no passwordeval, no netrc entry, no terminal */
	const char *none = "acct|no password for user bob at " HOST "|set password or passwordeval|~/.netrc";
	put_netrc("machine " HOST " login alice password notbob\n");
	a = acc(NULL, NULL);
	get_in_child(a, &g);
	if (etc_netrc_match)
		report("secret_get: ~/.netrc for another user, then /etc/netrc",
		       !g.done || g.rc != EX_OK || strcmp(g.source, "/etc/netrc") != 0 ? fail("%s %s", g.source, g.msg) : 0);
	else
		report("secret_get: ~/.netrc for another user, no terminal",
		       check_got(&g, EX_CONFIG, NULL, "(null)", none));
	account_free(a);

	rm_netrc();
	a = acc(NULL, NULL);
	get_in_child(a, &g);
	if (etc_netrc_match)
		report("secret_get: no ~/.netrc, /etc/netrc",
		       !g.done || g.rc != EX_OK || strcmp(g.source, "/etc/netrc") != 0 ? fail("%s %s", g.source, g.msg) : 0);
	else
		report("secret_get: no source and no terminal", check_got(&g, EX_CONFIG, NULL, "(null)", none));
	account_free(a);

	/* a socket account has no host to look up in netrc */
	put_netrc("default password dflt\n");
	a = acc(NULL, NULL);
	free(a->host);
	a->host = NULL;
	a->socket = xstrdup("/run/postie-test.sock");
	get_in_child(a, &g);
	report("secret_get: socket account skips netrc, message names the socket",
	       check_got(&g, EX_CONFIG, NULL, "(null)", "no password for user bob at /run/postie-test.sock|set password"));
	account_free(a);
	rm_netrc();
}

static int etc_netrc(void)
{
	FILE *f = fopen("/etc/netrc", "r");
	if (!f)
		return 0;
	char buf[65536];
	size_t n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = '\0';
	char *pw = NULL;
	int r = netrc_lookup(buf, HOST, USER, &pw);
	secret_free(pw);
	printf("# /etc/netrc exists on this machine; it %s an entry for " USER " at " HOST "\n", r ? "has" : "has no");
	return r;
}

int main(void)
{
	char *old_home = getenv("HOME") ? xstrdup(getenv("HOME")) : NULL;

	test_choose();
	test_exposes();
	test_netrc();

	snprintf(tmpdir, sizeof tmpdir, "/tmp/t-auth.XXXXXX");
	if (!mkdtemp(tmpdir)) {
		check("temp dir", 0, strerror(errno), "created");
	} else {
		setenv("HOME", tmpdir, 1);
		etc_netrc_match = etc_netrc();
		test_sources();
		char *path = xasprintf("%s/ran", tmpdir);
		unlink(path);
		free(path);
		rm_netrc();
		if (rmdir(tmpdir) != 0)
			check("cleanup", 0, strerror(errno), "removed");
	}
	if (old_home)
		setenv("HOME", old_home, 1);
	free(old_home);
	return tap_done();
}
