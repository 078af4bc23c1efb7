/*
 * Copyright (c) 2026 The ocbroker authors
 * SPDX-License-Identifier: ISC (the licence is in the file LICENSE)
 */

/*
 * libFuzzer target: HTTP request-head parser and WebSocket upgrade policy.
 *
 * Input: data[0] % 8 + 1 = k, then k chunk-size bytes, then the stream.
 * The stream is fed to the parser in chunks whose sizes cycle through the
 * chunk-size bytes (v < 128: v bytes, 0 being an empty feed; v >= 128:
 * (v - 128) * 64 bytes, to cross the 8 KiB limit in few chunks), and
 * compared with a single whole feed: the result must not depend on how the
 * bytes are split.  A complete head then goes through ws_upgrade_check and
 * ws_upgrade_response; a parser error through ws_upgrade_response.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "broker/http_head.h"
#include "broker/ws_upgrade.h"
#include "common/base64.h"
#include "tests/fuzz/plan.h"

#define MAX_CHUNK_BYTES	8

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const fuzz_origins[] = {
	"http://localhost:1420",
	"null",
};

static const struct ws_upgrade_policy fuzz_policy = {
	50051, fuzz_origins, sizeof(fuzz_origins) / sizeof(fuzz_origins[0])
};

static void
check(int cond)
{
	if (!cond)
		abort();
}

static int
in_buf(const struct http_head_parser *p, const char *s, size_t len)
{
	return s >= p->buf && len <= p->len &&
	    (size_t)(s - p->buf) <= p->len - len;
}

/* Same head at the same offsets in both parsers. */
static void
same_head(const struct http_head_parser *a, const struct http_head_parser *b)
{
	const struct http_head *ha = &a->head, *hb = &b->head;
	size_t i;

	check(ha->method - a->buf == hb->method - b->buf);
	check(ha->method_len == hb->method_len);
	check(ha->target - a->buf == hb->target - b->buf);
	check(ha->target_len == hb->target_len);
	check(ha->version_major == hb->version_major);
	check(ha->version_minor == hb->version_minor);
	check(ha->nheaders == hb->nheaders);
	for (i = 0; i < ha->nheaders; i++) {
		check(ha->headers[i].name - a->buf ==
		    hb->headers[i].name - b->buf);
		check(ha->headers[i].name_len == hb->headers[i].name_len);
		check(ha->headers[i].value - a->buf ==
		    hb->headers[i].value - b->buf);
		check(ha->headers[i].value_len == hb->headers[i].value_len);
	}
}

static void
check_done(const struct http_head_parser *p)
{
	const struct http_head *h = &p->head;
	const struct http_header *key;
	struct ws_upgrade_result res;
	char out[WS_UPGRADE_RESPONSE_MAX], enc[64];
	uint8_t raw[48];
	ssize_t n;
	size_t i;
	int st, len;

	check(h->nheaders <= HTTP_HEAD_MAX_HEADERS);
	check(in_buf(p, h->method, h->method_len) && h->method_len > 0);
	check(in_buf(p, h->target, h->target_len) && h->target_len > 0);
	for (i = 0; i < h->nheaders; i++) {
		check(in_buf(p, h->headers[i].name, h->headers[i].name_len));
		check(h->headers[i].name_len > 0);
		check(in_buf(p, h->headers[i].value, h->headers[i].value_len));
		check(memchr(h->headers[i].value, '\0',
		    h->headers[i].value_len) == NULL);
		check(memchr(h->headers[i].value, '\r',
		    h->headers[i].value_len) == NULL);
		check(memchr(h->headers[i].value, '\n',
		    h->headers[i].value_len) == NULL);
	}

	st = ws_upgrade_check(h, &fuzz_policy, &res);
	check(st == res.status && res.reason != NULL);
	check(st == 101 || st == 400 || st == 403 || st == 404 || st == 426);
	if (st == 101)
		check(strlen(res.accept) == WS_ACCEPT_LEN);
	else
		check(res.accept[0] == '\0');
	len = ws_upgrade_response(st, res.accept, out, sizeof(out));
	check(len > 0 && (size_t)len < sizeof(out));
	check(strlen(out) == (size_t)len);
	check(ws_upgrade_response(st, res.accept, out, (size_t)len) == -1);

	/* Strict base64: whatever decodes re-encodes to the same text. */
	key = http_head_find(h, "Sec-WebSocket-Key", NULL);
	if (key != NULL && key->value_len < sizeof(enc)) {
		n = base64_decode(key->value, key->value_len, raw, sizeof(raw));
		if (n >= 0) {
			check(base64_encode(raw, (size_t)n, enc, sizeof(enc)) ==
			    (ssize_t)key->value_len);
			check(memcmp(enc, key->value, key->value_len) == 0);
		}
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct http_head_parser whole, chunked;
	enum http_head_status sw, sc = HTTP_HEAD_INCOMPLETE;
	struct fuzz_plan fp;
	const uint8_t *s;
	size_t slen, cw, c, off, i, chunk, total = 0;
	char out[WS_UPGRADE_RESPONSE_MAX];

	if (size < 1 || fuzz_plan_split(data, size,
	    data[0] % MAX_CHUNK_BYTES + 1, &fp) == -1)
		return 0;
	s = fp.body;
	slen = fp.len;

	http_head_init(&whole);
	sw = http_head_feed(&whole, s, slen, &cw);
	check(cw <= slen && whole.len <= HTTP_HEAD_MAX);

	http_head_init(&chunked);
	for (off = 0, i = 0; off < slen; i++) {
		uint8_t v = fp.plan[i % fp.nplan];

		chunk = v < 128 ? v : (size_t)(v - 128) * 64;
		if (chunk > slen - off)
			chunk = slen - off;
		sc = http_head_feed(&chunked, s + off, chunk, &c);
		check(c <= chunk && chunked.len <= HTTP_HEAD_MAX);
		total += c;
		if (sc != HTTP_HEAD_INCOMPLETE)
			break;
		check(c == chunk);
		off += chunk;
		/* A run of zero sizes must still make progress. */
		if (chunk == 0 && i % fp.nplan == fp.nplan - 1 && off < slen) {
			sc = http_head_feed(&chunked, s + off, 1, &c);
			total += c;
			off += 1;
			if (sc != HTTP_HEAD_INCOMPLETE)
				break;
		}
	}

	check(sw == sc);
	check(cw == total);
	check(whole.len == chunked.len);
	check(memcmp(whole.buf, s, whole.len) == 0);
	switch (sw) {
	case HTTP_HEAD_DONE:
		check(cw == whole.len);
		same_head(&whole, &chunked);
		check_done(&chunked);
		/* Feeding after the end changes nothing. */
		check(http_head_feed(&chunked, s, slen, &c) == HTTP_HEAD_DONE);
		check(c == 0);
		break;
	case HTTP_HEAD_ERROR:
		check(whole.error_status == chunked.error_status);
		check(whole.error_reason == chunked.error_reason);
		check(whole.error_status == 400 || whole.error_status == 431);
		check(whole.error_status != 431 || whole.len == HTTP_HEAD_MAX ||
		    whole.head.nheaders == HTTP_HEAD_MAX_HEADERS);
		check(ws_upgrade_response(whole.error_status, NULL, out,
		    sizeof(out)) > 0);
		break;
	case HTTP_HEAD_INCOMPLETE:
		check(cw == slen && whole.len == slen && slen < HTTP_HEAD_MAX);
		break;
	}
	return 0;
}
