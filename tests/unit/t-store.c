/* t-store.c - unit tests for msg.c's file stores: a message read into a
 * named file (mode 0600, created exclusively, removed when the read
 * fails), the prepared message saved to a named file and loaded from its
 * path, a regular file read in place (no spool) and changed before it is
 * sent, and the errors of each. The files go into the directory given
 * as the only argument (unit.bats passes a fresh one). */
#include "msg.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util.h"

#include "tap.h"

static const char *dir;

static const struct msg_edits edits = {
	.set_from = HDR_AUTO, .from_addr = "me@example.org", .from_name = "Me",
	.set_date = HDR_AUTO, .set_msgid = HDR_AUTO, .msgid_domain = "example.org",
	.set_to = HDR_AUTO, .remove_bcc = 1, .now = 1767225600, .msgid = "<t-store@example.org>",
};

static int buf_sink(void *ctx, const char *p, size_t n)
{
	buf_add(ctx, p, n);
	return 0;
}

static char *slurp(const char *path, size_t *n)
{
	struct buf b;
	char chunk[4096];
	ssize_t got;
	int fd = open(path, O_RDONLY);
	buf_init(&b);
	buf_add(&b, "", 0);
	while (fd >= 0 && (got = read(fd, chunk, sizeof chunk)) > 0)
		buf_add(&b, chunk, (size_t)got);
	if (fd >= 0)
		close(fd);
	*n = b.len;
	return buf_steal(&b);
}

/* The failures: a missing directory, an existing name, a missing file. */
static int t_errors(void)
{
	struct msg_store s;
	struct perr e;
	if (msg_store_create(&s, "/nonexistent-t-store", "q1", &e) != EX_CANTCREAT)
		return fail("missing directory: %d, want %d", e.ex, EX_CANTCREAT);
	if (check_str("create", e.msg, "cannot create /nonexistent-t-store/q1: No such file or directory"))
		return 1;
	if (msg_store_create(&s, "/dev", "null", &e) != EX_CANTCREAT)
		return fail("existing name: %d, want %d", e.ex, EX_CANTCREAT);
	if (check_str("exclusive", e.msg, "cannot create /dev/null: File exists"))
		return 1;
	if (msg_store_open(&s, "/nonexistent-t-store/q1", &e) != EX_NOINPUT)
		return fail("open: %d, want %d", e.ex, EX_NOINPUT);
	return check_str("open", e.msg, "cannot open /nonexistent-t-store/q1: No such file or directory");
}

/* Read in (through a pipe) into dir/name: the file holds the input, mode 0600. */
static int read_named(const char *name, const char *in, struct msg *m)
{
	struct msg_store s;
	struct perr e;
	struct stat st;
	int fds[2];
	if (pipe(fds) < 0 || write(fds[1], in, strlen(in)) != (ssize_t)strlen(in))
		return fail("pipe");
	close(fds[1]);
	if (msg_store_create(&s, dir, name, &e))
		return fail("create: %s", e.msg);
	char *path = xstrdup(s.path);
	int rc = msg_read_store(fds[0], &s, m, &e);
	close(fds[0]);
	size_t n;
	char *got = slurp(path, &n);
	if (rc)
		rc = fail("msg_read_store: %s", e.msg);
	else if (stat(path, &st) < 0 || (st.st_mode & 07777) != 0600)
		rc = fail("%s: mode %o, want 600", path, (unsigned)(st.st_mode & 07777));
	else if (n != strlen(in) || memcmp(got, in, n) != 0)
		rc = fail("the file holds %zu octets, not the %zu of the input", n, strlen(in));
	free(got);
	free(path);
	return rc;
}

/* The wire forms of a and b, dot-stuffed and not, are the same. */
static int same_wire(struct msg *a, struct msg *b)
{
	int rc = 0;
	for (int ds = 0; ds < 2 && !rc; ds++) {
		struct buf x, y;
		struct perr e;
		buf_init(&x);
		buf_init(&y);
		if (msg_write(a, ds, buf_sink, &x, &e) || msg_write(b, ds, buf_sink, &y, &e))
			rc = fail("msg_write: %s", e.msg);
		else if (x.len != y.len || memcmp(x.s, y.s, x.len) != 0)
			rc = fail("wire forms differ (dotstuff %d): %zu and %zu octets", ds, x.len, y.len);
		buf_free(&x);
		buf_free(&y);
	}
	return rc;
}

/* m prepared, saved to dir/name, loaded from that path, sent twice. */
static int save_named(const char *name, struct msg *m)
{
	struct msg_store s;
	struct msg l;
	struct perr e;
	if (msg_store_create(&s, dir, name, &e) || msg_save(m, &s, &e))
		return fail("save: %s", e.msg);
	char *path = xstrdup(s.path);
	msg_store_close(&s);
	int rc = msg_store_open(&s, path, &e) || msg_load(&s, &l, &e);
	free(path);
	if (rc)
		return fail("load: %s", e.msg);
	rc = same_wire(&l, m) || same_wire(&l, m);
	msg_free(&l);
	return rc;
}

static int t_named(void)
{
	static const char in[] = "From x@y Sun\nSubject: s\nBcc: b@x.org\n\n.\nbody\n";
	struct msg m;
	struct msg_store s;
	struct perr e;
	int rc = read_named("in-1", in, &m);
	if (rc)
		return rc;
	if (msg_prepare(&m, &edits, &e))
		rc = fail("prepare: %s", e.msg);
	else
		rc = save_named("prep-1", &m);
	msg_free(&m);
	if (!rc && msg_store_create(&s, dir, "prep-1", &e) != EX_CANTCREAT)
		rc = fail("second create of prep-1: %d, want %d", e.ex, EX_CANTCREAT);
	return rc;
}

