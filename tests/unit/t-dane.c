/* t-dane.c - unit tests for dane.c (TLSA usability, DANE-EE and DANE-TA
 * matching) and for tls.c's DANE hook through real handshakes. The PKI
 * is made in memory at start (ECDSA P-256), so nothing expires: a CA,
 * an intermediate under it, server certificates for mx1.example.test
 * (under the CA, under the intermediate, expired, for another name,
 * self-signed, under an expired CA) and a rogue CA with its own
 * mx1.example.test certificate. The handshake cases fork an in-process
 * GnuTLS server at the other end of a socketpair that reports the SNI
 * it saw and how the session ended over a pipe. */
#include "dane.h"

#include <errno.h>
#include <gnutls/abstract.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "net.h"
#include "tls.h"
#include "util.h"

#include "tap.h"

#define DAY 86400
#define T_2020 ((time_t)1577836800)   /* 2020-01-01 00:00:00 UTC */
#define T_2021 ((time_t)1609459200)   /* 2021-01-01 00:00:00 UTC */
#define HOST "mx1.example.test"

static int in_child;

static void die(const char *what, int r)
{
	fprintf(stderr, "t-dane: %s: %s\n", what, r < 0 ? gnutls_strerror(r) : strerror(errno));
	if (in_child)
		_exit(3);
	exit(2);
}

#define G(call) do { int r_ = (call); if (r_ < 0) die(#call, r_); } while (0)

/* ---- the PKI ---- */

enum cid {
	C_NONE,      /* ends a chain or a record list */
	C_CA,        /* "DANE Test CA" */
	C_INT,       /* intermediate CA under C_CA */
	C_LEAF,      /* mx1.example.test by C_CA */
	C_LEAF2,     /* mx1.example.test by C_INT */
	C_EXPIRED,   /* mx1.example.test by C_CA, 2020 to 2021 */
	C_WRONG,     /* other.example.test by C_CA */
	C_SELF,      /* mx1.example.test, self-signed */
	C_OLD_CA,    /* a CA that expired in 2021 */
	C_LEAF3,     /* mx1.example.test by C_OLD_CA, valid now */
	C_ROGUE_CA,  /* another CA */
	C_ROGUE,     /* mx1.example.test by C_ROGUE_CA */
	C_COUNT
};

static struct cert {
	gnutls_x509_crt_t crt;
	gnutls_x509_privkey_t key;
	gnutls_datum_t der;
} pki[C_COUNT];

static void make_cert(enum cid id, const char *dn, const char *dns, int ca, time_t from,
                      time_t to, enum cid issuer)
{
	struct cert *c = &pki[id], *is = issuer ? &pki[issuer] : c;
	unsigned char serial = (unsigned char)id, kid[64];
	size_t kidlen = sizeof kid;
	G(gnutls_x509_privkey_init(&c->key));
	G(gnutls_x509_privkey_generate(c->key, GNUTLS_PK_ECDSA,
	                               GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1), 0));
	G(gnutls_x509_crt_init(&c->crt));
	G(gnutls_x509_crt_set_version(c->crt, 3));
	G(gnutls_x509_crt_set_dn(c->crt, dn, NULL));
	G(gnutls_x509_crt_set_serial(c->crt, &serial, 1));
	G(gnutls_x509_crt_set_activation_time(c->crt, from));
	G(gnutls_x509_crt_set_expiration_time(c->crt, to));
	G(gnutls_x509_crt_set_key(c->crt, c->key));
	G(gnutls_x509_crt_set_basic_constraints(c->crt, ca, -1));
	G(gnutls_x509_crt_set_key_usage(c->crt, ca ? GNUTLS_KEY_KEY_CERT_SIGN
	                                           : GNUTLS_KEY_DIGITAL_SIGNATURE));
	if (dns)
		G(gnutls_x509_crt_set_subject_alt_name(c->crt, GNUTLS_SAN_DNSNAME, dns,
		                                       (unsigned)strlen(dns), GNUTLS_FSAN_APPEND));
	G(gnutls_x509_privkey_get_key_id(c->key, 0, kid, &kidlen));
	G(gnutls_x509_crt_set_subject_key_id(c->crt, kid, kidlen));
	kidlen = sizeof kid;
	G(gnutls_x509_privkey_get_key_id(is->key, 0, kid, &kidlen));
	G(gnutls_x509_crt_set_authority_key_id(c->crt, kid, kidlen));
	G(gnutls_x509_crt_sign2(c->crt, is->crt, is->key, GNUTLS_DIG_SHA256, 0));
	G(gnutls_x509_crt_export2(c->crt, GNUTLS_X509_FMT_DER, &c->der));
}

