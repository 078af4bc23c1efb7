/*
 * Copyright (c) 2026 The ocbroker authors
 * SPDX-License-Identifier: ISC (the licence is in the file LICENSE)
 */

/*
 * Spawning ocbroker and the fake upstream for the integration tests (see
 * integration_util.h).  Every wait is bounded; every process we start is put
 * in its own process group so that its children can be cleaned up too.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tests/integration_util.h"
#include "tests/support/fixture.h"
#include "tests/support/spawn.h"

/* Given only in a sanitizer build or with OCB_IT_SANDBOX=0 (it_sandboxed). */
#define IT_NO_SANDBOX_FLAG	"--insecure-no-sandbox"

#define READY_TIMEOUT_MS	15000
#define CTL_TIMEOUT_MS		5000
#define MAX_ARGS		64

static char	logdir[PATH_MAX];
static int	log_seq;

static int
verbose(void)
{
	const char *v = getenv("OCB_IT_VERBOSE");

	return v != NULL && *v != '\0' && strcmp(v, "0") != 0;
}

int
it_sandboxed(void)
{
#ifdef OCB_SANITIZERS
	return 0;
#else
	return 1;
#endif
}

const char *
it_logdir(void)
{
	const char *tmp;

	if (logdir[0] != '\0')
		return logdir;
	if ((tmp = getenv("TMPDIR")) == NULL || *tmp == '\0')
		tmp = "/tmp";
	snprintf(logdir, sizeof(logdir), "%s/ocb-it.XXXXXX", tmp);
	if (mkdtemp(logdir) == NULL) {
		fprintf(stderr, "mkdtemp %s: %s\n", logdir, strerror(errno));
		logdir[0] = '\0';
		return "/tmp";
	}
	return logdir;
}

void
it_remove_dir(const char *dir)
{
	char path[PATH_MAX + 256];
	struct dirent *de;
	DIR *d;

	if ((d = opendir(dir)) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		unlink(path);
	}
	closedir(d);
	rmdir(dir);
}

void
it_logdir_remove(void)
{
	if (logdir[0] == '\0')
		return;
	it_remove_dir(logdir);
	logdir[0] = '\0';
}

long
it_log_lines(const char *path, const char *needle)
{
	char *line = NULL;
	size_t cap = 0;
	long n = 0;
	FILE *fp;

	if ((fp = fopen(path, "r")) == NULL)
		return -1;
	/* getline: a long line is one line, never counted twice. */
	while (getline(&line, &cap, fp) != -1)
		if (strstr(line, needle) != NULL)
			n++;
	free(line);
	fclose(fp);
	return n;
}

static const char *
env_path(const char *name)
{
	const char *v = getenv(name);

	if (v == NULL || *v == '\0') {
		fprintf(stderr, "integration tests: %s is not set\n", name);
		return NULL;
	}
	return v;
}

/*
 * spawn_piped() with the log appended to (ours under OCB_IT_VERBOSE);
 * setenv_kv is "NAME=value" or NULL; unset names are removed.
 */
static pid_t
spawn(const char *path, char *const argv[], int *outfd, const char *logpath,
    const char *const *setenv_kv, const char *const *unset, int keep_fd)
{
	const struct spawn_env e = { setenv_kv, unset, keep_fd };

	return spawn_piped(path, argv, outfd, verbose() ? NULL : logpath,
	    SPAWN_LOG_APPEND, &e);
}

