/*
 * Copyright (c) 2026 The ocbroker authors
 * SPDX-License-Identifier: ISC (the licence is in the file LICENSE)
 */

/*
 * End-to-end test: the real ocbroker binary (OCBROKER) in front of a real
 * OpenCode 1.18.34 server (OPENCODE_URL) that tests/e2e/opencode.sh started
 * against the mock model in tests/e2e/mock_llm.py.
 *
 * Every request type goes through the WebSocket, and each answer is checked
 * against what the same server returns over plain HTTP.  The streaming part
 * drives real chats (text, a tool call, a permission, a cancel) and follows
 * the events; the last test kills the server (SIGKILL), checks that clients
 * are told and that requests fail cleanly, and starts it again on the same
 * port through OPENCODE_CTL (the path of opencode.sh; the state dir comes
 * from OCB_E2E_DIR, which it inherits).
 *
 * Two WebSocket connections are used: "ctl" for requests (events on it are
 * skipped while a reply is awaited) and "ev", which reads the events.  The
 * tests run in order and share one ocbroker; every wait is bounded.
 *
 * Exit status 77 (automake's SKIP) when OPENCODE_URL or OCBROKER is unset.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <errno.h>
#include <fcntl.h>
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

#define JSMN_STATIC
#define JSMN_STRICT
#include <jsmn.h>

#include "client/ocbclient.h"
#include "proto/messages.pb-c.h"
#include "tests/integration_util.h"
#include "tests/wsclient.h"

#define T_IO		5000	/* a local socket operation, ms */
#define T_REPLY		15000	/* a reply from the server */
#define T_PROVIDER	30000	/* GET /provider is 6.5 MB */
#define T_HTTP		30000	/* our own HTTP requests */
#define T_EVENT		10000	/* an event after a request */
#define T_FIRST_CHAT	45000	/* the first prompt takes 4-6 s */
#define T_CHAT		30000	/* a later chat */
#define T_DOWN		15000	/* connected:false after SIGKILL */
#define T_UP		60000	/* restarted, the stream back */
#define T_CTL		90000	/* opencode.sh kill/start-server */
#define T_EXIT		15000	/* SIGTERM to exit */

#define MAX_EVENTS	4096
#define MAX_IDS		1024

#define TEXT_ANSWER	"Hello from the mock language model."
#define TOOL_ANSWER	"The file says hello from the probe project."
#define HELLO_TXT	"hello from the ocbroker probe project"
#define BASH_COMMAND	"echo hello from the mock"
#define FAKE_PROVIDER	"ocb-e2e-fake"
#define ABORTED		"MessageAbortedError"

struct e2e {
	struct it_env	 env;
	struct wsc	 ctl;
	struct wsc	 ev;
	uint64_t	 next_id;
	uint16_t	 up_port;	/* the OpenCode server */
	int		 chats;		/* prompts sent so far */
};

static struct e2e E;

/* ---- plain HTTP to the OpenCode server ---- */

struct http_resp {
	int	 status;
	char	*ctype;		/* Content-Type, malloc'd or NULL */
	char	*body;		/* NUL-terminated, malloc'd */
	size_t	 len;
};

static void
http_free(struct http_resp *r)
{
	free(r->ctype);
	free(r->body);
	memset(r, 0, sizeof(*r));
}

static int
left(int64_t deadline)
{
	int64_t l = deadline - it_now_ms();

	return l < 0 ? 0 : (int)l;
}

/* Removes the chunked transfer coding in place; 0 or -1. */
static int
dechunk(char *b, size_t *lenp)
{
	size_t in = 0, out = 0, len = *lenp;
	unsigned long n;
	char *end;

	for (;;) {
		if (in >= len)
			return -1;
		errno = 0;
		n = strtoul(b + in, &end, 16);
		if (errno != 0 || end == b + in)
			return -1;
		if ((end = memmem(end, len - (size_t)(end - b), "\r\n", 2)) ==
		    NULL)
			return -1;
		in = (size_t)(end - b) + 2;
		if (n == 0)
			break;
		if (n > len - in || len - in - n < 2)
			return -1;
		memmove(b + out, b + in, n);
		out += n;
		in += n + 2;
	}
	b[out] = '\0';
	*lenp = out;
	return 0;
}

/*
 * One request to the OpenCode server (HTTP/1.1, Connection: close).
 * Returns the status (also in r->status), or -1.
 */
static int
http_req(const char *method, const char *path, const char *body,
    struct http_resp *r)
{
	char *buf, *hend, *h, *eol;
	size_t len, hlen;
	int chunked = 0;

	memset(r, 0, sizeof(*r));
	r->status = it_http(E.up_port, method, path, body, body != NULL ?
	    "Accept: application/json\r\nContent-Type: application/json\r\n" :
	    "Accept: application/json\r\n", T_HTTP, &buf, &len);
	if (r->status == -1 || (hend = strstr(buf, "\r\n\r\n")) == NULL)
		goto fail;
	hlen = (size_t)(hend - buf) + 4;
	for (h = strstr(buf, "\r\n") + 2; h < hend; h = eol + 2) {
		eol = strstr(h, "\r\n");
		if (strncasecmp(h, "Content-Type:", 13) == 0) {
			h += 13;
			while (*h == ' ')
				h++;
			r->ctype = strndup(h, (size_t)(eol - h));
		} else if (strncasecmp(h, "Transfer-Encoding:", 18) == 0 &&
		    memmem(h, (size_t)(eol - h), "chunked", 7) != NULL)
			chunked = 1;
	}
	r->len = len - hlen;
	memmove(buf, buf + hlen, r->len + 1);
	if (chunked && dechunk(buf, &r->len) == -1)
		goto fail;
	r->body = buf;
	return r->status;
 fail:
	free(buf);
	free(r->ctype);
	r->ctype = NULL;
	r->status = -1;
	return -1;
}

/* GET path, expecting 200 application/json; fails the test otherwise. */
static void
http_get_json(const char *path, struct http_resp *r)
{
	if (http_req("GET", path, NULL, r) != 200)
		fail_msg("GET %s: status %d", path, r->status);
	if (r->ctype == NULL || strncmp(r->ctype, "application/json", 16) != 0)
		fail_msg("GET %s: Content-Type %s", path,
		    r->ctype != NULL ? r->ctype : "(none)");
}

/* ---- a little JSON, with jsmn ---- */

struct jdoc {
	const char	*js;
	jsmntok_t	*t;
	int		 n;
};

static void
jparse(struct jdoc *d, const char *js, size_t len)
{
	jsmn_parser p;
	int n;

	memset(d, 0, sizeof(*d));
	d->js = js;
	jsmn_init(&p);
	if ((n = jsmn_parse(&p, js, len, NULL, 0)) <= 0)
		fail_msg("upstream JSON does not parse (%d)", n);
	if ((d->t = calloc((size_t)n, sizeof(*d->t))) == NULL)
		fail_msg("out of memory");
	jsmn_init(&p);
	if ((d->n = jsmn_parse(&p, js, len, d->t, (unsigned)n)) != n)
		fail_msg("upstream JSON does not parse");
}

static void
jfree(struct jdoc *d)
{
	free(d->t);
	memset(d, 0, sizeof(*d));
}

/* The index of the token after token i and everything inside it. */
static int
jskip(const struct jdoc *d, int i)
{
	int k = d->t[i].size;

	for (i++; k > 0; k--)
		i = jskip(d, i);
	return i;
}

static int
jeq(const struct jdoc *d, int i, const char *s)
{
	const jsmntok_t *t = &d->t[i];
	size_t n = strlen(s);

	return t->type == JSMN_STRING && (size_t)(t->end - t->start) == n &&
	    memcmp(d->js + t->start, s, n) == 0;
}

/* The value of key in the object at obj, or -1. */
static int
jget(const struct jdoc *d, int obj, const char *key)
{
	int i, k;

	if (obj < 0 || d->t[obj].type != JSMN_OBJECT)
		return -1;
	for (i = obj + 1, k = d->t[obj].size; k > 0; k--) {
		if (jeq(d, i, key))
			return i + 1;
		i = jskip(d, i + 1);
	}
	return -1;
}

/* A string or primitive token, malloc'd (escapes left as they are). */
static char *
jdup(const struct jdoc *d, int i)
{
	char *s;

	if (i < 0 || (d->t[i].type != JSMN_STRING &&
	    d->t[i].type != JSMN_PRIMITIVE))
		return NULL;
	if ((s = strndup(d->js + d->t[i].start,
	    (size_t)(d->t[i].end - d->t[i].start))) == NULL)
		fail_msg("out of memory");
	return s;
}

static long long
jll(const struct jdoc *d, int i)
{
	char *s = jdup(d, i);
	long long v;

	if (s == NULL)
		return -1;
	v = strtoll(s, NULL, 10);
	free(s);
	return v;
}

/* The elements of the array at arr, in *idx (at most max). */
static int
jitems(const struct jdoc *d, int arr, int *idx, int max)
{
	int i, k, n = 0;

	if (arr < 0 || d->t[arr].type != JSMN_ARRAY)
		return -1;
	for (i = arr + 1, k = d->t[arr].size; k > 0 && n < max; k--) {
		idx[n++] = i;
		i = jskip(d, i);
	}
	return n;
}

/* The strings of the array at key of the top-level object; n or -1. */
static int
jstrings(const struct jdoc *d, const char *key, char **out, int max)
{
	int idx[MAX_IDS], i, n;

	if ((n = jitems(d, jget(d, 0, key), idx, MAX_IDS)) < 0)
		return -1;
	for (i = 0; i < n && i < max; i++)
		out[i] = jdup(d, idx[i]);
	return n < max ? n : max;
}

static void
free_strings(char **s, int n)
{
	while (n-- > 0)
		free(s[n]);
}

static int
has_string(char *const *s, int n, const char *want)
{
	while (n-- > 0)
		if (s[n] != NULL && strcmp(s[n], want) == 0)
			return 1;
	return 0;
}

/* `connected` of GET /provider. */
static int
http_connected(char **out, int max)
{
	struct http_resp r;
	struct jdoc d;
	int n;

	http_get_json("/provider", &r);
	jparse(&d, r.body, r.len);
	if ((n = jstrings(&d, "connected", out, max)) < 0)
		fail_msg("GET /provider: no connected array");
	jfree(&d);
	http_free(&r);
	return n;
}

/* ---- WebSocket requests ---- */

static const char *
describe(const Opencode__ServerMessage *m)
{
	static char buf[512];

	if (m == NULL)
		return "no reply";
	switch (m->payload_case) {
	case OPENCODE__SERVER_MESSAGE__PAYLOAD__NOT_SET:
		snprintf(buf, sizeof(buf), "an empty reply (request_id %llu)",
		    (unsigned long long)m->request_id);
		break;
	case OPENCODE__SERVER_MESSAGE__PAYLOAD_ERROR:
		snprintf(buf, sizeof(buf), "error %s \"%s\" (request_id %llu)",
		    m->error->code, m->error->message,
		    (unsigned long long)m->request_id);
		break;
	default:
		snprintf(buf, sizeof(buf), "payload %d (request_id %llu)",
		    (int)m->payload_case, (unsigned long long)m->request_id);
	}
	return buf;
}

/* Sends cm on ctl with a fresh request_id and waits for its reply. */
static Opencode__ServerMessage *
call(Opencode__ClientMessage *cm, int timeout_ms)
{
	Opencode__ServerMessage *m;

	cm->request_id = ++E.next_id;
	if (wsc_send_msg(&E.ctl, cm, T_IO) == -1)
		fail_msg("send of request %llu failed",
		    (unsigned long long)cm->request_id);
	if ((m = wsc_recv_reply(&E.ctl, cm->request_id, timeout_ms)) == NULL)
		fail_msg("no reply to request %llu (payload %d) within %d ms",
		    (unsigned long long)cm->request_id, (int)cm->payload_case,
		    timeout_ms);
	assert_int_equal(m->request_id, cm->request_id);
	return m;
}

static void
expect_case(const Opencode__ServerMessage *m,
    Opencode__ServerMessage__PayloadCase c)
{
	if (m->payload_case != c)
		fail_msg("expected payload %d, got %s", (int)c, describe(m));
}

static void
expect_error(const Opencode__ServerMessage *m, const char *code)
{
	if (m->payload_case != OPENCODE__SERVER_MESSAGE__PAYLOAD_ERROR ||
	    strcmp(m->error->code, code) != 0)
		fail_msg("expected error %s, got %s", code, describe(m));
}

static Opencode__ServerMessage *
req_health(void)
{
	Opencode__ClientMessage cm = OPENCODE__CLIENT_MESSAGE__INIT;
	Opencode__HealthCheck hc = OPENCODE__HEALTH_CHECK__INIT;

	cm.payload_case = OPENCODE__CLIENT_MESSAGE__PAYLOAD_HEALTH_CHECK;
	cm.health_check = &hc;
	return call(&cm, T_REPLY);
}

static Opencode__ServerMessage *
req_list_sessions(void)
{
	Opencode__ClientMessage cm = OPENCODE__CLIENT_MESSAGE__INIT;
	Opencode__ListSessionsRequest ls =
	    OPENCODE__LIST_SESSIONS_REQUEST__INIT;

	cm.payload_case = OPENCODE__CLIENT_MESSAGE__PAYLOAD_LIST_SESSIONS;
	cm.list_sessions = &ls;
	return call(&cm, T_REPLY);
}

static Opencode__ServerMessage *
req_provider_status(void)
{
	Opencode__ClientMessage cm = OPENCODE__CLIENT_MESSAGE__INIT;
	Opencode__GetProviderStatusRequest gp =
	    OPENCODE__GET_PROVIDER_STATUS_REQUEST__INIT;

	cm.payload_case = OPENCODE__CLIENT_MESSAGE__PAYLOAD_GET_PROVIDER_STATUS;
	cm.get_provider_status = &gp;
	return call(&cm, T_PROVIDER);
}

/* CreateSession; title NULL sends none.  Returns the new id (malloc'd). */
static char *
create_session(const char *title)
{
	Opencode__ClientMessage cm = OPENCODE__CLIENT_MESSAGE__INIT;
	Opencode__CreateSessionRequest cs =
	    OPENCODE__CREATE_SESSION_REQUEST__INIT;
	Opencode__ServerMessage *m;
	char *id;

	if (title != NULL) {
		cs._title_case = OPENCODE__CREATE_SESSION_REQUEST___TITLE_TITLE;
		cs.title = (char *)title;
	}
	cm.payload_case = OPENCODE__CLIENT_MESSAGE__PAYLOAD_CREATE_SESSION;
	cm.create_session = &cs;
	m = call(&cm, T_REPLY);
	expect_case(m, OPENCODE__SERVER_MESSAGE__PAYLOAD_SESSION_INFO);
	if (strncmp(m->session_info->id, "ses_", 4) != 0)
		fail_msg("CreateSession: id %s", m->session_info->id);
	if (title != NULL) {
		assert_int_equal(m->session_info->_title_case,
		    OPENCODE__SESSION_INFO___TITLE_TITLE);
		assert_string_equal(m->session_info->title, title);
	}
	assert_true(m->session_info->created_at > 0);
	if ((id = strdup(m->session_info->id)) == NULL)
		fail_msg("out of memory");
	wsc_msg_free(m);
	return id;
}

static Opencode__ServerMessage *
req_delete_session(const char *id)
{
	Opencode__ClientMessage cm = OPENCODE__CLIENT_MESSAGE__INIT;
	Opencode__DeleteSessionRequest ds =
	    OPENCODE__DELETE_SESSION_REQUEST__INIT;

	ds.session_id = (char *)id;
	cm.payload_case = OPENCODE__CLIENT_MESSAGE__PAYLOAD_DELETE_SESSION;
	cm.delete_session = &ds;
	return call(&cm, T_REPLY);
}

static void
expect_empty(Opencode__ServerMessage *m, const char *what)
{
	if (m->payload_case != OPENCODE__SERVER_MESSAGE__PAYLOAD__NOT_SET)
		fail_msg("%s: expected an empty reply, got %s", what,
		    describe(m));
	wsc_msg_free(m);
}

/* ---- events ---- */

struct evlog {
	Opencode__ServerMessage	*m[MAX_EVENTS];
	size_t			 n;
};

static void
evlog_free(struct evlog *l)
{
	while (l->n > 0)
		wsc_msg_free(l->m[--l->n]);
}

