/*
 * Copyright (c) 2026 The ocbroker authors
 * SPDX-License-Identifier: ISC (the licence is in the file LICENSE)
 */

/*
 * Out of memory on a request's path in netproc costs that request an
 * INTERNAL with its own id, and is never taken for a malformed message:
 * request_prepare() decodes with an allocator that fails at the k-th
 * allocation, for every k the decode makes; bytes that do not decode are
 * told apart whatever the allocator does.  The transport mapping names
 * netproc's own out of memory INTERNAL, and the stack-packed error reply
 * needs no allocation.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/errcode.h"
#include "netproc/api.h"
#include "netproc/request.h"
#include "proto/ipc.pb-c.h"
#include "proto/messages.pb-c.h"

#define RID	4242

/* Fails the fail_at-th allocation (0: none); counts them. */
struct failing {
	ProtobufCAllocator	 a;
	int			 n;
	int			 fail_at;
	int			 live;
};

static void *
f_alloc(void *data, size_t size)
{
	struct failing *f = data;

	if (++f->n == f->fail_at)
		return NULL;
	f->live++;
	return malloc(size);
}

static void
f_free(void *data, void *p)
{
	struct failing *f = data;

	if (p != NULL)
		f->live--;
	free(p);
}

static void
failing_init(struct failing *f, int fail_at)
{
	memset(f, 0, sizeof(*f));
	f->a.alloc = f_alloc;
	f->a.free = f_free;
	f->a.allocator_data = f;
	f->fail_at = fail_at;
}

/* request_prepare() on rq, with allocation fail_at failing (0: none). */
static enum request_result
prepare(const Ocb__Ipc__Request *rq, struct failing *f, int fail_at,
    struct api_call **callp, struct request_answer *ans)
{
	failing_init(f, fail_at);
	return request_prepare(rq, &f->a, 1 << 20, callp, ans);
}

/* A SendMessage: a decode of several blocks. */
static uint8_t *
client_message(size_t *len)
{
	Opencode__ClientMessage cm = OPENCODE__CLIENT_MESSAGE__INIT;
	Opencode__SendMessage sm = OPENCODE__SEND_MESSAGE__INIT;
	uint8_t *p;

	sm.session_id = "ses_de9d9dd34ffervjM6BvxQjuyqi";
	sm.text = "hello from a test that runs out of memory";
	cm.request_id = RID;
	cm.payload_case = OPENCODE__CLIENT_MESSAGE__PAYLOAD_SEND_MESSAGE;
	cm.send_message = &sm;
	*len = opencode__client_message__get_packed_size(&cm);
	assert_non_null(p = malloc(*len));
	assert_int_equal(opencode__client_message__pack(&cm, p), *len);
	return p;
}

static void
expect_error(const struct request_answer *ans, const char *code)
{
	Opencode__ServerMessage *m;

	assert_non_null(m = opencode__server_message__unpack(NULL, ans->len,
	    ans->msg));
	assert_int_equal(m->request_id, RID);
	assert_int_equal(m->payload_case,
	    OPENCODE__SERVER_MESSAGE__PAYLOAD_ERROR);
	assert_string_equal(m->error->code, code);
	opencode__server_message__free_unpacked(m, NULL);
}

static void
test_every_failed_allocation_is_internal(void **state)
{
	Ocb__Ipc__Request rq = OCB__IPC__REQUEST__INIT;
	struct request_answer ans;
	struct api_call *call;
	struct failing f;
	int allocs, k;

	(void)state;
	rq.conn_id = 7;
	rq.request_id = RID;
	rq.client_message.data = client_message(&rq.client_message.len);

	/* How many allocations a good decode makes. */
	assert_int_equal(prepare(&rq, &f, 0, &call, &ans), REQUEST_SUBMIT);
	assert_non_null(call);
	assert_int_equal(call->request_id, RID);
	api_call_free(call);
	free(call);
	assert_int_equal(f.live, 0);
	allocs = f.n;
	assert_true(allocs >= 3);

	for (k = 1; k <= allocs; k++) {
		assert_int_equal(prepare(&rq, &f, k, &call, &ans),
		    REQUEST_ANSWER);
		assert_null(call);
		assert_true(ans.nomem);
		expect_error(&ans, ERR_INTERNAL);
		assert_int_equal(f.live, 0);	/* nothing leaked */
	}
	free(rq.client_message.data);
}

