/*
 * Copyright (c) 2026 The ocbroker authors
 * SPDX-License-Identifier: ISC (the licence is in the file LICENSE)
 */

/*
 * bench_load: the figures of issue 9, each printed for ocbroker, for the
 * Node.js peer broker and for the ceiling (the same work sent straight to
 * the upstream), all measured in the same run.
 *
 *   startup	exec to ready line (ocbroker with and without its sandbox)
 *   memory	idle PSS of the whole process tree, and PSS added per idle
 *		authenticated connection (--conns, 1000)
 *   latency	ListSessions p50/p99, one request at a time
 *   throughput	8 connections x 8 ListSessions in flight: req/s, broker CPU
 *		per request (every process of the tree), and new upstream
 *		TCP connections per 1000 requests, counted by the upstream
 *   burst	1000 connections, one ListSessions each, all sent at once:
 *		answered, errors, time until the last answer
 *   stream	10 sessions x 100 deltas/s, one per upstream event: latency
 *		from the upstream's write to the client's read, per token;
 *		first token of a 20,000-delta burst; deltas/s to 10 clients
 *
 * The upstream is flood_upstream (one per target, so that its counters are
 * that target's only) serving tests/fixtures/session-list.json as
 * GET /session.  The peer is `node DIR/broker.js`, with DIR from --peer or
 * BENCH_PEER_DIR; without node or DIR its column says so.  Every wait has a
 * deadline; every process started here is stopped by its PID.
 */
#include "bench/bench_relay.h"
#include "bench/bench_util.h"
#include "tests/wsclient.h"

#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAXT		3	/* ocbroker, node, direct */
#define MAXTREE		32
#define TP_CONNS	8
#define TP_DEPTH	8
#define TP_WARM_MS	500
#define TP_MS		3000
#define LAT_WARM	300
#define LAT_ROUNDS	10
#define LAT_BATCH	200
#define PROV_WARM	2
#define PROV_ROUNDS	20
#define PACE_S		10
#define PACE_R		100
#define PACE_N		300	/* per session: 3 s */
#define FIRST_N		20000
#define FLOOD_N		300000
#define NCLIENTS	10

enum kind { T_OCB, T_NODE, T_DIRECT };

struct target {
	const char	*name;
	enum kind	 kind;
	int		 up;		/* usable in this run */
	struct bu_proc	 flood;
	uint16_t	 fport;
	struct bu_proc	 proc;
	uint16_t	 port;
	char		 token[160];
	int		 sandbox;	/* ocbroker runs with its sandbox */
};

static struct {
	const char	*ocbroker, *flood, *session, *provider, *peer, *node;
	const char	*perf;
	const char	*only, *flood_arg;
	int		 runs, conns, sandbox;
} opt;

static struct target	 T[MAXT];
static uint64_t		 next_id = 1;

static void __attribute__((noreturn, format(printf, 1, 2)))
die(const char *fmt, ...)
{
	va_list ap;
	int i;

	va_start(ap, fmt);
	fprintf(stderr, "bench_load: ");
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	for (i = 0; i < MAXT; i++) {
		bu_stop(&T[i].proc, 2000);
		bu_stop(&T[i].flood, 2000);
	}
	exit(1);
}

static int
want(const char *fig)
{
	const char *p;
	size_t n = strlen(fig);

	if (opt.only == NULL)
		return 1;
	for (p = opt.only; (p = strstr(p, fig)) != NULL; p += n)
		if ((p == opt.only || p[-1] == ',') &&
		    (p[n] == '\0' || p[n] == ','))
			return 1;
	return 0;
}

static int
cmp_dbl(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double
median(double *v, int n)
{
	if (n == 0)
		return -1;
	qsort(v, (size_t)n, sizeof(*v), cmp_dbl);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* ---- processes ---- */

/* pid and all its descendants; returns how many. */
static size_t
tree(pid_t root, pid_t *out, size_t max)
{
	size_t n = 0, i;

	if (root <= 0 || max == 0)
		return 0;
	out[n++] = root;
	for (i = 0; i < n && n < max; i++)
		n += bu_children(out[i], out + n, max - n);
	return n;
}

static double
tree_cpu(pid_t root)
{
	pid_t p[MAXTREE];
	size_t n = tree(root, p, MAXTREE), i;
	double s = 0, c;

	for (i = 0; i < n; i++)
		if ((c = bu_cpu_seconds(p[i])) > 0)
			s += c;
	return s;
}

/*
 * Sums smaps_rollup's "Key:" over every process of the tree, in KiB; -1 on
 * error.  Pss of file pages is shared with every other process mapping the
 * same library (another ocbroker lowers the tree's), Pss_Anon is the tree's
 * own.
 */
static long
tree_mem(pid_t root, const char *key)
{
	pid_t p[MAXTREE];
	size_t n = tree(root, p, MAXTREE), i, klen = strlen(key);
	char path[64], line[256];
	long sum = 0, kb;
	FILE *fp;

	for (i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "/proc/%d/smaps_rollup", (int)p[i]);
		if ((fp = fopen(path, "r")) == NULL)
			return -1;
		while (fgets(line, sizeof(line), fp) != NULL)
			if (strncmp(line, key, klen) == 0 && line[klen] == ':' &&
			    sscanf(line + klen + 1, " %ld kB", &kb) == 1)
				sum += kb;
		fclose(fp);
	}
	return sum;
}

static long
tree_pss(pid_t root)
{
	return tree_mem(root, "Pss");
}

/* Prints "pid=role" for the tree, for reading a perf report by pid. */
static void
print_roles(pid_t root)
{
	pid_t p[MAXTREE];
	size_t n = tree(root, p, MAXTREE), i, len;
	char path[64], buf[512];
	const char *role;
	ssize_t r;
	int fd;

	printf("  pids:");
	for (i = 0; i < n; i++) {
		role = i == 0 ? "parent" : "spawner";
		snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)p[i]);
		if ((fd = open(path, O_RDONLY | O_CLOEXEC)) != -1) {
			r = read(fd, buf, sizeof(buf) - 1);
			close(fd);
			buf[r > 0 ? r : 0] = '\0';
			/* argv is NUL-separated: "--role" then its value. */
			for (len = 0; r > 0 && len < (size_t)r;
			    len += strlen(buf + len) + 1)
				if (strcmp(buf + len, "--role") == 0 &&
				    len + 7 < (size_t)r)
					role = buf + len + 7;
		}
		printf(" %d=%s", (int)p[i], role);
	}
	printf("\n");
}

static int
flood_start(struct target *t)
{
	char name[128], *argv[10];
	int i = 0;

	argv[i++] = (char *)opt.flood;
	argv[i++] = "--session";
	argv[i++] = (char *)opt.session;
	if (opt.provider != NULL) {
		argv[i++] = "--provider";
		argv[i++] = (char *)opt.provider;
	}
	argv[i++] = "--max-seconds";
	argv[i++] = "1800";
	if (opt.flood_arg != NULL)
		argv[i++] = (char *)opt.flood_arg;	/* e.g. --close */
	argv[i] = NULL;
	snprintf(name, sizeof(name), "flood-%s", t->name);
	return bu_spawn_upstream(&t->flood, opt.flood, argv, name, 5000,
	    &t->fport);
}

/* Asks the target's upstream; -1 or the value of "key":N in the answer. */
static long
flood_get(const struct target *t, const char *path, const char *key)
{
	char resp[512], k[64], *p;

	if (bu_http_once(t->fport, path, resp, sizeof(resp), 5000) != 200)
		return -1;
	snprintf(k, sizeof(k), "\"%s\":", key);
	if ((p = strstr(resp, k)) == NULL)
		return -1;
	return strtol(p + strlen(k), NULL, 10);
}

