/*
 * Copyright (c) 2026 The ocbroker authors
 * SPDX-License-Identifier: ISC (the licence is in the file LICENSE)
 */

/*
 * Unit tests for common/ws_frame.c.  Every input is fed whole, one byte at a
 * time and in random chunkings (fixed seeds), and all must give the same
 * events.  A checking allocator verifies that every buffer is wiped before it
 * is freed, that nothing leaks, and lets one test fail the Nth allocation.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "common/ws_frame.h"
#include "common/utf8.h"

#define MAX_EVENTS	64
#define MIB		(1024 * 1024)
#define RANDOM_RUNS	8

static const uint8_t MASK[4] = { 0xa1, 0x5b, 0x03, 0xee };

/* A growable byte buffer to build wire input in. */
struct buf {
	uint8_t	*d;
	size_t	 len, cap;
};

struct got {
	enum ws_event_type	 type;
	uint16_t		 code;
	size_t			 len;
	uint8_t			*data;
};

struct run {
	struct got	ev[MAX_EVENTS];
	size_t		n;
};

enum chunking { CH_WHOLE, CH_BYTE, CH_RANDOM };

/* The checking allocator. */
struct mem_state {
	long	allocs;		/* allocations made */
	long	live;		/* allocations not yet freed */
	long	fail_at;	/* fail the allocation with this index; -1 never */
	size_t	largest;	/* largest single allocation */
	int	unwiped;	/* a buffer was freed with data left in it */
};

static void *
check_alloc(size_t size, void *arg)
{
	struct mem_state *mem = arg;
	uint8_t *p;

	if (mem->allocs++ == mem->fail_at)
		return NULL;
	if ((p = malloc(size + sizeof(size_t))) == NULL)
		return NULL;
	memcpy(p, &size, sizeof(size));
	/* Garbage, so that a missing initialisation shows. */
	memset(p + sizeof(size_t), 0xa5, size);
	mem->live++;
	if (size > mem->largest)
		mem->largest = size;
	return p + sizeof(size_t);
}

static void
check_free(void *ptr, void *arg)
{
	struct mem_state *mem = arg;
	uint8_t *p = (uint8_t *)ptr - sizeof(size_t);
	size_t size, i;

	if (ptr == NULL)
		return;
	memcpy(&size, p, sizeof(size));
	for (i = 0; i < size; i++)
		if (((uint8_t *)ptr)[i] != 0)
			mem->unwiped = 1;
	mem->live--;
	free(p);
}

static void
mem_init(struct mem_state *mem, struct ws_mem *wm, long fail_at)
{
	memset(mem, 0, sizeof(*mem));
	mem->fail_at = fail_at;
	wm->alloc = check_alloc;
	wm->free = check_free;
	wm->arg = mem;
}

static void
buf_add(struct buf *b, const void *d, size_t len)
{
	if (b->len + len > b->cap) {
		size_t cap = b->cap == 0 ? 256 : b->cap;

		while (cap < b->len + len)
			cap *= 2;
		b->d = realloc(b->d, cap);
		assert_non_null(b->d);
		b->cap = cap;
	}
	if (len > 0)
		memcpy(b->d + b->len, d, len);
	b->len += len;
}

static void
buf_free(struct buf *b)
{
	free(b->d);
	memset(b, 0, sizeof(*b));
}

/*
 * A frame built independently of the encoder under test.  form forces the
 * length encoding (7, 16 or 64 bits; 0 = minimal).  pl == NULL writes the
 * header only.
 */
static void
frame(struct buf *b, uint8_t b0, const uint8_t *pl, uint64_t len,
    const uint8_t *mask, int form)
{
	uint8_t h[WS_MAX_HEADER], mbit = mask != NULL ? 0x80 : 0;
	size_t n = 0, i;
	uint8_t c;

	if (form == 0)
		form = len < 126 ? 7 : len <= 0xffff ? 16 : 64;
	h[n++] = b0;
	if (form == 7)
		h[n++] = mbit | (uint8_t)len;
	else if (form == 16) {
		h[n++] = mbit | 126;
		h[n++] = (uint8_t)(len >> 8);
		h[n++] = (uint8_t)len;
	} else {
		h[n++] = mbit | 127;
		for (i = 0; i < 8; i++)
			h[n++] = (uint8_t)(len >> (56 - 8 * i));
	}
	if (mask != NULL) {
		memcpy(h + n, mask, 4);
		n += 4;
	}
	buf_add(b, h, n);
	if (pl == NULL)
		return;
	for (i = 0; i < len; i++) {
		c = pl[i] ^ (mask != NULL ? mask[i & 3] : 0);
		buf_add(b, &c, 1);
	}
}

/* A masked frame, as a client sends it. */
static void
cframe(struct buf *b, uint8_t b0, const void *pl, uint64_t len)
{
	frame(b, b0, pl, len, MASK, 0);
}

static uint8_t *
pattern(size_t len, unsigned int salt)
{
	uint8_t *p = malloc(len + 1);
	size_t i;

	assert_non_null(p);
	for (i = 0; i < len; i++)
		p[i] = (uint8_t)(i * 31 + 7 + salt * 101 + (i >> 8));
	return p;
}

