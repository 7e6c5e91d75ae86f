/* The spool file's attempt history (format version 2, doc/design.md "The
 * spool"): round trip, trimming, version 1 files still read, hostile
 * history lines refused, and a newer version's file left alone. */
#include "unit.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "delivery.h"
#include "outcome.h"
#include "spool.h"

static const char WIRE[] = "From: a@example.com\r\nSubject: x\r\n\r\nbody\r\n";

static void
make(struct spool_msg *m)
{
	char *rcpt[] = { "info@example.com", "sales@example.com" };

	assert_int_equal(spool_msg_new(m, "K3M9-7QXA-2BTD", "example",
	    1700000000, "noreply@example.com", rcpt, 2, WIRE,
	    sizeof WIRE - 1), 0);
}

/* Appends "end SHA256\n" over b, as the writer does. */
static void
seal(struct buf *b)
{
	unsigned char sum[SHA256_LEN];
	char hex[2 * SHA256_LEN + 1];

	assert_int_equal(crypto_sha256(b->data, b->len, sum), 0);
	crypto_hex(sum, sizeof sum, hex);
	buf_printf(b, "end %s\n", hex);
}

static enum spool_parse_rc
parse_text(const char *text, struct spool_msg *out)
{
	struct buf b;
	char err[128];
	enum spool_parse_rc rc;

	buf_init(&b);
	buf_adds(&b, text);
	seal(&b);
	rc = spool_parse(b.data, b.len, out, err, sizeof err);
	buf_free(&b);
	return rc;
}

/* Two attempts: a 451 through "primary", then sent to one and refused
 * for the other through "backup".  Written as version 2, read back the
 * same, formatted back to the same bytes. */
static void
test_round_trip_with_history(void **state)
{
	struct spool_attempt *a;
	struct spool_msg m, back;
	struct buf b, b2;
	char err[128];

	(void)state;
	make(&m);
	assert_non_null(a = spool_attempt_add(&m, 1700000100, "primary",
	    SPOOL_EV_TEMP, 451, "451 4.3.0 try again\r\nlater"));
	assert_string_equal(a->reply, "451 4.3.0 try again");
	assert_int_equal(spool_attempt_rcpt(a, "info@example.com",
	    SPOOL_EV_TEMP, 451, "451 4.3.0 try again"), 0);
	assert_null(a->to[0].reply);       /* the attempt's: not repeated */
	assert_int_equal(spool_attempt_rcpt(a, "sales@example.com",
	    SPOOL_EV_TEMP, 451, ""), 0);
	assert_non_null(a = spool_attempt_add(&m, 1700000200, "backup",
	    SPOOL_EV_SENT, 250, "250 ok"));
	assert_int_equal(spool_attempt_rcpt(a, "info@example.com",
	    SPOOL_EV_SENT, 250, ""), 0);
	assert_int_equal(spool_attempt_rcpt(a, "sales@example.com",
	    SPOOL_EV_PERM, 550, "550 5.1.1 no such user"), 0);
	assert_int_equal(m.hist_total, 2);
	buf_init(&b);
	assert_int_equal(spool_format(&m, &b), 0);
	buf_add(&b, "", 1);
	assert_memory_equal(b.data, "formpost-spool 2\n", 17);
	assert_non_null(strstr(b.data, "\nhistory 2\n"
	    "attempt 1700000100 primary temporary 451 451 4.3.0 try again\n"
	    "to temporary 451 info@example.com \n"
	    "to temporary 451 sales@example.com \n"
	    "attempt 1700000200 backup sent 250 250 ok\n"
	    "to sent 250 info@example.com \n"
	    "to permanent 550 sales@example.com 550 5.1.1 no such user\n"
	    "size "));
	b.len--;
	assert_int_equal(spool_parse(b.data, b.len, &back, err, sizeof err),
	    SPOOL_PARSED);
	assert_int_equal(back.hist_total, 2);
	assert_int_equal(back.nhist, 2);
	assert_true(back.hist[0].at == 1700000100);
	assert_string_equal(back.hist[0].profile, "primary");
	assert_int_equal(back.hist[0].ev, SPOOL_EV_TEMP);
	assert_int_equal(back.hist[0].code, 451);
	assert_int_equal(back.hist[0].nto, 2);
	assert_int_equal(back.hist[1].to[1].ev, SPOOL_EV_PERM);
	assert_int_equal(back.hist[1].to[1].code, 550);
	assert_string_equal(back.hist[1].to[1].reply, "550 5.1.1 no such user");
	assert_null(back.hist[1].to[0].reply);
	assert_int_equal(back.len, sizeof WIRE - 1);
	buf_init(&b2);
	assert_int_equal(spool_format(&back, &b2), 0);
	assert_int_equal(b2.len, b.len);
	assert_memory_equal(b2.data, b.data, b.len);
	buf_free(&b2);
	buf_free(&b);
	spool_msg_free(&back);
	spool_msg_free(&m);
}

