/* The intake's walk over a FastCGI head: good heads from nginx's and
 * Apache's shapes, fed whole and byte by byte; every malformed one of
 * FastCGI 1.0 §3.3/§3.4 that libfcgi would trust refused. */
#include "unit.h"

#include <stdio.h>
#include <stdlib.h>

#include "fcgiscan.h"
#include "limits.h"

struct buf {
	unsigned char b[LIM_FCGI_INTAKE_PEEK * 2];
	size_t n;
};

static void
rec(struct buf *w, int type, unsigned id, const void *c, size_t n, int pad)
{
	unsigned char h[8] = { 1, (unsigned char)type, (unsigned char)(id >> 8),
	    (unsigned char)id, (unsigned char)(n >> 8), (unsigned char)n,
	    (unsigned char)pad, 0 };

	memcpy(w->b + w->n, h, 8);
	memcpy(w->b + w->n + 8, c, n);
	memset(w->b + w->n + 8 + n, 0, (size_t)pad);
	w->n += 8 + n + (size_t)pad;
}

static void
begin(struct buf *w, unsigned id)
{
	static const unsigned char body[8] = { 0, 1 };

	rec(w, 1, id, body, 8, 0);
}

/* One pair, lengths in the short or long form. */
static size_t
pair(unsigned char *o, uint32_t nl, uint32_t vl, int longform)
{
	size_t k = 0;
	uint32_t l[2] = { nl, vl };
	int i;

	for (i = 0; i < 2; i++)
		if (longform || l[i] > 127) {
			o[k++] = (unsigned char)(l[i] >> 24 | 0x80);
			o[k++] = (unsigned char)(l[i] >> 16);
			o[k++] = (unsigned char)(l[i] >> 8);
			o[k++] = (unsigned char)l[i];
		} else
			o[k++] = (unsigned char)l[i];
	memset(o + k, 'x', nl + vl < 4096 ? nl + vl : 0);
	return k + (nl + vl < 4096 ? nl + vl : 0);
}

static enum fcgi_scan_rc
scan_all(const struct buf *w)
{
	struct fcgi_scan s;

	memset(&s, 0, sizeof s);
	return fcgi_scan(&s, w->b, w->n);
}

/* Fed one more byte at a time, the walk ends as when fed at once. */
static enum fcgi_scan_rc
scan_bytewise(const struct buf *w)
{
	struct fcgi_scan s;
	enum fcgi_scan_rc rc = FCGI_SCAN_MORE;
	size_t i;

	memset(&s, 0, sizeof s);
	for (i = 0; i <= w->n; i++) {
		rc = fcgi_scan(&s, w->b, i);
		if (rc == FCGI_SCAN_FRAMING || rc == FCGI_SCAN_PARAMS)
			break;
	}
	return rc;
}

static void
good_head(struct buf *w, int split, int pad)
{
	unsigned char c[4096];
	size_t n = 0;

	w->n = 0;
	begin(w, 1);
	n += pair(c + n, 14, 4, 0);
	n += pair(c + n, 11, 300, 0);
	n += pair(c + n, 3, 2, 1);
	if (split) {
		rec(w, 4, 1, c, 5, pad);
		rec(w, 4, 1, c + 5, n - 5, pad);
	} else
		rec(w, 4, 1, c, n, pad);
	rec(w, 4, 1, "", 0, pad);
}

static void
test_good(void **state)
{
	static struct buf w;
	struct fcgi_scan s;
	size_t head;
	int split, pad;

	(void)state;
	for (split = 0; split < 2; split++)
		for (pad = 0; pad < 8; pad += 7) {
			good_head(&w, split, pad);
			head = w.n;
			assert_int_equal(scan_all(&w), FCGI_SCAN_HEAD);
			rec(&w, 5, 1, "a=1", 3, pad);
			assert_int_equal(scan_all(&w), FCGI_SCAN_HEAD);
			rec(&w, 2, 1, "", 0, 0);      /* ABORT_REQUEST */
			rec(&w, 5, 1, "", 0, pad);
			assert_int_equal(scan_all(&w), FCGI_SCAN_READY);
			assert_int_equal(scan_bytewise(&w), FCGI_SCAN_READY);
			memset(&s, 0, sizeof s);
			assert_int_equal(fcgi_scan(&s, w.b, w.n), FCGI_SCAN_READY);
			assert_int_equal(s.head_len, head);
			assert_int_equal(s.id, 1);
			assert_int_equal(s.nparams, 3);
			w.n = head - pad - 4;         /* the end of params cut */
			memset(&s, 0, sizeof s);
			assert_int_equal(fcgi_scan(&s, w.b, w.n), FCGI_SCAN_MORE);
			assert_int_equal(s.want, head - pad);
			/* A record whose content is not all in: wanted whole. */
			w.n = 16 + 8 + 2;
			memset(&s, 0, sizeof s);
			assert_int_equal(fcgi_scan(&s, w.b, w.n), FCGI_SCAN_MORE);
			assert_int_equal(s.want, 16 + 8 + (split ? 5u :
			    (size_t)w.b[20] << 8 | w.b[21]));
		}
}