static uint64_t
rng_next(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static void
run_free(struct run *r)
{
	size_t i;

	for (i = 0; i < r->n; i++)
		free(r->ev[i].data);
	r->n = 0;
}

static void
record(struct run *r, const struct ws_event *ev)
{
	struct got *g;

	assert_true(r->n < MAX_EVENTS);
	g = &r->ev[r->n++];
	g->type = ev->type;
	g->code = ev->code;
	g->len = ev->len;
	g->data = malloc(ev->len + 1);
	assert_non_null(g->data);
	if (ev->type == WS_EV_ERROR) {
		assert_non_null(ev->reason);
		assert_int_equal(ev->len, 0);
	} else {
		assert_non_null(ev->data);
		assert_null(ev->reason);
	}
	if (ev->len > 0)
		memcpy(g->data, ev->data, ev->len);
}

/*
 * Feeds d in chunks as the caller of ws_parser_feed() would, recording the
 * events, until the data runs out or an error or close ends the parser.
 */
static void
run_parser(struct ws_parser *p, const uint8_t *d, size_t len,
    enum chunking ch, uint64_t seed, struct run *r)
{
	struct ws_event ev;
	enum ws_event_type t;
	uint64_t rng = seed | 1;
	size_t off = 0, chunk, pos, used;

	r->n = 0;
	while (off < len) {
		if (ch == CH_WHOLE)
			chunk = len - off;
		else if (ch == CH_BYTE)
			chunk = 1;
		else if (rng_next(&rng) % 4 == 0)
			chunk = 1 + rng_next(&rng) % 3;
		else
			chunk = 1 + rng_next(&rng) % 9000;
		if (chunk > len - off)
			chunk = len - off;
		for (pos = 0; pos < chunk;) {
			t = ws_parser_feed(p, d + off + pos, chunk - pos,
			    &used, &ev);
			assert_int_equal(t, ev.type);
			assert_true(used <= chunk - pos);
			pos += used;
			if (t == WS_EV_NONE) {
				assert_int_equal(pos, chunk);
				break;
			}
			/* Progress, unless an allocation failed on entry. */
			assert_true(used > 0 || t == WS_EV_ERROR);
			record(r, &ev);
			if (t == WS_EV_ERROR || t == WS_EV_CLOSE) {
				/* A dead parser stays dead and consumes nothing. */
				t = ws_parser_feed(p, d, len, &used, &ev);
				assert_int_equal(t, WS_EV_ERROR);
				assert_int_equal(used, 0);
				assert_true(ev.code >= 1002);
				return;
			}
		}
		off += chunk;
	}
}

static void
run_one(enum ws_role role, uint64_t max, const uint8_t *d, size_t len,
    enum chunking ch, uint64_t seed, struct run *r)
{
	struct ws_parser p;
	struct mem_state mem;
	struct ws_mem wm;

	mem_init(&mem, &wm, -1);
	ws_parser_init(&p, role, max);
	ws_parser_set_mem(&p, &wm);
	run_parser(&p, d, len, ch, seed, r);
	ws_parser_free(&p);
	assert_int_equal(mem.live, 0);
	assert_false(mem.unwiped);
}

static void
assert_runs_equal(const struct run *a, const struct run *b)
{
	size_t i;

	assert_int_equal(a->n, b->n);
	for (i = 0; i < a->n; i++) {
		assert_int_equal(a->ev[i].type, b->ev[i].type);
		assert_int_equal(a->ev[i].code, b->ev[i].code);
		assert_int_equal(a->ev[i].len, b->ev[i].len);
		if (a->ev[i].len > 0)
			assert_memory_equal(a->ev[i].data, b->ev[i].data,
			    a->ev[i].len);
	}
}

/* Whole, then byte by byte and in random chunkings: all must agree. */
static void
run_all(enum ws_role role, uint64_t max, const struct buf *b, struct run *ref)
{
	struct run r;
	uint64_t seed;

	run_one(role, max, b->d, b->len, CH_WHOLE, 0, ref);
	run_one(role, max, b->d, b->len, CH_BYTE, 0, &r);
	assert_runs_equal(ref, &r);
	run_free(&r);
	for (seed = 1; seed <= RANDOM_RUNS; seed++) {
		run_one(role, max, b->d, b->len, CH_RANDOM,
		    seed * 0x9e3779b97f4a7c15ULL, &r);
		assert_runs_equal(ref, &r);
		run_free(&r);
	}
}

static void
expect_error_role(enum ws_role role, uint64_t max, const struct buf *b,
    uint16_t code)
{
	struct run r;

	run_all(role, max, b, &r);
	assert_true(r.n >= 1);
	assert_int_equal(r.ev[r.n - 1].type, WS_EV_ERROR);
	assert_int_equal(r.ev[r.n - 1].code, code);
	run_free(&r);
}

static void
expect_error(const struct buf *b, uint16_t code)
{
	expect_error_role(WS_ROLE_SERVER, MIB, b, code);
}

/* Feeds b whole to a fresh server parser; returns the first event. */
static enum ws_event_type
feed_once(const struct buf *b, uint64_t max, size_t *used, uint16_t *code)
{
	struct ws_parser p;
	struct ws_event ev;
	enum ws_event_type t;

	ws_parser_init(&p, WS_ROLE_SERVER, max);
	t = ws_parser_feed(&p, b->d, b->len, used, &ev);
	*code = ev.code;
	ws_parser_free(&p);
	return t;
}

/* --- Rules ------------------------------------------------------------- */

static void
test_unmasked_from_client(void **state)
{
	struct buf b = { 0 };

	(void)state;
	frame(&b, 0x82, (const uint8_t *)"abc", 3, NULL, 0);
	expect_error(&b, 1002);
	buf_free(&b);
	/* Control frames too. */
	frame(&b, 0x89, (const uint8_t *)"", 0, NULL, 0);
	expect_error(&b, 1002);
	buf_free(&b);
}

static void
test_masked_from_server(void **state)
{
	struct buf b = { 0 };

	(void)state;
	cframe(&b, 0x82, "abc", 3);
	expect_error_role(WS_ROLE_CLIENT, MIB, &b, 1002);
	buf_free(&b);
	frame(&b, 0x82, (const uint8_t *)"abc", 3, NULL, 0);
	{
		struct run r;

		run_all(WS_ROLE_CLIENT, MIB, &b, &r);
		assert_int_equal(r.n, 1);
		assert_int_equal(r.ev[0].type, WS_EV_MESSAGE);
		run_free(&r);
	}
	buf_free(&b);
}

static void
test_rsv_bits(void **state)
{
	static const uint8_t rsv[] = { 0x40, 0x20, 0x10, 0x70 };
	struct buf b = { 0 };
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(rsv); i++) {
		cframe(&b, 0x82 | rsv[i], "x", 1);
		expect_error(&b, 1002);
		buf_free(&b);
		/* On a control frame and on a continuation as well. */
		cframe(&b, 0x89 | rsv[i], "x", 1);
		expect_error(&b, 1002);
		buf_free(&b);
		cframe(&b, 0x02, "x", 1);
		cframe(&b, 0x80 | rsv[i], "y", 1);
		expect_error(&b, 1002);
		buf_free(&b);
	}
}

static void
test_unknown_opcodes(void **state)
{
	struct buf b = { 0 };
	uint8_t op;

	(void)state;
	for (op = 0x3; op <= 0xf; op++) {
		if (op >= 0x8 && op <= 0xa)
			continue;
		cframe(&b, 0x80 | op, "x", 1);
		expect_error(&b, 1002);
		buf_free(&b);
	}
}

static void
test_fragmented_control(void **state)
{
	static const uint8_t ops[] = { 0x8, 0x9, 0xa };
	struct buf b = { 0 };
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(ops); i++) {
		cframe(&b, ops[i], "\x03\xe8", 2);
		expect_error(&b, 1002);
		buf_free(&b);
	}
}

static void
test_control_too_long(void **state)
{
	static const uint8_t ops[] = { 0x88, 0x89, 0x8a };
	uint8_t *pl = pattern(200, 1);
	struct buf b = { 0 };
	size_t i, used;
	uint16_t code;

	(void)state;
	for (i = 0; i < sizeof(ops); i++) {
		cframe(&b, ops[i], pl, 126);
		expect_error(&b, 1002);
		/* Decided from the first two bytes. */
		b.len = 2;
		assert_int_equal(feed_once(&b, MIB, &used, &code), WS_EV_ERROR);
		assert_int_equal(code, 1002);
		assert_int_equal(used, 2);
		buf_free(&b);
		frame(&b, ops[i], pl, 126, MASK, 64);
		expect_error(&b, 1002);
		buf_free(&b);
		/* 125 bytes is fine (a close needs a valid code and reason). */
		memcpy(pl, "\x03\xe8", 2);
		memset(pl + 2, 'r', 123);
		cframe(&b, ops[i], pl, 125);
		{
			struct run r;

			run_all(WS_ROLE_SERVER, MIB, &b, &r);
			assert_int_equal(r.n, 1);
			assert_int_equal(r.ev[0].len, i == 0 ? 123 : 125);
			run_free(&r);
		}
		buf_free(&b);
	}
	free(pl);
}

static void
test_continuation_without_message(void **state)
{
	struct buf b = { 0 };

	(void)state;
	cframe(&b, 0x80, "x", 1);
	expect_error(&b, 1002);
	buf_free(&b);
	cframe(&b, 0x00, "x", 1);
	expect_error(&b, 1002);
	buf_free(&b);
	/* After a complete message there is nothing to continue either. */
	cframe(&b, 0x82, "x", 1);
	cframe(&b, 0x80, "y", 1);
	expect_error(&b, 1002);
	buf_free(&b);
	cframe(&b, 0x02, "x", 1);
	cframe(&b, 0x80, "y", 1);
	cframe(&b, 0x80, "z", 1);
	expect_error(&b, 1002);
	buf_free(&b);
}

