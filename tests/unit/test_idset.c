/* The sender's id set: counts, growth, deletion against a reference model. */
#include "unit.h"

#include <stdio.h>
#include <stdlib.h>

#include "id.h"
#include "idset.h"

/* A valid id from a number: 0.1.0's format (base64url, ID_OLD_LEN long),
 * which the set must keep taking, and the canonical one for every third. */
static void
id_of(unsigned n, char id[ID_BUF])
{
	static const char al[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	size_t i;

	char sym[ID_SYMBOLS + 1];

	if (n % 3 == 0) {
		for (i = 0; i < ID_SYMBOLS; i++) {
			sym[i] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"[n % 32];
			n = n / 32 + (unsigned)i * 7;
		}
		sym[ID_SYMBOLS] = '\0';
		assert_int_equal(id_parse(sym, id), 0);
		return;
	}
	for (i = 0; i < ID_OLD_LEN; i++) {
		id[i] = al[n % 64];
		n = n / 64 + (unsigned)i * 7;
	}
	id[ID_OLD_LEN] = '\0';
}

static void
test_counts(void **state)
{
	struct idset *s = idset_new();
	char a[ID_BUF], b[ID_BUF];

	(void)state;
	assert_non_null(s);
	id_of(1, a);
	id_of(2, b);
	assert_int_equal(idset_get(s, a), 0);
	assert_int_equal(idset_add(s, a), 1);
	assert_int_equal(idset_add(s, a), 2);
	assert_int_equal(idset_add(s, b), 1);
	assert_int_equal(idset_size(s), 2);
	assert_int_equal(idset_drop(s, a), 1);
	assert_int_equal(idset_get(s, a), 1);
	assert_int_equal(idset_drop(s, a), 0);
	assert_int_equal(idset_get(s, a), 0);
	assert_int_equal(idset_drop(s, a), 0);       /* absent: harmless */
	assert_int_equal(idset_size(s), 1);
	assert_int_equal(idset_get(s, b), 1);
	assert_int_equal(idset_add(s, "short"), -1);
	assert_int_equal(idset_add(s, "AAAAAAAAAAAAAAAAAAA!"), -1);
	assert_int_equal(idset_drop(s, "AAAAAAAAAAAAAAAAAAAAA"), 0);
	assert_int_equal(idset_size(s), 1);
	idset_free(s);
	idset_free(NULL);
}

/* Random adds and drops over 3000 ids (the table grows and deletes
 * shift runs back); the set agrees with a plain array at every step. */
static void
test_model(void **state)
{
	enum { N = 3000, STEPS = 60000 };
	unsigned *ref = calloc(N, sizeof *ref);
	struct idset *s = idset_new();
	char id[ID_BUF];
	size_t step, i;
	unsigned seed = 12345;

	(void)state;
	assert_non_null(ref);
	assert_non_null(s);
	for (step = 0; step < STEPS; step++) {
		unsigned k;
		seed = seed * 1103515245u + 12345u;
		k = (seed >> 8) % N;
		id_of(k, id);
		if ((seed >> 4) % 3 != 0) {
			assert_int_equal(idset_add(s, id), ++ref[k]);
		} else {
			if (ref[k])
				ref[k]--;
			assert_int_equal(idset_drop(s, id), ref[k]);
		}
		if (step % 997 == 0) {
			size_t n = 0;
			for (i = 0; i < N; i++) {
				id_of((unsigned)i, id);
				assert_int_equal(idset_get(s, id), ref[i]);
				n += ref[i] > 0;
			}
			assert_int_equal(idset_size(s), n);
		}
	}
	idset_free(s);
	free(ref);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_counts),
		cmocka_unit_test(test_model),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
