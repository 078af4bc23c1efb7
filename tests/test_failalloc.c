/*
 * Copyright (c) 2026 The ocbroker authors
 * SPDX-License-Identifier: ISC (the licence is in the file LICENSE)
 */

/*
 * Out of memory is never a protocol violation (issue 11, item 12): with
 * allocations failing at random in the front (tests/failalloc.so preloaded,
 * the real ocbroker without its sandbox, tests/fake_upstream upstream),
 * several clients run integration requests, and:
 * - no process exits: the parent logs no restart, the front's and netproc's
 *   pids are the ones from before, ocbroker exits 0 at the end;
 * - every request gets exactly one reply carrying its id (the expected
 *   payload, or ErrorResponse{INTERNAL}), unless its connection is closed,
 *   and a connection is closed only with 1011;
 * - the costs are bounded by the failures: the INTERNAL replies, the 1011
 *   closes and the connection attempts that failed together are at most the
 *   allocations the shim failed (each failure costs one request or one
 *   connection, nothing else);
 * - a control client, set up before the failures start, is one of the
 *   clients during them and gets real answers to everything once they stop
 *   (on its first connection, or on a new one when that was closed 1011),
 *   like a client that connects afterwards.
 * Failures are armed with SIGUSR1 once every client is set up and disarmed
 * with SIGUSR2 (which makes the shim log how many it failed); which
 * allocations fail is decided by a fixed seed and the allocation's number,
 * and the test counts rounds, not time.  test_front fails allocations in the
 * front, test_netproc in netproc.
 *
 * Skipped (77) in a sanitizer build (the sanitizer's allocator is linked
 * into the executable, ahead of any preloaded one) and without glibc (the
 * shim calls glibc's __libc_malloc).  Which allocations fail follows the
 * order of the calls, which the scheduling of the processes can change from
 * run to run; what is checked holds for any order.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <errno.h>
#include <limits.h>

#define T_IO		10000	/* ordinary wait, ms */
#define T_REPLY		30000	/* every reply of a batch, on a loaded machine */

#include "tests/support/itest.h"

#define WORKERS		4	/* clients besides the control one */
#define ROUNDS		30
#define BATCH		8	/* requests in flight per client and round */
#define RECONNECT	5	/* workers reconnect every RECONNECT rounds */
#define SETUP_TRIES	200	/* connection attempts per client, at most */
#define MIN_FAILURES	20	/* fewer: the test tested nothing */

#define FX_SESSION	"ses_de9d9dd34ffervjM6BvxQjuyqi"

enum kind { K_HEALTH, K_LIST, K_CREATE, K_GET, K_AGENTS, K_SUBSCRIBE, K_N };

static const Opencode__ServerMessage__PayloadCase expect[K_N] = {
	SMP(UPSTREAM_HEALTH), SMP(SESSION_LIST), SMP(SESSION_INFO),
	SMP(SESSION_INFO), SMP(AGENT_LIST),
	OPENCODE__SERVER_MESSAGE__PAYLOAD__NOT_SET,	/* Subscribe: done */
};

struct pending {
	uint64_t	rid;
	enum kind	kind;
};

struct client {
	struct wsc	w;
	int		open;
	int		broken;		/* a send failed: read the close */
	unsigned	idx;		/* varies the mix of requests */
	uint64_t	next_rid;
	struct pending	p[BATCH];
	size_t		np;
};

struct tally {
	unsigned long	sent, ok, internal, closes, setup_failed, lost;
};

static struct it_env env;

/* ---- requests ---- */

static int
send_req(struct client *c, enum kind k, uint64_t rid)
{
	Opencode__ClientMessage cm = OPENCODE__CLIENT_MESSAGE__INIT;
	Opencode__CreateSessionRequest cs = OPENCODE__CREATE_SESSION_REQUEST__INIT;
	Opencode__Subscribe su = OPENCODE__SUBSCRIBE__INIT;
	char *ids[1] = { (char *)FX_SESSION };

	cm.request_id = rid;
	switch (k) {
	case K_HEALTH:
		return it_send_empty(&c->w, rid, CMP(HEALTH_CHECK), T_IO);
	case K_LIST:
		return it_send_empty(&c->w, rid, CMP(LIST_SESSIONS), T_IO);
	case K_AGENTS:
		return it_send_empty(&c->w, rid, CMP(LIST_AGENTS), T_IO);
	case K_GET:
		return it_send_str(&c->w, rid, CMP(GET_SESSION), FX_SESSION,
		    T_IO);
	case K_CREATE:
		cs._title_case = OPENCODE__CREATE_SESSION_REQUEST___TITLE_TITLE;
		cs.title = (char *)"failalloc";
		cm.payload_case = CMP(CREATE_SESSION);
		cm.create_session = &cs;
		break;
	case K_SUBSCRIBE:
		su.n_session_ids = 1;
		su.session_ids = ids;
		cm.payload_case = CMP(SUBSCRIBE);
		cm.subscribe = &su;
		break;
	case K_N:
		break;
	}
	return wsc_send_msg(&c->w, &cm, T_IO);
}

