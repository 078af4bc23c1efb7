/*
 * Copyright (c) 2026 The ocbroker authors
 * SPDX-License-Identifier: ISC (the licence is in the file LICENSE)
 */

/* The allocator that records failures; see pbtrack.h. */
#include "config.h"

#include <stdlib.h>

#include "common/pbtrack.h"

static void *
track_alloc(void *data, size_t size)
{
	struct pb_track *t = data;
	void *p;

	if (t->inner != NULL)
		p = t->inner->alloc(t->inner->allocator_data, size);
	else
		p = malloc(size);
	if (p == NULL)
		t->failed = 1;
	return p;
}

static void
track_free(void *data, void *p)
{
	struct pb_track *t = data;

	if (t->inner != NULL)
		t->inner->free(t->inner->allocator_data, p);
	else
		free(p);
}

void
pb_track_init(struct pb_track *t, ProtobufCAllocator *inner)
{
	t->a.alloc = track_alloc;
	t->a.free = track_free;
	t->a.allocator_data = t;
	t->inner = inner;
	t->failed = 0;
}
