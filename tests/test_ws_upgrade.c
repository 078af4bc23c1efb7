/*
 * Copyright (c) 2026 The ocbroker authors
 * SPDX-License-Identifier: ISC (the licence is in the file LICENSE)
 */

/* Unit tests: WebSocket opening-handshake policy and response heads. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "broker/http_head.h"
#include "broker/ws_upgrade.h"

#define PORT		50051

#define KEYH(v)		"Sec-WebSocket-Key: " v "\r\n"
#define VERH(v)		"Sec-WebSocket-Version: " v "\r\n"
#define RL		"GET / HTTP/1.1\r\n"
#define HOST		"Host: 127.0.0.1:50051\r\n"
#define UPG		"Upgrade: websocket\r\n"
#define CONN		"Connection: Upgrade\r\n"
#define KEY		KEYH("dGhlIHNhbXBsZSBub25jZQ==")
#define VER		VERH("13")
#define END		"\r\n"
#define OK_HEADERS	HOST UPG CONN KEY VER
#define RFC_ACCEPT	"s3pPLMBiTxaQ9kYGzzhZRbK+xOo="

static const char *const origins[] = {
	"http://localhost:1420",
	"tauri://localhost",
};

static const struct ws_upgrade_policy policy = {
	PORT, origins, sizeof(origins) / sizeof(origins[0])
};

static int
run_check(const char *head, const struct ws_upgrade_policy *pol,
    struct ws_upgrade_result *res)
{
	struct http_head_parser p;
	size_t c;
	int st;

	http_head_init(&p);
	assert_int_equal(http_head_feed(&p, (const uint8_t *)head,
	    strlen(head), &c), HTTP_HEAD_DONE);
	assert_int_equal(c, strlen(head));
	st = ws_upgrade_check(&p.head, pol, res);
	assert_int_equal(st, res->status);
	assert_non_null(res->reason);
	if (st == 101)
		assert_string_equal(res->accept, RFC_ACCEPT);
	else
		assert_string_equal(res->accept, "");
	return st;
}

struct tcase {
	const char	*head;
	int		 status;
};

static void
run_table(const struct tcase *t, size_t n, const struct ws_upgrade_policy *pol)
{
	struct ws_upgrade_result res;
	size_t i;

	for (i = 0; i < n; i++) {
		if (run_check(t[i].head, pol, &res) != t[i].status)
			fail_msg("case %zu: got %d (%s), want %d:\n%s", i,
			    res.status, res.reason, t[i].status, t[i].head);
	}
}

#define RUN_TABLE(t, pol) \
	run_table((t), sizeof(t) / sizeof((t)[0]), (pol))

static void
test_accepts(void **state)
{
	static const struct tcase t[] = {
		{ RL OK_HEADERS END, 101 },
		/* Header order and name case do not matter. */
		{ RL VER KEY CONN UPG HOST END, 101 },
		{ RL "host: 127.0.0.1:50051\r\nupgrade: websocket\r\n"
		  "connection: upgrade\r\nsec-websocket-key: "
		  "dGhlIHNhbXBsZSBub25jZQ==\r\nSEC-WEBSOCKET-VERSION: 13\r\n"
		  END, 101 },
		/* Token lists, case-insensitive, split over field lines. */
		{ RL HOST UPG "Connection: keep-alive, Upgrade\r\n" KEY VER END,
		  101 },
		{ RL HOST UPG "Connection: keep-alive\r\n"
		  "Connection: UPGRADE\r\n" KEY VER END, 101 },
		{ RL HOST "Upgrade: WebSocket\r\n" CONN KEY VER END, 101 },
		{ RL HOST "Upgrade: h2c, websocket\r\n" CONN KEY VER END, 101 },
		{ RL HOST "Upgrade: ,, websocket ,\r\n"
		  "Connection: ,\tupgrade\t,x\r\n" KEY VER END, 101 },
		/* OWS around values is not part of them. */
		{ RL HOST UPG CONN
		  "Sec-WebSocket-Key:  dGhlIHNhbXBsZSBub25jZQ== \r\n"
		  "Sec-WebSocket-Version:\t13\t\r\n" END, 101 },
		/* The three loopback names, any case. */
		{ RL "Host: localhost:50051\r\n" UPG CONN KEY VER END, 101 },
		{ RL "Host: LocalHost:50051\r\n" UPG CONN KEY VER END, 101 },
		{ RL "Host: [::1]:50051\r\n" UPG CONN KEY VER END, 101 },
		/* Listed origins, ASCII case-insensitive; no Origin at all. */
		{ RL OK_HEADERS "Origin: http://localhost:1420\r\n" END, 101 },
		{ RL OK_HEADERS "Origin: HTTP://LOCALHOST:1420\r\n" END, 101 },
		{ RL OK_HEADERS "origin: tauri://localhost\r\n" END, 101 },
		/* Offered extensions/subprotocols are ignored, not refused. */
		{ RL OK_HEADERS "Sec-WebSocket-Extensions: permessage-deflate; "
		  "client_max_window_bits\r\n"
		  "Sec-WebSocket-Protocol: chat, superchat\r\n" END, 101 },
		/* An explicit empty body is fine. */
		{ RL OK_HEADERS "Content-Length: 0\r\n" END, 101 },
	};

	(void)state;
	RUN_TABLE(t, &policy);
}

