/*
 * Copyright (c) 2026 The ocbroker authors
 * SPDX-License-Identifier: ISC (the licence is in the file LICENSE)
 */

/*
 * Blocking WebSocket test client (see wsclient.h).  The socket stays
 * non-blocking and every wait goes through poll(2) with what is left of the
 * caller's timeout, so no test can hang on a misbehaving server.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <sys/random.h>
#include <sys/socket.h>
#include <sys/types.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "common/base64.h"
#include "common/ws_accept.h"
#include "tests/support/clock.h"
#include "tests/wsclient.h"

#define WSC_MAX_MESSAGE	(64 * 1024 * 1024)
#define WSC_MAX_HEAD	16384

struct wsc_pending {
	struct wsc_pending	*next;
	Opencode__ServerMessage	*msg;
};

static int
wait_fd(int fd, short events, int64_t deadline)
{
	struct pollfd pfd;
	int r;

	pfd.fd = fd;
	pfd.events = events;
	for (;;) {
		pfd.revents = 0;
		r = poll(&pfd, 1, it_left_ms(deadline));
		if (r == -1 && errno == EINTR)
			continue;
		if (r <= 0)
			return r;	/* 0: timeout */
		return 1;
	}
}

int
wsc_send_all(int fd, const void *data, size_t len, int timeout_ms)
{
	const uint8_t *p = data;
	int64_t deadline = it_now_ms() + timeout_ms;
	ssize_t n;

	while (len > 0) {
		n = send(fd, p, len, MSG_NOSIGNAL);
		if (n > 0) {
			p += n;
			len -= (size_t)n;
			continue;
		}
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			if (wait_fd(fd, POLLOUT, deadline) <= 0)
				return -1;
			continue;
		}
		return -1;
	}
	return 0;
}

static int
write_all(struct wsc *w, const void *data, size_t len, int timeout_ms)
{
	if (w->fd == -1)
		return -1;
	return wsc_send_all(w->fd, data, len, timeout_ms);
}

/* Reads what is available: >0 bytes, 0 EOF, -1 timeout, -2 error. */
static int
read_more(struct wsc *w, int64_t deadline)
{
	ssize_t n;
	size_t ncap;
	uint8_t *nb;
	int r;

	if (w->fd == -1)
		return -2;
	if (w->rcap - w->rlen < 65536) {
		ncap = w->rcap == 0 ? 131072 : w->rcap * 2;
		if ((nb = realloc(w->rbuf, ncap)) == NULL)
			return -2;
		w->rbuf = nb;
		w->rcap = ncap;
	}
	for (;;) {
		n = recv(w->fd, w->rbuf + w->rlen, w->rcap - w->rlen, 0);
		if (n > 0) {
			w->rlen += (size_t)n;
			return (int)n;
		}
		if (n == 0)
			return 0;
		if (errno == EINTR)
			continue;
		/* A close with our bytes unread is a reset: still a close. */
		if (errno == ECONNRESET)
			return 0;
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			return -2;
		r = wait_fd(w->fd, POLLIN, deadline);
		if (r == 0)
			return -1;
		if (r < 0)
			return -2;
	}
}

static void
consume(struct wsc *w, size_t n)
{
	memmove(w->rbuf, w->rbuf + n, w->rlen - n);
	w->rlen -= n;
}

int
wsc_connect(struct wsc *w, uint16_t port, int timeout_ms)
{
	struct sockaddr_in sin;
	int64_t deadline = it_now_ms() + timeout_ms;
	int one = 1, err = 0;
	socklen_t elen = sizeof(err);

	memset(w, 0, sizeof(*w));
	w->fd = -1;
	w->port = port;
	ws_parser_init(&w->parser, WS_ROLE_CLIENT, WSC_MAX_MESSAGE);
	if ((w->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0)) == -1)
		return -1;
	setsockopt(w->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons(port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(w->fd, (struct sockaddr *)&sin, sizeof(sin)) == 0)
		return 0;
	if (errno != EINPROGRESS)
		goto fail;
	if (wait_fd(w->fd, POLLOUT, deadline) <= 0)
		goto fail;
	if (getsockopt(w->fd, SOL_SOCKET, SO_ERROR, &err, &elen) == -1 ||
	    err != 0)
		goto fail;
	return 0;
 fail:
	close(w->fd);
	w->fd = -1;
	return -1;
}

