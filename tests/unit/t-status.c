/* t-status.c - status.c case by case: failure class -> (exit status,
 * action), SMTP reply (phase, code, enhanced code) -> (exit status,
 * action), the perr_* constructors that record the class, and the class
 * that net.c, tls.c, aliases.c and secret.c record for failures a unit
 * program can provoke (socketpairs, a closed port on 127.0.0.1, a
 * missing file, a failing passwordeval). */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "aliases.h"
#include "conf.h"
#include "net.h"
#include "secret.h"
#include "status.h"
#include "tap.h"
#include "tls.h"

static const struct {
	enum smtp_phase ph;
	int code;
	const char *enh;
	int ex;
	enum status_action act;
} cases[] = {
	/* success and temporary, whatever the enhanced code */
	{ PH_RCPT, 250, "2.1.5", EX_OK, ACTION_FINAL },
	{ PH_DATA, 354, "", EX_OK, ACTION_FINAL },
	{ PH_RCPT, 450, "4.2.2", EX_TEMPFAIL, ACTION_RETRY },
	{ PH_MAIL, 451, "4.1.8", EX_TEMPFAIL, ACTION_NEXT_HOP },
	{ PH_GREETING, 421, "", EX_TEMPFAIL, ACTION_NEXT_HOP },
	{ PH_RCPT, 600, "", EX_PROTOCOL, ACTION_NEXT_HOP },
	/* the phase decides before MAIL */
	{ PH_GREETING, 554, "5.7.1", EX_UNAVAILABLE, ACTION_NEXT_HOP },
	{ PH_EHLO, 550, "5.1.1", EX_UNAVAILABLE, ACTION_FINAL },
	{ PH_STARTTLS, 554, "", EX_UNAVAILABLE, ACTION_NEXT_HOP },
	{ PH_AUTH, 535, "5.7.8", EX_NOPERM, ACTION_FINAL },
	{ PH_AUTH, 554, "5.7.0", EX_NOPERM, ACTION_FINAL },
	{ PH_QUIT, 554, "", EX_OK, ACTION_FINAL },
	/* X.1.x: addressing */
	{ PH_RCPT, 550, "5.1.1", EX_NOUSER, ACTION_FINAL },
	{ PH_MAIL, 553, "5.1.8", EX_NOUSER, ACTION_FINAL },
	{ PH_DATA_END, 550, "5.1.1", EX_NOUSER, ACTION_FINAL },
	/* X.2.x: the mailbox, except 5.2.3 (message length) */
	{ PH_DATA_END, 552, "5.2.2", EX_NOUSER, ACTION_FINAL },
	{ PH_LMTP_RCPT, 552, "5.2.2", EX_NOUSER, ACTION_FINAL },
	{ PH_RCPT, 552, "5.2.2", EX_NOUSER, ACTION_FINAL },
	{ PH_RCPT, 550, "5.2.1", EX_NOUSER, ACTION_FINAL },
	{ PH_DATA_END, 552, "5.2.3", EX_DATAERR, ACTION_FINAL },
	/* X.3.4 and X.6.x: the message; other X.3.x: the mail system */
	{ PH_MAIL, 552, "5.3.4", EX_DATAERR, ACTION_FINAL },
	{ PH_RCPT, 552, "5.3.4", EX_DATAERR, ACTION_FINAL },
	{ PH_DATA_END, 554, "5.6.0", EX_DATAERR, ACTION_FINAL },
	{ PH_DATA_END, 550, "5.6.3", EX_DATAERR, ACTION_FINAL },
	{ PH_DATA_END, 554, "5.3.0", EX_UNAVAILABLE, ACTION_FINAL },
	{ PH_RCPT, 552, "5.3.1", EX_UNAVAILABLE, ACTION_FINAL },
	/* X.7.x: policy 69, authentication 77 */
	{ PH_RCPT, 554, "5.7.1", EX_UNAVAILABLE, ACTION_FINAL },
	{ PH_DATA_END, 550, "5.7.1", EX_UNAVAILABLE, ACTION_FINAL },
	{ PH_MAIL, 530, "5.7.0", EX_NOPERM, ACTION_FINAL },
	{ PH_MAIL, 530, "", EX_NOPERM, ACTION_FINAL },
	{ PH_MAIL, 550, "5.7.30", EX_NOPERM, ACTION_FINAL },
	{ PH_RCPT, 554, "5.7.8", EX_NOPERM, ACTION_FINAL },
	/* no enhanced code, or one that says nothing more: the phase */
	{ PH_RCPT, 550, "", EX_NOUSER, ACTION_FINAL },
	{ PH_RCPT, 550, NULL, EX_NOUSER, ACTION_FINAL },
	{ PH_RCPT, 552, "", EX_TEMPFAIL, ACTION_RETRY },
	{ PH_RCPT, 552, "5.5.3", EX_TEMPFAIL, ACTION_RETRY },
	{ PH_RCPT, 550, "5.5.1", EX_NOUSER, ACTION_FINAL },
	{ PH_MAIL, 550, "", EX_UNAVAILABLE, ACTION_FINAL },
	{ PH_MAIL, 552, "", EX_DATAERR, ACTION_FINAL },
	{ PH_DATA, 554, "5.5.1", EX_UNAVAILABLE, ACTION_FINAL },
	{ PH_DATA_END, 552, "", EX_DATAERR, ACTION_FINAL },
	{ PH_DATA_END, 554, "5.0.0", EX_UNAVAILABLE, ACTION_FINAL },
	{ PH_DATA_END, 550, "5.4.6", EX_UNAVAILABLE, ACTION_FINAL },
	{ PH_LMTP_RCPT, 552, "", EX_DATAERR, ACTION_FINAL },
	{ PH_LMTP_RCPT, 550, "", EX_NOUSER, ACTION_FINAL },
	/* the action, phase by phase: 4xx then 5xx */
	{ PH_GREETING, 450, "4.3.2", EX_TEMPFAIL, ACTION_NEXT_HOP },
	{ PH_EHLO, 421, "4.3.2", EX_TEMPFAIL, ACTION_NEXT_HOP },
	{ PH_EHLO, 501, "5.5.4", EX_UNAVAILABLE, ACTION_FINAL },
	{ PH_STARTTLS, 454, "4.7.0", EX_TEMPFAIL, ACTION_NEXT_HOP },
	{ PH_STARTTLS, 501, "", EX_UNAVAILABLE, ACTION_NEXT_HOP },
	{ PH_AUTH, 454, "4.7.0", EX_TEMPFAIL, ACTION_NEXT_HOP },
	{ PH_AUTH, 535, "", EX_NOPERM, ACTION_FINAL },
	{ PH_MAIL, 452, "4.3.1", EX_TEMPFAIL, ACTION_NEXT_HOP },
	{ PH_RCPT, 451, "4.7.1", EX_TEMPFAIL, ACTION_RETRY },
	{ PH_RCPT, 421, "", EX_TEMPFAIL, ACTION_RETRY },
	{ PH_DATA, 451, "4.3.0", EX_TEMPFAIL, ACTION_NEXT_HOP },
	{ PH_DATA_END, 451, "4.3.0", EX_TEMPFAIL, ACTION_RETRY },
	{ PH_DATA_END, 452, "4.3.1", EX_TEMPFAIL, ACTION_RETRY },
	{ PH_LMTP_RCPT, 452, "4.2.2", EX_TEMPFAIL, ACTION_RETRY },
	{ PH_QUIT, 421, "", EX_TEMPFAIL, ACTION_FINAL },
	{ PH_QUIT, 221, "2.0.0", EX_OK, ACTION_FINAL },
	/* a code outside 2xx-5xx is a malformed reply */
	{ PH_MAIL, 199, "", EX_PROTOCOL, ACTION_NEXT_HOP },
	{ PH_GREETING, 0, NULL, EX_PROTOCOL, ACTION_NEXT_HOP },
};

