/* The review step's held uploads: references (round trip, every byte
 * bound, site, age, label rules, hostile shapes), names, and hold/ on
 * disk (put, open, drop, sweep by age, counts). */
#include "unit.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "crypto.h"
#include "hold.h"
#include "sniff.h"

static const unsigned char key[HOLD_KEY_LEN] =
    "0123456789abcdef0123456789abcde";
#define T0 1700000000000ULL     /* ms */

static void
sample(struct hold_file *h, const char *label)
{
	memset(h, 0, sizeof *h);
	memcpy(h->name, "00112233445566778899aabbccddeeff", HOLD_NAME_LEN + 1);
	h->issued_ms = T0;
	h->size = 12345;
	memset(h->digest, 0xab, sizeof h->digest);
	h->ctype = sniff_content_type(SK_PDF, 0);
	snprintf(h->label, sizeof h->label, "%s", label);
}

static int
mk(const struct hold_file *h, char *ref, size_t n)
{
	return hold_ref_make(key, "jobs", "cv", h, ref, n);
}

static enum hold_rc
parse(const char *ref, const char *site, uint64_t now, struct hold_file *out)
{
	return hold_ref_parse(key, site, "cv", ref, strlen(ref), now, 7200, out);
}

static void
test_round_trip(void **state)
{
	struct hold_file h, got;
	char ref[HOLD_REF_MAX + 1];

	(void)state;
	sample(&h, "履歴書（山田）.pdf");
	assert_int_equal(mk(&h, ref, sizeof ref), 0);
	assert_int_equal(strspn(ref, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijkl"
	    "mnopqrstuvwxyz0123456789-_"), HOLD_B64_LEN);
	assert_string_equal(ref + HOLD_B64_LEN, ".履歴書（山田）.pdf");
	assert_int_equal(parse(ref, "jobs", T0 + 1000, &got), HOLD_OK);
	assert_string_equal(got.name, h.name);
	assert_int_equal(got.size, 12345);
	assert_int_equal(got.issued_ms, T0);
	assert_memory_equal(got.digest, h.digest, 32);
	assert_string_equal(got.ctype, "application/pdf");
	assert_string_equal(got.label, h.label);
	/* The text types keep their charset flag. */
	h.ctype = sniff_content_type(SK_CSV, 1);
	snprintf(h.label, sizeof h.label, "a.csv");
	assert_int_equal(mk(&h, ref, sizeof ref), 0);
	assert_int_equal(parse(ref, "jobs", T0, &got), HOLD_OK);
	assert_string_equal(got.ctype, "text/csv; charset=UTF-8");
	assert_string_equal(hold_reason(HOLD_INVALID), "hold_invalid");
	assert_string_equal(hold_reason(HOLD_EXPIRED), "hold_expired");
}

static void
test_age_and_site(void **state)
{
	struct hold_file h, got;
	char ref[HOLD_REF_MAX + 1];

	(void)state;
	sample(&h, "a.pdf");
	assert_int_equal(mk(&h, ref, sizeof ref), 0);
	assert_int_equal(parse(ref, "jobs", T0 + 7200000, &got), HOLD_OK);
	assert_int_equal(parse(ref, "jobs", T0 + 7200001, &got),
	    HOLD_EXPIRED);
	assert_int_equal(parse(ref, "jobs", T0 - 1, &got), HOLD_EXPIRED);
	assert_int_equal(parse(ref, "jobs2", T0, &got), HOLD_INVALID);
	assert_int_equal(parse(ref, "job", T0, &got), HOLD_INVALID);
	/* Good for its field only. */
	assert_int_equal(hold_ref_parse(key, "jobs", "photo", ref, strlen(ref),
	    T0, 7200, &got), HOLD_INVALID);
}

