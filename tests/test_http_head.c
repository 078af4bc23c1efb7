/*
 * Copyright (c) 2026 The ocbroker authors
 * SPDX-License-Identifier: ISC (the licence is in the file LICENSE)
 */

/* Unit tests: incremental HTTP/1.1 request-head parser. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "broker/http_head.h"
#include "tests/support/cases.h"

static const char valid_head[] =
    "GET / HTTP/1.1\r\n"
    "Host: 127.0.0.1:50051\r\n"
    "Upgrade: websocket\r\n"
    "Connection: Upgrade\r\n"
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    "Sec-WebSocket-Version: 13\r\n"
    "\r\n";
#define VALID_LEN	(sizeof(valid_head) - 1)

/* A masked WebSocket frame that follows the head in the same read. */
static const char frame[] = "\x82\x85\x01\x02\x03\x04hello";
#define FRAME_LEN	(sizeof(frame) - 1)

static int
span_eq(const char *s, size_t len, const char *want)
{
	return strlen(want) == len && memcmp(s, want, len) == 0;
}

static void
check_valid_head(const struct http_head *h)
{
	assert_true(span_eq(h->method, h->method_len, "GET"));
	assert_true(span_eq(h->target, h->target_len, "/"));
	assert_int_equal(h->version_major, 1);
	assert_int_equal(h->version_minor, 1);
	assert_int_equal(h->nheaders, 5);
	assert_true(span_eq(h->headers[0].name, h->headers[0].name_len,
	    "Host"));
	assert_true(span_eq(h->headers[0].value, h->headers[0].value_len,
	    "127.0.0.1:50051"));
	assert_true(span_eq(h->headers[3].name, h->headers[3].name_len,
	    "Sec-WebSocket-Key"));
	assert_true(span_eq(h->headers[3].value, h->headers[3].value_len,
	    "dGhlIHNhbXBsZSBub25jZQ=="));
	assert_true(span_eq(h->headers[4].value, h->headers[4].value_len,
	    "13"));
}

/* Feeds s whole; returns the status, *consumed and the parser state. */
static enum http_head_status
feed_str(struct http_head_parser *p, const char *s, size_t len,
    size_t *consumed)
{
	http_head_init(p);
	return http_head_feed(p, (const uint8_t *)s, len, consumed);
}

/* Feeds s one byte at a time; returns the final status and its offset. */
static enum http_head_status
feed_bytewise(struct http_head_parser *p, const char *s, size_t len,
    size_t *at)
{
	enum http_head_status st = HTTP_HEAD_INCOMPLETE;
	size_t i, c;

	http_head_init(p);
	for (i = 0; i < len; i++) {
		st = http_head_feed(p, (const uint8_t *)s + i, 1, &c);
		assert_int_equal(c, 1);
		assert_true(p->len <= HTTP_HEAD_MAX);
		if (st != HTTP_HEAD_INCOMPLETE)
			break;
	}
	*at = i;
	return st;
}

static void
expect_error(const char *s, size_t len, int status)
{
	struct http_head_parser p;
	size_t consumed, at;

	assert_int_equal(feed_str(&p, s, len, &consumed), HTTP_HEAD_ERROR);
	assert_int_equal(p.error_status, status);
	assert_non_null(p.error_reason);
	assert_true(consumed <= len);
	/* Byte-at-a-time finds the same error at the same byte. */
	assert_int_equal(feed_bytewise(&p, s, len, &at), HTTP_HEAD_ERROR);
	assert_int_equal(p.error_status, status);
	assert_int_equal(at + 1, consumed);
}

static void
expect_400(const char *s)
{
	expect_error(s, strlen(s), 400);
}

static void
expect_each_400(const char *const *v, size_t n)
{
	size_t	i;

	for (i = 0; i < n; i++)
		expect_400(v[i]);
}

static void
expect_done(const char *s)
{
	struct http_head_parser p;
	size_t consumed;

	assert_int_equal(feed_str(&p, s, strlen(s), &consumed), HTTP_HEAD_DONE);
	assert_int_equal(consumed, strlen(s));
}

static void
test_valid_whole(void **state)
{
	struct http_head_parser p;
	size_t consumed = 999;

	(void)state;
	assert_int_equal(feed_str(&p, valid_head, VALID_LEN, &consumed),
	    HTTP_HEAD_DONE);
	assert_int_equal(consumed, VALID_LEN);
	assert_int_equal(p.error_status, 0);
	check_valid_head(&p.head);
}

