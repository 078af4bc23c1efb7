/*
 * Copyright (c) 2026 The ocbroker authors
 * SPDX-License-Identifier: ISC (the licence is in the file LICENSE)
 */

/*
 * RFC 6455 framing (see ws_frame.h for the decisions).  Nothing here does I/O
 * or logs: errors come back as an event carrying the close code to send and
 * a static reason for the caller's one log line.
 */
#include <stdlib.h>
#include <string.h>

#include "common/ws_frame.h"
#include "common/utf8.h"

#define WS_FIN		0x80
#define WS_RSV		0x70
#define WS_OPMASK	0x0f
#define WS_MASKED	0x80
#define WS_LEN7		0x7f
#define WS_LEN16	126	/* 7-bit length value announcing a 16-bit length */
#define WS_LEN64	127	/* ... and a 64-bit one */

static void	*default_alloc(size_t, void *);
static void	 default_free(void *, void *);
static void	 msg_discard(struct ws_parser *);
static void	 release_delivered(struct ws_parser *);
static int	 msg_reserve(struct ws_parser *, size_t);
static enum ws_event_type fail(struct ws_parser *, struct ws_event *,
		    uint16_t, const char *);
static enum ws_event_type header_start(struct ws_parser *, struct ws_event *);
static enum ws_event_type header_end(struct ws_parser *, struct ws_event *);
static enum ws_event_type frame_end(struct ws_parser *, struct ws_event *);
static void	 mask_copy(uint8_t *, const uint8_t *, size_t, const uint8_t[4],
		    uint64_t);

/* Event data is never NULL, so that callers may memcpy() it unconditionally. */
static const uint8_t empty[1];

static void *
default_alloc(size_t size, void *arg)
{
	(void)arg;
	return malloc(size);
}

static void
default_free(void *ptr, void *arg)
{
	(void)arg;
	free(ptr);
}

void
ws_parser_init(struct ws_parser *p, enum ws_role role, uint64_t max_message)
{
	memset(p, 0, sizeof(*p));
	p->state = WS_ST_HEADER;
	p->role = role;
	/* A message must fit in memory: on 32-bit hosts size_t is the bound. */
	if (max_message > SIZE_MAX)
		max_message = SIZE_MAX;
	p->max_message = max_message;
	p->hdr_need = 2;
	p->limit_code = WS_CLOSE_TOO_BIG;
	ws_parser_set_mem(p, NULL);
}

void
ws_parser_set_limit(struct ws_parser *p, uint64_t max_message, uint16_t code)
{
	if (max_message > SIZE_MAX)
		max_message = SIZE_MAX;
	p->max_message = max_message;
	p->limit_code = code;
}

int
ws_parser_take_pong(struct ws_parser *p, uint8_t out[WS_MAX_CONTROL],
    size_t *len)
{
	if (!p->pong_pending)
		return 0;
	memcpy(out, p->pong, p->pong_len);
	*len = p->pong_len;
	explicit_bzero(p->pong, p->pong_len);
	p->pong_len = 0;
	p->pong_pending = 0;
	return 1;
}

void
ws_parser_set_mem(struct ws_parser *p, const struct ws_mem *mem)
{
	if (mem == NULL) {
		p->mem.alloc = default_alloc;
		p->mem.free = default_free;
		p->mem.arg = NULL;
	} else
		p->mem = *mem;
}

void
ws_parser_free(struct ws_parser *p)
{
	msg_discard(p);
	explicit_bzero(p, sizeof(*p));
	/* A stray feed after this reports an error instead of parsing. */
	p->state = WS_ST_FAILED;
	p->err_code = WS_CLOSE_INTERNAL;
	p->err_reason = "parser used after free";
}

