/* msg.c - the message: a push parser for the header section (no I/O)
 * that also measures the body as it goes by, the stores that keep its
 * bytes (unlinked temp file, named file, memory, a regular file read in
 * place), the header edits and the long-line repair planned by
 * msg_prepare, the writer that streams the SMTP form (CRLF,
 * dot-stuffing) into a caller's sink or buffer in bounded memory, and
 * the prepared message saved to a store and loaded back. */
#include "msg.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define CHUNK 65536      /* read size and largest piece handed to a sink */
#define FOLD_WANT 78     /* preferred header line length when refolding */
#define QP_LINE 76       /* RFC 2045 6.7: encoded line length limit */
#define MAX_ADDED 6      /* From, To, Date, Message-ID, MIME-Version, CTE */

/* ---- the push parser ---- */

enum { PS_FROM_CHECK, PS_FROM_SKIP, PS_FROM_SKIP_CR, PS_HEAD, PS_BODY, PS_DONE };
enum { H_START, H_NAME, H_NAMEWSP, H_VALUE };
enum { PEND_FIELD = 1, PEND_HEADER_END = 2 };

static int is_wsp(int c)
{
	return c == ' ' || c == '\t';
}

static int is_name_char(int c)
{
	return c >= 33 && c <= 126 && c != ':';
}

void msg_parser_init(struct msg_parser *p, int flags)
{
	memset(p, 0, sizeof *p);
	p->flags = flags;
	p->state = flags & MSG_PARSE_PREPARED ? PS_HEAD : PS_FROM_CHECK;
	p->hs = H_START;
	p->line = 1;
	buf_init(&p->cur);
	buf_init(&p->pend);
	buf_init(&p->done);
	buf_init(&p->name);
	buf_init(&p->value);
	perr_clear(&p->err);
}

void msg_parser_push(struct msg_parser *p, const void *b, size_t n)
{
	p->in = b;
	p->nin = n;
	p->pos = 0;
	p->size += (off_t)n;
}

void msg_parser_eof(struct msg_parser *p)
{
	p->eof = 1;
}

void msg_parser_free(struct msg_parser *p)
{
	buf_free(&p->cur);
	buf_free(&p->pend);
	buf_free(&p->done);
	buf_free(&p->name);
	buf_free(&p->value);
}

static size_t max_header_bytes(const struct msg_parser *p)
{
	return p->flags & MSG_PARSE_PREPARED ? 2 * MSG_MAX_HEADER_BYTES : MSG_MAX_HEADER_BYTES;
}

static size_t max_fields(const struct msg_parser *p)
{
	return p->flags & MSG_PARSE_PREPARED ? 2 * MSG_MAX_FIELDS : MSG_MAX_FIELDS;
}

/* The unfolded field body of raw: line ends removed, leading white
 * space trimmed. */
static void unfold_into(struct buf *v, const char *raw)
{
	const char *s = strchr(raw, ':') + 1;
	buf_reset(v);
	for (; *s; s++) {
		if (*s == '\n' || (v->len == 0 && is_wsp(*s)))
			continue;
		buf_addc(v, *s);
	}
	if (!v->s)
		buf_add(v, "", 0);
}

/* The collected field (if any) becomes the pending MSG_EV_FIELD. */
static void complete_field(struct msg_parser *p)
{
	if (p->cur.len == 0)
		return;
	if (p->cur.s[p->cur.len - 1] != '\n')
		buf_addc(&p->cur, '\n');
	struct buf t = p->done;
	p->done = p->cur;
	p->cur = t;
	buf_reset(&p->cur);
	buf_reset(&p->name);
	buf_add(&p->name, p->done.s, strcspn(p->done.s, " \t:"));
	unfold_into(&p->value, p->done.s);
	p->done_line = p->cur_line;
	p->pending |= PEND_FIELD;
	p->nfields++;
	if (!p->seen_ct && !ascii_casecmp(p->name.s, "Content-Type")) {
		p->seen_ct = 1;
		p->multipart = ascii_caseprefix(p->value.s, "multipart/")
		               || ascii_caseprefix(p->value.s, "message/");
	}
}

static void end_line(struct msg_parser *p, unsigned char c)
{
	p->line++;
	p->skip_lf = c == '\r';
}

static void header_end(struct msg_parser *p)
{
	complete_field(p);
	p->pending |= PEND_HEADER_END;
	p->state = PS_BODY;
	p->bol = 1;
}

/* The current line is not a header field: the body starts with it. */
static int to_body(struct msg_parser *p)
{
	header_end(p);
	p->no_separator = 1;
	p->body_off = p->line_off;
	p->blen = (size_t)(p->off - p->line_off);
	if (p->blen > 0) {   /* the line so far, read as a field name, is in pend */
		p->body_dots += p->pend.s[0] == '.';
		p->bol = 0;
		p->body_wire += (off_t)p->blen;
	}
	return 0;
}

static int name_byte(struct msg_parser *p, unsigned char c)
{
	if (c == ':') {
		complete_field(p);
		if (p->nfields >= max_fields(p)) {
			perr_fail(&p->err, FC_MESSAGE, "header section has more than %zu fields",
			         max_fields(p));
			return -1;
		}
		buf_add(&p->cur, p->pend.s, p->pend.len);
		buf_addc(&p->cur, ':');
		buf_reset(&p->pend);
		p->cur_line = p->pend_line;
		p->hs = H_VALUE;
		return 1;
	}
	if (is_wsp(c)) {
		buf_addc(&p->pend, (char)c);
		p->hs = H_NAMEWSP;
		return 1;
	}
	if (p->hs == H_NAME && is_name_char(c)) {
		buf_addc(&p->pend, (char)c);
		return 1;
	}
	return to_body(p);
}

static int start_byte(struct msg_parser *p, unsigned char c)
{
	p->line_off = p->off;
	if (c == '\n' || c == '\r') {
		header_end(p);
		end_line(p, c);
		p->need_body_off = 1;
		return 1;
	}
	if (is_wsp(c) && p->cur.len) {
		buf_addc(&p->cur, (char)c);
		p->hs = H_VALUE;
		return 1;
	}
	if (!is_name_char(c))
		return to_body(p);
	complete_field(p);
	buf_reset(&p->pend);
	buf_addc(&p->pend, (char)c);
	p->pend_line = p->line;
	p->hs = H_NAME;
	return 1;
}

/* One octet of the header section: 1 consumed, 0 the body starts here
 * (look at it again as body), -1 error. */
