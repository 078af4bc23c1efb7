/*
 * Copyright (c) 2026 The ocbroker authors
 * SPDX-License-Identifier: ISC (the licence is in the file LICENSE)
 */

/*
 * pbpeek and pbcheck_wire (common/pbcheck.c): what the front reads from the
 * wire bytes of a message whose decode ran out of memory (issue 11, item 12):
 * a ClientMessage's request_id, a Reply frame's ids, and what is malformed.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/pbcheck.h"
#include "proto/ipc.pb-c.h"
#include "proto/messages.pb-c.h"

static size_t
pack_health(uint8_t *buf, uint64_t rid)
{
	Opencode__ClientMessage cm = OPENCODE__CLIENT_MESSAGE__INIT;
	Opencode__HealthCheck hc = OPENCODE__HEALTH_CHECK__INIT;

	cm.request_id = rid;
	cm.payload_case = OPENCODE__CLIENT_MESSAGE__PAYLOAD_HEALTH_CHECK;
	cm.health_check = &hc;
	return opencode__client_message__pack(&cm, buf);
}

static void
test_request_id(void **state)
{
	uint8_t buf[64];
	uint64_t v = 0;
	size_t n;

	(void)state;
	n = pack_health(buf, 300);
	assert_int_equal(pbpeek(buf, n, 1, 0, &v, NULL, NULL), 1);
	assert_int_equal(v, 300);
	assert_int_equal(pbcheck_wire(&opencode__client_message__descriptor,
	    buf, n), PBCHECK_OK);
	/* No request_id on the wire (0 is not encoded): absent. */
	n = pack_health(buf, 0);
	v = 7;
	assert_int_equal(pbpeek(buf, n, 1, 0, &v, NULL, NULL), 0);
	assert_int_equal(v, 7);
}

static void
test_last_wins(void **state)
{
	/* request_id 5, then health_check {}, then request_id 9. */
	static const uint8_t b[] = { 0x08, 0x05, 0xe2, 0x03, 0x00, 0x08, 0x09 };
	Opencode__ClientMessage *m;
	uint64_t v = 0;

	(void)state;
	assert_int_equal(pbpeek(b, sizeof(b), 1, 0, &v, NULL, NULL), 1);
	assert_int_equal(v, 9);
	/* As protobuf-c decodes it. */
	assert_non_null(m = opencode__client_message__unpack(NULL, sizeof(b),
	    b));
	assert_int_equal(m->request_id, 9);
	opencode__client_message__free_unpacked(m, NULL);
}

static void
test_malformed(void **state)
{
	static const uint8_t cut[] = { 0x08, 0x85 };		/* varint cut */
	static const uint8_t longer[] = { 0x0a, 0x05, 0x01 };	/* len past end */
	static const uint8_t group[] = { 0x0b, 0x0c };		/* start group */
	uint64_t v;

	(void)state;
	assert_int_equal(pbpeek(cut, sizeof(cut), 1, 0, &v, NULL, NULL), -1);
	assert_int_equal(pbpeek(longer, sizeof(longer), 1, 0, &v, NULL, NULL),
	    -1);
	assert_int_equal(pbpeek(group, sizeof(group), 1, 0, &v, NULL, NULL),
	    -1);
	assert_int_equal(pbcheck_wire(&opencode__client_message__descriptor,
	    longer, sizeof(longer)), PBCHECK_MALFORMED);
	/* A NUL in a string is well-formed wire: only pbcheck_strings minds. */
	{
		Opencode__ClientMessage cm = OPENCODE__CLIENT_MESSAGE__INIT;
		Opencode__GetSession gs = OPENCODE__GET_SESSION__INIT;
		uint8_t buf[64];
		size_t n;

		gs.session_id = (char *)"ses_a";
		cm.request_id = 4;
		cm.payload_case = OPENCODE__CLIENT_MESSAGE__PAYLOAD_GET_SESSION;
		cm.get_session = &gs;
		n = opencode__client_message__pack(&cm, buf);
		buf[n - 2] = '\0';	/* "ses\0a" */
		assert_int_equal(pbcheck_wire(
		    &opencode__client_message__descriptor, buf, n), PBCHECK_OK);
		assert_int_equal(pbcheck_strings(
		    &opencode__client_message__descriptor, buf, n), PBCHECK_NUL);
	}
}

static void
test_sub_message(void **state)
{
	Ocb__Ipc__Frame fr = OCB__IPC__FRAME__INIT;
	Ocb__Ipc__Reply rp = OCB__IPC__REPLY__INIT;
	uint8_t buf[128], data[3] = { 1, 2, 3 };
	const uint8_t *sub = NULL;
	size_t n, sublen = 0;
	uint64_t v = 0;

	(void)state;
	rp.conn_id = 0x30007;
	rp.request_id = 1234567;
	rp.server_message.data = data;
	rp.server_message.len = sizeof(data);
	fr.version = 1;
	fr.body_case = OCB__IPC__FRAME__BODY_REPLY;
	fr.reply = &rp;
	n = ocb__ipc__frame__pack(&fr, buf);
	assert_int_equal(pbpeek(buf, n, 4, 2, &v, &sub, &sublen), 1);
	assert_int_equal(pbpeek(buf, n, 3, 2, &v, &sub, &sublen), 0);
	assert_int_equal(pbpeek(buf, n, 4, 2, &v, &sub, &sublen), 1);
	assert_int_equal(pbpeek(sub, sublen, 1, 0, &v, NULL, NULL), 1);
	assert_int_equal(v, 0x30007);
	assert_int_equal(pbpeek(sub, sublen, 2, 0, &v, NULL, NULL), 1);
	assert_int_equal(v, 1234567);
	/* The wrong wire type for a field is not that field. */
	assert_int_equal(pbpeek(buf, n, 4, 0, &v, NULL, NULL), 0);
	assert_int_equal(pbcheck_wire(&ocb__ipc__frame__descriptor, buf, n),
	    PBCHECK_OK);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_request_id),
		cmocka_unit_test(test_last_wins),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_sub_message),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
