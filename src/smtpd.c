/* smtpd.c - postie -bs: the server side of SMTP on standard input and
 * output. The commands are parsed by smtpcmd.c; this file keeps their
 * order, turns each transaction into a job (job.c) and relays it to the
 * account's server command by command (deliver.c's courier), so that the
 * client sees the server's own replies; a message that cannot go now
 * goes to the queue when the account has one. */
#include "smtpd.h"

#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "queue.h"
#include "smtp.h"
#include "smtpcmd.h"
#include "util.h"

#define IDLE_DEFAULT 300        /* RFC 5321 4.5.3.2.7: the server's timeout */
#define MAX_RCPTS 1000          /* RFC 5321 4.5.3.1.8 asks for at least 100 */
#define INBUF 16384

/* How the current transaction goes. */
enum tx_mode {
	TX_NONE,     /* no MAIL yet */
	TX_RELAY,    /* MAIL went to the server: each command follows it */
	TX_HOLD,     /* the message is taken here: queued (queue always, or
	                the server failed for now), or delivery mx */
};

struct input {
	char b[INBUF];
	size_t pos, len;
	int eof;
	int timed_out;
};

struct bs {
	const struct cli *c;
	smtpd_queued_fn queued;
	FILE *out;
	char *host;
	int idle;                /* seconds without input before 421 */
	struct input in;
	int greeted;             /* HELO or EHLO seen */
	int failed;              /* standard output failed */

	/* the account of the last transaction, its route and session */
	struct account *acc;
	struct route route;
	struct courier k;
	int have_k;

	/* the current transaction */
	enum tx_mode mode;
	struct cli tc;           /* the command line as this transaction sees it */
	struct job j;
	struct smtp_mail_opts mo;
	const char *ret;         /* RET= of MAIL, else the account's dsn_return */
	char *envid;
	char **owned;            /* strings the recipients point to */
	size_t nowned;
	size_t tried;            /* RCPT commands that got past the syntax check */
	int qm;                  /* the account's queue mode (QM_*) */
	struct delivery md;      /* the MAIL step: the facts, a held failure */
};

/* ---- input: lines and message data, each wait bounded ---- */

static void flush_out(struct bs *b)
{
	if (fflush(b->out) != 0)
		b->failed = 1;
}

/* Read more input, after flushing the replies so far (the client may be
 * waiting for them). 0, or -1 at the end of input or the timeout. */
static int fill(struct bs *b)
{
	struct input *in = &b->in;
	if (in->eof || in->timed_out)
		return -1;
	flush_out(b);
	if (in->pos > 0) {
		memmove(in->b, in->b + in->pos, in->len - in->pos);
		in->len -= in->pos;
		in->pos = 0;
	}
	if (in->len == sizeof in->b)
		return 0;
	for (;;) {
		struct pollfd p = { STDIN_FILENO, POLLIN, 0 };
		int r = poll(&p, 1, b->idle * 1000);
		if (r < 0 && errno == EINTR)
			continue;
		if (r == 0) {
			in->timed_out = 1;
			return -1;
		}
		ssize_t got = read(STDIN_FILENO, in->b + in->len, sizeof in->b - in->len);
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0) {
			in->eof = 1;
			return -1;
		}
		in->len += (size_t)got;
		return 0;
	}
}

/* At least n octets of input available, unless it ends first. */
static size_t need(struct bs *b, size_t n)
{
	while (b->in.len - b->in.pos < n && fill(b) == 0)
		;
	return b->in.len - b->in.pos;
}

/* The next command line, without its line end, into line (at most max
 * octets; a longer one sets *too_long and is skipped to its end).
 * 1, or 0 when the input ended or timed out. */
static int get_line(struct bs *b, struct buf *line, size_t max, int *too_long)
{
	struct input *in = &b->in;
	buf_reset(line);
	*too_long = 0;
	for (;;) {
		char *s = in->b + in->pos;
		size_t av = in->len - in->pos;
		char *nl = av ? memchr(s, '\n', av) : NULL;
		size_t take = nl ? (size_t)(nl - s) : av;
		if (!*too_long && line->len + take > max + 1)   /* +1: a CR before the LF */
			*too_long = 1;
		if (!*too_long)
			buf_add(line, s, take);
		in->pos += take + (nl != NULL);
		if (nl)
			break;
		if (fill(b) != 0)
			return 0;
	}
	if (line->len && line->s[line->len - 1] == '\r')
		line->s[--line->len] = '\0';
	if (!*too_long && line->len > max)
		*too_long = 1;
	return 1;
}

