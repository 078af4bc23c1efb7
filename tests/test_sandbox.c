/*
 * Copyright (c) 2026 The ocbroker authors
 * SPDX-License-Identifier: ISC (the licence is in the file LICENSE)
 */

/*
 * The filters are tested: every role is run through tests/sandbox_probe
 * (path in $SANDBOX_PROBE), one action per process, and must be killed by
 * SIGSYS on the calls it may not make, get the named soft denial (stat ->
 * EACCES, clone3 -> ENOSYS) and be able to make the calls it needs.
 *
 * Skipped when this build has no sandbox backend, when the machine cannot
 * confine, or when SANDBOX_PROBE is not set.  A last case checks that the
 * tables in doc/sandbox.md are the filter's own (`sandbox_probe describe`);
 * the document is found through $SANDBOX_DOC, or next to $OCB_FIXTURES.  The privilege drop case runs
 * only as root.  A debug build (--enable-seccomp-debug) passes too: its
 * SIGSYS handler ends the process with SIGSYS after naming the call.
 */
#include "config.h"

#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/log.h"
#include "sandbox/sandbox.h"

#define PROBE_SKIP	77
#define OUT_MAX		4096
#define DESCRIBE_MAX	(64 * 1024)
#define DOC_BEGIN	"<!-- BEGIN sandbox_probe describe -->\n"
#define DOC_END		"<!-- END sandbox_probe describe -->"

enum outcome {
	NONE,		/* not run in that role */
	OK,		/* the call succeeded, exit 0 */
	KILLED,		/* SIGSYS */
	DENIED,		/* soft denial: exit status is the errno */
	SKIPPED,	/* exit 77 is fine (privdrop when not root) */
	ABORTED,	/* SIGABRT: abort() is a crash, not a sandbox kill */
};

struct want {
	enum outcome	 outcome;
	int		 err;		/* DENIED */
};

/* The cells of the table below. */
#define Y	{ OK, 0 }
#define K	{ KILLED, 0 }
#define EA	{ DENIED, EACCES }
#define NS	{ DENIED, ENOSYS }
#define AB	{ ABORTED, 0 }
#define SK	{ SKIPPED, 0 }
#define NA	{ NONE, 0 }
#define ROW(action, f, n, p, s) \
	{ action, { f, n, p, s }, { NULL } }
#define ROW_OUT(action, f, n, p, s, o1, o2, o3) \
	{ action, { f, n, p, s }, { o1, o2, o3 } }

static const char *const roles[] = { "front", "netproc", "parent", "spawner" };
#define N_ROLES		(sizeof(roles) / sizeof(roles[0]))

struct action {
	const char	*action;
	struct want	 in[N_ROLES];	/* in the order of roles[] */
	const char	*expect_out[3];	/* lines stdout must contain (OK) */
};

/*
 * What each role may do (doc/sandbox.md):
 * - every role: the filter is on, NO_NEW_PRIVS is set ("status");
 * - front: accept on its listener, and nothing of the rest;
 * - netproc: TCP over IPv4/IPv6 out, nothing else;
 * - parent: supervision only (wait, kill, descriptors over SCM_RIGHTS, its
 *   epoll loop): no process, no socket, no open, no exec.  The spawner
 *   starts netprocs.  socket(AF_UNIX) is a soft denial (syslog(3)
 *   reconnecting), and so is fstat() (stdio);
 * - spawner: starts netprocs (socketpair, clone(CLONE_PARENT) + exec of our
 *   own binary, read-only opens for the loader), never a server socket, a
 *   child of its own, a thread, a write-open or ptrace.
 *   socket(AF_INET/AF_INET6) (TCP, and UDP for getaddrinfo) and connect are
 *   allowed only because every netproc starts under this filter (see
 *   doc/sandbox.md); socket(AF_UNIX) is a soft denial.
 */
