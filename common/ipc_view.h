/*
 * Copyright (c) 2026 The ocbroker authors
 * SPDX-License-Identifier: ISC (the licence is in the file LICENSE)
 */

/*
 * The two frames netproc sends by the thousand, a Reply and an Event, read
 * in place instead of unpacked: the frame handed out points into the bytes
 * it was read from (the server_message above all), so nothing is allocated
 * or copied but a session id, which gets its NUL here.  Only the layout
 * protobuf-c writes is read so: the version, then the body, each field once
 * and in field order, no unknown field, no empty string or bytes written
 * out, minimal varints.  Anything else is left to protobuf-c (-1), so what
 * is read here is what protobuf-c would decode, field for field (test_ipc
 * and fuzz_ipc compare the two).  No I/O; the reader (ipc.c) keeps the
 * bytes until the frame is done with.
 */
#ifndef OCB_IPC_VIEW_H
#define OCB_IPC_VIEW_H

#include <stddef.h>
#include <stdint.h>

#include "proto/ipc.pb-c.h"

#define IPC_VIEW_SID_MAX	255	/* a longer session id is unpacked */

struct ipc_view {
	Ocb__Ipc__Frame	 frame;
	Ocb__Ipc__Reply	 reply;
	Ocb__Ipc__Event	 event;
	char		 sid[IPC_VIEW_SID_MAX + 1];
};

/* 0: v->frame is the frame of p[0..len), pointing into it; -1: not one of
 * these (or not in that layout), nothing to say about its validity. */
int	ipc_view_read(struct ipc_view *v, const uint8_t *p, size_t len);

#endif
