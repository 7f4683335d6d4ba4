/* t-tls.c - unit tests for tls.c (and net.c's transport hook under it).
 * The server is an in-process GnuTLS server in a forked child at the
 * other end of a socketpair; it reports what it saw ("key=value" lines)
 * over a pipe. The PKI is made in memory at start (ECDSA P-256): a CA, a
 * server certificate for localhost / 127.0.0.1 / xn--bcher-kva.example,
 * an expired one, a not yet valid one, one from an unknown CA, a client
 * certificate and two CRLs; the files a tls_opts needs are written to a
 * mkdtemp directory that is removed at the end. */
#include "tls.h"

#include <arpa/inet.h>
#include <errno.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "net.h"
#include "session.h"
#include "util.h"

#include "tap.h"

static int in_child;

/* A setup step failed: the test cannot run at all. */
static void die(const char *what, int r)
{
	fprintf(stderr, "t-tls: %s: %s\n", what, r < 0 ? gnutls_strerror(r) : strerror(errno));
	if (in_child)
		_exit(3);
	exit(2);
}

#define G(call) do { int r_ = (call); if (r_ < 0) die(#call, r_); } while (0)

static long long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* needle in hay (NULL: anything); a leading '^' anchors it at the start
 * of hay, a trailing '$' at the end. */
static int has(const char *hay, const char *needle)
{
	if (!needle)
		return 1;
	int start = needle[0] == '^';
	size_t hn = strlen(hay), n = strlen(needle + start);
	int end = n > 0 && needle[start + n - 1] == '$';
	n -= (size_t)end;
	if (start && end)
		return hn == n && !memcmp(hay, needle + 1, n);
	if (start)
		return hn >= n && !memcmp(hay, needle + 1, n);
	if (end)
		return hn >= n && !memcmp(hay + hn - n, needle, n);
	return memmem(hay, hn, needle, n) != NULL;
}

static void hex(const unsigned char *p, size_t n, char *out, size_t cap)
{
	out[0] = '\0';
	for (size_t i = 0; i < n && 2 * i + 2 < cap; i++)
		snprintf(out + 2 * i, 3, "%02x", p[i]);
}

/* ---- the PKI ---- */

struct cert {
	gnutls_x509_crt_t crt;
	gnutls_x509_privkey_t key;
};

enum kind { K_CA, K_SERVER, K_CLIENT };

#define T_2023 ((time_t)1672531200)   /* 2023-01-01 00:00:00 UTC */
#define T_2024 ((time_t)1704067200)   /* 2024-01-01 00:00:00 UTC */
#define T_2020 ((time_t)1577836800)   /* 2020-01-01 00:00:00 UTC */
#define DAY 86400

static struct pki {
	char dir[256];
	char *files[16];
	size_t nfiles;
	struct cert ca, leaf, expired, future, rogue_ca, rogue, client, rsa;
	time_t leaf_from, leaf_to;
	char *ca_file, *crl_file, *crl_empty_file, *empty_file, *missing_file;
	char *client_file, *client_key_file, *other_key_file;
	char sha256[100], sha1[64], md5[64], wrong[100];
	char exp256[100], rogue256[100], future256[100];
	char valid[160];  /* the leaf's, as print_info shows it */
} pki;

static void make_cert(struct cert *c, enum kind kind, const char *dn, unsigned char serial,
                      time_t from, time_t to, struct cert *issuer, int rsa)
{
	const char *err = NULL;
	unsigned char id[64], issuer_id[64];
	size_t idlen = sizeof id, issuer_idlen = sizeof issuer_id;
	G(gnutls_x509_privkey_init(&c->key));
	if (rsa)
		G(gnutls_x509_privkey_generate(c->key, GNUTLS_PK_RSA, 2048, 0));
	else
		G(gnutls_x509_privkey_generate(c->key, GNUTLS_PK_ECDSA,
		                               GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1), 0));
	G(gnutls_x509_crt_init(&c->crt));
	G(gnutls_x509_crt_set_version(c->crt, 3));
	if (gnutls_x509_crt_set_dn(c->crt, dn, &err) < 0)
		die("gnutls_x509_crt_set_dn", -1);
	G(gnutls_x509_crt_set_serial(c->crt, &serial, 1));
	G(gnutls_x509_crt_set_activation_time(c->crt, from));
	G(gnutls_x509_crt_set_expiration_time(c->crt, to));
	G(gnutls_x509_crt_set_key(c->crt, c->key));
	G(gnutls_x509_crt_set_basic_constraints(c->crt, kind == K_CA, -1));
	G(gnutls_x509_crt_set_key_usage(c->crt, kind == K_CA
	                                ? GNUTLS_KEY_KEY_CERT_SIGN | GNUTLS_KEY_CRL_SIGN
	                                : rsa ? GNUTLS_KEY_DIGITAL_SIGNATURE | GNUTLS_KEY_KEY_ENCIPHERMENT
	                                : GNUTLS_KEY_DIGITAL_SIGNATURE));
	G(gnutls_x509_privkey_get_key_id(c->key, 0, id, &idlen));
	G(gnutls_x509_crt_set_subject_key_id(c->crt, id, idlen));
	if (kind == K_SERVER) {
		struct in_addr ip;
		inet_pton(AF_INET, "127.0.0.1", &ip);
		G(gnutls_x509_crt_set_key_purpose_oid(c->crt, GNUTLS_KP_TLS_WWW_SERVER, 0));
		G(gnutls_x509_crt_set_subject_alt_name(c->crt, GNUTLS_SAN_DNSNAME, "localhost", 9,
		                                       GNUTLS_FSAN_APPEND));
		G(gnutls_x509_crt_set_subject_alt_name(c->crt, GNUTLS_SAN_IPADDRESS, &ip, 4,
		                                       GNUTLS_FSAN_APPEND));
		G(gnutls_x509_crt_set_subject_alt_name(c->crt, GNUTLS_SAN_DNSNAME,
		                                       "xn--bcher-kva.example", 21, GNUTLS_FSAN_APPEND));
	} else if (kind == K_CLIENT) {
		G(gnutls_x509_crt_set_key_purpose_oid(c->crt, GNUTLS_KP_TLS_WWW_CLIENT, 0));
	}
	if (!issuer)
		issuer = c;
	G(gnutls_x509_privkey_get_key_id(issuer->key, 0, issuer_id, &issuer_idlen));
	G(gnutls_x509_crt_set_authority_key_id(c->crt, issuer_id, issuer_idlen));
	G(gnutls_x509_crt_sign2(c->crt, issuer->crt, issuer->key, GNUTLS_DIG_SHA256, 0));
}

static char *pki_path(const char *name)
{
	char *path = xasprintf("%s/%s", pki.dir, name);
	if (pki.nfiles < sizeof pki.files / sizeof pki.files[0])
		pki.files[pki.nfiles++] = path;
	return path;
}

static char *write_file(const char *name, const void *p, size_t n)
{
	char *path = pki_path(name);
	FILE *f = fopen(path, "w");
	if (!f || fwrite(p, 1, n, f) != n || fclose(f) != 0)
		die(path, 0);
	return path;
}

static char *write_datum(const char *name, gnutls_datum_t *d)
{
	char *path = write_file(name, d->data, d->size);
	gnutls_free(d->data);
	return path;
}

static char *write_crt(const char *name, gnutls_x509_crt_t crt)
{
	gnutls_datum_t d;
	G(gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_PEM, &d));
	return write_datum(name, &d);
}

static char *write_key(const char *name, gnutls_x509_privkey_t key)
{
	gnutls_datum_t d;
	G(gnutls_x509_privkey_export2(key, GNUTLS_X509_FMT_PEM, &d));
	return write_datum(name, &d);
}

/* A CRL by the CA, revoking c (or nothing). */
static char *write_crl(const char *name, const struct cert *c, time_t now)
{
	gnutls_x509_crl_t crl;
	gnutls_datum_t d;
	G(gnutls_x509_crl_init(&crl));
	G(gnutls_x509_crl_set_version(crl, 2));
	G(gnutls_x509_crl_set_this_update(crl, now - DAY));
	G(gnutls_x509_crl_set_next_update(crl, now + 365 * DAY));
	if (c)
		G(gnutls_x509_crl_set_crt(crl, c->crt, now - 3600));
	G(gnutls_x509_crl_sign2(crl, pki.ca.crt, pki.ca.key, GNUTLS_DIG_SHA256, 0));
	G(gnutls_x509_crl_export2(crl, GNUTLS_X509_FMT_PEM, &d));
	gnutls_x509_crl_deinit(crl);
	return write_datum(name, &d);
}

