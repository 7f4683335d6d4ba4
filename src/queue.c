/* queue.c - the spool directory: envelope format (versioned key: value
 * text, the model: OpenSMTPD's envelope.c), atomic commits in the order
 * message, envelope, rename, directory fsync (the model: OpenSMTPD's
 * queue_fs.c and Postfix's mail_stream.c), one flock per message, the
 * walk over due messages, and Postfix's mailq listing. */
#include "queue.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "util.h"

#define BACKOFF_FIRST 300      /* seconds before the first retry */
#define BACKOFF_MAX 7200       /* the longest wait between tries */
#define STALE_TMP 3600         /* a temporary file older than this is a crash's */
#define ENV_MAX (1024 * 1024)  /* an envelope file larger than this is refused */

static const char *const state_names[] = { "pending", "done", "failed" };

/* ---- the envelope ---- */

void queue_env_add(struct queue_env *q, const char *addr, enum queue_rcpt_state st, const char *reply)
{
	q->rcpt = xrealloc(q->rcpt, (q->nrcpt + 1) * sizeof *q->rcpt);
	q->rcpt[q->nrcpt].addr = xstrdup(addr);
	q->rcpt[q->nrcpt].state = st;
	q->rcpt[q->nrcpt].reply = reply && *reply ? xstrdup(reply) : NULL;
	q->nrcpt++;
}

void queue_env_free(struct queue_env *q)
{
	for (size_t i = 0; i < q->nrcpt; i++) {
		free(q->rcpt[i].addr);
		free(q->rcpt[i].reply);
	}
	free(q->rcpt);
	free(q->config);
	free(q->account);
	free(q->sender);
	free(q->dsn_return);
	free(q->envid);
	memset(q, 0, sizeof *q);
}

size_t queue_pending(const struct queue_env *q)
{
	size_t n = 0;
	for (size_t i = 0; i < q->nrcpt; i++)
		n += q->rcpt[i].state == QR_PENDING;
	return n;
}

/* A value on one line: line ends and control characters become blanks. */
static void add_value(struct buf *b, const char *v)
{
	for (; v && *v; v++)
		buf_addc(b, (unsigned char)*v < 0x20 || *v == 0x7f ? ' ' : *v);
}

static void add_field(struct buf *b, const char *key, const char *v)
{
	buf_printf(b, "%s: ", key);
	add_value(b, v);
	buf_addc(b, '\n');
}

char *queue_env_format(const struct queue_env *q)
{
	struct buf b;
	buf_init(&b);
	buf_printf(&b, "version: %d\n", QUEUE_VERSION);
	add_field(&b, "id", q->id);
	add_field(&b, "config", q->config ? q->config : "");
	add_field(&b, "account", q->account);
	add_field(&b, "sender", q->sender ? q->sender : "");
	buf_printf(&b, "created: %lld\nattempts: %d\nnext-try: %lld\n", q->created, q->attempts,
	           q->next_try);
	if (q->held)
		buf_adds(&b, "held: 1\n");
	if (q->dsn_return)
		add_field(&b, "dsn-return", q->dsn_return);
	if (q->envid)
		add_field(&b, "envid", q->envid);
	for (size_t i = 0; i < q->nrcpt; i++) {
		buf_printf(&b, "rcpt: %s <", state_names[q->rcpt[i].state]);
		add_value(&b, q->rcpt[i].addr);
		buf_addc(&b, '>');
		if (q->rcpt[i].reply) {
			buf_addc(&b, ' ');
			add_value(&b, q->rcpt[i].reply);
		}
		buf_addc(&b, '\n');
	}
	return buf_steal(&b);
}

