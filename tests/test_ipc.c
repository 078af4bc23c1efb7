/*
 * Copyright (c) 2026 The ocbroker authors
 * SPDX-License-Identifier: ISC (the licence is in the file LICENSE)
 */

/* The IPC frame codec: round trips, any chunking, and every way a peer can
 * send a bad frame. */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "common/ipc.h"
#include "tests/support/ipc_put_check.h"
#include "tests/support/ipc_view_check.h"

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

/* Packs a Reply or (conn_id == 0) an Event frame, header included. */
static void
pack_out(struct buf *out, uint64_t conn, uint64_t rid, const uint8_t *sm,
    size_t smlen, const char *sid)
{
	Ocb__Ipc__Frame f = OCB__IPC__FRAME__INIT;
	Ocb__Ipc__Reply r = OCB__IPC__REPLY__INIT;
	Ocb__Ipc__Event e = OCB__IPC__EVENT__INIT;

	ipc_out_frame(&f, &r, &e, conn, rid, sid, sm, smlen);
	assert_int_equal(ipc_frame_pack(out, &f), 0);
}

/*
 * What ipc_view_read takes, protobuf-c decodes to the same frame: Replies
 * and Events as protobuf-c writes them (ids and lengths at every varint
 * boundary), then 40000 seeded mutations of them (bytes changed, cut,
 * added), which the view either reads as protobuf-c does or leaves to it.
 */
static void
test_view_matches_protobuf(void **state)
{
	static const uint64_t ids[] = { 0, 1, 127, 128, 16384, 1ull << 32,
	    UINT64_MAX };
	static const size_t smlens[] = { 0, 1, 127, 128, 70000 };
	char sid255[256], sid256[257];
	const char *sids[] = { "", "ses_1", sid255, sid256 };
	uint8_t *sm, *m;
	struct buf out;
	size_t taken = 0, left = 0, len;
	uint32_t seed = 1;

	(void)state;
	memset(sid255, 's', 255);
	sid255[255] = '\0';
	memset(sid256, 's', 256);
	sid256[256] = '\0';
	assert_non_null(sm = malloc(70000));
	for (size_t i = 0; i < 70000; i++)
		sm[i] = (uint8_t)(i * 7);
	buf_init(&out);
	for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++)
		for (size_t k = 0; k < sizeof(smlens) / sizeof(smlens[0]); k++) {
			buf_drain(&out, buf_used(&out));
			pack_out(&out, ids[i], ids[(i + k) % 7], sm, smlens[k],
			    NULL);
			/* An empty body (written as such) is unpacked. */
			assert_int_equal(ipc_view_check(buf_head(&out) +
			    IPC_HEADER, buf_used(&out) - IPC_HEADER),
			    ids[i] == 0 && ids[(i + k) % 7] == 0 &&
			    smlens[k] == 0 ? 0 : 1);
		}
	for (size_t i = 0; i < sizeof(sids) / sizeof(sids[0]); i++)
		for (size_t k = 0; k < sizeof(smlens) / sizeof(smlens[0]); k++) {
			buf_drain(&out, buf_used(&out));
			pack_out(&out, 0, 0, sm, smlens[k], sids[i]);
			/* A session id longer than the view keeps is unpacked. */
			assert_int_equal(ipc_view_check(buf_head(&out) +
			    IPC_HEADER, buf_used(&out) - IPC_HEADER),
			    sids[i] == sid256 || (i == 0 && smlens[k] == 0) ?
			    0 : 1);
		}

	assert_non_null(m = malloc(512));
	for (int round = 0; round < 40000; round++) {
		seed = seed * 1103515245u + 12345u;
		buf_drain(&out, buf_used(&out));
		if (round % 2)
			pack_out(&out, ids[seed % 7], ids[(seed >> 8) % 7], sm,
			    smlens[(seed >> 12) % 4], NULL);
		else
			pack_out(&out, 0, 0, sm, smlens[(seed >> 12) % 4],
			    sids[(seed >> 16) % 3]);
		len = buf_used(&out) - IPC_HEADER;
		if (len > 400)
			continue;
		memcpy(m, buf_head(&out) + IPC_HEADER, len);
		seed = seed * 1103515245u + 12345u;
		switch ((seed >> 16) % 3) {
		case 0:	/* a byte changed */
			m[(seed >> 4) % len] = (uint8_t)(seed >> 20);
			break;
		case 1:	/* cut */
			len = (seed >> 4) % len;
			break;
		default:	/* bytes added: a field, part of one */
			for (int j = 0; j < 1 + (int)((seed >> 4) % 8); j++)
				m[len++] = (uint8_t)(seed >> (j + 8));
			break;
		}
		switch (ipc_view_check(m, len)) {
		case 1:
			taken++;
			break;
		case 0:
			left++;
			break;
		default:
			fail_msg("round %d: the view and protobuf-c differ",
			    round);
		}
	}
	print_message("mutations: %zu read in place, %zu left to protobuf-c\n",
	    taken, left);
	assert_true(taken > 1000 && left > 1000);
	free(m);
	free(sm);
	buf_free(&out);
}

/*
 * ipc_put writes the bytes protobuf-c writes: ids and lengths at every
 * varint boundary, session ids up to and past what a view keeps, and
 * messages on both sides of the frame limit.
 */
