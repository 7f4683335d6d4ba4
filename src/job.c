/* job.c - one message's job: account, envelope sender, recipients,
 * header edits, queue submission, log line. */
#include "job.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "aliases.h"
#include "log.h"
#include "queue.h"
#include "util.h"

/* The account to use: --host, -a, the one whose from matches -f, or default. */
static const struct account *pick(const struct cli *c, const struct config *cfg, const char *from,
                                  struct perr *e)
{
	const struct account *a;
	if (c->account) {
		if (!(a = conf_find(cfg, c->account)))
			conf_not_found(cfg, c->account, e);
		return a;
	}
	if (from && (a = conf_find_by_from(cfg, from)))
		return a;
	if (!(a = conf_find(cfg, "default")))
		conf_not_found(cfg, NULL, e);
	return a;
}

int job_choose_account(const struct cli *c, const char *from, struct account **out,
                          char **files, struct perr *e)
{
	struct config cfg;
	struct conf_paths p = { c->file, NULL, 0 };
	const struct account *a;

	if (c->host) {
		*out = account_new("(command line)", "command line", 0);
		*files = xstrdup("using account specified on command line\n");
		return conf_set(*out, "host", c->host, "--host", e);
	}
	if (conf_load(&p, &cfg, files, e))
		return e->ex;
	if ((a = pick(c, &cfg, from, e)))
		*out = account_dup(a);
	config_free(&cfg);
	return a ? 0 : e->ex;
}

/* A bad value given as an option is a usage error (64), not a
 * configuration file's (78). On a sealed account (a secret from a system
 * file the caller cannot read), an option may not change where the
 * secret goes (77). */
int job_apply_overrides(const struct cli *c, struct account *a, struct perr *e)
{
	struct account *files = a->sealed ? account_dup(a) : NULL;
	int r = 0;
	for (size_t i = 0; i < c->nov && !r; i++) {
		if (conf_set(a, c->ov[i].key, c->ov[i].val, c->ov[i].where, e))
			r = perr_reclass(e, FC_USAGE);
		else if (files)
			r = conf_seal_check(files, a, c->ov[i].where, e);
	}
	if (!r && c->fullname && conf_set(a, "from_full_name", c->fullname, "-F", e))
		r = perr_reclass(e, FC_USAGE);
	account_free(files);
	return r;
}

/* Option values are checked before any file is read, so that a bad one
 * is reported as such whatever the configuration holds. */
int job_check_overrides(const struct cli *c, struct perr *e)
{
	struct account *scratch = account_new("(command line)", "command line", 0);
	int r = job_apply_overrides(c, scratch, e);
	account_free(scratch);
	return r;
}

/* RFC 5321 4.5.3.1 and RFC 3461 4.4 limits of what goes into commands,
 * checked before connecting (not for --pretend, which shows the values
 * as read): a server would refuse them, or worse. */
int job_check_lengths(const struct cli *c, const struct account *a, struct perr *e)
{
	if (a->domain && a->domain[0] != '[' && addr_check_domain(a->domain, "EHLO", e))
		return perr_reclass(e, FC_CONFIG);
	if (c->envid && strlen(c->envid) > 100)
		return perr_fail(e, FC_USAGE, "-V: the envelope ID is %zu octets, over the limit of 100 "
		                "(RFC 3461 4.4)", strlen(c->envid));
	return 0;
}

/* Parse one envelope address given as "a@x", "<a@x>" or "Name <a@x>";
 * "" and "<>" are the null sender. */
static int parse_sender(const char *s, struct job *j, enum fail_class fc, struct perr *e)
{
	struct addrlist l = { 0 };
	const char *p = s + strspn(s, " \t");
	if (!*p || strcmp(p, "<>") == 0) {
		j->from_display = xstrdup("");
		j->from = xstrdup("");
		return 0;
	}
	if (addr_parse_list(s, &l, e) || l.n != 1) {
		if (!e->ex)
			perr_fail(e, fc, "invalid envelope sender '%s': expected one address", s);
		addrlist_free(&l);
		return perr_reclass(e, fc);
	}
	j->from_display = addr_envelope(&l.v[0]);
	if (!l.v[0].domain) {
		addrlist_free(&l);
		return perr_fail(e, fc, "envelope sender '%s' has no domain; set 'from' to a full address", j->from_display);
	}
	int r = addr_envelope_ascii(&l.v[0], &j->from, e);
	addrlist_free(&l);
	if (r == 0 && addr_check_limits(j->from, "envelope sender", e))
		return perr_reclass(e, fc);
	return r;
}

