/*
 * Copyright (c) 2026 The ocbroker authors
 * SPDX-License-Identifier: ISC (the licence is in the file LICENSE)
 */

/*
 * Reading a large document without making a token per value (GET /provider
 * is 6.5 MB): json_parse_member() skims the root object for one member and
 * parses only that; the json_walk cursor reads the scalars it is asked for
 * and skims every other value.  See json.h for what each checks.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "netproc/arena.h"
#include "netproc/json.h"
#include "netproc/json_bytes.h"

/* ---- skimming a large document for one member ---- */

#if JSON_MAX_DEPTH > 64
#error "skim_value keeps its bracket stack in 64 bits"
#endif

static size_t
skip_ws(const char *s, size_t len, size_t i)
{
	while (i < len && is_ws(s[i]))
		i++;
	return i;
}

/*
 * s[*ip] is an opening quote: moves *ip past the closing one.  Escapes must
 * be JSON's (jsmn checks the same); a NUL or the end of the input first is
 * an error.  Control characters and UTF-8 are not looked at: a skimmed
 * string is never read (a key is compared with json_span_eq(), which checks).
 */
static int
skim_str(const char *s, size_t len, size_t *ip)
{
	uint32_t	v;
	size_t		i = *ip + 1;

	for (;;) {
		i = str_stop(s, len, i);
		if (i >= len || s[i] == '\0')
			return -1;
		if (s[i] == '"') {
			*ip = i + 1;
			return 0;
		}
		/* A backslash. */
		if (++i >= len)
			return -1;
		switch (s[i]) {
		case '"': case '\\': case '/':
		case 'b': case 'f': case 'n': case 'r': case 't':
			i++;
			break;
		case 'u':
			if (json_hex4(s, i + 1, len, &v) == -1)
				return -1;
			i += 5;
			break;
		default:
			return -1;
		}
	}
}

/* Skimming an array or object. */
struct skim {
	uint64_t	stack;		/* bit 0: the innermost open bracket is '{' */
	int		d;		/* brackets open */
	int		depth;		/* brackets around the container */
	int		in_str;
};

static int
skim_open(struct skim *k, char c)
{
	if (k->depth + ++k->d > JSON_MAX_DEPTH) {
		errno = E2BIG;
		return -1;
	}
	k->stack = k->stack << 1 | (c == '{');
	return 0;
}

/* 1 when the container closed, -1 when c does not close what is open. */
static int
skim_close(struct skim *k, char c)
{
	if ((k->stack & 1) != (c == '}'))
		return -1;
	k->stack >>= 1;
	return --k->d == 0;
}

/*
 * One step, byte by byte: a run of plain string bytes, an escape, or one
 * byte outside strings.  1 when the container closed, 0 to go on, -1 when
 * the input is invalid.  *ip moves past what was read.
 */
static int
skim_step(struct skim *k, const char *s, size_t len, size_t *ip)
{
	uint32_t	v;
	size_t		i = *ip;
	uint8_t		c;
	int		r = 0;

	if (k->in_str) {
		i = str_stop(s, len, i);
		if (i >= len || s[i] == '\0')
			return -1;
		if (s[i] == '\\') {
			if (++i >= len)
				return -1;
			switch (s[i]) {
			case '"': case '\\': case '/':
			case 'b': case 'f': case 'n': case 'r': case 't':
				break;
			case 'u':
				if (json_hex4(s, i + 1, len, &v) == -1)
					return -1;
				i += 4;
				break;
			default:
				return -1;
			}
		} else
			k->in_str = 0;
		*ip = i + 1;
		return 0;
	}
	c = (uint8_t)s[i];
	switch (bclass[c] & B_ROLE) {
	case B_QUOTE:
		k->in_str = 1;
		break;
	case B_OPEN:
		r = skim_open(k, (char)c);
		break;
	case B_CLOSE:
		r = skim_close(k, (char)c);
		break;
	default:
		if (!(bclass[c] & F_SKIM))
			return -1;
		break;
	}
	*ip = i + 1;
	return r;
}

#ifdef JSON_SSE2
#define SKIM_BLOCK	64