struct hdr {
	char	name[128];
	char	value[8192];
	int	 on;
};

int
wsc_send_handshake(struct wsc *w, const char *request_line,
    const char *const *extra, int timeout_ms)
{
	static const char *const defnames[] = {
		"Host", "Upgrade", "Connection", "Sec-WebSocket-Key",
		"Sec-WebSocket-Version"
	};
	const size_t ndef = sizeof(defnames) / sizeof(defnames[0]);
	struct hdr *h;
	size_t nh = 0, i, cap, n, len = 0;
	uint8_t nonce[16];
	char *req, *colon;
	const char *v;
	int r;

	cap = ndef + 64;
	if ((h = calloc(cap, sizeof(*h))) == NULL)
		return -1;
	if (getrandom(nonce, sizeof(nonce), 0) != sizeof(nonce)) {
		free(h);
		return -1;
	}
	for (i = 0; i < ndef; i++) {
		snprintf(h[i].name, sizeof(h[i].name), "%s", defnames[i]);
		h[i].on = 1;
	}
	snprintf(h[0].value, sizeof(h[0].value), "127.0.0.1:%u",
	    (unsigned)w->port);
	snprintf(h[1].value, sizeof(h[1].value), "websocket");
	snprintf(h[2].value, sizeof(h[2].value), "Upgrade");
	base64_encode(nonce, sizeof(nonce), h[3].value, sizeof(h[3].value));
	snprintf(h[4].value, sizeof(h[4].value), "13");
	nh = ndef;

	for (; extra != NULL && *extra != NULL && nh < cap; extra++) {
		if ((colon = strchr(*extra, ':')) == NULL ||
		    (size_t)(colon - *extra) >= sizeof(h[0].name))
			continue;
		n = (size_t)(colon - *extra);
		v = colon + 1;
		while (*v == ' ')
			v++;
		for (i = 0; i < nh; i++)
			if (strlen(h[i].name) == n &&
			    strncasecmp(h[i].name, *extra, n) == 0)
				break;
		if (i == nh) {
			memcpy(h[nh].name, *extra, n);
			h[nh].name[n] = '\0';
			nh++;
		}
		h[i].on = *v != '\0';
		snprintf(h[i].value, sizeof(h[i].value), "%s", v);
	}

	/* The accept is checked against the key actually sent. */
	w->key[0] = '\0';
	if (h[3].on)
		snprintf(w->key, sizeof(w->key), "%.127s", h[3].value);

	if (request_line == NULL)
		request_line = "GET / HTTP/1.1";
	cap = strlen(request_line) + 4;
	for (i = 0; i < nh; i++)
		cap += strlen(h[i].name) + strlen(h[i].value) + 4;
	if ((req = malloc(cap + 1)) == NULL) {
		free(h);
		return -1;
	}
	len = (size_t)snprintf(req, cap + 1, "%s\r\n", request_line);
	for (i = 0; i < nh; i++)
		if (h[i].on)
			len += (size_t)snprintf(req + len, cap + 1 - len,
			    "%s: %s\r\n", h[i].name, h[i].value);
	len += (size_t)snprintf(req + len, cap + 1 - len, "\r\n");
	r = wsc_send_raw(w, req, len, timeout_ms);
	free(req);
	free(h);
	return r;
}

static void
free_head(struct wsc *w)
{
	w->nheaders = 0;
	free(w->head_cut);
	w->head_cut = NULL;
	free(w->head);
	w->head = NULL;
}

static int
check_accept(struct wsc *w)
{
	char want[WS_ACCEPT_LEN + 1];
	const char *got;

	if (w->key[0] == '\0' ||
	    (got = wsc_header(w, "Sec-WebSocket-Accept")) == NULL)
		return 0;
	ws_accept_compute(w->key, strlen(w->key), want);
	return strcmp(want, got) == 0;
}