/* Reads one line (without the newline); -1 on timeout/EOF/overlong. */
static int
read_line(int fd, char *buf, size_t sz, int timeout_ms, int *extra)
{
	int64_t deadline = it_now_ms() + timeout_ms;
	struct pollfd pfd;
	size_t len = 0;
	ssize_t n;
	char *nl;

	*extra = 0;
	while (len + 1 < sz) {
		pfd.fd = fd;
		pfd.events = POLLIN;
		if (poll(&pfd, 1, it_left_ms(deadline)) <= 0)
			return -1;
		n = read(fd, buf + len, sz - 1 - len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		len += (size_t)n;
		buf[len] = '\0';
		if ((nl = memchr(buf, '\n', len)) != NULL) {
			*extra = (size_t)(nl - buf) + 1 < len;
			*nl = '\0';
			return 0;
		}
	}
	return -1;
}

static int
expect(const char **p, const char *lit)
{
	size_t n = strlen(lit);

	if (strncmp(*p, lit, n) != 0)
		return -1;
	*p += n;
	return 0;
}

/* A decimal number without sign or leading zero. */
static int
number(const char **p, unsigned long max, unsigned long *out)
{
	const char *s = *p;
	unsigned long v = 0;

	if (!isdigit((unsigned char)*s) || (*s == '0' &&
	    isdigit((unsigned char)s[1])))
		return -1;
	for (; isdigit((unsigned char)*s); s++) {
		v = v * 10 + (unsigned long)(*s - '0');
		if (v > max)
			return -1;
	}
	*p = s;
	*out = v;
	return 0;
}

int
it_parse_ready(const char *line, uint16_t *port, char *token, int *has_token,
    char *version, size_t versionsz)
{
	const char *p = line, *v;
	unsigned long n;
	size_t i;

	*has_token = 0;
	if (expect(&p, "{\"ready\":true,\"port\":") == -1 ||
	    number(&p, 65535, &n) == -1 || n == 0)
		return -1;
	*port = (uint16_t)n;
	if (expect(&p, ",\"token\":\"") == 0) {
		for (i = 0; i < IT_TOKEN_LEN; i++)
			if (!isdigit((unsigned char)p[i]) &&
			    (p[i] < 'a' || p[i] > 'f'))
				return -1;
		memcpy(token, p, IT_TOKEN_LEN);
		token[IT_TOKEN_LEN] = '\0';
		p += IT_TOKEN_LEN;
		if (expect(&p, "\"") == -1)
			return -1;
		*has_token = 1;
	}
	if (expect(&p, ",\"version\":\"") == -1)
		return -1;
	v = p;
	for (i = 0; i < 3; i++) {
		if (number(&p, 100000, &n) == -1)
			return -1;
		if (i < 2 && expect(&p, ".") == -1)
			return -1;
	}
	if ((size_t)(p - v) >= versionsz)
		return -1;
	memcpy(version, v, (size_t)(p - v));
	version[p - v] = '\0';
	if (expect(&p, "\"}") == -1 || *p != '\0')
		return -1;
	return 0;
}

static uint16_t
refused_port(void)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);
	uint16_t port = 0;
	int fd;

	/* A port the kernel just handed out and nobody listens on. */
	if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return 0;
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == 0 &&
	    getsockname(fd, (struct sockaddr *)&sin, &len) == 0)
		port = ntohs(sin.sin_port);
	close(fd);
	return port;
}

static int
wait_exit(pid_t pid, int timeout_ms, int *status)
{
	int64_t deadline = it_now_ms() + timeout_ms;
	pid_t r;

	for (;;) {
		r = waitpid(pid, status, WNOHANG);
		if (r == pid)
			return 0;
		if (r == -1 && errno != EINTR)
			return -1;
		if (it_now_ms() >= deadline)
			return -1;
		usleep(10000);
	}
}

static void
kill_group(pid_t pid)
{
	int st;

	kill(-pid, SIGKILL);
	kill(pid, SIGKILL);
	(void)wait_exit(pid, 5000, &st);
}

static int
start_fake(struct it_env *env, const struct it_opts *o)
{
	const char *bin, *fx;
	char hb[16], line[256], kv[300];
	char *argv[16];
	const char *setkv[2] = { NULL, NULL };
	const char *unset[] = { "FAKE_UPSTREAM_PASSWORD", NULL };
	unsigned port;
	int fd, extra, i = 0;

	if ((bin = env_path("FAKE_UPSTREAM")) == NULL ||
	    (fx = env_path("OCB_FIXTURES")) == NULL)
		return -1;
	argv[i++] = (char *)bin;
	argv[i++] = "--fixtures";
	argv[i++] = (char *)fx;
	if (o->fake_heartbeat > 0) {
		snprintf(hb, sizeof(hb), "%d", o->fake_heartbeat);
		argv[i++] = "--heartbeat";
		argv[i++] = hb;
	}
	for (const char *const *a = o->fake_args; a != NULL && *a != NULL &&
	    i < (int)(sizeof(argv) / sizeof(argv[0])) - 1; a++)
		argv[i++] = (char *)*a;
	argv[i] = NULL;
	if (o->fake_password != NULL) {
		snprintf(kv, sizeof(kv), "FAKE_UPSTREAM_PASSWORD=%s",
		    o->fake_password);
		setkv[0] = kv;
	}
	env->fake_pid = spawn(bin, argv, &fd, env->fake_log, setkv, unset, -1);
	if (env->fake_pid == -1) {
		fprintf(stderr, "spawn %s: %s\n", bin, strerror(errno));
		return -1;
	}
	if (read_line(fd, line, sizeof(line), READY_TIMEOUT_MS, &extra) == -1 ||
	    sscanf(line, "{\"port\":%u}", &port) != 1 || port == 0 ||
	    port > 65535) {
		fprintf(stderr, "fake_upstream did not start (log %s)\n",
		    env->fake_log);
		close(fd);
		kill_group(env->fake_pid);
		env->fake_pid = 0;
		return -1;
	}
	close(fd);
	env->fake_port = (uint16_t)port;
	return 0;
}

