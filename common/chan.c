/*
 * Copyright (c) 2026 The ocbroker authors
 * SPDX-License-Identifier: ISC (the licence is in the file LICENSE)
 */

/* An IPC channel: reader, output queue, events; see chan.h. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "common/chan.h"
#include "common/ipc_put.h"
#include "common/timer.h"

void
chan_init(struct chan *ch, int fd)
{
	unsigned gen = ch->gen;

	memset(ch, 0, sizeof(*ch));
	ch->gen = gen + 1;
	ch->fd = fd;
	ipc_reader_init(&ch->in);
	buf_init(&ch->out);
}

/* Deletes, or frees, each of the channel's events that was made. */
static void
chan_events_end(struct chan *ch, int free_them)
{
	struct event **ev[] = { &ch->rev, &ch->wev, &ch->retry };

	for (size_t i = 0; i < sizeof(ev) / sizeof(ev[0]); i++) {
		if (*ev[i] == NULL)
			continue;
		if (free_them) {
			event_free(*ev[i]);
			*ev[i] = NULL;
		} else
			event_del(*ev[i]);
	}
}

/* Stops watching and tells the owner, once; the owner may free the channel. */
static void
chan_stop(struct chan *ch, enum chan_end end, const char *why)
{
	int saved = errno;

	if (ch->stopped)
		return;
	ch->stopped = 1;
	chan_events_end(ch, 0);
	errno = saved;
	ch->cb->closed(ch, end, why, ch->arg);
}

void
chan_fail(struct chan *ch, const char *why)
{
	ch->in.bad = 1;
	ch->in.why = why;
	chan_stop(ch, CHAN_BAD, why);
}

static void
chan_retry_later(struct chan *ch)
{
	timer_soon(ch->retry, CHAN_RETRY_MS);
}

static void
chan_flush(struct chan *ch)
{
	switch (buf_flush(&ch->out, ch->fd)) {
	case BUF_FLUSHED:
		event_del(ch->wev);
		if (ch->cb->drained != NULL)
			ch->cb->drained(ch, ch->arg);
		break;
	case BUF_BLOCKED:
		/* Out of memory in libevent: try again shortly. */
		if (event_add(ch->wev, NULL) == -1)
			chan_retry_later(ch);
		break;
	default:
		chan_stop(ch, CHAN_WRITE_FAILED, "write");
		break;
	}
}

void
chan_dispatch(struct chan *ch)
{
	unsigned gen = ch->gen;
	Ocb__Ipc__Frame *fr;
	enum ipc_status st;

	/* A callback may stop or free the channel: then nothing more. */
	while (ch->gen == gen && !ch->stopped) {
		st = ipc_reader_next(&ch->in, &fr);
		if (st == IPC_FRAME) {
			ch->cb->frame(ch, fr, ch->arg);
			if (!ipc_frame_is_view(&ch->in, fr))
				ipc_frame_free(fr);
		} else if (st == IPC_NOMEM)
			ch->cb->lost(ch, &ch->in.lost, ch->arg);
		else {
			if (st == IPC_BAD)
				chan_stop(ch, CHAN_BAD, ch->in.why);
			break;
		}
	}
}

static void
chan_read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct chan *ch = arg;
	ssize_t n;

	n = ipc_read(&ch->in, ch->fd);
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n == -1 && errno == ENOMEM) {
		/* The bytes wait in the socket; not at once, that would spin. */
		event_del(ch->rev);
		chan_retry_later(ch);
		return;
	}
	if (n <= 0) {
		if (n == 0)
			errno = 0;
		chan_stop(ch, CHAN_CLOSED, n == 0 ? "closed" : "read");
		return;
	}
	chan_dispatch(ch);
}

static void
chan_write_cb(evutil_socket_t fd, short what, void *arg)
{
	chan_flush(arg);
}

static void
chan_retry_cb(evutil_socket_t fd, short what, void *arg)
{
	struct chan *ch = arg;

	if (ch->stopped)
		return;
	if (!event_pending(ch->rev, EV_READ, NULL) &&
	    event_add(ch->rev, NULL) == -1)
		chan_retry_later(ch);
	if (buf_used(&ch->out) > 0)
		chan_flush(ch);
}

