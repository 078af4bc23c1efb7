/*
 * Copyright (c) 2026 The ocbroker authors
 * SPDX-License-Identifier: ISC (the licence is in the file LICENSE)
 */

/*
 * The ServerMessage of one ChatToken, written without protobuf-c: the
 * message of every token, thousands a second.  protobuf-c walks the
 * descriptors of all 31 ServerMessage fields twice (size, then pack), which
 * was 37 % of netproc's instructions per delta; this writes the same bytes
 * in one pass over five strings.  The bytes are protobuf-c's exactly
 * (proto3: an empty string is left out, request_id 0 too): test_events and
 * fuzz_sse compare the two encodings.
 */
#ifndef OCB_TOKEN_WIRE_H
#define OCB_TOKEN_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include "proto/messages.pb-c.h"

/*
 * The size of ServerMessage{token: *tk}; when it is at most cap, the bytes
 * are written to out as well (else nothing is written).
 */
size_t	token_wire_pack(const Opencode__ChatToken *tk, uint8_t *out,
	    size_t cap);

#endif
