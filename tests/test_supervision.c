/*
 * Copyright (c) 2026 The ocbroker authors
 * SPDX-License-Identifier: ISC (the licence is in the file LICENSE)
 */

/*
 * Confinement and supervision, on the real binary with its sandbox on (a
 * sanitizer build runs it off, and says so): every process is filtered,
 * netproc killed mid-request is restarted while the client stays connected,
 * a dead front ends ocbroker with a non-zero status, and an https upstream
 * works with the right CA and fails cleanly with the wrong one.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <time.h>

#include "sandbox/sandbox.h"

#include "tests/support/itest.h"

#define WAIT_MS		5000

static int sandboxed;

/* The ocbroker under test: file-level, so that the teardown can stop it when
 * a failed assertion has left the test function early. */
static struct it_env e;

/* Where /proc/PID/fd/FD points, in out; 0, or -1 (errno). */
static int
fd_target(pid_t pid, int fd, char *out, size_t len)
{
	char path[64];
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%ld/fd/%d", (long)pid, fd);
	if ((n = readlink(path, out, len - 1)) == -1)
		return -1;
	out[n] = '\0';
	return 0;
}

/* ocb_processes' order: the parent, the front, netproc, the spawner. */
#define NETPROC_AT	2

/* A /proc file of pid could not be read (errno): not dumpable and not ours
 * when not root, which skips the test; anything else fails it. */
static void
unreadable(pid_t pid, const char *what)
{
	if (errno == EACCES && geteuid() != 0)
		skip();
	fail_msg("pid %ld %s: %s", (long)pid, what, strerror(errno));
}

/* The processes of the ocbroker under test: parent, front, netproc and
 * (Linux) the spawner; the number found. */
static int
ocb_processes(pid_t *out)
{
	int n = 0;

	out[n++] = e.ocb_pid;
	out[n++] = procfs_role_pid(e.ocb_pid, "front");
	out[n++] = procfs_role_pid(e.ocb_pid, "netproc");
#ifdef __linux__
	out[n++] = procfs_role_pid(e.ocb_pid, NULL);
#endif
	for (int i = 0; i < n; i++)
		assert_true(out[i] > 0);
	return n;
}

/* A hexadecimal "Key:\tvalue" of /proc/PID/status (the Cap* lines), or
 * ~0 when there is none. */
static unsigned long long
status_hex(pid_t pid, const char *key)
{
	char prefix[64], line[256];

	snprintf(prefix, sizeof(prefix), "%s:", key);
	if (procfs_line(pid, "status", prefix, line, sizeof(line)) == -1)
		return ~0ULL;
	return strtoull(line + strlen(prefix), NULL, 16);
}

/* The soft and hard "Max data size" of /proc/PID/limits, in bytes (-1 for
 * unlimited or not found); 0 or -1. */
static int
data_limit(pid_t pid, long long *soft, long long *hard)
{
	char line[256], s1[32], s2[32];

	if (procfs_line(pid, "limits", "Max data size", line,
	    sizeof(line)) == -1 ||
	    sscanf(line + 13, "%31s %31s", s1, s2) != 2)
		return -1;
	*soft = strcmp(s1, "unlimited") == 0 ? -1 : atoll(s1);
	*hard = strcmp(s2, "unlimited") == 0 ? -1 : atoll(s2);
	return 0;
}

static void
assert_data_limit(pid_t pid, long long mb)
{
	long long soft, hard;

	assert_int_equal(data_limit(pid, &soft, &hard), 0);
	if (soft != mb * 1024 * 1024 || hard != mb * 1024 * 1024)
		fail_msg("pid %ld: RLIMIT_DATA %lld/%lld, expected %lld MiB",
		    (long)pid, soft, hard, mb);
}

