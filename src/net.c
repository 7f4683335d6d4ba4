/* net.c - connections with timeouts (TCP over IPv6/IPv4, or AF_UNIX),
 * buffered line reads and corked writes, over plain sockets or a
 * transport hook (TLS). The socket stays non-blocking; every wait is a
 * poll() bounded by the configured timeout, and also by a reply deadline
 * (set by the caller for a whole multi-line reply) and a session deadline
 * (for everything on the connection), when those are set. */
#include "net.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

#define NET_MAX_LINE (64 * 1024)          /* longest line, without CRLF */
#define NET_IN_CAP (NET_MAX_LINE + 4096)  /* input buffer size */
#define NET_OUT_CAP (64 * 1024)           /* output buffer: sent when full, in
                                             four full TLS records */

struct conn {
	int fd;
	char *peer;           /* host name or socket path */
	char addr[64];        /* numeric address, "" for AF_UNIX */
	int port;
	int io_timeout;
	int timed_out;        /* the last failure was a timeout: NET_EXPIRED_* */
	long long reply_end;  /* ms deadline for the current reply, -1 none */
	long long session_end;/* ms deadline for the whole connection, -1 none */
	int session_limit;    /* seconds the session deadline allows in all */
	long long bytes_in;   /* bytes received (before any transport) */
	char *in;             /* NET_IN_CAP bytes */
	size_t in_off, in_len;
	int eof;
	char *out;            /* NET_OUT_CAP bytes */
	size_t out_len;
	size_t in_used, out_used; /* how much of in and out ever held data:
	                       * what conn_free wipes (the rest of each
	                       * buffer was never touched, and wiping it would
	                       * only fault its pages in) */
	int has_transport;
	struct net_transport t;
	int tcp;              /* a TCP socket: TCP_QUICKACK before each wait */
};

/* Milliseconds on a monotonic clock. */
static long long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Milliseconds left until deadline (-1: no deadline), at least 0. */
static int ms_left(long long deadline)
{
	if (deadline < 0)
		return -1;
	long long left = deadline - now_ms();
	if (left <= 0)
		return 0;
	return left > 0x7fffffff ? 0x7fffffff : (int)left;
}

static long long deadline_in(int seconds)
{
	return seconds > 0 ? now_ms() + (long long)seconds * 1000 : -1;
}

/* The earlier of two deadlines (-1 = none). */
static long long earlier(long long a, long long b)
{
	if (a < 0)
		return b;
	return b < 0 || a < b ? a : b;
}

/* The deadline for one wait: io_timeout from now, capped by the reply
 * and session deadlines. */
static long long wait_deadline(const struct conn *c)
{
	return earlier(earlier(deadline_in(c->io_timeout), c->reply_end), c->session_end);
}

/* Wait for events on fd until deadline. 1 ready, 0 timed out, -1 error. */
static int wait_fd(int fd, short events, long long deadline)
{
	for (;;) {
		struct pollfd p = { fd, events, 0 };
		int r = poll(&p, 1, ms_left(deadline));
		if (r < 0 && errno == EINTR)
			continue;
		return r < 0 ? -1 : r > 0;
	}
}

static int set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
		return -1;
	return fcntl(fd, F_SETFD, FD_CLOEXEC);
}

static struct conn *conn_new(int fd, const char *peer, int io_timeout)
{
	struct conn *c = xcalloc(1, sizeof *c);
	c->fd = fd;
	c->peer = xstrdup(peer);
	c->io_timeout = io_timeout;
	c->reply_end = c->session_end = -1;
	c->in = xmalloc(NET_IN_CAP);
	c->out = xmalloc(NET_OUT_CAP);
	return c;
}

int net_from_fd(int fd, const char *peer, int io_timeout, struct conn **out)
{
	if (set_nonblock(fd) < 0)
		return -1;
	*out = conn_new(fd, peer, io_timeout);
	return 0;
}

/* Start a non-blocking connect and wait for it until the earlier of
 * timeout_s (0 = none) and deadline. 0 on success, else errno-style code
 * (ETIMEDOUT when the wait ran out). */