static void pki_make(void)
{
	time_t now = time(NULL), from = now - DAY, to = now + 3650 * DAY;
	make_cert(C_CA, "CN=DANE Test CA,O=postie tests", NULL, 1, T_2020, to, C_NONE);
	make_cert(C_INT, "CN=DANE Test Intermediate,O=postie tests", NULL, 1, from, to, C_CA);
	make_cert(C_LEAF, "CN=" HOST, HOST, 0, from, to, C_CA);
	make_cert(C_LEAF2, "CN=" HOST ",O=under the intermediate", HOST, 0, from, to, C_INT);
	make_cert(C_EXPIRED, "CN=" HOST ",O=expired", HOST, 0, T_2020, T_2021, C_CA);
	make_cert(C_WRONG, "CN=other.example.test", "other.example.test", 0, from, to, C_CA);
	make_cert(C_SELF, "CN=" HOST ",O=self-signed", HOST, 0, from, to, C_NONE);
	make_cert(C_OLD_CA, "CN=Old DANE CA,O=postie tests", NULL, 1, T_2020, T_2021, C_NONE);
	make_cert(C_LEAF3, "CN=" HOST ",O=under the old CA", HOST, 0, from, to, C_OLD_CA);
	make_cert(C_ROGUE_CA, "CN=Rogue CA,O=elsewhere", NULL, 1, T_2020, to, C_NONE);
	make_cert(C_ROGUE, "CN=" HOST ",O=elsewhere", HOST, 0, from, to, C_ROGUE_CA);
}

/* ---- records ---- */

struct rec {
	unsigned char u, s, m;
	enum cid of;   /* the certificate whose data the record holds */
	int len;       /* 0: the right length; else this many bytes */
	int flip;      /* change the last byte */
};

#define R(u, s, m, of) { u, s, m, of, 0, 0 }
#define RX(u, s, m, of, len, flip) { u, s, m, of, len, flip }

struct recbuf {
	unsigned char data[3][4096];
	struct tlsa t[3];
	size_t n;
};

/* The bytes a selector picks: the certificate or its SPKI. */
static void selected(const struct rec *r, gnutls_datum_t *out)
{
	gnutls_pubkey_t pub;
	if (r->s == 0) {
		G(gnutls_x509_crt_export2(pki[r->of].crt, GNUTLS_X509_FMT_DER, out));
		return;
	}
	G(gnutls_pubkey_init(&pub));
	G(gnutls_pubkey_import_x509(pub, pki[r->of].crt, 0));
	G(gnutls_pubkey_export2(pub, GNUTLS_X509_FMT_DER, out));
	gnutls_pubkey_deinit(pub);
}

/* The TLSA records for r[0..] (up to C_NONE), made the way a zone
 * would publish them, then cut or changed as the case says. */
static void make_records(const struct rec *r, struct recbuf *b)
{
	for (b->n = 0; b->n < 3 && r[b->n].of != C_NONE; b->n++) {
		const struct rec *x = &r[b->n];
		unsigned char *d = b->data[b->n];
		gnutls_datum_t sel;
		size_t len;
		selected(x, &sel);
		if (x->m == 0) {
			len = sel.size;
			memcpy(d, sel.data, len);
		} else {
			len = x->m == 1 ? 32 : 64;
			G(gnutls_hash_fast(x->m == 1 ? GNUTLS_DIG_SHA256 : GNUTLS_DIG_SHA512, sel.data,
			                   sel.size, d));
		}
		gnutls_free(sel.data);
		if (x->len)
			len = (size_t)x->len;
		if (x->flip)
			d[len - 1] ^= 1;
		b->t[b->n] = (struct tlsa){ x->u, x->s, x->m, d, len };
	}
}

