/*
 * Copyright (c) 2026 The ocbroker authors
 * SPDX-License-Identifier: ISC (the licence is in the file LICENSE)
 */

/* Sec-WebSocket-Accept (see ws_accept.h). */
#include <stdint.h>

#include "common/base64.h"
#include "common/sha1.h"
#include "common/ws_accept.h"

void
ws_accept_compute(const char *key, size_t key_len,
    char accept[WS_ACCEPT_LEN + 1])
{
	struct sha1_ctx ctx;
	uint8_t digest[SHA1_DIGEST_LENGTH];

	sha1_init(&ctx);
	sha1_update(&ctx, key, key_len);
	sha1_update(&ctx, WS_GUID, sizeof(WS_GUID) - 1);
	sha1_final(&ctx, digest);
	/* Cannot fail: 20 bytes always encode to 28 characters. */
	(void)base64_encode(digest, sizeof(digest), accept, WS_ACCEPT_LEN + 1);
}
