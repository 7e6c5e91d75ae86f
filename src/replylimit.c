/*
 * replylimit — the receipt limit table (see replylimit.h).  File layout:
 *
 *   0    32 bytes  magic "formpost-autoreply 1\n", NUL-padded
 *   32   32 bytes  salt (random, made with the file)
 *   64   4 bytes   slot count (host order: the file never leaves the host)
 *   128  slots     LIM_REPLYLIMIT_SLOTS x struct slot
 *
 * A key lives in one of LIM_REPLYLIMIT_PROBE slots from its hash's index,
 * so a take reads and writes at most two such runs.
 */
#include "replylimit.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crypto.h"
#include "limits.h"
#include "util.h"

#define MAGIC      "formpost-autoreply 1\n"
#define HEAD_BYTES 128
#define KEY_BYTES  16

struct slot {
	unsigned char key[KEY_BYTES];  /* all zero: empty */
	int64_t until;                 /* the window ends (epoch seconds) */
	uint32_t count;
	uint32_t pad;
};

_Static_assert(sizeof(struct slot) == 32, "slot layout is the file's");

#define FILE_BYTES ((off_t)HEAD_BYTES + \
    (off_t)LIM_REPLYLIMIT_SLOTS * (off_t)sizeof(struct slot))

struct replylimit {
	char path[4096];
};

/* Writes a fresh header and empty slots: fd is locked.  0 or -1. */
static int
init_file(int fd, unsigned char salt[32])
{
	unsigned char head[HEAD_BYTES];
	uint32_t n = LIM_REPLYLIMIT_SLOTS;

	memset(head, 0, sizeof head);
	memcpy(head, MAGIC, sizeof MAGIC - 1);
	if (crypto_random(head + 32, 32) == -1)
		return -1;
	memcpy(head + 64, &n, sizeof n);
	if (ftruncate(fd, 0) == -1 || ftruncate(fd, FILE_BYTES) == -1 ||
	    pwrite(fd, head, sizeof head, 0) != (ssize_t)sizeof head)
		return -1;
	memcpy(salt, head + 32, 32);
	return 0;
}

/* Opens and locks the file and reads its salt, re-initialising a file
 * that is not a table of the expected size.  The fd, or -1 with err. */
static int
lock_table(const struct replylimit *rl, unsigned char salt[32], char *err,
    size_t errlen)
{
	unsigned char head[HEAD_BYTES];
	uint32_t n;
	struct stat st;
	int fd;

	if ((fd = open(rl->path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW,
	    0600)) == -1) {
		snprintf(err, errlen, "%s: %s", rl->path, strerror(errno));
		return -1;
	}
	if (flock(fd, LOCK_EX) == -1 || fstat(fd, &st) == -1)
		goto fail;
	if (st.st_size == FILE_BYTES &&
	    pread(fd, head, sizeof head, 0) == (ssize_t)sizeof head &&
	    memcmp(head, MAGIC, sizeof MAGIC - 1) == 0 &&
	    (memcpy(&n, head + 64, sizeof n), n == LIM_REPLYLIMIT_SLOTS)) {
		memcpy(salt, head + 32, 32);
		return fd;
	}
	if (init_file(fd, salt) == 0)
		return fd;
fail:
	snprintf(err, errlen, "%s: %s", rl->path, strerror(errno ? errno :
	    EIO));
	close(fd);
	return -1;
}

