/*
 * dkim — the signer's side of RFC 6376.  It reads the message only to find
 * header fields and the body; it never changes them, so the bytes a
 * verifier sees are the bytes hashed here.  Header data is hashed in h=
 * order, each name taking the last unused instance (§5.4.2); a name listed
 * with no instance left adds nothing, which is what makes over-signing
 * work.  The DKIM-Signature field itself goes last, with an empty b= and
 * without its CRLF (§3.7).
 */
#include "dkim.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "limits.h"
#include "mime.h"

/* §5.4.1's recommended set, in the order h= lists them. */
static const char *const signed_names[] = {
	"from", "reply-to", "to", "cc", "subject", "date", "message-id",
	"mime-version", "content-type", "content-transfer-encoding",
	"auto-submitted",
};
/* Over-signed (§8.15): the fields a replayer would add to redirect a
 * reply or to change who the mail seems to be for. */
static const char *const oversigned[] = {
	"from", "reply-to", "to", "cc", "subject",
};


static int
is_wsp(char c)
{
	return c == ' ' || c == '\t';
}

int
dkim_canon_header(struct buf *out, const char *f, size_t n)
{
	const char *colon = memchr(f, ':', n);
	size_t i, nl, start = out->len;
	int space = 0;

	if (colon == NULL)
		return -1;
	if (n >= 2 && f[n - 2] == '\r' && f[n - 1] == '\n')
		n -= 2;
	for (nl = (size_t)(colon - f); nl > 0 && is_wsp(f[nl - 1]); nl--)
		;
	/* RFC 5322 §3.6.8: a name is printable ASCII without ':'. */
	for (i = 0; i < nl; i++)
		if ((unsigned char)f[i] <= ' ' || (unsigned char)f[i] >= 0x7f)
			return -1;
	if (nl == 0)
		return -1;
	for (i = 0; i < nl; i++)
		buf_addc(out, f[i] >= 'A' && f[i] <= 'Z' ? f[i] + 32 : f[i]);
	buf_addc(out, ':');
	for (i = (size_t)(colon - f) + 1; i < n; i++) {
		if (f[i] == '\r' || f[i] == '\n' || is_wsp(f[i])) {
			/* Unfold: CRLF goes, the WSP after it collapses. */
			space = f[i] != '\r' && f[i] != '\n' ? 1 : space;
			continue;
		}
		if (space && out->len > start + nl + 1)
			buf_addc(out, ' ');
		space = 0;
		buf_addc(out, f[i]);
	}
	buf_add(out, "\r\n", 2);
	return out->oom ? -1 : 0;
}

/* One body line (without its CRLF) in relaxed form, without the CRLF. */
static void
canon_line(struct buf *out, const char *s, size_t n)
{
	size_t i;
	int space = 0;

	for (i = 0; i < n; i++) {
		if (is_wsp(s[i])) {
			space = 1;
			continue;
		}
		if (space)
			buf_addc(out, ' ');
		space = 0;
		buf_addc(out, s[i]);
	}
}

int
dkim_canon_body(struct buf *out, const char *body, size_t n)
{
	size_t i = 0, j, end, empties = 0;

	while (i < n) {
		const char *crlf = memmem(body + i, n - i, "\r\n", 2);
		end = crlf ? (size_t)(crlf - body) : n;
		for (j = i; j < end && is_wsp(body[j]); j++)
			;
		if (j == end)
			empties++;
		else {
			/* Empty lines count only once more text follows. */
			for (; empties; empties--)
				buf_add(out, "\r\n", 2);
			canon_line(out, body + i, end - i);
			buf_add(out, "\r\n", 2);
		}
		i = crlf ? end + 2 : n;
	}
	return out->oom ? -1 : 0;
}

struct field {
	const char *p;
	size_t n;              /* with its CRLF */
	int used;
};

/* Splits the header block into fields; returns the count, or -1 when
 * there are more than LIM_DKIM_FIELDS.  *body_off is where the body starts. */
