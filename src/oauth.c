/* oauth.c - OAuth 2.0 tokens for SMTP AUTH: presets, request bodies and
 * response readers (pure), HTTP through libcurl, the token file (0600 in
 * a 0700 directory, written atomically, refreshed under flock), and the
 * login flows: device authorization (RFC 8628), authorization code with
 * PKCE and a loopback redirect (RFC 7636, RFC 8252), client credentials.
 * Tokens, codes and secrets never reach a message, the transcript or
 * the log. */
#include "oauth.h"
#include "curllib.h"
#include "jsonlib.h"
#include "tlslib.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "secret.h"

#define HTTP_MAX_BODY (256 * 1024)   /* an answer larger than this is refused */
#define REDIRECT_MAX_REQUEST 8192    /* the browser's request, bounded */
#define LOGIN_MAX_SECONDS 900        /* the authorization-code flow waits this long */
#define DEVICE_GRANT "urn:ietf:params:oauth:grant-type:device_code"

/* ---- presets ---- */

#define MS "https://login.microsoftonline.com/%s/oauth2/v2.0/"

static const struct oauth_preset presets[] = {
	{ "microsoft", MS "authorize", MS "token", MS "devicecode",
	  "https://outlook.office.com/SMTP.Send offline_access",
	  "https://outlook.office365.com/.default", "device", 1 },
	/* Google refuses Gmail scopes in the device flow (invalid_scope). */
	{ "google", "https://accounts.google.com/o/oauth2/v2/auth", "https://oauth2.googleapis.com/token",
	  NULL, "https://mail.google.com/", NULL, "authcode", 0 },
	{ "custom", NULL, NULL, NULL, NULL, NULL, "authcode", 1 },
};

const struct oauth_preset *oauth_preset(const char *name)
{
	for (size_t i = 0; name && i < sizeof presets / sizeof presets[0]; i++)
		if (ascii_casecmp(name, presets[i].name) == 0)
			return &presets[i];
	return NULL;
}

/* ---- small things ---- */

static void free_secret(char **s)
{
	secret_free(*s);
	*s = NULL;
}

void oauth_tokens_free(struct oauth_tokens *t)
{
	free_secret(&t->access_token);
	free_secret(&t->refresh_token);
	free(t->token_type);
	free(t->scope);
	memset(t, 0, sizeof *t);
}

void oauth_device_free(struct oauth_device *d)
{
	free_secret(&d->device_code);
	free(d->user_code);
	free(d->verification_uri);
	free(d->verification_uri_complete);
	memset(d, 0, sizeof *d);
}

static int unreserved(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '.' || c == '_' || c == '~';
}

static void add_encoded(struct buf *b, const char *s)
{
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (unreserved(c))
			buf_addc(b, (char)c);
		else
			buf_printf(b, "%%%02X", c);
	}
}

void oauth_form_add(struct buf *b, const char *key, const char *value)
{
	if (b->len)
		buf_addc(b, '&');
	add_encoded(b, key);
	buf_addc(b, '=');
	add_encoded(b, value ? value : "");
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Percent-decode [p, p+n) ('+' is a space in a query). Allocated. */
static char *decode(const char *p, size_t n)
{
	struct buf b;
	buf_init(&b);
	buf_add(&b, "", 0);
	for (size_t i = 0; i < n; i++) {
		int hi, lo;
		if (p[i] == '%' && i + 2 < n && (hi = hexval(p[i + 1])) >= 0 &&
		    (lo = hexval(p[i + 2])) >= 0) {
			buf_addc(&b, (char)(hi * 16 + lo));
			i += 2;
		} else {
			buf_addc(&b, p[i] == '+' ? ' ' : p[i]);
		}
	}
	return buf_steal(&b);
}

/* Printable, shortened copy of a server's words. */
static void printable(char *dst, size_t cap, const char *s)
{
	size_t k = 0;
	for (; s && *s && k + 1 < cap; s++)
		dst[k++] = (unsigned char)*s >= 0x20 && (unsigned char)*s < 0x7f ? *s : '?';
	dst[k] = '\0';
}

/* ---- JSON readers ---- */

static char *json_str(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);
	return json_is_string(v) ? xstrdup(json_string_value(v)) : NULL;
}

static long long json_num(json_t *o, const char *key, long long dflt)
{
	json_t *v = json_object_get(o, key);
	if (json_is_integer(v))
		return json_integer_value(v);
	if (json_is_string(v))   /* some servers quote numbers */
		return strtoll(json_string_value(v), NULL, 10);
	return dflt;
}

/* Load a JSON object: 0, 1 with err filled when it carries "error", -1
 * with e set when it is not an object. */