/* Wipes and frees the message buffer, whatever state it is in. */
static void
msg_discard(struct ws_parser *p)
{
	if (p->msg != NULL) {
		explicit_bzero(p->msg, p->msg_cap);
		p->mem.free(p->msg, p->mem.arg);
	}
	p->msg = NULL;
	p->msg_len = p->msg_cap = 0;
	p->msg_out = 0;
	p->in_message = 0;
	explicit_bzero(p->ctl, sizeof(p->ctl));
	p->ctl_len = 0;
	p->ctl_out = 0;
	explicit_bzero(p->pong, sizeof(p->pong));
	p->pong_len = 0;
	p->pong_pending = 0;
}

/*
 * The data of the previous event is no longer needed: wipe it.  A small
 * message buffer is kept for the next message; a large one is freed so that
 * an idle connection does not hold on to max_message bytes.
 */
static void
release_delivered(struct ws_parser *p)
{
	if (p->msg_out) {
		if (p->msg_cap > WS_BUF_KEEP) {
			explicit_bzero(p->msg, p->msg_cap);
			p->mem.free(p->msg, p->mem.arg);
			p->msg = NULL;
			p->msg_cap = 0;
		} else if (p->msg != NULL)
			explicit_bzero(p->msg, p->msg_len);
		p->msg_len = 0;
		p->msg_out = 0;
	}
	if (p->ctl_out) {
		explicit_bzero(p->ctl, p->ctl_len);
		p->ctl_len = 0;
		p->ctl_out = 0;
	}
}

/*
 * Makes room for msg_len + more bytes.  The buffer doubles with the data
 * actually received and never exceeds max_message (checked at the header, so
 * msg_len + more <= max_message), nor the final size of the message when the
 * current frame is its last.  realloc(3) is not used: it could leave a copy
 * of the message behind unwiped.
 */
static int
msg_reserve(struct ws_parser *p, size_t more)
{
	size_t need, cap, final;
	uint8_t *n;

	need = p->msg_len + more;
	if (need <= p->msg_cap)
		return 0;
	cap = p->msg_cap == 0 ? WS_BUF_MIN : p->msg_cap;
	while (cap < need && cap <= SIZE_MAX / 2)
		cap *= 2;
	if (cap < need)
		cap = need;
	if (cap > p->max_message)
		cap = (size_t)p->max_message;
	if (p->fin) {
		final = p->msg_len + (size_t)(p->frame_len - p->frame_got);
		if (cap > final)
			cap = final;
	}
	if ((n = p->mem.alloc(cap, p->mem.arg)) == NULL)
		return -1;
	if (p->msg != NULL) {
		memcpy(n, p->msg, p->msg_len);
		explicit_bzero(p->msg, p->msg_cap);
		p->mem.free(p->msg, p->mem.arg);
	}
	p->msg = n;
	p->msg_cap = cap;
	return 0;
}

static enum ws_event_type
fail(struct ws_parser *p, struct ws_event *ev, uint16_t code,
    const char *reason)
{
	/* The partial message will never be delivered: wipe it now. */
	msg_discard(p);
	p->state = WS_ST_FAILED;
	p->err_code = code;
	p->err_reason = reason;
	ev->type = WS_EV_ERROR;
	ev->code = code;
	ev->reason = reason;
	ev->data = empty;
	ev->len = 0;
	return WS_EV_ERROR;
}

