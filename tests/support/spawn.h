/*
 * Copyright (c) 2026 The ocbroker authors
 * SPDX-License-Identifier: ISC (the licence is in the file LICENSE)
 */

/*
 * Starting a program whose stdout we read (ocbroker's ready line, a fake
 * upstream's port line): for the integration tests and the benchmarks.
 * Needs nothing but libc.
 */
#ifndef OCB_TESTS_SUPPORT_SPAWN_H
#define OCB_TESTS_SUPPORT_SPAWN_H

#include <sys/types.h>

/* How spawn_piped() opens the log. */
#define SPAWN_LOG_APPEND	0
#define SPAWN_LOG_TRUNC		1

struct spawn_env {
	const char *const *set;		/* "NAME=value", NULL-ended, or NULL */
	const char *const *unset;	/* names, NULL-ended, or NULL */
	int		   keep_fd;	/* a descriptor the child keeps, or -1 */
};

/*
 * fork + exec of path with argv, in a process group of its own: stdin
 * /dev/null, stdout a pipe whose read end goes to *outfd (close-on-exec),
 * stderr to the file log (NULL: ours), appended or truncated (log_mode).
 * In the child, before exec: env's names unset and set, every descriptor
 * above 2 closed but env's keep_fd, SIGPIPE back to its default.  env may
 * be NULL.  Returns the pid, or -1.
 */
pid_t	spawn_piped(const char *path, char *const argv[], int *outfd,
	    const char *log, int log_mode, const struct spawn_env *env);

#endif
