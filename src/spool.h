/*
 * spool — the durable queue between "answered" and "delivered" (doc/design.md
 * "The spool").  Layout under the spool directory:
 *
 *   tmp/      files being written (never read by anyone else)
 *   queue/ID  messages with at least one pending recipient
 *   failed/ID the recipients given up on (permanent reply or max_age),
 *             each with the server's reply; same file format
 *   corrupt/ID files whose marker or checksum did not verify
 *   sent/ID   delivered messages kept for retention.archive (same format;
 *             the folder is made by the first archived copy)
 *   free/NAME files of delivered messages, zeroed (a small one, keeping
 *             its blocks) or emptied, which a commit writes again
 *             instead of creating a new inode; never read as a message
 *             (doc/design.md "Performance")
 *   hold/NAME uploads kept between the review step's two posts, named by
 *             the server (hold.h); removed once their message is
 *             committed, or after token.max_age (doc/design.md "The
 *             review step"); never read as a message
 *
 * One file per message, named by the one id.  File format (versions 1
 * and 2; version 2 adds the history block, doc/design.md "The spool"):
 *
 *   formpost-spool V\n                V: 1 without history, 2 with it
 *   id ID\n
 *   site NAME\n
 *   created EPOCH\n
 *   sender ADDR\n
 *   attempts N\n
 *   next-try EPOCH\n
 *   reply TEXT\n                      last attempt's reply (may be empty)
 *   rcpt STATE CODE ADDR TEXT\n       one per recipient; STATE is
 *                                     pending|sent|failed, CODE the last
 *                                     reply code (0: none), TEXT its reply
 *   history TOTAL\n                   version 2 only: attempts recorded so
 *                                     far (>= 1), of which the last ones
 *                                     follow, oldest first (1 to
 *                                     LIM_SPOOL_HISTORY_READ of them):
 *   attempt EPOCH PROFILE EVENT CODE TEXT\n
 *                                     when, through which profile ("-":
 *                                     none), EVENT (spool_event_name), the
 *                                     reply code (0: none) and text
 *   to EVENT CODE ADDR TEXT\n         per recipient the attempt concerned
 *                                     (0 to LIM_SPOOL_RCPT after each
 *                                     attempt line); TEXT empty when it is
 *                                     the attempt's
 *   size LEN\n
 *   \n
 *   LEN bytes: the exact wire message (CRLF, not dot-stuffed)
 *   end SHA256\n                      lowercase hex SHA-256 of every byte
 *                                     before "end"
 *
 * Replies are printable ASCII without newlines; addresses and names have
 * no spaces or controls.  A file that does not parse, lacks the marker,
 * or fails the checksum is torn or corrupt: it moves to corrupt/ and is
 * never delivered.  A file whose first line names a version above
 * SPOOL_VERSION was written by a newer formpost: it is not corrupt, and
 * is left where it is (SPOOL_NEWER).
 *
 * Writing (commit and every state update): create tmp/NAME (O_EXCL, 0600) →
 * write → fsync → rename into place → fsync that directory.  An fsync is never
 * retried on the same fd: any error unlinks the temporary file and fails:
 * after a failed fsync the kernel may have dropped the dirty pages and a
 * second fsync reports success ("fsyncgate").  No lock is taken around a
 * file's fsync, so requests commit concurrently; queue/'s own fsync is
 * shared (group commit): one that starts after a change covers it.  A new
 * message may be written into a free/ file (locked, written from offset
 * 0, cut to size, fsync'd) and renamed from there into queue/: the same
 * order, so nothing is in queue/ before its bytes are on disk.
 *
 * Memory (doc/design.md "Attachments"): a file is written from three
 * pieces (header lines, the wire bytes where they live, the end line),
 * its checksum computed over them as they pass, so a large message's
 * bytes are never whole in the heap: a message in a file is copied in
 * fixed chunks with pread, and a claimed file of LIM_SPOOL_MAP bytes or
 * more stays in its file (verified through a read, parsed through a
 * mapping dropped at once).  A read error is an error, never a signal.
 *
 * Claiming: a sender holds an exclusive flock on queue/ID while it works
 * on the message; the lock moves to the new file on every update (the new
 * file is locked before it is renamed into place), so several processes
 * may share one spool without sending twice.  Thread-safe: struct spool's
 * path is immutable after spool_open; its counters are atomics.
 */
