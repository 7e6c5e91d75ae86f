/* The spool file format: round trip, and every way a file can be torn,
 * truncated or flipped is refused (a refused file goes to corrupt/). */
#include "unit.h"

#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include "sender.h"
#include "spool.h"

static const char WIRE[] = "From: a@example.com\r\nSubject: x\r\n\r\n"
    "body\r\n.\r\nend 0000\n\r\n";

static void
make(struct spool_msg *m)
{
	char *rcpt[] = { "info@example.com", "sales@example.com",
	    "bcc@example.org" };

	assert_int_equal(spool_msg_new(m, "ABCDEFGHIJKLMNOPQRS_", "example",
	    1700000000, "noreply@example.com", rcpt, 3, WIRE,
	    sizeof WIRE - 1), 0);
}

static void
formatted(const struct spool_msg *m, struct buf *b)
{
	buf_init(b);
	assert_int_equal(spool_format(m, b), 0);
}

static void
test_round_trip(void **state)
{
	struct spool_msg m, back;
	struct buf b, b2;
	char err[128];

	(void)state;
	make(&m);
	m.attempts = 3;
	m.next_try = 1700000123;
	spool_sanitise(m.reply, "451 4.3.0 try\r\nlater \x01");
	assert_string_equal(m.reply, "451 4.3.0 try");
	m.rcpt[1].state = SPOOL_SENT;
	m.rcpt[1].code = 250;
	m.rcpt[2].state = SPOOL_FAILED;
	m.rcpt[2].code = 550;
	spool_sanitise(m.rcpt[2].reply, "550 5.1.1 no such user");
	formatted(&m, &b);
	assert_int_equal(spool_parse(b.data, b.len, &back, err, sizeof err),
	    0);
	assert_string_equal(back.id, m.id);
	assert_string_equal(back.site, "example");
	assert_true(back.created == 1700000000);
	assert_true(back.next_try == 1700000123);
	assert_int_equal(back.attempts, 3);
	assert_string_equal(back.sender, "noreply@example.com");
	assert_string_equal(back.reply, "451 4.3.0 try");
	assert_int_equal(back.nrcpt, 3);
	assert_int_equal(back.rcpt[0].state, SPOOL_PENDING);
	assert_int_equal(back.rcpt[1].state, SPOOL_SENT);
	assert_int_equal(back.rcpt[2].state, SPOOL_FAILED);
	assert_int_equal(back.rcpt[2].code, 550);
	assert_string_equal(back.rcpt[2].reply, "550 5.1.1 no such user");
	assert_string_equal(back.rcpt[1].addr, "sales@example.com");
	assert_int_equal(spool_count(&back, SPOOL_PENDING), 1);
	assert_int_equal(back.len, sizeof WIRE - 1);
	assert_memory_equal(back.data, WIRE, back.len);
	/* Formatting what was parsed gives the same bytes. */
	formatted(&back, &b2);
	assert_int_equal(b2.len, b.len);
	assert_memory_equal(b2.data, b.data, b.len);
	/* The header is the documented text. */
	assert_memory_equal(b.data, "formpost-spool 1\nid ABCDEFGHIJKLMNOPQRS_"
	    "\nsite example\ncreated 1700000000\n", 70);
	buf_free(&b2);
	buf_free(&b);
	spool_msg_free(&back);
	spool_msg_free(&m);
}

/* Whatever attempt count the sender can write, the file reads back: a
 * message retried every second for weeks (max_retry 1s, max_age up to
 * 60d) passes a million attempts, and must not turn "corrupt". */
static void
test_attempts_read_back_however_many(void **state)
{
	static const unsigned counts[] = { 1000000, 1000001, 5184000,
	    UINT_MAX };
	struct spool_msg m, back;
	struct buf b;
	char err[128];
	size_t i;

	(void)state;
	make(&m);
	for (i = 0; i < sizeof counts / sizeof counts[0]; i++) {
		m.attempts = counts[i];
		formatted(&m, &b);
		assert_int_equal(spool_parse(b.data, b.len, &back, err,
		    sizeof err), 0);
		assert_int_equal(back.attempts, counts[i]);
		spool_msg_free(&back);
		buf_free(&b);
	}
	spool_msg_free(&m);
}

