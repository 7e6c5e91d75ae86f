/*
 * fcgi — listener and request threads (doc/design.md "Threads").  We create
 * the socket ourselves (FCGX_OpenSocket unlinks blindly and exit()s on error),
 * accept without a mutex (Linux accept() is thread-safe), survive EMFILE by
 * backing off, and stop by setting FCGX_ShutdownPending, shutting the listener
 * down and poking each thread with a signal that interrupts accept()
 * (installed without SA_RESTART).
 */
#include "fcgi.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcgiapp.h>
#include <grp.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "limits.h"
#include "log.h"

#define WAKE_SIGNAL SIGUSR2   /* SIGUSR1 is libfcgi's */

struct fcgi_pool {
	int fd;
	unsigned n;
	pthread_t *threads;
	atomic_int *busy;            /* per thread: handling a request */
	fcgi_handler handler;
	fcgi_peer_ok peer_ok;
	void *arg;
	atomic_int stopping;
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

static void
wake_handler(int sig)
{
	(void)sig;
}

static ssize_t
read_stdin(void *arg, char *buf, size_t n)
{
	FCGX_Request *r = arg;
	int len = n > 65536 ? 65536 : (int)n;
	int got = FCGX_GetStr(buf, len, r->in);

	if (got < 0 || (got == 0 && FCGX_GetError(r->in) != 0))
		return -1;
	return got;
}

/* The peer's address as text into out; -1 (out then says "unknown", for
 * the log line) when it has none, e.g. it already left. */
static int
peer_addr(int fd, char *out, size_t len)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof ss;

	snprintf(out, len, "unknown");
	if (getpeername(fd, (struct sockaddr *)&ss, &sl) == -1)
		return -1;
	if (ss.ss_family == AF_INET)
		return inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr,
		    out, (socklen_t)len) ? 0 : -1;
	if (ss.ss_family == AF_INET6)
		return inet_ntop(AF_INET6,
		    &((struct sockaddr_in6 *)&ss)->sin6_addr, out,
		    (socklen_t)len) ? 0 : -1;
	return -1;
}

