/*
 * Copyright (c) 2026 The ocbroker authors
 * SPDX-License-Identifier: ISC (the licence is in the file LICENSE)
 */

/*
 * An upstream whose event stream keeps ending, against the real ocbroker
 * binary and tests/fake_upstream (POST /__fake/event-life): netproc's
 * reconnect backoff grows until a stream stayed up STREAM_STABLE_S, clients
 * hear UpstreamStatus on transitions only, and the repeated log lines are
 * counted instead of written.  Everything is counted over a period (the
 * requests the fake received, the messages a client received, the lines
 * ocbroker logged), never timed: a loaded machine only makes fewer
 * attempts.  Unthrottled, the stream that ends at once is asked for about
 * 100 times in 10 s, and the one that lives half a second makes a client
 * receive about 40 UpstreamStatus in 12 s.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include "tests/support/itest.h"

/* The periods watched, and what may happen in them at most. */
#define PERIOD_AT_ONCE_MS	10000
#define MAX_EVENT_REQS		20	/* backoff 0.1 s doubling to 5 s: ~8 */
#define MAX_LOG_LINES		10
#define PERIOD_HALF_MS		12000
#define MAX_STATUSES		18	/* ~7 cycles of true and false */

#define SENTINEL	"{\"id\":\"evt_flapend\",\"type\":\"message.removed\"," \
	"\"properties\":{\"sessionID\":\"ses_flap\",\"messageID\":" \
	"\"msg_sentinel\"}}\n"
#define CONNECTED	"{\"id\":\"evt_again\",\"type\":\"server.connected\"," \
	"\"properties\":{}}\n"

static struct it_env	e;