static void
test_every_truncation_refused(void **state)
{
	struct spool_msg m, back;
	struct buf b;
	char err[128];
	size_t n;

	(void)state;
	make(&m);
	formatted(&m, &b);
	for (n = 0; n < b.len; n++)
		assert_int_equal(spool_parse(b.data, n, &back, err,
		    sizeof err), -1);
	/* Trailing garbage is refused too. */
	buf_adds(&b, "x");
	assert_int_equal(spool_parse(b.data, b.len, &back, err, sizeof err),
	    -1);
	buf_free(&b);
	spool_msg_free(&m);
}

static void
test_every_bit_flip_refused(void **state)
{
	struct spool_msg m, back;
	struct buf b;
	char err[128];
	size_t i;
	int bit;

	(void)state;
	make(&m);
	formatted(&m, &b);
	for (i = 0; i < b.len; i++)
		for (bit = 0; bit < 8; bit++) {
			b.data[i] ^= (char)(1 << bit);
			assert_int_equal(spool_parse(b.data, b.len, &back,
			    err, sizeof err), -1);
			b.data[i] ^= (char)(1 << bit);
		}
	assert_int_equal(spool_parse(b.data, b.len, &back, err, sizeof err),
	    0);
	spool_msg_free(&back);
	buf_free(&b);
	spool_msg_free(&m);
}

/* A file whose checksum is right but whose fields are not: the parser
 * still refuses it (it is not enough to trust the writer). */
static void
test_bad_fields_with_good_checksum(void **state)
{
	static const char *const bad[] = {
		"formpost-spool 2\n",
		"id short\n",
		"site has space\n",
		"created -1\n",
		"attempts 01\n",
		"rcpt maybe 0 a@b ",
		"rcpt pending 1000 a@b ",
		"rcpt pending 0 a@b\n",
		"size 99999\n",
	};
	const char *good = "formpost-spool 1\nid ABCDEFGHIJKLMNOPQRS_\n"
	    "site example\ncreated 1\nsender a@b\nattempts 0\nnext-try 0\n"
	    "reply \nrcpt pending 0 x@y \nsize 2\n\nab";
	unsigned char sum[SHA256_LEN];
	char hex[2 * SHA256_LEN + 1], err[128];
	struct spool_msg back;
	size_t i;

	(void)state;
	for (i = 0; i <= ARRAY_LEN(bad); i++) {
		struct buf b;
		const char *line = i < ARRAY_LEN(bad) ? bad[i] : NULL;
		buf_init(&b);
		if (line == NULL)
			buf_adds(&b, good);
		else {
			/* Replace the line starting with the same key. */
			size_t k = strcspn(line, " ");
			const char *p = good;
			while (p && strncmp(p, line, k + 1) != 0)
				if ((p = strchr(p, '\n')) != NULL)
					p++;
			assert_non_null(p);
			buf_add(&b, good, (size_t)(p - good));
			buf_adds(&b, line);
			if (line[strlen(line) - 1] == '\n')
				buf_adds(&b, strchr(p, '\n') + 1);
			else
				buf_adds(&b, strchr(p, '\n'));
		}
		assert_int_equal(crypto_sha256(b.data, b.len, sum), 0);
		crypto_hex(sum, sizeof sum, hex);
		buf_printf(&b, "end %s\n", hex);
		if (line == NULL) {
			assert_int_equal(spool_parse(b.data, b.len, &back,
			    err, sizeof err), 0);
			assert_string_equal(back.rcpt[0].addr, "x@y");
			spool_msg_free(&back);
		} else
			assert_int_equal(spool_parse(b.data, b.len, &back,
			    err, sizeof err), -1);
		buf_free(&b);
	}
}

