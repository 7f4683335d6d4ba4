/* conf.c - msmtprc-compatible configuration. One keyword table (name,
 * argument, doc, default, type, storage) drives the parser, a new
 * account's defaults, conf_set (command-line options), conf_print and
 * conf_keyword; one table of places drives the search for files. */
#include "conf.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <grp.h>
#include <limits.h>
#include <stddef.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <arpa/inet.h>

#include "addr.h"
#include "log.h"
#include "oauth.h"
#include "queue.h"
#include "util.h"

/* How a keyword's argument is typed. */
enum kwtype {
	K_DEFAULTS, K_ACCOUNT, K_EVAL, /* structure, not settings */
	K_STR,          /* optional string; an empty argument unsets it */
	K_NEED,         /* string that needs a non-empty argument */
	K_RAW,          /* string kept as given, empty included */
	K_FILE,         /* optional file name; a leading ~ becomes $HOME */
	K_OAUTH_PROVIDER, /* microsoft, google or custom (lower case) */
	K_OAUTH_FLOW,   /* device, authcode or client_credentials */
	K_NOTIFY,       /* off (unset) or an address */
	K_NAMES,        /* account names separated by blanks; empty unsets */
	K_DSN_NOTIFY, K_DSN_RETURN, K_FINGERPRINT, K_AUTH, K_SYSLOG,
	K_PORT,         /* 1-65535, required */
	K_PORT_OPT,     /* 1-65535, empty resets to 0 */
	K_PORT_ANY,     /* 0-65535: 0 is any free port */
	K_TIMEOUT, K_PROTOCOL, K_BOOL, K_HDR3, K_HDR2,
	K_QUEUE,        /* off, tempfail or always */
	K_DELIVERY,     /* smarthost or mx */
	K_LIMIT,        /* 1-1000 */
	K_DURATION,     /* seconds; units s m h d */
	K_DHBITS,
	/* alternative spellings that set their target keyword */
	K_HDR_ADD,      /* on = auto, off = off */
	K_NOT,          /* on sets the target off */
	K_OFF_NOARG,    /* no argument; sets the target off */
	K_TO_HDR,       /* on = set_to_header on, off = off */
	K_IGNORE,       /* accepted (on|off) and without effect */
};

#define OFF(f) offsetof(struct account, f)

/* One keyword: what postierc(5) documents (pub, its def column parsed as
 * a file's argument gives a new account's value), how the value is typed,
 * where it is stored, and for an alternative spelling the keyword whose
 * setting it changes (the model: Postfix's CONFIG_*_TABLE). */
struct kwdef {
	struct conf_keyword pub;
	int type;
	size_t offset;
	const char *target;    /* NULL: the keyword itself */
	unsigned flags;        /* KF_* */
};

/* What a setting means for a secret from a system file the caller cannot
 * read (postie(1), SYSTEM-WIDE USE). */
enum {
	KF_SECRET = 1,         /* the secret itself: never shown */
	KF_SECRET_CMD = 2,     /* a command that prints it: shown only when the caller may read it */
	KF_SEALED = 4,         /* decides where the secret goes or what protects it on the way */
};

static const struct kwdef kwtab[] = {
	{ { "defaults", "", "the following settings are defaults for later accounts in this file", NULL, 0 }, K_DEFAULTS, 0, NULL, 0 },
	{ { "account", "name [: parent[,...]]", "start an account, from the defaults plus the settings of the listed accounts", NULL, 0 }, K_ACCOUNT, 0, NULL, 0 },
	{ { "eval", "cmd", "replace this line by the first line that cmd prints", NULL, 0 }, K_EVAL, 0, NULL, 0 },
	{ { "host", "hostname", "the SMTP server (name or address)", NULL, 0 }, K_NEED, OFF(host), NULL, KF_SEALED },
	{ { "delivery", "(smarthost|mx)", "send through host (smarthost) or straight to the recipients' MX hosts (mx)", "smarthost", 0 }, K_DELIVERY, OFF(delivery), NULL, KF_SEALED },
	{ { "fallback_account", "[name ...]", "accounts tried in turn when this one fails before the server has the message", NULL, 0 }, K_NAMES, OFF(fallback_account), NULL, 0 },
	{ { "port", "number", "server port (default 25, or 465 for TLS without STARTTLS)", NULL, 0 }, K_PORT, OFF(port), NULL, KF_SEALED },
	{ { "source_ip", "[IP]", "local address to connect from", NULL, 0 }, K_STR, OFF(source_ip), NULL, KF_SEALED },
	{ { "proxy_host", "[IP|hostname]", "SOCKS5 proxy to connect through (not supported yet)", NULL, 0 }, K_STR, OFF(proxy_host), NULL, KF_SEALED },
	{ { "proxy_port", "[number]", "port of the SOCKS5 proxy", NULL, 0 }, K_PORT_OPT, OFF(proxy_port), NULL, KF_SEALED },
	{ { "socket", "socketname", "local (unix domain) socket to use instead of host and port", NULL, 0 }, K_FILE, OFF(socket), NULL, KF_SEALED },
	{ { "timeout", "(off|seconds)", "network timeout", NULL, 0 }, K_TIMEOUT, OFF(timeout), NULL, 0 },
	{ { "protocol", "(smtp|lmtp)", "protocol to speak", "smtp", 0 }, K_PROTOCOL, OFF(protocol), NULL, KF_SEALED },
	{ { "domain", "argument", "argument of EHLO/LHLO (default: this host's full name)", NULL, 0 }, K_STR, OFF(domain), NULL, 0 },
	{ { "from", "envelope_from", "envelope-from address; may be a wildcard; %U %H %C %M are substituted", NULL, 0 }, K_STR, OFF(from), NULL, 0 },
	{ { "from_full_name", "[name]", "display name for a generated From header", NULL, 0 }, K_STR, OFF(from_full_name), NULL, 0 },
	{ { "allow_from_override", "[(on|off)]", "whether -f may replace the from address", "on", 0 }, K_BOOL, OFF(allow_from_override), NULL, 0 },
	{ { "auth", "[(on|off|method)]", "authenticate: on (automatic method), off, or a method", NULL, 0 }, K_AUTH, OFF(auth), NULL, KF_SEALED },
	{ { "user", "[login]", "user name for authentication", NULL, 0 }, K_STR, OFF(user), NULL, KF_SEALED },
	{ { "password", "[secret]", "password for authentication", NULL, 0 }, K_STR, OFF(password), NULL, KF_SECRET },
	{ { "passwordeval", "[cmd]", "command that prints the password", NULL, 0 }, K_STR, OFF(passwordeval), NULL, KF_SECRET_CMD },
	{ { "ntlmdomain", "[domain]", "domain for the NTLM method", NULL, 0 }, K_STR, OFF(ntlmdomain), NULL, KF_SEALED },
	{ { "oauth_provider", "[(microsoft|google|custom)]", "OAuth2: presets for the endpoints, scope and flow; postie keeps the token fresh", NULL, 0 }, K_OAUTH_PROVIDER, OFF(oauth_provider), NULL, KF_SEALED },
	{ { "oauth_client_id", "[id]", "OAuth2: the client (application) ID you registered", NULL, 0 }, K_STR, OFF(oauth_client_id), NULL, 0 },
	{ { "oauth_client_secret", "[secret]", "OAuth2: the client secret, if the client has one", NULL, 0 }, K_STR, OFF(oauth_client_secret), NULL, KF_SECRET },
	{ { "oauth_client_secret_eval", "[cmd]", "OAuth2: command that prints the client secret", NULL, 0 }, K_STR, OFF(oauth_client_secret_eval), NULL, KF_SECRET_CMD },
	{ { "oauth_tenant", "[tenant]", "OAuth2, Microsoft: common, organizations, consumers or a tenant ID", "common", 0 }, K_STR, OFF(oauth_tenant), NULL, KF_SEALED },
	{ { "oauth_flow", "[(device|authcode|client_credentials)]", "OAuth2: how --oauth-login gets the tokens", NULL, 0 }, K_OAUTH_FLOW, OFF(oauth_flow), NULL, 0 },
	{ { "oauth_scope", "[scope]", "OAuth2: the scope to ask for (default from the provider)", NULL, 0 }, K_STR, OFF(oauth_scope), NULL, 0 },
	{ { "oauth_auth_url", "[url]", "OAuth2: the authorization endpoint", NULL, 0 }, K_STR, OFF(oauth_auth_url), NULL, KF_SEALED },
	{ { "oauth_token_url", "[url]", "OAuth2: the token endpoint", NULL, 0 }, K_STR, OFF(oauth_token_url), NULL, KF_SEALED },
	{ { "oauth_device_url", "[url]", "OAuth2: the device authorization endpoint", NULL, 0 }, K_STR, OFF(oauth_device_url), NULL, KF_SEALED },
	{ { "oauth_redirect_port", "[port]", "OAuth2: loopback port for the browser's redirect (0: any free port)", "0", 0 }, K_PORT_ANY, OFF(oauth_redirect_port), NULL, 0 },
	{ { "oauth_token_file", "[file]", "OAuth2: where the tokens are kept (default ~/.local/state/postie/oauth/ACCOUNT.json)", NULL, 0 }, K_FILE, OFF(oauth_token_file), NULL, 0 },
	{ { "oauth_trust_file", "[file]", "OAuth2: trusted CA certificates for the endpoints (PEM), or \"system\"", "system", 0 }, K_FILE, OFF(oauth_trust_file), NULL, KF_SEALED },
	{ { "auth_without_tls", "[(on|off)]", "allow PLAIN, LOGIN, XOAUTH2, OAUTHBEARER without verified TLS", "off", 0 }, K_BOOL, OFF(auth_without_tls), NULL, KF_SEALED },
	{ { "tls", "[(on|off)]", "require TLS (on), never use it (off); unset: STARTTLS if offered", NULL, 0 }, K_BOOL, OFF(tls), NULL, KF_SEALED },
	{ { "tls_starttls", "[(on|off)]", "TLS through STARTTLS (on) or from the first byte (off)", NULL, 0 }, K_BOOL, OFF(tls_starttls), NULL, KF_SEALED },
	{ { "tls_trust_file", "[file]", "trusted CA certificates (PEM), or \"system\"", "system", 0 }, K_FILE, OFF(tls_trust_file), NULL, KF_SEALED },
	{ { "tls_crl_file", "[file]", "certificate revocation list (PEM)", NULL, 0 }, K_FILE, OFF(tls_crl_file), NULL, KF_SEALED },
	{ { "tls_fingerprint", "[fingerprint]", "accept only the certificate with this fingerprint (SHA256, SHA1, MD5)", NULL, 0 }, K_FINGERPRINT, OFF(tls_fingerprint), NULL, KF_SEALED },
	{ { "tls_key_file", "[file]", "private key of the client certificate", NULL, 0 }, K_FILE, OFF(tls_key_file), NULL, KF_SEALED },
	{ { "tls_cert_file", "[file]", "client certificate", NULL, 0 }, K_FILE, OFF(tls_cert_file), NULL, KF_SEALED },
	{ { "tls_certcheck", "[(on|off)]", "verify the server certificate", "on", 0 }, K_BOOL, OFF(tls_certcheck), NULL, KF_SEALED },
	{ { "tls_priorities", "[priorities]", "GnuTLS priority string", NULL, 0 }, K_STR, OFF(tls_priorities), NULL, KF_SEALED },
	{ { "tls_host_override", "[host]", "name to verify the certificate against instead of host", NULL, 0 }, K_STR, OFF(tls_host_override), NULL, KF_SEALED },
	{ { "tls_min_dh_prime_bits", "[bits]", "smallest Diffie-Hellman prime accepted", NULL, 0 }, K_DHBITS, OFF(tls_min_dh_prime_bits), NULL, KF_SEALED },
	{ { "tls_dane", "[(on|off)]", "with delivery mx, verify MX hosts by their DNSSEC-validated TLSA records (DANE)", "on", 0 }, K_BOOL, OFF(tls_dane), NULL, 0 },
	{ { "mx_address_limit", "number", "with delivery mx, the most addresses of MX hosts tried for one domain", "5", 0 }, K_LIMIT, OFF(mx_address_limit), NULL, 0 },
	{ { "dsn_notify", "(off|condition)", "DSN NOTIFY: off, never, or a list of failure,delay,success", NULL, 0 }, K_DSN_NOTIFY, OFF(dsn_notify), NULL, 0 },
	{ { "dsn_return", "(off|amount)", "DSN RET: off, headers or full", NULL, 0 }, K_DSN_RETURN, OFF(dsn_return), NULL, 0 },
	{ { "set_from_header", "[(auto|on|off)]", "add From if missing (auto), always replace it (on), or not (off)", "auto", 0 }, K_HDR3, OFF(set_from_header), NULL, 0 },
	{ { "set_date_header", "[(auto|off)]", "add a Date header when missing", "auto", 0 }, K_HDR2, OFF(set_date_header), NULL, 0 },
	{ { "set_msgid_header", "[(auto|off)]", "add a Message-ID header when missing", "auto", 0 }, K_HDR2, OFF(set_msgid_header), NULL, 0 },
	{ { "set_to_header", "[(auto|on|off)]", "add To: undisclosed-recipients:; if no To or Cc (auto), replace To/Cc/Bcc (on)", "off", 0 }, K_HDR3, OFF(set_to_header), NULL, 0 },
	{ { "remove_bcc_headers", "[(on|off)]", "remove Bcc headers", "on", 0 }, K_BOOL, OFF(remove_bcc_headers), NULL, 0 },
	{ { "queue", "(off|tempfail|always)", "queue messages that cannot be delivered now (tempfail), or every message first (always)", "off", 0 }, K_QUEUE, OFF(queue), NULL, 0 },
	{ { "queue_dir", "[dir]", "the queue directory (default ~/.local/state/postie/queue; /var/spool/postie for root)", NULL, 0 }, K_FILE, OFF(queue_dir), NULL, 0 },
	{ { "queue_lifetime", "duration", "how long a queued message is retried (s, m, h or d)", "5d", 0 }, K_DURATION, OFF(queue_lifetime), NULL, 0 },
	{ { "queue_notify", "(off|address)", "who is told, once, about a queued message given up after queue_lifetime (default off)", NULL, 0 }, K_NOTIFY, OFF(queue_notify), NULL, 0 },
	{ { "logfile", "[file]", "append a line per message to this file (- for stdout)", NULL, 0 }, K_FILE, OFF(logfile), NULL, 0 },
	{ { "logfile_time_format", "[fmt]", "strftime format of the log file time stamp", NULL, 0 }, K_STR, OFF(logfile_time_format), NULL, 0 },
	{ { "syslog", "[(on|off|facility)]", "log to syslog: LOG_USER, LOG_MAIL, LOG_LOCAL0..7", NULL, 0 }, K_SYSLOG, OFF(syslog), NULL, 0 },
	{ { "aliases", "[file]", "aliases file for recipients without a domain", NULL, 0 }, K_FILE, OFF(aliases), NULL, 0 },
	{ { "auto_from", "[(on|off)]", "obsolete: from becomes %U@maildomain", "off", 1 }, K_BOOL, OFF(auto_from), NULL, 0 },
	{ { "maildomain", "[domain]", "obsolete: domain part for auto_from", NULL, 1 }, K_RAW, OFF(maildomain), NULL, 0 },
	{ { "add_missing_from_header", "[(on|off)]", "obsolete: set_from_header auto or off", NULL, 1 }, K_HDR_ADD, 0, "set_from_header", 0 },
	{ { "add_missing_date_header", "[(on|off)]", "obsolete: set_date_header auto or off", NULL, 1 }, K_HDR_ADD, 0, "set_date_header", 0 },
	{ { "undisclosed_recipients", "[(on|off)]", "msmtp spelling of set_to_header on or off", NULL, 1 }, K_TO_HDR, 0, "set_to_header", 0 },
	{ { "connect_timeout", "(off|seconds)", "obsolete: timeout", NULL, 1 }, K_TIMEOUT, 0, "timeout", 0 },
	{ { "tls_nocertcheck", "", "obsolete: tls_certcheck off", NULL, 1 }, K_OFF_NOARG, 0, "tls_certcheck", 0 },
	{ { "tls_nostarttls", "", "obsolete: tls_starttls off", NULL, 1 }, K_OFF_NOARG, 0, "tls_starttls", 0 },
	{ { "keepbcc", "[(on|off)]", "obsolete: on means remove_bcc_headers off", NULL, 1 }, K_NOT, 0, "remove_bcc_headers", 0 },
	{ { "tls_force_sslv3", "[(on|off)]", "obsolete: accepted and ignored", NULL, 1 }, K_IGNORE, 0, NULL, 0 },
};

