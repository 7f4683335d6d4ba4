/* t-smtpcmd.c - unit tests for smtpcmd.c, the command parser of postie
 * -bs: a table of command lines and what each parses to (verb, path,
 * parameters) or the reply that refuses it, then the lines too long to
 * write in a table (the length limits, parameter length limits, the
 * quoting of a long parameter in the 555). */
#include "smtpcmd.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

#include "tap.h"

#define SYN_MAIL "501 5.5.4 Syntax: MAIL FROM:<address>"
#define SYN_RCPT "501 5.5.4 Syntax: RCPT TO:<address>"
#define UNSUP "555 5.5.4 Unsupported option: "
#define UNKNOWN "500 5.5.2 Error: command not recognized"
#define BADCHAR "500 5.5.2 Error: bad character in command"
#define NOTIMPL "502 5.5.1 Error: command not implemented"

static const struct pcase {
	const char *in;
	size_t n;             /* octets of in; 0: strlen(in) */
	enum smtpcmd_verb verb;
	const char *reply;    /* "" for a valid command, else "CODE TEXT" */
	const char *arg;      /* c->arg, NULL for none */
	const char *params;   /* the parameters, as params_str writes them */
} cases[] = {
	/* HELO, EHLO */
	{ "HELO client.example", 0, SC_HELO, "", "client.example", "" },
	{ "helo client.example", 0, SC_HELO, "", "client.example", "" },
	{ "HeLo   client.example  \t", 0, SC_HELO, "", "client.example", "" },
	{ "HELO\tclient.example", 0, SC_HELO, "", "client.example", "" },
	{ "HELO [192.0.2.1]", 0, SC_HELO, "", "[192.0.2.1]", "" },
	{ "HELO two words", 0, SC_HELO, "", "two words", "" },
	{ "HELO \xc3\xa9t\xc3\xa9.example", 0, SC_HELO, "", "\xc3\xa9t\xc3\xa9.example", "" },
	{ "HELO", 0, SC_HELO, "501 5.5.4 Syntax: HELO hostname", NULL, "" },
	{ "HELO   ", 0, SC_HELO, "501 5.5.4 Syntax: HELO hostname", NULL, "" },
	{ "HELO client", 4, SC_HELO, "501 5.5.4 Syntax: HELO hostname", NULL, "" },
	{ "EHLO client.example", 0, SC_EHLO, "", "client.example", "" },
	{ "ehlo localhost", 0, SC_EHLO, "", "localhost", "" },
	{ "EHLO", 0, SC_EHLO, "501 5.5.4 Syntax: EHLO hostname", NULL, "" },
	{ "EHLO \t ", 0, SC_EHLO, "501 5.5.4 Syntax: EHLO hostname", NULL, "" },

	/* DATA, RSET, QUIT: no argument */
	{ "DATA", 0, SC_DATA, "", NULL, "" },
	{ "data", 0, SC_DATA, "", NULL, "" },
	{ "DATA  ", 0, SC_DATA, "", NULL, "" },
	{ "DATA now", 0, SC_DATA, "501 5.5.4 Syntax: DATA", NULL, "" },
	{ "RSET", 0, SC_RSET, "", NULL, "" },
	{ "RSET x", 0, SC_RSET, "501 5.5.4 Syntax: RSET", NULL, "" },
	{ "QUIT", 0, SC_QUIT, "", NULL, "" },
	{ "quit", 0, SC_QUIT, "", NULL, "" },
	{ "QUIT now", 0, SC_QUIT, "501 5.5.4 Syntax: QUIT", NULL, "" },

	/* NOOP, HELP: any argument; VRFY: one */
	{ "NOOP", 0, SC_NOOP, "", NULL, "" },
	{ "NOOP anything at all", 0, SC_NOOP, "", NULL, "" },
	{ "NOOP\twith a tab", 0, SC_NOOP, "", NULL, "" },
	{ "HELP", 0, SC_HELP, "", NULL, "" },
	{ "help MAIL", 0, SC_HELP, "", NULL, "" },
	{ "VRFY postmaster", 0, SC_VRFY, "", "postmaster", "" },
	{ "VRFY  <a@b.example>  ", 0, SC_VRFY, "", "<a@b.example>", "" },
	{ "VRFY", 0, SC_VRFY, "501 5.5.4 Syntax: VRFY address", NULL, "" },
	{ "VRFY  ", 0, SC_VRFY, "501 5.5.4 Syntax: VRFY address", NULL, "" },

	/* not implemented, unknown */
	{ "STARTTLS", 0, SC_NOTIMPL, NOTIMPL, NULL, "" },
	{ "starttls", 0, SC_NOTIMPL, NOTIMPL, NULL, "" },
	{ "AUTH PLAIN AGJvYgBzZWNyZXQ=", 0, SC_NOTIMPL, NOTIMPL, NULL, "" },
	{ "BDAT 100 LAST", 0, SC_NOTIMPL, NOTIMPL, NULL, "" },
	{ "EXPN staff", 0, SC_NOTIMPL, NOTIMPL, NULL, "" },
	{ "ETRN example.org", 0, SC_NOTIMPL, NOTIMPL, NULL, "" },
	{ "TURN", 0, SC_NOTIMPL, NOTIMPL, NULL, "" },
	{ "", 0, SC_UNKNOWN, UNKNOWN, NULL, "" },
	{ "XYZZY", 0, SC_UNKNOWN, UNKNOWN, NULL, "" },
	{ "HELLO client.example", 0, SC_UNKNOWN, UNKNOWN, NULL, "" },
	{ "HEL", 0, SC_UNKNOWN, UNKNOWN, NULL, "" },
	{ " HELO client.example", 0, SC_UNKNOWN, UNKNOWN, NULL, "" },
	{ "MAILFROM:<a@b.example>", 0, SC_UNKNOWN, UNKNOWN, NULL, "" },
	{ "NOOPX", 4, SC_NOOP, "", NULL, "" },

	/* control characters */
	{ "NOOP\001", 0, SC_NOOP, BADCHAR, NULL, "" },
	{ "HELO a\0b", 8, SC_HELO, BADCHAR, NULL, "" },
	{ "\0", 1, SC_UNKNOWN, BADCHAR, NULL, "" },
	{ "MAIL FROM:<a@b.example>\r", 0, SC_MAIL, BADCHAR, NULL, "" },
	{ "RCPT TO:<a@b.example\n>", 0, SC_RCPT, BADCHAR, NULL, "" },
	{ "DATA\033[0m", 0, SC_DATA, BADCHAR, NULL, "" },
	{ "QUIT\x7f", 0, SC_QUIT, BADCHAR, NULL, "" },
	{ "XYZZY \001", 0, SC_UNKNOWN, BADCHAR, NULL, "" },

	/* MAIL: the path */
	{ "MAIL FROM:<alice@example.org>", 0, SC_MAIL, "", "alice@example.org", "" },
	{ "mail from:<alice@example.org>", 0, SC_MAIL, "", "alice@example.org", "" },
	{ "Mail From:<alice@example.org>", 0, SC_MAIL, "", "alice@example.org", "" },
	{ "MAIL FROM:<>", 0, SC_MAIL, "", "", "" },
	{ "MAIL FROM:<alice@example.org>  \t", 0, SC_MAIL, "", "alice@example.org", "" },
	{ "MAIL  FROM:<alice@example.org>", 0, SC_MAIL, "", "alice@example.org", "" },
	{ "MAIL\tFROM:<alice@example.org>", 0, SC_MAIL, "", "alice@example.org", "" },
	{ "MAIL FROM:<alice>", 0, SC_MAIL, "", "alice", "" },
	{ "MAIL FROM:<\"a b\"@example.org>", 0, SC_MAIL, "", "\"a b\"@example.org", "" },
	{ "MAIL FROM:<\"a\\\"> <b\"@example.org>", 0, SC_MAIL, "", "\"a\\\"> <b\"@example.org", "" },
	{ "MAIL FROM:<alice@[192.0.2.1]>", 0, SC_MAIL, "", "alice@[192.0.2.1]", "" },
	{ "MAIL FROM:<j\xc3\xb6ran@ex\xc3\xa4mple.org> SMTPUTF8", 0, SC_MAIL, "",
	  "j\xc3\xb6ran@ex\xc3\xa4mple.org", "smtputf8" },
	/* the source route is removed */
	{ "MAIL FROM:<@relay.example:alice@example.org>", 0, SC_MAIL, "", "alice@example.org", "" },
	{ "MAIL FROM:<@relay.example,@[192.0.2.1],@r-2.example:alice@example.org>", 0, SC_MAIL, "",
	  "alice@example.org", "" },
	{ "MAIL FROM:<@[IPv6:2001:db8::1]:alice@example.org>", 0, SC_MAIL, "", "alice@example.org", "" },
	/* Postfix's leniency */
	{ "MAIL FROM: <alice@example.org>", 0, SC_MAIL, "", "alice@example.org", "" },
	{ "MAIL FROM:  <>", 0, SC_MAIL, "", "", "" },
	{ "MAIL FROM:alice@example.org", 0, SC_MAIL, "", "alice@example.org", "" },
	{ "MAIL FROM: alice@example.org ", 0, SC_MAIL, "", "alice@example.org", "" },
	{ "MAIL FROM:alice@example.org BODY=7BIT", 0, SC_MAIL, "", "alice@example.org", "body=7" },
	{ "MAIL FROM:\"a b\"@example.org", 0, SC_MAIL, "", "\"a b\"@example.org", "" },
	{ "MAIL FROM:@relay.example:alice@example.org", 0, SC_MAIL, "", "alice@example.org", "" },
	/* syntax errors */
	{ "MAIL", 0, SC_MAIL, SYN_MAIL, NULL, "" },
	{ "MAIL FROM", 0, SC_MAIL, SYN_MAIL, NULL, "" },
	{ "MAIL FROM:", 0, SC_MAIL, SYN_MAIL, NULL, "" },
	{ "MAIL FROM:  ", 0, SC_MAIL, SYN_MAIL, NULL, "" },
	{ "MAIL FROM <alice@example.org>", 0, SC_MAIL, SYN_MAIL, NULL, "" },
	{ "MAIL FROM :<alice@example.org>", 0, SC_MAIL, SYN_MAIL, NULL, "" },
	{ "MAIL TO:<alice@example.org>", 0, SC_MAIL, SYN_MAIL, NULL, "" },
	{ "MAIL <alice@example.org>", 0, SC_MAIL, SYN_MAIL, NULL, "" },
	{ "MAIL FROM:<alice@example.org", 0, SC_MAIL, SYN_MAIL, NULL, "" },
	{ "MAIL FROM:alice@example.org>", 0, SC_MAIL, SYN_MAIL, NULL, "" },
	{ "MAIL FROM:<alice@example.org>x", 0, SC_MAIL, SYN_MAIL, NULL, "" },
	{ "MAIL FROM:<alice@example.org>SIZE=10", 0, SC_MAIL, SYN_MAIL, NULL, "" },
	{ "MAIL FROM:<alice@example.org>>", 0, SC_MAIL, SYN_MAIL, NULL, "" },
	{ "MAIL FROM:<<alice@example.org>>", 0, SC_MAIL, SYN_MAIL, NULL, "" },
	{ "MAIL FROM:<al<ice@example.org>", 0, SC_MAIL, SYN_MAIL, NULL, "" },
	{ "MAIL FROM:al<ice@example.org", 0, SC_MAIL, SYN_MAIL, NULL, "" },
	{ "MAIL FROM:<a lice@example.org>", 0, SC_MAIL, SYN_MAIL, NULL, "" },
	{ "MAIL FROM:<\"alice@example.org>", 0, SC_MAIL, SYN_MAIL, NULL, "" },
	{ "MAIL FROM:<\"alice\\\">", 0, SC_MAIL, SYN_MAIL, NULL, "" },
	{ "MAIL FROM:\"alice@example.org", 0, SC_MAIL, SYN_MAIL, NULL, "" },
	{ "MAIL FROM:<@relay.example>", 0, SC_MAIL, SYN_MAIL, NULL, "" },
	{ "MAIL FROM:<@relay.example:>", 0, SC_MAIL, SYN_MAIL, NULL, "" },
	{ "MAIL FROM:<@:alice@example.org>", 0, SC_MAIL, SYN_MAIL, NULL, "" },
	{ "MAIL FROM:<@a.example,b.example:alice@example.org>", 0, SC_MAIL, SYN_MAIL, NULL, "" },
	{ "MAIL FROM:<@a.example,:alice@example.org>", 0, SC_MAIL, SYN_MAIL, NULL, "" },
	{ "MAIL FROM:<@a;b:alice@example.org>", 0, SC_MAIL, SYN_MAIL, NULL, "" },
	{ "MAIL FROM:<@[192.0.2.1:alice@example.org>", 0, SC_MAIL, SYN_MAIL, NULL, "" },
	{ "MAIL FROM:<@[192.0.2.1]x:alice@example.org>", 0, SC_MAIL, SYN_MAIL, NULL, "" },

	/* MAIL: the parameters */
	{ "MAIL FROM:<a@b.example> SIZE=0", 0, SC_MAIL, "", "a@b.example", "size=0" },
	{ "MAIL FROM:<a@b.example> size=12345", 0, SC_MAIL, "", "a@b.example", "size=12345" },
	{ "MAIL FROM:<a@b.example> SIZE=007", 0, SC_MAIL, "", "a@b.example", "size=7" },
	{ "MAIL FROM:<a@b.example> SIZE=9223372036854775807", 0, SC_MAIL, "", "a@b.example",
	  "size=9223372036854775807" },
	{ "MAIL FROM:<a@b.example> SIZE=9223372036854775808", 0, SC_MAIL,
	  UNSUP "SIZE=9223372036854775808", "a@b.example", "" },
	{ "MAIL FROM:<a@b.example> SIZE=99999999999999999999999", 0, SC_MAIL,
	  UNSUP "SIZE=99999999999999999999999", "a@b.example", "" },
	{ "MAIL FROM:<a@b.example> SIZE=12k", 0, SC_MAIL, UNSUP "SIZE=12k", "a@b.example", "" },
	{ "MAIL FROM:<a@b.example> SIZE=-1", 0, SC_MAIL, UNSUP "SIZE=-1", "a@b.example", "" },
	{ "MAIL FROM:<a@b.example> SIZE=+1", 0, SC_MAIL, UNSUP "SIZE=+1", "a@b.example", "" },
	{ "MAIL FROM:<a@b.example> SIZE=", 0, SC_MAIL, UNSUP "SIZE=", "a@b.example", "" },
	{ "MAIL FROM:<a@b.example> SIZE", 0, SC_MAIL, UNSUP "SIZE", "a@b.example", "" },
	{ "MAIL FROM:<a@b.example> SIZE=1 size=2", 0, SC_MAIL, UNSUP "size=2", "a@b.example",
	  "size=1" },
	{ "MAIL FROM:<a@b.example> BODY=7BIT", 0, SC_MAIL, "", "a@b.example", "body=7" },
	{ "MAIL FROM:<a@b.example> body=8bitmime", 0, SC_MAIL, "", "a@b.example", "body=8" },
	{ "MAIL FROM:<a@b.example> BODY=BINARYMIME", 0, SC_MAIL, UNSUP "BODY=BINARYMIME",
	  "a@b.example", "" },
	{ "MAIL FROM:<a@b.example> BODY=8BIT", 0, SC_MAIL, UNSUP "BODY=8BIT", "a@b.example", "" },
	{ "MAIL FROM:<a@b.example> BODY", 0, SC_MAIL, UNSUP "BODY", "a@b.example", "" },
	{ "MAIL FROM:<a@b.example> BODY=7BIT BODY=7BIT", 0, SC_MAIL, UNSUP "BODY=7BIT",
	  "a@b.example", "body=7" },
	{ "MAIL FROM:<a@b.example> SMTPUTF8", 0, SC_MAIL, "", "a@b.example", "smtputf8" },
	{ "MAIL FROM:<a@b.example> smtputf8", 0, SC_MAIL, "", "a@b.example", "smtputf8" },
	{ "MAIL FROM:<a@b.example> SMTPUTF8=yes", 0, SC_MAIL, UNSUP "SMTPUTF8=yes", "a@b.example", "" },
	{ "MAIL FROM:<a@b.example> SMTPUTF8=", 0, SC_MAIL, UNSUP "SMTPUTF8=", "a@b.example", "" },
	{ "MAIL FROM:<a@b.example> SMTPUTF8 SMTPUTF8", 0, SC_MAIL, UNSUP "SMTPUTF8", "a@b.example",
	  "smtputf8" },
	{ "MAIL FROM:<a@b.example> RET=FULL", 0, SC_MAIL, "", "a@b.example", "ret=full" },
	{ "MAIL FROM:<a@b.example> ret=hdrs", 0, SC_MAIL, "", "a@b.example", "ret=headers" },
	{ "MAIL FROM:<a@b.example> RET=HEADERS", 0, SC_MAIL, UNSUP "RET=HEADERS", "a@b.example", "" },
	{ "MAIL FROM:<a@b.example> RET=", 0, SC_MAIL, UNSUP "RET=", "a@b.example", "" },
	{ "MAIL FROM:<a@b.example> RET=FULL RET=HDRS", 0, SC_MAIL, UNSUP "RET=HDRS", "a@b.example",
	  "ret=full" },
	{ "MAIL FROM:<a@b.example> ENVID=QQ314159", 0, SC_MAIL, "", "a@b.example", "envid=QQ314159" },
	{ "MAIL FROM:<a@b.example> envid=a+2Bb+3Dc+20d", 0, SC_MAIL, "", "a@b.example",
	  "envid=a+b=c d" },
	{ "MAIL FROM:<a@b.example> ENVID=a+2bb", 0, SC_MAIL, "", "a@b.example", "envid=a+b" },
	{ "MAIL FROM:<a@b.example> ENVID=<id@x>", 0, SC_MAIL, "", "a@b.example", "envid=<id@x>" },
	{ "MAIL FROM:<a@b.example> ENVID=a=b", 0, SC_MAIL, UNSUP "ENVID=a=b", "a@b.example", "" },
	{ "MAIL FROM:<a@b.example> ENVID=a+2", 0, SC_MAIL, UNSUP "ENVID=a+2", "a@b.example", "" },
	{ "MAIL FROM:<a@b.example> ENVID=a+", 0, SC_MAIL, UNSUP "ENVID=a+", "a@b.example", "" },
	{ "MAIL FROM:<a@b.example> ENVID=a+GG", 0, SC_MAIL, UNSUP "ENVID=a+GG", "a@b.example", "" },
	{ "MAIL FROM:<a@b.example> ENVID=a+0Ab", 0, SC_MAIL, UNSUP "ENVID=a+0Ab", "a@b.example", "" },
	{ "MAIL FROM:<a@b.example> ENVID=+00", 0, SC_MAIL, UNSUP "ENVID=+00", "a@b.example", "" },
	{ "MAIL FROM:<a@b.example> ENVID=+7F", 0, SC_MAIL, UNSUP "ENVID=+7F", "a@b.example", "" },
	{ "MAIL FROM:<a@b.example> ENVID=+C3+A9", 0, SC_MAIL, UNSUP "ENVID=+C3+A9", "a@b.example", "" },
	{ "MAIL FROM:<a@b.example> ENVID=\xc3\xa9", 0, SC_MAIL, UNSUP "ENVID=\xc3\xa9", "a@b.example",
	  "" },
	{ "MAIL FROM:<a@b.example> ENVID=", 0, SC_MAIL, UNSUP "ENVID=", "a@b.example", "" },
	{ "MAIL FROM:<a@b.example> ENVID=x ENVID=x", 0, SC_MAIL, UNSUP "ENVID=x", "a@b.example",
	  "envid=x" },
	{ "MAIL FROM:<a@b.example> SIZE=10 BODY=8BITMIME SMTPUTF8 RET=HDRS ENVID=id1", 0, SC_MAIL, "",
	  "a@b.example", "size=10 body=8 smtputf8 ret=headers envid=id1" },
	{ "MAIL FROM:<> \t ret=full   SIZE=99 ", 0, SC_MAIL, "", "", "size=99 ret=full" },
	/* unknown here, or anywhere */
	{ "MAIL FROM:<a@b.example> NOTIFY=NEVER", 0, SC_MAIL, UNSUP "NOTIFY=NEVER", "a@b.example", "" },
	{ "MAIL FROM:<a@b.example> ORCPT=rfc822;a@b.example", 0, SC_MAIL,
	  UNSUP "ORCPT=rfc822;a@b.example", "a@b.example", "" },
	{ "MAIL FROM:<a@b.example> AUTH=<>", 0, SC_MAIL, UNSUP "AUTH=<>", "a@b.example", "" },
	{ "MAIL FROM:<a@b.example> XFOO", 0, SC_MAIL, UNSUP "XFOO", "a@b.example", "" },
	{ "MAIL FROM:<a@b.example> =x", 0, SC_MAIL, UNSUP "=x", "a@b.example", "" },
	{ "MAIL FROM:<a@b.example> SIZE=1 XFOO=bar SMTPUTF8", 0, SC_MAIL, UNSUP "XFOO=bar",
	  "a@b.example", "size=1" },

	/* RCPT: the path */
	{ "RCPT TO:<bob@example.org>", 0, SC_RCPT, "", "bob@example.org", "" },
	{ "rcpt to:<bob@example.org>", 0, SC_RCPT, "", "bob@example.org", "" },
	{ "RCPT TO: <bob@example.org>", 0, SC_RCPT, "", "bob@example.org", "" },
	{ "RCPT TO:bob@example.org", 0, SC_RCPT, "", "bob@example.org", "" },
	{ "RCPT TO:<postmaster>", 0, SC_RCPT, "", "postmaster", "" },
	{ "RCPT TO:<Postmaster@example.org>", 0, SC_RCPT, "", "Postmaster@example.org", "" },
	{ "RCPT TO:<@a.example,@b.example:bob@example.org>", 0, SC_RCPT, "", "bob@example.org", "" },
	{ "RCPT TO:<\"bob smith\"@example.org>", 0, SC_RCPT, "", "\"bob smith\"@example.org", "" },
	{ "RCPT TO:<>", 0, SC_RCPT, SYN_RCPT, NULL, "" },
	{ "RCPT TO: <>", 0, SC_RCPT, SYN_RCPT, NULL, "" },
	{ "RCPT", 0, SC_RCPT, SYN_RCPT, NULL, "" },
	{ "RCPT TO", 0, SC_RCPT, SYN_RCPT, NULL, "" },
	{ "RCPT TO:", 0, SC_RCPT, SYN_RCPT, NULL, "" },
	{ "RCPT FROM:<bob@example.org>", 0, SC_RCPT, SYN_RCPT, NULL, "" },
	{ "RCPT TO:<bob@example.org", 0, SC_RCPT, SYN_RCPT, NULL, "" },
	{ "RCPT TO:<bob@example.org>junk", 0, SC_RCPT, SYN_RCPT, NULL, "" },
	{ "RCPT TO:<b ob@example.org>", 0, SC_RCPT, SYN_RCPT, NULL, "" },
	{ "RCPT TO:<@a.example:>", 0, SC_RCPT, SYN_RCPT, NULL, "" },

	/* RCPT: the parameters */
	{ "RCPT TO:<bob@example.org> NOTIFY=NEVER", 0, SC_RCPT, "", "bob@example.org", "notify=never" },
	{ "RCPT TO:<bob@example.org> notify=success,failure", 0, SC_RCPT, "", "bob@example.org",
	  "notify=success,failure" },
	{ "RCPT TO:<bob@example.org> NOTIFY=FAILURE,Delay,SUCCESS", 0, SC_RCPT, "", "bob@example.org",
	  "notify=failure,delay,success" },
	{ "RCPT TO:<bob@example.org> NOTIFY=DELAY", 0, SC_RCPT, "", "bob@example.org", "notify=delay" },
	{ "RCPT TO:<bob@example.org> NOTIFY=NEVER,SUCCESS", 0, SC_RCPT, UNSUP "NOTIFY=NEVER,SUCCESS",
	  "bob@example.org", "" },
	{ "RCPT TO:<bob@example.org> NOTIFY=SUCCESS,NEVER", 0, SC_RCPT, UNSUP "NOTIFY=SUCCESS,NEVER",
	  "bob@example.org", "" },
	{ "RCPT TO:<bob@example.org> NOTIFY=NEVER,NEVER", 0, SC_RCPT, UNSUP "NOTIFY=NEVER,NEVER",
	  "bob@example.org", "" },
	{ "RCPT TO:<bob@example.org> NOTIFY=SUCCESS,SUCCESS", 0, SC_RCPT,
	  UNSUP "NOTIFY=SUCCESS,SUCCESS", "bob@example.org", "" },
	{ "RCPT TO:<bob@example.org> NOTIFY=SUCCESS,", 0, SC_RCPT, UNSUP "NOTIFY=SUCCESS,",
	  "bob@example.org", "" },
	{ "RCPT TO:<bob@example.org> NOTIFY=,SUCCESS", 0, SC_RCPT, UNSUP "NOTIFY=,SUCCESS",
	  "bob@example.org", "" },
	{ "RCPT TO:<bob@example.org> NOTIFY=ALWAYS", 0, SC_RCPT, UNSUP "NOTIFY=ALWAYS",
	  "bob@example.org", "" },
	{ "RCPT TO:<bob@example.org> NOTIFY=", 0, SC_RCPT, UNSUP "NOTIFY=", "bob@example.org", "" },
	{ "RCPT TO:<bob@example.org> NOTIFY", 0, SC_RCPT, UNSUP "NOTIFY", "bob@example.org", "" },
	{ "RCPT TO:<bob@example.org> NOTIFY=DELAY NOTIFY=DELAY", 0, SC_RCPT, UNSUP "NOTIFY=DELAY",
	  "bob@example.org", "notify=delay" },
	{ "RCPT TO:<bob@example.org> ORCPT=rfc822;bob@example.org", 0, SC_RCPT, "", "bob@example.org",
	  "orcpt=bob@example.org" },
	{ "RCPT TO:<bob@example.org> orcpt=RFC822;bob+2Bx+3D@example.org", 0, SC_RCPT, "",
	  "bob@example.org", "orcpt=bob+x=@example.org" },
	{ "RCPT TO:<bob@example.org> ORCPT=utf-8;b\\x{F6}b@example.org", 0, SC_RCPT, "",
	  "bob@example.org", "" },
	{ "RCPT TO:<bob@example.org> ORCPT=x400;c=xx", 0, SC_RCPT, "", "bob@example.org", "" },
	{ "RCPT TO:<bob@example.org> ORCPT=rfc822;", 0, SC_RCPT, UNSUP "ORCPT=rfc822;",
	  "bob@example.org", "" },
	{ "RCPT TO:<bob@example.org> ORCPT=rfc822", 0, SC_RCPT, UNSUP "ORCPT=rfc822",
	  "bob@example.org", "" },
	{ "RCPT TO:<bob@example.org> ORCPT=;bob@example.org", 0, SC_RCPT, UNSUP "ORCPT=;bob@example.org",
	  "bob@example.org", "" },
	{ "RCPT TO:<bob@example.org> ORCPT=rfc(822;bob@example.org", 0, SC_RCPT,
	  UNSUP "ORCPT=rfc(822;bob@example.org", "bob@example.org", "" },
	{ "RCPT TO:<bob@example.org> ORCPT=rfc822;a=b@example.org", 0, SC_RCPT,
	  UNSUP "ORCPT=rfc822;a=b@example.org", "bob@example.org", "" },
	{ "RCPT TO:<bob@example.org> ORCPT=rfc822;a+0Db@example.org", 0, SC_RCPT,
	  UNSUP "ORCPT=rfc822;a+0Db@example.org", "bob@example.org", "" },
	{ "RCPT TO:<bob@example.org> ORCPT=", 0, SC_RCPT, UNSUP "ORCPT=", "bob@example.org", "" },
	{ "RCPT TO:<bob@example.org> ORCPT=rfc822;a@b ORCPT=rfc822;a@b", 0, SC_RCPT,
	  UNSUP "ORCPT=rfc822;a@b", "bob@example.org", "orcpt=a@b" },
	{ "RCPT TO:<bob@example.org> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;bob@example.org", 0, SC_RCPT,
	  "", "bob@example.org", "notify=success,failure orcpt=bob@example.org" },
	{ "RCPT TO:bob@example.org NOTIFY=NEVER", 0, SC_RCPT, "", "bob@example.org", "notify=never" },
	{ "RCPT TO:<bob@example.org> SIZE=10", 0, SC_RCPT, UNSUP "SIZE=10", "bob@example.org", "" },
	{ "RCPT TO:<bob@example.org> SMTPUTF8", 0, SC_RCPT, UNSUP "SMTPUTF8", "bob@example.org", "" },
	{ "RCPT TO:<bob@example.org> BODY=8BITMIME", 0, SC_RCPT, UNSUP "BODY=8BITMIME",
	  "bob@example.org", "" },
};

