/*
 * Copyright (c) 2026 The ocbroker authors
 * SPDX-License-Identifier: ISC (the licence is in the file LICENSE)
 */

/*
 * cmocka tests of netproc/sse.c: every captured GET /event transcript
 * (tests/fixtures/sse-*.txt, directory from $OCB_FIXTURES) parsed whole, one
 * byte at a time and split in two at every byte boundary (a sampled set of
 * boundaries for the large sse-many.txt), always giving the same events; and
 * hand-written streams for what the real server never sends (CR, CRLF, BOM,
 * comments, id/retry/event fields, over-long lines, NUL bytes).
 */
#include "config.h"

#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "netproc/sse.h"
#include "tests/support/cases.h"
#include "tests/support/fixture.h"
#include "tests/support/sse_feed.h"

#define EXHAUSTIVE_MAX	(64 * 1024)	/* split every boundary up to this size */
#define SAMPLE_EDGE	1024		/* big files: every boundary near the ends */
#define SAMPLE_STRIDE	8191		/* and one in this many in between */

/* ---- collected events ---- */

struct rec {
	char	*data;		/* one allocation with type and id */
	size_t	 data_len;
	char	*type;
	char	*id;
	int64_t	 retry_ms;
};

struct recs {
	struct rec	*v;
	size_t		 n, cap;
	int		 error;
	const char	*why;
	const struct recs *cmp;		/* compare with these instead of keeping */
	int		 differs;
};

