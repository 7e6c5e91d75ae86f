/*
 * sniff — type by content (doc/design.md "Attachments").
 *
 * The first bytes decide (a polyglot is refused by the first bytes, never
 * by a later look): each accepted type has its magic; a binary type whose
 * first LIM_SNIFF_HEAD bytes also hold HTML or a PDF header, or whose end
 * holds a ZIP directory (GIFAR), is refused.  ZIP files are read through
 * their central directory (APPNOTE.TXT §4.3.12, §4.3.16), bounded in
 * size and entries; Office files are the ZIPs whose [Content_Types].xml
 * names the main part of Word, Excel or PowerPoint (ECMA-376 part 2
 * §10.1.2); a vbaProject.bin part or a macroEnabled type is refused.
 * Text (txt, csv) has no magic: no NUL or control bytes but TAB, CR, LF,
 * FF and ESC (ISO-2022-JP), and nothing that starts like markup or a
 * script.
 */
#include "sniff.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "limits.h"
#include "utf8.h"
#include "util.h"

static const struct {
	const char *ext;
	enum sniff_kind kind;
} ext_table[] = {
	{ "pdf", SK_PDF }, { "jpg", SK_JPEG }, { "jpeg", SK_JPEG },
	{ "png", SK_PNG }, { "gif", SK_GIF }, { "webp", SK_WEBP },
	{ "heic", SK_HEIC }, { "txt", SK_TXT }, { "csv", SK_CSV },
	{ "docx", SK_DOCX }, { "xlsx", SK_XLSX }, { "pptx", SK_PPTX },
	{ "zip", SK_ZIP },
};

static const char *const ctypes[SK_COUNT] = {
	[SK_PDF] = "application/pdf", [SK_JPEG] = "image/jpeg",
	[SK_PNG] = "image/png", [SK_GIF] = "image/gif",
	[SK_WEBP] = "image/webp", [SK_HEIC] = "image/heic",
	[SK_TXT] = "text/plain", [SK_CSV] = "text/csv",
	[SK_DOCX] = "application/vnd.openxmlformats-officedocument."
	    "wordprocessingml.document",
	[SK_XLSX] = "application/vnd.openxmlformats-officedocument."
	    "spreadsheetml.sheet",
	[SK_PPTX] = "application/vnd.openxmlformats-officedocument."
	    "presentationml.presentation",
	[SK_ZIP] = "application/zip",
};

int
sniff_ext_kind(const char *ext, size_t n)
{
	size_t i;

	for (i = 0; i < ARRAY_LEN(ext_table); i++)
		if (eq_ci(ext, n, ext_table[i].ext))
			return (int)ext_table[i].kind;
	return -1;
}

const char *
sniff_content_type(enum sniff_kind k, int utf8)
{
	if (k == SK_TXT)
		return utf8 ? "text/plain; charset=UTF-8" : "text/plain";
	if (k == SK_CSV)
		return utf8 ? "text/csv; charset=UTF-8" : "text/csv";
	return (unsigned)k < SK_COUNT ? ctypes[k] : "application/octet-stream";
}

const char *
sniff_table_names(void)
{
	return "pdf, jpg, jpeg, png, gif, webp, heic, txt, csv, docx, xlsx, "
	    "pptx, zip";
}

int
sniff_agrees(int sniffed, int ext_kind)
{
	if (sniffed < 0 || ext_kind < 0)
		return 0;
	if (sniffed == SK_TXT)
		return ext_kind == SK_TXT || ext_kind == SK_CSV;
	return sniffed == ext_kind;
}

/* ASCII case-insensitive search for lit in s[0..n). */
static int
has_ci(const unsigned char *s, size_t n, const char *lit)
{
	size_t m = strlen(lit), i;

	for (i = 0; m <= n && i <= n - m; i++)
		if (eq_ci((const char *)s + i, m, lit))
			return 1;
	return 0;
}

/* Markup a browser would render, anywhere in the head. */
static int
has_markup(const unsigned char *s, size_t n)
{
	static const char *const tags[] = { "<html", "<script", "<body",
	    "<head", "<!doctype", "<iframe", "<svg", "<?php", "<object",
	    "<embed", "<meta", "<img", "<a href", "<style", "<form" };
	size_t i;

	for (i = 0; i < ARRAY_LEN(tags); i++)
		if (has_ci(s, n, tags[i]))
			return 1;
	return 0;
}

static uint32_t
le32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	    (uint32_t)p[3] << 24;
}

