/*
 * Copyright (c) 2026 The ocbroker authors
 * SPDX-License-Identifier: ISC (the licence is in the file LICENSE)
 */

/*
 * JSON reading on top of jsmn (Debian's header-only jsmn.h); see json.h for
 * the policy.  Parent links make jsmn close a bracket by walking up from the
 * last token (O(depth), bounded by the pre-scan) instead of scanning back over
 * every token before it, which is quadratic on wide documents.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define JSMN_STATIC
#define JSMN_STRICT
#define JSMN_PARENT_LINKS
#include <jsmn.h>

#include "common/utf8.h"
#include "netproc/arena.h"
#include "netproc/json.h"
#include "netproc/json_bytes.h"

struct json {
	const char	*buf;
	size_t		 len;
	jsmntok_t	*tok;		/* &scalar, inl, or heap */
	int		 ntok;
	int		 cap;		/* tokens at heap (json_parse_into's) */
	jsmntok_t	*heap;
	jsmntok_t	 scalar;	/* the token of a scalar document */
	jsmntok_t	 inl[];		/* json_parse's tokens, sized at allocation */
};

/*
 * s[i] is an opening quote: the index of the closing one, or len when
 * there is none (or a NUL comes first).  Escapes are only skipped here;
 * jsmn checks them.
 */
static size_t
str_close(const char *s, size_t len, size_t i)
{
	i++;
	while (i < len) {
		i = str_stop(s, len, i);
		if (i >= len || s[i] == '\0')
			return len;
		if (s[i] == '"')
			return i;
		i += 2;	/* a backslash and what it escapes */
	}
	return len;
}

/*
 * The linear pass before jsmn: bounds the nesting depth (jsmn closes a
 * bracket in O(depth)), refuses NUL bytes (jsmn stops at the first one and
 * would accept a truncated document) and any byte jsmn's strict mode cannot
 * start a token with, checks that strings are closed, and counts the tokens
 * jsmn will make: one per bracket pair, string and literal, split the way
 * jsmn splits them, so that jsmn runs once into an array of that size.
 */
static int
prescan(const char *s, size_t len, int *ntokp)
{
	size_t	i = 0, n = 0;
	int	depth = 0;

	while (i < len) {
		switch (bclass[(uint8_t)s[i]] & B_ROLE) {
		case B_SKIP:
			i++;
			break;
		case B_QUOTE:
			if ((i = str_close(s, len, i)) >= len)
				return -1;
			i++;
			n++;
			break;
		case B_OPEN:
			if (++depth > JSON_MAX_DEPTH) {
				errno = E2BIG;
				return -1;
			}
			i++;
			n++;
			break;
		case B_CLOSE:
			if (depth-- == 0)
				return -1;
			i++;
			break;
		case B_LIT:
			for (i++; i < len && !(bclass[(uint8_t)s[i]] & F_DELIM);
			    i++)
				;
			if (i < len && s[i] == '\0')
				return -1;
			n++;
			break;
		default:
			return -1;
		}
	}
	if (n > JSON_MAX_TOKENS) {
		errno = E2BIG;
		return -1;
	}
	*ntokp = (int)n;
	return 0;
}