/* The first two bytes are in: everything but the extended length is known. */
static enum ws_event_type
header_start(struct ws_parser *p, struct ws_event *ev)
{
	uint8_t b0 = p->hdr[0], b1 = p->hdr[1];
	unsigned int op = b0 & WS_OPMASK, len7 = b1 & WS_LEN7;
	int control = (op & 0x8) != 0;

	p->fin = (b0 & WS_FIN) != 0;
	p->masked = (b1 & WS_MASKED) != 0;
	if (b0 & WS_RSV)
		return fail(p, ev, WS_CLOSE_PROTOCOL, "reserved bit set");
	switch (op) {
	case WS_OP_CONT:
	case WS_OP_TEXT:
	case WS_OP_BINARY:
	case WS_OP_CLOSE:
	case WS_OP_PING:
	case WS_OP_PONG:
		break;
	default:
		return fail(p, ev, WS_CLOSE_PROTOCOL, "unknown opcode");
	}
	p->opcode = (enum ws_opcode)op;
	if (p->role == WS_ROLE_SERVER && !p->masked)
		return fail(p, ev, WS_CLOSE_PROTOCOL, "unmasked frame from client");
	if (p->role == WS_ROLE_CLIENT && p->masked)
		return fail(p, ev, WS_CLOSE_PROTOCOL, "masked frame from server");
	if (control) {
		if (!p->fin)
			return fail(p, ev, WS_CLOSE_PROTOCOL,
			    "fragmented control frame");
		if (len7 > WS_MAX_CONTROL)
			return fail(p, ev, WS_CLOSE_PROTOCOL,
			    "control frame too long");
		if (op == WS_OP_CLOSE && len7 == 1)
			return fail(p, ev, WS_CLOSE_PROTOCOL,
			    "close payload of one byte");
	} else if (op == WS_OP_CONT) {
		if (!p->in_message)
			return fail(p, ev, WS_CLOSE_PROTOCOL,
			    "continuation without a message");
	} else {
		if (p->in_message)
			return fail(p, ev, WS_CLOSE_PROTOCOL,
			    "data frame inside a fragmented message");
		/* Decided here, so a text payload is never buffered. */
		if (op == WS_OP_TEXT)
			return fail(p, ev, WS_CLOSE_UNSUPPORTED, "text frame");
	}
	p->hdr_need = 2 + (p->masked ? 4 : 0);
	if (len7 == WS_LEN16)
		p->hdr_need += 2;
	else if (len7 == WS_LEN64)
		p->hdr_need += 8;
	return WS_EV_NONE;
}

/* The whole header is in: length checks, then the payload may start. */
static enum ws_event_type
header_end(struct ws_parser *p, struct ws_event *ev)
{
	unsigned int len7 = p->hdr[1] & WS_LEN7;
	size_t off = 2, i;
	uint64_t len;

	if (len7 == WS_LEN16) {
		len = (uint64_t)p->hdr[2] << 8 | p->hdr[3];
		off += 2;
		if (len < WS_LEN16)
			return fail(p, ev, WS_CLOSE_PROTOCOL,
			    "non-minimal 16-bit length");
	} else if (len7 == WS_LEN64) {
		len = 0;
		for (i = 0; i < 8; i++)
			len = len << 8 | p->hdr[2 + i];
		off += 8;
		if (len >> 63)
			return fail(p, ev, WS_CLOSE_PROTOCOL,
			    "64-bit length with top bit set");
		if (len <= 0xffff)
			return fail(p, ev, WS_CLOSE_PROTOCOL,
			    "non-minimal 64-bit length");
	} else
		len = len7;
	if (p->masked)
		memcpy(p->mask, p->hdr + off, 4);
	/* The limit holds for the whole message, checked before buffering. */
	if ((p->opcode & 0x8) == 0 && (p->msg_len > p->max_message ||
	    len > p->max_message - p->msg_len))
		return fail(p, ev, p->limit_code, p->limit_code ==
		    WS_CLOSE_TOO_BIG ? "message too big" :
		    "message over the limit of this state");
	p->frame_len = len;
	p->frame_got = 0;
	p->state = WS_ST_PAYLOAD;
	return WS_EV_NONE;
}

