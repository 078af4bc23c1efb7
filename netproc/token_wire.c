/*
 * Copyright (c) 2026 The ocbroker authors
 * SPDX-License-Identifier: ISC (the licence is in the file LICENSE)
 */

/* ServerMessage{token} by hand; see token_wire.h. */
#include "config.h"

#include <string.h>

#include "netproc/token_wire.h"
#include "common/varint.h"

/* ServerMessage.token is field 200, length-delimited: tag 200 << 3 | 2. */
#define TAG_TOKEN	(200u << 3 | 2u)
#define WIRE_LEN	2u	/* length-delimited wire type */

/* The token's string fields, numbered 1 to 5 as in messages.proto. */
static void
fields(const Opencode__ChatToken *tk, const char *f[5])
{
	f[0] = tk->session_id;
	f[1] = tk->message_id;
	f[2] = tk->part_id;
	f[3] = tk->delta;
	f[4] = tk->kind;
}

/* The ChatToken's own bytes: a string field each, none when empty. */
static size_t
body_size(const char *const f[5], size_t len[5])
{
	size_t n = 0;

	for (int i = 0; i < 5; i++) {
		len[i] = f[i] != NULL ? strlen(f[i]) : 0;
		n += bytes_field_len(len[i]);
	}
	return n;
}

size_t
token_wire_pack(const Opencode__ChatToken *tk, uint8_t *out, size_t cap)
{
	const char *f[5];
	size_t len[5], body, size;
	uint8_t *p = out;

	fields(tk, f);
	body = body_size(f, len);
	size = varint_len(TAG_TOKEN) + varint_len(body) + body;
	if (size > cap)
		return size;
	p = put_varint(p, TAG_TOKEN);
	p = put_varint(p, body);
	for (int i = 0; i < 5; i++)
		p = put_bytes_field(p, (uint8_t)((unsigned)(i + 1) << 3 |
		    WIRE_LEN), f[i], len[i]);
	return size;
}
