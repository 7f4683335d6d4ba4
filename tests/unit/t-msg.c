/* t-msg.c - unit tests for msg.c: the push parser, the memory store,
 * header parsing, edits, the long-line repair, the wire form, and the
 * prepared message saved and loaded back. Messages are read from memory
 * or pipes: no files (the file stores are t-store.c's). */
#include "msg.h"

#include <errno.h>
#include <fcntl.h>
#include <regex.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "util.h"

#include "tap.h"

/* A printable rendering of bytes for diagnostics (first 300). */
static char *show(const char *p, size_t n)
{
	struct buf b;
	buf_init(&b);
	buf_addc(&b, '"');
	for (size_t i = 0; i < n && i < 300; i++) {
		unsigned char c = (unsigned char)p[i];
		if (c == '\r')
			buf_adds(&b, "\\r");
		else if (c == '\n')
			buf_adds(&b, "\\n");
		else if (c == '"' || c == '\\')
			buf_printf(&b, "\\%c", c);
		else if (c < 32 || c > 126)
			buf_printf(&b, "\\x%02x", c);
		else
			buf_addc(&b, (char)c);
	}
	buf_adds(&b, n > 300 ? "\"..." : "\"");
	return buf_steal(&b);
}

static int same(const char *what, const char *got, size_t gn, const char *want, size_t wn)
{
	if (gn == wn && memcmp(got, want, gn) == 0)
		return 0;
	size_t d = 0;
	while (d < gn && d < wn && got[d] == want[d])
		d++;
	size_t from = d > 20 ? d - 20 : 0;
	char *g = show(got + from, gn - from), *w = show(want + from, wn - from);
	fail("%s (differ at %zu, len %zu vs %zu): got %s, want %s", what, d, gn, wn, g, w);
	free(g);
	free(w);
	return 1;
}

static int sames(const char *what, const char *got, const char *want)
{
	if (!got)
		return fail("%s: got NULL, want \"%s\"", what, want);
	return same(what, got, strlen(got), want, strlen(want));
}

static const struct msg_edits no_edits = { .set_from = HDR_OFF };

static int read_msg(const char *p, size_t n, struct msg *m, struct perr *e)
{
	return msg_read_mem(p, n, m, e);
}

static int buf_sink(void *ctx, const char *p, size_t n)
{
	buf_add(ctx, p, n);
	return 0;
}

/* Read, prepare with ed, write. Returns 0 or the failing step's status;
 * the message is freed. */
static int run(const char *in, size_t n, const struct msg_edits *ed, int dotstuff,
               struct buf *out, struct perr *e)
{
	struct msg m;
	int rc = read_msg(in, n, &m, e);
	if (rc)
		return rc;
	rc = msg_prepare(&m, ed, e);
	if (!rc)
		rc = msg_write(&m, dotstuff, buf_sink, out, e);
	msg_free(&m);
	return rc;
}

/* run() that must succeed and produce want. */
static int expect(const char *in, size_t n, const struct msg_edits *ed, int dotstuff,
                  const char *want, size_t wn)
{
	struct buf out;
	struct perr e;
	buf_init(&out);
	int rc = run(in, n, ed, dotstuff, &out, &e);
	if (rc)
		rc = fail("status %d (%s), want 0", rc, e.msg);
	else
		rc = same("output", out.s, out.len, want, wn);
	buf_free(&out);
	return rc;
}

/* run() that must fail with ex and a message equal to msg. */
static int expect_error(const char *in, size_t n, const struct msg_edits *ed, int ex,
                        const char *msg)
{
	struct buf out;
	struct perr e;
	buf_init(&out);
	int rc = run(in, n, ed, 1, &out, &e);
	buf_free(&out);
	if (rc != ex)
		return fail("status %d (%s), want %d", rc, rc ? e.msg : "", ex);
	return sames("error", e.msg, msg);
}

/* ---- golden cases: input -> wire form, no edits ---- */

struct golden {
	const char *desc;
	const char *in;
	size_t inlen;    /* 0: strlen */
	int dotstuff;
	const char *want;
	size_t wantlen;  /* 0: strlen */
};

static const struct golden goldens[] = {
	{ "LF line ends become CRLF", "Subject: a\n\nline1\nline2\n", 0, 0,
	  "Subject: a\r\n\r\nline1\r\nline2\r\n", 0 },
	{ "CRLF input passes unchanged", "Subject: a\r\n\r\nline1\r\nline2\r\n", 0, 1,
	  "Subject: a\r\n\r\nline1\r\nline2\r\n", 0 },
	{ "bare CR line ends become CRLF", "Subject: a\r\rx\ry\r", 0, 0,
	  "Subject: a\r\n\r\nx\r\ny\r\n", 0 },
	{ "mixed line ends", "A: 1\r\n\nx\ry\r\nz\n\rw", 0, 0,
	  "A: 1\r\n\r\nx\r\ny\r\nz\r\n\r\nw\r\n", 0 },
	{ "CR CR LF is two line ends", "A: 1\n\nx\r\r\ny\n", 0, 0,
	  "A: 1\r\n\r\nx\r\n\r\ny\r\n", 0 },
	{ "lone dot line kept without dot-stuffing", "A: 1\n\nfoo\n.\nbar\n", 0, 0,
	  "A: 1\r\n\r\nfoo\r\n.\r\nbar\r\n", 0 },
	{ "lone dot line stuffed with dot-stuffing", "A: 1\n\nfoo\n.\nbar\n", 0, 1,
	  "A: 1\r\n\r\nfoo\r\n..\r\nbar\r\n", 0 },
	{ "..x becomes ...x", "A: 1\n\n..x\ny.\n", 0, 1,
	  "A: 1\r\n\r\n...x\r\ny.\r\n", 0 },
	{ "dot after bare CR is stuffed", "A: 1\n\nx\r.y\r\n.\r", 0, 1,
	  "A: 1\r\n\r\nx\r\n..y\r\n..\r\n", 0 },
	{ "no final newline gets CRLF", "A: 1\n\nabc", 0, 0, "A: 1\r\n\r\nabc\r\n", 0 },
	{ "final bare CR is one line end", "A: 1\n\nabc\r", 0, 0, "A: 1\r\n\r\nabc\r\n", 0 },
	{ "mbox From_ line dropped", "From me@x.org Sun Nov 22 19:59:07 2026\nSubject: a\n\nb\n", 0, 0,
	  "Subject: a\r\n\r\nb\r\n", 0 },
	{ "mbox From_ line with CRLF dropped", "From x\r\nSubject: a\r\n\r\nb\r\n", 0, 0,
	  "Subject: a\r\n\r\nb\r\n", 0 },
	{ "From_ line later in the body kept", "Subject: a\n\nFrom here on\n", 0, 0,
	  "Subject: a\r\n\r\nFrom here on\r\n", 0 },
	{ "From: header at the top kept", "From: a@b.org\n\nx\n", 0, 0,
	  "From: a@b.org\r\n\r\nx\r\n", 0 },
	{ "Fromage: header at the top kept", "Fromage: 1\n\nx\n", 0, 0,
	  "Fromage: 1\r\n\r\nx\r\n", 0 },
	{ "folded header kept as written", "Subject: a\n  b\n\tc\nX: y\n\nz\n", 0, 0,
	  "Subject: a\r\n  b\r\n\tc\r\nX: y\r\n\r\nz\r\n", 0 },
	{ "no blank line before the body: one inserted", "Subject: a\nhello world\nmore\n", 0, 0,
	  "Subject: a\r\n\r\nhello world\r\nmore\r\n", 0 },
	{ "no header at all", "hello\n", 0, 0, "\r\nhello\r\n", 0 },
	{ "continuation line first: no header", " x\ny: 1\n", 0, 0, "\r\n x\r\ny: 1\r\n", 0 },
	{ "header only, no body", "Subject: a\n", 0, 0, "Subject: a\r\n\r\n", 0 },
	{ "header without final newline", "Subject: a", 0, 0, "Subject: a\r\n\r\n", 0 },
	{ "name without colon at end of input is body", "Subject: a\nxyz", 0, 0,
	  "Subject: a\r\n\r\nxyz\r\n", 0 },
	{ "empty body after the blank line", "A: 1\n\n", 0, 0, "A: 1\r\n\r\n", 0 },
	{ "blank line then empty body line", "A: 1\r\n\r\n\nx", 0, 0,
	  "A: 1\r\n\r\n\r\nx\r\n", 0 },
	{ "header line starting with a dot stuffed", ".X: 1\n\nb\n", 0, 1,
	  "..X: 1\r\n\r\nb\r\n", 0 },
	{ "NUL octets in the body pass", "A: 1\n\na\0b\n", 10, 0, "A: 1\r\n\r\na\0b\r\n", 13 },
	{ "8-bit body passes byte for byte", "A: 1\n\n\xc3\xa9t\xc3\xa9 \xff\n", 0, 0,
	  "A: 1\r\n\r\n\xc3\xa9t\xc3\xa9 \xff\r\n", 0 },
	{ "obsolete white space before the colon", "Subject : a\nb\n", 0, 0,
	  "Subject : a\r\n\r\nb\r\n", 0 },
};

