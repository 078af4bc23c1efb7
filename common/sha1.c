/*
 * Copyright (c) 2026 The ocbroker authors
 * SPDX-License-Identifier: ISC (the licence is in the file LICENSE)
 */

/* SHA-1 (FIPS 180-4), a straightforward portable implementation. */
#include <string.h>

#include "common/sha1.h"

#define ROL32(x, n)	(((x) << (n)) | ((x) >> (32 - (n))))

static uint32_t
load_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

static void
store_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static void
sha1_block(uint32_t st[5], const uint8_t block[SHA1_BLOCK_LENGTH])
{
	uint32_t w[80], a, b, c, d, e, f, k, t;
	int i;

	for (i = 0; i < 16; i++)
		w[i] = load_be32(block + 4 * i);
	for (; i < 80; i++)
		w[i] = ROL32(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1);

	a = st[0];
	b = st[1];
	c = st[2];
	d = st[3];
	e = st[4];
	for (i = 0; i < 80; i++) {
		if (i < 20) {
			f = (b & c) | (~b & d);
			k = 0x5a827999;
		} else if (i < 40) {
			f = b ^ c ^ d;
			k = 0x6ed9eba1;
		} else if (i < 60) {
			f = (b & c) | (b & d) | (c & d);
			k = 0x8f1bbcdc;
		} else {
			f = b ^ c ^ d;
			k = 0xca62c1d6;
		}
		t = ROL32(a, 5) + f + e + k + w[i];
		e = d;
		d = c;
		c = ROL32(b, 30);
		b = a;
		a = t;
	}
	st[0] += a;
	st[1] += b;
	st[2] += c;
	st[3] += d;
	st[4] += e;
}

void
sha1_init(struct sha1_ctx *ctx)
{
	memset(ctx, 0, sizeof(*ctx));
	ctx->state[0] = 0x67452301;
	ctx->state[1] = 0xefcdab89;
	ctx->state[2] = 0x98badcfe;
	ctx->state[3] = 0x10325476;
	ctx->state[4] = 0xc3d2e1f0;
}

void
sha1_update(struct sha1_ctx *ctx, const void *data, size_t len)
{
	const uint8_t *p = data;
	size_t have, n;

	if (len == 0)
		return;
	have = (size_t)(ctx->count % SHA1_BLOCK_LENGTH);
	ctx->count += len;
	if (have > 0) {
		n = SHA1_BLOCK_LENGTH - have;
		if (n > len)
			n = len;
		memcpy(ctx->buf + have, p, n);
		p += n;
		len -= n;
		if (have + n < SHA1_BLOCK_LENGTH)
			return;
		sha1_block(ctx->state, ctx->buf);
	}
	while (len >= SHA1_BLOCK_LENGTH) {
		sha1_block(ctx->state, p);
		p += SHA1_BLOCK_LENGTH;
		len -= SHA1_BLOCK_LENGTH;
	}
	if (len > 0)
		memcpy(ctx->buf, p, len);
}

void
sha1_final(struct sha1_ctx *ctx, uint8_t digest[SHA1_DIGEST_LENGTH])
{
	uint64_t bits = ctx->count * 8;
	size_t have = (size_t)(ctx->count % SHA1_BLOCK_LENGTH);
	int i;

	/* Pad: 0x80, zeros, then the 64-bit big-endian bit length. */
	ctx->buf[have++] = 0x80;
	if (have > SHA1_BLOCK_LENGTH - 8) {
		memset(ctx->buf + have, 0, SHA1_BLOCK_LENGTH - have);
		sha1_block(ctx->state, ctx->buf);
		have = 0;
	}
	memset(ctx->buf + have, 0, SHA1_BLOCK_LENGTH - 8 - have);
	store_be32(ctx->buf + 56, (uint32_t)(bits >> 32));
	store_be32(ctx->buf + 60, (uint32_t)bits);
	sha1_block(ctx->state, ctx->buf);

	for (i = 0; i < 5; i++)
		store_be32(digest + 4 * i, ctx->state[i]);
	memset(ctx, 0, sizeof(*ctx));
}

void
sha1(const void *data, size_t len, uint8_t digest[SHA1_DIGEST_LENGTH])
{
	struct sha1_ctx ctx;

	sha1_init(&ctx);
	sha1_update(&ctx, data, len);
	sha1_final(&ctx, digest);
}
