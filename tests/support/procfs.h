/*
 * Copyright (c) 2026 The ocbroker authors
 * SPDX-License-Identifier: ISC (the licence is in the file LICENSE)
 */

/*
 * What the tests read about ocbroker's processes from /proc (Linux): its
 * children, which of them has a role, and /proc/PID/status lines.
 */
#ifndef OCB_TESTS_SUPPORT_PROCFS_H
#define OCB_TESTS_SUPPORT_PROCFS_H

#include <sys/types.h>

/*
 * /proc/PID/cmdline (argv, NUL-separated) in buf, cut to size - 1 bytes and
 * NUL-terminated: its length, or -1.  Without stdio or malloc, for the
 * malloc shim tests/failalloc.c too.
 */
ssize_t	procfs_cmdline(pid_t pid, char *buf, size_t size);
/* The same for any /proc/PID/FILE (environ: NUL-separated too). */
ssize_t	procfs_read(pid_t pid, const char *file, char *buf, size_t size);
/* The argument after "--role" in a cmdline of len bytes, or NULL. */
const char *procfs_cmdline_role(const char *cmd, size_t len);

/* The pids of parent's children (/proc/PID/task/PID/children); n or -1. */
int	procfs_children(pid_t parent, pid_t *out, int max);

/*
 * The child of parent started with "--role ROLE", or -1.  role NULL: the
 * child with no --role (the spawner, a fork of the parent without exec).
 */
pid_t	procfs_role_pid(pid_t parent, const char *role);
/*
 * procfs_role_pid, waiting up to timeout_ms for the child's exec (its
 * command line) to show: the ready line waits for the front only.
 */
pid_t	procfs_wait_role(pid_t parent, const char *role, int timeout_ms);

/*
 * The first line of /proc/PID/FILE that starts with prefix, in line
 * (NUL-terminated, cut to len); 0, or -1 when there is none.
 */
/* The descendant of root (to its great-grandchildren) with that role, or -1. */
pid_t	procfs_descendant(pid_t root, const char *role);
int	procfs_line(pid_t pid, const char *file, const char *prefix,
	    char *line, size_t len);
/* The number of the "Key:\tN ..." line of /proc/PID/status (kB for Vm*). */
long	procfs_status(pid_t pid, const char *key);
/* 1 if a line of /proc/PID/maps contains s, 0 if none does, -1 (errno). */
int	procfs_maps_has(pid_t pid, const char *s);
/* The minor page faults of PID so far (/proc/PID/stat), or -1. */
long	procfs_minflt(pid_t pid);
/* The state letter of /proc/PID/stat ('R' running or runnable, 'S' asleep
 * ...), or -1. */
int	procfs_state(pid_t pid);
/*
 * How many of looks at PID's state, 10 ms apart, find it asleep ('S').  A
 * process in epoll_wait is; a loop woken again and again never is, however
 * loaded the machine.
 */
int	procfs_asleep(pid_t pid, int looks);

#endif
