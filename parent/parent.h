/*
 * Copyright (c) 2026 The ocbroker authors
 * SPDX-License-Identifier: ISC (the licence is in the file LICENSE)
 */

/* The three roles' entry points; each file owns one process. */
#ifndef OCB_PARENT_H
#define OCB_PARENT_H

#include <sys/types.h>

#include <limits.h>
#include <stdint.h>
#include <time.h>

#include "common/buf.h"
#include "common/chan.h"
#include "common/ipc.h"
#include "common/options.h"
#include "common/token.h"

#if defined(__linux__)
#define PARENT_SPAWNER		1	/* netprocs come from the spawner */
#endif

struct event;
struct event_base;

/* A child the parent supervises: the front or the current netproc. */
struct child {
	const char	*role;
	pid_t		 pid;
	int		 pidfd;		/* signals go through it, never kill(2) */
	time_t		 started;
	int		 errpipe;		/* --syslog: the child's stderr */
	struct event	*errev;
	struct buf	 errbuf;
};

/* The parent's state; the spawner (a fork of it) reads its configuration. */
struct parent {
	struct event_base	*base;
	struct options		 opt;
	char			 self[PATH_MAX];
	int			 self_fd;	/* spawner: self, opened as root
						 * (O_PATH); -1 */
	int			 ca_fd;		/* spawner: --upstream-ca's bytes,
						 * read as root (memfd); -1 */

	char			 token[TOKEN_MAX_LEN + 1];
	size_t			 token_len;
	int			 token_generated;
	char			*password;	/* OPENCODE_SERVER_PASSWORD, wiped at exit */
	size_t			 password_len;
	char			*username;

	int			 listener;
	uint16_t		 port;

	struct child		 front, netproc;
	pid_t			 spawner_pid;
	int			 spawner_fd;	/* our end of the spawner's channel */
	struct ipc_reader	 spawner_in;
	struct chan		 front_chan;	/* our end of the front's channel */

	struct event		*restart_timer;
	struct event		*stop_timer;
	unsigned		 backoff_ms;
	int			 ready;
	int			 stopping;
	int			 exit_code;
	int			 devnull;	/* the children's stdin and stdout */
	int			 drop;		/* started as root */
	uid_t			 uid;
	gid_t			 gid;
};

int	parent_main(int argc, char **argv);
int	front_main(void);
int	netproc_main(void);

/* parent.c, for the spawner: starts `--role ROLE` on ipc_fd, with extra_fd
 * (or -1) on its fd 4 (proc_spawn flags); with --syslog *errfd is the read
 * end of its stderr (else -1).  The pid or -1. */
pid_t	parent_spawn_role(struct parent *, const char *role, int ipc_fd,
	    int extra_fd, int flags, int *errfd, int *pidfd);
/* parent.c: writes the front's (for_front) or netproc's Config on fd. */
int	parent_send_config(struct parent *, int fd, int for_front);

#endif
