/* secret.c - password sources. passwordeval runs through run_command(),
 * whose child gets /dev/null as stdin (the message can never be read by
 * it) and whose argv is the user's command only. */
#include "secret.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "util.h"

#define NETRC_MAX (1024 * 1024)

void secret_free(char *s)
{
	if (s) {
		wipe(s, strlen(s));
		free(s);
	}
}

/* The next whitespace-separated token of a netrc text ("..." quotes a
 * token with spaces; \ escapes the next character), or NULL at the end. */
static char *next_token(const char **p)
{
	const char *s = *p;
	while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r' || *s == ',')
		s++;
	if (!*s) {
		*p = s;
		return NULL;
	}
	struct buf b;
	buf_init(&b);
	if (*s == '"') {
		for (s++; *s && *s != '"'; s++) {
			if (*s == '\\' && s[1])
				s++;
			buf_addc(&b, *s);
		}
		if (*s == '"')
			s++;
	} else {
		for (; *s && *s != ' ' && *s != '\t' && *s != '\n' && *s != '\r' && *s != ','; s++) {
			if (*s == '\\' && s[1])
				s++;
			buf_addc(&b, *s);
		}
	}
	*p = s;
	return buf_steal(&b);
}

/* Skip a macdef body: everything up to an empty line (LF or CRLF). */
static void skip_macdef(const char **p)
{
	const char *s = strchr(*p, '\n');
	while (s && s[1] && s[1] != '\n' && !(s[1] == '\r' && s[2] == '\n'))
		s = strchr(s + 1, '\n');
	*p = s ? s + 1 : *p + strlen(*p);
}

struct netrc_entry {
	int kind;            /* 0 none yet, 1 machine, 2 default */
	char *name, *login, *pass;
};

static void entry_clear(struct netrc_entry *n)
{
	free(n->name);
	free(n->login);
	secret_free(n->pass);
	memset(n, 0, sizeof *n);
}

static int entry_matches(const struct netrc_entry *n, const char *host, const char *user)
{
	if (!n->pass || (n->kind == 1 && ascii_casecmp(n->name, host) != 0) || n->kind == 0)
		return 0;
	return !user || !n->login || strcmp(n->login, user) == 0;
}

/* The entry just ended: keep its password if it is the one wanted.
 * Returns 1 when a machine entry matched (the search is over). */
static int entry_end(struct netrc_entry *n, const char *host, const char *user,
                     char **machine, char **dflt)
{
	int done = 0;
	if (entry_matches(n, host, user)) {
		char **slot = n->kind == 1 ? machine : dflt;
		if (!*slot) {
			*slot = n->pass;
			n->pass = NULL;
		}
		done = n->kind == 1;
	}
	entry_clear(n);
	return done;
}

int netrc_lookup(const char *text, const char *host, const char *user, char **password)
{
	const char *p = text;
	struct netrc_entry cur = { 0, NULL, NULL, NULL };
	char *machine = NULL, *dflt = NULL, *tok;
	int done = 0;
	while (!done && (tok = next_token(&p))) {
		if (strcmp(tok, "machine") == 0 || strcmp(tok, "default") == 0) {
			done = entry_end(&cur, host, user, &machine, &dflt);
			cur.kind = tok[0] == 'm' ? 1 : 2;
			if (cur.kind == 1)
				cur.name = next_token(&p);
		} else if (strcmp(tok, "login") == 0) {
			free(cur.login);
			cur.login = next_token(&p);
		} else if (strcmp(tok, "password") == 0) {
			secret_free(cur.pass);
			cur.pass = next_token(&p);
		} else if (strcmp(tok, "account") == 0) {
			secret_free(next_token(&p));
		} else if (strcmp(tok, "macdef") == 0) {
			free(next_token(&p));
			skip_macdef(&p);
		}
		free(tok);
	}
	if (!done)
		entry_end(&cur, host, user, &machine, &dflt);
	entry_clear(&cur);
	if (machine) {
		secret_free(dflt);
		*password = machine;
		return 1;
	}
	*password = dflt;
	return dflt != NULL;
}

static int read_file(const char *path, char **out)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	int r = read_fd(fd, NETRC_MAX, out);
	close(fd);
	return r;
}

