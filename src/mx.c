/* mx.c - delivery mx: per recipient domain, the MX hosts from DNS in the
 * order RFC 5321 5.1 gives, at most mx_address_limit of their addresses,
 * each address a small route of its own with the host's TLS policy:
 *   tls off                        plain text, no TLSA lookup
 *   TLSA RRset validated (AD), the host's address answers validated too:
 *     usable records               STARTTLS required, DANE (RFC 7672 3)
 *     none usable                  STARTTLS required, certificate not checked (2.2)
 *   tls on                         STARTTLS required, certificate not checked
 *   otherwise                      opportunistic (RFC 7435): STARTTLS when
 *                                  offered, certificate not checked, the same
 *                                  address in plain text after a failed handshake
 * A host whose TLSA lookup fails is left out, never downgraded. The
 * addresses are tried in order until one takes the transaction: a
 * failure that status.c sends to the next hop (connection, greeting,
 * EHLO, STARTTLS, TLS, MAIL) moves on while the message data has not
 * been sent; when none is left the domain is deferred (75). */
#include "mx.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "conf.h"
#include "dane.h"
#include "dns.h"
#include "log.h"
#include "util.h"

/* One address of one MX host. */
struct mx_target {
	struct route r;            /* hops: hop[0], and hop[1] for the plain-text retry */
	struct hop hop[2];
	char host[DNS_NAME_SIZE];  /* the MX host: SNI, the DANE-TA reference name */
	unsigned pref;
	char addr[DNS_ADDR_SIZE];
	char label[DNS_NAME_SIZE + DNS_ADDR_SIZE + 2];  /* "host[addr]" for messages */
	char policy[64];           /* the TLS policy in words */
	struct tlsa *tlsa;         /* the host's usable TLSA records (data in tl) */
	size_t ntlsa;
};

/* The route to one domain. */
struct mx_plan {
	char domain[DNS_NAME_SIZE];
	int implicit;              /* no MX records: the domain itself */
	struct mx_target *t;
	size_t n;
	struct dns_tlsa_list *tl;  /* the TLSA RRsets kept, owning the records' data */
	size_t ntl;
	struct perr fail;          /* n == 0: why nothing can be tried; else why a host was left out */
	struct mx_plan *next;      /* the plans of one delivery */
};

void mx_plan_free(struct mx_plan *p)
{
	while (p) {
		struct mx_plan *next = p->next;
		for (size_t i = 0; i < p->n; i++)
			free(p->t[i].tlsa);
		free(p->t);
		for (size_t i = 0; i < p->ntl; i++)
			dns_tlsa_list_free(&p->tl[i]);
		free(p->tl);
		free(p);
		p = next;
	}
}

/* A host that cannot be used: the reason is kept for when no other host
 * takes the message, a temporary one before a permanent one. */
static void left_out(struct mx_plan *p, const char *host, const struct perr *e)
{
	log_info("MX host %s of %s left out: %s", host, p->domain, e->msg);
	if (!p->fail.ex || (e->ex == EX_TEMPFAIL && p->fail.ex != EX_TEMPFAIL))
		p->fail = *e;
}

/* The usable records of a validated TLSA RRset, for tls.c. */
static void take_tlsa(struct mx_target *t, const struct dns_tlsa_list *tl)
{
	t->tlsa = xcalloc(tl->nusable ? tl->nusable : 1, sizeof *t->tlsa);
	for (size_t i = 0; i < tl->n; i++) {
		const struct dns_tlsa *d = &tl->rec[i];
		if (!d->usable)
			continue;
		struct tlsa *x = &t->tlsa[t->ntlsa++];
		x->usage = d->usage;
		x->selector = d->selector;
		x->mtype = d->mtype;
		x->data = d->data;
		x->len = d->len;
	}
}

/* The TLS policy of a host (see the top of this file); tl is its
 * validated TLSA RRset, or NULL. */
