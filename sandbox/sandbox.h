/*
 * Copyright (c) 2026 The ocbroker authors
 * SPDX-License-Identifier: ISC (the licence is in the file LICENSE)
 */

/*
 * One small interface to the operating system's sandbox, as OpenSSH has it:
 * a backend per system, chosen by configure (--with-sandbox=...), and the
 * privilege drop (privdrop.c), which every backend shares.
 *
 * The order in a child, once everything it will ever open is open:
 *
 *	sandbox_drop_privileges(cfg->chroot_dir, cfg->uid, cfg->gid);
 *					(only when cfg->drop_privileges)
 *	sandbox_enter(SANDBOX_FRONT or SANDBOX_NETPROC);
 *
 * and in the parent, before anything else when it runs as root:
 * sandbox_user_lookup() and sandbox_chroot_prepare(); then, once both children
 * run, sandbox_enter(SANDBOX_PARENT).  The spawner (Linux: the fork of the
 * parent that starts every netproc) enters SANDBOX_SPAWNER at once, before it
 * reads its first request.  doc/sandbox.md has the details.
 */
#ifndef OCB_SANDBOX_H
#define OCB_SANDBOX_H

#include <sys/types.h>

/*
 * The empty directory the children chroot to when ocbroker starts as root.
 * Like OpenSSH's /run/sshd it is shared by every instance, root-owned, not
 * writable by anyone else and empty; sandbox_chroot_prepare() creates it when
 * it is missing and refuses it when it is not so.
 */
#ifndef SANDBOX_CHROOT_DIR
#define SANDBOX_CHROOT_DIR	"/run/ocbroker-empty"
#endif

/*
 * RLIMIT_DATA per role (soft = hard), set just before the filter: what each
 * role legitimately needs with a wide margin (doc/sandbox.md, "Memory").
 * Linux counts the heap and private writable mappings.  netproc: the body
 * budget for every in-flight body (netproc/upstream.h, 384 MiB) plus one
 * body's JSON tokens (40 MiB at most), its reply and the packed copy (64 MiB
 * each at --max-message's most) and libcurl/OpenSSL.  The spawner's is
 * netproc's: a netproc inherits it, and the spawner cannot raise a hard
 * limit.  Sanitizer builds run without the sandbox and so without these
 * (ASan reserves terabytes).
 */
#define SANDBOX_DATA_MB_PARENT		64
#define SANDBOX_DATA_MB_FRONT		1024
#define SANDBOX_DATA_MB_NETPROC		1024
#define SANDBOX_DATA_MB_SPAWNER		SANDBOX_DATA_MB_NETPROC

enum sandbox_role {
	SANDBOX_PARENT,
	SANDBOX_FRONT,
	SANDBOX_NETPROC,
	SANDBOX_SPAWNER,	/* the loosest: netprocs start under it */
};

/* The backend's name for the start-up log line ("seccomp", "none", ...). */
const char	*sandbox_backend(void);
/* 1 when this build and this machine can confine processes. */
int		 sandbox_available(void);
/* Confines the calling process for the rest of its life; 0 or -1.
 * Failing to confine is fatal for the caller. */
int		 sandbox_enter(enum sandbox_role);

/*
 * Privilege drop (privdrop.c, every backend).
 */

/* Parent, at start-up: the uid and gid of --user.  Refuses a user that maps
 * to uid 0 or gid 0 (that would drop nothing).  0 or -1 (logged). */
int		 sandbox_user_lookup(const char *name, uid_t *uid, gid_t *gid);
/* Parent, at start-up, as root: creates dir (0755, root) when missing, then
 * checks that it and every directory above it is root-owned and not writable
 * by group or others, that it is not a symlink and that it is empty.
 * 0 or -1 (logged). */
int		 sandbox_chroot_prepare(const char *dir);
/* Child, after its last open and before sandbox_enter: empties the bounding
 * set (Linux), chroot(dir), chdir("/"), setgroups(1, &gid) (unless that is
 * already its one group), setresgid, setresuid, clears every capability
 * (Linux), then checks that the old ids cannot be regained.  As root (the
 * front), or as uid with CAP_SYS_CHROOT alone (a netproc the spawner
 * started).  0 or -1 (logged); -1 must be fatal. */
int		 sandbox_drop_privileges(const char *dir, uid_t uid, gid_t gid);

/* Linux, the spawner, as root, before its sandbox, when the children drop
 * privileges: becomes uid:gid (gid its one group) and keeps CAP_SYS_CHROOT
 * alone, permitted, inheritable and ambient but not effective (a netproc it
 * starts gets it for its chroot, then clears it); empty bounding set;
 * SECBIT_NO_SETUID_FIXUP and SECBIT_NOROOT, locked.  Then checks all of it.
 * 0 or -1 (logged; ENOSYS off Linux). */
int		 sandbox_spawner_drop(uid_t uid, gid_t gid);
/* Linux, the spawner, as root when the children keep root (a sanitizer
 * build): keeps CAP_SETUID, CAP_SETGID and CAP_SYS_CHROOT (effective and
 * permitted) and CAP_SETPCAP (permitted only), drops every other capability
 * from the bounding set too.  A no-op when not root or not on Linux.  0 or
 * -1 (logged). */
int		 sandbox_spawner_caps(void);

#ifdef SANDBOX_SECCOMP
#include <stdio.h>
/* Prints the seccomp allowlists and soft denials as doc/sandbox.md shows
 * them (tests/sandbox_probe describe).  0 or -1. */
int		 sandbox_seccomp_describe(FILE *);
#endif

#ifdef SANDBOX_CAPSICUM
struct sockaddr;
/* FreeBSD only (netproc): the one address cap_net(3) will let netproc
 * connect to, given before sandbox_enter(SANDBOX_NETPROC). */
int		 sandbox_capsicum_allow_connect(const struct sockaddr *,
		    socklen_t);
/* FreeBSD only (netproc): connect(2) in capability mode, through cap_net. */
int		 sandbox_capsicum_connect(int, const struct sockaddr *, socklen_t);
#endif

#endif
