/*
 * Copyright (c) 2026 The ocbroker authors
 * SPDX-License-Identifier: ISC (the licence is in the file LICENSE)
 */

/*
 * libFuzzer target: the input is an upstream GET /event body, preceded by a
 * chunking plan.  Byte 0: n = byte & 0x0f plan bytes follow, each a chunk
 * size minus one, used in turn (n = 0: the body in one feed).  The body is
 * fed to the SSE parser in those chunks and, as a reference, in one piece;
 * both must give the same events and the same error.  Every event's data
 * goes through event_map, and every message that comes out must unpack
 * and pass sm_check() (sm_check.h, shared with tests/test_events.c):
 * request_id 0, the emitted session id, valid UTF-8, JSON and cuts.  It
 * goes through a second mapper that never takes the walk of a delta
 * (event_mapper_slow_only()): both must return the same kind and emit the
 * same bytes.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "netproc/events.h"
#include "netproc/sse.h"
#include "proto/messages.pb-c.h"
#include "tests/fuzz/plan.h"
#include "tests/support/sm_check.h"
#include "tests/support/sse_feed.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

struct run {
	uint64_t	hash;		/* of every event, in order */
	size_t		events;
	int		error;
	struct event_mapper *m;		/* every event's data goes through */
	struct event_mapper *slow;	/* and through this one, no walk */
};

static uint64_t
mix(uint64_t h, const void *p, size_t n)
{
	const uint8_t	*b = p;

	while (n-- > 0) {
		h ^= *b++;
		h *= 0x100000001b3ULL;
	}
	return h;
}

/* arg: a hash of what was emitted. */
static void
emit(void *arg, const char *sid, const uint8_t *buf, size_t len)
{
	Opencode__ServerMessage	*m;
	uint64_t		*h = arg;

	if ((m = opencode__server_message__unpack(NULL, len, buf)) == NULL ||
	    sm_check(m, sid) != NULL)
		abort();
	opencode__server_message__free_unpacked(m, NULL);
	*h = mix(*h, sid, strlen(sid) + 1);
	*h = mix(*h, &len, sizeof(len));
	*h = mix(*h, buf, len);
}

static void
take(void *arg, const struct sse_event *ev)
{
	struct run	*r = arg;

	if (ev->data == NULL || ev->type == NULL || ev->id == NULL ||
	    ev->data[ev->data_len] != '\0' || ev->type[ev->type_len] != '\0' ||
	    ev->id[ev->id_len] != '\0' || ev->type_len == 0 ||
	    ev->retry_ms < -1 || ev->retry_ms > SSE_RETRY_MAX_MS ||
	    ev->data_len >= SSE_MAX_DATA)
		abort();
	r->events++;
	r->hash = mix(r->hash, &ev->data_len, sizeof(ev->data_len));
	r->hash = mix(r->hash, ev->data, ev->data_len);
	r->hash = mix(r->hash, ev->type, ev->type_len + 1);
	r->hash = mix(r->hash, ev->id, ev->id_len + 1);
	r->hash = mix(r->hash, &ev->retry_ms, sizeof(ev->retry_ms));
	if (r->m != NULL) {
		uint64_t	hf = 1, hs = 1;

		if (event_map(r->m, ev->data, ev->data_len, emit, &hf) !=
		    event_map(r->slow, ev->data, ev->data_len, emit, &hs) ||
		    hf != hs)
			abort();
	}
}

/* Feeds one chunk; 0, or -1 once the parser failed. */
static int
feed(struct sse_parser *p, const uint8_t *b, size_t len, struct run *r)
{
	int	failed;

	if (sse_feed_chunk(p, b, len, take, r, &failed) != NULL)
		abort();
	if (failed)
		r->error = 1;
	return failed ? -1 : 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sse_parser	 p;
	struct event_mapper	*m, *slow;
	struct run		 whole = { 0xcbf29ce484222325ULL, 0, 0, NULL, NULL };
	struct run		 chunked = { 0xcbf29ce484222325ULL, 0, 0, NULL, NULL };
	struct fuzz_plan	 fp;
	const uint8_t		*body;
	size_t			 len, off, n, k = 0;

	if (size == 0 || fuzz_plan_split(data, size, data[0] & 0x0f,
	    &fp) == -1)
		return 0;
	body = fp.body;
	len = fp.len;

	sse_parser_init(&p);
	(void)feed(&p, body, len, &whole);
	sse_parser_free(&p);

	if ((m = event_mapper_new()) == NULL ||
	    (slow = event_mapper_new()) == NULL)
		abort();
	event_mapper_slow_only(slow, 1);
	chunked.m = m;
	chunked.slow = slow;
	sse_parser_init(&p);
	for (off = 0; off < len; off += n) {
		n = fp.nplan == 0 ? len : (size_t)fp.plan[k++ % fp.nplan] + 1;
		if (n > len - off)
			n = len - off;
		if (feed(&p, body + off, n, &chunked) == -1)
			break;
	}
	/* Once failed, it stays failed until a reset. */
	if (chunked.error) {
		struct sse_event	ev;
		size_t			used;

		if (sse_parser_feed(&p, (const uint8_t *)"\n\n", 2, &used,
		    &ev) != SSE_ERROR)
			abort();
	}
	sse_parser_reset(&p);
	sse_parser_free(&p);
	event_mapper_free(m);
	event_mapper_free(slow);

	if (whole.events != chunked.events || whole.hash != chunked.hash ||
	    whole.error != chunked.error)
		abort();
	return 0;
}
