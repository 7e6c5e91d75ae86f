/*
 * mail — builds the message from the site's templates and hands header
 * values to the MIME writer as typed parts.  A Subject rendered from
 * visitor text, and a Reply-To name taken from a multiline field, have
 * their line breaks folded to spaces before encoding; the writer refuses
 * any control character that would remain.
 */
#include "mail.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dkim.h"
#include "echo.h"
#include "file.h"
#include "mime.h"
#include "spool.h"

void
mail_local_date(char *out, size_t len, time_t t, int off)
{
	/* Every post stamps its answer with the date (doc/design.md "The
	 * pipeline"), most within the same second: the last one made on
	 * this thread is reused. */
	static _Thread_local time_t last_t = -1;
	static _Thread_local int last_off;
	static _Thread_local char last[64];
	struct tm tm;
	time_t local = t + (time_t)off * 60;
	int a = off < 0 ? -off : off;

	if (t != last_t || off != last_off) {
		gmtime_r(&local, &tm);
		snprintf(last, sizeof last, "%04d-%02d-%02d %02d:%02d:%02d "
		    "%c%02d%02d", tm.tm_year + 1900, tm.tm_mon + 1,
		    tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
		    off < 0 ? '-' : '+', a / 60, a % 60);
		last_t = t;
		last_off = off;
	}
	str_join(out, len, last, "");
}

/* The site's signing parameters; 0 when it does not sign. */
static int
sign_params(const struct site *s, time_t now, struct dkim_params *p)
{
	if (s->dkim_key == NULL)
		return 0;
	p->domain = s->from_domain;
	p->selector = s->dkim_selector;
	p->t = now;
	p->key = s->dkim_key;
	return 1;
}

int
mail_sign(const struct site *s, time_t now, struct buf *wire, char *err,
    size_t errlen)
{
	struct dkim_params p;

	if (!sign_params(s, now, &p))
		return 0;
	return dkim_sign(wire, &p, err, errlen);
}

void
mail_free(struct mail *m)
{
	size_t i;

	free(m->sender);
	for (i = 0; i < m->nrcpt; i++)
		free(m->rcpt[i]);
	free(m->rcpt);
	buf_free(&m->wire);
	if (m->in_file)
		close(m->fd);
	memset(m, 0, sizeof *m);
}

/*
 * A message with attachments, written as it is made (doc/design.md
 * "Attachments"): mime hands its pieces to file_sink, which writes them
 * to an unnamed file from offset LIM_DKIM_ROOM on and passes them through
 * the DKIM signer.  The DKIM-Signature, known only at the end, is then
 * written just before the message, which is thus one run of bytes in the
 * file: the spool copies it from there in chunks, never whole in memory.
 */
struct file_sink {
	int fd;
	unsigned long long len;      /* message bytes written */
	struct dkim_stream *dk;      /* NULL: the site does not sign */
};

static int
file_sink_write(void *arg, const char *p, size_t n)
{
	struct file_sink *fs = arg;

	if (fs->len + n > LIM_SPOOL_MESSAGE || file_write_all(fs->fd, p, n)
	    == -1)
		return -1;
	fs->len += n;
	dkim_stream_add(fs->dk, p, n);
	return 0;
}

/* The DKIM-Signature of what went through fs, written just before the
 * message; *start is where the message now begins.  0, or -1 with err. */
static int
file_sign(const struct site *s, time_t now, struct file_sink *fs,
    size_t *start, char *err, size_t errlen)
{
	struct dkim_params p;
	struct buf field;
	int rc = -1;

	*start = LIM_DKIM_ROOM;
	if (!sign_params(s, now, &p))
		return 0;
	buf_init(&field);
	if (dkim_stream_end(fs->dk, &p, &field, err, errlen) == 0) {
		if (field.len > LIM_DKIM_ROOM)
			snprintf(err, errlen, "DKIM-Signature over %d bytes",
			    LIM_DKIM_ROOM);
		else if (pwrite(fs->fd, field.data, field.len,
		    (off_t)(LIM_DKIM_ROOM - field.len)) != (ssize_t)field.len)
			snprintf(err, errlen, "writing the message: %s",
			    strerror(errno));
		else {
			*start = LIM_DKIM_ROOM - field.len;
			rc = 0;
		}
	}
	fs->dk = NULL;
	buf_free(&field);
	return rc;
}

