/*
 * fcgi — the FastCGI edge (FastCGI 1.0, spoken here without a library):
 * the listening socket (ours, systemd's fd 3 or spawn-fcgi's fd 0), an
 * intake that holds connections until their request has arrived, a pool
 * of request threads, and the translation between FastCGI params/streams
 * and struct http_req/resp.
 */
#ifndef FORMPOST_FCGI_H
#define FORMPOST_FCGI_H

#include <stddef.h>

#include "config.h"
#include "http.h"

/* Opens (or inherits) the listener.  A unix socket is created 0660 with
 * socket_group, replacing a stale socket but never a live one.  Returns
 * the fd, or -1 with a message.  *is_tcp tells whether peers must be
 * checked against fastcgi_allow. */
int fcgi_listen(const struct config *c, int *is_tcp, char *err,
    size_t errlen);

/* Handles one request: fill resp from req.  Called on pool threads. */
typedef void (*fcgi_handler)(void *arg, const struct http_req *req,
    struct http_resp *resp);

/* Returns 1 when a TCP peer (numeric address) may talk to us. */
typedef int (*fcgi_peer_ok)(void *arg, const char *addr);

struct fcgi_pool;

/* Starts the intake on fd (which it
 * makes non-blocking), n request threads and one watchdog thread.  Each
 * request must have sent its params and its whole body within
 * read_timeout seconds of its accept; past it the request is dropped
 * unanswered and logged event=rejected reason=read_timeout, and slow peers
 * wait in the intake, not on request threads.  A malformed param set,
 * or one over LIM_FCGI_PARAMS / LIM_FCGI_PARAMS_BYTES, is dropped before
 * a request thread reads it and logged reason=params (intake.h).  One request per connection.  peer_ok may be
 * NULL (unix socket); it is asked before any byte is read.  Returns the
 * pool or NULL + err. */
struct fcgi_pool *fcgi_start(int fd, unsigned n, unsigned read_timeout,
    fcgi_handler h, fcgi_peer_ok peer_ok, void *arg, char *err,
    size_t errlen);

/* Applies to requests accepted from now on (a reload).  Thread-safe. */
void fcgi_set_read_timeout(struct fcgi_pool *p, unsigned seconds);

/* Stops accepting, lets each thread finish the request in hand (and the
 * requests still arriving, up to their deadline), joins them and frees
 * the pool. */
void fcgi_stop(struct fcgi_pool *p);

#endif