/* Every bit of the encoded part and every byte of the label is bound. */
static void
test_every_byte_bound(void **state)
{
	struct hold_file h, got;
	char ref[HOLD_REF_MAX + 1], bad[HOLD_REF_MAX + 1];
	unsigned char raw[HOLD_RAW_LEN];
	size_t i, n;
	int bit;

	(void)state;
	sample(&h, "cv.pdf");
	assert_int_equal(mk(&h, ref, sizeof ref), 0);
	n = strlen(ref);
	for (i = 0; i < HOLD_RAW_LEN; i++)
		for (bit = 0; bit < 8; bit++) {
			assert_int_equal(crypto_b64url_decode(ref, HOLD_B64_LEN,
			    raw), 0);
			raw[i] ^= (unsigned char)(1 << bit);
			crypto_b64url(raw, HOLD_RAW_LEN, bad);
			memcpy(bad + HOLD_B64_LEN, ref + HOLD_B64_LEN,
			    n - HOLD_B64_LEN + 1);
			assert_int_not_equal(parse(bad, "jobs", T0, &got),
			    HOLD_OK);
		}
	for (i = HOLD_B64_LEN + 1; i < n; i++) {
		memcpy(bad, ref, n + 1);
		bad[i] = bad[i] == 'x' ? 'y' : 'x';
		assert_int_equal(parse(bad, "jobs", T0, &got), HOLD_INVALID);
	}
}

static void
test_hostile_shapes(void **state)
{
	struct hold_file h, got;
	char ref[HOLD_REF_MAX + 1], bad[HOLD_REF_MAX + 700];
	static const char *const labels[] = { "../x.pdf", "a/b.pdf",
	    "a\\b.pdf", ".x.pdf", "a\x01.pdf", "a\xe2\x80\xae.pdf", "\xff.pdf",
	    "" };
	size_t i, n;

	(void)state;
	sample(&h, "cv.pdf");
	assert_int_equal(mk(&h, ref, sizeof ref), 0);
	n = strlen(ref);
	/* Too short, too long, no dot, a NUL, characters outside base64url. */
	for (i = 0; i <= HOLD_B64_LEN + 1; i++)
		assert_int_equal(hold_ref_parse(key, "jobs", "cv", ref, i, T0,
		    7200, &got), HOLD_INVALID);
	memcpy(bad, ref, n);
	memset(bad + n, 'a', 600);
	assert_int_equal(hold_ref_parse(key, "jobs", "cv", bad, n + 600, T0,
	    7200, &got), HOLD_INVALID);
	memcpy(bad, ref, n + 1);
	bad[HOLD_B64_LEN] = '/';
	assert_int_equal(parse(bad, "jobs", T0, &got), HOLD_INVALID);
	memcpy(bad, ref, n + 1);
	bad[3] = '.';
	assert_int_equal(parse(bad, "jobs", T0, &got), HOLD_INVALID);
	memcpy(bad, ref, n + 1);
	bad[n - 2] = '\0';
	assert_int_equal(hold_ref_parse(key, "jobs", "cv", bad, n, T0, 7200,
	    &got), HOLD_INVALID);
	assert_int_equal(parse("../../token.key", "jobs", T0, &got),
	    HOLD_INVALID);
	/* A label that is not already clean is never made nor accepted,
	 * even with a MAC over it. */
	for (i = 0; i < sizeof labels / sizeof labels[0]; i++) {
		sample(&h, labels[i]);
		assert_int_equal(mk(&h, ref, sizeof ref), -1);
	}
	/* Names: 32 lowercase hex only; types: sniff's only. */
	sample(&h, "cv.pdf");
	memcpy(h.name, "../../../../../../../../etc/pass", HOLD_NAME_LEN);
	assert_int_equal(mk(&h, ref, sizeof ref), -1);
	sample(&h, "cv.pdf");
	h.ctype = "text/html";
	assert_int_equal(mk(&h, ref, sizeof ref), -1);
	sample(&h, "cv.pdf");
	assert_int_equal(mk(&h, ref, 20), -1);
}