static int
split_fields(const char *m, size_t len, struct field *f, size_t *body_off)
{
	size_t i = 0, start;
	int nf = 0;

	while (i < len && !(len - i >= 2 && m[i] == '\r' && m[i + 1] == '\n')) {
		start = i;
		for (;;) {
			const char *crlf = memmem(m + i, len - i, "\r\n", 2);
			i = crlf ? (size_t)(crlf - m) + 2 : len;
			if (i >= len || !is_wsp(m[i]))
				break;
		}
		if (nf == LIM_DKIM_FIELDS)
			return -1;
		f[nf].p = m + start;
		f[nf].n = i - start;
		f[nf].used = 0;
		nf++;
	}
	*body_off = i + 2 <= len ? i + 2 : len;
	return nf;
}

static int
name_is(const struct field *f, const char *name)
{
	size_t k = strlen(name), j;

	if (f->n <= k || strncasecmp(f->p, name, k) != 0)
		return 0;
	for (j = k; j < f->n && is_wsp(f->p[j]); j++)
		;
	return j < f->n && f->p[j] == ':';
}

/* Hashes (appends to data) the last unused instance of name; 1 when one
 * was there, 0 when none was, -1 on OOM. */
static int
take_field(struct buf *data, struct field *f, int nf, const char *name)
{
	int i;

	for (i = nf - 1; i >= 0; i--)
		if (!f[i].used && name_is(&f[i], name)) {
			f[i].used = 1;
			return dkim_canon_header(data, f[i].p, f[i].n) == -1 ?
			    -1 : 1;
		}
	return 0;
}

/* Folding at LIM_HEADER_FOLD columns: a word goes after one space, or on
 * a new line; a piece continues the current word (FWS is allowed inside
 * h= after ':' and anywhere in base64, RFC 6376 §3.5). */
struct fold {
	struct buf *b;
	size_t col;
};

static void
fold_word(struct fold *f, const char *s, size_t n)
{
	if (f->col + 1 + n > LIM_HEADER_FOLD) {
		buf_add(f->b, "\r\n", 2);
		f->col = 0;
	}
	buf_addc(f->b, ' ');
	buf_add(f->b, s, n);
	f->col += 1 + n;
}

static void
fold_piece(struct fold *f, const char *s, size_t n)
{
	if (f->col + n > LIM_HEADER_FOLD) {
		buf_add(f->b, "\r\n ", 3);
		f->col = 1;
	}
	buf_add(f->b, s, n);
	f->col += n;
}

/* base64 in pieces that fill the line. */
static void
fold_b64(struct fold *f, const char *s, size_t n)
{
	size_t k;

	while (n > 0) {
		if (f->col >= LIM_HEADER_FOLD) {
			buf_add(f->b, "\r\n ", 3);
			f->col = 1;
		}
		k = LIM_HEADER_FOLD - f->col < n ? LIM_HEADER_FOLD - f->col : n;
		buf_add(f->b, s, k);
		f->col += k;
		s += k;
		n -= k;
	}
}

/* The h= value: the names, in order, for the fields present, then the
 * over-signed ones; folded after a colon. */
static void
fold_names(struct fold *fo, const struct field *f, int nf)
{
	const char *names[LIM_DKIM_FIELDS + ARRAY_LEN(oversigned)];
	char word[40];
	size_t j, k = 0;
	int i;

	for (j = 0; j < ARRAY_LEN(signed_names); j++)
		for (i = 0; i < nf; i++)
			if (name_is(&f[i], signed_names[j]))
				names[k++] = signed_names[j];
	for (j = 0; j < ARRAY_LEN(oversigned); j++)
		names[k++] = oversigned[j];
	for (j = 0; j < k; j++) {
		snprintf(word, sizeof word, "%s%s%s", j ? "" : "h=", names[j],
		    j + 1 < k ? ":" : ";");
		if (j == 0)
			fold_word(fo, word, strlen(word));
		else
			fold_piece(fo, word, strlen(word));
	}
}

