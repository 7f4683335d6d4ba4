/* t-smtp.c - unit tests for smtp.c (and net.c under it): the reply line,
 * enhanced-code and EHLO-capability parsers, smtp_read_reply over a
 * socketpair fed in pieces, and whole transactions against a scripted
 * in-process server that records what it received and in how many reads. */
#include "smtp.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "conf.h"
#include "msg.h"
#include "util.h"

#include "tap.h"

/* ---- smtp_parse_line ---- */

static const struct line_case {
	const char *in;
	int ok, code, last;
	const char *text;
} line_cases[] = {
	{ "250-x", 1, 250, 0, "x" },
	{ "250 x", 1, 250, 1, "x" },
	{ "250", 1, 250, 1, "" },
	{ "250-", 1, 250, 0, "" },
	{ "250 ", 1, 250, 1, "" },
	{ "220 mx.example.org ESMTP Postfix", 1, 220, 1, "mx.example.org ESMTP Postfix" },
	{ "599 z", 1, 599, 1, "z" },
	{ "200-a b c", 1, 200, 0, "a b c" },
	{ "354 End data with <CR><LF>.<CR><LF>", 1, 354, 1, "End data with <CR><LF>.<CR><LF>" },
	{ "25", 0, 0, 0, NULL },
	{ "2500 x", 0, 0, 0, NULL },
	{ "250x", 0, 0, 0, NULL },
	{ "600 x", 0, 0, 0, NULL },
	{ "199 x", 0, 0, 0, NULL },
	{ "100 x", 0, 0, 0, NULL },
	{ "", 0, 0, 0, NULL },
	{ "abc def", 0, 0, 0, NULL },
	{ "2a0 x", 0, 0, 0, NULL },
	{ " 250 x", 0, 0, 0, NULL },
	{ "250\tx", 0, 0, 0, NULL },
	{ "250_x", 0, 0, 0, NULL },
};

static int run_line_case(const struct line_case *c)
{
	int code = -1, last = -1;
	const char *text = NULL;
	int rc = smtp_parse_line(c->in, strlen(c->in), &code, &last, &text);
	if (!c->ok)
		return rc == -1 ? 0 : fail("got %d (code %d), want -1", rc, code);
	if (rc != 0)
		return fail("got %d, want 0", rc);
	if (code != c->code || last != c->last || strcmp(text, c->text))
		return fail("got code %d last %d text '%s', want %d %d '%s'", code, last, text,
		            c->code, c->last, c->text);
	return 0;
}

static int t_line_nul(void)
{
	int code, last;
	const char *text;
	int rc = smtp_parse_line("250 a\0b", 7, &code, &last, &text);
	return rc == -1 ? 0 : fail("got %d, want -1 for an embedded NUL", rc);
}

static int t_line_length(void)
{
	/* n, not the NUL, bounds the line: "250-x" cut to 3 bytes is "250" */
	int code, last;
	const char *text;
	int rc = smtp_parse_line("250-x", 3, &code, &last, &text);
	if (rc != 0 || code != 250 || last != 1)
		return fail("got rc %d code %d last %d, want 0 250 1", rc, code, last);
	return 0;
}

/* ---- smtp_parse_enh ---- */

static const struct enh_case {
	int code;
	const char *text, *want;
} enh_cases[] = {
	{ 550, "5.1.1 User unknown", "5.1.1" },
	{ 250, "2.0.0 Ok: queued as 4F2A1", "2.0.0" },
	{ 451, "4.7.1 try later", "4.7.1" },
	{ 450, "4.2.0", "4.2.0" },
	{ 552, "5.999.999 x", "5.999.999" },
	{ 554, "5.07.001 x", "5.07.001" },
	{ 550, "4.1.1 class differs", "" },
	{ 250, "5.0.0 class differs", "" },
	{ 354, "3.0.0 no class 3", "" },
	{ 550, "5.1.1x", "" },
	{ 550, "5.1000.1 x", "" },
	{ 550, "5.1.1000 x", "" },
	{ 550, "5.1. x", "" },
	{ 550, "5..1 x", "" },
	{ 550, "5.1 x", "" },
	{ 550, "5.a.1 x", "" },
	{ 550, " 5.1.1 x", "" },
	{ 550, "User unknown", "" },
	{ 550, "", "" },
};

static int run_enh_case(const struct enh_case *c)
{
	char enh[16] = "junk";
	smtp_parse_enh(c->code, c->text, enh);
	if (strcmp(enh, c->want))
		return fail("got '%s', want '%s'", enh, c->want);
	return 0;
}

/* ---- smtp_parse_caps ---- */

/* A one-line summary of caps, for comparisons. */
static void caps_str(const struct smtp_caps *c, char *out, size_t n)
{
	snprintf(out, n, "%s%s%s%s%s%s%s%s%s size=%lld auth=%s", c->esmtp ? "esmtp" : "-",
	         c->pipelining ? " pipelining" : "", c->chunking ? " chunking" : "",
	         c->eightbitmime ? " 8bitmime" : "", c->smtputf8 ? " smtputf8" : "",
	         c->dsn ? " dsn" : "", c->enhancedstatuscodes ? " enh" : "",
	         c->starttls ? " starttls" : "", c->size_offered ? " SIZE" : "", c->size,
	         c->auth ? c->auth : "(null)");
}

