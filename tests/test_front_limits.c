/*
 * Copyright (c) 2026 The ocbroker authors
 * SPDX-License-Identifier: ISC (the licence is in the file LICENSE)
 */

/*
 * The front's limits agree with each other (issue 11, items 8 and 14), on the
 * real ocbroker binary against tests/fake_upstream:
 * - a message between the old 16 MiB IPC frame limit and --max-message is
 *   forwarded to netproc and gets its real answer, and so does a reply of
 *   that size (larger than the 8 MiB send queue cap);
 * - past FRONT_MAX_CONNS a client gets 503 with Retry-After, the front logs
 *   the refusals as counts (a few lines, not one per attempt), and the
 *   connections already open keep working.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <sys/resource.h>

#define T_IO		10000	/* ordinary wait, ms */
#define T_BIG		120000	/* 20 MiB through both processes and the fake */

#include "broker/front.h"
#include "tests/support/itest.h"

#define MIB		(1024 * 1024)
/* netproc's limit for one string (API_FIELD_MAX): with its ids and tags the
 * request, and the reply that echoes it, are above the old 16 MiB frame. */
#define BIG_TITLE	(16 * MIB)
#define REFUSALS	100		/* connection attempts past the limit */

static void
start(struct it_env *e, const char *const *args)
{
	struct it_opts o;

	memset(&o, 0, sizeof(o));
	o.ocb_args = args;
	if (it_start(e, &o) == -1)
		fail_msg("cannot start ocbroker and the fake");
}

static void
stop(struct it_env *e)
{
	int extra, st;

	st = it_stop(e, T_EXIT, &extra);
	assert_int_equal(st, 0);
	assert_false(extra);
}

static void
client(struct it_env *e, struct wsc *w)
{
	assert_int_equal(wsc_open(w, e->port, T_IO), 0);
	assert_int_equal(wsc_auth(w, e->token, 1, T_IO), 1);
}

/*
 * CreateSession with a 16 MiB title under --max-message 24M: the request
 * frame and the reply frame are both above 16 MiB, and the fake echoes the
 * title, so the answer is the real one, whole.  Before: the front could not
 * pack the request ("netproc is not reading"); the reply would have passed
 * the 8 MiB send queue cap (1013).
 */
static void
test_big_message(void **state)
{
	static const char *const args[] = { "--max-message", "25165824", NULL };
	struct it_env e;
	Opencode__ClientMessage cm = OPENCODE__CLIENT_MESSAGE__INIT;
	Opencode__CreateSessionRequest cs = OPENCODE__CREATE_SESSION_REQUEST__INIT;
	Opencode__ServerMessage *m;
	struct wsc w;
	char *title;

	(void)state;
	start(&e, args);
	client(&e, &w);
	assert_non_null(title = malloc(BIG_TITLE + 1));
	memset(title, 't', BIG_TITLE);
	title[BIG_TITLE] = '\0';
	cs._title_case = OPENCODE__CREATE_SESSION_REQUEST___TITLE_TITLE;
	cs.title = title;
	cm.request_id = 8;
	cm.payload_case = CMP(CREATE_SESSION);
	cm.create_session = &cs;
	assert_true(opencode__client_message__get_packed_size(&cm) > 16 * MIB);
	assert_int_equal(wsc_send_msg(&w, &cm, T_BIG), 0);
	m = wsc_recv_reply(&w, 8, T_BIG);
	assert_non_null(m);
	if (m->payload_case == SMP(ERROR))
		fail_msg("error %s: %s", m->error->code, m->error->message);
	assert_int_equal(m->payload_case, SMP(SESSION_INFO));
	assert_int_equal(m->session_info->_title_case,
	    OPENCODE__SESSION_INFO___TITLE_TITLE);
	assert_int_equal(strlen(m->session_info->title), BIG_TITLE);
	assert_true(strspn(m->session_info->title, "t") == BIG_TITLE);
	wsc_msg_free(m);
	free(title);
	/* The connection and netproc are still there: nothing restarted. */
	it_health(&w, 9, T_IO);
	wsc_close(&w);
	assert_int_equal(it_log_lines(e.ocb_log, "restarting in"), 0);
	assert_int_equal(it_log_lines(e.ocb_log, "asking for a restart"), 0);
	stop(&e);
}

