/* t-oauth.c - unit tests for oauth.c's pure parts: form encoding, the
 * token and device answers, the token file's JSON, PKCE (RFC 7636
 * Appendix B), the authorization URL, the redirect reader, presets. */
#include "oauth.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

#include "tap.h"

static void test_form(void)
{
	struct buf b;
	buf_init(&b);
	oauth_form_add(&b, "grant_type", "refresh_token");
	oauth_form_add(&b, "x y", "a b&c=d/\xc3\xa9+~._-");
	check_str("form: encoded, & between", b.s,
	          "grant_type=refresh_token&x%20y=a%20b%26c%3Dd%2F%C3%A9%2B~._-");
	buf_free(&b);
}

static const struct token_case {
	const char *desc, *json;
	int rc;
	const char *access, *refresh, *error;
	long long expires_at;
} token_cases[] = {
	{ "full answer", "{\"access_token\":\"AT\",\"token_type\":\"Bearer\",\"expires_in\":3600,"
	  "\"refresh_token\":\"RT\",\"scope\":\"s\"}", 0, "AT", "RT", "", 1003600 },
	{ "no refresh token, expires_in quoted", "{\"access_token\":\"AT\",\"expires_in\":\"60\"}", 0,
	  "AT", NULL, "", 1000060 },
	{ "no expires_in", "{\"access_token\":\"AT\"}", 0, "AT", NULL, "", 0 },
	{ "error answer", "{\"error\":\"invalid_grant\",\"error_description\":\"AADSTS70000: bad\\ngrant\"}",
	  1, NULL, NULL, "invalid_grant", 0 },
	{ "no access_token", "{\"token_type\":\"Bearer\"}", -1, NULL, NULL, "", 0 },
	{ "not JSON", "<html>bad gateway</html>", -1, NULL, NULL, "", 0 },
	{ "not an object", "[1,2]", -1, NULL, NULL, "", 0 },
};

static int run_token_case(const struct token_case *c)
{
	struct oauth_tokens t;
	struct oauth_error er = { "", "" };
	struct perr e;
	int rc = oauth_parse_token(c->json, strlen(c->json), 1000000, &t, &er, &e);
	int bad = rc != c->rc;
	if (!bad && rc == 0)
		bad = strcmp(t.access_token, c->access) != 0 || t.expires_at != c->expires_at ||
		      (c->refresh ? !t.refresh_token || strcmp(t.refresh_token, c->refresh) != 0
		                  : t.refresh_token != NULL);
	if (!bad)
		bad = strcmp(er.error, c->error) != 0;
	if (!bad && rc == 1 && strchr(er.description, '\n'))
		bad = fail("description not made printable: %s", er.description);
	if (bad)
		fail("rc %d (want %d), error '%s'", rc, c->rc, er.error);
	if (rc == 0)
		oauth_tokens_free(&t);
	return bad;
}

static int t_device(void)
{
	static const char ok[] = "{\"device_code\":\"DC\",\"user_code\":\"ABCD-EFGH\","
	                         "\"verification_url\":\"https://x/device\",\"expires_in\":600}";
	static const char bad[] = "{\"user_code\":\"X\"}";
	static const char err[] = "{\"error\":\"invalid_client\"}";
	struct oauth_device d;
	struct oauth_error er = { "", "" };
	struct perr e;
	if (oauth_parse_device(ok, strlen(ok), &d, &er, &e) != 0)
		return fail("ok: %s", e.msg);
	int r = strcmp(d.verification_uri, "https://x/device") != 0 || d.interval != 5 ||
	        d.expires_in != 600 || strcmp(d.user_code, "ABCD-EFGH") != 0;
	oauth_device_free(&d);
	if (r)
		return fail("fields not read (verification_url fallback, interval 5)");
	if (oauth_parse_device(bad, strlen(bad), &d, &er, &e) != -1)
		return fail("missing fields accepted");
	if (oauth_parse_device(err, strlen(err), &d, &er, &e) != 1 || strcmp(er.error, "invalid_client"))
		return fail("error answer not reported");
	return 0;
}

static int t_tokens_json(void)
{
	struct oauth_tokens t = { 0 }, u;
	struct perr e;
	t.access_token = xstrdup("AT\"x");
	t.token_type = xstrdup("Bearer");
	t.refresh_token = xstrdup("RT");
	t.scope = xstrdup("a b");
	t.expires_at = 1767225600;
	t.obtained_at = 1767222000;
	char *j = oauth_tokens_json(&t, &e);
	int r = oauth_tokens_parse(j, strlen(j), &u, &e);
	int bad = r || strcmp(u.access_token, t.access_token) || strcmp(u.refresh_token, "RT") ||
	          u.expires_at != t.expires_at || u.obtained_at != t.obtained_at || u.refreshed_at != 0 ||
	          !strstr(j, "\"version\": 1");
	if (bad)
		fail("round trip: %s", r ? e.msg : j);
	free(j);
	oauth_tokens_free(&t);
	if (!r)
		oauth_tokens_free(&u);
	if (!bad && oauth_tokens_parse("{\"version\":2}", 13, &u, &e) != EX_NOPERM)
		bad = fail("version 2 accepted");
	return bad;
}