static const char *phases[] = { "greeting", "EHLO", "STARTTLS", "AUTH", "MAIL", "RCPT",
                                "DATA", "after data", "LMTP RCPT", "QUIT" };

/* Every reply case through status_from_reply and through perr_reply. */
static void reply_cases(void)
{
	for (size_t i = 0; i < NELEM(cases); i++) {
		struct perr e;
		int got = status_from_reply(cases[i].ph, cases[i].code, cases[i].enh);
		int rc = perr_reply(&e, cases[i].ph, cases[i].code, cases[i].enh, "x");
		enum status_action act = status_action(&e);
		if (act != cases[i].act)
			fail("action %s, want %s", status_action_name(act),
			     status_action_name(cases[i].act));
		if (rc != got || e.ex != got || e.fc != FC_REPLY || e.phase != cases[i].ph)
			fail("perr_reply gave %s, class %s", status_name(rc), fail_class_name(e.fc));
		if (got != cases[i].ex)
			fail("got %s, want %s", status_name(got), status_name(cases[i].ex));
		reportf(got != cases[i].ex || rc != got || act != cases[i].act || e.fc != FC_REPLY ||
		        e.phase != cases[i].ph,
		        "%s %d %s -> %s, %s", phases[cases[i].ph], cases[i].code,
		        cases[i].enh ? cases[i].enh : "(null)", status_name(cases[i].ex),
		        status_action_name(cases[i].act));
	}
}