static const struct caps_case {
	const char *desc, *text, *want;
} caps_cases[] = {
	{ "Postfix EHLO reply",
	  "mail.example.org\nPIPELINING\nSIZE 10240000\nVRFY\nETRN\nSTARTTLS\n"
	  "AUTH PLAIN LOGIN\nAUTH=PLAIN LOGIN\nENHANCEDSTATUSCODES\n8BITMIME\nDSN\n"
	  "SMTPUTF8\nCHUNKING",
	  "esmtp pipelining chunking 8bitmime smtputf8 dsn enh starttls SIZE size=10240000 "
	  "auth=PLAIN LOGIN" },
	{ "only the old AUTH= form",
	  "mx\nAUTH=LOGIN PLAIN", "esmtp size=0 auth=LOGIN PLAIN" },
	{ "AUTH wins over an earlier AUTH=",
	  "mx\nAUTH=LOGIN\nAUTH PLAIN  LOGIN   CRAM-MD5 ", "esmtp size=0 auth=PLAIN LOGIN CRAM-MD5" },
	{ "AUTH wins over a later AUTH=",
	  "mx\nAUTH PLAIN\nAUTH=LOGIN", "esmtp size=0 auth=PLAIN" },
	{ "SIZE without a number",
	  "mx\nSIZE", "esmtp SIZE size=0 auth=(null)" },
	{ "SIZE with a non-number",
	  "mx\nSIZE unlimited", "esmtp SIZE size=0 auth=(null)" },
	{ "SIZE too large for long long",
	  "mx\nSIZE 99999999999999999999999", "esmtp SIZE size=0 auth=(null)" },
	{ "keywords are case-insensitive",
	  "mx\npipelining\nSize 2048\nchunking\nStartTLS\nauth plain\n8bitmime",
	  "esmtp pipelining chunking 8bitmime starttls SIZE size=2048 auth=plain" },
	{ "the first line is the greeting, not a keyword",
	  "PIPELINING", "esmtp size=0 auth=(null)" },
	{ "keywords must match whole words",
	  "mx\nPIPELININGX\nSIZEX 5\n8BITMIMEX\nDSN=1\nXCHUNKING",
	  "esmtp size=0 auth=(null)" },
	{ "keyword parameters are ignored",
	  "mx\nDSN foo\nSTARTTLS  \nCHUNKING x", "esmtp chunking dsn starttls size=0 auth=(null)" },
	{ "leading white space and empty lines",
	  "mx\n\n  PIPELINING\n", "esmtp pipelining size=0 auth=(null)" },
};

static int run_caps_case(const struct caps_case *c)
{
	struct smtp_reply r;
	struct smtp_caps caps;
	char got[512];
	smtp_reply_init(&r);
	buf_adds(&r.text, c->text);
	r.code = 250;
	smtp_parse_caps(&r, &caps);
	caps_str(&caps, got, sizeof got);
	smtp_caps_free(&caps);
	smtp_reply_free(&r);
	if (strcmp(got, c->want))
		return fail("got '%s', want '%s'", got, c->want);
	return 0;
}

/* ---- smtp_read_reply over a socketpair ---- */

/* Write the NULL-terminated pieces with a pause (pause_ms) between
 * them, so that the reader sees them in separate reads; then keep the
 * socket open for linger_ms, then close. */
static void feed(int fd, const char *const *pieces, int pause_ms, int linger_ms)
{
	for (size_t i = 0; pieces[i]; i++) {
		size_t n = strlen(pieces[i]);
		if (write(fd, pieces[i], n) != (ssize_t)n)
			_exit(1);
		usleep((useconds_t)pause_ms * 1000);
	}
	usleep((useconds_t)linger_ms * 1000);
	_exit(0);
}

static struct conn *feeder_paced(const char *const *pieces, int pause_ms, int linger_ms,
                                 int timeout, pid_t *pid)
{
	int sv[2];
	struct conn *c;
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0) {
		perror("socketpair");
		exit(2);
	}
	*pid = fork();
	if (*pid < 0) {
		perror("fork");
		exit(2);
	}
	if (*pid == 0) {
		close(sv[0]);
		feed(sv[1], pieces, pause_ms, linger_ms);
	}
	close(sv[1]);
	if (net_from_fd(sv[0], "test", timeout, &c) < 0) {
		perror("net_from_fd");
		exit(2);
	}
	return c;
}

static struct conn *feeder(const char *const *pieces, int linger_ms, int timeout, pid_t *pid)
{
	return feeder_paced(pieces, 20, linger_ms, timeout, pid);
}

struct reply_case {
	const char *desc;
	const char *pieces[10];
	int ex, code, nlines;
	const char *enh, *text; /* text, or the error message when ex != 0 */
};

static const struct reply_case reply_cases[] = {
	{ "one line", { "250 ok\r\n" }, 0, 250, 1, "", "ok" },
	{ "multi-line reply", { "250-mx.example.org\r\n250-PIPELINING\r\n250 SIZE 100\r\n" },
	  0, 250, 3, "", "mx.example.org\nPIPELINING\nSIZE 100" },
	{ "split inside code, CR and LF", { "25", "0-first\r", "\n250", " last\r\n" },
	  0, 250, 2, "", "first\nlast" },
	{ "byte by byte", { "4", "5", "1", " ", "4", ".", "7.1 x\r", "\n" },
	  0, 451, 1, "4.7.1", "4.7.1 x" },
	{ "bare LF line ends", { "250-a\n250 b\n" }, 0, 250, 2, "", "a\nb" },
	{ "enhanced code from the first line", { "550-5.1.1 no\r\n550 5.1.1 such user\r\n" },
	  0, 550, 2, "5.1.1", "5.1.1 no\n5.1.1 such user" },
	{ "code without text", { "250\r\n" }, 0, 250, 1, "", "" },
	{ "mismatched codes", { "250-a\r\n251 b\r\n" },
	  EX_PROTOCOL, 0, 0, "", "malformed reply from test: '251 b'" },
	{ "not a reply", { "hello\r\n" }, EX_PROTOCOL, 0, 0, "", "malformed reply from test: 'hello'" },
	{ "control characters are not echoed", { "hi\033[2J\r\n" },
	  EX_PROTOCOL, 0, 0, "", "malformed reply from test: 'hi?[2J'" },
	{ "code 600", { "600 x\r\n" }, EX_PROTOCOL, 0, 0, "", "malformed reply from test: '600 x'" },
	{ "connection closed mid-reply", { "250-a\r\n" },
	  EX_TEMPFAIL, 0, 0, "", "connection to test lost" },
	{ "connection closed mid-line", { "250 a" },
	  EX_TEMPFAIL, 0, 0, "", "connection to test lost" },
	{ "no reply at all", { NULL }, EX_TEMPFAIL, 0, 0, "", "connection to test lost" },
};