static int head_byte(struct msg_parser *p, unsigned char c)
{
	switch (p->hs) {
	case H_START:
		return start_byte(p, c);
	case H_NAME:
	case H_NAMEWSP:
		return name_byte(p, c);
	default:
		if (c == '\n' || c == '\r') {
			buf_addc(&p->cur, '\n');
			end_line(p, c);
			p->hs = H_START;
			return 1;
		}
		if (c == '\0') {
			perr_fail(&p->err, FC_MESSAGE, "header line %ld contains a NUL octet", p->line);
			return -1;
		}
		if (c & 0x80)
			p->eightbit = 1;
		buf_addc(&p->cur, (char)c);
		return 1;
	}
}

/* Nonzero if an octet of p[0..n) is over 0x7f: eight at a time. */
static int any_high(const unsigned char *p, size_t n)
{
	uint64_t acc = 0, w;
	size_t i = 0;
	for (; i + 8 <= n; i += 8) {
		memcpy(&w, p + i, 8);
		acc |= w;
	}
	for (; i < n; i++)
		acc |= p[i];
	return (acc & 0x8080808080808080ULL) != 0;
}

/* Where the next line end is in a piece of text: the first CR or LF at
 * or after a position. memchr finds each; its answer is kept until the
 * position passes it, so a CR that never comes (LF text) costs one
 * search per piece, not one per line. */
struct eols {
	const char *end;     /* of the piece */
	const char *cr, *lf; /* the next one found (end: none), NULL: not searched */
};

static void eols_init(struct eols *f, const char *end)
{
	f->end = end;
	f->cr = f->lf = NULL;
}

static const char *find_or_end(const char *p, char c, const char *end)
{
	const char *r = memchr(p, c, (size_t)(end - p));
	return r ? r : end;
}

static const char *next_eol(struct eols *f, const char *p)
{
	if (!f->lf || f->lf < p)
		f->lf = find_or_end(p, '\n', f->end);
	if (!f->cr || f->cr < p)
		f->cr = find_or_end(p, '\r', f->end);
	return f->lf < f->cr ? f->lf : f->cr;
}

/* A body line ends with the octet c (CR or LF). */
static void body_eol(struct msg_parser *p, unsigned char c)
{
	if (p->blen > MSG_MAX_LINE && !p->long_line)
		p->long_line = p->line;
	p->blen = 0;
	p->bol = 1;
	p->body_wire += 2;   /* CRLF, whatever the input had */
	end_line(p, c);
}

/* Body octets, a line (a run of text up to a CR or LF) at a time: the
 * line ends, lengths and dots, and the size in SMTP form. */
static void body_scan(struct msg_parser *p, const unsigned char *b, size_t n)
{
	const char *s = (const char *)b, *end = s + n;
	struct eols f;
	eols_init(&f, end);
	if (!p->eightbit && any_high(b, n))
		p->eightbit = 1;
	while (s < end) {
		if (p->skip_lf) {
			p->skip_lf = 0;
			if (*s == '\n') {
				s++;
				continue;
			}
		}
		if (p->need_body_off) {
			p->body_off = p->off + (s - (const char *)b);
			p->need_body_off = 0;
		}
		const char *e = next_eol(&f, s);
		if (e > s) {
			p->body_dots += p->bol && *s == '.';
			p->bol = 0;
			p->blen += (size_t)(e - s);
			p->body_wire += e - s;
		}
		if (e == end)
			break;
		body_eol(p, (unsigned char)*e);
		s = e + 1;
	}
}

/* The octets to scan next: the replayed "From " check prefix, then the
 * pushed piece. */
static const unsigned char *avail(const struct msg_parser *p, size_t *n)
{
	if (p->replay < p->npre) {
		*n = p->npre - p->replay;
		return (const unsigned char *)p->pre + p->replay;
	}
	*n = p->nin - p->pos;
	return *n ? p->in + p->pos : NULL;   /* nothing pushed yet: no pointer arithmetic on NULL */
}

static void consume(struct msg_parser *p, size_t k)
{
	if (p->replay < p->npre)
		p->replay += k;
	else
		p->pos += k;
	p->off += (off_t)k;
}

/* One octet of the header section with its bookkeeping. */
static int head_step(struct msg_parser *p, unsigned char c)
{
	if (p->skip_lf) {
		p->skip_lf = 0;
		if (c == '\n') {
			consume(p, 1);
			return 1;
		}
	}
	int rc = head_byte(p, c);
	if (rc <= 0)
		return rc < 0 ? -1 : 1;
	consume(p, 1);
	if (++p->hbytes > max_header_bytes(p)) {
		perr_fail(&p->err, FC_MESSAGE, "header section exceeds %zu MiB",
		         max_header_bytes(p) >> 20);
		return -1;
	}
	return 1;
}

/* A leading mbox "From " line: compare, then skip to its line end. */
static void from_step(struct msg_parser *p)
{
	const unsigned char *b = p->in + p->pos;
	size_t n = p->nin - p->pos, k = 0;
	if (p->state == PS_FROM_CHECK) {
		if (*b != (unsigned char)"From "[p->npre]) {
			p->state = PS_HEAD;  /* replay the octets compared so far */
			return;
		}
		p->pre[p->npre++] = (char)*b;
		p->pos++;
		if (p->npre == sizeof p->pre) {
			p->state = PS_FROM_SKIP;
			p->replay = p->npre;
			p->off = (off_t)p->npre;
		}
		return;
	}
	if (p->state == PS_FROM_SKIP_CR) {
		k = *b == '\n';
		p->state = PS_HEAD;
	} else {
		while (k < n && b[k] != '\n' && b[k] != '\r')
			k++;
		if (k < n)
			p->state = b[k++] == '\r' ? PS_FROM_SKIP_CR : PS_HEAD;
	}
	p->pos += k;
	p->off += (off_t)k;
	p->start = p->off;
}

/* Scan some input: 1 progress, 0 nothing left to scan, -1 error. */
static int step(struct msg_parser *p)
{
	size_t n;
	const unsigned char *b;
	if (p->state <= PS_FROM_SKIP_CR) {
		if (p->pos == p->nin)
			return 0;
		from_step(p);
		return 1;
	}
	b = avail(p, &n);
	if (n == 0)
		return 0;
	if (p->state == PS_HEAD)
		return head_step(p, *b);
	body_scan(p, b, n);
	consume(p, n);
	return 1;
}