/* Seccomp 2 is filter mode; NoNewPrivs comes with it. */
static void
assert_filtered(pid_t pid, const char *role)
{
	long mode = procfs_status(pid, "Seccomp");
	long nnp = procfs_status(pid, "NoNewPrivs");

	if (mode != 2 || nnp != 1)
		fail_msg("%s (pid %ld): Seccomp %ld, NoNewPrivs %ld, expected "
		    "2 and 1", role, (long)pid, mode, nnp);
}

static void
open_client(struct it_env *env, struct wsc *w)
{
	assert_int_equal(wsc_open(w, env->port, WAIT_MS), 0);
	assert_int_equal(wsc_auth(w, env->token, 1, WAIT_MS), 1);
}

static Opencode__ServerMessage *
call(struct wsc *w, uint64_t rid, Opencode__ClientMessage *m)
{
	m->request_id = rid;
	assert_int_equal(wsc_send_msg(w, m, WAIT_MS), 0);
	return wsc_recv_reply(w, rid, 35000);
}

static Opencode__ServerMessage *
list_sessions(struct wsc *w, uint64_t rid)
{
	assert_int_equal(it_send_list(w, rid, WAIT_MS), 0);
	return wsc_recv_reply(w, rid, 35000);
}

static Opencode__ServerMessage *
health(struct wsc *w, uint64_t rid)
{
	Opencode__ClientMessage m = OPENCODE__CLIENT_MESSAGE__INIT;
	Opencode__HealthCheck hc = OPENCODE__HEALTH_CHECK__INIT;

	m.payload_case = OPENCODE__CLIENT_MESSAGE__PAYLOAD_HEALTH_CHECK;
	m.health_check = &hc;
	return call(w, rid, &m);
}

static void
test_every_process_is_confined(void **state)
{
	pid_t front, np, spawner;

	if (!sandboxed)
		skip();
	assert_int_equal(it_start(&e, NULL), 0);
	/* The ready line waits for the front only; netproc's event stream
	 * is opened from its loop, after its filter went on. */
	assert_int_equal(it_fake_wait_streams(&e, 1, WAIT_MS), 0);
	front = procfs_role_pid(e.ocb_pid, "front");
	np = procfs_role_pid(e.ocb_pid, "netproc");
	assert_true(front > 0);
	assert_true(np > 0);
	assert_filtered(front, "front");
	assert_filtered(np, "netproc");
	assert_int_equal(procfs_status(e.ocb_pid, "Seccomp"), 2);
#ifdef __linux__
	/* The spawner (a fork of the parent, no role flag) and netproc,
	 * which it started with clone(CLONE_PARENT): the parent's children. */
	spawner = procfs_role_pid(e.ocb_pid, NULL);
	assert_true(spawner > 0);
	assert_filtered(spawner, "spawner");
	/* netproc: the spawner's filter, then its own. */
	assert_int_equal(procfs_status(np, "Seccomp_filters"), 2);
	assert_int_equal(procfs_status(front, "Seccomp_filters"), 1);
	assert_int_equal(procfs_status(e.ocb_pid, "Seccomp_filters"), 1);
	/* RLIMIT_DATA per role, set with the filter (sandbox.h). */
	assert_data_limit(e.ocb_pid, SANDBOX_DATA_MB_PARENT);
	assert_data_limit(front, SANDBOX_DATA_MB_FRONT);
	assert_data_limit(np, SANDBOX_DATA_MB_NETPROC);
	assert_data_limit(spawner, SANDBOX_DATA_MB_SPAWNER);
#else
	(void)spawner;
#endif
	assert_int_equal(it_stop(&e, WAIT_MS, NULL), 0);
}

/* fds 0 and 1 of every child are /dev/null, never an IPC channel: one
 * stray write(1, ...) from a library must not reach the parent. */