static void
ev_print(const Opencode__ServerMessage *m)
{
	switch (m->payload_case) {
	case OPENCODE__SERVER_MESSAGE__PAYLOAD_TOKEN:
		fprintf(stderr, "  ChatToken %s %s %s \"%s\"\n",
		    m->token->session_id, m->token->part_id, m->token->kind,
		    m->token->delta);
		break;
	case OPENCODE__SERVER_MESSAGE__PAYLOAD_MESSAGE_UPDATED:
		fprintf(stderr, "  MessageInfo %s %s %s finish=%s\n",
		    m->message_updated->session_id, m->message_updated->id,
		    m->message_updated->role, m->message_updated->finish);
		break;
	case OPENCODE__SERVER_MESSAGE__PAYLOAD_PART_UPDATED:
		fprintf(stderr, "  PartInfo %s %s %s %s\n",
		    m->part_updated->session_id, m->part_updated->message_id,
		    m->part_updated->id, m->part_updated->kind);
		break;
	case OPENCODE__SERVER_MESSAGE__PAYLOAD_QUESTION_REQUEST:
		fprintf(stderr, "  QuestionRequest %s %s\n",
		    m->question_request->session_id, m->question_request->id);
		break;
	case OPENCODE__SERVER_MESSAGE__PAYLOAD_QUESTION_RESOLVED:
		fprintf(stderr, "  QuestionResolved %s %s rejected=%d\n",
		    m->question_resolved->session_id,
		    m->question_resolved->question_id,
		    (int)m->question_resolved->rejected);
		break;
	case OPENCODE__SERVER_MESSAGE__PAYLOAD_PERMISSION_RESOLVED:
		fprintf(stderr, "  PermissionResolved %s %s %s\n",
		    m->permission_resolved->session_id,
		    m->permission_resolved->permission_id,
		    m->permission_resolved->reply);
		break;
	case OPENCODE__SERVER_MESSAGE__PAYLOAD_TODO_UPDATED:
		fprintf(stderr, "  TodoList %s %zu todos\n",
		    m->todo_updated->session_id, m->todo_updated->n_todos);
		break;
	case OPENCODE__SERVER_MESSAGE__PAYLOAD_DIFF_UPDATED:
		fprintf(stderr, "  DiffList %s %zu files\n",
		    m->diff_updated->session_id, m->diff_updated->n_files);
		break;
	case OPENCODE__SERVER_MESSAGE__PAYLOAD_MESSAGE_REMOVED:
		fprintf(stderr, "  MessageRemoved %s %s\n",
		    m->message_removed->session_id,
		    m->message_removed->message_id);
		break;
	case OPENCODE__SERVER_MESSAGE__PAYLOAD_PART_REMOVED:
		fprintf(stderr, "  PartRemoved %s %s %s\n",
		    m->part_removed->session_id, m->part_removed->message_id,
		    m->part_removed->part_id);
		break;
	case OPENCODE__SERVER_MESSAGE__PAYLOAD_COMPLETED:
		fprintf(stderr, "  ChatCompleted %s %s finish=%s error=%s "
		    "in=%lld out=%lld\n", m->completed->session_id,
		    m->completed->message_id, m->completed->finish,
		    m->completed->error,
		    (long long)m->completed->input_tokens,
		    (long long)m->completed->output_tokens);
		break;
	case OPENCODE__SERVER_MESSAGE__PAYLOAD_TOOL_CALL:
		fprintf(stderr, "  ToolCallEvent %s %s %s %s\n",
		    m->tool_call->session_id, m->tool_call->tool,
		    m->tool_call->call_id, m->tool_call->status);
		break;
	case OPENCODE__SERVER_MESSAGE__PAYLOAD_PERMISSION_REQUEST:
		fprintf(stderr, "  PermissionRequest %s %s %s\n",
		    m->permission_request->session_id,
		    m->permission_request->permission_id,
		    m->permission_request->permission);
		break;
	case OPENCODE__SERVER_MESSAGE__PAYLOAD_SESSION_EVENT:
		fprintf(stderr, "  SessionEvent %s %s status=%s error=%s\n",
		    m->session_event->session_id, m->session_event->kind,
		    m->session_event->status, m->session_event->error_name);
		break;
	case OPENCODE__SERVER_MESSAGE__PAYLOAD_UPSTREAM_STATUS:
		fprintf(stderr, "  UpstreamStatus connected=%d version=%s\n",
		    (int)m->upstream_status->connected,
		    m->upstream_status->version);
		break;
	default:
		fprintf(stderr, "  %s\n", describe(m));
	}
}

static void
evlog_print(const struct evlog *l, const char *why)
{
	size_t i;

	fprintf(stderr, "%s; %zu events received:\n", why, l->n);
	for (i = 0; i < l->n; i++)
		ev_print(l->m[i]);
}

typedef int (*ev_done_fn)(const struct evlog *, const char *sid);

/*
 * Reads events from ev into l until done() says so; 0, or -1 on a timeout
 * or a broken connection (the log is printed).  Messages that are not
 * events (a reply on ev) fail the test.
 */
static int
collect_on(struct wsc *w, struct evlog *l, const char *sid, ev_done_fn done,
    int timeout_ms)
{
	int64_t deadline = it_now_ms() + timeout_ms;
	Opencode__ServerMessage *m;
	struct wsc_frame f;

	while (!done(l, sid)) {
		if (l->n == MAX_EVENTS) {
			evlog_print(l, "too many events");
			return -1;
		}
		m = wsc_recv_msg(w, &f, left(deadline));
		if (m == NULL) {
			if (f.kind == WSC_PING || f.kind == WSC_PONG) {
				wsc_frame_free(&f);
				continue;
			}
			wsc_frame_free(&f);
			evlog_print(l, f.kind == WSC_TIMEOUT ?
			    "timed out waiting for events" :
			    "the event connection broke");
			return -1;
		}
		if (m->request_id != 0 || m->payload_case < 200)
			fail_msg("unexpected message on the event connection: "
			    "%s", describe(m));
		l->m[l->n++] = m;
	}
	return 0;
}

static int
collect(struct evlog *l, const char *sid, ev_done_fn done, int timeout_ms)
{
	return collect_on(&E.ev, l, sid, done, timeout_ms);
}

static const Opencode__SessionEvent *
find_session_event(const struct evlog *l, size_t from, const char *sid,
    const char *kind, size_t *at)
{
	const Opencode__ServerMessage *m;
	size_t i;

	for (i = from; i < l->n; i++) {
		m = l->m[i];
		if (m->payload_case ==
		    OPENCODE__SERVER_MESSAGE__PAYLOAD_SESSION_EVENT &&
		    strcmp(m->session_event->session_id, sid) == 0 &&
		    strcmp(m->session_event->kind, kind) == 0) {
			if (at != NULL)
				*at = i;
			return m->session_event;
		}
	}
	return NULL;
}

static int
done_created(const struct evlog *l, const char *sid)
{
	return find_session_event(l, 0, sid, "created", NULL) != NULL;
}

/*
 * The turn is over: a ChatCompleted that ends it (a finish other than
 * tool-calls, or an error) and a SessionEvent idle after it.
 */
static int
done_turn(const struct evlog *l, const char *sid)
{
	const Opencode__ChatCompleted *c;
	size_t i;

	for (i = 0; i < l->n; i++) {
		if (l->m[i]->payload_case !=
		    OPENCODE__SERVER_MESSAGE__PAYLOAD_COMPLETED)
			continue;
		c = l->m[i]->completed;
		if (strcmp(c->session_id, sid) != 0 ||
		    (strcmp(c->finish, "tool-calls") == 0 &&
		    c->error[0] == '\0'))
			continue;
		if (find_session_event(l, i + 1, sid, "idle", NULL) != NULL)
			return 1;
	}
	return 0;
}

static int
done_permission(const struct evlog *l, const char *sid)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		if (l->m[i]->payload_case ==
		    OPENCODE__SERVER_MESSAGE__PAYLOAD_PERMISSION_REQUEST &&
		    strcmp(l->m[i]->permission_request->session_id, sid) == 0)
			return 1;
	return 0;
}

static int
done_two_ticks(const struct evlog *l, const char *sid)
{
	size_t i;
	int n = 0;

	for (i = 0; i < l->n; i++)
		if (l->m[i]->payload_case ==
		    OPENCODE__SERVER_MESSAGE__PAYLOAD_TOKEN &&
		    strcmp(l->m[i]->token->session_id, sid) == 0 &&
		    strncmp(l->m[i]->token->delta, "tick", 4) == 0)
			n++;
	return n >= 2;
}

static int
upstream_status(const struct evlog *l, int connected)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		if (l->m[i]->payload_case ==
		    OPENCODE__SERVER_MESSAGE__PAYLOAD_UPSTREAM_STATUS &&
		    (int)l->m[i]->upstream_status->connected == connected)
			return 1;
	return 0;
}

static int
done_down(const struct evlog *l, const char *sid)
{
	(void)sid;
	return upstream_status(l, 0);
}

/* UpstreamStatus{true} after the last UpstreamStatus{false}. */
static int
done_up(const struct evlog *l, const char *sid)
{
	size_t i;
	int down = 0, up = 0;

	(void)sid;
	for (i = 0; i < l->n; i++) {
		if (l->m[i]->payload_case !=
		    OPENCODE__SERVER_MESSAGE__PAYLOAD_UPSTREAM_STATUS)
			continue;
		if (l->m[i]->upstream_status->connected)
			up = down;
		else {
			down = 1;
			up = 0;
		}
	}
	return up;
}

/* The concatenated ChatToken deltas of a session. */
static char *
tokens_text(const struct evlog *l, const char *sid)
{
	size_t i, len = 0, n;
	char *s, *ns;

	if ((s = strdup("")) == NULL)
		fail_msg("out of memory");
	for (i = 0; i < l->n; i++) {
		if (l->m[i]->payload_case !=
		    OPENCODE__SERVER_MESSAGE__PAYLOAD_TOKEN ||
		    strcmp(l->m[i]->token->session_id, sid) != 0)
			continue;
		n = strlen(l->m[i]->token->delta);
		if ((ns = realloc(s, len + n + 1)) == NULL)
			fail_msg("out of memory");
		s = ns;
		memcpy(s + len, l->m[i]->token->delta, n + 1);
		len += n;
	}
	return s;
}

/* Events of other sessions, which the Subscribe filter must keep away. */
static size_t
foreign_events(const struct evlog *l, const char *sid)
{
	const char *s;
	size_t i, n = 0;

	for (i = 0; i < l->n; i++)
		if ((s = ocb_event_session(l->m[i])) != NULL && *s != '\0' &&
		    strcmp(s, sid) != 0)
			n++;
	return n;
}

static const Opencode__ChatCompleted *
nth_completed(const struct evlog *l, const char *sid, int nth)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		if (l->m[i]->payload_case ==
		    OPENCODE__SERVER_MESSAGE__PAYLOAD_COMPLETED &&
		    strcmp(l->m[i]->completed->session_id, sid) == 0 &&
		    nth-- == 0)
			return l->m[i]->completed;
	return NULL;
}

static size_t
count_completed(const struct evlog *l, const char *sid)
{
	size_t n = 0;

	while (nth_completed(l, sid, (int)n) != NULL)
		n++;
	return n;
}

/*
 * Checks the life of one tool call: pending, then running, then the final
 * state, in that order, with one call_id.  Returns the final event.
 */
static const Opencode__ToolCallEvent *
check_tool(const struct evlog *l, const char *sid, const char *tool,
    const char *final)
{
	static const char *order[] = { "pending", "running", NULL };
	const Opencode__ToolCallEvent *t, *last = NULL;
	const char *call = NULL;
	size_t i;
	int stage = 0, seen[3] = { 0, 0, 0 };

	for (i = 0; i < l->n; i++) {
		if (l->m[i]->payload_case !=
		    OPENCODE__SERVER_MESSAGE__PAYLOAD_TOOL_CALL)
			continue;
		t = l->m[i]->tool_call;
		if (strcmp(t->session_id, sid) != 0 ||
		    strcmp(t->tool, tool) != 0)
			continue;
		if (call == NULL)
			call = t->call_id;
		else if (strcmp(call, t->call_id) != 0) {
			evlog_print(l, "tool events");
			fail_msg("%s: two call ids %s and %s", tool, call,
			    t->call_id);
		}
		if (strcmp(t->status, "pending") == 0)
			stage = 0;
		else if (strcmp(t->status, "running") == 0)
			stage = 1;
		else if (strcmp(t->status, final) == 0)
			stage = 2;
		else {
			evlog_print(l, "tool events");
			fail_msg("%s: unexpected status %s", tool, t->status);
		}
		/* Each state comes after those before it (running repeats). */
		if (stage < 2 && seen[2]) {
			evlog_print(l, "tool events");
			fail_msg("%s: %s after %s", tool, t->status, final);
		}
		if (stage == 1 && !seen[0]) {
			evlog_print(l, "tool events");
			fail_msg("%s: running before pending", tool);
		}
		if (stage == 2)
			last = t;
		seen[stage] = 1;
	}
	for (i = 0; order[i] != NULL; i++)
		if (!seen[i]) {
			evlog_print(l, "tool events");
			fail_msg("%s: no %s event", tool, order[i]);
		}
	if (last == NULL) {
		evlog_print(l, "tool events");
		fail_msg("%s: no %s event", tool, final);
	}
	assert_true(call != NULL && *call != '\0');
	return last;
}

/* Subscribe ev to one session (NULL: to every session again). */
static void
subscribe(const char *sid)
{
	Opencode__ClientMessage cm = OPENCODE__CLIENT_MESSAGE__INIT;
	Opencode__Subscribe sub = OPENCODE__SUBSCRIBE__INIT;
	Opencode__ServerMessage *m;
	char *ids[1];

	if (sid != NULL) {
		ids[0] = (char *)sid;
		sub.session_ids = ids;
		sub.n_session_ids = 1;
	}
	cm.request_id = ++E.next_id;
	cm.payload_case = OPENCODE__CLIENT_MESSAGE__PAYLOAD_SUBSCRIBE;
	cm.subscribe = &sub;
	if (wsc_send_msg(&E.ev, &cm, T_IO) == -1)
		fail_msg("Subscribe: send failed");
	/* Events before the reply are dropped: they are of no interest. */
	if ((m = wsc_recv_reply(&E.ev, cm.request_id, T_REPLY)) == NULL)
		fail_msg("Subscribe: no reply");
	expect_empty(m, "Subscribe");
}

/*
 * A session for a chat, with ev subscribed to it.  The SessionEvent created
 * proves that the event stream is up before anything is sent.
 */
static char *
chat_session(void)
{
	struct evlog *l;
	char *sid;

	if ((l = calloc(1, sizeof(*l))) == NULL)
		fail_msg("out of memory");
	subscribe(NULL);
	sid = create_session(NULL);
	if (collect(l, sid, done_created, T_EVENT) == -1)
		fail_msg("no SessionEvent created for %s: the event stream "
		    "is not up", sid);
	evlog_free(l);
	free(l);
	subscribe(sid);
	return sid;
}

static void
send_message(const char *sid, const char *text, int explicit_model)
{
	Opencode__ClientMessage cm = OPENCODE__CLIENT_MESSAGE__INIT;
	Opencode__SendMessage sm = OPENCODE__SEND_MESSAGE__INIT;
	Opencode__ServerMessage *m;

	sm.session_id = (char *)sid;
	sm.text = (char *)text;
	if (explicit_model) {
		sm._provider_id_case =
		    OPENCODE__SEND_MESSAGE___PROVIDER_ID_PROVIDER_ID;
		sm.provider_id = "mock";
		sm._model_id_case = OPENCODE__SEND_MESSAGE___MODEL_ID_MODEL_ID;
		sm.model_id = "mock-1";
		sm._agent_case = OPENCODE__SEND_MESSAGE___AGENT_AGENT;
		sm.agent = "build";
	}
	cm.payload_case = OPENCODE__CLIENT_MESSAGE__PAYLOAD_SEND_MESSAGE;
	cm.send_message = &sm;
	m = call(&cm, T_REPLY);
	expect_empty(m, "SendMessage");
	E.chats++;
}

static int
chat_timeout(void)
{
	return E.chats <= 1 ? T_FIRST_CHAT : T_CHAT;
}

/* The text of the last assistant message of a session, from GET. */
static char *
http_last_assistant_text(const char *sid)
{
	struct http_resp r;
	struct jdoc d;
	char path[128], *text = NULL;
	int msgs[256], parts[64], nm, np, i, j, info, role;

	snprintf(path, sizeof(path), "/session/%s/message", sid);
	http_get_json(path, &r);
	jparse(&d, r.body, r.len);
	if ((nm = jitems(&d, 0, msgs, 256)) < 0)
		fail_msg("GET %s: not an array", path);
	for (i = nm - 1; i >= 0 && text == NULL; i--) {
		info = jget(&d, msgs[i], "info");
		role = jget(&d, info, "role");
		if (role < 0 || !jeq(&d, role, "assistant"))
			continue;
		np = jitems(&d, jget(&d, msgs[i], "parts"), parts, 64);
		for (j = 0; j < np; j++)
			if (jeq(&d, jget(&d, parts[j], "type"), "text"))
				text = jdup(&d, jget(&d, parts[j], "text"));
	}
	jfree(&d);
	http_free(&r);
	if (text == NULL)
		fail_msg("GET %s: no assistant text", path);
	return text;
}

/* ---- setup ---- */

static int
open_ws(struct wsc *w)
{
	if (wsc_open(w, E.env.port, T_IO) == -1) {
		fprintf(stderr, "WebSocket to ocbroker failed\n");
		return -1;
	}
	if (wsc_auth(w, E.env.token, ++E.next_id, T_IO) != 1) {
		fprintf(stderr, "auth handshake failed\n");
		return -1;
	}
	return 0;
}

