/* tls.c - the GnuTLS client session. The socket stays non-blocking: the
 * handshake waits through net_wait() against one deadline, and records
 * pass through net.c's transport hook, so line reads, corked writes and
 * timeouts work the same over TLS as over TCP. Verification is GnuTLS's
 * own (gnutls_certificate_verify_peers3: chain, dates, host name, CRLs,
 * stapled OCSP); this file only turns its verdict into words. With usable
 * TLSA records, dane.c's verdict replaces it. */
#include "tls.h"
#include "idnlib.h"
#include "tlslib.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "dane.h"
#include "log.h"

#define BYE_TIMEOUT 2   /* seconds to spend sending close_notify */

struct tls {
	gnutls_session_t s;
	gnutls_certificate_credentials_t cred;
	struct conn *c;
	int err;            /* the last fatal GnuTLS error of a read or write */
	int cert_refused;   /* lost after a certificate request we could not meet */
	char errtext[400];
	int broken;         /* no close_notify: the session failed */
	int verified;
	char result[600];   /* tls_verify_result() */
	char dane[40];      /* tls_dane(): the record that matched, or "" */
	int fd;
	char first[64];     /* the first bytes the server sent */
	size_t nfirst;
	int system_trust;   /* tls_trust_file system, not loaded yet (load_issuers) */
};

/* ---- small formatting helpers ---- */

static void fmt_time(time_t t, char *out, size_t n)
{
	struct tm tm;
	if (t == (time_t)-1 || !gmtime_r(&t, &tm) || !strftime(out, n, "%Y-%m-%d %H:%M:%S UTC", &tm))
		snprintf(out, n, "(unknown)");
}

/* "AB:CD:..." of a digest of the DER certificate. */
static int fingerprint(const gnutls_datum_t *der, gnutls_digest_algorithm_t alg, char *out, size_t n)
{
	unsigned char md[64];
	size_t len = sizeof md;
	if (gnutls_fingerprint(alg, der, md, &len) < 0 || len * 3 > n)
		return -1;
	for (size_t i = 0; i < len; i++)
		snprintf(out + 3 * i, 4, i + 1 < len ? "%02X:" : "%02X", md[i]);
	return 0;
}

static int is_ip_literal(const char *h)
{
	unsigned char a[16];
	return inet_pton(AF_INET, h, a) == 1 || inet_pton(AF_INET6, h, a) == 1;
}

/* The server's leaf certificate, or NULL. */
static gnutls_x509_crt_t leaf_cert(const struct tls *t, gnutls_datum_t *der)
{
	unsigned n = 0;
	const gnutls_datum_t *list = gnutls_certificate_get_peers(t->s, &n);
	gnutls_x509_crt_t crt;
	if (!list || n == 0 || gnutls_certificate_type_get(t->s) != GNUTLS_CRT_X509)
		return NULL;
	if (gnutls_x509_crt_init(&crt) < 0)
		return NULL;
	if (gnutls_x509_crt_import(crt, &list[0], GNUTLS_X509_FMT_DER) < 0) {
		gnutls_x509_crt_deinit(crt);
		return NULL;
	}
	if (der)
		*der = list[0];
	return crt;
}

static char *crt_dn(gnutls_x509_crt_t crt, int issuer)
{
	gnutls_datum_t d = { NULL, 0 };
	int r = issuer ? gnutls_x509_crt_get_issuer_dn3(crt, &d, 0) : gnutls_x509_crt_get_dn3(crt, &d, 0);
	if (r < 0)
		return xstrdup("(none)");
	char *s = xstrndup((const char *)d.data, d.size);
	gnutls_free(d.data);
	return s;
}

/* ---- the transport under net.c ---- */

/* In TLS 1.3 a server refuses a missing client certificate only after
 * the client's handshake is done: it hangs up (seen by the next read or
 * write) or sends an alert. Say so rather than "connection lost":
 * 1 with t->cert_refused and errno EPROTO when that is what happened. */
static int cert_refused(struct tls *t)
{
	if (!gnutls_certificate_client_get_request_status(t->s) || gnutls_certificate_get_ours(t->s))
		return 0;
	t->cert_refused = 1;
	errno = EPROTO;
	return 1;
}

static long tr_read(void *ctx, void *p, size_t n)
{
	struct tls *t = ctx;
	for (;;) {
		ssize_t r = gnutls_record_recv(t->s, p, n);
		if (r >= 0)
			return (long)r;
		switch (r) {
		case GNUTLS_E_AGAIN:
			errno = EAGAIN;
			return -1;
		case GNUTLS_E_INTERRUPTED:
			errno = EINTR;
			return -1;
		case GNUTLS_E_PREMATURE_TERMINATION: /* closed without close_notify */
		case GNUTLS_E_PULL_ERROR:
			t->broken = 1;
			if (cert_refused(t))
				return -1;
			if (r == GNUTLS_E_PREMATURE_TERMINATION)
				return 0;
			errno = ECONNRESET;
			return -1;
		case GNUTLS_E_REHANDSHAKE:
			/* A TLS 1.2 server asking to renegotiate: decline, carry on. */
			gnutls_alert_send(t->s, GNUTLS_AL_WARNING, GNUTLS_A_NO_RENEGOTIATION);
			continue;
		default:
			if (!gnutls_error_is_fatal((int)r))
				continue;
			t->err = (int)r;
			t->broken = 1;
			if (r == GNUTLS_E_FATAL_ALERT_RECEIVED && cert_refused(t))
				return -1;
			errno = EPROTO;
			return -1;
		}
	}
}