/* End of input: close the open field or line. */
static void finish(struct msg_parser *p)
{
	if (p->state == PS_FROM_SKIP || p->state == PS_FROM_SKIP_CR) {
		p->start = p->off;
		p->state = PS_HEAD;
	}
	if (p->state == PS_HEAD && (p->hs == H_NAME || p->hs == H_NAMEWSP))
		to_body(p);
	if (p->state == PS_HEAD) {
		header_end(p);
		p->no_separator = 1;
		p->body_off = p->off;
	} else {
		if (p->need_body_off)
			p->body_off = p->off;
		if (p->blen > MSG_MAX_LINE && !p->long_line)
			p->long_line = p->line;
		if (!p->bol)
			p->body_wire += 2;   /* the CRLF the writer adds */
	}
	p->state = PS_DONE;
}

static int pending_event(struct msg_parser *p, struct msg_field *f)
{
	if (p->pending & PEND_FIELD) {
		p->pending &= ~PEND_FIELD;
		f->name = p->name.s;
		f->raw = p->done.s;
		f->value = p->value.s;
		f->line = p->done_line;
		return MSG_EV_FIELD;
	}
	if (p->pending & PEND_HEADER_END) {
		p->pending &= ~PEND_HEADER_END;
		return MSG_EV_HEADER_END;
	}
	return p->state == PS_DONE ? MSG_EV_END : MSG_EV_NEED;
}

int msg_parser_next(struct msg_parser *p, struct msg_field *f, struct perr *e)
{
	memset(f, 0, sizeof *f);
	for (;;) {
		if (p->failed)
			break;
		int ev = pending_event(p, f);
		if (ev != MSG_EV_NEED)
			return ev;
		int rc = step(p);
		if (rc < 0)
			p->failed = 1;
		else if (rc == 0 && !p->eof)
			return MSG_EV_NEED;
		else if (rc == 0 && p->state == PS_FROM_CHECK)
			p->state = PS_HEAD;  /* input ended within "From ": replay it */
		else if (rc == 0)
			finish(p);
	}
	*e = p->err;
	return -1;
}

/* ---- stores ---- */

static void store_init(struct msg_store *s)
{
	memset(s, 0, sizeof *s);
	s->fd = -1;
	buf_init(&s->mem);
}

void msg_store_mem(struct msg_store *s)
{
	store_init(s);
}

int msg_store_temp(struct msg_store *s, struct perr *e)
{
	const char *dir = getenv("TMPDIR");
	store_init(s);
	if (!dir || !*dir)
		dir = "/tmp";
	char *path = xasprintf("%s/postie.XXXXXX", dir);
	int fd = mkstemp(path);
	if (fd < 0) {
		perr_fail(e, FC_OS, "cannot create spool file in %s: %s", dir, strerror(errno));
		free(path);
		return e->ex;
	}
	unlink(path);
	free(path);
	if (fcntl(fd, F_SETFD, FD_CLOEXEC) < 0) {
		perr_fail(e, FC_OS, "spool file: %s", strerror(errno));
		close(fd);
		return e->ex;
	}
	s->fd = fd;
	return 0;
}

