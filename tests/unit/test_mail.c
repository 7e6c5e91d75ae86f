/*
 * Whole messages: mail_compose with fixed facts (id, time, offset) against
 * golden files in tests/fixtures/mail/, byte for byte, for a Japanese and
 * an English site; the envelope (Bcc only there); the per-site template
 * folder; subject flattening; refusals; the envelope re-check in smtp_send.
 *
 * FORMPOST_UPDATE_GOLDEN=1 rewrites the golden files from the current
 * output (then read the diff before committing them).  Run from the
 * repository root (tests/run.py does).
 */
#include "unit.h"

#include <stdio.h>
#include <stdlib.h>

#include "config.h"
#include "form.h"
#include "mail.h"
#include "pages.h"
#include "smtp.h"
#include "validate.h"

#define GOLDEN_DIR "tests/fixtures/mail/"

static const char yaml[] =
    "templates: templates\n"
    "smtp:\n  m:\n    url: smtp://127.0.0.1:25\n    starttls: off\n"
    "sites:\n"
    "  shop:\n"
    "    origins: [https://www.shop.example.jp]\n"
    "    from: \"サンプル商店 お問い合わせ <noreply@shop.example.jp>\"\n"
    "    envelope_from: bounces@shop.example.jp\n"
    "    to: [info@shop.example.jp, Owner@Shop.Example.JP]\n"
    "    cc: [owner@shop.example.jp, staff@shop.example.jp]\n"
    "    bcc: [archive@shop.example.jp, INFO@shop.example.jp]\n"
    "    smtp: [m]\n"
    "    subject: \"【お問い合わせ】{{topic}}：{{subject}}\"\n"
    "    lang: ja\n"
    "    reply_to_name: name\n"
    "    fields:\n"
    "      name: { label: お名前, required: true, max: 100 }\n"
    "      email: { label: メールアドレス, type: email, required: true,"
    " reply_to: true }\n"
    "      email2: { label: メールアドレス（確認）, type: email,"
    " confirm: email }\n"
    "      phone: { label: 電話番号, type: tel }\n"
    "      topic: { label: 種別, type: select, options: [見積, 採用, その他] }\n"
    "      subject: { label: 件名, max: 300 }\n"
    "      message: { label: お問い合わせ内容, type: multiline,"
    " required: true, max: 5000 }\n"
    "      agree: { label: 個人情報の取扱いに同意する, type: checkbox,"
    " required: true }\n"
    "    auto_reply: { echo: [name, topic, subject, message] }\n"
    "  studio:\n"
    "    origins: [https://studio.example.com]\n"
    "    from: \"Studio Web Form <form@studio.example.com>\"\n"
    "    to: [hello@studio.example.com]\n"
    "    smtp: [m]\n"
    "    subject: \"Contact: {{subject}}\"\n"
    "    lang: en\n"
    "    reply_to_name: name\n"
    "    fields:\n"
    "      name: { label: Name, required: true }\n"
    "      email: { label: Email, type: email, required: true,"
    " reply_to: true }\n"
    "      company: { label: Company }\n"
    "      subject: { label: Subject, max: 300 }\n"
    "      message: { label: Message, type: multiline, required: true,"
    " max: 5000 }\n"
    "      newsletter: { label: Send me the newsletter, type: checkbox }\n"
    "  ar:\n"
    "    origins: [https://ar.example.com]\n"
    "    from: form@ar.example.com\n"
    "    to: [owner@ar.example.com]\n"
    "    smtp: [m]\n"
    "    lang: en\n"
    "    reply_to_name: name\n"
    "    templates: tests/fixtures/mail/ar\n"
    "    fields:\n"
    "      name: { label: Name }\n"
    "      email: { label: Email, type: email, reply_to: true }\n"
    "      message: { label: Message, type: multiline }\n"
    "    auto_reply:\n"
    "      subject: \"Got it {{name}}/{{message}}\"\n"
    "      echo: [message]\n"
    "  custom:\n"
    "    origins: [https://c.example.com]\n"
    "    from: c@c.example.com\n"
    "    to: [to@c.example.com]\n"
    "    smtp: [m]\n"
    "    subject: \"{{message}}\"\n"
    "    lang: en\n"
    "    templates: tests/fixtures/mail/override\n"
    "    fields:\n"
    "      name: { label: Name }\n"
    "      message: { label: Message, type: multiline }\n";