/* "pending <a@b> reply" into a recipient. */
static int parse_rcpt(struct queue_env *q, const char *v)
{
	size_t sl = strcspn(v, " ");
	int st = -1;
	for (int i = 0; i < 3; i++)
		if (strlen(state_names[i]) == sl && strncmp(v, state_names[i], sl) == 0)
			st = i;
	const char *lt = v + sl;
	if (st < 0 || strncmp(lt, " <", 2) != 0)
		return -1;
	const char *gt = strchr(lt + 2, '>');
	if (!gt || (gt[1] && gt[1] != ' '))
		return -1;
	char *addr = xstrndup(lt + 2, (size_t)(gt - lt - 2));
	queue_env_add(q, addr, (enum queue_rcpt_state)st, gt[1] ? gt + 2 : NULL);
	free(addr);
	return 0;
}

static int parse_num(const char *v, long long *out)
{
	char *end;
	errno = 0;
	long long n = strtoll(v, &end, 10);
	if (errno || end == v || *end || n < 0)
		return -1;
	*out = n;
	return 0;
}

/* One "key: value" line into q. */
static int parse_field(struct queue_env *q, const char *key, const char *v, int *version)
{
	long long n;
	if (strcmp(key, "version") == 0)
		return parse_num(v, &n) || n != QUEUE_VERSION ? -1 : (*version = 1, 0);
	if (strcmp(key, "id") == 0)
		return strlen(v) >= QUEUE_ID_MAX || !*v ? -1 : (snprintf(q->id, sizeof q->id, "%s", v), 0);
	if (strcmp(key, "rcpt") == 0)
		return parse_rcpt(q, v);
	if (strcmp(key, "held") == 0)
		return strcmp(v, "1") ? -1 : (q->held = 1, 0);
	if (strcmp(key, "created") == 0 || strcmp(key, "next-try") == 0 || strcmp(key, "attempts") == 0) {
		if (parse_num(v, &n))
			return -1;
		if (*key == 'c')
			q->created = n;
		else if (*key == 'n')
			q->next_try = n;
		else
			q->attempts = n > 1000000 ? 1000000 : (int)n;
		return 0;
	}
	char **s = strcmp(key, "config") == 0 ? &q->config : strcmp(key, "account") == 0 ? &q->account
	         : strcmp(key, "sender") == 0 ? &q->sender : strcmp(key, "dsn-return") == 0 ? &q->dsn_return
	         : strcmp(key, "envid") == 0 ? &q->envid : NULL;
	if (!s)
		return -1;
	free(*s);
	*s = xstrdup(v);
	return 0;
}

int queue_env_parse(const char *text, size_t n, struct queue_env *q, struct perr *e)
{
	int version = 0;
	long lineno = 0;
	memset(q, 0, sizeof *q);
	for (const char *p = text; p < text + n;) {
		const char *nl = memchr(p, '\n', (size_t)(text + n - p));
		size_t len = nl ? (size_t)(nl - p) : (size_t)(text + n - p);
		char *line = xstrndup(p, len), *colon = strstr(line, ": ");
		lineno++;
		int bad = !colon || (lineno == 1 && strncmp(line, "version: ", 9) != 0);
		if (!bad) {
			*colon = '\0';
			bad = parse_field(q, line, colon + 2, &version) != 0;
		}
		free(line);
		if (bad) {
			queue_env_free(q);
			return perr_fail(e, FC_IOERR, "envelope line %ld is not valid", lineno);
		}
		p = nl ? nl + 1 : text + n;
	}
	if (!version || !q->id[0] || !q->account || !q->sender || !q->nrcpt) {
		queue_env_free(q);
		return perr_fail(e, FC_IOERR, "envelope incomplete (version, id, account, sender, rcpt)");
	}
	return 0;
}

long long queue_backoff(int attempts, unsigned jitter)
{
	long long s = BACKOFF_FIRST;
	for (int i = 1; i < attempts && s < BACKOFF_MAX; i++)
		s *= 2;
	if (s > BACKOFF_MAX)
		s = BACKOFF_MAX;
	/* jitter 0..1000 -> -10 % .. +10 % */
	return s + s * ((long long)(jitter % 1001) - 500) / 5000;
}

