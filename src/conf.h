/* conf.h - msmtprc-compatible configuration: files, defaults, accounts,
 * inheritance, eval, validation, permission checks. */
#ifndef POSTIE_CONF_H
#define POSTIE_CONF_H

#include <stdio.h>
#include "msg.h"      /* HDR_* for set_from_header and the other header keywords */
#include "status.h"

enum { PROTO_SMTP = 0, PROTO_LMTP = 1 };
enum { DELIVERY_SMARTHOST = 0, DELIVERY_MX = 1 };
enum { QUEUE_OFF = 0, QUEUE_TEMPFAIL = 1, QUEUE_ALWAYS = 2 };
/* tls: TLS_UNSET means STARTTLS when the server offers it, else plain text */
enum { TLS_UNSET = -1, TLS_OFF = 0, TLS_ON = 1 };

/* One account, fully typed. Strings are NULL when unset. */
struct account {
	char *name;
	char *file;          /* config file that defined it ("command line" for --host) */
	int line;

	int delivery;        /* DELIVERY_*: through host, or to the recipients' MX hosts */
	char *host;
	int port;            /* 0 until conf_finish: 25, or 465 for TLS without STARTTLS; LMTP has no default */
	char *source_ip;
	char *proxy_host;
	int proxy_port;
	char *socket;
	int timeout;         /* seconds; 0 = off; -1 = unset (built-in defaults) */
	int protocol;        /* PROTO_* */
	char *domain;        /* EHLO/LHLO argument (substitutions applied by conf_finish) */

	char *from;          /* envelope-from (substitutions applied by conf_finish) */
	char *from_full_name;
	int allow_from_override; /* default 1 */
	char *dsn_notify;    /* NULL = off */
	char *dsn_return;    /* NULL = off; "hdrs" normalised to "headers" */

	char *auth;          /* NULL/"off" = no auth, "on" = automatic, else a mechanism */
	char *user;
	char *password;
	char *passwordeval;
	char *ntlmdomain;
	int auth_without_tls; /* allow PLAIN, LOGIN, XOAUTH2, OAUTHBEARER without verified TLS */

	/* OAuth2 (oauth.h): conf_finish fills the provider's preset into the
	 * unset URLs, scope and flow, and the default token file. */
	char *oauth_provider;     /* "microsoft", "google", "custom"; NULL: no OAuth */
	char *oauth_client_id;
	char *oauth_client_secret;
	char *oauth_client_secret_eval;
	char *oauth_tenant;       /* default "common" */
	char *oauth_flow;         /* "device", "authcode", "client_credentials" */
	char *oauth_scope;
	char *oauth_auth_url;
	char *oauth_token_url;
	char *oauth_device_url;
	int oauth_redirect_port;  /* 0: any free port */
	char *oauth_token_file;
	char *oauth_trust_file;   /* default "system" */

	int tls;             /* TLS_* */
	int tls_starttls;    /* -1 until conf_finish: 0 with port 465 and tls not off, else 1 */
	char *tls_trust_file;   /* default "system" */
	char *tls_crl_file;
	char *tls_fingerprint;
	char *tls_key_file;
	char *tls_cert_file;
	int tls_certcheck;   /* default 1 */
	char *tls_priorities;
	char *tls_host_override;
	int tls_min_dh_prime_bits; /* 0 = library default */
	int tls_dane;        /* delivery mx: DANE with DNSSEC-validated TLSA records; default 1 */
	int mx_address_limit; /* delivery mx: addresses tried per domain at most; default 5 */

	int set_from_header;  /* HDR_*, default HDR_AUTO */
	int set_date_header;  /* HDR_AUTO or HDR_OFF, default HDR_AUTO */
	int set_msgid_header; /* HDR_AUTO or HDR_OFF, default HDR_AUTO */
	int set_to_header;    /* HDR_*, default HDR_OFF; see postierc(5) */
	int remove_bcc_headers; /* default 1 */

