/*
 * sniff — what an uploaded file is, decided by its content (doc/design.md
 * "Attachments"): magic bytes for each type of the fixed accept table, the
 * ZIP central directory and [Content_Types].xml for Office files, refusal
 * of macros, executables, HTML, SVG, scripts, other archives and
 * polyglots.  Also the attachment name cleaner.  Reads through a callback,
 * never more than a bounded amount of the file at once; pure apart from
 * zlib; thread-safe.
 */
#ifndef FORMPOST_SNIFF_H
#define FORMPOST_SNIFF_H

#include <stddef.h>
#include <stdint.h>

/* The file types of the accept table. */
enum sniff_kind {
	SK_PDF, SK_JPEG, SK_PNG, SK_GIF, SK_WEBP, SK_HEIC, SK_TXT, SK_CSV,
	SK_DOCX, SK_XLSX, SK_PPTX, SK_ZIP, SK_COUNT,
};

/* The kind of an accept-table extension ("pdf", "jpg", "jpeg", ...;
 * ASCII case-insensitive), or -1 when it is not in the table. */
int sniff_ext_kind(const char *ext, size_t n);

/* The Content-Type a file of kind k is mailed with; utf8: text that is
 * valid UTF-8 (charset=UTF-8), else no charset.  Static. */
const char *sniff_content_type(enum sniff_kind k, int utf8);

/* "pdf, jpg, ..." as listed in the table, for messages.  Static. */
const char *sniff_table_names(void);

/* Reads up to n bytes at offset off into buf; returns the count (short
 * only at the end of the file), or -1. */
typedef long (*sniff_read_fn)(void *arg, void *buf, size_t n, unsigned long long off);

struct sniff_result {
	int kind;              /* enum sniff_kind, or -1 when refused */
	int utf8;              /* text kinds: valid UTF-8 */
	const char *why;       /* refused: "executable", "html", "svg",
	                        * "script", "archive", "macro", "polyglot",
	                        * "unknown", "io"; static */
};

/* Sniffs a file of size bytes (> 0).  The text kinds (txt, csv) are one
 * kind for content: the result is SK_TXT; callers compare with the
 * extension through sniff_agrees.  Returns 0 with *r filled (kind -1 and
 * why when refused), or -1 when reading failed or memory ran out. */
int sniff_file(sniff_read_fn rd, void *arg, unsigned long long size,
    struct sniff_result *r);

/* 1 when a sniffed kind agrees with the kind named by the extension. */
int sniff_agrees(int sniffed, int ext_kind);

/* The attachment label (doc/design.md "Attachments"): the part after the
 * last '/' or '\\', without C0/C1 controls, DEL, bidi embeddings,
 * overrides and isolates (U+200E/F, U+202A-E, U+2066-9), U+2028/9,
 * and leading dots and spaces; cut to LIM_ATTACH_NAME_CHARS characters
 * on a character boundary, keeping the extension when the name is cut.
 * in must be UTF-8.  Writes a NUL-terminated name into out (room for
 * outlen >= 4 * LIM_ATTACH_NAME_CHARS + 1); "file" when nothing is
 * left.  Returns the length. */
size_t sniff_clean_name(const char *in, size_t n, char *out, size_t outlen);

/* The extension of a cleaned name (after its last '.'), or NULL. */
const char *sniff_name_ext(const char *name, size_t *extlen);

#endif
