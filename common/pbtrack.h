/*
 * Copyright (c) 2026 The ocbroker authors
 * SPDX-License-Identifier: ISC (the licence is in the file LICENSE)
 */

/*
 * A protobuf-c allocator that remembers whether an allocation failed.
 * protobuf-c's unpack returns NULL both for bytes that do not decode and for
 * a failed allocation; out of memory is never a protocol violation, so the
 * callers must tell the two apart.
 */
#ifndef OCB_PBTRACK_H
#define OCB_PBTRACK_H

#include <protobuf-c/protobuf-c.h>

struct pb_track {
	ProtobufCAllocator	 a;		/* give &t.a to protobuf-c */
	ProtobufCAllocator	*inner;		/* NULL: malloc(3)/free(3) */
	int			 failed;	/* an allocation returned NULL */
};

/* With inner NULL the blocks are plain malloc(3) ones: what protobuf-c's
 * default allocator (a NULL allocator argument) frees. */
void	pb_track_init(struct pb_track *, ProtobufCAllocator *inner);

#endif