static const struct action actions[] = {
	/*  action		front	netproc	parent	spawner */
	ROW_OUT("status",	Y,	Y,	Y,	Y,
	    "Seccomp:\t2", "NoNewPrivs:\t1", NULL),
	ROW("nothing",		Y,	Y,	Y,	Y),
	ROW("accept",		Y,	K,	K,	K),
	ROW("socket-inet",	K,	Y,	K,	Y),
	ROW("socket-inet6",	K,	Y,	K,	Y),
	ROW("socket-udp",	K,	K,	K,	Y),
	ROW("socket-raw",	K,	K,	K,	K),
	ROW("socket-unix",	K,	K,	EA,	EA),
	ROW("socketpair",	K,	K,	K,	Y),
	ROW("connect",		K,	Y,	K,	Y),
	ROW("bind",		K,	K,	K,	K),
	ROW("listen",		K,	K,	K,	K),
	ROW("open",		K,	K,	K,	Y),
	ROW("open-write",	K,	K,	K,	K),
	ROW("execve",		K,	K,	K,	Y),
	ROW("fork",		K,	K,	K,	K),
	ROW("fork-sibling",	K,	K,	K,	Y),
	ROW("kill",		K,	K,	K,	K),
	ROW("pidfd-signal",	K,	K,	Y,	K),
	ROW("thread",		K,	K,	K,	K),
	ROW("mmap-exec",	K,	K,	K,	Y),
	ROW("ptrace",		K,	K,	K,	K),
	ROW("stat",		EA,	EA,	EA,	EA),
	ROW("fstat",		EA,	EA,	EA,	Y),
	ROW("clone3",		NS,	NS,	NS,	NS),
	/* A netproc started by the spawner: the loader and its set-up run
	 * under the spawner's filter, then its own goes on top. */
	ROW_OUT("stacked",	NA,	NA,	K,	Y,
	    "Seccomp:\t2", "Seccomp_filters:\t2", "NoNewPrivs:\t1"),
	/* abort() in any role ends in SIGABRT (glibc's raise() calls gettid
	 * and tgkill), netproc's too under the spawner's filter. */
	ROW("abort",		AB,	AB,	AB,	AB),
	ROW("stacked-abort",	NA,	NA,	NA,	AB),
	/* Started as root: chroot + nobody, then the filter. */
	ROW("privdrop",		SK,	SK,	NA,	NA),
};

#define N_ACTIONS	(sizeof(actions) / sizeof(actions[0]))

/* One cell of the table: a cmocka test. */
struct tcase {
	char		 name[64];	/* "role action" */
	const char	*role;
	const char	*action;
	enum outcome	 want;
	int		 err;		/* DENIED */
	const char *const *expect_out;
};

/* Runs the probe with one or two arguments; *status is waitpid's, out
 * gets its stdout. */
static void
run_probe_args(const char *probe, const char *arg1, const char *arg2,
    int *status, char *out, size_t outlen)
{
	size_t used = 0;
	ssize_t n;
	pid_t pid;
	int pfd[2];

	assert_int_equal(pipe(pfd), 0);
	pid = fork();
	assert_true(pid != -1);
	if (pid == 0) {
		close(pfd[0]);
		if (dup2(pfd[1], STDOUT_FILENO) == -1)
			_exit(126);
		execl(probe, "sandbox_probe", arg1, arg2, (char *)NULL);
		_exit(126);
	}
	close(pfd[1]);
	/* Read to EOF; what does not fit is dropped, never left to block
	 * the probe on a full pipe. */
	for (;;) {
		char scratch[512];
		int full = used >= outlen - 1;

		n = read(pfd[0], full ? scratch : out + used,
		    full ? sizeof(scratch) : outlen - 1 - used);
		if (n == -1 && errno == EINTR)
			continue;
		assert_true(n >= 0);
		if (n == 0)
			break;
		if (!full)
			used += (size_t)n;
	}
	out[used] = '\0';
	close(pfd[0]);
	while (waitpid(pid, status, 0) == -1)
		assert_int_equal(errno, EINTR);
}

static void
run_probe(const char *probe, const struct tcase *tc, int *status, char *out,
    size_t outlen)
{
	run_probe_args(probe, tc->role, tc->action, status, out, outlen);
}

static void
test_probe(void **state)
{
	const struct tcase *tc = *state;
	const char *probe = getenv("SANDBOX_PROBE");
	char out[OUT_MAX];
	int status;

	if (probe == NULL || *probe == '\0') {
		print_message("SANDBOX_PROBE is not set\n");
		skip();
	}
	if (!sandbox_available()) {
		print_message("no sandbox backend here (%s)\n",
		    sandbox_backend());
		skip();
	}
	run_probe(probe, tc, &status, out, sizeof(out));

	switch (tc->want) {
	case NONE:
		fail_msg("%s: not a case", tc->name);
		break;
	case KILLED:
		if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGSYS)
			fail_msg("%s: expected death by SIGSYS, got status "
			    "0x%x, output: %s", tc->name, status, out);
		break;
	case ABORTED:
		if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGABRT)
			fail_msg("%s: expected death by SIGABRT, got status "
			    "0x%x, output: %s", tc->name, status, out);
		break;
	case DENIED:
		if (!WIFEXITED(status) || WEXITSTATUS(status) != tc->err)
			fail_msg("%s: expected errno %d (%s), got status 0x%x, "
			    "output: %s", tc->name, tc->err, strerror(tc->err),
			    status, out);
		break;
	case SKIPPED:
		if (WIFEXITED(status) && WEXITSTATUS(status) == PROBE_SKIP) {
			print_message("%s: needs root\n", tc->name);
			skip();
		}
		/* FALLTHROUGH */
	case OK:
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
			fail_msg("%s: expected success, got status 0x%x, "
			    "output: %s", tc->name, status, out);
		for (size_t i = 0; i < 3 && tc->expect_out[i] != NULL; i++)
			if (strstr(out, tc->expect_out[i]) == NULL)
				fail_msg("%s: no \"%s\" in the output: %s",
				    tc->name, tc->expect_out[i], out);
		break;
	}
}

