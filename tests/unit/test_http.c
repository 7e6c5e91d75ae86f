/*
 * test_http — the request pipeline without FastCGI: routing with the
 * parameter shapes nginx and Apache really send (recorded through
 * tests/integration fcgi_echo), the Origin rule, the language of pages
 * no site claims, and http_handle's answers for every status it makes
 * (but 422's details), with a fake body reader, a fake store and a fake
 * clock.
 */
#include "unit.h"

#include <stdio.h>
#include <stdlib.h>

#include "config.h"
#include "http.h"
#include "pages.h"
#include "ratelimit.h"

static const char yaml[] =
    "templates: templates\n"
    "limits: { max_body: 2k }\n"
    "metrics: { allow: [\"::1\", 127.0.0.1] }\n"
    "smtp:\n  m:\n    url: smtp://127.0.0.1:25\n    starttls: off\n"
    "sites:\n"
    "  example:\n    origins: [https://www.example.com, https://example.com]\n"
    "    from: a@example.com\n    to: [b@example.com]\n    lang: ja\n"
    "    redirect: https://www.example.com/thanks.html\n"
    "    rate_limit: 2/10m\n"
    "    honeypot: fp_extra\n"
    "    fields:\n"
    "      name: { label: お名前, required: true }\n"
    "  review:\n    origins: [https://www.example.com]\n"
    "    from: a@example.com\n    to: [b@example.com]\n    lang: ja\n"
    "    confirm: true\n    rate_limit: 1/10m\n"
    "    fields:\n"
    "      name: { label: お名前, required: true }\n"
    "  english:\n    origins: [https://en.example.com]\n"
    "    from: a@example.com\n    to: [b@example.com]\n    lang: en\n"
    "    fields:\n"
    "      name: { label: Name, required: true }\n";

#include "fixture.h"

/* ------------------------------------------------------------- routing */

static void
route_table(void **state)
{
	static const struct {
		const char *path, *site;
		int rc, token;
	} t[] = {
		{ "/formpost/example", "example", 0, 0 },
		{ "/formpost/example/", "example", 0, 0 },
		{ "/formpost/example//", "example", 0, 0 },
		{ "/formpost/example/token", "example", 0, 1 },
		{ "/formpost/example/token/", "example", 0, 1 },
		{ "/a/b/c/example", "example", 0, 0 },
		{ "/example", "example", 0, 0 },
		{ "example", "example", 0, 0 },
		/* a decoded "%3F" is part of the name, not a query */
		{ "/formpost/ex?ample", "ex?ample", 0, 0 },
		{ "/token", NULL, -1, 1 },
		{ "/", NULL, -1, 0 },
		{ "", NULL, -1, 0 },
		{ "/formpost/"
		  "0123456789012345678901234567890123456789012345678901234567890"
		  "123456789", NULL, -1, 0 },
	};
	char site[65];
	size_t i;
	int token;

	(void)state;
	for (i = 0; i < ARRAY_LEN(t); i++) {
		int rc = http_route(t[i].path, site, sizeof site, &token);
		if (rc != t[i].rc)
			fail_msg("%s: rc %d", t[i].path, rc);
		if (rc == 0 && (strcmp(site, t[i].site) != 0 ||
		    token != t[i].token))
			fail_msg("%s: %s %d", t[i].path, site, token);
	}
}

