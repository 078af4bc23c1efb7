/*
 * Copyright (c) 2026 The ocbroker authors
 * SPDX-License-Identifier: ISC (the licence is in the file LICENSE)
 */

/*
 * The spawner (see spawner.h).  It is a fork of the parent, not an exec, so
 * it starts with the parent's configuration and nothing else: it is forked
 * before the token exists.  On SPAWN_NETPROC it makes the socketpair, starts
 * `--role netproc` with clone(CLONE_PARENT) so that the new netproc is the
 * parent's child, writes its Config and sends the other end and the pid back
 * (NETPROC_STARTED).  The parent keeps the supervision (reaping, logging,
 * backoff, kills).  Restarted netprocs run under the spawner's filter, the
 * loose one, before they add their own.
 */
#include "config.h"

#include <sys/types.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/ipc.h"
#include "common/log.h"
#include "common/proc.h"
#include "parent/parent.h"
#include "parent/spawner.h"
#include "sandbox/sandbox.h"

/* See spawner.h; the spawner's work, the parent's where there is none. */
pid_t
netproc_spawn(struct parent *p, int flags, int *chan, int *errfd, int *pidfd)
{
	pid_t pid;
	int sp[2];

	*chan = *errfd = *pidfd = -1;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) == -1)
		return -1;
	pid = parent_spawn_role(p, "netproc", sp[0], p->ca_fd, flags, errfd,
	    pidfd);
	close(sp[0]);
	/* The config goes first on what becomes the front's end, so netproc
	 * reads it before any request. */
	if (pid == -1 || parent_send_config(p, sp[1], 0) == -1) {
		close(sp[1]);
		if (*errfd != -1)
			close(*errfd);
		*errfd = -1;
		return pid;	/* a started netproc dies on EOF; reaped as usual */
	}
	*chan = sp[1];
	return pid;
}

#ifdef PARENT_SPAWNER
/* Above netproc's own limit on a CA bundle, which then refuses it. */
#define SPAWNER_CA_MAX		(16u * 1024 * 1024)

/*
 * --upstream-ca, read while the spawner is still root (the file may be
 * root's alone), into a sealed memfd that every netproc gets as fd 4 and
 * opens as SPAWNER_CA_PATH: the bytes of start-up, which no netproc can
 * change for the next one.  The descriptor, or -1.
 */
