/*
 * Copyright (c) 2026 The ocbroker authors
 * SPDX-License-Identifier: ISC (the licence is in the file LICENSE)
 */

/*
 * One IPC channel over a socketpair, in the manner of tmux's proc_add_peer
 * and httpd's imsg_compose_event: the reader, the output queue, the libevent
 * watchers and the blocking paths used at start-up.  The front, netproc and
 * the parent each talk to their peers through it; what a frame means stays
 * with them (the callbacks).
 *
 * One convention for errors: a peer that closes, a failed read or write, or
 * a malformed frame stops the channel (never read nor written again) and is
 * reported once through closed; chan_free is the owner's.  A good frame lost
 * to out of memory goes to lost (the channel stays good) when the owner gives
 * one; no memory for the read buffer or for libevent is retried
 * CHAN_RETRY_MS later, the bytes waiting in the socket.
 */
#ifndef OCB_CHAN_H
#define OCB_CHAN_H

#include <stddef.h>

#include "common/buf.h"
#include "common/ipc.h"

#define CHAN_RETRY_MS	10	/* out of memory: read or write again then */

struct event;
struct event_base;
struct chan;

enum chan_end {
	CHAN_CLOSED,		/* the peer closed, or a read failed (errno) */
	CHAN_WRITE_FAILED,	/* errno says why */
	CHAN_BAD,		/* malformed, or refused by the owner (chan_fail) */
};

struct chan_cb {
	/* One frame; the channel frees it afterwards.  May chan_free. */
	void	(*frame)(struct chan *, Ocb__Ipc__Frame *, void *);
	/* A good frame lost to out of memory; NULL: it stops the channel as
	 * CHAN_BAD.  May chan_free. */
	void	(*lost)(struct chan *, const struct ipc_lost *, void *);
	/* The channel stopped; why is static text.  May chan_free. */
	void	(*closed)(struct chan *, enum chan_end, const char *why,
		    void *);
	/* The loop's write watcher left the output queue empty (the peer
	 * took everything that waited for it); NULL: not wanted.  Must not
	 * chan_free. */
	void	(*drained)(struct chan *, void *);
};

struct chan {
	int			 fd;		/* -1: none */
	struct ipc_reader	 in;
	struct buf		 out;
	size_t			 outq_max;	/* chan_send refuses above; 0: no cap */
	struct event		*rev, *wev, *retry;
	const struct chan_cb	*cb;
	void			*arg;
	int			 stopped;	/* closed was called */
	unsigned		 gen;		/* changes with chan_free */
};

/* Takes fd (or -1); only the blocking calls work until chan_start. */
void	chan_init(struct chan *, int fd);
/* Non-blocking from now on, reading with the callbacks; -1 (ENOMEM). */
int	chan_start(struct chan *, struct event_base *, const struct chan_cb *,
	    void *);
/* Hands out the frames already read (by a blocking read at start-up). */
void	chan_dispatch(struct chan *);
/* Queues one frame; written at once when no write is due (the rest of the
 * loop iteration's frames then leave together); never calls closed.  -1 with
 * errno ENOTCONN (none or stopped), EAGAIN (over outq_max), ENOMEM or
 * EMSGSIZE. */
int	chan_send(struct chan *, Ocb__Ipc__Frame *);
/* The same for a Reply or an Event, written by ipc_put.c. */
int	chan_send_reply(struct chan *, uint64_t conn_id, uint64_t request_id,
	    const uint8_t *msg, size_t len);
int	chan_send_event(struct chan *, const char *session_id,
	    const uint8_t *msg, size_t len);
/* Start-up and shutdown paths: queues one frame and writes everything
 * queued before returning (0 or -1). */
int	chan_send_blocking(struct chan *, Ocb__Ipc__Frame *);
int	chan_flush_blocking(struct chan *);
/* The same with descriptors attached to the frame's first byte. */
int	chan_send_fds(struct chan *, Ocb__Ipc__Frame *, const int *, size_t);
/* Reads until one frame arrives (start-up); 0 or -1. */
int	chan_read_blocking(struct chan *, Ocb__Ipc__Frame **);
/* The oldest descriptor received with SCM_RIGHTS, or -1. */
int	chan_take_fd(struct chan *);
/* The owner refuses what the peer sent: stops it as CHAN_BAD. */
void	chan_fail(struct chan *, const char *why);
/* Stops, closes and releases everything (wiped); fd becomes -1. */
void	chan_free(struct chan *);

#endif
