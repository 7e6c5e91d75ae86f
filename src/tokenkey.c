/*
 * tokenkey — load or create SPOOL/token.key.  link(2) instead of rename:
 * rename would replace a key another process created meanwhile, and the
 * two would then reject each other's tokens.
 */
#include "tokenkey.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crypto.h"

/* Reads exactly TOKEN_KEY_LEN bytes from path: 0, 1 when it does not
 * exist, -1 with err. */
static int
read_key(const char *path, unsigned char key[TOKEN_KEY_LEN], char *err,
    size_t errlen)
{
	struct stat st;
	size_t got = 0;
	ssize_t r;
	int fd, rc = -1;

	if ((fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) == -1) {
		if (errno == ENOENT)
			return 1;
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) == -1) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		goto out;
	}
	if (!S_ISREG(st.st_mode) || st.st_size != TOKEN_KEY_LEN) {
		snprintf(err, errlen, "%s: not a %d-byte key file", path,
		    TOKEN_KEY_LEN);
		goto out;
	}
	if (st.st_mode & 077) {
		snprintf(err, errlen, "%s: readable by others (chmod 600)",
		    path);
		goto out;
	}
	while (got < TOKEN_KEY_LEN) {
		r = read(fd, key + got, TOKEN_KEY_LEN - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			snprintf(err, errlen, "%s: short read", path);
			goto out;
		}
		got += (size_t)r;
	}
	rc = 0;
out:
	close(fd);
	return rc;
}

/* Writes a fresh key to a private temporary and links it to path.
 * 0 (created, or someone else's appeared first), or -1 with err. */
static int
create_key(const char *dir, const char *path, char *err, size_t errlen)
{
	unsigned char k[TOKEN_KEY_LEN];
	char tmp[4096];
	size_t put = 0;
	ssize_t w;
	int fd = -1, dfd = -1, rc = -1, n;

	n = snprintf(tmp, sizeof tmp, "%s/token.key.%ld.tmp", dir,
	    (long)getpid());
	if (n < 0 || (size_t)n >= sizeof tmp) {
		snprintf(err, errlen, "spool path too long");
		return -1;
	}
	if (crypto_random(k, sizeof k) == -1) {
		snprintf(err, errlen, "no random bytes for the token key");
		return -1;
	}
	(void)unlink(tmp);     /* a leftover of a crash of this pid */
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
	    O_CLOEXEC, 0600)) == -1) {
		snprintf(err, errlen, "%s: %s", tmp, strerror(errno));
		goto out;
	}
	while (put < sizeof k) {
		w = write(fd, k + put, sizeof k - put);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			snprintf(err, errlen, "%s: %s", tmp, strerror(errno));
			goto out;
		}
		put += (size_t)w;
	}
	if (fsync(fd) == -1) {
		snprintf(err, errlen, "%s: fsync: %s", tmp, strerror(errno));
		goto out;
	}
	if (link(tmp, path) == -1 && errno != EEXIST) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		goto out;
	}
	/* The new name must survive a crash too. */
	if ((dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1 ||
	    fsync(dfd) == -1) {
		snprintf(err, errlen, "%s: fsync: %s", dir, strerror(errno));
		goto out;
	}
	rc = 0;
out:
	if (fd != -1) {
		close(fd);
		(void)unlink(tmp);
	}
	if (dfd != -1)
		close(dfd);
	crypto_cleanse(k, sizeof k);
	return rc;
}

int
tokenkey_load(const char *dir, unsigned char key[TOKEN_KEY_LEN], char *err,
    size_t errlen)
{
	char path[4096];
	int n, rc;

	n = snprintf(path, sizeof path, "%s/token.key", dir);
	if (n < 0 || (size_t)n >= sizeof path) {
		snprintf(err, errlen, "spool path too long");
		return -1;
	}
	if ((rc = read_key(path, key, err, errlen)) != 1)
		return rc;
	if (create_key(dir, path, err, errlen) == -1)
		return -1;
	rc = read_key(path, key, err, errlen);
	if (rc == 1) {
		snprintf(err, errlen, "%s: vanished after creation", path);
		rc = -1;
	}
	return rc;
}
