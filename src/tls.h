/* tls.h - a GnuTLS client session under a connection: trust store, CRLs,
 * verification of chain, dates and host name (or a fingerprint pin, or
 * DANE with the host's TLSA records), client certificates, priorities,
 * channel binding for SASL, and the session facts that --serverinfo and
 * -v show. */
#ifndef POSTIE_TLS_H
#define POSTIE_TLS_H

#include <stdio.h>
#include "net.h"
#include "status.h"
#include "util.h"

struct tlsa;   /* dane.h */

struct tls_opts {
	const char *host;        /* name to verify and to send as SNI (not sent
	                            for an IP literal); NULL: only a pin or
	                            certcheck 0 can pass */
	const char *trust_file;  /* "system", a PEM file, or NULL: trust nobody */
	const char *crl_file;    /* PEM, or NULL */
	const char *fingerprint; /* "AB:CD:..." of 16, 20 or 32 bytes, or NULL */
	const char *cert_file;   /* client certificate: PEM file or PKCS#11 URI */
	const char *key_file;    /* its key (both or neither) */
	const char *priorities;  /* GnuTLS priority string; NULL or "" = system default */
	int min_dh_prime_bits;   /* 0 = the library's default */
	int certcheck;           /* 0: accept any certificate (tls_certcheck off) */
	int required;            /* 0: opportunistic; a certificate that fails
	                            verification is noted, not fatal */
	int timeout;             /* seconds for the whole handshake, 0 = none */
	const char *plain_hint;  /* TLS from the first byte: when the server
	                            answers with a plain SMTP greeting instead,
	                            the error is EX_CONFIG and ends with this
	                            advice; NULL: after STARTTLS (EX_PROTOCOL) */
	const struct tlsa *tlsa; /* DANE (RFC 7672): the host's DNSSEC-validated
	                            TLSA records, or NULL. With at least one
	                            usable, DANE verifies the server instead of
	                            PKIX: trust_file, crl_file, fingerprint,
	                            certcheck and the host name check do not
	                            apply, and a mismatch always fails
	                            (EX_UNAVAILABLE, FC_TLS_VERIFY). host is
	                            still sent as SNI and is the first
	                            reference identifier for DANE-TA. */
	size_t ntlsa;
	const char *const *dane_names; /* more reference identifiers for
	                            DANE-TA (the MX name before CNAME
	                            expansion), NULL-terminated, or NULL */
};

struct tls;

/* Handshake over c, verify the server and route c's reads and writes
 * through TLS. c must hold no unread bytes. Once the handshake has
 * completed, *out is set and c owns the session: net_close() sends
 * close_notify and frees it; this holds even when verification then
 * fails, so --serverinfo can still show the certificate. Errors:
 * EX_CONFIG  a setting cannot be used (the message names the keyword)
 * EX_PROTOCOL the handshake failed (no common cipher, an alert, the
 *             server hung up in the middle, a Diffie-Hellman prime below
 *             min_dh_prime_bits, a plain-text SMTP reply after STARTTLS)
 * EX_CONFIG   also: a plain-text SMTP greeting with o->plain_hint set
 *             ("HOST port N answered in plain text ..., not TLS: HINT")
 * EX_TEMPFAIL timeout, or the socket failed while waiting
 * EX_UNAVAILABLE verification failed and o->required, or DANE
 *             verification failed; the message says why ("the
 *             certificate expired on 2024-01-01 ...", "no TLSA record
 *             matches the certificate of mx1.example.org"). */
int tls_start(struct conn *c, const struct tls_opts *o, struct tls **out, struct perr *e);

/* 1 when the server was verified: chain and host name, or a matching pin
 * within its validity dates, or a TLSA record (DANE). */
int tls_verified(const struct tls *t);
/* "verified", "verified by DANE (DANE-EE 3 1 1)", "not checked
 * (tls_certcheck off)", or why it failed. */
const char *tls_verify_result(const struct tls *t);
/* The TLSA record that verified the server, as "DANE-EE 3 1 1" or
 * "DANE-TA 2 0 1"; NULL when DANE did not verify it. */
const char *tls_dane(const struct tls *t);
/* "TLS1.3" */
const char *tls_version(const struct tls *t);

/* Channel binding for SASL *-PLUS mechanisms: "tls-exporter" (RFC 9266)
 * for TLS 1.3, "tls-unique" (RFC 5929) for TLS 1.2. 0 with *type set and
 * the bytes in data (buf_free wipes them), -1 if the session has none. */
int tls_channel_binding(const struct tls *t, const char **type, struct buf *data);

/* --serverinfo: protocol, cipher suite, certificate facts, verification. */
void tls_print_info(const struct tls *t, FILE *out);
/* The same facts as transcript lines (-v). */
void tls_log_info(const struct tls *t);

#endif