static int
group_setup(void **state)
{
	const char *url = getenv("OPENCODE_URL");
	static const char *args[4];
	static char upstream[64];
	struct it_opts o;
	unsigned port;
	char rest;

	(void)state;
	memset(&E, 0, sizeof(E));
	E.ctl.fd = E.ev.fd = -1;
	if (url == NULL || sscanf(url, "http://127.0.0.1:%u%c", &port,
	    &rest) != 1 || port == 0 || port > 65535) {
		fprintf(stderr, "OPENCODE_URL must be http://127.0.0.1:PORT\n");
		return -1;
	}
	E.up_port = (uint16_t)port;
	snprintf(upstream, sizeof(upstream), "http://127.0.0.1:%u", port);

	/*
	 * it_start() without a fake points ocbroker at a refused port; the
	 * --upstream given here comes later on the command line and wins.
	 */
	memset(&o, 0, sizeof(o));
	o.no_fake = 1;
	args[0] = "--upstream";
	args[1] = upstream;
	args[2] = NULL;
	o.ocb_args = args;
	if (it_start(&E.env, &o) == -1)
		return -1;
	fprintf(stderr, "ocbroker %s on port %u, upstream %s, log %s\n",
	    E.env.version, (unsigned)E.env.port, upstream, E.env.ocb_log);
	if (!E.env.has_token) {
		fprintf(stderr, "the ready line has no token\n");
		return -1;
	}
	if (open_ws(&E.ctl) == -1 || open_ws(&E.ev) == -1)
		return -1;
	return 0;
}

static int
group_teardown(void **state)
{
	int st, extra, bad = 0;

	(void)state;
	if (E.ctl.fd != -1)
		wsc_close(&E.ctl);
	if (E.ev.fd != -1)
		wsc_close(&E.ev);
	if (E.env.running) {
		st = it_stop(&E.env, T_EXIT, &extra);
		if (st == -1 || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
			fprintf(stderr, "ocbroker did not exit 0 on SIGTERM "
			    "(wait status %d, log %s)\n", st, E.env.ocb_log);
			bad = 1;
		}
		if (extra) {
			fprintf(stderr, "ocbroker wrote to stdout after its "
			    "ready line\n");
			bad = 1;
		}
	}
	return bad ? -1 : 0;
}

/* ---- request/reply tests ---- */

static void
test_health(void **state)
{
	Opencode__ServerMessage *m;
	struct http_resp r;
	struct jdoc d;
	char *v;

	(void)state;
	http_get_json("/global/health", &r);
	jparse(&d, r.body, r.len);
	v = jdup(&d, jget(&d, 0, "version"));
	assert_non_null(v);
	assert_string_equal(v, "1.18.34");

	m = req_health();
	expect_case(m, OPENCODE__SERVER_MESSAGE__PAYLOAD_UPSTREAM_HEALTH);
	assert_true(m->upstream_health->healthy);
	assert_string_equal(m->upstream_health->version, v);
	wsc_msg_free(m);
	free(v);
	jfree(&d);
	http_free(&r);
}

/*
 * ListSessions against GET /session: the same sessions in the same order
 * (newest first) with the same fields.  0, or -1 with the difference in why.
 */
static int
compare_sessions(char *why, size_t whysz)
{
	Opencode__ServerMessage *m;
	Opencode__SessionInfo *si;
	struct http_resp r;
	struct jdoc d;
	int items[MAX_IDS], n, i, t, bad = 0;
	long long created, updated;
	char *id, *title;

	m = req_list_sessions();
	expect_case(m, OPENCODE__SERVER_MESSAGE__PAYLOAD_SESSION_LIST);
	http_get_json("/session", &r);
	jparse(&d, r.body, r.len);
	if ((n = jitems(&d, 0, items, MAX_IDS)) < 1)
		fail_msg("GET /session: %d sessions", n);
	if ((size_t)n != m->session_list->n_sessions) {
		snprintf(why, whysz, "%zu sessions, GET /session has %d",
		    m->session_list->n_sessions, n);
		bad = 1;
	}
	for (i = 0; i < n && !bad; i++) {
		si = m->session_list->sessions[i];
		id = jdup(&d, jget(&d, items[i], "id"));
		t = jget(&d, items[i], "time");
		created = jll(&d, jget(&d, t, "created"));
		updated = jll(&d, jget(&d, t, "updated"));
		title = jdup(&d, jget(&d, items[i], "title"));
		if (id == NULL || strcmp(si->id, id) != 0)
			snprintf(why, whysz, "session %d is %s, GET has %s", i,
			    si->id, id);
		else if (si->created_at != created ||
		    si->updated_at != updated)
			snprintf(why, whysz, "%s: times %lld/%lld, GET has "
			    "%lld/%lld", id, (long long)si->created_at,
			    (long long)si->updated_at, created, updated);
		else if (title != NULL && strchr(title, '\\') == NULL &&
		    (si->_title_case != OPENCODE__SESSION_INFO___TITLE_TITLE ||
		    strcmp(si->title, title) != 0))
			snprintf(why, whysz, "%s: title \"%s\", GET has \"%s\"",
			    id, si->_title_case ==
			    OPENCODE__SESSION_INFO___TITLE_TITLE ? si->title :
			    "(none)", title);
		else {
			free(title);
			free(id);
			continue;
		}
		bad = 1;
		free(title);
		free(id);
	}
	jfree(&d);
	http_free(&r);
	wsc_msg_free(m);
	return bad ? -1 : 0;
}

static void
test_list_sessions(void **state)
{
	struct http_resp r;
	char why[512];
	int tries;

	(void)state;
	/* At least one session, made over HTTP behind ocbroker's back. */
	if (http_req("POST", "/session", "{\"title\":\"e2e http session\"}",
	    &r) != 200)
		fail_msg("POST /session: %d", r.status);
	http_free(&r);

	/* A session may still be updated (a late title): look again. */
	for (tries = 0; compare_sessions(why, sizeof(why)) == -1; tries++) {
		if (tries == 4)
			fail_msg("ListSessions differs from GET /session: %s",
			    why);
		usleep(500000);
	}
}

static void
test_create_delete_session(void **state)
{
	struct http_resp r;
	struct jdoc d;
	char *a, *b, *title, path[128];

	(void)state;
	a = create_session("e2e titled session");
	b = create_session(NULL);

	snprintf(path, sizeof(path), "/session/%s", a);
	http_get_json(path, &r);
	jparse(&d, r.body, r.len);
	title = jdup(&d, jget(&d, 0, "title"));
	assert_string_equal(title, "e2e titled session");
	free(title);
	jfree(&d);
	http_free(&r);

	/* Without a title the server picks its default. */
	snprintf(path, sizeof(path), "/session/%s", b);
	http_get_json(path, &r);
	jparse(&d, r.body, r.len);
	title = jdup(&d, jget(&d, 0, "title"));
	if (title == NULL || strncmp(title, "New session", 11) != 0)
		fail_msg("untitled session got title %s", title);
	free(title);
	jfree(&d);
	http_free(&r);

	expect_empty(req_delete_session(a), "DeleteSession");
	expect_empty(req_delete_session(b), "DeleteSession");
	snprintf(path, sizeof(path), "/session/%s", a);
	assert_int_equal(http_req("GET", path, NULL, &r), 404);
	http_free(&r);

	/* Deleting it again: the server's 404. */
	{
		Opencode__ServerMessage *m = req_delete_session(a);

		expect_error(m, "NOT_FOUND");
		wsc_msg_free(m);
		m = req_delete_session("../x");
		expect_error(m, "INVALID_REQUEST");
		wsc_msg_free(m);
	}
	free(a);
	free(b);
}

static void
test_list_agents(void **state)
{
	Opencode__ClientMessage cm = OPENCODE__CLIENT_MESSAGE__INIT;
	Opencode__ListAgentsRequest la = OPENCODE__LIST_AGENTS_REQUEST__INIT;
	Opencode__ServerMessage *m;
	Opencode__AgentInfo *ai;
	struct http_resp r;
	struct jdoc d;
	int items[256], n, i, native, mode;
	char *name, *s;

	(void)state;
	cm.payload_case = OPENCODE__CLIENT_MESSAGE__PAYLOAD_LIST_AGENTS;
	cm.list_agents = &la;
	m = call(&cm, T_REPLY);
	expect_case(m, OPENCODE__SERVER_MESSAGE__PAYLOAD_AGENT_LIST);

	http_get_json("/agent", &r);
	jparse(&d, r.body, r.len);
	n = jitems(&d, 0, items, 256);
	assert_true(n >= 1);
	assert_int_equal((size_t)n, m->agent_list->n_agents);
	for (i = 0; i < n; i++) {
		ai = m->agent_list->agents[i];
		name = jdup(&d, jget(&d, items[i], "name"));
		assert_non_null(name);
		assert_string_equal(ai->name, name);
		native = jget(&d, items[i], "native");
		assert_int_equal(ai->built_in, native >= 0 &&
		    strncmp(d.js + d.t[native].start, "true", 4) == 0);
		if ((mode = jget(&d, items[i], "mode")) >= 0) {
			s = jdup(&d, mode);
			assert_int_equal(ai->_mode_case,
			    OPENCODE__AGENT_INFO___MODE_MODE);
			assert_string_equal(ai->mode, s);
			free(s);
		}
		free(name);
	}
	jfree(&d);
	http_free(&r);
	wsc_msg_free(m);
}

static void
check_provider_status(void)
{
	Opencode__ServerMessage *m;
	char *conn[256];
	int n, i;

	m = req_provider_status();
	expect_case(m, OPENCODE__SERVER_MESSAGE__PAYLOAD_PROVIDER_STATUS);
	n = http_connected(conn, 256);
	assert_int_equal((size_t)n, m->provider_status->n_connected);
	for (i = 0; i < n; i++)
		assert_string_equal(m->provider_status->connected[i], conn[i]);
	free_strings(conn, n);
	wsc_msg_free(m);
}

static void
test_provider_status(void **state)
{
	char *conn[256];
	int n;

	(void)state;
	check_provider_status();
	/* The configured mock provider is connected. */
	n = http_connected(conn, 256);
	assert_true(has_string(conn, n, "mock"));
	free_strings(conn, n);
}

static void
set_auth(const char *provider, int oauth)
{
	Opencode__ClientMessage cm = OPENCODE__CLIENT_MESSAGE__INIT;
	Opencode__SetAuthRequest sa = OPENCODE__SET_AUTH_REQUEST__INIT;
	Opencode__AuthInfo ai = OPENCODE__AUTH_INFO__INIT;
	Opencode__ApiKeyAuth ak = OPENCODE__API_KEY_AUTH__INIT;
	Opencode__OAuthAuth oa = OPENCODE__OAUTH_AUTH__INIT;

	if (oauth) {
		oa.access_token = "ocb-e2e-access-not-a-secret";
		oa.refresh_token = "ocb-e2e-refresh-not-a-secret";
		oa.expires_at = 4102444800000LL;
		ai.auth_type_case = OPENCODE__AUTH_INFO__AUTH_TYPE_OAUTH;
		ai.oauth = &oa;
	} else {
		ak.key = "sk-ocb-e2e-not-a-secret";
		ai.auth_type_case = OPENCODE__AUTH_INFO__AUTH_TYPE_API_KEY;
		ai.api_key = &ak;
	}
	sa.provider_id = (char *)provider;
	sa.auth = &ai;
	cm.payload_case = OPENCODE__CLIENT_MESSAGE__PAYLOAD_SET_AUTH;
	cm.set_auth = &sa;
	expect_empty(call(&cm, T_REPLY), "SetAuth");
}

static void
delete_auth(const char *provider)
{
	Opencode__ClientMessage cm = OPENCODE__CLIENT_MESSAGE__INIT;
	Opencode__DeleteAuth da = OPENCODE__DELETE_AUTH__INIT;

	da.provider_id = (char *)provider;
	cm.payload_case = OPENCODE__CLIENT_MESSAGE__PAYLOAD_DELETE_AUTH;
	cm.delete_auth = &da;
	expect_empty(call(&cm, T_REPLY), "DeleteAuth");
}

/* GetAuth: connected, and the same as GET /provider says. */
static int
get_auth(const char *provider)
{
	Opencode__ClientMessage cm = OPENCODE__CLIENT_MESSAGE__INIT;
	Opencode__GetAuthRequest ga = OPENCODE__GET_AUTH_REQUEST__INIT;
	Opencode__ServerMessage *m;
	char *conn[256];
	int n, connected;

	ga.provider_id = (char *)provider;
	cm.payload_case = OPENCODE__CLIENT_MESSAGE__PAYLOAD_GET_AUTH;
	cm.get_auth = &ga;
	m = call(&cm, T_PROVIDER);
	expect_case(m, OPENCODE__SERVER_MESSAGE__PAYLOAD_AUTH_STATUS);
	assert_string_equal(m->auth_status->provider_id, provider);
	connected = m->auth_status->connected;
	wsc_msg_free(m);

	n = http_connected(conn, 256);
	assert_int_equal(connected, has_string(conn, n, provider));
	free_strings(conn, n);
	return connected;
}

static void
test_auth(void **state)
{
	(void)state;
	assert_false(get_auth("anthropic"));

	set_auth("anthropic", 0);
	assert_true(get_auth("anthropic"));
	/* A cached provider status must have been invalidated. */
	check_provider_status();

	delete_auth("anthropic");
	assert_false(get_auth("anthropic"));
	check_provider_status();

	/* An id the catalogue does not know: accepted, stored, removed. */
	set_auth(FAKE_PROVIDER, 1);
	(void)get_auth(FAKE_PROVIDER);
	delete_auth(FAKE_PROVIDER);
	assert_false(get_auth(FAKE_PROVIDER));

	/* A bad id never reaches the server. */
	{
		Opencode__ClientMessage cm = OPENCODE__CLIENT_MESSAGE__INIT;
		Opencode__GetAuthRequest ga = OPENCODE__GET_AUTH_REQUEST__INIT;
		Opencode__ServerMessage *m;

		ga.provider_id = "../auth";
		cm.payload_case = OPENCODE__CLIENT_MESSAGE__PAYLOAD_GET_AUTH;
		cm.get_auth = &ga;
		m = call(&cm, T_REPLY);
		expect_error(m, "INVALID_REQUEST");
		wsc_msg_free(m);
	}
}

/* ---- streaming tests ---- */

static void
test_chat_text(void **state)
{
	const Opencode__ChatCompleted *c;
	struct evlog *l;
	char *sid, *text, *stored;

	(void)state;
	if ((l = calloc(1, sizeof(*l))) == NULL)
		fail_msg("out of memory");
	sid = chat_session();
	send_message(sid, "text", 0);
	if (collect(l, sid, done_turn, chat_timeout()) == -1)
		fail_msg("the text chat did not finish");

	text = tokens_text(l, sid);
	if (strcmp(text, TEXT_ANSWER) != 0) {
		evlog_print(l, "text chat");
		fail_msg("tokens \"%s\", expected \"%s\"", text, TEXT_ANSWER);
	}
	stored = http_last_assistant_text(sid);
	assert_string_equal(stored, text);

	assert_int_equal(count_completed(l, sid), 1);
	c = nth_completed(l, sid, 0);
	assert_string_equal(c->finish, "stop");
	assert_string_equal(c->error, "");
	assert_int_equal(c->output_tokens, 6);
	assert_true(c->input_tokens >= 100);
	assert_non_null(find_session_event(l, 0, sid, "status", NULL));
	assert_int_equal(foreign_events(l, sid), 0);

	free(stored);
	free(text);
	evlog_free(l);
	free(l);
	free(sid);
}

static void
test_chat_tool(void **state)
{
	const Opencode__ToolCallEvent *t;
	struct evlog *l;
	char *sid, *text;

	(void)state;
	if ((l = calloc(1, sizeof(*l))) == NULL)
		fail_msg("out of memory");
	sid = chat_session();
	/* This one names the model and the agent. */
	send_message(sid, "tool", 1);
	if (collect(l, sid, done_turn, chat_timeout()) == -1)
		fail_msg("the tool chat did not finish");

	t = check_tool(l, sid, "read", "completed");
	if (strstr(t->input_json, "hello.txt") == NULL ||
	    strstr(t->output, HELLO_TXT) == NULL) {
		evlog_print(l, "tool chat");
		fail_msg("read: input %s, output %s", t->input_json, t->output);
	}
	/* Two assistant messages: the tool call, then the answer. */
	assert_int_equal(count_completed(l, sid), 2);
	assert_string_equal(nth_completed(l, sid, 0)->finish, "tool-calls");
	assert_string_equal(nth_completed(l, sid, 1)->finish, "stop");
	text = tokens_text(l, sid);
	assert_string_equal(text, TOOL_ANSWER);
	assert_int_equal(foreign_events(l, sid), 0);

	free(text);
	evlog_free(l);
	free(l);
	free(sid);
}