int
wsc_read_response(struct wsc *w, int timeout_ms)
{
	int64_t deadline = it_now_ms() + timeout_ms;
	uint8_t *end = NULL;
	size_t hlen;
	char *line, *save, *colon, *v, *e;
	int r, code;

	free_head(w);
	w->status = 0;
	for (;;) {
		if (w->rlen >= 4 && (end = memmem(w->rbuf, w->rlen,
		    "\r\n\r\n", 4)) != NULL)
			break;
		if (w->rlen > WSC_MAX_HEAD)
			return -1;
		if ((r = read_more(w, deadline)) <= 0)
			return -1;
	}
	hlen = (size_t)(end - w->rbuf) + 4;
	if ((w->head = malloc(hlen + 1)) == NULL)
		return -1;
	memcpy(w->head, w->rbuf, hlen);
	w->head[hlen] = '\0';
	consume(w, hlen);

	/* Cut a copy: head stays whole for the tests to look at. */
	if ((line = w->head_cut = strdup(w->head)) == NULL)
		return -1;
	e = strtok_r(line, "\r\n", &save);
	if (e == NULL || sscanf(e, "HTTP/1.1 %3d", &code) != 1)
		return -1;
	while ((e = strtok_r(NULL, "\r\n", &save)) != NULL &&
	    w->nheaders < WSC_MAX_HEADERS) {
		if ((colon = strchr(e, ':')) == NULL)
			continue;
		*colon = '\0';
		v = colon + 1;
		while (*v == ' ' || *v == '\t')
			v++;
		w->headers[w->nheaders].name = e;
		w->headers[w->nheaders].value = v;
		w->nheaders++;
	}
	w->status = code;
	w->accept_ok = code == 101 && check_accept(w);
	return code;
}

const char *
wsc_header(const struct wsc *w, const char *name)
{
	size_t i;

	for (i = 0; i < w->nheaders; i++)
		if (w->headers[i].name != NULL &&
		    strcasecmp(w->headers[i].name, name) == 0)
			return w->headers[i].value;
	return NULL;
}

int
wsc_open(struct wsc *w, uint16_t port, int timeout_ms)
{
	int64_t deadline = it_now_ms() + timeout_ms;

	if (wsc_connect(w, port, timeout_ms) == -1)
		return -1;
	if (wsc_send_handshake(w, NULL, NULL, it_left_ms(deadline)) == -1 ||
	    wsc_read_response(w, it_left_ms(deadline)) != 101 || !w->accept_ok) {
		wsc_close(w);
		return -1;
	}
	return 0;
}

void
wsc_close(struct wsc *w)
{
	struct wsc_pending *p;

	if (w->fd != -1)
		close(w->fd);
	w->fd = -1;
	free_head(w);
	free(w->rbuf);
	w->rbuf = NULL;
	w->rlen = w->rcap = 0;
	ws_parser_free(&w->parser);
	while ((p = w->pending) != NULL) {
		w->pending = p->next;
		wsc_msg_free(p->msg);
		free(p);
	}
}

void
wsc_shutdown_write(struct wsc *w)
{
	if (w->fd != -1)
		shutdown(w->fd, SHUT_WR);
}

int
wsc_send_raw(struct wsc *w, const void *data, size_t len, int timeout_ms)
{
	return write_all(w, data, len, timeout_ms);
}

int
wsc_send_frame(struct wsc *w, int fin, enum ws_opcode op, uint8_t rsv,
    const void *data, size_t len, int masked, int timeout_ms)
{
	uint8_t hdr[WS_MAX_HEADER], mask[4], *buf;
	size_t hl;
	int r;

	if (getrandom(mask, sizeof(mask), 0) != sizeof(mask))
		return -1;
	hl = ws_frame_header(hdr, op, len, masked ? mask : NULL);
	hdr[0] = (uint8_t)((hdr[0] & 0x0f) | (fin ? 0x80 : 0) | (rsv & 0x70));
	/* One write per frame: no needless split across segments. */
	if ((buf = malloc(hl + len + 1)) == NULL)
		return -1;
	memcpy(buf, hdr, hl);
	if (len > 0)
		memcpy(buf + hl, data, len);
	if (masked)
		ws_mask(buf + hl, len, mask, 0);
	r = write_all(w, buf, hl + len, timeout_ms);
	free(buf);
	return r;
}

