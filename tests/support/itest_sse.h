/*
 * Copyright (c) 2026 The ocbroker authors
 * SPDX-License-Identifier: ISC (the licence is in the file LICENSE)
 */

/*
 * The fake's event stream, driven from an integration test: wait until
 * ocbroker holds it, then have the fake play a capture on it.  Each fails
 * the test where it cannot.
 */
#ifndef OCB_TESTS_SUPPORT_ITEST_SSE_H
#define OCB_TESTS_SUPPORT_ITEST_SSE_H

#include "tests/integration_util.h"

/* POSTs body to one of the fake's control paths; anything but 200 fails. */
void	it_fake_post(const struct it_env *e, const char *path,
	    const char *body);
/* Waits (T_REPLY) until ocbroker has its /event stream open at the fake. */
void	it_wait_stream(const struct it_env *e);
/* it_wait_stream(), then the fake plays the capture fixture on it. */
void	it_replay(const struct it_env *e, const char *fixture);

#endif /* OCB_TESTS_SUPPORT_ITEST_SSE_H */
