/*
 * Copyright (c) 2026 The ocbroker authors
 * SPDX-License-Identifier: ISC (the licence is in the file LICENSE)
 */

/* The IPC frame codec: round trips, any chunking, and every way a peer can
 * send a bad frame. */
#include "config.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "common/ipc.h"

static void
pack_request(struct buf *out, uint64_t conn, uint64_t rid, const char *payload)
{
	Ocb__Ipc__Frame f = OCB__IPC__FRAME__INIT;
	Ocb__Ipc__Request r = OCB__IPC__REQUEST__INIT;

	r.conn_id = conn;
	r.request_id = rid;
	r.client_message.data = (uint8_t *)payload;
	r.client_message.len = strlen(payload);
	f.body_case = OCB__IPC__FRAME__BODY_REQUEST;
	f.request = &r;
	assert_int_equal(ipc_frame_pack(out, &f), 0);
}

static void
expect_request(struct ipc_reader *r, uint64_t conn, uint64_t rid,
    const char *payload)
{
	Ocb__Ipc__Frame *f;

	assert_int_equal(ipc_reader_next(r, &f), IPC_FRAME);
	assert_int_equal(f->version, IPC_VERSION);
	assert_int_equal(f->body_case, OCB__IPC__FRAME__BODY_REQUEST);
	assert_int_equal(f->request->conn_id, conn);
	assert_int_equal(f->request->request_id, rid);
	assert_int_equal(f->request->client_message.len, strlen(payload));
	assert_memory_equal(f->request->client_message.data, payload,
	    strlen(payload));
	ipc_frame_free(f);
}

static void
test_round_trip_whole(void **state)
{
	struct buf out;
	struct ipc_reader r;
	Ocb__Ipc__Frame *f;

	buf_init(&out);
	pack_request(&out, 7, 42, "hello");
	pack_request(&out, 8, 43, "");
	ipc_reader_init(&r);
	assert_int_equal(ipc_reader_feed(&r, buf_head(&out), buf_used(&out)), 0);
	expect_request(&r, 7, 42, "hello");
	expect_request(&r, 8, 43, "");
	assert_int_equal(ipc_reader_next(&r, &f), IPC_NEED_MORE);
	assert_null(f);
	ipc_reader_free(&r);
	buf_free(&out);
}

static void
test_round_trip_byte_at_a_time(void **state)
{
	struct buf out;
	struct ipc_reader r;
	Ocb__Ipc__Frame *f;
	int frames = 0;

	buf_init(&out);
	pack_request(&out, 1, 2, "abc");
	pack_request(&out, 3, 4, "defgh");
	ipc_reader_init(&r);
	for (size_t i = 0; i < buf_used(&out); i++) {
		enum ipc_status st;

		ipc_reader_feed(&r, buf_head(&out) + i, 1);
		while ((st = ipc_reader_next(&r, &f)) == IPC_FRAME) {
			frames++;
			ipc_frame_free(f);
		}
		assert_int_equal(st, IPC_NEED_MORE);
	}
	assert_int_equal(frames, 2);
	ipc_reader_free(&r);
	buf_free(&out);
}

static void
test_oversize_refused_from_header(void **state)
{
	struct ipc_reader r;
	Ocb__Ipc__Frame *f;
	uint32_t len = IPC_MAX_FRAME + 1;
	uint8_t hdr[4] = { len >> 24, len >> 16, len >> 8, len };

	ipc_reader_init(&r);
	ipc_reader_feed(&r, hdr, sizeof(hdr));
	/* Refused with only the header in: nothing of the body is awaited. */
	assert_int_equal(ipc_reader_next(&r, &f), IPC_BAD);
	assert_non_null(r.why);
	/* And the reader stays bad. */
	assert_int_equal(ipc_reader_next(&r, &f), IPC_BAD);
	ipc_reader_free(&r);
}

static void
test_garbage_body(void **state)
{
	struct ipc_reader r;
	Ocb__Ipc__Frame *f;
	uint8_t frame[] = { 0, 0, 0, 3, 0xff, 0xff, 0xff };

	ipc_reader_init(&r);
	ipc_reader_feed(&r, frame, sizeof(frame));
	assert_int_equal(ipc_reader_next(&r, &f), IPC_BAD);
	ipc_reader_free(&r);
}

/* Starts a reader fed f packed: its length header, then its body. */
static void
reader_with(struct ipc_reader *r, const Ocb__Ipc__Frame *f)
{
	uint8_t	body[64], hdr[4];
	size_t	len;

	assert_true(ocb__ipc__frame__get_packed_size(f) <= sizeof(body));
	len = ocb__ipc__frame__pack(f, body);
	hdr[0] = 0; hdr[1] = 0; hdr[2] = 0; hdr[3] = (uint8_t)len;
	ipc_reader_init(r);
	ipc_reader_feed(r, hdr, 4);
	ipc_reader_feed(r, body, len);
}

static void
test_wrong_version(void **state)
{
	Ocb__Ipc__Frame f = OCB__IPC__FRAME__INIT;
	Ocb__Ipc__Cancel c = OCB__IPC__CANCEL__INIT;
	struct ipc_reader r;
	Ocb__Ipc__Frame *got;

	f.version = IPC_VERSION + 1;
	f.body_case = OCB__IPC__FRAME__BODY_CANCEL;
	f.cancel = &c;
	reader_with(&r, &f);
	assert_int_equal(ipc_reader_next(&r, &got), IPC_BAD);
	assert_string_equal(r.why, "wrong protocol version");
	ipc_reader_free(&r);
}

static void
test_empty_body_refused(void **state)
{
	Ocb__Ipc__Frame f = OCB__IPC__FRAME__INIT;
	struct ipc_reader r;
	Ocb__Ipc__Frame *got;

	f.version = IPC_VERSION;
	reader_with(&r, &f);
	assert_int_equal(ipc_reader_next(&r, &got), IPC_BAD);
	ipc_reader_free(&r);
}

static void
test_zero_length_frame(void **state)
{
	struct ipc_reader r;
	Ocb__Ipc__Frame *got;
	uint8_t hdr[4] = { 0, 0, 0, 0 };

	/* An empty frame decodes as version 0: refused. */
	ipc_reader_init(&r);
	ipc_reader_feed(&r, hdr, 4);
	assert_int_equal(ipc_reader_next(&r, &got), IPC_BAD);
	ipc_reader_free(&r);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip_whole),
		cmocka_unit_test(test_round_trip_byte_at_a_time),
		cmocka_unit_test(test_oversize_refused_from_header),
		cmocka_unit_test(test_garbage_body),
		cmocka_unit_test(test_wrong_version),
		cmocka_unit_test(test_empty_body_refused),
		cmocka_unit_test(test_zero_length_frame),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
