/*
 * Copyright (c) 2026 The ocbroker authors
 * SPDX-License-Identifier: ISC (the licence is in the file LICENSE)
 */

/* cmocka tests of netproc/json.c, netproc/arena.c and netproc/pathenc.c. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "common/utf8.h"
#include "netproc/arena.h"
#include "netproc/json.h"
#include "netproc/pathenc.h"
#include "tests/support/cases.h"
#include "tests/support/clock.h"

static struct json *
parse_ok(const char *s)
{
	struct json	*j = NULL;

	if (json_parse(s, strlen(s), &j) != 0)
		fail_msg("did not parse: %s", s);
	return j;
}

static int
parses(const char *s, size_t len)
{
	struct json	*j;
	int		 rc;

	rc = json_parse(s, len, &j);
	json_free(j);
	return rc == 0;
}

#define PARSES(s)	parses((s), sizeof(s) - 1)

/* JSON texts the parser and the walker both take, and both refuse. */
static const char *const valid_json[] = {
		"{}", "[]", " { } ", "\n[\t]\r\n", "true", "false", "null",
		"0", "-0", "12", "-3.25e+10", "1E5", "0.5", "\"\"", " \"x\" ",
		"{\"a\":1,\"b\":[true,false,null],\"c\":{\"d\":\"e\"}}",
		"[1,\"a\",{},[],-1.5]", "{\"a\":{\"b\":{\"c\":[[[]]]}}}",
};

static const char *const invalid_json[] = {
		"", " ", "\n", "{", "}", "[", "]", "[1]]", "[[1]", "{\"a\"}",
		"{\"a\":}", "{\"a\":1:2}", "[\"a\":1]", "{1:2}", "{\"a\" 1}",
		"tru", "truex", "nul", "True", "01", "1.", ".5", "-", "1e",
		"1e+", "+1", "0x10", "[1x]", "{} {}", "{} x", "{},", ",{}",
		"[] 1", "1 2", "\"abc", "\"a\\x\"", "\"\\u12\"", "\"\\u12g4\"",
		"{\"a\":1 \"b\"}", "{\"a\":\"b\":\"c\"}", "[\"a\"}", "{\"a\"]",
		"'a'", "{a:1}", "[nan]", "[Infinity]", "\"a\"\"b\"",
		"{\"a\":[1,2}", "[{]}",
};

static void
test_parse_valid(void **state)
{
	size_t	i;

	(void)state;
	for (i = 0; i < NCASES(valid_json); i++)
		if (!parses(valid_json[i], strlen(valid_json[i])))
			fail_msg("rejected: %s", valid_json[i]);
}

static void
test_parse_invalid(void **state)
{
	size_t	i;

	(void)state;
	for (i = 0; i < NCASES(invalid_json); i++)
		if (parses(invalid_json[i], strlen(invalid_json[i])))
			fail_msg("accepted: %s", invalid_json[i]);
	/* NUL bytes anywhere: jsmn would stop at the first one. */
	assert_false(PARSES("{}\0"));
	assert_false(PARSES("{\"a\0\":1}"));
	assert_false(PARSES("[1,\0 2]"));
	assert_false(PARSES("\0"));
	/* Leniency kept from jsmn: separators do not change the structure. */
	assert_true(PARSES("[1 2]"));
}

static void
test_depth(void **state)
{
	char	*s;
	size_t	 n = 100000, i;
	double	 t0;

	(void)state;
	s = malloc(2 * n);
	assert_non_null(s);
	for (i = 0; i < n; i++) {
		s[i] = '[';
		s[n + i] = ']';
	}
	t0 = it_now_fms();
	assert_false(parses(s, n));
	assert_int_equal(errno, E2BIG);
	assert_false(parses(s, 2 * n));
	print_message("deep nesting x%zu refused in %.2f ms\n", n, it_now_fms() - t0);
	/* Exactly at the limit and one more. */
	memcpy(s + JSON_MAX_DEPTH, s + n, JSON_MAX_DEPTH);
	assert_true(parses(s, 2 * JSON_MAX_DEPTH));
	s[0] = '{';
	assert_false(parses(s, 2 * JSON_MAX_DEPTH));
	s[0] = '[';
	memmove(s + JSON_MAX_DEPTH + 1, s + n, JSON_MAX_DEPTH + 1);
	assert_false(parses(s, 2 * (JSON_MAX_DEPTH + 1)));
	/* Deep in a string is no nesting at all. */
	s[0] = '"';
	memset(s + 1, '[', n);
	s[n] = '"';
	assert_true(parses(s, n + 1));
	free(s);
}

static void
test_limits(void **state)
{
	struct json	*j;
	char		 c = '[';

	(void)state;
	assert_int_equal(json_parse(&c, (size_t)JSON_MAX_LEN + 1, &j), -1);
	assert_int_equal(errno, E2BIG);
	assert_null(j);
}

/* Builds "[x,x,...]" with n elements. */
static char *
wide_array(const char *elem, size_t n, size_t *lenp)
{
	size_t	 el = strlen(elem), len = 2 + n * (el + 1), i, o = 0;
	char	*s = malloc(len);

	assert_non_null(s);
	s[o++] = '[';
	for (i = 0; i < n; i++) {
		memcpy(s + o, elem, el);
		o += el;
		if (i + 1 < n)
			s[o++] = ',';
	}
	s[o++] = ']';
	*lenp = o;
	return s;
}

static double
time_parse(const char *s, size_t len, int ntok)
{
	struct json	*j;
	double		 best = 1e9, t0, t;
	int		 k;

	for (k = 0; k < 3; k++) {
		t0 = it_now_fms();
		assert_int_equal(json_parse(s, len, &j), 0);
		t = it_now_fms() - t0;
		if (ntok >= 0)
			assert_int_equal(json_ntokens(j), ntok);
		json_free(j);
		if (t < best)
			best = t;
	}
	return best;
}

/* 63 levels: inside the outer array, one below JSON_MAX_DEPTH. */
#define DEEP63	("[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[" \
		"]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]")

/*
 * Wide documents: jsmn without parent links rescans earlier siblings on
 * every close bracket, quadratic in the width.  With parent links a close
 * walks up at most the depth, which the prescan bounds (JSON_MAX_DEPTH,
 * tested below), so a parse is linear.  What is deterministic is asserted:
 * four times the elements make exactly four times the tokens, also at
 * depth 63.  The times are printed, not asserted (a busy machine would
 * fail a ratio of times); bench/bench_map measures speed.
 */
static void
test_not_quadratic(void **state)
{
	static const char *const elems[] = {
		"{}", "[]", "{\"k\":[1]}", "\"s\"",
		DEEP63
	};
	size_t		 i, n = 100000, len1, len4;
	char		*s1, *s4;
	double		 t1, t4;
	struct json	*j;
	int		 tok1, tok4;

	(void)state;
	for (i = 0; i < sizeof(elems) / sizeof(elems[0]); i++) {
		s1 = wide_array(elems[i], n / (i == 4 ? 60 : 1), &len1);
		s4 = wide_array(elems[i], 4 * (n / (i == 4 ? 60 : 1)), &len4);
		assert_int_equal(json_parse(s1, len1, &j), 0);
		tok1 = json_ntokens(j);
		json_free(j);
		assert_int_equal(json_parse(s4, len4, &j), 0);
		tok4 = json_ntokens(j);
		json_free(j);
		/* The outer array is one token; the elements scale. */
		assert_int_equal(tok4 - 1, 4 * (tok1 - 1));
		t1 = time_parse(s1, len1, tok1);
		t4 = time_parse(s4, len4, tok4);
		print_message("wide %-10.10s %7zu bytes %.2f ms, %8zu bytes "
		    "%.2f ms (x%.1f)\n", elems[i], len1, t1, len4, t4,
		    t4 / (t1 > 0.01 ? t1 : 0.01));
		free(s1);
		free(s4);
	}
}

