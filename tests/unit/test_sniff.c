/*
 * test_sniff — type by content on real minimal files of every accepted
 * type and hostile look-alikes (tests/fixtures/attach, written by
 * tests/tools/make_attach_samples.py); the name cleaner; the RFC 2231
 * writer; the streaming multipart parser fed in every chunking, with a
 * sink.
 */
#include "unit.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "form.h"
#include "mime.h"
#include "sniff.h"
#include "util.h"

struct case_ {
	const char *file;
	int kind;             /* -1: refused */
	const char *why;      /* refused: the reason */
	int ext_agrees;       /* the extension of the name agrees */
};

static const struct case_ cases[] = {
	{ "ok.pdf", SK_PDF, NULL, 1 },
	{ "ok.jpg", SK_JPEG, NULL, 1 },
	{ "ok.png", SK_PNG, NULL, 1 },
	{ "ok.gif", SK_GIF, NULL, 1 },
	{ "ok.webp", SK_WEBP, NULL, 1 },
	{ "ok.heic", SK_HEIC, NULL, 1 },
	{ "ok.txt", SK_TXT, NULL, 1 },
	{ "ok.csv", SK_TXT, NULL, 1 },
	{ "sjis.csv", SK_TXT, NULL, 1 },
	{ "ok.docx", SK_DOCX, NULL, 1 },
	{ "stored.docx", SK_DOCX, NULL, 1 },
	{ "ok.xlsx", SK_XLSX, NULL, 1 },
	{ "ok.pptx", SK_PPTX, NULL, 1 },
	{ "ok.zip", SK_ZIP, NULL, 1 },
	{ "jpg.pdf", SK_JPEG, NULL, 0 },          /* a mismatch */
	{ "macro.docx", -1, "macro", 0 },
	{ "vba.docx", -1, "macro", 0 },
	{ "exe.zip", -1, "executable", 0 },
	{ "html.pdf", -1, "html", 0 },
	{ "pdfhtml.pdf", -1, "polyglot", 0 },
	{ "elf.png", -1, "executable", 0 },
	{ "mz.jpg", -1, "executable", 0 },
	{ "gifar.gif", -1, "polyglot", 0 },
	{ "svg.png", -1, "svg", 0 },
	{ "svg.txt", -1, "svg", 0 },
	{ "script.txt", -1, "script", 0 },
	{ "gz.zip", -1, "archive", 0 },
	{ "nul.txt", -1, "unknown", 0 },
	{ "pdfzip.docx", -1, "polyglot", 0 },
};

static void
test_samples(void **state)
{
	size_t i, n, el;
	struct sniff_result r;

	(void)state;
	for (i = 0; i < ARRAY_LEN(cases); i++) {
		const struct case_ *c = &cases[i];
		unsigned char *b = load_fixture(c->file, &n);
		struct mem m = { b, n };
		const char *ext = sniff_name_ext(c->file, &el);

		assert_int_equal(sniff_file(mem_read, &m, n, &r), 0);
		if (r.kind != c->kind)
			fail_msg("%s: kind %d, want %d (%s)", c->file, r.kind,
			    c->kind, r.why);
		if (c->why && strcmp(r.why, c->why) != 0)
			fail_msg("%s: why %s, want %s", c->file, r.why, c->why);
		if (sniff_agrees(r.kind, sniff_ext_kind(ext, el)) !=
		    c->ext_agrees)
			fail_msg("%s: agreement", c->file);
		free(b);
	}
}

static void
test_text_charset(void **state)
{
	size_t n;
	unsigned char *b = load_fixture("sjis.csv", &n);
	struct mem m = { b, n };
	struct sniff_result r;

	(void)state;
	assert_int_equal(sniff_file(mem_read, &m, n, &r), 0);
	assert_int_equal(r.utf8, 0);
	assert_string_equal(sniff_content_type(SK_CSV, r.utf8), "text/csv");
	free(b);
	b = load_fixture("ok.txt", &n);
	m.p = b;
	m.n = n;
	assert_int_equal(sniff_file(mem_read, &m, n, &r), 0);
	assert_int_equal(r.utf8, 1);
	assert_string_equal(sniff_content_type(SK_TXT, r.utf8),
	    "text/plain; charset=UTF-8");
	free(b);
}

