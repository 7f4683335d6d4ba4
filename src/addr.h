/* addr.h - RFC 5322 address lists and IDN domains. Pure functions. */
#ifndef POSTIE_ADDR_H
#define POSTIE_ADDR_H

#include <stddef.h>
#include "status.h"

struct addr {
	char *name;    /* display name, decoded (quotes/escapes removed), or NULL */
	char *local;   /* local part as written, unquoted form (e.g. john doe for "john doe") */
	char *domain;  /* domain as written (NULL if the address has no domain) */
};

struct addrlist {
	struct addr *v;
	size_t n, cap;
};

/* Parse an RFC 5322 address-list (header field body, already unfolded):
 * display names, angle addresses, quoted local parts, comments (a comment
 * after a bare addr-spec is taken as its display name, obsolete style),
 * groups ("undisclosed-recipients:;" adds nothing), obsolete route
 * syntax. Appends every mailbox to out. Addresses without a domain
 * ("root", "<user>") are kept with domain NULL. EX_DATAERR on syntax
 * errors, with a message that quotes the offending part. */
int addr_parse_list(const char *s, struct addrlist *out, struct perr *e);

/* The envelope form "local@domain" (local part quoted as RFC 5321 needs
 * it; domain as given). Caller frees. */
char *addr_envelope(const struct addr *a);

/* Envelope form with the domain converted to its ASCII (A-label) form by
 * libidn2 (IDNA2008, UTS#46 non-transitional). EX_DATAERR (for a
 * recipient, the caller may map to EX_NOUSER) on an invalid domain. */
int addr_envelope_ascii(const struct addr *a, char **out, struct perr *e);

/* Envelope form with the domain in its Unicode (U-label) form, A-labels
 * ("xn--") decoded by libidn2. EX_DATAERR on an invalid domain. */
int addr_envelope_utf8(const struct addr *a, char **out, struct perr *e);

/* The domain of an envelope address "local@domain" (after the last
 * '@'), or NULL when there is none. Points into addr. */
const char *addr_domain_of(const char *addr);

/* addr without a "+detail" in its local part ("a+x@d" -> "a@d"),
 * allocated; NULL if it has none. */
char *addr_strip_detail(const char *addr);

/* Convert a domain to ASCII with libidn2. */
int addr_domain_ascii(const char *domain, char **out, struct perr *e);

/* Nonzero if s contains an octet >= 0x80. */
int addr_is_8bit(const char *s);

/* Append a copy of a / a new address; free. */
void addrlist_add(struct addrlist *l, const char *name, const char *local, const char *domain);
/* Remove duplicates (local part compared exactly, domain ignoring ASCII
 * case), keeping the first occurrence. Expected time linear in l->n. */
void addrlist_dedup(struct addrlist *l);

/* A hash set over the entries of one address list, with the equality of
 * addrlist_dedup. It holds indexes, so the list may grow (not shrink or
 * reorder) while the set is in use. */
struct addrset {
	size_t *slot;  /* index + 1 into the list; 0 = empty */
	size_t cap, n;
};
void addrset_init(struct addrset *s);
/* Add l->v[i]: 1 if added, 0 if an equal entry is already in the set. */
int addrset_add(struct addrset *s, const struct addrlist *l, size_t i);
void addrset_free(struct addrset *s);
/* Append an address to l unless s already has an equal one: 1 if added. */
int addrlist_add_unique(struct addrlist *l, struct addrset *s, const char *name, const char *local,
                        const char *domain);

/* RFC 5321 4.5.3.1 size limits of one envelope address in its ASCII form
 * ("local@domain", as addr_envelope_ascii makes it): local part 64 octets,
 * domain 255 octets with labels of 1..63 octets (RFC 1035 2.3.4), path
 * 256 octets with its angle brackets. what ("recipient", "envelope
 * sender") starts the message. 0, or EX_USAGE with a one-line message
 * naming the address (each part shortened to 40 octets), the length and
 * the limit; the caller decides the final status. */
int addr_check_limits(const char *addr_ascii, const char *what, struct perr *e);
/* The same limits for a bare domain in ASCII form ("what domain ..."). */
int addr_check_domain(const char *domain, const char *what, struct perr *e);
void addrlist_free(struct addrlist *l);
void addr_free(struct addr *a);

/* Header phrase for a display name: as is if it is an RFC 5322 atom
 * sequence, a quoted-string if it has specials, RFC 2047 encoded-words
 * (UTF-8, B or Q) if it has 8-bit octets. Caller frees. */
char *addr_phrase(const char *name);

#endif
