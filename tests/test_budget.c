/*
 * Copyright (c) 2026 The ocbroker authors
 * SPDX-License-Identifier: ISC (the licence is in the file LICENSE)
 */

/*
 * netproc's one byte budget for every upstream body in flight
 * (UPSTREAM_BODY_BUDGET), against the real ocbroker binary and
 * tests/fake_upstream, which answers a RunCommand on a ses_stall* session
 * (as it does GET /session/ses_stall*) with a 64 MiB body announced, sends
 * 60 MiB of it and stalls.
 *
 * With N such requests in flight, at most SURVIVORS bodies of 60 MiB fit:
 * netproc holds at most 64 MiB (UPSTREAM_MAX_BODY) for each survivor and
 * refuses a request only when the others' memory and its next bytes pass
 * the budget, so exactly N - SURVIVORS requests fail, whatever the order in
 * which the bytes arrive (SURVIVORS - 1 survivors at 64 MiB each leave room
 * for one more: checked below).  They fail with UPSTREAM_ERROR while the
 * others are still stalled, and netproc's resident memory stays under the
 * budget plus one body.
 *
 * Also: the block of a large body is kept for the next one and given back
 * once idle (counted in page faults and resident memory).
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "netproc/upstream.h"
#include "tests/support/itest.h"
#include "tests/support/itest_req.h"

#define T_STALLS	180000	/* the fake sending 8 x 60 MiB: a deadline */

#define T_GIVEN_BACK	60000	/* the spare block's idle time is 5 s */
#define T_NETPROC	10000	/* its exec, after the ready line */
#define PROVIDER_KB	6376	/* the fixture's /provider, 6,529,060 bytes */
#define PROVIDER_PAGES	(PROVIDER_KB / 4)

#define N_STALLED	8
#define BUDGET_MIB	(UPSTREAM_BODY_BUDGET / (1024 * 1024))
#define MAX_BODY_MIB	64
#define SENT_MIB	60	/* what the fake sends of each body */
#define SURVIVORS	((int)(BUDGET_MIB / SENT_MIB))
#define BUDGET_MESSAGE	"netproc's body budget (" UPSTREAM_BODY_BUDGET_STR \
	") is spent"

_Static_assert((SURVIVORS - 1) * MAX_BODY_MIB + SENT_MIB <= BUDGET_MIB,
    "whatever the order, SURVIVORS bodies fit");
_Static_assert(N_STALLED > SURVIVORS, "some requests must be refused");

static struct it_env	e;

/* Waits until the fake sent or cut n stalled bodies, or fails. */
static void
wait_stalls(long n)
{
	int64_t deadline = it_now_ms() + T_STALLS;
	long sent = 0, broken = 0;

	while (it_fake_stalls(&e, &sent, &broken) == 0 &&
	    sent + broken < n && it_now_ms() < deadline)
		usleep(20000);
	if (sent + broken != n)
		fail_msg("the fake sent %ld stalled bodies, %ld cut, of %ld",
		    sent, broken, n);
}

/* Starts ocbroker and the fake: netproc's pid, or fails. */
static pid_t
start_netproc(void)
{
	static const struct it_opts o;
	pid_t np;

	if (it_start(&e, &o) == -1)
		fail_msg("could not start ocbroker/fake_upstream");
	if ((np = procfs_wait_role(e.ocb_pid, "netproc", T_NETPROC)) == -1)
		fail_msg("no netproc child");
	return np;
}

/* m answers one of the stalled requests (100 + i), the first time. */
static void
answered_once(int *answered, const Opencode__ServerMessage *m)
{
	assert_true(m->request_id > 100 &&
	    m->request_id <= 100 + N_STALLED);
	assert_int_equal(answered[m->request_id - 100], 0);
	answered[m->request_id - 100] = 1;
}