static long tr_write(void *ctx, const void *p, size_t n)
{
	struct tls *t = ctx;
	ssize_t r = gnutls_record_send(t->s, p, n);
	if (r >= 0)
		return (long)r;
	if (r == GNUTLS_E_AGAIN) {
		errno = EAGAIN;
	} else if (r == GNUTLS_E_INTERRUPTED) {
		errno = EINTR;
	} else if (r == GNUTLS_E_PUSH_ERROR) {
		t->broken = 1;
		if (!cert_refused(t))
			errno = EPIPE;
	} else {
		t->err = (int)r;
		t->broken = 1;
		errno = EPROTO;
	}
	return -1;
}

static size_t tr_pending(void *ctx)
{
	struct tls *t = ctx;
	return gnutls_record_check_pending(t->s);
}

/* An error in words, with the alert the peer sent if that was it. */
static const char *describe(gnutls_session_t s, int err, char *out, size_t n)
{
	if (err == GNUTLS_E_FATAL_ALERT_RECEIVED || err == GNUTLS_E_WARNING_ALERT_RECEIVED)
		snprintf(out, n, "the server sent the TLS alert \"%s\"",
		         gnutls_alert_get_name(gnutls_alert_get(s)));
	else
		snprintf(out, n, "%s", gnutls_strerror(err));
	return out;
}

static const char *tr_error(void *ctx)
{
	struct tls *t = ctx;
	if (t->cert_refused && t->err) {   /* it said so with an alert */
		char alert[200];
		snprintf(t->errtext, sizeof t->errtext, "%s: the server asked for a client certificate, "
		         "none is configured (tls_cert_file and tls_key_file)",
		         describe(t->s, t->err, alert, sizeof alert));
		return t->errtext;
	}
	if (t->cert_refused)
		return "the server asked for a client certificate, none is configured "
		       "(tls_cert_file and tls_key_file), and it closed the session";
	return describe(t->s, t->err, t->errtext, sizeof t->errtext);
}

static void tls_free(struct tls *t)
{
	if (t->s)
		gnutls_deinit(t->s);
	if (t->cred)
		gnutls_certificate_free_credentials(t->cred);
	free(t);
}

/* With notify, send close_notify (without waiting for the server's);
 * then free. */
static void tr_close(void *ctx, int notify)
{
	struct tls *t = ctx;
	if (notify && !t->broken) {
		long long deadline = net_deadline(BYE_TIMEOUT);
		for (;;) {
			int r = gnutls_bye(t->s, GNUTLS_SHUT_WR);
			if ((r != GNUTLS_E_AGAIN && r != GNUTLS_E_INTERRUPTED) ||
			    net_wait(t->c, gnutls_record_get_direction(t->s), deadline) <= 0)
				break;
		}
	}
	tls_free(t);
}

/* ---- setting up ---- */

/* DANE decides, not PKIX: at least one usable TLSA record. */
static int dane_on(const struct tls_opts *o)
{
	return o->tlsa && tlsa_count_usable(o->tlsa, o->ntlsa) > 0;
}

/* ---- the system trust store, as much of it as a chain needs ---- */

#ifndef SYSTEM_CA_BUNDLE
#define SYSTEM_CA_BUNDLE "/etc/ssl/certs/ca-certificates.crt"
#endif
#define MAX_ISSUERS 16
#define HEAD_LINES 10

/* One DER element at p (n octets): *hdr octets of tag and length, then
 * *len of content. 0, or -1 when it does not fit (with open, only its
 * tag and length need to). */
static int der_elem(const unsigned char *p, size_t n, size_t *hdr, size_t *len, int open)
{
	if (n < 2)
		return -1;
	size_t h = 2, l = p[1];
	if (l & 0x80) {
		size_t k = l & 0x7f;
		if (k == 0 || k > 4 || n < 2 + k)
			return -1;
		l = 0;
		for (size_t i = 0; i < k; i++)
			l = l << 8 | p[2 + i];
		h += k;
	}
	if (l > n - h && !open)
		return -1;
	*hdr = h;
	*len = l;
	return 0;
}

/* The issuer and subject Names of a DER certificate (RFC 5280 4.1:
 * tbsCertificate holds [0] version, serial, signature, issuer, validity,
 * subject), each as its whole element. 0, or -1 when it is not one. With
 * head, p may be only the certificate's first n octets: enough when they
 * hold the subject. */
