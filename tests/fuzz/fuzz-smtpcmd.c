/* fuzz-smtpcmd.c - libFuzzer target for the -bs command parser: the input
 * is what an SMTP client sends. Each line (split at LF, a CR before it
 * removed, as the session reads them) goes through smtpcmd_parse, and so
 * does the whole input as one line, NULs and all. Besides the sanitizers,
 * what the parser promises is checked, and a broken promise aborts: the
 * return value is the code, the reply is one of the parser's and fits, a
 * valid MAIL or RCPT has a path that parses again to itself, decoded
 * parameters hold printable ASCII only. */
#include "fuzz.h"
#include "smtpcmd.h"

static void check(int ok)
{
	if (!ok)
		abort();
}

static int printable(const char *s)
{
	for (; s && *s; s++)
		if (*s < 0x20 || *s > 0x7E)
			return 0;
	return 1;
}

static int no_ctl(const char *s)
{
	for (; s && *s; s++)
		if (((unsigned char)*s < 0x20 && *s != '\t') || *s == 0x7F)
			return 0;
	return 1;
}

/* "<arg>" as a MAIL or RCPT path gives arg back (unless arg itself looks
 * like a source route, which the second parse would remove, or the line
 * with the brackets added is too long). */
static void reparse_path(const struct smtpcmd *c)
{
	struct smtpcmd again;
	char *line;
	if (c->arg[0] == '@')
		return;
	line = xasprintf("%s<%s>", c->verb == SC_MAIL ? "MAIL FROM:" : "RCPT TO:", c->arg);
	if (strlen(line) <= SMTPCMD_MAX_MAIL_LINE) {
		check(smtpcmd_parse(line, strlen(line), &again) == 0);
		check(strcmp(again.arg, c->arg) == 0);
		smtpcmd_free(&again);
	}
	free(line);
}

static int trimmed(const char *s)
{
	size_t n = strlen(s);
	return n > 0 && s[0] != ' ' && s[0] != '\t' && s[n - 1] != ' ' && s[n - 1] != '\t';
}

static void check_valid(const struct smtpcmd *c, size_t n)
{
	check(c->reply[0] == '\0' && n <= SMTPCMD_MAX_MAIL_LINE);
	check(c->verb != SC_NOTIMPL && c->verb != SC_UNKNOWN);
	check(no_ctl(c->arg) && printable(c->envid) && printable(c->orcpt));
	check(c->size >= -1 && (c->body == 0 || c->body == 7 || c->body == 8));
	if (c->verb == SC_HELO || c->verb == SC_EHLO || c->verb == SC_VRFY)
		check(c->arg && trimmed(c->arg));
	if (c->verb == SC_MAIL || c->verb == SC_RCPT) {
		check(c->arg != NULL && (c->verb == SC_MAIL || c->arg[0]));
		reparse_path(c);
	}
	if (c->verb != SC_MAIL)
		check(c->size == -1 && !c->body && !c->smtputf8 && !c->ret && !c->envid);
	if (c->verb != SC_RCPT)
		check(!c->notify && !c->orcpt);
	if (c->envid)
		check(strlen(c->envid) <= 100);
	if (c->notify)
		check(strspn(c->notify, "abcdefghijklmnopqrstuvwxyz,") == strlen(c->notify));
}

static void parse(const char *line, size_t n)
{
	struct smtpcmd c;
	int rc = smtpcmd_parse(line, n, &c);
	check(rc == c.code);
	check((unsigned)c.verb <= SC_UNKNOWN);
	check(memchr(c.reply, '\0', sizeof c.reply) != NULL);
	if (rc == 0)
		check_valid(&c, n);
	else
		check((rc == 500 || rc == 501 || rc == 502 || rc == 555) && c.reply[0] - '0' == rc / 100
		      && c.reply[1] == '.');
	if (n > SMTPCMD_MAX_MAIL_LINE)
		check(rc == 500);
	if (c.verb == SC_NOTIMPL || c.verb == SC_UNKNOWN)
		check(rc == 500 || rc == 502);
	smtpcmd_free(&c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data;
	size_t left = size;
	while (left > 0) {
		const char *nl = memchr(s, '\n', left);
		size_t n = nl ? (size_t)(nl - s) : left, len = n;
		if (len > 0 && s[len - 1] == '\r')
			len--;
		parse(s, len);
		s += n + (nl != NULL);
		left -= n + (nl != NULL);
	}
	parse((const char *)data, size);
	return 0;
}