static void
request_path_shapes(void **state)
{
	/* What nginx's fastcgi_params send for POST /formpost/example?x=1 */
	struct http_req nginx = { .request_uri = "/formpost/example?x=1",
	    .script_name = "/formpost/example",
	    .document_uri = "/formpost/example" };
	/* mod_proxy_fcgi (ProxyPass /formpost/ fcgi://...): no DOCUMENT_URI,
	 * SCRIPT_FILENAME=proxy:fcgi://localhost/formpost/example. */
	struct http_req apache = { .request_uri = "/formpost/example?x=1",
	    .script_name = "/formpost/example" };
	/* A split setup (fastcgi_split_path_info, SetHandler proxy:...) */
	struct http_req split = { .request_uri = "/formpost/example",
	    .script_name = "/formpost", .path_info = "/example" };
	/* nginx rewrite /contact → /formpost/example: the rewrite wins. */
	struct http_req rewritten = { .request_uri = "/contact?a=b",
	    .script_name = "/formpost/example",
	    .document_uri = "/formpost/example" };
	struct http_req uri_only = { .request_uri = "/formpost/example?x=/y" };
	struct http_req doc_only = { .document_uri = "/f/example" };
	struct http_req none = { .method = "POST" };
	char p[64], small[8];

	(void)state;
	assert_int_equal(http_request_path(&nginx, p, sizeof p), 0);
	assert_string_equal(p, "/formpost/example");
	assert_int_equal(http_request_path(&apache, p, sizeof p), 0);
	assert_string_equal(p, "/formpost/example");
	assert_int_equal(http_request_path(&split, p, sizeof p), 0);
	assert_string_equal(p, "/formpost/example");
	assert_int_equal(http_request_path(&rewritten, p, sizeof p), 0);
	assert_string_equal(p, "/formpost/example");
	assert_int_equal(http_request_path(&uri_only, p, sizeof p), 0);
	assert_string_equal(p, "/formpost/example");
	assert_int_equal(http_request_path(&doc_only, p, sizeof p), 0);
	assert_string_equal(p, "/f/example");
	assert_int_equal(http_request_path(&none, p, sizeof p), -1);
	assert_int_equal(http_request_path(&nginx, small, sizeof small), -1);
	assert_int_equal(http_request_path(&uri_only, small, sizeof small),
	    -1);
}

/* --------------------------------------------------------- origin rule */

static void
origin_rule(void **state)
{
	static const struct {
		const char *origin, *referer, *fetch;
		int ok;
		const char *reason;
	} t[] = {
		{ "https://www.example.com", NULL, NULL, 1, NULL },
		{ "https://example.com", NULL, "same-site", 1, NULL },
		{ "HTTPS://WWW.EXAMPLE.COM", NULL, NULL, 1, NULL },
		{ "https://evil.example", NULL, NULL, 0, "origin_not_allowed" },
		{ "https://www.example.com.evil", NULL, NULL, 0,
		  "origin_not_allowed" },
		{ "https://www.example.com:8443", NULL, NULL, 0,
		  "origin_not_allowed" },
		/* Origin decides even when the Referer would pass. */
		{ "https://evil.example", "https://www.example.com/form", NULL,
		  0, "origin_not_allowed" },
		/* null (sandboxed, file:, some redirects): the Referer */
		{ "null", "https://www.example.com/contact.html", NULL, 1,
		  NULL },
		{ "null", "https://evil.example/", NULL, 0,
		  "referer_not_allowed" },
		{ "null", NULL, NULL, 0, "no_origin_or_referer" },
		{ NULL, "https://www.example.com", NULL, 1, NULL },
		{ NULL, "https://www.example.com?x", NULL, 1, NULL },
		{ NULL, "https://www.example.com/a", NULL, 1, NULL },
		{ NULL, "https://www.example.com.evil/a", NULL, 0,
		  "referer_not_allowed" },
		{ NULL, "https://www.example.com@evil/", NULL, 0,
		  "referer_not_allowed" },
		{ NULL, NULL, "same-origin", 1, NULL },
		{ "", "", "same-site", 1, NULL },
		{ NULL, NULL, "none", 0, "sec_fetch_site_not_same" },
		{ NULL, NULL, NULL, 0, "no_origin_or_referer" },
		/* cross-site is always refused, whatever else came */
		{ "https://www.example.com", NULL, "cross-site", 0,
		  "sec_fetch_site_cross_site" },
		{ NULL, "https://www.example.com/", "cross-site", 0,
		  "sec_fetch_site_cross_site" },
	};
	const struct site *s = config_site(cfg, "example");
	const char *reason;
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_LEN(t); i++) {
		reason = NULL;
		int rc = http_origin_ok(s, t[i].origin, t[i].referer,
		    t[i].fetch, &reason);
		if (rc != (t[i].ok ? 0 : -1))
			fail_msg("case %zu: rc %d", i, rc);
		if (!t[i].ok && strcmp(reason, t[i].reason) != 0)
			fail_msg("case %zu: reason %s", i, reason);
	}
}

