/* The pure parts of the pipelined path (src/smtppipe.h): replies split
 * from a byte stream, EHLO capabilities, dot-stuffing as libcurl does it
 * (RFC 5321 §4.5.2). */
#include "unit.h"

#include "smtppipe.h"

/* Feeds s in pieces of `step` bytes; the codes of the replies into
 * codes (at most max), their count returned, -1 on a bad line.  The
 * last reply's line goes to last. */
static int
read_all(const char *s, size_t step, int *codes, int max, char *last,
    size_t lastlen)
{
	struct pipe_reader r;
	struct pipe_reply rp;
	size_t n = strlen(s), off = 0, used, k;
	int got = 0, rc;

	pipe_reader_init(&r);
	while (off < n) {
		k = n - off < step ? n - off : step;
		while (k > 0) {
			rc = pipe_read(&r, s + off, k, &used, &rp);
			if (rc == -1)
				return -1;
			off += used;
			k -= used;
			if (rc == 1 && got < max) {
				codes[got++] = rp.code;
				snprintf(last, lastlen, "%.*s", (int)rp.len,
				    rp.line);
			}
		}
	}
	return got;
}

static void
test_replies(void **state)
{
	static const char in[] = "250 2.1.0 ok\r\n"
	    "550-5.1.1 no such user\r\n550-more text\r\n550 5.1.1 gone\r\n"
	    "354 go ahead\r\n250\r\n451 4.3.0 later\n";
	int codes[8], want[] = { 250, 550, 354, 250, 451 };
	char last[LIM_SMTP_LINE + 1];
	size_t step;

	(void)state;
	/* The same replies whatever the stream's pieces are. */
	for (step = 1; step <= sizeof in; step++) {
		assert_int_equal(read_all(in, step, codes, 8, last,
		    sizeof last), 5);
		assert_memory_equal(codes, want, sizeof want);
		assert_string_equal(last, "451 4.3.0 later");
	}
	/* A multi-line reply ends with its last line, which is kept. */
	assert_int_equal(read_all("250-a\r\n250-b\r\n250 c\r\n", 3, codes, 8,
	    last, sizeof last), 1);
	assert_string_equal(last, "250 c");
	/* A reply of LIM_SMTP_REPLY_LINES lines is read, one more line is
	 * a server that never ends its reply. */
	{
		char *many = malloc(16 * (LIM_SMTP_REPLY_LINES + 2));
		size_t k, o = 0;
		assert_non_null(many);
		for (k = 1; k < LIM_SMTP_REPLY_LINES; k++)
			o += (size_t)sprintf(many + o, "250-x\r\n");
		strcpy(many + o, "250 end\r\n");
		assert_int_equal(read_all(many, 7, codes, 8, last,
		    sizeof last), 1);
		strcpy(many + o, "250-x\r\n250 end\r\n");
		assert_int_equal(read_all(many, 7, codes, 8, last,
		    sizeof last), -1);
		free(many);
	}
	/* Half a reply is no reply yet. */
	assert_int_equal(read_all("250-a\r\n250 b", 64, codes, 8, last,
	    sizeof last), 0);
}

static void
test_bad_replies(void **state)
{
	static const char *bad[] = {
		"hello\r\n", "25\r\n", "2x0 ok\r\n", "150 early\r\n",
		"650 six\r\n", "250x ok\r\n", "250-a\r\n550 other code\r\n",
		"\r\n", "250\tok\r\n",
	};
	int codes[4];
	char last[64];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof bad / sizeof *bad; i++)
		assert_int_equal(read_all(bad[i], 64, codes, 4, last,
		    sizeof last), -1);
}

static void
test_long_line(void **state)
{
	struct pipe_reader r;
	struct pipe_reply rp;
	char *s = malloc(100000);
	size_t used, off = 0, n;
	int rc = 0;

	(void)state;
	assert_non_null(s);
	memcpy(s, "554 ", 4);
	memset(s + 4, 'x', 99990);
	memcpy(s + 99994, "\r\n", 2);
	n = 99996;
	pipe_reader_init(&r);
	while (off < n && (rc = pipe_read(&r, s + off, n - off, &used,
	    &rp)) == 0)
		off += used;
	/* Cut to the line buffer, the rest skipped, the code kept. */
	assert_int_equal(rc, 1);
	assert_int_equal(rp.code, 554);
	assert_int_equal(rp.len, LIM_SMTP_LINE);
	free(s);
}

static void
test_enhanced(void **state)
{
	char e[16];

	(void)state;
	pipe_enhanced("550 5.7.1 relay denied", 22, e, sizeof e);
	assert_string_equal(e, "5.7.1");
	pipe_enhanced("250 ok", 6, e, sizeof e);
	assert_string_equal(e, "");
	pipe_enhanced("451 4.3.0", 9, e, sizeof e);
	assert_string_equal(e, "4.3.0");
	pipe_enhanced("550 5.1.11111111111111111111", 28, e, sizeof e);
	assert_int_equal(strlen(e), sizeof e - 1);
}

static void
feed_caps(struct smtp_caps *c, const char *const *lines)
{
	for (; *lines; lines++)
		caps_line(c, *lines, strlen(*lines));
}

