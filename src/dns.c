/* dns.c - DNS for direct MX delivery and --configure: the answer parser
 * (pure: a cursor over the packet, every read bounds-checked, after
 * OpenSMTPD's unpack_dns.c), the CNAME chain, MX ordering, one lookup
 * through the C library's resolver, and the MX, address, TLSA and SRV
 * lookups built on it. Nothing here prints or exits. */
#include "dns.h"

#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <errno.h>
#include <netinet/in.h>
#include <resolv.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "util.h"

#define HEADER_SIZE 12
#define RR_MIN 11        /* root owner, type, class, TTL, RDLENGTH */
#define POINTER_HOPS 64  /* compression pointers followed per name */
#define ANSWER_MAX 65536 /* a DNS message over TCP at most */

/* A read position in a packet; err says why parsing stopped. */
struct cur {
	const unsigned char *p;
	size_t len, off;
	const char *err;
};

static int bad(struct cur *c, const char *why)
{
	if (!c->err)
		c->err = why;
	return -1;
}

static int get16(struct cur *c, unsigned *v)
{
	if (c->len - c->off < 2)
		return bad(c, "the packet ends inside a record");
	*v = (unsigned)c->p[c->off] << 8 | c->p[c->off + 1];
	c->off += 2;
	return 0;
}

static int get32(struct cur *c, unsigned long *v)
{
	unsigned hi, lo;
	if (get16(c, &hi) || get16(c, &lo))
		return -1;
	*v = (unsigned long)hi << 16 | lo;
	return 0;
}

/* Append one label to the text name out (n characters so far). */
static int add_label(struct cur *c, const unsigned char *l, unsigned len, char *out, size_t *n)
{
	if (*n)
		out[(*n)++] = '.';
	for (unsigned i = 0; i < len; i++) {
		if (l[i] <= ' ' || l[i] >= 0x7f || l[i] == '.' || l[i] == '\\')
			return bad(c, "a name holds a byte other than printable ASCII");
		out[(*n)++] = (char)l[i];
	}
	return 0;
}

/* The name at the cursor into out (DNS_NAME_SIZE), decompressed (RFC
 * 1035 4.1.4); the cursor moves past the name's bytes in place. */
static int get_name(struct cur *c, char *out)
{
	size_t pos = c->off, n = 0, wire = 1, resume = 0;
	int hops = 0;
	for (;;) {
		if (pos >= c->len)
			return bad(c, "a name runs past the end of the packet");
		unsigned b = c->p[pos];
		if ((b & 0xC0) == 0xC0) {
			if (pos + 1 >= c->len)
				return bad(c, "a name runs past the end of the packet");
			size_t to = (b & 0x3F) << 8 | c->p[pos + 1];
			if (to >= pos)
				return bad(c, "a compression pointer does not point backwards");
			if (++hops > POINTER_HOPS)
				return bad(c, "a compression pointer loop");
			if (!resume)
				resume = pos + 2;
			pos = to;
			continue;
		}
		if (b & 0xC0)
			return bad(c, "a label longer than 63 octets (or of an unknown type)");
		if (b == 0)
			break;
		wire += b + 1;
		if (wire > 255)
			return bad(c, "a name longer than 255 octets");
		if (c->len - pos - 1 < b)
			return bad(c, "a name runs past the end of the packet");
		if (add_label(c, c->p + pos + 1, b, out, &n))
			return -1;
		pos += 1 + b;
	}
	c->off = resume ? resume : pos + 1;
	if (n == 0)
		out[n++] = '.';
	out[n] = '\0';
	return 0;
}

/* Equal names: ASCII case ignored, and one trailing dot on either. */
static int name_eq(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	if (la > 1 && a[la - 1] == '.')
		la--;
	if (lb > 1 && b[lb - 1] == '.')
		lb--;
	return la == lb && ascii_ncasecmp(a, b, la) == 0;
}