int
chan_start(struct chan *ch, struct event_base *base, const struct chan_cb *cb,
    void *arg)
{
	ch->cb = cb;
	ch->arg = arg;
	ch->in.nomem_ok = cb->lost != NULL;
	if (ch->fd == -1 || fcntl(ch->fd, F_SETFL, O_NONBLOCK) == -1)
		return -1;
	ch->rev = event_new(base, ch->fd, EV_READ | EV_PERSIST, chan_read_cb, ch);
	ch->wev = event_new(base, ch->fd, EV_WRITE | EV_PERSIST, chan_write_cb,
	    ch);
	ch->retry = evtimer_new(base, chan_retry_cb, ch);
	if (ch->rev == NULL || ch->wev == NULL || ch->retry == NULL ||
	    event_add(ch->rev, NULL) == -1) {
		errno = ENOMEM;
		return -1;
	}
	/* Frames queued before the start go out now. */
	if (buf_used(&ch->out) > 0)
		event_active(ch->wev, EV_WRITE, 1);
	return 0;
}

/* 0 when a frame may be queued; -1 with errno ENOTCONN or EAGAIN. */
static int
chan_can_send(struct chan *ch)
{
	if (ch->fd == -1 || ch->stopped) {
		errno = ENOTCONN;
		return -1;
	}
	if (ch->outq_max > 0 && buf_used(&ch->out) > ch->outq_max) {
		errno = EAGAIN;
		return -1;
	}
	return 0;
}

static void	chan_kick(struct chan *);

int
chan_send(struct chan *ch, Ocb__Ipc__Frame *fr)
{
	if (chan_can_send(ch) == -1 || ipc_frame_pack(&ch->out, fr) == -1)
		return -1;
	chan_kick(ch);
	return 0;
}

int
chan_send_reply(struct chan *ch, uint64_t conn_id, uint64_t request_id,
    const uint8_t *msg, size_t len)
{
	if (chan_can_send(ch) == -1 ||
	    ipc_put_reply(&ch->out, conn_id, request_id, msg, len) == -1)
		return -1;
	chan_kick(ch);
	return 0;
}

int
chan_send_event(struct chan *ch, const char *session_id, const uint8_t *msg,
    size_t len)
{
	if (chan_can_send(ch) == -1 ||
	    ipc_put_event(&ch->out, session_id, msg, len) == -1)
		return -1;
	chan_kick(ch);
	return 0;
}

/* After a frame was queued. */
static void
chan_kick(struct chan *ch)
{
	if (ch->wev == NULL || event_pending(ch->wev, EV_WRITE, NULL))
		return;		/* not started, or a write is already due */
	/*
	 * No write due: this frame goes out now, so the first of a burst does
	 * not wait for the rest of the callback that made it.  The frames
	 * that follow in this loop iteration join one write (the event made
	 * active).  Only the loop reports a failed write: a send never calls
	 * closed under its caller.
	 */
	if (buf_flush(&ch->out, ch->fd) == BUF_BLOCKED) {
		if (event_add(ch->wev, NULL) == -1)
			chan_retry_later(ch);
	} else
		event_active(ch->wev, EV_WRITE, 1);
}

int
chan_flush_blocking(struct chan *ch)
{
	if (ch->fd == -1) {
		errno = ENOTCONN;
		return -1;
	}
	if (ipc_flush_blocking(&ch->out, ch->fd) == -1)
		return -1;
	if (ch->wev != NULL)
		event_del(ch->wev);
	return 0;
}

int
chan_send_blocking(struct chan *ch, Ocb__Ipc__Frame *fr)
{
	if (ch->fd == -1) {
		errno = ENOTCONN;
		return -1;
	}
	if (ipc_frame_pack(&ch->out, fr) == -1)
		return -1;
	return chan_flush_blocking(ch);
}

int
chan_send_fds(struct chan *ch, Ocb__Ipc__Frame *fr, const int *fds,
    size_t nfds)
{
	/* What is queued goes first, so that the frames keep their order. */
	if (chan_flush_blocking(ch) == -1)
		return -1;
	return ipc_send_fds(ch->fd, fr, fds, nfds);
}

int
chan_read_blocking(struct chan *ch, Ocb__Ipc__Frame **out)
{
	if (ch->fd == -1) {
		errno = ENOTCONN;
		return -1;
	}
	return ipc_read_frame_blocking(&ch->in, ch->fd, out);
}

int
chan_take_fd(struct chan *ch)
{
	return ipc_reader_take_fd(&ch->in);
}

void
chan_free(struct chan *ch)
{
	/* libevent allows an event to be freed from its own callback. */
	chan_events_end(ch, 1);
	if (ch->fd != -1)
		close(ch->fd);
	ch->fd = -1;
	ch->stopped = 1;
	ipc_reader_free(&ch->in);
	buf_free(&ch->out);
	ch->gen++;
}
