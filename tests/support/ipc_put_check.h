/*
 * Copyright (c) 2026 The ocbroker authors
 * SPDX-License-Identifier: ISC (the licence is in the file LICENSE)
 */

/* ipc_put against protobuf-c, for test_ipc and fuzz_ipc. */
#ifndef OCB_TESTS_IPC_PUT_CHECK_H
#define OCB_TESTS_IPC_PUT_CHECK_H

#include <errno.h>
#include <string.h>

#include "common/buf.h"
#include "common/ipc.h"
#include "common/ipc_put.h"

/* In f (with r or e): the Reply (sid NULL) or the Event protobuf-c packs. */
static inline void
ipc_out_frame(Ocb__Ipc__Frame *f, Ocb__Ipc__Reply *r, Ocb__Ipc__Event *e,
    uint64_t conn, uint64_t rid, const char *sid, const uint8_t *msg,
    size_t len)
{
	if (sid == NULL) {
		r->conn_id = conn;
		r->request_id = rid;
		r->server_message.data = (uint8_t *)msg;
		r->server_message.len = len;
		f->body_case = OCB__IPC__FRAME__BODY_REPLY;
		f->reply = r;
	} else {
		e->server_message.data = (uint8_t *)msg;
		e->server_message.len = len;
		e->session_id = (char *)sid;
		f->body_case = OCB__IPC__FRAME__BODY_EVENT;
		f->event = e;
	}
}

/*
 * 0: ipc_put_reply (sid NULL) or ipc_put_event queued the bytes, or gave the
 * answer, that ipc_frame_pack gives for the same frame; -1: they differ.
 * Each writes after a byte already in its queue, as in a running chan.
 */
static inline int
ipc_put_check(uint64_t conn, uint64_t rid, const char *sid,
    const uint8_t *msg, size_t len)
{
	Ocb__Ipc__Frame f = OCB__IPC__FRAME__INIT;
	Ocb__Ipc__Reply r = OCB__IPC__REPLY__INIT;
	Ocb__Ipc__Event e = OCB__IPC__EVENT__INIT;
	struct buf a, b;
	int ra, rb, ea, eb, same;

	ipc_out_frame(&f, &r, &e, conn, rid, sid, msg, len);
	buf_init(&a);
	buf_init(&b);
	if (buf_add(&a, "x", 1) == -1 || buf_add(&b, "x", 1) == -1)
		return -1;
	errno = 0;
	ra = ipc_frame_pack(&a, &f);
	ea = errno;
	errno = 0;
	rb = sid == NULL ? ipc_put_reply(&b, conn, rid, msg, len) :
	    ipc_put_event(&b, sid, msg, len);
	eb = errno;
	same = ra == rb && (ra == 0 || ea == eb) &&
	    buf_used(&a) == buf_used(&b) &&
	    memcmp(buf_head(&a), buf_head(&b), buf_used(&a)) == 0;
	buf_free(&a);
	buf_free(&b);
	return same ? 0 : -1;
}

#endif
