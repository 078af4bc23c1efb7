/*
 * Copyright (c) 2026 The ocbroker authors
 * SPDX-License-Identifier: ISC (the licence is in the file LICENSE)
 */

/*
 * flood_upstream: a tiny fake OpenCode server for the token benchmark.
 * Plain sockets and poll(2), one thread, 127.0.0.1 only.
 *
 *   GET /event		200 text/event-stream (chunked, one event per chunk
 *			as the real server sends them; --close: close-delimited),
 *			`server.connected` first, then the stream is armed:
 *			it waits for a /__flood/start.
 *   GET /event?n=N	the same, but N deltas follow at once (the direct
 *			reader of bench_tokens uses this).
 *   GET /__flood/start?n=N
 *			every armed stream sends N `message.part.delta` events,
 *			as fast as its socket takes them, then the marker (a
 *			`session.idle` of the same session) and is armed again.
 *			Answers {"started":K}.
 *   GET /__flood/streams	{"armed":K,"busy":B}
 *   GET /__flood/pace?S,R,N
 *			every armed stream sends, for S sessions, R deltas per
 *			second each (N per session), one event per chunk and
 *			one send(2) each; the delta is "t<CLOCK_MONOTONIC ns> ",
 *			the time it was written, then the marker.
 *   GET /event?pace=S,R,N	the same on this stream alone, at once.
 *   GET /__flood/stats	{"accepted":A,"requests":R}: connections accepted
 *			(this one included) and requests read since start.
 *   GET /session		--session FILE: that file's bytes (keep-alive).
 *   GET /provider		--provider FILE: the same (the 6.5 MB document).
 *   GET /global/health	{"healthy":true,"version":"bench"}
 *   anything else	404 with a JSON body
 *
 * Events have the real server's exact shape (1.18.34, sse-many.txt), with a
 * fresh fixed-width event id each; every delta is "word " (one space each,
 * so that a client can count deltas in merged ChatTokens).  Idle streams get
 * a server.heartbeat every 10 s like the real server.  It prints {"port":N}
 * once listening, logs to stderr, and exits on SIGTERM/SIGINT or after
 * --max-seconds (default 300): it never outlives a benchmark for long.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <sys/socket.h>
#include <sys/types.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "bench/bench_base.h"

#define MAX_CONNS	2048		/* 1000 clients, one request each */
#define HEAD_MAX	8192
#define BATCH		512		/* events rendered per block */
#define HEARTBEAT_S	10
#define MAX_EVENTS	100000000UL

#define SESSION		"ses_de9d97be7ffeEjddU4rCpB3RtH"
#define MESSAGE		"msg_2162686a4001sDRPxJFH19li0a"
#define PART		"prt_216268752001glmeP8bDKt2g9l"
#define ID_PREFIX	"evt_216268757001"	/* + 10 digits: 26 characters */
#define ID_DIGITS	10

/* The event text, with the id's digits at a known place. */
#define DELTA_HEAD	"data: {\"id\":\"" ID_PREFIX
#define DELTA_TAIL	"\",\"type\":\"message.part.delta\",\"properties\":" \
	"{\"sessionID\":\"" SESSION "\",\"messageID\":\"" MESSAGE "\"," \
	"\"partID\":\"" PART "\",\"field\":\"text\",\"delta\":\"word \"}}\n\n"
#define CONNECTED_EV	"data: {\"id\":\"evt_216268757000AqLj7ZFCc1AH0p\"," \
	"\"type\":\"server.connected\",\"properties\":{}}\n\n"
#define HEARTBEAT_EV	"data: {\"id\":\"evt_216268757000hbhbhbhbhbhb\"," \
	"\"type\":\"server.heartbeat\",\"properties\":{}}\n\n"
#define MARKER_EV	"data: {\"id\":\"evt_216268757000MarkerMarker\"," \
	"\"type\":\"session.idle\",\"properties\":{\"sessionID\":\"" SESSION \
	"\"}}\n\n"