static int check_reply(const struct reply_case *c, int rc, const struct smtp_reply *r,
                       const struct perr *e)
{
	if (rc != c->ex)
		return fail("got status %d (%s), want %d", rc, e->msg, c->ex);
	if (rc != 0)
		return strcmp(e->msg, c->text) ? fail("got '%s', want '%s'", e->msg, c->text) : 0;
	if (r->code != c->code || r->nlines != c->nlines || strcmp(r->enh, c->enh) ||
	    strcmp(r->text.s, c->text))
		return fail("got %d/%d/'%s'/'%s', want %d/%d/'%s'/'%s'", r->code, r->nlines, r->enh,
		            r->text.s, c->code, c->nlines, c->enh, c->text);
	return 0;
}

static int run_reply_case(const struct reply_case *c)
{
	pid_t pid;
	struct smtp_reply r;
	struct perr e;
	struct conn *conn = feeder(c->pieces, 0, 5, &pid);
	smtp_reply_init(&r);
	int rc = smtp_read_reply(conn, &r, &e);
	int bad = check_reply(c, rc, &r, &e);
	smtp_reply_free(&r);
	net_close(conn);
	waitpid(pid, NULL, 0);
	return bad;
}

/* Reads n replies from one feed; want is "code/nlines code/nlines ...". */
static int read_replies(const char *const *pieces, int n, const char *want)
{
	pid_t pid;
	struct smtp_reply r;
	struct perr e;
	struct buf got;
	struct conn *conn = feeder(pieces, 0, 5, &pid);
	smtp_reply_init(&r);
	buf_init(&got);
	for (int i = 0; i < n; i++) {
		int rc = smtp_read_reply(conn, &r, &e);
		if (rc)
			buf_printf(&got, "%sex%d", i ? " " : "", rc);
		else
			buf_printf(&got, "%s%d/%d", i ? " " : "", r.code, r.nlines);
	}
	smtp_reply_free(&r);
	net_close(conn);
	waitpid(pid, NULL, 0);
	int bad = strcmp(got.s, want) ? fail("got '%s', want '%s'", got.s, want) : 0;
	buf_free(&got);
	return bad;
}

static int t_two_replies_one_read(void)
{
	static const char *const p[] = { "250 a\r\n251-b\r\n251 c\r\n354 go\r\n", NULL };
	return read_replies(p, 3, "250/1 251/2 354/1");
}

static char *repeat_lines(const char *line, int n, const char *last)
{
	struct buf b;
	buf_init(&b);
	for (int i = 0; i < n; i++)
		buf_adds(&b, line);
	buf_adds(&b, last);
	return buf_steal(&b);
}

static int t_max_lines(void)
{
	char *s = repeat_lines("250-x\r\n", SMTP_MAX_REPLY_LINES - 1, "250 end\r\n");
	const char *const p[] = { s, NULL };
	int bad = read_replies(p, 1, "250/1000");
	free(s);
	return bad;
}

static int t_too_many_lines(void)
{
	char *s = repeat_lines("250-x\r\n", SMTP_MAX_REPLY_LINES, "250 end\r\n");
	const char *const p[] = { s, NULL };
	int bad = read_replies(p, 1, "ex76");
	free(s);
	return bad;
}

static int t_long_line_ok(void)
{
	char *s = xmalloc(64 * 1024 + 8);
	memcpy(s, "250 ", 4);
	memset(s + 4, 'a', 64 * 1024 - 4);
	memcpy(s + 64 * 1024, "\r\n", 3);
	const char *const p[] = { s, NULL };
	int bad = read_replies(p, 1, "250/1");
	free(s);
	return bad;
}

static int t_line_too_long(void)
{
	char *s = xmalloc(64 * 1024 + 8);
	memcpy(s, "250 ", 4);
	memset(s + 4, 'a', 64 * 1024 - 3);
	memcpy(s + 64 * 1024 + 1, "\r\n", 3);
	const char *const p[] = { s, NULL };
	int bad = read_replies(p, 1, "ex76");
	free(s);
	return bad;
}

static int t_read_timeout(void)
{
	static const char *const p[] = { "250-a\r\n", NULL };
	pid_t pid;
	struct smtp_reply r;
	struct perr e;
	struct conn *conn = feeder(p, 2500, 1, &pid);
	smtp_reply_init(&r);
	int rc = smtp_read_reply(conn, &r, &e);
	int timed = net_timed_out(conn);
	smtp_reply_free(&r);
	net_close(conn);
	kill(pid, SIGTERM);
	waitpid(pid, NULL, 0);
	if (rc != EX_TEMPFAIL || !timed || strcmp(e.msg, "timeout after 1 s waiting for test"))
		return fail("got %d timed_out %d '%s'", rc, timed, e.msg);
	return 0;
}

/* ---- whole transactions against a scripted server ---- */

/* The fake server's script: replies by command prefix, first match wins;
 * unmatched commands get the defaults in fake_default(). "STALL" as a
 * reply makes the server go silent. */
struct script {
	const char *ehlo;       /* full EHLO/LHLO reply */
	int lmtp;
	const char *rules[8];   /* "PREFIX=REPLY" */
};

struct fake {
	const struct script *sc;
	int fd, logfd;
	struct buf log;         /* what it saw: R = a read, C:cmd, D:bytes */
	struct buf in;
	long long bdat_left;    /* BDAT bytes still expected */
	int in_data;            /* inside DATA */
	long long data_bytes;
	int rcpts;              /* accepted recipients */
	int quit;
};

/* Hand the log to the test and end. */
static void fake_exit(struct fake *f)
{
	if (write(f->logfd, f->log.s ? f->log.s : "", f->log.len) < 0)
		_exit(1);
	_exit(0);
}

static void fake_send(struct fake *f, const char *reply)
{
	if (!strcmp(reply, "STALL")) {
		sleep(2);
		fake_exit(f);
	}
	size_t n = strlen(reply);
	if (write(f->fd, reply, n) != (ssize_t)n || write(f->fd, "\r\n", 2) != 2)
		_exit(1);
}

