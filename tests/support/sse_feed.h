/*
 * Copyright (c) 2026 The ocbroker authors
 * SPDX-License-Identifier: ISC (the licence is in the file LICENSE)
 */

/*
 * One chunk fed to the SSE parser until it is used up, checking the
 * parser's contract on the way, the same way for tests/test_sse.c and
 * tests/fuzz/fuzz_sse.c: a feed never uses more than it is given, an event
 * uses at least one byte, NEED_MORE comes only once all is used, and an
 * error has a reason.  Header-only: both programs include it once.
 */
#ifndef OCB_TESTS_SSE_FEED_H
#define OCB_TESTS_SSE_FEED_H

#include <stddef.h>
#include <stdint.h>

#include "netproc/sse.h"

/*
 * Feeds b to p, calling take(arg, ev) for every event.  NULL when the
 * contract held (*failed: the parser refused the stream), else the rule
 * that was broken.
 */
static inline const char *
sse_feed_chunk(struct sse_parser *p, const uint8_t *b, size_t len,
    void (*take)(void *, const struct sse_event *), void *arg, int *failed)
{
	struct sse_event	ev;
	enum sse_status		s;
	size_t			used;

	*failed = 0;
	for (;;) {
		s = sse_parser_feed(p, b, len, &used, &ev);
		if (s == SSE_ERROR) {
			*failed = 1;
			return p->error == NULL ? "an error without a reason" :
			    NULL;
		}
		if (used > len)
			return "used more than it was given";
		b += used;
		len -= used;
		if (s == SSE_NEED_MORE)
			return len == 0 ? NULL : "NEED_MORE with bytes left";
		if (s != SSE_EVENT)
			return "an unknown status";
		if (used == 0)
			return "an event that used nothing";
		take(arg, &ev);
	}
}

#endif /* OCB_TESTS_SSE_FEED_H */