enum cstate {
	C_HEAD,		/* reading a request head */
	C_RESP,		/* writing an answer, then C_HEAD (or close) */
	C_ARMED,	/* an /event stream waiting for /__flood/start */
	C_FLOOD,	/* an /event stream sending deltas */
	C_PACE		/* an /event stream sending stamped deltas on time */
};

struct conn {
	int		 fd;
	enum cstate	 state;
	char		 in[HEAD_MAX];
	size_t		 inlen;
	/* Pending output: small answers, events, or a rendered block. */
	char		*out;
	size_t		 outlen, outoff, outcap;
	int		 close_after;
	int		 is_stream;
	int		 auto_start;	/* /event?n=N: not armed by /__flood/start */
	/* Flood progress. */
	unsigned long	 total;		/* deltas to send this round */
	unsigned long	 rendered;	/* deltas put in out so far */
	uint64_t	 serial;	/* next event id number */
	int		 marker_done;
	struct timespec	 t0;
	time_t		 last_write;
	/* Paced: S sessions, R deltas/s each, N each; sent so far. */
	unsigned long	 pace_s, pace_r, pace_n, pace_sent;
};

static struct conn	 conns[MAX_CONNS];
static int		 nconns;
static int		 chunked = 1;
static volatile sig_atomic_t stop;
static char		 block_proto[BATCH * 512];	/* chunk-framed events */
static size_t		 ev_len;	/* one delta event's SSE text */
static size_t		 ev_framed;	/* with its chunk framing */
static size_t		 ev_digits_at;	/* offset of the id digits in a framed event */
static char		*session_body;	/* --session FILE */
static size_t		 session_len;
static char		*provider_body;	/* --provider FILE */
static size_t		 provider_len;
static unsigned long	 n_accepted, n_requests;

static void __attribute__((format(printf, 1, 2)))
logmsg(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "flood_upstream: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static void
on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static double
since(const struct timespec *t0)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)(t.tv_sec - t0->tv_sec) +
	    (double)(t.tv_nsec - t0->tv_nsec) / 1e9;
}

/* Appends bytes to the connection's output (framed as one chunk if asked). */
static int
out_add(struct conn *c, const char *p, size_t len, int as_chunk)
{
	char hdr[16];
	size_t hl = 0, need;
	char *nb;

	if (as_chunk && chunked)
		hl = (size_t)snprintf(hdr, sizeof(hdr), "%zx\r\n", len);
	need = c->outlen + hl + len + (as_chunk && chunked ? 2 : 0);
	if (c->outoff > 0 && c->outoff == c->outlen) {
		c->outoff = c->outlen = 0;
		need = hl + len + 2;
	}
	if (need > c->outcap) {
		if ((nb = bu_grow(c->out, &c->outcap, need)) == NULL)
			return -1;
		c->out = nb;
	}
	memcpy(c->out + c->outlen, hdr, hl);
	c->outlen += hl;
	memcpy(c->out + c->outlen, p, len);
	c->outlen += len;
	if (as_chunk && chunked) {
		memcpy(c->out + c->outlen, "\r\n", 2);
		c->outlen += 2;
	}
	return 0;
}

/* The framed delta event once, digits zero; then copied BATCH times. */
static void
block_init(void)
{
	char ev[512], framed[600];
	size_t hl = 0, i;
	int n;

	n = snprintf(ev, sizeof(ev), "%s%0*u%s", DELTA_HEAD, ID_DIGITS, 0u,
	    DELTA_TAIL);
	ev_len = (size_t)n;
	if (chunked)
		hl = (size_t)snprintf(framed, sizeof(framed), "%zx\r\n",
		    ev_len);
	memcpy(framed + hl, ev, ev_len);
	ev_framed = hl + ev_len;
	if (chunked) {
		memcpy(framed + ev_framed, "\r\n", 2);
		ev_framed += 2;
	}
	ev_digits_at = hl + strlen(DELTA_HEAD);
	for (i = 0; i < BATCH; i++)
		memcpy(block_proto + i * ev_framed, framed, ev_framed);
}

