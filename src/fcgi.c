/*
 * fcgi — listener and request threads (doc/design.md "Threads").  We
 * create the socket ourselves (FCGX_OpenSocket unlinks blindly and exit()s on error).
 *
 * Slow peers.  A request thread is held by whatever it reads: the
 * BEGIN_REQUEST and PARAMS records (inside FCGX_Accept_r) and then the
 * body.  So request threads never accept: the intake (intake.h) accepts,
 * checks the peer, and holds each connection on one epoll thread until
 * its request is queued in the kernel (or enough of it that the peer is
 * plainly not slow); it drops what is not there at accept +
 * read_timeout.  What a request thread still reads is covered by the same
 * deadline, kept by one watchdog thread: a per-read timeout (SO_RCVTIMEO)
 * is defeated by a byte every few seconds.  The thread registers the
 * connection with its deadline; past it the watchdog calls
 * shutdown(SHUT_RD) on it, so a blocked read returns end-of-file at once
 * and the request ends as a stream error (dropped unanswered, logged
 * reason=read_timeout).  The watchdog only touches fds registered under
 * the lock, unregistered before they are closed, so a recycled fd number
 * is never shut down.
 *
 * Hostile records.  libfcgi trusts what it reads: the lengths of a
 * name-value pair (it allocates their sum, and aborts the whole process
 * when that fails), and a management record (FCGI_GET_VALUES) wherever it
 * meets one, even inside the body, whose answer it writes into a fixed
 * buffer.  So libfcgi reads no byte of a connection itself: the intake
 * walks the head (fcgiscan.h), the thread moves exactly that head into a
 * socket pair from which FCGX_Accept_r parses the params, reads the body's
 * STDIN records itself (read_stdin, refusing any other record), and gives
 * libfcgi a dup() of the connection only to write the answer and close.
 * The request's listen_sock is -1, so libfcgi, after a protocol error,
 * cannot accept a connection of its own (its accept() fails with EBADF).
 * Each connection carries one request (FCGI_KEEP_CONN is not honoured): a
 * kept connection would wait for its next request on a request thread.
 *
 * Stopping: the intake stops accepting and hands over or drops what it
 * holds; each thread finishes the request in hand, finds nothing more,
 * and ends.
 */
#include "fcgi.h"

#include <errno.h>
#include <fcgiapp.h>
#include <grp.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "intake.h"
#include "limits.h"
#include "log.h"
#include "util.h"

#define REC_HEADER 8                 /* FastCGI 1.0 §3.3 */
#define REC_STDIN  5

/* What the watchdog may cut: one per worker, guarded by the pool lock. */
struct slot {
	int fd;                      /* the worker's connection; -1: idle */
	struct timespec deadline;    /* CLOCK_MONOTONIC */
	int expired;                 /* the watchdog shut fd's read side */
};

struct fcgi_pool {
	unsigned n;
	pthread_t *threads;
	fcgi_handler handler;
	void *arg;
	struct intake *in;           /* hands over connections */
	pthread_mutex_t lock;        /* guards slots and wd_stop */
	pthread_cond_t cond;         /* a slot was armed, or stop */
	struct slot *slots;          /* n_slots, one per thread */
	unsigned n_slots;
	pthread_t wd;
	int have_wd, wd_stop;
	/* When the watchdog wakes next on its own (wd_timed), so that an
	 * arming wakes it only for an earlier deadline: deadlines mostly
	 * come in order, and a wake-up per request costs two context
	 * switches (doc/design.md "Performance"). */
	int wd_timed;
	struct timespec wd_next;
	int stopping;                /* no deadline past stop_by; pool lock */
	struct timespec stop_by;
};