/* Bit masks of a block of SKIM_BLOCK bytes, bit n for byte n. */
struct skim_masks {
	uint64_t	special;	/* '\\' or NUL */
	uint64_t	quote;
	uint64_t	open;		/* '[' '{' */
	uint64_t	close;		/* ']' '}' */
	uint64_t	curly;		/* '{' '}' */
	uint64_t	ok;		/* whitespace, : , and the bytes of literals */
};

static inline __m128i
eq8(__m128i v, char c)
{
	return _mm_cmpeq_epi8(v, _mm_set1_epi8(c));
}

/* lo <= byte <= hi (ASCII): v - lo - 128 wraps [lo, hi] to the bottom. */
static inline __m128i
in_range(__m128i v, char lo, char hi)
{
	return _mm_cmplt_epi8(_mm_sub_epi8(v, _mm_set1_epi8((char)(lo + 128))),
	    _mm_set1_epi8((char)(hi - lo - 127)));
}

static inline uint64_t
bits(__m128i v, unsigned shift)
{
	return (uint64_t)(unsigned)_mm_movemask_epi8(v) << shift;
}

static inline __attribute__((always_inline)) void
skim_masks16(const char *p, unsigned shift, struct skim_masks *m)
{
	__m128i	v, ob, cb, ok;

	v = _mm_loadu_si128((const __m128i *)(const void *)p);
	m->special |= bits(_mm_or_si128(eq8(v, '\\'), eq8(v, '\0')), shift);
	m->quote |= bits(eq8(v, '"'), shift);
	ob = eq8(v, '{');
	cb = eq8(v, '}');
	m->open |= bits(_mm_or_si128(eq8(v, '['), ob), shift);
	m->close |= bits(_mm_or_si128(eq8(v, ']'), cb), shift);
	m->curly |= bits(_mm_or_si128(ob, cb), shift);
	/* [\t\n\r ] [+,-.] [0-9:] E a [ef] l n [r-u] */
	ok = _mm_or_si128(_mm_or_si128(
	    _mm_or_si128(eq8(v, ' '), in_range(v, '\t', '\n')),
	    _mm_or_si128(eq8(v, '\r'), in_range(v, '+', '.'))),
	    _mm_or_si128(_mm_or_si128(in_range(v, '0', ':'), eq8(v, 'E')),
	    _mm_or_si128(eq8(v, 'a'), in_range(v, 'e', 'f'))));
	ok = _mm_or_si128(ok, _mm_or_si128(_mm_or_si128(eq8(v, 'l'),
	    eq8(v, 'n')), in_range(v, 'r', 'u')));
	m->ok |= bits(ok, shift);
}

/*
 * The same as skim_step() on the SKIM_BLOCK bytes at s[i] (i + SKIM_BLOCK
 * <= len), with bit masks: returns 0 when all were read and 1 when the
 * container closed at byte *endp, else 2 and leaves the block to
 * skim_step(): when it holds a backslash or a NUL, and when it is invalid
 * (so that the error, and errno, are those of the first bad byte).  With no
 * escapes, a byte is in a string when an odd number of quotes come before it
 * or at it (counting the one the block starts inside of); the closing quote
 * is not.
 */
static int
skim_block(struct skim *k, const char *s, size_t i, size_t *endp)
{
	struct skim_masks	m;
	uint64_t		p, in, out, open, br, bad, x, o, cu;
	uint64_t		stack = k->stack;
	unsigned		b;
	int			d = k->d, err = 0, deep = 0;

	memset(&m, 0, sizeof(m));
	skim_masks16(s + i, 0, &m);
	skim_masks16(s + i + 16, 16, &m);
	skim_masks16(s + i + 32, 32, &m);
	skim_masks16(s + i + 48, 48, &m);
	if (m.special != 0)
		return 2;
	p = m.quote ^ m.quote << 1;
	p ^= p << 2;
	p ^= p << 4;
	p ^= p << 8;
	p ^= p << 16;
	p ^= p << 32;
	in = k->in_str ? ~p : p;	/* in a string after the byte */
	out = ~(in | m.quote);
	open = m.open & out;
	br = (m.open | m.close) & out;
	bad = out & ~br & ~m.ok;
	/* Brackets in order, without a branch on which kind. */
	for (x = br; x != 0; x &= x - 1) {
		b = (unsigned)__builtin_ctzll(x);
		o = open >> b & 1;
		cu = m.curly >> b & 1;
		err |= (int)(~o & (stack ^ cu) & 1);	/* a close must match */
		stack = o ? stack << 1 | cu : stack >> 1;
		d += 2 * (int)o - 1;
		deep |= k->depth + d > JSON_MAX_DEPTH;
		if (d == 0) {
			/* The bytes after it are the caller's. */
			if (b < 63)
				bad &= (2ULL << b) - 1;
			if (err || deep || bad != 0)
				return 2;
			*endp = b;
			return 1;
		}
	}
	if (err || deep || bad != 0)
		return 2;
	k->stack = stack;
	k->d = d;
	k->in_str = (int)(in >> 63);
	return 0;
}
#endif