static int run_golden(const struct golden *g)
{
	size_t in = g->inlen ? g->inlen : strlen(g->in);
	size_t wn = g->wantlen ? g->wantlen : strlen(g->want);
	return expect(g->in, in, &no_edits, g->dotstuff, g->want, wn);
}

/* ---- reading ---- */

static int t_empty(void)
{
	return expect_error("", 0, &no_edits, EX_DATAERR, "empty message (no input on stdin)");
}

/* End of input before anything was pushed (an empty pipe): the parser
 * has no piece at all, and ends cleanly. */
static int t_eof_before_push(void)
{
	struct msg_parser p;
	struct msg_field f;
	struct perr e;
	int ev, n = 0;
	msg_parser_init(&p, 0);
	msg_parser_eof(&p);
	while ((ev = msg_parser_next(&p, &f, &e)) != MSG_EV_END && ev >= 0 && n < 10)
		n++;
	msg_parser_free(&p);
	if (ev != MSG_EV_END)
		return fail("event %d after %d steps, want MSG_EV_END", ev, n);
	return p.size != 0 || p.nfields != 0 ? fail("size %lld, %zu fields", (long long)p.size, p.nfields) : 0;
}

static int t_only_from_line(void)
{
	return expect_error("From x@y Sun Nov 22\n", 20, &no_edits, EX_DATAERR,
	                    "empty message (no input on stdin)");
}

/* A message with a CR at spool offset at and LF right after it; the
 * body before it is lines of 99 octets. */
static int split_cr(size_t at)
{
	static const char head[] = "Subject: split\n\n";
	struct buf in, want;
	buf_init(&in);
	buf_init(&want);
	buf_adds(&in, head);
	buf_adds(&want, "Subject: split\r\n\r\n");
	for (size_t i = in.len; i < at; i++) {
		int eol = (i - (sizeof head - 1)) % 100 == 99;
		buf_addc(&in, eol ? '\n' : 'a');
		buf_adds(&want, eol ? "\r\n" : "a");
	}
	buf_adds(&in, "\r\nbc\n");
	buf_adds(&want, "\r\nbc\r\n");
	int rc = in.s[at] == '\r' ? 0 : fail("test input built wrong");
	if (!rc)
		rc = expect(in.s, in.len, &no_edits, 0, want.s, want.len);
	buf_free(&in);
	buf_free(&want);
	return rc;
}

/* A 37-octet header line, then header lines of 100 octets with CRLF
 * ends: the CR of the 656th line is at input offset 65535, its LF first
 * in the next read. */
static int t_split_read(void)
{
	struct buf in;
	buf_init(&in);
	buf_adds(&in, "X-First: abcdefghijklmnopqrstuvwxyz\r\n");
	for (int i = 0; i < 655; i++)
		buf_printf(&in, "X-Pad-%04d: %086d\r\n", i, i);
	buf_adds(&in, "Subject: after\r\n\r\nbody\r\n");
	int rc = in.s[65535] == '\r' && in.s[65536] == '\n' ? 0 : fail("test input built wrong");
	if (!rc)
		rc = expect(in.s, in.len, &no_edits, 0, in.s, in.len);
	buf_free(&in);
	return rc;
}

static int t_split_pread(void)
{
	return split_cr(16 + 65535); /* same, for the body's first pread chunk */
}

struct feeder {
	const char *p;
	size_t n, step;
};

static void feed_slowly(int fd, void *arg)
{
	struct feeder *f = arg;
	for (size_t i = 0; i < f->n; i += f->step) {
		size_t k = f->n - i < f->step ? f->n - i : f->step;
		if (write(fd, f->p + i, k) != (ssize_t)k)
			_exit(1);
		usleep(2000);
	}
}

/* Run gen(fd, arg) in a child writing into a pipe; returns the read end. */
static int pipe_from(void (*gen)(int, void *), void *arg, pid_t *pid)
{
	int p[2];
	if (pipe(p) < 0) {
		perror("pipe");
		exit(2);
	}
	*pid = fork();
	if (*pid < 0) {
		perror("fork");
		exit(2);
	}
	if (*pid == 0) {
		close(p[0]);
		gen(p[1], arg);
		_exit(0);
	}
	close(p[1]);
	return p[0];
}

static int t_pipe_short_reads(void)
{
	static const char in[] = "From x@y\r\nSubject: a\r\n b\r\n\r\n.\r\nend";
	struct feeder f = { in, sizeof in - 1, 1 };
	pid_t pid;
	int fd = pipe_from(feed_slowly, &f, &pid);
	struct msg m;
	struct msg_store s;
	struct perr e;
	struct buf out;
	buf_init(&out);
	msg_store_mem(&s);
	int rc = msg_read_store(fd, &s, &m, &e);
	close(fd);
	waitpid(pid, NULL, 0);
	if (rc)
		return fail("msg_read: %s", e.msg);
	msg_prepare(&m, &no_edits, &e);
	msg_write(&m, 1, buf_sink, &out, &e);
	rc = sames("output", out.s, "Subject: a\r\n b\r\n\r\n..\r\nend\r\n");
	if (!rc && (m.nhdr != 1 || strcmp(m.hdr[0].value, "a b")))
		rc = fail("header not parsed");
	buf_free(&out);
	msg_free(&m);
	return rc;
}

static int t_unfold(void)
{
	static const char in[] = "Subject: a\n  b\n\tc\nX-Y :  z \r\nTo:\n x@y\n\nbody\n";
	struct msg m;
	struct perr e;
	if (read_msg(in, sizeof in - 1, &m, &e))
		return fail("msg_read: %s", e.msg);
	int rc = 0;
	if (m.nhdr != 3)
		rc = fail("nhdr %zu, want 3", m.nhdr);
	else if (sames("value", m.hdr[0].value, "a  b\tc") || sames("raw", m.hdr[0].raw, "Subject: a\n  b\n\tc\n")
	         || sames("name", m.hdr[1].name, "X-Y") || sames("value", m.hdr[1].value, "z ")
	         || sames("raw", m.hdr[1].raw, "X-Y :  z \n") || sames("value", m.hdr[2].value, "x@y"))
		rc = 1;
	else if (!msg_header(&m, "x-y", 0) || msg_header(&m, "x-y", 1))
		rc = fail("msg_header lookup");
	else if (m.no_separator || m.body_off != (off_t)(sizeof in - 1 - 5))
		rc = fail("no_separator %d body_off %lld", m.no_separator, (long long)m.body_off);
	msg_free(&m);
	return rc;
}

static int t_no_separator_flag(void)
{
	struct msg m;
	struct perr e;
	if (read_msg("Subject: a\nhello\n", 17, &m, &e))
		return fail("msg_read: %s", e.msg);
	int rc = 0;
	if (!m.no_separator || m.body_off != 11 || m.nhdr != 1 || m.size != 17)
		rc = fail("no_separator %d body_off %lld nhdr %zu", m.no_separator,
		          (long long)m.body_off, m.nhdr);
	msg_free(&m);
	return rc;
}

static int t_eightbit(void)
{
	static const struct { const char *in; int want; } v[] = {
		{ "A: 1\n\nplain\n", 0 },
		{ "A: 1\n\nna\xc3\xafve\n", 1 },
		{ "A: J\xc3\xb6rg\n\nplain\n", 1 },
	};
	for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
		struct msg m;
		struct perr e;
		if (read_msg(v[i].in, strlen(v[i].in), &m, &e))
			return fail("msg_read: %s", e.msg);
		int got = m.eightbit;
		msg_free(&m);
		if (got != v[i].want)
			return fail("input %zu: eightbit %d, want %d", i, got, v[i].want);
	}
	return 0;
}

static int t_header_too_big(void)
{
	size_t n = MSG_MAX_HEADER_BYTES + 100;
	char *in = xmalloc(n);
	memcpy(in, "X-Big: ", 7);
	for (size_t i = 7; i < n; i++)
		in[i] = (i % 70 == 0) ? '\n' : ((i % 70 == 1) ? ' ' : 'x');
	int rc = expect_error(in, n, &no_edits, EX_DATAERR, "header section exceeds 1 MiB");
	free(in);
	return rc;
}

static int t_too_many_fields(void)
{
	struct buf in;
	buf_init(&in);
	for (int i = 0; i < 10001; i++)
		buf_adds(&in, "A:\n");
	buf_adds(&in, "\nbody\n");
	int rc = expect_error(in.s, in.len, &no_edits, EX_DATAERR,
	                      "header section has more than 10000 fields");
	buf_free(&in);
	if (!rc) {
		struct buf ok;
		buf_init(&ok);
		for (int i = 0; i < 10000; i++)
			buf_adds(&ok, "A:\r\n");
		buf_adds(&ok, "\r\nbody\r\n");
		rc = expect(ok.s, ok.len, &no_edits, 0, ok.s, ok.len);
		buf_free(&ok);
	}
	return rc;
}