static void
test_format_refuses_what_it_cannot_hold(void **state)
{
	char *sp[] = { "a b@example.com" }, *ok[] = { "a@example.com" };
	struct spool_msg m;
	struct buf b;

	(void)state;
	assert_int_equal(spool_msg_new(&m, "ABCDEFGHIJKLMNOPQRS_", "ex",
	    1, "s@example.com", sp, 1, "x", 1), -1);
	assert_int_equal(spool_msg_new(&m, "bad id", "ex", 1, "s@example.com",
	    ok, 1, "x", 1), -1);
	assert_int_equal(spool_msg_new(&m, "ABCDEFGHIJKLMNOPQRS_", "e x", 1,
	    "s@example.com", ok, 1, "x", 1), -1);
	assert_int_equal(spool_msg_new(&m, "ABCDEFGHIJKLMNOPQRS_", "ex", 1,
	    "s@example.com", ok, 0, "x", 1), -1);
	assert_int_equal(spool_msg_new(&m, "ABCDEFGHIJKLMNOPQRS_", "ex", 1,
	    "s@example.com", ok, 1, "x", 1), 0);
	strcpy(m.reply, "line\nbreak");
	buf_init(&b);
	assert_int_equal(spool_format(&m, &b), -1);
	buf_free(&b);
	spool_msg_free(&m);
}

static void
test_backoff_schedule(void **state)
{
	(void)state;
	/* first_retry doubling up to max_retry */
	assert_int_equal(sender_backoff(1, 30, 3600), 30);
	assert_int_equal(sender_backoff(2, 30, 3600), 60);
	assert_int_equal(sender_backoff(3, 30, 3600), 120);
	assert_int_equal(sender_backoff(7, 30, 3600), 1920);
	assert_int_equal(sender_backoff(8, 30, 3600), 3600);
	assert_int_equal(sender_backoff(1000, 30, 3600), 3600);
	assert_int_equal(sender_backoff(0, 30, 3600), 30);
	assert_int_equal(sender_backoff(3, 1, 2), 2);
	assert_int_equal(sender_backoff(40, 86400, 7 * 86400), 7 * 86400);
}

/* The capacity guard's count follows commit, finish, corrupt moves and
 * rescans; the free-space floor refuses too. */
