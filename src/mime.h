/*
 * mime — the message writer: RFC 5322 headers, RFC 2047 encoded words,
 * RFC 2045 bodies.  It builds every header from typed parts (addresses,
 * display names, unstructured text) and encodes them; nothing is pasted.
 * It refuses (returns -1) any header input that contains a control
 * character, so no input can add a header or a recipient.  Output is CRLF
 * only, no line over 998 octets, encoded lines at most 76.  Pure: no I/O,
 * no clock, no globals.
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
	const char *body;                   /* UTF-8 text, any line endings */
	size_t body_len;
};

/* Appends the whole message to out: Date, From, Reply-To, To, Cc, Subject,
 * Message-ID, MIME-Version, Content-Type: text/plain; charset=UTF-8,
 * Content-Transfer-Encoding (7bit for short pure-ASCII bodies, else
 * quoted-printable or base64, whichever is shorter), a blank line, the body
 * with line endings normalised to CRLF and ending in CRLF.
 * Returns 0, or -1 when an input is invalid (a control character in a
 * header value or address, an empty recipient list) or memory runs out;
 * on -1 out may hold a partial message that the caller must discard. */
int mime_write(struct buf *out, const struct mime_msg *m);

/* Appends "Name: value" + CRLF for an unstructured header (RFC 5322 §3.6.5):
 * ASCII words stay readable; runs of words with non-ASCII (or that look like
 * encoded words, "=?...?=") become UTF-8 encoded words of at most 75
 * characters, never splitting a UTF-8 sequence; folded at 78 columns.
 * Returns 0, or -1 on a control character (including CR, LF, NUL, U+0085,
 * U+2028, U+2029), invalid UTF-8 or OOM. */
int mime_header_unstructured(struct buf *out, const char *name,
    const char *value, size_t len);

/* Appends "Name: mailbox, mailbox" + CRLF, folded at 78 columns.
 * Returns 0 or -1 as above (also for an invalid addr). */
int mime_header_addresses(struct buf *out, const char *name,
    const struct mime_addr *a, size_t n);

/* 1 when addr is safe to hand to SMTP as an envelope address: ASCII
 * printable, no space, "<", ">", controls; one '@'; RFC 5321 lengths. */
int mime_envelope_ok(const char *addr);

/* Formats t with the given offset as an RFC 5322 date-time
 * ("Sat, 28 Nov 2026 22:06:07 +0900") into out (room for 40). */
void mime_date(char *out, size_t outlen, time_t t, int utc_offset_min);

#endif