/*
 * The auth handshake on an upgraded connection: 1 when it succeeded, 0 when
 * the front ran out of memory for it, which may answer INTERNAL (with the
 * handshake's id) and must then close with 1011.  Anything else fails.
 */
static int
client_auth(struct client *c)
{
	Opencode__ClientMessage cm = OPENCODE__CLIENT_MESSAGE__INIT;
	Opencode__AuthHandshake ah = OPENCODE__AUTH_HANDSHAKE__INIT;
	Opencode__ServerMessage *m;
	struct wsc_frame f;
	enum wsc_kind k;
	int64_t deadline = it_now_ms() + T_IO;

	ah.token = env.token;
	cm.request_id = 77;
	cm.payload_case = CMP(AUTH_HANDSHAKE);
	cm.auth_handshake = &ah;
	(void)wsc_send_msg(&c->w, &cm, T_IO);	/* a close is read below */
	for (;;) {
		int64_t left = deadline - it_now_ms();

		if (left <= 0)
			fail_msg("auth: no answer and no close");
		k = wsc_recv(&c->w, &f, (int)left);
		if (k == WSC_CLOSE) {
			if (f.code != WS_CLOSE_INTERNAL)
				fail_msg("auth: closed with %u", f.code);
			wsc_frame_free(&f);
			return 0;
		}
		if (k == WSC_TIMEOUT || k == WSC_PING || k == WSC_PONG) {
			if (k != WSC_TIMEOUT)
				wsc_frame_free(&f);
			continue;
		}
		if (k != WSC_MESSAGE)
			fail_msg("auth: connection ended without 1011 (%d)",
			    (int)k);
		m = opencode__server_message__unpack(NULL, f.len, f.data);
		wsc_frame_free(&f);
		if (m == NULL || m->request_id != 77)
			fail_msg("auth: an answer that is not the handshake's");
		if (m->payload_case == SMP(AUTH_HANDSHAKE_RESPONSE) &&
		    m->auth_handshake_response->success) {
			opencode__server_message__free_unpacked(m, NULL);
			return 1;
		}
		if (m->payload_case != SMP(ERROR) ||
		    strcmp(m->error->code, "INTERNAL") != 0)
			fail_msg("auth: answered %d", (int)m->payload_case);
		opencode__server_message__free_unpacked(m, NULL);
		/* INTERNAL: the 1011 follows. */
	}
}

/*
 * Opens and authenticates c, trying again while attempts fail: under failing
 * allocations the front may close a new connection (1011 once upgraded, a
 * plain close or no 101 before: there is no WebSocket yet).  Each failed
 * attempt is counted.
 */
static void
client_open(struct client *c, struct tally *t)
{
	for (int i = 0; i < SETUP_TRIES; i++) {
		memset(&c->w, 0, sizeof(c->w));
		if (wsc_open(&c->w, env.port, T_IO) == 0 && client_auth(c)) {
			c->open = 1;
			c->broken = 0;
			c->np = 0;
			return;
		}
		wsc_close(&c->w);
		t->setup_failed++;
	}
	fail_msg("no connection in %d attempts", SETUP_TRIES);
}

static void
client_send(struct client *c, struct tally *t, size_t n)
{
	for (size_t i = 0; i < n && c->open; i++) {
		struct pending *p = &c->p[c->np];

		p->rid = ++c->next_rid;
		p->kind = (enum kind)((p->rid + c->idx) % K_N);
		if (send_req(c, p->kind, p->rid) == -1) {
			c->broken = 1;	/* closed: the close is read below */
			break;
		}
		c->np++;
		t->sent++;
	}
}

/*
 * Reads until every pending request has its reply or the connection is
 * closed (with 1011: its pending requests go with it).  strict: a reply
 * must be the real one, not INTERNAL.
 */