/* s[*ip] opens an array or an object: moves *ip past its end. */
static int
skim_container(const char *s, size_t len, size_t *ip, int depth)
{
	struct skim	k;
	size_t		i = *ip, end;
	int		r;

	memset(&k, 0, sizeof(k));
	k.depth = depth;
	/* The opening bracket, byte by byte: i is where the loop starts. */
	if ((r = skim_step(&k, s, len, &i)) == -1)
		return -1;
	/* Empty ({} [], often): closed at once, without a block. */
	end = skip_ws(s, len, i);
	if (end < len && s[end] == ((k.stack & 1) ? '}' : ']')) {
		*ip = end + 1;
		return 0;
	}
	for (;;) {
#ifdef JSON_SSE2
		if (len - i >= SKIM_BLOCK) {
			switch (skim_block(&k, s, i, &end)) {
			case 0:
				i += SKIM_BLOCK;
				continue;
			case 1:
				*ip = i + end + 1;
				return 0;
			default:
				break;
			}
			/* An escape, a NUL or an error: byte by byte. */
			for (end = i + SKIM_BLOCK; i < end; ) {
				if ((r = skim_step(&k, s, len, &i)) == -1)
					return -1;
				if (r == 1) {
					*ip = i;
					return 0;
				}
			}
			continue;
		}
#endif
		if (i >= len || (r = skim_step(&k, s, len, &i)) == -1)
			return -1;
		if (r == 1) {
			*ip = i;
			return 0;
		}
	}
}

/*
 * Moves *ip past the value that starts at s[*ip] (i < len), which has depth
 * brackets around it.  A string is skimmed as above; a literal must be
 * valid (json_literal_valid()).  In an array or object, only the brackets and
 * the strings are followed: brackets must pair up ('[' with ']', '{' with
 * '}') within JSON_MAX_DEPTH, strings as above, and every other byte must be
 * one JSON can have there: whitespace, ':' ',' and the characters of
 * literals ([-+.0-9Eaeflnrstu]).  The order of keys, values and
 * separators, and the spelling of the literals, are not checked inside.
 */
static int
skim_value(const char *s, size_t len, size_t *ip, int depth)
{
	size_t	i = *ip, e;

	switch (bclass[(uint8_t)s[i]] & B_ROLE) {
	case B_QUOTE:
		return skim_str(s, len, ip);
	case B_LIT:
		for (e = i + 1; e < len && !(bclass[(uint8_t)s[e]] & F_DELIM);
		    e++)
			;
		if (!json_literal_valid(s + i, e - i))
			return -1;
		*ip = e;
		return 0;
	case B_OPEN:
		return skim_container(s, len, ip, depth);
	default:
		return -1;
	}
}

int
json_parse_member(const void *data, size_t len, const char *key,
    struct json **jp)
{
	const char	*s = data;
	size_t		 i, ks, ke, vs = 0, ve = 0;
	int		 found = 0;

