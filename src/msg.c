/* msg.c - the message: read once into an unlinked spool file while the
 * header section is parsed, header edits and the long-line repair
 * planned, then streamed in SMTP form (CRLF, dot-stuffing) in bounded
 * memory. */
#include "msg.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "conf.h"
#include "util.h"

#define CHUNK 65536      /* read size and largest piece handed to a sink */
#define FOLD_WANT 78     /* preferred header line length when refolding */
#define QP_LINE 76       /* RFC 2045 6.7: encoded line length limit */
#define MAX_ADDED 6      /* From, To, Date, Message-ID, MIME-Version, CTE */
#define MAX_FIELDS 10000 /* header fields kept: bounds the memory per octet */

/* ---- reading ---- */

enum { RS_FROM_CHECK, RS_FROM_SKIP, RS_FROM_SKIP_CR, RS_HEAD, RS_BODY };
enum { H_START, H_NAME, H_NAMEWSP, H_VALUE };

struct reader {
	struct msg *m;
	struct perr *e;
	int state;          /* RS_* */
	char pre[5];        /* the first octets, while checking for "From " */
	size_t npre;
	int hs;             /* H_*: where in a header line */
	int skip_lf;        /* the last octet was a CR that ended a line */
	int need_body_off;  /* body_off is the offset of the next body octet */
	off_t off;          /* spool offset of the octet being looked at */
	off_t line_off;     /* spool offset of the current line */
	long line;          /* current line number, 1-based */
	size_t hbytes;      /* octets of the header section so far */
	size_t blen;        /* length of the current body line so far */
	size_t hcap;        /* allocated entries in m->hdr */
	struct buf cur;     /* the field being collected, LF line ends */
	struct buf pend;    /* a line that may start a new field */
};

static int is_wsp(int c)
{
	return c == ' ' || c == '\t';
}

static int is_name_char(int c)
{
	return c >= 33 && c <= 126 && c != ':';
}

