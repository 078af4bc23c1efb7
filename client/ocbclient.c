/*
 * Copyright (c) 2026 The ocbroker authors
 * SPDX-License-Identifier: ISC (the licence is in the file LICENSE)
 */

/*
 * libocbclient (see ocbclient.h).  One non-blocking socket, an output queue,
 * the project's RFC 6455 framer in client role, and a list of requests in
 * flight.  Only the blocking helpers wait, always with poll(2) and a
 * deadline.
 */
#include "config.h"

#include <sys/queue.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/types.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "client/ocbclient.h"
#include "common/base64.h"
#include "common/ws_accept.h"
#include "common/ws_frame.h"

#define HEAD_MAX	8192		/* the server's 101 is far smaller */
#define RBUF_SIZE	65536
#define READS_PER_CALL	16		/* bounded work per process call */
#define OBUF_LIMIT	(256u * 1024 * 1024)	/* more means a stuck peer */
#define ERR_LEN		256
#define POOL_LEN	64

enum state {
	ST_NEW,		/* not connected yet */
	ST_AUTH,	/* upgraded, auth handshake in flight */
	ST_OPEN,	/* authenticated */
	ST_CLOSING,	/* we sent a close, waiting for the server's */
	ST_CLOSED	/* over: only close/free remain */
};

struct pending {
	TAILQ_ENTRY(pending)	 entry;
	uint64_t		 id;
	ocb_reply_fn		 cb;
	void			*arg;
	/* Set for the blocking helpers: the reply is kept, not passed on. */
	Opencode__ServerMessage	**slot;
};

TAILQ_HEAD(pending_list, pending);

struct obuf {
	uint8_t		*data;
	size_t		 off;
	size_t		 len;
	size_t		 cap;
};

struct ocb_client {
	enum state		 state;
	int			 fd;
	uint64_t		 next_id;
	size_t			 max_message;
	struct ws_parser	 parser;
	int			 parser_live;

	struct pending_list	 pending;
	size_t			 npending;
	int			 fail_due;	/* fail the pending ones */

	ocb_event_fn		 event_cb;
	void			*event_arg;
	int			 in_cb;		/* a callback is running */

	struct obuf		 out;
	int			 sent_close;
	int			 got_close;
	int			 close_code;

	uint8_t			 pool[POOL_LEN];	/* random mask bytes */
	size_t			 pool_left;

	uint8_t			 rbuf[RBUF_SIZE];
	size_t			 rlen;		/* unparsed bytes in rbuf */

	char			 err[ERR_LEN];
};

static void	seterr(struct ocb_client *, const char *, ...)
		    __attribute__((format(printf, 2, 3)));
static int64_t	now_ms(void);
static int	left_ms(int64_t);
static int64_t	deadline_of(int);
static int	rnd(struct ocb_client *, uint8_t *, size_t);
static void	obuf_free(struct obuf *);
static uint8_t	*obuf_reserve(struct ocb_client *, size_t);
static void	obuf_drain(struct obuf *, size_t);
static int	flush(struct ocb_client *);
static int	flush_wait(struct ocb_client *, int64_t);
static int	queue_frame(struct ocb_client *, enum ws_opcode,
		    const uint8_t *, size_t);
static int	queue_close(struct ocb_client *, int, const char *);
static int	queue_msg(struct ocb_client *, const Opencode__ClientMessage *);
static void	conn_end(struct ocb_client *, int, const char *, ...)
		    __attribute__((format(printf, 3, 4)));
static void	fail_pending(struct ocb_client *);
static struct pending *pending_find(struct ocb_client *, uint64_t);
static struct pending *pending_add(struct ocb_client *, ocb_reply_fn, void *,
		    Opencode__ServerMessage **);
static void	pending_del(struct ocb_client *, struct pending *);
static void	dispatch(struct ocb_client *, const uint8_t *, size_t);
static void	feed(struct ocb_client *, const uint8_t *, size_t);
static int	read_some(struct ocb_client *);
static int	process(struct ocb_client *, int);
static int	wait_slot(struct ocb_client *, uint64_t,
		    Opencode__ServerMessage **, int64_t);
static int	tcp_connect(struct ocb_client *, uint16_t, int64_t);
static int	upgrade(struct ocb_client *, uint16_t, int64_t);
static int	check_head(struct ocb_client *, char *, const char *);
static int	token_list_has(const char *, const char *);
static void	printable(char *, size_t, const uint8_t *, size_t);

static void
seterr(struct ocb_client *c, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(c->err, sizeof(c->err), fmt, ap);
	va_end(ap);
}

static int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Milliseconds left before deadline (-1 = none), for poll(2). */
static int
left_ms(int64_t deadline)
{
	int64_t l;

	if (deadline < 0)
		return -1;
	l = deadline - now_ms();
	if (l <= 0)
		return 0;
	return l > 0x7fffffff ? 0x7fffffff : (int)l;
}

static int64_t
deadline_of(int timeout_ms)
{
	return timeout_ms < 0 ? -1 : now_ms() + timeout_ms;
}

