/*
 * Copyright (c) 2026 The ocbroker authors
 * SPDX-License-Identifier: ISC (the licence is in the file LICENSE)
 */

/*
 * bench_tokens: ChatTokens per second through ocbroker, beside the ceiling,
 * measured in one run.
 *
 * It starts bench/flood_upstream and ocbroker in front of it, waits until
 * netproc's `GET /event` stream is armed, then for each round:
 *
 *   raw ceiling	a C reader takes `GET /event?n=N` straight from the flood:
 *			de-chunks, splits SSE events, counts message.part.delta
 *			(the transport and the framing, nothing more);
 *   map ceiling	the same bytes through netproc's own sse.c + events.c in
 *			this process (SSE parse, JSON parse, protobuf pack), no
 *			libcurl, no IPC, no WebSocket: what one core can map;
 *   1 client		one authenticated WebSocket; /__flood/start?n=N makes
 *			the flood send N deltas + a session.idle marker to
 *			netproc; counted until the client sees SessionEvent idle;
 *   10 clients		the same with 10 authenticated WebSockets (one poll loop);
 *   stalled		2 clients, one of which reads nothing for --stall-ms
 *			(2 s) after the start: the front's queue for it passes
 *			the high-water mark and its ChatTokens get merged; the
 *			rate shown is the other, healthy client's.
 *
 * Clients count ServerMessages with field 200 (ChatToken) by walking the
 * protobuf wire format, and the deltas they cover: under backpressure the
 * front merges consecutive ChatTokens of one part (lossless), and every
 * delta the flood sends is "word ", so spaces count deltas.  Both are
 * reported: ChatTokens delivered/s and deltas covered/s; the run checks that
 * every client got exactly N deltas (N*5 bytes).
 *
 * The figures of a configuration are the median over the rounds; the order
 * of the configurations rotates from round to round.  CPU seconds used by
 * the front, netproc, the flood and this process are shown per phase.
 */
#include <sys/socket.h>
#include <sys/types.h>

#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench/bench_util.h"
#include "tests/wsclient.h"
#include "netproc/events.h"
#include "netproc/sse.h"

#define IO_TIMEOUT_MS	10000
#define START_TIMEOUT_MS 15000
#define ROUND_TIMEOUT_S	40
#define MAX_CLIENTS	10
#define MAX_ROUNDS	9
#define CLIENT_BUF	(4u << 20)
#define READ_BUF	(1u << 20)
#define DELTA_TEXT	"word "

enum cfg { CFG_RAW, CFG_MAP, CFG_ONE, CFG_TEN, CFG_STALL, NCFG };

static const char *const cfg_name[NCFG] = {
	"ceiling: raw SSE reader (direct)",
	"ceiling: sse.c+events.c in-process",
	"ocbroker -> 1 client",
	"ocbroker -> 10 clients (sum)",
	"ocbroker -> 1 client beside a stalled one",
};

struct result {
	double	 secs;		/* start to the last marker */
	uint64_t tokens;	/* ChatTokens delivered (or events mapped) */
	uint64_t covered;	/* deltas they cover */
	int	 ok;		/* every client got all N deltas */
	double	 cpu_front, cpu_netproc, cpu_flood, cpu_self;
	uint64_t min_covered;	/* the slowest client's count */
	char	 note[128];
};

static const char	*ocb_path = BENCH_BUILD "/ocbroker";
static const char	*flood_path = BENCH_BUILD "/bench/flood_upstream";
static const char	*perf_prefix;
static unsigned long	 N = 300000;
static int		 rounds = 3, close_delim;
static int		 only = -1;	/* --only: one configuration (profiling) */
static int		 stall_ms = 2000;	/* --stall-ms: the stalled client */

static struct bu_proc	 flood, ocb;
static uint16_t		 flood_port, ocb_port;
static char		 token[128];

static void __attribute__((noreturn, format(printf, 1, 2)))
die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	bu_vdie(&ocb, &flood, fmt, ap);
}

/* ---- the direct reader: HTTP head, chunked decoding, SSE events ---- */

