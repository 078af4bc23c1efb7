/*
 * Copyright (c) 2026 The ocbroker authors
 * SPDX-License-Identifier: ISC (the licence is in the file LICENSE)
 */

/*
 * In-process micro-benchmark of netproc's mappers, for timing and for
 * callgrind instruction counts:
 *
 *   bench_map list N [file]	api_reply_pack(SESSION_LIST) on the /session body
 *   bench_map provider N file	api_reply_pack(PROVIDER_STATUS) on /provider
 *   bench_map auth N file	api_reply_pack(AUTH_STATUS, "anthropic") on it
 *   bench_map providers N file	ListProviders (connected, then include_all)
 *				beside GetProviderStatus, in one run
 *   bench_map providers-all N file  ListProviders include_all only (for
 *				perf stat: its instructions alone)
 *   bench_map delta N		event_map on flood_upstream's delta event
 *   bench_map events N file	event_map on every `data:` line of an SSE capture
 *
 * `file` is read as is (gunzip provider.json.gz first).  Prints the median
 * and the minimum time per operation.  For instruction counts:
 *
 *   valgrind --tool=callgrind --collect-atstart=no \
 *       --toggle-collect=api_reply_pack bench_map list 1000
 *   (--toggle-collect=event_map for delta/events), then divide by N.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench/bench_base.h"
#include "netproc/api.h"
#include "netproc/events.h"
#include "netproc/providers.h"

#ifndef BENCH_SRC
#define BENCH_SRC "."
#endif

#define SESSION		"ses_de9d97be7ffeEjddU4rCpB3RtH"
#define MESSAGE		"msg_2162686a4001sDRPxJFH19li0a"
#define PART		"prt_216268752001glmeP8bDKt2g9l"
static const char delta_ev[] = "{\"id\":\"evt_2162687570010000000042\","
    "\"type\":\"message.part.delta\",\"properties\":"
    "{\"sessionID\":\"" SESSION "\",\"messageID\":\"" MESSAGE "\","
    "\"partID\":\"" PART "\",\"field\":\"text\",\"delta\":\"word \"}}";

static void __attribute__((noreturn))
die(const char *m)
{
	fprintf(stderr, "bench_map: %s\n", m);
	exit(1);
}

static char *
slurp(const char *path, size_t *lenp)
{
	FILE	*fp;
	char	*p;
	long	 n;

	if ((fp = fopen(path, "rb")) == NULL)
		die(path);
	fseek(fp, 0, SEEK_END);
	n = ftell(fp);
	fseek(fp, 0, SEEK_SET);
	if ((p = malloc((size_t)n + 1)) == NULL ||
	    fread(p, 1, (size_t)n, fp) != (size_t)n)
		die("read");
	fclose(fp);
	p[n] = '\0';
	*lenp = (size_t)n;
	return p;
}

static size_t	emitted;

/* n runs of one mapper: its median, its minimum and its reply size. */
static void
time_reply(const char *what, struct api_call *call,
    const struct api_response *resp, long n,
    int (*fn)(const struct api_call *, const struct api_response *,
    uint8_t **, size_t *))
{
	int64_t		*v, t0;
	uint8_t		*out;
	size_t		 outlen = 0;
	long		 i;

	if ((v = calloc((size_t)n, sizeof(*v))) == NULL)
		die("out of memory");
	for (i = 0; i < n; i++) {
		t0 = bu_now_ns();
		if (fn(call, resp, &out, &outlen) == -1)
			die("mapper failed");
		v[i] = bu_now_ns() - t0;
		free(out);
	}
	bu_sort_i64(v, (size_t)n);
	printf("%-28s n=%ld p50 %8.3f ms, min %8.3f ms, reply %zu bytes\n",
	    what, n, v[n / 2] / 1e6, v[0] / 1e6, outlen);
	free(v);
}

static void
bench_providers(long n, const char *path, int all_only)
{
	struct api_call		 call;
	struct api_response	 resp;
	size_t			 len;
	char			*body;

	body = slurp(path, &len);
	memset(&call, 0, sizeof(call));
	call.request_id = 1;
	call.method = API_GET;
	call.max_reply = 64 * 1024 * 1024;
	memset(&resp, 0, sizeof(resp));
	resp.status = 200;
	resp.content_type = "application/json";
	resp.body = (const uint8_t *)body;
	resp.body_len = len;
	printf("/provider: %zu bytes\n", len);
	call.kind = API_KIND_PROVIDER_STATUS;
	if (!all_only)
		time_reply("GetProviderStatus", &call, &resp, n,
		    api_reply_pack);
	call.kind = API_KIND_PROVIDER_LIST;
	if (!all_only)
		time_reply("ListProviders", &call, &resp, n,
		    providers_reply_pack);
	call.include_all = 1;
	time_reply("ListProviders include_all", &call, &resp, n,
	    providers_reply_pack);
	free(body);
}

