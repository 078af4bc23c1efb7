/*
 * Copyright (c) 2026 The ocbroker authors
 * SPDX-License-Identifier: ISC (the licence is in the file LICENSE)
 */

/* Unit tests for the small shared pieces: options, token, byte queue, UTF-8,
 * the auth decision, the wiping allocator. */
#include "config.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "broker/auth.h"
#include "common/buf.h"
#include "common/log.h"
#include "common/options.h"
#include "common/pballoc.h"
#include "common/pbcheck.h"
#include "common/token.h"
#include "common/utf8.h"
#include "tests/support/wipecheck.h"

static enum options_result
parse(struct options *o, const char *const *args)
{
	char *argv[32], err[256];
	int argc = 0;

	argv[argc++] = (char *)"ocbroker";
	for (; *args != NULL; args++)
		argv[argc++] = (char *)*args;
	argv[argc] = NULL;
	return options_parse(argc, argv, o, err, sizeof(err));
}

static void
test_options_defaults(void **state)
{
	const char *a[] = { NULL };
	struct options o;

	assert_int_equal(parse(&o, a), OPTIONS_RUN);
	assert_int_equal(o.port_lo, 50051);
	assert_int_equal(o.port_hi, 50060);
	assert_string_equal(o.upstream, "http://127.0.0.1:4096");
	assert_int_equal(o.token_fd, -1);
	assert_int_equal(o.max_message, 1024 * 1024);
	assert_string_equal(o.user, "nobody");
	assert_int_equal(o.log_level, LOG_LEVEL_INFO);
}

static void
test_options_all(void **state)
{
	const char *a[] = { "--port", "0", "--upstream", "https://example.test:8443",
	    "--token-fd", "5", "--allow-origin", "http://localhost:1420",
	    "--allow-origin", "tauri://localhost", "--max-message", "4096",
	    "--user", "ocb", "--log-level", "debug", "--syslog",
	    "--insecure-no-sandbox", NULL };
	struct options o;

	assert_int_equal(parse(&o, a), OPTIONS_RUN);
	assert_int_equal(o.port_lo, 0);
	assert_int_equal(o.port_hi, 0);
	assert_int_equal(o.token_fd, 5);
	assert_int_equal(o.n_allow_origins, 2);
	assert_string_equal(o.allow_origins[1], "tauri://localhost");
	assert_int_equal(o.max_message, 4096);
	assert_int_equal(o.log_level, LOG_LEVEL_DEBUG);
	assert_true(o.use_syslog);
	assert_true(o.insecure_no_sandbox);
}

static void
test_options_bad(void **state)
{
	static const char *const bad[][3] = {
		{ "--port", "65536", NULL }, { "--port", "-1", NULL },
		{ "--port", "12x", NULL }, { "--port", "", NULL },
		{ "--port-range", "5-4", NULL }, { "--port-range", "0-4", NULL },
		{ "--port-range", "4", NULL }, { "--upstream", "ftp://x", NULL },
		{ "--upstream", "http://", NULL }, { "--upstream", "http://a b", NULL },
		{ "--max-message", "1023", NULL }, { "--max-message", "67108865", NULL },
		{ "--log-level", "loud", NULL }, { "--allow-origin", "", NULL },
		{ "--token-fd", "x", NULL }, { "--nope", NULL, NULL },
		{ "stray", NULL, NULL },
	};
	struct options o;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(parse(&o, bad[i]), OPTIONS_USAGE);
	{
		const char *a[] = { "--port", "1", "--port-range", "1-2", NULL };
		assert_int_equal(parse(&o, a), OPTIONS_USAGE);
	}
}

static void
test_token_generate(void **state)
{
	char a[TOKEN_HEX_LEN + 1], b[TOKEN_HEX_LEN + 1];

	assert_int_equal(token_generate(a), 0);
	assert_int_equal(token_generate(b), 0);
	assert_int_equal(strlen(a), 64);
	assert_string_not_equal(a, b);
	for (size_t i = 0; i < 64; i++)
		assert_non_null(strchr("0123456789abcdef", a[i]));
}

static void
test_token_equal(void **state)
{
	assert_true(token_equal("abcdef", 6, "abcdef", 6));
	assert_false(token_equal("abcdef", 6, "abcdeg", 6));
	assert_false(token_equal("abcdef", 6, "abcde", 5));
	assert_false(token_equal("abcdef", 6, "abcdefg", 7));
	assert_false(token_equal("abcdef", 6, "", 0));
	/* A given token that is the expected one's bytes inverted must not
	 * pass where the lengths differ (the padding value). */
	assert_false(token_equal("\x01", 1, "", 0));
}

