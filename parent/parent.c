/*
 * Copyright (c) 2026 The ocbroker authors
 * SPDX-License-Identifier: ISC (the licence is in the file LICENSE)
 */

/*
 * The parent: parses options, binds the listener, starts the front and netproc,
 * prints the ready line, supervises.  It never touches client or upstream bytes:
 * the listener and netproc's socketpair end are handed to the front and closed
 * here.
 *
 * On Linux netprocs are started by the spawner (spawner.c), a process forked
 * from the parent before anything else is set up; the parent asks it for each
 * netproc and keeps the supervision (reaping, logging, backoff, kills), so its
 * own seccomp filter needs nothing that creates a process, a socket or a file.
 * Elsewhere (no CLONE_PARENT) the parent starts netproc itself.
 */
#include "config.h"

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/chan.h"
#include "common/ipc.h"
#include "common/log.h"
#include "common/options.h"
#include "common/proc.h"
#include "common/timer.h"
#include "common/token.h"
#include "parent/parent.h"
#include "parent/spawner.h"
#include "sandbox/sandbox.h"

#define LISTEN_BACKLOG		128
#define RESTART_FIRST_MS	100	/* first netproc restart */
#define RESTART_MAX_MS		5000	/* cap in a crash loop */
#define RESTART_STABLE_S	10	/* a netproc that lived this long resets the backoff */
#define STOP_GRACE_S		5	/* children get this long to exit on SIGTERM */
#define LOGPIPE_LINE_MAX	2048

static void	parent_stop(struct parent *, int);

/*
 * Signals a child through its pidfd: the parent's filter has no kill(2), so
 * it cannot signal any process but its own children, and a reaped child's
 * recycled pid is never hit.  0 or -1.
 */
static int
pidfd_signal(int pidfd, int sig)
{
#if defined(__linux__) && defined(SYS_pidfd_send_signal)
	if (pidfd == -1) {
		errno = ESRCH;
		return -1;
	}
	return (int)syscall(SYS_pidfd_send_signal, pidfd, sig, NULL, 0);
#else
	(void)pidfd;
	(void)sig;
	errno = ENOSYS;
	return -1;
#endif
}

/* Signals a running child; without pidfds (not Linux), kill(2). */
static void
child_signal(struct child *c, int sig)
{
	if (c->pid <= 0)
		return;
#if defined(__linux__)
	if (pidfd_signal(c->pidfd, sig) == -1)
		log_warn("cannot signal %s (pid %ld)", c->role, (long)c->pid);
#else
	if (kill(c->pid, sig) == -1)
		log_warn("cannot signal %s (pid %ld)", c->role, (long)c->pid);
#endif
}

/* Reaped: its pidfd goes too. */
static void
child_reaped(struct child *c)
{
	c->pid = -1;
	if (c->pidfd != -1) {
		close(c->pidfd);
		c->pidfd = -1;
	}
}

static int	start_netproc(struct parent *);

/*
 * Stopping, in order: the front first (it closes every WebSocket with 1001
 * and exits), netproc once the front is gone (SIGCHLD brings us back here),
 * and the loop ends when neither is left.
 */
static void
stop_children(struct parent *p)
{
	if (p->front.pid > 0)
		child_signal(&p->front, SIGTERM);
	else if (p->netproc.pid > 0)
		child_signal(&p->netproc, SIGTERM);
	else
		event_base_loopexit(p->base, NULL);
}

static int
bind_listener(struct parent *p)
{
	struct sockaddr_in sin;
	socklen_t len;
	int fd, one = 1;

	for (unsigned port = p->opt.port_lo; port <= p->opt.port_hi; port++) {
		fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (fd == -1)
			return -1;
		if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) == -1) {
			close(fd);
			return -1;
		}
		memset(&sin, 0, sizeof(sin));
		sin.sin_family = AF_INET;
		sin.sin_port = htons((uint16_t)port);
		/* Loopback only, whatever else the machine has. */
		sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == 0 &&
		    listen(fd, LISTEN_BACKLOG) == 0) {
			len = sizeof(sin);
			if (getsockname(fd, (struct sockaddr *)&sin, &len) == -1) {
				close(fd);
				return -1;
			}
			p->listener = fd;
			p->port = ntohs(sin.sin_port);
			return 0;
		}
		close(fd);
		if (errno != EADDRINUSE && errno != EACCES)
			return -1;
	}
	errno = EADDRINUSE;
	return -1;
}

