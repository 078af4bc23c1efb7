/*
 * Copyright (c) 2026 The ocbroker authors
 * SPDX-License-Identifier: ISC (the licence is in the file LICENSE)
 */

/*
 * One client connection, from accept to close: the opening handshake, the
 * WebSocket framing and the output queue.  Every way a connection ends goes
 * through conn_close (protocol ends) and conn_destroy (the descriptor goes);
 * destruction is deferred to the connection's own timer callback, so no caller
 * ever finds its connection freed under it.
 *
 * The output queue is bounded (front.h): every frame counts, at most one pong
 * is in it (the framer keeps the newest ping's payload until the queued pong
 * has left), and the socket is not read while the queue is above its high
 * mark, so a peer that writes without reading costs a bounded amount.
 */
#include "config.h"

#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "broker/auth.h"
#include "broker/front.h"
#include "broker/ws_upgrade.h"
#include "common/log.h"

#define HTTP_RESPONSE_MAX	FRONT_FINAL_MAX
#define OCB_STR_(x)		#x
#define OCB_STR(x)		OCB_STR_(x)

static void	conn_read_cb(evutil_socket_t, short, void *);
static void	conn_write_cb(evutil_socket_t, short, void *);
static void	conn_timer_cb(evutil_socket_t, short, void *);
static void	conn_flush(struct conn *);
static void	conn_queue_pong(struct conn *);

static void
conn_set_timer(struct conn *c, int seconds)
{
	struct timeval tv = { seconds, 0 };

	evtimer_add(c->timer, &tv);
}

/* The only place state changes: on front->open exactly while CONN_OPEN. */
static void
conn_set_state(struct conn *c, enum conn_state state)
{
	if (c->state == CONN_OPEN && state != CONN_OPEN)
		TAILQ_REMOVE(&c->front->open, c, open_entry);
	else if (c->state != CONN_OPEN && state == CONN_OPEN)
		TAILQ_INSERT_TAIL(&c->front->open, c, open_entry);
	c->state = state;
}

int
conn_is_open(const struct conn *c)
{
	return c->state == CONN_OPEN;
}

void
conn_foreach_open(struct front *f, void (*fn)(struct conn *, void *),
    void *arg)
{
	struct conn *c, *next;

	/* fn may close a connection, which unlinks it. */
	for (c = TAILQ_FIRST(&f->open); c != NULL; c = next) {
		next = TAILQ_NEXT(c, open_entry);
		fn(c, arg);
	}
}

/* Ends the connection from any context: the timer callback frees it. */
static void
conn_kill(struct conn *c)
{
	conn_set_state(c, CONN_LINGER);
	c->dead = 1;
	event_del(c->rev);
	event_del(c->wev);
	event_active(c->timer, EV_TIMEOUT, 1);
}

struct conn *
conn_lookup(struct front *f, uint64_t id)
{
	size_t slot = (size_t)(id & 0xffff);
	struct conn *c;

	if (slot >= FRONT_MAX_CONNS || (c = f->conns[slot]) == NULL ||
	    c->id != id)
		return NULL;
	return c;
}

void
conn_refused_log(struct front *f)
{
	if (f->refused == 0)
		return;
	/* The running total keeps each line unique: never held back as a
	 * repeat by the logger. */
	f->refused_total += f->refused;
	log_warnx("refused %llu connection%s: %d connections already "
	    "(%llu since start)", (unsigned long long)f->refused,
	    f->refused == 1 ? "" : "s", FRONT_MAX_CONNS,
	    (unsigned long long)f->refused_total);
	f->refused = 0;
}

/*
 * Past FRONT_MAX_CONNS: a 503 at once, from a constant, and the socket goes.
 * Nothing of the request is read and nothing is allocated, so refused
 * connections cost nothing however many come.  Linux lets the peer read
 * the 503 even when close() resets a connection with unread input.  The
 * first refusal is logged at once, the next ones counted and logged every
 * FRONT_REFUSED_LOG_S.
 */
