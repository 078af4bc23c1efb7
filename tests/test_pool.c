/*
 * Copyright (c) 2026 The ocbroker authors
 * SPDX-License-Identifier: ISC (the licence is in the file LICENSE)
 */

/*
 * netproc's pool of upstream connections and its queue, against the real
 * ocbroker binary and tests/fake_upstream:
 * - 1000 requests at 64 in flight from 8 clients travel on at most
 *   UPSTREAM_CONNECTIONS_DEFAULT connections (the fake counts them), and
 *   every one is answered;
 * - 1000 connections with one request each: 1000 answered, no error (the
 *   calls past the pool wait instead of being refused);
 * - a waiting RunCommand ended by a CancelRequest, and one whose client went
 *   away, leave the queue without reaching the upstream;
 * - a reply with a transfer or content coding nobody asked for fails with
 *   UPSTREAM_ERROR saying which;
 * - a cached connection the upstream closes is dropped: netproc does not
 *   spin on its end of file, and the next request opens a new one.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <sys/resource.h>

#include "netproc/upstream.h"
#include "tests/support/itest.h"

/* Longer than itest's: up to 1000 requests queue behind 16 connections. */
#define P_IO		10000
#define P_REPLY		30000

#define N_REQUESTS	1000
#define N_CLIENTS	8
#define PER_CLIENT	(N_REQUESTS / N_CLIENTS)
#define IN_FLIGHT	8		/* per client: 64 in all */
#define N_CONNS		1000
#define IDLE_SAMPLES	20		/* looks at an idle netproc's state */

static struct it_env	e;

static void
send_list(struct wsc *w, uint64_t id)
{
	if (it_send_list(w, id, P_IO) == -1)
		fail_msg("send failed");
}

static void
send_cancel(struct wsc *w, uint64_t id, const char *sid)
{
	if (it_send_str(w, id, CMP(CANCEL_REQUEST), sid, P_IO) == -1)
		fail_msg("send failed");
}

static void
expect_session_list(Opencode__ServerMessage *m, uint64_t id)
{
	if (m == NULL)
		fail_msg("request %llu: no reply", (unsigned long long)id);
	if (m->payload_case != SMP(SESSION_LIST))
		fail_msg("request %llu: %s: %s", (unsigned long long)id,
		    m->payload_case == SMP(ERROR) ? m->error->code :
		    "not a SessionList", m->payload_case == SMP(ERROR) ?
		    m->error->message : "");
	wsc_msg_free(m);
}

static void
test_pool_reuses_connections(void **state)
{
	struct wsc w[N_CLIENTS];
	Opencode__ServerMessage *m;
	int sent[N_CLIENTS] = { 0 }, got[N_CLIENTS] = { 0 };
	long requests, conns, streams;
	int i, k, total = 0;

	(void)state;
	it_start_streaming(&e, NULL, P_REPLY);
	for (i = 0; i < N_CLIENTS; i++)
		it_client(&e, &w[i]);
	if (it_fake_req(&e, "POST", "/__fake/reset", "", NULL) != 200)
		fail_msg("reset failed");

	for (i = 0; i < N_CLIENTS; i++)
		for (k = 0; k < IN_FLIGHT; k++)
			send_list(&w[i], (uint64_t)(10 + sent[i]++));
	/* Each reply makes room for the next request of its client. */
	while (total < N_REQUESTS)
		for (i = 0; i < N_CLIENTS; i++) {
			if (got[i] == sent[i])
				continue;
			m = it_next_reply(&w[i], P_REPLY);
			expect_session_list(m, (uint64_t)(10 + got[i]));
			got[i]++;
			total++;
			if (sent[i] < PER_CLIENT)
				send_list(&w[i], (uint64_t)(10 + sent[i]++));
		}

	if (it_fake_count(&e, &requests, &conns, &streams) == -1)
		fail_msg("no count from the fake");
	print_message("%d requests at %d in flight: %ld upstream requests, "
	    "%ld connections\n", N_REQUESTS, N_CLIENTS * IN_FLIGHT, requests,
	    conns);
	assert_int_equal(requests, N_REQUESTS);
	/* The event stream's connection is not counted (it carries only
	 * GET /event): the pool's connections are all there is. */
	assert_true(conns >= 1);
	assert_true(conns <= UPSTREAM_CONNECTIONS_DEFAULT);
	assert_int_equal(streams, 1);

	for (i = 0; i < N_CLIENTS; i++)
		wsc_close(&w[i]);
	assert_int_equal(it_stop(&e, T_EXIT, NULL), 0);
}