static void
test_data_frame_inside_fragmented(void **state)
{
	struct buf b = { 0 };

	(void)state;
	cframe(&b, 0x02, "a", 1);
	cframe(&b, 0x82, "b", 1);
	expect_error(&b, 1002);
	buf_free(&b);
	cframe(&b, 0x02, "a", 1);
	cframe(&b, 0x00, "b", 1);
	cframe(&b, 0x02, "c", 1);
	expect_error(&b, 1002);
	buf_free(&b);
	/* A text frame there is a protocol error before it is a text frame. */
	cframe(&b, 0x02, "a", 1);
	cframe(&b, 0x81, "b", 1);
	expect_error(&b, 1002);
	buf_free(&b);
}

static void
test_text_frame(void **state)
{
	struct buf b = { 0 };
	size_t used;
	uint16_t code;

	(void)state;
	cframe(&b, 0x81, "hello", 5);
	expect_error(&b, 1003);
	/* Decided at the header: two bytes are enough. */
	b.len = 2;
	assert_int_equal(feed_once(&b, MIB, &used, &code), WS_EV_ERROR);
	assert_int_equal(code, 1003);
	assert_int_equal(used, 2);
	buf_free(&b);
	/* A large text frame is refused before its payload arrives. */
	frame(&b, 0x81, NULL, 500000, MASK, 0);
	expect_error(&b, 1003);
	buf_free(&b);
	cframe(&b, 0x01, "he", 2);
	expect_error(&b, 1003);
	buf_free(&b);
	cframe(&b, 0x81, "", 0);
	expect_error(&b, 1003);
	buf_free(&b);
}

static void
test_too_big_header_only(void **state)
{
	struct buf b = { 0 };
	struct ws_parser p;
	struct ws_event ev;
	struct mem_state mem;
	struct ws_mem wm;
	size_t used;
	uint16_t code;

	(void)state;
	/* 7-, 16- and 64-bit lengths, one byte over the limit, no payload. */
	frame(&b, 0x82, NULL, 101, MASK, 0);
	expect_error_role(WS_ROLE_SERVER, 100, &b, 1009);
	buf_free(&b);
	frame(&b, 0x82, NULL, 1001, MASK, 0);
	expect_error_role(WS_ROLE_SERVER, 1000, &b, 1009);
	buf_free(&b);
	frame(&b, 0x82, NULL, MIB + 1, MASK, 0);
	expect_error(&b, 1009);
	assert_int_equal(feed_once(&b, MIB, &used, &code), WS_EV_ERROR);
	assert_int_equal(code, 1009);
	assert_int_equal(used, b.len);
	buf_free(&b);
	frame(&b, 0x82, NULL, 0x7fffffffffffffffULL, MASK, 0);
	expect_error(&b, 1009);
	buf_free(&b);
	frame(&b, 0x82, NULL, 1, MASK, 0);
	expect_error_role(WS_ROLE_SERVER, 0, &b, 1009);
	buf_free(&b);

	/* Nothing was allocated for it. */
	frame(&b, 0x82, NULL, MIB + 1, MASK, 0);
	mem_init(&mem, &wm, -1);
	ws_parser_init(&p, WS_ROLE_SERVER, MIB);
	ws_parser_set_mem(&p, &wm);
	assert_int_equal(ws_parser_feed(&p, b.d, b.len, &used, &ev),
	    WS_EV_ERROR);
	assert_int_equal(ev.code, 1009);
	assert_int_equal(mem.allocs, 0);
	ws_parser_free(&p);
	buf_free(&b);
}

static void
test_too_big_fragments(void **state)
{
	uint8_t *pl = pattern(100, 2);
	struct buf b = { 0 };
	struct run r;

	(void)state;
	/* 60 + 41 > 100: refused at the second header. */
	cframe(&b, 0x02, pl, 60);
	frame(&b, 0x80, NULL, 41, MASK, 0);
	expect_error_role(WS_ROLE_SERVER, 100, &b, 1009);
	buf_free(&b);
	/* Control frames do not count towards the message. */
	cframe(&b, 0x02, pl, 60);
	cframe(&b, 0x89, pl, 100);
	cframe(&b, 0x00, pl + 60, 30);
	cframe(&b, 0x80, pl + 90, 11);
	expect_error_role(WS_ROLE_SERVER, 100, &b, 1009);
	buf_free(&b);
	/* Exactly the limit is fine, and the next message starts from 0. */
	cframe(&b, 0x02, pl, 60);
	cframe(&b, 0x00, pl + 60, 30);
	cframe(&b, 0x80, pl + 90, 10);
	cframe(&b, 0x82, pl, 100);
	run_all(WS_ROLE_SERVER, 100, &b, &r);
	assert_int_equal(r.n, 2);
	assert_int_equal(r.ev[0].type, WS_EV_MESSAGE);
	assert_int_equal(r.ev[0].len, 100);
	assert_memory_equal(r.ev[0].data, pl, 100);
	assert_int_equal(r.ev[1].len, 100);
	run_free(&r);
	buf_free(&b);
	free(pl);
}

static void
test_length_top_bit(void **state)
{
	struct buf b = { 0 };

	(void)state;
	frame(&b, 0x82, NULL, 0x8000000000000000ULL, MASK, 64);
	expect_error_role(WS_ROLE_SERVER, UINT64_MAX, &b, 1002);
	buf_free(&b);
	frame(&b, 0x82, NULL, UINT64_MAX, MASK, 64);
	expect_error(&b, 1002);
	buf_free(&b);
	frame(&b, 0x82, NULL, 0x8000000000000000ULL, NULL, 64);
	expect_error_role(WS_ROLE_CLIENT, MIB, &b, 1002);
	buf_free(&b);
}

static void
test_non_minimal_length(void **state)
{
	uint8_t *pl = pattern(70000, 3);
	struct buf b = { 0 };
	struct run r;

	(void)state;
	frame(&b, 0x82, pl, 0, MASK, 16);
	expect_error(&b, 1002);
	buf_free(&b);
	frame(&b, 0x82, pl, 125, MASK, 16);
	expect_error(&b, 1002);
	buf_free(&b);
	frame(&b, 0x82, pl, 125, MASK, 64);
	expect_error(&b, 1002);
	buf_free(&b);
	frame(&b, 0x82, pl, 65535, MASK, 64);
	expect_error(&b, 1002);
	buf_free(&b);
	/* The smallest values of each form are accepted. */
	frame(&b, 0x82, pl, 126, MASK, 16);
	frame(&b, 0x82, pl, 65536, MASK, 64);
	run_all(WS_ROLE_SERVER, MIB, &b, &r);
	assert_int_equal(r.n, 2);
	assert_int_equal(r.ev[0].len, 126);
	assert_int_equal(r.ev[1].len, 65536);
	assert_memory_equal(r.ev[1].data, pl, 65536);
	run_free(&r);
	buf_free(&b);
	free(pl);
}

