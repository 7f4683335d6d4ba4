/* dns.h - every DNS question postie asks: a pure parser of answer
 * packets (header, question, answer section, CNAME chain), the MX
 * ordering of RFC 5321 5.1, one lookup through the C library's resolver
 * (res_nsend, the AD bit kept with RES_TRUSTAD), the three lookups route
 * code makes for direct MX delivery: the MX list of a domain (implicit
 * and null MX), the addresses of one MX host, its TLSA records; and the
 * SRV records of a service (RFC 2782), which --configure asks for.
 * Nothing here prints or exits; failures come back as struct perr with
 * class FC_DNS_NOTFOUND (68: the name, or any mail host for it, does not
 * exist) or FC_DNS_TEMP (75: server failure, refusal, timeout, no server,
 * an answer truncated or malformed). */
#ifndef POSTIE_DNS_H
#define POSTIE_DNS_H

#include <stddef.h>

#include "status.h"

/* Record types (RFC 1035 3.2.2, RFC 3596, RFC 2782, RFC 6698). */
enum {
	DNS_T_A = 1,
	DNS_T_CNAME = 5,
	DNS_T_MX = 15,
	DNS_T_AAAA = 28,
	DNS_T_SRV = 33,
	DNS_T_TLSA = 52,
};

/* A name in text form: at most 253 characters and the NUL, no trailing
 * dot; the root is ".". Labels hold only the printable ASCII characters
 * other than '.' and '\\' (an answer with any other byte in a name is
 * refused as malformed). */
#define DNS_NAME_SIZE 256
/* "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255" and the NUL */
#define DNS_ADDR_SIZE 46
/* CNAMEs followed from the question name at most (RFC 1034 3.6.2). */
#define DNS_CNAME_MAX 8

/* One resource record of class IN, as dns_parse keeps it. */
struct dns_rr {
	int type;                       /* DNS_T_* */
	unsigned long ttl;
	char owner[DNS_NAME_SIZE];
	union {
		struct { unsigned pref; char host[DNS_NAME_SIZE]; } mx;  /* host "." : null MX */
		struct { char target[DNS_NAME_SIZE]; } cname;
		struct {                    /* target "." : the service is not offered */
			unsigned prio, weight, port;
			char target[DNS_NAME_SIZE];
		} srv;
		struct {                    /* A and AAAA */
			int family;         /* AF_INET, AF_INET6 */
			unsigned char addr[16];
			char text[DNS_ADDR_SIZE];
		} a;
		struct {
			unsigned char usage, selector, mtype;
			unsigned char *data;  /* allocated; len bytes (up to 65,532) */
			size_t len;
		} tlsa;
	} u;
};

/* The header of an answer (RFC 1035 4.1.1, RFC 4035 3.2.3 for AD/CD). */
struct dns_header {
	unsigned id;
	int qr, opcode, aa, tc, rd, ra, ad, cd, rcode;
	unsigned qdcount, ancount, nscount, arcount;
};

/* RCODEs (RFC 1035 4.1.1). */
enum { DNS_R_NOERROR = 0, DNS_R_FORMERR = 1, DNS_R_SERVFAIL = 2, DNS_R_NXDOMAIN = 3,
       DNS_R_NOTIMP = 4, DNS_R_REFUSED = 5 };

/* A parsed answer: the header, the question, and the records of the
 * asked type whose owner is the canonical name. */
struct dns_answer {
	struct dns_header h;
	char qname[DNS_NAME_SIZE];  /* the question as the packet has it */
	int qtype;
	/* qname after the answer's CNAME chain (qname itself without one;
	 * no chain is followed when the question asks for CNAME) */
	char name[DNS_NAME_SIZE];
	struct dns_rr *rr;          /* allocated, in packet order */
	size_t nrr;
};

/* Parse the answer pkt[0..len) to a question for qname (NULL: whatever
 * the packet asks; else compared ignoring ASCII case and a trailing dot)
 * of type qtype. Pure: no I/O, no resolver state. Checks: a response
 * (QR) to a standard query; one question (none accepted when RCODE is not
 * NOERROR) matching qname, qtype and class IN; record counts that fit the
 * packet; every name in the answer section decompressed within the
 * packet, pointers only backwards and at most 64 of them per name,
 * labels of at most 63 octets, names of at most 255; RDLENGTH inside the
 * packet and exactly the data of an A (4), AAAA (16), MX, CNAME, SRV
 * or TLSA (at least 3) record (an SRV target is read compressed or not,
 * though RFC 2782 has it uncompressed); the authority and additional sections are read
 * the same way and dropped. Records of other types or classes are
 * skipped; bytes after the last record are ignored.
 * Returns 0, or -1 with e (FC_DNS_TEMP, "TYPE lookup for NAME: malformed
 * answer (why)"); out is always safe to give to dns_answer_free. */