static void utc(time_t t, char *out, size_t cap)
{
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(out, cap, "%Y-%m-%d %H:%M:%S UTC", &tm);
}

/* "AB:CD:..." of the DER certificate, as conf.c stores tls_fingerprint. */
static void fpr(gnutls_x509_crt_t crt, gnutls_digest_algorithm_t alg, char *out, size_t cap)
{
	gnutls_datum_t der;
	unsigned char md[64];
	size_t len = sizeof md;
	G(gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_DER, &der));
	G(gnutls_fingerprint(alg, &der, md, &len));
	gnutls_free(der.data);
	out[0] = '\0';
	for (size_t i = 0; i < len && 3 * i + 3 <= cap; i++)
		snprintf(out + 3 * i, 4, i + 1 < len ? "%02X:" : "%02X", md[i]);
}

static void pki_make(void)
{
	time_t now = time(NULL);
	char from[64], to[64];
	const char *tmp = getenv("TMPDIR");
	if (!tmp || !*tmp || strlen(tmp) > sizeof pki.dir - 16)
		tmp = "/tmp";
	snprintf(pki.dir, sizeof pki.dir, "%s/t-tls.XXXXXX", tmp);
	if (!mkdtemp(pki.dir))
		die("mkdtemp", 0);
	pki.leaf_from = now - DAY;
	pki.leaf_to = now + 30 * DAY;
	make_cert(&pki.ca, K_CA, "CN=Postie Test CA,O=Postie Test", 1, T_2020, now + 3650 * DAY,
	          NULL, 0);
	make_cert(&pki.leaf, K_SERVER, "CN=localhost,O=Postie Test", 2, pki.leaf_from, pki.leaf_to,
	          &pki.ca, 0);
	make_cert(&pki.expired, K_SERVER, "CN=localhost,O=Postie Expired", 3, T_2023, T_2024,
	          &pki.ca, 0);
	make_cert(&pki.future, K_SERVER, "CN=localhost,O=Postie Future", 4, now + 30 * DAY,
	          now + 60 * DAY, &pki.ca, 0);
	make_cert(&pki.client, K_CLIENT, "CN=postie client,O=Postie Test", 5, now - DAY,
	          now + 30 * DAY, &pki.ca, 0);
	make_cert(&pki.rsa, K_SERVER, "CN=localhost,O=Postie RSA", 6, now - DAY, now + 30 * DAY,
	          &pki.ca, 1);
	make_cert(&pki.rogue_ca, K_CA, "CN=Rogue CA,O=Elsewhere", 1, T_2020, now + 3650 * DAY,
	          NULL, 0);
	make_cert(&pki.rogue, K_SERVER, "CN=localhost,O=Elsewhere", 2, now - DAY, now + 30 * DAY,
	          &pki.rogue_ca, 0);
	pki.ca_file = write_crt("ca.pem", pki.ca.crt);
	pki.client_file = write_crt("client.pem", pki.client.crt);
	pki.client_key_file = write_key("client-key.pem", pki.client.key);
	pki.other_key_file = write_key("other-key.pem", pki.rogue.key);
	pki.crl_file = write_crl("crl.pem", &pki.leaf, now);
	pki.crl_empty_file = write_crl("crl-empty.pem", NULL, now);
	pki.empty_file = write_file("empty.pem", "no certificates here\n", 21);
	pki.missing_file = pki_path("missing.pem");
	fpr(pki.leaf.crt, GNUTLS_DIG_SHA256, pki.sha256, sizeof pki.sha256);
	fpr(pki.leaf.crt, GNUTLS_DIG_SHA1, pki.sha1, sizeof pki.sha1);
	fpr(pki.leaf.crt, GNUTLS_DIG_MD5, pki.md5, sizeof pki.md5);
	fpr(pki.expired.crt, GNUTLS_DIG_SHA256, pki.exp256, sizeof pki.exp256);
	fpr(pki.rogue.crt, GNUTLS_DIG_SHA256, pki.rogue256, sizeof pki.rogue256);
	fpr(pki.future.crt, GNUTLS_DIG_SHA256, pki.future256, sizeof pki.future256);
	utc(pki.leaf_from, from, sizeof from);
	utc(pki.leaf_to, to, sizeof to);
	snprintf(pki.valid, sizeof pki.valid, "%s to %s", from, to);
	/* the right length and form, one digit off */
	snprintf(pki.wrong, sizeof pki.wrong, "%s", pki.sha256);
	pki.wrong[1] = pki.wrong[1] == '0' ? '1' : '0';
}

static void pki_remove(void)
{
	for (size_t i = 0; i < pki.nfiles; i++) {
		unlink(pki.files[i]);
		free(pki.files[i]);
	}
	if (rmdir(pki.dir) < 0)
		fprintf(stderr, "t-tls: rmdir %s: %s\n", pki.dir, strerror(errno));
}

/* "@name" in a table stands for a file or fingerprint made at run time. */
static const char *at(const char *s)
{
	static const struct {
		const char *name;
		size_t off;
		int array;
	} names[] = {
		{ "@ca", offsetof(struct pki, ca_file), 0 },
		{ "@crl", offsetof(struct pki, crl_file), 0 },
		{ "@crl-empty", offsetof(struct pki, crl_empty_file), 0 },
		{ "@empty", offsetof(struct pki, empty_file), 0 },
		{ "@missing", offsetof(struct pki, missing_file), 0 },
		{ "@client", offsetof(struct pki, client_file), 0 },
		{ "@client-key", offsetof(struct pki, client_key_file), 0 },
		{ "@other-key", offsetof(struct pki, other_key_file), 0 },
		{ "@sha256", offsetof(struct pki, sha256), 1 },
		{ "@sha1", offsetof(struct pki, sha1), 1 },
		{ "@md5", offsetof(struct pki, md5), 1 },
		{ "@wrong", offsetof(struct pki, wrong), 1 },
		{ "@exp256", offsetof(struct pki, exp256), 1 },
		{ "@rogue256", offsetof(struct pki, rogue256), 1 },
		{ "@future256", offsetof(struct pki, future256), 1 },
		{ "@valid", offsetof(struct pki, valid), 1 },
	};
	if (!s || *s != '@')
		return s;
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
		if (!strcmp(s, names[i].name)) {
			char *p = (char *)&pki + names[i].off;
			return names[i].array ? p : *(char **)p;
		}
	fprintf(stderr, "t-tls: unknown name %s\n", s);
	exit(2);
}

/* ---- the server ---- */

enum which { W_LEAF, W_EXPIRED, W_FUTURE, W_ROGUE, W_RSA };
enum mode { M_TLS, M_SILENT, M_GARBAGE, M_HANGUP };
enum act {
	A_ECHO,   /* "echo <line>" for each line, until the client closes */
	A_ALERT,  /* a fatal alert right after the handshake */
	A_BYE,    /* "bye", close_notify, then echo */
	A_TRUNC,  /* "x", then a TCP-level half close without close_notify */
	A_REHS,   /* TLS 1.2: ask to renegotiate, "still here", echo */
	A_KU,     /* TLS 1.3: key update (asking the peer to update too), echo */
	A_BIG,    /* a 60000-byte line and "second" in one send, echo */
};

struct srv {
	enum which cert;
	enum mode mode;
	enum act act;
	const char *prio;  /* NULL: "NORMAL" */
	int reqcert;       /* require a client certificate */
};

static int rep_fd = -1;

/* One "key=value" line of the report to the test. */
static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
	char line[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof line - 1, fmt, ap);
	va_end(ap);
	strcat(line, "\n");
	if (write(rep_fd, line, strlen(line)) < 0)
		_exit(4);
}

/* Raw bytes until EOF or 5 s of quiet. */
static long drain(int fd)
{
	char tmp[4096];
	long total = 0;
	for (;;) {
		struct pollfd p = { fd, POLLIN, 0 };
		if (poll(&p, 1, 5000) <= 0)
			break;
		ssize_t n = read(fd, tmp, sizeof tmp);
		if (n <= 0)
			break;
		total += n;
	}
	return total;
}

