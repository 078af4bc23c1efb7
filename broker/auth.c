/* The auth handshake decision; see auth.h. */
#include "config.h"

#include <string.h>

#include "broker/auth.h"
#include "common/token.h"

enum auth_result
auth_check(const Opencode__ClientMessage *m, const char *token, size_t token_len)
{
	const char *given;

	if (m == NULL ||
	    m->payload_case != OPENCODE__CLIENT_MESSAGE__PAYLOAD_AUTH_HANDSHAKE ||
	    m->auth_handshake == NULL)
		return AUTH_NOT_HANDSHAKE;
	given = m->auth_handshake->token;
	if (given == NULL)
		given = "";
	/* Constant time in the expected token's length. */
	if (!token_equal(token, token_len, given, strlen(given)))
		return AUTH_BAD_TOKEN;
	return AUTH_OK;
}
