/*
 * test_stream — a message with attachments is never whole in the heap
 * (doc/design.md "Attachments"): the streamed writer (mime_write_to with a
 * sink) gives the bytes of the in-memory one for attachment sizes around
 * every chunk boundary, in bounded pieces, and its base64 decodes back to
 * the file; the streamed DKIM signer gives dkim_sign's field byte for byte
 * however the message is split, and its body hash is SHA-256 of
 * dkim_canon_body (the buffer-based canonicaliser) on hostile bodies;
 * mail_compose through a file gives the in-memory bytes, signed, in the
 * file; the spool writes a message in memory or in a file as spool_format
 * would, keeps a large claimed file in its file (through an update, a
 * failed/ record), and reads it into the heap for a reader without a
 * claim.
 */
#include "unit.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crypto.h"
#include "dkim.h"
#include "file.h"
#include "mail.h"
#include "mime.h"
#include "spool.h"
#include "util.h"

static const char yaml[] =
    "templates: templates\n"
    "smtp:\n  m:\n    url: smtp://127.0.0.1:25\n    starttls: off\n"
    "sites:\n  s:\n    origins: [https://a.example]\n"
    "    from: form@example.jp\n    to: [info@example.jp]\n"
    "    max_body: 4M\n"
    "    fields:\n"
    "      name: { label: お名前 }\n"
    "      cv: { label: 履歴書, type: file, accept: [pdf], max: 3M }\n";

#include "fixture.h"

static const char ed_pem[] =
    "-----BEGIN PRIVATE KEY-----\n"
    "MC4CAQAwBQYDK2VwBCIEICecemc84YBMbb/6yRJTzomN2e/6YZ/hz/ukj1sT73NS\n"
    "-----END PRIVATE KEY-----\n";

static struct crypto_key *
load_key(const char *pem)
{
	char err[256], path[] = "/tmp/fp-test-stream-XXXXXX";
	struct crypto_key *k;
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, pem, strlen(pem)), (ssize_t)strlen(pem));
	assert_int_equal(fchmod(fd, 0600), 0);
	close(fd);
	k = crypto_key_load(path, err, sizeof err);
	unlink(path);
	assert_non_null(k);
	return k;
}

/* Deterministic content that is not all one byte. */
static unsigned char *
content(size_t n)
{
	unsigned char *p = malloc(n ? n : 1);
	unsigned x = 2463534242u;
	size_t i;

	assert_non_null(p);
	for (i = 0; i < n; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		p[i] = (unsigned char)x;
	}
	return p;
}

/* A sink that collects, and remembers its largest piece. */
struct collect {
	struct buf b;
	size_t pieces, largest;
};

static int
collect_write(void *arg, const char *p, size_t n)
{
	struct collect *c = arg;

	c->pieces++;
	if (n > c->largest)
		c->largest = n;
	return buf_add(&c->b, p, n);
}

static void
base_msg(struct mime_msg *m)
{
	static const struct mime_addr to = { NULL, 0, "info@example.jp" };

	memset(m, 0, sizeof *m);
	m->from.addr = "form@example.jp";
	m->to = &to;
	m->nto = 1;
	m->subject = "見積書";
	m->subject_len = strlen(m->subject);
	m->date = 1795870927;
	m->utc_offset_min = 540;
	m->message_id = "K3M9-7QXA-2BTD@example.jp";
	m->body = "お名前: 山田 太郎\n";
	m->body_len = strlen(m->body);
}