/* The chain as gnutls_certificate_get_peers gives it. */
static unsigned make_chain(const enum cid *ids, gnutls_datum_t *out)
{
	unsigned n = 0;
	for (; n < 4 && ids[n] != C_NONE; n++)
		out[n] = pki[ids[n]].der;
	return n;
}

/* ---- tlsa_usable ---- */

static const struct ucase {
	unsigned char u, s, m;
	size_t len;
	int usable;
} ucases[] = {
	{ 3, 1, 1, 32, 1 }, { 3, 0, 1, 32, 1 }, { 3, 1, 2, 64, 1 }, { 3, 0, 0, 300, 1 },
	{ 2, 0, 1, 32, 1 }, { 2, 1, 0, 91, 1 }, { 2, 0, 2, 64, 1 },
	{ 3, 1, 1, 31, 0 }, { 3, 1, 1, 33, 0 }, { 3, 1, 2, 32, 0 }, { 2, 0, 1, 64, 0 },
	{ 3, 0, 0, 0, 0 }, { 0, 0, 1, 32, 0 }, { 1, 1, 1, 32, 0 }, { 4, 1, 1, 32, 0 },
	{ 255, 1, 1, 32, 0 }, { 3, 2, 1, 32, 0 }, { 3, 255, 1, 32, 0 }, { 3, 1, 3, 32, 0 },
	{ 3, 1, 255, 32, 0 },
};

static void t_usable(void)
{
	static const unsigned char zero[300];
	for (size_t i = 0; i < NELEM(ucases); i++) {
		const struct ucase *c = &ucases[i];
		struct tlsa t = { c->u, c->s, c->m, zero, c->len };
		int got = tlsa_usable(&t);
		if (got != c->usable)
			fail("got %d", got);
		reportf(got != c->usable, "tlsa_usable %u %u %u with %zu bytes: %s", c->u, c->s, c->m,
		        c->len, c->usable ? "usable" : "unusable");
	}
	struct tlsa mixed[3] = { { 1, 1, 1, zero, 32 }, { 3, 1, 1, zero, 32 }, { 3, 1, 1, zero, 31 } };
	check_int("tlsa_count_usable counts only the usable records", (long)tlsa_count_usable(mixed, 3), 1);
	check_int("tlsa_count_usable of none", (long)tlsa_count_usable(mixed, 1), 0);
	check_str("tlsa_usage_name 3", tlsa_usage_name(3), "DANE-EE");
	check_str("tlsa_usage_name 2", tlsa_usage_name(2), "DANE-TA");
}

/* ---- dane_verify ---- */

