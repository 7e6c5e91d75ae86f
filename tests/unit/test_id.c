/* The id codec: fresh ids, what people type, and 0.1.0's ids. */
#include "unit.h"

#include <stdio.h>

#include "id.h"

static void
test_new_is_canonical(void **state)
{
	char a[ID_BUF], b[ID_BUF];
	int i;

	(void)state;
	for (i = 0; i < 1000; i++) {
		assert_int_equal(id_new(a), 0);
		assert_int_equal(strlen(a), ID_LEN);
		assert_int_equal(id_canonical(a), 1);
		assert_int_equal(id_spool_valid(a), 1);
		/* No ambiguous letters, and no U. */
		assert_null(strpbrk(a, "ILOUilou_"));
		assert_true(a[4] == '-' && a[9] == '-');
	}
	assert_int_equal(id_new(b), 0);
	assert_string_not_equal(a, b);
}

/* Every byte at every character's place: canonical exactly when it is
 * one of the 32 (the check without strchr). */
static void
test_canonical_every_byte(void **state)
{
	static const char set[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
	char a[ID_BUF];
	int c;
	size_t i;

	(void)state;
	for (i = 0; i < ID_LEN; i++)
		for (c = 1; c < 256; c++) {
			memcpy(a, "7K3M-9QXA-2BTD", ID_LEN + 1);
			a[i] = (char)c;
			assert_int_equal(id_canonical(a), i == 4 || i == 9 ?
			    c == '-' : strchr(set, c) != NULL);
		}
}

static void
test_round_trip(void **state)
{
	char a[ID_BUF], b[ID_BUF];
	int i;

	(void)state;
	for (i = 0; i < 200; i++) {
		assert_int_equal(id_new(a), 0);
		assert_int_equal(id_parse(a, b), 0);
		assert_string_equal(a, b);
	}
}

struct typed { const char *in, *out; };

static const struct typed typed[] = {
	{ "K3M9-7QXA-2BTD", "K3M9-7QXA-2BTD" },
	{ "k3m9-7qxa-2btd", "K3M9-7QXA-2BTD" },
	{ "K3M97QXA2BTD", "K3M9-7QXA-2BTD" },
	{ "k3m9 7qxa 2btd", NULL },                 /* spaces are not ours */
	{ "K3M9-7QXA2BTD", "K3M9-7QXA-2BTD" },
	{ "-K3M9--7QXA-2BTD-", "K3M9-7QXA-2BTD" },
	{ "IL00-oOiL-1111", "1100-0011-1111" },     /* I/L → 1, O → 0 */
	{ "iloo-0000-0000", "1100-0000-0000" },
	{ "UUUU-0000-0000", NULL },                 /* U is not a symbol */
	{ "K3M9-7QXA-2BT", NULL },                  /* 11 symbols */
	{ "K3M9-7QXA-2BTDX", NULL },                /* 13 */
	{ "", NULL },
	{ "------------------", NULL },
	{ "K3M9_7QXA_2BTD", NULL },
	{ "K3M9-7QXA-2BT\xc3\xa9", NULL },
	{ "ZZZZ-ZZZZ-ZZZZ", "ZZZZ-ZZZZ-ZZZZ" },
};

static void
test_typed(void **state)
{
	char out[ID_BUF];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof typed / sizeof typed[0]; i++) {
		strcpy(out, "untouched");
		if (typed[i].out == NULL) {
			if (id_parse(typed[i].in, out) != -1)
				fail_msg("%s parsed as %s", typed[i].in, out);
			assert_string_equal(out, "untouched");
		} else {
			assert_int_equal(id_parse(typed[i].in, out), 0);
			assert_string_equal(out, typed[i].out);
		}
	}
}

/* An endless run of hyphens is read no further than ID_INPUT_MAX. */
static void
test_long_input(void **state)
{
	char in[200], out[ID_BUF];

	(void)state;
	memset(in, '-', sizeof in - 1);
	in[sizeof in - 1] = '\0';
	memcpy(in + 150, "K3M97QXA2BTD", 12);
	assert_int_equal(id_parse(in, out), -1);
	memcpy(in + ID_INPUT_MAX - 12, "K3M97QXA2BTD", 12);
	in[ID_INPUT_MAX] = '\0';
	assert_int_equal(id_parse(in, out), 0);
}

/* Spool names: canonical ids and 0.1.0's 20 base64url characters,
 * nothing else (no path, no lowercase form of a new id). */
static void
test_spool_names(void **state)
{
	char out[ID_BUF];

	(void)state;
	assert_int_equal(id_spool_valid("K3M9-7QXA-2BTD"), 1);
	assert_int_equal(id_spool_valid("_yqZi-ORzQMt5TAW040x"), 1);
	assert_int_equal(id_spool_valid("-aaaaaaaaaaaaaaaaaaa"), 1);
	assert_int_equal(id_spool_valid("k3m9-7qxa-2btd"), 0);
	assert_int_equal(id_spool_valid("K3M97QXA2BTD"), 0);
	assert_int_equal(id_spool_valid("K3M9-7QXA-2BTI"), 0);
	assert_int_equal(id_spool_valid("_yqZi-ORzQMt5TAW040"), 0);
	assert_int_equal(id_spool_valid("_yqZi-ORzQMt5TAW040xx"), 0);
	assert_int_equal(id_spool_valid("../ORzQMt5TAW040x/ab"), 0);
	assert_int_equal(id_spool_valid("K3M9-7QXA-2BTD.q"), 0);
	assert_int_equal(id_spool_valid(""), 0);
	assert_int_equal(id_canonical("_yqZi-ORzQMt5TAW040x"), 0);
	/* The command line: an old id as written (case matters), a new
	 * one as typed. */
	assert_int_equal(id_from_user("_yqZi-ORzQMt5TAW040x", out), 0);
	assert_string_equal(out, "_yqZi-ORzQMt5TAW040x");
	assert_int_equal(id_from_user("k3m97qxa2btd", out), 0);
	assert_string_equal(out, "K3M9-7QXA-2BTD");
	assert_int_equal(id_from_user("../etc/passwd", out), -1);
	id_copy(out, "_yqZi-ORzQMt5TAW040x");
	assert_string_equal(out, "_yqZi-ORzQMt5TAW040x");
	id_copy(out, "not an id at all, and much too long for the buffer");
	assert_string_equal(out, "");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_new_is_canonical),
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_typed),
		cmocka_unit_test(test_long_input),
		cmocka_unit_test(test_spool_names),
		cmocka_unit_test(test_canonical_every_byte),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