static int cert_names(const unsigned char *p, size_t n, gnutls_datum_t *issuer,
                      gnutls_datum_t *subject, int head)
{
	size_t h, l;
	for (int outer = 0; outer < 2; outer++) {   /* Certificate, tbsCertificate */
		if (der_elem(p, n, &h, &l, head) || p[0] != 0x30)
			return -1;
		p += h, n = l < n - h ? l : n - h;
	}
	for (int field = 0; field < 6; field++) {
		if (der_elem(p, n, &h, &l, 0))
			return -1;
		if (field == 0 && p[0] != 0xa0)
			field++;                            /* no version: v1 */
		if (field == 3)
			*issuer = (gnutls_datum_t){ (unsigned char *)p, (unsigned)(h + l) };
		if (field == 5)
			*subject = (gnutls_datum_t){ (unsigned char *)p, (unsigned)(h + l) };
		p += h + l, n -= h + l;
	}
	return 0;
}

/* tls_trust_file system: parsing the whole store costs about 20 ms of CPU
 * per session, so only its certificates whose subject is the issuer of
 * a certificate in the server's chain are loaded: every anchor the
 * verification could use, and nothing else. Returns how many; 0 when
 * none matched or the bundle is not there (the caller then loads the
 * whole store as GnuTLS finds it). */
static int load_issuers(struct tls *t)
{
	unsigned nchain = 0;
	const gnutls_datum_t *chain = gnutls_certificate_get_peers(t->s, &nchain);
	gnutls_datum_t issuer[MAX_ISSUERS], subject;
	size_t ni = 0;
	for (unsigned i = 0; chain && i < nchain && ni < MAX_ISSUERS; i++)
		if (cert_names(chain[i].data, chain[i].size, &issuer[ni], &subject, 0) == 0)
			ni++;
	if (ni == 0)
		return 0;
	/* Mapped, not read: reading the ~220 KB bundle into fresh memory
	 * faults in every page of it (~55 faults, 0.6 ms CPU here), a
	 * mapping of the page cache a handful. The bundle is replaced by
	 * rename (update-ca-certificates), not rewritten in place. */
	int fd = open(SYSTEM_CA_BUNDLE, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return 0;
	struct stat st;
	void *map = MAP_FAILED;
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0 &&
	    (uintmax_t)st.st_size <= SIZE_MAX)
		map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (map == MAP_FAILED)
		return 0;
	static const char begin[] = "-----BEGIN CERTIFICATE-----", end[] = "-----END CERTIFICATE-----";
	const char *p = map, *stop = p + st.st_size;
	int loaded = 0;
	while ((p = memmem(p, (size_t)(stop - p), begin, sizeof begin - 1))) {
		const char *b = memchr(p, '\n', (size_t)(stop - p)), *q = b;
		if (!b)
			break;
		gnutls_datum_t pem = { (unsigned char *)p, 0 }, der = { NULL, 0 }, is;
		/* Half the decoding is saved by decoding only the first
		 * HEAD_LINES lines of base64 (480 octets), which hold the
		 * subject of all but one of Debian 12's 144 roots; else all
		 * of it. */
		for (int i = 0; i < HEAD_LINES && q && q + 1 < stop && q[1] != '-'; i++)
			q = memchr(q + 1, '\n', (size_t)(stop - q - 1));
		gnutls_datum_t head = { (unsigned char *)b + 1, q ? (unsigned)(q - b) : 0 };
		int named = q && gnutls_base64_decode2(&head, &der) == 0 &&
		            cert_names(der.data, der.size, &is, &subject, 1) == 0;
		const char *from = q ? q : b;
		if (!(q = memmem(from, (size_t)(stop - from), end, sizeof end - 1))) {
			gnutls_free(der.data);
			break;
		}
		q += sizeof end - 1;
		pem.size = (unsigned)(q - p);
		if (!named) {
			gnutls_free(der.data);
			der.data = NULL;
			named = gnutls_pem_base64_decode2("CERTIFICATE", &pem, &der) == 0 &&
			        cert_names(der.data, der.size, &is, &subject, 0) == 0;
		}
		for (size_t i = 0; named && i < ni; i++)
			if (subject.size == issuer[i].size &&
			    memcmp(subject.data, issuer[i].data, subject.size) == 0) {
				if (gnutls_certificate_set_x509_trust_mem(t->cred, &pem, GNUTLS_X509_FMT_PEM) > 0)
					loaded++;
				break;
			}
		gnutls_free(der.data);
		p = q;
	}
	munmap(map, (size_t)st.st_size);
	return loaded;
}

/* The system store for verify(): the part the chain needs, else all of
 * it. EX_OK, or the failure when the store is what decides and there is
 * none. */
static int system_trust(struct tls *t, const struct tls_opts *o, struct perr *e)
{
	if (!t->system_trust)
		return EX_OK;
	t->system_trust = 0;
	if (load_issuers(t) > 0)
		return EX_OK;
	int r = gnutls_certificate_set_x509_system_trust(t->cred);
	if (r <= 0 && o->required)
		return perr_fail(e, FC_CONFIG, "cannot load the system's trusted certificates (%s); "
		                 "install ca-certificates or set tls_trust_file",
		                 r < 0 ? gnutls_strerror(r) : "none found");
	return EX_OK;
}