/* The parameters of c, in a fixed order, those given only. */
static void params_str(const struct smtpcmd *c, char *out, size_t n)
{
	struct buf b;
	buf_init(&b);
	if (c->size != -1)
		buf_printf(&b, " size=%lld", c->size);
	if (c->body)
		buf_printf(&b, " body=%d", c->body);
	if (c->smtputf8)
		buf_adds(&b, " smtputf8");
	if (c->ret)
		buf_printf(&b, " ret=%s", c->ret);
	if (c->envid)
		buf_printf(&b, " envid=%s", c->envid);
	if (c->notify)
		buf_printf(&b, " notify=%s", c->notify);
	if (c->orcpt)
		buf_printf(&b, " orcpt=%s", c->orcpt);
	snprintf(out, n, "%s", b.len ? b.s + 1 : "");
	buf_free(&b);
}

/* "CODE TEXT", or "" for code 0 (where the reply must be empty). */
static void reply_str(const struct smtpcmd *c, char *out, size_t n)
{
	if (c->code)
		snprintf(out, n, "%d %s", c->code, c->reply);
	else
		snprintf(out, n, "%s", c->reply);
}

/* Parse line (n octets) and compare with what is wanted. */
static int expect(const char *line, size_t n, enum smtpcmd_verb verb, const char *reply,
                  const char *arg, const char *params)
{
	struct smtpcmd c;
	char got_reply[256], got_params[1024];
	int rc = smtpcmd_parse(line, n, &c), bad = 0;
	reply_str(&c, got_reply, sizeof got_reply);
	params_str(&c, got_params, sizeof got_params);
	if (rc != c.code)
		bad = fail("returned %d, code %d", rc, c.code);
	else if (c.verb != verb)
		bad = fail("verb %d, want %d", (int)c.verb, (int)verb);
	else if (strcmp(got_reply, reply))
		bad = fail("reply '%s', want '%s'", got_reply, reply);
	else if (arg ? !c.arg || strcmp(c.arg, arg) : c.arg != NULL)
		bad = fail("arg '%s', want '%s'", c.arg ? c.arg : "(null)", arg ? arg : "(null)");
	else if (strcmp(got_params, params))
		bad = fail("params '%s', want '%s'", got_params, params);
	smtpcmd_free(&c);
	if (!bad && (c.arg || c.envid || c.notify || c.orcpt))
		bad = fail("smtpcmd_free left a pointer behind");
	return bad;
}