int msg_store_create(struct msg_store *s, const char *dir, const char *name, struct perr *e)
{
	store_init(s);
	s->path = xasprintf("%s/%s", dir, name);
	s->fd = open(s->path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (s->fd < 0) {
		perr_fail(e, FC_CANTCREAT, "cannot create %s: %s", s->path, strerror(errno));
		msg_store_close(s);
		return e->ex;
	}
	return 0;
}

int msg_store_open(struct msg_store *s, const char *path, struct perr *e)
{
	struct stat st;
	store_init(s);
	s->fd = open(path, O_RDONLY | O_CLOEXEC);
	if (s->fd < 0 || fstat(s->fd, &st) < 0) {
		perr_fail(e, FC_NOINPUT, "cannot open %s: %s", path, strerror(errno));
		msg_store_close(s);
		return e->ex;
	}
	s->path = xstrdup(path);
	s->len = st.st_size;
	return 0;
}

static int write_all(int fd, const char *p, size_t n, struct perr *e)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return perr_fail(e, FC_IOERR, "cannot write spool file: %s", strerror(errno));
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

int msg_store_add(struct msg_store *s, const void *p, size_t n, struct perr *e)
{
	if (s->fd < 0)
		buf_add(&s->mem, p, n);
	else if (write_all(s->fd, p, n, e))
		return e->ex;
	s->len += (off_t)n;
	return 0;
}

ssize_t msg_store_read(const struct msg_store *s, void *buf, size_t n, off_t off,
                       struct perr *e)
{
	if (off >= s->len)
		return 0;
	if ((off_t)n > s->len - off)
		n = (size_t)(s->len - off);
	if (s->fd < 0) {
		memcpy(buf, s->mem.s + off, n);
		return (ssize_t)n;
	}
	for (;;) {
		ssize_t got = pread(s->fd, buf, n, s->base + off);
		if (got < 0 && errno == EINTR)
			continue;
		if (got > 0)
			return got;
		perr_fail(e, FC_IOERR, "cannot read the message file: %s",
		         got < 0 ? strerror(errno) : "file truncated");
		return -1;
	}
}

void msg_store_close(struct msg_store *s)
{
	if (s->fd >= 0)
		close(s->fd);
	free(s->path);
	buf_free(&s->mem);
	store_init(s);
}

/* A store handed to a msg: the msg owns it, the caller's copy is empty. */
static void store_move(struct msg_store *to, struct msg_store *from)
{
	*to = *from;
	store_init(from);
}

/* A store whose filling failed: a named file does not stay. */
static void store_discard(struct msg_store *s)
{
	if (s->path && s->fd >= 0)
		unlink(s->path);
	msg_store_close(s);
}

/* ---- reading ---- */

struct reading {
	struct msg *m;
	struct msg_parser p;
	size_t hcap;          /* allocated entries in m->hdr */
};

static void msg_init(struct msg *m)
{
	memset(m, 0, sizeof *m);
	store_init(&m->store);
	m->wire_size[0] = m->wire_size[1] = -1;
}

static void keep_field(struct reading *r, const struct msg_field *f)
{
	struct msg *m = r->m;
	if (m->nhdr == r->hcap) {
		r->hcap = r->hcap ? r->hcap * 2 : 16;
		m->hdr = xrealloc(m->hdr, r->hcap * sizeof *m->hdr);
	}
	struct header *h = &m->hdr[m->nhdr++];
	h->name = xstrdup(f->name);
	h->value = xstrdup(f->value);
	h->raw = xstrdup(f->raw);
	h->drop = 0;
}

/* The parser's events until it needs input or ends. */
static int drain(struct reading *r, struct perr *e)
{
	struct msg_field f;
	for (;;) {
		int ev = msg_parser_next(&r->p, &f, e);
		if (ev < 0)
			return e->ex;
		if (ev == MSG_EV_NEED || ev == MSG_EV_END)
			return 0;
		if (ev == MSG_EV_FIELD)
			keep_field(r, &f);
	}
}

static int feed(struct reading *r, const void *b, size_t n, struct perr *e)
{
	msg_parser_push(&r->p, b, n);
	return drain(r, e);
}

static int end_reading(struct reading *r, struct perr *e)
{
	struct msg *m = r->m;
	msg_parser_eof(&r->p);
	if (drain(r, e))
		return e->ex;
	m->start = r->p.start;
	m->size = r->p.size - r->p.start;
	m->body_off = r->p.body_off;
	m->no_separator = r->p.no_separator;
	m->eightbit = r->p.eightbit;
	m->long_line = r->p.long_line;
	m->multipart = r->p.multipart;
	m->body_wire = r->p.body_wire;
	m->body_dots = r->p.body_dots;
	if (m->size == 0)
		return perr_fail(e, FC_MESSAGE, "empty message (no input on stdin)");
	return 0;
}

/* Read src to its end into the store, parsing as it arrives. */
static int read_loop(struct reading *r, msg_source src, void *ctx, struct perr *e)
{
	char *buf = xmalloc(CHUNK);
	int rc = 0;
	for (;;) {
		ssize_t got = src(ctx, buf, CHUNK, e);
		if (got < 0) {
			rc = e->ex;
			break;
		}
		if (got == 0)
			break;
		rc = msg_store_add(&r->m->store, buf, (size_t)got, e);
		if (!rc)
			rc = feed(r, buf, (size_t)got, e);
		if (rc)
			break;
	}
	free(buf);
	return rc;
}

static ssize_t fd_source(void *ctx, char *buf, size_t n, struct perr *e)
{
	for (;;) {
		ssize_t got = read(*(int *)ctx, buf, n);
		if (got >= 0)
			return got;
		if (errno != EINTR) {
			perr_fail(e, FC_IOERR, "cannot read the message: %s", strerror(errno));
			return -1;
		}
	}
}

/* Parse the message that fill(r, arg, e) feeds, into m. On failure m is
 * freed; a named file being read into is removed, one being loaded is
 * not. */
static int parse(struct msg *m, int flags, int (*fill)(struct reading *, void *, struct perr *),
                 void *arg, struct perr *e)
{
	struct reading r = { m, { 0 }, 0 };
	msg_parser_init(&r.p, flags);
	int rc = fill(&r, arg, e);
	if (!rc)
		rc = end_reading(&r, e);
	msg_parser_free(&r.p);
	if (rc) {
		if (!(flags & MSG_PARSE_PREPARED))
			store_discard(&m->store);
		msg_free(m);
	}
	return rc;
}

struct source {
	msg_source fn;
	void *ctx;
};

static int from_source(struct reading *r, void *arg, struct perr *e)
{
	struct source *src = arg;
	return read_loop(r, src->fn, src->ctx, e);
}

/* The store's own bytes, in CHUNK pieces. */
static int from_store(struct reading *r, void *arg, struct perr *e)
{
	char *buf = xmalloc(CHUNK);
	off_t off = 0;
	ssize_t got = 0;
	(void)arg;
	while ((got = msg_store_read(&r->m->store, buf, CHUNK, off, e)) > 0) {
		if (feed(r, buf, (size_t)got, e))
			break;
		off += got;
	}
	free(buf);
	return got == 0 ? 0 : e->ex;
}

int msg_read_store(int infd, struct msg_store *s, struct msg *m, struct perr *e)
{
	struct source src = { fd_source, &infd };
	msg_init(m);
	store_move(&m->store, s);
	return parse(m, 0, from_source, &src, e);
}

int msg_read_source(msg_source fn, void *ctx, struct msg *m, struct perr *e)
{
	struct msg_store s;
	struct source src = { fn, ctx };
	if (msg_store_temp(&s, e))
		return e->ex;
	msg_init(m);
	store_move(&m->store, &s);
	return parse(m, 0, from_source, &src, e);
}

/* A regular file is its own store, from its current offset on: s
 * holds a duplicate of fd (fd itself stays open). -1 for anything else. */
static int store_in_place(struct msg_store *s, int fd)
{
	struct stat st;
	off_t at;
	store_init(s);
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || (at = lseek(fd, 0, SEEK_CUR)) < 0)
		return -1;
	s->fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
	s->base = at;
	return s->fd < 0 ? -1 : 0;
}

/* The file in place, read to its end; then its offset is there, as if
 * read() had read it. */
static int from_file(struct reading *r, void *arg, struct perr *e)
{
	struct msg_store *s = &r->m->store;
	char *buf = xmalloc(CHUNK);
	int rc = 0;
	for (;;) {
		ssize_t got = pread(s->fd, buf, CHUNK, s->base + s->len);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0)
			rc = perr_fail(e, FC_IOERR, "cannot read the message: %s", strerror(errno));
		if (got <= 0)
			break;
		s->len += got;
		if ((rc = feed(r, buf, (size_t)got, e)))
			break;
	}
	lseek(*(int *)arg, s->base + s->len, SEEK_SET);
	free(buf);
	return rc;
}

int msg_read(int infd, struct msg *m, struct perr *e)
{
	struct msg_store s;
	if (store_in_place(&s, infd) == 0) {
		msg_init(m);
		store_move(&m->store, &s);
		return parse(m, 0, from_file, &infd, e);
	}
	msg_store_close(&s);
	if (msg_store_temp(&s, e))
		return e->ex;
	return msg_read_store(infd, &s, m, e);
}

int msg_read_mem(const char *p, size_t n, struct msg *m, struct perr *e)
{
	msg_init(m);
	msg_store_mem(&m->store);
	msg_store_add(&m->store, p, n, e);
	return parse(m, 0, from_store, NULL, e);
}

int msg_load(struct msg_store *s, struct msg *m, struct perr *e)
{
	msg_init(m);
	store_move(&m->store, s);
	if (parse(m, MSG_PARSE_PREPARED, from_store, NULL, e))
		return e->ex;
	m->prepared = 1;
	return 0;
}

