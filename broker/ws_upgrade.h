/*
 * Copyright (c) 2026 The ocbroker authors
 * SPDX-License-Identifier: ISC (the licence is in the file LICENSE)
 */

/*
 * WebSocket opening-handshake policy (RFC 6455 section 4.2,
 * doc/protocol.md "Opening handshake"): decides the status of a parsed request head and
 * writes the response head.  Pure: no allocation, no I/O, no globals.
 *
 * Order of checks (the first failure wins; the contract fixes the classes,
 * the order inside them is ours):
 *  1. 400 - what is not a well-formed WebSocket upgrade request:
 *     method not exactly "GET" (case-sensitive), version not HTTP/1.1,
 *     Host missing or repeated (HTTP/1.1 requires exactly one), a request
 *     body announced (Transfer-Encoding, or Content-Length other than a
 *     single "0": after the head the bytes are WebSocket frames, so a body
 *     would be ambiguous), Upgrade without the token "websocket",
 *     Connection without the token "upgrade" (both: case-insensitive
 *     comma-separated lists, all field lines of the name taken together),
 *     Sec-WebSocket-Key missing, repeated, or not canonical base64 of
 *     exactly 16 bytes.
 *  2. 404 - target other than exactly "/" (the only resource).
 *  3. 426 - Sec-WebSocket-Version missing, repeated, or not exactly "13".
 *  4. 403 - Host not one of 127.0.0.1:PORT, localhost:PORT, [::1]:PORT
 *     (ASCII case-insensitive, PORT in decimal without leading zeros and
 *     always explicit, even for 80; other spellings of loopback are
 *     refused) - DNS rebinding defence; then more than one Origin, or an
 *     Origin not equal (ASCII case-insensitive) to an allow_origins entry
 *     - cross-site WebSocket hijacking defence.  No Origin is allowed.
 * So a request is told what is malformed before it is told it is not
 * welcome, and the security checks run last on an otherwise valid request.
 *
 * No extension and no subprotocol is ever accepted: the 101 carries neither
 * Sec-WebSocket-Extensions nor Sec-WebSocket-Protocol, whatever was offered.
 */
#ifndef OCB_WS_UPGRADE_H
#define OCB_WS_UPGRADE_H

#include <stddef.h>
#include <stdint.h>

#include "broker/http_head.h"
#include "common/ws_accept.h"

#define WS_UPGRADE_RESPONSE_MAX	256	/* enough for any response head */

struct ws_upgrade_policy {
	uint16_t		 port;		/* the port we listen on */
	const char *const	*allow_origins;
	size_t			 n_allow_origins;
};

struct ws_upgrade_result {
	int		 status;	/* 101, or 400/403/404/426 */
	/* Short static text for the log, never contains request bytes. */
	const char	*reason;
	/* NUL-terminated Sec-WebSocket-Accept when status == 101. */
	char		 accept[WS_ACCEPT_LEN + 1];
};

/* Returns res->status.  res->accept is "" unless status == 101. */
int	ws_upgrade_check(const struct http_head *h,
	    const struct ws_upgrade_policy *pol, struct ws_upgrade_result *res);

/*
 * Writes the complete response head into out, NUL-terminated: 101
 * Switching Protocols with Upgrade: websocket, Connection: Upgrade,
 * Sec-WebSocket-Accept (accept must then be 28 base64 characters); or an
 * error status line with Connection: close, Content-Length: 0.  426 also
 * carries Sec-WebSocket-Version: 13 and, as RFC 9110 section 15.5.22
 * requires, Upgrade: websocket (so its Connection is "close, Upgrade").
 * Known statuses: 101, 400, 403, 404, 426, 431, 500, 503.  Returns the
 * length (without the NUL), or -1 when outlen is too small (it must exceed
 * the length), the status is unknown, or accept is invalid for 101.
 */
int	ws_upgrade_response(int status, const char *accept, char *out,
	    size_t outlen);

#endif