/* Starts the broker; returns the ms from fork+exec to its ready line, or -1. */
static double
broker_start(struct target *t, int sandbox)
{
	char url[64], line[512], ver[64], js[4096], *argv[BU_OCB_ARGC];
	int64_t t0;
	int i = 0;

	snprintf(url, sizeof(url), "http://127.0.0.1:%u", (unsigned)t->fport);
	if (t->kind == T_OCB)
		(void)bu_ocb_argv(argv, opt.ocbroker, url, sandbox, NULL);
	else {
		snprintf(js, sizeof(js), "%s/broker.js", opt.peer);
		argv[i++] = (char *)opt.node;
		argv[i++] = js;
		argv[i++] = "--port";
		argv[i++] = "0";
		argv[i++] = "--upstream";
		argv[i++] = url;
		argv[i] = NULL;
	}
	t0 = bu_now_ns();
	if (bu_spawn(&t->proc, argv[0], argv, t->name) == -1)
		return -1;
	if (bu_read_line(&t->proc, line, sizeof(line), 15000) == -1 ||
	    bu_parse_ready(line, &t->port, t->token, sizeof(t->token), ver,
	    sizeof(ver)) == -1) {
		fprintf(stderr, "%s: no ready line (see %s)\n", t->name,
		    t->proc.log);
		bu_stop(&t->proc, 2000);
		return -1;
	}
	return (double)(bu_now_ns() - t0) / 1e6;
}

/* Until the broker's GET /event is open and armed at its upstream. */
static int
wait_armed(const struct target *t)
{
	int64_t deadline = bu_now_ns() + 15000000000LL;

	while (bu_now_ns() < deadline) {
		if (flood_get(t, "/__flood/streams", "armed") >= 1 &&
		    flood_get(t, "/__flood/streams", "busy") == 0)
			return 0;
		usleep(20000);
	}
	return -1;
}

/* ---- protobuf bits: hand-encoded requests, walked replies ---- */

static size_t
put_varint(uint8_t *p, uint64_t v)
{
	size_t n = 0;

	while (v >= 0x80) {
		p[n++] = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	p[n++] = (uint8_t)v;
	return n;
}

/* ClientMessage{request_id = id, list_sessions (20) = {}}. */
static size_t
list_sessions(uint8_t *buf, uint64_t id)
{
	size_t n = 0;

	buf[n++] = 0x08;
	n += put_varint(buf + n, id);
	buf[n++] = 0xa2;	/* field 20, length-delimited */
	buf[n++] = 0x01;
	buf[n++] = 0x00;
	return n;
}

/* What one ServerMessage is, as far as these figures care. */
struct smsg {
	uint64_t	 id;
	int		 list;		/* session_list (20) */
	int		 provider;	/* provider_status (40) */
	int		 error;		/* error (100) */
	char		 code[48];	/* its code */
	int		 token;		/* ChatToken (200) */
	const uint8_t	*delta;
	size_t		 dlen;
	int		 idle;		/* SessionEvent (204) of kind idle */
};

/* The first field `want` of a sub-message: 1 with its value or bytes, or 0. */
static int
sub_field(const uint8_t *p, size_t len, uint32_t want, int *wt, uint64_t *v,
    const uint8_t **bytes, size_t *blen)
{
	const uint8_t *end = p + len;
	uint32_t f;

	while (pbw_next(&p, end, &f, wt, v, bytes, blen) == 1)
		if (f == want)
			return 1;
	return 0;
}

static int
smsg_walk(const uint8_t *p, size_t len, struct smsg *m)
{
	const uint8_t *end = p + len, *b, *sb;
	uint32_t f;
	uint64_t v, sv;
	size_t bl, sl;
	int wt, sw, r;

	memset(m, 0, sizeof(*m));
	while ((r = pbw_next(&p, end, &f, &wt, &v, &b, &bl)) == 1) {
		if (f == 1 && wt == 0)
			m->id = v;
		else if (f == 20)
			m->list = 1;
		else if (f == 40)
			m->provider = 1;
		else if (f == 100 && wt == 2) {
			/* ErrorResponse.code (1) */
			m->error = 1;
			if (sub_field(b, bl, 1, &sw, &sv, &sb, &sl) && sw == 2)
				snprintf(m->code, sizeof(m->code), "%.*s",
				    (int)sl, (const char *)sb);
		} else if (f == 200 && wt == 2) {
			/* ChatToken.delta (4) */
			m->token = 1;
			if (sub_field(b, bl, 4, &sw, &sv, &sb, &sl) && sw == 2) {
				m->delta = sb;
				m->dlen = sl;
			}
		} else if (f == 204 && wt == 2) {
			/* kind (2): "idle" here (a string), IDLE = 5 in Node's enum. */
			if (sub_field(b, bl, 2, &sw, &sv, &sb, &sl) &&
			    ((sw == 2 && sl == 4 && memcmp(sb, "idle", 4) == 0) ||
			    (sw == 0 && sv == 5)))
				m->idle = 1;
		}
	}
	return r;
}

/* ---- raw HTTP connections for the ceiling ---- */

struct hconn {
	int	 fd;
	char	 buf[16384];
	size_t	 len;
	int	 busy;
};

static const char GET_SESSION[] = "GET /session HTTP/1.1\r\n"
    "Host: 127.0.0.1\r\n\r\n";

/* A whole response in buf: consumed, returns its status; 0 if not yet. */
static int
hconn_take(struct hconn *h)
{
	char *e, *cl;
	size_t hl, blen;
	int status;

	if ((e = memmem(h->buf, h->len, "\r\n\r\n", 4)) == NULL)
		return 0;
	hl = (size_t)(e - h->buf) + 4;
	*e = '\0';
	cl = strcasestr(h->buf, "\r\nContent-Length:");
	blen = cl != NULL ? strtoul(cl + 17, NULL, 10) : 0;
	if (sscanf(h->buf, "HTTP/1.1 %d", &status) != 1)
		status = -1;
	*e = '\r';
	if (h->len < hl + blen)
		return 0;
	memmove(h->buf, h->buf + hl + blen, h->len - hl - blen);
	h->len -= hl + blen;
	return status;
}

/* Reads what is there; the status of a whole response, 0, or -1. */
static int
hconn_read(struct hconn *h)
{
	ssize_t n;

	n = recv(h->fd, h->buf + h->len, sizeof(h->buf) - h->len,
	    MSG_DONTWAIT);
	if (n == 0 || (n == -1 && errno != EAGAIN && errno != EINTR))
		return -1;
	if (n > 0)
		h->len += (size_t)n;
	return hconn_take(h);
}

/* ---- SSE reader for the ceiling of the stream rows ---- */

struct sse {
	int	 fd;
	char	*buf;
	size_t	 len, cap;
	uint64_t deltas;
	int	 idle;
	int64_t	 first_ns;
};

/* Counts the whole events read so far; stamps go to lat (ns) when pace. */
static int
sse_read(struct sse *s, int64_t *lat, size_t *nlat, size_t latmax)
{
	static const char dk[] = "\"delta\":\"";
	char *p, *end, *last = NULL, *q;
	int64_t now;
	ssize_t n;

	if (s->cap - s->len < 65536)
		return -1;
	n = recv(s->fd, s->buf + s->len, s->cap - s->len, MSG_DONTWAIT);
	if (n == 0 || (n == -1 && errno != EAGAIN && errno != EINTR))
		return -1;
	if (n <= 0)
		return 0;
	now = bu_now_ns();
	s->len += (size_t)n;
	/* Whole events only: up to the last blank line. */
	for (q = s->buf + s->len - 1; q > s->buf; q--)
		if (q[0] == '\n' && q[-1] == '\n') {
			last = q + 1;
			break;
		}
	if (last == NULL)
		return 0;
	end = last;
	for (p = s->buf; (p = memmem(p, (size_t)(end - p), dk,
	    sizeof(dk) - 1)) != NULL; p += sizeof(dk) - 1) {
		s->deltas++;
		if (s->first_ns == 0)
			s->first_ns = now;
		if (p[sizeof(dk) - 1] == 't' && *nlat < latmax)
			lat[(*nlat)++] = now - strtoll(p + sizeof(dk), NULL,
			    10);
	}
	/* The marker is the last event of a round. */
	p = end - s->buf > 512 ? end - 512 : s->buf;
	if (memmem(p, (size_t)(end - p), "session.idle", 12))
		s->idle = 1;
	memmove(s->buf, end, s->len - (size_t)(end - s->buf));
	s->len -= (size_t)(end - s->buf);
	return 0;
}

static int
sse_open(struct sse *s, uint16_t port, const char *path)
{
	char req[256];
	int n;

	memset(s, 0, sizeof(*s));
	s->cap = 4 << 20;
	if ((s->buf = malloc(s->cap)) == NULL ||
	    (s->fd = bu_connect(port, 5000)) == -1)
		return -1;
	n = snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: 127.0.0.1"
	    "\r\nAccept: text/event-stream\r\n\r\n", path);
	return wsc_send_all(s->fd, req, (size_t)n, 5000);
}

