/* util.c - allocation, buffers, child commands, host and user names. */
#include "util.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/auxv.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

static void oom(void)
{
	static const char m[] = "postie: out of memory\n";
	if (write(2, m, sizeof m - 1) < 0) {
		/* nothing more we can do */
	}
	_exit(EX_OSERR);
}

void *xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (!p)
		oom();
	return p;
}

void *xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);
	if (!p)
		oom();
	return p;
}

void *xrealloc(void *p, size_t n)
{
	p = realloc(p, n ? n : 1);
	if (!p)
		oom();
	return p;
}

char *xstrdup(const char *s)
{
	return xstrndup(s, strlen(s));
}

char *xstrndup(const char *s, size_t n)
{
	char *p = xmalloc(n + 1);
	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

char *xasprintf(const char *fmt, ...)
{
	struct buf b;
	va_list ap;
	buf_init(&b);
	va_start(ap, fmt);
	buf_vprintf(&b, fmt, ap);
	va_end(ap);
	return buf_steal(&b);
}

void buf_init(struct buf *b)
{
	b->s = NULL;
	b->len = b->cap = 0;
}

static void buf_grow(struct buf *b, size_t extra)
{
	size_t need = b->len + extra + 1;
	if (need <= b->cap)
		return;
	size_t cap = b->cap ? b->cap : 64;
	while (cap < need)
		cap *= 2;
	char *n = xmalloc(cap);
	if (b->s) {
		memcpy(n, b->s, b->len);
		wipe(b->s, b->cap);
		free(b->s);
	}
	b->s = n;
	b->cap = cap;
}

void buf_add(struct buf *b, const void *p, size_t n)
{
	buf_grow(b, n);
	if (n)
		memcpy(b->s + b->len, p, n);
	b->len += n;
	b->s[b->len] = '\0';
}

void buf_adds(struct buf *b, const char *s)
{
	buf_add(b, s, strlen(s));
}

void buf_addc(struct buf *b, char c)
{
	buf_add(b, &c, 1);
}

void buf_vprintf(struct buf *b, const char *fmt, va_list ap)
{
	va_list ap2;
	va_copy(ap2, ap);
	int n = vsnprintf(NULL, 0, fmt, ap2);
	va_end(ap2);
	if (n < 0)
		return;
	buf_grow(b, (size_t)n);
	vsnprintf(b->s + b->len, (size_t)n + 1, fmt, ap);
	b->len += (size_t)n;
}

void buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	buf_vprintf(b, fmt, ap);
	va_end(ap);
}

void buf_reset(struct buf *b)
{
	b->len = 0;
	if (b->s)
		b->s[0] = '\0';
}

void buf_free(struct buf *b)
{
	if (b->s) {
		wipe(b->s, b->cap);
		free(b->s);
	}
	buf_init(b);
}

char *buf_steal(struct buf *b)
{
	char *s = b->s ? b->s : xstrdup("");
	buf_init(b);
	return s;
}

void wipe(void *p, size_t n)
{
	volatile unsigned char *v = p;
	while (n--)
		*v++ = 0;
}

static int lc(int c)
{
	return (c >= 'A' && c <= 'Z') ? c + 32 : c;
}

int ascii_ncasecmp(const char *a, const char *b, size_t n)
{
	for (; n; n--, a++, b++) {
		int d = lc((unsigned char)*a) - lc((unsigned char)*b);
		if (d || !*a)
			return d;
	}
	return 0;
}

int ascii_casecmp(const char *a, const char *b)
{
	return ascii_ncasecmp(a, b, (size_t)-1);
}

int ascii_caseprefix(const char *s, const char *prefix)
{
	return ascii_ncasecmp(s, prefix, strlen(prefix)) == 0;
}