static int get_header(struct cur *c, struct dns_header *h)
{
	unsigned f;
	if (c->len < HEADER_SIZE)
		return bad(c, "shorter than a DNS header");
	get16(c, &h->id);
	get16(c, &f);
	get16(c, &h->qdcount);
	get16(c, &h->ancount);
	get16(c, &h->nscount);
	get16(c, &h->arcount);
	h->qr = !!(f & 0x8000);
	h->opcode = (f >> 11) & 0xF;
	h->aa = !!(f & 0x0400);
	h->tc = !!(f & 0x0200);
	h->rd = !!(f & 0x0100);
	h->ra = !!(f & 0x0080);
	h->ad = !!(f & 0x0020);
	h->cd = !!(f & 0x0010);
	h->rcode = f & 0xF;
	if (!h->qr || h->opcode != 0)
		return bad(c, "not a response to a standard query");
	return 0;
}

/* The question section: one question, the one asked. */
static int get_question(struct cur *c, struct dns_answer *a, const char *qname, int qtype)
{
	unsigned type, class;
	if (a->h.qdcount == 0 && a->h.rcode != DNS_R_NOERROR)
		return 0;
	if (a->h.qdcount != 1)
		return bad(c, "not exactly one question");
	if (get_name(c, a->qname) || get16(c, &type) || get16(c, &class))
		return -1;
	a->qtype = (int)type;
	if ((qname && !name_eq(qname, a->qname)) || a->qtype != qtype || class != 1)
		return bad(c, "the question is not the one asked");
	return 0;
}

static void a_text(struct dns_rr *rr)
{
	rr->u.a.family = rr->type == DNS_T_A ? AF_INET : AF_INET6;
	inet_ntop(rr->u.a.family, rr->u.a.addr, rr->u.a.text, sizeof rr->u.a.text);
}

/* The RDATA of rr, whose type is known, ending exactly at end. TLSA data
 * stays in the packet (pointer only) until the record is kept. */
static int get_rdata(struct cur *c, struct dns_rr *rr, size_t end)
{
	size_t rdlen = end - c->off;
	switch (rr->type) {
	case DNS_T_A:
	case DNS_T_AAAA:
		if (rdlen != (rr->type == DNS_T_A ? 4u : 16u))
			return bad(c, "an address record of the wrong length");
		memcpy(rr->u.a.addr, c->p + c->off, rdlen);
		a_text(rr);
		c->off = end;
		return 0;
	case DNS_T_MX:
		if (get16(c, &rr->u.mx.pref) || get_name(c, rr->u.mx.host))
			return -1;
		break;
	case DNS_T_CNAME:
		if (get_name(c, rr->u.cname.target))
			return -1;
		break;
	case DNS_T_SRV:
		if (get16(c, &rr->u.srv.prio) || get16(c, &rr->u.srv.weight) ||
		    get16(c, &rr->u.srv.port) || get_name(c, rr->u.srv.target))
			return -1;
		break;
	default:                                    /* TLSA */
		if (rdlen < 3)
			return bad(c, "a TLSA record shorter than 3 octets");
		rr->u.tlsa.usage = c->p[c->off];
		rr->u.tlsa.selector = c->p[c->off + 1];
		rr->u.tlsa.mtype = c->p[c->off + 2];
		rr->u.tlsa.data = (unsigned char *)c->p + c->off + 3;
		rr->u.tlsa.len = rdlen - 3;
		c->off = end;
	}
	return c->off == end ? 0 : bad(c, "RDLENGTH does not match the record's data");
}

static int known_type(unsigned t)
{
	return t == DNS_T_A || t == DNS_T_AAAA || t == DNS_T_MX || t == DNS_T_CNAME ||
	       t == DNS_T_SRV || t == DNS_T_TLSA;
}

/* One record of the answer section into rr; *keep when it is of a known
 * type and class IN. */
static int get_rr(struct cur *c, struct dns_rr *rr, int *keep)
{
	unsigned type, class, rdlen;
	memset(rr, 0, sizeof *rr);
	if (get_name(c, rr->owner) || get16(c, &type) || get16(c, &class) ||
	    get32(c, &rr->ttl) || get16(c, &rdlen))
		return -1;
	if (c->len - c->off < rdlen)
		return bad(c, "RDLENGTH runs past the end of the packet");
	size_t end = c->off + rdlen;
	rr->type = (int)type;
	*keep = class == 1 && known_type(type);
	if (!*keep) {
		c->off = end;
		return 0;
	}
	return get_rdata(c, rr, end);
}