static const struct dcase {
	const char *desc;
	enum cid chain[4];
	struct rec recs[3];
	const char *names[3];  /* NULL names[0]: HOST alone */
	const char *want;      /* NULL: EX_OK; else in the message */
	const char *matched;   /* the record that matched, as "3 1 1" */
} dcases[] = {
	{ "DANE-EE 3 1 1 matches the leaf's key", { C_LEAF, C_CA }, { R(3, 1, 1, C_LEAF) },
	  { NULL }, NULL, "3 1 1" },
	{ "DANE-EE 3 0 1 matches the leaf's certificate", { C_LEAF, C_CA },
	  { R(3, 0, 1, C_LEAF) }, { NULL }, NULL, "3 0 1" },
	{ "DANE-EE 3 1 2 matches the leaf's key by SHA2-512", { C_LEAF },
	  { R(3, 1, 2, C_LEAF) }, { NULL }, NULL, "3 1 2" },
	{ "DANE-EE 3 0 0 matches the whole certificate", { C_LEAF }, { R(3, 0, 0, C_LEAF) },
	  { NULL }, NULL, "3 0 0" },
	{ "DANE-EE 3 1 0 matches the whole key", { C_LEAF }, { R(3, 1, 0, C_LEAF) },
	  { NULL }, NULL, "3 1 0" },
	{ "DANE-EE: another certificate's key does not match", { C_LEAF, C_CA },
	  { R(3, 1, 1, C_WRONG) }, { NULL }, "no TLSA record matches the certificate of " HOST, NULL },
	{ "DANE-EE: a digest one bit off does not match", { C_LEAF },
	  { RX(3, 1, 1, C_LEAF, 0, 1) }, { NULL }, "no TLSA record matches the certificate of " HOST,
	  NULL },
	{ "DANE-EE: a key in the chain but not the leaf's does not match", { C_LEAF, C_CA },
	  { R(3, 1, 1, C_CA) }, { NULL }, "no TLSA record matches", NULL },
	{ "DANE-EE ignores the dates: an expired leaf matches", { C_EXPIRED },
	  { R(3, 1, 1, C_EXPIRED) }, { NULL }, NULL, "3 1 1" },
	{ "DANE-EE ignores the names: a leaf for another name matches", { C_WRONG },
	  { R(3, 0, 1, C_WRONG) }, { NULL }, NULL, "3 0 1" },
	{ "a record with a wrong digest length is unusable", { C_LEAF },
	  { RX(3, 1, 1, C_LEAF, 31, 0) }, { NULL }, "none of the TLSA records of " HOST " is usable",
	  NULL },
	{ "a SHA2-256 digest labelled SHA2-512 is unusable", { C_LEAF },
	  { RX(3, 1, 2, C_LEAF, 32, 0) }, { NULL }, "is usable", NULL },
	{ "usages 0 and 1 are ignored, even when they would match", { C_LEAF, C_CA },
	  { R(1, 1, 1, C_LEAF), R(0, 0, 1, C_CA), R(3, 1, 1, C_WRONG) }, { NULL },
	  "no TLSA record matches the certificate of " HOST, NULL },
	{ "usages 0 and 1 alone: nothing usable", { C_LEAF, C_CA },
	  { R(1, 1, 1, C_LEAF), R(0, 0, 1, C_CA) }, { NULL }, "is usable", NULL },
	{ "an unusable record before a usable match is skipped", { C_LEAF },
	  { RX(3, 1, 1, C_LEAF, 31, 0), R(3, 1, 1, C_LEAF) }, { NULL }, NULL, "3 1 1" },
	{ "DANE-TA 2 0 1: the CA of a two-certificate chain", { C_LEAF, C_CA },
	  { R(2, 0, 1, C_CA) }, { NULL }, NULL, "2 0 1" },
	{ "DANE-TA 2 1 1: the CA's key", { C_LEAF, C_CA }, { R(2, 1, 1, C_CA) }, { NULL }, NULL,
	  "2 1 1" },
	{ "DANE-TA 2 0 2: the CA by SHA2-512", { C_LEAF, C_CA }, { R(2, 0, 2, C_CA) }, { NULL },
	  NULL, "2 0 2" },
	{ "DANE-TA: the root above an intermediate", { C_LEAF2, C_INT, C_CA },
	  { R(2, 0, 1, C_CA) }, { NULL }, NULL, "2 0 1" },
	{ "DANE-TA: the intermediate as the TA", { C_LEAF2, C_INT, C_CA },
	  { R(2, 1, 1, C_INT) }, { NULL }, NULL, "2 1 1" },
	{ "DANE-TA: the leaf's name must match the MX host name", { C_WRONG, C_CA },
	  { R(2, 0, 1, C_CA) }, { NULL },
	  "certificate name does not match " HOST " (DANE-TA 2 0 1; the certificate is for "
	  "other.example.test)", NULL },
	{ "DANE-TA: a second reference name (before CNAME expansion) matches",
	  { C_WRONG, C_CA }, { R(2, 0, 1, C_CA) }, { "mx.example.test", "other.example.test" },
	  NULL, "2 0 1" },
	{ "DANE-TA: no reference name matches", { C_LEAF, C_CA }, { R(2, 0, 1, C_CA) },
	  { "a.example.test", "b.example.test" }, "certificate name does not match a.example.test",
	  NULL },
	{ "DANE-TA: the TA left out of the chain does not match (RFC 7672 3.2.1)", { C_LEAF },
	  { R(2, 0, 1, C_CA) }, { NULL }, "no TLSA record matches the certificate of " HOST, NULL },
	{ "DANE-TA 2 1 0: a TA key alone, not in the chain, is not accepted", { C_LEAF },
	  { R(2, 1, 0, C_CA) }, { NULL }, "no TLSA record matches", NULL },
	{ "DANE-TA 2 0 0: the TA certificate from DNS, left out of the chain (RFC 7671 5.2.2)",
	  { C_LEAF }, { R(2, 0, 0, C_CA) }, { NULL }, NULL, "2 0 0" },
	{ "DANE-TA 2 0 0 of the leaf itself is no trust anchor", { C_LEAF },
	  { R(2, 0, 0, C_LEAF) }, { NULL }, "is not signed by the trust anchor of DANE-TA 2 0 0",
	  NULL },
	{ "DANE-TA: a leaf not signed by the TA fails", { C_ROGUE, C_CA }, { R(2, 0, 1, C_CA) },
	  { NULL }, "the certificate of " HOST " is not signed by the trust anchor of DANE-TA 2 0 1",
	  NULL },
	{ "DANE-TA: a record for the leaf (not self-signed) is not a TA", { C_LEAF, C_CA },
	  { R(2, 0, 1, C_LEAF) }, { NULL }, "no TLSA record matches", NULL },
	{ "DANE-TA: a self-signed leaf as its own TA", { C_SELF }, { R(2, 0, 1, C_SELF) },
	  { NULL }, NULL, "2 0 1" },
	{ "DANE-TA: a self-signed leaf still needs the name", { C_SELF }, { R(2, 1, 1, C_SELF) },
	  { "mx9.example.test" }, "certificate name does not match mx9.example.test", NULL },
	{ "DANE-TA: an expired leaf fails", { C_EXPIRED, C_CA }, { R(2, 0, 1, C_CA) }, { NULL },
	  "a certificate in the chain of " HOST " has expired (DANE-TA 2 0 1)", NULL },
	{ "DANE-TA: the TA's own dates are not checked", { C_LEAF3, C_OLD_CA },
	  { R(2, 0, 1, C_OLD_CA) }, { NULL }, NULL, "2 0 1" },
	{ "DANE-EE of a CA certificate does not match", { C_LEAF, C_CA }, { R(3, 0, 1, C_CA) },
	  { NULL }, "no TLSA record matches", NULL },
	{ "a failed DANE-TA record, then a DANE-EE match", { C_WRONG, C_CA },
	  { R(2, 0, 1, C_CA), R(3, 1, 1, C_WRONG) }, { NULL }, NULL, "3 1 1" },
	{ "the first specific reason is reported", { C_ROGUE, C_CA },
	  { R(3, 1, 1, C_LEAF), R(2, 0, 1, C_CA) }, { NULL }, "is not signed by the trust anchor",
	  NULL },
	{ "no certificate at all", { C_NONE }, { R(3, 1, 1, C_LEAF) }, { NULL },
	  HOST " sent no certificate", NULL },
};