/* Kernel randomness, fetched in small batches (every frame needs 4 bytes). */
static int
rnd(struct ocb_client *c, uint8_t *out, size_t n)
{
	size_t got;
	ssize_t r;

	if (n > sizeof(c->pool))
		return -1;
	if (c->pool_left < n) {
		for (got = 0; got < sizeof(c->pool); got += (size_t)r) {
			r = getrandom(c->pool + got, sizeof(c->pool) - got, 0);
			if (r == -1 && errno == EINTR) {
				r = 0;
				continue;
			}
			if (r <= 0) {
				seterr(c, "getrandom: %s", strerror(errno));
				return -1;
			}
		}
		c->pool_left = sizeof(c->pool);
	}
	memcpy(out, c->pool + sizeof(c->pool) - c->pool_left, n);
	explicit_bzero(c->pool + sizeof(c->pool) - c->pool_left, n);
	c->pool_left -= n;
	return 0;
}

/* ---- output queue: sent bytes are wiped (the auth message holds the token) */

static void
obuf_free(struct obuf *b)
{
	if (b->data != NULL) {
		explicit_bzero(b->data, b->cap);
		free(b->data);
	}
	memset(b, 0, sizeof(*b));
}

/* Room for n more bytes at the tail; the caller then adds n to out.len. */
static uint8_t *
obuf_reserve(struct ocb_client *c, size_t n)
{
	struct obuf *b = &c->out;
	size_t cap;
	uint8_t *nd;

	if (n > OBUF_LIMIT || b->len > OBUF_LIMIT - n) {
		seterr(c, "send queue full (%zu bytes queued)", b->len);
		return NULL;
	}
	if (b->off > 0 && b->cap - b->off - b->len < n) {
		/* Slide the unsent bytes down; wipe what they leave behind. */
		memmove(b->data, b->data + b->off, b->len);
		explicit_bzero(b->data + b->len, b->cap - b->len);
		b->off = 0;
	}
	if (b->cap - b->off - b->len >= n)
		return b->data + b->off + b->len;
	cap = b->cap == 0 ? 4096 : b->cap;
	while (cap < b->len + n)
		cap *= 2;
	/* Not realloc(3): it could leave an unwiped copy behind. */
	if ((nd = malloc(cap)) == NULL) {
		seterr(c, "out of memory");
		return NULL;
	}
	if (b->data != NULL) {
		memcpy(nd, b->data + b->off, b->len);
		explicit_bzero(b->data, b->cap);
		free(b->data);
	}
	b->data = nd;
	b->cap = cap;
	b->off = 0;
	return b->data + b->len;
}

static void
obuf_drain(struct obuf *b, size_t n)
{
	if (n == 0)
		return;
	explicit_bzero(b->data + b->off, n);
	b->off += n;
	b->len -= n;
	if (b->len == 0)
		b->off = 0;
}

/* Sends what the socket takes now.  0, or -1 when the connection broke. */
static int
flush(struct ocb_client *c)
{
	ssize_t n;

	while (c->out.len > 0 && c->fd != -1) {
		n = send(c->fd, c->out.data + c->out.off, c->out.len,
		    MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 0;
		if (n <= 0) {
			conn_end(c, 0, "send: %s", strerror(errno));
			obuf_drain(&c->out, c->out.len);
			return -1;
		}
		obuf_drain(&c->out, (size_t)n);
	}
	return 0;
}

/* Sends the whole queue, waiting for the socket until deadline. */
static int
flush_wait(struct ocb_client *c, int64_t deadline)
{
	struct pollfd pfd;
	int r;

	for (;;) {
		if (flush(c) == -1)
			return -1;
		if (c->out.len == 0)
			return 0;
		pfd.fd = c->fd;
		pfd.events = POLLOUT;
		r = poll(&pfd, 1, left_ms(deadline));
		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1) {
			seterr(c, "poll: %s", strerror(errno));
			return -1;
		}
		if (r == 0) {
			seterr(c, "timed out sending");
			return -1;
		}
	}
}

/*
 * Writes the header of a masked frame of len payload bytes past the queued
 * bytes and returns where its payload goes; the caller fills and masks it,
 * then queues the frame with c->out.len += *total.
 */
static uint8_t *
frame_open(struct ocb_client *c, enum ws_opcode op, size_t len,
    uint8_t mask[4], size_t *total)
{
	uint8_t hdr[WS_MAX_HEADER], *dst;
	size_t hl;

	if (rnd(c, mask, 4) == -1)
		return NULL;
	hl = ws_frame_header(hdr, op, len, mask);
	if ((dst = obuf_reserve(c, hl + len)) == NULL)
		return NULL;
	memcpy(dst, hdr, hl);
	*total = hl + len;
	return dst + hl;
}

/* A masked FIN frame with payload into the queue (not sent yet). */
static int
queue_frame(struct ocb_client *c, enum ws_opcode op, const uint8_t *payload,
    size_t len)
{
	uint8_t mask[4], *dst;
	size_t total;

	if ((dst = frame_open(c, op, len, mask, &total)) == NULL)
		return -1;
	if (len > 0) {
		memcpy(dst, payload, len);
		ws_mask(dst, len, mask, 0);
	}
	c->out.len += total;
	return 0;
}