/* Hashes the signed fields in h= order into data. */
static int
hash_fields(struct buf *data, struct field *f, int nf)
{
	size_t j;

	for (j = 0; j < ARRAY_LEN(signed_names); j++)
		while (1) {
			int r = take_field(data, f, nf, signed_names[j]);
			if (r == -1)
				return -1;
			if (r == 0)
				break;
		}
	for (j = 0; j < ARRAY_LEN(oversigned); j++)
		if (take_field(data, f, nf, oversigned[j]) == -1)
			return -1;
	return 0;
}

/* The DKIM-Signature field up to and including "b=" (no CRLF). */
static void
sig_header(struct buf *h, const struct dkim_params *p, const struct field *f,
    int nf, const unsigned char bh[SHA256_LEN])
{
	struct fold fo = { h, 15 };
	struct buf w;

	buf_init(&w);
	buf_adds(h, "DKIM-Signature:");
	fold_word(&fo, "v=1;", 4);
	buf_printf(&w, "a=%s;", crypto_key_type(p->key) == CRYPTO_KEY_RSA ?
	    "rsa-sha256" : "ed25519-sha256");
	fold_word(&fo, w.data, w.len);
	fold_word(&fo, "c=relaxed/relaxed;", 18);
	buf_reset(&w);
	buf_printf(&w, "d=%s;", p->domain);
	fold_word(&fo, w.data, w.len);
	buf_reset(&w);
	buf_printf(&w, "s=%s;", p->selector);
	fold_word(&fo, w.data, w.len);
	buf_reset(&w);
	buf_printf(&w, "t=%lld;", (long long)p->t);
	fold_word(&fo, w.data, w.len);
	fold_names(&fo, f, nf);
	buf_reset(&w);
	mime_base64(&w, bh, SHA256_LEN);
	fold_word(&fo, "bh=", 3);
	fold_b64(&fo, w.data, w.len);
	fold_piece(&fo, ";", 1);
	fold_word(&fo, "b=", 2);
	if (w.oom)
		h->oom = 1;
	buf_free(&w);
}

/* Column after the last line of h (for continuing the b= value). */
static size_t
last_col(const struct buf *h)
{
	size_t i = h->len;

	while (i > 0 && h->data[i - 1] != '\n')
		i--;
	return h->len - i;
}

/* §5.4: From is the one field that must be signed. */
static int
has_from(const struct field *f, int nf)
{
	int i;

	for (i = 0; i < nf; i++)
		if (name_is(&f[i], "from"))
			return 1;
	return 0;
}

static int
names_ok(const struct dkim_params *p)
{
	char name[LIM_ADDR_DOMAIN + 2];
	int n;

	n = snprintf(name, sizeof name, "%s.%s", p->selector, p->domain);
	return n > 0 && (size_t)n < sizeof name && addr_domain_ok(name) &&
	    addr_domain_ok(p->domain);
}

/*
 * The relaxed body hash (RFC 6376 §3.4.4) over bytes that arrive in
 * pieces, split anywhere: the rules of dkim_canon_body, kept as state
 * between pieces (a CR waiting for its LF, WSP waiting for the next
 * character, empty lines waiting for text), so a body as large as an
 * attachment is never held.  Runs of text go to the digest as they are.
 */
struct body_hash {
	struct crypto_sha256 *h;
	size_t empties;        /* empty lines not yet known to be inside */
	int space;             /* WSP seen since the last character */
	int text;              /* the current line has a character */
	int cr;                /* the last byte was a CR */
	size_t n;
	char out[4096];        /* canonical bytes not yet hashed */
};

static void
bh_emit(struct body_hash *b, const char *p, size_t n)
{
	if (b->n + n > sizeof b->out) {
		crypto_sha256_add(b->h, b->out, b->n);
		b->n = 0;
	}
	if (n >= sizeof b->out) {
		crypto_sha256_add(b->h, p, n);
		return;
	}
	memcpy(b->out + b->n, p, n);
	b->n += n;
}

/* Characters of a line (no WSP, no CR). */
static void
bh_text(struct body_hash *b, const char *p, size_t n)
{
	if (!b->text) {
		/* Empty lines count only once more text follows. */
		for (; b->empties; b->empties--)
			bh_emit(b, "\r\n", 2);
		b->text = 1;
	}
	if (b->space)
		bh_emit(b, " ", 1);
	b->space = 0;
	bh_emit(b, p, n);
}

