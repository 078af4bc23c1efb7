/*
 * Copyright (c) 2026 The ocbroker authors
 * SPDX-License-Identifier: ISC (the licence is in the file LICENSE)
 */

/* Spawning children with a role flag; see proc.h. */
#include "config.h"

#include <sys/types.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "common/proc.h"

#define PROC_ENV_MAX	8

#if defined(__linux__) && !defined(CLONE_PIDFD)
#define CLONE_PIDFD	0x00001000
#endif

/* Only these variables reach a child; the sanitizer ones keep a sanitizer build
 * configurable, TZ keeps log times right.  Nothing else is inherited. */
static const char *const proc_env_keep[] = {
	"TZ", "ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS",
};

/* And these are set in every child.  GnuTLS is there only for libcurl's LDAP
 * and RTMP libraries, which never run (netproc speaks http and https, through
 * OpenSSL): this skips its load-time initialisation (~0.8 MiB of netproc's
 * memory, and its system priority file). */
static const char *const proc_env_set[] = {
	"GNUTLS_NO_IMPLICIT_INIT=1",
};

#define PROC_ENV_NSET	(sizeof(proc_env_set) / sizeof(proc_env_set[0]))

void
proc_closefrom(int lowfd)
{
#if defined(HAVE_CLOSE_RANGE)
	if (close_range((unsigned)lowfd, ~0U, 0) == 0)
		return;
#elif defined(SYS_close_range)
	if (syscall(SYS_close_range, (unsigned)lowfd, ~0U, 0) == 0)
		return;
#endif
	long max = sysconf(_SC_OPEN_MAX);

	if (max < 0 || max > 65536)
		max = 65536;
	for (long fd = lowfd; fd < max; fd++)
		close((int)fd);
}

void
proc_close_except(int lowfd, const int *keep, size_t nkeep)
{
	int next = lowfd;

	/* Ranges between the kept descriptors, in ascending order. */
	for (;;) {
		int k = -1;

		for (size_t i = 0; i < nkeep; i++)
			if (keep[i] >= next && (k == -1 || keep[i] < k))
				k = keep[i];
		if (k == -1)
			break;
		for (int fd = next; fd < k; fd++)
			close(fd);
		next = k + 1;
	}
	proc_closefrom(next);
}

/* The highest of the descriptors a child is given. */
static int
proc_fds_max(const struct proc_fds *fds, int self_fd)
{
	int hi = PROC_EXTRA_FD;

	if (fds->ipc > hi)
		hi = fds->ipc;
	if (fds->null > hi)
		hi = fds->null;
	if (fds->err > hi)
		hi = fds->err;
	if (fds->extra > hi)
		hi = fds->extra;
	if (self_fd > hi)
		hi = self_fd;
	return hi;
}

