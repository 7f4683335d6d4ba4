/* msg.h - the message: a pure push parser for the header section; the
 * stores that hold the bytes (unlinked temp file, named file, memory, a
 * regular file read in place); the header edits planned by msg_prepare;
 * a writer that streams the message in SMTP form (CRLF line ends,
 * optional dot-stuffing) into a sink or buffer the caller chooses, in
 * bounded memory; the prepared message saved to a store and loaded back. */
#ifndef POSTIE_MSG_H
#define POSTIE_MSG_H

#include <sys/types.h>
#include <time.h>
#include "addr.h"
#include "status.h"
#include "util.h"

/* set_from_header / set_date_header / set_msgid_header / set_to_header */
enum { HDR_OFF = 0, HDR_AUTO = 1, HDR_ON = 2 };

#define MSG_MAX_LINE 998          /* RFC 5322 2.1.1, octets without CRLF */
#define MSG_MAX_HEADER_BYTES (1024 * 1024) /* the header section kept in memory */
#define MSG_MAX_FIELDS 10000      /* header fields kept: bounds the memory per octet */

/* ---- the push parser: bytes in, header events out, no I/O ----
 *
 * Push the input in pieces of any size (one octet at a time gives the
 * same events and results as all at once), then call msg_parser_next
 * until it returns MSG_EV_NEED; push the next piece, or call
 * msg_parser_eof when the input has ended and call msg_parser_next until
 * it returns MSG_EV_END. A leading mbox "From " line is skipped: no event
 * comes from it and msg_start is the offset just past it. Line ends in
 * the input may be LF, CRLF or a bare CR.
 *
 *   for each piece: msg_parser_push(&p, piece, n);
 *                   while ((ev = msg_parser_next(&p, &f, &e)) > MSG_EV_NEED) ...
 *   msg_parser_eof(&p);
 *   while ((ev = msg_parser_next(&p, &f, &e)) != MSG_EV_END && ev >= 0) ... */

enum msg_event {
	MSG_EV_NEED = 0,       /* every pushed octet is consumed */
	MSG_EV_FIELD,          /* a complete header field, in f */
	MSG_EV_HEADER_END,     /* the header section ended: no more fields */
	MSG_EV_END             /* after msg_parser_eof: all results are final */
};

/* A header field as an event: the strings belong to the parser and stay
 * valid until the next call of msg_parser_next. */
struct msg_field {
	const char *name;   /* as written ("Subject"), obsolete white space before ':' left out */
	const char *raw;    /* the field exactly as read, folds included, line ends as LF */
	const char *value;  /* unfolded body: line ends removed, leading WSP trimmed */
	long line;          /* input line of its first octet, 1-based, the From_ line not counted */
};

/* msg_parser_init flags */
#define MSG_PARSE_PREPARED 1  /* input is a prepared message (msg_save): no mbox
                                 From_ line, header limits doubled */

struct msg_parser {
	/* results: offsets count every input octet, a From_ line included */
	off_t start;        /* offset of the message proper (past a From_ line) */
	off_t body_off;     /* offset of the first body octet (final at MSG_EV_END) */
	off_t size;         /* octets pushed so far */
	int no_separator;   /* no blank line after the header section */
	int eightbit;       /* an octet >= 0x80 in a header or the body */
	long long_line;     /* first body line (1-based) over MSG_MAX_LINE, 0 if none */
	int multipart;      /* the first Content-Type is multipart/ or message/ */
	size_t nfields;     /* fields reported so far */
	off_t body_wire;    /* octets of the body in SMTP form, not dot-stuffed:
	                       every line end as CRLF, a final CRLF added when
	                       the last line has none (final at MSG_EV_END) */
	off_t body_dots;    /* body lines that start with "." */

	/* private */
	int flags;
	int state;          /* reading the From_ line, the header section, the body */
	int hs;             /* where in a header line */
	int skip_lf;        /* the last octet was a CR that ended a line */
	int need_body_off;  /* body_off is the offset of the next body octet */
	int bol;            /* at the start of a body line */
	int eof, failed, seen_ct;
	int pending;        /* events found, not yet returned */
	char pre[5];        /* the first octets, while checking for "From " */
	size_t npre, replay;/* pre[replay..npre) are still to be scanned */
	const unsigned char *in;  /* the pushed piece */
	size_t nin, pos;
	off_t off;          /* input offset of the octet being scanned */
	off_t line_off;     /* input offset of the current line */
	long line, pend_line, cur_line, done_line;
	size_t hbytes;      /* octets of the header section so far */
	size_t blen;        /* length of the current body line so far */
	struct buf pend;    /* a line that may start a new field */
	struct buf cur;     /* the field being collected, LF line ends */
	struct buf done, name, value;  /* the field of the pending event */
	struct perr err;
};