static void set_policy(struct mx_target *t, const struct mx_conf *c, const struct dns_tlsa_list *tl)
{
	struct hop *h = &t->hop[0];
	if (c->tls == TLS_OFF) {
		h->tls_mode = TM_OFF;
		h->tls_off_why = "tls off";
		snprintf(t->policy, sizeof t->policy, "off (tls off)");
	} else if (tl && tl->nusable) {
		h->tls_mode = TM_STARTTLS;
		take_tlsa(t, tl);
		snprintf(t->policy, sizeof t->policy, "DANE (%zu usable TLSA record%s)", t->ntlsa,
		         t->ntlsa == 1 ? "" : "s");
	} else if (tl) {
		h->tls_mode = TM_STARTTLS;
		snprintf(t->policy, sizeof t->policy, "required (TLSA records, none usable)");
	} else if (c->tls == TLS_ON) {
		h->tls_mode = TM_STARTTLS;
		snprintf(t->policy, sizeof t->policy, "required (tls on)");
	} else {
		h->tls_mode = TM_OPPORTUNISTIC;
		snprintf(t->policy, sizeof t->policy, "opportunistic");
		t->hop[1] = *h;
		t->hop[1].tls_mode = TM_OFF;
		t->hop[1].tls_off_why = "the TLS handshake failed";
		t->hop[1].after_tls_failure = 1;
		t->r.nhop = 2;
	}
}

static void add_target(struct mx_plan *p, const struct mx_conf *c, const struct dns_mx_host *mx,
                       const struct dns_addr *a, const struct dns_tlsa_list *tl)
{
	p->t = xrealloc(p->t, (p->n + 1) * sizeof *p->t);
	struct mx_target *t = &p->t[p->n++];
	memset(t, 0, sizeof *t);
	snprintf(t->host, sizeof t->host, "%s", mx->host);
	snprintf(t->addr, sizeof t->addr, "%s", a->text);
	snprintf(t->label, sizeof t->label, "%s[%s]", mx->host, a->text);
	t->pref = mx->pref;
	t->r.nhop = 1;
	struct hop *h = &t->hop[0];
	h->port = c->port;
	h->source_ip = c->source_ip;
	h->timeout = c->timeout;
	h->tls = c->tls_opts;          /* client certificate, priorities */
	h->tls.trust_file = NULL;      /* no PKIX: MX certificates are checked by DANE or not at all */
	h->tls.certcheck = 0;
	set_policy(t, c, tl);
}

/* Pointers into the targets, once the array no longer moves. */
static void link_targets(struct mx_plan *p, const struct route *r)
{
	for (size_t i = 0; i < p->n; i++) {
		struct mx_target *t = &p->t[i];
		t->r.hop = t->hop;
		t->r.policy = r->policy;
		for (size_t k = 0; k < t->r.nhop; k++) {
			t->hop[k].host = t->addr;
			t->hop[k].label = t->label;
			t->hop[k].tls.host = t->host;
			t->hop[k].tls.tlsa = t->tlsa;
			t->hop[k].tls.ntlsa = t->ntlsa;
		}
	}
}

static int all_secure(const struct dns_addr_list *al)
{
	for (size_t i = 0; i < al->n; i++)
		if (!al->addr[i].secure)
			return 0;
	return al->n > 0;
}

/* The TLSA RRset of an MX host, when DANE applies to it: *use is set to
 * the RRset when it is validated and not empty, else NULL. -1 when the
 * lookup failed (e set): the host must not be used. */