static void
test_caps(void **state)
{
	static const char *const ehlo[] = { "250-relay.example",
	    "250-PIPELINING", "250-SIZE 35882577", "250-8BITMIME",
	    "250-STARTTLS", "250-smtputf8", "250 HELP", NULL };
	static const char *const again[] = { "220 ready for TLS",
	    "250-relay.example", "250-AUTH PLAIN LOGIN", "250 SIZE", NULL };
	static const char *const odd[] = { "250-x", "250-PIPELININGX",
	    "250-SIZE 12abc", "250-X-PIPELINING", "250 SMTPUTF8 extra",
	    NULL };
	static const char *const helo[] = { "250 relay.example", NULL };
	struct smtp_caps c;

	(void)state;
	memset(&c, 0, sizeof c);
	feed_caps(&c, ehlo);
	assert_true(c.pipelining && c.smtputf8 && c.eightbitmime);
	assert_true(c.size_offered);
	assert_int_equal(c.size, 35882577);
	/* A new EHLO reply (after STARTTLS) replaces the set. */
	feed_caps(&c, again);
	assert_false(c.pipelining || c.smtputf8 || c.eightbitmime);
	assert_true(c.size_offered);
	assert_int_equal(c.size, 0);
	memset(&c, 0, sizeof c);
	feed_caps(&c, odd);
	assert_false(c.pipelining);
	assert_true(c.size_offered);
	assert_int_equal(c.size, 0);
	assert_true(c.smtputf8);
	/* SIZE as libcurl 7.88 reads it (it decides SIZE= on MAIL):
	 * capitals only. */
	memset(&c, 0, sizeof c);
	caps_line(&c, "250-x", 5);
	caps_line(&c, "250 size 1000", 13);
	assert_false(c.size_offered);
	/* The server's name is not a keyword, nor is a one-line reply. */
	memset(&c, 0, sizeof c);
	caps_line(&c, "250-PIPELINING", 14);
	assert_false(c.pipelining);
	memset(&c, 0, sizeof c);
	feed_caps(&c, helo);
	assert_false(c.pipelining || c.size_offered);
}

/* The stuffed form of in, fed in pieces of step, with its end. */
static void
stuffed(const char *in, size_t step, char *out)
{
	struct dotstuff d;
	size_t n = strlen(in), off, o = 0, k;

	dot_init(&d);
	for (off = 0; off < n; off += k) {
		k = n - off < step ? n - off : step;
		o += dot_stuff(&d, in + off, k, out + o);
	}
	strcpy(out + o, dot_end(&d));
}

/* The definition, a byte at a time: what dot_stuff must equal. */
static size_t
ref_stuff(int *crlf, const char *in, size_t n, char *out)
{
	size_t i, o = 0;

	for (i = 0; i < n; i++) {
		char ch = in[i];
		if (ch == '.' && *crlf == 2)
			out[o++] = '.';
		out[o++] = ch;
		*crlf = ch == '\r' ? 1 : ch == '\n' && *crlf == 1 ? 2 : 0;
	}
	return o;
}

/* Random bodies of '.', CR, LF and 'a', cut at random places: the
 * run-at-a-time copy gives the same bytes and the same end. */
static void
test_dots_random(void **state)
{
	static const char alpha[] = ".\r\na";
	char in[64], out[128], ref[128];
	unsigned seed = 12345;
	int round;

	(void)state;
	for (round = 0; round < 20000; round++) {
		struct dotstuff d;
		int rcrlf = 2;
		size_t n, i, off, k, o = 0, r = 0;

		seed = seed * 1103515245u + 12345u;
		n = (seed >> 16) % sizeof in;
		for (i = 0; i < n; i++) {
			seed = seed * 1103515245u + 12345u;
			in[i] = alpha[(seed >> 16) % 4];
		}
		dot_init(&d);
		for (off = 0; off < n; off += k) {
			seed = seed * 1103515245u + 12345u;
			k = 1 + (seed >> 16) % 9;
			if (k > n - off)
				k = n - off;
			o += dot_stuff(&d, in + off, k, out + o);
		}
		r = ref_stuff(&rcrlf, in, n, ref);
		assert_int_equal(o, r);
		assert_memory_equal(out, ref, o);
		assert_int_equal(d.crlf, rcrlf);
	}
}

static void
test_dots(void **state)
{
	/* What libcurl 7.88 puts on the wire for each body (captured from
	 * it once): the path must not change a byte (DKIM). */
	static const char *const cases[][2] = {
		{ "", ".\r\n" },
		{ ".", "..\r\n.\r\n" },
		{ ".x\r\n", "..x\r\n.\r\n" },
		{ "a\r\n.\r\nb\r\n", "a\r\n..\r\nb\r\n.\r\n" },
		{ "a\r\n", "a\r\n.\r\n" },
		{ "a", "a\r\n.\r\n" },
		{ "a\r", "a\r\r\n.\r\n" },
		{ "a\n", "a\n\r\n.\r\n" },
		{ ".\r\n", "..\r\n.\r\n" },
		{ "\r\n.\r\n", "\r\n..\r\n.\r\n" },
		{ "\r\r\n.a\n.b\r\n..c", "\r\r\n..a\n.b\r\n...c\r\n.\r\n" },
	};
	char out[128];
	size_t i, step;

	(void)state;
	for (i = 0; i < sizeof cases / sizeof *cases; i++)
		for (step = 1; step <= 16; step++) {
			stuffed(cases[i][0], step, out);
			assert_string_equal(out, cases[i][1]);
		}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_replies),
		cmocka_unit_test(test_bad_replies),
		cmocka_unit_test(test_long_line),
		cmocka_unit_test(test_enhanced),
		cmocka_unit_test(test_caps),
		cmocka_unit_test(test_dots),
		cmocka_unit_test(test_dots_random),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
