/*
 * Copyright (c) 2026 The ocbroker authors
 * SPDX-License-Identifier: ISC (the licence is in the file LICENSE)
 */

/* The clock, sorting and numeric arguments; see bench_base.h. */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench/bench_base.h"

int64_t
bu_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int
cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

void
bu_sort_i64(int64_t *v, size_t n)
{
	qsort(v, n, sizeof(*v), cmp_i64);
}

long
bu_num_arg(const char *s, long lo, long hi, void (*bad)(void))
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < lo || v > hi)
		bad();
	return v;
}

void *
bu_grow(void *buf, size_t *cap, size_t need)
{
	size_t ncap = *cap > 0 ? *cap : 4096;
	void *nb;

	while (ncap < need)
		ncap *= 2;
	if ((nb = realloc(buf, ncap)) == NULL)
		return NULL;
	*cap = ncap;
	return nb;
}

static void
opt_set(const struct bu_opt *o, char *arg, void (*bad)(void))
{
	switch (o->kind) {
	case BU_STR:
		*(const char **)o->to = arg;
		break;
	case BU_INT:
		*(int *)o->to = (int)bu_num_arg(arg, o->lo, o->hi, bad);
		break;
	case BU_LONG:
		*(long *)o->to = bu_num_arg(arg, o->lo, o->hi, bad);
		break;
	case BU_ULONG:
		*(unsigned long *)o->to = (unsigned long)bu_num_arg(arg, o->lo,
		    o->hi, bad);
		break;
	case BU_SET:
		*(int *)o->to = (int)o->lo;
		break;
	}
}

void
bu_opts(int argc, char *argv[], const struct bu_opt *opts, size_t n,
    void (*bad)(void))
{
	struct option lo[BU_OPTS_MAX + 1];
	char shorts[2 * BU_OPTS_MAX + 1];
	size_t i, nl = 0, ns = 0;
	int ch;

	if (n > BU_OPTS_MAX)
		abort();
	/* A long option's getopt value is 256 + its index: no letter. */
	for (i = 0; i < n; i++) {
		if (opts[i].name[1] == '\0') {
			shorts[ns++] = opts[i].name[0];
			if (opts[i].kind != BU_SET)
				shorts[ns++] = ':';
			continue;
		}
		lo[nl].name = opts[i].name;
		lo[nl].has_arg = opts[i].kind == BU_SET ? no_argument :
		    required_argument;
		lo[nl].flag = NULL;
		lo[nl].val = 256 + (int)i;
		nl++;
	}
	shorts[ns] = '\0';
	memset(&lo[nl], 0, sizeof(lo[nl]));
	while ((ch = getopt_long(argc, argv, shorts, lo, NULL)) != -1) {
		for (i = 0; i < n; i++)
			if (ch == (opts[i].name[1] == '\0' ?
			    (unsigned char)opts[i].name[0] : 256 + (int)i))
				break;
		if (i == n)
			bad();
		opt_set(&opts[i], optarg, bad);
	}
	if (optind != argc)
		bad();
}