static int
unix_listener(const struct config *c, char *err, size_t errlen)
{
	struct sockaddr_un sa;
	struct stat st;
	struct group *gr = NULL;
	mode_t old;
	int fd, probe;

	memset(&sa, 0, sizeof sa);
	sa.sun_family = AF_UNIX;
	snprintf(sa.sun_path, sizeof sa.sun_path, "%s", c->listen_path);
	if (c->socket_group && (gr = getgrnam(c->socket_group)) == NULL) {
		snprintf(err, errlen, "socket_group %s: no such group",
		    c->socket_group);
		return -1;
	}
	if (lstat(c->listen_path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			snprintf(err, errlen, "listen: %s exists and is not a "
			    "socket; remove it or choose another path",
			    c->listen_path);
			return -1;
		}
		/* Replace a stale socket, never a live one. */
		probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (probe != -1 && connect(probe, (struct sockaddr *)&sa,
		    sizeof sa) == 0) {
			close(probe);
			snprintf(err, errlen, "listen: %s is in use by a "
			    "running process", c->listen_path);
			return -1;
		}
		if (probe != -1)
			close(probe);
		unlink(c->listen_path);
	}
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		goto fail;
	old = umask(0117);
	if (bind(fd, (struct sockaddr *)&sa, sizeof sa) == -1) {
		umask(old);
		goto fail;
	}
	umask(old);
	if (chmod(c->listen_path, 0660) == -1 ||
	    (gr && chown(c->listen_path, (uid_t)-1, gr->gr_gid) == -1) ||
	    listen(fd, LIM_LISTEN_BACKLOG) == -1)
		goto fail;
	return fd;
fail:
	snprintf(err, errlen, "listen: unix:%s: %s", c->listen_path,
	    strerror(errno));
	if (fd != -1)
		close(fd);
	return -1;
}

static int
tcp_listener(const struct config *c, char *err, size_t errlen)
{
	struct addrinfo hints, *ai = NULL;
	char port[8];
	int fd = -1, one = 1, rc;

	memset(&hints, 0, sizeof hints);
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE;
	snprintf(port, sizeof port, "%u", c->listen_port);
	if ((rc = getaddrinfo(c->listen_host, port, &hints, &ai)) != 0) {
		snprintf(err, errlen, "listen: %s: %s", c->listen_host,
		    gai_strerror(rc));
		return -1;
	}
	fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd == -1 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one,
	    sizeof one) == -1 || bind(fd, ai->ai_addr, ai->ai_addrlen) == -1 ||
	    listen(fd, LIM_LISTEN_BACKLOG) == -1) {
		snprintf(err, errlen, "listen: %s:%s: %s", c->listen_host,
		    port, strerror(errno));
		if (fd != -1)
			close(fd);
		fd = -1;
	}
	freeaddrinfo(ai);
	return fd;
}

static int
is_listening(int fd)
{
	int v = 0;
	socklen_t len = sizeof v;

	return getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &v, &len) == 0 && v;
}

static int
is_tcp_socket(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof ss;

	return getsockname(fd, (struct sockaddr *)&ss, &len) == 0 &&
	    (ss.ss_family == AF_INET || ss.ss_family == AF_INET6);
}

int
fcgi_listen(const struct config *c, int *is_tcp, char *err, size_t errlen)
{
	const char *pid = getenv("LISTEN_PID"), *fds = getenv("LISTEN_FDS");
	int fd;

	*is_tcp = 0;
	if (c->listen == LISTEN_UNIX)
		return unix_listener(c, err, errlen);
	if (c->listen == LISTEN_TCP) {
		*is_tcp = 1;
		return tcp_listener(c, err, errlen);
	}
	if (pid && fds && strtol(pid, NULL, 10) == (long)getpid() &&
	    strcmp(fds, "1") == 0 && is_listening(3)) {
		unsetenv("LISTEN_PID");
		unsetenv("LISTEN_FDS");
		unsetenv("LISTEN_FDNAMES");
		fd = 3;
	} else if (is_listening(0))
		fd = 0;
	else {
		snprintf(err, errlen, "no listen: in the config, and no "
		    "inherited socket (systemd's fd 3 or spawn-fcgi's fd 0)");
		return -1;
	}
	*is_tcp = is_tcp_socket(fd);
	return fd;
}

/* Registers fd with the slot until deadline (CLOCK_MONOTONIC). */
static void
slot_arm(struct fcgi_pool *p, struct slot *sl, int fd,
    const struct timespec *deadline)
{
	pthread_mutex_lock(&p->lock);
	sl->deadline = *deadline;
	if (p->stopping && ts_before(&p->stop_by, deadline))
		sl->deadline = p->stop_by;
	sl->fd = fd;
	sl->expired = 0;
	if (!p->wd_timed || ts_before(&sl->deadline, &p->wd_next))
		pthread_cond_signal(&p->cond);
	pthread_mutex_unlock(&p->lock);
}