static void
test_400(void **state)
{
	static const struct tcase t[] = {
		/* Request line. */
		{ "POST / HTTP/1.1\r\n" OK_HEADERS END, 400 },
		{ "get / HTTP/1.1\r\n" OK_HEADERS END, 400 },
		{ "Get / HTTP/1.1\r\n" OK_HEADERS END, 400 },
		{ "GETX / HTTP/1.1\r\n" OK_HEADERS END, 400 },
		{ "GET / HTTP/1.0\r\n" OK_HEADERS END, 400 },
		{ "GET / HTTP/2.0\r\n" OK_HEADERS END, 400 },
		{ "GET / HTTP/1.2\r\n" OK_HEADERS END, 400 },
		/* Host: HTTP/1.1 requires exactly one. */
		{ RL UPG CONN KEY VER END, 400 },
		{ RL HOST HOST UPG CONN KEY VER END, 400 },
		{ RL HOST "Host: evil.com\r\n" UPG CONN KEY VER END, 400 },
		/* Upgrade. */
		{ RL HOST CONN KEY VER END, 400 },
		{ RL HOST "Upgrade:\r\n" CONN KEY VER END, 400 },
		{ RL HOST "Upgrade: websocketx\r\n" CONN KEY VER END, 400 },
		{ RL HOST "Upgrade: xwebsocket\r\n" CONN KEY VER END, 400 },
		{ RL HOST "Upgrade: websocket/13\r\n" CONN KEY VER END, 400 },
		{ RL HOST "Upgrade: web socket\r\n" CONN KEY VER END, 400 },
		{ RL HOST "Upgrade: h2c\r\n" CONN KEY VER END, 400 },
		{ RL HOST "Upgrade: \"websocket\"\r\n" CONN KEY VER END, 400 },
		{ RL HOST "X-Upgrade: websocket\r\n" CONN KEY VER END, 400 },
		/* Connection. */
		{ RL HOST UPG KEY VER END, 400 },
		{ RL HOST UPG "Connection: upgradex\r\n" KEY VER END, 400 },
		{ RL HOST UPG "Connection: keep-alive\r\n" KEY VER END, 400 },
		{ RL HOST UPG "Connection: upgrade-insecure\r\n" KEY VER END,
		  400 },
		{ RL HOST UPG "Connection: keep-alive upgrade\r\n" KEY VER END,
		  400 },
		{ RL HOST UPG "Connection: websocket\r\n" KEY VER END, 400 },
		/* Sec-WebSocket-Key. */
		{ RL HOST UPG CONN VER END, 400 },
		{ RL HOST UPG CONN KEY KEY VER END, 400 },
		{ RL HOST UPG CONN "Sec-WebSocket-Key:\r\n" VER END, 400 },
		/* 15, 17 and 18 bytes. */
		{ RL HOST UPG CONN KEYH("AAAAAAAAAAAAAAAAAAAA")
		  VER END, 400 },
		{ RL HOST UPG CONN KEYH("AAAAAAAAAAAAAAAAAAAAAAA=")
		  VER END, 400 },
		{ RL HOST UPG CONN KEYH("AAAAAAAAAAAAAAAAAAAAAAAA")
		  VER END, 400 },
		{ RL HOST UPG CONN "Sec-WebSocket-Key: "
		  "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAA==\r\n" VER END, 400 },
		/* Bad padding. */
		{ RL HOST UPG CONN KEYH("dGhlIHNhbXBsZSBub25jZQ=")
		  VER END, 400 },
		{ RL HOST UPG CONN KEYH("dGhlIHNhbXBsZSBub25jZQ")
		  VER END, 400 },
		{ RL HOST UPG CONN KEYH("dGhlIHNhbXBsZSBub25jZQ===")
		  VER END, 400 },
		{ RL HOST UPG CONN KEYH("dGhlIHNhbXBsZSBub25j=Q==")
		  VER END, 400 },
		/* Non-canonical: the unused bits are not zero. */
		{ RL HOST UPG CONN KEYH("dGhlIHNhbXBsZSBub25jZR==")
		  VER END, 400 },
		/* Outside the standard alphabet, or with inner whitespace. */
		{ RL HOST UPG CONN KEYH("-GhlIHNhbXBsZSBub25jZQ==")
		  VER END, 400 },
		{ RL HOST UPG CONN KEYH("dGhlIHNhbXBs ZSBub25jZQ==")
		  VER END, 400 },
		/* A body would be read as WebSocket frames. */
		{ RL OK_HEADERS "Content-Length: 5\r\n" END, 400 },
		{ RL OK_HEADERS "Content-Length: 0\r\n"
		  "Content-Length: 0\r\n" END, 400 },
		{ RL OK_HEADERS "Transfer-Encoding: chunked\r\n" END, 400 },
		/* 400 comes before 404, 426 and 403. */
		{ "GET /x HTTP/1.1\r\nHost: evil.com\r\nOrigin: null\r\n"
		  UPG CONN KEYH("AAAA") END, 400 },
		{ "POST /x HTTP/1.1\r\n" OK_HEADERS END, 400 },
	};

	(void)state;
	RUN_TABLE(t, &policy);
}