static int run_case(const struct pcase *p)
{
	return expect(p->in, p->n ? p->n : strlen(p->in), p->verb, p->reply, p->arg, p->params);
}

/* ---- lines built at run time ---- */

/* prefix, then fill up to len octets in all with suffix at the end. */
static char *build(const char *prefix, char fill, size_t len, const char *suffix)
{
	size_t p = strlen(prefix), s = strlen(suffix);
	char *line = xmalloc(len + 1);
	memcpy(line, prefix, p);
	memset(line + p, fill, len - p - s);
	memcpy(line + len - s, suffix, s + 1);
	return line;
}

/* The line of len octets from prefix, fill and suffix, parsed. */
static int expect_built(const char *prefix, char fill, size_t len, const char *suffix,
                        enum smtpcmd_verb verb, const char *reply, int want_arg,
                        const char *params)
{
	char *line = build(prefix, fill, len, suffix), *arg = NULL;
	int bad;
	if (want_arg) {  /* the path: after "MAIL FROM:<" or "RCPT TO:<", up to '>' */
		const char *lt = strchr(line, '<'), *gt = strchr(lt, '>');
		arg = xstrndup(lt + 1, (size_t)(gt - lt - 1));
	}
	bad = expect(line, len, verb, reply, arg, params);
	free(line);
	free(arg);
	return bad;
}

