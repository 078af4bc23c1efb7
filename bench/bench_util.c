/*
 * Copyright (c) 2026 The ocbroker authors
 * SPDX-License-Identifier: ISC (the licence is in the file LICENSE)
 */

/* Shared pieces of the benchmarks; see bench_util.h. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/utsname.h>
#include <sys/wait.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <ctype.h>
#include <dirent.h>
#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "bench/bench_util.h"
#include "tests/support/spawn.h"
#include "tests/wsclient.h"

#define BWS_MAX_FRAME	(256u * 1024 * 1024)
#define HTTP_MAX_HEAD	16384
#define HTTP_MAX_BODY	(64u * 1024 * 1024)

int
bu_left_ms(int64_t deadline)
{
	int64_t l = (deadline - bu_now_ns()) / 1000000;

	if (l < 0)
		return 0;
	return l > INT_MAX ? INT_MAX : (int)l;
}

static double
pct(const int64_t *v, size_t n, double p)
{
	size_t i;

	/* Nearest rank. */
	i = (size_t)(p * (double)n + 0.999999);
	if (i == 0)
		i = 1;
	if (i > n)
		i = n;
	return (double)v[i - 1] / 1000.0;
}

void
bu_stats(int64_t *v, size_t n, struct bu_stats *s)
{
	double sum = 0;
	size_t i;

	memset(s, 0, sizeof(*s));
	if (n == 0)
		return;
	bu_sort_i64(v, n);
	for (i = 0; i < n; i++)
		sum += (double)v[i];
	s->n = n;
	s->p50 = pct(v, n, 0.50);
	s->p99 = pct(v, n, 0.99);
	s->mean = sum / (double)n / 1000.0;
	s->min = (double)v[0] / 1000.0;
	s->max = (double)v[n - 1] / 1000.0;
}

double
bu_loadavg(void)
{
	double l = -1;
	FILE *fp;

	if ((fp = fopen("/proc/loadavg", "r")) == NULL)
		return -1;
	if (fscanf(fp, "%lf", &l) != 1)
		l = -1;
	fclose(fp);
	return l;
}

void
bu_check_load(const char *when)
{
	double l = bu_loadavg();

	if (l >= 1.0)
		fprintf(stderr, "warning: load average %.2f %s: other jobs "
		    "share the 2 cores, figures may be noisy\n", l, when);
}

double
bu_begin(void)
{
	double l;

	signal(SIGPIPE, SIG_IGN);
	setvbuf(stdout, NULL, _IOLBF, 0);
	l = bu_loadavg();
	bu_check_load("at start");
	return l;
}

void
bu_print_header(const char *prog, double load0, double load1,
    const char *version)
{
	struct utsname un;
	char date[64];
	time_t now;

	now = time(NULL);
	strftime(date, sizeof(date), "%Y-%m-%d %H:%M:%S %Z", localtime(&now));
	uname(&un);
	printf("%s  %s  %s %s, %ld cores, load %.2f -> %.2f, "
	    "ocbroker %s\n", prog, date, un.sysname, un.release,
	    sysconf(_SC_NPROCESSORS_ONLN), load0, load1, version);
}

/* ---- processes ---- */

int
bu_spawn(struct bu_proc *p, const char *path, char *const argv[],
    const char *logname)
{
	pid_t pid;

	memset(p, 0, sizeof(*p));
	p->out = -1;
	(void)mkdir(BU_LOGDIR, 0755);
	snprintf(p->log, sizeof(p->log), "%s/%s.log", BU_LOGDIR, logname);
	if ((pid = spawn_piped(path, argv, &p->out, p->log, SPAWN_LOG_TRUNC,
	    NULL)) == -1)
		return -1;
	p->pid = pid;
	return 0;
}

int
bu_read_line(struct bu_proc *p, char *buf, size_t sz, int timeout_ms)
{
	int64_t deadline = bu_now_ns() + (int64_t)timeout_ms * 1000000;
	struct pollfd pfd;
	size_t len = 0;
	ssize_t n;
	char c;

	/* Byte by byte: nothing after the line is consumed. */
	while (len + 1 < sz) {
		pfd.fd = p->out;
		pfd.events = POLLIN;
		if (poll(&pfd, 1, bu_left_ms(deadline)) <= 0)
			return -1;
		n = read(p->out, &c, 1);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		if (c == '\n') {
			buf[len] = '\0';
			return 0;
		}
		buf[len++] = c;
	}
	return -1;
}