#define NKW (sizeof kwtab / sizeof kwtab[0])
_Static_assert(NKW <= sizeof ((struct account *)0)->isset, "isset[] too small for the keyword table");

/* Limit on a configuration file's size, so that a wrong -C (a device, a
 * huge file) fails instead of eating memory. */
#define MAX_FILE_SIZE (16u << 20)

const struct conf_keyword *conf_keyword(size_t i)
{
	return i < NKW ? &kwtab[i].pub : NULL;
}

static int kw_find(const char *name, size_t *k)
{
	for (size_t i = 0; i < NKW; i++)
		if (strcmp(kwtab[i].pub.name, name) == 0) {
			*k = i;
			return 1;
		}
	return 0;
}

const struct conf_keyword *conf_keyword_find(const char *name)
{
	size_t k;
	return kw_find(name, &k) ? &kwtab[k].pub : NULL;
}

/* The table index of the setting keyword k changes. */
static size_t kw_target(size_t k)
{
	size_t t = k;
	if (kwtab[k].target)
		kw_find(kwtab[k].target, &t);
	return t;
}

static int is_str_type(int type)
{
	return type >= K_STR && type <= K_SYSLOG;
}

/* Nonzero when keyword k has its own storage in struct account. */
static int kw_owns(size_t k)
{
	return !kwtab[k].target && kwtab[k].type >= K_STR && kwtab[k].type <= K_DHBITS;
}

static char **str_at(struct account *a, size_t k)
{
	return (char **)((char *)a + kwtab[k].offset);
}

static int *int_at(struct account *a, size_t k)
{
	return (int *)((char *)a + kwtab[k].offset);
}

static const char *str_of(const struct account *a, size_t k)
{
	return *(char *const *)((const char *)a + kwtab[k].offset);
}

static int int_of(const struct account *a, size_t k)
{
	return *(const int *)((const char *)a + kwtab[k].offset);
}

static void free_str(char *s)
{
	if (s) {
		wipe(s, strlen(s));
		free(s);
	}
}

static void set_str(char **p, const char *v)
{
	free_str(*p);
	*p = v ? xstrdup(v) : NULL;
}

/* A value for a message: control bytes replaced, long values cut. */
static char *show(const char *v)
{
	struct buf b;
	size_t i;
	buf_init(&b);
	for (i = 0; v[i] && i < 80; i++)
		buf_addc(&b, (unsigned char)v[i] < 0x20 || v[i] == 0x7f ? '?' : v[i]);
	if (v[i])
		buf_adds(&b, "...");
	return buf_steal(&b);
}

/* path for messages: $HOME abbreviated as ~. */
static char *display_name(const char *path)
{
	const char *home = getenv("HOME");
	size_t n = home ? strlen(home) : 0;
	while (n > 0 && home[n - 1] == '/')
		n--;
	if (n > 0 && strncmp(path, home, n) == 0 && path[n] == '/')
		return xasprintf("~%s", path + n);
	return xstrdup(path);
}

/* ---- typed values ---- */

enum { V_OK, V_INVALID, V_MISSING, V_NOARG };

static int word_is(const char *v, const char *w)
{
	return ascii_casecmp(v, w) == 0;
}

/* A decimal number in [lo, hi], digits only. */
static int parse_num(const char *v, long lo, long hi, int *out)
{
	long n = 0;
	if (!*v)
		return V_INVALID;
	for (const char *p = v; *p; p++) {
		if (*p < '0' || *p > '9')
			return V_INVALID;
		n = n * 10 + (*p - '0');
		if (n > hi)
			return V_INVALID;
	}
	if (n < lo)
		return V_INVALID;
	*out = (int)n;
	return V_OK;
}

static int parse_bool(const char *v, int *out)
{
	if (!*v || word_is(v, "on"))
		*out = 1;
	else if (word_is(v, "off"))
		*out = 0;
	else
		return V_INVALID;
	return V_OK;
}

/* auto|on|off (on only when allow_on); empty means auto, as in msmtp. */
static int parse_hdr(const char *v, int allow_on, int *out)
{
	if (!*v || word_is(v, "auto"))
		*out = HDR_AUTO;
	else if (word_is(v, "off"))
		*out = HDR_OFF;
	else if (allow_on && word_is(v, "on"))
		*out = HDR_ON;
	else
		return V_INVALID;
	return V_OK;
}