static void
sse_close(struct sse *s)
{
	if (s->fd != -1)
		close(s->fd);
	free(s->buf);
	s->buf = NULL;
	s->fd = -1;
}

/* ---- printing ---- */

static void
header(const char *fig, const char *what)
{
	printf("\n== %s: %s (load %.2f)\n", fig, what, bu_loadavg());
	fflush(stdout);
}

static void
row3(const char *label, const char *unit, const double v[MAXT])
{
	int i;

	printf("  %-34s", label);
	for (i = 0; i < MAXT; i++)
		if (v[i] < 0)
			printf(" %14s", "-");
		else
			printf(" %11.1f %-2s", v[i], unit);
	printf("\n");
	fflush(stdout);
}

static void
cols(void)
{
	printf("  %-34s %14s %14s %14s\n", "", "ocbroker", "node peer",
	    "direct");
}

/* ---- 7: start-up ---- */

static void
fig_startup(void)
{
	double s_on[9], s_off[9], s_node[9], v[MAXT];
	int r, n = opt.runs < 3 ? 3 : opt.runs, non = 0, noff = 0, nn = 0;
	double ms;

	header("7 start-up", "exec to ready line, ms, median of runs");
	if (n > 9)
		n = 9;
	for (r = 0; r < n; r++) {
		if (geteuid() == 0 && opt.sandbox &&
		    (ms = broker_start(&T[T_OCB], 1)) >= 0) {
			s_on[non++] = ms;
			bu_stop(&T[T_OCB].proc, 3000);
		}
		if ((ms = broker_start(&T[T_OCB], 0)) >= 0) {
			s_off[noff++] = ms;
			bu_stop(&T[T_OCB].proc, 3000);
		}
		if (T[T_NODE].up && (ms = broker_start(&T[T_NODE], 0)) >= 0) {
			s_node[nn++] = ms;
			bu_stop(&T[T_NODE].proc, 3000);
		}
	}
	cols();
	v[0] = non ? median(s_on, non) : -1;
	v[1] = nn ? median(s_node, nn) : -1;
	v[2] = -1;
	row3("sandbox on (node: has none)", "ms", v);
	v[0] = noff ? median(s_off, noff) : -1;
	v[1] = -1;
	row3("--insecure-no-sandbox", "ms", v);
	if (non == 0)
		printf("  (no sandboxed start: not root, --no-sandbox, or it "
		    "failed: see %s)\n", T[T_OCB].proc.log);
}

/* ---- 6: memory ---- */

static void
fig_memory(void)
{
	double idle[MAXT], anon[MAXT], per[MAXT];
	struct bws *c;
	long p0, p1;
	int i, k, n;

	header("6 memory", "PSS of every process of the tree");
	if ((c = calloc((size_t)opt.conns, sizeof(*c))) == NULL)
		die("calloc");
	for (i = 0; i < MAXT; i++) {
		idle[i] = anon[i] = per[i] = -1;
		if (!T[i].up || i == T_DIRECT)
			continue;
		usleep(500000);
		p0 = tree_pss(T[i].proc.pid);
		anon[i] = (double)tree_mem(T[i].proc.pid, "Pss_Anon") / 1024;
		for (n = 0; n < opt.conns; n++)
			if (bws_open_auth(&c[n], T[i].port, T[i].token, 4096,
			    10000) == -1)
				break;
		usleep(1000000);
		p1 = tree_pss(T[i].proc.pid);
		for (k = 0; k < n; k++)
			bws_close(&c[k]);
		if (n < opt.conns)
			printf("  %s: only %d connections authenticated\n",
			    T[i].name, n);
		idle[i] = (double)p0 / 1024;
		if (n > 0)
			per[i] = (double)(p1 - p0) / n;
		usleep(500000);
	}
	free(c);
	cols();
	row3("idle tree PSS", "MiB", idle);
	row3("  of which anonymous (Pss_Anon)", "MiB", anon);
	row3("PSS added per idle auth. conn.", "KiB", per);
}

/* ---- 4: latency ---- */

/* One blocking connection to target i: HTTP for direct, else WebSocket. */
static void
target_open(int i, struct bu_http *h, struct bws *b, size_t max_message)
{
	if (i == T_DIRECT ? bu_http_open(h, T[i].fport, 5000) :
	    bws_open_auth(b, T[i].port, T[i].token, max_message, 5000))
		die("%s: cannot connect", T[i].name);
	if (i != T_DIRECT)
		bws_set_blocking(b, 5000);
}

static void
target_close(int i, struct bu_http *h, struct bws *b)
{
	if (i == T_DIRECT)
		bu_http_close(h);
	else
		bws_close(b);
}

/* Seconds on a CPU of the relay's two processes. */
static double
relay_cpu(const struct relay *rl)
{
	return bu_cpu_seconds(rl->near) + bu_cpu_seconds(rl->far);
}

/*
 * Sends req (request id) on a blocking connection and waits for the
 * ServerMessage with that id, in *m: the round trip in ns, or -1.
 */
static int64_t
ws_call(struct bws *b, const uint8_t *req, size_t len, uint64_t id,
    int timeout_ms, struct smsg *m)
{
	const uint8_t *d;
	size_t dl;
	int64_t t0 = bu_now_ns();
	int op;

	if (bws_send(b, req, len, 5000) == -1)
		return -1;
	for (;;) {
		if (bws_next(b, &op, &d, &dl, timeout_ms) != BWS_FRAME)
			return -1;
		if (op == 2 && smsg_walk(d, dl, m) == 0 && m->id == id)
			return bu_now_ns() - t0;
	}
}

/* One ListSessions on an authenticated blocking connection; ns or -1. */
static int64_t
ws_roundtrip(struct bws *b)
{
	uint8_t req[32];
	struct smsg m;
	uint64_t id = next_id++;
	int64_t ns;

	ns = ws_call(b, req, list_sessions(req, id), id, 5000, &m);
	return ns >= 0 && m.list ? ns : -1;
}

static int64_t
http_roundtrip(struct bu_http *h)
{
	int64_t t0 = bu_now_ns();

	if (bu_http_get(h, GET_SESSION, sizeof(GET_SESSION) - 1, 5000) != 200)
		return -1;
	return bu_now_ns() - t0;
}

static void
fig_latency(void)
{
	static int64_t s[MAXT][LAT_ROUNDS * LAT_BATCH];
	static int64_t sr[LAT_ROUNDS * LAT_BATCH];
	struct bu_stats st[MAXT], str;
	struct bws b[MAXT];
	struct bu_http h, hr;
	struct relay rl;
	double p50[MAXT], p99[MAXT], cpu[MAXT] = { 0 }, rcpu = 0, c0;
	size_t n[MAXT] = { 0 }, nr = 0;
	int i, r, k, relay = 0;
	int64_t ns;

	header("4 latency", "ListSessions one at a time vs GET /session, us");
	for (i = 0; i < MAXT; i++) {
		if (!T[i].up)
			continue;
		target_open(i, &h, &b[i], 1 << 20);
		for (k = 0; k < LAT_WARM; k++)
			if ((i == T_DIRECT ? http_roundtrip(&h) :
			    ws_roundtrip(&b[i])) < 0)
				die("%s: warm-up request failed", T[i].name);
	}
	/* The floor of two extra process hops: the relay, beside direct. */
	if (T[T_DIRECT].up &&
	    relay_start(&rl, T[T_DIRECT].fport, 1, RELAY_FANOUT) == 0) {
		if (bu_http_open(&hr, rl.port, 5000) == 0) {
			relay = 1;
			for (k = 0; k < LAT_WARM && relay; k++)
				relay = http_roundtrip(&hr) >= 0;
		}
		if (!relay)
			printf("  the relay did not work: no floor row\n");
	}
	for (r = 0; r < LAT_ROUNDS; r++) {
		c0 = relay ? relay_cpu(&rl) : 0;
		for (k = 0; k < LAT_BATCH && relay; k++) {
			if ((ns = http_roundtrip(&hr)) < 0)
				die("relay: request failed");
			sr[nr++] = ns;
		}
		if (relay)
			rcpu += relay_cpu(&rl) - c0;
		for (i = 0; i < MAXT; i++) {
			int t = (i + r) % MAXT;

			if (!T[t].up)
				continue;
			c0 = t == T_DIRECT ? 0 : tree_cpu(T[t].proc.pid);
			for (k = 0; k < LAT_BATCH; k++) {
				ns = t == T_DIRECT ? http_roundtrip(&h) :
				    ws_roundtrip(&b[t]);
				if (ns < 0)
					die("%s: request failed", T[t].name);
				s[t][n[t]++] = ns;
			}
			if (t != T_DIRECT)
				cpu[t] += tree_cpu(T[t].proc.pid) - c0;
		}
	}
	if (relay) {
		bu_http_close(&hr);
		relay_stop(&rl);
	}
	for (i = 0; i < MAXT; i++) {
		p50[i] = p99[i] = -1;
		if (!T[i].up)
			continue;
		bu_stats(s[i], n[i], &st[i]);
		p50[i] = st[i].p50;
		p99[i] = st[i].p99;
		target_close(i, &h, &b[i]);
	}
	cols();
	row3("p50", "us", p50);
	row3("p99", "us", p99);
	for (i = 0; i < 2; i++)
		if (T[i].up && T[T_DIRECT].up)
			printf("  %s: p50 direct %+.1f us, p99 %.2fx direct\n",
			    T[i].name, p50[i] - p50[T_DIRECT],
			    p99[i] / p99[T_DIRECT]);
	if (relay) {
		bu_stats(sr, nr, &str);
		printf("  floor, two processes that only copy bytes "
		    "(bench_relay.h): p50 %.1f us (direct %+.1f), p99 %.1f us "
		    "(%.2fx direct)\n", str.p50, str.p50 - p50[T_DIRECT],
		    str.p99, str.p99 / p99[T_DIRECT]);
	}
	printf("  CPU per request, one in flight:");
	for (i = 0; i < MAXT; i++)
		if (T[i].up && i != T_DIRECT && n[i] > 0)
			printf(" %s %.1f us,", T[i].name, cpu[i] * 1e6 /
			    (double)n[i]);
	if (relay && nr > 0)
		printf(" the floor relay %.1f us", rcpu * 1e6 / (double)nr);
	printf("\n");
	printf("  (load %.2f)\n", bu_loadavg());
}

