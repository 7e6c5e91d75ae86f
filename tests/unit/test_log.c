/*
 * log: the exact bytes of a line on stderr — plain and quoted values,
 * escapes, a value cut at LIM_LOG_VALUE, skipped NULL values, the ip
 * modes, levels — and a line longer than any buffer the writer keeps on
 * its stack.
 */
#include "unit.h"

#include <fcntl.h>
#include <unistd.h>

#include "limits.h"
#include "log.h"
#include "util.h"

static int saved = -1;
static FILE *cap;

/* stderr goes to a temporary file until captured() reads it back. */
static void
capture(void)
{
	fflush(stderr);
	cap = tmpfile();
	assert_non_null(cap);
	saved = dup(STDERR_FILENO);
	assert_true(saved >= 0);
	assert_true(dup2(fileno(cap), STDERR_FILENO) >= 0);
}

/* What was written since capture(), NUL-terminated; caller frees. */
static char *
captured(void)
{
	struct buf b;
	char chunk[4096];
	size_t n;

	assert_true(dup2(saved, STDERR_FILENO) >= 0);
	close(saved);
	rewind(cap);
	buf_init(&b);
	while ((n = fread(chunk, 1, sizeof chunk, cap)) > 0)
		buf_add(&b, chunk, n);
	fclose(cap);
	return buf_steal(&b);
}

static void
test_values(void **state)
{
	char *got;

	(void)state;
	log_set_level(LOG_INFO);
	log_set_ip_mode(LOG_IP_FULL);
	capture();
	log_event(LOG_INFO, "rejected", "site", "example", "id", NULL,
	    "status", "422", "reason", "invalid", "ip", "192.0.2.7",
	    "ms", "0", (char *)NULL);
	log_event(LOG_WARN, "x", "empty", "", "q", "a \"b\" \\c\nd\x01\x7f",
	    "eq", "k=v", "utf8", "山田", (char *)NULL);
	log_event(LOG_DEBUG, "hidden", "a", "b", (char *)NULL);
	log_event(LOG_ERROR, "e", (char *)NULL);
	got = captured();
	assert_string_equal(got,
	    "level=info event=rejected site=example status=422 "
	    "reason=invalid ip=192.0.2.7 ms=0\n"
	    "level=warn event=x empty=\"\" "
	    "q=\"a \\\"b\\\" \\\\c\\nd\\x01\\x7f\" eq=\"k=v\" utf8=山田\n"
	    "level=error event=e\n");
	free(got);
}

static void
test_ip_modes(void **state)
{
	char *got;

	(void)state;
	capture();
	log_set_ip_mode(LOG_IP_MASKED);
	log_event(LOG_INFO, "a", "ip", "192.0.2.7", "site", "s", (char *)NULL);
	log_event(LOG_INFO, "a", "ip", "2001:db8:1:2::7", (char *)NULL);
	log_set_ip_mode(LOG_IP_NONE);
	log_event(LOG_INFO, "a", "ip", "192.0.2.7", "site", "s", (char *)NULL);
	log_set_ip_mode(LOG_IP_FULL);
	got = captured();
	assert_string_equal(got,
	    "level=info event=a ip=192.0.2.0/24 site=s\n"
	    "level=info event=a ip=2001:db8:1::/48\n"
	    "level=info event=a site=s\n");
	free(got);
}

/* Values past LIM_LOG_VALUE bytes are cut and marked; many of them make
 * a line of several KiB, still one line. */
static void
test_long(void **state)
{
	char *v = malloc(LIM_LOG_VALUE + 100), *q = malloc(LIM_LOG_VALUE + 2);
	char *got;
	struct buf want;
	int i;

	(void)state;
	memset(v, 'a', LIM_LOG_VALUE + 99);
	v[LIM_LOG_VALUE + 99] = '\0';
	memset(q, '"', LIM_LOG_VALUE + 1);
	q[LIM_LOG_VALUE + 1] = '\0';
	capture();
	log_event(LOG_INFO, "long", "a", v, "b", v, "c", v, "q", q, "d", v,
	    (char *)NULL);
	got = captured();
	buf_init(&want);
	buf_adds(&want, "level=info event=long");
	for (i = 0; i < 5; i++) {
		buf_adds(&want, i == 3 ? " q=\"" : i == 4 ? " d=" :
		    i == 0 ? " a=" : i == 1 ? " b=" : " c=");
		if (i == 3) {
			for (int k = 0; k < LIM_LOG_VALUE; k++)
				buf_adds(&want, "\\\"");
			buf_adds(&want, "...\"");
		} else
			buf_add(&want, v, LIM_LOG_VALUE);
	}
	buf_adds(&want, "\n");
	assert_string_equal(got, want.data);
	buf_free(&want);
	free(got);
	free(v);
	free(q);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_values),
		cmocka_unit_test(test_ip_modes),
		cmocka_unit_test(test_long),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
