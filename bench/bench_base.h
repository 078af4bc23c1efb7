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

/*
 * buf (of *cap bytes) grown, doubling from 4096, to hold need bytes; *cap
 * follows.  NULL when out of memory (buf and *cap stay as they were).
 */
void	*bu_grow(void *buf, size_t *cap, size_t need);

/* One option of a program: --name, or -n when the name is one letter. */
enum bu_opt_kind {
	BU_STR,		/* const char *: its argument */
	BU_INT,		/* int: a whole number in [lo, hi] */
	BU_LONG,	/* long: likewise */
	BU_ULONG,	/* unsigned long: likewise */
	BU_SET		/* int: set to lo; it takes no argument */
};
struct bu_opt {
	const char		*name;
	enum bu_opt_kind	 kind;
	void			*to;
	long			 lo, hi;
};
#define BU_OPTS_MAX	16

/*
 * Parses argv by the n options (at most BU_OPTS_MAX) into their variables;
 * an unknown option, a bad number or an operand calls bad (usage()).
 */
void	bu_opts(int argc, char *argv[], const struct bu_opt *opts, size_t n,
	    void (*bad)(void));

#endif