/* ---- looking at headers ---- */

const struct header *msg_header(const struct msg *m, const char *name, size_t i)
{
	for (size_t k = 0; k < m->nhdr; k++) {
		if (m->hdr[k].drop || ascii_casecmp(m->hdr[k].name, name))
			continue;
		if (i-- == 0)
			return &m->hdr[k];
	}
	return NULL;
}

static int parse_field(const struct header *h, struct addrlist *out, struct perr *e)
{
	if (addr_parse_list(h->value, out, e) == 0)
		return 0;
	char why[sizeof e->msg];
	memcpy(why, e->msg, sizeof why);
	return perr_fail(e, FC_MESSAGE, "%s header: %s", h->name, why);
}

/* Dropped fields count here: a Bcc removed from the copy is still a
 * recipient. */
int msg_recipients(const struct msg *m, struct addrlist *out, struct perr *e)
{
	static const char *const plain[] = { "To", "Cc", "Bcc" };
	static const char *const resent[] = { "Resent-To", "Resent-Cc", "Resent-Bcc" };
	const char *const *names = plain;
	size_t lo = 0, hi = m->nhdr;
	for (size_t i = 0; i < m->nhdr; i++) {
		if (!ascii_caseprefix(m->hdr[i].name, "Resent-"))
			continue;
		names = resent;
		lo = i;
		for (hi = i; hi < m->nhdr && ascii_caseprefix(m->hdr[hi].name, "Resent-"); hi++)
			;
		break;
	}
	for (size_t k = 0; k < 3; k++) {
		for (size_t i = lo; i < hi; i++) {
			if (ascii_casecmp(m->hdr[i].name, names[k]))
				continue;
			if (parse_field(&m->hdr[i], out, e))
				return e->ex;
		}
	}
	return 0;
}

static char *dup_or_null(const char *s)
{
	return s ? xstrdup(s) : NULL;
}

int msg_from(const struct msg *m, struct addr *out, struct perr *e)
{
	for (size_t i = 0; i < m->nhdr; i++) {
		if (ascii_casecmp(m->hdr[i].name, "From"))
			continue;
		struct addrlist l = { NULL, 0, 0 };
		if (parse_field(&m->hdr[i], &l, e)) {
			addrlist_free(&l);
			return e->ex;
		}
		if (l.n == 0) {
			addrlist_free(&l);
			return perr_fail(e, FC_MESSAGE, "the From header holds no address");
		}
		out->name = dup_or_null(l.v[0].name);
		out->local = dup_or_null(l.v[0].local);
		out->domain = dup_or_null(l.v[0].domain);
		addrlist_free(&l);
		return 0;
	}
	return perr_fail(e, FC_MESSAGE, "the message has no From header");
}

/* ---- planning the edits ---- */

static void drop_named(struct msg *m, const char *name)
{
	for (size_t i = 0; i < m->nhdr; i++)
		if (!ascii_casecmp(m->hdr[i].name, name))
			m->hdr[i].drop = 1;
}

static int has(const struct msg *m, const char *name)
{
	return msg_header(m, name, 0) != NULL;
}

/* A From header that names no usable mailbox: an address without a
 * domain, as cron ("root (Cron Daemon)"), cronie ("<user>"), logwatch
 * ("Logwatch") or sudo write it, or nothing that parses. Strict
 * providers refuse such mail, so set_from_header auto replaces it. When
 * name is not NULL it receives the old header's display name (or the
 * comment after a bare address), if any. */
static int from_unqualified(const struct msg *m, char **name)
{
	/* the first From as received, even once this repair has dropped it */
	const struct header *h = NULL;
	for (size_t i = 0; i < m->nhdr && !h; i++)
		if (!ascii_casecmp(m->hdr[i].name, "From"))
			h = &m->hdr[i];
	struct addrlist l = { 0 };
	struct perr e;
	int bad = 0;
	if (!h)
		return 0;
	if (addr_parse_list(h->value, &l, &e) || l.n == 0)
		bad = 1;
	for (size_t i = 0; i < l.n; i++)
		if (!l.v[i].domain)
			bad = 1;
	if (bad && name && l.n > 0 && l.v[0].name && *l.v[0].name)
		*name = xstrdup(l.v[0].name);
	addrlist_free(&l);
	return bad;
}

static int want_from(const struct msg *m, const struct msg_edits *ed)
{
	if (!ed->from_addr || !*ed->from_addr)
		return 0;
	return ed->set_from == HDR_ON ||
	       (ed->set_from == HDR_AUTO && (!has(m, "From") || from_unqualified(m, NULL)));
}

static int want_to(const struct msg *m, const struct msg_edits *ed)
{
	return ed->set_to == HDR_ON
	       || (ed->set_to == HDR_AUTO && !has(m, "To") && !has(m, "Cc"));
}

static void mark_drops(struct msg *m, const struct msg_edits *ed)
{
	if (want_from(m, ed))
		drop_named(m, "From");
	if (ed->set_to == HDR_ON) {
		drop_named(m, "To");
		drop_named(m, "Cc");
		drop_named(m, "Bcc");
	}
	if (ed->remove_bcc) {
		drop_named(m, "Bcc");
		drop_named(m, "Resent-Bcc");
	}
}

/* The first token of a MIME field body (type/subtype or mechanism). */
static size_t token_len(const char *v)
{
	return strcspn(v, " \t;(");
}

static int is_identity_cte(const char *v)
{
	static const char *const ok[] = { "7bit", "8bit", "binary" };
	size_t n = token_len(v);
	for (size_t i = 0; i < 3; i++)
		if (n == strlen(ok[i]) && !ascii_ncasecmp(v, ok[i], n))
			return 1;
	return 0;
}

/* A body line is too long: plan quoted-printable, or say why not. */
static int plan_qp(struct msg *m, struct perr *e)
{
	const struct header *ct = msg_header(m, "Content-Type", 0);
	const struct header *cte = msg_header(m, "Content-Transfer-Encoding", 0);
	char *why = NULL;
	if (m->multipart && ct && ascii_caseprefix(ct->value, "multipart/"))
		why = xstrdup("multipart");
	else if (m->multipart && ct)
		why = xstrndup(ct->value, token_len(ct->value));
	else if (cte && !is_identity_cte(cte->value))
		why = xasprintf("Content-Transfer-Encoding %.*s",
		                (int)token_len(cte->value), cte->value);
	if (why) {
		perr_fail(e, FC_MESSAGE, "line %ld is longer than 998 octets and the "
		         "message cannot be re-encoded (%s)", m->long_line, why);
		free(why);
		return e->ex;
	}
	drop_named(m, "Content-Transfer-Encoding");
	m->qp = 1;
	return 0;
}