/* Unregisters the slot's fd (before the worker closes it); returns
 * whether the watchdog had cut it. */
static int
slot_disarm(struct fcgi_pool *p, struct slot *sl)
{
	int expired;

	pthread_mutex_lock(&p->lock);
	expired = sl->expired;
	sl->fd = -1;
	pthread_mutex_unlock(&p->lock);
	return expired;
}

static int
slot_expired(struct fcgi_pool *p, struct slot *sl)
{
	int expired;

	pthread_mutex_lock(&p->lock);
	expired = sl->expired;
	pthread_mutex_unlock(&p->lock);
	return expired;
}

/* The handler's view of one request's body: the STDIN records, read from
 * the connection by us (FastCGI 1.0 §3.3, §5.3), never by libfcgi, which
 * would act on any record it met there (see the top of this file). */
struct body_in {
	int fd;                      /* the connection, blocking */
	unsigned id;                 /* the request id */
	size_t left, pad;            /* of the current STDIN record */
	int eof;                     /* the empty STDIN record was read */
	struct fcgi_pool *p;
	struct slot *s;
	int timed_out;               /* a read failed past the deadline */
};

/* Exactly n bytes from fd into buf; -1 on an error or an early end. */
static int
read_full(int fd, void *buf, size_t n)
{
	size_t have = 0;
	ssize_t got;

	while (have < n) {
		got = recv(fd, (char *)buf + have, n - have, 0);
		if (got == -1 && errno == EINTR)
			continue;
		if (got <= 0)
			return -1;
		have += (size_t)got;
	}
	return 0;
}

/* Reads up to the next STDIN content; -1 on anything but a STDIN record
 * of our request (an ABORT_REQUEST too: the request ends unanswered). */
static int
next_stdin(struct body_in *b)
{
	unsigned char h[REC_HEADER], pad[255];

	while (!b->eof && b->left == 0) {
		if (read_full(b->fd, pad, b->pad) == -1 ||
		    read_full(b->fd, h, sizeof h) == -1)
			return -1;
		if (h[0] != 1 || h[1] != REC_STDIN ||
		    ((unsigned)h[2] << 8 | h[3]) != b->id)
			return -1;
		b->left = (size_t)h[4] << 8 | h[5];
		b->pad = h[6];
		b->eof = b->left == 0;
	}
	return 0;
}

static ssize_t
read_stdin(void *arg, char *buf, size_t n)
{
	struct body_in *b = arg;
	ssize_t got;

	if (next_stdin(b) == -1)
		goto fail;
	if (b->eof || n == 0)
		return 0;
	do
		got = recv(b->fd, buf, n < b->left ? n : b->left, 0);
	while (got == -1 && errno == EINTR);
	if (got <= 0)
		goto fail;
	b->left -= (size_t)got;
	return got;
fail:
	b->timed_out = slot_expired(b->p, b->s);
	return -1;
}

static void
respond(FCGX_Request *r, const struct http_resp *resp)
{
	char line[96];

	/* A client that left is harmless here: the message (if any) is
	 * already stored (doc/design.md "A request", step 8). */
	/* libfcgi's own printf lacks %zu: format with ours. */
	snprintf(line, sizeof line, "Status: %d %s\r\n", resp->status,
	    http_status_reason(resp->status));
	FCGX_PutS(line, r->out);
	if (resp->head.len)
		FCGX_PutStr(resp->head.data, (int)resp->head.len, r->out);
	if (resp->status == 204) {
		/* No Content: no Content-Length either, and no body
		 * (RFC 9110 §8.6, §15.3.5). */
		FCGX_PutS("\r\n", r->out);
	} else {
		snprintf(line, sizeof line, "Content-Length: %zu\r\n\r\n",
		    resp->body.len);
		FCGX_PutS(line, r->out);
		if (resp->body.len)
			FCGX_PutStr(resp->body.data, (int)resp->body.len,
			    r->out);
	}
}

