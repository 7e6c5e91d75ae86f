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

struct held {
	struct intake_conn c;
	struct fcgi_scan scan;        /* the walk so far */
	int watched;                  /* in the held list and the epoll set */
	struct held *next;
};

struct intake {
	int lfd, ep, wake;            /* listener, epoll, eventfd */
	intake_peer_ok peer_ok;
	void *arg;
	atomic_uint read_timeout;     /* seconds */
	atomic_int stopping;
	pthread_t thread;
	int have_thread;
	struct held *held;            /* intake thread only */
	size_t nheld;                 /* held + ready; guarded by lock */
	int accepting;                /* listener in the epoll set */
	struct timespec resume;       /* paused until, after EMFILE */
	int stop_set;                 /* stopping: no deadline past stop_by */
	struct timespec stop_by;      /* intake thread only */
	unsigned char *scratch;       /* LIM_FCGI_INTAKE_PEEK */
	pthread_mutex_t lock;         /* guards ready, nheld, done */
	pthread_cond_t cond;
	struct held *ready, **ready_tail;
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
set_accepting(struct intake *in, int on)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = NULL };

	if (on == in->accepting)
		return;
	if (epoll_ctl(in->ep, on ? EPOLL_CTL_ADD : EPOLL_CTL_DEL, in->lfd,
	    &ev) == 0)
		in->accepting = on;
}

enum { HELD, GONE };                  /* what examine did with h */

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
drop(struct intake *in, struct held *h, const char *reason)
{
	unlink_held(in, h);
	if (reason)
		log_event(LOG_WARN, "rejected", "reason", reason, "ip",
		    h->c.peer, (char *)NULL);
	close(h->c.fd);
	free(h);
	pthread_mutex_lock(&in->lock);
	in->nheld--;
	pthread_mutex_unlock(&in->lock);
}

static void
hand_over(struct intake *in, struct held *h)
{
	unlink_held(in, h);
	h->c.head_len = h->scan.head_len;
	h->c.request_id = h->scan.id;
	h->next = NULL;
	pthread_mutex_lock(&in->lock);
	*in->ready_tail = h;
	in->ready_tail = &h->next;
	pthread_cond_signal(&in->cond);
	pthread_mutex_unlock(&in->lock);
}

/* Walks what h has queued (fcgiscan.h); hands it over (GONE), drops it
 * (GONE), or leaves it for the next arrival (HELD).  A head must be whole
 * and accepted before a request thread sees any of it (fcgi.c parses
 * what the walk accepted).  After that, a peer that stopped sending
 * (ended) is handed over all the same: its request thread sees the short
 * body and answers it as before (client_aborted).  A watched connection
 * is peeked at again only when the walk can go on (FIONREAD): a peer
 * trickling a large record byte by byte must not cost a copy of it per
 * byte. */
