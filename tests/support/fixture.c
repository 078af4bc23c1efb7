/*
 * Copyright (c) 2026 The ocbroker authors
 * SPDX-License-Identifier: ISC (the licence is in the file LICENSE)
 */

/*
 * One fixture reader for every test: gzread() reads a plain file as it is,
 * so the compressed captures and the plain ones take the same path.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <cmocka.h>
#include <zlib.h>

#include "tests/support/fixture.h"

#define CHUNK	65536

const char *
fx_dir(void)
{
	const char	*d = getenv("OCB_FIXTURES");

	if (d != NULL && *d != '\0')
		return d;
	if (access("tests/fixtures", R_OK | X_OK) == 0)
		return "tests/fixtures";
	return "fixtures";
}

char *
fx_read(const char *name, size_t *lenp)
{
	char	 path[1024], *buf = NULL, *nb;
	size_t	 cap = 0, len = 0;
	gzFile	 f;
	int	 n;

	snprintf(path, sizeof(path), "%s/%s", fx_dir(), name);
	if ((f = gzopen(path, "rb")) == NULL)
		return NULL;
	for (;;) {
		if (cap - len < CHUNK + 1) {
			cap = cap * 2 + CHUNK + 1;
			if ((nb = realloc(buf, cap)) == NULL)
				goto fail;
			buf = nb;
		}
		if ((n = gzread(f, buf + len, CHUNK)) < 0)
			goto fail;
		if (n == 0)
			break;
		len += (size_t)n;
	}
	gzclose(f);
	buf[len] = '\0';
	if (lenp != NULL)
		*lenp = len;
	return buf;
fail:
	gzclose(f);
	free(buf);
	return NULL;
}

void *
fx_load(const char *name, size_t *lenp)
{
	char	*buf;

	if ((buf = fx_read(name, lenp)) == NULL)
		fail_msg("cannot read fixture %s/%s", fx_dir(), name);
	return buf;
}
