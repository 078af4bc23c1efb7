/*
 * Copyright (c) 2026 The ocbroker authors
 * SPDX-License-Identifier: ISC (the licence is in the file LICENSE)
 */

/*
 * Tests of libocbclient and ocbctl against the real ocbroker (OCBROKER) in
 * front of tests/fake_upstream (FAKE_UPSTREAM, OCB_FIXTURES), started by
 * tests/integration_util.  ocbctl is OCBCTL, or "ocbctl" beside OCBROKER.
 * A few tests use a scripted WebSocket server forked by the test itself,
 * for what the broker never does on its own (pings, odd close codes, a
 * wrong Sec-WebSocket-Accept).
 */
#include "config.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <cmocka.h>

#include "client/ocbclient.h"
#include "common/ws_accept.h"
#include "common/ws_frame.h"
#include "proto/messages.pb-c.h"
#include "tests/support/itest.h"

#define FX_SESSION	"ses_de9d9dd34ffervjM6BvxQjuyqi"
#define UNKNOWN_SESSION	"ses_0000000000000000000000000000"
#define FX_SESSIONS	12
#define FX_AGENTS	7
#define FX_TEXT		"Hello from the mock language model."
#define N_INFLIGHT	20

/* ---- setup ---- */

static int
setup_default(void **state)
{
	if (it_setup_default(state) == -1)
		return -1;
	/*
	 * netproc's event stream is up once its loop runs.  Until then,
	 * requests that reach it in the same read as its configuration frame
	 * sit in its IPC buffer unprocessed (a netproc start-up race, reported)
	 * and the first test would wait for replies that never come.
	 */
	return it_fake_wait_streams(*state, 1, T_REPLY);
}

static int
setup_none(void **state)
{
	*state = NULL;
	return 0;
}

static struct ocb_client *
connected(const struct it_env *e)
{
	struct ocb_client *c;

	assert_non_null(c = ocb_client_new());
	if (ocb_client_connect(c, e->port, e->token, T_IO) == -1)
		fail_msg("connect: %s", ocb_client_error(c));
	return c;
}

/* ---- requests ---- */

enum kind {
	K_PROVIDERS,
	K_SESSIONS,
	K_HEALTH,
	K_SUBSCRIBE,
	K_AGENTS,
	K_GET_AUTH,
	K_BAD_DELETE,
	K_CREATE,
	K_NKINDS
};

/* The storage a request points into: it must live until it is packed. */
struct req {
	Opencode__ClientMessage			cm;
	Opencode__ListSessionsRequest		ls;
	Opencode__ListAgentsRequest		la;
	Opencode__GetProviderStatusRequest	gp;
	Opencode__HealthCheck			hc;
	Opencode__Subscribe			sub;
	Opencode__GetAuthRequest		ga;
	Opencode__DeleteSessionRequest		del;
	Opencode__CreateSessionRequest		cs;
};

static void
req_init(struct req *r, enum kind k)
{
	opencode__client_message__init(&r->cm);
	opencode__list_sessions_request__init(&r->ls);
	opencode__list_agents_request__init(&r->la);
	opencode__get_provider_status_request__init(&r->gp);
	opencode__health_check__init(&r->hc);
	opencode__subscribe__init(&r->sub);
	opencode__get_auth_request__init(&r->ga);
	opencode__delete_session_request__init(&r->del);
	opencode__create_session_request__init(&r->cs);
	switch (k) {
	case K_PROVIDERS:
		r->cm.payload_case =
		    OPENCODE__CLIENT_MESSAGE__PAYLOAD_GET_PROVIDER_STATUS;
		r->cm.get_provider_status = &r->gp;
		break;
	case K_SESSIONS:
		r->cm.payload_case =
		    OPENCODE__CLIENT_MESSAGE__PAYLOAD_LIST_SESSIONS;
		r->cm.list_sessions = &r->ls;
		break;
	case K_HEALTH:
		r->cm.payload_case =
		    OPENCODE__CLIENT_MESSAGE__PAYLOAD_HEALTH_CHECK;
		r->cm.health_check = &r->hc;
		break;
	case K_SUBSCRIBE:
		r->cm.payload_case =
		    OPENCODE__CLIENT_MESSAGE__PAYLOAD_SUBSCRIBE;
		r->cm.subscribe = &r->sub;
		break;
	case K_AGENTS:
		r->cm.payload_case =
		    OPENCODE__CLIENT_MESSAGE__PAYLOAD_LIST_AGENTS;
		r->cm.list_agents = &r->la;
		break;
	case K_GET_AUTH:
		r->ga.provider_id = "mock";
		r->cm.payload_case = OPENCODE__CLIENT_MESSAGE__PAYLOAD_GET_AUTH;
		r->cm.get_auth = &r->ga;
		break;
	case K_BAD_DELETE:
		r->del.session_id = "../x";
		r->cm.payload_case =
		    OPENCODE__CLIENT_MESSAGE__PAYLOAD_DELETE_SESSION;
		r->cm.delete_session = &r->del;
		break;
	case K_CREATE:
	case K_NKINDS:
		r->cm.payload_case =
		    OPENCODE__CLIENT_MESSAGE__PAYLOAD_CREATE_SESSION;
		r->cm.create_session = &r->cs;
		break;
	}
}

/* What each kind must be answered with. */
static int
expected_payload(enum kind k)
{
	switch (k) {
	case K_PROVIDERS:
		return OPENCODE__SERVER_MESSAGE__PAYLOAD_PROVIDER_STATUS;
	case K_SESSIONS:
		return OPENCODE__SERVER_MESSAGE__PAYLOAD_SESSION_LIST;
	case K_HEALTH:
		return OPENCODE__SERVER_MESSAGE__PAYLOAD_UPSTREAM_HEALTH;
	case K_SUBSCRIBE:
		return OPENCODE__SERVER_MESSAGE__PAYLOAD__NOT_SET;
	case K_AGENTS:
		return OPENCODE__SERVER_MESSAGE__PAYLOAD_AGENT_LIST;
	case K_GET_AUTH:
		return OPENCODE__SERVER_MESSAGE__PAYLOAD_AUTH_STATUS;
	case K_BAD_DELETE:
		return OPENCODE__SERVER_MESSAGE__PAYLOAD_ERROR;
	default:
		return OPENCODE__SERVER_MESSAGE__PAYLOAD_SESSION_INFO;
	}
}

struct reply_rec {
	int		*seq;		/* arrival counter shared by all */
	enum kind	 kind;
	uint64_t	 id;		/* as assigned by the library */
	uint64_t	 got_id;
	int		 calls;
	int		 order;		/* 1 = first reply to arrive */
	int		 null_reply;
	int		 payload;
	size_t		 n;		/* sessions or agents */
	char		 detail[64];	/* error code, provider id, ... */
};

static void
on_reply(struct ocb_client *c, uint64_t id, const Opencode__ServerMessage *m,
    void *arg)
{
	struct reply_rec *r = arg;

	(void)c;
	r->calls++;
	r->got_id = id;
	r->order = ++*r->seq;
	if (m == NULL) {
		r->null_reply = 1;
		return;
	}
	r->payload = (int)m->payload_case;
	switch (m->payload_case) {
	case OPENCODE__SERVER_MESSAGE__PAYLOAD_SESSION_LIST:
		r->n = m->session_list->n_sessions;
		break;
	case OPENCODE__SERVER_MESSAGE__PAYLOAD_AGENT_LIST:
		r->n = m->agent_list->n_agents;
		break;
	case OPENCODE__SERVER_MESSAGE__PAYLOAD_ERROR:
		snprintf(r->detail, sizeof(r->detail), "%s", m->error->code);
		break;
	case OPENCODE__SERVER_MESSAGE__PAYLOAD_AUTH_STATUS:
		snprintf(r->detail, sizeof(r->detail), "%s:%d",
		    m->auth_status->provider_id, m->auth_status->connected);
		break;
	case OPENCODE__SERVER_MESSAGE__PAYLOAD_PROVIDER_STATUS:
		r->n = m->provider_status->n_connected;
		break;
	default:
		break;
	}
}

/*
 * 20 requests in flight at once, driven from our own poll loop.  The first
 * one maps the 6.5 MB /provider document and Subscribe is answered by the
 * front alone, so replies cannot all come back in the order sent.
 */
static void
test_correlation(void **state)
{
	struct it_env *e = *state;
	struct ocb_client *c = connected(e);
	struct req reqs[N_INFLIGHT];
	struct reply_rec recs[N_INFLIGHT];
	struct pollfd pfd;
	int64_t deadline;
	int seq = 0, i, j, done, out_of_order = 0;

	memset(recs, 0, sizeof(recs));
	for (i = 0; i < N_INFLIGHT; i++) {
		recs[i].seq = &seq;
		recs[i].kind = i == 0 ? K_PROVIDERS :
		    (enum kind)(1 + (i - 1) % (K_NKINDS - 1));
		req_init(&reqs[i], recs[i].kind);
		if (ocb_client_request(c, &reqs[i].cm, on_reply,
		    &recs[i]) == -1)
			fail_msg("request %d: %s", i, ocb_client_error(c));
		recs[i].id = reqs[i].cm.request_id;
		assert_true(recs[i].id != 0);
		for (j = 0; j < i; j++)
			assert_true(recs[j].id != recs[i].id);
	}
	assert_int_equal(ocb_client_in_flight(c), N_INFLIGHT);

	deadline = it_now_ms() + T_REPLY;
	while (seq < N_INFLIGHT && it_now_ms() < deadline) {
		pfd.fd = ocb_client_fd(c);
		pfd.events = POLLIN | (ocb_client_want_write(c) ? POLLOUT : 0);
		if (poll(&pfd, 1, 100) == -1 && errno != EINTR)
			fail_msg("poll: %s", strerror(errno));
		if (ocb_client_process(c, 0) == -1)
			fail_msg("process: %s", ocb_client_error(c));
	}
	assert_int_equal(seq, N_INFLIGHT);
	assert_int_equal(ocb_client_in_flight(c), 0);

	for (i = 0, done = 0; i < N_INFLIGHT; i++) {
		struct reply_rec *r = &recs[i];

		assert_int_equal(r->calls, 1);
		assert_false(r->null_reply);
		assert_true(r->got_id == r->id);
		if (r->payload != expected_payload(r->kind))
			fail_msg("request %d (kind %d): payload %d, %s", i,
			    (int)r->kind, r->payload, r->detail);
		switch (r->kind) {
		case K_SESSIONS:
			assert_int_equal(r->n, FX_SESSIONS);
			break;
		case K_AGENTS:
			assert_int_equal(r->n, FX_AGENTS);
			break;
		case K_BAD_DELETE:
			assert_string_equal(r->detail, "INVALID_REQUEST");
			break;
		case K_GET_AUTH:
			assert_string_equal(r->detail, "mock:1");
			break;
		case K_PROVIDERS:
			assert_int_equal(r->n, 2);
			break;
		default:
			break;
		}
		for (j = i + 1; j < N_INFLIGHT; j++)
			if (recs[j].order < r->order)
				out_of_order = 1;
		done++;
	}
	assert_int_equal(done, N_INFLIGHT);
	assert_true(out_of_order);
	/* The slow one was overtaken. */
	assert_true(recs[0].order > 1);

	assert_int_equal(ocb_client_close(c, T_IO), 0);
	assert_int_equal(ocb_client_close_code(c), 1000);
	ocb_client_free(c);
}