static void
test_children_stdio_is_devnull(void **state)
{
	char target[256];
	pid_t pids[4];
	int n;

	(void)state;
	assert_int_equal(it_start(&e, NULL), 0);
	assert_int_equal(it_fake_wait_streams(&e, 1, WAIT_MS), 0);
	n = ocb_processes(pids);
	/* Not the parent (pids[0]): its stdout is the ready line's. */
	for (int i = 1; i < n; i++)
		for (int fd = 0; fd <= 1; fd++) {
			if (fd_target(pids[i], fd, target, sizeof(target)) == -1)
				unreadable(pids[i], fd == 0 ? "fd 0" : "fd 1");
			if (strcmp(target, "/dev/null") != 0)
				fail_msg("pid %ld fd %d is %s, not /dev/null",
				    (long)pids[i], fd, target);
		}
	assert_int_equal(it_stop(&e, WAIT_MS, NULL), 0);
}

/*
 * libcurl is netproc's alone (configure's curl-dlopen, netproc/curl_dl.c):
 * the parent, the spawner and the front, which faces unauthenticated
 * clients, map neither libcurl nor the TLS library it brings.
 */
static void
test_libcurl_in_netproc_only(void **state)
{
#ifndef OCB_CURL_DLOPEN
	print_message("configured --disable-curl-dlopen: every process maps "
	    "libcurl\n");
	skip();
#else
	static const char *const libs[] = { "/libcurl.so", "/libcrypto.so" };
	pid_t pids[4];
	int n, has;

	(void)state;
	assert_int_equal(it_start(&e, NULL), 0);
	assert_int_equal(it_fake_wait_streams(&e, 1, WAIT_MS), 0);
	n = ocb_processes(pids);
	for (int i = 0; i < n; i++)
		for (size_t j = 0; j < sizeof(libs) / sizeof(libs[0]); j++) {
			if ((has = procfs_maps_has(pids[i], libs[j])) == -1)
				unreadable(pids[i], "maps");
			if (has != (i == NETPROC_AT))
				fail_msg("pid %ld (%s) %s %s", (long)pids[i],
				    i == NETPROC_AT ? "netproc" : "not netproc",
				    has ? "maps" : "does not map", libs[j]);
		}
	assert_int_equal(it_stop(&e, WAIT_MS, NULL), 0);
#endif
}

/*
 * A child's environment is common/proc.c's allowlist plus what it sets,
 * however the parent's looks: a name repeated more often than the child's
 * array holds is cut (it once overran it), and a name not on the list never
 * arrives.
 */
#define ENV_REPEATS	40
#define ENV_MARK	"OCB_TEST_NOT_INHERITED=1"

static void
test_children_environment(void **state)
{
	extern char **environ;
	char **saved = environ, **env, buf[4096];
	size_t n = 0, ours;
	pid_t pids[4];
	ssize_t len;
	int rc;

	(void)state;
	for (ours = 0; saved[ours] != NULL; ours++)
		;
	assert_non_null(env = calloc(ours + ENV_REPEATS + 2, sizeof(*env)));
	for (size_t i = 0; i < ours; i++)
		env[n++] = saved[i];
	for (int i = 0; i < ENV_REPEATS; i++)
		env[n++] = (char *)"TZ=UTC";
	env[n++] = (char *)ENV_MARK;
	environ = env;
	rc = it_start(&e, NULL);
	environ = saved;
	free(env);
	assert_int_equal(rc, 0);
	assert_int_equal(it_fake_wait_streams(&e, 1, WAIT_MS), 0);
	pids[0] = procfs_role_pid(e.ocb_pid, "front");
	pids[1] = procfs_role_pid(e.ocb_pid, "netproc");
	for (int i = 0; i < 2; i++) {
		int vars = 0, gnutls = 0, tz = 0;

		if ((len = procfs_read(pids[i], "environ", buf,
		    sizeof(buf))) == -1)
			unreadable(pids[i], "environ");
		for (ssize_t off = 0; off < len; off += (ssize_t)strlen(buf + off) + 1) {
			vars++;
			if (strcmp(buf + off, ENV_MARK) == 0)
				fail_msg("pid %ld inherited %s", (long)pids[i],
				    ENV_MARK);
			gnutls += strcmp(buf + off, "GNUTLS_NO_IMPLICIT_INIT=1") == 0;
			tz += strcmp(buf + off, "TZ=UTC") == 0;
		}
		assert_int_equal(gnutls, 1);
		assert_true(tz >= 1);
		assert_true(vars <= 8);		/* proc.c's PROC_ENV_MAX */
	}
	assert_int_equal(it_stop(&e, WAIT_MS, NULL), 0);
}

