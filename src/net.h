/* net.h - connections: TCP (IPv6 and IPv4, each address in turn, with
 * timeouts) or AF_UNIX, with buffered line reads and corked writes. A
 * transport hook lets tls.c slide in below the buffers. */
#ifndef POSTIE_NET_H
#define POSTIE_NET_H

#include <stddef.h>
#include "util.h"
#include "status.h"

struct conn;

struct conn_opts {
	const char *host;        /* name or IP literal; ignored when socket_path is set */
	int port;
	const char *socket_path; /* AF_UNIX path, or NULL */
	const char *source_ip;   /* bind before connect, or NULL */
	int connect_timeout;     /* seconds per address, 0 = none */
	int deadline;            /* seconds for all addresses together, 0 = none */
	int io_timeout;          /* seconds for any single read or write, 0 = none */
};

/* Connect. Errors: EX_NOHOST when the name does not exist (EAI_NONAME),
 * EX_TEMPFAIL for temporary resolver failures, refused/unreachable/timed
 * out connections (the message names the host, the last address tried and
 * the reason), EX_OSERR for local failures, EX_CONFIG for a bad source_ip. */
int net_open(const struct conn_opts *o, struct conn **out, struct perr *e);

/* Wrap an already connected stream socket (e.g. one end of a socketpair,
 * for tests); peer names it in messages. The fd is made non-blocking and
 * closed by net_close. Returns 0, or -1 with errno set. */
int net_from_fd(int fd, const char *peer, int io_timeout, struct conn **out);

/* Read one line; line receives it without the CRLF (or LF). EX_TEMPFAIL
 * on timeout or connection lost, EX_PROTOCOL for a line over 64 KiB. */
int net_getline(struct conn *c, struct buf *line, struct perr *e);

/* Queue bytes for sending; sent by net_flush, or earlier whenever the
 * 64 KiB output buffer is full. */
int net_write(struct conn *c, const void *p, size_t n, struct perr *e);
int net_flush(struct conn *c, struct perr *e);
/* net_write without a copy: the caller writes into the output buffer.
 * The first used octets of the window given last are queued; then, unless
 * p is NULL, the next window: p[0..room), room >= 1, the buffer sent
 * first if it is full. So the data reaches send() (or TLS) in whole
 * 64 KiB pieces: four full TLS records each. */
int net_window(struct conn *c, size_t used, char **p, size_t *room, struct perr *e);

/* Bytes received and buffered but not yet returned by net_getline. */
size_t net_pending(const struct conn *c);
/* Discard them (e.g. before a TLS handshake). */
void net_discard_pending(struct conn *c);

void net_set_timeout(struct conn *c, int io_timeout);
int net_timeout(const struct conn *c);
/* Nonzero if the last net_getline/net_write/net_flush failed because the
 * timeout ran out (lets callers name the step in the message):
 * NET_EXPIRED_TIMEOUT for the io timeout or the reply deadline,
 * NET_EXPIRED_SESSION for the session deadline. */
enum { NET_EXPIRED_TIMEOUT = 1, NET_EXPIRED_SESSION = 2 };
int net_timed_out(const struct conn *c);

/* A deadline (from net_deadline, -1 = none) that every wait respects
 * until it is changed: a multi-line reply gets io_timeout in all, not
 * per line. */
void net_reply_deadline(struct conn *c, long long deadline);
/* A bound for the whole connection, seconds from now (0 = none), and a
 * later extension of it (when the message size is known). */
void net_session_limit(struct conn *c, int seconds);
void net_extend_session(struct conn *c, int seconds);

/* Wait up to seconds (0 = the io timeout; any deadline set still caps
 * it) for the first received bytes without consuming them: 1 with *p and
 * *n set, 0 when nothing arrived in time, -1 when the connection ended or
 * failed (the next net_getline reports it). */
int net_peek(struct conn *c, int seconds, const char **p, size_t *n);
/* Bytes received on the socket so far. */
long long net_bytes_in(const struct conn *c);
/* "mail.example.org" or the socket path, for messages. */
const char *net_peer_name(const struct conn *c);
/* The numeric address connected to, "" for AF_UNIX. */
const char *net_peer_addr(const struct conn *c);
/* The TCP port connected to, 0 for AF_UNIX. */
int net_peer_port(const struct conn *c);
int net_fd(const struct conn *c);

/* A deadline seconds from now on a monotonic clock (-1 for 0 = none),
 * and a wait for the socket until then: readable (write 0) or writable.
 * 1 ready, 0 the deadline passed, -1 error (errno set). For layers that
 * drive the socket themselves, such as a TLS handshake. */
long long net_deadline(int seconds);
int net_wait(const struct conn *c, int write, long long deadline);

/* Transport hook for TLS: once set, reads and writes go through these
 * instead of recv/send. read and write return bytes done, 0 on EOF
 * (read), or -1 with errno set: EAGAIN when it would block, EPROTO when
 * the transport failed, and then error() says why. close() (may be NULL)
 * runs in net_close and net_drop before the socket is closed and frees
 * ctx; it ends the transport politely (TLS close_notify) when notify. */
struct net_transport {
	long (*read)(void *ctx, void *p, size_t n);
	long (*write)(void *ctx, const void *p, size_t n);
	size_t (*pending)(void *ctx); /* bytes the transport holds decoded */
	const char *(*error)(void *ctx);
	void (*close)(void *ctx, int notify);
	void *ctx;
};
void net_set_transport(struct conn *c, const struct net_transport *t);

void net_close(struct conn *c);
/* Free c without sending anything, not even a TLS close_notify: after a
 * fork, for the process that leaves the connection to the other. */
void net_drop(struct conn *c);

#endif