static int
pipe_with(const char *s)
{
	int p[2];

	assert_int_equal(pipe(p), 0);
	assert_int_equal(write(p[1], s, strlen(s)), (ssize_t)strlen(s));
	close(p[1]);
	return p[0];
}

static void
test_token_read_fd(void **state)
{
	char t[TOKEN_MAX_LEN + 1];
	char big[TOKEN_MAX_LEN + 3];

	assert_int_equal(token_read_fd(pipe_with("0123456789abcdef0123\n"), t), 20);
	assert_string_equal(t, "0123456789abcdef0123");
	assert_int_equal(token_read_fd(pipe_with("short"), t), -1);
	assert_int_equal(token_read_fd(pipe_with("has a space in it ok"), t), -1);
	assert_int_equal(token_read_fd(pipe_with(""), t), -1);
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(token_read_fd(pipe_with(big), t), -1);
	big[TOKEN_MAX_LEN] = '\0';
	assert_int_equal(token_read_fd(pipe_with(big), t), TOKEN_MAX_LEN);
}

static void
test_buf(void **state)
{
	struct wipecheck wc;
	struct buf b;
	uint8_t chunk[1000];

	wipecheck_init(&wc);
	buf_init(&b);
	buf_set_mem(&b, &wc.mem);
	for (int i = 0; i < 100; i++) {
		memset(chunk, i, sizeof(chunk));
		assert_int_equal(buf_add(&b, chunk, sizeof(chunk)), 0);
	}
	assert_int_equal(buf_used(&b), 100000);
	buf_drain(&b, 99500);
	assert_int_equal(buf_used(&b), 500);
	assert_int_equal(buf_head(&b)[0], 99);
	/* Room is found by compaction or growth; the data stays. */
	assert_int_equal(buf_add(&b, chunk, sizeof(chunk)), 0);
	assert_int_equal(buf_head(&b)[0], 99);
	assert_int_equal(buf_used(&b), 1500);
	buf_truncate(&b, 10);
	assert_int_equal(buf_used(&b), 10);
	buf_drain(&b, 1000);
	assert_int_equal(buf_used(&b), 0);
	buf_free(&b);
	/* Every block it grew out of, and the last one, went back zeroed. */
	assert_true(wc.allocs > 1);
	wipecheck_assert_clean(&wc);
}

/*
 * A queue that keeps a backlog while it is drained and refilled (a channel
 * whose peer reads as fast as it is written to) moves no more bytes by
 * compaction than it drains (0.84 bytes per byte here); moving the whole
 * backlog to free a few bytes was 11.9.
 */
static void
test_buf_compaction_work(void **state)
{
	struct wipecheck wc;
	struct buf b;
	uint8_t chunk[1000];
	size_t drained = 0;

	wipecheck_init(&wc);
	buf_init(&b);
	buf_set_mem(&b, &wc.mem);
	memset(chunk, 5, sizeof(chunk));
	for (int i = 0; i < 60; i++)
		assert_int_equal(buf_add(&b, chunk, sizeof(chunk)), 0);
	for (int i = 0; i < 1000; i++) {
		chunk[0] = (uint8_t)i;
		assert_int_equal(buf_add(&b, chunk, sizeof(chunk)), 0);
		buf_drain(&b, sizeof(chunk));
		drained += sizeof(chunk);
		assert_int_equal(buf_used(&b), 60000);
	}
	/* The oldest chunk left is the one added 60 chunks ago. */
	assert_int_equal(buf_head(&b)[0], (uint8_t)(1000 - 60));
	assert_true(b.moved > 0);
	assert_true(b.moved <= drained);
	/* Growing instead costs at most one doubling past the backlog. */
	assert_true(b.cap <= 2 * 65536);
	buf_free(&b);
	wipecheck_assert_clean(&wc);
}

/* A failed allocation leaves the queue as it was; the error is -1. */
static void
test_buf_alloc_fails(void **state)
{
	struct wipecheck wc;
	struct buf b;
	uint8_t chunk[3000];

	wipecheck_init(&wc);
	buf_init(&b);
	buf_set_mem(&b, &wc.mem);
	memset(chunk, 7, sizeof(chunk));
	assert_int_equal(buf_add(&b, chunk, sizeof(chunk)), 0);
	wc.fail_at = 2;
	assert_int_equal(buf_add(&b, chunk, sizeof(chunk)), -1);
	assert_int_equal(buf_used(&b), sizeof(chunk));
	assert_memory_equal(buf_head(&b), chunk, sizeof(chunk));
	buf_free(&b);
	wipecheck_assert_clean(&wc);
}

