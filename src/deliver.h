/* deliver.h - one delivery: an envelope (sender and a list of
 * recipients, each carrying its own result) and a prepared message,
 * over a route. The delivery function never prints and never exits; the
 * caller turns the results into diagnostics, log lines and a status. */
#ifndef POSTIE_DELIVER_H
#define POSTIE_DELIVER_H

#include <stddef.h>
#include "addr.h"
#include "msg.h"
#include "route.h"
#include "status.h"

enum rcpt_state {
	RCPT_PENDING,    /* not delivered yet (not tried, or the transaction failed) */
	RCPT_ACCEPTED,   /* during a transaction: RCPT was accepted */
	RCPT_DELIVERED,  /* the server took the message for it */
	RCPT_REFUSED,    /* the server refused it: its reply is in result */
};

struct rcpt {
	char *given;          /* the address as given, envelope form ("a@bücher.example") */
	char *ascii;          /* domain in A-labels: what RCPT TO carries */
	char *utf8;           /* domain in U-labels */
	const char *notify;   /* DSN NOTIFY value ("never", "failure,delay"...), NULL: none */
	char *orcpt;          /* DSN ORCPT address (sent as rfc822;ADDR), NULL: none */
	enum rcpt_state state;
	struct perr result;   /* RCPT_REFUSED: why (the server's reply) */
};

/* Fill r from a parsed address: the envelope forms, state pending.
 * EX_NOUSER for an address without a domain, an invalid domain or one
 * over the RFC 5321 size limits (the message names it). */
int rcpt_init(struct rcpt *r, const struct addr *a, struct perr *e);
void rcpt_free(struct rcpt *r);

struct envelope {
	const char *from;     /* envelope sender, ASCII domain; "" = null sender */
	struct rcpt *rcpt;
	size_t nrcpt;
	const char *dsn_return; /* MAIL RET: NULL, "headers" or "full" */
	const char *envid;    /* MAIL ENVID (unencoded), or NULL */
};

/* The recipients of env still pending. */
size_t envelope_pending(const struct envelope *env);

/* What happened, beyond the per-recipient results. */
struct delivery {
	int ex;               /* the combined exit status (status_combine) */
	struct perr session;  /* a failure not tied to one recipient; EX_OK if none */
	size_t ndelivered;    /* recipients the message was delivered to */
	long long sent;       /* message bytes sent, -1 if not delivered */
	int data_sent;        /* the whole message reached the network: the
	                         server may have it even without a reply, so
	                         no other host may be given it now */
	int last_code;        /* last SMTP reply code seen (0: none), for the log */
	char last_msg[512];   /* its first line */
	const struct hop *hop;/* the hop last tried (points into the route) */
	const struct route *route; /* the route last tried: the one given, or
	                         one of its fallback routes; when the message
	                         was delivered, the route that delivered it */
	int fallback;         /* route is the given route's nth fallback (0: itself) */
	const char *tls;      /* "on", "off" or "failed" (opportunistic TLS fell back) */
	int auth;             /* AUTH succeeded */
	char notice[700];     /* what the user must be told although it worked
	                         (opportunistic TLS not used), "" if nothing */
};

/* Whether a delivery that failed as d says may be tried again at once
 * through another account's server (fallback_account): nothing reached
 * that server's end of data, no recipient got the message, and the
 * failure is one of the session, not of the message or a recipient:
 * those status.c sends to the next host (connect, TLS, greeting, EHLO,
 * STARTTLS, AUTH 4xx, a missing extension, MAIL or DATA 4xx), and a
 * temporary DNS or OAuth token endpoint failure. 535 to AUTH, 5xx to
 * MAIL and replies to RCPT are not. */
int delivery_may_fail_over(const struct delivery *d);

/* Deliver m to every pending recipient of env over r: open a session on
 * the first hop that gives one, run one transaction, QUIT. Fills each
 * recipient's state and result and d. When delivery_may_fail_over, the
 * same again over r->fallback (recipients refused stay refused), and so
 * on down the chain; if every route failed, d->session names each
 * account's failure, and its status is a temporary one if any route
 * failed temporarily (a retry may find that server back). Returns d->ex. */
int deliver(struct envelope *env, struct msg *m, const struct route *r, struct delivery *d);

/* Several messages over one session of a route: courier_send opens it
 * when there is none (again after a session that died), runs one
 * transaction, and keeps the session for the next message unless last
 * (QUIT then goes with the data); courier_close ends it. A message goes
 * down r's fallback chain as deliver() says, starting from the route of
 * the kept session (cur) when there is one, else from r. */
struct smtp_session;
struct mx_plan;
struct courier {
	const struct route *r;
	const struct route *cur; /* the route of the session: r or one of its fallbacks */
	struct mx_plan *mx;      /* delivery mx: the routes of the last delivery */
	const struct hop *used;  /* the hop of the session */
	int open;                /* s holds a usable session */
	struct smtp_session *s;  /* allocated by courier_init, freed by courier_close */
};
void courier_init(struct courier *k, const struct route *r);
int courier_send(struct courier *k, struct envelope *env, struct msg *m, int last, struct delivery *d);
void courier_close(struct courier *k);
/* -bs: a client's transaction relayed over the courier's session (kept
 * between transactions). courier_mail opens the session when there is
 * none (again once when a kept one turns out to have ended) and sends
 * MAIL: EX_OK with the server's reply in r, whatever its code, or the
 * failure in d->session (the return value). courier_rcpt and
 * courier_data as smtp_relay_rcpt and smtp_relay_data; courier_rset
 * abandons the transaction. courier_size_limit: the server's SIZE limit,
 * 0 when none is known. */
struct smtp_mail_opts;
struct smtp_reply;
int courier_mail(struct courier *k, struct envelope *env, const struct smtp_mail_opts *o,
                 struct smtp_reply *r, struct delivery *d);
int courier_rcpt(struct courier *k, struct rcpt *rc, struct smtp_reply *r, struct perr *e);
int courier_data(struct courier *k, struct envelope *env, struct msg *m, struct smtp_reply *r,
                 struct delivery *d);
void courier_rset(struct courier *k);
long long courier_size_limit(const struct courier *k);
/* Free k without a byte to the server: after a fork, in the process
 * that leaves the session to the other. */
void courier_drop(struct courier *k);

#endif
