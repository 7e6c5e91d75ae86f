/*
 * intake — one epoll thread between accept() and the request threads.
 * A request thread blocked in read() is held by its peer: `workers` peers
 * sending a byte every few seconds would hold them all.  Here a peer only
 * holds a few bytes of bookkeeping: each connection is watched
 * edge-triggered, and at each arrival FIONREAD says how much is queued;
 * only when that reaches the next record header do we MSG_PEEK (never
 * read) and walk the records (fcgiscan.h).  A request thread then
 * reads the request from the kernel without waiting, and never a head
 * the walk did not accept.  Most connections never join the epoll set:
 * a web server writes its request as soon as it has connected, so one
 * look at accept finds it whole and hands it over at once.
 *
 * A request is handed over when its empty FCGI_STDIN record is queued, or
 * once LIM_FCGI_INTAKE_BYTES are queued: a peer that fast is not slow,
 * and the request thread's own deadline covers the rest.  That amount is
 * kept small on purpose: a unix peer's socket stops polling writable once
 * a quarter of its send buffer (about 52 KiB by default, counted with
 * per-write overhead) waits unread, and nginx and Apache wait for that
 * before they send more — a larger threshold would stall a real request
 * sent in many small records.  A peer that sends many tiny records is
 * stalled by that rule before it reaches the threshold: it is slow, and
 * is dropped at its deadline.  At most LIM_FCGI_HELD connections are
 * held; past that, and on EMFILE and the like, accepting pauses (it never
 * spins).
 */
#include "intake.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fcgiscan.h"
#include "limits.h"
#include "log.h"
#include "util.h"

#define REC_HEADER 8                  /* FastCGI 1.0 §3.3 */
#define PAUSE_MS   100                /* accept back-off on EMFILE & co */
/* What a request thread peeks at accept: enough for the hand-over rule
 * (LIM_FCGI_INTAKE_BYTES) and a head of ordinary size; a larger head
 * goes to the intake thread, which peeks at LIM_FCGI_INTAKE_PEEK. */
#define FIRST_PEEK (LIM_FCGI_INTAKE_BYTES + 4096)

/* How long a request thread watches a connection it accepted before its
 * request came (the web server had not written it yet) before passing
 * it to the intake thread: meanwhile it goes on serving others. */
#define PEND_MS 20

enum { EV_LISTENER, EV_READY, EV_DONE, EV_PENDING }; /* a request thread's */
enum { NONE, READY, HELD };           /* what a look at a connection found */

struct held {
	struct intake_conn c;
	struct fcgi_scan scan;        /* the walk so far */
	unsigned char *pre;           /* the stream's first npre bytes, read */
	size_t npre;                  /* off the socket by a request thread */
	int watched;                  /* in the held list and the epoll set */
	struct held *next;
};

/* A request thread's own epoll set: the listener and the ready queue's
 * eventfd, both EPOLLEXCLUSIVE (one idle thread woken per event), and
 * the end's eventfd, which wakes them all. */
struct waiter {
	int ep;
	unsigned char *peek;          /* FIRST_PEEK */
	struct held *pend;            /* accepted before its request came */
	long long pend_until;         /* mono_ms() */
};

struct intake {
	int lfd, ep, wake;            /* listener, the thread's epoll, eventfd */
	int ready_fd, done_fd;        /* eventfds: semaphore, and the end */
	struct waiter *w;
	unsigned nw;
	intake_peer_ok peer_ok;
	void *arg;
	atomic_uint read_timeout;     /* seconds */
	atomic_int stopping;
	atomic_int pause;             /* a request thread met EMFILE & co */
	pthread_t thread;
	int have_thread;
	struct held *held;            /* intake thread only */
	int accepting;                /* listener in the request threads' sets */
	struct timespec resume;       /* paused until, after EMFILE */
	int stop_set;                 /* stopping: no deadline past stop_by */
	struct timespec stop_by;      /* intake thread only */
	unsigned char *scratch;       /* LIM_FCGI_INTAKE_PEEK */
	pthread_mutex_t lock;         /* guards ready, incoming, nheld, done */
	struct held *ready, **ready_tail;
	struct held *incoming;        /* from request threads, to watch */
	size_t nheld;                 /* held + incoming + ready */
	size_t npend;                 /* request threads' pending ones */
	int done;                     /* the thread has ended */
};

