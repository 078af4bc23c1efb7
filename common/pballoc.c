/* The wiping protobuf-c allocator; see pballoc.h. */
#include "config.h"

#include <stdlib.h>

#include "common/buf.h"
#include "common/pballoc.h"

/* Each block is prefixed with its size so that free can wipe all of it. */
union pb_header {
	size_t		size;
	max_align_t	align;
};

static void *
pb_alloc(void *data, size_t size)
{
	union pb_header *h;

	(void)data;
	if (size > SIZE_MAX - sizeof(*h))
		return NULL;
	if ((h = malloc(sizeof(*h) + size)) == NULL)
		return NULL;
	h->size = size;
	return h + 1;
}

static void
pb_free(void *data, void *p)
{
	union pb_header *h;

	(void)data;
	if (p == NULL)
		return;
	h = (union pb_header *)p - 1;
	wipe(h, sizeof(*h) + h->size);
	free(h);
}

ProtobufCAllocator *
pb_wiping_allocator(void)
{
	/* Stateless: the same three pointers for every caller. */
	static ProtobufCAllocator a = { pb_alloc, pb_free, NULL };

	return &a;
}