static void
test_valid_bytewise(void **state)
{
	struct http_head_parser p;
	size_t at;

	(void)state;
	assert_int_equal(feed_bytewise(&p, valid_head, VALID_LEN, &at),
	    HTTP_HEAD_DONE);
	assert_int_equal(at, VALID_LEN - 1);
	check_valid_head(&p.head);
}

static void
test_valid_every_split(void **state)
{
	struct http_head_parser p;
	const uint8_t *d = (const uint8_t *)valid_head;
	size_t k, c;

	(void)state;
	for (k = 0; k <= VALID_LEN; k++) {
		http_head_init(&p);
		if (k < VALID_LEN) {
			assert_int_equal(http_head_feed(&p, d, k, &c),
			    HTTP_HEAD_INCOMPLETE);
			assert_int_equal(c, k);
			assert_int_equal(http_head_feed(&p, d + k,
			    VALID_LEN - k, &c), HTTP_HEAD_DONE);
			assert_int_equal(c, VALID_LEN - k);
		} else {
			assert_int_equal(http_head_feed(&p, d, k, &c),
			    HTTP_HEAD_DONE);
			assert_int_equal(c, k);
		}
		check_valid_head(&p.head);
	}
}

/* Bytes after the blank line are the caller's, in any split. */
static void
test_leftover(void **state)
{
	struct http_head_parser p;
	uint8_t buf[VALID_LEN + FRAME_LEN];
	size_t k, c, total = sizeof(buf);

	(void)state;
	memcpy(buf, valid_head, VALID_LEN);
	memcpy(buf + VALID_LEN, frame, FRAME_LEN);

	http_head_init(&p);
	assert_int_equal(http_head_feed(&p, buf, total, &c), HTTP_HEAD_DONE);
	assert_int_equal(c, VALID_LEN);
	assert_int_equal(p.len, VALID_LEN);
	check_valid_head(&p.head);

	for (k = 0; k < total; k++) {
		http_head_init(&p);
		if (k >= VALID_LEN) {
			assert_int_equal(http_head_feed(&p, buf, k, &c),
			    HTTP_HEAD_DONE);
			assert_int_equal(c, VALID_LEN);
		} else {
			assert_int_equal(http_head_feed(&p, buf, k, &c),
			    HTTP_HEAD_INCOMPLETE);
			assert_int_equal(c, k);
			assert_int_equal(http_head_feed(&p, buf + k, total - k,
			    &c), HTTP_HEAD_DONE);
			assert_int_equal(c, VALID_LEN - k);
		}
		check_valid_head(&p.head);
	}
}

static void
test_feed_after_end(void **state)
{
	struct http_head_parser p;
	size_t c;

	(void)state;
	assert_int_equal(feed_str(&p, valid_head, VALID_LEN, &c),
	    HTTP_HEAD_DONE);
	assert_int_equal(http_head_feed(&p, (const uint8_t *)"x", 1, &c),
	    HTTP_HEAD_DONE);
	assert_int_equal(c, 0);
	assert_int_equal(p.len, VALID_LEN);

	assert_int_equal(feed_str(&p, "GET  / HTTP/1.1\r\n", 17, &c),
	    HTTP_HEAD_ERROR);
	assert_int_equal(http_head_feed(&p, (const uint8_t *)"x", 1, &c),
	    HTTP_HEAD_ERROR);
	assert_int_equal(c, 0);
	assert_int_equal(p.error_status, 400);

	/* Empty feeds and a NULL consumed are fine. */
	http_head_init(&p);
	assert_int_equal(http_head_feed(&p, NULL, 0, &c), HTTP_HEAD_INCOMPLETE);
	assert_int_equal(c, 0);
	assert_int_equal(http_head_feed(&p, (const uint8_t *)valid_head,
	    VALID_LEN, NULL), HTTP_HEAD_DONE);
}