static void
serve_one(struct fcgi_pool *p, FCGX_Request *r)
{
	struct http_req req;
	struct http_resp resp;
	struct timespec t0, t1;
	char ms[24], status[8], line[96];
	const char *event;

	clock_gettime(CLOCK_MONOTONIC, &t0);
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
	req.read_arg = r;
	http_resp_init(&resp);
	p->handler(p->arg, &req, &resp);
	if (resp.status == 0)
		resp.status = 503;
	/* A client that left is harmless here: the message (if any) is
	 * already stored (doc/design.md "A request", step 8). */
	/* libfcgi's own printf lacks %zu: format with ours. */
	snprintf(line, sizeof line, "Status: %d %s\r\n", resp.status,
	    http_status_reason(resp.status));
	FCGX_PutS(line, r->out);
	if (resp.head.len)
		FCGX_PutStr(resp.head.data, (int)resp.head.len, r->out);
	if (resp.status == 204) {
		/* No Content: no Content-Length either, and no body
		 * (RFC 9110 §8.6, §15.3.5). */
		FCGX_PutS("\r\n", r->out);
	} else {
		snprintf(line, sizeof line, "Content-Length: %zu\r\n\r\n",
		    resp.body.len);
		FCGX_PutS(line, r->out);
		if (resp.body.len)
			FCGX_PutStr(resp.body.data, (int)resp.body.len,
			    r->out);
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	snprintf(ms, sizeof ms, "%ld", (long)((t1.tv_sec - t0.tv_sec) * 1000 +
	    (t1.tv_nsec - t0.tv_nsec) / 1000000));
	snprintf(status, sizeof status, "%d", resp.status);
	event = resp.event ? resp.event : resp.status < 400 &&
	    resp.reason == NULL ? "accepted" : resp.status < 400 ?
	    "discarded" : "rejected";
	log_event(resp.status >= 500 ? LOG_ERROR : LOG_INFO, event,
	    "site", resp.site[0] ? resp.site : NULL, "id", resp.id[0] ? resp.id : NULL,
	    "status", status, "reason", resp.reason, "ip", req.remote_addr,
	    "ms", ms, (char *)NULL);
	http_resp_free(&resp);
}

struct worker_arg {
	struct fcgi_pool *p;
	unsigned i;
};

static void *
worker(void *arg)
{
	struct fcgi_pool *p = ((struct worker_arg *)arg)->p;
	atomic_int *busy = &p->busy[((struct worker_arg *)arg)->i];
	FCGX_Request r;
	char peer[64];
	int rc;

	if (FCGX_InitRequest(&r, p->fd, 0) != 0)
		return NULL;
	while (!atomic_load(&p->stopping)) {
		atomic_store(busy, 0);
		rc = FCGX_Accept_r(&r);
		atomic_store(busy, 1);
		if (rc < 0) {
			if (atomic_load(&p->stopping))
				break;
			/* EMFILE, ENFILE, ENOBUFS...: transient; never let a
			 * worker die of it. */
			if (rc != -EINTR)
				log_event(LOG_WARN, "accept_failed", "error",
				    strerror(-rc), (char *)NULL);
			nanosleep(&(struct timespec){ 0, 100000000 }, NULL);
			continue;
		}
		if (p->peer_ok && (peer_addr(r.ipcFd, peer, sizeof peer) == -1
		    || !p->peer_ok(p->arg, peer))) {
			log_event(LOG_WARN, "peer_refused", "peer", peer,
			    (char *)NULL);
			FCGX_Finish_r(&r);
			continue;
		}
		serve_one(p, &r);
		FCGX_Finish_r(&r);
	}
	FCGX_Free(&r, 1);
	free(arg);
	return NULL;
}

struct fcgi_pool *
fcgi_start(int fd, unsigned n, fcgi_handler h, fcgi_peer_ok peer_ok,
    void *arg, char *err, size_t errlen)
{
	static int initialised;
	struct fcgi_pool *p;
	struct sigaction sa;
	unsigned i;

	if (!initialised) {
		if (FCGX_Init() != 0) {
			snprintf(err, errlen, "FCGX_Init failed");
			return NULL;
		}
		initialised = 1;
	}
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = wake_handler;   /* no SA_RESTART: accept() → EINTR */
	sigemptyset(&sa.sa_mask);
	sigaction(WAKE_SIGNAL, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	if ((p = calloc(1, sizeof *p)) == NULL ||
	    (p->threads = calloc(n, sizeof *p->threads)) == NULL ||
	    (p->busy = calloc(n, sizeof *p->busy)) == NULL) {
		if (p)
			free(p->threads);
		free(p);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	p->fd = fd;
	p->handler = h;
	p->peer_ok = peer_ok;
	p->arg = arg;
	for (i = 0; i < n; i++) {
		struct worker_arg *wa = malloc(sizeof *wa);
		if (wa)
			*wa = (struct worker_arg){ p, i };
		if (wa == NULL ||
		    pthread_create(&p->threads[i], NULL, worker, wa) != 0) {
			free(wa);
			snprintf(err, errlen, "cannot start thread %u", i);
			p->n = i;
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
	int tries;

	if (p == NULL)
		return;
	atomic_store(&p->stopping, 1);
	FCGX_ShutdownPending();
	shutdown(p->fd, SHUT_RDWR);
	for (i = 0; i < p->n; i++) {
		/* Poke it out of accept(); a thread handling a request is
		 * left alone to finish it (a signal could break its reads). */
		for (tries = 0; pthread_tryjoin_np(p->threads[i], NULL) != 0;
		    tries++) {
			if (!atomic_load(&p->busy[i]))
				pthread_kill(p->threads[i], WAKE_SIGNAL);
			nanosleep(&(struct timespec){ 0, tries < 50 ?
			    10000000 : 100000000 }, NULL);
		}
	}
	free(p->threads);
	free(p->busy);
	free(p);
}