static long
ms_until(const struct timespec *t, const struct timespec *now)
{
	long ms = (long)(t->tv_sec - now->tv_sec) * 1000 +
	    (t->tv_nsec - now->tv_nsec) / 1000000;

	/* Rounded up, so that the wake-up is past the deadline. */
	return ms < 0 ? 0 : ms > 60000 ? 60000 : ms + 1;
}

static void
poke(int fd)
{
	uint64_t one = 1;

	if (write(fd, &one, sizeof one) == -1)
		log_event(LOG_ERROR, "intake_wake_failed", "error",
		    strerror(errno), (char *)NULL);
}

/* The listener in (or out of) every request thread's set. */
static void
set_accepting(struct intake *in, int on)
{
	struct epoll_event ev = { .events = EPOLLIN | EPOLLEXCLUSIVE,
	    .data.u32 = EV_LISTENER };
	unsigned i;

	if (on == in->accepting)
		return;
	for (i = 0; i < in->nw; i++)
		epoll_ctl(in->w[i].ep, on ? EPOLL_CTL_ADD : EPOLL_CTL_DEL,
		    in->lfd, &ev);
	in->accepting = on;
}

static void
unlink_held(struct intake *in, struct held *h)
{
	struct held **pp;

	if (!h->watched)
		return;
	for (pp = &in->held; *pp; pp = &(*pp)->next)
		if (*pp == h) {
			*pp = h->next;
			break;
		}
	epoll_ctl(in->ep, EPOLL_CTL_DEL, h->c.fd, NULL);
	h->watched = 0;
}

static void
close_held(struct held *h, const char *reason)
{
	if (reason)
		log_event(LOG_WARN, "rejected", "reason", reason, "ip",
		    h->c.peer, (char *)NULL);
	close(h->c.fd);
	free(h->pre);
	free(h);
}

/* Drops a connection the intake thread holds (counted in nheld). */
static void
drop(struct intake *in, struct held *h, const char *reason)
{
	unlink_held(in, h);
	close_held(h, reason);
	pthread_mutex_lock(&in->lock);
	in->nheld--;
	pthread_mutex_unlock(&in->lock);
}

static void
set_head(struct held *h)
{
	h->c.head_len = h->scan.head_len;
	h->c.request_id = h->scan.id;
}

/* Queues a held connection for a request thread, and wakes one. */
static void
hand_over(struct intake *in, struct held *h)
{
	unlink_held(in, h);
	set_head(h);
	h->next = NULL;
	pthread_mutex_lock(&in->lock);
	*in->ready_tail = h;
	in->ready_tail = &h->next;
	pthread_mutex_unlock(&in->lock);
	poke(in->ready_fd);
}

/* Walks the stream of h (fcgiscan.h): what a request thread has read of
 * it already (h->pre), then what is queued, copied into buf (len bytes at
 * most).  take: a request thread reads what is queued, so that the
 * request is read once (doc/design.md "Performance"); else the intake
 * thread peeks and reads no byte.  READY when it may go to a request
 * thread (the stream's first bytes are in buf; with take, *have says how
 * many), HELD when it must wait (with take, h->pre keeps what was read),
 * NONE when it is to be dropped (*reason says why, or NULL: the peer
 * left).  A head must be whole and accepted before a request thread
 * sees any of it (fcgi.c parses what the walk accepted).  After that, a
 * peer that stopped sending (ended) is handed over all the same: its
 * request thread sees the short body and answers it as before
 * (client_aborted). */