int
it_start(struct it_env *env, const struct it_opts *opts)
{
	static const struct it_opts none;
	const char *bin, *sb;
	char upstream[64], line[1024], tokfd[16], kv[300];
	char *argv[MAX_ARGS];
	const char *setkv[2] = { NULL, NULL };
	const char *unset[] = { "OPENCODE_SERVER_PASSWORD",
	    "OPENCODE_SERVER_USERNAME", NULL };
	const char *const *a;
	int i = 0, extra, tp[2] = { -1, -1 }, keep = -1;

	if (opts == NULL)
		opts = &none;
	memset(env, 0, sizeof(*env));
	env->ocb_out = -1;
	log_seq++;
	snprintf(env->ocb_log, sizeof(env->ocb_log), "%s/ocbroker-%d.log",
	    it_logdir(), log_seq);
	snprintf(env->fake_log, sizeof(env->fake_log), "%s/fake-%d.log",
	    it_logdir(), log_seq);
	if ((bin = env_path("OCBROKER")) == NULL)
		return -1;

	if (opts->no_fake) {
		if ((env->fake_port = refused_port()) == 0)
			return -1;
	} else if (start_fake(env, opts) == -1)
		return -1;

	snprintf(upstream, sizeof(upstream), "http://127.0.0.1:%u",
	    (unsigned)env->fake_port);
	argv[i++] = (char *)bin;
	argv[i++] = "--port";
	argv[i++] = "0";
	argv[i++] = "--upstream";
	argv[i++] = upstream;
	argv[i++] = "--log-level";
	argv[i++] = "debug";
	/* The sandbox is on unless this is a sanitizer build (whose runtime
	 * makes calls the filters rightly refuse) or OCB_IT_SANDBOX=0. */
	sb = getenv("OCB_IT_SANDBOX");
	if (!it_sandboxed() || (sb != NULL && strcmp(sb, "0") == 0))
		argv[i++] = IT_NO_SANDBOX_FLAG;
	if (opts->token_fd) {
		if (pipe(tp) == -1)
			goto fail;
		if (write(tp[1], opts->token_in, strlen(opts->token_in)) !=
		    (ssize_t)strlen(opts->token_in))
			goto fail;
		close(tp[1]);
		tp[1] = -1;
		keep = tp[0];
		snprintf(tokfd, sizeof(tokfd), "%d", tp[0]);
		argv[i++] = "--token-fd";
		argv[i++] = tokfd;
	}
	for (a = opts->ocb_args; a != NULL && *a != NULL && i < MAX_ARGS - 1;
	    a++)
		argv[i++] = (char *)*a;
	argv[i] = NULL;
	if (opts->ocb_password != NULL) {
		snprintf(kv, sizeof(kv), "OPENCODE_SERVER_PASSWORD=%s",
		    opts->ocb_password);
		setkv[0] = kv;
	}

	env->ocb_pid = spawn(bin, argv, &env->ocb_out, env->ocb_log, setkv,
	    unset, keep);
	if (tp[0] != -1) {
		close(tp[0]);
		tp[0] = -1;
	}
	if (env->ocb_pid == -1) {
		fprintf(stderr, "spawn %s: %s\n", bin, strerror(errno));
		env->ocb_pid = 0;
		goto fail;
	}
	if (read_line(env->ocb_out, line, sizeof(line), READY_TIMEOUT_MS,
	    &extra) == -1) {
		fprintf(stderr, "ocbroker printed no ready line within %d ms "
		    "(log %s)\n", READY_TIMEOUT_MS, env->ocb_log);
		goto fail;
	}
	if (extra || it_parse_ready(line, &env->port, env->token,
	    &env->has_token, env->version, sizeof(env->version)) == -1) {
		fprintf(stderr, "bad ready line%s: %s\n",
		    extra ? " (more output after it)" : "", line);
		goto fail;
	}
	env->running = 1;
	return 0;
 fail:
	if (tp[0] != -1)
		close(tp[0]);
	if (tp[1] != -1)
		close(tp[1]);
	if (env->ocb_pid > 0)
		kill_group(env->ocb_pid);
	if (env->ocb_out != -1)
		close(env->ocb_out);
	if (env->fake_pid > 0)
		kill_group(env->fake_pid);
	memset(env, 0, sizeof(*env));
	return -1;
}