static int load_object(const char *json, size_t n, json_t **out, struct oauth_error *err,
                       struct perr *e)
{
	*out = NULL;
	if (jsonlib_load(e))
		return -1;
	json_error_t je;
	json_t *o = json_loadb(json, n, 0, &je);
	if (!json_is_object(o)) {
		json_decref(o);
		perr_fail(e, FC_PROTOCOL, "the authorization server's answer is not a JSON object");
		return -1;
	}
	json_t *er = json_object_get(o, "error");
	if (json_is_string(er)) {
		printable(err->error, sizeof err->error, json_string_value(er));
		json_t *d = json_object_get(o, "error_description");
		printable(err->description, sizeof err->description,
		          json_is_string(d) ? json_string_value(d) : "");
		json_decref(o);
		return 1;
	}
	*out = o;
	return 0;
}

int oauth_parse_token(const char *json, size_t n, long long now, struct oauth_tokens *t,
                      struct oauth_error *err, struct perr *e)
{
	json_t *o;
	memset(t, 0, sizeof *t);
	int r = load_object(json, n, &o, err, e);
	if (r)
		return r;
	t->access_token = json_str(o, "access_token");
	t->token_type = json_str(o, "token_type");
	t->refresh_token = json_str(o, "refresh_token");
	t->scope = json_str(o, "scope");
	long long in = json_num(o, "expires_in", 0);
	t->expires_at = in > 0 ? now + in : 0;
	t->obtained_at = now;
	json_decref(o);
	if (!t->access_token || !*t->access_token) {
		oauth_tokens_free(t);
		perr_fail(e, FC_PROTOCOL, "the token endpoint's answer has no access_token");
		return -1;
	}
	return 0;
}

int oauth_parse_device(const char *json, size_t n, struct oauth_device *d,
                       struct oauth_error *err, struct perr *e)
{
	json_t *o;
	memset(d, 0, sizeof *d);
	int r = load_object(json, n, &o, err, e);
	if (r)
		return r;
	d->device_code = json_str(o, "device_code");
	d->user_code = json_str(o, "user_code");
	d->verification_uri = json_str(o, "verification_uri");
	if (!d->verification_uri)   /* Google's older spelling */
		d->verification_uri = json_str(o, "verification_url");
	d->verification_uri_complete = json_str(o, "verification_uri_complete");
	d->expires_in = (int)json_num(o, "expires_in", 900);
	d->interval = (int)json_num(o, "interval", 5);
	json_decref(o);
	if (!d->device_code || !d->user_code || !d->verification_uri) {
		oauth_device_free(d);
		perr_fail(e, FC_PROTOCOL, "the device authorization answer lacks device_code, "
		          "user_code or verification_uri");
		return -1;
	}
	if (d->interval < 1)
		d->interval = 5;   /* RFC 8628 3.2 */
	return 0;
}

static void set_str(json_t *o, const char *key, const char *v)
{
	if (v)
		json_object_set_new(o, key, json_string(v));
}

static void set_num(json_t *o, const char *key, long long v)
{
	if (v)
		json_object_set_new(o, key, json_integer(v));
}

char *oauth_tokens_json(const struct oauth_tokens *t, struct perr *e)
{
	if (jsonlib_load(e))
		return NULL;
	json_t *o = json_object();
	json_object_set_new(o, "version", json_integer(1));
	set_str(o, "access_token", t->access_token);
	set_str(o, "token_type", t->token_type);
	set_num(o, "expires_at", t->expires_at);
	set_str(o, "refresh_token", t->refresh_token);
	set_str(o, "scope", t->scope);
	set_num(o, "obtained_at", t->obtained_at);
	set_num(o, "refreshed_at", t->refreshed_at);
	char *s = json_dumps(o, JSON_INDENT(1) | JSON_PRESERVE_ORDER);
	json_decref(o);
	if (!s) {
		perr_fail(e, FC_OS, "out of memory");
		return NULL;
	}
	char *copy = xasprintf("%s\n", s);
	wipe(s, strlen(s));
	free(s);
	return copy;
}

int oauth_tokens_parse(const char *json, size_t n, struct oauth_tokens *t, struct perr *e)
{
	struct oauth_error err;
	json_t *o;
	memset(t, 0, sizeof *t);
	if (jsonlib_load(e))
		return e->ex;
	if (load_object(json, n, &o, &err, e) != 0)
		return perr_fail(e, FC_AUTH, "the token file is not valid");
	if (json_num(o, "version", 0) != 1) {
		json_decref(o);
		return perr_fail(e, FC_AUTH, "the token file has an unknown version");
	}
	t->access_token = json_str(o, "access_token");
	t->token_type = json_str(o, "token_type");
	t->refresh_token = json_str(o, "refresh_token");
	t->scope = json_str(o, "scope");
	t->expires_at = json_num(o, "expires_at", 0);
	t->obtained_at = json_num(o, "obtained_at", 0);
	t->refreshed_at = json_num(o, "refreshed_at", 0);
	json_decref(o);
	return 0;
}

/* ---- PKCE and the authorization request ---- */