#include "fixture.h"


static const struct mail_facts facts_ja = {
	.id = "Fp7Qm2x9Kd4LwZr8Tn3V", .ip = "192.0.2.10",
	.page = "https://www.shop.example.jp/contact/",
	.now = 1790000000, .utc_offset_min = 540,
};
static const struct mail_facts facts_en = {
	.id = "Zx-8_kP3qR7mN2vB5tY1", .ip = "2001:db8::7",
	.page = NULL, .now = 1790000000, .utc_offset_min = -300,
};

/* Validates NULL-terminated (name, value) pairs for site s; every field
 * must pass. */
static void
fill(const struct site *s, struct fvals *v, const char *const *kv)
{
	struct form f = { 0 };
	size_t n, i;

	for (n = 0; kv[2 * n]; n++)
		;
	f.fields = calloc(n + 1, sizeof *f.fields);
	assert_non_null(f.fields);
	for (i = 0; i < n; i++) {
		f.fields[i].name = strdup(kv[2 * i]);
		f.fields[i].name_len = strlen(kv[2 * i]);
		f.fields[i].value = strdup(kv[2 * i + 1]);
		f.fields[i].value_len = strlen(kv[2 * i + 1]);
	}
	f.n = n;
	assert_int_equal(validate_form(s, &f, v), 0);
	for (i = 0; i < v->n; i++)
		if (v->v[i].error)
			fail_msg("field %s: %s", s->fields[i].name,
			    v->v[i].error);
	form_free(&f);
}

static char *
slurp(const char *path, size_t *len)
{
	FILE *fp = fopen(path, "rb");
	char *p = NULL;
	long n;

	if (fp == NULL)
		return NULL;
	if (fseek(fp, 0, SEEK_END) == 0 && (n = ftell(fp)) >= 0 &&
	    fseek(fp, 0, SEEK_SET) == 0 && (p = malloc((size_t)n + 1)) &&
	    fread(p, 1, (size_t)n, fp) == (size_t)n)
		*len = (size_t)n;
	else {
		free(p);
		p = NULL;
	}
	fclose(fp);
	return p;
}

/* Compares b with GOLDEN_DIR name byte for byte (or rewrites the file). */
static void
golden(const char *name, const struct buf *b)
{
	char path[256];
	char *want;
	size_t wlen = 0, i;
	FILE *fp;

	snprintf(path, sizeof path, GOLDEN_DIR "%s", name);
	if (getenv("FORMPOST_UPDATE_GOLDEN")) {
		fp = fopen(path, "wb");
		assert_non_null(fp);
		assert_int_equal(fwrite(b->data, 1, b->len, fp), b->len);
		assert_int_equal(fclose(fp), 0);
		return;
	}
	want = slurp(path, &wlen);
	if (want == NULL)
		fail_msg("%s missing (run from the repository root)", path);
	for (i = 0; i < wlen && i < b->len && want[i] == b->data[i]; i++)
		;
	if (i < wlen || i < b->len)
		fail_msg("%s differs at octet %zu (golden %zu octets, got %zu)",
		    path, i, wlen, b->len);
	free(want);
}

/* The wire is CRLF only, no line over 998, headers then a blank line. */
static void
wire_sane(const struct buf *b)
{
	size_t i, start;

	for (i = start = 0; i < b->len; i++) {
		if (b->data[i] == '\n')
			assert_true(i > 0 && b->data[i - 1] == '\r');
		if (b->data[i] == '\r') {
			assert_true(i + 1 < b->len && b->data[i + 1] == '\n');
			assert_true(i - start <= 998);
			start = i + 2;
		}
	}
	assert_int_equal(start, b->len);
	assert_non_null(memmem(b->data, b->len, "\r\n\r\n", 4));
}

/* Counts header lines starting with name + ':' (case-insensitive). */
static int
header_count(const struct buf *b, const char *name)
{
	const char *end = memmem(b->data, b->len, "\r\n\r\n", 4);
	const char *p = b->data;
	size_t n = strlen(name);
	int count = 0;

	while (p && p < end) {
		if (strncasecmp(p, name, n) == 0 && p[n] == ':')
			count++;
		p = memmem(p, (size_t)(end - p), "\r\n", 2);
		if (p)
			p += 2;
	}
	return count;
}