/* Puts the next batch of deltas (and the marker after the last) in out. */
static int
render(struct conn *c)
{
	unsigned long n = c->total - c->rendered, i;
	uint64_t s;
	char *d;
	int k;

	if (n > BATCH)
		n = BATCH;
	c->outoff = c->outlen = 0;
	if (c->outcap < BATCH * ev_framed + 512) {
		free(c->out);
		c->outcap = BATCH * ev_framed + 512;
		if ((c->out = malloc(c->outcap)) == NULL)
			return -1;
	}
	memcpy(c->out, block_proto, n * ev_framed);
	for (i = 0; i < n; i++) {
		d = c->out + i * ev_framed + ev_digits_at;
		s = c->serial++;
		for (k = ID_DIGITS - 1; k >= 0; k--) {
			d[k] = (char)('0' + s % 10);
			s /= 10;
		}
	}
	c->outlen = n * ev_framed;
	c->rendered += n;
	if (c->rendered == c->total) {
		if (out_add(c, MARKER_EV, sizeof(MARKER_EV) - 1, 1) == -1)
			return -1;
		c->marker_done = 1;
	}
	return 0;
}

static void
conn_close(struct conn *c)
{
	close(c->fd);
	free(c->out);
	*c = conns[--nconns];
	memset(&conns[nconns], 0, sizeof(conns[nconns]));
}

static int
respond_len(struct conn *c, int status, const char *body, size_t len,
    int close_after)
{
	char head[256];
	const char *reason = status == 200 ? "OK" : "Not Found";
	int n;

	n = snprintf(head, sizeof(head), "HTTP/1.1 %d %s\r\nContent-Type: "
	    "application/json\r\nContent-Length: %zu\r\n%s\r\n", status,
	    reason, len, close_after ? "Connection: close\r\n" : "");
	if (out_add(c, head, (size_t)n, 0) == -1 ||
	    out_add(c, body, len, 0) == -1)
		return -1;
	c->close_after = close_after;
	c->state = C_RESP;
	return 0;
}

static int
respond(struct conn *c, int status, const char *body, int close_after)
{
	return respond_len(c, status, body, strlen(body), close_after);
}

static unsigned long
query_n(const char *target, unsigned long def)
{
	const char *q = strstr(target, "?n=");
	char *end;
	unsigned long v;

	if (q == NULL)
		return def;
	v = strtoul(q + 3, &end, 10);
	if (end == q + 3 || v > MAX_EVENTS)
		return def;
	return v;
}

/* "S,R,N": sessions, deltas per second each, deltas each; 0 or -1. */
static int
pace_parse(const char *q, unsigned long v[3])
{
	char end;

	if (sscanf(q, "%lu,%lu,%lu%c", &v[0], &v[1], &v[2], &end) != 3 ||
	    v[0] == 0 || v[1] == 0 || v[2] == 0 || v[0] * v[2] > MAX_EVENTS)
		return -1;
	return 0;
}

static void
start_pace(struct conn *c, const unsigned long v[3])
{
	c->state = C_PACE;
	c->pace_s = v[0];
	c->pace_r = v[1];
	c->pace_n = v[2];
	c->pace_sent = 0;
	c->marker_done = 0;
	clock_gettime(CLOCK_MONOTONIC, &c->t0);
}

/* Nanoseconds until this paced stream's next delta is due (0: now). */
static int64_t
pace_due_in(const struct conn *c)
{
	double at = (double)c->pace_sent / (double)(c->pace_s * c->pace_r);
	double left = at - since(&c->t0);

	return left <= 0 ? 0 : (int64_t)(left * 1e9);
}

/*
 * Queues the deltas that are due, each with the time it is queued in its
 * text, then the marker after the last; conn_write sends at once.
 */
