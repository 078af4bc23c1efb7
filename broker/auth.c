/*
 * Copyright (c) 2026 The ocbroker authors
 * SPDX-License-Identifier: ISC (the licence is in the file LICENSE)
 */

/* The auth handshake decision; see auth.h. */
#include "config.h"

#include <string.h>

#include "broker/auth.h"
#include "common/token.h"

#define TAG_REQUEST_ID		0x08	/* field 1, varint */
#define TAG_AUTH_HANDSHAKE	0x52	/* field 10, length-delimited */
#define VARINT_MAX		10

int
auth_first_field(const uint8_t *p, size_t len, uint64_t *request_id)
{
	uint64_t v = 0;
	size_t off = 0, i;

	*request_id = 0;
	if (len > AUTH_MAX_MESSAGE)
		return -1;
	if (len > 0 && p[0] == TAG_REQUEST_ID) {
		off = 1;
		for (i = 0; i < VARINT_MAX && off < len; i++) {
			v |= (uint64_t)(p[off] & 0x7f) << (7 * i);
			if ((p[off++] & 0x80) == 0)
				break;
		}
		if (i == VARINT_MAX || (p[off - 1] & 0x80) != 0)
			return -1;
		*request_id = v;
	}
	return off < len && p[off] == TAG_AUTH_HANDSHAKE ? 0 : -1;
}

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