/* One record, of any section; fewer records than counted is an error. */
static int next_rr(struct cur *c, struct dns_rr *rr, int *keep)
{
	if (c->off >= c->len)
		return bad(c, "the packet holds fewer records than its counts say");
	return get_rr(c, rr, keep);
}

/* Every record of the answer section, of the known types, into *all;
 * the records of the other two sections read and dropped. */
static int get_answers(struct cur *c, const struct dns_header *h, struct dns_rr **all, size_t *n)
{
	size_t records = (size_t)h->ancount + h->nscount + h->arcount;
	struct dns_rr scratch;
	int keep;
	*all = NULL;
	*n = 0;
	if (records > (c->len - c->off) / RR_MIN)
		return bad(c, "the record counts exceed the packet");
	if (h->ancount)
		*all = xcalloc(h->ancount, sizeof **all);
	for (unsigned i = 0; i < h->ancount; i++) {
		if (next_rr(c, &(*all)[*n], &keep))
			return -1;
		*n += keep;
	}
	for (size_t i = h->ancount; i < records; i++)
		if (next_rr(c, &scratch, &keep))
			return -1;
	return 0;
}

static const struct dns_rr *find_cname(const struct dns_rr *all, size_t n, const char *owner)
{
	for (size_t i = 0; i < n; i++)
		if (all[i].type == DNS_T_CNAME && name_eq(all[i].owner, owner))
			return &all[i];
	return NULL;
}

/* a->name: the question name after the CNAMEs of the answer. */
static int follow_cnames(struct cur *c, struct dns_answer *a, const struct dns_rr *all, size_t n,
                         int qtype)
{
	if (qtype == DNS_T_CNAME)
		return 0;
	for (int hop = 0;; hop++) {
		const struct dns_rr *cn = find_cname(all, n, a->name);
		if (!cn)
			return 0;
		if (hop == DNS_CNAME_MAX)
			return bad(c, "a CNAME chain longer than 8, or a loop");
		snprintf(a->name, sizeof a->name, "%s", cn->u.cname.target);
	}
}

/* Keep the records of type qtype owned by a->name; TLSA data copied. */
static void collect(struct dns_answer *a, const struct dns_rr *all, size_t n, int qtype)
{
	a->rr = n ? xcalloc(n, sizeof *a->rr) : NULL;
	for (size_t i = 0; i < n; i++) {
		if (all[i].type != qtype || !name_eq(all[i].owner, a->name))
			continue;
		struct dns_rr *rr = &a->rr[a->nrr++];
		*rr = all[i];
		if (qtype == DNS_T_TLSA) {
			rr->u.tlsa.data = xmalloc(rr->u.tlsa.len + 1);
			memcpy(rr->u.tlsa.data, all[i].u.tlsa.data, rr->u.tlsa.len);
		}
	}
}

const char *dns_type_name(int type)
{
	switch (type) {
	case DNS_T_A: return "A";
	case DNS_T_CNAME: return "CNAME";
	case DNS_T_MX: return "MX";
	case DNS_T_AAAA: return "AAAA";
	case DNS_T_SRV: return "SRV";
	case DNS_T_TLSA: return "TLSA";
	default: return "other";
	}
}

int dns_parse(const unsigned char *pkt, size_t len, const char *qname, int qtype,
              struct dns_answer *out, struct perr *e)
{
	struct cur c = { pkt, len, 0, NULL };
	struct dns_rr *all = NULL;
	size_t n = 0;
	memset(out, 0, sizeof *out);
	out->qtype = qtype;
	snprintf(out->qname, sizeof out->qname, "%s", qname ? qname : "");
	if (get_header(&c, &out->h) == 0 && get_question(&c, out, qname, qtype) == 0 &&
	    get_answers(&c, &out->h, &all, &n) == 0) {
		snprintf(out->name, sizeof out->name, "%s", out->qname);
		if (follow_cnames(&c, out, all, n, qtype) == 0)
			collect(out, all, n, qtype);
	}
	free(all);
	if (!c.err)
		return 0;
	perr_fail(e, FC_DNS_TEMP, "%s lookup for %s: malformed answer (%s)", dns_type_name(qtype),
	          qname ? qname : out->qname, c.err);
	return -1;
}