/* ---- the synchronous call, and events delivered meanwhile ---- */

struct events {
	int	tokens;
	int	completed;
	int	other;
	char	text[256];
	char	finish[32];
	int64_t	in_tokens, out_tokens;
};

static void
on_event(struct ocb_client *c, const Opencode__ServerMessage *m, void *arg)
{
	struct events *ev = arg;
	size_t tl;

	(void)c;
	assert_int_equal(m->request_id, 0);
	switch (m->payload_case) {
	case OPENCODE__SERVER_MESSAGE__PAYLOAD_TOKEN:
		ev->tokens++;
		tl = strlen(ev->text);
		snprintf(ev->text + tl, sizeof(ev->text) - tl, "%s",
		    m->token->delta);
		break;
	case OPENCODE__SERVER_MESSAGE__PAYLOAD_COMPLETED:
		ev->completed++;
		snprintf(ev->finish, sizeof(ev->finish), "%s",
		    m->completed->finish);
		ev->in_tokens = m->completed->input_tokens;
		ev->out_tokens = m->completed->output_tokens;
		break;
	default:
		ev->other++;
	}
}

static Opencode__ServerMessage *
call(struct ocb_client *c, struct req *r)
{
	Opencode__ServerMessage *m;

	if (ocb_client_call(c, &r->cm, T_REPLY, &m) == -1)
		fail_msg("call: %s", ocb_client_error(c));
	assert_non_null(m);
	assert_true(m->request_id == r->cm.request_id);
	return m;
}

static void
test_sync_call(void **state)
{
	struct it_env *e = *state;
	struct ocb_client *c = connected(e);
	Opencode__ServerMessage *m;
	struct events ev;
	struct req r;
	char *resp = NULL;
	int i;

	memset(&ev, 0, sizeof(ev));
	ocb_client_set_event_cb(c, on_event, &ev);

	req_init(&r, K_SESSIONS);
	m = call(c, &r);
	assert_int_equal(m->payload_case,
	    OPENCODE__SERVER_MESSAGE__PAYLOAD_SESSION_LIST);
	assert_int_equal(m->session_list->n_sessions, FX_SESSIONS);
	assert_string_equal(m->session_list->sessions[0]->id,
	    "ses_de9d92354ffeyyP4zHEmF5A4Lo");
	assert_int_equal(m->session_list->sessions[0]->_title_case,
	    OPENCODE__SESSION_INFO___TITLE_TITLE);
	assert_string_equal(m->session_list->sessions[0]->title,
	    "bad agent chat");
	ocb_message_free(m);

	/*
	 * Nothing but ocb_client_call() reads the socket here: every event
	 * counted was dispatched while a call waited for its own reply.
	 */
	if (it_fake_wait_streams(e, 1, T_REPLY) == -1)
		fail_msg("ocbroker never subscribed to /event");
	assert_int_equal(it_fake_req(e, "POST", "/__fake/sse", "sse-text.txt",
	    &resp), 200);
	free(resp);
	for (i = 0; i < 100 && ev.completed == 0; i++) {
		req_init(&r, K_HEALTH);
		m = call(c, &r);
		assert_int_equal(m->payload_case,
		    OPENCODE__SERVER_MESSAGE__PAYLOAD_UPSTREAM_HEALTH);
		assert_true(m->upstream_health->healthy);
		ocb_message_free(m);
		if (ev.completed == 0)
			usleep(20000);
	}
	assert_int_equal(ev.completed, 1);
	assert_int_equal(ev.tokens, 6);
	assert_string_equal(ev.text, FX_TEXT);
	assert_string_equal(ev.finish, "stop");
	assert_int_equal(ev.in_tokens, 120);
	assert_int_equal(ev.out_tokens, 6);
	assert_true(ev.other > 0);	/* session events */

	assert_int_equal(ocb_client_close(c, T_IO), 0);
	ocb_client_free(c);
}

/* A call that times out forgets its request; the connection stays usable. */
static void
test_call_timeout(void **state)
{
	struct it_env *e = *state;
	struct ocb_client *c = connected(e);
	Opencode__ServerMessage *m = NULL;
	struct req r;

	assert_int_equal(it_fake_mode(e, "hang"), 0);
	req_init(&r, K_HEALTH);
	assert_int_equal(ocb_client_call(c, &r.cm, 300, &m), -1);
	assert_null(m);
	/* The client's own 300 ms timeout, not the broker's 30 s one (that
	 * would be an UPSTREAM_TIMEOUT reply, m set). */
	assert_non_null(strstr(ocb_client_error(c), "timed out"));
	assert_int_equal(ocb_client_in_flight(c), 0);
	assert_int_equal(ocb_client_forget(c, r.cm.request_id), -1);

	assert_int_equal(it_fake_mode(e, "normal"), 0);
	req_init(&r, K_SUBSCRIBE);
	m = call(c, &r);
	assert_int_equal(m->payload_case,
	    OPENCODE__SERVER_MESSAGE__PAYLOAD__NOT_SET);
	ocb_message_free(m);
	req_init(&r, K_AGENTS);
	m = call(c, &r);
	assert_int_equal(m->payload_case,
	    OPENCODE__SERVER_MESSAGE__PAYLOAD_AGENT_LIST);
	ocb_message_free(m);
	ocb_client_free(c);
}

static void
test_error_reply(void **state)
{
	struct it_env *e = *state;
	struct ocb_client *c = connected(e);
	Opencode__ServerMessage *m;
	struct req r;

	req_init(&r, K_BAD_DELETE);
	r.del.session_id = UNKNOWN_SESSION;
	m = call(c, &r);
	assert_int_equal(m->payload_case,
	    OPENCODE__SERVER_MESSAGE__PAYLOAD_ERROR);
	assert_string_equal(m->error->code, "NOT_FOUND");
	ocb_message_free(m);

	req_init(&r, K_BAD_DELETE);
	m = call(c, &r);
	assert_int_equal(m->payload_case,
	    OPENCODE__SERVER_MESSAGE__PAYLOAD_ERROR);
	assert_string_equal(m->error->code, "INVALID_REQUEST");
	ocb_message_free(m);

	/* An upstream 500 is an error reply, not a failure of the call. */
	assert_int_equal(it_fake_mode(e, "status 500"), 0);
	req_init(&r, K_SESSIONS);
	m = call(c, &r);
	assert_int_equal(m->payload_case,
	    OPENCODE__SERVER_MESSAGE__PAYLOAD_ERROR);
	assert_string_equal(m->error->code, "UPSTREAM_ERROR");
	assert_non_null(strstr(m->error->message, "500"));
	ocb_message_free(m);

	/* No auth handshake through the request API. */
	{
		Opencode__ClientMessage cm = OPENCODE__CLIENT_MESSAGE__INIT;
		Opencode__AuthHandshake ah = OPENCODE__AUTH_HANDSHAKE__INIT;

		cm.payload_case =
		    OPENCODE__CLIENT_MESSAGE__PAYLOAD_AUTH_HANDSHAKE;
		cm.auth_handshake = &ah;
		assert_int_equal(ocb_client_request(c, &cm, NULL, NULL), -1);
	}
	assert_int_equal(ocb_client_close(c, T_IO), 0);
	/* Closed: nothing more can be sent. */
	req_init(&r, K_HEALTH);
	assert_int_equal(ocb_client_request(c, &r.cm, NULL, NULL), -1);
	ocb_client_free(c);
}

static void
test_wrong_token(void **state)
{
	struct it_env *e = *state;
	struct ocb_client *c;
	char bad[IT_TOKEN_LEN + 1];

	memcpy(bad, e->token, sizeof(bad));
	bad[0] = bad[0] == 'a' ? 'b' : 'a';
	assert_non_null(c = ocb_client_new());
	assert_int_equal(ocb_client_connect(c, e->port, bad, T_IO), -1);
	assert_non_null(strstr(ocb_client_error(c), "authentication failed"));
	/* Neither token appears in the error text. */
	assert_null(strstr(ocb_client_error(c), bad));
	assert_null(strstr(ocb_client_error(c), e->token));
	assert_int_equal(ocb_client_close_code(c), 1008);
	assert_int_equal(ocb_client_process(c, 0), -1);
	ocb_client_free(c);

	/* Not a WebSocket server (the fake upstream): no 101, no close code. */
	assert_non_null(c = ocb_client_new());
	assert_int_equal(ocb_client_connect(c, e->fake_port, e->token, T_IO),
	    -1);
	assert_non_null(strstr(ocb_client_error(c), "HTTP 200"));
	assert_int_equal(ocb_client_close_code(c), 0);
	ocb_client_free(c);
}