/* ---- the 6.5 MB provider document (a row where ocbroker leads) ---- */

static const char GET_PROVIDER[] = "GET /provider HTTP/1.1\r\n"
    "Host: 127.0.0.1\r\n\r\n";

/* One GetProviderStatus (40) on a blocking connection; ns or -1. */
static int64_t
ws_provider(struct bws *b)
{
	uint8_t req[16];
	struct smsg m;
	size_t len = 0;
	uint64_t id = next_id++;
	int64_t ns;

	req[len++] = 0x08;
	len += put_varint(req + len, id);
	req[len++] = 0xc2;	/* field 40, length-delimited */
	req[len++] = 0x02;
	req[len++] = 0x00;
	ns = ws_call(b, req, len, id, 30000, &m);
	return ns >= 0 && m.provider ? ns : -1;
}

static void
fig_provider(void)
{
	static int64_t s[MAXT][PROV_ROUNDS];
	struct bu_stats st;
	struct bws b[MAXT];
	struct bu_http h;
	double p50[MAXT], p99[MAXT];
	size_t n[MAXT] = { 0 };
	int i, r, t;
	int64_t ns, t0;

	header("8 provider", "GetProviderStatus one at a time vs GET /provider "
	    "(the 6.5 MB document), ms");
	if (opt.provider == NULL) {
		printf("  skipped: no provider document (--provider FILE)\n");
		return;
	}
	for (i = 0; i < MAXT; i++)
		if (T[i].up)
			target_open(i, &h, &b[i], 1 << 24);
	/* Rounds rotate the order; the first PROV_WARM do not count. */
	for (r = 0; r < PROV_WARM + PROV_ROUNDS; r++)
		for (i = 0; i < MAXT; i++) {
			t = (i + r) % MAXT;
			if (!T[t].up)
				continue;
			t0 = bu_now_ns();
			if (t == T_DIRECT)
				ns = bu_http_get(&h, GET_PROVIDER,
				    sizeof(GET_PROVIDER) - 1, 30000) == 200 ?
				    bu_now_ns() - t0 : -1;
			else
				ns = ws_provider(&b[t]);
			if (ns < 0)
				die("%s: GetProviderStatus failed", T[t].name);
			if (r >= PROV_WARM)
				s[t][n[t]++] = ns;
		}
	for (i = 0; i < MAXT; i++) {
		p50[i] = p99[i] = -1;
		if (!T[i].up)
			continue;
		bu_stats(s[i], n[i], &st);
		p50[i] = st.p50 / 1000;
		p99[i] = st.p99 / 1000;
		target_close(i, &h, &b[i]);
	}
	cols();
	row3("p50", "ms", p50);
	row3("p99", "ms", p99);
	if (T[T_NODE].up)
		printf("  ocbroker/node p50: %.2fx\n", p50[T_OCB] / p50[T_NODE]);
	printf("  (load %.2f)\n", bu_loadavg());
}

/* ---- 3 and 1: throughput, CPU per request, upstream connections ---- */

struct tp_res {
	double	 rps, cpu_us, newconn, up_cpu_us;
	long	 errors;
};

/* Polls the clients until `until`; resends while sending; counts replies. */
static long
ws_pump(struct bws *c, int nc, int64_t until, int sending, long *errors,
    long *inflight)
{
	struct pollfd pfd[TP_CONNS];
	const uint8_t *d;
	uint8_t req[32];
	size_t dl;
	struct smsg m;
	long got = 0;
	int i, op;

	for (i = 0; i < nc; i++) {
		pfd[i].fd = c[i].fd;
		pfd[i].events = POLLIN;
	}
	while (bu_now_ns() < until && (sending || *inflight > 0)) {
		if (poll(pfd, (nfds_t)nc, bu_left_ms(until) + 1) <= 0)
			continue;
		for (i = 0; i < nc; i++) {
			if (!(pfd[i].revents & (POLLIN | POLLERR | POLLHUP)))
				continue;
			if (bws_fill(&c[i]) < -1 || c[i].eof)
				die("a client connection broke");
			while (bws_parse(&c[i], &op, &d, &dl) == BWS_FRAME) {
				if (op != 2 || smsg_walk(d, dl, &m) != 0 ||
				    m.id == 0)
					continue;
				(*inflight)--;
				if (m.list)
					got++;
				else
					(*errors)++;
				if (sending) {
					if (bws_send(&c[i], req, list_sessions(
					    req, next_id++), 5000) == -1)
						die("send failed");
					(*inflight)++;
				}
			}
		}
	}
	return got;
}

static long
http_pump(struct hconn *h, int nc, int64_t until, int sending, long *errors,
    long *inflight)
{
	struct pollfd pfd[TP_CONNS * TP_DEPTH];
	long got = 0;
	int i, st;

	for (i = 0; i < nc; i++) {
		pfd[i].fd = h[i].fd;
		pfd[i].events = POLLIN;
	}
	while (bu_now_ns() < until && (sending || *inflight > 0)) {
		if (poll(pfd, (nfds_t)nc, bu_left_ms(until) + 1) <= 0)
			continue;
		for (i = 0; i < nc; i++) {
			if (!(pfd[i].revents & (POLLIN | POLLERR | POLLHUP)))
				continue;
			if ((st = hconn_read(&h[i])) == -1)
				die("direct connection broke");
			if (st == 0)
				continue;
			(*inflight)--;
			if (st == 200)
				got++;
			else
				(*errors)++;
			if (sending) {
				if (wsc_send_all(h[i].fd, GET_SESSION,
				    sizeof(GET_SESSION) - 1, 5000) == -1)
					die("send failed");
				(*inflight)++;
			}
		}
	}
	return got;
}