/*
 * netproc keeps the watcher of a cached connection armed for reading
 * (upstream.c, upstream_sock).  When the upstream closes that connection,
 * the end of file must drop the watcher: a level-triggered read interest
 * left on it would wake netproc's loop at once, again and again.
 */
static void
test_pool_idle_close(void **state)
{
	struct wsc w;
	char *resp = NULL;
	long requests, conns, streams;
	int asleep;
	pid_t np;

	(void)state;
	it_start_streaming(&e, NULL, P_REPLY);
	it_client(&e, &w);
	if ((np = procfs_wait_role(e.ocb_pid, "netproc", P_IO)) == -1)
		fail_msg("no netproc");
	if (it_fake_req(&e, "POST", "/__fake/reset", "", NULL) != 200)
		fail_msg("reset failed");
	send_list(&w, 1);
	expect_session_list(it_next_reply(&w, P_REPLY), 1);

	if (it_fake_req(&e, "POST", "/__fake/drop-idle", "", &resp) != 200)
		fail_msg("drop-idle failed");
	assert_non_null(resp);
	assert_string_equal(resp, "{\"closed\":1}");
	free(resp);
	/*
	 * Idle, netproc sleeps in epoll_wait ('S'); a loop woken at once,
	 * again and again, is never asleep ('R', however loaded the
	 * machine).  IDLE_SAMPLES looks at its state, once it has had the
	 * time to see the end of file.
	 */
	usleep(200 * 1000);
	asleep = procfs_asleep(np, IDLE_SAMPLES);
	print_message("netproc asleep in %d of %d looks after the close\n",
	    asleep, IDLE_SAMPLES);
	/* A timer of its own may catch one or two looks awake. */
	assert_true(asleep >= IDLE_SAMPLES - 5);

	send_list(&w, 2);
	expect_session_list(it_next_reply(&w, P_REPLY), 2);
	if (it_fake_count(&e, &requests, &conns, &streams) == -1)
		fail_msg("no count from the fake");
	assert_int_equal(requests, 2);
	assert_int_equal(conns, 2);
	wsc_close(&w);
	assert_int_equal(it_stop(&e, T_EXIT, NULL), 0);
}

static void
test_queue_many_clients(void **state)
{
	struct rlimit rl;
	struct wsc *w;
	Opencode__ServerMessage *m;
	long requests, conns, streams;
	int i, errors = 0;

	(void)state;
	/* 1000 sockets here and as many in the front. */
	if (getrlimit(RLIMIT_NOFILE, &rl) == -1)
		fail_msg("getrlimit");
	if (rl.rlim_cur < 3 * N_CONNS) {
		if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < 3 * N_CONNS) {
			print_message("RLIMIT_NOFILE hard limit %llu: skipped\n",
			    (unsigned long long)rl.rlim_max);
			skip();
		}
		rl.rlim_cur = 3 * N_CONNS;
		if (setrlimit(RLIMIT_NOFILE, &rl) == -1)
			fail_msg("setrlimit");
	}
	it_start_streaming(&e, NULL, P_REPLY);
	assert_non_null(w = calloc(N_CONNS, sizeof(*w)));
	for (i = 0; i < N_CONNS; i++)
		it_client(&e, &w[i]);
	if (it_fake_req(&e, "POST", "/__fake/reset", "", NULL) != 200)
		fail_msg("reset failed");
	/* Every request is in flight before a reply is read. */
	for (i = 0; i < N_CONNS; i++)
		send_list(&w[i], 7);
	for (i = 0; i < N_CONNS; i++) {
		if ((m = it_next_reply(&w[i], P_REPLY)) == NULL)
			fail_msg("connection %d: no reply", i);
		if (m->payload_case != SMP(SESSION_LIST)) {
			if (errors++ == 0)
				print_message("connection %d: %s: %s\n", i,
				    m->payload_case == SMP(ERROR) ?
				    m->error->code : "not a SessionList",
				    m->payload_case == SMP(ERROR) ?
				    m->error->message : "");
		}
		assert_int_equal(m->request_id, 7);
		wsc_msg_free(m);
	}
	if (it_fake_count(&e, &requests, &conns, &streams) == -1)
		fail_msg("no count from the fake");
	print_message("%d connections, one request each: %d errors, %ld "
	    "upstream connections\n", N_CONNS, errors, conns);
	assert_int_equal(errors, 0);
	assert_int_equal(requests, N_CONNS);
	assert_true(conns <= UPSTREAM_CONNECTIONS_DEFAULT);

	for (i = 0; i < N_CONNS; i++)
		wsc_close(&w[i]);
	free(w);
	assert_int_equal(it_stop(&e, T_EXIT, NULL), 0);
}

