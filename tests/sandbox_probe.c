/*
 * Copyright (c) 2026 The ocbroker authors
 * SPDX-License-Identifier: ISC (the licence is in the file LICENSE)
 */

/*
 * sandbox_probe ROLE ACTION: enters ROLE's sandbox (sandbox_enter) and then
 * tries ACTION, for tests/test_sandbox.c.
 *
 * It prints one line saying what happened and exits 0 when the call
 * succeeded, with the errno when it failed (EACCES for a soft-denied stat,
 * ENOSYS for clone3), and dies of SIGSYS when the filter kills it.  Whatever
 * an action needs besides the call under test (a socket to connect, a
 * listener with a client waiting, /proc/self/status) is set up before the
 * sandbox goes on, so that only the call under test meets the filter.
 *
 *	ROLE	parent | spawner | front | netproc
 *	ACTION	status | nothing | socket-inet | socket-inet6 | socket-udp |
 *		socket-raw | socket-unix | socketpair |
 *		connect | bind | listen | accept | open | open-write | execve |
 *		fork | fork-sibling | thread | mmap-exec | stat | fstat |
 *		clone3 | ptrace | stacked | privdrop | abort | stacked-abort |
 *		kill | pidfd-signal
 *
 * `sandbox_probe describe` prints the seccomp allowlists as markdown, for
 * doc/sandbox.md.
 *
 * "fork-sibling" is clone(CLONE_PARENT | SIGCHLD), as the spawner starts a
 * netproc (the child is our parent's; it exits at once).
 * "stacked" re-executes the probe as `netproc status` under ROLE's filter, as
 * the spawner starts netproc: the loader and the child's set-up run under
 * the inherited filter, and the child shows two filters.  "abort" calls
 * abort(3), which must end in SIGABRT, not in a sandbox kill; "stacked-abort"
 * does so in `netproc abort` re-executed under ROLE's filter, as in a netproc
 * the spawner started.  "kill" is kill(2) with SIGTERM on ourselves (death
 * by SIGTERM when allowed); "pidfd-signal" sends SIGTERM to a child of ours
 * through its pidfd, as the parent signals its children.  "privdrop" drops to
 * nobody in SANDBOX_CHROOT_DIR first, as a child started by root does (exit
 * 77 when not root).
 */
#include "config.h"

#include <sys/types.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "sandbox/sandbox.h"

#define PROBE_SKIP		77	/* automake's "skipped" */
#define PROBE_SETUP_FAILED	125	/* not the call under test */

struct probe {
	const char	*action;
	int		 status_fd;	/* /proc/self/status, opened before */
	int		 sock;		/* an unbound TCP socket */
	int		 bound;		/* a TCP socket bound to 127.0.0.1:0 */
	int		 listener;	/* listening on 127.0.0.1:lsin */
	int		 client;	/* connected to listener (accept) */
	int		 pidfd;		/* of a child that waits (pidfd-signal) */
	struct sockaddr_in lsin;
};

static const char *const actions[] = {
	"status", "nothing", "socket-inet", "socket-inet6", "socket-udp",
	"socket-raw", "socket-unix", "socketpair",
	"connect", "bind", "listen", "accept", "open", "open-write", "execve",
	"fork", "fork-sibling", "thread", "mmap-exec", "stat", "fstat",
	"clone3", "ptrace", "stacked", "privdrop", "abort", "stacked-abort",
	"kill", "pidfd-signal",
};

static int
is(const struct probe *p, const char *action)
{
	return strcmp(p->action, action) == 0;
}

static void *
thread_main(void *arg)
{
	return arg;
}

/* One write(2) per line: glibc's stdio would fstat() stdout on first use,
 * which the children's filters answer with EACCES. */
static void
say(const char *line)
{
	(void)!write(STDOUT_FILENO, line, strlen(line));
}

static int
report(const struct probe *p, int rc)
{
	char line[256];
	int e = errno;

	if (rc == 0)
		snprintf(line, sizeof(line), "%s: ok\n", p->action);
	else
		snprintf(line, sizeof(line), "%s: failed: %s (errno %d)\n",
		    p->action, strerror(e), e);
	say(line);
	if (rc == 0)
		return 0;
	return e > 0 && e < PROBE_SKIP ? e : PROBE_SETUP_FAILED - 1;
}