#define TOO_LONG "500 5.5.2 Error: line too long"

static int t_noop_510(void)
{
	return expect_built("NOOP ", 'x', SMTPCMD_MAX_LINE, "", SC_NOOP, "", 0, "");
}

static int t_noop_511(void)
{
	return expect_built("NOOP ", 'x', SMTPCMD_MAX_LINE + 1, "", SC_NOOP, TOO_LONG, 0, "");
}

static int t_helo_511(void)
{
	return expect_built("HELO ", 'x', SMTPCMD_MAX_LINE + 1, "", SC_HELO, TOO_LONG, 0, "");
}

static int t_unknown_600(void)
{
	return expect_built("XYZZY ", 'x', 600, "", SC_UNKNOWN, TOO_LONG, 0, "");
}

static int t_mail_1022(void)
{
	return expect_built("MAIL FROM:<", 'a', SMTPCMD_MAX_MAIL_LINE, "@example.org>", SC_MAIL, "",
	                    1, "");
}

static int t_mail_1023(void)
{
	return expect_built("MAIL FROM:<", 'a', SMTPCMD_MAX_MAIL_LINE + 1, "@example.org>", SC_MAIL,
	                    TOO_LONG, 0, "");
}

static int t_rcpt_1022(void)
{
	return expect_built("RCPT TO:<", 'b', SMTPCMD_MAX_MAIL_LINE, "@example.org> NOTIFY=NEVER",
	                    SC_RCPT, "", 1, "notify=never");
}

