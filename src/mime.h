/*
 * mime — the message writer: RFC 5322 headers, RFC 2047 encoded words,
 * RFC 2045 bodies.  It builds every header from typed parts (addresses,
 * display names, unstructured text) and encodes them; nothing is pasted.
 * It refuses (returns -1) any header input that contains a control
 * character, so no input can add a header or a recipient.  Output is CRLF
 * only, no line over 998 octets, encoded lines at most 76.  Pure: no I/O
 * (an attachment's bytes come through its part's read callback), no
 * clock, no globals.
 */
#ifndef FORMPOST_MIME_H
#define FORMPOST_MIME_H

#include <stddef.h>
#include <time.h>

#include "util.h"

/* A mailbox.  addr is an ASCII addr-spec "local@domain" already validated by
 * the caller (domain in A-label form); a local part that is not a dot-atom
 * (the legacy carrier "taro..x." kind) is written as a quoted-string.
 * name is an optional UTF-8 display name (NULL or name_len 0: none), written
 * as an atom phrase, a quoted-string, or RFC 2047 encoded words (Q or B,
 * whichever is shorter; RFC 2047 §5(3) rules for phrases). */
struct mime_addr {
	const char *name;
	size_t name_len;
	const char *addr;
};

/* An attachment (doc/design.md "Attachments"): content read through
 * read (up to n bytes at off; short only at the end, -1 on error), sent
 * base64 in 76-column lines under a Content-Type the caller decided
 * (a static, trusted string such as "application/pdf").  name is the
 * UTF-8 label, already cleaned (sniff_clean_name): written as RFC 2231
 * filename*=UTF-8''... with an ASCII filename="..." fallback. */
struct mime_part {
	const char *ctype;
	const char *name;
	unsigned long long size;
	long (*read)(void *arg, void *buf, size_t n, unsigned long long off);
	void *arg;
};

struct mime_msg {
	struct mime_addr from;
	const struct mime_addr *reply_to;  /* NULL: no Reply-To */
	const struct mime_addr *to;
	size_t nto;                         /* at least 1 */
	const struct mime_addr *cc;
	size_t ncc;
	const char *subject;                /* UTF-8, one line */
	size_t subject_len;
	time_t date;
	int utc_offset_min;                 /* local offset for Date, e.g. +540 */
	const char *message_id;             /* "id@domain", no brackets */
	int auto_replied;                   /* a receipt: Auto-Submitted:
	                                     * auto-replied (RFC 3834 §5) and
	                                     * X-Auto-Response-Suppress: All */
	const char *body;                   /* UTF-8 text, any line endings */
	size_t body_len;
	const struct mime_part *parts;      /* attachments after the text: */
	size_t nparts;                      /* then multipart/mixed */
};

/* Appends the whole message to out: Date, From, Reply-To, To, Cc, Subject,
 * Message-ID, MIME-Version, Content-Type: text/plain; charset=UTF-8,
 * Content-Transfer-Encoding (7bit for short pure-ASCII bodies, else
 * quoted-printable or base64, whichever is shorter), a blank line, the body
 * with line endings normalised to CRLF and ending in CRLF.  With parts,
 * Content-Type is multipart/mixed (RFC 2046 §5.1.3, boundary made from
 * the Message-ID's left part): the text part first, then each part.
 * Returns 0, or -1 when an input is invalid (a control character in a
 * header value or address, an empty recipient list, a message_id that is
 * not dot-atom "@" dot-atom, an unusable date offset) or memory runs out;
 * on -1 out may hold a partial message that the caller must discard. */
int mime_write(struct buf *out, const struct mime_msg *m);

/* Where mime_write_to hands the message as it is written, so that an
 * attachment is never whole in memory (doc/design.md "Attachments"):
 * write gets every byte in order, in pieces (the header block and the
 * text part, then at most LIM_MIME_CHUNK_LINES base64 lines of an attachment
 * at a time, then the rest); 0, or -1 to stop (mime_write_to fails). */
