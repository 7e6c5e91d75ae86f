/*
 * id — the one id of a submission (doc/design.md "The id"): 12 symbols of
 * Crockford's base32 (0-9 A-Z without I L O U; 60 random bits), written
 * XXXX-XXXX-XXXX.  That canonical form is the spool file name, the JSON
 * id, the log's id=, the Message-ID's local part and what the visitor
 * reads out on the phone.  People may type it in any case, with or without
 * hyphens, with I or L for 1 and O for 0 (id_parse).  Ids written by 0.1.0
 * (20 base64url characters) stay valid spool names, so an upgrade never
 * strands mail.  Pure apart from id_new's randomness; thread-safe.
 */
#ifndef FORMPOST_ID_H
#define FORMPOST_ID_H

#define ID_SYMBOLS 12    /* base32 symbols of a new id (60 bits) */
#define ID_LEN     14    /* canonical form: ID_SYMBOLS and two hyphens */
#define ID_OLD_LEN 20    /* 0.1.0's ids: base64url of 15 random bytes */
#define ID_MAX     20    /* longest spool name that id_spool_valid takes */
#define ID_BUF     (ID_MAX + 1)
#define ID_INPUT_MAX 64  /* id_parse reads no more than this */

/* A fresh random id, canonical, into out.  Returns 0, or -1 when the
 * random generator fails (answer 503).  The random bits come from a
 * per-thread pool refilled from crypto_random (the process never forks
 * after start-up, so no two processes share a pool). */
int id_new(char out[ID_BUF]);

/* Reads an id a person typed (hostile: any bytes): any case, hyphens
 * anywhere or none, I/L read as 1 and O as 0; exactly ID_SYMBOLS symbols
 * must remain.  Writes the canonical form into out and returns 0, else
 * -1 with out untouched. */
int id_parse(const char *s, char out[ID_BUF]);

/* 1 when s is exactly a canonical id (what id_new writes), else 0. */
int id_canonical(const char *s);

/* 1 when s may name a spool file: a canonical id or an id written by
 * 0.1.0.  Either is safe as a file name and a Message-ID local part. */
int id_spool_valid(const char *s);

/* An id from the command line: a 0.1.0 id exactly as written (its case
 * matters), else whatever id_parse reads.  0 with out set, or -1. */
int id_from_user(const char *s, char out[ID_BUF]);

/* Copies src, a valid spool id (id_spool_valid), into dst; an invalid
 * one becomes "" (never overruns dst). */
void id_copy(char dst[ID_BUF], const char *src);

#endif