static int
look(struct held *h, unsigned char *buf, size_t len, int ended, int take,
    size_t *have, const char **reason)
{
	enum fcgi_scan_rc rc;
	ssize_t got = 0;
	size_t n = h->npre;
	unsigned char *p;
	int r;

	*reason = NULL;
	if (n)
		memcpy(buf, h->pre, n);
	if (n < len)
		got = recv(h->c.fd, buf + n, len - n, take ? MSG_DONTWAIT :
		    MSG_PEEK | MSG_DONTWAIT);
	if (got == -1 && !h->watched &&
	    (errno == EAGAIN || errno == EWOULDBLOCK))
		return HELD;                 /* nothing yet: watch it */
	if (got < 0 || (got == 0 && n < len && n == 0))
		return NONE;
	if (got == 0 && n < len)
		ended = 1;                   /* what was read is all there is */
	n += (size_t)got;
	rc = fcgi_scan(&h->scan, buf, n);
	if (rc == FCGI_SCAN_FRAMING)
		*reason = "protocol_error";
	else if (rc == FCGI_SCAN_PARAMS || (rc == FCGI_SCAN_MORE &&
	    n >= LIM_FCGI_INTAKE_PEEK))
		*reason = "params";
	if (*reason || (rc == FCGI_SCAN_MORE && ended))
		return NONE;                 /* (left before its params ended) */
	r = rc == FCGI_SCAN_READY || (rc == FCGI_SCAN_HEAD &&
	    (n >= LIM_FCGI_INTAKE_BYTES || ended)) ? READY : HELD;
	*have = n;
	if (r == HELD && take && n > h->npre) {
		if ((p = realloc(h->pre, n)) == NULL)
			return NONE;
		memcpy(p, buf, n);
		h->pre = p;
		h->npre = n;
	}
	return r;
}

/* An arrival on a watched connection.  It is peeked at again only when
 * the walk can go on (FIONREAD): a peer trickling a large record byte by
 * byte must not cost a copy of it per byte. */
static void
examine(struct intake *in, struct held *h, int ended)
{
	const char *reason;
	size_t avail, have;
	int queued, r;

	if (ioctl(h->c.fd, FIONREAD, &queued) == -1 || queued < 0 ||
	    (queued == 0 && h->npre == 0 && ended)) {
		drop(in, h, NULL);           /* the peer left */
		return;
	}
	avail = h->npre + (size_t)queued;
	if (!ended && avail < h->scan.want && avail < LIM_FCGI_INTAKE_PEEK &&
	    (!h->scan.params_done || avail < LIM_FCGI_INTAKE_BYTES))
		return;
	r = look(h, in->scratch, LIM_FCGI_INTAKE_PEEK, ended, 0, &have,
	    &reason);
	if (r == READY)
		hand_over(in, h);
	else if (r == NONE)
		drop(in, h, reason);
}

/* Watches a connection (counted in nheld already) until its request is
 * in, or its deadline.  Intake thread. */
static void
watch(struct intake *in, struct held *h)
{
	struct epoll_event ev;

	if (in->stop_set && ts_before(&in->stop_by, &h->c.deadline))
		h->c.deadline = in->stop_by;
	ev.events = EPOLLIN | EPOLLRDHUP | EPOLLET;
	ev.data.ptr = h;
	if (epoll_ctl(in->ep, EPOLL_CTL_ADD, h->c.fd, &ev) == -1) {
		drop(in, h, NULL);
		return;
	}
	/* epoll reports at once what arrived before the add. */
	h->watched = 1;
	h->next = in->held;
	in->held = h;
}

/* The numeric address accept4 gave (a unix peer's is "unknown"). */
static void
peer_text(const struct sockaddr_storage *ss, char *out, size_t len, int *ok)
{
	const void *a = NULL;

	snprintf(out, len, "unknown");
	*ok = 0;
	if (ss->ss_family == AF_INET)
		a = &((const struct sockaddr_in *)ss)->sin_addr;
	else if (ss->ss_family == AF_INET6)
		a = &((const struct sockaddr_in6 *)ss)->sin6_addr;
	if (a && inet_ntop(ss->ss_family, a, out, (socklen_t)len))
		*ok = 1;
}