static void
logpipe_cb(evutil_socket_t fd, short what, void *arg)
{
	struct child *c = arg;
	uint8_t *nl;
	ssize_t n;

	n = buf_read(&c->errbuf, fd, LOGPIPE_LINE_MAX);
	if (n <= 0) {
		if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
			event_free(c->errev);
			c->errev = NULL;
			close(c->errpipe);
			c->errpipe = -1;
			buf_free(&c->errbuf);
		}
		return;
	}
	/* One syslog record per line; an overlong line is cut, not kept. */
	while ((nl = memchr(buf_head(&c->errbuf), '\n', buf_used(&c->errbuf))) != NULL) {
		size_t len = (size_t)(nl - buf_head(&c->errbuf));

		syslog(LOG_NOTICE, "%.*s", (int)len, (char *)buf_head(&c->errbuf));
		buf_drain(&c->errbuf, len + 1);
	}
	if (buf_used(&c->errbuf) >= LOGPIPE_LINE_MAX) {
		syslog(LOG_NOTICE, "%.*s", (int)buf_used(&c->errbuf),
		    (char *)buf_head(&c->errbuf));
		buf_drain(&c->errbuf, buf_used(&c->errbuf));
	}
}

static void
child_release(struct child *c)
{
	if (c->errev != NULL) {
		event_free(c->errev);
		c->errev = NULL;
		close(c->errpipe);
		buf_free(&c->errbuf);
	}
}

/* --syslog: the read end of a child's stderr, forwarded line by line. */
static int
child_watch_stderr(struct parent *p, struct child *c, int fd)
{
	if (c->errev != NULL) {
		event_free(c->errev);
		c->errev = NULL;
		close(c->errpipe);
		buf_free(&c->errbuf);
	}
	c->errpipe = fd;
	fcntl(c->errpipe, F_SETFL, O_NONBLOCK);
	c->errev = event_new(p->base, c->errpipe, EV_READ | EV_PERSIST,
	    logpipe_cb, c);
	if (c->errev == NULL || event_add(c->errev, NULL) == -1)
		return -1;
	return 0;
}

/* See parent.h. */
pid_t
parent_spawn_role(struct parent *p, const char *role, int ipc_fd,
    int extra_fd, int flags, int *errfd, int *pidfd)
{
	struct proc_fds fds;
	int errp[2] = { -1, -1 };
	pid_t pid;

	*errfd = -1;
	if (p->opt.use_syslog && pipe2(errp, O_CLOEXEC) == -1)
		return -1;
	fds.ipc = ipc_fd;
	fds.err = errp[1];
	fds.null = p->devnull;
	fds.extra = extra_fd;
	pid = proc_spawn(p->self, p->self_fd, role, &fds, flags, pidfd);
	if (errp[1] != -1)
		close(errp[1]);
	if (pid == -1) {
		if (errp[0] != -1)
			close(errp[0]);
		return -1;
	}
	*errfd = errp[0];
	log_debug("started %s, pid %ld", role, (long)pid);
	return pid;
}

/* Starts a child on ipc_fd; with --syslog its stderr comes back to us. */
static int
spawn_child(struct parent *p, struct child *c, int ipc_fd)
{
	int errfd;

	if ((c->pid = parent_spawn_role(p, c->role, ipc_fd, -1, 0, &errfd,
	    &c->pidfd)) == -1)
		return -1;
	c->started = time(NULL);
	if (errfd != -1 && child_watch_stderr(p, c, errfd) == -1)
		return -1;
	return 0;
}

int
parent_send_config(struct parent *p, int fd, int for_front)
{
	Ocb__Ipc__Frame f = OCB__IPC__FRAME__INIT;
	Ocb__Ipc__Config c = OCB__IPC__CONFIG__INIT;
	struct buf out;
	int rc;

	c.log_level = (uint32_t)p->opt.log_level;
	c.log_syslog = p->opt.use_syslog;
	c.insecure_no_sandbox = p->opt.insecure_no_sandbox;
	c.drop_privileges = p->drop;
	c.uid = (uint32_t)p->uid;
	c.gid = (uint32_t)p->gid;
	c.chroot_dir = (char *)SANDBOX_CHROOT_DIR;
	if (for_front) {
		c.token.data = (uint8_t *)p->token;
		c.token.len = p->token_len;
		c.port = p->port;
		c.allow_origins = (char **)p->opt.allow_origins;
		c.n_allow_origins = p->opt.n_allow_origins;
		c.max_message = p->opt.max_message;
	} else {
		c.upstream_url = (char *)p->opt.upstream;
		/* The spawner's copy (spawner.c), or the path. */
		c.upstream_ca_file = (char *)(p->ca_fd != -1 ? SPAWNER_CA_PATH :
		    p->opt.upstream_ca != NULL ? p->opt.upstream_ca : "");
		c.upstream_username = (char *)p->username;
		c.upstream_password.data = (uint8_t *)p->password;
		c.upstream_password.len = p->password_len;
		/* No reply may exceed what the client accepts (MessageList). */
		c.max_message = p->opt.max_message;
		c.upstream_connections = p->opt.upstream_connections;
	}
	f.body_case = OCB__IPC__FRAME__BODY_CONFIG;
	f.config = &c;
	buf_init(&out);
	rc = ipc_frame_pack(&out, &f);
	if (rc == 0)
		rc = ipc_flush_blocking(&out, fd);
	buf_free(&out);		/* wipes the packed secret */
	return rc;
}