/* Every class but FC_REPLY: DESIGN.md's exit statuses, Postfix's actions. */
static const struct {
	enum fail_class fc;
	const char *name;
	int ex;
	enum status_action act;
} classes[] = {
	{ FC_NONE, "none", EX_OK, ACTION_FINAL },
	{ FC_USAGE, "usage", EX_USAGE, ACTION_FINAL },
	{ FC_CONFIG, "config", EX_CONFIG, ACTION_FINAL },
	{ FC_NOINPUT, "no-input", EX_NOINPUT, ACTION_FINAL },
	{ FC_MESSAGE, "message", EX_DATAERR, ACTION_FINAL },
	{ FC_ADDRESS, "address", EX_NOUSER, ACTION_FINAL },
	{ FC_IOERR, "io", EX_IOERR, ACTION_RETRY },
	{ FC_CANTCREAT, "cantcreat", EX_CANTCREAT, ACTION_RETRY },
	{ FC_OS, "os", EX_OSERR, ACTION_RETRY },
	{ FC_INTERNAL, "internal", EX_SOFTWARE, ACTION_FINAL },
	{ FC_PERMISSION, "permission", EX_NOPERM, ACTION_FINAL },
	{ FC_DNS_NOTFOUND, "dns-notfound", EX_NOHOST, ACTION_FINAL },
	{ FC_DNS_TEMP, "dns-temp", EX_TEMPFAIL, ACTION_RETRY },
	{ FC_CONNECT, "connect", EX_TEMPFAIL, ACTION_NEXT_HOP },
	{ FC_TIMEOUT, "timeout", EX_TEMPFAIL, ACTION_NEXT_HOP },
	{ FC_LOST, "lost", EX_TEMPFAIL, ACTION_NEXT_HOP },
	{ FC_TLS_HANDSHAKE, "tls-handshake", EX_PROTOCOL, ACTION_NEXT_HOP },
	{ FC_TLS_VERIFY, "tls-verify", EX_UNAVAILABLE, ACTION_NEXT_HOP },
	{ FC_PROTOCOL, "protocol", EX_PROTOCOL, ACTION_NEXT_HOP },
	{ FC_EXTENSION, "extension", EX_UNAVAILABLE, ACTION_NEXT_HOP },
	{ FC_AUTH, "auth", EX_NOPERM, ACTION_FINAL },
	{ FC_OAUTH_TEMP, "oauth-temp", EX_TEMPFAIL, ACTION_RETRY },
	/* FC_REPLY without a reply: a malformed one */
	{ FC_REPLY, "reply", EX_PROTOCOL, ACTION_NEXT_HOP },
};