/* A bare user name given with -f, as cronie passes "-f root": it cannot
 * be an envelope sender, so the account's from stands in for it. */
static int unqualified(const char *s)
{
	struct addrlist l = { 0 };
	struct perr ignored;
	int bare = addr_parse_list(s, &l, &ignored) == 0 && l.n == 1 && !l.v[0].domain;
	addrlist_free(&l);
	return bare;
}

/* -f (if the account allows it), --read-envelope-from, the account's
 * from, or user@canonical-host-name. */
int job_envelope_from(const struct cli *c, struct job *j, struct perr *e)
{
	const struct account *a = j->acc;
	if (c->from && a->from && unqualified(c->from))
		log_info("-f %s has no domain; using the account's from, %s", c->from, a->from);
	else if (c->from && (a->allow_from_override || !a->from))
		return parse_sender(c->from, j, FC_USAGE, e);
	if (c->read_from && (a->allow_from_override || !a->from)) {
		struct addr f = { 0 };
		if (msg_from(&j->msg, &f, e))
			return e->ex;
		char *s = addr_envelope(&f);
		addr_free(&f);
		int r = parse_sender(s, j, FC_MESSAGE, e);
		free(s);
		return r;
	}
	if (a->from)
		return parse_sender(a->from, j, FC_CONFIG, e);
	char *host = host_canonical();
	if (!strchr(host, '.')) {
		free(host);
		return perr_fail(e, FC_CONFIG, "envelope-from address is missing: set 'from' in account '%s' or use -f", a->name);
	}
	char *user = user_name();
	char *s = xasprintf("%s@%s", user, host);
	free(user);
	free(host);
	int r = parse_sender(s, j, FC_CONFIG, e);
	free(s);
	return r;
}

/* user@localhost and user@<this host> are local names too (fail2ban
 * mails root@localhost): with an aliases file they are looked up in it. */
static void localize(struct addrlist *l)
{
	char *names[4] = { xstrdup("localhost"), xstrdup("localhost.localdomain"), host_name(),
	                   host_canonical() };
	for (size_t i = 0; i < l->n; i++)
		for (size_t k = 0; l->v[i].domain && k < 4; k++)
			if (ascii_casecmp(l->v[i].domain, names[k]) == 0) {
				free(l->v[i].domain);
				l->v[i].domain = NULL;
			}
	for (size_t k = 0; k < 4; k++)
		free(names[k]);
}

int job_expand_aliases(const struct account *a, struct addrlist *l, struct perr *e)
{
	struct aliases *al;
	if (!a->aliases)
		return 0;
	localize(l);
	char *path = expand_tilde(a->aliases);
	int r = aliases_load(path, &al, e);
	free(path);
	if (r)
		return r;
	r = aliases_expand(al, l, e);
	aliases_free(al);
	return r;
}

/* The envelope recipients from the parsed list; on the first failure
 * the rest keep only the form given (for the log line). */
static int convert_rcpts(struct job *j, struct perr *e)
{
	int failed = 0;
	j->nrcpt = j->parsed.n;
	j->rcpt = xcalloc(j->nrcpt, sizeof *j->rcpt);
	for (size_t i = 0; i < j->nrcpt; i++) {
		if (failed)
			j->rcpt[i].given = addr_envelope(&j->parsed.v[i]);
		else if (rcpt_init(&j->rcpt[i], &j->parsed.v[i], e))
			failed = 1;
		j->rcpt[i].notify = j->acc->dsn_notify;
	}
	addrlist_free(&j->parsed);
	return failed ? e->ex : 0;
}

