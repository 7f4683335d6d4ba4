/* mx.h - direct delivery (delivery mx): the pending recipients grouped
 * by domain, and for each domain the route to its MX hosts (RFC 5321
 * 5.1) with the TLS policy of each host (opportunistic, RFC 7435; tls
 * on; DANE, RFC 7672), then one transaction over the first address that
 * takes it. The DNS questions are dns.c's, the sessions deliver.c's. */
#ifndef POSTIE_MX_H
#define POSTIE_MX_H

#include <stdio.h>
#include "deliver.h"
#include "route.h"

struct mx_plan;

/* Deliver m to every pending recipient of env over the MX route r
 * (r->mx.on): per domain, in the order the domains first appear. Every
 * recipient ends delivered or refused: a domain that cannot be reached
 * now leaves its recipients refused with a temporary result (75), one
 * that does not take mail with a permanent one (68 for NXDOMAIN and
 * null MX). d->session stays clear; d->hop is the last hop tried, valid
 * until the next call with the same *keep or mx_plan_free(*keep). -v
 * shows each domain's route. Returns d->ex. */
int mx_deliver(const struct route *r, struct envelope *env, struct msg *m, struct delivery *d,
               struct mx_plan **keep);
void mx_plan_free(struct mx_plan *p);

/* --pretend: the route to domain (A-labels) as lines "route DOMAIN:
 * HOST[ADDR] preference N, TLS POLICY", or "route DOMAIN: why" when
 * the lookups fail; prefix goes before each line. */
void mx_show_route(const struct route *r, const char *domain, FILE *out, const char *prefix);

#endif
