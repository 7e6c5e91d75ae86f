/*
 * intake — accepts FastCGI connections and holds each one, on a single
 * thread, until its request has arrived, so that slow peers wait here and
 * not on a request thread.  It reads no byte: it peeks at the records
 * (FastCGI 1.0 §3.3) queued in the kernel, and hands a connection over
 * once its head (BEGIN_REQUEST and the whole PARAMS stream) is in and
 * accepted by fcgiscan.h, and then the empty FCGI_STDIN record has
 * arrived or LIM_FCGI_INTAKE_BYTES are queued (a peer that fast is not
 * slow).  A connection not handed over within read_timeout of its accept
 * is closed and logged (event=rejected reason=read_timeout); so is one
 * that breaks the record framing (reason=protocol_error), and one whose
 * param set is malformed or over the caps, or whose head does not fit in
 * LIM_FCGI_INTAKE_PEEK (reason=params).
 */
#ifndef FORMPOST_INTAKE_H
#define FORMPOST_INTAKE_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* Returns 1 when a TCP peer (numeric address) may talk to us. */
typedef int (*intake_peer_ok)(void *arg, const char *addr);

struct intake;

/* A connection handed over: the caller owns fd (closes it). */
struct intake_conn {
	int fd;
	struct timespec deadline;    /* CLOCK_MONOTONIC: accept + read_timeout */
	char peer[64];               /* numeric address, or "unknown" */
	size_t head_len;             /* bytes of BEGIN_REQUEST and PARAMS,
	                                accepted by fcgiscan.h */
	uint16_t request_id;
};

/* Starts the intake thread on the listening socket fd (made non-blocking;
 * still owned by the caller).  peer_ok may be NULL (unix socket): it is
 * asked at accept, before anything is read.  NULL + err on failure. */
struct intake *intake_start(int fd, unsigned read_timeout,
    intake_peer_ok peer_ok, void *arg, char *err, size_t errlen);

/* Waits for the next connection whose request has arrived; 0 and *out,
 * or -1 once intake_stop was called and nothing is left.  Thread-safe. */
int intake_next(struct intake *in, struct intake_conn *out);

/* Applies to connections accepted from now on.  Thread-safe. */
void intake_set_timeout(struct intake *in, unsigned seconds);

/* Takes what the listener has queued, then stops accepting; the
 * connections held are still handed over when their request arrives, or
 * dropped at their deadline, which is now at most LIM_STOP_READ_GRACE
 * away (also for those handed over and not yet taken); then the thread
 * ends and intake_next returns -1.  Joins the thread. */
void intake_stop(struct intake *in);

/* Frees (after intake_stop, once no thread is in intake_next). */
void intake_free(struct intake *in);

#endif
