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

/* Walks the fields of one message: each must come after the one before. */
struct fields {
	const uint8_t	*p;
	size_t		 len, pos;
	uint32_t	 last;		/* number of the field read last */
};

/* One field: a varint's value, or a length-delimited one's bytes. */
struct field {
	uint32_t	 number;
	unsigned	 wt;
	uint64_t	 v;		/* the value, or the length (never 0) */
	const uint8_t	*sub;
};

static void
fields_init(struct fields *fs, const uint8_t *p, size_t len)
{
	fs->p = p;
	fs->len = len;
	fs->pos = 0;
	fs->last = 0;
}

/* 1: the next field is in *f; 0: no more; -1: not in the layout read here. */
static int
next_field(struct fields *fs, struct field *f)
{
	uint64_t key;

	if (fs->pos == fs->len)
		return 0;
	if (get_varint(fs->p, fs->len, &fs->pos, &key) == -1 ||
	    key >> 3 <= fs->last || key >> 3 > UINT32_MAX)
		return -1;
	f->number = fs->last = (uint32_t)(key >> 3);
	f->wt = (unsigned)(key & 7);
	if (get_varint(fs->p, fs->len, &fs->pos, &f->v) == -1)
		return -1;
	if (f->wt == WIRE_VARINT)
		return 1;
	if (f->wt != WIRE_LEN || f->v == 0 || f->v > fs->len - fs->pos)
		return -1;
	f->sub = fs->p + fs->pos;
	fs->pos += (size_t)f->v;
	return 1;
}

/* One field of a Reply: conn_id, request_id, server_message. */
static int
reply_field(struct ipc_view *v, const struct field *f)
{
	Ocb__Ipc__Reply *r = &v->reply;

	if (f->number == 1 && f->wt == WIRE_VARINT)
		r->conn_id = f->v;
	else if (f->number == 2 && f->wt == WIRE_VARINT)
		r->request_id = f->v;
	else if (f->number == 3 && f->wt == WIRE_LEN) {
		r->server_message.data = (uint8_t *)f->sub;
		r->server_message.len = (size_t)f->v;
	} else
		return -1;
	return 0;
}

/* One field of an Event: server_message, session_id. */
static int
event_field(struct ipc_view *v, const struct field *f)
{
	Ocb__Ipc__Event *e = &v->event;

	if (f->wt != WIRE_LEN)
		return -1;
	if (f->number == 1) {
		e->server_message.data = (uint8_t *)f->sub;
		e->server_message.len = (size_t)f->v;
	} else if (f->number == 2) {
		/* A C string as protobuf-c's: no NUL inside. */
		if (f->v > IPC_VIEW_SID_MAX ||
		    memchr(f->sub, '\0', (size_t)f->v) != NULL)
			return -1;
		memcpy(v->sid, f->sub, (size_t)f->v);
		v->sid[f->v] = '\0';
		e->session_id = v->sid;
	} else
		return -1;
	return 0;
}

/* The body of frame field number (a Reply or an Event) in p[0..len). */
static int
read_body(struct ipc_view *v, uint32_t number, const uint8_t *p, size_t len)
{
	struct fields	fs;
	struct field	f;
	int		more;

	ocb__ipc__reply__init(&v->reply);
	ocb__ipc__event__init(&v->event);
	if (number == OCB__IPC__FRAME__BODY_REPLY)
		v->frame.reply = &v->reply;
	else if (number == OCB__IPC__FRAME__BODY_EVENT)
		v->frame.event = &v->event;
	else
		return -1;
	v->frame.body_case = (Ocb__Ipc__Frame__BodyCase)number;
	fields_init(&fs, p, len);
	while ((more = next_field(&fs, &f)) == 1)
		if ((number == OCB__IPC__FRAME__BODY_REPLY ?
		    reply_field(v, &f) : event_field(v, &f)) == -1)
			return -1;
	return more;
}

int
ipc_view_read(struct ipc_view *v, const uint8_t *p, size_t len)
{
	struct fields	fs;
	struct field	f;

	ocb__ipc__frame__init(&v->frame);
	fields_init(&fs, p, len);
	/* The version, then the body, which ends the frame. */
	if (next_field(&fs, &f) != 1 || f.number != 1 ||
	    f.wt != WIRE_VARINT || f.v != IPC_VERSION)
		return -1;
	v->frame.version = (uint32_t)f.v;
	if (next_field(&fs, &f) != 1 || f.wt != WIRE_LEN || fs.pos != len)
		return -1;
	return read_body(v, f.number, f.sub, (size_t)f.v);
}
