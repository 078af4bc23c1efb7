/*
 * Copyright (c) 2026 The ocbroker authors
 * SPDX-License-Identifier: ISC (the licence is in the file LICENSE)
 */

/*
 * Starting the children: fork, then re-exec of our own binary with an internal
 * role flag, so that each child gets a fresh address space (as OpenSSH and
 * OpenBSD's proc.c do).  The child's IPC end becomes fd 3 and everything above
 * it (but an optional fd 4) is closed before exec.
 */
#ifndef OCB_PROC_H
#define OCB_PROC_H

#include <sys/types.h>

#define PROC_IPC_FD		3
#define PROC_ROLE_FLAG		"--role"

/* proc_spawn flags. */
#define PROC_SPAWN_SIBLING	0x1	/* Linux: clone(CLONE_PARENT), the new
					 * process is our parent's child (the
					 * spawner starts netprocs so) */

#define PROC_EXTRA_FD		4	/* proc_fds.extra lands here */

/* What a child gets on its descriptors; -1 where marked optional. */
struct proc_fds {
	int	ipc;		/* fd 3 */
	int	err;		/* fd 2; -1: our stderr */
	int	null;		/* fds 0 and 1: /dev/null, opened by the caller
				 * before its sandbox, which allows no opens */
	int	extra;		/* fd 4; -1: none (the spawner's CA memfd) */
};

/* Starts `self --role ROLE` with the descriptors in fds, everything else
 * closed, and a scrubbed environment.  self_fd, when not -1, is our binary
 * opened earlier (O_PATH): it is executed through it (execveat), so a process
 * that can no longer reach self's directory still can.  With
 * PROC_SPAWN_SIBLING the child is our parent's, not ours (-1 with ENOSYS
 * where the system cannot do that).  *pidfd is a pidfd of the child (Linux;
 * -1 elsewhere or when the kernel has none).  Returns the pid or -1. */
pid_t	proc_spawn(const char *self, int self_fd, const char *role,
	    const struct proc_fds *fds, int flags, int *pidfd);

/* In a child, before trusting fd 3: is it an AF_UNIX socket? 0 or -1. */
int	proc_check_ipc_fd(void);

/* Not dumpable, no core files: a child's memory holds the token or keys. */
int	proc_no_core(void);

/* Closes every descriptor from lowfd up. */
void	proc_closefrom(int lowfd);
/* Closes every descriptor from lowfd up but the nkeep in keep. */
void	proc_close_except(int lowfd, const int *keep, size_t nkeep);

#endif