/* The message data: lines up to the one holding only ".", with the
 * dot-stuffing undone (RFC 5321 4.5.2), for msg_read_source. */
struct data_src {
	struct bs *b;
	int bol;      /* at the beginning of a line */
	int done;     /* the final "." was read */
	int cut;      /* the input ended or timed out first */
};

static ssize_t data_source(void *ctx, char *out, size_t n, struct perr *e)
{
	struct data_src *d = ctx;
	struct input *in = &d->b->in;
	size_t k = 0;
	while (!d->done && k < n) {
		if (d->bol) {
			if (need(d->b, 1) == 0)
				goto cut;
			if (in->b[in->pos] == '.') {
				size_t av = need(d->b, 2);
				if (av >= 2 && in->b[in->pos + 1] == '\r')
					av = need(d->b, 3);
				const char *p = in->b + in->pos;
				if ((av >= 2 && p[1] == '\n') || (av >= 3 && p[1] == '\r' && p[2] == '\n')) {
					in->pos += p[1] == '\n' ? 2 : 3;
					d->done = 1;
					break;
				}
				in->pos++;   /* a doubled dot, or a line the client did not stuff */
			}
			d->bol = 0;
		}
		if (in->pos == in->len && fill(d->b) != 0)
			goto cut;
		const char *p = in->b + in->pos;
		size_t m = in->len - in->pos;
		if (m > n - k)
			m = n - k;
		const char *nl = memchr(p, '\n', m);
		if (nl) {
			m = (size_t)(nl - p) + 1;
			d->bol = 1;
		}
		memcpy(out + k, p, m);
		k += m;
		in->pos += m;
	}
	return (ssize_t)k;
cut:
	d->cut = 1;
	perr_fail(e, FC_IOERR, "-bs: standard input ended in the middle of the message data; "
	          "nothing was sent");
	return -1;
}

/* ---- replies ---- */

