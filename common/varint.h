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

#endif /* OCB_COMMON_VARINT_H */