	*jp = NULL;
	if (len > JSON_MAX_LEN) {
		errno = E2BIG;
		return -1;
	}
	i = skip_ws(s, len, 0);
	if (i == len || s[i] != '{') {
		/* Not an object: checked whole, as any document. */
		if (json_parse(data, len, jp) == -1)
			return -1;
		json_free(*jp);
		*jp = NULL;
		errno = ENOENT;
		return -1;
	}
	/* The root object itself is read strictly (RFC 8259). */
	errno = EINVAL;
	i = skip_ws(s, len, i + 1);
	if (i < len && s[i] == '}')
		i++;
	else {
		for (;;) {
			if (i >= len || s[i] != '"')
				return -1;
			ks = i;
			if (skim_str(s, len, &i) == -1)
				return -1;
			ke = i;
			i = skip_ws(s, len, i);
			if (i >= len || s[i] != ':')
				return -1;
			i = skip_ws(s, len, i + 1);
			if (i >= len)
				return -1;
			if (!found && json_span_eq(s, len, ks + 1, ke - 1, key)) {
				found = 1;
				vs = i;
				if (skim_value(s, len, &i, 1) == -1)
					return -1;
				ve = i;
			} else if (skim_value(s, len, &i, 1) == -1)
				return -1;
			i = skip_ws(s, len, i);
			if (i < len && s[i] == ',') {
				i = skip_ws(s, len, i + 1);
				continue;
			}
			if (i < len && s[i] == '}') {
				i++;
				break;
			}
			return -1;
		}
	}
	if (skip_ws(s, len, i) != len)
		return -1;
	if (!found) {
		errno = ENOENT;
		return -1;
	}
	return json_parse(s + vs, ve - vs, jp);
}

/* ---- walking a large document without tokens ---- */

static int
walk_fail(struct json_walk *w, int err)
{
	w->failed = 1;
	errno = err;
	return -1;
}

/* A value of another type than asked for: it stays at the cursor. */
static int
walk_wrong(void)
{
	errno = EDOM;
	return -1;
}

int
json_walk_init(struct json_walk *w, const void *data, size_t len, int depth)
{
	memset(w, 0, sizeof(*w));
	w->s = data;
	w->len = len;
	w->base = depth;
	w->key = 1;	/* no key */
	if (len > JSON_MAX_LEN || depth < 0 || depth > JSON_MAX_DEPTH)
		return walk_fail(w, E2BIG);
	if ((w->i = skip_ws(w->s, len, 0)) == len)
		return walk_fail(w, EINVAL);
	w->pending = 1;
	return 0;
}

int
json_walk_type(const struct json_walk *w)
{
	if (w->failed || !w->pending)
		return -1;
	switch (w->s[w->i]) {
	case '{':
		return JSON_OBJECT;
	case '[':
		return JSON_ARRAY;
	case '"':
		return JSON_STRING;
	default:
		return (bclass[(uint8_t)w->s[w->i]] & B_ROLE) == B_LIT ?
		    lit_type(w->s[w->i]) : -1;
	}
}

int
json_walk_enter(struct json_walk *w)
{
	char	c;

	if (json_walk_type(w) == -1)
		return walk_fail(w, EINVAL);
	c = w->s[w->i];
	if (c != '{' && c != '[')
		return walk_wrong();
	if (w->base + w->depth + 1 > JSON_MAX_DEPTH)
		return walk_fail(w, E2BIG);
	w->stack = w->stack << 1 | (c == '{');
	w->depth++;
	w->first = 1;
	w->pending = 0;
	w->key = 1;	/* no key yet */
	w->key_end = 0;
	w->i++;
	return 0;
}

/*
 * Moves the cursor past the pending value (checked as skim_value() checks
 * it): json_walk_span()'s work, and json_walk_next()'s for a value left
 * unread.
 */
static inline int
walk_over(struct json_walk *w)
{
	size_t	i = w->i;

	errno = EINVAL;
	/* A string, the usual value, without skim_value()'s dispatch. */
	if ((w->s[i] == '"' ? skim_str(w->s, w->len, &i) :
	    skim_value(w->s, w->len, &i, w->base + w->depth)) == -1)
		return walk_fail(w, errno == E2BIG ? E2BIG : EINVAL);
	w->i = i;
	w->pending = 0;
	return 0;
}

int
json_walk_skip(struct json_walk *w)
{
	size_t	off, len;

	return json_walk_span(w, &off, &len);
}