static int
tp_run(struct target *t, struct tp_res *res, const char *perf)
{
	static struct hconn h[TP_CONNS * TP_DEPTH];
	struct bws c[TP_CONNS];
	uint8_t req[32];
	long errors = 0, inflight = 0, got, a0, a1;
	double cpu0, cpu1, fc0, fc1;
	pid_t pids[MAXTREE], perfpid = -1;
	int64_t t0, t1;
	int i, k, nc = t->kind == T_DIRECT ? TP_CONNS * TP_DEPTH : TP_CONNS;

	for (i = 0; i < nc; i++) {
		if (t->kind == T_DIRECT) {
			h[i].len = 0;
			if ((h[i].fd = bu_connect(t->fport, 5000)) == -1)
				die("direct connect");
			if (wsc_send_all(h[i].fd, GET_SESSION,
			    sizeof(GET_SESSION) - 1, 5000) == -1)
				die("send failed");
			inflight++;
			continue;
		}
		if (bws_open_auth(&c[i], t->port, t->token, 1 << 20, 5000) ==
		    -1)
			die("%s: cannot connect", t->name);
		for (k = 0; k < TP_DEPTH; k++) {
			if (bws_send(&c[i], req, list_sessions(req, next_id++),
			    5000) == -1)
				die("send failed");
			inflight++;
		}
	}
	/* Warm-up, then the measured window. */
	if (t->kind == T_DIRECT)
		http_pump(h, nc, bu_now_ns() + TP_WARM_MS * 1000000LL, 1,
		    &errors, &inflight);
	else
		ws_pump(c, nc, bu_now_ns() + TP_WARM_MS * 1000000LL, 1,
		    &errors, &inflight);
	if (perf != NULL && t->kind == T_OCB)
		perfpid = bu_perf_start(pids, tree(t->proc.pid, pids,
		    MAXTREE), perf);
	errors = 0;
	a0 = flood_get(t, "/__flood/stats", "accepted");
	cpu0 = t->kind == T_DIRECT ? 0 : tree_cpu(t->proc.pid);
	fc0 = bu_cpu_seconds(t->flood.pid);
	t0 = bu_now_ns();
	if (t->kind == T_DIRECT)
		got = http_pump(h, nc, t0 + TP_MS * 1000000LL, 1, &errors,
		    &inflight);
	else
		got = ws_pump(c, nc, t0 + TP_MS * 1000000LL, 1, &errors,
		    &inflight);
	t1 = bu_now_ns();
	cpu1 = t->kind == T_DIRECT ? 0 : tree_cpu(t->proc.pid);
	fc1 = bu_cpu_seconds(t->flood.pid);
	a1 = flood_get(t, "/__flood/stats", "accepted");
	if (perfpid > 0)
		bu_perf_stop(perfpid);
	/* Drain what is in flight before closing. */
	if (t->kind == T_DIRECT)
		http_pump(h, nc, bu_now_ns() + 10000000000LL, 0, &errors,
		    &inflight);
	else
		ws_pump(c, nc, bu_now_ns() + 10000000000LL, 0, &errors,
		    &inflight);
	for (i = 0; i < nc; i++)
		if (t->kind == T_DIRECT)
			close(h[i].fd);
		else
			bws_close(&c[i]);
	res->rps = got / ((double)(t1 - t0) / 1e9);
	res->cpu_us = t->kind == T_DIRECT ? -1 : (cpu1 - cpu0) * 1e6 / got;
	res->up_cpu_us = (fc1 - fc0) * 1e6 / got;
	/* Both counts include the connection that asked for them. */
	res->newconn = (double)(a1 - a0 - 1) * 1000.0 / got;
	res->errors = errors;
	return 0;
}

/*
 * The direct client's load through the two-process relay (RELAY_MUX, 64
 * connections over one socketpair): the floor of the broker's CPU per
 * request for a design with two processes on the path.  -1 if the relay
 * did not work.
 */
static int
tp_relay(struct tp_res *res)
{
	static struct hconn h[TP_CONNS * TP_DEPTH];
	struct relay rl;
	long errors = 0, inflight = 0, got;
	double c0, c1;
	int64_t t0, t1;
	int i, nc = TP_CONNS * TP_DEPTH;

	if (!T[T_DIRECT].up ||
	    relay_start(&rl, T[T_DIRECT].fport, nc, RELAY_MUX) == -1)
		return -1;
	for (i = 0; i < nc; i++) {
		h[i].len = 0;
		if ((h[i].fd = bu_connect(rl.port, 5000)) == -1) {
			while (--i >= 0)
				close(h[i].fd);
			relay_stop(&rl);
			return -1;
		}
	}
	for (i = 0; i < nc; i++) {
		if (wsc_send_all(h[i].fd, GET_SESSION, sizeof(GET_SESSION) - 1,
		    5000) == -1)
			die("relay: send failed");
		inflight++;
	}
	http_pump(h, nc, bu_now_ns() + TP_WARM_MS * 1000000LL, 1, &errors,
	    &inflight);
	errors = 0;
	c0 = bu_cpu_seconds(rl.near) + bu_cpu_seconds(rl.far);
	t0 = bu_now_ns();
	got = http_pump(h, nc, t0 + TP_MS * 1000000LL, 1, &errors, &inflight);
	t1 = bu_now_ns();
	c1 = bu_cpu_seconds(rl.near) + bu_cpu_seconds(rl.far);
	http_pump(h, nc, bu_now_ns() + 10000000000LL, 0, &errors, &inflight);
	for (i = 0; i < nc; i++)
		close(h[i].fd);
	relay_stop(&rl);
	if (got == 0)
		return -1;
	res->rps = got / ((double)(t1 - t0) / 1e9);
	res->cpu_us = (c1 - c0) * 1e6 / got;
	res->errors = errors;
	return 0;
}

static void
fig_throughput(void)
{
	double rps[MAXT][9], cpu[MAXT][9], nc[MAXT][9], ucpu[MAXT][9];
	double v[MAXT], frps[9], fcpu[9];
	struct tp_res res;
	long errs[MAXT] = { 0 };
	int i, r, nf = 0;

	header("3+1 throughput", "8 connections x 8 ListSessions in flight "
	    "(direct: 64 keep-alive connections)");
	for (r = 0; r < opt.runs; r++)
		for (i = 0; i < MAXT; i++) {
			int t = (i + r) % MAXT;

			if (!T[t].up)
				continue;
			tp_run(&T[t], &res, NULL);
			rps[t][r] = res.rps;
			cpu[t][r] = res.cpu_us;
			nc[t][r] = res.newconn;
			ucpu[t][r] = res.up_cpu_us;
			errs[t] += res.errors;
			printf("  run %d %-9s %8.0f req/s  cpu %5.1f us/req  "
			    "new upstream conns %6.1f /1000  errors %ld  "
			    "(load %.2f)\n", r + 1, T[t].name, res.rps,
			    res.cpu_us, res.newconn, res.errors,
			    bu_loadavg());
			if (t != T_DIRECT || tp_relay(&res) == -1)
				continue;
			frps[nf] = res.rps;
			fcpu[nf++] = res.cpu_us;
			printf("  run %d %-9s %8.0f req/s  cpu %5.1f us/req  "
			    "errors %ld  (load %.2f)\n", r + 1, "relay",
			    res.rps, res.cpu_us, res.errors, bu_loadavg());
		}
	cols();
#define MED(a) do { for (i = 0; i < MAXT; i++) \
	v[i] = T[i].up ? median(a[i], opt.runs) : -1; } while (0)
	MED(rps);
	row3("req/s (median)", "/s", v);
	MED(cpu);
	row3("broker CPU per request", "us", v);
	MED(nc);
	row3("new upstream TCP conns /1000 req", "", v);
	MED(ucpu);
	row3("upstream's CPU per request", "us", v);
#undef MED
	for (i = 0; i < MAXT; i++)
		if (errs[i])
			printf("  %s: %ld error replies\n", T[i].name, errs[i]);
	if (T[T_NODE].up)
		printf("  ocbroker/node throughput: %.2fx\n",
		    median(rps[T_OCB], opt.runs) /
		    median(rps[T_NODE], opt.runs));
	if (nf > 0)
		printf("  floor, the direct load through two processes that only "
		    "copy bytes\n  (bench_relay.h, 64 connections over one "
		    "socketpair): %.0f req/s, CPU per request %.1f us\n",
		    median(frps, nf), median(fcpu, nf));
	if (opt.perf != NULL && T[T_OCB].up) {
		char path[512];

		snprintf(path, sizeof(path), "%s-8x8.data", opt.perf);
		tp_run(&T[T_OCB], &res, path);
		printf("  perf run (not counted): %.0f req/s, %s\n", res.rps,
		    path);
		print_roles(T[T_OCB].proc.pid);
	}
}

/* ---- 2: many connections, one request each ---- */

struct burst_res {
	long	 answered, errors, too_many;
	double	 ms;
};

