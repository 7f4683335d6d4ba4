/* main.c - argv (sendmail + msmtp options) to a job, and the top-level flow:
 * (setgid start: the system file, then the group goes) -> config ->
 * message -> envelope -> deliver() -> diagnostics, log line and exit
 * status. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "addr.h"
#include "auth.h"
#include "conf.h"
#include "configure.h"
#include "deliver.h"
#include "job.h"
#include "log.h"
#include "msg.h"
#include "mx.h"
#include "oauth.h"
#include "options.h"
#include "queue.h"
#include "secret.h"
#include "route.h"
#include "session.h"
#include "smtpd.h"
#include "status.h"
#include "idnlib.h"
#include "sasllib.h"
#include "tlslib.h"
#include "util.h"

/* How long a refused message is still read, so its writer gets no SIGPIPE. */
#define DRAIN_SECONDS 10

/* The modes that talk to the server or the authorization server about
 * the account, and take no recipients. */
static const struct { enum mode m; const char *opt; } no_rcpt_modes[] = {
	{ M_SERVERINFO, "--serverinfo" },   { M_OAUTH_LOGIN, "--oauth-login" },
	{ M_OAUTH_STATUS, "--oauth-status" }, { M_OAUTH_TOKEN, "--oauth-token" },
	{ M_OAUTH_LOGOUT, "--oauth-logout" }, { M_QUEUE, "-q and --queue-run" },
	{ M_QUEUE_CTL, "--queue-delete, --queue-hold and --queue-release" },
	{ M_SMTP, "-bs" },
	{ M_CONFIGURE, "--configure" },
};

static int fail(const struct perr *e)
{
	fprintf(stderr, "postie: %s\n", e->msg);
	return e->ex;
}

static const struct opt_def *opt_by_short(int c)
{
	for (size_t i = 0; i < OPT_COUNT; i++)
		if (opt_table[i].sname == c)
			return &opt_table[i];
	return NULL;
}

static void build_getopt(char *shorts, struct option *longs)
{
	size_t s = 0, l = 0;
	shorts[s++] = ':';
	for (size_t i = 0; i < OPT_COUNT; i++) {
		const struct opt_def *o = &opt_table[i];
		if (o->sname) {
			shorts[s++] = (char)o->sname;
			if (o->arg != no_argument)
				shorts[s++] = ':';
			if (o->arg == optional_argument)
				shorts[s++] = ':';
		}
		if (o->lname) {
			longs[l].name = o->lname;
			longs[l].has_arg = o->arg;
			longs[l].flag = NULL;
			longs[l].val = 256 + (int)i;
			l++;
		}
	}
	shorts[s] = '\0';
	memset(&longs[l], 0, sizeof longs[l]);
}

/* An option's --help line: its own, or for one that sets a keyword the
 * keyword's; NULL when it is not listed. */
static const char *opt_doc(const struct opt_def *o)
{
	const struct conf_keyword *k;
	if (o->act != ACT_KEY)
		return o->doc;
	k = conf_keyword_find(o->key);
	return k ? k->doc : NULL;
}

/* "-f, --from=ADDR" as --help shows it. */
static void opt_spec(const struct opt_def *o, char *spec, size_t size)
{
	int n = 0;
	if (o->sname)
		n += snprintf(spec + n, size - (size_t)n, "-%c%s", o->sname, o->lname ? ", " : "");
	if (o->lname)
		n += snprintf(spec + n, size - (size_t)n, "--%s", o->lname);
	if (o->argdoc && n < (int)size) {
		const char *fmt = o->arg == optional_argument ? (o->lname ? "[=%s]" : "[%s]")
		                : o->lname ? "=%s" : " %s";
		snprintf(spec + n, size - (size_t)n, fmt, o->argdoc);
	}
}

static void usage(FILE *out)
{
	fprintf(out, "Usage: postie [options] [--] [recipient ...]\n"
	             "Reads a message on standard input (always to end of file) and submits it.\n\n");
	for (size_t i = 0; i < OPT_COUNT; i++) {
		const char *doc = opt_doc(&opt_table[i]);
		char spec[80];
		if (!doc)
			continue;
		opt_spec(&opt_table[i], spec, sizeof spec);
		fprintf(out, "  %-34s %s\n", spec, doc);
	}
	fputs("\nAccepted and ignored for sendmail compatibility:", out);
	for (size_t i = 0; i < OPT_COUNT; i++)
		if (opt_table[i].act == ACT_IGNORE)
			fprintf(out, " -%c%s", opt_table[i].sname, opt_table[i].argdoc ? opt_table[i].argdoc : "");
	fputs("\nExit status follows sysexits(3); see postie(1).\n", out);
}

static const char *const arg_kind[] = { "none", "required", "optional" };

/* --dump-keywords: both tables, tab-separated, one row per line:
 * "keyword NAME ARG DEFAULT OBSOLETE DOC" (OBSOLETE 0 or 1) and
 * "option LONG SHORT ARGUMENT ARGDOC KEYWORD DOC" (ARGUMENT none,
 * required or optional; DOC empty for an option --help does not list). */