static void
emit(void *arg, const char *sid, const uint8_t *msg, size_t len)
{
	(void)arg;
	(void)sid;
	(void)msg;
	emitted += len;
}

int
main(int argc, char *argv[])
{
	struct api_call		 call;
	struct api_response	 resp;
	struct event_mapper	*m = NULL;
	const char		*mode;
	char			*body = NULL, *evs[4096];
	size_t			 len = 0, evl[4096], nev = 0, i, k, outlen;
	int64_t			*v, t0;
	uint8_t			*out;
	long			 n;
	char			*p, *e;

	if (argc < 3)
		die("usage: bench_map list|provider|auth|providers|providers-all|"
		    "delta|events "
		    "N [file]");
	mode = argv[1];
	n = strtol(argv[2], NULL, 10);
	if (n < 1)
		n = 1;
	if (strcmp(mode, "providers") == 0 ||
	    strcmp(mode, "providers-all") == 0) {
		if (argc < 4)
			die("providers: give the gunzipped /provider document");
		bench_providers(n, argv[3], strcmp(mode, "providers-all") == 0);
		return 0;
	}
	memset(&call, 0, sizeof(call));
	call.request_id = 1;
	call.method = API_GET;
	memset(&resp, 0, sizeof(resp));
	resp.status = 200;
	resp.content_type = "application/json";
	if (strcmp(mode, "list") == 0) {
		call.kind = API_KIND_SESSION_LIST;
		body = slurp(argc > 3 ? argv[3] :
		    BENCH_SRC "/tests/fixtures/session-list.json", &len);
	} else if (strcmp(mode, "provider") == 0 || strcmp(mode, "auth") == 0) {
		if (argc < 4)
			die("provider: give the gunzipped /provider document");
		call.kind = strcmp(mode, "auth") == 0 ? API_KIND_AUTH_STATUS :
		    API_KIND_PROVIDER_STATUS;
		memcpy(call.provider_id, "anthropic", 10);
		body = slurp(argv[3], &len);
	} else if (strcmp(mode, "delta") == 0) {
		m = event_mapper_new();
		evs[0] = (char *)delta_ev;
		evl[0] = sizeof(delta_ev) - 1;
		nev = 1;
	} else if (strcmp(mode, "events") == 0) {
		if (argc < 4)
			die("events: give an SSE capture");
		m = event_mapper_new();
		body = slurp(argv[3], &len);
		for (p = body; (p = strstr(p, "data: ")) != NULL && nev < 4096;
		    p = e) {
			p += 6;
			if ((e = strchr(p, '\n')) == NULL)
				e = p + strlen(p);
			evs[nev] = p;
			evl[nev++] = (size_t)(e - p);
		}
		if (nev == 0)
			die("no events");
	} else
		die("unknown mode");
	resp.body = (const uint8_t *)body;
	resp.body_len = len;

	if ((v = calloc((size_t)n, sizeof(*v))) == NULL)
		die("out of memory");
	for (i = 0; i < (size_t)n; i++) {
		t0 = bu_now_ns();
		if (m != NULL) {
			for (k = 0; k < nev; k++)
				(void)event_map(m, evs[k], evl[k], emit, NULL);
		} else {
			if (api_reply_pack(&call, &resp, &out, &outlen) == -1)
				die("api_reply_pack failed");
			if (i == 0)
				printf("reply: %zu bytes\n", outlen);
			free(out);
		}
		v[i] = bu_now_ns() - t0;
	}
	bu_sort_i64(v, (size_t)n);
	printf("%s: n=%ld%s p50 %.3f us, min %.3f us", mode, n,
	    nev > 1 ? " (per capture)" : "", v[n / 2] / 1e3, v[0] / 1e3);
	if (nev > 1)
		printf(", %zu events, %.3f us/event", nev, v[n / 2] / 1e3 / nev);
	if (m != NULL)
		printf(", mapped %llu invalid %llu",
		    (unsigned long long)event_mapper_stats(m)->mapped,
		    (unsigned long long)event_mapper_stats(m)->invalid);
	printf("\n");
	event_mapper_free(m);
	free(v);
	free(body);
	return 0;
}