static void
conn_refuse_busy(struct front *f, int fd)
{
	static const char resp[] = "HTTP/1.1 503 Service Unavailable\r\n"
	    "Retry-After: " OCB_STR(FRONT_RETRY_AFTER_S) "\r\n"
	    "Connection: close\r\n"
	    "Content-Length: 0\r\n\r\n";
	struct timeval tv = { FRONT_REFUSED_LOG_S, 0 };

	/* A fresh socket's send buffer holds this much: one write. */
	(void)write(fd, resp, sizeof(resp) - 1);
	close(fd);
	f->refused++;
	if (f->refused_ev != NULL &&
	    !evtimer_pending(f->refused_ev, NULL)) {
		conn_refused_log(f);
		evtimer_add(f->refused_ev, &tv);
	}
}

void
conn_accept(struct front *f, int fd)
{
	struct conn *c;
	size_t slot;
	int one = 1;

	for (slot = 0; slot < FRONT_MAX_CONNS; slot++)
		if (f->conns[slot] == NULL)
			break;
	if (slot == FRONT_MAX_CONNS) {
		conn_refuse_busy(f, fd);
		return;
	}
	if ((c = calloc(1, sizeof(*c))) == NULL ||
	    (c->head = malloc(sizeof(*c->head))) == NULL) {
		log_warn("connection refused");
		free(c);
		close(fd);
		return;
	}
	c->front = f;
	c->fd = fd;
	c->state = CONN_HEAD;	/* new: on no list */
	f->generation[slot]++;
	/* Generation in the high bits: a reply for a closed connection never
	 * reaches the next one in the same slot. */
	c->id = (uint64_t)f->generation[slot] << 16 | slot;
	http_head_init(c->head);
	buf_init(&c->out);
	/* Small frames go out at once; we batch writes ourselves. */
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	c->rev = event_new(f->base, fd, EV_READ | EV_PERSIST, conn_read_cb, c);
	c->wev = event_new(f->base, fd, EV_WRITE | EV_PERSIST, conn_write_cb, c);
	c->timer = evtimer_new(f->base, conn_timer_cb, c);
	if (c->rev == NULL || c->wev == NULL || c->timer == NULL ||
	    event_add(c->rev, NULL) == -1) {
		log_warnx("connection refused: out of memory");
		if (c->rev) event_free(c->rev);
		if (c->wev) event_free(c->wev);
		if (c->timer) event_free(c->timer);
		free(c->head);
		free(c);
		close(fd);
		return;
	}
	f->conns[slot] = c;
	f->nconns++;
	conn_set_timer(c, FRONT_HEAD_TIMEOUT_S);
	log_debug("conn %llx: accepted", (unsigned long long)c->id);
}

void
conn_destroy(struct conn *c)
{
	struct front *f = c->front;

	conn_set_state(c, CONN_LINGER);
	dispatch_conn_gone(c);
	dispatch_clear_filter(c);
	event_free(c->rev);
	event_free(c->wev);
	event_free(c->timer);
	close(c->fd);
	if (c->head != NULL) {
		wipe(c->head, sizeof(*c->head));
		free(c->head);
	}
	if (c->ws_ready)
		ws_parser_free(&c->ws);
	buf_free(&c->out);
	f->conns[c->id & 0xffff] = NULL;
	f->nconns--;
	log_debug("conn %llx: closed", (unsigned long long)c->id);
	free(c);
	if (f->stopping && f->nconns == 0)
		event_base_loopexit(f->base, NULL);
}

static void
conn_schedule_write(struct conn *c)
{
	/* Everything queued in this loop iteration leaves in one write.  The
	 * flag first: it is set for every frame of a burst but the first. */
	if (!c->write_scheduled && !event_pending(c->wev, EV_WRITE, NULL)) {
		c->write_scheduled = 1;
		event_active(c->wev, EV_WRITE, 1);
	}
}

/*
 * Stops reading a connection whose send queue is above its high mark and
 * reads it again once the queue is below the low one: a peer that does not
 * read cannot make us queue answers to what it keeps sending.
 */
