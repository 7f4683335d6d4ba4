/* fuzz-msg.c - libFuzzer target for the message reader and the wire
 * encoder. The input's first byte chooses the edits and dot-stuffing
 * (bit 0 dot-stuffing, bits 1-2 set_from, bit 3 set_date, bit 4
 * set_msgid, bits 5-6 set_to, bit 7 remove_bcc); the rest is the message
 * as read from stdin. It is read, its recipients and From parsed,
 * prepared and written, and the wire form is checked against msg.h's
 * contract: only CRLF line ends, never a lone "." line when dot-stuffed,
 * chunks of at most 64 KiB, exactly msg_wire_size() bytes. A violation
 * aborts, so libFuzzer saves the input. */
#include "fuzz.h"
#include "conf.h"
#include "msg.h"

struct wire {
	int dotstuff;
	long long n;      /* bytes so far */
	int prev;         /* the previous byte, -1 at the start */
	int line;         /* the current line so far: 0 empty, 1 ".", 2 ".\r", 3 other */
};

static void wire_byte(struct wire *w, unsigned char c)
{
	if ((c == '\n') != (w->prev == '\r'))
		abort(); /* bare LF, or CR not followed by LF */
	if (c == '\n') {
		if (w->dotstuff && w->line == 2)
			abort(); /* a lone "." line would end the data */
		w->line = 0;
	} else if (w->line == 0 && c == '.') {
		w->line = 1;
	} else if (w->line == 1 && c == '\r') {
		w->line = 2;
	} else if (c != '\r' || w->line != 0) {
		w->line = 3;
	}
	w->prev = c;
}

static int wire_sink(void *ctx, const char *p, size_t n)
{
	struct wire *w = ctx;
	if (n > 64 * 1024)
		abort();
	for (size_t i = 0; i < n; i++)
		wire_byte(w, (unsigned char)p[i]);
	w->n += (long long)n;
	return 0;
}

static void parse_addresses(const struct msg *m)
{
	struct addrlist l = { 0 };
	struct addr a = { 0 };
	struct perr e;
	perr_clear(&e);
	msg_recipients(m, &l, &e);
	addrlist_free(&l);
	if (msg_from(m, &a, &e) == 0)
		addr_free(&a);
}

static void write_checked(struct msg *m, int dotstuff)
{
	struct wire w = { dotstuff, 0, -1, 0 };
	struct perr e;
	off_t want;
	perr_clear(&e);
	want = msg_wire_size(m, dotstuff, &e);
	if (msg_write(m, dotstuff, wire_sink, &w, &e) != 0 || want < 0)
		return;
	if (w.n != (long long)want || w.n < 2 || w.prev != '\n')
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned f = size ? data[0] : 0;
	struct msg_edits ed = {
		.set_from = (f >> 1) % 4 % 3, .from_addr = "sender@example.org",
		.from_name = "Fuzz Sender", .set_date = f & 8 ? HDR_AUTO : HDR_OFF,
		.set_msgid = f & 16 ? HDR_AUTO : HDR_OFF, .msgid_domain = "example.org",
		.set_to = (f >> 5) % 4 % 3, .remove_bcc = f >> 7,
	};
	struct msg m;
	struct perr e;
	int fd = fuzz_fd(data + (size > 0), size - (size > 0));

	perr_clear(&e);
	if (msg_read(fd, &m, &e) == 0) {
		parse_addresses(&m);
		if (msg_prepare(&m, &ed, &e) == 0)
			write_checked(&m, f & 1);
		msg_free(&m);
	}
	close(fd);
	return 0;
}
