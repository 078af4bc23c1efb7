/*
 * Copyright (c) 2026 The ocbroker authors
 * SPDX-License-Identifier: ISC (the licence is in the file LICENSE)
 */

/*
 * Shared pieces of the benchmarks: spawning the processes under test (each in
 * its own process group, killed by PID at the end), ready lines, timing and
 * percentiles, a raw HTTP/1.1 keep-alive client and a fast WebSocket client.
 *
 * The fast WebSocket client lets tests/wsclient.c do the opening handshake
 * and the auth handshake (tested code), then takes the descriptor over: the
 * test client copies every frame into a malloc'd buffer, memmoves its read
 * buffer after each message and calls getrandom(2) for every mask, which is
 * fine for tests but would dominate what we measure here.  This one reads
 * into a large buffer, hands out frames in place and masks with a xorshift.
 *
 * Every wait is bounded (poll with a deadline); 127.0.0.1 only.
 */
#ifndef OCB_BENCH_UTIL_H
#define OCB_BENCH_UTIL_H

#include <sys/types.h>

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "bench/bench_base.h"

/* The build and source trees (the Makefile passes both). */
#ifndef BENCH_BUILD
#define BENCH_BUILD	"."
#endif
#ifndef BENCH_SRC
#define BENCH_SRC	".."
#endif

#ifndef BU_LOGDIR
#define BU_LOGDIR	"/tmp/bn"	/* -DBU_LOGDIR='"..."' to change */
#endif

/* ---- time and statistics ---- */

int	bu_left_ms(int64_t deadline_ns);

struct bu_stats {
	double	p50, p99, mean, min, max;	/* microseconds */
	size_t	n;
};
/* Sorts v (nanoseconds) in place and fills s. */
void	bu_stats(int64_t *v, size_t n, struct bu_stats *s);

/* The 1-minute load average; warns on stderr when it is high. */
double	bu_loadavg(void);
void	bu_check_load(const char *when);
/*
 * The start of a report's run: SIGPIPE ignored, stdout line-buffered;
 * returns the load average (and warns when it is high).
 */
double	bu_begin(void);
/* Its first line: PROG, the date, the system, the load, ocbroker's version. */
void	bu_print_header(const char *prog, double load0, double load1,
	    const char *version);

/* ---- processes ---- */

struct bu_proc {
	pid_t	 pid;
	int	 out;		/* its stdout (a pipe), -1 when closed */
	char	 log[256];	/* its stderr */
};

/* fork + exec in its own process group; stdout on a pipe, stderr to a log. */
int	bu_spawn(struct bu_proc *, const char *path, char *const argv[],
	    const char *logname);
/* Reads one line of its stdout (without the newline); 0 or -1. */
int	bu_read_line(struct bu_proc *, char *buf, size_t sz, int timeout_ms);
/* SIGTERM, wait up to timeout_ms, then SIGKILL the group; always reaps. */
void	bu_stop(struct bu_proc *, int timeout_ms);
/* Stops ocbroker and its upstream and names their logs on stderr. */
void	bu_stop_both(struct bu_proc *ocb, struct bu_proc *upstream);
/* "PROG: message" on stderr, bu_stop_both(), exit status 1. */
void	bu_vdie(struct bu_proc *ocb, struct bu_proc *upstream,
	    const char *fmt, va_list ap)
	    __attribute__((noreturn, format(printf, 3, 0)));

/*
 * Spawns an upstream (fake_upstream, flood_upstream) and reads the port
 * from its first line, {"port":P}; 0 or -1.
 */
int	bu_spawn_upstream(struct bu_proc *, const char *path,
	    char *const argv[], const char *logname, int timeout_ms,
	    uint16_t *port);
/*
 * ocbroker's command line in front of url: argv needs BU_OCB_ARGC entries
 * and ends with NULL; loglevel NULL keeps ocbroker's.  Returns argc.
 */
#define BU_OCB_ARGC	10
int	bu_ocb_argv(char *argv[], const char *path, char *url, int sandbox,
	    const char *loglevel);

