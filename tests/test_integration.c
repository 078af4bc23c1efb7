/*
 * Copyright (c) 2026 The ocbroker authors
 * SPDX-License-Identifier: ISC (the licence is in the file LICENSE)
 */

/*
 * Integration tests: the real ocbroker binary (OCBROKER) against
 * tests/fake_upstream (FAKE_UPSTREAM) serving the captured OpenCode 1.18.34
 * fixtures (OCB_FIXTURES).  Every test starts its own pair of processes, so
 * that a mode set on the fake or a broken connection cannot leak into the
 * next test; every teardown checks that SIGTERM makes ocbroker exit 0 and
 * that it printed nothing after its ready line.
 *
 * Replies may come in any order: they are matched by request_id, and
 * unsolicited events (request_id 0) are skipped where a reply is awaited.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "tests/support/fixture.h"
#include "tests/support/itest.h"
#include "tests/support/itest_req.h"
#include "tests/support/itest_sse.h"

#define T_UPSTREAM_TIMEOUT 40000 /* the 30 s request timeout, plus slack */

#define FX_SESSION	"ses_de9d9dd34ffervjM6BvxQjuyqi"
#define FX_DELETED	"ses_de9da0d54ffehULAtvbJczpmni"
#define UNKNOWN_SESSION	"ses_0000000000000000000000000000"
#define PERM_ID		"per_de9d9b0c1001abcdefABCDEF12"
#define PERM_LINE	"POST /permission/" PERM_ID "/reply\n"

/* ---- fixtures and state ---- */

/* ---- messages ---- */

static int
is_event(const Opencode__ServerMessage *m)
{
	return m->request_id == 0 && m->payload_case >= 200;
}

static void
build_create(Opencode__ClientMessage *cm, Opencode__CreateSessionRequest *cs,
    uint64_t id, const char *title)
{
	opencode__create_session_request__init(cs);
	if (title != NULL) {
		cs->_title_case =
		    OPENCODE__CREATE_SESSION_REQUEST___TITLE_TITLE;
		cs->title = (char *)title;
	}
	it_request_init(cm, id, CMP(CREATE_SESSION), cs);
}

static void
build_get_auth(Opencode__ClientMessage *cm, Opencode__GetAuthRequest *ga,
    uint64_t id, const char *provider)
{
	opencode__get_auth_request__init(ga);
	ga->provider_id = (char *)provider;
	it_request_init(cm, id, CMP(GET_AUTH), ga);
}

static Opencode__ServerMessage *
delete_session(struct wsc *w, uint64_t id, const char *sid)
{
	Opencode__DeleteSessionRequest ds =
	    OPENCODE__DELETE_SESSION_REQUEST__INIT;

	ds.session_id = (char *)sid;
	return it_request(w, id, CMP(DELETE_SESSION), &ds, T_REPLY);
}

/* The next message that is not an event (BAD_MESSAGE has no request_id). */
static Opencode__ServerMessage *
recv_non_event(struct wsc *w, int timeout_ms)
{
	Opencode__ServerMessage *m;
	int64_t deadline = it_now_ms() + timeout_ms;
	int64_t left;

	for (;;) {
		left = deadline - it_now_ms();
		if ((m = wsc_recv_msg(w, NULL, left < 0 ? 0 : (int)left)) ==
		    NULL)
			return NULL;
		if (!is_event(m))
			return m;
		wsc_msg_free(m);
	}
}

/* ---- fixture readers (plain scanning: the fixtures are fixed bytes) ---- */

struct fx_session {
	char		id[64];
	char		title[128];
	long long	created, updated;
};

static size_t
fx_sessions(struct fx_session *out, size_t max)
{
	char *doc, *p, *t, *q;
	size_t n = 0, l;

	if ((doc = it_read_fixture("session-list.json", NULL)) == NULL)
		fail_msg("cannot read session-list.json");
	p = doc;
	while (n < max && (p = strstr(p, "{\"id\":\"ses_")) != NULL) {
		p += 7;
		l = strcspn(p, "\"");
		assert_true(l < sizeof(out[n].id));
		memcpy(out[n].id, p, l);
		out[n].id[l] = '\0';
		assert_non_null(t = strstr(p, "\"title\":\""));
		t += 9;
		l = strcspn(t, "\"");
		assert_true(l < sizeof(out[n].title));
		memcpy(out[n].title, t, l);
		out[n].title[l] = '\0';
		assert_non_null(q = strstr(p, "\"time\":{\"created\":"));
		assert_int_equal(sscanf(q, "\"time\":{\"created\":%lld,"
		    "\"updated\":%lld", &out[n].created, &out[n].updated), 2);
		n++;
	}
	free(doc);
	return n;
}

/* `connected` of the gunzipped /provider document, as one string. */
static char *
fx_provider_connected(void)
{
	char *doc, *p, *end, *r;

	doc = fx_load("provider.json.gz", NULL);
	assert_non_null(p = strstr(doc, "\"connected\":["));
	p += 13;
	assert_non_null(end = strchr(p, ']'));
	*end = '\0';
	r = strdup(p);
	free(doc);
	return r;
}

/* ---- the ready line ---- */

static void
test_ready_line_parser(void **state)
{
	uint16_t port;
	char tok[IT_TOKEN_LEN + 1], ver[32];
	int has;
	const char *hex =
	    "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
	char line[256];

	(void)state;
	snprintf(line, sizeof(line), "{\"ready\":true,\"port\":50051,"
	    "\"token\":\"%s\",\"version\":\"0.1.0\"}", hex);
	assert_int_equal(it_parse_ready(line, &port, tok, &has, ver,
	    sizeof(ver)), 0);
	assert_int_equal(port, 50051);
	assert_string_equal(tok, hex);
	assert_true(has);
	assert_string_equal(ver, "0.1.0");
	assert_int_equal(it_parse_ready("{\"ready\":true,\"port\":1,"
	    "\"version\":\"1.2.3\"}", &port, tok, &has, ver, sizeof(ver)), 0);
	assert_false(has);
	/* Strictness: each of these must be refused. */
	assert_int_equal(it_parse_ready("{\"ready\":true,\"port\":0,"
	    "\"version\":\"1.2.3\"}", &port, tok, &has, ver, sizeof(ver)), -1);
	assert_int_equal(it_parse_ready("{\"ready\":true,\"port\":65536,"
	    "\"version\":\"1.2.3\"}", &port, tok, &has, ver, sizeof(ver)), -1);
	assert_int_equal(it_parse_ready("{\"ready\":true,\"port\":1,"
	    "\"token\":\"ABC\",\"version\":\"1.2.3\"}", &port, tok, &has, ver,
	    sizeof(ver)), -1);
	assert_int_equal(it_parse_ready("{\"ready\":true,\"port\":1,"
	    "\"version\":\"1.2\"}", &port, tok, &has, ver, sizeof(ver)), -1);
	assert_int_equal(it_parse_ready("{\"ready\":true,\"port\":1,"
	    "\"version\":\"1.2.3\"} ", &port, tok, &has, ver, sizeof(ver)), -1);
	assert_int_equal(it_parse_ready("{\"ready\":false,\"port\":1,"
	    "\"version\":\"1.2.3\"}", &port, tok, &has, ver, sizeof(ver)), -1);
}

static void
test_ready_and_auth(void **state)
{
	struct it_env *e = *state;
	struct wsc w;
	Opencode__ServerMessage *m;
	Opencode__ClientMessage cm;
	Opencode__AuthHandshake ah = OPENCODE__AUTH_HANDSHAKE__INIT;

	assert_true(e->has_token);
	assert_int_equal(strlen(e->token), IT_TOKEN_LEN);
	assert_int_not_equal(e->port, 0);
	assert_int_equal(wsc_open(&w, e->port, T_IO), 0);
	/* The reply to the handshake carries its request_id too. */
	ah.token = e->token;
	it_request_init(&cm, 4242, CMP(AUTH_HANDSHAKE), &ah);
	assert_int_equal(wsc_send_msg(&w, &cm, T_IO), 0);
	m = recv_non_event(&w, T_IO);
	it_expect_case(m, 4242, SMP(AUTH_HANDSHAKE_RESPONSE), NULL);
	assert_true(m->auth_handshake_response->success);
	wsc_msg_free(m);
	m = it_request_empty(&w, 2, CMP(HEALTH_CHECK), T_REPLY);
	it_expect_case(m, 2, SMP(UPSTREAM_HEALTH), NULL);
	wsc_msg_free(m);
	wsc_close(&w);
}

/* ---- every request type ---- */

