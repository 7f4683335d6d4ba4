/* dane.c - DANE matching for SMTP (RFC 7672 §3, RFC 7671 §5): usable
 * records, DANE-EE certificate or key matches, and DANE-TA chains
 * verified with a one-certificate GnuTLS trust list and checked against
 * the reference names. Errors are one line in a struct perr; nothing
 * here prints. */
#include "dane.h"
#include "tlslib.h"

#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "util.h"

#define MAX_CHAIN 16   /* certificates of a chain considered; more are ignored */

/* The server's chain, imported once. */
struct chain {
	const gnutls_datum_t *der;
	gnutls_x509_crt_t crt[MAX_CHAIN];
	unsigned n;
};

int tlsa_usable(const struct tlsa *t)
{
	if (t->usage != TLSA_DANE_TA && t->usage != TLSA_DANE_EE)
		return 0;
	if (t->selector > 1 || !t->data)
		return 0;
	switch (t->mtype) {
	case 0:
		return t->len > 0;
	case 1:
		return t->len == 32;
	case 2:
		return t->len == 64;
	default:
		return 0;
	}
}

size_t tlsa_count_usable(const struct tlsa *t, size_t nt)
{
	size_t n = 0;
	for (size_t i = 0; i < nt; i++)
		n += tlsa_usable(&t[i]) != 0;
	return n;
}

const char *tlsa_usage_name(unsigned usage)
{
	static const char *const names[] = { "PKIX-TA", "PKIX-EE", "DANE-TA", "DANE-EE" };
	return usage < sizeof names / sizeof names[0] ? names[usage] : "private or unassigned usage";
}

/* "DANE-TA 2 0 1" */
static const char *record_name(const struct tlsa *t, char *out, size_t n)
{
	snprintf(out, n, "%s %u %u %u", tlsa_usage_name(t->usage), t->usage, t->selector, t->mtype);
	return out;
}

/* The first reason a record failed is the one reported. */
static void note(struct buf *why, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void note(struct buf *why, const char *fmt, ...)
{
	va_list ap;
	if (why->len)
		return;
	va_start(ap, fmt);
	buf_vprintf(why, fmt, ap);
	va_end(ap);
}

/* ---- the chain ---- */

static void chain_free(struct chain *c)
{
	for (unsigned i = 0; i < c->n; i++)
		gnutls_x509_crt_deinit(c->crt[i]);
	c->n = 0;
}

static int import_crt(gnutls_x509_crt_t *crt, const gnutls_datum_t *der)
{
	int r = gnutls_x509_crt_init(crt);
	if (r < 0)
		return r;
	r = gnutls_x509_crt_import(*crt, der, GNUTLS_X509_FMT_DER);
	if (r < 0)
		gnutls_x509_crt_deinit(*crt);
	return r;
}

static int chain_import(struct chain *c, const gnutls_datum_t *der, unsigned n)
{
	c->der = der;
	c->n = 0;
	for (unsigned i = 0; i < n && i < MAX_CHAIN; i++) {
		if (import_crt(&c->crt[i], &der[i]) < 0) {
			chain_free(c);
			return -1;
		}
		c->n++;
	}
	return 0;
}

/* ---- matching ---- */

/* 1 when t's data matches d (a DER certificate or SubjectPublicKeyInfo):
 * equal bytes for Full(0), else the SHA2-256 or SHA2-512 digest. */
static int data_matches(const struct tlsa *t, const gnutls_datum_t *d)
{
	unsigned char md[64];
	if (t->mtype == 0)
		return d->size == t->len && memcmp(d->data, t->data, t->len) == 0;
	if (gnutls_hash_fast(t->mtype == 1 ? GNUTLS_DIG_SHA256 : GNUTLS_DIG_SHA512, d->data, d->size,
	                     md) < 0)
		return 0;
	return memcmp(md, t->data, t->len) == 0;
}

/* The certificate's SubjectPublicKeyInfo, DER (gnutls_free it). */
static int spki_der(gnutls_x509_crt_t crt, gnutls_datum_t *out)
{
	gnutls_pubkey_t pub;
	int r = gnutls_pubkey_init(&pub);
	if (r < 0)
		return r;
	r = gnutls_pubkey_import_x509(pub, crt, 0);
	if (r >= 0)
		r = gnutls_pubkey_export2(pub, GNUTLS_X509_FMT_DER, out);
	gnutls_pubkey_deinit(pub);
	return r;
}

/* 1 when t matches certificate i of the chain (selector: whole or key). */
static int cert_matches(const struct tlsa *t, const struct chain *c, unsigned i)
{
	gnutls_datum_t spki = { NULL, 0 };
	if (t->selector == 0)
		return data_matches(t, &c->der[i]);
	if (spki_der(c->crt[i], &spki) < 0)
		return 0;
	int m = data_matches(t, &spki);
	gnutls_free(spki.data);
	return m;
}

/* ---- DANE-TA ---- */

/* The names a certificate is for: DNS and IP subject alternative names,
 * else its common name. */
void x509_names(gnutls_x509_crt_t crt, struct buf *b)
{
	for (unsigned i = 0;; i++) {
		char name[256];
		size_t n = sizeof name - 1;
		unsigned type;
		int r = gnutls_x509_crt_get_subject_alt_name2(crt, i, name, &n, &type, NULL);
		if (r == GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE)
			break;
		if (r < 0)
			continue;
		if (r == GNUTLS_SAN_DNSNAME) {
			name[n] = '\0';
		} else if (r == GNUTLS_SAN_IPADDRESS && (n == 4 || n == 16)) {
			char ip[INET6_ADDRSTRLEN];
			if (!inet_ntop(n == 4 ? AF_INET : AF_INET6, name, ip, sizeof ip))
				continue;
			snprintf(name, sizeof name, "%s", ip);
		} else {
			continue;
		}
		if (b->len)
			buf_adds(b, ", ");
		buf_adds(b, name);
	}
	if (!b->len) {
		char cn[256];
		size_t n = sizeof cn;
		if (gnutls_x509_crt_get_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME, 0, 0, cn, &n) >= 0)
			buf_adds(b, cn);
		else
			buf_adds(b, "(no name)");
	}
}


