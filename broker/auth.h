/*
 * Copyright (c) 2026 The ocbroker authors
 * SPDX-License-Identifier: ISC (the licence is in the file LICENSE)
 */

/*
 * The auth handshake rule (doc/protocol.md, "Auth"): the first message on a WebSocket must
 * be ClientMessage{auth_handshake} with the right token.  Pure: it decides, the
 * connection code answers.
 */
#ifndef OCB_AUTH_H
#define OCB_AUTH_H

#include <stddef.h>
#include <stdint.h>

#include "proto/messages.pb-c.h"

enum auth_result {
	AUTH_OK,		/* AuthHandshakeResponse{success: true} */
	AUTH_BAD_TOKEN,		/* {success: false, error}, close 1008 */
	AUTH_NOT_HANDSHAKE,	/* ErrorResponse{UNAUTHENTICATED}, close 1008 */
};

/*
 * Before auth a message is looked at, not decoded: it must be at most
 * AUTH_MAX_MESSAGE bytes and start with the auth_handshake field (ClientMessage
 * field 10, length-delimited), after an optional request_id (field 1, varint).
 * Returns 0 when it does, -1 when it does not; *request_id is the leading
 * request_id when one could be read (0 otherwise), for the error reply.
 */
#define AUTH_MAX_MESSAGE	1024
int	auth_first_field(const uint8_t *, size_t, uint64_t *request_id);

/* m is NULL when the first message did not decode as a ClientMessage. */
enum auth_result	auth_check(const Opencode__ClientMessage *m,
			    const char *token, size_t token_len);

#endif