struct reader {
	int		 fd;
	uint8_t		*raw;		/* bytes from the socket */
	size_t		 raw_off, raw_len;
	int		 head_done;
	int		 chunked;
	size_t		 chunk_left;	/* data bytes left in this chunk */
	int		 chunk_crlf;	/* the CRLF after a chunk's data is due */
	/* de-chunked payload not yet consumed by the SSE layer */
	uint8_t		*pay;
	size_t		 pay_len, pay_cap;
};

/* Moves de-chunked bytes from raw to pay; -1 on a framing error. */
static int
dechunk(struct reader *r)
{
	uint8_t *p, *nl;
	size_t n, avail;
	char *end;

	while (r->raw_off < r->raw_len) {
		p = r->raw + r->raw_off;
		avail = r->raw_len - r->raw_off;
		if (!r->chunked)
			n = avail;
		else if (r->chunk_crlf) {
			if (avail < 2)
				return 0;
			if (p[0] != '\r' || p[1] != '\n')
				return -1;
			r->raw_off += 2;
			r->chunk_crlf = 0;
			continue;
		} else if (r->chunk_left == 0) {
			if ((nl = memchr(p, '\n', avail)) == NULL)
				return avail > 64 ? -1 : 0;
			r->chunk_left = strtoul((char *)p, &end, 16);
			if ((uint8_t *)end == p || r->chunk_left == 0)
				return -1;	/* the stream never ends */
			r->raw_off += (size_t)(nl - p) + 1;
			continue;
		} else
			n = avail < r->chunk_left ? avail : r->chunk_left;
		if (r->pay_len + n > r->pay_cap) {
			uint8_t *nb;

			if ((nb = bu_grow(r->pay, &r->pay_cap,
			    r->pay_len + n)) == NULL)
				return -1;
			r->pay = nb;
		}
		memcpy(r->pay + r->pay_len, p, n);
		r->pay_len += n;
		r->raw_off += n;
		if (r->chunked && (r->chunk_left -= n) == 0)
			r->chunk_crlf = 1;
	}
	return 0;
}

/* Reads once more (blocking, bounded); -1 on EOF, error or timeout. */
static int
reader_fill(struct reader *r)
{
	ssize_t n;

	if (r->raw_off == r->raw_len)
		r->raw_off = r->raw_len = 0;
	else if (r->raw_off > 0) {
		memmove(r->raw, r->raw + r->raw_off, r->raw_len - r->raw_off);
		r->raw_len -= r->raw_off;
		r->raw_off = 0;
	}
	do
		n = recv(r->fd, r->raw + r->raw_len, READ_BUF - r->raw_len, 0);
	while (n == -1 && errno == EINTR);
	if (n <= 0)
		return -1;
	r->raw_len += (size_t)n;
	return 0;
}

static int
reader_open(struct reader *r, unsigned long n)
{
	char req[256];
	uint8_t *e;
	int len;

	memset(r, 0, sizeof(*r));
	if ((r->raw = malloc(READ_BUF)) == NULL ||
	    (r->pay = malloc(READ_BUF)) == NULL)
		return -1;
	r->pay_cap = READ_BUF;
	if ((r->fd = bu_connect(flood_port, IO_TIMEOUT_MS)) == -1)
		return -1;
	len = snprintf(req, sizeof(req), "GET /event?n=%lu HTTP/1.1\r\n"
	    "Host: 127.0.0.1:%u\r\nAccept: text/event-stream\r\n\r\n", n,
	    (unsigned)flood_port);
	if (wsc_send_all(r->fd, req, (size_t)len, IO_TIMEOUT_MS) == -1)
		return -1;
	while ((e = memmem(r->raw, r->raw_len, "\r\n\r\n", 4)) == NULL)
		if (r->raw_len > 8192 || reader_fill(r) == -1)
			return -1;
	*e = '\0';
	if (strncmp((char *)r->raw, "HTTP/1.1 200", 12) != 0 ||
	    strcasestr((char *)r->raw, "text/event-stream") == NULL)
		return -1;
	r->chunked = strcasestr((char *)r->raw,
	    "Transfer-Encoding: chunked") != NULL;
	r->raw_off = (size_t)(e - r->raw) + 4;
	return 0;
}