static void
burst_ws(struct target *t, struct burst_res *res)
{
	struct bws *c;
	struct pollfd *pfd;
	const uint8_t *d;
	uint8_t req[32];
	size_t dl;
	struct smsg m;
	int64_t t0, last = 0, deadline;
	long left;
	int i, n, op;

	memset(res, 0, sizeof(*res));
	if ((c = calloc((size_t)opt.conns, sizeof(*c))) == NULL ||
	    (pfd = calloc((size_t)opt.conns, sizeof(*pfd))) == NULL)
		die("calloc");
	for (n = 0; n < opt.conns; n++)
		if (bws_open_auth(&c[n], t->port, t->token, 65536, 10000) ==
		    -1)
			break;
	if (n < opt.conns)
		printf("  %s: only %d connections authenticated\n", t->name, n);
	/* Whatever came after the auth reply (UpstreamStatus) is not ours. */
	for (i = 0; i < n; i++) {
		c[i].off = c[i].len = 0;
		pfd[i].fd = c[i].fd;
		pfd[i].events = POLLIN;
	}
	t0 = bu_now_ns();
	for (i = 0; i < n; i++)
		if (bws_send(&c[i], req, list_sessions(req, next_id++),
		    5000) == -1)
			die("send failed");
	left = n;
	deadline = t0 + 60000000000LL;
	while (left > 0 && bu_now_ns() < deadline) {
		if (poll(pfd, (nfds_t)n, bu_left_ms(deadline) + 1) <= 0)
			continue;
		for (i = 0; i < n; i++) {
			if (pfd[i].fd < 0 || !(pfd[i].revents &
			    (POLLIN | POLLERR | POLLHUP)))
				continue;
			if (bws_fill(&c[i]) < -1 || c[i].eof) {
				res->errors++;
				left--;
				pfd[i].fd = -1;
				continue;
			}
			while (pfd[i].fd >= 0 &&
			    bws_parse(&c[i], &op, &d, &dl) == BWS_FRAME) {
				if (op != 2 || smsg_walk(d, dl, &m) != 0 ||
				    m.id == 0)
					continue;
				if (m.list)
					res->answered++;
				else {
					res->errors++;
					if (strcmp(m.code,
					    "TOO_MANY_REQUESTS") == 0)
						res->too_many++;
				}
				last = bu_now_ns();
				left--;
				pfd[i].fd = -1;
			}
		}
	}
	res->errors += left;	/* no answer at all */
	res->ms = (double)(last - t0) / 1e6;
	for (i = 0; i < n; i++)
		bws_close(&c[i]);
	free(c);
	free(pfd);
}

static void
burst_direct(struct target *t, struct burst_res *res)
{
	struct hconn *h;
	struct pollfd *pfd;
	int64_t t0, last = 0, deadline;
	long left;
	int i, n, st;

	memset(res, 0, sizeof(*res));
	if ((h = calloc((size_t)opt.conns, sizeof(*h))) == NULL ||
	    (pfd = calloc((size_t)opt.conns, sizeof(*pfd))) == NULL)
		die("calloc");
	for (n = 0; n < opt.conns; n++)
		if ((h[n].fd = bu_connect(t->fport, 5000)) == -1)
			break;
	t0 = bu_now_ns();
	for (i = 0; i < n; i++) {
		if (wsc_send_all(h[i].fd, GET_SESSION, sizeof(GET_SESSION) - 1,
		    5000) == -1)
			die("send failed");
		pfd[i].fd = h[i].fd;
		pfd[i].events = POLLIN;
	}
	left = n;
	deadline = t0 + 60000000000LL;
	while (left > 0 && bu_now_ns() < deadline) {
		if (poll(pfd, (nfds_t)n, bu_left_ms(deadline) + 1) <= 0)
			continue;
		for (i = 0; i < n; i++) {
			if (pfd[i].fd < 0 || !(pfd[i].revents &
			    (POLLIN | POLLERR | POLLHUP)))
				continue;
			if ((st = hconn_read(&h[i])) == 0)
				continue;
			if (st == 200)
				res->answered++;
			else
				res->errors++;
			last = bu_now_ns();
			left--;
			pfd[i].fd = -1;
		}
	}
	res->errors += left + (opt.conns - n);
	res->ms = (double)(last - t0) / 1e6;
	for (i = 0; i < n; i++)
		close(h[i].fd);
	free(h);
	free(pfd);
}

static void
fig_burst(void)
{
	double ms[MAXT][9], ans[MAXT][9], err[MAXT][9], v[MAXT];
	struct burst_res res;
	long tm[MAXT] = { 0 };
	int i, r;

	header("2 burst", "N connections, one ListSessions each, sent at once");
	printf("  N = %d\n", opt.conns);
	for (r = 0; r < opt.runs; r++)
		for (i = 0; i < MAXT; i++) {
			int t = (i + r) % MAXT;

			if (!T[t].up)
				continue;
			if (t == T_DIRECT)
				burst_direct(&T[t], &res);
			else
				burst_ws(&T[t], &res);
			ms[t][r] = res.ms;
			ans[t][r] = (double)res.answered;
			err[t][r] = (double)res.errors;
			tm[t] += res.too_many;
			printf("  run %d %-9s answered %ld errors %ld "
			    "(TOO_MANY_REQUESTS %ld) in %.1f ms (load %.2f)\n",
			    r + 1, T[t].name, res.answered, res.errors,
			    res.too_many, res.ms, bu_loadavg());
			usleep(300000);
		}
	cols();
#define MED(a) do { for (i = 0; i < MAXT; i++) \
	v[i] = T[i].up ? median(a[i], opt.runs) : -1; } while (0)
	MED(ans);
	row3("answered (median)", "", v);
	MED(err);
	row3("errors (median)", "", v);
	MED(ms);
	row3("time to answer all (median)", "ms", v);
#undef MED
	if (T[T_NODE].up)
		printf("  ocbroker/node time: %.2fx\n", v[T_OCB] / v[T_NODE]);
}

/* ---- 5: streaming ---- */

/* Opens n authenticated clients with large buffers; exits on failure. */
static void
clients_open(struct target *t, struct bws *c, int n)
{
	int i;

	for (i = 0; i < n; i++)
		if (bws_open_auth(&c[i], t->port, t->token, 8 << 20, 5000) ==
		    -1)
			die("%s: cannot connect", t->name);
}

/* A request to the target's upstream, sent now, answer not awaited. */
static int
trigger(struct target *t, const char *path)
{
	char req[256];
	int fd, n;

	if ((fd = bu_connect(t->fport, 5000)) == -1)
		return -1;
	n = snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: 127.0.0.1"
	    "\r\nConnection: close\r\n\r\n", path);
	if (wsc_send_all(fd, req, (size_t)n, 5000) == -1) {
		close(fd);
		return -1;
	}
	return fd;
}

struct stream_res {
	uint64_t deltas;
	uint64_t per[NCLIENTS];	/* of each client */
	int64_t	 first_ns;	/* first delta of client 0 */
	double	 secs;		/* until the last client saw the marker */
	int	 complete;
};

/*
 * Reads the clients until each saw the marker: counts deltas (spaces: a
 * delta is "word "), and for stamped deltas ("t<ns> ") adds latencies.
 */
static void
stream_ws(struct bws *c, int n, int64_t t0, int64_t *lat, size_t *nlat,
    size_t latmax, struct stream_res *res)
{
	struct pollfd pfd[NCLIENTS];
	const uint8_t *d;
	size_t dl, k;
	struct smsg m;
	int64_t now, deadline = t0 + 120000000000LL, last = t0;
	int i, op, left = n, done[NCLIENTS] = { 0 };

	memset(res, 0, sizeof(*res));
	for (i = 0; i < n; i++) {
		pfd[i].fd = c[i].fd;
		pfd[i].events = POLLIN;
	}
	while (left > 0 && (now = bu_now_ns()) < deadline) {
		if (poll(pfd, (nfds_t)n, bu_left_ms(deadline) + 1) <= 0)
			continue;
		now = bu_now_ns();
		for (i = 0; i < n; i++) {
			if (!(pfd[i].revents & (POLLIN | POLLERR | POLLHUP)))
				continue;
			for (;;) {
				ssize_t fr = bws_fill(&c[i]);

				while (bws_parse(&c[i], &op, &d, &dl) ==
				    BWS_FRAME) {
					if (op != 2 ||
					    smsg_walk(d, dl, &m) != 0)
						continue;
					if (m.idle && !done[i]) {
						done[i] = 1;
						left--;
						last = now;
						pfd[i].fd = -1;
					}
					if (!m.token)
						continue;
					if (i == 0 && res->first_ns == 0)
						res->first_ns = now;
					if (m.dlen > 1 && m.delta[0] == 't') {
						if (*nlat < latmax)
							lat[(*nlat)++] = now -
							    strtoll((const char *)
							    m.delta + 1, NULL, 10);
						res->per[i]++;
						continue;
					}
					for (k = 0; k < m.dlen; k++)
						res->per[i] += m.delta[k] == ' ';
				}
				if (fr <= 0 || c[i].eof)
					break;
			}
			if (c[i].eof && !done[i])
				die("a streaming client lost its connection");
		}
	}
	for (i = 0; i < n; i++)
		res->deltas += res->per[i];
	res->complete = left == 0;
	res->secs = (double)(last - t0) / 1e9;
}