/* A ZIP whose central directory claims more than the file holds. */
static void
test_zip_bounds(void **state)
{
	size_t n;
	unsigned char *b = load_fixture("ok.docx", &n);
	struct mem m = { b, n };
	struct sniff_result r;
	size_t i;

	(void)state;
	for (i = n - 22; i > 0; i--)
		if (memcmp(b + i, "PK\x05\x06", 4) == 0)
			break;
	b[i + 12] = 0xff;	/* directory size */
	b[i + 13] = 0xff;
	assert_int_equal(sniff_file(mem_read, &m, n, &r), 0);
	assert_int_equal(r.kind, -1);
	/* every cut of the file is refused or read, never overread */
	b[i + 12] = b[i + 13] = 0;
	free(b);
	b = load_fixture("ok.docx", &n);
	for (i = 1; i < n; i++) {
		m.p = b;
		m.n = i;
		assert_int_equal(sniff_file(mem_read, &m, i, &r), 0);
	}
	free(b);
}

struct name_case {
	const char *in, *want;
};

static const struct name_case names[] = {
	{ "../../etc/passwd", "passwd" },
	{ "C:\\x\\y.pdf", "y.pdf" },
	{ "/abs/履歴書.pdf", "履歴書.pdf" },
	{ "履歴書（山田太郎）.pdf", "履歴書（山田太郎）.pdf" },
	{ "\xe2\x80\xae" "gpj.exe", "gpj.exe" },            /* RLO */
	{ "a\xe2\x80\x8f" "b\xe2\x81\xa6" "c.pdf", "abc.pdf" },
	{ "a\tb\r\nc\x7f.pdf", "abc.pdf" },
	{ ".htaccess", "htaccess" },
	{ "..", "file" },
	{ "", "file" },
	{ "trailing.pdf. . ", "trailing.pdf" },
	{ "a\xc2\x85" "b.pdf", "ab.pdf" },                   /* NEL */
};

static void
test_clean_name(void **state)
{
	char out[4 * 100 + 1];
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_LEN(names); i++) {
		sniff_clean_name(names[i].in, strlen(names[i].in), out,
		    sizeof out);
		if (strcmp(out, names[i].want) != 0)
			fail_msg("%s: got %s", names[i].in, out);
	}
}

/* Cut to 100 characters on a character boundary, keeping ".pdf". */
static void
test_clean_name_cut(void **state)
{
	char in[1024], out[4 * 100 + 1];
	size_t i, o = 0, n;
	uint32_t cp = 0;

	(void)state;
	for (i = 0; i < 150; i++)
		o += (size_t)snprintf(in + o, sizeof in - o, "履");
	snprintf(in + o, sizeof in - o, ".pdf");
	n = sniff_clean_name(in, strlen(in), out, sizeof out);
	assert_int_equal(n, strlen(out));
	assert_int_equal(n, 96 * 3 + 4);
	assert_string_equal(out + n - 4, ".pdf");
	for (i = 0; i < n - 4; i += 3)
		assert_memory_equal(out + i, "履", 3);
	(void)cp;
}

static void
test_rfc2231(void **state)
{
	struct buf b;

	(void)state;
	buf_init(&b);
	assert_int_equal(mime_attachment_headers(&b, "application/pdf",
	    "履歴書 \"A\".pdf"), 0);
	assert_string_equal(b.data,
	    "Content-Type: application/pdf; name=\"_ _A_.pdf\"\r\n"
	    "Content-Disposition: attachment;\r\n"
	    " filename*=UTF-8''%E5%B1%A5%E6%AD%B4%E6%9B%B8%20%22A%22.pdf;\r\n"
	    " filename=\"_ _A_.pdf\"\r\n"
	    "Content-Transfer-Encoding: base64\r\n\r\n");
	buf_reset(&b);
	assert_int_equal(mime_attachment_headers(&b, "image/png",
	    "a\r\nBcc: x.png"), -1);
	buf_free(&b);
}

/* --- the streaming parser */

#define FILE_BYTES "%PDF-1.4\r\nx--XyZ is not a delimiter\r\n\r\n--Xy"

static const char body[] =
    "preamble\r\n--XyZ\r\n"
    "Content-Disposition: form-data; name=\"name\"\r\n\r\n"
    "山田\r\n--XyZ\r\n"
    "Content-Disposition: form-data; name=\"resume\"; filename=\"a.pdf\"\r\n"
    "Content-Type: application/pdf\r\n\r\n"
    FILE_BYTES "\r\n--XyZ\r\n"
    "Content-Disposition: form-data; name=\"empty\"; filename=\"\"\r\n\r\n"
    "\r\n--XyZ--\r\nepilogue";