int job_collect_rcpts(const struct cli *c, struct job *j, struct perr *e)
{
	for (int i = 0; i < c->nargs; i++)
		if (addr_parse_list(c->args[i], &j->parsed, e)) {
			char m[sizeof e->msg];
			snprintf(m, sizeof m, "%s", e->msg);
			return perr_fail(e, FC_USAGE, "recipient argument: %s", m);
		}
	if (c->read_rcpts && msg_recipients(&j->msg, &j->parsed, e))
		return e->ex;
	if (j->parsed.n == 0)
		return c->read_rcpts ? perr_fail(e, FC_MESSAGE, "no recipients: none given and none found in To, Cc or Bcc")
		                     : perr_fail(e, FC_USAGE, "no recipients given (name them as arguments, or use -t)");
	if (job_expand_aliases(j->acc, &j->parsed, e))
		return e->ex;
	addrlist_dedup(&j->parsed);
	return convert_rcpts(j, e);
}

int job_prepare_message(const struct cli *c, struct job *j, struct perr *e)
{
	const struct account *a = j->acc;
	char *host = NULL;
	struct msg_edits ed = {
		.set_from = *j->from ? a->set_from_header : HDR_OFF,
		.from_addr = j->from_display,
		.from_name = c->fullname ? c->fullname : a->from_full_name,
		.set_date = a->set_date_header,
		.set_msgid = a->set_msgid_header,
		.msgid_domain = addr_domain_of(j->from),
		.set_to = a->set_to_header,
		.remove_bcc = a->remove_bcc_headers,
	};
	if (!ed.msgid_domain)
		ed.msgid_domain = host = host_canonical();
	int r = msg_prepare(&j->msg, &ed, e);
	free(host);
	return r;
}

/* The recipients for the log line: as sent, as parsed when the run failed
 * before they were converted, or the arguments when before that. */
static char *join_rcpts(const struct cli *c, const struct job *j)
{
	struct buf b;
	buf_init(&b);
	for (int i = 0; j->nrcpt == 0 && j->parsed.n == 0 && i < c->nargs; i++)
		buf_printf(&b, "%s%s", i ? "," : "", c->args[i]);
	for (size_t i = 0; i < j->parsed.n; i++) {
		char *s = addr_envelope(&j->parsed.v[i]);
		buf_printf(&b, "%s%s", i ? "," : "", s);
		free(s);
	}
	for (size_t i = 0; i < j->nrcpt; i++)
		buf_printf(&b, "%s%s", i ? "," : "", j->rcpt[i].ascii ? j->rcpt[i].ascii : j->rcpt[i].given);
	return buf_steal(&b);
}

/* tls= in the log when no session was opened: what the route asks for. */
static const char *route_tls(const struct route *r)
{
	if (r->mx.on)
		return r->mx.tls == TLS_ON ? "on" : "off";
	enum tls_mode m = r->hop[0].tls_mode;
	return m == TM_STARTTLS || m == TM_IMPLICIT ? "on" : "off";
}

/* The server's words in a failure, from "...: 535 5.7.8 text". */
static const char *reply_text(const struct perr *e)
{
	char code[8];
	if (!e->code)
		return NULL;
	snprintf(code, sizeof code, "%d ", e->code);
	return strstr(e->msg, code);
}

/* One log line per run that got as far as an account: d is NULL when
 * the run ended before delivery. */