static void
test_ping_pong(void **state)
{
	uint8_t *pl = pattern(125, 4);
	struct buf b = { 0 };
	struct run r;

	(void)state;
	cframe(&b, 0x89, "ping!", 5);
	cframe(&b, 0x8a, "pong", 4);
	cframe(&b, 0x89, "", 0);
	cframe(&b, 0x89, pl, 125);
	cframe(&b, 0x8a, "", 0);
	run_all(WS_ROLE_SERVER, MIB, &b, &r);
	assert_int_equal(r.n, 5);
	assert_int_equal(r.ev[0].type, WS_EV_PING);
	assert_int_equal(r.ev[0].len, 5);
	assert_memory_equal(r.ev[0].data, "ping!", 5);
	assert_int_equal(r.ev[1].type, WS_EV_PONG);
	assert_memory_equal(r.ev[1].data, "pong", 4);
	assert_int_equal(r.ev[2].type, WS_EV_PING);
	assert_int_equal(r.ev[2].len, 0);
	assert_int_equal(r.ev[3].type, WS_EV_PING);
	assert_int_equal(r.ev[3].len, 125);
	assert_memory_equal(r.ev[3].data, pl, 125);
	assert_int_equal(r.ev[4].type, WS_EV_PONG);
	run_free(&r);
	buf_free(&b);
	free(pl);
}

static void
close_frame(struct buf *b, uint16_t code, const void *reason, size_t rlen)
{
	uint8_t pl[WS_MAX_CONTROL];

	pl[0] = (uint8_t)(code >> 8);
	pl[1] = (uint8_t)code;
	memcpy(pl + 2, reason, rlen);
	cframe(b, 0x88, pl, 2 + rlen);
}

static void
expect_close(const struct buf *b, uint16_t code, const void *reason,
    size_t rlen)
{
	struct run r;

	run_all(WS_ROLE_SERVER, MIB, b, &r);
	assert_true(r.n >= 1);
	assert_int_equal(r.ev[r.n - 1].type, WS_EV_CLOSE);
	assert_int_equal(r.ev[r.n - 1].code, code);
	assert_int_equal(r.ev[r.n - 1].len, rlen);
	if (rlen > 0)
		assert_memory_equal(r.ev[r.n - 1].data, reason, rlen);
	run_free(&r);
}

static void
test_close(void **state)
{
	static const uint16_t bad[] = { 0, 1, 999, 1004, 1005, 1006, 1015,
	    1016, 1100, 2000, 2999, 5000, 6000, 65535 };
	static const uint16_t good[] = { 1000, 1001, 1002, 1003, 1007, 1008,
	    1009, 1010, 1011, 1012, 1013, 1014, 3000, 3999, 4000, 4999 };
	static const char *badutf8[] = { "\xff", "\xc0\x80", "\xed\xa0\x80",
	    "ok\xe2\x82", "\xf4\x90\x80\x80", "\x80" };
	struct buf b = { 0 };
	size_t i, used;
	uint16_t code;

	(void)state;
	/* Empty: 1005. */
	cframe(&b, 0x88, "", 0);
	expect_close(&b, 1005, NULL, 0);
	buf_free(&b);
	/* One byte cannot hold a code: refused at the header. */
	cframe(&b, 0x88, "\x03", 1);
	expect_error(&b, 1002);
	b.len = 2;
	assert_int_equal(feed_once(&b, MIB, &used, &code), WS_EV_ERROR);
	assert_int_equal(code, 1002);
	assert_int_equal(used, 2);
	buf_free(&b);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		close_frame(&b, bad[i], "", 0);
		expect_error(&b, 1002);
		buf_free(&b);
	}
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		close_frame(&b, good[i], "", 0);
		expect_close(&b, good[i], NULL, 0);
		buf_free(&b);
	}
	for (i = 0; i < sizeof(badutf8) / sizeof(badutf8[0]); i++) {
		close_frame(&b, 1000, badutf8[i], strlen(badutf8[i]));
		expect_error(&b, 1007);
		buf_free(&b);
	}
	close_frame(&b, 1001, "bye \xe2\x9c\x93", 7);
	expect_close(&b, 1001, "bye \xe2\x9c\x93", 7);
	buf_free(&b);
	/* A close in the middle of a fragmented message ends it. */
	cframe(&b, 0x02, "part", 4);
	close_frame(&b, 1000, "done", 4);
	expect_close(&b, 1000, "done", 4);
	buf_free(&b);
	/* Unmasked close to a client. */
	frame(&b, 0x88, (const uint8_t *)"\x0f\xa0x", 3, NULL, 0);
	{
		struct run r;

		run_all(WS_ROLE_CLIENT, MIB, &b, &r);
		assert_int_equal(r.n, 1);
		assert_int_equal(r.ev[0].type, WS_EV_CLOSE);
		assert_int_equal(r.ev[0].code, 4000);
		run_free(&r);
	}
	buf_free(&b);
}

static void
test_close_code_valid(void **state)
{
	unsigned int c;
	int want;

	(void)state;
	for (c = 0; c <= 0xffff; c++) {
		want = (c >= 1000 && c <= 1003) || (c >= 1007 && c <= 1014) ||
		    (c >= 3000 && c <= 4999);
		assert_int_equal(ws_close_code_valid((uint16_t)c), want);
	}
}

static void
test_fed_after_end(void **state)
{
	struct buf b = { 0 };
	struct ws_parser p;
	struct ws_event ev;
	size_t used;

	(void)state;
	/* Bytes after a close are not parsed. */
	cframe(&b, 0x88, "", 0);
	cframe(&b, 0x82, "x", 1);
	ws_parser_init(&p, WS_ROLE_SERVER, MIB);
	assert_int_equal(ws_parser_feed(&p, b.d, b.len, &used, &ev),
	    WS_EV_CLOSE);
	assert_int_equal(used, 6);
	assert_int_equal(ws_parser_feed(&p, b.d + used, b.len - used, &used,
	    &ev), WS_EV_ERROR);
	assert_int_equal(used, 0);
	assert_non_null(ev.reason);
	ws_parser_free(&p);
	buf_free(&b);
	/* An error repeats itself. */
	cframe(&b, 0x81, "x", 1);
	ws_parser_init(&p, WS_ROLE_SERVER, MIB);
	assert_int_equal(ws_parser_feed(&p, b.d, b.len, &used, &ev),
	    WS_EV_ERROR);
	assert_int_equal(ev.code, 1003);
	assert_int_equal(ws_parser_feed(&p, b.d, b.len, &used, &ev),
	    WS_EV_ERROR);
	assert_int_equal(ev.code, 1003);
	assert_int_equal(used, 0);
	ws_parser_free(&p);
	/* And so does a feed after free. */
	assert_int_equal(ws_parser_feed(&p, b.d, b.len, &used, &ev),
	    WS_EV_ERROR);
	assert_int_equal(used, 0);
	buf_free(&b);
}

