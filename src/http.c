/*
 * http — the request pipeline.  Order matters and is cheapest-first:
 * route → site → method → origin → content type → length (413 before a
 * byte is read) → rate limit → read (413 while reading, a short body is an
 * abort) → parse → honeypot → validate → (review step, doc/design.md "The
 * review step") → compose → submit → answer.  A success answer is written
 * only after submit says the message is durable.  Visitors get generic
 * pages; the log gets the reason.  A POST runs as three lists of steps
 * (admit_steps, judge_steps, store_steps below), answered in one place
 * from the verdict that ends it.
 */
#include "http.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "confirm.h"
#include "addr.h"
#include "crypto.h"
#include "id.h"
#include "dedup.h"
#include "file.h"
#include "form.h"
#include "hold.h"
#include "json.h"
#include "limits.h"
#include "log.h"
#include "metrics.h"
#include "ratelimit.h"
#include "replylimit.h"
#include "spool.h"
#include "token.h"
#include "util.h"
#include "validate.h"

struct status_text {
	int code;
	const char *reason;
	const char *ja_title, *ja_msg;
	const char *en_title, *en_msg;
};

/* Every status formpost answers: its reason phrase (RFC 9110 §15) and
 * the error page's words.  The one table: the FastCGI edge takes its
 * Status: line from here too (http_status_reason). */
static const struct status_text statuses[] = {
	{ 200, "OK", "", "", "", "" },
	{ 204, "No Content", "", "", "", "" },
	{ 303, "See Other", "", "", "", "" },
	{ 400, "Bad Request", "送信内容を読み取れません",
	  "フォームの送信内容が壊れています。ページを再読み込みして、もう一度お試しください。",
	  "The form could not be read",
	  "The form data was malformed. Reload the page and try again." },
	{ 403, "Forbidden", "このページからは送信できません",
	  "送信元のページが確認できませんでした。フォームのページから送信してください。",
	  "This page may not post here",
	  "The form's page could not be verified. Please send it from the site's own form." },
	{ 404, "Not Found", "ページが見つかりません",
	  "送信先のフォームが見つかりません。", "Not found",
	  "There is no form here." },
	{ 405, "Method Not Allowed", "送信方法が正しくありません",
	  "このアドレスはフォームの送信（POST）専用です。",
	  "Method not allowed", "This address only accepts form posts." },
	{ 413, "Content Too Large", "送信内容が大きすぎます",
	  "入力内容が長すぎます。短くしてもう一度お試しください。",
	  "Too large", "The form data is too large. Shorten it and try again." },
	{ 411, "Length Required", "", "", "", "" },
	{ 415, "Unsupported Media Type", "送信形式が正しくありません",
	  "フォームの送信形式に対応していません。", "Unsupported form encoding",
	  "The form was sent in a format this service does not accept." },
	{ 422, "Unprocessable Content", "", "", "", "" },
	{ 429, "Too Many Requests", "送信回数が多すぎます",
	  "しばらく時間をおいてから、もう一度お試しください。",
	  "Too many submissions", "Please wait a while and try again." },
	{ 500, "Internal Server Error", "エラーが発生しました",
	  "申し訳ありません。時間をおいてもう一度お試しください。",
	  "Something went wrong", "Sorry. Please try again later." },
	{ 503, "Service Unavailable", "ただいま送信を受け付けられません",
	  "申し訳ありません。送信内容は保存されていません。時間をおいてもう一度お試しください。",
	  "Temporarily unavailable",
	  "Sorry, your message was not stored. Please try again later." },
};

/* code's row, or NULL when formpost never answers it. */
static const struct status_text *
status_of(int code)
{
	size_t i;

	for (i = 0; i < ARRAY_LEN(statuses); i++)
		if (statuses[i].code == code)
			return &statuses[i];
	return NULL;
}

const char *
http_status_reason(int status)
{
	const struct status_text *st = status_of(status);

	return st ? st->reason : "Error";
}

void
http_resp_init(struct http_resp *r)
{
	memset(r, 0, sizeof *r);
	buf_init(&r->head);
	buf_init(&r->body);
	/* Every answer's headers at once (the CSP alone is 200 bytes). */
	buf_reserve(&r->head, 768);
}

void
http_resp_free(struct http_resp *r)
{
	buf_free(&r->head);
	buf_free(&r->body);
}

int
http_request_path(const struct http_req *req, char *out, size_t outlen)
{
	const char *sn = req->script_name, *pi = req->path_info, *p;
	size_t n;

	if ((sn && *sn) || (pi && *pi))
		return str_join(out, outlen, sn ? sn : "", pi ? pi : "");
	if (req->document_uri && *req->document_uri) {
		p = req->document_uri;
		n = strlen(p);
	} else if (req->request_uri && *req->request_uri) {
		p = req->request_uri;
		n = strcspn(p, "?#");
	} else
		return -1;
	if (n >= outlen)
		return -1;
	memcpy(out, p, n);
	out[n] = '\0';
	return 0;
}

int
http_route(const char *path, char *site, size_t sitelen, int *token)
{
	size_t n = strlen(path), start, end;

	*token = 0;
	while (n > 1 && path[n - 1] == '/')
		n--;
	if (n >= 6 && strncmp(path + n - 6, "/token", 6) == 0) {
		*token = 1;
		n -= 6;
	}
	end = n;
	start = end;
	while (start > 0 && path[start - 1] != '/')
		start--;
	if (end == start || end - start >= sitelen)
		return -1;
	memcpy(site, path + start, end - start);
	site[end - start] = '\0';
	return 0;
}

/* origin equals o, or referer starts with o then '/', '?', '#' or end. */
static int
origin_match(const char *o, const char *s, int prefix)
{
	size_t n = strlen(o);

	if (strncasecmp(o, s, n) != 0)
		return 0;
	if (!prefix)
		return s[n] == '\0';
	return s[n] == '\0' || s[n] == '/' || s[n] == '?' || s[n] == '#';
}

int
http_origin_ok(const struct site *s, const char *origin, const char *referer,
    const char *sec_fetch_site, const char **reason)
{
	size_t i;

	if (sec_fetch_site && strcmp(sec_fetch_site, "cross-site") == 0) {
		*reason = "sec_fetch_site_cross_site";
		return -1;
	}
	if (origin && *origin && strcmp(origin, "null") != 0) {
		for (i = 0; i < s->norigins; i++)
			if (origin_match(s->origins[i], origin, 0))
				return 0;
		*reason = "origin_not_allowed";
		return -1;
	}
	if (referer && *referer) {
		for (i = 0; i < s->norigins; i++)
			if (origin_match(s->origins[i], referer, 1))
				return 0;
		*reason = "referer_not_allowed";
		return -1;
	}
	if (sec_fetch_site && (strcmp(sec_fetch_site, "same-origin") == 0 ||
	    strcmp(sec_fetch_site, "same-site") == 0))
		return 0;
	*reason = sec_fetch_site ? "sec_fetch_site_not_same" :
	    "no_origin_or_referer";
	return -1;
}

/* The page the form was posted from, for {{_page}} in the mail and the
 * pages' back link: the Referer only when it is at one of the site's
 * origins and at most LIM_PAGE_URL printable ASCII octets, else NULL (no
 * page).  An allowed Origin lets any Referer through http_origin_ok, so a
 * foreign one must not be reflected as a link.  Borrowed from req. */
static const char *
page_ok(const struct site *s, const char *p)
{
	size_t i;

	if (p == NULL)
		return NULL;
	for (i = 0; p[i]; i++)
		if (i >= LIM_PAGE_URL || (unsigned char)p[i] <= ' ' ||
		    (unsigned char)p[i] >= 0x7f)
			return NULL;
	for (i = 0; i < s->norigins; i++)
		if (origin_match(s->origins[i], p, 1))
			return p;
	return NULL;
}

static const char *
page_url(const struct site *s, const struct http_req *req)
{
	return page_ok(s, req->referer);
}

/* The page for a post: a `_page` that formpost's own review and form
 * pages carry (their Referer is formpost's URL, not the visitor's form),
 * under the same rules as the Referer, else the Referer.  Borrowed from
 * f or req. */
static const char *
post_page(const struct site *s, const struct http_req *req,
    const struct form *f)
{
	const struct form_field *pg = form_get(f, "_page");

	if (pg && pg->value_len == strlen(pg->value) && page_ok(s, pg->value))
		return pg->value;
	return page_url(s, req);
}

static int
wants_json(const struct http_req *req)
{
	return req->accept && strstr(req->accept, "application/json");
}

/* Headers every answer carries (README "HTTP answers"). */
/* 1 when s[0..n) holds only what a plain scheme://host[:port] holds. */
static int
origin_chars(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' &&
		    s[i] <= 'Z') || (s[i] >= '0' && s[i] <= '9') ||
		    strchr("+-.:/[]", s[i]) != NULL) || s[i] == '\0')
			return 0;
	return 1;
}