/* SIGTERM: the broker closes with 1001 and requests in flight are failed. */
static void
test_server_close(void **state)
{
	struct it_env *e = *state;
	struct ocb_client *c = connected(e);
	struct reply_rec rec;
	struct req r;
	int64_t deadline;
	int seq = 0, st;

	memset(&rec, 0, sizeof(rec));
	rec.seq = &seq;
	assert_int_equal(it_fake_mode(e, "hang"), 0);
	req_init(&r, K_HEALTH);
	assert_int_equal(ocb_client_request(c, &r.cm, on_reply, &rec), 0);
	/* Let the request reach the broker before it is told to stop. */
	assert_int_equal(ocb_client_process(c, 200), 0);
	it_signal(e, SIGTERM);
	deadline = it_now_ms() + T_IO;
	while (ocb_client_process(c, 100) == 0 && it_now_ms() < deadline)
		;
	assert_int_equal(ocb_client_close_code(c), 1001);
	assert_non_null(strstr(ocb_client_error(c), "1001"));
	assert_int_equal(rec.calls, 1);
	assert_true(rec.null_reply);
	assert_int_equal(ocb_client_in_flight(c), 0);
	assert_int_equal(ocb_client_close(c, T_IO), 0);
	ocb_client_free(c);
	st = it_wait(e, T_EXIT, NULL);
	assert_true(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

/* ---- a scripted server: pings, a private close code, a bad handshake ---- */

enum script {
	S_PING_CLOSE,	/* 101 + ping in one write, auth, event, a request,
			   close 4000 */
	S_BAD_ACCEPT,	/* 101 with a wrong Sec-WebSocket-Accept */
	S_FORBIDDEN	/* 403 */
};

#define SCRIPT_TOKEN	"scripted-token"
#define SM_AUTH	\
	OPENCODE__SERVER_MESSAGE__PAYLOAD_AUTH_HANDSHAKE_RESPONSE
#define SM_STATUS	OPENCODE__SERVER_MESSAGE__PAYLOAD_UPSTREAM_STATUS
#define CM_HEALTH	OPENCODE__CLIENT_MESSAGE__PAYLOAD_HEALTH_CHECK

static int
write_all(int fd, const void *p, size_t n)
{
	const uint8_t *b = p;
	ssize_t w;

	while (n > 0) {
		w = send(fd, b, n, MSG_NOSIGNAL);
		if (w == -1 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		b += w;
		n -= (size_t)w;
	}
	return 0;
}

/* An unmasked server frame into out; returns its length. */
static size_t
server_frame(uint8_t *out, enum ws_opcode op, const void *p, size_t n)
{
	size_t hl = ws_frame_header(out, op, n, NULL);

	memcpy(out + hl, p, n);
	return hl + n;
}

static int
send_server_msg(int fd, const Opencode__ServerMessage *m)
{
	uint8_t buf[1024];
	uint8_t pl[1024 - WS_MAX_HEADER];
	size_t n = opencode__server_message__get_packed_size(m);

	if (n > sizeof(pl))
		return -1;
	opencode__server_message__pack(m, pl);
	return write_all(fd, buf, server_frame(buf, WS_OP_BINARY, pl, n));
}

/* The child's side; returns its exit status (0: the client behaved). */
static int
script_run(int lfd, enum script s)
{
	Opencode__ServerMessage sm = OPENCODE__SERVER_MESSAGE__INIT;
	Opencode__AuthHandshakeResponse ar =
	    OPENCODE__AUTH_HANDSHAKE_RESPONSE__INIT;
	Opencode__UpstreamStatus us = OPENCODE__UPSTREAM_STATUS__INIT;
	Opencode__ClientMessage *cm;
	struct ws_parser p;
	struct ws_event ev;
	struct pollfd pfd;
	uint8_t frame[256], cl[WS_MAX_CONTROL];
	char head[4096], acc[64], key[64], out[512];
	char *k, *end;
	size_t hl = 0, off, used, n;
	ssize_t r;
	int fd, got_auth = 0, got_pong = 0, got_req = 0, sent_close = 0;

	pfd.fd = lfd;
	pfd.events = POLLIN;
	if (poll(&pfd, 1, T_IO) != 1 || (fd = accept(lfd, NULL, NULL)) == -1)
		return 10;
	for (;;) {
		pfd.fd = fd;
		if (poll(&pfd, 1, T_IO) != 1)
			return 11;
		if ((r = read(fd, head + hl, sizeof(head) - 1 - hl)) <= 0)
			return 12;
		hl += (size_t)r;
		head[hl] = '\0';
		if (strstr(head, "\r\n\r\n") != NULL)
			break;
	}
	if ((k = strcasestr(head, "\r\nSec-WebSocket-Key: ")) == NULL)
		return 13;
	k += strlen("\r\nSec-WebSocket-Key: ");
	if ((end = strstr(k, "\r\n")) == NULL || (size_t)(end - k) >=
	    sizeof(key))
		return 14;
	memcpy(key, k, (size_t)(end - k));
	key[end - k] = '\0';
	ws_accept_compute(key, strlen(key), acc);
	/* A wrong accept: still base64, one character off. */
	if (s == S_BAD_ACCEPT)
		acc[0] = acc[0] == 'A' ? 'B' : 'A';
	if (s == S_FORBIDDEN)
		n = (size_t)snprintf(out, sizeof(out),
		    "HTTP/1.1 403 Forbidden\r\nConnection: close\r\n\r\n");
	else
		n = (size_t)snprintf(out, sizeof(out),
		    "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
		    "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n",
		    acc);
	/* The ping rides in the same write as the head. */
	if (s == S_PING_CLOSE)
		n += server_frame((uint8_t *)out + n, WS_OP_PING, "abc", 3);
	if (write_all(fd, out, n) == -1)
		return 15;
	if (s != S_PING_CLOSE) {
		/* The client must give up: wait for its EOF. */
		pfd.fd = fd;
		while (poll(&pfd, 1, T_IO) == 1 && read(fd, head,
		    sizeof(head)) > 0)
			;
		close(fd);
		return 0;
	}

	ws_parser_init(&p, WS_ROLE_SERVER, 65536);
	for (;;) {
		pfd.fd = fd;
		if (poll(&pfd, 1, T_IO) != 1)
			return 20;
		if ((r = read(fd, frame, sizeof(frame))) <= 0)
			return 21;
		for (off = 0; off < (size_t)r; off += used) {
			switch (ws_parser_feed(&p, frame + off, (size_t)r - off,
			    &used, &ev)) {
			case WS_EV_NONE:
				break;
			case WS_EV_MESSAGE:
				cm = opencode__client_message__unpack(NULL,
				    ev.len, ev.data);
				if (got_auth) {
					/* The request sent after connect. */
					if (cm == NULL ||
					    cm->payload_case != CM_HEALTH)
						return 29;
					opencode__client_message__free_unpacked(
					    cm, NULL);
					got_req = 1;
					break;
				}
				if (cm == NULL || cm->auth_handshake == NULL ||
				    strcmp(cm->auth_handshake->token,
				    SCRIPT_TOKEN) != 0)
					return 22;
				got_auth = 1;
				ar.success = 1;
				sm.request_id = cm->request_id;
				sm.payload_case = SM_AUTH;
				sm.auth_handshake_response = &ar;
				opencode__client_message__free_unpacked(cm,
				    NULL);
				if (send_server_msg(fd, &sm) == -1)
					return 23;
				us.connected = 1;
				us.version = "9.9.9";
				sm.request_id = 0;
				sm.payload_case = SM_STATUS;
				sm.upstream_status = &us;
				if (send_server_msg(fd, &sm) == -1)
					return 24;
				break;
			case WS_EV_PONG:
				if (ev.len != 3 ||
				    memcmp(ev.data, "abc", 3) != 0)
					return 25;
				got_pong = 1;
				break;
			case WS_EV_CLOSE:
				close(fd);
				ws_parser_free(&p);
				/* The client echoes our code. */
				return ev.code == 4000 && sent_close ? 0 : 26;
			default:
				return 27;
			}
			/*
			 * The close waits for a request the client sends once
			 * ocb_client_connect returned: a close read together
			 * with the auth reply would end the connect itself
			 * (it fails then, saying why).
			 */
			if (got_auth && got_pong && got_req && !sent_close) {
				n = ws_close_payload(cl, 4000, "bye");
				if (write_all(fd, frame, server_frame(frame,
				    WS_OP_CLOSE, cl, n)) == -1)
					return 28;
				sent_close = 1;
			}
		}
	}
}

/* Forks the scripted server on a fresh port; returns its pid. */
static pid_t
script_start(enum script s, uint16_t *port)
{
	struct sockaddr_in sin;
	socklen_t sl = sizeof(sin);
	pid_t pid;
	int lfd;

	assert_true((lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) !=
	    -1);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(lfd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(listen(lfd, 1), 0);
	assert_int_equal(getsockname(lfd, (struct sockaddr *)&sin, &sl), 0);
	*port = ntohs(sin.sin_port);
	fflush(NULL);
	assert_true((pid = fork()) != -1);
	if (pid == 0)
		_exit(script_run(lfd, s));
	close(lfd);
	return pid;
}

static int
script_wait(pid_t pid)
{
	int64_t deadline = it_now_ms() + T_IO;
	int st;

	while (waitpid(pid, &st, WNOHANG) == 0) {
		if (it_now_ms() > deadline) {
			kill(pid, SIGKILL);
			waitpid(pid, &st, 0);
			return -1;
		}
		usleep(10000);
	}
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void
test_ping_and_close_code(void **state)
{
	Opencode__ClientMessage cm = OPENCODE__CLIENT_MESSAGE__INIT;
	Opencode__HealthCheck hc = OPENCODE__HEALTH_CHECK__INIT;
	struct ocb_client *c;
	struct events ev;
	uint16_t port;
	pid_t pid;
	int64_t deadline;

	(void)state;
	memset(&ev, 0, sizeof(ev));
	pid = script_start(S_PING_CLOSE, &port);
	assert_non_null(c = ocb_client_new());
	ocb_client_set_event_cb(c, on_event, &ev);
	if (ocb_client_connect(c, port, SCRIPT_TOKEN, T_IO) == -1)
		fail_msg("connect: %s", ocb_client_error(c));
	cm.payload_case = CM_HEALTH;
	cm.health_check = &hc;
	assert_int_equal(ocb_client_request(c, &cm, NULL, NULL), 0);
	deadline = it_now_ms() + T_IO;
	while (ocb_client_process(c, 100) == 0 && it_now_ms() < deadline)
		;
	assert_int_equal(ocb_client_close_code(c), 4000);
	assert_non_null(strstr(ocb_client_error(c), "4000 bye"));
	assert_int_equal(ev.other, 1);		/* the UpstreamStatus */
	assert_int_equal(ocb_client_close(c, T_IO), 0);
	ocb_client_free(c);
	assert_int_equal(script_wait(pid), 0);
}

static void
test_bad_handshake(void **state)
{
	struct ocb_client *c;
	uint16_t port;
	pid_t pid;

	(void)state;
	pid = script_start(S_BAD_ACCEPT, &port);
	assert_non_null(c = ocb_client_new());
	assert_int_equal(ocb_client_connect(c, port, SCRIPT_TOKEN, T_IO), -1);
	assert_non_null(strstr(ocb_client_error(c), "Sec-WebSocket-Accept"));
	assert_int_equal(ocb_client_fd(c), -1);
	ocb_client_free(c);
	assert_int_equal(script_wait(pid), 0);

	pid = script_start(S_FORBIDDEN, &port);
	assert_non_null(c = ocb_client_new());
	assert_int_equal(ocb_client_connect(c, port, SCRIPT_TOKEN, T_IO), -1);
	assert_non_null(strstr(ocb_client_error(c), "HTTP 403"));
	ocb_client_free(c);
	assert_int_equal(script_wait(pid), 0);
}

/* ---- ocbctl ---- */

static const char *
ocbctl_path(void)
{
	static char path[PATH_MAX];
	const char *v, *slash;

	if ((v = getenv("OCBCTL")) != NULL && *v != '\0')
		return v;
	if ((v = getenv("OCBROKER")) == NULL || (slash = strrchr(v, '/')) ==
	    NULL)
		return "ocbctl";
	snprintf(path, sizeof(path), "%.*s/ocbctl", (int)(slash - v), v);
	return path;
}

static const char *
token_file(const struct it_env *e, const char *token)
{
	static char path[PATH_MAX];
	int fd;

	snprintf(path, sizeof(path), "%s/token-%u", it_logdir(),
	    (unsigned)e->port);
	assert_true((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
	    0600)) != -1);
	assert_true(write(fd, token, strlen(token)) == (ssize_t)strlen(token));
	assert_true(write(fd, "\n", 1) == 1);
	close(fd);
	return path;
}

struct ctl {
	pid_t	 pid;
	int	 out;		/* its stdout */
	char	*buf;		/* what it printed, NUL-terminated */
	size_t	 len;
	int	 status;	/* exit status, -1 if killed/none */
};

/* Starts ocbctl --port P --token-file F ARGS...; stderr to the log dir. */
static void
ctl_start(struct ctl *x, const struct it_env *e, const char *tokfile,
    const char *const *args)
{
	char *argv[32], port[16], log[PATH_MAX];
	int p[2], fd, i = 0;

	memset(x, 0, sizeof(*x));
	x->status = -1;
	snprintf(port, sizeof(port), "%u", (unsigned)e->port);
	argv[i++] = (char *)ocbctl_path();
	argv[i++] = "--port";
	argv[i++] = port;
	argv[i++] = "--token-file";
	argv[i++] = (char *)tokfile;
	for (; *args != NULL && i < 31; args++)
		argv[i++] = (char *)*args;
	argv[i] = NULL;
	snprintf(log, sizeof(log), "%s/ocbctl.log", it_logdir());
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	fflush(NULL);
	assert_true((x->pid = fork()) != -1);
	if (x->pid == 0) {
		dup2(p[1], 1);
		if ((fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644)) != -1)
			dup2(fd, 2);
		signal(SIGPIPE, SIG_DFL);
		execv(argv[0], argv);
		_exit(127);
	}
	close(p[1]);
	x->out = p[0];
}

/* Reads what is there (up to wait_ms); 1 on EOF. */
static int
ctl_read(struct ctl *x, int wait_ms)
{
	struct pollfd pfd;
	char *nb;
	ssize_t n;

	pfd.fd = x->out;
	pfd.events = POLLIN;
	if (poll(&pfd, 1, wait_ms) <= 0)
		return 0;
	assert_non_null(nb = realloc(x->buf, x->len + 4097));
	x->buf = nb;
	n = read(x->out, x->buf + x->len, 4096);
	if (n <= 0) {
		x->buf[x->len] = '\0';
		return 1;
	}
	x->len += (size_t)n;
	x->buf[x->len] = '\0';
	return 0;
}

/* Reads to EOF and reaps it; returns the exit status. */
static int
ctl_finish(struct ctl *x)
{
	int64_t deadline = it_now_ms() + T_REPLY + T_IO;
	int st;

	while (!ctl_read(x, 100) && it_now_ms() < deadline)
		;
	close(x->out);
	if (x->buf == NULL)
		assert_non_null(x->buf = calloc(1, 1));
	while (waitpid(x->pid, &st, WNOHANG) == 0) {
		if (it_now_ms() > deadline) {
			kill(x->pid, SIGKILL);
			waitpid(x->pid, &st, 0);
			fail_msg("ocbctl did not exit");
		}
		usleep(10000);
	}
	x->status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
	return x->status;
}

/* Runs ocbctl to the end; *out is what it printed (free it). */
static int
ctl(const struct it_env *e, const char *tokfile, char **out, ...)
{
	const char *args[24];
	struct ctl x;
	va_list ap;
	int i = 0;

	va_start(ap, out);
	while (i < 23 && (args[i] = va_arg(ap, const char *)) != NULL)
		i++;
	va_end(ap);
	args[i] = NULL;
	ctl_start(&x, e, tokfile, args);
	ctl_finish(&x);
	*out = x.buf;
	return x.status;
}

/* Lines of s that contain needle. */
static int
count_lines(const char *s, const char *needle)
{
	const char *l, *nl;
	int n = 0;

	for (l = s; *l != '\0'; l = nl + 1) {
		if ((nl = strchr(l, '\n')) == NULL)
			nl = l + strlen(l);
		if (memmem(l, (size_t)(nl - l), needle, strlen(needle)) != NULL)
			n++;
		if (*nl == '\0')
			break;
	}
	return n;
}

/* Every line is one JSON object: starts with '{', ends with '}'. */
static void
assert_json_lines(const char *s)
{
	const char *l, *nl;

	for (l = s; *l != '\0'; l = nl + 1) {
		if ((nl = strchr(l, '\n')) == NULL)
			fail_msg("last line not terminated: %s", l);
		if (l[0] != '{' || nl[-1] != '}')
			fail_msg("not a JSON object line: %.*s", (int)(nl - l),
			    l);
	}
}

#define CTL_EXPECT(st, needle, n) do {					\
	assert_json_lines(out);						\
	if (status != (st) || count_lines(out, (needle)) != (n))	\
		fail_msg("exit %d (want %d), %d lines with %s (want %d):\n%s", \
		    status, (st), count_lines(out, (needle)), (needle), (n), \
		    out);						\
} while (0)

static void
test_ctl_commands(void **state)
{
	struct it_env *e = *state;
	const char *tf = token_file(e, e->token);
	char *out, *last;
	int status;

	status = ctl(e, tf, &out, "sessions", NULL);
	CTL_EXPECT(0, "{\"session\":{\"id\":\"ses_", FX_SESSIONS);
	assert_int_equal(count_lines(out,
	    "\"id\":\"ses_de9d92354ffeyyP4zHEmF5A4Lo\","
	    "\"title\":\"bad agent chat\",\"created_at\":1795667975339,"
	    "\"updated_at\":1795667975339}}"), 1);
	free(out);

	status = ctl(e, tf, &out, "agents", NULL);
	CTL_EXPECT(0, "{\"agent\":{\"name\":", FX_AGENTS);
	assert_int_equal(count_lines(out, "\"name\":\"build\""), 1);
	assert_int_equal(count_lines(out, "\"built_in\":true"), FX_AGENTS);
	free(out);

	status = ctl(e, tf, &out, "providers", NULL);
	CTL_EXPECT(0, "{\"provider_status\":{\"connected\":"
	    "[\"opencode\",\"mock\"]}}", 1);
	free(out);

	status = ctl(e, tf, &out, "health", NULL);
	CTL_EXPECT(0, "{\"upstream_health\":{\"healthy\":true,"
	    "\"version\":\"1.18.34\"}}", 1);
	free(out);

	/* The title travels escaped both ways. */
	status = ctl(e, tf, &out, "create", "a \"quoted\" title\\", NULL);
	CTL_EXPECT(0, "\"title\":\"a \\\"quoted\\\" title\\\\\"", 1);
	assert_int_equal(count_lines(out, "{\"session\":{\"id\":\"ses_"), 1);
	free(out);
	status = ctl(e, tf, &out, "create", NULL);
	CTL_EXPECT(0, "\"title\":\"New session - ", 1);
	free(out);

	status = ctl(e, tf, &out, "delete", FX_SESSION, NULL);
	CTL_EXPECT(0, "{\"ok\":true}", 1);
	free(out);
	status = ctl(e, tf, &out, "delete", UNKNOWN_SESSION, NULL);
	CTL_EXPECT(1, "{\"error\":{\"code\":\"NOT_FOUND\",\"message\":", 1);
	free(out);
	status = ctl(e, tf, &out, "delete", "../x", NULL);
	CTL_EXPECT(1, "{\"error\":{\"code\":\"INVALID_REQUEST\"", 1);
	free(out);

	status = ctl(e, tf, &out, "send", "--no-wait", FX_SESSION, "text",
	    NULL);
	CTL_EXPECT(0, "{\"ok\":true}", 1);
	free(out);
	assert_non_null(last = it_fake_last(e, "POST", "/session/"));
	assert_non_null(strstr(last, "POST /session/" FX_SESSION
	    "/prompt_async"));
	assert_non_null(strstr(last, "\"text\":\"text\""));
	free(last);
	status = ctl(e, tf, &out, "send", "--model", "mock/mock-1", "--agent",
	    "build", "--no-wait", FX_SESSION, "hello", NULL);
	CTL_EXPECT(0, "{\"ok\":true}", 1);
	free(out);
	assert_non_null(last = it_fake_last(e, "POST", "/session/"));
	assert_non_null(strstr(last, "\"providerID\":\"mock\""));
	assert_non_null(strstr(last, "\"modelID\":\"mock-1\""));
	assert_non_null(strstr(last, "\"agent\":\"build\""));
	free(last);

	status = ctl(e, tf, &out, "cancel", FX_SESSION, NULL);
	CTL_EXPECT(0, "{\"ok\":true}", 1);
	free(out);
	assert_non_null(last = it_fake_last(e, "POST", "/session/"));
	assert_non_null(strstr(last, "POST /session/" FX_SESSION "/abort"));
	free(last);

	status = ctl(e, tf, &out, "auth-status", "mock", NULL);
	CTL_EXPECT(0, "{\"auth_status\":{\"provider_id\":\"mock\","
	    "\"connected\":true}}", 1);
	free(out);
	status = ctl(e, tf, &out, "auth-status", "anthropic", NULL);
	CTL_EXPECT(0, "\"connected\":false", 1);
	free(out);

	status = ctl(e, tf, &out, "reply-permission", FX_SESSION,
	    "per_0000000000000000000000000000", "once", NULL);
	CTL_EXPECT(1, "\"code\":\"NOT_FOUND\"", 1);
	free(out);
}

static void
test_ctl_failures(void **state)
{
	struct it_env *e = *state;
	const char *tf;
	char *out, bad[IT_TOKEN_LEN + 1], missing[PATH_MAX];
	int status;

	tf = token_file(e, e->token);
	/* Usage errors: 2, nothing on stdout. */
	status = ctl(e, tf, &out, NULL);
	CTL_EXPECT(2, "{", 0);
	free(out);
	status = ctl(e, tf, &out, "frobnicate", NULL);
	CTL_EXPECT(2, "{", 0);
	free(out);
	status = ctl(e, tf, &out, "delete", NULL);
	CTL_EXPECT(2, "{", 0);
	free(out);
	status = ctl(e, tf, &out, "health", "extra", NULL);
	CTL_EXPECT(2, "{", 0);
	free(out);
	status = ctl(e, tf, &out, "send", "--model", "nomodel", FX_SESSION,
	    "x", NULL);
	CTL_EXPECT(2, "{", 0);
	free(out);
	snprintf(missing, sizeof(missing), "%s/no-such-token", it_logdir());
	status = ctl(e, missing, &out, "health", NULL);
	CTL_EXPECT(2, "{", 0);
	free(out);

	/* A wrong token: 3. */
	memcpy(bad, e->token, sizeof(bad));
	bad[0] = bad[0] == 'a' ? 'b' : 'a';
	tf = token_file(e, bad);
	status = ctl(e, tf, &out, "health", NULL);
	CTL_EXPECT(3, "{", 0);
	free(out);

	/* No reply in time: 3. */
	tf = token_file(e, e->token);
	assert_int_equal(it_fake_mode(e, "hang"), 0);
	status = ctl(e, tf, &out, "--timeout", "300", "health", NULL);
	CTL_EXPECT(3, "{", 0);
	free(out);
	assert_int_equal(it_fake_mode(e, "normal"), 0);
}

/* Saves s under the log directory, for a failure message. */
static const char *
dump(const char *s)
{
	static char path[PATH_MAX];
	FILE *f;

	snprintf(path, sizeof(path), "%s/ocbctl.out", it_logdir());
	if ((f = fopen(path, "w")) != NULL) {
		fputs(s, f);
		fclose(f);
	}
	return path;
}

/* Lines of x's output so far that contain needle. */
static int
ctl_lines(const struct ctl *x, const char *needle)
{
	return x->buf == NULL ? 0 : count_lines(x->buf, needle);
}

/*
 * Ends the event stream (once what was queued is sent) until ocbctl has
 * printed want UpstreamStatus{connected:true} lines: the reconnection's
 * passes every filter, so it tells us that ocbctl is connected and that
 * everything sent before it has arrived.  (A server.connected in an open
 * stream gives no UpstreamStatus: only transitions do.)
 */
static void
ctl_sync(const struct it_env *e, struct ctl *x, int want)
{
	int64_t deadline = it_now_ms() + T_REPLY, next = 0;
	char *r = NULL;

	while (ctl_lines(x, "{\"upstream_status\":{\"connected\":true") <
	    want) {
		if (it_now_ms() > deadline)
			fail_msg("ocbctl printed no UpstreamStatus");
		if (it_now_ms() >= next) {
			assert_int_equal(it_fake_req(e, "POST",
			    "/__fake/sse-end", "", &r), 200);
			free(r);
			/* Past the reconnection's backoff (it grows while
			 * streams live less than 10 s). */
			next = it_now_ms() + 3000;
		}
		if (ctl_read(x, 50))
			fail_msg("ocbctl exited");
	}
}

/* watch SESSION: events as lines, filtered, until SIGINT, which exits 0. */
static void
test_ctl_watch(void **state)
{
	struct it_env *e = *state;
	const char *tf = token_file(e, e->token);
	const char *args[] = { "watch", FX_SESSION, NULL };
	struct ctl x;
	char *r = NULL;
	int64_t deadline;
	int synced;

	ctl_start(&x, e, tf, args);
	ctl_sync(e, &x, 1);
	synced = ctl_lines(&x, "{\"upstream_status\":");

	assert_int_equal(it_fake_req(e, "POST", "/__fake/sse", "sse-text.txt",
	    &r), 200);
	free(r);
	deadline = it_now_ms() + T_REPLY;
	while (ctl_lines(&x, "{\"completed\":") == 0 &&
	    it_now_ms() < deadline)
		if (ctl_read(&x, 100))
			fail_msg("ocbctl exited");
	if (ctl_lines(&x, "{\"completed\":{\"session_id\":\"" FX_SESSION
	    "\"") != 1)
		fail_msg("no completion in %s", dump(x.buf));
	assert_int_equal(ctl_lines(&x, "{\"token\":{\"session_id\":\""
	    FX_SESSION "\",\"message_id\":\"msg_"), 6);
	assert_int_equal(ctl_lines(&x, "\"delta\":\"Hello \""), 1);
	assert_int_equal(ctl_lines(&x, "\"finish\":\"stop\","
	    "\"input_tokens\":120,\"output_tokens\":6"), 1);
	assert_int_equal(ctl_lines(&x, "{\"session_event\":{\"session_id\":\""
	    FX_SESSION "\",\"kind\":\"created\""), 1);

	/* Another session's events are filtered out by the Subscribe. */
	assert_int_equal(it_fake_req(e, "POST", "/__fake/sse",
	    "sse-sessions.txt", &r), 200);
	free(r);
	ctl_sync(e, &x, synced + 1);
	assert_int_equal(ctl_lines(&x, "ses_de9da0d54ffehULAtvbJczpmni"), 0);

	kill(x.pid, SIGINT);
	assert_int_equal(ctl_finish(&x), 0);
	assert_json_lines(x.buf);
	free(x.buf);

	/* Unfiltered, and ended by the broker going away: exit 0 too. */
	args[1] = NULL;
	ctl_start(&x, e, tf, args);
	ctl_sync(e, &x, 1);
	assert_int_equal(it_fake_req(e, "POST", "/__fake/sse",
	    "sse-sessions.txt", &r), 200);
	free(r);
	deadline = it_now_ms() + T_REPLY;
	while (ctl_lines(&x, "\"kind\":\"deleted\"") == 0 &&
	    it_now_ms() < deadline)
		if (ctl_read(&x, 100))
			fail_msg("ocbctl exited");
	assert_int_equal(ctl_lines(&x, "{\"session_event\":{\"session_id\":"
	    "\"ses_de9da0d54ffehULAtvbJczpmni\""), 3);
	it_signal(e, SIGTERM);
	assert_int_equal(ctl_finish(&x), 0);
	assert_json_lines(x.buf);
	free(x.buf);
	assert_int_equal(it_wait(e, T_EXIT, NULL), 0);
}

/* ---- ocbctl: protocol v2 ---- */

#define TOOL_SESSION	"ses_de9d9cc0cffehGld5NiPkdFvkF"
#define PERM_SESSION	"ses_de9d9baa3ffe6SsOQyL6OP9AJP"
#define ABORT_SESSION	"ses_de9d997ceffe562ZA3dhHlShtT"
#define ERROR_SESSION	"ses_de9d950e7ffe0dSvtEPOyUulOH"
#define BADMODEL_SESSION "ses_de9d92facffeG00OPeIsXyFZpF"
#define BADAGENT_SESSION "ses_de9d92354ffeyyP4zHEmF5A4Lo"
#define OTHER_SESSION	"ses_de9da0d54ffehULAtvbJczpmni"
#define TOOL_ANSWER	"The tool call finished; this is the mock's answer."
#define THINK_SESSION	"ses_dc3593a9effeUUmi4cweUcCu4B"

/* ocbctl's stderr so far (the log), emptied for the next run; malloc'd. */
static char *
ctl_log_take(void)
{
	char path[PATH_MAX], *s;
	size_t len;
	FILE *f;

	snprintf(path, sizeof(path), "%s/ocbctl.log", it_logdir());
	assert_non_null(f = fopen(path, "a+"));
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	len = (size_t)ftell(f);
	rewind(f);
	assert_non_null(s = calloc(1, len + 1));
	assert_true(fread(s, 1, len, f) == len);
	fclose(f);
	assert_non_null(f = fopen(path, "w"));
	fclose(f);
	return s;
}

static void
ctl_log_clear(void)
{
	free(ctl_log_take());
}

/* The last line of s (without its newline), in a static buffer. */
static const char *
last_line(const char *s)
{
	static char line[8192];
	size_t n = strlen(s);
	const char *p;

	if (n > 0 && s[n - 1] == '\n')
		n--;
	for (p = s + n; p > s && p[-1] != '\n'; p--)
		;
	snprintf(line, sizeof(line), "%.*s", (int)(s + n - p), p);
	return line;
}

/* Forgets the fake's request history, so a wait sees only what follows. */
static void
fake_reset(const struct it_env *e)
{
	char *r = NULL;

	assert_int_equal(it_fake_req(e, "POST", "/__fake/reset", "", &r), 200);
	free(r);
}

/* Waits until the fake got a request of method whose URI starts with uri. */
static void
wait_request(const struct it_env *e, struct ctl *x, const char *method,
    const char *uri)
{
	int64_t deadline = it_now_ms() + T_REPLY;
	char *last;

	while ((last = it_fake_last(e, method, uri)) == NULL) {
		if (it_now_ms() > deadline)
			fail_msg("no %s %s reached the fake", method, uri);
		if (x != NULL && ctl_read(x, 20))
			fail_msg("ocbctl exited: %s", x->buf);
		if (x == NULL)
			usleep(20000);
	}
	free(last);
}

/*
 * Runs `ocbctl send ARGS` on session: once the prompt reached the fake,
 * sends the events (JSON lines, or NULL), replays each transcript
 * (NULL-ended) and waits for ocbctl's end.  The prompt goes out after the
 * Subscribe was answered, so every event comes after the filter is in
 * place.
 */
static int
send_replay_after(const struct it_env *e, const char *tf,
    const char *const *args, const char *session, const char *events,
    const char *const *transcripts, char **out)
{
	char uri[128], *r = NULL;
	struct ctl x;

	fake_reset(e);
	ctl_start(&x, e, tf, args);
	snprintf(uri, sizeof(uri), "/session/%s/prompt_async", session);
	wait_request(e, &x, "POST", uri);
	if (events != NULL)
		assert_int_equal(it_fake_event(e, events), 0);
	for (; *transcripts != NULL; transcripts++) {
		assert_int_equal(it_fake_req(e, "POST", "/__fake/sse",
		    *transcripts, &r), 200);
		free(r);
	}
	ctl_finish(&x);
	*out = x.buf;
	return x.status;
}

static int
send_replay(const struct it_env *e, const char *tf, const char *const *args,
    const char *session, const char *const *transcripts, char **out)
{
	return send_replay_after(e, tf, args, session, NULL, transcripts, out);
}

/*
 * The tail of an aborted turn before ours (the shape of sse-abort.txt's
 * last events): its message completes with an error after its idle.
 */
#define STALE_TAIL(s)							\
	"{\"id\":\"evt_stale1\",\"type\":\"message.updated\",\"properties\":" \
	"{\"sessionID\":\"" s "\",\"info\":{\"id\":"			\
	"\"msg_0000000000000000000000stale\",\"parentID\":"		\
	"\"msg_0000000000000000000000user0\",\"role\":\"assistant\","	\
	"\"mode\":\"build\",\"agent\":\"build\",\"path\":{\"cwd\":\"/\"," \
	"\"root\":\"/\"},\"cost\":0,\"tokens\":{\"input\":0,\"output\":0," \
	"\"reasoning\":0,\"cache\":{\"read\":0,\"write\":0}},"		\
	"\"modelID\":\"mock-1\",\"providerID\":\"mock\",\"time\":"	\
	"{\"created\":1795667946331,\"completed\":1795667947832},"	\
	"\"sessionID\":\"" s "\",\"error\":{\"name\":"			\
	"\"MessageAbortedError\",\"data\":{\"message\":\"Aborted\"}}}}}\n" \
	"{\"id\":\"evt_stale2\",\"type\":\"session.status\",\"properties\":" \
	"{\"sessionID\":\"" s "\",\"status\":{\"type\":\"idle\"}}}\n"	\
	"{\"id\":\"evt_stale3\",\"type\":\"session.idle\",\"properties\":" \
	"{\"sessionID\":\"" s "\"}}\n"

/* send waits for the answer: text on stdout, until complete and idle. */
static void
test_ctl_send_wait(void **state)
{
	struct it_env *e = *state;
	const char *tf = token_file(e, e->token);
	const char *text[] = { "send", FX_SESSION, "text", NULL };
	const char *tool[] = { "send", "--json", TOOL_SESSION, "tool", NULL };
	const char *perm[] = { "send", PERM_SESSION, "ask", NULL };
	const char *sse_text[] = { "sse-text.txt", NULL };
	const char *sse_tool[] = { "sse-sessions.txt", "sse-tool.txt", NULL };
	const char *sse_perm[] = { "sse-permission.txt", NULL };
	const char *think[] = { "send", THINK_SESSION, "think", NULL };
	const char *think_r[] = { "send", "--reasoning", THINK_SESSION,
	    "think", NULL };
	const char *sse_think[] = { "sse-reasoning.txt", NULL };
	const char *sse_question[] = { "sse-question.txt", NULL };
	char *out, *log;
	int status;

	/*
	 * Text mode: the deltas and a final newline, nothing else.  The
	 * tail of an aborted turn that comes first (a completion with an
	 * error, an idle) does not end the wait: our turn starts with busy.
	 */
	ctl_log_clear();
	status = send_replay_after(e, tf, text, FX_SESSION,
	    STALE_TAIL(FX_SESSION), sse_text, &out);
	if (status != 0 || strcmp(out, FX_TEXT "\n") != 0)
		fail_msg("exit %d, printed \"%s\" (%s), stderr %s", status,
		    out, dump(out), ctl_log_take());
	free(out);
	log = ctl_log_take();
	assert_string_equal(log, "");
	free(log);

	/*
	 * --json: a line per event of the session only (another session's
	 * went first).  The tool call's message completes first
	 * (tool-calls), the answer's second; ocbctl goes on past the first
	 * and stops at the status idle that follows the second.
	 */
	status = send_replay(e, tf, tool, TOOL_SESSION, sse_tool, &out);
	assert_json_lines(out);
	if (status != 0 || count_lines(out, "{\"completed\":{\"session_id\":\""
	    TOOL_SESSION "\"") != 2)
		fail_msg("exit %d: %s, stderr %s", status, dump(out),
		    ctl_log_take());
	assert_int_equal(count_lines(out, "\"finish\":\"tool-calls\","
	    "\"input_tokens\""), 1);
	assert_int_equal(count_lines(out, "\"finish\":\"stop\","
	    "\"input_tokens\""), 1);
	assert_true(count_lines(out, "{\"tool_call\":{\"session_id\":\""
	    TOOL_SESSION "\"") >= 1);
	assert_int_equal(count_lines(out, "{\"token\":{\"session_id\":\""
	    TOOL_SESSION "\""), 4);
	assert_int_equal(count_lines(out, OTHER_SESSION), 0);
	assert_non_null(strstr(last_line(out), "{\"session_event\":{"
	    "\"session_id\":\"" TOOL_SESSION "\",\"kind\":\"status\","
	    "\"status\":\"idle\""));
	assert_int_equal(count_lines(out, "\"kind\":\"idle\""), 0);
	free(out);

	/* A permission request is shown on stderr while it waits. */
	ctl_log_clear();
	status = send_replay(e, tf, perm, PERM_SESSION, sse_perm, &out);
	if (status != 0 || strcmp(out, TOOL_ANSWER "\n") != 0)
		fail_msg("exit %d, printed \"%s\", stderr %s", status,
		    out, ctl_log_take());
	free(out);
	log = ctl_log_take();
	if (strstr(log, "ocbctl: permission asked: bash (echo hello from "
	    "the mock)\n") == NULL || strstr(log, "ocbctl reply-permission "
	    PERM_SESSION " per_216264a5a001SZP3O5Om9g1xn2 "
	    "once|always|reject\n") == NULL)
		fail_msg("stderr: %s", log);
	free(log);

	/*
	 * Reasoning is not printed, or on stderr with --reasoning.  The
	 * second replay gets no ChatCompleted (the broker sends one per
	 * message id): the completed message_updated ends the wait.
	 */
	ctl_log_clear();
	status = send_replay(e, tf, think, THINK_SESSION, sse_think, &out);
	if (status != 0 || strcmp(out, "Thought about it.\n") != 0)
		fail_msg("exit %d, printed \"%s\", stderr %s", status,
		    out, ctl_log_take());
	free(out);
	log = ctl_log_take();
	assert_string_equal(log, "");
	free(log);
	status = send_replay(e, tf, think_r, THINK_SESSION, sse_think, &out);
	if (status != 0 || strcmp(out, "Thought about it.\n") != 0)
		fail_msg("exit %d, printed \"%s\", stderr %s", status,
		    out, ctl_log_take());
	free(out);
	log = ctl_log_take();
	assert_string_equal(log, "The user wants a thought first.\n");
	free(log);

	/* A question is shown on stderr with the command that answers it. */
	status = send_replay(e, tf, think, THINK_SESSION, sse_question, &out);
	if (status != 0 || *out == '\0')
		fail_msg("exit %d, printed \"%s\", stderr %s", status,
		    out, ctl_log_take());
	free(out);
	log = ctl_log_take();
	if (strstr(log, "ocbctl: question asked:\n"
	    "  1. Which colour should the mock use?\n"
	    "     - Blue\n     - Green\n     - Red\n"
	    "  answer: ocbctl answer que_23ca6f3c8001Wae0IA47jDmPc1 LABELS... "
	    "(or reject-question)\n") == NULL)
		fail_msg("stderr: %s", log);
	free(log);
}

/* send: an answer that ends in an error, an error reply, a dropped link. */
static void
test_ctl_send_errors(void **state)
{
	struct it_env *e = *state;
	const char *tf = token_file(e, e->token);
	const char *abort_[] = { "send", ABORT_SESSION, "slow", NULL };
	const char *error[] = { "send", "--json", ERROR_SESSION, "error",
	    NULL };
	const char *bad[] = { "send", BADMODEL_SESSION, "text", NULL };
	const char *wait[] = { "send", FX_SESSION, "text", NULL };
	const char *sse_abort[] = { "sse-abort.txt", NULL };
	const char *sse_error[] = { "sse-error.txt", NULL };
	const char *sse_bad[] = { "sse-bad-model.txt", NULL };
	const char *agent[] = { "send", "--agent", "no-such-agent",
	    BADAGENT_SESSION, "text", NULL };
	const char *sse_agent[] = { "sse-bad-agent.txt", NULL };
	struct ctl x;
	char *out, *log;
	int status;

	/* Aborted: what came is printed, the error named, exit 4. */
	ctl_log_clear();
	status = send_replay(e, tf, abort_, ABORT_SESSION, sse_abort, &out);
	if (status != 4 || strcmp(out, "tick1 tick2 tick3 \n") != 0)
		fail_msg("exit %d, printed \"%s\", stderr %s", status,
		    out, ctl_log_take());
	free(out);
	log = ctl_log_take();
	if (strstr(log, "ocbctl: session error: MessageAbortedError: "
	    "Aborted\n") == NULL)
		fail_msg("stderr: %s", log);
	free(log);

	/* The model's error (--json), and a bad model (no message at all). */
	status = send_replay(e, tf, error, ERROR_SESSION, sse_error, &out);
	assert_json_lines(out);
	if (status != 4 || count_lines(out, "\"kind\":\"error\","
	    "\"status\":\"\",\"error_name\":\"APIError\"") != 1)
		fail_msg("exit %d: %s, stderr %s", status, dump(out),
		    ctl_log_take());
	free(out);
	status = send_replay(e, tf, bad, BADMODEL_SESSION, sse_bad, &out);
	if (status != 4 || strcmp(out, "") != 0)
		fail_msg("exit %d, printed \"%s\", stderr %s", status,
		    out, ctl_log_take());
	free(out);
	/* An unknown agent: a session error and nothing else, no idle. */
	status = send_replay(e, tf, agent, BADAGENT_SESSION, sse_agent, &out);
	if (status != 4 || strcmp(out, "") != 0)
		fail_msg("exit %d, printed \"%s\", stderr %s", status,
		    out, ctl_log_take());
	free(out);

	/* An ErrorResponse to the send: 1, on stderr in text mode. */
	ctl_log_clear();
	status = ctl(e, tf, &out, "send", UNKNOWN_SESSION, "text", NULL);
	CTL_EXPECT(1, "{", 0);
	free(out);
	log = ctl_log_take();
	assert_non_null(strstr(log, "ocbctl: send: NOT_FOUND: "));
	free(log);
	status = ctl(e, tf, &out, "send", "--json", UNKNOWN_SESSION, "text",
	    NULL);
	CTL_EXPECT(1, "{\"error\":{\"code\":\"NOT_FOUND\"", 1);
	free(out);

	/* SIGINT while waiting: 130, the session left alone. */
	fake_reset(e);
	ctl_start(&x, e, tf, wait);
	wait_request(e, &x, "POST", "/session/" FX_SESSION "/prompt_async");
	kill(x.pid, SIGINT);
	assert_int_equal(ctl_finish(&x), 130);
	assert_string_equal(x.buf, "");
	free(x.buf);
	assert_null(out = it_fake_last(e, "POST", "/session/" FX_SESSION
	    "/abort"));

	/* The broker goes away before the answer: 3. */
	fake_reset(e);
	ctl_start(&x, e, tf, wait);
	wait_request(e, &x, "POST", "/session/" FX_SESSION "/prompt_async");
	it_signal(e, SIGTERM);
	assert_int_equal(ctl_finish(&x), 3);
	free(x.buf);
	assert_int_equal(it_wait(e, T_EXIT, NULL), 0);
}

/* send --file: file parts with a file:// URL and a guessed type. */
static void
test_ctl_send_files(void **state)
{
	struct it_env *e = *state;
	const char *tf = token_file(e, e->token);
	char dir[1024], txt[1100], bin[1100], odd[1100];
	char real[PATH_MAX], want[PATH_MAX + 256], *out, *last;
	int status, fd;

	snprintf(dir, sizeof(dir), "%s/files", it_logdir());
	assert_true(mkdir(dir, 0700) == 0 || errno == EEXIST);
	snprintf(txt, sizeof(txt), "%s/notes.md", dir);
	snprintf(bin, sizeof(bin), "%s/blob", dir);
	snprintf(odd, sizeof(odd), "%s/a b%%#.unknownext", dir);
	assert_true((fd = open(txt, O_WRONLY | O_CREAT | O_TRUNC, 0600)) != -1);
	assert_true(write(fd, "# hi\n", 5) == 5);
	close(fd);
	assert_true((fd = open(bin, O_WRONLY | O_CREAT | O_TRUNC, 0600)) != -1);
	assert_true(write(fd, "\x7f" "ELF\0\1", 6) == 6);
	close(fd);
	assert_true((fd = open(odd, O_WRONLY | O_CREAT | O_TRUNC, 0600)) != -1);
	assert_true(write(fd, "plain text\n", 11) == 11);
	close(fd);
	assert_non_null(realpath(dir, real));

	status = ctl(e, tf, &out, "send", "--no-wait", "--file", txt,
	    "--file", bin, "--file", odd, FX_SESSION, "look", NULL);
	CTL_EXPECT(0, "{\"ok\":true}", 1);
	free(out);
	assert_non_null(last = it_fake_last(e, "POST", "/session/" FX_SESSION
	    "/prompt_async"));
	snprintf(want, sizeof(want), "{\"type\":\"file\",\"mime\":"
	    "\"text/markdown\",\"filename\":\"notes.md\",\"url\":"
	    "\"file://%s/notes.md\"}", real);
	if (strstr(last, want) == NULL)
		fail_msg("no %s in %s", want, last);
	snprintf(want, sizeof(want), "{\"type\":\"file\",\"mime\":"
	    "\"application/octet-stream\",\"filename\":\"blob\",\"url\":"
	    "\"file://%s/blob\"}", real);
	if (strstr(last, want) == NULL)
		fail_msg("no %s in %s", want, last);
	snprintf(want, sizeof(want), "{\"type\":\"file\",\"mime\":"
	    "\"text/plain\",\"filename\":\"a b%%#.unknownext\",\"url\":"
	    "\"file://%s/a%%20b%%25%%23.unknownext\"}", real);
	if (strstr(last, want) == NULL)
		fail_msg("no %s in %s", want, last);
	free(last);

	/* Not a file: usage, nothing sent. */
	fake_reset(e);
	status = ctl(e, tf, &out, "send", "--file", dir, FX_SESSION, "x",
	    NULL);
	CTL_EXPECT(2, "{", 0);
	free(out);
	status = ctl(e, tf, &out, "send", "--file", "/nonexistent/ocb",
	    FX_SESSION, "x", NULL);
	CTL_EXPECT(2, "{", 0);
	free(out);
	/* A FIFO without a writer: refused, not waited on. */
	snprintf(odd, sizeof(odd), "%s/fifo", dir);
	assert_int_equal(mkfifo(odd, 0600), 0);
	status = ctl(e, tf, &out, "send", "--file", odd, FX_SESSION, "x",
	    NULL);
	CTL_EXPECT(2, "{", 0);
	free(out);
	assert_null(last = it_fake_last(e, "POST", NULL));
}

/* The v2 commands against the fake's fixtures, and what went upstream. */
static void
test_ctl_v2_commands(void **state)
{
	struct it_env *e = *state;
	const char *tf = token_file(e, e->token);
	char *out, *last;
	int status;

	status = ctl(e, tf, &out, "session", FX_SESSION, NULL);
	CTL_EXPECT(0, "{\"session\":{\"id\":\"" OTHER_SESSION "\","
	    "\"title\":\"fixture session\",\"created_at\":1795667915435,"
	    "\"updated_at\":1795667915435}}", 1);
	free(out);
	status = ctl(e, tf, &out, "session", UNKNOWN_SESSION, NULL);
	CTL_EXPECT(1, "{\"error\":{\"code\":\"NOT_FOUND\"", 1);
	free(out);

	status = ctl(e, tf, &out, "rename", FX_SESSION, "a \"new\" title",
	    NULL);
	CTL_EXPECT(0, "\"title\":\"fixture session (renamed)\"", 1);
	free(out);
	assert_non_null(last = it_fake_last(e, "PATCH", "/session/"));
	assert_non_null(strstr(last, "PATCH /session/" FX_SESSION "\n"));
	assert_non_null(strstr(last, "\"title\":\"a \\\"new\\\" title\""));
	free(last);

	status = ctl(e, tf, &out, "fork", FX_SESSION, NULL);
	CTL_EXPECT(0, "{\"session\":{\"id\":\"ses_", 1);
	free(out);
	status = ctl(e, tf, &out, "fork", FX_SESSION,
	    "msg_23ca6fe64001vBwaDbamjHIuc4", NULL);
	CTL_EXPECT(0, "{\"session\":{\"id\":\"ses_", 1);
	free(out);
	assert_non_null(last = it_fake_last(e, "POST", "/session/"));
	assert_non_null(strstr(last, "/fork\n"));
	assert_non_null(strstr(last,
	    "\"messageID\":\"msg_23ca6fe64001vBwaDbamjHIuc4\""));
	free(last);

	status = ctl(e, tf, &out, "status", NULL);
	CTL_EXPECT(0, "{\"session_status\":{", 1);
	assert_int_equal(count_lines(out, "{\"session_status\":{"
	    "\"session_id\":\"ses_dc3593a9effeUUmi4cweUcCu4B\","
	    "\"status\":\"busy\""), 1);
	free(out);

	/* history: a line per message, oldest first, then "more". */
	status = ctl(e, tf, &out, "history", FX_SESSION, NULL);
	CTL_EXPECT(0, "{\"message\":{\"info\":{\"id\":\"msg_", 17);
	assert_string_equal(last_line(out), "{\"more\":false}");
	assert_int_equal(count_lines(out, "\"parts\":[{\"id\":\"prt_"), 17);
	free(out);
	status = ctl(e, tf, &out, "history", "--limit", "2", FX_SESSION, NULL);
	CTL_EXPECT(0, "{\"message\":{\"info\":{\"id\":\"msg_", 2);
	assert_string_equal(last_line(out), "{\"more\":true}");
	assert_true(strstr(out, "msg_23ca6fe64001vBwaDbamjHIuc4") <
	    strstr(out, "msg_23ca6fe85001cTIY440waqZaV0"));
	assert_int_equal(count_lines(out, "\"role\":\"assistant\","
	    "\"created_at\":1796313906821,\"completed_at\":1796313907108"),
	    1);
	free(out);
	status = ctl(e, tf, &out, "history", "--before",
	    "msg_23ca6fe85001cTIY440waqZaV0", "--limit", "1", FX_SESSION,
	    NULL);
	CTL_EXPECT(0, "{\"message\":{\"info\":{\"id\":"
	    "\"msg_23ca6fe64001vBwaDbamjHIuc4\"", 1);
	assert_int_equal(count_lines(out, "{\"message\":"), 1);
	assert_string_equal(last_line(out), "{\"more\":true}");
	free(out);

	status = ctl(e, tf, &out, "models", NULL);
	CTL_EXPECT(0, "{\"provider\":{\"id\":", 2);
	assert_int_equal(count_lines(out, "{\"provider\":{\"id\":\"mock\","
	    "\"name\":\"Mock\",\"connected\":true,\"default_model_id\":"
	    "\"mock-1\",\"models\":[{\"id\":\"mock-1\""), 1);
	free(out);
	status = ctl(e, tf, &out, "models", "--all", NULL);
	assert_json_lines(out);
	assert_int_equal(status, 0);
	assert_true(count_lines(out, "{\"provider\":{\"id\":") > 2);
	assert_true(count_lines(out, "\"connected\":false") > 0);
	free(out);

	status = ctl(e, tf, &out, "pending", NULL);
	CTL_EXPECT(0, "{\"permission\":{\"session_id\":\"ses_", 1);
	assert_int_equal(count_lines(out, "{\"question\":{\"id\":\"que_"), 1);
	assert_int_equal(count_lines(out, "\"options\":[{\"label\":\"Blue\","
	    "\"description\":\"The colour of the sky\"}"), 1);
	free(out);

	/* One argument per question, labels split at unescaped commas. */
	status = ctl(e, tf, &out, "answer", "que_1", "Yes", "A,B", "x\\,y\\\\",
	    NULL);
	CTL_EXPECT(0, "{\"ok\":true}", 1);
	free(out);
	assert_non_null(last = it_fake_last(e, "POST", "/question/"));
	if (strstr(last, "POST /question/que_1/reply\n") == NULL ||
	    strstr(last, "\"answers\":[[\"Yes\"],[\"A\",\"B\"],"
	    "[\"x,y\\\\\"]]") == NULL)
		fail_msg("sent %s", last);
	free(last);
	status = ctl(e, tf, &out, "answer", "que_0000000000000000000000000000",
	    "Yes", NULL);
	CTL_EXPECT(1, "{\"error\":{\"code\":\"NOT_FOUND\"", 1);
	free(out);
	status = ctl(e, tf, &out, "reject-question", "que_1", NULL);
	CTL_EXPECT(0, "{\"ok\":true}", 1);
	free(out);
	assert_non_null(last = it_fake_last(e, "POST", "/question/"));
	assert_non_null(strstr(last, "POST /question/que_1/reject\n"));
	free(last);

	status = ctl(e, tf, &out, "todos", FX_SESSION, NULL);
	CTL_EXPECT(0, "{\"todos\":{\"session_id\":\"" FX_SESSION "\","
	    "\"todos\":[{\"content\":\"Read the probe file\",\"status\":"
	    "\"completed\",\"priority\":\"high\"},", 1);
	free(out);

	status = ctl(e, tf, &out, "diff", FX_SESSION, NULL);
	CTL_EXPECT(0, "{\"diff\":{\"session_id\":\"" FX_SESSION "\","
	    "\"message_id\":\"\",\"files\":[]}}", 1);
	free(out);
	status = ctl(e, tf, &out, "diff", FX_SESSION,
	    "msg_23ca6fe64001vBwaDbamjHIuc4", NULL);
	CTL_EXPECT(0, "{\"diff\":{\"session_id\":\"" FX_SESSION "\"", 1);
	assert_int_equal(count_lines(out, "{\"path\":\"hello.txt\","
	    "\"status\":\"modified\",\"additions\":1,\"deletions\":1,"
	    "\"patch\":\"Index: hello.txt\\n"), 1);
	free(out);

	status = ctl(e, tf, &out, "revert", FX_SESSION,
	    "msg_23ca6fe64001vBwaDbamjHIuc4", "prt_23ca6fe6a001fjhzpe1jiz81hf",
	    NULL);
	CTL_EXPECT(0, "{\"session\":{\"id\":\"ses_", 1);
	free(out);
	assert_non_null(last = it_fake_last(e, "POST", "/session/"));
	if (strstr(last, "/revert\n") == NULL || strstr(last,
	    "\"messageID\":\"msg_23ca6fe64001vBwaDbamjHIuc4\"") == NULL ||
	    strstr(last, "\"partID\":\"prt_23ca6fe6a001fjhzpe1jiz81hf\"") ==
	    NULL)
		fail_msg("sent %s", last);
	free(last);
	status = ctl(e, tf, &out, "unrevert", FX_SESSION, NULL);
	CTL_EXPECT(0, "{\"session\":{\"id\":\"ses_", 1);
	free(out);

	status = ctl(e, tf, &out, "summarize", FX_SESSION, "mock/mock-1",
	    NULL);
	CTL_EXPECT(0, "{\"ok\":true}", 1);
	free(out);
	assert_non_null(last = it_fake_last(e, "POST", "/session/"));
	if (strstr(last, "/summarize\n") == NULL ||
	    strstr(last, "\"providerID\":\"mock\"") == NULL ||
	    strstr(last, "\"modelID\":\"mock-1\"") == NULL)
		fail_msg("sent %s", last);
	free(last);

	status = ctl(e, tf, &out, "commands", NULL);
	CTL_EXPECT(0, "{\"command\":{\"name\":", 5);
	assert_int_equal(count_lines(out, "{\"command\":{\"name\":\"init\","
	    "\"description\":\"guided AGENTS.md setup\""), 1);
	free(out);
	status = ctl(e, tf, &out, "run-command", FX_SESSION, "init", "a", "b c",
	    NULL);
	CTL_EXPECT(0, "{\"ok\":true}", 1);
	free(out);
	assert_non_null(last = it_fake_last(e, "POST", "/session/"));
	if (strstr(last, "/command\n") == NULL ||
	    strstr(last, "\"command\":\"init\"") == NULL ||
	    strstr(last, "\"arguments\":\"a b c\"") == NULL)
		fail_msg("sent %s", last);
	free(last);
}

/* Bad arguments: exit 2 with a usage line, nothing sent or printed. */
static void
test_ctl_usage(void **state)
{
	static const char *const bad[][6] = {
		{ "answer", "que_1", NULL },
		{ "answer", "que_1", "", NULL },
		{ "answer", "que_1", "A,,B", NULL },
		{ "answer", "que_1", "A,", NULL },
		{ "answer", "que_1", "Yes", ",", NULL },
		{ "answer", "que_1", "a\\b", NULL },
		{ "rename", FX_SESSION, NULL },
		{ "session", NULL },
		{ "fork", FX_SESSION, "msg_1", "extra", NULL },
		{ "history", "--limit", "0", FX_SESSION, NULL },
		{ "history", "--limit", "1001", FX_SESSION, NULL },
		{ "history", FX_SESSION, "--all", NULL },
		{ "models", "extra", NULL },
		{ "status", "--json", NULL },
		{ "summarize", FX_SESSION, "nomodel", NULL },
		{ "summarize", FX_SESSION, NULL },
		{ "revert", FX_SESSION, NULL },
		{ "run-command", FX_SESSION, NULL },
		{ "todos", NULL },
		{ "reject-question", NULL },
		{ "send", FX_SESSION, NULL },
		{ "watch", "--no-wait", NULL },
	};
	static const char *const names[] = { "sessions", "agents",
	    "providers", "health", "status", "pending", "commands", "models",
	    "create", "delete", "session", "rename", "fork", "history", "send",
	    "cancel", "auth-status", "reply-permission", "answer",
	    "reject-question", "todos", "diff", "revert", "unrevert",
	    "summarize", "run-command", "watch", "--agent", "--model",
	    "--file", "--json", "--reasoning", "--no-wait", "--limit",
	    "--before", "--all", "--timeout" };
	struct it_env *e = *state;
	const char *tf = token_file(e, e->token);
	char *log, *last;
	const char *help[] = { "--help", NULL };
	struct ctl x;
	size_t i;
	int status;

	fake_reset(e);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ctl_log_clear();
		ctl_start(&x, e, tf, bad[i]);
		status = ctl_finish(&x);
		log = ctl_log_take();
		if (status != 2 || *x.buf != '\0' ||
		    strstr(log, "usage: ocbctl ") == NULL)
			fail_msg("%s %s: exit %d, stdout \"%s\", stderr %s",
			    bad[i][0], bad[i][1] != NULL ? bad[i][1] : "",
			    status, x.buf, log);
		free(log);
		free(x.buf);
	}
	assert_null(last = it_fake_last(e, NULL, "/session"));
	assert_null(last = it_fake_last(e, NULL, "/question"));

	/* --help: every command and option, on stdout, exit 0. */
	ctl_start(&x, e, tf, help);
	assert_int_equal(ctl_finish(&x), 0);
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strstr(x.buf, names[i]) == NULL)
			fail_msg("--help does not mention %s", names[i]);
	free(x.buf);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_correlation,
		    setup_default, it_teardown),
		cmocka_unit_test_setup_teardown(test_sync_call,
		    setup_default, it_teardown),
		cmocka_unit_test_setup_teardown(test_call_timeout,
		    setup_default, it_teardown),
		cmocka_unit_test_setup_teardown(test_error_reply,
		    setup_default, it_teardown),
		cmocka_unit_test_setup_teardown(test_wrong_token,
		    setup_default, it_teardown),
		cmocka_unit_test_setup_teardown(test_server_close,
		    setup_default, it_teardown),
		cmocka_unit_test_setup_teardown(test_ping_and_close_code,
		    setup_none, it_teardown),
		cmocka_unit_test_setup_teardown(test_bad_handshake,
		    setup_none, it_teardown),
		cmocka_unit_test_setup_teardown(test_ctl_commands,
		    setup_default, it_teardown),
		cmocka_unit_test_setup_teardown(test_ctl_failures,
		    setup_default, it_teardown),
		cmocka_unit_test_setup_teardown(test_ctl_watch,
		    setup_default, it_teardown),
		cmocka_unit_test_setup_teardown(test_ctl_send_wait,
		    setup_default, it_teardown),
		cmocka_unit_test_setup_teardown(test_ctl_send_errors,
		    setup_default, it_teardown),
		cmocka_unit_test_setup_teardown(test_ctl_send_files,
		    setup_default, it_teardown),
		cmocka_unit_test_setup_teardown(test_ctl_v2_commands,
		    setup_default, it_teardown),
		cmocka_unit_test_setup_teardown(test_ctl_usage,
		    setup_default, it_teardown),
	};

	return IT_RUN("client", tests, NULL);
}
