/* t-dns.c - unit tests for dns.c on the golden answers in the directory
 * given as the argument (else $GOLDEN_DNS_DIR; tests/golden/dns, made by
 * its mkpackets.py): the parser on good answers (compressed names, CNAME
 * chains, MX, A, AAAA, TLSA, header flags) and on malformed ones, what
 * each answer means, the MX order with fixed random functions, and
 * dns_mx, dns_addresses and dns_tlsa through a resolver that answers
 * from the golden files. SRV answers are built here by hand: the parser
 * on them, dns_srv through a resolver of its own, and configure.c's
 * choice of a record and of a provider. */
#include "dns.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "conf.h"
#include "configure.h"
#include "mx.h"
#include "util.h"

#include "tap.h"

static const char *dir;

/* The bytes of NAME.bin (allocated), or NULL. */
static unsigned char *load(const char *name, size_t *len)
{
	char *path = xasprintf("%s/%s.bin", dir, name);
	FILE *f = fopen(path, "rb");
	free(path);
	if (!f)
		return NULL;
	unsigned char *p = xmalloc(70000);
	*len = fread(p, 1, 70000, f);
	fclose(f);
	return p;
}

/* dns_answer_status on NAME.bin. */
static enum dns_status answer(const char *name, const char *qname, int qtype,
                              struct dns_answer *a, struct perr *e)
{
	size_t len;
	unsigned char *p = load(name, &len);
	if (!p) {
		memset(a, 0, sizeof *a);
		perr_fail(e, FC_INTERNAL, "%s/%s.bin: cannot read", dir, name);
		return DNS_TEMPFAIL;
	}
	enum dns_status s = dns_answer_status(p, len, qname, qtype, a, e);
	free(p);
	return s;
}

static int t_mx_several(void)
{
	struct dns_answer a;
	struct perr e;
	int bad = answer("mx-several", "example.org", DNS_T_MX, &a, &e) != DNS_FOUND;
	if (bad)
		return fail("%s", e.msg);
	bad = a.h.id != 0x1234 || !a.h.qr || !a.h.rd || !a.h.ra || a.h.ad || a.h.tc || a.h.aa ||
	      a.h.rcode || a.h.ancount != 4 || a.nrr != 4 || strcmp(a.name, "example.org") ||
	      a.rr[0].u.mx.pref != 20 || strcmp(a.rr[0].u.mx.host, "mx2.example.org") ||
	      strcmp(a.rr[2].u.mx.host, "mx3.mail.example.net") ||
	      strcmp(a.rr[3].owner, "EXAMPLE.org") || a.rr[3].ttl != 3600;
	if (bad)
		fail("fields: id %x nrr %zu rr0 %u %s rr2 %s rr3 owner %s", a.h.id, a.nrr,
		     a.nrr ? a.rr[0].u.mx.pref : 0, a.nrr ? a.rr[0].u.mx.host : "",
		     a.nrr > 2 ? a.rr[2].u.mx.host : "", a.nrr > 3 ? a.rr[3].owner : "");
	dns_answer_free(&a);
	return bad;
}

static int t_trailing_dot(void)
{
	struct dns_answer a;
	struct perr e;
	int bad = answer("mx-several", "EXAMPLE.ORG.", DNS_T_MX, &a, &e) != DNS_FOUND || a.nrr != 4;
	if (bad)
		fail("%s (nrr %zu)", e.msg, a.nrr);
	dns_answer_free(&a);
	return bad;
}

static int t_null_mx_parsed(void)
{
	struct dns_answer a;
	struct perr e;
	int bad = answer("mx-null", "null.example.org", DNS_T_MX, &a, &e) != DNS_FOUND ||
	          a.nrr != 1 || strcmp(a.rr[0].u.mx.host, ".") || a.rr[0].u.mx.pref != 0 || !a.h.ad;
	if (bad)
		fail("%s nrr %zu host %s", e.msg, a.nrr, a.nrr ? a.rr[0].u.mx.host : "");
	dns_answer_free(&a);
	return bad;
}

static int t_cname_chain(void)
{
	struct dns_answer a;
	struct perr e;
	int bad = answer("mx-cname", "alias.example.org", DNS_T_MX, &a, &e) != DNS_FOUND ||
	          strcmp(a.name, "real.example.net") || a.nrr != 1 || a.rr[0].u.mx.pref != 5 ||
	          strcmp(a.rr[0].u.mx.host, "mx.example.net");
	if (bad)
		fail("%s: name %s nrr %zu", e.msg, a.name, a.nrr);
	dns_answer_free(&a);
	return bad;
}

static int t_addresses_parsed(void)
{
	struct dns_answer a, b;
	struct perr e;
	int bad = answer("a", "mx1.example.org", DNS_T_A, &a, &e) != DNS_FOUND || a.nrr != 2 ||
	          strcmp(a.rr[1].u.a.text, "192.0.2.2") || a.rr[1].u.a.family != AF_INET || !a.h.ad;
	bad |= answer("aaaa", "mx1.example.org", DNS_T_AAAA, &b, &e) != DNS_FOUND || b.nrr != 1 ||
	       strcmp(b.rr[0].u.a.text, "2001:db8::1") || b.rr[0].u.a.family != AF_INET6 ||
	       b.rr[0].u.a.addr[15] != 1;
	if (bad)
		fail("A %zu %s, AAAA %zu %s", a.nrr, a.nrr > 1 ? a.rr[1].u.a.text : "", b.nrr,
		     b.nrr ? b.rr[0].u.a.text : "");
	dns_answer_free(&a);
	dns_answer_free(&b);
	return bad;
}