static void
test_list_sessions(void **state)
{
	struct it_env *e = *state;
	struct fx_session fx[64];
	Opencode__ServerMessage *m;
	Opencode__SessionInfo *s;
	struct wsc w;
	size_t n, i;
	char *last;

	n = fx_sessions(fx, 64);
	assert_int_equal(n, 12);
	it_client(e, &w);
	m = it_request_empty(&w, 7, CMP(LIST_SESSIONS), T_REPLY);
	it_expect_case(m, 7, SMP(SESSION_LIST), NULL);
	assert_int_equal(m->session_list->n_sessions, n);
	for (i = 0; i < n; i++) {
		s = m->session_list->sessions[i];
		assert_string_equal(s->id, fx[i].id);
		assert_int_equal(s->_title_case,
		    OPENCODE__SESSION_INFO___TITLE_TITLE);
		assert_string_equal(s->title, fx[i].title);
		assert_int_equal(s->created_at, fx[i].created);
		assert_int_equal(s->updated_at, fx[i].updated);
	}
	wsc_msg_free(m);
	assert_non_null(last = it_fake_last(e, "GET", "/session"));
	assert_string_equal(last, "GET /session\n");
	free(last);
	wsc_close(&w);
}

static void
test_create_session_title(void **state)
{
	struct it_env *e = *state;
	Opencode__ClientMessage cm;
	Opencode__CreateSessionRequest cs;
	Opencode__ServerMessage *m;
	struct wsc w;
	char *last;

	it_client(e, &w);
	build_create(&cm, &cs, 11, "integration \"title\" \xc3\xa9");
	m = it_call(&w, &cm, T_REPLY);
	it_expect_case(m, 11, SMP(SESSION_INFO), NULL);
	assert_string_equal(m->session_info->id, FX_DELETED);
	assert_int_equal(m->session_info->_title_case,
	    OPENCODE__SESSION_INFO___TITLE_TITLE);
	assert_string_equal(m->session_info->title,
	    "integration \"title\" \xc3\xa9");
	assert_int_equal(m->session_info->created_at, 1795667915435LL);
	assert_int_equal(m->session_info->updated_at, 1795667915435LL);
	wsc_msg_free(m);
	assert_non_null(last = it_fake_last(e, "POST", "/session"));
	if (strncmp(last, "POST /session\n", 14) != 0 ||
	    strstr(last, "\"title\"") == NULL)
		fail_msg("upstream got: %s", last);
	free(last);
	wsc_close(&w);
}

static void
test_create_session_no_title(void **state)
{
	struct it_env *e = *state;
	Opencode__ClientMessage cm;
	Opencode__CreateSessionRequest cs;
	Opencode__ServerMessage *m;
	struct wsc w;
	char *last;

	it_client(e, &w);
	build_create(&cm, &cs, 12, NULL);
	m = it_call(&w, &cm, T_REPLY);
	it_expect_case(m, 12, SMP(SESSION_INFO), NULL);
	assert_int_equal(m->session_info->_title_case,
	    OPENCODE__SESSION_INFO___TITLE_TITLE);
	/* The server picked its default, so no title was sent. */
	assert_memory_equal(m->session_info->title, "New session - ", 14);
	wsc_msg_free(m);
	assert_non_null(last = it_fake_last(e, "POST", "/session"));
	if (strncmp(last, "POST /session\n", 14) != 0 ||
	    strstr(last, "title") != NULL)
		fail_msg("upstream got: %s", last);
	free(last);
	wsc_close(&w);
}

static void
test_delete_session(void **state)
{
	struct it_env *e = *state;
	Opencode__ServerMessage *m;
	struct wsc w;
	char *last;

	it_client(e, &w);
	m = delete_session(&w, 13, FX_DELETED);
	it_expect_case(m, 13, SMP(_NOT_SET), NULL);
	wsc_msg_free(m);
	assert_non_null(last = it_fake_last(e, "DELETE", NULL));
	assert_string_equal(last, "DELETE /session/" FX_DELETED "\n");
	free(last);
	wsc_close(&w);
}

static void
test_delete_session_not_found(void **state)
{
	struct it_env *e = *state;
	Opencode__ServerMessage *m;
	struct wsc w;

	it_client(e, &w);
	m = delete_session(&w, 14, UNKNOWN_SESSION);
	it_expect_error(m, 14, "NOT_FOUND", NULL);
	wsc_msg_free(m);
	wsc_close(&w);
}

static void
test_list_agents(void **state)
{
	static const struct {
		const char	*name, *mode;
		int		 has_description;
	} want[] = {
		{ "build", "primary", 1 },
		{ "compaction", "primary", 0 },
		{ "explore", "subagent", 1 },
		{ "general", "subagent", 1 },
		{ "plan", "primary", 1 },
		{ "summary", "primary", 0 },
		{ "title", "primary", 0 },
	};
	struct it_env *e = *state;
	Opencode__ServerMessage *m;
	Opencode__AgentInfo *a;
	struct wsc w;
	size_t i;

	it_client(e, &w);
	m = it_request_empty(&w, 15, CMP(LIST_AGENTS), T_REPLY);
	it_expect_case(m, 15, SMP(AGENT_LIST), NULL);
	assert_int_equal(m->agent_list->n_agents, 7);
	for (i = 0; i < 7; i++) {
		a = m->agent_list->agents[i];
		assert_string_equal(a->name, want[i].name);
		assert_true(a->built_in);	/* "native": true */
		assert_int_equal(a->_mode_case,
		    OPENCODE__AGENT_INFO___MODE_MODE);
		assert_string_equal(a->mode, want[i].mode);
		assert_int_equal(a->_description_case ==
		    OPENCODE__AGENT_INFO___DESCRIPTION_DESCRIPTION,
		    want[i].has_description);
		/* color is null for every fixture agent */
		assert_int_equal(a->_color_case,
		    OPENCODE__AGENT_INFO___COLOR__NOT_SET);
	}
	assert_memory_equal(m->agent_list->agents[0]->description,
	    "The default agent.", 18);
	wsc_msg_free(m);
	wsc_close(&w);
}

static void
test_provider_status(void **state)
{
	struct it_env *e = *state;
	Opencode__ServerMessage *m;
	struct wsc w;
	char *want, got[4096];
	size_t i, off = 0;
	int64_t t0;

	want = fx_provider_connected();
	it_client(e, &w);
	t0 = it_now_ms();
	m = it_request_empty(&w, 16, CMP(GET_PROVIDER_STATUS), T_REPLY);
	it_expect_case(m, 16, SMP(PROVIDER_STATUS), NULL);
	print_message("GetProviderStatus (6.5 MB upstream document): %lld ms\n",
	    (long long)(it_now_ms() - t0));
	got[0] = '\0';
	for (i = 0; i < m->provider_status->n_connected; i++)
		off += (size_t)snprintf(got + off, sizeof(got) - off,
		    "%s\"%s\"", i > 0 ? "," : "",
		    m->provider_status->connected[i]);
	assert_string_equal(got, want);	/* "opencode","mock" */
	wsc_msg_free(m);
	free(want);
	wsc_close(&w);
}

static void
test_get_auth(void **state)
{
	struct it_env *e = *state;
	Opencode__ClientMessage cm;
	Opencode__GetAuthRequest ga;
	Opencode__ServerMessage *m;
	struct wsc w;

	it_client(e, &w);
	build_get_auth(&cm, &ga, 17, "mock");
	m = it_call(&w, &cm, T_REPLY);
	it_expect_case(m, 17, SMP(AUTH_STATUS), NULL);
	assert_string_equal(m->auth_status->provider_id, "mock");
	assert_true(m->auth_status->connected);
	wsc_msg_free(m);

	build_get_auth(&cm, &ga, 18, "anthropic");
	m = it_call(&w, &cm, T_REPLY);
	it_expect_case(m, 18, SMP(AUTH_STATUS), NULL);
	assert_string_equal(m->auth_status->provider_id, "anthropic");
	assert_false(m->auth_status->connected);
	wsc_msg_free(m);
	wsc_close(&w);
}

static Opencode__ServerMessage *
set_auth(struct wsc *w, uint64_t id, const char *provider,
    Opencode__AuthInfo *ai)
{
	Opencode__SetAuthRequest sa = OPENCODE__SET_AUTH_REQUEST__INIT;

	sa.provider_id = (char *)provider;
	sa.auth = ai;
	return it_request(w, id, CMP(SET_AUTH), &sa, T_REPLY);
}