/*
 * Started as root, the spawner keeps what starting a netproc takes and
 * nothing else, and the children's bounding sets are empty.  With the
 * sandbox it runs as --user with CAP_SYS_CHROOT alone
 * (tests/test_spawner_privs reads its ids and sets); a sanitizer build,
 * whose children keep root, keeps it root with these.
 */
#define CAPS_SPAWNER_EFF	((1ULL << 6) | (1ULL << 7) | (1ULL << 18))
#define CAPS_SPAWNER_PRM	(CAPS_SPAWNER_EFF | (1ULL << 8))

static void
test_capabilities(void **state)
{
	pid_t front, np, spawner;

	(void)state;
	if (geteuid() != 0) {
		print_message("not root: nothing to drop\n");
		skip();
	}
	assert_int_equal(it_start(&e, NULL), 0);
	assert_int_equal(it_fake_wait_streams(&e, 1, WAIT_MS), 0);
	front = procfs_role_pid(e.ocb_pid, "front");
	np = procfs_role_pid(e.ocb_pid, "netproc");
	assert_true(front > 0 && np > 0);
#ifdef __linux__
	/* Sanitizer build: CAP_SETGID, CAP_SETUID, CAP_SYS_CHROOT;
	 * CAP_SETPCAP permitted and bounded but never effective. */
	spawner = procfs_role_pid(e.ocb_pid, NULL);
	assert_true(spawner > 0);
	if (!sandboxed) {
		assert_int_equal(status_hex(spawner, "CapEff"), CAPS_SPAWNER_EFF);
		assert_int_equal(status_hex(spawner, "CapPrm"), CAPS_SPAWNER_PRM);
		assert_int_equal(status_hex(spawner, "CapBnd"), CAPS_SPAWNER_PRM);
		assert_int_equal(status_hex(spawner, "CapInh"), 0);
	}
#else
	(void)spawner;
#endif
	/* The sanitizer build keeps its children root (no privilege drop). */
	if (sandboxed) {
		assert_int_equal(status_hex(front, "CapBnd"), 0);
		assert_int_equal(status_hex(np, "CapBnd"), 0);
		assert_int_equal(status_hex(front, "CapEff"), 0);
		assert_int_equal(status_hex(np, "CapEff"), 0);
		assert_int_equal(status_hex(front, "CapPrm"), 0);
		assert_int_equal(status_hex(np, "CapPrm"), 0);
	}
	assert_int_equal(it_stop(&e, WAIT_MS, NULL), 0);
}

/*
 * A descriptor our launcher left open (no FD_CLOEXEC) is closed at start by
 * the parent and the spawner: no ocbroker process holds it.  ocbroker is
 * started through a shell that opens a marker file on fd 7 and execs it.
 */