/* The PKIX trust: the trust store and CRLs. */
static int load_trust(struct tls *t, const struct tls_opts *o, struct perr *e)
{
	int r;
	if (o->trust_file && strcmp(o->trust_file, "system") == 0) {
		t->system_trust = 1;   /* loaded when the server's chain is known */
	} else if (o->trust_file) {
		r = gnutls_certificate_set_x509_trust_file(t->cred, o->trust_file, GNUTLS_X509_FMT_PEM);
		if (r <= 0)
			return perr_fail(e, FC_CONFIG, "tls_trust_file %s: %s", o->trust_file,
			                 r < 0 ? gnutls_strerror(r) : "no certificates found in it");
	}
	if (o->crl_file) {
		r = gnutls_certificate_set_x509_crl_file(t->cred, o->crl_file, GNUTLS_X509_FMT_PEM);
		if (r < 0)
			return perr_fail(e, FC_CONFIG, "tls_crl_file %s: %s", o->crl_file, gnutls_strerror(r));
	}
	return EX_OK;
}

static int load_credentials(struct tls *t, const struct tls_opts *o, struct perr *e)
{
	int r;
	if (gnutls_certificate_allocate_credentials(&t->cred) < 0)
		return perr_fail(e, FC_INTERNAL, "cannot set up TLS credentials");
	if (!dane_on(o) && load_trust(t, o, e))
		return e->ex;
	if (o->cert_file && o->key_file) {
		r = gnutls_certificate_set_x509_key_file2(t->cred, o->cert_file, o->key_file,
		                                          GNUTLS_X509_FMT_PEM, NULL, 0);
		if (r < 0)
			return perr_fail(e, FC_CONFIG, "cannot use tls_cert_file %s with tls_key_file %s: %s",
			                 o->cert_file, o->key_file, gnutls_strerror(r));
	}
	return EX_OK;
}

static int set_server_name(struct tls *t, const char *host, struct perr *e)
{
	char *ascii = NULL;
	if (!host || !*host || is_ip_literal(host))
		return EX_OK;   /* RFC 6066 3: no SNI for addresses */
	const char *name = host;
	for (const char *p = host; *p; p++)
		if ((unsigned char)*p >= 0x80) {
			if (idnlib_load(e))
				return e->ex;
			int r = idn2_to_ascii_8z(host, &ascii, IDN2_NONTRANSITIONAL);
			if (r != IDN2_OK)
				return perr_fail(e, FC_CONFIG, "cannot convert host name '%s' for TLS: %s",
				                 host, idn2_strerror(r));
			name = ascii;
			break;
		}
	int r = gnutls_server_name_set(t->s, GNUTLS_NAME_DNS, name, strlen(name));
	free(ascii);
	if (r < 0)
		return perr_fail(e, FC_INTERNAL, "cannot set the TLS server name: %s", gnutls_strerror(r));
	return EX_OK;
}

/* ---- socket I/O for GnuTLS ---- */

/* recv() that keeps the first bytes the server sent: when they are an
 * SMTP reply instead of a TLS record, the port speaks plain text. */
static ssize_t pull(gnutls_transport_ptr_t p, void *data, size_t n)
{
	struct tls *t = p;
	ssize_t r = recv(t->fd, data, n, 0);
	if (r > 0 && t->nfirst < sizeof t->first) {
		size_t k = sizeof t->first - t->nfirst;
		if ((size_t)r < k)
			k = (size_t)r;
		memcpy(t->first + t->nfirst, data, k);
		t->nfirst += k;
	}
	return r;
}

static ssize_t push(gnutls_transport_ptr_t p, const void *data, size_t n)
{
	struct tls *t = p;
	return send(t->fd, data, n, MSG_NOSIGNAL);
}

static int pull_timeout(gnutls_transport_ptr_t p, unsigned int ms)
{
	struct tls *t = p;
	struct pollfd pf = { t->fd, POLLIN, 0 };
	int r;
	do
		r = poll(&pf, 1, ms == GNUTLS_INDEFINITE_TIMEOUT ? -1 : (int)ms);
	while (r < 0 && errno == EINTR);
	return r;
}

static void set_transport(struct tls *t)
{
	t->fd = net_fd(t->c);
	gnutls_transport_set_ptr(t->s, t);
	gnutls_transport_set_pull_function(t->s, pull);
	gnutls_transport_set_push_function(t->s, push);
	gnutls_transport_set_pull_timeout_function(t->s, pull_timeout);
}

/* The server's first bytes are an SMTP reply line ("220 ", "554-"). */
static int answered_plain(const struct tls *t)
{
	const char *f = t->first;
	return t->nfirst >= 4 && f[0] >= '2' && f[0] <= '5' && f[1] >= '0' && f[1] <= '9' &&
	       f[2] >= '0' && f[2] <= '9' && (f[3] == ' ' || f[3] == '-');
}