static void
test_chat_permission(void **state)
{
	Opencode__ClientMessage cm = OPENCODE__CLIENT_MESSAGE__INIT;
	Opencode__ReplyPermission rp = OPENCODE__REPLY_PERMISSION__INIT;
	const Opencode__PermissionRequest *p = NULL;
	const Opencode__ToolCallEvent *t;
	struct http_resp r;
	struct evlog *l;
	char *sid, path[64];
	size_t i;

	(void)state;
	if ((l = calloc(1, sizeof(*l))) == NULL)
		fail_msg("out of memory");
	sid = chat_session();
	send_message(sid, "ask", 0);
	if (collect(l, sid, done_permission, chat_timeout()) == -1)
		fail_msg("no PermissionRequest");
	for (i = 0; i < l->n && p == NULL; i++)
		if (l->m[i]->payload_case ==
		    OPENCODE__SERVER_MESSAGE__PAYLOAD_PERMISSION_REQUEST)
			p = l->m[i]->permission_request;
	assert_non_null(p);
	assert_string_equal(p->permission, "bash");
	if (strncmp(p->permission_id, "per_", 4) != 0)
		fail_msg("permission id %s", p->permission_id);
	assert_true(p->n_patterns >= 1);
	assert_string_equal(p->patterns[0], BASH_COMMAND);
	assert_true(*p->call_id != '\0');

	/* The server lists the same request as pending. */
	http_get_json("/permission", &r);
	if (strstr(r.body, p->permission_id) == NULL)
		fail_msg("GET /permission does not list %s", p->permission_id);
	http_free(&r);

	rp.session_id = sid;
	rp.permission_id = p->permission_id;
	rp.reply = "once";
	cm.payload_case = OPENCODE__CLIENT_MESSAGE__PAYLOAD_REPLY_PERMISSION;
	cm.reply_permission = &rp;
	expect_empty(call(&cm, T_REPLY), "ReplyPermission");

	if (collect(l, sid, done_turn, T_CHAT) == -1)
		fail_msg("the permission chat did not finish");
	t = check_tool(l, sid, "bash", "completed");
	if (strstr(t->output, "hello from the mock") == NULL) {
		evlog_print(l, "permission chat");
		fail_msg("bash output %s", t->output);
	}
	assert_string_equal(nth_completed(l, sid, 0)->finish, "tool-calls");
	assert_string_equal(nth_completed(l, sid, 1)->finish, "stop");

	/* Answered: no longer pending; a second reply is the server's 404. */
	snprintf(path, sizeof(path), "/permission");
	http_get_json(path, &r);
	if (strstr(r.body, p->permission_id) != NULL)
		fail_msg("GET /permission still lists %s", p->permission_id);
	http_free(&r);
	{
		Opencode__ServerMessage *m = call(&cm, T_REPLY);

		expect_error(m, "NOT_FOUND");
		wsc_msg_free(m);
	}
	assert_int_equal(foreign_events(l, sid), 0);

	evlog_free(l);
	free(l);
	free(sid);
}

static void
test_chat_cancel(void **state)
{
	Opencode__ClientMessage cm = OPENCODE__CLIENT_MESSAGE__INIT;
	Opencode__CancelRequest cr = OPENCODE__CANCEL_REQUEST__INIT;
	const Opencode__ChatCompleted *c;
	const Opencode__SessionEvent *se;
	struct evlog *l;
	char *sid;

	(void)state;
	if ((l = calloc(1, sizeof(*l))) == NULL)
		fail_msg("out of memory");
	sid = chat_session();
	send_message(sid, "slow", 0);
	if (collect(l, sid, done_two_ticks, chat_timeout()) == -1)
		fail_msg("the slow chat did not stream");

	cr.session_id = sid;
	cm.payload_case = OPENCODE__CLIENT_MESSAGE__PAYLOAD_CANCEL_REQUEST;
	cm.cancel_request = &cr;
	expect_empty(call(&cm, T_REPLY), "CancelRequest");
	if (collect(l, sid, done_turn, T_CHAT) == -1)
		fail_msg("the cancelled chat did not end");
	/* The mock would have gone on for a minute (T_CHAT is half that);
	 * the aborted error below says the cancel ended it. */

	assert_int_equal(count_completed(l, sid), 1);
	c = nth_completed(l, sid, 0);
	se = find_session_event(l, 0, sid, "error", NULL);
	if (strcmp(c->error, ABORTED) != 0 &&
	    (se == NULL || strcmp(se->error_name, ABORTED) != 0)) {
		evlog_print(l, "cancelled chat");
		fail_msg("no MessageAbortedError");
	}
	assert_non_null(se);
	assert_string_equal(se->error_name, ABORTED);
	assert_string_equal(c->error, ABORTED);
	assert_int_equal(foreign_events(l, sid), 0);

	/* Cancelling an idle session is fine too. */
	expect_empty(call(&cm, T_REPLY), "CancelRequest (idle)");

	evlog_free(l);
	free(l);
	free(sid);
}

/* ---- protocol v2: requests ---- */

#define THINK_REASONING	"The user wants a thought first."
#define THINK_ANSWER	"Thought about it."
#define QUESTION_TEXT	"Which colour should the mock use?"
#define FULL_ANSWER	"All steps are done."
#define FILE_URL	"data:text/plain;base64,ZmlsZSBjb250ZW50cyBsaW5lCg=="
#define NO_SESSION	"ses_0000000000000000000000000000"
#define NO_MESSAGE	"msg_0000000000000000000000000000"
#define NO_QUESTION	"que_0000000000000000000000000000"

/* Sessions the v2 tests hand on to later ones. */
static struct {
	char	*think;		/* think, then text */
	char	*edit;		/* edit e2e-notes.txt */
	char	*edit_user;	/* its user message */
} V2;

#define SETREQ(cm, fld, pc, req) do {					\
	(cm).payload_case = OPENCODE__CLIENT_MESSAGE__PAYLOAD_##pc;	\
	(cm).fld = (req);						\
} while (0)

static Opencode__ServerMessage *
req_get_session(const char *sid)
{
	Opencode__ClientMessage cm = OPENCODE__CLIENT_MESSAGE__INIT;
	Opencode__GetSession r = OPENCODE__GET_SESSION__INIT;

	r.session_id = (char *)sid;
	SETREQ(cm, get_session, GET_SESSION, &r);
	return call(&cm, T_REPLY);
}

static Opencode__ServerMessage *
req_update_session(const char *sid, const char *title)
{
	Opencode__ClientMessage cm = OPENCODE__CLIENT_MESSAGE__INIT;
	Opencode__UpdateSession r = OPENCODE__UPDATE_SESSION__INIT;

	r.session_id = (char *)sid;
	r.title = (char *)title;
	SETREQ(cm, update_session, UPDATE_SESSION, &r);
	return call(&cm, T_REPLY);
}

static Opencode__ServerMessage *
req_fork(const char *sid, const char *mid)
{
	Opencode__ClientMessage cm = OPENCODE__CLIENT_MESSAGE__INIT;
	Opencode__ForkSession r = OPENCODE__FORK_SESSION__INIT;

	r.session_id = (char *)sid;
	if (mid != NULL) {
		r._message_id_case =
		    OPENCODE__FORK_SESSION___MESSAGE_ID_MESSAGE_ID;
		r.message_id = (char *)mid;
	}
	SETREQ(cm, fork_session, FORK_SESSION, &r);
	return call(&cm, T_REPLY);
}

static Opencode__ServerMessage *
req_status_list(void)
{
	Opencode__ClientMessage cm = OPENCODE__CLIENT_MESSAGE__INIT;
	Opencode__ListSessionStatus r = OPENCODE__LIST_SESSION_STATUS__INIT;

	SETREQ(cm, list_session_status, LIST_SESSION_STATUS, &r);
	return call(&cm, T_REPLY);
}

static void
fill_list_messages(Opencode__ListMessages *r, const char *sid, unsigned limit,
    const char *before)
{
	r->session_id = (char *)sid;
	if (limit > 0) {
		r->_limit_case = OPENCODE__LIST_MESSAGES___LIMIT_LIMIT;
		r->limit = limit;
	}
	if (before != NULL) {
		r->_before_case = OPENCODE__LIST_MESSAGES___BEFORE_BEFORE;
		r->before = (char *)before;
	}
}

/* ListMessages; limit 0 and before NULL send none. */
static Opencode__ServerMessage *
req_list_messages(const char *sid, unsigned limit, const char *before)
{
	Opencode__ClientMessage cm = OPENCODE__CLIENT_MESSAGE__INIT;
	Opencode__ListMessages r = OPENCODE__LIST_MESSAGES__INIT;

	fill_list_messages(&r, sid, limit, before);
	SETREQ(cm, list_messages, LIST_MESSAGES, &r);
	return call(&cm, T_REPLY);
}

static Opencode__ServerMessage *
req_revert(const char *sid, const char *mid, const char *pid)
{
	Opencode__ClientMessage cm = OPENCODE__CLIENT_MESSAGE__INIT;
	Opencode__RevertSession r = OPENCODE__REVERT_SESSION__INIT;

	r.session_id = (char *)sid;
	r.message_id = (char *)mid;
	if (pid != NULL) {
		r._part_id_case = OPENCODE__REVERT_SESSION___PART_ID_PART_ID;
		r.part_id = (char *)pid;
	}
	SETREQ(cm, revert_session, REVERT_SESSION, &r);
	return call(&cm, T_REPLY);
}

static Opencode__ServerMessage *
req_unrevert(const char *sid)
{
	Opencode__ClientMessage cm = OPENCODE__CLIENT_MESSAGE__INIT;
	Opencode__UnrevertSession r = OPENCODE__UNREVERT_SESSION__INIT;

	r.session_id = (char *)sid;
	SETREQ(cm, unrevert_session, UNREVERT_SESSION, &r);
	return call(&cm, T_REPLY);
}

static Opencode__ServerMessage *
req_list_commands(void)
{
	Opencode__ClientMessage cm = OPENCODE__CLIENT_MESSAGE__INIT;
	Opencode__ListCommands r = OPENCODE__LIST_COMMANDS__INIT;

	SETREQ(cm, list_commands, LIST_COMMANDS, &r);
	return call(&cm, T_REPLY);
}

static Opencode__ServerMessage *
req_list_providers(int all)
{
	Opencode__ClientMessage cm = OPENCODE__CLIENT_MESSAGE__INIT;
	Opencode__ListProviders r = OPENCODE__LIST_PROVIDERS__INIT;

	r.include_all = all;
	SETREQ(cm, list_providers, LIST_PROVIDERS, &r);
	return call(&cm, T_PROVIDER);
}

/* ReplyQuestion with one answer, the one label. */
static Opencode__ServerMessage *
req_reply_question(const char *qid, const char *label)
{
	Opencode__ClientMessage cm = OPENCODE__CLIENT_MESSAGE__INIT;
	Opencode__ReplyQuestion r = OPENCODE__REPLY_QUESTION__INIT;
	Opencode__QuestionAnswer a = OPENCODE__QUESTION_ANSWER__INIT;
	Opencode__QuestionAnswer *ap[1];
	char *labels[1];

	labels[0] = (char *)label;
	a.labels = labels;
	a.n_labels = 1;
	ap[0] = &a;
	r.question_id = (char *)qid;
	r.answers = ap;
	r.n_answers = 1;
	SETREQ(cm, reply_question, REPLY_QUESTION, &r);
	return call(&cm, T_REPLY);
}

static Opencode__ServerMessage *
req_reject_question(const char *qid)
{
	Opencode__ClientMessage cm = OPENCODE__CLIENT_MESSAGE__INIT;
	Opencode__RejectQuestion r = OPENCODE__REJECT_QUESTION__INIT;

	r.question_id = (char *)qid;
	SETREQ(cm, reject_question, REJECT_QUESTION, &r);
	return call(&cm, T_REPLY);
}

static Opencode__ServerMessage *
req_list_pending(void)
{
	Opencode__ClientMessage cm = OPENCODE__CLIENT_MESSAGE__INIT;
	Opencode__ListPending r = OPENCODE__LIST_PENDING__INIT;

	SETREQ(cm, list_pending, LIST_PENDING, &r);
	return call(&cm, T_REPLY);
}

static Opencode__ServerMessage *
req_get_todos(const char *sid)
{
	Opencode__ClientMessage cm = OPENCODE__CLIENT_MESSAGE__INIT;
	Opencode__GetTodos r = OPENCODE__GET_TODOS__INIT;

	r.session_id = (char *)sid;
	SETREQ(cm, get_todos, GET_TODOS, &r);
	return call(&cm, T_REPLY);
}

static Opencode__ServerMessage *
req_get_diff(const char *sid, const char *mid)
{
	Opencode__ClientMessage cm = OPENCODE__CLIENT_MESSAGE__INIT;
	Opencode__GetDiff r = OPENCODE__GET_DIFF__INIT;

	r.session_id = (char *)sid;
	if (mid != NULL) {
		r._message_id_case = OPENCODE__GET_DIFF___MESSAGE_ID_MESSAGE_ID;
		r.message_id = (char *)mid;
	}
	SETREQ(cm, get_diff, GET_DIFF, &r);
	return call(&cm, T_REPLY);
}

static Opencode__ServerMessage *
req_summarize(const char *sid)
{
	Opencode__ClientMessage cm = OPENCODE__CLIENT_MESSAGE__INIT;
	Opencode__SummarizeSession r = OPENCODE__SUMMARIZE_SESSION__INIT;

	r.session_id = (char *)sid;
	r.provider_id = "mock";
	r.model_id = "mock-1";
	SETREQ(cm, summarize_session, SUMMARIZE_SESSION, &r);
	return call(&cm, T_CHAT);
}

static void
fill_run_command(Opencode__RunCommand *r, const char *sid, const char *cmd,
    const char *args)
{
	r->session_id = (char *)sid;
	r->command = (char *)cmd;
	r->arguments = (char *)args;
}

static Opencode__ServerMessage *
req_run_command(const char *sid, const char *cmd, const char *args)
{
	Opencode__ClientMessage cm = OPENCODE__CLIENT_MESSAGE__INIT;
	Opencode__RunCommand r = OPENCODE__RUN_COMMAND__INIT;

	fill_run_command(&r, sid, cmd, args);
	SETREQ(cm, run_command, RUN_COMMAND, &r);
	return call(&cm, T_CHAT);
}

static Opencode__ServerMessage *
req_cancel(const char *sid)
{
	Opencode__ClientMessage cm = OPENCODE__CLIENT_MESSAGE__INIT;
	Opencode__CancelRequest r = OPENCODE__CANCEL_REQUEST__INIT;

	r.session_id = (char *)sid;
	SETREQ(cm, cancel_request, CANCEL_REQUEST, &r);
	return call(&cm, T_REPLY);
}

static void
expect_err_free(Opencode__ServerMessage *m, const char *code,
    const char *what)
{
	if (m->payload_case != OPENCODE__SERVER_MESSAGE__PAYLOAD_ERROR ||
	    strcmp(m->error->code, code) != 0)
		fail_msg("%s: expected error %s, got %s", what, code,
		    describe(m));
	wsc_msg_free(m);
}

/* ---- protocol v2: events ---- */

/* The first event of case c for sid at or after from; NULL if none. */
static const Opencode__ServerMessage *
find_ev(const struct evlog *l, size_t from,
    Opencode__ServerMessage__PayloadCase c, const char *sid, size_t *at)
{
	const char *s;
	size_t i;

	for (i = from; i < l->n; i++) {
		if (l->m[i]->payload_case != c)
			continue;
		if (sid != NULL && ((s = ocb_event_session(l->m[i])) == NULL ||
		    strcmp(s, sid) != 0))
			continue;
		if (at != NULL)
			*at = i;
		return l->m[i];
	}
	return NULL;
}

static size_t
count_ev(const struct evlog *l, Opencode__ServerMessage__PayloadCase c,
    const char *sid)
{
	size_t i = 0, n = 0;

	while (find_ev(l, i, c, sid, &i) != NULL) {
		n++;
		i++;
	}
	return n;
}

/* The first PartInfo event of sid of this kind. */
static const Opencode__PartInfo *
find_part_ev(const struct evlog *l, const char *sid, const char *kind,
    size_t *at)
{
	size_t i = 0;
	const Opencode__ServerMessage *m;

	while ((m = find_ev(l, i, OPENCODE__SERVER_MESSAGE__PAYLOAD_PART_UPDATED,
	    sid, &i)) != NULL) {
		if (strcmp(m->part_updated->kind, kind) == 0) {
			if (at != NULL)
				*at = i;
			return m->part_updated;
		}
		i++;
	}
	return NULL;
}

/* The last PartInfo of this part id (its final state). */
static const Opencode__PartInfo *
last_part_ev(const struct evlog *l, const char *pid)
{
	size_t i;

	for (i = l->n; i-- > 0; )
		if (l->m[i]->payload_case ==
		    OPENCODE__SERVER_MESSAGE__PAYLOAD_PART_UPDATED &&
		    strcmp(l->m[i]->part_updated->id, pid) == 0)
			return l->m[i]->part_updated;
	return NULL;
}

/* The concatenated ChatToken deltas of sid of one kind. */
static char *
tokens_kind(const struct evlog *l, const char *sid, const char *kind)
{
	size_t i, len = 0, n;
	char *s, *ns;

	if ((s = strdup("")) == NULL)
		fail_msg("out of memory");
	for (i = 0; i < l->n; i++) {
		if (l->m[i]->payload_case !=
		    OPENCODE__SERVER_MESSAGE__PAYLOAD_TOKEN ||
		    strcmp(l->m[i]->token->session_id, sid) != 0 ||
		    strcmp(l->m[i]->token->kind, kind) != 0)
			continue;
		n = strlen(l->m[i]->token->delta);
		if ((ns = realloc(s, len + n + 1)) == NULL)
			fail_msg("out of memory");
		s = ns;
		memcpy(s + len, l->m[i]->token->delta, n + 1);
		len += n;
	}
	return s;
}

/* The id of the first user message of sid in MessageInfo events. */
static char *
user_message_ev(const struct evlog *l, const char *sid)
{
	size_t i = 0;
	const Opencode__ServerMessage *m;
	char *s;

	while ((m = find_ev(l, i,
	    OPENCODE__SERVER_MESSAGE__PAYLOAD_MESSAGE_UPDATED, sid, &i)) !=
	    NULL) {
		if (strcmp(m->message_updated->role, "user") == 0) {
			if ((s = strdup(m->message_updated->id)) == NULL)
				fail_msg("out of memory");
			return s;
		}
		i++;
	}
	return NULL;
}

