/*
 * file — whole-file reads with a cap.  A short read is retried until
 * end of file; EINTR is retried, any other error ends the read.
 */
#include "file.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

int
file_read(const char *path, size_t cap, struct buf *b)
{
	char chunk[8192];
	ssize_t r;
	int fd, rc = 0;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return errno;
	while (rc == 0 && (r = read(fd, chunk, sizeof chunk)) != 0) {
		if (r == -1)
			rc = errno == EINTR ? 0 : errno;
		else if (b->len + (size_t)r > cap)
			rc = EFBIG;
		else if (buf_add(b, chunk, (size_t)r) == -1)
			rc = ENOMEM;
	}
	close(fd);
	return rc;
}
