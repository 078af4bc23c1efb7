/*
 * The auth handshake rule of DESIGN.md: the first message on a WebSocket must
 * be ClientMessage{auth_handshake} with the right token.  Pure: it decides, the
 * connection code answers.
 */
#ifndef OCB_AUTH_H
#define OCB_AUTH_H

#include <stddef.h>

#include "proto/messages.pb-c.h"

enum auth_result {
	AUTH_OK,		/* AuthHandshakeResponse{success: true} */
	AUTH_BAD_TOKEN,		/* {success: false, error}, close 1008 */
	AUTH_NOT_HANDSHAKE,	/* ErrorResponse{UNAUTHENTICATED}, close 1008 */
};

/* m is NULL when the first message did not decode as a ClientMessage. */
enum auth_result	auth_check(const Opencode__ClientMessage *m,
			    const char *token, size_t token_len);

#endif