static void
test_capacity_guard(void **state)
{
	char dir[] = "/tmp/formpost-spool-XXXXXX", path[256], err[256], cmd[300];
	struct spool_msg m, got;
	struct spool *sp;
	FILE *f;
	int fd;

	(void)state;
	assert_non_null(mkdtemp(dir));
	assert_non_null(sp = spool_open(dir, err, sizeof err));
	assert_int_equal(spool_queued(sp), 0);
	make(&m);
	assert_int_equal(spool_commit(sp, &m, err, sizeof err), 0);
	memcpy(m.id, "BBCDEFGHIJKLMNOPQRS_", ID_OLD_LEN);
	assert_int_equal(spool_commit(sp, &m, err, sizeof err), 0);
	memcpy(m.id, "CBCDEFGHIJKLMNOPQRS_", ID_OLD_LEN);
	assert_int_equal(spool_commit(sp, &m, err, sizeof err), 0);
	assert_int_equal(spool_queued(sp), 3);
	/* A second message under an id in queue/ never replaces it. */
	assert_int_equal(spool_commit(sp, &m, err, sizeof err), -1);
	assert_non_null(strstr(err, "File exists"));
	assert_int_equal(spool_queued(sp), 3);
	assert_int_equal(spool_room(sp, 3, 0, err, sizeof err), -1);
	assert_non_null(strstr(err, "3 messages queued (spool_max_messages 3)"));
	assert_int_equal(spool_room(sp, 4, 0, err, sizeof err), 0);
	assert_int_equal(spool_room(sp, 4, ~0ULL, err, sizeof err), -1);
	assert_non_null(strstr(err, "bytes free (spool_min_free"));
	/* Delivered: one fewer. */
	assert_int_equal(spool_claim(sp, "ABCDEFGHIJKLMNOPQRS_", &got, &fd, err,
	    sizeof err), SPOOL_CLAIMED);
	assert_int_equal(spool_finish(sp, fd, got.id, err, sizeof err), 0);
	spool_msg_free(&got);
	assert_int_equal(spool_queued(sp), 2);
	assert_int_equal(spool_room(sp, 3, 0, err, sizeof err), 0);
	/* Torn: moved to corrupt/, one fewer. */
	snprintf(path, sizeof path, "%s/queue/BBCDEFGHIJKLMNOPQRS_", dir);
	assert_int_equal(truncate(path, 100), 0);
	assert_int_equal(spool_claim(sp, "BBCDEFGHIJKLMNOPQRS_", &got, &fd, err,
	    sizeof err), SPOOL_CORRUPT);
	assert_int_equal(spool_queued(sp), 1);
	/* Another process's commit shows after a scan; so does a reopen. */
	snprintf(path, sizeof path, "%s/queue/DBCDEFGHIJKLMNOPQRS_", dir);
	assert_non_null(f = fopen(path, "w"));
	fclose(f);
	assert_int_equal(spool_queued(sp), 1);
	assert_int_equal(spool_scan(sp, NULL, NULL, err, sizeof err), 2);
	assert_int_equal(spool_queued(sp), 2);
	spool_close(sp);
	assert_non_null(sp = spool_open(dir, err, sizeof err));
	assert_int_equal(spool_queued(sp), 2);
	spool_close(sp);
	spool_msg_free(&m);
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
}

static ino_t
inode_of(const char *dir, const char *sub, const char *id)
{
	char path[256];
	struct stat st;

	snprintf(path, sizeof path, "%s/%s/%s", dir, sub, id);
	if (stat(path, &st) == -1)
		return 0;
	return st.st_ino;
}

static void
deliver_one(struct spool *sp, const char *id)
{
	struct spool_msg got;
	char err[256];
	int fd;

	assert_int_equal(spool_claim(sp, id, &got, &fd, err, sizeof err),
	    SPOOL_CLAIMED);
	assert_int_equal(spool_finish(sp, fd, got.id, err, sizeof err), 0);
	spool_msg_free(&got);
}

/* Whether the file at path holds only zero bytes (or none). */
static int
all_zero(const char *path)
{
	char chunk[4096];
	ssize_t n, i;
	int fd, zero = 1;

	assert_true((fd = open(path, O_RDONLY)) >= 0);
	while (zero && (n = read(fd, chunk, sizeof chunk)) > 0)
		for (i = 0; i < n; i++)
			zero &= chunk[i] == 0;
	close(fd);
	return zero;
}

/* A delivered file goes to free/, zeroed (its blocks kept), and the next
 * commit writes it again instead of creating an inode; it verifies like
 * any other.  A free file another process holds (locked) is left alone,
 * and free/ leftovers older than an hour are removed at open. */