static void
guess_lang_table(void **state)
{
	static const char yen[] =
	    "smtp:\n  m:\n    url: smtp://127.0.0.1:25\n    starttls: off\n"
	    "sites:\n  e:\n    origins: [https://a.example]\n"
	    "    from: a@a.example\n    to: [b@a.example]\n    lang: en\n"
	    "    fields: { n: { label: N } }\n";
	struct config *en;
	char err[256];

	(void)state;
	/* cfg: one ja site, one en site: a tie is Japanese. */
	assert_int_equal(http_guess_lang(cfg, NULL), LANG_JA);
	assert_int_equal(http_guess_lang(cfg, "en-US,en;q=0.9"), LANG_EN);
	assert_int_equal(http_guess_lang(cfg, "ja,en;q=0.8"), LANG_JA);
	assert_int_equal(http_guess_lang(cfg, "fr, en;q=0.5, ja;q=0.4"),
	    LANG_EN);
	assert_int_equal(http_guess_lang(cfg, "en;q=0.3, ja-JP;q=0.31"),
	    LANG_JA);
	assert_int_equal(http_guess_lang(cfg, "en;q=0, de"), LANG_JA);
	assert_int_equal(http_guess_lang(cfg, " EN-gb ; q=1.000"), LANG_EN);
	assert_int_equal(http_guess_lang(cfg, "ja;q=2, en;q=0.1"), LANG_EN);
	assert_int_equal(http_guess_lang(cfg, "enx, english"), LANG_JA);
	assert_int_equal(http_guess_lang(cfg, ",,;;q=,"), LANG_JA);
	en = config_parse("en.yaml", NULL, yen, sizeof yen - 1, err,
	    sizeof err);
	assert_non_null(en);
	/* Nothing usable from the browser: the config's language. */
	assert_int_equal(http_guess_lang(en, "de-DE"), LANG_EN);
	assert_int_equal(http_guess_lang(en, "ja"), LANG_JA);
	config_free(en);
}

/* -------------------------------------------------------- http_handle */

struct body {
	const char *data;
	size_t len, pos;
	int fail_at_end;       /* -1 instead of 0 at the end: a broken stream */
	int reads;
};

static ssize_t
body_read(void *arg, char *buf, size_t n)
{
	struct body *b = arg;

	b->reads++;
	if (b->pos == b->len)
		return b->fail_at_end ? -1 : 0;
	/* Dribble: at most 7 bytes per call, so loops are exercised. */
	if (n > 7)
		n = 7;
	if (n > b->len - b->pos)
		n = b->len - b->pos;
	memcpy(buf, b->data + b->pos, n);
	b->pos += n;
	return (ssize_t)n;
}

static int stored, store_fails;

static int
fake_submit(void *arg, const struct site *s, const struct mail *m,
    const char *id, char *err, size_t errlen)
{
	(void)arg;
	(void)s;
	(void)m;
	(void)id;
	if (store_fails) {
		snprintf(err, errlen, "disk full");
		return -1;
	}
	stored++;
	return 0;
}

static uint64_t fake_now = 1000000;

static uint64_t
clock_ms(void)
{
	return fake_now;
}

static struct ratelimit *rl;

struct call {
	const char *method, *path, *ct, *cl, *origin, *accept, *al, *addr;
	struct body body;
};

static void
fake_metrics(void *arg, struct buf *out)
{
	(void)arg;
	buf_adds(out, "formpost_build_info{version=\"t\"} 1\n");
}

/* Runs one request; the response is left in r (caller frees). */
static void
run(struct call *c, struct http_resp *r)
{
	static const unsigned char tkey[32] = "unit-test-token-key-unit-test-k";
	struct http_ctx ctx = { .c = cfg, .pg = pg, .submit = fake_submit,
	    .rl = rl, .now_ms = clock_ms, .token_key = tkey,
	    .metrics = fake_metrics };
	struct http_req req = { 0 };
	char cl[24];

	req.method = c->method ? c->method : "POST";
	req.script_name = c->path ? c->path : "/formpost/example";
	req.request_uri = req.script_name;
	req.content_type = c->ct ? c->ct :
	    "application/x-www-form-urlencoded";
	if (c->cl)
		req.content_length = strcmp(c->cl, "-") == 0 ? NULL : c->cl;
	else {
		snprintf(cl, sizeof cl, "%zu", c->body.len);
		req.content_length = cl;
	}
	req.origin = c->origin ? c->origin : "https://www.example.com";
	req.accept = c->accept;
	req.accept_language = c->al;
	req.remote_addr = c->addr ? c->addr : "192.0.2.1";
	req.read = body_read;
	c->body.pos = 0;
	c->body.reads = 0;
	req.read_arg = &c->body;
	http_resp_init(r);
	http_handle(&ctx, &req, r);
}

