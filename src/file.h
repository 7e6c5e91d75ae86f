/*
 * file — reading a whole small file (the config, a password file, a
 * template) into memory, bounded by a cap the caller takes from limits.h;
 * whole writes and reads of an upload's file.
 */
#ifndef FORMPOST_FILE_H
#define FORMPOST_FILE_H

#include <stddef.h>

#include "util.h"

/* Appends the contents of path to b.  Returns 0, or an errno value
 * (EFBIG: more than cap bytes; ENOMEM) which the caller passes to
 * strerror: returned rather than left in errno, so nothing in between
 * can change it.  On failure b holds part of the file; the caller frees
 * it either way. */
int file_read(const char *path, size_t cap, struct buf *b);

/* Writes all of p[0..n) to fd (retrying short writes and EINTR): 0, or
 * -1 with errno. */
int file_write_all(int fd, const void *p, size_t n);

/* Reads up to n bytes at off from fd (retrying short reads and EINTR):
 * the count (short only at the end), or -1. */
long file_pread_all(int fd, void *buf, size_t n, unsigned long long off);

/* Reads fd's bytes [off, off + len) through one LIM_STREAM_CHUNK buffer
 * and hands each piece to fn (0, or -1 with errno), or only reads them
 * when fn is NULL.  0, or -1 with errno: EIO when the file is shorter
 * than len, ENOMEM, a read's error or fn's. */
int file_each_chunk(int fd, unsigned long long off, unsigned long long len,
    int (*fn)(void *arg, const void *p, size_t n), void *arg);

#endif
