/*
 * utf8 — strict UTF-8 decoding (RFC 3629): no overlongs, no surrogates,
 * nothing above U+10FFFF.  Pure; no allocation.
 */
#ifndef FORMPOST_UTF8_H
#define FORMPOST_UTF8_H

#include <stddef.h>
#include <stdint.h>

/* 1 when s[0..n) is valid UTF-8 (NUL bytes are valid UTF-8 here; callers
 * that must refuse NUL check separately). */
int utf8_valid(const char *s, size_t n);
/* Decodes one code point at s[0..n); returns its length in bytes (1..4) and
 * stores it in *cp, or returns 0 for an invalid or truncated sequence. */
size_t utf8_decode(const char *s, size_t n, uint32_t *cp);
/* Number of code points in valid UTF-8 s[0..n). */
size_t utf8_count(const char *s, size_t n);
/* Writes cp as UTF-8 into out (room for 4); returns its length, 0 if cp is
 * not a scalar value. */
size_t utf8_encode(uint32_t cp, char out[4]);
/* 1 when cp is a control or a line break no one-line text may hold: C0
 * (TAB included), DEL, C1 (U+0085 NEL among them), U+2028, U+2029. */
int utf8_is_ctl(uint32_t cp);
/* 1 when s[0..n) is not valid UTF-8 or holds a utf8_is_ctl code point:
 * the one test for header values and one-line fields. */
int utf8_has_ctl(const char *s, size_t n);

#endif