static void
test_bad_pairs(void **state)
{
	static struct buf w;
	unsigned char c[70000];
	size_t n, i;
	static const uint32_t lens[][2] = {
		{ 0x7fffffff, 0x7fffffff }, { 0x7ffffff0, 0x20 },
		{ LIM_FCGI_PARAMS_BYTES + 1, 0 }, { 1, LIM_FCGI_PARAMS_BYTES },
		{ 100, 100 },                 /* past the end of the stream */
	};

	(void)state;
	for (i = 0; i < sizeof lens / sizeof lens[0]; i++) {
		w.n = 0;
		begin(&w, 1);
		n = pair(c, lens[i][0], lens[i][1], 1);
		rec(&w, 4, 1, c, n > 60 ? 60 : n, 0);
		rec(&w, 4, 1, "", 0, 0);
		rec(&w, 5, 1, "", 0, 0);
		assert_int_equal(scan_all(&w), FCGI_SCAN_PARAMS);
		assert_int_equal(scan_bytewise(&w), FCGI_SCAN_PARAMS);
	}
	/* A length cut by the end of the stream. */
	w.n = 0;
	begin(&w, 1);
	rec(&w, 4, 1, "\x85\x00", 2, 0);
	rec(&w, 4, 1, "", 0, 0);
	assert_int_equal(scan_all(&w), FCGI_SCAN_PARAMS);
	/* LIM_FCGI_PARAMS + 1 empty pairs. */
	w.n = 0;
	begin(&w, 1);
	memset(c, 0, 2 * (LIM_FCGI_PARAMS + 1));
	rec(&w, 4, 1, c, 2 * (LIM_FCGI_PARAMS + 1), 0);
	rec(&w, 4, 1, "", 0, 0);
	assert_int_equal(scan_all(&w), FCGI_SCAN_PARAMS);
	w.n = 0;
	begin(&w, 1);
	rec(&w, 4, 1, c, 2 * LIM_FCGI_PARAMS, 0);
	rec(&w, 4, 1, "", 0, 0);
	assert_int_equal(scan_all(&w), FCGI_SCAN_HEAD);
}

static void
test_record_flood(void **state)
{
	static struct buf w;
	int i;

	(void)state;
	w.n = 0;
	begin(&w, 1);
	for (i = 0; i < LIM_FCGI_HEAD_RECORDS; i++)
		rec(&w, 4, 1, "\x00", 1, 0);
	rec(&w, 4, 1, "", 0, 0);
	assert_int_equal(scan_all(&w), FCGI_SCAN_PARAMS);
	w.n = 0;
	begin(&w, 1);
	for (i = 0; i < LIM_FCGI_HEAD_RECORDS - 3; i++)
		rec(&w, 2, 1, "", 0, 0);
	rec(&w, 4, 1, "", 0, 0);
	assert_int_equal(scan_all(&w), FCGI_SCAN_HEAD);
}

