/*
 * Copyright (c) 2026 The ocbroker authors
 * SPDX-License-Identifier: ISC (the licence is in the file LICENSE)
 */

/*
 * JSON reading on top of jsmn, in place: the tokens point into the caller's
 * buffer, which must outlive the struct json.  No recursion anywhere.
 *
 * Policy:
 * - Parsing is jsmn's (strict mode, parent links, one pass into an array of
 *   the right size) after a linear pre-scan that bounds the nesting depth,
 *   refuses NUL bytes and counts the tokens, followed by a linear
 *   structural check of the tokens (one root value and nothing after
 *   it, every object member a string key with exactly one value, literals
 *   exactly true/false/null or a JSON number).  jsmn's leniency about
 *   separators (`[1 2]`, `[1,,2]`) is kept: it cannot change the structure.
 * - Strings are checked when they are read: a raw control character is
 *   refused; escapes are decoded (\uXXXX, surrogate pairs); a lone surrogate,
 *   \u0000 (protobuf-c strings are NUL-terminated) and every byte of an
 *   invalid raw UTF-8 sequence become U+FFFD.  The result is always valid
 *   UTF-8 and never contains a NUL.
 * - Integers are int64: a fraction, an exponent or an overflow is refused.
 * - Object lookup returns the first member with that key.
 * - Errors: -1 with errno set (ENOMEM, EINVAL for malformed input, E2BIG
 *   above the limits below).
 */
#ifndef OCB_NETPROC_JSON_H
#define OCB_NETPROC_JSON_H

#include <stddef.h>
#include <stdint.h>

/*
 * The largest document the upstream sends is GET /provider: 6 529 060 bytes,
 * 785 170 tokens, depth 9 (OpenCode 1.18.34).
 */
#define JSON_MAX_LEN	(32 * 1024 * 1024)	/* bytes; jsmn positions are int */
#define JSON_MAX_TOKENS	(2 * 1024 * 1024)	/* 2.67x /provider, 40 MiB of tokens */
#define JSON_MAX_DEPTH	64			/* jsmn closes a bracket in O(depth) */
#define JSON_KEEP_TOKENS 4096			/* json_clear() frees a larger array */

enum json_type {
	JSON_OBJECT = 1,
	JSON_ARRAY,
	JSON_STRING,
	JSON_NUMBER,
	JSON_BOOL,
	JSON_NULL
};

struct arena;
struct json;

int	 json_parse(const void *, size_t, struct json **);
void	 json_free(struct json *);
int	 json_ntokens(const struct json *);

/*
 * A struct json to parse into again and again (the event stream): its token
 * array is kept between documents.  json_parse_into() forgets the previous
 * document first; on -1 (errno as json_parse) it holds no document
 * (json_ntokens() is 0).  json_clear() forgets the document and frees a
 * token array of more than JSON_KEEP_TOKENS.  json_free() frees it all.
 */
struct json	*json_new(void);
int		 json_parse_into(struct json *, const void *, size_t);
void		 json_clear(struct json *);

/*
 * For a large document of which one member of the root object is read (GET
 * /provider: `connected`, beside 6.5 MB of `all`): the document is checked
 * by a scan that does not make tokens, and only the value of the first
 * member named key is parsed, as json_parse() would: it is token 0 of *jp,
 * and the positions json_raw() gives are relative to its first byte.
 *
 * What the scan checks (json_skim.c, skim_value()): no NUL anywhere; the root
 * object exactly as RFC 8259 has it (string keys, ':' and ',' where they
 * belong, nothing after it but whitespace); every string closed, with
 * JSON's escapes only; a literal member value valid; inside the other
 * members' arrays and objects, brackets that pair up within JSON_MAX_DEPTH
 * and no byte outside strings that JSON cannot have there.  The order of
 * keys, values and separators inside a skipped value, and the spelling of
 * its literals, are not checked: it is never read.  No token is made for
 * them, so JSON_MAX_TOKENS bounds the value only (JSON_MAX_LEN the whole).
 * A root that is not an object is checked by json_parse().
 *
 * Returns -1 with errno ENOENT when the document is valid but the root is
 * not an object or has no such member, else as json_parse().
 */
int		 json_parse_member(const void *, size_t, const char *,
		    struct json **);

/*
 * A cursor over a large document that makes no tokens (GET /provider, whose
 * `key`, `options` and `env` values must not even be decoded): it enters
 * arrays and objects, steps through their elements and members, reads the
 * scalars it is asked for and skims every other value as
 * json_parse_member() skims one (what that checks, and no more).  The
 * containers it enters are checked as RFC 8259 has them: separators, keys,
 * nothing after the root but whitespace (json_walk_end()).  No recursion:
 * the caller's loops nest, bounded by JSON_MAX_DEPTH.
 *
 * A value "at the cursor" is one json_walk_init() or json_walk_next() put
 * there and nothing has read yet; json_walk_next() skims it if the caller
 * did not.  Malformed input is -1 with errno EINVAL (E2BIG past the
 * limits) and sticks: every later call is -1.  A value of another type
 * than asked for is -1 with errno EDOM and does not stick (it is still at
 * the cursor).
 */
