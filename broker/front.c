/*
 * Copyright (c) 2026 The ocbroker authors
 * SPDX-License-Identifier: ISC (the licence is in the file LICENSE)
 */

/*
 * The front process: start-up from the parent's channel, the listener, the
 * channel to netproc, signals.  Connections live in conn.c, routing in
 * dispatch.c.
 */
#include "config.h"

#include <sys/types.h>
#include <sys/socket.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "broker/front.h"
#include "common/log.h"
#include "common/proc.h"
#include "parent/parent.h"
#include "sandbox/sandbox.h"

#define ACCEPT_BURST		64	/* accepts per wake-up, so reads are not starved */
#define ACCEPT_PAUSE_MS		200	/* out of descriptors: try again then */
#define NETPROC_OUTQ_MAX	(64u * 1024 * 1024)
#define READ_RETRY_MS		10	/* out of memory for a channel's read buffer */

static void	netproc_attach(struct front *, int fd);

static void
accept_cb(evutil_socket_t fd, short what, void *arg)
{
	struct front *f = arg;

	for (int i = 0; i < ACCEPT_BURST && !f->stopping; i++) {
		int cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (cfd == -1) {
			if (errno == EMFILE || errno == ENFILE) {
				struct timeval tv = { 0, ACCEPT_PAUSE_MS * 1000 };

				log_warn("accept");
				event_del(f->accept_ev);
				evtimer_add(f->accept_pause, &tv);
			} else if (errno != EAGAIN && errno != EINTR &&
			    errno != ECONNABORTED)
				log_warn("accept");
			return;
		}
		conn_accept(f, cfd);
	}
}

static void
accept_resume_cb(evutil_socket_t fd, short what, void *arg)
{
	struct front *f = arg;

	if (!f->stopping)
		event_add(f->accept_ev, NULL);
}

static void
netproc_detach(struct front *f)
{
	struct netproc_chan *np = &f->np;

	if (np->fd == -1)
		return;
	/* NULL when netproc_attach ran out of memory. */
	if (np->rev != NULL)
		event_free(np->rev);
	if (np->wev != NULL)
		event_free(np->wev);
	np->rev = np->wev = NULL;
	close(np->fd);
	np->fd = -1;
	ipc_reader_free(&np->in);
	buf_free(&np->out);
	dispatch_netproc_down(f);
}

void
front_restart_netproc(struct front *f, const char *why)
{
	Ocb__Ipc__Frame fr = OCB__IPC__FRAME__INIT;
	Ocb__Ipc__Control ctl = OCB__IPC__CONTROL__INIT;
	struct buf out;

	/* A peer that misbehaved once is never read again. */
	log_warnx("netproc: %s; asking for a restart", why);
	netproc_detach(f);
	ctl.kind = OCB__IPC__CONTROL__KIND__RESTART_NETPROC;
	fr.body_case = OCB__IPC__FRAME__BODY_CONTROL;
	fr.control = &ctl;
	buf_init(&out);
	if (ipc_frame_pack(&out, &fr) == 0)
		(void)ipc_flush_blocking(&out, f->parent_fd);
	buf_free(&out);
}

static void
netproc_flush(struct front *f)
{
	struct netproc_chan *np = &f->np;

	switch (buf_flush(&np->out, np->fd)) {
	case BUF_FLUSHED:
		event_del(np->wev);
		break;
	case BUF_BLOCKED:
		if (event_add(np->wev, NULL) == -1) {
			/* Out of memory in libevent: try again shortly. */
			struct timeval tv = { 0, READ_RETRY_MS * 1000 };

			evtimer_add(f->read_retry, &tv);
		}
		break;
	default:
		log_warn("netproc: write");
		netproc_detach(f);
		break;
	}
}

static void
netproc_write_cb(evutil_socket_t fd, short what, void *arg)
{
	netproc_flush(arg);
}

int
front_netproc_send(struct front *f, Ocb__Ipc__Frame *fr)
{
	struct netproc_chan *np = &f->np;

	if (np->fd == -1) {
		errno = ENOTCONN;
		return -1;
	}
	if (buf_used(&np->out) > NETPROC_OUTQ_MAX) {
		errno = EAGAIN;
		return -1;
	}
	if (ipc_frame_pack(&np->out, fr) == -1)
		return -1;	/* ENOMEM, or EMSGSIZE (a bug: see ipc.h) */
	if (!event_pending(np->wev, EV_WRITE, NULL))
		event_active(np->wev, EV_WRITE, 1);
	return 0;
}

