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

void *
arena_alloc(struct arena *a, size_t n)
{
	struct arena_chunk	*c;
	size_t			 cap;
	unsigned char		*p;

	if (a->next_size == 0)
		a->next_size = ARENA_CHUNK_MIN;
	if (n == 0)
		n = 1;
	if (n > SIZE_MAX - ARENA_ALIGN - sizeof(*c))
		goto nomem;
	n = (n + ARENA_ALIGN - 1) & ~(ARENA_ALIGN - 1);

	c = a->head;
	if (c == NULL || c->cap - c->used < n) {
		cap = n > a->next_size ? n : a->next_size;
		if ((c = malloc(sizeof(*c) + cap)) == NULL)
			goto nomem;
		c->cap = cap;
		c->used = 0;
		if (cap == n && a->head != NULL) {
			/* A dedicated chunk: keep filling the current one. */
			c->next = a->head->next;
			a->head->next = c;
		} else {
			c->next = a->head;
			a->head = c;
			if (a->next_size < ARENA_CHUNK_MAX)
				a->next_size *= 2;
		}
	}
	p = (unsigned char *)c->data + c->used;
	c->used += n;
	memset(p, 0, n);
	return p;
nomem:
	errno = ENOMEM;
	return NULL;
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
	if ((p = arena_alloc(a, len + 1)) == NULL)
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