void job_write_logs(const struct cli *c, const struct job *j, const struct delivery *d,
                       const struct perr *e, int ex)
{
	const struct account *a = j->acc;
	struct route early = { 0 };
	const struct route *rt = d && d->route ? d->route : &j->route;   /* a fallback account's */
	char via[300] = "";
	if (!a || (!a->logfile && !a->syslog))
		return;
	if (d && d->fallback && !ex && !e->msg[0])
		snprintf(via, sizeof via, "delivered through fallback account '%s'", rt->policy.name);
	if (!rt->nhop && !rt->mx.on) {   /* failed before the account was finished */
		route_from_account(a, &early);
		rt = &early;
	}
	char *rcpts = join_rcpts(c, j);
	struct logrec r = {
		.host = d && d->hop ? hop_name(d->hop) : rt->nhop ? hop_name(&rt->hop[0]) : "MX",
		.tls = d ? d->tls : route_tls(rt),
		.auth = policy_wants_auth(&rt->policy), .user = rt->policy.auth.user,
		.from = j->from ? j->from : j->from_display ? j->from_display : a->from,
		.recipients = rcpts,
		.mailsize = d && d->ndelivered ? d->sent : -1,
		.smtpstatus = d && d->last_code ? d->last_code : ex ? e->code : 0,
		.smtpmsg = d && d->last_msg[0] ? d->last_msg : ex ? reply_text(e) : NULL,
		.errormsg = ex || e->msg[0] ? e->msg : via[0] ? via : NULL,   /* "queued as ID" with status 0 */
		.exitcode = ex,
	};
	if (a->logfile)
		log_file(a->logfile, a->logfile_time_format, &r);
	if (a->syslog)
		log_syslog(a->syslog, &r);
	free(rcpts);
	route_free(&early);
}

int job_queue_mode(const struct cli *c, const struct account *a, struct perr *e)
{
	if (c->odmode == 'q' && a->queue == QUEUE_OFF) {
		perr_fail(e, FC_USAGE, "-odq needs queue tempfail or always in the account");
		return -1;
	}
	if (c->odmode == 'q')
		return QM_ONLY;
	if (a->queue == QUEUE_OFF)   /* no queue: -odb and -odi change nothing */
		return QM_OFF;
	if (c->odmode == 'b')
		return QM_ALWAYS;
	if (c->odmode == 'i')
		return QM_TEMPFAIL;
	return a->queue == QUEUE_ALWAYS ? QM_ALWAYS : QM_TEMPFAIL;
}

/* The envelope of the job, as deliver() takes it. */
struct envelope job_envelope(const struct cli *c, const struct job *j)
{
	struct envelope env = {
		.from = j->from, .rcpt = j->rcpt, .nrcpt = j->nrcpt,
		.dsn_return = j->acc->dsn_return, .envid = c->envid,
	};
	return env;
}

/* The configuration file as queued messages name it: the -C file's
 * absolute path (a later run may start elsewhere), "" for the search. */
char *job_queue_config(const struct cli *c)
{
	char *p = c->file ? realpath(c->file, NULL) : NULL;
	return p ? p : xstrdup(c->file ? c->file : "");
}

/* Put the job's recipients that d says to hold (d NULL: all) in the
 * queue; "queued as ID" on stderr and in e for the log line. */
int job_enqueue(const struct cli *c, struct job *j, const struct delivery *d, char *id,
                   struct perr *e)
{
	struct queue_env q;
	memset(&q, 0, sizeof q);
	q.config = job_queue_config(c);
	q.account = xstrdup(j->acc->name);
	q.sender = xstrdup(j->from);
	q.created = q.next_try = (long long)time(NULL);
	q.attempts = d != NULL;   /* the attempt just made */
	q.dsn_return = j->acc->dsn_return ? xstrdup(j->acc->dsn_return) : NULL;
	q.envid = c->envid ? xstrdup(c->envid) : NULL;
	queue_env_hold(&q, j->rcpt, j->nrcpt, d);
	if (d)
		q.next_try += queue_backoff(1, (unsigned)random() % 1001);
	int r = queue_dir_check(j->acc->queue_dir, e) || queue_commit(j->acc->queue_dir, &q, &j->msg, e);
	if (r == 0)
		snprintf(id, QUEUE_ID_MAX, "%s", q.id);
	queue_env_free(&q);
	return r ? e->ex : 0;
}

void job_free(struct job *j)
{
	if (j->acc)
		account_free(j->acc);
	free(j->from_display);
	free(j->from);
	for (size_t i = 0; i < j->nrcpt; i++)
		rcpt_free(&j->rcpt[i]);
	free(j->rcpt);
	addrlist_free(&j->parsed);
	route_free(&j->route);
	if (j->have_msg)
		msg_free(&j->msg);
}
