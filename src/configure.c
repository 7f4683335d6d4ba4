/* configure.c - postie --configure ADDRESS: the submission service of the
 * address's domain from its SRV records (RFC 6186; _submissions, RFC
 * 8314, before _submission), one record chosen, the provider of its MX
 * hosts, and the account printed in postierc syntax. The lookups go
 * through dns.c; nothing here exits. */
#include "configure.h"

#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "util.h"

/* In the order asked: implicit TLS first (RFC 8314 5.1). */
static const char *const services[] = { "submissions", "submission" };

/* 1 when a comes before b in configure_choose's order. */
static int better(const struct dns_srv *a, const struct dns_srv *b)
{
	if (a->prio != b->prio)
		return a->prio < b->prio;
	if (a->weight != b->weight)
		return a->weight > b->weight;
	int c = ascii_casecmp(a->target, b->target);
	return c ? c < 0 : a->port < b->port;
}

const struct dns_srv *configure_choose(const struct dns_srv *rec, size_t n)
{
	const struct dns_srv *best = n ? &rec[0] : NULL;
	for (size_t i = 1; i < n; i++)
		if (better(&rec[i], best))
			best = &rec[i];
	return best;
}

/* The length of name without a trailing dot. */
static size_t bare_len(const char *name)
{
	size_t n = strlen(name);
	return n && name[n - 1] == '.' ? n - 1 : n;
}

/* 1 when name is a name below domain (ASCII case and trailing dots
 * ignored). */
static int below(const char *name, const char *domain)
{
	size_t n = bare_len(name), d = bare_len(domain);
	return n > d && name[n - d - 1] == '.' && ascii_ncasecmp(name + n - d, domain, d) == 0;
}

/* 1 when name is domain or a name below it. */
static int in_domain(const char *name, const char *domain)
{
	size_t n = bare_len(name);
	return (n == bare_len(domain) && ascii_ncasecmp(name, domain, n) == 0) || below(name, domain);
}

const char *configure_provider(const char *host)
{
	static const struct { const char *domain, *provider; } hosts[] = {
		{ "google.com", "google" },
		{ "googlemail.com", "google" },
		{ "outlook.com", "microsoft" },   /* protection.outlook.com too */
	};
	for (size_t i = 0; i < sizeof hosts / sizeof hosts[0]; i++)
		if (below(host, hosts[i].domain))
			return hosts[i].provider;
	return NULL;
}

void configure_free(struct configure *c)
{
	free(c->address);
	free(c->domain);
	free(c->ascii);
	c->address = c->domain = c->ascii = NULL;
}

/* The address, its domain, and the domain in A-labels into c. */
static int parse_address(const char *s, struct configure *c, struct perr *e)
{
	struct addrlist l = { 0 };
	char *ascii = NULL;
	int bad = addr_parse_list(s, &l, e) != 0;
	if (bad || l.n != 1 || !l.v[0].domain || l.v[0].domain[0] == '[') {
		char why[sizeof e->msg];
		snprintf(why, sizeof why, "%s", bad ? e->msg : "");
		addrlist_free(&l);
		return perr_fail(e, FC_USAGE, "--configure: '%.200s' is not a mail address of the form "
		                 "local@domain%s%.600s", s, bad ? ": " : "", why);
	}
	if (addr_envelope_ascii(&l.v[0], &ascii, e) ||
	    addr_check_limits(ascii, "--configure address", e)) {
		addrlist_free(&l);
		free(ascii);
		return perr_reclass(e, FC_USAGE);
	}
	c->address = addr_envelope(&l.v[0]);
	c->domain = xstrdup(l.v[0].domain);
	c->ascii = xstrdup(addr_domain_of(ascii));
	addrlist_free(&l);
	free(ascii);
	return 0;
}

/* The chosen record of a list that has one into c. */
static void take_record(const struct dns_srv_list *l, int implicit_tls, struct configure *c)
{
	c->rec = *configure_choose(l->rec, l->n);
	c->nrec = l->n;
	c->secure = l->secure;
	c->implicit_tls = implicit_tls;
	snprintf(c->srv_name, sizeof c->srv_name, "%s", l->name);
}

/* Neither service has a usable record. */
static int no_record(const struct configure *c, int not_offered, struct perr *e)
{
	return perr_fail(e, FC_DNS_NOTFOUND, "no SRV record for _submissions._tcp.%s or "
	                 "_submission._tcp.%s: %s; set up the account for %s by hand (see postierc(5))",
	                 c->ascii, c->ascii,
	                 not_offered ? "the domain declares that it offers no submission service "
	                               "(target \".\")"
	                             : "the domain names no submission server (RFC 6186)",
	                 c->address);
}

