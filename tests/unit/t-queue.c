/* t-queue.c - unit tests for queue.c: the envelope format (round trip,
 * refusals), the backoff schedule, durations, and, in the directory
 * given as the argument, commit, scan with its lock, update, removal,
 * retirement to failed/ and the crash leftovers a scan cleans up. */
#include "queue.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util.h"

#include "tap.h"

static const char *dir;

static void sample(struct queue_env *q)
{
	memset(q, 0, sizeof *q);
	snprintf(q->id, sizeof q->id, "6B13BE3C8172");
	q->config = xstrdup("");
	q->account = xstrdup("work");
	q->sender = xstrdup("me@example.org");
	q->created = 1796455996;
	q->next_try = 1796456319;
	q->attempts = 1;
	q->held = 1;
	q->envid = xstrdup("e1");
	queue_env_add(q, "a@example.org", QR_PENDING, "451 4.7.1 try\nlater");
	queue_env_add(q, "b@example.org", QR_DONE, NULL);
	queue_env_add(q, "c@example.org", QR_FAILED, "550 5.1.1 no");
}

static int t_roundtrip(void)
{
	struct queue_env q, r;
	struct perr e;
	sample(&q);
	char *text = queue_env_format(&q);
	int bad = strncmp(text, "version: 1\nid: 6B13BE3C8172\n", 28) != 0 ||
	          !strstr(text, "rcpt: pending <a@example.org> 451 4.7.1 try later\n");
	if (bad)
		fail("format: %s", text);
	if (!bad && queue_env_parse(text, strlen(text), &r, &e))
		bad = fail("parse: %s", e.msg);
	if (!bad) {
		bad = r.nrcpt != 3 || r.rcpt[1].state != QR_DONE || r.rcpt[1].reply ||
		      strcmp(r.rcpt[2].reply, "550 5.1.1 no") || r.created != q.created ||
		      strcmp(r.envid, "e1") || r.dsn_return || queue_pending(&r) != 1 || !r.held;
		if (bad)
			fail("fields differ after the round trip");
		queue_env_free(&r);
	}
	free(text);
	queue_env_free(&q);
	return bad;
}

static int t_refused(void)
{
	static const char *const bad_texts[] = {
		"id: X\nversion: 1\n",                                   /* version not first */
		"version: 2\nid: X\naccount: a\nsender: s\nrcpt: pending <a@b>\n",
		"version: 1\nid: X\naccount: a\nsender: s\nrcpt: lost <a@b>\n",
		"version: 1\nid: X\naccount: a\nsender: s\nrcpt: pending a@b\n",
		"version: 1\nid: X\naccount: a\nsender: s\ncolour: blue\nrcpt: pending <a@b>\n",
		"version: 1\nid: X\naccount: a\nsender: s\n",             /* no recipient */
		"version: 1\nid: X\naccount: a\nsender: s\nattempts: -1\nrcpt: pending <a@b>\n",
	};
	struct queue_env q;
	struct perr e;
	for (size_t i = 0; i < NELEM(bad_texts); i++)
		if (queue_env_parse(bad_texts[i], strlen(bad_texts[i]), &q, &e) == 0) {
			queue_env_free(&q);
			return fail("accepted: %s", bad_texts[i]);
		}
	return 0;
}

static int t_backoff(void)
{
	static const struct { int attempts; long long want; } t[] = {
		{ 1, 300 }, { 2, 600 }, { 3, 1200 }, { 4, 2400 }, { 5, 4800 }, { 6, 7200 }, { 40, 7200 },
	};
	for (size_t i = 0; i < NELEM(t); i++) {
		long long mid = queue_backoff(t[i].attempts, 500), lo = queue_backoff(t[i].attempts, 0),
		          hi = queue_backoff(t[i].attempts, 1000);
		if (mid != t[i].want || lo != t[i].want * 9 / 10 || hi != t[i].want * 11 / 10)
			return fail("attempt %d: %lld %lld %lld, want %lld +-10%%", t[i].attempts, lo, mid, hi,
			            t[i].want);
	}
	return 0;
}

static int t_duration(void)
{
	return check_int("90", queue_duration("90"), 90) | check_int("15m", queue_duration("15m"), 900) |
	       check_int("2h", queue_duration("2h"), 7200) | check_int("5d", queue_duration("5d"), 432000) |
	       check_int("5w", queue_duration("5w"), -1) | check_int("-1", queue_duration("-1"), -1) |
	       check_int("empty", queue_duration(""), -1);
}

static int count_fn(const char *d, struct queue_env *q, struct msg *m, void *ctx)
{
	(void)d;
	(void)m;
	int *n = ctx;
	(*n)++;
	return strcmp(q->account, "work") != 0;
}