static char *
dup_bytes(const char *s, size_t n)
{
	char	*p = malloc(n + 1);

	assert_non_null(p);
	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

static void
recs_add(void *arg, const struct sse_event *ev)
{
	struct recs	*r = arg;
	struct rec	*e;

	/* The strings are NUL-terminated at their lengths. */
	assert_int_equal(ev->data[ev->data_len], '\0');
	assert_int_equal(ev->type[ev->type_len], '\0');
	assert_int_equal(ev->id[ev->id_len], '\0');
	if (r->cmp != NULL) {
		/* No copies: the split tests run thousands of parses. */
		if (r->n >= r->cmp->n)
			r->differs = 1;
		else {
			e = &r->cmp->v[r->n];
			if (e->data_len != ev->data_len ||
			    memcmp(e->data, ev->data, ev->data_len) != 0 ||
			    strcmp(e->type, ev->type) != 0 ||
			    strcmp(e->id, ev->id) != 0 ||
			    e->retry_ms != ev->retry_ms)
				r->differs = 1;
		}
		r->n++;
		return;
	}
	if (r->n == r->cap) {
		r->cap = r->cap * 2 + 16;
		r->v = realloc(r->v, r->cap * sizeof(*r->v));
		assert_non_null(r->v);
	}
	/* One block an event: data, type and id, each with its NUL. */
	e = &r->v[r->n++];
	e->data = malloc(ev->data_len + ev->type_len + ev->id_len + 3);
	assert_non_null(e->data);
	memcpy(e->data, ev->data, ev->data_len + 1);
	e->data_len = ev->data_len;
	e->type = e->data + ev->data_len + 1;
	memcpy(e->type, ev->type, ev->type_len + 1);
	e->id = e->type + ev->type_len + 1;
	memcpy(e->id, ev->id, ev->id_len + 1);
	e->retry_ms = ev->retry_ms;
}

static void
recs_free(struct recs *r)
{
	size_t	i;

	for (i = 0; i < r->n; i++)
		free(r->v[i].data);	/* and type and id, in its block */
	free(r->v);
	memset(r, 0, sizeof(*r));
}

/* Feeds one chunk, collecting every event; checks consumed. */
static void
feed(struct sse_parser *p, const void *buf, size_t len, struct recs *r)
{
	const char	*broken;
	int		 failed;

	if ((broken = sse_feed_chunk(p, buf, len, recs_add, r,
	    &failed)) != NULL)
		fail_msg("sse_parser_feed: %s", broken);
	if (failed) {
		r->error = 1;
		r->why = p->error;
	}
}

static void
feed_str(struct sse_parser *p, const char *s, struct recs *r)
{
	feed(p, s, strlen(s), r);
}

/* Parses buf split at the given boundaries, into r. */
static void
parse_split(const uint8_t *buf, size_t len, size_t k, struct recs *r)
{
	struct sse_parser	p;

	sse_parser_init(&p);
	feed(&p, buf, k, r);
	feed(&p, buf + k, len - k, r);
	sse_parser_free(&p);
}

static void
add_expected(struct recs *r, const uint8_t *data, size_t len)
{
	struct sse_event	 ev;
	char			*d = dup_bytes((const char *)data, len);

	ev.data = d;
	ev.data_len = len;
	ev.type = "message";
	ev.type_len = strlen("message");
	ev.id = "";
	ev.id_len = 0;
	ev.retry_ms = -1;
	recs_add(r, &ev);
	free(d);
}

/*
 * What the captures are made of (reference README, "SSE framing"): every
 * event is exactly "data: <json>\n\n".  This reads them with a plain line
 * split, independently of the parser.
 */
static void
expected_events(const uint8_t *buf, size_t len, struct recs *r)
{
	size_t	i = 0, e;

	while (i < len) {
		for (e = i; e < len && buf[e] != '\n'; e++)
			;
		if (e - i >= 6 && memcmp(buf + i, "data: ", 6) == 0) {
			/* A complete event: its blank line follows. */
			if (e + 1 < len && buf[e + 1] == '\n')
				add_expected(r, buf + i + 6, e - i - 6);
		} else
			assert_int_equal(e - i, 0);	/* only blank lines */
		i = e + 1;
	}
}

static void
assert_same(const struct recs *a, const struct recs *b, const char *what,
    size_t k)
{
	size_t	i;

	if (a->n != b->n)
		fail_msg("%s split at %zu: %zu events, expected %zu", what, k,
		    b->n, a->n);
	for (i = 0; i < a->n; i++) {
		if (a->v[i].data_len != b->v[i].data_len ||
		    memcmp(a->v[i].data, b->v[i].data, a->v[i].data_len) != 0 ||
		    strcmp(a->v[i].type, b->v[i].type) != 0 ||
		    strcmp(a->v[i].id, b->v[i].id) != 0 ||
		    a->v[i].retry_ms != b->v[i].retry_ms)
			fail_msg("%s split at %zu: event %zu differs", what, k, i);
	}
}

static int
is_sse_fixture(const char *name)
{
	size_t	n = strlen(name);

	return strncmp(name, "sse-", 4) == 0 && n > 8 &&
	    strcmp(name + n - 4, ".txt") == 0;
}

static int
want_split(size_t k, size_t len)
{
	if (len <= EXHAUSTIVE_MAX)
		return 1;
	return k < SAMPLE_EDGE || len - k < SAMPLE_EDGE ||
	    k % SAMPLE_STRIDE == 0;
}

static void
check_fixture(const char *name)
{
	struct sse_parser	 p;
	struct recs		 want = { 0 }, whole = { 0 }, got;
	uint8_t			*buf;
	size_t			 len, k, splits = 0;

	buf = fx_load(name, &len);
	expected_events(buf, len, &want);
	assert_true(want.n > 0);

	parse_split(buf, len, len, &whole);
	assert_false(whole.error);
	assert_same(&want, &whole, name, len);

	/* One byte at a time. */
	memset(&got, 0, sizeof(got));
	sse_parser_init(&p);
	for (k = 0; k < len; k++)
		feed(&p, buf + k, 1, &got);
	sse_parser_free(&p);
	assert_same(&want, &got, name, 1);
	recs_free(&got);

	for (k = 0; k <= len; k++) {
		if (!want_split(k, len))
			continue;
		memset(&got, 0, sizeof(got));
		got.cmp = &want;
		parse_split(buf, len, k, &got);
		assert_false(got.error);
		if (got.differs || got.n != want.n)
			fail_msg("%s split at %zu: %zu events, differs %d", name,
			    k, got.n, got.differs);
		splits++;
	}
	print_message("%-28s %7zu bytes %5zu events %7zu splits\n", name, len,
	    want.n, splits);
	recs_free(&want);
	recs_free(&whole);
	free(buf);
}

static void
test_fixtures(void **state)
{
	DIR		*d;
	struct dirent	*de;
	int		 n = 0, many = 0;

	(void)state;
	if ((d = opendir(fx_dir())) == NULL)
		fail_msg("no fixtures at %s", fx_dir());
	while ((de = readdir(d)) != NULL) {
		if (!is_sse_fixture(de->d_name))
			continue;
		check_fixture(de->d_name);
		if (strcmp(de->d_name, "sse-many.txt") == 0)
			many = 1;
		n++;
	}
	closedir(d);
	/* 18 transcripts in the 1.18.34 capture. */
	assert_true(n >= 18);
	assert_true(many);
}

/* sse-many: 2000 deltas plus the rest of the chat. */
static void
test_many_count(void **state)
{
	struct recs	 r = { 0 };
	uint8_t		*buf;
	size_t		 len, i, deltas = 0;

	(void)state;
	buf = fx_load("sse-many.txt", &len);
	parse_split(buf, len, len / 2, &r);
	for (i = 0; i < r.n; i++)
		if (strstr(r.v[i].data, "\"type\":\"message.part.delta\"") != NULL)
			deltas++;
	assert_int_equal(deltas, 2000);
	recs_free(&r);
	free(buf);
}

/* ---- hand-written streams ---- */

static void
test_line_ends(void **state)
{
	/* Each feed, and how many events there are after it. */
	static const struct num_case feeds[] = {
		/* CRLF split between feeds, in a data line and a blank line. */
		{ "data: a\r", 0 },
		{ "\ndata: b\r\n\r", 1 },	/* the CR ends the blank line */
		{ "\n", 1 },			/* its LF adds no blank line */
		{ "data: c\n\n", 2 },
		/* Lone CRs. */
		{ "data: d\rdata: e\r\r", 3 },
		/* LF then CR: two line ends, not one CRLF. */
		{ "data: f\n\rdata: g\r\n\n", 5 },
		/* A CR at the end of a feed, then something else than LF. */
		{ "data: h\r", 5 },
		{ "data: i\r", 5 },
		{ "\r", 6 },
		/* CR CR LF: a line end, then a CRLF blank line. */
		{ "data: j\r\r\n", 7 },
	};
	static const char *const data[] = {
		"a\nb", "c", "d\ne", "f", "g", "h\ni", "j",
	};
	struct sse_parser	p;
	struct recs		r = { 0 };
	size_t			i;

	(void)state;
	sse_parser_init(&p);
	for (i = 0; i < NCASES(feeds); i++) {
		feed_str(&p, feeds[i].in, &r);
		if (r.n != (size_t)feeds[i].want)
			fail_msg("feed %zu: %zu events", i, r.n);
	}
	for (i = 0; i < NCASES(data); i++)
		assert_string_equal(r.v[i].data, data[i]);
	assert_false(r.error);
	sse_parser_free(&p);
	recs_free(&r);
}

static void
test_every_chunking(void **state)
{
	static const char	 s[] =
	    "\xef\xbb\xbf: hello\r\n"
	    "event: tick\r"
	    "id: 7\n"
	    "retry: 2500\r\n"
	    "data: one\r"
	    "data\n"
	    "data:  two\r\n"
	    "\r"
	    "data: three\n"
	    "\n";
	struct sse_parser	 p;
	struct recs		 want = { 0 }, got;
	size_t			 len = sizeof(s) - 1, a, b;

	(void)state;
	sse_parser_init(&p);
	feed(&p, s, len, &want);
	sse_parser_free(&p);
	assert_int_equal(want.n, 2);
	assert_string_equal(want.v[0].data, "one\n\n two");
	assert_string_equal(want.v[0].type, "tick");
	assert_string_equal(want.v[0].id, "7");
	assert_int_equal(want.v[0].retry_ms, 2500);
	assert_string_equal(want.v[1].data, "three");
	assert_string_equal(want.v[1].type, "message");
	assert_string_equal(want.v[1].id, "7");
	assert_int_equal(want.v[1].retry_ms, 2500);

	/* Every split in three pieces. */
	for (a = 0; a <= len; a++) {
		for (b = a; b <= len; b++) {
			memset(&got, 0, sizeof(got));
			sse_parser_init(&p);
			feed(&p, s, a, &got);
			feed(&p, s + a, b - a, &got);
			feed(&p, s + b, len - b, &got);
			sse_parser_free(&p);
			assert_same(&want, &got, "3-way", a * 1000 + b);
			recs_free(&got);
		}
	}
	recs_free(&want);
}

static void
test_fields(void **state)
{
	static const char	idnul[] = "id: 4\0003\ndata: c\n\n";
	struct sse_parser	p;
	struct recs		r = { 0 };

	(void)state;
	sse_parser_init(&p);
	/* Comments, unknown fields, a field without a colon. */
	feed_str(&p, ": comment\n:\nfoo: bar\nfoo\ndata: x\n: more\n\n", &r);
	assert_int_equal(r.n, 1);
	assert_string_equal(r.v[0].data, "x");
	assert_string_equal(r.v[0].id, "");
	assert_int_equal(r.v[0].retry_ms, -1);

	/* data without a colon: an empty line of data; only one space goes. */
	feed_str(&p, "data\n\ndata:x\ndata:  y\ndata:\n\n", &r);
	assert_int_equal(r.n, 3);
	assert_string_equal(r.v[1].data, "");
	assert_string_equal(r.v[2].data, "x\n y\n");

	/* Blank lines with no data dispatch nothing and forget the type. */
	feed_str(&p, "\n\n\nevent: foo\n\ndata: z\n\n", &r);
	assert_int_equal(r.n, 4);
	assert_string_equal(r.v[3].type, "message");

	/* id persists across events; an id with a NUL is ignored. */
	feed_str(&p, "id: 42\ndata: a\n\ndata: b\n\n", &r);
	assert_int_equal(r.n, 6);
	assert_string_equal(r.v[4].id, "42");
	assert_string_equal(r.v[5].id, "42");
	feed(&p, idnul, sizeof(idnul) - 1, &r);
	assert_int_equal(r.n, 7);
	assert_string_equal(r.v[6].id, "42");
	feed_str(&p, "id\ndata: d\n\n", &r);
	assert_string_equal(r.v[7].id, "");

	/* retry: digits only, saturating. */
	feed_str(&p, "retry: 12a\nretry\nretry: -5\ndata: e\n\n", &r);
	assert_int_equal(r.v[8].retry_ms, -1);
	feed_str(&p, "retry: 0\ndata: f\n\n", &r);
	assert_int_equal(r.v[9].retry_ms, 0);
	feed_str(&p, "retry: 99999999999999999999999\ndata: g\n\n", &r);
	assert_int_equal(r.v[10].retry_ms, SSE_RETRY_MAX_MS);

	/* event with an empty value is "message". */
	feed_str(&p, "event:\ndata: h\n\nevent:x\ndata: i\n\n", &r);
	assert_string_equal(r.v[11].type, "message");
	assert_string_equal(r.v[12].type, "x");

	/* An event cut off by the end of the stream is never dispatched. */
	feed_str(&p, "data: never\n", &r);
	assert_int_equal(r.n, 13);
	sse_parser_reset(&p);
	feed_str(&p, "data: fresh\n\n", &r);
	assert_int_equal(r.n, 14);
	assert_string_equal(r.v[13].data, "fresh");
	assert_string_equal(r.v[13].id, "");		/* reset forgets it */
	assert_int_equal(r.v[13].retry_ms, -1);
	assert_false(r.error);
	sse_parser_free(&p);
	recs_free(&r);
}

static void
test_bom(void **state)
{
	static const char	 bom2[] =
	    "\xef\xbb\xbf\xef\xbb\xbf" "data: x\n\ndata: y\n\n";
	struct sse_parser	 p;
	struct recs		 r = { 0 };
	size_t			 i;

	(void)state;
	/* Split byte by byte. */
	sse_parser_init(&p);
	for (i = 0; i < 3; i++)
		feed(&p, &"\xef\xbb\xbf"[i], 1, &r);
	feed_str(&p, "data: x\n\n", &r);
	assert_int_equal(r.n, 1);
	assert_string_equal(r.v[0].data, "x");

	/* Only at the start of the stream, and again after a reset. */
	feed_str(&p, "\xef\xbb\xbf" "data: no\n\n", &r);
	assert_int_equal(r.n, 1);
	sse_parser_reset(&p);
	feed_str(&p, "\xef\xbb\xbf" "\n" "data: z\n\n", &r);
	assert_int_equal(r.n, 2);
	assert_string_equal(r.v[1].data, "z");

	/* A second BOM is part of the field name: that line is ignored. */
	sse_parser_reset(&p);
	feed_str(&p, bom2, &r);
	assert_int_equal(r.n, 3);
	assert_string_equal(r.v[2].data, "y");

	/* Half a BOM is not one. */
	sse_parser_reset(&p);
	feed_str(&p, "\xef\xbb" "data: w\n\ndata: v\n\n", &r);
	assert_int_equal(r.n, 4);
	assert_string_equal(r.v[3].data, "v");
	sse_parser_free(&p);
	recs_free(&r);
}

static void
test_nul(void **state)
{
	static const char	 s[] = "data: a\0b\n\n";
	struct recs		 r = { 0 };

	(void)state;
	parse_split((const uint8_t *)s, sizeof(s) - 1, sizeof(s) - 1, &r);
	assert_int_equal(r.n, 1);
	assert_int_equal(r.v[0].data_len, 3);
	assert_memory_equal(r.v[0].data, "a\0b", 3);
	recs_free(&r);
}

static void
test_consumed(void **state)
{
	static const char	 s[] = "data: 1\n\ndata: 2\r\n\r\ndata: 3";
	struct sse_parser	 p;
	struct sse_event	 ev;
	size_t			 used;

	(void)state;
	sse_parser_init(&p);
	assert_int_equal(sse_parser_feed(&p, (const uint8_t *)s, 0, &used,
	    &ev), SSE_NEED_MORE);
	assert_int_equal(used, 0);
	assert_int_equal(sse_parser_feed(&p, (const uint8_t *)s, sizeof(s) - 1,
	    &used, &ev), SSE_EVENT);
	assert_int_equal(used, 9);
	assert_string_equal(ev.data, "1");
	assert_int_equal(sse_parser_feed(&p, (const uint8_t *)s + 9,
	    sizeof(s) - 1 - 9, &used, &ev), SSE_EVENT);
	assert_int_equal(used, 11);	/* the whole CRLF pair */
	assert_string_equal(ev.data, "2");
	assert_int_equal(sse_parser_feed(&p, (const uint8_t *)s + 20,
	    sizeof(s) - 1 - 20, &used, &ev), SSE_NEED_MORE);
	assert_int_equal(used, sizeof(s) - 1 - 20);
	sse_parser_free(&p);
}

static void
test_long_line(void **state)
{
	struct sse_parser	 p;
	struct recs		 r = { 0 };
	struct sse_event	 ev;
	uint8_t			*big;
	size_t			 n = SSE_MAX_LINE + 16, used, i;

	(void)state;
	big = malloc(n);
	assert_non_null(big);
	memset(big, 'x', n);
	memcpy(big, "data:", 5);

	/* Exactly SSE_MAX_LINE bytes: accepted, in place and in pieces. */
	big[SSE_MAX_LINE] = '\n';
	sse_parser_init(&p);
	feed(&p, big, SSE_MAX_LINE + 1, &r);
	feed_str(&p, "\n", &r);
	assert_false(r.error);
	assert_int_equal(r.n, 1);
	assert_int_equal(r.v[0].data_len, SSE_MAX_LINE - 5);
	for (i = 0; i < SSE_MAX_LINE + 1; i += 65536)
		feed(&p, big + i, i + 65536 <= SSE_MAX_LINE + 1 ? 65536 :
		    SSE_MAX_LINE + 1 - i, &r);
	feed_str(&p, "\n", &r);
	assert_false(r.error);
	assert_int_equal(r.n, 2);

	/* One more byte: an error, in place ... */
	big[SSE_MAX_LINE] = 'x';
	big[SSE_MAX_LINE + 1] = '\n';
	feed(&p, big, SSE_MAX_LINE + 2, &r);
	assert_true(r.error);
	assert_string_equal(r.why, "line too long");
	/* ... terminal until a reset ... */
	assert_int_equal(sse_parser_feed(&p, (const uint8_t *)"\n\n", 2, &used,
	    &ev), SSE_ERROR);
	sse_parser_reset(&p);
	r.error = 0;
	feed_str(&p, "data: ok\n\n", &r);
	assert_false(r.error);
	assert_int_equal(r.n, 3);

	/* ... and across feeds, before the line end ever comes. */
	for (i = 0; i < n && !r.error; i += 4096)
		feed(&p, big + i, i + 4096 <= n ? 4096 : n - i, &r);
	assert_true(r.error);
	assert_true(i <= SSE_MAX_LINE + 4096);
	sse_parser_free(&p);

	/* A comment line is bounded too. */
	r.error = 0;
	big[0] = ':';
	sse_parser_init(&p);
	feed(&p, big, n, &r);
	assert_true(r.error);
	sse_parser_free(&p);
	recs_free(&r);
	free(big);
}

static void
test_data_cap(void **state)
{
	struct sse_parser	 p;
	struct recs		 r = { 0 };
	char			*line;
	size_t			 n = 512 * 1024, i;

	(void)state;
	line = malloc(n + 8);
	assert_non_null(line);
	memcpy(line, "data:", 5);
	memset(line + 5, 'y', n - 5);
	line[n] = '\n';
	sse_parser_init(&p);
	/* 8 lines of 512 KiB (minus "data:") fit in 4 MiB with their LFs. */
	for (i = 0; i < 8; i++)
		feed(&p, line, n + 1, &r);
	feed_str(&p, "\n", &r);
	assert_false(r.error);
	assert_int_equal(r.n, 1);
	assert_int_equal(r.v[0].data_len, 8 * (n - 5) + 7);
	for (i = 0; i < 9 && !r.error; i++)
		feed(&p, line, n + 1, &r);
	assert_true(r.error);
	assert_string_equal(r.why, "event data too long");
	sse_parser_free(&p);
	recs_free(&r);
	free(line);
}

/*
 * Lines that end in lone CRs, many per feed: the caller feeds the rest
 * again after each event, so a search for the LF over the whole rest would
 * make this quadratic (minutes, not milliseconds).
 */
static void
test_cr_linear(void **state)
{
	struct sse_parser	 p;
	struct sse_event	 ev;
	struct recs		 r = { 0 };
	size_t			 n = 4 * 1024 * 1024, i, k = 0, off = 0, used;
	char			*s;

	(void)state;
	assert_non_null(s = malloc(n + 1));
	for (i = 0; i + 10 <= n; i += 10)
		memcpy(s + i, "data: x\r\r\r", 10);
	s[i] = '\n';
	sse_parser_init(&p);
	while (sse_parser_feed(&p, (const uint8_t *)s + off, i + 1 - off, &used,
	    &ev) == SSE_EVENT) {
		off += used;
		k++;
	}
	assert_int_equal(off + used, i + 1);
	assert_int_equal(k, i / 10);
	sse_parser_free(&p);

	/* No line end before the last byte: one line buffered, once. */
	memset(s, 'x', n);
	memcpy(s, "data:", 5);
	s[SSE_MAX_LINE] = '\n';
	sse_parser_init(&p);
	for (i = 0; i <= SSE_MAX_LINE; i += 1000)
		feed(&p, s + i, i + 1000 <= SSE_MAX_LINE + 1 ? 1000 :
		    SSE_MAX_LINE + 1 - i, &r);
	feed_str(&p, "\n", &r);
	assert_int_equal(r.n, 1);
	sse_parser_free(&p);
	recs_free(&r);
	free(s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fixtures),
		cmocka_unit_test(test_many_count),
		cmocka_unit_test(test_line_ends),
		cmocka_unit_test(test_every_chunking),
		cmocka_unit_test(test_fields),
		cmocka_unit_test(test_bom),
		cmocka_unit_test(test_nul),
		cmocka_unit_test(test_consumed),
		cmocka_unit_test(test_long_line),
		cmocka_unit_test(test_data_cap),
		cmocka_unit_test(test_cr_linear),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
