/*
 * Copyright (c) 2026 The ocbroker authors
 * SPDX-License-Identifier: ISC (the licence is in the file LICENSE)
 */

/* Byte queues that wipe what they release; see buf.h. */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/buf.h"

#define BUF_MIN_CAP	4096

void
wipe(void *p, size_t n)
{
	if (p == NULL || n == 0)
		return;
#ifdef HAVE_EXPLICIT_BZERO
	explicit_bzero(p, n);
#else
	volatile unsigned char *v = p;
	while (n--)
		*v++ = 0;
#endif
}

static void *
mem_alloc(const struct buf *b, size_t n)
{
	return b->mem == NULL ? malloc(n) : b->mem->alloc(n, b->mem->arg);
}

/* Wipes the whole block, then releases it. */
static void
mem_release(const struct buf *b, uint8_t *p, size_t cap)
{
	wipe(p, cap);
	if (b->mem == NULL)
		free(p);
	else
		b->mem->free(p, b->mem->arg);
}

void
buf_init(struct buf *b)
{
	memset(b, 0, sizeof(*b));
}

void
buf_set_mem(struct buf *b, const struct buf_mem *mem)
{
	b->mem = mem;
}

void
buf_free(struct buf *b)
{
	const struct buf_mem *mem = b->mem;

	if (b->data != NULL)
		mem_release(b, b->data, b->cap);
	memset(b, 0, sizeof(*b));
	b->mem = mem;
}

int
buf_reserve(struct buf *b, size_t n)
{
	size_t need, ncap;
	uint8_t *nd;

	if (b->cap - b->off - b->len >= n)
		return 0;
	/*
	 * Compact when that alone makes room and moves no more bytes than it
	 * frees: each byte then moves at most once for every byte drained
	 * ahead of it.  A long backlog with little drained grows instead (a
	 * queue that is written as fast as it is read would otherwise move
	 * its whole backlog for every few bytes it frees).
	 */
	if (b->off > 0 && b->off >= b->len && b->cap - b->len >= n) {
		b->moved += b->len;
		memmove(b->data, b->data + b->off, b->len);
		/* Wipe what the move left behind beyond the live bytes. */
		wipe(b->data + b->len, b->off);
		b->off = 0;
		return 0;
	}
	if (n > SIZE_MAX / 2 - b->len || b->cap > SIZE_MAX / 4)
		return -1;
	need = b->len + n;
	ncap = b->cap < BUF_MIN_CAP ? BUF_MIN_CAP : b->cap;
	/* At least double: a compaction refused for its cost must not turn
	 * into a copy to a block of the same size. */
	while (ncap < need || ncap == b->cap)
		ncap *= 2;
	/* Not realloc: the old block is wiped before it is released. */
	if ((nd = mem_alloc(b, ncap)) == NULL)
		return -1;
	if (b->data != NULL) {
		memcpy(nd, b->data + b->off, b->len);
		mem_release(b, b->data, b->cap);
	}
	b->data = nd;
	b->cap = ncap;
	b->off = 0;
	return 0;
}

uint8_t *
buf_tail(struct buf *b)
{
	return b->data + b->off + b->len;
}

void
buf_commit(struct buf *b, size_t n)
{
	b->len += n;
}

int
buf_add(struct buf *b, const void *p, size_t n)
{
	if (n == 0)
		return 0;
	if (buf_reserve(b, n) == -1)
		return -1;
	memcpy(buf_tail(b), p, n);
	b->len += n;
	return 0;
}

void
buf_drain(struct buf *b, size_t n)
{
	if (n > b->len)
		n = b->len;
	if (n == 0)
		return;		/* and data may be NULL */
	wipe(b->data + b->off, n);
	b->off += n;
	b->len -= n;
	if (b->len == 0)
		b->off = 0;
}

void
buf_truncate(struct buf *b, size_t n)
{
	if (n >= b->len)
		return;
	wipe(b->data + b->off + n, b->len - n);
	b->len = n;
}

ssize_t
buf_read(struct buf *b, int fd, size_t max)
{
	ssize_t n;

	if (buf_reserve(b, max) == -1) {
		errno = ENOMEM;
		return -1;
	}
	n = read(fd, buf_tail(b), max);
	if (n > 0)
		b->len += (size_t)n;
	return n;
}

ssize_t
buf_write(struct buf *b, int fd)
{
	ssize_t n;

	if (b->len == 0)
		return 0;
	n = write(fd, buf_head(b), b->len);
	if (n > 0)
		buf_drain(b, (size_t)n);
	return n;
}

int
buf_flush(struct buf *b, int fd)
{
	while (buf_used(b) > 0) {
		ssize_t n = buf_write(b, fd);

		if (n > 0 || (n == -1 && errno == EINTR))
			continue;
		if (n == -1 && errno == EAGAIN)
			return BUF_BLOCKED;
		if (n == 0)
			errno = EPIPE;
		return -1;
	}
	return BUF_FLUSHED;
}
