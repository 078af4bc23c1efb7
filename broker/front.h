/*
 * Copyright (c) 2026 The ocbroker authors
 * SPDX-License-Identifier: ISC (the licence is in the file LICENSE)
 */

/*
 * The front: one libevent loop that owns every client connection.  It does the
 * HTTP upgrade, RFC 6455 framing, the auth handshake, routing by request_id and
 * the fan-out of events.  It decodes protobuf but never parses JSON, never opens
 * a file and never creates or connects a socket: requests go to netproc over the
 * inherited socketpair.
 */
#ifndef OCB_FRONT_H
#define OCB_FRONT_H

#include <sys/queue.h>
#include <stdint.h>

#include <event2/event.h>

#include "broker/http_head.h"
#include "common/buf.h"
#include "common/chan.h"
#include "common/ipc.h"
#include "common/token.h"
#include "common/ws_frame.h"
#include "proto/messages.pb-c.h"

#define FRONT_MAX_CONNS		1024	/* accepted connections at once */
#define FRONT_RETRY_AFTER_S	5	/* past FRONT_MAX_CONNS: 503 with this Retry-After */
#define FRONT_REFUSED_LOG_S	10	/* refusals are counted and logged this often */
#define FRONT_MAX_INFLIGHT	64	/* requests in flight per connection */
#define FRONT_HEAD_TIMEOUT_S	5	/* opening handshake must be complete by then */
#define FRONT_AUTH_TIMEOUT_S	5	/* auth handshake after the upgrade */
#define FRONT_LINGER_S		2	/* after our close: drain the peer this long */
#define FRONT_CLOSE_FLUSH_S	5	/* a peer that reads nothing is cut off then */
#define FRONT_READ_CHUNK	16384
/*
 * The send queue of a connection counts every frame queued (replies, events,
 * the one pong owed, the close).  Above OUTQ_HIGH its socket is not read
 * (and ChatTokens are merged) until it is below OUTQ_LOW; above OUTQ_MAX the
 * connection is closed with 1013.  Before auth the caps are PREAUTH_*.
 */
#define FRONT_OUTQ_MAX		(8u * 1024 * 1024)	/* queued bytes per connection */
#define FRONT_OUTQ_HIGH		(1u * 1024 * 1024)	/* above: merge, stop reading */
#define FRONT_OUTQ_LOW		(FRONT_OUTQ_HIGH / 4)	/* below: read again */
#define FRONT_PREAUTH_OUTQ_MAX	(64u * 1024)
#define FRONT_PREAUTH_OUTQ_HIGH	(16u * 1024)
#define FRONT_PREAUTH_OUTQ_LOW	(4u * 1024)
#define FRONT_MERGE_MAX		4096	/* a merged frame grows to this, then a new one starts */
#define FRONT_FINAL_MAX		512	/* a close frame or an HTTP refusal */
#define FRONT_MAX_FILTER	64	/* session ids in one Subscribe */
#define FRONT_SHUTDOWN_S	2	/* SIGTERM: time to flush the 1001 closes */

enum conn_state {
	CONN_HEAD,		/* reading the HTTP upgrade request */
	CONN_AUTH,		/* upgraded, waiting for AuthHandshake */
	CONN_OPEN,		/* authenticated */
	CONN_CLOSING,		/* close frame or HTTP error queued; flushing */
	CONN_LINGER,		/* flushed and shut down for writing; draining input */
};

struct front;

