/*
 * webhook — a bounded, verified JSON POST (see webhook.h).  The answer's
 * body is read and thrown away, capped.
 */
#include "webhook.h"

#include <curl/curl.h>
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "limits.h"

static size_t
discard(char *p, size_t size, size_t n, void *arg)
{
	(void)p;
	(void)arg;
	return size * n;
}

static int
progress(void *arg, curl_off_t dt, curl_off_t dn, curl_off_t ut,
    curl_off_t un)
{
	const atomic_int *abort = arg;

	(void)dt;
	(void)dn;
	(void)ut;
	(void)un;
	return abort && atomic_load(abort) ? 1 : 0;
}

int
webhook_post(const char *url, const char *body, size_t len,
    const atomic_int *abort, char *err, size_t errlen)
{
	struct curl_slist *h = NULL;
	char ebuf[CURL_ERROR_SIZE] = "";
	const char *why;
	CURL *c = NULL;
	CURLcode rc;
	long status = 0;
	int ret = -1;

	if (config_webhook_ok(url, &why) == -1) {
		snprintf(err, errlen, "webhook URL %s", why);
		return -1;
	}
	if ((c = curl_easy_init()) == NULL ||
	    (h = curl_slist_append(NULL, "Content-Type: application/json"))
	    == NULL) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, (long)LIM_ALERT_TIMEOUT);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, (long)LIM_ALERT_TIMEOUT);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
	curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)65536);
	curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, progress);
	curl_easy_setopt(c, CURLOPT_XFERINFODATA, (void *)abort);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, ebuf);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "formpost/" FORMPOST_VERSION);
	if ((rc = curl_easy_perform(c)) != CURLE_OK) {
		snprintf(err, errlen, "webhook: %s", ebuf[0] ? ebuf :
		    curl_easy_strerror(rc));
		goto out;
	}
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	if (status < 200 || status > 299) {
		snprintf(err, errlen, "webhook answered HTTP %ld", status);
		goto out;
	}
	ret = 0;
out:
	curl_slist_free_all(h);
	if (c)
		curl_easy_cleanup(c);
	return ret;
}
