/* queue.h - the spool: a directory of queued messages, each a prepared
 * message (ID.msg, the exact bytes to send) and an envelope (ID.env, a
 * versioned "key: value" text naming the account, the sender and each
 * recipient's state and last reply). Writes are atomic (temporary file,
 * fsync, rename, fsync of the directory); one flock on ID.msg per message
 * keeps two runners apart. Delivery itself is the caller's. */
#ifndef POSTIE_QUEUE_H
#define POSTIE_QUEUE_H

#include <stddef.h>
#include <stdio.h>
#include "deliver.h"
#include "msg.h"
#include "status.h"

#define QUEUE_VERSION 1
#define QUEUE_ID_MAX 24

enum queue_rcpt_state { QR_PENDING, QR_DONE, QR_FAILED };

struct queue_rcpt {
	char *addr;                /* envelope form, ASCII domain */
	enum queue_rcpt_state state;
	char *reply;               /* the last reply or failure, NULL: none */
};

struct queue_env {
	char id[QUEUE_ID_MAX];     /* upper-case hex */
	char *config;              /* the -C file, "" for the usual search */
	char *account;
	char *sender;              /* ASCII domain; "" null sender */
	long long created, next_try;
	int attempts;
	int held;                  /* on hold: runs skip it until released */
	char *dsn_return, *envid;  /* NULL: none */
	struct queue_rcpt *rcpt;
	size_t nrcpt;
};

/* ---- pure ---- */
void queue_env_add(struct queue_env *q, const char *addr, enum queue_rcpt_state st, const char *reply);
void queue_env_free(struct queue_env *q);
/* The envelope file's text (allocated) and back; a field or recipient
 * line it does not know, or another version, is an error. */
char *queue_env_format(const struct queue_env *q);
int queue_env_parse(const char *text, size_t n, struct queue_env *q, struct perr *e);
/* Seconds to wait after the attempts-th failed attempt: 5 min doubling,
 * at most 2 h, then +-10 % by jitter (0..1000). */
long long queue_backoff(int attempts, unsigned jitter);
/* "90", "90s", "15m", "2h", "5d" in seconds; -1 when invalid. */
long long queue_duration(const char *s);
size_t queue_pending(const struct queue_env *q);

/* ---- the directory ---- */
/* Make sure dir exists (created 0700, parents too) and is the user's and
 * private: FC_CONFIG when others may read it or it is not the user's,
 * FC_CANTCREAT when it cannot be created or written. */
int queue_dir_check(const char *dir, struct perr *e);
/* A new unique ID. */
void queue_new_id(char id[QUEUE_ID_MAX]);
/* Queue m (prepared) with envelope q (q->id set here): the message, then
 * the envelope, both fsynced, renamed into place, the directory fsynced. */
int queue_commit(const char *dir, struct queue_env *q, struct msg *m, struct perr *e);
/* Rewrite the envelope atomically. */
int queue_update(const char *dir, const struct queue_env *q, struct perr *e);
/* Delete a message (done), or move it to dir/failed/ (expired; its
 * envelope rewritten first, so failed/ keeps the last replies). */
int queue_remove(const char *dir, const char *id, struct perr *e);
int queue_retire(const char *dir, const struct queue_env *q, struct perr *e);

/* One queued message, locked for the caller while fn runs: its envelope
 * and its message (loaded). fn returns 0 or a failure to report. */
typedef int (*queue_fn)(const char *dir, struct queue_env *q, struct msg *m, void *ctx);
/* Walk dir: messages due (all unless due_only), whose ID contains part
 * (NULL: any), not locked by another process; leftovers of a crash (an
 * envelope without its message, temporary files over an hour old) are
 * removed. Returns the number of failures fn reported. */
int queue_scan(const char *dir, int due_only, const char *part, queue_fn fn, void *ctx,
               struct perr *e);

/* 1 when dir holds a message of the account (config as in the envelope)
 * that a --queue-run would send now: due and not held. */
int queue_has_due(const char *dir, const char *config, const char *account);

/* ---- after a delivery attempt ---- */
/* 1 when r's failure is temporary: queue it (its own refusal, else the
 * session's failure, has exit status 75 and an action other than final:
 * 4xx, no connection, timeout, temporary DNS failure). */
int queue_should_hold(const struct rcpt *r, const struct delivery *d);
/* Add every recipient of r[n] to q: those to hold as pending, the others
 * done or failed, each with its last reply (d NULL: all pending, not
 * tried yet). Returns how many are pending. */
size_t queue_env_hold(struct queue_env *q, const struct rcpt *r, size_t n, const struct delivery *d);
/* After an attempt at q's pending recipients (r[] in their order): the
 * new states, then the message removed (all done or failed: QS_DONE),
 * moved to failed/ (lifetime seconds since created: QS_EXPIRED) or
 * rewritten with the next try (QS_DEFERRED); -1 with e set on error. */
enum { QS_DONE, QS_DEFERRED, QS_EXPIRED };
int queue_settle(const char *dir, struct queue_env *q, const struct rcpt *r, const struct delivery *d,
                 long long lifetime, unsigned jitter, struct perr *e);

/* --queue-delete, --queue-hold, --queue-release of the message id (exact
 * ID), under its lock: FC_NOINPUT when there is no such message,
 * FC_IOERR when a runner is delivering it now. A held message is listed
 * with "!" and skipped by runs; release makes it due at once. */
enum queue_op { QO_DELETE, QO_HOLD, QO_RELEASE };
int queue_control(const char *dir, const char *id, enum queue_op op, struct perr *e);

/* mailq: Postfix's listing of dir ("Mail queue is empty" when it is). */
int queue_list(const char *dir, FILE *out, struct perr *e);

#endif
