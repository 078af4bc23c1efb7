/*
 * Copyright (c) 2026 The ocbroker authors
 * SPDX-License-Identifier: ISC (the licence is in the file LICENSE)
 */

/*
 * A protobuf-c allocator that wipes every block when it is freed.  Unpacked
 * client messages hold the auth token or API keys, and protobuf-c's own
 * free_unpacked hands the memory back to malloc as it is.
 */
#ifndef OCB_PBALLOC_H
#define OCB_PBALLOC_H

#include <protobuf-c/protobuf-c.h>

/*
 * Its allocator_data is NULL: blocks come from malloc(3).  A copy whose
 * allocator_data points at a struct buf_mem (buf.h) takes them from there
 * instead: how a test checks that every block is wiped when freed.
 */
ProtobufCAllocator	*pb_wiping_allocator(void);

#endif