#ifndef FORMPOST_SPOOL_H
#define FORMPOST_SPOOL_H

#include <stddef.h>
#include <time.h>

#include "crypto.h"
#include "id.h"
#include "limits.h"
#include "util.h"

/* The highest format version this build reads and writes.  A message
 * without history is written as version 1 (what every earlier build
 * reads: a new commit is the same bytes as before), one with history as
 * version 2 (doc/design.md "The spool"). */
#define SPOOL_VERSION   2

/* A spool name is a message id, or a receipt's id: the id of the message
 * it answers followed by SPOOL_RECEIPT_SUFFIX (doc/design.md "Auto-reply").
 * SPOOL_ID_MAX is the longest name, without the NUL. */
#define SPOOL_RECEIPT_SUFFIX "-R"
#define SPOOL_ID_MAX (ID_MAX + sizeof SPOOL_RECEIPT_SUFFIX - 1)

/* 1 when name is a spool name: a valid id (id_spool_valid), optionally
 * followed by SPOOL_RECEIPT_SUFFIX.  Safe as a file name. */
int spool_id_valid(const char *name);

/* A spool name typed by a person: an id as id_from_user reads it,
 * optionally followed by the receipt suffix in any case.  0 with out set
 * to the spool name, or -1. */
int spool_id_from_user(const char *typed, char out[SPOOL_ID_MAX + 1]);

/* 1 when name is a valid receipt's spool name. */
int spool_id_is_receipt(const char *name);
#define SPOOL_REPLY_MAX 200   /* bytes of a stored reply, with NUL */

enum spool_state { SPOOL_PENDING, SPOOL_SENT, SPOOL_FAILED };

struct spool_rcpt {
	char *addr;
	enum spool_state state;
	int code;                       /* last reply code, 0 if none */
	char reply[SPOOL_REPLY_MAX];    /* that reply, sanitised */
};

/* What one attempt was, or did for one recipient.  The first four are
 * the outcomes (doc/design.md "The four outcomes") and share their
 * words; expired: max_age gave up; retried: `formpost queue retry`. */
enum spool_event {
	SPOOL_EV_SENT, SPOOL_EV_TEMP, SPOOL_EV_CONFIG, SPOOL_EV_PERM,
	SPOOL_EV_EXPIRED, SPOOL_EV_RETRIED,
};

struct spool_tried {                /* one recipient of an attempt */
	char *addr;
	enum spool_event ev;
	int code;                       /* 0 if none */
	char *reply;                    /* NULL: the attempt's */
};

struct spool_attempt {
	long long at;                   /* epoch seconds */
	char profile[LIM_NAME_BYTES + 1]; /* "-": no profile was tried */
	enum spool_event ev;
	int code;                       /* 0 if none */
	char reply[SPOOL_REPLY_MAX];    /* sanitised */
	struct spool_tried *to;
	size_t nto;
};

/* One message with its delivery state.  Owns every pointer (free with
 * spool_msg_free) when it came from spool_parse, spool_msg_new or
 * spool_claim; spool_msg_borrow's bytes stay the caller's.  The wire
 * bytes are data[0..len) (heap or borrowed), or, when in_file, the len
 * bytes at off in fd: a claimed file of LIM_SPOOL_MAP bytes or more, or
 * a composed message (spool_msg_borrow_file), read with pread in fixed
 * chunks, never whole in memory (doc/design.md "Attachments").  A claimed
 * message's fd is its own open of the claimed file: drop it
 * (spool_msg_drop_data or spool_msg_free) before spool_finish. */
struct spool_msg {
	char id[SPOOL_ID_MAX + 1];
	char site[LIM_NAME_BYTES + 1];
	long long created;              /* epoch seconds */
	char *sender;
	struct spool_rcpt *rcpt;
	size_t nrcpt;
	unsigned attempts;
	long long next_try;             /* epoch seconds; 0: at once */
	char reply[SPOOL_REPLY_MAX];
	char *data;                     /* the wire bytes, unless in_file */
	size_t len;
	int in_file;                    /* they are at off in fd */
	int fd;
	unsigned long long off;
	int borrowed;                   /* data or fd is the caller's */
	/* The history: hist_total attempts recorded (0: none, a version 1
	 * file), the last nhist of them in hist, oldest first. */
	unsigned hist_total;
	struct spool_attempt *hist;
	size_t nhist;
};