long long queue_duration(const char *s)
{
	char *end;
	if (!s || !*s || *s == '-')
		return -1;
	errno = 0;
	long long n = strtoll(s, &end, 10);
	if (errno || end == s || n < 0)
		return -1;
	long long mul = !*end || strcmp(end, "s") == 0 ? 1 : strcmp(end, "m") == 0 ? 60
	              : strcmp(end, "h") == 0 ? 3600 : strcmp(end, "d") == 0 ? 86400 : -1;
	if (mul < 0 || n > (1LL << 40) / mul)
		return -1;
	return n * mul;
}

/* ---- files ---- */

static char *path_of(const char *dir, const char *id, const char *suffix)
{
	return xasprintf("%s/%s%s", dir, id, suffix);
}

int queue_dir_check(const char *dir, struct perr *e)
{
	struct stat st;
	char *failed = NULL;
	mkdir_parents(dir, &failed);   /* a failure shows in the mkdir below */
	free(failed);
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return perr_fail(e, FC_CANTCREAT, "cannot create the queue directory %s: %s", dir, strerror(errno));
	if (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode))
		return perr_fail(e, FC_CANTCREAT, "queue directory %s: %s", dir, errno ? strerror(errno) : "not a directory");
	if (st.st_uid != geteuid())
		return perr_fail(e, FC_CONFIG, "queue directory %s is not owned by you", dir);
	if (st.st_mode & 077)
		return perr_fail(e, FC_CONFIG, "queue directory %s is accessible by others (chmod 700 %s)", dir, dir);
	if (access(dir, W_OK | X_OK) < 0)
		return perr_fail(e, FC_CANTCREAT, "queue directory %s is not writable: %s", dir, strerror(errno));
	return 0;
}

void queue_new_id(char id[QUEUE_ID_MAX])
{
	unsigned char r[2];
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	if (getrandom(r, sizeof r, 0) != (ssize_t)sizeof r) {
		r[0] = (unsigned char)(ts.tv_nsec >> 8);
		r[1] = (unsigned char)ts.tv_nsec;
	}
	/* 12 hex digits as Postfix's short IDs (mailq parsers expect that
	 * shape): the seconds, so IDs sort by time, then 16 random bits;
	 * queue_commit picks another on a clash */
	snprintf(id, QUEUE_ID_MAX, "%08llX%02X%02X", (unsigned long long)ts.tv_sec & 0xffffffffULL,
	         r[0], r[1]);
}

