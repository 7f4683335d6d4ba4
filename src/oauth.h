/* oauth.h - OAuth 2.0 for SMTP AUTH (XOAUTH2, OAUTHBEARER): provider
 * presets, the three ways to log in (device authorization, RFC 8628;
 * authorization code with PKCE, RFC 7636, and a loopback redirect, RFC
 * 8252; client credentials), the token file, and a fresh access token at
 * send time (refreshed under a lock, stored atomically). HTTP through
 * libcurl, JSON through jansson; the request bodies and the response
 * readers are pure functions. */
#ifndef POSTIE_OAUTH_H
#define POSTIE_OAUTH_H

#include <stddef.h>
#include <stdio.h>
#include <time.h>
#include "status.h"
#include "util.h"

#define OAUTH_REFRESH_MARGIN 120   /* refresh an access token with less left (seconds) */

/* What a provider preset fills in. "%s" in a URL is the tenant. */
struct oauth_preset {
	const char *name;          /* "microsoft", "google", "custom" */
	const char *auth_url, *token_url, *device_url;
	const char *scope;         /* delegated flows */
	const char *app_scope;     /* client credentials */
	const char *flow;          /* the default flow */
	int device_ok;             /* the device flow can reach the mail scope */
};
/* The preset named name, NULL if there is none. */
const struct oauth_preset *oauth_preset(const char *name);

/* One account's OAuth settings, complete (conf_finish applied the preset). */
struct oauth_conf {
	const char *account;       /* the account's name, for messages */
	const char *provider;
	const char *flow;          /* "device", "authcode" or "client_credentials" */
	const char *client_id;
	const char *client_secret;
	const char *client_secret_eval;
	const char *scope;
	const char *auth_url, *token_url, *device_url;
	int redirect_port;         /* 0: any free port */
	const char *token_file;
	const char *trust_file;    /* "system" or a PEM file */
	int timeout;               /* seconds for each HTTP request, 0: none */
};

/* The tokens as stored. Strings allocated; oauth_tokens_free wipes them. */
struct oauth_tokens {
	char *access_token;
	char *token_type;
	char *refresh_token;       /* NULL: none */
	char *scope;
	long long expires_at;      /* 0: unknown */
	long long obtained_at;
	long long refreshed_at;    /* 0: never refreshed */
};
void oauth_tokens_free(struct oauth_tokens *t);

/* An error answer of an authorization server (RFC 6749 5.2, RFC 8628 3.5). */
struct oauth_error {
	char error[64];            /* "invalid_grant", "authorization_pending", ... */
	char description[256];     /* printable, shortened */
};

/* A device authorization answer (RFC 8628 3.2). */
struct oauth_device {
	char *device_code, *user_code, *verification_uri, *verification_uri_complete;
	int expires_in, interval;
};
void oauth_device_free(struct oauth_device *d);

/* ---- pure functions ---- */

/* Append key=value, form-urlencoded (RFC 6749 Appendix B), '&' between. */
void oauth_form_add(struct buf *b, const char *key, const char *value);

/* A token endpoint answer: 0 with t filled (expires_at from now +
 * expires_in; a refresh token kept only when given), 1 with err filled
 * for an error answer, -1 when it is neither (the message in e). */
int oauth_parse_token(const char *json, size_t n, long long now, struct oauth_tokens *t,
                      struct oauth_error *err, struct perr *e);
/* A device authorization answer: 0, 1 (err), or -1 (e). */
int oauth_parse_device(const char *json, size_t n, struct oauth_device *d,
                       struct oauth_error *err, struct perr *e);

/* The token file's JSON and back (NULL or an exit status with e set when
 * jansson cannot be loaded). */
char *oauth_tokens_json(const struct oauth_tokens *t, struct perr *e);
int oauth_tokens_parse(const char *json, size_t n, struct oauth_tokens *t, struct perr *e);

/* PKCE: a verifier of 43 base64url characters from 32 random octets and
 * its S256 challenge (base64url of SHA-256, no padding). */
int oauth_pkce(char verifier[44], char challenge[44], struct perr *e);
/* The S256 challenge of a verifier. */
int oauth_pkce_challenge(const char *verifier, char challenge[44], struct perr *e);

/* The authorization URL for the authorization-code flow. Allocated. */
char *oauth_authorize_url(const struct oauth_conf *c, const char *redirect_uri,
                          const char *state, const char *challenge);

/* From a pasted redirect address, its query, or the request line the
 * browser sent ("GET /?code=..&state=.. HTTP/1.1"): code, state and
 * error (each allocated or NULL). 0 when a code or an error was found. */
int oauth_parse_redirect(const char *text, char **code, char **state, char **error);

/* ---- with the network and files ---- */

/* postie --oauth-login: run the account's flow and store the tokens. */
int oauth_login(const struct oauth_conf *c, FILE *out, struct perr *e);
/* --oauth-status: the stored tokens' facts (no secrets). */
int oauth_status(const struct oauth_conf *c, FILE *out, struct perr *e);
/* --oauth-logout: delete the token file. */
int oauth_logout(const struct oauth_conf *c, FILE *out, struct perr *e);

/* A valid access token for c (allocated; free with secret_free), refreshed
 * first when it has less than OAUTH_REFRESH_MARGIN seconds left, or
 * always when force is set (the server refused the one it was given).
 * Errors: FC_AUTH (77) when there is no usable token or refresh token
 * ("run postie -a NAME --oauth-login"), FC_OAUTH_TEMP (75) when the token
 * endpoint fails for now, FC_CONFIG for an unsafe token file. */
int oauth_access_token(const struct oauth_conf *c, int force, char **token, struct perr *e);

#endif