static int host_tlsa(struct mx_plan *p, const struct mx_conf *c, const char *host,
                     const struct dns_addr_list *al, const struct dns_tlsa_list **use, struct perr *e)
{
	struct dns_tlsa_list tl;
	*use = NULL;
	if (c->tls == TLS_OFF || !c->dane || !all_secure(al))
		return 0;
	if (dns_tlsa(c->resolver, host, c->port, &tl, e)) {
		dns_tlsa_list_free(&tl);
		return -1;
	}
	if (!tl.secure || tl.n == 0) {
		if (tl.n)
			log_info("TLSA records of %s are not DNSSEC-validated; not using DANE", host);
		dns_tlsa_list_free(&tl);
		return 0;
	}
	p->tl = xrealloc(p->tl, (p->ntl + 1) * sizeof *p->tl);
	p->tl[p->ntl] = tl;
	*use = &p->tl[p->ntl++];
	return 0;
}

/* The route to domain; NULL p->t with p->fail set when there is none. */
static struct mx_plan *plan(const struct route *r, const char *domain)
{
	const struct mx_conf *c = &r->mx;
	struct mx_plan *p = xcalloc(1, sizeof *p);
	struct dns_mx_list ml;
	struct perr e;
	size_t limit = c->address_limit;
	snprintf(p->domain, sizeof p->domain, "%s", domain);
	perr_clear(&p->fail);
	if (dns_mx(c->resolver, domain, &ml, &p->fail)) {
		dns_mx_list_free(&ml);
		return p;
	}
	p->implicit = ml.implicit;
	for (size_t i = 0; i < ml.n && p->n < limit; i++) {
		struct dns_addr_list al;
		const struct dns_tlsa_list *tl = NULL;
		const char *host = ml.host[i].host;
		if (dns_addresses(c->resolver, host, limit - p->n, &al, &e) ||
		    host_tlsa(p, c, host, &al, &tl, &e))
			left_out(p, host, &e);
		else
			for (size_t k = 0; k < al.n; k++)
				add_target(p, c, &ml.host[i], &al.addr[k], tl);
		dns_addr_list_free(&al);
	}
	dns_mx_list_free(&ml);
	link_targets(p, r);
	return p;
}

/* The route's lines, as --pretend and -v show them. */
static void show(const struct mx_plan *p, FILE *out, const char *prefix)
{
	struct buf b;
	buf_init(&b);
	if (p->n == 0)
		buf_printf(&b, "route %s: %s\n", p->domain, p->fail.msg);
	for (size_t i = 0; i < p->n; i++)
		buf_printf(&b, "route %s: %s preference %u%s, TLS %s\n", p->domain, p->t[i].label,
		           p->t[i].pref, p->implicit ? " (no MX records, implicit MX)" : "",
		           p->t[i].policy);
	if (p->n && p->fail.ex)
		buf_printf(&b, "route %s: a host left out: %s\n", p->domain, p->fail.msg);
	for (char *line = b.s, *nl; line && *line; line = nl + 1) {
		nl = strchr(line, '\n');
		*nl = '\0';
		if (out)
			fprintf(out, "%s%s\n", prefix, line);
		else
			log_info("%s", line);
	}
	buf_free(&b);
}

void mx_show_route(const struct route *r, const char *domain, FILE *out, const char *prefix)
{
	struct mx_plan *p = plan(r, domain);
	show(p, out, prefix);
	mx_plan_free(p);
}

/* The domain of an envelope address, lower case. */
static void domain_of(const char *addr, char *out, size_t size)
{
	const char *d = addr_domain_of(addr);
	snprintf(out, size, "%s", d ? d : "");
	for (char *s = out; *s; s++)
		*s = (char)tolower((unsigned char)*s);
}

/* A recipient the domain's route could not deliver to: why says why,
 * and a failure that would have moved on to another host makes it
 * deferred (every host was tried). */
static void refuse(struct rcpt *rc, const struct perr *why)
{
	int deferred = status_action(why) == ACTION_NEXT_HOP;
	rc->state = RCPT_REFUSED;
	rc->result = *why;
	if (deferred)
		rc->result.ex = EX_TEMPFAIL;
	snprintf(rc->result.msg, sizeof rc->result.msg, "%s <%s>: %.900s",
	         deferred || why->ex == EX_TEMPFAIL ? "delivery deferred for" : "cannot deliver to",
	         rc->ascii, why->msg);
}