static void
test_set_auth_api(void **state)
{
	struct it_env *e = *state;
	Opencode__AuthInfo ai = OPENCODE__AUTH_INFO__INIT;
	Opencode__ApiKeyAuth ak = OPENCODE__API_KEY_AUTH__INIT;
	Opencode__ServerMessage *m;
	struct wsc w;
	char *last, *body;

	it_client(e, &w);
	ak.key = "sk-ocb-it-not-a-secret";
	ai.auth_type_case = OPENCODE__AUTH_INFO__AUTH_TYPE_API_KEY;
	ai.api_key = &ak;
	m = set_auth(&w, 19, "anthropic", &ai);
	it_expect_case(m, 19, SMP(_NOT_SET), NULL);
	wsc_msg_free(m);
	assert_non_null(last = it_fake_last(e, "PUT", NULL));
	if (strncmp(last, "PUT /auth/anthropic\n", 20) != 0)
		fail_msg("upstream got: %s", last);
	body = last + 20;
	if (strstr(body, "\"type\":\"api\"") == NULL ||
	    strstr(body, "\"key\":\"sk-ocb-it-not-a-secret\"") == NULL ||
	    body[0] != '{')
		fail_msg("upstream body: %s", body);
	free(last);
	wsc_close(&w);
}

static void
test_set_auth_oauth(void **state)
{
	struct it_env *e = *state;
	Opencode__AuthInfo ai = OPENCODE__AUTH_INFO__INIT;
	Opencode__OAuthAuth oa = OPENCODE__OAUTH_AUTH__INIT;
	Opencode__ServerMessage *m;
	struct wsc w;
	char *last, *body;

	it_client(e, &w);
	oa.access_token = "a-not-a-secret";
	oa.refresh_token = "r-not-a-secret";
	oa.expires_at = 1767225600000LL;
	ai.auth_type_case = OPENCODE__AUTH_INFO__AUTH_TYPE_OAUTH;
	ai.oauth = &oa;
	m = set_auth(&w, 20, "ocb-fixture-oauth", &ai);
	it_expect_case(m, 20, SMP(_NOT_SET), NULL);
	wsc_msg_free(m);
	assert_non_null(last = it_fake_last(e, "PUT", NULL));
	if (strncmp(last, "PUT /auth/ocb-fixture-oauth\n", 28) != 0)
		fail_msg("upstream got: %s", last);
	body = last + 28;
	if (strstr(body, "\"type\":\"oauth\"") == NULL ||
	    strstr(body, "\"refresh\":\"r-not-a-secret\"") == NULL ||
	    strstr(body, "\"access\":\"a-not-a-secret\"") == NULL ||
	    strstr(body, "\"expires\":1767225600000") == NULL)
		fail_msg("upstream body: %s", body);
	free(last);
	wsc_close(&w);
}

static void
test_delete_auth(void **state)
{
	struct it_env *e = *state;
	Opencode__DeleteAuth da = OPENCODE__DELETE_AUTH__INIT;
	Opencode__ServerMessage *m;
	struct wsc w;
	char *last;

	it_client(e, &w);
	da.provider_id = "anthropic";
	m = it_request(&w, 21, CMP(DELETE_AUTH), &da, T_REPLY);
	it_expect_case(m, 21, SMP(_NOT_SET), NULL);
	wsc_msg_free(m);
	assert_non_null(last = it_fake_last(e, "DELETE", NULL));
	assert_string_equal(last, "DELETE /auth/anthropic\n");
	free(last);
	wsc_close(&w);
}

static void
test_health(void **state)
{
	struct it_env *e = *state;
	Opencode__ServerMessage *m;
	struct wsc w;

	it_client(e, &w);
	m = it_request_empty(&w, 22, CMP(HEALTH_CHECK), T_REPLY);
	it_expect_case(m, 22, SMP(UPSTREAM_HEALTH), NULL);
	assert_true(m->upstream_health->healthy);
	assert_string_equal(m->upstream_health->version, "1.18.34");
	wsc_msg_free(m);
	wsc_close(&w);
}

/* ---- error mappings ---- */

/*
 * One upstream failure: ocbroker started afresh (with no upstream at all
 * for no_fake), the fake put in mode, one request, and the error it maps
 * to; where recovers, a request after mode "normal" succeeds again.
 */
struct upstream_failure {
	const char	*mode;		/* POST /__fake/mode; NULL: none */
	int		 no_fake;
	Opencode__ClientMessage__PayloadCase kind;
	uint64_t	 id;
	int		 timeout_ms;
	const char	*code;
	const char	*in_message;	/* the message names it; NULL: any */
	int		 recovers;
};

static const struct upstream_failure upstream_failures[] = {
	{ "status 500", 0, CMP(LIST_SESSIONS), 30, T_REPLY, "UPSTREAM_ERROR",
	    "500", 0 },
	{ "status 404", 0, CMP(LIST_SESSIONS), 31, T_REPLY, "NOT_FOUND", NULL,
	    0 },
	{ "html", 0, CMP(LIST_SESSIONS), 32, T_REPLY, "UPSTREAM_ERROR", NULL,
	    0 },
	{ "html", 0, CMP(HEALTH_CHECK), 33, T_REPLY, "UPSTREAM_ERROR", NULL,
	    0 },
	{ "close", 0, CMP(LIST_SESSIONS), 34, T_REPLY, "UPSTREAM_UNAVAILABLE",
	    NULL, 1 },
	{ NULL, 1, CMP(LIST_SESSIONS), 41, T_REPLY, "UPSTREAM_UNAVAILABLE",
	    NULL, 0 },
	{ "hang", 0, CMP(LIST_SESSIONS), 42, T_UPSTREAM_TIMEOUT,
	    "UPSTREAM_TIMEOUT", NULL, 0 },
};

/* SIGTERM: ocbroker exits 0 and printed nothing after its ready line. */
static void
stop_clean(struct it_env *e)
{
	int st, extra;

	st = it_stop(e, T_EXIT, &extra);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	assert_false(extra);
}

static void
upstream_failure(struct it_env *e, const struct upstream_failure *f)
{
	const char *what = f->mode != NULL ? f->mode : "no upstream";
	struct it_opts o;
	Opencode__ServerMessage *m;
	struct wsc w;
	int64_t t0;

	memset(&o, 0, sizeof(o));
	o.no_fake = f->no_fake;
	it_start_or_fail(e, &o);
	it_client(e, &w);
	if (f->mode != NULL)
		assert_int_equal(it_fake_mode(e, f->mode), 0);
	t0 = it_now_ms();
	m = it_request_empty(&w, f->id, f->kind, f->timeout_ms);
	it_expect_error(m, f->id, f->code, what);
	print_message("%s: %s after %lld ms\n", what, f->code,
	    (long long)(it_now_ms() - t0));
	if (f->in_message != NULL &&
	    strstr(m->error->message, f->in_message) == NULL)
		fail_msg("message does not name the status: %s",
		    m->error->message);
	wsc_msg_free(m);
	if (f->recovers) {
		assert_int_equal(it_fake_mode(e, "normal"), 0);
		m = it_request_empty(&w, f->id + 1, CMP(HEALTH_CHECK), T_REPLY);
		it_expect_case(m, f->id + 1, SMP(UPSTREAM_HEALTH), what);
		wsc_msg_free(m);
	}
	wsc_close(&w);
	stop_clean(e);
}

static void
test_upstream_failures(void **state)
{
	size_t i;

	for (i = 0; i < sizeof(upstream_failures) /
	    sizeof(upstream_failures[0]); i++)
		upstream_failure(*state, &upstream_failures[i]);
}

static void
password_case(struct it_env *e, const char *ocb_pw, int ok)
{
	struct it_opts o;
	Opencode__ServerMessage *m;
	struct wsc w;

	memset(&o, 0, sizeof(o));
	o.fake_password = "it-upstream-pw";
	o.ocb_password = ocb_pw;
	it_start_or_fail(e, &o);
	it_client(e, &w);
	m = it_request_empty(&w, 40, CMP(LIST_SESSIONS), T_REPLY);
	if (ok)
		it_expect_case(m, 40, SMP(SESSION_LIST), NULL);
	else {
		it_expect_error(m, 40, "UPSTREAM_ERROR", NULL);
		if (strstr(m->error->message, "HTTP 401") == NULL)
			fail_msg("message: %s", m->error->message);
		if (ocb_pw != NULL && strstr(m->error->message, ocb_pw) != NULL)
			fail_msg("the password leaked into the message");
	}
	wsc_msg_free(m);
	wsc_close(&w);
	stop_clean(e);
}

static void
test_upstream_password(void **state)
{
	struct it_env *e = *state;

	password_case(e, NULL, 0);		/* missing */
	password_case(e, "wrong-password", 0);	/* wrong */
	password_case(e, "it-upstream-pw", 1);	/* right */
}