static int
tcp_socket(void)
{
	return socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
}

static int
bind_loopback(int fd, struct sockaddr_in *sin)
{
	socklen_t len = sizeof(*sin);

	memset(sin, 0, sizeof(*sin));
	sin->sin_family = AF_INET;
	sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *)sin, sizeof(*sin)) == -1)
		return -1;
	return getsockname(fd, (struct sockaddr *)sin, &len);
}

/* Only what this action needs, so that an exec'd probe ("stacked") does
 * nothing its inherited filter would not let a real child do. */
static int
setup(struct probe *p)
{
	struct sockaddr_in sin;

	p->status_fd = p->sock = p->bound = p->listener = p->client = -1;
	p->pidfd = -1;
	if (is(p, "pidfd-signal")) {
		pid_t self = getpid(), kid = fork();

		if (kid == -1)
			return -1;
		if (kid == 0) {
			/* Not holding test_sandbox's pipe, and gone with us
			 * whatever the filter does to us (also when we died
			 * before the prctl). */
			close(STDOUT_FILENO);
			close(STDERR_FILENO);
			if (prctl(PR_SET_PDEATHSIG, SIGKILL) == -1 ||
			    getppid() != self)
				_exit(0);
			pause();
			_exit(0);
		}
		if ((p->pidfd = (int)syscall(SYS_pidfd_open, kid, 0)) == -1)
			return -1;
	}
	if (is(p, "status") &&
	    (p->status_fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC)) == -1)
		return -1;
	if ((is(p, "connect") || is(p, "bind")) &&
	    (p->sock = tcp_socket()) == -1)
		return -1;
	if (is(p, "listen") && ((p->bound = tcp_socket()) == -1 ||
	    bind_loopback(p->bound, &sin) == -1))
		return -1;
	if (is(p, "connect") || is(p, "accept")) {
		if ((p->listener = tcp_socket()) == -1 ||
		    bind_loopback(p->listener, &p->lsin) == -1 ||
		    listen(p->listener, 4) == -1)
			return -1;
	}
	if (is(p, "accept") && ((p->client = tcp_socket()) == -1 ||
	    connect(p->client, (struct sockaddr *)&p->lsin,
	    sizeof(p->lsin)) == -1))
		return -1;
	return 0;
}