/* What the caller reports, from one transaction. */
static void merge(struct delivery *d, const struct delivery *dd)
{
	d->ndelivered += dd->ndelivered;
	if (dd->sent >= 0)
		d->sent = dd->sent;
	if (dd->last_code) {
		d->last_code = dd->last_code;
		memcpy(d->last_msg, dd->last_msg, sizeof d->last_msg);
	}
	d->hop = dd->hop;
	d->tls = dd->tls;
	d->data_sent |= dd->data_sent;
	if (dd->notice[0])
		log_info("%s", dd->notice);
}

/* One domain's recipients (all pending) over its route p. */
static void deliver_domain(const struct mx_plan *p, struct envelope *sub, struct msg *m,
                           struct delivery *d)
{
	struct perr last = p->fail;
	for (size_t i = 0; i < p->n && envelope_pending(sub); i++) {
		struct courier k;
		struct delivery dd;
		courier_init(&k, &p->t[i].r);
		courier_send(&k, sub, m, 1, &dd);
		courier_close(&k);
		merge(d, &dd);
		if (!envelope_pending(sub))
			break;
		last = dd.session;
		if (dd.data_sent || status_action(&dd.session) != ACTION_NEXT_HOP)
			break;
		if (i + 1 < p->n)
			log_info("%s; trying %s", dd.session.msg, p->t[i + 1].label);
	}
	if (!last.ex)
		perr_fail(&last, FC_INTERNAL, "%s: nothing was tried", p->domain);
	for (size_t i = 0; i < sub->nrcpt; i++)
		if (sub->rcpt[i].state == RCPT_PENDING)
			refuse(&sub->rcpt[i], &last);
}

int mx_deliver(const struct route *r, struct envelope *env, struct msg *m, struct delivery *d,
               struct mx_plan **keep)
{
	struct rcpt *group = xcalloc(env->nrcpt ? env->nrcpt : 1, sizeof *group);
	size_t *at = xcalloc(env->nrcpt ? env->nrcpt : 1, sizeof *at);
	char *done = xcalloc(env->nrcpt ? env->nrcpt : 1, 1);
	char dom[DNS_NAME_SIZE], other[DNS_NAME_SIZE];
	mx_plan_free(*keep);
	*keep = NULL;
	memset(d, 0, sizeof *d);
	perr_clear(&d->session);
	d->sent = -1;
	d->tls = r->mx.tls == TLS_ON ? "on" : "off";
	for (size_t i = 0; i < env->nrcpt; i++) {
		if (done[i] || env->rcpt[i].state != RCPT_PENDING)
			continue;
		size_t n = 0;
		domain_of(env->rcpt[i].ascii, dom, sizeof dom);
		for (size_t k = i; k < env->nrcpt; k++) {
			if (done[k] || env->rcpt[k].state != RCPT_PENDING)
				continue;
			domain_of(env->rcpt[k].ascii, other, sizeof other);
			if (strcmp(dom, other) != 0)
				continue;
			done[k] = 1;
			at[n] = k;
			group[n++] = env->rcpt[k];
		}
		struct mx_plan *p = plan(r, dom);
		p->next = *keep;
		*keep = p;
		if (log_verbose())
			show(p, NULL, "");
		struct envelope sub = *env;
		sub.rcpt = group;
		sub.nrcpt = n;
		deliver_domain(p, &sub, m, d);
		for (size_t k = 0; k < n; k++)
			env->rcpt[at[k]] = group[k];
	}
	d->ex = EX_OK;
	for (size_t i = 0; i < env->nrcpt; i++)
		if (env->rcpt[i].state == RCPT_REFUSED)
			d->ex = status_combine(d->ex, env->rcpt[i].result.ex);
	free(group);
	free(at);
	free(done);
	return d->ex;
}