static char *lower_dup(const char *v)
{
	char *s = xstrdup(v);
	for (char *p = s; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	return s;
}

/* off, never, or distinct failure/delay/success separated by commas. */
static int norm_dsn_notify(const char *v, char **out)
{
	static const char *const words[] = { "failure", "delay", "success" };
	unsigned seen = 0;
	const char *p = v;
	if (word_is(v, "off"))
		return V_OK;
	if (!word_is(v, "never")) {
		for (;;) {
			size_t n = strcspn(p, ","), i;
			for (i = 0; i < 3; i++)
				if (n == strlen(words[i]) && ascii_ncasecmp(p, words[i], n) == 0)
					break;
			if (i == 3 || (seen & (1u << i)))
				return V_INVALID;
			seen |= 1u << i;
			if (!p[n])
				break;
			p += n + 1;
		}
	}
	*out = lower_dup(v);
	return V_OK;
}

static int norm_dsn_return(const char *v, char **out)
{
	if (word_is(v, "headers") || word_is(v, "hdrs"))
		*out = xstrdup("headers");
	else if (word_is(v, "full"))
		*out = xstrdup("full");
	else if (!word_is(v, "off"))
		return V_INVALID;
	return V_OK;
}

/* Hex byte pairs separated by ':': 16 (MD5), 20 (SHA1) or 32 (SHA256)
 * bytes. Stored in upper case. */
static int norm_fingerprint(const char *v, char **out)
{
	size_t len = strlen(v), bytes = (len + 1) / 3;
	if (len % 3 != 2 || (bytes != 16 && bytes != 20 && bytes != 32))
		return V_INVALID;
	for (size_t i = 0; i < len; i++)
		if (i % 3 == 2 ? v[i] != ':' : !isxdigit((unsigned char)v[i]))
			return V_INVALID;
	*out = xstrdup(v);
	for (char *p = *out; *p; p++)
		*p = (char)toupper((unsigned char)*p);
	return V_OK;
}

/* on (automatic), off (NULL) or a SASL mechanism name (RFC 4422: up to
 * 20 of A-Z 0-9 - _), kept as written and compared case-insensitively. */
static int norm_auth(const char *v, char **out)
{
	size_t n = strlen(v);
	if (!*v || word_is(v, "on")) {
		*out = xstrdup("on");
		return V_OK;
	}
	if (word_is(v, "off"))
		return V_OK;
	if (n > 20 || strspn(v, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") != n)
		return V_INVALID;
	*out = xstrdup(v);
	return V_OK;
}

/* One of words (ASCII case ignored), stored in lower case; empty unsets. */
static int norm_word(const char *v, const char *const *words, char **out)
{
	if (!*v)
		return V_OK;
	for (; *words; words++)
		if (word_is(v, *words)) {
			*out = xstrdup(*words);
			return V_OK;
		}
	return V_INVALID;
}

/* Names separated by blanks, kept with one space between them; empty
 * unsets. conf_link checks that each is an account. */
static int norm_names(const char *v, char **out)
{
	struct buf b;
	buf_init(&b);
	for (const char *p = v; *p;) {
		size_t n = strcspn(p, " \t");
		if (n)
			buf_printf(&b, "%s%.*s", b.len ? " " : "", (int)n, p);
		p += n;
		p += strspn(p, " \t");
	}
	*out = b.len ? buf_steal(&b) : NULL;
	buf_free(&b);
	return V_OK;
}

static int norm_syslog(const char *v, char **out)
{
	if (!*v || word_is(v, "on"))
		*out = xstrdup("LOG_USER");
	else if (word_is(v, "off"))
		return V_OK;
	else if (log_facility_valid(v))
		*out = xstrdup(v);
	else
		return V_INVALID;
	return V_OK;
}

/* The string value of v for a string-typed keyword (NULL: unset). */
static int typed_str(int type, const char *v, char **out)
{
	*out = NULL;
	switch (type) {
	case K_NEED:
		*out = *v ? xstrdup(v) : NULL;
		return *v ? V_OK : V_MISSING;
	case K_RAW:
		*out = xstrdup(v);
		return V_OK;
	case K_STR:
		*out = *v ? xstrdup(v) : NULL;
		return V_OK;
	case K_FILE:
		*out = *v ? expand_tilde(v) : NULL;
		return V_OK;
	case K_DSN_NOTIFY:
		return *v ? norm_dsn_notify(v, out) : V_MISSING;
	case K_DSN_RETURN:
		return *v ? norm_dsn_return(v, out) : V_MISSING;
	case K_FINGERPRINT:
		return *v ? norm_fingerprint(v, out) : V_OK;
	case K_AUTH:
		return norm_auth(v, out);
	case K_OAUTH_PROVIDER:
		return norm_word(v, (const char *const[]){ "microsoft", "google", "custom", NULL }, out);
	case K_OAUTH_FLOW:
		return norm_word(v, (const char *const[]){ "device", "authcode", "client_credentials", NULL }, out);
	case K_NOTIFY:
		if (!*v)
			return V_MISSING;
		if (word_is(v, "off"))
			return V_OK;
		if (!strchr(v, '@') || strpbrk(v, " \t<>,"))
			return V_INVALID;
		*out = xstrdup(v);
		return V_OK;
	case K_SYSLOG:
		return norm_syslog(v, out);
	case K_NAMES:
		return norm_names(v, out);
	}
	return V_INVALID;
}

/* The int value of v for an int-typed keyword. */
static int typed_int(int type, const char *v, int *out)
{
	int r;
	switch (type) {
	case K_PORT:
		return *v ? parse_num(v, 1, 65535, out) : V_MISSING;
	case K_PORT_OPT:
		*out = 0;
		return *v ? parse_num(v, 1, 65535, out) : V_OK;
	case K_PORT_ANY:
		*out = 0;
		return *v ? parse_num(v, 0, 65535, out) : V_OK;
	case K_TIMEOUT:
		if (!*v)
			return V_MISSING;
		*out = 0;
		return word_is(v, "off") ? V_OK : parse_num(v, 1, INT_MAX, out);
	case K_PROTOCOL:
		if (!*v)
			return V_MISSING;
		*out = word_is(v, "lmtp") ? PROTO_LMTP : PROTO_SMTP;
		return word_is(v, "lmtp") || word_is(v, "smtp") ? V_OK : V_INVALID;
	case K_BOOL:
	case K_IGNORE:
		return parse_bool(v, out);
	case K_NOT:
		r = parse_bool(v, out);
		*out = !*out;
		return r;
	case K_OFF_NOARG:
		*out = 0;
		return *v ? V_NOARG : V_OK;
	case K_HDR_ADD:
		r = parse_bool(v, out);
		*out = *out ? HDR_AUTO : HDR_OFF;
		return r;
	case K_TO_HDR:
		r = parse_bool(v, out);
		*out = *out ? HDR_ON : HDR_OFF;
		return r;
	case K_HDR3:
	case K_HDR2:
		return parse_hdr(v, type == K_HDR3, out);
	case K_DHBITS:
		*out = 0;
		return *v ? parse_num(v, 1, INT_MAX, out) : V_OK;
	case K_QUEUE:
		*out = word_is(v, "always") ? QUEUE_ALWAYS : word_is(v, "tempfail") ? QUEUE_TEMPFAIL : QUEUE_OFF;
		return word_is(v, "off") || word_is(v, "always") || word_is(v, "tempfail") ? V_OK : V_INVALID;
	case K_DELIVERY:
		*out = word_is(v, "mx") ? DELIVERY_MX : DELIVERY_SMARTHOST;
		return word_is(v, "mx") || word_is(v, "smarthost") ? V_OK : *v ? V_INVALID : V_MISSING;
	case K_LIMIT:
		return *v ? parse_num(v, 1, 1000, out) : V_MISSING;
	case K_DURATION: {
		long long d = queue_duration(v);
		if (d <= 0 || d > INT_MAX)
			return *v ? V_INVALID : V_MISSING;
		*out = (int)d;
		return V_OK;
	}
	}
	return V_INVALID;
}

static const char *expected(int type)
{
	switch (type) {
	case K_PORT:
	case K_PORT_OPT: return "1-65535";
	case K_TIMEOUT: return "off or seconds";
	case K_PROTOCOL: return "smtp or lmtp";
	case K_HDR3: return "auto, on or off";
	case K_HDR2: return "auto or off";
	case K_DSN_NOTIFY: return "off, never, or a list of failure,delay,success";
	case K_DSN_RETURN: return "off, headers or full";
	case K_FINGERPRINT: return "16, 20 or 32 hex bytes as 01:AB:...";
	case K_DHBITS: return "a positive number";
	case K_AUTH: return "on, off or a mechanism name";
	case K_OAUTH_PROVIDER: return "microsoft, google or custom";
	case K_OAUTH_FLOW: return "device, authcode or client_credentials";
	case K_PORT_ANY: return "0-65535";
	case K_QUEUE: return "off, tempfail or always";
	case K_DELIVERY: return "smarthost or mx";
	case K_LIMIT: return "a number from 1 to 1000";
	case K_NOTIFY: return "off or an address such as postmaster@example.org";
	case K_DURATION: return "a duration such as 90m, 2h or 5d";
	case K_SYSLOG: return "on, off, LOG_USER, LOG_MAIL or LOG_LOCAL0..LOG_LOCAL7";
	case K_NAMES: return "account names separated by blanks";
	}
	return "on or off";
}

static int value_error(int r, size_t k, const char *v, const char *where, struct perr *e)
{
	char *s;
	if (r == V_MISSING)
		return perr_fail(e, FC_CONFIG, "%s: '%s' needs an argument", where, kwtab[k].pub.name);
	if (r == V_NOARG)
		return perr_fail(e, FC_CONFIG, "%s: '%s' takes no argument", where, kwtab[k].pub.name);
	s = show(v);
	perr_fail(e, FC_CONFIG, "%s: invalid %s '%s' (%s)", where, kwtab[k].pub.name, s, expected(kwtab[k].type));
	free(s);
	return EX_CONFIG;
}

/* Store v, read as a value of the given type, in the setting of keyword
 * t. Returns V_OK or why v is not such a value. */
static int kw_store(struct account *a, size_t t, int type, const char *v)
{
	int r, n = 0;
	char *s = NULL;

	if (is_str_type(type)) {
		if ((r = typed_str(type, v, &s)) == V_OK) {
			free_str(*str_at(a, t));
			*str_at(a, t) = s;
		}
		return r;
	}
	if ((r = typed_int(type, v, &n)) == V_OK && type != K_IGNORE)
		*int_at(a, t) = n;
	return r;
}

/* Set keyword k (a setting, possibly an alternative spelling) from v. */
static int kw_apply(struct account *a, size_t k, const char *v, const char *where, struct perr *e)
{
	size_t t = kw_target(k);
	int type = kwtab[k].type, r;

	if (type < K_STR)
		return perr_fail(e, FC_CONFIG, "%s: '%s' is not a setting", where, kwtab[k].pub.name);
	if ((r = kw_store(a, t, type, v)) != V_OK)
		return value_error(r, k, v, where, e);
	if (type != K_IGNORE)
		a->isset[t] = 1;
	return 0;
}

int conf_set(struct account *a, const char *keyword, const char *value, const char *where, struct perr *e)
{
	size_t k;
	if (!kw_find(keyword, &k)) {
		char *s = show(keyword);
		perr_fail(e, FC_CONFIG, "%s: unknown keyword '%s'", where, s);
		free(s);
		return EX_CONFIG;
	}
	return kw_apply(a, k, value ? value : "", where, e);
}

/* ---- accounts ---- */

/* An int setting without a default: -1 where 0 is a value ("off": tls,
 * tls_starttls, timeout), else 0. */
_Static_assert(TLS_UNSET == -1, "tls without a default must read as TLS_UNSET");
static int unset_int(int type)
{
	return type == K_BOOL || type == K_TIMEOUT ? -1 : 0;
}

struct account *account_new(const char *name, const char *file, int line)
{
	struct account *a = xcalloc(1, sizeof *a);
	a->name = xstrdup(name ? name : "");
	a->file = file ? xstrdup(file) : NULL;
	a->line = line;
	for (size_t k = 0; k < NKW; k++) {
		if (!kw_owns(k))
			continue;
		if (kwtab[k].pub.def)
			kw_store(a, k, kwtab[k].type, kwtab[k].pub.def);
		else if (!is_str_type(kwtab[k].type))
			*int_at(a, k) = unset_int(kwtab[k].type);
	}
	return a;
}

struct account *account_dup(const struct account *a)
{
	struct account *d = xmalloc(sizeof *d);
	*d = *a;
	d->name = a->name ? xstrdup(a->name) : NULL;
	d->file = a->file ? xstrdup(a->file) : NULL;
	for (size_t k = 0; k < NKW; k++)
		if (kw_owns(k) && is_str_type(kwtab[k].type) && *str_at(d, k))
			*str_at(d, k) = xstrdup(*str_at(d, k));
	if (a->nfallback) {
		d->fallback = xcalloc(a->nfallback, sizeof *d->fallback);
		for (size_t i = 0; i < a->nfallback; i++)
			d->fallback[i] = account_dup(a->fallback[i]);
	}
	return d;
}

static void free_fallbacks(struct account *a)
{
	for (size_t i = 0; i < a->nfallback; i++)
		account_free(a->fallback[i]);
	free(a->fallback);
	a->fallback = NULL;
	a->nfallback = 0;
}

void account_free(struct account *a)
{
	if (!a)
		return;
	free(a->name);
	free(a->file);
	free_fallbacks(a);
	for (size_t k = 0; k < NKW; k++)
		if (kw_owns(k) && is_str_type(kwtab[k].type))
			free_str(*str_at(a, k));
	wipe(a, sizeof *a);
	free(a);
}

/* Copy every setting that src set explicitly into dst. */
static void account_inherit(struct account *dst, const struct account *src)
{
	for (size_t k = 0; k < NKW; k++) {
		if (!kw_owns(k) || !src->isset[k])
			continue;
		if (is_str_type(kwtab[k].type))
			set_str(str_at(dst, k), str_of(src, k));
		else
			*int_at(dst, k) = int_of(src, k);
		dst->isset[k] = 1;
		if (kwtab[k].offset == OFF(fallback_account))
			dst->fallback_line = src->fallback_line;
		if (src->eval_sealed == (int)k + 1)
			dst->eval_sealed = src->eval_sealed;
	}
}

/* FNV-1a: the hash of an account name for cfg->slot. */
static size_t name_hash(const char *s)
{
	size_t h = (size_t)14695981039346656037ULL;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * (size_t)1099511628211ULL;
	return h;
}

/* Put account i into the index (which has a free slot). */
static void index_put(struct config *cfg, size_t i)
{
	size_t m = cfg->nslot - 1, h = name_hash(cfg->acc[i]->name) & m;
	while (cfg->slot[h])
		h = (h + 1) & m;
	cfg->slot[h] = i + 1;
}

/* Keep the index at most half full, so that a lookup takes O(1). */
static void index_grow(struct config *cfg)
{
	if (2 * (cfg->nacc + 1) <= cfg->nslot)
		return;
	free(cfg->slot);
	cfg->nslot = cfg->nslot ? 2 * cfg->nslot : 16;
	while (2 * (cfg->nacc + 1) > cfg->nslot)
		cfg->nslot *= 2;
	cfg->slot = xcalloc(cfg->nslot, sizeof *cfg->slot);
	for (size_t i = 0; i < cfg->nacc; i++)
		index_put(cfg, i);
}

static ssize_t find_index(const struct config *cfg, const char *name)
{
	size_t m = cfg->nslot - 1, h;
	if (!cfg->nslot)
		return -1;
	for (h = name_hash(name) & m; cfg->slot[h]; h = (h + 1) & m)
		if (strcmp(cfg->acc[cfg->slot[h] - 1]->name, name) == 0)
			return (ssize_t)(cfg->slot[h] - 1);
	return -1;
}

struct account *conf_find(const struct config *cfg, const char *name)
{
	ssize_t i = find_index(cfg, name);
	if (i >= 0)
		return cfg->acc[i];
	if (strcmp(name, "default") == 0 && cfg->default_alias && strcmp(cfg->default_alias, "default") != 0)
		return conf_find(cfg, cfg->default_alias);
	return NULL;
}

static void config_add(struct config *cfg, struct account *a)
{
	if (cfg->nacc == cfg->cap) {
		cfg->cap = cfg->cap ? 2 * cfg->cap : 8;
		cfg->acc = xrealloc(cfg->acc, cfg->cap * sizeof *cfg->acc);
	}
	index_grow(cfg);
	cfg->acc[cfg->nacc] = a;
	index_put(cfg, cfg->nacc++);
}

/* Move src's accounts into dst; one with a name dst has replaces it. */
static void config_merge(struct config *dst, struct config *src)
{
	if (find_index(src, "default") >= 0) {
		free(dst->default_alias);
		dst->default_alias = src->default_alias;
		src->default_alias = NULL;
	}
	for (size_t i = 0; i < src->nacc; i++) {
		ssize_t j = find_index(dst, src->acc[i]->name);
		if (j >= 0) {
			account_free(dst->acc[j]);
			dst->acc[j] = src->acc[i];
		} else {
			config_add(dst, src->acc[i]);
		}
	}
	src->nacc = 0;
	dst->has_password_file = src->has_password_file;
	config_free(src);
}

void config_free(struct config *cfg)
{
	for (size_t i = 0; i < cfg->nacc; i++)
		account_free(cfg->acc[i]);
	free(cfg->acc);
	free(cfg->default_alias);
	free(cfg->files);
	free(cfg->searched);
	free(cfg->slot);
	memset(cfg, 0, sizeof *cfg);
}

/* ---- fallback accounts ---- */

/* What conf_link works with: for each account of cfg (by index), the
 * accounts its fallback_account names, and the cycle search's state. */
struct linker {
	const struct config *cfg;
	struct account ***to;
	size_t *nto;
	unsigned char *mark;   /* 0 not seen, 1 on the current path, 2 done */
	size_t *path;
	size_t npath;
	struct perr *e;
};

/* "file:line: message" for a's fallback_account line. */
static int link_error(const struct account *a, struct perr *e, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int link_error(const struct account *a, struct perr *e, const char *fmt, ...)
{
	struct buf m;
	va_list ap;
	char *d = display_name(a->file ? a->file : "the configuration");
	buf_init(&m);
	va_start(ap, fmt);
	buf_vprintf(&m, fmt, ap);
	va_end(ap);
	perr_fail(e, FC_CONFIG, "%s:%d: %s", d, a->fallback_line, m.s);
	buf_free(&m);
	free(d);
	return EX_CONFIG;
}

/* The account name n stands for in a's list, after the checks that need
 * no other list; NULL with e set when there is none. */
static struct account *link_target(struct linker *lk, const struct account *a, const char *n,
                                   struct account **seen, size_t nseen)
{
	struct account *t = conf_find(lk->cfg, n);
	char *s = show(n);
	if (!t)
		link_error(a, lk->e, "fallback_account of account '%s' names '%s', which is not an account", a->name, s);
	else if (t == a)
		link_error(a, lk->e, "account '%s' names itself in fallback_account", a->name);
	else if (t->delivery == DELIVERY_MX)
		link_error(a, lk->e, "fallback account '%s' of account '%s' has delivery mx; a fallback account "
		           "sends through its host", t->name, a->name);
	for (size_t i = 0; t && !lk->e->ex && i < nseen; i++)
		if (seen[i] == t)
			link_error(a, lk->e, "fallback_account of account '%s' names '%s' twice", a->name, s);
	free(s);
	return lk->e->ex ? NULL : t;
}

/* Account i's list, resolved into lk->to[i]. */
static int link_resolve(struct linker *lk, size_t i)
{
	const struct account *a = lk->cfg->acc[i];
	char *list, *save = NULL;
	if (!a->fallback_account)
		return 0;
	if (a->delivery == DELIVERY_MX)
		return link_error(a, lk->e, "account '%s' has delivery mx, which cannot have fallback_account", a->name);
	list = xstrdup(a->fallback_account);
	lk->to[i] = xcalloc(strlen(list) / 2 + 1, sizeof *lk->to[i]);
	for (char *n = strtok_r(list, " ", &save); n; n = strtok_r(NULL, " ", &save)) {
		struct account *t = link_target(lk, a, n, lk->to[i], lk->nto[i]);
		if (!t)
			break;
		lk->to[i][lk->nto[i]++] = t;
	}
	free(list);
	return lk->e->ex;
}

/* "a -> b -> a": the path from its entry at j, back to j. */
static int link_cycle(struct linker *lk, size_t j)
{
	struct buf m;
	size_t k = 0;
	buf_init(&m);
	while (lk->path[k] != j)
		k++;
	for (; k < lk->npath; k++)
		buf_printf(&m, "%s -> ", lk->cfg->acc[lk->path[k]]->name);
	buf_adds(&m, lk->cfg->acc[j]->name);
	link_error(lk->cfg->acc[lk->path[lk->npath - 1]], lk->e, "the fallback_account lists form a cycle: %s", m.s);
	buf_free(&m);
	return EX_CONFIG;
}

/* Depth-first from account i: a list that leads back onto the path is a
 * cycle. */
static int link_visit(struct linker *lk, size_t i)
{
	lk->mark[i] = 1;
	lk->path[lk->npath++] = i;
	for (size_t t = 0; t < lk->nto[i]; t++) {
		size_t j = (size_t)find_index(lk->cfg, lk->to[i][t]->name);
		if (lk->mark[j] == 1)
			return link_cycle(lk, j);
		if (!lk->mark[j] && link_visit(lk, j))
			return EX_CONFIG;
	}
	lk->npath--;
	lk->mark[i] = 2;
	return 0;
}

/* A copy of t to try after another account: without a list of its own,
 * which is not followed. */
static struct account *fallback_copy(const struct account *t)
{
	struct account plain = *t;
	plain.fallback_account = NULL;
	plain.fallback = NULL;
	plain.nfallback = 0;
	return account_dup(&plain);
}

int conf_link(struct config *cfg, struct perr *e)
{
	size_t n = cfg->nacc;
	struct perr err;
	struct linker lk = { cfg, xcalloc(n + 1, sizeof *lk.to), xcalloc(n + 1, sizeof *lk.nto),
	                     xcalloc(n + 1, 1), xcalloc(n + 1, sizeof *lk.path), 0, &err };
	int rc = 0;
	perr_clear(&err);
	for (size_t i = 0; i < n && !rc; i++)
		rc = link_resolve(&lk, i);
	for (size_t i = 0; i < n && !rc; i++)
		if (!lk.mark[i])
			rc = link_visit(&lk, i);
	for (size_t i = 0; i < n; i++) {
		struct account *a = cfg->acc[i];
		free_fallbacks(a);
		if (!rc && lk.nto[i]) {
			a->fallback = xcalloc(lk.nto[i], sizeof *a->fallback);
			for (size_t t = 0; t < lk.nto[i]; t++)
				a->fallback[t] = fallback_copy(lk.to[i][t]);
			a->nfallback = lk.nto[i];
		}
		free(lk.to[i]);
	}
	free(lk.to);
	free(lk.nto);
	free(lk.mark);
	free(lk.path);
	if (rc)
		*e = err;
	return rc;
}

/* ---- parsing ---- */

struct parser {
	const char *fname;
	char *disp;              /* fname for messages */
	struct buf where;        /* "disp:line" */
	int line;
	struct config out;       /* this file's accounts */
	struct account *defaults;
	struct account *cur;     /* NULL before the first account/defaults */
	int sealed;              /* a system file the caller cannot read (eval_sealed) */
	struct perr *e;
};

/* An error at the current line: "file:line: message". */
static int perr_at(struct parser *ps, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int perr_at(struct parser *ps, const char *fmt, ...)
{
	struct buf m;
	va_list ap;
	buf_init(&m);
	va_start(ap, fmt);
	buf_vprintf(&m, fmt, ap);
	va_end(ap);
	perr_fail(ps->e, FC_CONFIG, "%s: %s", ps->where.s, m.s);
	buf_free(&m);
	return EX_CONFIG;
}

/* The same for "before 'arg' after", with arg shown safely. */
static int perr_at_s(struct parser *ps, const char *before, const char *arg, const char *after)
{
	char *s = show(arg);
	perr_at(ps, "%s'%s'%s", before, s, after);
	free(s);
	return EX_CONFIG;
}

static int is_blank(char c)
{
	return c == ' ' || c == '\t';
}

static char *trim(char *s)
{
	size_t n;
	while (is_blank(*s))
		s++;
	n = strlen(s);
	while (n > 0 && is_blank(s[n - 1]))
		s[--n] = '\0';
	return s;
}

/* msmtp's reading of an argument (msmtp 1.8.23): after the blanks around
 * it are dropped, an argument that starts and ends with '"' (and is at
 * least two bytes long) loses those two quotes; nothing else changes.
 * Backslashes are kept as written, a quote elsewhere is an ordinary byte,
 * and an unbalanced quote is not an error. Works in place. */
static char *unquote(char *arg)
{
	size_t n = strlen(arg);
	if (n >= 2 && arg[0] == '"' && arg[n - 1] == '"') {
		arg[n - 1] = '\0';
		arg++;
	}
	return arg;
}

static int start_account(struct parser *ps, char *arg)
{
	char *colon = strchr(arg, ':');
	char *name, *list;
	struct account *a;
	ssize_t old;

	if (colon)
		*colon = '\0';
	name = trim(arg);
	if (!*name)
		return perr_at(ps, "%s", "missing account name");
	if ((old = find_index(&ps->out, name)) >= 0) {
		char *s = show(name);
		perr_at(ps, "account '%s' was already defined at line %d", s, ps->out.acc[old]->line);
		free(s);
		return EX_CONFIG;
	}
	a = account_dup(ps->defaults);
	set_str(&a->name, name);
	set_str(&a->file, ps->fname);
	a->line = ps->line;
	for (list = colon ? colon + 1 : NULL; list;) {
		char *comma = strchr(list, ',');
		char *p;
		ssize_t i;
		if (comma)
			*comma = '\0';
		p = trim(list);
		list = comma ? comma + 1 : NULL;
		if (!*p || (i = find_index(&ps->out, p)) < 0) {
			account_free(a);
			if (!*p)
				return perr_at(ps, "%s", "missing account name");
			return perr_at_s(ps, "account ", p, " is not defined (yet)");
		}
		account_inherit(a, ps->out.acc[i]);
		if (strcmp(name, "default") == 0 && !ps->out.default_alias)
			ps->out.default_alias = xstrdup(p);
	}
	config_add(&ps->out, a);
	ps->cur = a;
	return 0;
}

static int parse_line(struct parser *ps, char *l, int from_eval);

/* Optimal string alignment distance (Levenshtein plus transposition of
 * two neighbours) between a and b, each at most 63 bytes. */
static size_t edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), row[3][64];
	size_t *prev2 = row[0], *prev = row[1], *cur = row[2], *t;
	for (size_t j = 0; j <= lb; j++)
		prev[j] = j;
	for (size_t i = 1; i <= la; i++) {
		cur[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			size_t cost = a[i - 1] != b[j - 1], d = prev[j - 1] + cost;
			if (prev[j] + 1 < d)
				d = prev[j] + 1;
			if (cur[j - 1] + 1 < d)
				d = cur[j - 1] + 1;
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] && prev2[j - 2] + 1 < d)
				d = prev2[j - 2] + 1;
			cur[j] = d;
		}
		t = prev2, prev2 = prev, prev = cur, cur = t;
	}
	return prev[lb];
}

/* The keyword nearest to an unknown word: at most 1 edit away for words
 * of up to 4 bytes, 2 for longer ones; NULL when none is that close. */
static const char *nearest_keyword(const char *w)
{
	size_t n = strlen(w), best = n <= 4 ? 2 : 3, d;
	const char *found = NULL;
	if (n == 0 || n > 63)
		return NULL;
	for (size_t k = 0; k < NKW; k++)
		if (strlen(kwtab[k].pub.name) < 64 && (d = edit_distance(w, kwtab[k].pub.name)) < best) {
			best = d;
			found = kwtab[k].pub.name;
		}
	return found;
}

/* "unknown keyword 'hots' (did you mean 'host'?)" */
static int unknown_keyword(struct parser *ps, const char *kw)
{
	const char *near = nearest_keyword(kw);
	char *s = show(kw);
	if (near)
		perr_at(ps, "unknown keyword '%s' (did you mean '%s'?)", s, near);
	else
		perr_at(ps, "unknown keyword '%s'", s);
	free(s);
	return EX_CONFIG;
}

/* eval CMD: the first line CMD prints replaces this line. */
static int run_eval(struct parser *ps, const char *cmd)
{
	struct buf out;
	const char *nl;
	int st, rc;
	size_t n;

	if (!*cmd)
		return perr_at(ps, "'%s' needs an argument", "eval");
	buf_init(&out);
	st = run_command(cmd, &out, NULL);
	if (st != 0) {
		char *s = show(cmd);
		if (st < 0)
			perr_at(ps, "cannot run eval command '%s': %s", s, strerror(errno));
		else
			perr_at(ps, "eval command '%s' failed with status %d", s, st);
		free(s);
		buf_free(&out);
		return EX_CONFIG;
	}
	nl = out.len ? memchr(out.s, '\n', out.len) : NULL;
	n = nl ? (size_t)(nl - out.s) : out.len;
	if (n > 0 && out.s[n - 1] == '\r')
		n--;
	rc = 0;
	if (n > 0 && memchr(out.s, '\0', n))
		rc = perr_at_s(ps, "eval command ", cmd, " printed a NUL byte");
	else if (n > 0)
		out.s[n] = '\0';
	if (!rc && (n == 0 || !*trim(out.s)))
		rc = perr_at_s(ps, "eval command ", cmd, " printed nothing");
	else if (!rc)
		rc = parse_line(ps, out.s, 1);
	buf_free(&out);
	return rc;
}

/* A setting line for the current account or the defaults. */
static int set_line(struct parser *ps, size_t k, const char *arg, int from_eval)
{
	if (!ps->cur)
		return perr_at(ps, "'%s' must follow an 'account' or 'defaults' line", kwtab[k].pub.name);
	if (kwtab[k].offset == OFF(fallback_account) && kwtab[k].type == K_NAMES) {
		if (ps->cur == ps->defaults)
			return perr_at(ps, "'%s' names other accounts, so it belongs to an account, not to "
			               "'defaults'", kwtab[k].pub.name);
		ps->cur->fallback_line = ps->line;
	}
	if (!from_eval && *arg && (kwtab[k].flags & KF_SECRET))
		ps->out.has_password_file = 1;
	size_t t = kw_target(k);
	if (ps->sealed && from_eval && (kwtab[t].flags & KF_SEALED))
		ps->cur->eval_sealed = (int)t + 1;
	else if (ps->cur->eval_sealed == (int)t + 1)
		ps->cur->eval_sealed = 0;
	return kw_apply(ps->cur, k, arg, ps->where.s, ps->e);
}

/* One line, NUL-terminated, without its line end. */
static int parse_line(struct parser *ps, char *l, int from_eval)
{
	char *kw = l + strspn(l, " \t"), *arg;
	size_t k;

	if (!*kw || *kw == '#')
		return 0;
	arg = kw + strcspn(kw, " \t");
	if (*arg)
		*arg++ = '\0';
	arg = unquote(trim(arg));
	if (!kw_find(kw, &k)) {
		if (from_eval)
			return perr_at(ps, "%s", "unknown keyword in the output of eval");
		return unknown_keyword(ps, kw);
	}
	switch (kwtab[k].type) {
	case K_DEFAULTS:
		if (*arg)
			return perr_at(ps, "'%s' takes no argument", "defaults");
		ps->cur = ps->defaults;
		return 0;
	case K_ACCOUNT:
		return start_account(ps, arg);
	case K_EVAL:
		if (from_eval)
			return perr_at(ps, "%s", "the output of eval cannot be another eval");
		return run_eval(ps, arg);
	}
	return set_line(ps, k, arg, from_eval);
}

static int parse_lines(struct parser *ps, const char *buf, size_t len)
{
	size_t pos = 0;
	if (len >= 3 && memcmp(buf, "\xef\xbb\xbf", 3) == 0)
		pos = 3;
	while (pos < len) {
		const char *nl = memchr(buf + pos, '\n', len - pos);
		size_t end = nl ? (size_t)(nl - buf) : len, n = end - pos;
		char *l;
		int rc;
		ps->line++;
		buf_reset(&ps->where);
		buf_printf(&ps->where, "%s:%d", ps->disp, ps->line);
		if (n > 0 && buf[pos + n - 1] == '\r')
			n--;
		if (memchr(buf + pos, '\0', n))
			return perr_at(ps, "%s", "NUL byte in line");
		l = xstrndup(buf + pos, n);
		rc = parse_line(ps, l, 0);
		free_str(l);
		if (rc)
			return rc;
		pos = end + 1;
	}
	return 0;
}

/* conf_parse_buf; sealed: see struct parser; *line: the line of an error. */
static int parse_text(const char *fname, const char *buf, size_t len, int sealed, struct config *cfg,
                      int *line, struct perr *e)
{
	struct parser ps;
	int rc;

	memset(&ps, 0, sizeof ps);
	ps.fname = fname;
	ps.disp = display_name(fname);
	buf_init(&ps.where);
	ps.defaults = account_new("", fname, 0);
	ps.sealed = sealed;
	ps.e = e;
	rc = parse_lines(&ps, buf, len);
	if (rc)
		config_free(&ps.out);
	else
		config_merge(cfg, &ps.out);
	*line = ps.line;
	account_free(ps.defaults);
	buf_free(&ps.where);
	free(ps.disp);
	return rc;
}

int conf_parse_buf(const char *fname, const char *buf, size_t len, struct config *cfg, struct perr *e)
{
	int line;
	return parse_text(fname, buf, len, 0, cfg, &line, e);
}

/* ---- files ---- */

/* Read fd to its end into b: 0, or an errno value (EFBIG past
 * MAX_FILE_SIZE). The read buffer is wiped. */
static int read_all(int fd, struct buf *b)
{
	char tmp[65536];
	ssize_t n;
	int err = 0;
	size_t used = 0; /* how much of tmp held file data: what is wiped */
	while ((n = read(fd, tmp, sizeof tmp)) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			err = errno;
			break;
		}
		if ((size_t)n > used)
			used = (size_t)n;
		if (b->len + (size_t)n > MAX_FILE_SIZE) {
			err = EFBIG;
			break;
		}
		buf_add(b, tmp, (size_t)n);
	}
	wipe(tmp, used);
	return err;
}