static void
client_collect(struct client *c, struct tally *t, int strict, const char *who)
{
	int64_t deadline = it_now_ms() + T_REPLY;

	while (c->open && (c->np > 0 || c->broken)) {
		struct wsc_frame f;
		Opencode__ServerMessage *m;
		enum wsc_kind k;
		size_t i;
		int64_t left = deadline - it_now_ms();

		if (left <= 0 && c->np == 0)
			fail_msg("%s: a send failed, and no close came", who);
		if (left <= 0)
			fail_msg("%s: %zu requests not answered (first id %llu)",
			    who, c->np, (unsigned long long)c->p[0].rid);
		k = wsc_recv(&c->w, &f, (int)left);
		switch (k) {
		case WSC_MESSAGE:
			break;
		case WSC_PING:
		case WSC_PONG:
			wsc_frame_free(&f);
			continue;
		case WSC_CLOSE:
			if (f.code != WS_CLOSE_INTERNAL || strict)
				fail_msg("%s: closed with %u", who, f.code);
			wsc_frame_free(&f);
			t->closes++;
			t->lost += c->np;
			c->np = 0;
			c->open = 0;
			wsc_close(&c->w);
			return;
		case WSC_TIMEOUT:
			continue;
		default:
			fail_msg("%s: connection ended without 1011 (%d)", who,
			    (int)k);
		}
		m = opencode__server_message__unpack(NULL, f.len, f.data);
		wsc_frame_free(&f);
		if (m == NULL)
			fail_msg("%s: a reply that is not a ServerMessage", who);
		if (m->request_id == 0) {
			opencode__server_message__free_unpacked(m, NULL);
			continue;	/* an event */
		}
		for (i = 0; i < c->np; i++)
			if (c->p[i].rid == m->request_id)
				break;
		if (i == c->np)
			fail_msg("%s: reply %llu answers nothing pending", who,
			    (unsigned long long)m->request_id);
		if (m->payload_case == SMP(ERROR)) {
			if (strict || strcmp(m->error->code, "INTERNAL") != 0)
				fail_msg("%s: request %llu: %s: %s", who,
				    (unsigned long long)m->request_id,
				    m->error->code, m->error->message);
			t->internal++;
		} else if (m->payload_case != expect[c->p[i].kind])
			fail_msg("%s: request %llu (kind %d): payload %d", who,
			    (unsigned long long)m->request_id,
			    (int)c->p[i].kind, (int)m->payload_case);
		else
			t->ok++;
		c->p[i] = c->p[--c->np];
		opencode__server_message__free_unpacked(m, NULL);
	}
}

/* ---- the processes ---- */

/* Lines of the ocbroker log that contain s. */
static unsigned long
log_count(const char *s, unsigned long *sum_failed)
{
	char line[2048], *p;
	unsigned long n = 0;
	FILE *fp;

	if (sum_failed != NULL)
		*sum_failed = 0;
	assert_non_null(fp = fopen(env.ocb_log, "r"));
	while (fgets(line, sizeof(line), fp) != NULL) {
		if ((p = strstr(line, s)) == NULL)
			continue;
		n++;
		if (sum_failed != NULL && (p = strstr(p, "]: ")) != NULL)
			*sum_failed += strtoul(p + 3, NULL, 10);
	}
	fclose(fp);
	return n;
}

/* The shim's path: beside this test, or FAILALLOC_SO. */
static void
shim_path(char *out, size_t outsz)
{
	const char *v = getenv("FAILALLOC_SO");
	char self[PATH_MAX - 32];
	ssize_t n;
	char *slash;

	if (v != NULL && *v != '\0') {
		snprintf(out, outsz, "%s", v);
		return;
	}
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	assert_true(n > 0);
	self[n] = '\0';
	assert_non_null(slash = strrchr(self, '/'));
	*slash = '\0';
	/* libtool-free build: the test is in tests/, and so is the shim. */
	snprintf(out, outsz, "%s/failalloc.so", self);
}