static int t_header_nul(void)
{
	return expect_error("A: 1\nB: x\0y\n\nz\n", 15, &no_edits, EX_DATAERR,
	                    "header line 2 contains a NUL octet");
}

static int t_long_line_number(void)
{
	struct buf in;
	struct msg m;
	struct perr e;
	buf_init(&in);
	buf_adds(&in, "A: 1\r\nB: 2\r\n\r\nshort\r\n");
	for (int i = 0; i < 999; i++)
		buf_addc(&in, 'x');
	buf_adds(&in, "\r\n");
	for (int i = 0; i < 2000; i++)
		buf_addc(&in, 'y');
	int rc = read_msg(in.s, in.len, &m, &e);
	buf_free(&in);
	if (rc)
		return fail("msg_read: %s", e.msg);
	rc = m.long_line != 5 ? fail("long_line %ld, want 5", m.long_line) : 0;
	msg_free(&m);
	return rc;
}

/* ---- header edits ---- */

static int match(const char *re, const char *s)
{
	regex_t r;
	if (regcomp(&r, re, REG_EXTENDED | REG_NOSUB)) {
		fprintf(stderr, "bad regex %s\n", re);
		exit(2);
	}
	int ok = regexec(&r, s, 0, NULL, 0) == 0;
	regfree(&r);
	return ok;
}

#define DATE_RE "Date: (Mon|Tue|Wed|Thu|Fri|Sat|Sun), [0-9]{1,2} " \
	"(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) [0-9]{4} " \
	"[0-2][0-9]:[0-5][0-9]:[0-6][0-9] [+-][0-9]{4}\r\n"
#define MSGID_RE "Message-ID: <[0-9]{14}\\.[0-9A-F]{16}@example\\.org>\r\n"

static int t_added_headers(void)
{
	struct msg_edits ed = { .set_from = HDR_AUTO, .from_addr = "me@example.org",
	                        .set_date = HDR_AUTO, .set_msgid = HDR_AUTO,
	                        .msgid_domain = "example.org", .set_to = HDR_AUTO };
	struct buf out;
	struct perr e;
	buf_init(&out);
	int rc = run("Subject: s\n\nb\n", 14, &ed, 0, &out, &e);
	if (rc)
		return fail("status %d: %s", rc, e.msg);
	const char *re = "^From: me@example\\.org\r\nTo: undisclosed-recipients:;\r\n"
	                 DATE_RE MSGID_RE "Subject: s\r\n\r\nb\r\n$";
	rc = match(re, out.s) ? 0 : fail("got %s", out.s);
	buf_free(&out);
	return rc;
}

static int t_msgid_default_domain(void)
{
	struct msg_edits ed = no_edits;
	struct buf out;
	struct perr e;
	ed.set_msgid = HDR_AUTO;
	buf_init(&out);
	int rc = run("A: 1\n\nb\n", 8, &ed, 0, &out, &e);
	if (!rc && !match("^Message-ID: <[0-9]{14}\\.[0-9A-F]{16}@localhost>\r\nA: 1\r\n", out.s))
		rc = fail("got %s", out.s);
	buf_free(&out);
	return rc;
}

/* Set TZ; returns the old value (allocated, NULL if unset) for tz_restore. */
static char *tz_set(const char *tz)
{
	char *old = getenv("TZ") ? xstrdup(getenv("TZ")) : NULL;
	setenv("TZ", tz, 1);
	tzset();
	return old;
}

static void tz_restore(char *old)
{
	if (old)
		setenv("TZ", old, 1);
	else
		unsetenv("TZ");
	tzset();
	free(old);
}

/* The Date zone follows TZ and the names do not follow the locale. */
static int date_in_zone(const char *tz, const char *zone)
{
	struct msg_edits ed = no_edits;
	struct buf out;
	struct perr e;
	ed.set_date = HDR_AUTO;
	char *old = tz_set(tz);
	buf_init(&out);
	int rc = run("A: 1\n\nb\n", 8, &ed, 0, &out, &e);
	tz_restore(old);
	char *re = xasprintf("^Date: [A-Z][a-z]{2}, [0-9]{1,2} [A-Z][a-z]{2} [0-9]{4} "
	                     "[0-9]{2}:[0-9]{2}:[0-9]{2} %s\r\nA: 1\r\n", zone);
	if (!rc && !match(re, out.s))
		rc = fail("got %s", out.s);
	free(re);
	buf_free(&out);
	return rc;
}

static int t_date_utc(void)
{
	return date_in_zone("UTC0", "[+]0000");
}

static int t_date_negative_zone(void)
{
	return date_in_zone("XST5:30", "-0530");
}

static int t_present_not_added(void)
{
	static const char in[] = "From: a@b.org\nTo: c@d.org\nDate: Sun, 22 Nov 2026 19:59:07 +0100\n"
	                         "Message-ID: <x@y>\n\nb\n";
	static const char want[] = "From: a@b.org\r\nTo: c@d.org\r\nDate: Sun, 22 Nov 2026 19:59:07 +0100\r\n"
	                           "Message-ID: <x@y>\r\n\r\nb\r\n";
	struct msg_edits ed = { .set_from = HDR_AUTO, .from_addr = "me@example.org",
	                        .from_name = "Me", .set_date = HDR_AUTO, .set_msgid = HDR_AUTO,
	                        .msgid_domain = "example.org", .set_to = HDR_AUTO };
	return expect(in, sizeof in - 1, &ed, 0, want, sizeof want - 1);
}

static int t_cc_only_no_to_added(void)
{
	struct msg_edits ed = no_edits;
	ed.set_to = HDR_AUTO;
	return expect("Cc: c@d.org\n\nb\n", 15, &ed, 0, "Cc: c@d.org\r\n\r\nb\r\n", 18);
}

static int t_set_from_on(void)
{
	static const char in[] = "From: old@x.org\nSubject: s\nfrom: other@x.org\n\nb\n";
	static const char want[] = "From: Jane Doe <new@y.org>\r\nSubject: s\r\n\r\nb\r\n";
	struct msg_edits ed = no_edits;
	ed.set_from = HDR_ON;
	ed.from_addr = "new@y.org";
	ed.from_name = "Jane Doe";
	return expect(in, sizeof in - 1, &ed, 0, want, sizeof want - 1);
}

/* set_from_header auto: a From without a domain is replaced, keeping its
 * display name unless -F / from_full_name gives one; a qualified From is
 * kept. */
static const struct from_case {
	const char *from, *name, *want;
} from_cases[] = {
	{ "root (Cron Daemon)", NULL, "From: Cron Daemon <cron@h.example>" },
	{ "root (Cron Daemon)", "CronDaemon", "From: CronDaemon <cron@h.example>" },
	{ "\"(Cron Daemon)\" <user>", NULL, "From: \"(Cron Daemon)\" <cron@h.example>" },
	{ "Anacron <user>", NULL, "From: Anacron <cron@h.example>" },
	{ "Logwatch", NULL, "From: cron@h.example" },
	{ "mdadm monitoring <root>", NULL, "From: mdadm monitoring <cron@h.example>" },
	{ "root", NULL, "From: cron@h.example" },
	{ "a@x.example, root", NULL, "From: cron@h.example" },
	{ "<<<", NULL, "From: cron@h.example" },
	{ "Fail2Ban <root@fq.example>", NULL, "From: Fail2Ban <root@fq.example>" },
	{ "root@localhost", "Ignored", "From: root@localhost" },
};

static int t_from_unqualified(void)
{
	int rc = 0;
	for (size_t i = 0; i < sizeof from_cases / sizeof from_cases[0] && !rc; i++) {
		const struct from_case *c = &from_cases[i];
		struct msg_edits ed = no_edits;
		ed.set_from = HDR_AUTO;
		ed.from_addr = "cron@h.example";
		ed.from_name = c->name;
		char *in = xasprintf("From: %s\nSubject: s\n\nb\n", c->from);
		char *want = xasprintf("%s\r\nSubject: s\r\n\r\nb\r\n", c->want);
		rc = expect(in, strlen(in), &ed, 0, want, strlen(want));
		if (rc) {
			char m[sizeof tap_why];
			snprintf(m, sizeof m, "%s", tap_why);
			rc = fail("From: %s: %.3000s", c->from, m);
		}
		free(in);
		free(want);
	}
	return rc;
}

static int t_from_utf8_name(void)
{
	struct msg_edits ed = no_edits;
	ed.set_from = HDR_AUTO;
	ed.from_addr = "jorg@example.org";
	ed.from_name = "J\xc3\xb6rg M\xc3\xbcller";
	char *phrase = addr_phrase(ed.from_name);
	char *want = xasprintf("From: %s <jorg@example.org>\r\nA: 1\r\n\r\nb\r\n", phrase);
	int rc = 0;
	if (strncmp(phrase, "=?", 2) || addr_is_8bit(phrase))
		rc = fail("phrase %s is not an encoded-word", phrase);
	if (!rc)
		rc = expect("A: 1\n\nb\n", 8, &ed, 0, want, strlen(want));
	free(phrase);
	free(want);
	return rc;
}