/* Where to fold a physical line l[0..n) whose piece starts at s: the
 * position of a white space octet to break before, preceded by text and
 * followed by more text, past min; the latest one within FOLD_WANT, else
 * the first one within MSG_MAX_LINE. 0 if there is none. */
static size_t fold_point(const char *l, size_t n, size_t s, size_t min, size_t last_text)
{
	size_t best = 0;
	size_t end = s + MSG_MAX_LINE < last_text ? s + MSG_MAX_LINE : last_text;
	for (size_t c = s + 1 > min ? s + 1 : min; c <= end && c < n; c++) {
		if (best && c - s > FOLD_WANT)
			break;
		if (!is_wsp(l[c]) || is_wsp(l[c - 1]))
			continue;
		best = c;
		if (c - s > FOLD_WANT)
			break;
	}
	return best;
}

/* Fold a physical line over MSG_MAX_LINE into out; -1 if impossible. */
static int fold_line(const char *l, size_t n, int first, struct buf *out)
{
	size_t s = 0, min = 1, last_text = 0;
	if (first) {
		const char *colon = memchr(l, ':', n);
		min = colon ? (size_t)(colon - l) + 1 : n;
	}
	for (size_t i = 0; i < n; i++)
		if (!is_wsp(l[i]))
			last_text = i;
	while (n - s > FOLD_WANT) {
		size_t c = fold_point(l, n, s, min, last_text);
		if (!c)
			break;
		buf_add(out, l + s, c - s);
		buf_addc(out, '\n');
		s = c;
	}
	if (n - s > MSG_MAX_LINE)
		return -1;
	buf_add(out, l + s, n - s);
	return 0;
}

/* Refold a raw field whose physical lines exceed MSG_MAX_LINE. Returns
 * 0 (*raw replaced if needed) or the 0-based index of the first line
 * that cannot be folded, plus one. */
static long refold(char **raw)
{
	const char *p = *raw;
	struct buf out;
	long idx = 0, bad = 0, changed = 0;
	buf_init(&out);
	while (*p && !bad) {
		const char *nl = strchr(p, '\n');
		size_t n = nl ? (size_t)(nl - p) : strlen(p);
		if (n <= MSG_MAX_LINE) {
			buf_add(&out, p, n);
		} else if (fold_line(p, n, idx == 0, &out)) {
			bad = idx + 1;
		} else {
			changed = 1;
		}
		if (nl)
			buf_addc(&out, '\n');
		p += n + (nl != NULL);
		idx++;
	}
	if (changed && !bad) {
		free(*raw);
		*raw = buf_steal(&out);
	}
	buf_free(&out);
	return bad;
}

static long count_lines(const char *s)
{
	long n = 0;
	for (; *s; s++)
		n += *s == '\n';
	return n;
}

static int refold_kept(struct msg *m, struct perr *e)
{
	long line = 1;
	for (size_t i = 0; i < m->nhdr; i++) {
		struct header *h = &m->hdr[i];
		long bad = h->drop ? 0 : refold(&h->raw);
		if (bad)
			return perr_fail(e, FC_MESSAGE, "header line %ld is longer than 998 octets",
			                line + bad - 1);
		line += count_lines(h->raw);
	}
	return 0;
}

static struct header *add_header(struct msg *m, const char *name, const char *value)
{
	struct header *h = &m->add[m->nadd++];
	h->name = xstrdup(name);
	h->value = xstrdup(value);
	h->raw = xasprintf("%s: %s\n", name, value);
	h->drop = 0;
	return h;
}

/* name: -F or from_full_name, else the display name of a From being
 * replaced because it had no domain. */
static int add_from(struct msg *m, const struct msg_edits *ed, const char *old_name, struct perr *e)
{
	char *value;
	const char *name = ed->from_name && *ed->from_name ? ed->from_name : old_name;
	if (name && *name) {
		char *phrase = addr_phrase(name);
		value = xasprintf("%s <%s>", phrase, ed->from_addr);
		free(phrase);
	} else {
		value = xstrdup(ed->from_addr);
	}
	struct header *h = add_header(m, "From", value);
	free(value);
	if (refold(&h->raw))
		return perr_fail(e, FC_MESSAGE, "the From header to add is longer than 998 octets");
	return 0;
}

static char *rfc5322_date(const struct tm *tm)
{
	static const char days[7][4] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };
	static const char months[12][4] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
	                                    "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
	long off = tm->tm_gmtoff;
	char sign = off < 0 ? '-' : '+';
	if (off < 0)
		off = -off;
	return xasprintf("%s, %d %s %d %02d:%02d:%02d %c%02ld%02ld",
	                 days[tm->tm_wday % 7], tm->tm_mday, months[tm->tm_mon % 12],
	                 tm->tm_year + 1900, tm->tm_hour, tm->tm_min, tm->tm_sec,
	                 sign, off / 3600, off % 3600 / 60);
}

static int add_date(struct msg *m, time_t now, struct perr *e)
{
	struct tm tm;
	if (!localtime_r(&now, &tm))
		return perr_fail(e, FC_OS, "cannot convert the time for the Date header");
	char *v = rfc5322_date(&tm);
	add_header(m, "Date", v);
	free(v);
	return 0;
}

/* A Message-ID: the UTC time, 64 random bits, the domain. */
static int add_msgid(struct msg *m, time_t now, const char *domain, struct perr *e)
{
	unsigned char rnd[8];
	size_t have = 0;
	while (have < sizeof rnd) {
		ssize_t got = getrandom(rnd + have, sizeof rnd - have, 0);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0)
			return perr_fail(e, FC_OS, "getrandom: %s", strerror(errno));
		have += (size_t)got;
	}
	char hex[2 * sizeof rnd + 1];
	for (size_t i = 0; i < sizeof rnd; i++)
		snprintf(hex + 2 * i, 3, "%02X", rnd[i]);
	struct tm tm;
	if (!gmtime_r(&now, &tm))
		return perr_fail(e, FC_OS, "cannot convert the time for the Message-ID header");
	char *v = xasprintf("<%04d%02d%02d%02d%02d%02d.%s@%s>", tm.tm_year + 1900,
	                    tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
	                    hex, domain ? domain : "localhost");
	add_header(m, "Message-ID", v);
	free(v);
	return 0;
}