static void
reader_close(struct reader *r)
{
	if (r->fd > 0)
		close(r->fd);
	free(r->raw);
	free(r->pay);
}

/*
 * The raw ceiling: events split at blank lines, the data line checked for
 * its type, the delta located and its spaces counted (what a client does).
 */
static void
run_raw(struct result *res)
{
	static const char tdelta[] = "\"type\":\"message.part.delta\"";
	static const char tidle[] = "\"type\":\"session.idle\"";
	struct reader r;
	const uint8_t *p, *end, *ev_end, *d, *q;
	uint64_t count = 0, covered = 0, bytes = 0;
	int64_t t0, deadline;
	int done = 0;

	t0 = bu_now_ns();
	deadline = t0 + (int64_t)ROUND_TIMEOUT_S * 1000000000;
	if (reader_open(&r, N) == -1)
		die("direct /event failed");
	while (!done) {
		if (dechunk(&r) == -1)
			die("bad chunked framing from the flood");
		p = r.pay;
		end = r.pay + r.pay_len;
		while (!done && (ev_end = memmem(p, (size_t)(end - p), "\n\n",
		    2)) != NULL) {
			size_t elen = (size_t)(ev_end - p);

			if (elen > 6 && memcmp(p, "data: ", 6) == 0) {
				if (memmem(p, elen, tdelta, sizeof(tdelta) - 1)) {
					count++;
					d = memmem(p, elen, "\"delta\":\"", 9);
					if (d != NULL) {
						d += 9;
						q = memchr(d, '"',
						    (size_t)(ev_end - d));
						if (q != NULL) {
							bytes += (size_t)(q - d);
							for (; d < q; d++)
								covered += *d == ' ';
						}
					}
				} else if (memmem(p, elen, tidle,
				    sizeof(tidle) - 1))
					done = 1;
			}
			p = ev_end + 2;
		}
		memmove(r.pay, p, (size_t)(end - p));
		r.pay_len = (size_t)(end - p);
		if (done)
			break;
		if (bu_now_ns() > deadline || reader_fill(&r) == -1)
			die("direct /event: stream ended or timed out");
	}
	res->secs = (double)(bu_now_ns() - t0) / 1e9;
	res->tokens = count;
	res->covered = covered;
	res->min_covered = covered;
	res->ok = count == N && covered == N && bytes == 5 * N;
	reader_close(&r);
}

/* ---- counting: ChatTokens and the deltas they cover ---- */

/* The ChatTokens (field 200) of a stream, the deltas (their field 4) too. */
struct token_count {
	uint64_t tokens, covered, bytes;
};

/*
 * Walks one ServerMessage: counts its ChatTokens and the deltas they
 * cover (a space each).  Returns 1 for the marker after the last delta, a
 * SessionEvent (204) whose kind (2) is "idle".
 */
static int
count_msg(struct token_count *n, const uint8_t *msg, size_t len)
{
	const uint8_t *p = msg, *b, *ip, *ib, *s, *e;
	size_t bl, ibl;
	uint64_t v;
	uint32_t f, g;
	int wt, iwt, idle = 0;

	while (pbw_next(&p, msg + len, &f, &wt, &v, &b, &bl) == 1) {
		if (wt != 2 || (f != 200 && f != 204))
			continue;
		if (f == 200)
			n->tokens++;
		ip = b;
		while (pbw_next(&ip, b + bl, &g, &iwt, &v, &ib, &ibl) == 1) {
			if (iwt != 2)
				continue;
			if (f == 200 && g == 4) {
				n->bytes += ibl;
				for (s = ib, e = ib + ibl; (s = memchr(s, ' ',
				    (size_t)(e - s))) != NULL; s++)
					n->covered++;
			} else if (f == 204 && g == 2 && ibl == 4 &&
			    memcmp(ib, "idle", 4) == 0)
				idle = 1;
		}
	}
	return idle;
}

/* ---- the map ceiling: netproc's parser and mapper in this process ---- */

struct map_count {
	struct token_count n;
	int	 idle;
};

static void
map_emit(void *arg, const char *session_id, const uint8_t *msg, size_t len)
{
	struct map_count *mc = arg;

	if (count_msg(&mc->n, msg, len))
		mc->idle = 1;
}