int
wsc_send_binary(struct wsc *w, const void *data, size_t len, int timeout_ms)
{
	return wsc_send_frame(w, 1, WS_OP_BINARY, 0, data, len, 1, timeout_ms);
}

int
wsc_send_text(struct wsc *w, const char *s, int timeout_ms)
{
	return wsc_send_frame(w, 1, WS_OP_TEXT, 0, s, strlen(s), 1,
	    timeout_ms);
}

int
wsc_send_ping(struct wsc *w, const void *data, size_t len, int timeout_ms)
{
	return wsc_send_frame(w, 1, WS_OP_PING, 0, data, len, 1, timeout_ms);
}

int
wsc_send_close(struct wsc *w, uint16_t code, const char *reason,
    int timeout_ms)
{
	uint8_t p[WS_MAX_CONTROL];
	size_t n = 0;

	if (code != 0)
		n = ws_close_payload(p, code, reason);
	return wsc_send_frame(w, 1, WS_OP_CLOSE, 0, p, n, 1, timeout_ms);
}

static int
frame_set(struct wsc_frame *f, enum wsc_kind kind, const uint8_t *data,
    size_t len, uint16_t code)
{
	f->kind = kind;
	f->code = code;
	f->len = len;
	if ((f->data = malloc(len + 1)) == NULL)
		return -1;
	if (len > 0)
		memcpy(f->data, data, len);
	f->data[len] = '\0';
	return 0;
}

enum wsc_kind
wsc_recv(struct wsc *w, struct wsc_frame *f, int timeout_ms)
{
	int64_t deadline = it_now_ms() + timeout_ms;
	struct ws_event ev;
	enum ws_event_type t;
	size_t used;
	int r;

	memset(f, 0, sizeof(*f));
	for (;;) {
		if (w->parser_done) {
			/* After a close only the TCP close may come. */
			if (w->rlen > 0) {
				f->kind = WSC_ERROR;
				return f->kind;
			}
		} else if (w->rlen > 0) {
			memset(&ev, 0, sizeof(ev));
			t = ws_parser_feed(&w->parser, w->rbuf, w->rlen, &used,
			    &ev);
			r = 0;
			switch (t) {
			case WS_EV_NONE:
				break;
			case WS_EV_MESSAGE:
				r = frame_set(f, WSC_MESSAGE, ev.data, ev.len,
				    0);
				break;
			case WS_EV_PING:
				r = frame_set(f, WSC_PING, ev.data, ev.len, 0);
				break;
			case WS_EV_PONG:
				r = frame_set(f, WSC_PONG, ev.data, ev.len, 0);
				break;
			case WS_EV_CLOSE:
				w->parser_done = 1;
				r = frame_set(f, WSC_CLOSE, ev.data, ev.len,
				    ev.code);
				break;
			case WS_EV_ERROR:
				w->parser_done = 1;
				r = frame_set(f, WSC_BAD, NULL, 0, ev.code);
				break;
			}
			consume(w, used);
			if (r == -1) {
				f->kind = WSC_ERROR;
				return f->kind;
			}
			if (t != WS_EV_NONE)
				return f->kind;
			if (w->rlen > 0)
				continue;
		}
		r = read_more(w, deadline);
		if (r == 0) {
			f->kind = WSC_EOF;
			return f->kind;
		}
		if (r == -1) {
			f->kind = WSC_TIMEOUT;
			return f->kind;
		}
		if (r < 0) {
			f->kind = WSC_ERROR;
			return f->kind;
		}
	}
}

void
wsc_frame_free(struct wsc_frame *f)
{
	free(f->data);
	f->data = NULL;
	f->len = 0;
}

int
wsc_wait_close(struct wsc *w, int timeout_ms)
{
	int64_t deadline = it_now_ms() + timeout_ms;
	Opencode__ServerMessage *m;
	struct wsc_frame f;
	int code = -1;

	for (;;) {
		switch (wsc_recv(w, &f, it_left_ms(deadline))) {
		case WSC_PING:
		case WSC_PONG:
			wsc_frame_free(&f);
			continue;
		case WSC_MESSAGE:
			m = opencode__server_message__unpack(NULL, f.len,
			    f.data);
			wsc_frame_free(&f);
			if (m != NULL && m->request_id == 0) {
				wsc_msg_free(m);
				continue;
			}
			wsc_msg_free(m);
			return -1;
		case WSC_CLOSE:
			code = f.code;
			wsc_frame_free(&f);
			/* The TCP close must follow, with nothing before it. */
			if (wsc_recv(w, &f, it_left_ms(deadline)) != WSC_EOF) {
				wsc_frame_free(&f);
				return -1;
			}
			return code;
		case WSC_EOF:
			return 0;
		default:
			wsc_frame_free(&f);
			return -1;
		}
	}
}

