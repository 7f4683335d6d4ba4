/* log.c - the -v transcript, the log file line and syslog. */
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "util.h"

/* The one piece of process-wide state: set once from -v/-d. */
static int verbose;

void log_set_verbose(int level)
{
	verbose = level;
}

int log_verbose(void)
{
	return verbose;
}

void log_transcript(int outgoing, enum redact how, const char *line, size_t n)
{
	if (!verbose)
		return;
	const char *dir = outgoing ? "--> " : "<-- ";
	if (how == SHOW_NOTHING) {
		fprintf(stderr, "%s[redacted]\n", dir);
		return;
	}
	if (outgoing && n >= 5 && ascii_ncasecmp(line, "AUTH ", 5) == 0) {
		/* "AUTH MECH [initial-response]": keep the mechanism only */
		size_t m = 5;
		while (m < n && line[m] != ' ')
			m++;
		if (m < n) {
			fprintf(stderr, "%s%.*s [redacted]\n", dir, (int)m, line);
			return;
		}
	}
	fprintf(stderr, "%s", dir);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)line[i];
		if (c < 0x20 || c == 0x7f)
			fprintf(stderr, "\\x%02x", c);
		else
			fputc(c, stderr);
	}
	fputc('\n', stderr);
}

static void vnote(const char *fmt, va_list ap)
{
	fputs("postie: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

void log_info(const char *fmt, ...)
{
	va_list ap;
	if (!verbose)
		return;
	va_start(ap, fmt);
	vnote(fmt, ap);
	va_end(ap);
}

void log_notice(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vnote(fmt, ap);
	va_end(ap);
}

/* Single quotes in a value would break the key='value' form. */
static void add_quoted(struct buf *b, const char *key, const char *v)
{
	buf_printf(b, " %s='", key);
	for (; *v; v++) {
		if (*v == '\'')
			buf_adds(b, "\\'");
		else if (*v == '\n' || *v == '\r')
			buf_addc(b, ' ');
		else
			buf_addc(b, *v);
	}
	buf_addc(b, '\'');
}

static void format_rec(struct buf *b, const struct logrec *r)
{
	buf_printf(b, "host=%s tls=%s auth=%s", r->host ? r->host : "",
	           r->tls ? r->tls : "off", r->auth ? "on" : "off");
	if (r->auth && r->user)
		buf_printf(b, " user=%s", r->user);
	buf_printf(b, " from=%s recipients=%s", r->from ? r->from : "",
	           r->recipients ? r->recipients : "");
	if (r->mailsize >= 0)
		buf_printf(b, " mailsize=%lld", r->mailsize);
	if (r->smtpstatus > 0)
		buf_printf(b, " smtpstatus=%d", r->smtpstatus);
	if (r->smtpmsg)
		add_quoted(b, "smtpmsg", r->smtpmsg);
	if (r->errormsg)
		add_quoted(b, "errormsg", r->errormsg);
	buf_printf(b, " exitcode=%s", status_name(r->exitcode));
}

void log_file(const char *path, const char *timefmt, const struct logrec *r)
{
	struct buf b;
	char stamp[128];
	time_t now = time(NULL);
	struct tm tm;

	if (!timefmt || !*timefmt)
		timefmt = "%b %d %H:%M:%S";
	localtime_r(&now, &tm);
	if (strftime(stamp, sizeof stamp, timefmt, &tm) == 0)
		stamp[0] = '\0';
	buf_init(&b);
	buf_printf(&b, "%s ", stamp);
	format_rec(&b, r);
	buf_addc(&b, '\n');

	if (strcmp(path, "-") == 0) {
		fwrite(b.s, 1, b.len, stdout);
		fflush(stdout);
	} else {
		char *p = expand_tilde(path);
		int fd = open(p, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, 0600);
		/* one write(2) per line: O_APPEND keeps concurrent runs' lines whole */
		ssize_t n = fd < 0 ? -1 : write(fd, b.s, b.len);
		int err = n < 0 ? errno : 0;
		if (fd >= 0 && close(fd) != 0 && !err)
			err = errno;
		if (fd < 0 || err || n != (ssize_t)b.len)
			fprintf(stderr, "postie: cannot write log file %s: %s\n", p,
			        err ? strerror(err) : "short write");
		free(p);
	}
	buf_free(&b);
}

static const struct {
	const char *name;
	int fac;
} facilities[] = {
	{ "LOG_USER", LOG_USER },     { "LOG_MAIL", LOG_MAIL },
	{ "LOG_LOCAL0", LOG_LOCAL0 }, { "LOG_LOCAL1", LOG_LOCAL1 },
	{ "LOG_LOCAL2", LOG_LOCAL2 }, { "LOG_LOCAL3", LOG_LOCAL3 },
	{ "LOG_LOCAL4", LOG_LOCAL4 }, { "LOG_LOCAL5", LOG_LOCAL5 },
	{ "LOG_LOCAL6", LOG_LOCAL6 }, { "LOG_LOCAL7", LOG_LOCAL7 },
};

static int facility(const char *name)
{
	if (!name || !*name || strcmp(name, "on") == 0)
		return LOG_USER;
	for (size_t i = 0; i < sizeof facilities / sizeof facilities[0]; i++)
		if (strcmp(name, facilities[i].name) == 0)
			return facilities[i].fac;
	return -1;
}

int log_facility_valid(const char *name)
{
	return facility(name) >= 0;
}

void log_syslog(const char *name, const struct logrec *r)
{
	int fac = facility(name);
	struct buf b;
	if (fac < 0)
		fac = LOG_USER;
	buf_init(&b);
	format_rec(&b, r);
	openlog("postie", LOG_PID, fac);
	syslog((r->exitcode == EX_OK ? LOG_INFO : LOG_ERR) | fac, "%s", b.s);
	closelog();
	buf_free(&b);
}