static void
common_headers(struct http_resp *r, const struct site *s, int json)
{
	const char *redir = s ? s->redirect : NULL;
	size_t olen = 0;

	buf_adds(&r->head, json ? "Content-Type: application/json\r\n" :
	    "Content-Type: text/html; charset=UTF-8\r\n");
	buf_adds(&r->head, "Cache-Control: no-store\r\n"
	    "X-Content-Type-Options: nosniff\r\n"
	    "Referrer-Policy: same-origin\r\n");
	buf_adds(&r->head, "Content-Security-Policy: default-src 'none'; "
	    "style-src 'unsafe-inline'; img-src 'self' data:; "
	    "base-uri 'none'; frame-ancestors 'none'; form-action 'self'");
	if (redir) {
		/* The 303 after a corrected re-post lands there. */
		const char *h = strstr(redir, "://");
		olen = h ? (size_t)(h - redir) + 3 + strcspn(h + 3, "/?#") : 0;
		/* Only a plain scheme://host[:port]: a ';' or space from a
		 * config typo must not add a directive. */
		if (olen && olen < 256 && origin_chars(redir, olen)) {
			buf_addc(&r->head, ' ');
			buf_add(&r->head, redir, olen);
		}
	}
	buf_adds(&r->head, "\r\n");
}

/* 1 when origin is one of the site's origins (never for "null"). */
static int
cors_allowed(const struct site *s, const char *origin)
{
	size_t i;

	if (s == NULL || origin == NULL)
		return 0;
	for (i = 0; i < s->norigins; i++)
		if (origin_match(s->origins[i], origin, 0))
			return 1;
	return 0;
}

/* CORS for the site's own origins only.  Every answer about a site
 * varies with Origin (allowed or not), so shared caches must key on it.
 * The allowed Origin is echoed as sent: it equals a configured origin
 * (checked above, so it holds no CR/LF), and browsers compare it
 * byte for byte. */
static void
cors_headers(struct http_resp *r, const struct site *s,
    const struct http_req *req)
{
	if (s == NULL)
		return;
	if (cors_allowed(s, req->origin)) {
		buf_adds(&r->head, "Access-Control-Allow-Origin: ");
		buf_adds(&r->head, req->origin);
		buf_adds(&r->head, "\r\n");
	}
	buf_adds(&r->head, "Vary: Origin\r\n");
}

/* A q-value (RFC 9110 §12.4.2: 0, 1, or 0.ddd) in thousandths; -1 when
 * malformed. */
static int
qvalue(const char *s, size_t n)
{
	int v = 0, scale = 1000;
	size_t i;

	if (n == 0 || (s[0] != '0' && s[0] != '1'))
		return -1;
	v = (s[0] - '0') * 1000;
	if (n == 1)
		return v;
	if (s[1] != '.' || n > 5)
		return -1;
	for (i = 2; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		scale /= 10;
		v += (s[i] - '0') * scale;
	}
	return v > 1000 ? -1 : v;
}

enum lang
http_guess_lang(const struct config *c, const char *al)
{
	enum lang lang = LANG_JA;
	size_t i, n, tag, nen = 0;
	int q, best = 0;
	const char *p, *semi;

	/* Accept-Language: tag [;q=v], ... (RFC 9110 §12.5.4).  Only the
	 * primary subtag counts: en-US is English, ja-JP Japanese. */
	for (p = al; p && *p; p += n + (p[n] == ',')) {
		n = strcspn(p, ",");
		while (n && (*p == ' ' || *p == '\t')) {
			p++;
			n--;
		}
		tag = strcspn(p, ";-, \t");
		if (tag > n)
			tag = n;
		q = 1000;
		if ((semi = memchr(p, ';', n)) != NULL) {
			size_t rest = n - (size_t)(semi - p) - 1, k = 0;
			while (k < rest && semi[1 + k] == ' ')
				k++;
			if (rest - k >= 2 && (semi[1 + k] == 'q' ||
			    semi[1 + k] == 'Q') && semi[2 + k] == '=') {
				size_t vlen = rest - k - 2;
				while (vlen && semi[3 + k + vlen - 1] == ' ')
					vlen--;
				q = qvalue(semi + 3 + k, vlen);
			}
		}
		if (q > best && (eq_ci(p, tag, "ja") || eq_ci(p, tag, "en"))) {
			best = q;
			lang = eq_ci(p, tag, "en") ? LANG_EN : LANG_JA;
		}
	}
	if (best > 0)
		return lang;
	for (i = 0; c && i < c->nsites; i++)
		nen += c->sites[i].lang == LANG_EN;
	return c && nen * 2 > c->nsites ? LANG_EN : LANG_JA;
}

/* An error answer: page from the site's (or the generic) error template,
 * or a JSON object. */
static void
answer_error(const struct http_ctx *ctx, const struct http_req *req,
    struct http_resp *r, const struct site *s, int status,
    const char *reason, const char *message_override)
{
	const struct status_text *st = status_of(status);
	enum lang lang = s ? s->lang : http_guess_lang(ctx->c,
	    req->accept_language);
	struct page_facts pf;
	char code[U64_STR];
	int rc;

	if (st == NULL)
		st = status_of(500);
	r->status = status;
	r->reason = reason;
	buf_reset(&r->head);
	buf_reset(&r->body);
	common_headers(r, s, wants_json(req));
	cors_headers(r, s, req);
	if (status == 405)
		buf_adds(&r->head, reason && (strcmp(reason, "token_method")
		    == 0 || strcmp(reason, "metrics_method") == 0) ?
		    "Allow: GET\r\n" : "Allow: POST, OPTIONS\r\n");
	if (status == 429 && r->retry_after) {
		buf_adds(&r->head, "Retry-After: ");
		buf_addu(&r->head, r->retry_after);
		buf_adds(&r->head, "\r\n");
	}
	if (wants_json(req)) {
		buf_adds(&r->body, "{\"ok\":false,\"error\":");
		json_buf_string(&r->body, reason ? reason : st->reason);
		buf_adds(&r->body, "}");
		return;
	}
	u64_str(code, (unsigned)status);
	memset(&pf, 0, sizeof pf);
	pf.status = code;
	pf.title = lang == LANG_JA ? st->ja_title : st->en_title;
	pf.message = message_override ? message_override :
	    lang == LANG_JA ? st->ja_msg : st->en_msg;
	rc = pages_render_error(ctx->pg, s, lang, status, &pf, &r->body);
	if (rc == -1) {
		buf_reset(&r->body);
		buf_printf(&r->body, "<!doctype html><title>%d</title>%d\n",
		    status, status);
	}
}

static const char not_utf8_ja[] =
    "フォームの文字コードがUTF-8ではありません。フォームのHTMLに "
    "accept-charset=\"UTF-8\" を追加してください。"
    "（the form is not UTF-8: add accept-charset=\"UTF-8\"）";
static const char not_utf8_en[] =
    "the form is not UTF-8: add accept-charset=\"UTF-8\" to the form element.";

enum body_rc { BODY_OK, BODY_SHORT, BODY_NOMEM, BODY_TOO_LARGE };

/*
 * Reads the body into *out (caller frees, NUL-terminated) and *outlen.
 * With a CONTENT_LENGTH (have_len), exactly len bytes, and fewer is
 * BODY_SHORT: the client aborted, so nothing may be stored.  Without one
 * (a chunked request the web server streams), up to the end of the
 * stream, and more than max bytes is BODY_TOO_LARGE: the cap holds while
 * reading, and never more than max + 1 bytes are held.
 */
static enum body_rc
read_body(const struct http_req *req, int have_len, size_t len, size_t max,
    char **out, size_t *outlen)
{
	size_t cap = have_len ? len : (max < 16384 ? max : 16384);
	size_t want = have_len ? len : max + 1, got = 0;
	char *b = malloc(cap + 1), *nb;
	enum body_rc rc = BODY_OK;
	ssize_t r;

	if (b == NULL)
		return BODY_NOMEM;
	while (got < want) {
		if (got == cap) {
			cap = cap * 2 > want ? want : cap * 2;
			if ((nb = realloc(b, cap + 1)) == NULL) {
				rc = BODY_NOMEM;
				goto fail;
			}
			b = nb;
		}
		r = req->read(req->read_arg, b + got, cap - got);
		if (r < 0 || (r == 0 && have_len)) {
			rc = BODY_SHORT;
			goto fail;
		}
		if (r == 0)
			break;
		got += (size_t)r;
	}
	if (!have_len && got > max) {
		rc = BODY_TOO_LARGE;
		goto fail;
	}
	b[got] = '\0';
	*out = b;
	*outlen = got;
	return BODY_OK;
fail:
	free(b);
	return rc;
}