/* --- pure: format and parse --------------------------------------------- */

/* A fresh message (every recipient pending) from copies of the
 * arguments.  Returns 0, or -1 on OOM or an argument the format cannot
 * hold (bad id, site name, address with spaces or controls). */
int spool_msg_new(struct spool_msg *out, const char *id, const char *site,
    long long created, const char *sender, char *const *rcpt, size_t nrcpt,
    const char *data, size_t len);
void spool_msg_free(struct spool_msg *m);   /* NULL fields are fine */

/* spool_msg_new without the copy: data[0..len) stays the caller's and
 * must outlive *out (spool_msg_free leaves it).  For committing bytes
 * already in memory (a composed message), never copied. */
int spool_msg_borrow(struct spool_msg *out, const char *id, const char *site,
    long long created, const char *sender, char *const *rcpt, size_t nrcpt,
    const char *data, size_t len);

/* spool_msg_borrow of the len bytes at off in fd (a composed message's
 * unnamed file), read with pread when the file is written; fd stays the
 * caller's. */
int spool_msg_borrow_file(struct spool_msg *out, const char *id,
    const char *site, long long created, const char *sender,
    char *const *rcpt, size_t nrcpt, int fd, unsigned long long off,
    size_t len);

/* Releases m's bytes alone (free, close, or nothing when borrowed);
 * data NULL, len 0, in_file 0 after.  The envelope and state stay. */
void spool_msg_drop_data(struct spool_msg *m);

/* Copies src into dst (printable ASCII, no newline, capped). */
void spool_sanitise(char dst[SPOOL_REPLY_MAX], const char *src);

/* Appends m in the file format to out.  Returns 0, or -1 (OOM or a field
 * the format cannot hold, or m's bytes are in a file).  The writers
 * (commit, update, failed/, sent/) write the same bytes without this
 * copy: the header from a small buffer, the wire bytes from where they
 * are, the checksum computed as they pass. */
int spool_format(const struct spool_msg *m, struct buf *out);

enum spool_parse_rc {
	SPOOL_PARSED = 0,
	SPOOL_BAD = -1,     /* the bytes do not verify: the file is corrupt */
	SPOOL_UNCHECKED = -2, /* out of memory or no digest: the file may be
	                     * fine, so try again later */
	SPOOL_TOO_NEW = -3, /* a newer formpost wrote it (its first line
	                     * names a version above SPOOL_VERSION): leave
	                     * it alone */
};

/* Parses and verifies p[0..n) (marker, checksum, every field).
 * SPOOL_PARSED with *out filled (caller frees with spool_msg_free), else
 * the reason in err; *out is untouched on failure. */
enum spool_parse_rc spool_parse(const char *p, size_t n,
    struct spool_msg *out, char *err, size_t errlen);

/* The word for st in the file format and in `formpost queue`: "pending",
 * "sent" or "failed". */
const char *spool_state_name(enum spool_state st);

/* Number of recipients in state st. */
size_t spool_count(const struct spool_msg *m, enum spool_state st);

/* The word for ev in the file format and in `formpost queue show`:
 * "sent", "temporary", "config", "permanent" (outcome_name's words),
 * "expired", "retried". */
const char *spool_event_name(enum spool_event ev);

/* Records a new attempt at the end of m's history (profile NULL: "-";
 * reply sanitised), counts it in hist_total (saturating; the first one
 * of a message without history counts m->attempts before it, made and
 * not kept), and drops the
 * oldest ones kept beyond LIM_SPOOL_HISTORY attempts, or beyond
 * LIM_SPOOL_HISTORY_BYTES before this one.  Returns the new entry (valid
 * until the next call) for spool_attempt_rcpt, or NULL on OOM or a
 * profile name the format cannot hold (m unchanged). */
struct spool_attempt *spool_attempt_add(struct spool_msg *m, long long at,
    const char *profile, enum spool_event ev, int code, const char *reply);

/* Frees m's history (hist_total stays): for a reader that needs only
 * the envelope and state, as a listing of the whole queue. */