static void
test_budget_refuses_past_it(void **state)
{
	Opencode__ServerMessage *m;
	struct wsc w, w2;
	int answered[N_STALLED + 1] = { 0 };
	long rss, hwm;
	pid_t np;
	int i, refused = 0, cut = 0;
	char sid[32];

	(void)state;
	np = start_netproc();
	it_client(&e, &w);
	it_client(&e, &w2);

	/*
	 * The fake answers RunCommand "stall" with a stalled body; its own
	 * timeout (10 min) leaves the transfer all the time a busy machine
	 * needs (a GetSession would time out after 30 s).
	 */
	for (i = 1; i <= N_STALLED; i++) {
		snprintf(sid, sizeof(sid), "ses_stall%d", i);
		it_send_command(&w, 100 + (uint64_t)i, sid, "stall", T_IO);
	}
	/* Every stalled body sent, or cut by netproc. */
	wait_stalls(N_STALLED);

	/* Another connection is served meanwhile. */
	it_health(&w2, 2, T_REPLY);

	/* The requests past the budget fail without the upstream's help. */
	for (i = 0; i < N_STALLED - SURVIVORS; i++) {
		if ((m = it_next_reply(&w, T_REPLY)) == NULL)
			fail_msg("%d of %d requests past the budget refused",
			    i, N_STALLED - SURVIVORS);
		if (m->payload_case != SMP(ERROR) ||
		    strcmp(m->error->code, "UPSTREAM_ERROR") != 0 ||
		    strstr(m->error->message, BUDGET_MESSAGE) == NULL)
			fail_msg("request %llu: not the budget's refusal",
			    (unsigned long long)m->request_id);
		answered_once(answered, m);
		refused++;
		wsc_msg_free(m);
	}

	rss = procfs_status(np, "VmRSS");
	hwm = procfs_status(np, "VmHWM");
	print_message("netproc: VmRSS %ld kB, VmHWM %ld kB\n", rss, hwm);
	assert_true(rss > 0 && hwm > 0);
#ifndef OCB_SANITIZERS
	/*
	 * A sanitizer's shadow and quarantine are not netproc's.  Held now:
	 * the survivors' bodies.  At the peak, also the one body being
	 * copied to a larger block.
	 */
	assert_true(rss < (BUDGET_MIB + MAX_BODY_MIB) * 1024L);
	assert_true(hwm < (BUDGET_MIB + 2 * MAX_BODY_MIB) * 1024L);
#endif

	/* The survivors end when the fake closes: each is answered once,
	 * and none of them was refused by the budget. */
	if (it_fake_req(&e, "POST", "/__fake/stall-end", "", NULL) != 200)
		fail_msg("stall-end failed");
	for (i = 0; i < SURVIVORS; i++) {
		if ((m = it_next_reply(&w, T_REPLY)) == NULL)
			fail_msg("%d of %d survivors answered", i, SURVIVORS);
		if (m->payload_case != SMP(ERROR) ||
		    strcmp(m->error->code, "UPSTREAM_UNAVAILABLE") != 0)
			fail_msg("request %llu: %s: %s",
			    (unsigned long long)m->request_id,
			    m->payload_case == SMP(ERROR) ? m->error->code :
			    "not an error", m->payload_case == SMP(ERROR) ?
			    m->error->message : "");
		answered_once(answered, m);
		cut++;
		wsc_msg_free(m);
	}
	assert_int_equal(refused, N_STALLED - SURVIVORS);
	assert_int_equal(cut, SURVIVORS);

	/* The budget is whole again: a stalled body fits, and is cut. */
	it_send_command(&w, 200, "ses_stall0", "stall", T_IO);
	wait_stalls(N_STALLED + 1);
	if (it_fake_req(&e, "POST", "/__fake/stall-end", "", NULL) != 200)
		fail_msg("stall-end failed");
	if ((m = wsc_recv_reply(&w, 200, T_REPLY)) == NULL ||
	    m->payload_case != SMP(ERROR) ||
	    strcmp(m->error->code, "UPSTREAM_UNAVAILABLE") != 0)
		fail_msg("a body within the budget was refused");
	wsc_msg_free(m);

	wsc_close(&w);
	wsc_close(&w2);
	assert_int_equal(it_stop(&e, T_EXIT, NULL), 0);
}

/*
 * A large body's block is kept for the next one, wiped, and given back
 * when idle: a second 6.5 MB /provider costs netproc far fewer page faults
 * than the body has pages (a fresh block faults each one in; in a VM each
 * fault is an exit), and netproc's resident memory falls by the block
 * within a minute of the last large body (BODY_SPARE_IDLE_MS).
 */
static void
test_large_block_kept_then_given_back(void **state)
{
	Opencode__ServerMessage *m;
	struct wsc w;
	long f0, f1, rss1, rss;
	int64_t deadline;
	pid_t np;

	(void)state;
	np = start_netproc();
	it_client(&e, &w);
	m = it_request_empty(&w, 1, CMP(GET_PROVIDER_STATUS), T_REPLY);
	it_expect_case(m, 1, SMP(PROVIDER_STATUS), NULL);
	wsc_msg_free(m);

	f0 = procfs_minflt(np);
	m = it_request_empty(&w, 2, CMP(GET_PROVIDER_STATUS), T_REPLY);
	it_expect_case(m, 2, SMP(PROVIDER_STATUS), NULL);
	wsc_msg_free(m);
	f1 = procfs_minflt(np);
	rss1 = procfs_status(np, "VmRSS");
	print_message("second /provider: %ld page faults in netproc (the "
	    "body has %d pages); VmRSS %ld kB\n", f1 - f0,
	    PROVIDER_PAGES, rss1);
	assert_true(f0 >= 0 && f1 >= f0 && rss1 > 0);
	assert_true(f1 - f0 < PROVIDER_PAGES / 4);

	deadline = it_now_ms() + T_GIVEN_BACK;
	while ((rss = procfs_status(np, "VmRSS")) > rss1 - PROVIDER_KB / 2 &&
	    it_now_ms() < deadline)
		usleep(100000);
	print_message("netproc: VmRSS %ld kB once idle\n", rss);
	assert_true(rss > 0 && rss <= rss1 - PROVIDER_KB / 2);

	wsc_close(&w);
	assert_int_equal(it_stop(&e, T_EXIT, NULL), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_prestate_setup_teardown(
		    test_budget_refuses_past_it, NULL, it_stop_running, &e),
		cmocka_unit_test_prestate_setup_teardown(
		    test_large_block_kept_then_given_back, NULL,
		    it_stop_running, &e),
	};
	int rc;

	rc = cmocka_run_group_tests(tests, NULL, NULL);
	if (rc == 0)
		it_logdir_remove();
	return rc;
}
