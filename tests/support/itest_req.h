/*
 * Copyright (c) 2026 The ocbroker authors
 * SPDX-License-Identifier: ISC (the licence is in the file LICENSE)
 */

/*
 * One request of any kind, built from its payload case and body: what
 * every integration test otherwise writes out per kind (request_id, case,
 * the oneof member).  The member is found through the message's
 * descriptor, so a case and a body of another type fail the test at once.
 */
#ifndef OCB_TESTS_SUPPORT_ITEST_REQ_H
#define OCB_TESTS_SUPPORT_ITEST_REQ_H

#include <stdint.h>

#include "proto/messages.pb-c.h"
#include "tests/wsclient.h"

/* cm (initialised here) with request_id id and body as its case pc. */
void	it_request_init(Opencode__ClientMessage *cm, uint64_t id,
	    Opencode__ClientMessage__PayloadCase pc, void *body);
/* it_request_init(), then it_call(): the reply, or NULL. */
Opencode__ServerMessage *it_request(struct wsc *w, uint64_t id,
	    Opencode__ClientMessage__PayloadCase pc, void *body,
	    int timeout_ms);
/* it_request() with an empty body (HealthCheck, ListSessions, ...). */
Opencode__ServerMessage *it_request_empty(struct wsc *w, uint64_t id,
	    Opencode__ClientMessage__PayloadCase pc, int timeout_ms);

#endif /* OCB_TESTS_SUPPORT_ITEST_REQ_H */