/* json_parse_into: the same tokens as json_parse, into a kept array. */
static void
test_parse_into(void **state)
{
	static const char *const docs[] = {
		"{\"a\":[1,2,{\"b\":null}],\"c\":\"d\"}", "7", "[]", "\"s\"",
		"{\"x\":[[[[]]]]}", " true ",
	};
	struct json	*r, *j;
	char		*big;
	size_t		 i, n, len;
	int		 t;

	(void)state;
	assert_non_null(r = json_new());
	assert_int_equal(json_ntokens(r), 0);
	assert_int_equal(json_type(r, 0), -1);
	for (n = 0; n < 3; n++) {
		for (i = 0; i < sizeof(docs) / sizeof(docs[0]); i++) {
			assert_int_equal(json_parse_into(r, docs[i],
			    strlen(docs[i])), 0);
			j = parse_ok(docs[i]);
			assert_int_equal(json_ntokens(r), json_ntokens(j));
			for (t = 0; t < json_ntokens(j); t++) {
				assert_int_equal(json_type(r, t),
				    json_type(j, t));
				assert_int_equal(json_len(r, t), json_len(j, t));
				assert_int_equal(json_next(r, t),
				    json_next(j, t));
			}
			json_free(j);
		}
		/* A failure leaves no document behind. */
		assert_int_equal(json_parse_into(r, "[1,", 3), -1);
		assert_int_equal(errno, EINVAL);
		assert_int_equal(json_ntokens(r), 0);
		assert_int_equal(json_type(r, 0), -1);
		assert_int_equal(json_parse_into(r, "{}\0", 3), -1);
		assert_int_equal(json_ntokens(r), 0);
	}
	/* More tokens than are kept, then small ones again. */
	big = wide_array("[1]", 3 * JSON_KEEP_TOKENS, &len);
	assert_int_equal(json_parse_into(r, big, len), 0);
	assert_int_equal(json_ntokens(r), 1 + 2 * 3 * JSON_KEEP_TOKENS);
	assert_int_equal(json_next(r, 0), json_ntokens(r));
	json_clear(r);
	assert_int_equal(json_ntokens(r), 0);
	assert_int_equal(json_parse_into(r, docs[0], strlen(docs[0])), 0);
	assert_int_equal(json_ntokens(r), 10);
	json_clear(r);
	json_clear(r);
	free(big);
	json_free(r);
	json_free(NULL);
	json_clear(NULL);
}

static void
expect_raw(const struct json *j, int t, const char *doc, const char *text)
{
	size_t	off, n;

	assert_int_equal(json_raw(j, t, &off, &n), 0);
	if (n != strlen(text) || memcmp(doc + off, text, n) != 0)
		fail_msg("token %d: \"%.*s\", not \"%s\"", t, (int)n, doc + off,
		    text);
}

static void
test_raw(void **state)
{
	static const char doc[] = " { \"k\\\"\" : [ 1 , -2.5e3 , true , null ,"
	    " \"s\\u00e9\" , { } , [ [ ] ] ] , \"o\" : { \"p\" : \"}\" } } ";
	struct json	*j;
	size_t		 off, n;

	(void)state;
	j = parse_ok(doc);
	expect_raw(j, 0, doc, "{ \"k\\\"\" : [ 1 , -2.5e3 , true , null , "
	    "\"s\\u00e9\" , { } , [ [ ] ] ] , \"o\" : { \"p\" : \"}\" } }");
	expect_raw(j, 1, doc, "\"k\\\"\"");
	expect_raw(j, 2, doc, "[ 1 , -2.5e3 , true , null , \"s\\u00e9\" ,"
	    " { } , [ [ ] ] ]");
	expect_raw(j, 3, doc, "1");
	expect_raw(j, 4, doc, "-2.5e3");
	expect_raw(j, 5, doc, "true");
	expect_raw(j, 6, doc, "null");
	expect_raw(j, 7, doc, "\"s\\u00e9\"");
	expect_raw(j, 8, doc, "{ }");
	expect_raw(j, 9, doc, "[ [ ] ]");
	expect_raw(j, 10, doc, "[ ]");
	expect_raw(j, 11, doc, "\"o\"");
	expect_raw(j, 12, doc, "{ \"p\" : \"}\" }");
	expect_raw(j, 14, doc, "\"}\"");
	assert_int_equal(json_raw(j, 15, &off, &n), -1);
	assert_int_equal(json_raw(j, -1, &off, &n), -1);
	json_free(j);
	j = parse_ok("  -0.5 ");
	expect_raw(j, 0, "  -0.5 ", "-0.5");
	json_free(j);
	j = parse_ok("\n\"\"\n");
	expect_raw(j, 0, "\n\"\"\n", "\"\"");
	json_free(j);
}

static void
test_obj_pick(void **state)
{
	static const char *const keys[] = { "b", "zz", "a", "\xc3\xa9" };
	struct json	*j;
	int		 t[4];

	(void)state;
	j = parse_ok("{\"a\":{\"b\":1},\"b\":[2],\"a\":3,\"\\u00e9\":4}");
	json_obj_pick(j, 0, keys, t, 4);
	assert_int_equal(t[0], json_obj_get(j, 0, "b"));
	assert_int_equal(t[1], -1);
	assert_int_equal(t[2], json_obj_get(j, 0, "a"));
	assert_int_equal(json_type(j, t[2]), JSON_OBJECT);	/* the first */
	assert_int_equal(t[3], json_obj_get(j, 0, "\xc3\xa9"));
	assert_true(t[3] > 0);
	json_obj_pick(j, t[0], keys, t, 4);	/* not an object */
	assert_int_equal(t[0], -1);
	assert_int_equal(t[2], -1);
	json_obj_pick(j, -1, keys, t, 1);
	assert_int_equal(t[0], -1);
	json_free(j);
}

/*
 * json_parse_member(): -1 with errno e, or 0 and a value of the length of
 * text, which is in doc.
 */
static void
member(const char *doc, size_t len, int e, const char *text)
{
	struct json	*j = (struct json *)1;
	size_t		 off, n;
	int		 rc;

	errno = 0;
	rc = json_parse_member(doc, len, "connected", &j);
	if (e != 0) {
		if (rc != -1 || errno != e)
			fail_msg("%.*s: rc %d errno %d, not %d", (int)len, doc,
			    rc, errno, e);
		assert_null(j);
		return;
	}
	if (rc != 0)
		fail_msg("%.*s: refused (errno %d)", (int)len, doc, errno);
	assert_int_equal(json_raw(j, 0, &off, &n), 0);
	assert_int_equal(off, 0);
	if (n != strlen(text) || memmem(doc, len, text, n) == NULL)
		fail_msg("%s: value is not %s", doc, text);
	assert_int_equal(json_next(j, 0), json_ntokens(j));
	json_free(j);
}

#define MEMBER(s, e, text)	member((s), sizeof(s) - 1, (e), (text))

