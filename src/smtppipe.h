/*
 * smtppipe — the pure parts of pipelined SMTP (RFC 2920), for smtp.c's
 * pipelined path (doc/design.md "A delivery", "Performance"): a reply
 * reader that splits a server's byte stream into replies (multi-line ones
 * joined, RFC 5321 §4.2.1), the capabilities of an EHLO reply, and the
 * message's dot-stuffing (RFC 5321 §4.5.2) exactly as libcurl's SMTP does
 * it, so the bytes on the wire (and so DKIM) do not depend on the path.
 * Every input is hostile: lines are bounded, nothing is allocated.
 */
#ifndef FORMPOST_SMTPPIPE_H
#define FORMPOST_SMTPPIPE_H

#include <stddef.h>

#include "limits.h"

/* One complete reply: its code and its final line (the one a multi-line
 * reply ends with, as received, without CRLF, cut to LIM_SMTP_LINE). */
struct pipe_reply {
	int code;
	size_t len;
	char line[LIM_SMTP_LINE];
};

struct pipe_reader {
	int cont;                  /* code of the multi-line reply in progress */
	unsigned lines;            /* its lines so far */
	size_t len;                /* bytes in line (kept up to its size) */
	char line[LIM_SMTP_LINE];
};

void pipe_reader_init(struct pipe_reader *r);

/*
 * Reads from p[0..n): 1 when a reply completed (*used bytes consumed,
 * *out filled), 0 when all n were consumed without one, -1 when a line is
 * not a reply (no 3-digit code 200..599, a separator other than ' ' or
 * '-', a continuation whose code differs, or more than
 * LIM_SMTP_REPLY_LINES lines in one reply): the stream cannot be trusted
 * any more.  A line longer than LIM_SMTP_LINE is cut (the rest up
 * to its LF is skipped); a lone CR stays in the line.
 */
int pipe_read(struct pipe_reader *r, const char *p, size_t n, size_t *used,
    struct pipe_reply *out);

/* The RFC 3463 status a reply line carries after its code ("5.7.1"),
 * into out (room outlen >= 1), "" when there is none. */
void pipe_enhanced(const char *line, size_t n, char *out, size_t outlen);

/* What a server's EHLO reply offers (RFC 5321 §4.1.1.1): kept per
 * connection, replaced by every new EHLO reply (after STARTTLS). */
struct smtp_caps {
	int pipelining;            /* RFC 2920 */
	int smtputf8;              /* RFC 6531 */
	int eightbitmime;          /* RFC 6152 */
	int size_offered;          /* RFC 1870 */
	unsigned long long size;   /* its limit, 0: none given */
	int in_250;                /* a "250-" line came: more of it follows */
};

/* Feeds one line the server sent (without CRLF).  A 250 line that starts
 * a reply starts a new set (its text is the server's name); the lines
 * after it are extension keywords.  Other replies change nothing. */
void caps_line(struct smtp_caps *c, const char *s, size_t n);

/* Dot-stuffing state across a message's chunks. */
struct dotstuff {
	int crlf;                  /* 0, 1 (CR seen), 2 (CRLF seen, or start) */
};

void dot_init(struct dotstuff *d);

/* Writes in[0..n) to out with every "." that starts a line (after CRLF,
 * or the message's first byte) doubled, nothing else changed (a bare LF
 * or CR is left as it is); out has room for 2 * n.  Returns the bytes
 * written. */
size_t dot_stuff(struct dotstuff *d, const char *in, size_t n, char *out);

/* The end of the data after what dot_stuff saw: ".\r\n" when it ended
 * with CRLF (or was empty), else "\r\n.\r\n". */
const char *dot_end(const struct dotstuff *d);

#endif