static void
conn_read_pace(struct conn *c)
{
	size_t used = buf_used(&c->out), high, low;

	if (c->dead)
		return;
	if (c->state == CONN_OPEN) {
		high = FRONT_OUTQ_HIGH;
		low = FRONT_OUTQ_LOW;
	} else if (c->state == CONN_AUTH) {
		high = FRONT_PREAUTH_OUTQ_HIGH;
		low = FRONT_PREAUTH_OUTQ_LOW;
	} else {
		/* Closing: input is drained and dropped, so it costs nothing
		 * and the peer's close can reach us. */
		high = low = SIZE_MAX;
	}
	if (!c->read_paused && used > high) {
		event_del(c->rev);
		c->read_paused = 1;
		log_debug("conn %llx: %zu bytes queued; not reading",
		    (unsigned long long)c->id, used);
	} else if (c->read_paused && used < low) {
		if (event_add(c->rev, NULL) == -1) {
			/* libevent is out of memory: this connection goes. */
			conn_close(c, WS_CLOSE_INTERNAL, "out of memory");
			return;
		}
		c->read_paused = 0;
		log_debug("conn %llx: reading again", (unsigned long long)c->id);
	}
}

static void
conn_flush(struct conn *c)
{
	size_t before = buf_used(&c->out), sent;
	int rc;

	if ((rc = buf_flush(&c->out, c->fd)) == -1) {
		log_debug("conn %llx: write failed: %s",
		    (unsigned long long)c->id, strerror(errno));
		conn_kill(c);
		return;
	}
	sent = before - buf_used(&c->out);
	c->pong_end = sent < c->pong_end ? c->pong_end - sent : 0;
	/* The queued pong has left: the one owed since then may go now. */
	if (c->pong_end == 0 && c->ws_ready &&
	    (c->state == CONN_AUTH || c->state == CONN_OPEN))
		conn_queue_pong(c);
	conn_read_pace(c);
	if (rc == BUF_BLOCKED || buf_used(&c->out) > 0) {
		if (!event_pending(c->wev, EV_WRITE, NULL) &&
		    event_add(c->wev, NULL) == -1)
			conn_kill(c);	/* could never be written again */
		return;
	}
	if (c->final_off < c->final_len) {
		ssize_t n = write(c->fd, c->final + c->final_off,
		    c->final_len - c->final_off);

		if (n > 0)
			c->final_off += (size_t)n;
		else if (n == -1 && errno != EAGAIN && errno != EINTR) {
			conn_kill(c);
			return;
		}
		if (c->final_off < c->final_len) {
			if (!event_pending(c->wev, EV_WRITE, NULL) &&
			    event_add(c->wev, NULL) == -1)
				conn_kill(c);
			return;
		}
	}
	if (event_pending(c->wev, EV_WRITE, NULL))
		event_del(c->wev);
	if (c->state == CONN_CLOSING) {
		/* All sent: half-close and drain what the peer still sends, so
		 * our last bytes are not lost to a reset. */
		shutdown(c->fd, SHUT_WR);
		conn_set_state(c, CONN_LINGER);
		conn_set_timer(c, FRONT_LINGER_S);
	}
}

static void
conn_write_cb(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;

	c->write_scheduled = 0;
	if (c->dead)
		return;
	conn_flush(c);
}

static int
conn_queue_frame(struct conn *c, enum ws_opcode op, const uint8_t *p, size_t len)
{
	uint8_t hdr[WS_MAX_HEADER];
	size_t hlen;

	hlen = ws_frame_header(hdr, op, len, NULL);
	if (buf_reserve(&c->out, hlen + len) == -1)
		return -1;
	memcpy(buf_tail(&c->out), hdr, hlen);
	if (len > 0)
		memcpy(buf_tail(&c->out) + hlen, p, len);
	buf_commit(&c->out, hlen + len);
	/* Remember the last frame: a ChatToken may still be merged into it. */
	c->tail_len = op == WS_OP_BINARY ? hlen + len : 0;
	c->tail_hlen = hlen;
	conn_schedule_write(c);
	conn_read_pace(c);
	return 0;
}

/*
 * Queues the pong owed, unless the last one queued has not left yet: then the
 * framer keeps it (a newer ping replaces it) until conn_flush sends that one.
 */
static void
conn_queue_pong(struct conn *c)
{
	uint8_t payload[WS_MAX_CONTROL];
	size_t len;

	if (c->pong_end > 0 || !ws_parser_take_pong(&c->ws, payload, &len))
		return;
	if (conn_queue_frame(c, WS_OP_PONG, payload, len) == -1)
		conn_close(c, WS_CLOSE_INTERNAL, "out of memory");
	else
		c->pong_end = buf_used(&c->out);
	wipe(payload, len);
}

