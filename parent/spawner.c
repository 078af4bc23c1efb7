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
#include <sys/socket.h>

#include <errno.h>
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
	pid = parent_spawn_role(p, "netproc", sp[0], flags, errfd, pidfd);
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
	/* Root keeps only what starting a netproc takes. */
	if (sandbox_spawner_caps() == -1)
		fatalx("spawner: cannot drop capabilities");
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
