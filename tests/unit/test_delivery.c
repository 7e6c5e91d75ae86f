/*
 * test_delivery — the sender's decisions as tables: a recipient's state
 * after each outcome, which failures back a whole profile off, how an
 * attempt starts, and what becomes of the message file after it.
 */
#include "unit.h"

#include "delivery.h"

static void
rcpt_table(void **state)
{
	static const struct { enum outcome o; enum spool_state want; } t[] = {
		{ OUT_SENT, SPOOL_SENT },
		{ OUT_PERM, SPOOL_FAILED },
		{ OUT_TEMP, SPOOL_PENDING },     /* next profile, then back off */
		{ OUT_CONFIG, SPOOL_PENDING },   /* held: the operator fixes it */
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof t / sizeof t[0]; i++)
		assert_int_equal(delivery_rcpt_state(t[i].o), t[i].want);
}

static void
profile_table(void **state)
{
	static const struct {
		enum outcome o;
		enum smtp_phase phase;
		enum smtp_fail fail;
		int want;
	} t[] = {
		/* before any recipient: the profile failed */
		{ OUT_TEMP, PH_CONNECT, SF_CONNECT, 1 },
		{ OUT_TEMP, PH_CONNECT, SF_TIMEOUT, 1 },
		{ OUT_CONFIG, PH_TLS, SF_TLS_VERIFY, 1 },
		{ OUT_CONFIG, PH_TLS, SF_NO_STARTTLS, 1 },
		{ OUT_TEMP, PH_EHLO, SF_NONE, 1 },
		{ OUT_CONFIG, PH_AUTH, SF_NONE, 1 },
		{ OUT_TEMP, PH_MAIL, SF_NONE, 1 },
		{ OUT_CONFIG, PH_MAIL, SF_NONE, 1 },
		/* no AUTH offered to our username: found at DATA, same for all */
		{ OUT_CONFIG, PH_DATA, SF_NO_AUTH, 1 },
		/* at or after RCPT: this message's business */
		{ OUT_TEMP, PH_RCPT, SF_NONE, 0 },
		{ OUT_CONFIG, PH_RCPT, SF_NONE, 0 },
		{ OUT_TEMP, PH_DATA, SF_DROPPED, 0 },
		{ OUT_TEMP, PH_DOT, SF_TIMEOUT, 0 },
		{ OUT_CONFIG, PH_DOT, SF_NONE, 0 },
		{ OUT_TEMP, PH_QUIT, SF_NONE, 0 },
		/* sent or permanent never backs the profile off */
		{ OUT_SENT, PH_DOT, SF_NONE, 0 },
		{ OUT_SENT, PH_QUIT, SF_NONE, 0 },
		{ OUT_PERM, PH_RCPT, SF_NONE, 0 },
		{ OUT_PERM, PH_DOT, SF_NONE, 0 },
		{ OUT_PERM, PH_MAIL, SF_NONE, 0 },
		{ OUT_PERM, PH_DATA, SF_NO_AUTH, 0 },
	};
	size_t i;
	int bad = 0;

	(void)state;
	for (i = 0; i < sizeof t / sizeof t[0]; i++) {
		int got = delivery_profile_failed(t[i].o, t[i].phase,
		    t[i].fail);
		if (got != t[i].want) {
			print_error("row %zu (%s at %s): got %d want %d\n", i,
			    outcome_name(t[i].o), outcome_phase_name(t[i].phase),
			    got, t[i].want);
			bad++;
		}
	}
	assert_int_equal(bad, 0);
}

static void
start_table(void **state)
{
	static const struct {
		int expired, have_site;
		size_t pending;
		enum delivery_start want;
	} t[] = {
		{ 1, 1, 2, DS_EXPIRE },
		{ 1, 0, 2, DS_EXPIRE },    /* max_age wins over a lost site */
		{ 1, 1, 0, DS_EXPIRE },
		{ 0, 0, 2, DS_HOLD },
		{ 0, 0, 0, DS_HOLD },
		{ 0, 1, 0, DS_SETTLE },
		{ 0, 1, 1, DS_SEND },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof t / sizeof t[0]; i++)
		assert_int_equal(delivery_start(t[i].expired, t[i].have_site,
		    t[i].pending), t[i].want);
}

static void
after_table(void **state)
{
	static const struct {
		int tried;
		size_t pending, failed, failed_before;
		enum delivery_next next;
		int write_failed;
	} t[] = {
		/* every profile resting: no attempt */
		{ 0, 2, 0, 0, DN_WAIT, 0 },
		{ 0, 1, 1, 1, DN_WAIT, 0 },
		/* all sent */
		{ 1, 0, 0, 0, DN_FINISH, 0 },
		/* done, some failed now or before: failed/ keeps the record */
		{ 1, 0, 1, 0, DN_FINISH, 1 },
		{ 1, 0, 1, 1, DN_FINISH, 1 },
		/* still pending */
		{ 1, 2, 0, 0, DN_RETRY, 0 },
		{ 1, 1, 1, 0, DN_RETRY, 1 },     /* a new failure: record it */
		{ 1, 1, 1, 1, DN_RETRY, 0 },     /* recorded at the last try */
		{ 1, 1, 2, 1, DN_RETRY, 1 },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof t / sizeof t[0]; i++) {
		struct delivery_plan p = delivery_after(t[i].tried,
		    t[i].pending, t[i].failed, t[i].failed_before);
		assert_int_equal(p.next, t[i].next);
		assert_int_equal(p.write_failed, t[i].write_failed);
	}
}

/* A receipt is given up after a day at most; the owner's message keeps
 * the configured max_age. */
static void
receipt_max_age(void **state)
{
	(void)state;
	assert_int_equal(delivery_max_age(5 * 86400, "Fp7Qm2x9Kd4LwZr8Tn3V"),
	    5 * 86400);
	assert_int_equal(delivery_max_age(5 * 86400,
	    "Fp7Qm2x9Kd4LwZr8Tn3V-R"), LIM_RECEIPT_MAX_AGE);
	assert_int_equal(delivery_max_age(3600, "Fp7Qm2x9Kd4LwZr8Tn3V-R"),
	    3600);
	assert_int_equal(LIM_RECEIPT_MAX_AGE, 86400);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(rcpt_table),
		cmocka_unit_test(profile_table),
		cmocka_unit_test(start_table),
		cmocka_unit_test(after_table),
		cmocka_unit_test(receipt_max_age),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