/* One reply line; control characters in the text become '?'. */
static void say(struct bs *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void say(struct bs *b, const char *fmt, ...)
{
	char line[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof line - 2, fmt, ap);
	va_end(ap);
	for (char *p = line; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
	fprintf(b->out, "%s\r\n", line);
}

/* A server's reply, line by line as it came. */
static void say_reply(struct bs *b, const struct smtp_reply *r)
{
	const char *p = r->text.s ? r->text.s : "";
	for (;;) {
		const char *nl = strchr(p, '\n');
		int n = nl ? (int)(nl - p) : (int)strlen(p);
		if (n > 500)
			n = 500;
		say(b, "%d%c%.*s", r->code, nl ? '-' : ' ', n, p);
		if (!nl)
			break;
		p = nl + 1;
	}
}

/* A failure with no reply of its own to pass back (the connection, TLS,
 * AUTH, the configuration): temporary ones 451, the rest 554. */
static void say_failure(struct bs *b, const struct perr *e)
{
	const char *why = e->msg;
	if (e->fc == FC_CONFIG || e->fc == FC_USAGE || e->fc == FC_PERMISSION)
		say(b, "451 4.3.5 %s", why);
	else if (e->fc == FC_IOERR || e->fc == FC_OS || e->fc == FC_INTERNAL ||
	         e->fc == FC_CANTCREAT || e->fc == FC_NOINPUT)
		say(b, "451 4.3.0 %s", why);
	else if (status_temporary(e))
		say(b, "451 4.4.1 %s", why);
	else if (e->fc == FC_AUTH || (e->fc == FC_REPLY && e->phase == PH_AUTH))
		say(b, "554 5.7.0 %s", why);
	else if (e->fc == FC_MESSAGE)
		say(b, "554 5.6.0 %s", why);
	else
		say(b, "554 5.3.0 %s", why);
}

/* ---- the account and its session, kept while transactions use it ---- */

static void drop_account(struct bs *b)
{
	if (b->have_k)
		courier_close(&b->k);
	b->have_k = 0;
	route_free(&b->route);
	memset(&b->route, 0, sizeof b->route);
	if (b->acc)
		account_free(b->acc);
	b->acc = NULL;
}

/* The account for MAIL FROM:<from>, as -f would choose it. */
static int take_account(struct bs *b, struct perr *e)
{
	struct account *a = NULL;
	char *files = NULL;
	const struct cli *c = &b->tc;
	int r = job_choose_account(c, c->from, &a, &files, e);
	free(files);
	if (!r && (job_apply_overrides(c, a, e) || conf_finish(a, CONF_CONNECT, e) ||
	           job_check_lengths(c, a, e)))
		r = e->ex ? e->ex : EX_CONFIG;
	if (r) {
		if (a)
			account_free(a);
		return r;
	}
	if (b->acc && strcmp(b->acc->name, a->name) == 0 && b->have_k && b->k.open) {
		account_free(a);   /* the same account: its session goes on */
		return 0;
	}
	drop_account(b);
	b->acc = a;
	route_from_account(a, &b->route);
	courier_init(&b->k, &b->route);
	b->have_k = 1;
	return 0;
}

/* ---- the transaction ---- */

static void end_tx(struct bs *b)
{
	struct job *j = &b->j;
	j->acc = NULL;                     /* lent by b */
	memset(&j->route, 0, sizeof j->route);
	job_free(j);
	memset(j, 0, sizeof *j);
	for (size_t i = 0; i < b->nowned; i++)
		free(b->owned[i]);
	free(b->owned);
	b->owned = NULL;
	b->nowned = 0;
	free(b->envid);
	b->envid = NULL;
	free((char *)b->tc.from);
	b->tc = *b->c;
	b->tc.from = NULL;
	b->tried = 0;
	b->mode = TX_NONE;
}

/* RSET, HELO/EHLO or the end: the transaction is abandoned. */
static void abandon_tx(struct bs *b)
{
	if (b->mode == TX_RELAY && b->have_k)
		courier_rset(&b->k);
	end_tx(b);
}

static const char *own(struct bs *b, char *s)
{
	b->owned = xrealloc(b->owned, (b->nowned + 1) * sizeof *b->owned);
	b->owned[b->nowned++] = s;
	return s;
}

static struct envelope envelope(struct bs *b)
{
	struct envelope env = job_envelope(&b->tc, &b->j);
	env.dsn_return = b->ret;
	return env;
}

/* The log line of a transaction. */
static void log_tx(struct bs *b, const struct delivery *d, const struct perr *e, int ex)
{
	b->j.route = b->route;
	job_write_logs(&b->tc, &b->j, d, e, ex);
	memset(&b->j.route, 0, sizeof b->j.route);
}

/* A temporary failure before the data, with a queue: take the message
 * here and queue it after the data. */
static int may_hold(struct bs *b, const struct perr *e)
{
	return b->qm == QM_TEMPFAIL && status_temporary(e);
}

static void cmd_mail(struct bs *b, struct smtpcmd *cmd)
{
	struct perr e;
	struct smtp_reply r;
	struct addrlist l = { 0 };
	perr_clear(&e);
	if (!b->greeted) {
		say(b, "503 5.5.1 Error: send HELO/EHLO first");
		return;
	}
	if (b->mode != TX_NONE) {
		say(b, "503 5.5.1 Error: nested MAIL command");
		return;
	}
	if (*cmd->arg && (addr_parse_list(cmd->arg, &l, &e) || l.n != 1)) {
		addrlist_free(&l);
		say(b, "501 5.1.7 Bad sender address syntax");
		return;
	}
	addrlist_free(&l);
	b->tc = *b->c;
	b->tc.from = xstrdup(cmd->arg);
	if (cmd->envid)
		b->tc.envid = b->envid = xstrdup(cmd->envid);
	b->mode = TX_HOLD;   /* from here on, end_tx cleans up */
	if (take_account(b, &e)) {
		say_failure(b, &e);
		end_tx(b);
		return;
	}
	b->j.acc = b->acc;
	if ((b->qm = job_queue_mode(&b->tc, b->acc, &e)) < 0 || job_envelope_from(&b->tc, &b->j, &e)) {
		if (e.fc == FC_USAGE)
			say(b, "501 5.1.7 %s", e.msg);
		else
			say_failure(b, &e);
		log_tx(b, NULL, &e, e.ex);
		end_tx(b);
		return;
	}
	b->ret = cmd->ret ? cmd->ret : b->acc->dsn_return;
	b->mo.size = cmd->size;
	b->mo.eightbit = cmd->body == 8;
	b->mo.smtputf8 = cmd->smtputf8;
	memset(&b->md, 0, sizeof b->md);
	perr_clear(&b->md.session);
	if (b->route.mx.on || b->qm == QM_ALWAYS || b->qm == QM_ONLY) {
		say(b, "250 2.1.0 Ok");
		return;
	}
	struct envelope env = envelope(b);
	smtp_reply_init(&r);
	if (courier_mail(&b->k, &env, &b->mo, &r, &b->md) != EX_OK) {
		if (may_hold(b, &b->md.session)) {
			log_info("%s; the message will be queued", b->md.session.msg);
			say(b, "250 2.1.0 Ok");
		} else {
			say_failure(b, &b->md.session);
			log_tx(b, &b->md, &b->md.session, b->md.session.ex);
			end_tx(b);
		}
	} else if (r.code / 100 == 2) {
		b->mode = TX_RELAY;
		say_reply(b, &r);
	} else if (r.code / 100 == 4 && b->qm == QM_TEMPFAIL) {
		perr_reply(&b->md.session, PH_MAIL, r.code, r.enh, "sender <%s> rejected by %s: %d %s",
		           b->j.from, b->md.hop ? hop_name(b->md.hop) : "the server", r.code,
		           r.text.s ? r.text.s : "");
		log_info("%s; the message will be queued", b->md.session.msg);
		say(b, "250 2.1.0 Ok");
	} else {
		say_reply(b, &r);
		perr_reply(&e, PH_MAIL, r.code, r.enh, "sender <%s> rejected: %d %s", b->j.from,
		           r.code, r.text.s ? r.text.s : "");
		log_tx(b, &b->md, &e, e.ex);
		end_tx(b);
	}
	smtp_reply_free(&r);
}

/* A recipient after the syntax check: its envelope forms, or 501. */
static struct rcpt *new_rcpt(struct bs *b, const struct addr *a, struct smtpcmd *cmd, struct perr *e)
{
	struct job *j = &b->j;
	j->rcpt = xrealloc(j->rcpt, (j->nrcpt + 1) * sizeof *j->rcpt);
	struct rcpt *rc = &j->rcpt[j->nrcpt];
	if (rcpt_init(rc, a, e)) {
		rcpt_free(rc);
		return NULL;
	}
	j->nrcpt++;
	rc->notify = cmd->notify ? own(b, xstrdup(cmd->notify)) : b->acc->dsn_notify;
	if (cmd->orcpt)
		rc->orcpt = xstrdup(cmd->orcpt);
	return rc;
}

/* The server's session failed in the middle of the transaction, with a
 * queue: the message is taken here and queued after the data. */
static void hold_from_now(struct bs *b, const struct perr *e)
{
	log_info("%s; the message will be queued", e->msg);
	b->md.session = *e;
	for (size_t i = 0; i < b->j.nrcpt; i++)
		if (b->j.rcpt[i].state == RCPT_ACCEPTED)
			b->j.rcpt[i].state = RCPT_PENDING;
	b->mode = TX_HOLD;
}

/* Relay one recipient; a temporary failure with a queue is held. The
 * reply goes into worst when it is the first or a refusal; *said when a
 * failure was reported instead. */
static void relay_rcpt(struct bs *b, struct rcpt *rc, struct smtp_reply *worst, int *said)
{
	struct smtp_reply r;
	struct perr e;
	smtp_reply_init(&r);
	if (b->mode == TX_HOLD) {
		;   /* an earlier address of this RCPT lost the session: held */
	} else if (courier_rcpt(&b->k, rc, &r, &e) != EX_OK) {
		if (may_hold(b, &e)) {
			hold_from_now(b, &e);
		} else {
			rc->state = RCPT_REFUSED;
			rc->result = e;
			if (!*said)
				say_failure(b, &e);
			*said = 1;
		}
	} else if (r.code / 100 == 4 && may_hold(b, &rc->result)) {
		log_info("%s; it will be queued", rc->result.msg);
	} else if (worst->code == 0 || (worst->code / 100 == 2 && r.code / 100 != 2)) {
		smtp_reply_free(worst);
		*worst = r;
		smtp_reply_init(&r);
	}
	smtp_reply_free(&r);
}

static void cmd_rcpt(struct bs *b, struct smtpcmd *cmd)
{
	struct perr e;
	struct addrlist l = { 0 };
	perr_clear(&e);
	if (b->mode == TX_NONE) {
		say(b, "503 5.5.1 Error: need MAIL command");
		return;
	}
	if (b->j.nrcpt >= MAX_RCPTS) {
		say(b, "452 4.5.3 Error: too many recipients");
		return;
	}
	if (addr_parse_list(cmd->arg, &l, &e) || l.n != 1 ||
	    job_expand_aliases(b->acc, &l, &e)) {
		addrlist_free(&l);
		say(b, "501 5.1.3 Bad recipient address syntax");
		return;
	}
	size_t first = b->j.nrcpt;
	for (size_t i = 0; i < l.n; i++)
		if (!new_rcpt(b, &l.v[i], cmd, &e)) {
			b->j.nrcpt = first;   /* none of this RCPT's addresses */
			addrlist_free(&l);
			say(b, "501 5.1.3 Bad recipient address syntax");
			return;
		}
	addrlist_free(&l);
	b->tried++;
	if (b->mode == TX_HOLD) {
		say(b, "250 2.1.5 Ok");
		return;
	}
	struct smtp_reply worst;
	int said = 0;
	smtp_reply_init(&worst);
	for (size_t i = first; i < b->j.nrcpt; i++)
		relay_rcpt(b, &b->j.rcpt[i], &worst, &said);
	if (said)
		;
	else if (worst.code)
		say_reply(b, &worst);
	else
		say(b, "250 2.1.5 Ok");
	smtp_reply_free(&worst);
}

/* Recipients that can still get the message. */
static size_t live_rcpts(const struct bs *b)
{
	size_t n = 0;
	for (size_t i = 0; i < b->j.nrcpt; i++) {
		const struct rcpt *r = &b->j.rcpt[i];
		n += r->state == RCPT_ACCEPTED || r->state == RCPT_PENDING ||
		     (r->state == RCPT_REFUSED && b->qm == QM_TEMPFAIL && queue_should_hold(r, &b->md));
	}
	return n;
}

/* Queue the recipients d says to hold (d NULL: all): "queued as ID". */
static int hold(struct bs *b, const struct delivery *d, struct perr *e)
{
	char id[QUEUE_ID_MAX];
	if (job_enqueue(&b->tc, &b->j, d, id, e)) {
		say_failure(b, e);
		return e->ex;
	}
	say(b, "250 2.0.0 Ok: queued as %s", id);
	log_info("queued as %s", id);
	if (!d && b->qm == QM_ALWAYS && b->queued)
		b->queued(&b->tc, b->acc->queue_dir, id);
	perr_fail(e, FC_NONE, "queued as %s", id);
	return EX_OK;
}

static int holds_any(const struct bs *b, const struct delivery *d)
{
	for (size_t i = 0; i < b->j.nrcpt; i++)
		if (queue_should_hold(&b->j.rcpt[i], d))
			return 1;
	return 0;
}

/* The first refusal among the recipients, for the log and the reply. */
static const struct perr *first_refusal(const struct bs *b)
{
	for (size_t i = 0; i < b->j.nrcpt; i++)
		if (b->j.rcpt[i].state == RCPT_REFUSED)
			return &b->j.rcpt[i].result;
	return NULL;
}

/* The message relayed to the accepted recipients, then the held ones
 * queued. */
static void finish_relay(struct bs *b)
{
	struct envelope env = envelope(b);
	struct delivery d;
	struct smtp_reply r;
	struct perr e;
	size_t accepted = 0;
	perr_clear(&e);
	for (size_t i = 0; i < b->j.nrcpt; i++)
		accepted += b->j.rcpt[i].state == RCPT_ACCEPTED;
	smtp_reply_init(&r);
	if (accepted == 0) {   /* only held recipients: their server failed for now */
		courier_rset(&b->k);
		d = b->md;
		d.ex = EX_TEMPFAIL;
	} else {
		courier_data(&b->k, &env, &b->j.msg, &r, &d);
	}
	int permanent = r.code / 100 == 5;
	if (!permanent && b->qm == QM_TEMPFAIL && holds_any(b, &d)) {
		hold(b, &d, &e);
		log_tx(b, &d, &e, EX_OK);
	} else {
		if (r.code)
			say_reply(b, &r);
		else
			say_failure(b, &d.session);
		e = d.session;
		if (e.ex == EX_OK && first_refusal(b))
			e = *first_refusal(b);
		log_tx(b, &d, &e, d.ex);
	}
	smtp_reply_free(&r);
}

/* delivery mx, queue always, or a server that failed at MAIL: the whole
 * message now. */
static void finish_held(struct bs *b)
{
	struct envelope env = envelope(b);
	struct delivery d;
	struct perr e;
	perr_clear(&e);
	if (b->qm == QM_ALWAYS || b->qm == QM_ONLY) {
		if (hold(b, NULL, &e) == EX_OK)
			log_tx(b, NULL, &e, EX_OK);
		else
			log_tx(b, NULL, &e, e.ex);
		return;
	}
	if (!b->route.mx.on) {   /* the server failed at MAIL: queued */
		hold(b, &b->md, &e);
		log_tx(b, &b->md, &e, e.ex);
		return;
	}
	courier_send(&b->k, &env, &b->j.msg, 0, &d);
	if (b->qm == QM_TEMPFAIL && holds_any(b, &d)) {
		hold(b, &d, &e);
		log_tx(b, &d, &e, EX_OK);
		return;
	}
	e = d.session;
	if (e.ex == EX_OK && first_refusal(b))
		e = *first_refusal(b);
	if (d.ndelivered > 0 && d.ndelivered == b->j.nrcpt)
		say(b, "250 2.0.0 Ok: delivered to %zu recipient%s", d.ndelivered,
		    d.ndelivered == 1 ? "" : "s");
	else if (d.ndelivered > 0)   /* one domain's servers refused: no other way to tell */
		say(b, "250 2.0.0 Ok: delivered to %zu of %zu recipients; %s", d.ndelivered,
		    b->j.nrcpt, e.msg);
	else
		say_failure(b, &e);
	log_tx(b, &d, &e, d.ex);
}

/* 0 when the session goes on; the exit status when the input ended. */
static int cmd_data(struct bs *b)
{
	struct perr e;
	struct data_src src = { b, 1, 0, 0 };
	perr_clear(&e);
	if (b->mode == TX_NONE) {
		say(b, "503 5.5.1 Error: need MAIL command");
		return 0;
	}
	if (b->tried == 0) {
		say(b, "503 5.5.1 Error: need RCPT command");
		return 0;
	}
	if (live_rcpts(b) == 0) {
		say(b, "554 5.5.1 Error: no valid recipients");
		return 0;
	}
	say(b, "354 End data with <CR><LF>.<CR><LF>");
	if (msg_read_source(data_source, &src, &b->j.msg, &e) == EX_OK) {
		b->j.have_msg = 1;
	} else if (src.cut) {
		fprintf(stderr, "postie: %s\n", e.msg);
		abandon_tx(b);
		return EX_TEMPFAIL;
	} else {
		/* the message was refused: the rest of it is still read */
		char sink[4096];
		struct perr ignored;
		while (!src.done && !src.cut)
			if (data_source(&src, sink, sizeof sink, &ignored) <= 0)
				break;
		if (src.cut) {
			fprintf(stderr, "postie: %s\n", ignored.msg);
			abandon_tx(b);
			return EX_TEMPFAIL;
		}
	}
	if (!b->j.have_msg || job_prepare_message(&b->tc, &b->j, &e)) {
		say(b, "554 5.6.0 %s", e.msg);
		log_tx(b, NULL, &e, e.ex);
		abandon_tx(b);
		return 0;
	}
	long long limit = b->mode == TX_RELAY ? courier_size_limit(&b->k) : 0;
	if (limit > 0 && msg_wire_size(&b->j.msg, 1, &e) > limit) {
		say(b, "552 5.3.4 Error: message file too big");
		perr_fail(&e, FC_MESSAGE, "message size exceeds %s's limit of %lld bytes",
		          b->md.hop ? hop_name(b->md.hop) : "the server", limit);
		log_tx(b, NULL, &e, e.ex);
		abandon_tx(b);
		return 0;
	}
	if (b->md.notice[0])
		log_notice("%s", b->md.notice);
	if (b->mode == TX_RELAY)
		finish_relay(b);
	else
		finish_held(b);
	end_tx(b);
	return 0;
}

static void cmd_hello(struct bs *b, const struct smtpcmd *cmd)
{
	if (b->mode != TX_NONE)
		abandon_tx(b);
	b->greeted = 1;
	if (cmd->verb == SC_HELO) {
		say(b, "250 %s", b->host);
		return;
	}
	say(b, "250-%s", b->host);
	say(b, "250-PIPELINING");
	say(b, "250-SIZE");
	say(b, "250-8BITMIME");
	say(b, "250-SMTPUTF8");
	say(b, "250-DSN");
	say(b, "250 ENHANCEDSTATUSCODES");
}

/* One command; 1 after QUIT, or the exit status once the input ended
 * in the middle of the data (negative), else 0. */
static int command(struct bs *b, struct smtpcmd *cmd)
{
	switch (cmd->verb) {
	case SC_HELO:
	case SC_EHLO:
		cmd_hello(b, cmd);
		break;
	case SC_MAIL:
		cmd_mail(b, cmd);
		break;
	case SC_RCPT:
		cmd_rcpt(b, cmd);
		break;
	case SC_DATA: {
		int ex = cmd_data(b);
		if (ex)
			return -ex;
		break;
	}
	case SC_RSET:
		abandon_tx(b);
		say(b, "250 2.0.0 Ok");
		break;
	case SC_NOOP:
		say(b, "250 2.0.0 Ok");
		break;
	case SC_VRFY:
		say(b, "252 2.0.0 Cannot VRFY user, but will accept message and attempt delivery");
		break;
	case SC_HELP:
		say(b, "214 2.0.0 Commands: HELO EHLO MAIL RCPT DATA RSET NOOP VRFY HELP QUIT");
		break;
	case SC_QUIT:
		say(b, "221 2.0.0 Bye");
		return 1;
	case SC_NOTIMPL:
		say(b, "502 5.5.1 Error: command not implemented");
		break;
	case SC_UNKNOWN:
		say(b, "500 5.5.2 Error: command not recognized");
		break;
	}
	return 0;
}

/* The idle limit: --timeout on the command line, else 300 s. */
static int idle_limit(const struct cli *c)
{
	int t = IDLE_DEFAULT;
	for (size_t i = 0; i < c->nov; i++)
		if (strcmp(c->ov[i].key, "timeout") == 0) {
			char *end;
			long v = strtol(c->ov[i].val, &end, 10);
			if (*end == '\0' && v > 0 && v < 86400)
				t = (int)v;
		}
	return t;
}

int smtpd_run(const struct cli *c, smtpd_queued_fn queued)
{
	struct bs *b = xcalloc(1, sizeof *b);
	struct buf line;
	int ex = EX_OK, done = 0;
	b->c = c;
	b->tc = *c;
	b->queued = queued;
	b->out = stdout;
	b->host = host_canonical();
	b->idle = idle_limit(c);
	buf_init(&line);
	say(b, "220 %s ESMTP postie", b->host);
	while (!done && !b->failed) {
		int too_long;
		if (!get_line(b, &line, SMTPCMD_MAX_MAIL_LINE, &too_long))
			break;
		struct smtpcmd cmd;
		if (too_long) {
			say(b, "500 5.5.2 Error: line too long");
			continue;
		}
		if (smtpcmd_parse(line.s ? line.s : "", line.len, &cmd) != 0)
			say(b, "%d %s", cmd.code, cmd.reply);
		else if ((done = command(b, &cmd)) < 0)
			ex = -done;
		smtpcmd_free(&cmd);
	}
	if (b->in.timed_out) {
		say(b, "421 4.4.2 %s Error: timeout exceeded", b->host);
		fprintf(stderr, "postie: -bs: no command from the client for %d s; session ended\n",
		        b->idle);
		ex = EX_TEMPFAIL;
	}
	if (b->mode != TX_NONE)
		abandon_tx(b);
	flush_out(b);
	if (b->failed && ex == EX_OK && !done) {
		fprintf(stderr, "postie: -bs: cannot write to standard output: %s\n", strerror(errno));
		ex = EX_IOERR;
	}
	drop_account(b);
	buf_free(&line);
	free(b->host);
	free(b);
	return ex;
}
