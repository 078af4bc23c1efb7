/*
 * Copyright (c) 2026 The ocbroker authors
 * SPDX-License-Identifier: ISC (the licence is in the file LICENSE)
 */

/* The client auth token: generated from the kernel, compared in constant time. */
#ifndef OCB_TOKEN_H
#define OCB_TOKEN_H

#include <stddef.h>

#define TOKEN_RANDOM_BYTES	32
#define TOKEN_HEX_LEN		(TOKEN_RANDOM_BYTES * 2)
#define TOKEN_MAX_LEN		256	/* a token from --token-fd */
#define TOKEN_MIN_LEN		16

/* Fills buf with n random bytes from the kernel (getentropy in blocks of 256
 * where getrandom is missing), retrying on EINTR; 0 or -1. */
int	token_random(void *buf, size_t n);
/* Fills out with TOKEN_HEX_LEN hex digits and a NUL; 0 or -1. */
int	token_generate(char out[TOKEN_HEX_LEN + 1]);
/* Reads a token of TOKEN_MIN_LEN..TOKEN_MAX_LEN printable, non-space bytes from fd
 * (one trailing newline allowed) and closes fd; returns its length or -1. */
int	token_read_fd(int fd, char out[TOKEN_MAX_LEN + 1]);
/* 1 when equal.  The time taken depends only on the length of `expected`. */
int	token_equal(const void *expected, size_t elen, const void *given, size_t glen);

#endif
