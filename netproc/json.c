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

/* SSE2 is part of x86-64; JSON_NO_SIMD builds the byte-by-byte paths only. */
#if defined(__SSE2__) && !defined(JSON_NO_SIMD)
#define JSON_SSE2	1
#include <emmintrin.h>
#endif

#include "common/utf8.h"
#include "netproc/arena.h"
#include "netproc/json.h"

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

static int
is_ws(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static int
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
static int
literal_valid(const char *s, size_t n)
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
			if (t->size != 0 || !literal_valid(j->buf + t->start,
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
		break;
	}
	switch (j->buf[k->start]) {
	case 't':
	case 'f':
		return JSON_BOOL;
	case 'n':
		return JSON_NULL;
	default:
		return JSON_NUMBER;
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

/* A string byte that stands for itself. */
static int
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

static int
hex4(const char *s, size_t i, size_t end, uint32_t *v)
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
		if (hex4(s, i, end, &u) == -1)
			return -1;
		i += 4;
		if (u >= 0xd800 && u <= 0xdbff && end - i >= 6 &&
		    s[i] == '\\' && s[i + 1] == 'u' &&
		    hex4(s, i + 2, end, &lo) == 0 &&
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
static int
span_get_str(const char *buf, size_t len, size_t i, size_t end,
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
	return span_get_str(j->buf, j->len, (size_t)k->start, (size_t)k->end,
	    a, out);
}

/*
 * 1 when the string body buf[i..end) decodes to exactly s (buf has len
 * bytes).
 */
static int
span_eq(const char *buf, size_t len, size_t i, size_t end, const char *s)
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
	return span_eq(j->buf, j->len, (size_t)k->start, (size_t)k->end, s);
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
static int
span_int64(const char *s, size_t i, size_t end, int64_t *v)
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
	return span_int64(j->buf, (size_t)j->tok[t].start,
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
 * string is never read (a key is compared with span_eq(), which checks).
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
			if (hex4(s, i + 1, len, &v) == -1)
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
				if (hex4(s, i + 1, len, &v) == -1)
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
 * valid (literal_valid()).  In an array or object, only the brackets and
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
		if (!literal_valid(s + i, e - i))
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
			if (!found && span_eq(s, len, ks + 1, ke - 1, key)) {
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
	case 't':
	case 'f':
		return JSON_BOOL;
	case 'n':
		return JSON_NULL;
	default:
		return (bclass[(uint8_t)w->s[w->i]] & B_ROLE) == B_LIT ?
		    JSON_NUMBER : -1;
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

int
json_walk_skip(struct json_walk *w)
{
	size_t	off, len;

	return json_walk_span(w, &off, &len);
}

int
json_walk_span(struct json_walk *w, size_t *offp, size_t *lenp)
{
	size_t	i;

	if (w->failed || !w->pending)
		return walk_fail(w, EINVAL);
	i = w->i;
	errno = EINVAL;
	if (skim_value(w->s, w->len, &i, w->base + w->depth) == -1)
		return walk_fail(w, errno == E2BIG ? E2BIG : EINVAL);
	*offp = w->i;
	*lenp = i - w->i;
	w->i = i;
	w->pending = 0;
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
	if (w->pending && json_walk_skip(w) == -1)
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

int
json_walk_key_eq(const struct json_walk *w, const char *key)
{
	if (w->failed || w->depth == 0 || !(w->stack & 1) ||
	    w->key_end < w->key)
		return 0;
	if (w->key_plain)
		return (w->key == w->key_end || key[0] == w->s[w->key]) &&
		    strncmp(key, w->s + w->key, w->key_end - w->key) == 0 &&
		    key[w->key_end - w->key] == '\0';
	return span_eq(w->s, w->len, w->key, w->key_end, key);
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
			if (span_eq(w->s, w->len, w->key, w->key_end, keys[i]))
				return (int)i;
		return -1;
	}
	/* One pass over the keys: the first byte tells most apart. */
	k = w->s + w->key;
	len = w->key_end - w->key;
	for (i = 0; i < n; i++)
		if ((len == 0 || keys[i][0] == k[0]) &&
		    strncmp(keys[i], k, len) == 0 && keys[i][len] == '\0')
			return (int)i;
	return -1;
}

/*
 * The literal at the cursor: its end in *endp, checked (literal_valid()).
 * EDOM when the cursor is at no literal.
 */
static int
walk_literal(struct json_walk *w, size_t *endp)
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
	if (!literal_valid(s + w->i, e - w->i))
		return walk_fail(w, EINVAL);
	*endp = e;
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
	if (span_get_str(w->s, w->len, w->i + 1, i - 1, a, out) == -1)
		return walk_fail(w, errno == ENOMEM ? ENOMEM : EINVAL);
	w->i = i;
	w->pending = 0;
	return 0;
}

int
json_walk_bool(struct json_walk *w, int *v)
{
	size_t	e;
	char	c;

	if (walk_literal(w, &e) == -1)
		return -1;
	c = w->s[w->i];
	if (c != 't' && c != 'f')
		return walk_wrong();
	*v = c == 't';
	w->i = e;
	w->pending = 0;
	return 0;
}

int
json_walk_int64(struct json_walk *w, int64_t *v)
{
	size_t	e;
	char	c;

	if (walk_literal(w, &e) == -1)
		return -1;
	c = w->s[w->i];
	if (c == 't' || c == 'f' || c == 'n')
		return walk_wrong();
	/* A fraction, an exponent or an overflow: another type. */
	if (span_int64(w->s, w->i, e, v) == -1)
		return walk_wrong();
	w->i = e;
	w->pending = 0;
	return 0;
}

int
json_walk_double(struct json_walk *w, double *v)
{
	char	 num[JSON_NUMBER_MAX + 1], *end;
	size_t	 e, n;
	double	 d;
	char	 c;

	if (walk_literal(w, &e) == -1)
		return -1;
	c = w->s[w->i];
	n = e - w->i;
	if (c == 't' || c == 'f' || c == 'n' || n > JSON_NUMBER_MAX)
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
	w->i = e;
	w->pending = 0;
	return 0;
}

int
json_walk_end(struct json_walk *w)
{
	if (w->failed || w->pending || w->depth != 0 ||
	    skip_ws(w->s, w->len, w->i) != w->len)
		return walk_fail(w, EINVAL);
	return 0;
}