static void
test_launcher_fds_closed(void **state)
{
	char dir[] = "/tmp/ocb-fds.XXXXXX", marker[64], wrapper[64];
	char target[256], fdpath[64];
	const char *real = getenv("OCBROKER");
	char *saved;
	pid_t pids[4];
	FILE *fp;
	int n, rc;

	(void)state;
	assert_non_null(real);
	assert_non_null(mkdtemp(dir));
	snprintf(marker, sizeof(marker), "%s/marker", dir);
	snprintf(wrapper, sizeof(wrapper), "%s/ocbroker.sh", dir);
	assert_non_null(fp = fopen(marker, "w"));
	fclose(fp);
	assert_non_null(fp = fopen(wrapper, "w"));
	fprintf(fp, "#!/bin/sh\nexec 7<'%s'\nexec '%s' \"$@\"\n", marker, real);
	fclose(fp);
	assert_int_equal(chmod(wrapper, 0700), 0);
	assert_non_null(saved = strdup(real));
	setenv("OCBROKER", wrapper, 1);
	rc = it_start(&e, NULL);
	setenv("OCBROKER", saved, 1);
	free(saved);
	assert_int_equal(rc, 0);
	assert_int_equal(it_fake_wait_streams(&e, 1, WAIT_MS), 0);
	n = ocb_processes(pids);
	for (int i = 0; i < n; i++) {
		snprintf(fdpath, sizeof(fdpath), "/proc/%ld/fd/7", (long)pids[i]);
		if (fd_target(pids[i], 7, target, sizeof(target)) == -1) {
			if (errno == EACCES && geteuid() != 0)
				skip();
			assert_int_equal(errno, ENOENT);
			continue;
		}
		if (strcmp(target, marker) == 0)
			fail_msg("%s is the launcher's %s", fdpath, marker);
	}
	assert_int_equal(it_stop(&e, WAIT_MS, NULL), 0);
	unlink(wrapper);
	unlink(marker);
	rmdir(dir);
}

/* 1 when ocbroker's log file holds needle (within timeout_ms). */
static int
log_has(const char *needle, int timeout_ms)
{
	static char text[256 * 1024];
	int64_t t0 = it_now_ms();

	do {
		FILE *fp = fopen(e.ocb_log, "r");
		size_t n;

		if (fp != NULL) {
			n = fread(text, 1, sizeof(text) - 1, fp);
			fclose(fp);
			text[n] = '\0';
			if (strstr(text, needle) != NULL)
				return 1;
		}
		usleep(50 * 1000);
	} while (it_now_ms() - t0 < timeout_ms);
	return 0;
}

/* A crash (SIGABRT) is logged as an abort, not as a sandbox kill; the
 * filters letting abort() through are test_sandbox's "abort" cases. */
static void
test_abort_logged_as_abort(void **state)
{
	pid_t front, np;
	int status;

	(void)state;
	if (getenv("OCB_IT_VERBOSE") != NULL)
		skip();		/* the log is on our stderr, not in a file */
	assert_int_equal(it_start(&e, NULL), 0);
	assert_int_equal(it_fake_wait_streams(&e, 1, WAIT_MS), 0);
	np = procfs_role_pid(e.ocb_pid, "netproc");
	front = procfs_role_pid(e.ocb_pid, "front");
	assert_true(np > 0 && front > 0);
	assert_int_equal(kill(np, SIGABRT), 0);
	assert_true(log_has("netproc aborted (SIGABRT", WAIT_MS));
	assert_int_equal(kill(front, SIGABRT), 0);
	status = it_wait(&e, WAIT_MS, NULL);
	assert_int_not_equal(status, 0);
	assert_true(log_has("front aborted (SIGABRT", WAIT_MS));
	assert_false(log_has("sandbox violation", 0));
	it_stop(&e, WAIT_MS, NULL);
}