static void
test_put_matches_protobuf(void **state)
{
	static const uint64_t ids[] = { 0, 1, 127, 128, 16383, 16384,
	    1ull << 32, UINT64_MAX };
	static const size_t smlens[] = { 0, 1, 127, 128, 16383, 16384, 70000 };
	/* A reply without ids: tags, version, two 4-byte lengths. */
	static const size_t edge[] = { IPC_MAX_FRAME - 13, IPC_MAX_FRAME - 12,
	    IPC_MAX_FRAME - 11, IPC_MAX_FRAME };
	char sid255[256], sid256[257];
	const char *sids[] = { "", "ses_1", sid255, sid256 };
	struct buf a, b;
	uint8_t *sm;
	size_t i, j, k, n = 0;

	(void)state;
	memset(sid255, 's', 255);
	sid255[255] = '\0';
	memset(sid256, 's', 256);
	sid256[256] = '\0';
	assert_non_null(sm = malloc(IPC_MAX_FRAME + 1));
	for (i = 0; i < 70000; i++)
		sm[i] = (uint8_t)(i * 7);
	for (i = 0; i < sizeof(ids) / sizeof(ids[0]); i++)
		for (j = 0; j < sizeof(ids) / sizeof(ids[0]); j++)
			for (k = 0; k < sizeof(smlens) / sizeof(smlens[0]);
			    k++, n++)
				assert_int_equal(ipc_put_check(ids[i], ids[j],
				    NULL, sm, smlens[k]), 0);
	for (i = 0; i < sizeof(sids) / sizeof(sids[0]); i++)
		for (k = 0; k < sizeof(smlens) / sizeof(smlens[0]); k++, n++)
			assert_int_equal(ipc_put_check(0, 0, sids[i], sm,
			    smlens[k]), 0);
	for (k = 0; k < sizeof(edge) / sizeof(edge[0]); k++, n++) {
		assert_int_equal(ipc_put_check(0, 0, NULL, sm, edge[k]), 0);
		assert_int_equal(ipc_put_check(0, 0, "ses_1", sm, edge[k]), 0);
	}
	print_message("%zu frames written alike\n", n);

	/* The one just under the limit is taken, the next one refused. */
	buf_init(&a);
	assert_int_equal(ipc_put_reply(&a, 0, 0, sm, IPC_MAX_FRAME - 12), 0);
	assert_int_equal(buf_used(&a), IPC_HEADER + IPC_MAX_FRAME);
	buf_drain(&a, buf_used(&a));
	errno = 0;
	assert_int_equal(ipc_put_reply(&a, 0, 0, sm, IPC_MAX_FRAME - 11), -1);
	assert_int_equal(errno, EMSGSIZE);
	assert_int_equal(ipc_put_event(&a, "s", sm, SIZE_MAX), -1);
	assert_int_equal(errno, EMSGSIZE);
	assert_int_equal(buf_used(&a), 0);

	/* No session id is the empty one. */
	buf_init(&b);
	assert_int_equal(ipc_put_event(&a, NULL, sm, 5), 0);
	assert_int_equal(ipc_put_event(&b, "", sm, 5), 0);
	assert_int_equal(buf_used(&a), buf_used(&b));
	assert_memory_equal(buf_head(&a), buf_head(&b), buf_used(&a));
	buf_free(&a);
	buf_free(&b);
	free(sm);
}

/*
 * A reader with views hands Replies and Events out in place and keeps their
 * bytes until it is next used; other frames are unpacked as before.
 */
static void
test_view_in_reader(void **state)
{
	static const uint8_t sm1[] = { 1, 2, 3 }, sm2[] = { 4, 5 };
	struct ipc_reader r;
	Ocb__Ipc__Frame *f;
	struct buf out;
	size_t first;

	(void)state;
	buf_init(&out);
	pack_out(&out, 0, 0, sm1, sizeof(sm1), "ses_a");
	first = buf_used(&out);
	pack_out(&out, 9, 10, sm2, sizeof(sm2), NULL);
	pack_request(&out, 7, 42, "hello");
	ipc_reader_init(&r);
	r.views = 1;
	assert_int_equal(ipc_reader_feed(&r, buf_head(&out), buf_used(&out)), 0);

	assert_int_equal(ipc_reader_next(&r, &f), IPC_FRAME);
	assert_true(ipc_frame_is_view(&r, f));
	assert_int_equal(f->body_case, OCB__IPC__FRAME__BODY_EVENT);
	assert_string_equal(f->event->session_id, "ses_a");
	assert_int_equal(f->event->server_message.len, sizeof(sm1));
	assert_memory_equal(f->event->server_message.data, sm1, sizeof(sm1));
	/* Its bytes are still there, and are what it points to. */
	assert_int_equal(buf_used(&r.in), buf_used(&out));
	assert_ptr_equal(f->event->server_message.data,
	    buf_head(&r.in) + first - sizeof(sm1) - 7);

	assert_int_equal(ipc_reader_next(&r, &f), IPC_FRAME);
	assert_true(ipc_frame_is_view(&r, f));
	assert_int_equal(buf_used(&r.in), buf_used(&out) - first);
	assert_int_equal(f->body_case, OCB__IPC__FRAME__BODY_REPLY);
	assert_int_equal(f->reply->conn_id, 9);
	assert_int_equal(f->reply->request_id, 10);
	assert_memory_equal(f->reply->server_message.data, sm2, sizeof(sm2));

	expect_request(&r, 7, 42, "hello");
	assert_int_equal(ipc_reader_next(&r, &f), IPC_NEED_MORE);
	assert_int_equal(buf_used(&r.in), 0);
	ipc_reader_free(&r);
	buf_free(&out);
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
		cmocka_unit_test(test_view_matches_protobuf),
		cmocka_unit_test(test_put_matches_protobuf),
		cmocka_unit_test(test_view_in_reader),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
