/*
 * Copyright (c) 2026 The ocbroker authors
 * SPDX-License-Identifier: ISC (the licence is in the file LICENSE)
 */

/*
 * The cmocka side of the integration tests (ocbroker against
 * tests/fake_upstream): what every such test program includes, its
 * timeouts, and the setups, teardown, client and reply checks they share.
 */
#ifndef OCB_TESTS_SUPPORT_ITEST_H
#define OCB_TESTS_SUPPORT_ITEST_H

#include <sys/types.h>
#include <sys/wait.h>

#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "proto/messages.pb-c.h"
#include "tests/integration_util.h"
#include "tests/support/clock.h"
#include "tests/support/procfs.h"
#include "tests/wsclient.h"

/* A test under heavier load defines its own before including this. */
#ifndef T_IO
#define T_IO		5000	/* ordinary wait, ms */
#endif
#ifndef T_REPLY
#define T_REPLY		10000	/* a reply that goes to the fake and back */
#endif
#ifndef T_EXIT
#define T_EXIT		10000	/* SIGTERM to exit */
#endif

/* The protobuf-c payload case names, shortened. */
#define CMP(x)		OPENCODE__CLIENT_MESSAGE__PAYLOAD_##x
#define SMP(x)		OPENCODE__SERVER_MESSAGE__PAYLOAD_##x

/*
 * cmocka setups: *state becomes a zeroed struct it_env, with ocbroker and
 * the fake started with o (it_setup_none: not started, the test starts it
 * with its own options); 0 or -1.
 */
int	it_setup_env(void **state, const struct it_opts *o);
int	it_setup_default(void **state);
int	it_setup_none(void **state);
/* it_setup_env() with these more ocbroker arguments (NULL-ended). */
int	it_setup_args(void **state, const char *const *args);
/*
 * For a file-level struct it_env given as the prestate: stops ocbroker
 * and the fake when a failed test left them running; always 0.
 */
int	it_stop_running(void **state);
/* A test on a file-level struct it_env, stopped by it_stop_running(). */
#define IT_TEST_ON(f, env) \
	cmocka_unit_test_prestate_setup_teardown(f, NULL, it_stop_running, \
	    (env))
/*
 * Prestate: the NULL-ended ocbroker arguments (a const char *[]); *state
 * becomes the started struct it_env, as it_setup_env() makes it.
 */
int	it_setup_argv(void **state);
/*
 * Stops what runs and frees *state; -1 (the test fails) unless SIGTERM made
 * ocbroker exit 0 with nothing printed after its ready line.
 */
int	it_teardown(void **state);

/* Starts e with o or fails the test. */
void	it_start_or_fail(struct it_env *e, const struct it_opts *o);
/*
 * Starts e with o (NULL: the defaults) and waits for netproc to hold the
 * event stream open at the fake, or fails.
 */
void	it_start_streaming(struct it_env *e, const struct it_opts *o,
	    int timeout_ms);
/* Opens a WebSocket to e and authenticates (request_id 1) or fails. */
void	it_client(const struct it_env *e, struct wsc *w);

/*
 * Runs the tests (OCB_IT_FILTER=glob runs a subset), then done (may be
 * NULL).  All passed: the logs are removed, 0.  Else says where the logs
 * are and exits 1 at once: a failed assertion leaves its test's clients
 * unfreed, and a leak report would bury the failures.
 */
int	it_run_group(const char *name, const struct CMUnitTest *tests,
	    size_t n, void (*done)(void));
#define IT_RUN(name, tests, done) it_run_group((name), (tests), \
	    sizeof(tests) / sizeof((tests)[0]), (done))

/* A one-line account of a reply for failure messages (static buffer). */
const char *it_describe(const Opencode__ServerMessage *m);
/* Sends cm and waits for the reply with its request_id (NULL: none). */
Opencode__ServerMessage *it_call(struct wsc *w, Opencode__ClientMessage *cm,
	    int timeout_ms);
/*
 * Sends the request of payload case c, one without fields (HealthCheck,
 * ListSessions, ListAgents, GetProviderStatus, ListSessionStatus,
 * ListCommands, ListPending), with request_id id, without waiting for the
 * reply (it_request_empty() in itest_req.h waits): 0 or -1.  Fails the test
 * on a case whose message has fields.
 */
int	it_send_empty(struct wsc *w, uint64_t id,
	    Opencode__ClientMessage__PayloadCase c, int timeout_ms);
/*
 * Sends the request of payload case c with its field 1, a string, set to s
 * and its other fields unset (GetSession, CancelRequest, GetTodos ...): 0
 * or -1.  s NULL: it_send_empty().  Fails the test on a case that has no
 * such field.
 */
int	it_send_str(struct wsc *w, uint64_t id,
	    Opencode__ClientMessage__PayloadCase c, const char *s,
	    int timeout_ms);
/* Sends a HealthCheck with request_id id; fails unless UpstreamHealth. */
void	it_health(struct wsc *w, uint64_t id, int timeout_ms);
/* Sends a ListSessions with request_id id: 0 or -1. */
int	it_send_list(struct wsc *w, uint64_t id, int timeout_ms);
/* Sends RunCommand command (no arguments) in session sid, or fails. */
void	it_send_command(struct wsc *w, uint64_t id, const char *sid,
	    const char *command, int timeout_ms);
/* The next message with a request_id (events skipped), or NULL. */
Opencode__ServerMessage *it_next_reply(struct wsc *w, int timeout_ms);
/* Fail unless m is the reply to id with that error code (what: context). */
void	it_expect_error(const Opencode__ServerMessage *m, uint64_t id,
	    const char *code, const char *what);
/* Fail unless m is the reply to id with that payload case. */
void	it_expect_case(const Opencode__ServerMessage *m, uint64_t id,
	    Opencode__ServerMessage__PayloadCase c, const char *what);

#endif