static void
test_invalid_session_id(void **state)
{
	static const char *const bad[] = {
		"../x", "ses_../x", "ses_a/b", "..", "", "not-a-session"
	};
	struct it_env *e = *state;
	Opencode__ServerMessage *m;
	struct wsc w;
	char *log;
	size_t i;

	it_client(e, &w);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		m = delete_session(&w, 50 + i, bad[i]);
		if (m == NULL || m->payload_case != SMP(ERROR) ||
		    strcmp(m->error->code, "INVALID_REQUEST") != 0)
			fail_msg("session id \"%s\": expected INVALID_REQUEST, "
			    "got %s", bad[i], it_describe(m));
		assert_int_equal(m->request_id, 50 + i);
		wsc_msg_free(m);
	}
	/* Nothing reached the upstream. */
	assert_non_null(log = it_fake_log(e));
	if (strstr(log, "DELETE ") != NULL)
		fail_msg("the upstream got: %s", log);
	free(log);
	wsc_close(&w);
}

/*
 * A string with a NUL inside decodes to a shorter C string: "ses_a\0b"
 * must not become DELETE /session/ses_a.  Hand-encoded (protobuf-c packs
 * strings with strlen); a NUL in the token of the handshake is refused too.
 */
static void
test_nul_in_string(void **state)
{
	static const uint8_t del[] = { 0x08, 0x3c, 0xb2, 0x01, 0x09, 0x0a,
	    0x07, 's', 'e', 's', '_', 'a', 0x00, 'b' };
	static const uint8_t send[] = { 0x08, 0x3d, 0xb2, 0x04, 0x0f, 0x0a,
	    0x05, 's', 'e', 's', '_', 'a', 0x12, 0x06, 'h', 'i', 0x00, 'y',
	    'o', 'u' };
	static const uint8_t badutf[] = { 0x08, 0x3e, 0xb2, 0x01, 0x09, 0x0a,
	    0x07, 's', 'e', 's', '_', 'a', 0xc3, 0x28 };
	struct it_env *e = *state;
	Opencode__ServerMessage *m;
	struct wsc w;
	char *log;

	it_client(e, &w);
	assert_int_equal(wsc_send_binary(&w, del, sizeof(del), T_IO), 0);
	m = wsc_recv_reply(&w, 60, T_REPLY);
	it_expect_error(m, 60, "INVALID_REQUEST", NULL);
	assert_non_null(strstr(m->error->message, "NUL"));
	wsc_msg_free(m);
	assert_int_equal(wsc_send_binary(&w, send, sizeof(send), T_IO), 0);
	m = wsc_recv_reply(&w, 61, T_REPLY);
	it_expect_error(m, 61, "INVALID_REQUEST", NULL);
	wsc_msg_free(m);
	assert_int_equal(wsc_send_binary(&w, badutf, sizeof(badutf), T_IO), 0);
	m = wsc_recv_reply(&w, 62, T_REPLY);
	it_expect_error(m, 62, "INVALID_REQUEST", NULL);
	assert_non_null(strstr(m->error->message, "UTF-8"));
	wsc_msg_free(m);
	/* The connection is still good, and nothing reached the upstream. */
	m = it_request_empty(&w, 63, CMP(HEALTH_CHECK), T_REPLY);
	it_expect_case(m, 63, SMP(UPSTREAM_HEALTH), NULL);
	wsc_msg_free(m);
	assert_non_null(log = it_fake_log(e));
	if (strstr(log, "DELETE ") != NULL || strstr(log, "prompt") != NULL)
		fail_msg("the upstream got: %s", log);
	free(log);
	wsc_close(&w);
}

/* ---- the WebSocket protocol ---- */

static void
test_wrong_token(void **state)
{
	struct it_env *e = *state;
	Opencode__ClientMessage cm;
	Opencode__AuthHandshake ah = OPENCODE__AUTH_HANDSHAKE__INIT;
	Opencode__ServerMessage *m;
	struct wsc w;
	char tok[IT_TOKEN_LEN + 1];

	memcpy(tok, e->token, sizeof(tok));
	tok[0] = tok[0] == '0' ? '1' : '0';
	assert_int_equal(wsc_open(&w, e->port, T_IO), 0);
	ah.token = tok;
	it_request_init(&cm, 3, CMP(AUTH_HANDSHAKE), &ah);
	assert_int_equal(wsc_send_msg(&w, &cm, T_IO), 0);
	m = recv_non_event(&w, T_IO);
	it_expect_case(m, 3, SMP(AUTH_HANDSHAKE_RESPONSE), NULL);
	assert_false(m->auth_handshake_response->success);
	assert_int_equal(m->auth_handshake_response->_error_case,
	    OPENCODE__AUTH_HANDSHAKE_RESPONSE___ERROR_ERROR);
	/* Neither token may be echoed. */
	assert_null(strstr(m->auth_handshake_response->error, tok));
	assert_null(strstr(m->auth_handshake_response->error, e->token));
	wsc_msg_free(m);
	assert_int_equal(wsc_wait_close(&w, T_IO), WS_CLOSE_POLICY);
	wsc_close(&w);
	/* An empty token is refused the same way. */
	assert_int_equal(wsc_open(&w, e->port, T_IO), 0);
	assert_int_equal(wsc_auth(&w, "", 1, T_IO), 0);
	assert_int_equal(wsc_wait_close(&w, T_IO), WS_CLOSE_POLICY);
	wsc_close(&w);
}

static void
test_first_message_not_auth(void **state)
{
	struct it_env *e = *state;
	Opencode__ServerMessage *m;
	struct wsc w;

	char *log;

	assert_int_equal(wsc_open(&w, e->port, T_IO), 0);
	it_fake_post(e, "/__fake/reset", "");
	m = it_request_empty(&w, 60, CMP(LIST_SESSIONS), T_IO);
	it_expect_error(m, 60, "UNAUTHENTICATED", NULL);
	wsc_msg_free(m);
	assert_int_equal(wsc_wait_close(&w, T_IO), WS_CLOSE_POLICY);
	wsc_close(&w);
	/* Nothing reached the upstream before auth. */
	assert_non_null(log = it_fake_log(e));
	if (strstr(log, "GET /session") != NULL)
		fail_msg("the upstream got: %s", log);
	free(log);
}

static void
test_auth_timeout(void **state)
{
	struct it_env *e = *state;
	struct wsc w;
	int64_t t0;
	int r;

	assert_int_equal(wsc_open(&w, e->port, T_IO), 0);
	t0 = it_now_ms();
	r = wsc_wait_close(&w, 9000);
	if (r == -1)
		fail_msg("not closed within 9 s without auth");
	if (r != 0 && r != WS_CLOSE_POLICY)
		fail_msg("closed with code %d", r);
	if (it_now_ms() - t0 < 4000)
		fail_msg("closed after only %lld ms",
		    (long long)(it_now_ms() - t0));
	print_message("unauthenticated connection closed (%d) after %lld ms\n",
	    r, (long long)(it_now_ms() - t0));
	wsc_close(&w);
}

static void
test_text_frame(void **state)
{
	struct it_env *e = *state;
	struct wsc w;

	it_client(e, &w);
	assert_int_equal(wsc_send_text(&w, "{\"hello\":1}", T_IO), 0);
	assert_int_equal(wsc_wait_close(&w, T_IO), WS_CLOSE_UNSUPPORTED);
	wsc_close(&w);
}

static void
test_unmasked_frame(void **state)
{
	struct it_env *e = *state;
	struct wsc w;

	it_client(e, &w);
	assert_int_equal(wsc_send_frame(&w, 1, WS_OP_BINARY, 0, "\x08\x01", 2,
	    0, T_IO), 0);
	assert_int_equal(wsc_wait_close(&w, T_IO), WS_CLOSE_PROTOCOL);
	wsc_close(&w);
}

static void
test_rsv_bit(void **state)
{
	struct it_env *e = *state;
	struct wsc w;

	it_client(e, &w);
	assert_int_equal(wsc_send_frame(&w, 1, WS_OP_BINARY, 0x40, "\x08\x01",
	    2, 1, T_IO), 0);
	assert_int_equal(wsc_wait_close(&w, T_IO), WS_CLOSE_PROTOCOL);
	wsc_close(&w);
}

static void
test_max_message(void **state)
{
	static const char *const args[] = { "--max-message", "4096", NULL };
	struct it_env *e = *state;
	struct it_opts o;
	Opencode__ClientMessage cm;
	Opencode__CreateSessionRequest cs;
	Opencode__ServerMessage *m;
	struct wsc w;
	char title[3901];
	uint8_t *big;

	memset(&o, 0, sizeof(o));
	o.ocb_args = args;
	it_start_or_fail(e, &o);
	it_client(e, &w);
	/* Just under the limit passes... */
	memset(title, 'x', sizeof(title) - 1);
	title[sizeof(title) - 1] = '\0';
	build_create(&cm, &cs, 70, title);
	assert_true(opencode__client_message__get_packed_size(&cm) < 4096);
	m = it_call(&w, &cm, T_REPLY);
	it_expect_case(m, 70, SMP(SESSION_INFO), NULL);
	assert_string_equal(m->session_info->title, title);
	wsc_msg_free(m);
	/* ...one over it closes with 1009. */
	assert_non_null(big = calloc(1, 4097));
	assert_int_equal(wsc_send_binary(&w, big, 4097, T_IO), 0);
	free(big);
	assert_int_equal(wsc_wait_close(&w, T_IO), WS_CLOSE_TOO_BIG);
	wsc_close(&w);
}