/* doc/sandbox.md shows the tables the filter is built from, verbatim. */
static void
test_doc_in_sync(void **state)
{
	const char *probe = getenv("SANDBOX_PROBE");
	const char *doc = getenv("SANDBOX_DOC");
	const char *fixtures = getenv("OCB_FIXTURES");
	static char out[DESCRIBE_MAX], text[4 * DESCRIBE_MAX];
	char path[4096];
	const char *begin, *end = NULL;
	size_t n;
	FILE *fp;
	int status;

	(void)state;
	if (probe == NULL || *probe == '\0') {
		print_message("SANDBOX_PROBE is not set\n");
		skip();
	}
	if (doc == NULL && fixtures != NULL) {
		snprintf(path, sizeof(path), "%s/../../doc/sandbox.md", fixtures);
		doc = path;
	}
	if (doc == NULL) {
		print_message("neither SANDBOX_DOC nor OCB_FIXTURES is set\n");
		skip();
	}
	run_probe_args(probe, "describe", NULL, &status, out, sizeof(out));
	if (WIFEXITED(status) && WEXITSTATUS(status) == PROBE_SKIP) {
		print_message("not a seccomp build\n");
		skip();
	}
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	if ((fp = fopen(doc, "r")) == NULL) {
		fail_msg("%s: %s", doc, strerror(errno));
		return;
	}
	n = fread(text, 1, sizeof(text) - 1, fp);
	fclose(fp);
	text[n] = '\0';
	if ((begin = strstr(text, DOC_BEGIN)) == NULL ||
	    (end = strstr(begin, DOC_END)) == NULL) {
		fail_msg("%s: no \"%s\" section", doc, "sandbox_probe describe");
		return;
	}
	begin += strlen(DOC_BEGIN);
	if ((size_t)(end - begin) != strlen(out) ||
	    memcmp(begin, out, strlen(out)) != 0)
		fail_msg("%s is out of date: replace the section between the "
		    "BEGIN and END markers with the output of `sandbox_probe "
		    "describe`", doc);
}

/* The privilege drop's refusals, in this process: nothing is changed. */
static void
test_privdrop_refusals(void **state)
{
	uid_t uid;
	gid_t gid;

	(void)state;
	/* Dropping to root drops nothing. */
	assert_int_equal(sandbox_drop_privileges("/", 0, 0), -1);
	assert_int_equal(sandbox_drop_privileges("/", 65534, 0), -1);
	assert_int_equal(sandbox_drop_privileges(NULL, 65534, 65534), -1);
	assert_int_equal(sandbox_drop_privileges("relative", 65534, 65534), -1);
	/* The chroot directory must be absolute, root-owned, closed to
	 * others and empty; "/" is not empty. */
	assert_int_equal(sandbox_chroot_prepare("relative/dir"), -1);
	assert_int_equal(sandbox_chroot_prepare(""), -1);
	assert_int_equal(sandbox_chroot_prepare("/"), -1);
	/* root is uid 0: refused as a --user. */
	assert_int_equal(sandbox_user_lookup("root", &uid, &gid), -1);
	assert_int_equal(sandbox_user_lookup("no-such-user-ocbroker", &uid,
	    &gid), -1);
}

int
main(void)
{
	static struct tcase cases[N_ROLES * N_ACTIONS];
	struct CMUnitTest tests[N_ROLES * N_ACTIONS + 2];
	size_t n = 0;

	log_init("test_sandbox", LOG_LEVEL_ERROR, 0);
#ifdef OCB_SANITIZERS
	/* The sanitizers' runtimes (LeakSanitizer at exit) make calls every
	 * filter rightly kills; the normal builds run these tests. */
	printf("test_sandbox: sanitizer build: SKIP (the sandbox is off here)\n");
	return 77;
#endif
	memset(tests, 0, sizeof(tests));
	for (size_t r = 0; r < N_ROLES; r++)
		for (size_t a = 0; a < N_ACTIONS; a++) {
			const struct want *w = &actions[a].in[r];
			struct tcase *tc = &cases[n];

			if (w->outcome == NONE)
				continue;
			snprintf(tc->name, sizeof(tc->name), "%s %s",
			    roles[r], actions[a].action);
			tc->role = roles[r];
			tc->action = actions[a].action;
			tc->want = w->outcome;
			tc->err = w->err;
			tc->expect_out = actions[a].expect_out;
			tests[n].name = tc->name;
			tests[n].test_func = test_probe;
			tests[n].initial_state = tc;
			n++;
		}
	tests[n].name = "privdrop refusals";
	tests[n].test_func = test_privdrop_refusals;
	n++;
	tests[n].name = "doc/sandbox.md in sync";
	tests[n].test_func = test_doc_in_sync;
	n++;
	return _cmocka_run_group_tests("sandbox", tests, n, NULL, NULL);
}
