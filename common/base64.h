/*
 * Copyright (c) 2026 The ocbroker authors
 * SPDX-License-Identifier: ISC (the licence is in the file LICENSE)
 */

/*
 * Strict base64 (RFC 4648 section 4, standard alphabet, padded).  Used for
 * Sec-WebSocket-Key / Sec-WebSocket-Accept, where a lenient decoder would
 * let non-canonical keys through.
 */
#ifndef OCB_BASE64_H
#define OCB_BASE64_H

#include <sys/types.h>

#include <stddef.h>
#include <stdint.h>

/* Length of the encoding of n bytes, without the NUL (n must be sane). */
#define BASE64_ENCODED_LEN(n)	((((n) + 2) / 3) * 4)
/* Upper bound of the decoded length of n base64 characters. */
#define BASE64_DECODED_MAX(n)	(((n) / 4) * 3)

/*
 * Encodes inlen bytes with padding and NUL-terminates out.  Returns the
 * string length, or -1 when out (outlen bytes) cannot hold it and the NUL.
 */
ssize_t	base64_encode(const void *in, size_t inlen, char *out, size_t outlen);

/*
 * Decodes exactly inlen characters.  Rejects (returns -1): a length that is
 * not a multiple of 4, any character outside the standard alphabet (no
 * whitespace, no URL-safe alphabet), padding anywhere but the last one or two
 * characters, non-zero unused bits in the last character (non-canonical
 * encodings), and output that does not fit in outlen.  Returns the number of
 * bytes written to out otherwise.  out may be partly written on failure.
 */
ssize_t	base64_decode(const char *in, size_t inlen, uint8_t *out,
	    size_t outlen);

#endif