static void
bh_add(struct body_hash *b, const char *p, size_t n)
{
	size_t i = 0, j;

	while (i < n) {
		if (b->cr) {
			b->cr = 0;
			if (p[i] == '\n') {        /* the end of a line */
				if (b->text)
					bh_emit(b, "\r\n", 2);
				else
					b->empties++;
				b->text = b->space = 0;
				i++;
				continue;
			}
			bh_text(b, "\r", 1);      /* a CR inside a line */
		}
		if (p[i] == '\r') {
			b->cr = 1;
			i++;
		} else if (is_wsp(p[i])) {
			b->space = 1;
			i++;
		} else {
			for (j = i + 1; j < n && p[j] != '\r' && !is_wsp(p[j]);
			    j++)
				;
			bh_text(b, p + i, j - i);
			i = j;
		}
	}
}

static int
bh_begin(struct body_hash *b)
{
	memset(b, 0, offsetof(struct body_hash, out));
	return (b->h = crypto_sha256_begin()) == NULL ? -1 : 0;
}

/* The last line needs no CRLF of its own; empty lines at the end go. */
static int
bh_end(struct body_hash *b, unsigned char bh[SHA256_LEN])
{
	if (b->cr)
		bh_text(b, "\r", 1);
	if (b->text)
		bh_emit(b, "\r\n", 2);
	crypto_sha256_add(b->h, b->out, b->n);
	return crypto_sha256_end(b->h, bh);
}

/* The DKIM-Signature field, with its CRLF, for the header block
 * hdr[0..n) (split_fields stops at its empty line, if any) and the body
 * hash bh, appended to out.  0, or -1 with err. */
static int
make_field(struct buf *out, const char *hdr, size_t n,
    const unsigned char bh[SHA256_LEN], const struct dkim_params *p,
    char *err, size_t errlen)
{
	struct field f[LIM_DKIM_FIELDS];
	struct buf data, h, b;
	unsigned char *sig = NULL;
	size_t body_off, siglen = 0;
	int nf, rc = -1;

	buf_init(&data);
	buf_init(&h);
	buf_init(&b);
	if (!names_ok(p)) {
		snprintf(err, errlen, "DKIM domain or selector is not a DNS "
		    "name");
		goto out;
	}
	if ((nf = split_fields(hdr, n, f, &body_off)) == -1 ||
	    !has_from(f, nf)) {
		snprintf(err, errlen, "DKIM: the message has no From field "
		    "or too many fields");
		goto out;
	}
	sig_header(&h, p, f, nf, bh);
	if (hash_fields(&data, f, nf) == -1 || h.oom ||
	    dkim_canon_header(&data, h.data, h.len) == -1)
		goto oom;
	data.len -= 2;         /* §3.7: the signature field without CRLF */
	if (crypto_key_sign(p->key, data.data, data.len, &sig, &siglen) == -1) {
		snprintf(err, errlen, "DKIM: signing failed");
		goto out;
	}
	mime_base64(&b, sig, siglen);
	{
		struct fold fo = { &h, last_col(&h) };
		fold_b64(&fo, b.data, b.len);
	}
	buf_add(&h, "\r\n", 2);
	if (h.oom || b.oom || buf_add(out, h.data, h.len) == -1)
		goto oom;
	rc = 0;
	goto out;
oom:
	snprintf(err, errlen, "out of memory signing the mail");
out:
	free(sig);
	buf_free(&data);
	buf_free(&h);
	buf_free(&b);
	return rc;
}

/* Where the body of msg[0..len) starts: after the first empty line (as
 * split_fields finds it), or len. */
static size_t
body_start(const char *msg, size_t len)
{
	const char *e;

	if (len >= 2 && msg[0] == '\r' && msg[1] == '\n')
		return 2;
	e = memmem(msg, len, "\r\n\r\n", 4);
	return e ? (size_t)(e - msg) + 4 : len;
}