static int t_ad_unset(void)
{
	struct dns_answer a;
	struct perr e;
	int bad = answer("a-insecure", "mx2.example.org", DNS_T_A, &a, &e) != DNS_FOUND || a.h.ad ||
	          a.nrr != 1 || strcmp(a.rr[0].u.a.text, "198.51.100.7");
	dns_answer_free(&a);
	return bad ? fail("AD %d nrr %zu", a.h.ad, a.nrr) : 0;
}

/* The bytes mkpackets.py's digest(seed, n) makes. */
static int digest_is(const unsigned char *d, size_t len, unsigned seed, size_t n)
{
	if (len != n)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (d[i] != ((seed * 31 + i * 7) & 0xFF))
			return 0;
	return 1;
}

static int t_tlsa_parsed(void)
{
	struct dns_answer a;
	struct perr e;
	int bad = answer("tlsa-digest", "_25._tcp.mx1.example.org", DNS_T_TLSA, &a, &e) != DNS_FOUND ||
	          a.nrr != 5 || a.rr[0].u.tlsa.usage != 3 || a.rr[0].u.tlsa.selector != 1 ||
	          a.rr[0].u.tlsa.mtype != 1 || !digest_is(a.rr[0].u.tlsa.data, a.rr[0].u.tlsa.len, 1, 32) ||
	          !digest_is(a.rr[1].u.tlsa.data, a.rr[1].u.tlsa.len, 2, 64) ||
	          a.rr[2].u.tlsa.len != 31;
	dns_answer_free(&a);
	return bad ? fail("%s nrr %zu", e.msg, a.nrr) : 0;
}

static int t_tlsa_cert(void)
{
	struct dns_answer a;
	struct perr e;
	int bad = answer("tlsa-cert", "_25._tcp.mx2.example.org", DNS_T_TLSA, &a, &e) != DNS_FOUND ||
	          a.nrr != 1 || a.rr[0].u.tlsa.mtype != 0 ||
	          !digest_is(a.rr[0].u.tlsa.data, a.rr[0].u.tlsa.len, 6, 1500);
	dns_answer_free(&a);
	return bad ? fail("%s nrr %zu", e.msg, a.nrr) : 0;
}

/* What an answer means: status, exit status, message. */
static const struct status_case {
	const char *file, *qname;
	int qtype;
	enum dns_status status;
	int ex;
	const char *msg;
} status_cases[] = {
	{ "nxdomain", "nx.example.org", DNS_T_MX, DNS_NXDOMAIN, 68,
	  "MX lookup for nx.example.org: no such domain (NXDOMAIN)" },
	{ "servfail", "sf.example.org", DNS_T_MX, DNS_TEMPFAIL, 75,
	  "MX lookup for sf.example.org: server failure (SERVFAIL)" },
	{ "refused", "ref.example.org", DNS_T_MX, DNS_TEMPFAIL, 75,
	  "MX lookup for ref.example.org: refused (REFUSED)" },
	{ "implicit-mx", "bare.example.org", DNS_T_MX, DNS_NODATA, 68,
	  "MX lookup for bare.example.org: no MX records" },
	{ "truncated-tc", "example.org", DNS_T_MX, DNS_TEMPFAIL, 75,
	  "MX lookup for example.org: truncated answer" },
	{ "mx-several", "example.org", DNS_T_MX, DNS_FOUND, 0, "" },
	/* malformed: always temporary, the reason named */
	{ "cut", "example.org", DNS_T_MX, DNS_TEMPFAIL, 75,
	  "MX lookup for example.org: malformed answer (the packet ends inside a record)" },
	{ "rdlength-past-end", "mx1.example.org", DNS_T_A, DNS_TEMPFAIL, 75,
	  "A lookup for mx1.example.org: malformed answer (RDLENGTH runs past the end of the packet)" },
	{ "rdlength-a-5", "mx1.example.org", DNS_T_A, DNS_TEMPFAIL, 75,
	  "A lookup for mx1.example.org: malformed answer (an address record of the wrong length)" },
	{ "ancount-too-big", "example.org", DNS_T_MX, DNS_TEMPFAIL, 75,
	  "MX lookup for example.org: malformed answer (the packet holds fewer records than its counts say)" },
	{ "arcount-too-big", "example.org", DNS_T_MX, DNS_TEMPFAIL, 75,
	  "MX lookup for example.org: malformed answer (the packet holds fewer records than its counts say)" },
	{ "ancount-huge", "example.org", DNS_T_MX, DNS_TEMPFAIL, 75,
	  "MX lookup for example.org: malformed answer (the record counts exceed the packet)" },
	{ "pointer-loop", "example.org", DNS_T_MX, DNS_TEMPFAIL, 75,
	  "MX lookup for example.org: malformed answer (a compression pointer loop)" },
	{ "pointer-forward", "example.org", DNS_T_MX, DNS_TEMPFAIL, 75,
	  "MX lookup for example.org: malformed answer (a compression pointer does not point backwards)" },
	{ "label-64", "example.org", DNS_T_MX, DNS_TEMPFAIL, 75,
	  "MX lookup for example.org: malformed answer (a label longer than 63 octets (or of an unknown type))" },
	{ "name-too-long", "example.org", DNS_T_MX, DNS_TEMPFAIL, 75,
	  "MX lookup for example.org: malformed answer (a name longer than 255 octets)" },
	{ "cname-loop", "loop1.example.org", DNS_T_MX, DNS_TEMPFAIL, 75,
	  "MX lookup for loop1.example.org: malformed answer (a CNAME chain longer than 8, or a loop)" },
	{ "a", "mx2.example.org", DNS_T_A, DNS_TEMPFAIL, 75,
	  "A lookup for mx2.example.org: malformed answer (the question is not the one asked)" },
	{ "a", "mx1.example.org", DNS_T_AAAA, DNS_TEMPFAIL, 75,
	  "AAAA lookup for mx1.example.org: malformed answer (the question is not the one asked)" },
};