/* The current frame's payload is complete. */
static enum ws_event_type
frame_end(struct ws_parser *p, struct ws_event *ev)
{
	uint16_t code;

	p->state = WS_ST_HEADER;
	p->hdr_len = 0;
	p->hdr_need = 2;
	switch (p->opcode) {
	case WS_OP_PING:
	case WS_OP_PONG:
		if (p->opcode == WS_OP_PING) {
			/* Only the newest ping is answered (RFC 6455 5.5.3). */
			explicit_bzero(p->pong, p->pong_len);
			memcpy(p->pong, p->ctl, p->ctl_len);
			p->pong_len = p->ctl_len;
			p->pong_pending = 1;
		}
		ev->type = p->opcode == WS_OP_PING ? WS_EV_PING : WS_EV_PONG;
		p->ctl_out = 1;
		ev->data = p->ctl;
		ev->len = p->ctl_len;
		return ev->type;
	case WS_OP_CLOSE:
		if (p->ctl_len == 0) {
			code = WS_CLOSE_NO_STATUS;
			ev->data = p->ctl;
			ev->len = 0;
		} else {
			code = (uint16_t)(p->ctl[0] << 8 | p->ctl[1]);
			if (!ws_close_code_valid(code))
				return fail(p, ev, WS_CLOSE_PROTOCOL,
				    "invalid close code");
			if (!utf8_valid(p->ctl + 2, p->ctl_len - 2))
				return fail(p, ev, WS_CLOSE_INVALID_DATA,
				    "close reason not UTF-8");
			ev->data = p->ctl + 2;
			ev->len = p->ctl_len - 2;
		}
		/* Nothing may follow a close; a partial message is dropped
		 * and a pong still owed is not sent. */
		p->in_message = 0;
		explicit_bzero(p->pong, sizeof(p->pong));
		p->pong_len = 0;
		p->pong_pending = 0;
		if (p->msg != NULL) {
			explicit_bzero(p->msg, p->msg_cap);
			p->mem.free(p->msg, p->mem.arg);
			p->msg = NULL;
			p->msg_len = p->msg_cap = 0;
		}
		p->state = WS_ST_CLOSED;
		p->err_code = WS_CLOSE_PROTOCOL;
		p->err_reason = "data after close";
		ev->type = WS_EV_CLOSE;
		ev->code = code;
		return WS_EV_CLOSE;
	default:	/* WS_OP_BINARY, WS_OP_CONT: text never gets here */
		if (!p->fin) {
			p->in_message = 1;
			return WS_EV_NONE;
		}
		p->in_message = 0;
		p->msg_out = 1;
		ev->type = WS_EV_MESSAGE;
		ev->data = p->msg != NULL ? p->msg : empty;
		ev->len = p->msg_len;
		return WS_EV_MESSAGE;
	}
}

enum ws_event_type
ws_parser_feed(struct ws_parser *p, const uint8_t *data, size_t len,
    size_t *consumed, struct ws_event *ev)
{
	size_t off = 0, n;
	uint64_t left;
	enum ws_event_type t;

	memset(ev, 0, sizeof(*ev));
	*consumed = 0;
	if (p->state == WS_ST_CLOSED || p->state == WS_ST_FAILED) {
		ev->type = WS_EV_ERROR;
		ev->code = p->err_code;
		ev->reason = p->err_reason;
		ev->data = empty;
		return WS_EV_ERROR;
	}
	release_delivered(p);

	for (;;) {
		if (p->state == WS_ST_HEADER) {
			if (off == len)
				break;
			n = p->hdr_need - p->hdr_len;
			if (n > len - off)
				n = len - off;
			memcpy(p->hdr + p->hdr_len, data + off, n);
			p->hdr_len += n;
			off += n;
			if (p->hdr_len < p->hdr_need)
				continue;
			if (p->hdr_len == 2) {
				if ((t = header_start(p, ev)) != WS_EV_NONE)
					goto out;
				if (p->hdr_need > 2)
					continue;
			}
			if ((t = header_end(p, ev)) != WS_EV_NONE)
				goto out;
		}

		/* WS_ST_PAYLOAD; a zero-length frame ends without data. */
		left = p->frame_len - p->frame_got;
		n = len - off;
		if (n > left)
			n = (size_t)left;
		if (n > 0) {
			uint8_t *dst;

			if (p->opcode & 0x8)
				dst = p->ctl + p->ctl_len;
			else {
				if (msg_reserve(p, n) == -1) {
					t = fail(p, ev, WS_CLOSE_INTERNAL,
					    "out of memory");
					goto out;
				}
				dst = p->msg + p->msg_len;
			}
			/* Unmasked straight into place: no masked copy is kept. */
			if (p->masked)
				mask_copy(dst, data + off, n, p->mask,
				    p->frame_got);
			else
				memcpy(dst, data + off, n);
			if (p->opcode & 0x8)
				p->ctl_len += n;
			else
				p->msg_len += n;
			p->frame_got += n;
			off += n;
		}
		if (p->frame_got < p->frame_len)
			break;
		if ((t = frame_end(p, ev)) != WS_EV_NONE)
			goto out;
	}
	t = WS_EV_NONE;
 out:
	*consumed = off;
	return t;
}