static void
test_404(void **state)
{
	static const struct tcase t[] = {
		{ "GET /foo HTTP/1.1\r\n" OK_HEADERS END, 404 },
		{ "GET /?a=b HTTP/1.1\r\n" OK_HEADERS END, 404 },
		{ "GET // HTTP/1.1\r\n" OK_HEADERS END, 404 },
		{ "GET /%2F HTTP/1.1\r\n" OK_HEADERS END, 404 },
		{ "GET * HTTP/1.1\r\n" OK_HEADERS END, 404 },
		{ "GET http://127.0.0.1:50051/ HTTP/1.1\r\n" OK_HEADERS END,
		  404 },
		/* 404 comes before 426 and 403. */
		{ "GET /foo HTTP/1.1\r\nHost: evil.com\r\n" UPG CONN KEY
		  VERH("8") END, 404 },
	};

	(void)state;
	RUN_TABLE(t, &policy);
}

static void
test_426(void **state)
{
	static const struct tcase t[] = {
		{ RL HOST UPG CONN KEY END, 426 },
		{ RL HOST UPG CONN KEY VERH("8") END, 426 },
		{ RL HOST UPG CONN KEY VERH("14") END, 426 },
		{ RL HOST UPG CONN KEY VERH("013") END, 426 },
		{ RL HOST UPG CONN KEY VERH("13, 8") END,
		  426 },
		{ RL HOST UPG CONN KEY VERH("1 3") END, 426 },
		{ RL HOST UPG CONN KEY "Sec-WebSocket-Version:\r\n" END, 426 },
		{ RL HOST UPG CONN KEY VER VER END, 426 },
		{ RL HOST UPG CONN KEY VERH("8") VER END,
		  426 },
		/* 426 comes before 403. */
		{ RL "Host: evil.com\r\nOrigin: http://evil.com\r\n"
		  UPG CONN KEY
		  VERH("8") END, 426 },
	};

	(void)state;
	RUN_TABLE(t, &policy);
}