/* Writes msg to a file from f->tmp_open, which out keeps.  0, or -1
 * with err. */
static int
compose_file(const struct site *s, const struct mime_msg *msg,
    const struct mail_facts *f, struct mail *out, char *err, size_t errlen)
{
	struct file_sink fs = { -1, 0, NULL };
	struct mime_sink sink = { file_sink_write, &fs };
	struct dkim_params p;
	size_t start = LIM_DKIM_ROOM;
	int rc = -1;

	if ((fs.fd = f->tmp_open(f->tmp_arg)) == -1) {
		snprintf(err, errlen, "no file to compose the mail in");
		return -1;
	}
	if (sign_params(s, f->now, &p) && (fs.dk = dkim_stream_begin())
	    == NULL) {
		snprintf(err, errlen, "out of memory composing the mail");
		goto out;
	}
	if (lseek(fs.fd, LIM_DKIM_ROOM, SEEK_SET) == -1 ||
	    mime_write_to(&out->wire, msg, &sink) == -1) {
		snprintf(err, errlen, out->wire.oom ? "out of memory writing "
		    "the mail" : "the message writer refused a header value, "
		    "or the file could not be written");
		goto out;
	}
	if (file_sign(s, f->now, &fs, &start, err, errlen) == -1)
		goto out;
	buf_free(&out->wire);
	out->in_file = 1;
	out->fd = fs.fd;
	out->off = start;
	out->len = LIM_DKIM_ROOM + fs.len - start;
	fs.fd = -1;
	rc = 0;
out:
	dkim_stream_free(fs.dk);
	if (fs.fd != -1)
		close(fs.fd);
	return rc;
}

/* The message's bytes: in a file when it has attachments and the caller
 * gave one, else in out->wire.  0, or -1 with err. */
static int
write_message(const struct site *s, const struct mime_msg *msg,
    const struct mail_facts *f, struct mail *out, char *err, size_t errlen)
{
	if (msg->nparts > 0 && f->tmp_open != NULL)
		return compose_file(s, msg, f, out, err, errlen);
	if (mime_write(&out->wire, msg) == -1) {
		snprintf(err, errlen, out->wire.oom ? "out of memory writing "
		    "the mail" : "the message writer refused a header value");
		return -1;
	}
	if (mail_sign(s, f->now, &out->wire, err, errlen) == -1)
		return -1;
	out->data = out->wire.data;
	out->len = out->wire.len;
	return 0;
}

static int
add_rcpt(struct mail *m, char **list, size_t n)
{
	size_t i, j;

	for (i = 0; i < n; i++) {
		for (j = 0; j < m->nrcpt; j++)
			if (strcasecmp(m->rcpt[j], list[i]) == 0)
				break;
		if (j < m->nrcpt)
			continue;
		if ((m->rcpt[m->nrcpt] = strdup(list[i])) == NULL)
			return -1;
		m->nrcpt++;
	}
	return 0;
}

static struct mime_addr *
addrs(char **list, size_t n)
{
	struct mime_addr *a = calloc(n + 1, sizeof *a);
	size_t i;

	if (a == NULL)
		return NULL;
	for (i = 0; i < n; i++)
		a[i].addr = list[i];
	return a;
}

/*
 * Subject text: a multiline field used in the subject brings CRLF (the
 * validator's normal form) and tabs; each line break (CRLF, CR or LF) and
 * each tab becomes one space, so "a\r\nb" reads "a b".  Spaces at either
 * end are dropped, so "[Contact] {{subject}}" with no subject reads
 * "[Contact]".  The writer still refuses any control that would remain.
 */