struct mime_sink {
	int (*write)(void *arg, const char *p, size_t n);
	void *arg;
};

/* mime_write with every byte handed to sink (NULL: left in out, which is
 * mime_write): out is then only the staging buffer, emptied into sink
 * after each chunk of an attachment and at the end, so it holds at most
 * the header block and the text part, or one chunk.  The bytes are those
 * mime_write would append, whatever the sink.  0 with out empty, or -1
 * (an invalid input, OOM, or the sink's -1). */
int mime_write_to(struct buf *out, const struct mime_msg *m,
    const struct mime_sink *sink);

/* Appends "Name: value" + CRLF for an unstructured header (RFC 5322 §3.6.5):
 * ASCII words stay readable; runs of words with non-ASCII (or that look like
 * encoded words, "=?...?=") become UTF-8 encoded words of at most 75
 * characters, never splitting a UTF-8 sequence; folded at 78 columns.
 * Leading and trailing spaces, and a word too long for a 998-octet line,
 * are encoded too so they survive.  name is printable ASCII without ':',
 * at most 40 octets.  value may be NULL when len is 0.
 * Returns 0, or -1 on a control character (every C0 including TAB, DEL,
 * C1 including U+0085, U+2028, U+2029), invalid UTF-8, a bad name or OOM.
 * No state: thread-safe. */
int mime_header_unstructured(struct buf *out, const char *name,
    const char *value, size_t len);

/* Appends "Name: mailbox, mailbox" + CRLF, folded at 78 columns.
 * A display name is encoded whole when it has non-ASCII, "=?", or its
 * plain form is over 76 octets (so it can fold); adjacent encoded words
 * then carry all of its spaces inside them (RFC 2047 §6.2).
 * Returns 0 or -1 as above (also for an invalid addr, see
 * mime_envelope_ok, or n == 0). */
int mime_header_addresses(struct buf *out, const char *name,
    const struct mime_addr *a, size_t n);

/* Appends the body for Content-Transfer-Encoding *cte: line endings
 * normalised to CRLF, ending in CRLF (an empty body is one empty line);
 * "7bit" when ASCII without NUL and no line over 998 octets, else
 * "quoted-printable" (RFC 2045 §6.7; '.' and "From " at a line start and
 * trailing whitespace encoded) or "base64" (§6.8), whichever is shorter,
 * lines at most 76.  *cte points to a static string.  Returns 0, or -1 on
 * OOM (out may then hold part of the body). */
int mime_body(struct buf *out, const char *body, size_t len, const char **cte);

/* Appends base64 (RFC 4648 §4, with padding, no line breaks) of s[0..n)
 * to out; out->oom reports failure. */
void mime_base64(struct buf *out, const void *s, size_t n);

/* Appends an attachment's headers for label name: Content-Type with
 * name="FALLBACK", Content-Disposition: attachment; filename*=UTF-8''PCT
 * (RFC 2231 §4, RFC 5987 attr-chars); filename="FALLBACK", where FALLBACK
 * is the label with each run of non-ASCII characters, '"' and '\\' as
 * '_'.  0, or -1 on a control character, invalid UTF-8 or OOM. */
int mime_attachment_headers(struct buf *out, const char *ctype,
    const char *name);

/* 1 when addr is safe to hand to SMTP as an envelope address: the one
 * rule of addr.h (addr_spec_ok), which also applies to every
 * mime_addr.addr. */
int mime_envelope_ok(const char *addr);

/* Formats t with the given offset as an RFC 5322 date-time
 * ("Sat, 28 Nov 2026 22:06:07 +0900") into out (room for 40), names in
 * English whatever the locale.  out is "" when the offset is not within
 * +-24 hours, the year is outside 1900..9999 or outlen is too small. */
void mime_date(char *out, size_t outlen, time_t t, int utc_offset_min);

#endif