/* 1 when the leaf is for one of the names (RFC 7672 §3.2.3: DNS-IDs,
 * else the common name; gnutls_x509_crt_check_hostname2 does that). */
static int name_matches(gnutls_x509_crt_t leaf, const char *const *names)
{
	for (size_t i = 0; names && names[i]; i++)
		if (*names[i] && gnutls_x509_crt_check_hostname2(leaf, names[i], 0))
			return 1;
	return 0;
}

/* The chain's fault after a failed verification, in words. */
static void chain_fault(unsigned status, const char *host, const char *rec, struct buf *why)
{
	gnutls_datum_t d = { NULL, 0 };
	if (status & GNUTLS_CERT_EXPIRED)
		note(why, "a certificate in the chain of %s has expired (%s)", host, rec);
	else if (status & GNUTLS_CERT_NOT_ACTIVATED)
		note(why, "a certificate in the chain of %s is not yet valid (%s)", host, rec);
	else if (status & (GNUTLS_CERT_SIGNER_NOT_FOUND | GNUTLS_CERT_SIGNATURE_FAILURE))
		note(why, "the certificate of %s is not signed by the trust anchor of %s", host, rec);
	else if (gnutls_certificate_verification_status_print(status, GNUTLS_CRT_X509, &d, 0) >= 0 &&
	         d.data)
		note(why, "the certificate chain of %s does not verify with %s: %s", host, rec,
		     (const char *)d.data);
	else
		note(why, "the certificate chain of %s does not verify with %s (status 0x%x)", host,
		     rec, status);
	gnutls_free(d.data);
}

/* Verify the first depth (> 0) certificates of the chain with ta as the
 * only trust anchor. The TA's dates are not checked, the others' are; a
 * certificate is trusted for its signature, not for being the TA
 * (DO_NOT_ALLOW_SAME). */
static int verify_below(const struct chain *c, unsigned depth, const gnutls_datum_t *ta,
                        unsigned *status)
{
	gnutls_x509_trust_list_t tl;
	gnutls_x509_crt_t anchor;
	int r = gnutls_x509_trust_list_init(&tl, 0);
	if (r < 0)
		return r;
	if ((r = import_crt(&anchor, ta)) < 0) {
		gnutls_x509_trust_list_deinit(tl, 1);
		return r;
	}
	/* the list owns what it holds */
	if (gnutls_x509_trust_list_add_cas(tl, &anchor, 1, 0) != 1) {
		gnutls_x509_crt_deinit(anchor);
		gnutls_x509_trust_list_deinit(tl, 1);
		return GNUTLS_E_INTERNAL_ERROR;
	}
	r = gnutls_x509_trust_list_verify_crt2(tl, (gnutls_x509_crt_t *)c->crt, depth,
	                                       NULL, 0, GNUTLS_VERIFY_DISABLE_TRUSTED_TIME_CHECKS |
	                                       GNUTLS_VERIFY_DO_NOT_ALLOW_SAME,
	                                       status, NULL);
	gnutls_x509_trust_list_deinit(tl, 1);
	return r;
}

