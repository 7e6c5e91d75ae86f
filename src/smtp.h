/*
 * smtp — one SMTP transaction through libcurl (the only module that
 * includes <curl/curl.h>): TLS always verified, AUTH pinned to PLAIN (then
 * LOGIN) over TLS, one reply code recorded per recipient by following the
 * dialogue, never the AUTH data.  A struct smtp_client keeps one easy
 * handle, so consecutive sends reuse the connection, and one for a
 * pipelined session (smtp_send_pipelined).  Not shared between threads:
 * one client per thread.
 */
#ifndef FORMPOST_SMTP_H
#define FORMPOST_SMTP_H

#include <stdatomic.h>
#include <stddef.h>

#include "config.h"
#include "outcome.h"

#define SMTP_REPLY_MAX 200

struct smtp_rcpt {
	const char *addr;             /* borrowed from the caller */
	enum outcome outcome;         /* set by smtp_send */
	int code;                     /* last reply for it, 0 if none */
	char reply[SMTP_REPLY_MAX];   /* that reply's text, sanitised */
};

struct smtp_result {
	enum outcome outcome;         /* worst over the recipients */
	enum smtp_phase phase;        /* where the transaction stopped */
	enum smtp_fail fail;
	int code;
	char reply[SMTP_REPLY_MAX];   /* last server reply or curl's error */
	int maybe_sent;               /* a failure after the final dot: the
	                               * server may have taken it */
};

/* Called with each line of the dialogue (dir '>' sent, '<' received),
 * AUTH exchanges replaced by "[AUTH data hidden]". */
typedef void (*smtp_trace_fn)(void *arg, char dir, const char *line);

struct smtp_client;

/* Must be called once in main before any thread (curl_global_init);
 * fails when libcurl lacks thread-safe init or an async resolver. */
int smtp_global_init(char *err, size_t errlen);
void smtp_global_cleanup(void);

struct smtp_client *smtp_client_new(void);
void smtp_client_free(struct smtp_client *c);  /* closes with QUIT */

/* While *flag is non-zero, a transfer in progress is abandoned (as a
 * temporary failure) at libcurl's next progress check.  flag is borrowed
 * for the client's life; NULL turns this off. */
void smtp_client_set_abort(struct smtp_client *c, const atomic_int *flag);

/* Sends data[0..len) (the exact wire bytes, CRLF, not dot-stuffed) from
 * sender to rcpt[0..nrcpt) through profile p.  Each step (connect and
 * greeting, every command's reply, every stall of the upload) waits at
 * most p->timeout, the reply to the final dot LIM_SMTP_DOT_WAIT; either
 * running out is a temporary failure.  Fills each rcpt's outcome and res.  Returns 0 when every recipient was sent, else -1.  trace may
 * be NULL. */
int smtp_send(struct smtp_client *c, const struct smtp_profile *p,
    const char *sender, struct smtp_rcpt *rcpt, size_t nrcpt,
    const char *data, size_t len, struct smtp_result *res,
    smtp_trace_fn trace, void *trace_arg);

/* smtp_send of the len bytes at off in fd (a spool file), read in
 * libcurl's upload chunks with pread: a large message is never in
 * memory, and a read error is a transport failure (temporary), never a
 * signal (doc/design.md "Attachments"). */
int smtp_send_file(struct smtp_client *c, const struct smtp_profile *p,
    const char *sender, struct smtp_rcpt *rcpt, size_t nrcpt, int fd,
    unsigned long long off, size_t len, struct smtp_result *res,
    smtp_trace_fn trace, void *trace_arg);

/*
 * The pipelined path (RFC 2920; doc/design.md "A delivery").  libcurl
 * still opens the session (connect, TLS and its verification, STARTTLS,
 * EHLO, AUTH: CURLOPT_CONNECT_ONLY); the transactions are then written
 * by us, several messages in flight on one connection: after one
 * message's data and final dot, the next one's MAIL, RCPT and DATA go in
 * the same write, and the replies are read in order.  Each message ends
 * with the outcomes smtp_send would have given it (the same
 * classification, run on the same replies).
 */
struct smtp_job {
	const char *sender;           /* borrowed, as for smtp_send */
	struct smtp_rcpt *rcpt;
	size_t nrcpt;
	const char *data;             /* the wire bytes, or NULL: from fd */
	int fd;
	unsigned long long off;
	size_t len;
	struct smtp_result res;       /* set once attempted */
	int attempted;                /* 1: res and rcpt hold its outcome */
	long long started;            /* epoch seconds its commands were
	                               * queued (for the history) */
	long long started_ms;         /* the same, monotonic ms */
};

/* Told of a job whose outcome is final; returns 1 to start no further
 * job on this session (the profile failed as a whole: the jobs not yet
 * started stay unattempted), else 0. */
typedef int (*smtp_job_fn)(void *arg, struct smtp_job *job);

/* 1 when this client's last session with p showed PIPELINING in its
 * EHLO reply (learned by smtp_send, or a pipelined session is open):
 * smtp_send_pipelined is worth trying. */
int smtp_pipelining(struct smtp_client *c, const struct smtp_profile *p);

/* 1 when the client's session (whichever profile) offers PIPELINING:
 * a sender thread then claims several messages at once. */
int smtp_pipelining_seen(struct smtp_client *c);

/* Sends jobs[0..n) through p over one pipelined session; done(arg, job)
 * is called for each job as soon as its outcome is final, in order.  A
 * job the path does not take (a non-ASCII or unsound envelope) is left
 * with attempted 0, as is every job when the session offers no
 * PIPELINING or cannot be used (then -1 is returned and nothing was
 * sent: the caller sends them with smtp_send).  When opening the session
 * fails (connect, TLS, AUTH...), the first job takes that failure, as
 * smtp_send's would have, and the rest are left untried.  A connection
 * that drops, stalls past the timeouts or is stopped ends the job being
 * answered as the old path's would (temporary; after the data, maybe
 * sent); the jobs queued behind it are left untried.  Returns the number
 * of jobs attempted, or -1. */
long smtp_send_pipelined(struct smtp_client *c, const struct smtp_profile *p,
    struct smtp_job *jobs, size_t n, smtp_job_fn done, void *arg);

#endif