static void
test_free_files_reused(void **state)
{
	char dir[] = "/tmp/formpost-spool-XXXXXX", path[256], err[256], cmd[300];
	static const char big[] = "From: a@example.com\r\n\r\n"
	    "a longer body than the first message had, so the file grows\r\n";
	struct timeval old[2] = { { 1000000000, 0 }, { 1000000000, 0 } };
	struct spool_msg m, got;
	struct spool *sp;
	struct stat st;
	ino_t ino;
	int fd, lk;

	(void)state;
	assert_non_null(mkdtemp(dir));
	assert_non_null(sp = spool_open(dir, err, sizeof err));
	make(&m);
	assert_int_equal(spool_commit(sp, &m, err, sizeof err), 0);
	ino = inode_of(dir, "queue", m.id);
	deliver_one(sp, m.id);
	assert_int_equal(inode_of(dir, "queue", m.id), 0);
	assert_int_equal(inode_of(dir, "free", m.id), ino);
	snprintf(path, sizeof path, "%s/free/%s", dir, m.id);
	assert_int_equal(stat(path, &st), 0);
	assert_true(st.st_size > 0);              /* its blocks kept */
	assert_true(all_zero(path));              /* no message kept */
	assert_int_equal(spool_queued(sp), 0);
	/* The next commit, larger, takes that inode. */
	free(m.data);
	assert_non_null(m.data = strdup(big));
	m.len = sizeof big - 1;
	memcpy(m.id, "BBCDEFGHIJKLMNOPQRS_", ID_OLD_LEN);
	assert_int_equal(spool_commit(sp, &m, err, sizeof err), 0);
	assert_int_equal(inode_of(dir, "queue", m.id), ino);
	assert_int_equal(inode_of(dir, "free", "ABCDEFGHIJKLMNOPQRS_"), 0);
	assert_int_equal(spool_claim(sp, m.id, &got, &fd, err, sizeof err),
	    SPOOL_CLAIMED);
	assert_memory_equal(got.data, big, sizeof big - 1);
	assert_int_equal(spool_finish(sp, fd, got.id, err, sizeof err), 0);
	spool_msg_free(&got);
	/* Another process holds free/B: a new file is created instead. */
	snprintf(path, sizeof path, "%s/free/BBCDEFGHIJKLMNOPQRS_", dir);
	assert_true((lk = open(path, O_RDONLY)) >= 0);
	assert_int_equal(flock(lk, LOCK_EX), 0);
	memcpy(m.id, "CBCDEFGHIJKLMNOPQRS_", ID_OLD_LEN);
	assert_int_equal(spool_commit(sp, &m, err, sizeof err), 0);
	assert_true(inode_of(dir, "queue", m.id) != ino);
	assert_int_equal(inode_of(dir, "free", "BBCDEFGHIJKLMNOPQRS_"), ino);
	close(lk);
	assert_int_equal(spool_claim(sp, m.id, &got, &fd, err, sizeof err),
	    SPOOL_CLAIMED);
	spool_release(fd);
	spool_msg_free(&got);
	spool_close(sp);
	/* A leftover older than an hour goes at the next open. */
	assert_int_equal(utimes(path, old), 0);
	assert_non_null(sp = spool_open(dir, err, sizeof err));
	assert_int_equal(inode_of(dir, "free", "BBCDEFGHIJKLMNOPQRS_"), 0);
	assert_int_equal(spool_queued(sp), 1);
	spool_close(sp);
	spool_msg_free(&m);
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
}

/* A reused free/ file is renamed into queue/ without replacing: a
 * second message under an id already queued fails its commit and the
 * queued one stays whole (the same inode, the same bytes). */