/* A self-issued leaf that is its own TA: its dates still count. */
static int leaf_in_dates(gnutls_x509_crt_t leaf)
{
	time_t now = time(NULL);
	time_t from = gnutls_x509_crt_get_activation_time(leaf);
	time_t to = gnutls_x509_crt_get_expiration_time(leaf);
	return (from == (time_t)-1 || from <= now) && (to == (time_t)-1 || now <= to);
}

/* 1 when the chain verifies up to the TA ta (depth certificates below
 * it) and the leaf has one of the names; else 0 with the reason noted. */
static int ta_accepts(const struct chain *c, unsigned depth, const gnutls_datum_t *ta,
                      const struct tlsa *t, const char *const *names, struct buf *why)
{
	char rec[40];
	const char *host = names && names[0] ? names[0] : "the server";
	unsigned status = 0;
	/* a self-issued leaf that is its own TA: the handshake proved its
	 * key, which is the TA's; its basic constraints do not matter */
	int r = depth ? verify_below(c, depth, ta, &status) : 0;
	record_name(t, rec, sizeof rec);
	if (r < 0) {
		note(why, "cannot verify the certificate chain of %s with %s: %s", host, rec,
		     gnutls_strerror(r));
		return 0;
	}
	if (status) {
		chain_fault(status, host, rec, why);
		return 0;
	}
	if (depth == 0 && !leaf_in_dates(c->crt[0])) {
		note(why, "the certificate of %s is outside its validity period (%s)", host, rec);
		return 0;
	}
	if (!name_matches(c->crt[0], names)) {
		struct buf is;
		buf_init(&is);
		x509_names(c->crt[0], &is);
		note(why, "certificate name does not match %s (%s; the certificate is for %s)", host, rec,
		     is.s);
		buf_free(&is);
		return 0;
	}
	return 1;
}

/* A DANE-TA record: the TA is a certificate of the chain above the leaf
 * (or the self-issued leaf itself), or for "2 0 0" the record's own
 * certificate (RFC 7671 §5.2.2: the server may omit it then). */
static int ta_matches(const struct chain *c, const struct tlsa *t, const char *const *names,
                      struct buf *why)
{
	unsigned first = gnutls_x509_crt_check_issuer(c->crt[0], c->crt[0]) ? 0 : 1;
	for (unsigned i = first; i < c->n; i++)
		if (cert_matches(t, c, i))
			return ta_accepts(c, i, &c->der[i], t, names, why);
	if (t->selector == 0 && t->mtype == 0 && t->len <= 0xffffffffu) {
		gnutls_datum_t d = { (unsigned char *)t->data, (unsigned)t->len };
		gnutls_x509_crt_t crt;
		if (import_crt(&crt, &d) < 0)
			return 0;
		gnutls_x509_crt_deinit(crt);
		return ta_accepts(c, c->n, &d, t, names, why);
	}
	return 0;
}

/* ---- the verdict ---- */

int dane_verify(const gnutls_datum_t *chain, unsigned n, const struct tlsa *t, size_t nt,
                const char *const *names, const struct tlsa **matched, struct perr *e)
{
	const char *host = names && names[0] ? names[0] : "the server";
	const struct tlsa *m = NULL;
	if (tlslib_load(e))
		return e->ex;
	struct chain c;
	struct buf why;
	perr_clear(e);
	if (matched)
		*matched = NULL;
	if (!tlsa_count_usable(t, nt))
		return perr_fail(e, FC_TLS_VERIFY, "none of the TLSA records of %s is usable", host);
	if (!chain || n == 0)
		return perr_fail(e, FC_TLS_VERIFY, "%s sent no certificate", host);
	if (chain_import(&c, chain, n) < 0)
		return perr_fail(e, FC_TLS_VERIFY, "the certificate chain of %s cannot be parsed", host);
	buf_init(&why);
	for (size_t i = 0; i < nt && !m; i++) {
		if (!tlsa_usable(&t[i]))
			continue;
		if (t[i].usage == TLSA_DANE_EE ? cert_matches(&t[i], &c, 0)
		                                : ta_matches(&c, &t[i], names, &why))
			m = &t[i];
	}
	chain_free(&c);
	if (m) {
		if (matched)
			*matched = m;
	} else {
		note(&why, "no TLSA record matches the certificate of %s", host);
		perr_fail(e, FC_TLS_VERIFY, "%s", why.s);
	}
	buf_free(&why);
	return e->ex;
}

int dane_verify_chain(const gnutls_datum_t *chain, unsigned n, const struct tlsa *t,
                      size_t nt, const char *host, struct perr *e)
{
	const char *names[] = { host, NULL };
	return dane_verify(chain, n, t, nt, names, NULL, e);
}