static void class_cases(void)
{
	for (size_t i = 0; i < NELEM(classes); i++) {
		struct perr e;
		char want[32];
		snprintf(want, sizeof want, "msg %zu", i);
		int rc = perr_fail(&e, classes[i].fc, "msg %zu", i);
		enum status_action act = status_action(&e);
		int bad = rc != classes[i].ex || e.ex != rc || e.fc != classes[i].fc ||
		          act != classes[i].act || strcmp(e.msg, want) != 0 || e.code != 0 ||
		          strcmp(fail_class_name(e.fc), classes[i].name) != 0;
		if (bad)
			fail("got %s, %s, %s, '%s'", status_name(rc), status_action_name(act),
			     fail_class_name(e.fc), e.msg);
		reportf(bad, "class %s -> %s, %s", classes[i].name, status_name(classes[i].ex),
		        status_action_name(classes[i].act));
	}
}

/* The table above covers every class, and the names are distinct. */
static void class_names(void)
{
	int bad = NELEM(classes) != FC_COUNT;
	if (bad)
		fail("%zu classes tested, %d exist", NELEM(classes), (int)FC_COUNT);
	for (int a = 0; a < FC_COUNT; a++)
		for (int b = a + 1; b < FC_COUNT; b++)
			if (strcmp(fail_class_name(a), fail_class_name(b)) == 0)
				bad = fail("classes %d and %d are both '%s'", a, b, fail_class_name(a));
	if (strcmp(fail_class_name(FC_COUNT), "unknown") != 0)
		bad = fail("FC_COUNT is '%s'", fail_class_name(FC_COUNT));
	report("every class tested, each with its own name", bad);
}

static int reclass_reply(void)
{
	struct perr e;
	perr_reply(&e, PH_RCPT, 550, "5.1.1", "rejected");
	if (perr_reclass(&e, FC_USAGE) != EX_USAGE || e.ex != EX_USAGE || e.fc != FC_USAGE)
		return fail("reclass to usage: %s", status_name(e.ex));
	if (e.code != 550 || strcmp(e.enh, "5.1.1") != 0 || strcmp(e.msg, "rejected") != 0 ||
	    status_action(&e) != ACTION_FINAL)
		return fail("reply or message lost: %d %s '%s'", e.code, e.enh, e.msg);
	if (perr_reclass(&e, FC_REPLY) != EX_NOUSER || e.phase != PH_RCPT)
		return fail("back to the reply: %s", status_name(e.ex));
	return 0;
}

static int reclass_class(void)
{
	struct perr e;
	perr_fail(&e, FC_CONNECT, "cannot connect");
	if (status_action(&e) != ACTION_NEXT_HOP)
		return fail("connect: %s", status_action_name(status_action(&e)));
	if (perr_reclass(&e, FC_CONFIG) != EX_CONFIG || status_action(&e) != ACTION_FINAL ||
	    strcmp(e.msg, "cannot connect") != 0)
		return fail("as config: %s, %s", status_name(e.ex),
		            status_action_name(status_action(&e)));
	return 0;
}

/* smtp.c turns an unexpected 2xx/3xx into EX_PROTOCOL by hand. */
static int unexpected_success(void)
{
	struct perr e;
	perr_reply(&e, PH_DATA, 250, "2.0.0", "250 instead of 354");
	if (e.ex != EX_OK || status_action(&e) != ACTION_FINAL)
		return fail("before: %s", status_name(e.ex));
	e.ex = EX_PROTOCOL;
	if (status_action(&e) != ACTION_NEXT_HOP)
		return fail("after: %s", status_action_name(status_action(&e)));
	return 0;
}