static int
send_control_fd(struct chan *ch, Ocb__Ipc__Control__Kind kind, int fd)
{
	Ocb__Ipc__Frame f = OCB__IPC__FRAME__INIT;
	Ocb__Ipc__Control ctl = OCB__IPC__CONTROL__INIT;

	ctl.kind = kind;
	f.body_case = OCB__IPC__FRAME__BODY_CONTROL;
	f.control = &ctl;
	return chan_send_fds(ch, &f, &fd, 1);
}

static int
start_netproc(struct parent *p)
{
	int chan, errfd, pidfd;
	pid_t pid;

#ifdef PARENT_SPAWNER
	pid = spawner_request(p, &chan, &errfd, &pidfd);
#else
	pid = netproc_spawn(p, 0, &chan, &errfd, &pidfd);
#endif
	if (pid > 0) {
		p->netproc.pid = pid;
		p->netproc.pidfd = pidfd;
		p->netproc.started = time(NULL);
	} else if (pidfd != -1)
		close(pidfd);
	if (chan == -1)
		return -1;
	if (errfd != -1 && child_watch_stderr(p, &p->netproc, errfd) == -1) {
		close(chan);
		return -1;
	}
	if (send_control_fd(&p->front_chan, OCB__IPC__CONTROL__KIND__NETPROC_FD,
	    chan) == -1) {
		close(chan);
		return -1;
	}
	close(chan);
	return 0;
}

static void
restart_cb(evutil_socket_t fd, short what, void *arg)
{
	struct parent *p = arg;

	if (p->stopping)
		return;
	if (start_netproc(p) == -1) {
		log_warn("cannot restart netproc");
		parent_stop(p, 1);
		return;
	}
	log_info("netproc restarted, pid %ld", (long)p->netproc.pid);
}

static const char *
describe_exit(int status, char *buf, size_t len)
{
	if (WIFEXITED(status))
		snprintf(buf, len, "exited with status %d", WEXITSTATUS(status));
	else if (WIFSIGNALED(status) && WTERMSIG(status) == SIGSYS)
		snprintf(buf, len, "was killed by SIGSYS (a sandbox violation)");
	else if (WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT)
		snprintf(buf, len, "aborted (SIGABRT: a failed assertion or "
		    "heap corruption)");
	else if (WIFSIGNALED(status))
		snprintf(buf, len, "was killed by signal %d (%s)", WTERMSIG(status),
		    strsignal(WTERMSIG(status)));
	else
		snprintf(buf, len, "stopped (status %d)", status);
	return buf;
}

static void
sigchld_cb(evutil_socket_t sig, short what, void *arg)
{
	struct parent *p = arg;
	char desc[128];
	pid_t pid;
	int status;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		if (pid == p->spawner_pid) {
			p->spawner_pid = -1;
			if (p->stopping)
				continue;
			/* No netproc could be restarted any more: as with the
			 * front, the app supervising us sees a non-zero exit. */
			log_warnx("spawner %s; exiting",
			    describe_exit(status, desc, sizeof(desc)));
			close(p->spawner_fd);
			p->spawner_fd = -1;
			parent_stop(p, 1);
			stop_children(p);
		} else if (pid == p->front.pid) {
			child_reaped(&p->front);
			if (p->stopping && WIFEXITED(status) &&
			    WEXITSTATUS(status) == 0) {
				log_debug("front exited");
				stop_children(p);
				continue;
			}
			/*
			 * The front owns every client connection and the
			 * listener; a new one could not take them over, so a
			 * dead front ends ocbroker and the app supervising us
			 * sees a non-zero exit.
			 */
			log_warnx("front %s; exiting",
			    describe_exit(status, desc, sizeof(desc)));
			parent_stop(p, 1);
			stop_children(p);
		} else if (pid == p->netproc.pid) {
			time_t lived = time(NULL) - p->netproc.started;

			child_reaped(&p->netproc);
			if (p->stopping) {
				if (p->front.pid <= 0)
					event_base_loopexit(p->base, NULL);
				continue;
			}
			if (lived >= RESTART_STABLE_S)
				p->backoff_ms = RESTART_FIRST_MS;
			log_warnx("netproc %s; restarting in %u ms",
			    describe_exit(status, desc, sizeof(desc)),
			    p->backoff_ms);
			timer_backoff(p->restart_timer, &p->backoff_ms,
			    RESTART_MAX_MS);
		}
	}
}

