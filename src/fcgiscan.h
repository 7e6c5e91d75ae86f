/*
 * fcgiscan — the intake's walk over the head of one FastCGI connection
 * (FastCGI 1.0 §3.3 records, §3.4 name-value pairs), on bytes peeked from
 * the kernel, before a request thread reads them (fcgi_pick below then
 * reads the params out of a head this walk accepted), so nothing reaches
 * a request thread that this walk did not accept:
 *   - the first record is BEGIN_REQUEST (8 bytes of content), and every
 *     later record carries its request id (no management records, no
 *     second request);
 *   - the PARAMS stream ends (its empty record) before any STDIN, holds
 *     whole pairs only, at most LIM_FCGI_PARAMS of them and at most
 *     LIM_FCGI_PARAMS_BYTES of names and values, in at most
 *     LIM_FCGI_HEAD_RECORDS records;
 *   - nothing but STDIN (and ABORT_REQUEST) follows it.
 * Pure: no I/O.  Feed it the same stream prefix, longer each time.
 */
#ifndef FORMPOST_FCGISCAN_H
#define FORMPOST_FCGISCAN_H

#include <stddef.h>
#include <stdint.h>

enum fcgi_scan_rc {
	FCGI_SCAN_MORE,      /* the params are not all in yet */
	FCGI_SCAN_HEAD,      /* params accepted; the body is not all in */
	FCGI_SCAN_READY,     /* params accepted and the empty STDIN is in */
	FCGI_SCAN_FRAMING,   /* records out of order, bad version or id */
	FCGI_SCAN_PARAMS,    /* a malformed or oversized param set */
};

struct fcgi_scan {
	size_t pos;          /* offset of the next record header */
	unsigned records;    /* records walked before the params ended */
	unsigned nparams;
	size_t bytes;        /* declared names + values so far */
	uint32_t skip;       /* bytes of the current pair still to pass */
	unsigned char len[8];/* the current pair's length bytes */
	unsigned nlen;
	uint16_t id;         /* the request id of BEGIN_REQUEST; 0: none yet */
	size_t head_len;     /* bytes up to the end of the PARAMS stream */
	size_t want;         /* after MORE/HEAD: bytes of stream the walk
	                        needs before it can go on */
	int params_done;
	int ready;
};

/* Walks b[0..n) (the stream from its first byte) from where the last call
 * stopped.  A verdict other than MORE/HEAD is final. */
enum fcgi_scan_rc fcgi_scan(struct fcgi_scan *s, const unsigned char *b,
    size_t n);

/* Bytes of work fcgi_pick needs for a head of len bytes and n names
 * (n at most FCGI_PICK_MAX). */
#define FCGI_PICK_MAX 32
#define FCGI_PICK_WORK(len, n) (2 * (size_t)(len) + 2 * (size_t)(n))

/* Reads a head the walk accepted (h[0..len), len = head_len after a
 * HEAD or READY verdict): the values of the params named in
 * names[0..nnames) (the first of a repeated name counts; NULL: not
 * sent), NUL-terminated in work (FCGI_PICK_WORK bytes), pointed to by
 * vals.  Returns the role of BEGIN_REQUEST (§5.1), -1 for an
 * ABORT_REQUEST in the head (the request ends unanswered), -2 for a head
 * that does not parse (never one the walk accepted: defence in depth) or
 * more than FCGI_PICK_MAX names.
 * Pure: no I/O. */
int fcgi_pick(const unsigned char *h, size_t len, const char *const *names,
    size_t nnames, char *work, const char **vals);

#endif