static void
flatten(struct buf *b)
{
	size_t i, o, start;

	for (i = o = 0; i < b->len; i++) {
		char c = b->data[i];
		if (c == '\r' && i + 1 < b->len && b->data[i + 1] == '\n')
			i++;
		b->data[o++] = c == '\r' || c == '\n' || c == '\t' ? ' ' : c;
	}
	while (o > 0 && b->data[o - 1] == ' ')
		o--;
	for (start = 0; start < o && b->data[start] == ' '; start++)
		;
	if (start)
		memmove(b->data, b->data + start, o - start);
	b->len = o - start;
	if (b->data)
		b->data[b->len] = '\0';
}

/* out's envelope: the sender and every configured recipient, each once
 * and each one the SMTP layer may send.  0, or -1 with err. */
static int
envelope(const struct site *s, struct mail *out, char *err, size_t errlen)
{
	size_t i;

	out->sender = strdup(s->envelope_from ? s->envelope_from :
	    s->from_addr);
	out->rcpt = calloc(s->nto + s->ncc + s->nbcc + 1, sizeof *out->rcpt);
	if (!out->sender || !out->rcpt ||
	    add_rcpt(out, s->to, s->nto) == -1 ||
	    add_rcpt(out, s->cc, s->ncc) == -1 ||
	    add_rcpt(out, s->bcc, s->nbcc) == -1) {
		snprintf(err, errlen, "out of memory composing the mail");
		return -1;
	}
	if (!mime_envelope_ok(out->sender)) {
		snprintf(err, errlen, "envelope sender refused");
		return -1;
	}
	for (i = 0; i < out->nrcpt; i++)
		if (!mime_envelope_ok(out->rcpt[i])) {
			snprintf(err, errlen, "envelope recipient refused");
			return -1;
		}
	return 0;
}

/* The Reply-To display name: the reply_to_name field's valid value, or
 * NULL.  A multiline field is made one line in tmp, like the Subject
 * (one-line fields go to the writer as they are: it refuses a line break
 * that got past validation).  0, or -1 (OOM). */
static int
reply_name(const struct site *s, const struct fvals *v, struct buf *tmp,
    const char **name)
{
	size_t i;
	int multiline = 0;

	*name = NULL;
	if (s->reply_to_name && v)
		for (i = 0; i < s->nfields; i++)
			if (strcmp(s->fields[i].name, s->reply_to_name) == 0 &&
			    v->v[i].error == NULL) {
				*name = v->v[i].value;
				multiline = s->fields[i].type == FT_MULTILINE;
			}
	if (*name == NULL || !multiline)
		return 0;
	if (buf_adds(tmp, *name) == -1)
		return -1;
	flatten(tmp);
	*name = tmp->data;
	return 0;
}

/* Reads an accepted file's content (mime_part.read). */
static long
file_part_read(void *arg, void *buf, size_t n, unsigned long long off)
{
	const struct fval *fv = arg;

	if (off >= fv->size)
		return 0;
	if (n > fv->size - off)
		n = (size_t)(fv->size - off);
	if (fv->data == NULL)
		return file_pread_all(fv->fd, buf, n, off);
	memcpy(buf, fv->data + off, n);
	return (long)n;
}

/* The accepted files of v as attachments, in field order: a new array
 * (caller frees) in *out, or NULL when there are none.  0, or -1. */
static int
file_parts(const struct fvals *v, struct mime_part **out, size_t *n)
{
	size_t i;

	*out = NULL;
	*n = 0;
	if (v == NULL)
		return 0;
	for (i = 0; i < v->n; i++) {
		const struct fval *fv = &v->v[i];
		if (!fv->has_file || fv->error)
			continue;
		if (*out == NULL && (*out = calloc(v->n, sizeof **out)) == NULL)
			return -1;
		(*out)[*n].ctype = fv->ctype;
		(*out)[*n].name = fv->value;
		(*out)[*n].size = fv->size;
		(*out)[*n].read = file_part_read;
		(*out)[(*n)++].arg = (void *)fv;
	}
	return 0;
}

