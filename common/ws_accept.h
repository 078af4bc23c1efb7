/*
 * Copyright (c) 2026 The ocbroker authors
 * SPDX-License-Identifier: ISC (the licence is in the file LICENSE)
 */

/*
 * The Sec-WebSocket-Accept value (RFC 6455 section 4.2.2 item 5.4): the
 * front computes it for its 101, the client library and the test client
 * compute it to check the server's.  One copy of the GUID for all three.
 */
#ifndef OCB_WS_ACCEPT_H
#define OCB_WS_ACCEPT_H

#include <stddef.h>

#define WS_KEY_DECODED_LEN	16	/* RFC 6455: the nonce is 16 bytes */
#define WS_KEY_LEN		24	/* base64 of the nonce */
#define WS_ACCEPT_LEN		28	/* base64 of a SHA-1 digest */

/* RFC 6455 section 1.3. */
#define WS_GUID			"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

/*
 * Computes Sec-WebSocket-Accept for key (key_len bytes, as sent) into
 * accept (NUL-terminated).  Does not validate the key.
 */
void	ws_accept_compute(const char *key, size_t key_len,
	    char accept[WS_ACCEPT_LEN + 1]);

#endif
