/*
 * Copyright (c) 2026 The ocbroker authors
 * SPDX-License-Identifier: ISC (the licence is in the file LICENSE)
 */

/* Reply and Event frames read in place; see ipc_view.h. */
#include "config.h"

#include <string.h>

#include "common/ipc.h"
#include "common/ipc_view.h"

#define WIRE_VARINT	0
#define WIRE_LEN	2

/* A minimal varint of at most 64 bits at p[*pos]; -1 otherwise. */
static int
get_varint(const uint8_t *p, size_t len, size_t *pos, uint64_t *v)
{
	uint64_t	x = 0;
	size_t		i = *pos;
	unsigned	shift;
	uint8_t		b;

	for (shift = 0; shift < 64; shift += 7) {
		if (i >= len)
			return -1;
		b = p[i++];
		if (shift == 63 && b > 1)
			return -1;
		x |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80)) {
			/* A last byte of 0 after others is not minimal. */
			if (b == 0 && shift > 0)
				return -1;
			*v = x;
			*pos = i;
			return 0;
		}
	}
	return -1;
}

/*
 * The next field of p[*pos..len): its number and wire type in *field and
 * *wt, a varint's value in *v, a length-delimited one's bytes in *sub and
 * *v (never empty).  Fields must come in increasing order (*last).
 */
static int
next_field(const uint8_t *p, size_t len, size_t *pos, uint32_t *last,
    uint32_t *field, unsigned *wt, uint64_t *v, const uint8_t **sub)
{
	uint64_t key;

	if (get_varint(p, len, pos, &key) == -1 || key >> 3 <= *last ||
	    key >> 3 > UINT32_MAX)
		return -1;
	*field = (uint32_t)(key >> 3);
	*wt = (unsigned)(key & 7);
	*last = *field;
	if (get_varint(p, len, pos, v) == -1)
		return -1;
	if (*wt == WIRE_VARINT)
		return 0;
	if (*wt != WIRE_LEN || *v == 0 || *v > len - *pos)
		return -1;
	*sub = p + *pos;
	*pos += (size_t)*v;
	return 0;
}

static int
read_reply(struct ipc_view *v, const uint8_t *p, size_t len)
{
	Ocb__Ipc__Reply	*r = &v->reply;
	const uint8_t	*sub = NULL;
	size_t		 pos = 0;
	uint64_t	 x;
	uint32_t	 last = 0, field;
	unsigned	 wt;

	ocb__ipc__reply__init(r);
	while (pos < len) {
		if (next_field(p, len, &pos, &last, &field, &wt, &x,
		    &sub) == -1)
			return -1;
		if (field == 1 && wt == WIRE_VARINT)
			r->conn_id = x;
		else if (field == 2 && wt == WIRE_VARINT)
			r->request_id = x;
		else if (field == 3 && wt == WIRE_LEN) {
			r->server_message.data = (uint8_t *)sub;
			r->server_message.len = (size_t)x;
		} else
			return -1;
	}
	v->frame.body_case = OCB__IPC__FRAME__BODY_REPLY;
	v->frame.reply = r;
	return 0;
}

static int
read_event(struct ipc_view *v, const uint8_t *p, size_t len)
{
	Ocb__Ipc__Event	*e = &v->event;
	const uint8_t	*sub = NULL;
	size_t		 pos = 0;
	uint64_t	 x;
	uint32_t	 last = 0, field;
	unsigned	 wt;

	ocb__ipc__event__init(e);
	while (pos < len) {
		if (next_field(p, len, &pos, &last, &field, &wt, &x,
		    &sub) == -1 || wt != WIRE_LEN)
			return -1;
		if (field == 1) {
			e->server_message.data = (uint8_t *)sub;
			e->server_message.len = (size_t)x;
		} else if (field == 2) {
			/* A C string as protobuf-c's: no NUL inside. */
			if (x > IPC_VIEW_SID_MAX || memchr(sub, '\0', x) != NULL)
				return -1;
			memcpy(v->sid, sub, (size_t)x);
			v->sid[x] = '\0';
			e->session_id = v->sid;
		} else
			return -1;
	}
	v->frame.body_case = OCB__IPC__FRAME__BODY_EVENT;
	v->frame.event = e;
	return 0;
}

int
ipc_view_read(struct ipc_view *v, const uint8_t *p, size_t len)
{
	const uint8_t	*sub = NULL;
	size_t		 pos = 0;
	uint64_t	 x;
	uint32_t	 last = 0, field;
	unsigned	 wt;

	ocb__ipc__frame__init(&v->frame);
	/* The version, then the body, which ends the frame. */
	if (next_field(p, len, &pos, &last, &field, &wt, &x, &sub) == -1 ||
	    field != 1 || wt != WIRE_VARINT || x != IPC_VERSION)
		return -1;
	v->frame.version = (uint32_t)x;
	if (next_field(p, len, &pos, &last, &field, &wt, &x, &sub) == -1 ||
	    wt != WIRE_LEN || pos != len)
		return -1;
	if (field == OCB__IPC__FRAME__BODY_REPLY)
		return read_reply(v, sub, (size_t)x);
	if (field == OCB__IPC__FRAME__BODY_EVENT)
		return read_event(v, sub, (size_t)x);
	return -1;
}