static void
stop_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	struct parent *p = arg;

	log_warnx("children did not exit in %d s; killing them", STOP_GRACE_S);
	if (p->front.pid > 0)
		child_signal(&p->front, SIGKILL);
	if (p->netproc.pid > 0)
		child_signal(&p->netproc, SIGKILL);
	p->exit_code = 1;
	event_base_loopexit(p->base, NULL);
}

static void
parent_stop(struct parent *p, int code)
{
	struct timeval tv = { STOP_GRACE_S, 0 };

	if (code != 0)
		p->exit_code = code;
	if (p->stopping)
		return;
	p->stopping = 1;
	evtimer_add(p->stop_timer, &tv);
}

static void
sigterm_cb(evutil_socket_t sig, short what, void *arg)
{
	struct parent *p = arg;

	log_info("signal %d: shutting down", (int)sig);
	parent_stop(p, 0);
	stop_children(p);
}

static void
print_ready(struct parent *p)
{
	char line[256];
	size_t off = 0;
	int n;

	/* One write(2), not stdio: the first printf would fstat() stdout,
	 * which the parent's filter refuses (EACCES). */
	if (p->token_generated)
		n = snprintf(line, sizeof(line),
		    "{\"ready\":true,\"port\":%u,\"token\":\"%s\",\"version\":\"%s\"}\n",
		    p->port, p->token, PACKAGE_VERSION);
	else
		n = snprintf(line, sizeof(line),
		    "{\"ready\":true,\"port\":%u,\"version\":\"%s\"}\n",
		    p->port, PACKAGE_VERSION);
	while (n > 0 && off < (size_t)n && off < sizeof(line)) {
		ssize_t w = write(STDOUT_FILENO, line + off, (size_t)n - off);

		if (w == -1 && errno == EINTR)
			continue;
		if (w <= 0) {
			log_warn("cannot print the ready line");
			break;
		}
		off += (size_t)w;
	}
	/* The token lives on in the front only. */
	wipe(line, sizeof(line));
	wipe(p->token, sizeof(p->token));
	p->ready = 1;
}

/* What the front asks of us: its kind is all a control frame carries. */
static void
front_control(struct parent *p, uint64_t kind)
{
	switch (kind) {
	case OCB__IPC__CONTROL__KIND__READY:
		if (!p->ready) {
			print_ready(p);
			log_info("listening on 127.0.0.1:%u", p->port);
		}
		break;
	case OCB__IPC__CONTROL__KIND__RESTART_NETPROC:
		if (p->netproc.pid > 0) {
			log_warnx("front asked for a netproc restart");
			child_signal(&p->netproc, SIGKILL);
		}
		break;
	default:
		log_warnx("front sent an unexpected control message");
		break;
	}
}

static void
front_frame(struct chan *ch, Ocb__Ipc__Frame *f, void *arg)
{
	if (f->body_case != OCB__IPC__FRAME__BODY_CONTROL)
		chan_fail(ch, "unexpected frame");
	else
		front_control(arg, f->control->kind);
}

/* Out of memory decoding it: the kind is read from its wire bytes, so the
 * ready line or the restart is not lost, and the broker does not stop. */
static void
front_lost(struct chan *ch, const struct ipc_lost *lost, void *arg)
{
	if (lost->body_case != OCB__IPC__FRAME__BODY_CONTROL)
		chan_fail(ch, "unexpected frame");
	else
		front_control(arg, lost->control_kind);
}