static void base64url(const unsigned char *p, size_t n, char *out)
{
	static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	size_t k = 0;
	for (size_t i = 0; i < n; i += 3) {
		unsigned v = (unsigned)p[i] << 16 | (i + 1 < n ? (unsigned)p[i + 1] << 8 : 0) |
		             (i + 2 < n ? p[i + 2] : 0);
		out[k++] = tab[v >> 18 & 63];
		out[k++] = tab[v >> 12 & 63];
		if (i + 1 < n)
			out[k++] = tab[v >> 6 & 63];
		if (i + 2 < n)
			out[k++] = tab[v & 63];
	}
	out[k] = '\0';
}

int oauth_pkce_challenge(const char *verifier, char challenge[44], struct perr *e)
{
	unsigned char d[32];
	if (tlslib_load(e))
		return e->ex;
	gnutls_hash_fast(GNUTLS_DIG_SHA256, verifier, strlen(verifier), d);
	base64url(d, sizeof d, challenge);
	return 0;
}

static int random_text(char out[44], struct perr *e)
{
	unsigned char r[32];
	if (getrandom(r, sizeof r, 0) != (ssize_t)sizeof r)
		return perr_fail(e, FC_OS, "getrandom: %s", strerror(errno));
	base64url(r, sizeof r, out);
	wipe(r, sizeof r);
	return 0;
}

int oauth_pkce(char verifier[44], char challenge[44], struct perr *e)
{
	if (random_text(verifier, e))
		return e->ex;
	return oauth_pkce_challenge(verifier, challenge, e);
}

char *oauth_authorize_url(const struct oauth_conf *c, const char *redirect_uri,
                          const char *state, const char *challenge)
{
	struct buf q, u;
	buf_init(&q);
	oauth_form_add(&q, "response_type", "code");
	oauth_form_add(&q, "client_id", c->client_id);
	oauth_form_add(&q, "redirect_uri", redirect_uri);
	oauth_form_add(&q, "scope", c->scope);
	oauth_form_add(&q, "state", state);
	oauth_form_add(&q, "code_challenge", challenge);
	oauth_form_add(&q, "code_challenge_method", "S256");
	if (ascii_casecmp(c->provider, "google") == 0) {
		/* a refresh token every time, also after an earlier consent */
		oauth_form_add(&q, "access_type", "offline");
		oauth_form_add(&q, "prompt", "consent");
	}
	buf_init(&u);
	buf_printf(&u, "%s%c%s", c->auth_url, strchr(c->auth_url, '?') ? '&' : '?', q.s);
	buf_free(&q);
	return buf_steal(&u);
}

/* The value of key in a query [p, end), or NULL. */
static char *query_value(const char *p, const char *end, const char *key)
{
	size_t kl = strlen(key);
	while (p < end) {
		const char *amp = memchr(p, '&', (size_t)(end - p));
		const char *stop = amp ? amp : end;
		if ((size_t)(stop - p) > kl && strncmp(p, key, kl) == 0 && p[kl] == '=')
			return decode(p + kl + 1, (size_t)(stop - p - (long)kl - 1));
		p = amp ? amp + 1 : end;
	}
	return NULL;
}

int oauth_parse_redirect(const char *text, char **code, char **state, char **error)
{
	const char *p = text, *end;
	*code = *state = *error = NULL;
	while (*p == ' ' || *p == '\t')
		p++;
	if (strncmp(p, "GET ", 4) == 0)
		p += 4;
	end = p + strcspn(p, " \r\n#");
	const char *q = memchr(p, '?', (size_t)(end - p));
	if (q)
		p = q + 1;
	*code = query_value(p, end, "code");
	*state = query_value(p, end, "state");
	*error = query_value(p, end, "error");
	return *code || *error ? 0 : -1;
}

/* ---- HTTP ---- */

static size_t collect(char *p, size_t size, size_t n, void *ctx)
{
	struct buf *b = ctx;
	if (b->len + size * n > HTTP_MAX_BODY)
		return 0;
	buf_add(b, p, size * n);
	return size * n;
}

/* POST the form body to url; the answer in resp, its status in *status.
 * A transport failure is FC_OAUTH_TEMP, naming the URL and the reason. */