static void srv_send(gnutls_session_t s, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t r = gnutls_record_send(s, p, n);
		if (r == GNUTLS_E_AGAIN || r == GNUTLS_E_INTERRUPTED)
			continue;
		if (r < 0) {
			say("send=%s", gnutls_strerror_name((int)r));
			_exit(0);
		}
		p += r;
		n -= (size_t)r;
	}
}

/* A line without its CRLF: 1, or what gnutls_record_recv ended with. */
static int srv_getline(gnutls_session_t s, struct buf *in, struct buf *line)
{
	for (int tries = 0;;) {
		char *lf = in->len ? memchr(in->s, '\n', in->len) : NULL;
		if (lf) {
			size_t n = (size_t)(lf - in->s);
			buf_reset(line);
			buf_add(line, in->s, n > 0 && in->s[n - 1] == '\r' ? n - 1 : n);
			memmove(in->s, lf + 1, in->len - n - 1);
			in->len -= n + 1;
			in->s[in->len] = '\0';
			return 1;
		}
		char tmp[16384];
		ssize_t r = gnutls_record_recv(s, tmp, sizeof tmp);
		if (r > 0) {
			buf_add(in, tmp, (size_t)r);
			continue;
		}
		if (r < 0 && r != GNUTLS_E_TIMEDOUT && !gnutls_error_is_fatal((int)r) && ++tries < 100)
			continue;
		return (int)r;
	}
}

/* Echo lines until the client is gone; say how it went. */
static void srv_echo(gnutls_session_t s)
{
	struct buf in, line;
	int r;
	buf_init(&in);
	buf_init(&line);
	while ((r = srv_getline(s, &in, &line)) == 1) {
		char *out = xasprintf("echo %s\r\n", line.s);
		srv_send(s, out, strlen(out));
		free(out);
	}
	say("close=%s", r == 0 ? "eof" : gnutls_strerror_name(r));
	if (r == GNUTLS_E_FATAL_ALERT_RECEIVED || r == GNUTLS_E_WARNING_ALERT_RECEIVED)
		say("alert=%s", gnutls_alert_get_name(gnutls_alert_get(s)));
}

/* What the handshake gave: version, channel binding, SNI, client cert. */
static void srv_facts(gnutls_session_t s)
{
	int v13 = gnutls_protocol_get_version(s) == GNUTLS_TLS1_3;
	gnutls_datum_t d = { NULL, 0 };
	char buf[256];
	size_t n = sizeof buf;
	unsigned type, n_peers = 0;
	say("hs=ok");
	say("ver=%s", gnutls_protocol_get_name(gnutls_protocol_get_version(s)));
	say("dhbits=%d", gnutls_dh_get_prime_bits(s));
	if (gnutls_session_channel_binding(s, v13 ? GNUTLS_CB_TLS_EXPORTER : GNUTLS_CB_TLS_UNIQUE,
	                                   &d) == 0) {
		char h[300];
		hex(d.data, d.size, h, sizeof h);
		say("cb=%s", h);
		gnutls_free(d.data);
	}
	if (gnutls_server_name_get(s, buf, &n, &type, 0) == 0 && type == GNUTLS_NAME_DNS)
		say("sni=%s", buf);
	else
		say("sni=-");
	const gnutls_datum_t *peers = gnutls_certificate_get_peers(s, &n_peers);
	if (peers && n_peers) {
		gnutls_x509_crt_t crt;
		gnutls_datum_t dn = { NULL, 0 };
		unsigned status = 1;
		if (gnutls_x509_crt_init(&crt) == 0 &&
		    gnutls_x509_crt_import(crt, &peers[0], GNUTLS_X509_FMT_DER) == 0 &&
		    gnutls_x509_crt_get_dn3(crt, &dn, 0) == 0) {
			say("peer=%.*s", (int)dn.size, (const char *)dn.data);
			gnutls_free(dn.data);
		}
		gnutls_certificate_verify_peers2(s, &status);
		say("peerok=%d", status == 0);
	} else {
		say("peer=-");
	}
}

static void srv_tls(const struct srv *sv, int fd)
{
	struct cert *c = sv->cert == W_EXPIRED ? &pki.expired : sv->cert == W_FUTURE ? &pki.future
	                 : sv->cert == W_ROGUE ? &pki.rogue : sv->cert == W_RSA ? &pki.rsa : &pki.leaf;
	gnutls_x509_crt_t chain = c->crt, ca = pki.ca.crt;
	gnutls_certificate_credentials_t cred;
	gnutls_session_t s;
	int r;
	G(gnutls_certificate_allocate_credentials(&cred));
	G(gnutls_certificate_set_x509_key(cred, &chain, 1, c->key));
	G(gnutls_certificate_set_x509_trust(cred, &ca, 1));
	G(gnutls_certificate_set_known_dh_params(cred, GNUTLS_SEC_PARAM_MEDIUM));
	G(gnutls_init(&s, GNUTLS_SERVER));
	G(gnutls_priority_set_direct(s, sv->prio ? sv->prio : "NORMAL", NULL));
	G(gnutls_credentials_set(s, GNUTLS_CRD_CERTIFICATE, cred));
	if (sv->reqcert)
		gnutls_certificate_server_set_request(s, GNUTLS_CERT_REQUIRE);
	gnutls_transport_set_int(s, fd);
	gnutls_handshake_set_timeout(s, 5000);
	gnutls_record_set_timeout(s, 5000);
	do
		r = gnutls_handshake(s);
	while (r < 0 && !gnutls_error_is_fatal(r));
	if (r < 0) {
		say("hs=%s", gnutls_strerror_name(r));
		if (r == GNUTLS_E_FATAL_ALERT_RECEIVED)
			say("alert=%s", gnutls_alert_get_name(gnutls_alert_get(s)));
		gnutls_alert_send_appropriate(s, r);
		drain(fd);
		return;
	}
	srv_facts(s);
	switch (sv->act) {
	case A_ECHO:
		break;
	case A_ALERT:
		gnutls_alert_send(s, GNUTLS_AL_FATAL, GNUTLS_A_INTERNAL_ERROR);
		say("after=%ld", drain(fd));
		return;
	case A_BYE:
		srv_send(s, "bye\r\n", 5);
		say("bye=%s", gnutls_strerror_name(gnutls_bye(s, GNUTLS_SHUT_WR)));
		break;
	case A_TRUNC:
		srv_send(s, "x\r\n", 3);
		shutdown(fd, SHUT_WR);
		say("after=%ld", drain(fd));
		return;
	case A_REHS:
		say("rehs=%s", gnutls_strerror_name(gnutls_rehandshake(s)));
		r = gnutls_handshake(s);
		say("rehs2=%s", gnutls_strerror_name(r));
		if (r == GNUTLS_E_WARNING_ALERT_RECEIVED || r == GNUTLS_E_FATAL_ALERT_RECEIVED)
			say("rehsalert=%d", (int)gnutls_alert_get(s));
		srv_send(s, "still here\r\n", 12);
		break;
	case A_KU:
		say("ku=%s", gnutls_strerror_name(gnutls_session_key_update(s, GNUTLS_KU_PEER)));
		break;
	case A_BIG: {
		char *big = xmalloc(60000 + 12);
		memset(big, 'x', 60000);
		memcpy(big + 60000, "\r\nsecond\r\n", 10);
		srv_send(s, big, 60010);
		free(big);
		break;
	}
	}
	srv_echo(s);
}

static void run_server(const struct srv *sv, int fd)
{
	char tmp[4096];
	struct pollfd p = { fd, POLLIN, 0 };
	switch (sv->mode) {
	case M_TLS:
		srv_tls(sv, fd);
		break;
	case M_SILENT:
		say("raw=%ld", drain(fd));
		break;
	case M_GARBAGE:
	case M_HANGUP:
		/* wait for the ClientHello, then answer it with SMTP, or hang up */
		if (poll(&p, 1, 5000) <= 0 || read(fd, tmp, sizeof tmp) <= 0)
			break;
		if (sv->mode == M_HANGUP)
			break;
		if (write(fd, "220 hello\r\n", 11) != 11)
			break;
		drain(fd);
		break;
	}
}

struct peer {
	pid_t pid;
	int rep;
};

