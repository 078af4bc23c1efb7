/*
 * Copyright (c) 2026 The ocbroker authors
 * SPDX-License-Identifier: ISC (the licence is in the file LICENSE)
 */

/* Reply and Event frames written by hand; see ipc_put.h. */
#include "config.h"

#include <errno.h>
#include <string.h>

#include "common/ipc.h"
#include "common/ipc_put.h"
#include "common/varint.h"

/* Field tags: (number << 3) | wire type (0 varint, 2 length-delimited). */
#define TAG_VERSION		0x08	/* Frame.version = 1 */
#define TAG_REPLY		0x22	/* Frame.reply = 4 */
#define TAG_EVENT		0x32	/* Frame.event = 6 */
#define TAG_REPLY_CONN		0x08	/* Reply.conn_id = 1 */
#define TAG_REPLY_REQUEST	0x10	/* Reply.request_id = 2 */
#define TAG_REPLY_MESSAGE	0x1a	/* Reply.server_message = 3 */
#define TAG_EVENT_MESSAGE	0x0a	/* Event.server_message = 1 */
#define TAG_EVENT_SESSION	0x12	/* Event.session_id = 2 */

/* A varint field; proto3 writes none for 0. */
static size_t
varint_field_len(uint64_t v)
{
	return v == 0 ? 0 : 1 + varint_len(v);
}

static uint8_t *
put_varint_field(uint8_t *p, uint8_t tag, uint64_t v)
{
	if (v == 0)
		return p;
	*p++ = tag;
	return put_varint(p, v);
}

/*
 * Reserves the frame of a body of body_len bytes (tag body_tag): writes
 * the length, the version and the body's tag and length; returns where the
 * body goes, or NULL (errno set).  *total gets the bytes to commit.
 */
static uint8_t *
frame_begin(struct buf *out, uint8_t body_tag, size_t body_len,
    size_t *total)
{
	size_t	 len;
	uint8_t	*p;

	/* Checked before adding up, so that nothing can wrap. */
	if (body_len > IPC_MAX_FRAME) {
		errno = EMSGSIZE;
		return NULL;
	}
	len = 1 + varint_len(IPC_VERSION) + 1 + varint_len(body_len) +
	    body_len;
	if (len > IPC_MAX_FRAME) {
		errno = EMSGSIZE;
		return NULL;
	}
	if (buf_reserve(out, IPC_HEADER + len) == -1) {
		errno = ENOMEM;
		return NULL;
	}
	p = buf_tail(out);
	p[0] = (uint8_t)(len >> 24);
	p[1] = (uint8_t)(len >> 16);
	p[2] = (uint8_t)(len >> 8);
	p[3] = (uint8_t)len;
	p += IPC_HEADER;
	p = put_varint_field(p, TAG_VERSION, IPC_VERSION);
	*p++ = body_tag;
	*total = IPC_HEADER + len;
	return put_varint(p, body_len);
}

int
ipc_put_reply(struct buf *out, uint64_t conn_id, uint64_t request_id,
    const uint8_t *msg, size_t len)
{
	size_t	 body, total;
	uint8_t	*p;

	if (len > IPC_MAX_FRAME) {
		errno = EMSGSIZE;
		return -1;
	}
	body = varint_field_len(conn_id) + varint_field_len(request_id) +
	    bytes_field_len(len);
	if ((p = frame_begin(out, TAG_REPLY, body, &total)) == NULL)
		return -1;
	p = put_varint_field(p, TAG_REPLY_CONN, conn_id);
	p = put_varint_field(p, TAG_REPLY_REQUEST, request_id);
	(void)put_bytes_field(p, TAG_REPLY_MESSAGE, msg, len);
	buf_commit(out, total);
	return 0;
}

int
ipc_put_event(struct buf *out, const char *session_id, const uint8_t *msg,
    size_t len)
{
	size_t	 slen = session_id == NULL ? 0 : strlen(session_id);
	size_t	 body, total;
	uint8_t	*p;

	if (len > IPC_MAX_FRAME || slen > IPC_MAX_FRAME) {
		errno = EMSGSIZE;
		return -1;
	}
	body = bytes_field_len(len) + bytes_field_len(slen);
	if ((p = frame_begin(out, TAG_EVENT, body, &total)) == NULL)
		return -1;
	p = put_bytes_field(p, TAG_EVENT_MESSAGE, msg, len);
	(void)put_bytes_field(p, TAG_EVENT_SESSION, session_id, slen);
	buf_commit(out, total);
	return 0;
}