/* "HOST port N answered in plain text ...", quoting the first line
 * (GnuTLS read only a record header of it: the rest is read here, for
 * at most half a second). */
static int plain_error(struct tls *t, const struct tls_opts *o, struct perr *e)
{
	char q[sizeof t->first + 1];
	size_t n = 0;
	while (t->nfirst < sizeof t->first && !memchr(t->first, '\n', t->nfirst) &&
	       pull_timeout(t, 500) > 0) {
		ssize_t r = recv(t->fd, t->first + t->nfirst, sizeof t->first - t->nfirst, MSG_DONTWAIT);
		if (r <= 0)
			break;
		t->nfirst += (size_t)r;
	}
	while (n < t->nfirst && t->first[n] != '\r' && t->first[n] != '\n') {
		unsigned char c = (unsigned char)t->first[n];
		q[n++] = c < 0x20 || c >= 0x7f ? '?' : (char)c;
	}
	q[n] = '\0';
	/* implicit TLS on a plain port is the configuration's mistake; plain
	 * text after 220 to STARTTLS is the server's */
	return perr_fail(e, o->plain_hint ? FC_CONFIG : FC_TLS_HANDSHAKE, "%s port %d answered in "
	                 "plain text (an SMTP greeting: \"%s%s\"), not TLS%s%s", net_peer_name(t->c),
	                 net_peer_port(t->c), q, n == sizeof t->first ? "..." : "",
	                 o->plain_hint ? ": " : "", o->plain_hint ? o->plain_hint : "");
}

static int new_session(struct tls *t, const struct tls_opts *o, struct perr *e)
{
	const char *errpos = NULL;
	int r = gnutls_init(&t->s, GNUTLS_CLIENT | GNUTLS_NONBLOCK);
	if (r < 0)
		return perr_fail(e, FC_INTERNAL, "cannot start a TLS session: %s", gnutls_strerror(r));
	if (o->priorities && *o->priorities)
		r = gnutls_priority_set_direct(t->s, o->priorities, &errpos);
	else
		r = gnutls_set_default_priority(t->s);
	if (r == GNUTLS_E_INVALID_REQUEST && errpos)
		return perr_fail(e, FC_CONFIG, "tls_priorities '%s' is not a valid GnuTLS priority string "
		                 "(the error is at '%s')", o->priorities, errpos);
	if (r < 0)
		return perr_fail(e, FC_CONFIG, "tls_priorities '%s': %s", o->priorities ? o->priorities : "",
		                 gnutls_strerror(r));
	if ((r = gnutls_credentials_set(t->s, GNUTLS_CRD_CERTIFICATE, t->cred)) < 0)
		return perr_fail(e, FC_INTERNAL, "cannot set TLS credentials: %s", gnutls_strerror(r));
	if (o->min_dh_prime_bits > 0)
		gnutls_dh_set_prime_bits(t->s, (unsigned)o->min_dh_prime_bits);
	set_transport(t);
	return set_server_name(t, o->host, e);
}

static int handshake(struct tls *t, const struct tls_opts *o, struct perr *e)
{
	long long deadline = net_deadline(o->timeout);
	const char *peer = net_peer_name(t->c);
	char why[300];
	for (;;) {
		int r = gnutls_handshake(t->s);
		if (r == GNUTLS_E_SUCCESS)
			return EX_OK;
		if (r == GNUTLS_E_AGAIN || r == GNUTLS_E_INTERRUPTED) {
			int w = net_wait(t->c, gnutls_record_get_direction(t->s), deadline);
			if (w == 0)
				return perr_fail(e, FC_TIMEOUT, "timeout after %d s in the TLS handshake with %s",
				                 o->timeout, peer);
			if (w < 0)
				return perr_fail(e, FC_LOST, "TLS handshake with %s: %s", peer, strerror(errno));
			continue;
		}
		if (!gnutls_error_is_fatal(r))
			continue;
		if (answered_plain(t))
			return plain_error(t, o, e);
		if ((r == GNUTLS_E_PULL_ERROR || r == GNUTLS_E_PREMATURE_TERMINATION) &&
		    gnutls_certificate_client_get_request_status(t->s) && !o->cert_file)
			return perr_fail(e, FC_TLS_HANDSHAKE, "TLS handshake with %s failed: the server "
			                 "asked for a client certificate, none is configured (tls_cert_file "
			                 "and tls_key_file), and it closed the connection", peer);
		if (r == GNUTLS_E_PULL_ERROR || r == GNUTLS_E_PUSH_ERROR || r == GNUTLS_E_PREMATURE_TERMINATION)
			return perr_fail(e, FC_TLS_HANDSHAKE, "TLS handshake with %s failed: the server "
			                 "closed the connection", peer);
		return perr_fail(e, FC_TLS_HANDSHAKE, "TLS handshake with %s failed: %s", peer,
		                 describe(t->s, r, why, sizeof why));
	}
}

