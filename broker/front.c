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
	if (f->np.chan.fd == -1)
		return;
	chan_free(&f->np.chan);
	dispatch_netproc_down(f);
}

void
front_restart_netproc(struct front *f, const char *why)
{
	Ocb__Ipc__Frame fr = OCB__IPC__FRAME__INIT;
	Ocb__Ipc__Control ctl = OCB__IPC__CONTROL__INIT;

	/* A peer that misbehaved once is never read again. */
	log_warnx("netproc: %s; asking for a restart", why);
	netproc_detach(f);
	ctl.kind = OCB__IPC__CONTROL__KIND__RESTART_NETPROC;
	fr.body_case = OCB__IPC__FRAME__BODY_CONTROL;
	fr.control = &ctl;
	(void)chan_send_blocking(&f->parent, &fr);
}

int
front_netproc_send(struct front *f, Ocb__Ipc__Frame *fr)
{
	/* ENOTCONN, EAGAIN (over NETPROC_OUTQ_MAX), ENOMEM, or EMSGSIZE (a
	 * bug: see ipc.h). */
	return chan_send(&f->np.chan, fr);
}

static void
netproc_frame(struct chan *ch, Ocb__Ipc__Frame *fr, void *arg)
{
	dispatch_netproc_frame(arg, fr);
}

static void
netproc_lost(struct chan *ch, const struct ipc_lost *lost, void *arg)
{
	dispatch_netproc_lost(arg, lost);
}

static void
netproc_closed(struct chan *ch, enum chan_end end, const char *why, void *arg)
{
	struct front *f = arg;

	switch (end) {
	case CHAN_CLOSED:
		log_warnx("netproc went away");
		netproc_detach(f);
		break;
	case CHAN_WRITE_FAILED:
		log_warn("netproc: write");
		netproc_detach(f);
		break;
	case CHAN_BAD:
		front_restart_netproc(f, why);
		break;
	}
}

/* A reply lost to out of memory costs its request, not the channel. */
static const struct chan_cb netproc_cb = {
	netproc_frame, netproc_lost, netproc_closed, NULL
};

static void
netproc_attach(struct front *f, int fd)
{
	netproc_detach(f);
	chan_init(&f->np.chan, fd);
	f->np.chan.outq_max = NETPROC_OUTQ_MAX;
	/* Replies and events are passed on as they came: read in place. */
	f->np.chan.in.views = 1;
	if (chan_start(&f->np.chan, f->base, &netproc_cb, f) == -1) {
		/* Out of memory: this netproc cannot be used; ask for another
		 * rather than end the front and every connection with it. */
		front_restart_netproc(f, "cannot watch it: out of memory");
		return;
	}
	f->np.connected = 1;
	log_debug("netproc attached");
}

/* The parent sends one thing after start-up: a new netproc's end. */
static void
parent_netproc_fd(struct front *f, Ocb__Ipc__Frame__BodyCase body,
    uint64_t kind)
{
	int nfd;

	if (body != OCB__IPC__FRAME__BODY_CONTROL ||
	    kind != OCB__IPC__CONTROL__KIND__NETPROC_FD ||
	    (nfd = chan_take_fd(&f->parent)) == -1)
		fatalx("the parent sent something unexpected");
	netproc_attach(f, nfd);
}

static void
parent_frame(struct chan *ch, Ocb__Ipc__Frame *fr, void *arg)
{
	parent_netproc_fd(arg, fr->body_case, fr->body_case ==
	    OCB__IPC__FRAME__BODY_CONTROL ? fr->control->kind : 0);
}

static void
parent_lost(struct chan *ch, const struct ipc_lost *lost, void *arg)
{
	/* Its kind is on the wire and its descriptor queued. */
	parent_netproc_fd(arg, lost->body_case, lost->control_kind);
}

static void
parent_closed(struct chan *ch, enum chan_end end, const char *why, void *arg)
{
	if (end == CHAN_BAD)
		fatalx("parent channel: %s", why);
	fatalx("the parent went away");
}

/* From start-up on a failed allocation costs a request or a connection. */
static const struct chan_cb parent_cb = {
	parent_frame, parent_lost, parent_closed, NULL
};

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
		if (chan_read_blocking(&f->parent, &fr) == -1)
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
			if ((f->listener = chan_take_fd(&f->parent)) == -1)
				fatalx("no listener came with its frame");
		} else if (fr->body_case == OCB__IPC__FRAME__BODY_CONTROL &&
		    fr->control->kind == OCB__IPC__CONTROL__KIND__NETPROC_FD &&
		    np_fd == -1) {
			if ((np_fd = chan_take_fd(&f->parent)) == -1)
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

	log_init("front", LOG_LEVEL_INFO, 0);
	signal(SIGPIPE, SIG_IGN);
	if (proc_no_core() == -1)
		fatal("cannot disable core dumps");
	if (proc_check_ipc_fd() == -1)
		fatalx("fd %d is not our channel", PROC_IPC_FD);

	memset(&f, 0, sizeof(f));
	TAILQ_INIT(&f.open);
	chan_init(&f.np.chan, -1);
	chan_init(&f.parent, PROC_IPC_FD);
	if ((f.base = event_base_new()) == NULL)
		fatalx("event_base_new failed");
	front_configure(&f);

	f.accept_ev = event_new(f.base, f.listener, EV_READ | EV_PERSIST,
	    accept_cb, &f);
	f.accept_pause = evtimer_new(f.base, accept_resume_cb, &f);
	f.refused_ev = evtimer_new(f.base, refused_log_cb, &f);
	ev_term = evsignal_new(f.base, SIGTERM, sigterm_cb, &f);
	ev_int = evsignal_new(f.base, SIGINT, sigterm_cb, &f);
	if (f.accept_ev == NULL || f.accept_pause == NULL ||
	    f.refused_ev == NULL || ev_term == NULL || ev_int == NULL ||
	    event_add(f.accept_ev, NULL) == -1 ||
	    chan_start(&f.parent, f.base, &parent_cb, &f) == -1 ||
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
	if (chan_send_blocking(&f.parent, &fr) == -1)
		fatalx("cannot tell the parent we are ready");

	/* Anything that came in the same read as the start-up frames. */
	chan_dispatch(&f.parent);
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
	chan_free(&f.parent);
	event_free(ev_term);
	event_free(ev_int);
	if (f.shutdown_timer != NULL)
		event_free(f.shutdown_timer);
	event_base_free(f.base);
	close(f.listener);
	for (size_t i = 0; i < f.n_allow_origins; i++)
		free(f.allow_origins[i]);
	free(f.allow_origins);
	wipe(f.token, sizeof(f.token));
	log_debug("exiting");
	return 0;
}