static char *
big(const char *unit, size_t times, const char *tail)
{
	struct buf b;
	size_t i;

	buf_init(&b);
	for (i = 0; i < times; i++)
		buf_adds(&b, unit);
	buf_adds(&b, tail);
	return buf_steal(&b);
}

static void
test_golden_ja(void **state)
{
	const struct site *s = config_site(cfg, "shop");
	char *longline = big("長", 2000, "");
	char *subject = big("ご注文の商品の配送について", 8,
	    "教えてください🙏");
	char *msg = NULL;
	struct fvals v = { 0 };
	struct mail m;
	char err[256];
	size_t n;

	(void)state;
	assert_non_null(s);
	n = (size_t)asprintf(&msg, "いつもお世話になっております。\r\n"
	    ".\r\n"
	    "From 東京 (a line that mbox would mangle)\n"
	    "..two dots\r"
	    "絵文字も使います 🎉👍🏻\r\n"
	    "\r\n"
	    "%s\r\n"
	    "=?UTF-8?Q?=0A?= Bcc: evil@example.net\n"
	    "最後の行", longline);
	assert_true(n > 0);
	{
		const char *kv[] = {
			"name", "山田 太郎", "email", "taro..yamada.@docomo.ne.jp",
			"email2", "taro..yamada.@docomo.ne.jp",
			"phone", "０３－１２３４－５６７８", "topic", "見積",
			"subject", subject, "message", msg, "agree", "1", NULL
		};
		fill(s, &v, kv);
	}
	assert_int_equal(mail_compose(s, pg, &v, &facts_ja, &m, err,
	    sizeof err), 0);
	wire_sane(&m.wire);
	golden("ja.eml", &m.wire);
	assert_string_equal(m.sender, "bounces@shop.example.jp");
	/* to + cc + bcc, each once whatever its case. */
	assert_int_equal(m.nrcpt, 4);
	assert_string_equal(m.rcpt[0], "info@shop.example.jp");
	assert_string_equal(m.rcpt[1], "Owner@Shop.Example.JP");
	assert_string_equal(m.rcpt[2], "staff@shop.example.jp");
	assert_string_equal(m.rcpt[3], "archive@shop.example.jp");
	assert_int_equal(header_count(&m.wire, "Bcc"), 0);
	assert_null(memmem(m.wire.data, m.wire.len, "archive@", 8));
	assert_int_equal(header_count(&m.wire, "Reply-To"), 1);
	assert_int_equal(header_count(&m.wire, "Subject"), 1);
	assert_non_null(strstr(m.wire.data,
	    "Reply-To: =?UTF-8?B?5bGx55SwIOWkqumDjg==?= "
	    "<\"taro..yamada.\"@docomo.ne.jp>\r\n"));
	assert_non_null(strstr(m.wire.data,
	    "Message-ID: <Fp7Qm2x9Kd4LwZr8Tn3V@shop.example.jp>\r\n"));
	assert_non_null(strstr(m.wire.data,
	    "Date: Mon, 21 Sep 2026 23:13:20 +0900\r\n"));
	mail_free(&m);
	fvals_free(&v);
	free(msg);
	free(subject);
	free(longline);
}

/* The receipt of the golden post: to the visitor alone, replies to the
 * owner, RFC 3834 headers, only the echo fields, the long message
 * omitted; golden receipt-ja.eml. */
