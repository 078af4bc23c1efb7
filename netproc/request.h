/*
 * Copyright (c) 2026 The ocbroker authors
 * SPDX-License-Identifier: ISC (the licence is in the file LICENSE)
 */

/*
 * One request from the front, up to the upstream call: decoded with an
 * allocator that tells out of memory from malformed bytes, built into an
 * api_call, or answered at once.  Out of memory is never a protocol
 * violation: it costs that request an INTERNAL with its own id, nothing
 * more.  Pure: no I/O, no logging.
 */
#ifndef OCB_NETPROC_REQUEST_H
#define OCB_NETPROC_REQUEST_H

#include <stdint.h>

#include <protobuf-c/protobuf-c.h>

#include "netproc/api.h"
#include "proto/ipc.pb-c.h"

enum request_result {
	REQUEST_SUBMIT,		/* *callp is the upstream call to make */
	REQUEST_ANSWER,		/* answer holds the reply (an ErrorResponse) */
	REQUEST_MALFORMED	/* the front's bug: it decoded this already */
};

struct request_answer {
	uint8_t		 msg[API_ERRPACK_MAX];
	size_t		 len;
	int		 nomem;		/* the answer is INTERNAL: out of memory */
	struct api_error err;		/* why, for the log */
};

/*
 * pa: the allocator the ClientMessage is decoded with (its failures are
 * watched).  On REQUEST_SUBMIT the call (calloc'd, request_id and
 * max_reply set) is the caller's.
 */
enum request_result request_prepare(const Ocb__Ipc__Request *,
	    ProtobufCAllocator *pa, size_t max_reply, struct api_call **callp,
	    struct request_answer *);

/* answer = INTERNAL "out of memory" for request_id; no allocation. */
void	request_nomem(uint64_t request_id, struct request_answer *);

#endif