/* The envelope into dir/tmp.ID.env, fsynced. */
static int write_env_tmp(const char *dir, const struct queue_env *q, char **tmp, struct perr *e)
{
	char *name = xasprintf("tmp.%s.env", q->id);
	*tmp = path_of(dir, name, "");
	free(name);
	int fd = open(*tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	char *text = queue_env_format(q);
	int bad = fd < 0 || write_full(fd, text, strlen(text)) < 0 || fsync(fd) < 0;
	int sv = errno;
	free(text);
	if (fd >= 0 && close(fd) < 0 && !bad)
		bad = 1, sv = errno;
	if (bad) {
		unlink(*tmp);
		return perr_fail(e, FC_IOERR, "cannot write %s: %s", *tmp, strerror(sv));
	}
	return 0;
}

/* The prepared message into dir/tmp.ID.msg, fsynced. */
static int write_msg_tmp(const char *dir, const char *id, struct msg *m, char **tmp, struct perr *e)
{
	struct msg_store s;
	char *name = xasprintf("tmp.%s.msg", id);
	*tmp = path_of(dir, name, "");
	int r = msg_store_create(&s, dir, name, e);
	free(name);
	if (r)
		return e->ex;
	r = msg_save(m, &s, e);
	if (r == 0 && fsync(s.fd) < 0)
		r = perr_fail(e, FC_IOERR, "cannot write %s: %s", *tmp, strerror(errno));
	msg_store_close(&s);
	if (r)
		unlink(*tmp);
	return r;
}

static int rename_in(const char *tmp, const char *dir, const char *id, const char *suffix,
                     struct perr *e)
{
	char *final = path_of(dir, id, suffix);
	int r = rename(tmp, final) < 0 ? perr_fail(e, FC_IOERR, "cannot rename %s to %s: %s", tmp, final,
	                                           strerror(errno)) : 0;
	free(final);
	return r;
}

int queue_commit(const char *dir, struct queue_env *q, struct msg *m, struct perr *e)
{
	char *tmsg = NULL, *tenv = NULL;
	int r = -1;
	for (int tries = 0; tries < 20 && r != 0; tries++) {   /* an ID in use: another */
		char *used;
		queue_new_id(q->id);
		used = path_of(dir, q->id, ".msg");
		if (access(used, F_OK) == 0) {
			free(used);
			continue;
		}
		free(used);
		free(tmsg);
		r = write_msg_tmp(dir, q->id, m, &tmsg, e);
		if (r && e->fc != FC_CANTCREAT)
			break;
	}
	if (r == 0 && (r = write_env_tmp(dir, q, &tenv, e)) != 0)
		unlink(tmsg);
	if (r == 0 && (r = rename_in(tmsg, dir, q->id, ".msg", e)) != 0) {
		unlink(tmsg);
		unlink(tenv);
	}
	if (r == 0 && (r = rename_in(tenv, dir, q->id, ".env", e)) != 0)
		unlink(tenv);   /* the lone ID.msg is a leftover the next runner removes */
	if (r == 0)
		fsync_dir(dir);
	free(tmsg);
	free(tenv);
	return r;
}

int queue_update(const char *dir, const struct queue_env *q, struct perr *e)
{
	char *tenv = NULL;
	int r = write_env_tmp(dir, q, &tenv, e);
	if (r == 0 && (r = rename_in(tenv, dir, q->id, ".env", e)) != 0)
		unlink(tenv);
	if (r == 0)
		fsync_dir(dir);
	free(tenv);
	return r;
}

int queue_remove(const char *dir, const char *id, struct perr *e)
{
	char *env = path_of(dir, id, ".env"), *msg = path_of(dir, id, ".msg");
	/* the envelope first: a message without one is a leftover, never resent */
	int r = unlink(env) < 0 && errno != ENOENT
	            ? perr_fail(e, FC_IOERR, "cannot remove %s: %s", env, strerror(errno)) : 0;
	if (r == 0)
		unlink(msg);
	fsync_dir(dir);
	free(env);
	free(msg);
	return r;
}

int queue_retire(const char *dir, const struct queue_env *q, struct perr *e)
{
	const char *id = q->id;
	if (queue_update(dir, q, e))   /* failed/ keeps the last replies */
		return e->ex;
	char *failed = xasprintf("%s/failed", dir);
	int r = mkdir(failed, 0700) < 0 && errno != EEXIST
	            ? perr_fail(e, FC_CANTCREAT, "cannot create %s: %s", failed, strerror(errno)) : 0;
	for (int k = 0; r == 0 && k < 2; k++) {
		const char *sfx = k ? ".env" : ".msg";   /* the message first, as at commit */
		char *from = path_of(dir, id, sfx), *to = path_of(failed, id, sfx);
		if (rename(from, to) < 0)
			r = perr_fail(e, FC_IOERR, "cannot move %s to %s: %s", from, to, strerror(errno));
		free(from);
		free(to);
	}
	if (r == 0) {
		fsync_dir(failed);
		fsync_dir(dir);
	}
	free(failed);
	return r;
}

/* ---- walking the queue ---- */

static int read_env(const char *path, struct queue_env *q, struct perr *e)
{
	char *text = NULL;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return perr_fail(e, FC_IOERR, "cannot open %s: %s", path, strerror(errno));
	int r = read_fd(fd, ENV_MAX, &text);
	close(fd);
	if (r < 0) {
		free(text);
		return perr_fail(e, FC_IOERR, "cannot read %s: %s", path, strerror(errno));
	}
	r = queue_env_parse(text, strlen(text), q, e);
	free(text);
	return r;
}

/* name is ID.msg and there is no ID.env. */
static int lone_msg(const char *dir, const char *name)
{
	size_t l = strlen(name);
	if (l < 5 || strcmp(name + l - 4, ".msg") != 0)
		return 0;
	char *env = xasprintf("%s/%.*s.env", dir, (int)(l - 4), name);
	int lone = access(env, F_OK) != 0;
	free(env);
	return lone;
}

static int cmp_ids(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The IDs of the envelopes in dir (sorted), and leftovers cleaned;
 * NULL with e set when dir cannot be read, NULL and no error when it
 * does not exist. */
static char **list_ids(const char *dir, size_t *n, struct perr *e)
{
	DIR *d = opendir(dir);
	char **ids = NULL;
	struct dirent *de;
	*n = 0;
	if (!d) {   /* a queue never used has no directory: it is empty */
		if (errno != ENOENT)
			perr_fail(e, FC_IOERR, "cannot read %s: %s", dir, strerror(errno));
		return NULL;
	}
	while ((de = readdir(d))) {
		size_t l = strlen(de->d_name);
		struct stat st;
		char *p = path_of(dir, de->d_name, "");
		if (strncmp(de->d_name, "tmp.", 4) == 0 || lone_msg(dir, de->d_name)) {
			/* a crash's leftover; a fresh one may be a commit under way */
			if (stat(p, &st) == 0 && time(NULL) - st.st_mtime > STALE_TMP)
				unlink(p);
		} else if (l > 4 && l < QUEUE_ID_MAX + 4 && strcmp(de->d_name + l - 4, ".env") == 0) {
			ids = xrealloc(ids, (*n + 1) * sizeof *ids);
			ids[(*n)++] = xstrndup(de->d_name, l - 4);
		}
		free(p);
	}
	closedir(d);
	if (*n)
		qsort(ids, *n, sizeof *ids, cmp_ids);
	return ids;
}

/* Lock ID.msg; -1 when it is missing (the envelope is a leftover) or
 * another process holds it. */
static int lock_msg(const char *dir, const char *id, int *missing)
{
	char *p = path_of(dir, id, ".msg");
	int fd = open(p, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	*missing = fd < 0 && errno == ENOENT;
	free(p);
	if (fd >= 0 && flock(fd, LOCK_EX | LOCK_NB) < 0) {
		close(fd);
		fd = -1;
	}
	return fd;
}

/* One message: locked, loaded, handed to fn. */
static int visit(const char *dir, const char *id, int due_only, queue_fn fn, void *ctx)
{
	struct queue_env q;
	struct msg_store s;
	struct msg m;
	struct perr e;
	int missing, r = 0;
	int lock = lock_msg(dir, id, &missing);
	char *env = path_of(dir, id, ".env"), *msgp = path_of(dir, id, ".msg");
	if (lock < 0 && missing) {   /* crashed between the renames of a removal */
		unlink(env);
	} else if (lock >= 0 && read_env(env, &q, &e) == 0) {
		if (!q.held && (!due_only || q.next_try <= (long long)time(NULL))) {
			if (msg_store_open(&s, msgp, &e) || msg_load(&s, &m, &e)) {
				log_notice("%s: %s", id, e.msg);
				r = 1;
			} else {
				r = fn(dir, &q, &m, ctx) != 0;
				msg_free(&m);
			}
		}
		queue_env_free(&q);
	} else if (lock >= 0) {
		log_notice("queued message %s: %s", id, e.msg);
		r = 1;
	}
	if (lock >= 0)
		close(lock);
	free(env);
	free(msgp);
	return r;
}

int queue_scan(const char *dir, int due_only, const char *part, queue_fn fn, void *ctx,
               struct perr *e)
{
	size_t n;
	int failures = 0;
	perr_clear(e);
	char **ids = list_ids(dir, &n, e);
	if (e->ex)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (!part || strstr(ids[i], part))
			failures += visit(dir, ids[i], due_only, fn, ctx);
		free(ids[i]);
	}
	free(ids);
	return failures;
}

static int due_for(const char *dir, const char *id, const char *config, const char *account)
{
	struct queue_env q;
	struct perr e;
	char *env = path_of(dir, id, ".env");
	int due = read_env(env, &q, &e) == 0;
	free(env);
	if (!due)
		return 0;
	due = !q.held && q.next_try <= (long long)time(NULL) && strcmp(q.config, config) == 0 &&
	      strcmp(q.account, account) == 0;
	queue_env_free(&q);
	return due;
}

int queue_has_due(const char *dir, const char *config, const char *account)
{
	size_t n;
	int due = 0;
	struct perr e;
	perr_clear(&e);
	char **ids = list_ids(dir, &n, &e);
	for (size_t i = 0; i < n; i++) {
		due = due || due_for(dir, ids[i], config, account);
		free(ids[i]);
	}
	free(ids);
	return due;
}

/* ---- mailq ---- */

static void list_one(const char *dir, const char *id, FILE *out, long long *bytes)
{
	struct queue_env q;
	struct perr e;
	struct stat st;
	char *env = path_of(dir, id, ".env"), *msg = path_of(dir, id, ".msg");
	if (read_env(env, &q, &e) == 0 && stat(msg, &st) == 0) {
		char when[32];
		time_t t = (time_t)q.created;
		struct tm tm;
		localtime_r(&t, &tm);
		strftime(when, sizeof when, "%a %b %e %H:%M:%S", &tm);
		char idmark[QUEUE_ID_MAX + 2];
		snprintf(idmark, sizeof idmark, "%s%s", q.id, q.held ? "!" : "");   /* Postfix's mark */
		fprintf(out, "%-10s %8lld %s  %s\n", idmark, (long long)st.st_size, when,
		        *q.sender ? q.sender : "MAILER-DAEMON");
		for (size_t i = 0; i < q.nrcpt; i++) {
			if (q.rcpt[i].state != QR_PENDING)
				continue;
			if (q.rcpt[i].reply)
				fprintf(out, "(%s)\n", q.rcpt[i].reply);
			fprintf(out, "%41s%s\n", "", q.rcpt[i].addr);
		}
		fputc('\n', out);
		*bytes += (long long)st.st_size;
		queue_env_free(&q);
	}
	free(env);
	free(msg);
}

int queue_list(const char *dir, FILE *out, struct perr *e)
{
	size_t n;
	long long bytes = 0;
	perr_clear(e);
	char **ids = list_ids(dir, &n, e);
	if (e->ex)
		return e->ex;
	if (n == 0) {
		fputs("Mail queue is empty\n", out);
		free(ids);
		return 0;
	}
	fputs("-Queue ID-  --Size-- ----Arrival Time---- -Sender/Recipient-------\n", out);
	for (size_t i = 0; i < n; i++) {
		list_one(dir, ids[i], out, &bytes);
		free(ids[i]);
	}
	free(ids);
	fprintf(out, "-- %lld Kbytes in %zu Request%s.\n", (bytes + 1023) / 1024, n, n == 1 ? "" : "s");
	return 0;
}

/* ---- after a delivery attempt ---- */

/* Temporary is what status.c maps to 75 and does not call final: a
 * 5xx greeting or a certificate that fails verification moves on to a
 * next hop, but with none left it is not something time will fix. */
int queue_should_hold(const struct rcpt *r, const struct delivery *d)
{
	if (r->state == RCPT_DELIVERED)
		return 0;
	if (r->state == RCPT_REFUSED)
		return status_temporary(&r->result);
	/* not tried, or the transaction failed: the session's failure decides */
	return status_temporary(&d->session);
}

/* The server's words in a failure ("451 4.7.1 ..."), else the whole
 * message (a connection failure has no reply). */
static const char *reply_words(const struct perr *e)
{
	char code[8];
	const char *p = NULL;
	if (e->code) {
		snprintf(code, sizeof code, "%d ", e->code);
		p = strstr(e->msg, code);
	}
	return p ? p : e->msg;
}

/* The reply to remember for r: its own, else the session's failure. */
static const char *last_reply(const struct rcpt *r, const struct delivery *d)
{
	return r->state == RCPT_REFUSED ? reply_words(&r->result)
	     : d->session.ex ? reply_words(&d->session) : NULL;
}

size_t queue_env_hold(struct queue_env *q, const struct rcpt *r, size_t n, const struct delivery *d)
{
	size_t held = 0;
	for (size_t i = 0; i < n; i++) {
		int hold = !d || queue_should_hold(&r[i], d);
		enum queue_rcpt_state st = hold ? QR_PENDING : r[i].state == RCPT_DELIVERED ? QR_DONE : QR_FAILED;
		queue_env_add(q, r[i].ascii, st, d ? last_reply(&r[i], d) : NULL);
		held += hold;
	}
	return held;
}

int queue_settle(const char *dir, struct queue_env *q, const struct rcpt *r, const struct delivery *d,
                 long long lifetime, unsigned jitter, struct perr *e)
{
	size_t k = 0;
	long long now = (long long)time(NULL);
	for (size_t i = 0; i < q->nrcpt; i++) {
		struct queue_rcpt *qr = &q->rcpt[i];
		if (qr->state != QR_PENDING)
			continue;
		const struct rcpt *x = &r[k++];
		const char *why = last_reply(x, d);
		free(qr->reply);
		qr->reply = why && *why ? xstrdup(why) : NULL;
		qr->state = x->state == RCPT_DELIVERED ? QR_DONE : queue_should_hold(x, d) ? QR_PENDING : QR_FAILED;
	}
	q->attempts++;
	if (queue_pending(q) == 0)
		return queue_remove(dir, q->id, e) ? -1 : QS_DONE;
	if (now - q->created >= lifetime)
		return queue_retire(dir, q, e) ? -1 : QS_EXPIRED;
	q->next_try = now + queue_backoff(q->attempts, jitter);
	return queue_update(dir, q, e) ? -1 : QS_DEFERRED;
}

/* ---- hold, release, delete ---- */

int queue_control(const char *dir, const char *id, enum queue_op op, struct perr *e)
{
	struct queue_env q;
	int missing, r;
	if (!*id || strlen(id) >= QUEUE_ID_MAX || strchr(id, '/') || id[0] == '.')
		return perr_fail(e, FC_USAGE, "'%s' is not a queue ID", id);
	char *env = path_of(dir, id, ".env");
	int lock = lock_msg(dir, id, &missing);
	if (lock < 0 || access(env, F_OK) != 0) {
		r = missing || access(env, F_OK) != 0
		        ? perr_fail(e, FC_NOINPUT, "no queued message %s in %s", id, dir)
		        : perr_fail(e, FC_IOERR, "queued message %s is being delivered; try again", id);
	} else if (op == QO_DELETE) {
		r = queue_remove(dir, id, e);
	} else if ((r = read_env(env, &q, e)) == 0) {
		q.held = op == QO_HOLD;
		if (op == QO_RELEASE)
			q.next_try = (long long)time(NULL);   /* due at once */
		r = queue_update(dir, &q, e);
		queue_env_free(&q);
	}
	if (lock >= 0)
		close(lock);
	free(env);
	return r;
}