int
conn_send_message(struct conn *c, const uint8_t *p, size_t len)
{
	size_t max = c->state == CONN_OPEN ? FRONT_OUTQ_MAX :
	    FRONT_PREAUTH_OUTQ_MAX;

	if (c->state != CONN_AUTH && c->state != CONN_OPEN)
		return -1;
	/* One message always fits an empty queue: a reply may be as large as
	 * --max-message (up to 64 MiB), above the 8 MiB cap. */
	if (buf_used(&c->out) > 0 && buf_used(&c->out) + len > max) {
		conn_close(c, WS_CLOSE_TRY_AGAIN,
		    "send queue overflow: client too slow");
		return -1;
	}
	if (conn_queue_frame(c, WS_OP_BINARY, p, len) == -1) {
		conn_close(c, WS_CLOSE_INTERNAL, "out of memory");
		return -1;
	}
	return 0;
}

static int
same_part(const Opencode__ChatToken *a, const Opencode__ChatToken *b)
{
	return strcmp(a->part_id, b->part_id) == 0 &&
	    strcmp(a->message_id, b->message_id) == 0 &&
	    strcmp(a->session_id, b->session_id) == 0;
}

/*
 * Above the high-water mark a ChatToken is merged into the frame queued just
 * before it when that one is an unsent ChatToken of the same part: the client
 * gets fewer, longer deltas and loses nothing.  Returns 0 when merged.
 */
static int
conn_merge_token(struct conn *c, const uint8_t *p, size_t len)
{
	Opencode__ServerMessage *next = NULL, *prev = NULL, out;
	Opencode__ChatToken tok;
	uint8_t *packed = NULL;
	char *delta = NULL;
	size_t used = buf_used(&c->out), plen, dl1, dl2;
	int rc = -1;

	/* The tail must be whole: no partial write may have reached it.  A
	 * merged frame is re-encoded on every merge, so it is kept small:
	 * that bounds the cost of a merge, not how much is merged. */
	if (c->tail_len == 0 || c->tail_len > used ||
	    c->tail_len + len > FRONT_MERGE_MAX)
		return -1;
	next = opencode__server_message__unpack(NULL, len, p);
	if (next == NULL ||
	    next->payload_case != OPENCODE__SERVER_MESSAGE__PAYLOAD_TOKEN)
		goto done;
	prev = opencode__server_message__unpack(NULL, c->tail_len - c->tail_hlen,
	    buf_head(&c->out) + used - c->tail_len + c->tail_hlen);
	if (prev == NULL ||
	    prev->payload_case != OPENCODE__SERVER_MESSAGE__PAYLOAD_TOKEN ||
	    prev->request_id != 0 || !same_part(prev->token, next->token))
		goto done;
	dl1 = strlen(prev->token->delta);
	dl2 = strlen(next->token->delta);
	if ((delta = malloc(dl1 + dl2 + 1)) == NULL)
		goto done;
	memcpy(delta, prev->token->delta, dl1);
	memcpy(delta + dl1, next->token->delta, dl2 + 1);
	tok = *prev->token;
	tok.delta = delta;
	out = *prev;
	out.token = &tok;
	plen = opencode__server_message__get_packed_size(&out);
	if ((packed = malloc(plen)) == NULL)
		goto done;
	opencode__server_message__pack(&out, packed);
	buf_truncate(&c->out, used - c->tail_len);
	if (conn_queue_frame(c, WS_OP_BINARY, packed, plen) == -1) {
		conn_close(c, WS_CLOSE_INTERNAL, "out of memory");
		goto done;
	}
	c->merged++;
	rc = 0;
done:
	free(packed);
	free(delta);
	if (prev != NULL)
		opencode__server_message__free_unpacked(prev, NULL);
	if (next != NULL)
		opencode__server_message__free_unpacked(next, NULL);
	return rc;
}