static void
test_utf8(void **state)
{
	uint8_t out[4];

	assert_true(utf8_valid((const uint8_t *)"plain", 5));
	assert_true(utf8_valid((const uint8_t *)"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80", 9));
	assert_false(utf8_valid((const uint8_t *)"\xc0\xaf", 2));	/* overlong */
	assert_false(utf8_valid((const uint8_t *)"\xed\xa0\x80", 3));	/* surrogate */
	assert_false(utf8_valid((const uint8_t *)"\xf4\x90\x80\x80", 4)); /* > U+10FFFF */
	assert_false(utf8_valid((const uint8_t *)"\xe2\x82", 2));	/* truncated */
	assert_false(utf8_valid((const uint8_t *)"\x80", 1));
	assert_false(utf8_valid((const uint8_t *)"\xff", 1));
	assert_int_equal(utf8_encode(0x1f600, out), 4);
	assert_memory_equal(out, "\xf0\x9f\x98\x80", 4);
	assert_int_equal(utf8_encode(0xe9, out), 2);
}

static void
test_auth(void **state)
{
	Opencode__ClientMessage m = OPENCODE__CLIENT_MESSAGE__INIT;
	Opencode__AuthHandshake h = OPENCODE__AUTH_HANDSHAKE__INIT;
	Opencode__ListSessionsRequest ls = OPENCODE__LIST_SESSIONS_REQUEST__INIT;
	const char *tok = "0123456789abcdef0123456789abcdef";

	assert_int_equal(auth_check(NULL, tok, 32), AUTH_NOT_HANDSHAKE);
	assert_int_equal(auth_check(&m, tok, 32), AUTH_NOT_HANDSHAKE);
	m.payload_case = OPENCODE__CLIENT_MESSAGE__PAYLOAD_LIST_SESSIONS;
	m.list_sessions = &ls;
	assert_int_equal(auth_check(&m, tok, 32), AUTH_NOT_HANDSHAKE);
	m.payload_case = OPENCODE__CLIENT_MESSAGE__PAYLOAD_AUTH_HANDSHAKE;
	m.auth_handshake = &h;
	h.token = (char *)"";
	assert_int_equal(auth_check(&m, tok, 32), AUTH_BAD_TOKEN);
	h.token = (char *)"0123456789abcdef0123456789abcdeF";
	assert_int_equal(auth_check(&m, tok, 32), AUTH_BAD_TOKEN);
	h.token = (char *)"0123456789abcdef0123456789abcdef0";
	assert_int_equal(auth_check(&m, tok, 32), AUTH_BAD_TOKEN);
	h.token = (char *)tok;
	assert_int_equal(auth_check(&m, tok, 32), AUTH_OK);
}

static void
test_pballoc_round_trip(void **state)
{
	Opencode__ClientMessage m = OPENCODE__CLIENT_MESSAGE__INIT;
	Opencode__AuthHandshake h = OPENCODE__AUTH_HANDSHAKE__INIT;
	Opencode__ClientMessage *got;
	ProtobufCAllocator a;
	struct wipecheck wc;
	uint8_t buf[128];
	size_t len;

	h.token = (char *)"secret-token-value";
	m.request_id = 9;
	m.payload_case = OPENCODE__CLIENT_MESSAGE__PAYLOAD_AUTH_HANDSHAKE;
	m.auth_handshake = &h;
	len = opencode__client_message__pack(&m, buf);
	got = opencode__client_message__unpack(pb_wiping_allocator(), len, buf);
	assert_non_null(got);
	assert_int_equal(got->request_id, 9);
	assert_string_equal(got->auth_handshake->token, "secret-token-value");
	opencode__client_message__free_unpacked(got, pb_wiping_allocator());

	/* The same allocator over a checking one: every block comes back
	 * zeroed (a non-wiping free fails here). */
	wipecheck_init(&wc);
	a = *pb_wiping_allocator();
	assert_null(a.allocator_data);
	a.allocator_data = &wc.mem;
	got = opencode__client_message__unpack(&a, len, buf);
	assert_non_null(got);
	assert_string_equal(got->auth_handshake->token, "secret-token-value");
	opencode__client_message__free_unpacked(got, &a);
	assert_true(wc.allocs > 0);
	wipecheck_assert_clean(&wc);
}

static void
test_log_sanitize(void **state)
{
	char out[8];

	assert_string_equal(log_sanitize(out, sizeof(out), "a\nb\x01\xff", 5),
	    "a?b??");
	assert_string_equal(log_sanitize(out, sizeof(out), "0123456789", 10),
	    "0123456");
}

/* ---- pbcheck: string fields on the wire ---- */