static void
test_parse_member(void **state)
{
	static const char *const bad[] = {
		/* truncated, unbalanced, mismatched, unclosed */
		"{\"all\":[{]},\"connected\":[]}",
		"{\"all\":[[},\"connected\":[]}",
		"{\"all\":{\"a\":[1}},\"connected\":[]}",
		"{\"all\":[]]],\"connected\":[]}",
		"{\"all\":\"abc,\"connected\":[]}",
		"{\"all\":[\"abc],\"connected\":[]}",
		/* escapes JSON does not have, bytes it cannot have there */
		"{\"all\":[\"\\x\"],\"connected\":[]}",
		"{\"all\":[\"\\u12\"],\"connected\":[]}",
		"{\"all\":[\"\\u12g4\"],\"connected\":[]}",
		"{\"all\":[x],\"connected\":[]}",
		"{\"all\":[\"a\"\x01],\"connected\":[]}",
		"{\"all\":[1\xc3\xa9],\"connected\":[]}",
		"{\"all\":[<p>],\"connected\":[]}",
		"{\"all\":{'a':1},\"connected\":[]}",
		/* the root object is read strictly */
		"{\"all\":[],\"connected\":[],}",
		"{,\"connected\":[]}",
		"{\"all\":[] \"connected\":[]}",
		"{\"all\":[],,\"connected\":[]}",
		"{\"all\" [],\"connected\":[]}",
		"{\"all\"::[],\"connected\":[]}",
		"{\"all\":,\"connected\":[]}",
		"{all:[],\"connected\":[]}",
		"{\"all\":tru,\"connected\":[]}",
		"{\"all\":01,\"connected\":[]}",
		"{\"connected\":[]} x",
		"{\"connected\":[]}}",
		"{\"connected\":[]",
		"{\"connected\":",
		"{",
		/* the value itself is parsed in full */
		"{\"connected\":[1 x]}",
		"{\"connected\":[\"a\":1]}",
		"{\"connected\":{\"a\"}}",
		/* not an object, and invalid */
		"[1,", "", "  ", "nul",
	};
	struct json	*j;
	char		*s, want[8];
	size_t		 i, n, k, pad;

	(void)state;
	MEMBER("{\"connected\":[\"a\",\"b\"]}", 0, "[\"a\",\"b\"]");
	MEMBER(" { \"all\" : [ {\"connected\":1} , \"]\\\"[\" , -1.5e3, true,"
	    " null, {} ] , \"default\" : { \"a\" : \"b\" } , \"connected\" :"
	    " [ ] } \n", 0, "[ ]");
	/* The first one, with its key decoded. */
	MEMBER("{\"\\u0063onnected\":\"x\",\"connected\":[]}", 0, "\"x\"");
	MEMBER("{\"a\":1,\"connected\":true,\"connected\":[]}", 0, "true");
	MEMBER("{\"connected\":-0.5e+3}", 0, "-0.5e+3");
	MEMBER("{\"connected\":{\"connected\":[]}}", 0,
	    "{\"connected\":[]}");
	/* Valid, but no such member: ENOENT. */
	MEMBER("{}", ENOENT, NULL);
	MEMBER(" { } ", ENOENT, NULL);
	MEMBER("{\"all\":[],\"Connected\":[]}", ENOENT, NULL);
	MEMBER("{\"all\":{\"connected\":[]}}", ENOENT, NULL);
	MEMBER("[\"connected\"]", ENOENT, NULL);
	MEMBER("[{\"connected\":[]}]", ENOENT, NULL);
	MEMBER("\"connected\"", ENOENT, NULL);
	MEMBER("1", ENOENT, NULL);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		member(bad[i], strlen(bad[i]), EINVAL, NULL);
	/* NUL anywhere. */
	MEMBER("{\"all\":[\"a\0\"],\"connected\":[]}", EINVAL, NULL);
	MEMBER("{\"all\":[1,\0],\"connected\":[]}", EINVAL, NULL);
	MEMBER("{\"connected\":[]}\0", EINVAL, NULL);
	MEMBER("{\"connected\":[\"\0\"]}", EINVAL, NULL);

	/*
	 * Long documents go through the bit-mask scan in 64-byte blocks:
	 * every alignment of strings with quotes, escapes and brackets in
	 * them, brackets closing at every offset.  Then every prefix fails.
	 */
	n = 4096;
	assert_non_null(s = malloc(n));
	for (pad = 0; pad < 140; pad++) {
		k = (size_t)snprintf(s, n, "{\"all\":[{\"p\":\"%*s\"},"
		    "\"a\\\"]}[{\\\\\",[[{\"x\":\"\\u005d\"}]],{\"y\":[\"%*s\\\\\"]},"
		    "1,true,{\"z\":{}}],\"connected\":[\"m%*s\"]}",
		    (int)pad, "", (int)(pad % 70), "", (int)(pad % 3), "");
		assert_true(k < n);
		snprintf(want, sizeof(want), "[\"m%*s\"]", (int)(pad % 3), "");
		member(s, k, 0, want);
		for (i = 0; i < k; i++)
			if (json_parse_member(s, i, "connected", &j) != -1)
				fail_msg("prefix %zu of %s accepted", i, s);
		/* A bad byte, and a NUL, at every place in the skipped part. */
		for (i = 8; i < k - 20; i += 7) {
			char	c = s[i];

			s[i] = '\0';
			if (json_parse_member(s, k, "connected", &j) != -1)
				fail_msg("NUL at %zu of %s accepted", i, s);
			s[i] = c;
		}
	}
	free(s);
}

static void
test_parse_member_depth(void **state)
{
	struct json	*j;
	char		*s;
	size_t		 n = 200000, i, k;

	(void)state;
	s = malloc(n + 64);
	assert_non_null(s);
	/* The root is one level: 63 more in a skipped member, 64 fail. */
	for (k = 63; k <= 64; k++) {
		memcpy(s, "{\"all\":", 7);
		memset(s + 7, '[', k);
		memset(s + 7 + k, ']', k);
		memcpy(s + 7 + 2 * k, ",\"connected\":[]}", 16);
		errno = 0;
		if (k == 63) {
			assert_int_equal(json_parse_member(s, 23 + 2 * k,
			    "connected", &j), 0);
			json_free(j);
		} else {
			assert_int_equal(json_parse_member(s, 23 + 2 * k,
			    "connected", &j), -1);
			assert_int_equal(errno, E2BIG);
		}
	}
	/* And in the value itself. */
	memcpy(s, "{\"connected\":", 13);
	memset(s + 13, '[', 64);
	memset(s + 13 + 64, ']', 64);
	s[13 + 128] = '}';
	assert_int_equal(json_parse_member(s, 14 + 128, "connected", &j), -1);
	assert_int_equal(errno, E2BIG);
	memset(s + 13 + 63, ']', 63);
	s[13 + 126] = '}';
	assert_int_equal(json_parse_member(s, 14 + 126, "connected", &j), 0);
	assert_int_equal(json_type(j, 0), JSON_ARRAY);
	json_free(j);
	/* Very deep: refused at once (no quadratic walk). */
	memcpy(s, "{\"all\":", 7);
	memset(s + 7, '[', n);
	assert_int_equal(json_parse_member(s, n + 7, "connected", &j), -1);
	assert_int_equal(errno, E2BIG);
	/* Brackets in strings are not nesting. */
	s[7] = '"';
	memset(s + 8, '[', n - 1);
	memcpy(s + 7 + n, "\",\"connected\":[]}", 17);
	assert_int_equal(json_parse_member(s, n + 24, "connected", &j), 0);
	json_free(j);
	for (i = 0; i < 3; i++) {
		/* Long strings with escapes, across blocks. */
		memcpy(s, "{\"all\":\"", 8);
		memset(s + 8, 'a', n);
		s[8 + 1000 * i + 63] = '\\';
		s[8 + 1000 * i + 64] = '"';
		memcpy(s + 8 + n, "\",\"connected\":[]}", 17);
		assert_int_equal(json_parse_member(s, n + 25, "connected", &j),
		    0);
		json_free(j);
	}
	free(s);
}

static void
test_navigation(void **state)
{
	struct json	*j;
	int		 t, k, i, n;
	int64_t		 v;

	(void)state;
	j = parse_ok("{\"a\":{\"x\":[1,[2,3],{\"y\":4}]},\"b\":[],"
	    "\"c\":\"s\",\"a\":2,\"d\":{\"e\":[{\"f\":5}]}}");
	assert_int_equal(json_type(j, 0), JSON_OBJECT);
	assert_int_equal(json_len(j, 0), 5);
	/* Members in order, each skip jumps over a whole subtree. */
	k = 1;
	assert_true(json_str_eq(j, k, "a"));
	k = json_next(j, k);
	assert_true(json_str_eq(j, k, "b"));
	k = json_next(j, k);
	assert_true(json_str_eq(j, k, "c"));
	k = json_next(j, k);
	assert_true(json_str_eq(j, k, "a"));
	k = json_next(j, k);
	assert_true(json_str_eq(j, k, "d"));
	assert_int_equal(json_next(j, k), json_ntokens(j));

	/* First member wins. */
	t = json_obj_get(j, 0, "a");
	assert_int_equal(json_type(j, t), JSON_OBJECT);
	t = json_obj_get(j, t, "x");
	assert_int_equal(json_type(j, t), JSON_ARRAY);
	n = json_len(j, t);
	assert_int_equal(n, 3);
	for (i = 0, k = t + 1; i < n; i++, k = json_next(j, k))
		;
	assert_int_equal(k, json_obj_get(j, 0, "b") - 1);
	assert_int_equal(json_type(j, json_obj_get(j, 0, "b")), JSON_ARRAY);
	assert_int_equal(json_len(j, json_obj_get(j, 0, "b")), 0);
	t = json_obj_get(j, json_obj_get(j, 0, "d"), "e");
	assert_int_equal(json_get_int64(j,
	    json_obj_get(j, t + 1, "f"), &v), 0);
	assert_int_equal(v, 5);

	/* Misses and out-of-range indices. */
	assert_int_equal(json_obj_get(j, 0, "zz"), -1);
	assert_int_equal(json_obj_get(j, 0, "a\0"), json_obj_get(j, 0, "a"));
	assert_int_equal(json_obj_get(j, -1, "a"), -1);
	assert_int_equal(json_obj_get(j, json_obj_get(j, 0, "c"), "a"), -1);
	assert_int_equal(json_type(j, -1), -1);
	assert_int_equal(json_type(j, json_ntokens(j)), -1);
	assert_int_equal(json_next(j, -1), -1);
	assert_int_equal(json_len(j, 1000), 0);
	assert_false(json_str_eq(j, -1, "a"));
	assert_int_equal(json_get_int64(j, -1, &v), -1);
	json_free(j);
	json_free(NULL);
}