void msg_parser_init(struct msg_parser *p, int flags);
/* The previous piece must be consumed (msg_parser_next returned
 * MSG_EV_NEED); b must stay valid until then. */
void msg_parser_push(struct msg_parser *p, const void *b, size_t n);
void msg_parser_eof(struct msg_parser *p);
/* The next event (MSG_EV_*), or -1 with e set: EX_DATAERR when the
 * header section exceeds MSG_MAX_HEADER_BYTES or MSG_MAX_FIELDS fields
 * or holds a NUL octet. After -1 every call returns -1 again. */
int msg_parser_next(struct msg_parser *p, struct msg_field *f, struct perr *e);
void msg_parser_free(struct msg_parser *p);

/* ---- stores: where the message bytes are kept ---- */

struct msg_store {
	int fd;          /* the file, -1 for a memory store */
	off_t base;      /* file offset of the store's first octet (a file read in place) */
	char *path;      /* a named file's path, NULL otherwise */
	struct buf mem;  /* a memory store's bytes */
	off_t len;       /* octets stored */
};

/* An empty store in memory (tests, small messages). */
void msg_store_mem(struct msg_store *s);
/* An empty file in $TMPDIR (default /tmp), unlinked at once: EX_OSERR
 * "cannot create spool file in DIR: ..." when that fails. */
int msg_store_temp(struct msg_store *s, struct perr *e);
/* A new file dir/name, created exclusively (O_EXCL) with mode 0600;
 * EX_CANTCREAT when it exists or cannot be created. */
int msg_store_create(struct msg_store *s, const char *dir, const char *name, struct perr *e);
/* An existing file, read only (a prepared message saved earlier). */
int msg_store_open(struct msg_store *s, const char *path, struct perr *e);
int msg_store_add(struct msg_store *s, const void *p, size_t n, struct perr *e);
/* Up to n octets at off: the number read (0 at the end), or -1 with e set. */
ssize_t msg_store_read(const struct msg_store *s, void *buf, size_t n, off_t off,
                       struct perr *e);
/* Close the file (a named file stays) or free the memory. */
void msg_store_close(struct msg_store *s);

/* ---- the message ---- */

struct header {
	char *name;       /* field name as written ("Subject") */
	char *value;      /* unfolded body: CR/LF of folds removed, leading WSP trimmed */
	char *raw;        /* the field exactly as read, folds included, line ends as LF */
	int drop;         /* set by msg_prepare: do not send */
};

struct msg {
	struct msg_store store; /* the input as read, or a prepared message (msg_load) */
	off_t start;         /* store offset of the message proper (past a mbox From_ line) */
	off_t size;          /* octets of the message proper */
	off_t body_off;      /* store offset of the first body octet */
	struct header *hdr;  /* the header section, in order */
	size_t nhdr;
	int no_separator;    /* input had no blank line after the headers */
	int eightbit;        /* an octet >= 0x80 somewhere (header or body) */
	long long_line;      /* first body line (1-based) longer than MSG_MAX_LINE, 0 if none */
	int multipart;       /* Content-Type is multipart/ or message/ */
	off_t body_wire;     /* the body's size in SMTP form, not dot-stuffed (as read) */
	off_t body_dots;     /* body lines starting with "." (as read) */
	int prepared;        /* loaded by msg_load: the store holds the wire form */

	/* set by msg_prepare */
	struct header *add;  /* headers to emit before the kept ones */
	size_t nadd;
	int qp;              /* body is re-encoded as quoted-printable */
	off_t wire_size[2];  /* cached sizes by dotstuff flag, -1 unknown */
};

/* Read infd to end of file (a lone "." never ends it), parsing the header
 * section and measuring the body as it goes by. A regular file is read in
 * place, from its current offset: no copy is made, its octets are read
 * again from it when the message is written (which fails if the file
 * changed meanwhile), and infd's offset is left at its end. Anything
 * else is copied into a spool file in $TMPDIR (unlinked at once). Memory
 * does not grow with the body size. Errors: EX_DATAERR empty input or
 * header section over MSG_MAX_HEADER_BYTES or a NUL in a header;
 * EX_IOERR/EX_OSERR on I/O failures. */
int msg_read(int infd, struct msg *m, struct perr *e);
/* msg_read into the store s the caller made (msg_store_*), which m then
 * owns: on failure s is closed, and a named file removed. */
int msg_read_store(int infd, struct msg_store *s, struct msg *m, struct perr *e);
/* A source of message octets: up to n into buf; returns the number
 * given, 0 at the end of the message, or -1 with e set. */