static void
test_free_reuse_never_replaces(void **state)
{
	char dir[] = "/tmp/formpost-spool-XXXXXX", err[256], cmd[300];
	static const char other[] = "From: b@example.com\r\n\r\nanother\r\n";
	struct spool_msg m, got;
	struct spool *sp;
	ino_t ino;
	int fd;

	(void)state;
	assert_non_null(mkdtemp(dir));
	assert_non_null(sp = spool_open(dir, err, sizeof err));
	make(&m);
	assert_int_equal(spool_commit(sp, &m, err, sizeof err), 0);
	deliver_one(sp, m.id);                    /* free/ABCD... */
	assert_true(inode_of(dir, "free", m.id) != 0);
	id_copy(m.id, "K3M9-7QXA-2BTD");
	assert_int_equal(spool_commit(sp, &m, err, sizeof err), 0);
	assert_int_equal(inode_of(dir, "free", "ABCDEFGHIJKLMNOPQRS_"), 0);
	deliver_one(sp, m.id);                    /* free/K3M9-7QXA-2BTD */
	assert_true((ino = inode_of(dir, "free", m.id)) != 0);
	id_copy(m.id, "ZZZZ-7QXA-2BTD");
	assert_int_equal(spool_commit(sp, &m, err, sizeof err), 0);
	assert_int_equal(inode_of(dir, "queue", m.id), ino);
	assert_int_equal(inode_of(dir, "free", "K3M9-7QXA-2BTD"), 0);
	/* Another delivery (a receipt of an 0.1.0 id: the longest name)
	 * frees a file; the colliding commit takes it. */
	snprintf(m.id, sizeof m.id, "BBCDEFGHIJKLMNOPQRS_-R");
	assert_int_equal(spool_commit(sp, &m, err, sizeof err), 0);
	deliver_one(sp, m.id);
	assert_true(inode_of(dir, "free", "BBCDEFGHIJKLMNOPQRS_-R") != 0);
	free(m.data);
	assert_non_null(m.data = strdup(other));
	m.len = sizeof other - 1;
	id_copy(m.id, "ZZZZ-7QXA-2BTD");
	assert_int_equal(spool_commit(sp, &m, err, sizeof err), -1);
	assert_non_null(strstr(err, "File exists"));
	assert_non_null(strstr(err, "/free/"));   /* through the reused file */
	assert_int_equal(inode_of(dir, "free", "BBCDEFGHIJKLMNOPQRS_-R"), 0);
	assert_int_equal(spool_queued(sp), 1);
	assert_int_equal(inode_of(dir, "queue", m.id), ino);
	assert_int_equal(spool_claim(sp, m.id, &got, &fd, err, sizeof err),
	    SPOOL_CLAIMED);
	assert_int_equal(got.len, sizeof WIRE - 1);
	assert_memory_equal(got.data, WIRE, sizeof WIRE - 1);
	spool_release(fd);
	spool_msg_free(&got);
	spool_close(sp);
	spool_msg_free(&m);
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
}

/* The head as it was first written, with printf: the plain reference
 * spool_format's head is compared against. */
static void
ref_head(const struct spool_msg *m, struct buf *b)
{
	static const char *const st[] = { "pending", "sent", "failed" };
	size_t i;

	buf_printf(b, "formpost-spool %d\nid %s\nsite %s\ncreated %lld\n"
	    "sender %s\nattempts %u\nnext-try %lld\nreply %s\n", 1, m->id,
	    m->site, m->created, m->sender, m->attempts, m->next_try,
	    m->reply);
	for (i = 0; i < m->nrcpt; i++)
		buf_printf(b, "rcpt %s %d %s %s\n", st[m->rcpt[i].state],
		    m->rcpt[i].code, m->rcpt[i].addr, m->rcpt[i].reply);
	buf_printf(b, "size %zu\n\n", m->len);
}

/* Heads with numbers of every width (0, one digit, the largest), every
 * state and reply: byte for byte the printf reference. */
static void
test_head_reference(void **state)
{
	static const long long big[] = { 0, 7, 10, 999, 1700000000,
	    LLONG_MAX };
	struct spool_msg m;
	struct buf got, want;
	uint32_t seed = 3;
	size_t i, k;

	(void)state;
	for (i = 0; i < 500; i++) {
		make(&m);
		seed = seed * 1103515245u + 12345u;
		m.created = big[(seed >> 8) % ARRAY_LEN(big)];
		m.next_try = big[(seed >> 12) % ARRAY_LEN(big)];
		m.attempts = (seed >> 16) % 3 ? (seed >> 16) % 40 : UINT_MAX;
		if (seed & 1)
			spool_sanitise(m.reply, "451 4.3.0 try later");
		for (k = 0; k < m.nrcpt; k++) {
			seed = seed * 1103515245u + 12345u;
			m.rcpt[k].state = (enum spool_state)((seed >> 16) % 3);
			m.rcpt[k].code = (int)((seed >> 4) % 1000);
			if (seed & 2)
				spool_sanitise(m.rcpt[k].reply, "550 5.1.1 no");
		}
		buf_init(&want);
		ref_head(&m, &want);
		formatted(&m, &got);
		assert_true(got.len > want.len);
		assert_memory_equal(got.data, want.data, want.len);
		assert_memory_equal(got.data + want.len, WIRE, sizeof WIRE - 1);
		buf_free(&got);
		buf_free(&want);
		spool_msg_free(&m);
	}
}