static void t_statuses(void)
{
	for (size_t i = 0; i < NELEM(status_cases); i++) {
		const struct status_case *c = &status_cases[i];
		struct dns_answer a;
		struct perr e;
		enum dns_status s = answer(c->file, c->qname, c->qtype, &a, &e);
		int bad = s != c->status || e.ex != c->ex || strcmp(e.msg, c->msg) != 0;
		if (bad)
			fail("status %d ex %d \"%s\"", (int)s, e.ex, e.msg);
		reportf(bad, "%s.bin: %s", c->file, c->msg[0] ? c->msg : "found");
		dns_answer_free(&a);
	}
}

/* Every prefix of a good answer is refused, never read past its end
 * (the prefixes are copied to buffers of exactly their length). */
static int t_prefixes(void)
{
	static const struct { const char *file; int qtype; } c[] = {
		{ "mx-several", DNS_T_MX }, { "mx-cname", DNS_T_MX },
		{ "tlsa-digest", DNS_T_TLSA }, { "aaaa", DNS_T_AAAA },
	};
	for (size_t f = 0; f < NELEM(c); f++) {
		size_t len;
		unsigned char *p = load(c[f].file, &len);
		if (!p)
			return fail("cannot read %s.bin", c[f].file);
		for (size_t n = 0; n < len; n++) {
			unsigned char *cut = xmalloc(n ? n : 1);
			memcpy(cut, p, n);
			struct dns_answer a;
			struct perr e;
			int parsed = dns_parse(cut, n, NULL, c[f].qtype, &a, &e) == 0;
			dns_answer_free(&a);
			free(cut);
			if (parsed) {
				free(p);
				return fail("%s.bin cut to %zu octets parsed", c[f].file, n);
			}
		}
		free(p);
	}
	return 0;
}

/* rnd that always picks the last candidate: the sort order stays. */
static unsigned rnd_last(unsigned n, void *arg)
{
	(void)arg;
	return n - 1;
}

/* rnd that always picks the first candidate. */
static unsigned rnd_first(unsigned n, void *arg)
{
	(void)n;
	(void)arg;
	return 0;
}

static int hosts_are(const struct dns_mx_host *h, size_t n, const char *want)
{
	char got[1024] = "";
	for (size_t i = 0; i < n; i++)
		snprintf(got + strlen(got), sizeof got - strlen(got), "%s%u %s", i ? ", " : "",
		         h[i].pref, h[i].host);
	if (strcmp(got, want) == 0)
		return 0;
	return fail("got \"%s\", want \"%s\"", got, want);
}

static int t_order(void)
{
	struct dns_mx_host h[] = { { 20, "b.example" }, { 10, "c.example" }, { 30, "A.example" },
	                           { 10, "a.example" }, { 10, "d.example" }, { 25, "B.EXAMPLE" } };
	struct dns_mx_host g[NELEM(h)];
	memcpy(g, h, sizeof h);
	size_t n = dns_mx_order(h, NELEM(h), rnd_last, NULL);
	if (hosts_are(h, n, "10 a.example, 10 c.example, 10 d.example, 20 b.example"))
		return 1;
	/* Fisher-Yates with j = 0: [a c d] -> [d c a] -> [c d a] */
	n = dns_mx_order(g, NELEM(g), rnd_first, NULL);
	return hosts_are(g, n, "10 c.example, 10 d.example, 10 a.example, 20 b.example");
}

/* The resolver of the tests: names and types to golden files; a NULL
 * file is a server that does not answer. */
static const struct fake {
	const char *name;
	int qtype;
	const char *file;
} fakes[] = {
	{ "example.org", DNS_T_MX, "mx-several" },
	{ "null.example.org", DNS_T_MX, "mx-null" },
	{ "alias.example.org", DNS_T_MX, "mx-cname" },
	{ "nx.example.org", DNS_T_MX, "nxdomain" },
	{ "sf.example.org", DNS_T_MX, "servfail" },
	{ "bare.example.org", DNS_T_MX, "implicit-mx" },
	{ "bare.example.org", DNS_T_AAAA, "implicit-aaaa" },
	{ "bare.example.org", DNS_T_A, "implicit-a" },
	{ "empty.example.org", DNS_T_MX, "empty-mx" },
	{ "empty.example.org", DNS_T_AAAA, "empty-aaaa" },
	{ "empty.example.org", DNS_T_A, "empty-a" },
	{ "half.example.org", DNS_T_MX, "half-mx" },
	{ "half.example.org", DNS_T_AAAA, NULL },
	{ "half.example.org", DNS_T_A, "half-a" },
	{ "mx1.example.org", DNS_T_AAAA, "aaaa" },
	{ "mx1.example.org", DNS_T_A, "a" },
	{ "mx2.example.org", DNS_T_AAAA, NULL },
	{ "mx2.example.org", DNS_T_A, "a-insecure" },
	{ "_25._tcp.mx1.example.org", DNS_T_TLSA, "tlsa-digest" },
	{ "_25._tcp.mx2.example.org", DNS_T_TLSA, "tlsa-cert" },
	{ "_25._tcp.mx3.example.org", DNS_T_TLSA, NULL },
	{ "_25._tcp.mx4.example.org", DNS_T_TLSA, "tlsa-servfail" },
	{ "_25._tcp.mx9.example.org", DNS_T_TLSA, "tlsa-nxdomain" },
};