/* Read both pipes until EOF without deadlocking on either. */
static void drain(int ofd, struct buf *out, int efd, struct buf *err)
{
	struct pollfd pf[2] = { { ofd, POLLIN, 0 }, { efd, POLLIN, 0 } };
	int open = 1 + (efd >= 0);
	char tmp[4096];
	if (efd < 0)
		pf[1].fd = -1;
	while (open > 0) {
		if (poll(pf, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		for (int i = 0; i < 2; i++) {
			if (pf[i].fd < 0 || !(pf[i].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			ssize_t n = read(pf[i].fd, tmp, sizeof tmp);
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0) {
				pf[i].fd = -1;
				open--;
				continue;
			}
			buf_add(i == 0 ? out : err, tmp, (size_t)n);
		}
	}
	wipe(tmp, sizeof tmp);
}

int run_command(const char *cmd, struct buf *out, struct buf *err)
{
	int op[2], ep[2] = { -1, -1 };
	if (pipe(op) < 0)
		return -1;
	if (err && pipe(ep) < 0) {
		close(op[0]);
		close(op[1]);
		return -1;
	}
	pid_t pid = fork();
	if (pid < 0) {
		int sv = errno;
		close(op[0]);
		close(op[1]);
		if (err) {
			close(ep[0]);
			close(ep[1]);
		}
		errno = sv;
		return -1;
	}
	if (pid == 0) {
		int nul = open("/dev/null", O_RDONLY);
		if (nul < 0 || dup2(nul, 0) < 0 || dup2(op[1], 1) < 0)
			_exit(127);
		if (err && dup2(ep[1], 2) < 0)
			_exit(127);
		close(op[0]);
		close(op[1]);
		if (err) {
			close(ep[0]);
			close(ep[1]);
		}
		signal(SIGPIPE, SIG_DFL);
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	close(op[1]);
	if (err)
		close(ep[1]);
	drain(op[0], out, err ? ep[0] : -1, err);
	close(op[0]);
	if (err)
		close(ep[0]);
	int st;
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return -1;
	if (WIFEXITED(st))
		return WEXITSTATUS(st);
	if (WIFSIGNALED(st))
		return 128 + WTERMSIG(st);
	return -1;
}

int write_full(int fd, const void *p, size_t n)
{
	const char *c = p;
	while (n) {
		ssize_t w = write(fd, c, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		c += w;
		n -= (size_t)w;
	}
	return 0;
}

void fsync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		fsync(fd);
		close(fd);
	}
}

void fsync_parent(const char *path)
{
	char *d = xstrdup(path);
	char *slash = strrchr(d, '/');
	if (slash)
		*(slash == d ? slash + 1 : slash) = '\0';
	fsync_dir(slash ? d : ".");
	free(d);
}

int mkdir_parents(const char *path, char **failed)
{
	char *d = xstrdup(path);
	*failed = NULL;
	for (char *p = strchr(d + 1, '/'); p; p = strchr(p + 1, '/')) {
		*p = '\0';
		if (mkdir(d, 0700) < 0 && errno != EEXIST) {
			*failed = d;
			return -1;
		}
		*p = '/';
	}
	free(d);
	return 0;
}

int read_fd(int fd, size_t max, char **out)
{
	struct buf b;
	char chunk[4096];
	ssize_t n;
	buf_init(&b);
	while ((n = read(fd, chunk, sizeof chunk)) > 0 && b.len <= max)
		buf_add(&b, chunk, (size_t)n);
	wipe(chunk, sizeof chunk);
	*out = buf_steal(&b);
	return n < 0 ? -1 : 0;
}

void drain_input(int fd, int seconds)
{
	char buf[65536];
	struct timespec t0, now;
	if (isatty(fd))
		return;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		clock_gettime(CLOCK_MONOTONIC, &now);
		long long left = (long long)seconds * 1000 - ((now.tv_sec - t0.tv_sec) * 1000LL +
		                                              (now.tv_nsec - t0.tv_nsec) / 1000000);
		struct pollfd p = { .fd = fd, .events = POLLIN };
		if (left <= 0 || poll(&p, 1, (int)left) <= 0)
			break;
		ssize_t n = read(fd, buf, sizeof buf);   /* readable: does not block */
		if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN))
			break;
	}
}

