/* alert: the gate (one alert per event kind and site per min_interval,
 * once per episode of a lasting condition, the all-clear only after an
 * alert), fixed memory, the words (JSON for Slack/Mattermost/Discord, the
 * mail) and the webhook URL rule. */
#include "unit.h"

#include <stdio.h>
#include <stdlib.h>

#include "alert.h"
#include "config.h"

static int cleared;
static long long cleared_since;
static char cleared_site[80];

static void
on_clear(void *arg, const char *site, const char *profile, long long since)
{
	(void)arg;
	(void)profile;
	cleared++;
	cleared_since = since;
	snprintf(cleared_site, sizeof cleared_site, "%s", site);
}

static void
gate_events(void **state)
{
	struct alert_gate *g = alert_gate_new();
	long long since;

	(void)state;
	assert_non_null(g);
	/* A one-shot event: once per (kind, site) per min_interval. */
	assert_int_equal(alert_gate_raise(g, AK_PERMANENT, "a", NULL, 1000, 3600,
	    &since), 1);
	assert_int_equal(since, 1000);
	assert_int_equal(alert_gate_raise(g, AK_PERMANENT, "a", NULL, 1001, 3600,
	    &since), 0);
	assert_int_equal(alert_gate_raise(g, AK_PERMANENT, "b", NULL, 1002, 3600,
	    &since), 1);
	assert_int_equal(alert_gate_raise(g, AK_EXPIRED, "a", NULL, 1003, 3600,
	    &since), 1);
	assert_int_equal(alert_gate_raise(g, AK_PERMANENT, "a", NULL, 4599, 3600,
	    &since), 0);
	assert_int_equal(alert_gate_raise(g, AK_PERMANENT, "a", NULL, 4600, 3600,
	    &since), 1);
	assert_int_equal(since, 4600);
	/* Nothing to clear for events. */
	cleared = 0;
	assert_int_equal(alert_gate_clear(g, AK_PERMANENT, NULL, NULL, on_clear,
	    NULL), 0);
	assert_int_equal(cleared, 0);
	alert_gate_free(g);
}

static void
gate_lasting(void **state)
{
	struct alert_gate *g = alert_gate_new();
	long long since;

	(void)state;
	/* Profile main fails for site a: one alert, however long it lasts. */
	assert_int_equal(alert_gate_raise(g, AK_PROFILE_CONFIG, "a", "main",
	    100, 3600, &since), 1);
	assert_int_equal(alert_gate_raise(g, AK_PROFILE_CONFIG, "a", "main",
	    130, 3600, &since), 0);
	assert_int_equal(alert_gate_raise(g, AK_PROFILE_CONFIG, "a", "main",
	    1000, 3600, &since), 0);
	assert_int_equal(since, 100);
	/* Another profile of the same site is another condition. */
	assert_int_equal(alert_gate_raise(g, AK_PROFILE_CONFIG, "a", "backup",
	    1000, 3600, &since), 1);
	/* Fixed: the all-clear for main only, with when it began. */
	cleared = 0;
	assert_int_equal(alert_gate_clear(g, AK_PROFILE_CONFIG, NULL, "main",
	    on_clear, NULL), 1);
	assert_int_equal(cleared, 1);
	assert_int_equal(cleared_since, 100);
	assert_string_equal(cleared_site, "a");
	assert_int_equal(alert_gate_clear(g, AK_PROFILE_CONFIG, NULL, "main",
	    on_clear, NULL), 0);
	/* Flapping within min_interval: no alert, and so no all-clear. */
	assert_int_equal(alert_gate_raise(g, AK_PROFILE_CONFIG, "a", "main",
	    1010, 3600, &since), 0);
	assert_int_equal(alert_gate_clear(g, AK_PROFILE_CONFIG, NULL, "main",
	    on_clear, NULL), 0);
	/* Later: a new episode alerts again. */
	assert_int_equal(alert_gate_raise(g, AK_PROFILE_CONFIG, "a", "main",
	    5000, 3600, &since), 1);
	assert_int_equal(since, 5000);
	/* The spool's condition is per site; clearing all sites. */
	assert_int_equal(alert_gate_raise(g, AK_SPOOL_FULL, "a", NULL, 10, 60,
	    &since), 1);
	assert_int_equal(alert_gate_raise(g, AK_SPOOL_FULL, "b", NULL, 10, 60,
	    &since), 1);
	cleared = 0;
	assert_int_equal(alert_gate_clear(g, AK_SPOOL_FULL, NULL, NULL,
	    on_clear, NULL), 2);
	assert_int_equal(cleared, 2);
	alert_gate_free(g);
}

/* More keys than the gate remembers: it keeps working in fixed memory,
 * and active conditions outlive forgotten events. */
static void
gate_fixed_memory(void **state)
{
	struct alert_gate *g = alert_gate_new();
	long long since;
	char site[32];
	int i;

	(void)state;
	assert_int_equal(alert_gate_raise(g, AK_QUEUE_OLD, "", NULL, 1, 60,
	    &since), 1);
	for (i = 0; i < 3 * LIM_ALERT_KEYS; i++) {
		snprintf(site, sizeof site, "s%d", i);
		assert_int_equal(alert_gate_raise(g, AK_CORRUPT, site, NULL,
		    2 + i, 60, &since), 1);
	}
	assert_int_equal(alert_gate_raise(g, AK_QUEUE_OLD, "", NULL, 5000, 60,
	    &since), 0);
	assert_int_equal(alert_gate_clear(g, AK_QUEUE_OLD, NULL, NULL, NULL,
	    NULL), 1);
	alert_gate_free(g);
}

