/* job.h - one message's job, independent of where its envelope came
 * from (the command line, or a -bs transaction): the account chosen and
 * finished, the envelope sender and recipients, the message with its
 * header edits, the queue submission and the log line. Nothing here
 * prints a diagnostic or exits; main.c and smtpd.c report. */
#ifndef POSTIE_JOB_H
#define POSTIE_JOB_H

#include "addr.h"
#include "conf.h"
#include "deliver.h"
#include "msg.h"
#include "route.h"
#include "status.h"

enum mode { M_SEND, M_PRETEND, M_SERVERINFO, M_HELP, M_VERSION, M_LISTQ, M_NEWALIASES, M_DUMP,
            M_QUEUE, M_QUEUE_CTL, M_SMTP, M_CONFIGURE,
            M_OAUTH_LOGIN, M_OAUTH_STATUS, M_OAUTH_TOKEN, M_OAUTH_LOGOUT };

/* A -o style setting from the command line: keyword, value, and where
 * it came from for messages. */
struct override {
	const char *key, *val;
	char *where;
};

/* What the command line asked for. */
struct cli {
	enum mode mode;
	int verbose, read_rcpts, read_from;
	int odmode;          /* -odq, -odb, -odi: 'q', 'b', 'i'; 0: the account's queue */
	int due_only;        /* --queue-run rather than -q */
	const char *queue_part; /* -qISUBSTR */
	int queue_op;        /* M_QUEUE_CTL: enum queue_op */
	const char *queue_id;   /* M_QUEUE_CTL: the message */
	const char *configure;  /* M_CONFIGURE: the address */
	const char *file, *account, *host, *from, *fullname, *envid;
	struct override *ov;
	size_t nov;
	char **args;
	int nargs;
};

/* Everything one delivery needs, gathered before connecting. */
struct job {
	struct account *acc;
	struct route route;  /* built from acc once it is finished */
	char *from_display;  /* envelope sender as given (for From:, logs) */
	char *from;          /* envelope sender, ASCII domain; "" = null sender */
	struct addrlist parsed; /* recipients as parsed, until they become rcpt */
	struct rcpt *rcpt;   /* the envelope recipients */
	size_t nrcpt;
	struct msg msg;
	int have_msg;
};

/* How the queue takes the job: not at all, after a temporary failure,
 * before any attempt (then a detached process sends it), or only. */
enum { QM_OFF, QM_TEMPFAIL, QM_ALWAYS, QM_ONLY };

/* The account for the run: --host's, -a's, the one whose from matches
 * from (may be NULL), or "default". files: the files read, for --pretend. */
int job_choose_account(const struct cli *c, const char *from, struct account **out,
                       char **files, struct perr *e);
/* The -o/--keyword settings and -F on a: a bad value is a usage error (64). */
int job_apply_overrides(const struct cli *c, struct account *a, struct perr *e);
/* The same on a scratch account, before any file is read. */
int job_check_overrides(const struct cli *c, struct perr *e);
/* RFC 5321/3461 limits of the EHLO name and the envelope ID. */
int job_check_lengths(const struct cli *c, const struct account *a, struct perr *e);
/* j->from and j->from_display: -f (c->from) when the account allows it,
 * the From header with --read-envelope-from, else the account's from. */
int job_envelope_from(const struct cli *c, struct job *j, struct perr *e);
/* Expand l through the account's aliases file, when it has one. */
int job_expand_aliases(const struct account *a, struct addrlist *l, struct perr *e);
/* The recipients of the command line (and -t), expanded and converted. */
int job_collect_rcpts(const struct cli *c, struct job *j, struct perr *e);
/* The header edits the account asks for, planned on j->msg. */
int job_prepare_message(const struct cli *c, struct job *j, struct perr *e);
/* One log line for a run that got as far as an account; d is NULL when
 * the run ended before delivery. */
void job_write_logs(const struct cli *c, const struct job *j, const struct delivery *d,
                    const struct perr *e, int ex);
/* QM_* for the account and -od, or -1 with e set. */
int job_queue_mode(const struct cli *c, const struct account *a, struct perr *e);
/* The envelope of the job, as deliver() takes it. */
struct envelope job_envelope(const struct cli *c, const struct job *j);
/* The configuration file as queued messages name it (malloc'd). */
char *job_queue_config(const struct cli *c);
/* Queue the recipients d says to hold (d NULL: all); the ID in id
 * (QUEUE_ID_MAX octets). */
int job_enqueue(const struct cli *c, struct job *j, const struct delivery *d, char *id,
                struct perr *e);
void job_free(struct job *j);

#endif