/* Whose secret: the policy's user and account name, the hop's host. */
struct owner {
	const char *name, *user, *host, *socket, *password, *passwordeval;
};

static int from_netrc(const char *path, const struct owner *w, char **out)
{
	char *text = NULL;
	if (!w->host || read_file(path, &text) < 0)
		return 0;
	int r = netrc_lookup(text, w->host, w->user, out);
	secret_free(text);
	return r;
}

int secret_eval(const char *account, const char *keyword, const char *what, const char *cmd,
                char **out, struct perr *e)
{
	struct buf o, err;
	buf_init(&o);
	buf_init(&err);
	int st = run_command(cmd, &o, &err);
	/* the first line of its output is the secret (pass(1) prints more) */
	size_t n = o.s ? strcspn(o.s, "\r\n") : 0;
	char *msg = NULL;
	if (err.len) {
		size_t m = strcspn(err.s, "\n");
		msg = xstrndup(err.s, m);
	}
	int r = EX_OK;
	if (st < 0)
		r = perr_fail(e, FC_CONFIG, "account %s: cannot run %s: %s", account, keyword, strerror(errno));
	else if (st != 0)
		r = perr_fail(e, FC_CONFIG, "account %s: %s failed with exit status %d%s%s",
		              account, keyword, st, msg ? ": " : "", msg ? msg : "");
	else if (n == 0)
		r = perr_fail(e, FC_CONFIG, "account %s: %s printed no %s%s%s", account, keyword, what,
		              msg ? ": " : "", msg ? msg : "");
	else
		*out = xstrndup(o.s, n);
	free(msg);
	buf_free(&o);
	buf_free(&err);
	return r;
}

/* Ask on the terminal with echo off. 0 when there is no terminal. */
static int from_tty(const struct owner *w, char **out)
{
	int fd = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	struct termios old, quiet;
	int have_termios = tcgetattr(fd, &old) == 0;
	char *prompt = xasprintf("password for %s at %s: ", w->user ? w->user : "(no user)",
	                         w->host ? w->host : w->socket);
	if (write(fd, prompt, strlen(prompt)) < 0) {
		free(prompt);
		close(fd);
		return 0;
	}
	free(prompt);
	if (have_termios) {
		quiet = old;
		quiet.c_lflag &= ~(tcflag_t)ECHO;
		tcsetattr(fd, TCSAFLUSH, &quiet);
	}
	struct buf b;
	buf_init(&b);
	char c;
	ssize_t n;
	while ((n = read(fd, &c, 1)) == 1 && c != '\n' && c != '\r' && b.len < 4096)
		buf_addc(&b, c);
	c = 0;
	if (have_termios)
		tcsetattr(fd, TCSAFLUSH, &old);
	if (write(fd, "\n", 1) < 0) {
		/* nothing to do: the echo of the newline is cosmetic */
	}
	close(fd);
	if (n < 0 || b.len == 0) {
		buf_free(&b);
		return 0;
	}
	*out = buf_steal(&b);
	return 1;
}

int secret_get(const struct hop *h, const struct policy *p, char **out, const char **source,
               struct perr *e)
{
	const struct owner own = {
		.name = p->name, .user = p->auth.user, .host = h->host, .socket = h->socket,
		.password = p->auth.password, .passwordeval = p->auth.passwordeval,
	};
	const struct owner *w = &own;
	*out = NULL;
	if (w->password) {
		*out = xstrdup(w->password);
		*source = "password";
		return EX_OK;
	}
	if (w->passwordeval) {
		*source = "passwordeval";
		return secret_eval(w->name, "passwordeval", "password", w->passwordeval, out, e);
	}
	char *home = expand_tilde("~/.netrc");
	int r = from_netrc(home, w, out);
	free(home);
	if (r) {
		*source = "~/.netrc";
		return EX_OK;
	}
	if (from_netrc("/etc/netrc", w, out)) {
		*source = "/etc/netrc";
		return EX_OK;
	}
	if (from_tty(w, out)) {
		*source = "terminal";
		return EX_OK;
	}
	return perr_fail(e, FC_CONFIG, "account %s: no password for user %s at %s: set password or "
	                 "passwordeval, add a machine entry to ~/.netrc, or run postie from a terminal",
	                 w->name, w->user ? w->user : "(none)", w->host ? w->host : w->socket);
}