/* The name of group gid, or its number. */
static char *group_name(gid_t gid)
{
	struct group *g = getgrgid(gid);
	return g && g->gr_name ? xstrdup(g->gr_name) : xasprintf("%lu", (unsigned long)gid);
}

/* The system file cannot be opened for lack of permission: say how a
 * caller other than root gets to use it. */
static int system_denied(const char *path, struct perr *e)
{
	struct stat st;
	char *g = stat(path, &st) == 0 ? group_name(st.st_gid) : xstrdup("postie");
	if (process_privileged())
		perr_fail(e, FC_PERMISSION, "cannot open %s: %s, even with postie's group (make it owned by "
		          "root, group %s, mode 0640, and postie setgid %s: see SYSTEM-WIDE USE in postie(1))",
		          path, strerror(EACCES), g, g);
	else
		perr_fail(e, FC_PERMISSION, "cannot open %s: %s (it is for root and group %s; to let other "
		          "users send through it, install postie setgid %s: see SYSTEM-WIDE USE in postie(1))",
		          path, strerror(EACCES), g, g);
	free(g);
	return EX_NOPERM;
}

/* Read path into b. Returns 0, 1 when it does not exist (and need is 0),
 * or EX_CONFIG (EX_NOPERM for a system file without permission). */
static int read_file(const char *path, const char *kind, int need, struct buf *b, struct stat *st,
                     struct perr *e)
{
	char *d = display_name(path);
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY), rc = 0, err;

	if (fd < 0 && !need && (errno == ENOENT || errno == ENOTDIR)) {
		free(d);
		return 1;
	}
	if (fd < 0 && errno == EACCES && strcmp(kind, "system") == 0)
		rc = system_denied(path, e);
	else if (fd < 0 || fstat(fd, st) < 0)
		rc = perr_fail(e, FC_CONFIG, "cannot open %s: %s", d, strerror(errno));
	else if ((err = read_all(fd, b)) == EFBIG)
		rc = perr_fail(e, FC_CONFIG, "%s: file too large", d);
	else if (err)
		rc = perr_fail(e, FC_CONFIG, "cannot read %s: %s", d, strerror(err));
	if (fd >= 0)
		close(fd);
	free(d);
	return rc;
}

