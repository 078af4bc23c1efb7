/*
 * Copyright (c) 2026 The ocbroker authors
 * SPDX-License-Identifier: ISC (the licence is in the file LICENSE)
 */

/*
 * The checking allocator of wipecheck.h.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tests/support/wipecheck.h"

union wc_header {
	size_t		size;
	max_align_t	align;
};

static void *
wc_alloc(size_t size, void *arg)
{
	struct wipecheck *wc = arg;
	union wc_header *h;

	wc->allocs++;
	if (wc->fail_at != 0 && wc->allocs == wc->fail_at)
		return NULL;
	if (size > SIZE_MAX - sizeof(*h) ||
	    (h = malloc(sizeof(*h) + size)) == NULL)
		return NULL;
	h->size = size;
	/* Not zero, so that a block freed without a wipe is noticed. */
	memset(h + 1, 0xa5, size);
	return h + 1;
}

static void
wc_free(void *p, void *arg)
{
	struct wipecheck *wc = arg;
	union wc_header *h;
	const unsigned char *c;

	if (p == NULL)
		return;
	wc->frees++;
	h = (union wc_header *)p - 1;
	c = p;
	for (size_t i = 0; i < h->size; i++)
		if (c[i] != 0) {
			wc->unwiped++;
			break;
		}
	free(h);
}

void
wipecheck_init(struct wipecheck *wc)
{
	memset(wc, 0, sizeof(*wc));
	wc->mem.alloc = wc_alloc;
	wc->mem.free = wc_free;
	wc->mem.arg = wc;
}

void
wipecheck_assert_clean(const struct wipecheck *wc)
{
	size_t failed = wc->fail_at != 0 && wc->allocs >= wc->fail_at;

	if (wc->unwiped != 0)
		fail_msg("%zu of %zu blocks freed without being wiped",
		    wc->unwiped, wc->frees);
	if (wc->allocs - failed != wc->frees)
		fail_msg("%zu blocks allocated, %zu freed", wc->allocs - failed,
		    wc->frees);
}