/* code 0 (or 1005): an empty close. */
static int
queue_close(struct ocb_client *c, int code, const char *reason)
{
	uint8_t pl[WS_MAX_CONTROL];
	size_t n = 0;

	if (c->sent_close)
		return 0;
	c->sent_close = 1;
	if (code != 0 && code != WS_CLOSE_NO_STATUS)
		n = ws_close_payload(pl, (uint16_t)code, reason);
	return queue_frame(c, WS_OP_CLOSE, pl, n);
}

/* Packs msg straight into the queue, so that no other copy of it exists. */
static int
queue_msg(struct ocb_client *c, const Opencode__ClientMessage *msg)
{
	uint8_t mask[4], *dst;
	size_t len, total;

	len = opencode__client_message__get_packed_size(msg);
	if (len > c->max_message) {
		seterr(c, "message too big (%zu bytes)", len);
		return -1;
	}
	if ((dst = frame_open(c, WS_OP_BINARY, len, mask, &total)) == NULL)
		return -1;
	if (opencode__client_message__pack(msg, dst) != len) {
		explicit_bzero(dst, len);
		seterr(c, "protobuf pack failed");
		return -1;
	}
	ws_mask(dst, len, mask, 0);
	c->out.len += total;
	return 0;
}

/*
 * The connection is over.  The requests in flight are failed later, by
 * fail_pending() from the entry point, never from inside
 * ocb_client_request().
 */
static void
conn_end(struct ocb_client *c, int code, const char *fmt, ...)
{
	va_list ap;

	if (c->state == ST_CLOSED)
		return;
	c->state = ST_CLOSED;
	c->fail_due = 1;
	if (code != 0)
		c->close_code = code;
	if (fmt != NULL) {
		va_start(ap, fmt);
		vsnprintf(c->err, sizeof(c->err), fmt, ap);
		va_end(ap);
	}
}

static void
fail_pending(struct ocb_client *c)
{
	struct pending *p;
	ocb_reply_fn cb;
	void *arg;
	uint64_t id;

	if (!c->fail_due)
		return;
	c->fail_due = 0;
	while ((p = TAILQ_FIRST(&c->pending)) != NULL) {
		cb = p->slot == NULL ? p->cb : NULL;
		arg = p->arg;
		id = p->id;
		pending_del(c, p);
		if (cb != NULL) {
			c->in_cb++;
			cb(c, id, NULL, arg);
			c->in_cb--;
		}
	}
}

static struct pending *
pending_find(struct ocb_client *c, uint64_t id)
{
	struct pending *p;

	TAILQ_FOREACH(p, &c->pending, entry)
		if (p->id == id)
			return p;
	return NULL;
}

static struct pending *
pending_add(struct ocb_client *c, ocb_reply_fn cb, void *arg,
    Opencode__ServerMessage **slot)
{
	struct pending *p;

	if ((p = calloc(1, sizeof(*p))) == NULL) {
		seterr(c, "out of memory");
		return NULL;
	}
	/* 0 is reserved for events; a 64-bit counter does not wrap. */
	if (c->next_id == 0)
		c->next_id = 1;
	p->id = c->next_id++;
	p->cb = cb;
	p->arg = arg;
	p->slot = slot;
	TAILQ_INSERT_TAIL(&c->pending, p, entry);
	c->npending++;
	return p;
}

static void
pending_del(struct ocb_client *c, struct pending *p)
{
	TAILQ_REMOVE(&c->pending, p, entry);
	c->npending--;
	free(p);
}

/* One whole binary message from the server. */
static void
dispatch(struct ocb_client *c, const uint8_t *data, size_t len)
{
	Opencode__ServerMessage *m;
	struct pending *p;
	ocb_reply_fn cb;
	void *arg;

	if ((m = opencode__server_message__unpack(NULL, len, data)) == NULL) {
		/* A peer that sends garbage is not read any further. */
		(void)queue_close(c, WS_CLOSE_INVALID_DATA,
		    "bad ServerMessage");
		conn_end(c, 0, "the server sent a message that is not a "
		    "ServerMessage (%zu bytes)", len);
		return;
	}
	if (m->request_id == 0) {
		if (c->event_cb != NULL && c->state != ST_AUTH) {
			c->in_cb++;
			c->event_cb(c, m, c->event_arg);
			c->in_cb--;
		}
		opencode__server_message__free_unpacked(m, NULL);
		return;
	}
	if ((p = pending_find(c, m->request_id)) == NULL) {
		/* A reply to a forgotten (timed out) request. */
		opencode__server_message__free_unpacked(m, NULL);
		return;
	}
	if (p->slot != NULL) {
		/* Events after the auth reply (same read) are delivered. */
		if (c->state == ST_AUTH && m->payload_case ==
		    OPENCODE__SERVER_MESSAGE__PAYLOAD_AUTH_HANDSHAKE_RESPONSE &&
		    m->auth_handshake_response != NULL &&
		    m->auth_handshake_response->success)
			c->state = ST_OPEN;
		*p->slot = m;
		pending_del(c, p);
		return;
	}
	cb = p->cb;
	arg = p->arg;
	pending_del(c, p);
	if (cb != NULL) {
		c->in_cb++;
		cb(c, m->request_id, m, arg);
		c->in_cb--;
	}
	opencode__server_message__free_unpacked(m, NULL);
}