static void dump_keywords(FILE *out)
{
	const struct conf_keyword *k;
	for (size_t i = 0; (k = conf_keyword(i)); i++)
		fprintf(out, "keyword\t%s\t%s\t%s\t%d\t%s\n", k->name, k->arg, k->def ? k->def : "",
		        k->obsolete, k->doc);
	for (size_t i = 0; i < OPT_COUNT; i++) {
		const struct opt_def *o = &opt_table[i];
		const char *doc = opt_doc(o);
		char sname[3] = { '-', (char)o->sname, '\0' };
		fprintf(out, "option\t%s\t%s\t%s\t%s\t%s\t%s\n", o->lname ? o->lname : "", o->sname ? sname : "",
		        arg_kind[o->arg], o->argdoc ? o->argdoc : "", o->key ? o->key : "", doc ? doc : "");
	}
}

/* "System configuration file: A, else B": each place of kind, " or "
 * between postie's own or msmtp's files, ", else " from postie's to
 * msmtp's, on a new line when the line would pass 79 columns. */
static void print_places(const char *label, const char *kind)
{
	const struct conf_place *p, *prev = NULL;
	int col = printf("%s configuration file:", label);
	for (size_t i = 0; (p = conf_place(i)); i++) {
		if (strcmp(p->kind, kind) != 0)
			continue;
		const char *sep = !prev ? " " : p->msmtp != prev->msmtp ? ", else " : " or ";
		if (prev && p->msmtp != prev->msmtp && col + strlen(sep) + strlen(p->path) > 79) {
			fputs(",\n", stdout);
			col = printf("  else ");
		} else {
			col += printf("%s", sep);
		}
		col += printf("%s", p->path);
		prev = p;
	}
	putchar('\n');
}

static void version(void)
{
	printf("postie %s\n", PACKAGE_VERSION);
	struct perr e;
	if (tlslib_load(&e) == EX_OK)
		printf("TLS library: GnuTLS %s (%s)\n", gnutls_check_version(NULL), GNUTLS_SONAME);
	else
		printf("TLS library: %s\n", e.msg);
	if (idnlib_load(&e) == EX_OK)
		printf("IDN library: libidn2 %s (%s)\n", idn2_check_version(NULL), IDN2_SONAME);
	else
		printf("IDN library: %s\n", e.msg);
	if (sasllib_load(&e) == EX_OK)
		printf("SASL library: GNU SASL %s (%s)\n", gsasl_check_version(NULL), GSASL_SONAME);
	else
		printf("SASL library: %s\n", e.msg);
	printf("HTTP library for OAuth2: %s\n", CURL_SONAME);
	printf("JSON library for OAuth2: %s\n", JANSSON_SONAME);
	printf("(each loaded when a run first needs it)\n");
	char *mechs = auth_mechanisms();
	printf("Authentication mechanisms: %s\n", *mechs ? mechs : "none");
	free(mechs);
	print_places("System", "system");
	print_places("User", "user");
}

/* -b MODE: -bm (deliver, the default), -bp (mailq) and -bi (newaliases). */
static int check_mode(struct cli *c, const char *m, struct perr *e)
{
	static const struct { const char *m, *what; } modes[] = {
		{ "v", "verify addresses" },
		{ "d", "daemon" },                 { "D", "daemon in foreground" },
		{ "t", "address test" },           { "h", "host status" },
		{ "H", "purge host status" },      { "P", "print queue sizes" },
	};
	if (strcmp(m, "m") == 0)
		return 0;
	if (strcmp(m, "p") == 0 || strcmp(m, "i") == 0 || strcmp(m, "s") == 0) {
		c->mode = *m == 'p' ? M_LISTQ : *m == 'i' ? M_NEWALIASES : M_SMTP;
		return 0;
	}
	for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++)
		if (strcmp(m, modes[i].m) == 0)
			return perr_fail(e, FC_USAGE, "mode -b%s (%s) is not supported", m, modes[i].what);
	return perr_fail(e, FC_USAGE, "unknown mode -b%s", m);
}

/* -odX (the other -o options are ignored): deliver in the background
 * (b), queue only (q), or interactively (i), as sendmail's
 * DeliveryMode; postie maps them to queue always / -odq / tempfail. */
static int delivery_mode(struct cli *c, const char *m, struct perr *e)
{
	if (*m == 'b' || *m == 'q' || *m == 'i' || *m == 'd') {
		c->odmode = *m == 'd' ? 'q' : *m;   /* d (deferred) queues too */
		return 0;
	}
	return perr_fail(e, FC_USAGE, "unknown delivery mode -od%s (b, i or q)", m);
}

/* -q (every queued message), -qISUBSTR; an interval (-q30m) would make
 * a daemon, which postie is not: a timer runs --queue-run. */
static int queue_option(struct cli *c, const char *arg, struct perr *e)
{
	c->mode = M_QUEUE;
	if (!arg || !*arg)
		return 0;
	if (arg[0] == 'I' && arg[1]) {
		c->queue_part = arg + 1;
		return 0;
	}
	return perr_fail(e, FC_USAGE, "-q%s: postie runs no daemon; run postie --queue-run from cron or a timer, "
	                 "or postie -q by hand", arg);
}

