/*
 * http — one form request, start to answer: routing, the Origin rule, body
 * limits and parsing, validation, composition, and every answer of README's
 * "HTTP answers" table as an HTML page (or JSON).  Knows nothing of FastCGI:
 * the caller passes the CGI-style parameters and a body reader, and writes the
 * response.  Effects go through the context: storing a message through
 * ctx->submit, counting a receipt in ctx->replies, and the files of an
 * upload (ctx->tmp_open gives the fd the file part's bytes are written
 * to, as they arrive).
 * Thread-safe: everything it touches is per request or immutable.
 */
#ifndef FORMPOST_HTTP_H
#define FORMPOST_HTTP_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "config.h"
#include "limits.h"
#include "mail.h"
#include "pages.h"
#include "util.h"

/* The CGI parameters a request arrives with; any may be NULL.  Routing
 * uses SCRIPT_NAME + PATH_INFO (the path the web server decoded,
 * normalised and matched, after its rewrites: nginx's fastcgi_params and
 * Apache's mod_proxy_fcgi both send the full path there), else
 * DOCUMENT_URI, else REQUEST_URI without its query. */
struct http_req {
	const char *method;
	const char *request_uri;     /* as the browser sent it, with query */
	const char *script_name;
	const char *path_info;
	const char *document_uri;    /* nginx */
	const char *content_type;
	const char *content_length;
	const char *origin;
	const char *referer;
	const char *sec_fetch_site;
	const char *accept;
	const char *accept_language;
	const char *remote_addr;
	/* Reads up to n body bytes; 0 at the end of the body, -1 when the
	 * stream broke (client or web server went away). */
	ssize_t (*read)(void *arg, char *buf, size_t n);
	void *read_arg;
};

struct http_resp {
	int status;
	struct buf head;             /* "Name: value\r\n" lines */
	struct buf body;
	/* for the log line, written after the request's config may be
	 * freed by a reload: a copy, never borrowed */
	char site[LIM_NAME_BYTES + 1];
	char id[32];
	const char *reason;          /* why it was refused, static */
	const char *event;           /* log event name, static; NULL: derived
	                              * from status and reason */
	unsigned retry_after;        /* 429: seconds, also in the head */
};

/* Stores (or sends) a composed message; 0 when it is durable, else -1 with
 * a reason for the log.  May take ownership of nothing. */
typedef int (*http_submit_fn)(void *arg, const struct site *s,
    const struct mail *m, const char *id, char *err, size_t errlen);

struct ratelimit;
struct dedup;
struct replylimit;

struct http_ctx {
	const struct config *c;
	const struct pages *pg;
	http_submit_fn submit;
	void *submit_arg;
	struct ratelimit *rl;        /* NULL: no rate limits; outlives c */
	uint64_t (*now_ms)(void);    /* monotonic ms; NULL: CLOCK_MONOTONIC */
	struct dedup *dedup;         /* double-submit table; NULL: none */
	/* The fill-time token (doc/design.md "A request"): its key (TOKEN_KEY_LEN
	 * bytes; NULL: no token route, and a site requiring tokens accepts
	 * nothing), the nonces of accepted posts (NULL: no replay check),
	 * and wall-clock ms (NULL: CLOCK_REALTIME; tokens outlive
	 * restarts, so not the monotonic clock). */
	const unsigned char *token_key;
	struct dedup *nonces;
	uint64_t (*wall_ms)(void);
	/* GET <prefix>/_metrics for c->metrics_allow addresses: appends the
	 * exposition to out (NULL: no such route, a 404 like an unknown
	 * site). */
	void (*metrics)(void *arg, struct buf *out);
	void *metrics_arg;
	/* The receipt limit table (doc/design.md "Auto-reply and carrier
	 * mail"); NULL: no receipts are sent. */
	struct replylimit *replies;
	/* Attachments (doc/design.md "Attachments"): an unnamed file for an
	 * upload (a read-write fd, or -1); NULL: file parts stay in memory
	 * (tests). */
	int (*tmp_open)(void *arg);
	void *tmp_arg;
	/* The unnamed file a message with attachments is composed into
	 * (mail_facts.tmp_open; called with tmp_arg): no capacity check
	 * there, so a full spool is the submit hook's verdict (its 503, log
	 * line and alert) like any message's.  NULL: composed in memory. */
	int (*compose_open)(void *arg);
	/* The review step's held uploads (doc/design.md "The review step"):
	 * hold_put gives the upload in fd (size bytes) the name hold/NAME:
	 * 0, -2 when hold/ is at its caps (503), -1 on failure; hold_open
	 * opens hold/NAME read-only (an fd, or -1); hold_drop removes it.
	 * NULL: a review site takes no uploads (a 503). */
	int (*hold_put)(void *arg, int fd, unsigned long long size,
	    const char *name);
	int (*hold_open)(void *arg, const char *name);
	void (*hold_drop)(void *arg, const char *name);
	void *hold_arg;
};

void http_resp_init(struct http_resp *r);
void http_resp_free(struct http_resp *r);

/* Handles req and fills resp (status, headers, body).  Never fails: out
 * of memory becomes a 503. */
void http_handle(const struct http_ctx *ctx, const struct http_req *req,
    struct http_resp *resp);

/* The path to route on (see struct http_req) into out, NUL-terminated;
 * 0, or -1 when there is none or it does not fit. */
int http_request_path(const struct http_req *req, char *out, size_t outlen);

/* The site named by a request path — its last segment, trailing slashes
 * ignored ("/formpost/example" → "example") — and whether it is the
 * "<site>/token" route.  path holds no query.  0, or -1 when no segment
 * is left or it does not fit in sitelen. */
int http_route(const char *path, char *site, size_t sitelen, int *token);

/* The language of a page for a request no site claims: the first of ja/en
 * the browser's Accept-Language prefers (by q), else the language most of
 * c's sites use (ja on a tie: the product's home market). */
enum lang http_guess_lang(const struct config *c, const char *accept_language);

/* The reason phrase of an HTTP status (RFC 9110 §15) for the Status:
 * line: static, "Error" for a code formpost never answers. */
const char *http_status_reason(int status);

/* The Origin rule (Origin, then Referer, then Sec-Fetch-Site; README
 * "HTTP answers", 403): 0 allowed, or -1 with *reason set. */
int http_origin_ok(const struct site *s, const char *origin,
    const char *referer, const char *sec_fetch_site, const char **reason);

#endif