static int http_post(const struct oauth_conf *c, const char *url, const char *body,
                     struct buf *resp, long *status, struct perr *e)
{
	char errbuf[CURL_ERROR_SIZE] = "";
	if (curllib_load(e))
		return e->ex;
	struct curl_slist *h = curl_slist_append(NULL, "Accept: application/json");
	CURL *k = curl_easy_init();
	if (!k) {
		curl_slist_free_all(h);
		return perr_fail(e, FC_INTERNAL, "cannot start libcurl");
	}
	curl_easy_setopt(k, CURLOPT_URL, url);
	curl_easy_setopt(k, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(k, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(k, CURLOPT_USERAGENT, "postie/" PACKAGE_VERSION);
	curl_easy_setopt(k, CURLOPT_PROTOCOLS_STR, "https");
	curl_easy_setopt(k, CURLOPT_TIMEOUT, (long)c->timeout);
	curl_easy_setopt(k, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(k, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(k, CURLOPT_WRITEFUNCTION, collect);
	curl_easy_setopt(k, CURLOPT_WRITEDATA, resp);
	if (c->trust_file && strcmp(c->trust_file, "system") != 0)
		curl_easy_setopt(k, CURLOPT_CAINFO, c->trust_file);
	log_info("oauth: POST %s", url);
	CURLcode r = curl_easy_perform(k);
	curl_easy_getinfo(k, CURLINFO_RESPONSE_CODE, status);
	curl_easy_cleanup(k);
	curl_slist_free_all(h);
	if (r != CURLE_OK)
		return perr_fail(e, FC_OAUTH_TEMP, "account %s: cannot reach %s: %s", c->account, url,
		                 *errbuf ? errbuf : curl_easy_strerror(r));
	log_info("oauth: HTTP %ld, %zu bytes", *status, resp->len);
	return 0;
}

/* The client secret, from oauth_client_secret or its _eval (NULL: none). */
static int client_secret(const struct oauth_conf *c, char **out, struct perr *e)
{
	*out = NULL;
	if (c->client_secret)
		*out = xstrdup(c->client_secret);
	else if (c->client_secret_eval)
		return secret_eval(c->account, "oauth_client_secret_eval", "secret",
		                   c->client_secret_eval, out, e);
	return 0;
}

static const char *hint(void)
{
	return "run postie -a %s --oauth-login";
}

/* An error answer as a failure: the grant is gone (77, log in again),
 * the client or request is misconfigured (78). */
static int grant_failed(const struct oauth_conf *c, const struct oauth_error *er, struct perr *e)
{
	static const char *const relogin[] = { "invalid_grant", "access_denied", "expired_token",
	                                       "interaction_required", "consent_required" };
	char msg[400];
	snprintf(msg, sizeof msg, "account %s: the authorization server refused: %s%s%s", c->account,
	         er->error, er->description[0] ? ": " : "", er->description);
	for (size_t i = 0; i < sizeof relogin / sizeof relogin[0]; i++)
		if (strcmp(er->error, relogin[i]) == 0) {
			char h[200];
			snprintf(h, sizeof h, hint(), c->account);
			return perr_fail(e, FC_AUTH, "%s; %s", msg, h);
		}
	return perr_fail(e, FC_CONFIG, "%s (check oauth_client_id, oauth_client_secret and oauth_scope)",
	                 msg);
}

/* POST to the token endpoint and read tokens: 0, 1 with er for an error
 * answer, -1 with e set for a failure (unreachable, 429, 5xx, garbage). */
static int token_request(const struct oauth_conf *c, const char *body, struct oauth_tokens *t,
                         struct oauth_error *er, struct perr *e)
{
	struct buf resp;
	long status = 0;
	buf_init(&resp);
	memset(er, 0, sizeof *er);
	int r = http_post(c, c->token_url, body, &resp, &status, e) ? -1 : 0;
	if (r == 0 && (status == 429 || status >= 500)) {
		perr_fail(e, FC_OAUTH_TEMP, "account %s: the token endpoint %s answered HTTP %ld; "
		          "try again later", c->account, c->token_url, status);
		r = -1;
	} else if (r == 0) {
		r = oauth_parse_token(resp.s ? resp.s : "", resp.len, (long long)time(NULL), t, er, e);
	}
	buf_free(&resp);
	return r;
}

/* ---- the token file ---- */

static int mkdirs(const char *path, struct perr *e)
{
	char *failed;
	if (mkdir_parents(path, &failed) == 0)
		return 0;
	int r = perr_fail(e, FC_CANTCREAT, "cannot create directory %s: %s", failed, strerror(errno));
	free(failed);
	return r;
}

/* The file must be the user's and private: it holds a refresh token. */
static int check_private(const char *path, const struct stat *st, struct perr *e)
{
	if (st->st_uid != geteuid())
		return perr_fail(e, FC_CONFIG, "token file %s is not owned by you", path);
	if (st->st_mode & 077)
		return perr_fail(e, FC_CONFIG, "token file %s is accessible by others (chmod 600 %s)",
		                 path, path);
	return 0;
}

/* Read the tokens from an open file. */
static int read_tokens(const struct oauth_conf *c, int fd, struct oauth_tokens *t, struct perr *e)
{
	struct stat st;
	char *text = NULL;
	if (fstat(fd, &st) < 0)
		return perr_fail(e, FC_IOERR, "%s: %s", c->token_file, strerror(errno));
	if (check_private(c->token_file, &st, e) || jsonlib_load(e))
		return e->ex;   /* not "not valid" when jansson is missing */
	if (read_fd(fd, HTTP_MAX_BODY, &text) < 0) {
		free(text);
		return perr_fail(e, FC_IOERR, "cannot read %s: %s", c->token_file, strerror(errno));
	}
	int r = oauth_tokens_parse(text, strlen(text), t, e);
	secret_free(text);
	if (r) {
		char h[200];
		snprintf(h, sizeof h, hint(), c->account);
		return perr_fail(e, FC_AUTH, "account %s: the token file %s is not valid; %s", c->account,
		                 c->token_file, h);
	}
	return 0;
}

static int no_tokens(const struct oauth_conf *c, struct perr *e)
{
	char h[200];
	snprintf(h, sizeof h, hint(), c->account);
	return perr_fail(e, FC_AUTH, "account %s: no OAuth tokens stored (%s); %s", c->account,
	                 c->token_file, h);
}

static int load_tokens(const struct oauth_conf *c, struct oauth_tokens *t, struct perr *e)
{
	int fd = open(c->token_file, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return errno == ENOENT ? no_tokens(c, e)
		                       : perr_fail(e, FC_CONFIG, "cannot open %s: %s", c->token_file, strerror(errno));
	int r = read_tokens(c, fd, t, e);
	close(fd);
	return r;
}

/* Write the tokens: a temporary file beside the token file (0600),
 * fsync, rename over it, fsync the directory. */
static int store_tokens(const struct oauth_conf *c, const struct oauth_tokens *t, struct perr *e)
{
	if (mkdirs(c->token_file, e))
		return e->ex;
	char *tmp = xasprintf("%s.XXXXXX", c->token_file);
	int fd = mkstemp(tmp);
	if (fd < 0) {
		int r = perr_fail(e, FC_CANTCREAT, "cannot create %s: %s", tmp, strerror(errno));
		free(tmp);
		return r;
	}
	char *json = oauth_tokens_json(t, e);
	if (!json) {
		close(fd);
		unlink(tmp);
		free(tmp);
		return e->ex;
	}
	int bad = fchmod(fd, 0600) < 0 || write_full(fd, json, strlen(json)) < 0 || fsync(fd) < 0;
	int sv = errno;
	secret_free(json);
	if (close(fd) < 0 && !bad)
		bad = 1, sv = errno;
	if (!bad && rename(tmp, c->token_file) < 0)
		bad = 1, sv = errno;
	if (bad) {
		unlink(tmp);
		free(tmp);
		return perr_fail(e, FC_IOERR, "cannot write %s: %s", c->token_file, strerror(sv));
	}
	free(tmp);
	fsync_parent(c->token_file);
	return 0;
}

/* Open and lock the token file; a file replaced meanwhile (another
 * process renamed new tokens into place) is opened again. */
static int lock_tokens(const struct oauth_conf *c, int *fdp, struct perr *e)
{
	for (int tries = 0; tries < 100; tries++) {
		struct stat a, b;
		int fd = open(c->token_file, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
		if (fd < 0)
			return errno == ENOENT ? no_tokens(c, e)
			                       : perr_fail(e, FC_CONFIG, "cannot open %s: %s", c->token_file, strerror(errno));
		if (flock(fd, LOCK_EX) < 0) {
			close(fd);
			return perr_fail(e, FC_IOERR, "cannot lock %s: %s", c->token_file, strerror(errno));
		}
		if (fstat(fd, &a) == 0 && stat(c->token_file, &b) == 0 && a.st_ino == b.st_ino &&
		    a.st_dev == b.st_dev) {
			*fdp = fd;
			return 0;
		}
		close(fd);
	}
	return perr_fail(e, FC_IOERR, "cannot lock %s: it keeps being replaced", c->token_file);
}

/* ---- refreshing ---- */

static int fresh(const struct oauth_tokens *t, long long now)
{
	return t->access_token && t->expires_at && t->expires_at - now >= OAUTH_REFRESH_MARGIN;
}

/* The form for a refresh (or, without a refresh token in client
 * credentials, a new token). */
static int refresh_body(const struct oauth_conf *c, const struct oauth_tokens *old, struct buf *b,
                        struct perr *e)
{
	char *secret;
	if (client_secret(c, &secret, e))
		return e->ex;
	if (old->refresh_token) {
		oauth_form_add(b, "grant_type", "refresh_token");
		oauth_form_add(b, "refresh_token", old->refresh_token);
	} else if (strcmp(c->flow, "client_credentials") == 0) {
		oauth_form_add(b, "grant_type", "client_credentials");
		oauth_form_add(b, "scope", c->scope);
	} else {
		secret_free(secret);
		return no_tokens(c, e);
	}
	oauth_form_add(b, "client_id", c->client_id);
	if (secret)
		oauth_form_add(b, "client_secret", secret);
	secret_free(secret);
	return 0;
}

/* Refresh *t (the stored tokens) and store the result. */
static int refresh(const struct oauth_conf *c, struct oauth_tokens *t, struct perr *e)
{
	struct buf body;
	struct oauth_tokens n;
	struct oauth_error er;
	buf_init(&body);
	if (refresh_body(c, t, &body, e))
		return e->ex;
	log_info("oauth: refreshing the access token of account '%s'", c->account);
	int r = token_request(c, body.s, &n, &er, e);
	wipe(body.s, body.len);
	buf_free(&body);
	if (r > 0)
		return grant_failed(c, &er, e);
	if (r)
		return e->ex;
	if (!n.refresh_token && t->refresh_token)   /* not rotated: keep the old one */
		n.refresh_token = xstrdup(t->refresh_token);
	if (!n.scope && t->scope)
		n.scope = xstrdup(t->scope);
	n.obtained_at = t->obtained_at ? t->obtained_at : n.obtained_at;
	n.refreshed_at = (long long)time(NULL);
	r = store_tokens(c, &n, e);
	oauth_tokens_free(t);
	*t = n;
	return r;
}

int oauth_access_token(const struct oauth_conf *c, int force, char **token, struct perr *e)
{
	struct oauth_tokens t;
	int fd = -1;
	*token = NULL;
	if (load_tokens(c, &t, e))
		return e->ex;
	if (!force && fresh(&t, time(NULL))) {
		*token = t.access_token;
		t.access_token = NULL;
		oauth_tokens_free(&t);
		return 0;
	}
	long long seen = t.refreshed_at ? t.refreshed_at : t.obtained_at;
	oauth_tokens_free(&t);
	if (lock_tokens(c, &fd, e))
		return e->ex;
	int r = read_tokens(c, fd, &t, e);
	/* another process may have refreshed while this one waited */
	int done = r == 0 && fresh(&t, time(NULL)) && (!force || (t.refreshed_at ? t.refreshed_at : t.obtained_at) != seen);
	if (r == 0 && !done)
		r = refresh(c, &t, e);
	if (r == 0) {
		*token = t.access_token;
		t.access_token = NULL;
	}
	oauth_tokens_free(&t);
	close(fd);   /* releases the lock */
	return r;
}

/* ---- logging in ---- */

/* Store freshly obtained tokens and say so. */
static int signed_in(const struct oauth_conf *c, struct oauth_tokens *t, FILE *out, struct perr *e)
{
	int r = store_tokens(c, t, e);
	if (r == 0)
		fprintf(out, "Account '%s' is signed in; tokens stored in %s\n", c->account, c->token_file);
	return r;
}

static int client_credentials(const struct oauth_conf *c, FILE *out, struct perr *e)
{
	struct oauth_tokens none = { 0 }, t;
	struct oauth_error er;
	struct buf body;
	buf_init(&body);
	if (refresh_body(c, &none, &body, e))
		return e->ex;
	int r = token_request(c, body.s, &t, &er, e);
	wipe(body.s, body.len);
	buf_free(&body);
	if (r > 0)
		return grant_failed(c, &er, e);
	if (r < 0)
		return e->ex;
	r = signed_in(c, &t, out, e);
	oauth_tokens_free(&t);
	return r;
}

/* Start the device flow: the device authorization request. */
static int device_start(const struct oauth_conf *c, struct oauth_device *d, struct perr *e)
{
	struct buf body, resp;
	struct oauth_error er;
	char *secret;
	long status = 0;
	if (client_secret(c, &secret, e))
		return e->ex;
	buf_init(&body);
	buf_init(&resp);
	oauth_form_add(&body, "client_id", c->client_id);
	oauth_form_add(&body, "scope", c->scope);
	if (secret)
		oauth_form_add(&body, "client_secret", secret);
	secret_free(secret);
	int r = http_post(c, c->device_url, body.s, &resp, &status, e);
	if (r == 0 && (status == 429 || status >= 500))
		r = perr_fail(e, FC_OAUTH_TEMP, "account %s: %s answered HTTP %ld; try again later",
		              c->account, c->device_url, status);
	else if (r == 0 && (r = oauth_parse_device(resp.s ? resp.s : "", resp.len, d, &er, e)) > 0)
		r = grant_failed(c, &er, e);
	wipe(body.s, body.len);
	buf_free(&body);
	buf_free(&resp);
	return r < 0 ? e->ex : r;
}

/* Poll the token endpoint as RFC 8628 3.4-3.5 say, until expires_in. */
static int device_poll(const struct oauth_conf *c, const struct oauth_device *d,
                       struct oauth_tokens *t, struct perr *e)
{
	struct buf body;
	int interval = d->interval;
	time_t until = time(NULL) + d->expires_in;
	buf_init(&body);
	oauth_form_add(&body, "grant_type", DEVICE_GRANT);
	oauth_form_add(&body, "device_code", d->device_code);
	oauth_form_add(&body, "client_id", c->client_id);
	for (;;) {
		struct oauth_error er;
		if (time(NULL) + interval > until) {
			buf_free(&body);
			return perr_fail(e, FC_AUTH, "account %s: the code was not entered in time; run postie "
			                 "-a %s --oauth-login again", c->account, c->account);
		}
		sleep((unsigned)interval);
		int r = token_request(c, body.s, t, &er, e);
		if (r > 0 && strcmp(er.error, "authorization_pending") == 0)
			continue;
		if (r > 0 && strcmp(er.error, "slow_down") == 0) {
			interval += 5;
			continue;
		}
		buf_free(&body);
		return r > 0 ? grant_failed(c, &er, e) : r < 0 ? e->ex : 0;
	}
}

static int device_flow(const struct oauth_conf *c, FILE *out, struct perr *e)
{
	struct oauth_device d;
	struct oauth_tokens t;
	if (device_start(c, &d, e))
		return e->ex;
	fprintf(out, "To sign in to account '%s', open %s and enter the code %s\n", c->account,
	        d.verification_uri, d.user_code);
	fflush(out);
	int r = device_poll(c, &d, &t, e);
	oauth_device_free(&d);
	if (r)
		return r;
	r = signed_in(c, &t, out, e);
	oauth_tokens_free(&t);
	return r;
}

/* The loopback listener for the redirect (RFC 8252 7.3). */
static int listen_loopback(int port, int *fdp, int *bound, struct perr *e)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	socklen_t len = sizeof sa;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(fd, 4) < 0 ||
	    getsockname(fd, (struct sockaddr *)&sa, &len) < 0) {
		int sv = errno;
		if (fd >= 0)
			close(fd);
		return perr_fail(e, port ? FC_CONFIG : FC_OS, "cannot listen on 127.0.0.1 port %d for the "
		                 "redirect: %s%s", port, strerror(sv), port ? " (oauth_redirect_port)" : "");
	}
	*fdp = fd;
	*bound = ntohs(sa.sin_port);
	return 0;
}

/* One browser request on the listener: its request line, answered. */
static char *browser_request(int lfd)
{
	char req[REDIRECT_MAX_REQUEST];
	size_t n = 0;
	int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	if (fd < 0)
		return NULL;
	struct pollfd p = { .fd = fd, .events = POLLIN };
	while (n < sizeof req - 1 && !memchr(req, '\n', n) && poll(&p, 1, 10000) == 1) {
		ssize_t r = read(fd, req + n, sizeof req - 1 - n);
		if (r <= 0)
			break;
		n += (size_t)r;
	}
	req[n] = '\0';
	static const char page[] = "HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\n"
	                           "Connection: close\r\n\r\n<!doctype html><title>postie</title>"
	                           "<p>postie has the answer; you may close this window.</p>\n";
	if (write(fd, page, sizeof page - 1) < 0) {
		/* the browser went away: the request line is what counts */
	}
	close(fd);
	return xstrndup(req, strcspn(req, "\r\n"));
}

/* Wait for the redirect: a browser request on the listener, or the
 * address pasted on stdin. Returns the text holding code and state. */
static char *await_redirect(int lfd, struct perr *e)
{
	time_t until = time(NULL) + LOGIN_MAX_SECONDS;
	struct buf line;
	buf_init(&line);
	int stdin_open = 1;
	while (time(NULL) < until) {
		struct pollfd p[2] = { { .fd = lfd, .events = POLLIN }, { .fd = 0, .events = POLLIN } };
		if (poll(p, stdin_open ? 2 : 1, 1000) <= 0)
			continue;
		if (p[0].revents & POLLIN) {
			char *req = browser_request(lfd);
			char *code, *state, *err;
			if (req && oauth_parse_redirect(req, &code, &state, &err) == 0) {
				free(code), free(state), free(err);
				buf_free(&line);
				return req;
			}
			free(req);   /* /favicon.ico and the like */
		}
		if (stdin_open && (p[1].revents & (POLLIN | POLLHUP))) {
			char ch;
			ssize_t r = read(0, &ch, 1);
			if (r <= 0)
				stdin_open = 0;
			else if (ch != '\n' && line.len < REDIRECT_MAX_REQUEST)
				buf_addc(&line, ch);
			else if (ch == '\n' && line.len)
				return buf_steal(&line);
		}
	}
	buf_free(&line);
	perr_fail(e, FC_AUTH, "no answer from the browser within %d minutes", LOGIN_MAX_SECONDS / 60);
	return NULL;
}

/* Exchange the code for tokens (RFC 6749 4.1.3 with the PKCE verifier). */
static int redeem(const struct oauth_conf *c, const char *code, const char *redirect,
                  const char *verifier, struct oauth_tokens *t, struct perr *e)
{
	struct buf body;
	struct oauth_error er;
	char *secret;
	if (client_secret(c, &secret, e))
		return e->ex;
	buf_init(&body);
	oauth_form_add(&body, "grant_type", "authorization_code");
	oauth_form_add(&body, "code", code);
	oauth_form_add(&body, "redirect_uri", redirect);
	oauth_form_add(&body, "code_verifier", verifier);
	oauth_form_add(&body, "client_id", c->client_id);
	if (secret)
		oauth_form_add(&body, "client_secret", secret);
	secret_free(secret);
	int r = token_request(c, body.s, t, &er, e);
	wipe(body.s, body.len);
	buf_free(&body);
	return r > 0 ? grant_failed(c, &er, e) : r < 0 ? e->ex : 0;
}

/* Check the redirect: no error, the state we sent, a code. */
static int check_redirect(const struct oauth_conf *c, const char *text, const char *state,
                          char **code, struct perr *e)
{
	char *got_state, *err;
	int r = 0;
	if (oauth_parse_redirect(text, code, &got_state, &err) < 0)
		r = perr_fail(e, FC_USAGE, "that is not the address the browser was sent to (no code in it)");
	else if (err)
		r = perr_fail(e, FC_AUTH, "account %s: the authorization was refused: %.100s", c->account, err);
	else if (!got_state || strcmp(got_state, state) != 0)
		r = perr_fail(e, FC_AUTH, "account %s: the answer's state does not match the request; "
		              "ignored (run postie -a %s --oauth-login again)", c->account, c->account);
	free(got_state);
	free(err);
	if (r)
		free_secret(code);
	return r;
}

static int authcode_flow(const struct oauth_conf *c, FILE *out, struct perr *e)
{
	char verifier[44], challenge[44], state[44];
	int lfd = -1, port = 0;
	if (oauth_pkce(verifier, challenge, e) || random_text(state, e) ||
	    listen_loopback(c->redirect_port, &lfd, &port, e))
		return e->ex;
	char *redirect = xasprintf("http://127.0.0.1:%d/", port);
	char *url = oauth_authorize_url(c, redirect, state, challenge);
	fprintf(out, "To sign in to account '%s', open this address in a browser:\n%s\n"
	        "Waiting for the browser on %s (or paste the address it was sent to here)\n",
	        c->account, url, redirect);
	fflush(out);
	free(url);
	char *text = await_redirect(lfd, e), *code = NULL;
	close(lfd);
	int r = text ? check_redirect(c, text, state, &code, e) : e->ex;
	secret_free(text);
	struct oauth_tokens t;
	if (r == 0 && (r = redeem(c, code, redirect, verifier, &t, e)) == 0) {
		r = signed_in(c, &t, out, e);
		oauth_tokens_free(&t);
	}
	secret_free(code);
	wipe(verifier, sizeof verifier);
	free(redirect);
	return r;
}

int oauth_login(const struct oauth_conf *c, FILE *out, struct perr *e)
{
	if (strcmp(c->flow, "device") == 0)
		return device_flow(c, out, e);
	if (strcmp(c->flow, "client_credentials") == 0)
		return client_credentials(c, out, e);
	return authcode_flow(c, out, e);
}

/* ---- status and logout ---- */

/* "KEY: YYYY-MM-DD HH:MM:SS UTC", or "KEY: never"; a key ending in a
 * word ("valid until") takes the time after a blank instead. */
static void print_time(FILE *out, const char *key, long long t)
{
	char s[64];
	time_t tt = (time_t)t;
	struct tm tm;
	const char *sep = strchr(key, ':') ? " " : ": ";
	if (t > 0 && gmtime_r(&tt, &tm) && strftime(s, sizeof s, "%Y-%m-%d %H:%M:%S UTC", &tm))
		fprintf(out, "%s%s%s\n", key, sep, s);
	else
		fprintf(out, "%s%snever\n", key, sep);
}

int oauth_status(const struct oauth_conf *c, FILE *out, struct perr *e)
{
	struct oauth_tokens t;
	if (load_tokens(c, &t, e))
		return e->ex;
	long long now = time(NULL);
	fprintf(out, "account: %s\nprovider: %s\nflow: %s\ntoken file: %s\n", c->account, c->provider,
	        c->flow, c->token_file);
	if (t.expires_at > now)
		print_time(out, "access token: valid until", t.expires_at);
	else
		fprintf(out, "access token: expired\n");

	fprintf(out, "refresh token: %s\nscope: %s\n", t.refresh_token ? "stored" : "none",
	        t.scope ? t.scope : c->scope);
	print_time(out, "obtained", t.obtained_at);
	print_time(out, "last refresh", t.refreshed_at);
	oauth_tokens_free(&t);
	return 0;
}

int oauth_logout(const struct oauth_conf *c, FILE *out, struct perr *e)
{
	if (unlink(c->token_file) == 0) {
		fsync_parent(c->token_file);
		fprintf(out, "Tokens of account '%s' deleted (%s)\n", c->account, c->token_file);
		return 0;
	}
	if (errno == ENOENT) {
		fprintf(out, "No tokens stored for account '%s'\n", c->account);
		return 0;
	}
	return perr_fail(e, FC_IOERR, "cannot delete %s: %s", c->token_file, strerror(errno));
}
