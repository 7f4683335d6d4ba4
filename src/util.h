/* util.h - small shared helpers: allocation, growable buffers, running
 * helper commands, host names. */
#ifndef POSTIE_UTIL_H
#define POSTIE_UTIL_H

#include <stdarg.h>
#include <stddef.h>

/* Allocation that never returns NULL: on exhaustion the process prints
 * "postie: out of memory" and exits with EX_OSERR (71). */
void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* A growable byte buffer, always NUL-terminated after s[len]. */
struct buf {
	char *s;
	size_t len, cap;
};
void buf_init(struct buf *b);
void buf_add(struct buf *b, const void *p, size_t n);
void buf_adds(struct buf *b, const char *s);
void buf_addc(struct buf *b, char c);
void buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void buf_vprintf(struct buf *b, const char *fmt, va_list ap);
void buf_reset(struct buf *b);   /* len = 0, keeps memory */
void buf_free(struct buf *b);    /* zeroes the bytes, then frees */
char *buf_steal(struct buf *b);  /* returns s (never NULL), buffer becomes empty */

/* Overwrite n bytes so the compiler cannot drop it (for secrets). */
void wipe(void *p, size_t n);

/* ASCII case-insensitive helpers (locale-independent). */
int ascii_casecmp(const char *a, const char *b);
int ascii_ncasecmp(const char *a, const char *b, size_t n);
/* Nonzero if s starts with prefix, ignoring ASCII case. */
int ascii_caseprefix(const char *s, const char *prefix);

/* Run "/bin/sh -c cmd" with stdin from /dev/null. Captures stdout into out
 * (and stderr into err if err is not NULL; otherwise stderr is inherited).
 * Returns the exit status (0..255), 128+signal if killed, or -1 if the
 * command could not be started (errno set). */
int run_command(const char *cmd, struct buf *out, struct buf *err);

/* Write all n bytes (retrying short writes and EINTR): 0, or -1 with errno. */
int write_full(int fd, const void *p, size_t n);
/* fsync a directory (after a rename into it or an unlink), or the one
 * that holds path. */
void fsync_dir(const char *dir);
void fsync_parent(const char *path);
/* Create every missing directory above path (not path itself), mode 0700:
 * 0, or -1 with errno and *failed the directory that could not be made
 * (allocated). */
int mkdir_parents(const char *path, char **failed);

/* Read fd to end of file, or until more than max bytes arrived, into
 * *out (allocated, NUL-terminated; the read buffer is wiped: the file
 * may hold a secret). 0, or -1 with errno set. */
int read_fd(int fd, size_t max, char **out);

/* Read and discard fd to end of file, for at most seconds (not at all
 * from a terminal): a writer that is still sending a message postie has
 * refused then sees postie's exit status, not a broken pipe. */
void drain_input(int fd, int seconds);

/* No core file and no ptrace by other processes of the same user, for
 * the life of the process: memory may hold a password or token from the
 * moment the configuration is read. Called first thing in main. */
void process_harden(void);

/* A privileged start: the process was started setgid or setuid (the
 * kernel's AT_SECURE, or effective ids other than the real ones). The
 * first call must come before process_drop; the answer stays. */
int process_privileged(void);
/* Give up the effective and saved group and user ids for good: all
 * three become the real ones (setresgid, setresuid), checked with
 * getresgid/getresuid; the process stays non-dumpable. 0, or -1 with
 * errno. */
int process_drop(void);
/* getenv, except that after a privileged start it is NULL: for the variables that change what postie
 * trusts (POSTIE_SYSTEM_CONFIG, POSTIE_MAILNAME_FILE) or who it says the
 * user is (USER, LOGNAME, HOSTNAME). */
const char *env_get(const char *name);

/* The host name: $HOSTNAME if set, else gethostname(). */
char *host_name(void);
/* The fully qualified name of this host without asking DNS (a message
 * must not wait on the network, which may be down): host_name() when it
 * holds a dot, else the dot-qualified name /etc/hosts gives it, else
 * host_name() itself. */
char *host_canonical(void);
/* The user's login name: $USER, else $LOGNAME, else getpwuid(). */
char *user_name(void);
/* Expand a leading "~/" (or a lone "~") to $HOME. */
char *expand_tilde(const char *path);

#endif