static void
test_ows_and_values(void **state)
{
	struct http_head_parser p;
	const struct http_head *h = &p.head;
	const char *s =
	    "GET /a?b=c%20d HTTP/1.1\r\n"
	    "A:x\r\n"
	    "B: \t y z \t \r\n"
	    "C:\r\n"
	    "D:   \r\n"
	    "E: caf\xc3\xa9\r\n"		/* obs-text is allowed */
	    "!#$%&'*+-.^_`|~09azAZ: v\r\n"	/* every tchar class */
	    "\r\n";
	size_t c;

	(void)state;
	assert_int_equal(feed_str(&p, s, strlen(s), &c), HTTP_HEAD_DONE);
	assert_true(span_eq(h->target, h->target_len, "/a?b=c%20d"));
	assert_int_equal(h->nheaders, 6);
	assert_true(span_eq(h->headers[0].value, h->headers[0].value_len, "x"));
	assert_true(span_eq(h->headers[1].value, h->headers[1].value_len,
	    "y z"));
	assert_int_equal(h->headers[2].value_len, 0);
	assert_int_equal(h->headers[3].value_len, 0);
	assert_true(span_eq(h->headers[4].value, h->headers[4].value_len,
	    "caf\xc3\xa9"));
	assert_true(span_eq(h->headers[5].name, h->headers[5].name_len,
	    "!#$%&'*+-.^_`|~09azAZ"));
}

static void
test_find(void **state)
{
	struct http_head_parser p;
	const struct http_header *f;
	const char *s =
	    "GET / HTTP/1.1\r\n"
	    "X-One: 1\r\n"
	    "x-two: a\r\n"
	    "X-TWO: b\r\n"
	    "X-Twofold: c\r\n"
	    "\r\n";
	size_t c, n;

	(void)state;
	assert_int_equal(feed_str(&p, s, strlen(s), &c), HTTP_HEAD_DONE);
	f = http_head_find(&p.head, "x-one", &n);
	assert_non_null(f);
	assert_int_equal(n, 1);
	assert_true(span_eq(f->value, f->value_len, "1"));
	f = http_head_find(&p.head, "X-Two", &n);
	assert_non_null(f);
	assert_int_equal(n, 2);
	assert_true(span_eq(f->value, f->value_len, "a"));
	assert_null(http_head_find(&p.head, "X-Tw", &n));
	assert_int_equal(n, 0);
	assert_null(http_head_find(&p.head, "X-One ", NULL));
	assert_null(http_head_find(&p.head, "", &n));
	assert_int_equal(n, 0);
	assert_non_null(http_head_find(&p.head, "X-TWOFOLD", NULL));
}

/* The parser records any version and token method; the policy judges them. */
static void
test_parsed_not_judged(void **state)
{
	struct http_head_parser p;
	size_t c;
	const char *s10 = "GET / HTTP/1.0\r\n\r\n";
	const char *s29 = "get /x HTTP/2.9\r\nHost: a\r\n\r\n";

	(void)state;
	assert_int_equal(feed_str(&p, s10, strlen(s10), &c), HTTP_HEAD_DONE);
	assert_int_equal(p.head.version_major, 1);
	assert_int_equal(p.head.version_minor, 0);
	assert_int_equal(p.head.nheaders, 0);
	assert_int_equal(feed_str(&p, s29, strlen(s29), &c), HTTP_HEAD_DONE);
	assert_true(span_eq(p.head.method, p.head.method_len, "get"));
	assert_int_equal(p.head.version_major, 2);
	assert_int_equal(p.head.version_minor, 9);
	expect_done("OPTIONS * HTTP/1.1\r\n\r\n");
}

static void
test_request_line_errors(void **state)
{
	static const char *const bad[] = {
		"GET  / HTTP/1.1\r\n\r\n",	/* double space */
		"GET /  HTTP/1.1\r\n\r\n",
		" GET / HTTP/1.1\r\n\r\n",
		"GET / HTTP/1.1 \r\n\r\n",	/* trailing space */
		"GET\t/ HTTP/1.1\r\n\r\n",
		"GET / \r\n\r\n",		/* empty version */
		"GET /\r\n\r\n",		/* HTTP/0.9 style */
		"GET / http/1.1\r\n\r\n",	/* version is case-sensitive */
		"GET / HTTP/11\r\n\r\n",
		"GET / HTTP/1.1x\r\n\r\n",
		"GET / HTTP/1.10\r\n\r\n",
		"GET / HTTP/a.1\r\n\r\n",
		"GET / HTTP/1,1\r\n\r\n",
		"GET / HTTP/1.1\r\r\n\r\n",
		"GE(T / HTTP/1.1\r\n\r\n",	/* not a token */
		"GET /\x7f HTTP/1.1\r\n\r\n",	/* DEL in target */
		"GET /\x01 HTTP/1.1\r\n\r\n",
		"GET /\xc3\xa9 HTTP/1.1\r\n\r\n", /* non-ASCII target */
		"\r\nGET / HTTP/1.1\r\n\r\n",	/* leading empty line */
		"\r\n\r\n",
		"GET / HTTP/1.1\n\r\n",	/* bare LF */
		"GET\n",
	};

	(void)state;
	expect_each_400(bad, NCASES(bad));
}