void dns_answer_free(struct dns_answer *a)
{
	for (size_t i = 0; i < a->nrr; i++)
		if (a->rr[i].type == DNS_T_TLSA)
			free(a->rr[i].u.tlsa.data);
	free(a->rr);
	a->rr = NULL;
	a->nrr = 0;
}

/* The status an RCODE other than NOERROR and NXDOMAIN gives. */
static enum dns_status rcode_fail(const struct dns_answer *a, const char *what, struct perr *e)
{
	static const char *const names[] = {
		[DNS_R_FORMERR] = "format error (FORMERR)",
		[DNS_R_SERVFAIL] = "server failure (SERVFAIL)",
		[DNS_R_NOTIMP] = "not implemented (NOTIMP)",
		[DNS_R_REFUSED] = "refused (REFUSED)",
	};
	int rc = a->h.rcode;
	if (rc < (int)(sizeof names / sizeof names[0]) && names[rc])
		perr_fail(e, FC_DNS_TEMP, "%s: %s", what, names[rc]);
	else
		perr_fail(e, FC_DNS_TEMP, "%s: response code %d", what, rc);
	return DNS_TEMPFAIL;
}

/* What a parsed answer means (see dns_answer_status). */
static enum dns_status classify(const struct dns_answer *a, const char *qname, int qtype,
                                struct perr *e)
{
	char what[DNS_NAME_SIZE + 32];
	snprintf(what, sizeof what, "%s lookup for %s", dns_type_name(qtype), qname);
	if (a->h.tc) {
		perr_fail(e, FC_DNS_TEMP, "%s: truncated answer", what);
		return DNS_TEMPFAIL;
	}
	if (a->h.rcode == DNS_R_NXDOMAIN) {
		perr_fail(e, FC_DNS_NOTFOUND, "%s: no such domain (NXDOMAIN)", what);
		return DNS_NXDOMAIN;
	}
	if (a->h.rcode != DNS_R_NOERROR)
		return rcode_fail(a, what, e);
	if (a->nrr == 0) {
		perr_fail(e, FC_DNS_NOTFOUND, "%s: no %s records", what, dns_type_name(qtype));
		return DNS_NODATA;
	}
	perr_clear(e);
	return DNS_FOUND;
}

enum dns_status dns_answer_status(const unsigned char *pkt, size_t len, const char *qname,
                                  int qtype, struct dns_answer *out, struct perr *e)
{
	if (dns_parse(pkt, len, qname, qtype, out, e))
		return DNS_TEMPFAIL;
	return classify(out, qname ? qname : out->qname, qtype, e);
}

/* The query for name, or -1 when the name cannot be encoded. */
static int make_query(res_state st, const char *name, int qtype, unsigned char *q, size_t size)
{
	return res_nmkquery(st, ns_o_query, name, ns_c_in, qtype, NULL, 0, NULL, q, (int)size);
}

/* res_nsend's failure as a message. */
static void send_fail(const char *name, int qtype, int err, struct perr *e)
{
	const char *why = err == ETIMEDOUT ? "no answer from the name servers (server failure or timeout)"
	                  : err == ECONNREFUSED ? "no name server reachable (connection refused)"
	                  : strerror(err);
	perr_fail(e, FC_DNS_TEMP, "%s lookup for %s: %s", dns_type_name(qtype), name, why);
}

enum dns_status dns_lookup(const char *name, int qtype, struct dns_answer *out, struct perr *e)
{
	struct __res_state st;
	unsigned char q[NS_PACKETSZ];
	memset(out, 0, sizeof *out);
	memset(&st, 0, sizeof st);
	if (res_ninit(&st) != 0) {
		perr_fail(e, FC_DNS_TEMP, "%s lookup for %s: cannot initialise the resolver",
		          dns_type_name(qtype), name);
		return DNS_TEMPFAIL;
	}
#ifdef RES_TRUSTAD
	st.options |= RES_TRUSTAD;
#endif
	int qlen = make_query(&st, name, qtype, q, sizeof q);
	if (qlen < 0) {
		res_nclose(&st);
		perr_fail(e, FC_DNS_NOTFOUND, "%s lookup for %s: not a valid domain name",
		          dns_type_name(qtype), name);
		return DNS_NXDOMAIN;
	}
	unsigned char *ans = xmalloc(ANSWER_MAX);
	errno = 0;
	int alen = res_nsend(&st, q, qlen, ans, ANSWER_MAX);
	int err = errno ? errno : ETIMEDOUT;
	res_nclose(&st);
	enum dns_status s = DNS_TEMPFAIL;
	if (alen < 0)
		send_fail(name, qtype, err, e);
	else
		s = dns_answer_status(ans, (size_t)alen, name, qtype, out, e);
	free(ans);
	return s;
}