static int t_remove_bcc(void)
{
	static const char in[] = "To: a@x.org\nBcc: b@x.org,\n c@x.org\nResent-Bcc: d@x.org\n"
	                         "BCC: e@x.org\nSubject: s\n\nb\n";
	static const char want[] = "To: a@x.org\r\nSubject: s\r\n\r\nb\r\n";
	struct msg_edits ed = no_edits;
	ed.remove_bcc = 1;
	return expect(in, sizeof in - 1, &ed, 0, want, sizeof want - 1);
}

static int t_set_to_on(void)
{
	static const char in[] = "To: a@x.org\nCc: b@x.org\nBcc: c@x.org\nSubject: s\n\nb\n";
	static const char want[] = "To: undisclosed-recipients:;\r\nSubject: s\r\n\r\nb\r\n";
	struct msg_edits ed = no_edits;
	ed.set_to = HDR_ON;
	return expect(in, sizeof in - 1, &ed, 0, want, sizeof want - 1);
}

/* ---- recipients ---- */

static int check_rcpts(const char *in, const char *want, const struct msg_edits *ed)
{
	struct msg m;
	struct perr e;
	struct addrlist l = { NULL, 0, 0 };
	struct buf got;
	if (read_msg(in, strlen(in), &m, &e))
		return fail("msg_read: %s", e.msg);
	if (ed && msg_prepare(&m, ed, &e)) {
		msg_free(&m);
		return fail("msg_prepare: %s", e.msg);
	}
	int rc = msg_recipients(&m, &l, &e);
	buf_init(&got);
	for (size_t i = 0; i < l.n; i++) {
		char *a = addr_envelope(&l.v[i]);
		buf_printf(&got, "%s%s", i ? " " : "", a);
		free(a);
	}
	if (rc)
		rc = fail("msg_recipients: %s", e.msg);
	else
		rc = sames("recipients", got.s ? got.s : "", want);
	buf_free(&got);
	addrlist_free(&l);
	msg_free(&m);
	return rc;
}

static int t_rcpt_to_cc_bcc(void)
{
	return check_rcpts("Bcc: f@x.org\nTo: Alice <a@x.org>,\n \"Bob, Jr.\" <b@x.org>\n"
	                   "Subject: x\nCc: team: c@x.org, d@x.org;, e@x.org (Eve),\n"
	                   "  undisclosed-recipients:;\n\nbody\n",
	                   "a@x.org b@x.org c@x.org d@x.org e@x.org f@x.org", NULL);
}

static int t_rcpt_resent_block(void)
{
	return check_rcpts("Resent-From: r@x.org\nResent-To: r1@x.org\nResent-Cc: r2@x.org\n"
	                   "Resent-Bcc: r3@x.org\nReceived: by x\nResent-To: old@x.org\n"
	                   "To: t@x.org\n\nbody\n",
	                   "r1@x.org r2@x.org r3@x.org", NULL);
}

static int t_rcpt_bcc_after_removal(void)
{
	struct msg_edits ed = no_edits;
	ed.remove_bcc = 1;
	ed.set_to = HDR_ON;
	return check_rcpts("To: a@x.org\nBcc: b@x.org\n\nbody\n", "a@x.org b@x.org", &ed);
}

static int t_rcpt_syntax_error(void)
{
	struct msg m;
	struct perr e;
	struct addrlist l = { NULL, 0, 0 };
	if (read_msg("To: <a@x.org\n\nb\n", 16, &m, &e))
		return fail("msg_read: %s", e.msg);
	int rc = msg_recipients(&m, &l, &e);
	addrlist_free(&l);
	msg_free(&m);
	if (rc != EX_DATAERR || strncmp(e.msg, "To header: ", 11))
		return fail("status %d (%s), want %d and \"To header: ...\"", rc, e.msg, EX_DATAERR);
	return 0;
}

static int t_msg_from(void)
{
	struct msg m;
	struct perr e;
	struct addr a;
	static const char in[] = "Subject: s\nFrom: \"Doe, Jane\" <jane@x.org>, b@y.org\n\nb\n";
	if (read_msg(in, sizeof in - 1, &m, &e))
		return fail("msg_read: %s", e.msg);
	int rc = msg_from(&m, &a, &e);
	msg_free(&m);
	if (rc)
		return fail("msg_from: %s", e.msg);
	rc = sames("name", a.name, "Doe, Jane") || sames("local", a.local, "jane")
	     || sames("domain", a.domain, "x.org");
	addr_free(&a);
	if (rc)
		return rc;
	if (read_msg("Subject: s\n\nb\n", 14, &m, &e))
		return fail("msg_read: %s", e.msg);
	rc = msg_from(&m, &a, &e);
	msg_free(&m);
	if (rc != EX_DATAERR)
		return fail("no From: status %d, want %d", rc, EX_DATAERR);
	return sames("error", e.msg, "the message has no From header");
}

/* ---- long lines ---- */

static int t_998_unchanged(void)
{
	struct buf in, want;
	buf_init(&in);
	buf_init(&want);
	buf_adds(&in, "Subject: s\n\n");
	buf_adds(&want, "Subject: s\r\n\r\n");
	for (int i = 0; i < 998; i++) {
		buf_addc(&in, (char)('a' + i % 26));
		buf_addc(&want, (char)('a' + i % 26));
	}
	buf_adds(&in, "\n");
	buf_adds(&want, "\r\n");
	int rc = expect(in.s, in.len, &no_edits, 1, want.s, want.len);
	buf_free(&in);
	buf_free(&want);
	return rc;
}

/* Decode a quoted-printable body (CRLF lines), checking line lengths. */
static int qp_decode(const char *p, size_t n, struct buf *out)
{
	size_t i = 0;
	while (i < n) {
		const char *eol = memmem(p + i, n - i, "\r\n", 2);
		if (!eol)
			return fail("QP body has an unterminated line");
		size_t len = (size_t)(eol - (p + i));
		if (len > 76)
			return fail("QP line of %zu octets", len);
		int soft = len && p[i + len - 1] == '=';
		for (size_t k = i; k < i + len - (size_t)soft; k++) {
			unsigned char c = (unsigned char)p[k];
			if (c == '=') {
				unsigned int v;
				if (sscanf(p + k + 1, "%2X", &v) != 1)
					return fail("bad QP escape at %zu", k);
				buf_addc(out, (char)v);
				k += 2;
			} else if (c < 32 && c != '\t') {
				return fail("raw control octet in QP");
			} else if (c > 126) {
				return fail("raw 8-bit octet in QP");
			} else {
				buf_addc(out, (char)c);
			}
		}
		if (len && !soft && (p[i + len - 1] == ' ' || p[i + len - 1] == '\t'))
			return fail("QP line ends in white space");
		if (!soft)
			buf_add(out, "\r\n", 2);
		i += len + 2;
	}
	return 0;
}

/* Undo dot-stuffing of CRLF text. */
static void unstuff(struct buf *b)
{
	size_t o = 0;
	for (size_t i = 0; i < b->len; i++) {
		if (b->s[i] == '.' && (i == 0 || b->s[i - 1] == '\n'))
			continue;
		b->s[o++] = b->s[i];
	}
	b->len = o;
}

/* Body: a short line, a 999-octet line with every kind of octet, more. */
static void long_body(struct buf *in, struct buf *crlf)
{
	static const char first[] = ".a = b \tend\t";
	buf_adds(in, first);
	buf_adds(in, "\n");
	buf_adds(crlf, first);
	buf_adds(crlf, "\r\n");
	for (int i = 0; i < 999; i++) {
		char c = (char)(i % 7 == 3 ? ' ' : (i % 50 == 4 ? '.' : (char)(i * 37 % 256)));
		if (c == '\n' || c == '\r')
			c = 'n';
		buf_addc(in, c);
		buf_addc(crlf, c);
	}
	buf_adds(in, "\r\n.\nlast ");
	buf_adds(crlf, "\r\n.\r\nlast \r\n");
}

static int check_qp(const char *head, const char *want_head, int dotstuff)
{
	struct buf in, crlf, out, dec;
	struct perr e;
	buf_init(&in);
	buf_init(&crlf);
	buf_init(&out);
	buf_init(&dec);
	buf_adds(&in, head);
	long_body(&in, &crlf);
	int rc = run(in.s, in.len, &no_edits, dotstuff, &out, &e);
	size_t hl = strlen(want_head);
	if (rc)
		rc = fail("status %d: %s", rc, e.msg);
	else if (out.len < hl || memcmp(out.s, want_head, hl))
		rc = same("headers", out.s, out.len < hl + 40 ? out.len : hl + 40, want_head, hl);
	else if (!match("^\\.?\\.a =3D b \tend=09\r\n", out.s + hl))
		rc = same("first QP line", out.s + hl, 20, ".a =3D b \tend=09\r\n", 18);
	if (!rc) {
		struct buf body;
		buf_init(&body);
		buf_add(&body, out.s + hl, out.len - hl);
		if (dotstuff)
			unstuff(&body);
		rc = qp_decode(body.s, body.len, &dec);
		if (!rc)
			rc = same("decoded body", dec.s, dec.len, crlf.s, crlf.len);
		buf_free(&body);
	}
	buf_free(&in);
	buf_free(&crlf);
	buf_free(&out);
	buf_free(&dec);
	return rc;
}