#define BODY(s) { s, sizeof(s) - 1, 0, 0, 0 }

static int
has(const struct buf *b, const char *needle)
{
	return b->len && strstr(b->data, needle) != NULL;
}

/* The headers every answer carries. */
static void
assert_security_headers(const struct http_resp *r)
{
	assert_true(has(&r->head, "Cache-Control: no-store\r\n"));
	assert_true(has(&r->head, "X-Content-Type-Options: nosniff\r\n"));
	assert_true(has(&r->head, "Content-Security-Policy: default-src "
	    "'none';"));
}

static void
expect(struct call *c, int status, const char *reason, const char *text)
{
	struct http_resp r;

	run(c, &r);
	if (r.status != status || (reason && (r.reason == NULL ||
	    strcmp(r.reason, reason) != 0)))
		fail_msg("%s %s: got %d %s, want %d %s", c->method ? c->method :
		    "POST", c->path ? c->path : "", r.status,
		    r.reason ? r.reason : "-", status, reason ? reason : "-");
	assert_security_headers(&r);
	if (text && !has(&r.body, text))
		fail_msg("%d: body lacks %s:\n%s", status, text,
		    r.body.len ? r.body.data : "");
	http_resp_free(&r);
}

static int
reset(void **state)
{
	unsigned char key[RATELIMIT_KEY_BYTES] = { 0 };

	(void)state;
	stored = store_fails = 0;
	fake_now += 3600 * 1000;
	ratelimit_free(rl);
	rl = ratelimit_new(64, key);
	return rl ? 0 : -1;
}

static int
done(void **state)
{
	(void)state;
	ratelimit_free(rl);
	rl = NULL;
	return 0;
}

/* GET <prefix>/_metrics: the exposition for allowed addresses only;
 * anyone else gets exactly the unknown site's answer. */
static void
metrics_route(void **state)
{
	struct call ok = { .method = "GET", .path = "/formpost/_metrics",
	    .addr = "0::1" };
	struct call ok4 = { .method = "GET", .path = "/formpost/_metrics",
	    .addr = "127.0.0.1" };
	struct call other = { .method = "GET", .path = "/formpost/_metrics",
	    .addr = "127.0.0.2" };
	struct call none = { .method = "GET", .path = "/formpost/_metrics" };
	struct call unknown = { .method = "GET", .path = "/formpost/_nosuch",
	    .addr = "127.0.0.2" };
	struct call post = { .path = "/formpost/_metrics", .addr = "::1" };
	struct call token = { .method = "GET",
	    .path = "/formpost/_metrics/token", .addr = "::1" };
	struct http_resp r, u;

	(void)state;
	expect(&ok, 200, NULL, "formpost_build_info");
	expect(&ok4, 200, NULL, "formpost_build_info");
	run(&ok, &r);
	assert_true(has(&r.head, "Content-Type: text/plain; version=0.0.4"));
	http_resp_free(&r);
	expect(&other, 404, "unknown_site", NULL);
	expect(&none, 404, "unknown_site", NULL);
	expect(&token, 404, "unknown_site", NULL);
	expect(&post, 405, "metrics_method", NULL);
	run(&other, &r);
	run(&unknown, &u);
	assert_int_equal(r.body.len, u.body.len);
	assert_memory_equal(r.body.data, u.body.data, r.body.len);
	assert_false(has(&r.body, "formpost_"));
	http_resp_free(&r);
	http_resp_free(&u);
	assert_int_equal(stored, 0);
}