/* rnd for a NULL resolver: getrandom(2), else random(3). */
static unsigned system_rnd(unsigned n, void *arg)
{
	uint32_t r;
	(void)arg;
	if (getrandom(&r, sizeof r, 0) != (ssize_t)sizeof r)
		r = (uint32_t)random();
	return n ? r % n : 0;
}

static int by_host(const void *a, const void *b)
{
	const struct dns_mx_host *x = a, *y = b;
	int c = ascii_casecmp(x->host, y->host);
	return c ? c : (x->pref > y->pref) - (x->pref < y->pref);
}

static int by_pref(const void *a, const void *b)
{
	const struct dns_mx_host *x = a, *y = b;
	int c = (x->pref > y->pref) - (x->pref < y->pref);
	return c ? c : ascii_casecmp(x->host, y->host);
}

/* Fisher-Yates over each run of equal preference in sorted h. */
static void shuffle_equal(struct dns_mx_host *h, size_t n,
                          unsigned (*rnd)(unsigned, void *), void *arg)
{
	for (size_t lo = 0, hi; lo < n; lo = hi) {
		for (hi = lo + 1; hi < n && h[hi].pref == h[lo].pref; hi++)
			;
		for (size_t i = hi - lo; i > 1; i--) {
			size_t j = rnd((unsigned)i, arg) % i;
			struct dns_mx_host t = h[lo + i - 1];
			h[lo + i - 1] = h[lo + j];
			h[lo + j] = t;
		}
	}
}

size_t dns_mx_order(struct dns_mx_host *h, size_t n, unsigned (*rnd)(unsigned n, void *arg),
                    void *rnd_arg)
{
	size_t kept = 0;
	if (n == 0)
		return 0;
	qsort(h, n, sizeof *h, by_host);
	for (size_t i = 0; i < n; i++)
		if (kept == 0 || ascii_casecmp(h[kept - 1].host, h[i].host) != 0)
			h[kept++] = h[i];
	qsort(h, kept, sizeof *h, by_pref);
	shuffle_equal(h, kept, rnd ? rnd : system_rnd, rnd ? rnd_arg : NULL);
	return kept;
}

static enum dns_status ask(const struct dns_resolver *r, const char *name, int qtype,
                           struct dns_answer *out, struct perr *e)
{
	memset(out, 0, sizeof *out);
	if (r && r->lookup)
		return r->lookup(r->arg, name, qtype, out, e);
	return dns_lookup(name, qtype, out, e);
}

void dns_mx_list_free(struct dns_mx_list *l)
{
	free(l->host);
	l->host = NULL;
	l->n = 0;
}

/* The MX records of a found answer into l, ordered, those naming the
 * root left out; none left is the null MX (RFC 7505 3). */
static int mx_from_answer(const struct dns_resolver *r, const char *domain,
                          const struct dns_answer *a, struct dns_mx_list *l, struct perr *e)
{
	l->host = xcalloc(a->nrr, sizeof *l->host);
	for (size_t i = 0; i < a->nrr; i++) {
		if (strcmp(a->rr[i].u.mx.host, ".") == 0)
			continue;
		l->host[l->n].pref = a->rr[i].u.mx.pref;
		snprintf(l->host[l->n++].host, DNS_NAME_SIZE, "%s", a->rr[i].u.mx.host);
	}
	if (l->n == 0) {
		perr_fail(e, FC_DNS_NOTFOUND, "%s does not accept mail (null MX, RFC 7505; 5.1.10)",
		          domain);
		return -1;
	}
	l->n = dns_mx_order(l->host, l->n, r ? r->rnd : NULL, r ? r->rnd_arg : NULL);
	return 0;
}

