/*
 * hold — held uploads of the review step and their references (see
 * hold.h).
 */
#include "hold.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crypto.h"
#include "file.h"
#include "sniff.h"
#include "utf8.h"
#include "util.h"

#define VERSION   1
#define O_CTYPE   1
#define O_ISSUED  2
#define O_NAME    10
#define O_SIZE    26
#define O_DIGEST  34
#define O_MAC     66
#define MAC_LEN   (HOLD_RAW_LEN - O_MAC)      /* 24 */
#define PATH_MAX_ 4096

int
hold_name_valid(const char *name)
{
	size_t i;

	for (i = 0; i < HOLD_NAME_LEN; i++)
		if (!((name[i] >= '0' && name[i] <= '9') ||
		    (name[i] >= 'a' && name[i] <= 'f')))
			return 0;
	return name[HOLD_NAME_LEN] == '\0';
}

/* The site's tag: the first HOLD_TAG_LEN / 2 bytes of SHA-256("formpost
 * hold site" NUL site), the same in every process and across reloads, so
 * hold_admit can count a site's files by their names alone. */
static int
site_tag(const char *site, unsigned char tag[HOLD_TAG_LEN / 2])
{
	static const char dom[] = "formpost hold site";
	unsigned char in[sizeof dom + LIM_NAME_BYTES], md[SHA256_LEN];
	size_t n = strlen(site);

	if (n > LIM_NAME_BYTES)
		return -1;
	memcpy(in, dom, sizeof dom);
	memcpy(in + sizeof dom, site, n);
	if (crypto_sha256(in, sizeof dom + n, md) == -1)
		return -1;
	memcpy(tag, md, HOLD_TAG_LEN / 2);
	return 0;
}

int
hold_new_name(const char *site, char name[HOLD_NAME_LEN + 1])
{
	unsigned char r[HOLD_NAME_LEN / 2];

	if (site_tag(site, r) == -1 ||
	    crypto_random(r + HOLD_TAG_LEN / 2, sizeof r - HOLD_TAG_LEN / 2)
	    == -1)
		return -1;
	crypto_hex(r, sizeof r, name);
	return 0;
}

/* The type byte of a content type sniff_content_type gives; -1 for any
 * other. */
static int
ctype_code(const char *ctype)
{
	int k, u;

	for (k = 0; ctype && k < SK_COUNT; k++)
		for (u = 0; u < 2; u++)
			if (strcmp(sniff_content_type((enum sniff_kind)k, u),
			    ctype) == 0)
				return k * 2 + u;
	return -1;
}

static void
put_be(unsigned char *p, uint64_t v, int n)
{
	int i;

	for (i = 0; i < n; i++)
		p[i] = (unsigned char)(v >> (8 * (n - 1 - i)));
}

static uint64_t
get_be(const unsigned char *p, int n)
{
	uint64_t v = 0;
	int i;

	for (i = 0; i < n; i++)
		v = v << 8 | p[i];
	return v;
}

/* Appends s[0..n) with its 4-byte length. */
static void
add_len(struct buf *b, const char *s, size_t n)
{
	unsigned char be[4];

	put_be(be, n, 4);
	buf_add(b, be, 4);
	buf_add(b, s, n);
}

/* The MAC of raw's head, site, field and label into mac; 0 or -1. */
static int
ref_mac(const unsigned char *key, const char *site, const char *field,
    const unsigned char *raw, const char *label, size_t llen,
    unsigned char mac[MAC_LEN])
{
	unsigned char full[SHA256_LEN];
	struct buf b;
	int rc = -1;

	buf_init(&b);
	buf_add(&b, "hold", 5);              /* with its NUL */
	buf_add(&b, raw, O_MAC);
	add_len(&b, site, strlen(site));
	add_len(&b, field, strlen(field));
	add_len(&b, label, llen);
	if (!b.oom && crypto_hmac_sha256(key, HOLD_KEY_LEN, b.data, b.len,
	    full) == 0) {
		memcpy(mac, full, MAC_LEN);
		rc = 0;
	}
	buf_free(&b);
	return rc;
}

/* 1 when label[0..n) is what sniff_clean_name makes of itself. */
static int
label_ok(const char *label, size_t n)
{
	char clean[HOLD_LABEL_MAX + 1];

	if (n == 0 || n > HOLD_LABEL_MAX || memchr(label, '\0', n) ||
	    !utf8_valid(label, n))
		return 0;
	return sniff_clean_name(label, n, clean, sizeof clean) == n &&
	    memcmp(clean, label, n) == 0;
}