static void
test_header_errors(void **state)
{
	static const char *const bad[] = {
		"GET / HTTP/1.1\r\nHost : a\r\n\r\n",	/* space before colon */
		"GET / HTTP/1.1\r\nHost\t: a\r\n\r\n",
		"GET / HTTP/1.1\r\nHost a\r\n\r\n",
		"GET / HTTP/1.1\r\nHost\r\n\r\n",	/* no colon */
		"GET / HTTP/1.1\r\n: a\r\n\r\n",	/* empty name */
		"GET / HTTP/1.1\r\nHo(st: a\r\n\r\n",	/* not a token */
		"GET / HTTP/1.1\r\nHo\xc3\xa9: a\r\n\r\n",
		/* obs-fold, with SP and with HTAB */
		"GET / HTTP/1.1\r\nA: b\r\n c\r\n\r\n",
		"GET / HTTP/1.1\r\nA: b\r\n\tc\r\n\r\n",
		"GET / HTTP/1.1\r\n Host: a\r\n\r\n",	/* whitespace first */
		"GET / HTTP/1.1\r\nA: b\x01\r\n\r\n",	/* control chars */
		"GET / HTTP/1.1\r\nA: \x1b\r\n\r\n",
		"GET / HTTP/1.1\r\nA: b\x7f\r\n\r\n",
		"GET / HTTP/1.1\r\nA: b\rc\r\n\r\n",	/* bare CR */
		"GET / HTTP/1.1\r\nA: b\r\r\n\r\n",
		"GET / HTTP/1.1\r\nA: b\n\r\n",		/* bare LF */
		"GET / HTTP/1.1\r\nA: b\r\n\n",
		"GET / HTTP/1.1\r\nA: b\r\n\rx",
		"GET / HTTP/1.1\r\nA\n",
	};

	(void)state;
	expect_each_400(bad, NCASES(bad));
}

/* A NUL at any position of a valid head is a 400, found right there. */
static void
test_nul_anywhere(void **state)
{
	struct http_head_parser p;
	char buf[VALID_LEN];
	size_t i, c;

	(void)state;
	for (i = 0; i < VALID_LEN; i++) {
		memcpy(buf, valid_head, VALID_LEN);
		buf[i] = '\0';
		assert_int_equal(feed_str(&p, buf, VALID_LEN, &c),
		    HTTP_HEAD_ERROR);
		assert_int_equal(p.error_status, 400);
		assert_int_equal(c, i + 1);
	}
}

/* The same head with bare LF line endings is refused at the first LF. */
static void
test_lf_only(void **state)
{
	const char *lf =
	    "GET / HTTP/1.1\n"
	    "Host: 127.0.0.1:50051\n"
	    "Upgrade: websocket\n"
	    "\n";
	char buf[VALID_LEN];
	size_t i, j, o;

	(void)state;
	expect_400(lf);
	/* Drop each CR of the valid head in turn. */
	for (i = 0; i < VALID_LEN; i++) {
		if (valid_head[i] != '\r')
			continue;
		for (j = 0, o = 0; j < VALID_LEN; j++)
			if (j != i)
				buf[o++] = valid_head[j];
		expect_error(buf, o, 400);
	}
}

/* Builds a complete head of exactly len bytes (len >= 64) into buf. */
#define SIZED_PRE	"GET / HTTP/1.1\r\nHost: localhost:1\r\nX-Pad: "

static void
make_head_of_size(char *buf, size_t len)
{
	size_t n = strlen(SIZED_PRE);

	memcpy(buf, SIZED_PRE, n);
	memset(buf + n, 'a', len - n - 4);
	memcpy(buf + len - 4, "\r\n\r\n", 4);
}