static enum dns_status fake_lookup(void *arg, const char *name, int qtype,
                                   struct dns_answer *out, struct perr *e)
{
	(void)arg;
	for (size_t i = 0; i < NELEM(fakes); i++) {
		if (strcmp(fakes[i].name, name) || fakes[i].qtype != qtype)
			continue;
		if (fakes[i].file)
			return answer(fakes[i].file, name, qtype, out, e);
		perr_fail(e, FC_DNS_TEMP, "%s lookup for %s: no answer from the name servers "
		          "(server failure or timeout)", dns_type_name(qtype), name);
		return DNS_TEMPFAIL;
	}
	perr_fail(e, FC_INTERNAL, "the test resolver has no %s %s", dns_type_name(qtype), name);
	return DNS_TEMPFAIL;
}

static const struct dns_resolver fake = { fake_lookup, NULL, rnd_last, NULL };
static const struct dns_resolver fake_shuffled = { fake_lookup, NULL, rnd_first, NULL };

static int t_mx_list(void)
{
	struct dns_mx_list l;
	struct perr e;
	if (dns_mx(&fake, "example.org", &l, &e))
		return fail("%s", e.msg);
	int bad = hosts_are(l.host, l.n, "10 mx1.example.org, 10 mx3.mail.example.net, "
	                    "20 mx2.example.org") || l.implicit || l.secure || e.ex != 0;
	dns_mx_list_free(&l);
	if (bad || dns_mx(&fake_shuffled, "example.org", &l, &e))
		return bad ? bad : fail("%s", e.msg);
	bad = hosts_are(l.host, l.n, "10 mx3.mail.example.net, 10 mx1.example.org, "
	                "20 mx2.example.org");
	dns_mx_list_free(&l);
	return bad;
}

static int t_mx_cname(void)
{
	struct dns_mx_list l;
	struct perr e;
	if (dns_mx(&fake, "alias.example.org", &l, &e))
		return fail("%s", e.msg);
	int bad = hosts_are(l.host, l.n, "5 mx.example.net") || strcmp(l.name, "real.example.net");
	dns_mx_list_free(&l);
	return bad;
}

static int t_mx_implicit(void)
{
	struct dns_mx_list l;
	struct perr e;
	if (dns_mx(&fake, "bare.example.org", &l, &e))
		return fail("%s", e.msg);
	int bad = hosts_are(l.host, l.n, "0 bare.example.org") || !l.implicit;
	dns_mx_list_free(&l);
	return bad;
}

/* dns_mx's failures: exit status and message. */
static const struct mx_fail_case {
	const char *domain;
	int ex;
	const char *msg;
} mx_fail_cases[] = {
	{ "null.example.org", 68, "null.example.org does not accept mail (null MX, RFC 7505; 5.1.10)" },
	{ "nx.example.org", 68, "MX lookup for nx.example.org: no such domain (NXDOMAIN)" },
	{ "sf.example.org", 75, "MX lookup for sf.example.org: server failure (SERVFAIL)" },
	{ "empty.example.org", 68, "empty.example.org: no MX or address records" },
	{ "half.example.org", 75, "AAAA lookup for half.example.org: no answer from the name "
	  "servers (server failure or timeout)" },
};

static void t_mx_failures(void)
{
	for (size_t i = 0; i < NELEM(mx_fail_cases); i++) {
		const struct mx_fail_case *c = &mx_fail_cases[i];
		struct dns_mx_list l;
		struct perr e;
		int rc = dns_mx(&fake, c->domain, &l, &e);
		int bad = rc != -1 || e.ex != c->ex || strcmp(e.msg, c->msg) || l.n != 0;
		if (bad)
			fail("rc %d ex %d \"%s\" n %zu", rc, e.ex, e.msg, l.n);
		reportf(bad, "dns_mx %s: %d, %s", c->domain, c->ex, c->msg);
		dns_mx_list_free(&l);
	}
}

static int addrs_are(const struct dns_addr_list *l, const char *want)
{
	char got[1024] = "";
	for (size_t i = 0; i < l->n; i++)
		snprintf(got + strlen(got), sizeof got - strlen(got), "%s%s%s", i ? " " : "",
		         l->addr[i].text, l->addr[i].secure ? "(ad)" : "");
	if (strcmp(got, want) == 0)
		return 0;
	return fail("got \"%s\", want \"%s\"", got, want);
}

static int t_addresses(void)
{
	static const struct { const char *host; size_t limit; const char *want; } c[] = {
		{ "mx1.example.org", 0, "2001:db8::1(ad) 192.0.2.1(ad) 192.0.2.2(ad)" },
		{ "mx1.example.org", 2, "2001:db8::1(ad) 192.0.2.1(ad)" },
		{ "mx1.example.org", 1, "2001:db8::1(ad)" },
		{ "mx2.example.org", 5, "198.51.100.7" },          /* AAAA timed out */
	};
	for (size_t i = 0; i < NELEM(c); i++) {
		struct dns_addr_list l;
		struct perr e;
		if (dns_addresses(&fake, c[i].host, c[i].limit, &l, &e))
			return fail("%s: %s", c[i].host, e.msg);
		int bad = addrs_are(&l, c[i].want);
		dns_addr_list_free(&l);
		if (bad)
			return bad;
	}
	return 0;
}

static int t_addresses_none(void)
{
	struct dns_addr_list l;
	struct perr e;
	int rc = dns_addresses(&fake, "empty.example.org", 5, &l, &e);
	if (rc != -1 || e.ex != 68 || strcmp(e.msg, "empty.example.org: no address records"))
		return fail("rc %d ex %d \"%s\"", rc, e.ex, e.msg);
	rc = dns_addresses(&fake, "half.example.org", 5, &l, &e);
	if (rc != -1 || e.ex != 75)
		return fail("half: rc %d ex %d \"%s\"", rc, e.ex, e.msg);
	return 0;
}