static void
test_zero_length(void **state)
{
	struct buf b = { 0 };
	struct run r;

	(void)state;
	cframe(&b, 0x82, "", 0);
	cframe(&b, 0x02, "", 0);
	cframe(&b, 0x00, "", 0);
	cframe(&b, 0x80, "", 0);
	cframe(&b, 0x02, "", 0);
	cframe(&b, 0x00, "ab", 2);
	cframe(&b, 0x00, "", 0);
	cframe(&b, 0x89, "", 0);
	cframe(&b, 0x80, "", 0);
	cframe(&b, 0x82, "", 0);
	run_all(WS_ROLE_SERVER, MIB, &b, &r);
	assert_int_equal(r.n, 5);
	assert_int_equal(r.ev[0].type, WS_EV_MESSAGE);
	assert_int_equal(r.ev[0].len, 0);
	assert_int_equal(r.ev[1].type, WS_EV_MESSAGE);
	assert_int_equal(r.ev[1].len, 0);
	assert_int_equal(r.ev[2].type, WS_EV_PING);
	assert_int_equal(r.ev[3].type, WS_EV_MESSAGE);
	assert_int_equal(r.ev[3].len, 2);
	assert_memory_equal(r.ev[3].data, "ab", 2);
	assert_int_equal(r.ev[4].type, WS_EV_MESSAGE);
	assert_int_equal(r.ev[4].len, 0);
	run_free(&r);
	buf_free(&b);
	/* A zero-length limit still allows empty messages. */
	cframe(&b, 0x82, "", 0);
	run_all(WS_ROLE_SERVER, 0, &b, &r);
	assert_int_equal(r.n, 1);
	assert_int_equal(r.ev[0].type, WS_EV_MESSAGE);
	run_free(&r);
	buf_free(&b);
}

/* --- Sizes, chunkings, sequences ---------------------------------------- */

static void
test_message_sizes(void **state)
{
	static const size_t sizes[] = { 0, 1, 125, 126, 127, 65535, 65536,
	    65537, MIB };
	static const size_t hlen[] = { 6, 6, 6, 8, 8, 8, 14, 14, 14 };
	struct buf b = { 0 };
	struct run r;
	uint8_t *pl;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		pl = pattern(sizes[i], (unsigned int)i);
		cframe(&b, 0x82, pl, sizes[i]);
		assert_int_equal(b.len, hlen[i] + sizes[i]);
		run_all(WS_ROLE_SERVER, MIB, &b, &r);
		assert_int_equal(r.n, 1);
		assert_int_equal(r.ev[0].type, WS_EV_MESSAGE);
		assert_int_equal(r.ev[0].len, sizes[i]);
		if (sizes[i] > 0)
			assert_memory_equal(r.ev[0].data, pl, sizes[i]);
		run_free(&r);
		buf_free(&b);

		/* The same unmasked, to a client. */
		frame(&b, 0x82, pl, sizes[i], NULL, 0);
		run_all(WS_ROLE_CLIENT, MIB, &b, &r);
		assert_int_equal(r.n, 1);
		assert_int_equal(r.ev[0].len, sizes[i]);
		if (sizes[i] > 0)
			assert_memory_equal(r.ev[0].data, pl, sizes[i]);
		run_free(&r);
		buf_free(&b);
		free(pl);
	}
	/* One over the limit. */
	pl = pattern(MIB + 1, 9);
	cframe(&b, 0x82, pl, MIB + 1);
	expect_error(&b, 1009);
	buf_free(&b);
	free(pl);
}

static void
test_fragmented_with_ping(void **state)
{
	struct buf b = { 0 };
	struct run r;

	(void)state;
	cframe(&b, 0x02, "hello ", 6);
	cframe(&b, 0x89, "p1", 2);
	cframe(&b, 0x00, "wor", 3);
	cframe(&b, 0x89, "", 0);
	cframe(&b, 0x8a, "pg", 2);
	cframe(&b, 0x80, "ld", 2);
	run_all(WS_ROLE_SERVER, MIB, &b, &r);
	assert_int_equal(r.n, 4);
	assert_int_equal(r.ev[0].type, WS_EV_PING);
	assert_memory_equal(r.ev[0].data, "p1", 2);
	assert_int_equal(r.ev[1].type, WS_EV_PING);
	assert_int_equal(r.ev[1].len, 0);
	assert_int_equal(r.ev[2].type, WS_EV_PONG);
	assert_int_equal(r.ev[3].type, WS_EV_MESSAGE);
	assert_int_equal(r.ev[3].len, 11);
	assert_memory_equal(r.ev[3].data, "hello world", 11);
	run_free(&r);
	buf_free(&b);
}

static void
test_fragmented_large(void **state)
{
	const size_t part = 300000;
	uint8_t *pl = pattern(3 * part, 5);
	struct buf b = { 0 };
	struct run r;

	(void)state;
	frame(&b, 0x02, pl, part, MASK, 0);
	cframe(&b, 0x89, "a", 1);
	/* Each fragment has its own mask. */
	frame(&b, 0x00, pl + part, part, (const uint8_t *)"\x01\x02\x03\x04",
	    0);
	cframe(&b, 0x89, "b", 1);
	frame(&b, 0x80, pl + 2 * part, part, (const uint8_t *)"\xff\x00\x7f\x80",
	    0);
	run_all(WS_ROLE_SERVER, MIB, &b, &r);
	assert_int_equal(r.n, 3);
	assert_int_equal(r.ev[2].type, WS_EV_MESSAGE);
	assert_int_equal(r.ev[2].len, 3 * part);
	assert_memory_equal(r.ev[2].data, pl, 3 * part);
	run_free(&r);
	buf_free(&b);
	free(pl);
}

static void
test_several_in_one_buffer(void **state)
{
	uint8_t *pl = pattern(1000, 6);
	struct buf b = { 0 };
	struct ws_parser p;
	struct ws_event ev;
	size_t off = 0, used, ends[5];
	static const enum ws_event_type want[] = { WS_EV_MESSAGE, WS_EV_PING,
	    WS_EV_MESSAGE, WS_EV_PONG, WS_EV_CLOSE };
	size_t i;

	(void)state;
	cframe(&b, 0x82, pl, 10);
	ends[0] = b.len;
	cframe(&b, 0x89, "hi", 2);
	ends[1] = b.len;
	cframe(&b, 0x02, pl, 400);
	cframe(&b, 0x80, pl + 400, 600);
	ends[2] = b.len;
	cframe(&b, 0x8a, "", 0);
	ends[3] = b.len;
	close_frame(&b, 1000, "", 0);
	ends[4] = b.len;

	ws_parser_init(&p, WS_ROLE_SERVER, MIB);
	for (i = 0; i < 5; i++) {
		assert_int_equal(ws_parser_feed(&p, b.d + off, b.len - off,
		    &used, &ev), want[i]);
		off += used;
		/* Each event ends exactly at its last byte. */
		assert_int_equal(off, ends[i]);
		if (i == 0) {
			assert_int_equal(ev.len, 10);
			assert_memory_equal(ev.data, pl, 10);
		} else if (i == 2) {
			assert_int_equal(ev.len, 1000);
			assert_memory_equal(ev.data, pl, 1000);
		}
	}
	assert_int_equal(ev.code, 1000);
	ws_parser_free(&p);
	buf_free(&b);
	free(pl);
}

/* A delivered message is wiped by the next feed, even without new data. */
static void
test_message_wiped(void **state)
{
	struct buf b = { 0 };
	struct ws_parser p;
	struct ws_event ev;
	const uint8_t *old;
	uint8_t zero[16] = { 0 };
	size_t used;

	(void)state;
	cframe(&b, 0x82, "secret-token-123", 16);
	cframe(&b, 0x89, "", 0);
	ws_parser_init(&p, WS_ROLE_SERVER, MIB);
	assert_int_equal(ws_parser_feed(&p, b.d, b.len, &used, &ev),
	    WS_EV_MESSAGE);
	assert_memory_equal(ev.data, "secret-token-123", 16);
	old = ev.data;
	assert_int_equal(ws_parser_feed(&p, b.d + used, b.len - used, &used,
	    &ev), WS_EV_PING);
	/* White box: a small buffer is kept for reuse, and wiped. */
	assert_ptr_equal(p.msg, old);
	assert_memory_equal(old, zero, 16);
	ws_parser_free(&p);
	buf_free(&b);
}

