/*
 * Copyright (c) 2026 The ocbroker authors
 * SPDX-License-Identifier: ISC (the licence is in the file LICENSE)
 */

/* A request from the front, decoded and built; see request.h. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/errcode.h"
#include "netproc/request.h"

/* The caller's allocator, with a note of any allocation that failed. */
struct watched {
	ProtobufCAllocator	 a;
	ProtobufCAllocator	*inner;
	int			 failed;
};

static void *
watched_alloc(void *data, size_t size)
{
	struct watched *w = data;
	void *p;

	if ((p = w->inner->alloc(w->inner->allocator_data, size)) == NULL)
		w->failed = 1;
	return p;
}

static void
watched_free(void *data, void *p)
{
	struct watched *w = data;

	w->inner->free(w->inner->allocator_data, p);
}

void
request_nomem(uint64_t request_id, struct request_answer *ans)
{
	memset(&ans->err, 0, sizeof(ans->err));
	ans->err.code = ERR_INTERNAL;
	snprintf(ans->err.message, sizeof(ans->err.message), "out of memory");
	ans->len = api_error_pack_buf(request_id, ans->err.code,
	    ans->err.message, ans->msg);
	ans->nomem = 1;
}

enum request_result
request_prepare(const Ocb__Ipc__Request *rq, ProtobufCAllocator *pa,
    size_t max_reply, struct api_call **callp, struct request_answer *ans)
{
	struct watched w;
	Opencode__ClientMessage *m;
	struct api_call *call;
	enum request_result r;

	*callp = NULL;
	memset(ans, 0, sizeof(*ans));
	w.a.alloc = watched_alloc;
	w.a.free = watched_free;
	w.a.allocator_data = &w;
	w.inner = pa;
	w.failed = 0;
	/* protobuf-c says NULL for both: only the allocator can tell. */
	if ((m = opencode__client_message__unpack(&w.a,
	    rq->client_message.len, rq->client_message.data)) == NULL) {
		if (!w.failed)
			return REQUEST_MALFORMED;
		request_nomem(rq->request_id, ans);
		return REQUEST_ANSWER;
	}
	if (m->request_id != rq->request_id) {
		r = REQUEST_MALFORMED;
		goto done;
	}
	if ((call = calloc(1, sizeof(*call))) == NULL) {
		request_nomem(rq->request_id, ans);
		r = REQUEST_ANSWER;
		goto done;
	}
	if (api_call_build(m, call, &ans->err) == -1) {
		free(call);
		ans->nomem = strcmp(ans->err.code, ERR_INTERNAL) == 0;
		ans->len = api_error_pack_buf(rq->request_id, ans->err.code,
		    ans->err.message, ans->msg);
		r = REQUEST_ANSWER;
		goto done;
	}
	call->request_id = rq->request_id;
	call->max_reply = max_reply;
	*callp = call;
	r = REQUEST_SUBMIT;
done:
	opencode__client_message__free_unpacked(m, &w.a);
	return r;
}