static int
b64v(char c)
{
	static const char t[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	const char *q = strchr(t, c);

	return c && q ? (int)(q - t) : -1;
}

/* Decodes the base64 lines of the first attachment in msg and compares
 * them with want[0..n); every line at most 76 characters. */
static void
attachment_is(const struct buf *msg, const unsigned char *want, size_t n)
{
	const char *p = memmem(msg->data, msg->len,
	    "Content-Disposition: attachment", 31);
	const char *end = msg->data + msg->len;
	size_t got = 0, i;

	assert_non_null(p);
	p = memmem(p, (size_t)(end - p),
	    "Content-Transfer-Encoding: base64\r\n\r\n", 37);
	assert_non_null(p);
	for (p += 37; p < end && *p != '-'; ) {
		const char *nl = memmem(p, (size_t)(end - p), "\r\n", 2);
		size_t len;
		assert_non_null(nl);
		len = (size_t)(nl - p);
		assert_true(len <= 76 && len % 4 == 0);
		for (i = 0; i < len; i += 4) {
			int a = b64v(p[i]), b = b64v(p[i + 1]);
			int c = p[i + 2] == '=' ? 0 : b64v(p[i + 2]);
			int d = p[i + 3] == '=' ? 0 : b64v(p[i + 3]);
			unsigned char o[3];
			size_t k = p[i + 2] == '=' ? 1 : p[i + 3] == '=' ? 2 : 3;
			assert_true(a >= 0 && b >= 0 && c >= 0 && d >= 0);
			o[0] = (unsigned char)(a << 2 | b >> 4);
			o[1] = (unsigned char)((b & 15) << 4 | c >> 2);
			o[2] = (unsigned char)((c & 3) << 6 | d);
			assert_true(got + k <= n);
			assert_memory_equal(o, want + got, k);
			got += k;
		}
		p = nl + 2;
	}
	assert_int_equal(got, n);
}

static void
test_mime_streamed_equals_memory(void **state)
{
	static const size_t sizes[] = { 0, 1, 2, 3, 57, 48 * 1024 - 1,
	    48 * 1024, 48 * 1024 + 1, LIM_MIME_CHUNK_LINES * 57 - 1,
	    LIM_MIME_CHUNK_LINES * 57, LIM_MIME_CHUNK_LINES * 57 + 1,
	    (1 << 20) + 1 };
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_LEN(sizes); i++) {
		unsigned char *data = content(sizes[i]);
		struct mem a = { data, sizes[i] }, b = { data, 5 };
		struct mime_part parts[2] = {
			{ "application/pdf", "見積書.pdf", sizes[i], mem_read, &a },
			{ "image/png", "a.png", sizes[i] < 5 ? sizes[i] : 5,
			    mem_read, &b },
		};
		struct collect c = { { 0 }, 0, 0 };
		struct mime_sink sink = { collect_write, &c };
		struct mime_msg m;
		struct buf mem, stage;

		base_msg(&m);
		m.parts = parts;
		m.nparts = 2;
		buf_init(&mem);
		buf_init(&stage);
		buf_init(&c.b);
		assert_int_equal(mime_write(&mem, &m), 0);
		assert_int_equal(mime_write_to(&stage, &m, &sink), 0);
		assert_int_equal(stage.len, 0);
		assert_int_equal(c.b.len, mem.len);
		assert_memory_equal(c.b.data, mem.data, mem.len);
		/* The staging buffer holds one chunk of base64 at most
		 * (with the headers before the first). */
		assert_true(c.largest <= LIM_MIME_CHUNK_LINES * 78 + 4096);
		attachment_is(&mem, data, sizes[i]);
		buf_free(&mem);
		buf_free(&stage);
		buf_free(&c.b);
		free(data);
	}
}

/* The sink's -1 fails the writer. */
static int
refuse(void *arg, const char *p, size_t n)
{
	(void)arg;
	(void)p;
	(void)n;
	return -1;
}

static void
test_mime_sink_failure(void **state)
{
	unsigned char *data = content(1000);
	struct mem a = { data, 1000 };
	struct mime_part part = { "application/pdf", "a.pdf", 1000, mem_read,
	    &a };
	struct mime_sink sink = { refuse, NULL };
	struct mime_msg m;
	struct buf b;

	(void)state;
	base_msg(&m);
	m.parts = &part;
	m.nparts = 1;
	buf_init(&b);
	assert_int_equal(mime_write_to(&b, &m, &sink), -1);
	buf_free(&b);
	free(data);
}

/* dkim_sign's field for msg (the bytes it prepends). */
static void
sign_memory(const struct buf *msg, const struct dkim_params *p,
    struct buf *field)
{
	struct buf m;
	char err[256];

	buf_init(&m);
	assert_int_equal(buf_add(&m, msg->data, msg->len), 0);
	if (dkim_sign(&m, p, err, sizeof err) != 0)
		fail_msg("dkim_sign: %s", err);
	assert_true(m.len > msg->len);
	assert_memory_equal(m.data + m.len - msg->len, msg->data, msg->len);
	buf_add(field, m.data, m.len - msg->len);
	buf_free(&m);
}

