/*
 * intake — takes FastCGI connections and holds each one until its request
 * has arrived, so that slow peers wait on one thread and not on a request
 * thread.  The request threads accept, each in its own epoll set
 * (EPOLLEXCLUSIVE: one idle thread woken per connection), and peek once:
 * a request already queued, as a web server sends it, is served at once
 * by the thread that accepted it, with no hand-over.  Any other
 * connection goes to the intake thread, which reads no byte: it peeks at
 * the records (FastCGI 1.0 §3.3) queued in the kernel, and hands a
 * connection over (to one idle request thread, through a semaphore
 * eventfd) once its head (BEGIN_REQUEST and the whole PARAMS stream) is
 * in and accepted by fcgiscan.h, and then the empty FCGI_STDIN record has
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
	/* The stream's first npre bytes, already read off fd (the rest is
	 * still queued); valid until this thread's next intake_next. */
	const unsigned char *pre;
	size_t npre;
};

/* Starts the intake thread on the listening socket fd (made non-blocking;
 * still owned by the caller), for nthreads request threads.  peer_ok may
 * be NULL (unix socket): it is asked at accept, before anything is read,
 * on any thread.  NULL + err on failure. */
struct intake *intake_start(int fd, unsigned nthreads, unsigned read_timeout,
    intake_peer_ok peer_ok, void *arg, char *err, size_t errlen);

/* Request thread t (0 <= t < nthreads, one caller per t) waits for the
 * next connection whose request has arrived: it accepts one, or takes one
 * the intake thread held; 0 and *out, or -1 once intake_stop was called
 * and nothing is left. */
int intake_next(struct intake *in, unsigned t, struct intake_conn *out);

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