/* A user file holding a password must be the user's and private. */
static int check_private(const char *path, const struct stat *st, struct perr *e)
{
	char *d = display_name(path);
	int rc = 0;
	if (st->st_uid != getuid())
		rc = perr_fail(e, FC_CONFIG, "%s: contains a password but is not owned by you", d);
	else if (st->st_mode & 077)
		rc = perr_fail(e, FC_CONFIG, "%s: contains a password but is accessible by others (chmod 600 %s)", d, d);
	free(d);
	return rc;
}

/* What conf_load read and looked at: the --pretend lines (as msmtp
 * prints them), the files read and every path tried. */
struct loadlog {
	struct buf used, files, searched;
};

static void log_path(struct buf *b, const char *path)
{
	buf_printf(b, "%s%s", b->len ? ", " : "", path);
}

/* Nonzero when a holds a secret or a command that prints one. */
static int has_secret(const struct account *a)
{
	for (size_t k = 0; k < NKW; k++)
		if ((kwtab[k].flags & (KF_SECRET | KF_SECRET_CMD)) && str_of(a, k))
			return 1;
	return 0;
}

/* The accounts of the system file; sealed: the caller cannot read it. */
static void mark_system(struct config *c, int sealed)
{
	for (size_t i = 0; i < c->nacc; i++) {
		struct account *a = c->acc[i];
		a->system = 1;
		a->sealed = sealed && has_secret(a);
		if (!a->sealed)
			a->eval_sealed = 0;
	}
}

