/*
 * sink — the benchmark's SMTP server: accepts everything and keeps
 * nothing, so delivery throughput measures formpost's sender rather than
 * a Python aiosmtpd.  One thread, epoll, non-blocking sockets; plain SMTP
 * only (formpost allows starttls: off on loopback).
 *
 *     sink PORT [DELAY_MS]   (0: any free port; the port is printed first)
 *
 * DELAY_MS holds every reply (greeting included) that long before it is
 * written, as a relay that far away would: a client that waits for each
 * reply pays it once per command.  Replies leave in order (one FIFO:
 * every reply has the same delay), so the sink still serves every
 * connection at once.
 * Answers 220 on connect, 250 to every command, 354 to DATA, then reads
 * to CRLF.CRLF and answers 250 (one transaction counted), 221 to QUIT.
 * Several transactions per connection work, with or without RSET.  On
 * SIGUSR1 it prints "tx=N conns=M first=T last=T open=O peak=P"
 * (CLOCK_MONOTONIC seconds of the first connection and of the last
 * completed transaction; connections open now, and the most at once);
 * on SIGTERM it prints the same and exits.
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define LINE_MAX_BYTES 4096
#define MAX_FDS        4096
#define QUEUE_LEN      65536      /* replies held at once (delay mode) */

struct conn {
	int fd;
	unsigned gen;               /* tells a reused fd from the old one */
	int data;                   /* inside DATA */
	unsigned match;             /* bytes of "\r\n.\r\n" matched so far */
	size_t len;                 /* bytes in line */
	char line[LINE_MAX_BYTES];
};

/* A reply waiting for its time (delay mode); close: hang up after it. */
struct held {
	double due;
	int fd;
	unsigned gen;
	int close;
	char text[96];
};

static unsigned long tx, conns, open_now, peak;
static double first_t, last_t, delay_s;
static struct conn *by_fd[MAX_FDS];
static unsigned gens[MAX_FDS];
static struct held *q;
static size_t qhead, qlen;

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
stats(void)
{
	printf("tx=%lu conns=%lu first=%.6f last=%.6f open=%lu peak=%lu\n", tx,
	    conns, first_t, last_t, open_now, peak);
	fflush(stdout);
}

static void
hang_up(struct conn *c)
{
	close(c->fd);           /* leaves the epoll set */
	by_fd[c->fd] = NULL;
	open_now--;
	free(c);
}

/* Best effort: replies are tiny and the client waits for each one, so
 * the socket buffer always has room.  With a delay the reply (and a
 * hang-up after it) waits in the queue. */
static void
reply(struct conn *c, const char *s, int close_after)
{
	struct held *h;
	ssize_t w;

	if (delay_s <= 0 || qlen == QUEUE_LEN) {
		w = write(c->fd, s, strlen(s));
		(void)w;
		if (close_after)
			hang_up(c);
		return;
	}
	h = &q[(qhead + qlen++) % QUEUE_LEN];
	h->due = now() + delay_s;
	h->fd = c->fd;
	h->gen = c->gen;
	h->close = close_after;
	snprintf(h->text, sizeof h->text, "%s", s);
}

static void
say(struct conn *c, const char *s)
{
	reply(c, s, 0);
}

/* Writes the held replies that are due; returns ms until the next one
 * (-1: none). */
static int
flush_due(void)
{
	double t = now();

	while (qlen > 0) {
		struct held *h = &q[qhead];
		struct conn *c;
		ssize_t w;
		if (h->due > t)
			return (int)((h->due - t) * 1000) + 1;
		c = h->fd >= 0 && h->fd < MAX_FDS ? by_fd[h->fd] : NULL;
		if (c != NULL && c->gen == h->gen) {
			w = write(c->fd, h->text, strlen(h->text));
			(void)w;
			if (h->close)
				hang_up(c);
		}
		qhead = (qhead + 1) % QUEUE_LEN;
		qlen--;
	}
	return -1;
}

/* One command line (without CRLF); 0, or 1 after QUIT. */
static int
command(struct conn *c, const char *l)
{
	if (strncasecmp(l, "EHLO", 4) == 0)
		say(c, "250-sink\r\n250-PIPELINING\r\n250-8BITMIME\r\n"
		    "250 SMTPUTF8\r\n");
	else if (strncasecmp(l, "DATA", 4) == 0) {
		say(c, "354 go ahead\r\n");
		c->data = 1;
		c->match = 2;           /* the DATA line's CRLF starts it */
	} else if (strncasecmp(l, "QUIT", 4) == 0) {
		reply(c, "221 bye\r\n", 1);
		return 1;
	} else
		say(c, "250 ok\r\n");
	return 0;
}