int
hold_ref_make(const unsigned char key[HOLD_KEY_LEN], const char *site,
    const char *field, const struct hold_file *h, char *out, size_t outlen)
{
	unsigned char raw[HOLD_RAW_LEN];
	size_t llen = strlen(h->label), i;
	int code = ctype_code(h->ctype);

	if (code < 0 || !hold_name_valid(h->name) || !label_ok(h->label, llen)
	    || outlen < HOLD_B64_LEN + 2 + llen)
		return -1;
	raw[0] = VERSION;
	raw[O_CTYPE] = (unsigned char)code;
	put_be(raw + O_ISSUED, h->issued_ms, 8);
	for (i = 0; i < HOLD_NAME_LEN / 2; i++) {
		unsigned hi = (unsigned)(h->name[2 * i] <= '9' ?
		    h->name[2 * i] - '0' : h->name[2 * i] - 'a' + 10);
		unsigned lo = (unsigned)(h->name[2 * i + 1] <= '9' ?
		    h->name[2 * i + 1] - '0' : h->name[2 * i + 1] - 'a' + 10);
		raw[O_NAME + i] = (unsigned char)(hi << 4 | lo);
	}
	put_be(raw + O_SIZE, h->size, 8);
	memcpy(raw + O_DIGEST, h->digest, 32);
	if (ref_mac(key, site, field, raw, h->label, llen, raw + O_MAC) == -1)
		return -1;
	crypto_b64url(raw, HOLD_RAW_LEN, out);
	out[HOLD_B64_LEN] = '.';
	memcpy(out + HOLD_B64_LEN + 1, h->label, llen + 1);
	return 0;
}

enum hold_rc
hold_ref_parse(const unsigned char key[HOLD_KEY_LEN], const char *site,
    const char *field, const char *ref, size_t len, uint64_t now_ms,
    unsigned max_age_s, struct hold_file *out)
{
	unsigned char raw[HOLD_RAW_LEN], mac[MAC_LEN];
	const char *label;
	size_t llen;

	if (len <= HOLD_B64_LEN + 1 || len > HOLD_REF_MAX)
		return HOLD_INVALID;
	label = ref + HOLD_B64_LEN + 1;
	llen = len - HOLD_B64_LEN - 1;
	if (ref[HOLD_B64_LEN] != '.' ||
	    crypto_b64url_decode(ref, HOLD_B64_LEN, raw) == -1 ||
	    raw[0] != VERSION || raw[O_CTYPE] >= 2 * SK_COUNT ||
	    !label_ok(label, llen))
		return HOLD_INVALID;
	if (ref_mac(key, site, field, raw, label, llen, mac) == -1)
		return HOLD_ERROR;
	if (!crypto_equal(mac, raw + O_MAC, MAC_LEN))
		return HOLD_INVALID;
	out->issued_ms = get_be(raw + O_ISSUED, 8);
	if (out->issued_ms > now_ms ||
	    now_ms - out->issued_ms > (uint64_t)max_age_s * 1000)
		return HOLD_EXPIRED;
	out->ctype = sniff_content_type((enum sniff_kind)(raw[O_CTYPE] / 2),
	    raw[O_CTYPE] % 2);
	crypto_hex(raw + O_NAME, HOLD_NAME_LEN / 2, out->name);
	out->size = get_be(raw + O_SIZE, 8);
	memcpy(out->digest, raw + O_DIGEST, 32);
	memcpy(out->label, label, llen);
	out->label[llen] = '\0';
	return HOLD_OK;
}

const char *
hold_reason(enum hold_rc rc)
{
	switch (rc) {
	case HOLD_OK:      return "";
	case HOLD_EXPIRED: return "hold_expired";
	case HOLD_ERROR:   return "hold_error";
	default:           return "hold_invalid";
	}
}

/* --- SPOOL/hold/ */

/* SPOOL/hold/, opened as a directory that is no symlink; -1 with errno. */
static int
hold_dir(const char *spool)
{
	char path[PATH_MAX_];

	if ((size_t)snprintf(path, sizeof path, "%s/hold", spool) >=
	    sizeof path) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
}

/* hold_sweep over the directory dfd (which stays open); with remove 0
 * it only counts (expired files too).  With tag (HOLD_TAG_LEN
 * characters, or NULL), the files whose names start with it are
 * counted in use->site_* as well.  0 or -1. */
static int
sweep_fd(int dfd, long long now, unsigned max_age_s, int remove,
    const char *tag, struct hold_use *use)
{
	struct dirent *de;
	struct stat st;
	DIR *d;
	int fd;

	memset(use, 0, sizeof *use);
	if ((fd = dup(dfd)) == -1)
		return -1;
	if ((d = fdopendir(fd)) == NULL) {
		close(fd);
		return -1;
	}
	rewinddir(d);
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.' || fstatat(fd, de->d_name, &st,
		    AT_SYMLINK_NOFOLLOW) == -1)
			continue;
		if (remove && (long long)st.st_mtime < now -
		    (long long)max_age_s && unlinkat(fd, de->d_name, 0) == 0) {
			use->removed++;
			continue;
		}
		use->files++;
		use->bytes += (unsigned long long)st.st_size;
		if (tag != NULL && strncmp(de->d_name, tag, HOLD_TAG_LEN) == 0) {
			use->site_files++;
			use->site_bytes += (unsigned long long)st.st_size;
		}
	}
	closedir(d);
	return 0;
}