static void
test_receipt_ja(void **state)
{
	const struct site *s = config_site(cfg, "shop");
	char *longline = big("長", 300, "");
	const char *kv[] = {
		"name", "山田 太郎", "email", "taro..yamada.@docomo.ne.jp",
		"email2", "taro..yamada.@docomo.ne.jp", "phone", "0312345678",
		"topic", "見積", "subject", "見積のお願い", "message", longline,
		"agree", "1", NULL
	};
	struct fvals v = { 0 };
	struct mail m;
	char err[256];

	(void)state;
	fill(s, &v, kv);
	assert_int_equal(mail_compose_receipt(s, pg, &v, &facts_ja, &m, err,
	    sizeof err), 0);
	wire_sane(&m.wire);
	golden("receipt-ja.eml", &m.wire);
	assert_string_equal(m.sender, "bounces@shop.example.jp");
	assert_int_equal(m.nrcpt, 1);
	assert_string_equal(m.rcpt[0], "taro..yamada.@docomo.ne.jp");
	assert_int_equal(header_count(&m.wire, "To"), 1);
	assert_int_equal(header_count(&m.wire, "Cc"), 0);
	assert_int_equal(header_count(&m.wire, "Bcc"), 0);
	assert_int_equal(header_count(&m.wire, "Precedence"), 0);
	assert_non_null(strstr(m.wire.data,
	    "\r\nReply-To: info@shop.example.jp\r\n"));
	assert_non_null(strstr(m.wire.data,
	    "<\"taro..yamada.\"@docomo.ne.jp>\r\n"));
	assert_non_null(strstr(m.wire.data,
	    "\r\nAuto-Submitted: auto-replied\r\n"));
	assert_non_null(strstr(m.wire.data,
	    "\r\nX-Auto-Response-Suppress: All\r\n"));
	assert_non_null(strstr(m.wire.data,
	    "Message-ID: <Fp7Qm2x9Kd4LwZr8Tn3V-R@shop.example.jp>\r\n"));
	/* the phone is not an echo field; the message is too long */
	assert_null(strstr(m.wire.data, "0312345678"));
	assert_null(strstr(m.wire.data, "長長長"));
	mail_free(&m);
	fvals_free(&v);
	free(longline);
}

/* The receipt's subject, To name and body see only echo fields, and
 * those only as the echo rules allow: spam in the name or the message
 * reaches no part of it. */
static void
test_receipt_sees_only_echo(void **state)
{
	const struct site *s = config_site(cfg, "ar");
	const char *kv[] = { "name", "Cheap pills at www.evil.example",
	    "email", "victim@example.org", "message",
	    "visit https://evil.example/buy", NULL };
	struct fvals v = { 0 };
	struct mail m;
	char err[256];

	(void)state;
	fill(s, &v, kv);
	assert_int_equal(mail_compose_receipt(s, pg, &v, &facts_en, &m, err,
	    sizeof err), 0);
	assert_null(memmem(m.wire.data, m.wire.len, "evil", 4));
	assert_null(memmem(m.wire.data, m.wire.len, "pills", 5));
	assert_non_null(strstr(m.wire.data, "\r\nTo: victim@example.org\r\n"));
	assert_non_null(strstr(m.wire.data,
	    "\r\nSubject: Got it /(omitted)\r\n"));
	assert_non_null(strstr(m.wire.data, "Message: (omitted)"));
	assert_string_equal(m.rcpt[0], "victim@example.org");
	/* the site's templates folder has its own auto_reply.txt */
	assert_non_null(strstr(m.wire.data,
	    "Site's own receipt Zx-8_kP3qR7mN2vB5tY1."));
	mail_free(&m);
	fvals_free(&v);
}

/* A site without auto_reply, or a post without an address: none. */
static void
test_receipt_refused(void **state)
{
	const struct site *s = config_site(cfg, "studio");
	const char *kv[] = { "name", "Ann", "email", "ann@example.com",
	    "message", "hi", NULL };
	struct fvals v = { 0 };
	struct mail m;
	char err[256];

	(void)state;
	fill(s, &v, kv);
	assert_int_equal(mail_compose_receipt(s, pg, &v, &facts_en, &m, err,
	    sizeof err), -1);
	assert_null(m.sender);
	fvals_free(&v);
}

static void
test_golden_ja_minimal(void **state)
{
	const struct site *s = config_site(cfg, "shop");
	const char *kv[] = {
		"name", "佐藤花子", "email", "hanako@example.jp",
		"email2", "hanako@example.jp",
		"message", "在庫はありますか？", "agree", "on", NULL
	};
	struct fvals v = { 0 };
	struct mail m;
	char err[256];
	struct mail_facts f = facts_ja;

	(void)state;
	f.page = NULL;
	fill(s, &v, kv);
	assert_int_equal(mail_compose(s, pg, &v, &f, &m, err, sizeof err), 0);
	wire_sane(&m.wire);
	golden("ja-minimal.eml", &m.wire);
	mail_free(&m);
	fvals_free(&v);
}

