/*
 * Copyright (c) 2026 The ocbroker authors
 * SPDX-License-Identifier: ISC (the licence is in the file LICENSE)
 */

/*
 * The fake's event stream for the integration tests (see itest_sse.h).
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "tests/support/itest.h"
#include "tests/support/itest_sse.h"

void
it_fake_post(const struct it_env *e, const char *path, const char *body)
{
	char *r = NULL;
	int st;

	if ((st = it_fake_req(e, "POST", path, body, &r)) != 200)
		fail_msg("POST %s \"%s\": %d %s", path, body, st,
		    r != NULL ? r : "");
	free(r);
}

void
it_wait_stream(const struct it_env *e)
{
	if (it_fake_wait_streams(e, 1, T_REPLY) == -1)
		fail_msg("ocbroker never subscribed to /event (no stream "
		    "open at the fake)");
}

void
it_replay(const struct it_env *e, const char *fixture)
{
	it_wait_stream(e);
	it_fake_post(e, "/__fake/sse", fixture);
}