static int apply_opt(struct cli *c, const struct opt_def *o, const char *arg, struct perr *e)
{
	switch (o->act) {
	case ACT_KEY:
		c->ov = xrealloc(c->ov, (c->nov + 1) * sizeof *c->ov);
		c->ov[c->nov].key = o->key;
		c->ov[c->nov].val = arg ? arg : "";
		c->ov[c->nov].where = o->lname ? xasprintf("--%s", o->lname) : xasprintf("-%c", o->sname);
		c->nov++;
		return 0;
	case ACT_IGNORE: return o->sname == 'o' && arg && arg[0] == 'd' ? delivery_mode(c, arg + 1, e) : 0;
	case ACT_QUEUE_RUN: c->mode = M_QUEUE; c->due_only = 1; return 0;
	case ACT_QUEUE_DELETE:
	case ACT_QUEUE_HOLD:
	case ACT_QUEUE_RELEASE:
		c->mode = M_QUEUE_CTL;
		c->queue_op = o->act == ACT_QUEUE_DELETE ? QO_DELETE : o->act == ACT_QUEUE_HOLD ? QO_HOLD : QO_RELEASE;
		c->queue_id = arg;
		return 0;
	case ACT_HELP: c->mode = M_HELP; return 0;
	case ACT_VERSION: c->mode = M_VERSION; return 0;
	case ACT_PRETEND: c->mode = M_PRETEND; return 0;
	case ACT_SERVERINFO: c->mode = M_SERVERINFO; return 0;
	case ACT_DEBUG: c->verbose = 1; return 0;
	case ACT_FILE: c->file = arg; return 0;
	case ACT_ACCOUNT: c->account = arg; return 0;
	case ACT_HOST: c->host = arg; return 0;
	case ACT_FROM: c->from = arg; return 0;
	case ACT_FULLNAME: c->fullname = arg; return 0;
	case ACT_ENVID: c->envid = arg; return 0;
	case ACT_READ_RCPTS: c->read_rcpts = 1; return 0;
	case ACT_READ_FROM: c->read_from = 1; return 0;
	case ACT_MODE: return check_mode(c, arg, e);
	case ACT_QUEUE: return queue_option(c, arg, e);
	case ACT_UNSUPPORTED: return perr_fail(e, FC_USAGE, "--%s is not supported", o->lname);
	case ACT_DUMP: c->mode = M_DUMP; return 0;
	case ACT_CONFIGURE: c->mode = M_CONFIGURE; c->configure = arg; return 0;
	case ACT_OAUTH_LOGIN: c->mode = M_OAUTH_LOGIN; return 0;
	case ACT_OAUTH_STATUS: c->mode = M_OAUTH_STATUS; return 0;
	case ACT_OAUTH_TOKEN: c->mode = M_OAUTH_TOKEN; return 0;
	case ACT_OAUTH_LOGOUT: c->mode = M_OAUTH_LOGOUT; return 0;
	}
	return 0;
}

/* Called as mailq or newaliases (Debian links both to sendmail), act as
 * sendmail does: -bp and -bi. */
static enum mode mode_of_name(const char *argv0)
{
	const char *base = argv0 ? strrchr(argv0, '/') : NULL;
	base = base ? base + 1 : argv0 ? argv0 : "";
	if (strcmp(base, "mailq") == 0)
		return M_LISTQ;
	if (strcmp(base, "newaliases") == 0)
		return M_NEWALIASES;
	return M_SEND;
}

static int parse_args(int argc, char **argv, struct cli *c, struct perr *e)
{
	char shorts[3 * OPT_COUNT + 2];
	struct option longs[OPT_COUNT + 1];
	int ch;

	c->mode = mode_of_name(argv[0]);
	build_getopt(shorts, longs);
	opterr = 0;
	while ((ch = getopt_long(argc, argv, shorts, longs, NULL)) != -1) {
		const struct opt_def *o;
		if (ch == '?' || ch == ':') {
			const char *what = optopt ? (char[]){ '-', (char)optopt, 0 } : argv[optind - 1];
			return perr_fail(e, FC_USAGE, ch == ':' ? "option %s needs an argument (see postie --help)"
			                                       : "unknown option %s (see postie --help)", what);
		}
		o = ch >= 256 ? &opt_table[ch - 256] : opt_by_short(ch);
		if (!o || apply_opt(c, o, optarg, e))
			return e->ex ? e->ex : perr_fail(e, FC_INTERNAL, "option table error");
	}
	if (c->host && c->account)
		return perr_fail(e, FC_USAGE, "--host and --account cannot be used together");
	c->args = argv + optind;
	c->nargs = argc - optind;
	for (size_t i = 0; c->nargs && i < sizeof no_rcpt_modes / sizeof no_rcpt_modes[0]; i++)
		if (c->mode == no_rcpt_modes[i].m)
			return perr_fail(e, FC_USAGE, "%s takes no recipients ('%s' given; see postie --help)",
			                 no_rcpt_modes[i].opt, c->args[0]);
	if (c->mode == M_SMTP && (c->read_rcpts || c->read_from))
		return perr_fail(e, FC_USAGE, "-bs takes the envelope from MAIL and RCPT: -t and "
		                 "--read-envelope-from do not apply");
	return 0;
}