/* How many times the fake's log has a line starting with prefix. */
static int
fake_log_count(const char *prefix)
{
	char *log, *p;
	int n = 0;

	if ((log = it_fake_log(&e)) == NULL)
		fail_msg("no log from the fake");
	for (p = log; *p != '\0'; p++) {
		if (strncmp(p, prefix, strlen(prefix)) == 0)
			n++;
		if ((p = strchr(p, '\n')) == NULL)
			break;
	}
	free(log);
	return n;
}

static void
test_queue_cancel(void **state)
{
	struct wsc a, b;
	Opencode__ServerMessage *m;
	char sid[32];
	int i, n, seen[UPSTREAM_CONNECTIONS_DEFAULT] = { 0 };
	int64_t deadline;

	(void)state;
	it_start_streaming(&e, NULL, P_REPLY);
	it_client(&e, &a);
	it_client(&e, &b);
	if (it_fake_command(&e, "hang") == -1)
		fail_msg("command hang failed");
	if (it_fake_req(&e, "POST", "/__fake/reset", "", NULL) != 200)
		fail_msg("reset failed");
	/* reset puts the fake's commands back to normal. */
	if (it_fake_command(&e, "hang") == -1)
		fail_msg("command hang failed");

	/* The long lane full of held commands... */
	for (i = 0; i < UPSTREAM_CONNECTIONS_DEFAULT; i++) {
		snprintf(sid, sizeof(sid), "ses_held%d", i);
		it_send_command(&a, 100 + (uint64_t)i, sid, "held", P_IO);
	}
	deadline = it_now_ms() + P_REPLY;
	while ((n = fake_log_count("POST /session/ses_held")) <
	    UPSTREAM_CONNECTIONS_DEFAULT && it_now_ms() < deadline)
		usleep(20000);
	assert_int_equal(n, UPSTREAM_CONNECTIONS_DEFAULT);
	/* ...so that these two wait. */
	it_send_command(&a, 200, "ses_waitA", "held", P_IO);
	it_send_command(&b, 300, "ses_waitB", "held", P_IO);

	/* A CancelRequest ends the waiting command: the abort's reply,
	 * then the command's empty one. */
	send_cancel(&a, 201, "ses_waitA");
	if ((m = it_next_reply(&a, P_REPLY)) == NULL)
		fail_msg("no reply to the CancelRequest");
	assert_int_equal(m->request_id, 201);
	assert_int_not_equal(m->payload_case, SMP(ERROR));
	wsc_msg_free(m);
	if ((m = it_next_reply(&a, P_REPLY)) == NULL)
		fail_msg("the waiting command was not ended");
	assert_int_equal(m->request_id, 200);
	assert_int_equal(m->payload_case, OPENCODE__SERVER_MESSAGE__PAYLOAD__NOT_SET);
	wsc_msg_free(m);

	/* A client that goes away takes its waiting command with it. */
	wsc_close(&b);
	deadline = it_now_ms() + P_REPLY;
	while (it_log_lines(e.ocb_log, "1 waiting requests dropped") <= 0 &&
	    it_now_ms() < deadline)
		usleep(20000);
	if (it_log_lines(e.ocb_log, "1 waiting requests dropped") <= 0)
		fail_msg("netproc did not drop the gone client's request");

	/* The held commands end: nothing is left to start. */
	for (i = 0; i < UPSTREAM_CONNECTIONS_DEFAULT; i++) {
		snprintf(sid, sizeof(sid), "ses_held%d", i);
		send_cancel(&a, 400 + (uint64_t)i, sid);
	}
	for (i = 0; i < 2 * UPSTREAM_CONNECTIONS_DEFAULT; i++) {
		if ((m = it_next_reply(&a, P_REPLY)) == NULL)
			fail_msg("%d of %d replies", i,
			    2 * UPSTREAM_CONNECTIONS_DEFAULT);
		assert_int_not_equal(m->payload_case, SMP(ERROR));
		if (m->request_id >= 100 &&
		    m->request_id < 100 + UPSTREAM_CONNECTIONS_DEFAULT)
			seen[m->request_id - 100]++;
		wsc_msg_free(m);
	}
	for (i = 0; i < UPSTREAM_CONNECTIONS_DEFAULT; i++)
		assert_int_equal(seen[i], 1);
	/* A round trip after the last abort: anything netproc would start
	 * has reached the fake by now. */
	send_list(&a, 500);
	expect_session_list(it_next_reply(&a, P_REPLY), 500);
	assert_int_equal(fake_log_count("POST /session/ses_waitA/command"), 0);
	assert_int_equal(fake_log_count("POST /session/ses_waitB/command"), 0);
	assert_int_equal(fake_log_count("POST /session/ses_waitA/abort"), 1);
	assert_int_equal(fake_log_count("POST /session/ses_held"),
	    2 * UPSTREAM_CONNECTIONS_DEFAULT);

	wsc_close(&a);
	assert_int_equal(it_stop(&e, T_EXIT, NULL), 0);
}