static int t_rcpt_1023(void)
{
	return expect_built("RCPT TO:<", 'b', SMTPCMD_MAX_MAIL_LINE + 1, "@example.org>", SC_RCPT,
	                    TOO_LONG, 0, "");
}

/* Too long wins over a bad character. */
static int t_long_badchar(void)
{
	return expect_built("NOOP \001", 'x', SMTPCMD_MAX_LINE + 1, "", SC_NOOP, TOO_LONG, 0, "");
}

/* n copies of ch, allocated. */
static char *rep(char ch, size_t n)
{
	char *s = xmalloc(n + 1);
	memset(s, ch, n);
	s[n] = '\0';
	return s;
}

/* RFC 3461 4.4: ENVID up to 100 characters, counted as written. */
static int t_envid_100(void)
{
	char *id = rep('e', 100), *line = xasprintf("MAIL FROM:<a@b.example> ENVID=%s", id);
	char *want = xasprintf("envid=%s", id);
	int bad = expect(line, strlen(line), SC_MAIL, "", "a@b.example", want);
	free(id);
	free(line);
	free(want);
	return bad;
}

static int t_envid_101(void)
{
	char *id = rep('e', 101), *line = xasprintf("MAIL FROM:<a@b.example> ENVID=%s", id);
	char *want = xasprintf(UNSUP "ENVID=%s", id);
	int bad = expect(line, strlen(line), SC_MAIL, want, "a@b.example", "");
	free(id);
	free(line);
	free(want);
	return bad;
}