/* Accepts one connection (if the peer may talk to us) and looks at it
 * once, peeking into buf: READY (*out, handed over), HELD (*out, to be
 * watched), NONE (nothing, or dropped; *more: 0 when accept() has
 * nothing more to give now).  A web server writes its request as soon
 * as it has connected, so it is mostly queued by now (doc/design.md
 * "Performance"). */
static int
accept_one(struct intake *in, unsigned char *buf, size_t len, int take,
    size_t *have, struct held **out, int *more)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof ss;
	const char *reason;
	struct held *h;
	int fd, ok, r;

	*more = 1;
	ss.ss_family = AF_UNSPEC;
	if ((fd = accept4(in->lfd, (struct sockaddr *)&ss, &sl,
	    SOCK_CLOEXEC)) == -1) {
		if (errno == EINTR || errno == ECONNABORTED)
			return NONE;
		*more = 0;
		if (errno != EAGAIN && errno != EWOULDBLOCK) {
			/* EMFILE, ENFILE, ENOBUFS...: transient. */
			log_event(LOG_WARN, "accept_failed", "error",
			    strerror(errno), (char *)NULL);
			atomic_store(&in->pause, 1);
			poke(in->wake);
		}
		return NONE;
	}
	if ((h = calloc(1, sizeof *h)) == NULL) {
		close(fd);
		return NONE;
	}
	h->c.fd = fd;
	peer_text(&ss, h->c.peer, sizeof h->c.peer, &ok);
	if (in->peer_ok && (!ok || !in->peer_ok(in->arg, h->c.peer))) {
		log_event(LOG_WARN, "peer_refused", "peer", h->c.peer,
		    (char *)NULL);
		close_held(h, NULL);
		return NONE;
	}
	h->c.deadline = mono_after_ms(1000LL *
	    (long long)atomic_load(&in->read_timeout));
	if ((r = look(h, buf, len, 0, take, have, &reason)) == NONE) {
		close_held(h, reason);
		return NONE;
	}
	if (r == READY)
		set_head(h);
	*out = h;
	return r;
}

/* Drops what is past its deadline, pauses or resumes accepting; returns
 * the epoll timeout (ms) to the next deadline, -1 for none. */
static int
tick(struct intake *in)
{
	struct timespec now, next = { 0, 0 };
	struct held *h, *h_next;
	int have = 0;
	size_t n;

	clock_gettime(CLOCK_MONOTONIC, &now);
	for (h = in->held; h; h = h_next) {
		h_next = h->next;
		if (!ts_before(&now, &h->c.deadline))
			drop(in, h, "read_timeout");
		else if (!have++ || ts_before(&h->c.deadline, &next))
			next = h->c.deadline;
	}
	if (atomic_exchange(&in->pause, 0) && in->accepting) {
		set_accepting(in, 0);
		in->resume = mono_after_ms(PAUSE_MS);
	}
	pthread_mutex_lock(&in->lock);
	n = in->nheld;
	pthread_mutex_unlock(&in->lock);
	if (in->accepting && n >= LIM_FCGI_HELD)
		set_accepting(in, 0);
	else if (!in->accepting && !atomic_load(&in->stopping) &&
	    n < LIM_FCGI_HELD) {
		if (!ts_before(&now, &in->resume))
			set_accepting(in, 1);
		else if (!have++ || ts_before(&in->resume, &next))
			next = in->resume;
	}
	/* Held past the cap: look again soon, a worker may free a place. */
	if (!in->accepting && n >= LIM_FCGI_HELD && !have++) {
		next = now;
		next.tv_sec++;
	}
	return have ? (int)ms_until(&next, &now) : -1;
}

/* Watches what request threads passed on. */
static void
take_incoming(struct intake *in)
{
	struct held *h, *h_next;

	pthread_mutex_lock(&in->lock);
	h = in->incoming;
	in->incoming = NULL;
	pthread_mutex_unlock(&in->lock);
	for (; h; h = h_next) {
		h_next = h->next;
		watch(in, h);
	}
}