/*
 * No memory for a channel's read buffer: the bytes stay in the socket, and the
 * channel is read again a little later (not at once: that would spin).  The
 * same timer retries a write libevent had no memory to wait for.
 */
static void
read_later(struct front *f, struct event *ev)
{
	struct timeval tv = { 0, READ_RETRY_MS * 1000 };

	event_del(ev);
	evtimer_add(f->read_retry, &tv);
}

static void
read_retry_cb(evutil_socket_t fd, short what, void *arg)
{
	struct front *f = arg;

	if (f->np.fd != -1 && f->np.rev != NULL)
		event_add(f->np.rev, NULL);
	event_add(f->parent_ev, NULL);
	if (f->np.fd != -1 && buf_used(&f->np.out) > 0)
		netproc_flush(f);
}

static void
netproc_read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct front *f = arg;
	struct netproc_chan *np = &f->np;
	Ocb__Ipc__Frame *fr;
	enum ipc_status st = IPC_NEED_MORE;
	ssize_t n;

	n = ipc_read(&np->in, fd);
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n == -1 && errno == ENOMEM) {
		read_later(f, np->rev);
		return;
	}
	if (n <= 0) {
		log_warnx("netproc went away");
		netproc_detach(f);
		return;
	}
	while (np->fd != -1) {
		st = ipc_reader_next(&np->in, &fr);
		if (st == IPC_FRAME) {
			dispatch_netproc_frame(f, fr);
			ipc_frame_free(fr);
		} else if (st == IPC_NOMEM)
			dispatch_netproc_lost(f, &np->in.lost);
		else
			break;
	}
	if (np->fd != -1 && st == IPC_BAD)
		front_restart_netproc(f, np->in.why);
}

static void
netproc_attach(struct front *f, int fd)
{
	struct netproc_chan *np = &f->np;

	netproc_detach(f);
	fcntl(fd, F_SETFL, O_NONBLOCK);
	np->fd = fd;
	ipc_reader_init(&np->in);
	/* A reply lost to out of memory costs its request, not the channel. */
	np->in.nomem_ok = 1;
	buf_init(&np->out);
	np->rev = event_new(f->base, fd, EV_READ | EV_PERSIST, netproc_read_cb, f);
	np->wev = event_new(f->base, fd, EV_WRITE | EV_PERSIST, netproc_write_cb, f);
	if (np->rev == NULL || np->wev == NULL || event_add(np->rev, NULL) == -1) {
		/* Out of memory: this netproc cannot be used; ask for another
		 * rather than end the front and every connection with it. */
		front_restart_netproc(f, "cannot watch it: out of memory");
		return;
	}
	np->connected = 1;
	log_debug("netproc attached");
}

static void
parent_frames(struct front *f)
{
	Ocb__Ipc__Frame *fr;
	enum ipc_status st;

	for (;;) {
		int nfd;

		st = ipc_reader_next(&f->parent_in, &fr);
		if (st == IPC_NOMEM) {
			/* Its kind is on the wire and its descriptor queued. */
			if (f->parent_in.lost.body_case !=
			    OCB__IPC__FRAME__BODY_CONTROL ||
			    f->parent_in.lost.control_kind !=
			    OCB__IPC__CONTROL__KIND__NETPROC_FD ||
			    (nfd = ipc_reader_take_fd(&f->parent_in)) == -1)
				fatalx("the parent sent something unexpected");
			netproc_attach(f, nfd);
			continue;
		}
		if (st != IPC_FRAME)
			break;
		if (fr->body_case != OCB__IPC__FRAME__BODY_CONTROL ||
		    fr->control->kind != OCB__IPC__CONTROL__KIND__NETPROC_FD ||
		    (nfd = ipc_reader_take_fd(&f->parent_in)) == -1)
			fatalx("the parent sent something unexpected");
		netproc_attach(f, nfd);
		ipc_frame_free(fr);
	}
	if (st == IPC_BAD)
		fatalx("parent channel: %s", f->parent_in.why);
}