	int queue;            /* QUEUE_OFF (default), QUEUE_TEMPFAIL, QUEUE_ALWAYS */
	char *queue_dir;      /* conf_finish: conf_queue_dir_default() when unset */
	int queue_lifetime;   /* seconds, default 5 days */
	char *queue_notify;   /* NULL: off; else who is told about an expired message */

	char *logfile;        /* "-" = stdout */
	char *logfile_time_format;
	char *syslog;         /* NULL = off, else facility name "LOG_USER" ... */
	char *aliases;

	unsigned char isset[96]; /* isset[k] != 0 when keyword k was set explicitly */

	/* Where it came from, set by conf_load. system: the system file.
	 * sealed: the system file, read by a privileged (setgid) start for a
	 * caller who cannot read it, and the account holds a secret from it
	 * (password, passwordeval, oauth_client_secret[_eval]): the settings
	 * that decide where the secret goes may not change (conf_seal_check).
	 * eval_sealed: in such a file, an eval line (which runs as the
	 * caller) set one of those settings: 1 + its keyword's index. */
	int system, sealed, eval_sealed;

	/* msmtp's obsolete auto_from/maildomain: conf_finish replaces from by
	 * "%U@maildomain" ("%U" when maildomain is empty) when auto_from is on. */
	int auto_from;
	char *maildomain;

	/* fallback_account: the names as written (blank-separated), NULL when
	 * unset, and the line of file that set them. conf_link resolves them
	 * into fallback: a copy of each named account, in order, with no list
	 * of its own (lists are not followed); account_dup copies them and
	 * conf_finish finishes them with the account. */
	char *fallback_account;
	int fallback_line;
	struct account **fallback;
	size_t nfallback;
};

struct config {
	struct account **acc;
	size_t nacc;
	char *default_alias;   /* from "account default : NAME" when no real "default" */
	int has_password_file; /* internal */
	/* Set by conf_load: the files read and every path looked at, in
	 * order, each ", "-separated; NULL when there is none. */
	char *files;
	char *searched;
	/* Internal: room in acc, and a hash index of acc by name (slot holds
	 * index + 1, 0 is empty; nslot is 0 or a power of two). */
	size_t cap;
	size_t *slot;
	size_t nslot;
};

/* A keyword as documented in postierc(5), for --help, --dump-keywords and
 * the man-page check. How its value is typed and stored stays in conf.c. */
struct conf_keyword {
	const char *name;      /* "tls_trust_file" */
	const char *arg;       /* "[file]" as in the man page */
	const char *doc;       /* one line */
	const char *def;       /* default as written in a file; NULL: not set */
	int obsolete;          /* 1 for msmtp's older spellings */
};
/* Keyword i of the table (0, 1, ... in postierc(5) order); NULL past the end. */
const struct conf_keyword *conf_keyword(size_t i);
/* The keyword called name, or NULL. */
const struct conf_keyword *conf_keyword_find(const char *name);

/* A place conf_load looks for a file when none is named, in search order.
 * In path, "~" is $HOME and "$XDG_CONFIG_HOME" is that variable when it
 * holds an absolute path, else ~/.config. */
struct conf_place {
	const char *kind;      /* "system" or "user" */
	const char *path;      /* "~/.postierc" */
	int msmtp;             /* 1: msmtp's file, read when postie's own is missing */
};
/* Place i of the search order; NULL past the end. */
const struct conf_place *conf_place(size_t i);

/* Which files to read. Any may be NULL. */
struct conf_paths {
	const char *user_file;    /* -C FILE; NULL = search the usual places */
	const char *system_file;  /* NULL = POSTIE_SYSTEM_CONFIG env, else /etc/postierc, else /etc/msmtprc */
	int no_system;            /* 1: read no system file (tests); -C alone keeps it, as in msmtp */
};

