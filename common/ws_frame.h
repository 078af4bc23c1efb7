/*
 * Copyright (c) 2026 The ocbroker authors
 * SPDX-License-Identifier: ISC (the licence is in the file LICENSE)
 */

/*
 * RFC 6455 framing: a pure state machine in the style of wslay.  It is fed
 * bytes and hands back one event at a time; it does no I/O, no logging and
 * keeps no global state, so it can be tested (and fuzzed) with input cut at
 * every possible place.
 *
 * Decisions beyond the RFC's MUSTs (see doc/protocol.md, "Framing"):
 * - Binary messages only: a text frame is refused with 1003 as soon as its
 *   header is seen, before any of its payload is read.
 * - No extension is ever negotiated, so any RSV bit is a protocol error (1002).
 * - Lengths must use the minimal encoding (RFC 6455 5.2 "MUST"): a 16-bit
 *   length below 126 or a 64-bit length below 65536 is refused with 1002, as
 *   is a 64-bit length with its top bit set.
 * - The message limit is checked from each frame header (fragments so far plus
 *   this frame's length) before any payload is buffered: 1009, or the code
 *   given with ws_parser_set_limit() (the front lowers the limit to 1 KiB and
 *   answers 1008 until the peer has authenticated).
 * - At most one pong is pending (RFC 6455 5.5.3): a ping's payload replaces
 *   the one of any earlier ping not yet taken with ws_parser_take_pong(), so
 *   a peer that pings without reading costs 125 bytes, not a queue.
 * - The message buffer grows with the bytes actually received (at most twice
 *   what the peer sent, never more than the limit), so a peer cannot make us
 *   allocate by merely announcing a large frame.  Every buffer that held a
 *   message is wiped before it is reused or freed: messages carry secrets.
 */
#ifndef OCB_WS_FRAME_H
#define OCB_WS_FRAME_H

#include <stddef.h>
#include <stdint.h>

#define WS_MAX_HEADER	14	/* 2 + 8 (length) + 4 (mask) */
#define WS_MAX_CONTROL	125	/* control frame payload limit (RFC 6455 5.5) */
#define WS_BUF_MIN	256	/* first allocation of the message buffer */
#define WS_BUF_KEEP	65536	/* a delivered buffer larger than this is freed */

/* Close codes (RFC 6455 7.4.1): this module's and the front's. */
#define WS_CLOSE_NORMAL		1000
#define WS_CLOSE_GOING_AWAY	1001
#define WS_CLOSE_PROTOCOL	1002
#define WS_CLOSE_UNSUPPORTED	1003
#define WS_CLOSE_NO_STATUS	1005	/* never sent: reported for an empty close */
#define WS_CLOSE_INVALID_DATA	1007
#define WS_CLOSE_POLICY		1008
#define WS_CLOSE_TOO_BIG	1009
#define WS_CLOSE_INTERNAL	1011
#define WS_CLOSE_TRY_AGAIN	1013	/* the front: a slow reader's queue overflowed */

enum ws_opcode {
	WS_OP_CONT = 0x0,
	WS_OP_TEXT = 0x1,
	WS_OP_BINARY = 0x2,
	WS_OP_CLOSE = 0x8,
	WS_OP_PING = 0x9,
	WS_OP_PONG = 0xa
};

/* A server requires masked frames from its peer; a client requires unmasked ones. */
enum ws_role {
	WS_ROLE_SERVER,
	WS_ROLE_CLIENT
};

enum ws_event_type {
	WS_EV_NONE = 0,
	WS_EV_MESSAGE,
	WS_EV_PING,
	WS_EV_PONG,
	WS_EV_CLOSE,
	WS_EV_ERROR
};

struct ws_event {
	enum ws_event_type	 type;
	/*
	 * MESSAGE: the whole reassembled binary message; PING/PONG: the
	 * payload; CLOSE: the reason bytes (valid UTF-8).  Never NULL, even
	 * when len is 0.  Valid until the next ws_parser_feed() or
	 * ws_parser_free().
	 */
	const uint8_t		*data;
	size_t			 len;
	/*
	 * CLOSE: the code received (1005 when the close had no payload).
	 * ERROR: the close code to send (1002, 1003, 1007, 1009 or 1011, or
	 * the code of ws_parser_set_limit() for a message over the limit).
	 */
	uint16_t		 code;
	const char		*reason;	/* ERROR: static text for the log */
};

/* Optional allocator, so that a test can fail the Nth allocation. */
struct ws_mem {
	void	*(*alloc)(size_t, void *);
	void	 (*free)(void *, void *);
	void	*arg;
};