/* Fork a server; the client's end comes back as a conn named "peer". */
static struct conn *start_server(const struct srv *sv, struct peer *p)
{
	int sp[2], rp[2];
	struct conn *c;
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sp) < 0 || pipe(rp) < 0)
		die("socketpair", 0);
	fflush(stdout);
	fflush(stderr);
	p->pid = fork();
	if (p->pid < 0)
		die("fork", 0);
	if (p->pid == 0) {
		in_child = 1;
		close(sp[0]);
		close(rp[0]);
		rep_fd = rp[1];
		alarm(20);   /* a last resort; every wait below is bounded */
		run_server(sv, sp[1]);
		_exit(0);
	}
	close(sp[1]);
	close(rp[1]);
	p->rep = rp[0];
	if (net_from_fd(sp[0], "peer", 5, &c) < 0)
		die("net_from_fd", 0);
	return c;
}

/* The server's report, once it has ended (killed after 15 s). */
static char *finish_server(struct peer *p)
{
	struct buf b;
	long long end = now_ms() + 15000;
	buf_init(&b);
	for (;;) {
		char tmp[4096];
		struct pollfd pf = { p->rep, POLLIN, 0 };
		long long left = end - now_ms();
		int r = left > 0 ? poll(&pf, 1, (int)left) : 0;
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			kill(p->pid, SIGKILL);
			buf_adds(&b, "killed=1\n");
			break;
		}
		ssize_t n = read(p->rep, tmp, sizeof tmp);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		buf_add(&b, tmp, (size_t)n);
	}
	close(p->rep);
	waitpid(p->pid, NULL, 0);
	return buf_steal(&b);
}

/* Call fn(ctx, item) for each '|'-separated item of list (NULL: none)
 * until one fails. */
static int each(const char *list, int (*fn)(void *ctx, const char *item), void *ctx)
{
	char *l = xstrdup(list ? list : ""), *save = NULL;
	int bad = 0;
	for (char *item = strtok_r(l, "|", &save); item && !bad; item = strtok_r(NULL, "|", &save))
		bad = fn(ctx, item);
	free(l);
	return bad;
}

/* item is in the server's report rep: "key=value" is a line of it,
 * "key=val*" the start of a line; "!text" is nowhere in it. */
static int reported(void *rep, const char *item)
{
	size_t n = strlen(item);
	int absent = item[0] == '!';
	char *full = xasprintf("\n%s", (char *)rep);
	char *want = absent ? xstrdup(item + 1)
	             : item[n - 1] == '*' ? xasprintf("\n%.*s", (int)n - 1, item)
	             : xasprintf("\n%s\n", item);
	int bad = (strstr(full, want) != NULL) == absent;
	if (bad)
		fail("the server %s '%s'; it said: %s", absent ? "reported" : "did not report",
		     item + absent, (char *)rep);
	free(want);
	free(full);
	return bad;
}

/* Each '|'-separated item of want (NULL: none) is reported (see above). */
static int check_report(char *rep, const char *want)
{
	return each(want, reported, rep);
}

/* Send text, expect "echo text" back. */
static int ping(void *c, const char *text)
{
	struct perr e;
	struct buf line;
	int bad = 0;
	char *want = xasprintf("echo %s", text);
	buf_init(&line);
	if (net_write(c, text, strlen(text), &e) || net_write(c, "\r\n", 2, &e) || net_flush(c, &e))
		bad = fail("sending '%s': %s", text, e.msg);
	else if (net_getline(c, &line, &e))
		bad = fail("reading the echo of '%s': %s", text, e.msg);
	else if (strcmp(line.s, want))
		bad = fail("got '%.100s', want '%s'", line.s, want);
	buf_free(&line);
	free(want);
	return bad;
}

/* The next line is want. */
static int expect_line(void *c, const char *want)
{
	struct perr e;
	struct buf line;
	int bad = 0, rc;
	buf_init(&line);
	if ((rc = net_getline(c, &line, &e)) || strcmp(line.s, want))
		bad = fail("got %s '%s', want '%s'", rc ? e.msg : "", line.s ? line.s : "", want);
	buf_free(&line);
	return bad;
}

/* The next read fails with ex, and has(its message, msg). */
static int expect_end(struct conn *c, int ex, const char *msg)
{
	struct perr e = { 0 };
	struct buf line;
	int bad = 0, rc;
	buf_init(&line);
	if ((rc = net_getline(c, &line, &e)) != ex || !has(e.msg, msg))
		bad = fail("got %s '%s' (line '%.50s'), want %s '%s'", status_name(rc), e.msg,
		           rc || !line.s ? "" : line.s, status_name(ex), msg);
	buf_free(&line);
	return bad;
}

/* ---- the cases: what tls_start gives, then what the session does ---- */

#define V12 "NORMAL:-VERS-ALL:+VERS-TLS1.2"
#define V13 "NORMAL:-VERS-ALL:+VERS-TLS1.3"
#define FFDHE12 "NORMAL:-VERS-ALL:+VERS-TLS1.2:-KX-ALL:+DHE-RSA"
#define DHE12 FFDHE12 ":-GROUP-DH-ALL"  /* the server's own group, not RFC 7919 */
#define HELLO "hello over TLS"  /* sent over a session that started, echoed back */
#define CERTCHECK_OFF .host = "localhost", .certcheck = 0, .required = 1
#define LOST "^connection to peer lost$"

/* One run against a fresh server: tls_start, then the session. A field
 * left out checks nothing, except that ex is then EX_OK and verified 0. */
struct tcase {
	const char *desc;
	struct srv sv;
	struct tls_opts o;    /* "@..." strings come from the PKI; timeout 0 = 5 */
	/* what tls_start gives */
	int ex;
	int verified;         /* when a session came back */
	const char *msg;      /* in the error message (ex != 0), by has() */
	const char *result;   /* in tls_verify_result(), by has() */
	const char *version;  /* tls_version() */
	int secs;             /* tls_start took this long (+-) */
	/* then, after EX_OK, in this order: */
	const char *lines;    /* '|'-separated: the lines the server sends first */
	int end_ex;           /* the next read fails with this status */
	const char *end_msg;  /* and a message this is in, by has() */
	const char *pings;    /* '|'-separated: lines sent and echoed back */
	const char *cb_type;  /* tls_channel_binding gives this type */
	size_t cb_len;        /* and this many bytes, the same as the server's */
	int (*more)(struct conn *c);  /* what else the client does */
	/* with any session that came back */
	const char *facts[20];  /* label, value pairs print_info shows */
	/* and at the end */
	const char *srv;      /* the server's report, '|'-separated (see reported) */
};