/*
 * The paced stream of figure 5 through the two-process relay to NCLIENTS
 * readers (bench_relay.h): the floor of the emit -> receive latency for a
 * design with two processes between the upstream and ten clients.  Stamps
 * go to lat; -1 if the relay did not work.
 */
static int
stream_relay(const char *pace, int64_t *lat, size_t *nlat, size_t latmax)
{
	struct sse s[NCLIENTS];
	struct pollfd p[NCLIENTS];
	struct relay rl;
	char path[160];
	int64_t t0;
	int i, left = NCLIENTS, rc = -1;

	if (!T[T_DIRECT].up ||
	    relay_start(&rl, T[T_DIRECT].fport, NCLIENTS,
	    RELAY_FANOUT) == -1)
		return -1;
	snprintf(path, sizeof(path), "/event?pace=%s", pace);
	/* The first reader's request is the one the upstream sees. */
	for (i = 0; i < NCLIENTS; i++)
		if (sse_open(&s[i], rl.port, path) == -1)
			goto out;
	t0 = bu_now_ns();
	while (left > 0 && bu_now_ns() < t0 + 60000000000LL) {
		for (i = 0; i < NCLIENTS; i++) {
			p[i].fd = s[i].idle ? -1 : s[i].fd;
			p[i].events = POLLIN;
		}
		if (poll(p, NCLIENTS, 1000) <= 0)
			continue;
		for (i = 0; i < NCLIENTS; i++) {
			if (p[i].fd == -1 || !(p[i].revents &
			    (POLLIN | POLLHUP | POLLERR)))
				continue;
			if (sse_read(&s[i], lat, nlat, latmax) == -1)
				goto out;
			left -= s[i].idle;
		}
	}
	rc = left == 0 ? 0 : -1;
out:
	relay_stop(&rl);
	while (--i >= 0)
		sse_close(&s[i]);
	return rc;
}

static void
fig_stream(void)
{
	static int64_t lat[MAXT][PACE_S * PACE_N * NCLIENTS];
	double first[MAXT][9], tps[MAXT][9], v[MAXT], v2[MAXT];
	struct bws c[NCLIENTS];
	struct sse s[NCLIENTS];
	struct stream_res res;
	struct bu_stats st;
	size_t nlat[MAXT] = { 0 }, dummy;
	char path[128];
	int64_t t0;
	int i, r, k, fd, left;

	header("5 streaming", "10 sessions x 100 deltas/s, one per event, "
	    "10 clients (direct: 1 SSE reader)");
	snprintf(path, sizeof(path), "%d,%d,%d", PACE_S, PACE_R, PACE_N);
	for (i = 0; i < MAXT; i++) {
		if (!T[i].up)
			continue;
		if (i == T_DIRECT) {
			char p2[160];

			snprintf(p2, sizeof(p2), "/event?pace=%s", path);
			if (sse_open(&s[0], T[i].fport, p2) == -1)
				die("direct SSE");
			t0 = bu_now_ns();
			while (!s[0].idle && bu_now_ns() < t0 + 60000000000LL) {
				struct pollfd p = { s[0].fd, POLLIN, 0 };

				if (poll(&p, 1, 1000) > 0 && sse_read(&s[0],
				    lat[i], &nlat[i], PACE_S * PACE_N) == -1)
					break;
			}
			sse_close(&s[0]);
			continue;
		}
		clients_open(&T[i], c, NCLIENTS);
		{
			char p2[160];

			snprintf(p2, sizeof(p2), "/__flood/pace?%s", path);
			if ((fd = trigger(&T[i], p2)) == -1)
				die("trigger");
		}
		t0 = bu_now_ns();
		stream_ws(c, NCLIENTS, t0, lat[i], &nlat[i],
		    PACE_S * PACE_N * NCLIENTS, &res);
		close(fd);
		if (!res.complete)
			printf("  %s: not every client saw the end\n",
			    T[i].name);
		for (k = 0; k < NCLIENTS; k++)
			bws_close(&c[k]);
		wait_armed(&T[i]);
	}
	cols();
	for (i = 0; i < MAXT; i++) {
		v[i] = v2[i] = -1;
		if (!T[i].up || nlat[i] == 0)
			continue;
		bu_stats(lat[i], nlat[i], &st);
		v[i] = st.p50;
		v2[i] = st.p99;
		printf("  %s: %zu deltas timed, max %.0f us\n", T[i].name,
		    nlat[i], st.max);
	}
	row3("emit -> receive p50", "us", v);
	row3("emit -> receive p99", "us", v2);
	{
		static int64_t rlat[PACE_S * PACE_N * NCLIENTS];
		size_t nr = 0;

		if (stream_relay(path, rlat, &nr, PACE_S * PACE_N *
		    NCLIENTS) == 0 && nr > 0) {
			bu_stats(rlat, nr, &st);
			printf("  floor, the same stream through two processes "
			    "that only copy bytes to 10 readers\n  "
			    "(bench_relay.h): p50 %.1f us, p99 %.1f us "
			    "(%zu deltas)\n", st.p50, st.p99, nr);
		} else
			printf("  the relay did not work: no floor row\n");
	}
	printf("  (load %.2f)\n", bu_loadavg());

	/* First delta of a burst, to one client; then deltas/s to 10. */
	for (r = 0; r < opt.runs; r++)
		for (i = 0; i < MAXT; i++) {
			int t = (i + r) % MAXT;

			first[t][r] = tps[t][r] = -1;
			if (!T[t].up)
				continue;
			if (t == T_DIRECT) {
				snprintf(path, sizeof(path), "/event?n=%d",
				    FIRST_N);
				t0 = bu_now_ns();
				if (sse_open(&s[0], T[t].fport, path) == -1)
					die("direct SSE");
				while (!s[0].idle && bu_now_ns() < t0 +
				    60000000000LL) {
					struct pollfd p = { s[0].fd, POLLIN, 0 };

					if (poll(&p, 1, 1000) > 0 &&
					    sse_read(&s[0], NULL, &dummy, 0) ==
					    -1)
						break;
				}
				first[t][r] = (double)(s[0].first_ns - t0) / 1e6;
				sse_close(&s[0]);
				snprintf(path, sizeof(path), "/event?n=%d",
				    FLOOD_N);
				for (k = 0; k < NCLIENTS; k++)
					if (sse_open(&s[k], T[t].fport, path) ==
					    -1)
						die("direct SSE");
				t0 = bu_now_ns();
				left = NCLIENTS;
				while (left > 0 && bu_now_ns() < t0 +
				    120000000000LL) {
					struct pollfd p[NCLIENTS];

					for (k = 0; k < NCLIENTS; k++) {
						p[k].fd = s[k].idle ? -1 :
						    s[k].fd;
						p[k].events = POLLIN;
					}
					if (poll(p, NCLIENTS, 1000) <= 0)
						continue;
					for (k = 0; k < NCLIENTS; k++)
						if (p[k].revents && sse_read(
						    &s[k], NULL, &dummy, 0) ==
						    0 && s[k].idle)
							left--;
				}
				{
					uint64_t sum = 0;

					for (k = 0; k < NCLIENTS; k++) {
						sum += s[k].deltas;
						sse_close(&s[k]);
					}
					tps[t][r] = (double)sum /
					    ((double)(bu_now_ns() - t0) / 1e9);
				}
				continue;
			}
			clients_open(&T[t], c, 1);
			snprintf(path, sizeof(path), "/__flood/start?n=%d",
			    FIRST_N);
			t0 = bu_now_ns();
			if ((fd = trigger(&T[t], path)) == -1)
				die("trigger");
			stream_ws(c, 1, t0, NULL, &dummy, 0, &res);
			close(fd);
			first[t][r] = (double)(res.first_ns - t0) / 1e6;
			bws_close(&c[0]);
			wait_armed(&T[t]);
			clients_open(&T[t], c, NCLIENTS);
			snprintf(path, sizeof(path), "/__flood/start?n=%d",
			    FLOOD_N);
			t0 = bu_now_ns();
			if ((fd = trigger(&T[t], path)) == -1)
				die("trigger");
			stream_ws(c, NCLIENTS, t0, NULL, &dummy, 0, &res);
			close(fd);
			tps[t][r] = (double)res.deltas / res.secs;
			if (!res.complete || res.deltas !=
			    (uint64_t)FLOOD_N * NCLIENTS) {
				printf("  %s: %llu of %llu deltas; per client:",
				    T[t].name, (unsigned long long)res.deltas,
				    (unsigned long long)FLOOD_N * NCLIENTS);
				for (k = 0; k < NCLIENTS; k++)
					printf(" %llu", (unsigned long long)
					    res.per[k]);
				printf("\n");
			}
			for (k = 0; k < NCLIENTS; k++)
				bws_close(&c[k]);
			wait_armed(&T[t]);
			printf("  run %d %-9s first delta %.2f ms, %.2f M "
			    "deltas/s to 10 (load %.2f)\n", r + 1, T[t].name,
			    first[t][r], tps[t][r] / 1e6, bu_loadavg());
		}
	for (i = 0; i < MAXT; i++)
		v[i] = T[i].up ? median(first[i], opt.runs) : -1;
	row3("first delta of a 20k burst", "ms", v);
	for (i = 0; i < MAXT; i++)
		v[i] = T[i].up ? median(tps[i], opt.runs) / 1e3 : -1;
	row3("deltas/s to 10 clients (k)", "k", v);
	printf("  (direct: 10 SSE readers, one stream each)\n");
}