void spool_history_free(struct spool_msg *m);

/* Adds recipient addr to attempt a (at most LIM_SPOOL_RCPT); reply is
 * sanitised and kept only when it differs from the attempt's.  0, or -1
 * on OOM or an address the format cannot hold (a unchanged). */
int spool_attempt_rcpt(struct spool_attempt *a, const char *addr,
    enum spool_event ev, int code, const char *reply);

/* --- effects -------------------------------------------------------------- */

struct spool;

/* Opens (creating 0700 where missing) dir and its subdirectories,
 * removes tmp/ leftovers older than an hour (younger ones may belong to
 * another process sharing the spool) and counts queue/.  NULL with err
 * on failure. */
struct spool *spool_open(const char *dir, char *err, size_t errlen);
void spool_close(struct spool *sp);

/* Durably stores a new message as queue/ID.  Returns 0 only once the file
 * and the directory entry are on disk; -1 with err otherwise (nothing
 * published).  Thread-safe and lock-free across callers. */
int spool_commit(struct spool *sp, const struct spool_msg *m, char *err,
    size_t errlen);

enum spool_claim {
	SPOOL_CLAIMED,    /* *fd holds the lock, *out the parsed message */
	SPOOL_GONE,       /* no such message in queue/ (delivered, dropped) */
	SPOOL_BUSY,       /* another process or thread holds it */
	SPOOL_CORRUPT,    /* moved to corrupt/; err says why */
	SPOOL_ERROR,      /* I/O error or OOM; err says what; retry later */
	SPOOL_NEWER,      /* written by a newer formpost (err says which
	                   * version): left in place, not claimed */
};

/* Opens, locks (flock LOCK_EX|LOCK_NB), reads and verifies queue/ID.  On
 * SPOOL_CLAIMED the caller owns *fd (release with spool_release, or
 * spool_finish) and *out (spool_msg_free).  A file of LIM_SPOOL_MAP bytes
 * or more is not read into memory: *out is in_file, on its own open of
 * the file (drop it before spool_finish: a finished file is zeroed or
 * emptied for reuse). */
enum spool_claim spool_claim(struct spool *sp, const char *id,
    struct spool_msg *out, int *fd, char *err, size_t errlen);

/* Rewrites queue/ID with m's state, keeping the claim: *fd is replaced by
 * the new file's locked fd.  0, or -1 with err (the old file and claim
 * stay as they were). */
int spool_update(struct spool *sp, int *fd, const struct spool_msg *m,
    char *err, size_t errlen);

/* Writes failed/ID holding m's failed recipients only (every one of them
 * so far: it replaces an earlier failed/ID).  0 or -1 with err. */
int spool_write_failed(struct spool *sp, const struct spool_msg *m,
    char *err, size_t errlen);

/* Removes queue/ID (claimed through fd), syncs the directory, releases
 * the claim.  0, or -1 with err (the claim is released either way).  The
 * file may be emptied and written again (free/): drop the claimed
 * message's bytes first. */
int spool_finish(struct spool *sp, int fd, const char *id, char *err,
    size_t errlen);

/* spool_finish in two halves, so that the finishes of several messages
 * share one fsync of queue/ (its group commit, doc/design.md "The
 * spool"): spool_finish_begin removes queue/ID from the directory (moved
 * to free/ or unlinked) and notes the change; spool_finish_end waits for
 * an fsync of queue/ that covers it, zeroes or empties the file for
 * reuse, and releases the claim.  Every begin is followed by its end; until
 * then the claim is held. */
struct spool_finishing {
	int fd;                      /* the claim */
	int moved;                   /* to free/ (else unlinked) */
	int rc, error;               /* the removal's result, its errno */
	unsigned long long ticket;   /* the change, for the group commit */
	char id[SPOOL_ID_MAX + 1];
};
void spool_finish_begin(struct spool *sp, int fd, const char *id,
    struct spool_finishing *f);
int spool_finish_end(struct spool *sp, struct spool_finishing *f,
    char *err, size_t errlen);

/* Releases a claim without changing anything. */
void spool_release(int fd);

/* Calls fn (unless NULL) for every well-formed id in queue/ (in
 * directory order), then resets the spool_queued count to what it found.
 * Returns the number of ids, or -1 with err when the directory cannot be
 * read. */
