/*
 * http — the request pipeline.  Order matters and is cheapest-first:
 * route → site → method → origin → content type → length (413 before a
 * byte is read) → read → parse → honeypot → validate → compose → submit →
 * answer.  A success answer is written only after submit says the message
 * is durable.  Visitors get generic pages; the log gets the reason.
 */
#include "http.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "crypto.h"
#include "dedup.h"
#include "form.h"
#include "limits.h"
#include "log.h"
#include "validate.h"

struct status_text {
	int code;
	const char *reason;
	const char *ja_title, *ja_msg;
	const char *en_title, *en_msg;
};

static const struct status_text statuses[] = {
	{ 200, "OK", "", "", "", "" },
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
	{ 411, "Length Required", "送信内容を読み取れません",
	  "送信内容の長さが不明です。", "Length required",
	  "The request did not say how long it is." },
	{ 413, "Content Too Large", "送信内容が大きすぎます",
	  "入力内容が長すぎます。短くしてもう一度お試しください。",
	  "Too large", "The form data is too large. Shorten it and try again." },
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

static const struct status_text *
status_of(int code)
{
	size_t i;

	for (i = 0; i < ARRAY_LEN(statuses); i++)
		if (statuses[i].code == code)
			return &statuses[i];
	return &statuses[ARRAY_LEN(statuses) - 2];
}

void
http_resp_init(struct http_resp *r)
{
	memset(r, 0, sizeof *r);
	buf_init(&r->head);
	buf_init(&r->body);
}

void
http_resp_free(struct http_resp *r)
{
	buf_free(&r->head);
	buf_free(&r->body);
}

int
http_route(const char *path, char *site, size_t sitelen, int *token)
{
	size_t n = strcspn(path, "?#"), start, end;

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

static int
wants_json(const struct http_req *req)
{
	return req->accept && strstr(req->accept, "application/json");
}

static void
json_string(struct buf *b, const char *s)
{
	buf_addc(b, '"');
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\')
			buf_printf(b, "\\%c", c);
		else if (c < 0x20 || c == 0x7f)
			buf_printf(b, "\\u%04x", c);
		else if (c == '<')
			buf_adds(b, "\\u003c");   /* safe inside <script> too */
		else
			buf_addc(b, (char)c);
	}
	buf_addc(b, '"');
}

/* Headers every answer carries (SPEC "HTTP contract"). */
static void
common_headers(struct http_resp *r, const struct site *s, int json)
{
	const char *redir = s ? s->redirect : NULL;
	size_t olen = 0;

	buf_printf(&r->head, "Content-Type: %s\r\n", json ?
	    "application/json" : "text/html; charset=UTF-8");
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
		if (olen)
			buf_printf(&r->head, " %.*s", (int)olen, redir);
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
	if (cors_allowed(s, req->origin))
		buf_printf(&r->head, "Access-Control-Allow-Origin: %s\r\n",
		    req->origin);
	buf_adds(&r->head, "Vary: Origin\r\n");
}

static enum lang
guess_lang(const struct http_req *req)
{
	const char *al = req->accept_language;

	/* Japanese unless the browser prefers English first. */
	if (al && (strncasecmp(al, "en", 2) == 0))
		return LANG_EN;
	return LANG_JA;
}

/* An error answer: page from the site's (or the generic) error template,
 * or a JSON object. */
static void
answer_error(const struct http_ctx *ctx, const struct http_req *req,
    struct http_resp *r, const struct site *s, int status,
    const char *reason, const char *message_override)
{
	const struct status_text *st = status_of(status);
	enum lang lang = s ? s->lang : guess_lang(req);
	struct page_facts pf;
	char code[8];
	int rc;

	r->status = status;
	r->reason = reason;
	buf_reset(&r->head);
	buf_reset(&r->body);
	common_headers(r, s, wants_json(req));
	cors_headers(r, s, req);
	if (status == 405)
		buf_adds(&r->head, "Allow: POST, OPTIONS\r\n");
	if (wants_json(req)) {
		buf_printf(&r->body, "{\"ok\":false,\"error\":");
		json_string(&r->body, reason ? reason : st->reason);
		buf_adds(&r->body, "}");
		return;
	}
	snprintf(code, sizeof code, "%d", status);
	memset(&pf, 0, sizeof pf);
	pf.status = code;
	pf.title = lang == LANG_JA ? st->ja_title : st->en_title;
	pf.message = message_override ? message_override :
	    lang == LANG_JA ? st->ja_msg : st->en_msg;
	rc = s ? pages_render(ctx->pg, s, PAGE_ERROR, NULL, &pf, &r->body) :
	    pages_render_generic(ctx->pg, lang, &pf, &r->body);
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

/* Reads exactly len body bytes into *out (caller frees); -1 when the
 * client sent fewer (an abort: nothing may be stored). */
static int
read_body(const struct http_req *req, size_t len, char **out)
{
	char *b = malloc(len + 1);
	size_t got = 0;
	ssize_t r;

	if (b == NULL)
		return -2;
	while (got < len) {
		r = req->read(req->read_arg, b + got, len - got);
		if (r <= 0) {
			free(b);
			return -1;
		}
		got += (size_t)r;
	}
	b[len] = '\0';
	*out = b;
	return 0;
}

static int
parse_length(const char *s, unsigned long long *out)
{
	unsigned long long v = 0;

	if (s == NULL || *s == '\0')
		return -1;
	for (; *s; s++) {
		if (*s < '0' || *s > '9' || v > (~0ULL - 9) / 10)
			return -1;
		v = v * 10 + (unsigned)(*s - '0');
	}
	*out = v;
	return 0;
}

static void
answer_success(const struct http_ctx *ctx, const struct http_req *req,
    struct http_resp *r, const struct site *s, const struct fvals *v,
    const char *id, const char *date)
{
	struct page_facts pf;

	r->status = s->redirect && !wants_json(req) ? 303 : 200;
	common_headers(r, s, wants_json(req));
	cors_headers(r, s, req);
	if (wants_json(req)) {
		buf_adds(&r->body, "{\"ok\":true,\"id\":");
		json_string(&r->body, id);
		buf_adds(&r->body, "}");
		return;
	}
	if (s->redirect) {
		buf_printf(&r->head, "Location: %s\r\n", s->redirect);
		return;
	}
	memset(&pf, 0, sizeof pf);
	pf.id = id;
	pf.date = date;
	pf.ip = req->remote_addr;
	pf.page = req->referer;
	if (pages_render(ctx->pg, s, PAGE_THANKS, v, &pf, &r->body) == -1)
		answer_error(ctx, req, r, s, 503, "nomem", NULL);
}

static void
answer_invalid(const struct http_ctx *ctx, const struct http_req *req,
    struct http_resp *r, const struct site *s, const struct fvals *v,
    const char *action)
{
	struct page_facts pf;
	char msg[512];
	size_t i;
	int first = 1;

	r->status = 422;
	r->reason = "invalid";
	common_headers(r, s, wants_json(req));
	cors_headers(r, s, req);
	if (wants_json(req)) {
		buf_adds(&r->body, "{\"ok\":false,\"errors\":[");
		for (i = 0; i < v->n; i++) {
			if (v->v[i].error == NULL)
				continue;
			buf_adds(&r->body, first ? "{\"field\":" :
			    ",{\"field\":");
			json_string(&r->body, s->fields[i].name);
			buf_adds(&r->body, ",\"code\":");
			json_string(&r->body, v->v[i].error);
			buf_adds(&r->body, ",\"message\":");
			json_string(&r->body, validate_message(v->v[i].error,
			    s->lang, &s->fields[i], msg, sizeof msg));
			buf_adds(&r->body, "}");
			first = 0;
		}
		buf_adds(&r->body, "]}");
		return;
	}
	memset(&pf, 0, sizeof pf);
	pf.action = action;
	pf.ip = req->remote_addr;
	pf.page = req->referer;
	if (pages_render(ctx->pg, s, PAGE_FORM, v, &pf, &r->body) == -1)
		answer_error(ctx, req, r, s, 503, "nomem", NULL);
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
handle_post(const struct http_ctx *ctx, const struct http_req *req,
    struct http_resp *r, const struct site *s)
{
	const struct config *c = ctx->c;
	struct form_limits lim = { c->max_fields, c->max_field_name };
	struct form form = { 0 };
	struct fvals v = { 0 };
	struct mail m = { 0 };
	struct mail_facts mf;
	unsigned long long len;
	char boundary[LIM_BOUNDARY_BYTES + 1], err[256], date[40];
	char action[512], first[ID_LEN + 1];
	unsigned char key[SHA256_LEN];
	const char *ct = req->content_type, *reason;
	char *body = NULL;
	enum form_err fe;
	struct tm tm;
	int multipart, rc, keyed = 0;

	if (http_origin_ok(s, req->origin, req->referer, req->sec_fetch_site,
	    &reason) == -1) {
		answer_error(ctx, req, r, s, 403, reason, NULL);
		return;
	}
	if (ct == NULL)
		ct = "";
	if (strncasecmp(ct, "application/x-www-form-urlencoded", 33) == 0 &&
	    (ct[33] == '\0' || ct[33] == ';' || ct[33] == ' '))
		multipart = 0;
	else if (strncasecmp(ct, "multipart/form-data", 19) == 0 &&
	    (ct[19] == ';' || ct[19] == ' ')) {
		multipart = 1;
		if (form_multipart_boundary(ct, boundary, sizeof boundary)
		    == -1) {
			answer_error(ctx, req, r, s, 400, "bad_boundary", NULL);
			return;
		}
	} else {
		answer_error(ctx, req, r, s, 415, "content_type", NULL);
		return;
	}
	if (parse_length(req->content_length, &len) == -1) {
		answer_error(ctx, req, r, s, 411, "no_length", NULL);
		return;
	}
	if (len > c->max_body) {
		answer_error(ctx, req, r, s, 413, "body_too_large", NULL);
		return;
	}
	rc = read_body(req, (size_t)len, &body);
	if (rc == -2) {
		answer_error(ctx, req, r, s, 503, "nomem", NULL);
		return;
	}
	if (rc == -1) {
		answer_error(ctx, req, r, s, 400, "client_aborted", NULL);
		return;
	}
	fe = multipart ? form_parse_multipart(body, (size_t)len, boundary,
	    &lim, &form) : form_parse_urlencoded(body, (size_t)len, &lim, &form);
	free(body);
	switch (fe) {
	case FORM_OK:
		break;
	case FORM_E_UTF8:
		answer_error(ctx, req, r, s, 400, "not_utf8",
		    s->lang == LANG_JA ? not_utf8_ja : not_utf8_en);
		return;
	case FORM_E_TOO_MANY:
		answer_error(ctx, req, r, s, 413, "too_many_fields", NULL);
		return;
	case FORM_E_NOMEM:
		answer_error(ctx, req, r, s, 503, "nomem", NULL);
		return;
	default:
		answer_error(ctx, req, r, s, 400, "malformed_body", NULL);
		return;
	}
	if (crypto_id(r->id) == -1) {
		answer_error(ctx, req, r, s, 503, "random_failed", NULL);
		goto out;
	}
	memset(&mf, 0, sizeof mf);
	mf.now = time(NULL);
	localtime_r(&mf.now, &tm);
	mf.utc_offset_min = (int)(tm.tm_gmtoff / 60);
	mail_local_date(date, sizeof date, mf.now, mf.utc_offset_min);
	if (s->honeypot) {
		const struct form_field *hp = form_get(&form, s->honeypot);
		if (hp && hp->value_len) {
			/* Bots learn nothing: the usual success answer. */
			r->reason = "honeypot";
			answer_success(ctx, req, r, s, NULL, r->id, date);
			goto out;
		}
	}
	if (validate_form(s, &form, &v) == -1) {
		answer_error(ctx, req, r, s, 503, "nomem", NULL);
		goto out;
	}
	if (v.nerrors) {
		form_action(req, action, sizeof action);
		answer_invalid(ctx, req, r, s, &v, action);
		goto out;
	}
	keyed = ctx->dedup && dedup_key(s->name, req->remote_addr, &v, key) == 0;
	if (keyed && dedup_lookup(ctx->dedup, key, first)) {
		/* A double click or resend: the first answer, no second mail. */
		memcpy(r->id, first, sizeof first);
		r->reason = "duplicate";
		answer_success(ctx, req, r, s, &v, r->id, date);
		goto out;
	}
	mf.id = r->id;
	mf.ip = req->remote_addr;
	mf.page = req->referer;
	if (mail_compose(s, ctx->pg, &v, &mf, &m, err, sizeof err) == -1) {
		log_event(LOG_ERROR, "compose_failed", "site", s->name, "id",
		    r->id, "error", err, (char *)NULL);
		answer_error(ctx, req, r, s, 503, "compose_failed", NULL);
		goto out;
	}
	if (ctx->submit(ctx->submit_arg, s, &m, r->id, err, sizeof err) == -1) {
		log_event(LOG_ERROR, "store_failed", "site", s->name, "id",
		    r->id, "error", err, (char *)NULL);
		answer_error(ctx, req, r, s, 503, "store_failed", NULL);
		goto out;
	}
	if (keyed)
		dedup_record(ctx->dedup, key, r->id);
	answer_success(ctx, req, r, s, &v, r->id, date);
out:
	mail_free(&m);
	fvals_free(&v);
	form_free(&form);
}

/* A CORS preflight (or a plain OPTIONS): 204 with the grant for an
 * allowed origin; 403 for any other origin, so the refusal is logged as
 * one. */
static void
handle_options(const struct http_req *req, struct http_resp *r,
    const struct site *s)
{
	r->status = 204;
	buf_adds(&r->head, "Cache-Control: no-store\r\n"
	    "X-Content-Type-Options: nosniff\r\n"
	    "Allow: POST, OPTIONS\r\n");
	if (req->origin && !cors_allowed(s, req->origin)) {
		r->status = 403;
		r->reason = "origin_not_allowed";
	} else if (req->origin)
		buf_adds(&r->head,
		    "Access-Control-Allow-Methods: POST, OPTIONS\r\n"
		    "Access-Control-Allow-Headers: Content-Type, Accept\r\n"
		    "Access-Control-Max-Age: 600\r\n");
	cors_headers(r, s, req);
}

void
http_handle(const struct http_ctx *ctx, const struct http_req *req,
    struct http_resp *r)
{
	const char *path = req->request_uri;
	char name[LIM_NAME_BYTES + 1], joined[1024];
	const struct site *s;
	int token;

	if (path == NULL || *path == '\0') {
		snprintf(joined, sizeof joined, "%s%s", req->script_name ?
		    req->script_name : "", req->path_info ? req->path_info : "");
		path = joined;
	}
	if (http_route(path, name, sizeof name, &token) == -1 ||
	    (s = config_site(ctx->c, name)) == NULL) {
		answer_error(ctx, req, r, NULL, 404, "unknown_site", NULL);
		return;
	}
	r->site = s->name;
	if (token) {
		/* The fill-time token route arrives with the token feature. */
		answer_error(ctx, req, r, s, 404, "token_disabled", NULL);
		return;
	}
	if (req->method && strcmp(req->method, "POST") == 0)
		handle_post(ctx, req, r, s);
	else if (req->method && strcmp(req->method, "OPTIONS") == 0)
		handle_options(req, r, s);
	else
		answer_error(ctx, req, r, s, 405, "method", NULL);
	if (r->head.oom || r->body.oom) {
		http_resp_free(r);
		http_resp_init(r);
		r->status = 503;
		r->reason = "nomem";
	}
}