static const char *fake_rule(struct fake *f, const char *cmd)
{
	for (size_t i = 0; i < 8 && f->sc->rules[i]; i++) {
		const char *eq = strchr(f->sc->rules[i], '=');
		size_t n = (size_t)(eq - f->sc->rules[i]);
		if (!strncmp(cmd, f->sc->rules[i], n))
			return eq + 1;
	}
	return NULL;
}

/* The reply at the end of the data: one, or one per recipient (LMTP). */
static void fake_data_end(struct fake *f)
{
	buf_printf(&f->log, " D:%lld", f->data_bytes);
	const char *r = fake_rule(f, ".");
	if (f->rcpts == 0) {
		fake_send(f, "554 5.5.1 no valid recipients");
		return;
	}
	for (int i = 0; i < (f->sc->lmtp ? f->rcpts : 1); i++) {
		char key[16];
		snprintf(key, sizeof key, ".%d", i);
		const char *k = fake_rule(f, key);
		fake_send(f, k ? k : r ? r : "250 2.0.0 queued");
	}
	f->rcpts = 0;
}

static const char *fake_default(struct fake *f, const char *cmd)
{
	if (!strncmp(cmd, "EHLO", 4) || !strncmp(cmd, "LHLO", 4))
		return f->sc->ehlo;
	if (!strncmp(cmd, "QUIT", 4)) {
		f->quit = 1;
		return "221 2.0.0 bye";
	}
	if (!strncmp(cmd, "DATA", 4))
		return f->rcpts ? "354 go ahead" : "554 5.5.1 no valid recipients";
	return "250 ok";
}

static void fake_command(struct fake *f, const char *cmd)
{
	buf_printf(&f->log, " C:%s", cmd);
	const char *r = fake_rule(f, cmd);
	if (!r)
		r = fake_default(f, cmd);
	if (!strncmp(cmd, "RCPT", 4) && r[0] == '2')
		f->rcpts++;
	if (!strncmp(cmd, "BDAT ", 5)) {
		f->bdat_left = atoll(cmd + 5);
		f->data_bytes = 0;
		return;
	}
	if (!strncmp(cmd, "DATA", 4) && r[0] == '3') {
		f->in_data = 1;
		f->data_bytes = 0;
	}
	fake_send(f, r);
}

/* Consume what can be consumed of f->in; returns bytes used, 0 if a
 * whole line is not there yet. */
static size_t fake_step(struct fake *f)
{
	char *p = f->in.s;
	if (f->bdat_left > 0) {
		size_t k = f->in.len < (size_t)f->bdat_left ? f->in.len : (size_t)f->bdat_left;
		f->bdat_left -= (long long)k;
		f->data_bytes += (long long)k;
		if (f->bdat_left == 0)
			fake_data_end(f);
		return k;
	}
	char *lf = memchr(p, '\n', f->in.len);
	if (!lf)
		return 0;
	size_t n = (size_t)(lf - p) + 1;
	char *line = xstrndup(p, n > 1 && lf[-1] == '\r' ? n - 2 : n - 1);
	if (f->in_data && !strcmp(line, ".")) {
		f->in_data = 0;
		fake_data_end(f);
	} else if (f->in_data) {
		f->data_bytes += (long long)n;
	} else {
		fake_command(f, line);
	}
	free(line);
	return n;
}

static void fake_run(const struct script *sc, int fd, int logfd)
{
	struct fake f;
	char tmp[65536];
	memset(&f, 0, sizeof f);
	f.sc = sc;
	f.fd = fd;
	f.logfd = logfd;
	buf_init(&f.log);
	buf_init(&f.in);
	fake_send(&f, "220 fake ESMTP");
	while (!f.quit) {
		ssize_t n = read(fd, tmp, sizeof tmp);
		if (n <= 0)
			break;
		buf_adds(&f.log, " R");
		buf_add(&f.in, tmp, (size_t)n);
		size_t used;
		while (f.in.len && (used = fake_step(&f)) > 0) {
			memmove(f.in.s, f.in.s + used, f.in.len - used);
			f.in.len -= used;
		}
	}
	fake_exit(&f);
}

struct tx_case {
	const char *desc;
	struct script sc;
	const char *from;
	const char *rcpt[4];
	const char *dsn_notify, *dsn_return, *envid;
	const char *body;
	int ex;
	size_t naccepted;
	const char *want_log;   /* what the server saw */
	const char *want_errs;  /* session and recipient messages, '|'-separated */
};

#define EHLO_PIPE_CHUNK "250-fake\r\n250-PIPELINING\r\n250-SIZE 1000\r\n250-8BITMIME\r\n" \
	"250-DSN\r\n250 CHUNKING"
#define EHLO_PIPE "250-fake\r\n250-PIPELINING\r\n250 SIZE 1000"
#define EHLO_PLAIN "250-fake\r\n250 8BITMIME"
#define MSG "Subject: t\n\nhello\n.dot\n"

