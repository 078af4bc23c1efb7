/*
 * Copyright (c) 2026 The ocbroker authors
 * SPDX-License-Identifier: ISC (the licence is in the file LICENSE)
 */

/*
 * The captured fixtures (tests/fixtures), for the cmocka tests: where they
 * are and one reader for all of them, plain or gzip-compressed.
 */
#ifndef OCB_TESTS_SUPPORT_FIXTURE_H
#define OCB_TESTS_SUPPORT_FIXTURE_H

#include <stddef.h>

/* $OCB_FIXTURES, else tests/fixtures or fixtures, whichever exists. */
const char	*fx_dir(void);

/*
 * The whole file name under fx_dir(), uncompressed when it is gzip; NUL
 * after the last byte, malloc'd; *lenp (may be NULL) its length.  NULL when
 * it cannot be read.
 */
char	*fx_read(const char *name, size_t *lenp);

/* fx_read() that fails the running test when the file cannot be read. */
void	*fx_load(const char *name, size_t *lenp);

#endif
