/*
 * Copyright (c) 2026 The ocbroker authors
 * SPDX-License-Identifier: ISC (the licence is in the file LICENSE)
 */

/* ipc_view_read against protobuf-c, for test_ipc and fuzz_ipc. */
#ifndef OCB_TESTS_IPC_VIEW_CHECK_H
#define OCB_TESTS_IPC_VIEW_CHECK_H

#include <string.h>

#include "common/ipc_view.h"

static inline int
ipc_view_bytes_eq(const ProtobufCBinaryData *a, const ProtobufCBinaryData *b)
{
	return a->len == b->len &&
	    (a->len == 0 || memcmp(a->data, b->data, a->len) == 0);
}

/*
 * 1: ipc_view_read took the frame body p[0..len) and protobuf-c decodes it
 * to the same frame; 0: the view left it to protobuf-c; -1: they differ.
 */
static inline int
ipc_view_check(const uint8_t *p, size_t len)
{
	struct ipc_view v;
	Ocb__Ipc__Frame *f;
	int same;

	if (ipc_view_read(&v, p, len) == -1)
		return 0;
	if ((f = ocb__ipc__frame__unpack(NULL, len, p)) == NULL)
		return -1;
	same = f->version == v.frame.version &&
	    f->body_case == v.frame.body_case;
	if (same && f->body_case == OCB__IPC__FRAME__BODY_REPLY)
		same = f->reply->conn_id == v.reply.conn_id &&
		    f->reply->request_id == v.reply.request_id &&
		    ipc_view_bytes_eq(&f->reply->server_message,
		    &v.reply.server_message);
	else if (same && f->body_case == OCB__IPC__FRAME__BODY_EVENT)
		same = ipc_view_bytes_eq(&f->event->server_message,
		    &v.event.server_message) &&
		    strcmp(f->event->session_id, v.event.session_id) == 0;
	else
		same = 0;
	ocb__ipc__frame__free_unpacked(f, NULL);
	return same ? 1 : -1;
}

#endif
