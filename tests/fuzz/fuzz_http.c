/*
 * fuzz_http — libFuzzer target for the request-line helpers of http that
 * read browser-controlled strings without a parser module of their own:
 * http_guess_lang (Accept-Language), http_route and http_request_path
 * (the request path).  Checks their contracts: a routed site is a
 * non-empty last segment without '/' that fits its buffer.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct http_req req;
	char *s, path[64], site[16];
	enum lang l;
	int token;

	if ((s = malloc(size + 1)) == NULL)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	l = http_guess_lang(NULL, s);
	if (l != LANG_JA && l != LANG_EN)
		abort();
	if (http_route(s, site, sizeof site, &token) == 0 &&
	    (site[0] == '\0' || strlen(site) >= sizeof site ||
	    strchr(site, '/') != NULL || (token != 0 && token != 1)))
		abort();
	memset(&req, 0, sizeof req);
	req.request_uri = s;
	if (http_request_path(&req, path, sizeof path) == 0 &&
	    (strlen(path) >= sizeof path || strchr(path, '?') != NULL))
		abort();
	free(s);
	return 0;
}