static int
examine(struct intake *in, struct held *h, int ended)
{
	enum fcgi_scan_rc rc;
	ssize_t got;
	int queued;

	if (h->watched) {
		if (ioctl(h->c.fd, FIONREAD, &queued) == -1 || queued < 0 ||
		    (queued == 0 && ended)) {
			drop(in, h, NULL);   /* the peer left */
			return GONE;
		}
		if (!ended && (size_t)queued < h->scan.want &&
		    (size_t)queued < LIM_FCGI_INTAKE_PEEK &&
		    (!h->scan.params_done ||
		    (size_t)queued < LIM_FCGI_INTAKE_BYTES))
			return HELD;
	}
	got = recv(h->c.fd, in->scratch, LIM_FCGI_INTAKE_PEEK,
	    MSG_PEEK | MSG_DONTWAIT);
	if (got == -1 && !h->watched &&
	    (errno == EAGAIN || errno == EWOULDBLOCK))
		return HELD;                 /* nothing yet: watch it */
	if (got <= 0) {
		drop(in, h, NULL);
		return GONE;
	}
	rc = fcgi_scan(&h->scan, in->scratch, (size_t)got);
	if (rc == FCGI_SCAN_FRAMING)
		drop(in, h, "protocol_error");
	else if (rc == FCGI_SCAN_PARAMS ||
	    (rc == FCGI_SCAN_MORE && (size_t)got >= LIM_FCGI_INTAKE_PEEK))
		drop(in, h, "params");
	else if (rc == FCGI_SCAN_MORE && ended)
		drop(in, h, NULL);           /* left before its params ended */
	else if (rc == FCGI_SCAN_READY || (rc == FCGI_SCAN_HEAD &&
	    ((size_t)got >= LIM_FCGI_INTAKE_BYTES || ended)))
		hand_over(in, h);
	else
		return HELD;
	return GONE;
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

/* Takes one connection (if the peer may talk to us) into the held set;
 * -1 when accept() has nothing more to give now. */
static int
take_one(struct intake *in)
{
	struct epoll_event ev;
	struct sockaddr_storage ss;
	socklen_t sl = sizeof ss;
	struct held *h;
	int fd, ok;

	ss.ss_family = AF_UNSPEC;
	if ((fd = accept4(in->lfd, (struct sockaddr *)&ss, &sl,
	    SOCK_CLOEXEC)) == -1) {
		if (errno == EINTR || errno == ECONNABORTED)
			return 0;
		if (errno != EAGAIN && errno != EWOULDBLOCK) {
			/* EMFILE, ENFILE, ENOBUFS...: transient. */
			log_event(LOG_WARN, "accept_failed", "error",
			    strerror(errno), (char *)NULL);
			set_accepting(in, 0);
			in->resume = mono_after_ms(PAUSE_MS);
		}
		return -1;
	}
	if ((h = calloc(1, sizeof *h)) == NULL) {
		close(fd);
		return 0;
	}
	h->c.fd = fd;
	peer_text(&ss, h->c.peer, sizeof h->c.peer, &ok);
	if (in->peer_ok && (!ok || !in->peer_ok(in->arg, h->c.peer))) {
		log_event(LOG_WARN, "peer_refused", "peer", h->c.peer,
		    (char *)NULL);
		close(fd);
		free(h);
		return 0;
	}
	h->c.deadline = mono_after_ms(1000LL *
	    (long long)atomic_load(&in->read_timeout));
	if (in->stop_set && ts_before(&in->stop_by, &h->c.deadline))
		h->c.deadline = in->stop_by;
	pthread_mutex_lock(&in->lock);
	in->nheld++;
	pthread_mutex_unlock(&in->lock);
	/* A web server writes its request as soon as it has connected, so
	 * it is mostly queued by now: look before watching (doc/design.md
	 * "Performance"); only a connection not ready yet joins the epoll
	 * set, which reports at once what arrived in between. */
	if (examine(in, h, 0) != HELD)
		return 0;
	ev.events = EPOLLIN | EPOLLRDHUP | EPOLLET;
	ev.data.ptr = h;
	if (epoll_ctl(in->ep, EPOLL_CTL_ADD, fd, &ev) == -1) {
		drop(in, h, NULL);
		return 0;
	}
	h->watched = 1;
	h->next = in->held;
	in->held = h;
	return 0;
}

/* Drops what is past its deadline, resumes accepting when allowed;
 * returns the epoll timeout (ms) to the next deadline, -1 for none. */
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

/* The stop (intake_stop): what the kernel has queued on the listener
 * already is taken, then nothing more; every connection held, or handed
 * over and waiting for a thread, gets LIM_STOP_READ_GRACE at most to
 * arrive whole (doc/design.md "Threads"). */
static void
begin_stop(struct intake *in)
{
	struct held *h;

	in->stop_by = mono_after_ms(LIM_STOP_READ_GRACE * 1000LL);
	in->stop_set = 1;
	while (in->accepting && take_one(in) == 0)
		;
	set_accepting(in, 0);
	for (h = in->held; h; h = h->next)
		if (ts_before(&in->stop_by, &h->c.deadline))
			h->c.deadline = in->stop_by;
	pthread_mutex_lock(&in->lock);
	for (h = in->ready; h; h = h->next)
		if (ts_before(&in->stop_by, &h->c.deadline))
			h->c.deadline = in->stop_by;
	pthread_mutex_unlock(&in->lock);
}

static void *
intake_loop(void *arg)
{
	struct intake *in = arg;
	struct epoll_event ev[64];
	uint64_t v;
	int n, i, timeout = tick(in);

	while (!atomic_load(&in->stopping) || in->held) {
		n = epoll_wait(in->ep, ev, 64, timeout);
		for (i = 0; i < n; i++) {
			if (ev[i].data.ptr == NULL) {
				while (in->accepting && take_one(in) == 0)
					;
			} else if (ev[i].data.ptr == in) {
				if (read(in->wake, &v, sizeof v) == -1)
					continue;
				begin_stop(in);
			} else
				examine(in, ev[i].data.ptr, (ev[i].events &
				    (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) != 0);
		}
		timeout = tick(in);
	}
	pthread_mutex_lock(&in->lock);
	in->done = 1;
	pthread_cond_broadcast(&in->cond);
	pthread_mutex_unlock(&in->lock);
	return NULL;
}

struct intake *
intake_start(int fd, unsigned read_timeout, intake_peer_ok peer_ok,
    void *arg, char *err, size_t errlen)
{
	struct intake *in = calloc(1, sizeof *in);
	struct epoll_event ev;
	int fl;

	if (in == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	in->lfd = fd;
	in->ep = in->wake = -1;
	in->peer_ok = peer_ok;
	in->arg = arg;
	in->ready_tail = &in->ready;
	atomic_store(&in->read_timeout, read_timeout);
	pthread_mutex_init(&in->lock, NULL);
	pthread_cond_init(&in->cond, NULL);
	ev.events = EPOLLIN;
	ev.data.ptr = in;
	if ((in->scratch = malloc(LIM_FCGI_INTAKE_PEEK)) == NULL ||
	    (fl = fcntl(fd, F_GETFL)) == -1 ||
	    fcntl(fd, F_SETFL, fl | O_NONBLOCK) == -1 ||
	    (in->ep = epoll_create1(EPOLL_CLOEXEC)) == -1 ||
	    (in->wake = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) == -1 ||
	    epoll_ctl(in->ep, EPOLL_CTL_ADD, in->wake, &ev) == -1 ||
	    pthread_create(&in->thread, NULL, intake_loop, in) != 0) {
		snprintf(err, errlen, "intake: %s", strerror(errno));
		intake_free(in);
		return NULL;
	}
	in->have_thread = 1;
	return in;
}

int
intake_next(struct intake *in, struct intake_conn *out)
{
	struct held *h;

	pthread_mutex_lock(&in->lock);
	while (in->ready == NULL && !in->done)
		pthread_cond_wait(&in->cond, &in->lock);
	if ((h = in->ready) != NULL) {
		if ((in->ready = h->next) == NULL)
			in->ready_tail = &in->ready;
		in->nheld--;
	}
	pthread_mutex_unlock(&in->lock);
	if (h == NULL)
		return -1;
	*out = h->c;
	free(h);
	return 0;
}

void
intake_set_timeout(struct intake *in, unsigned seconds)
{
	atomic_store(&in->read_timeout, seconds);
}

void
intake_stop(struct intake *in)
{
	uint64_t one = 1;

	if (in == NULL || !in->have_thread)
		return;
	atomic_store(&in->stopping, 1);
	if (write(in->wake, &one, sizeof one) == -1)
		log_event(LOG_ERROR, "intake_stop_failed", "error",
		    strerror(errno), (char *)NULL);
	pthread_join(in->thread, NULL);
	in->have_thread = 0;
}

void
intake_free(struct intake *in)
{
	struct held *h;

	if (in == NULL)
		return;
	while ((h = in->ready) != NULL) {
		in->ready = h->next;
		close(h->c.fd);
		free(h);
	}
	if (in->ep != -1)
		close(in->ep);
	if (in->wake != -1)
		close(in->wake);
	pthread_cond_destroy(&in->cond);
	pthread_mutex_destroy(&in->lock);
	free(in->scratch);
	free(in);
}
