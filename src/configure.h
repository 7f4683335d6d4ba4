/* configure.h - postie --configure ADDRESS: an account for a mail address,
 * found from its domain's SRV records for message submission (RFC 6186,
 * RFC 8314: _submissions._tcp first, then _submission._tcp) and printed
 * in postierc syntax, with a hint when the domain's MX hosts are at a
 * provider that wants OAuth 2.0. Nothing here exits; failures come back
 * as struct perr: FC_USAGE (64) for an address that is not local@domain,
 * FC_DNS_NOTFOUND (68) when neither service has a record, FC_DNS_TEMP
 * (75) when a lookup failed for now. */
#ifndef POSTIE_CONFIGURE_H
#define POSTIE_CONFIGURE_H

#include <stdio.h>

#include "dns.h"
#include "status.h"

/* The record to use among rec[0..n) (RFC 2782, made deterministic): the
 * lowest priority; among those the highest weight (the server the
 * domain means to get the most clients, where RFC 2782 would pick at
 * random in proportion to weight); then the target first in ASCII order
 * ignoring case; then the lowest port. NULL when n is 0. */
const struct dns_srv *configure_choose(const struct dns_srv *rec, size_t n);

/* The OAuth 2.0 provider (an oauth_provider word: "google",
 * "microsoft") whose mail servers host is one of: *.google.com,
 * *.googlemail.com; *.outlook.com (which holds
 * *.protection.outlook.com). ASCII case and a trailing dot ignored.
 * NULL for any other host. */
const char *configure_provider(const char *host);

/* What --configure found for an address. */
struct configure {
	char *address;               /* local@domain, as given */
	char *domain;                /* its domain as given */
	char *ascii;                 /* the domain in A-labels: what is looked up */
	int implicit_tls;            /* found at _submissions (1) or _submission (0) */
	size_t nrec;                 /* records in the RRset the record was chosen from */
	int secure;                  /* that SRV answer had the AD bit */
	char srv_name[DNS_NAME_SIZE]; /* "_submissions._tcp.example.org" */
	struct dns_srv rec;          /* the chosen record */
	const char *provider;        /* configure_provider of an MX host, or NULL */
	char mx_host[DNS_NAME_SIZE]; /* that MX host */
};

/* Look up the account for address (local@domain; "<local@domain>" and
 * "Name <local@domain>" are taken too) through resolver r (NULL: the
 * system's, see dns.h). _submissions is asked first; _submission only
 * when _submissions has no usable record (none, NXDOMAIN, or only target
 * "."). A failed MX lookup only leaves out the provider hint. Returns 0,
 * or -1 with e: FC_USAGE "--configure: ...", FC_DNS_NOTFOUND "no SRV
 * record for _submissions._tcp.D or _submission._tcp.D ...", FC_DNS_TEMP
 * "cannot configure ADDRESS: <the lookup's failure>; try again later".
 * out is always safe to give to configure_free. */
int configure_lookup(const struct dns_resolver *r, const char *address, struct configure *out,
                     struct perr *e);
void configure_free(struct configure *c);

/* The account in postierc syntax: comments saying where the values come
 * from and what to add (a password source; with a provider, the
 * oauth_provider lines, commented out), then "account ADDRESS", host,
 * port, tls, tls_starttls, auth on, user and from. */
void configure_print(const struct configure *c, FILE *out);

/* configure_lookup, then configure_print to out. Returns 0, or the exit
 * status with e filled (nothing printed). */
int configure_account(const struct dns_resolver *r, const char *address, FILE *out,
                      struct perr *e);

#endif