/* The buffer grows with what arrived, not with what was announced. */
static void
test_grows_with_data(void **state)
{
	struct buf b = { 0 };
	struct ws_parser p;
	struct ws_event ev;
	struct mem_state mem;
	struct ws_mem wm;
	uint8_t *pl = pattern(MIB - 5, 7);
	size_t used;

	(void)state;
	cframe(&b, 0x82, pl, MIB - 5);
	mem_init(&mem, &wm, -1);
	ws_parser_init(&p, WS_ROLE_SERVER, MIB);
	ws_parser_set_mem(&p, &wm);
	assert_int_equal(ws_parser_feed(&p, b.d, 14 + 1000, &used, &ev),
	    WS_EV_NONE);
	assert_true(mem.largest <= 2048);
	assert_int_equal(ws_parser_feed(&p, b.d + used, b.len - used, &used,
	    &ev), WS_EV_MESSAGE);
	assert_memory_equal(ev.data, pl, MIB - 5);
	/* Never beyond the final size of the message. */
	assert_int_equal(mem.largest, MIB - 5);
	/* A large buffer is freed once delivered. */
	assert_int_equal(ws_parser_feed(&p, b.d, 0, &used, &ev), WS_EV_NONE);
	assert_int_equal(mem.live, 0);
	ws_parser_free(&p);
	assert_false(mem.unwiped);
	buf_free(&b);
	free(pl);
}

/* failmalloc: fail the 1st, 2nd, ... allocation in turn. */
static void
test_alloc_failure(void **state)
{
	uint8_t *pl = pattern(200000, 8);
	struct buf b = { 0 };
	struct ws_parser p;
	struct mem_state mem;
	struct ws_mem wm;
	struct run r;
	long n;
	int done = 0;

	(void)state;
	cframe(&b, 0x02, pl, 100);
	cframe(&b, 0x89, "x", 1);
	cframe(&b, 0x00, pl + 100, 50000);
	cframe(&b, 0x80, pl + 50100, 149900);
	cframe(&b, 0x82, pl, 3000);
	for (n = 0; !done; n++) {
		mem_init(&mem, &wm, n);
		ws_parser_init(&p, WS_ROLE_SERVER, MIB);
		ws_parser_set_mem(&p, &wm);
		run_parser(&p, b.d, b.len, CH_RANDOM, 77, &r);
		ws_parser_free(&p);
		assert_int_equal(mem.live, 0);
		assert_false(mem.unwiped);
		assert_true(r.n >= 1);
		if (mem.allocs > n) {
			/* The failure was hit: it is reported as 1011. */
			assert_int_equal(r.ev[r.n - 1].type, WS_EV_ERROR);
			assert_int_equal(r.ev[r.n - 1].code, 1011);
		} else {
			assert_int_equal(r.n, 3);
			assert_int_equal(r.ev[1].len, 200000);
			assert_memory_equal(r.ev[1].data, pl, 200000);
			done = 1;
		}
		run_free(&r);
	}
	assert_true(n > 2);
	buf_free(&b);
	free(pl);
}

/* --- Encoder ------------------------------------------------------------ */

static void
test_header_bytes(void **state)
{
	uint8_t h[WS_MAX_HEADER];

	(void)state;
	assert_int_equal(ws_frame_header(h, WS_OP_BINARY, 5, NULL), 2);
	assert_memory_equal(h, "\x82\x05", 2);
	assert_int_equal(ws_frame_header(h, WS_OP_BINARY, 125, NULL), 2);
	assert_memory_equal(h, "\x82\x7d", 2);
	assert_int_equal(ws_frame_header(h, WS_OP_BINARY, 126, NULL), 4);
	assert_memory_equal(h, "\x82\x7e\x00\x7e", 4);
	assert_int_equal(ws_frame_header(h, WS_OP_BINARY, 65535, NULL), 4);
	assert_memory_equal(h, "\x82\x7e\xff\xff", 4);
	assert_int_equal(ws_frame_header(h, WS_OP_BINARY, 65536, NULL), 10);
	assert_memory_equal(h, "\x82\x7f\x00\x00\x00\x00\x00\x01\x00\x00", 10);
	assert_int_equal(ws_frame_header(h, WS_OP_CLOSE, 2, MASK), 6);
	assert_memory_equal(h, "\x88\x82\xa1\x5b\x03\xee", 6);
	assert_int_equal(ws_frame_header(h, WS_OP_PONG, 0x0102030405060708ULL,
	    MASK), WS_MAX_HEADER);
	assert_memory_equal(h,
	    "\x8a\xff\x01\x02\x03\x04\x05\x06\x07\x08\xa1\x5b\x03\xee", 14);
}

static void
test_mask(void **state)
{
	uint8_t a[64], c[64];
	size_t len, i, cut;
	uint64_t off;

	(void)state;
	for (len = 0; len <= 40; len++) {
		for (off = 0; off < 8; off++) {
			for (i = 0; i < len; i++)
				a[i] = c[i] = (uint8_t)(i * 7 + len);
			ws_mask(a, len, MASK, off);
			for (i = 0; i < len; i++)
				assert_int_equal(a[i],
				    (uint8_t)(c[i] ^ MASK[(off + i) % 4]));
			ws_mask(a, len, MASK, off);
			assert_memory_equal(a, c, len);
			/* In two pieces, at any cut. */
			for (cut = 0; cut <= len; cut++) {
				memcpy(a, c, len);
				ws_mask(a, cut, MASK, off);
				ws_mask(a + cut, len - cut, MASK, off + cut);
				for (i = 0; i < len; i++)
					assert_int_equal(a[i], (uint8_t)(c[i] ^
					    MASK[(off + i) % 4]));
			}
		}
	}
}

/* Encodes as the given role would, then parses as the peer. */
static void
encode(struct buf *b, enum ws_opcode op, const uint8_t *pl, size_t len,
    const uint8_t *mask)
{
	uint8_t h[WS_MAX_HEADER];
	uint8_t *copy = malloc(len + 1);
	size_t half = len / 3;

	assert_non_null(copy);
	buf_add(b, h, ws_frame_header(h, op, len, mask));
	memcpy(copy, pl, len);
	if (mask != NULL) {
		/* Masked in two pieces, as a writer streaming it would. */
		ws_mask(copy, half, mask, 0);
		ws_mask(copy + half, len - half, mask, half);
	}
	buf_add(b, copy, len);
	free(copy);
}