static void
test_golden_en(void **state)
{
	const struct site *s = config_site(cfg, "studio");
	char *longline = big("0123456789", 200, "");
	char *msg = NULL;
	struct fvals v = { 0 };
	struct mail m;
	char err[256];

	(void)state;
	assert_non_null(s);
	assert_true(asprintf(&msg, "Hello,\r\n.\r\nFrom here on, a story.\n"
	    ".hidden\r%s\r\n\r\n\r\nCheers 😀\n  -- Ann\r\n\r\n", longline) > 0);
	{
		const char *kv[] = {
			"name", "Ann \"Annie\" O'Neil, Jr. <boss@evil.example>",
			"email", "ＡＮＮ＠Example．COM",
			"company", "",
			"subject", "Re: =?UTF-8?Q?=0A?= Bcc: x@evil.example, "
			    "order #1234 — where is it? Also: To: y@evil.example",
			"message", msg, NULL
		};
		fill(s, &v, kv);
	}
	assert_int_equal(mail_compose(s, pg, &v, &facts_en, &m, err,
	    sizeof err), 0);
	wire_sane(&m.wire);
	golden("en.eml", &m.wire);
	assert_string_equal(m.sender, "form@studio.example.com");
	assert_int_equal(m.nrcpt, 1);
	assert_string_equal(m.rcpt[0], "hello@studio.example.com");
	assert_int_equal(header_count(&m.wire, "Bcc"), 0);
	assert_int_equal(header_count(&m.wire, "To"), 1);
	assert_int_equal(header_count(&m.wire, "Cc"), 0);
	assert_non_null(strstr(m.wire.data, "Reply-To: \"Ann \\\"Annie\\\" "
	    "O'Neil, Jr. <boss@evil.example>\" <ANN@example.com>\r\n"));
	assert_non_null(strstr(m.wire.data,
	    "Date: Mon, 21 Sep 2026 09:13:20 -0500\r\n"));
	mail_free(&m);
	fvals_free(&v);
	free(msg);
	free(longline);
}

/* The site's own folder overrides mail.txt; a multiline field in the
 * subject has each line break folded to one space. */
static void
test_override_and_flatten(void **state)
{
	const struct site *s = config_site(cfg, "custom");
	const char *kv[] = {
		"name", "Bo", "message", "  one\r\ntwo\rthree\nfour\tfive\t \n", NULL
	};
	struct fvals v = { 0 };
	struct mail m;
	char err[256];

	(void)state;
	fill(s, &v, kv);
	assert_int_equal(mail_compose(s, pg, &v, &facts_en, &m, err,
	    sizeof err), 0);
	assert_non_null(strstr(m.wire.data,
	    "Subject: one two three four five\r\n"));
	golden("override.eml", &m.wire);
	assert_non_null(strstr(m.wire.data, "OVERRIDE Zx-8_kP3qR7mN2vB5tY1"));
	mail_free(&m);
	fvals_free(&v);
}

/* Values that got past validation some other way still cannot reach a
 * header: the writer refuses and nothing is composed. */
static void
test_refusals(void **state)
{
	static const char *const bad[] = {
		"x\r\nBcc: evil@example.net", "x\nTo: evil@example.net",
		"x\rCc: e@example.net", "x\xe2\x80\xa8y", "x\xc2\x85y",
		"x\x7fy", "x\x1b[0m", "bad \xff utf8",
	};
	const struct site *s = config_site(cfg, "studio");
	const char *kv[] = {
		"name", "Ann", "email", "ann@example.com", "subject", "s",
		"message", "m", NULL
	};
	struct fvals v = { 0 };
	struct mail m;
	char err[256], *keep;
	size_t i;

	(void)state;
	fill(s, &v, kv);
	keep = v.v[0].value;
	for (i = 0; i < ARRAY_LEN(bad); i++) {
		/* As the display name of Reply-To. */
		v.v[0].value = (char *)bad[i];
		assert_int_equal(mail_compose(s, pg, &v, &facts_en, &m, err,
		    sizeof err), -1);
		assert_null(m.rcpt);
		assert_int_equal(m.wire.len, 0);
	}
	v.v[0].value = keep;
	/* An address with a line break never becomes Reply-To. */
	v.reply_to = "ann@example.com\r\nBcc: evil@example.net";
	assert_int_equal(mail_compose(s, pg, &v, &facts_en, &m, err,
	    sizeof err), -1);
	v.reply_to = NULL;
	assert_int_equal(mail_compose(s, pg, &v, &facts_en, &m, err,
	    sizeof err), 0);
	assert_int_equal(header_count(&m.wire, "Reply-To"), 0);
	mail_free(&m);
	v.reply_to = NULL;
	fvals_free(&v);
}