/* Handshake, verification and settings. */
static const struct tcase vcases[] = {
	{ .desc = "TLS 1.3, tls_certcheck off: accepted, lines flow both ways",
	  .sv = { .cert = W_LEAF },
	  .o = { .host = "localhost", .certcheck = 0, .required = 1 },
	  .ex = EX_OK, .verified = 0, .result = "not checked (tls_certcheck off)",
	  .version = "TLS1.3", .pings = HELLO, .srv = "hs=ok|ver=TLS1.3|sni=localhost|peer=-" },
	{ .desc = "tls_certcheck off accepts even a certificate from an unknown CA",
	  .sv = { .cert = W_ROGUE },
	  .o = { .host = "other.example", .trust_file = "@ca", .certcheck = 0, .required = 1 },
	  .ex = EX_OK, .verified = 0, .result = "not checked (tls_certcheck off)", .pings = HELLO },
	{ .desc = "trusted chain, host localhost: verified",
	  .sv = { .cert = W_LEAF },
	  .o = { .host = "localhost", .trust_file = "@ca", .certcheck = 1, .required = 1 },
	  .ex = EX_OK, .verified = 1, .result = "^verified", .pings = HELLO,
	  .srv = "sni=localhost|close=eof" },
	{ .desc = "trusted chain, host 127.0.0.1 (IP SAN): verified, no SNI sent",
	  .sv = { .cert = W_LEAF },
	  .o = { .host = "127.0.0.1", .trust_file = "@ca", .certcheck = 1, .required = 1 },
	  .ex = EX_OK, .verified = 1, .result = "^verified", .pings = HELLO, .srv = "sni=-" },
	{ .desc = "trusted chain, IDN host b\xc3\xbc" "cher.example: verified, SNI as A-label",
	  .sv = { .cert = W_LEAF },
	  .o = { .host = "b\xc3\xbc" "cher.example", .trust_file = "@ca", .certcheck = 1,
	         .required = 1 },
	  .ex = EX_OK, .verified = 1, .result = "^verified", .pings = HELLO,
	  .srv = "sni=xn--bcher-kva.example" },
	{ .desc = "trusted chain over TLS 1.2: verified",
	  .sv = { .cert = W_LEAF },
	  .o = { .host = "localhost", .trust_file = "@ca", .certcheck = 1, .required = 1,
	         .priorities = V12 },
	  .ex = EX_OK, .verified = 1, .result = "^verified", .version = "TLS1.2",
	  .pings = HELLO, .srv = "ver=TLS1.2" },
	{ .desc = "wrong host, required: refused, names the certificate's names; server gets an alert",
	  .sv = { .cert = W_LEAF },
	  .o = { .host = "other.example", .trust_file = "@ca", .certcheck = 1, .required = 1 },
	  .ex = EX_UNAVAILABLE, .verified = 0,
	  .msg = "^cannot verify the TLS certificate of peer: the certificate is for localhost, "
	         "127.0.0.1, xn--bcher-kva.example, not for other.example",
	  .result = "not for other.example",
	  .srv = "close=GNUTLS_E_FATAL_ALERT_RECEIVED|alert=Certificate is bad" },
	{ .desc = "wrong host, not required: accepted unverified, the reason kept",
	  .sv = { .cert = W_LEAF },
	  .o = { .host = "other.example", .trust_file = "@ca", .certcheck = 1, .required = 0 },
	  .ex = EX_OK, .verified = 0,
	  .result = "^the certificate is for localhost, 127.0.0.1, xn--bcher-kva.example, "
	            "not for other.example", .pings = HELLO, .srv = "close=eof" },
	{ .desc = "no host name to check: refused",
	  .sv = { .cert = W_LEAF },
	  .o = { .host = NULL, .trust_file = "@ca", .certcheck = 1, .required = 1 },
	  .ex = EX_UNAVAILABLE, .msg = "there is no host name to check it against",
	  .srv = "sni=-" },
	{ .desc = "empty host name: refused, no SNI",
	  .sv = { .cert = W_LEAF },
	  .o = { .host = "", .trust_file = "@ca", .certcheck = 1, .required = 1 },
	  .ex = EX_UNAVAILABLE, .msg = "there is no host name to check it against",
	  .srv = "sni=-" },
	{ .desc = "expired certificate: refused with its date",
	  .sv = { .cert = W_EXPIRED },
	  .o = { .host = "localhost", .trust_file = "@ca", .certcheck = 1, .required = 1 },
	  .ex = EX_UNAVAILABLE,
	  .msg = "^cannot verify the TLS certificate of peer: the certificate has expired on "
	         "2024-01-01 00:00:00 UTC" },
	{ .desc = "expired certificate and wrong host: both reasons",
	  .sv = { .cert = W_EXPIRED },
	  .o = { .host = "other.example", .trust_file = "@ca", .certcheck = 1, .required = 1 },
	  .ex = EX_UNAVAILABLE,
	  .msg = "expired on 2024-01-01 00:00:00 UTC; the certificate is for localhost" },
	{ .desc = "not yet valid certificate: refused",
	  .sv = { .cert = W_FUTURE },
	  .o = { .host = "localhost", .trust_file = "@ca", .certcheck = 1, .required = 1 },
	  .ex = EX_UNAVAILABLE, .msg = "the certificate is not valid before " },
	{ .desc = "certificate from an unknown CA: refused, names the issuer",
	  .sv = { .cert = W_ROGUE },
	  .o = { .host = "localhost", .trust_file = "@ca", .certcheck = 1, .required = 1 },
	  .ex = EX_UNAVAILABLE,
	  .msg = "the certificate is not signed by a trusted authority (issuer CN=Rogue CA,O=Elsewhere;" },
	{ .desc = "no tls_trust_file: nobody is trusted",
	  .sv = { .cert = W_LEAF },
	  .o = { .host = "localhost", .certcheck = 1, .required = 1 },
	  .ex = EX_UNAVAILABLE, .msg = "not signed by a trusted authority (issuer CN=Postie Test CA,"
	                               "O=Postie Test; trusted: none)" },
	{ .desc = "system trust store does not know the test CA (not required)",
	  .sv = { .cert = W_LEAF },
	  .o = { .host = "localhost", .trust_file = "system", .certcheck = 1, .required = 0 },
	  .ex = EX_OK, .verified = 0, .result = "trusted: the system trust store)", .pings = HELLO },
	{ .desc = "tls_crl_file revoking the certificate: refused",
	  .sv = { .cert = W_LEAF },
	  .o = { .host = "localhost", .trust_file = "@ca", .crl_file = "@crl", .certcheck = 1,
	         .required = 1 },
	  .ex = EX_UNAVAILABLE, .msg = "the certificate has been revoked (tls_crl_file lists it)" },
	{ .desc = "tls_crl_file revoking nothing: verified",
	  .sv = { .cert = W_LEAF },
	  .o = { .host = "localhost", .trust_file = "@ca", .crl_file = "@crl-empty", .certcheck = 1,
	         .required = 1 },
	  .ex = EX_OK, .verified = 1, .result = "^verified", .pings = HELLO },
	{ .desc = "SHA-256 pin: verified without a trust store or a matching host",
	  .sv = { .cert = W_LEAF },
	  .o = { .host = "other.example", .fingerprint = "@sha256", .certcheck = 1, .required = 1 },
	  .ex = EX_OK, .verified = 1, .result = "^verified", .pings = HELLO },
	{ .desc = "SHA-1 pin: verified",
	  .sv = { .cert = W_LEAF },
	  .o = { .host = "localhost", .fingerprint = "@sha1", .certcheck = 1, .required = 1 },
	  .ex = EX_OK, .verified = 1, .result = "^verified", .pings = HELLO },
	{ .desc = "MD5 pin: verified",
	  .sv = { .cert = W_LEAF },
	  .o = { .host = "localhost", .fingerprint = "@md5", .certcheck = 1, .required = 1 },
	  .ex = EX_OK, .verified = 1, .result = "^verified", .pings = HELLO },
	{ .desc = "pin of a certificate from an unknown CA: verified",
	  .sv = { .cert = W_ROGUE },
	  .o = { .host = "localhost", .trust_file = "@ca", .fingerprint = "@rogue256",
	         .certcheck = 1, .required = 1 },
	  .ex = EX_OK, .verified = 1, .result = "^verified", .pings = HELLO },
	{ .desc = "wrong pin: refused, shows the real fingerprint",
	  .sv = { .cert = W_LEAF },
	  .o = { .host = "localhost", .trust_file = "@ca", .fingerprint = "@wrong", .certcheck = 1,
	         .required = 1 },
	  .ex = EX_UNAVAILABLE, .msg = "the certificate's SHA-256 fingerprint @sha256 does not match "
	                               "tls_fingerprint" },
	{ .desc = "wrong pin, not required: accepted unverified",
	  .sv = { .cert = W_LEAF },
	  .o = { .host = "localhost", .fingerprint = "@wrong", .certcheck = 1, .required = 0 },
	  .ex = EX_OK, .verified = 0, .result = "does not match tls_fingerprint", .pings = HELLO },
	{ .desc = "right pin of an expired certificate: refused",
	  .sv = { .cert = W_EXPIRED },
	  .o = { .host = "localhost", .fingerprint = "@exp256", .certcheck = 1, .required = 1 },
	  .ex = EX_UNAVAILABLE,
	  .msg = "the certificate matches tls_fingerprint but has expired on 2024-01-01 00:00:00 UTC" },
	{ .desc = "right pin of a not yet valid certificate: refused",
	  .sv = { .cert = W_FUTURE },
	  .o = { .host = "localhost", .fingerprint = "@future256", .certcheck = 1, .required = 1 },
	  .ex = EX_UNAVAILABLE, .msg = "the certificate matches tls_fingerprint but is not valid before" },
	{ .desc = "right pin of an expired certificate with tls_certcheck off: accepted",
	  .sv = { .cert = W_EXPIRED },
	  .o = { .host = "localhost", .fingerprint = "@exp256", .certcheck = 0, .required = 1 },
	  .ex = EX_OK, .verified = 0, .result = "not checked (tls_certcheck off)", .pings = HELLO },
	{ .desc = "IDN host with \xc3\x9f: SNI by IDNA2008 (xn--strae-oqa), not transitional (strasse)",
	  .sv = { .cert = W_LEAF },
	  .o = { .host = "stra\xc3\x9f" "e.example", .trust_file = "@ca", .certcheck = 1, .required = 0 },
	  .ex = EX_OK, .verified = 0, .result = "not for stra\xc3\x9f" "e.example",
	  .pings = HELLO, .srv = "sni=xn--strae-oqa.example" },
	{ .desc = "DHE with a 2048-bit group and tls_min_dh_prime_bits 2048: accepted",
	  .sv = { .cert = W_RSA },
	  .o = { .host = "localhost", .certcheck = 0, .required = 1, .priorities = DHE12,
	         .min_dh_prime_bits = 2048 },
	  .ex = EX_OK, .version = "TLS1.2", .result = "tls_certcheck off", .pings = HELLO,
	  .srv = "dhbits=2048" },
	{ .desc = "DHE with a 2048-bit group and tls_min_dh_prime_bits 3072: refused",
	  .sv = { .cert = W_RSA },
	  .o = { .host = "localhost", .certcheck = 0, .required = 1, .priorities = DHE12,
	         .min_dh_prime_bits = 3072 },
	  .ex = EX_PROTOCOL, .msg = "^TLS handshake with peer failed: The Diffie-Hellman prime" },
	/* GnuTLS does not apply gnutls_dh_set_prime_bits() to a negotiated
	 * RFC 7919 group, which the default priorities offer */
	{ .desc = "DHE with the RFC 7919 group ffdhe2048 and tls_min_dh_prime_bits 3072: refused",
	  .sv = { .cert = W_RSA },
	  .o = { .host = "localhost", .certcheck = 0, .required = 1, .priorities = FFDHE12,
	         .min_dh_prime_bits = 3072 },
	  .ex = EX_PROTOCOL, .msg = "^TLS handshake with peer" },
	{ .desc = "the server answers the ClientHello with an SMTP line: protocol error",
	  .sv = { .mode = M_GARBAGE },
	  .o = { .host = "localhost", .certcheck = 0, .required = 1 },
	  .ex = EX_PROTOCOL,
	  .msg = "^peer port 0 answered in plain text (an SMTP greeting: \"220 hello\"), not TLS" },
	{ .desc = "TLS from the first byte and an SMTP line back: a configuration error with the hint",
	  .sv = { .mode = M_GARBAGE },
	  .o = { .host = "localhost", .certcheck = 0, .required = 1, .plain_hint = "set X" },
	  .ex = EX_CONFIG, .msg = "^peer port 0 answered in plain text (an SMTP greeting: "
	  "\"220 hello\"), not TLS: set X" },
	{ .desc = "the server hangs up during the handshake: a handshake failure (EX_PROTOCOL, tls.h)",
	  .sv = { .mode = M_HANGUP },
	  .o = { .host = "localhost", .certcheck = 0, .required = 1 },
	  .ex = EX_PROTOCOL, .msg = "^TLS handshake with peer failed: the server closed the connection" },
	{ .desc = "the server never answers: timeout after 1 s",
	  .sv = { .mode = M_SILENT },
	  .o = { .host = "localhost", .certcheck = 0, .required = 1, .timeout = 1 },
	  .ex = EX_TEMPFAIL, .msg = "^timeout after 1 s in the TLS handshake with peer", .secs = 1 },
	{ .desc = "no common protocol version: protocol error naming the alert",
	  .sv = { .prio = V13 },
	  .o = { .host = "localhost", .certcheck = 0, .required = 1, .priorities = V12 },
	  .ex = EX_PROTOCOL, .msg = "^TLS handshake with peer failed: the server sent the TLS alert \"" },
	{ .desc = "invalid tls_priorities: EX_CONFIG with the bad part",
	  .sv = { .mode = M_SILENT },
	  .o = { .host = "localhost", .certcheck = 0, .required = 1, .priorities = "NORMAL:+BOGUS-THING" },
	  .ex = EX_CONFIG, .msg = "^tls_priorities 'NORMAL:+BOGUS-THING' is not a valid GnuTLS priority "
	                          "string (the error is at '+BOGUS-THING')", .srv = "raw=0" },
	{ .desc = "missing tls_trust_file: EX_CONFIG",
	  .sv = { .mode = M_SILENT },
	  .o = { .host = "localhost", .trust_file = "@missing", .certcheck = 1, .required = 1 },
	  .ex = EX_CONFIG, .msg = "^tls_trust_file @missing: ", .srv = "raw=0" },
	{ .desc = "tls_trust_file without certificates: EX_CONFIG",
	  .sv = { .mode = M_SILENT },
	  .o = { .host = "localhost", .trust_file = "@empty", .certcheck = 1, .required = 1 },
	  .ex = EX_CONFIG, .msg = "^tls_trust_file @empty: ", .srv = "raw=0" },
	{ .desc = "missing tls_crl_file: EX_CONFIG",
	  .sv = { .mode = M_SILENT },
	  .o = { .host = "localhost", .trust_file = "@ca", .crl_file = "@missing", .certcheck = 1,
	         .required = 1 },
	  .ex = EX_CONFIG, .msg = "^tls_crl_file @missing: ", .srv = "raw=0" },
	{ .desc = "tls_key_file not matching tls_cert_file: EX_CONFIG",
	  .sv = { .mode = M_SILENT },
	  .o = { .host = "localhost", .cert_file = "@client", .key_file = "@other-key",
	         .certcheck = 0, .required = 1 },
	  .ex = EX_CONFIG, .msg = "^cannot use tls_cert_file @client with tls_key_file @other-key: ",
	  .srv = "raw=0" },
	{ .desc = "missing tls_key_file: EX_CONFIG",
	  .sv = { .mode = M_SILENT },
	  .o = { .host = "localhost", .cert_file = "@client", .key_file = "@missing",
	         .certcheck = 0, .required = 1 },
	  .ex = EX_CONFIG, .msg = "^cannot use tls_cert_file @client with tls_key_file @missing: ",
	  .srv = "raw=0" },
	{ .desc = "host name that is not valid UTF-8: EX_CONFIG",
	  .sv = { .mode = M_SILENT },
	  .o = { .host = "b\xfc" "cher.example", .certcheck = 0, .required = 1 },
	  .ex = EX_CONFIG, .msg = "^cannot convert host name 'b\xfc" "cher.example' for TLS: ",
	  .srv = "raw=0" },
};