static void
test_netproc_killed_mid_request(void **state)
{
	Opencode__ServerMessage *r;
	struct wsc w;
	pid_t np, np2 = -1;
	int64_t t0;
	uint64_t rid = 10;
	int ok = 0;

	assert_int_equal(it_start(&e, NULL), 0);
	open_client(&e, &w);
	assert_int_equal(it_fake_wait_streams(&e, 1, WAIT_MS), 0);
	np = procfs_role_pid(e.ocb_pid, "netproc");
	assert_true(np > 0);

	/* A request the upstream never answers is in flight when netproc dies. */
	assert_int_equal(it_fake_mode(&e, "hang"), 0);
	{
		Opencode__ClientMessage m = OPENCODE__CLIENT_MESSAGE__INIT;
		Opencode__ListSessionsRequest ls =
		    OPENCODE__LIST_SESSIONS_REQUEST__INIT;

		m.request_id = 2;
		m.payload_case = OPENCODE__CLIENT_MESSAGE__PAYLOAD_LIST_SESSIONS;
		m.list_sessions = &ls;
		assert_int_equal(wsc_send_msg(&w, &m, WAIT_MS), 0);
	}
	usleep(300 * 1000);
	t0 = it_now_ms();
	assert_int_equal(kill(np, SIGKILL), 0);
	r = wsc_recv_reply(&w, 2, WAIT_MS);
	assert_non_null(r);
	assert_int_equal(r->payload_case, OPENCODE__SERVER_MESSAGE__PAYLOAD_ERROR);
	/* At once: after the request timeout it would be UPSTREAM_TIMEOUT. */
	assert_string_equal(r->error->code, "UPSTREAM_UNAVAILABLE");
	wsc_msg_free(r);
	assert_int_equal(it_fake_mode(&e, "normal"), 0);

	/* The same WebSocket works again once the new netproc is attached
	 * (the first restart comes within 500 ms). */
	while (it_now_ms() - t0 < WAIT_MS && !ok) {
		r = list_sessions(&w, rid++);
		assert_non_null(r);
		if (r->payload_case ==
		    OPENCODE__SERVER_MESSAGE__PAYLOAD_SESSION_LIST) {
			assert_int_equal(r->session_list->n_sessions, 12);
			ok = 1;
		} else {
			assert_int_equal(r->payload_case,
			    OPENCODE__SERVER_MESSAGE__PAYLOAD_ERROR);
			assert_string_equal(r->error->code,
			    "UPSTREAM_UNAVAILABLE");
			usleep(50 * 1000);
		}
		wsc_msg_free(r);
	}
	assert_true(ok);
	np2 = procfs_role_pid(e.ocb_pid, "netproc");
	assert_true(np2 > 0 && np2 != np);
	if (sandboxed) {
		assert_int_equal(procfs_status(np2, "NoNewPrivs"), 1);
		/* Its own filter on top of the spawner's. */
		assert_int_equal(procfs_status(np2, "Seccomp"), 2);
#ifdef __linux__
		assert_int_equal(procfs_status(np2, "Seccomp_filters"), 2);
#endif
	}
	wsc_close(&w);
	assert_int_equal(it_stop(&e, WAIT_MS, NULL), 0);
}

static void
test_front_death_ends_ocbroker(void **state)
{
	pid_t front;
	int status;

	assert_int_equal(it_start(&e, NULL), 0);
	front = procfs_role_pid(e.ocb_pid, "front");
	assert_true(front > 0);
	assert_int_equal(kill(front, SIGKILL), 0);
	status = it_wait(&e, WAIT_MS, NULL);
	/* Non-zero: the supervising app must see that ocbroker is gone. */
	assert_int_not_equal(status, 0);
	assert_int_not_equal(status, -1);
	it_stop(&e, WAIT_MS, NULL);
}

/* ---- https upstream ---- */

static const char tls_server_py[] =
"import http.server, ssl, sys\n"
"class H(http.server.BaseHTTPRequestHandler):\n"
"    protocol_version = 'HTTP/1.1'\n"
"    def do_GET(self):\n"
"        if self.path == '/global/health':\n"
"            b = b'{\"healthy\":true,\"version\":\"tls-test\"}'\n"
"            self.send_response(200)\n"
"            self.send_header('Content-Type', 'application/json')\n"
"        else:\n"
"            b = b'{\"name\":\"NotFoundError\",\"data\":{}}'\n"
"            self.send_response(404)\n"
"            self.send_header('Content-Type', 'application/json')\n"
"        self.send_header('Content-Length', str(len(b)))\n"
"        self.end_headers()\n"
"        self.wfile.write(b)\n"
"    def log_message(self, *a):\n"
"        pass\n"
"srv = http.server.ThreadingHTTPServer(('127.0.0.1', 0), H)\n"
"ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)\n"
"ctx.load_cert_chain(sys.argv[1], sys.argv[2])\n"
"srv.socket = ctx.wrap_socket(srv.socket, server_side=True)\n"
"print(srv.server_address[1], flush=True)\n"
"srv.serve_forever()\n";