static void
handle_statuses(void **state)
{
	/* Shift_JIS for お名前=山田, as a form without accept-charset posts
	 * it from a Shift_JIS page. */
	struct call sjis = { .body = BODY("name=%8eR%93c") };
	struct call raw_sjis = { .ct = "multipart/form-data; boundary=b",
	    .body = BODY("--b\r\nContent-Disposition: form-data; "
	    "name=\"name\"\r\n\r\n\x8eR\x93\x63\r\n--b--\r\n") };
	struct call bad_pct = { .body = BODY("name=%zz") };
	struct call bad_mp = { .ct = "multipart/form-data; boundary=b",
	    .body = BODY("--b\r\nno colon here\r\n\r\nx\r\n--b--\r\n") };
	struct call truncated_mp = { .ct = "multipart/form-data; boundary=b",
	    .body = BODY("--b\r\nContent-Disposition: form-data; "
	    "name=\"name\"\r\n\r\nx") };
	struct call no_boundary = { .ct = "multipart/form-data",
	    .body = BODY("x") };
	struct call bad_cl = { .cl = "-5", .body = BODY("name=x") };
	struct call cross = { .origin = "https://evil.example",
	    .body = BODY("name=x") };
	struct call unknown = { .path = "/formpost/nope",
	    .body = BODY("name=x") };
	struct call unknown_en = { .path = "/formpost/nope", .al = "en",
	    .body = BODY("name=x") };
	struct call token = { .method = "GET", .path = "/formpost/example/token" };
	struct call get = { .method = "GET" };
	struct call put = { .method = "PUT", .body = BODY("name=x") };
	struct call json = { .ct = "application/json", .body = BODY("{}") };
	struct call text = { .ct = "text/plain", .body = BODY("name=x") };
	struct call fields = { .body = BODY("a&b&c&d&e&f&g&h&i&j&k&l&m&n&o&p"
	    "&q&r&s&t&u&v&w&x&y&z&a&b&c&d&e&f&g&h&i&j&k&l&m&n&o&p&q&r&s&t&u"
	    "&v&w&x&y&z") };
	struct call ok = { .body = BODY("name=%E5%B1%B1%E7%94%B0") };
	struct call en_ok = { .path = "/formpost/english",
	    .origin = "https://en.example.com", .body = BODY("name=Ann") };
	struct http_resp r;

	(void)state;
	expect(&sjis, 400, "not_utf8", "accept-charset=&quot;UTF-8&quot;");
	expect(&raw_sjis, 400, "not_utf8", "UTF-8ではありません");
	expect(&bad_pct, 400, "malformed_body", "送信内容を読み取れません");
	expect(&bad_mp, 400, "malformed_body", NULL);
	expect(&truncated_mp, 400, "malformed_body", NULL);
	expect(&no_boundary, 400, "bad_boundary", NULL);
	expect(&bad_cl, 400, "bad_content_length", NULL);
	expect(&cross, 403, "origin_not_allowed", "このページからは送信できません");
	expect(&unknown, 404, "unknown_site", "ページが見つかりません");
	expect(&unknown_en, 404, "unknown_site", "Not found");
	expect(&token, 404, "token_disabled", NULL);
	expect(&put, 405, "method", "送信方法が正しくありません");
	run(&get, &r);
	assert_int_equal(r.status, 405);
	assert_true(has(&r.head, "Allow: POST, OPTIONS\r\n"));
	http_resp_free(&r);
	expect(&json, 415, "content_type", NULL);
	expect(&text, 415, "content_type", NULL);
	expect(&fields, 413, "too_many_fields", NULL);
	assert_int_equal(stored, 0);
	run(&ok, &r);
	assert_int_equal(r.status, 303);
	assert_true(has(&r.head,
	    "Location: https://www.example.com/thanks.html\r\n"));
	/* form-action: the form's own origin and the redirect's */
	assert_true(has(&r.head, "form-action 'self' "
	    "https://www.example.com\r\n"));
	http_resp_free(&r);
	assert_int_equal(stored, 1);
	/* English site: English pages. */
	en_ok.body = (struct body)BODY("name=%ZZ");
	expect(&en_ok, 400, "malformed_body", "The form could not be read");
	en_ok.body = (struct body)BODY("name=%82%A0");
	expect(&en_ok, 400, "not_utf8", "the form is not UTF-8: add "
	    "accept-charset=&quot;UTF-8&quot;");
}

