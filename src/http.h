/*
 * http — one form request, start to answer: routing, the Origin rule,
 * body limits and parsing, validation, composition, and every answer of
 * SPEC's table as an HTML page (or JSON).  Knows nothing of FastCGI: the
 * caller passes the CGI-style parameters and a body reader, and writes the
 * response.  Effects (storing the message) go through ctx->submit.
 * Thread-safe: everything it touches is per request or immutable.
 */
#ifndef FORMPOST_HTTP_H
#define FORMPOST_HTTP_H

#include <stddef.h>
#include <sys/types.h>

#include "config.h"
#include "mail.h"
#include "pages.h"
#include "util.h"

struct http_req {
	const char *method;
	const char *request_uri;     /* REQUEST_URI, may be NULL */
	const char *script_name;     /* used when REQUEST_URI is absent */
	const char *path_info;
	const char *content_type;
	const char *content_length;
	const char *origin;
	const char *referer;
	const char *sec_fetch_site;
	const char *accept;
	const char *accept_language;
	const char *remote_addr;
	/* Reads up to n body bytes; 0 at end, -1 on error. */
	ssize_t (*read)(void *arg, char *buf, size_t n);
	void *read_arg;
};

struct http_resp {
	int status;
	struct buf head;             /* "Name: value\r\n" lines */
	struct buf body;
	/* for the log line */
	const char *site;            /* borrowed from the config */
	char id[32];
	const char *reason;          /* why it was refused, static */
};

/* Stores (or sends) a composed message; 0 when it is durable, else -1 with
 * a reason for the log.  May take ownership of nothing. */
typedef int (*http_submit_fn)(void *arg, const struct site *s,
    const struct mail *m, const char *id, char *err, size_t errlen);

struct dedup;

struct http_ctx {
	const struct config *c;
	const struct pages *pg;
	http_submit_fn submit;
	void *submit_arg;
	struct dedup *dedup;         /* double-submit table; NULL: none */
};

void http_resp_init(struct http_resp *r);
void http_resp_free(struct http_resp *r);

/* Handles req and fills resp (status, headers, body).  Never fails: out
 * of memory becomes a 503. */
void http_handle(const struct http_ctx *ctx, const struct http_req *req,
    struct http_resp *resp);

/* The site named by a request path ("/formpost/example?x" → "example"),
 * and whether it is the /token route; 0, or -1 for a malformed path. */
int http_route(const char *path, char *site, size_t sitelen, int *token);

/* The Origin rule (SPEC): 0 allowed, or -1 with *reason set. */
int http_origin_ok(const struct site *s, const char *origin,
    const char *referer, const char *sec_fetch_site, const char **reason);

#endif