static int run_dcase(const struct dcase *c)
{
	struct recbuf b;
	gnutls_datum_t chain[4];
	struct perr e;
	const struct tlsa *m = NULL;
	const char *one[] = { HOST, NULL };
	unsigned n = make_chain(c->chain, chain);
	char got[16] = "";
	make_records(c->recs, &b);
	int rc = dane_verify(chain, n, b.t, b.n, c->names[0] ? c->names : one, &m, &e);
	if (m)
		snprintf(got, sizeof got, "%u %u %u", m->usage, m->selector, m->mtype);
	if (!c->want && rc != EX_OK)
		return fail("failed: %s", e.msg);
	if (!c->want)
		return strcmp(got, c->matched) ? fail("matched '%s', want '%s'", got, c->matched) : 0;
	if (rc != EX_UNAVAILABLE || e.fc != FC_TLS_VERIFY || m)
		return fail("rc %d class %s matched '%s', want a tls-verify failure", rc,
		            fail_class_name(e.fc), got);
	if (!strstr(e.msg, c->want))
		return fail("message '%s', want '%s' in it", e.msg, c->want);
	return strchr(e.msg, '\n') ? fail("message on more than one line: %s", e.msg) : 0;
}

/* The one-name form, as the brief's callers use it. */
static int t_verify_chain(void)
{
	struct recbuf b;
	struct perr e;
	gnutls_datum_t chain[2] = { pki[C_LEAF].der, pki[C_CA].der };
	static const struct rec good[] = { R(2, 0, 1, C_CA), R(0, 0, 0, C_NONE) };
	make_records(good, &b);
	if (dane_verify_chain(chain, 2, b.t, b.n, HOST, &e) != EX_OK)
		return fail("for " HOST ": %s", e.msg);
	if (dane_verify_chain(chain, 2, b.t, b.n, "mx2.example.test", &e) == EX_OK)
		return fail("accepted for mx2.example.test");
	return strstr(e.msg, "certificate name does not match mx2.example.test") ? 0
	       : fail("message: %s", e.msg);
}