struct conn {
	struct front		*front;
	uint64_t		 id;		/* slot | generation << 16 */
	int			 fd;
	enum conn_state		 state;
	struct event		*rev, *wev, *timer;
	struct http_head_parser	*head;		/* CONN_HEAD only */
	struct ws_parser	 ws;
	int			 ws_ready;
	int			 dead;		/* destroyed from its timer callback */
	int			 write_scheduled;
	int			 read_paused;	/* send queue above its high mark */
	struct buf		 out;
	size_t			 pong_end;	/* queued pong ends here in out, 0: none */
	/* The last bytes (close frame, HTTP refusal), sent once out is empty:
	 * held here so that closing never needs memory. */
	uint8_t			 final[FRONT_FINAL_MAX];
	size_t			 final_len, final_off;
	uint64_t		 inflight[FRONT_MAX_INFLIGHT];
	size_t			 ninflight;
	size_t			 tail_len;	/* last queued binary frame, 0: none */
	size_t			 tail_hlen;	/* its WebSocket header */
	int			 pressure;	/* above FRONT_OUTQ_HIGH: merging */
	uint64_t		 merged;	/* ChatTokens merged, for the log */
	char			*filter[FRONT_MAX_FILTER];	/* Subscribe */
	size_t			 nfilter;
	TAILQ_ENTRY(conn)	 open_entry;	/* in front->open while CONN_OPEN (conn.c) */
};

struct netproc_chan {
	struct chan		 chan;		/* fd -1 while netproc is down */
	int			 connected;	/* its event stream is up */
};

struct front {
	struct event_base	*base;
	/* configuration from the parent */
	char			 token[TOKEN_MAX_LEN + 1];
	size_t			 token_len;
	uint16_t		 port;
	char			**allow_origins;
	size_t			 n_allow_origins;
	uint64_t		 max_message;

	int			 listener;
	struct event		*accept_ev;
	struct event		*accept_pause;	/* EMFILE back-off */

	struct chan		 parent;

	struct netproc_chan	 np;

	struct conn		*conns[FRONT_MAX_CONNS];
	uint16_t		 generation[FRONT_MAX_CONNS];
	size_t			 nconns;
	uint64_t		 refused;	/* 503s not logged yet */
	uint64_t		 refused_total;	/* logged so far */
	struct event		*refused_ev;	/* logs them, then stops */
	TAILQ_HEAD(, conn)	 open;		/* authenticated connections */

	int			 stopping;
	struct event		*shutdown_timer;
	int			 insecure;	/* --insecure-no-sandbox */
	int			 drop;
	unsigned		 drop_uid, drop_gid;
	char			 chroot_dir[256];
};

/* conn.c */
void	conn_accept(struct front *, int fd);
/* Logs the refusals counted since the last line (timer and shutdown). */
void	conn_refused_log(struct front *);
/* The one close path: queues a WebSocket close (or nothing before the upgrade)
 * and lets the connection flush and go. */
void	conn_close(struct conn *, uint16_t code, const char *why);
void	conn_destroy(struct conn *);
/* The auth handshake succeeded: the connection gets its full limits. */
void	conn_authenticated(struct conn *);
/* Queues one binary message (a packed ServerMessage). */
int	conn_send_message(struct conn *, const uint8_t *, size_t);
/* An event: like conn_send_message, but above the high-water mark a ChatToken
 * is merged into the one queued before it (lossless). */
int	conn_send_event(struct conn *, const uint8_t *, size_t);
int	conn_send_error(struct conn *, uint64_t request_id, const char *code,
	    const char *message);
struct conn *conn_lookup(struct front *, uint64_t id);
int	conn_is_open(const struct conn *);
/* Calls fn for each authenticated connection; fn may close it. */
void	conn_foreach_open(struct front *, void (*)(struct conn *, void *),
	    void *);

/* dispatch.c */
void	dispatch_message(struct conn *, const uint8_t *, size_t);
void	dispatch_netproc_frame(struct front *, Ocb__Ipc__Frame *);
/* A frame from netproc that could not be decoded for lack of memory. */
void	dispatch_netproc_lost(struct front *, const struct ipc_lost *);
void	dispatch_netproc_down(struct front *);
void	dispatch_conn_gone(struct conn *);
void	dispatch_clear_filter(struct conn *);

/* front.c */
/* -1 with errno ENOTCONN (no netproc), EAGAIN (its queue is full) or ENOMEM. */
int	front_netproc_send(struct front *, Ocb__Ipc__Frame *);
void	front_restart_netproc(struct front *, const char *why);

#endif