static char *
get_str(struct json *j, int t, struct arena *a)
{
	char	*s = NULL;

	if (json_get_str(j, t, a, &s) == -1)
		return NULL;
	assert_true(utf8_valid((const uint8_t *)s, strlen(s)));
	return s;
}

static void
test_strings(void **state)
{
	static const struct str_case cases[] = {
		{ "\"plain\"", "plain" },
		{ "\"\"", "" },
		{ "\"\\\" \\\\ \\/ \\b \\f \\n \\r \\t\"", "\" \\ / \b \f \n \r \t" },
		{ "\"\\u0041\\u00e9\\u20AC\"", "A\xc3\xa9\xe2\x82\xac" },
		{ "\"\\uD83D\\uDE00\"", "\xf0\x9f\x98\x80" },
		{ "\"\\ud83d\\ude00x\"", "\xf0\x9f\x98\x80x" },
		/* Lone surrogates and NUL become U+FFFD. */
		{ "\"\\uD83Dx\"", "\xef\xbf\xbdx" },
		{ "\"\\uD83D\"", "\xef\xbf\xbd" },
		{ "\"\\uDE00\\uD83D\"", "\xef\xbf\xbd\xef\xbf\xbd" },
		{ "\"\\uD83D\\uD83D\\uDE00\"", "\xef\xbf\xbd\xf0\x9f\x98\x80" },
		{ "\"\\uD83D\\u0041\"", "\xef\xbf\xbd" "A" },
		{ "\"\\uD83D\\n\"", "\xef\xbf\xbd\n" },
		{ "\"a\\u0000b\"", "a\xef\xbf\xbd" "b" },
		/* Raw UTF-8 passes; invalid raw bytes become U+FFFD each. */
		{ "\"\xc3\xa9\xf0\x9f\x98\x80\"", "\xc3\xa9\xf0\x9f\x98\x80" },
		{ "\"\xff\"", "\xef\xbf\xbd" },
		{ "\"\xc0\xaf\"", "\xef\xbf\xbd\xef\xbf\xbd" },
		{ "\"\xed\xa0\x80\"", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd" },
		{ "\"\xe2\x82\"", "\xef\xbf\xbd\xef\xbf\xbd" },
		{ "\"\xf4\x90\x80\x80\"",
		  "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd" },
		{ "\"a\x80z\"", "a\xef\xbf\xbdz" },
	};
	struct arena	 a;
	struct json	*j;
	char		*s, buf[4];
	size_t		 i, n;

	(void)state;
	arena_init(&a);
	for (i = 0; i < NCASES(cases); i++) {
		j = parse_ok(cases[i].in);
		s = get_str(j, 0, &a);
		if (s == NULL || strcmp(s, cases[i].want) != 0)
			fail_msg("case %zu: %s", i, cases[i].in);
		assert_true(json_str_eq(j, 0, cases[i].want));
		json_free(j);
	}
	/* A raw control character is refused when read. */
	j = parse_ok("[\"a\tb\",\"\x01\",\"\x7f\"]");
	assert_null(get_str(j, 1, &a));
	assert_int_equal(errno, EINVAL);
	assert_null(get_str(j, 2, &a));
	assert_non_null(get_str(j, 3, &a));
	assert_false(json_str_eq(j, 1, "a\tb"));
	/* Not a string. */
	assert_null(get_str(j, 0, &a));
	json_free(j);

	/* Escaped keys compare decoded. */
	j = parse_ok("{\"\\u0063onn\\u00e9cted\":1,\"\\uD83D\":2}");
	assert_int_equal(json_obj_get(j, 0, "conn\xc3\xa9" "cted"), 2);
	assert_int_equal(json_obj_get(j, 0, "\xef\xbf\xbd"), 4);
	assert_int_equal(json_obj_get(j, 0, "conn"), -1);
	assert_int_equal(json_obj_get(j, 0, "conn\xc3\xa9" "ctedX"), -1);
	assert_false(json_str_eq(j, 1, "conn\xc3"));
	json_free(j);

	/* json_str_decode: measuring and a short buffer. */
	j = parse_ok("\"\\u20ac1\"");
	assert_int_equal(json_str_decode(j, 0, NULL, 0, &n), 0);
	assert_int_equal(n, 4);
	assert_int_equal(json_str_decode(j, 0, buf, sizeof(buf), &n), -1);
	json_free(j);
	arena_free(&a);
}

static void
test_huge_string(void **state)
{
	struct arena	 a;
	struct json	*j;
	size_t		 n = 8 * 1024 * 1024, i;
	char		*s, *out;

	(void)state;
	s = malloc(n + 2);
	assert_non_null(s);
	s[0] = '"';
	for (i = 1; i <= n; i++)
		s[i] = (char)('a' + i % 26);
	memcpy(s + n - 11, "\\uD83D\\uDE00", 12);
	s[n + 1] = '"';
	assert_int_equal(json_parse(s, n + 2, &j), 0);
	arena_init(&a);
	out = get_str(j, 0, &a);
	assert_non_null(out);
	assert_int_equal(strlen(out), n - 12 + 4);
	assert_memory_equal(out + n - 12, "\xf0\x9f\x98\x80", 4);
	arena_free(&a);
	json_free(j);
	free(s);
}

static void
test_integers(void **state)
{
	static const struct {
		const char	*in;
		int		 ok;
		int64_t		 v;
	} cases[] = {
		{ "0", 1, 0 }, { "-0", 1, 0 }, { "7", 1, 7 }, { "-42", 1, -42 },
		{ "1795667975339", 1, 1795667975339LL },
		{ "9223372036854775807", 1, INT64_MAX },
		{ "-9223372036854775808", 1, INT64_MIN },
		{ "9223372036854775808", 0, 0 },
		{ "-9223372036854775809", 0, 0 },
		{ "99999999999999999999999", 0, 0 },
		{ "1.5", 0, 0 }, { "1.0", 0, 0 }, { "1e3", 0, 0 },
		{ "-1E-2", 0, 0 }, { "true", 0, 0 }, { "null", 0, 0 },
		{ "\"1\"", 0, 0 }, { "[1]", 0, 0 },
	};
	struct json	*j;
	int64_t		 v;
	size_t		 i;
	int		 b;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		j = parse_ok(cases[i].in);
		v = 12345;
		if ((json_get_int64(j, 0, &v) == 0) != cases[i].ok)
			fail_msg("int %s", cases[i].in);
		if (cases[i].ok)
			assert_true(v == cases[i].v);
		json_free(j);
	}
	j = parse_ok("[true,false,null,\"true\",1]");
	assert_int_equal(json_get_bool(j, 1, &b), 0);
	assert_int_equal(b, 1);
	assert_int_equal(json_get_bool(j, 2, &b), 0);
	assert_int_equal(b, 0);
	assert_int_equal(json_type(j, 3), JSON_NULL);
	assert_int_equal(json_get_bool(j, 3, &b), -1);
	assert_int_equal(json_get_bool(j, 4, &b), -1);
	assert_int_equal(json_get_bool(j, 5, &b), -1);
	assert_int_equal(json_type(j, 5), JSON_NUMBER);
	json_free(j);
}

static void
test_truncations(void **state)
{
	static const char doc[] =
	    "{\"a\":[1,-2.5e3,\"x\\u00e9\\\"\",{\"b\":null}],\"c\":true}";
	size_t	n;

	(void)state;
	assert_true(PARSES(doc));
	for (n = 0; n < sizeof(doc) - 1; n++)
		if (parses(doc, n))
			fail_msg("prefix %zu accepted", n);
}

