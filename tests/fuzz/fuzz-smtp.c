/* fuzz-smtp.c - libFuzzer target for the SMTP reply and EHLO parsers: the
 * input is what a server sends. Its replies are read as the client reads
 * them (smtp_read_reply over a connection on a memfd), each parsed as an
 * EHLO reply; every line also goes through smtp_parse_line and
 * smtp_parse_enh on its own, and the whole input through
 * smtp_parse_caps as one reply text. */
#include "fuzz.h"
#include "net.h"
#include "smtp.h"

static void caps_of(const struct smtp_reply *r)
{
	struct smtp_caps caps;
	smtp_parse_caps(r, &caps);
	smtp_caps_free(&caps);
}

static void read_replies(const uint8_t *data, size_t size)
{
	struct conn *c;
	struct smtp_reply r;
	struct perr e;
	int fd = fuzz_fd(data, size);

	if (net_from_fd(fd, "fuzz.example", 5, &c) != 0)
		abort();
	smtp_reply_init(&r);
	perr_clear(&e);
	for (int i = 0; i < 1000 && smtp_read_reply(c, &r, &e) == EX_OK; i++)
		caps_of(&r);
	smtp_reply_free(&r);
	net_close(c);
}

static void each_line(const char *s, size_t size)
{
	while (size > 0) {
		const char *nl = memchr(s, '\n', size);
		size_t n = nl ? (size_t)(nl - s) : size, len = n;
		const char *text;
		int code, last;
		char enh[16], *l;
		if (len > 0 && s[len - 1] == '\r')
			len--;
		l = fuzz_str((const uint8_t *)s, len); /* NUL-terminated, as net_getline's */
		if (smtp_parse_line(l, len, &code, &last, &text) == 0)
			smtp_parse_enh(code, text, enh);
		free(l);
		s += n + (nl != NULL);
		size -= n + (nl != NULL);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct smtp_reply r;

	read_replies(data, size);
	each_line((const char *)data, size);
	smtp_reply_init(&r);
	buf_add(&r.text, data, size);
	r.code = 250;
	r.nlines = 1;
	caps_of(&r);
	smtp_reply_free(&r);
	return 0;
}
