/*
 * Copyright (c) 2026 The ocbroker authors
 * SPDX-License-Identifier: ISC (the licence is in the file LICENSE)
 */

/*
 * Routing.  Client messages after the upgrade: the auth handshake, requests the
 * front answers itself (Subscribe), and everything else forwarded to netproc
 * tagged with (connection, request_id).  Frames from netproc: replies back to
 * their connection, events fanned out to every authenticated connection whose
 * filter lets them through.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "broker/auth.h"
#include "broker/front.h"
#include "common/errcode.h"
#include "common/log.h"
#include "common/pballoc.h"
#include "common/pbcheck.h"
#include "common/pbtrack.h"

#define SESSION_ID_MAX	100


static int
send_packed(struct conn *c, const Opencode__ServerMessage *sm)
{
	uint8_t stackbuf[256], *p = stackbuf;
	size_t len = opencode__server_message__get_packed_size(sm);
	int rc;

	if (len > sizeof(stackbuf) && (p = malloc(len)) == NULL) {
		conn_close(c, WS_CLOSE_INTERNAL, "out of memory");
		return -1;
	}
	opencode__server_message__pack(sm, p);
	rc = conn_send_message(c, p, len);
	if (p != stackbuf)
		free(p);
	return rc;
}

/* A ServerMessage with the request's id and no payload: "done". */
static int
send_empty(struct conn *c, uint64_t request_id)
{
	Opencode__ServerMessage sm = OPENCODE__SERVER_MESSAGE__INIT;

	sm.request_id = request_id;
	return send_packed(c, &sm);
}

/* The first message was something else: UNAUTHENTICATED, then 1008. */
static void
auth_refuse(struct conn *c, uint64_t rid)
{
	conn_send_error(c, rid, ERR_UNAUTHENTICATED,
	    "the first message must be an auth handshake");
	conn_close(c, WS_CLOSE_POLICY,
	    "first message was not an auth handshake");
}

static void
auth_answer(struct conn *c, const Opencode__ClientMessage *m)
{
	struct front *f = c->front;
	Opencode__ServerMessage sm = OPENCODE__SERVER_MESSAGE__INIT;
	Opencode__AuthHandshakeResponse ar =
	    OPENCODE__AUTH_HANDSHAKE_RESPONSE__INIT;
	uint64_t rid = m != NULL ? m->request_id : 0;

	switch (auth_check(m, f->token, f->token_len)) {
	case AUTH_OK:
		ar.success = 1;
		sm.request_id = rid;
		sm.payload_case =
		    OPENCODE__SERVER_MESSAGE__PAYLOAD_AUTH_HANDSHAKE_RESPONSE;
		sm.auth_handshake_response = &ar;
		if (send_packed(c, &sm) == -1)
			return;
		conn_authenticated(c);
		break;
	case AUTH_BAD_TOKEN:
		ar.success = 0;
		ar._error_case = OPENCODE__AUTH_HANDSHAKE_RESPONSE___ERROR_ERROR;
		ar.error = (char *)"invalid token";
		sm.request_id = rid;
		sm.payload_case =
		    OPENCODE__SERVER_MESSAGE__PAYLOAD_AUTH_HANDSHAKE_RESPONSE;
		sm.auth_handshake_response = &ar;
		send_packed(c, &sm);
		conn_close(c, WS_CLOSE_POLICY, "auth failed: invalid token");
		break;
	case AUTH_NOT_HANDSHAKE:
		auth_refuse(c, rid);
		break;
	}
}

