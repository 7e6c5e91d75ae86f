/*
 * spool_put — commits one message with the exact wire bytes on stdin to
 * a spool's queue/, as a post would, for the integration tests of what
 * the sender puts on the wire (bytes no form produces: lines that start
 * with ".", bare LF or CR, no final CRLF).
 *
 *     tool_spool_put SPOOL SITE SENDER RCPT... < bytes
 *
 * Prints the new message's id; exit 0, or 1 on a usage, read or spool
 * error.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "id.h"
#include "spool.h"
#include "util.h"

int
main(int argc, char **argv)
{
	struct spool *sp;
	struct spool_msg m;
	struct buf in;
	char id[ID_BUF], err[256], chunk[4096];
	size_t n;
	int rc = 1;

	if (argc < 5) {
		fprintf(stderr, "usage: tool_spool_put SPOOL SITE SENDER "
		    "RCPT... < bytes\n");
		return 1;
	}
	memset(&m, 0, sizeof m);
	err[0] = '\0';
	buf_init(&in);
	while ((n = fread(chunk, 1, sizeof chunk, stdin)) > 0)
		if (buf_add(&in, chunk, n) == -1)
			goto out;
	if (ferror(stdin) || id_new(id) == -1 ||
	    (sp = spool_open(argv[1], err, sizeof err)) == NULL)
		goto out;
	if (spool_msg_borrow(&m, id, argv[2], (long long)time(NULL), argv[3],
	    argv + 4, (size_t)(argc - 4), in.data ? in.data : "", in.len) == 0 &&
	    spool_commit(sp, &m, err, sizeof err) == 0) {
		printf("%s\n", id);
		rc = 0;
	} else
		fprintf(stderr, "spool_put: %s\n", err);
	spool_msg_free(&m);
	spool_close(sp);
out:
	buf_free(&in);
	return rc;
}