static int t_qp_plain(void)
{
	return check_qp("Subject: s\n\n",
	                "MIME-Version: 1.0\r\nContent-Transfer-Encoding: quoted-printable\r\n"
	                "Subject: s\r\n\r\n", 0);
}

static int t_qp_dotstuffed(void)
{
	return check_qp("Subject: s\n\n",
	                "MIME-Version: 1.0\r\nContent-Transfer-Encoding: quoted-printable\r\n"
	                "Subject: s\r\n\r\n", 1);
}

static int t_qp_replaces_cte(void)
{
	return check_qp("MIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\n"
	                "Content-Transfer-Encoding: 8bit\n\n",
	                "Content-Transfer-Encoding: quoted-printable\r\nMIME-Version: 1.0\r\n"
	                "Content-Type: text/plain; charset=utf-8\r\n\r\n", 0);
}

/* After the repair only 8-bit headers keep the message 8-bit. */
static int qp_eightbit(const char *head, int want)
{
	struct buf in;
	struct msg m;
	struct perr e;
	buf_init(&in);
	buf_adds(&in, head);
	for (int i = 0; i < 600; i++)
		buf_adds(&in, "\xc3\xa9");
	buf_adds(&in, "\n");
	int rc = read_msg(in.s, in.len, &m, &e);
	buf_free(&in);
	if (rc)
		return fail("msg_read: %s", e.msg);
	int before = m.eightbit;
	rc = msg_prepare(&m, &no_edits, &e);
	if (rc)
		rc = fail("msg_prepare: %s", e.msg);
	else if (!before || !m.qp || m.eightbit != want)
		rc = fail("eightbit %d -> %d, qp %d; want 1 -> %d, qp 1", before, m.eightbit, m.qp, want);
	msg_free(&m);
	return rc;
}

static int t_qp_clears_eightbit(void)
{
	return qp_eightbit("Subject: plain\n\n", 0) || qp_eightbit("Subject: caf\xc3\xa9\n\n", 1);
}

static int long_error(const char *head, const char *msg)
{
	struct buf in;
	buf_init(&in);
	buf_adds(&in, head);
	buf_adds(&in, "x\n");
	for (int i = 0; i < 1200; i++)
		buf_addc(&in, 'y');
	buf_adds(&in, "\nz\n");
	int rc = expect_error(in.s, in.len, &no_edits, EX_DATAERR, msg);
	buf_free(&in);
	return rc;
}

static int t_long_multipart(void)
{
	return long_error("MIME-Version: 1.0\nContent-Type: multipart/mixed;\n boundary=\"b\"\n\n",
	                  "line 6 is longer than 998 octets and the message cannot be "
	                  "re-encoded (multipart)");
}

static int t_long_base64(void)
{
	return long_error("Content-Transfer-Encoding: BASE64\n\n",
	                  "line 4 is longer than 998 octets and the message cannot be "
	                  "re-encoded (Content-Transfer-Encoding BASE64)");
}

static int t_long_message_rfc822(void)
{
	return long_error("Content-Type: message/rfc822\n\n",
	                  "line 4 is longer than 998 octets and the message cannot be "
	                  "re-encoded (message/rfc822)");
}

static int t_long_header_refolded(void)
{
	struct buf in, value;
	struct buf out;
	struct perr e;
	struct msg m;
	buf_init(&in);
	buf_init(&value);
	buf_init(&out);
	for (int i = 0; i < 150; i++)
		buf_printf(&value, "%sword%03d", i ? " " : "", i);
	buf_printf(&in, "A: 1\nSubject: %s\nB: 2\n\nbody\n", value.s);
	int rc = read_msg(in.s, in.len, &m, &e);
	if (!rc)
		rc = msg_prepare(&m, &no_edits, &e);
	if (!rc)
		rc = msg_write(&m, 0, buf_sink, &out, &e);
	if (rc) {
		rc = fail("status %d: %s", rc, e.msg);
		goto done;
	}
	size_t maxlen = 0, lines = 0;
	for (const char *p = out.s; *p; lines++) {
		const char *eol = strstr(p, "\r\n");
		if ((size_t)(eol - p) > maxlen)
			maxlen = (size_t)(eol - p);
		p = eol + 2;
	}
	const struct header *h = msg_header(&m, "Subject", 0);
	if (maxlen > 78 || lines < 18)
		rc = fail("longest line %zu, %zu lines; want <= 78 and refolded", maxlen, lines);
	else if (strncmp(out.s, "A: 1\r\nSubject: word000 ", 23) || !strstr(out.s, "\r\nB: 2\r\n\r\nbody\r\n"))
		rc = fail("order: %s", out.s);
	else
		rc = sames("unfolded value", h->value, value.s);
	if (!rc) {
		struct buf unf;
		buf_init(&unf);
		for (const char *p = strstr(h->raw, ":") + 2; *p != '\n' || p[1]; p++)
			if (*p != '\n')
				buf_addc(&unf, *p);
		rc = sames("raw unfolded", unf.s, value.s);
		buf_free(&unf);
	}
done:
	msg_free(&m);
	buf_free(&in);
	buf_free(&value);
	buf_free(&out);
	return rc;
}

static int t_long_header_unfoldable(void)
{
	struct buf in;
	buf_init(&in);
	buf_adds(&in, "A: 1\nB: 2\n 3\nX-Long: ");
	for (int i = 0; i < 1200; i++)
		buf_addc(&in, 'a');
	buf_adds(&in, "  \n\nbody\n");
	int rc = expect_error(in.s, in.len, &no_edits, EX_DATAERR,
	                      "header line 4 is longer than 998 octets");
	buf_free(&in);
	return rc;
}

/* ---- writing ---- */

static int t_wire_size(void)
{
	static const char in[] = "Subject: s\n\n.\n..a\nb\r.c";
	struct msg m;
	struct perr e;
	if (read_msg(in, sizeof in - 1, &m, &e))
		return fail("msg_read: %s", e.msg);
	int rc = 0;
	for (int ds = 0; ds < 2 && !rc; ds++) {
		struct buf out;
		buf_init(&out);
		msg_write(&m, ds, buf_sink, &out, &e);
		off_t n = msg_wire_size(&m, ds, &e);
		off_t again = msg_wire_size(&m, ds, &e);
		if (n != (off_t)out.len || again != n)
			rc = fail("dotstuff %d: wire size %lld, written %zu", ds, (long long)n, out.len);
		else if (n != (ds ? 32 : 29))
			rc = fail("dotstuff %d: wire size %lld", ds, (long long)n);
		buf_free(&out);
	}
	msg_free(&m);
	return rc;
}

/* An output whose windows are `size` octets of a larger buffer. */
struct windows {
	struct buf got;
	char win[8];
	size_t size, given;
	int ended, bad;
};

static int window_next(void *ctx, size_t used, char **p, size_t *room)
{
	struct windows *w = ctx;
	if (w->ended || used > w->given)
		w->bad = 1;
	buf_add(&w->got, w->win, used);
	w->ended = p == NULL;
	w->given = w->size;
	if (p) {
		*p = w->win;
		*room = w->size;
	}
	return 0;
}

/* msg_write_to into windows of 1 to 7 octets writes what msg_write
 * writes, QP body and dot-stuffing included, and ends with a call
 * without a window. */
static int t_write_windows(void)
{
	struct buf in, crlf, want;
	struct perr e;
	struct msg m;
	int rc = 0;
	buf_init(&in);
	buf_init(&crlf);
	buf_init(&want);
	buf_adds(&in, ".X: 1\n\n..a\r\nb\rc\n");
	long_body(&in, &crlf);
	for (int qp = 0; qp < 2 && !rc; qp++) {
		if (read_msg(in.s, qp ? in.len : 20, &m, &e) || msg_prepare(&m, &no_edits, &e))
			return fail("read: %s", e.msg);
		for (int ds = 0; ds < 2 && !rc; ds++) {
			buf_reset(&want);
			if (msg_write(&m, ds, buf_sink, &want, &e))
				rc = fail("msg_write: %s", e.msg);
			for (size_t size = 1; size <= 7 && !rc; size++) {
				struct windows w = { .size = size };
				struct msg_out o = { window_next, &w };
				buf_init(&w.got);
				if (msg_write_to(&m, ds, &o, &e))
					rc = fail("msg_write_to: %s", e.msg);
				else if (w.bad || !w.ended)
					rc = fail("windows of %zu: a call out of turn", size);
				else
					rc = same("windows", w.got.s, w.got.len, want.s, want.len);
				buf_free(&w.got);
			}
		}
		msg_free(&m);
	}
	buf_free(&in);
	buf_free(&crlf);
	buf_free(&want);
	return rc;
}

