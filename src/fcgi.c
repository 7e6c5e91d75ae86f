/*
 * fcgi — listener and request threads (doc/design.md "Threads").  We
 * speak FastCGI 1.0 ourselves: it takes little (records §3.3, name-value
 * pairs §3.4, the responder's streams §5.3, END_REQUEST §5.5), and a
 * library that reads the head and writes the answer through its own
 * buffers costs a socket pair, a dup and a drain per request
 * (doc/design.md "Performance").
 *
 * Slow peers.  A request thread is held by whatever it reads: the
 * BEGIN_REQUEST and PARAMS records and then the body.  So request threads
 * never accept: the intake (intake.h) accepts, checks the peer, and holds
 * each connection until its request is queued in the kernel (or enough
 * of it that the peer is plainly not slow); it drops what is not there at
 * accept + read_timeout.  What a request thread still reads is covered by
 * the same deadline, kept by one watchdog thread: a per-read timeout
 * (SO_RCVTIMEO) is defeated by a byte every few seconds.  The thread
 * registers the connection with its deadline; past it the watchdog calls
 * shutdown(SHUT_RD) on it, so a blocked read returns end-of-file at once
 * and the request ends as a stream error (dropped unanswered, logged
 * reason=read_timeout).  The watchdog only touches fds registered under
 * the lock, unregistered before they are closed, so a recycled fd number
 * is never shut down.
 *
 * Hostile records.  The intake walks the head (fcgiscan.h) before a
 * request thread uses a byte of it: the declared lengths of the
 * name-value pairs, the caps, the record order.  The thread gets the
 * head with the intake's read (with most bodies whole behind it), picks
 * the params it uses out of it, and reads the body's STDIN records
 * itself (read_stdin), refusing any other record (a management record,
 * FCGI_GET_VALUES, inside the body ends the request unanswered).  Each
 * connection carries one request (FCGI_KEEP_CONN is not honoured): a kept
 * connection would wait for its next request on a request thread.  A
 * role other than the responder's gets END_REQUEST with
 * FCGI_UNKNOWN_ROLE (§5.5).
 *
 * Stopping: the intake stops accepting and hands over or drops what it
 * holds; each thread finishes the request in hand, finds nothing more,
 * and ends.
 */
#include "fcgi.h"

#include <errno.h>
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

#include "fcgiscan.h"
#include "intake.h"
#include "limits.h"
#include "log.h"
#include "util.h"

#define REC_HEADER 8                 /* FastCGI 1.0 §3.3, §8 */
#define REC_END    3
#define REC_STDIN  5
#define REC_STDOUT 6
#define FCGI_RESPONDER    1
#define FCGI_UNKNOWN_ROLE 3
/* Bytes a request thread reads past the head at once: most bodies. */
#define WORKER_READ (16 * 1024)

/* The params a request uses (struct http_req). */
static const char *const PARAM_NAMES[] = {
	"REQUEST_METHOD", "REQUEST_URI", "SCRIPT_NAME", "PATH_INFO",
	"DOCUMENT_URI", "CONTENT_TYPE", "CONTENT_LENGTH", "HTTP_ORIGIN",
	"HTTP_REFERER", "HTTP_SEC_FETCH_SITE", "HTTP_ACCEPT",
	"HTTP_ACCEPT_LANGUAGE", "REMOTE_ADDR",
};
enum {
	P_METHOD, P_REQUEST_URI, P_SCRIPT_NAME, P_PATH_INFO, P_DOCUMENT_URI,
	P_CONTENT_TYPE, P_CONTENT_LENGTH, P_ORIGIN, P_REFERER,
	P_SEC_FETCH_SITE, P_ACCEPT, P_ACCEPT_LANGUAGE, P_REMOTE_ADDR, P_COUNT
};
_Static_assert(sizeof PARAM_NAMES / sizeof PARAM_NAMES[0] == P_COUNT,
    "one name per param");
_Static_assert(P_COUNT <= FCGI_PICK_MAX, "fcgi_pick takes them all");

/* What the watchdog may cut: one per worker, guarded by the pool lock. */
struct slot {
	int fd;                      /* the worker's connection; -1: idle */
	struct timespec deadline;    /* CLOCK_MONOTONIC */
	int expired;                 /* the watchdog shut fd's read side */
};