void
bu_stop(struct bu_proc *p, int timeout_ms)
{
	int64_t deadline = bu_now_ns() + (int64_t)timeout_ms * 1000000;
	siginfo_t si;
	int st;

	if (p->pid <= 0)
		return;
	kill(p->pid, SIGTERM);
	for (;;) {
		memset(&si, 0, sizeof(si));
		/* WNOWAIT: the zombie keeps the pid (and so the group) ours. */
		if (waitid(P_PID, (id_t)p->pid, &si, WEXITED | WNOHANG |
		    WNOWAIT) == 0 && si.si_pid == p->pid)
			break;
		if (bu_now_ns() >= deadline)
			break;
		usleep(10000);
	}
	/* Whatever is left of its group (its children) goes too. */
	kill(-p->pid, SIGKILL);
	kill(p->pid, SIGKILL);
	(void)waitpid(p->pid, &st, 0);
	if (p->out != -1)
		close(p->out);
	p->out = -1;
	p->pid = 0;
}

void
bu_stop_both(struct bu_proc *ocb, struct bu_proc *upstream)
{
	bu_stop(ocb, 3000);
	bu_stop(upstream, 3000);
	fprintf(stderr, "logs: %s %s\n", ocb->log[0] ? ocb->log : "-",
	    upstream->log[0] ? upstream->log : "-");
}

void
bu_vdie(struct bu_proc *ocb, struct bu_proc *upstream, const char *fmt,
    va_list ap)
{
	vwarnx(fmt, ap);
	bu_stop_both(ocb, upstream);
	exit(1);
}

int
bu_spawn_upstream(struct bu_proc *p, const char *path, char *const argv[],
    const char *logname, int timeout_ms, uint16_t *port)
{
	char line[128];
	unsigned v;

	if (bu_spawn(p, path, argv, logname) == -1 ||
	    bu_read_line(p, line, sizeof(line), timeout_ms) == -1 ||
	    sscanf(line, "{\"port\":%u}", &v) != 1 || v == 0 || v > 65535)
		return -1;
	*port = (uint16_t)v;
	return 0;
}

int
bu_ocb_argv(char *argv[], const char *path, char *url, int sandbox,
    const char *loglevel)
{
	int i = 0;

	argv[i++] = (char *)(uintptr_t)path;
	argv[i++] = "--port";
	argv[i++] = "0";
	argv[i++] = "--upstream";
	argv[i++] = url;
	if (!sandbox)
		argv[i++] = "--insecure-no-sandbox";
	if (loglevel != NULL) {
		argv[i++] = "--log-level";
		argv[i++] = (char *)(uintptr_t)loglevel;
	}
	argv[i] = NULL;
	return i;
}

size_t
bu_children(pid_t pid, pid_t *out, size_t max)
{
	char path[300], buf[512], *rp;
	struct dirent *de;
	size_t n = 0;
	long ppid;
	FILE *fp;
	DIR *d;

	if ((d = opendir("/proc")) == NULL)
		return 0;
	while ((de = readdir(d)) != NULL && n < max) {
		if (!isdigit((unsigned char)de->d_name[0]))
			continue;
		snprintf(path, sizeof(path), "/proc/%s/stat", de->d_name);
		if ((fp = fopen(path, "r")) == NULL)
			continue;
		if (fgets(buf, sizeof(buf), fp) != NULL &&
		    (rp = strrchr(buf, ')')) != NULL &&
		    sscanf(rp + 1, " %*c %ld", &ppid) == 1 && ppid == pid)
			out[n++] = (pid_t)strtol(de->d_name, NULL, 10);
		fclose(fp);
	}
	closedir(d);
	return n;
}