/* The receipt's envelope: the site's sender, the visitor's address. */
static int
receipt_envelope(const struct site *s, const struct fvals *v,
    struct mail *out, char *err, size_t errlen)
{
	out->sender = strdup(s->envelope_from ? s->envelope_from :
	    s->from_addr);
	out->rcpt = calloc(2, sizeof *out->rcpt);
	if (!out->sender || !out->rcpt ||
	    (out->rcpt[0] = strdup(v->reply_to)) == NULL) {
		snprintf(err, errlen, "out of memory composing the receipt");
		return -1;
	}
	out->nrcpt = 1;
	if (!mime_envelope_ok(out->sender) ||
	    !mime_envelope_ok(out->rcpt[0])) {
		snprintf(err, errlen, "envelope address refused");
		return -1;
	}
	return 0;
}

/* A receipt goes to the visitor alone (reply, as the owner's mail would
 * have had it, becomes To) and replies go to the owner. */
static void
receipt_headers(const struct site *s, struct mime_msg *msg,
    struct mime_addr *reply, struct mime_addr *visitor)
{
	*visitor = *reply;
	memset(reply, 0, sizeof *reply);
	reply->addr = s->to[0];
	msg->reply_to = reply;
	msg->to = visitor;
	msg->nto = 1;
	msg->ncc = 0;
	msg->auto_replied = 1;
}

/* The headers that differ between the owner's mail and the receipt. */
struct kind {
	int receipt;
	enum page subject, body;
};

static int compose(const struct site *s, const struct pages *pg,
    const struct fvals *v, const struct mail_facts *f, const struct kind *k,
    struct mail *out, char *err, size_t errlen);

int
mail_compose(const struct site *s, const struct pages *pg,
    const struct fvals *v, const struct mail_facts *f, struct mail *out,
    char *err, size_t errlen)
{
	static const struct kind owner = { 0, PAGE_SUBJECT, PAGE_MAIL };

	return compose(s, pg, v, f, &owner, out, err, errlen);
}

/*
 * What the receipt's templates may see of the post (doc/design.md
 * "Auto-reply and carrier mail"): an echo field's value, or the omitted
 * word when echo.h refuses it; every other field empty.  So neither the
 * subject, nor the To display name, nor a custom template can carry a
 * visitor's text past the echo rules.  0, or -1 (OOM).
 */
static int
receipt_values(const struct site *s, const struct fvals *v,
    struct fvals *out)
{
	size_t i;

	memset(out, 0, sizeof *out);
	if ((out->v = calloc(v->n + 1, sizeof *out->v)) == NULL)
		return -1;
	out->n = v->n;
	out->reply_to = v->reply_to;
	for (i = 0; i < v->n; i++) {
		const char *val = v->v[i].value ? v->v[i].value : "";
		if (i >= s->nfields || !s->fields[i].echo || v->v[i].error)
			val = "";
		else if (echo_unsafe(val, strlen(val)))
			val = echo_omitted(s->lang);
		if ((out->v[i].value = strdup(val)) == NULL)
			return -1;
		out->v[i].len = strlen(val);
	}
	return 0;
}

int
mail_compose_receipt(const struct site *s, const struct pages *pg,
    const struct fvals *v, const struct mail_facts *f, struct mail *out,
    char *err, size_t errlen)
{
	static const struct kind receipt = { 1, PAGE_AR_SUBJECT,
	    PAGE_AUTO_REPLY };
	struct fvals safe;
	int rc;

	memset(out, 0, sizeof *out);
	if (!s->auto_reply || v == NULL || v->reply_to == NULL) {
		snprintf(err, errlen, "no auto_reply or no address for it");
		return -1;
	}
	if (receipt_values(s, v, &safe) == -1) {
		fvals_free(&safe);
		snprintf(err, errlen, "out of memory composing the receipt");
		return -1;
	}
	rc = compose(s, pg, &safe, f, &receipt, out, err, errlen);
	fvals_free(&safe);
	return rc;
}