/* ---- main ---- */

static void __attribute__((noreturn))
usage(void)
{
	fprintf(stderr, "usage: bench_load [--ocbroker PATH] [--flood PATH] "
	    "[--session FILE]\n\t[--provider FILE] [--peer DIR] [--node PATH] [--runs N] "
	    "[--conns N] [--no-sandbox] [--flood-arg ARG]\n\t[--only startup,memory,latency,"
	    "throughput,burst,stream,\n\tprovider] [--perf PREFIX]\n");
	exit(2);
}

/*
 * The tree keeps the /provider document gzipped: unpacked with gzip(1)
 * into a temporary file (path in tmp), for the fakes to read.  NULL when
 * that fails: the figure is skipped.
 */
static const char *
provider_unpack(char *tmp, size_t tmpsize)
{
	const char *gz = BENCH_SRC "/tests/fixtures/provider.json.gz";
	int fd, status;
	pid_t pid;

	snprintf(tmp, tmpsize, "/tmp/bench_load-provider-XXXXXX");
	if ((fd = mkstemp(tmp)) == -1) {
		tmp[0] = '\0';
		return NULL;
	}
	if ((pid = fork()) == 0) {
		dup2(fd, STDOUT_FILENO);
		execlp("gzip", "gzip", "-dc", gz, (char *)NULL);
		_exit(127);
	}
	close(fd);
	if (pid == -1 || waitpid(pid, &status, 0) != pid ||
	    !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		unlink(tmp);
		tmp[0] = '\0';
		return NULL;
	}
	return tmp;
}

static const char *
find_node(void)
{
	static char buf[512];
	const char *path = getenv("PATH"), *p, *e;

	for (p = path; p != NULL && *p != '\0'; p = *e ? e + 1 : e) {
		e = strchrnul(p, ':');
		snprintf(buf, sizeof(buf), "%.*s/node", (int)(e - p), p);
		if (access(buf, X_OK) == 0)
			return buf;
	}
	return NULL;
}

int
main(int argc, char *argv[])
{
	static const struct bu_opt opts[] = {
		{ "ocbroker",	BU_STR, &opt.ocbroker,	0, 0 },
		{ "flood",	BU_STR, &opt.flood,	0, 0 },
		{ "session",	BU_STR, &opt.session,	0, 0 },
		{ "provider",	BU_STR, &opt.provider,	0, 0 },
		{ "peer",	BU_STR, &opt.peer,	0, 0 },
		{ "node",	BU_STR, &opt.node,	0, 0 },
		{ "runs",	BU_INT, &opt.runs,	1, 9 },
		{ "conns",	BU_INT, &opt.conns,	1, 4000 },
		{ "only",	BU_STR, &opt.only,	0, 0 },
		{ "perf",	BU_STR, &opt.perf,	0, 0 },
		{ "no-sandbox",	BU_SET, &opt.sandbox,	0, 0 },
		{ "flood-arg",	BU_STR, &opt.flood_arg,	0, 0 },
	};
	char js[4096], prov_tmp[64] = "";
	struct rlimit rl;
	int i;
	double ms;

	opt.ocbroker = BENCH_BUILD "/ocbroker";
	opt.flood = BENCH_BUILD "/bench/flood_upstream";
	opt.session = BENCH_SRC "/tests/fixtures/session-list.json";
	opt.peer = getenv("BENCH_PEER_DIR");
	opt.runs = 3;
	opt.conns = 1000;
	opt.sandbox = 1;
	bu_opts(argc, argv, opts, sizeof(opts) / sizeof(opts[0]), usage);
	signal(SIGPIPE, SIG_IGN);
	/* 1000 clients here, and as many accepted by the broker (inherited). */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}

	T[T_OCB] = (struct target){ .name = "ocbroker", .kind = T_OCB };
	T[T_NODE] = (struct target){ .name = "node", .kind = T_NODE };
	T[T_DIRECT] = (struct target){ .name = "direct", .kind = T_DIRECT };
	if (opt.node == NULL)
		opt.node = find_node();
	if (opt.node == NULL)
		printf("node peer: skipped, no node in PATH (--node)\n");
	else if (opt.peer == NULL)
		printf("node peer: skipped, no --peer DIR or BENCH_PEER_DIR "
		    "(see bench/README.md)\n");
	else {
		snprintf(js, sizeof(js), "%s/node_modules/ws", opt.peer);
		if (access(js, R_OK) != 0)
			printf("node peer: skipped, %s is missing (npm ci in "
			    "the peer's directory)\n", js);
		else
			T[T_NODE].up = 1;
	}
	T[T_OCB].up = T[T_DIRECT].up = 1;
	printf("bench_load: ocbroker %s%s\n  node %s, peer %s\n"
	    "  load %.2f, runs %d, N %d\n", opt.ocbroker, opt.sandbox &&
	    geteuid() == 0 ? " (sandbox on)" : " (--insecure-no-sandbox)",
	    T[T_NODE].up ? opt.node : "-", T[T_NODE].up ? opt.peer : "-",
	    bu_loadavg(), opt.runs, opt.conns);
	if (opt.provider == NULL && want("provider"))
		opt.provider = provider_unpack(prov_tmp, sizeof(prov_tmp));
	for (i = 0; i < MAXT; i++)
		if (T[i].up && flood_start(&T[i]) == -1)
			die("cannot start %s", opt.flood);
	T[T_OCB].sandbox = opt.sandbox && geteuid() == 0;

	if (want("startup"))
		fig_startup();

	for (i = 0; i < 2; i++) {
		if (!T[i].up)
			continue;
		if ((ms = broker_start(&T[i], T[i].sandbox)) < 0 &&
		    i == T_OCB && T[i].sandbox) {
			printf("  ocbroker: no start with the sandbox, "
			    "running without it\n");
			T[i].sandbox = 0;
			ms = broker_start(&T[i], 0);
		}
		if (ms < 0)
			die("cannot start %s", T[i].name);
		if (wait_armed(&T[i]) == -1)
			die("%s: its GET /event never came", T[i].name);
	}
	if (want("memory"))
		fig_memory();
	if (want("latency"))
		fig_latency();
	if (want("throughput"))
		fig_throughput();
	if (want("burst"))
		fig_burst();
	if (want("stream"))
		fig_stream();
	if (want("provider"))
		fig_provider();

	printf("\nload at the end %.2f\n", bu_loadavg());
	for (i = 0; i < MAXT; i++) {
		bu_stop(&T[i].proc, 5000);
		bu_stop(&T[i].flood, 5000);
	}
	if (prov_tmp[0] != '\0')
		unlink(prov_tmp);
	return 0;
}