struct replylimit *
replylimit_open(const char *spool_dir, char *err, size_t errlen)
{
	struct replylimit *rl = calloc(1, sizeof *rl);
	unsigned char salt[32];
	int fd;

	if (rl == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	if ((size_t)snprintf(rl->path, sizeof rl->path, "%s/%s", spool_dir,
	    REPLYLIMIT_FILE) >= sizeof rl->path) {
		snprintf(err, errlen, "spool path too long");
		free(rl);
		return NULL;
	}
	if ((fd = lock_table(rl, salt, err, errlen)) == -1) {
		free(rl);
		return NULL;
	}
	close(fd);
	return rl;
}

void
replylimit_close(struct replylimit *rl)
{
	free(rl);
}

void
replylimit_network(const char *ip, char *out, size_t outlen)
{
	unsigned char a[16];
	char s[INET6_ADDRSTRLEN];

	if (ip && inet_pton(AF_INET, ip, a) == 1) {
		snprintf(out, outlen, "%u.%u.%u.0/24", a[0], a[1], a[2]);
		return;
	}
	if (ip && inet_pton(AF_INET6, ip, a) == 1) {
		static const unsigned char mapped[12] = { [10] = 0xff,
		    [11] = 0xff };
		if (memcmp(a, mapped, sizeof mapped) == 0) {
			snprintf(out, outlen, "%u.%u.%u.0/24", a[12], a[13],
			    a[14]);
			return;
		}
		memset(a + 6, 0, 10);
		inet_ntop(AF_INET6, a, s, sizeof s);
		snprintf(out, outlen, "%s/48", s);
		return;
	}
	snprintf(out, outlen, "unknown");
}

/* The key of (kind, value): salted SHA-256, never all zero. */
static int
make_key(const unsigned char salt[32], const char *kind, const char *value,
    unsigned char key[KEY_BYTES])
{
	unsigned char d[SHA256_LEN];
	struct buf b;
	int rc;

	buf_init(&b);
	buf_add(&b, salt, 32);
	buf_printf(&b, "%s%c%s", kind, 0, value);
	rc = b.oom ? -1 : crypto_sha256(b.data, b.len, d);
	buf_free(&b);
	if (rc == -1)
		return -1;
	memcpy(key, d, KEY_BYTES);
	key[0] |= 1;
	return 0;
}

/* The address as counted: lower case, "+tag" dropped from the local part
 * (one mailbox, however tagged). */
static void
addr_key(const char *addr, char *out, size_t outlen)
{
	const char *at = strrchr(addr, '@'), *plus;
	size_t n;

	plus = at ? memchr(addr, '+', (size_t)(at - addr)) : NULL;
	if (plus && plus > addr)
		snprintf(out, outlen, "%.*s%s", (int)(plus - addr), addr, at);
	else
		snprintf(out, outlen, "%s", addr);
	n = strlen(out);
	ascii_lower(out, n);
}

/* One key's run of slots: where it is (or goes) and its slot. */
struct spot {
	off_t off;
	struct slot s;
	int matched;                   /* the slot holds this key */
	int found;                     /* ... in a window not yet over */
};

/* Finds key's slot in its run, else the empty, expired or soonest-ending
 * slot there other than the one at `avoid` (the other key's).  0, or -1
 * (read error). */
static int
locate(int fd, const unsigned char key[KEY_BYTES], long long now,
    off_t avoid, struct spot *sp)
{
	struct slot run[LIM_REPLYLIMIT_PROBE];
	uint32_t start;
	size_t i, best = SIZE_MAX;

	memcpy(&start, key + 4, sizeof start);
	start %= LIM_REPLYLIMIT_SLOTS - LIM_REPLYLIMIT_PROBE;
	if (pread(fd, run, sizeof run, HEAD_BYTES + (off_t)start *
	    (off_t)sizeof(struct slot)) != (ssize_t)sizeof run)
		return -1;
	for (i = 0; i < LIM_REPLYLIMIT_PROBE; i++) {
		off_t off = HEAD_BYTES + (off_t)(start + i) *
		    (off_t)sizeof(struct slot);
		if (memcmp(run[i].key, key, KEY_BYTES) == 0) {
			sp->off = off;
			sp->s = run[i];
			sp->matched = 1;
			sp->found = run[i].until > now;
			return 0;
		}
		if (off == avoid)
			continue;
		if (best == SIZE_MAX || run[i].until < run[best].until)
			best = i;
	}
	sp->off = HEAD_BYTES + (off_t)(start + best) *
	    (off_t)sizeof(struct slot);
	memset(&sp->s, 0, sizeof sp->s);
	memcpy(sp->s.key, key, KEY_BYTES);
	sp->matched = sp->found = 0;
	return 0;
}

static int
bump(int fd, struct spot *sp, unsigned window, long long now)
{
	if (!sp->found) {
		sp->s.count = 0;
		sp->s.until = now + window;
	}
	sp->s.count++;
	return pwrite(fd, &sp->s, sizeof sp->s, sp->off) ==
	    (ssize_t)sizeof sp->s ? 0 : -1;
}

enum replylimit_rc
replylimit_take(struct replylimit *rl, const char *addr, const char *ip,
    unsigned count, unsigned window, long long now, char *err, size_t errlen)
{
	unsigned char salt[32], ka[KEY_BYTES], kn[KEY_BYTES];
	char a[LIM_ADDR_PATH + 1], net[INET6_ADDRSTRLEN + 8];
	struct spot sa, sn;
	enum replylimit_rc rc = REPLYLIMIT_ERROR;
	int fd;

	addr_key(addr, a, sizeof a);
	replylimit_network(ip, net, sizeof net);
	if ((fd = lock_table(rl, salt, err, errlen)) == -1)
		return REPLYLIMIT_ERROR;
	if (make_key(salt, "addr", a, ka) == -1 ||
	    make_key(salt, "net", net, kn) == -1) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	/* Two keys, two slots: a new key never takes the other's. */
	if (locate(fd, kn, now, -1, &sn) == -1 ||
	    locate(fd, ka, now, sn.off, &sa) == -1 ||
	    (!sn.matched && sn.off == sa.off &&
	    locate(fd, kn, now, sa.off, &sn) == -1))
		goto io;
	if ((sa.found && sa.s.count >= count) ||
	    (sn.found && sn.s.count >= count)) {
		rc = REPLYLIMIT_OVER;
		goto out;
	}
	if (bump(fd, &sa, window, now) == -1 ||
	    bump(fd, &sn, window, now) == -1)
		goto io;
	rc = REPLYLIMIT_OK;
	goto out;
io:
	snprintf(err, errlen, "%s: %s", rl->path, strerror(errno ? errno :
	    EIO));
out:
	close(fd);
	return rc;
}