static void
round_trip(enum ws_role parser_role, const uint8_t *mask)
{
	static const size_t sizes[] = { 0, 1, 3, 125, 126, 65535, 65536,
	    200001 };
	uint8_t *pl = pattern(200001, 10), cp[WS_MAX_CONTROL];
	struct buf b = { 0 };
	struct run r;
	size_t i, n;

	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
		encode(&b, WS_OP_BINARY, pl, sizes[i], mask);
	encode(&b, WS_OP_PING, pl, 125, mask);
	encode(&b, WS_OP_PONG, pl, 7, mask);
	n = ws_close_payload(cp, 1000, "normal \xc3\xa9");
	encode(&b, WS_OP_CLOSE, cp, n, mask);
	run_all(parser_role, MIB, &b, &r);
	assert_int_equal(r.n, sizeof(sizes) / sizeof(sizes[0]) + 3);
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		assert_int_equal(r.ev[i].type, WS_EV_MESSAGE);
		assert_int_equal(r.ev[i].len, sizes[i]);
		if (sizes[i] > 0)
			assert_memory_equal(r.ev[i].data, pl, sizes[i]);
	}
	assert_int_equal(r.ev[i].type, WS_EV_PING);
	assert_int_equal(r.ev[i].len, 125);
	assert_memory_equal(r.ev[i].data, pl, 125);
	assert_int_equal(r.ev[i + 1].type, WS_EV_PONG);
	assert_int_equal(r.ev[i + 1].len, 7);
	assert_int_equal(r.ev[i + 2].type, WS_EV_CLOSE);
	assert_int_equal(r.ev[i + 2].code, 1000);
	assert_int_equal(r.ev[i + 2].len, 9);
	assert_memory_equal(r.ev[i + 2].data, "normal \xc3\xa9", 9);
	run_free(&r);
	buf_free(&b);
	free(pl);
}

static void
test_round_trip_client_to_server(void **state)
{
	(void)state;
	round_trip(WS_ROLE_SERVER, MASK);
	round_trip(WS_ROLE_SERVER, (const uint8_t *)"\x00\x00\x00\x00");
}

static void
test_round_trip_server_to_client(void **state)
{
	(void)state;
	round_trip(WS_ROLE_CLIENT, NULL);
}

static void
test_close_payload(void **state)
{
	uint8_t out[WS_MAX_CONTROL], zero[WS_MAX_CONTROL] = { 0 };
	char r[400];
	struct buf b = { 0 };
	size_t n, k;

	(void)state;
	n = ws_close_payload(out, 1001, NULL);
	assert_int_equal(n, 2);
	assert_memory_equal(out, "\x03\xe9", 2);
	n = ws_close_payload(out, 4000, "");
	assert_int_equal(n, 2);
	assert_memory_equal(out, "\x0f\xa0", 2);
	n = ws_close_payload(out, 1000, "going away");
	assert_int_equal(n, 12);
	assert_memory_equal(out + 2, "going away", 10);

	/* ASCII: exactly 123 bytes fit, 124 are cut to 123. */
	memset(r, 'a', sizeof(r));
	r[123] = '\0';
	assert_int_equal(ws_close_payload(out, 1000, r), 125);
	r[123] = 'a';
	r[124] = '\0';
	assert_int_equal(ws_close_payload(out, 1000, r), 125);
	assert_memory_equal(out + 2, r, 123);

	/* 122 ASCII + "é": the cut falls inside the é, which is dropped. */
	memset(r, 'a', 122);
	memcpy(r + 122, "\xc3\xa9", 3);
	assert_int_equal(ws_close_payload(out, 1000, r), 124);
	assert_memory_equal(out + 2, r, 122);

	/* "x" + "€" * 50: the cut falls inside the 41st €. */
	r[0] = 'x';
	for (k = 0; k < 50; k++)
		memcpy(r + 1 + 3 * k, "\xe2\x82\xac", 3);
	r[151] = '\0';
	n = ws_close_payload(out, 1000, r);
	assert_int_equal(n, 2 + 1 + 40 * 3);
	assert_memory_equal(out + 2, r, n - 2);

	/* Four-byte sequences at every alignment. */
	for (k = 0; k < 4; k++) {
		size_t i;

		memset(r, 'b', k);
		for (i = 0; i < 40; i++)
			memcpy(r + k + 4 * i, "\xf0\x9f\x98\x80", 4);
		r[k + 160] = '\0';
		n = ws_close_payload(out, 3000, r);
		assert_true(n - 2 >= 123 - 3);
		assert_true(utf8_valid(out + 2, n - 2));
		assert_memory_equal(out + 2, r, n - 2);
		/* And the peer parses it. */
		cframe(&b, 0x88, out, n);
		expect_close(&b, 3000, r, n - 2);
		buf_free(&b);
	}

	/* A reason that is not UTF-8 is left out. */
	memset(out, 0xee, sizeof(out));
	assert_int_equal(ws_close_payload(out, 1002, "bad \xff byte"), 2);
	assert_memory_equal(out + 2, zero, 10);
	assert_int_equal(ws_close_payload(out, 1002, "\x80"), 2);
}

/* --- Single pending pong (RFC 6455 5.5.3) ------------------------------- */

/*
 * Feeds b to p whole, byte by byte or in random chunks (more events than a
 * struct run holds); returns how many pings were reported.
 */
static size_t
feed_pings(struct ws_parser *p, const struct buf *b, enum chunking ch,
    uint64_t seed)
{
	struct ws_event ev;
	enum ws_event_type t;
	uint64_t rng = seed | 1;
	size_t pings = 0, off = 0, chunk, used;

	while (off < b->len) {
		if (ch == CH_WHOLE)
			chunk = b->len - off;
		else if (ch == CH_BYTE)
			chunk = 1;
		else
			chunk = 1 + rng_next(&rng) % 700;
		if (chunk > b->len - off)
			chunk = b->len - off;
		t = ws_parser_feed(p, b->d + off, chunk, &used, &ev);
		off += used;
		if (t == WS_EV_PING)
			pings++;
		if (t == WS_EV_ERROR || t == WS_EV_CLOSE)
			break;
	}
	return pings;
}

static void
test_one_pong_pending(void **state)
{
	uint8_t pl[WS_MAX_CONTROL], out[WS_MAX_CONTROL];
	struct buf b = { 0 };
	struct ws_parser p;
	struct mem_state mem;
	struct ws_mem wm;
	enum chunking ch;
	size_t len, i;

	(void)state;
	/* 1000 pings of 125 bytes, each different, with messages between. */
	for (i = 0; i < 1000; i++) {
		memset(pl, (int)(i & 0xff), sizeof(pl));
		memcpy(pl, &i, sizeof(i));
		cframe(&b, 0x89, pl, sizeof(pl));
		if (i % 100 == 0)
			cframe(&b, 0x82, "m", 1);
	}
	for (ch = CH_WHOLE; ch <= CH_RANDOM; ch++) {
		mem_init(&mem, &wm, -1);
		ws_parser_init(&p, WS_ROLE_SERVER, MIB);
		ws_parser_set_mem(&p, &wm);
		assert_int_equal(ws_parser_take_pong(&p, out, &len), 0);
		assert_int_equal(feed_pings(&p, &b, ch, 7), 1000);
		/* One pong is owed, and it is the newest ping's. */
		assert_int_equal(ws_parser_take_pong(&p, out, &len), 1);
		assert_int_equal(len, sizeof(pl));
		i = 999;
		memset(pl, (int)(i & 0xff), sizeof(pl));
		memcpy(pl, &i, sizeof(i));
		assert_memory_equal(out, pl, sizeof(pl));
		/* Taken: nothing more is owed. */
		assert_int_equal(ws_parser_take_pong(&p, out, &len), 0);
		/* Pings have no allocation of their own: only the message. */
		assert_true(mem.largest <= 256);
		ws_parser_free(&p);
		assert_int_equal(mem.live, 0);
		assert_false(mem.unwiped);
	}
	buf_free(&b);

	/* An empty ping is owed an empty pong; a later one replaces it. */
	ws_parser_init(&p, WS_ROLE_SERVER, MIB);
	cframe(&b, 0x89, "", 0);
	assert_int_equal(feed_pings(&p, &b, CH_WHOLE, 0), 1);
	buf_free(&b);
	assert_int_equal(ws_parser_take_pong(&p, out, &len), 1);
	assert_int_equal(len, 0);
	cframe(&b, 0x89, "first", 5);
	cframe(&b, 0x8a, "a pong", 6);
	cframe(&b, 0x89, "2nd", 3);
	assert_int_equal(feed_pings(&p, &b, CH_BYTE, 0), 2);
	buf_free(&b);
	assert_int_equal(ws_parser_take_pong(&p, out, &len), 1);
	assert_int_equal(len, 3);
	assert_memory_equal(out, "2nd", 3);
	ws_parser_free(&p);

	/* A pong is not owed once the peer closed, nor after an error. */
	ws_parser_init(&p, WS_ROLE_SERVER, MIB);
	cframe(&b, 0x89, "x", 1);
	cframe(&b, 0x88, "\x03\xe8", 2);
	feed_pings(&p, &b, CH_WHOLE, 0);
	buf_free(&b);
	assert_int_equal(ws_parser_take_pong(&p, out, &len), 0);
	ws_parser_free(&p);
	ws_parser_init(&p, WS_ROLE_SERVER, MIB);
	cframe(&b, 0x89, "x", 1);
	frame(&b, 0x89, (const uint8_t *)"y", 1, NULL, 0);	/* unmasked */
	feed_pings(&p, &b, CH_WHOLE, 0);
	buf_free(&b);
	assert_int_equal(ws_parser_take_pong(&p, out, &len), 0);
	ws_parser_free(&p);
}