int
conn_send_event(struct conn *c, const uint8_t *p, size_t len)
{
	if (c->state != CONN_OPEN)
		return -1;
	if (buf_used(&c->out) > FRONT_OUTQ_HIGH) {
		if (!c->pressure) {
			c->pressure = 1;
			log_info("conn %llx: slow reader: %zu bytes queued; merging "
			    "chat tokens", (unsigned long long)c->id,
			    buf_used(&c->out));
		}
		if (conn_merge_token(c, p, len) == 0)
			return 0;
	} else if (c->pressure && buf_used(&c->out) < FRONT_OUTQ_LOW) {
		/* Well below the mark, so the two log lines do not alternate. */
		c->pressure = 0;
		log_info("conn %llx: caught up (%llu tokens merged)",
		    (unsigned long long)c->id, (unsigned long long)c->merged);
	}
	return conn_send_message(c, p, len);
}

int
conn_send_error(struct conn *c, uint64_t request_id, const char *code,
    const char *message)
{
	Opencode__ServerMessage sm = OPENCODE__SERVER_MESSAGE__INIT;
	Opencode__ErrorResponse er = OPENCODE__ERROR_RESPONSE__INIT;
	uint8_t stackbuf[512], *p = stackbuf;
	size_t len;
	int rc;

	er.code = (char *)code;
	er.message = (char *)message;
	sm.request_id = request_id;
	sm.payload_case = OPENCODE__SERVER_MESSAGE__PAYLOAD_ERROR;
	sm.error = &er;
	len = opencode__server_message__get_packed_size(&sm);
	if (len > sizeof(stackbuf) && (p = malloc(len)) == NULL) {
		conn_close(c, WS_CLOSE_INTERNAL, "out of memory");
		return -1;
	}
	opencode__server_message__pack(&sm, p);
	rc = conn_send_message(c, p, len);
	if (p != stackbuf)
		free(p);
	return rc;
}

void
conn_close(struct conn *c, uint16_t code, const char *why)
{
	uint8_t payload[WS_MAX_CONTROL];
	size_t plen;

	if (c->state == CONN_CLOSING || c->state == CONN_LINGER)
		return;
	log_info("conn %llx: close %u: %s", (unsigned long long)c->id, code, why);
	if (c->state == CONN_HEAD) {
		/* Nothing to say before the upgrade. */
		conn_kill(c);
		return;
	}
	conn_set_state(c, CONN_CLOSING);
	dispatch_conn_gone(c);
	/* The peer's close had no code: echo an empty close. */
	plen = code == WS_CLOSE_NO_STATUS ? 0 :
	    ws_close_payload(payload, code, "");
	/* Not queued: it goes after the queue from c->final, which needs no
	 * memory (1011 for out of memory must always be sayable). */
	c->final_len = ws_frame_header(c->final, WS_OP_CLOSE, plen, NULL);
	memcpy(c->final + c->final_len, payload, plen);
	c->final_len += plen;
	c->final_off = 0;
	conn_schedule_write(c);
	conn_set_timer(c, FRONT_CLOSE_FLUSH_S);
}

void
conn_authenticated(struct conn *c)
{
	struct front *f = c->front;

	conn_set_state(c, CONN_OPEN);
	evtimer_del(c->timer);
	ws_parser_set_limit(&c->ws, f->max_message, WS_CLOSE_TOO_BIG);
	conn_read_pace(c);
	log_info("conn %llx: authenticated", (unsigned long long)c->id);
}

/* An HTTP status instead of 101, then the connection goes. */
static void
conn_reject(struct conn *c, int status, const char *why)
{
	char resp[HTTP_RESPONSE_MAX];
	int n;

	log_info("conn %llx: handshake refused with %d: %s",
	    (unsigned long long)c->id, status, why);
	n = ws_upgrade_response(status, NULL, resp, sizeof(resp));
	if (n > 0) {
		memcpy(c->final, resp, (size_t)n);
		c->final_len = (size_t)n;
		c->final_off = 0;
	}
	conn_set_state(c, CONN_CLOSING);
	conn_set_timer(c, FRONT_CLOSE_FLUSH_S);
	conn_schedule_write(c);
}

