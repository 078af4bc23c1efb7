/*
 * Copyright (c) 2026 The ocbroker authors
 * SPDX-License-Identifier: ISC (the licence is in the file LICENSE)
 */

/* Strict base64 encode/decode (RFC 4648, standard alphabet, padded). */
#include <limits.h>
#include <stdint.h>

#include "common/base64.h"

static const char b64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* Returns the 6-bit value of c, or -1 when c is not in the alphabet. */
static int
b64_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

ssize_t
base64_encode(const void *in, size_t inlen, char *out, size_t outlen)
{
	const uint8_t *p = in;
	size_t need, i, o = 0;
	uint32_t v;

	/* Refuse lengths whose encoding would overflow size_t/ssize_t. */
	if (inlen > ((size_t)SSIZE_MAX - 1) / 4 * 3 - 2)
		return -1;
	need = BASE64_ENCODED_LEN(inlen);
	if (outlen < need + 1)
		return -1;

	for (i = 0; i + 3 <= inlen; i += 3) {
		v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
		out[o++] = b64_alphabet[(v >> 18) & 0x3f];
		out[o++] = b64_alphabet[(v >> 12) & 0x3f];
		out[o++] = b64_alphabet[(v >> 6) & 0x3f];
		out[o++] = b64_alphabet[v & 0x3f];
	}
	if (inlen - i == 1) {
		v = (uint32_t)p[i] << 16;
		out[o++] = b64_alphabet[(v >> 18) & 0x3f];
		out[o++] = b64_alphabet[(v >> 12) & 0x3f];
		out[o++] = '=';
		out[o++] = '=';
	} else if (inlen - i == 2) {
		v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8;
		out[o++] = b64_alphabet[(v >> 18) & 0x3f];
		out[o++] = b64_alphabet[(v >> 12) & 0x3f];
		out[o++] = b64_alphabet[(v >> 6) & 0x3f];
		out[o++] = '=';
	}
	out[o] = '\0';
	return (ssize_t)o;
}

ssize_t
base64_decode(const char *in, size_t inlen, uint8_t *out, size_t outlen)
{
	size_t i, o = 0, npad;
	int a, b, c, d;
	uint32_t v;

	if (inlen % 4 != 0 || inlen / 4 > (size_t)SSIZE_MAX / 3)
		return -1;
	for (i = 0; i < inlen; i += 4) {
		const unsigned char *q = (const unsigned char *)in + i;

		a = b64_value(q[0]);
		b = b64_value(q[1]);
		if (a < 0 || b < 0)
			return -1;
		npad = 0;
		if (i + 4 == inlen && q[3] == '=') {
			npad = 1;
			if (q[2] == '=')
				npad = 2;
		}
		c = npad >= 2 ? 0 : b64_value(q[2]);
		d = npad >= 1 ? 0 : b64_value(q[3]);
		if (c < 0 || d < 0)
			return -1;
		v = (uint32_t)a << 18 | (uint32_t)b << 12 | (uint32_t)c << 6 |
		    (uint32_t)d;
		/* The bits the padding stands for must be zero (canonical). */
		if ((npad == 1 && (v & 0xff) != 0) ||
		    (npad == 2 && (v & 0xffff) != 0))
			return -1;
		if (outlen - o < 3 - npad)
			return -1;
		out[o++] = (uint8_t)(v >> 16);
		if (npad < 2)
			out[o++] = (uint8_t)(v >> 8);
		if (npad < 1)
			out[o++] = (uint8_t)v;
	}
	return (ssize_t)o;
}
