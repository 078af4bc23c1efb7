/*
 * Copyright (c) 2026 The ocbroker authors
 * SPDX-License-Identifier: ISC (the licence is in the file LICENSE)
 */

/*
 * upstream_coding_check: which Transfer-Encoding and Content-Encoding
 * header lines of an upstream reply netproc takes (identity and chunked
 * transfer codings, no content coding), as libcurl's header callback hands
 * them over (name, value, CRLF).
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "netproc/upstream.h"
#include "tests/support/cases.h"

static int
check(const char *line, char *why, size_t whylen)
{
	why[0] = '\0';
	return upstream_coding_check(line, strlen(line), why, whylen);
}

static void
test_taken(void **state)
{
	static const char *const ok[] = {
		"HTTP/1.1 200 OK\r\n",
		"Content-Type: application/json\r\n",
		"Transfer-Encoding: chunked\r\n",
		"transfer-encoding:chunked\r\n",
		"TRANSFER-ENCODING: CHUNKED\r\n",
		"Transfer-Encoding: identity, chunked\r\n",
		"Transfer-Encoding: \r\n",
		"Content-Encoding: identity\r\n",
		"Content-Encoding:\r\n",
		"Content-Length: 12\r\n",
		"X-Transfer-Encoding: gzip\r\n",
		"\r\n",
	};
	char why[96];

	(void)state;
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		if (check(ok[i], why, sizeof(why)) != 0)
			fail_msg("refused: %s (%s)", ok[i], why);
		assert_string_equal(why, "");
	}
}

static void
test_refused(void **state)
{
	static const struct str_case bad[] = {
		{ "Transfer-Encoding: gzip\r\n", "Transfer-Encoding gzip" },
		{ "Transfer-Encoding: gzip, chunked\r\n",
		    "Transfer-Encoding gzip" },
		{ "Transfer-Encoding: chunked, deflate\r\n",
		    "Transfer-Encoding deflate" },
		{ "Transfer-Encoding: chunked;x=1\r\n",
		    "Transfer-Encoding (other)" },
		{ "Content-Encoding: gzip\r\n", "Content-Encoding gzip" },
		{ "content-encoding: br\r\n", "Content-Encoding br" },
		/* chunked is a transfer coding only */
		{ "Content-Encoding: chunked\r\n", "Content-Encoding chunked" },
		{ "Content-Encoding: identity, x-compress\r\n",
		    "Content-Encoding x-compress" },
		/* the upstream's bytes are quoted only when they are a token */
		{ "Content-Encoding: a\x1b[2Jb\r\n", "Content-Encoding (other)" },
		{ "Transfer-Encoding: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n",
		    "Transfer-Encoding (other)" },
	};
	char why[96];

	(void)state;
	for (size_t i = 0; i < NCASES(bad); i++) {
		if (check(bad[i].in, why, sizeof(why)) != -1)
			fail_msg("taken: %s", bad[i].in);
		if (strstr(why, bad[i].want) == NULL)
			fail_msg("%s: why is \"%s\"", bad[i].in, why);
	}
}

/* Only len bytes are looked at: no NUL is needed, none is read past. */
static void
test_length_bounded(void **state)
{
	const char line[] = "Transfer-Encoding: chunkedgzip";
	char why[96];

	(void)state;
	assert_int_equal(upstream_coding_check(line, strlen("Transfer-Encoding: "
	    "chunked"), why, sizeof(why)), 0);
	assert_int_equal(upstream_coding_check(line, strlen(line), why,
	    sizeof(why)), -1);
	assert_int_equal(upstream_coding_check("Transfer-Encoding:", 10, why,
	    sizeof(why)), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_taken),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_length_bounded),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