static int big_lines(struct conn *c);

/* The session after the handshake. */
static const struct tcase scases[] = {
	{ .desc = "channel binding over TLS 1.3: tls-exporter, the server's bytes",
	  .sv = { .cert = W_LEAF }, .o = { CERTCHECK_OFF },
	  .cb_type = "tls-exporter", .cb_len = 32 },
	{ .desc = "channel binding over TLS 1.2: tls-unique, the server's bytes",
	  .sv = { .cert = W_LEAF }, .o = { CERTCHECK_OFF, .priorities = V12 },
	  .cb_type = "tls-unique", .cb_len = 12 },
	{ .desc = "client certificate: presented, the server sees its subject",
	  .sv = { .cert = W_LEAF, .reqcert = 1 },
	  .o = { .host = "localhost", .trust_file = "@ca", .cert_file = "@client",
	         .key_file = "@client-key", .certcheck = 1, .required = 1 },
	  .verified = 1, .pings = "with a client certificate",
	  .facts = { "Client certificate", "sent" },
	  .srv = "peer=CN=postie client,O=Postie Test|peerok=1|close=eof" },
	/* The server requires a certificate the client does not have. TLS 1.2:
	 * the handshake fails; TLS 1.3: the client's handshake is over before
	 * the server decides, so the alert surfaces on the first read. */
	{ .desc = "client certificate required but missing, TLS 1.2: handshake fails",
	  .sv = { .cert = W_LEAF, .reqcert = 1 }, .o = { CERTCHECK_OFF, .priorities = V12 },
	  .ex = EX_PROTOCOL, .msg = "^TLS handshake with peer failed: the server sent the TLS alert",
	  .srv = "hs=GNUTLS_E_*|!peer=" },
	{ .desc = "client certificate required but missing, TLS 1.3: first read fails",
	  .sv = { .cert = W_LEAF, .reqcert = 1 }, .o = { CERTCHECK_OFF, .priorities = V13 },
	  .end_ex = EX_PROTOCOL,
	  .end_msg = "^TLS session with peer failed: the server sent the TLS alert",
	  .srv = "hs=GNUTLS_E_*|!peer=" },
	{ .desc = "net_close sends close_notify: the server reads a clean end",
	  .sv = { .cert = W_LEAF }, .o = { CERTCHECK_OFF },
	  .pings = "before close", .srv = "close=eof" },
	/* The server's close_notify is the end of the connection (EX_TEMPFAIL,
	 * "lost"), and the client still answers with its own. */
	{ .desc = "the server's close_notify: connection lost, ours answers it",
	  .sv = { .cert = W_LEAF, .act = A_BYE }, .o = { CERTCHECK_OFF },
	  .lines = "bye", .end_ex = EX_TEMPFAIL, .end_msg = LOST,
	  .srv = "bye=GNUTLS_E_SUCCESS|close=eof" },
	/* The server ends the TCP stream without close_notify: "lost", and no
	 * close_notify is sent into the broken session. */
	{ .desc = "the server ends without close_notify: connection lost, none sent back",
	  .sv = { .cert = W_LEAF, .act = A_TRUNC }, .o = { CERTCHECK_OFF },
	  .lines = "x", .end_ex = EX_TEMPFAIL, .end_msg = LOST, .srv = "after=0" },
	{ .desc = "a fatal alert after the handshake: the read fails with EX_PROTOCOL",
	  .sv = { .cert = W_LEAF, .act = A_ALERT }, .o = { CERTCHECK_OFF },
	  .end_ex = EX_PROTOCOL,
	  .end_msg = "^TLS session with peer failed: the server sent the TLS alert "
	             "\"Internal error\"$" },
	{ .desc = "TLS 1.2 renegotiation request declined, the session goes on",
	  .sv = { .cert = W_LEAF, .act = A_REHS, .prio = V12 }, .o = { CERTCHECK_OFF },
	  .lines = "still here", .pings = "after the renegotiation request",
	  .srv = "rehs=GNUTLS_E_SUCCESS|rehs2=GNUTLS_E_WARNING_ALERT_RECEIVED|"
	         "rehsalert=100|close=eof" },
	{ .desc = "TLS 1.3 key update both ways, the session goes on",
	  .sv = { .cert = W_LEAF, .act = A_KU }, .o = { CERTCHECK_OFF },
	  .pings = "one|two", .srv = "ku=GNUTLS_E_SUCCESS|close=eof" },
	{ .desc = "lines longer than a record and more than the write cork",
	  .sv = { .cert = W_LEAF, .act = A_BIG }, .o = { CERTCHECK_OFF },
	  .more = big_lines, .srv = "close=eof" },
	{ .desc = "print_info: the session's facts",
	  .sv = { .cert = W_LEAF },
	  .o = { .host = "localhost", .trust_file = "@ca", .certcheck = 1, .required = 1 },
	  .verified = 1,
	  .facts = { "Protocol", "TLS1.3",
	             "Certificate subject", "CN=localhost,O=Postie Test",
	             "Certificate names", "localhost, 127.0.0.1, xn--bcher-kva.example",
	             "Certificate issuer", "CN=Postie Test CA,O=Postie Test",
	             "Valid", "@valid",
	             "SHA-256 fingerprint", "@sha256",
	             "SHA-1 fingerprint", "@sha1",
	             "Verification", "passed",
	             "Client certificate", "not sent" } },
	/* After a refused certificate the session still describes it. */
	{ .desc = "print_info after a refused certificate: facts and the reason",
	  .sv = { .cert = W_LEAF },
	  .o = { .host = "other.example", .trust_file = "@ca", .certcheck = 1, .required = 1 },
	  .ex = EX_UNAVAILABLE,
	  .facts = { "Certificate subject", "CN=localhost,O=Postie Test",
	             "Verification", "the certificate is for localhost, 127.0.0.1, "
	             "xn--bcher-kva.example, not for other.example "
	             "(tls_host_override sets the name to check)" } },
};