/* --- A lower limit before auth ------------------------------------------ */

#define PREAUTH	1024

static void
preauth_parser(struct ws_parser *p, struct mem_state *mem, struct ws_mem *wm)
{
	mem_init(mem, wm, -1);
	ws_parser_init(p, WS_ROLE_SERVER, MIB);
	ws_parser_set_mem(p, wm);
	ws_parser_set_limit(p, PREAUTH, WS_CLOSE_POLICY);
}

static void
test_preauth_limit(void **state)
{
	uint8_t *pl = pattern(4096, 11);
	struct buf b = { 0 };
	struct ws_parser p;
	struct ws_event ev;
	struct mem_state mem;
	struct ws_mem wm;
	struct run r;
	size_t used;

	(void)state;
	/* One byte over, announced: refused at the header with the given
	 * code, nothing allocated, none of the payload read. */
	frame(&b, 0x82, pl, PREAUTH + 1, MASK, 0);
	preauth_parser(&p, &mem, &wm);
	assert_int_equal(ws_parser_feed(&p, b.d, b.len, &used, &ev),
	    WS_EV_ERROR);
	assert_int_equal(ev.code, WS_CLOSE_POLICY);
	assert_int_equal(used, 4 + 4);
	assert_int_equal(mem.allocs, 0);
	ws_parser_free(&p);
	buf_free(&b);
	/* Also with a 64-bit length of a huge message. */
	frame(&b, 0x82, NULL, 64 * MIB, MASK, 0);
	preauth_parser(&p, &mem, &wm);
	assert_int_equal(ws_parser_feed(&p, b.d, b.len, &used, &ev),
	    WS_EV_ERROR);
	assert_int_equal(ev.code, WS_CLOSE_POLICY);
	assert_int_equal(mem.allocs, 0);
	ws_parser_free(&p);
	buf_free(&b);

	/* In fragments: 600 are buffered, the 500 of the second are not. */
	cframe(&b, 0x02, pl, 600);
	cframe(&b, 0x80, pl + 600, 500);
	preauth_parser(&p, &mem, &wm);
	run_parser(&p, b.d, b.len, CH_BYTE, 0, &r);
	assert_int_equal(r.n, 1);
	assert_int_equal(r.ev[0].type, WS_EV_ERROR);
	assert_int_equal(r.ev[0].code, WS_CLOSE_POLICY);
	assert_true(mem.largest <= PREAUTH);
	run_free(&r);
	ws_parser_free(&p);
	assert_int_equal(mem.live, 0);
	assert_false(mem.unwiped);
	buf_free(&b);

	/* Exactly the limit is delivered, in a buffer no larger; after the
	 * limit is raised (auth), a larger message passes and the old code
	 * comes back for one over the new limit. */
	cframe(&b, 0x82, pl, PREAUTH);
	cframe(&b, 0x82, pl, 4096);
	frame(&b, 0x82, NULL, MIB + 1, MASK, 0);
	preauth_parser(&p, &mem, &wm);
	assert_int_equal(ws_parser_feed(&p, b.d, b.len, &used, &ev),
	    WS_EV_MESSAGE);
	assert_int_equal(ev.len, PREAUTH);
	assert_memory_equal(ev.data, pl, PREAUTH);
	assert_true(mem.largest <= PREAUTH);
	ws_parser_set_limit(&p, MIB, WS_CLOSE_TOO_BIG);
	b.len -= used;
	memmove(b.d, b.d + used, b.len);
	assert_int_equal(ws_parser_feed(&p, b.d, b.len, &used, &ev),
	    WS_EV_MESSAGE);
	assert_int_equal(ev.len, 4096);
	assert_memory_equal(ev.data, pl, 4096);
	b.len -= used;
	memmove(b.d, b.d + used, b.len);
	assert_int_equal(ws_parser_feed(&p, b.d, b.len, &used, &ev),
	    WS_EV_ERROR);
	assert_int_equal(ev.code, WS_CLOSE_TOO_BIG);
	ws_parser_free(&p);
	assert_int_equal(mem.live, 0);
	assert_false(mem.unwiped);
	buf_free(&b);
	free(pl);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_unmasked_from_client),
		cmocka_unit_test(test_masked_from_server),
		cmocka_unit_test(test_rsv_bits),
		cmocka_unit_test(test_unknown_opcodes),
		cmocka_unit_test(test_fragmented_control),
		cmocka_unit_test(test_control_too_long),
		cmocka_unit_test(test_continuation_without_message),
		cmocka_unit_test(test_data_frame_inside_fragmented),
		cmocka_unit_test(test_text_frame),
		cmocka_unit_test(test_too_big_header_only),
		cmocka_unit_test(test_too_big_fragments),
		cmocka_unit_test(test_length_top_bit),
		cmocka_unit_test(test_non_minimal_length),
		cmocka_unit_test(test_ping_pong),
		cmocka_unit_test(test_close),
		cmocka_unit_test(test_close_code_valid),
		cmocka_unit_test(test_fed_after_end),
		cmocka_unit_test(test_zero_length),
		cmocka_unit_test(test_message_sizes),
		cmocka_unit_test(test_fragmented_with_ping),
		cmocka_unit_test(test_fragmented_large),
		cmocka_unit_test(test_several_in_one_buffer),
		cmocka_unit_test(test_message_wiped),
		cmocka_unit_test(test_grows_with_data),
		cmocka_unit_test(test_alloc_failure),
		cmocka_unit_test(test_header_bytes),
		cmocka_unit_test(test_mask),
		cmocka_unit_test(test_round_trip_client_to_server),
		cmocka_unit_test(test_round_trip_server_to_client),
		cmocka_unit_test(test_close_payload),
		cmocka_unit_test(test_one_pong_pending),
		cmocka_unit_test(test_preauth_limit),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