struct tls_fixture {
	char	 dir[64];
	char	 ca[128];
	pid_t	 server;
	unsigned port;
};

/* File-level, as e is: every test gets e as its state. */
static struct tls_fixture tls;

/* Runs argv in dir, quietly, without a shell; 0 when it exits 0. */
static int
run(const char *dir, char *const argv[])
{
	pid_t pid;
	int st, null;

	if ((pid = fork()) == -1)
		return -1;
	if (pid == 0) {
		if ((null = open("/dev/null", O_WRONLY)) != -1) {
			dup2(null, STDOUT_FILENO);
			dup2(null, STDERR_FILENO);
		}
		if (chdir(dir) == -1)
			_exit(127);
		execvp(argv[0], argv);
		_exit(127);
	}
	if (waitpid(pid, &st, 0) == -1)
		return -1;
	return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1;
}

/* The files the fixture makes, removed at the end. */
static const char *const tls_files[] = {
	"ca.key", "ca.pem", "ca.srl", "server.key", "server.csr", "server.pem",
	"ext.cnf", "server.py",
};

static int
tls_setup(void **state)
{
	char script[128], cert[128], key[128], ext[128];
	char *const ca_req[] = { "openssl", "req", "-x509", "-newkey", "ec",
	    "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "ca.key",
	    "-out", "ca.pem", "-days", "1", "-subj", "/CN=ocb-test-ca", NULL };
	char *const srv_req[] = { "openssl", "req", "-newkey", "ec",
	    "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout",
	    "server.key", "-out", "server.csr", "-subj", "/CN=127.0.0.1", NULL };
	char *const srv_sign[] = { "openssl", "x509", "-req", "-in", "server.csr",
	    "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-out",
	    "server.pem", "-days", "1", "-extfile", "ext.cnf", NULL };
	int out[2];
	FILE *fp;

	snprintf(tls.dir, sizeof(tls.dir), "/tmp/ocb-tls.XXXXXX");
	if (mkdtemp(tls.dir) == NULL)
		return -1;
	snprintf(tls.ca, sizeof(tls.ca), "%s/ca.pem", tls.dir);
	snprintf(cert, sizeof(cert), "%s/server.pem", tls.dir);
	snprintf(key, sizeof(key), "%s/server.key", tls.dir);
	/* A CA made now, and a server certificate for 127.0.0.1 it signed. */
	snprintf(ext, sizeof(ext), "%s/ext.cnf", tls.dir);
	if ((fp = fopen(ext, "w")) == NULL)
		return -1;
	fputs("subjectAltName=IP:127.0.0.1\n", fp);
	fclose(fp);
	if (run(tls.dir, ca_req) == -1 || run(tls.dir, srv_req) == -1 ||
	    run(tls.dir, srv_sign) == -1)
		return -1;
	snprintf(script, sizeof(script), "%s/server.py", tls.dir);
	if ((fp = fopen(script, "w")) == NULL)
		return -1;
	fputs(tls_server_py, fp);
	fclose(fp);
	if (pipe(out) == -1)
		return -1;
	if ((tls.server = fork()) == 0) {
		dup2(out[1], STDOUT_FILENO);
		close(out[0]);
		execlp("python3", "python3", script, cert, key, (char *)NULL);
		_exit(127);
	}
	close(out[1]);
	if ((fp = fdopen(out[0], "r")) == NULL ||
	    fscanf(fp, "%u", &tls.port) != 1)
		return -1;
	fclose(fp);
	/* No group state: cmocka would give it to every test instead of
	 * their prestate (e). */
	(void)state;
	return 0;
}