/* ---- the hook in tls.c, over a real handshake ---- */

static int rep_fd = -1;

static void say(const char *s)
{
	if (write(rep_fd, s, strlen(s)) < 0)
		_exit(4);
}

/* The server: present leaf + CA, report "sni=..." and how it ended. */
static void serve(enum cid leaf, int fd)
{
	gnutls_x509_crt_t chain[2] = { pki[leaf].crt, pki[C_CA].crt };
	gnutls_certificate_credentials_t cred;
	gnutls_session_t s;
	char name[256], line[400], buf[256];
	size_t n = sizeof name;
	unsigned type;
	int r;
	G(gnutls_certificate_allocate_credentials(&cred));
	G(gnutls_certificate_set_x509_key(cred, chain, 2, pki[leaf].key));
	G(gnutls_init(&s, GNUTLS_SERVER));
	G(gnutls_set_default_priority(s));
	G(gnutls_credentials_set(s, GNUTLS_CRD_CERTIFICATE, cred));
	gnutls_transport_set_int(s, fd);
	gnutls_handshake_set_timeout(s, 5000);
	gnutls_record_set_timeout(s, 5000);
	do
		r = gnutls_handshake(s);
	while (r < 0 && !gnutls_error_is_fatal(r));
	if (gnutls_server_name_get(s, name, &n, &type, 0) < 0)
		strcpy(name, "-");
	while (r >= 0 && (r = (int)gnutls_record_recv(s, buf, sizeof buf)) > 0)
		;
	snprintf(line, sizeof line, "sni=%s\nend=%s\n", name, r == 0 ? "eof"
	         : r == GNUTLS_E_FATAL_ALERT_RECEIVED ? gnutls_alert_get_name(gnutls_alert_get(s))
	         : gnutls_strerror_name(r));
	say(line);
}

struct peer {
	pid_t pid;
	int rep;
};

static struct conn *start_server(enum cid leaf, struct peer *p)
{
	int sp[2], rp[2];
	struct conn *c;
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sp) < 0 || pipe(rp) < 0)
		die("socketpair", 0);
	fflush(stdout);
	p->pid = fork();
	if (p->pid < 0)
		die("fork", 0);
	if (p->pid == 0) {
		in_child = 1;
		close(sp[0]);
		close(rp[0]);
		rep_fd = rp[1];
		alarm(20);
		serve(leaf, sp[1]);
		_exit(0);
	}
	close(sp[1]);
	close(rp[1]);
	p->rep = rp[0];
	if (net_from_fd(sp[0], "peer", 5, &c) < 0)
		die("net_from_fd", 0);
	return c;
}