static void
test_utf8_next(void **state)
{
	uint32_t	cp;

	(void)state;
	assert_int_equal(json_utf8_next((const uint8_t *)"A", 1, &cp), 1);
	assert_int_equal(cp, 'A');
	assert_int_equal(json_utf8_next((const uint8_t *)"\xe2\x82\xac", 3,
	    &cp), 3);
	assert_int_equal(cp, 0x20ac);
	assert_int_equal(json_utf8_next((const uint8_t *)"\xe2\x82\xac", 2,
	    &cp), 1);
	assert_int_equal(cp, 0xfffd);
	assert_int_equal(json_utf8_next((const uint8_t *)"\xe0\x80\x80", 3,
	    &cp), 1);
	assert_int_equal(cp, 0xfffd);
}

static void
test_arena(void **state)
{
	struct arena	 a;
	char		*p, *q, *big, *s;
	size_t		 i;

	(void)state;
	arena_init(&a);
	for (i = 0; i < 100000; i++) {
		p = arena_alloc(&a, i % 37 + 1);
		assert_non_null(p);
		assert_true(((uintptr_t)p % _Alignof(max_align_t)) == 0);
		assert_int_equal(p[i % 37], 0);
		memset(p, 0xa5, i % 37 + 1);
	}
	q = arena_alloc(&a, 8);
	big = arena_alloc(&a, 3 * ARENA_CHUNK_MAX);
	assert_non_null(big);
	memset(big, 1, 3 * ARENA_CHUNK_MAX);
	p = arena_alloc(&a, 8);
	assert_non_null(p);
	assert_ptr_equal(p, q + 16);	/* the big one did not end the chunk */
	assert_non_null(arena_alloc(&a, 0));
	assert_null(arena_calloc(&a, SIZE_MAX / 2, 4));
	assert_null(arena_alloc(&a, SIZE_MAX - 8));
	s = arena_strndup(&a, "hello world", 5);
	assert_string_equal(s, "hello");
	assert_string_equal(arena_strdup(&a, "x"), "x");
	arena_free(&a);
	/* Reusable after free. */
	assert_non_null(arena_alloc(&a, 10));
	arena_free(&a);
	arena_free(&a);

	/* arena_reset keeps the first chunk: the same memory comes back. */
	arena_init(&a);
	arena_reset(&a);
	p = arena_alloc(&a, 100);
	assert_non_null(p);
	memset(p, 0xa5, 100);
	for (i = 0; i < 1000; i++)
		assert_non_null(arena_alloc(&a, 1000));	/* more chunks */
	assert_non_null(arena_alloc(&a, 3 * ARENA_CHUNK_MAX));
	arena_reset(&a);
	q = arena_alloc(&a, 100);
	assert_ptr_equal(q, p);
	assert_int_equal(q[99], 0);		/* zeroed again */
	for (i = 0; i < 1000; i++)
		assert_non_null(arena_alloc(&a, 1000));
	arena_reset(&a);
	assert_ptr_equal(arena_alloc(&a, 8), p);
	arena_free(&a);
	/* A first chunk larger than ARENA_CHUNK_MIN is not kept. */
	big = arena_alloc(&a, 2 * ARENA_CHUNK_MIN);
	assert_non_null(big);
	arena_reset(&a);
	assert_null(a.head);
	assert_non_null(arena_alloc(&a, 8));
	arena_free(&a);
}
/* arena_alloc_raw() aligns, arena_alloc_str() packs; neither zeroes. */
static void
test_arena_raw(void **state)
{
	struct arena	 a;
	char		*p, *q, *big;
	size_t		 i;

	(void)state;
	arena_init(&a);
	p = arena_alloc_str(&a, 3);
	assert_non_null(p);
	memcpy(p, "ab", 3);
	q = arena_alloc_str(&a, 5);
	assert_ptr_equal(q, p + 3);		/* packed, not aligned */
	memcpy(q, "cdef", 5);
	p = arena_alloc_raw(&a, 24);
	assert_non_null(p);
	assert_true(((uintptr_t)p % _Alignof(max_align_t)) == 0);
	assert_true(p >= q + 5 && p < q + 5 + _Alignof(max_align_t));
	memset(p, 0x5a, 24);
	q = arena_alloc_str(&a, 1);
	assert_ptr_equal(q, p + 24);
	/* A string larger than a chunk gets its own; the next one follows. */
	big = arena_alloc_str(&a, 3 * ARENA_CHUNK_MAX + 1);
	assert_non_null(big);
	memset(big, 'x', 3 * ARENA_CHUNK_MAX + 1);
	assert_ptr_equal(arena_alloc_str(&a, 1), q + 1);
	/* Strings across many chunks, aligned allocations in between. */
	for (i = 0; i < 100000; i++) {
		assert_non_null(p = arena_alloc_str(&a, i % 41 + 1));
		memset(p, 'y', i % 41 + 1);
		if (i % 7 == 0) {
			assert_non_null(q = arena_alloc_raw(&a, i % 97 + 1));
			assert_true(((uintptr_t)q %
			    _Alignof(max_align_t)) == 0);
			memset(q, 0x11, i % 97 + 1);
		}
	}
	assert_non_null(arena_alloc_str(&a, 0));
	assert_non_null(arena_alloc_raw(&a, 0));
	assert_null(arena_alloc_raw(&a, SIZE_MAX - 8));
	assert_null(arena_alloc_str(&a, SIZE_MAX - 8));
	/* arena_alloc() after them is still zeroed. */
	p = arena_alloc(&a, 64);
	for (i = 0; i < 64; i++)
		assert_int_equal(p[i], 0);
	arena_free(&a);
	/* Reset keeps the first chunk for strings too. */
	p = arena_alloc_str(&a, 10);
	arena_reset(&a);
	assert_ptr_equal(arena_alloc_str(&a, 10), p);
	arena_free(&a);
}

/* Each id of t is taken by ok (want 1) or refused (want 0). */
static void
ids_judged(int (*ok)(const char *), const struct num_case *t, size_t n)
{
	size_t	i;

	for (i = 0; i < n; i++)
		if ((ok(t[i].in) != 0) != t[i].want)
			fail_msg("id %zu \"%s\": not %ld", i,
			    t[i].in != NULL ? t[i].in : "(null)", t[i].want);
}

static void
test_pathenc(void **state)
{
	static const struct num_case ses[] = {
		{ "ses_de9d92354ffeyyP4zHEmF5A4Lo", 1 },
		{ "ses_", 0 },
		{ "ses_a-b", 0 },
		{ "ses_%2e%2e", 0 },
		{ "ses_../x", 0 },
		{ "../x", 0 },
		{ "SES_abc", 0 },
		{ "per_abc", 0 },
		{ "", 0 },
		{ NULL, 0 },
	};
	static const struct num_case per[] = {
		{ "per_216265ce1001662Y9m56RK1l4W", 1 },
		{ "per_a/b", 0 },
		{ "ses_abc", 0 },
	};
	static const struct num_case prov[] = {
		{ "anthropic", 1 },
		{ "wafer.ai", 1 },
		{ "ocb-fixture_oauth.1", 1 },
		{ "...", 1 },
		{ ".", 0 },
		{ "..", 0 },
		{ "../x", 0 },
		{ "a/b", 0 },
		{ "a b", 0 },
		{ "a%2e", 0 },
		{ "caf\xc3\xa9", 0 },
		{ "", 0 },
		{ NULL, 0 },
	};
	char	buf[16];
	char	id[PATHENC_ID_MAX + 2];

	(void)state;
	ids_judged(pathenc_session_id, ses, NCASES(ses));
	ids_judged(pathenc_permission_id, per, NCASES(per));
	memset(id, 'a', sizeof(id));
	memcpy(id, "ses_", 4);
	id[PATHENC_ID_MAX] = '\0';
	assert_true(pathenc_session_id(id));
	id[PATHENC_ID_MAX] = 'a';
	id[PATHENC_ID_MAX + 1] = '\0';
	assert_false(pathenc_session_id(id));

	ids_judged(pathenc_provider_id, prov, NCASES(prov));
	memset(id, 'p', PATHENC_ID_MAX);
	id[PATHENC_ID_MAX] = '\0';
	assert_true(pathenc_provider_id(id));
	id[PATHENC_ID_MAX] = 'p';
	assert_false(pathenc_provider_id(id));

	snprintf(buf, sizeof(buf), "/a/");
	assert_int_equal(pathenc_append(buf, sizeof(buf), "x y/%~"), 0);
	assert_string_equal(buf, "/a/x%20y%2F%25~");
	assert_int_equal(pathenc_append(buf, sizeof(buf), "z"), -1);
	assert_string_equal(buf, "/a/x%20y%2F%25~");
	buf[0] = '\0';
	assert_int_equal(pathenc_append(buf, sizeof(buf), "\xc3\xa9."), 0);
	assert_string_equal(buf, "%C3%A9.");
}