/* A read that fails leaves no named file behind. */
static int t_failed_read(void)
{
	struct msg_store s;
	struct msg m;
	struct perr e;
	struct stat st;
	if (msg_store_create(&s, dir, "in-empty", &e))
		return fail("create: %s", e.msg);
	char *path = xstrdup(s.path);
	int fd = open("/dev/null", O_RDONLY);
	int rc = msg_read_store(fd, &s, &m, &e);
	close(fd);
	if (rc != EX_DATAERR)
		rc = fail("empty input: %d, want %d", rc, EX_DATAERR);
	else if (stat(path, &st) == 0)
		rc = fail("%s left behind", path);
	else
		rc = 0;
	free(path);
	return rc;
}

/* dir/name holding pre then in; opened at the start of in. */
static int file_at(const char *name, const char *pre, const char *in, size_t n)
{
	char *path = xasprintf("%s/%s", dir, name);
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	free(path);
	if (fd < 0 || write_full(fd, pre, strlen(pre)) || write_full(fd, in, n))
		return -1;
	return lseek(fd, (off_t)strlen(pre), SEEK_SET) < 0 ? -1 : fd;
}

/* A regular file is read where it is, from its offset: the same message
 * as from a pipe, no spool file (TMPDIR cannot hold one), the offset
 * left at the end as read() would have left it. */
static int t_in_place(void)
{
	static const char in[] = "From x@y Sun\nSubject: s\nBcc: b@x.org\n\n.\nbody\n";
	struct msg m, p;
	struct perr e;
	int fd = file_at("in-place", "skipped\n", in, strlen(in));
	char *tmpdir = getenv("TMPDIR") ? xstrdup(getenv("TMPDIR")) : NULL;
	if (fd < 0)
		return fail("cannot write %s/in-place", dir);
	setenv("TMPDIR", "/nonexistent-t-store", 1);
	int rc = msg_read(fd, &m, &e);
	if (tmpdir)
		setenv("TMPDIR", tmpdir, 1);
	else
		unsetenv("TMPDIR");
	free(tmpdir);
	off_t at = lseek(fd, 0, SEEK_CUR);
	close(fd);
	if (rc)
		return fail("msg_read: %s", e.msg);
	if (at != (off_t)(8 + strlen(in)))
		rc = fail("offset %lld after reading, want %zu", (long long)at, 8 + strlen(in));
	else if (read_named("in-place-pipe", in, &p))
		rc = 1;
	else {
		rc = msg_prepare(&m, &edits, &e) || msg_prepare(&p, &edits, &e)
		     ? fail("prepare: %s", e.msg) : same_wire(&m, &p);
		if (!rc)
			rc = save_named("in-place-prep", &m);
		msg_free(&p);
	}
	msg_free(&m);
	return rc;
}

static int count_sink(void *ctx, const char *p, size_t n)
{
	(void)p;
	*(off_t *)ctx += (off_t)n;
	return 0;
}

/* Read in place, then the file changes at offset at (to, of n octets):
 * the write fails with EX_IOERR and why, having given no more octets
 * than were measured. */
static int changed(const char *in, off_t at, const char *to, const char *why)
{
	struct msg m;
	struct perr e;
	int fd = file_at("in-changed", "", in, strlen(in));
	if (fd < 0)
		return fail("cannot write %s/in-changed", dir);
	int rc = msg_read(fd, &m, &e);
	if (rc) {
		close(fd);
		return fail("msg_read: %s", e.msg);
	}
	off_t want = msg_wire_size(&m, 1, &e), got = 0;
	if (to && pwrite(fd, to, strlen(to), at) != (ssize_t)strlen(to))
		rc = fail("pwrite");
	else if (!to && ftruncate(fd, at) < 0)
		rc = fail("ftruncate");
	close(fd);
	if (!rc && msg_write(&m, 1, count_sink, &got, &e) != -1)
		rc = fail("the write of a changed file succeeded (%lld octets)", (long long)got);
	else if (!rc && (e.ex != EX_IOERR || got > want))
		rc = fail("status %d, %lld octets given of %lld: %s", e.ex, (long long)got,
		          (long long)want, e.msg);
	else if (!rc)
		rc = check_str("error", e.msg, why);
	msg_free(&m);
	return rc;
}

/* Three 200 KiB messages whose file changes after it was read. */
static int t_in_place_changed(void)
{
	static const char grown[] = "the message changed after it was read "
	                            "(its file was modified)";
	struct buf in;
	buf_init(&in);
	buf_adds(&in, "Subject: s\n\n");
	while (in.len < 200 * 1024)
		buf_adds(&in, "abcdefghijklmnopqrstuvwxyz\n");
	off_t end = (off_t)in.len;
	int rc = changed(in.s, end - 2, "\n", grown)       /* a line more */
	         || changed(in.s, end - 1, "z", grown)      /* a line end less */
	         || changed(in.s, 100 * 1024, NULL,
	                    "cannot read the message file: file truncated");
	buf_free(&in);
	return rc;
}

static const struct tap_case cases[] = {
	{ "store errors: missing directory, existing name (O_EXCL), missing file", t_errors },
	{ "named file: read into it (0600), save prepared, load from its path", t_named },
	{ "named file: removed when the read fails", t_failed_read },
	{ "regular file: read in place from its offset, no spool, offset at its end", t_in_place },
	{ "regular file: changed after the read, the write stops (never more octets)",
	  t_in_place_changed },
};

int main(int argc, char **argv)
{
	struct stat st;
	if (argc != 2 || stat(argv[1], &st) < 0 || !S_ISDIR(st.st_mode)) {
		printf("Bail out! usage: t-store DIRECTORY (an existing directory for the test files)\n");
		return 1;
	}
	dir = argv[1];
	run_cases(cases, NELEM(cases));
	return tap_done();
}
