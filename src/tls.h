/* tls.h - a GnuTLS client session under a connection: trust store, CRLs,
 * verification of chain, dates and host name (or a fingerprint pin),
 * client certificates, priorities, channel binding for SASL, and the
 * session facts that --serverinfo and -v show. */
#ifndef POSTIE_TLS_H
#define POSTIE_TLS_H

#include <stdio.h>
#include "net.h"
#include "status.h"
#include "util.h"

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
 * EX_UNAVAILABLE verification failed and o->required; the message
 *             says why ("the certificate expired on 2024-01-01 ..."). */
int tls_start(struct conn *c, const struct tls_opts *o, struct tls **out, struct perr *e);

/* 1 when the server was verified: chain and host name, or a matching pin
 * within its validity dates. */
int tls_verified(const struct tls *t);
/* "verified", "not checked (tls_certcheck off)", or why it failed. */
const char *tls_verify_result(const struct tls *t);
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