/* _submissions, then _submission: the first with a usable record. */
static int find_service(const struct dns_resolver *r, struct configure *c, struct perr *e)
{
	int not_offered = 0;
	for (size_t i = 0; i < sizeof services / sizeof services[0]; i++) {
		struct dns_srv_list l;
		if (dns_srv(r, services[i], c->ascii, &l, e)) {
			dns_srv_list_free(&l);
			if (e->fc != FC_DNS_TEMP)
				return -1;
			char why[sizeof e->msg];
			snprintf(why, sizeof why, "%s", e->msg);
			perr_fail(e, FC_DNS_TEMP, "cannot configure %s: %.900s; try again later",
			          c->address, why);
			return -1;
		}
		not_offered |= l.not_offered;
		if (l.n)
			take_record(&l, i == 0, c);
		dns_srv_list_free(&l);
		if (c->nrec)
			return 0;
	}
	no_record(c, not_offered, e);
	return -1;
}

/* The first MX host of the domain at a provider, if any; a failed
 * lookup leaves the hint out. */
static void find_provider(const struct dns_resolver *r, struct configure *c)
{
	struct dns_mx_list l;
	struct perr ignored;
	if (dns_mx(r, c->ascii, &l, &ignored) == 0 && !l.implicit)
		for (size_t i = 0; i < l.n && !c->provider; i++)
			if ((c->provider = configure_provider(l.host[i].host)))
				snprintf(c->mx_host, sizeof c->mx_host, "%s", l.host[i].host);
	dns_mx_list_free(&l);
}

int configure_lookup(const struct dns_resolver *r, const char *address, struct configure *out,
                     struct perr *e)
{
	memset(out, 0, sizeof *out);
	perr_clear(e);
	if (parse_address(address, out, e) || find_service(r, out, e))
		return -1;
	find_provider(r, out);
	return 0;
}

/* Where the values come from, and what to check. */
static void print_source(const struct configure *c, FILE *out)
{
	const struct dns_srv *s = &c->rec;
	fprintf(out, "# An account for %s, from the DNS record\n", c->address);
	fprintf(out, "#   %s. SRV %u %u %u %s.\n", c->srv_name, s->prio, s->weight, s->port, s->target);
	if (c->nrec > 1)
		fprintf(out, "# (of %zu records: the lowest priority, then the highest weight)\n", c->nrec);
	fprintf(out, "# %s (RFC %s).\n",
	        c->implicit_tls ? "Submission over implicit TLS" : "Submission with STARTTLS",
	        c->implicit_tls ? "8314" : "6409");
	if (!in_domain(s->target, c->ascii))
		fprintf(out, "# Check that the host is your provider's before you give it a password:\n"
		        "# it is not in %s, and the DNS answer was %s.\n", c->ascii,
		        c->secure ? "DNSSEC-validated" : "not validated (DNSSEC)");
}

/* With a provider: what to add for OAuth 2.0. */
static void print_provider(const struct configure *c, const char *name, FILE *out)
{
	fprintf(out, "# The mail of %s goes to %s (MX host %s).\n"
	        "# Its servers may refuse passwords: to sign in with OAuth 2.0 instead,\n"
	        "# uncomment the oauth_ lines at the end, put in the client ID of your\n"
	        "# registration (see postierc(5), OAUTH PROVIDERS), and run\n"
	        "#   postie -a %s --oauth-login\n",
	        c->ascii, strcmp(c->provider, "google") == 0 ? "Google" : "Microsoft", c->mx_host,
	        name);
}

void configure_print(const struct configure *c, FILE *out)
{
	const struct dns_srv *s = &c->rec;
	/* ':' and ',' in an account name would name accounts to inherit from */
	const char *name = strpbrk(c->address, ":,") ? c->domain : c->address;
	print_source(c, out);
	fputs("# Add it to your configuration file (~/.postierc, see postierc(5)) with a\n"
	      "# password source: password, passwordeval, or an entry in ~/.netrc.\n", out);
	if (c->provider)
		print_provider(c, name, out);
	fprintf(out, "account %s\n", name);
	fprintf(out, "host %s\n", s->target);
	fprintf(out, "port %u\n", s->port);
	fputs("tls on\n", out);
	fprintf(out, "tls_starttls %s\n", c->implicit_tls ? "off" : "on");
	fputs("auth on\n", out);
	fprintf(out, "user %s\n", c->address);
	fprintf(out, "from %s\n", c->address);
	if (c->provider)
		fprintf(out, "#oauth_provider %s\n#oauth_client_id CLIENT-ID\n", c->provider);
}

int configure_account(const struct dns_resolver *r, const char *address, FILE *out,
                      struct perr *e)
{
	struct configure c;
	int rc = configure_lookup(r, address, &c, e);
	if (rc == 0)
		configure_print(&c, out);
	configure_free(&c);
	return rc ? e->ex : 0;
}