static void
stop(void)
{
	int st = it_stop(&e, T_EXIT, NULL);

	if (st == -1 || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
		fail_msg("ocbroker did not exit 0 (wait status %d)", st);
}

static void
fake(const char *path, const char *body)
{
	if (it_fake_req(&e, "POST", path, body, NULL) != 200)
		fail_msg("POST %s %s failed", path, body);
}

/* Lines of text that start with prefix. */
static long
count_lines(const char *text, const char *prefix)
{
	size_t pl = strlen(prefix);
	long n = 0;

	for (const char *p = text; p != NULL && *p != '\0';) {
		if (strncmp(p, prefix, pl) == 0)
			n++;
		if ((p = strchr(p, '\n')) != NULL)
			p++;
	}
	return n;
}

/*
 * Reads w's messages for ms, counting UpstreamStatus; fails on two of the
 * same value in a row (each must be a transition).
 */
static long
statuses(struct wsc *w, int ms, int *last)
{
	int64_t deadline = it_now_ms() + ms;
	Opencode__ServerMessage *m;
	struct wsc_frame other;
	long n = 0;
	int64_t left;

	while ((left = deadline - it_now_ms()) > 0) {
		if ((m = wsc_recv_msg(w, &other, (int)left)) == NULL) {
			if (other.kind == WSC_TIMEOUT)
				break;
			if (other.kind != WSC_PING && other.kind != WSC_PONG)
				fail_msg("the connection broke (%d)",
				    (int)other.kind);
			wsc_frame_free(&other);
			continue;
		}
		if (m->payload_case == SMP(UPSTREAM_STATUS)) {
			if (*last == (int)m->upstream_status->connected)
				fail_msg("UpstreamStatus connected:%d twice in "
				    "a row", *last);
			*last = m->upstream_status->connected;
			n++;
		}
		wsc_msg_free(m);
	}
	return n;
}

/*
 * Starts ocbroker, opens a client, makes every event stream end after
 * life ms, and counts the UpstreamStatus messages of the next ms.
 */
static long
flap(struct wsc *w, const char *life, int ms, int *last)
{
	it_start_streaming(&e, NULL, T_REPLY);
	it_client(&e, w);
	fake("/__fake/reset", "");
	fake("/__fake/event-life", life);
	fake("/__fake/sse-end", "");
	return statuses(w, ms, last);
}

static void
test_stream_ends_at_once(void **state)
{
	struct wsc w;
	char *log;
	long ev, health, lines, st;
	int last = -1;

	(void)state;
	st = flap(&w, "0", PERIOD_AT_ONCE_MS, &last);
	if ((log = it_fake_log(&e)) == NULL)
		fail_msg("GET /__fake/log failed");
	ev = count_lines(log, "GET /event");
	health = count_lines(log, "GET /global/health");
	free(log);
	if ((lines = it_log_lines(e.ocb_log, "event stream")) == -1)
		fail_msg("cannot read %s", e.ocb_log);
	print_message("in %d ms: %ld GET /event, %ld GET /global/health, "
	    "%ld UpstreamStatus, %ld log lines about the stream\n",
	    PERIOD_AT_ONCE_MS, ev, health, st, lines);
	if (ev < 2)
		fail_msg("netproc did not reconnect (%ld GET /event)", ev);
	if (ev > MAX_EVENT_REQS)
		fail_msg("%ld GET /event in %d ms (at most %d)", ev,
		    PERIOD_AT_ONCE_MS, MAX_EVENT_REQS);
	if (health > ev)
		fail_msg("%ld GET /global/health for %ld streams", health, ev);
	if (st > 2 * ev + 1)
		fail_msg("%ld UpstreamStatus for %ld streams", st, ev);
	if (lines > MAX_LOG_LINES)
		fail_msg("%ld log lines about the event stream (at most %d)",
		    lines, MAX_LOG_LINES);
	wsc_close(&w);
	stop();
}

static void
test_stream_lives_half_a_second(void **state)
{
	struct wsc w;
	long st;
	int last = -1;

	(void)state;
	st = flap(&w, "500", PERIOD_HALF_MS, &last);
	print_message("in %d ms: %ld UpstreamStatus\n", PERIOD_HALF_MS, st);
	if (st < 2)
		fail_msg("the stream's losses were not told (%ld "
		    "UpstreamStatus)", st);
	if (st > MAX_STATUSES)
		fail_msg("%ld UpstreamStatus in %d ms (at most %d)", st,
		    PERIOD_HALF_MS, MAX_STATUSES);
	wsc_close(&w);
	stop();
}

/* The next UpstreamStatus's connected, or -1 when none came in T_REPLY. */
static int
next_status(struct wsc *w)
{
	int64_t deadline = it_now_ms() + T_REPLY, left;
	Opencode__ServerMessage *m;
	int connected;

	while ((left = deadline - it_now_ms()) > 0 &&
	    (m = wsc_recv_msg(w, NULL, (int)left)) != NULL) {
		if (m->payload_case == SMP(UPSTREAM_STATUS)) {
			connected = m->upstream_status->connected;
			wsc_msg_free(m);
			return connected;
		}
		wsc_msg_free(m);
	}
	return -1;
}

/* Another server.connected in an open stream tells clients nothing. */
static void
test_connected_again(void **state)
{
	static const char *const hold[] = { "--hold", "/global/health", NULL };
	Opencode__ServerMessage *m = NULL;
	struct it_opts o;
	struct wsc w;
	char *log;
	long st = 0, before, after;
	int64_t deadline;

	(void)state;
	memset(&o, 0, sizeof(o));
	o.fake_args = hold;
	it_start_streaming(&e, &o, T_REPLY);
	/*
	 * The stream is announced once /global/health answers: the fake holds
	 * it until this client is in, so the client hears that one status
	 * (else it would hear it or not, as the two raced).
	 */
	it_client(&e, &w);
	fake("/__fake/release", "/global/health");
	if (next_status(&w) != 1)
		fail_msg("no connected:true once /global/health answered");
	if ((log = it_fake_log(&e)) == NULL)
		fail_msg("GET /__fake/log failed");
	before = count_lines(log, "GET /global/health");
	free(log);
	if (before != 1)
		fail_msg("%ld GET /global/health before the test", before);
	if (it_fake_event(&e, CONNECTED CONNECTED CONNECTED SENTINEL) == -1)
		fail_msg("POST /__fake/event failed");
	/* The sentinel comes after the three: they were mapped. */
	deadline = it_now_ms() + T_REPLY;
	for (;;) {
		int64_t left = deadline - it_now_ms();

		if (left <= 0 || (m = wsc_recv_msg(&w, NULL, (int)left)) ==
		    NULL)
			fail_msg("the sentinel event never arrived");
		if (m->payload_case == SMP(UPSTREAM_STATUS) &&
		    m->upstream_status->connected)
			st++;
		if (m->payload_case == SMP(MESSAGE_REMOVED)) {
			wsc_msg_free(m);
			break;
		}
		wsc_msg_free(m);
	}
	/* A health fetch the events would have started has answered. */
	st += statuses(&w, 1000, &(int){ 1 });
	if ((log = it_fake_log(&e)) == NULL)
		fail_msg("GET /__fake/log failed");
	after = count_lines(log, "GET /global/health");
	free(log);
	if (st != 0)
		fail_msg("%ld UpstreamStatus for server.connected in an open "
		    "stream", st);
	if (after != before)
		fail_msg("%ld GET /global/health after the events (%ld before)",
		    after, before);
	wsc_close(&w);
	stop();
}

/*
 * ocbroker's first stream ends before /global/health answered (the fake
 * holds it, as a slow machine would): clients, who may have seen the
 * stream's events, hear connected:false, then true once a stream is
 * announced.  Before, they heard nothing of that first stream's end.
 */
static void
test_lost_before_announced(void **state)
{
	static const char *const hold[] = { "--hold", "/event", "--hold",
	    "/global/health", NULL };
	struct it_opts o;
	struct wsc w;
	int st;

	(void)state;
	memset(&o, 0, sizeof(o));
	o.fake_args = hold;
	it_start_or_fail(&e, &o);
	/* The first stream waits for this client. */
	it_client(&e, &w);
	fake("/__fake/event-life", "0");
	fake("/__fake/release", "/event");
	if ((st = next_status(&w)) != 0)
		fail_msg("the first stream's end: %s", st == -1 ?
		    "no UpstreamStatus" : "connected:true");
	fake("/__fake/event-life", "never");
	fake("/__fake/release", "/global/health");
	if (next_status(&w) != 1)
		fail_msg("no connected:true once /global/health answered");
	wsc_close(&w);
	stop();
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		IT_TEST_ON(test_stream_ends_at_once, &e),
		IT_TEST_ON(test_stream_lives_half_a_second, &e),
		IT_TEST_ON(test_connected_again, &e),
		IT_TEST_ON(test_lost_before_announced, &e),
	};

	return IT_RUN("test_flapping", tests, NULL);
}
