/* dane.h - DANE for SMTP (RFC 7672, RFC 7671): which TLSA records are
 * usable, and whether a server's certificate chain matches one of them.
 * Pure functions over DER bytes, done with GnuTLS's hashing, export and
 * trust-list functions; no session, no DNS. */
#ifndef POSTIE_DANE_H
#define POSTIE_DANE_H

#include <stddef.h>
#include <gnutls/gnutls.h>

#include <gnutls/x509.h>
#include "status.h"
#include "util.h"

/* One TLSA record (RFC 6698 §2.1); data points into the caller's memory. */
struct tlsa {
	unsigned char usage, selector, mtype;
	const unsigned char *data;
	size_t len;
};

enum {
	TLSA_DANE_TA = 2,   /* trust anchor assertion */
	TLSA_DANE_EE = 3,   /* domain-issued certificate */
};

/* 1 when t is usable for SMTP (RFC 7672 §3.1): usage DANE-TA(2) or
 * DANE-EE(3), selector Cert(0) or SPKI(1), matching type Full(0) with
 * data, SHA2-256(1) with 32 bytes or SHA2-512(2) with 64; else 0. */
int tlsa_usable(const struct tlsa *t);

/* How many of t[0..nt-1] are usable. 0: the host is not DANE-protected
 * (RFC 7672 §2.2: TLS stays mandatory when records exist but none is
 * usable, without authentication; that is the caller's choice). */
size_t tlsa_count_usable(const struct tlsa *t, size_t nt);

/* "DANE-EE", "DANE-TA", "PKIX-TA", "PKIX-EE", or "private or unassigned usage". */
const char *tlsa_usage_name(unsigned usage);

/* Verify the server's chain (DER, leaf first, as
 * gnutls_certificate_get_peers gives it) against the usable records
 * among t[0..nt-1]; unusable ones and usages 0/1 are ignored.
 * names: the reference identifiers for DANE-TA, NULL-terminated, the
 * first being the one the messages name (RFC 7672 §3.2.2: the MX host
 * name; also the name before CNAME expansion).
 *   DANE-EE: the leaf's certificate (selector 0) or SubjectPublicKeyInfo
 *     (selector 1) matches; names, dates and the rest of the chain are
 *     ignored (RFC 7672 §3.1.1).
 *   DANE-TA: a certificate of the chain above the leaf matches (the
 *     leaf itself only when it is self-issued: a one-certificate chain
 *     whose TA is the server's own certificate); the chain from the leaf
 *     up to it verifies with it as the only trust anchor; the leaf's
 *     names match one of names (RFC 6125 rules, a wildcard only as the
 *     whole left-most label). Dates: every certificate below the TA must
 *     be within its validity period (RFC 5280 path validation, RFC 7671
 *     §5.2.3 "not expired"); the TA's own dates are not checked, as its
 *     validity comes from the DNSSEC-signed record. A "2 0 0" record
 *     (the full TA certificate) serves as the trust anchor also when
 *     the server omits it from the chain (RFC 7671 §5.2.2); for other
 *     DANE-TA records the TA must be in the chain (RFC 7672 §3.2.1),
 *     so a "2 1 0" TA key that signs the chain's top is not accepted.
 * EX_OK when one record matches; *matched (if not NULL) is set to it.
 * Else a failure of class FC_TLS_VERIFY whose message says why in one
 * line: "no TLSA record matches the certificate of HOST", "certificate
 * name does not match HOST ...", the chain's fault for a DANE-TA match,
 * "HOST sent no certificate", or "none of the TLSA records of HOST is
 * usable" (tlsa_count_usable() tells that case beforehand). */
int dane_verify(const gnutls_datum_t *chain, unsigned n, const struct tlsa *t, size_t nt,
                const char *const *names, const struct tlsa **matched, struct perr *e);

/* dane_verify() with host as the only reference identifier. */
int dane_verify_chain(const gnutls_datum_t *chain, unsigned n, const struct tlsa *t,
                      size_t nt, const char *host, struct perr *e);

/* For messages: the names crt is for, comma-separated (DNS and IP
 * subject alternative names, else its common name), added to b. */
void x509_names(gnutls_x509_crt_t crt, struct buf *b);

#endif
