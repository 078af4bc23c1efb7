/*
 * Copyright (c) 2026 The ocbroker authors
 * SPDX-License-Identifier: ISC (the licence is in the file LICENSE)
 */

/*
 * The OpenBSD sandbox: pledge(2), in the manner of OpenSSH's
 * sandbox-pledge.c and OpenBSD's own privsep daemons.
 *
 * UNTESTED: written to the pledge(2) and unveil(2) manuals and kern_pledge.c;
 * no OpenBSD machine was at hand.  It compiles only on OpenBSD (configure
 * --with-sandbox=pledge, the default there).
 *
 * Not of equal strength to the seccomp backend, and doc/sandbox.md says so:
 *  - front: pledge("stdio recvfd inet").  "inet" is what lets it accept(2) on
 *    the inherited listener, and it also lets it create and connect INET
 *    sockets: pledge cannot tell accept from connect.  No path promise, so
 *    no file can be opened (/dev/null aside) and unveil has nothing to add.
 *  - netproc: pledge("stdio inet"), like ntpd's constraint process: CA bundle
 *    in memory, the address pinned before.  It could also listen or accept.
 *  - parent: pledge("stdio proc exec sendfd"): wait4 and kill for the
 *    children ("proc" for kill of another pid), fork and exec of our own
 *    binary for a netproc restart, SCM_RIGHTS to the front.  /dev/null (for
 *    the child's stdin and stdout) may be opened under "stdio".  No
 *    execpromises: a restarted netproc starts unpledged (it must chroot as
 *    root, which no promise allows) and pledges itself before its first
 *    byte, as the first one did.  unveil is not used: the parent would need
 *    the path of its binary here, and pledge already forbids every other
 *    path operation; exec of another binary stays possible for the parent.
 * A pledge violation kills with an uncatchable SIGABRT and the kernel logs the
 * promise that was missing, so there is no separate debug mode.
 */
#include "config.h"

#if defined(__OpenBSD__)

#include <errno.h>
#include <unistd.h>

#include "common/log.h"
#include "sandbox/sandbox.h"

static const char *const pledge_promises[] = {
	[SANDBOX_PARENT] = "stdio proc exec sendfd",
	[SANDBOX_FRONT] = "stdio recvfd inet",
	[SANDBOX_NETPROC] = "stdio inet",
	/* Linux only today (no CLONE_PARENT here); as the parent. */
	[SANDBOX_SPAWNER] = "stdio proc exec sendfd",
};

const char *
sandbox_backend(void)
{
	return "pledge";
}

int
sandbox_available(void)
{
	return 1;
}

int
sandbox_enter(enum sandbox_role role)
{
	if ((unsigned)role >=
	    sizeof(pledge_promises) / sizeof(pledge_promises[0])) {
		errno = EINVAL;
		return -1;
	}
	if (pledge(pledge_promises[role], NULL) == -1) {
		log_warn("pledge \"%s\"", pledge_promises[role]);
		return -1;
	}
	return 0;
}

#else /* !__OpenBSD__ */

/* Keeps the translation unit non-empty elsewhere. */
typedef int sandbox_pledge_openbsd_only;

#endif