/* CONTENT_LENGTH: 1 with *out for digits only, 0 when absent or empty,
 * -1 when malformed (a sign, spaces, overflow). */
static int
parse_length(const char *s, unsigned long long *out)
{
	unsigned long long v = 0;

	if (s == NULL || *s == '\0')
		return 0;
	for (; *s; s++) {
		if (*s < '0' || *s > '9' || v > (~0ULL - 9) / 10)
			return -1;
		v = v * 10 + (unsigned)(*s - '0');
	}
	*out = v;
	return 1;
}

static uint64_t
now_ms(const struct http_ctx *ctx)
{
	if (ctx->now_ms)
		return ctx->now_ms();
	return (uint64_t)mono_ms();
}

static uint64_t
wall_ms(const struct http_ctx *ctx)
{
	struct timespec ts;

	if (ctx->wall_ms)
		return ctx->wall_ms();
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* The replay table's key of a token nonce: the nonce, zero-padded (it is
 * random and MAC-bound to the site, so it alone names the token). */
static void
nonce_key(const unsigned char nonce[TOKEN_NONCE_LEN],
    unsigned char key[SHA256_LEN])
{
	memset(key, 0, SHA256_LEN);
	memcpy(key, nonce, TOKEN_NONCE_LEN);
}

/* ,"carrier":"docomo","allow_domain":"example.jp" when the visitor's
 * address is a carrier's (doc/design.md "Auto-reply and carrier mail"). */
static void
json_carrier(struct buf *b, const struct site *s, const struct fvals *v)
{
	const char *at = v && v->reply_to ? strrchr(v->reply_to, '@') : NULL;
	const char *fam = at ? addr_carrier(at + 1) : NULL;

	if (fam == NULL)
		return;
	buf_adds(b, ",\"carrier\":");
	json_buf_string(b, fam);
	buf_adds(b, ",\"allow_domain\":");
	json_buf_string(b, s->from_domain);
}

/* 0, or -1 when the page could not be rendered (OOM). */
static int
answer_success(const struct http_ctx *ctx, const struct http_req *req,
    struct http_resp *r, const struct site *s, const struct fvals *v,
    const char *id, const char *date, const char *page)
{
	struct page_facts pf;

	r->status = s->redirect && !wants_json(req) ? 303 : 200;
	common_headers(r, s, wants_json(req));
	cors_headers(r, s, req);
	if (wants_json(req)) {
		buf_adds(&r->body, "{\"ok\":true,\"id\":");
		json_buf_string(&r->body, id);
		json_carrier(&r->body, s, v);
		buf_adds(&r->body, "}");
		return 0;
	}
	if (s->redirect) {
		buf_adds(&r->head, "Location: ");
		buf_adds(&r->head, s->redirect);
		buf_adds(&r->head, "\r\n");
		return 0;
	}
	memset(&pf, 0, sizeof pf);
	pf.id = id;
	pf.date = date;
	pf.ip = req->remote_addr;
	pf.page = page;
	return pages_render(ctx->pg, s, PAGE_THANKS, v, &pf, &r->body);
}

/* The path the form posted to, for the re-rendered form's action. */
static void
form_action(const struct http_req *req, char *out, size_t len)
{
	const char *p = req->request_uri ? req->request_uri :
	    req->script_name ? req->script_name : "";
	size_t n = strcspn(p, "?#\"<>'");

	if (n >= len)
		n = 0;
	memcpy(out, p, n);
	out[n] = '\0';
}

static void
json_field_errors(struct buf *b, const struct site *s, const struct fvals *v)
{
	char msg[512];
	size_t i;
	int first = 1;

	buf_adds(b, "{\"ok\":false,\"errors\":[");
	for (i = 0; i < v->n; i++) {
		if (v->v[i].error == NULL)
			continue;
		buf_adds(b, first ? "{\"field\":" : ",{\"field\":");
		json_buf_string(b, s->fields[i].name);
		buf_adds(b, ",\"code\":");
		json_buf_string(b, v->v[i].error);
		buf_adds(b, ",\"message\":");
		json_buf_string(b, validate_message(v->v[i].error, s->lang,
		    &s->fields[i], msg, sizeof msg));
		buf_adds(b, "}");
		first = 0;
	}
	buf_adds(b, "]}");
}

/* The review step as JSON: the signed _confirm and each field's name,
 * label and normalised value in config order. */
static void
json_review(struct buf *b, const struct site *s, const struct fvals *v,
    const char *confirm)
{
	size_t i;

	buf_adds(b, "{\"ok\":true,\"confirm\":");
	json_buf_string(b, confirm);
	buf_adds(b, ",\"fields\":[");
	for (i = 0; i < s->nfields; i++) {
		buf_adds(b, i ? ",{\"name\":" : "{\"name\":");
		json_buf_string(b, s->fields[i].name);
		buf_adds(b, ",\"label\":");
		json_buf_string(b, s->fields[i].label);
		buf_adds(b, ",\"value\":");
		json_buf_string(b, i < v->n ? v->v[i].value : "");
		/* A held file: its size, and the reference to post back as
		 * the field's value. */
		if (i < v->n && v->v[i].hold && v->v[i].has_file) {
			buf_printf(b, ",\"size\":%llu,\"hold\":",
			    v->v[i].size);
			json_buf_string(b, v->v[i].hold);
		}
		buf_adds(b, "}");
	}
	buf_adds(b, "]}");
}

/* The form page's fresh token (sites that require one): the form comes
 * back from formpost itself, not from the page whose script fetched the
 * first token, and without one its next post would be dropped.  NULL
 * when the site has no token or none could be made. */
static const char *
form_token(const struct http_ctx *ctx, const struct site *s,
    char tok[TOKEN_LEN + 1])
{
	if (!s->token_required || ctx->token_key == NULL ||
	    token_issue(ctx->token_key, s->name, wall_ms(ctx), tok) == -1)
		return NULL;
	return tok;
}

/* 200 with the review page (confirm != NULL) or, for the review page's
 * 修正する, the form with every value kept; 0, or -1 (OOM). */
static int
answer_review(const struct http_ctx *ctx, const struct http_req *req,
    struct http_resp *r, const struct site *s, const struct fvals *v,
    const char *confirm, const char *page)
{
	struct page_facts pf;
	char action[512], tok[TOKEN_LEN + 1];

	r->status = 200;
	r->event = confirm ? "review" : "edit";
	r->id[0] = '\0';            /* no message: nothing to name */
	common_headers(r, s, wants_json(req));
	cors_headers(r, s, req);
	if (wants_json(req) && confirm) {
		json_review(&r->body, s, v, confirm);
		return 0;
	}
	if (wants_json(req)) {
		buf_adds(&r->body, "{\"ok\":true,\"edit\":true}");
		return 0;
	}
	form_action(req, action, sizeof action);
	memset(&pf, 0, sizeof pf);
	pf.action = action;
	pf.ip = req->remote_addr;
	pf.page = page;
	pf.confirm = confirm;
	pf.token = confirm ? NULL : form_token(ctx, s, tok);
	return pages_render(ctx->pg, s, confirm ? PAGE_CONFIRM : PAGE_FORM, v,
	    &pf, &r->body);
}

/* 422: the form again with its errors (or them as JSON); 0, or -1 when
 * the page could not be rendered (OOM). */
static int
answer_invalid(const struct http_ctx *ctx, const struct http_req *req,
    struct http_resp *r, const struct site *s, const struct fvals *v,
    const char *page)
{
	struct page_facts pf;
	char action[512], tok[TOKEN_LEN + 1];

	r->status = 422;
	r->reason = "invalid";
	common_headers(r, s, wants_json(req));
	cors_headers(r, s, req);
	if (wants_json(req)) {
		json_field_errors(&r->body, s, v);
		return 0;
	}
	form_action(req, action, sizeof action);
	memset(&pf, 0, sizeof pf);
	pf.action = action;
	pf.ip = req->remote_addr;
	pf.page = page;
	pf.token = form_token(ctx, s, tok);
	return pages_render(ctx->pg, s, PAGE_FORM, v, &pf, &r->body);
}

/* ---------------------------------------------------------------- POST
 *
 * A post goes through three stages, each a list of steps run in order
 * until one returns a verdict other than V_NEXT:
 *
 *   admit    origin, content type, length, rate limit, body
 *   judge    parse, stamp (id, date), honeypot, review mode, token,
 *            validate, review step, double submit, token replay
 *   store    compose, commit
 *
 * Steps share one struct post and never answer: the verdict they return
 * picks the answer (post_answer, the only place that does), and
 * post_end is the one teardown.  A new check is a new step in its stage
 * and, when it answers differently, a new verdict, which the compiler
 * makes verdict_answer cover.
 */