/* One request thread's reusable memory. */
struct worker {
	struct slot *sl;
	unsigned char *in;           /* the head and the first of the body */
	size_t in_cap;
	char *env;                   /* the params used, NUL-terminated */
	size_t env_cap;
	const char *v[P_COUNT];      /* into env; NULL: not sent */
	struct buf text, out;        /* the answer, then as records */
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

/* One connection's bytes as we read them: a buffer in front of the
 * socket, so that the head, and mostly the whole body, come in one
 * read (doc/design.md "Performance"). */
struct conn_in {
	int fd;                      /* the connection, blocking */
	unsigned char *buf;          /* the worker's, cap bytes */
	size_t cap, off, len;        /* unread: buf[off, len) */
};

/* Up to n bytes (> 0); -1 on an error or the end of the stream. */
static ssize_t
in_read(struct conn_in *ci, void *dst, size_t n)
{
	ssize_t got;

	if (ci->off == ci->len) {
		ci->off = ci->len = 0;
		if (n >= ci->cap / 2) {          /* large: straight in */
			do
				got = recv(ci->fd, dst, n, 0);
			while (got == -1 && errno == EINTR);
			return got > 0 ? got : -1;
		}
		do
			got = recv(ci->fd, ci->buf, ci->cap, 0);
		while (got == -1 && errno == EINTR);
		if (got <= 0)
			return -1;
		ci->len = (size_t)got;
	}
	if (n > ci->len - ci->off)
		n = ci->len - ci->off;
	memcpy(dst, ci->buf + ci->off, n);
	ci->off += n;
	return (ssize_t)n;
}

/* Exactly n bytes; -1 on an error or an early end. */
static int
read_full(struct conn_in *ci, void *buf, size_t n)
{
	size_t have = 0;
	ssize_t got;

	while (have < n) {
		if ((got = in_read(ci, (char *)buf + have, n - have)) == -1)
			return -1;
		have += (size_t)got;
	}
	return 0;
}

/* The handler's view of one request's body: the STDIN records, read from
 * the connection by us (FastCGI 1.0 §3.3, §5.3). */
struct body_in {
	struct conn_in *ci;
	unsigned id;                 /* the request id */
	size_t left, pad;            /* of the current STDIN record */
	int eof;                     /* the empty STDIN record was read */
	struct fcgi_pool *p;
	struct slot *s;
	int timed_out;               /* a read failed past the deadline */
};

/* Takes a STDIN record header; -1 on anything but a STDIN record of our
 * request (an ABORT_REQUEST too: the request ends unanswered). */
static int
stdin_header(struct body_in *b, const unsigned char *h)
{
	if (h[0] != 1 || h[1] != REC_STDIN ||
	    ((unsigned)h[2] << 8 | h[3]) != b->id)
		return -1;
	b->left = (size_t)h[4] << 8 | h[5];
	b->pad = h[6];
	b->eof = b->left == 0;
	return 0;
}

/* Reads up to the next STDIN content. */
static int
next_stdin(struct body_in *b)
{
	unsigned char h[REC_HEADER], pad[255];

	while (!b->eof && b->left == 0) {
		if (read_full(b->ci, pad, b->pad) == -1 ||
		    read_full(b->ci, h, sizeof h) == -1 ||
		    stdin_header(b, h) == -1)
			return -1;
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
	if ((got = in_read(b->ci, buf, n < b->left ? n : b->left)) == -1)
		goto fail;
	b->left -= (size_t)got;
	return got;
fail:
	b->timed_out = slot_expired(b->p, b->s);
	return -1;
}

/* Passes over the rest of the STDIN stream in what is buffered, reading
 * nothing; 1 when the stream ended there. */
static int
rest_buffered(struct body_in *b)
{
	struct conn_in *ci = b->ci;
	size_t take;

	while (!b->eof) {
		take = ci->len - ci->off < b->left ? ci->len - ci->off :
		    b->left;
		ci->off += take;
		b->left -= take;
		if (b->left || ci->len - ci->off < b->pad + REC_HEADER)
			return 0;
		ci->off += b->pad;
		if (stdin_header(b, ci->buf + ci->off) == -1)
			return 0;
		ci->off += REC_HEADER;
	}
	return 1;
}

/* Appends the header of a record of type t with n bytes of content
 * (n <= 65535, no padding), which the caller appends next. */
static void
add_header(struct buf *o, unsigned t, unsigned id, size_t n)
{
	unsigned char h[REC_HEADER] = { 1, (unsigned char)t,
	    (unsigned char)(id >> 8), (unsigned char)id,
	    (unsigned char)(n >> 8), (unsigned char)n, 0, 0 };

	buf_add(o, h, sizeof h);
}

/* Appends one record of type t with content c[0..n), n <= 65535. */
static void
add_record(struct buf *o, unsigned t, unsigned id, const void *c, size_t n)
{
	add_header(o, t, id, n);
	buf_add(o, c, n);
}

/* Sends all of b; -1 when the peer is gone (harmless: whatever the answer
 * says is stored already, doc/design.md "A request", step 9). */
static int
send_all(int fd, const char *b, size_t n)
{
	ssize_t put;

	while (n) {
		put = send(fd, b, n, MSG_NOSIGNAL);
		if (put == -1 && errno == EINTR)
			continue;
		if (put <= 0)
			return -1;
		b += put;
		n -= (size_t)put;
	}
	return 0;
}

/* The end of a request (FastCGI 1.0 §5.5): appStatus 0, protocolStatus
 * ps (0: complete, 3: unknown role). */
static void
add_end(struct buf *o, unsigned id, unsigned char ps)
{
	unsigned char end[8] = { 0, 0, 0, 0, ps, 0, 0, 0 };

	add_record(o, REC_STDOUT, id, NULL, 0);
	add_record(o, REC_END, id, end, sizeof end);
}

/* The answer as STDOUT records, then END_REQUEST, in one write: the
 * status line and headers (t) and the body go into the records as they
 * are, each record at most 65535 bytes of the two. */
static void
respond(struct worker *w, int fd, unsigned id, const struct http_resp *resp)
{
	struct buf *t = &w->text, *o = &w->out;
	const char *body = resp->body.data;
	size_t off, n, k, blen = resp->status == 204 ? 0 : resp->body.len;

	buf_reset(t);
	buf_reset(o);
	buf_adds(t, "Status: ");
	buf_addu(t, (unsigned)resp->status);
	buf_addc(t, ' ');
	buf_adds(t, http_status_reason(resp->status));
	buf_adds(t, "\r\n");
	buf_add(t, resp->head.data, resp->head.len);
	if (resp->status == 204) {
		/* No Content: no Content-Length either, and no body
		 * (RFC 9110 §8.6, §15.3.5). */
		buf_adds(t, "\r\n");
	} else {
		buf_adds(t, "Content-Length: ");
		buf_addu(t, resp->body.len);
		buf_adds(t, "\r\n\r\n");
	}
	buf_reserve(o, t->len + blen + (t->len + blen) / 65535 * REC_HEADER +
	    3 * REC_HEADER);
	for (off = 0; off < t->len + blen; off += n) {
		n = t->len + blen - off < 65535 ? t->len + blen - off : 65535;
		add_header(o, REC_STDOUT, id, n);
		k = 0;                  /* bytes of this record from t */
		if (off < t->len) {
			k = t->len - off < n ? t->len - off : n;
			buf_add(o, t->data + off, k);
		}
		if (n > k)
			buf_add(o, body + (off + k - t->len), n - k);
	}
	add_end(o, id, 0);
	if (!t->oom && !o->oom)
		send_all(fd, o->data, o->len);
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
serve_one(struct fcgi_pool *p, struct worker *w, struct body_in *in,
    const struct intake_conn *c)
{
	struct http_req req;
	struct http_resp resp;
	long long t0 = mono_ms();
	char ms[U64_STR], status[U64_STR];
	const char *event;

	memset(&req, 0, sizeof req);
	req.method = w->v[P_METHOD];
	req.request_uri = w->v[P_REQUEST_URI];
	req.script_name = w->v[P_SCRIPT_NAME];
	req.path_info = w->v[P_PATH_INFO];
	req.document_uri = w->v[P_DOCUMENT_URI];
	req.content_type = w->v[P_CONTENT_TYPE];
	req.content_length = w->v[P_CONTENT_LENGTH];
	req.origin = w->v[P_ORIGIN];
	req.referer = w->v[P_REFERER];
	req.sec_fetch_site = w->v[P_SEC_FETCH_SITE];
	req.accept = w->v[P_ACCEPT];
	req.accept_language = w->v[P_ACCEPT_LANGUAGE];
	req.remote_addr = w->v[P_REMOTE_ADDR];
	req.read = read_stdin;
	req.read_arg = in;
	http_resp_init(&resp);
	p->handler(p->arg, &req, &resp);
	if (in->timed_out && resp.status >= 400) {
		log_timeout(req.remote_addr);
		http_resp_free(&resp);
		return -1;
	}
	if (resp.status == 0)
		resp.status = 503;
	respond(w, c->fd, c->request_id, &resp);
	u64_str(ms, (unsigned long long)(mono_ms() - t0));
	u64_str(status, (unsigned)resp.status);
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

/* Parses the head (n bytes at h, accepted by fcgiscan.h) into w's
 * params.  Returns the role, or -1 (an ABORT_REQUEST, or out of memory:
 * the request ends unanswered); *bad: malformed params. */
static int
parse_head(struct worker *w, const unsigned char *h, size_t n, int *bad)
{
	size_t need = FCGI_PICK_WORK(n, P_COUNT);
	char *e;
	int role;

	*bad = 0;
	if (need > w->env_cap) {
		if ((e = realloc(w->env, need)) == NULL)
			return -1;
		w->env = e;
		w->env_cap = need;
	}
	role = fcgi_pick(h, n, PARAM_NAMES, P_COUNT, w->env, w->v);
	if (role == -2)
		*bad = 1;
	return role;
}

/* The worker's input buffer holds a head of n bytes and a body's first
 * read; 0, or -1 out of memory. */
static int
buf_room(struct worker *w, size_t n)
{
	size_t want = n + WORKER_READ;
	unsigned char *b;

	if (want <= w->in_cap)
		return 0;
	if ((b = realloc(w->in, want)) == NULL)
		return -1;
	w->in = b;
	w->in_cap = want;
	return 0;
}

/* Serves the one request of a connection the intake handed over: its
 * head (c->head_len bytes) is queued and was accepted by fcgiscan.h.  It
 * comes with the first read, the body mostly too; the answer goes in one
 * write.  A connection whose body we did not read to its end is shut for
 * writing and drained before it is closed, so the peer sees our answer
 * and not a reset. */
static void
serve_conn(struct fcgi_pool *p, struct worker *w, const struct intake_conn *c)
{
	struct conn_in ci = { .fd = c->fd };
	struct body_in in = { .ci = &ci, .id = c->request_id, .p = p,
	    .s = w->sl };
	int role, bad, ended = 0;
	char trash[512];

	slot_arm(p, w->sl, c->fd, &c->deadline);
	if (buf_room(w, c->head_len > c->npre ? c->head_len : c->npre) == -1) {
		log_event(LOG_WARN, "accept_failed", "error",
		    "out of memory", (char *)NULL);
		goto done;
	}
	ci.buf = w->in;
	ci.cap = w->in_cap;
	/* What the intake read of the stream, then the rest of the head. */
	if (c->npre)
		memcpy(ci.buf, c->pre, c->npre);
	ci.len = c->npre;
	while (ci.len < c->head_len) {
		ssize_t got = recv(c->fd, ci.buf + ci.len, ci.cap - ci.len, 0);
		if (got == -1 && errno == EINTR)
			continue;
		if (got <= 0) {
			if (slot_expired(p, w->sl))
				log_timeout(c->peer);
			goto done;
		}
		ci.len += (size_t)got;
	}
	ci.off = c->head_len;
	role = parse_head(w, ci.buf, c->head_len, &bad);
	if (role == -1)
		goto done;
	if (bad) {
		log_event(LOG_WARN, "rejected", "reason", "params", "ip",
		    c->peer, (char *)NULL);
		goto done;
	}
	if (role != FCGI_RESPONDER) {
		buf_reset(&w->out);
		add_end(&w->out, c->request_id, FCGI_UNKNOWN_ROLE);
		if (!w->out.oom)
			send_all(c->fd, w->out.data, w->out.len);
	} else if (serve_one(p, w, &in, c) == -1)
		goto done;
	ended = rest_buffered(&in);
	if (!ended && shutdown(c->fd, SHUT_WR) == 0)
		while (recv(c->fd, trash, sizeof trash, 0) > 0)
			;
done:
	slot_disarm(p, w->sl);
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
	unsigned t = ((struct worker_arg *)arg)->i;
	struct worker w;
	struct intake_conn c;

	memset(&w, 0, sizeof w);
	w.sl = &p->slots[t];
	buf_init(&w.text);
	buf_init(&w.out);
	free(arg);
	while (intake_next(p->in, t, &c) == 0)
		serve_conn(p, &w, &c);
	buf_free(&w.text);
	buf_free(&w.out);
	free(w.in);
	free(w.env);
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
	struct fcgi_pool *p;
	unsigned i;

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
	if ((p->in = intake_start(fd, n, read_timeout, peer_ok, arg, err,
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
