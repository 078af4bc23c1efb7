/*
 * Copyright (c) 2026 The ocbroker authors
 * SPDX-License-Identifier: ISC (the licence is in the file LICENSE)
 */

/* Unit tests: SHA-1 (FIPS 180), strict base64 (RFC 4648), WebSocket accept. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "common/base64.h"
#include "common/sha1.h"
#include "common/ws_accept.h"
#include "tests/support/cases.h"

static void
hex(const uint8_t *d, size_t n, char *out)
{
	size_t i;

	for (i = 0; i < n; i++)
		snprintf(out + 2 * i, 3, "%02x", d[i]);
}

static void
check_sha1(const void *data, size_t len, const char *want)
{
	uint8_t d[SHA1_DIGEST_LENGTH];
	char h[2 * SHA1_DIGEST_LENGTH + 1];

	sha1(data, len, d);
	hex(d, sizeof(d), h);
	assert_string_equal(h, want);
}

/* FIPS 180-2 appendix A and the NIST "SHA example" vectors. */
static void
test_sha1_fips(void **state)
{
	static char million[1000000];

	(void)state;
	check_sha1("", 0, "da39a3ee5e6b4b0d3255bfef95601890afd80709");
	check_sha1("abc", 3, "a9993e364706816aba3e25717850c26c9cd0d89d");
	check_sha1("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
	    56, "84983e441c3bd26ebaae4aa1f95129e5e54670f1");
	check_sha1("abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmn"
	    "hijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu", 112,
	    "a49b2446a02c645bf419f995b67091253a04a259");
	memset(million, 'a', sizeof(million));
	check_sha1(million, sizeof(million),
	    "34aa973cd4c4daa4f61eeb2bdbad27316534016f");
}

/* Padding boundaries (computed with Python's hashlib). */
static void
test_sha1_boundaries(void **state)
{
	static const struct {
		size_t		 n;
		const char	*want;
	} v[] = {
		{ 55, "ddf57317ef34bfee3b6df83d359098930eb278bc" },
		{ 56, "a0d492bb0fc889d0eca3bc137066ab6f4f74f369" },
		{ 63, "c55856749bef509bdfe6bfebfc7bf4e793e82132" },
		{ 64, "bede92be29c3874e1b54ddc77988d606fc857a8e" },
		{ 65, "b05a80522b053d6dc7e0a517d0e70212c7dad11f" },
		{ 119, "504e27376a6e0f0dba8295b85cb25dc4dfa17d23" },
		{ 120, "82134b02fb3f702491be9bed581eeab59334acb2" },
		{ 127, "34d5e582029e9b9b85b2febe31da3db7cdabaaea" },
		{ 128, "a09133e6730ffe899efb70204cb5646cd5dc24ee" },
	};
	uint8_t buf[128];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)(i * 7 + 3);
	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++)
		check_sha1(buf, v[i].n, v[i].want);
}

/* Incremental updates of every chunk size give the one-shot digest. */
static void
test_sha1_incremental(void **state)
{
	uint8_t buf[300], one[SHA1_DIGEST_LENGTH], inc[SHA1_DIGEST_LENGTH];
	struct sha1_ctx ctx;
	size_t chunk, off, n;

	(void)state;
	for (off = 0; off < sizeof(buf); off++)
		buf[off] = (uint8_t)(off * 31 + 1);
	sha1(buf, sizeof(buf), one);
	for (chunk = 1; chunk <= 130; chunk++) {
		sha1_init(&ctx);
		for (off = 0; off < sizeof(buf); off += n) {
			n = sizeof(buf) - off;
			if (n > chunk)
				n = chunk;
			sha1_update(&ctx, buf + off, n);
			sha1_update(&ctx, buf, 0);
		}
		sha1_final(&ctx, inc);
		assert_memory_equal(one, inc, sizeof(one));
	}
}

/* RFC 4648 section 10: each input and its base64 encoding. */
static const struct str_case rfc4648[] = {
	{ "", "" },
	{ "f", "Zg==" },
	{ "fo", "Zm8=" },
	{ "foo", "Zm9v" },
	{ "foob", "Zm9vYg==" },
	{ "fooba", "Zm9vYmE=" },
	{ "foobar", "Zm9vYmFy" },
};