/* ---- verification ---- */

/* Why GnuTLS's verdict is "no", in words, into b. */
static void explain(const struct tls_opts *o, unsigned status, gnutls_x509_crt_t crt,
                    struct buf *b)
{
	char when[64];
	time_t now = time(NULL);
#define ADD(...) do { if (b->len) buf_adds(b, "; "); buf_printf(b, __VA_ARGS__); } while (0)
	if (status & GNUTLS_CERT_REVOKED)
		ADD("the certificate has been revoked%s", o->crl_file ? " (tls_crl_file lists it)"
		                                                       : " (OCSP)");
	if (status & GNUTLS_CERT_SIGNER_NOT_FOUND) {
		char *issuer = crt ? crt_dn(crt, 1) : xstrdup("unknown");
		ADD("the certificate is not signed by a trusted authority (issuer %s; trusted: %s)",
		    issuer, !o->trust_file ? "none" : strcmp(o->trust_file, "system") == 0
		            ? "the system trust store" : o->trust_file);
		free(issuer);
	}
	if (status & GNUTLS_CERT_EXPIRED) {
		time_t exp = crt ? gnutls_x509_crt_get_expiration_time(crt) : (time_t)-1;
		fmt_time(exp, when, sizeof when);
		if (exp != (time_t)-1 && exp < now)
			ADD("the certificate has expired on %s", when);
		else
			ADD("a certificate in the chain has expired");
	}
	if (status & GNUTLS_CERT_NOT_ACTIVATED) {
		time_t act = crt ? gnutls_x509_crt_get_activation_time(crt) : (time_t)-1;
		fmt_time(act, when, sizeof when);
		if (act != (time_t)-1 && act > now)
			ADD("the certificate is not valid before %s", when);
		else
			ADD("a certificate in the chain is not yet valid");
	}
	if (status & GNUTLS_CERT_UNEXPECTED_OWNER) {
		struct buf names;
		buf_init(&names);
		if (crt)
			x509_names(crt, &names);
		ADD("the certificate is for %s, not for %s (tls_host_override sets the name to check)",
		    names.len ? names.s : "another host", o->host);
		buf_free(&names);
	}
	if (status & GNUTLS_CERT_INVALID_OCSP_STATUS)
		ADD("the OCSP response the server stapled is not valid for this certificate");
	if (status & GNUTLS_CERT_MISSING_OCSP_STATUS)
		ADD("the certificate requires a stapled OCSP response and the server sent none");
	if (status & (GNUTLS_CERT_REVOCATION_DATA_SUPERSEDED | GNUTLS_CERT_REVOCATION_DATA_ISSUED_IN_FUTURE))
		ADD("the revocation data (CRL or OCSP response) is out of date or not yet valid");
	unsigned known = GNUTLS_CERT_INVALID | GNUTLS_CERT_REVOKED | GNUTLS_CERT_SIGNER_NOT_FOUND |
	                 GNUTLS_CERT_EXPIRED | GNUTLS_CERT_NOT_ACTIVATED | GNUTLS_CERT_UNEXPECTED_OWNER |
	                 GNUTLS_CERT_INVALID_OCSP_STATUS | GNUTLS_CERT_MISSING_OCSP_STATUS |
	                 GNUTLS_CERT_REVOCATION_DATA_SUPERSEDED |
	                 GNUTLS_CERT_REVOCATION_DATA_ISSUED_IN_FUTURE;
	if (!b->len || (status & ~known)) {
		gnutls_datum_t d = { NULL, 0 };
		if (gnutls_certificate_verification_status_print(status & (~known | GNUTLS_CERT_INVALID),
		                                                 GNUTLS_CRT_X509, &d, 0) >= 0 && d.data) {
			ADD("%s", (const char *)d.data);
			gnutls_free(d.data);
		} else {
			ADD("verification status 0x%x", status);
		}
	}
#undef ADD
}

/* A pin: the leaf's digest must match; its dates still count. */
static void check_pin(struct tls *t, const struct tls_opts *o, gnutls_x509_crt_t crt,
                      const gnutls_datum_t *der, struct buf *why)
{
	size_t bytes = (strlen(o->fingerprint) + 1) / 3;
	gnutls_digest_algorithm_t alg = bytes == 32 ? GNUTLS_DIG_SHA256 : bytes == 20 ? GNUTLS_DIG_SHA1
	                                                                            : GNUTLS_DIG_MD5;
	const char *name = bytes == 32 ? "SHA-256" : bytes == 20 ? "SHA-1" : "MD5";
	char fp[200], when[64];
	time_t now = time(NULL);
	if (fingerprint(der, alg, fp, sizeof fp) < 0) {
		buf_adds(why, "cannot compute the certificate's fingerprint");
		return;
	}
	if (strcmp(fp, o->fingerprint) != 0) {
		buf_printf(why, "the certificate's %s fingerprint %s does not match tls_fingerprint", name, fp);
		return;
	}
	time_t act = gnutls_x509_crt_get_activation_time(crt);
	time_t exp = gnutls_x509_crt_get_expiration_time(crt);
	if (exp != (time_t)-1 && exp < now) {
		fmt_time(exp, when, sizeof when);
		buf_printf(why, "the certificate matches tls_fingerprint but has expired on %s", when);
	} else if (act != (time_t)-1 && act > now) {
		fmt_time(act, when, sizeof when);
		buf_printf(why, "the certificate matches tls_fingerprint but is not valid before %s", when);
	} else {
		t->verified = 1;
	}
}