static void
front_closed(struct chan *ch, enum chan_end end, const char *why, void *arg)
{
	struct parent *p = arg;

	/* Closed: the front is gone; SIGCHLD tells how. */
	if (end != CHAN_BAD)
		return;
	log_warnx("front channel: %s; stopping", why);
	parent_stop(p, 1);
	if (p->front.pid > 0)
		child_signal(&p->front, SIGTERM);
}

static const struct chan_cb front_cb = {
	front_frame, front_lost, front_closed, NULL
};

static int
self_path(char *out, size_t len, const char *argv0)
{
	ssize_t n = readlink("/proc/self/exe", out, len - 1);

	if (n > 0) {
		out[n] = '\0';
		return 0;
	}
	/* Without /proc: argv[0] resolved now, before anything can move. */
	if (realpath(argv0, out) != NULL)
		return 0;
	return -1;
}

static void
read_upstream_credentials(struct parent *p)
{
	const char *pw = getenv("OPENCODE_SERVER_PASSWORD");
	const char *user = getenv("OPENCODE_SERVER_USERNAME");

	if ((p->username = strdup(user != NULL && *user != '\0' ? user :
	    "opencode")) == NULL)
		fatal("strdup");
	if (pw != NULL && *pw != '\0') {
		p->password_len = strlen(pw);
		if ((p->password = malloc(p->password_len)) == NULL)
			fatal("malloc");
		memcpy(p->password, pw, p->password_len);
		wipe((char *)pw, p->password_len);
	}
	/* No child inherits them: only netproc gets them, over its channel. */
	unsetenv("OPENCODE_SERVER_PASSWORD");
	unsetenv("OPENCODE_SERVER_USERNAME");
}

int
parent_main(int argc, char **argv)
{
	struct parent p;
	struct event *ev_term, *ev_int, *ev_chld;
	char err[256];
	int sp[2], rc;

	memset(&p, 0, sizeof(p));
	p.listener = p.spawner_fd = p.self_fd = p.ca_fd = -1;
	p.spawner_pid = -1;
	p.front.role = "front";
	p.netproc.role = "netproc";
	p.front.errpipe = p.netproc.errpipe = -1;
	p.front.pidfd = p.netproc.pidfd = -1;
	p.backoff_ms = RESTART_FIRST_MS;
	chan_init(&p.front_chan, -1);
	ipc_reader_init(&p.spawner_in);

	switch (options_parse(argc, argv, &p.opt, err, sizeof(err))) {
	case OPTIONS_EXIT_OK:
		return 0;
	case OPTIONS_USAGE:
		fprintf(stderr, "ocbroker: %s\n", err);
		options_usage(stderr);
		return 64;	/* EX_USAGE */
	case OPTIONS_RUN:
		break;
	}
	/* Whatever our launcher left open is not ours to hold (nor to pass
	 * on): only stdio and --token-fd stay. */
	proc_close_except(STDERR_FILENO + 1, &p.opt.token_fd,
	    p.opt.token_fd > STDERR_FILENO ? 1 : 0);
	log_init("parent", p.opt.log_level, p.opt.use_syslog);
	signal(SIGPIPE, SIG_IGN);
	if (proc_no_core() == -1)
		fatal("cannot disable core dumps");

	if (!sandbox_available()) {
		if (!p.opt.insecure_no_sandbox)
			fatalx("no sandbox backend (%s) is available here; refusing "
			    "to start without --insecure-no-sandbox", sandbox_backend());
		log_warnx("running WITHOUT a sandbox (--insecure-no-sandbox)");
	} else if (p.opt.insecure_no_sandbox)
		log_warnx("running WITHOUT a sandbox (--insecure-no-sandbox); "
		    "backend %s left unused", sandbox_backend());
	else
		log_info("sandbox backend: %s", sandbox_backend());

#ifdef OCB_SANITIZERS
	/* LeakSanitizer needs /proc, which a chrooted child does not have. */
	if (geteuid() == 0)
		log_warnx("sanitizer build: the children keep root and no chroot");
	else
#endif
	if (geteuid() == 0) {
		if (sandbox_user_lookup(p.opt.user, &p.uid, &p.gid) == -1 ||
		    sandbox_chroot_prepare(SANDBOX_CHROOT_DIR) == -1)
			fatalx("cannot prepare the privilege drop");
		p.drop = 1;
		log_info("children will run as uid %ld in %s", (long)p.uid,
		    SANDBOX_CHROOT_DIR);
	}
	if (self_path(p.self, sizeof(p.self), argv[0]) == -1)
		fatal("cannot find our own binary");
	if ((p.devnull = open("/dev/null", O_RDWR | O_CLOEXEC)) == -1)
		fatal("/dev/null");
	read_upstream_credentials(&p);
#ifdef PARENT_SPAWNER
	/* Before the token exists: the spawner never holds it.  It takes
	 * netproc's credentials with it; the parent needs them no more. */
	spawner_start(&p);
	wipe(p.username, strlen(p.username));
	free(p.username);
	p.username = NULL;
	if (p.password != NULL) {
		wipe(p.password, p.password_len);
		free(p.password);
		p.password = NULL;
		p.password_len = 0;
	}
#endif
	if (p.opt.token_fd != -1) {
		rc = token_read_fd(p.opt.token_fd, p.token);
		if (rc == -1)
			fatalx("--token-fd: expected %d..%d printable bytes",
			    TOKEN_MIN_LEN, TOKEN_MAX_LEN);
		p.token_len = (size_t)rc;
	} else {
		if (token_generate(p.token) == -1)
			fatal("cannot get random bytes for the token");
		p.token_len = TOKEN_HEX_LEN;
		p.token_generated = 1;
	}
	if (bind_listener(&p) == -1)
		fatal("cannot listen on 127.0.0.1 port %u-%u", p.opt.port_lo,
		    p.opt.port_hi);

	if ((p.base = event_base_new()) == NULL)
		fatalx("event_base_new failed");
	ev_term = evsignal_new(p.base, SIGTERM, sigterm_cb, &p);
	ev_int = evsignal_new(p.base, SIGINT, sigterm_cb, &p);
	ev_chld = evsignal_new(p.base, SIGCHLD, sigchld_cb, &p);
	p.restart_timer = evtimer_new(p.base, restart_cb, &p);
	p.stop_timer = evtimer_new(p.base, stop_timeout_cb, &p);
	if (ev_term == NULL || ev_int == NULL || ev_chld == NULL ||
	    p.restart_timer == NULL || p.stop_timer == NULL ||
	    evsignal_add(ev_term, NULL) == -1 || evsignal_add(ev_int, NULL) == -1 ||
	    evsignal_add(ev_chld, NULL) == -1)
		fatalx("cannot set up signal handling");

	/* The front first: it gets its config, the listener, then netproc's end. */
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) == -1)
		fatal("socketpair");
	if (spawn_child(&p, &p.front, sp[0]) == -1)
		fatal("cannot start the front");