static int add_planned(struct msg *m, const struct msg_edits *ed, struct perr *e)
{
	time_t now = ed->now ? ed->now : time(NULL);
	int from = want_from(m, ed), to = want_to(m, ed);
	int date = ed->set_date != HDR_OFF && !has(m, "Date");
	int msgid = ed->set_msgid != HDR_OFF && !has(m, "Message-ID");
	m->add = xcalloc(MAX_ADDED, sizeof *m->add);
	if (from) {
		char *old_name = NULL;
		if (ed->set_from == HDR_AUTO)
			from_unqualified(m, &old_name);
		int r = add_from(m, ed, old_name, e);
		free(old_name);
		if (r)
			return e->ex;
	}
	if (to)
		add_header(m, "To", "undisclosed-recipients:;");
	if (date && add_date(m, now, e))
		return e->ex;
	if (msgid && ed->msgid)
		add_header(m, "Message-ID", ed->msgid);
	else if (msgid && add_msgid(m, now, ed->msgid_domain, e))
		return e->ex;
	if (m->qp && !has(m, "MIME-Version"))
		add_header(m, "MIME-Version", "1.0");
	if (m->qp)
		add_header(m, "Content-Transfer-Encoding", "quoted-printable");
	return 0;
}

static void free_headers(struct header *h, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(h[i].name);
		free(h[i].value);
		free(h[i].raw);
	}
	free(h);
}

static int any_8bit(const struct header *h, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!h[i].drop && addr_is_8bit(h[i].raw))
			return 1;
	return 0;
}

int msg_prepare(struct msg *m, const struct msg_edits *ed, struct perr *e)
{
	if (m->prepared)
		return perr_fail(e, FC_INTERNAL, "the message is prepared already");
	free_headers(m->add, m->nadd);
	m->add = NULL;
	m->nadd = 0;
	m->qp = 0;
	m->wire_size[0] = m->wire_size[1] = -1;
	for (size_t i = 0; i < m->nhdr; i++)
		m->hdr[i].drop = 0;
	mark_drops(m, ed);
	if (m->long_line && plan_qp(m, e))
		return e->ex;
	if (refold_kept(m, e) || add_planned(m, ed, e))
		return e->ex;
	if (m->qp)  /* the body is 7-bit now: only headers can be 8-bit */
		m->eightbit = any_8bit(m->hdr, m->nhdr) || any_8bit(m->add, m->nadd);
	return 0;
}

/* ---- writing ---- */

struct wr {
	char *out;        /* the window the output gave */
	size_t len, room; /* octets written into it, its size */
	const struct msg_out *o;
	int rc;           /* the output's nonzero return: stop */
	off_t done;       /* octets handed to the output */
	off_t limit;      /* what the message was measured to be, -1 unknown */
	int changed;      /* the output would differ from that: stop */
	struct perr *e;
	int dotstuff;
	int bol;          /* at the beginning of an output line */
	int skip_lf;      /* the last input octet was a CR */
	int qp_ws;        /* quoted-printable: a held SP or HTAB, or -1 */
	size_t qp_col;    /* quoted-printable: length of the encoded line */
	char spare[64];   /* the window once the output has stopped */
};

static void wr_init(struct wr *w, const struct msg_out *o, int dotstuff, off_t limit,
                    struct perr *e)
{
	memset(w, 0, sizeof *w);
	w->o = o;
	w->limit = limit;
	w->e = e;
	w->dotstuff = dotstuff;
	w->bol = 1;
	w->qp_ws = -1;
}

/* Hand the window's octets to the output (p NULL: the last ones); more
 * than the message was measured to be are refused: its file changed. */
static void hand_over(struct wr *w, char **p, size_t *room)
{
	if (w->rc)
		return;
	w->changed = w->limit >= 0 && w->done + (off_t)w->len > w->limit;
	w->rc = w->changed ? -1 : w->o->next(w->o->ctx, w->len, p, room);
	if (w->rc == 0)
		w->done += (off_t)w->len;
}

static void next_window(struct wr *w)
{
	hand_over(w, &w->out, &w->room);
	if (w->rc) {   /* what follows goes nowhere */
		w->out = w->spare;
		w->room = sizeof w->spare;
	}
	w->len = 0;
}

static void emit(struct wr *w, char c)
{
	if (w->len == w->room)
		next_window(w);
	w->out[w->len++] = c;
}

/* n octets of text, copied into as many windows as they need. */
static void emit_run(struct wr *w, const char *p, size_t n)
{
	while (n > 0) {
		if (w->len == w->room)
			next_window(w);
		size_t k = w->room - w->len < n ? w->room - w->len : n;
		memcpy(w->out + w->len, p, k);
		w->len += k;
		p += k;
		n -= k;
	}
}

/* The first octet of a line: doubled if it is a dot and dotstuff. */
static void line_start(struct wr *w, char c)
{
	if (w->bol) {
		w->bol = 0;
		if (w->dotstuff && c == '.')
			emit(w, '.');
	}
}

static void out_char(struct wr *w, char c)
{
	line_start(w, c);
	emit(w, c);
}

static void out_eol(struct wr *w)
{
	emit(w, '\r');
	emit(w, '\n');
	w->bol = 1;
}

/* Copy text, every line end (LF, CRLF, CR) made CRLF: a line at a time. */
static void put_text(struct wr *w, const char *p, size_t n)
{
	const char *end = p + n;
	struct eols f;
	eols_init(&f, end);
	while (p < end) {
		if (w->skip_lf) {
			w->skip_lf = 0;
			if (*p == '\n') {
				p++;
				continue;
			}
		}
		const char *e = next_eol(&f, p);
		if (e > p) {
			line_start(w, *p);
			emit_run(w, p, (size_t)(e - p));
		}
		if (e == end)
			break;
		out_eol(w);
		w->skip_lf = *e == '\r';
		p = e + 1;
	}
}

static void qp_token(struct wr *w, const char *t, size_t n)
{
	if (w->qp_col + n > QP_LINE - 1) {
		out_char(w, '=');
		out_eol(w);
		w->qp_col = 0;
	}
	for (size_t i = 0; i < n; i++)
		out_char(w, t[i]);
	w->qp_col += n;
}

static void qp_octet(struct wr *w, unsigned char c, int literal)
{
	static const char hex[] = "0123456789ABCDEF";
	char t[3] = { '=', hex[c >> 4], hex[c & 15] };
	if (literal)
		qp_token(w, (const char *)&c, 1);
	else
		qp_token(w, t, 3);
}