int dns_parse(const unsigned char *pkt, size_t len, const char *qname, int qtype,
              struct dns_answer *out, struct perr *e);
void dns_answer_free(struct dns_answer *a);

/* "A", "CNAME", "MX", "AAAA", "SRV", "TLSA"; "other" for other types. */
const char *dns_type_name(int type);

/* What one lookup found. */
enum dns_status {
	DNS_FOUND,     /* records of the type at the canonical name */
	DNS_NODATA,    /* the name exists, no record of the type (NOERROR, none) */
	DNS_NXDOMAIN,  /* the (canonical) name does not exist */
	DNS_TEMPFAIL,  /* SERVFAIL, REFUSED, another RCODE, TC, timeout, no
	                  server, a malformed answer: ask again later */
};

/* dns_parse, then what the answer means. TC set: DNS_TEMPFAIL (the
 * resolver retries over TCP; a truncated answer is never taken as
 * complete). e is filled for every status but DNS_FOUND: DNS_NODATA and
 * DNS_NXDOMAIN with FC_DNS_NOTFOUND ("MX lookup for example.org: no such
 * domain (NXDOMAIN)", "...: no MX records"), DNS_TEMPFAIL with
 * FC_DNS_TEMP ("...: server failure (SERVFAIL)"). out holds what was
 * parsed (the AD bit in out->h.ad) whatever the status. */
enum dns_status dns_answer_status(const unsigned char *pkt, size_t len, const char *qname,
                                  int qtype, struct dns_answer *out, struct perr *e);

/* One question to the name servers of resolv.conf (their timeout and
 * attempts), through a private resolver state initialised per call
 * (res_ninit), with RES_TRUSTAD so that the AD bit of a validating
 * resolver reaches out->h.ad (glibc >= 2.31 clears it otherwise). The
 * query goes by res_nmkquery/res_nsend, which retries over TCP when the
 * UDP answer is truncated. glibc's res_nsend moves on to the next server
 * after SERVFAIL, NOTIMP or REFUSED and, when none answers otherwise,
 * fails with ETIMEDOUT exactly as after a timeout: those cases give one
 * message, "no answer from the name servers (server failure or
 * timeout)". name is taken as absolute (no search list). Results as
 * dns_answer_status; a name that cannot be put in a query (a label over
 * 63 octets, say) gives DNS_NXDOMAIN, "...: not a valid domain name". */
enum dns_status dns_lookup(const char *name, int qtype, struct dns_answer *out,
                           struct perr *e);

/* Where the lookups below send their questions, and the randomness of
 * the MX order. A NULL resolver means dns_lookup and getrandom(2); the
 * unit tests answer from golden packets instead. */
struct dns_resolver {
	enum dns_status (*lookup)(void *arg, const char *name, int qtype,
	                          struct dns_answer *out, struct perr *e);
	void *arg;
	/* a number in [0, n), uniformly; NULL: getrandom(2) */
	unsigned (*rnd)(unsigned n, void *arg);
	void *rnd_arg;
};

/* One MX host. */
struct dns_mx_host {
	unsigned pref;
	char host[DNS_NAME_SIZE];
};

/* Sort h[0..n) by preference (RFC 5321 5.1), equal preferences in a
 * random order (rnd as in struct dns_resolver; NULL: getrandom), a host
 * named twice (ignoring ASCII case) kept once, at its lowest preference.
 * Returns the number of hosts kept. */
size_t dns_mx_order(struct dns_mx_host *h, size_t n, unsigned (*rnd)(unsigned n, void *arg),
                    void *rnd_arg);

/* The mail hosts of a domain, in the order to try them. */
struct dns_mx_list {
	struct dns_mx_host *host;   /* allocated */
	size_t n;                   /* at least 1 on success */
	int implicit;               /* no MX records: the domain itself, preference 0 */
	int secure;                 /* the MX answer (or its denial) had the AD bit */
	char name[DNS_NAME_SIZE];   /* the domain after CNAMEs (its canonical name) */
};

/* The MX hosts of domain (RFC 5321 5.1, RFC 7505): the MX RRset after
 * CNAMEs, ordered by dns_mx_order; MX records whose exchange is the root
 * (".") are left out. Returns 0 and fills out, or -1 with e:
 *   no MX record left: the null MX ("MX 0 .", RFC 7505 3; the preference
 *     is not looked at) -> FC_DNS_NOTFOUND, "example.org does not accept
 *     mail (null MX, RFC 7505; 5.1.10)"
 *   NXDOMAIN -> FC_DNS_NOTFOUND
 *   no MX records (NODATA): the AAAA and A records of the domain decide:
 *     any -> an implicit MX, the domain itself at preference 0 (out->
 *     implicit); none -> FC_DNS_NOTFOUND "example.org: no MX or address
 *     records"; none and one of them failed for now -> FC_DNS_TEMP
 *   SERVFAIL, timeout, malformed -> FC_DNS_TEMP
 * out is always safe to give to dns_mx_list_free. */
