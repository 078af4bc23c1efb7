/*
 * Copyright (c) 2026 The ocbroker authors
 * SPDX-License-Identifier: ISC (the licence is in the file LICENSE)
 */
#ifndef OCB_TESTS_FUZZ_PLAN_H
#define OCB_TESTS_FUZZ_PLAN_H

#include <stddef.h>
#include <stdint.h>

/*
 * The input of a fuzz target that feeds a parser in chunks: byte 0 says
 * how many plan bytes (chunk sizes, as the target reads them) follow it,
 * and the rest is the body that is fed.
 */
struct fuzz_plan {
	const uint8_t	*plan;
	size_t		 nplan;
	const uint8_t	*body;
	size_t		 len;
};

/*
 * Splits data, of size bytes, of which byte 0 gave nplan (the caller's
 * reading of it): 0, or -1 when the input is too short for its plan.
 */
static inline int
fuzz_plan_split(const uint8_t *data, size_t size, size_t nplan,
    struct fuzz_plan *fp)
{
	if (size < 1 || size - 1 < nplan)
		return -1;
	fp->plan = data + 1;
	fp->nplan = nplan;
	fp->body = data + 1 + nplan;
	fp->len = size - 1 - nplan;
	return 0;
}

#endif /* OCB_TESTS_FUZZ_PLAN_H */