static uint16_t
le16(const unsigned char *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

/* What a head that is none of the accepted magics is; static. */
static const char *
refused_kind(const unsigned char *h, size_t n)
{
	static const struct { const char *magic; size_t len, off;
	    const char *why; } bad[] = {
		{ "MZ", 2, 0, "executable" }, { "\x7f" "ELF", 4, 0,
		"executable" }, { "\xca\xfe\xba\xbe", 4, 0, "executable" },
		{ "\xfe\xed\xfa\xce", 4, 0, "executable" },
		{ "\xfe\xed\xfa\xcf", 4, 0, "executable" },
		{ "\xce\xfa\xed\xfe", 4, 0, "executable" },
		{ "\xcf\xfa\xed\xfe", 4, 0, "executable" },
		{ "\0asm", 4, 0, "executable" }, { "#!", 2, 0, "script" },
		{ "\x1f\x8b", 2, 0, "archive" }, { "Rar!", 4, 0, "archive" },
		{ "7z\xbc\xaf", 4, 0, "archive" }, { "BZh", 3, 0, "archive" },
		{ "\xfd" "7zXZ", 5, 0, "archive" }, { "MSCF", 4, 0, "archive" },
		{ "ustar", 5, 257, "archive" }, { "PK", 2, 0, "archive" },
		{ "\xd0\xcf\x11\xe0", 4, 0, "macro" },	/* OLE2: .doc .xls */
	};
	size_t i;

	for (i = 0; i < ARRAY_LEN(bad); i++)
		if (n >= bad[i].off + bad[i].len && memcmp(h + bad[i].off,
		    bad[i].magic, bad[i].len) == 0)
			return bad[i].why;
	return NULL;
}

/* HEIF (ISO/IEC 23008-12): an ftyp box whose major or a compatible brand
 * is an HEIC one. */
static int
is_heic(const unsigned char *h, size_t n)
{
	static const char *const brands[] = { "heic", "heix", "heim", "heis",
	    "hevc", "hevx" };
	size_t box, i, j;

	if (n < 16 || memcmp(h + 4, "ftyp", 4) != 0)
		return 0;
	box = (size_t)h[0] << 24 | (size_t)h[1] << 16 | (size_t)h[2] << 8 |
	    h[3];
	if (box < 16 || box > n)
		box = n;
	for (i = 8; i + 4 <= box; i += 4) {
		if (i == 12)
			continue;	/* minor version */
		for (j = 0; j < ARRAY_LEN(brands); j++)
			if (memcmp(h + i, brands[j], 4) == 0)
				return 1;
	}
	return 0;
}

/* The binary kind by magic, or -1. */
static int
magic_kind(const unsigned char *h, size_t n)
{
	if (n >= 5 && memcmp(h, "%PDF-", 5) == 0)
		return SK_PDF;
	if (n >= 3 && memcmp(h, "\xff\xd8\xff", 3) == 0)
		return SK_JPEG;
	if (n >= 8 && memcmp(h, "\x89PNG\r\n\x1a\n", 8) == 0)
		return SK_PNG;
	if (n >= 6 && (memcmp(h, "GIF87a", 6) == 0 ||
	    memcmp(h, "GIF89a", 6) == 0))
		return SK_GIF;
	if (n >= 12 && memcmp(h, "RIFF", 4) == 0 &&
	    memcmp(h + 8, "WEBP", 4) == 0)
		return SK_WEBP;
	if (is_heic(h, n))
		return SK_HEIC;
	if (n >= 4 && memcmp(h, "PK\x03\x04", 4) == 0)
		return SK_ZIP;
	return -1;
}

/* Reads exactly n bytes at off: 0, or -1 (short or failed). */
static int
read_full(sniff_read_fn rd, void *arg, void *buf, size_t n, unsigned long long off)
{
	long r = rd(arg, buf, n, off);

	return r >= 0 && (size_t)r == n ? 0 : -1;
}

/* The ZIP end-of-central-directory record (APPNOTE §4.3.16) in the last
 * 22 + 65535 bytes: 1 with its offset, 0 when there is none, -1 on I/O. */
static int
find_eocd(sniff_read_fn rd, void *arg, unsigned long long size, unsigned char *tail,
    size_t *tlen, unsigned long long *tail_off)
{
	size_t n = size < 22 + 65535 ? (size_t)size : 22 + 65535, i;

	*tail_off = size - n;
	*tlen = n;
	if (read_full(rd, arg, tail, n, *tail_off) == -1)
		return -1;
	for (i = n >= 22 ? n - 22 + 1 : 0; i-- > 0;)
		if (memcmp(tail + i, "PK\x05\x06", 4) == 0)
			return (int)i + 1;
	return 0;
}

/* An executable by its name in an archive. */
static int
exe_name(const unsigned char *s, size_t n)
{
	static const char *const exts[] = { ".exe", ".dll", ".com", ".scr",
	    ".bat", ".cmd", ".msi", ".ps1", ".vbs", ".vbe", ".js", ".jse",
	    ".wsf", ".wsh", ".hta", ".lnk", ".jar", ".sh", ".apk", ".cpl",
	    ".reg", ".pif", ".iso", ".dmg", ".app", ".elf", ".so", ".msix",
	    ".appx", ".html", ".htm", ".svg", ".docm", ".xlsm", ".pptm" };
	size_t i, m;

	for (i = 0; i < ARRAY_LEN(exts); i++) {
		m = strlen(exts[i]);
		if (n >= m && eq_ci((const char *)s + n - m, m, exts[i]))
			return 1;
	}
	return 0;
}

struct zip_ct {
	unsigned long long lho;          /* local header offset */
	uint32_t csize, usize;
	uint16_t method;
	int found;
};

/* Inflates or copies an entry's data (at most LIM_ZIP_CT_BYTES) into
 * out (room for usize + 1, NUL-terminated).  0, or -1. */
static int
zip_entry_data(sniff_read_fn rd, void *arg, unsigned long long size,
    const struct zip_ct *ct, unsigned char *out)
{
	unsigned char lh[30], *comp = NULL;
	unsigned long long data;
	z_stream z;
	int rc = -1;

	if (ct->lho + 30 > size || read_full(rd, arg, lh, 30, ct->lho) == -1 ||
	    le32(lh) != 0x04034b50)
		return -1;
	data = ct->lho + 30 + le16(lh + 26) + le16(lh + 28);
	if (data + ct->csize > size || (comp = malloc(ct->csize + 1)) == NULL ||
	    read_full(rd, arg, comp, ct->csize, data) == -1)
		goto out;
	if (ct->method == 0 && ct->csize == ct->usize) {
		memcpy(out, comp, ct->usize);
		rc = 0;
	} else if (ct->method == 8) {
		memset(&z, 0, sizeof z);
		if (inflateInit2(&z, -MAX_WBITS) != Z_OK)
			goto out;
		z.next_in = comp;
		z.avail_in = ct->csize;
		z.next_out = out;
		z.avail_out = ct->usize;
		rc = inflate(&z, Z_FINISH) == Z_STREAM_END &&
		    z.total_out == ct->usize ? 0 : -1;
		inflateEnd(&z);
	}
	out[ct->usize] = '\0';
out:
	free(comp);
	return rc;
}

/* The kind of a ZIP by its [Content_Types].xml. */
static void
office_kind(const unsigned char *x, size_t n, struct sniff_result *r)
{
	static const struct { const char *main; enum sniff_kind kind; } m[] = {
		{ "wordprocessingml.document.main+xml", SK_DOCX },
		{ "spreadsheetml.sheet.main+xml", SK_XLSX },
		{ "presentationml.presentation.main+xml", SK_PPTX },
	};
	size_t i;

	if (has_ci(x, n, "macroEnabled") || has_ci(x, n, "vbaProject")) {
		r->why = "macro";
		return;
	}
	for (i = 0; i < ARRAY_LEN(m); i++)
		if (has_ci(x, n, m[i].main)) {
			r->kind = (int)m[i].kind;
			return;
		}
	r->why = "unknown";	/* templates, xlsb, other OOXML */
}

/* Walks the central directory cd[0..n): macros and executables refuse
 * the file; [Content_Types].xml is noted in *ct.  0 or -1 (bad). */
static int
zip_walk(const unsigned char *cd, size_t n, unsigned entries,
    struct zip_ct *ct, struct sniff_result *r)
{
	size_t i = 0, nl, total;
	unsigned e;
	const unsigned char *name, *base;

	for (e = 0; e < entries; e++) {
		if (n - i < 46 || le32(cd + i) != 0x02014b50)
			return -1;
		nl = le16(cd + i + 28);
		total = 46 + nl + le16(cd + i + 30) + le16(cd + i + 32);
		if (total > n - i)
			return -1;
		name = cd + i + 46;
		base = name + nl;
		while (base > name && base[-1] != '/' && base[-1] != '\\')
			base--;
		if (eq_ci((const char *)base, (size_t)(name + nl - base),
		    "vbaProject.bin")) {
			r->why = "macro";
			return 0;
		}
		if (exe_name(name, nl)) {
			r->why = "executable";
			return 0;
		}
		if (nl == 19 && memcmp(name, "[Content_Types].xml", 19) == 0) {
			ct->found = 1;
			ct->method = le16(cd + i + 10);
			ct->csize = le32(cd + i + 20);
			ct->usize = le32(cd + i + 24);
			ct->lho = le32(cd + i + 42);
		}
		i += total;
	}
	return 0;
}

/* A file that starts as a ZIP: its directory and, for Office, its
 * content types.  0 or -1 (I/O or OOM); a malformed ZIP is refused. */
static int
sniff_zip(sniff_read_fn rd, void *arg, unsigned long long size, struct sniff_result *r)
{
	unsigned char *tail = NULL, *cd = NULL, *x = NULL, *eo;
	size_t tlen;
	unsigned long long toff, cdoff, cdsize;
	unsigned entries;
	struct zip_ct ct = { 0, 0, 0, 0, 0 };
	int at, rc = -1;

	r->why = "unknown";
	if ((tail = malloc(22 + 65535)) == NULL)
		goto out;
	if ((at = find_eocd(rd, arg, size, tail, &tlen, &toff)) == -1)
		goto out;
	rc = 0;
	if (at == 0)
		goto out;
	eo = tail + at - 1;
	entries = le16(eo + 10);
	cdsize = le32(eo + 12);
	cdoff = le32(eo + 16);
	/* One disk only, no ZIP64, the directory before its end record. */
	if (le16(eo + 4) || le16(eo + 6) || le16(eo + 8) != entries ||
	    entries == 0xffff || entries > LIM_ZIP_ENTRIES ||
	    cdsize > LIM_ZIP_CD_BYTES || cdoff + cdsize > toff + (size_t)(at - 1))
		goto out;
	if ((cd = malloc(cdsize + 1)) == NULL) {
		rc = -1;
		goto out;
	}
	if (read_full(rd, arg, cd, cdsize, cdoff) == -1 ||
	    zip_walk(cd, cdsize, entries, &ct, r) == -1 ||
	    strcmp(r->why, "unknown") != 0)
		goto out;
	if (!ct.found) {
		r->kind = SK_ZIP;
		goto out;
	}
	if (ct.usize > LIM_ZIP_CT_BYTES || ct.csize > LIM_ZIP_CT_BYTES)
		goto out;
	if ((x = malloc((size_t)ct.usize + 1)) == NULL) {
		rc = -1;
		goto out;
	}
	if (zip_entry_data(rd, arg, size, &ct, x) == 0)
		office_kind(x, ct.usize, r);
out:
	free(x);
	free(cd);
	free(tail);
	return rc;
}

/* The longest prefix of s[0..n) that ends on a UTF-8 character boundary
 * (an incomplete sequence at the end is left for the next chunk). */
static size_t
utf8_cut(const unsigned char *s, size_t n)
{
	size_t i, need;

	for (i = 1; i <= 3 && i <= n; i++) {
		unsigned char c = s[n - i];
		if ((c & 0xc0) == 0x80)
			continue;
		need = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 1;
		return need > i ? n - i : n;
	}
	return n;
}

/* Text: no NUL or controls but TAB CR LF FF ESC; not markup or a
 * script.  Reads the whole file in chunks. */
static int
sniff_text(sniff_read_fn rd, void *arg, unsigned long long size, const unsigned char *h,
    size_t hn, struct sniff_result *r)
{
	unsigned char *b = NULL;
	size_t i = 0, carry = 0, k;
	unsigned long long off = 0;
	long got;
	int rc = -1;

	while (i < hn && (h[i] == ' ' || h[i] == '\t' || h[i] == '\r' ||
	    h[i] == '\n' || (i < 3 && hn >= 3 && memcmp(h, "\xef\xbb\xbf", 3)
	    == 0)))
		i++;
	if ((i < hn && h[i] == '<') || has_markup(h, hn)) {
		r->why = has_ci(h, hn, "<svg") ? "svg" : "html";
		return 0;
	}
	if ((b = malloc(LIM_SNIFF_CHUNK + 4)) == NULL)
		return -1;
	r->utf8 = 1;
	while (off < size) {
		if ((got = rd(arg, b + carry, LIM_SNIFF_CHUNK, off)) <= 0)
			goto out;
		off += (unsigned long long)got;
		for (i = carry; i < carry + (size_t)got; i++)
			if ((b[i] < 0x20 && b[i] != '\t' && b[i] != '\r' &&
			    b[i] != '\n' && b[i] != '\f' && b[i] != 0x1b) ||
			    b[i] == 0x7f) {
				r->why = "unknown";
				rc = 0;
				goto out;
			}
		k = off < size ? utf8_cut(b, carry + (size_t)got) :
		    carry + (size_t)got;
		if (r->utf8 && !utf8_valid((const char *)b, k))
			r->utf8 = 0;
		carry = carry + (size_t)got - k;
		memmove(b, b + k, carry);
	}
	r->kind = SK_TXT;
	rc = 0;
out:
	free(b);
	return rc;
}

/* A binary kind's head and tail: no markup, no second type. */
static int
polyglot(sniff_read_fn rd, void *arg, unsigned long long size, int kind,
    const unsigned char *h, size_t hn, int *bad)
{
	unsigned char *tail;
	size_t tlen;
	unsigned long long toff;
	int at;

	*bad = has_markup(h, hn) || (kind != SK_PDF && has_ci(h, hn,
	    "%PDF-"));
	if (*bad || kind == SK_ZIP)
		return 0;
	if ((tail = malloc(22 + 65535)) == NULL)
		return -1;
	at = find_eocd(rd, arg, size, tail, &tlen, &toff);
	free(tail);
	if (at == -1)
		return -1;
	*bad = at > 0;	/* GIFAR: a ZIP directory at the end */
	return 0;
}

int
sniff_file(sniff_read_fn rd, void *arg, unsigned long long size, struct sniff_result *r)
{
	unsigned char h[LIM_SNIFF_HEAD];
	size_t hn = size < sizeof h ? (size_t)size : sizeof h;
	int kind, bad;

	r->kind = -1;
	r->utf8 = 0;
	r->why = "io";
	if (size == 0 || read_full(rd, arg, h, hn, 0) == -1)
		return -1;
	r->why = "unknown";
	kind = magic_kind(h, hn);
	if (kind < 0) {
		const char *why = refused_kind(h, hn);
		if (why) {
			r->why = why;
			return 0;
		}
		return sniff_text(rd, arg, size, h, hn, r);
	}
	if (polyglot(rd, arg, size, kind, h, hn, &bad) == -1)
		return -1;
	if (bad) {
		r->why = "polyglot";
		return 0;
	}
	if (kind == SK_ZIP)
		return sniff_zip(rd, arg, size, r);
	r->kind = kind;
	return 0;
}

/* 1 for a code point no label may hold: controls, line separators, and
 * the bidi formatting characters that make "gpj.exe" read as "exe.jpg"
 * (Unicode UAX #9 §2). */
static int
name_drop(uint32_t cp)
{
	return utf8_is_ctl(cp) || cp == 0x200e || cp == 0x200f ||
	    (cp >= 0x202a && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069) ||
	    cp == 0x061c || cp == 0xfeff;
}

const char *
sniff_name_ext(const char *name, size_t *extlen)
{
	const char *dot = strrchr(name, '.');

	if (dot == NULL || dot == name || dot[1] == '\0')
		return NULL;
	*extlen = strlen(dot + 1);
	return dot + 1;
}

/* Cuts a clean name to LIM_ATTACH_NAME_CHARS characters, keeping its
 * extension (up to 10 characters) at the end. */
static size_t
name_cut(char *s, size_t n)
{
	size_t chars = utf8_count(s, n), keep, extb = 0, el, i, o = 0;
	const char *ext;
	uint32_t cp;

	if (chars <= LIM_ATTACH_NAME_CHARS)
		return n;
	ext = sniff_name_ext(s, &el);
	if (ext && utf8_count(ext, el) < 10)
		extb = el + 1;
	keep = LIM_ATTACH_NAME_CHARS - (extb ? utf8_count(ext - 1, extb) : 0);
	for (i = 0; i < keep; i++)
		o += utf8_decode(s + o, n - o, &cp);
	memmove(s + o, s + n - extb, extb);
	s[o + extb] = '\0';
	return o + extb;
}

size_t
sniff_clean_name(const char *in, size_t n, char *out, size_t outlen)
{
	size_t i, o = 0, len, start = 0;
	char *t = malloc(n + 1);
	uint32_t cp;

	for (i = 0; i < n; i++)
		if (in[i] == '/' || in[i] == '\\')
			start = i + 1;
	for (i = start; t && i < n; i += len) {
		if ((len = utf8_decode(in + i, n - i, &cp)) == 0)
			len = 1;	/* not UTF-8: dropped */
		else if (!name_drop(cp) && !(o == 0 && (cp == '.' ||
		    cp == ' ' || cp == 0x3000))) {
			memcpy(t + o, in + i, len);
			o += len;
		}
	}
	while (o > 0 && (t[o - 1] == ' ' || t[o - 1] == '.'))
		o--;
	if (o > 0)
		t[o] = '\0';
	if (o > 0 && (o = name_cut(t, o)) < outlen)
		memcpy(out, t, o + 1);
	else
		o = (size_t)snprintf(out, outlen, "file");
	free(t);
	return o;
}