/* The stop (intake_stop): what the kernel has queued on the listener
 * already is taken, then nothing more; every connection held, or handed
 * over and waiting for a thread, gets LIM_STOP_READ_GRACE at most to
 * arrive whole (doc/design.md "Threads"). */
static void
begin_stop(struct intake *in)
{
	struct held *h;
	size_t have;
	int more = 1, r;

	in->stop_by = mono_after_ms(LIM_STOP_READ_GRACE * 1000LL);
	in->stop_set = 1;
	set_accepting(in, 0);
	while (more) {
		r = accept_one(in, in->scratch, LIM_FCGI_INTAKE_PEEK, 0, &have,
		    &h, &more);
		if (r == NONE)
			continue;
		pthread_mutex_lock(&in->lock);
		in->nheld++;
		pthread_mutex_unlock(&in->lock);
		if (r == READY)
			hand_over(in, h);
		else
			watch(in, h);
	}
	for (h = in->held; h; h = h->next)
		if (ts_before(&in->stop_by, &h->c.deadline))
			h->c.deadline = in->stop_by;
	pthread_mutex_lock(&in->lock);
	for (h = in->ready; h; h = h->next)
		if (ts_before(&in->stop_by, &h->c.deadline))
			h->c.deadline = in->stop_by;
	pthread_mutex_unlock(&in->lock);
}

/* 1 once stopping has nothing left to watch: then the thread ends, and
 * nothing more can be passed on to it (pass_on). */
static int
finished(struct intake *in)
{
	int done = 0;

	if (!in->stop_set || in->held)
		return 0;
	pthread_mutex_lock(&in->lock);
	/* A request thread's pending connection is passed on within
	 * PEND_MS: wait for it, so that it too gets the stop's grace. */
	if (in->incoming == NULL && in->npend == 0)
		done = in->done = 1;
	pthread_mutex_unlock(&in->lock);
	return done;
}

