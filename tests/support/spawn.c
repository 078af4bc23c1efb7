/*
 * Copyright (c) 2026 The ocbroker authors
 * SPDX-License-Identifier: ISC (the licence is in the file LICENSE)
 */

/*
 * spawn_piped() (see spawn.h).
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/support/spawn.h"

/* In the child: env's changes to the environment and the descriptors. */
static void
child_env(const struct spawn_env *env)
{
	const char *const *e;
	char *eq, *kv;
	int keep = env != NULL ? env->keep_fd : -1;

	if (keep > 2) {
		if (keep > 3)
			close_range(3, (unsigned)keep - 1, 0);
		close_range((unsigned)keep + 1, ~0U, 0);
		fcntl(keep, F_SETFD, 0);
	} else
		close_range(3, ~0U, 0);
	if (env == NULL)
		return;
	for (e = env->unset; e != NULL && *e != NULL; e++)
		unsetenv(*e);
	for (e = env->set; e != NULL && *e != NULL; e++) {
		if ((kv = strdup(*e)) == NULL ||
		    (eq = strchr(kv, '=')) == NULL)
			_exit(127);
		*eq = '\0';
		setenv(kv, eq + 1, 1);
	}
}

pid_t
spawn_piped(const char *path, char *const argv[], int *outfd,
    const char *log, int log_mode, const struct spawn_env *env)
{
	int p[2], fd, flags;
	pid_t pid;

	if (pipe2(p, O_CLOEXEC) == -1)
		return -1;
	if ((pid = fork()) == -1) {
		close(p[0]);
		close(p[1]);
		return -1;
	}
	if (pid == 0) {
		/* Own group: its children can be reached at teardown. */
		setpgid(0, 0);
		if ((fd = open("/dev/null", O_RDONLY)) != -1) {
			dup2(fd, 0);
			close(fd);
		}
		dup2(p[1], 1);
		flags = O_WRONLY | O_CREAT |
		    (log_mode == SPAWN_LOG_TRUNC ? O_TRUNC : O_APPEND);
		if (log != NULL && (fd = open(log, flags, 0644)) != -1) {
			dup2(fd, 2);
			close(fd);
		}
		child_env(env);
		signal(SIGPIPE, SIG_DFL);
		execv(path, argv);
		fprintf(stderr, "exec %s: %s\n", path, strerror(errno));
		_exit(127);
	}
	setpgid(pid, pid);	/* both sides, so that there is no race */
	close(p[1]);
	*outfd = p[0];
	return pid;
}