static int print_until_body(void *ctx, const char *p, size_t n)
{
	int *bol = ctx;   /* at the beginning of a line */
	for (size_t i = 0; i < n; i++) {
		if (p[i] == '\r')
			continue;
		if (p[i] == '\n' && *bol)
			return 1;   /* the blank line: stop before the body */
		if (*bol)
			fputs("postie: | ", stderr);
		fputc(p[i], stderr);
		*bol = p[i] == '\n';
	}
	return 0;
}

/* -v: the header section exactly as it will be sent (not the body). */
static void show_header(struct job *j)
{
	struct perr ignored;
	int bol = 1;
	if (!log_verbose())
		return;
	fputs("postie: the header section to be sent:\n", stderr);
	msg_write(&j->msg, 0, print_until_body, &bol, &ignored);
}

/* ---- the queue ---- */


/* job_free for a job whose account and route a queue run lends it. */
static void job_release(struct job *j)
{
	j->acc = NULL;
	memset(&j->route, 0, sizeof j->route);
	job_free(j);
}
static int fail_logged(const struct cli *c, const struct job *j, const struct perr *e);

/* The exit status of what was not queued: the final failures only. */
static int final_status(const struct job *j, const struct delivery *d)
{
	int ex = EX_OK;
	for (size_t i = 0; i < j->nrcpt; i++) {
		const struct rcpt *r = &j->rcpt[i];
		if (r->state == RCPT_DELIVERED || queue_should_hold(r, d))
			continue;
		ex = status_combine(ex, r->state == RCPT_REFUSED ? r->result.ex : d->session.ex);
	}
	return ex;
}

/* Each refused recipient on its own line, then the session's failure;
 * with held, only what was not queued. */
static void report_refused(const struct job *j, const struct delivery *d, int held)
{
	int session_final = 0;
	for (size_t i = 0; i < j->nrcpt; i++) {
		const struct rcpt *r = &j->rcpt[i];
		if (held && queue_should_hold(r, d))
			continue;
		if (r->state == RCPT_REFUSED)
			fail(&r->result);
		else if (r->state == RCPT_PENDING)
			session_final = 1;
	}
	if (d->session.ex != EX_OK && (!held || session_final))
		fail(&d->session);
}

/* "postie: queued as ID: why", and the same words for the log line. */
static void report_queued(const char *id, struct perr *e)
{
	char why[sizeof e->msg];
	snprintf(why, sizeof why, "%s", e->msg);
	log_notice("queued as %s: %s", id, why);
	snprintf(e->msg, sizeof e->msg, "queued as %s: %.900s", id, why);
}

/* mailq: the listing of dir (NULL: the default queue directory). */
static int list_queue(const char *dir, struct perr *e)
{
	char *d = dir ? xstrdup(dir) : conf_queue_dir_default();
	int r = queue_list(d, stdout, e);
	free(d);
	return r ? fail(e) : 0;
}

/* A queue run: the account, route and session of the messages last
 * sent, kept while the next message has the same account, so that one
 * connection carries them all (RSET between transactions). */
struct qrun {
	const struct cli *c;
	char *key;              /* "config\naccount" of acc, NULL: none yet */
	struct account *acc;
	struct route route;
	struct courier k;
	int only;               /* skip the messages of other accounts */
	int delivered;          /* a message was delivered to someone */
};

static char *qrun_key(const char *config, const char *account)
{
	return xasprintf("%s\n%s", config, account);
}

static void qrun_release(struct qrun *rq)
{
	if (!rq->key)
		return;
	courier_close(&rq->k);
	route_free(&rq->route);
	account_free(rq->acc);
	free(rq->key);
	rq->key = NULL;
	rq->acc = NULL;
}

/* The account of q (from its configuration file), loaded unless it is
 * the one the run already has. */
static int qrun_account(struct qrun *rq, const struct queue_env *q, struct perr *e)
{
	char *key = qrun_key(q->config, q->account), *files = NULL;
	if (rq->key && strcmp(rq->key, key) == 0) {
		free(key);
		return 0;
	}
	qrun_release(rq);
	struct cli qc = *rq->c;
	qc.file = *q->config ? q->config : NULL;
	qc.account = q->account;
	qc.host = NULL;
	qc.nov = 0;
	int r = job_choose_account(&qc, NULL, &rq->acc, &files, e);
	free(files);
	if (r || conf_finish(rq->acc, CONF_CONNECT, e)) {
		account_free(rq->acc);
		rq->acc = NULL;
		free(key);
		return e->ex;
	}
	route_from_account(rq->acc, &rq->route);
	courier_init(&rq->k, &rq->route);
	rq->key = key;
	return 0;
}

/* The job of a queued message: its account (from its configuration
 * file), route, sender and pending recipients. */