static int
pace_emit(struct conn *c)
{
	char ev[600];
	struct timespec t;
	unsigned long k;
	int n;

	if (c->pace_sent < c->pace_s * c->pace_n && pace_due_in(c) == 0) {
		k = c->pace_sent % c->pace_s;
		clock_gettime(CLOCK_MONOTONIC, &t);
		n = snprintf(ev, sizeof(ev), "data: {\"id\":\"" ID_PREFIX
		    "%0*lu\",\"type\":\"message.part.delta\",\"properties\":"
		    "{\"sessionID\":\"%.*s%c\",\"messageID\":\"" MESSAGE
		    "\",\"partID\":\"" PART "\",\"field\":\"text\","
		    "\"delta\":\"t%lld \"}}\n\n", ID_DIGITS,
		    (unsigned long)c->serial++, (int)sizeof(SESSION) - 2,
		    SESSION, (char)('a' + k % 26), (long long)t.tv_sec *
		    1000000000LL + t.tv_nsec);
		if (out_add(c, ev, (size_t)n, 1) == -1)
			return -1;
		c->pace_sent++;
		/* One event per send(2), as a real server writes them. */
		return 0;
	}
	if (c->pace_sent == c->pace_s * c->pace_n && !c->marker_done) {
		if (out_add(c, MARKER_EV, sizeof(MARKER_EV) - 1, 1) == -1)
			return -1;
		c->marker_done = 1;
	}
	return 0;
}

static void
start_flood(struct conn *c, unsigned long n)
{
	c->state = C_FLOOD;
	c->total = n;
	c->rendered = 0;
	c->marker_done = 0;
	clock_gettime(CLOCK_MONOTONIC, &c->t0);
}

static int
stream_open(struct conn *c, const char *target)
{
	char head[512];
	int n;

	n = snprintf(head, sizeof(head), "HTTP/1.1 200 OK\r\n"
	    "Cache-Control: no-cache, no-transform\r\n"
	    "X-Content-Type-Options: nosniff\r\n"
	    "Content-Type: text/event-stream\r\n"
	    "Vary: Origin\r\n"
	    "x-accel-buffering: no\r\n"
	    "%s\r\n", chunked ? "Transfer-Encoding: chunked\r\n" :
	    "Connection: close\r\n");
	if (out_add(c, head, (size_t)n, 0) == -1 ||
	    out_add(c, CONNECTED_EV, sizeof(CONNECTED_EV) - 1, 1) == -1)
		return -1;
	c->is_stream = 1;
	if (strncmp(target, "/event?pace=", 12) == 0) {
		unsigned long v[3];

		c->auto_start = 1;
		if (pace_parse(target + 12, v) == -1)
			return -1;
		start_pace(c, v);
	} else if (strchr(target, '?') != NULL) {
		c->auto_start = 1;
		start_flood(c, query_n(target, 0));
	} else
		c->state = C_ARMED;
	logmsg("/event stream opened (%s)", c->auto_start ? "auto" : "armed");
	return 0;
}

static int	route(struct conn *, const char *, const char *, int);

static int
handle_request(struct conn *c)
{
	char method[16], target[512];
	char *end, *line_end;
	int close_after, r;
	size_t hl;

	end = memmem(c->in, c->inlen, "\r\n\r\n", 4);
	hl = (size_t)(end - c->in) + 4;
	*end = '\0';
	if ((line_end = strstr(c->in, "\r\n")) != NULL)
		*line_end = '\0';
	if (sscanf(c->in, "%15s %511s HTTP/1.1", method, target) != 2)
		return respond(c, 404, "{\"name\":\"BadRequest\"}", 1);
	if (line_end != NULL)
		*line_end = '\r';
	close_after = strcasestr(line_end != NULL ? line_end : "",
	    "\r\nConnection: close") != NULL;
	/* No request carries a body here; a body would desync us. */
	if (strcasestr(line_end != NULL ? line_end : "", "\r\nContent-Length:") ||
	    strcasestr(line_end != NULL ? line_end : "",
	    "\r\nTransfer-Encoding:"))
		close_after = 1;
	n_requests++;
	r = route(c, method, target, close_after);
	/* A pipelined request stays for later. */
	memmove(c->in, c->in + hl, c->inlen - hl);
	c->inlen -= hl;
	return r;
}

