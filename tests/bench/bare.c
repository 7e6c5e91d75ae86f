/*
 * bare — the FastCGI ceiling for the benchmark: a threaded libfcgi
 * responder that reads the body and answers a fixed page, doing nothing
 * else.  Same threading as formpost (N threads, each its own request, no
 * accept mutex), so the ratio formpost/bare is the cost of formpost's work.
 * A query string of digits asks for an answer body of that many bytes (at
 * most 64 KiB): the ceiling for an answer as large as one of formpost's
 * pages, since nginx and the client pay for every byte too.
 */
#include <fcgiapp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

static int listen_fd;
static char page[65536];

static void *
worker(void *arg)
{
	FCGX_Request r;
	char buf[8192];
	const char *q;
	long n;

	(void)arg;
	FCGX_InitRequest(&r, listen_fd, 0);
	while (FCGX_Accept_r(&r) >= 0) {
		while (FCGX_GetStr(buf, sizeof buf, r.in) > 0)
			;
		q = FCGX_GetParam("QUERY_STRING", r.envp);
		n = q ? strtol(q, NULL, 10) : 0;
		if (n <= 0 || n > (long)sizeof page)
			FCGX_PutS("Status: 200 OK\r\nContent-Type: text/html\r\n"
			    "Content-Length: 3\r\n\r\nok\n", r.out);
		else {
			FCGX_FPrintF(r.out, "Status: 200 OK\r\nContent-Type: "
			    "text/html\r\nContent-Length: %ld\r\n\r\n", n);
			FCGX_PutStr(page, (int)n, r.out);
		}
		FCGX_Finish_r(&r);
	}
	return NULL;
}

int
main(int argc, char **argv)
{
	struct sockaddr_un sa;
	pthread_t t[64];
	int i, n;

	if (argc != 3) {
		fprintf(stderr, "usage: bare SOCKET THREADS\n");
		return 2;
	}
	n = atoi(argv[2]);
	if (n < 1 || n > 64)
		return 2;
	memset(&sa, 0, sizeof sa);
	sa.sun_family = AF_UNIX;
	snprintf(sa.sun_path, sizeof sa.sun_path, "%s", argv[1]);
	unlink(argv[1]);
	listen_fd = socket(AF_UNIX, SOCK_STREAM, 0);
	if (listen_fd == -1 || bind(listen_fd, (struct sockaddr *)&sa,
	    sizeof sa) == -1 || chmod(argv[1], 0666) == -1 ||
	    listen(listen_fd, 128) == -1) {
		perror("bare: listen");
		return 1;
	}
	memset(page, 'x', sizeof page);
	FCGX_Init();
	for (i = 0; i < n; i++)
		pthread_create(&t[i], NULL, worker, NULL);
	for (i = 0; i < n; i++)
		pthread_join(t[i], NULL);
	return 0;
}