static void
test_malformed_is_not_nomem(void **state)
{
	static const uint8_t bad[] = { 0x08, 0x80 };	/* a cut varint */
	Ocb__Ipc__Request rq = OCB__IPC__REQUEST__INIT;
	struct request_answer ans;
	struct api_call *call;
	struct failing f;
	size_t len;
	uint8_t *good;

	(void)state;
	rq.request_id = RID;
	rq.client_message.data = (uint8_t *)bad;
	rq.client_message.len = sizeof(bad);
	assert_int_equal(prepare(&rq, &f, 0, &call, &ans), REQUEST_MALFORMED);
	/* A decode that lost an allocation cannot tell: INTERNAL. */
	assert_int_equal(prepare(&rq, &f, 1, &call, &ans), REQUEST_ANSWER);
	assert_true(ans.nomem);

	/* Another id inside than outside: the front's bug too. */
	good = client_message(&len);
	rq.request_id = RID + 1;
	rq.client_message.data = good;
	rq.client_message.len = len;
	assert_int_equal(prepare(&rq, &f, 0, &call, &ans), REQUEST_MALFORMED);
	assert_int_equal(f.live, 0);
	free(good);
}

/* A request refused by the builder keeps its own code. */
static void
test_refused_keeps_its_code(void **state)
{
	Opencode__ClientMessage cm = OPENCODE__CLIENT_MESSAGE__INIT;
	Opencode__DeleteSessionRequest ds = OPENCODE__DELETE_SESSION_REQUEST__INIT;
	Ocb__Ipc__Request rq = OCB__IPC__REQUEST__INIT;
	struct request_answer ans;
	struct api_call *call;
	struct failing f;
	uint8_t buf[256];

	(void)state;
	ds.session_id = "not a session id";
	cm.request_id = RID;
	cm.payload_case = OPENCODE__CLIENT_MESSAGE__PAYLOAD_DELETE_SESSION;
	cm.delete_session = &ds;
	rq.request_id = RID;
	rq.client_message.data = buf;
	rq.client_message.len = opencode__client_message__pack(&cm, buf);
	assert_int_equal(prepare(&rq, &f, 0, &call, &ans), REQUEST_ANSWER);
	assert_false(ans.nomem);
	expect_error(&ans, ERR_INVALID_REQUEST);
}

static void
test_transport_nomem_is_internal(void **state)
{
	struct api_error err;

	(void)state;
	memset(&err, 0, sizeof(err));
	api_transport_error(API_XPORT_NO_MEMORY, "Out of memory", &err);
	assert_string_equal(err.code, ERR_INTERNAL);
	api_transport_error(API_XPORT_OTHER, "Failure when receiving data",
	    &err);
	assert_string_equal(err.code, ERR_UPSTREAM_ERROR);
}

/* The longest message there is fits the stack buffer. */
static void
test_error_pack_buf(void **state)
{
	struct request_answer ans;
	char longmsg[4 * API_MSG_MAX];

	(void)state;
	memset(longmsg, 'x', sizeof(longmsg) - 1);
	longmsg[sizeof(longmsg) - 1] = '\0';
	ans.len = api_error_pack_buf(RID, ERR_TOO_MANY_REQUESTS, longmsg,
	    ans.msg);
	assert_true(ans.len <= API_ERRPACK_MAX);
	expect_error(&ans, ERR_TOO_MANY_REQUESTS);
	request_nomem(RID, &ans);
	expect_error(&ans, ERR_INTERNAL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_failed_allocation_is_internal),
		cmocka_unit_test(test_malformed_is_not_nomem),
		cmocka_unit_test(test_refused_keeps_its_code),
		cmocka_unit_test(test_transport_nomem_is_internal),
		cmocka_unit_test(test_error_pack_buf),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