/* As a child started by root does it, before its sandbox_enter. */
static int
privdrop(void)
{
	struct dirent *de;
	struct stat st;
	uid_t uid;
	gid_t gid;
	DIR *d;

	if (sandbox_user_lookup("nobody", &uid, &gid) == -1 ||
	    sandbox_chroot_prepare(SANDBOX_CHROOT_DIR) == -1 ||
	    sandbox_drop_privileges(SANDBOX_CHROOT_DIR, uid, gid) == -1)
		return -1;
	if (getuid() != uid || geteuid() != uid || getgid() != gid) {
		fprintf(stderr, "sandbox_probe: still running as %ld\n",
		    (long)geteuid());
		return -1;
	}
	/* The new root is the empty directory. */
	if (stat("/etc/passwd", &st) != -1 || errno != ENOENT) {
		fprintf(stderr, "sandbox_probe: /etc/passwd is visible\n");
		return -1;
	}
	if ((d = opendir("/")) == NULL)
		return 0;	/* 0700 root: not even listable, fine */
	while ((de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0) {
			fprintf(stderr, "sandbox_probe: the root is not empty\n");
			closedir(d);
			return -1;
		}
	closedir(d);
	return 0;
}

static int
print_status(int fd)
{
	char buf[8192], *line, *save = NULL;
	ssize_t n;

	/* procfs builds the text when it is read: this is the state now,
	 * inside the sandbox, although the file was opened before. */
	if ((n = read(fd, buf, sizeof(buf) - 1)) <= 0)
		return -1;
	buf[n] = '\0';
	for (line = strtok_r(buf, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save)) {
		if (strncmp(line, "Seccomp:", 8) == 0 ||
		    strncmp(line, "Seccomp_filters:", 16) == 0 ||
		    strncmp(line, "NoNewPrivs:", 11) == 0) {
			say(line);
			say("\n");
		}
	}
	return 0;
}

static int
run(struct probe *p)
{
	struct sockaddr_in sin;
	struct stat st;
	pthread_t t;
	pid_t pid;
	void *m;
	int sv[2], status, rc;

	if (is(p, "nothing") || is(p, "privdrop"))
		return report(p, 0);
	if (is(p, "status"))
		return report(p, print_status(p->status_fd));
	if (is(p, "socket-inet"))
		return report(p, socket(AF_INET, SOCK_STREAM, 0) == -1 ? -1 : 0);
	if (is(p, "socket-inet6"))
		return report(p, socket(AF_INET6, SOCK_STREAM | SOCK_NONBLOCK,
		    IPPROTO_TCP) == -1 ? -1 : 0);
	if (is(p, "socket-udp"))
		return report(p, socket(AF_INET, SOCK_DGRAM, 0) == -1 ? -1 : 0);
	if (is(p, "socket-raw"))
		return report(p, socket(AF_INET, SOCK_RAW, IPPROTO_ICMP) == -1 ?
		    -1 : 0);
	if (is(p, "socket-unix"))
		return report(p, socket(AF_UNIX, SOCK_STREAM, 0) == -1 ? -1 : 0);
	if (is(p, "socketpair"))
		return report(p, socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
	if (is(p, "connect"))
		return report(p, connect(p->sock, (struct sockaddr *)&p->lsin,
		    sizeof(p->lsin)));
	if (is(p, "bind")) {
		memset(&sin, 0, sizeof(sin));
		sin.sin_family = AF_INET;
		sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		return report(p, bind(p->sock, (struct sockaddr *)&sin,
		    sizeof(sin)));
	}
	if (is(p, "listen"))
		return report(p, listen(p->bound, 1));
	if (is(p, "accept"))
		return report(p, accept4(p->listener, NULL, NULL,
		    SOCK_CLOEXEC) == -1 ? -1 : 0);
	if (is(p, "open"))
		return report(p, open("/etc/passwd", O_RDONLY | O_CLOEXEC) == -1 ?
		    -1 : 0);
	if (is(p, "open-write"))
		return report(p, open("/dev/null", O_WRONLY | O_CLOEXEC) == -1 ?
		    -1 : 0);
	if (is(p, "stat"))
		return report(p, stat("/", &st));
	if (is(p, "fstat"))
		return report(p, fstat(STDERR_FILENO, &st));
	if (is(p, "clone3")) {
		/* A size of 0 is invalid: were clone3 ever let through, it
		 * would fail with EINVAL and create nothing. */
		rc = (int)syscall(SYS_clone3, NULL, 0);
		return report(p, rc == -1 ? -1 : 0);
	}
	if (is(p, "mmap-exec")) {
		m = mmap(NULL, 4096, PROT_READ | PROT_EXEC,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		return report(p, m == MAP_FAILED ? -1 : 0);
	}
	if (is(p, "fork")) {
		if ((pid = fork()) == -1)
			return report(p, -1);
		if (pid == 0)
			_exit(0);
		if (waitpid(pid, &status, 0) == -1)
			return report(p, -1);
		return report(p, 0);
	}
	if (is(p, "fork-sibling")) {
		/* Our parent (test_sandbox) reaps it, not us. */
		pid = (pid_t)syscall(SYS_clone, (unsigned long)(CLONE_PARENT |
		    SIGCHLD), 0UL, 0UL, 0UL, 0UL);
		if (pid == 0)
			_exit(0);
		return report(p, pid == -1 ? -1 : 0);
	}
	if (is(p, "thread")) {
		if ((rc = pthread_create(&t, NULL, thread_main, NULL)) != 0) {
			errno = rc;
			return report(p, -1);
		}
		pthread_join(t, NULL);
		return report(p, 0);
	}
	if (is(p, "abort"))
		abort();
	if (is(p, "kill"))
		return report(p, kill(getpid(), SIGTERM));
	if (is(p, "pidfd-signal"))
		return report(p, (int)syscall(SYS_pidfd_send_signal, p->pidfd,
		    SIGTERM, NULL, 0));
	if (is(p, "execve") || is(p, "stacked") || is(p, "stacked-abort")) {
		/* Our own image again, as the spawner starting netproc. */
		char *exec_child[] = { (char *)"sandbox_probe",
		    (char *)"exec-child", NULL };
		char *netproc_status[] = { (char *)"sandbox_probe",
		    (char *)"netproc", (char *)"status", NULL };
		char *netproc_abort[] = { (char *)"sandbox_probe",
		    (char *)"netproc", (char *)"abort", NULL };
		char *envp[] = { NULL };

		execve("/proc/self/exe", is(p, "execve") ? exec_child :
		    is(p, "stacked") ? netproc_status : netproc_abort, envp);
		return report(p, -1);
	}
	if (is(p, "ptrace"))
		return report(p, (int)ptrace(PTRACE_TRACEME, 0, NULL, NULL));
	return PROBE_SETUP_FAILED;	/* checked in main */
}

int
main(int argc, char **argv)
{
	static const struct {
		const char		*name;
		enum sandbox_role	 role;
	} roles[] = {
		{ "parent",	SANDBOX_PARENT },
		{ "spawner",	SANDBOX_SPAWNER },
		{ "front",	SANDBOX_FRONT },
		{ "netproc",	SANDBOX_NETPROC },
	};
	struct probe p;
	size_t i, a;

	/* What "execve" starts: a fresh image under the inherited filter,
	 * through the dynamic loader. */
	if (argc == 2 && strcmp(argv[1], "exec-child") == 0)
		return 0;
	/* doc/sandbox.md's tables, from the filter's own table. */
	if (argc == 2 && strcmp(argv[1], "describe") == 0) {
#ifdef SANDBOX_SECCOMP
		return sandbox_seccomp_describe(stdout) == 0 &&
		    fflush(stdout) == 0 ? 0 : 1;
#else
		fprintf(stderr, "sandbox_probe: not a seccomp build\n");
		return PROBE_SKIP;
#endif
	}
	if (argc != 3) {
		fprintf(stderr, "usage: sandbox_probe parent|spawner|front|netproc "
		    "ACTION\n       sandbox_probe describe\n");
		return PROBE_SETUP_FAILED;
	}
	for (i = 0; i < sizeof(roles) / sizeof(roles[0]); i++)
		if (strcmp(argv[1], roles[i].name) == 0)
			break;
	for (a = 0; a < sizeof(actions) / sizeof(actions[0]); a++)
		if (strcmp(argv[2], actions[a]) == 0)
			break;
	if (i == sizeof(roles) / sizeof(roles[0]) ||
	    a == sizeof(actions) / sizeof(actions[0])) {
		fprintf(stderr, "sandbox_probe: unknown role or action\n");
		return PROBE_SETUP_FAILED;
	}
	memset(&p, 0, sizeof(p));
	p.action = actions[a];
	log_init("sandbox_probe", LOG_LEVEL_WARN, 0);
	if (!sandbox_available()) {
		fprintf(stderr, "sandbox_probe: no sandbox backend (%s)\n",
		    sandbox_backend());
		return PROBE_SKIP;
	}
	if (is(&p, "privdrop") && geteuid() != 0) {
		fprintf(stderr, "sandbox_probe: privdrop needs root\n");
		return PROBE_SKIP;
	}
	if (setup(&p) == -1) {
		perror("sandbox_probe: setup");
		return PROBE_SETUP_FAILED;
	}
	if (is(&p, "privdrop") && privdrop() == -1)
		return PROBE_SETUP_FAILED;
	if (sandbox_enter(roles[i].role) == -1) {
		perror("sandbox_probe: sandbox_enter");
		return PROBE_SETUP_FAILED;
	}
	/* _exit: there is nothing in stdio to flush, and atexit handlers
	 * are not under test. */
	_exit(run(&p));
}