/* true, false, null, or a number as RFC 8259 spells it. */
int
json_literal_valid(const char *s, size_t n)
{
	size_t	i = 0;

	if ((n == 4 && memcmp(s, "true", 4) == 0) ||
	    (n == 5 && memcmp(s, "false", 5) == 0) ||
	    (n == 4 && memcmp(s, "null", 4) == 0))
		return 1;
	if (i < n && s[i] == '-')
		i++;
	if (i >= n)
		return 0;
	if (s[i] == '0')
		i++;
	else if (s[i] >= '1' && s[i] <= '9') {
		while (i < n && is_digit(s[i]))
			i++;
	} else
		return 0;
	if (i < n && s[i] == '.') {
		if (++i >= n || !is_digit(s[i]))
			return 0;
		while (i < n && is_digit(s[i]))
			i++;
	}
	if (i < n && (s[i] == 'e' || s[i] == 'E')) {
		if (++i < n && (s[i] == '+' || s[i] == '-'))
			i++;
		if (i >= n || !is_digit(s[i]))
			return 0;
		while (i < n && is_digit(s[i]))
			i++;
	}
	return i == n;
}
/* One linear pass establishing the invariants every accessor relies on. */
static int
validate(const struct json *j, size_t first)
{
	const jsmntok_t	*t, *p;
	size_t		 after;
	int		 i;

	t = &j->tok[0];
	if (t->parent != -1)
		return -1;
	if (t->type == JSMN_STRING) {
		if ((size_t)t->start != first + 1)
			return -1;
		after = (size_t)t->end + 1;
	} else {
		if ((size_t)t->start != first)
			return -1;
		after = (size_t)t->end;
	}
	for (; after < j->len; after++)
		if (!is_ws(j->buf[after]))
			return -1;

	for (i = 0; i < j->ntok; i++) {
		t = &j->tok[i];
		if (t->start < 0 || t->end < t->start ||
		    (size_t)t->end > j->len)
			return -1;
		if (i > 0 && (t->parent < 0 || t->parent >= i ||
		    t->start <= j->tok[i - 1].start))
			return -1;
		p = t->parent >= 0 ? &j->tok[t->parent] : NULL;
		/*
		 * json_next() relies on this: a container's subtree is the
		 * tokens inside its brackets, a key's value is the next token.
		 */
		if (p != NULL) {
			switch (p->type) {
			case JSMN_OBJECT:
			case JSMN_ARRAY:
				if (t->start <= p->start || t->end >= p->end)
					return -1;
				break;
			case JSMN_STRING:
				if (t->parent != i - 1 || t->start <= p->end)
					return -1;
				break;
			default:
				return -1;
			}
		}
		switch (t->type) {
		case JSMN_OBJECT:
		case JSMN_ARRAY:
			break;
		case JSMN_STRING:
			/* A key has one value, any other string none. */
			if (t->size != (p != NULL && p->type == JSMN_OBJECT))
				return -1;
			break;
		case JSMN_PRIMITIVE:
			if (t->size != 0 || !json_literal_valid(j->buf + t->start,
			    (size_t)(t->end - t->start)))
				return -1;
			break;
		default:
			return -1;
		}
		/* Members of an object are keys. */
		if (p != NULL && p->type == JSMN_OBJECT &&
		    t->type != JSMN_STRING)
			return -1;
	}
	return 0;
}

/*
 * Checks and counts data[0..len) (the pre-scan) and finds its first byte.
 * *ntokp is 0 for a scalar document, which jsmn does not see.
 */
static int
prepare(const char *buf, size_t len, size_t *firstp, int *ntokp)
{
	size_t	first;

	if (len > JSON_MAX_LEN) {
		errno = E2BIG;
		return -1;
	}
	errno = EINVAL;
	if (prescan(buf, len, ntokp) == -1)
		return -1;
	for (first = 0; first < len && is_ws(buf[first]); first++)
		;
	if (first == len) {
		errno = EINVAL;
		return -1;
	}
	if (buf[first] != '{' && buf[first] != '[' && buf[first] != '"')
		*ntokp = 0;
	*firstp = first;
	return 0;
}

/*
 * Tokenizes buf (prepare() passed) into tok[0..n), or the scalar token when
 * n is 0, and validates.  j->ntok is set only on success.
 */
static int
fill(struct json *j, const char *buf, size_t len, size_t first,
    jsmntok_t *tok, int n)
{
	jsmn_parser	parser;
	size_t		end;

	j->buf = buf;
	j->len = len;
	j->ntok = 0;
	if (n == 0) {
		/* jsmn's strict mode wants a delimiter after a primitive. */
		for (end = first; end < len && !is_ws(buf[end]); end++)
			;
		j->scalar.type = JSMN_PRIMITIVE;
		j->scalar.start = (int)first;
		j->scalar.end = (int)end;
		j->scalar.size = 0;
		j->scalar.parent = -1;
		j->tok = &j->scalar;
		n = 1;
	} else {
		/*
		 * One pass: the pre-scan counted exactly the tokens jsmn makes
		 * of a document it accepts, so running out of them (or making
		 * fewer) means the document is invalid.
		 */
		jsmn_init(&parser);
		if (jsmn_parse(&parser, buf, len, tok, (unsigned int)n) != n)
			goto bad;
		j->tok = tok;
	}
	j->ntok = n;
	if (validate(j, first) == -1)
		goto bad;
	return 0;
bad:
	j->ntok = 0;
	errno = EINVAL;
	return -1;
}

int
json_parse(const void *data, size_t len, struct json **jp)
{
	struct json	*j;
	const char	*buf = data;
	size_t		 first;
	int		 n;

	*jp = NULL;
	if (prepare(buf, len, &first, &n) == -1)
		return -1;
	/* n <= JSON_MAX_TOKENS: no overflow. */
	if ((j = malloc(sizeof(*j) + (size_t)n * sizeof(j->inl[0]))) == NULL) {
		errno = ENOMEM;
		return -1;
	}
	j->cap = 0;
	j->heap = NULL;
	if (fill(j, buf, len, first, j->inl, n) == -1) {
		free(j);
		errno = EINVAL;
		return -1;
	}
	*jp = j;
	return 0;
}