static void
run_map(struct result *res)
{
	struct event_mapper *m;
	struct sse_parser sp;
	struct sse_event ev;
	struct map_count mc;
	struct reader r;
	const uint8_t *p;
	size_t left, used;
	int64_t t0, deadline;

	memset(&mc, 0, sizeof(mc));
	if ((m = event_mapper_new()) == NULL)
		die("event_mapper_new");
	sse_parser_init(&sp);
	t0 = bu_now_ns();
	deadline = t0 + (int64_t)ROUND_TIMEOUT_S * 1000000000;
	if (reader_open(&r, N) == -1)
		die("direct /event failed");
	while (!mc.idle) {
		if (dechunk(&r) == -1)
			die("bad chunked framing from the flood");
		p = r.pay;
		left = r.pay_len;
		while (left > 0 && !mc.idle) {
			enum sse_status s = sse_parser_feed(&sp, p, left, &used,
			    &ev);

			p += used;
			left -= used;
			if (s == SSE_ERROR)
				die("sse: %s", sp.error);
			if (s == SSE_NEED_MORE)
				break;
			(void)event_map(m, ev.data, ev.data_len, map_emit, &mc);
		}
		r.pay_len = 0;	/* the SSE parser keeps partial lines itself */
		if (mc.idle)
			break;
		if (bu_now_ns() > deadline || reader_fill(&r) == -1)
			die("direct /event: stream ended or timed out");
	}
	res->secs = (double)(bu_now_ns() - t0) / 1e9;
	res->tokens = mc.n.tokens;
	res->covered = mc.n.covered;
	res->min_covered = mc.n.covered;
	res->ok = mc.n.tokens == N && mc.n.covered == N && mc.n.bytes == 5 * N;
	reader_close(&r);
	sse_parser_free(&sp);
	event_mapper_free(m);
}

/* ---- through ocbroker ---- */

struct client {
	struct bws	 ws;
	struct token_count n;
	int		 done;		/* the marker came */
	int		 closed;	/* close code, or -1 for EOF/error */
	int64_t		 t_end;
};

/* Walks one ServerMessage. */
static void
client_msg(struct client *c, const uint8_t *msg, size_t len)
{
	if (count_msg(&c->n, msg, len)) {
		c->done = 1;
		c->t_end = bu_now_ns();
	}
}

/* Reads and counts what is buffered in the kernel; -1 when it ended. */
static int
client_drain(struct client *c)
{
	const uint8_t *data;
	size_t len;
	ssize_t n;
	int op, rounds_left = 64;

	while (rounds_left-- > 0 && !c->done) {
		enum bws_res r;

		while ((r = bws_parse(&c->ws, &op, &data, &len)) == BWS_FRAME) {
			if (op == 0x2)
				client_msg(c, data, len);
			else if (op == 0x8) {
				c->closed = len >= 2 ?
				    (data[0] << 8 | data[1]) : 1005;
				return -1;
			}
			if (c->done)
				return 0;
		}
		if (r == BWS_ERROR) {
			c->closed = -1;
			return -1;
		}
		if ((n = bws_fill(&c->ws)) == -1)
			return 0;	/* EAGAIN */
		if (n <= 0) {
			c->closed = -1;
			return -1;
		}
	}
	return 0;
}

/*
 * nc clients read as fast as they can; with stall (ms), the last one reads
 * nothing for that long after the start (a slow UI: the front's queue for it
 * passes the high-water mark and ChatTokens get merged).  For a stall run the
 * result is the fast client's, and the note tells what the stalled one got.
 */
