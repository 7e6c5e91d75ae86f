/*
 * file — reading a whole small file (the config, a password file, a
 * template) into memory, bounded by a cap the caller takes from limits.h.
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

#endif
