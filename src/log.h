/* log.h - the -v/-d transcript on stderr (secrets redacted), the msmtp-style
 * log file line, and syslog. */
#ifndef POSTIE_LOG_H
#define POSTIE_LOG_H

#include <stddef.h>
#include "status.h"

/* 0 quiet, 1 (-v, -d) transcript */
void log_set_verbose(int level);
int log_verbose(void);

/* How much of a protocol line the transcript shows. */
enum redact {
	SHOW_LINE,    /* the line (an outgoing "AUTH <mech> <payload>" still
	                 shows only "AUTH <mech> [redacted]") */
	SHOW_NOTHING, /* "[redacted]": a SASL response */
};

/* One protocol line as sent (outgoing=1) or received (0), without CRLF.
 * Printed to stderr as "--> line" / "<-- line" when verbose, redacted as
 * the caller says for this line. */
void log_transcript(int outgoing, enum redact how, const char *line, size_t n);
/* A line of information in the transcript ("connected to ..."). */
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* A line on stderr whether or not -v is given ("postie: ..."), for what
 * the user must know although the run succeeds. */
void log_notice(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

struct logrec {
	const char *host;
	const char *tls;          /* "on", "off" or "failed" (opportunistic TLS fell back) */
	int auth;
	const char *user;
	const char *from;
	const char *recipients;   /* comma-separated */
	long long mailsize;       /* -1 when not delivered */
	int smtpstatus;           /* 0 if none */
	const char *smtpmsg;      /* NULL if none */
	const char *errormsg;     /* NULL if none */
	int exitcode;
};

/* Append msmtp's line format to path ("-" = stdout):
 * "<time> host=... tls=on|off|failed auth=on|off [user=...] from=... recipients=...
 *  [mailsize=N] [smtpstatus=N smtpmsg='...'] [errormsg='...'] exitcode=EX_..."
 * timefmt NULL = "%b %d %H:%M:%S". A new file is created mode 0600 (it
 * holds addresses). Failure to log is reported on stderr but does not
 * change the outcome. */
void log_file(const char *path, const char *timefmt, const struct logrec *r);
/* The same line (without time) to syslog; facility "on" or NULL = LOG_USER,
 * else "LOG_MAIL", "LOG_LOCAL0".."LOG_LOCAL7", "LOG_USER". */
void log_syslog(const char *facility, const struct logrec *r);
/* Nonzero if facility is a valid syslog setting. */
int log_facility_valid(const char *facility);

#endif