/* Emit a held white space octet, encoded if a line end follows. */
static void qp_flush_ws(struct wr *w, int at_eol)
{
	if (w->qp_ws < 0)
		return;
	qp_octet(w, (unsigned char)w->qp_ws, !at_eol);
	w->qp_ws = -1;
}

/* Encode as quoted-printable; line ends become hard line breaks. */
static void put_qp(struct wr *w, const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)p[i];
		if (w->skip_lf) {
			w->skip_lf = 0;
			if (c == '\n')
				continue;
		}
		if (c == '\r' || c == '\n') {
			qp_flush_ws(w, 1);
			out_eol(w);
			w->qp_col = 0;
			w->skip_lf = c == '\r';
			continue;
		}
		qp_flush_ws(w, 0);
		if (is_wsp(c))
			w->qp_ws = c;
		else
			qp_octet(w, c, c >= 33 && c <= 126 && c != '=');
	}
}

/* Store octets [from, to) as text, or encoded when the body is QP. */
static int write_range(struct msg *m, struct wr *w, off_t from, off_t to, struct perr *e)
{
	char *buf = xmalloc(CHUNK);
	off_t pos = from;
	int rc = 0;
	while (pos < to && !w->rc) {
		size_t want = to - pos < CHUNK ? (size_t)(to - pos) : CHUNK;
		ssize_t got = msg_store_read(&m->store, buf, want, pos, e);
		if (got <= 0) {
			rc = got < 0 ? -1 : perr_fail(e, FC_IOERR, "cannot read the message file: "
			                             "file truncated");
			break;
		}
		if (m->qp)
			put_qp(w, buf, (size_t)got);
		else
			put_text(w, buf, (size_t)got);
		pos += got;
	}
	free(buf);
	return rc;
}

/* What goes before the body: the header section with the edits and the
 * blank line, or a prepared message's stored header section. */
static int write_head(struct msg *m, struct wr *w, struct perr *e)
{
	if (m->prepared)
		return write_range(m, w, m->start, m->body_off, e);
	for (size_t i = 0; i < m->nadd; i++)
		put_text(w, m->add[i].raw, strlen(m->add[i].raw));
	for (size_t i = 0; i < m->nhdr; i++)
		if (!m->hdr[i].drop)
			put_text(w, m->hdr[i].raw, strlen(m->hdr[i].raw));
	out_eol(w);
	return 0;
}

/* The last line end and the last octets; the total checked. */
static int finish_write(struct wr *w)
{
	qp_flush_ws(w, 1);
	if (!w->bol)
		out_eol(w);
	hand_over(w, NULL, NULL);
	if (w->rc == 0 && w->limit >= 0 && w->done != w->limit) {
		w->changed = 1;
		w->rc = -1;
	}
	if (w->changed)
		perr_fail(w->e, FC_IOERR, "the message changed after it was read "
		          "(its file was modified)");
	return w->rc;
}

static int write_message(struct msg *m, struct wr *w, struct perr *e)
{
	off_t end = m->start + m->size;
	if (write_head(m, w, e) || write_range(m, w, m->body_off, end, e))
		return -1;
	return finish_write(w);
}

int msg_write_to(struct msg *m, int dotstuff, const struct msg_out *o, struct perr *e)
{
	struct wr w;
	int k = dotstuff != 0;
	/* the size to hold the output to; a quoted-printable body's is
	 * known only once it was encoded (its size asked for) */
	off_t limit = m->qp ? m->wire_size[k] : msg_wire_size(m, k, e);
	if (!m->qp && limit < 0)
		return -1;
	wr_init(&w, o, k, limit, e);
	return write_message(m, &w, e);
}

struct chunks {
	char *buf;
	msg_sink sink;
	void *ctx;
};

static int chunk_next(void *ctx, size_t used, char **p, size_t *room)
{
	struct chunks *c = ctx;
	int rc = used ? c->sink(c->ctx, c->buf, used) : 0;
	if (p) {
		*p = c->buf;
		*room = CHUNK;
	}
	return rc;
}

int msg_write(struct msg *m, int dotstuff, msg_sink sink, void *ctx, struct perr *e)
{
	struct chunks c = { xmalloc(CHUNK), sink, ctx };
	struct msg_out o = { chunk_next, &c };
	int rc = msg_write_to(m, dotstuff, &o, e);
	free(c.buf);
	return rc;
}

struct counter {
	off_t n;
	char scratch[4096];
};

static int count_next(void *ctx, size_t used, char **p, size_t *room)
{
	struct counter *c = ctx;
	c->n += (off_t)used;
	if (p) {
		*p = c->scratch;
		*room = sizeof c->scratch;
	}
	return 0;
}

/* From the scan: only the part before the body is written (counted);
 * the body's size is what msg_read counted, unless it is re-encoded as
 * quoted-printable, whose size is known only by encoding it. */
static off_t measure(struct msg *m, int dotstuff, struct perr *e)
{
	struct counter c;
	struct msg_out o = { count_next, &c };
	struct wr w;
	off_t end = m->start + m->size;
	c.n = 0;
	wr_init(&w, &o, dotstuff, -1, e);
	if (m->qp)
		return write_message(m, &w, e) ? -1 : c.n;
	if (write_head(m, &w, e))
		return -1;
	if (m->body_off < end) {
		hand_over(&w, NULL, NULL);
		return c.n + m->body_wire + (dotstuff ? m->body_dots : 0);
	}
	finish_write(&w);
	return c.n;
}

off_t msg_wire_size(struct msg *m, int dotstuff, struct perr *e)
{
	int k = dotstuff != 0;
	if (m->wire_size[k] < 0)
		m->wire_size[k] = measure(m, k, e);
	return m->wire_size[k];
}

struct saving {
	struct msg_store *s;
	struct perr *e;
};

static int store_sink(void *ctx, const char *p, size_t n)
{
	struct saving *sv = ctx;
	return msg_store_add(sv->s, p, n, sv->e) ? -1 : 0;
}

int msg_save(struct msg *m, struct msg_store *s, struct perr *e)
{
	struct saving sv = { s, e };
	return msg_write(m, 0, store_sink, &sv, e) ? e->ex : 0;
}

void msg_free(struct msg *m)
{
	msg_store_close(&m->store);
	free_headers(m->hdr, m->nhdr);
	free_headers(m->add, m->nadd);
	msg_init(m);
}