static void
test_ping_pong(void **state)
{
	struct it_env *e = *state;
	struct wsc w;
	struct wsc_frame f;
	enum wsc_kind k;
	int i;

	assert_int_equal(wsc_open(&w, e->port, T_IO), 0);
	/* Before auth... */
	assert_int_equal(wsc_send_ping(&w, "before-auth", 11, T_IO), 0);
	k = wsc_recv(&w, &f, T_IO);
	assert_int_equal(k, WSC_PONG);
	assert_int_equal(f.len, 11);
	assert_memory_equal(f.data, "before-auth", 11);
	wsc_frame_free(&f);
	assert_int_equal(wsc_auth(&w, e->token, 1, T_IO), 1);
	/* ...after it, and an empty one. */
	assert_int_equal(wsc_send_ping(&w, "\x00\x01\xff", 3, T_IO), 0);
	for (i = 0; i < 10; i++) {
		k = wsc_recv(&w, &f, T_IO);
		if (k != WSC_MESSAGE)
			break;
		wsc_frame_free(&f);	/* an event */
	}
	assert_int_equal(k, WSC_PONG);
	assert_int_equal(f.len, 3);
	assert_memory_equal(f.data, "\x00\x01\xff", 3);
	wsc_frame_free(&f);
	assert_int_equal(wsc_send_ping(&w, NULL, 0, T_IO), 0);
	for (i = 0; i < 10; i++) {
		k = wsc_recv(&w, &f, T_IO);
		if (k != WSC_MESSAGE)
			break;
		wsc_frame_free(&f);
	}
	assert_int_equal(k, WSC_PONG);
	assert_int_equal(f.len, 0);
	wsc_frame_free(&f);
	wsc_close(&w);
}

static void
test_ping_inside_fragmented_message(void **state)
{
	struct it_env *e = *state;
	Opencode__ClientMessage cm;
	Opencode__HealthCheck hc = OPENCODE__HEALTH_CHECK__INIT;
	Opencode__ServerMessage *m;
	struct wsc w;
	struct wsc_frame f;
	uint8_t buf[64];
	size_t len;
	int i;
	enum wsc_kind k;

	it_client(e, &w);
	it_request_init(&cm, 71, CMP(HEALTH_CHECK), &hc);
	len = opencode__client_message__pack(&cm, buf);
	assert_true(len >= 2);
	assert_int_equal(wsc_send_frame(&w, 0, WS_OP_BINARY, 0, buf, 1, 1,
	    T_IO), 0);
	assert_int_equal(wsc_send_ping(&w, "mid", 3, T_IO), 0);
	for (i = 0; i < 10; i++) {
		k = wsc_recv(&w, &f, T_IO);
		if (k != WSC_MESSAGE)
			break;
		wsc_frame_free(&f);
	}
	assert_int_equal(k, WSC_PONG);
	assert_memory_equal(f.data, "mid", 3);
	wsc_frame_free(&f);
	assert_int_equal(wsc_send_frame(&w, 1, WS_OP_CONT, 0, buf + 1, len - 1,
	    1, T_IO), 0);
	m = wsc_recv_reply(&w, 71, T_REPLY);
	it_expect_case(m, 71, SMP(UPSTREAM_HEALTH), NULL);
	wsc_msg_free(m);
	wsc_close(&w);
}

static void
test_close_echoed(void **state)
{
	struct it_env *e = *state;
	struct wsc w;

	it_client(e, &w);
	assert_int_equal(wsc_send_close(&w, 1000, "bye", T_IO), 0);
	assert_int_equal(wsc_wait_close(&w, T_IO), 1000);
	wsc_close(&w);
	/* Before auth as well. */
	assert_int_equal(wsc_open(&w, e->port, T_IO), 0);
	assert_int_equal(wsc_send_close(&w, 1001, NULL, T_IO), 0);
	assert_int_equal(wsc_wait_close(&w, T_IO), 1001);
	wsc_close(&w);
}

static void
test_close_invalid_code(void **state)
{
	struct it_env *e = *state;
	struct wsc w;
	uint8_t p[2] = { 0x03, 0xe4 };	/* 996: not a valid close code */

	it_client(e, &w);
	assert_int_equal(wsc_send_frame(&w, 1, WS_OP_CLOSE, 0, p, 2, 1, T_IO),
	    0);
	assert_int_equal(wsc_wait_close(&w, T_IO), WS_CLOSE_PROTOCOL);
	wsc_close(&w);
}

static void
test_bad_message(void **state)
{
	static const uint8_t garbage[] = { 0xff, 0xff, 0xff, 0xff, 0x0f };
	struct it_env *e = *state;
	Opencode__ServerMessage *m;
	struct wsc w;

	it_client(e, &w);
	assert_int_equal(wsc_send_binary(&w, garbage, sizeof(garbage), T_IO),
	    0);
	m = recv_non_event(&w, T_IO);
	if (m == NULL || m->payload_case != SMP(ERROR) ||
	    strcmp(m->error->code, "BAD_MESSAGE") != 0)
		fail_msg("expected BAD_MESSAGE, got %s", it_describe(m));
	wsc_msg_free(m);
	/* The connection stays usable. */
	m = it_request_empty(&w, 80, CMP(HEALTH_CHECK), T_REPLY);
	it_expect_case(m, 80, SMP(UPSTREAM_HEALTH), NULL);
	wsc_msg_free(m);
	wsc_close(&w);
}

static void
test_unknown_request(void **state)
{
	struct it_env *e = *state;
	Opencode__ClientMessage cm = OPENCODE__CLIENT_MESSAGE__INIT;
	Opencode__ServerMessage *m;
	struct wsc w;
	/* request_id 82 and a field number no version defines (999, varint). */
	static const uint8_t future[] = { 0x08, 0x52, 0xb8, 0x3e, 0x01 };

	it_client(e, &w);
	cm.request_id = 81;
	m = it_call(&w, &cm, T_REPLY);
	it_expect_error(m, 81, "UNKNOWN_REQUEST", NULL);
	wsc_msg_free(m);
	assert_int_equal(wsc_send_binary(&w, future, sizeof(future), T_IO), 0);
	m = wsc_recv_reply(&w, 82, T_REPLY);
	it_expect_error(m, 82, "UNKNOWN_REQUEST", NULL);
	wsc_msg_free(m);
	wsc_close(&w);
}

/* ---- opening handshake ---- */

static int
handshake(struct it_env *e, const char *const *extra, int expect_eof)
{
	struct wsc w;
	struct wsc_frame f;
	int st;

	assert_int_equal(wsc_connect(&w, e->port, T_IO), 0);
	/* A server may answer (and close) before reading all of a bad head. */
	(void)wsc_send_handshake(&w, NULL, extra, T_IO);
	st = wsc_read_response(&w, T_IO);
	if (st == 101)
		assert_true(w.accept_ok);
	if (st == 426) {
		if (wsc_header(&w, "Sec-WebSocket-Version") == NULL ||
		    strcmp(wsc_header(&w, "Sec-WebSocket-Version"), "13") != 0)
			fail_msg("426 without Sec-WebSocket-Version: 13:\n%s",
			    w.head);
	}
	if (st != 101 && expect_eof) {
		/* Refused: the TCP connection is closed. */
		if (wsc_recv(&w, &f, T_IO) != WSC_EOF)
			fail_msg("connection not closed after %d", st);
		wsc_frame_free(&f);
	}
	wsc_close(&w);
	return st;
}