/* the rehandshake case's "rehsalert=100" */
_Static_assert(GNUTLS_A_NO_RENEGOTIATION == 100, "GNUTLS_A_NO_RENEGOTIATION is 100");

/* s with each "@name" replaced by what at() gives. */
static char *expand(const char *s)
{
	struct buf b;
	buf_init(&b);
	while (*s) {
		const char *a = strchr(s, '@');
		if (!a) {
			buf_adds(&b, s);
			break;
		}
		buf_add(&b, s, (size_t)(a - s));
		size_t n = 1 + strspn(a + 1, "abcdefghijklmnopqrstuvwxyz0123456789-");
		char *name = xstrndup(a, n);
		buf_adds(&b, at(name));
		free(name);
		s = a + n;
	}
	return buf_steal(&b);
}

static struct tls_opts resolve(const struct tls_opts *in)
{
	struct tls_opts o = *in;
	o.trust_file = at(o.trust_file);
	o.crl_file = at(o.crl_file);
	o.fingerprint = at(o.fingerprint);
	o.cert_file = at(o.cert_file);
	o.key_file = at(o.key_file);
	if (!o.timeout)
		o.timeout = 5;
	return o;
}

static int check_start(const struct tcase *tc, int rc, struct tls *t, const struct perr *e,
                       long long ms)
{
	char *msg = tc->msg ? expand(tc->msg) : NULL;
	int bad = 0;
	int want_session = rc == EX_OK || rc == EX_UNAVAILABLE;
	if (rc != tc->ex)
		bad = fail("got %s '%s', want %s", status_name(rc), e->msg, status_name(tc->ex));
	else if (rc != EX_OK && !has(e->msg, msg))
		bad = fail("message '%s' lacks '%s'", e->msg, msg);
	else if (rc == EX_OK && e->msg[0])
		bad = fail("EX_OK with a message '%s'", e->msg);
	else if ((t != NULL) != want_session)
		bad = fail("the session came back %s", t ? "set" : "NULL");
	else if (t && tls_verified(t) != tc->verified)
		bad = fail("tls_verified %d, want %d (%s)", tls_verified(t), tc->verified,
		           tls_verify_result(t));
	else if (t && !tls_verify_result(t)[0])
		bad = fail("empty tls_verify_result");
	else if (t && !has(tls_verify_result(t), tc->result))
		bad = fail("tls_verify_result '%s' lacks '%s'", tls_verify_result(t), tc->result);
	else if (t && tc->version && strcmp(tls_version(t), tc->version))
		bad = fail("tls_version '%s', want '%s'", tls_version(t), tc->version);
	else if (tc->secs && (ms < tc->secs * 1000 - 100 || ms > tc->secs * 1000 + 1500))
		bad = fail("took %lld ms, want about %d s", ms, tc->secs);
	free(msg);
	return bad;
}

/* tls_channel_binding gives the type and length tc wants; what the server
 * must have seen goes into srv_cb, as a report item. */
static int check_binding(const struct tcase *tc, struct tls *t, char *srv_cb, size_t cap)
{
	struct buf data;
	const char *type = "unset";
	char mine[300];
	buf_init(&data);
	int rc = tls_channel_binding(t, &type, &data);
	hex((const unsigned char *)data.s, data.len, mine, sizeof mine);
	size_t len = data.len;
	buf_free(&data);
	snprintf(srv_cb, cap, "cb=%s", mine);
	if (rc != 0)
		return fail("tls_channel_binding returned %d", rc);
	if (strcmp(type, tc->cb_type))
		return fail("type '%s', want '%s'", type, tc->cb_type);
	if (len != tc->cb_len)
		return fail("%zu bytes, want %zu", len, tc->cb_len);
	return 0;
}

/* print_info shows the session, a cipher suite, and each of the label,
 * value pairs of kv (a value "@name" comes from the PKI). */
static int check_facts(struct tls *t, const char *const *kv)
{
	char *out = NULL;
	size_t n = 0;
	FILE *f = open_memstream(&out, &n);
	if (!f)
		die("open_memstream", 0);
	tls_print_info(t, f);
	fclose(f);
	int bad = 0;
	if (strncmp(out, "TLS session:\n", 13))
		bad = fail("does not start with 'TLS session:':\n%s", out);
	else if (!strstr(out, "\n    Cipher suite:          TLS_"))
		bad = fail("no cipher suite line in:\n%s", out);
	for (size_t i = 0; kv[i] && !bad; i += 2) {
		char label[64];
		snprintf(label, sizeof label, "%s:", kv[i]);
		char *want = xasprintf("    %-22s %s\n", label, at(kv[i + 1]));
		if (!strstr(out, want))
			bad = fail("no line '%.*s' in:\n%s", (int)strlen(want) - 1, want, out);
		free(want);
	}
	free(out);
	return bad;
}

static char dummy_tls;