static int
has(const struct buf *b, const char *needle)
{
	return b->len && strstr(b->data, needle) != NULL;
}

static void
words(void **state)
{
	struct alert a = { .kind = AK_PROFILE_CONFIG, .since = 1767225600,
	    .at = 1767225660 };
	char *to[] = { "ops@example.com", "oncall@example.com" };
	struct buf b;
	size_t i, col = 0;

	(void)state;
	snprintf(a.site, sizeof a.site, "example");
	snprintf(a.profile, sizeof a.profile, "main");
	snprintf(a.id, sizeof a.id, "AAAAAAAAAAAAAAAAAAAA");
	snprintf(a.detail, sizeof a.detail, "535 5.7.8 \"bad\" credentials");
	buf_init(&b);
	alert_json(&a, "web1", &b);
	assert_true(has(&b, "{\"text\":\"formpost alert on web1: SMTP profile"));
	assert_true(has(&b, "\"event\":\"profile_config\",\"state\":\"firing\","
	    "\"site\":\"example\",\"id\":\"AAAAAAAAAAAAAAAAAAAA\","
	    "\"since\":\"2026-01-01T00:00:00Z\",\"profile\":\"main\""));
	assert_true(has(&b, "\\\"bad\\\" credentials"));
	assert_true(has(&b, ",\"content\":\"formpost alert on web1"));
	buf_reset(&b);
	a.kind = AK_CORRUPT;
	a.profile[0] = '\0';
	alert_json(&a, "web1", &b);
	assert_false(has(&b, "\"profile\""));
	assert_true(has(&b, "\"event\":\"corrupt\""));
	buf_reset(&b);
	a.kind = AK_SPOOL_FULL;
	a.resolved = 1;
	alert_json(&a, "web1", &b);
	assert_true(has(&b, "formpost all clear on web1: spool accepts posts "
	    "again"));
	assert_true(has(&b, "\"state\":\"resolved\""));
	assert_false(has(&b, "credentials"));
	buf_reset(&b);
	a.resolved = 0;
	assert_int_equal(alert_mail(&a, "web1", "noreply@example.com", to, 2,
	    "MSGID", &b), 0);
	assert_true(has(&b, "From: noreply@example.com\r\nTo: ops@example.com,"
	    "\r\n oncall@example.com\r\nSubject: [formpost] alert: spool_full "
	    "site example\r\n"));
	assert_true(has(&b, "Message-ID: <MSGID@example.com>\r\n"));
	assert_true(has(&b, "Auto-Submitted: auto-generated\r\n\r\n"));
	for (i = 0; i < b.len; i++) {
		unsigned char c = (unsigned char)b.data[i];
		assert_true(c < 0x80);
		if (c == '\n')
			assert_true(i > 0 && b.data[i - 1] == '\r');
		col = c == '\n' ? 0 : col + 1;
		assert_true(col <= 998);
	}
	buf_free(&b);
}

static void
webhook_urls(void **state)
{
	static const struct { const char *url; int ok; } t[] = {
		{ "https://hooks.slack.com/services/T0/B0/x", 1 },
		{ "https://discord.com/api/webhooks/1/a?wait=true", 1 },
		{ "http://127.0.0.1:8080/hook", 1 },
		{ "http://localhost/hook", 1 },
		{ "http://[::1]:9/h", 1 },
		{ "https://[2001:db8::1]/h", 1 },
		{ "http://hooks.example.com/h", 0 },
		{ "http://127.0.0.1.example.com/h", 0 },
		{ "http://user@127.0.0.1/h", 0 },
		{ "https://u:p@hooks.example.com/h", 0 },
		{ "https://hooks.example.com/a b", 0 },
		{ "https://hooks.example.com/\x01", 0 },
		{ "https:///h", 0 },
		{ "http://[::1/h", 0 },
		{ "ftp://127.0.0.1/h", 0 },
		{ "file:///etc/passwd", 0 },
		{ "", 0 },
	};
	const char *why;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof t / sizeof t[0]; i++)
		if ((config_webhook_ok(t[i].url, &why) == 0) != t[i].ok)
			fail_msg("%s: want %s", t[i].url, t[i].ok ? "ok" :
			    "refused");
}

static void
raise_without_start_is_quiet(void **state)
{
	(void)state;
	/* The CLI and tests never start the alerter: nothing happens. */
	alert_raise(AK_CORRUPT, "a", NULL, "x", "y");
	alert_clear(AK_SPOOL_FULL, NULL, NULL);
	alert_stop();
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(gate_events),
		cmocka_unit_test(gate_lasting),
		cmocka_unit_test(gate_fixed_memory),
		cmocka_unit_test(words),
		cmocka_unit_test(webhook_urls),
		cmocka_unit_test(raise_without_start_is_quiet),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
