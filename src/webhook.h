/*
 * webhook — one JSON POST to an alert webhook through libcurl (a sibling
 * of smtp, the other libcurl user).  https:// is verified like SMTP
 * (system store, host name checked, never turned off); http:// goes only
 * to a loopback host (config_webhook_ok, checked again here); no
 * redirects are followed, no other protocol is allowed.  The whole POST
 * takes at most LIM_ALERT_TIMEOUT seconds.  Thread-safe (one handle per
 * call); smtp_global_init must have run.
 */
#ifndef FORMPOST_WEBHOOK_H
#define FORMPOST_WEBHOOK_H

#include <stdatomic.h>
#include <stddef.h>

/* POSTs body[0..len) as application/json to url.  0 on a 2xx answer,
 * else -1 with why in err (the URL is never printed: its path is often
 * the secret).  *abort (may be NULL) set: the POST is given up. */
int webhook_post(const char *url, const char *body, size_t len,
    const atomic_int *abort, char *err, size_t errlen);

#endif
