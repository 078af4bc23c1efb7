/*
 * Copyright (c) 2026 The ocbroker authors
 * SPDX-License-Identifier: ISC (the licence is in the file LICENSE)
 */

/*
 * bench_roundtrip: request latency through ocbroker against the same
 * request straight to the upstream, measured in one run.
 *
 * It starts tests/fake_upstream (the captured OpenCode 1.18.34 fixtures) and
 * ocbroker in front of it, opens one authenticated WebSocket, then times
 *   - K sequential ListSessions round trips through ocbroker
 *     (client -> front -> netproc -> libcurl -> fake -> back), and
 *   - K sequential `GET /session` round trips straight to the fake over one
 *     keep-alive HTTP/1.1 connection (a raw socket client),
 * in alternating batches so that machine noise hits both alike; and the same
 * for GetProviderStatus (the 6.5 MB /provider document) against a direct
 * `GET /provider`.  Both clients use blocking sockets with a receive
 * timeout: one send and one recv per round trip, nothing else.
 *
 * Breakdown rows (K/5 each, in the same alternation) locate the overhead:
 *   Subscribe		answered by the front alone (client <-> front);
 *   DeleteSession "../x"	refused by netproc before any HTTP
 *			(client <-> front <-> netproc);
 *   HealthCheck	the whole path with a 36-byte JSON body, beside a
 *			direct GET /global/health;
 * so ListSessions - HealthCheck is the cost of the 5.5 KB body (JSON parse
 * and mapping), HealthCheck - DeleteSession the cost of libcurl + the HTTP
 * hop, DeleteSession - Subscribe the IPC hop to netproc and back.
 *
 * Prints p50/p99/mean/min and the overhead (p50 difference and ratio), and
 * the CPU time the front and netproc spent per ListSessions.  Every wait is
 * bounded; the processes it starts are killed by PID.
 */
#include <sys/types.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench/bench_util.h"
#include "netproc/api.h"
#include "proto/messages.pb-c.h"

#define IO_TIMEOUT_MS	10000
#define START_TIMEOUT_MS 15000
#define MAX_K		100000

enum req {
	R_LIST,		/* ListSessions via ocbroker */
	R_DIRECT_SESSION,	/* GET /session direct */
	R_SUBSCRIBE,	/* Subscribe{}: the front alone */
	R_BADID,	/* DeleteSession "../x": netproc refuses it */
	R_HEALTH,	/* HealthCheck via ocbroker */
	R_DIRECT_HEALTH,	/* GET /global/health direct */
	R_PROVIDER,	/* GetProviderStatus via ocbroker */
	R_DIRECT_PROVIDER,	/* GET /provider direct */
	NREQ
};

static const struct {
	const char	*name;
	int		 direct;
	const char	*path;		/* direct */
	int		 want;		/* broker: the reply's payload field */
} reqs[NREQ] = {
	{ "ListSessions via ocbroker", 0, NULL, 20 },
	{ "GET /session direct (keep-alive)", 1, "/session", 0 },
	{ "Subscribe (front only)", 0, NULL, 0 },
	{ "DeleteSession ../x (to netproc)", 0, NULL, 100 },
	{ "HealthCheck via ocbroker", 0, NULL, 60 },
	{ "GET /global/health direct", 1, "/global/health", 0 },
	{ "GetProviderStatus via ocbroker", 0, NULL, 40 },
	{ "GET /provider direct (keep-alive)", 1, "/provider", 0 },
};

static const char	*ocb_path = BENCH_BUILD "/ocbroker";
static const char	*fake_path = BENCH_BUILD "/tests/fake_upstream";
static const char	*fixtures = BENCH_SRC "/tests/fixtures";
static const char	*perf_out;
static long		 K = 5000, batch = 100, warmup = 500, nprov = 20;

static struct bu_proc	 fake, ocb;
static struct bws	 ws;
static struct bu_http	 direct;
static uint16_t		 fport;
static uint64_t		 next_rid = 100;
static char		 direct_req[NREQ][256];
static size_t		 direct_len[NREQ];

static int64_t		*samples[NREQ];
static long		 nsamples[NREQ];

static void __attribute__((noreturn, format(printf, 1, 2)))
die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	bws_close(&ws);
	bu_vdie(&ocb, &fake, fmt, ap);
}

