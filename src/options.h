/* options.h - the command-line option table: one row per option, read by
 * the parser, --help and --dump-keywords (which the man-page check reads).
 * Only main.c includes it. */
#ifndef POSTIE_OPTIONS_H
#define POSTIE_OPTIONS_H

#include <getopt.h>

enum opt_act {
	ACT_KEY,        /* sets the config keyword .key from the argument */
	ACT_IGNORE,     /* sendmail compatibility: accepted, no effect */
	ACT_HELP, ACT_VERSION, ACT_PRETEND, ACT_DEBUG, ACT_SERVERINFO,
	ACT_FILE, ACT_ACCOUNT, ACT_HOST, ACT_FROM, ACT_FULLNAME, ACT_ENVID,
	ACT_READ_RCPTS, ACT_READ_FROM, ACT_MODE, ACT_QUEUE, ACT_UNSUPPORTED,
	ACT_DUMP,       /* --dump-keywords: print both tables (not in --help) */
	ACT_OAUTH_LOGIN, ACT_OAUTH_STATUS, ACT_OAUTH_TOKEN, ACT_OAUTH_LOGOUT,
	ACT_QUEUE_RUN,  /* --queue-run: the queued messages that are due */
	ACT_QUEUE_DELETE, ACT_QUEUE_HOLD, ACT_QUEUE_RELEASE,
	ACT_CONFIGURE,  /* --configure ADDR: print an account found by SRV records */
};

struct opt_def {
	const char *lname;  /* long option name, or NULL */
	int sname;          /* short option character, or 0 */
	int arg;            /* no_argument, required_argument, optional_argument */
	enum opt_act act;
	const char *key;    /* ACT_KEY: config keyword, whose doc line --help shows */
	const char *argdoc; /* argument in --help, e.g. "ADDR"; ACT_IGNORE: in the ignored list */
	const char *doc;    /* --help line; NULL = not listed (ACT_KEY: from the keyword) */
};