static void
test_403_host(void **state)
{
	static const struct tcase t[] = {
		{ RL "Host: 127.0.0.1:50052\r\n" UPG CONN KEY VER END, 403 },
		{ RL "Host: 127.0.0.1:50050\r\n" UPG CONN KEY VER END, 403 },
		{ RL "Host: evil.com\r\n" UPG CONN KEY VER END, 403 },
		{ RL "Host: evil.com:50051\r\n" UPG CONN KEY VER END, 403 },
		{ RL "Host: 127.0.0.1\r\n" UPG CONN KEY VER END, 403 },
		{ RL "Host: localhost\r\n" UPG CONN KEY VER END, 403 },
		{ RL "Host: \r\n" UPG CONN KEY VER END, 403 },
		{ RL "Host: 127.0.0.1:050051\r\n" UPG CONN KEY VER END, 403 },
		{ RL "Host: 127.0.0.1:50051.\r\n" UPG CONN KEY VER END, 403 },
		{ RL "Host: 127.0.0.1:50051 x\r\n" UPG CONN KEY VER END, 403 },
		{ RL "Host: localhost.:50051\r\n" UPG CONN KEY VER END, 403 },
		{ RL "Host: 127.0.0.2:50051\r\n" UPG CONN KEY VER END, 403 },
		{ RL "Host: 0.0.0.0:50051\r\n" UPG CONN KEY VER END, 403 },
		{ RL "Host: ::1:50051\r\n" UPG CONN KEY VER END, 403 },
		{ RL "Host: [0:0:0:0:0:0:0:1]:50051\r\n" UPG CONN KEY VER END,
		  403 },
		{ RL "Host: localhost.evil.com:50051\r\n" UPG CONN KEY VER END,
		  403 },
		{ RL "Host: 127.0.0.1:50051@evil.com\r\n" UPG CONN KEY VER END,
		  403 },
	};

	(void)state;
	RUN_TABLE(t, &policy);
}

static void
test_403_origin(void **state)
{
	static const struct tcase t[] = {
		{ RL OK_HEADERS "Origin: null\r\n" END, 403 },
		{ RL OK_HEADERS "Origin: http://evil.com\r\n" END, 403 },
		{ RL OK_HEADERS "Origin: http://localhost:1420/\r\n" END, 403 },
		{ RL OK_HEADERS "Origin: http://localhost:1421\r\n" END, 403 },
		{ RL OK_HEADERS "Origin: http://localhost:14200\r\n" END, 403 },
		{ RL OK_HEADERS "Origin: https://localhost:1420\r\n" END, 403 },
		{ RL OK_HEADERS "Origin:\r\n" END, 403 },
		/* Two Origins, even both listed and equal. */
		{ RL OK_HEADERS "Origin: tauri://localhost\r\n"
		  "Origin: tauri://localhost\r\n" END, 403 },
		{ RL OK_HEADERS "Origin: http://localhost:1420\r\n"
		  "Origin: http://evil.com\r\n" END, 403 },
	};

	(void)state;
	RUN_TABLE(t, &policy);
}

