/* t-conf.c - unit tests for the configuration parser (conf.c). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conf.h"
#include "util.h"

#include "tap.h"

static int parse(const char *text, struct config *cfg, struct perr *e)
{
	memset(cfg, 0, sizeof *cfg);
	perr_clear(e);
	return conf_parse_buf("t.rc", text, strlen(text), cfg, e);
}

static char *print_of(const struct account *a)
{
	char *s = NULL;
	size_t n = 0;
	FILE *f = open_memstream(&s, &n);
	conf_print(a, f);
	fclose(f);
	return s;
}

/* The line of out that starts with "keyword = ", or NULL. */
static char *line_for(const char *out, const char *keyword)
{
	size_t kl = strlen(keyword);
	for (const char *p = out; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
		if (strncmp(p, keyword, kl) == 0 && strncmp(p + kl, " = ", 3) == 0)
			return xstrndup(p, strcspn(p, "\n"));
	return NULL;
}

/* Every "keyword = value" line of want must be in a's printout. */
static void check_lines(const char *desc, const struct account *a, const char *want)
{
	char *out = print_of(a), *w = xstrdup(want), *save = NULL;
	for (char *l = strtok_r(w, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		const char *eq = strstr(l, " = ");
		char *kw = xstrndup(l, eq ? (size_t)(eq - l) : strlen(l));
		char *got = line_for(out, kw);
		if (!got || strcmp(got, l) != 0) {
			check(desc, 0, got, l);
			free(got);
			free(kw);
			free(w);
			free(out);
			return;
		}
		free(got);
		free(kw);
	}
	check(desc, 1, NULL, NULL);
	free(w);
	free(out);
}

/* ---- table of config snippets ---- */

struct pcase {
	const char *desc;
	const char *conf;
	const char *acc;     /* account to inspect */
	int finish;          /* run conf_finish on it */
	const char *want;    /* "keyword = value" lines, or NULL */
	const char *err;     /* expected error message, or NULL */
};

static const struct pcase pcases[] = {
	{ "basic account", "account a\nhost mail.example.org\nport 587\n", "a", 0,
	  "account = a\nloaded from = t.rc:1\nhost = mail.example.org\nport = 587\ntimeout = (not set)", NULL },
	{ "comments, blank lines, tabs, trailing blanks", "  # comment\n\n\t\naccount a\n\thost\th  \t\n#port 9\n", "a", 0,
	  "host = h\nport = (not set)", NULL },
	{ "CRLF line ends", "account a\r\nhost h\r\nport 26\r\n", "a", 0, "host = h\nport = 26", NULL },
	{ "UTF-8 byte order mark", "\xef\xbb\xbf" "account a\nhost h\n", "a", 0, "host = h", NULL },
	{ "last line without newline", "account a\nhost h", "a", 0, "host = h", NULL },
	{ "unknown keyword", "account a\nhost h\nhots x\n", NULL, 0, NULL, "t.rc:3: unknown keyword 'hots' (did you mean 'host'?)" },
	{ "unknown keyword: transposition", "account a\nprot 25\n", NULL, 0, NULL, "t.rc:2: unknown keyword 'prot' (did you mean 'port'?)" },
	{ "unknown keyword: letter missing", "account a\ntls_startls on\n", NULL, 0, NULL,
	  "t.rc:2: unknown keyword 'tls_startls' (did you mean 'tls_starttls'?)" },
	{ "unknown keyword: two edits", "account a\npasswrdevl x\n", NULL, 0, NULL,
	  "t.rc:2: unknown keyword 'passwrdevl' (did you mean 'passwordeval'?)" },
	{ "unknown keyword: short word, one edit", "account a\nusr joe\n", NULL, 0, NULL,
	  "t.rc:2: unknown keyword 'usr' (did you mean 'user'?)" },
	{ "unknown keyword: short word, letter missing", "account a\nhst h\n", NULL, 0, NULL,
	  "t.rc:2: unknown keyword 'hst' (did you mean 'host'?)" },
	{ "unknown keyword: short word, two edits is too far", "account a\nhxsx h\n", NULL, 0, NULL, "t.rc:2: unknown keyword 'hxsx'" },
	{ "unknown keyword: nothing close", "account a\nhostname h\n", NULL, 0, NULL, "t.rc:2: unknown keyword 'hostname'" },
	{ "unknown keyword: nothing close to a short word", "account a\nzz h\n", NULL, 0, NULL, "t.rc:2: unknown keyword 'zz'" },
	{ "unknown keyword: a long word", "account a\naaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa h\n", NULL, 0, NULL,
	  "t.rc:2: unknown keyword 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa'" },
	{ "keywords are case-sensitive", "account a\nHost h\n", NULL, 0, NULL, "t.rc:2: unknown keyword 'Host' (did you mean 'host'?)" },
	{ "setting before any account", "host h\naccount a\n", NULL, 0, NULL,
	  "t.rc:1: 'host' must follow an 'account' or 'defaults' line" },
	{ "defaults takes no argument", "defaults x\n", NULL, 0, NULL, "t.rc:1: 'defaults' takes no argument" },
	{ "account without name", "account\n", NULL, 0, NULL, "t.rc:1: missing account name" },
	{ "account with only parents", "account a\nhost h\naccount : a\n", NULL, 0, NULL, "t.rc:3: missing account name" },
	{ "empty parent name", "account a\nhost h\naccount b : a,\n", NULL, 0, NULL, "t.rc:3: missing account name" },
	{ "undefined parent", "account a : b\nhost h\n", NULL, 0, NULL, "t.rc:1: account 'b' is not defined (yet)" },
	{ "parent defined later", "account a : b\naccount b\nhost h\n", NULL, 0, NULL, "t.rc:1: account 'b' is not defined (yet)" },
	{ "account defined twice", "account a\nhost h\naccount a\n", NULL, 0, NULL, "t.rc:3: account 'a' was already defined at line 1" },
	/* ports */
	{ "port not a number", "account a\nport x\n", NULL, 0, NULL, "t.rc:2: invalid port 'x' (1-65535)" },
	{ "port 0", "account a\nport 0\n", NULL, 0, NULL, "t.rc:2: invalid port '0' (1-65535)" },
	{ "port 65536", "account a\nport 65536\n", NULL, 0, NULL, "t.rc:2: invalid port '65536' (1-65535)" },
	{ "port with sign", "account a\nport +25\n", NULL, 0, NULL, "t.rc:2: invalid port '+25' (1-65535)" },
	{ "port huge", "account a\nport 99999999999999999999999\n", NULL, 0, NULL,
	  "t.rc:2: invalid port '99999999999999999999999' (1-65535)" },
	{ "port without argument", "account a\nport\n", NULL, 0, NULL, "t.rc:2: 'port' needs an argument" },
	{ "port 65535", "account a\nport 65535\n", "a", 0, "port = 65535", NULL },
	{ "proxy_port 0", "account a\nproxy_port 0\n", NULL, 0, NULL, "t.rc:2: invalid proxy_port '0' (1-65535)" },
	{ "proxy_port empty resets", "account a\nproxy_port 1080\nproxy_port\n", "a", 0, "proxy_port = (not set)", NULL },
	{ "proxy_host and proxy_port", "account a\nproxy_host 127.0.0.1\nproxy_port 9050\n", "a", 0,
	  "proxy_host = 127.0.0.1\nproxy_port = 9050", NULL },
	/* timeout, protocol */
	{ "timeout 0", "account a\ntimeout 0\n", NULL, 0, NULL, "t.rc:2: invalid timeout '0' (off or seconds)" },
	{ "timeout -1", "account a\ntimeout -1\n", NULL, 0, NULL, "t.rc:2: invalid timeout '-1' (off or seconds)" },
	{ "timeout 12x", "account a\ntimeout 12x\n", NULL, 0, NULL, "t.rc:2: invalid timeout '12x' (off or seconds)" },
	{ "timeout without argument", "account a\ntimeout\n", NULL, 0, NULL, "t.rc:2: 'timeout' needs an argument" },
	{ "timeout off", "account a\ntimeout off\n", "a", 0, "timeout = off", NULL },
	{ "timeout 30", "account a\ntimeout 30\n", "a", 0, "timeout = 30", NULL },
	{ "protocol esmtp", "account a\nprotocol esmtp\n", NULL, 0, NULL, "t.rc:2: invalid protocol 'esmtp' (smtp or lmtp)" },
	{ "protocol lmtp", "account a\nprotocol lmtp\n", "a", 0, "protocol = lmtp", NULL },
	/* booleans */
	{ "tls maybe", "account a\ntls maybe\n", NULL, 0, NULL, "t.rc:2: invalid tls 'maybe' (on or off)" },
	{ "tls without argument is on", "account a\ntls\n", "a", 0, "tls = on", NULL },
	{ "tls unset by default", "account a\n", "a", 0, "tls = (not set)\ntls_starttls = (not set)\ntls_certcheck = on", NULL },
	{ "tls off", "account a\ntls off\n", "a", 0, "tls = off", NULL },
	{ "allow_from_override off", "account a\nallow_from_override off\n", "a", 0, "allow_from_override = off", NULL },
	{ "remove_bcc_headers without argument", "account a\nremove_bcc_headers off\nremove_bcc_headers\n", "a", 0,
	  "remove_bcc_headers = on", NULL },
	/* header settings */
	{ "set_from_header empty is auto", "account a\nset_from_header off\nset_from_header\n", "a", 0, "set_from_header = auto", NULL },
	{ "set_from_header on", "account a\nset_from_header on\n", "a", 0, "set_from_header = on", NULL },
	{ "set_from_header bad", "account a\nset_from_header yes\n", NULL, 0, NULL,
	  "t.rc:2: invalid set_from_header 'yes' (auto, on or off)" },
	{ "set_date_header on is invalid", "account a\nset_date_header on\n", NULL, 0, NULL,
	  "t.rc:2: invalid set_date_header 'on' (auto or off)" },
	{ "set_msgid_header off", "account a\nset_msgid_header off\n", "a", 0, "set_msgid_header = off", NULL },
	{ "header defaults", "account a\n", "a", 0,
	  "set_from_header = auto\nset_date_header = auto\nset_msgid_header = auto\nset_to_header = off\nremove_bcc_headers = on", NULL },
	{ "set_to_header on", "account a\nset_to_header on\n", "a", 0, "set_to_header = on", NULL },
	{ "set_to_header auto", "account a\nset_to_header auto\n", "a", 0, "set_to_header = auto", NULL },
	/* DSN */
	{ "dsn_notify never with others", "account a\ndsn_notify never,success\n", NULL, 0, NULL,
	  "t.rc:2: invalid dsn_notify 'never,success' (off, never, or a list of failure,delay,success)" },
	{ "dsn_notify with a space", "account a\ndsn_notify failure, delay\n", NULL, 0, NULL,
	  "t.rc:2: invalid dsn_notify 'failure, delay' (off, never, or a list of failure,delay,success)" },
	{ "dsn_notify twice the same", "account a\ndsn_notify failure,failure\n", NULL, 0, NULL,
	  "t.rc:2: invalid dsn_notify 'failure,failure' (off, never, or a list of failure,delay,success)" },
	{ "dsn_notify trailing comma", "account a\ndsn_notify failure,\n", NULL, 0, NULL,
	  "t.rc:2: invalid dsn_notify 'failure,' (off, never, or a list of failure,delay,success)" },
	{ "dsn_notify without argument", "account a\ndsn_notify\n", NULL, 0, NULL, "t.rc:2: 'dsn_notify' needs an argument" },
	{ "dsn_notify list, lower-cased", "account a\ndsn_notify Success,DELAY,failure\n", "a", 0,
	  "dsn_notify = success,delay,failure", NULL },
	{ "dsn_notify never", "account a\ndsn_notify never\n", "a", 0, "dsn_notify = never", NULL },
	{ "dsn_notify off", "account a\ndsn_notify never\ndsn_notify off\n", "a", 0, "dsn_notify = (not set)", NULL },
	{ "dsn_return hdrs", "account a\ndsn_return hdrs\n", "a", 0, "dsn_return = headers", NULL },
	{ "dsn_return FULL", "account a\ndsn_return FULL\n", "a", 0, "dsn_return = full", NULL },
	{ "dsn_return bad", "account a\ndsn_return body\n", NULL, 0, NULL,
	  "t.rc:2: invalid dsn_return 'body' (off, headers or full)" },
	/* TLS values */
	{ "tls_fingerprint too short", "account a\ntls_fingerprint 00:11\n", NULL, 0, NULL,
	  "t.rc:2: invalid tls_fingerprint '00:11' (16, 20 or 32 hex bytes as 01:AB:...)" },
	{ "tls_fingerprint not hex", "account a\ntls_fingerprint 00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FG\n", NULL, 0, NULL,
	  "t.rc:2: invalid tls_fingerprint '00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FG' (16, 20 or 32 hex bytes as 01:AB:...)" },
	{ "tls_fingerprint MD5 upper-cased", "account a\ntls_fingerprint 00:11:22:33:44:55:66:77:88:99:aa:bb:cc:dd:ee:ff\n", "a", 0,
	  "tls_fingerprint = 00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF", NULL },
	{ "tls_fingerprint SHA1", "account a\ntls_fingerprint 00:11:22:33:44:55:66:77:88:99:aa:bb:cc:dd:ee:ff:01:02:03:04\n", "a", 0,
	  "tls_fingerprint = 00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:01:02:03:04", NULL },
	{ "tls_fingerprint SHA256",
	  "account a\ntls_fingerprint 00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF\n", "a", 0,
	  "tls_fingerprint = 00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF", NULL },
	{ "tls_fingerprint 17 bytes", "account a\ntls_fingerprint 00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00\n", NULL, 0, NULL,
	  "t.rc:2: invalid tls_fingerprint '00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00' (16, 20 or 32 hex bytes as 01:AB:...)" },
	{ "tls_min_dh_prime_bits 0", "account a\ntls_min_dh_prime_bits 0\n", NULL, 0, NULL,
	  "t.rc:2: invalid tls_min_dh_prime_bits '0' (a positive number)" },
	{ "tls_min_dh_prime_bits 512", "account a\ntls_min_dh_prime_bits 512\n", "a", 0, "tls_min_dh_prime_bits = 512", NULL },
	{ "tls_min_dh_prime_bits empty", "account a\ntls_min_dh_prime_bits 512\ntls_min_dh_prime_bits\n", "a", 0,
	  "tls_min_dh_prime_bits = (not set)", NULL },
	{ "tls_trust_file default and empty", "account a\naccount b\ntls_trust_file\n", "a", 0, "tls_trust_file = system", NULL },
	{ "tls_trust_file empty unsets", "account b\ntls_trust_file\n", "b", 0, "tls_trust_file = (not set)", NULL },
	/* auth, syslog */
	{ "auth mechanism kept as written", "account a\nauth PLAIN\n", "a", 0, "auth = PLAIN", NULL },
	{ "auth without argument", "account a\nauth\n", "a", 0, "auth = on", NULL },
	{ "auth off", "account a\nauth on\nauth off\n", "a", 0, "auth = (not set)", NULL },
	{ "auth bad mechanism", "account a\nauth plain!\n", NULL, 0, NULL,
	  "t.rc:2: invalid auth 'plain!' (on, off or a mechanism name)" },
	{ "syslog bad facility", "account a\nsyslog LOG_FOO\n", NULL, 0, NULL,
	  "t.rc:2: invalid syslog 'LOG_FOO' (on, off, LOG_USER, LOG_MAIL or LOG_LOCAL0..LOG_LOCAL7)" },
	{ "syslog without argument", "account a\nsyslog\n", "a", 0, "syslog = LOG_USER", NULL },
	{ "syslog on", "account a\nsyslog on\n", "a", 0, "syslog = LOG_USER", NULL },
	{ "syslog LOG_LOCAL3", "account a\nsyslog LOG_LOCAL3\n", "a", 0, "syslog = LOG_LOCAL3", NULL },
	{ "syslog off", "account a\nsyslog\nsyslog off\n", "a", 0, "syslog = (not set)", NULL },
	/* strings */
	{ "host without argument", "account a\nhost\n", NULL, 0, NULL, "t.rc:2: 'host' needs an argument" },
	{ "user empty unsets", "account a\nuser joe\nuser\n", "a", 0, "user = (not set)", NULL },
	{ "password masked, passwordeval shown", "account a\npassword s3cret\npasswordeval pass show mail\n", "a", 0,
	  "password = *\npasswordeval = pass show mail", NULL },
	{ "empty password unsets", "account a\npassword x\npassword\n", "a", 0, "password = (not set)", NULL },
	{ "inline # is part of the value", "account a\nhost h # not a comment\n", "a", 0, "host = h # not a comment", NULL },
	/* quoting: more cases in qcases below */
	{ "quoted argument keeps blanks", "account a\nhost \"  h x \"\n", "a", 0, "host =   h x ", NULL },
	{ "quotes not at the start are literal", "account a\nhost h\"x\"\n", "a", 0, "host = h\"x\"", NULL },
	{ "empty quoted argument", "account a\nuser u\nuser \"\"\n", "a", 0, "user = (not set)", NULL },
	{ "empty quoted argument for a required value", "account a\nhost \"\"\n", NULL, 0, NULL, "t.rc:2: 'host' needs an argument" },
	{ "quoted account name", "account \"a b\"\nhost h\n", "a b", 0, "host = h", NULL },
	{ "defaults \"\" is defaults", "defaults \"\"\nport 9\naccount a\n", "a", 0, "port = 9", NULL },
	/* ~ expansion */
	{ "~ in file names", "account a\nlogfile ~/log\naliases ~/.aliases\ntls_trust_file ~\nsocket ~/s\ntls_key_file ~/k\ntls_cert_file ~/c\ntls_crl_file ~/crl\n",
	  "a", 0, "logfile = /home/tester/log\naliases = /home/tester/.aliases\ntls_trust_file = /home/tester\nsocket = /home/tester/s\n"
	  "tls_key_file = /home/tester/k\ntls_cert_file = /home/tester/c\ntls_crl_file = /home/tester/crl", NULL },
	{ "~user and ~ in other values untouched", "account a\nlogfile ~bob/log\nhost ~h\n", "a", 0, "logfile = ~bob/log\nhost = ~h", NULL },
	{ "quoted file name with ~", "account a\nlogfile \"~/my log\"\n", "a", 0, "logfile = /home/tester/my log", NULL },
	{ "logfile -", "account a\nlogfile -\n", "a", 0, "logfile = -", NULL },
	/* obsolete spellings */
	{ "add_missing_from_header off", "account a\nadd_missing_from_header off\n", "a", 0, "set_from_header = off", NULL },
	{ "add_missing_from_header on", "account a\nset_from_header on\nadd_missing_from_header on\n", "a", 0, "set_from_header = auto", NULL },
	{ "add_missing_date_header off", "account a\nadd_missing_date_header off\n", "a", 0, "set_date_header = off", NULL },
	{ "tls_nocertcheck", "account a\ntls_nocertcheck\n", "a", 0, "tls_certcheck = off", NULL },
	{ "tls_nocertcheck takes no argument", "account a\ntls_nocertcheck on\n", NULL, 0, NULL, "t.rc:2: 'tls_nocertcheck' takes no argument" },
	{ "tls_nostarttls", "account a\ntls_nostarttls\n", "a", 0, "tls_starttls = off", NULL },
	{ "tls_force_sslv3 accepted and ignored", "account a\ntls_force_sslv3 on\n", "a", 0, "tls = (not set)", NULL },
	{ "tls_force_sslv3 bad value", "account a\ntls_force_sslv3 x\n", NULL, 0, NULL, "t.rc:2: invalid tls_force_sslv3 'x' (on or off)" },
	{ "keepbcc on", "account a\nkeepbcc on\n", "a", 0, "remove_bcc_headers = off", NULL },
	{ "keepbcc off", "account a\nremove_bcc_headers off\nkeepbcc off\n", "a", 0, "remove_bcc_headers = on", NULL },
	{ "undisclosed_recipients on", "account a\nundisclosed_recipients\n", "a", 0, "set_to_header = on", NULL },
	{ "undisclosed_recipients off", "account a\nset_to_header auto\nundisclosed_recipients off\n", "a", 0, "set_to_header = off", NULL },
	{ "connect_timeout", "account a\nconnect_timeout 5\n", "a", 0, "timeout = 5", NULL },
	{ "connect_timeout error names its spelling", "account a\nconnect_timeout x\n", NULL, 0, NULL,
	  "t.rc:2: invalid connect_timeout 'x' (off or seconds)" },
	{ "auto_from with maildomain", "account a\nhost h\nfrom x@y\nauto_from on\nmaildomain ex.org\n", "a", 1, "from = joe@ex.org", NULL },
	{ "auto_from with empty maildomain", "defaults\nauto_from on\nmaildomain\naccount a\nhost h\n", "a", 1, "from = joe", NULL },
	{ "maildomain alone does nothing", "account a\nhost h\nmaildomain ex.org\n", "a", 1, "from = (not set)", NULL },
	/* defaults and inheritance */
	{ "defaults fill later accounts", "defaults\nport 587\ntls on\naccount a\nhost h\n", "a", 0, "port = 587\ntls = on", NULL },
	{ "defaults after an account do not change it", "account a\nhost h\ndefaults\nport 587\naccount b\nhost h\n", "a", 0,
	  "port = (not set)", NULL },
	{ "defaults after an account apply to later ones", "account a\nhost h\ndefaults\nport 587\naccount b\nhost h\n", "b", 0,
	  "port = 587", NULL },
	{ "defaults accumulate", "defaults\nport 1\ndefaults\ntimeout 9\naccount a\n", "a", 0, "port = 1\ntimeout = 9", NULL },
	{ "parents in order, later wins", "account b\nhost hb\nport 99\naccount c\nhost hc\nport 98\nfrom c@c\naccount a : b , c\n",
	  "a", 0, "host = hc\nport = 98\nfrom = c@c", NULL },
	{ "only explicitly set settings are inherited", "account b\nport 99\naccount c\nhost hc\naccount a : c,b\n", "a", 0,
	  "host = hc\nport = 99", NULL },
	{ "own settings after inheritance", "account b\nhost hb\nport 99\naccount a : b\nport 100\n", "a", 0, "host = hb\nport = 100", NULL },
	{ "inherits settings the parent got from defaults", "defaults\ntimeout 7\naccount b\nhost hb\ndefaults\ntimeout 8\naccount a : b\n",
	  "a", 0, "timeout = 7", NULL },
	{ "parent unchanged by child", "account b\nhost hb\nport 99\naccount a : b\nport 100\n", "b", 0, "port = 99", NULL },
	{ "account default : b", "account b\nhost hb\nport 99\naccount default : b\nport 12\n", "default", 0,
	  "account = default\nloaded from = t.rc:4\nhost = hb\nport = 12", NULL },
	{ "alias does not change the parent", "account b\nhost hb\nport 99\naccount default : b\nport 12\n", "b", 0, "port = 99", NULL },
	{ "obsolete spelling inherited", "account b\nkeepbcc\naccount a : b\n", "a", 0, "remove_bcc_headers = off", NULL },
	/* eval */
	{ "eval", "account a\neval echo host example.org\n", "a", 0, "host = example.org", NULL },
	{ "eval first line only, CRLF", "account a\neval printf 'port 33\\r\\nport 44\\n'\n", "a", 0, "port = 33", NULL },
	{ "eval stdin is /dev/null", "account a\neval echo host n$(cat | wc -c)\n", "a", 0, "host = n0", NULL },
	{ "eval quoted command", "account a\neval \"echo 'user  x'\"\n", "a", 0, "user = x", NULL },
	{ "eval defines an account", "eval echo account e\nhost h\n", "e", 0, "host = h", NULL },
	{ "eval failing", "account a\nhost h\neval exit 3\n", NULL, 0, NULL, "t.rc:3: eval command 'exit 3' failed with status 3" },
	{ "eval printing nothing", "account a\nhost h\neval true\n", NULL, 0, NULL, "t.rc:3: eval command 'true' printed nothing" },
	{ "eval printing an empty first line", "account a\neval printf '\\nhost h\\n'\n", NULL, 0, NULL,
	  "t.rc:2: eval command 'printf '\\nhost h\\n'' printed nothing" },
	{ "eval without command", "account a\neval\n", NULL, 0, NULL, "t.rc:2: 'eval' needs an argument" },
	{ "eval output not echoed in errors", "account a\neval echo hunter2\n", NULL, 0, NULL,
	  "t.rc:2: unknown keyword in the output of eval" },
	{ "eval output is not evaluated again", "account a\neval echo eval echo host x\n", NULL, 0, NULL,
	  "t.rc:2: the output of eval cannot be another eval" },
	{ "eval output is checked", "account a\neval echo port x\n", NULL, 0, NULL, "t.rc:2: invalid port 'x' (1-65535)" },
	/* conf_finish */
	{ "no host", "account a\nport 26\n", "a", 1, NULL, "account a: no host given (set 'host' in t.rc or use --host)" },
	/* delivery mx */
	{ "delivery mx needs no host", "account a\ndelivery mx\ndomain c.example.org\n", "a", 1,
	  "host = (not set)\ndelivery = mx\nport = 25\ntls_starttls = on\ntls_dane = on\nmx_address_limit = 5", NULL },
	{ "delivery mx keeps port, tls on needs no trust file", "account a\ndelivery mx\ndomain c.example.org\nport 2525\ntls on\ntls_trust_file\n",
	  "a", 1, "port = 2525\ntls = on", NULL },
	{ "delivery mx: domain must be a full name", "account a\ndelivery mx\ndomain localhost\n", "a", 1, NULL,
	  "account a: delivery mx needs 'domain' set to this host's fully qualified name (the EHLO name MX hosts check), not 'localhost'" },
	{ "delivery mx: domain not an address", "account a\ndelivery mx\ndomain 192.0.2.1\n", "a", 1, NULL,
	  "account a: delivery mx needs 'domain' set to this host's fully qualified name (the EHLO name MX hosts check), not '192.0.2.1'" },
	{ "delivery mx: domain not localhost.localdomain", "account a\ndelivery mx\ndomain localhost.localdomain\n", "a", 1, NULL,
	  "account a: delivery mx needs 'domain' set to this host's fully qualified name (the EHLO name MX hosts check), not 'localhost.localdomain'" },
	{ "delivery mx: no implicit TLS", "account a\ndelivery mx\ndomain c.example.org\ntls_starttls off\n", "a", 1, NULL,
	  "account a: delivery mx uses STARTTLS on port 25 (MX hosts have no implicit TLS); remove 'tls_starttls off'" },
	{ "delivery mx: no LMTP", "account a\ndelivery mx\ndomain c.example.org\nprotocol lmtp\n", "a", 1, NULL,
	  "account a: delivery mx speaks SMTP to the MX hosts; protocol lmtp and socket are for delivery smarthost" },
	{ "delivery: unknown value", "account a\ndelivery relay\n", NULL, 0, NULL, "t.rc:2: invalid delivery 'relay' (smarthost or mx)" },
	{ "mx_address_limit: 0 refused", "account a\nmx_address_limit 0\n", NULL, 0, NULL, "t.rc:2: invalid mx_address_limit '0' (a number from 1 to 1000)" },
	{ "socket instead of host", "account a\nsocket /run/s\n", "a", 1, "socket = /run/s\nhost = (not set)\nport = 25", NULL },
	{ "default port 25", "account a\nhost h\n", "a", 1, "port = 25", NULL },
	{ "default port 25 with STARTTLS", "account a\nhost h\ntls on\n", "a", 1, "port = 25", NULL },
	{ "default port 465 without STARTTLS", "account a\nhost h\ntls on\ntls_starttls off\n", "a", 1, "port = 465", NULL },
	{ "tls_starttls off without tls means implicit TLS: 465", "account a\nhost h\ntls_starttls off\n", "a", 1, "port = 465", NULL },
	{ "tls off with tls_starttls off keeps 25", "account a\nhost h\ntls off\ntls_starttls off\n", "a", 1, "port = 25", NULL },
	{ "implicit TLS without tls needs a way to check", "account a\nhost h\ntls_starttls off\ntls_trust_file\n", "a", 1, NULL,
	  "account a: tls needs tls_trust_file, tls_fingerprint or tls_certcheck off to check the server" },
	/* tls_starttls unset: port 465 means implicit TLS unless tls is off */
	{ "port 465 with tls on: implicit TLS", "account a\nhost h\nport 465\ntls on\n", "a", 1,
	  "port = 465\ntls = on\ntls_starttls = off", NULL },
	{ "port 465 without tls: implicit TLS", "account a\nhost h\nport 465\n", "a", 1,
	  "port = 465\ntls = (not set)\ntls_starttls = off", NULL },
	{ "port 465 with tls off: resolved to on", "account a\nhost h\nport 465\ntls off\n", "a", 1,
	  "port = 465\ntls = off\ntls_starttls = on", NULL },
	{ "port 465 with tls_starttls on stays STARTTLS", "account a\nhost h\nport 465\ntls on\ntls_starttls on\n", "a", 1,
	  "port = 465\ntls_starttls = on", NULL },
	{ "port 465 with tls_starttls (no argument) stays STARTTLS", "account a\nhost h\nport 465\ntls_starttls\n", "a", 1,
	  "port = 465\ntls_starttls = on", NULL },
	{ "port 587 with tls on: STARTTLS", "account a\nhost h\nport 587\ntls on\n", "a", 1, "tls_starttls = on", NULL },
	{ "no port, tls on: STARTTLS on 25", "account a\nhost h\ntls on\n", "a", 1, "port = 25\ntls_starttls = on", NULL },
	{ "port 465 from defaults: implicit TLS", "defaults\nport 465\ntls on\naccount a\nhost h\n", "a", 1,
	  "port = 465\ntls_starttls = off", NULL },
	{ "tls_starttls on from defaults is kept with port 465", "defaults\ntls_starttls on\naccount a\nhost h\nport 465\n", "a", 1,
	  "tls_starttls = on", NULL },
	{ "unset is inherited from a parent", "account b\nhost h\nport 465\ntls on\naccount a : b\n", "a", 1,
	  "port = 465\ntls_starttls = off", NULL },
	{ "unset stays unset in the parent's copy", "account b\nhost h\ntls on\naccount a : b\n", "a", 0,
	  "tls_starttls = (not set)", NULL },
	{ "an explicit tls_starttls on is inherited", "account b\nhost h\ntls_starttls on\naccount a : b\nport 465\n", "a", 1,
	  "tls_starttls = on", NULL },
	{ "a child's port 465 with a parent's tls on", "account b\nhost h\ntls on\naccount a : b\nport 465\n", "a", 1,
	  "tls_starttls = off", NULL },
	{ "tls_nostarttls with port 465", "account a\nhost h\nport 465\ntls_nostarttls\n", "a", 1, "tls_starttls = off", NULL },
	{ "port 465 implicit TLS needs a way to check", "account a\nhost h\nport 465\ntls_trust_file\n", "a", 1, NULL,
	  "account a: tls needs tls_trust_file, tls_fingerprint or tls_certcheck off to check the server" },
	{ "explicit port kept", "account a\nhost h\ntls on\ntls_starttls off\nport 2465\n", "a", 1, "port = 2465", NULL },
	{ "LMTP needs a port", "account a\nhost h\nprotocol lmtp\n", "a", 1, NULL,
	  "account a: no port given (set 'port' in t.rc or use --port)" },
	{ "LMTP over a socket", "account a\nsocket /run/lmtp\nprotocol lmtp\n", "a", 1, "port = (not set)", NULL },
	{ "LMTP with port", "account a\nhost h\nprotocol lmtp\nport 24\n", "a", 1, "port = 24", NULL },
	{ "default domain", "account a\nhost h\n", "a", 1, "domain = localhost", NULL },
	{ "substitutions in from", "account a\nhost h\nfrom %U@%H.%%\n", "a", 1, "from = joe@localhost.%", NULL },
	{ "unknown patterns kept", "account a\nhost h\nfrom %X@y%\n", "a", 1, "from = %X@y%", NULL },
	{ "%M from mailname", "account a\nhost h\nfrom %U@%M\ndomain %M\n", "a", 1, "from = joe@mail.example\ndomain = mail.example", NULL },
	{ "%C canonical name", "account a\nhost h\ndomain %C\n", "a", 1, "domain = localhost", NULL },
#define MS "account a\nhost h\nfrom bob@contoso.com\noauth_provider microsoft\noauth_client_id id\n"
	{ "oauth microsoft: the preset fills endpoints, scope, flow, auth, user, token file", MS, "a", 1,
	  "oauth_flow = device\nauth = xoauth2\nuser = bob@contoso.com\n"
	  "oauth_token_url = https://login.microsoftonline.com/common/oauth2/v2.0/token\n"
	  "oauth_device_url = https://login.microsoftonline.com/common/oauth2/v2.0/devicecode\n"
	  "oauth_scope = https://outlook.office.com/SMTP.Send offline_access\n"
	  "oauth_token_file = /state/postie/oauth/a.json", NULL },
	{ "oauth microsoft: tenant in the URLs, client credentials scope, auth oauthbearer kept",
	  MS "oauth_tenant contoso\noauth_flow client_credentials\noauth_client_secret s\nauth oauthbearer\n",
	  "a", 1, "oauth_auth_url = https://login.microsoftonline.com/contoso/oauth2/v2.0/authorize\n"
	  "oauth_scope = https://outlook.office365.com/.default\nauth = oauthbearer\noauth_client_secret = *", NULL },
	{ "oauth: explicit settings win over the preset", MS "oauth_scope s1\noauth_token_url https://t/\nauth on\n",
	  "a", 1, "oauth_scope = s1\noauth_token_url = https://t/\nauth = xoauth2", NULL },
	{ "oauth: no client ID", "account a\nhost h\noauth_provider google\n", "a", 1, NULL,
	  "account a: oauth_provider google needs oauth_client_id (the ID of the application you registered; see postierc(5))" },
	{ "oauth: Google in the device flow", "account a\nhost h\noauth_provider google\noauth_client_id i\noauth_flow device\n",
	  "a", 1, NULL, "account a: Google does not allow the Gmail scope in the device flow; use oauth_flow authcode" },
	{ "oauth: both secrets", MS "oauth_client_secret s\noauth_client_secret_eval echo s\n", "a", 1, NULL,
	  "account a: set oauth_client_secret or oauth_client_secret_eval, not both" },
	{ "oauth: client credentials without a secret", MS "oauth_flow client_credentials\n", "a", 1, NULL,
	  "account a: oauth_flow client_credentials needs oauth_client_secret or oauth_client_secret_eval" },
	{ "oauth: tenant for Google", "account a\nhost h\noauth_provider google\noauth_client_id i\noauth_tenant t\n",
	  "a", 1, NULL, "account a: oauth_tenant is for oauth_provider microsoft" },
	{ "oauth: a password mechanism", MS "auth plain\n", "a", 1, NULL,
	  "account a: auth plain does not use OAuth2 tokens; with oauth_provider set, auth is xoauth2 or oauthbearer" },
	{ "oauth: auth off", MS "auth off\n", "a", 1, NULL, "account a: auth off contradicts oauth_provider" },
	{ "oauth custom: the flow's endpoints are needed", "account a\nhost h\noauth_provider custom\noauth_client_id i\n"
	  "oauth_token_url https://t/\noauth_scope s\n", "a", 1, NULL,
	  "account a: oauth_provider custom with oauth_flow authcode needs oauth_auth_url" },
	{ "oauth: unknown provider", "account a\nhost h\noauth_provider yahoo\n", "a", 1, NULL,
	  "t.rc:3: invalid oauth_provider 'yahoo' (microsoft, google or custom)" },
#undef MS
	{ "tls_key_file without tls_cert_file", "account a\nhost h\ntls_key_file /k\n", "a", 1, NULL,
	  "account a: tls_key_file requires tls_cert_file" },
	{ "tls_cert_file without tls_key_file", "account a\nhost h\ntls_cert_file /c\n", "a", 1, NULL,
	  "account a: tls_cert_file requires tls_key_file" },
	{ "tls_crl_file without trust file", "account a\nhost h\ntls_trust_file\ntls_crl_file /crl\n", "a", 1, NULL,
	  "account a: tls_crl_file requires tls_trust_file" },
	{ "tls on without any check", "account a\nhost h\ntls on\ntls_trust_file\n", "a", 1, NULL,
	  "account a: tls needs tls_trust_file, tls_fingerprint or tls_certcheck off to check the server" },
	{ "tls on with fingerprint only", "account a\nhost h\ntls on\ntls_trust_file\ntls_fingerprint 00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF\n",
	  "a", 1, "tls = on", NULL },
	{ "tls on with certcheck off", "account a\nhost h\ntls on\ntls_trust_file\ntls_certcheck off\n", "a", 1, "tls_certcheck = off", NULL },
	/* fallback_account (conf_link resolves the names; see test_fallback) */
	{ "fallback_account: blanks between names become one space", "account a\nfallback_account  b\t c  \n", "a", 0,
	  "fallback_account = b c", NULL },
	{ "fallback_account: quoted", "account a\nfallback_account \"b c\"\n", "a", 0, "fallback_account = b c", NULL },
	{ "fallback_account: empty unsets", "account a\nfallback_account b\nfallback_account\n", "a", 0,
	  "fallback_account = (not set)", NULL },
	{ "fallback_account: unset by default", "account a\n", "a", 0, "fallback_account = (not set)", NULL },
	{ "fallback_account: inherited from a parent", "account p\nfallback_account b\naccount a : p\n", "a", 0,
	  "fallback_account = b", NULL },
	{ "fallback_account: not in defaults", "defaults\nfallback_account b\n", NULL, 0, NULL,
	  "t.rc:2: 'fallback_account' names other accounts, so it belongs to an account, not to 'defaults'" },
};

static void run_pcase(const struct pcase *c)
{
	struct config cfg;
	struct perr e;
	struct account *a = NULL;
	int rc = parse(c->conf, &cfg, &e);

	if (!rc && c->acc && !(a = conf_find(&cfg, c->acc))) {
		check(c->desc, 0, "account not found", c->acc);
		config_free(&cfg);
		return;
	}
	if (!rc && a && c->finish)
		rc = conf_finish(a, CONF_SHOW, &e);
	if (c->err)
		check(c->desc, rc == EX_CONFIG && e.ex == EX_CONFIG && strcmp(e.msg, c->err) == 0,
		       rc ? e.msg : "(no error)", c->err);
	else if (rc)
		check(c->desc, 0, e.msg, "(no error)");
	else
		check_lines(c->desc, a, c->want);
	config_free(&cfg);
}

/* ---- every keyword ---- */

static const char *const samples[][2] = {
	{ "host", "h" }, { "port", "587" }, { "source_ip", "192.0.2.1" }, { "proxy_host", "p" },
	{ "proxy_port", "1080" }, { "socket", "/run/s" }, { "timeout", "30" }, { "protocol", "lmtp" },
	{ "domain", "d.example" }, { "from", "a@b" }, { "from_full_name", "\"A B\"" },
	{ "allow_from_override", "off" }, { "auth", "plain" }, { "user", "u" }, { "password", "p" },
	{ "passwordeval", "echo p" }, { "ntlmdomain", "n" }, { "auth_without_tls", "on" }, { "tls", "on" }, { "tls_starttls", "off" },
	{ "tls_trust_file", "/etc/ca.pem" }, { "tls_crl_file", "/c" },
	{ "tls_fingerprint", "00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF" }, { "tls_key_file", "/k" },
	{ "tls_cert_file", "/c" }, { "tls_certcheck", "off" }, { "tls_priorities", "NORMAL" },
	{ "tls_host_override", "h" }, { "tls_min_dh_prime_bits", "1024" },
	{ "delivery", "mx" }, { "tls_dane", "off" }, { "mx_address_limit", "3" }, { "dsn_notify", "failure" },
	{ "dsn_return", "full" }, { "set_from_header", "on" }, { "set_date_header", "off" },
	{ "set_msgid_header", "off" }, { "set_to_header", "on" }, { "remove_bcc_headers", "off" },
	{ "logfile", "/l" }, { "logfile_time_format", "%F" }, { "syslog", "LOG_MAIL" }, { "aliases", "/a" },
	{ "auto_from", "on" }, { "maildomain", "m" }, { "add_missing_from_header", "off" },
	{ "add_missing_date_header", "off" }, { "undisclosed_recipients", "on" }, { "connect_timeout", "5" },
	{ "tls_nocertcheck", "" }, { "tls_nostarttls", "" }, { "keepbcc", "on" }, { "tls_force_sslv3", "on" },
	{ "oauth_provider", "google" }, { "oauth_client_id", "i" }, { "oauth_client_secret", "s" },
	{ "oauth_client_secret_eval", "echo s" }, { "oauth_tenant", "contoso" }, { "oauth_flow", "device" },
	{ "oauth_scope", "s" }, { "oauth_auth_url", "https://a/" }, { "oauth_token_url", "https://t/" },
	{ "oauth_device_url", "https://d/" }, { "oauth_redirect_port", "8080" },
	{ "oauth_token_file", "/t.json" }, { "oauth_trust_file", "/ca.pem" },
	{ "queue", "tempfail" }, { "queue_dir", "/q" }, { "queue_lifetime", "90m" },
	{ "queue_notify", "postmaster@example.org" },
	{ "fallback_account", "b" },
};

static const char *sample_for(const char *name)
{
	for (size_t i = 0; i < sizeof samples / sizeof samples[0]; i++)
		if (strcmp(samples[i][0], name) == 0)
			return samples[i][1];
	return NULL;
}

/* defaults, account and eval shape the file; they set nothing. */
static int is_structure(const char *name)
{
	return !strcmp(name, "defaults") || !strcmp(name, "account") || !strcmp(name, "eval");
}

/* Each setting keyword is accepted and changes what conf_print shows
 * (tls_force_sslv3 excepted: it is ignored). */
static void test_every_keyword(void)
{
	const struct conf_keyword *kw;
	struct config base;
	struct perr e;
	char *base_out;

	parse("account a\n", &base, &e);
	base_out = print_of(conf_find(&base, "a"));
	for (size_t i = 0; (kw = conf_keyword(i)); i++) {
		const char *v = sample_for(kw->name);
		struct config cfg;
		char desc[128], *text, *out;
		int rc;
		if (is_structure(kw->name))
			continue;
		snprintf(desc, sizeof desc, "keyword %s accepted and effective", kw->name);
		if (!v) {
			check(desc, 0, "no sample value in the test", kw->name);
			continue;
		}
		text = xasprintf("account a\n%s %s\n", kw->name, v);
		rc = parse(text, &cfg, &e);
		out = rc ? xstrdup(e.msg) : print_of(conf_find(&cfg, "a"));
		if (rc)
			check(desc, 0, out, "(accepted)");
		else
			check(desc, (strcmp(out, base_out) != 0) == (strcmp(kw->name, "tls_force_sslv3") != 0),
			       "printout unchanged", "changed");
		free(out);
		free(text);
		config_free(&cfg);
	}
	free(base_out);
	config_free(&base);
}

/* The keyword table has every msmtp keyword, current ones not obsolete. */
static void test_keyword_table(void)
{
	static const char *const current[] = {
		"defaults", "account", "eval", "host", "port", "source_ip", "proxy_host", "proxy_port", "socket",
		"timeout", "protocol", "domain", "from", "from_full_name", "allow_from_override", "auth", "user",
		"password", "passwordeval", "ntlmdomain", "auth_without_tls", "tls", "tls_starttls", "tls_trust_file", "tls_crl_file",
		"tls_fingerprint", "tls_key_file", "tls_cert_file", "tls_certcheck", "tls_priorities",
		"tls_host_override", "tls_min_dh_prime_bits", "dsn_notify", "dsn_return", "set_from_header",
		"set_date_header", "set_msgid_header", "set_to_header", "remove_bcc_headers", "logfile",
		"logfile_time_format", "syslog", "aliases",
	};
	static const char *const ours[] = {   /* postie's own */
		"oauth_provider", "oauth_client_id", "oauth_client_secret", "oauth_client_secret_eval",
		"oauth_tenant", "oauth_flow", "oauth_scope", "oauth_auth_url", "oauth_token_url",
		"oauth_device_url", "oauth_redirect_port", "oauth_token_file", "oauth_trust_file",
		"queue", "queue_dir", "queue_lifetime", "queue_notify",
		"delivery", "tls_dane", "mx_address_limit", "fallback_account",
	};
	static const char *const old[] = {
		"auto_from", "maildomain", "add_missing_from_header", "add_missing_date_header", "tls_nocertcheck",
		"tls_nostarttls", "tls_force_sslv3", "keepbcc", "undisclosed_recipients", "connect_timeout",
	};
	size_t n, found = 0, bad = 0;
	const struct conf_keyword *kw;
	for (n = 0; (kw = conf_keyword(n)); n++) {
		int cur = 0, ob = 0;
		for (size_t j = 0; j < sizeof current / sizeof current[0]; j++)
			cur |= strcmp(kw->name, current[j]) == 0;
		for (size_t j = 0; j < sizeof ours / sizeof ours[0]; j++)
			cur |= strcmp(kw->name, ours[j]) == 0;
		for (size_t j = 0; j < sizeof old / sizeof old[0]; j++)
			ob |= strcmp(kw->name, old[j]) == 0;
		found += cur || ob;
		bad += (cur && kw->obsolete) || (ob && !kw->obsolete) || !kw->doc || !*kw->doc || !kw->arg;
		bad += conf_keyword_find(kw->name) != kw;
	}
	check_int("keyword table: every msmtp keyword and postie's own present", (long)found,
	          (long)(sizeof current / sizeof current[0] + sizeof ours / sizeof ours[0] +
	                 sizeof old / sizeof old[0]));
	check_int("keyword table: nothing else", (long)n, (long)found);
	check_int("keyword table: obsolete flags and docs", (long)bad, 0);
}

/* A new account holds the defaults the table declares: conf_print shows
 * each declared default, "(not set)" where there is none, and each
 * declared default is a value its keyword accepts. */
static void test_defaults(void)
{
	struct account *a = account_new("d", "t.rc", 1), *b = account_new("d", "t.rc", 1);
	const struct conf_keyword *kw;
	char *out = print_of(a);
	size_t ndef = 0, bad = 0;
	struct perr e;

	for (size_t i = 0; (kw = conf_keyword(i)); i++) {
		if (is_structure(kw->name))
			continue;
		char *l = line_for(out, kw->name), *want = xasprintf("%s = %s", kw->name, kw->def ? kw->def : "(not set)");
		if (l && strcmp(l, want) != 0) {
			check("a new account prints the table's default", 0, l, want);
			bad++;
		}
		if (kw->def && conf_set(b, kw->name, kw->def, "t", &e) != 0) {
			check("a declared default is a valid value", 0, e.msg, kw->name);
			bad++;
		}
		ndef += kw->def != NULL;
		free(l);
		free(want);
	}
	check_int("defaults: every one printed and valid", (long)bad, 0);
	check_int("defaults: the table declares some", ndef >= 10, 1);
	check_str("default tls_trust_file", a->tls_trust_file, "system");
	check_int("defaults without a value: tls, tls_starttls, timeout unset",
	          a->tls == TLS_UNSET && a->tls_starttls == -1 && a->timeout == -1 && a->port == 0, 1);
	check_int("defaults: on/auto values", a->tls_certcheck == 1 && a->allow_from_override == 1 &&
	          a->remove_bcc_headers == 1 && a->set_from_header == HDR_AUTO && a->set_to_header == HDR_OFF, 1);
	free(out);
	account_free(a);
	account_free(b);
}

/* proxy_host is refused when the account is used to connect, and shown
 * when it is only printed (--pretend). */
static void test_finish_use(void)
{
	struct account *a = account_new("p", "/etc/rc", 3);
	struct perr e;
	int rc;

	perr_clear(&e);
	conf_set(a, "host", "h", "t", &e);
	check_int("finish to connect without a proxy", conf_finish(a, CONF_CONNECT, &e), 0);
	conf_set(a, "proxy_host", "socks.example", "t", &e);
	check_int("finish to show with a proxy", conf_finish(a, CONF_SHOW, &e), 0);
	rc = conf_finish(a, CONF_CONNECT, &e);
	check_int("finish to connect with a proxy: 69", rc == EX_UNAVAILABLE && e.ex == EX_UNAVAILABLE, 1);
	check_str("finish to connect with a proxy: message", e.msg, "account 'p' (/etc/rc) asks for a SOCKS proxy, "
	          "which this version of postie cannot use yet; refusing to connect directly");
	account_free(a);
	a = account_new("(command line)", NULL, 0);
	conf_set(a, "host", "h", "t", &e);
	conf_set(a, "proxy_host", "s", "t", &e);
	conf_finish(a, CONF_CONNECT, &e);
	check_str("refusal for a command-line account", e.msg, "account '(command line)' (the command line) asks "
	          "for a SOCKS proxy, which this version of postie cannot use yet; refusing to connect directly");
	account_free(a);
}

/* ---- quoted arguments, as msmtp reads them ---- */

/* The argument of a "user" line (written as it appears in the file) and
 * the value read, NULL for unset. Every expected value was taken from
 * msmtp 1.8.23 --pretend ("user = ..." line) with the same line; msmtp
 * reports no error for any of them. */
struct qcase {
	const char *arg;
	const char *want;
};

static const struct qcase qcases[] = {
	{ "plain", "plain" },
	{ "a b", "a b" },                       /* inner blanks kept */
	{ "  a b  ", "a b" },                   /* outer blanks dropped */
	{ "\t\"a\"\t", "a" },                   /* blanks around the quotes too */
	{ "\" a b \"", " a b " },               /* blanks inside quotes kept */
	{ "\" \"", " " },
	{ "\"\"", NULL },                        /* empty: no argument */
	{ "\"#x\"", "#x" },                     /* # inside quotes */
	{ "# x", "# x" },                       /* # after the keyword is no comment */
	{ "a\"b\"c", "a\"b\"c" },               /* quotes in the middle */
	{ "x \"y z\"", "x \"y z\"" },           /* only partly quoted (end) */
	{ "\"y z\" x", "\"y z\" x" },           /* only partly quoted (start) */
	{ "\"a\" \"b\"", "a\" \"b" },           /* first and last byte only */
	{ "\"a\"b\"c\"", "a\"b\"c" },
	{ "\"ab\"c", "\"ab\"c" },               /* text after the closing quote */
	{ "\"a b\"  # c", "\"a b\"  # c" },
	{ "\"ab", "\"ab" },                     /* unterminated quote */
	{ "a\"b", "a\"b" },
	{ "x\"", "x\"" },
	{ "\"", "\"" },                         /* a lone quote */
	{ "\"\"\"", "\"" },
	{ "\"\"x", "\"\"x" },
	{ "\"x\"\"", "x\"" },
	{ "\"a\\\\b\"", "a\\\\b" },             /* \\ kept */
	{ "\"a\\\"b\"", "a\\\"b" },             /* \" kept */
	{ "\"a\\b\"", "a\\b" },
	{ "a\\\\b", "a\\\\b" },
	{ "a\\\"b", "a\\\"b" },
	{ "\\\"", "\\\"" },
	{ "ab\\", "ab\\" },                     /* backslash at the end */
	{ "\"ab\\\"", "ab\\" },                 /* backslash before the closing quote */
	{ "\"ab\\\\\"", "ab\\\\" },
	{ "\"\\\"", "\\" },
	{ "\"printf %s\\\\n 's3cret pw'\"", "printf %s\\\\n 's3cret pw'" },
	{ "\"echo \\\"s3cret pw\\\"\"", "echo \\\"s3cret pw\\\"" },
};

static void test_quoting(void)
{
	for (size_t i = 0; i < NELEM(qcases); i++) {
		const struct qcase *q = &qcases[i];
		char *text = xasprintf("account a\nhost h\nuser %s\n", q->arg);
		struct config cfg;
		struct perr e;
		struct account *a;
		int rc = parse(text, &cfg, &e);
		const char *got = rc ? e.msg : (a = conf_find(&cfg, "a")) && a->user ? a->user : "(not set)";
		int ok = !rc && strcmp(got, q->want ? q->want : "(not set)") == 0;

		check(q->arg, ok, got, q->want ? q->want : "(not set)");
		config_free(&cfg);
		free(text);
	}
}

/* ---- single checks ---- */

static void test_special_parse(void)
{
	static const char nul[] = "account a\nhost h\0x\n";
	static const char second[] = "account a\nhost h2\naccount b\n";
	struct config cfg;
	struct perr e;
	struct buf b;
	struct account *a;
	int rc;

	memset(&cfg, 0, sizeof cfg);
	perr_clear(&e);
	rc = conf_parse_buf("t.rc", nul, sizeof nul - 1, &cfg, &e);
	check_str("NUL byte in a line", rc ? e.msg : "(no error)", "t.rc:2: NUL byte in line");
	config_free(&cfg);

	buf_init(&b);
	buf_adds(&b, "account a\r\nhost h\r\npassword \"");
	for (int i = 0; i < 102400; i++)
		buf_addc(&b, (char)('a' + i % 26));
	buf_adds(&b, "\"\r\nuser u\r\n");
	rc = parse(b.s, &cfg, &e);
	a = rc ? NULL : conf_find(&cfg, "a");
	check_int("100 KB password line", a && a->password ? (long)strlen(a->password) : -1, 102400);
	check_str("line after the long line", a ? a->user : e.msg, "u");
	check_int("password file flagged", cfg.has_password_file, 1);
	config_free(&cfg);
	buf_free(&b);

	rc = parse("account a\neval echo password x\n", &cfg, &e);
	check_int("password from eval does not flag the file", rc ? -1 : cfg.has_password_file, 0);
	config_free(&cfg);

	rc = parse("account b\nhost hb\naccount default : b\n", &cfg, &e);
	check_str("account default : b sets default_alias", rc ? e.msg : cfg.default_alias, "b");
	check_str("conf_find default", rc ? e.msg : conf_find(&cfg, "default")->name, "default");
	check_int("conf_find missing account", conf_find(&cfg, "nope") == NULL, 1);
	config_free(&cfg);

	rc = parse("account a\nhost h\naccount c\nhost h\n", &cfg, &e);
	rc = rc ? rc : conf_parse_buf("u.rc", second, sizeof second - 1, &cfg, &e);
	check_str("a second file replaces same-named accounts in place",
	          rc ? e.msg : cfg.nacc == 3 ? cfg.acc[0]->host : "wrong count", "h2");
	config_free(&cfg);
}

/* Many accounts: the name index finds each one, and catches a duplicate
 * and an undefined parent among them; a second file replaces in place. */
static void test_many_accounts(void)
{
	struct buf b;
	struct config cfg;
	struct perr e;
	int rc, bad = 0;

	buf_init(&b);
	buf_adds(&b, "account a0\nhost h0\n");
	for (int i = 1; i < 3000; i++)
		buf_printf(&b, "account a%d : a%d\nport %d\n", i, i - 1, i);
	rc = parse(b.s, &cfg, &e);
	for (int i = 0; !rc && i < 3000; i++) {
		char name[16];
		struct account *a;
		snprintf(name, sizeof name, "a%d", i);
		a = conf_find(&cfg, name);
		bad += !a || strcmp(a->name, name) != 0 || strcmp(a->host, "h0") != 0 || a->port != i;
	}
	check_int("3000 chained accounts: each found with its settings", rc ? -1 : bad, 0);
	check_int("3000 chained accounts: a name not there", conf_find(&cfg, "a3000") == NULL, 1);
	rc = rc ? rc : conf_parse_buf("u.rc", "account a1234\nhost new\n", 23, &cfg, &e);
	check_str("replaced in place among 3000", rc ? e.msg : cfg.nacc == 3000 ? cfg.acc[1234]->host : "wrong count", "new");
	config_free(&cfg);

	buf_adds(&b, "account a77\n");
	rc = parse(b.s, &cfg, &e);
	check_str("duplicate among 3000", rc ? e.msg : "(no error)", "t.rc:6001: account 'a77' was already defined at line 155");
	config_free(&cfg);
	buf_reset(&b);
	buf_adds(&b, "account a0\nhost h\naccount a1 : a0, a9\n");
	rc = parse(b.s, &cfg, &e);
	check_str("undefined parent", rc ? e.msg : "(no error)", "t.rc:3: account 'a9' is not defined (yet)");
	config_free(&cfg);
	buf_free(&b);
}

/* The messages for an account that is not there. */
static void test_not_found(void)
{
	struct config cfg;
	struct perr e;
	struct buf b;
	int rc = parse("account default\nhost h\naccount work\nhost w\n", &cfg, &e);

	cfg.files = xstrdup("/home/u/.postierc");
	conf_not_found(&cfg, "nosuch", &e);
	check_str("-a nosuch: files and accounts", rc ? "parse error" : e.msg,
	          "account 'nosuch' not found in /home/u/.postierc; accounts: default, work");
	check_int("-a nosuch: 78", e.ex, EX_CONFIG);
	conf_not_found(&cfg, NULL, &e);
	check_str("no default: files, accounts, hint", e.msg,
	          "no account chosen and no account 'default' in /home/u/.postierc; accounts: default, work; use -a NAME");
	config_free(&cfg);

	memset(&cfg, 0, sizeof cfg);
	cfg.files = xstrdup("/etc/postierc, /home/u/.postierc");
	conf_not_found(&cfg, "x\ny", &e);
	check_str("files without accounts", e.msg,
	          "account 'x?y' not found in /etc/postierc, /home/u/.postierc; accounts: (none)");
	config_free(&cfg);

	memset(&cfg, 0, sizeof cfg);
	cfg.searched = xstrdup("/etc/postierc, /etc/msmtprc, /home/u/.postierc");
	conf_not_found(&cfg, NULL, &e);
	check_str("no file: the paths searched", e.msg, "no configuration file found and no --host given "
	          "(searched /etc/postierc, /etc/msmtprc, /home/u/.postierc); see postierc(5)");
	conf_not_found(&cfg, "work", &e);
	check_str("-a work without a file: the paths searched", e.msg, "account 'work' not found: no configuration "
	          "file found (searched /etc/postierc, /etc/msmtprc, /home/u/.postierc); see postierc(5)");
	config_free(&cfg);

	buf_init(&b);
	for (int i = 0; i < 3000; i++)
		buf_printf(&b, "account account-%d\n", i);
	rc = parse(b.s, &cfg, &e);
	cfg.files = xstrdup("f");
	conf_not_found(&cfg, "nosuch", &e);
	check("3000 accounts: the list is cut", !rc && strlen(e.msg) < 700 && strstr(e.msg, " more)") &&
	      strncmp(e.msg, "account 'nosuch' not found in f; accounts: account-0, account-1, ", 65) == 0, e.msg, "a cut list");
	config_free(&cfg);
	buf_free(&b);
}

static void test_home_display(void)
{
	struct config cfg;
	struct perr e;
	static const char text[] = "account a\nhost h\n\n\n\n\n\n\n\n\n\nhots x\n";
	memset(&cfg, 0, sizeof cfg);
	perr_clear(&e);
	conf_parse_buf("/home/tester/.postierc", text, sizeof text - 1, &cfg, &e);
	check_str("file under $HOME shown with ~", e.msg, "~/.postierc:12: unknown keyword 'hots' (did you mean 'host'?)");
	conf_parse_buf("/home/testerx/.postierc", text, sizeof text - 1, &cfg, &e);
	check_str("file beside $HOME not abbreviated", e.msg, "/home/testerx/.postierc:12: unknown keyword 'hots' (did you mean 'host'?)");
	config_free(&cfg);
}

static void test_conf_set(void)
{
	struct account *a = account_new("x", "command line", 0);
	struct perr e;
	size_t k = 0;

	perr_clear(&e);
	conf_set(a, "port", "x", "--port", &e);
	check_str("conf_set error names the option", e.msg, "--port: invalid port 'x' (1-65535)");
	check_int("conf_set error is EX_CONFIG", e.ex, EX_CONFIG);
	conf_set(a, "hots", "x", "--hots", &e);
	check_str("conf_set unknown keyword", e.msg, "--hots: unknown keyword 'hots'");
	conf_set(a, "account", "x", "--x", &e);
	check_str("conf_set structural keyword", e.msg, "--x: 'account' is not a setting");
	while (conf_keyword(k) && strcmp(conf_keyword(k)->name, "tls"))
		k++;
	check_int("isset clear before", a->isset[k], 0);
	check_int("conf_set NULL value means on", conf_set(a, "tls", NULL, "--tls", &e) == 0 && a->tls == TLS_ON, 1);
	check_int("conf_set marks isset", a->isset[k], 1);
	check_int("conf_set obsolete spelling", conf_set(a, "tls_nocertcheck", "", "--x", &e) == 0 && a->tls_certcheck == 0, 1);
	check_int("conf_set dsn_notify", conf_set(a, "dsn_notify", "success,failure", "-N", &e), 0);
	check_str("conf_set dsn_notify value", a->dsn_notify, "success,failure");
	conf_set(a, "host", "", "--host", &e);
	check_str("conf_set empty host", e.msg, "--host: 'host' needs an argument");
	account_free(a);
}

static void test_print(void)
{
	struct config cfg;
	struct perr e;
	size_t printed = 0, lines = 0, missing = 0;
	const struct conf_keyword *kw;
	char *out;

	parse("\naccount a\nhost h\npassword secret\n", &cfg, &e);
	out = print_of(conf_find(&cfg, "a"));
	check_int("print starts with account and origin",
	          strncmp(out, "account = a\nloaded from = t.rc:2\nhost = h\n", 39) == 0, 1);
	check_int("print never shows the password", strstr(out, "= secret") == NULL &&
	          strstr(out, "\npassword = *\n") != NULL, 1);
	/* a line for every current setting; every line is a keyword's */
	for (size_t i = 0; (kw = conf_keyword(i)); i++) {
		if (is_structure(kw->name))
			continue;
		char *l = line_for(out, kw->name);
		printed += l != NULL;
		missing += !l && !kw->obsolete;
		free(l);
	}
	for (char *p = out; *p; p++)
		lines += *p == '\n';
	check_int("print has a line per current setting", (long)missing, 0);
	check_int("print has nothing but keywords", (long)lines, (long)printed + 2);
	free(out);
	config_free(&cfg);

	struct account *a = account_new("(command line)", "command line", 0);
	out = print_of(a);
	check_int("print for a command-line account",
	          strncmp(out, "account = (command line)\nloaded from = command line\n", 51) == 0, 1);
	free(out);
	account_free(a);
}

static void test_dup(void)
{
	struct config cfg;
	struct perr e;
	struct account *d;
	parse("account a\nhost h\npassword p\nfrom f@x\n", &cfg, &e);
	d = account_dup(conf_find(&cfg, "a"));
	config_free(&cfg);
	check_str("account_dup is deep", d->password, "p");
	check_str("account_dup keeps tls_trust_file", d->tls_trust_file, "system");
	account_free(d);
}

static void test_from(void)
{
	static const char *const c[][2] = {
		{ "x@y", "a" }, { "X@Y", "a" }, { "x+foo@y", "a" }, { "z@y", "c" }, { "ROOT@example.ORG", "d" },
		{ "root+a+b@example.org", "d" }, { "nobody@z", NULL }, { "q1@w", "e" }, { "q12@w", NULL },
		{ "+x@n", NULL }, { "bob@[x]", "f" },
	};
	struct config cfg;
	struct perr e;
	parse("account n\nhost h\naccount a\nfrom x@y\naccount c\nfrom *@y\naccount d\nfrom Root@Example.org\n"
	      "account e\nfrom q?@w\naccount f\nfrom bob@[[]x]\n", &cfg, &e);
	for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
		struct account *a = conf_find_by_from(&cfg, c[i][0]);
		char desc[96];
		snprintf(desc, sizeof desc, "from match %s", c[i][0]);
		check_str(desc, a ? a->name : NULL, c[i][1]);
	}
	config_free(&cfg);
}

static void test_substitution_env(void)
{
	struct config cfg;
	struct perr e;
	struct account *a;
	int rc;

	setenv("HOSTNAME", "mybox", 1);
	setenv("USER", "ann", 1);
	rc = parse("account a\nhost h\nfrom %U@%H\ndomain d.example\n", &cfg, &e);
	a = conf_find(&cfg, "a");
	rc = rc ? rc : conf_finish(a, CONF_SHOW, &e);
	check_str("%U and %H from USER and HOSTNAME", rc ? e.msg : a->from, "ann@mybox");
	config_free(&cfg);
	unsetenv("USER");
	setenv("LOGNAME", "lou", 1);
	rc = parse("account a\nhost h\nfrom %U\ndomain d.example\n", &cfg, &e);
	a = conf_find(&cfg, "a");
	rc = rc ? rc : conf_finish(a, CONF_SHOW, &e);
	check_str("%U falls back to LOGNAME", rc ? e.msg : a->from, "lou");
	config_free(&cfg);
	setenv("USER", "joe", 1);
	setenv("HOSTNAME", "localhost", 1);

	setenv("POSTIE_MAILNAME_FILE", "/nonexistent/mailname", 1);
	rc = parse("account a\nhost h\nfrom x@%M\n", &cfg, &e);
	rc = rc ? rc : conf_finish(conf_find(&cfg, "a"), CONF_SHOW, &e);
	check_str("%M without mailname file", rc ? e.msg : "(no error)",
	          "account a: cannot substitute %M in from: cannot read /nonexistent/mailname: No such file or directory");
	config_free(&cfg);
}

/* ---- fallback accounts ---- */

/* parse then conf_link: the message, or "(no error)". */
static char *linked(const char *text, struct config *cfg)
{
	struct perr e;
	int rc = parse(text, cfg, &e);
	rc = rc ? rc : conf_link(cfg, &e);
	return xstrdup(rc ? e.msg : "(no error)");
}

struct lcase {
	const char *desc;
	const char *conf;
	const char *err;
};

static const struct lcase lcases[] = {
	{ "no lists", "account a\nhost h\naccount b\nhost h\n", "(no error)" },
	{ "a list", "account a\nhost h\nfallback_account b c\naccount b\nhost h\naccount c\nhost h\n", "(no error)" },
	{ "a name defined later in the file", "account a\nfallback_account b\naccount b\n", "(no error)" },
	{ "unknown name", "account a\nhost h\nfallback_account b zz\naccount b\n",
	  "t.rc:3: fallback_account of account 'a' names 'zz', which is not an account" },
	{ "a comma is no separator", "account a\nfallback_account b,c\naccount b\naccount c\n",
	  "t.rc:2: fallback_account of account 'a' names 'b,c', which is not an account" },
	{ "itself", "account a\nfallback_account b a\naccount b\n", "t.rc:2: account 'a' names itself in fallback_account" },
	{ "an heir of the list names itself", "account a\nfallback_account default\naccount b\naccount default : a\n",
	  "t.rc:2: account 'default' names itself in fallback_account" },
	{ "account default : a names a", "account a\nhost h\naccount b\nfallback_account default\naccount default : a\n",
	  "(no error)" },
	{ "twice", "account a\nfallback_account b b\naccount b\n", "t.rc:2: fallback_account of account 'a' names 'b' twice" },
	{ "two accounts naming each other", "account a\nfallback_account b\naccount b\nfallback_account a\n",
	  "t.rc:4: the fallback_account lists form a cycle: a -> b -> a" },
	{ "a cycle of three, entered from outside", "account x\nfallback_account a\naccount a\nfallback_account b\n"
	  "account b\nfallback_account c\naccount c\nfallback_account a\n",
	  "t.rc:8: the fallback_account lists form a cycle: a -> b -> c -> a" },
	{ "a diamond is no cycle", "account a\nfallback_account b c\naccount b\nfallback_account d\n"
	  "account c\nfallback_account d\naccount d\n", "(no error)" },
	{ "the list's line, inherited", "account p\nhost h\nfallback_account zz\naccount a : p\n",
	  "t.rc:3: fallback_account of account 'p' names 'zz', which is not an account" },
	{ "delivery mx with a list", "account a\ndelivery mx\nfallback_account b\naccount b\n",
	  "t.rc:3: account 'a' has delivery mx, which cannot have fallback_account" },
	{ "a fallback with delivery mx", "account a\nfallback_account b\naccount b\ndelivery mx\n",
	  "t.rc:2: fallback account 'b' of account 'a' has delivery mx; a fallback account sends through its host" },
};

static void test_fallback_link(void)
{
	for (size_t i = 0; i < NELEM(lcases); i++) {
		struct config cfg;
		char *got = linked(lcases[i].conf, &cfg);
		char desc[128];
		snprintf(desc, sizeof desc, "conf_link: %s", lcases[i].desc);
		check_str(desc, got, lcases[i].err);
		free(got);
		config_free(&cfg);
	}
}

/* The copies: in order, without lists of their own, deep; finished with
 * the account; printed after its settings. */
static void test_fallback_copies(void)
{
	struct config cfg;
	struct perr e;
	char *got = linked("account a\nhost ha\nfallback_account c b\naccount b\nhost hb\nport 587\n"
	                   "password pb\nfallback_account c\naccount c\nsocket /run/c\n", &cfg);
	struct account *a = conf_find(&cfg, "a"), *d;
	check_str("copies: linked", got, "(no error)");
	free(got);
	check_int("copies: two, in the list's order", a && a->nfallback == 2 && !strcmp(a->fallback[0]->name, "c") &&
	          !strcmp(a->fallback[1]->name, "b"), 1);
	if (!a || a->nfallback != 2) {
		config_free(&cfg);
		return;
	}
	check_int("copies: b's own list is not carried", a->fallback[1]->nfallback == 0 &&
	          a->fallback[1]->fallback_account == NULL, 1);
	check_int("copies: b keeps its list itself", conf_find(&cfg, "b")->nfallback, 1);
	d = account_dup(a);
	config_free(&cfg);
	check_str("account_dup copies the fallback accounts deeply", d->nfallback == 2 ? d->fallback[1]->password : NULL, "pb");
	perr_clear(&e);
	check_int("conf_finish finishes the fallback accounts", conf_finish(d, CONF_SHOW, &e), 0);
	check_int("a fallback account's default port", d->fallback[1]->port, 587);
	check_int("a fallback account's queue_dir", d->fallback[0]->queue_dir != NULL, 1);
	char *out = print_of(d);
	check_int("print: the fallback lines after the settings",
	          strstr(out, "fallback_account = c b\n") != NULL &&
	          strstr(out, "\nfallback account c = socket /run/c\nfallback account b = hb port 587\n") != NULL &&
	          strstr(out, "pb") == NULL, 1);
	free(out);
	account_free(d);

	got = linked("account a\nhost ha\nfallback_account b\naccount b\nport 25\n", &cfg);
	a = conf_find(&cfg, "a");
	perr_clear(&e);
	check_str("a fallback account without host",
	          conf_finish(a, CONF_SHOW, &e) ? e.msg : "(no error)",
	          "account b: no host given (set 'host' in t.rc or use --host) (account 'b' is a fallback_account of account 'a')");
	free(got);
	config_free(&cfg);

	got = linked("account a\nhost ha\nfallback_account b\naccount b\nhost hb\nproxy_host p\n", &cfg);
	a = conf_find(&cfg, "a");
	perr_clear(&e);
	check_int("a fallback account's proxy_host: shown", conf_finish(a, CONF_SHOW, &e), 0);
	free(got);
	config_free(&cfg);
	got = linked("account a\nhost ha\nfallback_account b\naccount b\nhost hb\nproxy_host p\n", &cfg);
	a = conf_find(&cfg, "a");
	check_int("a fallback account's proxy_host: refused to connect", conf_finish(a, CONF_CONNECT, &e), EX_UNAVAILABLE);
	free(got);
	config_free(&cfg);

	got = linked("account a\nhost ha\nfallback_account b\naccount b\nhost hb\n", &cfg);
	a = conf_find(&cfg, "a");
	conf_set(a, "delivery", "mx", "--delivery", &e);
	conf_set(a, "domain", "client.example.org", "--domain", &e);
	check_str("--delivery mx on an account with fallback accounts",
	          conf_finish(a, CONF_SHOW, &e) ? e.msg : "(no error)",
	          "account a: delivery mx cannot have fallback_account (b); fallback accounts are for delivery smarthost");
	free(got);
	config_free(&cfg);
}

/* A long chain links, and a cycle through all of it is found. */
static void test_fallback_many(void)
{
	struct buf b;
	struct config cfg;
	char *got;
	buf_init(&b);
	for (int i = 0; i < 3000; i++)
		buf_printf(&b, "account a%d\nhost h\nfallback_account a%d\n", i, i + 1);
	buf_adds(&b, "account a3000\nhost h\n");
	got = linked(b.s, &cfg);
	check_str("3000 accounts, each the fallback of the one before", got, "(no error)");
	check_int("each has one copy", conf_find(&cfg, "a17")->nfallback == 1 &&
	          !strcmp(conf_find(&cfg, "a17")->fallback[0]->name, "a18"), 1);
	free(got);
	config_free(&cfg);
	buf_adds(&b, "fallback_account a0\n");
	got = linked(b.s, &cfg);
	check_int("a cycle through 3001 accounts", !strncmp(got, "t.rc:9003: the fallback_account lists form a cycle: a0 -> a1 -> ", 63), 1);
	free(got);
	config_free(&cfg);
	buf_free(&b);
}

/* ---- conf_load with real files ---- */

struct tmp {
	char dir[64];
};

static void put(const struct tmp *d, const char *rel, const char *text, mode_t mode)
{
	char *p = xasprintf("%s/%s", d->dir, rel);
	for (char *s = strchr(p + strlen(d->dir) + 1, '/'); s; s = strchr(s + 1, '/')) {
		*s = '\0';
		mkdir(p, 0700);
		*s = '/';
	}
	FILE *f = fopen(p, "w");
	if (f) {
		fputs(text, f);
		fclose(f);
	}
	chmod(p, mode);
	free(p);
}

static void rm(const struct tmp *d, const char *rel)
{
	char *p = xasprintf("%s/%s", d->dir, rel);
	unlink(p);
	free(p);
}

/* conf_load with HOME = the temp dir; returns the used-files text or the
 * error, and the host of account "a" in *host (or NULL). */
static char *load(const struct tmp *d, const char *user_file, const char *sys_file, char **host)
{
	struct conf_paths p = { user_file, sys_file, sys_file == NULL };
	struct config cfg;
	struct perr e;
	char *used = NULL, *res;
	struct account *a;
	perr_clear(&e);
	*host = NULL;
	(void)d;
	if (conf_load(&p, &cfg, &used, &e))
		return xasprintf("error %d: %s", e.ex, e.msg);
	res = used;
	if ((a = conf_find(&cfg, "a")) && a->host)
		*host = xstrdup(a->host);
	config_free(&cfg);
	return res;
}

/* want with every "%s" replaced by dir. */
static char *with_dir(const char *want, const char *dir)
{
	struct buf b;
	buf_init(&b);
	for (const char *p = want; *p; p++) {
		if (p[0] == '%' && p[1] == 's') {
			buf_adds(&b, dir);
			p++;
		} else {
			buf_addc(&b, *p);
		}
	}
	return buf_steal(&b);
}

/* The --pretend line for a file that is not there, as msmtp prints it. */
#define IGN(kind, file) "ignoring " kind " configuration file %s/" file ": No such file or directory\n"
#define IGN_XDG IGN("user", ".config/postie/config")

static void check_load(const char *desc, const struct tmp *d, const char *user_file, const char *sys_file,
                       const char *want_used, const char *want_host)
{
	char *host, *used = load(d, user_file, sys_file, &host);
	char *w = want_used ? with_dir(want_used, d->dir) : NULL;
	char *g = xasprintf("%s|%s", used, host ? host : "-");
	char *ww = xasprintf("%s|%s", w, want_host ? want_host : "-");
	check_str(desc, g, ww);
	free(g);
	free(ww);
	free(w);
	free(used);
	free(host);
}

/* The user file search order. */
/* kind's places as conf_load searches them with HOME=home and no
 * XDG_CONFIG_HOME, ", "-separated. */
static char *places_of(const char *kind, const char *home)
{
	struct buf b;
	const struct conf_place *p;
	buf_init(&b);
	for (size_t i = 0; (p = conf_place(i)); i++) {
		if (strcmp(p->kind, kind) != 0)
			continue;
		if (b.len)
			buf_adds(&b, ", ");
		if (p->path[0] == '~')
			buf_printf(&b, "%s%s", home, p->path + 1);
		else if (strncmp(p->path, "$XDG_CONFIG_HOME", 16) == 0)
			buf_printf(&b, "%s/.config%s", home, p->path + 16);
		else
			buf_adds(&b, p->path);
	}
	return buf_steal(&b);
}

static void test_search(const struct tmp *d)
{
	char *path;

	check_load("no user file at all", d, NULL, NULL,
	           IGN_XDG IGN("user", ".postierc") IGN("user", ".msmtprc") IGN("user", ".config/msmtp/config"), NULL);
	{
		struct conf_paths p = { NULL, NULL, 1 };
		struct config cfg;
		struct perr e;
		char *want = with_dir("%s/.config/postie/config, %s/.postierc, %s/.msmtprc, %s/.config/msmtp/config", d->dir);
		int rc = conf_load(&p, &cfg, NULL, &e);
		check_str("no file: every path searched, in order", rc ? e.msg : cfg.searched ? cfg.searched : "(null)", want);
		check_int("no file: none read", rc ? -1 : cfg.files == NULL, 1);
		free(want);
		config_free(&cfg);
		want = places_of("user", d->dir);
		rc = conf_load(&p, &cfg, NULL, &e);
		check_str("no file: the paths searched are conf_place's", rc ? e.msg : cfg.searched, want);
		free(want);
		config_free(&cfg);
	}
	put(d, ".config/msmtp/config", "account a\nhost xdgmsmtp\n", 0600);
	check_load("XDG msmtp config last", d, NULL, NULL, IGN_XDG IGN("user", ".postierc") IGN("user", ".msmtprc")
	           "loaded user configuration file %s/.config/msmtp/config\n", "xdgmsmtp");
	put(d, ".msmtprc", "account a\nhost msmtprc\n", 0600);
	check_load("~/.msmtprc before XDG msmtp", d, NULL, NULL, IGN_XDG IGN("user", ".postierc")
	           "loaded user configuration file %s/.msmtprc\n", "msmtprc");
	put(d, ".postierc", "account a\nhost postierc\n", 0600);
	check_load("~/.postierc before msmtp files", d, NULL, NULL, IGN_XDG "loaded user configuration file %s/.postierc\n", "postierc");
	put(d, ".config/postie/config", "account a\nhost xdgpostie\n", 0600);
	check_load("XDG postie config first", d, NULL, NULL, "loaded user configuration file %s/.config/postie/config\n", "xdgpostie");
	path = xasprintf("%s/x", d->dir);
	setenv("XDG_CONFIG_HOME", path, 1);
	free(path);
	check_load("XDG_CONFIG_HOME moves the search", d, NULL, NULL, IGN("user", "x/postie/config") "loaded user configuration file %s/.postierc\n", "postierc");
	put(d, "x/postie/config", "account a\nhost xhome\n", 0600);
	check_load("XDG_CONFIG_HOME used", d, NULL, NULL, "loaded user configuration file %s/x/postie/config\n", "xhome");
	setenv("XDG_CONFIG_HOME", "relative", 1);
	check_load("relative XDG_CONFIG_HOME ignored", d, NULL, NULL, "loaded user configuration file %s/.config/postie/config\n", "xdgpostie");
	unsetenv("XDG_CONFIG_HOME");

	path = xasprintf("%s/rc", d->dir);
	put(d, "rc", "account a\nhost dashc\n", 0644);
	check_load("-C file", d, path, NULL, "loaded user configuration file %s/rc\n", "dashc");
	free(path);
	path = xasprintf("%s/nope", d->dir);
	check_load("-C file missing", d, path, NULL, "error 78: cannot open ~/nope: No such file or directory", NULL);
	free(path);

}

/* System and user files together. */
static void test_merge(const struct tmp *d)
{
	char *path;

	put(d, "sys", "defaults\nport 2525\naccount s1\nhost sys1\naccount a\nhost sysa\n", 0644);
	path = xasprintf("%s/sys", d->dir);
	check_load("system and user merged, user wins", d, NULL, path,
	           "loaded system configuration file %s/sys\nloaded user configuration file %s/.config/postie/config\n", "xdgpostie");
	{
		struct conf_paths p = { NULL, path, 0 };
		struct config cfg;
		struct perr e;
		char *used;
		int rc = conf_load(&p, &cfg, &used, &e);
		struct account *s1 = rc ? NULL : conf_find(&cfg, "s1"), *a = rc ? NULL : conf_find(&cfg, "a");
		check_int("system defaults apply to system accounts", s1 ? s1->port : -1, 2525);
		check_int("system defaults do not cross into the user file", a ? a->port : -1, 0);
		check_int("merged account count", rc ? -1 : (long)cfg.nacc, 2);
		check_str("system account keeps its place", rc ? e.msg : cfg.acc[0]->name, "s1");
		{
			char *want = with_dir("%s/sys, %s/.config/postie/config", d->dir);
			check_str("files read: system, then user", rc ? e.msg : cfg.files ? cfg.files : "(null)", want);
			free(want);
		}
		if (!rc) {
			config_free(&cfg);
			free(used);
		}
	}
	setenv("POSTIE_SYSTEM_CONFIG", path, 1);
	{
		struct conf_paths p = { NULL, NULL, 0 };
		struct config cfg;
		struct perr e;
		char *used = NULL;
		int rc = conf_load(&p, &cfg, &used, &e);
		check_int("POSTIE_SYSTEM_CONFIG used", rc == 0 && conf_find(&cfg, "s1") != NULL, 1);
		if (!rc)
			config_free(&cfg);
		free(used);
	}
	unsetenv("POSTIE_SYSTEM_CONFIG");
	free(path);
	path = xasprintf("%s/nosys", d->dir);
	check_load("missing system file is fine", d, NULL, path, IGN("system", "nosys") "loaded user configuration file %s/.config/postie/config\n", "xdgpostie");
	free(path);

}

/* Errors name the file; a password needs a private file. */
static void test_perms(const struct tmp *d)
{
	char *path;

	rm(d, ".config/postie/config");
	put(d, ".postierc", "account a\nhost h\n\n\n\n\n\n\n\n\n\nhots x\n", 0600);
	check_load("error names ~/.postierc and line", d, NULL, NULL, "error 78: ~/.postierc:12: unknown keyword 'hots' (did you mean 'host'?)", NULL);
	put(d, ".postierc", "account a\nhost pw\npassword x\n", 0644);
	check_load("password in a readable file", d, NULL, NULL,
	           "error 78: ~/.postierc: contains a password but is accessible by others (chmod 600 ~/.postierc)", NULL);
	put(d, ".postierc", "account a\nhost pw\npassword x\n", 0620);
	check_load("password in a group-writable file", d, NULL, NULL,
	           "error 78: ~/.postierc: contains a password but is accessible by others (chmod 600 ~/.postierc)", NULL);
	put(d, ".postierc", "account a\nhost pw\npassword x\n", 0600);
	check_load("password in a private file", d, NULL, NULL, IGN_XDG "loaded user configuration file %s/.postierc\n", "pw");
	path = xasprintf("%s/.postierc", d->dir);
	if (getuid() == 0 && chown(path, 12345, (gid_t)-1) == 0) {
		check_load("password in a file of another user", d, NULL, NULL,
		           "error 78: ~/.postierc: contains a password but is not owned by you", NULL);
		if (chown(path, 0, (gid_t)-1) != 0)
			check("chown back", 0, strerror(errno), "0");
	} else {
		report("password in a file of another user # SKIP needs root", 0);
	}
	free(path);
	put(d, ".postierc", "account a\nhost nopw\n", 0666);
	check_load("readable file without password is fine", d, NULL, NULL, IGN_XDG "loaded user configuration file %s/.postierc\n", "nopw");
	put(d, ".postierc", "account a\nhost evalpw\neval echo password x\n", 0644);
	check_load("password from eval in a readable file", d, NULL, NULL, IGN_XDG "loaded user configuration file %s/.postierc\n", "evalpw");
	put(d, "sys", "account s\nhost s\npassword x\n", 0644);
	path = xasprintf("%s/sys", d->dir);
	check_load("system file with a password is exempt", d, NULL, path,
	           "loaded system configuration file %s/sys\n" IGN_XDG "loaded user configuration file %s/.postierc\n", "evalpw");
	free(path);
	put(d, ".postierc", "account a\neval echo host example.org\n", 0600);
	check_load("eval in a loaded file", d, NULL, NULL, IGN_XDG "loaded user configuration file %s/.postierc\n", "example.org");
	put(d, ".postierc", "account a\nhost h\naccount a\n", 0600);
	check_load("redefinition in a loaded file", d, NULL, NULL, "error 78: ~/.postierc:3: account 'a' was already defined at line 1", NULL);

}

/* A list may name an account of the other file; conf_load checks lists. */
static void test_fallback_files(const struct tmp *d)
{
	struct config cfg;
	struct perr e;
	char *sys = xasprintf("%s/sys", d->dir), *used = NULL;
	struct conf_paths p = { NULL, sys, 0 };
	int rc;

	rm(d, ".config/postie/config");
	put(d, "sys", "account relay\nhost relay.example\n", 0644);
	put(d, ".postierc", "account a\nhost h\nfallback_account relay\n", 0600);
	rc = conf_load(&p, &cfg, &used, &e);
	struct account *a = rc ? NULL : conf_find(&cfg, "a");
	check_str("conf_load: a user account's list names a system account",
	          rc ? e.msg : a && a->nfallback == 1 ? a->fallback[0]->host : "(not linked)", "relay.example");
	if (!rc)
		config_free(&cfg);
	free(used);
	used = NULL;
	put(d, ".postierc", "account a\nhost h\n\nfallback_account relay other\n", 0600);
	rc = conf_load(&p, &cfg, &used, &e);
	check_str("conf_load: an unknown name is an error naming the user file",
	          rc ? e.msg : "(no error)", "~/.postierc:4: fallback_account of account 'a' names 'other', which is not an account");
	if (!rc)
		config_free(&cfg);
	free(used);
	rm(d, ".postierc");
	free(sys);
}

static void test_load(void)
{
	struct tmp d;
	char *old_home = xstrdup(getenv("HOME"));
	char *path;
	snprintf(d.dir, sizeof d.dir, "/tmp/t-conf.XXXXXX");
	if (!mkdtemp(d.dir)) {
		check("temp dir", 0, strerror(errno), "created");
		free(old_home);
		return;
	}
	setenv("HOME", d.dir, 1);
	unsetenv("XDG_CONFIG_HOME");
	unsetenv("POSTIE_SYSTEM_CONFIG");
	test_search(&d);
	test_merge(&d);
	test_perms(&d);
	test_fallback_files(&d);
	path = xasprintf("rm -rf '%s'", d.dir);
	if (system(path) != 0)
		check("cleanup", 0, d.dir, "removed");
	free(path);
	setenv("HOME", old_home, 1);
	free(old_home);
}

/* conf_seal_check: on a sealed account, a setting that decides where its
 * secret goes may not change (a different value; the same one is no
 * change), the others may; an account that is not sealed takes any.
 * conf_print hides a sealed account's password command. */
static void test_seal(void)
{
	static const struct { const char *kw, *val; int refused; } cases[] = {
		{ "host", "other.example", 1 }, { "port", "2525", 1 }, { "tls", "on", 1 },
		{ "tls_certcheck", "off", 1 }, { "tls_nocertcheck", "", 1 }, { "auth", "login", 1 },
		{ "user", "u2", 1 }, { "tls_trust_file", "/x", 1 }, { "tls_fingerprint",
		"00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF", 1 }, { "socket", "/s", 1 },
		{ "delivery", "mx", 1 }, { "source_ip", "192.0.2.1", 1 }, { "protocol", "lmtp", 1 },
		{ "auth_without_tls", "on", 1 }, { "tls_host_override", "x", 1 },
		{ "oauth_token_url", "https://x/", 1 },
		{ "host", "h", 0 }, { "timeout", "5", 0 }, { "domain", "d.example", 0 },
		{ "logfile", "/l", 0 }, { "from", "f@x", 0 }, { "dsn_notify", "never", 0 },
		{ "passwordeval", "echo x", 0 }, { "set_from_header", "on", 0 }, { "queue", "always", 0 },
	};
	struct config cfg;
	struct perr e;
	char *out;
	parse("account a\nhost h\ntls off\npassword p\npasswordeval pw-cmd\n", &cfg, &e);
	struct account *sys = conf_find(&cfg, "a");
	sys->sealed = 1;
	for (size_t i = 0; i < NELEM(cases); i++) {
		struct account *a = account_dup(sys);
		int r = conf_set(a, cases[i].kw, cases[i].val, "--opt", &e);
		if (r == 0)
			r = conf_seal_check(sys, a, "--opt", &e);
		if (cases[i].refused && r != EX_NOPERM)
			fail("status %d: %s", r, e.msg);
		else if (!cases[i].refused && r)
			fail("refused: %s", e.msg);
		reportf(tap_why[0] != '\0', "seal: %s %s %s", cases[i].kw, cases[i].val,
		        cases[i].refused ? "refused" : "allowed");
		account_free(a);
	}
	struct account *a = account_dup(sys);
	conf_set(a, "port", "2", "--port", &e);
	conf_seal_check(sys, a, "--port", &e);
	check_str("seal: the line names account, file, option and setting", e.msg,
	          "account 'a' has its password from t.rc, which you cannot read; --port may not "
	          "change where it is sent or what protects it (port)");
	out = print_of(sys);
	check_int("seal: --pretend hides a sealed password command",
	          strstr(out, "\npasswordeval = *\n") != NULL && !strstr(out, "pw-cmd"), 1);
	free(out);
	sys->sealed = 0;
	check_int("seal: an account that is not sealed takes any value", conf_seal_check(sys, a, "--port", &e), 0);
	out = print_of(sys);
	check_int("seal: --pretend shows the password command otherwise",
	          strstr(out, "\npasswordeval = pw-cmd\n") != NULL, 1);
	free(out);
	account_free(a);
	config_free(&cfg);
}

int main(void)
{
	setenv("XDG_STATE_HOME", "/state", 1);   /* the default oauth_token_file */
	char mailname[] = "/tmp/t-conf-mailname.XXXXXX";
	int fd = mkstemp(mailname);

	if (fd < 0 || write(fd, "  mail.example \n", 16) != 16) {
		perror("mailname");
		return 1;
	}
	close(fd);
	setenv("HOME", "/home/tester", 1);
	setenv("USER", "joe", 1);
	setenv("HOSTNAME", "localhost", 1);
	setenv("POSTIE_MAILNAME_FILE", mailname, 1);

	for (size_t i = 0; i < NELEM(pcases); i++)
		run_pcase(&pcases[i]);
	test_every_keyword();
	test_keyword_table();
	test_defaults();
	test_finish_use();
	test_quoting();
	test_special_parse();
	test_many_accounts();
	test_not_found();
	test_home_display();
	test_conf_set();
	test_print();
	test_dup();
	test_seal();
	test_from();
	setenv("POSTIE_MAILNAME_FILE", mailname, 1);
	test_substitution_env();
	test_fallback_link();
	test_fallback_copies();
	test_fallback_many();
	test_load();
	unlink(mailname);
	return tap_done();
}