void
it_signal(struct it_env *env, int sig)
{
	if (env->running && env->ocb_pid > 0)
		kill(env->ocb_pid, sig);
}

int
it_wait(struct it_env *env, int timeout_ms, int *extra_stdout)
{
	struct pollfd pfd;
	char buf[256];
	ssize_t n;
	int st = 0, ret, fst;

	if (extra_stdout != NULL)
		*extra_stdout = 0;
	if (!env->running)
		return -1;
	env->running = 0;
	if (wait_exit(env->ocb_pid, timeout_ms, &st) == 0)
		ret = st;
	else {
		fprintf(stderr, "ocbroker did not exit within %d ms "
		    "(log %s)\n", timeout_ms, env->ocb_log);
		ret = -1;
	}
	/* Children outliving their parent are a bug; not to outlive us. */
	kill_group(env->ocb_pid);

	/* Anything after the ready line breaks the one-line contract. */
	pfd.fd = env->ocb_out;
	pfd.events = POLLIN;
	while (poll(&pfd, 1, 100) > 0) {
		n = read(env->ocb_out, buf, sizeof(buf));
		if (n <= 0)
			break;
		if (extra_stdout != NULL)
			*extra_stdout = 1;
	}
	close(env->ocb_out);
	env->ocb_out = -1;

	if (env->fake_pid > 0) {
		kill(env->fake_pid, SIGTERM);
		if (wait_exit(env->fake_pid, 5000, &fst) == -1) {
			fprintf(stderr, "fake_upstream did not exit (log %s)\n",
			    env->fake_log);
			kill_group(env->fake_pid);
		} else if (!WIFEXITED(fst) || WEXITSTATUS(fst) != 0)
			fprintf(stderr, "fake_upstream exited with status %d "
			    "(log %s)\n", fst, env->fake_log);
		env->fake_pid = 0;
	}
	return ret;
}

int
it_stop(struct it_env *env, int timeout_ms, int *extra_stdout)
{
	it_signal(env, SIGTERM);
	return it_wait(env, timeout_ms, extra_stdout);
}

int
it_http(uint16_t port, const char *method, const char *path, const char *body,
    const char *headers, int timeout_ms, char **raw, size_t *rawlen)
{
	int64_t deadline = it_now_ms() + timeout_ms;
	struct sockaddr_in sin;
	struct pollfd pfd;
	char *req = NULL, *buf = NULL, *nb;
	size_t blen = body != NULL ? strlen(body) : 0, len = 0, cap = 0, off;
	ssize_t n;
	int fd, code = -1, rlen;

	*raw = NULL;
	if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return -1;
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons(port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1)
		goto out;
	rlen = asprintf(&req, "%s %s HTTP/1.1\r\nHost: 127.0.0.1:%u\r\n"
	    "Connection: close\r\n%sContent-Length: %zu\r\n\r\n%s", method,
	    path, (unsigned)port, headers != NULL ? headers : "", blen,
	    body != NULL ? body : "");
	if (rlen == -1) {
		req = NULL;
		goto out;
	}
	for (off = 0; off < (size_t)rlen; off += (size_t)n)
		if ((n = send(fd, req + off, (size_t)rlen - off,
		    MSG_NOSIGNAL)) <= 0)
			goto out;
	for (;;) {
		pfd.fd = fd;
		pfd.events = POLLIN;
		if (poll(&pfd, 1, it_left_ms(deadline)) <= 0)
			goto out;
		if (cap - len < 65536) {
			cap = cap == 0 ? 131072 : cap * 2;
			if ((nb = realloc(buf, cap)) == NULL)
				goto out;
			buf = nb;
		}
		n = read(fd, buf + len, cap - len - 1);
		if (n == -1 && errno == EINTR)
			continue;
		if (n < 0)
			goto out;
		if (n == 0)
			break;
		len += (size_t)n;
	}
	if (buf == NULL)
		goto out;
	buf[len] = '\0';
	if (sscanf(buf, "HTTP/1.%*d %d", &code) != 1) {
		code = -1;
		goto out;
	}
	*raw = buf;
	if (rawlen != NULL)
		*rawlen = len;
	buf = NULL;
 out:
	free(req);
	free(buf);
	close(fd);
	return code;
}