static const struct tx_case tx_cases[] = {
	{ "PIPELINING+CHUNKING: MAIL, RCPTs, BDAT, data and QUIT in one read",
	  { EHLO_PIPE_CHUNK, 0, { NULL } }, "a@x", { "b@y", "c@y" }, NULL, NULL, NULL, MSG,
	  0, 2, " R C:EHLO test.local R C:MAIL FROM:<a@x> SIZE=27 C:RCPT TO:<b@y> C:RCPT TO:<c@y>"
	  " C:BDAT 27 LAST D:27 C:QUIT", "||" },
	{ "PIPELINING without CHUNKING: MAIL+RCPT+DATA, then data+QUIT",
	  { EHLO_PIPE, 0, { NULL } }, "a@x", { "b@y" }, NULL, NULL, NULL, MSG,
	  0, 1, " R C:EHLO test.local R C:MAIL FROM:<a@x> SIZE=28 C:RCPT TO:<b@y> C:DATA"
	  " R D:28 C:QUIT", "|" },
	{ "no PIPELINING: one command per read",
	  { EHLO_PLAIN, 0, { NULL } }, "a@x", { "b@y", "c@y" }, NULL, NULL, NULL, MSG,
	  0, 2, " R C:EHLO test.local R C:MAIL FROM:<a@x> R C:RCPT TO:<b@y> R C:RCPT TO:<c@y>"
	  " R C:DATA R D:28 R C:QUIT", "||" },
	{ "HELO fallback when EHLO is refused with 502",
	  { "502 5.5.2 what", 0, { NULL } }, "", { "b@y" }, NULL, NULL, NULL, MSG,
	  0, 1, " R C:EHLO test.local R C:HELO test.local R C:MAIL FROM:<> R C:RCPT TO:<b@y>"
	  " R C:DATA R D:28 R C:QUIT", "|" },
	{ "one recipient refused, the other gets the message",
	  { EHLO_PIPE_CHUNK, 0, { "RCPT TO:<bad@y>=550 5.1.1 <bad@y>: user unknown" } },
	  "a@x", { "bad@y", "c@y" }, NULL, NULL, NULL, MSG,
	  EX_NOUSER, 1, " R C:EHLO test.local R C:MAIL FROM:<a@x> SIZE=27 C:RCPT TO:<bad@y>"
	  " C:RCPT TO:<c@y> C:BDAT 27 LAST D:27 C:QUIT",
	  "|recipient <bad@y> rejected by fake: 550 5.1.1 <bad@y>: user unknown|" },
	{ "all recipients refused with DATA pipelined: no data, then QUIT",
	  { EHLO_PIPE, 0, { "RCPT=450 4.2.0 busy" } }, "a@x", { "b@y" }, NULL, NULL, NULL, MSG,
	  EX_TEMPFAIL, 0, " R C:EHLO test.local R C:MAIL FROM:<a@x> SIZE=28 C:RCPT TO:<b@y>"
	  " C:DATA R C:QUIT", "|recipient <b@y> rejected by fake: 450 4.2.0 busy" },
	{ "all recipients refused without pipelining: no DATA at all",
	  { EHLO_PLAIN, 0, { "RCPT=550 5.1.1 no" } }, "a@x", { "b@y" }, NULL, NULL, NULL, MSG,
	  EX_NOUSER, 0, " R C:EHLO test.local R C:MAIL FROM:<a@x> R C:RCPT TO:<b@y> R C:QUIT",
	  "|recipient <b@y> rejected by fake: 550 5.1.1 no" },
	{ "sender refused",
	  { EHLO_PLAIN, 0, { "MAIL=553 5.7.1 go away" } }, "a@x", { "b@y" }, NULL, NULL, NULL, MSG,
	  EX_UNAVAILABLE, 0, " R C:EHLO test.local R C:MAIL FROM:<a@x> R C:QUIT",
	  "sender <a@x> rejected by fake: 553 5.7.1 go away|" },
	{ "552 after the data is a message error",
	  { EHLO_PIPE, 0, { ".=552 5.3.4 message too big" } }, "a@x", { "b@y" },
	  NULL, NULL, NULL, MSG,
	  EX_DATAERR, 0, " R C:EHLO test.local R C:MAIL FROM:<a@x> SIZE=28 C:RCPT TO:<b@y> C:DATA"
	  " R D:28 C:QUIT", "message rejected by fake: 552 5.3.4 message too big|" },
	{ "DATA refused while recipients were accepted",
	  { EHLO_PIPE, 0, { "DATA=451 4.3.0 not now" } }, "a@x", { "b@y" }, NULL, NULL, NULL, MSG,
	  EX_TEMPFAIL, 0, " R C:EHLO test.local R C:MAIL FROM:<a@x> SIZE=28 C:RCPT TO:<b@y> C:DATA"
	  " R C:QUIT", "DATA rejected by fake: 451 4.3.0 not now|" },
	{ "SIZE limit: refused before MAIL",
	  { "250-fake\r\n250 SIZE 10", 0, { NULL } }, "a@x", { "b@y" }, NULL, NULL, NULL, MSG,
	  EX_DATAERR, 0, " R C:EHLO test.local R C:QUIT",
	  "message size 28 exceeds fake's limit of 10 bytes|" },
	{ "DSN parameters, xtext ENVID, 8BITMIME",
	  { EHLO_PIPE_CHUNK, 0, { NULL } }, "a@x", { "b@y" }, "failure,delay", "headers",
	  "id+1=\xc3\xa9", "Subject: t\n\ncaf\xc3\xa9\n",
	  0, 1, " R C:EHLO test.local R C:MAIL FROM:<a@x> SIZE=21 BODY=8BITMIME RET=HDRS"
	  " ENVID=id+2B1+3D+C3+A9 C:RCPT TO:<b@y> NOTIFY=FAILURE,DELAY C:BDAT 21 LAST D:21 C:QUIT",
	  "|" },
	{ "DSN requested but not offered",
	  { EHLO_PIPE, 0, { NULL } }, "a@x", { "b@y" }, "never", NULL, NULL, MSG,
	  EX_UNAVAILABLE, 0, " R C:EHLO test.local R C:QUIT",
	  "fake does not support DSN (dsn_notify/dsn_return set)|" },
	{ "SMTPUTF8 needed but not offered",
	  { EHLO_PIPE, 0, { NULL } }, "a@x", { "j\xc3\xb6rg@y" }, NULL, NULL, NULL, MSG,
	  EX_UNAVAILABLE, 0, " R C:EHLO test.local R C:QUIT",
	  "fake does not support SMTPUTF8, needed for <j\xc3\xb6rg@y>|" },
	{ "SMTPUTF8 used when offered",
	  { "250-fake\r\n250 SMTPUTF8", 0, { NULL } }, "a@x", { "j\xc3\xb6rg@y" }, NULL, NULL, NULL,
	  MSG, 0, 1, " R C:EHLO test.local R C:MAIL FROM:<a@x> SMTPUTF8 R C:RCPT TO:<j\xc3\xb6rg@y>"
	  " R C:DATA R D:28 R C:QUIT", "|" },
	{ "LMTP: one reply per accepted recipient",
	  { "250-fake\r\n250-PIPELINING\r\n250 ENHANCEDSTATUSCODES", 1,
	    { "RCPT TO:<bad@y>=550 5.1.1 unknown", ".1=452 4.2.2 mailbox full" } },
	  "a@x", { "b@y", "bad@y", "c@y" }, NULL, NULL, NULL, MSG,
	  EX_TEMPFAIL, 1, " R C:LHLO test.local R C:MAIL FROM:<a@x> C:RCPT TO:<b@y> C:RCPT TO:<bad@y>"
	  " C:RCPT TO:<c@y> C:DATA R D:28 C:QUIT",
	  "||recipient <bad@y> rejected by fake: 550 5.1.1 unknown|"
	  "delivery to <c@y> refused by fake: 452 4.2.2 mailbox full" },
	{ "LMTP with CHUNKING",
	  { "250-fake\r\n250-PIPELINING\r\n250 CHUNKING", 1, { NULL } },
	  "a@x", { "b@y", "c@y" }, NULL, NULL, NULL, MSG,
	  0, 2, " R C:LHLO test.local R C:MAIL FROM:<a@x> C:RCPT TO:<b@y> C:RCPT TO:<c@y>"
	  " C:BDAT 27 LAST D:27 C:QUIT", "||" },
	{ "server stalls at RCPT: timeout names the step",
	  { EHLO_PLAIN, 0, { "RCPT=STALL" } }, "a@x", { "b@y" }, NULL, NULL, NULL, MSG,
	  EX_TEMPFAIL, 0, " R C:EHLO test.local R C:MAIL FROM:<a@x> R C:RCPT TO:<b@y>",
	  "timeout after 1 s waiting for fake's reply to RCPT|" },
	{ "server hangs up after MAIL",
	  { EHLO_PLAIN, 0, { "MAIL=421 4.3.2 shutting down", "RCPT=STALL" } }, "a@x", { "b@y" },
	  NULL, NULL, NULL, MSG,
	  EX_TEMPFAIL, 0, " R C:EHLO test.local R C:MAIL FROM:<a@x> R C:QUIT",
	  "sender <a@x> rejected by fake: 421 4.3.2 shutting down|" },
};

