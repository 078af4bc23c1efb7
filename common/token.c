/*
 * Copyright (c) 2026 The ocbroker authors
 * SPDX-License-Identifier: ISC (the licence is in the file LICENSE)
 */

/* Token generation and comparison; see token.h. */
#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>
#ifdef HAVE_GETRANDOM
#include <sys/random.h>
#endif

#include "common/buf.h"
#include "common/token.h"

int
token_random(void *buf, size_t n)
{
	uint8_t *p = buf;
	size_t got = 0;

	while (got < n) {
#ifdef HAVE_GETRANDOM
		ssize_t r = getrandom(p + got, n - got, 0);
#else
		size_t want = n - got > 256 ? 256 : n - got;
		ssize_t r = getentropy(p + got, want) == 0 ? (ssize_t)want : -1;
#endif

		if (r == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		got += (size_t)r;
	}
	return 0;
}

int
token_generate(char out[TOKEN_HEX_LEN + 1])
{
	static const char hex[] = "0123456789abcdef";
	uint8_t raw[TOKEN_RANDOM_BYTES];

	if (token_random(raw, sizeof(raw)) == -1)
		return -1;
	for (size_t i = 0; i < sizeof(raw); i++) {
		out[2 * i] = hex[raw[i] >> 4];
		out[2 * i + 1] = hex[raw[i] & 0xf];
	}
	out[TOKEN_HEX_LEN] = '\0';
	wipe(raw, sizeof(raw));
	return 0;
}

int
token_read_fd(int fd, char out[TOKEN_MAX_LEN + 1])
{
	size_t len = 0;
	int rc = -1;

	for (;;) {
		ssize_t n = read(fd, out + len, TOKEN_MAX_LEN + 1 - len);

		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			goto done;
		if (n == 0)
			break;
		len += (size_t)n;
		if (len > TOKEN_MAX_LEN) {
			/* One trailing newline may take the last byte. */
			if (len == TOKEN_MAX_LEN + 1 && out[TOKEN_MAX_LEN] == '\n')
				break;
			errno = EINVAL;
			goto done;
		}
	}
	if (len > 0 && out[len - 1] == '\n')
		len--;
	if (len > 0 && out[len - 1] == '\r')
		len--;
	if (len < TOKEN_MIN_LEN) {
		errno = EINVAL;
		goto done;
	}
	for (size_t i = 0; i < len; i++)
		if (out[i] <= 0x20 || out[i] >= 0x7f) {
			errno = EINVAL;
			goto done;
		}
	out[len] = '\0';
	rc = (int)len;
done:
	if (rc == -1)
		wipe(out, TOKEN_MAX_LEN + 1);
	close(fd);
	return rc;
}

int
token_equal(const void *expected, size_t elen, const void *given, size_t glen)
{
	const volatile uint8_t *e = expected, *g = given;
	uint8_t diff = (uint8_t)(elen != glen);

	/* Walk the expected length whatever was given, so that neither the
	 * position of the first difference nor a short guess shows in the time. */
	for (size_t i = 0; i < elen; i++)
		diff |= e[i] ^ (i < glen ? g[i] : (uint8_t)~e[i]);
	return diff == 0;
}
