/*
 * Copyright (c) 2026 The ocbroker authors
 * SPDX-License-Identifier: ISC (the licence is in the file LICENSE)
 */

/*
 * libFuzzer target for common/ws_frame.c.  The first input byte chooses how
 * the rest is cut into chunks (0: whole, 1: one byte at a time, else random
 * sizes seeded from the input); the rest is fed to a server-role and to a
 * client-role parser until an error or a close.  Every event is checked
 * against the module's promises, and each message is re-encoded and parsed
 * again in both directions.  For an odd first byte the limit is lowered to
 * 1 KiB with code 1008, as before auth.  The pong owed is always the newest
 * ping's, and at most one.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/ws_frame.h"
#include "common/utf8.h"

#define FUZZ_MAX_MESSAGE	(64 * 1024)
#define FUZZ_PREAUTH		1024

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void	check(int);
static uint64_t	rng_next(uint64_t *);
static void	inspect(const struct ws_event *);
static void	round_trip(const struct ws_event *, const uint8_t[4]);
static void	run(enum ws_role, uint8_t, const uint8_t *, size_t);
static void	close_payload(const uint8_t *, size_t);

static void
check(int ok)
{
	if (!ok)
		abort();
}

static uint64_t
rng_next(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* Reads every byte an event points to, so ASan sees a bad pointer. */
static void
inspect(const struct ws_event *ev)
{
	volatile uint8_t sink = 0;
	size_t i;

	switch (ev->type) {
	case WS_EV_MESSAGE:
		check(ev->len <= FUZZ_MAX_MESSAGE);
		break;
	case WS_EV_PING:
	case WS_EV_PONG:
		check(ev->len <= WS_MAX_CONTROL);
		break;
	case WS_EV_CLOSE:
		check(ev->len <= WS_MAX_CONTROL - 2);
		check(utf8_valid(ev->data, ev->len));
		if (ev->code == 1005)
			check(ev->len == 0);
		else
			check(ws_close_code_valid(ev->code));
		break;
	case WS_EV_ERROR:
		check(ev->reason != NULL);
		check(ev->code == 1002 || ev->code == 1003 ||
		    ev->code == 1007 || ev->code == 1008 || ev->code == 1009 ||
		    ev->code == 1011);
		return;
	default:
		abort();
	}
	check(ev->data != NULL);
	for (i = 0; i < ev->len; i++)
		sink ^= ev->data[i];
	(void)sink;
}

/* The encoder's output, in both roles, parses back to the same payload. */
static void
round_trip(const struct ws_event *ev, const uint8_t mask[4])
{
	struct ws_parser p;
	struct ws_event out;
	enum ws_opcode op;
	enum ws_event_type t;
	uint8_t *buf;
	size_t hlen, used;
	int masked;

	op = ev->type == WS_EV_MESSAGE ? WS_OP_BINARY :
	    ev->type == WS_EV_PING ? WS_OP_PING : WS_OP_PONG;
	if ((buf = malloc(WS_MAX_HEADER + ev->len)) == NULL)
		abort();
	for (masked = 0; masked <= 1; masked++) {
		hlen = ws_frame_header(buf, op, ev->len, masked ? mask : NULL);
		if (ev->len > 0)
			memcpy(buf + hlen, ev->data, ev->len);
		if (masked)
			ws_mask(buf + hlen, ev->len, mask, 0);
		ws_parser_init(&p, masked ? WS_ROLE_SERVER : WS_ROLE_CLIENT,
		    FUZZ_MAX_MESSAGE);
		t = ws_parser_feed(&p, buf, hlen + ev->len, &used, &out);
		check(t == ev->type);
		check(used == hlen + ev->len);
		check(out.len == ev->len);
		check(ev->len == 0 || memcmp(out.data, ev->data, ev->len) == 0);
		ws_parser_free(&p);
	}
	free(buf);
}