static int queued_job(struct qrun *rq, const struct queue_env *q, struct job *j, struct perr *e)
{
	if (qrun_account(rq, q, e))
		return e->ex;
	j->acc = rq->acc;       /* borrowed from the run: see job_release */
	j->route = rq->route;
	j->from = xstrdup(q->sender);
	j->rcpt = xcalloc(queue_pending(q) + 1, sizeof *j->rcpt);
	for (size_t i = 0; i < q->nrcpt; i++) {
		if (q->rcpt[i].state != QR_PENDING)
			continue;
		struct rcpt *x = &j->rcpt[j->nrcpt++];
		x->given = xstrdup(q->rcpt[i].addr);
		x->ascii = xstrdup(q->rcpt[i].addr);
		x->utf8 = xstrdup(q->rcpt[i].addr);
		x->notify = j->acc->dsn_notify;
		perr_clear(&x->result);
	}
	return 0;
}

/* Printable ASCII only, for the notice's header and text. */
static void add_ascii(struct buf *b, const char *s)
{
	for (; s && *s; s++)
		buf_addc(b, (unsigned char)*s >= 0x20 && (unsigned char)*s < 0x7f ? *s : '?');
}

/* The notice's text: headers and a plain body naming what was given up. */
static char *notice_text(const struct job *j, const struct queue_env *q, const struct msg *m)
{
	const struct header *subj = msg_header(m, "Subject", 0);
	struct buf b;
	buf_init(&b);
	buf_adds(&b, "From: Mail Delivery System <MAILER-DAEMON@");
	add_ascii(&b, j->acc->domain);
	buf_adds(&b, ">\nTo: ");
	add_ascii(&b, j->acc->queue_notify);
	buf_printf(&b, "\nSubject: Undelivered mail (queued message %s): ", q->id);
	add_ascii(&b, subj ? subj->value : "(no subject)");
	buf_adds(&b, "\nAuto-Submitted: auto-replied\nMIME-Version: 1.0\n"
	         "Content-Type: text/plain; charset=us-ascii\n\n");
	buf_printf(&b, "postie gave up on queued message %s after %d attempts: it stayed in the\n"
	           "queue longer than queue_lifetime (%d s) of account '", q->id, q->attempts,
	           j->acc->queue_lifetime);
	add_ascii(&b, j->acc->name);
	buf_adds(&b, "'.\n\nSender: <");
	add_ascii(&b, q->sender);
	buf_adds(&b, ">\n\nNot delivered to:\n");
	for (size_t i = 0; i < q->nrcpt; i++) {
		if (q->rcpt[i].state == QR_DONE)
			continue;
		buf_adds(&b, "  <");
		add_ascii(&b, q->rcpt[i].addr);
		buf_adds(&b, ">: ");
		add_ascii(&b, q->rcpt[i].reply ? q->rcpt[i].reply : "(no reply)");
		buf_addc(&b, '\n');
	}
	buf_adds(&b, "\nThe message is kept in the queue directory's failed/ folder.\n");
	return buf_steal(&b);
}

/* queue_notify: one plain notice about an expired message, from the null
 * sender (RFC 5321 4.5.5) and marked Auto-Submitted (RFC 3834), so that
 * it can never cause a notice itself; none for a message that had the
 * null sender. Sent once, never queued. */
static void notify_expired(const struct job *j, const struct queue_env *q, const struct msg *m)
{
	struct msg nm;
	struct perr e;
	struct delivery d;
	if (!j->acc->queue_notify || !*q->sender)
		return;
	char *text = notice_text(j, q, m);
	struct msg_edits ed = { .set_from = HDR_OFF, .set_date = HDR_AUTO, .set_msgid = HDR_AUTO,
	                        .msgid_domain = j->acc->domain };
	int r = msg_read_mem(text, strlen(text), &nm, &e) || msg_prepare(&nm, &ed, &e);
	free(text);
	if (r) {
		log_notice("no notice about %s: %s", q->id, e.msg);
		return;
	}
	struct rcpt to = { .given = j->acc->queue_notify, .ascii = j->acc->queue_notify,
	                   .utf8 = j->acc->queue_notify, .state = RCPT_PENDING };
	perr_clear(&to.result);
	struct envelope env = { .from = "", .rcpt = &to, .nrcpt = 1 };
	if (deliver(&env, &nm, &j->route, &d) == EX_OK)
		log_info("notice about %s sent to %s", q->id, j->acc->queue_notify);
	else
		log_notice("the notice about %s to %s failed: %s", q->id, j->acc->queue_notify,
		           to.state == RCPT_REFUSED ? to.result.msg : d.session.msg);
	msg_free(&nm);
}

/* One queued message: deliver to its pending recipients, write the
 * states back, report what became final. */