static void
sign_stream(const char *p, size_t n, size_t step,
    const struct dkim_params *dp, struct buf *field)
{
	struct dkim_stream *d = dkim_stream_begin();
	char err[256];
	size_t i;

	assert_non_null(d);
	for (i = 0; i < n; i += step)
		dkim_stream_add(d, p + i, n - i < step ? n - i : step);
	if (dkim_stream_end(d, dp, field, err, sizeof err) != 0)
		fail_msg("dkim_stream_end: %s", err);
}

static void
test_dkim_streamed_equals_memory(void **state)
{
	static const size_t steps[] = { 1, 2, 3, 4, 5, 7, 76, 78, 4095, 4096,
	    65536 + 7, (size_t)-1 / 2 };
	unsigned char *data = content((1 << 20) + 1);
	struct mem a = { data, (1 << 20) + 1 };
	struct mime_part part = { "application/pdf", "a.pdf", (1 << 20) + 1,
	    mem_read, &a };
	struct dkim_params p = { "example.jp", "fp2026", 1764680000, NULL };
	struct crypto_key *key = load_key(ed_pem);
	struct mime_msg m;
	struct buf msg, want, got;
	size_t i, k;

	(void)state;
	p.key = key;
	for (k = 0; k < 2; k++) {
		base_msg(&m);
		if (k) {
			m.parts = &part;
			m.nparts = 1;
		}
		buf_init(&msg);
		buf_init(&want);
		assert_int_equal(mime_write(&msg, &m), 0);
		sign_memory(&msg, &p, &want);
		for (i = 0; i < ARRAY_LEN(steps); i++) {
			if (k && steps[i] < 1024)
				continue;        /* a megabyte byte by byte */
			buf_init(&got);
			sign_stream(msg.data, msg.len, steps[i], &p, &got);
			assert_int_equal(got.len, want.len);
			assert_memory_equal(got.data, want.data, want.len);
			buf_free(&got);
		}
		buf_free(&msg);
		buf_free(&want);
	}
	crypto_key_free(key);
	free(data);
}

/* The bh= of a DKIM-Signature field, unfolded. */
static void
bh_of(const struct buf *field, char *out, size_t outlen)
{
	const char *p = memmem(field->data, field->len, "bh=", 3);
	size_t o = 0;

	assert_non_null(p);
	for (p += 3; *p != ';'; p++)
		if (*p != '\r' && *p != '\n' && *p != ' ' && o + 1 < outlen)
			out[o++] = *p;
	out[o] = '\0';
}

/* Bodies whose canonical form has edges: WSP runs and ends, empty lines
 * inside and at the end, CR or LF alone, no final CRLF, only WSP. */
static void
test_dkim_body_hash_is_canon_body(void **state)
{
	static const char *const bodies[] = {
	    "", "\r\n", "\r\n\r\n\r\n", "a", "a\r\n", "a \t\r\n", " a  b \r\n",
	    "a\r\n\r\n\r\nb\r\n\r\n", "a\rb\r\n", "a\nb\r\n", "a\r", "\r",
	    "a \r", " \t \r\n \r\n", "a\r\n \r\nb", "a\r\r\n\r\n", "\t\ta",
	    "x\r\n\r", "x \r\n\r\n \t", "end\r\n\r\n\r\n\r\n",
	};
	struct dkim_params p = { "example.jp", "fp2026", 1, NULL };
	struct crypto_key *key = load_key(ed_pem);
	unsigned char sum[SHA256_LEN];
	char got[128];
	size_t i, step;

	(void)state;
	p.key = key;
	for (i = 0; i < ARRAY_LEN(bodies); i++)
		for (step = 1; step <= 3; step++) {
			struct buf msg, canon, field, want;
			buf_init(&msg);
			buf_init(&canon);
			buf_init(&field);
			buf_init(&want);
			buf_printf(&msg, "From: a@example.jp\r\n\r\n%s",
			    bodies[i]);
			sign_stream(msg.data, msg.len, step, &p, &field);
			assert_int_equal(dkim_canon_body(&canon, bodies[i],
			    strlen(bodies[i])), 0);
			assert_int_equal(crypto_sha256(canon.data ? canon.data :
			    "", canon.len, sum), 0);
			mime_base64(&want, sum, sizeof sum);
			bh_of(&field, got, sizeof got);
			if (strcmp(got, want.data) != 0)
				fail_msg("body %zu step %zu: bh %s, want %s", i,
				    step, got, want.data);
			buf_free(&msg);
			buf_free(&canon);
			buf_free(&field);
			buf_free(&want);
		}
	crypto_key_free(key);
}