static void
run(enum ws_role role, uint8_t mode, const uint8_t *data, size_t size)
{
	struct ws_parser p;
	struct ws_event ev;
	enum ws_event_type t;
	uint64_t rng = 0x9e3779b97f4a7c15ULL ^ ((uint64_t)mode << 32) ^ size;
	uint8_t mask[4] = { mode, 0x5a, (uint8_t)size, 0xc3 };
	uint8_t ping[WS_MAX_CONTROL], pong[WS_MAX_CONTROL];
	size_t off = 0, pos, chunk, used, ping_len = 0, pong_len;
	int owed = 0;

	ws_parser_init(&p, role, FUZZ_MAX_MESSAGE);
	if (mode & 1)
		ws_parser_set_limit(&p, FUZZ_PREAUTH, 1008);
	while (off < size) {
		if (mode == 0)
			chunk = size - off;
		else if (mode == 1)
			chunk = 1;
		else
			chunk = 1 + rng_next(&rng) % ((size_t)mode * 8);
		if (chunk > size - off)
			chunk = size - off;
		for (pos = 0; pos < chunk;) {
			t = ws_parser_feed(&p, data + off + pos, chunk - pos,
			    &used, &ev);
			check(t == ev.type);
			check(used <= chunk - pos);
			pos += used;
			if (t == WS_EV_NONE) {
				check(pos == chunk);
				break;
			}
			check(used > 0 || t == WS_EV_ERROR);
			inspect(&ev);
			check(t != WS_EV_MESSAGE || !(mode & 1) ||
			    ev.len <= FUZZ_PREAUTH);
			check(t != WS_EV_ERROR || ev.code != 1009 || !(mode & 1));
			if (t == WS_EV_PING) {
				memcpy(ping, ev.data, ev.len);
				ping_len = ev.len;
				owed = 1;
			}
			/* After a close or an error no pong is owed; else it is
			 * sometimes taken, sometimes left owed. */
			if (t == WS_EV_ERROR || t == WS_EV_CLOSE)
				owed = 0;
			else if (owed &&
			    (t == WS_EV_MESSAGE || (rng_next(&rng) & 1))) {
				check(ws_parser_take_pong(&p, pong, &pong_len));
				check(pong_len == ping_len &&
				    memcmp(pong, ping, ping_len) == 0);
				owed = 0;
			}
			check(p.pong_pending == owed);
			if (t == WS_EV_MESSAGE || t == WS_EV_PING ||
			    t == WS_EV_PONG)
				round_trip(&ev, mask);
			if (t == WS_EV_ERROR || t == WS_EV_CLOSE) {
				t = ws_parser_feed(&p, data, size, &used, &ev);
				check(t == WS_EV_ERROR && used == 0);
				goto done;
			}
		}
		off += chunk;
	}
 done:
	ws_parser_free(&p);
}

/* The input as a close reason: never longer than a control frame, always UTF-8. */
static void
close_payload(const uint8_t *data, size_t size)
{
	uint8_t out[WS_MAX_CONTROL];
	char reason[256];
	size_t n, rlen;

	rlen = size < sizeof(reason) - 1 ? size : sizeof(reason) - 1;
	memcpy(reason, data, rlen);
	reason[rlen] = '\0';
	rlen = strlen(reason);
	n = ws_close_payload(out, 1000, reason);
	check(n >= 2 && n <= WS_MAX_CONTROL);
	check(out[0] == 0x03 && out[1] == 0xe8);
	check(utf8_valid(out + 2, n - 2));
	check(n - 2 <= rlen && memcmp(out + 2, reason, n - 2) == 0);
	/* Only an invalid reason or a cut may shorten it. */
	if (utf8_valid((const uint8_t *)reason, rlen))
		check(n - 2 == rlen || n - 2 >= WS_MAX_CONTROL - 2 - 3);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	run(WS_ROLE_SERVER, data[0], data + 1, size - 1);
	run(WS_ROLE_CLIENT, data[0], data + 1, size - 1);
	close_payload(data + 1, size - 1);
	return 0;
}