/* An error at line of a system file the caller cannot read: its text
 * may quote the file (a secret, an eval command), so only where it is. */
static int hide_error(const char *path, int line, struct perr *e)
{
	struct stat st;
	char *g = stat(path, &st) == 0 ? group_name(st.st_gid) : xstrdup("postie");
	perr_fail(e, FC_CONFIG, "%s:%d: an error in the system file, which you cannot read (root and "
	          "group %s see what it is with postie --pretend)", path, line, g);
	free(g);
	return EX_CONFIG;
}

/* Parse path's text b into cfg. st: the file's (the user file's check);
 * sealed: a system file the caller cannot read. 1 when loaded, -1 on
 * error. */
static int load_text(const char *path, const char *kind, const struct buf *b, const struct stat *st,
                     int sealed, struct config *cfg, struct loadlog *lg, struct perr *e)
{
	struct config tmp;
	int line, rc;
	memset(&tmp, 0, sizeof tmp);
	rc = parse_text(path, b->s ? b->s : "", b->len, sealed, &tmp, &line, e);
	if (rc && sealed)
		hide_error(path, line, e);
	if (rc == 0 && strcmp(kind, "user") == 0 && tmp.has_password_file)
		rc = check_private(path, st, e);
	if (rc) {
		config_free(&tmp);
		return -1;
	}
	if (strcmp(kind, "system") == 0)
		mark_system(&tmp, sealed);
	config_merge(cfg, &tmp);
	buf_printf(&lg->used, "loaded %s configuration file %s\n", kind, path);
	log_path(&lg->files, path);
	return 1;
}

/* Load one file into cfg. Returns 1 when loaded, 0 when it does not exist
 * (need 0), -1 on error. kind is "system" or "user". */
static int load_one(const char *path, const char *kind, int need, struct config *cfg,
                    struct loadlog *lg, struct perr *e)
{
	struct buf b;
	struct stat st;
	int rc;

	buf_init(&b);
	log_path(&lg->searched, path);
	rc = read_file(path, kind, need, &b, &st, e);
	if (rc == 1)
		buf_printf(&lg->used, "ignoring %s configuration file %s: %s\n", kind, path, strerror(ENOENT));
	rc = rc == 0 ? load_text(path, kind, &b, &st, 0, cfg, lg, e) : rc == 1 ? 0 : -1;
	buf_free(&b);
	return rc;
}

/* The places searched when no file is named, in order; --version prints
 * them. Within a kind, the first file that exists is read. */
static const struct conf_place places[] = {
	{ "system", "/etc/postierc", 0 },
	{ "system", "/etc/msmtprc", 1 },
	{ "user", "$XDG_CONFIG_HOME/postie/config", 0 },
	{ "user", "~/.postierc", 0 },
	{ "user", "~/.msmtprc", 1 },
	{ "user", "$XDG_CONFIG_HOME/msmtp/config", 1 },
};

#define NPLACE (sizeof places / sizeof places[0])

const struct conf_place *conf_place(size_t i)
{
	return i < NPLACE ? &places[i] : NULL;
}

/* A place's path with $XDG_CONFIG_HOME (~/.config unless it holds an
 * absolute path) and ~ expanded. */
static char *place_path(const char *path)
{
	static const char xdg_var[] = "$XDG_CONFIG_HOME";
	const char *x = getenv("XDG_CONFIG_HOME");
	if (strncmp(path, xdg_var, sizeof xdg_var - 1) != 0)
		return expand_tilde(path);
	path += sizeof xdg_var - 1;
	if (x && x[0] == '/')
		return xasprintf("%s%s", x, path);
	char *home_cfg = expand_tilde("~/.config"), *r = xasprintf("%s%s", home_cfg, path);
	free(home_cfg);
	return r;
}

/* The first file of kind's places that exists. */
static int load_places(const char *kind, struct config *cfg, struct loadlog *lg, struct perr *e)
{
	int rc = 0;
	for (size_t i = 0; i < NPLACE && rc == 0; i++) {
		if (strcmp(places[i].kind, kind) != 0)
			continue;
		char *path = place_path(places[i].path);
		rc = load_one(path, kind, 0, cfg, lg, e);
		free(path);
	}
	return rc < 0;
}

/* The system file of a privileged start, as conf_system_open and
 * conf_system_read found it. */
static struct {
	int taken;          /* conf_system_open ran: the text below is the system file */
	int fd;             /* open from conf_system_open to conf_system_read */
	const char *path;   /* the place opened or refused; NULL: none exists */
	int err;            /* why it could not be opened or read; 0: text holds it */
	int caller_reads;   /* the real user may read it without the group */
	struct buf text;
} sysfile = { 0, -1, NULL, 0, 0, { NULL, 0, 0 } };