int
json_walk_span(struct json_walk *w, size_t *offp, size_t *lenp)
{
	size_t	start = w->i;

	if (w->failed || !w->pending)
		return walk_fail(w, EINVAL);
	if (walk_over(w) == -1)
		return -1;
	*offp = start;
	*lenp = w->i - start;
	return 0;
}

int
json_walk_next(struct json_walk *w)
{
	const char	*s = w->s;
	size_t		 i;
	int		 obj;

	if (w->failed || w->depth == 0)
		return walk_fail(w, EINVAL);
	if (w->pending && walk_over(w) == -1)
		return -1;
	obj = (int)(w->stack & 1);
	i = skip_ws(s, w->len, w->i);
	if (i >= w->len)
		return walk_fail(w, EINVAL);
	if (s[i] == (obj ? '}' : ']')) {
		/* After '[', '{' or a value: a ',' always wants a value. */
		w->i = i + 1;
		w->stack >>= 1;
		w->depth--;
		w->first = 0;
		w->key = 1;	/* the outer member's key is not kept */
		w->key_end = 0;
		return 0;
	}
	if (!w->first) {
		if (s[i] != ',')
			return walk_fail(w, EINVAL);
		i = skip_ws(s, w->len, i + 1);
	}
	w->first = 0;
	if (obj) {
		if (i >= w->len || s[i] != '"')
			return walk_fail(w, EINVAL);
		w->key = i + 1;
		/*
		 * The usual key is plain: one run of plain bytes up to its
		 * closing quote, then compared as it is.
		 */
		i = key_stop(s, w->len, w->key);
		if (i < w->len && s[i] == '"') {
			w->key_plain = 1;
			i++;
		} else {
			w->key_plain = 0;
			i = w->key - 1;
			if (skim_str(s, w->len, &i) == -1)
				return walk_fail(w, EINVAL);
		}
		w->key_end = i - 1;
		i = skip_ws(s, w->len, i);
		if (i >= w->len || s[i] != ':')
			return walk_fail(w, EINVAL);
		i = skip_ws(s, w->len, i + 1);
	}
	if (i >= w->len)
		return walk_fail(w, EINVAL);
	w->i = i;
	w->pending = 1;
	return 1;
}

/*
 * k[0..len), plain bytes (no NUL), is key: byte by byte, stopping at the
 * first difference, which key's NUL is at the latest.
 */
static inline int
plain_key_eq(const char *k, size_t len, const char *key)
{
	size_t	i;

	for (i = 0; i < len && key[i] == k[i]; i++)
		;
	return i == len && key[len] == '\0';
}

int
json_walk_key_eq(const struct json_walk *w, const char *key)
{
	if (w->failed || w->depth == 0 || !(w->stack & 1) ||
	    w->key_end < w->key)
		return 0;
	if (w->key_plain)
		return plain_key_eq(w->s + w->key, w->key_end - w->key, key);
	return json_span_eq(w->s, w->len, w->key, w->key_end, key);
}

int
json_walk_key_raw(const struct json_walk *w, const char **keyp,
    size_t *lenp)
{
	if (w->failed || w->depth == 0 || !(w->stack & 1) ||
	    w->key_end < w->key)
		return -1;
	if (!w->key_plain)
		return 0;
	*keyp = w->s + w->key;
	*lenp = w->key_end - w->key;
	return 1;
}

int
json_walk_key_pick(const struct json_walk *w, const char *const *keys,
    size_t n)
{
	const char	*k;
	size_t		 i, len;

	if (w->failed || w->depth == 0 || !(w->stack & 1) ||
	    w->key_end < w->key)
		return -1;
	if (!w->key_plain) {
		for (i = 0; i < n; i++)
			if (json_span_eq(w->s, w->len, w->key, w->key_end, keys[i]))
				return (int)i;
		return -1;
	}
	k = w->s + w->key;
	len = w->key_end - w->key;
	for (i = 0; i < n; i++)
		if (plain_key_eq(k, len, keys[i]))
			return (int)i;
	return -1;
}

/*
 * The literal at the cursor: its end in *endp, checked (json_literal_valid()).
 * EDOM when the cursor is at no literal, or at one of another type than
 * want (JSON_BOOL or JSON_NUMBER).
 */