/* Finishes in two halves (a pipelined window's): after every begin the
 * files have left queue/ but are still whole in free/ and still claimed;
 * each end empties its own, and then the files are reused. */
static void
test_finish_halves(void **state)
{
	static const char *const ids[] = { "ABCDEFGHIJKLMNOPQRS_",
	    "BBCDEFGHIJKLMNOPQRS_", "CBCDEFGHIJKLMNOPQRS_" };
	char dir[] = "/tmp/formpost-spool-XXXXXX", path[256], err[256], cmd[300];
	struct spool_finishing fin[3];
	struct spool_msg m, got[3];
	struct spool *sp;
	struct stat st;
	ino_t ino[3];
	size_t i;
	int fd, lk;

	(void)state;
	assert_non_null(mkdtemp(dir));
	assert_non_null(sp = spool_open(dir, err, sizeof err));
	make(&m);
	for (i = 0; i < 3; i++) {
		memcpy(m.id, ids[i], ID_OLD_LEN);
		assert_int_equal(spool_commit(sp, &m, err, sizeof err), 0);
		ino[i] = inode_of(dir, "queue", ids[i]);
		assert_int_equal(spool_claim(sp, ids[i], &got[i], &fd, err,
		    sizeof err), SPOOL_CLAIMED);
		spool_finish_begin(sp, fd, ids[i], &fin[i]);
	}
	assert_int_equal(spool_queued(sp), 0);
	for (i = 0; i < 3; i++) {
		assert_int_equal(inode_of(dir, "queue", ids[i]), 0);
		assert_int_equal(inode_of(dir, "free", ids[i]), ino[i]);
		snprintf(path, sizeof path, "%s/free/%s", dir, ids[i]);
		assert_int_equal(stat(path, &st), 0);
		assert_true(st.st_size > 0);      /* not emptied before the end */
		/* Still claimed: another open of it cannot lock it. */
		assert_true((lk = open(path, O_RDONLY)) >= 0);
		assert_int_equal(flock(lk, LOCK_EX | LOCK_NB), -1);
		close(lk);
	}
	for (i = 0; i < 3; i++) {
		assert_int_equal(spool_finish_end(sp, &fin[i], err, sizeof err),
		    0);
		assert_int_equal(fin[i].fd, -1);
		snprintf(path, sizeof path, "%s/free/%s", dir, ids[i]);
		assert_int_equal(stat(path, &st), 0);
		assert_true(st.st_size > 0);      /* kept for a commit */
		assert_true(all_zero(path));
		/* Released: a commit may lock it now. */
		assert_true((lk = open(path, O_RDONLY)) >= 0);
		assert_int_equal(flock(lk, LOCK_EX | LOCK_NB), 0);
		close(lk);
		spool_msg_free(&got[i]);
	}
	/* The next commit takes one of them. */
	memcpy(m.id, "DBCDEFGHIJKLMNOPQRS_", ID_OLD_LEN);
	assert_int_equal(spool_commit(sp, &m, err, sizeof err), 0);
	assert_true(inode_of(dir, "queue", m.id) == ino[0] ||
	    inode_of(dir, "queue", m.id) == ino[1] ||
	    inode_of(dir, "queue", m.id) == ino[2]);
	spool_close(sp);
	spool_msg_free(&m);
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
}

/* Reads dir/sub/id whole into b (initialised here). */
static void
slurp(const char *dir, const char *sub, const char *id, struct buf *b)
{
	char path[256], chunk[4096];
	ssize_t n;
	int fd;

	buf_init(b);
	snprintf(path, sizeof path, "%s/%s/%s", dir, sub, id);
	assert_true((fd = open(path, O_RDONLY)) >= 0);
	while ((n = read(fd, chunk, sizeof chunk)) > 0)
		assert_int_equal(buf_add(b, chunk, (size_t)n), 0);
	assert_int_equal(n, 0);
	close(fd);
}

