/*
 * Copyright (c) 2026 The ocbroker authors
 * SPDX-License-Identifier: ISC (the licence is in the file LICENSE)
 */

/*
 * Starting netprocs.  On Linux the spawner does it: a process forked from the
 * parent before the token exists, holding netproc's configuration, that
 * starts each netproc with clone(CLONE_PARENT) so that the parent reaps and
 * signals it.  Elsewhere the parent calls netproc_spawn() itself.
 */
#ifndef OCB_SPAWNER_H
#define OCB_SPAWNER_H

#include <sys/types.h>

#include "common/proc.h"

struct parent;

#define SPAWNER_STR(x)		#x
#define SPAWNER_XSTR(x)		SPAWNER_STR(x)
/* Where a netproc finds --upstream-ca's bytes when the spawner left root:
 * the sealed copy the spawner read as root, on the netproc's fd 4. */
#define SPAWNER_CA_PATH		"/proc/self/fd/" SPAWNER_XSTR(PROC_EXTRA_FD)

/* A socketpair, `--role netproc` on one end, its Config written into the
 * other, which goes to *chan (for the front).  With --syslog *errfd is the
 * read end of its stderr, else -1; *pidfd is its pidfd or -1.  The pid or
 * -1. */
pid_t	netproc_spawn(struct parent *, int flags, int *chan, int *errfd,
	    int *pidfd);

#ifdef PARENT_SPAWNER
/* Forks the spawner: p->spawner_pid and p->spawner_fd are set; fatal on
 * failure. */
void	spawner_start(struct parent *);
/* Asks the spawner for a netproc and waits for the answer; as
 * netproc_spawn(). */
pid_t	spawner_request(struct parent *, int *chan, int *errfd, int *pidfd);
#endif

#endif
