/*
 * Copyright (c) 2026 The ocbroker authors
 * SPDX-License-Identifier: ISC (the licence is in the file LICENSE)
 */

/* Bump allocator for building one reply; see arena.h. */
#include <errno.h>
#include <stdalign.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "netproc/arena.h"

#define ARENA_ALIGN	alignof(max_align_t)

struct arena_chunk {
	struct arena_chunk	*next;
	size_t			 cap;
	size_t			 used;
	max_align_t		 data[];	/* aligns the bytes */
};

void
arena_init(struct arena *a)
{
	a->head = NULL;
	a->next_size = ARENA_CHUNK_MIN;
}

/*
 * n bytes aligned to align (a power of two, at most ARENA_ALIGN), not
 * zeroed.  Chunk data is ARENA_ALIGN-aligned, so aligning the offset
 * aligns the pointer.
 */
static void *
arena_get(struct arena *a, size_t n, size_t align)
{
	struct arena_chunk	*c;
	size_t			 cap, off = 0;

	if (a->next_size == 0)
		a->next_size = ARENA_CHUNK_MIN;
	if (n == 0)
		n = 1;
	if (n > SIZE_MAX - ARENA_ALIGN - sizeof(*c))
		goto nomem;
	c = a->head;
	if (c != NULL)
		off = (c->used + align - 1) & ~(align - 1);
	if (c == NULL || off > c->cap || c->cap - off < n) {
		cap = (n + ARENA_ALIGN - 1) & ~(ARENA_ALIGN - 1);
		if (cap < a->next_size)
			cap = a->next_size;
		if ((c = malloc(sizeof(*c) + cap)) == NULL)
			goto nomem;
		c->cap = cap;
		c->used = 0;
		if (cap != a->next_size && a->head != NULL) {
			/* A dedicated chunk: keep filling the current one. */
			c->next = a->head->next;
			a->head->next = c;
		} else {
			c->next = a->head;
			a->head = c;
			if (a->next_size < ARENA_CHUNK_MAX)
				a->next_size *= 2;
		}
		off = 0;
	}
	c->used = off + n;
	return (unsigned char *)c->data + off;
nomem:
	errno = ENOMEM;
	return NULL;
}

void *
arena_alloc(struct arena *a, size_t n)
{
	void	*p;

	if ((p = arena_get(a, n, ARENA_ALIGN)) != NULL)
		memset(p, 0, n);
	return p;
}

void *
arena_alloc_raw(struct arena *a, size_t n)
{
	return arena_get(a, n, ARENA_ALIGN);
}

char *
arena_alloc_str(struct arena *a, size_t n)
{
	return arena_get(a, n, 1);
}

void *
arena_calloc(struct arena *a, size_t nmemb, size_t size)
{
	if (size != 0 && nmemb > SIZE_MAX / size) {
		errno = ENOMEM;
		return NULL;
	}
	return arena_alloc(a, nmemb * size);
}

char *
arena_strndup(struct arena *a, const char *s, size_t len)
{
	char	*p;

	if (len == SIZE_MAX) {
		errno = ENOMEM;
		return NULL;
	}
	if ((p = arena_alloc_str(a, len + 1)) == NULL)
		return NULL;
	memcpy(p, s, len);
	p[len] = '\0';
	return p;
}

char *
arena_strdup(struct arena *a, const char *s)
{
	return arena_strndup(a, s, strlen(s));
}

void
arena_free(struct arena *a)
{
	struct arena_chunk	*c, *next;

	for (c = a->head; c != NULL; c = next) {
		next = c->next;
		free(c);
	}
	arena_init(a);
}

void
arena_reset(struct arena *a)
{
	struct arena_chunk	*c, *next, *keep = NULL;

	/*
	 * Only the first chunk of a generation has ARENA_CHUNK_MIN bytes:
	 * the later ones, dedicated chunks included, are at least twice that.
	 */
	for (c = a->head; c != NULL; c = next) {
		next = c->next;
		if (c->cap == ARENA_CHUNK_MIN && keep == NULL)
			keep = c;
		else
			free(c);
	}
	arena_init(a);
	if (keep != NULL) {
		keep->next = NULL;
		keep->used = 0;
		a->head = keep;
		a->next_size = 2 * ARENA_CHUNK_MIN;
	}
}