long spool_scan(struct spool *sp, void (*fn)(void *arg, const char *id),
    void *arg, char *err, size_t errlen);

/* When queue/ID is due, as its file's mtime says: a commit's time, or
 * the next try spool_update and spool_date set; *dated: when that was
 * written (its ctime).  A hint for a rescan that must not read every
 * file (doc/design.md "The schedule's bound"): not synced, so after a
 * crash it may say earlier; the file's next-try stays the truth.  -1
 * when there is no such file. */
long long spool_due_hint(struct spool *sp, const char *id, long long *dated);

/* Sets that hint on a claimed file (fd from spool_claim). */
void spool_date(int fd, long long when);

/* Same for SUB/ (queue, failed or corrupt); only a scan of queue/
 * resets the count. */
long spool_scan_in(struct spool *sp, const char *sub,
    void (*fn)(void *arg, const char *id), void *arg, char *err,
    size_t errlen);

/* Reads and verifies SUB/ID (queue, failed or corrupt) without claiming
 * it: a reader sees either the old or the new state, since every write
 * renames a complete file into place.  Moves nothing.  Returns 0 with
 * *out filled (caller frees with spool_msg_free), 1 when there is no such
 * file, 2 with err when a newer formpost wrote it, -1 with err when it
 * cannot be read or does not verify. */
int spool_read(struct spool *sp, const char *sub, const char *id,
    struct spool_msg *out, char *err, size_t errlen);

/* Removes SUB/ID and syncs SUB.  For queue/, hold the claim (or use
 * spool_finish).  0, or -1 with err. */
int spool_remove(struct spool *sp, const char *sub, const char *id,
    char *err, size_t errlen);

/* Messages in queue/: exact for this process's own commits, finishes and
 * corrupt moves, and for other processes' as of the last spool_scan (the
 * sender rescans every LIM_SPOOL_RESCAN seconds).  Thread-safe. */
size_t spool_queued(struct spool *sp);

/* The capacity guard (doc/design.md "Limits"): 0 when a new message may
 * be committed; -1 with why in err when spool_queued() >= max_messages,
 * fewer than min_free bytes (or LIM_SPOOL_MIN_INODES inodes) are free to
 * the service user on the spool's filesystem.  Cheap enough for every
 * request: a counter, and statvfs at most every LIM_SPOOL_STATFS_MS.  Logs
 * one line when the state changes (spool_full / spool_room), none per
 * call.  Thread-safe. */
int spool_room(struct spool *sp, size_t max_messages,
    unsigned long long min_free, char *err, size_t errlen);

/* An unnamed file in tmp/ for an upload in progress (doc/design.md
 * "Attachments"): O_TMPFILE, else a mkstemp file unlinked at once, so
 * it vanishes with its fd whatever happens to the request.  Returns a
 * read-write fd (mode 0600, close-on-exec), or -1 with errno. */
int spool_tmpfile(struct spool *sp);

/* --- operations (doc/design.md "Operations") ------------------------------ */

/* Durably writes sent/ID: the delivered message m, whole, for `queue
 * show` ("did my message arrive?").  0 or -1 with err. */
int spool_write_sent(struct spool *sp, const struct spool_msg *m, char *err,
    size_t errlen);

/* What a listing needs from a header, read from the first
 * LIM_SPOOL_PEEK bytes only (no checksum: for gauges and alerts, never
 * for delivery). */
struct spool_peek {
	long long created;
	char reply[SPOOL_REPLY_MAX];
};

/* Reads SUB/ID's header into *out.  0, or -1 when it is gone or does not
 * look like a spool file. */
int spool_peek(struct spool *sp, const char *sub, const char *id,
    struct spool_peek *out);

/* Removes every file in SUB/ (failed or sent) last written before the
 * epoch second `before`, then syncs SUB.  Returns how many, or -1 with
 * err. */
long spool_purge(struct spool *sp, const char *sub, long long before,
    char *err, size_t errlen);

/* Bytes free to the service user on the spool's file system (read at
 * most every LIM_SPOOL_STATFS_MS).  Thread-safe. */
unsigned long long spool_free_bytes(struct spool *sp);

/* The spool directory as given to spool_open. */
const char *spool_path(const struct spool *sp);

#endif