static void
log_timeout(const char *ip)
{
	log_event(LOG_WARN, "rejected", "reason", "read_timeout", "ip", ip,
	    (char *)NULL);
}

/* Serves one request; -1 when the body was cut by the read deadline
 * (nothing stored, nothing answered: the caller drops the connection). */
static int
serve_one(struct fcgi_pool *p, struct slot *sl, FCGX_Request *r,
    const struct intake_conn *c)
{
	struct http_req req;
	struct http_resp resp;
	struct body_in in = { .fd = c->fd, .id = c->request_id, .p = p,
	    .s = sl };
	long long t0 = mono_ms();
	char ms[24], status[8];
	const char *event;

	memset(&req, 0, sizeof req);
	req.method = FCGX_GetParam("REQUEST_METHOD", r->envp);
	req.request_uri = FCGX_GetParam("REQUEST_URI", r->envp);
	req.script_name = FCGX_GetParam("SCRIPT_NAME", r->envp);
	req.path_info = FCGX_GetParam("PATH_INFO", r->envp);
	req.document_uri = FCGX_GetParam("DOCUMENT_URI", r->envp);
	req.content_type = FCGX_GetParam("CONTENT_TYPE", r->envp);
	req.content_length = FCGX_GetParam("CONTENT_LENGTH", r->envp);
	req.origin = FCGX_GetParam("HTTP_ORIGIN", r->envp);
	req.referer = FCGX_GetParam("HTTP_REFERER", r->envp);
	req.sec_fetch_site = FCGX_GetParam("HTTP_SEC_FETCH_SITE", r->envp);
	req.accept = FCGX_GetParam("HTTP_ACCEPT", r->envp);
	req.accept_language = FCGX_GetParam("HTTP_ACCEPT_LANGUAGE", r->envp);
	req.remote_addr = FCGX_GetParam("REMOTE_ADDR", r->envp);
	req.read = read_stdin;
	req.read_arg = &in;
	http_resp_init(&resp);
	p->handler(p->arg, &req, &resp);
	if (in.timed_out && resp.status >= 400) {
		log_timeout(req.remote_addr);
		http_resp_free(&resp);
		return -1;
	}
	if (resp.status == 0)
		resp.status = 503;
	respond(r, &resp);
	snprintf(ms, sizeof ms, "%lld", mono_ms() - t0);
	snprintf(status, sizeof status, "%d", resp.status);
	event = resp.event ? resp.event : resp.status < 400 &&
	    resp.reason == NULL ? "accepted" : resp.status < 400 ?
	    "discarded" : "rejected";
	log_event(resp.status >= 500 ? LOG_ERROR : LOG_INFO, event,
	    "site", resp.site[0] ? resp.site : NULL, "id", resp.id[0] ? resp.id : NULL,
	    "status", status, "reason", resp.reason, "ip", req.remote_addr,
	    "ms", ms, (char *)NULL);
	http_resp_free(&resp);
	return 0;
}

/* The watchdog: cuts the read side of every connection past its
 * deadline, then sleeps until the next deadline or a new arming. */