static int
route(struct conn *c, const char *method, const char *target, int close_after)
{
	char body[128];
	int i, armed = 0, busy = 0, k = 0;
	unsigned long n;

	if (strcmp(method, "GET") == 0 &&
	    (strcmp(target, "/event") == 0 || strncmp(target, "/event?", 7) == 0))
		return stream_open(c, target);
	if (strcmp(method, "GET") == 0 && strcmp(target, "/session") == 0 &&
	    session_body != NULL)
		return respond_len(c, 200, session_body, session_len,
		    close_after);
	if (strcmp(method, "GET") == 0 && strcmp(target, "/provider") == 0 &&
	    provider_body != NULL)
		return respond_len(c, 200, provider_body, provider_len,
		    close_after);
	if (strcmp(method, "GET") == 0 &&
	    strcmp(target, "/__flood/stats") == 0) {
		snprintf(body, sizeof(body), "{\"accepted\":%lu,"
		    "\"requests\":%lu}", n_accepted, n_requests);
		return respond(c, 200, body, close_after);
	}
	if (strcmp(method, "GET") == 0 &&
	    strncmp(target, "/__flood/pace?", 14) == 0) {
		unsigned long v[3];

		if (pace_parse(target + 14, v) == -1)
			return respond(c, 404, "{\"name\":\"BadPace\"}",
			    close_after);
		for (i = 0; i < nconns; i++)
			if (conns[i].state == C_ARMED && !conns[i].auto_start) {
				start_pace(&conns[i], v);
				k++;
			}
		logmsg("pace: %lu sessions x %lu/s x %lu on %d streams",
		    v[0], v[1], v[2], k);
		snprintf(body, sizeof(body), "{\"started\":%d}", k);
		return respond(c, 200, body, close_after);
	}
	if (strcmp(method, "GET") == 0 &&
	    strcmp(target, "/global/health") == 0)
		return respond(c, 200, "{\"healthy\":true,\"version\":\"bench\"}",
		    close_after);
	if (strcmp(method, "GET") == 0 &&
	    strncmp(target, "/__flood/start", 14) == 0) {
		n = query_n(target, 100000);
		for (i = 0; i < nconns; i++)
			if (conns[i].state == C_ARMED && !conns[i].auto_start) {
				start_flood(&conns[i], n);
				k++;
			}
		logmsg("start: %lu deltas on %d streams", n, k);
		snprintf(body, sizeof(body), "{\"started\":%d}", k);
		return respond(c, 200, body, close_after);
	}
	if (strcmp(method, "GET") == 0 &&
	    strcmp(target, "/__flood/streams") == 0) {
		for (i = 0; i < nconns; i++) {
			armed += conns[i].state == C_ARMED &&
			    !conns[i].auto_start;
			busy += conns[i].state == C_FLOOD ||
			    conns[i].state == C_PACE;
		}
		snprintf(body, sizeof(body), "{\"armed\":%d,\"busy\":%d}",
		    armed, busy);
		return respond(c, 200, body, close_after);
	}
	return respond(c, 404, "{\"name\":\"NotFoundError\",\"data\":"
	    "{\"message\":\"no such route in flood_upstream\"}}", close_after);
}

/* Reads what is there; -1 when the connection must go. */
static int
conn_read(struct conn *c)
{
	char tmp[4096];
	ssize_t n;

	for (;;) {
		if (c->is_stream) {
			/* Nothing more is expected; EOF ends the stream. */
			n = recv(c->fd, tmp, sizeof(tmp), 0);
		} else {
			if (c->inlen == sizeof(c->in))
				return -1;
			n = recv(c->fd, c->in + c->inlen,
			    sizeof(c->in) - c->inlen, 0);
		}
		if (n == 0)
			return -1;
		if (n == -1)
			return errno == EAGAIN || errno == EINTR ? 0 : -1;
		if (!c->is_stream) {
			c->inlen += (size_t)n;
			if (c->state == C_HEAD && memmem(c->in, c->inlen,
			    "\r\n\r\n", 4) != NULL)
				return handle_request(c);
		}
	}
}