/* One request through ocbroker; returns its time, checks the reply. */
static int64_t
broker_rt(enum req k)
{
	Opencode__ClientMessage cm = OPENCODE__CLIENT_MESSAGE__INIT;
	Opencode__ListSessionsRequest ls = OPENCODE__LIST_SESSIONS_REQUEST__INIT;
	Opencode__GetProviderStatusRequest gp =
	    OPENCODE__GET_PROVIDER_STATUS_REQUEST__INIT;
	Opencode__Subscribe sb = OPENCODE__SUBSCRIBE__INIT;
	Opencode__DeleteSessionRequest ds =
	    OPENCODE__DELETE_SESSION_REQUEST__INIT;
	Opencode__HealthCheck hc = OPENCODE__HEALTH_CHECK__INIT;
	uint8_t buf[64];
	const uint8_t *data, *p, *bytes;
	size_t len, blen, plen;
	uint64_t rid = next_rid++, v, got_rid;
	uint32_t field;
	int op, wt, r, reply_case;
	int64_t t0, t1;

	cm.request_id = rid;
	switch (k) {
	case R_LIST:
		cm.payload_case = OPENCODE__CLIENT_MESSAGE__PAYLOAD_LIST_SESSIONS;
		cm.list_sessions = &ls;
		break;
	case R_PROVIDER:
		cm.payload_case =
		    OPENCODE__CLIENT_MESSAGE__PAYLOAD_GET_PROVIDER_STATUS;
		cm.get_provider_status = &gp;
		break;
	case R_SUBSCRIBE:
		cm.payload_case = OPENCODE__CLIENT_MESSAGE__PAYLOAD_SUBSCRIBE;
		cm.subscribe = &sb;
		break;
	case R_BADID:
		ds.session_id = (char *)"../x";
		cm.payload_case =
		    OPENCODE__CLIENT_MESSAGE__PAYLOAD_DELETE_SESSION;
		cm.delete_session = &ds;
		break;
	case R_HEALTH:
		cm.payload_case = OPENCODE__CLIENT_MESSAGE__PAYLOAD_HEALTH_CHECK;
		cm.health_check = &hc;
		break;
	default:
		die("not a broker request");
	}
	plen = opencode__client_message__pack(&cm, buf);

	t0 = bu_now_ns();
	if (bws_send(&ws, buf, plen, IO_TIMEOUT_MS) == -1)
		die("send: %s", strerror(errno));
	for (;;) {
		switch (bws_next(&ws, &op, &data, &len, IO_TIMEOUT_MS)) {
		case BWS_FRAME:
			break;
		case BWS_TIMEOUT:
			die("%s (request_id %llu, %llu sent so far): no reply "
			    "within %d ms", reqs[k].name,
			    (unsigned long long)rid,
			    (unsigned long long)(rid - 99), IO_TIMEOUT_MS);
		default:
			die("connection to ocbroker lost");
		}
		if (op == 0x8)
			die("ocbroker closed the WebSocket");
		if (op != 0x2)
			continue;	/* ping/pong */
		/* Walk the ServerMessage: its request_id and payload field. */
		p = data;
		got_rid = 0;
		reply_case = 0;
		while ((r = pbw_next(&p, data + len, &field, &wt, &v, &bytes,
		    &blen)) == 1) {
			if (field == 1 && wt == 0)
				got_rid = v;
			else if (wt == 2)
				reply_case = (int)field;
		}
		if (r == -1)
			die("undecodable ServerMessage");
		if (got_rid == rid)
			break;
		/* An event (request_id 0): not ours. */
	}
	t1 = bu_now_ns();
	if (reply_case != reqs[k].want)
		die("%s: reply carries field %d, expected %d", reqs[k].name,
		    reply_case, reqs[k].want);
	return t1 - t0;
}

static int64_t
direct_rt(enum req k)
{
	int64_t t0 = bu_now_ns();
	int st;

	if ((st = bu_http_get(&direct, direct_req[k], direct_len[k],
	    IO_TIMEOUT_MS)) != 200)
		die("direct %s: status %d", reqs[k].path, st);
	return bu_now_ns() - t0;
}

static void
run(enum req k, long n, int record)
{
	long i;
	int64_t ns;

	for (i = 0; i < n; i++) {
		ns = reqs[k].direct ? direct_rt(k) : broker_rt(k);
		if (record)
			samples[k][nsamples[k]++] = ns;
	}
}

static void
print_row(enum req k, struct bu_stats *s, const char *unit, double div)
{
	printf("  %-34s n=%-5zu p50 %8.1f  p99 %8.1f  mean %8.1f  "
	    "min %8.1f %s\n", reqs[k].name, s->n, s->p50 / div, s->p99 / div,
	    s->mean / div, s->min / div, unit);
}