static char *at(const char *name)
{
	return xasprintf("%s/%s", dir, name);
}

/* A message committed, found by a scan (not while locked elsewhere),
 * updated, retired, and the leftovers of crashes removed. */
static int t_directory(void)
{
	struct queue_env q;
	struct msg m;
	struct perr e;
	int n = 0, bad = 0;
	if (queue_dir_check(dir, &e))
		return fail("dir: %s", e.msg);
	if (msg_read_mem("Subject: s\n\nbody\n", 17, &m, &e))
		return fail("msg: %s", e.msg);
	struct msg_edits none = { .set_from = HDR_OFF };
	msg_prepare(&m, &none, &e);
	sample(&q);
	q.next_try = 1;   /* due */
	q.held = 0;
	if (queue_commit(dir, &q, &m, &e))
		bad = fail("commit: %s", e.msg);
	msg_free(&m);
	char *msgp = xasprintf("%s/%s.msg", dir, q.id);
	int lock = open(msgp, O_RDONLY);
	flock(lock, LOCK_EX);
	if (!bad && (queue_scan(dir, 0, NULL, count_fn, &n, &e) != 0 || n != 0))
		bad = fail("a locked message was visited");
	close(lock);
	if (!bad && (queue_scan(dir, 1, NULL, count_fn, &n, &e) != 0 || n != 1))
		bad = fail("due message not visited once (%d)", n);
	if (!bad && (queue_scan(dir, 0, "NOSUCH", count_fn, &n, &e) != 0 || n != 1))
		bad = fail("-qI filter ignored");
	/* leftovers: an envelope without its message; an old temporary file */
	/* leftovers: an envelope without its message; an old temporary file;
	 * an old message without its envelope (a fresh one may be a commit
	 * under way: it stays) */
	char *lone = at("0000000000AA.env"), *tmp = at("tmp.0000000000BB.msg");
	char *oldmsg = at("0000000000CC.msg"), *newmsg = at("0000000000DD.msg");
	fclose(fopen(lone, "w"));
	fclose(fopen(tmp, "w"));
	fclose(fopen(oldmsg, "w"));
	fclose(fopen(newmsg, "w"));
	struct timespec old[2] = { { 1000, 0 }, { 1000, 0 } };
	utimensat(AT_FDCWD, tmp, old, 0);
	utimensat(AT_FDCWD, oldmsg, old, 0);
	if (!bad && queue_scan(dir, 0, NULL, count_fn, &n, &e) != 0)
		bad = fail("scan with leftovers: %s", e.msg);
	if (!bad && (access(lone, F_OK) == 0 || access(tmp, F_OK) == 0 || access(oldmsg, F_OK) == 0))
		bad = fail("leftovers not removed");
	if (!bad && access(newmsg, F_OK) != 0)
		bad = fail("a fresh message without its envelope was removed");
	unlink(newmsg);
	free(oldmsg);
	free(newmsg);
	if (!bad && queue_retire(dir, &q, &e))
		bad = fail("retire: %s", e.msg);
	char *failed = xasprintf("%s/failed/%s.env", dir, q.id);
	if (!bad && (access(failed, F_OK) != 0 || access(msgp, F_OK) == 0))
		bad = fail("not moved to failed/");
	free(failed);
	free(lone);
	free(tmp);
	free(msgp);
	queue_env_free(&q);
	return bad;
}

static int t_private(void)
{
	struct perr e;
	char *d = xasprintf("%s-open", dir);
	mkdir(d, 0755);
	chmod(d, 0755);
	int r = queue_dir_check(d, &e);
	free(d);
	if (r != EX_CONFIG || !strstr(e.msg, "is accessible by others (chmod 700"))
		return fail("a 0755 queue directory: %d %s", r, e.msg);
	return 0;
}

static const struct tap_case cases[] = {
	{ "envelope: format and parse round trip, line ends made blanks", t_roundtrip },
	{ "envelope: version, states, fields and recipients checked", t_refused },
	{ "backoff: 5 min doubling, 2 h at most, +-10 %", t_backoff },
	{ "durations: s m h d", t_duration },
	{ "directory: commit, lock, scan, filter, leftovers, failed/", t_directory },
	{ "directory: others may not read it", t_private },
};

int main(int argc, char **argv)
{
	struct stat st;
	if (argc != 2 || stat(argv[1], &st) < 0 || !S_ISDIR(st.st_mode)) {
		printf("Bail out! usage: t-queue DIRECTORY (an existing, empty directory)\n");
		return 1;
	}
	dir = xasprintf("%s/q", argv[1]);   /* queue_dir_check creates it 0700 */
	run_cases(cases, NELEM(cases));
	return tap_done();
}