struct sink_state {
	int opened;
};

static int
sink_open(void *arg, const char *name, size_t n)
{
	struct sink_state *s = arg;
	char path[] = "/tmp/fp_test_sniff_XXXXXX";
	int fd;

	(void)name;
	(void)n;
	s->opened++;
	if ((fd = mkstemp(path)) != -1)
		unlink(path);
	return fd;
}

static int
sink_write(void *arg, int fd, const char *p, size_t n)
{
	(void)arg;
	return write(fd, p, n) == (ssize_t)n ? 0 : -1;
}

static void
check_result(const struct form *f, int sink)
{
	char got[128];
	ssize_t r;

	assert_int_equal(f->n, 2);
	assert_string_equal(f->fields[0].name, "name");
	assert_string_equal(f->fields[0].value, "山田");
	assert_string_equal(f->fields[1].filename, "a.pdf");
	assert_int_equal(f->fields[1].size, strlen(FILE_BYTES));
	if (!sink) {
		assert_bytes_equal(f->fields[1].value, f->fields[1].value_len,
		    FILE_BYTES);
		return;
	}
	assert_int_equal(f->fields[1].has_fd, 1);
	r = pread(f->fields[1].fd, got, sizeof got, 0);
	assert_bytes_equal(got, (size_t)r, FILE_BYTES);
}

static void
test_stream_chunkings(void **state)
{
	static const struct form_limits lim = { 10, 64 };
	size_t n = sizeof body - 1, step, i;
	struct form f;

	(void)state;
	assert_int_equal(form_parse_multipart(body, n, "XyZ", &lim, &f),
	    FORM_OK);
	check_result(&f, 0);
	form_free(&f);
	for (step = 1; step <= n; step++) {
		struct sink_state ss = { 0 };
		struct form_sink sink = { sink_open, sink_write, &ss };
		struct form_stream *st = form_stream_new("XyZ", &lim, 0,
		    step % 2 ? &sink : NULL);
		assert_non_null(st);
		for (i = 0; i < n; i += step)
			assert_int_equal(form_stream_feed(st, body + i,
			    n - i < step ? n - i : step), FORM_OK);
		assert_int_equal(form_stream_finish(st, &f), FORM_OK);
		form_stream_free(st);
		check_result(&f, step % 2);
		assert_int_equal(ss.opened, step % 2);
		form_free(&f);
	}
}

/* Cut anywhere before the close delimiter: an error, every fd closed. */
static void
test_stream_cut(void **state)
{
	static const struct form_limits lim = { 10, 64 };
	size_t n = sizeof body - 1 - strlen("--\r\nepilogue"), i;
	struct form f;

	(void)state;
	for (i = 0; i < n; i++) {
		struct sink_state ss = { 0 };
		struct form_sink sink = { sink_open, sink_write, &ss };
		struct form_stream *st = form_stream_new("XyZ", &lim, 0,
		    &sink);
		enum form_err e = form_stream_feed(st, body, i);
		if (e == FORM_OK)
			e = form_stream_finish(st, &f);
		assert_int_not_equal(e, FORM_OK);
		form_stream_free(st);
	}
}

/* Text values over max_text: FORM_E_TOO_LARGE; files do not count. */
static void
test_stream_text_cap(void **state)
{
	static const struct form_limits lim = { 10, 64 };
	struct sink_state ss = { 0 };
	struct form_sink sink = { sink_open, sink_write, &ss };
	struct form_stream *st;
	struct form f;

	(void)state;
	st = form_stream_new("XyZ", &lim, 6, &sink);
	assert_int_equal(form_stream_feed(st, body, sizeof body - 1), FORM_OK);
	assert_int_equal(form_stream_finish(st, &f), FORM_OK);
	form_free(&f);
	form_stream_free(st);
	st = form_stream_new("XyZ", &lim, 5, &sink);
	assert_int_equal(form_stream_feed(st, body, sizeof body - 1),
	    FORM_E_TOO_LARGE);
	form_stream_free(st);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_samples),
		cmocka_unit_test(test_text_charset),
		cmocka_unit_test(test_zip_bounds),
		cmocka_unit_test(test_clean_name),
		cmocka_unit_test(test_clean_name_cut),
		cmocka_unit_test(test_rfc2231),
		cmocka_unit_test(test_stream_chunkings),
		cmocka_unit_test(test_stream_cut),
		cmocka_unit_test(test_stream_text_cap),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