/* Writes until the socket is full; -1 when the connection must go. */
static int
conn_write(struct conn *c)
{
	ssize_t n;

	for (;;) {
		if (c->outoff == c->outlen) {
			c->outoff = c->outlen = 0;
			if (c->state == C_RESP) {
				if (c->close_after)
					return -1;
				c->state = C_HEAD;
				/* A pipelined request may be waiting. */
				if (c->inlen > 0 && memmem(c->in, c->inlen,
				    "\r\n\r\n", 4) != NULL) {
					if (handle_request(c) == -1)
						return -1;
					continue;
				}
				return 0;
			}
			if (c->state == C_PACE) {
				if (c->marker_done) {
					logmsg("paced round done: %lu deltas",
					    c->pace_sent);
					c->state = C_ARMED;
					return 0;
				}
				if (pace_emit(c) == -1)
					return -1;
				if (c->outoff == c->outlen)
					return 0;	/* nothing due yet */
				goto send;
			}
			if (c->state != C_FLOOD)
				return 0;
			if (c->marker_done) {
				logmsg("round done: %lu deltas in %.3f s "
				    "(%.0f/s written)", c->total, since(&c->t0),
				    (double)c->total / since(&c->t0));
				if (c->auto_start) {
					c->state = C_ARMED;	/* stays open, idle */
					c->total = 0;
					return 0;
				}
				c->state = C_ARMED;
				return 0;
			}
			if (render(c) == -1)
				return -1;
		}
 send:
		n = send(c->fd, c->out + c->outoff, c->outlen - c->outoff,
		    MSG_NOSIGNAL);
		if (n > 0) {
			c->outoff += (size_t)n;
			c->last_write = time(NULL);
			continue;
		}
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && errno == EAGAIN)
			return 0;
		return -1;
	}
}

/* The whole file in a malloc'd buffer; 0 or -1. */
static int
read_file(const char *path, char **out, size_t *len)
{
	FILE *fp;
	long sz;

	if ((fp = fopen(path, "rb")) == NULL)
		return -1;
	if (fseek(fp, 0, SEEK_END) == -1 || (sz = ftell(fp)) <= 0 ||
	    fseek(fp, 0, SEEK_SET) == -1 || (*out = malloc((size_t)sz)) == NULL ||
	    fread(*out, 1, (size_t)sz, fp) != (size_t)sz) {
		fclose(fp);
		return -1;
	}
	fclose(fp);
	*len = (size_t)sz;
	return 0;
}

static void __attribute__((noreturn))
usage(void)
{
	fprintf(stderr, "usage: flood_upstream [--port N] [--close] "
	    "[--max-seconds S] [--session FILE]\n"
	    "    [--provider FILE]\n");
	exit(2);
}