/* The allow list is the caller's: "null" only when listed; an empty list. */
static void
test_other_policies(void **state)
{
	static const char *const with_null[] = { "null" };
	static const struct ws_upgrade_policy pnull = { PORT, with_null, 1 };
	static const struct ws_upgrade_policy pnone = { PORT, NULL, 0 };
	static const struct ws_upgrade_policy p1 = { 1, NULL, 0 };
	static const struct ws_upgrade_policy pmax = { 65535, NULL, 0 };
	static const struct tcase tnull[] = {
		{ RL OK_HEADERS "Origin: null\r\n" END, 101 },
		{ RL OK_HEADERS "Origin: NULL\r\n" END, 101 },
		{ RL OK_HEADERS "Origin: http://localhost:1420\r\n" END, 403 },
	};
	static const struct tcase tnone[] = {
		{ RL OK_HEADERS END, 101 },
		{ RL OK_HEADERS "Origin: http://localhost:1420\r\n" END, 403 },
		{ RL OK_HEADERS "Origin: null\r\n" END, 403 },
	};
	static const struct tcase t1[] = {
		{ RL "Host: 127.0.0.1:1\r\n" UPG CONN KEY VER END, 101 },
		{ RL "Host: 127.0.0.1:01\r\n" UPG CONN KEY VER END, 403 },
		{ RL HOST UPG CONN KEY VER END, 403 },
	};
	static const struct tcase tmax[] = {
		{ RL "Host: [::1]:65535\r\n" UPG CONN KEY VER END, 101 },
		{ RL "Host: [::1]:65536\r\n" UPG CONN KEY VER END, 403 },
	};

	(void)state;
	RUN_TABLE(tnull, &pnull);
	RUN_TABLE(tnone, &pnone);
	RUN_TABLE(t1, &p1);
	RUN_TABLE(tmax, &pmax);
}

/* A second key gives a second, independently computed accept value. */
static void
test_accept_compute(void **state)
{
	char acc[WS_ACCEPT_LEN + 1];

	(void)state;
	ws_accept_compute("dGhlIHNhbXBsZSBub25jZQ==", 24, acc);
	assert_string_equal(acc, RFC_ACCEPT);
	/* python3: base64(sha1(b"AAAAAAAAAAAAAAAAAAAAAA==" + GUID)) */
	ws_accept_compute("AAAAAAAAAAAAAAAAAAAAAA==", 24, acc);
	assert_string_equal(acc, "ICX+Yqv66kxgM0FcWaLWlFLwTAI=");
}

static void
expect_response(int status, const char *accept, const char *want)
{
	char out[WS_UPGRADE_RESPONSE_MAX];
	size_t n = strlen(want);

	assert_true(n < sizeof(out));
	assert_int_equal(ws_upgrade_response(status, accept, out, sizeof(out)),
	    (int)n);
	assert_string_equal(out, want);
	/* Room for the head and its NUL exactly, then one byte short. */
	memset(out, 'x', sizeof(out));
	assert_int_equal(ws_upgrade_response(status, accept, out, n + 1),
	    (int)n);
	assert_string_equal(out, want);
	assert_int_equal(ws_upgrade_response(status, accept, out, n), -1);
	assert_int_equal(ws_upgrade_response(status, accept, out, 1), -1);
	assert_int_equal(ws_upgrade_response(status, accept, out, 0), -1);
}