int
it_fake_req(const struct it_env *env, const char *method, const char *path,
    const char *body, char **resp)
{
	char *raw, *b;
	int code;

	if (resp != NULL)
		*resp = NULL;
	code = it_http(env->fake_port, method, path, body, NULL,
	    CTL_TIMEOUT_MS, &raw, NULL);
	if (code != -1 && resp != NULL) {
		b = strstr(raw, "\r\n\r\n");
		*resp = strdup(b != NULL ? b + 4 : "");
	}
	free(raw);
	return code;
}

int
it_fake_mode(const struct it_env *env, const char *mode)
{
	return it_fake_req(env, "POST", "/__fake/mode", mode, NULL) == 200 ?
	    0 : -1;
}

char *
it_fake_last(const struct it_env *env, const char *method, const char *prefix)
{
	char path[512], *r = NULL;

	/* method and prefix are plain test constants: no encoding needed. */
	snprintf(path, sizeof(path), "/__fake/last?method=%s&prefix=%s",
	    method != NULL ? method : "", prefix != NULL ? prefix : "");
	if (method == NULL && prefix == NULL)
		snprintf(path, sizeof(path), "/__fake/last");
	else if (method == NULL)
		snprintf(path, sizeof(path), "/__fake/last?prefix=%s", prefix);
	else if (prefix == NULL)
		snprintf(path, sizeof(path), "/__fake/last?method=%s", method);
	if (it_fake_req(env, "GET", path, NULL, &r) != 200) {
		free(r);
		return NULL;
	}
	return r;
}

int
it_fake_event(const struct it_env *env, const char *lines)
{
	return it_fake_req(env, "POST", "/__fake/event", lines, NULL) == 200 ?
	    0 : -1;
}

int
it_fake_command(const struct it_env *env, const char *mode)
{
	return it_fake_req(env, "POST", "/__fake/command", mode, NULL) ==
	    200 ? 0 : -1;
}

int
it_fake_messages(const struct it_env *env, const char *file)
{
	return it_fake_req(env, "POST", "/__fake/messages", file, NULL) ==
	    200 ? 0 : -1;
}

long
it_fake_calls(const struct it_env *env)
{
	char *log, *p, *nl;
	long n = 0;

	if ((log = it_fake_log(env)) == NULL)
		return -1;
	for (p = log; *p != '\0'; p = nl + 1) {
		if ((nl = strchr(p, '\n')) == NULL)
			break;
		*nl = '\0';
		if (strcmp(p, "GET /event") != 0 &&
		    strcmp(p, "GET /global/health") != 0)
			n++;
	}
	free(log);
	return n;
}

char *
it_fake_log(const struct it_env *env)
{
	char *r = NULL;

	if (it_fake_req(env, "GET", "/__fake/log", NULL, &r) != 200) {
		free(r);
		return NULL;
	}
	return r;
}

int
it_fake_count(const struct it_env *env, long *requests, long *connections,
    long *streams)
{
	char *r = NULL;
	long q, c, o, s;
	int ok;

	if (it_fake_req(env, "GET", "/__fake/count", NULL, &r) != 200) {
		free(r);
		return -1;
	}
	ok = r != NULL && sscanf(r, "{\"requests\":%ld,\"connections\":%ld,"
	    "\"open\":%ld,\"streams\":%ld}", &q, &c, &o, &s) == 4;
	free(r);
	if (!ok)
		return -1;
	if (requests != NULL)
		*requests = q;
	if (connections != NULL)
		*connections = c;
	if (streams != NULL)
		*streams = s;
	return 0;
}

int
it_fake_stalls(const struct it_env *e, long *sent, long *broken)
{
	char *body = NULL, *p, *q;
	int rc = -1;

	if (it_fake_req(e, "GET", "/__fake/stalls", NULL, &body) != 200 ||
	    body == NULL)
		goto out;
	if ((p = strstr(body, "\"sent\":")) == NULL ||
	    (q = strstr(body, "\"broken\":")) == NULL)
		goto out;
	*sent = strtol(p + 7, NULL, 10);
	*broken = strtol(q + 9, NULL, 10);
	rc = 0;
out:
	free(body);
	return rc;
}

int
it_fake_wait_streams(const struct it_env *env, long n, int timeout_ms)
{
	int64_t deadline = it_now_ms() + timeout_ms;
	long s;

	do {
		if (it_fake_count(env, NULL, NULL, &s) == 0 && s >= n)
			return 0;
		usleep(50000);
	} while (it_now_ms() < deadline);
	return -1;
}

char *
it_read_fixture(const char *name, size_t *lenp)
{
	return fx_read(name, lenp);
}