static int
valid_session_id(const char *s)
{
	size_t len = strlen(s);

	if (len <= 4 || len > SESSION_ID_MAX || strncmp(s, "ses_", 4) != 0)
		return 0;
	for (size_t i = 4; i < len; i++) {
		char ch = s[i];

		if (!((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') ||
		    (ch >= 'A' && ch <= 'Z')))
			return 0;
	}
	return 1;
}

void
dispatch_clear_filter(struct conn *c)
{
	for (size_t i = 0; i < c->nfilter; i++)
		free(c->filter[i]);
	c->nfilter = 0;
}

static void
subscribe(struct conn *c, uint64_t rid, const Opencode__Subscribe *s)
{
	if (s->n_session_ids > FRONT_MAX_FILTER) {
		conn_send_error(c, rid, ERR_INVALID_REQUEST,
		    "too many session ids in one Subscribe");
		return;
	}
	for (size_t i = 0; i < s->n_session_ids; i++)
		if (!valid_session_id(s->session_ids[i])) {
			conn_send_error(c, rid, ERR_INVALID_REQUEST,
			    "invalid session id");
			return;
		}
	dispatch_clear_filter(c);
	for (size_t i = 0; i < s->n_session_ids; i++) {
		if ((c->filter[i] = strdup(s->session_ids[i])) == NULL) {
			dispatch_clear_filter(c);
			conn_send_error(c, rid, ERR_INTERNAL, "out of memory");
			return;
		}
		c->nfilter++;
	}
	send_empty(c, rid);
}

static int
inflight_find(const struct conn *c, uint64_t rid)
{
	for (size_t i = 0; i < c->ninflight; i++)
		if (c->inflight[i] == rid)
			return (int)i;
	return -1;
}

static void
forward(struct conn *c, uint64_t rid, const uint8_t *data, size_t len)
{
	struct front *f = c->front;
	Ocb__Ipc__Frame fr = OCB__IPC__FRAME__INIT;
	Ocb__Ipc__Request rq = OCB__IPC__REQUEST__INIT;

	if (rid == 0) {
		conn_send_error(c, rid, ERR_INVALID_REQUEST,
		    "request_id 0 is reserved for events");
		return;
	}
	if (inflight_find(c, rid) != -1) {
		conn_send_error(c, rid, ERR_INVALID_REQUEST,
		    "request_id is already in flight");
		return;
	}
	if (c->ninflight == FRONT_MAX_INFLIGHT) {
		conn_send_error(c, rid, ERR_TOO_MANY_REQUESTS,
		    "too many requests in flight on this connection");
		return;
	}
	if (f->np.chan.fd == -1) {
		conn_send_error(c, rid, ERR_UPSTREAM_UNAVAILABLE, "netproc is restarting");
		return;
	}
	rq.conn_id = c->id;
	rq.request_id = rid;
	rq.client_message.data = (uint8_t *)data;
	rq.client_message.len = len;
	fr.body_case = OCB__IPC__FRAME__BODY_REQUEST;
	fr.request = &rq;
	if (front_netproc_send(f, &fr) == -1) {
		if (errno == ENOMEM)
			conn_send_error(c, rid, ERR_INTERNAL, "out of memory");
		else
			conn_send_error(c, rid, ERR_UPSTREAM_UNAVAILABLE,
			    "netproc is not reading");
		return;
	}
	c->inflight[c->ninflight++] = rid;
}

/*
 * The message did not decode because an allocation failed: it costs this
 * request (INTERNAL with the request_id read from the wire) or, before auth,
 * this connection; never a BAD_MESSAGE, which would blame the client.
 * Returns 0 when answered so, -1 when the message is malformed as well.
 */
static int
decode_nomem(struct conn *c, const uint8_t *data, size_t len)
{
	enum pbcheck_result chk;
	uint64_t rid = 0;

	chk = pbcheck_strings(&opencode__client_message__descriptor, data, len);
	if (chk == PBCHECK_MALFORMED ||
	    pbpeek(data, len, 1, 0, &rid, NULL, NULL) == -1)
		return -1;
	log_warnx("conn %llx: request %llu: out of memory decoding it",
	    (unsigned long long)c->id, (unsigned long long)rid);
	if (c->state == CONN_AUTH) {
		conn_send_error(c, rid, ERR_INTERNAL, "out of memory");
		conn_close(c, WS_CLOSE_INTERNAL, "out of memory");
	} else if (chk != PBCHECK_OK)
		conn_send_error(c, rid, ERR_INVALID_REQUEST, pbcheck_why(chk));
	else
		conn_send_error(c, rid, ERR_INTERNAL, "out of memory");
	return 0;
}

void
dispatch_message(struct conn *c, const uint8_t *data, size_t len)
{
	Opencode__ClientMessage *m;
	enum pbcheck_result chk;
	struct pb_track t;
	uint64_t rid;

	/* Before auth, only a small message that starts as a handshake is
	 * decoded: nothing else may cost the front more than its 1 KiB. */
	if (c->state == CONN_AUTH &&
	    auth_first_field(data, len, &rid) == -1) {
		auth_refuse(c, rid);
		return;
	}
	pb_track_init(&t, pb_wiping_allocator());
	m = opencode__client_message__unpack(&t.a, len, data);
	if (m == NULL && t.failed && decode_nomem(c, data, len) == 0)
		return;
	/* Decoded strings are C strings: "ses_a\0b" would read as "ses_a". */
	if (m != NULL && (chk = pbcheck_strings(
	    &opencode__client_message__descriptor, data, len)) != PBCHECK_OK) {
		log_info("conn %llx: request %llu refused: %s",
		    (unsigned long long)c->id,
		    (unsigned long long)m->request_id, pbcheck_why(chk));
		if (c->state == CONN_AUTH) {
			/* Not a handshake we can trust: UNAUTHENTICATED. */
			opencode__client_message__free_unpacked(m,
			    pb_wiping_allocator());
			m = NULL;
		} else {
			conn_send_error(c, m->request_id, ERR_INVALID_REQUEST,
			    pbcheck_why(chk));
			goto done;
		}
	}
	if (c->state == CONN_AUTH) {
		auth_answer(c, m);
		goto done;
	}
	if (m == NULL) {
		/* No request_id can be trusted from an undecodable message. */
		log_info("conn %llx: message is not a ClientMessage",
		    (unsigned long long)c->id);
		conn_send_error(c, 0, ERR_BAD_MESSAGE,
		    "not a valid ClientMessage");
		return;
	}
	switch (m->payload_case) {
	case OPENCODE__CLIENT_MESSAGE__PAYLOAD__NOT_SET:
		/* Also a payload from a newer version: an unknown field. */
		log_info("conn %llx: request %llu has no known payload",
		    (unsigned long long)c->id, (unsigned long long)m->request_id);
		conn_send_error(c, m->request_id, ERR_UNKNOWN_REQUEST,
		    "no payload this version knows");
		break;
	case OPENCODE__CLIENT_MESSAGE__PAYLOAD_AUTH_HANDSHAKE:
		conn_send_error(c, m->request_id, ERR_INVALID_REQUEST,
		    "already authenticated");
		break;
	case OPENCODE__CLIENT_MESSAGE__PAYLOAD_SUBSCRIBE:
		subscribe(c, m->request_id, m->subscribe);
		break;
	default:
		forward(c, m->request_id, data, len);
		break;
	}
done:
	if (m != NULL)
		opencode__client_message__free_unpacked(m, pb_wiping_allocator());
}

void
dispatch_conn_gone(struct conn *c)
{
	Ocb__Ipc__Frame fr = OCB__IPC__FRAME__INIT;
	Ocb__Ipc__Cancel cn = OCB__IPC__CANCEL__INIT;

	if (c->ninflight == 0)
		return;
	c->ninflight = 0;
	if (c->front->np.chan.fd == -1)
		return;
	cn.conn_id = c->id;
	fr.body_case = OCB__IPC__FRAME__BODY_CANCEL;
	fr.cancel = &cn;
	(void)front_netproc_send(c->front, &fr);
}

static int
filter_pass(const struct conn *c, const char *session_id)
{
	if (c->nfilter == 0 || session_id == NULL || *session_id == '\0')
		return 1;
	for (size_t i = 0; i < c->nfilter; i++)
		if (strcmp(c->filter[i], session_id) == 0)
			return 1;
	return 0;
}

static void
fan_out_one(struct conn *c, void *arg)
{
	const Ocb__Ipc__Event *ev = arg;

	if (filter_pass(c, ev->session_id))
		conn_send_event(c, ev->server_message.data,
		    ev->server_message.len);
}

static void
fan_out(struct front *f, const Ocb__Ipc__Event *ev)
{
	conn_foreach_open(f, fan_out_one, (void *)ev);
}

static void
upstream_status_all(struct front *f, int connected)
{
	Opencode__ServerMessage sm = OPENCODE__SERVER_MESSAGE__INIT;
	Opencode__UpstreamStatus us = OPENCODE__UPSTREAM_STATUS__INIT;
	Ocb__Ipc__Event ev = OCB__IPC__EVENT__INIT;
	uint8_t buf[64];

	us.connected = connected;
	sm.payload_case = OPENCODE__SERVER_MESSAGE__PAYLOAD_UPSTREAM_STATUS;
	sm.upstream_status = &us;
	ev.server_message.len = opencode__server_message__pack(&sm, buf);
	ev.server_message.data = buf;
	ev.session_id = (char *)"";
	fan_out(f, &ev);
}

void
dispatch_netproc_frame(struct front *f, Ocb__Ipc__Frame *fr)
{
	struct conn *c;
	int i;

	switch (fr->body_case) {
	case OCB__IPC__FRAME__BODY_REPLY:
		c = conn_lookup(f, fr->reply->conn_id);
		if (c == NULL || !conn_is_open(c) ||
		    (i = inflight_find(c, fr->reply->request_id)) == -1) {
			/* The client went away meanwhile; nothing to do. */
			log_debug("reply for a closed connection dropped");
			return;
		}
		c->inflight[i] = c->inflight[--c->ninflight];
		conn_send_message(c, fr->reply->server_message.data,
		    fr->reply->server_message.len);
		break;
	case OCB__IPC__FRAME__BODY_EVENT:
		fan_out(f, fr->event);
		break;
	default:
		front_restart_netproc(f, "netproc sent a frame it must not send");
		break;
	}
}

void
dispatch_netproc_lost(struct front *f, const struct ipc_lost *l)
{
	struct conn *c;
	int i;

	switch (l->body_case) {
	case OCB__IPC__FRAME__BODY_REPLY:
		log_warnx("reply to request %llu lost: out of memory",
		    (unsigned long long)l->request_id);
		c = conn_lookup(f, l->conn_id);
		if (c == NULL || !conn_is_open(c) ||
		    (i = inflight_find(c, l->request_id)) == -1)
			return;
		c->inflight[i] = c->inflight[--c->ninflight];
		conn_send_error(c, l->request_id, ERR_INTERNAL,
		    "out of memory");
		break;
	case OCB__IPC__FRAME__BODY_EVENT:
		/* Nobody's request: the event is dropped, and said so. */
		log_warnx("an event was lost: out of memory");
		break;
	default:
		front_restart_netproc(f, "netproc sent a frame it must not send");
		break;
	}
}

/* Fails what the connection has in flight: netproc will not answer. */
static void
fail_inflight(struct conn *c, void *arg)
{
	size_t n = c->ninflight;

	(void)arg;
	c->ninflight = 0;
	for (size_t i = 0; i < n; i++)
		conn_send_error(c, c->inflight[i], ERR_UPSTREAM_UNAVAILABLE,
		    "netproc went away");
}

void
dispatch_netproc_down(struct front *f)
{
	conn_foreach_open(f, fail_inflight, NULL);
	if (f->np.connected) {
		f->np.connected = 0;
		upstream_status_all(f, 0);
	}
}