/* 1 in rate allocations fails, in the processes of roles, from seed. */
static void
run(const char *roles, unsigned long seed, unsigned rate_n)
{
	static const char *const restarts[] = { "restarting in",
	    "netproc restarted", "asking for a restart", "asked for a netproc",
	    "netproc went away", "exiting", NULL };
	struct client ctl, wk[WORKERS];
	struct tally t;
	struct it_opts o;
	char so[PATH_MAX], sd[32], rate[16];
	pid_t front, netproc, target;
	unsigned long failed, reports;
	int extra, st;

	memset(&t, 0, sizeof(t));
	memset(&o, 0, sizeof(o));
	memset(&ctl, 0, sizeof(ctl));
	memset(wk, 0, sizeof(wk));
	shim_path(so, sizeof(so));
	if (access(so, R_OK) == -1)
		fail_msg("%s: %s", so, strerror(errno));
	snprintf(sd, sizeof(sd), "%lu", seed);
	snprintf(rate, sizeof(rate), "%u", rate_n);
	/* Only ocbroker and the fake inherit these; the shim is inert in the
	 * fake (its roles never match) and in every unlisted role. */
	setenv("OCB_IT_SANDBOX", "0", 1);
	setenv("LD_PRELOAD", so, 1);
	setenv("FAILALLOC_ROLES", roles, 1);
	setenv("FAILALLOC_RATE", rate, 1);
	setenv("FAILALLOC_SEED", sd, 1);
	setenv("FAILALLOC_ARM", "signal", 1);
	st = it_start(&env, &o);
	unsetenv("LD_PRELOAD");
	unsetenv("FAILALLOC_ROLES");
	unsetenv("FAILALLOC_RATE");
	unsetenv("FAILALLOC_SEED");
	unsetenv("FAILALLOC_ARM");
	if (st == -1)
		fail_msg("cannot start ocbroker and the fake");
	assert_true((front = procfs_wait_role(env.ocb_pid, "front", T_IO)) > 0);
	assert_true((netproc = procfs_wait_role(env.ocb_pid, "netproc", T_IO)) > 0);
	target = strcmp(roles, "front") == 0 ? front : netproc;

	/* Every client set up and answered once before anything fails. */
	client_open(&ctl, &t);
	for (int i = 0; i < WORKERS; i++) {
		wk[i].idx = (unsigned)i + 1;
		client_open(&wk[i], &t);
	}
	client_send(&ctl, &t, 2);
	client_collect(&ctl, &t, 1, "control");
	assert_int_equal(t.setup_failed, 0);
	memset(&t, 0, sizeof(t));

	assert_int_equal(kill(target, SIGUSR1), 0);
	for (int r = 0; r < ROUNDS; r++) {
		for (int i = 0; i < WORKERS; i++) {
			/* New connections meet the failures too: accept,
			 * upgrade and auth. */
			if (wk[i].open && r % RECONNECT == RECONNECT - 1) {
				wsc_close(&wk[i].w);
				wk[i].open = 0;
			}
			if (!wk[i].open)
				client_open(&wk[i], &t);
			client_send(&wk[i], &t, BATCH);
		}
		if (!ctl.open)
			client_open(&ctl, &t);
		client_send(&ctl, &t, 2);
		for (int i = 0; i < WORKERS; i++)
			client_collect(&wk[i], &t, 0, "worker");
		client_collect(&ctl, &t, 0, "control");
	}
	assert_int_equal(kill(target, SIGUSR2), 0);

	/* Failures off: the control client, on its connection or a new one,
	 * and a client that connects now get the real answers. */
	if (!ctl.open)
		client_open(&ctl, &t);
	client_send(&ctl, &t, BATCH);
	client_collect(&ctl, &t, 1, "control after");
	wsc_close(&wk[0].w);
	memset(&wk[0], 0, sizeof(wk[0]));
	wk[0].idx = 1;
	client_open(&wk[0], &t);
	client_send(&wk[0], &t, BATCH);
	client_collect(&wk[0], &t, 1, "new client after");

	/* No process exited or was restarted. */
	assert_int_equal(procfs_role_pid(env.ocb_pid, "front"), front);
	assert_int_equal(procfs_role_pid(env.ocb_pid, "netproc"), netproc);
	for (int i = 0; restarts[i] != NULL; i++)
		if (log_count(restarts[i], NULL) != 0)
			fail_msg("the log says \"%s\" (%s)", restarts[i],
			    env.ocb_log);

	wsc_close(&ctl.w);
	for (int i = 0; i < WORKERS; i++)
		wsc_close(&wk[i].w);
	st = it_stop(&env, T_EXIT, &extra);
	reports = log_count("failalloc: ", &failed);
	fprintf(stderr, "# %s 1/%u seed %lu: %lu requests, %lu answered, %lu "
	    "INTERNAL, %lu closed 1011 (%lu requests with them), %lu failed "
	    "connection attempts; %lu allocations failed\n", roles, rate_n,
	    seed,
	    t.sent, t.ok, t.internal, t.closes, t.lost, t.setup_failed, failed);
	assert_int_equal(st, 0);
	assert_false(extra);
	assert_int_equal(reports, 1);
	assert_true(failed >= MIN_FAILURES);
	/* Each failure costs one request or one connection at most. */
	assert_true(t.internal + t.closes + t.setup_failed <= failed);
	assert_int_equal(t.ok + t.internal + t.lost, t.sent);
}

static void
test_front(void **state)
{
	(void)state;
	run("front", 1, 40);
	run("front", 2, 40);
	run("front", 3, 8);
}

static void
test_netproc(void **state)
{
	(void)state;
	run("netproc", 1, 40);
	run("netproc", 2, 8);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_front),
		cmocka_unit_test(test_netproc),
	};

#ifdef OCB_SANITIZERS
	fprintf(stderr, "skipped: a sanitizer build's allocator cannot be "
	    "replaced by a preloaded one\n");
	return 77;
#endif
#if !defined(__linux__) || !defined(__GLIBC__)
	fprintf(stderr, "skipped: the shim needs Linux and glibc\n");
	return 77;
#endif
	return IT_RUN("test_failalloc", tests, NULL);
}
