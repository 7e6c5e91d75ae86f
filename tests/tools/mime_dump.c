/*
 * mime_dump — writes one message with mime_write for the integration tests.
 * stdin holds seven NUL-separated fields:
 *   subject, from name, reply-to name, reply-to addr, to name, to addr, body
 * From is form@example.jp with the given name; an empty reply-to addr
 * means no Reply-To; an empty to addr means "to@example.jp".
 * The message goes to stdout; exit 0, or 2 when mime_write refuses (the
 * rest of the contract: invalid input), 1 on a usage or I/O error.
 * Optional argv[1]: the UTC offset in minutes for Date (default +540).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mime.h"
#include "util.h"

#define NFIELDS 7

int
main(int argc, char **argv)
{
	struct buf in, out;
	struct mime_addr reply, to;
	struct mime_msg m;
	const char *f[NFIELDS];
	size_t fl[NFIELDS], i, start, k;
	char chunk[4096];
	size_t n;
	int rc = 1;

	buf_init(&in);
	buf_init(&out);
	while ((n = fread(chunk, 1, sizeof(chunk), stdin)) > 0)
		if (buf_add(&in, chunk, n) == -1)
			goto out;
	if (ferror(stdin) || in.data == NULL)
		goto out;
	for (i = start = k = 0; i <= in.len && k < NFIELDS; i++)
		if (i == in.len || (in.data[i] == '\0' && k + 1 < NFIELDS)) {
			f[k] = in.data + start;
			fl[k++] = i - start;
			start = i + 1;
		}
	if (k != NFIELDS) {
		fprintf(stderr, "mime_dump: need %d NUL-separated fields\n",
		    NFIELDS);
		goto out;
	}
	memset(&m, 0, sizeof(m));
	m.from.addr = "form@example.jp";
	m.from.name = f[1];
	m.from.name_len = fl[1];
	reply.name = f[2];
	reply.name_len = fl[2];
	reply.addr = fp_strndup(f[3], fl[3]);
	to.name = f[4];
	to.name_len = fl[4];
	to.addr = fl[5] ? fp_strndup(f[5], fl[5]) : strdup("to@example.jp");
	if (reply.addr == NULL || to.addr == NULL)
		goto out;
	if (fl[3])
		m.reply_to = &reply;
	m.to = &to;
	m.nto = 1;
	m.subject = f[0];
	m.subject_len = fl[0];
	m.date = 1790000000;
	m.utc_offset_min = argc > 1 ? atoi(argv[1]) : 540;
	m.message_id = "20260911.abc123@example.jp";
	m.body = f[6];
	m.body_len = fl[6];
	if (mime_write(&out, &m) == -1) {
		rc = out.oom ? 1 : 2;
		goto out;
	}
	if (fwrite(out.data, 1, out.len, stdout) != out.len ||
	    fflush(stdout) != 0)
		goto out;
	rc = 0;
out:
	free((char *)reply.addr);
	free((char *)to.addr);
	buf_free(&out);
	buf_free(&in);
	return rc;
}