static int stop_sink(void *ctx, const char *p, size_t n)
{
	(void)p;
	(void)n;
	++*(int *)ctx;
	return 7;
}

static int t_sink_stops(void)
{
	struct msg m;
	struct perr e;
	int calls = 0;
	size_t n = 300000;
	char *in = xmalloc(n);
	memcpy(in, "A: 1\n\n", 6);
	memset(in + 6, 'x', n - 6);
	int rc = read_msg(in, n, &m, &e);
	free(in);
	if (rc)
		return fail("msg_read: %s", e.msg);
	rc = msg_write(&m, 1, stop_sink, &calls, &e);
	msg_free(&m);
	if (rc != 7 || calls != 1)
		return fail("returned %d after %d calls, want 7 after 1", rc, calls);
	return 0;
}

/* 20 MiB: lines "line NNNNNNNN abc...z", every tenth starting with a dot. */
#define BIG_LINES 520000

static size_t big_line(char *b, long i, int crlf, int stuffed)
{
	int dot = i % 10 == 0;
	return (size_t)snprintf(b, 64, "%s%sline %08ld abcdefghijklmnopqrstuvwxyz%s",
	                        dot && stuffed ? "." : "", dot ? "." : "", i, crlf ? "\r\n" : "\n");
}

/* The 20 MiB message with LF line ends, in pieces of under 64 KiB. */
static void big_pieces(void (*put)(void *, const char *, size_t), void *ctx)
{
	static char b[1 << 16];
	size_t n = (size_t)snprintf(b, sizeof b, "Subject: big\n\n");
	for (long i = 0; i < BIG_LINES; i++) {
		n += big_line(b + n, i, 0, 0);
		if (n > sizeof b - 64 || i == BIG_LINES - 1) {
			put(ctx, b, n);
			n = 0;
		}
	}
}

static void put_fd(void *ctx, const char *p, size_t n)
{
	if (write(*(int *)ctx, p, n) != (ssize_t)n)
		_exit(1);
}

static void big_gen(int fd, void *arg)
{
	(void)arg;
	big_pieces(put_fd, &fd);
}

struct hash_sink {
	unsigned long long h;
	off_t n;
	size_t chunks, short_chunks, biggest;
	int last_short;
};

static void fnv(unsigned long long *h, const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		*h ^= (unsigned char)p[i];
		*h *= 1099511628211ULL;
	}
}

static int hash_sink(void *ctx, const char *p, size_t n)
{
	struct hash_sink *s = ctx;
	if (s->n && s->last_short)
		s->short_chunks++;
	fnv(&s->h, p, n);
	s->n += (off_t)n;
	s->chunks++;
	if (n > s->biggest)
		s->biggest = n;
	s->last_short = n < 65536;
	return 0;
}

static int t_big_exact(void)
{
	struct hash_sink got = { 14695981039346656037ULL, 0, 0, 0, 0, 0 };
	unsigned long long want = 14695981039346656037ULL;
	off_t want_n = 0;
	char b[64];
	fnv(&want, "Subject: big\r\n\r\n", 16);
	want_n = 16;
	for (long i = 0; i < BIG_LINES; i++) {
		size_t n = big_line(b, i, 1, 1);
		fnv(&want, b, n);
		want_n += (off_t)n;
	}
	pid_t pid;
	int fd = pipe_from(big_gen, NULL, &pid);
	struct msg m;
	struct msg_store s;
	struct perr e;
	msg_store_mem(&s);
	int rc = msg_read_store(fd, &s, &m, &e);
	close(fd);
	waitpid(pid, NULL, 0);
	if (rc)
		return fail("msg_read_store: %s", e.msg);
	rc = msg_prepare(&m, &no_edits, &e);
	off_t ws = msg_wire_size(&m, 1, &e);
	if (!rc)
		rc = msg_write(&m, 1, hash_sink, &got, &e);
	off_t stored = m.size;
	msg_free(&m);
	if (rc)
		return fail("status %d: %s", rc, e.msg);
	if (stored < 20 * 1024 * 1024)
		return fail("only %lld octets stored", (long long)stored);
	if (got.n != want_n || ws != want_n || got.h != want)
		return fail("wrote %lld (size %lld), want %lld; hash %s", (long long)got.n,
		            (long long)ws, (long long)want_n, got.h == want ? "same" : "differs");
	if (got.biggest != 65536 || got.short_chunks)
		return fail("chunks: biggest %zu, %zu short ones before the last",
		            got.biggest, got.short_chunks);
	return 0;
}

struct counted {
	struct msg_parser p;
	size_t fields;
	int bad;
};

static void put_parser(void *ctx, const char *b, size_t n)
{
	struct counted *c = ctx;
	struct msg_field f;
	struct perr e;
	int ev;
	msg_parser_push(&c->p, b, n);
	while ((ev = msg_parser_next(&c->p, &f, &e)) != MSG_EV_NEED) {
		c->fields += ev == MSG_EV_FIELD;
		c->bad |= ev < 0 || ev == MSG_EV_END;
		if (ev < 0)
			break;
	}
}

/* The parser keeps nothing of the body: 20 MiB pushed, memory flat. */
static int t_parser_bounded(void)
{
	struct rusage before, after;
	struct counted c = { .fields = 0 };
	struct msg_field f;
	struct perr e;
	msg_parser_init(&c.p, 0);
	getrusage(RUSAGE_SELF, &before);
	big_pieces(put_parser, &c);
	msg_parser_eof(&c.p);
	int ev = msg_parser_next(&c.p, &f, &e);
	getrusage(RUSAGE_SELF, &after);
	long grew = after.ru_maxrss - before.ru_maxrss;
	off_t size = c.p.size, body = c.p.body_off;
	msg_parser_free(&c.p);
	if (c.bad || ev != MSG_EV_END || c.fields != 1)
		return fail("events: bad %d, last %d, %zu fields", c.bad, ev, c.fields);
	if (size < 20 * 1024 * 1024 || body != 14)
		return fail("size %lld, body_off %lld", (long long)size, (long long)body);
	if (grew > 1024)
		return fail("peak RSS grew by %ld KiB", grew);
	return 0;
}

/* ---- the push parser ---- */

/* The parser's events over in[0..n), pushed step octets at a time (0: all
 * at once), as text: F<line>[raw|value] per field, H for the end of the
 * header section, E with the results, X with an error. */
static void parse_events(const char *in, size_t n, size_t step, int flags, struct buf *out)
{
	struct msg_parser p;
	struct msg_field f;
	struct perr e;
	size_t i = 0;
	int ev = MSG_EV_NEED;
	msg_parser_init(&p, flags);
	do {
		if (ev == MSG_EV_NEED && i < n) {
			size_t k = step && n - i > step ? step : n - i;
			msg_parser_push(&p, in + i, k);
			i += k;
		} else if (ev == MSG_EV_NEED) {
			msg_parser_eof(&p);
		}
		ev = msg_parser_next(&p, &f, &e);
		if (ev == MSG_EV_FIELD) {
			char *r = show(f.raw, strlen(f.raw)), *v = show(f.value, strlen(f.value));
			buf_printf(out, "F%ld[%s:%s|%s]", f.line, f.name, r, v);
			free(r);
			free(v);
		} else if (ev == MSG_EV_HEADER_END) {
			buf_adds(out, "H");
		} else if (ev < 0) {
			buf_printf(out, "X[%d %s]", e.ex, e.msg);
		}
	} while (ev >= 0 && ev != MSG_EV_END);
	if (ev == MSG_EV_END)
		buf_printf(out, "E[start %lld body %lld size %lld nosep %d 8bit %d long %ld mp %d n %zu "
		           "wire %lld dots %lld]",
		           (long long)p.start, (long long)p.body_off, (long long)p.size,
		           p.no_separator, p.eightbit, p.long_line, p.multipart, p.nfields,
		           (long long)p.body_wire, (long long)p.body_dots);
	msg_parser_free(&p);
}

static int events_are(const char *in, size_t n, size_t step, const char *want)
{
	struct buf got;
	buf_init(&got);
	parse_events(in, n, step, 0, &got);
	int rc = sames("events", got.s, want);
	buf_free(&got);
	return rc;
}

static int t_parser_events(void)
{
	static const char in[] = "From a@b Mon\r\nSubject : x\r\n\ty\r\nTo:\xc3\xa9\r\n"
	                         "Content-Type: multipart/mixed\r\n\r\nbody";
	return events_are(in, sizeof in - 1, 0,
	                  "F1[Subject:\"Subject : x\\n\\x09y\\n\"|\"x\\x09y\"]"
	                  "F3[To:\"To:\\xc3\\xa9\\n\"|\"\\xc3\\xa9\"]"
	                  "F4[Content-Type:\"Content-Type: multipart/mixed\\n\"|\"multipart/mixed\"]"
	                  "HE[start 14 body 71 size 75 nosep 0 8bit 1 long 0 mp 1 n 3 wire 6 dots 0]");
}

