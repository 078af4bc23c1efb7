/*
 * Copyright (c) 2026 The ocbroker authors
 * SPDX-License-Identifier: ISC (the licence is in the file LICENSE)
 */

/*
 * What every benchmark program uses, with no dependency of its own (the
 * in-process ones and flood_upstream link this, not bench_util.c): the
 * clock, sorting samples and numeric command-line arguments.
 */
#ifndef OCB_BENCH_BASE_H
#define OCB_BENCH_BASE_H

#include <stddef.h>
#include <stdint.h>

/* CLOCK_MONOTONIC in nanoseconds. */
int64_t	bu_now_ns(void);

/* Sorts n samples in ascending order. */
void	bu_sort_i64(int64_t *v, size_t n);

/*
 * A whole decimal number in [lo, hi]; anything else calls bad (the
 * program's usage(), which does not return).
 */
long	bu_num_arg(const char *s, long lo, long hi, void (*bad)(void));

#endif