static int t_tlsa_list(void)
{
	struct dns_tlsa_list l;
	struct perr e;
	if (dns_tlsa(&fake, "mx1.example.org", 25, &l, &e))
		return fail("%s", e.msg);
	int bad = l.n != 5 || l.nusable != 2 || !l.secure || !l.rec[0].usable || !l.rec[1].usable ||
	          l.rec[2].usable || l.rec[3].usable || l.rec[4].usable ||
	          strcmp(l.name, "_25._tcp.mx1.example.org") ||
	          !digest_is(l.rec[1].data, l.rec[1].len, 2, 64);
	if (bad)
		fail("n %zu usable %zu secure %d", l.n, l.nusable, l.secure);
	dns_tlsa_list_free(&l);
	if (bad || dns_tlsa(&fake, "mx2.example.org", 25, &l, &e))
		return bad ? bad : fail("%s", e.msg);
	bad = l.n != 1 || l.nusable != 1 || l.secure || l.rec[0].len != 1500;
	dns_tlsa_list_free(&l);
	return bad ? fail("full certificate: n %zu", l.n) : 0;
}

static int t_tlsa_none_or_fail(void)
{
	struct dns_tlsa_list l;
	struct perr e;
	if (dns_tlsa(&fake, "mx9.example.org", 25, &l, &e) || l.n || !l.secure)
		return fail("NXDOMAIN: %s n %zu secure %d", e.msg, l.n, l.secure);
	int rc = dns_tlsa(&fake, "mx4.example.org", 25, &l, &e);
	if (rc != -1 || e.ex != 75 ||
	    strcmp(e.msg, "TLSA lookup for _25._tcp.mx4.example.org: server failure (SERVFAIL)"))
		return fail("SERVFAIL: rc %d ex %d \"%s\"", rc, e.ex, e.msg);
	rc = dns_tlsa(&fake, "mx3.example.org", 25, &l, &e);
	if (rc != -1 || e.ex != 75)
		return fail("timeout: rc %d ex %d \"%s\"", rc, e.ex, e.msg);
	return 0;
}

static int t_tlsa_usable(void)
{
	static const struct { unsigned u, s, m; size_t len; int want; } c[] = {
		{ 3, 1, 1, 32, 1 }, { 3, 0, 2, 64, 1 }, { 2, 0, 0, 900, 1 }, { 2, 1, 1, 32, 1 },
		{ 3, 1, 1, 31, 0 }, { 3, 1, 2, 32, 0 }, { 3, 0, 0, 0, 0 }, { 1, 0, 1, 32, 0 },
		{ 0, 0, 1, 32, 0 }, { 3, 2, 1, 32, 0 }, { 3, 1, 3, 32, 0 }, { 4, 1, 1, 32, 0 },
	};
	for (size_t i = 0; i < NELEM(c); i++)
		if (dns_tlsa_usable(c[i].u, c[i].s, c[i].m, c[i].len) != c[i].want)
			return fail("%u %u %u (%zu octets): want %d", c[i].u, c[i].s, c[i].m, c[i].len,
			            c[i].want);
	return 0;
}

/* ---- mx.c: the route to a domain, as --pretend shows it ---- */

/* mx_show_route's lines for domain with these settings. */
static char *route_text(const char *domain, int tls, int dane, size_t limit)
{
	struct route r;
	char *text = NULL;
	size_t len = 0;
	memset(&r, 0, sizeof r);
	r.mx.on = 1;
	r.mx.port = 25;
	r.mx.timeout = 5;
	r.mx.tls = tls;
	r.mx.dane = dane;
	r.mx.address_limit = limit;
	r.mx.resolver = &fake;
	r.policy.name = "a";
	r.policy.helo = "client.example.org";
	FILE *f = open_memstream(&text, &len);
	mx_show_route(&r, domain, f, "");
	fclose(f);
	return text;
}

static int route_is(const char *domain, int tls, int dane, size_t limit, const char *want)
{
	char *got = route_text(domain, tls, dane, limit);
	int bad = strcmp(got, want) != 0;
	if (bad)
		fail("route %s: got\n%swant\n%s", domain, got, want);
	free(got);
	return bad;
}

/* example.org: MX 10 mx1 and mx3.mail.example.net (rnd_last keeps that
 * order), 20 mx2. mx1 has validated addresses and two usable TLSA
 * records; mx3 has no answer at all (left out); mx2's A is not
 * validated (no TLSA lookup) and its AAAA lookup fails. */
static int t_route_policies(void)
{
	return route_is("example.org", TLS_UNSET, 1, 5,
	                "route example.org: mx1.example.org[2001:db8::1] preference 10, TLS DANE (2 usable TLSA records)\n"
	                "route example.org: mx1.example.org[192.0.2.1] preference 10, TLS DANE (2 usable TLSA records)\n"
	                "route example.org: mx1.example.org[192.0.2.2] preference 10, TLS DANE (2 usable TLSA records)\n"
	                "route example.org: mx2.example.org[198.51.100.7] preference 20, TLS opportunistic\n"
	                "route example.org: a host left out: the test resolver has no AAAA mx3.mail.example.net\n") ||
	       route_is("example.org", TLS_ON, 0, 5,
	                "route example.org: mx1.example.org[2001:db8::1] preference 10, TLS required (tls on)\n"
	                "route example.org: mx1.example.org[192.0.2.1] preference 10, TLS required (tls on)\n"
	                "route example.org: mx1.example.org[192.0.2.2] preference 10, TLS required (tls on)\n"
	                "route example.org: mx2.example.org[198.51.100.7] preference 20, TLS required (tls on)\n"
	                "route example.org: a host left out: the test resolver has no AAAA mx3.mail.example.net\n") ||
	       route_is("example.org", TLS_OFF, 1, 2,
	                "route example.org: mx1.example.org[2001:db8::1] preference 10, TLS off (tls off)\n"
	                "route example.org: mx1.example.org[192.0.2.1] preference 10, TLS off (tls off)\n");
}