static void
test_framing(void **state)
{
	static struct buf w;
	static const unsigned char gv[] = { 14, 0, 'F', 'C', 'G', 'I', '_',
	    'M', 'A', 'X', '_', 'C', 'O', 'N', 'N', 'S' };

	(void)state;
	/* A management record first, or inside the head. */
	w.n = 0;
	rec(&w, 9, 0, gv, sizeof gv, 0);
	assert_int_equal(scan_all(&w), FCGI_SCAN_FRAMING);
	good_head(&w, 0, 0);
	w.n -= 8;
	rec(&w, 9, 0, gv, sizeof gv, 0);
	assert_int_equal(scan_all(&w), FCGI_SCAN_FRAMING);
	/* After the head, within sight. */
	good_head(&w, 0, 0);
	rec(&w, 9, 0, gv, sizeof gv, 0);
	assert_int_equal(scan_all(&w), FCGI_SCAN_FRAMING);
	/* Params first; another request id; a second BEGIN; version 2;
	 * STDIN before the params ended; PARAMS after. */
	w.n = 0;
	rec(&w, 4, 1, "", 0, 0);
	assert_int_equal(scan_all(&w), FCGI_SCAN_FRAMING);
	good_head(&w, 0, 0);
	w.n -= 8;
	rec(&w, 4, 2, "", 0, 0);
	assert_int_equal(scan_all(&w), FCGI_SCAN_FRAMING);
	w.n = 0;
	begin(&w, 1);
	begin(&w, 1);
	assert_int_equal(scan_all(&w), FCGI_SCAN_FRAMING);
	good_head(&w, 0, 0);
	w.b[0] = 2;
	assert_int_equal(scan_all(&w), FCGI_SCAN_FRAMING);
	w.n = 0;
	begin(&w, 1);
	rec(&w, 5, 1, "a", 1, 0);
	assert_int_equal(scan_all(&w), FCGI_SCAN_FRAMING);
	good_head(&w, 0, 0);
	rec(&w, 4, 1, "", 0, 0);
	assert_int_equal(scan_all(&w), FCGI_SCAN_FRAMING);
	/* BEGIN_REQUEST of another size. */
	w.n = 0;
	rec(&w, 1, 1, "\0\1\0", 3, 0);
	assert_int_equal(scan_all(&w), FCGI_SCAN_FRAMING);
}

/* A name-value pair with real bytes (short lengths). */
static size_t
named(unsigned char *o, const char *name, const char *value)
{
	size_t nl = strlen(name), vl = strlen(value);

	o[0] = (unsigned char)nl;
	o[1] = (unsigned char)vl;
	memcpy(o + 2, name, nl);
	memcpy(o + 2 + nl, value, vl);
	return 2 + nl + vl;
}

/* fcgi_pick on accepted heads: a pair cut across records, a repeated
 * name (the first counts), an empty value, a name not sent, padding,
 * the role; an ABORT_REQUEST in the head. */
static void
test_pick(void **state)
{
	static const char *const names[] = { "A", "REQUEST_METHOD", "B", "C" };
	static struct buf w;
	unsigned char c[256];
	const char *v[4];
	char work[FCGI_PICK_WORK(512, 4)];
	struct fcgi_scan s;
	size_t n = 0, head;
	int pad;

	(void)state;
	for (pad = 0; pad < 8; pad += 5) {
		w.n = n = 0;
		begin(&w, 7);
		n += named(c + n, "REQUEST_METHOD", "POST");
		n += named(c + n, "A", "1");
		n += named(c + n, "A", "2");
		n += named(c + n, "B", "");
		rec(&w, 4, 7, c, 3, pad);
		rec(&w, 4, 7, c + 3, n - 3, pad);
		rec(&w, 4, 7, "", 0, pad);
		head = w.n;
		rec(&w, 5, 7, "", 0, 0);
		memset(&s, 0, sizeof s);
		assert_int_equal(fcgi_scan(&s, w.b, w.n), FCGI_SCAN_READY);
		assert_int_equal(s.head_len, head);
		assert_true(FCGI_PICK_WORK(head, 4) <= sizeof work);
		assert_int_equal(fcgi_pick(w.b, head, names, 4, work, v), 1);
		assert_string_equal(v[0], "1");
		assert_string_equal(v[1], "POST");
		assert_string_equal(v[2], "");
		assert_null(v[3]);
	}
	/* FCGI_AUTHORIZER, and an ABORT_REQUEST among the params. */
	w.n = 0;
	rec(&w, 1, 1, (const unsigned char[8]){ 0, 2 }, 8, 0);
	n = named(c, "A", "1");
	rec(&w, 4, 1, c, n, 0);
	rec(&w, 4, 1, "", 0, 0);
	assert_int_equal(fcgi_pick(w.b, w.n, names, 4, work, v), 2);
	w.n -= 8;
	rec(&w, 2, 1, "", 0, 0);
	rec(&w, 4, 1, "", 0, 0);
	memset(&s, 0, sizeof s);
	assert_int_equal(fcgi_scan(&s, w.b, w.n), FCGI_SCAN_HEAD);
	assert_int_equal(fcgi_pick(w.b, s.head_len, names, 4, work, v), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good),
		cmocka_unit_test(test_bad_pairs),
		cmocka_unit_test(test_record_flood),
		cmocka_unit_test(test_framing),
		cmocka_unit_test(test_pick),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