static void
parent_read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct front *f = arg;
	ssize_t n;

	n = ipc_read(&f->parent_in, fd);
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n == -1 && errno == ENOMEM) {
		read_later(f, f->parent_ev);
		return;
	}
	if (n <= 0)
		fatalx("the parent went away");
	parent_frames(f);
}

/* Every FRONT_REFUSED_LOG_S while connections are being refused. */
static void
refused_log_cb(evutil_socket_t fd, short what, void *arg)
{
	struct front *f = arg;
	struct timeval tv = { FRONT_REFUSED_LOG_S, 0 };

	if (f->refused == 0)
		return;		/* quiet again: the next refusal logs at once */
	conn_refused_log(f);
	evtimer_add(f->refused_ev, &tv);
}

static void
shutdown_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	struct front *f = arg;

	log_warnx("%zu connections did not close in %d s", f->nconns,
	    FRONT_SHUTDOWN_S);
	event_base_loopexit(f->base, NULL);
}

static void
sigterm_cb(evutil_socket_t sig, short what, void *arg)
{
	struct front *f = arg;
	struct timeval tv = { FRONT_SHUTDOWN_S, 0 };

	if (f->stopping)
		return;
	f->stopping = 1;
	log_info("shutting down: closing %zu connections", f->nconns);
	conn_refused_log(f);
	event_del(f->accept_ev);
	for (size_t i = 0; i < FRONT_MAX_CONNS; i++)
		if (f->conns[i] != NULL)
			conn_close(f->conns[i], WS_CLOSE_GOING_AWAY,
			    "server shutting down");
	if (f->nconns == 0) {
		event_base_loopexit(f->base, NULL);
		return;
	}
	if ((f->shutdown_timer = evtimer_new(f->base, shutdown_timeout_cb,
	    f)) != NULL)
		evtimer_add(f->shutdown_timer, &tv);
}

/* Reads the config, the listener and netproc's first end from the parent. */
static void
front_configure(struct front *f)
{
	Ocb__Ipc__Frame *fr;
	int have_config = 0, np_fd = -1;

	f->listener = -1;
	while (!have_config || f->listener == -1 || np_fd == -1) {
		if (ipc_read_frame_blocking(&f->parent_in, PROC_IPC_FD, &fr) == -1)
			fatalx("cannot read the configuration");
		if (fr->body_case == OCB__IPC__FRAME__BODY_CONFIG && !have_config) {
			Ocb__Ipc__Config *c = fr->config;

			if (c->token.len == 0 || c->token.len > TOKEN_MAX_LEN ||
			    c->port == 0 || c->port > 65535 ||
			    c->max_message == 0)
				fatalx("bad configuration");
			memcpy(f->token, c->token.data, c->token.len);
			f->token_len = c->token.len;
			f->port = (uint16_t)c->port;
			f->max_message = c->max_message;
			f->n_allow_origins = c->n_allow_origins;
			f->allow_origins = calloc(c->n_allow_origins + 1,
			    sizeof(char *));
			if (f->allow_origins == NULL)
				fatal("calloc");
			for (size_t i = 0; i < c->n_allow_origins; i++)
				if ((f->allow_origins[i] =
				    strdup(c->allow_origins[i])) == NULL)
					fatal("strdup");
			log_setlevel((int)c->log_level);
			f->insecure = c->insecure_no_sandbox;
			f->drop = c->drop_privileges;
			f->drop_uid = c->uid;
			f->drop_gid = c->gid;
			snprintf(f->chroot_dir, sizeof(f->chroot_dir), "%s",
			    c->chroot_dir);
			have_config = 1;
		} else if (fr->body_case == OCB__IPC__FRAME__BODY_CONTROL &&
		    fr->control->kind == OCB__IPC__CONTROL__KIND__LISTENER_FD &&
		    f->listener == -1) {
			if ((f->listener = ipc_reader_take_fd(&f->parent_in)) == -1)
				fatalx("no listener came with its frame");
		} else if (fr->body_case == OCB__IPC__FRAME__BODY_CONTROL &&
		    fr->control->kind == OCB__IPC__CONTROL__KIND__NETPROC_FD &&
		    np_fd == -1) {
			if ((np_fd = ipc_reader_take_fd(&f->parent_in)) == -1)
				fatalx("no netproc end came with its frame");
		} else
			fatalx("unexpected frame during start-up");
		ipc_frame_free(fr);
	}
	netproc_attach(f, np_fd);
}

