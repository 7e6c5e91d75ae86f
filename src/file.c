/*
 * file — whole-file reads with a cap.  A short read is retried until
 * end of file; EINTR is retried, any other error ends the read.
 */
#include "file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include "limits.h"

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

int
file_write_all(int fd, const void *p, size_t n)
{
	const char *c = p;
	ssize_t w;

	while (n > 0) {
		if ((w = write(fd, c, n)) < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		c += w;
		n -= (size_t)w;
	}
	return 0;
}

long
file_pread_all(int fd, void *buf, size_t n, unsigned long long off)
{
	size_t got = 0;
	ssize_t r;

	while (got < n) {
		r = pread(fd, (char *)buf + got, n - got, (off_t)(off + got));
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -1;
		if (r == 0)
			break;
		got += (size_t)r;
	}
	return (long)got;
}

int
file_each_chunk(int fd, unsigned long long off, unsigned long long len,
    int (*fn)(void *arg, const void *p, size_t n), void *arg)
{
	char *b = malloc(LIM_STREAM_CHUNK);
	unsigned long long done = 0;
	size_t n;
	long r;
	int rc = 0;

	if (b == NULL) {
		errno = ENOMEM;
		return -1;
	}
	while (rc == 0 && done < len) {
		n = len - done < LIM_STREAM_CHUNK ? (size_t)(len - done) :
		    LIM_STREAM_CHUNK;
		if ((r = file_pread_all(fd, b, n, off + done)) != (long)n) {
			if (r >= 0)
				errno = EIO;     /* shorter than it was */
			rc = -1;
		} else if (fn != NULL && fn(arg, b, n) == -1)
			rc = -1;
		done += n;
	}
	free(b);
	return rc;
}