static const struct opt_def opt_table[] = {
	/* general */
	{ "help", 0, no_argument, ACT_HELP, NULL, NULL, "print this help and exit" },
	{ "version", 0, no_argument, ACT_VERSION, NULL, NULL, "print version and build features and exit" },
	{ "pretend", 'P', no_argument, ACT_PRETEND, NULL, NULL, "print the effective account settings (secrets masked) and exit" },
	{ "debug", 'd', no_argument, ACT_DEBUG, NULL, NULL, "print the SMTP transcript on stderr (secrets redacted)" },
	{ NULL, 'v', no_argument, ACT_DEBUG, NULL, NULL, "same as --debug" },
	{ "serverinfo", 'S', no_argument, ACT_SERVERINFO, NULL, NULL, "print the server's greeting and capabilities and exit" },
	{ "rmqs", 0, required_argument, ACT_UNSUPPORTED, NULL, "HOST", NULL },
	{ "configure", 0, required_argument, ACT_CONFIGURE, NULL, "ADDR", "print an account for ADDR from its domain's SRV records (RFC 6186) and exit" },
	{ "dump-keywords", 0, no_argument, ACT_DUMP, NULL, NULL, NULL },
	/* OAuth2 (oauth_provider set in the account) */
	{ "oauth-login", 0, no_argument, ACT_OAUTH_LOGIN, NULL, NULL, "sign the account in (device, browser or client credentials) and store its tokens" },
	{ "oauth-status", 0, no_argument, ACT_OAUTH_STATUS, NULL, NULL, "show the stored tokens' expiry, scope and last refresh (no secrets)" },
	{ "oauth-token", 0, no_argument, ACT_OAUTH_TOKEN, NULL, NULL, "print a fresh access token (for other programs' passwordeval)" },
	{ "oauth-logout", 0, no_argument, ACT_OAUTH_LOGOUT, NULL, NULL, "delete the account's stored tokens" },
	/* the queue (queue tempfail|always in the account) */
	{ "queue-run", 0, no_argument, ACT_QUEUE_RUN, NULL, NULL, "try the queued messages whose retry time has come (for timers)" },
	{ "queue-delete", 0, required_argument, ACT_QUEUE_DELETE, NULL, "ID", "delete the queued message ID" },
	{ "queue-hold", 0, required_argument, ACT_QUEUE_HOLD, NULL, "ID", "keep the queued message ID from being sent until released" },
	{ "queue-release", 0, required_argument, ACT_QUEUE_RELEASE, NULL, "ID", "release a held message; it is due at once" },
	/* account choice */
	{ "file", 'C', required_argument, ACT_FILE, NULL, "FILE", "use FILE as the user configuration file" },
	{ "account", 'a', required_argument, ACT_ACCOUNT, NULL, "NAME", "use account NAME" },
	{ "host", 0, required_argument, ACT_HOST, NULL, "HOST", "use HOST and command-line settings only; read no configuration file" },
	/* settings (config keywords) */
	{ "delivery", 0, required_argument, ACT_KEY, "delivery", "smarthost|mx", NULL },
	{ "port", 0, required_argument, ACT_KEY, "port", "N", NULL },
	{ "source-ip", 0, required_argument, ACT_KEY, "source_ip", "IP", NULL },
	{ "proxy-host", 0, required_argument, ACT_KEY, "proxy_host", "HOST", NULL },
	{ "proxy-port", 0, required_argument, ACT_KEY, "proxy_port", "N", NULL },
	{ "socket", 0, required_argument, ACT_KEY, "socket", "PATH", NULL },
	{ "timeout", 0, required_argument, ACT_KEY, "timeout", "off|SECS", NULL },
	{ "protocol", 0, required_argument, ACT_KEY, "protocol", "smtp|lmtp", NULL },
	{ "domain", 0, required_argument, ACT_KEY, "domain", "NAME", NULL },
	{ "auth", 0, optional_argument, ACT_KEY, "auth", "on|off|MECH", NULL },
	{ "user", 0, required_argument, ACT_KEY, "user", "NAME", NULL },
	{ "passwordeval", 0, required_argument, ACT_KEY, "passwordeval", "CMD", NULL },
	{ "auth-without-tls", 0, optional_argument, ACT_KEY, "auth_without_tls", "on|off", NULL },
	{ "tls", 0, optional_argument, ACT_KEY, "tls", "on|off", NULL },
	{ "tls-starttls", 0, optional_argument, ACT_KEY, "tls_starttls", "on|off", NULL },
	{ "tls-trust-file", 0, required_argument, ACT_KEY, "tls_trust_file", "FILE", NULL },
	{ "tls-crl-file", 0, required_argument, ACT_KEY, "tls_crl_file", "FILE", NULL },
	{ "tls-fingerprint", 0, required_argument, ACT_KEY, "tls_fingerprint", "HEX", NULL },
	{ "tls-key-file", 0, required_argument, ACT_KEY, "tls_key_file", "FILE", NULL },
	{ "tls-cert-file", 0, required_argument, ACT_KEY, "tls_cert_file", "FILE", NULL },
	{ "tls-certcheck", 0, optional_argument, ACT_KEY, "tls_certcheck", "on|off", NULL },
	{ "tls-priorities", 0, required_argument, ACT_KEY, "tls_priorities", "STRING", NULL },
	{ "tls-host-override", 0, required_argument, ACT_KEY, "tls_host_override", "HOST", NULL },
	{ "tls-min-dh-prime-bits", 0, required_argument, ACT_KEY, "tls_min_dh_prime_bits", "BITS", NULL },
	/* sendmail mode */
	{ "from", 'f', required_argument, ACT_FROM, NULL, "ADDR", "envelope sender (also chooses the account)" },
	{ NULL, 'r', required_argument, ACT_FROM, NULL, "ADDR", "same as -f" },
	{ NULL, 'F', required_argument, ACT_FULLNAME, NULL, "NAME", "full name for a generated From header" },
	{ "read-recipients", 't', no_argument, ACT_READ_RCPTS, NULL, NULL, "add recipients from To, Cc and Bcc" },
	{ "read-envelope-from", 0, no_argument, ACT_READ_FROM, NULL, NULL, "take the envelope sender from the From header" },
	{ "dsn-notify", 'N', required_argument, ACT_KEY, "dsn_notify", "off|COND", NULL },
	{ "dsn-return", 'R', required_argument, ACT_KEY, "dsn_return", "off|headers|full", NULL },
	{ NULL, 'V', required_argument, ACT_ENVID, NULL, "ENVID", "DSN envelope identifier" },
	{ "set-from-header", 0, optional_argument, ACT_KEY, "set_from_header", "auto|on|off", NULL },
	{ "set-date-header", 0, optional_argument, ACT_KEY, "set_date_header", "auto|off", NULL },
	{ "set-msgid-header", 0, optional_argument, ACT_KEY, "set_msgid_header", "auto|off", NULL },
	{ "set-to-header", 0, optional_argument, ACT_KEY, "set_to_header", "auto|on|off", NULL },
	{ "remove-bcc-headers", 0, optional_argument, ACT_KEY, "remove_bcc_headers", "on|off", NULL },
	{ "undisclosed-recipients", 0, optional_argument, ACT_KEY, "undisclosed_recipients", "on|off", NULL },
	{ "logfile", 'X', required_argument, ACT_KEY, "logfile", "FILE", NULL },
	{ "logfile-time-format", 0, required_argument, ACT_KEY, "logfile_time_format", "FMT", NULL },
	{ "syslog", 0, optional_argument, ACT_KEY, "syslog", "on|off|FACILITY", NULL },
	{ "aliases", 0, required_argument, ACT_KEY, "aliases", "FILE", NULL },
	{ "auto-from", 0, optional_argument, ACT_KEY, "auto_from", "on|off", NULL },
	{ "maildomain", 0, required_argument, ACT_KEY, "maildomain", "DOMAIN", NULL },
	{ NULL, 'b', required_argument, ACT_MODE, NULL, "MODE", "-bm deliver (the default), -bp list the queue, -bi newaliases; others refused" },
	{ NULL, 'q', optional_argument, ACT_QUEUE, NULL, "ISUBSTR", "try every queued message now (-qISUBSTR: those whose ID contains SUBSTR)" },
	/* accepted and ignored for sendmail compatibility */
	{ NULL, 'i', no_argument, ACT_IGNORE, NULL, NULL, NULL },
	{ NULL, 'o', required_argument, ACT_IGNORE, NULL, "X", NULL },
	{ NULL, 'B', required_argument, ACT_IGNORE, NULL, "X", NULL },
	{ NULL, 'A', required_argument, ACT_IGNORE, NULL, "X", NULL },
	{ NULL, 'G', no_argument, ACT_IGNORE, NULL, NULL, NULL },
	{ NULL, 'h', required_argument, ACT_IGNORE, NULL, "N", NULL },
	{ NULL, 'L', required_argument, ACT_IGNORE, NULL, "X", NULL },
	{ NULL, 'm', no_argument, ACT_IGNORE, NULL, NULL, NULL },
	{ NULL, 'n', no_argument, ACT_IGNORE, NULL, NULL, NULL },
	{ NULL, 'O', required_argument, ACT_IGNORE, NULL, "X", NULL },
	{ NULL, 'U', no_argument, ACT_IGNORE, NULL, NULL, NULL },
	{ NULL, 'x', no_argument, ACT_IGNORE, NULL, NULL, NULL },
};

#define OPT_COUNT (sizeof opt_table / sizeof opt_table[0])

#endif