int
front_main(void)
{
	struct front f;
	struct event *ev_term, *ev_int;
	Ocb__Ipc__Frame fr = OCB__IPC__FRAME__INIT;
	Ocb__Ipc__Control ctl = OCB__IPC__CONTROL__INIT;
	struct buf out;

	log_init("front", LOG_LEVEL_INFO, 0);
	signal(SIGPIPE, SIG_IGN);
	if (proc_no_core() == -1)
		fatal("cannot disable core dumps");
	if (proc_check_ipc_fd() == -1)
		fatalx("fd %d is not our channel", PROC_IPC_FD);

	memset(&f, 0, sizeof(f));
	TAILQ_INIT(&f.open);
	f.np.fd = -1;
	f.parent_fd = PROC_IPC_FD;
	ipc_reader_init(&f.parent_in);
	if ((f.base = event_base_new()) == NULL)
		fatalx("event_base_new failed");
	front_configure(&f);

	fcntl(f.parent_fd, F_SETFL, O_NONBLOCK);
	/* From here on a failed allocation costs a request or a connection. */
	f.parent_in.nomem_ok = 1;
	f.read_retry = evtimer_new(f.base, read_retry_cb, &f);
	f.accept_ev = event_new(f.base, f.listener, EV_READ | EV_PERSIST,
	    accept_cb, &f);
	f.accept_pause = evtimer_new(f.base, accept_resume_cb, &f);
	f.refused_ev = evtimer_new(f.base, refused_log_cb, &f);
	f.parent_ev = event_new(f.base, f.parent_fd, EV_READ | EV_PERSIST,
	    parent_read_cb, &f);
	ev_term = evsignal_new(f.base, SIGTERM, sigterm_cb, &f);
	ev_int = evsignal_new(f.base, SIGINT, sigterm_cb, &f);
	if (f.accept_ev == NULL || f.accept_pause == NULL ||
	    f.refused_ev == NULL || f.read_retry == NULL ||
	    f.parent_ev == NULL || ev_term == NULL || ev_int == NULL ||
	    event_add(f.accept_ev, NULL) == -1 ||
	    event_add(f.parent_ev, NULL) == -1 ||
	    evsignal_add(ev_term, NULL) == -1 || evsignal_add(ev_int, NULL) == -1)
		fatalx("cannot set up the event loop");

	/* Everything this process will ever open is open now. */
	if (f.drop && sandbox_drop_privileges(f.chroot_dir, f.drop_uid,
	    f.drop_gid) == -1)
		fatalx("cannot drop privileges");
	if (!f.insecure && sandbox_enter(SANDBOX_FRONT) == -1)
		fatal("cannot enter the sandbox");

	ctl.kind = OCB__IPC__CONTROL__KIND__READY;
	fr.body_case = OCB__IPC__FRAME__BODY_CONTROL;
	fr.control = &ctl;
	buf_init(&out);
	if (ipc_frame_pack(&out, &fr) == -1 ||
	    ipc_flush_blocking(&out, f.parent_fd) == -1)
		fatalx("cannot tell the parent we are ready");
	buf_free(&out);

	/* Anything that came in the same read as the start-up frames. */
	parent_frames(&f);
	event_base_dispatch(f.base);

	/* Everything released, so a sanitizer build can check for leaks. */
	for (size_t i = 0; i < FRONT_MAX_CONNS; i++)
		if (f.conns[i] != NULL)
			conn_destroy(f.conns[i]);
	netproc_detach(&f);
	event_free(f.accept_ev);
	event_free(f.accept_pause);
	conn_refused_log(&f);
	event_free(f.refused_ev);
	event_free(f.read_retry);
	event_free(f.parent_ev);
	event_free(ev_term);
	event_free(ev_int);
	if (f.shutdown_timer != NULL)
		event_free(f.shutdown_timer);
	event_base_free(f.base);
	ipc_reader_free(&f.parent_in);
	close(f.listener);
	for (size_t i = 0; i < f.n_allow_origins; i++)
		free(f.allow_origins[i]);
	free(f.allow_origins);
	wipe(f.token, sizeof(f.token));
	log_debug("exiting");
	return 0;
}