int dns_mx(const struct dns_resolver *r, const char *domain, struct dns_mx_list *out,
           struct perr *e);
void dns_mx_list_free(struct dns_mx_list *l);

/* One address of an MX host, as a literal for connect. */
struct dns_addr {
	int family;                 /* AF_INET6 or AF_INET */
	char text[DNS_ADDR_SIZE];   /* "2001:db8::1", "192.0.2.1" */
	int secure;                 /* its RRset's answer had the AD bit */
};

struct dns_addr_list {
	struct dns_addr *addr;      /* allocated */
	size_t n;
};

/* The AAAA and A records of host (both asked, CNAMEs followed), at most
 * limit of them (0: all), IPv6 and IPv4 alternating starting with IPv6
 * (RFC 8305 4), each family in answer order. One family's failure does
 * not matter when the other has addresses. Returns 0 with out->n >= 1,
 * or -1 with e: FC_DNS_TEMP when a lookup failed for now and none gave an
 * address, else FC_DNS_NOTFOUND ("mx1.example.org: no such domain
 * (NXDOMAIN)", "mx1.example.org: no address records"). out is always safe
 * to give to dns_addr_list_free. */
int dns_addresses(const struct dns_resolver *r, const char *host, size_t limit,
                  struct dns_addr_list *out, struct perr *e);
void dns_addr_list_free(struct dns_addr_list *l);

/* One TLSA record (RFC 6698 2.1). */
struct dns_tlsa {
	unsigned char usage, selector, mtype;
	unsigned char *data;        /* allocated */
	size_t len;
	/* usable for SMTP (RFC 7672 3.1): usage 2 (DANE-TA) or 3 (DANE-EE),
	 * selector 0 or 1, matching type 0 (any length but 0), 1 (32 octets)
	 * or 2 (64 octets) */
	int usable;
};

/* The TLSA RRset of one MX host. Unusable records are kept, flagged: a
 * secure RRset with none usable still makes TLS mandatory (RFC 7672
 * 2.2). */
struct dns_tlsa_list {
	struct dns_tlsa *rec;       /* allocated, in answer order */
	size_t n, nusable;
	int secure;                 /* the answer (or its denial) had the AD bit */
	char name[DNS_NAME_SIZE];   /* "_25._tcp.mx1.example.org" */
};

/* The TLSA records at _PORT._tcp.HOST (RFC 7672 2.2.1), CNAMEs followed.
 * NXDOMAIN or NODATA: 0 with out->n == 0 (not an error). Returns 0, or
 * -1 with e (FC_DNS_TEMP: SERVFAIL, timeout, malformed: the caller
 * defers, it never downgrades; FC_DNS_NOTFOUND when the name cannot be
 * formed). out is always safe to give to dns_tlsa_list_free. */
int dns_tlsa(const struct dns_resolver *r, const char *host, int port,
             struct dns_tlsa_list *out, struct perr *e);
void dns_tlsa_list_free(struct dns_tlsa_list *l);

/* 1 when a TLSA record with these fields and len octets of data is
 * usable for SMTP (see struct dns_tlsa). */
int dns_tlsa_usable(unsigned usage, unsigned selector, unsigned mtype, size_t len);

/* One SRV record (RFC 2782). */
struct dns_srv {
	unsigned prio, weight, port;
	char target[DNS_NAME_SIZE];     /* no trailing dot */
};

/* The SRV RRset of one service of a domain. */
struct dns_srv_list {
	struct dns_srv *rec;        /* allocated, in answer order; none with target "." */
	size_t n;
	/* the RRset held only records with target ".": the service is
	 * decidedly not offered at the domain (RFC 2782, RFC 6186) */
	int not_offered;
	int secure;                 /* the answer (or its denial) had the AD bit */
	char name[DNS_NAME_SIZE];   /* "_submissions._tcp.example.org" */
};

/* The SRV records at _SERVICE._tcp.DOMAIN (service without its
 * underscore: "submissions"), CNAMEs followed; records whose target is
 * the root are left out (out->not_offered when no other is left).
 * NXDOMAIN or NODATA: 0 with out->n == 0 (not an error). Returns 0, or
 * -1 with e (FC_DNS_TEMP: SERVFAIL, timeout, malformed; FC_DNS_NOTFOUND
 * when the name cannot be formed). out is always safe to give to
 * dns_srv_list_free. */
int dns_srv(const struct dns_resolver *r, const char *service, const char *domain,
            struct dns_srv_list *out, struct perr *e);
void dns_srv_list_free(struct dns_srv_list *l);

#endif