static void
run_clients(int nc, int stall, struct result *res)
{
	struct client cl[MAX_CLIENTS];
	struct pollfd pfd[MAX_CLIENTS];
	char path[64], resp[256];
	int64_t t0, deadline, tmax = 0, stall_end;
	int i, left, st, tmo;

	memset(cl, 0, sizeof(cl));
	for (i = 0; i < nc; i++)
		if (bws_open_auth(&cl[i].ws, ocb_port, token, CLIENT_BUF,
		    IO_TIMEOUT_MS) == -1)
			die("client %d: cannot open an authenticated WebSocket",
			    i);
	snprintf(path, sizeof(path), "/__flood/start?n=%lu", N);
	t0 = bu_now_ns();
	deadline = t0 + (int64_t)ROUND_TIMEOUT_S * 1000000000;
	stall_end = t0 + (int64_t)stall * 1000000;
	if ((st = bu_http_once(flood_port, path, resp, sizeof(resp),
	    IO_TIMEOUT_MS)) != 200 || strcmp(resp, "{\"started\":1}") != 0)
		die("flood start: %d %s (netproc's stream not armed?)", st,
		    resp);
	for (left = nc; left > 0 && bu_now_ns() < deadline;) {
		int np = 0, idx[MAX_CLIENTS];

		tmo = 1000;
		for (i = 0; i < nc; i++) {
			if (stall > 0 && i == nc - 1 &&
			    bu_now_ns() < stall_end) {
				tmo = bu_left_ms(stall_end) + 1;
				continue;
			}
			if (!cl[i].done && cl[i].closed == 0) {
				pfd[np].fd = cl[i].ws.fd;
				pfd[np].events = POLLIN;
				idx[np++] = i;
			}
		}
		if (np == 0 && tmo == 1000)
			break;
		if (poll(pfd, (nfds_t)np, tmo) == -1 && errno != EINTR)
			die("poll: %s", strerror(errno));
		for (i = 0; i < np; i++) {
			struct client *c = &cl[idx[i]];

			if (pfd[i].revents == 0)
				continue;
			if (client_drain(c) == -1 || c->done)
				left--;
		}
	}
	memset(res, 0, sizeof(*res));
	res->ok = 1;
	res->min_covered = UINT64_MAX;
	for (i = 0; i < nc; i++) {
		struct client *c = &cl[i];

		if (!c->done) {
			res->ok = 0;
			if (c->closed > 0)
				snprintf(res->note, sizeof(res->note),
				    "client %d closed with %d after %llu deltas",
				    i, c->closed,
				    (unsigned long long)c->n.covered);
			else
				snprintf(res->note, sizeof(res->note),
				    "client %d: %s after %llu deltas", i,
				    c->closed ? "connection lost" : "timed out",
				    (unsigned long long)c->n.covered);
			c->t_end = bu_now_ns();
		}
		if (c->n.covered != N || c->n.bytes != 5 * N)
			res->ok = 0;
		if (c->n.covered < res->min_covered)
			res->min_covered = c->n.covered;
		if (stall > 0 && i == nc - 1) {
			if (c->done || res->note[0] == '\0')
				snprintf(res->note, sizeof(res->note),
				    "stalled %d ms: %llu ChatTokens covering %llu "
				    "deltas (%.1f%% merged), done after %.2f s",
				    stall, (unsigned long long)c->n.tokens,
				    (unsigned long long)c->n.covered,
				    c->n.covered ? 100.0 * (double)(c->n.covered -
				    c->n.tokens) / (double)c->n.covered : 0,
				    (double)(c->t_end - t0) / 1e9);
			bws_close(&c->ws);
			continue;
		}
		if (c->t_end > tmax)
			tmax = c->t_end;
		res->tokens += c->n.tokens;
		res->covered += c->n.covered;
		bws_close(&c->ws);
	}
	res->secs = (double)(tmax - t0) / 1e9;
}

/* Waits until the flood has netproc's stream armed (and idle) again. */
static void
wait_armed(void)
{
	int64_t deadline = bu_now_ns() + 30LL * 1000000000;
	char resp[256];

	for (;;) {
		if (bu_http_once(flood_port, "/__flood/streams", resp,
		    sizeof(resp), IO_TIMEOUT_MS) == 200 &&
		    strcmp(resp, "{\"armed\":1,\"busy\":0}") == 0)
			return;
		if (bu_now_ns() > deadline)
			die("netproc's /event stream is not armed: %s", resp);
		usleep(20000);
	}
}