enum verdict {
	V_NEXT,               /* this step passed: on to the next */
	V_ORIGIN,             /* 403; reason from the Origin rule */
	V_BAD_BOUNDARY,
	V_CONTENT_TYPE,
	V_BAD_LENGTH,
	V_TOO_LARGE,
	V_RATE_LIMITED,
	V_ABORTED,            /* the client sent less than it announced */
	V_NOT_UTF8,
	V_TOO_MANY_FIELDS,
	V_MALFORMED,
	V_NOMEM,
	V_UPLOAD_FAILED,      /* an upload's file could not be written */
	V_HOLD_FULL,          /* hold/ is at its caps: no upload is held */
	V_RANDOM_FAILED,
	V_HONEYPOT,
	V_TOKEN,              /* reason from the token check */
	V_INVALID,
	V_DUPLICATE,          /* the first post's id and answer */
	V_REPLAYED,
	V_REVIEW,             /* confirm: true, values valid: the review page */
	V_EDIT,               /* the review page's 修正する: the form again */
	V_CONFIRM,            /* a forged or expired _confirm; reason set */
	V_COMPOSE_FAILED,
	V_STORE_FAILED,
	V_ACCEPTED,
};

/* How a verdict is answered.  A_QUIET is the success answer without the
 * values: bots and replays learn nothing from it. */
enum answer_kind { A_ERROR, A_SUCCESS, A_QUIET, A_INVALID, A_REVIEW,
    A_EDIT };

struct answer {
	enum answer_kind kind;
	int status;           /* A_ERROR only */
	const char *reason;   /* NULL: the step's (struct post.reason) */
};

static struct answer
verdict_answer(enum verdict v)
{
	switch (v) {
	case V_ORIGIN:          return (struct answer){ A_ERROR, 403, NULL };
	case V_BAD_BOUNDARY:    return (struct answer){ A_ERROR, 400,
	                            "bad_boundary" };
	case V_CONTENT_TYPE:    return (struct answer){ A_ERROR, 415,
	                            "content_type" };
	case V_BAD_LENGTH:      return (struct answer){ A_ERROR, 400,
	                            "bad_content_length" };
	case V_TOO_LARGE:       return (struct answer){ A_ERROR, 413,
	                            "body_too_large" };
	case V_RATE_LIMITED:    return (struct answer){ A_ERROR, 429,
	                            "rate_limited" };
	case V_ABORTED:         return (struct answer){ A_ERROR, 400,
	                            "client_aborted" };
	case V_NOT_UTF8:        return (struct answer){ A_ERROR, 400,
	                            "not_utf8" };
	case V_TOO_MANY_FIELDS: return (struct answer){ A_ERROR, 413,
	                            "too_many_fields" };
	case V_MALFORMED:       return (struct answer){ A_ERROR, 400,
	                            "malformed_body" };
	case V_NOMEM:           return (struct answer){ A_ERROR, 503, "nomem" };
	case V_UPLOAD_FAILED:   return (struct answer){ A_ERROR, 503,
	                            "upload_failed" };
	case V_HOLD_FULL:       return (struct answer){ A_ERROR, 503,
	                            "hold_full" };
	case V_RANDOM_FAILED:   return (struct answer){ A_ERROR, 503,
	                            "random_failed" };
	case V_HONEYPOT:        return (struct answer){ A_QUIET, 0,
	                            "honeypot" };
	case V_TOKEN:           return (struct answer){ A_QUIET, 0, NULL };
	case V_INVALID:         return (struct answer){ A_INVALID, 422,
	                            "invalid" };
	case V_DUPLICATE:       return (struct answer){ A_SUCCESS, 0,
	                            "duplicate" };
	case V_REPLAYED:        return (struct answer){ A_QUIET, 0,
	                            "token_replayed" };
	case V_REVIEW:          return (struct answer){ A_REVIEW, 200, NULL };
	case V_EDIT:            return (struct answer){ A_EDIT, 200, NULL };
	case V_CONFIRM:         return (struct answer){ A_QUIET, 0, NULL };
	case V_COMPOSE_FAILED:  return (struct answer){ A_ERROR, 503,
	                            "compose_failed" };
	case V_STORE_FAILED:    return (struct answer){ A_ERROR, 503,
	                            "store_failed" };
	case V_ACCEPTED:        return (struct answer){ A_SUCCESS, 0, NULL };
	case V_NEXT:            /* no stage ended the post: a bug */
		break;
	}
	return (struct answer){ A_ERROR, 500, "internal" };
}

/* One post's state, shared by its steps; post_end frees it. */
struct post {
	const struct http_ctx *ctx;
	const struct http_req *req;
	struct http_resp *r;
	const struct site *s;
	const char *reason;          /* V_ORIGIN, V_TOKEN: why; static */
	/* admit */
	int multipart, have_len;
	char boundary[LIM_BOUNDARY_BYTES + 1];
	unsigned long long len;
	int taken;                   /* holds a rate-limit slot */
	int parsed;                  /* multipart: streamed into form */
	int bot;                     /* the honeypot filled, body not parsed */
	char *body;                  /* until parsed */
	size_t blen;
	/* judge */
	struct form form;
	struct fvals v;
	struct mail_facts mf;
	char date[40];
	unsigned char nonce[TOKEN_NONCE_LEN];
	int have_nonce;
	unsigned char key[SHA256_LEN], nkey[SHA256_LEN];
	int claim;                   /* 0: holds the double-submit claim */
	int nclaim;                  /* 0: holds its token nonce's claim */
	enum review { R_NONE, R_FIRST, R_BACK, R_SEND } review;
	char confirm[CONFIRM_LEN + 1]; /* the review page's _confirm */
	/* review sites with file fields, per field: what a posted
	 * reference says, as validate takes it, and the held file once
	 * opened (or -1) */
	struct hold_file *held;
	struct fheld *fh;
	int *hold_fd;
	int *fresh;                  /* field i's upload was held by this post */
	int hold_rated;              /* took from the client's hold budget */
	int step_page;               /* answered with a review or edit page */
	/* store */
	struct mail m;
};

typedef enum verdict (*post_step)(struct post *p);

static enum verdict
run_steps(struct post *p, const post_step *steps, size_t n)
{
	enum verdict v = V_NEXT;
	size_t i;

	for (i = 0; i < n && v == V_NEXT; i++)
		v = steps[i](p);
	return v;
}

/* --- admit: cheapest first, nothing read before the length is known */

static enum verdict
admit_origin(struct post *p)
{
	return http_origin_ok(p->s, p->req->origin, p->req->referer,
	    p->req->sec_fetch_site, &p->reason) == -1 ? V_ORIGIN : V_NEXT;
}