static int connect_wait(int fd, const struct sockaddr *sa, socklen_t len,
                        int timeout_s, long long deadline)
{
	if (connect(fd, sa, len) == 0)
		return 0;
	if (errno != EINPROGRESS && errno != EINTR)
		return errno;
	long long d = deadline_in(timeout_s);
	if (deadline >= 0 && (d < 0 || deadline < d))
		d = deadline;
	int r = wait_fd(fd, POLLOUT, d);
	if (r < 0)
		return errno;
	if (r == 0)
		return ETIMEDOUT;
	int err = 0;
	socklen_t elen = sizeof err;
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen) < 0)
		return errno;
	return err;
}

static int open_unix(const struct conn_opts *o, struct conn **out, struct perr *e)
{
	struct sockaddr_un sun;
	memset(&sun, 0, sizeof sun);
	sun.sun_family = AF_UNIX;
	if (strlen(o->socket_path) >= sizeof sun.sun_path)
		return perr_fail(e, FC_CONFIG, "socket path '%s' is too long", o->socket_path);
	memcpy(sun.sun_path, o->socket_path, strlen(o->socket_path) + 1);
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);
	if (fd < 0 || set_nonblock(fd) < 0) {
		int sv = errno;
		if (fd >= 0)
			close(fd);
		return perr_fail(e, FC_OS, "cannot create socket: %s", strerror(sv));
	}
	int err = connect_wait(fd, (struct sockaddr *)&sun, sizeof sun,
	                       o->connect_timeout, deadline_in(o->deadline));
	if (err) {
		close(fd);
		if (err == ETIMEDOUT)
			return perr_fail(e, FC_TIMEOUT, "cannot connect to %s: timed out",
			                 o->socket_path);
		return perr_fail(e, FC_CONNECT, "cannot connect to %s: %s", o->socket_path,
		                 strerror(err));
	}
	*out = conn_new(fd, o->socket_path, o->io_timeout);
	return EX_OK;
}

static int resolve_error(const char *host, int rc, struct perr *e)
{
	switch (rc) {
	case EAI_NONAME:
#ifdef EAI_NODATA
	case EAI_NODATA:
#endif
#ifdef EAI_ADDRFAMILY
	case EAI_ADDRFAMILY:
#endif
		return perr_fail(e, FC_DNS_NOTFOUND, "cannot resolve host '%s': %s", host, gai_strerror(rc));
	case EAI_AGAIN:
	case EAI_FAIL:
		return perr_fail(e, FC_DNS_TEMP, "cannot resolve host '%s': %s", host, gai_strerror(rc));
	case EAI_SYSTEM:
		return perr_fail(e, FC_OS, "cannot resolve host '%s': %s", host, strerror(errno));
	default:
		return perr_fail(e, FC_OS, "cannot resolve host '%s': %s", host, gai_strerror(rc));
	}
}

/* The state of a TCP connection attempt across the addresses. */
struct attempt {
	const struct conn_opts *o;
	const struct addrinfo *src; /* source address, or NULL */
	long long deadline;
	char addr[64];              /* last address tried */
	char why[128];              /* why it failed */
	int timed_out;              /* the last address timed out */
	int fatal;                  /* a local error: stop trying */
	int tried;
};

static void numeric_addr(const struct sockaddr *sa, socklen_t len, char *out, size_t n)
{
	if (getnameinfo(sa, len, out, (socklen_t)n, NULL, 0, NI_NUMERICHOST) != 0)
		snprintf(out, n, "?");
}