enum ws_parser_state {
	WS_ST_HEADER,		/* collecting a frame header */
	WS_ST_PAYLOAD,		/* collecting the current frame's payload */
	WS_ST_CLOSED,		/* a close was reported: must not be fed */
	WS_ST_FAILED		/* an error was reported: must not be fed */
};

struct ws_parser {
	enum ws_parser_state	 state;
	enum ws_role		 role;
	uint64_t		 max_message;	/* clamped to SIZE_MAX */
	struct ws_mem		 mem;

	/* The frame being read. */
	uint8_t			 hdr[WS_MAX_HEADER];
	size_t			 hdr_len;	/* bytes of hdr received */
	size_t			 hdr_need;	/* 2 until byte 1 is known */
	int			 fin;
	enum ws_opcode		 opcode;
	uint8_t			 mask[4];
	int			 masked;
	uint64_t		 frame_len;
	uint64_t		 frame_got;

	/* The data message being reassembled (grows up to max_message). */
	uint8_t			*msg;
	size_t			 msg_len;
	size_t			 msg_cap;
	int			 in_message;	/* a non-FIN data frame was seen */
	int			 msg_out;	/* handed out: wipe at next feed */

	/* Control frames are small enough to never need an allocation. */
	uint8_t			 ctl[WS_MAX_CONTROL];
	size_t			 ctl_len;
	int			 ctl_out;	/* handed out: wipe at next feed */

	/* The newest ping not yet answered: the one pong owed. */
	uint8_t			 pong[WS_MAX_CONTROL];
	size_t			 pong_len;
	int			 pong_pending;

	uint16_t		 limit_code;	/* close code for max_message */

	/* Repeated if the parser is fed after an error or a close. */
	uint16_t		 err_code;
	const char		*err_reason;
};

void	ws_parser_init(struct ws_parser *, enum ws_role, uint64_t max_message);
/* mem == NULL restores malloc(3)/free(3); call before the first feed. */
void	ws_parser_set_mem(struct ws_parser *, const struct ws_mem *);
/*
 * Changes the message limit and the close code reported for a message over
 * it (WS_CLOSE_TOO_BIG after init).  Call between messages, e.g. after the
 * one that authenticated the peer; a message already started keeps counting
 * its fragments against the new limit.
 */
void	ws_parser_set_limit(struct ws_parser *, uint64_t max_message,
	    uint16_t code);
/*
 * The pong owed, if any: copies the payload of the newest unanswered ping to
 * out, sets *len and returns 1 (the ping is then answered); 0 when no ping is
 * waiting.  Every WS_EV_PING makes one pending, replacing an older one.
 */
int	ws_parser_take_pong(struct ws_parser *, uint8_t out[WS_MAX_CONTROL],
	    size_t *len);
/* Frees and wipes every buffer; the parser must be initialised again before use. */
void	ws_parser_free(struct ws_parser *);
/*
 * Consumes bytes until one event is complete or the data runs out; *consumed
 * is how many bytes it used (the caller calls again with the rest).  Returns
 * the event type, WS_EV_NONE when all the data was consumed without
 * completing an event.  After WS_EV_ERROR or WS_EV_CLOSE the parser must not
 * be fed again; if it is, it consumes nothing and returns WS_EV_ERROR again.
 */
enum ws_event_type ws_parser_feed(struct ws_parser *, const uint8_t *data,
	    size_t len, size_t *consumed, struct ws_event *ev);

/*
 * Encoding.  A FIN frame header, masked when mask != NULL (client role), into
 * out; returns its length.  payload_len must be below 2^63.  The payload is
 * written separately by the caller, so that it is never copied just to frame
 * it; ws_mask() applies a mask in place, offset being the position of buf[0]
 * in the payload.
 */
size_t	ws_frame_header(uint8_t out[WS_MAX_HEADER], enum ws_opcode op,
	    uint64_t payload_len, const uint8_t *mask);
void	ws_mask(uint8_t *buf, size_t len, const uint8_t mask[4], uint64_t offset);
/*
 * A close payload: the 2-byte code and the reason (may be NULL), truncated to
 * fit 125 bytes without cutting a UTF-8 sequence; a reason that is not valid
 * UTF-8 is left out rather than sent.  Returns its length.
 */
size_t	ws_close_payload(uint8_t out[WS_MAX_CONTROL], uint16_t code,
	    const char *reason);
/* May a peer send this code in a close frame (RFC 6455 7.4)? */
int	ws_close_code_valid(uint16_t code);

#endif