static void
handle_lengths(void **state)
{
	static char big[4096];
	struct call over = { .cl = "2049", .body = BODY("name=x") };
	struct call huge = { .cl = "99999999999999999999", .body = BODY("x") };
	struct call chunked = { .cl = "-" };
	struct call short_body = { .cl = "100", .body = BODY("name=x") };
	struct call broken = { .body = BODY("name=x") };
	struct call stream_ok = { .cl = "-", .body = BODY("name=x") };

	(void)state;
	/* 413 from CONTENT_LENGTH: not one byte is read. */
	expect(&over, 413, "body_too_large", "送信内容が大きすぎます");
	assert_int_equal(over.body.reads, 0);
	expect(&huge, 400, "bad_content_length", NULL);
	/* Without a length the cap holds while reading. */
	memset(big, 'a', sizeof big);
	memcpy(big, "name=", 5);
	chunked.body = (struct body){ big, sizeof big, 0, 0, 0 };
	expect(&chunked, 413, "body_too_large", NULL);
	assert_true(chunked.body.pos <= 2049 + 7);
	/* A short body is a client abort: nothing stored. */
	expect(&short_body, 400, "client_aborted", NULL);
	broken.body.fail_at_end = 1;
	broken.cl = "10";
	expect(&broken, 400, "client_aborted", NULL);
	assert_int_equal(stored, 0);
	expect(&stream_ok, 303, NULL, NULL);
	assert_int_equal(stored, 1);
}

static void
handle_rate_limit(void **state)
{
	struct call ok = { .body = BODY("name=x"), .addr = "198.51.100.1" };
	struct call invalid = { .body = BODY("name="), .addr = "198.51.100.1" };
	struct call spam = { .body = BODY("name=x&fp_extra=http://spam"),
	    .addr = "198.51.100.1" };
	struct call other = { .body = BODY("name=x"), .addr = "198.51.100.2" };
	struct http_resp r;

	(void)state;
	/* Refused posts are not counted: a visitor fixing the form is
	 * never locked out by their own mistakes. */
	expect(&invalid, 422, "invalid", NULL);
	expect(&invalid, 422, "invalid", NULL);
	expect(&invalid, 422, "invalid", NULL);
	store_fails = 1;
	expect(&ok, 503, "store_failed", "保存されていません");
	store_fails = 0;
	/* 2/10m: one accepted, one spam verdict, then 429. */
	expect(&ok, 303, NULL, NULL);
	expect(&spam, 303, "honeypot", NULL);
	run(&ok, &r);
	assert_int_equal(r.status, 429);
	assert_true(has(&r.head, "Retry-After: 300\r\n"));
	assert_true(has(&r.body, "送信回数が多すぎます"));
	assert_security_headers(&r);
	http_resp_free(&r);
	/* The body was never read: a limited client costs no parsing. */
	assert_int_equal(ok.body.reads, 0);
	/* Another client is not affected; time restores the budget. */
	expect(&other, 303, NULL, NULL);
	fake_now += 300 * 1000;
	expect(&ok, 303, NULL, NULL);
	assert_int_equal(stored, 3);
}

static void
handle_json_and_options(void **state)
{
	struct call j = { .accept = "application/json", .origin =
	    "https://evil.example", .body = BODY("name=x") };
	struct call opt = { .method = "OPTIONS" };
	struct http_resp r;

	(void)state;
	run(&j, &r);
	assert_int_equal(r.status, 403);
	assert_true(has(&r.head, "Content-Type: application/json\r\n"));
	assert_string_equal(r.body.data,
	    "{\"ok\":false,\"error\":\"origin_not_allowed\"}");
	http_resp_free(&r);
	run(&opt, &r);
	assert_int_equal(r.status, 204);
	assert_true(has(&r.head, "Access-Control-Allow-Origin: "
	    "https://www.example.com\r\n"));
	assert_true(has(&r.head, "Access-Control-Allow-Methods: POST"));
	http_resp_free(&r);
	opt.origin = "https://evil.example";
	run(&opt, &r);
	assert_int_equal(r.status, 403);
	assert_false(has(&r.head, "Access-Control-Allow-Origin"));
	http_resp_free(&r);
}

/* OPTIONS answers are answers too: the security headers on the 204, and
 * the refused preflight is the usual 403 page, not an empty body. */
static void
options_security_headers(void **state)
{
	struct call opt = { .method = "OPTIONS" };
	struct http_resp r;

	(void)state;
	run(&opt, &r);
	assert_int_equal(r.status, 204);
	assert_security_headers(&r);
	assert_true(has(&r.head, "Allow: POST, OPTIONS\r\n"));
	assert_true(has(&r.head, "Vary: Origin\r\n"));
	assert_int_equal(r.body.len, 0);
	http_resp_free(&r);
	opt.origin = "https://evil.example";
	expect(&opt, 403, "origin_not_allowed", "このページからは送信できません");
	run(&opt, &r);
	assert_false(has(&r.head, "Access-Control-Allow-Origin"));
	http_resp_free(&r);
}