static void
test_response_bytes(void **state)
{
	(void)state;
	expect_response(101, RFC_ACCEPT,
	    "HTTP/1.1 101 Switching Protocols\r\n"
	    "Upgrade: websocket\r\n"
	    "Connection: Upgrade\r\n"
	    "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"
	    "\r\n");
	expect_response(400, NULL,
	    "HTTP/1.1 400 Bad Request\r\n"
	    "Connection: close\r\n"
	    "Content-Length: 0\r\n"
	    "\r\n");
	expect_response(403, NULL,
	    "HTTP/1.1 403 Forbidden\r\n"
	    "Connection: close\r\n"
	    "Content-Length: 0\r\n"
	    "\r\n");
	expect_response(404, NULL,
	    "HTTP/1.1 404 Not Found\r\n"
	    "Connection: close\r\n"
	    "Content-Length: 0\r\n"
	    "\r\n");
	expect_response(426, NULL,
	    "HTTP/1.1 426 Upgrade Required\r\n"
	    "Connection: close, Upgrade\r\n"
	    "Upgrade: websocket\r\n"
	    "Sec-WebSocket-Version: 13\r\n"
	    "Content-Length: 0\r\n"
	    "\r\n");
	expect_response(431, NULL,
	    "HTTP/1.1 431 Request Header Fields Too Large\r\n"
	    "Connection: close\r\n"
	    "Content-Length: 0\r\n"
	    "\r\n");
	expect_response(500, NULL,
	    "HTTP/1.1 500 Internal Server Error\r\n"
	    "Connection: close\r\n"
	    "Content-Length: 0\r\n"
	    "\r\n");
	expect_response(503, NULL,
	    "HTTP/1.1 503 Service Unavailable\r\n"
	    "Connection: close\r\n"
	    "Content-Length: 0\r\n"
	    "\r\n");
	/* An error status ignores accept. */
	expect_response(403, RFC_ACCEPT,
	    "HTTP/1.1 403 Forbidden\r\n"
	    "Connection: close\r\n"
	    "Content-Length: 0\r\n"
	    "\r\n");
}

static void
test_response_refusals(void **state)
{
	char out[WS_UPGRADE_RESPONSE_MAX];

	(void)state;
	/* Unknown statuses. */
	assert_int_equal(ws_upgrade_response(200, NULL, out, sizeof(out)), -1);
	assert_int_equal(ws_upgrade_response(0, NULL, out, sizeof(out)), -1);
	assert_int_equal(ws_upgrade_response(-1, NULL, out, sizeof(out)), -1);
	/* 101 needs exactly 28 base64 characters: no header injection. */
	assert_int_equal(ws_upgrade_response(101, NULL, out, sizeof(out)), -1);
	assert_int_equal(ws_upgrade_response(101, "", out, sizeof(out)), -1);
	assert_int_equal(ws_upgrade_response(101,
	    "s3pPLMBiTxaQ9kYGzzhZRbK+xOo", out, sizeof(out)), -1);
	assert_int_equal(ws_upgrade_response(101,
	    "s3pPLMBiTxaQ9kYGzzhZRbK+xOo==", out, sizeof(out)), -1);
	assert_int_equal(ws_upgrade_response(101,
	    "s3pPLMBiTxaQ9kYx\r\nX: yStNrVj", out, sizeof(out)), -1);
	assert_int_equal(ws_upgrade_response(101,
	    "s3pPLMBiTxaQ9kYGzzhZRbK+x=Oo", out, sizeof(out)), -1);
	assert_int_equal(ws_upgrade_response(400, NULL, NULL, 100), -1);
}

/* The response for a checked request: the whole round trip. */
static void
test_round_trip(void **state)
{
	struct ws_upgrade_result res;
	char out[WS_UPGRADE_RESPONSE_MAX];
	int n;

	(void)state;
	assert_int_equal(run_check(RL OK_HEADERS
	    "Sec-WebSocket-Extensions: permessage-deflate\r\n"
	    "Sec-WebSocket-Protocol: chat\r\n" END, &policy, &res), 101);
	n = ws_upgrade_response(res.status, res.accept, out, sizeof(out));
	assert_true(n > 0);
	assert_null(strstr(out, "Sec-WebSocket-Extensions"));
	assert_null(strstr(out, "Sec-WebSocket-Protocol"));
	assert_non_null(strstr(out, "Sec-WebSocket-Accept: " RFC_ACCEPT
	    "\r\n"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_accepts),
		cmocka_unit_test(test_400),
		cmocka_unit_test(test_404),
		cmocka_unit_test(test_426),
		cmocka_unit_test(test_403_host),
		cmocka_unit_test(test_403_origin),
		cmocka_unit_test(test_other_policies),
		cmocka_unit_test(test_accept_compute),
		cmocka_unit_test(test_response_bytes),
		cmocka_unit_test(test_response_refusals),
		cmocka_unit_test(test_round_trip),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