static int run_queued(const char *dir, struct queue_env *q, struct msg *m, void *ctx)
{
	struct qrun *rq = ctx;
	struct job j;
	struct perr e;
	struct delivery d;
	memset(&j, 0, sizeof j);
	perr_clear(&e);
	if (rq->only) {
		char *key = qrun_key(q->config, q->account);
		int other = strcmp(key, rq->key) != 0;
		free(key);
		if (other)
			return 0;
	}
	if (queued_job(rq, q, &j, &e)) {
		log_notice("queued message %s: %s", q->id, e.msg);
		job_release(&j);
		return 1;
	}
	struct envelope env = { .from = j.from, .rcpt = j.rcpt, .nrcpt = j.nrcpt,
	                        .dsn_return = q->dsn_return, .envid = q->envid };
	courier_send(&rq->k, &env, m, 0, &d);
	rq->delivered |= d.ndelivered > 0;
	int ex = final_status(&j, &d);
	report_refused(&j, &d, 1);
	int st = queue_settle(dir, q, j.rcpt, &d, j.acc->queue_lifetime, (unsigned)random() % 1001, &e);
	if (st < 0) {
		fail(&e);
	} else {
		e = d.session;
		for (size_t i = 0; e.ex == EX_OK && i < j.nrcpt; i++)
			if (j.rcpt[i].state == RCPT_REFUSED)
				e = j.rcpt[i].result;
		char why[sizeof e.msg];
		snprintf(why, sizeof why, "%s", e.msg);
		if (st == QS_EXPIRED) {
			log_notice("%s expired after %d s in the queue; moved to %s/failed: %s", q->id,
			           j.acc->queue_lifetime, dir, why);
			snprintf(e.msg, sizeof e.msg, "%s expired in the queue: %.900s", q->id, why);
			ex = ex ? ex : EX_TEMPFAIL;
			notify_expired(&j, q, m);
		} else if (st == QS_DEFERRED) {
			log_info("%s stays queued: %s", q->id, why);
			snprintf(e.msg, sizeof e.msg, "still queued as %s: %.900s", q->id, why);
		}
		job_write_logs(rq->c, &j, &d, &e, ex);
	}
	job_release(&j);
	return st < 0;
}

/* --queue-delete, --queue-hold, --queue-release: "ID: deleted". */
static int queue_command(const struct cli *c, const char *dir, struct perr *e)
{
	static const char *const done[] = { "deleted", "held", "released" };
	if (queue_control(dir, c->queue_id, (enum queue_op)c->queue_op, e))
		return fail(e);
	printf("%s: %s\n", c->queue_id, done[c->queue_op]);
	return 0;
}

/* -q, -qISUBSTR, --queue-run. */
static int run_queue(const struct cli *c, const char *dir, struct perr *e)
{
	struct qrun rq = { .c = c };
	struct stat st;
	if (stat(dir, &st) == 0 && queue_dir_check(dir, e))
		return fail(e);
	srandom((unsigned)time(NULL) ^ (unsigned)getpid());
	int r = queue_scan(dir, c->due_only, c->queue_part, run_queued, &rq, e);
	qrun_release(&rq);
	return r < 0 ? fail(e) : 0;
}

/* Go on in a child of a child (no zombie, no terminal, its own session,
 * stdio on /dev/null): returns 1 there; 0 in the caller, once the first
 * child has exited, and also when fork fails. */
static int detach(void)
{
	fflush(stdout);
	fflush(stderr);
	pid_t p = fork();
	if (p < 0)
		return 0;
	if (p > 0) {
		waitpid(p, NULL, 0);
		return 0;
	}
	setsid();
	if (fork() != 0)
		_exit(0);
	int fd = open("/dev/null", O_RDWR);
	if (fd >= 0) {
		dup2(fd, 0);
		dup2(fd, 1);
		dup2(fd, 2);
		if (fd > 2)
			close(fd);
	}
	srandom((unsigned)time(NULL) ^ (unsigned)getpid());
	return 1;
}

/* After a delivery, the due messages of the same account go over the
 * session the run has (RSET between transactions), then it ends. */
static void flush_account(const char *dir, struct qrun *rq)
{
	struct perr e;
	if (rq->key && rq->delivered && rq->k.open) {
		rq->only = 1;
		queue_scan(dir, 1, NULL, run_queued, rq, &e);
	}
	qrun_release(rq);
}

/* queue always: a detached process sends the message just queued (if
 * that fails, it stays queued: the next run sends it), then the
 * account's due messages; the caller goes on at once. */
static void run_detached(const struct cli *c, const char *dir, const char *id)
{
	struct qrun rq = { .c = c };
	struct perr e;
	if (!detach())
		return;
	queue_scan(dir, 0, id, run_queued, &rq, &e);
	flush_account(dir, &rq);
	_exit(0);
}

/* How this call uses the queue: the account's queue keyword, or -odX. */

/* queue always, -odq, -odb: the message is safe on disk before anything
 * else; with detach, a child of a child (no zombie, no terminal) sends it. */
static int queue_first(const struct cli *c, struct job *j, int detach, struct perr *e)
{
	char id[QUEUE_ID_MAX];
	if (job_enqueue(c, j, NULL, id, e))
		return fail_logged(c, j, e);
	perr_fail(e, FC_NONE, "queued as %s", id);
	log_info("queued as %s", id);
	job_write_logs(c, j, NULL, e, 0);
	if (detach)
		run_detached(c, j->acc->queue_dir, id);
	return 0;
}

/* The end of a direct send's session. After a delivery with the account's
 * due messages waiting (the session was kept open for them), a detached
 * process sends them over it and the caller gets its status at once;
 * otherwise QUIT (already sent with the data when nothing was waiting). */
static void flush_after(const struct cli *c, struct job *j, struct courier *k, const char *config,
                        int delivered)
{
	if (!(config && delivered && k->open)) {
		courier_close(k);
		return;
	}
	if (!detach()) {
		courier_drop(k);   /* the detached process has the session */
		return;
	}
	/* the job's account, route and session pass to the run; never freed
	 * twice: this process ends in flush_account's _exit */
	struct qrun rq = { .c = c, .key = qrun_key(config, j->acc->name), .acc = j->acc,
	                   .route = j->route, .k = *k, .delivered = 1 };
	flush_account(j->acc->queue_dir, &rq);
	_exit(0);
}