static void *
intake_loop(void *arg)
{
	struct intake *in = arg;
	struct epoll_event ev[64];
	uint64_t v;
	int n, i, timeout = tick(in);

	while (!finished(in)) {
		n = epoll_wait(in->ep, ev, 64, timeout);
		for (i = 0; i < n; i++) {
			if (ev[i].data.ptr == in) {
				if (read(in->wake, &v, sizeof v) == -1)
					continue;
				take_incoming(in);
				if (atomic_load(&in->stopping) &&
				    !in->stop_set)
					begin_stop(in);
			} else
				examine(in, ev[i].data.ptr, (ev[i].events &
				    (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) != 0);
		}
		take_incoming(in);
		timeout = tick(in);
	}
	poke(in->done_fd);
	return NULL;
}

static int
waiters_init(struct intake *in, unsigned n)
{
	struct epoll_event ev;
	unsigned i;

	if ((in->w = calloc(n, sizeof *in->w)) == NULL)
		return -1;
	for (i = 0; i < n; i++)
		in->w[i].ep = -1;
	in->nw = n;
	for (i = 0; i < n; i++) {
		if ((in->w[i].peek = malloc(FIRST_PEEK)) == NULL ||
		    (in->w[i].ep = epoll_create1(EPOLL_CLOEXEC)) == -1)
			return -1;
		ev.events = EPOLLIN | EPOLLEXCLUSIVE;
		ev.data.u32 = EV_READY;
		if (epoll_ctl(in->w[i].ep, EPOLL_CTL_ADD, in->ready_fd,
		    &ev) == -1)
			return -1;
		ev.events = EPOLLIN;
		ev.data.u32 = EV_DONE;
		if (epoll_ctl(in->w[i].ep, EPOLL_CTL_ADD, in->done_fd,
		    &ev) == -1)
			return -1;
	}
	return 0;
}

struct intake *
intake_start(int fd, unsigned nthreads, unsigned read_timeout,
    intake_peer_ok peer_ok, void *arg, char *err, size_t errlen)
{
	struct intake *in = calloc(1, sizeof *in);
	struct epoll_event ev;
	int fl;

	if (in == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	in->lfd = fd;
	in->ep = in->wake = in->ready_fd = in->done_fd = -1;
	in->peer_ok = peer_ok;
	in->arg = arg;
	in->ready_tail = &in->ready;
	atomic_store(&in->read_timeout, read_timeout);
	pthread_mutex_init(&in->lock, NULL);
	ev.events = EPOLLIN;
	ev.data.ptr = in;
	if ((in->scratch = malloc(LIM_FCGI_INTAKE_PEEK)) == NULL ||
	    (fl = fcntl(fd, F_GETFL)) == -1 ||
	    fcntl(fd, F_SETFL, fl | O_NONBLOCK) == -1 ||
	    (in->ep = epoll_create1(EPOLL_CLOEXEC)) == -1 ||
	    (in->wake = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) == -1 ||
	    (in->ready_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK |
	    EFD_SEMAPHORE)) == -1 ||
	    (in->done_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) == -1 ||
	    epoll_ctl(in->ep, EPOLL_CTL_ADD, in->wake, &ev) == -1 ||
	    waiters_init(in, nthreads) == -1 ||
	    pthread_create(&in->thread, NULL, intake_loop, in) != 0) {
		snprintf(err, errlen, "intake: %s", strerror(errno));
		intake_free(in);
		return NULL;
	}
	in->have_thread = 1;
	return in;
}

/* A connection the intake thread handed over, if the ready semaphore
 * gives one to this thread; what request threads read of it goes to w's
 * buffer (*have bytes). */
static struct held *
ready_take(struct intake *in, struct waiter *w, size_t *have)
{
	struct held *h;
	uint64_t v;

	if (read(in->ready_fd, &v, sizeof v) != sizeof v)
		return NULL;
	pthread_mutex_lock(&in->lock);
	if ((h = in->ready) != NULL) {
		if ((in->ready = h->next) == NULL)
			in->ready_tail = &in->ready;
		in->nheld--;
	}
	pthread_mutex_unlock(&in->lock);
	if (h) {
		/* At most FIRST_PEEK: only request threads read. */
		if (h->npre)
			memcpy(w->peek, h->pre, h->npre);
		*have = h->npre;
	}
	return h;
}

/* Passes a connection that is not ready to the intake thread; 0, or -1
 * when that thread has ended (stopping: the connection is dropped).
 * pending: h was a request thread's pending one, counted in npend until
 * it is in incoming (under the same lock, so finished() never sees
 * neither). */
static int
pass_on(struct intake *in, struct held *h, int pending)
{
	int done;

	pthread_mutex_lock(&in->lock);
	if (pending)
		in->npend--;
	if (!(done = in->done)) {
		h->next = in->incoming;
		in->incoming = h;
		in->nheld++;
	}
	pthread_mutex_unlock(&in->lock);
	if (done)
		return -1;
	poke(in->wake);
	return 0;
}

/* Watches h (accepted, its request not in yet) in w's own set for
 * PEND_MS, or passes it to the intake thread. */
static void
pend(struct intake *in, struct waiter *w, struct held *h)
{
	struct epoll_event ev = { .events = EPOLLIN | EPOLLRDHUP |
	    EPOLLONESHOT, .data.u32 = EV_PENDING };

	if (w->pend == NULL &&
	    epoll_ctl(w->ep, EPOLL_CTL_ADD, h->c.fd, &ev) == 0) {
		pthread_mutex_lock(&in->lock);
		in->npend++;
		pthread_mutex_unlock(&in->lock);
		w->pend = h;
		w->pend_until = mono_ms() + PEND_MS;
	} else if (pass_on(in, h, 0) == -1)
		close_held(h, NULL);
}

/* A request thread's pending connection is served or closed: the
 * stopping intake thread may be waiting for the count to reach 0. */
static void
pend_gone(struct intake *in)
{
	pthread_mutex_lock(&in->lock);
	in->npend--;
	pthread_mutex_unlock(&in->lock);
	if (atomic_load(&in->stopping))
		poke(in->wake);
}

/* Takes w's pending connection out of its set: to the intake thread,
 * or to close it. */
static struct held *
unpend(struct waiter *w)
{
	struct held *h = w->pend;

	epoll_ctl(w->ep, EPOLL_CTL_DEL, h->c.fd, NULL);
	w->pend = NULL;
	return h;
}

/* Passes w's pending connection on to the intake thread. */
static void
pend_pass(struct intake *in, struct waiter *w)
{
	struct held *h = unpend(w);

	if (pass_on(in, h, 1) == -1)
		close_held(h, NULL);
}

/* An event on w's pending connection: READY gives it back. */
static struct held *
pend_event(struct intake *in, struct waiter *w, int ended, size_t *have)
{
	struct held *h = w->pend;
	const char *reason;
	int r = look(h, w->peek, FIRST_PEEK, ended, 1, have, &reason);

	if (r == READY) {
		/* Its one-shot registration is spent, and goes with the
		 * close of its fd (one reference: never dup'ed). */
		w->pend = NULL;
		set_head(h);
		pend_gone(in);
		return h;
	}
	unpend(w);
	if (r == NONE) {
		close_held(h, reason);
		pend_gone(in);
	} else if (pass_on(in, h, 1) == -1)
		close_held(h, NULL);
	return NULL;
}

int
intake_next(struct intake *in, unsigned t, struct intake_conn *out)
{
	struct waiter *w = &in->w[t];
	struct epoll_event ev[4];
	struct held *h = NULL;
	size_t have = 0;
	long long wait;
	int n, i, r, more;

	for (;;) {
		wait = w->pend ? w->pend_until - mono_ms() : -1;
		n = epoll_wait(w->ep, ev, 4, w->pend == NULL ? -1 :
		    wait < 0 ? 0 : (int)wait);
		if (n == 0 && w->pend)
			pend_pass(in, w);
		for (i = 0; i < n && h == NULL; i++) {
			if (ev[i].data.u32 == EV_READY)
				h = ready_take(in, w, &have);
			else if (ev[i].data.u32 == EV_PENDING)
				h = pend_event(in, w, (ev[i].events &
				    (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) != 0,
				    &have);
			else if (ev[i].data.u32 == EV_DONE) {
				if (w->pend) {
					close_held(unpend(w), NULL);
					pend_gone(in);
				}
				if ((h = ready_take(in, w, &have)) == NULL)
					return -1;
			} else if (!atomic_load(&in->stopping)) {
				r = accept_one(in, w->peek, FIRST_PEEK, 1,
				    &have, &h, &more);
				if (r == HELD)
					pend(in, w, h);
				if (r != READY)
					h = NULL;
			}
		}
		if (h) {
			/* Never let a pending one wait for this request. */
			if (w->pend)
				pend_pass(in, w);
			*out = h->c;
			out->pre = w->peek;
			out->npre = have;
			free(h->pre);
			free(h);
			return 0;
		}
	}
}

void
intake_set_timeout(struct intake *in, unsigned seconds)
{
	atomic_store(&in->read_timeout, seconds);
}

void
intake_stop(struct intake *in)
{
	if (in == NULL || !in->have_thread)
		return;
	atomic_store(&in->stopping, 1);
	poke(in->wake);
	pthread_join(in->thread, NULL);
	in->have_thread = 0;
}

void
intake_free(struct intake *in)
{
	struct held *h;
	unsigned i;

	if (in == NULL)
		return;
	while ((h = in->ready) != NULL) {
		in->ready = h->next;
		close_held(h, NULL);
	}
	for (i = 0; in->w && i < in->nw; i++) {
		if (in->w[i].ep != -1)
			close(in->w[i].ep);
		free(in->w[i].peek);
	}
	free(in->w);
	if (in->ep != -1)
		close(in->ep);
	if (in->wake != -1)
		close(in->wake);
	if (in->ready_fd != -1)
		close(in->ready_fd);
	if (in->done_fd != -1)
		close(in->done_fd);
	pthread_mutex_destroy(&in->lock);
	free(in->scratch);
	free(in);
}