void conf_system_open(void)
{
	sysfile.taken = 1;
	for (size_t i = 0; i < NPLACE && !sysfile.path; i++) {
		if (strcmp(places[i].kind, "system") != 0)
			continue;
		int fd = open(places[i].path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
		if (fd < 0 && (errno == ENOENT || errno == ENOTDIR))
			continue;
		sysfile.path = places[i].path;
		sysfile.fd = fd;
		sysfile.err = fd < 0 ? errno : 0;
		/* access(2) checks the real ids: what the caller could read alone */
		sysfile.caller_reads = access(places[i].path, R_OK) == 0;
	}
}

void conf_system_read(void)
{
	buf_init(&sysfile.text);
	if (sysfile.fd < 0)
		return;
	sysfile.err = read_all(sysfile.fd, &sysfile.text);
	close(sysfile.fd);
	sysfile.fd = -1;
}

/* The system file that conf_system_open took: 1 loaded, 0 none, -1 error. */
static int load_taken(struct config *cfg, struct loadlog *lg, struct perr *e)
{
	for (size_t i = 0; i < NPLACE; i++) {
		const char *path = places[i].path;
		if (strcmp(places[i].kind, "system") != 0)
			continue;
		log_path(&lg->searched, path);
		if (!sysfile.path || strcmp(path, sysfile.path) != 0) {
			buf_printf(&lg->used, "ignoring system configuration file %s: %s\n", path, strerror(ENOENT));
			continue;
		}
		if (sysfile.err == EACCES)
			system_denied(path, e);
		else if (sysfile.err == EFBIG)
			perr_fail(e, FC_CONFIG, "%s: file too large", path);
		else if (sysfile.err)
			perr_fail(e, FC_CONFIG, "cannot read %s: %s", path, strerror(sysfile.err));
		if (sysfile.err)
			return -1;
		return load_text(path, "system", &sysfile.text, NULL, !sysfile.caller_reads, cfg, lg, e);
	}
	return 0;
}

/* The system file: p->system_file, else $POSTIE_SYSTEM_CONFIG (used by the
 * tests; not after a privileged start), else the system places; after a
 * privileged start, the one it took. A missing one is fine. */
static int load_system(const struct conf_paths *p, struct config *cfg, struct loadlog *lg, struct perr *e)
{
	const char *f = p->system_file;
	if (p->no_system)
		return 0;
	if (sysfile.taken)
		return load_taken(cfg, lg, e) < 0;
	if (!f && (f = env_get("POSTIE_SYSTEM_CONFIG")) && !*f)
		f = NULL;
	if (f)
		return load_one(f, "system", 0, cfg, lg, e) < 0;
	return load_places("system", cfg, lg, e);
}

/* -C FILE (which must exist), else the user places. */
static int load_user(const struct conf_paths *p, struct config *cfg, struct loadlog *lg, struct perr *e)
{
	if (p->user_file)
		return load_one(p->user_file, "user", 1, cfg, lg, e) < 0;
	return load_places("user", cfg, lg, e);
}

static char *steal_or_null(struct buf *b)
{
	if (b->len)
		return buf_steal(b);
	buf_free(b);
	return NULL;
}

int conf_load(const struct conf_paths *p, struct config *cfg, char **used_files, struct perr *e)
{
	struct loadlog lg;
	int rc;
	memset(cfg, 0, sizeof *cfg);
	if (used_files)
		*used_files = NULL;
	buf_init(&lg.used);
	buf_init(&lg.files);
	buf_init(&lg.searched);
	rc = load_system(p, cfg, &lg, e) || load_user(p, cfg, &lg, e) || conf_link(cfg, e);
	if (rc) {
		config_free(cfg);
	} else {
		if (used_files)
			*used_files = buf_steal(&lg.used);
		cfg->files = steal_or_null(&lg.files);
		cfg->searched = steal_or_null(&lg.searched);
	}
	buf_free(&lg.used);
	buf_free(&lg.files);
	buf_free(&lg.searched);
	return rc ? e->ex : 0;
}

/* Account name not found (NULL: no account chosen and no "default"):
 * the message names the files read and the accounts they define, or the
 * paths searched when there was no file. */
int conf_not_found(const struct config *cfg, const char *name, struct perr *e)
{
	struct buf m;
	size_t i;
	buf_init(&m);
	if (name) {
		char *s = show(name);
		buf_printf(&m, "account '%s' not found", s);
		free(s);
	}
	if (!cfg->files) {
		buf_printf(&m, "%sno configuration file found%s (searched %s); see postierc(5)", name ? ": " : "",
		           name ? "" : " and no --host given", cfg->searched ? cfg->searched : "nothing");
	} else {
		if (!name)
			buf_adds(&m, "no account chosen and no account 'default'");
		buf_printf(&m, " in %s; accounts:", cfg->files);
		for (i = 0; i < cfg->nacc && m.len < 600; i++) {
			char *s = show(cfg->acc[i]->name);
			buf_printf(&m, "%s %s", i ? "," : "", s);
			free(s);
		}
		if (i < cfg->nacc)
			buf_printf(&m, ", ... (%zu more)", cfg->nacc - i);
		buf_adds(&m, cfg->nacc ? "" : " (none)");
		buf_adds(&m, name ? "" : "; use -a NAME");
	}
	perr_fail(e, FC_CONFIG, "%s", m.s);
	buf_free(&m);
	return EX_CONFIG;
}

/* ---- selection by envelope-from ---- */

static int from_matches(const char *pat, const char *addr)
{
	if (!pat || !*pat)
		return 0;
	if (strpbrk(pat, "?*["))
		return fnmatch(pat, addr, FNM_CASEFOLD) == 0;
	return ascii_casecmp(pat, addr) == 0;
}

struct account *conf_find_by_from(const struct config *cfg, const char *addr)
{
	char *base = addr_strip_detail(addr);
	struct account *found = NULL;
	for (size_t i = 0; i < cfg->nacc && !found; i++) {
		const char *f = cfg->acc[i]->from;
		if (from_matches(f, addr) || (base && from_matches(f, base)))
			found = cfg->acc[i];
	}
	free(base);
	return found;
}

/* ---- finishing ---- */

/* First line of /etc/mailname ($POSTIE_MAILNAME_FILE in the tests). */
static char *read_mailname(const struct account *a, const char *what, struct perr *e)
{
	const char *path = env_get("POSTIE_MAILNAME_FILE");
	char *line = NULL, *t;
	size_t cap = 0, n;
	FILE *f;

	if (!path || !*path)
		path = "/etc/mailname";
	if (!(f = fopen(path, "re"))) {
		perr_fail(e, FC_CONFIG, "account %s: cannot substitute %%M in %s: cannot read %s: %s",
		         a->name, what, path, strerror(errno));
		return NULL;
	}
	if (getline(&line, &cap, f) < 0) {
		free(line);
		line = NULL;
	}
	fclose(f);
	n = line ? strcspn(line, "\r\n") : 0;
	if (line)
		line[n] = '\0';
	t = line ? trim(line) : NULL;
	if (!t || !*t) {
		free(line);
		perr_fail(e, FC_CONFIG, "account %s: cannot substitute %%M in %s: %s is empty", a->name, what, path);
		return NULL;
	}
	memmove(line, t, strlen(t) + 1);
	return line;
}

/* %U user, %H host name, %C canonical host name, %M mailname, %% percent. */
static int substitute(const struct account *a, char **field, const char *what, struct perr *e)
{
	struct buf b;
	const char *s = *field;
	if (!s || !strchr(s, '%'))
		return 0;
	buf_init(&b);
	for (; *s; s++) {
		char *r = NULL;
		if (*s != '%' || !s[1] || !strchr("UHCM%", s[1])) {
			buf_addc(&b, *s);
			continue;
		}
		switch (*++s) {
		case 'U': r = user_name(); break;
		case 'H': r = host_name(); break;
		case 'C': r = host_canonical(); break;
		case 'M': r = read_mailname(a, what, e); break;
		default: r = xstrdup("%"); break;
		}
		if (!r) {
			buf_free(&b);
			return e->ex;
		}
		buf_adds(&b, r);
		free(r);
	}
	free_str(*field);
	*field = b.len ? buf_steal(&b) : NULL;
	buf_free(&b);
	return 0;
}

/* A client certificate comes with its key. */
static int cert_pair(const struct account *a, struct perr *e)
{
	if (a->tls_key_file && !a->tls_cert_file)
		return perr_fail(e, FC_CONFIG, "account %s: tls_key_file requires tls_cert_file", a->name);
	if (a->tls_cert_file && !a->tls_key_file)
		return perr_fail(e, FC_CONFIG, "account %s: tls_cert_file requires tls_key_file", a->name);
	return 0;
}

static int tls_checks(const struct account *a, struct perr *e)
{
	if (cert_pair(a, e))
		return e->ex;
	if (a->tls_crl_file && !a->tls_trust_file)
		return perr_fail(e, FC_CONFIG, "account %s: tls_crl_file requires tls_trust_file", a->name);
	int required = a->tls == TLS_ON || (a->tls == TLS_UNSET && !a->tls_starttls);
	if (required && a->tls_certcheck && !a->tls_trust_file && !a->tls_fingerprint)
		return perr_fail(e, FC_CONFIG, "account %s: tls needs tls_trust_file, tls_fingerprint "
		                "or tls_certcheck off to check the server", a->name);
	return 0;
}

/* Where to tell the user to set something. */
static int missing(const struct account *a, const char *kw, struct perr *e)
{
	char *d = display_name(a->file ? a->file : "the configuration");
	char *opt = xstrdup(kw);
	for (char *p = opt; *p; p++)
		if (*p == '_')
			*p = '-';
	perr_fail(e, FC_CONFIG, "account %s: no %s given (set '%s' in %s or use --%s)", a->name, kw, kw, d, opt);
	free(opt);
	free(d);
	return EX_CONFIG;
}

/* Settings this version cannot honour: refused rather than connect
 * without them. */
static int refuse_unsupported(const struct account *a, struct perr *e)
{
	const char *where = a->file ? a->file : "the command line";
	if (a->proxy_host)
		return perr_fail(e, FC_EXTENSION, "account '%s' (%s) asks for a SOCKS proxy, which this "
		                "version of postie cannot use yet; refusing to connect directly", a->name, where);
	return 0;
}

/* What a sealed account's secret is, for messages. */
static const char *secret_kind(const struct account *a)
{
	return a->password || a->passwordeval ? "password" : "OAuth2 client secret";
}

/* A sealed account that cannot keep its secret from the caller: OAuth2
 * (the tokens live in the caller's files), or an eval line of the system
 * file (run as the caller) that decides where the secret goes. */
static int refuse_sealed(const struct account *a, struct perr *e)
{
	if (!a->sealed)
		return 0;
	if (a->oauth_provider)
		return perr_fail(e, FC_PERMISSION, "account '%s': its %s comes from %s, which you cannot "
		                 "read, but OAuth2 tokens would be kept in your files; only root and the "
		                 "file's group may use it", a->name, secret_kind(a), a->file);
	if (a->eval_sealed)
		return perr_fail(e, FC_PERMISSION, "account '%s': its %s comes from %s, which you cannot "
		                 "read, and an eval line there, which runs as you, sets %s; refusing to let "
		                 "it decide where the %s goes", a->name, secret_kind(a), a->file,
		                 kwtab[a->eval_sealed - 1].pub.name, secret_kind(a));
	return 0;
}

static int refuse_at_connect(const struct account *a, struct perr *e)
{
	return refuse_unsupported(a, e) || refuse_sealed(a, e) ? e->ex : 0;
}

static int same_value(const struct account *a, const struct account *b, size_t k)
{
	if (!is_str_type(kwtab[k].type))
		return int_of(a, k) == int_of(b, k);
	const char *x = str_of(a, k), *y = str_of(b, k);
	return x == y || (x && y && strcmp(x, y) == 0);
}

int conf_seal_check(const struct account *before, const struct account *after, const char *where,
                    struct perr *e)
{
	if (!before->sealed)
		return 0;
	for (size_t k = 0; k < NKW; k++)
		if ((kwtab[k].flags & KF_SEALED) && kw_owns(k) && !same_value(before, after, k))
			return perr_fail(e, FC_PERMISSION, "account '%s' has its %s from %s, which you cannot "
			                 "read; %s may not change where it is sent or what protects it (%s)",
			                 before->name, secret_kind(before), before->file, where, kwtab[k].pub.name);
	return 0;
}

/* Substitutions, defaults that depend on other settings, and checks. */
/* Whether keyword name was set explicitly in a. */
static int was_set(const struct account *a, const char *name)
{
	size_t k = 0;
	return kw_find(name, &k) && a->isset[k];
}

/* The provider's value for an unset URL ("%s" is the tenant). */
static void preset_url(char **field, const char *fmt, const char *tenant)
{
	if (!*field && fmt)
		*field = xasprintf(fmt, tenant);
}

/* $XDG_STATE_HOME/postie/oauth/NAME.json, ~/.local/state/... without it. */
static char *default_token_file(const char *name)
{
	const char *x = getenv("XDG_STATE_HOME");
	char *base = x && *x == '/' ? xstrdup(x) : expand_tilde("~/.local/state");
	char *p = xasprintf("%s/postie/oauth/%s.json", base, name);
	free(base);
	return p;
}

/* OAuth settings that cannot work together. */
static int oauth_conflicts(const struct account *a, const struct oauth_preset *p, struct perr *e)
{
	const char *n = a->name;
	if (!a->oauth_client_id)
		return perr_fail(e, FC_CONFIG, "account %s: oauth_provider %s needs oauth_client_id (the ID "
		                 "of the application you registered; see postierc(5))", n, p->name);
	if (a->oauth_client_secret && a->oauth_client_secret_eval)
		return perr_fail(e, FC_CONFIG, "account %s: set oauth_client_secret or "
		                 "oauth_client_secret_eval, not both", n);
	if (strcmp(a->oauth_flow, "device") == 0 && !p->device_ok)
		return perr_fail(e, FC_CONFIG, "account %s: Google does not allow the Gmail scope in the "
		                 "device flow; use oauth_flow authcode", n);
	if (strcmp(a->oauth_flow, "client_credentials") == 0 && !a->oauth_client_secret &&
	    !a->oauth_client_secret_eval)
		return perr_fail(e, FC_CONFIG, "account %s: oauth_flow client_credentials needs "
		                 "oauth_client_secret or oauth_client_secret_eval", n);
	if (was_set(a, "oauth_tenant") && strcmp(p->name, "microsoft") != 0)
		return perr_fail(e, FC_CONFIG, "account %s: oauth_tenant is for oauth_provider microsoft", n);
	if (a->auth && ascii_casecmp(a->auth, "xoauth2") != 0 && ascii_casecmp(a->auth, "oauthbearer") != 0)
		return perr_fail(e, FC_CONFIG, "account %s: auth %s does not use OAuth2 tokens; with "
		                 "oauth_provider set, auth is xoauth2 or oauthbearer", n, a->auth);
	if (!a->auth && was_set(a, "auth"))
		return perr_fail(e, FC_CONFIG, "account %s: auth off contradicts oauth_provider", n);
	return 0;
}

/* The endpoints the flow needs must be known. */
static int oauth_needs(const struct account *a, struct perr *e)
{
	const char *missing = !a->oauth_token_url ? "oauth_token_url"
	                    : !a->oauth_scope ? "oauth_scope"
	                    : strcmp(a->oauth_flow, "authcode") == 0 && !a->oauth_auth_url ? "oauth_auth_url"
	                    : strcmp(a->oauth_flow, "device") == 0 && !a->oauth_device_url ? "oauth_device_url"
	                    : NULL;
	if (missing)
		return perr_fail(e, FC_CONFIG, "account %s: oauth_provider %s with oauth_flow %s needs %s",
		                 a->name, a->oauth_provider, a->oauth_flow, missing);
	return 0;
}

/* oauth_provider set: the preset fills what is unset, then the checks. */
static int oauth_finish(struct account *a, struct perr *e)
{
	if (!a->oauth_provider)
		return 0;
	const struct oauth_preset *p = oauth_preset(a->oauth_provider);
	const char *tenant = a->oauth_tenant ? a->oauth_tenant : "common";
	if (!a->oauth_flow)
		a->oauth_flow = xstrdup(p->flow);
	if (a->auth && ascii_casecmp(a->auth, "on") == 0)
		set_str(&a->auth, "xoauth2");
	if (oauth_conflicts(a, p, e))
		return e->ex;
	preset_url(&a->oauth_auth_url, p->auth_url, tenant);
	preset_url(&a->oauth_token_url, p->token_url, tenant);
	preset_url(&a->oauth_device_url, p->device_url, tenant);
	if (!a->oauth_scope) {
		const char *s = strcmp(a->oauth_flow, "client_credentials") == 0 ? p->app_scope : p->scope;
		a->oauth_scope = s ? xstrdup(s) : NULL;
	}
	if (!a->oauth_token_file)
		a->oauth_token_file = default_token_file(a->name);
	if (!a->auth)
		a->auth = xstrdup("xoauth2");
	if (!a->user && a->from)   /* the mailbox the token is for */
		a->user = xstrdup(a->from);
	return oauth_needs(a, e);
}

char *conf_queue_dir_default(void)
{
	const char *x = getenv("XDG_STATE_HOME");
	if (geteuid() == 0)
		return xstrdup("/var/spool/postie");
	char *base = x && *x == '/' ? xstrdup(x) : expand_tilde("~/.local/state");
	char *p = xasprintf("%s/postie/queue", base);
	free(base);
	return p;
}

/* An EHLO name that an MX host can check (RFC 5321 4.1.4: the client's
 * fully qualified domain name): a dot, not an address, not localhost. */
static int fqdn(const char *d)
{
	unsigned char buf[16];
	return strchr(d, '.') && d[strlen(d) - 1] != '.' && *d != '[' &&
	       inet_pton(AF_INET, d, buf) != 1 && inet_pton(AF_INET6, d, buf) != 1 &&
	       ascii_ncasecmp(d, "localhost.", 10) != 0;
}

/* delivery mx: STARTTLS on port 25 (or port) of each MX host, SMTP, and
 * an EHLO name the MX hosts can check; host and socket are not used. */
static int mx_settings(struct account *a, struct perr *e)
{
	if (!fqdn(a->domain))
		return perr_fail(e, FC_CONFIG, "account %s: delivery mx needs 'domain' set to this host's "
		                 "fully qualified name (the EHLO name MX hosts check), not '%s'", a->name,
		                 a->domain);
	if (a->protocol == PROTO_LMTP || a->socket)
		return perr_fail(e, FC_CONFIG, "account %s: delivery mx speaks SMTP to the MX hosts; "
		                 "protocol lmtp and socket are for delivery smarthost", a->name);
	if (a->tls_starttls == 0)
		return perr_fail(e, FC_CONFIG, "account %s: delivery mx uses STARTTLS on port 25 "
		                 "(MX hosts have no implicit TLS); remove 'tls_starttls off'", a->name);
	a->tls_starttls = 1;
	if (!a->port)
		a->port = 25;
	return 0;
}

static int finish_settings(struct account *a, struct perr *e)
{
	if (a->auto_from) {
		free_str(a->from);
		a->from = a->maildomain && *a->maildomain ? xasprintf("%%U@%s", a->maildomain) : xstrdup("%U");
	}
	if (substitute(a, &a->from, "from", e) || substitute(a, &a->domain, "domain", e))
		return e->ex;
	if (!a->domain) {
		a->domain = host_canonical();
		if (!strchr(a->domain, '.'))
			set_str(&a->domain, "localhost");
	}
	int mx = a->delivery == DELIVERY_MX;
	if (mx && mx_settings(a, e))
		return e->ex;
	if (!a->host && !a->socket && !mx)
		return missing(a, "host", e);
	/* tls_starttls not set: "port 465" means implicit TLS (RFC 8314),
	 * unless tls is off; otherwise STARTTLS. */
	if (a->tls_starttls < 0)
		a->tls_starttls = !(a->port == 465 && a->tls != TLS_OFF);
	if (!a->port && a->protocol == PROTO_SMTP)
		a->port = a->tls != TLS_OFF && !a->tls_starttls ? 465 : 25;
	/* LMTP has no default port (as in msmtp), except over a socket. */
	if (!a->port && !a->socket)
		return missing(a, "port", e);
	if (a->system && a->queue_dir && process_privileged() && getuid() != 0) {
		/* root's spool, or another user's: this caller's own queue */
		log_info("account %s: a setgid start queues in your own queue, not in the system file's "
		         "queue_dir %s", a->name, a->queue_dir);
		free_str(a->queue_dir);
		a->queue_dir = NULL;
	}
	if (!a->queue_dir)
		a->queue_dir = conf_queue_dir_default();
	/* MX hosts' certificates are not checked against a CA (mx.c) */
	return (mx ? cert_pair(a, e) : tls_checks(a, e)) ? e->ex : oauth_finish(a, e);
}

/* A failure of fallback account f of a: the message says whose it is. */
static int fallback_failed(const struct account *a, const struct account *f, struct perr *e)
{
	char msg[sizeof e->msg];
	snprintf(msg, sizeof msg, "%s", e->msg);
	snprintf(e->msg, sizeof e->msg, "%.700s (account '%s' is a fallback_account of account '%s')",
	         msg, f->name, a->name);
	return e->ex;
}

/* The fallback accounts, finished as a is; use CONF_CONNECT also
 * refuses what they cannot honour. */
static int finish_fallbacks(struct account *a, enum conf_use use, struct perr *e)
{
	if (a->nfallback && a->delivery == DELIVERY_MX)
		return perr_fail(e, FC_CONFIG, "account %s: delivery mx cannot have fallback_account (%s); "
		                 "fallback accounts are for delivery smarthost", a->name, a->fallback_account);
	for (size_t i = 0; i < a->nfallback; i++) {
		struct account *f = a->fallback[i];
		if (finish_settings(f, e) || (use == CONF_CONNECT && refuse_at_connect(f, e)))
			return fallback_failed(a, f, e);
	}
	return 0;
}

int conf_finish(struct account *a, enum conf_use use, struct perr *e)
{
	if (finish_settings(a, e))
		return e->ex;
	if (use == CONF_SHOW)
		return finish_fallbacks(a, use, e);
	log_info("using account '%s' from %s", a->name, a->file ? a->file : "the command line");
	return refuse_at_connect(a, e) ? e->ex : finish_fallbacks(a, use, e);
}

/* ---- printing ---- */

static const char *int_text(int type, int v, char num[32])
{
	static const char *const hdr[] = { "off", "auto", "on" };
	if (type == K_TIMEOUT && v == 0)
		return "off";
	switch (type) {
	case K_TIMEOUT:
	case K_PORT:
	case K_PORT_OPT:
	case K_DHBITS:
	case K_LIMIT:
		if (v <= 0)
			return "(not set)";
		snprintf(num, 32, "%d", v);
		return num;
	case K_PORT_ANY:
		snprintf(num, 32, "%d", v);
		return num;
	case K_QUEUE:
		return v == QUEUE_ALWAYS ? "always" : v == QUEUE_TEMPFAIL ? "tempfail" : "off";
	case K_DURATION:   /* in the largest unit that divides it */
		snprintf(num, 32, "%d%s", v % 86400 == 0 ? v / 86400 : v % 3600 == 0 ? v / 3600
		         : v % 60 == 0 ? v / 60 : v, v % 86400 == 0 ? "d" : v % 3600 == 0 ? "h"
		         : v % 60 == 0 ? "m" : "s");
		return num;
	case K_PROTOCOL:
		return v == PROTO_LMTP ? "lmtp" : "smtp";
	case K_DELIVERY:
		return v == DELIVERY_MX ? "mx" : "smarthost";
	case K_HDR3:
	case K_HDR2:
		return v >= HDR_OFF && v <= HDR_ON ? hdr[v] : "(not set)";
	}
	return v < 0 ? "(not set)" : v ? "on" : "off";
}

void conf_print(const struct account *a, FILE *out)
{
	char num[32];
	char *d = display_name(a->file ? a->file : "command line");

	fprintf(out, "account = %s\n", a->name ? a->name : "");
	if (a->line > 0)
		fprintf(out, "loaded from = %s:%d\n", d, a->line);
	else
		fprintf(out, "loaded from = %s\n", d);
	free(d);
	for (size_t k = 0; k < NKW; k++) {
		const char *v;
		if (!kw_owns(k))
			continue;
		if (!is_str_type(kwtab[k].type))
			v = int_text(kwtab[k].type, int_of(a, k), num);
		else if (!(v = str_of(a, k)))
			v = "(not set)";
		else if ((kwtab[k].flags & KF_SECRET) || ((kwtab[k].flags & KF_SECRET_CMD) && a->sealed))
			v = "*";
		fprintf(out, "%s = %s\n", kwtab[k].pub.name, v);
	}
	for (size_t i = 0; i < a->nfallback; i++) {
		const struct account *f = a->fallback[i];
		if (f->socket)
			fprintf(out, "fallback account %s = socket %s\n", f->name, f->socket);
		else
			fprintf(out, "fallback account %s = %s port %s\n", f->name, f->host ? f->host : "(not set)",
			        int_text(K_PORT, f->port, num));
	}
}