/* Deliver, then report: a notice, each refused recipient on its own
 * line, the failure of the whole transaction, the log line. With hold,
 * temporary failures are queued instead: "queued as ID: why". */
static int send_job(const struct cli *c, struct job *j, int hold, struct perr *e)
{
	struct envelope env = job_envelope(c, j);
	struct delivery d;
	struct courier k;
	char id[QUEUE_ID_MAX] = "";
	char *config = hold ? job_queue_config(c) : NULL;
	int more = config && queue_has_due(j->acc->queue_dir, config, j->acc->name);
	courier_init(&k, &j->route);
	int ex = courier_send(&k, &env, &j->msg, !more, &d);
	size_t held = 0;
	for (size_t i = 0; hold && i < j->nrcpt; i++)
		held += queue_should_hold(&j->rcpt[i], &d);
	if (held && job_enqueue(c, j, &d, id, e) == 0) {
		ex = final_status(j, &d);
	} else if (held) {   /* not queued: say why; the caller must not think it safe */
		ex = fail(e);
		held = 0;
	}
	if (d.notice[0])
		log_notice("%s", d.notice);
	report_refused(j, &d, held);
	/* the failure the log line reports: the session's, else the first recipient's */
	*e = d.session;
	for (size_t i = 0; e->ex == EX_OK && i < j->nrcpt; i++)
		if (j->rcpt[i].state == RCPT_REFUSED)
			*e = j->rcpt[i].result;
	if (held)
		report_queued(id, e);
	job_write_logs(c, j, &d, e, ex);
	flush_after(c, j, &k, config, d.ndelivered > 0);
	free(config);
	return ex;
}

/* --oauth-login, --oauth-status, --oauth-token, --oauth-logout. */
static int oauth_command(enum mode m, const struct policy *p, struct perr *e)
{
	char *token;
	int r;
	if (!p->use_oauth) {
		perr_fail(e, FC_CONFIG, "account '%s' does not use OAuth2: set oauth_provider and "
		          "oauth_client_id (see postierc(5))", p->name);
		return fail(e);
	}
	switch (m) {
	case M_OAUTH_LOGIN: r = oauth_login(&p->oauth, stdout, e); break;
	case M_OAUTH_STATUS: r = oauth_status(&p->oauth, stdout, e); break;
	case M_OAUTH_LOGOUT: r = oauth_logout(&p->oauth, stdout, e); break;
	default:
		if ((r = oauth_access_token(&p->oauth, 0, &token, e)) == 0) {
			printf("%s\n", token);
			secret_free(token);
		}
	}
	fflush(stdout);
	return r ? fail(e) : 0;
}

/* --pretend with delivery mx: the route to each recipient domain. */
static void pretend_routes(const struct cli *c, const struct account *a)
{
	struct route rt;
	struct addrlist l = { 0 };
	struct perr e;
	if (a->delivery != DELIVERY_MX)
		return;
	route_from_account(a, &rt);
	for (int i = 0; i < c->nargs; i++)
		if (addr_parse_list(c->args[i], &l, &e))
			printf("route: recipient argument '%s': %s\n", c->args[i], e.msg);
	addrlist_dedup(&l);
	char **seen = xcalloc(l.n + 1, sizeof *seen);
	size_t nseen = 0;
	for (size_t i = 0; i < l.n; i++) {
		struct rcpt r;
		if (rcpt_init(&r, &l.v[i], &e)) {
			printf("route: %s\n", e.msg);
		} else {
			const char *d = addr_domain_of(r.ascii);
			size_t k = 0;
			while (k < nseen && ascii_casecmp(seen[k], d) != 0)
				k++;
			if (k == nseen) {
				seen[nseen++] = xstrdup(d);
				mx_show_route(&rt, d, stdout, "");
			}
		}
		rcpt_free(&r);
	}
	for (size_t k = 0; k < nseen; k++)
		free(seen[k]);
	free(seen);
	addrlist_free(&l);
	route_free(&rt);
}

static int serverinfo(const struct route *r, struct perr *e)
{
	if (r->mx.on) {
		perr_fail(e, FC_USAGE, "--serverinfo needs one server, and account '%s' has delivery mx: "
		          "ask a host with --host=HOST --port=25", r->policy.name);
		return fail(e);
	}
	int rc = session_serverinfo(r, stdout, e);
	fflush(stdout);         /* the facts before the reason */
	return rc ? fail(e) : 0;
}

static int read_message(struct job *j, struct perr *e)
{
	if (j->have_msg)
		return 0;
	if (msg_read(STDIN_FILENO, &j->msg, e))
		return e->ex;
	j->have_msg = 1;
	return 0;
}