/* The kind's subject (flattened to one line) and body, into the caller's
 * buffers.  -1 on OOM. */
static int
render_texts(const struct site *s, const struct pages *pg,
    const struct fvals *v, const struct mail_facts *f, const struct kind *k,
    struct buf *subject, struct buf *body)
{
	struct page_facts pf;
	char date[40];

	mail_local_date(date, sizeof date, f->now, f->utc_offset_min);
	memset(&pf, 0, sizeof pf);
	pf.id = f->id;
	pf.date = date;
	pf.ip = f->ip;
	pf.page = f->page;
	if (pages_render(pg, s, k->subject, v, &pf, subject) == -1 ||
	    pages_render(pg, s, k->body, v, &pf, body) == -1)
		return -1;
	flatten(subject);
	return 0;
}

static int
compose(const struct site *s, const struct pages *pg,
    const struct fvals *v, const struct mail_facts *f, const struct kind *k,
    struct mail *out, char *err, size_t errlen)
{
	struct mime_addr reply, visitor, *to = NULL, *cc = NULL;
	struct mime_part *parts = NULL;
	struct mime_msg msg;
	struct buf subject, body, rname_buf;
	char msgid[320];
	int rc = -1;

	memset(out, 0, sizeof *out);
	buf_init(&out->wire);
	buf_init(&subject);
	buf_init(&body);
	buf_init(&rname_buf);
	memset(&msg, 0, sizeof msg);
	if (render_texts(s, pg, v, f, k, &subject, &body) == -1) {
		snprintf(err, errlen, "out of memory rendering the mail");
		goto out;
	}
	to = addrs(s->to, s->nto);
	cc = addrs(s->cc, s->ncc);
	if (!to || !cc || (!k->receipt &&
	    file_parts(v, &parts, &msg.nparts) == -1)) {
		snprintf(err, errlen, "out of memory composing the mail");
		goto out;
	}
	if ((k->receipt ? receipt_envelope(s, v, out, err, errlen) :
	    envelope(s, out, err, errlen)) == -1)
		goto out;
	memset(&reply, 0, sizeof reply);
	if (reply_name(s, v, &rname_buf, &reply.name) == -1) {
		snprintf(err, errlen, "out of memory composing the mail");
		goto out;
	}
	reply.name_len = reply.name ? strlen(reply.name) : 0;
	reply.addr = v ? v->reply_to : NULL;
	str_cat(msgid, sizeof msgid, f->id, k->receipt ?
	    SPOOL_RECEIPT_SUFFIX : "", "@", s->from_domain, (char *)NULL);
	msg.parts = parts;
	msg.from.name = s->from_name;
	msg.from.name_len = s->from_name ? strlen(s->from_name) : 0;
	msg.from.addr = s->from_addr;
	msg.reply_to = reply.addr ? &reply : NULL;
	msg.to = to;
	msg.nto = s->nto;
	msg.cc = cc;
	msg.ncc = s->ncc;
	if (k->receipt)
		receipt_headers(s, &msg, &reply, &visitor);
	msg.subject = subject.data ? subject.data : "";
	msg.subject_len = subject.len;
	msg.date = f->now;
	msg.utc_offset_min = f->utc_offset_min;
	msg.message_id = msgid;
	msg.body = body.data ? body.data : "";
	msg.body_len = body.len;
	if (write_message(s, &msg, f, out, err, errlen) == -1)
		goto out;
	rc = 0;
out:
	if (rc == -1)
		mail_free(out);
	free(to);
	free(cc);
	free(parts);
	buf_free(&subject);
	buf_free(&body);
	buf_free(&rname_buf);
	return rc;
}