/* 34 "+41" are 102 characters as written, though "A" x 34 when decoded. */
static int t_envid_encoded_102(void)
{
	struct buf id;
	char *line, *want;
	int bad;
	buf_init(&id);
	for (int i = 0; i < 34; i++)
		buf_adds(&id, "+41");
	line = xasprintf("MAIL FROM:<a@b.example> ENVID=%s", id.s);
	want = xasprintf(UNSUP "ENVID=%s", id.s);
	bad = expect(line, strlen(line), SC_MAIL, want, "a@b.example", "");
	buf_free(&id);
	free(line);
	free(want);
	return bad;
}

/* RFC 3461 4.2: ORCPT up to 500 characters, "rfc822;" included. */
static int t_orcpt_500(void)
{
	char *local = rep('o', 500 - strlen("rfc822;@b")), *want = xasprintf("orcpt=%s@b", local);
	char *line = xasprintf("RCPT TO:<a@b.example> ORCPT=rfc822;%s@b", local);
	int bad = expect(line, strlen(line), SC_RCPT, "", "a@b.example", want);
	free(local);
	free(want);
	free(line);
	return bad;
}

/* 501 characters: refused, and the 555 quotes as much as fits. */
static int t_orcpt_501(void)
{
	char *local = rep('o', 501 - strlen("rfc822;@b"));
	char *line = xasprintf("RCPT TO:<a@b.example> ORCPT=rfc822;%s@b", local);
	char *want = xasprintf(UNSUP "ORCPT=rfc822;%.*s", 173 - 13, local);
	int bad = expect(line, strlen(line), SC_RCPT, want, "a@b.example", "");
	if (!bad && strlen(want) != 4 + sizeof ((struct smtpcmd *)0)->reply - 1)
		bad = fail("the quoted reply is %zu octets long", strlen(want));
	free(local);
	free(line);
	free(want);
	return bad;
}