/* Without history the file is version 1, byte for byte what 0.1.0 wrote
 * (and reads): the commit of a new post is unchanged. */
static void
test_fresh_message_is_version_1(void **state)
{
	static const char v1[] = "formpost-spool 1\nid K3M9-7QXA-2BTD\n"
	    "site example\ncreated 1700000000\nsender noreply@example.com\n"
	    "attempts 0\nnext-try 0\nreply \n"
	    "rcpt pending 0 info@example.com \n"
	    "rcpt pending 0 sales@example.com \nsize 41\n\n";
	struct spool_msg m, back;
	struct buf b;
	char err[128];

	(void)state;
	make(&m);
	buf_init(&b);
	assert_int_equal(spool_format(&m, &b), 0);
	assert_true(b.len > sizeof v1 - 1);
	assert_memory_equal(b.data, v1, sizeof v1 - 1);
	assert_int_equal(spool_parse(b.data, b.len, &back, err, sizeof err),
	    SPOOL_PARSED);
	assert_int_equal(back.hist_total, 0);
	assert_int_equal(back.nhist, 0);
	assert_null(back.hist);
	spool_msg_free(&back);
	buf_free(&b);
	spool_msg_free(&m);
}

/* Version 1 files as earlier builds wrote them (failed and sent states,
 * a note) read with no history; history lines in a version 1 file are
 * not version 1. */
static void
test_version_1_still_read(void **state)
{
	static const char v1[] = "formpost-spool 1\nid ABCDEFGHIJKLMNOPQRS_\n"
	    "site example\ncreated 1\nsender a@b\nattempts 4\nnext-try 9\n"
	    "reply temporary: primary rcpt 451 x\n"
	    "rcpt sent 250 x@y 250 ok\nrcpt failed 550 z@y 550 no\n"
	    "size 2\n\nab";
	static const char v1h[] = "formpost-spool 1\nid ABCDEFGHIJKLMNOPQRS_\n"
	    "site example\ncreated 1\nsender a@b\nattempts 4\nnext-try 9\n"
	    "reply \nrcpt pending 0 x@y \nhistory 1\n"
	    "attempt 5 p temporary 451 x\nsize 2\n\nab";
	struct spool_msg back;

	(void)state;
	assert_int_equal(parse_text(v1, &back), SPOOL_PARSED);
	assert_int_equal(back.attempts, 4);
	assert_int_equal(back.nrcpt, 2);
	assert_int_equal(back.rcpt[1].state, SPOOL_FAILED);
	assert_int_equal(back.hist_total, 0);
	assert_int_equal(back.nhist, 0);
	spool_msg_free(&back);
	assert_int_equal(parse_text(v1h, &back), SPOOL_BAD);
	/* Its next attempt starts the history; the four before it count
	 * as made and not kept. */
	assert_int_equal(parse_text(v1, &back), SPOOL_PARSED);
	assert_non_null(spool_attempt_add(&back, 10, "main", SPOOL_EV_SENT,
	    250, "250 ok"));
	assert_int_equal(back.hist_total, 5);
	assert_int_equal(back.nhist, 1);
	spool_msg_free(&back);
}