static void __attribute__((noreturn))
usage(void)
{
	fprintf(stderr, "usage: bench_roundtrip [-k K] [--batch B] "
	    "[--warmup W] [--provider N]\n"
	    "    [--ocbroker PATH] [--fake PATH] [--fixtures DIR] "
	    "[--perf PREFIX]\n");
	exit(2);
}

static void
start(void)
{
	char upstream[64];
	char *fargv[4], *oargv[BU_OCB_ARGC];
	const char *level;

	fargv[0] = (char *)fake_path;
	fargv[1] = "--fixtures";
	fargv[2] = (char *)fixtures;
	fargv[3] = NULL;
	if (bu_spawn_upstream(&fake, fake_path, fargv, "roundtrip-fake",
	    START_TIMEOUT_MS, &fport) == -1)
		die("fake_upstream did not start (see %s)", fake.log);

	snprintf(upstream, sizeof(upstream), "http://127.0.0.1:%u",
	    (unsigned)fport);
	if ((level = getenv("BENCH_OCB_LOGLEVEL")) == NULL)
		level = "warn";
	(void)bu_ocb_argv(oargv, ocb_path, upstream, 0, level);
	if (bu_spawn(&ocb, ocb_path, oargv, "roundtrip-ocbroker") == -1)
		die("cannot start %s", ocb_path);
}

/*
 * Waits until netproc has its /event stream up at the fake: by then it reads
 * its channel from the event loop.  A request that reaches netproc while it
 * still reads its configuration can be left unprocessed in its IPC reader
 * until the next frame arrives (reported to the lead), so the first request
 * would wait for nothing.
 */
static void
wait_stream(void)
{
	int64_t deadline = bu_now_ns() + (int64_t)START_TIMEOUT_MS * 1000000;
	char resp[512];
	const char *s;

	for (;;) {
		if (bu_http_once(fport, "/__fake/count", resp, sizeof(resp),
		    IO_TIMEOUT_MS) == 200 &&
		    (s = strstr(resp, "\"streams\":")) != NULL &&
		    strtol(s + 10, NULL, 10) >= 1)
			return;
		if (bu_now_ns() > deadline)
			die("netproc never opened its /event stream");
		usleep(10000);
	}
}

/*
 * netproc's own mapper, api_reply_pack() (JSON parse + protobuf pack), on
 * the body just fetched, in this process: the CPU floor of the mapping,
 * without libcurl, IPC or WebSocket.  Returns the median in microseconds.
 */
static double
map_ref(int kind, long n)
{
	struct api_call call;
	struct api_response resp;
	int64_t *v, t0;
	uint8_t *out;
	size_t len;
	struct bu_stats s;
	long i;

	memset(&call, 0, sizeof(call));
	call.request_id = 1;
	call.method = API_GET;
	call.kind = kind;
	memset(&resp, 0, sizeof(resp));
	resp.status = 200;
	resp.content_type = "application/json";
	resp.body = direct.body;
	resp.body_len = direct.body_len;
	if ((v = calloc((size_t)n, sizeof(*v))) == NULL)
		die("out of memory");
	for (i = 0; i < n; i++) {
		t0 = bu_now_ns();
		if (api_reply_pack(&call, &resp, &out, &len) == -1)
			die("api_reply_pack failed");
		v[i] = bu_now_ns() - t0;
		free(out);
	}
	bu_stats(v, (size_t)n, &s);
	free(v);
	return s.p50;
}