/* Makes a close reason safe to show: printable ASCII, the rest as '?'. */
static void
printable(char *out, size_t outsz, const uint8_t *s, size_t len)
{
	size_t i, o = 0;

	for (i = 0; i < len && o + 1 < outsz; i++)
		out[o++] = s[i] >= 0x20 && s[i] < 0x7f ? (char)s[i] : '?';
	out[o] = '\0';
}

static void
feed(struct ocb_client *c, const uint8_t *data, size_t len)
{
	struct ws_event ev;
	enum ws_event_type t;
	size_t used;
	char reason[WS_MAX_CONTROL + 1];

	while (len > 0 && c->state != ST_CLOSED) {
		t = ws_parser_feed(&c->parser, data, len, &used, &ev);
		data += used;
		len -= used;
		switch (t) {
		case WS_EV_NONE:
		case WS_EV_PONG:
			break;
		case WS_EV_MESSAGE:
			dispatch(c, ev.data, ev.len);
			break;
		case WS_EV_PING:
			if (!c->sent_close &&
			    queue_frame(c, WS_OP_PONG, ev.data, ev.len) == -1)
				conn_end(c, 0, NULL);	/* c->err says why */
			break;
		case WS_EV_CLOSE:
			c->got_close = 1;
			printable(reason, sizeof(reason), ev.data, ev.len);
			/* Echo its code, as RFC 6455 5.5.1 asks. */
			(void)queue_close(c, ev.code, NULL);
			if (c->state == ST_CLOSING)
				conn_end(c, ev.code, NULL);
			else
				conn_end(c, ev.code,
				    "closed by the server: %u%s%s",
				    (unsigned)ev.code,
				    *reason != '\0' ? " " : "", reason);
			return;
		case WS_EV_ERROR:
			(void)queue_close(c, ev.code, ev.reason);
			conn_end(c, 0, "protocol error from the server: %s",
			    ev.reason);
			return;
		}
	}
}

/* Reads what the socket has (bounded) and feeds it.  -1 on EOF/error. */
static int
read_some(struct ocb_client *c)
{
	ssize_t n;
	int i;

	for (i = 0; i < READS_PER_CALL && c->state != ST_CLOSED; i++) {
		n = read(c->fd, c->rbuf, sizeof(c->rbuf));
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 0;
		if (n == 0) {
			conn_end(c, OCB_CLOSE_ABNORMAL,
			    "the server closed the connection without a close "
			    "frame");
			return -1;
		}
		if (n < 0) {
			conn_end(c, OCB_CLOSE_ABNORMAL, "read: %s",
			    strerror(errno));
			return -1;
		}
		feed(c, c->rbuf, (size_t)n);
		explicit_bzero(c->rbuf, (size_t)n);
	}
	return 0;
}

/* ocb_client_process() without its guard and the failing of requests. */
static int
process(struct ocb_client *c, int timeout_ms)
{
	struct pollfd pfd;
	int r;

	if (c->state == ST_NEW || c->fd == -1) {
		if (c->state == ST_NEW)
			seterr(c, "not connected");
		return -1;
	}
	if (c->rlen > 0) {
		/* Bytes that came with the 101 answer. */
		size_t n = c->rlen;

		c->rlen = 0;
		feed(c, c->rbuf, n);
		explicit_bzero(c->rbuf, n);
		(void)flush(c);
		timeout_ms = 0;
	}
	if (c->state == ST_CLOSED)
		return -1;
	if (flush(c) == -1)
		return -1;
	pfd.fd = c->fd;
	pfd.events = POLLIN | (c->out.len > 0 ? POLLOUT : 0);
	pfd.revents = 0;
	r = poll(&pfd, 1, timeout_ms);
	if (r == -1 && errno == EINTR)
		return 0;
	if (r == -1) {
		seterr(c, "poll: %s", strerror(errno));
		return -1;
	}
	if (r == 0)
		return 0;
	if (pfd.revents & POLLOUT && flush(c) == -1)
		return -1;
	if (pfd.revents & (POLLIN | POLLHUP | POLLERR))
		(void)read_some(c);
	/* Pongs and close echoes go out at once. */
	(void)flush(c);
	return c->state == ST_CLOSED ? -1 : 0;
}

int
ocb_client_process(struct ocb_client *c, int timeout_ms)
{
	int r;

	if (c->in_cb) {
		seterr(c, "ocb_client_process called from a callback");
		return -1;
	}
	r = process(c, timeout_ms);
	fail_pending(c);
	return r;
}