int
dkim_sign(struct buf *msg, const struct dkim_params *p, char *err,
    size_t errlen)
{
	struct body_hash bhs;
	unsigned char bh[SHA256_LEN];
	struct buf h;
	size_t off = body_start(msg->data, msg->len);

	buf_init(&h);
	if (bh_begin(&bhs) == -1) {
		snprintf(err, errlen, "out of memory signing the mail");
		return -1;
	}
	bh_add(&bhs, msg->data + off, msg->len - off);
	if (bh_end(&bhs, bh) == -1) {
		snprintf(err, errlen, "out of memory signing the mail");
		return -1;
	}
	if (make_field(&h, msg->data, off, bh, p, err, errlen) == -1)
		goto fail;
	if (buf_add(&h, msg->data, msg->len) == -1) {
		snprintf(err, errlen, "out of memory signing the mail");
		goto fail;
	}
	buf_free(msg);
	*msg = h;
	return 0;
fail:
	buf_free(&h);
	return -1;
}

/* A message signed as it is written (dkim.h): its header block, kept
 * until the empty line that ends it, and the body's hash state.  eoh
 * matches "\r\n\r\n" across pieces; it starts at 2 since the message
 * starts a line (a message that starts with CRLF has no header). */
struct dkim_stream {
	struct buf hdr;
	int eoh;               /* bytes of CRLF CRLF matched; 4: in the body */
	int bad;               /* no memory, or a header block over the cap */
	struct body_hash bh;
};

struct dkim_stream *
dkim_stream_begin(void)
{
	struct dkim_stream *d = malloc(sizeof *d);

	if (d == NULL)
		return NULL;
	buf_init(&d->hdr);
	d->eoh = 2;
	d->bad = 0;
	if (bh_begin(&d->bh) == -1) {
		free(d);
		return NULL;
	}
	return d;
}

void
dkim_stream_add(struct dkim_stream *d, const char *p, size_t n)
{
	size_t i;

	if (d == NULL || d->bad)
		return;
	for (i = 0; i < n && d->eoh < 4; i++)
		d->eoh = p[i] == '\r' ? (d->eoh == 2 ? 3 : 1) :
		    p[i] == '\n' ? (d->eoh == 1 ? 2 : d->eoh == 3 ? 4 : 0) : 0;
	if (d->hdr.len + i > LIM_DKIM_HEADER || buf_add(&d->hdr, p, i) == -1) {
		d->bad = 1;
		return;
	}
	bh_add(&d->bh, p + i, n - i);
}

static void
stream_free(struct dkim_stream *d)
{
	unsigned char bh[SHA256_LEN];

	(void)crypto_sha256_end(d->bh.h, bh);
	buf_free(&d->hdr);
	free(d);
}

void
dkim_stream_free(struct dkim_stream *d)
{
	if (d != NULL)
		stream_free(d);
}

int
dkim_stream_end(struct dkim_stream *d, const struct dkim_params *p,
    struct buf *field, char *err, size_t errlen)
{
	unsigned char bh[SHA256_LEN];
	int rc = -1;

	if (d == NULL || d->bad) {
		snprintf(err, errlen, "DKIM: out of memory, or a header "
		    "block over %d bytes", LIM_DKIM_HEADER);
		dkim_stream_free(d);
		return -1;
	}
	if (bh_end(&d->bh, bh) == -1)
		snprintf(err, errlen, "out of memory signing the mail");
	else
		rc = make_field(field, d->hdr.data, d->hdr.len, bh, p, err,
		    errlen);
	buf_free(&d->hdr);
	free(d);
	return rc;
}

char *
dkim_record(const struct crypto_key *k)
{
	unsigned char *pub = NULL;
	size_t len = 0;
	struct buf r;

	if (crypto_key_public(k, &pub, &len) == -1)
		return NULL;
	buf_init(&r);
	buf_printf(&r, "v=DKIM1; k=%s; p=", crypto_key_type(k) ==
	    CRYPTO_KEY_RSA ? "rsa" : "ed25519");
	mime_base64(&r, pub, len);
	free(pub);
	return buf_steal(&r);
}