static int run_case(const struct tcase *tc)
{
	struct peer p;
	struct perr e;
	struct tls_opts o = resolve(&tc->o);
	struct tls *t = (struct tls *)(void *)&dummy_tls;
	char srv_cb[320] = "";
	struct conn *c = start_server(&tc->sv, &p);
	memset(&e, 0, sizeof e);
	strcpy(e.msg, "junk");
	long long t0 = now_ms();
	int rc = tls_start(c, &o, &t, &e);
	long long ms = now_ms() - t0;
	int bad = 0;
	if (t == (struct tls *)(void *)&dummy_tls) {
		bad = fail("*out was not set");
		t = NULL;
	}
	if (!bad)
		bad = check_start(tc, rc, t, &e, ms);
	if (!bad && rc == EX_OK)
		bad = each(tc->lines, expect_line, c) ||
		      (tc->end_ex && expect_end(c, tc->end_ex, tc->end_msg)) ||
		      each(tc->pings, ping, c) ||
		      (tc->cb_type && check_binding(tc, t, srv_cb, sizeof srv_cb)) ||
		      (tc->more && tc->more(c));
	if (!bad && t && tc->facts[0])
		bad = check_facts(t, tc->facts);
	net_close(c);
	char *rep = finish_server(&p);
	if (!bad)
		bad = check_report(rep, tc->srv) || check_report(rep, srv_cb);
	free(rep);
	return bad;
}

/* Lines longer than a TLS record both ways; more than the write cork. */
static int big_lines(struct conn *c)
{
	struct perr e;
	struct buf line;
	int bad = 0, rc;
	char *lines[3];
	buf_init(&line);
	if ((rc = net_getline(c, &line, &e)) || line.len != 60000 ||
	    strspn(line.s, "x") != 60000)
		bad = fail("big line: %s, %zu bytes", rc ? e.msg : "ok", line.len);
	else if ((rc = net_getline(c, &line, &e)) || strcmp(line.s, "second"))
		bad = fail("second line: %s '%.50s'", rc ? e.msg : "", line.s);
	for (int i = 0; i < 3; i++) {
		lines[i] = xmalloc(30001);
		memset(lines[i], 'a' + i, 30000);
		lines[i][30000] = '\0';
	}
	for (int i = 0; i < 3 && !bad; i++)
		if (net_write(c, lines[i], 30000, &e) || net_write(c, "\r\n", 2, &e))
			bad = fail("net_write: %s", e.msg);
	if (!bad && net_flush(c, &e))
		bad = fail("net_flush: %s", e.msg);
	for (int i = 0; i < 3 && !bad; i++)
		if ((rc = net_getline(c, &line, &e)) || line.len != 30005 ||
		    strncmp(line.s, "echo ", 5) || strcmp(line.s + 5, lines[i]))
			bad = fail("echo %d: %s, %zu bytes", i, rc ? e.msg : "ok", line.len);
	for (int i = 0; i < 3; i++)
		free(lines[i]);
	buf_free(&line);
	return bad;
}

/* ---- what -v logs ---- */

/* Run fn with stderr going into a string. */
static char *capture_stderr(void (*fn)(void *), void *arg)
{
	FILE *tmp = tmpfile();
	int saved = dup(2);
	char *out = NULL;
	size_t n = 0;
	if (!tmp || saved < 0)
		die("tmpfile", 0);
	fflush(stderr);
	dup2(fileno(tmp), 2);
	fn(arg);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	FILE *mem = open_memstream(&out, &n);
	char b[4096];
	size_t got;
	rewind(tmp);
	while ((got = fread(b, 1, sizeof b, tmp)) > 0)
		fwrite(b, 1, got, mem);
	fclose(mem);
	fclose(tmp);
	return out;
}

static void log_it(void *t)
{
	tls_log_info(t);
}

struct start_args {
	struct conn *c;
	struct tls_opts *o;
	struct tls *t;
	struct perr e;
	int rc;
};

static void start_it(void *arg)
{
	struct start_args *a = arg;
	a->rc = tls_start(a->c, a->o, &a->t, &a->e);
}

/* -v: the facts as transcript lines, nothing when quiet; an unverified
 * certificate is noted. */
static int t_log_info(void)
{
	struct srv sv = { .cert = W_LEAF };
	struct tls_opts o = resolve(&(struct tls_opts){ .host = "other.example", .trust_file = "@ca",
	                                                .certcheck = 1, .required = 0 });
	struct peer p;
	struct start_args a = { .o = &o };
	int bad = 0;
	a.c = start_server(&sv, &p);
	log_set_verbose(1);
	char *start_log = capture_stderr(start_it, &a);
	char *loud = a.t ? capture_stderr(log_it, a.t) : xstrdup("");
	log_set_verbose(0);
	char *quiet = a.t ? capture_stderr(log_it, a.t) : xstrdup("x");
	if (a.rc != EX_OK)
		bad = fail("tls_start: %s", a.e.msg);
	else if (!strstr(start_log, "postie: TLS certificate of peer not verified: the certificate "
	                            "is for localhost"))
		bad = fail("tls_start logged '%s'", start_log);
	else if (!has(loud, "^postie: TLS Protocol: TLS1.3\n") ||
	         !strstr(loud, "\npostie: TLS Certificate subject: CN=localhost,O=Postie Test\n") ||
	         !strstr(loud, "\npostie: TLS Verification: the certificate is for localhost"))
		bad = fail("verbose log_info gave '%s'", loud);
	else if (quiet[0])
		bad = fail("quiet log_info gave '%s'", quiet);
	free(start_log);
	free(loud);
	free(quiet);
	net_close(a.c);
	free(finish_server(&p));
	return bad;
}

/* ---- the route's TLS mode: tls, tls_starttls (as conf_finish settled it), port, socket ---- */

static const struct mode_case {
	int tls, starttls, port;
	const char *socket;
	enum tls_mode want;
} mode_cases[] = {
	{ TLS_OFF, 1, 25, NULL, TM_OFF },
	{ TLS_OFF, 0, 465, NULL, TM_OFF },
	{ TLS_ON, 1, 587, NULL, TM_STARTTLS },
	{ TLS_ON, 1, 465, NULL, TM_STARTTLS },     /* said explicitly: as asked */
	{ TLS_ON, 0, 587, NULL, TM_IMPLICIT },
	{ TLS_UNSET, 1, 25, NULL, TM_OPPORTUNISTIC },
	{ TLS_UNSET, 1, 0, "/run/smtp.sock", TM_OFF },
	{ TLS_UNSET, 0, 465, NULL, TM_IMPLICIT },
};

static int run_mode_case(const struct mode_case *m)
{
	struct account a;
	memset(&a, 0, sizeof a);
	a.tls = m->tls;
	a.tls_starttls = m->starttls;
	a.port = m->port;
	a.socket = (char *)m->socket;
	a.host = (char *)"mail.example.org";
	struct route r;
	route_from_account(&a, &r);
	enum tls_mode got = r.hop[0].tls_mode;
	/* opportunistic STARTTLS: the same host in plain text after a failed handshake */
	size_t want_hops = m->want == TM_OPPORTUNISTIC ? 2 : 1;
	int bad = got != m->want || r.nhop != want_hops ||
	          (r.nhop == 2 && (r.hop[1].tls_mode != TM_OFF || !r.hop[1].after_tls_failure ||
	                           strcmp(hop_name(&r.hop[1]), "mail.example.org") != 0));
	if (bad)
		fail("got mode %d with %zu hops, want %d with %zu", (int)got, r.nhop, (int)m->want,
		     want_hops);
	route_free(&r);
	return bad;
}

int main(void)
{
	long long t0 = now_ms();
	signal(SIGPIPE, SIG_IGN);
	pki_make();
	for (size_t i = 0; i < NELEM(vcases); i++)
		reportf(run_case(&vcases[i]), "tls_start: %s", vcases[i].desc);
	for (size_t i = 0; i < NELEM(scases); i++)
		report(scases[i].desc, run_case(&scases[i]));
	report("log_info: transcript lines when verbose only, unverified noted", t_log_info());
	for (size_t i = 0; i < NELEM(mode_cases); i++)
		reportf(run_mode_case(&mode_cases[i]), "route: tls %d tls_starttls %d port %d%s",
		        mode_cases[i].tls, mode_cases[i].starttls, mode_cases[i].port,
		        mode_cases[i].socket ? " socket" : "");
	pki_remove();
	printf("# %lld ms\n", now_ms() - t0);
	return tap_done();
}
