/*
 * Copyright (c) 2026 The ocbroker authors
 * SPDX-License-Identifier: ISC (the licence is in the file LICENSE)
 */

/*
 * SHA-1 (FIPS 180-4).  Only used to compute Sec-WebSocket-Accept (RFC 6455
 * section 4.2.2), where collision resistance is not relied upon.  Do not use
 * it for anything that needs a secure hash.
 */
#ifndef OCB_SHA1_H
#define OCB_SHA1_H

#include <stddef.h>
#include <stdint.h>

#define SHA1_BLOCK_LENGTH	64
#define SHA1_DIGEST_LENGTH	20

struct sha1_ctx {
	uint32_t	state[5];
	uint64_t	count;			/* message length in bytes */
	uint8_t		buf[SHA1_BLOCK_LENGTH];	/* partial block */
};

void	sha1_init(struct sha1_ctx *ctx);
void	sha1_update(struct sha1_ctx *ctx, const void *data, size_t len);
/* Writes the digest and wipes ctx. */
void	sha1_final(struct sha1_ctx *ctx, uint8_t digest[SHA1_DIGEST_LENGTH]);
/* One-shot convenience. */
void	sha1(const void *data, size_t len, uint8_t digest[SHA1_DIGEST_LENGTH]);

#endif
