/* route.h - where a message goes and how: a route is a list of hops
 * (places to connect to, each with its TLS policy) tried in order, and
 * one session policy (EHLO name, SMTP or LMTP, AUTH settings). Built
 * from an account; nothing past this module reads the account's
 * connection settings. */
#ifndef POSTIE_ROUTE_H
#define POSTIE_ROUTE_H

#include "conf.h"
#include "oauth.h"
#include "status.h"
#include "tls.h"

struct dns_resolver;

/* How a hop uses TLS. */
enum tls_mode {
	TM_OFF,            /* plain text, STARTTLS never sent */
	TM_OPPORTUNISTIC,  /* STARTTLS when offered, certificate not required */
	TM_STARTTLS,       /* STARTTLS required and verified */
	TM_IMPLICIT,       /* TLS from the first byte, verified */
};

/* One place to connect to. Strings are borrowed from the account the
 * route was built from, which must outlive it. */
struct hop {
	const char *host;        /* name or IP literal; NULL when socket is set */
	const char *label;       /* for messages instead of host, or NULL
	                            ("mx1.example.org[192.0.2.1]") */
	const char *socket;      /* AF_UNIX path, or NULL */
	int port;
	const char *source_ip;   /* bind before connect, or NULL */
	int timeout;             /* seconds; 0 = none; -1 = the built-in defaults */
	enum tls_mode tls_mode;
	const char *tls_off_why; /* TM_OFF: "tls off" or why TLS is not used */
	struct tls_opts tls;     /* tls.host is the name to verify; required,
	                            timeout and plain_hint are set per attempt */
	int after_tls_failure;   /* try this hop only when the previous one
	                            failed its TLS handshake (the plain-text
	                            retry of opportunistic STARTTLS) */
};

/* What to do on a session, whichever hop it reaches. */
struct auth_policy {
	const char *mech;        /* NULL: no AUTH; "on": automatic choice; else a mechanism */
	const char *user;
	const char *password;
	const char *passwordeval;
	const char *ntlmdomain;
	int without_tls;         /* auth_without_tls: secrets may travel unprotected */
};

struct policy {
	const char *name;        /* the account's name, for messages */
	const char *helo;        /* EHLO/LHLO argument */
	int lmtp;
	struct auth_policy auth;
	int use_oauth;           /* the secret is an OAuth2 access token from oauth */
	struct oauth_conf oauth;
};

/* delivery mx: what every MX route of the account shares (mx.c builds
 * the hops per recipient domain from DNS). */
struct mx_conf {
	int on;                  /* the route has no hops of its own: mx.c */
	int port;                /* 25 unless the account sets port */
	const char *source_ip;
	int timeout;
	int tls;                 /* the account's TLS_* */
	int dane;                /* tls_dane */
	size_t address_limit;    /* mx_address_limit */
	struct tls_opts tls_opts;/* client certificate, priorities, DH bits */
	const struct dns_resolver *resolver; /* NULL: the system's (tests: golden packets) */
};

struct route {
	struct hop *hop;
	size_t nhop;
	struct policy policy;
	struct mx_conf mx;
	/* The route of the next fallback account (fallback_account), whose
	 * own fallback is the one after it; NULL: none. The first route of
	 * the chain owns the others (route_free). */
	struct route *fallback;
};

/* The route for a finished account (conf_finish done): its host or
 * socket, and for opportunistic STARTTLS the same host again in plain
 * text, used only after a failed handshake; then, through fallback, the
 * route of each of its fallback accounts, in order. */
void route_from_account(const struct account *a, struct route *r);
/* Free r's hops and the routes of its fallback accounts. */
void route_free(struct route *r);

/* The label, host or socket path, for messages and logs. */
const char *hop_name(const struct hop *h);

/* The OAuth settings of a finished account with oauth_provider set. */
void oauth_conf_from_account(const struct account *a, struct oauth_conf *c);

/* 1 when the policy asks for AUTH. */
int policy_wants_auth(const struct policy *p);

#endif