/*
 * Waits until the request id has its reply in *slot.  On a timeout the
 * request is forgotten, so the late reply cannot land in a stale slot.
 */
static int
wait_slot(struct ocb_client *c, uint64_t id, Opencode__ServerMessage **slot,
    int64_t deadline)
{
	struct pending *p;
	int left;

	for (;;) {
		if (*slot != NULL)
			return 0;
		if (c->state == ST_CLOSED)
			break;
		if ((left = left_ms(deadline)) == 0) {
			seterr(c, "timed out waiting for the reply");
			break;
		}
		if (process(c, left) == -1 && *slot == NULL)
			break;
	}
	if ((p = pending_find(c, id)) != NULL)
		pending_del(c, p);
	return -1;
}

/* ---- connecting ---- */

static int
tcp_connect(struct ocb_client *c, uint16_t port, int64_t deadline)
{
	struct sockaddr_in sin;
	struct pollfd pfd;
	socklen_t sl;
	int fd, r, err, one = 1;

	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1) {
		seterr(c, "socket: %s", strerror(errno));
		return -1;
	}
	c->fd = fd;
	/* Requests are small and latency matters more than packet count. */
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons(port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) == 0)
		return 0;
	if (errno != EINPROGRESS && errno != EINTR) {
		seterr(c, "connect to 127.0.0.1:%u: %s", (unsigned)port,
		    strerror(errno));
		return -1;
	}
	for (;;) {
		pfd.fd = fd;
		pfd.events = POLLOUT;
		r = poll(&pfd, 1, left_ms(deadline));
		if (r == -1 && errno == EINTR)
			continue;
		if (r <= 0) {
			seterr(c, "connect to 127.0.0.1:%u: %s", (unsigned)port,
			    r == 0 ? "timed out" : strerror(errno));
			return -1;
		}
		break;
	}
	sl = sizeof(err);
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &sl) == -1)
		err = errno;
	if (err != 0) {
		seterr(c, "connect to 127.0.0.1:%u: %s", (unsigned)port,
		    strerror(err));
		return -1;
	}
	return 0;
}

/* Does the comma-separated header value list hold token (case-insensitive)? */
static int
token_list_has(const char *list, const char *token)
{
	size_t tl = strlen(token), n;
	const char *p = list;

	while (*p != '\0') {
		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		n = strcspn(p, ",");
		while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t'))
			n--;
		if (n == tl && strncasecmp(p, token, tl) == 0)
			return 1;
		p += strcspn(p, ",");
	}
	return 0;
}

/*
 * Checks a complete response head (NUL-terminated, CRLFs intact): a 101
 * with Upgrade: websocket, Connection: upgrade, the expected
 * Sec-WebSocket-Accept, and no extension or subprotocol (we asked for none,
 * so RFC 6455 4.1 says to fail on them).
 */
static int
check_head(struct ocb_client *c, char *head, const char *accept)
{
	char *line, *next, *colon, *v, *e;
	int status, upgrade = 0, connection = 0, accept_ok = 0, n = 0;

	if ((next = strstr(head, "\r\n")) == NULL)
		return -1;
	*next = '\0';
	next += 2;
	if (sscanf(head, "HTTP/1.1 %3d%n", &status, &n) != 1 || n != 12 ||
	    (head[12] != ' ' && head[12] != '\0')) {
		seterr(c, "handshake: not an HTTP/1.1 answer");
		return -1;
	}
	if (status != 101) {
		seterr(c, "handshake refused: HTTP %d", status);
		return -1;
	}
	for (line = next; *line != '\0'; line = next) {
		if ((next = strstr(line, "\r\n")) == NULL)
			break;
		*next = '\0';
		next += 2;
		if ((colon = strchr(line, ':')) == NULL) {
			seterr(c, "handshake: malformed header line");
			return -1;
		}
		*colon = '\0';
		for (v = colon + 1; *v == ' ' || *v == '\t'; v++)
			;
		for (e = v + strlen(v); e > v && (e[-1] == ' ' ||
		    e[-1] == '\t'); e--)
			e[-1] = '\0';
		if (strcasecmp(line, "Upgrade") == 0)
			upgrade |= token_list_has(v, "websocket");
		else if (strcasecmp(line, "Connection") == 0)
			connection |= token_list_has(v, "upgrade");
		else if (strcasecmp(line, "Sec-WebSocket-Accept") == 0) {
			if (accept_ok || strcmp(v, accept) != 0) {
				seterr(c,
				    "handshake: wrong Sec-WebSocket-Accept");
				return -1;
			}
			accept_ok = 1;
		} else if (strcasecmp(line, "Sec-WebSocket-Extensions") == 0 ||
		    strcasecmp(line, "Sec-WebSocket-Protocol") == 0) {
			seterr(c, "handshake: the server chose an extension or "
			    "subprotocol we did not offer");
			return -1;
		}
	}
	if (!upgrade || !connection) {
		seterr(c, "handshake: no Upgrade: websocket / Connection: "
		    "upgrade in the 101");
		return -1;
	}
	if (!accept_ok) {
		seterr(c, "handshake: no Sec-WebSocket-Accept");
		return -1;
	}
	return 0;
}