static int
tls_teardown(void **state)
{
	struct tls_fixture *t = &tls;
	char path[512];

	(void)state;
	if (t->dir[0] == '\0')
		return 0;
	if (t->server > 0) {
		kill(t->server, SIGTERM);
		waitpid(t->server, NULL, 0);
	}
	for (size_t i = 0; i < sizeof(tls_files) / sizeof(tls_files[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", t->dir, tls_files[i]);
		unlink(path);
	}
	return rmdir(t->dir);
}

static void
tls_run(struct tls_fixture *t, int with_ca)
{
	char url[64];
	const char *args[5];
	struct it_opts o;
	struct wsc w;
	Opencode__ServerMessage *r;
	pid_t np;

	snprintf(url, sizeof(url), "https://127.0.0.1:%u", t->port);
	args[0] = "--upstream";
	args[1] = url;
	args[2] = with_ca ? "--upstream-ca" : NULL;
	args[3] = with_ca ? t->ca : NULL;
	args[4] = NULL;
	memset(&o, 0, sizeof(o));
	o.ocb_args = args;
	assert_int_equal(it_start(&e, &o), 0);
	open_client(&e, &w);
	np = procfs_wait_role(e.ocb_pid, "netproc", WAIT_MS);
	r = health(&w, 5);
	assert_non_null(r);
	if (with_ca) {
		assert_int_equal(r->payload_case,
		    OPENCODE__SERVER_MESSAGE__PAYLOAD_UPSTREAM_HEALTH);
		assert_true(r->upstream_health->healthy);
		assert_string_equal(r->upstream_health->version, "tls-test");
	} else {
		/* The system bundle does not know the test CA: an error
		 * reply, not a dead netproc. */
		assert_int_equal(r->payload_case,
		    OPENCODE__SERVER_MESSAGE__PAYLOAD_ERROR);
		assert_string_equal(r->error->code, "UPSTREAM_ERROR");
		assert_non_null(strstr(r->error->message, "TLS"));
	}
	wsc_msg_free(r);
	/* The same netproc is still there. */
	assert_int_equal(procfs_role_pid(e.ocb_pid, "netproc"), np);
	wsc_close(&w);
	assert_int_equal(it_stop(&e, WAIT_MS, NULL), 0);
}

static void
test_https_upstream_verified(void **state)
{
	(void)state;
	tls_run(&tls, 1);
}

static void
test_https_upstream_unknown_ca(void **state)
{
	(void)state;
	tls_run(&tls, 0);
}

/* Each test gets e, stopped after it should a failure leave it running. */
#define STOPPED(t) cmocka_unit_test_prestate_setup_teardown(t, NULL, \
	    it_stop_running, &e)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		STOPPED(test_every_process_is_confined),
		STOPPED(test_children_stdio_is_devnull),
		STOPPED(test_libcurl_in_netproc_only),
		STOPPED(test_children_environment),
		STOPPED(test_abort_logged_as_abort),
		STOPPED(test_capabilities),
		STOPPED(test_launcher_fds_closed),
		STOPPED(test_netproc_killed_mid_request),
		STOPPED(test_front_death_ends_ocbroker),
		STOPPED(test_https_upstream_verified),
		STOPPED(test_https_upstream_unknown_ca),
	};
	int rc;

	if ((sandboxed = it_sandboxed()) == 0)
		fprintf(stderr, "test_supervision: sanitizer build: sandbox OFF\n");
	signal(SIGPIPE, SIG_IGN);
	rc = cmocka_run_group_tests(tests, tls_setup, tls_teardown);
	it_logdir_remove();
	return rc;
}