static void
conn_upgrade(struct conn *c)
{
	struct front *f = c->front;
	struct ws_upgrade_policy pol;
	struct ws_upgrade_result res;
	char resp[HTTP_RESPONSE_MAX];
	int n;

	memset(&pol, 0, sizeof(pol));
	pol.port = f->port;
	pol.allow_origins = (const char *const *)f->allow_origins;
	pol.n_allow_origins = f->n_allow_origins;
	if (ws_upgrade_check(&c->head->head, &pol, &res) != 101) {
		conn_reject(c, res.status, res.reason);
		return;
	}
	n = ws_upgrade_response(101, res.accept, resp, sizeof(resp));
	if (n <= 0 || buf_add(&c->out, resp, (size_t)n) == -1) {
		conn_kill(c);
		return;
	}
	wipe(c->head, sizeof(*c->head));
	free(c->head);
	c->head = NULL;
	ws_parser_init(&c->ws, WS_ROLE_SERVER, f->max_message);
	/* Before auth a message is at most 1 KiB: decided at the header. */
	ws_parser_set_limit(&c->ws, AUTH_MAX_MESSAGE, WS_CLOSE_POLICY);
	c->ws_ready = 1;
	conn_set_state(c, CONN_AUTH);
	conn_set_timer(c, FRONT_AUTH_TIMEOUT_S);
	conn_schedule_write(c);
	log_debug("conn %llx: upgraded", (unsigned long long)c->id);
}

static int
conn_live(const struct conn *c)
{
	return !c->dead && (c->state == CONN_HEAD || c->state == CONN_AUTH ||
	    c->state == CONN_OPEN);
}

static void
conn_input(struct conn *c, const uint8_t *data, size_t len)
{
	struct ws_event ev;
	size_t used;

	while (len > 0 && conn_live(c)) {
		if (c->state == CONN_HEAD) {
			enum http_head_status st;

			st = http_head_feed(c->head, data, len, &used);
			data += used;
			len -= used;
			if (st == HTTP_HEAD_INCOMPLETE)
				return;
			if (st == HTTP_HEAD_ERROR) {
				conn_reject(c, c->head->error_status,
				    c->head->error_reason);
				return;
			}
			conn_upgrade(c);
			continue;
		}
		switch (ws_parser_feed(&c->ws, data, len, &used, &ev)) {
		case WS_EV_NONE:
			break;
		case WS_EV_MESSAGE:
			dispatch_message(c, ev.data, ev.len);
			break;
		case WS_EV_PING:
			/* Answered at once, even inside a fragmented message,
			 * unless a pong is still queued: see conn_queue_pong. */
			conn_queue_pong(c);
			break;
		case WS_EV_PONG:
			break;
		case WS_EV_CLOSE:
			conn_close(c, ev.code, "client closed");
			break;
		case WS_EV_ERROR:
			conn_close(c, ev.code, ev.reason);
			break;
		}
		data += used;
		len -= used;
	}
}

static void
conn_read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;
	uint8_t chunk[FRONT_READ_CHUNK];
	ssize_t n;

	n = recv(fd, chunk, sizeof(chunk), 0);
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		if (c->state != CONN_LINGER && c->state != CONN_CLOSING)
			log_debug("conn %llx: peer went away",
			    (unsigned long long)c->id);
		conn_kill(c);
		return;
	}
	/* After our close, input is drained and ignored. */
	if (conn_live(c))
		conn_input(c, chunk, (size_t)n);
	/* The chunk may have held the token or an API key. */
	wipe(chunk, (size_t)n);
}

static void
conn_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;

	if (c->dead) {
		conn_destroy(c);
		return;
	}
	switch (c->state) {
	case CONN_HEAD:
		log_info("conn %llx: opening handshake not complete in %d s",
		    (unsigned long long)c->id, FRONT_HEAD_TIMEOUT_S);
		conn_kill(c);
		break;
	case CONN_AUTH:
		conn_close(c, WS_CLOSE_POLICY, "no auth handshake in time");
		break;
	case CONN_OPEN:
		break;
	case CONN_CLOSING:
		log_info("conn %llx: peer read nothing for %d s; dropped",
		    (unsigned long long)c->id, FRONT_CLOSE_FLUSH_S);
		conn_kill(c);
		break;
	case CONN_LINGER:
		conn_kill(c);
		break;
	}
}