/* No route: null MX (68), NXDOMAIN (68), SERVFAIL (75); an implicit MX. */
static int t_route_none(void)
{
	return route_is("null.example.org", TLS_UNSET, 1, 5,
	                "route null.example.org: null.example.org does not accept mail (null MX, RFC 7505; 5.1.10)\n") ||
	       route_is("nx.example.org", TLS_UNSET, 1, 5,
	                "route nx.example.org: MX lookup for nx.example.org: no such domain (NXDOMAIN)\n") ||
	       route_is("sf.example.org", TLS_UNSET, 1, 5,
	                "route sf.example.org: MX lookup for sf.example.org: server failure (SERVFAIL)\n") ||
	       route_is("bare.example.org", TLS_UNSET, 1, 5,
	                "route bare.example.org: bare.example.org[203.0.113.5] preference 0 (no MX records, "
	                "implicit MX), TLS opportunistic\n");
}

/* ---- SRV: answers built by hand ---- */

/* A packet being built. */
struct pkt {
	unsigned char b[512];
	size_t n;
};

static void put8(struct pkt *p, unsigned v)
{
	p->b[p->n++] = (unsigned char)v;
}

static void put16(struct pkt *p, unsigned v)
{
	put8(p, v >> 8 & 0xFF);
	put8(p, v & 0xFF);
}

/* name uncompressed; "." is the root. */
static void put_name(struct pkt *p, const char *name)
{
	while (*name && strcmp(name, ".") != 0) {
		size_t len = strcspn(name, ".");
		put8(p, (unsigned)len);
		memcpy(p->b + p->n, name, len);
		p->n += len;
		name += len + (name[len] == '.');
	}
	put8(p, 0);
}

/* A response (ID 0x5353; QR, RD, RA; rcode) to qname SRV IN, announcing
 * ancount answers. */
static void srv_head(struct pkt *p, unsigned rcode, unsigned ancount, const char *qname)
{
	p->n = 0;
	put16(p, 0x5353);
	put16(p, 0x8180 | rcode);
	put16(p, 1);
	put16(p, ancount);
	put16(p, 0);
	put16(p, 0);
	put_name(p, qname);
	put16(p, DNS_T_SRV);
	put16(p, 1);
}

/* One SRV record, owned by the question name (a pointer to it). A NULL
 * target is a pointer to the question name (compressed, which RFC 2782
 * does not have); rdfix is added to the RDLENGTH. */
struct srv_case {
	unsigned prio, weight, port;
	const char *target;
};

static void srv_rr(struct pkt *p, const struct srv_case *r, int rdfix)
{
	put16(p, 0xC00C);
	put16(p, DNS_T_SRV);
	put16(p, 1);
	put16(p, 0);
	put16(p, 3600);
	size_t at = p->n;
	put16(p, 0);
	put16(p, r->prio);
	put16(p, r->weight);
	put16(p, r->port);
	if (r->target)
		put_name(p, r->target);
	else
		put16(p, 0xC00C);
	size_t len = p->n - at - 2 + (size_t)rdfix;
	p->b[at] = (unsigned char)(len >> 8);
	p->b[at + 1] = (unsigned char)len;
}

/* A NOERROR answer to qname with records r[0..n). */
static void srv_packet(struct pkt *p, const char *qname, const struct srv_case *r, size_t n)
{
	srv_head(p, DNS_R_NOERROR, (unsigned)n, qname);
	for (size_t i = 0; i < n; i++)
		srv_rr(p, &r[i], 0);
}

static const struct srv_case srv_three[] = {
	{ 10, 5, 465, "smtp.example.org" },
	{ 0, 0, 0, "." },
	{ 5, 65535, 4650, NULL },
};

static int t_srv_parsed(void)
{
	struct pkt p;
	struct dns_answer a;
	struct perr e;
	srv_packet(&p, "_submissions._tcp.example.org", srv_three, NELEM(srv_three));
	enum dns_status s = dns_answer_status(p.b, p.n, "_submissions._tcp.EXAMPLE.org.", DNS_T_SRV, &a, &e);
	int bad = s != DNS_FOUND || a.nrr != 3 || a.rr[0].type != DNS_T_SRV || a.rr[0].ttl != 3600 ||
	          a.rr[0].u.srv.prio != 10 || a.rr[0].u.srv.weight != 5 || a.rr[0].u.srv.port != 465 ||
	          strcmp(a.rr[0].u.srv.target, "smtp.example.org") ||
	          strcmp(a.rr[0].owner, "_submissions._tcp.example.org") ||
	          strcmp(a.rr[1].u.srv.target, ".") || a.rr[1].u.srv.port != 0 ||
	          a.rr[2].u.srv.weight != 65535 || a.rr[2].u.srv.port != 4650 ||
	          strcmp(a.rr[2].u.srv.target, "_submissions._tcp.example.org") ||
	          strcmp(dns_type_name(DNS_T_SRV), "SRV");
	if (bad)
		fail("status %d \"%s\" nrr %zu target0 %s", (int)s, e.msg, a.nrr,
		     a.nrr ? a.rr[0].u.srv.target : "");
	dns_answer_free(&a);
	return bad;
}