static int spool_open(struct perr *e)
{
	const char *dir = getenv("TMPDIR");
	if (!dir || !*dir)
		dir = "/tmp";
	char *path = xasprintf("%s/postie.XXXXXX", dir);
	int fd = mkstemp(path);
	if (fd < 0) {
		perr_set(e, EX_OSERR, "cannot create spool file in %s: %s", dir, strerror(errno));
		free(path);
		return -1;
	}
	unlink(path);
	free(path);
	if (fcntl(fd, F_SETFD, FD_CLOEXEC) < 0) {
		perr_set(e, EX_OSERR, "spool file: %s", strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

static int write_all(int fd, const unsigned char *p, size_t n, struct perr *e)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return perr_set(e, EX_IOERR, "cannot write spool file: %s", strerror(errno));
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* The unfolded field body: line ends removed, leading white space trimmed. */
static char *unfold(const char *s)
{
	char *v = xmalloc(strlen(s) + 1);
	size_t n = 0;
	for (; *s; s++) {
		if (*s == '\n' || (n == 0 && is_wsp(*s)))
			continue;
		v[n++] = *s;
	}
	v[n] = '\0';
	return v;
}

/* Turn the collected field (if any) into a header entry. */
static void add_field(struct reader *r)
{
	struct msg *m = r->m;
	if (r->cur.len == 0)
		return;
	if (r->cur.s[r->cur.len - 1] != '\n')
		buf_addc(&r->cur, '\n');
	char *raw = buf_steal(&r->cur);
	if (m->nhdr == r->hcap) {
		r->hcap = r->hcap ? r->hcap * 2 : 16;
		m->hdr = xrealloc(m->hdr, r->hcap * sizeof *m->hdr);
	}
	struct header *h = &m->hdr[m->nhdr++];
	h->name = xstrndup(raw, strcspn(raw, " \t:"));
	h->value = unfold(strchr(raw, ':') + 1);
	h->raw = raw;
	h->drop = 0;
}

static void end_line(struct reader *r, unsigned char c)
{
	r->line++;
	r->skip_lf = c == '\r';
}

/* The current line is not a header field: the body starts with it. */
static int to_body(struct reader *r)
{
	add_field(r);
	r->m->no_separator = 1;
	r->m->body_off = r->line_off;
	r->blen = (size_t)(r->off - r->line_off);
	r->state = RS_BODY;
	return 0;
}

static int name_byte(struct reader *r, unsigned char c)
{
	if (c == ':') {
		add_field(r);
		if (r->m->nhdr >= MAX_FIELDS) {
			perr_set(r->e, EX_DATAERR, "header section has more than %d fields", MAX_FIELDS);
			return -1;
		}
		buf_add(&r->cur, r->pend.s, r->pend.len);
		buf_addc(&r->cur, ':');
		buf_reset(&r->pend);
		r->hs = H_VALUE;
		return 1;
	}
	if (is_wsp(c)) {
		buf_addc(&r->pend, (char)c);
		r->hs = H_NAMEWSP;
		return 1;
	}
	if (r->hs == H_NAME && is_name_char(c)) {
		buf_addc(&r->pend, (char)c);
		return 1;
	}
	return to_body(r);
}

/* One octet of the header section: 1 consumed, 0 the body starts here
 * (look at it again as body), -1 error. */
static int head_byte(struct reader *r, unsigned char c)
{
	switch (r->hs) {
	case H_START:
		r->line_off = r->off;
		if (c == '\n' || c == '\r') {
			add_field(r);
			end_line(r, c);
			r->state = RS_BODY;
			r->need_body_off = 1;
			return 1;
		}
		if (is_wsp(c) && r->cur.len) {
			buf_addc(&r->cur, (char)c);
			r->hs = H_VALUE;
			return 1;
		}
		if (!is_name_char(c))
			return to_body(r);
		buf_reset(&r->pend);
		buf_addc(&r->pend, (char)c);
		r->hs = H_NAME;
		return 1;
	case H_NAME:
	case H_NAMEWSP:
		return name_byte(r, c);
	default:
		if (c == '\n' || c == '\r') {
			buf_addc(&r->cur, '\n');
			end_line(r, c);
			r->hs = H_START;
			return 1;
		}
		if (c == '\0') {
			perr_set(r->e, EX_DATAERR, "header line %ld contains a NUL octet", r->line);
			return -1;
		}
		if (c & 0x80)
			r->m->eightbit = 1;
		buf_addc(&r->cur, (char)c);
		return 1;
	}
}

static void body_scan(struct reader *r, const unsigned char *p, size_t n)
{
	struct msg *m = r->m;
	for (size_t k = 0; k < n; k++) {
		unsigned char c = p[k];
		if (r->skip_lf) {
			r->skip_lf = 0;
			if (c == '\n')
				continue;
		}
		if (r->need_body_off) {
			m->body_off = r->off + (off_t)k;
			r->need_body_off = 0;
		}
		if (c == '\n' || c == '\r') {
			if (r->blen > MSG_MAX_LINE && !m->long_line)
				m->long_line = r->line;
			r->blen = 0;
			end_line(r, c);
		} else {
			r->blen++;
			if (c & 0x80)
				m->eightbit = 1;
		}
	}
	r->off += (off_t)n;
}

static int scan(struct reader *r, const unsigned char *p, size_t n)
{
	size_t i = 0;
	while (i < n) {
		if (r->state == RS_BODY) {
			body_scan(r, p + i, n - i);
			return 0;
		}
		if (r->skip_lf) {
			r->skip_lf = 0;
			if (p[i] == '\n') {
				i++;
				r->off++;
				continue;
			}
		}
		int rc = head_byte(r, p[i]);
		if (rc < 0)
			return -1;
		if (rc == 0)
			continue;
		i++;
		r->off++;
		if (++r->hbytes > MSG_MAX_HEADER_BYTES) {
			perr_set(r->e, EX_DATAERR, "header section exceeds 1 MiB");
			return -1;
		}
	}
	return 0;
}

/* Octets of the message proper: spooled, then parsed. */
static int feed(struct reader *r, const unsigned char *p, size_t n)
{
	if (write_all(r->m->fd, p, n, r->e))
		return -1;
	return scan(r, p, n);
}

/* Input octets: a leading mbox "From " line is left out, the rest fed. */
static int take(struct reader *r, const unsigned char *p, size_t n)
{
	while (n > 0) {
		size_t k = 0;
		switch (r->state) {
		case RS_FROM_CHECK:
			if (*p != (unsigned char)"From "[r->npre]) {
				r->state = RS_HEAD;
				if (feed(r, (const unsigned char *)r->pre, r->npre))
					return -1;
				continue;
			}
			r->pre[r->npre++] = (char)*p;
			if (r->npre == sizeof r->pre)
				r->state = RS_FROM_SKIP;
			k = 1;
			break;
		case RS_FROM_SKIP:
			while (k < n && p[k] != '\n' && p[k] != '\r')
				k++;
			if (k == n)
				return 0;
			r->state = p[k] == '\r' ? RS_FROM_SKIP_CR : RS_HEAD;
			k++;
			break;
		case RS_FROM_SKIP_CR:
			r->state = RS_HEAD;
			k = *p == '\n';
			break;
		default:
			return feed(r, p, n);
		}
		p += k;
		n -= k;
	}
	return 0;
}

/* End of input: close the open field or line. */
static int finish(struct reader *r)
{
	struct msg *m = r->m;
	if (r->state == RS_FROM_CHECK) {
		r->state = RS_HEAD;
		if (feed(r, (const unsigned char *)r->pre, r->npre))
			return -1;
	}
	if (r->state == RS_HEAD && (r->hs == H_NAME || r->hs == H_NAMEWSP))
		to_body(r);
	if (r->state == RS_HEAD) {
		add_field(r);
		m->no_separator = 1;
		m->body_off = r->off;
	}
	if (r->state == RS_BODY) {
		if (r->need_body_off)
			m->body_off = r->off;
		if (r->blen > MSG_MAX_LINE && !m->long_line)
			m->long_line = r->line;
	}
	m->size = r->off;
	if (m->size == 0)
		return perr_set(r->e, EX_DATAERR, "empty message (no input on stdin)");
	return 0;
}

static int read_loop(struct reader *r, int infd)
{
	unsigned char *buf = xmalloc(CHUNK);
	int rc = 0;
	for (;;) {
		ssize_t got = read(infd, buf, CHUNK);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			rc = perr_set(r->e, EX_IOERR, "cannot read the message: %s", strerror(errno));
			break;
		}
		if (got == 0)
			break;
		if (take(r, buf, (size_t)got)) {
			rc = r->e->ex;
			break;
		}
	}
	free(buf);
	return rc;
}

static void detect_multipart(struct msg *m)
{
	const struct header *h = msg_header(m, "Content-Type", 0);
	if (h)
		m->multipart = ascii_caseprefix(h->value, "multipart/")
		               || ascii_caseprefix(h->value, "message/");
}

static void msg_init(struct msg *m)
{
	memset(m, 0, sizeof *m);
	m->fd = -1;
	m->wire_size[0] = m->wire_size[1] = -1;
}

int msg_read(int infd, struct msg *m, struct perr *e)
{
	struct reader r;
	msg_init(m);
	m->fd = spool_open(e);
	if (m->fd < 0)
		return e->ex;
	memset(&r, 0, sizeof r);
	r.m = m;
	r.e = e;
	r.state = RS_FROM_CHECK;
	r.hs = H_START;
	r.line = 1;
	buf_init(&r.cur);
	buf_init(&r.pend);
	int rc = read_loop(&r, infd);
	if (rc == 0)
		rc = finish(&r);
	buf_free(&r.cur);
	buf_free(&r.pend);
	if (rc) {
		msg_free(m);
		return rc;
	}
	detect_multipart(m);
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
	return perr_set(e, EX_DATAERR, "%s header: %s", h->name, why);
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
			return perr_set(e, EX_DATAERR, "the From header holds no address");
		}
		out->name = dup_or_null(l.v[0].name);
		out->local = dup_or_null(l.v[0].local);
		out->domain = dup_or_null(l.v[0].domain);
		addrlist_free(&l);
		return 0;
	}
	return perr_set(e, EX_DATAERR, "the message has no From header");
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
		perr_set(e, EX_DATAERR, "line %ld is longer than 998 octets and the "
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
			return perr_set(e, EX_DATAERR, "header line %ld is longer than 998 octets",
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
		return perr_set(e, EX_DATAERR, "the From header to add is longer than 998 octets");
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
		return perr_set(e, EX_OSERR, "cannot convert the time for the Date header");
	char *v = rfc5322_date(&tm);
	add_header(m, "Date", v);
	free(v);
	return 0;
}

static int add_msgid(struct msg *m, time_t now, const char *domain, struct perr *e)
{
	unsigned char rnd[8];
	size_t have = 0;
	while (have < sizeof rnd) {
		ssize_t got = getrandom(rnd + have, sizeof rnd - have, 0);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0)
			return perr_set(e, EX_OSERR, "getrandom: %s", strerror(errno));
		have += (size_t)got;
	}
	char hex[2 * sizeof rnd + 1];
	for (size_t i = 0; i < sizeof rnd; i++)
		snprintf(hex + 2 * i, 3, "%02X", rnd[i]);
	struct tm tm;
	if (!gmtime_r(&now, &tm))
		return perr_set(e, EX_OSERR, "cannot convert the time for the Message-ID header");
	char *v = xasprintf("<%04d%02d%02d%02d%02d%02d.%s@%s>", tm.tm_year + 1900,
	                    tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
	                    hex, domain ? domain : "localhost");
	add_header(m, "Message-ID", v);
	free(v);
	return 0;
}

static int add_planned(struct msg *m, const struct msg_edits *ed, struct perr *e)
{
	time_t now = time(NULL);
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
	if (msgid && add_msgid(m, now, ed->msgid_domain, e))
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
	char *out;        /* CHUNK octets */
	size_t len;
	msg_sink sink;
	void *ctx;
	int rc;           /* the sink's nonzero return: stop */
	int dotstuff;
	int bol;          /* at the beginning of an output line */
	int skip_lf;      /* the last input octet was a CR */
	int qp_ws;        /* quoted-printable: a held SP or HTAB, or -1 */
	size_t qp_col;    /* quoted-printable: length of the encoded line */
};

static void flush(struct wr *w)
{
	if (w->len && !w->rc)
		w->rc = w->sink(w->ctx, w->out, w->len);
	w->len = 0;
}

static void emit(struct wr *w, char c)
{
	if (w->len == CHUNK)
		flush(w);
	w->out[w->len++] = c;
}

static void out_char(struct wr *w, char c)
{
	if (w->bol) {
		w->bol = 0;
		if (w->dotstuff && c == '.')
			emit(w, '.');
	}
	emit(w, c);
}

static void out_eol(struct wr *w)
{
	emit(w, '\r');
	emit(w, '\n');
	w->bol = 1;
}

/* Copy text, every line end (LF, CRLF, CR) made CRLF. */
static void put_text(struct wr *w, const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char c = p[i];
		if (w->skip_lf) {
			w->skip_lf = 0;
			if (c == '\n')
				continue;
		}
		if (c == '\r' || c == '\n') {
			out_eol(w);
			w->skip_lf = c == '\r';
		} else {
			out_char(w, c);
		}
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

static int write_body(struct msg *m, struct wr *w, struct perr *e)
{
	char *buf = xmalloc(CHUNK);
	off_t pos = m->body_off;
	int rc = 0;
	while (pos < m->size && !w->rc) {
		size_t want = m->size - pos < CHUNK ? (size_t)(m->size - pos) : CHUNK;
		ssize_t got = pread(m->fd, buf, want, pos);
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0) {
			rc = perr_set(e, EX_IOERR, "cannot read the spool file: %s",
			              got < 0 ? strerror(errno) : "file truncated");
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

int msg_write(struct msg *m, int dotstuff, msg_sink sink, void *ctx, struct perr *e)
{
	struct wr w;
	memset(&w, 0, sizeof w);
	w.out = xmalloc(CHUNK);
	w.sink = sink;
	w.ctx = ctx;
	w.dotstuff = dotstuff;
	w.bol = 1;
	w.qp_ws = -1;
	for (size_t i = 0; i < m->nadd; i++)
		put_text(&w, m->add[i].raw, strlen(m->add[i].raw));
	for (size_t i = 0; i < m->nhdr; i++)
		if (!m->hdr[i].drop)
			put_text(&w, m->hdr[i].raw, strlen(m->hdr[i].raw));
	out_eol(&w);
	int rc = write_body(m, &w, e);
	if (rc == 0) {
		qp_flush_ws(&w, 1);
		if (!w.bol)
			out_eol(&w);
		flush(&w);
	}
	free(w.out);
	return rc ? -1 : w.rc;
}

static int count_sink(void *ctx, const char *p, size_t n)
{
	(void)p;
	*(off_t *)ctx += (off_t)n;
	return 0;
}

off_t msg_wire_size(struct msg *m, int dotstuff, struct perr *e)
{
	int k = dotstuff != 0;
	if (m->wire_size[k] >= 0)
		return m->wire_size[k];
	off_t n = 0;
	if (msg_write(m, k, count_sink, &n, e))
		return -1;
	m->wire_size[k] = n;
	return n;
}

void msg_free(struct msg *m)
{
	if (m->fd >= 0)
		close(m->fd);
	free_headers(m->hdr, m->nhdr);
	free_headers(m->add, m->nadd);
	msg_init(m);
}