static int make_msg(const char *body, struct msg *m)
{
	static const struct msg_edits none = { .set_from = HDR_OFF };
	struct perr e;
	int rc = msg_read_mem(body, strlen(body), m, &e);
	if (rc || msg_prepare(m, &none, &e))
		return fail("message setup: %s", e.msg);
	return 0;
}

/* Messages of the outcome: session|rcpt0|rcpt1... */
static char *outcome_errs(const struct delivery *o, const struct envelope *env)
{
	struct buf b;
	buf_init(&b);
	buf_adds(&b, o->session.msg);
	for (size_t i = 0; i < env->nrcpt; i++)
		buf_printf(&b, "|%s", env->rcpt[i].result.msg);
	return buf_steal(&b);
}

/* Start the fake server; returns the fd its log arrives on. */
static int start_fake(const struct script *sc, struct smtp_session *s, pid_t *pid)
{
	int sv[2], lp[2];
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0 || pipe(lp) < 0) {
		perror("socketpair");
		exit(2);
	}
	*pid = fork();
	if (*pid == 0) {
		close(sv[0]);
		close(lp[0]);
		fake_run(sc, sv[1], lp[1]);
	}
	close(sv[1]);
	close(lp[1]);
	memset(s, 0, sizeof *s);
	if (net_from_fd(sv[0], "fake", 1, &s->c) < 0) {
		perror("net_from_fd");
		exit(2);
	}
	s->peer = "fake";
	s->helo = "test.local";
	s->lmtp = sc->lmtp;
	return lp[0];
}

static char *collect(int fd, pid_t pid)
{
	struct buf b;
	char tmp[4096];
	ssize_t n;
	buf_init(&b);
	while ((n = read(fd, tmp, sizeof tmp)) > 0)
		buf_add(&b, tmp, (size_t)n);
	close(fd);
	waitpid(pid, NULL, 0);
	return buf_steal(&b);
}

static int check_tx(const struct tx_case *c, int ex, const struct delivery *o,
                    const struct envelope *env, const char *log)
{
	char *errs = outcome_errs(o, env);
	size_t delivered = 0;
	int bad = 0;
	for (size_t i = 0; i < env->nrcpt; i++)
		delivered += env->rcpt[i].state == RCPT_DELIVERED;
	if (ex != c->ex || o->ex != c->ex || o->ndelivered != c->naccepted || delivered != c->naccepted)
		bad = fail("got ex %d/%d delivered %zu/%zu, want %d %zu (%s)", ex, o->ex, o->ndelivered,
		           delivered, c->ex, c->naccepted, errs);
	else if (strcmp(log, c->want_log))
		bad = fail("server saw '%s', want '%s'", log, c->want_log);
	else if (strcmp(errs, c->want_errs))
		bad = fail("got messages '%s', want '%s'", errs, c->want_errs);
	else if (c->naccepted && o->sent <= 0)
		bad = fail("sent %lld, want > 0", o->sent);
	free(errs);
	return bad;
}

/* Run c; every recipient gets orcpt (NULL: none) as its ORCPT. */
static int run_tx(const struct tx_case *c, const char *orcpt)
{
	struct smtp_session s;
	struct delivery o;
	struct perr e;
	struct msg m;
	struct rcpt rc[4];
	pid_t pid;
	size_t n = 0;
	memset(rc, 0, sizeof rc);
	while (n < 4 && c->rcpt[n]) {
		rc[n].ascii = (char *)c->rcpt[n];
		rc[n].notify = c->dsn_notify;
		rc[n].orcpt = (char *)orcpt;
		rc[n].state = RCPT_PENDING;
		perr_clear(&rc[n].result);
		n++;
	}
	struct envelope env = { c->from, rc, n, c->dsn_return, c->envid };
	if (make_msg(c->body, &m))
		return 1;
	int logfd = start_fake(&c->sc, &s, &pid);
	int bad = 0;
	if (smtp_start(&s, &e) != EX_OK) {
		bad = fail("smtp_start: %s", e.msg);
		smtp_quit(&s);
	} else {
		int ex = smtp_send_mail(&s, &env, &m, 1, &o);
		smtp_quit(&s);
		char *log = collect(logfd, pid);
		logfd = -1;
		bad = check_tx(c, ex, &o, &env, log);
		free(log);
	}
	if (logfd >= 0)
		free(collect(logfd, pid));
	smtp_session_free(&s);
	msg_free(&m);
	return bad;
}