static int
done_question(const struct evlog *l, const char *sid)
{
	return find_ev(l, 0, OPENCODE__SERVER_MESSAGE__PAYLOAD_QUESTION_REQUEST,
	    sid, NULL) != NULL;
}

static int
done_first_tool(const struct evlog *l, const char *sid)
{
	return find_ev(l, 0, OPENCODE__SERVER_MESSAGE__PAYLOAD_TOOL_CALL,
	    sid, NULL) != NULL;
}

/* A QuestionResolved, and an idle after it. */
static int
done_resolved_idle(const struct evlog *l, const char *sid)
{
	size_t at;

	return find_ev(l, 0, OPENCODE__SERVER_MESSAGE__PAYLOAD_QUESTION_RESOLVED,
	    sid, &at) != NULL &&
	    find_session_event(l, at + 1, sid, "idle", NULL) != NULL;
}

/* A compaction part, and an idle after it. */
static int
done_compaction(const struct evlog *l, const char *sid)
{
	size_t at;

	return find_part_ev(l, sid, "compaction", &at) != NULL &&
	    find_session_event(l, at + 1, sid, "idle", NULL) != NULL;
}

static struct evlog *
evlog_new(void)
{
	struct evlog *l;

	if ((l = calloc(1, sizeof(*l))) == NULL)
		fail_msg("out of memory");
	return l;
}

static void
evlog_del(struct evlog *l)
{
	evlog_free(l);
	free(l);
}

/* One chat turn in a fresh subscribed session; returns the session. */
static char *
v2_turn(const char *text, struct evlog *l)
{
	char *sid;

	sid = chat_session();
	send_message(sid, text, 0);
	if (collect(l, sid, done_turn, chat_timeout()) == -1)
		fail_msg("the %s chat did not finish", text);
	return sid;
}

/* ---- protocol v2: comparing with plain HTTP ---- */

static void
http_get_doc(const char *path, struct http_resp *r, struct jdoc *d)
{
	http_get_json(path, r);
	jparse(d, r->body, r->len);
}

static void
http_done(struct http_resp *r, struct jdoc *d)
{
	jfree(d);
	http_free(r);
}

/* Fails unless the string at token i equals s (skipped when escaped). */
static void
jexpect(const struct jdoc *d, int i, const char *s, const char *what)
{
	char *v = jdup(d, i);

	if (v == NULL && (s == NULL || *s == '\0'))
		return;
	if (v == NULL)
		fail_msg("%s: missing upstream, \"%s\" over WebSocket", what,
		    s);
	if (strchr(v, '\\') == NULL && strcmp(v, s != NULL ? s : "") != 0)
		fail_msg("%s: \"%s\" over WebSocket, \"%s\" upstream", what,
		    s, v);
	free(v);
}

static int
jtrue(const struct jdoc *d, int i)
{
	return i >= 0 && d->t[i].type == JSMN_PRIMITIVE &&
	    d->js[d->t[i].start] == 't';
}

/* A SessionInfo against GET /session/{id}. */
static void
check_session_http(const Opencode__SessionInfo *si)
{
	struct http_resp r;
	struct jdoc d;
	char path[128];
	int t;

	snprintf(path, sizeof(path), "/session/%s", si->id);
	http_get_doc(path, &r, &d);
	jexpect(&d, jget(&d, 0, "id"), si->id, "session id");
	jexpect(&d, jget(&d, 0, "title"), si->_title_case ==
	    OPENCODE__SESSION_INFO___TITLE_TITLE ? si->title : "",
	    "session title");
	t = jget(&d, 0, "time");
	assert_int_equal(si->created_at, jll(&d, jget(&d, t, "created")));
	http_done(&r, &d);
}

/* A MessageInfo against the upstream info object at i. */
static void
check_message_info_http(const struct jdoc *d, int i,
    const Opencode__MessageInfo *mi)
{
	int t = jget(d, i, "time"), tk = jget(d, i, "tokens");
	int model = jget(d, i, "model");

	jexpect(d, jget(d, i, "sessionID"), mi->session_id, "sessionID");
	jexpect(d, jget(d, i, "agent"), mi->agent, "agent");
	jexpect(d, jget(d, i, "parentID"), mi->parent_id, "parentID");
	/* The user's model is {providerID, modelID}; the answer's is flat. */
	if (model >= 0) {
		jexpect(d, jget(d, model, "providerID"), mi->provider_id,
		    "model.providerID");
		jexpect(d, jget(d, model, "modelID"), mi->model_id,
		    "model.modelID");
	} else {
		jexpect(d, jget(d, i, "providerID"), mi->provider_id,
		    "providerID");
		jexpect(d, jget(d, i, "modelID"), mi->model_id, "modelID");
	}
	assert_int_equal(mi->created_at, jll(d, jget(d, t, "created")));
	if (jget(d, t, "completed") >= 0)
		assert_int_equal(mi->completed_at,
		    jll(d, jget(d, t, "completed")));
	else
		assert_int_equal(mi->completed_at, 0);
	if (tk >= 0) {
		assert_int_equal(mi->input_tokens, jll(d, jget(d, tk, "input")));
		assert_int_equal(mi->output_tokens,
		    jll(d, jget(d, tk, "output")));
		assert_int_equal(mi->reasoning_tokens,
		    jll(d, jget(d, tk, "reasoning")));
	}
}

/* A tool PartInfo against the upstream part at i. */
static void
check_tool_part_http(const struct jdoc *d, int i, const Opencode__PartInfo *pi)
{
	int st = jget(d, i, "state");

	if (pi->tool == NULL)
		fail_msg("tool part %s without tool", pi->id);
	jexpect(d, jget(d, i, "tool"), pi->tool->tool, "tool name");
	jexpect(d, jget(d, i, "callID"), pi->tool->call_id, "tool callID");
	jexpect(d, jget(d, st, "status"), pi->tool->status, "tool status");
	jexpect(d, jget(d, st, "output"), pi->tool->output, "tool output");
	jexpect(d, jget(d, st, "error"), pi->tool->error, "tool error");
}

/* A MessageList against GET path (an array of {info, parts}). */
static void
check_messages_http(const Opencode__MessageList *ml, const char *path)
{
	struct http_resp r;
	struct jdoc d;
	int msgs[512], parts[256], nm, np, i, j, info, ty;
	const Opencode__MessageWithParts *mw;
	const Opencode__PartInfo *pi;
	char what[128];

	http_get_doc(path, &r, &d);
	nm = jitems(&d, 0, msgs, 512);
	if (nm < 0 || (size_t)nm != ml->n_messages)
		fail_msg("%s: %d messages upstream, %zu over WebSocket", path,
		    nm, ml->n_messages);
	for (i = 0; i < nm; i++) {
		mw = ml->messages[i];
		info = jget(&d, msgs[i], "info");
		jexpect(&d, jget(&d, info, "id"), mw->info->id, "message id");
		jexpect(&d, jget(&d, info, "role"), mw->info->role, "role");
		jexpect(&d, jget(&d, info, "finish"), mw->info->finish,
		    "finish");
		check_message_info_http(&d, info, mw->info);
		np = jitems(&d, jget(&d, msgs[i], "parts"), parts, 256);
		if (np < 0 || (size_t)np != mw->n_parts)
			fail_msg("%s: message %s: %d parts upstream, %zu over "
			    "WebSocket", path, mw->info->id, np, mw->n_parts);
		for (j = 0; j < np; j++) {
			pi = mw->parts[j];
			snprintf(what, sizeof(what), "part %s", pi->id);
			jexpect(&d, jget(&d, parts[j], "id"), pi->id, what);
			ty = jget(&d, parts[j], "type");
			jexpect(&d, ty, pi->kind, what);
			if (jeq(&d, ty, "text") || jeq(&d, ty, "reasoning"))
				jexpect(&d, jget(&d, parts[j], "text"),
				    pi->text, what);
			if (jeq(&d, ty, "tool"))
				check_tool_part_http(&d, parts[j], pi);
			assert_int_equal(pi->synthetic,
			    jtrue(&d, jget(&d, parts[j], "synthetic")));
			assert_string_equal(pi->message_id, mw->info->id);
		}
	}
	http_done(&r, &d);
}

/* A TodoList against GET /session/{id}/todo. */
static void
check_todos_http(const Opencode__TodoList *tl, const char *sid)
{
	struct http_resp r;
	struct jdoc d;
	int items[64], n, i;
	char path[128];

	snprintf(path, sizeof(path), "/session/%s/todo", sid);
	http_get_doc(path, &r, &d);
	n = jitems(&d, 0, items, 64);
	if (n < 0 || (size_t)n != tl->n_todos)
		fail_msg("%s: %d todos upstream, %zu over WebSocket", path, n,
		    tl->n_todos);
	for (i = 0; i < n; i++) {
		jexpect(&d, jget(&d, items[i], "content"),
		    tl->todos[i]->content, "todo content");
		jexpect(&d, jget(&d, items[i], "status"), tl->todos[i]->status,
		    "todo status");
		jexpect(&d, jget(&d, items[i], "priority"),
		    tl->todos[i]->priority, "todo priority");
	}
	http_done(&r, &d);
}

/* A DiffList against GET path (an array of FileDiff). */
static void
check_diff_http(const Opencode__DiffList *dl, const char *path)
{
	struct http_resp r;
	struct jdoc d;
	int items[64], n, i;

	http_get_doc(path, &r, &d);
	n = jitems(&d, 0, items, 64);
	if (n < 0 || (size_t)n != dl->n_files)
		fail_msg("%s: %d files upstream, %zu over WebSocket", path, n,
		    dl->n_files);
	for (i = 0; i < n; i++) {
		jexpect(&d, jget(&d, items[i], "file"), dl->files[i]->path,
		    "diff path");
		jexpect(&d, jget(&d, items[i], "status"), dl->files[i]->status,
		    "diff status");
		jexpect(&d, jget(&d, items[i], "patch"), dl->files[i]->patch,
		    "diff patch");
		assert_int_equal(dl->files[i]->additions,
		    jll(&d, jget(&d, items[i], "additions")));
		assert_int_equal(dl->files[i]->deletions,
		    jll(&d, jget(&d, items[i], "deletions")));
	}
	http_done(&r, &d);
}

/* A SessionStatusList against GET /session/status. */
static void
check_status_http(const Opencode__SessionStatusList *sl)
{
	struct http_resp r;
	struct jdoc d;
	size_t i;
	int v;

	http_get_doc("/session/status", &r, &d);
	if (d.t[0].type != JSMN_OBJECT || (size_t)d.t[0].size != sl->n_statuses)
		fail_msg("GET /session/status: %d sessions, %zu over "
		    "WebSocket", d.t[0].size, sl->n_statuses);
	for (i = 0; i < sl->n_statuses; i++) {
		if ((v = jget(&d, 0, sl->statuses[i]->session_id)) < 0)
			fail_msg("GET /session/status has no %s",
			    sl->statuses[i]->session_id);
		jexpect(&d, jget(&d, v, "type"), sl->statuses[i]->status,
		    "status");
	}
	http_done(&r, &d);
}

static const char *
status_of(const Opencode__SessionStatusList *sl, const char *sid)
{
	size_t i;

	for (i = 0; i < sl->n_statuses; i++)
		if (strcmp(sl->statuses[i]->session_id, sid) == 0)
			return sl->statuses[i]->status;
	return NULL;
}

/* A QuestionRequest as the mock asks it, and as GET /question lists it. */
static void
check_question(const Opencode__QuestionRequest *q, const char *sid)
{
	static const char *labels[] = { "Blue", "Green", "Red" };
	struct http_resp r;
	struct jdoc d;
	int items[64], n, i, found = 0;
	size_t k;

	if (strncmp(q->id, "que_", 4) != 0)
		fail_msg("question id %s", q->id);
	assert_string_equal(q->session_id, sid);
	assert_int_equal(q->n_questions, 1);
	assert_string_equal(q->questions[0]->question, QUESTION_TEXT);
	assert_string_equal(q->questions[0]->header, "Colour");
	assert_int_equal(q->questions[0]->n_options, 3);
	for (k = 0; k < 3; k++)
		assert_string_equal(q->questions[0]->options[k]->label,
		    labels[k]);
	assert_true(*q->message_id != '\0' && *q->call_id != '\0');

	http_get_doc("/question", &r, &d);
	n = jitems(&d, 0, items, 64);
	for (i = 0; i < n; i++) {
		if (!jeq(&d, jget(&d, items[i], "id"), q->id))
			continue;
		found = 1;
		jexpect(&d, jget(&d, items[i], "sessionID"), q->session_id,
		    "question session");
		jexpect(&d, jget(&d, jget(&d, items[i], "tool"), "callID"),
		    q->call_id, "question callID");
		jexpect(&d, jget(&d, jget(&d, items[i], "tool"), "messageID"),
		    q->message_id, "question messageID");
	}
	if (!found)
		fail_msg("GET /question does not list %s", q->id);
	http_done(&r, &d);
}

/* PendingList against GET /permission and GET /question: the same ids. */
static void
check_pending_http(const Opencode__PendingList *pl)
{
	struct http_resp r;
	struct jdoc d;
	int items[64], n;
	size_t i;

	http_get_doc("/permission", &r, &d);
	n = jitems(&d, 0, items, 64);
	if (n < 0 || (size_t)n != pl->n_permissions)
		fail_msg("GET /permission: %d, ListPending: %zu", n,
		    pl->n_permissions);
	for (i = 0; i < pl->n_permissions; i++)
		jexpect(&d, jget(&d, items[i], "id"),
		    pl->permissions[i]->permission_id, "permission id");
	http_done(&r, &d);
	http_get_doc("/question", &r, &d);
	n = jitems(&d, 0, items, 64);
	if (n < 0 || (size_t)n != pl->n_questions)
		fail_msg("GET /question: %d, ListPending: %zu", n,
		    pl->n_questions);
	for (i = 0; i < pl->n_questions; i++)
		jexpect(&d, jget(&d, items[i], "id"), pl->questions[i]->id,
		    "question id");
	http_done(&r, &d);
}

/* ---- protocol v2: a transcript model (the rebuild rule) ---- */

#define TR_MSGS		128
#define TR_PARTS	1024
#define TR_TODOS	32

struct tr_part {
	char	*id, *msg, *kind, *text, *tool, *status, *output;
};

struct tr_msg {
	char	*id, *role, *finish;
	int	 completed;
};

struct transcript {
	const char	*sid;
	struct tr_msg	 m[TR_MSGS];
	size_t		 nm;
	struct tr_part	 p[TR_PARTS];
	size_t		 np;
	char		*todo[TR_TODOS];	/* "content|status|priority" */
	size_t		 ntodo;
};

static void
tr_set(char **dst, const char *src)
{
	free(*dst);
	*dst = NULL;
	if (src != NULL && (*dst = strdup(src)) == NULL)
		fail_msg("out of memory");
}

static void
tr_part_free(struct tr_part *p)
{
	free(p->id);
	free(p->msg);
	free(p->kind);
	free(p->text);
	free(p->tool);
	free(p->status);
	free(p->output);
	memset(p, 0, sizeof(*p));
}

static void
tr_free(struct transcript *t)
{
	size_t i;

	for (i = 0; i < t->nm; i++) {
		free(t->m[i].id);
		free(t->m[i].role);
		free(t->m[i].finish);
	}
	for (i = 0; i < t->np; i++)
		tr_part_free(&t->p[i]);
	for (i = 0; i < t->ntodo; i++)
		free(t->todo[i]);
	memset(t, 0, sizeof(*t));
}

static struct tr_msg *
tr_msg(struct transcript *t, const char *id)
{
	size_t i;

	for (i = 0; i < t->nm; i++)
		if (strcmp(t->m[i].id, id) == 0)
			return &t->m[i];
	if (t->nm == TR_MSGS)
		fail_msg("transcript: too many messages");
	memset(&t->m[t->nm], 0, sizeof(t->m[0]));
	tr_set(&t->m[t->nm].id, id);
	return &t->m[t->nm++];
}

static struct tr_part *
tr_part(struct transcript *t, const char *id, const char *msg)
{
	size_t i;

	for (i = 0; i < t->np; i++)
		if (strcmp(t->p[i].id, id) == 0)
			return &t->p[i];
	if (t->np == TR_PARTS)
		fail_msg("transcript: too many parts");
	memset(&t->p[t->np], 0, sizeof(t->p[0]));
	tr_set(&t->p[t->np].id, id);
	tr_set(&t->p[t->np].msg, msg);
	return &t->p[t->np++];
}

static void
tr_message_info(struct transcript *t, const Opencode__MessageInfo *mi)
{
	struct tr_msg *m = tr_msg(t, mi->id);

	tr_set(&m->role, mi->role);
	tr_set(&m->finish, mi->finish);
	m->completed = mi->completed_at != 0;
}

/* A tool state; pid is the part id (a PartInfo's tool may lack its own). */
static void
tr_tool(struct transcript *t, const Opencode__ToolCallEvent *tc,
    const char *pid)
{
	struct tr_part *p;

	if (*pid == '\0')
		fail_msg("ToolCallEvent %s without part_id", tc->call_id);
	p = tr_part(t, pid, tc->message_id);
	tr_set(&p->kind, "tool");
	tr_set(&p->tool, tc->tool);
	tr_set(&p->status, tc->status);
	tr_set(&p->output, tc->output);
}