/* No MX records: the domain itself when it has an address (RFC 5321 5.1). */
static int mx_implicit(const struct dns_resolver *r, const char *domain, struct dns_mx_list *l,
                       struct perr *e)
{
	struct dns_addr_list addrs;
	if (dns_addresses(r, domain, 1, &addrs, e)) {
		if (e->fc == FC_DNS_NOTFOUND)
			perr_fail(e, FC_DNS_NOTFOUND, "%s: no MX or address records", domain);
		return -1;
	}
	dns_addr_list_free(&addrs);
	l->host = xcalloc(1, sizeof *l->host);
	snprintf(l->host[0].host, DNS_NAME_SIZE, "%s", domain);
	l->n = 1;
	l->implicit = 1;
	return 0;
}

int dns_mx(const struct dns_resolver *r, const char *domain, struct dns_mx_list *out,
           struct perr *e)
{
	struct dns_answer a;
	memset(out, 0, sizeof *out);
	enum dns_status s = ask(r, domain, DNS_T_MX, &a, e);
	out->secure = a.h.ad;
	snprintf(out->name, sizeof out->name, "%s", a.name[0] ? a.name : domain);
	int rc = -1;
	if (s == DNS_FOUND)
		rc = mx_from_answer(r, domain, &a, out, e);
	else if (s == DNS_NODATA)
		rc = mx_implicit(r, domain, out, e);
	dns_answer_free(&a);
	if (rc == 0)
		perr_clear(e);
	return rc;
}

void dns_addr_list_free(struct dns_addr_list *l)
{
	free(l->addr);
	l->addr = NULL;
	l->n = 0;
}

/* Addresses of one answer, for the merge in dns_addresses. */
struct family_result {
	enum dns_status s;
	struct dns_answer a;
	struct perr e;
	size_t next;
};

/* Append the next address of f to out, when it has one left. */
static int take(struct family_result *f, struct dns_addr_list *out)
{
	if (f->s != DNS_FOUND || f->next >= f->a.nrr)
		return 0;
	const struct dns_rr *rr = &f->a.rr[f->next++];
	struct dns_addr *d = &out->addr[out->n++];
	d->family = rr->u.a.family;
	snprintf(d->text, sizeof d->text, "%s", rr->u.a.text);
	d->secure = f->a.h.ad;
	return 1;
}

/* Why neither family gave an address: a temporary failure first, then
 * NXDOMAIN, then the lack of records. */
static void no_address(const char *host, const struct family_result *f6,
                       const struct family_result *f4, struct perr *e)
{
	if (f6->s == DNS_TEMPFAIL)
		*e = f6->e;
	else if (f4->s == DNS_TEMPFAIL)
		*e = f4->e;
	else if (f6->s == DNS_NXDOMAIN || f4->s == DNS_NXDOMAIN)
		perr_fail(e, FC_DNS_NOTFOUND, "%s: no such domain (NXDOMAIN)", host);
	else
		perr_fail(e, FC_DNS_NOTFOUND, "%s: no address records", host);
}

int dns_addresses(const struct dns_resolver *r, const char *host, size_t limit,
                  struct dns_addr_list *out, struct perr *e)
{
	struct family_result f6 = { 0 }, f4 = { 0 };
	memset(out, 0, sizeof *out);
	f6.s = ask(r, host, DNS_T_AAAA, &f6.a, &f6.e);
	f4.s = ask(r, host, DNS_T_A, &f4.a, &f4.e);
	size_t total = f6.a.nrr + f4.a.nrr;
	if (limit == 0 || limit > total)
		limit = total;
	out->addr = limit ? xcalloc(limit, sizeof *out->addr) : NULL;
	while (out->n < limit) {
		int got = take(&f6, out);
		if (out->n < limit)
			got += take(&f4, out);
		if (!got)
			break;
	}
	dns_answer_free(&f6.a);
	dns_answer_free(&f4.a);
	if (out->n) {
		perr_clear(e);
		return 0;
	}
	no_address(host, &f6, &f4, e);
	return -1;
}