static void
test_base64_encode(void **state)
{
	char out[16];
	size_t i, need;

	(void)state;
	for (i = 0; i < NCASES(rfc4648); i++) {
		need = strlen(rfc4648[i].want);
		assert_int_equal(base64_encode(rfc4648[i].in,
		    strlen(rfc4648[i].in), out, sizeof(out)), need);
		assert_string_equal(out, rfc4648[i].want);
		/* Exactly enough room (with the NUL), and one byte short. */
		assert_int_equal(base64_encode(rfc4648[i].in,
		    strlen(rfc4648[i].in), out, need + 1), need);
		assert_int_equal(base64_encode(rfc4648[i].in,
		    strlen(rfc4648[i].in), out, need), -1);
	}
	/* All byte values, through the whole alphabet. */
	{
		uint8_t raw[] = { 0x00, 0x10, 0x83, 0x10, 0x51, 0x87, 0x20,
		    0x92, 0x8b, 0x30, 0xd3, 0x8f, 0x41, 0x14, 0x93, 0x51, 0x55,
		    0x97, 0x61, 0x96, 0x9b, 0x71, 0xd7, 0x9f, 0x82, 0x18, 0xa3,
		    0x92, 0x59, 0xa7, 0xa2, 0x9a, 0xab, 0xb2, 0xdb, 0xaf, 0xc3,
		    0x1c, 0xb3, 0xd3, 0x5d, 0xb7, 0xe3, 0x9e, 0xbb, 0xf3, 0xdf,
		    0xbf };
		char big[80];

		assert_int_equal(base64_encode(raw, sizeof(raw), big,
		    sizeof(big)), 64);
		assert_string_equal(big, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdef"
		    "ghijklmnopqrstuvwxyz0123456789+/");
	}
}

static void
test_base64_decode(void **state)
{
	uint8_t out[16];
	size_t i, n;

	(void)state;
	for (i = 0; i < NCASES(rfc4648); i++) {
		n = strlen(rfc4648[i].in);
		assert_int_equal(base64_decode(rfc4648[i].want,
		    strlen(rfc4648[i].want), out, sizeof(out)), n);
		assert_memory_equal(out, rfc4648[i].in, n);
		/* Exactly enough room, and one byte short. */
		assert_int_equal(base64_decode(rfc4648[i].want,
		    strlen(rfc4648[i].want), out, n), n);
		if (n > 0)
			assert_int_equal(base64_decode(rfc4648[i].want,
			    strlen(rfc4648[i].want), out, n - 1), -1);
	}
}

static void
test_base64_decode_strict(void **state)
{
	static const char *const bad[] = {
		"Zg=",		/* length not a multiple of 4 */
		"Zg",		/* missing padding */
		"Zm9vY",
		"Z===",		/* too much padding */
		"====",
		"=Zg=",
		"Zg==Zg==",	/* padding in the middle */
		"Zm=v",
		"Zh==",		/* non-zero unused bits */
		"Zm9=",
		"Zm9v\n",	/* whitespace */
		"Zm9 ",
		" Zm9",
		"Zm9-",		/* URL-safe alphabet */
		"Zm9_",
		"Zm9*",
		"Zm9\x80",
	};
	uint8_t out[16];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(base64_decode(bad[i], strlen(bad[i]), out,
		    sizeof(out)), -1);
	/* An embedded NUL is just another bad character. */
	assert_int_equal(base64_decode("Zm\0v", 4, out, sizeof(out)), -1);
}

/* Decoding is strict, so decode(encode(x)) == x and encode(decode(s)) == s. */
static void
test_base64_roundtrip(void **state)
{
	uint8_t raw[64], back[64];
	char enc[100];
	size_t n, i;
	ssize_t e;

	(void)state;
	for (n = 0; n <= sizeof(raw); n++) {
		for (i = 0; i < n; i++)
			raw[i] = (uint8_t)(n * 13 + i * 101);
		e = base64_encode(raw, n, enc, sizeof(enc));
		assert_int_equal(e, BASE64_ENCODED_LEN(n));
		assert_int_equal(base64_decode(enc, (size_t)e, back,
		    sizeof(back)), n);
		assert_memory_equal(raw, back, n);
	}
}

/*
 * RFC 6455 section 1.3: base64(SHA-1(key + GUID)).  (The RFC, and Python
 * hashlib, give s3pPLMBiTxaQ9kYGzzhZRbK+xOo=.)
 */
static void
test_websocket_accept_example(void **state)
{
	static const char key[] = "dGhlIHNhbXBsZSBub25jZQ==";
	struct sha1_ctx ctx;
	uint8_t d[SHA1_DIGEST_LENGTH], nonce[18];
	char acc[29];

	(void)state;
	assert_int_equal(base64_decode(key, strlen(key), nonce, sizeof(nonce)),
	    16);
	assert_memory_equal(nonce, "the sample nonce", 16);
	sha1_init(&ctx);
	sha1_update(&ctx, key, strlen(key));
	sha1_update(&ctx, WS_GUID, strlen(WS_GUID));
	sha1_final(&ctx, d);
	assert_int_equal(base64_encode(d, sizeof(d), acc, sizeof(acc)), 28);
	assert_string_equal(acc, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sha1_fips),
		cmocka_unit_test(test_sha1_boundaries),
		cmocka_unit_test(test_sha1_incremental),
		cmocka_unit_test(test_base64_encode),
		cmocka_unit_test(test_base64_decode),
		cmocka_unit_test(test_base64_decode_strict),
		cmocka_unit_test(test_base64_roundtrip),
		cmocka_unit_test(test_websocket_accept_example),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