pid_t
proc_spawn(const char *self, int self_fd, const char *role,
    const struct proc_fds *fds, int flags, int *pidfd)
{
	char *argv[4], *envp[PROC_ENV_MAX + 1];
	size_t nenv = 0;
	pid_t pid;
	int hi, keep;

	*pidfd = -1;
	/* Build everything before fork: the child only dup2s and execs. */
	for (size_t i = 0; i < sizeof(proc_env_keep) / sizeof(proc_env_keep[0]); i++) {
		const char *k = proc_env_keep[i];
		extern char **environ;

		/* An environment may repeat a name: never past envp's end. */
		for (char **e = environ; *e != NULL &&
		    nenv < PROC_ENV_MAX - PROC_ENV_NSET; e++)
			if (strncmp(*e, k, strlen(k)) == 0 && (*e)[strlen(k)] == '=')
				envp[nenv++] = *e;
	}
	for (size_t i = 0; i < PROC_ENV_NSET; i++)
		envp[nenv++] = (char *)proc_env_set[i];
	envp[nenv] = NULL;
	argv[0] = (char *)"ocbroker";
	argv[1] = (char *)PROC_ROLE_FLAG;
	argv[2] = (char *)role;
	argv[3] = NULL;
	hi = proc_fds_max(fds, self_fd);
	if ((flags & PROC_SPAWN_SIBLING) != 0) {
#if defined(__linux__) && defined(SYS_clone) && !defined(__s390__)
		/*
		 * A fork whose child is our parent's: the spawner starts
		 * netprocs so, and the parent reaps them, sees them die
		 * (SIGCHLD, the exit signal passed here) and kills them by pid
		 * as its own children.  A raw clone: glibc's fork() takes no
		 * flags.  The child below only makes plain system calls.
		 * (s390 swaps the first two arguments; not handled.)
		 */
		int pfd = -1;

		/* CLONE_PIDFD: the parent signals it through this descriptor
		 * (its filter has no kill(2)); the kernel writes it to the
		 * third argument. */
		pid = (pid_t)syscall(SYS_clone, (unsigned long)(CLONE_PARENT |
		    CLONE_PIDFD | SIGCHLD), 0UL, (unsigned long)&pfd, 0UL, 0UL);
		if (pid > 0)
			*pidfd = pfd;
#else
		errno = ENOSYS;
		return -1;
#endif
	} else
		pid = fork();
	switch (pid) {
	case -1:
		return -1;
	case 0:
		break;
	default:
#if defined(__linux__) && defined(SYS_pidfd_open)
		/* Our own child, not reaped yet: the pid cannot be reused. */
		if ((flags & PROC_SPAWN_SIBLING) == 0)
			*pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
#endif
		return pid;
	}

	/* Child.  Signals the parent or the spawner handles or ignores must be
	 * default again after exec (an ignored signal stays ignored). */
	signal(SIGPIPE, SIG_DFL);
	signal(SIGINT, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	/*
	 * Each source first goes above every descriptor involved, then to its
	 * place: a source may sit on a target (the caller's /dev/null is often
	 * fd 3), and dup2'ing in place would copy the wrong one (the IPC
	 * channel ended up on stdin and stdout so).  dup2 clears FD_CLOEXEC;
	 * our binary's descriptor keeps it (dup3), exec closes it.
	 */
	if (dup2(fds->null, hi + 1) == -1 || dup2(fds->ipc, hi + 2) == -1 ||
	    (fds->err != -1 && dup2(fds->err, hi + 3) == -1) ||
	    (fds->extra != -1 && dup2(fds->extra, hi + 4) == -1) ||
	    (self_fd != -1 && dup3(self_fd, hi + 5, O_CLOEXEC) == -1))
		_exit(127);
	if (dup2(hi + 1, STDIN_FILENO) == -1 ||
	    dup2(hi + 1, STDOUT_FILENO) == -1 ||
	    (fds->err != -1 && dup2(hi + 3, STDERR_FILENO) == -1) ||
	    dup2(hi + 2, PROC_IPC_FD) == -1 ||
	    (fds->extra != -1 && dup2(hi + 4, PROC_EXTRA_FD) == -1))
		_exit(127);
	keep = hi + 5;
	proc_close_except(fds->extra != -1 ? PROC_EXTRA_FD + 1 :
	    PROC_IPC_FD + 1, &keep, self_fd != -1 ? 1 : 0);
	if (self_fd != -1) {
#if defined(__linux__) && defined(SYS_execveat)
		syscall(SYS_execveat, keep, "", argv, envp, AT_EMPTY_PATH);
#endif
		_exit(127);
	}
	execve(self, argv, envp);
	_exit(127);
}

int
proc_check_ipc_fd(void)
{
	int domain = 0;
	socklen_t len = sizeof(domain);

	if (getsockopt(PROC_IPC_FD, SOL_SOCKET, SO_DOMAIN, &domain, &len) == -1)
		return -1;
	if (domain != AF_UNIX) {
		errno = EINVAL;
		return -1;
	}
	return 0;
}

int
proc_no_core(void)
{
	struct rlimit rl = { 0, 0 };

	if (setrlimit(RLIMIT_CORE, &rl) == -1)
		return -1;
	/* LeakSanitizer reads /proc/self/task at exit, which a process that is
	 * not dumpable cannot; a sanitizer build is never a production one. */
#if defined(PR_SET_DUMPABLE) && !defined(OCB_SANITIZERS)
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) == -1)
		return -1;
#endif
	return 0;
}
