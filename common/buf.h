/*
 * Copyright (c) 2026 The ocbroker authors
 * SPDX-License-Identifier: ISC (the licence is in the file LICENSE)
 */

/*
 * A byte queue owned by one connection or channel.  Consumed bytes are wiped
 * before the memory is reused or freed: a queue may have held an API key or the
 * auth token, and freed heap memory ends up in the next allocation or a core.
 */
#ifndef OCB_BUF_H
#define OCB_BUF_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/*
 * Where a queue's memory comes from: malloc(3)/free(3) unless a test sets
 * its own (to fail an allocation, or to check that what is freed is zero).
 * Blocks are always wiped before they are handed to free.
 */
struct buf_mem {
	void	*(*alloc)(size_t, void *);
	void	 (*free)(void *, void *);
	void	*arg;
};

struct buf {
	uint8_t	*data;
	size_t	 off;		/* first unread byte */
	size_t	 len;		/* bytes in use from off */
	size_t	 cap;
	size_t	 moved;		/* bytes compaction ever moved (tests count it) */
	const struct buf_mem *mem;	/* NULL: malloc(3)/free(3) */
};

void	 buf_init(struct buf *);
/* mem == NULL restores malloc(3)/free(3); set it while the queue is empty. */
void	 buf_set_mem(struct buf *, const struct buf_mem *);
void	 buf_free(struct buf *);			/* wipes; keeps the mem */
int	 buf_reserve(struct buf *, size_t);		/* room for n more bytes */
int	 buf_add(struct buf *, const void *, size_t);
uint8_t	*buf_tail(struct buf *);			/* where reserved room starts */
void	 buf_commit(struct buf *, size_t);		/* after writing n bytes at the tail */
void	 buf_drain(struct buf *, size_t);		/* wipes what it drains */
void	 buf_truncate(struct buf *, size_t);	/* keep only the first n unread bytes */
/* NULL for a queue that never held anything (NULL + 0 is undefined in C). */
static inline uint8_t *buf_head(const struct buf *b)
{
	return b->data == NULL ? NULL : b->data + b->off;
}
static inline size_t buf_used(const struct buf *b) { return b->len; }

/* I/O helpers; both return -1 with errno set on error (EAGAIN included), 0 on EOF
 * for buf_read. */
ssize_t	 buf_read(struct buf *, int fd, size_t max);
ssize_t	 buf_write(struct buf *, int fd);
/* Writes until the queue is empty (BUF_FLUSHED) or the descriptor is full
 * (BUF_BLOCKED: wait for it to be writable); -1 with errno on an error. */
enum { BUF_FLUSHED = 0, BUF_BLOCKED = 1 };
int	 buf_flush(struct buf *, int fd);

void	 wipe(void *, size_t);

#endif