/* The last LIM_SPOOL_HISTORY attempts are kept, with the total; and the
 * ones before the newest within LIM_SPOOL_HISTORY_BYTES. */
static void
test_trimmed_at_the_limit(void **state)
{
	struct spool_attempt *a;
	struct spool_msg m, back;
	struct buf b;
	char err[128], addr[64];
	unsigned i, j;
	size_t bytes;

	(void)state;
	make(&m);
	for (i = 0; i < LIM_SPOOL_HISTORY + 5; i++) {
		assert_non_null(a = spool_attempt_add(&m, 1700000000 + i,
		    "primary", SPOOL_EV_TEMP, 451, "451 later"));
		assert_int_equal(spool_attempt_rcpt(a, "info@example.com",
		    SPOOL_EV_TEMP, 451, ""), 0);
	}
	assert_int_equal(m.hist_total, LIM_SPOOL_HISTORY + 5);
	assert_int_equal(m.nhist, LIM_SPOOL_HISTORY);
	assert_true(m.hist[0].at == 1700000005);      /* the oldest kept */
	assert_true(m.hist[LIM_SPOOL_HISTORY - 1].at ==
	    1700000000 + LIM_SPOOL_HISTORY + 4);
	buf_init(&b);
	assert_int_equal(spool_format(&m, &b), 0);
	assert_int_equal(spool_parse(b.data, b.len, &back, err, sizeof err),
	    SPOOL_PARSED);
	assert_int_equal(back.hist_total, LIM_SPOOL_HISTORY + 5);
	assert_int_equal(back.nhist, LIM_SPOOL_HISTORY);
	spool_msg_free(&back);
	buf_free(&b);
	/* Attempts to every recipient a message may have, with long
	 * replies: fewer are kept, and the file stays readable. */
	for (i = 0; i < LIM_SPOOL_HISTORY; i++) {
		char reply[SPOOL_REPLY_MAX];
		memset(reply, 'r', sizeof reply - 1);
		reply[sizeof reply - 1] = '\0';
		assert_non_null(a = spool_attempt_add(&m, 1800000000 + i,
		    "primary", SPOOL_EV_TEMP, 451, "451 later"));
		for (j = 0; j < LIM_SPOOL_RCPT; j++) {
			snprintf(addr, sizeof addr, "%u-%s@example.com", j,
			    "a-rather-long-local-part-for-the-budget");
			assert_int_equal(spool_attempt_rcpt(a, addr,
			    SPOOL_EV_TEMP, 451, reply), 0);
		}
		assert_int_equal(spool_attempt_rcpt(a, "one@too.many",
		    SPOOL_EV_TEMP, 451, ""), -1);
	}
	assert_true(m.nhist < LIM_SPOOL_HISTORY);
	assert_true(m.nhist >= 1);
	assert_int_equal(m.hist_total, 2 * LIM_SPOOL_HISTORY + 5);
	buf_init(&b);
	assert_int_equal(spool_format(&m, &b), 0);
	bytes = b.len - m.len;
	assert_true(bytes < LIM_SPOOL_FILE - LIM_SPOOL_MESSAGE);
	assert_int_equal(spool_parse(b.data, b.len, &back, err, sizeof err),
	    SPOOL_PARSED);
	assert_int_equal(back.nhist, m.nhist);
	spool_msg_free(&back);
	buf_free(&b);
	spool_msg_free(&m);
}

/* History lines that are not what the writer makes: the file is
 * corrupt, whatever its checksum says. */