static void *
watchdog(void *arg)
{
	struct fcgi_pool *p = arg;
	struct timespec now, next;
	unsigned i;
	int have;

	pthread_mutex_lock(&p->lock);
	while (!p->wd_stop) {
		clock_gettime(CLOCK_MONOTONIC, &now);
		for (i = 0, have = 0; i < p->n_slots; i++) {
			struct slot *sl = &p->slots[i];
			if (sl->fd == -1 || sl->expired)
				continue;
			if (!ts_before(&now, &sl->deadline)) {
				sl->expired = 1;
				shutdown(sl->fd, SHUT_RD);
			} else if (!have || ts_before(&sl->deadline, &next)) {
				next = sl->deadline;
				have = 1;
			}
		}
		p->wd_timed = have;
		p->wd_next = have ? next : now;
		if (have)
			pthread_cond_timedwait(&p->cond, &p->lock, &next);
		else
			pthread_cond_wait(&p->cond, &p->lock);
		p->wd_timed = 0;
	}
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

/* 1 when the params are within LIM_FCGI_PARAMS and LIM_FCGI_PARAMS_BYTES.
 * The intake has checked their declared lengths already (fcgiscan.h);
 * this second look at what libfcgi made of them costs little. */
static int
params_ok(char **envp)
{
	size_t n, bytes = 0;

	for (n = 0; envp && envp[n]; n++) {
		bytes += strlen(envp[n]) - 1;    /* NAME=VALUE */
		if (n >= LIM_FCGI_PARAMS || bytes > LIM_FCGI_PARAMS_BYTES)
			return 0;
	}
	return 1;
}

/* Moves the head (c->head_len bytes, queued: the intake has walked them)
 * off the connection into a socket pair, and returns the pair's end for
 * libfcgi's FCGX_Accept_r: it reads the head there and then meets the
 * end of the stream, never a byte of the body.  -1 on failure. */
static int
head_pair(const struct intake_conn *c)
{
	char *buf = malloc(c->head_len ? c->head_len : 1);
	int sp[2] = { -1, -1 }, rc = -1;

	if (buf == NULL || read_full(c->fd, buf, c->head_len) == -1 ||
	    socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) == -1)
		goto out;
	/* At most LIM_FCGI_INTAKE_PEEK: within a fresh pair's buffer. */
	if (send(sp[0], buf, c->head_len, MSG_DONTWAIT | MSG_NOSIGNAL) ==
	    (ssize_t)c->head_len) {
		rc = sp[1];
		sp[1] = -1;
	}
out:
	if (sp[0] != -1)
		close(sp[0]);
	if (sp[1] != -1)
		close(sp[1]);
	free(buf);
	return rc;
}

/* Serves the one request of a connection the intake handed over (its
 * head is queued and was accepted by fcgiscan.h).  libfcgi parses the
 * head from a socket pair (head_pair), we read the body (read_stdin), and
 * libfcgi writes the answer to, and closes, a dup of the connection;
 * conn itself stays ours. */
static void
serve_conn(struct fcgi_pool *p, struct slot *sl, FCGX_Request *r,
    const struct intake_conn *c)
{
	slot_arm(p, sl, c->fd, &c->deadline);
	if ((r->ipcFd = head_pair(c)) == -1) {
		if (slot_disarm(p, sl))
			log_timeout(c->peer);
		else
			log_event(LOG_WARN, "accept_failed", "error",
			    strerror(errno), (char *)NULL);
		close(c->fd);
		return;
	}
	/* Else FCGX_Accept_r's opening Finish closes the fd just handed
	 * over; on failure it closes it and fails on listen_sock -1
	 * instead of accepting. */
	r->keepConnection = 1;
	if (FCGX_Accept_r(r) < 0) {
		if (slot_disarm(p, sl))
			log_timeout(c->peer);
		close(c->fd);
		return;
	}
	close(r->ipcFd);
	r->ipcFd = dup(c->fd);
	/* Defence in depth: the intake has counted the params already. */
	if (r->ipcFd == -1 || FCGX_GetError(r->in) != 0 ||
	    !params_ok(r->envp)) {
		if (r->ipcFd != -1 && FCGX_GetError(r->in) == 0)
			log_event(LOG_WARN, "rejected", "reason",
			    "params", "ip", c->peer, (char *)NULL);
		FCGX_Free(r, 1);
	} else {
		/* One request per connection: a kept one would wait for
		 * the next request on this thread, outside the intake. */
		r->keepConnection = 0;
		if (serve_one(p, sl, r, c) == -1)
			FCGX_Free(r, 1);
		else
			FCGX_Finish_r(r);
	}
	slot_disarm(p, sl);
	close(c->fd);
}

struct worker_arg {
	struct fcgi_pool *p;
	unsigned i;
};

static void *
worker(void *arg)
{
	struct fcgi_pool *p = ((struct worker_arg *)arg)->p;
	struct slot *sl = &p->slots[((struct worker_arg *)arg)->i];
	struct intake_conn c;
	FCGX_Request r;

	free(arg);
	/* listen_sock -1: libfcgi never accepts by itself (see above). */
	if (FCGX_InitRequest(&r, -1, 0) != 0)
		return NULL;
	while (intake_next(p->in, &c) == 0)
		serve_conn(p, sl, &r, &c);
	FCGX_Free(&r, 1);
	return NULL;
}