/* Sums N of the front's "refused N connection(s)" lines in the log. */
static unsigned long
refused_in_log(const char *path, unsigned *lines)
{
	char line[1024], *p;
	unsigned long sum = 0;
	FILE *fp;

	*lines = 0;
	assert_non_null(fp = fopen(path, "r"));
	while (fgets(line, sizeof(line), fp) != NULL) {
		if (strstr(line, "front[") == NULL ||
		    (p = strstr(line, ": refused ")) == NULL ||
		    strstr(p, " connections already") == NULL)
			continue;
		sum += strtoul(p + 10, NULL, 10);
		(*lines)++;
	}
	fclose(fp);
	return sum;
}

static void
test_connection_limit(void **state)
{
	struct it_env e;
	struct rlimit rl;
	struct wsc *ws, extra;
	unsigned lines, retries = 0;
	int i, st;
	int64_t deadline;

	(void)state;
	/* FRONT_MAX_CONNS clients here and in the front, and some room. */
	assert_int_equal(getrlimit(RLIMIT_NOFILE, &rl), 0);
	if (rl.rlim_cur < FRONT_MAX_CONNS + 256) {
		if (rl.rlim_max != RLIM_INFINITY &&
		    rl.rlim_max < FRONT_MAX_CONNS + 256)
			skip();
		rl.rlim_cur = FRONT_MAX_CONNS + 256;
		assert_int_equal(setrlimit(RLIMIT_NOFILE, &rl), 0);
	}
	start(&e, NULL);
	assert_non_null(ws = calloc(FRONT_MAX_CONNS, sizeof(*ws)));
	for (i = 0; i < FRONT_MAX_CONNS; i++)
		client(&e, &ws[i]);

	/* Past the limit: 503 with Retry-After, then the socket is closed. */
	for (i = 0; i < REFUSALS; i++) {
		memset(&extra, 0, sizeof(extra));
		assert_int_equal(wsc_connect(&extra, e.port, T_IO), 0);
		/* The 503 may come before the request is even sent. */
		(void)wsc_send_handshake(&extra, NULL, NULL, T_IO);
		st = wsc_read_response(&extra, T_IO);
		if (st != 503)
			fail_msg("attempt %d: status %d, not 503", i, st);
		{
			char want[16];

			snprintf(want, sizeof(want), "%d", FRONT_RETRY_AFTER_S);
			assert_non_null(wsc_header(&extra, "Retry-After"));
			assert_string_equal(wsc_header(&extra, "Retry-After"),
			    want);
		}
		wsc_close(&extra);
	}

	/* Existing clients are unaffected. */
	it_health(&ws[0], 2, T_IO);
	it_health(&ws[FRONT_MAX_CONNS - 1], 2, T_IO);

	/* A slot that frees is taken by the next client. */
	wsc_close(&ws[0]);
	deadline = it_now_ms() + T_IO;
	for (;;) {
		memset(&ws[0], 0, sizeof(ws[0]));
		if (wsc_open(&ws[0], e.port, T_IO) == 0)
			break;
		wsc_close(&ws[0]);
		retries++;	/* refused (503) while the slot was not free yet */
		if (it_now_ms() > deadline)
			fail_msg("no slot freed");
		usleep(50 * 1000);
	}
	assert_int_equal(wsc_auth(&ws[0], e.token, 1, T_IO), 1);
	it_health(&ws[0], 3, T_IO);

	for (i = 0; i < FRONT_MAX_CONNS; i++)
		wsc_close(&ws[i]);
	free(ws);
	stop(&e);
	/* Every refusal counted, in a few lines: the first at once, then one
	 * per FRONT_REFUSED_LOG_S and the rest at shutdown. */
	assert_int_equal(refused_in_log(e.ocb_log, &lines), REFUSALS + retries);
	assert_true(lines >= 1 && lines <= REFUSALS / 10);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_big_message),
		cmocka_unit_test(test_connection_limit),
	};

	return IT_RUN("test_front_limits", tests, NULL);
}