size_t
ws_frame_header(uint8_t out[WS_MAX_HEADER], enum ws_opcode op,
    uint64_t payload_len, const uint8_t *mask)
{
	size_t n = 2, i;
	uint8_t mbit = mask != NULL ? WS_MASKED : 0;

	out[0] = WS_FIN | ((uint8_t)op & WS_OPMASK);
	if (payload_len < WS_LEN16)
		out[1] = mbit | (uint8_t)payload_len;
	else if (payload_len <= 0xffff) {
		out[1] = mbit | WS_LEN16;
		out[2] = (uint8_t)(payload_len >> 8);
		out[3] = (uint8_t)payload_len;
		n = 4;
	} else {
		out[1] = mbit | WS_LEN64;
		for (i = 0; i < 8; i++)
			out[2 + i] = (uint8_t)(payload_len >> (56 - 8 * i));
		n = 10;
	}
	if (mask != NULL) {
		memcpy(out + n, mask, 4);
		n += 4;
	}
	return n;
}

/*
 * dst[i] = src[i] ^ mask[(offset + i) % 4]; dst may equal src.  Eight bytes
 * at a time: a 1 MiB message is unmasked on every receive.
 */
static void
mask_copy(uint8_t *dst, const uint8_t *src, size_t len, const uint8_t mask[4],
    uint64_t offset)
{
	uint8_t m[8];
	uint64_t w, mw;
	size_t i = 0, k;

	for (k = 0; k < 8; k++)
		m[k] = mask[(offset + k) & 3];
	memcpy(&mw, m, sizeof(mw));
	for (; len - i >= 8; i += 8) {
		memcpy(&w, src + i, sizeof(w));
		w ^= mw;
		memcpy(dst + i, &w, sizeof(w));
	}
	for (; i < len; i++)
		dst[i] = src[i] ^ m[i & 7];
}

void
ws_mask(uint8_t *buf, size_t len, const uint8_t mask[4], uint64_t offset)
{
	mask_copy(buf, buf, len, mask, offset);
}

size_t
ws_close_payload(uint8_t out[WS_MAX_CONTROL], uint16_t code,
    const char *reason)
{
	const size_t room = WS_MAX_CONTROL - 2;
	size_t n = 0;

	out[0] = (uint8_t)(code >> 8);
	out[1] = (uint8_t)code;
	if (reason != NULL) {
		n = strnlen(reason, room + 1);
		if (n > room) {
			/* Back up to the first byte of the cut sequence. */
			n = room;
			while (n > 0 && ((uint8_t)reason[n] & 0xc0) == 0x80)
				n--;
		}
		memcpy(out + 2, reason, n);
		/* The peer fails the connection on a bad reason: send none. */
		if (!utf8_valid(out + 2, n)) {
			explicit_bzero(out + 2, n);
			n = 0;
		}
	}
	return 2 + n;
}

int
ws_close_code_valid(uint16_t code)
{
	if (code >= 1000 && code <= 1003)
		return 1;
	if (code >= 1007 && code <= 1014)
		return 1;
	return code >= 3000 && code <= 4999;
}