static void
expect_coding_error(struct wsc *w, uint64_t id, const char *what)
{
	Opencode__ServerMessage *m;

	send_list(w, id);
	if ((m = it_next_reply(w, P_REPLY)) == NULL)
		fail_msg("request %llu: no reply", (unsigned long long)id);
	assert_int_equal(m->request_id, id);
	if (m->payload_case != SMP(ERROR))
		fail_msg("%s: decoded and answered", what);
	print_message("%s: %s: %s\n", what, m->error->code, m->error->message);
	assert_string_equal(m->error->code, "UPSTREAM_ERROR");
	assert_non_null(strstr(m->error->message, what));
	wsc_msg_free(m);
}

static void
test_unrequested_coding(void **state)
{
	struct wsc w;

	(void)state;
	it_start_streaming(&e, NULL, P_REPLY);
	it_client(&e, &w);
	if (it_fake_mode(&e, "te-gzip") == -1)
		fail_msg("mode te-gzip failed");
	expect_coding_error(&w, 10, "Transfer-Encoding gzip");
	if (it_fake_mode(&e, "ce-gzip") == -1)
		fail_msg("mode ce-gzip failed");
	expect_coding_error(&w, 11, "Content-Encoding gzip");
	if (it_fake_mode(&e, "normal") == -1)
		fail_msg("mode normal failed");
	send_list(&w, 12);
	expect_session_list(it_next_reply(&w, P_REPLY), 12);
	wsc_close(&w);
	assert_int_equal(it_stop(&e, T_EXIT, NULL), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		IT_TEST_ON(test_pool_reuses_connections, &e),
		IT_TEST_ON(test_pool_idle_close, &e),
		IT_TEST_ON(test_queue_many_clients, &e),
		IT_TEST_ON(test_queue_cancel, &e),
		IT_TEST_ON(test_unrequested_coding, &e),
	};

	return IT_RUN("test_pool", tests, NULL);
}