/* ---- json_walk ---- */

/*
 * Walks all of data: enters every container, skims every scalar (or skims
 * every container at skim_depth and deeper).  0, or -1 with errno.
 */
static int
walk_all(const char *data, size_t len, int skim_depth)
{
	struct json_walk	w;
	int			r;

	if (json_walk_init(&w, data, len, 0) == -1)
		return -1;
	for (;;) {
		if (w.pending) {
			r = json_walk_type(&w);
			if ((r == JSON_OBJECT || r == JSON_ARRAY) &&
			    w.depth < skim_depth) {
				if (json_walk_enter(&w) == -1)
					return -1;
			} else if (json_walk_skip(&w) == -1)
				return -1;
			continue;
		}
		if (w.depth == 0)
			return json_walk_end(&w);
		if (json_walk_next(&w) == -1)
			return -1;
	}
}

#define WALKS(s, d)	(walk_all((s), sizeof(s) - 1, (d)) == 0)

/* Each text of v walks (ok) or is refused (!ok) at depth d. */
static void
walk_each(const char *const *v, size_t n, int d, int ok)
{
	size_t	i;

	for (i = 0; i < n; i++)
		if ((walk_all(v[i], strlen(v[i]), d) == 0) != ok)
			fail_msg("depth %d %s: %s", d,
			    ok ? "rejected" : "accepted", v[i]);
}

static void
test_walk_valid_invalid(void **state)
{
	static const char *const ok[] = {
		"{\"a\" : 1 , \"b\" :\n2}", "[ 1 , [ ] , { } ]",
	};
	/* Stricter than jsmn where it walks. */
	static const char *const bad[] = {
		"[1 2]", "[1,,2]", "[1,]", "[,1]", "{\"a\":1,}", "{,}",
		"{\"a\":1,,\"b\":2}", "{\"a\"::1}", "[:]", "{\"a\",1}",
	};
	static const char *const skimbad[] = {
		"", "{", "}", "[1]]", "[[1]", "[{]}", "[\"a\"}", "{\"a\"]",
		"tru", "01", "1.", "+1", "{} {}", "{} x", "[] 1", "\"abc",
		"\"a\\x\"", "\"\\u12g4\"", "['a']", "[x]", "[{}}",
		"[\"\\u12\"]",
	};
	int	d;

	(void)state;
	for (d = 0; d <= 3; d++) {
		walk_each(valid_json, NCASES(valid_json), d, 1);
		walk_each(ok, NCASES(ok), d, 1);
		/* Skimmed whole (d 0), only brackets and strings are checked. */
		if (d > 0) {
			walk_each(invalid_json, NCASES(invalid_json), d, 0);
			walk_each(bad, NCASES(bad), d, 0);
		}
	}
	walk_each(skimbad, NCASES(skimbad), 0, 0);
	/* NUL bytes anywhere. */
	assert_false(WALKS("{}\0", 4));
	assert_false(WALKS("{\"a\0\":1}", 4));
	assert_false(WALKS("{\"a\":\"b\0\"}", 4));
	assert_false(WALKS("{\"a\":\"b\0\"}", 0));
	assert_false(WALKS("[1,\0 2]", 4));
	assert_false(WALKS("[1,\0 2]", 0));
	assert_false(WALKS("\0", 4));
}

static void
test_walk_read(void **state)
{
	static const char doc[] = " {\"s\":\"a\\u00e9\\n\", \"\\u0069d\":7,"
	    "\"b\":true,\"f\":false,\"n\":null,\"d\":-1.5e2,\"i\":-9223372036854775808,"
	    "\"big\":1e999,\"frac\":0.13,\"long\":0.000000000000000000000000000"
	    "0000000000000000000000000000000000000000000001,\"arr\":[1,{\"k\":[]}],"
	    "\"o\":{}} ";
	struct json_walk w;
	struct arena	 a;
	char		*s;
	int64_t		 v;
	double		 d;
	int		 b;

	(void)state;
	arena_init(&a);
	assert_int_equal(json_walk_init(&w, doc, sizeof(doc) - 1, 0), 0);
	assert_int_equal(json_walk_type(&w), JSON_OBJECT);
	/* Not a scalar: EDOM, and it stays at the cursor. */
	assert_int_equal(json_walk_str(&w, &a, &s), -1);
	assert_int_equal(errno, EDOM);
	assert_int_equal(json_walk_bool(&w, &b), -1);
	assert_int_equal(errno, EDOM);
	assert_int_equal(json_walk_enter(&w), 0);
	assert_false(json_walk_key_eq(&w, ""));

	assert_int_equal(json_walk_next(&w), 1);
	assert_true(json_walk_key_eq(&w, "s"));
	assert_false(json_walk_key_eq(&w, "s2"));
	assert_int_equal(json_walk_int64(&w, &v), -1);
	assert_int_equal(errno, EDOM);
	assert_int_equal(json_walk_str(&w, &a, &s), 0);
	assert_string_equal(s, "a\xc3\xa9\n");
	assert_int_equal(json_walk_str(&w, &a, &s), -1);	/* read already */

	w.failed = 0;	/* (the misuse above sticks; go on for the test) */
	assert_int_equal(json_walk_next(&w), 1);
	assert_true(json_walk_key_eq(&w, "id"));	/* escaped key */
	assert_int_equal(json_walk_str(&w, &a, &s), -1);
	assert_int_equal(errno, EDOM);
	assert_int_equal(json_walk_int64(&w, &v), 0);
	assert_int_equal(v, 7);

	assert_int_equal(json_walk_next(&w), 1);
	assert_int_equal(json_walk_bool(&w, &b), 0);
	assert_true(b);
	assert_int_equal(json_walk_next(&w), 1);
	assert_int_equal(json_walk_bool(&w, &b), 0);
	assert_false(b);
	assert_int_equal(json_walk_next(&w), 1);
	assert_int_equal(json_walk_type(&w), JSON_NULL);
	assert_int_equal(json_walk_bool(&w, &b), -1);
	assert_int_equal(errno, EDOM);
	assert_int_equal(json_walk_double(&w, &d), -1);
	assert_int_equal(errno, EDOM);

	assert_int_equal(json_walk_next(&w), 1);	/* null skimmed */
	assert_true(json_walk_key_eq(&w, "d"));
	assert_int_equal(json_walk_int64(&w, &v), -1);	/* a fraction */
	assert_int_equal(errno, EDOM);
	assert_int_equal(json_walk_double(&w, &d), 0);
	assert_true(d == -150.0);

	assert_int_equal(json_walk_next(&w), 1);
	assert_int_equal(json_walk_int64(&w, &v), 0);
	assert_true(v == INT64_MIN);

	assert_int_equal(json_walk_next(&w), 1);
	assert_true(json_walk_key_eq(&w, "big"));
	assert_int_equal(json_walk_double(&w, &d), -1);	/* not finite */
	assert_int_equal(errno, ERANGE);
	assert_int_equal(json_walk_int64(&w, &v), -1);

	assert_int_equal(json_walk_next(&w), 1);
	assert_true(json_walk_key_eq(&w, "frac"));
	assert_int_equal(json_walk_double(&w, &d), 0);
	assert_true(d > 0.129999 && d < 0.130001);

	assert_int_equal(json_walk_next(&w), 1);
	assert_true(json_walk_key_eq(&w, "long"));
	assert_int_equal(json_walk_double(&w, &d), -1);	/* > JSON_NUMBER_MAX */
	assert_int_equal(errno, EDOM);

	assert_int_equal(json_walk_next(&w), 1);
	assert_true(json_walk_key_eq(&w, "arr"));
	assert_int_equal(json_walk_enter(&w), 0);
	assert_int_equal(json_walk_next(&w), 1);
	assert_false(json_walk_key_eq(&w, "arr"));	/* no key in an array */
	assert_int_equal(json_walk_next(&w), 1);	/* 1 skimmed */
	assert_int_equal(json_walk_type(&w), JSON_OBJECT);
	assert_int_equal(json_walk_next(&w), 0);	/* the object skimmed */
	assert_false(json_walk_key_eq(&w, "arr"));	/* left: no key */
	assert_int_equal(json_walk_next(&w), 1);
	assert_true(json_walk_key_eq(&w, "o"));
	assert_int_equal(json_walk_enter(&w), 0);
	assert_int_equal(json_walk_next(&w), 0);
	assert_int_equal(json_walk_end(&w), -1);	/* the root is open */
	assert_int_equal(errno, EINVAL);
	arena_free(&a);

	/* The same, skimmed to the end. */
	assert_int_equal(json_walk_init(&w, doc, sizeof(doc) - 1, 0), 0);
	assert_int_equal(json_walk_enter(&w), 0);
	while ((b = json_walk_next(&w)) == 1)
		;
	assert_int_equal(b, 0);
	assert_int_equal(json_walk_end(&w), 0);
	/* Nothing is left to read: misuse sticks. */
	assert_int_equal(json_walk_next(&w), -1);
	assert_int_equal(json_walk_end(&w), -1);
}

