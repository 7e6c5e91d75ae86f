/*
 * What a receipt may echo (echo.h), the carrier table (addr_carrier) and
 * the spool's receipt names (spool_id_valid).
 */
#include "unit.h"

#include <stdlib.h>

#include "addr.h"
#include "echo.h"
#include "spool.h"

static int
unsafe(const char *s)
{
	return echo_unsafe(s, strlen(s));
}

static void
links_and_addresses(void **state)
{
	static const char *const bad[] = {
		"http://example.com", "see HTTPS://x.example/a", "ftp://x",
		"www.example.com", "WWW.Example", "example.com/path",
		"go to shop.example.co.jp/sale now", "taro@example.jp",
		"mail me: a.b@sub.example.org", "ｈｔｔｐｓ：／／ｘ．ｊｐ",
		"ｗｗｗ．ｅｘａｍｐｌｅ", "ｔａｒｏ＠ｅｘａｍｐｌｅ．ｊｐ",
		"evil。example/x", "@example.com",
	};
	static const char *const good[] = {
		"", "山田 太郎", "見積のお願い", "1.5/2 cups", "a/b",
		"version 2.0/3.1", "meet @ noon", "@taro", "taro@localhost",
		"e.g. this", "3.14", "rock'n'roll/jazz",
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof bad / sizeof *bad; i++)
		if (!unsafe(bad[i]))
			fail_msg("should be omitted: %s", bad[i]);
	for (i = 0; i < sizeof good / sizeof *good; i++)
		if (unsafe(good[i]))
			fail_msg("should be echoed: %s", good[i]);
}

static void
length_in_characters(void **state)
{
	char s[4 * 202];
	size_t i;

	(void)state;
	s[0] = '\0';
	for (i = 0; i < 200; i++)
		strcat(s, "あ");           /* 600 bytes, 200 characters */
	assert_false(unsafe(s));
	strcat(s, "あ");
	assert_true(unsafe(s));
	memset(s, 'a', 201);
	s[201] = '\0';
	assert_true(unsafe(s));
	s[200] = '\0';
	assert_false(unsafe(s));
	/* invalid UTF-8 is never echoed */
	assert_true(echo_unsafe("\xff", 1));
}

static char *
fmt(const char *v, enum lang lang)
{
	struct buf b;

	buf_init(&b);
	assert_int_equal(echo_format(v, lang, &b), 0);
	buf_addc(&b, '\0');
	return buf_steal(&b);
}

static void
format(void **state)
{
	char *s;

	(void)state;
	s = fmt("一行だけ", LANG_JA);
	assert_string_equal(s, "一行だけ");
	free(s);
	s = fmt("一行目\r\n\r\n三行目", LANG_JA);
	assert_string_equal(s, "> 一行目\n>\n> 三行目");
	free(s);
	s = fmt("a\rb\nc", LANG_EN);
	assert_string_equal(s, "> a\n> b\n> c");
	free(s);
	s = fmt("see http://x.example\r\nplease", LANG_JA);
	assert_string_equal(s, "（省略）");
	free(s);
	s = fmt("x@example.com", LANG_EN);
	assert_string_equal(s, "(omitted)");
	free(s);
}

static void
carriers(void **state)
{
	static const struct { const char *d, *fam; } t[] = {
		{ "docomo.ne.jp", "docomo" }, { "DoCoMo.ne.JP", "docomo" },
		{ "ezweb.ne.jp", "au" }, { "au.com", "au" },
		{ "biz.ezweb.ne.jp", "au" }, { "softbank.ne.jp", "softbank" },
		{ "i.softbank.jp", "softbank" }, { "disney.ne.jp", "softbank" },
		{ "ymobile.ne.jp", "ymobile" }, { "y-mobile.ne.jp", "ymobile" },
		{ "emobile.ne.jp", "ymobile" }, { "pdx.ne.jp", "ymobile" },
		{ "dj.pdx.ne.jp", "ymobile" }, { "willcom.com", "ymobile" },
		{ "wcm.ne.jp", "ymobile" }, { "rakumail.jp", "rakuten" },
		{ "example.jp", NULL }, { "notdocomo.ne.jp", NULL },
		{ "docomo.ne.jp.evil.example", NULL }, { "au.com.example", NULL },
		{ "mau.com", NULL }, { "gmail.com", NULL },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof t / sizeof *t; i++) {
		const char *got = addr_carrier(t[i].d);
		if (t[i].fam == NULL ? got != NULL :
		    got == NULL || strcmp(got, t[i].fam) != 0)
			fail_msg("%s: got %s", t[i].d, got ? got : "NULL");
	}
	/* the legacy rule is unchanged: exact domains only */
	assert_true(addr_legacy_domain("docomo.ne.jp"));
	assert_false(addr_legacy_domain("rakumail.jp"));
	assert_false(addr_legacy_domain("x.docomo.ne.jp"));
}

static void
receipt_names(void **state)
{
	(void)state;
	assert_true(spool_id_valid("Fp7Qm2x9Kd4LwZr8Tn3V"));
	assert_true(spool_id_valid("Fp7Qm2x9Kd4LwZr8Tn3V-R"));
	assert_true(spool_id_is_receipt("Fp7Qm2x9Kd4LwZr8Tn3V-R"));
	assert_false(spool_id_is_receipt("Fp7Qm2x9Kd4LwZr8Tn3V"));
	assert_true(spool_id_valid("-p7Qm2x9Kd4LwZr8Tn-R"));   /* an id */
	assert_false(spool_id_is_receipt("-p7Qm2x9Kd4LwZr8Tn-R"));
	assert_false(spool_id_valid("Fp7Qm2x9Kd4LwZr8Tn3V-R-R"));
	assert_false(spool_id_valid("Fp7Qm2x9Kd4LwZr8Tn3V-X"));
	assert_false(spool_id_valid("Fp7Qm2x9Kd4LwZr8Tn3-R"));
	assert_false(spool_id_valid("-R"));
	assert_false(spool_id_valid(""));
	assert_false(spool_id_valid("../queue/Fp7Qm2x9Kd4LwZr8-R"));
	assert_int_equal(SPOOL_ID_MAX, ID_MAX + 2);
	/* the readable ids of today, and what people type for them */
	assert_true(spool_id_valid("K3M9-7QXA-2BTD-R"));
	assert_true(spool_id_is_receipt("K3M9-7QXA-2BTD-R"));
	assert_false(spool_id_valid("K3M9-7QXA-2BTD-R "));
	{
		char out[SPOOL_ID_MAX + 1];
		assert_int_equal(spool_id_from_user("k3m97qxa2btd-r", out), 0);
		assert_string_equal(out, "K3M9-7QXA-2BTD-R");
		assert_int_equal(spool_id_from_user("K3M9-7QXA-2BTD", out), 0);
		assert_string_equal(out, "K3M9-7QXA-2BTD");
		assert_int_equal(spool_id_from_user("Fp7Qm2x9Kd4LwZr8Tn3V-R",
		    out), 0);
		assert_string_equal(out, "Fp7Qm2x9Kd4LwZr8Tn3V-R");
		assert_int_equal(spool_id_from_user("K3M9-7QXA-2BT-R", out), -1);
		assert_int_equal(spool_id_from_user("-R", out), -1);
		assert_int_equal(spool_id_from_user("../K3M9-7QXA-2BTD", out),
		    -1);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(links_and_addresses),
		cmocka_unit_test(length_in_characters),
		cmocka_unit_test(format),
		cmocka_unit_test(carriers),
		cmocka_unit_test(receipt_names),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
