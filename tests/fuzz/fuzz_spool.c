/*
 * fuzz_spool — spool_parse on arbitrary bytes, twice: as given (almost
 * always refused at the marker or checksum), and with a correct end
 * marker appended, so the header parser itself is exercised.
 * Invariants: never a crash or a leak; whatever parses formats back to
 * exactly the same bytes (the format is canonical, so a file cannot mean
 * two things); a parsed message is within the format's limits, its
 * history too (at most LIM_SPOOL_HISTORY_READ attempts, no more than the
 * total, none in a version 1 file); appending an attempt keeps it
 * readable.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "id.h"
#include "spool.h"
#include "util.h"

#define CHECK(x) do { if (!(x)) __builtin_trap(); } while (0)

static void
one(const char *p, size_t n)
{
	struct spool_msg m, back;
	struct spool_attempt *a;
	struct buf b;
	char err[128];
	size_t i;

	if (spool_parse(p, n, &m, err, sizeof err) != SPOOL_PARSED)
		return;
	CHECK(spool_id_valid(m.id));     /* a receipt's "-R" name too */
	CHECK(m.nrcpt >= 1 && m.nrcpt <= LIM_SPOOL_RCPT);
	for (i = 0; i < m.nrcpt; i++)
		CHECK(strlen(m.rcpt[i].reply) < SPOOL_REPLY_MAX &&
		    m.rcpt[i].code >= 0 && m.rcpt[i].code <= 999);
	CHECK(m.nhist <= LIM_SPOOL_HISTORY_READ && m.nhist <= m.hist_total);
	CHECK((m.hist_total == 0) == (m.nhist == 0));
	CHECK(p[15] == (m.hist_total ? '2' : '1'));
	for (i = 0; i < m.nhist; i++)
		CHECK(m.hist[i].nto <= LIM_SPOOL_RCPT &&
		    strlen(m.hist[i].reply) < SPOOL_REPLY_MAX);
	buf_init(&b);
	CHECK(spool_format(&m, &b) == 0);
	CHECK(b.len == n && memcmp(b.data, p, n) == 0);
	buf_free(&b);
	/* One more attempt (what the sender does next): still a file. */
	a = spool_attempt_add(&m, 1, "p", SPOOL_EV_TEMP, 451, m.reply);
	if (a != NULL && spool_attempt_rcpt(a, m.rcpt[0].addr, SPOOL_EV_TEMP,
	    451, m.rcpt[0].reply) == 0) {
		CHECK(m.nhist <= LIM_SPOOL_HISTORY);
		buf_init(&b);
		CHECK(spool_format(&m, &b) == 0);
		CHECK(spool_parse(b.data, b.len, &back, err, sizeof err) ==
		    SPOOL_PARSED);
		CHECK(back.hist_total == m.hist_total && back.nhist == m.nhist);
		spool_msg_free(&back);
		buf_free(&b);
	}
	spool_msg_free(&m);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned char sum[SHA256_LEN];
	char hex[2 * SHA256_LEN + 1];
	struct buf b;

	one((const char *)data, size);
	buf_init(&b);
	buf_add(&b, data, size);
	if (crypto_sha256(data, size, sum) == 0) {
		crypto_hex(sum, sizeof sum, hex);
		buf_printf(&b, "end %s\n", hex);
		if (!b.oom)
			one(b.data, b.len);
	}
	buf_free(&b);
	return 0;
}