static void
tr_part_info(struct transcript *t, const Opencode__PartInfo *pi)
{
	struct tr_part *p = tr_part(t, pi->id, pi->message_id);

	tr_set(&p->kind, pi->kind);
	tr_set(&p->text, pi->text);
	if (pi->tool != NULL)
		tr_tool(t, pi->tool, pi->id);
}

static void
tr_token(struct transcript *t, const Opencode__ChatToken *tk)
{
	struct tr_part *p = tr_part(t, tk->part_id, tk->message_id);
	size_t a, b;
	char *s;

	if (p->kind == NULL)
		tr_set(&p->kind, *tk->kind != '\0' ? tk->kind : "text");
	a = p->text != NULL ? strlen(p->text) : 0;
	b = strlen(tk->delta);
	if ((s = realloc(p->text, a + b + 1)) == NULL)
		fail_msg("out of memory");
	memcpy(s + a, tk->delta, b + 1);
	p->text = s;
}

static void
tr_todos(struct transcript *t, const Opencode__TodoList *tl)
{
	char buf[1024];
	size_t i;

	while (t->ntodo > 0)
		free(t->todo[--t->ntodo]);
	for (i = 0; i < tl->n_todos && i < TR_TODOS; i++) {
		snprintf(buf, sizeof(buf), "%s|%s|%s", tl->todos[i]->content,
		    tl->todos[i]->status, tl->todos[i]->priority);
		t->todo[t->ntodo] = NULL;
		tr_set(&t->todo[t->ntodo++], buf);
	}
}

static void
tr_remove_part(struct transcript *t, size_t i)
{
	tr_part_free(&t->p[i]);
	t->p[i] = t->p[--t->np];
}

static void
tr_remove_message(struct transcript *t, const char *id)
{
	size_t i;

	for (i = t->np; i-- > 0; )
		if (strcmp(t->p[i].msg, id) == 0)
			tr_remove_part(t, i);
	for (i = 0; i < t->nm; i++)
		if (strcmp(t->m[i].id, id) == 0) {
			free(t->m[i].id);
			free(t->m[i].role);
			free(t->m[i].finish);
			t->m[i] = t->m[--t->nm];
			return;
		}
}

/* Applies one event of the transcript's session (others are ignored). */
static void
tr_apply(struct transcript *t, const Opencode__ServerMessage *m)
{
	const char *s = ocb_event_session(m);
	size_t i;

	if (s == NULL || strcmp(s, t->sid) != 0)
		return;
	switch (m->payload_case) {
	case OPENCODE__SERVER_MESSAGE__PAYLOAD_MESSAGE_UPDATED:
		tr_message_info(t, m->message_updated);
		break;
	case OPENCODE__SERVER_MESSAGE__PAYLOAD_PART_UPDATED:
		tr_part_info(t, m->part_updated);
		break;
	case OPENCODE__SERVER_MESSAGE__PAYLOAD_TOKEN:
		tr_token(t, m->token);
		break;
	case OPENCODE__SERVER_MESSAGE__PAYLOAD_TOOL_CALL:
		tr_tool(t, m->tool_call, m->tool_call->part_id);
		break;
	case OPENCODE__SERVER_MESSAGE__PAYLOAD_TODO_UPDATED:
		tr_todos(t, m->todo_updated);
		break;
	case OPENCODE__SERVER_MESSAGE__PAYLOAD_MESSAGE_REMOVED:
		tr_remove_message(t, m->message_removed->message_id);
		break;
	case OPENCODE__SERVER_MESSAGE__PAYLOAD_PART_REMOVED:
		for (i = 0; i < t->np; i++)
			if (strcmp(t->p[i].id, m->part_removed->part_id) == 0) {
				tr_remove_part(t, i);
				break;
			}
		break;
	default:
		break;
	}
}

static void
tr_apply_log(struct transcript *t, const struct evlog *l, size_t from)
{
	size_t i;

	for (i = from; i < l->n; i++)
		tr_apply(t, l->m[i]);
}

static void
tr_apply_list(struct transcript *t, const Opencode__MessageList *ml)
{
	size_t i, j;

	for (i = 0; i < ml->n_messages; i++) {
		tr_message_info(t, ml->messages[i]->info);
		for (j = 0; j < ml->messages[i]->n_parts; j++)
			tr_part_info(t, ml->messages[i]->parts[j]);
	}
}

static int
cmp_msg(const void *a, const void *b)
{
	return strcmp(((const struct tr_msg *)a)->id,
	    ((const struct tr_msg *)b)->id);
}

static int
cmp_part(const void *a, const void *b)
{
	return strcmp(((const struct tr_part *)a)->id,
	    ((const struct tr_part *)b)->id);
}

static int
str_eq(const char *a, const char *b)
{
	return strcmp(a != NULL ? a : "", b != NULL ? b : "") == 0;
}

static void
tr_print(const struct transcript *t, const char *name)
{
	size_t i;

	fprintf(stderr, "transcript %s: %zu messages, %zu parts, %zu todos\n",
	    name, t->nm, t->np, t->ntodo);
	for (i = 0; i < t->nm; i++)
		fprintf(stderr, "  msg %s %s finish=%s completed=%d\n",
		    t->m[i].id, t->m[i].role, t->m[i].finish,
		    t->m[i].completed);
	for (i = 0; i < t->np; i++)
		fprintf(stderr, "  part %s %s %s tool=%s status=%s "
		    "text=\"%.60s\"\n", t->p[i].id, t->p[i].msg, t->p[i].kind,
		    t->p[i].tool, t->p[i].status, t->p[i].text);
	for (i = 0; i < t->ntodo; i++)
		fprintf(stderr, "  todo %s\n", t->todo[i]);
}

/* 0 when equal, else -1 with the first difference in why. */
static int
tr_diff(struct transcript *a, struct transcript *b, char *why, size_t whysz)
{
	struct tr_part *p, *q;
	size_t i;

	qsort(a->m, a->nm, sizeof(a->m[0]), cmp_msg);
	qsort(b->m, b->nm, sizeof(b->m[0]), cmp_msg);
	qsort(a->p, a->np, sizeof(a->p[0]), cmp_part);
	qsort(b->p, b->np, sizeof(b->p[0]), cmp_part);
	if (a->nm != b->nm) {
		snprintf(why, whysz, "%zu messages against %zu", a->nm, b->nm);
		return -1;
	}
	for (i = 0; i < a->nm; i++)
		if (strcmp(a->m[i].id, b->m[i].id) != 0 ||
		    !str_eq(a->m[i].role, b->m[i].role) ||
		    !str_eq(a->m[i].finish, b->m[i].finish) ||
		    a->m[i].completed != b->m[i].completed) {
			snprintf(why, whysz, "message %s/%s differs",
			    a->m[i].id, b->m[i].id);
			return -1;
		}
	if (a->np != b->np) {
		snprintf(why, whysz, "%zu parts against %zu", a->np, b->np);
		return -1;
	}
	for (i = 0; i < a->np; i++) {
		p = &a->p[i];
		q = &b->p[i];
		if (strcmp(p->id, q->id) != 0 || !str_eq(p->msg, q->msg) ||
		    !str_eq(p->kind, q->kind) || !str_eq(p->text, q->text) ||
		    !str_eq(p->tool, q->tool) ||
		    !str_eq(p->status, q->status) ||
		    !str_eq(p->output, q->output)) {
			snprintf(why, whysz, "part %s (%s) differs: text "
			    "\"%.40s\"/\"%.40s\" status %s/%s", p->id, p->kind,
			    p->text, q->text, p->status, q->status);
			return -1;
		}
	}
	if (a->ntodo != b->ntodo) {
		snprintf(why, whysz, "%zu todos against %zu", a->ntodo,
		    b->ntodo);
		return -1;
	}
	for (i = 0; i < a->ntodo; i++)
		if (strcmp(a->todo[i], b->todo[i]) != 0) {
			snprintf(why, whysz, "todo %s against %s", a->todo[i],
			    b->todo[i]);
			return -1;
		}
	return 0;
}

/*
 * A request on another connection w: events that come before the reply are
 * kept in l (they are part of what a rebuilding client sees).
 */
static Opencode__ServerMessage *
call_on(struct wsc *w, Opencode__ClientMessage *cm, struct evlog *l,
    int timeout_ms)
{
	int64_t deadline = it_now_ms() + timeout_ms;
	Opencode__ServerMessage *m;
	struct wsc_frame f;

	cm->request_id = ++E.next_id;
	if (wsc_send_msg(w, cm, T_IO) == -1)
		fail_msg("send of request %llu failed",
		    (unsigned long long)cm->request_id);
	for (;;) {
		m = wsc_recv_msg(w, &f, left(deadline));
		if (m == NULL) {
			if (f.kind == WSC_PING || f.kind == WSC_PONG) {
				wsc_frame_free(&f);
				continue;
			}
			wsc_frame_free(&f);
			fail_msg("no reply to request %llu on the second "
			    "connection", (unsigned long long)cm->request_id);
		}
		if (m->request_id == cm->request_id)
			return m;
		if (m->request_id != 0 || m->payload_case < 200 ||
		    l->n == MAX_EVENTS)
			fail_msg("unexpected %s on the second connection",
			    describe(m));
		l->m[l->n++] = m;
	}
}

/* ---- protocol v2: tests ---- */

/* The message list of sid (the reply; free it). */
static Opencode__ServerMessage *
list_of(const char *sid)
{
	Opencode__ServerMessage *m = req_list_messages(sid, 0, NULL);

	expect_case(m, OPENCODE__SERVER_MESSAGE__PAYLOAD_MESSAGE_LIST);
	return m;
}

static void
test_v2_session(void **state)
{
	Opencode__ServerMessage *m;
	struct http_resp r;
	struct jdoc d;
	char *sid, path[128];

	(void)state;
	sid = create_session("e2e v2 session");
	m = req_get_session(sid);
	expect_case(m, OPENCODE__SERVER_MESSAGE__PAYLOAD_SESSION_INFO);
	assert_string_equal(m->session_info->id, sid);
	check_session_http(m->session_info);
	wsc_msg_free(m);

	m = req_update_session(sid, "e2e v2 renamed");
	expect_case(m, OPENCODE__SERVER_MESSAGE__PAYLOAD_SESSION_INFO);
	assert_int_equal(m->session_info->_title_case,
	    OPENCODE__SESSION_INFO___TITLE_TITLE);
	assert_string_equal(m->session_info->title, "e2e v2 renamed");
	wsc_msg_free(m);
	snprintf(path, sizeof(path), "/session/%s", sid);
	http_get_doc(path, &r, &d);
	jexpect(&d, jget(&d, 0, "title"), "e2e v2 renamed", "PATCHed title");
	http_done(&r, &d);

	expect_err_free(req_get_session(NO_SESSION), "NOT_FOUND",
	    "GetSession unknown");
	expect_err_free(req_get_session("../x"), "INVALID_REQUEST",
	    "GetSession ../x");
	expect_err_free(req_update_session(NO_SESSION, "x"), "NOT_FOUND",
	    "UpdateSession unknown");

	/* Nothing runs: the same (empty) status list as the server's. */
	m = req_status_list();
	expect_case(m, OPENCODE__SERVER_MESSAGE__PAYLOAD_SESSION_STATUS_LIST);
	check_status_http(m->session_status_list);
	wsc_msg_free(m);

	expect_empty(req_delete_session(sid), "DeleteSession");
	free(sid);
}

static void
test_v2_reasoning(void **state)
{
	struct transcript ev, snap;
	const Opencode__PartInfo *pi;
	Opencode__ServerMessage *m;
	struct evlog *l = evlog_new();
	char *s, why[256];

	(void)state;
	V2.think = v2_turn("think", l);
	s = tokens_kind(l, V2.think, "reasoning");
	if (strcmp(s, THINK_REASONING) != 0) {
		evlog_print(l, "think chat");
		fail_msg("reasoning tokens \"%s\"", s);
	}
	free(s);
	s = tokens_kind(l, V2.think, "text");
	assert_string_equal(s, THINK_ANSWER);
	free(s);
	if ((pi = find_part_ev(l, V2.think, "reasoning", NULL)) == NULL) {
		evlog_print(l, "think chat");
		fail_msg("no PartInfo of kind reasoning");
	}
	pi = last_part_ev(l, pi->id);
	assert_string_equal(pi->text, THINK_REASONING);
	assert_true(count_ev(l, OPENCODE__SERVER_MESSAGE__PAYLOAD_MESSAGE_UPDATED,
	    V2.think) >= 2);
	assert_int_equal(foreign_events(l, V2.think), 0);

	/* What streamed equals what ListMessages rebuilds. */
	memset(&ev, 0, sizeof(ev));
	memset(&snap, 0, sizeof(snap));
	ev.sid = snap.sid = V2.think;
	tr_apply_log(&ev, l, 0);
	m = req_list_messages(V2.think, 0, NULL);
	expect_case(m, OPENCODE__SERVER_MESSAGE__PAYLOAD_MESSAGE_LIST);
	tr_apply_list(&snap, m->message_list);
	wsc_msg_free(m);
	if (tr_diff(&ev, &snap, why, sizeof(why)) == -1) {
		tr_print(&ev, "streamed");
		tr_print(&snap, "ListMessages");
		fail_msg("streamed and listed differ: %s", why);
	}
	tr_free(&ev);
	tr_free(&snap);
	evlog_del(l);
}

static void
test_v2_list_messages(void **state)
{
	Opencode__ServerMessage *m, *p;
	const Opencode__MessageList *ml;
	struct evlog *l = evlog_new();
	char path[160];

	(void)state;
	assert_non_null(V2.think);
	subscribe(V2.think);
	send_message(V2.think, "text", 0);
	if (collect(l, V2.think, done_turn, T_CHAT) == -1)
		fail_msg("the second turn did not finish");
	evlog_del(l);

	m = req_list_messages(V2.think, 0, NULL);
	expect_case(m, OPENCODE__SERVER_MESSAGE__PAYLOAD_MESSAGE_LIST);
	ml = m->message_list;
	assert_string_equal(ml->session_id, V2.think);
	assert_int_equal(ml->n_messages, 4);
	assert_false(ml->more);
	snprintf(path, sizeof(path), "/session/%s/message", V2.think);
	check_messages_http(ml, path);

	/* The newest two, oldest first, and more. */
	p = req_list_messages(V2.think, 2, NULL);
	expect_case(p, OPENCODE__SERVER_MESSAGE__PAYLOAD_MESSAGE_LIST);
	assert_int_equal(p->message_list->n_messages, 2);
	assert_true(p->message_list->more);
	assert_string_equal(p->message_list->messages[0]->info->id,
	    ml->messages[2]->info->id);
	assert_string_equal(p->message_list->messages[1]->info->id,
	    ml->messages[3]->info->id);
	wsc_msg_free(p);

	/* The page before the oldest of those: the first two, no more. */
	p = req_list_messages(V2.think, 2, ml->messages[2]->info->id);
	expect_case(p, OPENCODE__SERVER_MESSAGE__PAYLOAD_MESSAGE_LIST);
	assert_int_equal(p->message_list->n_messages, 2);
	assert_false(p->message_list->more);
	assert_string_equal(p->message_list->messages[0]->info->id,
	    ml->messages[0]->info->id);
	assert_string_equal(p->message_list->messages[1]->info->id,
	    ml->messages[1]->info->id);
	wsc_msg_free(p);
	wsc_msg_free(m);

	expect_err_free(req_list_messages(NO_SESSION, 0, NULL), "NOT_FOUND",
	    "ListMessages unknown");
	expect_err_free(req_list_messages(V2.think, 0, "x"),
	    "INVALID_REQUEST", "ListMessages before x");
}