static int cleared(void)
{
	struct perr e;
	perr_reply(&e, PH_RCPT, 451, "4.7.1", "greylisted");
	perr_clear(&e);
	if (e.ex != EX_OK || e.fc != FC_NONE || e.code != 0 || e.enh[0] || e.msg[0] ||
	    status_action(&e) != ACTION_FINAL)
		return fail("left %s, class %s, %d", status_name(e.ex), fail_class_name(e.fc), e.code);
	return 0;
}

/* ---- the classes the modules record ---- */

/* e holds class want, with the exit status and action the table gives. */
static int is_class(const struct perr *e, int rc, enum fail_class want)
{
	struct perr t;
	perr_fail(&t, want, "x");
	if (e->fc != want || rc != t.ex || e->ex != t.ex || status_action(e) != status_action(&t))
		return fail("class %s (%s), want %s (%s): %s", fail_class_name(e->fc),
		            status_name(e->ex), fail_class_name(want), status_name(t.ex), e->msg);
	return 0;
}

static int net_case(const struct conn_opts *o, enum fail_class want)
{
	struct conn *c = NULL;
	struct perr e;
	int rc = net_open(o, &c, &e);
	if (c)
		net_close(c);
	return is_class(&e, rc, want);
}

/* A TCP port on 127.0.0.1 that nothing listens on. */
static int closed_port(void)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t len = sizeof sin;
	int fd = socket(AF_INET, SOCK_STREAM, 0), port = 0;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd >= 0 && bind(fd, (struct sockaddr *)&sin, sizeof sin) == 0 &&
	    getsockname(fd, (struct sockaddr *)&sin, &len) == 0)
		port = ntohs(sin.sin_port);
	if (fd >= 0)
		close(fd);
	return port;
}

static void net_open_cases(void)
{
	char longpath[200];
	memset(longpath, 'p', sizeof longpath - 1);
	longpath[sizeof longpath - 1] = '\0';
	struct conn_opts o = { .socket_path = longpath };
	report("net: socket path too long -> config", net_case(&o, FC_CONFIG));
	o = (struct conn_opts){ .socket_path = "/nonexistent/postie.sock" };
	report("net: no such socket -> connect", net_case(&o, FC_CONNECT));
	o = (struct conn_opts){ .host = "" };
	report("net: no host -> config", net_case(&o, FC_CONFIG));
	o = (struct conn_opts){ .host = "127.0.0.1", .port = 25, .source_ip = "not-an-ip" };
	report("net: invalid source_ip -> config", net_case(&o, FC_CONFIG));
	o = (struct conn_opts){ .host = "127.0.0.1", .port = 25, .source_ip = "::1" };
	report("net: no address of source_ip's family -> config", net_case(&o, FC_CONFIG));
	o = (struct conn_opts){ .host = "127.0.0.1", .port = closed_port(), .connect_timeout = 5 };
	report("net: connection refused -> connect", net_case(&o, FC_CONNECT));
}

/* A connection whose peer (a child) writes what and then either closes or
 * waits to be killed. *pid receives the child. */
static struct conn *peer_conn(const char *what, size_t n, int hold, int io_timeout, pid_t *pid)
{
	int sv[2];
	struct conn *c = NULL;
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
		return NULL;
	*pid = fork();
	if (*pid == 0) {
		close(sv[0]);
		for (size_t off = 0; off < n;) {
			ssize_t w = write(sv[1], what + off, n - off);
			if (w <= 0)
				_exit(1);
			off += (size_t)w;
		}
		if (hold)
			pause();
		_exit(0);
	}
	close(sv[1]);
	if (*pid < 0 || net_from_fd(sv[0], "peer", io_timeout, &c) < 0)
		close(sv[0]);
	return c;
}

static void peer_done(pid_t pid)
{
	if (pid > 0) {
		kill(pid, SIGTERM);
		waitpid(pid, NULL, 0);
	}
}