/* The opening handshake; leaves the bytes after the head in rbuf. */
static int
upgrade(struct ocb_client *c, uint16_t port, int64_t deadline)
{
	uint8_t raw[WS_KEY_DECODED_LEN];
	char key[WS_KEY_LEN + 1], accept[WS_ACCEPT_LEN + 1];
	char head[HEAD_MAX + 1], req[256], *end;
	struct pollfd pfd;
	size_t hl = 0, reql, hlen;
	uint8_t *dst;
	ssize_t n;
	int r;

	if (rnd(c, raw, sizeof(raw)) == -1 ||
	    base64_encode(raw, sizeof(raw), key, sizeof(key)) == -1)
		return -1;
	ws_accept_compute(key, strlen(key), accept);

	/* No Origin: a native client; the broker allows that. */
	r = snprintf(req, sizeof(req), "GET / HTTP/1.1\r\n"
	    "Host: 127.0.0.1:%u\r\n"
	    "Upgrade: websocket\r\n"
	    "Connection: Upgrade\r\n"
	    "Sec-WebSocket-Key: %s\r\n"
	    "Sec-WebSocket-Version: 13\r\n\r\n", (unsigned)port, key);
	if (r < 0 || (size_t)r >= sizeof(req))
		return -1;
	reql = (size_t)r;
	if ((dst = obuf_reserve(c, reql)) == NULL)
		return -1;
	memcpy(dst, req, reql);
	c->out.len += reql;
	if (flush_wait(c, deadline) == -1)
		return -1;

	for (;;) {
		pfd.fd = c->fd;
		pfd.events = POLLIN;
		r = poll(&pfd, 1, left_ms(deadline));
		if (r == -1 && errno == EINTR)
			continue;
		if (r <= 0) {
			seterr(c, "handshake: %s", r == 0 ? "timed out" :
			    strerror(errno));
			return -1;
		}
		n = read(c->fd, head + hl, HEAD_MAX - hl);
		if (n == -1 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n <= 0) {
			seterr(c, "handshake: %s", n == 0 ?
			    "the server closed the connection" :
			    strerror(errno));
			return -1;
		}
		hl += (size_t)n;
		head[hl] = '\0';
		/* Frame bytes may follow: only the head must be text. */
		if ((end = memmem(head, hl, "\r\n\r\n", 4)) != NULL) {
			if (memchr(head, '\0', (size_t)(end - head)) != NULL) {
				seterr(c, "handshake: NUL byte in the answer");
				return -1;
			}
			break;
		}
		if (hl == HEAD_MAX) {
			seterr(c, "handshake: answer head too long");
			return -1;
		}
	}
	hlen = (size_t)(end - head) + 4;
	/* Frames that came in the same read are parsed once we are ready. */
	c->rlen = hl - hlen;
	memcpy(c->rbuf, head + hlen, c->rlen);
	end[2] = '\0';
	return check_head(c, head, accept);
}