/* The reference identifiers for DANE-TA: host, then o->dane_names. */
static const char **dane_names(const struct tls_opts *o)
{
	size_t n = 0, k = 0;
	while (o->dane_names && o->dane_names[n])
		n++;
	const char **names = xcalloc(n + 2, sizeof *names);
	if (o->host && *o->host)
		names[k++] = o->host;
	for (size_t i = 0; i < n; i++)
		names[k++] = o->dane_names[i];
	return names;
}

/* DANE (RFC 7672 §3): the chain against the TLSA records. A mismatch
 * fails whatever o->required and o->certcheck say: TLSA records make
 * TLS and authentication mandatory. */
static int verify_dane(struct tls *t, const struct tls_opts *o, struct perr *e)
{
	unsigned n = 0;
	const gnutls_datum_t *chain = NULL;
	const struct tlsa *m = NULL;
	const char **names = dane_names(o);
	if (gnutls_certificate_type_get(t->s) == GNUTLS_CRT_X509)
		chain = gnutls_certificate_get_peers(t->s, &n);
	int r = dane_verify(chain, chain ? n : 0, o->tlsa, o->ntlsa, names, &m, e);
	free(names);
	if (r == EX_OK) {
		t->verified = 1;
		snprintf(t->dane, sizeof t->dane, "%s %u %u %u", tlsa_usage_name(m->usage), m->usage,
		         m->selector, m->mtype);
		snprintf(t->result, sizeof t->result, "verified by DANE (%s)", t->dane);
		log_info("TLS verified by DANE (%s)", t->dane);
		return EX_OK;
	}
	snprintf(t->result, sizeof t->result, "%.*s", (int)sizeof t->result - 1, e->msg);
	log_info("TLS certificate of %s not verified by DANE: %s", net_peer_name(t->c), t->result);
	gnutls_alert_send(t->s, GNUTLS_AL_FATAL, GNUTLS_A_BAD_CERTIFICATE);
	t->broken = 1;
	return e->ex;
}

static int verify(struct tls *t, const struct tls_opts *o, struct perr *e)
{
	if (dane_on(o))
		return verify_dane(t, o, e);
	gnutls_datum_t der = { NULL, 0 };
	gnutls_x509_crt_t crt = leaf_cert(t, &der);
	struct buf why;
	buf_init(&why);
	if (!o->certcheck) {
		snprintf(t->result, sizeof t->result, "not checked (tls_certcheck off)");
	} else if (!crt) {
		buf_adds(&why, "the server sent no X.509 certificate");
	} else if (o->fingerprint) {
		check_pin(t, o, crt, &der, &why);
	} else if (system_trust(t, o, e)) {
		if (crt)
			gnutls_x509_crt_deinit(crt);
		buf_free(&why);
		return e->ex;
	} else {
		unsigned status = 0;
		int r = gnutls_certificate_verify_peers3(t->s, o->host && *o->host ? o->host : NULL, &status);
		if (r < 0)
			buf_printf(&why, "%s", gnutls_strerror(r));
		else if (status != 0)
			explain(o, status, crt, &why);
		else if (!o->host || !*o->host)
			buf_adds(&why, "there is no host name to check it against (set tls_host_override)");
		else
			t->verified = 1;
	}
	if (crt)
		gnutls_x509_crt_deinit(crt);
	if (o->certcheck)
		snprintf(t->result, sizeof t->result, "%s", t->verified ? "verified" : why.s);
	buf_free(&why);
	if (t->verified || !o->certcheck)
		return EX_OK;
	log_info("TLS certificate of %s not verified: %s", net_peer_name(t->c), t->result);
	if (!o->required)
		return EX_OK;
	gnutls_alert_send(t->s, GNUTLS_AL_FATAL, GNUTLS_A_BAD_CERTIFICATE);
	t->broken = 1;
	return perr_fail(e, FC_TLS_VERIFY, "cannot verify the TLS certificate of %s: %s",
	                 net_peer_name(t->c), t->result);
}