/* The lock, the condition (on the monotonic clock, as the deadlines)
 * and the idle slots; -1 on failure. */
static int
watch_init(struct fcgi_pool *p, unsigned n)
{
	pthread_condattr_t ca;
	unsigned i;
	int rc = -1;

	if ((p->slots = calloc(n, sizeof *p->slots)) == NULL)
		return -1;
	for (i = 0; i < n; i++)
		p->slots[i].fd = -1;
	p->n_slots = n;
	if (pthread_condattr_init(&ca) != 0)
		return -1;
	if (pthread_condattr_setclock(&ca, CLOCK_MONOTONIC) == 0 &&
	    pthread_cond_init(&p->cond, &ca) == 0) {
		pthread_mutex_init(&p->lock, NULL);
		rc = 0;
	}
	pthread_condattr_destroy(&ca);
	return rc;
}

struct fcgi_pool *
fcgi_start(int fd, unsigned n, unsigned read_timeout, fcgi_handler h,
    fcgi_peer_ok peer_ok, void *arg, char *err, size_t errlen)
{
	static int initialised;
	struct fcgi_pool *p;
	unsigned i;

	if (!initialised) {
		if (FCGX_Init() != 0) {
			snprintf(err, errlen, "FCGX_Init failed");
			return NULL;
		}
		initialised = 1;
	}
	signal(SIGPIPE, SIG_IGN);
	if ((p = calloc(1, sizeof *p)) == NULL ||
	    (p->threads = calloc(n, sizeof *p->threads)) == NULL ||
	    watch_init(p, n) == -1) {
		if (p) {
			free(p->threads);
			free(p->slots);
		}
		free(p);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	p->handler = h;
	p->arg = arg;
	if (pthread_create(&p->wd, NULL, watchdog, p) != 0) {
		snprintf(err, errlen, "cannot start the watchdog thread");
		fcgi_stop(p);
		return NULL;
	}
	p->have_wd = 1;
	if ((p->in = intake_start(fd, read_timeout, peer_ok, arg, err,
	    errlen)) == NULL) {
		fcgi_stop(p);
		return NULL;
	}
	for (i = 0; i < n; i++) {
		struct worker_arg *wa = malloc(sizeof *wa);
		if (wa)
			*wa = (struct worker_arg){ p, i };
		if (wa == NULL ||
		    pthread_create(&p->threads[i], NULL, worker, wa) != 0) {
			free(wa);
			snprintf(err, errlen, "cannot start thread %u", i);
			fcgi_stop(p);
			return NULL;
		}
		p->n = i + 1;
	}
	return p;
}

void
fcgi_stop(struct fcgi_pool *p)
{
	unsigned i;

	if (p == NULL)
		return;
	/* A request still arriving gets LIM_STOP_READ_GRACE at most, so
	 * that a slow peer cannot hold the stop for read_timeout (nor past
	 * the service manager's patience, which would kill the process and
	 * every request in it).  The intake stops accepting and hands over
	 * (or drops, at their deadline) what it holds; then each thread
	 * finishes the request in hand and finds nothing more. */
	pthread_mutex_lock(&p->lock);
	p->stop_by = mono_after_ms(LIM_STOP_READ_GRACE * 1000LL);
	p->stopping = 1;
	for (i = 0; i < p->n_slots; i++)
		if (ts_before(&p->stop_by, &p->slots[i].deadline))
			p->slots[i].deadline = p->stop_by;
	pthread_cond_signal(&p->cond);
	pthread_mutex_unlock(&p->lock);
	intake_stop(p->in);
	for (i = 0; i < p->n; i++)
		pthread_join(p->threads[i], NULL);
	if (p->have_wd) {
		pthread_mutex_lock(&p->lock);
		p->wd_stop = 1;
		pthread_cond_signal(&p->cond);
		pthread_mutex_unlock(&p->lock);
		pthread_join(p->wd, NULL);
	}
	intake_free(p->in);
	pthread_cond_destroy(&p->cond);
	pthread_mutex_destroy(&p->lock);
	free(p->slots);
	free(p->threads);
	free(p);
}

void
fcgi_set_read_timeout(struct fcgi_pool *p, unsigned seconds)
{
	intake_set_timeout(p->in, seconds);
}