int
ocb_client_connect(struct ocb_client *c, uint16_t port, const char *token,
    int timeout_ms)
{
	Opencode__ClientMessage cm = OPENCODE__CLIENT_MESSAGE__INIT;
	Opencode__AuthHandshake ah = OPENCODE__AUTH_HANDSHAKE__INIT;
	Opencode__ServerMessage *reply = NULL;
	Opencode__AuthHandshakeResponse *ar;
	struct pending *p;
	int64_t deadline = deadline_of(timeout_ms);
	const char *e;
	char why[ERR_LEN];

	if (c->in_cb) {
		seterr(c, "ocb_client_connect called from a callback");
		return -1;
	}
	if (c->state != ST_NEW) {
		seterr(c, "already connected");
		return -1;
	}
	if (token == NULL || port == 0) {
		seterr(c, "no token or no port");
		return -1;
	}
	c->err[0] = '\0';
	if (tcp_connect(c, port, deadline) == -1 ||
	    upgrade(c, port, deadline) == -1)
		goto fail;
	ws_parser_init(&c->parser, WS_ROLE_CLIENT, c->max_message);
	c->parser_live = 1;
	c->state = ST_AUTH;

	ah.token = (char *)(uintptr_t)token;
	cm.payload_case = OPENCODE__CLIENT_MESSAGE__PAYLOAD_AUTH_HANDSHAKE;
	cm.auth_handshake = &ah;
	if ((p = pending_add(c, NULL, NULL, &reply)) == NULL)
		goto fail;
	cm.request_id = p->id;
	if (queue_msg(c, &cm) == -1) {
		pending_del(c, p);
		goto fail;
	}
	if (wait_slot(c, cm.request_id, &reply, deadline) == -1) {
		if (c->state != ST_CLOSED)
			goto fail;
		/* Keep the server's close text, but say what failed. */
		snprintf(why, sizeof(why), "%s", c->err);
		seterr(c, "auth handshake: %s", why);
		fail_pending(c);
		return -1;
	}
	if (reply->payload_case ==
	    OPENCODE__SERVER_MESSAGE__PAYLOAD_AUTH_HANDSHAKE_RESPONSE &&
	    (ar = reply->auth_handshake_response) != NULL && ar->success) {
		ocb_message_free(reply);
		if (c->state == ST_OPEN)
			return 0;
		/* Closed right after the success: c->err says how. */
		fail_pending(c);
		return -1;
	}
	if (reply->payload_case ==
	    OPENCODE__SERVER_MESSAGE__PAYLOAD_AUTH_HANDSHAKE_RESPONSE &&
	    reply->auth_handshake_response != NULL) {
		ar = reply->auth_handshake_response;
		e = ar->_error_case ==
		    OPENCODE__AUTH_HANDSHAKE_RESPONSE___ERROR_ERROR &&
		    ar->error != NULL ? ar->error : "";
		printable(why, sizeof(why), (const uint8_t *)e, strlen(e));
	} else if (reply->payload_case ==
	    OPENCODE__SERVER_MESSAGE__PAYLOAD_ERROR && reply->error != NULL)
		snprintf(why, sizeof(why), "%s", reply->error->code != NULL ?
		    reply->error->code : "error");
	else
		snprintf(why, sizeof(why), "unexpected reply (payload %d)",
		    (int)reply->payload_case);
	ocb_message_free(reply);
	/* The server closes with 1008 next: wait, so it can be reported. */
	while (c->state != ST_CLOSED && left_ms(deadline) != 0)
		if (process(c, left_ms(deadline)) == -1)
			break;
	if (c->state != ST_CLOSED)
		conn_end(c, 0, NULL);
	seterr(c, "authentication failed: %s", *why != '\0' ? why : "refused");
	fail_pending(c);
	return -1;
 fail:
	conn_end(c, 0, NULL);
	fail_pending(c);
	if (c->fd != -1) {
		close(c->fd);
		c->fd = -1;
	}
	obuf_drain(&c->out, c->out.len);
	return -1;
}

/* ---- the rest of the API ---- */

struct ocb_client *
ocb_client_new(void)
{
	struct ocb_client *c;

	if ((c = calloc(1, sizeof(*c))) == NULL)
		return NULL;
	c->fd = -1;
	c->state = ST_NEW;
	c->next_id = 1;
	c->max_message = OCB_CLIENT_MAX_MESSAGE;
	TAILQ_INIT(&c->pending);
	return c;
}

void
ocb_client_free(struct ocb_client *c)
{
	if (c == NULL)
		return;
	if (c->state != ST_CLOSED)
		conn_end(c, 0, NULL);
	c->fail_due = 1;
	fail_pending(c);
	if (c->fd != -1)
		close(c->fd);
	if (c->parser_live)
		ws_parser_free(&c->parser);
	obuf_free(&c->out);
	explicit_bzero(c, sizeof(*c));
	free(c);
}

void
ocb_client_set_event_cb(struct ocb_client *c, ocb_event_fn cb, void *arg)
{
	c->event_cb = cb;
	c->event_arg = arg;
}

void
ocb_client_set_max_message(struct ocb_client *c, size_t max)
{
	if (c->state == ST_NEW && max > 0)
		c->max_message = max;
}

int
ocb_client_fd(const struct ocb_client *c)
{
	return c->fd;
}

int
ocb_client_want_write(const struct ocb_client *c)
{
	return c->fd != -1 && c->out.len > 0;
}

/*
 * Gives msg a request id and queues it, with a pending slot for its reply
 * (cb or reply, as pending_add); NULL, with the reason set, when the
 * connection is not open, msg is not a request, or memory runs out.
 */
static struct pending *
request_queue(struct ocb_client *c, Opencode__ClientMessage *msg,
    ocb_reply_fn cb, void *arg, Opencode__ServerMessage **reply)
{
	struct pending *p;

	if (c->state != ST_OPEN) {
		seterr(c, "%s", c->state == ST_NEW || c->state == ST_AUTH ?
		    "not connected" : "the connection is closed");
		return NULL;
	}
	if (msg == NULL || msg->payload_case ==
	    OPENCODE__CLIENT_MESSAGE__PAYLOAD_AUTH_HANDSHAKE) {
		seterr(c, "not a request");
		return NULL;
	}
	if ((p = pending_add(c, cb, arg, reply)) == NULL)
		return NULL;
	msg->request_id = p->id;
	if (queue_msg(c, msg) == -1) {
		pending_del(c, p);
		return NULL;
	}
	return p;
}

int
ocb_client_request(struct ocb_client *c, Opencode__ClientMessage *msg,
    ocb_reply_fn cb, void *arg)
{
	struct pending *p;

	if ((p = request_queue(c, msg, cb, arg, NULL)) == NULL)
		return -1;
	if (flush(c) == -1) {
		/* Not this request's callback: the caller sees the -1. */
		pending_del(c, p);
		return -1;
	}
	return 0;
}

