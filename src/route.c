/* route.c - an account's connection settings turned into a route: the
 * hops to try and the session policy. The only reader of the account's
 * host, port, socket and TLS settings besides conf.c. */
#include "route.h"

#include <stdlib.h>
#include <string.h>

#include "util.h"

/* How tls, tls_starttls and socket combine (conf_finish has settled
 * tls_starttls: port 465 without it means implicit TLS). */
static enum tls_mode account_tls_mode(const struct account *a)
{
	if (a->tls == TLS_OFF)
		return TM_OFF;
	if (!a->tls_starttls)
		return TM_IMPLICIT;
	if (a->tls == TLS_ON)
		return TM_STARTTLS;
	return a->socket ? TM_OFF : TM_OPPORTUNISTIC;
}

static void hop_from_account(const struct account *a, struct hop *h)
{
	memset(h, 0, sizeof *h);
	h->host = a->socket ? NULL : a->host;
	h->socket = a->socket;
	h->port = a->port;
	h->source_ip = a->source_ip;
	h->timeout = a->timeout;
	h->tls_mode = account_tls_mode(a);
	if (h->tls_mode == TM_OFF)
		h->tls_off_why = a->tls == TLS_OFF ? "tls off" : "a local socket, tls is not set";
	h->tls.host = a->tls_host_override ? a->tls_host_override : a->host;
	h->tls.trust_file = a->tls_trust_file;
	h->tls.crl_file = a->tls_crl_file;
	h->tls.fingerprint = a->tls_fingerprint;
	h->tls.cert_file = a->tls_cert_file;
	h->tls.key_file = a->tls_key_file;
	h->tls.priorities = a->tls_priorities;
	h->tls.min_dh_prime_bits = a->tls_min_dh_prime_bits;
	h->tls.certcheck = a->tls_certcheck;
}

/* delivery mx: the shared settings; no AUTH, whatever the account says
 * (credentials are for a submission server, never for MX hosts). */
static void mx_from_account(const struct account *a, struct route *r)
{
	struct mx_conf *m = &r->mx;
	m->on = 1;
	m->port = a->port;
	m->source_ip = a->source_ip;
	m->timeout = a->timeout;
	m->tls = a->tls;
	m->dane = a->tls_dane;
	m->address_limit = (size_t)a->mx_address_limit;
	m->tls_opts.cert_file = a->tls_cert_file;
	m->tls_opts.key_file = a->tls_key_file;
	m->tls_opts.priorities = a->tls_priorities;
	m->tls_opts.min_dh_prime_bits = a->tls_min_dh_prime_bits;
	r->policy.name = a->name;
	r->policy.helo = a->domain;
}

/* The route of a alone, without its fallback accounts. */
static void route_of(const struct account *a, struct route *r)
{
	memset(r, 0, sizeof *r);
	if (a->delivery == DELIVERY_MX) {
		mx_from_account(a, r);
		return;
	}
	r->hop = xcalloc(2, sizeof *r->hop);
	hop_from_account(a, &r->hop[0]);
	r->nhop = 1;
	if (r->hop[0].tls_mode == TM_OPPORTUNISTIC) {
		r->hop[1] = r->hop[0];
		r->hop[1].tls_mode = TM_OFF;
		r->hop[1].tls_off_why = "the TLS handshake failed";
		r->hop[1].after_tls_failure = 1;
		r->nhop = 2;
	}
	r->policy.name = a->name;
	r->policy.helo = a->domain;
	r->policy.lmtp = a->protocol == PROTO_LMTP;
	if (a->auth && ascii_casecmp(a->auth, "off") != 0)
		r->policy.auth.mech = a->auth;
	r->policy.auth.user = a->user;
	r->policy.auth.password = a->password;
	r->policy.auth.passwordeval = a->passwordeval;
	r->policy.auth.ntlmdomain = a->ntlmdomain;
	r->policy.auth.without_tls = a->auth_without_tls;
	if (a->oauth_provider) {
		r->policy.use_oauth = 1;
		oauth_conf_from_account(a, &r->policy.oauth);
	}
}

void route_from_account(const struct account *a, struct route *r)
{
	struct route *last = r;
	route_of(a, r);
	for (size_t i = 0; i < a->nfallback; i++) {
		last->fallback = xcalloc(1, sizeof *last->fallback);
		last = last->fallback;
		route_of(a->fallback[i], last);
	}
}

void oauth_conf_from_account(const struct account *a, struct oauth_conf *c)
{
	memset(c, 0, sizeof *c);
	c->account = a->name;
	c->provider = a->oauth_provider;
	c->flow = a->oauth_flow;
	c->client_id = a->oauth_client_id;
	c->client_secret = a->oauth_client_secret;
	c->client_secret_eval = a->oauth_client_secret_eval;
	c->scope = a->oauth_scope;
	c->auth_url = a->oauth_auth_url;
	c->token_url = a->oauth_token_url;
	c->device_url = a->oauth_device_url;
	c->redirect_port = a->oauth_redirect_port;
	c->token_file = a->oauth_token_file;
	c->trust_file = a->oauth_trust_file;
	c->timeout = a->timeout < 0 ? 60 : a->timeout;   /* unset: a minute per request */
}

void route_free(struct route *r)
{
	struct route *next = r->fallback;
	free(r->hop);
	memset(r, 0, sizeof *r);
	while (next) {
		struct route *f = next;
		next = f->fallback;
		free(f->hop);
		free(f);
	}
}

const char *hop_name(const struct hop *h)
{
	return h->label ? h->label : h->socket ? h->socket : h->host;
}

int policy_wants_auth(const struct policy *p)
{
	return p->auth.mech != NULL;
}
