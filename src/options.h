/* options.h - the command-line option table: one row per option, read by
 * the parser, --help and the man-page check. Only main.c includes it. */
#ifndef POSTIE_OPTIONS_H
#define POSTIE_OPTIONS_H

#include <getopt.h>

enum opt_act {
	ACT_KEY,        /* sets the config keyword .key from the argument */
	ACT_IGNORE,     /* sendmail compatibility: accepted, no effect */
	ACT_HELP, ACT_VERSION, ACT_PRETEND, ACT_DEBUG, ACT_SERVERINFO,
	ACT_FILE, ACT_ACCOUNT, ACT_HOST, ACT_FROM, ACT_FULLNAME, ACT_ENVID,
	ACT_READ_RCPTS, ACT_READ_FROM, ACT_MODE, ACT_QUEUE, ACT_UNSUPPORTED,
};

struct opt_def {
	const char *lname;  /* long option name, or NULL */
	int sname;          /* short option character, or 0 */
	int arg;            /* no_argument, required_argument, optional_argument */
	enum opt_act act;
	const char *key;    /* ACT_KEY: config keyword */
	const char *argdoc; /* argument in --help, e.g. "ADDR" */
	const char *doc;    /* --help line; NULL = not listed (ignored flags) */
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
	{ "configure", 0, required_argument, ACT_UNSUPPORTED, NULL, "ADDR", NULL },
	/* account choice */
	{ "file", 'C', required_argument, ACT_FILE, NULL, "FILE", "use FILE as the user configuration file" },
	{ "account", 'a', required_argument, ACT_ACCOUNT, NULL, "NAME", "use account NAME" },
	{ "host", 0, required_argument, ACT_HOST, NULL, "HOST", "use HOST and command-line settings only; read no configuration file" },
	/* settings (config keywords) */
	{ "port", 0, required_argument, ACT_KEY, "port", "N", "server port" },
	{ "source-ip", 0, required_argument, ACT_KEY, "source_ip", "IP", "bind to this source address" },
	{ "proxy-host", 0, required_argument, ACT_KEY, "proxy_host", "HOST", "SOCKS proxy host (not supported yet)" },
	{ "proxy-port", 0, required_argument, ACT_KEY, "proxy_port", "N", "SOCKS proxy port" },
	{ "socket", 0, required_argument, ACT_KEY, "socket", "PATH", "connect to a local (AF_UNIX) socket" },
	{ "timeout", 0, required_argument, ACT_KEY, "timeout", "off|SECS", "network timeout" },
	{ "protocol", 0, required_argument, ACT_KEY, "protocol", "smtp|lmtp", "protocol" },
	{ "domain", 0, required_argument, ACT_KEY, "domain", "NAME", "EHLO/LHLO argument" },
	{ "auth", 0, optional_argument, ACT_KEY, "auth", "on|off|MECH", "authenticate: on (automatic), off, or a mechanism" },
	{ "user", 0, required_argument, ACT_KEY, "user", "NAME", "user name for authentication" },
	{ "passwordeval", 0, required_argument, ACT_KEY, "passwordeval", "CMD", "command that prints the password" },
	{ "auth-without-tls", 0, optional_argument, ACT_KEY, "auth_without_tls", "on|off", "allow PLAIN/LOGIN/OAuth without verified TLS" },
	{ "tls", 0, optional_argument, ACT_KEY, "tls", "on|off", "require TLS (on) or never use it (off)" },
	{ "tls-starttls", 0, optional_argument, ACT_KEY, "tls_starttls", "on|off", "STARTTLS (on) or implicit TLS (off)" },
	{ "tls-trust-file", 0, required_argument, ACT_KEY, "tls_trust_file", "FILE", "trusted CA certificates" },
	{ "tls-crl-file", 0, required_argument, ACT_KEY, "tls_crl_file", "FILE", "certificate revocation list" },
	{ "tls-fingerprint", 0, required_argument, ACT_KEY, "tls_fingerprint", "HEX", "pin the server certificate" },
	{ "tls-key-file", 0, required_argument, ACT_KEY, "tls_key_file", "FILE", "client certificate key" },
	{ "tls-cert-file", 0, required_argument, ACT_KEY, "tls_cert_file", "FILE", "client certificate" },
	{ "tls-certcheck", 0, optional_argument, ACT_KEY, "tls_certcheck", "on|off", "verify the server certificate" },
	{ "tls-priorities", 0, required_argument, ACT_KEY, "tls_priorities", "STRING", "GnuTLS priority string" },
	{ "tls-host-override", 0, required_argument, ACT_KEY, "tls_host_override", "HOST", "host name to verify instead" },
	{ "tls-min-dh-prime-bits", 0, required_argument, ACT_KEY, "tls_min_dh_prime_bits", "BITS", "minimum DH prime size" },
	/* sendmail mode */
	{ "from", 'f', required_argument, ACT_FROM, NULL, "ADDR", "envelope sender (also chooses the account)" },
	{ NULL, 'r', required_argument, ACT_FROM, NULL, "ADDR", "same as -f" },
	{ NULL, 'F', required_argument, ACT_FULLNAME, NULL, "NAME", "full name for a generated From header" },
	{ "read-recipients", 't', no_argument, ACT_READ_RCPTS, NULL, NULL, "add recipients from To, Cc and Bcc" },
	{ "read-envelope-from", 0, no_argument, ACT_READ_FROM, NULL, NULL, "take the envelope sender from the From header" },
	{ "dsn-notify", 'N', required_argument, ACT_KEY, "dsn_notify", "off|COND", "DSN notify conditions" },
	{ "dsn-return", 'R', required_argument, ACT_KEY, "dsn_return", "off|headers|full", "DSN return amount" },
	{ NULL, 'V', required_argument, ACT_ENVID, NULL, "ENVID", "DSN envelope identifier" },
	{ "set-from-header", 0, optional_argument, ACT_KEY, "set_from_header", "auto|on|off", "From header handling" },
	{ "set-date-header", 0, optional_argument, ACT_KEY, "set_date_header", "auto|off", "Date header handling" },
	{ "set-msgid-header", 0, optional_argument, ACT_KEY, "set_msgid_header", "auto|off", "Message-ID header handling" },
	{ "set-to-header", 0, optional_argument, ACT_KEY, "set_to_header", "auto|on|off", "To header handling" },
	{ "remove-bcc-headers", 0, optional_argument, ACT_KEY, "remove_bcc_headers", "on|off", "remove Bcc headers" },
	{ "undisclosed-recipients", 0, optional_argument, ACT_KEY, "undisclosed_recipients", "on|off", "same as --set-to-header=on" },
	{ "logfile", 'X', required_argument, ACT_KEY, "logfile", "FILE", "append a log line to FILE" },
	{ "logfile-time-format", 0, required_argument, ACT_KEY, "logfile_time_format", "FMT", "strftime format for the log file" },
	{ "syslog", 0, optional_argument, ACT_KEY, "syslog", "on|off|FACILITY", "log to syslog" },
	{ "aliases", 0, required_argument, ACT_KEY, "aliases", "FILE", "aliases file for recipients without a domain" },
	{ "auto-from", 0, optional_argument, ACT_KEY, "auto_from", "on|off", "obsolete: from = %U@maildomain" },
	{ "maildomain", 0, required_argument, ACT_KEY, "maildomain", "DOMAIN", "obsolete: domain for auto_from" },
	{ NULL, 'b', required_argument, ACT_MODE, NULL, "MODE", "-bm deliver (the default), -bp list the queue, -bi newaliases; others refused" },
	{ NULL, 'q', optional_argument, ACT_QUEUE, NULL, NULL, NULL },
	/* accepted and ignored for sendmail compatibility */
	{ NULL, 'i', no_argument, ACT_IGNORE, NULL, NULL, NULL },
	{ NULL, 'o', required_argument, ACT_IGNORE, NULL, NULL, NULL },
	{ NULL, 'B', required_argument, ACT_IGNORE, NULL, NULL, NULL },
	{ NULL, 'A', required_argument, ACT_IGNORE, NULL, NULL, NULL },
	{ NULL, 'G', no_argument, ACT_IGNORE, NULL, NULL, NULL },
	{ NULL, 'h', required_argument, ACT_IGNORE, NULL, NULL, NULL },
	{ NULL, 'L', required_argument, ACT_IGNORE, NULL, NULL, NULL },
	{ NULL, 'm', no_argument, ACT_IGNORE, NULL, NULL, NULL },
	{ NULL, 'n', no_argument, ACT_IGNORE, NULL, NULL, NULL },
	{ NULL, 'O', required_argument, ACT_IGNORE, NULL, NULL, NULL },
	{ NULL, 'U', no_argument, ACT_IGNORE, NULL, NULL, NULL },
	{ NULL, 'x', no_argument, ACT_IGNORE, NULL, NULL, NULL },
};

#define OPT_COUNT (sizeof opt_table / sizeof opt_table[0])

#endif
