/*
 * Copyright (c) 2026 The ocbroker authors
 * SPDX-License-Identifier: ISC (the licence is in the file LICENSE)
 */
#ifndef OCB_TESTS_SUPPORT_CASES_H
#define OCB_TESTS_SUPPORT_CASES_H

#include <stddef.h>

/*
 * A row of a table-driven test: an input, and what the test expects of it
 * (the reason it is refused, the output it maps to, a code sequence).  One
 * type for every such table, so that each test says only its rows.
 */
struct str_case {
	const char	*in;
	const char	*want;
};

/* An input and the number the test expects of it (a code, a count). */
struct num_case {
	const char	*in;
	long		 want;
};

#define NCASES(t)	(sizeof(t) / sizeof((t)[0]))

#endif /* OCB_TESTS_SUPPORT_CASES_H */