static int getline_case(const char *what, size_t n, int hold, int io_timeout, enum fail_class want)
{
	pid_t pid = -1;
	struct conn *c = peer_conn(what, n, hold, io_timeout, &pid);
	struct buf line;
	struct perr e;
	int rc, bad;
	if (!c) {
		peer_done(pid);
		return fail("no connection");
	}
	buf_init(&line);
	while ((rc = net_getline(c, &line, &e)) == EX_OK)
		;
	bad = is_class(&e, rc, want);
	buf_free(&line);
	net_close(c);
	peer_done(pid);
	return bad;
}

static void net_io_cases(void)
{
	size_t big = 70 * 1024;
	char *line = xmalloc(big);
	memset(line, 'x', big);
	report("net: peer closes -> lost", getline_case("220 hi\r\n", 8, 0, 5, FC_LOST));
	report("net: peer silent -> timeout", getline_case("", 0, 1, 1, FC_TIMEOUT));
	report("net: line over 64 KiB -> protocol", getline_case(line, big, 1, 5, FC_PROTOCOL));
	free(line);
}

static int tls_case(const char *what, const char *hint, enum fail_class want)
{
	pid_t pid = -1;
	struct conn *c = peer_conn(what, strlen(what), *what != '\0', 5, &pid);
	struct tls_opts o = { .host = "peer", .certcheck = 1, .required = 1, .timeout = 5,
	                      .plain_hint = hint };
	struct tls *t = NULL;
	struct perr e;
	if (!c) {
		peer_done(pid);
		return fail("no connection");
	}
	int rc = tls_start(c, &o, &t, &e);
	int bad = is_class(&e, rc, want);
	net_close(c);
	peer_done(pid);
	return bad;
}

static void tls_cases(void)
{
	report("tls: plain greeting on an implicit TLS port -> config",
	       tls_case("220 plain ESMTP\r\n", "set tls_starttls on", FC_CONFIG));
	report("tls: plain text after STARTTLS -> tls-handshake",
	       tls_case("220 plain ESMTP\r\n", NULL, FC_TLS_HANDSHAKE));
	report("tls: server closes in the handshake -> tls-handshake",
	       tls_case("", NULL, FC_TLS_HANDSHAKE));
	struct tls_opts o = { .priorities = "NOT-A-PRIORITY", .timeout = 5 };
	pid_t pid = -1;
	struct conn *c = peer_conn("", 0, 1, 5, &pid);
	struct tls *t = NULL;
	struct perr e;
	int rc = c ? tls_start(c, &o, &t, &e) : perr_fail(&e, FC_NONE, "no connection");
	report("tls: bad tls_priorities -> config", is_class(&e, rc, FC_CONFIG));
	if (c)
		net_close(c);
	peer_done(pid);
}

static void file_cases(void)
{
	struct aliases *al = NULL;
	struct perr e;
	int rc = aliases_parse("t.aliases", "root bob\n", 9, &al, &e);
	report("aliases: syntax error -> config", is_class(&e, rc, FC_CONFIG));
	aliases_free(al);
	rc = aliases_load("/nonexistent/aliases", &al, &e);
	report("aliases: missing file -> no-input", is_class(&e, rc, FC_NOINPUT));
	aliases_free(al);
	struct account *a = account_new("acct", "t.rc", 1);
	char *pw = NULL;
	const char *source = NULL;
	a->host = xstrdup("mail.example.org");
	a->user = xstrdup("bob");
	a->passwordeval = xstrdup("exit 3");
	struct route r;
	route_from_account(a, &r);
	rc = secret_get(&r.hop[0], &r.policy, &pw, &source, &e);
	report("secret: passwordeval fails -> config", is_class(&e, rc, FC_CONFIG));
	free(pw);
	route_free(&r);
	account_free(a);
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	reply_cases();
	class_cases();
	class_names();
	report("perr_reclass: reply to usage and back", reclass_reply());
	report("perr_reclass: connect to config", reclass_class());
	report("a 2xx made EX_PROTOCOL by the caller: next hop", unexpected_success());
	report("perr_clear: no failure, final", cleared());
	net_open_cases();
	net_io_cases();
	tls_cases();
	file_cases();
	return tap_done();
}