struct json_walk {
	const char	*s;
	size_t		 len;
	size_t		 i;		/* the next byte to read */
	size_t		 key, key_end;	/* the current member's key (its body) */
	int		 key_plain;	/* printable ASCII without escapes */
	uint64_t	 stack;		/* bit 0: the innermost container is an object */
	int		 base;		/* brackets around the document */
	int		 depth;		/* containers entered and not left */
	int		 pending;	/* a value is at the cursor */
	int		 first;		/* the innermost container has no member yet */
	int		 failed;
};

/*
 * data[0..len) has depth brackets around it (0 for a whole document, more
 * for a value json_walk_span() gave): its value is at the cursor.
 */
int	 json_walk_init(struct json_walk *, const void *, size_t, int);
/* The type of the value at the cursor (enum json_type), or -1. */
int	 json_walk_type(const struct json_walk *);
/* Enters the array or object at the cursor. */
int	 json_walk_enter(struct json_walk *);
/*
 * Moves to the next element or member of the innermost container entered:
 * 1 with its value at the cursor (and, in an object, its key for
 * json_walk_key_eq()), 0 when the container ended (it is left), -1.
 */
int	 json_walk_next(struct json_walk *);
/* 1 when the current member's key decodes to exactly s, else 0. */
int	 json_walk_key_eq(const struct json_walk *, const char *);
/*
 * The current member's key as it is in the document, for a caller that
 * dispatches on it itself: 1 with its bytes in *key and *len (not
 * NUL-terminated) when it is plain (printable ASCII without escapes: it
 * decodes to itself), 0 when it is not (compare it with
 * json_walk_key_eq()), -1 when there is no key.
 */
int	 json_walk_key_raw(const struct json_walk *, const char **, size_t *);
/* The first i < n for which json_walk_key_eq(keys[i]) is 1, or -1. */
int	 json_walk_key_pick(const struct json_walk *, const char *const *,
	    size_t);
/* Skims the value at the cursor. */
int	 json_walk_skip(struct json_walk *);
/*
 * Skims the value at the cursor and gives where it is (a string's with its
 * quotes): json_parse() or json_walk_init() can read it later.
 */
int	 json_walk_span(struct json_walk *, size_t *, size_t *);
/* Read the scalar at the cursor as json_get_*() would (EDOM: another type). */
int	 json_walk_str(struct json_walk *, struct arena *, char **);
int	 json_walk_bool(struct json_walk *, int *);
int	 json_walk_int64(struct json_walk *, int64_t *);
/*
 * Any JSON number as a double: strtod() on a bounded copy (at most
 * JSON_NUMBER_MAX bytes, longer is EDOM), finite only (ERANGE).
 */
#define JSON_NUMBER_MAX	64
int	 json_walk_double(struct json_walk *, double *);
/* 0 when the root value was read and only whitespace follows it. */
int	 json_walk_end(struct json_walk *);

/*
 * Tokens are indices, 0 is the root.  Every function accepts any int: an
 * index out of range (e.g. -1 from a failed lookup) is "no such value".
 */
int	 json_type(const struct json *, int);	/* enum json_type, or -1 */
/* Members of an object, elements of an array; 0 for anything else. */
int	 json_len(const struct json *, int);
/* The token after t and everything below it (a key's includes its value). */
int	 json_next(const struct json *, int);
/* The value of member key in object obj, or -1. */
int	 json_obj_get(const struct json *, int, const char *);
/*
 * The values of n members of object obj found in one walk, as json_obj_get
 * would find them one by one: toks[i] for keys[i], -1 when it is not there.
 */
void	 json_obj_pick(const struct json *, int, const char *const *, int *,
	    size_t);
/*
 * Where the JSON text of token t is in the parsed buffer: a string's
 * includes its quotes, an object's or array's its brackets.  -1 when t is
 * not a token.
 */
int	 json_raw(const struct json *, int, size_t *, size_t *);
/* 1 when string token t decodes to exactly s, else 0. */
int	 json_str_eq(const struct json *, int, const char *);

/*
 * Decodes string token t into dst (NUL-terminated, dstsize bytes) and
 * stores the decoded length (without the NUL) in *lenp.  With dst NULL it
 * only measures.  -1 when t is not a valid string or dst is too small.
 */
int	 json_str_decode(const struct json *, int, char *, size_t, size_t *);
/* Decodes string token t into the arena. */
int	 json_get_str(const struct json *, int, struct arena *, char **);
int	 json_get_int64(const struct json *, int, int64_t *);
int	 json_get_bool(const struct json *, int, int *);

/*
 * Decodes one code point of possibly invalid UTF-8 s[0..len), len > 0:
 * returns the bytes used (1 for an invalid byte, which decodes to U+FFFD).
 */
size_t	 json_utf8_next(const uint8_t *, size_t, uint32_t *);

#endif /* OCB_NETPROC_JSON_H */