/* The from address that may choose the account: -f, or the From header. */
static char *account_hint(const struct cli *c, struct job *j, struct perr *e)
{
	if (c->from)
		return xstrdup(c->from);
	if (!c->read_from || c->host || c->account)
		return NULL;
	struct addr f = { 0 };
	if (read_message(j, e) || msg_from(&j->msg, &f, e))
		return NULL;
	char *s = addr_envelope(&f);
	addr_free(&f);
	return s;
}

/* A failure once the account is known: the diagnostic, and the log line. */
static int fail_logged(const struct cli *c, const struct job *j, const struct perr *e)
{
	int ex = fail(e);
	job_write_logs(c, j, NULL, e, ex);
	return ex;
}

static int run(const struct cli *c, struct job *j, struct perr *e)
{
	char *files = NULL;
	if (c->mode == M_CONFIGURE)   /* no configuration file: DNS only */
		return configure_account(NULL, c->configure, stdout, e) ? fail(e) : 0;
	char *hint = account_hint(c, j, e);
	if (e->ex)
		return fail(e);
	int r = job_choose_account(c, hint, &j->acc, &files, e);
	free(hint);
	if (r && c->mode == M_LISTQ) {   /* no account: the default queue */
		free(files);
		return list_queue(NULL, e);
	}
	if (r) {
		if (c->mode == M_PRETEND && files)
			fputs(files, stdout); /* the paths looked at, as msmtp prints them */
		free(files);
		return fail(e);
	}
	if (job_apply_overrides(c, j->acc, e) ||
	    conf_finish(j->acc, c->mode == M_PRETEND || c->mode == M_LISTQ ? CONF_SHOW : CONF_CONNECT, e) ||
	    (c->mode != M_PRETEND && job_check_lengths(c, j->acc, e))) {
		free(files);
		return c->mode == M_SEND ? fail_logged(c, j, e) : fail(e);
	}
	if (c->mode == M_PRETEND) {
		fputs(files, stdout);
		free(files);
		conf_print(j->acc, stdout);
		pretend_routes(c, j->acc);
		return 0;
	}
	free(files);
	if (c->mode == M_LISTQ)
		return list_queue(j->acc->queue_dir, e);
	if (c->mode == M_QUEUE)
		return run_queue(c, j->acc->queue_dir, e);
	if (c->mode == M_QUEUE_CTL)
		return queue_command(c, j->acc->queue_dir, e);
	route_from_account(j->acc, &j->route);
	if (j->route.mx.on && j->acc->auth)
		log_info("delivery mx: no AUTH with MX hosts; the credentials of account '%s' are not used",
		         j->acc->name);
	if (c->mode == M_SERVERINFO)
		return serverinfo(&j->route, e);
	if (c->mode >= M_OAUTH_LOGIN)
		return oauth_command(c->mode, &j->route.policy, e);
	if (read_message(j, e) || job_envelope_from(c, j, e) || job_collect_rcpts(c, j, e) ||
	    job_prepare_message(c, j, e))
		return fail_logged(c, j, e);
	show_header(j);
	int qm = job_queue_mode(c, j->acc, e);
	if (qm < 0)
		return fail_logged(c, j, e);
	if (qm == QM_ALWAYS || qm == QM_ONLY)
		return queue_first(c, j, qm == QM_ALWAYS, e);
	return send_job(c, j, qm == QM_TEMPFAIL, e);
}

static void free_cli(struct cli *c)
{
	for (size_t i = 0; i < c->nov; i++)
		free(c->ov[i].where);
	free(c->ov);
	c->ov = NULL;
	c->nov = 0;
}

int main(int argc, char **argv)
{
	struct cli c;
	struct job j;
	struct perr e;
	int ex;

	process_harden();
	if (process_privileged()) {   /* setgid: the system file, then the group goes */
		conf_system_open();
		if (process_drop() < 0) {
			fprintf(stderr, "postie: cannot give up the setgid group: %s\n", strerror(errno));
			return EX_OSERR;
		}
		conf_system_read();
	}
	signal(SIGPIPE, SIG_IGN);
	memset(&c, 0, sizeof c);
	memset(&j, 0, sizeof j);
	perr_clear(&e);
	if (parse_args(argc, argv, &c, &e) || job_check_overrides(&c, &e)) {
		ex = fail(&e);
		if (c.mode == M_SEND)
			drain_input(STDIN_FILENO, DRAIN_SECONDS);
		return ex;
	}
	log_set_verbose(c.verbose);
	switch (c.mode) {
	case M_HELP:
		usage(stdout);
		return 0;
	case M_VERSION:
		version();
		return 0;
	case M_DUMP:
		dump_keywords(stdout);
		return 0;
	case M_NEWALIASES:
		puts("postie: no alias database to rebuild: the aliases file is read directly for each message");
		return 0;
	case M_SMTP:
		ex = smtpd_run(&c, run_detached);
		free_cli(&c);
		return ex;
	default:
		break;
	}
	ex = run(&c, &j, &e);
	if (c.mode == M_SEND && !j.have_msg)   /* refused before reading it all */
		drain_input(STDIN_FILENO, DRAIN_SECONDS);
	job_free(&j);
	free_cli(&c);
	if (fflush(stdout) != 0 && ex == 0) {
		fprintf(stderr, "postie: cannot write to standard output: %s\n", strerror(errno));
		ex = EX_IOERR;
	}
	return ex;
}