static void
test_names(void **state)
{
	char a[HOLD_NAME_LEN + 1], b[HOLD_NAME_LEN + 1];

	(void)state;
	assert_int_equal(hold_new_name("example", a), 0);
	assert_int_equal(hold_new_name("example", b), 0);
	assert_true(hold_name_valid(a) && hold_name_valid(b));
	assert_string_not_equal(a, b);
	/* The same tag for a site, another for another site; the rest
	 * random. */
	assert_memory_equal(a, b, HOLD_TAG_LEN);
	assert_memory_not_equal(a + HOLD_TAG_LEN, b + HOLD_TAG_LEN,
	    HOLD_NAME_LEN - HOLD_TAG_LEN);
	assert_int_equal(hold_new_name("shop", b), 0);
	assert_true(hold_name_valid(b));
	assert_memory_not_equal(a, b, HOLD_TAG_LEN);
	{
		char longer[LIM_NAME_BYTES + 2];

		memset(longer, 'x', sizeof longer - 1);
		longer[sizeof longer - 1] = '\0';
		assert_int_equal(hold_new_name(longer, b), -1);
	}
	assert_false(hold_name_valid("00112233445566778899AABBCCDDEEFF"));
	assert_false(hold_name_valid("00112233445566778899aabbccddeef"));
	assert_false(hold_name_valid("00112233445566778899aabbccddeeff0"));
	assert_false(hold_name_valid("../12233445566778899aabbccddeeff"));
	assert_false(hold_name_valid(""));
}

/* Makes the directory dir (a mkdtemp template) with an empty hold/, and
 * returns an unnamed file in it holding text, like an upload's
 * (O_TMPFILE: hold_put links it). */
static int
spool_with_upload(char *dir, const char *text)
{
	char path[256];
	int fd;

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof path, "%s/hold", dir);
	assert_int_equal(mkdir(path, 0700), 0);
	fd = open(dir, O_TMPFILE | O_RDWR, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	return fd;
}

/* hold/ on disk: put (link or copy), open, drop, sweep by age. */
static void
test_dir(void **state)
{
	char dir[] = "/tmp/test_hold.XXXXXX", path[256], name[HOLD_NAME_LEN + 1];
	char err[256], buf[16];
	struct hold_use u;
	struct stat st;
	int fd, h;

	(void)state;
	fd = spool_with_upload(dir, "hello");
	assert_int_equal(hold_new_name("example", name), 0);
	assert_int_equal(hold_put(dir, fd, 5, name), 0);
	close(fd);
	snprintf(path, sizeof path, "%s/hold/%s", dir, name);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(st.st_size, 5);
	/* An unlinked ordinary file (no O_TMPFILE): copied. */
	snprintf(path, sizeof path, "%s/x", dir);
	fd = open(path, O_CREAT | O_RDWR | O_EXCL, 0600);
	assert_int_equal(write(fd, "world!", 6), 6);
	unlink(path);
	assert_int_equal(hold_put(dir, fd, 6, "ffffffffffffffffffffffffffffffff"),
	    0);
	/* The same name again is refused, never overwritten. */
	assert_int_equal(hold_put(dir, fd, 6, name), -1);
	assert_int_equal(hold_put(dir, fd, 6, "../x"), -1);
	close(fd);
	h = hold_open(dir, "ffffffffffffffffffffffffffffffff");
	assert_true(h >= 0);
	assert_int_equal(read(h, buf, sizeof buf), 6);
	assert_memory_equal(buf, "world!", 6);
	close(h);
	assert_int_equal(hold_open(dir, "../hold/ffffffffffffffffffffffffffff"),
	    -1);
	/* A symlink in hold/ is never followed. */
	snprintf(path, sizeof path, "%s/hold/%s", dir,
	    "eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee");
	assert_int_equal(symlink("/etc/passwd", path), 0);
	assert_int_equal(hold_open(dir, "eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee"),
	    -1);
	unlink(path);
	assert_int_equal(hold_sweep(dir, time(NULL), 60, &u, err, sizeof err),
	    0);
	assert_int_equal(u.files, 2);
	assert_int_equal(u.bytes, 11);
	assert_int_equal(u.removed, 0);
	/* An hour from now both are older than 60 s. */
	assert_int_equal(hold_drop(dir, name), 0);
	assert_int_equal(hold_drop(dir, name), -1);
	assert_int_equal(hold_sweep(dir, time(NULL) + 3600, 60, &u, err,
	    sizeof err), 0);
	assert_int_equal(u.files, 0);
	assert_int_equal(u.removed, 1);
	/* Within caps only: 1 file of at most 8 bytes. */
	{
		struct hold_caps one = { 60, 1, 8, 0, 0 };
		char a[HOLD_NAME_LEN + 1], b2[HOLD_NAME_LEN + 1];

		fd = open(dir, O_TMPFILE | O_RDWR, 0600);
		assert_int_equal(write(fd, "12345", 5), 5);
		assert_int_equal(hold_new_name("example", a), 0);
		assert_int_equal(hold_new_name("example", b2), 0);
		assert_int_equal(hold_admit(dir, fd, 5, a, time(NULL), &one),
		    0);
		assert_int_equal(hold_admit(dir, fd, 5, b2, time(NULL), &one),
		    -2);
		one.max_files = 2;
		assert_int_equal(hold_admit(dir, fd, 5, b2, time(NULL), &one),
		    -2);                        /* 10 bytes > 8 */
		one.max_bytes = 10;
		assert_int_equal(hold_admit(dir, fd, 5, b2, time(NULL), &one),
		    0);
		/* An hour on, both expired: swept, so room again. */
		one.max_files = 1;
		assert_int_equal(hold_admit(dir, fd, 5, "../x", time(NULL),
		    &one), -1);
		assert_int_equal(hold_new_name("example", a), 0);
		assert_int_equal(hold_admit(dir, fd, 5, a, time(NULL) + 3600,
		    &one), 0);
		close(fd);
		assert_int_equal(hold_drop(dir, a), 0);
	}
	snprintf(path, sizeof path, "%s/hold", dir);
	assert_int_equal(rmdir(path), 0);
	assert_int_equal(hold_sweep(dir, time(NULL), 60, &u, err, sizeof err),
	    -1);
	assert_int_equal(rmdir(dir), 0);
}