static void
test_hostile_history_refused(void **state)
{
	static const char *const bad[] = {
		"history 0\nattempt 5 p sent 250 ok\n",
		"history 1\n",                          /* none kept */
		"history 01\nattempt 5 p sent 250 ok\n",
		"history 1\nattempt 5 p sent 250 ok\nattempt 6 p sent 250 ok\n",
		"history 1\nto sent 250 x@y \nattempt 5 p sent 250 ok\n",
		"history 1\nattempt 5 p maybe 250 ok\n",
		"history 1\nattempt 5 p sent 1000 ok\n",
		"history 1\nattempt 5 p sent -1 ok\n",
		"history 1\nattempt -5 p sent 250 ok\n",
		"history 1\nattempt 5 p sent 250\n",      /* no text field */
		"history 1\nattempt 5  sent 250 ok\n",    /* empty profile */
		"history 1\nattempt 5 p sent 250 o\x01k\n",
		"history 1\nattempt 5 p sent 250 o\rk\n",
		"history 1\nattempt 5 p sent 250 ok\nto bounced 250 x@y \n",
		"history 1\nattempt 5 p sent 250 ok\nto sent 250 x@y\n",
		"history 1\nattempt 5 p sent 250 ok\nto sent 250  \n",
		"history 1\nattempt 5 p sent 250 ok\nto sent 250 x\x7fy \n",
		"history 1\nattempt 5 p sent 250 ok\nhistory 1\n",
		"history 1\nattempt 5 p sent 250 ok\nrcpt pending 0 x@y \n",
	};
	const char *head = "formpost-spool 2\nid ABCDEFGHIJKLMNOPQRS_\n"
	    "site example\ncreated 1\nsender a@b\nattempts 0\nnext-try 0\n"
	    "reply \nrcpt pending 0 x@y \n";
	struct spool_msg back;
	struct buf b;
	char line[2 * LIM_SPOOL_LINE];
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_LEN(bad); i++) {
		buf_init(&b);
		buf_adds(&b, head);
		buf_adds(&b, bad[i]);
		buf_adds(&b, "size 2\n\nab");
		assert_int_equal(parse_text(b.data, &back), SPOOL_BAD);
		buf_free(&b);
	}
	/* A reply text one byte too long; a line past LIM_SPOOL_LINE. */
	memset(line, 'x', sizeof line);
	buf_init(&b);
	buf_adds(&b, head);
	buf_printf(&b, "history 1\nattempt 5 p sent 250 %.*s\nsize 2\n\nab",
	    SPOOL_REPLY_MAX, line);
	assert_int_equal(parse_text(b.data, &back), SPOOL_BAD);
	buf_free(&b);
	buf_init(&b);
	buf_adds(&b, head);
	buf_printf(&b, "history 1\nattempt 5 p sent 250 ok\nto sent 250 "
	    "%.*s@y \nsize 2\n\nab", LIM_SPOOL_LINE, line);
	assert_int_equal(parse_text(b.data, &back), SPOOL_BAD);
	buf_free(&b);
	/* The same frame with a good block parses: the refusals above are
	 * the lines'. */
	buf_init(&b);
	buf_adds(&b, head);
	buf_printf(&b, "history 3\nattempt 5 p sent 250 %.*s\n"
	    "to sent 250 x@y \nsize 2\n\nab", SPOOL_REPLY_MAX - 1, line);
	assert_int_equal(parse_text(b.data, &back), SPOOL_PARSED);
	assert_int_equal(back.hist_total, 3);
	assert_int_equal(strlen(back.hist[0].reply), SPOOL_REPLY_MAX - 1);
	spool_msg_free(&back);
	buf_free(&b);
}

/* A version this build does not know is a newer formpost's file, not a
 * corrupt one, unless it carries our marker with a wrong checksum. */