static void
run_cfg(enum cfg k, struct result *res, int round)
{
	pid_t front = -1, netproc = -1, perf = -1, pp[2];
	double f0, n0, fl0, s0;
	char pf[512];

	if (k == CFG_ONE || k == CFG_TEN || k == CFG_STALL) {
		wait_armed();
		if (bu_role_pids(ocb.pid, &front, &netproc) == -1)
			die("cannot find ocbroker's front and netproc");
	}
	if (perf_prefix != NULL && front > 0 && round == 0) {
		pp[0] = front;
		pp[1] = netproc;
		snprintf(pf, sizeof(pf), "%s-%s.data", perf_prefix,
		    k == CFG_ONE ? "1client" : k == CFG_TEN ? "10clients" :
		    "stall");
		perf = bu_perf_start(pp, 2, pf);
	}
	f0 = front > 0 ? bu_cpu_seconds(front) : 0;
	n0 = netproc > 0 ? bu_cpu_seconds(netproc) : 0;
	fl0 = bu_cpu_seconds(flood.pid);
	s0 = bu_cpu_seconds(getpid());
	memset(res, 0, sizeof(*res));
	switch (k) {
	case CFG_RAW:
		run_raw(res);
		break;
	case CFG_MAP:
		run_map(res);
		break;
	case CFG_ONE:
		run_clients(1, 0, res);
		break;
	case CFG_TEN:
		run_clients(10, 0, res);
		break;
	case CFG_STALL:
		run_clients(2, stall_ms, res);
		break;
	default:
		break;
	}
	res->cpu_front = front > 0 ? bu_cpu_seconds(front) - f0 : 0;
	res->cpu_netproc = netproc > 0 ? bu_cpu_seconds(netproc) - n0 : 0;
	res->cpu_flood = bu_cpu_seconds(flood.pid) - fl0;
	res->cpu_self = bu_cpu_seconds(getpid()) - s0;
	if (perf > 0) {
		bu_perf_stop(perf);
		fprintf(stderr, "perf: %s\n", pf);
	}
}

static int
cmp_rate(const void *a, const void *b)
{
	const struct result *x = a, *y = b;
	double rx = (double)x->covered / x->secs, ry = (double)y->covered /
	    y->secs;

	return rx < ry ? -1 : rx > ry;
}

/* A target line: ChatTokens/s and deltas covered/s of m against goal. */
static void
print_target(const char *what, const struct result *m, double goal)
{
	double tok = (double)m->tokens / m->secs;
	double cov = (double)m->covered / m->secs;

	printf("%s: %.0f delivered, %.0f deltas covered: %s\n", what, tok, cov,
	    cov >= goal ? (tok >= goal ? "met" :
	    "met in deltas, not in messages") : "MISSED");
}

static void __attribute__((noreturn))
usage(void)
{
	fprintf(stderr, "usage: bench_tokens [-n DELTAS] [--rounds R] "
	    "[--close] [--only raw|map|1|10|stall] [--stall-ms MS]\n"
	    "    [--ocbroker PATH] [--flood PATH] [--perf PREFIX]\n");
	exit(2);
}

