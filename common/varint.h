/*
 * Copyright (c) 2026 The ocbroker authors
 * SPDX-License-Identifier: ISC (the licence is in the file LICENSE)
 */

/*
 * Protobuf varints, for what is sized or written by hand: netproc's
 * replies (api_chat.c fits a message list to the frame limit, providers.c
 * writes the provider list as it reads it, token_wire.c a delta) and the
 * IPC frames of ipc_put.c.
 */
#ifndef OCB_COMMON_VARINT_H
#define OCB_COMMON_VARINT_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* Bytes of v as a varint. */
static inline size_t
varint_len(uint64_t v)
{
	size_t	n = 1;

	while (v >= 0x80) {
		v >>= 7;
		n++;
	}
	return n;
}

/* Writes v as a varint at p; returns the byte after it. */
static inline uint8_t *
put_varint(uint8_t *p, uint64_t v)
{
	while (v >= 0x80) {
		*p++ = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	*p++ = (uint8_t)v;
	return p;
}

/*
 * A bytes or string field with a one-byte tag, as protobuf-c writes a proto3
 * one: nothing at all when it is empty.  Its size, then the writer, which
 * returns the byte after it.
 */
static inline size_t
bytes_field_len(size_t len)
{
	return len == 0 ? 0 : 1 + varint_len(len) + len;
}

static inline uint8_t *
put_bytes_field(uint8_t *p, uint8_t tag, const void *b, size_t len)
{
	if (len == 0)
		return p;
	*p++ = tag;
	p = put_varint(p, len);
	memcpy(p, b, len);
	return p + len;
}

#endif /* OCB_COMMON_VARINT_H */