static int run_tx_case(const struct tx_case *c)
{
	return run_tx(c, NULL);
}

/* ORCPT (RFC 3461 4.2) goes with NOTIFY when the server offers DSN, as
 * rfc822;xtext; without DSN it is left out, and is no reason to fail. */
static int t_orcpt(void)
{
	static const struct tx_case with = {
		"ORCPT with DSN", { "250-fake\r\n250 DSN", 0, { NULL } }, "a@x", { "b@y" },
		"failure", NULL, NULL, MSG, 0, 1,
		" R C:EHLO test.local R C:MAIL FROM:<a@x> R C:RCPT TO:<b@y> NOTIFY=FAILURE"
		" ORCPT=rfc822;orig+2Bx@y R C:DATA R D:28 R C:QUIT", "|" };
	static const struct tx_case without = {
		"ORCPT without DSN", { EHLO_PLAIN, 0, { NULL } }, "a@x", { "b@y" }, NULL, NULL, NULL,
		MSG, 0, 1, " R C:EHLO test.local R C:MAIL FROM:<a@x> R C:RCPT TO:<b@y> R C:DATA R"
		" D:28 R C:QUIT", "|" };
	return run_tx(&with, "orig+x@y") | run_tx(&without, "orig+x@y");
}

/* Greeting refusals and --serverinfo go through smtp_start too. */
static int t_greeting_refused(void)
{
	struct smtp_session s;
	struct perr e;
	pid_t pid;
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
		return fail("socketpair");
	pid = fork();
	if (pid == 0) {
		close(sv[0]);
		if (write(sv[1], "554 5.7.1 no service\r\n", 22) != 22)
			_exit(1);
		char tmp[64];
		(void)!read(sv[1], tmp, sizeof tmp);
		_exit(0);
	}
	close(sv[1]);
	memset(&s, 0, sizeof s);
	net_from_fd(sv[0], "fake", 2, &s.c);
	s.peer = "fake";
	int rc = smtp_start(&s, &e);
	smtp_quit(&s);
	smtp_session_free(&s);
	waitpid(pid, NULL, 0);
	if (rc != EX_UNAVAILABLE || e.code != 554 || strcmp(e.enh, "5.7.1") ||
	    strcmp(e.msg, "fake refused the connection: 554 5.7.1 no service"))
		return fail("got %d %d '%s' '%s'", rc, e.code, e.enh, e.msg);
	return 0;
}

static int t_serverinfo(void)
{
	static const struct script sc = { "250-fake\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n"
	                                  "250-STARTTLS\r\n250 AUTH PLAIN LOGIN", 0, { NULL } };
	static const char want[] =
		"SMTP server at fake:\n"
		"    fake ESMTP\n"
		"Capabilities:\n"
		"    SIZE 10240000:\n"
		"        Largest message accepted: 10240000 bytes = 9.77 MiB\n"
		"    PIPELINING:\n"
		"        Commands may be sent in groups (RFC 2920)\n"
		"    STARTTLS:\n"
		"        The session can be switched to TLS (RFC 3207)\n"
		"    AUTH:\n"
		"        Authentication mechanisms: PLAIN LOGIN\n"
		"The server may offer more or other capabilities after STARTTLS.\n";
	struct smtp_session s;
	struct perr e;
	pid_t pid;
	char *out = NULL;
	size_t outlen = 0;
	int logfd = start_fake(&sc, &s, &pid);
	int rc = smtp_start(&s, &e);
	FILE *f = open_memstream(&out, &outlen);
	if (rc == 0)
		smtp_print_info(&s, f);
	fclose(f);
	smtp_quit(&s);
	smtp_session_free(&s);
	free(collect(logfd, pid));
	int bad = 0;
	if (rc != 0)
		bad = fail("smtp_start: %s", e.msg);
	else if (strcmp(out, want))
		bad = fail("got\n%s", out);
	free(out);
	return bad;
}

static const struct tap_case fcases[] = {
	{ "parse_line: an embedded NUL is malformed", t_line_nul },
	{ "parse_line: the length bounds the line", t_line_length },
	{ "read_reply: three replies in one read", t_two_replies_one_read },
	{ "read_reply: 1000 lines is the limit", t_max_lines },
	{ "read_reply: 1001 lines is a protocol error", t_too_many_lines },
	{ "read_reply: a 64 KiB line is fine", t_long_line_ok },
	{ "read_reply: a longer line is a protocol error", t_line_too_long },
	{ "read_reply: a stalled server times out", t_read_timeout },
	{ "start: 554 greeting", t_greeting_refused },
	{ "print_info: capabilities in readable form", t_serverinfo },
};

/* ---- deadlines: per reply, per session ---- */

static long long ms_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Continuation lines 400 ms apart, each well within the 1 s timeout:
 * the reply as a whole still has 1 s. */
