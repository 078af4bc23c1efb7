/*
 * Copyright (c) 2026 The ocbroker authors
 * SPDX-License-Identifier: ISC (the licence is in the file LICENSE)
 */

/*
 * A monotonic clock for the tests' deadlines and throughput figures.
 */
#ifndef OCB_TESTS_SUPPORT_CLOCK_H
#define OCB_TESTS_SUPPORT_CLOCK_H

#include <stdint.h>

/* Milliseconds on a monotonic clock. */
int64_t	it_now_ms(void);
/* The same, with the fraction (for rates). */
double	it_now_fms(void);
/* Milliseconds until deadline (an it_now_ms() value), 0 once past it. */
int	it_left_ms(int64_t deadline);

#endif
