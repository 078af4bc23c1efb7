/*
 * Copyright (c) 2026 The ocbroker authors
 * SPDX-License-Identifier: ISC (the licence is in the file LICENSE)
 */

/* UTF-8 validation (RFC 3629: no overlongs, no surrogates, nothing above U+10FFFF). */
#ifndef OCB_UTF8_H
#define OCB_UTF8_H

#include <stddef.h>
#include <stdint.h>

/* Returns 1 when s[0..len) is valid UTF-8, 0 otherwise. */
int	utf8_valid(const uint8_t *s, size_t len);

/* Encodes code point cp (<= 0x10FFFF, not a surrogate) into out; returns 1..4. */
size_t	utf8_encode(uint32_t cp, uint8_t out[4]);

#endif