static int
tmp_open(void *arg)
{
	(void)arg;
	return open("/tmp", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
}

static void
values(const struct site *s, struct fvals *v, const unsigned char *data,
    size_t n)
{
	size_t i;

	memset(v, 0, sizeof *v);
	v->v = calloc(s->nfields, sizeof *v->v);
	assert_non_null(v->v);
	v->n = s->nfields;
	for (i = 0; i < s->nfields; i++) {
		struct fval *f = &v->v[i];
		f->fd = -1;
		if (strcmp(s->fields[i].name, "cv") == 0) {
			f->value = strdup("見積書.pdf");
			f->has_file = 1;
			f->data = (const char *)data;
			f->size = n;
			f->ctype = "application/pdf";
		} else
			f->value = strdup("山田 太郎");
		assert_non_null(f->value);
		f->len = strlen(f->value);
	}
}

/* The len bytes at off in fd, in a new heap block (caller frees). */
static char *
file_bytes_at(int fd, unsigned long long off, size_t len)
{
	char *p = malloc(len ? len : 1);

	assert_non_null(p);
	assert_int_equal(file_pread_all(fd, p, len, off), (long)len);
	return p;
}

static void
test_mail_through_a_file(void **state)
{
	static const size_t sizes[] = { 1, 58369, (2 << 20) + 1 };
	struct site *s = &cfg->sites[0];
	struct mail_facts f = { .id = "K3M9-7QXA-2BTD", .ip = "192.0.2.1",
	    .now = 1790000000, .utc_offset_min = 540 };
	char err[256];
	size_t i, k;

	(void)state;
	for (k = 0; k < 2; k++) {
		if (k) {             /* then signed */
			s->dkim_key = load_key(ed_pem);
			s->dkim_selector = strdup("fp2026");
		}
		for (i = 0; i < ARRAY_LEN(sizes); i++) {
			unsigned char *data = content(sizes[i]);
			struct mail mem, file;
			struct fvals v;

			values(s, &v, data, sizes[i]);
			f.tmp_open = NULL;
			if (mail_compose(s, pg, &v, &f, &mem, err, sizeof err))
				fail_msg("in memory: %s", err);
			f.tmp_open = tmp_open;
			if (mail_compose(s, pg, &v, &f, &file, err, sizeof err))
				fail_msg("through a file: %s", err);
			char *got;

			assert_false(mem.in_file);
			assert_ptr_equal(mem.data, mem.wire.data);
			assert_true(file.in_file);
			assert_int_equal(file.wire.len, 0);
			assert_int_equal(file.len, mem.len);
			got = file_bytes_at(file.fd, file.off, file.len);
			assert_memory_equal(got, mem.data, mem.len);
			assert_int_equal(memcmp(got, k ? "DKIM-Signature:" :
			    "Date:", k ? 15 : 5), 0);
			free(got);
			mail_free(&mem);
			mail_free(&file);
			fvals_free(&v);
			free(data);
		}
	}
}

static char *
slurp(const char *path, size_t *n)
{
	struct buf b;
	char chunk[65536];
	ssize_t r;
	int fd = open(path, O_RDONLY);

	assert_true(fd >= 0);
	buf_init(&b);
	while ((r = read(fd, chunk, sizeof chunk)) > 0)
		buf_add(&b, chunk, (size_t)r);
	close(fd);
	*n = b.len;
	return b.data;
}

static void
file_is_format(const char *dir, const char *sub, const struct spool_msg *m)
{
	char path[512];
	struct buf want;
	size_t n;
	char *got;

	snprintf(path, sizeof path, "%s/%s/%s", dir, sub, m->id);
	got = slurp(path, &n);
	buf_init(&want);
	assert_int_equal(spool_format(m, &want), 0);
	assert_int_equal(n, want.len);
	assert_memory_equal(got, want.data, n);
	buf_free(&want);
	free(got);
}

static void
test_spool_keeps_large_messages_in_files(void **state)
{
	static const size_t sizes[] = { 3000, LIM_SPOOL_MAP, 3 << 20 };
	char dir[] = "/tmp/fp-test-stream-spool-XXXXXX", err[256];
	char *rcpt[] = { "info@example.jp" };
	static const char *const ids[] = { "K3M9-7QXA-2BTA", "K3M9-7QXA-2BTB",
	    "K3M9-7QXA-2BTC" };
	struct spool *sp;
	size_t i;

	(void)state;
	assert_non_null(mkdtemp(dir));
	sp = spool_open(dir, err, sizeof err);
	assert_non_null(sp);
	for (i = 0; i < ARRAY_LEN(sizes); i++) {
		unsigned char *data = content(sizes[i]);
		struct spool_msg m, c;
		char *got;
		int fd = -1, src = open("/tmp", O_TMPFILE | O_RDWR, 0600);

		/* A composed message in a file, after 100 bytes of room. */
		assert_true(src >= 0);
		assert_int_equal(pwrite(src, data, sizes[i], 100),
		    (ssize_t)sizes[i]);
		assert_int_equal(spool_msg_borrow_file(&m, ids[i], "s",
		    1700000000, "form@example.jp", rcpt, 1, src, 100, sizes[i]),
		    0);
		assert_int_equal(spool_commit(sp, &m, err, sizeof err), 0);
		spool_msg_free(&m);          /* borrowed: src stays */
		close(src);
		assert_int_equal(spool_msg_borrow(&m, ids[i], "s", 1700000000,
		    "form@example.jp", rcpt, 1, (const char *)data, sizes[i]),
		    0);
		file_is_format(dir, "queue", &m);   /* as if from memory */
		spool_msg_free(&m);          /* borrowed: data stays */
		/* A reader without a claim reads into the heap. */
		assert_int_equal(spool_read(sp, "queue", ids[i], &c, err,
		    sizeof err), 0);
		assert_false(c.in_file);
		assert_int_equal(c.len, sizes[i]);
		assert_memory_equal(c.data, data, sizes[i]);
		spool_msg_free(&c);
		assert_int_equal(spool_claim(sp, ids[i], &c, &fd, err,
		    sizeof err), SPOOL_CLAIMED);
		/* A large file stays in its file, a small one is read. */
		assert_int_equal(c.in_file, sizes[i] >= LIM_SPOOL_MAP);
		assert_int_equal(c.len, sizes[i]);
		got = c.in_file ? file_bytes_at(c.fd, c.off, c.len) : NULL;
		assert_memory_equal(got ? got : c.data, data, sizes[i]);
		free(got);
		c.attempts = 3;
		c.next_try = 1700000100;
		c.rcpt[0].code = 451;
		spool_sanitise(c.rcpt[0].reply, "4.7.1 later");
		assert_int_equal(spool_update(sp, &fd, &c, err, sizeof err), 0);
		/* The old inode stays open and whole after the update. */
		c.rcpt[0].state = SPOOL_FAILED;
		assert_int_equal(spool_write_failed(sp, &c, err, sizeof err), 0);
		got = c.in_file ? file_bytes_at(c.fd, c.off, c.len) : NULL;
		assert_memory_equal(got ? got : c.data, data, sizes[i]);
		free(got);
		spool_msg_drop_data(&c);
		assert_null(c.data);
		assert_false(c.in_file);
		assert_int_equal(spool_msg_borrow(&m, ids[i], "s", 1700000000,
		    "form@example.jp", rcpt, 1, (const char *)data, sizes[i]),
		    0);
		m.attempts = 3;
		m.next_try = 1700000100;
		m.rcpt[0].code = 451;
		spool_sanitise(m.rcpt[0].reply, "4.7.1 later");
		file_is_format(dir, "queue", &m);
		m.rcpt[0].state = SPOOL_FAILED;
		file_is_format(dir, "failed", &m);
		spool_msg_free(&m);
		assert_int_equal(spool_finish(sp, fd, ids[i], err, sizeof err),
		    0);
		spool_msg_free(&c);
		free(data);
	}
	spool_close(sp);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mime_streamed_equals_memory),
		cmocka_unit_test(test_mime_sink_failure),
		cmocka_unit_test(test_dkim_streamed_equals_memory),
		cmocka_unit_test(test_dkim_body_hash_is_canon_body),
		cmocka_unit_test(test_mail_through_a_file),
		cmocka_unit_test(test_spool_keeps_large_messages_in_files),
	};

	return cmocka_run_group_tests(tests, setup_pages, teardown);
}