static int
ca_copy(const char *path)
{
	char buf[16384];
	size_t total = 0;
	ssize_t n, w;
	int in, mfd;

	if ((in = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return -1;
	if ((mfd = memfd_create("ocbroker-ca", MFD_CLOEXEC |
	    MFD_ALLOW_SEALING)) == -1) {
		close(in);
		return -1;
	}
	while ((n = read(in, buf, sizeof(buf))) != 0) {
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			goto fail;
		if ((total += (size_t)n) > SPAWNER_CA_MAX) {
			errno = EFBIG;
			goto fail;
		}
		for (ssize_t off = 0; off < n; off += w)
			if ((w = write(mfd, buf + off, (size_t)(n - off))) == -1)
				goto fail;
	}
	close(in);
	if (fchmod(mfd, 0444) == -1 || fcntl(mfd, F_ADD_SEALS, F_SEAL_SHRINK |
	    F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL) == -1) {
		close(mfd);
		return -1;
	}
	return mfd;
fail:
	close(in);
	close(mfd);
	return -1;
}

/* Netprocs start as --user now: our binary must be executable by it. */
static void
check_exec(int fd, uid_t uid, gid_t gid)
{
	struct stat st;
	mode_t x;

	if (fstat(fd, &st) == -1)
		fatal("spawner: fstat of our binary");
	x = st.st_uid == uid ? S_IXUSR : st.st_gid == gid ? S_IXGRP : S_IXOTH;
	if ((st.st_mode & x) == 0)
		fatalx("spawner: our binary is not executable by uid %ld, which "
		    "netproc runs as (--user)", (long)uid);
}

/*
 * Root keeps nothing it does not need.  With a --user the spawner becomes it
 * (netprocs start as it, with CAP_SYS_CHROOT alone for their chroot); what
 * it can only do as root is done first: open our binary (--user may not
 * reach its directory) and read --upstream-ca (it may be root's alone).
 */
static void
spawner_privileges(struct parent *p)
{
	if ((p->self_fd = open(p->self, O_PATH | O_CLOEXEC)) == -1)
		fatal("spawner: %s", p->self);
	if (!p->drop) {
		/* Not root, or a sanitizer build whose children keep root. */
		if (sandbox_spawner_caps() == -1)
			fatalx("spawner: cannot drop capabilities");
		return;
	}
	/* netproc reads a CA bundle for https only. */
	if (p->opt.upstream_ca != NULL &&
	    strncmp(p->opt.upstream, "https://", 8) == 0 &&
	    (p->ca_fd = ca_copy(p->opt.upstream_ca)) == -1)
		fatal("spawner: --upstream-ca %s", p->opt.upstream_ca);
	check_exec(p->self_fd, p->uid, p->gid);
	if (sandbox_spawner_drop(p->uid, p->gid) == -1)
		fatalx("spawner: cannot become uid %ld", (long)p->uid);
}

/*
 * The spawner, a fork of the parent (no exec): it reads SPAWN_NETPROC frames
 * from the parent and answers each with NETPROC_STARTED (the pid, then the
 * front's end of the new netproc's channel and, with --syslog, its stderr
 * pipe).  It ends when the parent's channel closes.  It holds netproc's
 * configuration (upstream, credentials) and never the token; it reads nothing
 * but the parent's frames.
 */
static void __attribute__((noreturn))
spawner_main(struct parent *p, int chan)
{
	struct ipc_reader in;
	Ocb__Ipc__Frame *f;
	int keep[2];

	/* Nothing of the parent's but the channel and /dev/null: not the
	 * token's descriptor, nor anything our launcher left open.  syslog's
	 * socket is closed too and reopened by log_init. */
	closelog();
	keep[0] = chan;
	keep[1] = p->devnull;
	proc_close_except(STDERR_FILENO + 1, keep, 2);
	log_init("spawner", p->opt.log_level, p->opt.use_syslog);
	/* A terminal's ^C and a SIGTERM to the process group are the parent's
	 * to act on; the spawner goes when the parent's channel closes. */
	signal(SIGINT, SIG_IGN);
	signal(SIGTERM, SIG_IGN);
	/* Not the ready line's stdout, not the token's descriptor. */
	if (dup2(p->devnull, STDIN_FILENO) == -1 ||
	    dup2(p->devnull, STDOUT_FILENO) == -1)
		fatal("spawner: dup2");
	spawner_privileges(p);
	if (!p->opt.insecure_no_sandbox && sandbox_enter(SANDBOX_SPAWNER) == -1)
		fatal("spawner: cannot enter the sandbox");
	ipc_reader_init(&in);
	while (ipc_read_frame_blocking(&in, chan, &f) == 0) {
		Ocb__Ipc__Frame out = OCB__IPC__FRAME__INIT;
		Ocb__Ipc__Control ctl = OCB__IPC__CONTROL__INIT;
		int fds[3], np, errfd, pidfd;
		size_t nfds = 0;
		pid_t pid;

		if (f->body_case != OCB__IPC__FRAME__BODY_CONTROL ||
		    f->control->kind != OCB__IPC__CONTROL__KIND__SPAWN_NETPROC) {
			ipc_frame_free(f);
			log_warnx("spawner: unexpected frame from the parent");
			break;
		}
		ipc_frame_free(f);
		pid = netproc_spawn(p, PROC_SPAWN_SIBLING, &np, &errfd, &pidfd);
		if (pid == -1)
			log_warn("spawner: cannot start netproc");
		ctl.kind = OCB__IPC__CONTROL__KIND__NETPROC_STARTED;
		/* The pidfd last: the parent signals netproc through it. */
		if (pid > 0 && np != -1 && pidfd != -1) {
			ctl.pid = (uint32_t)pid;
			fds[nfds++] = np;
			if (errfd != -1) {
				fds[nfds++] = errfd;
				ctl.stderr_pipe = 1;
			}
			fds[nfds++] = pidfd;
		} else {
			if (np != -1)
				close(np);
			if (errfd != -1)
				close(errfd);
			if (pidfd != -1)
				close(pidfd);
		}
		out.body_case = OCB__IPC__FRAME__BODY_CONTROL;
		out.control = &ctl;
		if (ipc_send_fds(chan, &out, fds, nfds) == -1) {
			log_warn("spawner: cannot answer the parent");
			break;
		}
		while (nfds > 0)
			close(fds[--nfds]);
	}
	/* EOF: the parent is done.  _exit: nothing of the parent's to flush
	 * or free here. */
	_exit(0);
}

void
spawner_start(struct parent *p)
{
	int sp[2];

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) == -1)
		fatal("socketpair");
	switch (p->spawner_pid = fork()) {
	case -1:
		fatal("cannot start the spawner");
	case 0:
		close(sp[1]);
		spawner_main(p, sp[0]);
	default:
		break;
	}
	close(sp[0]);
	p->spawner_fd = sp[1];
	log_debug("started spawner, pid %ld", (long)p->spawner_pid);
}

pid_t
spawner_request(struct parent *p, int *chan, int *errfd, int *pidfd)
{
	Ocb__Ipc__Frame req = OCB__IPC__FRAME__INIT, *f;
	Ocb__Ipc__Control ctl = OCB__IPC__CONTROL__INIT;
	struct buf out;
	pid_t pid = -1;
	int rc;

	*chan = *errfd = *pidfd = -1;
	if (p->spawner_fd == -1)
		return -1;
	ctl.kind = OCB__IPC__CONTROL__KIND__SPAWN_NETPROC;
	req.body_case = OCB__IPC__FRAME__BODY_CONTROL;
	req.control = &ctl;
	buf_init(&out);
	rc = ipc_frame_pack(&out, &req);
	if (rc == 0)
		rc = ipc_flush_blocking(&out, p->spawner_fd);
	buf_free(&out);
	if (rc == -1 ||
	    ipc_read_frame_blocking(&p->spawner_in, p->spawner_fd, &f) == -1)
		return -1;
	if (f->body_case == OCB__IPC__FRAME__BODY_CONTROL &&
	    f->control->kind == OCB__IPC__CONTROL__KIND__NETPROC_STARTED &&
	    f->control->pid > 0 &&
	    (*chan = ipc_reader_take_fd(&p->spawner_in)) != -1) {
		pid = (pid_t)f->control->pid;
		if (f->control->stderr_pipe)
			*errfd = ipc_reader_take_fd(&p->spawner_in);
		*pidfd = ipc_reader_take_fd(&p->spawner_in);
	}
	ipc_frame_free(f);
	/* Nothing else may ride along. */
	while ((rc = ipc_reader_take_fd(&p->spawner_in)) != -1)
		close(rc);
	return pid;
}
#endif /* PARENT_SPAWNER */