static void
test_handshake_errors(void **state)
{
	struct it_env *e = *state;
	char host[64], localhost[64], v6[64], *pad;
	const char *h[3] = { NULL, NULL, NULL };

	assert_int_equal(handshake(e, NULL, 1), 101);

	h[0] = "Sec-WebSocket-Version: 8";
	assert_int_equal(handshake(e, h, 1), 426);

	snprintf(host, sizeof(host), "Host: evil.example:%u",
	    (unsigned)e->port);
	h[0] = host;
	assert_int_equal(handshake(e, h, 1), 403);
	snprintf(host, sizeof(host), "Host: 127.0.0.1:%u",
	    (unsigned)e->port + 1);
	assert_int_equal(handshake(e, h, 1), 403);
	snprintf(localhost, sizeof(localhost), "Host: localhost:%u",
	    (unsigned)e->port);
	h[0] = localhost;
	assert_int_equal(handshake(e, h, 1), 101);
	snprintf(v6, sizeof(v6), "Host: [::1]:%u", (unsigned)e->port);
	h[0] = v6;
	assert_int_equal(handshake(e, h, 1), 101);

	h[0] = "Origin: http://evil.example";
	assert_int_equal(handshake(e, h, 1), 403);

	h[0] = "Sec-WebSocket-Key:";
	assert_int_equal(handshake(e, h, 1), 400);
	h[0] = "Sec-WebSocket-Key: dG9vIHNob3J0";	/* "too short" */
	assert_int_equal(handshake(e, h, 1), 400);
	h[0] = "Upgrade:";
	assert_int_equal(handshake(e, h, 1), 400);
	h[0] = "Connection: keep-alive";
	assert_int_equal(handshake(e, h, 1), 400);

	assert_non_null(pad = malloc(9000 + 8));
	memcpy(pad, "X-Pad: ", 7);
	memset(pad + 7, 'a', 9000);
	pad[9007] = '\0';
	h[0] = pad;
	assert_int_equal(handshake(e, h, 1), 431);
	free(pad);
}

static void
test_handshake_method(void **state)
{
	struct it_env *e = *state;
	struct wsc w;

	assert_int_equal(wsc_connect(&w, e->port, T_IO), 0);
	assert_int_equal(wsc_send_handshake(&w, "POST / HTTP/1.1", NULL, T_IO),
	    0);
	assert_int_equal(wsc_read_response(&w, T_IO), 400);
	wsc_close(&w);
	assert_int_equal(wsc_connect(&w, e->port, T_IO), 0);
	assert_int_equal(wsc_send_handshake(&w, "GET / HTTP/1.0", NULL, T_IO),
	    0);
	assert_int_equal(wsc_read_response(&w, T_IO), 400);
	wsc_close(&w);
}

static void
test_handshake_slow_head(void **state)
{
	struct it_env *e = *state;
	struct wsc w;
	struct wsc_frame f;
	int64_t t0;
	enum wsc_kind k;

	assert_int_equal(wsc_connect(&w, e->port, T_IO), 0);
	assert_int_equal(wsc_send_raw(&w, "GET / HTTP/1.1\r\n", 16, T_IO), 0);
	t0 = it_now_ms();
	k = wsc_recv(&w, &f, 9000);
	wsc_frame_free(&f);
	/* Closed (a 408 head or nothing is fine), not left open. */
	if (k == WSC_TIMEOUT)
		fail_msg("incomplete head still open after 9 s");
	if (it_now_ms() - t0 < 4000)
		fail_msg("closed after only %lld ms",
		    (long long)(it_now_ms() - t0));
	wsc_close(&w);
}

static void
test_allow_origin(void **state)
{
	static const char *const args[] = {
		"--allow-origin", "http://app.example",
		"--allow-origin", "tauri://localhost", NULL
	};
	struct it_env *e = *state;
	struct it_opts o;
	const char *h[2] = { NULL, NULL };

	memset(&o, 0, sizeof(o));
	o.ocb_args = args;
	it_start_or_fail(e, &o);
	h[0] = "Origin: http://app.example";
	assert_int_equal(handshake(e, h, 1), 101);
	h[0] = "Origin: tauri://localhost";
	assert_int_equal(handshake(e, h, 1), 101);
	h[0] = "Origin: http://evil.example";
	assert_int_equal(handshake(e, h, 1), 403);
	h[0] = "Origin: http://app.example.evil.example";
	assert_int_equal(handshake(e, h, 1), 403);
	assert_int_equal(handshake(e, NULL, 1), 101);
}

/* ---- concurrency and keep-alive ---- */

#define NCLIENTS	50
#define NREQ		5
/*
 * The replies come in the pool's FIFO order, so the last client's first
 * reply waits for every request before it, 50 GetAuth among them, each a
 * 6.5 MB /provider fetch: half a second apiece on a loaded 2-core machine.
 */
#define T_CONCURRENT	120000

static void
test_concurrent_clients(void **state)
{
	static const uint64_t order[NREQ] = { 5, 2, 4, 1, 3 };
	struct it_env *e = *state;
	struct wsc *w;
	Opencode__ClientMessage cm;
	Opencode__CreateSessionRequest cs;
	Opencode__GetAuthRequest ga;
	Opencode__ListSessionsRequest ls =
	    OPENCODE__LIST_SESSIONS_REQUEST__INIT;
	Opencode__ListAgentsRequest la = OPENCODE__LIST_AGENTS_REQUEST__INIT;
	Opencode__HealthCheck hc = OPENCODE__HEALTH_CHECK__INIT;
	Opencode__ServerMessage *m;
	char title[64];
	uint64_t id;
	int i, j, kind;
	int64_t t0 = it_now_ms();

	assert_non_null(w = calloc(NCLIENTS, sizeof(*w)));
	for (i = 0; i < NCLIENTS; i++)
		it_client(e, &w[i]);
	/* Every request of every client is in flight before a reply is read. */
	for (i = 0; i < NCLIENTS; i++) {
		for (j = 0; j < NREQ; j++) {
			id = (uint64_t)(i + 1) * 1000 + order[j];
			kind = (int)((order[j] + (uint64_t)i) % 5);
			switch (kind) {
			case 0:
				it_request_init(&cm, id, CMP(LIST_SESSIONS),
				    &ls);
				break;
			case 1:
				it_request_init(&cm, id, CMP(HEALTH_CHECK),
				    &hc);
				break;
			case 2:
				it_request_init(&cm, id, CMP(LIST_AGENTS), &la);
				break;
			case 3:
				build_get_auth(&cm, &ga, id, "mock");
				break;
			default:
				snprintf(title, sizeof(title), "c%d-r%llu", i,
				    (unsigned long long)id);
				build_create(&cm, &cs, id, title);
				break;
			}
			assert_int_equal(wsc_send_msg(&w[i], &cm, T_IO), 0);
		}
	}
	for (i = NCLIENTS - 1; i >= 0; i--) {
		for (j = 1; j <= NREQ; j++) {
			id = (uint64_t)(i + 1) * 1000 + (uint64_t)j;
			kind = (int)(((uint64_t)j + (uint64_t)i) % 5);
			m = wsc_recv_reply(&w[i], id, T_CONCURRENT);
			if (m == NULL)
				fail_msg("client %d: no reply to %llu", i,
				    (unsigned long long)id);
			switch (kind) {
			case 0:
				it_expect_case(m, id, SMP(SESSION_LIST), NULL);
				assert_int_equal(m->session_list->n_sessions,
				    12);
				break;
			case 1:
				it_expect_case(m, id, SMP(UPSTREAM_HEALTH), NULL);
				break;
			case 2:
				it_expect_case(m, id, SMP(AGENT_LIST), NULL);
				assert_int_equal(m->agent_list->n_agents, 7);
				break;
			case 3:
				it_expect_case(m, id, SMP(AUTH_STATUS), NULL);
				assert_true(m->auth_status->connected);
				break;
			default:
				it_expect_case(m, id, SMP(SESSION_INFO), NULL);
				snprintf(title, sizeof(title), "c%d-r%llu", i,
				    (unsigned long long)id);
				assert_string_equal(m->session_info->title,
				    title);
				break;
			}
			wsc_msg_free(m);
		}
		/* No reply twice, none for a request that was not made. */
		assert_null(w[i].pending);
	}
	print_message("%d clients x %d requests: %lld ms\n", NCLIENTS, NREQ,
	    (long long)(it_now_ms() - t0));
	for (i = 0; i < NCLIENTS; i++)
		wsc_close(&w[i]);
	free(w);
}

static void
test_keepalive_reuse(void **state)
{
	struct it_env *e = *state;
	Opencode__ServerMessage *m;
	struct wsc w;
	long req, conns;
	int i;

	it_client(e, &w);
	/* Warm up, then count from here. */
	m = it_request_empty(&w, 90, CMP(HEALTH_CHECK), T_REPLY);
	it_expect_case(m, 90, SMP(UPSTREAM_HEALTH), NULL);
	wsc_msg_free(m);
	it_fake_post(e, "/__fake/reset", "");
	for (i = 0; i < 40; i++) {
		m = it_request_empty(&w, 100 + (uint64_t)i,
		    i % 2 ? CMP(HEALTH_CHECK) : CMP(LIST_SESSIONS), T_REPLY);
		if (m == NULL || m->payload_case == SMP(ERROR))
			fail_msg("request %d: %s", i, it_describe(m));
		wsc_msg_free(m);
	}
	assert_int_equal(it_fake_count(e, &req, &conns, NULL), 0);
	print_message("40 sequential requests: upstream saw %ld requests on "
	    "%ld connections\n", req, conns);
	assert_true(req >= 40);
	if (conns > 2)
		fail_msg("no keep-alive: %ld connections for %ld requests",
		    conns, req);
	wsc_close(&w);
}