int
main(int argc, char *argv[])
{
	static const struct bu_opt opts[] = {
		{ "k",		BU_LONG, &K,		10, MAX_K },
		{ "batch",	BU_LONG, &batch,	5, MAX_K },
		{ "warmup",	BU_LONG, &warmup,	0, MAX_K },
		{ "provider",	BU_LONG, &nprov,	1, 1000 },
		{ "ocbroker",	BU_STR,	 &ocb_path,	0, 0 },
		{ "fake",	BU_STR,	 &fake_path,	0, 0 },
		{ "fixtures",	BU_STR,	 &fixtures,	0, 0 },
		{ "perf",	BU_STR,	 &perf_out,	0, 0 },
	};
	/* Each batch round runs these, in an order that rotates. */
	static const enum req main_set[] = { R_LIST, R_DIRECT_SESSION,
	    R_SUBSCRIBE, R_BADID, R_HEALTH, R_DIRECT_HEALTH };
	const size_t nmain = sizeof(main_set) / sizeof(main_set[0]);
	struct bu_stats st[NREQ];
	char line[1024], token[128], version[64], perf_file[512];
	uint16_t port;
	pid_t kids[8], perf_pid = -1, front_pid, netproc_pid;
	double cf0, cn0, pf0, pn0, load0, load1, map_session, map_provider;
	size_t nk = 0, session_body, provider_body, m;
	long i, small, rounds, r;
	int k;

	bu_opts(argc, argv, opts, sizeof(opts) / sizeof(opts[0]), usage);
	load0 = bu_begin();

	start();
	if (bu_read_line(&ocb, line, sizeof(line), START_TIMEOUT_MS) == -1 ||
	    bu_parse_ready(line, &port, token, sizeof(token), version,
	    sizeof(version)) == -1)
		die("no ready line from ocbroker (see %s)", ocb.log);
	wait_stream();
	if (bws_open_auth(&ws, port, token, 1 << 20, IO_TIMEOUT_MS) == -1)
		die("cannot open an authenticated WebSocket");
	if (bws_set_blocking(&ws, IO_TIMEOUT_MS) == -1)
		die("setsockopt");
	if (bu_http_open(&direct, fport, IO_TIMEOUT_MS) == -1)
		die("cannot connect to the fake upstream");
	for (k = 0; k < NREQ; k++) {
		if (reqs[k].direct)
			direct_len[k] = (size_t)snprintf(direct_req[k],
			    sizeof(direct_req[k]), "GET %s HTTP/1.1\r\n"
			    "Host: 127.0.0.1:%u\r\nAccept: application/json"
			    "\r\n\r\n", reqs[k].path, (unsigned)fport);
		if ((samples[k] = calloc((size_t)(K > nprov ? K : nprov),
		    sizeof(int64_t))) == NULL)
			die("out of memory");
	}

	/* Warm-up: connections, caches, the CPU's frequency. */
	for (m = 0; m < nmain; m++)
		run(main_set[m], warmup, 0);
	run(R_DIRECT_SESSION, 1, 0);
	session_body = direct.body_len;

	if (bu_role_pids(ocb.pid, &front_pid, &netproc_pid) == -1)
		die("cannot find ocbroker's front and netproc");
	if (perf_out != NULL) {
		kids[0] = front_pid;
		kids[1] = netproc_pid;
		nk = 2;
		snprintf(perf_file, sizeof(perf_file), "%s-list.data", perf_out);
		perf_pid = bu_perf_start(kids, nk, perf_file);
		fprintf(stderr, "perf record on front %d, netproc %d -> %s\n",
		    (int)front_pid, (int)netproc_pid, perf_file);
	}

	/*
	 * Alternating batches, the order rotating every round.  Only the
	 * ListSessions rounds are charged to the CPU counters below: the
	 * breakdown rows are run outside that window.
	 */
	small = batch / 5;
	rounds = (K + batch - 1) / batch;
	cf0 = cn0 = 0;
	for (r = 0; r < rounds; r++) {
		for (m = 0; m < nmain; m++) {
			enum req q = main_set[(m + (size_t)r) % nmain];
			long n = q == R_LIST || q == R_DIRECT_SESSION ?
			    batch : small;

			if (q == R_LIST) {
				cf0 -= bu_cpu_seconds(front_pid);
				cn0 -= bu_cpu_seconds(netproc_pid);
			}
			run(q, n, 1);
			if (q == R_LIST) {
				cf0 += bu_cpu_seconds(front_pid);
				cn0 += bu_cpu_seconds(netproc_pid);
			}
		}
	}

	if (perf_pid > 0) {
		bu_perf_stop(perf_pid);
		snprintf(perf_file, sizeof(perf_file), "%s-provider.data",
		    perf_out);
		perf_pid = bu_perf_start(kids, nk, perf_file);
		fprintf(stderr, "perf record -> %s\n", perf_file);
	}

	/* The 6.5 MB /provider: two warm-ups, then one by one, alternating. */
	run(R_PROVIDER, 2, 0);
	run(R_DIRECT_PROVIDER, 2, 0);
	pf0 = pn0 = 0;
	for (i = 0; i < nprov; i++) {
		if (i & 1)
			run(R_DIRECT_PROVIDER, 1, 1);
		pf0 -= bu_cpu_seconds(front_pid);
		pn0 -= bu_cpu_seconds(netproc_pid);
		run(R_PROVIDER, 1, 1);
		pf0 += bu_cpu_seconds(front_pid);
		pn0 += bu_cpu_seconds(netproc_pid);
		if (!(i & 1))
			run(R_DIRECT_PROVIDER, 1, 1);
	}
	if (perf_pid > 0)
		bu_perf_stop(perf_pid);
	provider_body = direct.body_len;
	run(R_DIRECT_SESSION, 1, 0);
	map_session = map_ref(API_KIND_SESSION_LIST, 2000);
	run(R_DIRECT_PROVIDER, 1, 0);
	map_provider = map_ref(API_KIND_PROVIDER_STATUS, 5);
	load1 = bu_loadavg();

	for (k = 0; k < NREQ; k++)
		bu_stats(samples[k], (size_t)nsamples[k], &st[k]);

	bu_print_header("bench_roundtrip", load0, load1, version);
	printf("ListSessions: %ld round trips each, batches of %ld "
	    "(breakdown rows %ld per batch), after %ld warm-up; /session "
	    "body %zu bytes\n", K, batch, small, warmup, session_body);
	print_row(R_LIST, &st[R_LIST], "us", 1);
	print_row(R_DIRECT_SESSION, &st[R_DIRECT_SESSION], "us", 1);
	printf("  overhead p50 %+.1f us (x%.2f), p99 %+.1f us, mean %+.1f us"
	    "   [target: p50 overhead <= 60 us: %s]\n",
	    st[R_LIST].p50 - st[R_DIRECT_SESSION].p50,
	    st[R_LIST].p50 / st[R_DIRECT_SESSION].p50,
	    st[R_LIST].p99 - st[R_DIRECT_SESSION].p99,
	    st[R_LIST].mean - st[R_DIRECT_SESSION].mean,
	    st[R_LIST].p50 - st[R_DIRECT_SESSION].p50 <= 60 ? "met" :
	    "MISSED");
	printf("  CPU per ListSessions round trip: front %.1f us, netproc "
	    "%.1f us\n", cf0 * 1e6 / (double)nsamples[R_LIST],
	    cn0 * 1e6 / (double)nsamples[R_LIST]);
	printf("breakdown (same run, interleaved):\n");
	print_row(R_SUBSCRIBE, &st[R_SUBSCRIBE], "us", 1);
	print_row(R_BADID, &st[R_BADID], "us", 1);
	print_row(R_HEALTH, &st[R_HEALTH], "us", 1);
	print_row(R_DIRECT_HEALTH, &st[R_DIRECT_HEALTH], "us", 1);
	printf("  p50 steps: client<->front %.1f, +IPC to netproc %+.1f, "
	    "+curl/HTTP hop over direct %+.1f, +5.5 KB body %+.1f us\n",
	    st[R_SUBSCRIBE].p50, st[R_BADID].p50 - st[R_SUBSCRIBE].p50,
	    st[R_HEALTH].p50 - st[R_BADID].p50 - st[R_DIRECT_HEALTH].p50,
	    (st[R_LIST].p50 - st[R_HEALTH].p50) -
	    (st[R_DIRECT_SESSION].p50 - st[R_DIRECT_HEALTH].p50));
	printf("  netproc's api_reply_pack() on the /session body, in-process:"
	    " %.1f us (p50 of 2000)\n", map_session);
	printf("GetProviderStatus (6.5 MB /provider): %ld each, alternating, "
	    "after 2 warm-up; body %zu bytes\n", nprov, provider_body);
	print_row(R_PROVIDER, &st[R_PROVIDER], "ms", 1000);
	print_row(R_DIRECT_PROVIDER, &st[R_DIRECT_PROVIDER], "ms", 1000);
	printf("  overhead p50 %+.2f ms (x%.2f)\n",
	    (st[R_PROVIDER].p50 - st[R_DIRECT_PROVIDER].p50) / 1000,
	    st[R_PROVIDER].p50 / st[R_DIRECT_PROVIDER].p50);
	printf("  CPU per GetProviderStatus: front %.2f ms, netproc %.2f ms\n",
	    pf0 * 1e3 / (double)nprov, pn0 * 1e3 / (double)nprov);
	printf("  netproc's api_reply_pack() on the /provider body, in-process:"
	    " %.2f ms (p50 of 5)\n", map_provider / 1000);

	bu_http_close(&direct);
	bws_close(&ws);
	bu_stop(&ocb, 5000);
	bu_stop(&fake, 5000);
	for (k = 0; k < NREQ; k++)
		free(samples[k]);
	return 0;
}