void process_harden(void)
{
	struct rlimit none = { 0, 0 };
	setrlimit(RLIMIT_CORE, &none);
	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
}

/* -1 until process_privileged's first call, then its answer. */
static int privileged = -1;

int process_privileged(void)
{
	if (privileged < 0)
		privileged = getauxval(AT_SECURE) != 0 || getegid() != getgid() || geteuid() != getuid();
	return privileged;
}

int process_drop(void)
{
	gid_t g = getgid(), rg, eg, sg;
	uid_t u = getuid(), ru, eu, su;
	process_privileged();
	if (setresgid(g, g, g) < 0 || setresuid(u, u, u) < 0)
		return -1;
	if (getresgid(&rg, &eg, &sg) < 0 || getresuid(&ru, &eu, &su) < 0)
		return -1;
	if (rg != g || eg != g || sg != g || ru != u || eu != u || su != u) {
		errno = EPERM;
		return -1;
	}
	/* the kernel clears the flag when the ids change; once more, in case
	 * suid_dumpable says otherwise */
	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	return 0;
}

const char *env_get(const char *name)
{
	return process_privileged() ? NULL : getenv(name);
}

char *host_name(void)
{
	const char *h = env_get("HOSTNAME");
	if (h && *h)
		return xstrdup(h);
	char name[256];
	if (gethostname(name, sizeof name) < 0 || !*name)
		return xstrdup("localhost");
	name[sizeof name - 1] = '\0';
	return xstrdup(name);
}

/* The name /etc/hosts gives host h: the canonical (first) name of a line
 * that lists h, when it is dot-qualified, else a name on that line that
 * starts with "h.". NULL if the file has none. Read directly, so that no
 * name service (DNS) is asked. */
static char *hosts_file_fqdn(const char *path, const char *h)
{
	FILE *f = fopen(path, "re");
	char line[1024], *found = NULL;
	size_t hl = strlen(h);
	if (!f)
		return NULL;
	while (!found && fgets(line, sizeof line, f)) {
		char *save = NULL, *names[64];
		size_t n = 0, hit = 0;
		line[strcspn(line, "#\n")] = '\0';
		strtok_r(line, " \t\r", &save);   /* the address */
		for (char *t; n < 64 && (t = strtok_r(NULL, " \t\r", &save)); n++) {
			names[n] = t;
			hit |= ascii_casecmp(t, h) == 0;
		}
		for (size_t i = 0; hit && !found && i < n; i++)
			if ((i == 0 && strchr(names[0], '.')) ||
			    (ascii_ncasecmp(names[i], h, hl) == 0 && names[i][hl] == '.' && names[i][hl + 1]))
				found = xstrdup(names[i]);
	}
	fclose(f);
	return found;
}

char *host_canonical(void)
{
	char *h = host_name();
	if (strchr(h, '.'))
		return h;
	char *c = hosts_file_fqdn("/etc/hosts", h);
	if (!c)
		return h;
	free(h);
	return c;
}

char *user_name(void)
{
	const char *u = env_get("USER");
	if (!u || !*u)
		u = env_get("LOGNAME");
	if (u && *u)
		return xstrdup(u);
	struct passwd *pw = getpwuid(getuid());
	if (pw && pw->pw_name)
		return xstrdup(pw->pw_name);
	return xasprintf("%lu", (unsigned long)getuid());
}

char *expand_tilde(const char *path)
{
	if (path[0] == '~' && (path[1] == '/' || path[1] == '\0')) {
		const char *home = getenv("HOME");
		if (!home || !*home) {
			struct passwd *pw = getpwuid(getuid());
			home = pw ? pw->pw_dir : "";
		}
		return xasprintf("%s%s", home, path + 1);
	}
	return xstrdup(path);
}
