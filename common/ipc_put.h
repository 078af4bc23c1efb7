/*
 * Copyright (c) 2026 The ocbroker authors
 * SPDX-License-Identifier: ISC (the licence is in the file LICENSE)
 */

/*
 * The writing side of ipc_view.h: the Reply and Event frames netproc sends
 * by the thousand, written without protobuf-c's descriptors (its size and
 * pack walked the Frame's seven bodies for each token).  The bytes are
 * those ocb__ipc__frame__pack() writes for the same frame, behind the same
 * 4-byte length (test_ipc compares the two); the server message is copied
 * once, into the queue.  No I/O.
 */
#ifndef OCB_IPC_PUT_H
#define OCB_IPC_PUT_H

#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"

/* 0, or -1 with errno EMSGSIZE (over IPC_MAX_FRAME: nothing is queued) or
 * ENOMEM. */
int	ipc_put_reply(struct buf *out, uint64_t conn_id, uint64_t request_id,
	    const uint8_t *msg, size_t len);
int	ipc_put_event(struct buf *out, const char *session_id,
	    const uint8_t *msg, size_t len);

#endif
