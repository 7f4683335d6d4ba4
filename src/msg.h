/* msg.h - the message: read once from a file descriptor into an unlinked
 * spool file, header section parsed, edits planned, written to the wire in
 * SMTP form (CRLF line ends, optional dot-stuffing) in bounded memory. */
#ifndef POSTIE_MSG_H
#define POSTIE_MSG_H

#include <sys/types.h>
#include "addr.h"
#include "status.h"

#define MSG_MAX_LINE 998          /* RFC 5322 2.1.1, octets without CRLF */
#define MSG_MAX_HEADER_BYTES (1024 * 1024) /* the header section kept in memory */

struct header {
	char *name;       /* field name as written ("Subject") */
	char *value;      /* unfolded body: CR/LF of folds removed, leading WSP trimmed */
	char *raw;        /* the field exactly as read, folds included, line ends as LF */
	int drop;         /* set by msg_prepare: do not send */
};

struct msg {
	int fd;              /* unlinked spool: the input minus a leading mbox "From " line */
	off_t size;          /* bytes in the spool */
	off_t body_off;      /* offset of the first body byte in the spool */
	struct header *hdr;  /* the header section, in order */
	size_t nhdr;
	int no_separator;    /* input had no blank line after the headers */
	int eightbit;        /* an octet >= 0x80 somewhere (header or body) */
	long long_line;      /* first body line (1-based) longer than MSG_MAX_LINE, 0 if none */
	int multipart;       /* Content-Type is multipart/ or message/ */

	/* set by msg_prepare */
	struct header *add;  /* headers to emit before the kept ones */
	size_t nadd;
	int qp;              /* body is re-encoded as quoted-printable */
	off_t wire_size[2];  /* cached sizes by dotstuff flag, -1 unknown */
};

/* Read infd to end of file (a lone "." never ends it) into a spool file in
 * $TMPDIR (unlinked at once), parsing the header section. Memory does not
 * grow with the body size. Errors: EX_DATAERR empty input or header
 * section over MSG_MAX_HEADER_BYTES or a NUL in a header; EX_IOERR/EX_OSERR
 * on I/O failures. */
int msg_read(int infd, struct msg *m, struct perr *e);

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
	int set_from;            /* HDR_OFF/AUTO/ON (conf.h) */
	const char *from_addr;   /* envelope sender for the From header */
	const char *from_name;   /* -F / from_full_name, may be NULL */
	int set_date;            /* HDR_OFF/AUTO */
	int set_msgid;           /* HDR_OFF/AUTO */
	const char *msgid_domain;/* right side of a generated Message-ID */
	int set_to;              /* HDR_OFF: leave; HDR_AUTO: add "To: undisclosed-recipients:;"
	                            if there is no To/Cc; HDR_ON: drop To/Cc/Bcc and add that */
	int remove_bcc;          /* drop Bcc and Resent-Bcc */
};

/* Plan the header edits and the long-line repair: a single-part message
 * with a body line over 998 octets gets its body re-encoded as
 * quoted-printable (Content-Transfer-Encoding replaced, MIME-Version added
 * when missing); header lines over 998 octets are refolded at white space.
 * When that is impossible (multipart, already QP/base64, no white space)
 * EX_DATAERR naming the line. Call once before msg_write. */
int msg_prepare(struct msg *m, const struct msg_edits *ed, struct perr *e);

/* Stream the message as it goes on the wire: added headers, kept headers,
 * blank line, body; every line ending CRLF (LF, CRLF, bare CR in the input
 * all become CRLF), a final CRLF added if missing, lines starting with "."
 * doubled when dotstuff. Does not write the ".\r\n" terminator. sink is
 * called with chunks of at most 64 KiB; a nonzero return stops the write
 * and is returned. Returns 0, the sink's value, or -1 with e set. */
typedef int (*msg_sink)(void *ctx, const char *p, size_t n);
int msg_write(struct msg *m, int dotstuff, msg_sink sink, void *ctx, struct perr *e);

/* Exact number of bytes msg_write would produce (cached). -1 on error. */
off_t msg_wire_size(struct msg *m, int dotstuff, struct perr *e);

void msg_free(struct msg *m);

#endif