/* Try one address: -1 failed (reason in a), else the connected fd. */
static int try_addr(struct attempt *a, const struct addrinfo *ai, struct perr *e)
{
	numeric_addr(ai->ai_addr, ai->ai_addrlen, a->addr, sizeof a->addr);
	a->tried++;
	a->timed_out = 0;
	int fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
	if (fd < 0 || set_nonblock(fd) < 0) {
		snprintf(a->why, sizeof a->why, "%s", strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	if (a->src && bind(fd, a->src->ai_addr, a->src->ai_addrlen) < 0) {
		int sv = errno;
		close(fd);
		a->fatal = 1;
		perr_fail(e, sv == EADDRNOTAVAIL ? FC_CONFIG : FC_OS,
		          "cannot bind to source_ip '%s': %s", a->o->source_ip, strerror(sv));
		return -1;
	}
	int err = connect_wait(fd, ai->ai_addr, ai->ai_addrlen, a->o->connect_timeout, a->deadline);
	if (err == 0)
		return fd;
	close(fd);
	a->timed_out = err == ETIMEDOUT;
	if (err == ETIMEDOUT && ms_left(a->deadline) == 0)
		snprintf(a->why, sizeof a->why, "timed out (overall limit of %d s)", a->o->deadline);
	else if (err == ETIMEDOUT && a->o->connect_timeout > 0)
		snprintf(a->why, sizeof a->why, "timed out after %d s", a->o->connect_timeout);
	else
		snprintf(a->why, sizeof a->why, "%s", strerror(err));
	return -1;
}

static int source_addr(const char *ip, struct addrinfo **out, struct perr *e)
{
	struct addrinfo hints;
	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICHOST | AI_PASSIVE;
	if (getaddrinfo(ip, NULL, &hints, out) != 0)
		return perr_fail(e, FC_CONFIG, "invalid source_ip '%s'", ip);
	return EX_OK;
}

/* Walk the address list; on success *fd is set. */
static int connect_any(struct attempt *a, const struct addrinfo *res, int *fd, struct perr *e)
{
	const struct conn_opts *o = a->o;
	for (const struct addrinfo *ai = res; ai; ai = ai->ai_next) {
		if (a->src && ai->ai_family != a->src->ai_family)
			continue;
		if (a->tried && ms_left(a->deadline) == 0)
			break;
		if (a->tried)
			log_info("cannot connect to %s port %d: %s; trying the next address",
			         a->addr, o->port, a->why);
		*fd = try_addr(a, ai, e);
		if (*fd >= 0)
			return EX_OK;
		if (a->fatal)
			return e->ex;
	}
	if (!a->tried)
		return perr_fail(e, FC_CONFIG, "%s has no address of the family of source_ip '%s'",
		                 o->host, o->source_ip);
	return perr_fail(e, a->timed_out ? FC_TIMEOUT : FC_CONNECT,
	                 "cannot connect to %s (%s port %d): %s", o->host, a->addr, o->port, a->why);
}

static int open_tcp(const struct conn_opts *o, struct conn **out, struct perr *e)
{
	struct attempt a;
	memset(&a, 0, sizeof a);
	a.o = o;
	a.deadline = deadline_in(o->deadline);
	struct addrinfo *src = NULL, *res = NULL, hints;
	if (o->source_ip && *o->source_ip && source_addr(o->source_ip, &src, e) != EX_OK)
		return e->ex;
	a.src = src;
	char port[16];
	snprintf(port, sizeof port, "%d", o->port);
	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV;
	int rc = getaddrinfo(o->host, port, &hints, &res);
	if (rc != 0) {
		if (src)
			freeaddrinfo(src);
		return resolve_error(o->host, rc, e);
	}
	int fd = -1;
	connect_any(&a, res, &fd, e);
	freeaddrinfo(res);
	if (src)
		freeaddrinfo(src);
	if (fd < 0)
		return e->ex;
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	*out = conn_new(fd, o->host, o->io_timeout);
	(*out)->tcp = 1;
	snprintf((*out)->addr, sizeof (*out)->addr, "%s", a.addr);
	(*out)->port = o->port;
	return EX_OK;
}

int net_open(const struct conn_opts *o, struct conn **out, struct perr *e)
{
	perr_clear(e);
	*out = NULL;
	if (o->socket_path && *o->socket_path)
		return open_unix(o, out, e);
	if (!o->host || !*o->host)
		return perr_fail(e, FC_CONFIG, "no host to connect to");
	return open_tcp(o, out, e);
}

static long do_read(struct conn *c, void *p, size_t n)
{
	if (c->has_transport)
		return c->t.read(c->t.ctx, p, n);
	return recv(c->fd, p, n, 0);
}

static long do_write(struct conn *c, const void *p, size_t n)
{
	if (c->has_transport)
		return c->t.write(c->t.ctx, p, n);
	return send(c->fd, p, n, MSG_NOSIGNAL);
}

static int timeout_error(struct conn *c, const char *what, struct perr *e)
{
	if (c->session_end >= 0 && ms_left(c->session_end) == 0) {
		c->timed_out = NET_EXPIRED_SESSION;
		return perr_fail(e, FC_TIMEOUT, "the session with %s reached its time limit of %d s",
		                 c->peer, c->session_limit);
	}
	c->timed_out = NET_EXPIRED_TIMEOUT;
	return perr_fail(e, FC_TIMEOUT, "timeout after %d s %s %s", c->io_timeout, what, c->peer);
}

static int io_error(struct conn *c, const char *what, int err, struct perr *e)
{
	if (err == EPROTO && c->has_transport && c->t.error)
		return perr_fail(e, FC_PROTOCOL, "TLS session with %s failed: %s", c->peer,
		                 c->t.error(c->t.ctx));
	if (err == ECONNRESET || err == EPIPE)
		return perr_fail(e, FC_LOST, "connection to %s lost: %s", c->peer, strerror(err));
	return perr_fail(e, FC_LOST, "cannot %s %s: %s", what, c->peer, strerror(err));
}

/* Read more bytes into the input buffer, waiting until deadline. */
static int fill(struct conn *c, long long deadline, struct perr *e)
{
	if (c->in_off > 0) {
		memmove(c->in, c->in + c->in_off, c->in_len - c->in_off);
		c->in_len -= c->in_off;
		c->in_off = 0;
	}
	for (;;) {
		long n = do_read(c, c->in + c->in_len, NET_IN_CAP - c->in_len);
		if (n > 0) {
			c->in_len += (size_t)n;
			c->bytes_in += n;
			if (c->in_len > c->in_used)
				c->in_used = c->in_len;
			return EX_OK;
		}
		if (n == 0) {
			c->eof = 1;
			return perr_fail(e, FC_LOST, "connection to %s lost", c->peer);
		}
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			return io_error(c, "read from", errno, e);
		if (c->has_transport && c->t.pending && c->t.pending(c->t.ctx) > 0)
			continue;
		if (c->tcp) {
			/* acknowledge what came at once, not after the delayed-ACK
			 * timer: a server whose Nagle holds its reply until the
			 * TLS session ticket is acknowledged sends it sooner */
			int one = 1;
			setsockopt(c->fd, IPPROTO_TCP, TCP_QUICKACK, &one, sizeof one);
		}
		int r = wait_fd(c->fd, POLLIN, deadline);
		if (r == 0)
			return timeout_error(c, "waiting for", e);
		if (r < 0)
			return io_error(c, "read from", errno, e);
	}
}

int net_getline(struct conn *c, struct buf *line, struct perr *e)
{
	long long deadline = wait_deadline(c);
	size_t scanned = 0;
	c->timed_out = 0;
	for (;;) {
		char *start = c->in + c->in_off;
		size_t avail = c->in_len - c->in_off;
		char *lf = memchr(start + scanned, '\n', avail - scanned);
		if (lf) {
			size_t n = (size_t)(lf - start);
			c->in_off += n + 1;
			if (n > 0 && start[n - 1] == '\r')
				n--;
			if (n > NET_MAX_LINE)
				return perr_fail(e, FC_PROTOCOL, "line from %s longer than %d bytes",
				                 c->peer, NET_MAX_LINE);
			buf_reset(line);
			buf_add(line, start, n);
			return EX_OK;
		}
		if (avail > NET_MAX_LINE + 1)
			return perr_fail(e, FC_PROTOCOL, "line from %s longer than %d bytes",
			                 c->peer, NET_MAX_LINE);
		if (c->eof)
			return perr_fail(e, FC_LOST, "connection to %s lost", c->peer);
		scanned = avail;
		if (fill(c, deadline, e) != EX_OK)
			return e->ex;
	}
}

/* Send all of p, waiting at most io_timeout for each bit of progress. */
static int send_all(struct conn *c, const char *p, size_t n, struct perr *e)
{
	while (n > 0) {
		long w = do_write(c, p, n);
		if (w > 0) {
			p += w;
			n -= (size_t)w;
			continue;
		}
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
			return io_error(c, "send to", errno, e);
		int r = wait_fd(c->fd, POLLOUT, wait_deadline(c));
		if (r == 0)
			return timeout_error(c, "sending to", e);
		if (r < 0)
			return io_error(c, "send to", errno, e);
	}
	return EX_OK;
}

/* Record how far the output buffer has been filled. (A window handed
 * out by net_window counts once its octets are committed: until then it
 * holds nothing but message text being formatted.) */
static void out_grew(struct conn *c)
{
	if (c->out_len > c->out_used)
		c->out_used = c->out_len;
}

int net_write(struct conn *c, const void *p, size_t n, struct perr *e)
{
	const char *s = p;
	while (n > 0) {
		if (c->out_len == NET_OUT_CAP && net_flush(c, e) != EX_OK)
			return e->ex;
		size_t k = NET_OUT_CAP - c->out_len < n ? NET_OUT_CAP - c->out_len : n;
		memcpy(c->out + c->out_len, s, k);
		c->out_len += k;
		out_grew(c);
		s += k;
		n -= k;
	}
	return EX_OK;
}

int net_window(struct conn *c, size_t used, char **p, size_t *room, struct perr *e)
{
	c->out_len += used;
	out_grew(c);
	if (!p)
		return EX_OK;
	if (c->out_len == NET_OUT_CAP && net_flush(c, e) != EX_OK)
		return e->ex;
	*p = c->out + c->out_len;
	*room = NET_OUT_CAP - c->out_len;
	return EX_OK;
}

int net_flush(struct conn *c, struct perr *e)
{
	c->timed_out = 0;
	int r = send_all(c, c->out, c->out_len, e);
	c->out_len = 0;
	return r;
}

int net_peek(struct conn *c, int seconds, const char **p, size_t *n)
{
	struct perr e;
	long long deadline = earlier(seconds > 0 ? deadline_in(seconds) : -1, wait_deadline(c));
	if (net_pending(c) == 0 && !c->eof && fill(c, deadline, &e) != EX_OK) {
		int silent = c->timed_out != 0;
		c->timed_out = 0;
		return silent ? 0 : -1;
	}
	*p = c->in + c->in_off;
	*n = net_pending(c);
	return *n ? 1 : -1;
}

long long net_bytes_in(const struct conn *c)
{
	return c->bytes_in;
}

void net_reply_deadline(struct conn *c, long long deadline)
{
	c->reply_end = deadline;
}

void net_session_limit(struct conn *c, int seconds)
{
	c->session_limit = seconds > 0 ? seconds : 0;
	c->session_end = deadline_in(seconds);
}

void net_extend_session(struct conn *c, int seconds)
{
	if (c->session_end < 0 || seconds <= 0)
		return;
	c->session_end += (long long)seconds * 1000;
	c->session_limit += seconds;
}

size_t net_pending(const struct conn *c)
{
	return c->in_len - c->in_off;
}

void net_discard_pending(struct conn *c)
{
	c->in_off = c->in_len = 0;
}

void net_set_timeout(struct conn *c, int io_timeout)
{
	c->io_timeout = io_timeout;
}

int net_timeout(const struct conn *c)
{
	return c->io_timeout;
}

int net_timed_out(const struct conn *c)
{
	return c->timed_out;
}

const char *net_peer_name(const struct conn *c)
{
	return c->peer;
}

const char *net_peer_addr(const struct conn *c)
{
	return c->addr;
}

int net_peer_port(const struct conn *c)
{
	return c->port;
}

int net_fd(const struct conn *c)
{
	return c->fd;
}

long long net_deadline(int seconds)
{
	return deadline_in(seconds);
}

int net_wait(const struct conn *c, int write, long long deadline)
{
	return wait_fd(c->fd, write ? POLLOUT : POLLIN, deadline);
}

void net_set_transport(struct conn *c, const struct net_transport *t)
{
	c->has_transport = t != NULL;
	if (t)
		c->t = *t;
	else
		memset(&c->t, 0, sizeof c->t);
}

static void conn_free(struct conn *c, int notify)
{
	if (!c)
		return;
	if (c->has_transport && c->t.close)
		c->t.close(c->t.ctx, notify);
	if (c->fd >= 0)
		close(c->fd);
	wipe(c->in, c->in_used);
	free(c->in);
	wipe(c->out, c->out_used);
	free(c->out);
	free(c->peer);
	free(c);
}

void net_close(struct conn *c)
{
	conn_free(c, 1);
}

void net_drop(struct conn *c)
{
	conn_free(c, 0);
}