static int
walk_literal(struct json_walk *w, int want, size_t *endp)
{
	const char	*s = w->s;
	size_t		 e;

	if (json_walk_type(w) == -1)
		return walk_fail(w, EINVAL);
	if ((bclass[(uint8_t)s[w->i]] & B_ROLE) != B_LIT)
		return walk_wrong();
	for (e = w->i + 1; e < w->len && !(bclass[(uint8_t)s[e]] & F_DELIM);
	    e++)
		;
	if (!json_literal_valid(s + w->i, e - w->i))
		return walk_fail(w, EINVAL);
	if (lit_type(s[w->i]) != want)
		return walk_wrong();
	*endp = e;
	return 0;
}

/* The value at the cursor was read: the cursor moves to its end e. */
static int
walk_took(struct json_walk *w, size_t e)
{
	w->i = e;
	w->pending = 0;
	return 0;
}

int
json_walk_str(struct json_walk *w, struct arena *a, char **out)
{
	size_t	i;

	switch (json_walk_type(w)) {
	case JSON_STRING:
		break;
	case -1:
		return walk_fail(w, EINVAL);
	default:
		return walk_wrong();
	}
	i = w->i;
	if (skim_str(w->s, w->len, &i) == -1)
		return walk_fail(w, EINVAL);
	/* A raw control character is refused here, as json_get_str() does. */
	errno = EINVAL;
	if (json_span_get_str(w->s, w->len, w->i + 1, i - 1, a, out) == -1)
		return walk_fail(w, errno == ENOMEM ? ENOMEM : EINVAL);
	return walk_took(w, i);
}

int
json_walk_bool(struct json_walk *w, int *v)
{
	size_t	e;

	if (walk_literal(w, JSON_BOOL, &e) == -1)
		return -1;
	*v = w->s[w->i] == 't';
	return walk_took(w, e);
}

int
json_walk_int64(struct json_walk *w, int64_t *v)
{
	const char	*s = w->s;
	uint64_t	 acc = 0;
	size_t		 i, e;

	/*
	 * The usual value: 1 to 18 digits, no leading zero, a delimiter
	 * after them; it cannot overflow.  Anything else, the full check.
	 */
	if (w->pending && !w->failed) {
		i = w->i + (s[w->i] == '-');
		if (i < w->len && s[i] >= '1' && s[i] <= '9') {
			for (e = i; e < w->len && e - i < 18 && is_digit(s[e]);
			    e++)
				acc = acc * 10 + (uint64_t)(s[e] - '0');
			if (e == w->len || (!is_digit(s[e]) &&
			    (bclass[(uint8_t)s[e]] & F_DELIM))) {
				*v = s[w->i] == '-' ? -(int64_t)acc :
				    (int64_t)acc;
				return walk_took(w, e);
			}
		}
	}
	if (walk_literal(w, JSON_NUMBER, &e) == -1)
		return -1;
	/* A fraction, an exponent or an overflow: another type. */
	if (json_span_int64(w->s, w->i, e, v) == -1)
		return walk_wrong();
	return walk_took(w, e);
}

int
json_walk_double(struct json_walk *w, double *v)
{
	char	 num[JSON_NUMBER_MAX + 1], *end;
	size_t	 e, n;
	double	 d;

	if (walk_literal(w, JSON_NUMBER, &e) == -1)
		return -1;
	n = e - w->i;
	if (n > JSON_NUMBER_MAX)
		return walk_wrong();
	/* strtod() wants a NUL: a bounded copy of a valid JSON number. */
	memcpy(num, w->s + w->i, n);
	num[n] = '\0';
	errno = 0;
	d = strtod(num, &end);
	if (end != num + n || !isfinite(d)) {
		errno = ERANGE;
		return -1;
	}
	*v = d;
	return walk_took(w, e);
}

int
json_walk_end(struct json_walk *w)
{
	if (w->failed || w->pending || w->depth != 0 ||
	    skip_ws(w->s, w->len, w->i) != w->len)
		return walk_fail(w, EINVAL);
	return 0;
}