int
main(int argc, char *argv[])
{
	static const char *only_name;
	static const struct bu_opt opts[] = {
		{ "n",		BU_ULONG, &N,		1000, 10000000 },
		{ "rounds",	BU_INT,	  &rounds,	1, MAX_ROUNDS },
		{ "close",	BU_SET,	  &close_delim,	1, 0 },
		{ "ocbroker",	BU_STR,	  &ocb_path,	0, 0 },
		{ "flood",	BU_STR,	  &flood_path,	0, 0 },
		{ "perf",	BU_STR,	  &perf_prefix,	0, 0 },
		{ "only",	BU_STR,	  &only_name,	0, 0 },
		{ "stall-ms",	BU_INT,	  &stall_ms,	1, 20000 },
	};
	static const char *const only_names[NCFG] = { "raw", "map", "1", "10",
	    "stall" };
	static struct result res[NCFG][MAX_ROUNDS];
	struct result *med[NCFG];
	char line[1024], upstream[64], version[64];
	char *fargv[6], *oargv[BU_OCB_ARGC];
	double load0, load1, ceil_rate, r;
	int i, k, rd;

	bu_opts(argc, argv, opts, sizeof(opts) / sizeof(opts[0]), usage);
	if (only_name != NULL) {
		for (k = 0; k < NCFG; k++)
			if (strcmp(only_name, only_names[k]) == 0)
				only = k;
		if (only == -1)
			usage();
	}
	load0 = bu_begin();

	i = 0;
	fargv[i++] = (char *)flood_path;
	if (close_delim)
		fargv[i++] = "--close";
	fargv[i++] = "--max-seconds";
	fargv[i++] = "300";
	fargv[i] = NULL;
	if (bu_spawn_upstream(&flood, flood_path, fargv, "tokens-flood",
	    START_TIMEOUT_MS, &flood_port) == -1)
		die("flood_upstream did not start (see %s)", flood.log);

	snprintf(upstream, sizeof(upstream), "http://127.0.0.1:%u",
	    (unsigned)flood_port);
	(void)bu_ocb_argv(oargv, ocb_path, upstream, 0, "info");
	if (bu_spawn(&ocb, ocb_path, oargv, "tokens-ocbroker") == -1)
		die("cannot start %s", ocb_path);
	if (bu_read_line(&ocb, line, sizeof(line), START_TIMEOUT_MS) == -1 ||
	    bu_parse_ready(line, &ocb_port, token, sizeof(token), version,
	    sizeof(version)) == -1)
		die("no ready line from ocbroker (see %s)", ocb.log);
	wait_armed();

	/* A short warm-up of every path. */
	{
		unsigned long n_save = N;
		struct result w;

		N = N / 10 < 10000 ? 10000 : N / 10;
		for (k = 0; k < NCFG; k++)
			if (only == -1 || only == k)
				run_cfg((enum cfg)k, &w, 1);
		N = n_save;
	}

	for (rd = 0; rd < rounds; rd++)
		for (i = 0; i < NCFG; i++) {
			k = (i + rd) % NCFG;
			if (only == -1 || only == k)
				run_cfg((enum cfg)k, &res[k][rd], rd);
		}
	load1 = bu_loadavg();

	bu_print_header("bench_tokens", load0, load1, version);
	printf("%lu message.part.delta events per round (%s), %d rounds, "
	    "median round shown\n", N, close_delim ? "close-delimited" :
	    "chunked, one event per chunk", rounds);
	printf("  %-36s %12s %12s %8s %6s  %s\n", "", "deltas/s",
	    "ChatTokens/s", "merged", "lossl.", "CPU s: front netproc flood "
	    "bench");
	for (k = 0; k < NCFG; k++) {
		struct result *v = res[k];

		if (only != -1 && only != k)
			continue;
		qsort(v, (size_t)rounds, sizeof(*v), cmp_rate);
		med[k] = &v[rounds / 2];
		printf("  %-36s %12.0f %12.0f %7.1f%% %6s  %5.2f %5.2f %5.2f "
		    "%5.2f\n", cfg_name[k],
		    (double)med[k]->covered / med[k]->secs,
		    (double)med[k]->tokens / med[k]->secs,
		    med[k]->covered ? 100.0 * (double)(med[k]->covered -
		    med[k]->tokens) / (double)med[k]->covered : 0,
		    med[k]->ok ? "yes" : "NO",
		    med[k]->cpu_front, med[k]->cpu_netproc, med[k]->cpu_flood,
		    med[k]->cpu_self);
		for (rd = 0; rd < rounds; rd++)
			if (v[rd].note[0] != '\0')
				printf("    round note: %s\n", v[rd].note);
	}
	if (only != -1)
		goto out;
	ceil_rate = (double)med[CFG_RAW]->covered / med[CFG_RAW]->secs;
	printf("ratios (deltas/s):\n");
	for (k = CFG_MAP; k < NCFG; k++) {
		r = (double)med[k]->covered / med[k]->secs;
		printf("  %-36s %6.3f of the raw ceiling, %6.3f of the "
		    "in-process map\n", cfg_name[k], r / ceil_rate,
		    r / ((double)med[CFG_MAP]->covered / med[CFG_MAP]->secs));
	}
	print_target("targets: 1 client >= 300k ChatTokens/s", med[CFG_ONE],
	    300000);
	print_target("         10 clients >= 1M/s in total", med[CFG_TEN],
	    1000000);

out:
	bu_stop(&ocb, 5000);
	bu_stop(&flood, 5000);
	return 0;
}