static int t_pkce(void)
{
	char v[44], c[44];
	struct perr e;
	/* RFC 7636 Appendix B */
	if (oauth_pkce_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk", c, &e))
		return fail("oauth_pkce_challenge: %s", e.msg);
	if (strcmp(c, "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM") != 0)
		return fail("RFC 7636 challenge: %s", c);
	if (oauth_pkce(v, c, &e))
		return fail("oauth_pkce: %s", e.msg);
	char c2[44];
	if (oauth_pkce_challenge(v, c2, &e))
		return fail("oauth_pkce_challenge: %s", e.msg);
	if (strlen(v) != 43 || strspn(v, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") != 43)
		return fail("verifier '%s'", v);
	return strcmp(c, c2) ? fail("challenge does not match the verifier") : 0;
}

static int t_authorize_url(void)
{
	struct oauth_conf c = { .account = "a", .provider = "custom", .client_id = "id 1",
	                        .scope = "smtp offline_access", .auth_url = "https://as/authorize?tenant=x" };
	char *u = oauth_authorize_url(&c, "http://127.0.0.1:5000/", "ST", "CH");
	int bad = strcmp(u, "https://as/authorize?tenant=x&response_type=code&client_id=id%201&"
	                    "redirect_uri=http%3A%2F%2F127.0.0.1%3A5000%2F&scope=smtp%20offline_access&"
	                    "state=ST&code_challenge=CH&code_challenge_method=S256");
	if (bad)
		fail("custom: %s", u);
	free(u);
	c.provider = "google";
	c.auth_url = "https://accounts.google.com/o/oauth2/v2/auth";
	u = oauth_authorize_url(&c, "http://127.0.0.1:1/", "S", "C");
	if (!bad && (!strstr(u, "/auth?response_type=code&") || !strstr(u, "&access_type=offline&prompt=consent")))
		bad = fail("google: %s", u);
	free(u);
	return bad;
}

static const struct redirect_case {
	const char *in, *code, *state, *error;
} redirect_cases[] = {
	{ "http://127.0.0.1:5000/?code=C%2F1&state=S", "C/1", "S", NULL },
	{ "  http://localhost/?state=S&code=a+b#frag\n", "a b", "S", NULL },
	{ "GET /?code=XY&state=ST HTTP/1.1", "XY", "ST", NULL },
	{ "code=Q&state=R", "Q", "R", NULL },
	{ "http://127.0.0.1/?error=access_denied&state=S", NULL, "S", "access_denied" },
	{ "GET /favicon.ico HTTP/1.1", NULL, NULL, NULL },
	{ "http://127.0.0.1/?xcode=1&codex=2", NULL, NULL, NULL },
};

static int same_or_null(const char *got, const char *want)
{
	return want ? got && strcmp(got, want) == 0 : got == NULL;
}

static int run_redirect_case(const struct redirect_case *c)
{
	char *code, *state, *error;
	int rc = oauth_parse_redirect(c->in, &code, &state, &error);
	int bad = rc != (c->code || c->error ? 0 : -1) || !same_or_null(code, c->code) ||
	          !same_or_null(state, c->state) || !same_or_null(error, c->error);
	if (bad)
		fail("rc %d code %s state %s error %s", rc, code ? code : "-", state ? state : "-",
		     error ? error : "-");
	free(code);
	free(state);
	free(error);
	return bad;
}

static int t_presets(void)
{
	const struct oauth_preset *m = oauth_preset("Microsoft"), *g = oauth_preset("google");
	if (!m || !g || oauth_preset("yahoo") || oauth_preset(NULL))
		return fail("lookup");
	if (strcmp(m->flow, "device") || strcmp(g->flow, "authcode") || g->device_ok || !m->device_ok)
		return fail("default flows");
	char *u = xasprintf(m->token_url, "contoso.onmicrosoft.com");
	int bad = strcmp(u, "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token");
	free(u);
	if (bad || strcmp(m->scope, "https://outlook.office.com/SMTP.Send offline_access") ||
	    strcmp(g->scope, "https://mail.google.com/"))
		return fail("microsoft/google endpoints or scope");
	return 0;
}

int main(void)
{
	test_form();
	for (size_t i = 0; i < NELEM(token_cases); i++)
		reportf(run_token_case(&token_cases[i]), "token answer: %s", token_cases[i].desc);
	report("device answer: fields, fallback spelling, errors", t_device());
	report("token file JSON: round trip, version checked", t_tokens_json());
	report("PKCE: RFC 7636 Appendix B, random verifier", t_pkce());
	report("authorization URL: query appended, Google's offline access", t_authorize_url());
	for (size_t i = 0; i < NELEM(redirect_cases); i++)
		reportf(run_redirect_case(&redirect_cases[i]), "redirect: %s", redirect_cases[i].in);
	report("presets: names, flows, endpoints, scopes", t_presets());
	return tap_done();
}