/* ---- streaming ---- */

static void
test_send_message_and_events(void **state)
{
	struct it_env *e = *state;
	Opencode__SendMessage sm = OPENCODE__SEND_MESSAGE__INIT;
	Opencode__ServerMessage *m;
	struct wsc w;
	char text[512], *last;
	size_t tl = 0;
	int completed = 0;
	int64_t deadline;

	it_client(e, &w);
	sm.session_id = FX_SESSION;
	sm.text = "text";
	m = it_request(&w, 120, CMP(SEND_MESSAGE), &sm, T_REPLY);
	it_expect_case(m, 120, SMP(_NOT_SET), NULL);
	wsc_msg_free(m);
	assert_non_null(last = it_fake_last(e, "POST", "/session/"));
	if (strncmp(last, "POST /session/" FX_SESSION "/prompt_async\n",
	    strlen("POST /session/" FX_SESSION "/prompt_async\n")) != 0 ||
	    strstr(last, "\"parts\"") == NULL ||
	    strstr(last, "\"text\":\"text\"") == NULL)
		fail_msg("upstream got: %s", last);
	free(last);

	it_replay(e, "sse-text.txt");
	text[0] = '\0';
	deadline = it_now_ms() + T_REPLY;
	/* Tokens, then exactly one completion (and nothing more for 1 s). */
	while (it_now_ms() < deadline) {
		int left = (int)(deadline - it_now_ms());

		if (completed)
			left = left > 1000 ? 1000 : left;
		if ((m = wsc_recv_msg(&w, NULL, left)) == NULL)
			break;
		assert_int_equal(m->request_id, 0);
		if (m->payload_case == SMP(TOKEN)) {
			assert_string_equal(m->token->session_id, FX_SESSION);
			assert_true(tl + strlen(m->token->delta) <
			    sizeof(text));
			memcpy(text + tl, m->token->delta,
			    strlen(m->token->delta) + 1);
			tl += strlen(m->token->delta);
		} else if (m->payload_case == SMP(COMPLETED)) {
			assert_string_equal(m->completed->session_id,
			    FX_SESSION);
			assert_string_equal(m->completed->finish, "stop");
			assert_int_equal(m->completed->input_tokens, 120);
			assert_int_equal(m->completed->output_tokens, 6);
			completed++;
		}
		wsc_msg_free(m);
		if (completed && it_now_ms() + 1000 < deadline)
			deadline = it_now_ms() + 1000;
	}
	assert_string_equal(text, "Hello from the mock language model.");
	assert_int_equal(completed, 1);
	wsc_close(&w);
}

static Opencode__ServerMessage *
reply_permission(struct wsc *w, uint64_t id, const char *per,
    const char *reply)
{
	Opencode__ReplyPermission rp = OPENCODE__REPLY_PERMISSION__INIT;

	rp.session_id = FX_SESSION;
	rp.permission_id = (char *)per;
	rp.reply = (char *)reply;
	return it_request(w, id, CMP(REPLY_PERMISSION), &rp, T_REPLY);
}

static void
test_cancel_and_permission(void **state)
{
	struct it_env *e = *state;
	Opencode__CancelRequest cr = OPENCODE__CANCEL_REQUEST__INIT;
	Opencode__SendMessage sm = OPENCODE__SEND_MESSAGE__INIT;
	Opencode__ServerMessage *m;
	struct wsc w;
	char *last;

	it_client(e, &w);
	cr.session_id = FX_SESSION;
	m = it_request(&w, 140, CMP(CANCEL_REQUEST), &cr, T_REPLY);
	it_expect_case(m, 140, SMP(_NOT_SET), NULL);
	wsc_msg_free(m);
	assert_non_null(last = it_fake_last(e, "POST", "/session/"));
	assert_memory_equal(last, "POST /session/" FX_SESSION "/abort\n",
	    strlen("POST /session/" FX_SESSION "/abort\n"));
	free(last);

	m = reply_permission(&w, 141, PERM_ID, "once");
	it_expect_case(m, 141, SMP(_NOT_SET), NULL);
	wsc_msg_free(m);
	assert_non_null(last = it_fake_last(e, "POST", "/permission/"));
	if (strncmp(last, PERM_LINE, strlen(PERM_LINE)) != 0 ||
	    strstr(last, "\"reply\":\"once\"") == NULL)
		fail_msg("upstream got: %s", last);
	free(last);

	m = reply_permission(&w, 142, "per_0000000000000000000000000000",
	    "reject");
	it_expect_error(m, 142, "NOT_FOUND", NULL);
	wsc_msg_free(m);
	m = reply_permission(&w, 143, PERM_ID,
	    "maybe");
	it_expect_error(m, 143, "INVALID_REQUEST", NULL);
	wsc_msg_free(m);
	m = reply_permission(&w, 144, "../x", "once");
	it_expect_error(m, 144, "INVALID_REQUEST", NULL);
	wsc_msg_free(m);

	/* A prompt to a session the upstream does not know. */
	sm.session_id = UNKNOWN_SESSION;
	sm.text = "text";
	m = it_request(&w, 145, CMP(SEND_MESSAGE), &sm, T_REPLY);
	it_expect_error(m, 145, "NOT_FOUND", NULL);
	wsc_msg_free(m);
	wsc_close(&w);
}

/*
 * A client that does not read while 2000 tokens stream in: merging is
 * allowed above the high-water mark, losing text is not (nor is a second
 * completion).  A close with 1013 would also be within the contract, but
 * not for this volume.
 */
static void
test_many_tokens_lossless(void **state)
{
	struct it_env *e = *state;
	Opencode__ServerMessage *m;
	char *fx, *p, *want, *got;
	size_t wl = 0, gl = 0, n, msgs = 0;
	struct wsc w;
	int completed = 0;
	int64_t deadline;

	assert_non_null(fx = it_read_fixture("sse-many.txt", NULL));
	assert_non_null(want = calloc(1, strlen(fx)));
	assert_non_null(got = calloc(1, strlen(fx)));
	for (p = fx; (p = strstr(p, "\"delta\":\"")) != NULL; p += n) {
		p += 9;
		n = strcspn(p, "\"");
		memcpy(want + wl, p, n);
		wl += n;
	}
	free(fx);
	assert_true(wl > 10000);

	it_client(e, &w);
	it_replay(e, "sse-many.txt");
	sleep(2);	/* not reading: the queue fills */
	deadline = it_now_ms() + 20000;
	while (it_now_ms() < deadline) {
		int left = (int)(deadline - it_now_ms());

		if ((m = wsc_recv_msg(&w, NULL, completed ? 1000 : left)) ==
		    NULL)
			break;
		if (m->payload_case == SMP(TOKEN)) {
			n = strlen(m->token->delta);
			assert_true(gl + n <= strlen(want) + 1);
			memcpy(got + gl, m->token->delta, n);
			gl += n;
			msgs++;
		} else if (m->payload_case == SMP(COMPLETED))
			completed++;
		wsc_msg_free(m);
	}
	print_message("2000 upstream deltas arrived as %zu ChatTokens\n", msgs);
	assert_int_equal(gl, wl);
	assert_memory_equal(got, want, wl);
	assert_int_equal(completed, 1);
	free(want);
	free(got);
	wsc_close(&w);
}

static void
test_subscribe_filter(void **state)
{
	struct it_env *e = *state;
	Opencode__Subscribe sub = OPENCODE__SUBSCRIBE__INIT;
	Opencode__ServerMessage *m;
	char *ids[1] = { "ses_someotherchat0000000000000" };
	struct wsc w;
	int tokens = 0;

	it_client(e, &w);
	sub.n_session_ids = 1;
	sub.session_ids = ids;
	m = it_request(&w, 130, CMP(SUBSCRIBE), &sub, T_REPLY);
	it_expect_case(m, 130, SMP(_NOT_SET), NULL);
	wsc_msg_free(m);
	it_replay(e, "sse-text.txt");
	/* Nothing of the filtered-out session may arrive. */
	while ((m = wsc_recv_msg(&w, NULL, 1500)) != NULL) {
		if (m->payload_case == SMP(TOKEN) ||
		    m->payload_case == SMP(COMPLETED) ||
		    m->payload_case == SMP(SESSION_EVENT))
			tokens++;
		wsc_msg_free(m);
	}
	assert_int_equal(tokens, 0);
	/* An empty list means every session again. */
	sub.n_session_ids = 0;
	m = it_request(&w, 131, CMP(SUBSCRIBE), &sub, T_REPLY);
	it_expect_case(m, 131, SMP(_NOT_SET), NULL);
	wsc_msg_free(m);
	it_fake_post(e, "/__fake/sse", "sse-text.txt");
	while ((m = wsc_recv_msg(&w, NULL, 1500)) != NULL) {
		if (m->payload_case == SMP(TOKEN))
			tokens++;
		wsc_msg_free(m);
	}
	assert_int_equal(tokens, 6);
	wsc_close(&w);
}