/* A site's share: one site flooding hold/ leaves the other its room. */
static void
test_site_share(void **state)
{
	char dir[] = "/tmp/test_hold.XXXXXX", path[256];
	char a[HOLD_NAME_LEN + 1], b[HOLD_NAME_LEN + 1];
	struct hold_caps caps = { 60, 4, 1000, 2, 12 };
	int fd, i;

	(void)state;
	fd = spool_with_upload(dir, "12345");
	for (i = 0; i < 2; i++) {
		assert_int_equal(hold_new_name("flooded", a), 0);
		assert_int_equal(hold_admit(dir, fd, 5, a, time(NULL), &caps),
		    0);
	}
	assert_int_equal(hold_new_name("flooded", a), 0);
	assert_int_equal(hold_admit(dir, fd, 5, a, time(NULL), &caps), -2);
	/* The other site still has its share, files and bytes. */
	assert_int_equal(hold_new_name("other", b), 0);
	assert_int_equal(hold_admit(dir, fd, 5, b, time(NULL), &caps), 0);
	assert_int_equal(hold_new_name("other", b), 0);
	caps.site_bytes = 9;
	assert_int_equal(hold_admit(dir, fd, 5, b, time(NULL), &caps), -2);
	/* Without a share, only the whole counts (4 files). */
	caps.site_files = caps.site_bytes = 0;
	assert_int_equal(hold_admit(dir, fd, 5, a, time(NULL), &caps), 0);
	assert_int_equal(hold_admit(dir, fd, 5, b, time(NULL), &caps), -2);
	/* An hour on, every file has expired: swept, room again. */
	caps.site_files = 1;
	assert_int_equal(hold_new_name("flooded", a), 0);
	assert_int_equal(hold_admit(dir, fd, 5, a, time(NULL) + 3600, &caps),
	    0);
	close(fd);
	snprintf(path, sizeof path, "rm -rf %s", dir);
	assert_int_equal(system(path), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_age_and_site),
		cmocka_unit_test(test_every_byte_bound),
		cmocka_unit_test(test_hostile_shapes),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_site_share),
		cmocka_unit_test(test_dir),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