/* What a hand-built SRV answer means; which: the packet to build. */
static const struct srv_status_case {
	const char *what;
	unsigned rcode, ancount;
	int rdfix;            /* with ancount 1: srv_three[0] with this RDLENGTH change */
	size_t cut;           /* octets cut off the end */
	enum dns_status status;
	int ex;
	const char *msg;
} srv_status_cases[] = {
	{ "NODATA", DNS_R_NOERROR, 0, 0, 0, DNS_NODATA, 68,
	  "SRV lookup for _submission._tcp.example.org: no SRV records" },
	{ "NXDOMAIN", DNS_R_NXDOMAIN, 0, 0, 0, DNS_NXDOMAIN, 68,
	  "SRV lookup for _submission._tcp.example.org: no such domain (NXDOMAIN)" },
	{ "SERVFAIL", DNS_R_SERVFAIL, 0, 0, 0, DNS_TEMPFAIL, 75,
	  "SRV lookup for _submission._tcp.example.org: server failure (SERVFAIL)" },
	{ "RDLENGTH one short", DNS_R_NOERROR, 1, -1, 0, DNS_TEMPFAIL, 75,
	  "SRV lookup for _submission._tcp.example.org: malformed answer (RDLENGTH does not match "
	  "the record's data)" },
	{ "RDLENGTH one long", DNS_R_NOERROR, 1, 1, 0, DNS_TEMPFAIL, 75,
	  "SRV lookup for _submission._tcp.example.org: malformed answer (RDLENGTH runs past the end "
	  "of the packet)" },
	{ "RDATA of priority and weight only", DNS_R_NOERROR, 1, -20, 20, DNS_TEMPFAIL, 75,
	  "SRV lookup for _submission._tcp.example.org: malformed answer (the packet ends inside a "
	  "record)" },
};

static void t_srv_statuses(void)
{
	const char *q = "_submission._tcp.example.org";
	for (size_t i = 0; i < NELEM(srv_status_cases); i++) {
		const struct srv_status_case *c = &srv_status_cases[i];
		struct pkt p;
		struct dns_answer a;
		struct perr e;
		srv_head(&p, c->rcode, c->ancount, q);
		if (c->ancount)
			srv_rr(&p, &srv_three[0], c->rdfix);
		enum dns_status s = dns_answer_status(p.b, p.n - c->cut, q, DNS_T_SRV, &a, &e);
		int bad = s != c->status || e.ex != c->ex || strcmp(e.msg, c->msg) != 0;
		if (bad)
			fail("status %d ex %d \"%s\"", (int)s, e.ex, e.msg);
		reportf(bad, "SRV answer, %s: %s", c->what, c->msg);
		dns_answer_free(&a);
	}
}

/* Every prefix of a good SRV answer is refused. */
static int t_srv_prefixes(void)
{
	struct pkt p;
	srv_packet(&p, "_submissions._tcp.example.org", srv_three, NELEM(srv_three));
	for (size_t n = 0; n < p.n; n++) {
		unsigned char *cut = xmalloc(n ? n : 1);
		memcpy(cut, p.b, n);
		struct dns_answer a;
		struct perr e;
		int parsed = dns_parse(cut, n, NULL, DNS_T_SRV, &a, &e) == 0;
		dns_answer_free(&a);
		free(cut);
		if (parsed)
			return fail("the SRV answer cut to %zu octets parsed", n);
	}
	return 0;
}

/* The resolver of the SRV tests: example.org has three records (one
 * ".", left out), dot.example.org only ".", nx.example.org does not
 * exist, sf.example.org fails. */
static enum dns_status srv_lookup(void *arg, const char *name, int qtype,
                                  struct dns_answer *out, struct perr *e)
{
	static const struct srv_case dot[] = { { 0, 0, 0, "." } };
	struct pkt p;
	(void)arg;
	if (strcmp(name, "_submissions._tcp.example.org") == 0)
		srv_packet(&p, name, srv_three, NELEM(srv_three));
	else if (strcmp(name, "_submissions._tcp.dot.example.org") == 0)
		srv_packet(&p, name, dot, NELEM(dot));
	else
		srv_head(&p, strstr(name, ".nx.") ? DNS_R_NXDOMAIN : DNS_R_SERVFAIL, 0, name);
	return dns_answer_status(p.b, p.n, name, qtype, out, e);
}

static const struct dns_resolver srv_fake = { srv_lookup, NULL, NULL, NULL };

static int t_srv_list(void)
{
	struct dns_srv_list l;
	struct perr e;
	if (dns_srv(&srv_fake, "submissions", "example.org", &l, &e))
		return fail("%s", e.msg);
	int bad = l.n != 2 || l.not_offered || l.secure || strcmp(l.name, "_submissions._tcp.example.org") ||
	          strcmp(l.rec[0].target, "smtp.example.org") || l.rec[0].port != 465 ||
	          l.rec[1].prio != 5 || l.rec[1].port != 4650 || e.ex != 0;
	if (bad)
		fail("n %zu not_offered %d name %s", l.n, l.not_offered, l.name);
	dns_srv_list_free(&l);
	if (bad || dns_srv(&srv_fake, "submissions", "dot.example.org", &l, &e))
		return bad ? bad : fail("%s", e.msg);
	bad = l.n != 0 || !l.not_offered;
	dns_srv_list_free(&l);
	if (bad || dns_srv(&srv_fake, "submissions", "nx.example.org", &l, &e))
		return bad ? fail("\".\" only: n %zu", l.n) : fail("%s", e.msg);
	return l.n != 0 || l.not_offered ? fail("NXDOMAIN: n %zu", l.n) : 0;
}