static void
test_v2_question(void **state)
{
	const Opencode__ServerMessage *e;
	const Opencode__QuestionRequest *q;
	Opencode__ServerMessage *m;
	struct evlog *l = evlog_new();
	size_t i, found = 0;
	char *sid, *s, *qid;

	(void)state;
	sid = chat_session();
	send_message(sid, "question", 0);
	if (collect(l, sid, done_question, T_CHAT) == -1)
		fail_msg("no QuestionRequest");
	q = find_ev(l, 0, OPENCODE__SERVER_MESSAGE__PAYLOAD_QUESTION_REQUEST,
	    sid, NULL)->question_request;
	check_question(q, sid);
	if ((qid = strdup(q->id)) == NULL)
		fail_msg("out of memory");

	/* A UI that comes back now sees the question and a busy session. */
	m = req_list_pending();
	expect_case(m, OPENCODE__SERVER_MESSAGE__PAYLOAD_PENDING_LIST);
	check_pending_http(m->pending_list);
	for (i = 0; i < m->pending_list->n_questions; i++)
		if (strcmp(m->pending_list->questions[i]->id, qid) == 0) {
			check_question(m->pending_list->questions[i], sid);
			found = 1;
		}
	assert_true(found);
	wsc_msg_free(m);
	m = req_status_list();
	expect_case(m, OPENCODE__SERVER_MESSAGE__PAYLOAD_SESSION_STATUS_LIST);
	check_status_http(m->session_status_list);
	s = (char *)status_of(m->session_status_list, sid);
	if (s == NULL || strcmp(s, "busy") != 0)
		fail_msg("status of %s while asking: %s", sid, s);
	wsc_msg_free(m);

	expect_empty(req_reply_question(qid, "Green"), "ReplyQuestion");
	if (collect(l, sid, done_turn, T_CHAT) == -1)
		fail_msg("the question chat did not finish");
	e = find_ev(l, 0, OPENCODE__SERVER_MESSAGE__PAYLOAD_QUESTION_RESOLVED,
	    sid, NULL);
	if (e == NULL) {
		evlog_print(l, "question chat");
		fail_msg("no QuestionResolved");
	}
	assert_string_equal(e->question_resolved->question_id, qid);
	assert_false(e->question_resolved->rejected);
	(void)check_tool(l, sid, "question", "completed");
	s = tokens_kind(l, sid, "text");
	assert_string_equal(s, "You chose Green.");
	free(s);
	assert_int_equal(foreign_events(l, sid), 0);

	/* Answered: the server's 404; bad ids never leave. */
	expect_err_free(req_reply_question(qid, "Green"), "NOT_FOUND",
	    "ReplyQuestion again");
	expect_err_free(req_reply_question(NO_QUESTION, "Blue"), "NOT_FOUND",
	    "ReplyQuestion unknown");
	expect_err_free(req_reply_question("../question", "Blue"),
	    "INVALID_REQUEST", "ReplyQuestion ../question");
	free(qid);
	free(sid);
	evlog_del(l);
}

static void
test_v2_question_reject(void **state)
{
	const Opencode__ServerMessage *e;
	const Opencode__ToolCallEvent *t;
	struct evlog *l = evlog_new();
	char *sid, *qid;

	(void)state;
	sid = chat_session();
	send_message(sid, "question", 0);
	if (collect(l, sid, done_question, T_CHAT) == -1)
		fail_msg("no QuestionRequest");
	e = find_ev(l, 0, OPENCODE__SERVER_MESSAGE__PAYLOAD_QUESTION_REQUEST,
	    sid, NULL);
	if ((qid = strdup(e->question_request->id)) == NULL)
		fail_msg("out of memory");
	expect_empty(req_reject_question(qid), "RejectQuestion");
	if (collect(l, sid, done_resolved_idle, T_CHAT) == -1)
		fail_msg("the rejected question did not end");
	e = find_ev(l, 0, OPENCODE__SERVER_MESSAGE__PAYLOAD_QUESTION_RESOLVED,
	    sid, NULL);
	assert_string_equal(e->question_resolved->question_id, qid);
	assert_true(e->question_resolved->rejected);
	t = check_tool(l, sid, "question", "error");
	assert_non_null(strstr(t->error, "dismissed"));
	expect_err_free(req_reject_question(qid), "NOT_FOUND",
	    "RejectQuestion again");
	expect_err_free(req_reject_question("que_../x"), "INVALID_REQUEST",
	    "RejectQuestion que_../x");
	free(qid);
	free(sid);
	evlog_del(l);
}

static void
test_v2_todo(void **state)
{
	static const char *status[] = { "completed", "in_progress", "pending" };
	const Opencode__ServerMessage *e;
	Opencode__ServerMessage *m;
	struct evlog *l = evlog_new();
	size_t i;
	char *sid;

	(void)state;
	sid = v2_turn("todo", l);
	e = find_ev(l, 0, OPENCODE__SERVER_MESSAGE__PAYLOAD_TODO_UPDATED, sid,
	    NULL);
	if (e == NULL) {
		evlog_print(l, "todo chat");
		fail_msg("no TodoList event");
	}
	assert_int_equal(e->todo_updated->n_todos, 3);
	for (i = 0; i < 3; i++)
		assert_string_equal(e->todo_updated->todos[i]->status,
		    status[i]);
	check_todos_http(e->todo_updated, sid);
	(void)check_tool(l, sid, "todowrite", "completed");

	m = req_get_todos(sid);
	expect_case(m, OPENCODE__SERVER_MESSAGE__PAYLOAD_TODO_LIST);
	assert_string_equal(m->todo_list->session_id, sid);
	check_todos_http(m->todo_list, sid);
	wsc_msg_free(m);
	expect_err_free(req_get_todos(NO_SESSION), "NOT_FOUND",
	    "GetTodos unknown");
	free(sid);
	evlog_del(l);
}

static void
test_v2_edit_diff(void **state)
{
	const Opencode__PartInfo *pi;
	Opencode__ServerMessage *m;
	struct evlog *l = evlog_new();
	char path[192];
	size_t i, at;
	int found = 0;

	(void)state;
	V2.edit = v2_turn("edit e2e-notes.txt", l);
	(void)check_tool(l, V2.edit, "write", "completed");
	(void)check_tool(l, V2.edit, "edit", "completed");
	for (at = 0; at < l->n; at++) {
		if (l->m[at]->payload_case !=
		    OPENCODE__SERVER_MESSAGE__PAYLOAD_PART_UPDATED)
			continue;
		pi = l->m[at]->part_updated;
		if (strcmp(pi->kind, "patch") != 0)
			continue;
		for (i = 0; i < pi->n_files; i++)
			if (strstr(pi->files[i], "e2e-notes.txt") != NULL)
				found = 1;
	}
	if (!found) {
		evlog_print(l, "edit chat");
		fail_msg("no patch PartInfo naming e2e-notes.txt");
	}
	if (count_ev(l, OPENCODE__SERVER_MESSAGE__PAYLOAD_DIFF_UPDATED,
	    V2.edit) == 0) {
		evlog_print(l, "edit chat");
		fail_msg("no DiffList event (session.diff)");
	}
	V2.edit_user = user_message_ev(l, V2.edit);
	assert_non_null(V2.edit_user);
	m = list_of(V2.edit);
	snprintf(path, sizeof(path), "/session/%s/message", V2.edit);
	check_messages_http(m->message_list, path);
	wsc_msg_free(m);

	m = req_get_diff(V2.edit, NULL);
	expect_case(m, OPENCODE__SERVER_MESSAGE__PAYLOAD_DIFF_LIST);
	snprintf(path, sizeof(path), "/session/%s/diff", V2.edit);
	check_diff_http(m->diff_list, path);
	wsc_msg_free(m);
	m = req_get_diff(V2.edit, V2.edit_user);
	expect_case(m, OPENCODE__SERVER_MESSAGE__PAYLOAD_DIFF_LIST);
	assert_int_equal(m->diff_list->n_files, 2);
	snprintf(path, sizeof(path), "/session/%s/diff?messageID=%s", V2.edit,
	    V2.edit_user);
	check_diff_http(m->diff_list, path);
	wsc_msg_free(m);
	expect_err_free(req_get_diff(V2.edit, "../x"), "INVALID_REQUEST",
	    "GetDiff ../x");
	evlog_del(l);
}

/* A MessageRemoved of mid (pid NULL) or a PartRemoved of mid/pid in l. */
static int
removed(const struct evlog *l, const char *sid, const char *mid,
    const char *pid)
{
	const Opencode__ServerMessage *m;
	size_t i;

	for (i = 0; i < l->n; i++) {
		m = l->m[i];
		if (pid == NULL && m->payload_case ==
		    OPENCODE__SERVER_MESSAGE__PAYLOAD_MESSAGE_REMOVED &&
		    strcmp(m->message_removed->session_id, sid) == 0 &&
		    strcmp(m->message_removed->message_id, mid) == 0)
			return 1;
		if (pid != NULL && m->payload_case ==
		    OPENCODE__SERVER_MESSAGE__PAYLOAD_PART_REMOVED &&
		    strcmp(m->part_removed->session_id, sid) == 0 &&
		    strcmp(m->part_removed->message_id, mid) == 0 &&
		    strcmp(m->part_removed->part_id, pid) == 0)
			return 1;
	}
	return 0;
}

static void
test_v2_revert(void **state)
{
	const Opencode__MessageList *ml;
	const Opencode__MessageWithParts *last;
	Opencode__ServerMessage *m, *before;
	struct http_resp r;
	struct jdoc d;
	struct evlog *l = evlog_new();
	char path[128], *pid = NULL, *mid;
	size_t i;

	(void)state;
	assert_non_null(V2.edit_user);
	subscribe(V2.edit);
	snprintf(path, sizeof(path), "/session/%s", V2.edit);

	m = req_revert(V2.edit, V2.edit_user, NULL);
	expect_case(m, OPENCODE__SERVER_MESSAGE__PAYLOAD_SESSION_INFO);
	assert_string_equal(m->session_info->id, V2.edit);
	wsc_msg_free(m);
	http_get_doc(path, &r, &d);
	jexpect(&d, jget(&d, jget(&d, 0, "revert"), "messageID"),
	    V2.edit_user, "revert.messageID");
	http_done(&r, &d);

	m = req_unrevert(V2.edit);
	expect_case(m, OPENCODE__SERVER_MESSAGE__PAYLOAD_SESSION_INFO);
	wsc_msg_free(m);
	http_get_doc(path, &r, &d);
	assert_int_equal(jget(&d, 0, "revert"), -1);
	http_done(&r, &d);

	/* Revert the whole edit turn, prompt: its messages are removed. */
	before = list_of(V2.edit);
	m = req_revert(V2.edit, V2.edit_user, NULL);
	expect_case(m, OPENCODE__SERVER_MESSAGE__PAYLOAD_SESSION_INFO);
	wsc_msg_free(m);
	send_message(V2.edit, "text", 0);
	if (collect(l, V2.edit, done_turn, T_CHAT) == -1)
		fail_msg("the prompt after the revert did not finish");
	ml = before->message_list;
	for (i = 0; i < ml->n_messages; i++) {
		if (!removed(l, V2.edit, ml->messages[i]->info->id, NULL)) {
			evlog_print(l, "prompt after revert");
			fail_msg("no MessageRemoved for %s",
			    ml->messages[i]->info->id);
		}
	}
	wsc_msg_free(before);
	evlog_free(l);

	/* A part revert: to the last answer's step-finish, then a prompt. */
	m = list_of(V2.edit);
	last = m->message_list->messages[m->message_list->n_messages - 1];
	for (i = 0; i < last->n_parts; i++)
		if (strcmp(last->parts[i]->kind, "step-finish") == 0)
			pid = strdup(last->parts[i]->id);
	if ((mid = strdup(last->info->id)) == NULL || pid == NULL)
		fail_msg("no step-finish in the last message");
	wsc_msg_free(m);
	m = req_revert(V2.edit, mid, pid);
	expect_case(m, OPENCODE__SERVER_MESSAGE__PAYLOAD_SESSION_INFO);
	wsc_msg_free(m);
	send_message(V2.edit, "text", 0);
	if (collect(l, V2.edit, done_turn, T_CHAT) == -1)
		fail_msg("the prompt after the part revert did not finish");
	if (!removed(l, V2.edit, mid, pid)) {
		evlog_print(l, "prompt after part revert");
		fail_msg("no PartRemoved for %s", pid);
	}

	expect_err_free(req_revert(NO_SESSION, NO_MESSAGE, NULL), "NOT_FOUND",
	    "RevertSession unknown");
	expect_err_free(req_revert(V2.edit, "not-a-message", NULL),
	    "INVALID_REQUEST", "RevertSession bad message id");
	expect_err_free(req_unrevert(NO_SESSION), "NOT_FOUND",
	    "UnrevertSession unknown");
	free(pid);
	free(mid);
	evlog_del(l);
}

static void
test_v2_fork(void **state)
{
	Opencode__ServerMessage *m, *src, *f;
	char *fid;

	(void)state;
	assert_non_null(V2.think);
	src = list_of(V2.think);
	assert_true(src->message_list->n_messages >= 3);

	m = req_fork(V2.think, NULL);
	expect_case(m, OPENCODE__SERVER_MESSAGE__PAYLOAD_SESSION_INFO);
	assert_string_not_equal(m->session_info->id, V2.think);
	check_session_http(m->session_info);
	if ((fid = strdup(m->session_info->id)) == NULL)
		fail_msg("out of memory");
	wsc_msg_free(m);
	f = list_of(fid);
	assert_int_equal(f->message_list->n_messages,
	    src->message_list->n_messages);
	wsc_msg_free(f);
	free(fid);

	/* Before the third message: two copied. */
	m = req_fork(V2.think, src->message_list->messages[2]->info->id);
	expect_case(m, OPENCODE__SERVER_MESSAGE__PAYLOAD_SESSION_INFO);
	f = list_of(m->session_info->id);
	assert_int_equal(f->message_list->n_messages, 2);
	wsc_msg_free(f);
	wsc_msg_free(m);
	wsc_msg_free(src);

	expect_err_free(req_fork(NO_SESSION, NULL), "NOT_FOUND",
	    "ForkSession unknown");
	expect_err_free(req_fork(V2.think, "../x"), "INVALID_REQUEST",
	    "ForkSession ../x");
}

static void
test_v2_commands(void **state)
{
	Opencode__ClientMessage cm = OPENCODE__CLIENT_MESSAGE__INIT;
	Opencode__RunCommand rc = OPENCODE__RUN_COMMAND__INIT;
	const Opencode__CommandList *cl;
	Opencode__ServerMessage *m;
	struct http_resp r;
	struct jdoc d;
	struct evlog *l = evlog_new();
	int items[256], n, i, found = 0;
	int64_t t0;
	char *sid, *s;

	(void)state;
	m = req_list_commands();
	expect_case(m, OPENCODE__SERVER_MESSAGE__PAYLOAD_COMMAND_LIST);
	cl = m->command_list;
	http_get_doc("/command", &r, &d);
	n = jitems(&d, 0, items, 256);
	assert_int_equal((size_t)n, cl->n_commands);
	for (i = 0; i < n; i++) {
		jexpect(&d, jget(&d, items[i], "name"), cl->commands[i]->name,
		    "command name");
		jexpect(&d, jget(&d, items[i], "description"),
		    cl->commands[i]->description, "command description");
		jexpect(&d, jget(&d, items[i], "source"),
		    cl->commands[i]->source, "command source");
		assert_int_equal(cl->commands[i]->subtask,
		    jtrue(&d, jget(&d, items[i], "subtask")));
		if (strcmp(cl->commands[i]->name, "ocb-think") == 0)
			found = 1;
	}
	assert_true(found);
	http_done(&r, &d);
	wsc_msg_free(m);

	/* A command runs a turn; the reply comes once it is done. */
	sid = chat_session();
	m = req_run_command(sid, "ocb-think", "it");
	expect_empty(m, "RunCommand");
	if (collect(l, sid, done_turn, T_CHAT) == -1)
		fail_msg("the command's turn did not finish");
	s = tokens_kind(l, sid, "reasoning");
	assert_string_equal(s, THINK_REASONING);
	free(s);
	evlog_free(l);

	/* A long one, ended by CancelRequest: its reply comes soon. */
	fill_run_command(&rc, sid, "ocb-slow", "60");
	SETREQ(cm, run_command, RUN_COMMAND, &rc);
	cm.request_id = ++E.next_id;
	if (wsc_send_msg(&E.ctl, &cm, T_IO) == -1)
		fail_msg("RunCommand: send failed");
	if (collect(l, sid, done_two_ticks, T_CHAT) == -1)
		fail_msg("the slow command did not stream");
	t0 = it_now_ms();
	expect_empty(req_cancel(sid), "CancelRequest");
	if ((m = wsc_recv_reply(&E.ctl, cm.request_id, T_CHAT)) == NULL)
		fail_msg("no reply to the cancelled RunCommand");
	/* Within T_CHAT, half of what the slow command would stream. */
	fprintf(stderr, "cancelled RunCommand: %s after %lld ms\n",
	    describe(m), (long long)(it_now_ms() - t0));
	wsc_msg_free(m);
	if (collect(l, sid, done_turn, T_CHAT) == -1)
		fail_msg("the cancelled command did not end");

	m = req_run_command(sid, "no-such-command", "");
	expect_case(m, OPENCODE__SERVER_MESSAGE__PAYLOAD_ERROR);
	wsc_msg_free(m);
	expect_err_free(req_run_command(NO_SESSION, "ocb-think", "it"),
	    "NOT_FOUND", "RunCommand unknown session");
	free(sid);
	evlog_del(l);
}

static void
test_v2_summarize(void **state)
{
	Opencode__ServerMessage *m;
	struct evlog *l = evlog_new();
	size_t i, j;
	int found = 0;

	(void)state;
	assert_non_null(V2.think);
	subscribe(V2.think);
	expect_empty(req_summarize(V2.think), "SummarizeSession");
	if (collect(l, V2.think, done_compaction, T_CHAT) == -1)
		fail_msg("no compaction part and idle after SummarizeSession");
	m = list_of(V2.think);
	for (i = 0; i < m->message_list->n_messages; i++)
		for (j = 0; j < m->message_list->messages[i]->n_parts; j++)
			if (strcmp(m->message_list->messages[i]->parts[j]->kind,
			    "compaction") == 0)
				found = 1;
	assert_true(found);
	wsc_msg_free(m);
	expect_err_free(req_summarize(NO_SESSION), "NOT_FOUND",
	    "SummarizeSession unknown");
	evlog_del(l);
}

