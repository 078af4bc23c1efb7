/*
 * Copyright (c) 2026 The ocbroker authors
 * SPDX-License-Identifier: ISC (the licence is in the file LICENSE)
 */

/*
 * A bump allocator: a reply mapper builds a protobuf-c ServerMessage out of
 * many small allocations and releases them all with one arena_free().
 * Memory is not wiped on free: nothing secret is ever put in an arena.
 */
#ifndef OCB_NETPROC_ARENA_H
#define OCB_NETPROC_ARENA_H

#include <stddef.h>

#define ARENA_CHUNK_MIN	(16 * 1024)	/* size of the first chunk */
#define ARENA_CHUNK_MAX	(1024 * 1024)	/* chunk sizes double up to this */

struct arena_chunk;

struct arena {
	struct arena_chunk	*head;		/* chunk being filled */
	size_t			 next_size;	/* size of the next chunk */
};

void	 arena_init(struct arena *);
/* Zeroed memory aligned for any type; NULL (errno ENOMEM) on failure. */
void	*arena_alloc(struct arena *, size_t);
/*
 * Like arena_alloc, not zeroed: for memory the caller fills right away
 * (a struct it initialises whole, an array it copies into).
 */
void	*arena_alloc_raw(struct arena *, size_t);
/* n bytes for a string, not zeroed and not aligned (packed tightly). */
char	*arena_alloc_str(struct arena *, size_t);
/* arena_alloc(nmemb * size), NULL on overflow. */
void	*arena_calloc(struct arena *, size_t, size_t);
char	*arena_strndup(struct arena *, const char *, size_t);
char	*arena_strdup(struct arena *, const char *);
/* Frees every allocation; the arena can be used again afterwards. */
void	 arena_free(struct arena *);
/*
 * Like arena_free, but keeps the first chunk (when it is ARENA_CHUNK_MIN
 * bytes) for the allocations that follow: a mapper that resets after each
 * message allocates nothing while its messages fit in it.
 */
void	 arena_reset(struct arena *);

#endif /* OCB_NETPROC_ARENA_H */
