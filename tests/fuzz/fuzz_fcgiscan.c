/*
 * fuzz_fcgiscan — libFuzzer target for the intake's walk over a FastCGI
 * head (fcgiscan.h).  The input is the stream.  Besides memory safety:
 * fed at once and fed byte by byte the verdict is the same; an accepted
 * head has at most LIM_FCGI_PARAMS params, LIM_FCGI_PARAMS_BYTES of
 * names and values and LIM_FCGI_HEAD_RECORDS records, and ends after its
 * BEGIN_REQUEST; and fcgi_pick reads every accepted head (a role, or
 * an ABORT_REQUEST), its values NUL-terminated within its work area.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fcgiscan.h"
#include "limits.h"

#define CHECK(x) do { if (!(x)) __builtin_trap(); } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const NAMES[] = { "REQUEST_METHOD", "A", "" };
#define NNAMES (sizeof NAMES / sizeof NAMES[0])

static void
pick(const uint8_t *h, size_t len)
{
	size_t cap = FCGI_PICK_WORK(len, NNAMES), k;
	char *work = malloc(cap);
	const char *vals[NNAMES];
	int role;

	if (work == NULL)
		return;
	role = fcgi_pick(h, len, NAMES, NNAMES, work, vals);
	CHECK(role >= -1 && role <= 0xffff);
	for (k = 0; role >= 0 && k < NNAMES; k++)
		if (vals[k] != NULL)
			CHECK(vals[k] >= work && vals[k] + strlen(vals[k]) <
			    work + len + 2 * NNAMES);
	free(work);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fcgi_scan a, b;
	enum fcgi_scan_rc ra, rb = FCGI_SCAN_MORE;
	size_t i;

	if (size > 4096)
		return 0;
	memset(&a, 0, sizeof a);
	memset(&b, 0, sizeof b);
	ra = fcgi_scan(&a, data, size);
	for (i = 0; i <= size; i++) {
		rb = fcgi_scan(&b, data, i);
		if (rb == FCGI_SCAN_FRAMING || rb == FCGI_SCAN_PARAMS)
			break;
	}
	CHECK(ra == rb);
	if (ra == FCGI_SCAN_HEAD || ra == FCGI_SCAN_READY) {
		CHECK(a.params_done && a.id != 0);
		CHECK(a.nparams <= LIM_FCGI_PARAMS);
		CHECK(a.bytes <= LIM_FCGI_PARAMS_BYTES);
		CHECK(a.records <= LIM_FCGI_HEAD_RECORDS);
		CHECK(a.head_len >= 24 && a.skip == 0 && a.nlen == 0);
		CHECK(a.head_len == b.head_len);
		pick(data, a.head_len);
	}
	return 0;
}
