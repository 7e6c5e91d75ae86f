/*
 * test_json — the one escaper, byte for byte, through both sinks (a buf
 * and a FILE): quotes, backslashes, every control byte, DEL, '<', and
 * UTF-8 passed through.
 */
#include "unit.h"

#include <stdio.h>
#include <stdlib.h>

#include "json.h"

static const struct {
	const char *in, *want;
} rows[] = {
	{ "", "\"\"" },
	{ "abc", "\"abc\"" },
	{ "a\"b\\c", "\"a\\\"b\\\\c\"" },
	{ "\x01\t\n\r\x1f", "\"\\u0001\\u0009\\u000a\\u000d\\u001f\"" },
	{ "\x7f", "\"\\u007f\"" },
	{ "</script>", "\"\\u003c/script>\"" },
	{ "お問い合わせ", "\"お問い合わせ\"" },
	{ "5.7.1 <a@b>", "\"5.7.1 \\u003ca@b>\"" },
};

static void
to_buf(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof rows / sizeof rows[0]; i++) {
		struct buf b;
		buf_init(&b);
		json_buf_string(&b, rows[i].in);
		assert_false(b.oom);
		assert_string_equal(b.data, rows[i].want);
		buf_free(&b);
	}
}

static void
to_file(void **state)
{
	char *s = NULL;
	size_t n = 0, i;

	(void)state;
	for (i = 0; i < sizeof rows / sizeof rows[0]; i++) {
		FILE *f = open_memstream(&s, &n);
		assert_non_null(f);
		json_file_string(f, rows[i].in);
		assert_int_equal(fclose(f), 0);
		assert_string_equal(s, rows[i].want);
		free(s);
		s = NULL;
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(to_buf),
		cmocka_unit_test(to_file),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
