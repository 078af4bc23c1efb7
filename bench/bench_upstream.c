/*
 * Copyright (c) 2026 The ocbroker authors
 * SPDX-License-Identifier: ISC (the licence is in the file LICENSE)
 */

/*
 * netproc's request path in one process, for timing and callgrind
 * instruction counts: upstream.c (libcurl multi on libevent) and api.c's
 * reply mapping, against tests/fake_upstream, one request at a time.
 *
 *   bench_upstream [--fake PATH] [--fixtures DIR] [-n N] [list|health|provider]
 *
 * It starts the fake itself (killed by PID at the end), makes N requests
 * after 50 of warm-up, and prints the median and minimum round trip.  For
 * instruction counts, callgrind with --toggle-collect=run_requests counts
 * the measured requests only (divide by N):
 *
 *   valgrind --tool=callgrind --collect-atstart=no \
 *       --toggle-collect=run_requests bench_upstream -n 2000 list
 */
#include "config.h"

#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <event2/event.h>

#include "common/log.h"
#include "bench/bench_base.h"
#include "netproc/api.h"
#include "netproc/upstream.h"

#ifndef BENCH_BUILD
#define BENCH_BUILD "."
#endif
#ifndef BENCH_SRC
#define BENCH_SRC "."
#endif

static struct event_base	*base;
static int			 done;
static size_t			 last_len;

static void __attribute__((noreturn))
die(const char *m)
{
	fprintf(stderr, "bench_upstream: %s\n", m);
	exit(1);
}

static void
done_cb(void *arg, uint64_t conn_id, uint64_t request_id, const uint8_t *msg,
    size_t len)
{
	(void)arg;
	(void)conn_id;
	(void)request_id;
	(void)msg;
	last_len = len;
	done = 1;
	event_base_loopbreak(base);
}

static void
one(struct upstream *up, const char *path, int kind)
{
	struct api_call	*c;

	if ((c = calloc(1, sizeof(*c))) == NULL)
		die("out of memory");
	c->request_id = 1;
	c->method = API_GET;
	c->kind = kind;
	snprintf(c->path, sizeof(c->path), "%s", path);
	done = 0;
	upstream_submit(up, 1, c);
	while (!done)
		if (event_base_loop(base, EVLOOP_ONCE) == -1)
			die("event loop");
}

/* Not static: callgrind's --toggle-collect names it. */
void	run_requests(struct upstream *, const char *, int, long, int64_t *);

void
run_requests(struct upstream *up, const char *path, int kind, long n,
    int64_t *v)
{
	int64_t	t0;
	long	i;

	for (i = 0; i < n; i++) {
		t0 = bu_now_ns();
		one(up, path, kind);
		v[i] = bu_now_ns() - t0;
	}
}

int
main(int argc, char *argv[])
{
	const char		*fake = BENCH_BUILD "/tests/fake_upstream";
	const char		*fixtures = BENCH_SRC "/tests/fixtures";
	const char		*path = "/session";
	struct upstream_config	 cfg;
	struct upstream		*up;
	char			 line[128], url[64];
	int64_t			*v;
	long			 n = 2000;
	FILE			*fp;
	pid_t			 pid;
	int			 pfd[2], ch, kind = API_KIND_SESSION_LIST, port;

	while ((ch = getopt(argc, argv, "n:f:x:")) != -1) {
		switch (ch) {
		case 'n': n = strtol(optarg, NULL, 10); break;
		case 'f': fake = optarg; break;
		case 'x': fixtures = optarg; break;
		default: die("usage: bench_upstream [-f fake] [-x fixtures] "
		    "[-n N] [list|health|provider]");
		}
	}
	if (optind < argc) {
		if (strcmp(argv[optind], "health") == 0) {
			path = "/global/health";
			kind = API_KIND_HEALTH;
		} else if (strcmp(argv[optind], "provider") == 0) {
			path = "/provider";
			kind = API_KIND_PROVIDER_STATUS;
		}
	}
	if (n < 1)
		n = 1;
	if (pipe(pfd) == -1)
		die("pipe");
	if ((pid = fork()) == -1)
		die("fork");
	if (pid == 0) {
		int	null = open("/dev/null", O_WRONLY);

		dup2(pfd[1], 1);
		if (null != -1)
			dup2(null, 2);	/* the fake logs every request */
		close(pfd[0]);
		execl(fake, fake, "--fixtures", fixtures, "--heartbeat", "0",
		    (char *)NULL);
		_exit(127);
	}
	close(pfd[1]);
	if ((fp = fdopen(pfd[0], "r")) == NULL ||
	    fgets(line, sizeof(line), fp) == NULL ||
	    sscanf(line, "{\"port\":%d}", &port) != 1) {
		kill(pid, SIGTERM);
		die("the fake did not start");
	}
	snprintf(url, sizeof(url), "http://127.0.0.1:%d", port);

	log_init("bench", 0, 0);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	if ((base = event_base_new()) == NULL)
		die("event_base_new");
	memset(&cfg, 0, sizeof(cfg));
	cfg.url = url;
	if ((up = upstream_new(base, &cfg, done_cb, NULL)) == NULL)
		die("upstream_new");
	if ((v = calloc((size_t)(n > 50 ? n : 50), sizeof(*v))) == NULL)
		die("out of memory");
	run_requests(up, path, kind, 0, v);	/* named for callgrind */
	for (long i = 0; i < 50; i++)
		one(up, path, kind);
	run_requests(up, path, kind, n, v);
	bu_sort_i64(v, (size_t)n);
	printf("%s: n=%ld reply %zu bytes, p50 %.2f us, min %.2f us\n", path,
	    n, last_len, v[n / 2] / 1e3, v[0] / 1e3);
	upstream_free(up);
	event_base_free(base);
	curl_global_cleanup();
	kill(pid, SIGTERM);
	waitpid(pid, NULL, 0);
	free(v);
	return 0;
}