int
ocb_client_call(struct ocb_client *c, Opencode__ClientMessage *msg,
    int timeout_ms, Opencode__ServerMessage **reply)
{
	int64_t deadline = deadline_of(timeout_ms);
	int r;

	*reply = NULL;
	if (c->in_cb) {
		seterr(c, "ocb_client_call called from a callback");
		return -1;
	}
	if (request_queue(c, msg, NULL, NULL, reply) == NULL)
		return -1;
	r = wait_slot(c, msg->request_id, reply, deadline);
	fail_pending(c);
	return r;
}

int
ocb_client_forget(struct ocb_client *c, uint64_t request_id)
{
	struct pending *p;

	if ((p = pending_find(c, request_id)) == NULL || p->slot != NULL)
		return -1;
	pending_del(c, p);
	return 0;
}

size_t
ocb_client_in_flight(const struct ocb_client *c)
{
	return c->npending;
}

int
ocb_client_close(struct ocb_client *c, int timeout_ms)
{
	int64_t deadline = deadline_of(timeout_ms);
	struct pollfd pfd;
	uint8_t sink[4096];
	ssize_t n;
	int left;

	if (c->in_cb) {
		seterr(c, "ocb_client_close called from a callback");
		return -1;
	}
	if (c->fd == -1) {
		seterr(c, "not connected");
		return -1;
	}
	if (c->state == ST_OPEN || c->state == ST_AUTH) {
		if (queue_close(c, WS_CLOSE_NORMAL, NULL) == -1)
			conn_end(c, 0, NULL);
		else
			c->state = ST_CLOSING;
	}
	/* Replies that come before the server's close are still delivered. */
	while (c->state == ST_CLOSING && (left = left_ms(deadline)) != 0)
		if (process(c, left) == -1)
			break;
	if (c->state == ST_CLOSING)
		conn_end(c, 0, "timed out waiting for the server's close");
	fail_pending(c);
	if (c->got_close) {
		/* The server closes TCP first (RFC 6455 7.1.1): await EOF. */
		(void)flush_wait(c, deadline);
		shutdown(c->fd, SHUT_WR);
		for (;;) {
			pfd.fd = c->fd;
			pfd.events = POLLIN;
			if (poll(&pfd, 1, left_ms(deadline)) <= 0)
				break;
			n = read(c->fd, sink, sizeof(sink));
			if (n == -1 && (errno == EINTR || errno == EAGAIN))
				continue;
			if (n <= 0)
				break;
		}
		explicit_bzero(sink, sizeof(sink));
	}
	close(c->fd);
	c->fd = -1;
	obuf_drain(&c->out, c->out.len);
	return c->got_close ? 0 : -1;
}

int
ocb_client_close_code(const struct ocb_client *c)
{
	return c->close_code;
}

const char *
ocb_client_error(const struct ocb_client *c)
{
	return c->err;
}

const char *
ocb_event_session(const Opencode__ServerMessage *m)
{
	switch (m->payload_case) {
	case OPENCODE__SERVER_MESSAGE__PAYLOAD_TOKEN:
		return m->token->session_id;
	case OPENCODE__SERVER_MESSAGE__PAYLOAD_COMPLETED:
		return m->completed->session_id;
	case OPENCODE__SERVER_MESSAGE__PAYLOAD_TOOL_CALL:
		return m->tool_call->session_id;
	case OPENCODE__SERVER_MESSAGE__PAYLOAD_PERMISSION_REQUEST:
		return m->permission_request->session_id;
	case OPENCODE__SERVER_MESSAGE__PAYLOAD_SESSION_EVENT:
		return m->session_event->session_id;
	case OPENCODE__SERVER_MESSAGE__PAYLOAD_QUESTION_REQUEST:
		return m->question_request->session_id;
	case OPENCODE__SERVER_MESSAGE__PAYLOAD_QUESTION_RESOLVED:
		return m->question_resolved->session_id;
	case OPENCODE__SERVER_MESSAGE__PAYLOAD_PERMISSION_RESOLVED:
		return m->permission_resolved->session_id;
	case OPENCODE__SERVER_MESSAGE__PAYLOAD_TODO_UPDATED:
		return m->todo_updated->session_id;
	case OPENCODE__SERVER_MESSAGE__PAYLOAD_DIFF_UPDATED:
		return m->diff_updated->session_id;
	case OPENCODE__SERVER_MESSAGE__PAYLOAD_MESSAGE_REMOVED:
		return m->message_removed->session_id;
	case OPENCODE__SERVER_MESSAGE__PAYLOAD_PART_REMOVED:
		return m->part_removed->session_id;
	case OPENCODE__SERVER_MESSAGE__PAYLOAD_MESSAGE_UPDATED:
		return m->message_updated->session_id;
	case OPENCODE__SERVER_MESSAGE__PAYLOAD_PART_UPDATED:
		return m->part_updated->session_id;
	default:
		return NULL;
	}
}

void
ocb_message_free(Opencode__ServerMessage *m)
{
	if (m != NULL)
		opencode__server_message__free_unpacked(m, NULL);
}