typedef ssize_t (*msg_source)(void *ctx, char *buf, size_t n, struct perr *e);
/* msg_read from src instead of a file descriptor (-bs: the DATA lines). */
int msg_read_source(msg_source src, void *ctx, struct msg *m, struct perr *e);
/* msg_read from the n octets at p, kept in a memory store. */
int msg_read_mem(const char *p, size_t n, struct msg *m, struct perr *e);

/* The i-th header named name (case-insensitive), counting from 0; NULL
 * if there is none. Dropped headers are skipped. */
const struct header *msg_header(const struct msg *m, const char *name, size_t i);

/* Recipients for -t: every address in To, Cc and Bcc, or, if any
 * Resent- field is present, those in Resent-To/-Cc/-Bcc of the first
 * (topmost) Resent- block instead. Appended to out. */
int msg_recipients(const struct msg *m, struct addrlist *out, struct perr *e);

/* The first address of the From header (for --read-envelope-from);
 * EX_DATAERR if there is none. */
int msg_from(const struct msg *m, struct addr *out, struct perr *e);

struct msg_edits {
	int set_from;            /* HDR_OFF/AUTO/ON */
	const char *from_addr;   /* envelope sender for the From header */
	const char *from_name;   /* -F / from_full_name, may be NULL */
	int set_date;            /* HDR_OFF/AUTO */
	int set_msgid;           /* HDR_OFF/AUTO */
	const char *msgid_domain;/* right side of a generated Message-ID */
	int set_to;              /* HDR_OFF: leave; HDR_AUTO: add "To: undisclosed-recipients:;"
	                            if there is no To/Cc; HDR_ON: drop To/Cc/Bcc and add that */
	int remove_bcc;          /* drop Bcc and Resent-Bcc */
	time_t now;              /* the time for Date and Message-ID; 0: the clock */
	const char *msgid;       /* the Message-ID to add ("<x@y>"); NULL: generated */
};

/* Plan the header edits and the long-line repair: a single-part message
 * with a body line over 998 octets gets its body re-encoded as
 * quoted-printable (Content-Transfer-Encoding replaced, MIME-Version added
 * when missing); header lines over 998 octets are refolded at white space.
 * When that is impossible (multipart, already QP/base64, no white space)
 * EX_DATAERR naming the line. Call once before msg_write; EX_SOFTWARE for
 * a message from msg_load, whose edits are made already. */
int msg_prepare(struct msg *m, const struct msg_edits *ed, struct perr *e);

/* Stream the message as it goes on the wire: added headers, kept headers,
 * blank line, body; every line ending CRLF (LF, CRLF, bare CR in the input
 * all become CRLF), a final CRLF added if missing, lines starting with "."
 * doubled when dotstuff. Does not write the ".\r\n" terminator. sink is
 * called with chunks of at most 64 KiB; a nonzero return stops the write
 * and is returned. Returns 0, the sink's value, or -1 with e set. */
typedef int (*msg_sink)(void *ctx, const char *p, size_t n);
int msg_write(struct msg *m, int dotstuff, msg_sink sink, void *ctx, struct perr *e);

/* msg_write straight into the caller's buffer, with no copy in between
 * (the connection's output buffer): next(ctx, used, &p, &room) takes the
 * first used octets of the window it gave last (0 at the first call)
 * and gives the next window, p[0..room) with room >= 1; at the end it is
 * called once more with p and room NULL. A nonzero return stops the
 * write and is returned. The output never receives more octets than
 * msg_wire_size says: when the store's octets changed since they were
 * read (a file read in place was modified), the write stops before
 * that, or at the end when fewer came, with -1 and EX_IOERR. Returns 0,
 * next's value, or -1 with e set. */
struct msg_out {
	int (*next)(void *ctx, size_t used, char **p, size_t *room);
	void *ctx;
};
int msg_write_to(struct msg *m, int dotstuff, const struct msg_out *o, struct perr *e);

/* Exact number of bytes msg_write would produce (cached): from the
 * measure taken while reading, without reading the body again, except
 * when msg_prepare re-encodes it as quoted-printable. -1 on error. */
off_t msg_wire_size(struct msg *m, int dotstuff, struct perr *e);

/* Append the prepared message to s: msg_write's output without
 * dot-stuffing (edits made, CRLF line ends). */
int msg_save(struct msg *m, struct msg_store *s, struct perr *e);
/* A message from a store holding what msg_save wrote; m owns s (closed on
 * failure). Its header section is parsed for msg_header and the flags;
 * msg_write sends the stored bytes, dot-stuffed when asked, so the output
 * equals the saved message's every time; msg_prepare refuses it. */
int msg_load(struct msg_store *s, struct msg *m, struct perr *e);

void msg_free(struct msg *m);

#endif