static void
test_walk_span(void **state)
{
	static const char doc[] = "{\"all\":[{\"id\":\"x\",\"models\":"
	    "{\"m\":{\"id\":\"m\"}}}],\"s\":\"q\\\"\"}";
	struct json_walk w, sub;
	struct arena	 a;
	struct json	*j;
	size_t		 off, len;
	char		*s;

	(void)state;
	arena_init(&a);
	assert_int_equal(json_walk_init(&w, doc, sizeof(doc) - 1, 0), 0);
	assert_int_equal(json_walk_enter(&w), 0);
	assert_int_equal(json_walk_next(&w), 1);
	assert_int_equal(json_walk_span(&w, &off, &len), 0);
	assert_memory_equal(doc + off, "[{\"id\"", 6);
	assert_int_equal(doc[off + len - 1], ']');
	/* The span again, as a document with one bracket around it. */
	assert_int_equal(json_walk_init(&sub, doc + off, len, 1), 0);
	assert_int_equal(json_walk_enter(&sub), 0);
	assert_int_equal(json_walk_next(&sub), 1);
	assert_int_equal(json_walk_enter(&sub), 0);
	assert_int_equal(json_walk_next(&sub), 1);
	assert_true(json_walk_key_eq(&sub, "id"));
	assert_int_equal(json_walk_str(&sub, &a, &s), 0);
	assert_string_equal(s, "x");
	assert_int_equal(json_walk_next(&sub), 1);
	assert_int_equal(json_walk_next(&sub), 0);
	assert_int_equal(json_walk_next(&sub), 0);
	assert_int_equal(json_walk_end(&sub), 0);
	/* A string's span has its quotes: json_parse() reads it. */
	assert_int_equal(json_walk_next(&w), 1);
	assert_int_equal(json_walk_span(&w, &off, &len), 0);
	assert_int_equal(len, 5);
	assert_int_equal(json_parse(doc + off, len, &j), 0);
	assert_true(json_str_eq(j, 0, "q\""));
	json_free(j);
	assert_int_equal(json_walk_next(&w), 0);
	assert_int_equal(json_walk_end(&w), 0);
	arena_free(&a);
}