/* A long parameter is cut before a UTF-8 character that would not fit. */
static int t_quote_utf8_cut(void)
{
	char *a = rep('a', 167);
	char *line = xasprintf("MAIL FROM:<a@b.example> XFOO=%s\xc3\xa9zzz", a);
	char *want = xasprintf(UNSUP "XFOO=%s", a);
	int bad = expect(line, strlen(line), SC_MAIL, want, "a@b.example", "");
	free(a);
	free(line);
	free(want);
	return bad;
}

/* Fields of an earlier parse do not survive into the next. */
static int t_reuse(void)
{
	struct smtpcmd c;
	smtpcmd_parse("MAIL FROM:<a@b> SIZE=5 RET=FULL", 31, &c);
	smtpcmd_free(&c);
	smtpcmd_parse("NOOP", 4, &c);
	if (c.size != -1 || c.ret || c.arg || c.code || c.reply[0])
		return fail("size %lld ret %s arg %s code %d", c.size, c.ret ? c.ret : "(null)",
		            c.arg ? c.arg : "(null)", c.code);
	smtpcmd_free(&c);
	return 0;
}

static const struct tap_case built_cases[] = {
	{ "NOOP line of 510 octets: taken", t_noop_510 },
	{ "NOOP line of 511 octets: too long", t_noop_511 },
	{ "HELO line of 511 octets: too long", t_helo_511 },
	{ "unknown command of 600 octets: too long", t_unknown_600 },
	{ "MAIL line of 1022 octets: taken", t_mail_1022 },
	{ "MAIL line of 1023 octets: too long", t_mail_1023 },
	{ "RCPT line of 1022 octets with NOTIFY: taken", t_rcpt_1022 },
	{ "RCPT line of 1023 octets: too long", t_rcpt_1023 },
	{ "too long wins over a bad character", t_long_badchar },
	{ "ENVID of 100 characters: taken", t_envid_100 },
	{ "ENVID of 101 characters: 555", t_envid_101 },
	{ "ENVID of 102 characters as written, 34 decoded: 555", t_envid_encoded_102 },
	{ "ORCPT of 500 characters: taken", t_orcpt_500 },
	{ "ORCPT of 501 characters: 555, quoted as far as it fits", t_orcpt_501 },
	{ "a long parameter is quoted up to a whole UTF-8 character", t_quote_utf8_cut },
	{ "a parse starts from nothing", t_reuse },
};

/* in (n octets) for a TAP line: control characters as \ooo. */
static void printable(const char *in, size_t n, char *out, size_t size)
{
	size_t o = 0;
	for (size_t i = 0; i < n && o + 5 < size; i++) {
		unsigned char ch = (unsigned char)in[i];
		if (ch < 0x20 || ch == 0x7F)
			o += (size_t)snprintf(out + o, size - o, "\\%03o", ch);
		else
			out[o++] = (char)ch;
	}
	out[o] = '\0';
}

int main(void)
{
	char desc[512];
	for (size_t i = 0; i < NELEM(cases); i++) {
		printable(cases[i].in, cases[i].n ? cases[i].n : strlen(cases[i].in), desc, sizeof desc);
		reportf(run_case(&cases[i]), "parse '%s'", desc);
	}
	run_cases(built_cases, NELEM(built_cases));
	return tap_done();
}