int
main(int argc, char *argv[])
{
	static long port = 0, maxs = 300;
	static const char *session, *provider;
	static const struct bu_opt opts[] = {
		{ "port",	 BU_LONG, &port,	0, 65535 },
		{ "close",	 BU_SET,  &chunked,	0, 0 },
		{ "max-seconds", BU_LONG, &maxs,	1, 86400 },
		{ "session",	 BU_STR,  &session,	0, 0 },
		{ "provider",	 BU_STR,  &provider,	0, 0 },
	};
	struct pollfd pfd[MAX_CONNS + 1];
	struct sockaddr_in sin;
	socklen_t slen = sizeof(sin);
	struct timespec tmo;
	time_t started, now, last_hb;
	int64_t due, next;
	int lfd, i, one = 1, fd;

	bu_opts(argc, argv, opts, sizeof(opts) / sizeof(opts[0]), usage);
	if (session != NULL &&
	    read_file(session, &session_body, &session_len) == -1) {
		logmsg("cannot read %s", session);
		return 1;
	}
	if (provider != NULL &&
	    read_file(provider, &provider_body, &provider_len) == -1) {
		logmsg("cannot read %s", provider);
		return 1;
	}
	signal(SIGPIPE, SIG_IGN);
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	block_init();

	if ((lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0)) == -1)
		return 1;
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(lfd, (struct sockaddr *)&sin, sizeof(sin)) == -1 ||
	    listen(lfd, 1024) == -1 ||
	    getsockname(lfd, (struct sockaddr *)&sin, &slen) == -1) {
		logmsg("cannot listen: %s", strerror(errno));
		return 1;
	}
	printf("{\"port\":%u}\n", (unsigned)ntohs(sin.sin_port));
	fflush(stdout);
	logmsg("listening on 127.0.0.1:%u (%s), %zu bytes per delta event",
	    (unsigned)ntohs(sin.sin_port), chunked ? "chunked" :
	    "close-delimited", ev_len);

	started = last_hb = time(NULL);
	while (!stop) {
		now = time(NULL);
		if (now - started >= maxs) {
			logmsg("--max-seconds reached, exiting");
			break;
		}
		if (now - last_hb >= HEARTBEAT_S) {
			last_hb = now;
			for (i = 0; i < nconns; i++)
				if (conns[i].state == C_ARMED &&
				    conns[i].outoff == conns[i].outlen)
					(void)out_add(&conns[i], HEARTBEAT_EV,
					    sizeof(HEARTBEAT_EV) - 1, 1);
		}
		pfd[0].fd = lfd;
		pfd[0].events = nconns < MAX_CONNS ? POLLIN : 0;
		next = 1000000000;
		for (i = 0; i < nconns; i++) {
			struct conn *c = &conns[i];

			pfd[i + 1].fd = c->fd;
			pfd[i + 1].events = POLLIN;
			if (c->outoff < c->outlen || c->state == C_FLOOD)
				pfd[i + 1].events |= POLLOUT;
			else if (c->state == C_PACE &&
			    (due = c->marker_done ? 0 : pace_due_in(c)) < next)
				next = due;
			pfd[i + 1].revents = 0;
		}
		/* A paced stream's next delta is due: wake at that time. */
		tmo.tv_sec = next / 1000000000;
		tmo.tv_nsec = next % 1000000000;
		if (ppoll(pfd, (nfds_t)nconns + 1, &tmo, NULL) == -1) {
			if (errno == EINTR)
				continue;
			logmsg("poll: %s", strerror(errno));
			break;
		}
		/* Back to front: conn_close moves the last one into the hole. */
		for (i = nconns - 1; i >= 0; i--) {
			struct conn *c = &conns[i];
			short re = pfd[i + 1].revents;

			if (re & (POLLIN | POLLHUP | POLLERR))
				if (conn_read(c) == -1) {
					if (c->is_stream)
						logmsg("/event stream closed");
					conn_close(c);
					continue;
				}
			if ((re & POLLOUT) || c->outoff < c->outlen ||
			    c->state == C_FLOOD || c->state == C_PACE)
				if (conn_write(c) == -1) {
					conn_close(c);
					continue;
				}
		}
		if (pfd[0].revents & POLLIN) {
			while (nconns < MAX_CONNS && (fd = accept4(lfd, NULL,
			    NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) != -1) {
				memset(&conns[nconns], 0, sizeof(conns[0]));
				conns[nconns].fd = fd;
				conns[nconns].state = C_HEAD;
				n_accepted++;
				setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one,
				    sizeof(one));
				nconns++;
			}
		}
	}
	while (nconns > 0)
		conn_close(&conns[nconns - 1]);
	close(lfd);
	return 0;
}
