/*
 * Copyright (c) 2026 The ocbroker authors
 * SPDX-License-Identifier: ISC (the licence is in the file LICENSE)
 */

/*
 * ErrorResponse.code: the contract's closed set, spelled once for every
 * process (doc/protocol.md says when each is used).
 */
#ifndef OCB_ERRCODE_H
#define OCB_ERRCODE_H

#define ERR_UNAUTHENTICATED		"UNAUTHENTICATED"
#define ERR_BAD_MESSAGE			"BAD_MESSAGE"
#define ERR_UNKNOWN_REQUEST		"UNKNOWN_REQUEST"
#define ERR_INVALID_REQUEST		"INVALID_REQUEST"
#define ERR_NOT_FOUND			"NOT_FOUND"
#define ERR_UPSTREAM_UNAVAILABLE	"UPSTREAM_UNAVAILABLE"
#define ERR_UPSTREAM_TIMEOUT		"UPSTREAM_TIMEOUT"
#define ERR_UPSTREAM_ERROR		"UPSTREAM_ERROR"
#define ERR_PARSE_ERROR			"PARSE_ERROR"
#define ERR_TOO_MANY_REQUESTS		"TOO_MANY_REQUESTS"
#define ERR_INTERNAL			"INTERNAL"

#endif
