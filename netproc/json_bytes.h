/*
 * Copyright (c) 2026 The ocbroker authors
 * SPDX-License-Identifier: ISC (the licence is in the file LICENSE)
 */

/*
 * The byte-level scanners that json.c (jsmn's tokens) and json_skim.c (the
 * token-free skimmer for GET /provider) share: a byte's class outside
 * strings, and the runs of plain string or key bytes.  Internal to those
 * two files.
 */
#ifndef OCB_NETPROC_JSON_BYTES_H
#define OCB_NETPROC_JSON_BYTES_H

#include <stddef.h>
#include <stdint.h>

#include "netproc/arena.h"

/* SSE2 is part of x86-64; JSON_NO_SIMD builds the byte-by-byte paths only. */
#if defined(__SSE2__) && !defined(JSON_NO_SIMD)
#define JSON_SSE2	1
#include <emmintrin.h>
#endif

/*
 * What a byte is outside strings, for the scans below.  The low bits are
 * its role where a token may start (as jsmn's strict mode reads it); the
 * flags say which runs it ends.
 */
#define B_BAD		0	/* no token starts with it: jsmn refuses it */
#define B_SKIP		1	/* whitespace, ':' and ',' */
#define B_QUOTE		2
#define B_OPEN		3
#define B_CLOSE		4
#define B_LIT		5	/* starts a literal: - 0-9 t f n */
#define B_ROLE		0x07
#define F_STR		0x10	/* ends a run of plain string bytes: " \ NUL */
#define F_DELIM		0x20	/* ends a literal (jsmn's strict set): ws , ] } NUL */
#define F_SKIM		0x40	/* may appear outside strings in a skimmed value */

#define LITC	(B_BAD | F_SKIM)	/* inside literals only */
static const uint8_t bclass[256] = {
	[0] = B_BAD | F_STR | F_DELIM,
	[' '] = B_SKIP | F_DELIM | F_SKIM, ['\t'] = B_SKIP | F_DELIM | F_SKIM,
	['\n'] = B_SKIP | F_DELIM | F_SKIM, ['\r'] = B_SKIP | F_DELIM | F_SKIM,
	[','] = B_SKIP | F_DELIM | F_SKIM, [':'] = B_SKIP | F_SKIM,
	['"'] = B_QUOTE | F_STR, ['\\'] = B_BAD | F_STR,
	['['] = B_OPEN, ['{'] = B_OPEN,
	[']'] = B_CLOSE | F_DELIM, ['}'] = B_CLOSE | F_DELIM,
	['-'] = B_LIT | F_SKIM,
	['0'] = B_LIT | F_SKIM, ['1'] = B_LIT | F_SKIM, ['2'] = B_LIT | F_SKIM,
	['3'] = B_LIT | F_SKIM, ['4'] = B_LIT | F_SKIM, ['5'] = B_LIT | F_SKIM,
	['6'] = B_LIT | F_SKIM, ['7'] = B_LIT | F_SKIM, ['8'] = B_LIT | F_SKIM,
	['9'] = B_LIT | F_SKIM,
	['t'] = B_LIT | F_SKIM, ['f'] = B_LIT | F_SKIM, ['n'] = B_LIT | F_SKIM,
	['r'] = LITC, ['u'] = LITC, ['e'] = LITC, ['a'] = LITC, ['l'] = LITC,
	['s'] = LITC, ['E'] = LITC, ['+'] = LITC, ['.'] = LITC,
};

/*
 * The type of a literal from its first byte (a B_LIT one): true, false,
 * null or a number.  json.h is included first.
 */
static inline int
lit_type(char c)
{
	switch (c) {
	case 't':
	case 'f':
		return JSON_BOOL;
	case 'n':
		return JSON_NULL;
	default:
		return JSON_NUMBER;
	}
}