int
wsc_send_msg(struct wsc *w, const Opencode__ClientMessage *m, int timeout_ms)
{
	size_t len = opencode__client_message__get_packed_size(m);
	uint8_t *buf;
	int r;

	if ((buf = malloc(len + 1)) == NULL)
		return -1;
	opencode__client_message__pack(m, buf);
	r = wsc_send_binary(w, buf, len, timeout_ms);
	free(buf);
	return r;
}

Opencode__ServerMessage *
wsc_recv_msg(struct wsc *w, struct wsc_frame *other, int timeout_ms)
{
	Opencode__ServerMessage *m;
	struct wsc_frame f;

	if (wsc_recv(w, &f, timeout_ms) != WSC_MESSAGE) {
		if (other != NULL)
			*other = f;
		else
			wsc_frame_free(&f);
		return NULL;
	}
	m = opencode__server_message__unpack(NULL, f.len, f.data);
	if (m == NULL && other != NULL) {
		*other = f;	/* undecodable: let the caller see it */
		return NULL;
	}
	wsc_frame_free(&f);
	if (other != NULL)
		memset(other, 0, sizeof(*other));
	return m;
}

Opencode__ServerMessage *
wsc_recv_reply(struct wsc *w, uint64_t request_id, int timeout_ms)
{
	int64_t deadline = it_now_ms() + timeout_ms;
	struct wsc_pending **pp, *p;
	Opencode__ServerMessage *m;
	struct wsc_frame f;
	int control;

	for (pp = &w->pending; (p = *pp) != NULL; pp = &p->next) {
		if (p->msg->request_id == request_id) {
			*pp = p->next;
			m = p->msg;
			free(p);
			return m;
		}
	}
	for (;;) {
		m = wsc_recv_msg(w, &f, it_left_ms(deadline));
		if (m == NULL) {
			control = f.kind == WSC_PING || f.kind == WSC_PONG;
			wsc_frame_free(&f);
			if (control)
				continue;
			return NULL;
		}
		if (m->request_id == request_id)
			return m;
		if (m->request_id == 0) {
			wsc_msg_free(m);
			continue;
		}
		if ((p = calloc(1, sizeof(*p))) == NULL) {
			wsc_msg_free(m);
			return NULL;
		}
		p->msg = m;
		p->next = w->pending;
		w->pending = p;
	}
}

void
wsc_msg_free(Opencode__ServerMessage *m)
{
	if (m != NULL)
		opencode__server_message__free_unpacked(m, NULL);
}

int
wsc_auth(struct wsc *w, const char *token, uint64_t request_id,
    int timeout_ms)
{
	Opencode__ClientMessage cm = OPENCODE__CLIENT_MESSAGE__INIT;
	Opencode__AuthHandshake ah = OPENCODE__AUTH_HANDSHAKE__INIT;
	Opencode__ServerMessage *m;
	int64_t deadline = it_now_ms() + timeout_ms;
	int r = -1;

	ah.token = (char *)token;
	cm.request_id = request_id;
	cm.payload_case = OPENCODE__CLIENT_MESSAGE__PAYLOAD_AUTH_HANDSHAKE;
	cm.auth_handshake = &ah;
	if (wsc_send_msg(w, &cm, it_left_ms(deadline)) == -1)
		return -1;
	/* Its answer must be the first message after the auth. */
	if ((m = wsc_recv_msg(w, NULL, it_left_ms(deadline))) == NULL)
		return -1;
	if (m->payload_case ==
	    OPENCODE__SERVER_MESSAGE__PAYLOAD_AUTH_HANDSHAKE_RESPONSE)
		r = m->auth_handshake_response->success ? 1 : 0;
	wsc_msg_free(m);
	return r;
}