/* 1 when content type ct is the media type mt, parameters aside. */
static int
is_type(const char *ct, const char *mt)
{
	size_t n = strlen(mt);

	return strncasecmp(ct, mt, n) == 0 &&
	    (ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ');
}

static enum verdict
admit_type(struct post *p)
{
	const char *ct = p->req->content_type ? p->req->content_type : "";

	if (is_type(ct, "application/x-www-form-urlencoded"))
		return V_NEXT;
	if (!is_type(ct, "multipart/form-data"))
		return V_CONTENT_TYPE;
	p->multipart = 1;
	return form_multipart_boundary(ct, p->boundary, sizeof p->boundary)
	    == -1 ? V_BAD_BOUNDARY : V_NEXT;
}

static enum verdict
admit_length(struct post *p)
{
	if ((p->have_len = parse_length(p->req->content_length, &p->len))
	    == -1)
		return V_BAD_LENGTH;
	return p->len > p->s->max_body ? V_TOO_LARGE : V_NEXT;
}

/* Counted now, given back by post_end unless the post ends accepted or
 * as a spam verdict: concurrent posts cannot all slip through. */
static enum verdict
admit_rate(struct post *p)
{
	const struct site *s = p->s;

	if (p->ctx->rl && (p->r->retry_after = ratelimit_take(p->ctx->rl,
	    s->name, p->req->remote_addr, s->rate_count, s->rate_window,
	    now_ms(p->ctx))) != 0)
		return V_RATE_LIMITED;
	p->taken = 1;
	return V_NEXT;
}

/* Bytes of text a post may hold in memory: a site with file fields
 * keeps the global max_body for its text (its own is for files, which
 * go to disk); another site's max_body is all text. */
static size_t
text_cap(const struct post *p)
{
	return p->s->has_files ? p->ctx->c->max_body : p->s->max_body;
}

static enum verdict
form_verdict(enum form_err fe)
{
	switch (fe) {
	case FORM_OK:          return V_NEXT;
	case FORM_E_UTF8:      return V_NOT_UTF8;
	case FORM_E_TOO_MANY:  return V_TOO_MANY_FIELDS;
	case FORM_E_TOO_LARGE: return V_TOO_LARGE;
	case FORM_E_NOMEM:     return V_NOMEM;
	case FORM_E_IO:        return V_UPLOAD_FAILED;
	default:               return V_MALFORMED;
	}
}

/* A file part's first byte: a configured file field gets an unnamed
 * file in the spool's tmp/, any other part's content is only counted
 * (validate refuses a file for a text field by name). */
static int
upload_open(void *arg, const char *name, size_t n)
{
	struct post *p = arg;
	size_t i;

	for (i = 0; i < p->s->nfields; i++)
		if (p->s->fields[i].type == FT_FILE &&
		    strlen(p->s->fields[i].name) == n &&
		    memcmp(p->s->fields[i].name, name, n) == 0)
			return p->ctx->tmp_open(p->ctx->tmp_arg);
	return -2;
}

static int
upload_write(void *arg, int fd, const char *b, size_t n)
{
	(void)arg;
	return file_write_all(fd, b, n);
}

/* Reads the next chunk of a streamed body: bytes, 0 at its end, or a
 * verdict (as a negative number) when it broke or grew too large. */
static enum verdict
stream_read(struct post *p, char *b, unsigned long long *got, size_t *n)
{
	size_t want = LIM_STREAM_CHUNK;
	ssize_t r;

	if (p->have_len && p->len - *got < want)
		want = (size_t)(p->len - *got);
	*n = 0;
	if (want == 0)
		return V_NEXT;
	r = p->req->read(p->req->read_arg, b, want);
	if (r < 0 || (r == 0 && p->have_len))
		return V_ABORTED;
	*got += (unsigned long long)r;
	*n = (size_t)r;
	return *got > p->s->max_body ? V_TOO_LARGE : V_NEXT;
}

/* multipart/form-data, parsed as it arrives (doc/design.md
 * "Attachments"): at most one chunk of the body in memory besides the
 * text values; files go to unnamed files under the spool's tmp/. */
static enum verdict
admit_stream(struct post *p)
{
	const struct config *c = p->ctx->c;
	struct form_limits lim = { c->max_fields, c->max_field_name };
	struct form_sink sink = { upload_open, upload_write, p };
	struct form_stream *st;
	unsigned long long got = 0;
	enum verdict v = V_NOMEM;
	char *b = malloc(LIM_STREAM_CHUNK);
	size_t n;

	if (b == NULL || (st = form_stream_new(p->boundary, &lim, text_cap(p),
	    p->ctx->tmp_open ? &sink : NULL)) == NULL) {
		free(b);
		return V_NOMEM;
	}
	do {
		if ((v = stream_read(p, b, &got, &n)) != V_NEXT)
			break;
		v = form_verdict(form_stream_feed(st, b, n));
	} while (v == V_NEXT && n > 0);
	if (v == V_NEXT)
		v = form_verdict(form_stream_finish(st, &p->form));
	p->parsed = 1;
	form_stream_free(st);
	free(b);
	return v;
}

static enum verdict
admit_body(struct post *p)
{
	if (p->multipart)
		return admit_stream(p);
	if (p->have_len && p->len > text_cap(p))
		return V_TOO_LARGE;
	switch (read_body(p->req, p->have_len, (size_t)p->len,
	    text_cap(p), &p->body, &p->blen)) {
	case BODY_OK:        return V_NEXT;
	case BODY_NOMEM:     return V_NOMEM;
	case BODY_TOO_LARGE: return V_TOO_LARGE;
	case BODY_SHORT:     return V_ABORTED;
	}
	return V_ABORTED;
}

static const post_step admit_steps[] = {
	admit_origin, admit_type, admit_length, admit_rate, admit_body,
};

/* --- judge: what the post is worth */

static enum verdict
judge_parse(struct post *p)
{
	const struct config *c = p->ctx->c;
	struct form_limits lim = { c->max_fields, c->max_field_name };
	enum form_err fe;

	if (p->parsed)
		return V_NEXT;	/* multipart: parsed while it arrived */
	/* A filled honeypot makes the post a bot's, whatever else its body
	 * holds: its answer (judge_honeypot) needs nothing decoded. */
	if (p->s->honeypot &&
	    form_urlencoded_filled(p->body, p->blen, p->s->honeypot)) {
		p->bot = 1;
		fe = FORM_OK;
	} else
		fe = form_parse_urlencoded(p->body, p->blen, &lim, &p->form);
	free(p->body);
	p->body = NULL;
	return form_verdict(fe);
}

/* The local time zone's offset at t, in minutes: the last one worked
 * out on this thread while t is the same second (most posts are). */
static int
utc_offset_min(time_t t)
{
	static _Thread_local time_t last_t = -1;
	static _Thread_local int last_off;
	struct tm tm;

	if (t != last_t) {
		localtime_r(&t, &tm);
		last_off = (int)(tm.tm_gmtoff / 60);
		last_t = t;
	}
	return last_off;
}

/* The id and date every later answer (even a bot's) shows. */
static enum verdict
judge_stamp(struct post *p)
{
	if (id_new(p->r->id) == -1)
		return V_RANDOM_FAILED;
	p->mf.now = time(NULL);
	p->mf.utc_offset_min = utc_offset_min(p->mf.now);
	mail_local_date(p->date, sizeof p->date, p->mf.now,
	    p->mf.utc_offset_min);
	return V_NEXT;
}

static enum verdict
judge_honeypot(struct post *p)
{
	const struct form_field *hp;

	if (p->s->honeypot == NULL)
		return V_NEXT;
	if (p->bot)
		return V_HONEYPOT;
	hp = form_get(&p->form, p->s->honeypot);
	return hp && hp->value_len ? V_HONEYPOT : V_NEXT;
}

/* Which step of a review site this post is (doc/design.md "The review
 * step"): the first post, the review page's 修正する (_back=1), or its
 * 送信する (_confirm). */
static enum verdict
judge_mode(struct post *p)
{
	const struct form_field *f;

	if (!p->s->confirm)
		p->review = R_NONE;
	else if ((f = form_get(&p->form, "_back")) != NULL &&
	    f->value_len == 1 && f->value[0] == '1')
		p->review = R_BACK;
	else if (form_get(&p->form, "_confirm") != NULL)
		p->review = R_SEND;
	else
		p->review = R_FIRST;
	return V_NEXT;
}

/* Only the first step of a review site shows the token (min_age and
 * max_age); the second carries _confirm, which only a post that passed
 * it can have, and which binds the token's nonce. */
static enum verdict
judge_token(struct post *p)
{
	const struct site *s = p->s;
	const struct form_field *tf;
	enum token_rc trc = TOKEN_INVALID;

	if (!s->token_required || p->review == R_BACK ||
	    p->review == R_SEND)
		return V_NEXT;
	tf = form_get(&p->form, "_token");
	if (tf && p->ctx->token_key)
		trc = token_verify(p->ctx->token_key, s->name, tf->value,
		    tf->value_len, wall_ms(p->ctx), s->token_min_age,
		    s->token_max_age, p->nonce);
	if (trc != TOKEN_OK) {
		p->reason = tf ? token_reason(trc) : "token_missing";
		return V_TOKEN;
	}
	p->have_nonce = 1;
	return V_NEXT;
}

/* Field i's reference, when it posts one and no file (an upload wins):
 * checked whole before anything is opened.  One that is bad or expired
 * holds nothing: the field asks for the file again (a 422, never a quiet
 * answer: the visitor may have done nothing wrong).  The replaced file
 * of an upload stays until it expires (a browser's back button may
 * still send its review page). */
static void
hold_field(struct post *p, size_t i)
{
	const char *name = p->s->fields[i].name;
	const struct form_field *ff = NULL, *x;
	enum hold_rc rc = HOLD_INVALID;
	struct fheld *h = &p->fh[i];
	size_t j, n = strlen(name);

	for (j = 0; j < p->form.n; j++) {
		x = &p->form.fields[j];
		if (x->name_len != n || memcmp(x->name, name, n) != 0)
			continue;
		if (x->is_file)
			return;
		ff = ff ? ff : x;
	}
	if (ff == NULL || ff->value_len == 0)
		return;
	if (p->ctx->token_key)
		rc = hold_ref_parse(p->ctx->token_key, p->s->name, name,
		    ff->value, ff->value_len, wall_ms(p->ctx),
		    p->s->token_max_age, &p->held[i]);
	if (rc != HOLD_OK) {
		h->again = 1;
		log_event(LOG_INFO, "hold_refused", "site", p->s->name,
		    "field", name, "reason", hold_reason(rc), (char *)NULL);
		return;
	}
	h->ref = ff->value;
	h->ref_len = ff->value_len;
	h->label = p->held[i].label;
	h->size = p->held[i].size;
	h->ctype = p->held[i].ctype;
	h->digest = p->held[i].digest;
}

/* The files a review site's fields hold between its posts (doc/design.md
 * "Held uploads"): a field without a file part may post the reference of
 * one this server held. */
static enum verdict
judge_holds(struct post *p)
{
	const struct site *s = p->s;
	const struct form_field *cf;
	enum confirm_rc rc;
	size_t i;

	if (!s->confirm || !s->has_files)
		return V_NEXT;
	/* 送信する: a forged, foreign or expired _confirm is answered like
	 * a bad token before any reference is looked at (no values: only
	 * the site MAC and the age are checked here). */
	if (p->review == R_SEND && (cf = form_get(&p->form, "_confirm"))) {
		rc = p->ctx->token_key == NULL ? CONFIRM_INVALID :
		    confirm_verify(p->ctx->token_key, s->name, NULL, 0,
		    cf->value, cf->value_len, wall_ms(p->ctx),
		    s->token_max_age, NULL);
		if (rc == CONFIRM_ERROR)
			return V_NOMEM;
		if (rc != CONFIRM_OK && rc != CONFIRM_CHANGED) {
			p->reason = confirm_reason(rc);
			return V_CONFIRM;
		}
	}
	p->held = calloc(s->nfields + 1, sizeof *p->held);
	p->fh = calloc(s->nfields + 1, sizeof *p->fh);
	p->hold_fd = calloc(s->nfields + 1, sizeof *p->hold_fd);
	p->fresh = calloc(s->nfields + 1, sizeof *p->fresh);
	for (i = 0; p->hold_fd && i < s->nfields; i++)
		p->hold_fd[i] = -1;     /* before any return: post_end closes */
	if (p->held == NULL || p->fh == NULL || p->hold_fd == NULL ||
	    p->fresh == NULL)
		return V_NOMEM;
	for (i = 0; i < s->nfields; i++)
		if (s->fields[i].type == FT_FILE)
			hold_field(p, i);
	return V_NEXT;
}

static enum verdict
judge_validate(struct post *p)
{
	if (validate_form_held(p->s, &p->form, p->fh, &p->v) == -1)
		return V_NOMEM;
	return p->v.nerrors ? V_INVALID : V_NEXT;
}

/* The site's fields as confirm signs them: names and normalised values
 * in config order; a file field's value is its held file's reference
 * (which binds name, size, type, label and digest), and an upload not
 * held yet a byte no reference equals.  Caller frees; NULL on OOM. */
static struct confirm_item *
confirm_items(const struct post *p)
{
	struct confirm_item *it = calloc(p->s->nfields + 1, sizeof *it);
	const struct fval *fv;
	size_t i;

	for (i = 0; it && i < p->s->nfields; i++) {
		fv = i < p->v.n ? &p->v.v[i] : NULL;
		it[i].name = p->s->fields[i].name;
		it[i].value = fv ? fv->value : "";
		if (fv && p->s->fields[i].type == FT_FILE)
			it[i].value = fv->hold ? fv->hold : fv->has_file ?
			    "\001" : "";
		it[i].len = strlen(it[i].value);
	}
	return it;
}

/* Field i's upload into hold/ under a fresh name, and its reference in
 * fv->hold. */
static enum verdict
hold_upload(struct post *p, size_t i)
{
	struct fval *fv = &p->v.v[i];
	const struct http_ctx *ctx = p->ctx;
	struct hold_file h;
	int rc;

	memset(&h, 0, sizeof h);
	if (ctx->hold_put == NULL || ctx->token_key == NULL || fv->fd < 0 ||
	    strlen(fv->value) > HOLD_LABEL_MAX)
		return V_UPLOAD_FAILED;
	if (hold_new_name(p->s->name, h.name) == -1)
		return V_RANDOM_FAILED;
	h.issued_ms = wall_ms(ctx);
	h.size = fv->size;
	h.ctype = fv->ctype;
	memcpy(h.digest, fv->digest, sizeof h.digest);
	memcpy(h.label, fv->value, strlen(fv->value) + 1);
	if ((fv->hold = malloc(HOLD_REF_MAX + 1)) == NULL)
		return V_NOMEM;
	if (hold_ref_make(ctx->token_key, p->s->name, p->s->fields[i].name,
	    &h, fv->hold, HOLD_REF_MAX + 1) == -1) {
		free(fv->hold);
		fv->hold = NULL;
		return V_NOMEM;
	}
	if ((rc = ctx->hold_put(ctx->hold_arg, fv->fd, fv->size, h.name))
	    != 0) {
		free(fv->hold);
		fv->hold = NULL;
		return rc == -2 ? V_HOLD_FULL : V_UPLOAD_FAILED;
	}
	memcpy(p->held[i].name, h.name, sizeof h.name);
	p->fresh[i] = 1;
	return V_NEXT;
}

/* Uploads held for review pages, per client (doc/design.md "Held
 * uploads"): a budget of its own, the site's rate_limit or
 * DEF_HOLD_RATE_*, since review pages give their message slot back and
 * hold/ is disk.  Takes one (0, or the seconds until one more is
 * allowed), or with refund gives it back. */
static unsigned
hold_rate(struct post *p, int refund)
{
	const struct site *s = p->s;
	unsigned count = s->rate_count ? s->rate_count : DEF_HOLD_RATE_COUNT;
	unsigned window = s->rate_count ? s->rate_window :
	    DEF_HOLD_RATE_WINDOW;
	char key[LIM_NAME_BYTES + 8];

	if (p->ctx->rl == NULL)
		return 0;
	snprintf(key, sizeof key, "%s\001hold", s->name);
	if (!refund)
		return ratelimit_take(p->ctx->rl, key, p->req->remote_addr,
		    count, window, now_ms(p->ctx));
	ratelimit_refund(p->ctx->rl, key, p->req->remote_addr, count, window,
	    now_ms(p->ctx));
	return 0;
}

/* A review page that could not be made: the files this post held are
 * nobody's, so they go now rather than count against the caps. */
static void
hold_unwind(struct post *p)
{
	size_t i;

	for (i = 0; p->fresh && i < p->s->nfields && i < p->v.n; i++) {
		if (!p->fresh[i])
			continue;
		if (p->ctx->hold_drop)
			p->ctx->hold_drop(p->ctx->hold_arg, p->held[i].name);
		free(p->v.v[i].hold);
		p->v.v[i].hold = NULL;
		p->fresh[i] = 0;
	}
	if (p->hold_rated)
		hold_rate(p, 1);
	p->hold_rated = 0;
}

/* A review page's _confirm for the values, bound to the token's nonce
 * when the post had one (one token, one message), else a fresh one.
 * Uploads are held first, so it signs their references. */
static enum verdict
review_issue(struct post *p)
{
	struct confirm_item *it;
	enum verdict v = V_NEXT;
	size_t i;
	int rc;

	for (i = 0; i < p->v.n && v == V_NEXT; i++)
		if (p->v.v[i].has_file && p->v.v[i].hold == NULL) {
			if (!p->hold_rated && (p->r->retry_after =
			    hold_rate(p, 0)) != 0)
				return V_RATE_LIMITED;
			p->hold_rated = 1;
			v = hold_upload(p, i);
		}
	if (v == V_NEXT && !p->have_nonce &&
	    crypto_random(p->nonce, sizeof p->nonce) == -1)
		v = V_RANDOM_FAILED;
	if (v == V_NEXT && (p->ctx->token_key == NULL ||
	    (it = confirm_items(p)) == NULL))
		v = V_NOMEM;
	if (v == V_NEXT) {
		rc = confirm_make(p->ctx->token_key, p->s->name, it,
		    p->s->nfields, wall_ms(p->ctx), p->nonce, p->confirm);
		free(it);
		v = rc == -1 ? V_NOMEM : V_REVIEW;
	}
	if (v != V_REVIEW)
		hold_unwind(p);
	return v;
}

/* The review step: nothing is stored before 送信する posts back a
 * _confirm that verifies for exactly these values.  Changed values get a
 * new review page; a forged, foreign or expired one is a spam verdict. */
static enum verdict
judge_review(struct post *p)
{
	const struct form_field *cf;
	struct confirm_item *it;
	enum confirm_rc rc;
	enum verdict v;
	char first[ID_BUF];

	if (p->review == R_NONE)
		return V_NEXT;
	if (p->review == R_BACK)
		return V_EDIT;
	if (p->review == R_FIRST) {
		nonce_key(p->nonce, p->nkey);
		return p->have_nonce && p->ctx->nonces && dedup_lookup(
		    p->ctx->nonces, p->nkey, first) ? V_REPLAYED :
		    review_issue(p);
	}
	if ((it = confirm_items(p)) == NULL)
		return V_NOMEM;
	cf = form_get(&p->form, "_confirm");
	rc = p->ctx->token_key == NULL ? CONFIRM_INVALID :
	    confirm_verify(p->ctx->token_key, p->s->name, it, p->s->nfields,
	    cf->value, cf->value_len, wall_ms(p->ctx), p->s->token_max_age,
	    p->nonce);
	free(it);
	switch (rc) {
	case CONFIRM_OK:
		p->have_nonce = 1;
		v = V_NEXT;
		break;
	case CONFIRM_CHANGED:
		p->have_nonce = 1;
		p->reason = confirm_reason(rc);
		v = review_issue(p);
		break;
	case CONFIRM_ERROR:
		v = V_NOMEM;
		break;
	default:
		p->reason = confirm_reason(rc);
		v = V_CONFIRM;
		break;
	}
	return v;
}

/* A double click or resend: the first answer, no second mail. */
static enum verdict
judge_duplicate(struct post *p)
{
	char first[ID_BUF];

	if (p->ctx->dedup == NULL || dedup_key(p->s->name,
	    p->req->remote_addr, &p->v, p->key) != 0)
		return V_NEXT;
	p->claim = dedup_claim(p->ctx->dedup, p->key, p->r->id, first);
	if (p->claim != 1)
		return V_NEXT;
	id_copy(p->r->id, first);
	return V_DUPLICATE;
}

/* Claimed now, recorded only once the post is stored, so a 422 or a
 * failed store leaves the token usable. */
static enum verdict
judge_replay(struct post *p)
{
	char first[ID_BUF];

	if (!p->have_nonce || p->ctx->nonces == NULL)
		return V_NEXT;
	nonce_key(p->nonce, p->nkey);
	p->nclaim = dedup_claim(p->ctx->nonces, p->nkey, p->r->id, first);
	return p->nclaim == 1 ? V_REPLAYED : V_NEXT;
}

/* A held file that is gone or not the one reviewed, after _confirm
 * verified: the visitor did nothing wrong, so the field asks for the
 * file again (422, the other values kept), never a quiet answer. */
static void
hold_lost(struct post *p, size_t i, const char *why)
{
	struct fval *fv = &p->v.v[i];

	log_event(LOG_WARN, "hold_lost", "site", p->s->name, "field",
	    p->s->fields[i].name, "reason", why, (char *)NULL);
	fv->error = "file_again";
	fv->has_file = 0;
	fv->fd = -1;
	p->v.nerrors++;
}

/* 送信する with held files: only now, with _confirm verified, is each
 * opened, and it must still be the file reviewed (sniffed and hashed
 * again, like an upload). */
static enum verdict
judge_open_holds(struct post *p)
{
	const struct http_ctx *ctx = p->ctx;
	size_t i;
	int rc;

	if (p->review != R_SEND || p->fh == NULL)
		return V_NEXT;
	for (i = 0; i < p->s->nfields && i < p->v.n; i++) {
		if (p->fh[i].ref == NULL || !p->v.v[i].has_file)
			continue;
		if (ctx->hold_open == NULL || (p->hold_fd[i] = ctx->hold_open(
		    ctx->hold_arg, p->held[i].name)) == -1) {
			hold_lost(p, i, "hold_missing");
			continue;
		}
		rc = validate_held_file(&p->s->fields[i], p->hold_fd[i],
		    &p->v.v[i]);
		if (rc == -1)
			return V_NOMEM;
		if (rc == 1)
			hold_lost(p, i, "hold_changed");
	}
	return p->v.nerrors ? V_INVALID : V_NEXT;
}

static const post_step judge_steps[] = {
	judge_parse, judge_stamp, judge_honeypot, judge_mode, judge_token,
	judge_holds, judge_validate, judge_review, judge_duplicate,
	judge_replay, judge_open_holds,
};

/* --- store: a success answer only once the message is durable */

static enum verdict
store_compose(struct post *p)
{
	char err[256];

	p->mf.id = p->r->id;
	p->mf.ip = p->req->remote_addr;
	p->mf.page = post_page(p->s, p->req, &p->form);
	/* A message with attachments is written to a file as it is made
	 * (doc/design.md "Attachments"). */
	p->mf.tmp_open = p->ctx->compose_open;
	p->mf.tmp_arg = p->ctx->tmp_arg;
	if (mail_compose(p->s, p->ctx->pg, &p->v, &p->mf, &p->m, err,
	    sizeof err) == -1) {
		log_event(LOG_ERROR, "compose_failed", "site", p->s->name,
		    "id", p->r->id, "error", err, (char *)NULL);
		return V_COMPOSE_FAILED;
	}
	return V_NEXT;
}

static enum verdict
store_commit(struct post *p)
{
	const struct http_ctx *ctx = p->ctx;
	char err[256];

	if (ctx->submit(ctx->submit_arg, p->s, &p->m, p->r->id, err,
	    sizeof err) == -1) {
		/* Never a success answer for a message not on disk; the
		 * id is the log's, not the visitor's. */
		log_event(LOG_ERROR, "store_failed", "site", p->s->name,
		    "id", p->r->id, "error", err, (char *)NULL);
		return V_STORE_FAILED;
	}
	if (p->claim == 0) {
		dedup_record(ctx->dedup, p->key, p->r->id);
		p->claim = -1;
	}
	if (p->nclaim == 0) {
		dedup_record(ctx->nonces, p->nkey, p->r->id);
		p->nclaim = -1;
	}
	return V_NEXT;
}

/* Whether the receipt may go: NULL, or why not (static).  Counts it. */
static const char *
receipt_allowed(struct post *p, char *err, size_t errlen)
{
	const struct site *s = p->s;

	if (p->ctx->replies == NULL)
		return "no_limit_table";
	switch (replylimit_take(p->ctx->replies, p->v.reply_to,
	    p->req->remote_addr, s->ar_count, s->ar_window,
	    (long long)p->mf.now, err, errlen)) {
	case REPLYLIMIT_OK:   return NULL;
	case REPLYLIMIT_OVER: return "limit";
	default:              return "limit_table";
	}
}

/* The visitor's receipt (doc/design.md "Auto-reply and carrier mail"):
 * a step only an accepted post reaches, after the owner's message is
 * durable, so no other verdict sends one.  It is a message of its own;
 * whatever happens to it is logged at info and changes nothing of the
 * answer. */
static enum verdict
store_receipt(struct post *p)
{
	const struct http_ctx *ctx = p->ctx;
	const struct site *s = p->s;
	char rid[sizeof p->r->id + sizeof SPOOL_RECEIPT_SUFFIX], err[256] = "";
	const char *why;
	struct mail m;

	if (!s->auto_reply || p->v.reply_to == NULL)
		return V_ACCEPTED;
	memset(&m, 0, sizeof m);
	if ((why = receipt_allowed(p, err, sizeof err)) == NULL) {
		snprintf(rid, sizeof rid, "%s%s", p->r->id,
		    SPOOL_RECEIPT_SUFFIX);
		if (mail_compose_receipt(s, ctx->pg, &p->v, &p->mf, &m, err,
		    sizeof err) == -1)
			why = "compose_failed";
		else if (ctx->submit(ctx->submit_arg, s, &m, rid, err,
		    sizeof err) == -1)
			why = "store_failed";
		mail_free(&m);
	}
	log_event(LOG_INFO, "auto_reply", "site", s->name, "id", p->r->id,
	    "auto_reply", why ? "skipped" : "queued", "reason", why, "error",
	    err[0] ? err : NULL, (char *)NULL);
	if (why != NULL)      /* the log's reason, as a counter */
		metrics_auto_reply_skipped(s->name, why);
	return V_ACCEPTED;
}

/* The held files a sent message carries are in the spool now, in its
 * bytes: hold/ lets them go. */
static enum verdict
store_drop_holds(struct post *p)
{
	size_t i;

	for (i = 0; p->hold_fd && i < p->s->nfields; i++)
		if (p->hold_fd[i] >= 0 && p->ctx->hold_drop)
			p->ctx->hold_drop(p->ctx->hold_arg, p->held[i].name);
	return V_NEXT;
}

static const post_step store_steps[] = { store_compose, store_commit,
    store_drop_holds, store_receipt };

/* The one place a post is answered. */
static void
post_answer(struct post *p, enum verdict v)
{
	const struct http_ctx *ctx = p->ctx;
	const struct http_req *req = p->req;
	struct http_resp *r = p->r;
	struct answer a = verdict_answer(v);
	const char *reason = a.reason ? a.reason : p->reason;
	/* Parsed or not, the page a visitor came from. */
	const char *page = post_page(p->s, req, &p->form);
	int rc = 0;

	switch (a.kind) {
	case A_ERROR:
		answer_error(ctx, req, r, p->s, a.status, reason,
		    v != V_NOT_UTF8 ? NULL : p->s->lang == LANG_JA ?
		    not_utf8_ja : not_utf8_en);
		return;
	case A_INVALID:
		rc = answer_invalid(ctx, req, r, p->s, &p->v, page);
		break;
	case A_REVIEW:
	case A_EDIT:
		p->step_page = 1;
		r->reason = p->reason;
		rc = answer_review(ctx, req, r, p->s, &p->v,
		    a.kind == A_REVIEW ? p->confirm : NULL, page);
		break;
	case A_SUCCESS:
	case A_QUIET:
		r->reason = reason;
		rc = answer_success(ctx, req, r, p->s, a.kind == A_SUCCESS ?
		    &p->v : NULL, r->id, p->date, page);
		break;
	}
	if (rc == -1)
		post_answer(p, V_NOMEM);
}

static void
post_end(struct post *p)
{
	const struct site *s = p->s;
	size_t i;

	/* Claimed but not stored: a resend, or a twin waiting on the
	 * claim, may submit. */
	if (p->claim == 0)
		dedup_release(p->ctx->dedup, p->key, p->r->id);
	if (p->nclaim == 0)
		dedup_release(p->ctx->nonces, p->nkey, p->r->id);
	/* Accepted and spam-verdict posts count; the rest, and the review
	 * step's pages (rate_limit counts messages), are given back (the
	 * uploads they hold have a budget of their own, hold_rate). */
	if (p->taken && (p->r->status >= 400 || p->step_page))
		ratelimit_refund(p->ctx->rl, s->name, p->req->remote_addr,
		    s->rate_count, s->rate_window, now_ms(p->ctx));
	free(p->body);
	mail_free(&p->m);
	fvals_free(&p->v);
	form_free(&p->form);
	for (i = 0; p->hold_fd && i < s->nfields; i++)
		if (p->hold_fd[i] >= 0)
			close(p->hold_fd[i]);
	free(p->hold_fd);
	free(p->fresh);
	free(p->fh);
	free(p->held);
}

static uint64_t
mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

/* log_level debug: how long each stage of a post took (admit: origin,
 * type, length, rate, body; judge: parse, token, validate, dedupe;
 * store: compose, spool commit; answer: the page). */
static void
log_timing(const char *site, const char *id, const uint64_t t[4])
{
	char a[24], j[24], st[24];

	snprintf(a, sizeof a, "%llu", (unsigned long long)(t[1] - t[0]));
	snprintf(j, sizeof j, "%llu", (unsigned long long)(t[2] - t[1]));
	snprintf(st, sizeof st, "%llu", (unsigned long long)(t[3] - t[2]));
	log_event(LOG_DEBUG, "timing", "site", site, "id", id[0] ? id : NULL,
	    "admit_us", a, "judge_us", j, "store_answer_us", st,
	    (char *)NULL);
}

static void
handle_post(const struct http_ctx *ctx, const struct http_req *req,
    struct http_resp *r, const struct site *s)
{
	struct post p = { .ctx = ctx, .req = req, .r = r, .s = s,
	    .claim = -1, .nclaim = -1 };
	enum verdict v;
	uint64_t t[4] = { 0, 0, 0, 0 };
	int debug = log_enabled(LOG_DEBUG);

	if (debug)
		t[0] = mono_us();
	v = run_steps(&p, admit_steps, ARRAY_LEN(admit_steps));
	if (debug)
		t[1] = mono_us();
	if (v == V_NEXT)
		v = run_steps(&p, judge_steps, ARRAY_LEN(judge_steps));
	if (debug)
		t[2] = mono_us();
	if (v == V_NEXT)
		v = run_steps(&p, store_steps, ARRAY_LEN(store_steps));
	post_answer(&p, v);
	post_end(&p);
	if (debug) {
		t[3] = mono_us();
		log_timing(s->name, r->id, t);
	}
}

/* GET <prefix>/<site>/token: a fresh token as JSON, never cached, with
 * the site's CORS grant so its pages can fetch it.  Sites that do not
 * require tokens have no such route. */
static void
handle_token(const struct http_ctx *ctx, const struct http_req *req,
    struct http_resp *r, const struct site *s)
{
	char tok[TOKEN_LEN + 1];

	if (!s->token_required || ctx->token_key == NULL) {
		answer_error(ctx, req, r, s, 404, "token_disabled", NULL);
		return;
	}
	if (req->method == NULL || strcmp(req->method, "GET") != 0) {
		answer_error(ctx, req, r, s, 405, "token_method", NULL);
		return;
	}
	if (token_issue(ctx->token_key, s->name, wall_ms(ctx), tok) == -1) {
		answer_error(ctx, req, r, s, 503, "random_failed", NULL);
		return;
	}
	r->status = 200;
	r->event = "token_issued";
	common_headers(r, s, 1);
	cors_headers(r, s, req);
	buf_adds(&r->body, "{\"token\":");
	json_buf_string(&r->body, tok);
	buf_adds(&r->body, "}");
}

/* A CORS preflight (or a plain OPTIONS): 204 with the grant for an
 * allowed origin; 403 for any other origin, so the refusal is logged as
 * one.  Both carry the headers every answer carries. */
static void
handle_options(const struct http_ctx *ctx, const struct http_req *req,
    struct http_resp *r, const struct site *s)
{
	if (req->origin && !cors_allowed(s, req->origin)) {
		answer_error(ctx, req, r, s, 403, "origin_not_allowed", NULL);
		return;
	}
	r->status = 204;
	common_headers(r, s, 0);
	buf_adds(&r->head, "Allow: POST, OPTIONS\r\n");
	if (req->origin)
		buf_adds(&r->head,
		    "Access-Control-Allow-Methods: POST, OPTIONS\r\n"
		    "Access-Control-Allow-Headers: Content-Type, Accept\r\n"
		    "Access-Control-Max-Age: 600\r\n");
	cors_headers(r, s, req);
}

static void handle_site(const struct http_ctx *, const struct http_req *,
    struct http_resp *, const struct site *, int);

/* GET <prefix>/_metrics (doc/design.md "Operations"): for the allowed
 * addresses only; anyone else gets the unknown site's 404, so the route
 * is not even seen to exist. */
static void
handle_metrics(const struct http_ctx *ctx, const struct http_req *req,
    struct http_resp *r)
{
	if (ctx->metrics == NULL ||
	    !config_metrics_allowed(ctx->c, req->remote_addr)) {
		answer_error(ctx, req, r, NULL, 404, "unknown_site", NULL);
		return;
	}
	if (req->method == NULL || (strcmp(req->method, "GET") != 0 &&
	    strcmp(req->method, "HEAD") != 0)) {
		answer_error(ctx, req, r, NULL, 405, "metrics_method", NULL);
		return;
	}
	r->status = 200;
	r->event = "metrics";
	buf_adds(&r->head, "Content-Type: text/plain; version=0.0.4; "
	    "charset=utf-8\r\nCache-Control: no-store\r\n"
	    "X-Content-Type-Options: nosniff\r\n"
	    "Content-Security-Policy: default-src 'none'; "
	    "frame-ancestors 'none'\r\n");
	ctx->metrics(ctx->metrics_arg, &r->body);
}

void
http_handle(const struct http_ctx *ctx, const struct http_req *req,
    struct http_resp *r)
{
	char name[LIM_NAME_BYTES + 1], path[1024];
	const struct site *s;
	int token;

	if (http_request_path(req, path, sizeof path) == -1 ||
	    http_route(path, name, sizeof name, &token) == -1) {
		answer_error(ctx, req, r, NULL, 404, "unknown_site", NULL);
		return;
	}
	if (!token && strcmp(name, "_metrics") == 0)
		handle_metrics(ctx, req, r);
	else if ((s = config_site(ctx->c, name)) == NULL) {
		answer_error(ctx, req, r, NULL, 404, "unknown_site", NULL);
		return;
	} else
		handle_site(ctx, req, r, s, token);
	if (r->head.oom || r->body.oom) {
		http_resp_free(r);
		http_resp_init(r);
		r->status = 503;
		r->reason = "nomem";
	}
}

static void
handle_site(const struct http_ctx *ctx, const struct http_req *req,
    struct http_resp *r, const struct site *s, int token)
{
	str_join(r->site, sizeof r->site, s->name, "");
	if (token)
		handle_token(ctx, req, r, s);
	else if (req->method && strcmp(req->method, "POST") == 0)
		handle_post(ctx, req, r, s);
	else if (req->method && strcmp(req->method, "OPTIONS") == 0)
		handle_options(ctx, req, r, s);
	else
		answer_error(ctx, req, r, s, 405, "method", NULL);
}