/* A kept file written again holds exactly the new message (cut to its
 * size, nothing of the longer one before it), and a file larger than
 * LIM_SPOOL_FREE_BYTES is emptied at the finish, not zeroed. */
static void
test_free_keep(void **state)
{
	static const char head[] = "From: a@example.com\r\n\r\n";
	char dir[] = "/tmp/formpost-spool-XXXXXX", path[256], err[256], cmd[300];
	char *big;
	struct spool_msg m;
	struct spool *sp;
	struct buf want, got;
	struct stat st;
	off_t size;
	ino_t kept;

	(void)state;
	assert_non_null(mkdtemp(dir));
	assert_non_null(sp = spool_open(dir, err, sizeof err));
	make(&m);
	/* A long message, delivered: kept. */
	assert_non_null(big = malloc(LIM_SPOOL_FREE_BYTES + 1));
	memset(big, 'x', LIM_SPOOL_FREE_BYTES + 1);
	memcpy(big, head, sizeof head - 1);
	free(m.data);
	assert_non_null(m.data = malloc(10000));
	memcpy(m.data, big, 10000);
	m.len = 10000;
	assert_int_equal(spool_commit(sp, &m, err, sizeof err), 0);
	kept = inode_of(dir, "queue", m.id);
	snprintf(path, sizeof path, "%s/queue/%s", dir, m.id);
	assert_int_equal(stat(path, &st), 0);
	size = st.st_size;                        /* three pages and a bit */
	deliver_one(sp, m.id);
	snprintf(path, sizeof path, "%s/free/%s", dir, m.id);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_size, size);       /* zeroed, not cut */
	assert_true(all_zero(path));
	/* A shorter one takes it over: exactly its own bytes. */
	free(m.data);
	assert_non_null(m.data = strdup(WIRE));
	m.len = sizeof WIRE - 1;
	memcpy(m.id, "BBCDEFGHIJKLMNOPQRS_", ID_OLD_LEN);
	assert_int_equal(spool_commit(sp, &m, err, sizeof err), 0);
	assert_int_equal(inode_of(dir, "queue", m.id), kept);
	formatted(&m, &want);
	slurp(dir, "queue", m.id, &got);
	assert_int_equal(got.len, want.len);
	assert_memory_equal(got.data, want.data, want.len);
	buf_free(&got);
	buf_free(&want);
	deliver_one(sp, m.id);
	/* Larger than LIM_SPOOL_FREE_BYTES: emptied at the finish. */
	free(m.data);
	m.data = big;
	m.len = LIM_SPOOL_FREE_BYTES + 1;
	memcpy(m.id, "EBCDEFGHIJKLMNOPQRS_", ID_OLD_LEN);
	assert_int_equal(spool_commit(sp, &m, err, sizeof err), 0);
	deliver_one(sp, m.id);
	snprintf(path, sizeof path, "%s/free/%s", dir, m.id);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_size, 0);
	spool_close(sp);
	spool_msg_free(&m);
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_head_reference),
		cmocka_unit_test(test_attempts_read_back_however_many),
		cmocka_unit_test(test_every_truncation_refused),
		cmocka_unit_test(test_every_bit_flip_refused),
		cmocka_unit_test(test_bad_fields_with_good_checksum),
		cmocka_unit_test(test_format_refuses_what_it_cannot_hold),
		cmocka_unit_test(test_backoff_schedule),
		cmocka_unit_test(test_capacity_guard),
		cmocka_unit_test(test_free_files_reused),
		cmocka_unit_test(test_free_reuse_never_replaces),
		cmocka_unit_test(test_finish_halves),
		cmocka_unit_test(test_free_keep),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