struct json *
json_new(void)
{
	struct json	*j;

	if ((j = calloc(1, sizeof(*j))) == NULL)
		return NULL;
	j->tok = &j->scalar;
	return j;
}

int
json_parse_into(struct json *j, const void *data, size_t len)
{
	const char	*buf = data;
	size_t		 first, cap;
	int		 n;

	json_clear(j);
	if (prepare(buf, len, &first, &n) == -1)
		return -1;
	if (n > j->cap) {
		/* Contents need not survive: free and allocate. */
		free(j->heap);
		j->heap = NULL;
		j->cap = 0;
		cap = (size_t)n;
		if (cap < JSON_KEEP_TOKENS / 16)
			cap = JSON_KEEP_TOKENS / 16;
		if ((j->heap = malloc(cap * sizeof(*j->heap))) == NULL) {
			errno = ENOMEM;
			return -1;
		}
		j->cap = (int)cap;
	}
	return fill(j, buf, len, first, j->heap, n);
}

void
json_clear(struct json *j)
{
	if (j == NULL)
		return;
	j->ntok = 0;
	j->tok = &j->scalar;
	j->buf = NULL;
	j->len = 0;
	if (j->cap > JSON_KEEP_TOKENS) {
		free(j->heap);
		j->heap = NULL;
		j->cap = 0;
	}
}

void
json_free(struct json *j)
{
	if (j == NULL)
		return;
	free(j->heap);
	free(j);
}

int
json_ntokens(const struct json *j)
{
	return j->ntok;
}

static const jsmntok_t *
tok(const struct json *j, int t)
{
	if (j == NULL || t < 0 || t >= j->ntok)
		return NULL;
	return &j->tok[t];
}

int
json_type(const struct json *j, int t)
{
	const jsmntok_t	*k;

	if ((k = tok(j, t)) == NULL)
		return -1;
	switch (k->type) {
	case JSMN_OBJECT:
		return JSON_OBJECT;
	case JSMN_ARRAY:
		return JSON_ARRAY;
	case JSMN_STRING:
		return JSON_STRING;
	default:
		return lit_type(j->buf[k->start]);	/* a primitive */
	}
}

int
json_len(const struct json *j, int t)
{
	const jsmntok_t	*k;

	if ((k = tok(j, t)) == NULL ||
	    (k->type != JSMN_OBJECT && k->type != JSMN_ARRAY))
		return 0;
	return k->size;
}