/* The PIDs of pid's direct children (from /proc); returns how many. */
size_t	bu_children(pid_t pid, pid_t *out, size_t max);

/* ocbroker's front and netproc (by the role in their command line); 0 or -1. */
int	bu_role_pids(pid_t ocbroker, pid_t *front, pid_t *netproc);
/* CPU time (user + system) a process used so far, in seconds; -1 if gone. */
double	bu_cpu_seconds(pid_t);

/*
 * Optional profiling: perf record -g on the given processes until
 * bu_perf_stop().  Returns perf's pid, or -1.
 */
pid_t	bu_perf_start(const pid_t *pids, size_t n, const char *outfile);
void	bu_perf_stop(pid_t);

/* {"ready":true,"port":P,"token":"…","version":"…"}: 0 or -1. */
int	bu_parse_ready(const char *line, uint16_t *port, char *token,
	    size_t tokensz, char *version, size_t versionsz);

/* ---- sockets ---- */

/* A blocking TCP connection to 127.0.0.1:port with TCP_NODELAY; fd or -1. */
int	bu_connect(uint16_t port, int timeout_ms);

/*
 * One HTTP/1.1 request on a keep-alive connection; reads a Content-Length
 * (or chunked) body into *body (grown as needed).  Returns the status or -1.
 */
struct bu_http {
	int	 fd;
	uint8_t	*buf;
	size_t	 len, cap;
	uint8_t	*body;
	size_t	 body_len, body_cap;
};
int	bu_http_open(struct bu_http *, uint16_t port, int timeout_ms);
int	bu_http_get(struct bu_http *, const char *req, size_t reqlen,
	    int timeout_ms);
void	bu_http_close(struct bu_http *);
/* One request on a new connection (Connection: close); status or -1. */
int	bu_http_once(uint16_t port, const char *path, char *resp, size_t respsz,
	    int timeout_ms);

/* ---- fast WebSocket client ---- */

struct bws {
	int	 fd;
	uint8_t	*buf;
	size_t	 off;		/* first unconsumed byte */
	size_t	 len;		/* bytes held */
	size_t	 cap;
	uint64_t rng;
	int	 eof;
	int	 blocking;	/* recv blocks (SO_RCVTIMEO bounds it) */
};

enum bws_res {
	BWS_FRAME,	/* a whole frame: *op, *data, *len (valid until the next call) */
	BWS_AGAIN,	/* (non-blocking use) nothing whole buffered */
	BWS_EOF,
	BWS_TIMEOUT,
	BWS_ERROR
};

/* wsc_open + wsc_auth, then the descriptor is ours; 0 or -1. */
int	bws_open_auth(struct bws *, uint16_t port, const char *token,
	    size_t bufsz, int timeout_ms);
void	bws_close(struct bws *);
/*
 * Blocking reads bounded by SO_RCVTIMEO: one recv(2) per wait instead of
 * recv + poll + recv, as the raw HTTP client does, so both sides of a
 * latency comparison pay the same syscalls.
 */
int	bws_set_blocking(struct bws *, int timeout_ms);
/* Sends one masked binary frame; 0 or -1. */
int	bws_send(struct bws *, const void *, size_t, int timeout_ms);
/* The next frame, reading (blocking, with a deadline) as needed. */
enum bws_res bws_next(struct bws *, int *op, const uint8_t **data, size_t *len,
	    int timeout_ms);
/* Parses a frame already buffered, without reading. */
enum bws_res bws_parse(struct bws *, int *op, const uint8_t **data,
	    size_t *len);
/* One non-blocking read into the buffer: >0, 0 (EOF), -1 (EAGAIN), -2. */
ssize_t	bws_fill(struct bws *);

/* ---- protobuf wire walking (no allocation) ---- */

/*
 * Reads one field of a message: returns 1 with its number, wire type and
 * either its varint value or its bytes; 0 at the end; -1 if malformed.
 */
int	pbw_next(const uint8_t **p, const uint8_t *end, uint32_t *field,
	    int *wt, uint64_t *v, const uint8_t **bytes, size_t *blen);

#endif