static void
test_v2_providers(void **state)
{
	const Opencode__ProviderInfo *pi, *mock = NULL;
	Opencode__ServerMessage *m;
	struct http_resp r;
	struct jdoc d;
	char *conn[256], *def;
	int nconn, items[1024], nall;
	size_t i;

	(void)state;
	nconn = http_connected(conn, 256);
	m = req_list_providers(0);
	expect_case(m, OPENCODE__SERVER_MESSAGE__PAYLOAD_PROVIDER_LIST);
	assert_int_equal(m->provider_list->n_providers, (size_t)nconn);
	for (i = 0; i < m->provider_list->n_providers; i++) {
		pi = m->provider_list->providers[i];
		assert_true(pi->connected);
		assert_true(has_string(conn, nconn, pi->id));
		if (strcmp(pi->id, "mock") == 0)
			mock = pi;
	}
	if (mock == NULL)
		fail_msg("ListProviders has no mock provider");
	assert_int_equal(mock->n_models, 1);
	assert_string_equal(mock->models[0]->id, "mock-1");
	assert_string_equal(mock->models[0]->name, "Mock 1");
	assert_true(mock->models[0]->toolcall);
	assert_int_equal(mock->models[0]->context_limit, 128000);
	assert_int_equal(mock->models[0]->output_limit, 4096);
	http_get_doc("/provider", &r, &d);
	def = jdup(&d, jget(&d, jget(&d, 0, "default"), "mock"));
	assert_non_null(def);
	assert_string_equal(mock->default_model_id, def);
	free(def);
	nall = jitems(&d, jget(&d, 0, "all"), items, 1024);
	http_done(&r, &d);
	wsc_msg_free(m);

	m = req_list_providers(1);
	expect_case(m, OPENCODE__SERVER_MESSAGE__PAYLOAD_PROVIDER_LIST);
	assert_int_equal(m->provider_list->n_providers, (size_t)nall);
	for (i = 0; i < m->provider_list->n_providers; i++) {
		pi = m->provider_list->providers[i];
		assert_int_equal(pi->connected, has_string(conn, nconn,
		    pi->id));
	}
	wsc_msg_free(m);
	free_strings(conn, nconn);
}

static void
test_v2_file(void **state)
{
	Opencode__ClientMessage cm = OPENCODE__CLIENT_MESSAGE__INIT;
	Opencode__SendMessage sm = OPENCODE__SEND_MESSAGE__INIT;
	Opencode__FileAttachment fa = OPENCODE__FILE_ATTACHMENT__INIT;
	Opencode__FileAttachment *fap[1];
	const Opencode__PartInfo *pi;
	Opencode__ServerMessage *m;
	struct evlog *l = evlog_new();
	char *sid, *s, path[128];

	(void)state;
	sid = chat_session();
	fa.mime = "text/plain";
	fa.filename = "a.txt";
	fa.url = FILE_URL;
	fap[0] = &fa;
	sm.session_id = sid;
	sm.text = "text with a file";
	sm.files = fap;
	sm.n_files = 1;
	SETREQ(cm, send_message, SEND_MESSAGE, &sm);
	expect_empty(call(&cm, T_REPLY), "SendMessage with a file");
	if (collect(l, sid, done_turn, T_CHAT) == -1)
		fail_msg("the chat with a file did not finish");
	s = tokens_kind(l, sid, "text");
	assert_string_equal(s, TEXT_ANSWER);
	free(s);
	if ((pi = find_part_ev(l, sid, "file", NULL)) == NULL ||
	    pi->file == NULL) {
		evlog_print(l, "chat with a file");
		fail_msg("no PartInfo of kind file");
	}
	assert_string_equal(pi->file->filename, "a.txt");
	assert_string_equal(pi->file->mime, "text/plain");
	assert_string_equal(pi->file->url, FILE_URL);

	m = list_of(sid);
	snprintf(path, sizeof(path), "/session/%s/message", sid);
	check_messages_http(m->message_list, path);
	wsc_msg_free(m);
	free(sid);
	evlog_del(l);
}

/*
 * The rebuild rule: client A streams the `full` chat from the start; client
 * B connects after the first tool event, rebuilds from ListSessions,
 * ListSessionStatus, ListMessages, ListPending and GetTodos, then applies
 * the events it gets.  A answers the question and the permission.  At the
 * end both transcripts are equal, and equal to a fresh ListMessages.
 */
static void
test_v2_rebuild(void **state)
{
	Opencode__ClientMessage cm = OPENCODE__CLIENT_MESSAGE__INIT;
	Opencode__ListSessionsRequest ls = OPENCODE__LIST_SESSIONS_REQUEST__INIT;
	Opencode__ListSessionStatus lss = OPENCODE__LIST_SESSION_STATUS__INIT;
	Opencode__ListMessages lm = OPENCODE__LIST_MESSAGES__INIT;
	Opencode__ListPending lp = OPENCODE__LIST_PENDING__INIT;
	Opencode__GetTodos gt = OPENCODE__GET_TODOS__INIT;
	Opencode__ReplyPermission rp = OPENCODE__REPLY_PERMISSION__INIT;
	struct transcript ta, tb, tc;
	const Opencode__ServerMessage *e;
	Opencode__ServerMessage *m;
	struct evlog *la = evlog_new(), *lb = evlog_new();
	struct wsc b;
	char *sid, *qid, *pid, why[256];
	size_t i, found;

	(void)state;
	memset(&ta, 0, sizeof(ta));
	memset(&tb, 0, sizeof(tb));
	memset(&tc, 0, sizeof(tc));
	memset(&b, 0, sizeof(b));
	b.fd = -1;
	sid = chat_session();
	ta.sid = tb.sid = tc.sid = sid;
	send_message(sid, "full", 0);
	if (collect(la, sid, done_first_tool, T_CHAT) == -1)
		fail_msg("no tool event in the full chat");

	/* B comes in halfway and rebuilds. */
	if (open_ws(&b) == -1)
		fail_msg("the second client cannot connect");
	SETREQ(cm, list_sessions, LIST_SESSIONS, &ls);
	m = call_on(&b, &cm, lb, T_REPLY);
	expect_case(m, OPENCODE__SERVER_MESSAGE__PAYLOAD_SESSION_LIST);
	for (i = 0, found = 0; i < m->session_list->n_sessions; i++)
		found += strcmp(m->session_list->sessions[i]->id, sid) == 0;
	assert_int_equal(found, 1);
	wsc_msg_free(m);
	SETREQ(cm, list_session_status, LIST_SESSION_STATUS, &lss);
	m = call_on(&b, &cm, lb, T_REPLY);
	expect_case(m, OPENCODE__SERVER_MESSAGE__PAYLOAD_SESSION_STATUS_LIST);
	assert_non_null(status_of(m->session_status_list, sid));
	wsc_msg_free(m);
	fill_list_messages(&lm, sid, 0, NULL);
	SETREQ(cm, list_messages, LIST_MESSAGES, &lm);
	m = call_on(&b, &cm, lb, T_REPLY);
	expect_case(m, OPENCODE__SERVER_MESSAGE__PAYLOAD_MESSAGE_LIST);
	tr_apply_list(&tb, m->message_list);
	wsc_msg_free(m);
	SETREQ(cm, list_pending, LIST_PENDING, &lp);
	m = call_on(&b, &cm, lb, T_REPLY);
	expect_case(m, OPENCODE__SERVER_MESSAGE__PAYLOAD_PENDING_LIST);
	wsc_msg_free(m);
	gt.session_id = sid;
	SETREQ(cm, get_todos, GET_TODOS, &gt);
	m = call_on(&b, &cm, lb, T_REPLY);
	expect_case(m, OPENCODE__SERVER_MESSAGE__PAYLOAD_TODO_LIST);
	tr_todos(&tb, m->todo_list);
	wsc_msg_free(m);

	/* A answers the question and the permission. */
	if (collect(la, sid, done_question, T_CHAT) == -1)
		fail_msg("no QuestionRequest in the full chat");
	e = find_ev(la, 0, OPENCODE__SERVER_MESSAGE__PAYLOAD_QUESTION_REQUEST,
	    sid, NULL);
	if ((qid = strdup(e->question_request->id)) == NULL)
		fail_msg("out of memory");
	expect_empty(req_reply_question(qid, "Blue"), "ReplyQuestion");
	if (collect(la, sid, done_permission, T_CHAT) == -1)
		fail_msg("no PermissionRequest in the full chat");
	e = find_ev(la, 0, OPENCODE__SERVER_MESSAGE__PAYLOAD_PERMISSION_REQUEST,
	    sid, NULL);
	if ((pid = strdup(e->permission_request->permission_id)) == NULL)
		fail_msg("out of memory");
	m = req_list_pending();
	expect_case(m, OPENCODE__SERVER_MESSAGE__PAYLOAD_PENDING_LIST);
	check_pending_http(m->pending_list);
	wsc_msg_free(m);
	rp.session_id = sid;
	rp.permission_id = pid;
	rp.reply = "once";
	memset(&cm, 0, sizeof(cm));
	opencode__client_message__init(&cm);
	SETREQ(cm, reply_permission, REPLY_PERMISSION, &rp);
	expect_empty(call(&cm, T_REPLY), "ReplyPermission");
	if (collect(la, sid, done_turn, T_CHAT) == -1)
		fail_msg("the full chat did not finish for A");
	if (collect_on(&b, lb, sid, done_turn, T_CHAT) == -1)
		fail_msg("the full chat did not finish for B");

	/* The v2 events of the chat, as A saw them. */
	if ((e = find_ev(la, 0,
	    OPENCODE__SERVER_MESSAGE__PAYLOAD_QUESTION_RESOLVED, sid,
	    NULL)) == NULL || strcmp(e->question_resolved->question_id, qid) != 0)
		fail_msg("no QuestionResolved for %s", qid);
	if ((e = find_ev(la, 0,
	    OPENCODE__SERVER_MESSAGE__PAYLOAD_PERMISSION_RESOLVED, sid,
	    NULL)) == NULL ||
	    strcmp(e->permission_resolved->permission_id, pid) != 0 ||
	    strcmp(e->permission_resolved->reply, "once") != 0)
		fail_msg("no PermissionResolved once for %s", pid);
	assert_non_null(find_ev(la, 0,
	    OPENCODE__SERVER_MESSAGE__PAYLOAD_TODO_UPDATED, sid, NULL));
	assert_non_null(find_part_ev(la, sid, "reasoning", NULL));
	(void)check_tool(la, sid, "bash", "completed");

	tr_apply_log(&ta, la, 0);
	tr_apply_log(&tb, lb, 0);
	m = list_of(sid);
	tr_apply_list(&tc, m->message_list);
	snprintf(why, sizeof(why), "/session/%s/message", sid);
	check_messages_http(m->message_list, why);
	wsc_msg_free(m);
	m = req_get_todos(sid);
	expect_case(m, OPENCODE__SERVER_MESSAGE__PAYLOAD_TODO_LIST);
	tr_todos(&tc, m->todo_list);
	wsc_msg_free(m);
	if (tr_diff(&ta, &tb, why, sizeof(why)) == -1) {
		tr_print(&ta, "A (streamed)");
		tr_print(&tb, "B (rebuilt)");
		fail_msg("A and B differ: %s", why);
	}
	if (tr_diff(&ta, &tc, why, sizeof(why)) == -1) {
		tr_print(&ta, "A (streamed)");
		tr_print(&tc, "ListMessages at the end");
		fail_msg("A and a fresh ListMessages differ: %s", why);
	}
	fprintf(stderr, "rebuild: %zu messages, %zu parts, %zu todos equal; "
	    "B got %zu events after connecting\n", ta.nm, ta.np, ta.ntodo,
	    lb->n);

	wsc_close(&b);
	tr_free(&ta);
	tr_free(&tb);
	tr_free(&tc);
	free(qid);
	free(pid);
	free(sid);
	evlog_del(la);
	evlog_del(lb);
}

/* ---- upstream restart ---- */

/* Runs OPENCODE_CTL with one argument; its exit status, or -1. */
static int
run_ctl(const char *ctl, const char *cmd)
{
	int64_t deadline = it_now_ms() + T_CTL;
	pid_t pid, r;
	int st, fd;

	if ((pid = fork()) == -1)
		return -1;
	if (pid == 0) {
		if ((fd = open("/dev/null", O_RDWR)) != -1) {
			dup2(fd, 0);
			dup2(fd, 1);
			close(fd);
		}
		execl(ctl, ctl, cmd, (char *)NULL);
		fprintf(stderr, "exec %s: %s\n", ctl, strerror(errno));
		_exit(127);
	}
	for (;;) {
		r = waitpid(pid, &st, WNOHANG);
		if (r == pid)
			return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
		if (r == -1 && errno != EINTR)
			return -1;
		if (it_now_ms() >= deadline) {
			kill(pid, SIGKILL);
			waitpid(pid, &st, 0);
			return -1;
		}
		usleep(20000);
	}
}

static void
test_upstream_restart(void **state)
{
	const char *ctl = getenv("OPENCODE_CTL");
	Opencode__ServerMessage *m;
	struct http_resp r;
	struct evlog *l;
	const char *v;
	int64_t t0;
	size_t i;

	(void)state;
	if (ctl == NULL || *ctl == '\0' || getenv("OCB_E2E_DIR") == NULL) {
		fprintf(stderr, "OPENCODE_CTL or OCB_E2E_DIR unset: cannot "
		    "restart the server\n");
		skip();
	}
	if ((l = calloc(1, sizeof(*l))) == NULL)
		fail_msg("out of memory");
	subscribe(NULL);

	/* A crash: SIGKILL, no goodbye on the event stream. */
	t0 = it_now_ms();
	if (run_ctl(ctl, "kill-server") != 0)
		fail_msg("%s kill-server failed", ctl);
	assert_int_equal(http_req("GET", "/global/health", NULL, &r), -1);
	http_free(&r);
	if (collect(l, NULL, done_down, T_DOWN) == -1)
		fail_msg("no UpstreamStatus{connected: false} after the kill");
	fprintf(stderr, "UpstreamStatus{false} %lld ms after the kill\n",
	    (long long)(it_now_ms() - t0));

	m = req_health();
	expect_error(m, "UPSTREAM_UNAVAILABLE");
	wsc_msg_free(m);
	m = req_list_sessions();
	expect_error(m, "UPSTREAM_UNAVAILABLE");
	wsc_msg_free(m);

	/* Back, on the same port. */
	t0 = it_now_ms();
	if (run_ctl(ctl, "start-server") != 0)
		fail_msg("%s start-server failed", ctl);
	if (collect(l, NULL, done_up, T_UP) == -1)
		fail_msg("no UpstreamStatus{connected: true} after the "
		    "restart");
	fprintf(stderr, "UpstreamStatus{true} %lld ms after start-server\n",
	    (long long)(it_now_ms() - t0));
	for (i = l->n; i-- > 0; ) {
		if (l->m[i]->payload_case !=
		    OPENCODE__SERVER_MESSAGE__PAYLOAD_UPSTREAM_STATUS)
			continue;
		v = l->m[i]->upstream_status->version;
		if (*v != '\0')
			assert_string_equal(v, "1.18.34");
		break;
	}

	m = req_health();
	expect_case(m, OPENCODE__SERVER_MESSAGE__PAYLOAD_UPSTREAM_HEALTH);
	assert_true(m->upstream_health->healthy);
	wsc_msg_free(m);
	/* The sessions survived in the state dir, and come through again. */
	test_list_sessions(state);

	evlog_free(l);
	free(l);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_health),
		cmocka_unit_test(test_list_sessions),
		cmocka_unit_test(test_create_delete_session),
		cmocka_unit_test(test_list_agents),
		cmocka_unit_test(test_provider_status),
		cmocka_unit_test(test_auth),
		cmocka_unit_test(test_chat_text),
		cmocka_unit_test(test_chat_tool),
		cmocka_unit_test(test_chat_permission),
		cmocka_unit_test(test_chat_cancel),
		cmocka_unit_test(test_v2_session),
		cmocka_unit_test(test_v2_providers),
		cmocka_unit_test(test_v2_reasoning),
		cmocka_unit_test(test_v2_list_messages),
		cmocka_unit_test(test_v2_question),
		cmocka_unit_test(test_v2_question_reject),
		cmocka_unit_test(test_v2_todo),
		cmocka_unit_test(test_v2_edit_diff),
		cmocka_unit_test(test_v2_revert),
		cmocka_unit_test(test_v2_fork),
		cmocka_unit_test(test_v2_file),
		cmocka_unit_test(test_v2_commands),
		cmocka_unit_test(test_v2_summarize),
		cmocka_unit_test(test_v2_rebuild),
		cmocka_unit_test(test_upstream_restart),
	};
	int rc;

	if (getenv("OPENCODE_URL") == NULL || getenv("OCBROKER") == NULL) {
		fprintf(stderr, "SKIP: OPENCODE_URL and OCBROKER must be set "
		    "(tests/e2e/run.sh does it)\n");
		return 77;
	}
	signal(SIGPIPE, SIG_IGN);
	/* A pattern (cmocka's * and ?) to run some tests only, e.g. *v2*. */
	if (getenv("OCB_E2E_FILTER") != NULL)
		cmocka_set_test_filter(getenv("OCB_E2E_FILTER"));
	rc = cmocka_run_group_tests_name("e2e", tests, group_setup,
	    group_teardown);
	if (rc == 0)
		it_logdir_remove();
	else
		fprintf(stderr, "logs kept in %s\n", it_logdir());
	return rc;
}
