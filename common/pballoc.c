/*
 * Copyright (c) 2026 The ocbroker authors
 * SPDX-License-Identifier: ISC (the licence is in the file LICENSE)
 */

/* The wiping protobuf-c allocator; see pballoc.h. */
#include "config.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "common/buf.h"
#include "common/pballoc.h"

/* Each block is prefixed with its size so that free can wipe all of it. */
union pb_header {
	size_t		size;
	max_align_t	align;
};

/* data: the struct buf_mem to allocate from, NULL for malloc(3)/free(3). */
static void *
pb_alloc(void *data, size_t size)
{
	const struct buf_mem *mem = data;
	union pb_header *h;
	size_t n;

	if (size > SIZE_MAX - sizeof(*h))
		return NULL;
	n = sizeof(*h) + size;
	if ((h = mem == NULL ? malloc(n) : mem->alloc(n, mem->arg)) == NULL)
		return NULL;
	h->size = size;
	return h + 1;
}

static void
pb_free(void *data, void *p)
{
	const struct buf_mem *mem = data;
	union pb_header *h;

	if (p == NULL)
		return;
	h = (union pb_header *)p - 1;
	wipe(h, sizeof(*h) + h->size);
	if (mem == NULL)
		free(h);
	else
		mem->free(h, mem->arg);
}

ProtobufCAllocator *
pb_wiping_allocator(void)
{
	/* Stateless: the same three pointers for every caller. */
	static ProtobufCAllocator a = { pb_alloc, pb_free, NULL };

	return &a;
}