static int t_parser_no_separator(void)
{
	return events_are("A: 1\nB:\n 2\nbody x\n", 18, 0,
	                  "F1[A:\"A: 1\\n\"|\"1\"]F2[B:\"B:\\n 2\\n\"|\"2\"]"
	                  "HE[start 0 body 11 size 18 nosep 1 8bit 0 long 0 mp 0 n 2 wire 8 dots 0]");
}

/* The body measured as it goes by: its size in SMTP form (every line
 * end CRLF, a final CRLF added) and its lines that start with a dot,
 * the first body line's octets read as a field name included. */
static int t_parser_body_measure(void)
{
	static const char dots[] = "A: 1\n\n.a\n..\r.\rb\n.";
	static const char crlf[] = "A: 1\r\n\r\n\r\n.\r\n\r\r\n";
	return events_are(dots, sizeof dots - 1, 0, "F1[A:\"A: 1\\n\"|\"1\"]"
	                  "HE[start 0 body 6 size 17 nosep 0 8bit 0 long 0 mp 0 n 1 wire 17 dots 4]")
	       || events_are(crlf, sizeof crlf - 1, 0, "F1[A:\"A: 1\\n\"|\"1\"]"
	                     "HE[start 0 body 8 size 16 nosep 0 8bit 0 long 0 mp 0 n 1 wire 9 dots 1]")
	       || events_are("A: 1\n.x y\n", 10, 0, "F1[A:\"A: 1\\n\"|\"1\"]"
	                     "HE[start 0 body 5 size 10 nosep 1 8bit 0 long 0 mp 0 n 1 wire 6 dots 1]")
	       || events_are("A: 1\n\n", 6, 0, "F1[A:\"A: 1\\n\"|\"1\"]"
	                     "HE[start 0 body 6 size 6 nosep 0 8bit 0 long 0 mp 0 n 1 wire 0 dots 0]");
}

/* A "From " prefix cut short by the end of input is header or body. */
static int t_parser_from_prefix(void)
{
	return events_are("Fro", 3, 1, "HE[start 0 body 0 size 3 nosep 1 8bit 0 long 0 mp 0 n 0 wire 5 dots 0]")
	       || events_are("From x\r", 7, 1,
	                     "HE[start 7 body 7 size 7 nosep 1 8bit 0 long 0 mp 0 n 0 wire 0 dots 0]")
	       || events_are("Fromage: 1\n", 11, 1,
	                     "F1[Fromage:\"Fromage: 1\\n\"|\"1\"]"
	                     "HE[start 0 body 11 size 11 nosep 1 8bit 0 long 0 mp 0 n 1 wire 0 dots 0]");
}

/* A prepared message is not checked for a From_ line. */
static int t_parser_prepared(void)
{
	static const char in[] = "From : a@b.org\r\n\r\nx\r\n";
	struct buf got;
	buf_init(&got);
	parse_events(in, sizeof in - 1, 0, MSG_PARSE_PREPARED, &got);
	int rc = sames("events", got.s, "F1[From:\"From : a@b.org\\n\"|\"a@b.org\"]"
	               "HE[start 0 body 18 size 21 nosep 0 8bit 0 long 0 mp 0 n 1 wire 3 dots 0]");
	buf_free(&got);
	return rc;
}

/* Errors stop the parser; asking again gives the same error. */
static int t_parser_error_sticks(void)
{
	struct msg_parser p;
	struct msg_field f;
	struct perr e;
	msg_parser_init(&p, 0);
	msg_parser_push(&p, "A: 1\nB: \0\n", 10);
	int ev1 = msg_parser_next(&p, &f, &e);  /* the field A */
	int ev2 = msg_parser_next(&p, &f, &e);
	perr_clear(&e);
	int ev3 = msg_parser_next(&p, &f, &e);
	msg_parser_free(&p);
	if (ev1 != MSG_EV_FIELD || ev2 != -1 || ev3 != -1)
		return fail("events %d %d %d, want %d -1 -1", ev1, ev2, ev3, MSG_EV_FIELD);
	return sames("error", e.msg, "header line 2 contains a NUL octet");
}

/* Inputs whose events must not depend on how they are cut. */
static const struct { const char *in; size_t n; } chunk_inputs[] = {
	{ "From x@y Sun\r\nSubject: a\r\n b\r\n\r\n.\r\nend", 0 },
	{ "From x\rA: 1\r\rb", 0 },
	{ "From", 0 },
	{ "From \n", 0 },
	{ "Fr: 1\nFrom: 2\n\nx", 0 },
	{ "A: 1\r\n\r\n\r\nx\r", 0 },
	{ "A: 1\nB: x\0y\n\nz\n", 15 },
	{ "Subject : a\r\nhello world\r\n", 0 },
	{ "X: \xff\r\n\r\n\xfe", 0 },
	{ "Content-Type: message/rfc822\nContent-Type: text/plain\n\nx", 0 },
};

static int chunking_same(const char *in, size_t n)
{
	struct buf whole;
	int rc = 0;
	buf_init(&whole);
	parse_events(in, n, 0, 0, &whole);
	for (size_t step = 1; step <= 7 && !rc; step++) {
		struct buf got;
		buf_init(&got);
		parse_events(in, n, step, 0, &got);
		if (same("events", got.s, got.len, whole.s, whole.len)) {
			char why[sizeof tap_why];
			snprintf(why, sizeof why, "%s", tap_why);
			rc = fail("pieces of %zu: %.3900s", step, why);
		}
		buf_free(&got);
	}
	buf_free(&whole);
	return rc;
}

static int t_parser_chunking(void)
{
	for (size_t i = 0; i < NELEM(chunk_inputs); i++) {
		const char *in = chunk_inputs[i].in;
		if (chunking_same(in, chunk_inputs[i].n ? chunk_inputs[i].n : strlen(in)))
			return 1;
	}
	for (size_t i = 0; i < NELEM(goldens); i++) {
		const struct golden *g = &goldens[i];
		if (chunking_same(g->in, g->inlen ? g->inlen : strlen(g->in)))
			return 1;
	}
	return 0;
}

/* ---- deterministic edits ---- */

static int t_fixed_time_and_msgid(void)
{
	struct msg_edits ed = { .set_date = HDR_AUTO, .set_msgid = HDR_AUTO,
	                        .msgid_domain = "example.org", .now = 1700000000 };
	struct buf out;
	struct perr e;
	char *old = tz_set("UTC0");
	buf_init(&out);
	int rc = run("A: 1\n\nb\n", 8, &ed, 0, &out, &e);
	if (!rc && !match("^Date: Tue, 14 Nov 2023 22:13:20 [+]0000\r\n"
	                  "Message-ID: <20231114221320\\.[0-9A-F]{16}@example\\.org>\r\nA: 1\r\n", out.s))
		rc = fail("generated: got %s", out.s);
	ed.msgid = "<fixed@example.org>";
	buf_reset(&out);
	if (!rc)
		rc = run("A: 1\n\nb\n", 8, &ed, 0, &out, &e);
	if (!rc)
		rc = sames("fixed", out.s, "Date: Tue, 14 Nov 2023 22:13:20 +0000\r\n"
		           "Message-ID: <fixed@example.org>\r\nA: 1\r\n\r\nb\r\n");
	tz_restore(old);
	buf_free(&out);
	return rc;
}

/* ---- the prepared message, saved and loaded ---- */

static const struct msg_edits all_edits = {
	.set_from = HDR_AUTO, .from_addr = "me@example.org", .from_name = "Me",
	.set_date = HDR_AUTO, .set_msgid = HDR_AUTO, .msgid_domain = "example.org",
	.set_to = HDR_AUTO, .remove_bcc = 1,
};

/* The wire form of m, dot-stuffed or not. */
static int wire(struct msg *m, int ds, struct buf *out, struct perr *e)
{
	buf_reset(out);
	int rc = msg_write(m, ds, buf_sink, out, e);
	return rc ? fail("msg_write: %s", e->msg) : 0;
}

/* l, loaded from what m saved, writes what m writes, again and again. */
static int same_as(struct msg *l, struct msg *m)
{
	struct buf want, got;
	struct perr e;
	int rc = 0;
	buf_init(&want);
	buf_init(&got);
	for (int k = 0; k < 4 && !rc; k++) {
		int ds = k % 2;
		rc = wire(m, ds, &want, &e) || wire(l, ds, &got, &e)
		     || same(ds ? "dot-stuffed" : "plain", got.s, got.len, want.s, want.len);
		if (!rc && msg_wire_size(l, ds, &e) != (off_t)want.len)
			rc = fail("wire size %lld, want %zu", (long long)msg_wire_size(l, ds, &e), want.len);
	}
	buf_free(&want);
	buf_free(&got);
	return rc;
}