int
json_next(const struct json *j, int t)
{
	const jsmntok_t	*k;
	int		 lo, hi, mid;

	if ((k = tok(j, t)) == NULL)
		return -1;
	if (k->type == JSMN_STRING && k->size == 1) {
		/* A key: skip its value too (a value is never a key). */
		k = &j->tok[++t];
	}
	if (k->type != JSMN_OBJECT && k->type != JSMN_ARRAY)
		return t + 1;
	/*
	 * Tokens are in document order and a subtree is exactly the tokens
	 * that start before its closing bracket: binary search, O(log n).
	 */
	lo = t + 1;
	hi = j->ntok;
	/* At most end - start - 2 tokens start inside the brackets. */
	if (hi - t > k->end - k->start)
		hi = t + (k->end - k->start);
	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (j->tok[mid].start < k->end)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

int
json_hex4(const char *s, size_t i, size_t end, uint32_t *v)
{
	size_t	k;
	char	c;

	if (end - i < 4)
		return -1;
	*v = 0;
	for (k = 0; k < 4; k++) {
		c = s[i + k];
		*v <<= 4;
		if (c >= '0' && c <= '9')
			*v |= (uint32_t)(c - '0');
		else if (c >= 'a' && c <= 'f')
			*v |= (uint32_t)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			*v |= (uint32_t)(c - 'A' + 10);
		else
			return -1;
	}
	return 0;
}

size_t
json_utf8_next(const uint8_t *s, size_t len, uint32_t *cpp)
{
	uint32_t	cp, min;
	size_t		n, k;
	uint8_t		c = s[0];

	if (c < 0x80) {
		*cpp = c;
		return 1;
	}
	if (c >= 0xc2 && c <= 0xdf) {
		n = 1; cp = c & 0x1f; min = 0x80;
	} else if ((c & 0xf0) == 0xe0) {
		n = 2; cp = c & 0x0f; min = 0x800;
	} else if (c >= 0xf0 && c <= 0xf4) {
		n = 3; cp = c & 0x07; min = 0x10000;
	} else
		goto bad;
	if (len - 1 < n)
		goto bad;
	for (k = 1; k <= n; k++) {
		if ((s[k] & 0xc0) != 0x80)
			goto bad;
		cp = (cp << 6) | (s[k] & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		goto bad;
	*cpp = cp;
	return n + 1;
bad:
	*cpp = 0xfffd;
	return 1;
}

/*
 * Decodes the code point of a JSON string body at s[*ip] (*ip < end) and
 * advances *ip.  -1 on a bad escape or a raw control character.
 */
static int
str_next(const char *s, size_t *ip, size_t end, uint32_t *cpp)
{
	size_t		i = *ip;
	uint32_t	u, lo;
	uint8_t		c = (uint8_t)s[i];

	if (c < 0x20)
		return -1;
	if (c != '\\') {
		i += json_utf8_next((const uint8_t *)s + i, end - i, cpp);
		*ip = i;
		return 0;
	}
	if (++i >= end)
		return -1;
	switch (s[i++]) {
	case '"':
		*cpp = '"';
		break;
	case '\\':
		*cpp = '\\';
		break;
	case '/':
		*cpp = '/';
		break;
	case 'b':
		*cpp = '\b';
		break;
	case 'f':
		*cpp = '\f';
		break;
	case 'n':
		*cpp = '\n';
		break;
	case 'r':
		*cpp = '\r';
		break;
	case 't':
		*cpp = '\t';
		break;
	case 'u':
		if (json_hex4(s, i, end, &u) == -1)
			return -1;
		i += 4;
		if (u >= 0xd800 && u <= 0xdbff && end - i >= 6 &&
		    s[i] == '\\' && s[i + 1] == 'u' &&
		    json_hex4(s, i + 2, end, &lo) == 0 &&
		    lo >= 0xdc00 && lo <= 0xdfff) {
			u = 0x10000 + ((u - 0xd800) << 10) + (lo - 0xdc00);
			i += 6;
		} else if ((u >= 0xd800 && u <= 0xdfff) || u == 0)
			u = 0xfffd;	/* lone surrogate, or NUL */
		*cpp = u;
		break;
	default:
		return -1;
	}
	*ip = i;
	return 0;
}

/* json_str_decode() of the string body buf[i..end) (buf has len bytes). */
static int
span_decode(const char *buf, size_t len, size_t i, size_t end, char *dst,
    size_t dstsize, size_t *lenp)
{
	uint8_t		 enc[4];
	uint32_t	 cp;
	size_t		 r, n = 0, w;

	while (i < end) {
		/* Runs of plain ASCII are copied as they are. */
		r = plain_run(buf, len, i, end);
		if (r > i) {
			if (dst != NULL) {
				if (dstsize - n <= r - i) {
					errno = EINVAL;
					return -1;
				}
				memcpy(dst + n, buf + i, r - i);
			}
			n += r - i;
			i = r;
			continue;
		}
		if (str_next(buf, &i, end, &cp) == -1) {
			errno = EINVAL;
			return -1;
		}
		w = utf8_encode(cp, enc);
		if (dst != NULL) {
			if (dstsize - n <= w) {
				errno = EINVAL;
				return -1;
			}
			memcpy(dst + n, enc, w);
		}
		n += w;
	}
	if (dst != NULL) {
		if (dstsize == 0) {
			errno = EINVAL;
			return -1;
		}
		dst[n] = '\0';
	}
	if (lenp != NULL)
		*lenp = n;
	return 0;
}

int
json_str_decode(const struct json *j, int t, char *dst, size_t dstsize,
    size_t *lenp)
{
	const jsmntok_t	*k;

	if ((k = tok(j, t)) == NULL || k->type != JSMN_STRING) {
		errno = EINVAL;
		return -1;
	}
	return span_decode(j->buf, j->len, (size_t)k->start, (size_t)k->end,
	    dst, dstsize, lenp);
}

/* json_get_str() of the string body buf[i..end). */
int
json_span_get_str(const char *buf, size_t len, size_t i, size_t end,
    struct arena *a, char **out)
{
	size_t	 n;
	char	*s;

	/* Plain ASCII, the usual string: a copy. */
	if (plain_run(buf, len, i, end) == end) {
		n = end - i;
		if ((s = arena_alloc_str(a, n + 1)) == NULL)
			return -1;
		memcpy(s, buf + i, n);
		s[n] = '\0';
		*out = s;
		return 0;
	}
	if (span_decode(buf, len, i, end, NULL, 0, &n) == -1)
		return -1;
	if ((s = arena_alloc_str(a, n + 1)) == NULL)
		return -1;
	if (span_decode(buf, len, i, end, s, n + 1, &n) == -1)
		return -1;
	*out = s;
	return 0;
}

int
json_get_str(const struct json *j, int t, struct arena *a, char **out)
{
	const jsmntok_t	*k;

	if ((k = tok(j, t)) == NULL || k->type != JSMN_STRING) {
		errno = EINVAL;
		return -1;
	}
	return json_span_get_str(j->buf, j->len, (size_t)k->start, (size_t)k->end,
	    a, out);
}

/*
 * 1 when the string body buf[i..end) decodes to exactly s (buf has len
 * bytes).
 */
int
json_span_eq(const char *buf, size_t len, size_t i, size_t end, const char *s)
{
	uint8_t		 enc[4];
	uint32_t	 cp;
	size_t		 n = 0, w;

	/* Plain ASCII, the usual key: compared as it is (no NUL in buf). */
	if (plain_run(buf, len, i, end) == end)
		return strncmp(s, buf + i, end - i) == 0 && s[end - i] == '\0';
	while (i < end) {
		/* Fast path: plain ASCII, the usual key. */
		if (plain(buf[i])) {
			if (s[n] != buf[i])
				return 0;
			n++;
			i++;
			continue;
		}
		if (str_next(buf, &i, end, &cp) == -1)
			return 0;
		w = utf8_encode(cp, enc);
		/* strncmp: stops at the end of s; enc holds no NUL. */
		if (strncmp(s + n, (const char *)enc, w) != 0)
			return 0;
		n += w;
	}
	return s[n] == '\0';
}

int
json_str_eq(const struct json *j, int t, const char *s)
{
	const jsmntok_t	*k;

	if ((k = tok(j, t)) == NULL || k->type != JSMN_STRING)
		return 0;
	return json_span_eq(j->buf, j->len, (size_t)k->start, (size_t)k->end, s);
}

int
json_raw(const struct json *j, int t, size_t *offp, size_t *lenp)
{
	const jsmntok_t	*k;

	if ((k = tok(j, t)) == NULL)
		return -1;
	if (k->type == JSMN_STRING) {
		/* jsmn's string token is the body, without the quotes. */
		*offp = (size_t)k->start - 1;
		*lenp = (size_t)(k->end - k->start) + 2;
	} else {
		*offp = (size_t)k->start;
		*lenp = (size_t)(k->end - k->start);
	}
	return 0;
}

int
json_obj_get(const struct json *j, int obj, const char *key)
{
	int	i, n, k;

	if (json_type(j, obj) != JSON_OBJECT)
		return -1;
	n = json_len(j, obj);
	for (i = 0, k = obj + 1; i < n; i++, k = json_next(j, k))
		if (json_str_eq(j, k, key))
			return k + 1;
	return -1;
}

void
json_obj_pick(const struct json *j, int obj, const char *const *keys,
    int *toks, size_t n)
{
	size_t	w, left = n;
	int	i, len, k;

	for (w = 0; w < n; w++)
		toks[w] = -1;
	len = json_type(j, obj) == JSON_OBJECT ? json_len(j, obj) : 0;
	for (i = 0, k = obj + 1; i < len && left > 0; i++, k = json_next(j, k)) {
		for (w = 0; w < n; w++) {
			if (toks[w] == -1 && json_str_eq(j, k, keys[w])) {
				toks[w] = k + 1;
				left--;
				break;
			}
		}
	}
}

/* The valid JSON number s[i..end) as an int64. */
int
json_span_int64(const char *s, size_t i, size_t end, int64_t *v)
{
	uint64_t	 acc = 0, limit;
	int		 neg = 0;

	if (s[i] == '-') {
		neg = 1;
		i++;
	}
	limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
	for (; i < end; i++) {
		if (!is_digit(s[i])) {
			errno = EINVAL;	/* fraction or exponent */
			return -1;
		}
		if (acc > (limit - (uint64_t)(s[i] - '0')) / 10) {
			errno = ERANGE;
			return -1;
		}
		acc = acc * 10 + (uint64_t)(s[i] - '0');
	}
	if (neg)
		*v = acc == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)acc;
	else
		*v = (int64_t)acc;
	return 0;
}

int
json_get_int64(const struct json *j, int t, int64_t *v)
{
	if (json_type(j, t) != JSON_NUMBER) {
		errno = EINVAL;
		return -1;
	}
	return json_span_int64(j->buf, (size_t)j->tok[t].start,
	    (size_t)j->tok[t].end, v);
}

int
json_get_bool(const struct json *j, int t, int *v)
{
	if (json_type(j, t) != JSON_BOOL) {
		errno = EINVAL;
		return -1;
	}
	*v = j->buf[j->tok[t].start] == 't';
	return 0;
}
