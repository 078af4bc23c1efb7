/*
 * Copyright (c) 2026 The ocbroker authors
 * SPDX-License-Identifier: ISC (the licence is in the file LICENSE)
 */

/*
 * Incremental parser for the HTTP/1.1 request head of a WebSocket opening
 * handshake (RFC 9112 syntax).  Pure: no allocation, no I/O, no globals.
 *
 * Decisions (the design contract is silent on these):
 * - Line endings must be CRLF.  A bare LF or a CR not followed by LF is a
 *   400.  RFC 9112 section 2.2 lets a recipient accept bare LF, but every
 *   WebSocket client sends CRLF, and one strict rule leaves no room for a
 *   proxy and us to disagree about where the head ends.
 * - The request line must be method SP target SP "HTTP/" DIGIT "." DIGIT
 *   CRLF with single spaces; the method must be a token and the target
 *   visible ASCII.  Which method/version/target is acceptable is
 *   ws_upgrade_check's business.  Empty lines before the request line (RFC
 *   9112 section 2.2 SHOULD ignore) are refused: a fresh TCP connection has
 *   no previous message to leave one behind.
 * - Header names must be tokens with the colon right after them; values
 *   may hold HTAB, SP, VCHAR and obs-text (0x80-0xff), no other control
 *   byte (NUL, DEL, ...).  A line starting with SP/HTAB (obs-fold, or
 *   whitespace before the first header) is a 400.
 * - The head is limited to HTTP_HEAD_MAX bytes, the final CRLFCRLF
 *   included.  When the buffer is full and the head is not complete, feed
 *   fails with 431 at once: it never looks at (or buffers) a further byte.
 *   A 65th header line fails with 431 as soon as its first byte arrives.
 * - Errors are detected byte by byte, as early as possible.
 */
#ifndef OCB_HTTP_HEAD_H
#define OCB_HTTP_HEAD_H

#include <stddef.h>
#include <stdint.h>

#define HTTP_HEAD_MAX		8192	/* a longer head is refused with 431 */
#define HTTP_HEAD_MAX_HEADERS	64	/* more header lines than this: 431 */

enum http_head_status {
	HTTP_HEAD_ERROR = -1,
	HTTP_HEAD_INCOMPLETE = 0,
	HTTP_HEAD_DONE = 1
};

/* Points into the parser's buffer; value has surrounding OWS trimmed. */
struct http_header {
	const char	*name;
	size_t		 name_len;
	const char	*value;
	size_t		 value_len;
};

/* None of the strings is NUL-terminated: use the lengths. */
struct http_head {
	const char	*method;
	size_t		 method_len;
	const char	*target;
	size_t		 target_len;
	int		 version_major, version_minor;
	struct http_header headers[HTTP_HEAD_MAX_HEADERS];
	size_t		 nheaders;
};

/*
 * Embed it where it stays put: head points into buf, so the parser must not
 * be moved or copied once fed (until head is no longer needed).
 */
struct http_head_parser {
	char		 buf[HTTP_HEAD_MAX];
	size_t		 len;		/* bytes of buf in use */
	int		 state;		/* internal, see http_head.c */
	size_t		 mark;		/* start of the current token */
	size_t		 name_end;	/* end of the current header name */
	size_t		 value_start;	/* current value, OWS trimmed */
	size_t		 value_end;
	size_t		 vpos;		/* position inside "HTTP/x.y" */

	/* When feed returned HTTP_HEAD_ERROR: */
	int		 error_status;	/* 400 or 431 */
	const char	*error_reason;	/* short static text for the log line */
	struct http_head head;		/* valid after HTTP_HEAD_DONE */
};

void	http_head_init(struct http_head_parser *p);

/*
 * Feeds bytes.  Consumes only up to the end of the head (the blank line);
 * on HTTP_HEAD_DONE *consumed says how many bytes of data belonged to the
 * head: the rest is the start of the WebSocket stream and belongs to the
 * caller.  On HTTP_HEAD_INCOMPLETE *consumed == len; on HTTP_HEAD_ERROR it
 * counts up to and including the offending byte.  Can be fed one byte at a
 * time, and with len == 0.  Must not be fed again after DONE or ERROR (if it
 * is, it returns the same status again with *consumed = 0).  consumed may
 * be NULL.
 */
enum http_head_status http_head_feed(struct http_head_parser *p,
	    const uint8_t *data, size_t len, size_t *consumed);

/*
 * Case-insensitive (ASCII) header lookup; returns the first match or NULL;
 * *count (if non-NULL) = number of occurrences.
 */
const struct http_header *http_head_find(const struct http_head *h,
	    const char *name, size_t *count);

#endif