static void
test_size_limit(void **state)
{
	static char buf[HTTP_HEAD_MAX + 100];
	struct http_head_parser p;
	size_t c, at;

	(void)state;
	/* Exactly HTTP_HEAD_MAX bytes, CRLFCRLF included: accepted. */
	make_head_of_size(buf, HTTP_HEAD_MAX);
	assert_int_equal(feed_str(&p, buf, HTTP_HEAD_MAX, &c), HTTP_HEAD_DONE);
	assert_int_equal(c, HTTP_HEAD_MAX);
	assert_int_equal(p.head.headers[1].value_len,
	    HTTP_HEAD_MAX - strlen(SIZED_PRE) - 4);
	assert_int_equal(feed_bytewise(&p, buf, HTTP_HEAD_MAX, &at),
	    HTTP_HEAD_DONE);
	assert_int_equal(at, HTTP_HEAD_MAX - 1);
	/* Leftover bytes beyond the limit do not count against it. */
	memset(buf + HTTP_HEAD_MAX, 'z', 100);
	assert_int_equal(feed_str(&p, buf, HTTP_HEAD_MAX + 100, &c),
	    HTTP_HEAD_DONE);
	assert_int_equal(c, HTTP_HEAD_MAX);

	/* One byte more: 431, without buffering past the limit. */
	make_head_of_size(buf, HTTP_HEAD_MAX + 1);
	assert_int_equal(feed_str(&p, buf, HTTP_HEAD_MAX + 1, &c),
	    HTTP_HEAD_ERROR);
	assert_int_equal(p.error_status, 431);
	assert_int_equal(c, HTTP_HEAD_MAX);
	assert_int_equal(p.len, HTTP_HEAD_MAX);
	assert_int_equal(feed_bytewise(&p, buf, HTTP_HEAD_MAX + 1, &at),
	    HTTP_HEAD_ERROR);
	assert_int_equal(p.error_status, 431);
	assert_int_equal(at, HTTP_HEAD_MAX - 1);

	/* A endless header line, and an endless request line. */
	memset(buf, 'a', HTTP_HEAD_MAX + 100);
	memcpy(buf, "GET /", 5);
	expect_error(buf, HTTP_HEAD_MAX + 100, 431);
	memcpy(buf, "GET / HTTP/1.1\r\nX: ", 19);
	expect_error(buf, HTTP_HEAD_MAX + 100, 431);

	/* Fed in big chunks: the chunk that crosses the limit fails. */
	make_head_of_size(buf, HTTP_HEAD_MAX + 1);
	http_head_init(&p);
	assert_int_equal(http_head_feed(&p, (uint8_t *)buf, 8000, &c),
	    HTTP_HEAD_INCOMPLETE);
	assert_int_equal(http_head_feed(&p, (uint8_t *)buf + 8000,
	    HTTP_HEAD_MAX + 1 - 8000, &c), HTTP_HEAD_ERROR);
	assert_int_equal(p.error_status, 431);
}

static size_t
make_head_with_headers(char *buf, size_t cap, size_t n)
{
	size_t i, o;

	o = (size_t)snprintf(buf, cap, "GET / HTTP/1.1\r\n");
	for (i = 0; i < n; i++)
		o += (size_t)snprintf(buf + o, cap - o, "X-H%zu: %zu\r\n", i,
		    i);
	o += (size_t)snprintf(buf + o, cap - o, "\r\n");
	assert_true(o < cap);
	return o;
}

static void
test_header_count(void **state)
{
	struct http_head_parser p;
	char buf[4096];
	size_t len, c;

	(void)state;
	len = make_head_with_headers(buf, sizeof(buf), HTTP_HEAD_MAX_HEADERS);
	assert_int_equal(feed_str(&p, buf, len, &c), HTTP_HEAD_DONE);
	assert_int_equal(p.head.nheaders, HTTP_HEAD_MAX_HEADERS);
	assert_true(span_eq(p.head.headers[63].name,
	    p.head.headers[63].name_len, "X-H63"));
	assert_true(span_eq(p.head.headers[63].value,
	    p.head.headers[63].value_len, "63"));

	len = make_head_with_headers(buf, sizeof(buf),
	    HTTP_HEAD_MAX_HEADERS + 1);
	expect_error(buf, len, 431);
	/* Detected at the first byte of the 65th line. */
	assert_int_equal(feed_str(&p, buf, len, &c), HTTP_HEAD_ERROR);
	assert_true(span_eq(buf + c - 1, 4, "X-H6"));
	assert_true(span_eq(buf + c - 1 + 3, 2, "64"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid_whole),
		cmocka_unit_test(test_valid_bytewise),
		cmocka_unit_test(test_valid_every_split),
		cmocka_unit_test(test_leftover),
		cmocka_unit_test(test_feed_after_end),
		cmocka_unit_test(test_ows_and_values),
		cmocka_unit_test(test_find),
		cmocka_unit_test(test_parsed_not_judged),
		cmocka_unit_test(test_request_line_errors),
		cmocka_unit_test(test_header_errors),
		cmocka_unit_test(test_nul_anywhere),
		cmocka_unit_test(test_lf_only),
		cmocka_unit_test(test_size_limit),
		cmocka_unit_test(test_header_count),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