/* smtp_send re-checks the envelope before libcurl sees it: a CR or LF in
 * MAIL FROM or RCPT TO would start a new SMTP command. */
static void
test_smtp_envelope_recheck(void **state)
{
	static const char *const bad[] = {
		"a@example.com\r\nRCPT TO:<evil@example.net>",
		"a@example.com\nDATA", "a@example.com>", "<a@example.com",
		"a b@example.com", "", "a@exa\xc3\xa9mple.com",
	};
	const struct smtp_profile *p = cfg->sites[0].smtp[0];
	struct smtp_client *c;
	struct smtp_rcpt r[2];
	struct smtp_result res;
	char err[128];
	size_t i;

	(void)state;
	assert_int_equal(smtp_global_init(err, sizeof err), 0);
	c = smtp_client_new();
	assert_non_null(c);
	for (i = 0; i < ARRAY_LEN(bad); i++) {
		memset(r, 0, sizeof r);
		r[0].addr = "ok@example.com";
		r[1].addr = bad[i];
		/* Nothing listens on port 25 here; the check comes first. */
		assert_int_equal(smtp_send(c, p, "s@example.com", r, 2, "x\r\n",
		    3, &res, NULL, NULL), -1);
		assert_int_equal(res.outcome, OUT_PERM);
		assert_int_equal(r[1].outcome, OUT_PERM);
		assert_non_null(strstr(res.reply, "envelope address refused"));
		r[1].addr = "ok2@example.com";
		assert_int_equal(smtp_send(c, p, bad[i], r, 2, "x\r\n", 3, &res,
		    NULL, NULL), -1);
		assert_int_equal(res.outcome, OUT_PERM);
	}
	smtp_client_free(c);
	smtp_global_cleanup();
}

/* reply_to_name may name a multiline field: its line breaks are folded to
 * spaces in the Reply-To display name, as in the Subject, instead of the
 * writer refusing the header and every such post ending as a 503. */
static void
test_multiline_reply_to_name(void **state)
{
	static const char y[] =
	    "templates: templates\n"
	    "smtp:\n  m:\n    url: smtp://127.0.0.1:25\n    starttls: off\n"
	    "sites:\n"
	    "  ml:\n"
	    "    origins: [https://ml.example.com]\n"
	    "    from: ml@ml.example.com\n"
	    "    to: [to@ml.example.com]\n"
	    "    smtp: [m]\n"
	    "    subject: Hello\n"
	    "    lang: en\n"
	    "    reply_to_name: who\n"
	    "    fields:\n"
	    "      who: { label: Who, type: multiline }\n"
	    "      email: { label: Email, type: email, reply_to: true }\n";
	const char *kv[] = { "who", "Taro\r\nYamada\tJr", "email",
	    "taro@example.jp", NULL };
	struct config *c;
	struct pages *p;
	struct fvals v = { 0 };
	struct mail m;
	char err[512];

	(void)state;
	c = config_parse("ml.yaml", NULL, y, sizeof y - 1, err, sizeof err);
	if (c == NULL)
		fail_msg("config: %s", err);
	p = pages_load(c, err, sizeof err);
	if (p == NULL)
		fail_msg("pages: %s", err);
	fill(config_site(c, "ml"), &v, kv);
	if (mail_compose(config_site(c, "ml"), p, &v, &facts_en, &m, err,
	    sizeof err) != 0)
		fail_msg("compose: %s", err);
	assert_non_null(strstr(m.wire.data,
	    "Reply-To: Taro Yamada Jr <taro@example.jp>\r\n"));
	mail_free(&m);
	fvals_free(&v);
	pages_free(p);
	config_free(c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_golden_ja),
		cmocka_unit_test(test_golden_ja_minimal),
		cmocka_unit_test(test_receipt_ja),
		cmocka_unit_test(test_receipt_refused),
		cmocka_unit_test(test_receipt_sees_only_echo),
		cmocka_unit_test(test_golden_en),
		cmocka_unit_test(test_override_and_flatten),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_smtp_envelope_recheck),
		cmocka_unit_test(test_multiline_reply_to_name),
	};

	return cmocka_run_group_tests(tests, setup_pages, teardown);
}