int
hold_sweep(const char *spool, long long now, unsigned max_age_s,
    struct hold_use *use, char *err, size_t errlen)
{
	int dfd, rc = -1;

	if ((dfd = hold_dir(spool)) != -1)
		rc = sweep_fd(dfd, now, max_age_s, 1, NULL, use);
	if (rc == -1)
		snprintf(err, errlen, "%s/hold: %s", spool, strerror(errno));
	if (dfd != -1)
		close(dfd);
	return rc;
}

int
hold_usage(const char *spool, struct hold_use *use)
{
	int dfd, rc = -1;

	if ((dfd = hold_dir(spool)) != -1) {
		rc = sweep_fd(dfd, 0, 0, 0, NULL, use);
		close(dfd);
	}
	return rc;
}

static int
write_to(void *arg, const void *p, size_t n)
{
	return file_write_all(*(int *)arg, p, n);
}

/* Copies size bytes of from into the new file dfd/name; 0 or -1. */
static int
copy_into(int dfd, const char *name, int from, unsigned long long size)
{
	int to, rc, e;

	if ((to = openat(dfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
	    O_CLOEXEC, 0600)) == -1)
		return -1;
	rc = file_each_chunk(from, 0, size, write_to, &to);
	e = errno;
	if (close(to) == -1 && rc == 0) {
		rc = -1;
		e = errno;
	}
	if (rc == -1) {
		unlinkat(dfd, name, 0);
		errno = e;
	}
	return rc;
}

/* fd's file as dfd/name: an O_TMPFILE file gets its name by a link
 * through /proc; an unlinked mkstemp file (or no /proc) is copied. */
static int
hold_put_at(int dfd, int fd, unsigned long long size, const char *name)
{
	char proc[64];

	snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd);
	if (linkat(AT_FDCWD, proc, dfd, name, AT_SYMLINK_FOLLOW) == 0)
		return 0;
	return copy_into(dfd, name, fd, size);
}

int
hold_put(const char *spool, int fd, unsigned long long size,
    const char *name)
{
	int dfd, rc;

	if (!hold_name_valid(name)) {
		errno = EINVAL;
		return -1;
	}
	if ((dfd = hold_dir(spool)) == -1)
		return -1;
	rc = hold_put_at(dfd, fd, size, name);
	close(dfd);
	return rc;
}

int
hold_admit(const char *spool, int fd, unsigned long long size,
    const char *name, long long now, const struct hold_caps *caps)
{
	struct hold_use u;
	int dfd, rc = -1, e = 0;

	if (!hold_name_valid(name)) {
		errno = EINVAL;
		return -1;
	}
	if ((dfd = hold_dir(spool)) == -1)
		return -1;
	/* One at a time, across threads and processes sharing the spool:
	 * the count and the new name are one step. */
	if (flock(dfd, LOCK_EX) == 0 &&
	    sweep_fd(dfd, now, caps->max_age_s, 1, name, &u) == 0) {
		if ((unsigned long long)u.files >= caps->max_files ||
		    u.bytes + size > caps->max_bytes ||
		    (caps->site_files &&
		    (unsigned long long)u.site_files >= caps->site_files) ||
		    (caps->site_bytes && u.site_bytes + size > caps->site_bytes))
			rc = -2;
		else
			rc = hold_put_at(dfd, fd, size, name);
	}
	e = errno;
	close(dfd);             /* and the lock with it */
	errno = e;
	return rc;
}

int
hold_open(const char *spool, const char *name)
{
	struct stat st;
	int dfd, fd, e;

	if (!hold_name_valid(name)) {
		errno = ENOENT;
		return -1;
	}
	if ((dfd = hold_dir(spool)) == -1)
		return -1;
	fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK |
	    O_CLOEXEC);
	e = errno;
	close(dfd);
	if (fd >= 0 && (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode))) {
		close(fd);
		fd = -1;
		e = ENOENT;
	}
	errno = e;
	return fd;
}

int
hold_drop(const char *spool, const char *name)
{
	int dfd, rc;

	if (!hold_name_valid(name))
		return -1;
	if ((dfd = hold_dir(spool)) == -1)
		return -1;
	rc = unlinkat(dfd, name, 0);
	close(dfd);
	return rc;
}
