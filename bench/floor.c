/* floor.c - the least a sendmail program can do for bench/run.sh's cpu
 * row, to show what per-message CPU is left when nothing but the
 * protocol is done: a dynamically linked program (libc only) that reads
 * the message from standard input (LF line ends made CRLF), connects to
 * HOST PORT, reads the greeting, sends EHLO, then MAIL, RCPT, BDAT LAST
 * with the message and QUIT in one write, and reads the four replies.
 * No configuration, no header handling, no checks beyond the reply
 * codes; exit status 0 when every reply is positive, 1 otherwise.
 *   floor HOST PORT SENDER RECIPIENT <message
 * Not installed; run.sh builds it with cc -O2 and measures it as it
 * measures postie. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static char in[1 << 16];
static size_t have;

/* Read one whole reply (through its last line); its code, or -1. */
static int reply(int fd)
{
	for (;;) {
		char *nl;
		while ((nl = memchr(in, '\n', have)) != NULL) {
			int last = nl - in >= 3 && in[3] != '-';
			int code = atoi(in);
			size_t used = (size_t)(nl - in) + 1;
			memmove(in, nl + 1, have - used);
			have -= used;
			if (last)
				return code;
		}
		ssize_t n = read(fd, in + have, sizeof in - have);
		if (n <= 0)
			return -1;
		have += (size_t)n;
	}
}

int main(int argc, char **argv)
{
	if (argc != 5) {
		fprintf(stderr, "usage: floor HOST PORT SENDER RECIPIENT <message\n");
		return 2;
	}
	static char msg[1 << 20], out[(1 << 21) + 1024];
	size_t len = 0;
	ssize_t n;
	while (len < sizeof msg && (n = read(0, msg + len, sizeof msg - len)) > 0)
		len += (size_t)n;
	/* the body, CRLF line ends, after a header of the commands */
	static char body[sizeof out - 1024];
	size_t blen = 0;
	for (size_t i = 0; i < len; i++) {
		if (msg[i] == '\n' && (i == 0 || msg[i - 1] != '\r'))
			body[blen++] = '\r';
		body[blen++] = msg[i];
	}
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(argv[2])) };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || inet_pton(AF_INET, argv[1], &sa.sin_addr) != 1 ||
	    connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0 || reply(fd) != 220)
		return 1;
	static const char ehlo[] = "EHLO floor.example\r\n";
	if (write(fd, ehlo, sizeof ehlo - 1) < 0 || reply(fd) != 250)
		return 1;
	int h = snprintf(out, 1024, "MAIL FROM:<%s>\r\nRCPT TO:<%s>\r\nBDAT %zu LAST\r\n",
	                 argv[3], argv[4], blen);
	memcpy(out + h, body, blen);
	memcpy(out + h + blen, "QUIT\r\n", 6);
	size_t total = (size_t)h + blen + 6, off = 0;
	while (off < total) {
		if ((n = write(fd, out + off, total - off)) <= 0)
			return 1;
		off += (size_t)n;
	}
	int ok = reply(fd) / 100 == 2 && reply(fd) / 100 == 2 && reply(fd) / 100 == 2 &&
	         reply(fd) == 221;
	close(fd);
	return ok ? 0 : 1;
}
