/*
 * mail — composition: (site, validated fields, request facts) → envelope
 * (sender, recipients) + the exact wire bytes.  Recipients come only from
 * the config; the visitor's address only becomes Reply-To.  Pure apart
 * from reading the clock through the facts it is given, reading the
 * accepted attachments (struct fval: memory, or pread on their fd), and
 * writing a message with attachments into the file facts->tmp_open
 * gives.
 */
#ifndef FORMPOST_MAIL_H
#define FORMPOST_MAIL_H

#include <stddef.h>
#include <time.h>

#include "config.h"
#include "pages.h"
#include "util.h"
#include "validate.h"

struct mail_facts {
	const char *id;        /* the one id */
	const char *ip;        /* client address */
	const char *page;      /* Referer, may be NULL */
	time_t now;
	int utc_offset_min;    /* for Date: and _date */
	/* An unnamed read-write file (spool_tmpfile) to write a message with
	 * attachments into: an fd the composer closes, or -1.  NULL: such a
	 * message is built in memory (tests, test-mail). */
	int (*tmp_open)(void *arg);
	void *tmp_arg;
};

/* A composed message.  Owns everything; free with mail_free.  The wire
 * bytes (CRLF, ready for DATA, not dot-stuffed) are data[0..len), in
 * wire (a message without attachments, or composed without tmp_open),
 * or, when in_file (a message with attachments composed through
 * facts->tmp_open), the len bytes at off in fd: the unnamed file they
 * were written to as they were made (doc/design.md "Attachments"), so
 * that however large, the heap holds the text part, the header block and
 * one chunk of base64 at most (about 80 KiB plus the DKIM header block).
 * mail_free closes it, and the file vanishes. */
struct mail {
	char *sender;          /* envelope MAIL FROM */
	char **rcpt;           /* to + cc + bcc, each once */
	size_t nrcpt;
	struct buf wire;       /* the bytes when in memory; else empty */
	const char *data;      /* the wire bytes, unless in_file */
	size_t len;
	int in_file;           /* they are at off in fd */
	int fd;
	unsigned long long off;
};

/* Composes the message.  Returns 0, or -1 with a reason in err (OOM, or
 * an input the writer refused: never sent, never half-built). */
int mail_compose(const struct site *s, const struct pages *pg,
    const struct fvals *v, const struct mail_facts *f, struct mail *out,
    char *err, size_t errlen);
void mail_free(struct mail *m);

/* Composes the receipt of an accepted post for a site with auto_reply
 * (doc/design.md "Auto-reply and carrier mail"): To, and the one envelope
 * recipient, the validated reply_to address (v->reply_to, which must be
 * set); From the site's; Reply-To the site's first `to`; Auto-Submitted:
 * auto-replied; Message-ID from f->id + SPOOL_RECEIPT_SUFFIX; subject and
 * body from the site's auto_reply templates, whose _id is f->id (the
 * post's).  Signed like the owner's mail.  0, or -1 with err. */
int mail_compose_receipt(const struct site *s, const struct pages *pg,
    const struct fvals *v, const struct mail_facts *f, struct mail *out,
    char *err, size_t errlen);

/* When the site signs (dkim: with its key loaded), inserts a
 * DKIM-Signature made at time now at the start of wire, so the spooled
 * bytes are the signed bytes and every retry resends the same signature;
 * otherwise leaves wire alone.  Returns 0, or -1 with a reason in err
 * (wire unchanged). */
int mail_sign(const struct site *s, time_t now, struct buf *wire, char *err,
    size_t errlen);

/* "2026-11-29 07:06:07 +0900" into out (room for 32). */
void mail_local_date(char *out, size_t len, time_t t, int utc_offset_min);

#endif