/* in, prepared with ed, saved to a memory store and loaded back. */
static int roundtrip(const char *in, size_t n, const struct msg_edits *ed)
{
	struct msg m, l;
	struct msg_store s;
	struct perr e;
	struct buf plain;
	if (read_msg(in, n, &m, &e) || msg_prepare(&m, ed, &e))
		return fail("read/prepare: %s", e.msg);
	buf_init(&plain);
	msg_store_mem(&s);
	int rc = wire(&m, 0, &plain, &e);
	if (!rc && msg_save(&m, &s, &e))
		rc = fail("msg_save: %s", e.msg);
	if (!rc)
		rc = same("saved", s.mem.s, s.mem.len, plain.s, plain.len);
	if (!rc && msg_load(&s, &l, &e))
		rc = fail("msg_load: %s", e.msg);
	else if (!rc) {
		rc = same_as(&l, &m);
		msg_free(&l);
	}
	msg_store_close(&s);
	buf_free(&plain);
	msg_free(&m);
	return rc;
}

static int t_roundtrip_goldens(void)
{
	for (size_t i = 0; i < NELEM(goldens); i++) {
		const struct golden *g = &goldens[i];
		size_t n = g->inlen ? g->inlen : strlen(g->in);
		if (roundtrip(g->in, n, &no_edits) || roundtrip(g->in, n, &all_edits)) {
			char why[sizeof tap_why];
			snprintf(why, sizeof why, "%s", tap_why);
			return fail("%s: %.3900s", g->desc, why);
		}
	}
	return 0;
}

static int t_roundtrip_qp(void)
{
	struct buf in, crlf;
	buf_init(&in);
	buf_init(&crlf);
	buf_adds(&in, "Subject: s\nBcc: b@x.org\n\n");
	long_body(&in, &crlf);
	int rc = roundtrip(in.s, in.len, &all_edits);
	buf_free(&in);
	buf_free(&crlf);
	return rc;
}

/* A header named From with obsolete white space after a From_ line:
 * the loaded message must not take it for a From_ line. */
static int t_roundtrip_from_field(void)
{
	static const char in[] = "From x@y Sun\nFrom : a@b.org\n\n.\nx";
	return roundtrip(in, sizeof in - 1, &no_edits);
}

/* 10000 fields, and a header section 16 octets under 1 MiB, load back
 * although the added fields make them larger than a message read may be. */
static int t_roundtrip_limits(void)
{
	struct buf in;
	buf_init(&in);
	for (int i = 0; i < MSG_MAX_FIELDS; i++)
		buf_adds(&in, "A:\n");
	buf_adds(&in, "\nbody\n");
	int rc = roundtrip(in.s, in.len, &all_edits);
	buf_reset(&in);
	for (int i = 0; i < 100; i++) {
		buf_adds(&in, "X-Fold:");
		for (int k = 0; k < 3400; k++)
			buf_adds(&in, " a\n");
	}
	buf_adds(&in, "X-Pad:");
	while (in.len + 6 < MSG_MAX_HEADER_BYTES - 17)
		buf_adds(&in, " a\n");
	buf_adds(&in, " ");
	while (in.len + 1 < MSG_MAX_HEADER_BYTES - 17)
		buf_addc(&in, 'a');
	buf_adds(&in, "\n\nbody\n");
	if (!rc)
		rc = roundtrip(in.s, in.len, &all_edits);
	buf_free(&in);
	return rc;
}

/* The loaded message: headers and flags there, edits refused. */
static int t_loaded_message(void)
{
	static const char in[] = "Subject: caf\xc3\xa9\nBcc: b@x.org\n\nx\n";
	struct msg m, l;
	struct msg_store s;
	struct perr e;
	msg_store_mem(&s);
	if (read_msg(in, sizeof in - 1, &m, &e) || msg_prepare(&m, &all_edits, &e)
	    || msg_save(&m, &s, &e) || msg_load(&s, &l, &e))
		return fail("%s", e.msg);
	msg_free(&m);
	const struct header *d = msg_header(&l, "Date", 0);
	int rc = 0;
	if (!d || !msg_header(&l, "Message-ID", 0) || msg_header(&l, "Bcc", 0) || !l.eightbit)
		rc = fail("loaded: Date %s, Bcc %s, eightbit %d", d ? d->value : "missing",
		          msg_header(&l, "Bcc", 0) ? "kept" : "gone", l.eightbit);
	else if (msg_prepare(&l, &all_edits, &e) != EX_SOFTWARE)
		rc = fail("msg_prepare of a loaded message: %d, want %d", e.ex, EX_SOFTWARE);
	else
		rc = sames("error", e.msg, "the message is prepared already");
	msg_free(&l);
	return rc;
}

/* ---- driver ---- */

static const struct tap_case fcases[] = {
	{ "parser: 20 MiB pushed in bounded memory", t_parser_bounded },
	{ "20 MiB body through a pipe: exact wire form, 64 KiB chunks", t_big_exact },
	{ "empty input refused", t_empty },
	{ "end of input before anything was pushed", t_eof_before_push },
	{ "input of only an mbox From_ line refused as empty", t_only_from_line },
	{ "CR/LF split across the 64 KiB read boundary", t_split_read },
	{ "CR/LF split across the spool read boundary", t_split_pread },
	{ "short reads from a pipe (From_ check, CRLF, folds)", t_pipe_short_reads },
	{ "folded headers: value unfolded, raw kept, lookup", t_unfold },
	{ "no blank line: no_separator and body offset", t_no_separator_flag },
	{ "8-bit detection in body and header", t_eightbit },
	{ "header section over 1 MiB refused", t_header_too_big },
	{ "more than 10000 header fields refused, 10000 accepted", t_too_many_fields },
	{ "NUL in a header refused", t_header_nul },
	{ "first long body line number", t_long_line_number },
	{ "From, To, Date, Message-ID added in order", t_added_headers },
	{ "Message-ID domain defaults to localhost", t_msgid_default_domain },
	{ "Date in UTC has +0000", t_date_utc },
	{ "Date west of UTC has a negative zone", t_date_negative_zone },
	{ "present headers not added again", t_present_not_added },
	{ "set_to auto: no To added when there is a Cc", t_cc_only_no_to_added },
	{ "set_from on replaces every From", t_set_from_on },
	{ "set_from auto replaces a From without a domain, keeps its name", t_from_unqualified },
	{ "UTF-8 full name becomes an encoded-word", t_from_utf8_name },
	{ "Bcc and Resent-Bcc removed", t_remove_bcc },
	{ "set_to on replaces To/Cc/Bcc", t_set_to_on },
	{ "-t recipients from To, Cc, Bcc with groups and comments", t_rcpt_to_cc_bcc },
	{ "-t recipients from the first Resent- block", t_rcpt_resent_block },
	{ "-t recipients include removed Bcc", t_rcpt_bcc_after_removal },
	{ "-t syntax error names the header", t_rcpt_syntax_error },
	{ "msg_from: first address, missing From", t_msg_from },
	{ "998-octet line passes unchanged", t_998_unchanged },
	{ "999-octet line: quoted-printable, decodes to the original", t_qp_plain },
	{ "quoted-printable body dot-stuffed", t_qp_dotstuffed },
	{ "quoted-printable replaces an 8bit CTE, keeps MIME-Version", t_qp_replaces_cte },
	{ "quoted-printable body is no longer 8-bit", t_qp_clears_eightbit },
	{ "long line in multipart refused with its line number", t_long_multipart },
	{ "long line in a base64 message refused", t_long_base64 },
	{ "long line in message/rfc822 refused", t_long_message_rfc822 },
	{ "long header line refolded", t_long_header_refolded },
	{ "unfoldable long header line refused", t_long_header_unfoldable },
	{ "msg_wire_size equals the written length", t_wire_size },
	{ "a sink's nonzero return stops the write", t_sink_stops },
	{ "msg_write_to: windows of 1 to 7 octets, plain and quoted-printable", t_write_windows },
	{ "parser: field, header end and end events with From_ line, fold, 8-bit", t_parser_events },
	{ "parser: no blank line before the body", t_parser_no_separator },
	{ "parser: From_ prefix cut short, From_ line without line end, Fromage:", t_parser_from_prefix },
	{ "parser: a prepared message has no From_ line", t_parser_prepared },
	{ "parser: an error is returned again", t_parser_error_sticks },
	{ "parser: same events whatever the pieces (1 to 7 octets, whole)", t_parser_chunking },
	{ "parser: the body's size in SMTP form and its dot lines", t_parser_body_measure },
	{ "edits: fixed time and Message-ID", t_fixed_time_and_msgid },
	{ "prepared: saved and loaded, every table case, no edits and all edits", t_roundtrip_goldens },
	{ "prepared: quoted-printable body and removed Bcc", t_roundtrip_qp },
	{ "prepared: a From field after a From_ line", t_roundtrip_from_field },
	{ "prepared: 10000 fields, a header section near 1 MiB", t_roundtrip_limits },
	{ "prepared: loaded headers and flags, msg_prepare refused", t_loaded_message },
};

int main(void)
{
	run_cases(fcases, NELEM(fcases));
	for (size_t i = 0; i < NELEM(goldens); i++)
		report(goldens[i].desc, run_golden(&goldens[i]));
	return tap_done();
}