/* The review step: review and edit pages store nothing and give their
 * rate-limit slot back (rate_limit counts messages); only the page's
 * _confirm with the same values stores, once the budget allows. */
static void
handle_review_step(void **state)
{
	struct call first = { .path = "/formpost/review",
	    .body = BODY("name=%E5%B1%B1%E7%94%B0") };
	struct call back = { .path = "/formpost/review",
	    .body = BODY("name=%E5%B1%B1%E7%94%B0&_back=1") };
	struct call send = { .path = "/formpost/review" };
	struct http_resp r;
	char body[400];
	const char *c;
	int i;

	(void)state;
	for (i = 0; i < 3; i++)
		expect(&first, 200, NULL, "name=\"_confirm\" value=\"");
	expect(&back, 200, NULL, "value=\"山田\"");
	assert_int_equal(stored, 0);
	run(&first, &r);
	assert_string_equal(r.event, "review");
	assert_string_equal(r.id, "");
	c = strstr(r.body.data, "name=\"_confirm\" value=\"");
	assert_non_null(c);
	c += strlen("name=\"_confirm\" value=\"");
	snprintf(body, sizeof body, "name=%%E5%%B1%%B1%%E7%%94%%B0&_confirm=%.*s",
	    120, c);
	http_resp_free(&r);
	send.body = (struct body){ body, strlen(body), 0, 0, 0 };
	expect(&send, 200, NULL, "受付番号");
	assert_int_equal(stored, 1);
	/* The message spent the budget: the next post waits. */
	expect(&first, 429, "rate_limited", NULL);
	/* Changed: a new review, never a store; forged: quiet. */
	fake_now += 3600 * 1000;
	memcpy(body + 5, "%E5%B1%B1%E5%B1%B1", 18);
	expect(&send, 200, "confirm_changed", "name=\"_confirm\"");
	memcpy(body + 5, "%E5%B1%B1%E7%94%B0", 18);
	strstr(body, "_confirm=")[9 + 40] ^= 1;    /* in the site MAC */
	fake_now += 3600 * 1000;                  /* past the rate limit */
	expect(&send, 200, "confirm_invalid", "受付番号");
	assert_int_equal(stored, 1);
}

/* One status table: every code formpost sends has its RFC 9110 §15
 * reason phrase on the Status: line (the FastCGI edge asks http). */
static void
status_reasons(void **state)
{
	static const struct { int code; const char *reason; } t[] = {
		{ 200, "OK" }, { 204, "No Content" }, { 303, "See Other" },
		{ 400, "Bad Request" }, { 403, "Forbidden" },
		{ 404, "Not Found" }, { 405, "Method Not Allowed" },
		{ 411, "Length Required" }, { 413, "Content Too Large" },
		{ 415, "Unsupported Media Type" },
		{ 422, "Unprocessable Content" }, { 429, "Too Many Requests" },
		{ 500, "Internal Server Error" },
		{ 503, "Service Unavailable" }, { 418, "Error" }, { 0, "Error" },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof t / sizeof t[0]; i++)
		assert_string_equal(http_status_reason(t[i].code), t[i].reason);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(route_table),
		cmocka_unit_test(request_path_shapes),
		cmocka_unit_test(origin_rule),
		cmocka_unit_test(guess_lang_table),
		cmocka_unit_test(status_reasons),
		cmocka_unit_test_setup_teardown(handle_statuses, reset, done),
		cmocka_unit_test_setup_teardown(metrics_route, reset, done),
		cmocka_unit_test_setup_teardown(handle_lengths, reset, done),
		cmocka_unit_test_setup_teardown(handle_rate_limit, reset,
		    done),
		cmocka_unit_test_setup_teardown(handle_json_and_options, reset,
		    done),
		cmocka_unit_test_setup_teardown(options_security_headers, reset,
		    done),
		cmocka_unit_test_setup_teardown(handle_review_step, reset,
		    done),
	};

	return cmocka_run_group_tests(tests, setup_pages, teardown);
}