static void
test_sse_reconnect(void **state)
{
	struct it_env *e = *state;
	Opencode__ServerMessage *m;
	struct wsc w;
	int64_t deadline;
	int up = 0;

	it_client(e, &w);
	it_wait_stream(e);
	/* The upstream ends the stream as it does on SIGTERM. */
	it_fake_post(e, "/__fake/sse-end", "");
	deadline = it_now_ms() + 15000;
	while (!up && it_now_ms() < deadline) {
		if ((m = wsc_recv_msg(&w, NULL,
		    (int)(deadline - it_now_ms()))) == NULL)
			break;
		if (m->payload_case == SMP(UPSTREAM_STATUS) &&
		    m->upstream_status->connected) {
			assert_int_equal(m->request_id, 0);
			up = 1;
		}
		wsc_msg_free(m);
	}
	if (!up)
		fail_msg("no UpstreamStatus{connected: true} within 15 s "
		    "of the stream's end");
	if (it_fake_wait_streams(e, 1, T_IO) == -1)
		fail_msg("no new /event stream after the reconnect");
	wsc_close(&w);
}

/* ---- shutdown ---- */

static void
test_sigterm_closes_1001(void **state)
{
	struct it_env *e = *state;
	struct wsc a, u;
	struct wsc_frame f;
	Opencode__ServerMessage *m;
	enum wsc_kind k;
	int64_t t0, t_term;
	int st, extra, i;

	it_client(e, &a);
	/* u stays unauthenticated. */
	assert_int_equal(wsc_open(&u, e->port, T_IO), 0);
	it_signal(e, SIGTERM);
	t_term = it_now_ms();
	for (i = 0; i < 2; i++) {
		struct wsc *w = i == 0 ? &a : &u;

		for (;;) {
			k = wsc_recv(w, &f, T_IO);
			if (k != WSC_MESSAGE)
				break;
			m = opencode__server_message__unpack(NULL, f.len,
			    f.data);
			assert_non_null(m);
			assert_true(is_event(m));
			wsc_msg_free(m);
			wsc_frame_free(&f);
		}
		if (k != WSC_CLOSE)
			fail_msg("client %d: no close frame on SIGTERM (%d)", i,
			    (int)k);
		assert_int_equal(f.code, WS_CLOSE_GOING_AWAY);
		wsc_frame_free(&f);
		/* Both closes sent: the server closes TCP (RFC 6455 7.1.1). */
		(void)wsc_send_close(w, WS_CLOSE_GOING_AWAY, NULL, T_IO);
		t0 = it_now_ms();
		assert_int_equal(wsc_recv(w, &f, T_IO), WSC_EOF);
		if (it_now_ms() - t0 > 1000)
			fail_msg("client %d: TCP closed %lld ms after the "
			    "close handshake completed", i,
			    (long long)(it_now_ms() - t0));
		wsc_close(w);	/* a well-behaved client closes its end too */
	}
	st = it_wait(e, T_EXIT, &extra);
	print_message("ocbroker exited %lld ms after SIGTERM\n",
	    (long long)(it_now_ms() - t_term));
	assert_int_not_equal(st, -1);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
	assert_false(extra);
}

static void
test_token_fd(void **state)
{
	static const char tok[] =
	    "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
	struct it_env *e = *state;
	struct it_opts o;
	struct wsc w;

	memset(&o, 0, sizeof(o));
	o.token_fd = 1;
	o.token_in = tok;
	it_start_or_fail(e, &o);
	/* The token the parent app generated is not printed. */
	assert_false(e->has_token);
	assert_int_equal(wsc_open(&w, e->port, T_IO), 0);
	assert_int_equal(wsc_auth(&w, tok, 1, T_IO), 1);
	wsc_close(&w);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ready_line_parser),
		cmocka_unit_test_setup_teardown(test_ready_and_auth,
		    it_setup_default, it_teardown),
		cmocka_unit_test_setup_teardown(test_list_sessions,
		    it_setup_default, it_teardown),
		cmocka_unit_test_setup_teardown(test_create_session_title,
		    it_setup_default, it_teardown),
		cmocka_unit_test_setup_teardown(test_create_session_no_title,
		    it_setup_default, it_teardown),
		cmocka_unit_test_setup_teardown(test_delete_session,
		    it_setup_default, it_teardown),
		cmocka_unit_test_setup_teardown(test_delete_session_not_found,
		    it_setup_default, it_teardown),
		cmocka_unit_test_setup_teardown(test_list_agents,
		    it_setup_default, it_teardown),
		cmocka_unit_test_setup_teardown(test_provider_status,
		    it_setup_default, it_teardown),
		cmocka_unit_test_setup_teardown(test_get_auth,
		    it_setup_default, it_teardown),
		cmocka_unit_test_setup_teardown(test_set_auth_api,
		    it_setup_default, it_teardown),
		cmocka_unit_test_setup_teardown(test_set_auth_oauth,
		    it_setup_default, it_teardown),
		cmocka_unit_test_setup_teardown(test_delete_auth,
		    it_setup_default, it_teardown),
		cmocka_unit_test_setup_teardown(test_health,
		    it_setup_default, it_teardown),
		cmocka_unit_test_setup_teardown(test_upstream_failures,
		    it_setup_none, it_teardown),
		cmocka_unit_test_setup_teardown(test_upstream_password,
		    it_setup_none, it_teardown),
		cmocka_unit_test_setup_teardown(test_nul_in_string,
		    it_setup_default, it_teardown),
		cmocka_unit_test_setup_teardown(test_invalid_session_id,
		    it_setup_default, it_teardown),
		cmocka_unit_test_setup_teardown(test_wrong_token,
		    it_setup_default, it_teardown),
		cmocka_unit_test_setup_teardown(test_first_message_not_auth,
		    it_setup_default, it_teardown),
		cmocka_unit_test_setup_teardown(test_auth_timeout,
		    it_setup_default, it_teardown),
		cmocka_unit_test_setup_teardown(test_text_frame,
		    it_setup_default, it_teardown),
		cmocka_unit_test_setup_teardown(test_unmasked_frame,
		    it_setup_default, it_teardown),
		cmocka_unit_test_setup_teardown(test_rsv_bit,
		    it_setup_default, it_teardown),
		cmocka_unit_test_setup_teardown(test_max_message,
		    it_setup_none, it_teardown),
		cmocka_unit_test_setup_teardown(test_ping_pong,
		    it_setup_default, it_teardown),
		cmocka_unit_test_setup_teardown(
		    test_ping_inside_fragmented_message, it_setup_default,
		    it_teardown),
		cmocka_unit_test_setup_teardown(test_close_echoed,
		    it_setup_default, it_teardown),
		cmocka_unit_test_setup_teardown(test_close_invalid_code,
		    it_setup_default, it_teardown),
		cmocka_unit_test_setup_teardown(test_bad_message,
		    it_setup_default, it_teardown),
		cmocka_unit_test_setup_teardown(test_unknown_request,
		    it_setup_default, it_teardown),
		cmocka_unit_test_setup_teardown(test_handshake_errors,
		    it_setup_default, it_teardown),
		cmocka_unit_test_setup_teardown(test_handshake_method,
		    it_setup_default, it_teardown),
		cmocka_unit_test_setup_teardown(test_handshake_slow_head,
		    it_setup_default, it_teardown),
		cmocka_unit_test_setup_teardown(test_allow_origin,
		    it_setup_none, it_teardown),
		cmocka_unit_test_setup_teardown(test_concurrent_clients,
		    it_setup_default, it_teardown),
		cmocka_unit_test_setup_teardown(test_keepalive_reuse,
		    it_setup_default, it_teardown),
		cmocka_unit_test_setup_teardown(test_send_message_and_events,
		    it_setup_default, it_teardown),
		cmocka_unit_test_setup_teardown(test_cancel_and_permission,
		    it_setup_default, it_teardown),
		cmocka_unit_test_setup_teardown(test_many_tokens_lossless,
		    it_setup_default, it_teardown),
		cmocka_unit_test_setup_teardown(test_subscribe_filter,
		    it_setup_default, it_teardown),
		cmocka_unit_test_setup_teardown(test_sse_reconnect,
		    it_setup_default, it_teardown),
		cmocka_unit_test_setup_teardown(test_sigterm_closes_1001,
		    it_setup_default, it_teardown),
		cmocka_unit_test_setup_teardown(test_token_fd,
		    it_setup_none, it_teardown),
	};

	/* OCB_IT_FILTER=test_health (globs allowed) runs a subset. */
	return IT_RUN("integration", tests, NULL);
}