int
bu_role_pids(pid_t ocbroker, pid_t *front, pid_t *netproc)
{
	pid_t kids[8];
	size_t n, i, len;
	char path[64], buf[256];
	ssize_t r;
	int fd;

	*front = *netproc = -1;
	n = bu_children(ocbroker, kids, 8);
	for (i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)kids[i]);
		if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
			continue;
		r = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		if (r <= 0)
			continue;
		buf[r] = '\0';
		/* argv is NUL-separated: look at every argument. */
		for (len = 0; len < (size_t)r; len += strlen(buf + len) + 1) {
			if (strcmp(buf + len, "front") == 0)
				*front = kids[i];
			else if (strcmp(buf + len, "netproc") == 0)
				*netproc = kids[i];
		}
	}
	return *front > 0 && *netproc > 0 ? 0 : -1;
}

double
bu_cpu_seconds(pid_t pid)
{
	char path[64], buf[1024], *rp;
	unsigned long ut, st;
	FILE *fp;
	int ok;

	unsigned long long ns;

	/* schedstat: nanoseconds on a CPU, exact; stat: clock ticks. */
	snprintf(path, sizeof(path), "/proc/%d/schedstat", (int)pid);
	if ((fp = fopen(path, "r")) != NULL) {
		ok = fscanf(fp, "%llu", &ns) == 1;
		fclose(fp);
		if (ok)
			return (double)ns / 1e9;
	}
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if ((fp = fopen(path, "r")) == NULL)
		return -1;
	ok = fgets(buf, sizeof(buf), fp) != NULL &&
	    (rp = strrchr(buf, ')')) != NULL &&
	    sscanf(rp + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u "
	    "%lu %lu", &ut, &st) == 2;
	fclose(fp);
	if (!ok)
		return -1;
	return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

pid_t
bu_perf_start(const pid_t *pids, size_t n, const char *outfile)
{
	char list[256], *argv[14];
	size_t i, len = 0;
	struct bu_proc p;

	list[0] = '\0';
	for (i = 0; i < n && len < sizeof(list) - 16; i++)
		len += (size_t)snprintf(list + len, sizeof(list) - len, "%s%d",
		    i ? "," : "", (int)pids[i]);
	i = 0;
	argv[i++] = "/usr/bin/perf";
	argv[i++] = "record";
	argv[i++] = "--call-graph";
	argv[i++] = getenv("BENCH_PERF_CG") != NULL ? getenv("BENCH_PERF_CG") : "fp";
	argv[i++] = "-F";
	argv[i++] = "2000";
	argv[i++] = "-o";
	argv[i++] = (char *)outfile;
	argv[i++] = "-p";
	argv[i++] = list;
	argv[i] = NULL;
	if (bu_spawn(&p, argv[0], argv, "perf") == -1)
		return -1;
	close(p.out);
	usleep(300000);		/* perf attaches */
	return p.pid;
}

void
bu_perf_stop(pid_t pid)
{
	int64_t deadline = bu_now_ns() + 30LL * 1000000000;
	int st;

	if (pid <= 0)
		return;
	kill(pid, SIGINT);
	while (waitpid(pid, &st, WNOHANG) == 0) {
		if (bu_now_ns() >= deadline) {
			kill(pid, SIGKILL);
			(void)waitpid(pid, &st, 0);
			return;
		}
		usleep(20000);
	}
}

static int
copy_str(const char *line, const char *key, char *out, size_t outsz)
{
	const char *p, *e;

	if ((p = strstr(line, key)) == NULL)
		return -1;
	p += strlen(key);
	if ((e = strchr(p, '"')) == NULL || (size_t)(e - p) >= outsz)
		return -1;
	memcpy(out, p, (size_t)(e - p));
	out[e - p] = '\0';
	return 0;
}

int
bu_parse_ready(const char *line, uint16_t *port, char *token, size_t tokensz,
    char *version, size_t versionsz)
{
	const char *p;
	char *end;
	unsigned long v;

	if (strncmp(line, "{\"ready\":true,", 14) != 0 ||
	    (p = strstr(line, "\"port\":")) == NULL)
		return -1;
	v = strtoul(p + 7, &end, 10);
	if (end == p + 7 || v == 0 || v > 65535)
		return -1;
	*port = (uint16_t)v;
	if (copy_str(line, "\"token\":\"", token, tokensz) == -1)
		return -1;
	if (copy_str(line, "\"version\":\"", version, versionsz) == -1)
		version[0] = '\0';
	return 0;
}

/* ---- sockets ---- */

static void
set_timeouts(int fd, int timeout_ms)
{
	struct timeval tv;

	tv.tv_sec = timeout_ms / 1000;
	tv.tv_usec = (timeout_ms % 1000) * 1000;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

int
bu_connect(uint16_t port, int timeout_ms)
{
	struct sockaddr_in sin;
	int fd, one = 1;

	if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return -1;
	set_timeouts(fd, timeout_ms);
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons(port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1) {
		close(fd);
		return -1;
	}
	return fd;
}

int
bu_http_open(struct bu_http *h, uint16_t port, int timeout_ms)
{
	memset(h, 0, sizeof(*h));
	if ((h->fd = bu_connect(port, timeout_ms)) == -1)
		return -1;
	h->cap = HTTP_MAX_HEAD;
	h->body_cap = 65536;
	if ((h->buf = malloc(h->cap)) == NULL ||
	    (h->body = malloc(h->body_cap)) == NULL) {
		bu_http_close(h);
		return -1;
	}
	return 0;
}

void
bu_http_close(struct bu_http *h)
{
	if (h->fd > 0)
		close(h->fd);
	h->fd = -1;
	free(h->buf);
	free(h->body);
	h->buf = h->body = NULL;
}

/* A blocking recv bounded by SO_RCVTIMEO: >0, 0 EOF, -1 error/timeout. */
static ssize_t
recv_some(int fd, void *p, size_t len)
{
	ssize_t n;

	do
		n = recv(fd, p, len, 0);
	while (n == -1 && errno == EINTR);
	return n;
}

int
bu_http_get(struct bu_http *h, const char *req, size_t reqlen, int timeout_ms)
{
	uint8_t *end, *nb;
	size_t hlen, clen, got;
	const char *cl;
	char *e;
	int status;
	ssize_t n;

	if (wsc_send_all(h->fd, req, reqlen, timeout_ms) == -1)
		return -1;
	/* Keep-alive: nothing is left over between two answers. */
	h->len = 0;
	for (;;) {
		if (h->len >= 4 && (end = memmem(h->buf, h->len, "\r\n\r\n",
		    4)) != NULL)
			break;
		if (h->len == h->cap - 1)
			return -1;
		if ((n = recv_some(h->fd, h->buf + h->len, h->cap - 1 -
		    h->len)) <= 0)
			return -1;
		h->len += (size_t)n;
	}
	hlen = (size_t)(end - h->buf) + 4;
	h->buf[hlen - 2] = '\0';
	if (sscanf((char *)h->buf, "HTTP/1.1 %d", &status) != 1)
		return -1;
	if ((cl = strcasestr((char *)h->buf, "\r\nContent-Length:")) == NULL)
		return -1;	/* the fake always sends one on keep-alive */
	clen = strtoul(cl + 17, &e, 10);
	if (clen > HTTP_MAX_BODY)
		return -1;
	if (clen + 1 > h->body_cap) {
		if ((nb = realloc(h->body, clen + 1)) == NULL)
			return -1;
		h->body = nb;
		h->body_cap = clen + 1;
	}
	got = h->len - hlen;
	if (got > clen)
		return -1;	/* pipelining is not used */
	memcpy(h->body, h->buf + hlen, got);
	while (got < clen) {
		if ((n = recv_some(h->fd, h->body + got, clen - got)) <= 0)
			return -1;
		got += (size_t)n;
	}
	h->body[clen] = '\0';
	h->body_len = clen;
	return status;
}

int
bu_http_once(uint16_t port, const char *path, char *resp, size_t respsz,
    int timeout_ms)
{
	char req[512];
	size_t len = 0;
	ssize_t n;
	char *b;
	int fd, status = -1, rn;

	if ((fd = bu_connect(port, timeout_ms)) == -1)
		return -1;
	rn = snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: 127.0.0.1:%u"
	    "\r\nConnection: close\r\n\r\n", path, (unsigned)port);
	if (rn <= 0 || (size_t)rn >= sizeof(req) ||
	    wsc_send_all(fd, req, (size_t)rn, timeout_ms) == -1)
		goto done;
	while (len + 1 < respsz &&
	    (n = recv_some(fd, resp + len, respsz - 1 - len)) > 0)
		len += (size_t)n;
	resp[len] = '\0';
	if (sscanf(resp, "HTTP/1.1 %d", &status) != 1)
		status = -1;
	if ((b = strstr(resp, "\r\n\r\n")) != NULL)
		memmove(resp, b + 4, strlen(b + 4) + 1);
 done:
	close(fd);
	return status;
}

/* ---- fast WebSocket client ---- */

int
bws_open_auth(struct bws *b, uint16_t port, const char *token, size_t bufsz,
    int timeout_ms)
{
	struct wsc w;
	int r;

	memset(b, 0, sizeof(*b));
	b->fd = -1;
	if (wsc_open(&w, port, timeout_ms) == -1)
		return -1;
	if ((r = wsc_auth(&w, token, 1, timeout_ms)) != 1) {
		fprintf(stderr, "auth handshake failed (%d)\n", r);
		wsc_close(&w);
		return -1;
	}
	if ((b->buf = malloc(bufsz)) == NULL) {
		wsc_close(&w);
		return -1;
	}
	b->cap = bufsz;
	/* Bytes the test client read past the auth reply are ours now. */
	if (w.rlen > bufsz) {
		wsc_close(&w);
		free(b->buf);
		return -1;
	}
	memcpy(b->buf, w.rbuf, w.rlen);
	b->len = w.rlen;
	b->fd = w.fd;		/* non-blocking, TCP_NODELAY */
	w.fd = -1;
	wsc_close(&w);
	b->rng = (uint64_t)bu_now_ns() | 1;
	return 0;
}

int
bws_set_blocking(struct bws *b, int timeout_ms)
{
	int fl;

	if ((fl = fcntl(b->fd, F_GETFL)) == -1 ||
	    fcntl(b->fd, F_SETFL, fl & ~O_NONBLOCK) == -1)
		return -1;
	set_timeouts(b->fd, timeout_ms);
	b->blocking = 1;
	return 0;
}

void
bws_close(struct bws *b)
{
	if (b->fd != -1)
		close(b->fd);
	b->fd = -1;
	free(b->buf);
	b->buf = NULL;
}

int
bws_send(struct bws *b, const void *data, size_t len, int timeout_ms)
{
	uint8_t stackbuf[1024], *f = stackbuf, mask[4];
	const uint8_t *p = data;
	size_t hl = 0, i;
	int r;

	if (len + 14 > sizeof(stackbuf) && (f = malloc(len + 14)) == NULL)
		return -1;
	f[hl++] = 0x82;			/* FIN, binary */
	if (len < 126)
		f[hl++] = 0x80 | (uint8_t)len;
	else if (len < 65536) {
		f[hl++] = 0x80 | 126;
		f[hl++] = (uint8_t)(len >> 8);
		f[hl++] = (uint8_t)len;
	} else {
		f[hl++] = 0x80 | 127;
		for (i = 0; i < 8; i++)
			f[hl++] = (uint8_t)((uint64_t)len >> (56 - 8 * i));
	}
	/* xorshift64: masks need not be secret from ourselves. */
	b->rng ^= b->rng << 13;
	b->rng ^= b->rng >> 7;
	b->rng ^= b->rng << 17;
	memcpy(mask, &b->rng, 4);
	memcpy(f + hl, mask, 4);
	hl += 4;
	for (i = 0; i < len; i++)
		f[hl + i] = p[i] ^ mask[i & 3];
	r = wsc_send_all(b->fd, f, hl + len, timeout_ms);
	if (f != stackbuf)
		free(f);
	return r;
}

enum bws_res
bws_parse(struct bws *b, int *op, const uint8_t **data, size_t *len)
{
	const uint8_t *p = b->buf + b->off;
	size_t avail = b->len - b->off, hl = 2, i;
	uint64_t plen;

	if (avail < 2)
		return BWS_AGAIN;
	if ((p[0] & 0x80) == 0 || (p[0] & 0x70) != 0 || (p[1] & 0x80) != 0)
		return BWS_ERROR;	/* fragmented, RSV or masked: not ours */
	plen = p[1] & 0x7f;
	if (plen == 126) {
		if (avail < 4)
			return BWS_AGAIN;
		plen = (uint64_t)p[2] << 8 | p[3];
		hl = 4;
	} else if (plen == 127) {
		if (avail < 10)
			return BWS_AGAIN;
		plen = 0;
		for (i = 0; i < 8; i++)
			plen = plen << 8 | p[2 + i];
		hl = 10;
	}
	if (plen > BWS_MAX_FRAME)
		return BWS_ERROR;
	if (avail < hl + plen) {
		/* Make room for the whole frame (a merged ChatToken can be large). */
		if (b->off + hl + plen > b->cap && b->off > 0) {
			memmove(b->buf, b->buf + b->off, avail);
			b->len = avail;
			b->off = 0;
		}
		if (hl + plen > b->cap) {
			uint8_t *nb;
			size_t ncap = b->cap;

			while (ncap < hl + plen)
				ncap *= 2;
			if ((nb = realloc(b->buf, ncap)) == NULL)
				return BWS_ERROR;
			b->buf = nb;
			b->cap = ncap;
		}
		return BWS_AGAIN;
	}
	*op = p[0] & 0x0f;
	*data = p + hl;
	*len = (size_t)plen;
	b->off += hl + (size_t)plen;
	return BWS_FRAME;
}

ssize_t
bws_fill(struct bws *b)
{
	ssize_t n;

	if (b->off == b->len)
		b->off = b->len = 0;
	else if (b->off > 0 && b->cap - b->len < b->cap / 2) {
		/* Only a partial frame moves, once per read at most. */
		memmove(b->buf, b->buf + b->off, b->len - b->off);
		b->len -= b->off;
		b->off = 0;
	}
	if (b->len == b->cap)
		return -2;
	do
		n = recv(b->fd, b->buf + b->len, b->cap - b->len, 0);
	while (n == -1 && errno == EINTR);
	if (n > 0) {
		b->len += (size_t)n;
		return n;
	}
	if (n == 0) {
		b->eof = 1;
		return 0;
	}
	if (errno == EAGAIN || errno == EWOULDBLOCK)
		return -1;
	return -2;
}

enum bws_res
bws_next(struct bws *b, int *op, const uint8_t **data, size_t *len,
    int timeout_ms)
{
	int64_t deadline = bu_now_ns() + (int64_t)timeout_ms * 1000000;
	enum bws_res r;
	struct pollfd pfd;
	ssize_t n;

	for (;;) {
		if ((r = bws_parse(b, op, data, len)) != BWS_AGAIN)
			return r;
		n = bws_fill(b);
		if (n > 0)
			continue;
		if (n == 0)
			return BWS_EOF;
		if (n == -2)
			return BWS_ERROR;
		if (b->blocking)
			return BWS_TIMEOUT;	/* SO_RCVTIMEO ran out */
		pfd.fd = b->fd;
		pfd.events = POLLIN;
		if (bu_now_ns() >= deadline)
			return BWS_TIMEOUT;
		if (poll(&pfd, 1, bu_left_ms(deadline)) == -1 && errno != EINTR)
			return BWS_ERROR;
	}
}

/* ---- protobuf wire walking ---- */

static int
varint(const uint8_t **p, const uint8_t *end, uint64_t *v)
{
	uint64_t x = 0;
	int shift;

	for (shift = 0; shift < 64 && *p < end; shift += 7) {
		uint8_t c = *(*p)++;

		x |= (uint64_t)(c & 0x7f) << shift;
		if ((c & 0x80) == 0) {
			*v = x;
			return 0;
		}
	}
	return -1;
}

int
pbw_next(const uint8_t **p, const uint8_t *end, uint32_t *field, int *wt,
    uint64_t *v, const uint8_t **bytes, size_t *blen)
{
	uint64_t key, l;

	if (*p >= end)
		return 0;
	if (varint(p, end, &key) == -1 || (key >> 3) == 0 ||
	    (key >> 3) > 0x1fffffff)
		return -1;
	*field = (uint32_t)(key >> 3);
	*wt = (int)(key & 7);
	switch (*wt) {
	case 0:
		return varint(p, end, v) == -1 ? -1 : 1;
	case 1:
		if (end - *p < 8)
			return -1;
		*p += 8;
		return 1;
	case 2:
		if (varint(p, end, &l) == -1 || l > (uint64_t)(end - *p))
			return -1;
		*bytes = *p;
		*blen = (size_t)l;
		*p += l;
		return 1;
	case 5:
		if (end - *p < 4)
			return -1;
		*p += 4;
		return 1;
	default:
		return -1;
	}
}