/* A privileged start (util.h process_privileged), before anything else:
 * conf_system_open opens the system file (/etc/postierc, else
 * /etc/msmtprc; no environment variable is consulted) with the process's
 * group and notes whether the real user could read it; then the caller
 * gives up the group (process_drop) and conf_system_read reads the file
 * from the open descriptor and closes it. From then on conf_load uses
 * that text for the system file (its eval lines run again each time). */
void conf_system_open(void);
void conf_system_read(void);

/* For a sealed account (before: as the files gave it; after: with the
 * command line's settings applied by where, "--port"): EX_NOPERM naming
 * the account, the setting and where when a setting that decides where
 * its secret goes differs; else 0. */
int conf_seal_check(const struct account *before, const struct account *after, const char *where,
                    struct perr *e);

/* Read the system file and the user file (see postierc(5) FILES) into cfg.
 * Accounts from the user file replace system accounts of the same name.
 * Permission check: a user file that contains a password and is readable
 * by group/others or not owned by the user fails with EX_CONFIG.
 * used_files receives a human-readable list for --pretend (may be NULL). */
int conf_load(const struct conf_paths *p, struct config *cfg, char **used_files, struct perr *e);

/* Parse one file's bytes. fname is used in messages. Pure except for eval.
 * fallback_account names stay unresolved until conf_link. */
int conf_parse_buf(const char *fname, const char *buf, size_t len, struct config *cfg, struct perr *e);

/* Resolve every account's fallback_account into copies of the named
 * accounts (conf_load does this once every file is read). EX_CONFIG,
 * naming the file and line of the list, for a name that is no account,
 * the account itself, a name given twice, an account with delivery mx on
 * either side, or lists that form a cycle. */
int conf_link(struct config *cfg, struct perr *e);

/* Find an account by name ("default" honours "account default : X"). */
struct account *conf_find(const struct config *cfg, const char *name);
/* The first account whose "from" matches addr (wildcards, +subaddress). */
struct account *conf_find_by_from(const struct config *cfg, const char *addr);

/* Set e (EX_CONFIG) for account name not found, or (name NULL) for no
 * account chosen and none called "default". The one-line message lists
 * the files read and their accounts, or the paths searched. */
int conf_not_found(const struct config *cfg, const char *name, struct perr *e);

/* A fresh account with every setting at its default. */
struct account *account_new(const char *name, const char *file, int line);
struct account *account_dup(const struct account *a);
void account_free(struct account *a);

/* Set one keyword (config spelling, e.g. "tls_trust_file"; obsolete
 * spellings accepted) from a string. value NULL or "" means "no argument"
 * (msmtp: on for booleans, unset for optional values). where is the
 * "file:line" or "--option" used in error messages. EX_CONFIG on error,
 * with "where: message". */
int conf_set(struct account *a, const char *keyword, const char *value, const char *where, struct perr *e);

/* What the finished account is for. */
enum conf_use {
	CONF_SHOW,     /* --pretend: its settings are printed, nothing connects */
	CONF_CONNECT,  /* it is used to connect */
};

/* Final checks and substitutions before use: %U %H %C %M in from and
 * domain, default port, host or socket required, auth/tls consistency;
 * the same for each fallback account, and EX_CONFIG for fallback
 * accounts on an account with delivery mx (--delivery mx).
 * For CONF_CONNECT it then logs (-v) which account is used, and refuses
 * with EX_UNAVAILABLE a setting this version cannot honour (proxy_host)
 * rather than connect without it, in a fallback account too. */
int conf_finish(struct account *a, enum conf_use use, struct perr *e);

/* Print the effective settings as "keyword = value" lines, secrets as '*';
 * then "fallback account NAME = HOST port N" (or "= socket PATH") for
 * each fallback account, in order. */
void conf_print(const struct account *a, FILE *out);

void config_free(struct config *cfg);

/* The queue directory without a queue_dir line: /var/spool/postie for
 * root, else $XDG_STATE_HOME/postie/queue (~/.local/state/postie/queue). */
char *conf_queue_dir_default(void);

#endif
