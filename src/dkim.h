/*
 * dkim — DomainKeys Identified Mail signatures (RFC 6376) over a finished
 * message: relaxed/relaxed canonicalisation, the signed header list with
 * From and Subject over-signed, the tag list without l=, and a folded
 * DKIM-Signature header prepended to the message.  No I/O, no clock, no
 * globals: the time and the key are given; the hashing and the signature
 * itself are crypto's.  Thread-safe.
 */
#ifndef FORMPOST_DKIM_H
#define FORMPOST_DKIM_H

#include <stddef.h>
#include <time.h>

#include "crypto.h"
#include "util.h"

struct dkim_params {
	const char *domain;        /* d=: the From domain, A-label form */
	const char *selector;      /* s=: one or more DNS labels */
	time_t t;                  /* t=: the signing time */
	const struct crypto_key *key; /* a= follows the key's type */
};

/* Appends the relaxed canonical form (RFC 6376 §3.4.2) of one header field
 * field[0..n) ("Name: value", possibly folded, with or without its final
 * CRLF) to out: the name lowercased, the value unfolded, runs of WSP one
 * SP, no WSP around the colon or at the end, then CRLF.  Returns 0, or -1
 * when the field has no colon, its name is empty or not printable ASCII,
 * or memory runs out. */
int dkim_canon_header(struct buf *out, const char *field, size_t n);

/* Appends the relaxed canonical body (RFC 6376 §3.4.4) of body[0..n) to
 * out: WSP at line ends dropped, other WSP runs one SP, empty lines at
 * the end dropped, a non-empty result ending in CRLF.  Returns 0 or -1. */
int dkim_canon_body(struct buf *out, const char *body, size_t n);

/* Signs msg (CRLF wire bytes: header fields, an empty line, the body) and
 * inserts the DKIM-Signature header field at its start, folded at 78
 * columns.  Signed (h=): From, Reply-To, To, Cc, Subject, Date,
 * Message-ID, MIME-Version, Content-Type, Content-Transfer-Encoding and
 * Auto-Submitted, once per instance present, then From and Subject once
 * more (over-signing: an added From or Subject breaks the signature).
 * Returns 0, or -1 with a reason in err (a domain or selector that is not
 * a DNS name, no From field, OOM, a signing failure); msg is unchanged on
 * -1. */
int dkim_sign(struct buf *msg, const struct dkim_params *p, char *err,
    size_t errlen);

/* Signing a message written in pieces (doc/design.md "Attachments"):
 * dkim_stream_begin (NULL on OOM), every byte of the message in order
 * through dkim_stream_add (split anywhere), then dkim_stream_end, which
 * appends to field the DKIM-Signature field (with its CRLF) that
 * dkim_sign would put at the start of the same bytes, byte for byte, and
 * frees the state (0, or -1 with err).  Only the header block is kept
 * (at most LIM_DKIM_HEADER bytes); the body is canonicalised and hashed
 * as it passes, in fixed memory.  dkim_stream_free abandons one. */
struct dkim_stream;
struct dkim_stream *dkim_stream_begin(void);
void dkim_stream_add(struct dkim_stream *d, const char *p, size_t n);
int dkim_stream_end(struct dkim_stream *d, const struct dkim_params *p,
    struct buf *field, char *err, size_t errlen);
void dkim_stream_free(struct dkim_stream *d);

/* The DNS TXT record value that publishes k's public half at
 * SELECTOR._domainkey.DOMAIN: "v=DKIM1; k=rsa; p=..." or
 * "v=DKIM1; k=ed25519; p=..." (RFC 6376 §3.6.1, RFC 8463 §4), one line.
 * Returns it (caller frees) or NULL on OOM. */
char *dkim_record(const struct crypto_key *k);

#endif