int tls_start(struct conn *c, const struct tls_opts *o, struct tls **out, struct perr *e)
{
	*out = NULL;
	perr_clear(e);
	if (tlslib_load(e))
		return e->ex;
	struct tls *t = xcalloc(1, sizeof *t);
	t->c = c;
	if (load_credentials(t, o, e) || new_session(t, o, e) || handshake(t, o, e)) {
		tls_free(t);
		return e->ex;
	}
	/* gnutls_dh_set_prime_bits() covers primes the server sends, not the
	 * RFC 7919 groups negotiated by name, so check what was used. */
	int bits = gnutls_dh_get_prime_bits(t->s);
	if (o->min_dh_prime_bits > 0 && bits > 0 && bits < o->min_dh_prime_bits) {
		perr_fail(e, FC_TLS_HANDSHAKE, "TLS handshake with %s: the Diffie-Hellman prime has %d "
		          "bits, fewer than tls_min_dh_prime_bits %d", net_peer_name(c), bits,
		          o->min_dh_prime_bits);
		gnutls_alert_send(t->s, GNUTLS_AL_FATAL, GNUTLS_A_INSUFFICIENT_SECURITY);
		tls_free(t);
		return e->ex;
	}
	struct net_transport tr = { tr_read, tr_write, tr_pending, tr_error, tr_close, t };
	net_set_transport(c, &tr);
	*out = t;
	return verify(t, o, e);
}

int tls_verified(const struct tls *t)
{
	return t->verified;
}

const char *tls_verify_result(const struct tls *t)
{
	return t->result;
}

const char *tls_dane(const struct tls *t)
{
	return t->dane[0] ? t->dane : NULL;
}

const char *tls_version(const struct tls *t)
{
	const char *v = gnutls_protocol_get_name(gnutls_protocol_get_version(t->s));
	return v ? v : "unknown";
}

int tls_channel_binding(const struct tls *t, const char **type, struct buf *data)
{
	gnutls_datum_t d = { NULL, 0 };
	int v13 = gnutls_protocol_get_version(t->s) == GNUTLS_TLS1_3;
	gnutls_channel_binding_t cb = v13 ? GNUTLS_CB_TLS_EXPORTER : GNUTLS_CB_TLS_UNIQUE;
	if (gnutls_session_channel_binding(t->s, cb, &d) < 0 || !d.data)
		return -1;
	*type = v13 ? "tls-exporter" : "tls-unique";
	buf_reset(data);
	buf_add(data, d.data, d.size);
	wipe(d.data, d.size);
	gnutls_free(d.data);
	return 0;
}

/* ---- what the session is ---- */

/* One "label: value" per fact, through emit. */
static void facts(const struct tls *t, void (*emit)(void *, const char *, const char *), void *ctx)
{
	const char *suite = gnutls_ciphersuite_get(t->s);
	char *desc = gnutls_session_get_desc(t->s);
	char buf[200], from[64], to[64];
	gnutls_datum_t der;
	gnutls_x509_crt_t crt = leaf_cert(t, &der);

	emit(ctx, "Protocol", tls_version(t));
	emit(ctx, "Cipher suite", suite ? suite : desc ? desc : "unknown");
	if (desc && suite)
		emit(ctx, "Session", desc);
	gnutls_free(desc);
	if (crt) {
		char *subject = crt_dn(crt, 0), *issuer = crt_dn(crt, 1);
		struct buf names;
		buf_init(&names);
		x509_names(crt, &names);
		emit(ctx, "Certificate subject", subject);
		emit(ctx, "Certificate names", names.s);
		emit(ctx, "Certificate issuer", issuer);
		fmt_time(gnutls_x509_crt_get_activation_time(crt), from, sizeof from);
		fmt_time(gnutls_x509_crt_get_expiration_time(crt), to, sizeof to);
		snprintf(buf, sizeof buf, "%s to %s", from, to);
		emit(ctx, "Valid", buf);
		if (fingerprint(&der, GNUTLS_DIG_SHA256, buf, sizeof buf) == 0)
			emit(ctx, "SHA-256 fingerprint", buf);
		if (fingerprint(&der, GNUTLS_DIG_SHA1, buf, sizeof buf) == 0)
			emit(ctx, "SHA-1 fingerprint", buf);
		free(subject);
		free(issuer);
		buf_free(&names);
		gnutls_x509_crt_deinit(crt);
	} else {
		emit(ctx, "Certificate", "none");
	}
	snprintf(buf, sizeof buf, "passed, by DANE (%s)", t->dane);
	emit(ctx, "Verification", !t->verified ? t->result : t->dane[0] ? buf : "passed");
	const gnutls_datum_t *mine = gnutls_certificate_get_ours(t->s);
	emit(ctx, "Client certificate", mine ? "sent" : "not sent");
}

static void print_fact(void *ctx, const char *label, const char *value)
{
	char l[64];
	snprintf(l, sizeof l, "%s:", label);
	fprintf(ctx, "    %-22s %s\n", l, value);
}

void tls_print_info(const struct tls *t, FILE *out)
{
	fprintf(out, "TLS session:\n");
	facts(t, print_fact, out);
}

static void log_fact(void *ctx, const char *label, const char *value)
{
	(void)ctx;
	log_info("TLS %s: %s", label, value);
}

void tls_log_info(const struct tls *t)
{
	if (log_verbose())
		facts(t, log_fact, NULL);
}