/* Feeds received bytes; 0, 1 when QUIT took the connection (closed
 * now or after its held reply). */
static int
feed(struct conn *c, const char *p, size_t n)
{
	static const char end[] = "\r\n.\r\n";
	size_t i;

	for (i = 0; i < n; i++) {
		if (c->data) {
			if (p[i] == end[c->match])
				c->match++;
			else
				c->match = p[i] == '\r' ? 1 : 0;
			if (c->match == 5) {
				c->data = 0;
				c->match = 0;
				c->len = 0;
				tx++;
				last_t = now();
				say(c, "250 queued\r\n");
			}
			continue;
		}
		if (p[i] == '\n') {
			c->line[c->len && c->line[c->len - 1] == '\r' ?
			    c->len - 1 : c->len] = '\0';
			c->len = 0;
			if (command(c, c->line) == 1)
				return 1;
		} else if (c->len < sizeof c->line - 1)
			c->line[c->len++] = p[i];
	}
	return 0;
}

int
main(int argc, char **argv)
{
	struct sockaddr_in sa;
	struct epoll_event ev, evs[64];
	socklen_t sl = sizeof sa;
	sigset_t set;
	char buf[65536];
	int lfd, ep, sfd, one = 1, n, i;

	if (argc != 2 && argc != 3) {
		fprintf(stderr, "usage: sink PORT [DELAY_MS]\n");
		return 2;
	}
	delay_s = argc == 3 ? atof(argv[2]) / 1000 : 0;
	if ((q = calloc(QUEUE_LEN, sizeof *q)) == NULL)
		return 1;
	memset(&sa, 0, sizeof sa);
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sa.sin_port = htons((unsigned short)atoi(argv[1]));
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigprocmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (lfd == -1 || setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one,
	    sizeof one) == -1 || bind(lfd, (struct sockaddr *)&sa,
	    sizeof sa) == -1 || listen(lfd, 512) == -1 ||
	    getsockname(lfd, (struct sockaddr *)&sa, &sl) == -1 ||
	    (ep = epoll_create1(EPOLL_CLOEXEC)) == -1 ||
	    (sfd = signalfd(-1, &set, SFD_CLOEXEC)) == -1) {
		perror("sink");
		return 1;
	}
	ev.events = EPOLLIN;
	ev.data.ptr = NULL;
	epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
	ev.data.ptr = &sfd;
	epoll_ctl(ep, EPOLL_CTL_ADD, sfd, &ev);
	printf("port=%d\n", ntohs(sa.sin_port));
	fflush(stdout);
	for (;;) {
		if ((n = epoll_wait(ep, evs, 64, flush_due())) == -1) {
			if (errno == EINTR)
				continue;
			perror("sink: epoll_wait");
			return 1;
		}
		for (i = 0; i < n; i++) {
			struct conn *c = evs[i].data.ptr;
			if (c == NULL) {
				int fd;
				while ((fd = accept4(lfd, NULL, NULL,
				    SOCK_NONBLOCK | SOCK_CLOEXEC)) != -1) {
					if (fd >= MAX_FDS ||
					    (c = calloc(1, sizeof *c)) == NULL) {
						close(fd);
						continue;
					}
					c->fd = fd;
					c->gen = ++gens[fd];
					by_fd[fd] = c;
					if (++open_now > peak)
						peak = open_now;
					setsockopt(fd, IPPROTO_TCP, TCP_NODELAY,
					    &one, sizeof one);
					if (conns++ == 0)
						first_t = now();
					ev.events = EPOLLIN;
					ev.data.ptr = c;
					epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
					say(c, "220 sink ESMTP\r\n");
				}
			} else if ((void *)c == (void *)&sfd) {
				struct signalfd_siginfo si;
				if (read(sfd, &si, sizeof si) != sizeof si)
					continue;
				stats();
				if (si.ssi_signo != SIGUSR1)
					return 0;
			} else {
				ssize_t r = read(c->fd, buf, sizeof buf);
				if (r == -1 && errno == EAGAIN)
					continue;
				if (r <= 0)
					hang_up(c);
				else
					feed(c, buf, (size_t)r);
			}
		}
	}
}