static int t_reply_deadline(void)
{
	static const char *const drip[] = { "220-a\r\n", "220-b\r\n", "220-c\r\n", "220-d\r\n",
	                                    "220-e\r\n", "220 f\r\n", NULL };
	pid_t pid;
	struct smtp_reply r;
	struct perr e;
	struct conn *c = feeder_paced(drip, 400, 0, 1, &pid);
	long long t0 = ms_now();
	smtp_reply_init(&r);
	int rc = smtp_read_reply(c, &r, &e);
	long long took = ms_now() - t0;
	int expired = net_timed_out(c);
	smtp_reply_free(&r);
	net_close(c);
	kill(pid, SIGTERM);
	waitpid(pid, NULL, 0);
	if (rc != EX_TEMPFAIL || expired != NET_EXPIRED_TIMEOUT)
		return fail("got %d (%s), expired %d; want EX_TEMPFAIL by the timeout", rc, e.msg, expired);
	if (took < 900 || took > 1600)
		return fail("gave up after %lld ms, want about 1000", took);
	return strcmp(e.msg, "timeout after 1 s waiting for test") ?
	       fail("got '%s'", e.msg) : 0;
}

/* One-line replies 400 ms apart, io timeout 5 s, session limit 1 s:
 * the third reply is past the session's end. */
static int t_session_deadline(void)
{
	static const char *const slow[] = { "250 a\r\n", "250 b\r\n", "250 c\r\n", "250 d\r\n",
	                                    NULL };
	pid_t pid;
	struct smtp_reply r;
	struct perr e;
	int n = 0, rc = EX_OK;
	struct conn *c = feeder_paced(slow, 400, 0, 5, &pid);
	net_session_limit(c, 1);
	smtp_reply_init(&r);
	while (n < 4 && (rc = smtp_read_reply(c, &r, &e)) == EX_OK)
		n++;
	int expired = net_timed_out(c);
	smtp_reply_free(&r);
	net_close(c);
	kill(pid, SIGTERM);
	waitpid(pid, NULL, 0);
	if (rc != EX_TEMPFAIL || expired != NET_EXPIRED_SESSION || n < 2 || n > 3)
		return fail("got %d (%s) after %d replies, expired %d; want EX_TEMPFAIL by the "
		            "session limit after 2 or 3", rc, e.msg, n, expired);
	return strcmp(e.msg, "the session with test reached its time limit of 1 s") ?
	       fail("got '%s'", e.msg) : 0;
}

/* net_extend_session moves the session's end. */
static int t_session_extended(void)
{
	static const char *const slow[] = { "250 a\r\n", "250 b\r\n", "250 c\r\n", NULL };
	pid_t pid;
	struct smtp_reply r;
	struct perr e;
	int n = 0;
	struct conn *c = feeder_paced(slow, 400, 0, 5, &pid);
	net_session_limit(c, 1);
	net_extend_session(c, 2);
	smtp_reply_init(&r);
	while (n < 3 && smtp_read_reply(c, &r, &e) == EX_OK)
		n++;
	smtp_reply_free(&r);
	net_close(c);
	waitpid(pid, NULL, 0);
	return n == 3 ? 0 : fail("read %d replies (%s), want 3", n, e.msg);
}

/* RFC 5321 4.3.2: only 220 opens a session; what else a greeting gives. */
static const struct greet_case {
	const char *greeting;
	int ex;
	const char *msg;
} greet_cases[] = {
	/* 220: EHLO is sent, and the server has gone (lost, or reset) */
	{ "220 ok\r\n", EX_TEMPFAIL, "connection to test lost" },
	{ "250 early\r\n", EX_PROTOCOL, "unexpected greeting from test (only 220 opens a session, "
	  "RFC 5321 4.3.2; nothing was sent): 250 early" },
	{ "354 go\r\n", EX_PROTOCOL, "unexpected greeting from test (only 220 opens a session, "
	  "RFC 5321 4.3.2; nothing was sent): 354 go" },
	{ "421 4.3.2 busy\r\n", EX_TEMPFAIL, "test refused the connection: 421 4.3.2 busy" },
	{ "554 no\r\n", EX_UNAVAILABLE, "test refused the connection: 554 no" },
	{ "521 5.3.2 never\r\n", EX_UNAVAILABLE, "test refused the connection: 521 5.3.2 never" },
};

static int run_greet_case(const struct greet_case *g)
{
	const char *pieces[] = { g->greeting, NULL };
	struct smtp_session s;
	struct perr e;
	pid_t pid;
	memset(&s, 0, sizeof s);
	s.c = feeder(pieces, 0, 2, &pid);
	s.peer = "test";
	int rc = smtp_start(&s, &e);
	smtp_session_free(&s);
	waitpid(pid, NULL, 0);
	if (rc != g->ex || strncmp(e.msg, g->msg, strlen(g->msg)))
		return fail("got %d '%s', want %d '%s...'", rc, e.msg, g->ex, g->msg);
	return 0;
}

static const struct tap_case deadline_cases[] = {
	{ "read_reply: the timeout bounds the whole reply, not each line", t_reply_deadline },
	{ "read_reply: the session deadline ends a session of slow replies", t_session_deadline },
	{ "read_reply: net_extend_session moves the session deadline", t_session_extended },
};

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	for (size_t i = 0; i < NELEM(line_cases); i++)
		reportf(run_line_case(&line_cases[i]), "parse_line '%s'", line_cases[i].in);
	for (size_t i = 0; i < NELEM(enh_cases); i++)
		reportf(run_enh_case(&enh_cases[i]), "parse_enh %d '%s'", enh_cases[i].code,
		        enh_cases[i].text);
	for (size_t i = 0; i < NELEM(caps_cases); i++)
		reportf(run_caps_case(&caps_cases[i]), "parse_caps: %s", caps_cases[i].desc);
	for (size_t i = 0; i < NELEM(reply_cases); i++)
		reportf(run_reply_case(&reply_cases[i]), "read_reply: %s", reply_cases[i].desc);
	run_cases(fcases, NELEM(fcases));
	run_cases(deadline_cases, NELEM(deadline_cases));
	for (size_t i = 0; i < NELEM(greet_cases); i++)
		reportf(run_greet_case(&greet_cases[i]), "start: greeting '%.3s'", greet_cases[i].greeting);
	for (size_t i = 0; i < NELEM(tx_cases); i++)
		reportf(run_tx_case(&tx_cases[i]), "send_mail: %s", tx_cases[i].desc);
	reportf(t_orcpt(), "send_mail: ORCPT sent with DSN, left out without");
	return tap_done();
}