static int t_srv_failures(void)
{
	struct dns_srv_list l;
	struct perr e;
	char *longname = xmalloc(300);
	memset(longname, 'a', 250);
	strcpy(longname + 250, ".org");
	int rc = dns_srv(&srv_fake, "submission", "sf.example.org", &l, &e);
	int bad = rc != -1 || e.ex != 75 || l.n != 0 ||
	          strcmp(e.msg, "SRV lookup for _submission._tcp.sf.example.org: server failure (SERVFAIL)");
	if (bad)
		fail("SERVFAIL: rc %d ex %d \"%s\"", rc, e.ex, e.msg);
	dns_srv_list_free(&l);
	rc = dns_srv(&srv_fake, "submission", longname, &l, &e);
	if (!bad && (rc != -1 || e.ex != 68 || !strstr(e.msg, ": name too long")))
		bad = fail("too long: rc %d ex %d \"%s\"", rc, e.ex, e.msg);
	dns_srv_list_free(&l);
	free(longname);
	return bad;
}

/* configure_choose: the index of the record chosen. */
static int t_srv_choose(void)
{
	static const struct {
		struct dns_srv rec[4];
		size_t n, want;
	} c[] = {
		{ { { 0, 0, 587, "a" } }, 1, 0 },
		/* lowest priority first, whatever the weights */
		{ { { 10, 100, 1, "a" }, { 5, 0, 2, "b" }, { 7, 50, 3, "c" } }, 3, 1 },
		/* equal priority: the highest weight */
		{ { { 5, 1, 1, "a" }, { 5, 60, 2, "b" }, { 5, 20, 3, "c" }, { 6, 99, 4, "d" } }, 4, 1 },
		/* equal priority and weight: the target first in ASCII order, case ignored */
		{ { { 1, 5, 1, "b.example" }, { 1, 5, 2, "A.example" }, { 1, 5, 3, "a.examplf" } }, 3, 1 },
		/* the same target: the lowest port */
		{ { { 1, 5, 587, "a" }, { 1, 5, 465, "A" } }, 2, 1 },
	};
	if (configure_choose(NULL, 0) != NULL)
		return fail("no records: not NULL");
	for (size_t i = 0; i < NELEM(c); i++) {
		const struct dns_srv *got = configure_choose(c[i].rec, c[i].n);
		if (got != &c[i].rec[c[i].want])
			return fail("case %zu: chose %s port %u", i, got->target, got->port);
	}
	return 0;
}

static int t_provider(void)
{
	static const struct { const char *host, *want; } c[] = {
		{ "aspmx.l.google.com", "google" }, { "ALT1.ASPMX.L.GOOGLE.COM.", "google" },
		{ "gmr-smtp-in.l.googlemail.com", "google" },
		{ "example-org.mail.protection.outlook.com", "microsoft" },
		{ "outlook-com.olc.protection.outlook.com.", "microsoft" },
		{ "google.com", NULL }, { "outlook.com.", NULL }, { "notgoogle.com", NULL },
		{ "mx.google.com.example.org", NULL }, { "mx.example.org", NULL }, { ".", NULL },
	};
	for (size_t i = 0; i < NELEM(c); i++) {
		const char *got = configure_provider(c[i].host);
		if ((got == NULL) != (c[i].want == NULL) || (got && strcmp(got, c[i].want)))
			return fail("%s: got %s, want %s", c[i].host, got ? got : "NULL",
			            c[i].want ? c[i].want : "NULL");
	}
	return 0;
}

int main(int argc, char **argv)
{
	static const struct tap_case cases[] = {
		{ "MX answer: header flags, compressed names, owners in any case", t_mx_several },
		{ "question name matched ignoring case and a trailing dot", t_trailing_dot },
		{ "null MX: one record, exchange the root", t_null_mx_parsed },
		{ "CNAME chain in any order, then the MX of the canonical name", t_cname_chain },
		{ "A and AAAA records, as text, AD set", t_addresses_parsed },
		{ "AD unset", t_ad_unset },
		{ "TLSA records with digests", t_tlsa_parsed },
		{ "TLSA record holding a whole certificate (1,500 octets)", t_tlsa_cert },
		{ "every prefix of a good answer refused", t_prefixes },
		{ "MX order: preference, equal ones shuffled, duplicates dropped", t_order },
		{ "dns_mx: ordered, duplicates dropped, shuffled by the resolver's rnd", t_mx_list },
		{ "dns_mx: through a CNAME, canonical name kept", t_mx_cname },
		{ "dns_mx: no MX, an address: implicit MX", t_mx_implicit },
		{ "dns_addresses: IPv6 and IPv4 alternating, limit, AD per family", t_addresses },
		{ "dns_addresses: none (68), or a lookup failed (75)", t_addresses_none },
		{ "dns_tlsa: records, usable ones flagged, AD", t_tlsa_list },
		{ "dns_tlsa: NXDOMAIN none, SERVFAIL and timeout 75", t_tlsa_none_or_fail },
		{ "TLSA usability (RFC 7672 3.1)", t_tlsa_usable },
		{ "MX route: order, address limit, TLS policy per host, a host left out", t_route_policies },
		{ "MX route: null MX, NXDOMAIN, SERVFAIL; implicit MX", t_route_none },
		{ "SRV answer: fields, owner and target, compressed or not", t_srv_parsed },
		{ "every prefix of a good SRV answer refused", t_srv_prefixes },
		{ "dns_srv: records, target \".\" left out (alone: not offered), NXDOMAIN none", t_srv_list },
		{ "dns_srv: SERVFAIL 75, a name too long 68", t_srv_failures },
		{ "--configure's record: priority, weight, target, port", t_srv_choose },
		{ "--configure's provider of an MX host", t_provider },
	};
	dir = argc > 1 ? argv[1] : getenv("GOLDEN_DNS_DIR");
	if (!dir) {
		fprintf(stderr, "usage: t-dns DIR (the golden DNS answers, tests/golden/dns)\n");
		return 2;
	}
	run_cases(cases, NELEM(cases));
	t_statuses();
	t_mx_failures();
	t_srv_statuses();
	return tap_done();
}