static void
test_walk_hostile(void **state)
{
	static const char doc[] = "{\"all\":[{\"id\":\"a\\u00e9\",\"key\":"
	    "\"sk-secret\",\"n\":[1,-2.5e3,true,null,{\"x\":\"\\\\\"}]}],"
	    "\"connected\":[\"a\"]}";
	struct json_walk w;
	struct arena	 a;
	char		*s, *big;
	size_t		 i, n = 200000;
	int		 d, r;

	(void)state;
	/* Every cut of a valid document is refused, walked or skimmed. */
	for (d = 0; d <= 5; d++) {
		assert_true(walk_all(doc, sizeof(doc) - 1, d) == 0);
		for (i = 0; i < sizeof(doc) - 1; i++)
			if (walk_all(doc, i, d) == 0)
				fail_msg("depth %d: cut at %zu accepted", d, i);
	}
	/* Too deep: entered, skimmed, or from a deep base. */
	big = malloc(2 * n + 2);
	assert_non_null(big);
	for (i = 0; i < n; i++) {
		big[i] = '[';
		big[n + i] = ']';
	}
	for (d = 0; d <= JSON_MAX_DEPTH + 1; d += 13) {
		assert_int_equal(walk_all(big, 2 * n, d), -1);
		assert_int_equal(errno, E2BIG);
	}
	/* Exactly at the limit, and one more, entered and skimmed. */
	memcpy(big + JSON_MAX_DEPTH, big + n, JSON_MAX_DEPTH);
	assert_int_equal(walk_all(big, 2 * JSON_MAX_DEPTH, 100), 0);
	assert_int_equal(walk_all(big, 2 * JSON_MAX_DEPTH, 1), 0);
	big[JSON_MAX_DEPTH] = '[';
	memcpy(big + JSON_MAX_DEPTH + 1, big + n, JSON_MAX_DEPTH + 1);
	assert_int_equal(walk_all(big, 2 * JSON_MAX_DEPTH + 2, 100), -1);
	assert_int_equal(errno, E2BIG);
	assert_int_equal(walk_all(big, 2 * JSON_MAX_DEPTH + 2, 1), -1);
	assert_int_equal(errno, E2BIG);
	assert_int_equal(json_walk_init(&w, "[]", 2, JSON_MAX_DEPTH), 0);
	assert_int_equal(json_walk_enter(&w), -1);
	assert_int_equal(errno, E2BIG);
	assert_int_equal(json_walk_init(&w, "[]", 2, JSON_MAX_DEPTH + 1), -1);
	/* Wide: many members, walked without tokens. */
	big[0] = '[';
	for (i = 1; i + 2 < 2 * n; i += 2)
		memcpy(big + i, "0,", 2);
	big[i - 1] = ']';
	assert_int_equal(walk_all(big, i, 100), 0);
	/* A huge string, read. */
	big[0] = '"';
	memset(big + 1, 'x', 2 * n);
	big[2 * n + 1] = '"';
	arena_init(&a);
	assert_int_equal(json_walk_init(&w, big, 2 * n + 2, 0), 0);
	assert_int_equal(json_walk_str(&w, &a, &s), 0);
	assert_int_equal(strlen(s), 2 * n);
	assert_int_equal(json_walk_end(&w), 0);
	/* A raw control character in a string read is refused (sticks). */
	assert_int_equal(json_walk_init(&w, "[\"a\x01\"]", 5, 0), 0);
	assert_int_equal(json_walk_enter(&w), 0);
	assert_int_equal(json_walk_next(&w), 1);
	assert_int_equal(json_walk_str(&w, &a, &s), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(json_walk_next(&w), -1);
	/* Too long for jsmn's int positions. */
	assert_int_equal(json_walk_init(&w, big, (size_t)JSON_MAX_LEN + 1, 0),
	    -1);
	assert_int_equal(errno, E2BIG);
	assert_int_equal(json_walk_type(&w), -1);
	assert_int_equal(json_walk_next(&w), -1);
	arena_free(&a);
	free(big);
	/* Misuse: next at the root, enter on nothing. */
	assert_int_equal(json_walk_init(&w, "1", 1, 0), 0);
	assert_int_equal(json_walk_next(&w), -1);
	assert_int_equal(json_walk_init(&w, "{}", 2, 0), 0);
	assert_int_equal(json_walk_enter(&w), 0);
	assert_int_equal(json_walk_enter(&w), -1);
	r = json_walk_next(&w);
	assert_int_equal(r, -1);
	/* Empty keys, and keys that differ in the first or the last byte. */
	assert_int_equal(json_walk_init(&w, "{\"\":1,\"ab\":2,\"\\u0061\":3}",
	    24, 0), 0);
	assert_int_equal(json_walk_enter(&w), 0);
	assert_int_equal(json_walk_next(&w), 1);
	assert_true(json_walk_key_eq(&w, ""));
	assert_false(json_walk_key_eq(&w, "a"));
	assert_int_equal(json_walk_next(&w), 1);
	assert_true(json_walk_key_eq(&w, "ab"));
	{
		static const char *const k[] = { "a", "abc", "bb", "ab", "ab" };

		assert_int_equal(json_walk_key_pick(&w, k, 5), 3);
		assert_int_equal(json_walk_key_pick(&w, k, 3), -1);
	}
	assert_false(json_walk_key_eq(&w, "a"));
	assert_false(json_walk_key_eq(&w, "abc"));
	assert_false(json_walk_key_eq(&w, "bb"));
	assert_false(json_walk_key_eq(&w, "aB"));
	assert_false(json_walk_key_eq(&w, ""));
	{
		static const char *const k3[] = { "b", "a", "a" };
		static const char *const k2[] = { "a", "abc" };

		assert_int_equal(json_walk_key_pick(&w, k2, 2), -1);
		assert_int_equal(json_walk_key_pick(&w, k3, 3), -1);
		assert_int_equal(json_walk_next(&w), 1);
		/* Escaped: decoded, the first match wins. */
		assert_int_equal(json_walk_key_pick(&w, k3, 3), 1);
		assert_int_equal(json_walk_key_pick(&w, k2, 2), 0);
		assert_int_equal(json_walk_key_pick(&w, k2, 0), -1);
	}
	assert_true(json_walk_key_eq(&w, "a"));
	assert_false(json_walk_key_eq(&w, "\\u0061"));
	assert_int_equal(json_walk_next(&w), 0);
	assert_int_equal(json_walk_end(&w), 0);
}

/*
 * json_walk_key_raw(): a plain key's bytes as they are (short, long, at the
 * end of the input), 0 for one that is not plain, -1 for no key.
 */
static void
test_walk_key_raw(void **state)
{
	static const char doc[] = "{\"ab\":1,\"\":2,\"\\u0061\":3,"
	    "\"\xc3\xa9\":4,\"a\x01\":5,"
	    "\"a_key_longer_than_sixteen_bytes\":6,"
	    "\"sixteen_bytes_and_then\\n\":7,\"q\\\"\":8,\"z\":[9]}";
	/* Its keys: plain (1: the raw bytes are the key) and key_eq's answer. */
	static const struct {
		const char	*key;
		int		 plain, eq;
	} keys[] = {
		{ "ab", 1, 1 },
		{ "", 1, 1 },
		/* Escaped, UTF-8, a raw control character: not plain. */
		{ "a", 0, 1 },
		{ "\xc3\xa9", 0, 1 },
		{ "a\x01", 0, 0 },		/* refused decoded */
		/* Longer than one 16-byte step, plain or with a late escape. */
		{ "a_key_longer_than_sixteen_bytes", 1, 1 },
		{ "sixteen_bytes_and_then\n", 0, 1 },
		/* An escaped quote does not end the key. */
		{ "q\"", 0, 1 },
		/* Near the end of the input (fewer than 16 bytes left). */
		{ "z", 1, 1 },
	};
	struct json_walk w;
	const char	*k;
	size_t		 len, i;

	(void)state;
	assert_int_equal(json_walk_init(&w, doc, sizeof(doc) - 1, 0), 0);
	assert_int_equal(json_walk_key_raw(&w, &k, &len), -1);	/* not in */
	assert_int_equal(json_walk_enter(&w), 0);
	assert_int_equal(json_walk_key_raw(&w, &k, &len), -1);	/* none yet */

	for (i = 0; i < NCASES(keys); i++) {
		assert_int_equal(json_walk_next(&w), 1);
		if (json_walk_key_raw(&w, &k, &len) != keys[i].plain)
			fail_msg("key %zu: not %d", i, keys[i].plain);
		if (keys[i].plain == 1 && (len != strlen(keys[i].key) ||
		    memcmp(k, keys[i].key, len) != 0))
			fail_msg("key %zu: raw \"%.*s\"", i, (int)len, k);
		if ((json_walk_key_eq(&w, keys[i].key) != 0) != keys[i].eq)
			fail_msg("key %zu: key_eq not %d", i, keys[i].eq);
	}
	assert_int_equal(json_walk_enter(&w), 0);
	assert_int_equal(json_walk_next(&w), 1);
	assert_int_equal(json_walk_key_raw(&w, &k, &len), -1);	/* an array */
	assert_int_equal(json_walk_next(&w), 0);
	assert_int_equal(json_walk_next(&w), 0);
	assert_int_equal(json_walk_end(&w), 0);

	/* A key cut before its closing quote: the walk fails. */
	assert_int_equal(json_walk_init(&w, "{\"abc", 5, 0), 0);
	assert_int_equal(json_walk_enter(&w), 0);
	assert_int_equal(json_walk_next(&w), -1);
	assert_int_equal(json_walk_init(&w, "{\"a_key_longer_than_16", 22, 0),
	    0);
	assert_int_equal(json_walk_enter(&w), 0);
	assert_int_equal(json_walk_next(&w), -1);
	assert_int_equal(json_walk_key_raw(&w, &k, &len), -1);
}

/* Empty containers are skimmed at once, checked as any other. */
static void
test_skim_empty(void **state)
{
	static const struct {
		const char	*s;
		int		 depth, err;
	} v[] = {
		{ "{}", 0, 0 }, { " [ \n\t] ", 0, 0 }, { "{ }", 63, 0 },
		{ "[]", 64, E2BIG }, { "{ ]", 0, EINVAL }, { "[}", 0, EINVAL },
		{ "{ ", 0, EINVAL }, { "[", 0, EINVAL }, { "[] x", 0, EINVAL },
		{ "{},", 0, EINVAL },
	};
	struct json_walk w;
	struct json	*j;
	size_t		 i, off, len;
	int		 r;

	(void)state;
	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		if (json_walk_init(&w, v[i].s, strlen(v[i].s), v[i].depth) ==
		    -1) {
			assert_int_not_equal(v[i].err, 0);
			continue;
		}
		errno = 0;
		r = json_walk_span(&w, &off, &len);
		if (r == 0)
			r = json_walk_end(&w);
		if (v[i].err == 0) {
			assert_int_equal(r, 0);
			assert_int_equal(v[i].s[off + len - 1],
			    v[i].s[off] == '{' ? '}' : ']');
		} else {
			if (r != -1)
				fail_msg("skimmed: \"%s\"", v[i].s);
			assert_int_equal(errno, v[i].err);
		}
	}
	/* Inside a skipped member of json_parse_member(). */
	assert_int_equal(json_parse_member("{\"a\":{ },\"b\":[]}", 16, "b",
	    &j), 0);
	assert_int_equal(json_type(j, 0), JSON_ARRAY);
	json_free(j);
	assert_int_equal(json_parse_member("{\"a\":{ ],\"b\":[]}", 16, "b",
	    &j), -1);
	assert_int_equal(errno, EINVAL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_valid),
		cmocka_unit_test(test_parse_invalid),
		cmocka_unit_test(test_depth),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_not_quadratic),
		cmocka_unit_test(test_navigation),
		cmocka_unit_test(test_parse_into),
		cmocka_unit_test(test_raw),
		cmocka_unit_test(test_obj_pick),
		cmocka_unit_test(test_parse_member),
		cmocka_unit_test(test_parse_member_depth),
		cmocka_unit_test(test_strings),
		cmocka_unit_test(test_huge_string),
		cmocka_unit_test(test_integers),
		cmocka_unit_test(test_truncations),
		cmocka_unit_test(test_utf8_next),
		cmocka_unit_test(test_arena),
		cmocka_unit_test(test_arena_raw),
		cmocka_unit_test(test_pathenc),
		cmocka_unit_test(test_walk_valid_invalid),
		cmocka_unit_test(test_walk_read),
		cmocka_unit_test(test_walk_span),
		cmocka_unit_test(test_walk_hostile),
		cmocka_unit_test(test_walk_key_raw),
		cmocka_unit_test(test_skim_empty),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