static inline int
is_ws(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static inline int
is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/*
 * The first byte at or after s[i] (i <= len) that ends a run of plain
 * string bytes: '"', '\\' or NUL; len when there is none.  Sixteen bytes at
 * a time where SSE2 is there (x86-64 always), never reading past s[len - 1].
 */
static inline size_t
str_stop(const char *s, size_t len, size_t i)
{
#ifdef JSON_SSE2
	const __m128i	q = _mm_set1_epi8('"');
	const __m128i	b = _mm_set1_epi8('\\');
	const __m128i	z = _mm_setzero_si128();
	__m128i		v;
	unsigned	m;

	while (len - i >= 16) {
		v = _mm_loadu_si128((const __m128i *)(const void *)(s + i));
		m = (unsigned)_mm_movemask_epi8(_mm_or_si128(_mm_or_si128(
		    _mm_cmpeq_epi8(v, q), _mm_cmpeq_epi8(v, b)),
		    _mm_cmpeq_epi8(v, z)));
		if (m != 0)
			return i + (size_t)__builtin_ctz(m);
		i += 16;
	}
#endif
	while (i < len && !(bclass[(uint8_t)s[i]] & F_STR))
		i++;
	return i;
}

/* A string byte that stands for itself. */
static inline int
plain(char c)
{
	return (uint8_t)c >= 0x20 && (uint8_t)c < 0x80 && c != '\\';
}

/*
 * The first byte of buf[i..end) that is not plain(), or end.  Bytes up to
 * buf[len - 1] (end <= len) may be read.
 */
static inline size_t
plain_run(const char *buf, size_t len, size_t i, size_t end)
{
#ifdef JSON_SSE2
	const __m128i	sp = _mm_set1_epi8(0x20);
	const __m128i	bs = _mm_set1_epi8('\\');
	__m128i		v;
	unsigned	m;

	while (i < end && len - i >= 16) {
		v = _mm_loadu_si128((const __m128i *)(const void *)(buf + i));
		/* Signed: the bytes above 0x7f are below 0x20 too. */
		m = (unsigned)_mm_movemask_epi8(_mm_or_si128(
		    _mm_cmplt_epi8(v, sp), _mm_cmpeq_epi8(v, bs)));
		if (m != 0) {
			i += (size_t)__builtin_ctz(m);
			return i < end ? i : end;
		}
		i += 16;
	}
	if (i >= end)
		return end;
#endif
	while (i < end && plain(buf[i]))
		i++;
	return i;
}

/*
 * The first byte at or after s[i] (i <= len) that is not plain() or is a
 * '"': where a plain key ends, if it is plain.  len when there is none.
 */
static inline size_t
key_stop(const char *s, size_t len, size_t i)
{
#ifdef JSON_SSE2
	const __m128i	sp = _mm_set1_epi8(0x20);
	const __m128i	bs = _mm_set1_epi8('\\');
	const __m128i	q = _mm_set1_epi8('"');
	__m128i		v;
	unsigned	m;

	while (len - i >= 16) {
		v = _mm_loadu_si128((const __m128i *)(const void *)(s + i));
		/* Signed: the bytes above 0x7f are below 0x20 too. */
		m = (unsigned)_mm_movemask_epi8(_mm_or_si128(_mm_or_si128(
		    _mm_cmplt_epi8(v, sp), _mm_cmpeq_epi8(v, bs)),
		    _mm_cmpeq_epi8(v, q)));
		if (m != 0)
			return i + (size_t)__builtin_ctz(m);
		i += 16;
	}
#endif
	while (i < len && plain(s[i]) && s[i] != '"')
		i++;
	return i;
}

/* In json.c: the checks and decoders of a string body buf[i..end). */
int	json_literal_valid(const char *, size_t);
int	json_hex4(const char *, size_t, size_t, uint32_t *);
int	json_span_eq(const char *, size_t, size_t, size_t, const char *);
int	json_span_get_str(const char *, size_t, size_t, size_t, struct arena *,
	    char **);
int	json_span_int64(const char *, size_t, size_t, int64_t *);

#endif