/* The server's report once it has ended (killed after 15 s). */
static void finish_server(struct peer *p, char *out, size_t cap)
{
	size_t len = 0;
	struct pollfd pf = { p->rep, POLLIN, 0 };
	while (len + 1 < cap && poll(&pf, 1, 15000) > 0) {
		ssize_t n = read(p->rep, out + len, cap - 1 - len);
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	out[len] = '\0';
	close(p->rep);
	kill(p->pid, SIGKILL);
	waitpid(p->pid, NULL, 0);
}

static const struct hcase {
	const char *desc;
	enum cid leaf;        /* the server's certificate (sent with the CA) */
	struct rec recs[2];
	const char *trust;    /* tls_trust_file */
	const char *pin;      /* tls_fingerprint */
	int required;
	const char *want;     /* NULL: verified; else in the message */
	const char *dane;     /* tls_dane() */
	const char *srv;      /* in the server's report */
} hcases[] = {
	{ "hook: DANE-EE match verifies, SNI is the MX host name", C_LEAF, { R(3, 1, 1, C_LEAF) },
	  NULL, NULL, 0, NULL, "DANE-EE 3 1 1", "sni=" HOST "\nend=eof\n" },
	{ "hook: DANE-TA match verifies with no PKIX trust at all", C_LEAF, { R(2, 0, 1, C_CA) },
	  NULL, NULL, 1, NULL, "DANE-TA 2 0 1", "sni=" HOST "\n" },
	{ "hook: PKIX trust file and pin do not apply under DANE", C_LEAF,
	  { R(3, 0, 1, C_LEAF) }, "/nonexistent/ca.pem", "00:11:22", 1, NULL, "DANE-EE 3 0 1",
	  "end=eof" },
	{ "hook: a mismatch fails even when TLS is opportunistic", C_LEAF,
	  { R(3, 1, 1, C_WRONG) }, NULL, NULL, 0, "no TLSA record matches the certificate of " HOST,
	  NULL, "end=Certificate is bad" },
	{ "hook: DANE-TA with the wrong name fails the handshake", C_WRONG, { R(2, 0, 1, C_CA) },
	  NULL, NULL, 1, "certificate name does not match " HOST, NULL, "sni=" HOST "\n" },
	{ "hook: only unusable records: PKIX as before", C_LEAF, { RX(3, 1, 1, C_LEAF, 31, 0) },
	  NULL, NULL, 1, "not signed by a trusted authority", NULL, NULL },
};

/* --serverinfo says which record verified the server. */
static int check_info(struct tls *t, const char *dane)
{
	char *text = NULL, want[80];
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	if (!f)
		die("open_memstream", 0);
	tls_print_info(t, f);
	fclose(f);
	snprintf(want, sizeof want, "Verification:          passed, by DANE (%s)\n", dane);
	int bad = !strstr(text, want) ? fail("--serverinfo said: %s", text) : 0;
	free(text);
	return bad;
}

static int check_hook(const struct hcase *h, int rc, struct tls *t, const struct perr *e)
{
	if (!h->want) {
		if (rc != EX_OK || !t || !tls_verified(t))
			return fail("rc %d: %s", rc, e->msg);
		if (!tls_dane(t) || strcmp(tls_dane(t), h->dane))
			return fail("tls_dane '%s', want '%s'", tls_dane(t) ? tls_dane(t) : "(null)", h->dane);
		char want[80];
		snprintf(want, sizeof want, "verified by DANE (%s)", h->dane);
		if (strcmp(tls_verify_result(t), want))
			return fail("result '%s'", tls_verify_result(t));
		return check_info(t, h->dane);
	}
	if (rc != EX_UNAVAILABLE || e->fc != FC_TLS_VERIFY)
		return fail("rc %d class %s: %s", rc, fail_class_name(e->fc), e->msg);
	if (!strstr(e->msg, h->want))
		return fail("message '%s', want '%s' in it", e->msg, h->want);
	return t && tls_dane(t) ? fail("tls_dane set after a failure") : 0;
}

static int run_hcase(const struct hcase *h)
{
	struct recbuf b;
	struct peer p;
	struct perr e;
	struct tls *t = NULL;
	char rep[1024];
	make_records(h->recs, &b);
	struct tls_opts o = { .host = HOST, .trust_file = h->trust, .fingerprint = h->pin,
	                      .certcheck = 1, .required = h->required, .timeout = 10,
	                      .tlsa = b.t, .ntlsa = b.n };
	struct conn *c = start_server(h->leaf, &p);
	int rc = tls_start(c, &o, &t, &e);
	int bad = check_hook(h, rc, t, &e);
	net_close(c);
	finish_server(&p, rep, sizeof rep);
	if (!bad && h->srv && !strstr(rep, h->srv))
		bad = fail("the server reported '%s', want '%s' in it", rep, h->srv);
	return bad;
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	pki_make();
	t_usable();
	for (size_t i = 0; i < NELEM(dcases); i++)
		report(dcases[i].desc, run_dcase(&dcases[i]));
	report("dane_verify_chain: one reference name", t_verify_chain());
	for (size_t i = 0; i < NELEM(hcases); i++)
		report(hcases[i].desc, run_hcase(&hcases[i]));
	for (int i = 1; i < C_COUNT; i++) {
		gnutls_free(pki[i].der.data);
		gnutls_x509_crt_deinit(pki[i].crt);
		gnutls_x509_privkey_deinit(pki[i].key);
	}
	return tap_done();
}
