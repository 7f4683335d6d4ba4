/* fuzz.h - shared by the libFuzzer targets in tests/fuzz: the entry
 * point's prototype, a file descriptor holding the input, and the stub
 * that keeps fuzzed input from running commands. */
#ifndef POSTIE_FUZZ_H
#define POSTIE_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <unistd.h>
#include <sys/mman.h>
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The targets are linked with -Wl,--wrap=run_command: every call of
 * run_command from the core (conf.c's eval, secret.c's passwordeval)
 * lands here and fails as if the command could not be started, so a
 * fuzzed "eval rm -rf ~" line never reaches a shell. */
int __wrap_run_command(const char *cmd, struct buf *out, struct buf *err);
int __wrap_run_command(const char *cmd, struct buf *out, struct buf *err)
{
	(void)cmd;
	(void)out;
	(void)err;
	errno = EPERM;
	return -1;
}

/* A file descriptor positioned at the start of a copy of data (a memfd:
 * nothing on disk). Aborts on failure: that is the harness, not postie. */
static inline int fuzz_fd(const uint8_t *data, size_t size)
{
	int fd = memfd_create("fuzz-input", 0);
	size_t off = 0;
	if (fd < 0)
		abort();
	while (off < size) {
		ssize_t n = write(fd, data + off, size - off);
		if (n <= 0)
			abort();
		off += (size_t)n;
	}
	if (lseek(fd, 0, SEEK_SET) != 0)
		abort();
	return fd;
}

/* A NUL-terminated copy of data, for parsers that take a C string. */
static inline char *fuzz_str(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);
	if (!s)
		abort();
	memcpy(s, data, size);
	s[size] = '\0';
	return s;
}

#endif