/* Packs m and runs pbcheck over it. */
static enum pbcheck_result
check_packed(const Opencode__ClientMessage *m)
{
	uint8_t			buf[4096];
	size_t			n;

	n = opencode__client_message__get_packed_size(m);
	assert_true(n <= sizeof(buf));
	assert_int_equal(opencode__client_message__pack(m, buf), n);
	return pbcheck_strings(&opencode__client_message__descriptor, buf, n);
}

static void
test_pbcheck_nul_and_utf8(void **state)
{
	Opencode__ClientMessage	m = OPENCODE__CLIENT_MESSAGE__INIT;
	Opencode__DeleteSessionRequest ds = OPENCODE__DELETE_SESSION_REQUEST__INIT;
	/* A hand-made encoding: protobuf-c packs strings with strlen. */
	static const uint8_t nul[] = { 0x08, 0x01, 0xb2, 0x01, 0x09, 0x0a,
	    0x07, 's', 'e', 's', '_', 'a', 0x00, 'b' };
	static const uint8_t badutf[] = { 0x08, 0x01, 0xb2, 0x01, 0x04, 0x0a,
	    0x02, 0xc3, 0x28 };
	static const uint8_t cut[] = { 0x08, 0x01, 0xb2, 0x01, 0x09, 0x0a };
	static const uint8_t group[] = { 0x0b, 0x0c };

	(void)state;
	ds.session_id = "ses_a";
	m.request_id = 1;
	m.payload_case = OPENCODE__CLIENT_MESSAGE__PAYLOAD_DELETE_SESSION;
	m.delete_session = &ds;
	assert_int_equal(check_packed(&m), PBCHECK_OK);
	assert_int_equal(pbcheck_strings(&opencode__client_message__descriptor,
	    nul, sizeof(nul)), PBCHECK_NUL);
	assert_int_equal(pbcheck_strings(&opencode__client_message__descriptor,
	    badutf, sizeof(badutf)), PBCHECK_UTF8);
	assert_int_equal(pbcheck_strings(&opencode__client_message__descriptor,
	    cut, sizeof(cut)), PBCHECK_MALFORMED);
	assert_int_equal(pbcheck_strings(&opencode__client_message__descriptor,
	    group, sizeof(group)), PBCHECK_MALFORMED);
	/* The empty message is a valid ClientMessage (no payload). */
	assert_int_equal(pbcheck_strings(&opencode__client_message__descriptor,
	    NULL, 0), PBCHECK_OK);
	assert_string_equal(pbcheck_why(PBCHECK_NUL),
	    "a string field contains a NUL byte");
}

/* A NUL three messages down (ReplyQuestion.answers[1].labels[1]). */
static void
test_pbcheck_nested(void **state)
{
	static const uint8_t good[] = { 0x08, 0x05, 0xca, 0x04, 0x11,
	    0x0a, 0x05, 'q', 'u', 'e', '_', '1',
	    0x12, 0x03, 0x0a, 0x01, 'Y',
	    0x12, 0x03, 0x0a, 0x01, 'B' };
	uint8_t bad[sizeof(good)];

	(void)state;
	assert_int_equal(pbcheck_strings(&opencode__client_message__descriptor,
	    good, sizeof(good)), PBCHECK_OK);
	memcpy(bad, good, sizeof(bad));
	bad[sizeof(bad) - 1] = '\0';
	assert_int_equal(pbcheck_strings(&opencode__client_message__descriptor,
	    bad, sizeof(bad)), PBCHECK_NUL);
	/* A bytes-like unknown field may hold anything. */
	{
		static const uint8_t unknown[] = { 0x08, 0x01, 0xba, 0x3e,
		    0x02, 0x00, 0xff };
		assert_int_equal(pbcheck_strings(
		    &opencode__client_message__descriptor, unknown,
		    sizeof(unknown)), PBCHECK_OK);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_options_defaults),
		cmocka_unit_test(test_options_all),
		cmocka_unit_test(test_options_bad),
		cmocka_unit_test(test_token_generate),
		cmocka_unit_test(test_token_equal),
		cmocka_unit_test(test_token_read_fd),
		cmocka_unit_test(test_buf),
		cmocka_unit_test(test_buf_compaction_work),
		cmocka_unit_test(test_buf_alloc_fails),
		cmocka_unit_test(test_utf8),
		cmocka_unit_test(test_auth),
		cmocka_unit_test(test_pballoc_round_trip),
		cmocka_unit_test(test_log_sanitize),
		cmocka_unit_test(test_pbcheck_nul_and_utf8),
		cmocka_unit_test(test_pbcheck_nested),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