int dns_tlsa_usable(unsigned usage, unsigned selector, unsigned mtype, size_t len)
{
	if ((usage != 2 && usage != 3) || selector > 1)
		return 0;
	switch (mtype) {
	case 0: return len > 0;
	case 1: return len == 32;
	case 2: return len == 64;
	default: return 0;
	}
}

void dns_tlsa_list_free(struct dns_tlsa_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->rec[i].data);
	free(l->rec);
	l->rec = NULL;
	l->n = l->nusable = 0;
}

/* The records of a TLSA answer into l; the data moves over. */
static void tlsa_take(struct dns_answer *a, struct dns_tlsa_list *l)
{
	l->rec = a->nrr ? xcalloc(a->nrr, sizeof *l->rec) : NULL;
	for (size_t i = 0; i < a->nrr; i++) {
		struct dns_tlsa *t = &l->rec[l->n++];
		t->usage = a->rr[i].u.tlsa.usage;
		t->selector = a->rr[i].u.tlsa.selector;
		t->mtype = a->rr[i].u.tlsa.mtype;
		t->data = a->rr[i].u.tlsa.data;
		t->len = a->rr[i].u.tlsa.len;
		a->rr[i].u.tlsa.data = NULL;
		t->usable = dns_tlsa_usable(t->usage, t->selector, t->mtype, t->len);
		l->nusable += t->usable;
	}
}

/* "_LABEL._tcp.DOMAIN" into name (DNS_NAME_SIZE); -1 with e when it is
 * longer than a name may be. */
static int service_name(char *name, const char *label, const char *domain, int qtype,
                        struct perr *e)
{
	int w = snprintf(name, DNS_NAME_SIZE, "_%s._tcp.%s", label, domain);
	if (w >= 0 && w <= 253)
		return 0;
	perr_fail(e, FC_DNS_NOTFOUND, "%s lookup for _%s._tcp.%s: name too long", dns_type_name(qtype),
	          label, domain);
	return -1;
}

int dns_tlsa(const struct dns_resolver *r, const char *host, int port,
             struct dns_tlsa_list *out, struct perr *e)
{
	struct dns_answer a;
	char label[12];
	memset(out, 0, sizeof *out);
	snprintf(label, sizeof label, "%d", port);
	if (service_name(out->name, label, host, DNS_T_TLSA, e))
		return -1;
	enum dns_status s = ask(r, out->name, DNS_T_TLSA, &a, e);
	out->secure = a.h.ad;
	if (s == DNS_FOUND)
		tlsa_take(&a, out);
	dns_answer_free(&a);
	if (s == DNS_TEMPFAIL)
		return -1;
	perr_clear(e);
	return 0;
}

void dns_srv_list_free(struct dns_srv_list *l)
{
	free(l->rec);
	l->rec = NULL;
	l->n = 0;
}

/* The records of an SRV answer into l, those naming the root left out;
 * none left: the service is not offered (RFC 2782). */
static void srv_take(const struct dns_answer *a, struct dns_srv_list *l)
{
	l->rec = a->nrr ? xcalloc(a->nrr, sizeof *l->rec) : NULL;
	for (size_t i = 0; i < a->nrr; i++) {
		if (strcmp(a->rr[i].u.srv.target, ".") == 0)
			continue;
		struct dns_srv *s = &l->rec[l->n++];
		s->prio = a->rr[i].u.srv.prio;
		s->weight = a->rr[i].u.srv.weight;
		s->port = a->rr[i].u.srv.port;
		snprintf(s->target, sizeof s->target, "%s", a->rr[i].u.srv.target);
	}
	l->not_offered = a->nrr > 0 && l->n == 0;
}

int dns_srv(const struct dns_resolver *r, const char *service, const char *domain,
            struct dns_srv_list *out, struct perr *e)
{
	struct dns_answer a;
	memset(out, 0, sizeof *out);
	if (service_name(out->name, service, domain, DNS_T_SRV, e))
		return -1;
	enum dns_status s = ask(r, out->name, DNS_T_SRV, &a, e);
	out->secure = a.h.ad;
	if (s == DNS_FOUND)
		srv_take(&a, out);
	dns_answer_free(&a);
	if (s == DNS_TEMPFAIL)
		return -1;
	perr_clear(e);
	return 0;
}
