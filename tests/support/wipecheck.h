/*
 * Copyright (c) 2026 The ocbroker authors
 * SPDX-License-Identifier: ISC (the licence is in the file LICENSE)
 */

/*
 * A struct buf_mem for tests of code that must wipe what it frees: every
 * block handed back to it must be all zero bytes, or it counts the block as
 * unwiped.  Blocks carry their size in front, so any user (buf, pballoc,
 * the framer) can be checked.
 */
#ifndef OCB_TESTS_SUPPORT_WIPECHECK_H
#define OCB_TESTS_SUPPORT_WIPECHECK_H

#include <stddef.h>

#include "common/buf.h"

struct wipecheck {
	struct buf_mem	mem;		/* &wc.mem: for the code under test */
	size_t		allocs;
	size_t		frees;
	size_t		unwiped;	/* blocks freed with a non-zero byte */
	size_t		fail_at;	/* fail allocation N (from 1); 0 never */
};

void	wipecheck_init(struct wipecheck *);
/* Fails the running test unless every block was freed, and freed zeroed. */
void	wipecheck_assert_clean(const struct wipecheck *);

#endif