static void
test_newer_version_not_corrupt(void **state)
{
	static const char v3[] = "formpost-spool 3\nid ABCDEFGHIJKLMNOPQRS_\n"
	    "something new\nsize 2\n\nab";
	struct spool_msg back;
	struct buf b;
	char err[128];

	(void)state;
	assert_int_equal(parse_text(v3, &back), SPOOL_TOO_NEW);
	/* Another trailer altogether: still not ours to judge. */
	assert_int_equal(spool_parse(v3, sizeof v3 - 1, &back, err,
	    sizeof err), SPOOL_TOO_NEW);
	assert_non_null(strstr(err, "newer formpost"));
	assert_non_null(strstr(err, "version 3"));
	/* Our marker, a wrong checksum: a flipped version 1 file. */
	buf_init(&b);
	buf_adds(&b, v3);
	seal(&b);
	b.data[b.len - 2] ^= 1;
	assert_int_equal(spool_parse(b.data, b.len, &back, err, sizeof err),
	    SPOOL_BAD);
	buf_free(&b);
}

static void
write_file(const char *path, const char *text)
{
	struct buf b;
	FILE *f;

	buf_init(&b);
	buf_adds(&b, text);
	seal(&b);
	assert_non_null(f = fopen(path, "w"));
	assert_int_equal(fwrite(b.data, 1, b.len, f), b.len);
	assert_int_equal(fclose(f), 0);
	buf_free(&b);
}

/* In a spool: a newer file is neither claimed nor moved to corrupt/,
 * and a reader is told which it is. */
static void
test_newer_file_left_in_place(void **state)
{
	char dir[] = "/tmp/formpost-hist-XXXXXX", path[256], err[256];
	char cmd[300];
	struct spool_msg m;
	struct spool *sp;
	struct stat st;
	int fd = -1;

	(void)state;
	assert_non_null(mkdtemp(dir));
	assert_non_null(sp = spool_open(dir, err, sizeof err));
	snprintf(path, sizeof path, "%s/queue/K3M9-7QXA-2BTD", dir);
	write_file(path, "formpost-spool 7\nid K3M9-7QXA-2BTD\nnew\n");
	assert_int_equal(spool_claim(sp, "K3M9-7QXA-2BTD", &m, &fd, err,
	    sizeof err), SPOOL_NEWER);
	assert_int_equal(fd, -1);
	assert_non_null(strstr(err, "version 7"));
	assert_int_equal(stat(path, &st), 0);
	snprintf(path, sizeof path, "%s/corrupt/K3M9-7QXA-2BTD", dir);
	assert_int_equal(stat(path, &st), -1);
	assert_int_equal(spool_read(sp, "queue", "K3M9-7QXA-2BTD", &m, err,
	    sizeof err), 2);
	assert_non_null(strstr(err, "newer formpost"));
	spool_close(sp);
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
}

/* The history's words for the four outcomes are the outcomes' own. */
static void
test_event_words(void **state)
{
	static const enum outcome o[] = { OUT_SENT, OUT_TEMP, OUT_CONFIG,
	    OUT_PERM };
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_LEN(o); i++)
		assert_string_equal(spool_event_name(delivery_event(o[i])),
		    outcome_name(o[i]));
	/* An attempt that kept one recipient for later and had another
	 * refused is temporary; config comes first. */
	assert_int_equal(outcome_pressing(OUT_PERM, OUT_TEMP), OUT_TEMP);
	assert_int_equal(outcome_pressing(OUT_TEMP, OUT_PERM), OUT_TEMP);
	assert_int_equal(outcome_pressing(OUT_SENT, OUT_PERM), OUT_PERM);
	assert_int_equal(outcome_pressing(OUT_TEMP, OUT_CONFIG), OUT_CONFIG);
	assert_string_equal(spool_event_name(SPOOL_EV_EXPIRED), "expired");
	assert_string_equal(spool_event_name(SPOOL_EV_RETRIED), "retried");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip_with_history),
		cmocka_unit_test(test_fresh_message_is_version_1),
		cmocka_unit_test(test_version_1_still_read),
		cmocka_unit_test(test_trimmed_at_the_limit),
		cmocka_unit_test(test_hostile_history_refused),
		cmocka_unit_test(test_newer_version_not_corrupt),
		cmocka_unit_test(test_newer_file_left_in_place),
		cmocka_unit_test(test_event_words),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