#ifdef PARENT_SPAWNER
	/* Its filter has no kill(2): without a pidfd it could not stop it. */
	if (p.front.pidfd == -1)
		fatal("pidfd_open of the front");
#endif
	close(sp[0]);
	chan_init(&p.front_chan, sp[1]);
	if (parent_send_config(&p, p.front_chan.fd, 1) == -1 ||
	    send_control_fd(&p.front_chan, OCB__IPC__CONTROL__KIND__LISTENER_FD,
	    p.listener) == -1)
		fatal("cannot configure the front");
	close(p.listener);
	p.listener = -1;
	if (start_netproc(&p) == -1)
		fatal("cannot start netproc");
	if (chan_start(&p.front_chan, p.base, &front_cb, &p) == -1)
		fatalx("cannot watch the front");

	if (!p.opt.insecure_no_sandbox && sandbox_enter(SANDBOX_PARENT) == -1)
		fatal("cannot enter the sandbox");
	event_base_dispatch(p.base);

	/* Everything released, so a sanitizer build can check for leaks. */
	child_release(&p.front);
	child_release(&p.netproc);
	chan_free(&p.front_chan);
	event_free(ev_term);
	event_free(ev_int);
	event_free(ev_chld);
	event_free(p.restart_timer);
	event_free(p.stop_timer);
	event_base_free(p.base);
#ifdef PARENT_SPAWNER
	/* EOF ends the spawner; reap it. */
	if (p.spawner_fd != -1)
		close(p.spawner_fd);
	if (p.spawner_pid > 0)
		while (waitpid(p.spawner_pid, NULL, 0) == -1 && errno == EINTR)
			;
#endif
	ipc_reader_free(&p.spawner_in);
	close(p.devnull);
	free(p.username);
	if (p.password != NULL) {
		wipe(p.password, p.password_len);
		free(p.password);
	}
	wipe(p.token, sizeof(p.token));
	if (!p.ready && p.exit_code == 0)
		p.exit_code = 1;
	log_debug("exiting with %d", p.exit_code);
	return p.exit_code;
}
