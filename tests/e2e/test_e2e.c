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

/* The session an event belongs to, or NULL (UpstreamStatus). */
static const char *
ev_session(const Opencode__ServerMessage *m)
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
	default:
		return NULL;
	}
}

static void
ev_print(const Opencode__ServerMessage *m)
{
	switch (m->payload_case) {
	case OPENCODE__SERVER_MESSAGE__PAYLOAD_TOKEN:
		fprintf(stderr, "  ChatToken %s %s \"%s\"\n",
		    m->token->session_id, m->token->part_id, m->token->delta);
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
collect(struct evlog *l, const char *sid, ev_done_fn done, int timeout_ms)
{
	int64_t deadline = it_now_ms() + timeout_ms;
	Opencode__ServerMessage *m;
	struct wsc_frame f;

	while (!done(l, sid)) {
		if (l->n == MAX_EVENTS) {
			evlog_print(l, "too many events");
			return -1;
		}
		m = wsc_recv_msg(&E.ev, &f, left(deadline));
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
		if ((s = ev_session(l->m[i])) != NULL && *s != '\0' &&
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
	int64_t t0;
	char *sid;

	(void)state;
	if ((l = calloc(1, sizeof(*l))) == NULL)
		fail_msg("out of memory");
	sid = chat_session();
	send_message(sid, "slow", 0);
	if (collect(l, sid, done_two_ticks, chat_timeout()) == -1)
		fail_msg("the slow chat did not stream");

	t0 = it_now_ms();
	cr.session_id = sid;
	cm.payload_case = OPENCODE__CLIENT_MESSAGE__PAYLOAD_CANCEL_REQUEST;
	cm.cancel_request = &cr;
	expect_empty(call(&cm, T_REPLY), "CancelRequest");
	if (collect(l, sid, done_turn, T_CHAT) == -1)
		fail_msg("the cancelled chat did not end");
	/* The mock would have gone on for a minute. */
	assert_true(it_now_ms() - t0 < 15000);

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
		cmocka_unit_test(test_upstream_restart),
	};
	int rc;

	if (getenv("OPENCODE_URL") == NULL || getenv("OCBROKER") == NULL) {
		fprintf(stderr, "SKIP: OPENCODE_URL and OCBROKER must be set "
		    "(tests/e2e/run.sh does it)\n");
		return 77;
	}
	signal(SIGPIPE, SIG_IGN);
	rc = cmocka_run_group_tests_name("e2e", tests, group_setup,
	    group_teardown);
	if (rc == 0)
		it_logdir_remove();
	else
		fprintf(stderr, "logs kept in %s\n", it_logdir());
	return rc;
}
