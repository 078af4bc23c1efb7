/*
 * Copyright (c) 2026 The ocbroker authors
 * SPDX-License-Identifier: ISC (the licence is in the file LICENSE)
 */

/*
 * cmocka tests of netproc/api.c: request building, status mapping and every
 * reply mapper on the real OpenCode 1.18.34 captures in tests/fixtures
 * (directory from $OCB_FIXTURES, else tests/fixtures or fixtures).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/utf8.h"
#include "netproc/api.h"
#include "netproc/arena.h"
#include "netproc/json.h"
#include "tests/support/cases.h"
#include "tests/support/clock.h"
#include "tests/support/fixture.h"

#if defined(__SANITIZE_ADDRESS__)
#define SANITIZED	1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SANITIZED	1
#endif
#endif
#ifndef SANITIZED
#define SANITIZED	0
#endif

#define JSON_CT		"application/json"

/* ---- fixtures ---- */

/* A *.http capture: "< " status line and headers, "<", then the body. */
struct http {
	uint8_t	*raw;
	long	 status;
	char	 ctype[128];
	struct api_response resp;
};

static void
load_http(const char *name, struct http *h)
{
	size_t	 len, i = 0, e;
	char	*line;

	memset(h, 0, sizeof(*h));
	h->raw = fx_load(name, &len);
	for (;;) {
		if (i >= len)
			fail_msg("%s: no body separator", name);
		for (e = i; e < len && h->raw[e] != '\n'; e++)
			;
		line = (char *)h->raw + i;
		if (e - i == 1 && line[0] == '<') {
			i = e + 1;
			break;
		}
		if (strncmp(line, "< HTTP/1.1 ", 11) == 0)
			h->status = strtol(line + 11, NULL, 10);
		else if (strncasecmp(line, "< Content-Type: ", 16) == 0)
			snprintf(h->ctype, sizeof(h->ctype), "%.*s",
			    (int)(e - i - 16), line + 16);
		i = e + 1;
	}
	h->resp.status = h->status;
	h->resp.content_type = h->ctype[0] != '\0' ? h->ctype : NULL;
	h->resp.body = h->raw + i;
	h->resp.body_len = len - i;
}

/* ---- helpers ---- */

static Opencode__ServerMessage *
reply(const struct api_call *c, long status, const char *ct,
    const void *body, size_t len)
{
	struct api_response	 r = { status, ct, body, len, NULL };
	Opencode__ServerMessage	*sm;
	uint8_t			*out;
	size_t			 outlen;

	assert_int_equal(api_reply_pack(c, &r, &out, &outlen), 0);
	sm = opencode__server_message__unpack(NULL, outlen, out);
	assert_non_null(sm);
	assert_true(sm->request_id == c->request_id);
	free(out);
	return sm;
}

static Opencode__ServerMessage *
reply_str(const struct api_call *c, long status, const char *ct,
    const char *body)
{
	return reply(c, status, ct, body, strlen(body));
}

static void
call_init(struct api_call *c, int kind, int quote)
{
	memset(c, 0, sizeof(*c));
	c->request_id = 77;
	c->kind = kind;
	c->quote_errors = quote;
	snprintf(c->provider_id, sizeof(c->provider_id), "mock");
}

static void
expect_error(Opencode__ServerMessage *sm, const char *code, const char *msg)
{
	assert_int_equal(sm->payload_case,
	    OPENCODE__SERVER_MESSAGE__PAYLOAD_ERROR);
	assert_string_equal(sm->error->code, code);
	if (msg != NULL)
		assert_string_equal(sm->error->message, msg);
	assert_true(strlen(sm->error->message) < API_MSG_MAX);
	assert_true(utf8_valid((const uint8_t *)sm->error->message,
	    strlen(sm->error->message)));
	opencode__server_message__free_unpacked(sm, NULL);
}

static void
expect_empty(Opencode__ServerMessage *sm)
{
	assert_int_equal(sm->payload_case,
	    OPENCODE__SERVER_MESSAGE__PAYLOAD__NOT_SET);
	opencode__server_message__free_unpacked(sm, NULL);
}

/* ---- request building ---- */

struct built {
	struct api_call		call;
	struct api_error	err;
	int			rc;
};

static void
build(Opencode__ClientMessage *m, struct built *b)
{
	b->rc = api_call_build(m, &b->call, &b->err);
	if (b->rc == -1) {
		assert_non_null(b->err.code);
		assert_null(b->call.body);
	}
}

static void
expect_call(Opencode__ClientMessage *m, enum api_method method,
    const char *path, int kind, const char *body)
{
	struct built	b;

	build(m, &b);
	if (b.rc != 0)
		fail_msg("%s: %s", b.err.code, b.err.message);
	assert_true(b.call.request_id == m->request_id);
	assert_int_equal(b.call.method, method);
	assert_string_equal(b.call.path, path);
	assert_int_equal(b.call.kind, kind);
	if (body == NULL)
		assert_null(b.call.body);
	else {
		assert_non_null(b.call.body);
		assert_int_equal(b.call.body_len, strlen(body));
		assert_string_equal(b.call.body, body);
		/* Every body we send is valid JSON. */
		{
			struct json *j;

			assert_int_equal(json_parse(b.call.body,
			    b.call.body_len, &j), 0);
			json_free(j);
		}
	}
	api_call_free(&b.call);
	assert_null(b.call.body);
	assert_int_equal(b.call.body_len, 0);
	api_call_free(&b.call);
}

static void
expect_invalid(Opencode__ClientMessage *m, const char *code)
{
	struct built	b;

	build(m, &b);
	assert_int_equal(b.rc, -1);
	assert_string_equal(b.err.code, code);
	assert_true(strlen(b.err.message) > 0);
}

static void
test_build_simple(void **state)
{
	Opencode__ClientMessage		m = OPENCODE__CLIENT_MESSAGE__INIT;
	Opencode__ListSessionsRequest	ls = OPENCODE__LIST_SESSIONS_REQUEST__INIT;
	Opencode__ListAgentsRequest	la = OPENCODE__LIST_AGENTS_REQUEST__INIT;
	Opencode__GetProviderStatusRequest gp =
	    OPENCODE__GET_PROVIDER_STATUS_REQUEST__INIT;
	Opencode__HealthCheck		hc = OPENCODE__HEALTH_CHECK__INIT;
	Opencode__AuthHandshake		ah = OPENCODE__AUTH_HANDSHAKE__INIT;
	Opencode__Subscribe		su = OPENCODE__SUBSCRIBE__INIT;
	struct built			b;

	(void)state;
	m.request_id = 42;
	m.payload_case = OPENCODE__CLIENT_MESSAGE__PAYLOAD_LIST_SESSIONS;
	m.list_sessions = &ls;
	expect_call(&m, API_GET, "/session", API_KIND_SESSION_LIST, NULL);
	m.payload_case = OPENCODE__CLIENT_MESSAGE__PAYLOAD_LIST_AGENTS;
	m.list_agents = &la;
	expect_call(&m, API_GET, "/agent", API_KIND_AGENT_LIST, NULL);
	m.payload_case = OPENCODE__CLIENT_MESSAGE__PAYLOAD_GET_PROVIDER_STATUS;
	m.get_provider_status = &gp;
	expect_call(&m, API_GET, "/provider", API_KIND_PROVIDER_STATUS, NULL);
	m.payload_case = OPENCODE__CLIENT_MESSAGE__PAYLOAD_HEALTH_CHECK;
	m.health_check = &hc;
	expect_call(&m, API_GET, "/global/health", API_KIND_HEALTH, NULL);

	/* The front's business, or nothing at all. */
	m.payload_case = OPENCODE__CLIENT_MESSAGE__PAYLOAD_AUTH_HANDSHAKE;
	m.auth_handshake = &ah;
	expect_invalid(&m, ERR_UNKNOWN_REQUEST);
	m.payload_case = OPENCODE__CLIENT_MESSAGE__PAYLOAD_SUBSCRIBE;
	m.subscribe = &su;
	expect_invalid(&m, ERR_UNKNOWN_REQUEST);
	m.payload_case = OPENCODE__CLIENT_MESSAGE__PAYLOAD__NOT_SET;
	expect_invalid(&m, ERR_UNKNOWN_REQUEST);
	m.payload_case = (Opencode__ClientMessage__PayloadCase)999;
	expect_invalid(&m, ERR_UNKNOWN_REQUEST);
	build(NULL, &b);
	assert_int_equal(b.rc, -1);
	assert_string_equal(b.err.code, ERR_UNKNOWN_REQUEST);

	assert_string_equal(api_method_name(API_DELETE), "DELETE");
	assert_string_equal(api_method_name(API_PATCH), "PATCH");
}

static void
test_build_sessions(void **state)
{
	static const char *const bad_ids[] = {
		"", "ses_", "../x", "ses_%2e%2e", "ses_../x", "ses_a/b",
		"ses_a b", "SES_abc", "per_abc", "ses_abc\n", "ses_\xc3\xa9",
		"ses_abc?x=1", "ses_abc#",
	};
	Opencode__ClientMessage		 m = OPENCODE__CLIENT_MESSAGE__INIT;
	Opencode__CreateSessionRequest	 cs =
	    OPENCODE__CREATE_SESSION_REQUEST__INIT;
	Opencode__DeleteSessionRequest	 ds =
	    OPENCODE__DELETE_SESSION_REQUEST__INIT;
	Opencode__CancelRequest		 cr = OPENCODE__CANCEL_REQUEST__INIT;
	char				 longid[128];
	size_t				 i;

	(void)state;
	m.request_id = 1;
	m.payload_case = OPENCODE__CLIENT_MESSAGE__PAYLOAD_CREATE_SESSION;
	m.create_session = &cs;
	expect_call(&m, API_POST, "/session", API_KIND_SESSION_INFO, "{}");
	m.create_session = NULL;
	expect_call(&m, API_POST, "/session", API_KIND_SESSION_INFO, "{}");
	m.create_session = &cs;
	cs._title_case = OPENCODE__CREATE_SESSION_REQUEST___TITLE_TITLE;
	cs.title = "fixture session";
	expect_call(&m, API_POST, "/session", API_KIND_SESSION_INFO,
	    "{\"title\":\"fixture session\"}");
	cs.title = "";
	expect_call(&m, API_POST, "/session", API_KIND_SESSION_INFO,
	    "{\"title\":\"\"}");
	cs.title = "q\"b\\s/\n\r\t\x01\x1f\x7f \xc3\xa9";
	expect_call(&m, API_POST, "/session", API_KIND_SESSION_INFO,
	    "{\"title\":\"q\\\"b\\\\s/\\n\\r\\t\\u0001\\u001f\x7f \xc3\xa9\"}");
	cs.title = "bad \xff utf-8";
	expect_invalid(&m, ERR_INVALID_REQUEST);

	m.payload_case = OPENCODE__CLIENT_MESSAGE__PAYLOAD_DELETE_SESSION;
	m.delete_session = &ds;
	ds.session_id = "ses_de9da0d54ffehULAtvbJczpmni";
	expect_call(&m, API_DELETE, "/session/ses_de9da0d54ffehULAtvbJczpmni",
	    API_KIND_EMPTY, NULL);
	for (i = 0; i < sizeof(bad_ids) / sizeof(bad_ids[0]); i++) {
		ds.session_id = (char *)bad_ids[i];
		expect_invalid(&m, ERR_INVALID_REQUEST);
	}
	memset(longid, 'a', sizeof(longid));
	memcpy(longid, "ses_", 4);
	longid[100] = '\0';
	ds.session_id = longid;
	expect_call(&m, API_DELETE, "/session/ses_aaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
	    API_KIND_EMPTY, NULL);
	longid[100] = 'a';
	longid[101] = '\0';
	expect_invalid(&m, ERR_INVALID_REQUEST);
	m.delete_session = NULL;
	expect_invalid(&m, ERR_INVALID_REQUEST);

	m.payload_case = OPENCODE__CLIENT_MESSAGE__PAYLOAD_CANCEL_REQUEST;
	m.cancel_request = &cr;
	cr.session_id = "ses_de9d997ceffe562ZA3dhHlShtT";
	expect_call(&m, API_POST, "/session/ses_de9d997ceffe562ZA3dhHlShtT/abort",
	    API_KIND_EMPTY, NULL);
	for (i = 0; i < sizeof(bad_ids) / sizeof(bad_ids[0]); i++) {
		cr.session_id = (char *)bad_ids[i];
		expect_invalid(&m, ERR_INVALID_REQUEST);
	}
}

static void
test_build_auth(void **state)
{
	static const char *const bad_ids[] = {
		"", ".", "..", "../x", "a/b", "a b", "a%2e", "a\\b", "a?b",
		"caf\xc3\xa9", "anthropic\n",
	};
	Opencode__ClientMessage		m = OPENCODE__CLIENT_MESSAGE__INIT;
	Opencode__SetAuthRequest	sa = OPENCODE__SET_AUTH_REQUEST__INIT;
	Opencode__AuthInfo		ai = OPENCODE__AUTH_INFO__INIT;
	Opencode__ApiKeyAuth		ak = OPENCODE__API_KEY_AUTH__INIT;
	Opencode__OAuthAuth		oa = OPENCODE__OAUTH_AUTH__INIT;
	Opencode__GetAuthRequest	ga = OPENCODE__GET_AUTH_REQUEST__INIT;
	Opencode__DeleteAuth		da = OPENCODE__DELETE_AUTH__INIT;
	struct built			b;
	size_t				i;

	(void)state;
	m.request_id = 9;
	m.payload_case = OPENCODE__CLIENT_MESSAGE__PAYLOAD_SET_AUTH;
	m.set_auth = &sa;
	sa.provider_id = "anthropic";
	/* Missing auth, or auth without a type. */
	expect_invalid(&m, ERR_INVALID_REQUEST);
	sa.auth = &ai;
	expect_invalid(&m, ERR_INVALID_REQUEST);

	ai.auth_type_case = OPENCODE__AUTH_INFO__AUTH_TYPE_API_KEY;
	ai.api_key = &ak;
	ak.key = "sk-ocb-fixture-not-a-secret";
	expect_call(&m, API_PUT, "/auth/anthropic", API_KIND_EMPTY,
	    "{\"type\":\"api\",\"key\":\"sk-ocb-fixture-not-a-secret\"}");
	ak.key = "k\"\\\n\x01\x1f}";
	expect_call(&m, API_PUT, "/auth/anthropic", API_KIND_EMPTY,
	    "{\"type\":\"api\",\"key\":\"k\\\"\\\\\\n\\u0001\\u001f}\"}");
	build(&m, &b);
	assert_int_equal(b.rc, 0);
	assert_int_equal(b.call.quote_errors, 0);
	api_call_free(&b.call);
	ak.key = "";
	expect_invalid(&m, ERR_INVALID_REQUEST);
	ak.key = "bad\xc0\xaf";
	expect_invalid(&m, ERR_INVALID_REQUEST);
	ai.api_key = NULL;
	expect_invalid(&m, ERR_INVALID_REQUEST);
	ai.api_key = &ak;
	ak.key = "k";
	for (i = 0; i < sizeof(bad_ids) / sizeof(bad_ids[0]); i++) {
		sa.provider_id = (char *)bad_ids[i];
		expect_invalid(&m, ERR_INVALID_REQUEST);
	}
	sa.provider_id = "wafer.ai";
	expect_call(&m, API_PUT, "/auth/wafer.ai", API_KIND_EMPTY,
	    "{\"type\":\"api\",\"key\":\"k\"}");

	sa.provider_id = "ocb-fixture-oauth";
	ai.auth_type_case = OPENCODE__AUTH_INFO__AUTH_TYPE_OAUTH;
	ai.oauth = &oa;
	oa.access_token = "a-not-a-secret";
	oa.refresh_token = "r-not-a-secret";
	oa.expires_at = 1767225600000LL;
	expect_call(&m, API_PUT, "/auth/ocb-fixture-oauth", API_KIND_EMPTY,
	    "{\"type\":\"oauth\",\"refresh\":\"r-not-a-secret\","
	    "\"access\":\"a-not-a-secret\",\"expires\":1767225600000}");
	oa.expires_at = -1;
	expect_invalid(&m, ERR_INVALID_REQUEST);
	oa.expires_at = 0;
	oa.access_token = "";
	expect_invalid(&m, ERR_INVALID_REQUEST);
	oa.access_token = "a";
	oa.refresh_token = "\xff";
	expect_invalid(&m, ERR_INVALID_REQUEST);
	m.set_auth = NULL;
	expect_invalid(&m, ERR_INVALID_REQUEST);

	m.payload_case = OPENCODE__CLIENT_MESSAGE__PAYLOAD_GET_AUTH;
	m.get_auth = &ga;
	ga.provider_id = "mock";
	build(&m, &b);
	assert_int_equal(b.rc, 0);
	assert_string_equal(b.call.path, "/provider");
	assert_int_equal(b.call.method, API_GET);
	assert_int_equal(b.call.kind, API_KIND_AUTH_STATUS);
	assert_string_equal(b.call.provider_id, "mock");
	assert_null(b.call.body);
	for (i = 0; i < sizeof(bad_ids) / sizeof(bad_ids[0]); i++) {
		ga.provider_id = (char *)bad_ids[i];
		expect_invalid(&m, ERR_INVALID_REQUEST);
	}

	m.payload_case = OPENCODE__CLIENT_MESSAGE__PAYLOAD_DELETE_AUTH;
	m.delete_auth = &da;
	da.provider_id = "anthropic";
	expect_call(&m, API_DELETE, "/auth/anthropic", API_KIND_EMPTY, NULL);
	for (i = 0; i < sizeof(bad_ids) / sizeof(bad_ids[0]); i++) {
		da.provider_id = (char *)bad_ids[i];
		expect_invalid(&m, ERR_INVALID_REQUEST);
	}
	m.delete_auth = NULL;
	expect_invalid(&m, ERR_INVALID_REQUEST);
}

static void
test_build_prompt(void **state)
{
	Opencode__ClientMessage		m = OPENCODE__CLIENT_MESSAGE__INIT;
	Opencode__SendMessage		sm = OPENCODE__SEND_MESSAGE__INIT;
	Opencode__ReplyPermission	rp = OPENCODE__REPLY_PERMISSION__INIT;
	const char			*path =
	    "/session/ses_de9d9dd34ffervjM6BvxQjuyqi/prompt_async";

	(void)state;
	m.request_id = 5;
	m.payload_case = OPENCODE__CLIENT_MESSAGE__PAYLOAD_SEND_MESSAGE;
	m.send_message = &sm;
	sm.session_id = "ses_de9d9dd34ffervjM6BvxQjuyqi";
	sm.text = "text";
	expect_call(&m, API_POST, path, API_KIND_EMPTY,
	    "{\"parts\":[{\"type\":\"text\",\"text\":\"text\"}]}");
	sm._provider_id_case = OPENCODE__SEND_MESSAGE___PROVIDER_ID_PROVIDER_ID;
	sm.provider_id = "nope";
	/* Only one of provider_id and model_id. */
	expect_invalid(&m, ERR_INVALID_REQUEST);
	sm._model_id_case = OPENCODE__SEND_MESSAGE___MODEL_ID_MODEL_ID;
	sm.model_id = "x";
	expect_call(&m, API_POST, path, API_KIND_EMPTY,
	    "{\"parts\":[{\"type\":\"text\",\"text\":\"text\"}],"
	    "\"model\":{\"providerID\":\"nope\",\"modelID\":\"x\"}}");
	sm._provider_id_case = OPENCODE__SEND_MESSAGE___PROVIDER_ID__NOT_SET;
	expect_invalid(&m, ERR_INVALID_REQUEST);
	sm._model_id_case = OPENCODE__SEND_MESSAGE___MODEL_ID__NOT_SET;
	sm._agent_case = OPENCODE__SEND_MESSAGE___AGENT_AGENT;
	sm.agent = "no-such-agent";
	expect_call(&m, API_POST, path, API_KIND_EMPTY,
	    "{\"parts\":[{\"type\":\"text\",\"text\":\"text\"}],"
	    "\"agent\":\"no-such-agent\"}");
	sm._provider_id_case = OPENCODE__SEND_MESSAGE___PROVIDER_ID_PROVIDER_ID;
	sm._model_id_case = OPENCODE__SEND_MESSAGE___MODEL_ID_MODEL_ID;
	sm.provider_id = "cloudflare-workers-ai";
	sm.model_id = "@cf/zai-org/glm-5.3-flash";
	sm.text = "say \"hi\"\\\n\x02";
	expect_call(&m, API_POST, path, API_KIND_EMPTY,
	    "{\"parts\":[{\"type\":\"text\",\"text\":\"say \\\"hi\\\"\\\\\\n"
	    "\\u0002\"}],\"model\":{\"providerID\":\"cloudflare-workers-ai\","
	    "\"modelID\":\"@cf/zai-org/glm-5.3-flash\"},"
	    "\"agent\":\"no-such-agent\"}");
	sm.provider_id = "../x";
	expect_invalid(&m, ERR_INVALID_REQUEST);
	sm.provider_id = "mock";
	sm.model_id = "";
	expect_invalid(&m, ERR_INVALID_REQUEST);
	sm.model_id = "mock-1";
	sm.agent = "";
	expect_invalid(&m, ERR_INVALID_REQUEST);
	sm.agent = "build";
	sm.text = "";
	expect_invalid(&m, ERR_INVALID_REQUEST);
	sm.text = "\xed\xa0\x80";
	expect_invalid(&m, ERR_INVALID_REQUEST);
	sm.text = "t";
	sm.session_id = "ses_%2e%2e";
	expect_invalid(&m, ERR_INVALID_REQUEST);
	sm.session_id = "";
	expect_invalid(&m, ERR_INVALID_REQUEST);
	m.send_message = NULL;
	expect_invalid(&m, ERR_INVALID_REQUEST);

	m.payload_case = OPENCODE__CLIENT_MESSAGE__PAYLOAD_REPLY_PERMISSION;
	m.reply_permission = &rp;
	rp.permission_id = "per_216264a5a001SZP3O5Om9g1xn2";
	rp.reply = "once";
	expect_call(&m, API_POST, "/permission/per_216264a5a001SZP3O5Om9g1xn2"
	    "/reply", API_KIND_EMPTY, "{\"reply\":\"once\"}");
	rp.reply = "always";
	rp.session_id = "ses_de9d9baa3ffe6SsOQyL6OP9AJP";
	expect_call(&m, API_POST, "/permission/per_216264a5a001SZP3O5Om9g1xn2"
	    "/reply", API_KIND_EMPTY, "{\"reply\":\"always\"}");
	rp.reply = "reject";
	expect_call(&m, API_POST, "/permission/per_216264a5a001SZP3O5Om9g1xn2"
	    "/reply", API_KIND_EMPTY, "{\"reply\":\"reject\"}");
	rp.session_id = "../x";
	expect_invalid(&m, ERR_INVALID_REQUEST);
	rp.session_id = "";
	rp.reply = "maybe";
	expect_invalid(&m, ERR_INVALID_REQUEST);
	rp.reply = "";
	expect_invalid(&m, ERR_INVALID_REQUEST);
	rp.reply = "Once";
	expect_invalid(&m, ERR_INVALID_REQUEST);
	rp.reply = "once";
	rp.permission_id = "ses_abc";
	expect_invalid(&m, ERR_INVALID_REQUEST);
	rp.permission_id = "per_../x";
	expect_invalid(&m, ERR_INVALID_REQUEST);
	rp.permission_id = "";
	expect_invalid(&m, ERR_INVALID_REQUEST);
}

/* The real decoder's output, not hand-built structs. */
static void
test_build_wire(void **state)
{
	Opencode__ClientMessage		 m = OPENCODE__CLIENT_MESSAGE__INIT;
	Opencode__CreateSessionRequest	 cs =
	    OPENCODE__CREATE_SESSION_REQUEST__INIT;
	Opencode__ClientMessage		*u;
	uint8_t				 buf[256];
	size_t				 n;

	(void)state;
	m.request_id = UINT64_MAX;
	m.payload_case = OPENCODE__CLIENT_MESSAGE__PAYLOAD_CREATE_SESSION;
	m.create_session = &cs;
	n = opencode__client_message__pack(&m, buf);
	u = opencode__client_message__unpack(NULL, n, buf);
	assert_non_null(u);
	expect_call(u, API_POST, "/session", API_KIND_SESSION_INFO, "{}");
	opencode__client_message__free_unpacked(u, NULL);

	cs._title_case = OPENCODE__CREATE_SESSION_REQUEST___TITLE_TITLE;
	cs.title = "";
	n = opencode__client_message__pack(&m, buf);
	u = opencode__client_message__unpack(NULL, n, buf);
	assert_non_null(u);
	expect_call(u, API_POST, "/session", API_KIND_SESSION_INFO,
	    "{\"title\":\"\"}");
	opencode__client_message__free_unpacked(u, NULL);
}

/* ---- reply mapping on the fixtures ---- */

static void
test_session_list(void **state)
{
	Opencode__ServerMessage	*sm;
	Opencode__SessionInfo	*s;
	struct api_call		 c;
	uint8_t			*body;
	size_t			 len;

	(void)state;
	call_init(&c, API_KIND_SESSION_LIST, 1);
	body = fx_load("session-list.json", &len);
	sm = reply(&c, 200, JSON_CT, body, len);
	assert_int_equal(sm->payload_case,
	    OPENCODE__SERVER_MESSAGE__PAYLOAD_SESSION_LIST);
	assert_int_equal(sm->session_list->n_sessions, 12);
	s = sm->session_list->sessions[0];
	assert_string_equal(s->id, "ses_de9d92354ffeyyP4zHEmF5A4Lo");
	assert_int_equal(s->_title_case, OPENCODE__SESSION_INFO___TITLE_TITLE);
	assert_string_equal(s->title, "bad agent chat");
	assert_true(s->created_at == 1795667975339LL);
	assert_true(s->updated_at == 1795667975339LL);
	s = sm->session_list->sessions[1];
	assert_string_equal(s->id, "ses_de9d92facffeG00OPeIsXyFZpF");
	assert_string_equal(s->title, "bad model chat");
	assert_true(s->created_at == 1795667972179LL);
	assert_true(s->updated_at == 1795667972425LL);
	s = sm->session_list->sessions[11];
	assert_string_equal(s->id, "ses_de9da0389ffe4aZa2GKjrACr0c");
	assert_string_equal(s->title, "Mock session title");
	assert_true(s->created_at == 1795667917942LL);
	assert_true(s->updated_at == 1795667925504LL);
	opencode__server_message__free_unpacked(sm, NULL);
	free(body);

	/* Empty list; title null or absent; extra members ignored. */
	sm = reply_str(&c, 200, JSON_CT, " [ ] ");
	assert_int_equal(sm->payload_case,
	    OPENCODE__SERVER_MESSAGE__PAYLOAD_SESSION_LIST);
	assert_int_equal(sm->session_list->n_sessions, 0);
	opencode__server_message__free_unpacked(sm, NULL);
	sm = reply_str(&c, 200, JSON_CT, "[{\"time\":{\"updated\":2,"
	    "\"created\":1,\"x\":[{}]},\"id\":\"ses_a\",\"title\":null},"
	    "{\"id\":\"ses_b\",\"time\":{\"created\":-5,\"updated\":0},"
	    "\"title\":\"\\u00e9\\uD83D\\uDE00\\u0000\\uDC00\"},"
	    "{\"id\":\"ses_c\",\"id\":\"dup\",\"time\":{\"created\":3,"
	    "\"updated\":4}}]");
	assert_int_equal(sm->session_list->n_sessions, 3);
	s = sm->session_list->sessions[0];
	assert_string_equal(s->id, "ses_a");
	assert_int_equal(s->_title_case, OPENCODE__SESSION_INFO___TITLE__NOT_SET);
	assert_true(s->created_at == 1 && s->updated_at == 2);
	s = sm->session_list->sessions[1];
	assert_string_equal(s->title, "\xc3\xa9\xf0\x9f\x98\x80\xef\xbf\xbd"
	    "\xef\xbf\xbd");
	assert_true(s->created_at == -5);
	assert_string_equal(sm->session_list->sessions[2]->id, "ses_c");
	assert_int_equal(sm->session_list->sessions[2]->_title_case,
	    OPENCODE__SESSION_INFO___TITLE__NOT_SET);
	opencode__server_message__free_unpacked(sm, NULL);
}

static void
test_session_info(void **state)
{
	Opencode__ServerMessage	*sm;
	struct api_call		 c;
	uint8_t			*body;
	size_t			 len;

	(void)state;
	call_init(&c, API_KIND_SESSION_INFO, 1);
	body = fx_load("session-create.json", &len);
	sm = reply(&c, 200, JSON_CT, body, len);
	assert_int_equal(sm->payload_case,
	    OPENCODE__SERVER_MESSAGE__PAYLOAD_SESSION_INFO);
	assert_string_equal(sm->session_info->id,
	    "ses_de9da0d54ffehULAtvbJczpmni");
	assert_string_equal(sm->session_info->title, "fixture session");
	assert_true(sm->session_info->created_at == 1795667915435LL);
	assert_true(sm->session_info->updated_at == 1795667915435LL);
	opencode__server_message__free_unpacked(sm, NULL);
	free(body);
	body = fx_load("session-update.json", &len);
	sm = reply(&c, 200, JSON_CT, body, len);
	assert_string_equal(sm->session_info->title,
	    "fixture session (renamed)");
	opencode__server_message__free_unpacked(sm, NULL);
	free(body);
}

static void
test_agent_list(void **state)
{
	static const char *const names[] = {
		"build", "compaction", "explore", "general", "plan", "summary",
		"title"
	};
	Opencode__ServerMessage	*sm;
	Opencode__AgentInfo	*a;
	struct api_call		 c;
	uint8_t			*body;
	size_t			 len, i;

	(void)state;
	call_init(&c, API_KIND_AGENT_LIST, 1);
	body = fx_load("agent-list.json", &len);
	sm = reply(&c, 200, JSON_CT, body, len);
	assert_int_equal(sm->payload_case,
	    OPENCODE__SERVER_MESSAGE__PAYLOAD_AGENT_LIST);
	assert_int_equal(sm->agent_list->n_agents, 7);
	for (i = 0; i < 7; i++) {
		a = sm->agent_list->agents[i];
		assert_string_equal(a->name, names[i]);
		assert_true(a->built_in);
		assert_int_equal(a->_mode_case, OPENCODE__AGENT_INFO___MODE_MODE);
		assert_int_equal(a->_color_case,
		    OPENCODE__AGENT_INFO___COLOR__NOT_SET);
	}
	a = sm->agent_list->agents[0];
	assert_string_equal(a->description,
	    "The default agent. Executes tools based on configured permissions.");
	assert_string_equal(a->mode, "primary");
	/* Hidden, no description: still listed. */
	a = sm->agent_list->agents[1];
	assert_int_equal(a->_description_case,
	    OPENCODE__AGENT_INFO___DESCRIPTION__NOT_SET);
	assert_string_equal(a->mode, "primary");
	assert_string_equal(sm->agent_list->agents[2]->mode, "subagent");
	opencode__server_message__free_unpacked(sm, NULL);
	free(body);

	sm = reply_str(&c, 200, JSON_CT, "[{\"name\":\"mine\",\"native\":false,"
	    "\"color\":\"#ff0000\",\"mode\":\"all\",\"description\":null},"
	    "{\"name\":\"n\"}]");
	a = sm->agent_list->agents[0];
	assert_false(a->built_in);
	assert_string_equal(a->color, "#ff0000");
	assert_string_equal(a->mode, "all");
	assert_int_equal(a->_description_case,
	    OPENCODE__AGENT_INFO___DESCRIPTION__NOT_SET);
	a = sm->agent_list->agents[1];
	assert_false(a->built_in);
	assert_int_equal(a->_mode_case, OPENCODE__AGENT_INFO___MODE__NOT_SET);
	opencode__server_message__free_unpacked(sm, NULL);
}

static void
test_health(void **state)
{
	Opencode__ServerMessage	*sm;
	struct api_call		 c;
	uint8_t			*body;
	size_t			 len;

	(void)state;
	call_init(&c, API_KIND_HEALTH, 1);
	body = fx_load("health.json", &len);
	sm = reply(&c, 200, "application/json", body, len);
	assert_int_equal(sm->payload_case,
	    OPENCODE__SERVER_MESSAGE__PAYLOAD_UPSTREAM_HEALTH);
	assert_true(sm->upstream_health->healthy);
	assert_string_equal(sm->upstream_health->version, "1.18.34");
	opencode__server_message__free_unpacked(sm, NULL);
	free(body);
	sm = reply_str(&c, 200, JSON_CT,
	    "{\"version\":\"x\",\"healthy\":false}");
	assert_false(sm->upstream_health->healthy);
	opencode__server_message__free_unpacked(sm, NULL);
}

static int
contains(const uint8_t *hay, size_t n, const char *needle)
{
	return memmem(hay, n, needle, strlen(needle)) != NULL;
}

static void
test_provider(void **state)
{
	Opencode__ServerMessage	*sm;
	struct api_response	 r;
	struct api_call		 c;
	uint8_t			*body, *out;
	size_t			 len, outlen;
	double			 t0, t, best = 1e9;
	int			 k;

	(void)state;
	body = fx_load("provider.json.gz", &len);
	assert_int_equal(len, 6529060);
	/* The document echoes the configured apiKey: it must not leak. */
	assert_true(contains(body, len, "mock-key-not-a-secret"));

	call_init(&c, API_KIND_PROVIDER_STATUS, 0);
	r.status = 200;
	r.content_type = JSON_CT;
	r.body = body;
	r.body_len = len;
	for (k = 0; k < 5; k++) {
		t0 = it_now_fms();
		assert_int_equal(api_reply_pack(&c, &r, &out, &outlen), 0);
		t = it_now_fms() - t0;
		if (t < best)
			best = t;
		if (k < 4)
			free(out);
	}
	print_message("GET /provider (%zu bytes) mapped in %.1f ms (best of 5%s)\n",
	    len, best, SANITIZED ? ", sanitizers on" : "");
#ifdef __OPTIMIZE__
	if (!SANITIZED)
		assert_true(best < 100);
#endif
	assert_true(best < 2000);
	assert_false(contains(out, outlen, "mock-key-not-a-secret"));
	sm = opencode__server_message__unpack(NULL, outlen, out);
	free(out);
	assert_non_null(sm);
	assert_int_equal(sm->payload_case,
	    OPENCODE__SERVER_MESSAGE__PAYLOAD_PROVIDER_STATUS);
	assert_int_equal(sm->provider_status->n_connected, 2);
	assert_string_equal(sm->provider_status->connected[0], "opencode");
	assert_string_equal(sm->provider_status->connected[1], "mock");
	opencode__server_message__free_unpacked(sm, NULL);

	call_init(&c, API_KIND_AUTH_STATUS, 0);
	assert_int_equal(api_reply_pack(&c, &r, &out, &outlen), 0);
	assert_false(contains(out, outlen, "mock-key-not-a-secret"));
	sm = opencode__server_message__unpack(NULL, outlen, out);
	free(out);
	assert_int_equal(sm->payload_case,
	    OPENCODE__SERVER_MESSAGE__PAYLOAD_AUTH_STATUS);
	assert_string_equal(sm->auth_status->provider_id, "mock");
	assert_true(sm->auth_status->connected);
	opencode__server_message__free_unpacked(sm, NULL);
	snprintf(c.provider_id, sizeof(c.provider_id), "anthropic");
	sm = reply(&c, 200, JSON_CT, body, len);
	assert_string_equal(sm->auth_status->provider_id, "anthropic");
	assert_false(sm->auth_status->connected);
	opencode__server_message__free_unpacked(sm, NULL);

	/* Truncated anywhere: PARSE_ERROR, never a partial list. */
	call_init(&c, API_KIND_PROVIDER_STATUS, 0);
	expect_error(reply(&c, 200, JSON_CT, body, len - 1),
	    ERR_PARSE_ERROR, NULL);
	expect_error(reply(&c, 200, JSON_CT, body, len / 2),
	    ERR_PARSE_ERROR, NULL);
	expect_error(reply(&c, 200, JSON_CT, body, 1), ERR_PARSE_ERROR,
	    NULL);
	free(body);

	body = fx_load("provider-after-auth-put.json", &len);
	call_init(&c, API_KIND_AUTH_STATUS, 0);
	snprintf(c.provider_id, sizeof(c.provider_id), "anthropic");
	sm = reply(&c, 200, JSON_CT, body, len);
	assert_true(sm->auth_status->connected);
	opencode__server_message__free_unpacked(sm, NULL);
	call_init(&c, API_KIND_PROVIDER_STATUS, 0);
	sm = reply(&c, 200, JSON_CT, body, len);
	assert_int_equal(sm->provider_status->n_connected, 3);
	assert_string_equal(sm->provider_status->connected[0], "anthropic");
	opencode__server_message__free_unpacked(sm, NULL);
	free(body);

	/* Escaped names compare decoded; empty list. */
	call_init(&c, API_KIND_AUTH_STATUS, 0);
	sm = reply_str(&c, 200, JSON_CT, "{\"connected\":[\"\\u006dock\"]}");
	assert_true(sm->auth_status->connected);
	opencode__server_message__free_unpacked(sm, NULL);
	sm = reply_str(&c, 200, JSON_CT, "{\"connected\":[\"mock2\",\"moc\"]}");
	assert_false(sm->auth_status->connected);
	opencode__server_message__free_unpacked(sm, NULL);
	call_init(&c, API_KIND_PROVIDER_STATUS, 0);
	sm = reply_str(&c, 200, JSON_CT, "{\"all\":[],\"connected\":[]}");
	assert_int_equal(sm->payload_case,
	    OPENCODE__SERVER_MESSAGE__PAYLOAD_PROVIDER_STATUS);
	assert_int_equal(sm->provider_status->n_connected, 0);
	opencode__server_message__free_unpacked(sm, NULL);
}

/*
 * GET /provider is skimmed, not parsed (json_parse_member): garbage around
 * `connected` is still PARSE_ERROR, and only the first `connected` of the
 * root object counts.
 */
static void
test_provider_skim(void **state)
{
	static const char *const garbage[] = {
		"{\"all\":[{\"id\":\"a\"],\"connected\":[\"mock\"]}",
		"{\"all\":[{\"id\":\"a}],\"connected\":[\"mock\"]}",
		"{\"all\":[{\"id\":\"a\\q\"}],\"connected\":[\"mock\"]}",
		"{\"all\":[<html>],\"connected\":[\"mock\"]}",
		"{\"all\":[],\"connected\":[\"mock\"],}",
		"{\"all\":[] \"connected\":[\"mock\"]}",
		"{\"connected\":[\"mock\"]}{}",
		"{\"connected\":[\"mock\",}]}",
		"{\"connected\":[\"mock\"]",
		"{\"connected\":[\"mock\"]}]",
	};
	static const char	 nul[] = "{\"a\":\"\0\",\"connected\":[]}";
	Opencode__ServerMessage	*sm;
	struct api_call		 c;
	size_t			 i;
	int			 kind;

	(void)state;
	for (kind = API_KIND_PROVIDER_STATUS; kind <= API_KIND_AUTH_STATUS;
	    kind++) {
		call_init(&c, kind, 1);
		for (i = 0; i < sizeof(garbage) / sizeof(garbage[0]); i++)
			expect_error(reply_str(&c, 200, JSON_CT, garbage[i]),
			    ERR_PARSE_ERROR, "invalid JSON");
		expect_error(reply(&c, 200, JSON_CT, (const uint8_t *)nul,
		    sizeof(nul) - 1), ERR_PARSE_ERROR, "invalid JSON");
		/* Valid, but no `connected` where it belongs. */
		expect_error(reply_str(&c, 200, JSON_CT,
		    "{\"all\":{\"connected\":[\"mock\"]}}"), ERR_PARSE_ERROR,
		    "unexpected reply: connected");
		expect_error(reply_str(&c, 200, JSON_CT, "[[\"mock\"]]"),
		    ERR_PARSE_ERROR, "unexpected reply: connected");
		expect_error(reply_str(&c, 200, JSON_CT, "[[\"mock\"]"),
		    ERR_PARSE_ERROR, "invalid JSON");
	}
	/* The first one; a later duplicate is not looked at. */
	call_init(&c, API_KIND_PROVIDER_STATUS, 1);
	sm = reply_str(&c, 200, JSON_CT, "{\"connected\":[\"a\"],"
	    "\"all\":[1,{\"x\":[\"]\"]}],\"connected\":[\"b\",\"c\"]}");
	assert_int_equal(sm->payload_case,
	    OPENCODE__SERVER_MESSAGE__PAYLOAD_PROVIDER_STATUS);
	assert_int_equal(sm->provider_status->n_connected, 1);
	assert_string_equal(sm->provider_status->connected[0], "a");
	opencode__server_message__free_unpacked(sm, NULL);
	/* Strings in it are checked as ever. */
	expect_error(reply_str(&c, 200, JSON_CT,
	    "{\"connected\":[\"a\x01\"]}"), ERR_PARSE_ERROR, NULL);
}

/* The .http captures: every 2xx of an "empty" endpoint and every error. */
static void
test_http_fixtures(void **state)
{
	static const struct {
		const char	*file;
		int		 quote;
		const char	*code;		/* NULL: empty reply */
		const char	*message;
	} cases[] = {
		{ "session-delete.http", 1, NULL, NULL },
		{ "abort.http", 1, NULL, NULL },
		{ "abort-idle.http", 1, NULL, NULL },
		{ "abort-unknown-session.http", 1, NULL, NULL },
		{ "auth-put.http", 0, NULL, NULL },
		{ "auth-put-oauth.http", 0, NULL, NULL },
		{ "auth-delete.http", 0, NULL, NULL },
		{ "auth-delete-oauth.http", 0, NULL, NULL },
		{ "permission-reply.http", 1, NULL, NULL },
		{ "permission-reply-reject.http", 1, NULL, NULL },
		{ "prompt-async.http", 1, NULL, NULL },
		{ "prompt-async-bad-model.http", 1, NULL, NULL },
		{ "prompt-async-bad-agent.http", 1, NULL, NULL },
		/* Bodies of /auth are never quoted: they may echo the key. */
		{ "auth-put-bad.http", 0, ERR_UPSTREAM_ERROR, "HTTP 400" },
		{ "error-bad-json.http", 1, ERR_UPSTREAM_ERROR,
		  "HTTP 400: BadRequest" },
		{ "error-delete-unknown-session.http", 1, ERR_NOT_FOUND,
		  "HTTP 404: Session not found: ses_0000000000000000000000000000" },
		{ "error-unknown-session.http", 1, ERR_NOT_FOUND,
		  "HTTP 404: Session not found: ses_0000000000000000000000000000" },
		{ "error-prompt-unknown-session.http", 1, ERR_NOT_FOUND,
		  "HTTP 404: Session not found: ses_0000000000000000000000000000" },
		{ "error-malformed-id.http", 1, ERR_UPSTREAM_ERROR,
		  "HTTP 500: Unexpected server error. Check server logs for "
		  "details." },
		{ "error-encoded-dotdot-id.http", 0, ERR_UPSTREAM_ERROR,
		  "HTTP 500" },
		{ "error-prompt-bad-json.http", 1, ERR_UPSTREAM_ERROR,
		  "HTTP 500: Unexpected server error. Check server logs for "
		  "details." },
		{ "error-prompt-missing-parts.http", 1, ERR_UPSTREAM_ERROR,
		  "HTTP 400: Missing key   at [\"parts\"]" },
		{ "error-permission-already-replied.http", 1, ERR_NOT_FOUND,
		  "HTTP 404: Permission request not found: "
		  "per_216265ce1001662Y9m56RK1l4W" },
		{ "error-permission-unknown.http", 1, ERR_NOT_FOUND,
		  "HTTP 404: Permission request not found: "
		  "per_0000000000000000000000000000" },
		{ "error-permission-bad-reply.http", 1, ERR_UPSTREAM_ERROR,
		  "HTTP 400: Expected \"once\" | \"always\" | \"reject\", got "
		  "\"maybe\"   at [\"reply\"]" },
		{ "error-unauthorized.http", 1, ERR_UPSTREAM_ERROR,
		  "HTTP 401" },
		{ "error-unauthorized-health.http", 1, ERR_UPSTREAM_ERROR,
		  "HTTP 401" },
		{ "error-wrong-password.http", 1, ERR_UPSTREAM_ERROR,
		  "HTTP 401" },
		{ "error-unknown-route.http", 1, ERR_UPSTREAM_ERROR,
		  "unexpected content type" },
	};
	Opencode__ServerMessage	*sm;
	struct api_call		 c;
	struct http		 h;
	size_t			 i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		load_http(cases[i].file, &h);
		call_init(&c, API_KIND_EMPTY, cases[i].quote);
		sm = reply(&c, h.resp.status, h.resp.content_type, h.resp.body,
		    h.resp.body_len);
		if (cases[i].code == NULL) {
			if (sm->payload_case !=
			    OPENCODE__SERVER_MESSAGE__PAYLOAD__NOT_SET)
				fail_msg("%s: not empty", cases[i].file);
			expect_empty(sm);
		} else {
			if (sm->payload_case !=
			    OPENCODE__SERVER_MESSAGE__PAYLOAD_ERROR ||
			    strcmp(sm->error->code, cases[i].code) != 0 ||
			    strcmp(sm->error->message, cases[i].message) != 0)
				fail_msg("%s: got %s \"%s\"", cases[i].file,
				    sm->payload_case ==
				    OPENCODE__SERVER_MESSAGE__PAYLOAD_ERROR ?
				    sm->error->code : "(no error)",
				    sm->payload_case ==
				    OPENCODE__SERVER_MESSAGE__PAYLOAD_ERROR ?
				    sm->error->message : "");
			expect_error(sm, cases[i].code, cases[i].message);
		}
		free(h.raw);
	}

	/* The unknown route is refused for every data mapper too. */
	load_http("error-unknown-route.http", &h);
	for (c.kind = API_KIND_EMPTY; c.kind <= API_KIND_HEALTH; c.kind++)
		expect_error(reply(&c, h.resp.status, h.resp.content_type,
		    h.resp.body, h.resp.body_len), ERR_UPSTREAM_ERROR,
		    "unexpected content type");
	free(h.raw);
}

static void
test_status_mapping(void **state)
{
	static const char	errbody[] =
	    "{\"name\":\"UnknownError\",\"data\":{\"message\":\"boom\"}}";
	Opencode__ServerMessage	*sm;
	struct api_call		 c;
	char			*big;
	size_t			 n;

	(void)state;
	call_init(&c, API_KIND_SESSION_LIST, 1);
	expect_error(reply_str(&c, 404, JSON_CT, ""), ERR_NOT_FOUND,
	    "HTTP 404");
	expect_error(reply_str(&c, 404, NULL, "nope"), ERR_NOT_FOUND,
	    "HTTP 404");
	expect_error(reply_str(&c, 401, JSON_CT, errbody),
	    ERR_UPSTREAM_ERROR, "HTTP 401");
	expect_error(reply_str(&c, 500, JSON_CT, errbody),
	    ERR_UPSTREAM_ERROR, "HTTP 500: boom");
	expect_error(reply_str(&c, 500, "text/plain", errbody),
	    ERR_UPSTREAM_ERROR, "HTTP 500");
	expect_error(reply_str(&c, 503, JSON_CT, "{bad"),
	    ERR_UPSTREAM_ERROR, "HTTP 503");
	expect_error(reply_str(&c, 429, JSON_CT, ""),
	    ERR_TOO_MANY_REQUESTS, "HTTP 429");
	expect_error(reply_str(&c, 302, NULL, ""), ERR_UPSTREAM_ERROR,
	    "HTTP 302");
	expect_error(reply_str(&c, 100, NULL, ""), ERR_UPSTREAM_ERROR,
	    "HTTP 100");
	expect_error(reply_str(&c, 0, NULL, ""), ERR_UPSTREAM_ERROR,
	    "invalid HTTP status");
	expect_error(reply_str(&c, 600, NULL, ""), ERR_UPSTREAM_ERROR,
	    "invalid HTTP status");
	expect_error(reply_str(&c, -1, NULL, ""), ERR_UPSTREAM_ERROR,
	    "invalid HTTP status");
	/* Other shapes, and quoting switched off. */
	expect_error(reply_str(&c, 404, JSON_CT, "{\"_tag\":\"X\","
	    "\"message\":\"m\"}"), ERR_NOT_FOUND, "HTTP 404: m");
	expect_error(reply_str(&c, 400, JSON_CT, "{\"name\":\"N\","
	    "\"data\":{\"message\":1}}"), ERR_UPSTREAM_ERROR,
	    "HTTP 400: N");
	expect_error(reply_str(&c, 400, JSON_CT, "[\"x\"]"),
	    ERR_UPSTREAM_ERROR, "HTTP 400");
	expect_error(reply_str(&c, 400, JSON_CT, "{\"message\":\"\"}"),
	    ERR_UPSTREAM_ERROR, "HTTP 400");
	c.quote_errors = 0;
	expect_error(reply_str(&c, 500, JSON_CT, errbody),
	    ERR_UPSTREAM_ERROR, "HTTP 500");
	c.quote_errors = 1;

	/* Quoted text: short, valid UTF-8, no control characters. */
	expect_error(reply_str(&c, 400, JSON_CT, "{\"message\":\"a\\u0000b"
	    "\\u0007\\n\\uD800\xff\\u2028\xc3\xa9\"}"), ERR_UPSTREAM_ERROR,
	    "HTTP 400: a\xef\xbf\xbd" "b  \xef\xbf\xbd\xef\xbf\xbd \xc3\xa9");
	n = 100000;
	big = malloc(n + 64);
	assert_non_null(big);
	memcpy(big, "{\"message\":\"", 12);
	memset(big + 12, 'a', n);
	memcpy(big + 12 + 10, "\xe2\x82\xac", 3);
	memcpy(big + 12 + n, "\"}", 3);
	/* Above API_ERRBODY_MAX: not read at all. */
	expect_error(reply_str(&c, 400, JSON_CT, big), ERR_UPSTREAM_ERROR,
	    "HTTP 400");
	memcpy(big + 12 + 1000, "\"}", 3);
	sm = reply_str(&c, 400, JSON_CT, big);
	assert_string_equal(sm->error->code, ERR_UPSTREAM_ERROR);
	assert_int_equal(strncmp(sm->error->message, "HTTP 400: aaaaaaaaaa"
	    "\xe2\x82\xac", 23), 0);
	assert_int_equal(strlen(sm->error->message), 10 + API_QUOTE_MAX);
	assert_string_equal(sm->error->message + strlen(sm->error->message) - 4,
	    "a...");
	expect_error(sm, ERR_UPSTREAM_ERROR, NULL);
	/* A cut never splits a character. */
	memset(big + 12, 'a', 1000);
	for (n = 100; n < 130; n++) {
		memcpy(big + 12 + n, "\xf0\x9f\x98\x80", 4);
		expect_error(reply_str(&c, 400, JSON_CT, big),
		    ERR_UPSTREAM_ERROR, NULL);
		memset(big + 12 + n, 'a', 4);
	}
	free(big);

	/* Content types. */
	call_init(&c, API_KIND_HEALTH, 1);
	sm = reply_str(&c, 200, "Application/JSON ; charset=utf-8",
	    "{\"healthy\":true,\"version\":\"1\"}");
	assert_int_equal(sm->payload_case,
	    OPENCODE__SERVER_MESSAGE__PAYLOAD_UPSTREAM_HEALTH);
	opencode__server_message__free_unpacked(sm, NULL);
	expect_error(reply_str(&c, 200, "application/jsonx", "{}"),
	    ERR_UPSTREAM_ERROR, "unexpected content type");
	expect_error(reply_str(&c, 200, "text/json", "{}"),
	    ERR_UPSTREAM_ERROR, "unexpected content type");
	expect_error(reply_str(&c, 200, NULL, "{}"), ERR_UPSTREAM_ERROR,
	    "unexpected content type");
	expect_error(reply_str(&c, 204, NULL, ""), ERR_UPSTREAM_ERROR,
	    "unexpected content type");
	expect_error(reply_str(&c, 200, JSON_CT, ""), ERR_PARSE_ERROR,
	    "invalid JSON");

	/* Empty replies: 204, `true`, anything JSON; `false` is a failure. */
	call_init(&c, API_KIND_EMPTY, 1);
	expect_empty(reply_str(&c, 204, NULL, ""));
	expect_empty(reply_str(&c, 200, NULL, ""));
	expect_empty(reply_str(&c, 200, JSON_CT, "true"));
	expect_empty(reply_str(&c, 201, JSON_CT, "{\"ok\":1}\n"));
	expect_error(reply_str(&c, 200, JSON_CT, "false"),
	    ERR_UPSTREAM_ERROR, "upstream answered false");
	expect_error(reply_str(&c, 200, JSON_CT, "tru"), ERR_PARSE_ERROR,
	    "invalid JSON");
	expect_error(reply_str(&c, 200, "text/html", "true"),
	    ERR_UPSTREAM_ERROR, "unexpected content type");

	/* A call that was never built. */
	call_init(&c, 0, 1);
	expect_error(reply_str(&c, 200, JSON_CT, "{}"), ERR_INTERNAL,
	    NULL);
	call_init(&c, API_KIND_DIFF_LIST + 1, 1);
	expect_error(reply_str(&c, 200, JSON_CT, "{}"), ERR_INTERNAL,
	    NULL);
}

/* Each body, as a 200 JSON reply to a call of kind, is a parse error. */
static void
refused_bodies(int kind, const char *const *bodies, size_t n)
{
	struct api_call	c;
	size_t		i;

	for (i = 0; i < n; i++) {
		call_init(&c, kind, 1);
		expect_error(reply_str(&c, 200, JSON_CT, bodies[i]),
		    ERR_PARSE_ERROR, NULL);
	}
}

static void
test_wrong_types(void **state)
{
	static const char *const session_list[] = {
		"{}",
		"[1]",
		"[null]",
		"[{\"id\":\"s\",\"time\":\"x\"}]",
		"[{\"id\":\"s\"}]",
		"[{\"id\":\"s\",\"time\":{}}]",
		"[{\"id\":\"s\",\"time\":{\"created\":1}}]",
		"[{\"id\":\"s\",\"time\":{\"created\":1,\"updated\":\"2\"}}]",
		"[{\"id\":\"s\",\"time\":{\"created\":1.5,\"updated\":2}}]",
		"[{\"id\":\"s\",\"time\":{\"created\":1e3,\"updated\":2}}]",
		"[{\"id\":\"s\",\"time\":{\"created\":"
		    "99999999999999999999,\"updated\":2}}]",
		"[{\"id\":1,\"time\":{\"created\":1,\"updated\":2}}]",
		"[{\"time\":{\"created\":1,\"updated\":2}}]",
		"[{\"id\":\"s\",\"title\":5,"
		    "\"time\":{\"created\":1,\"updated\":2}}]",
		"[{\"id\":\"s\x01\","
		    "\"time\":{\"created\":1,\"updated\":2}}]",
	};
	static const char *const session_info[] = {
		"[]",
		"true",
	};
	static const char *const agent_list[] = {
		"{}",
		"[{}]",
		"[{\"name\":null}]",
		"[{\"name\":\"a\",\"native\":\"yes\"}]",
		"[{\"name\":\"a\",\"native\":1}]",
		"[{\"name\":\"a\",\"mode\":{}}]",
		"[{\"name\":\"a\",\"color\":[]}]",
		"[{\"name\":\"a\",\"description\":0}]",
	};
	static const char *const provider_status[] = {
		"{\"connected\":{}}",
		"{\"connected\":\"mock\"}",
		"{\"connected\":[1]}",
		"{\"connected\":[\"a\",null]}",
		"{\"all\":[]}",
		"[\"connected\"]",
		"{\"x\":{\"connected\":[]}}",
	};
	static const char *const auth_status[] = {
		"{\"connected\":{}}",
		"{\"connected\":[\"mock\",1]}",
		"{}",
	};
	static const char *const health[] = {
		"{\"healthy\":\"true\",\"version\":\"1\"}",
		"{\"version\":\"1\"}",
		"{\"healthy\":true}",
		"{\"healthy\":true,\"version\":1}",
		"[]",
	};

	(void)state;
	refused_bodies(API_KIND_SESSION_LIST, session_list,
	    NCASES(session_list));
	refused_bodies(API_KIND_SESSION_INFO, session_info,
	    NCASES(session_info));
	refused_bodies(API_KIND_AGENT_LIST, agent_list, NCASES(agent_list));
	refused_bodies(API_KIND_PROVIDER_STATUS, provider_status,
	    NCASES(provider_status));
	refused_bodies(API_KIND_AUTH_STATUS, auth_status, NCASES(auth_status));
	refused_bodies(API_KIND_HEALTH, health, NCASES(health));
}

/*
 * Sessions are read with a walk (api.c): the members read are checked as
 * json_parse() checks them, the others skimmed; what the skim still
 * refuses, and what it lets through unread, as json.h says.
 */
static void
test_session_skim(void **state)
{
#define SES_OK	"\"id\":\"s\",\"time\":{\"created\":1,\"updated\":2}"
	static const char *const refused[] = {
		"[{" SES_OK ",\"x\":[{]}]}]",		/* brackets that do not pair */
		"[{" SES_OK ",\"x\":[1,]]}",		/* unbalanced */
		"[{" SES_OK ",\"slug\":\"\\q\"}]",	/* not a JSON escape */
		"[{" SES_OK ",\"slug\":\"\\u12x4\"}]",
		"[{" SES_OK ",\"cost\":01}]",		/* a member's literal */
		"[{" SES_OK ",\"cost\":tru}]",
		"[{" SES_OK ",\"x\":[@]}]",		/* no JSON byte */
		"[{" SES_OK ",\"x\":{\"a\":\"b}]",	/* string not closed */
		"[{" SES_OK "}] x",			/* after the root */
		"[{" SES_OK "},]",			/* separators of what is read */
		"[{" SES_OK ",}]",
		"[{" SES_OK "}{" SES_OK "}]",
		"[{" SES_OK ",\"title\":\"a\" \"b\"}]",
		"[{\"id\":\"s\",\"time\":{\"created\":1,\"updated\":2,}}]",
		"[{" SES_OK ",\"time\":5}]x",
		"[{" SES_OK ",\"title\":\"a\x01\"}]",	/* a raw control byte */
	};
	static const char *const deep_fmt = "[{" SES_OK ",\"x\":%s}]";
	Opencode__ServerMessage	*sm;
	struct api_call		 c;
	char			*body, *nest;
	size_t			 i, n = 200;

	(void)state;
	refused_bodies(API_KIND_SESSION_LIST, refused, NCASES(refused));
	call_init(&c, API_KIND_SESSION_LIST, 1);
	expect_error(reply_str(&c, 200, JSON_CT, refused[0]), ERR_PARSE_ERROR,
	    "invalid JSON");
	expect_error(reply_str(&c, 200, JSON_CT, "[{\"id\":2}]"),
	    ERR_PARSE_ERROR, "unexpected reply: id");
	expect_error(reply_str(&c, 200, JSON_CT, "[{\"id\":\"s\","
	    "\"time\":{\"created\":1}}]"), ERR_PARSE_ERROR,
	    "unexpected reply: updated");
	call_init(&c, API_KIND_SESSION_INFO, 1);
	expect_error(reply_str(&c, 200, JSON_CT, "{" SES_OK "} {}"),
	    ERR_PARSE_ERROR, "invalid JSON");

	/* Nesting past JSON_MAX_DEPTH in a skimmed value: too large. */
	nest = malloc(2 * n + 1);
	body = malloc(2 * n + 64);
	assert_non_null(nest);
	assert_non_null(body);
	for (i = 0; i < n; i++) {
		nest[i] = '[';
		nest[n + i] = ']';
	}
	nest[2 * n] = '\0';
	snprintf(body, 2 * n + 64, deep_fmt, nest);
	call_init(&c, API_KIND_SESSION_LIST, 1);
	expect_error(reply_str(&c, 200, JSON_CT, body), ERR_PARSE_ERROR,
	    "reply too large");
	free(body);
	free(nest);

	/*
	 * Skimmed, never read: the order of what is inside a skipped value
	 * is not looked at, and the first of duplicate keys counts.
	 */
	sm = reply_str(&c, 200, JSON_CT, "[{\"tokens\":{\"a\" 1 : ,},"
	    "\"id\":\"ses_1\",\"id\":5,\"title\":\"t\",\"title\":[],"
	    "\"time\":{\"updated\":4,\"created\":3,\"created\":\"x\"},"
	    "\"time\":null}]");
	assert_int_equal(sm->payload_case,
	    OPENCODE__SERVER_MESSAGE__PAYLOAD_SESSION_LIST);
	assert_int_equal(sm->session_list->n_sessions, 1);
	assert_string_equal(sm->session_list->sessions[0]->id, "ses_1");
	assert_string_equal(sm->session_list->sessions[0]->title, "t");
	assert_true(sm->session_list->sessions[0]->created_at == 3);
	assert_true(sm->session_list->sessions[0]->updated_at == 4);
	opencode__server_message__free_unpacked(sm, NULL);
#undef SES_OK
}

/* Every strict prefix of a real reply is refused whole. */
static void
test_truncated(void **state)
{
	static const struct {
		const char	*file;
		int		 kind;
	} files[] = {
		{ "session-list.json", API_KIND_SESSION_LIST },
		{ "session-create.json", API_KIND_SESSION_INFO },
		{ "agent-list.json", API_KIND_AGENT_LIST },
		{ "health.json", API_KIND_HEALTH },
		{ "provider-after-auth-put.json", API_KIND_PROVIDER_STATUS },
	};
	Opencode__ServerMessage	*sm;
	struct api_call		 c;
	uint8_t			*body;
	size_t			 len, n, full;

	(void)state;
	for (size_t f = 0; f < sizeof(files) / sizeof(files[0]); f++) {
		body = fx_load(files[f].file, &len);
		call_init(&c, files[f].kind, 1);
		for (full = len; full > 0 && strchr(" \t\r\n",
		    body[full - 1]) != NULL; full--)
			;
		for (n = 0; n < full; n++) {
			sm = reply(&c, 200, JSON_CT, body, n);
			if (sm->payload_case !=
			    OPENCODE__SERVER_MESSAGE__PAYLOAD_ERROR)
				fail_msg("%s: prefix %zu mapped",
				    files[f].file, n);
			expect_error(sm, ERR_PARSE_ERROR, NULL);
		}
		sm = reply(&c, 200, JSON_CT, body, len);
		assert_int_not_equal(sm->payload_case,
		    OPENCODE__SERVER_MESSAGE__PAYLOAD_ERROR);
		opencode__server_message__free_unpacked(sm, NULL);
		free(body);
	}
}

static void
test_hostile(void **state)
{
	Opencode__ServerMessage	*sm;
	struct api_call		 c;
	uint8_t			*buf;
	size_t			 n = 100000, i, k;
	double			 t0;
	unsigned int		 seed = 1;

	(void)state;
	buf = malloc(8 * 1024 * 1024 + 64);
	assert_non_null(buf);
	/* Deep nesting, with and without its closing brackets. */
	memset(buf, '[', n);
	memset(buf + n, ']', n);
	t0 = it_now_fms();
	for (k = API_KIND_EMPTY; k <= API_KIND_HEALTH; k++) {
		call_init(&c, (int)k, 1);
		expect_error(reply(&c, 200, JSON_CT, buf, n),
		    ERR_PARSE_ERROR, NULL);
		expect_error(reply(&c, 200, JSON_CT, buf, 2 * n),
		    ERR_PARSE_ERROR, NULL);
		expect_error(reply(&c, 500, JSON_CT, buf, 2 * n),
		    ERR_UPSTREAM_ERROR, "HTTP 500");
	}
	print_message("[ x %zu: refused by every mapper in %.1f ms\n", n,
	    it_now_fms() - t0);

	/* Garbage. */
	for (i = 0; i < 200; i++) {
		n = (size_t)rand_r(&seed) % 512;
		for (k = 0; k < n; k++)
			buf[k] = (uint8_t)rand_r(&seed);
		for (k = API_KIND_EMPTY; k <= API_KIND_HEALTH; k++) {
			call_init(&c, (int)k, 1);
			sm = reply(&c, 200, JSON_CT, buf, n);
			opencode__server_message__free_unpacked(sm, NULL);
		}
	}

	/* A huge title goes through whole (size is the front's business). */
	call_init(&c, API_KIND_SESSION_INFO, 1);
	n = 8 * 1024 * 1024;
	k = (size_t)snprintf((char *)buf, 64, "%s", "{\"id\":\"ses_x\","
	    "\"time\":{\"created\":1,\"updated\":2},\"title\":\"");
	memset(buf + k, 'x', n);
	memcpy(buf + k + n, "\"}", 3);
	t0 = it_now_fms();
	sm = reply(&c, 200, JSON_CT, buf, k + n + 2);
	print_message("8 MiB title mapped in %.1f ms\n", it_now_fms() - t0);
	assert_int_equal(strlen(sm->session_info->title), n);
	opencode__server_message__free_unpacked(sm, NULL);

	/* A NUL byte in the body. */
	memcpy(buf, "{\"healthy\":true,\"version\":\"1\0\"}", 31);
	call_init(&c, API_KIND_HEALTH, 1);
	expect_error(reply(&c, 200, JSON_CT, buf, 31), ERR_PARSE_ERROR,
	    "invalid JSON");
	free(buf);
}

static void
test_error_pack(void **state)
{
	Opencode__ServerMessage	*sm;
	uint8_t			*out;
	size_t			 outlen;
	char			 big[1000];

	(void)state;
	assert_int_equal(api_error_pack(3, ERR_UPSTREAM_TIMEOUT,
	    "upstream timed out", &out, &outlen), 0);
	sm = opencode__server_message__unpack(NULL, outlen, out);
	free(out);
	assert_true(sm->request_id == 3);
	expect_error(sm, ERR_UPSTREAM_TIMEOUT, "upstream timed out");

	assert_int_equal(api_error_pack(4, "NOT_A_CODE", NULL, &out, &outlen),
	    0);
	sm = opencode__server_message__unpack(NULL, outlen, out);
	free(out);
	expect_error(sm, ERR_INTERNAL, "");

	assert_int_equal(api_error_pack(5, NULL, "bad \xff\x01 utf8", &out,
	    &outlen), 0);
	sm = opencode__server_message__unpack(NULL, outlen, out);
	free(out);
	expect_error(sm, ERR_INTERNAL, "bad \xef\xbf\xbd  utf8");

	memset(big, 'e', sizeof(big));
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(api_error_pack(6, ERR_PARSE_ERROR, big, &out,
	    &outlen), 0);
	sm = opencode__server_message__unpack(NULL, outlen, out);
	free(out);
	assert_int_equal(strlen(sm->error->message), API_MSG_MAX - 1);
	expect_error(sm, ERR_PARSE_ERROR, NULL);
}

/* ---- protocol v2: requests ---- */

#define SES	"ses_de9d9cc0cffehGld5NiPkdFvkF"
#define MSG	"msg_2162637d3001D3oiM0PZUN3pqM"
#define PRT	"prt_21626379e001UXsmWtXmAuCWeX"
#define QUE	"que_21626a0c1001Qm3rtn0U5b4xYz"

/* Builds m, which must succeed; the caller api_call_free()s b->call. */
static void
build_ok(Opencode__ClientMessage *m, struct built *b)
{
	build(m, b);
	if (b->rc != 0)
		fail_msg("%s: %s", b->err.code, b->err.message);
}

/* INVALID_REQUEST with exactly that message. */
static void
expect_invalid_why(Opencode__ClientMessage *m, const char *why)
{
	struct built	b;

	build(m, &b);
	assert_int_equal(b.rc, -1);
	assert_string_equal(b.err.code, ERR_INVALID_REQUEST);
	assert_string_equal(b.err.message, why);
	assert_string_equal(b.call.path, "");
	assert_string_equal(b.call.session_id, "");
}

/* The session the call names, checked after a successful build. */
static void
expect_session(Opencode__ClientMessage *m, const char *id)
{
	struct built	b;

	build_ok(m, &b);
	assert_string_equal(b.call.session_id, id);
	assert_int_equal(b.call.timeout_ms, 0);
	api_call_free(&b.call);
}

static void
test_build_v2_sessions(void **state)
{
	Opencode__ClientMessage		m = OPENCODE__CLIENT_MESSAGE__INIT;
	Opencode__GetSession		gs = OPENCODE__GET_SESSION__INIT;
	Opencode__UpdateSession		us = OPENCODE__UPDATE_SESSION__INIT;
	Opencode__ForkSession		fs = OPENCODE__FORK_SESSION__INIT;
	Opencode__RevertSession		rs = OPENCODE__REVERT_SESSION__INIT;
	Opencode__UnrevertSession	un = OPENCODE__UNREVERT_SESSION__INIT;
	Opencode__ListSessionStatus	ls = OPENCODE__LIST_SESSION_STATUS__INIT;
	Opencode__GetTodos		gt = OPENCODE__GET_TODOS__INIT;
	Opencode__DeleteSessionRequest	ds = OPENCODE__DELETE_SESSION_REQUEST__INIT;

	(void)state;
	m.request_id = 9;
	m.payload_case = OPENCODE__CLIENT_MESSAGE__PAYLOAD_GET_SESSION;
	m.get_session = &gs;
	gs.session_id = SES;
	expect_call(&m, API_GET, "/session/" SES, API_KIND_SESSION_INFO, NULL);
	expect_session(&m, SES);
	gs.session_id = "ses_../x";
	expect_invalid_why(&m, "invalid session_id");
	gs.session_id = "ses_";
	expect_invalid_why(&m, "invalid session_id");
	gs.session_id = "";
	expect_invalid_why(&m, "invalid session_id");
	m.get_session = NULL;
	expect_invalid_why(&m, "invalid session_id");

	m.payload_case = OPENCODE__CLIENT_MESSAGE__PAYLOAD_UPDATE_SESSION;
	m.update_session = &us;
	us.session_id = SES;
	us.title = "renamed \"x\"\n";
	expect_call(&m, API_PATCH, "/session/" SES, API_KIND_SESSION_INFO,
	    "{\"title\":\"renamed \\\"x\\\"\\n\"}");
	expect_session(&m, SES);
	us.title = "";
	expect_invalid_why(&m, "empty title");
	us.title = "bad \xc3\x28";
	expect_invalid_why(&m, "invalid title");
	us.title = "t";
	us.session_id = "per_x";
	expect_invalid_why(&m, "invalid session_id");

	m.payload_case = OPENCODE__CLIENT_MESSAGE__PAYLOAD_FORK_SESSION;
	m.fork_session = &fs;
	fs.session_id = SES;
	expect_call(&m, API_POST, "/session/" SES "/fork",
	    API_KIND_SESSION_INFO, "{}");
	expect_session(&m, SES);
	fs._message_id_case = OPENCODE__FORK_SESSION___MESSAGE_ID_MESSAGE_ID;
	fs.message_id = MSG;
	expect_call(&m, API_POST, "/session/" SES "/fork",
	    API_KIND_SESSION_INFO, "{\"messageID\":\"" MSG "\"}");
	fs.message_id = "msg_";
	expect_invalid_why(&m, "invalid message_id");
	fs.message_id = PRT;
	expect_invalid_why(&m, "invalid message_id");
	fs.message_id = "";
	expect_invalid_why(&m, "invalid message_id");
	fs.message_id = MSG;
	fs.session_id = "ses_a/b";
	expect_invalid_why(&m, "invalid session_id");

	m.payload_case = OPENCODE__CLIENT_MESSAGE__PAYLOAD_REVERT_SESSION;
	m.revert_session = &rs;
	rs.session_id = SES;
	rs.message_id = MSG;
	expect_call(&m, API_POST, "/session/" SES "/revert",
	    API_KIND_SESSION_INFO, "{\"messageID\":\"" MSG "\"}");
	expect_session(&m, SES);
	rs._part_id_case = OPENCODE__REVERT_SESSION___PART_ID_PART_ID;
	rs.part_id = PRT;
	expect_call(&m, API_POST, "/session/" SES "/revert",
	    API_KIND_SESSION_INFO,
	    "{\"messageID\":\"" MSG "\",\"partID\":\"" PRT "\"}");
	rs.part_id = MSG;
	expect_invalid_why(&m, "invalid part_id");
	rs.part_id = "prt_%2e";
	expect_invalid_why(&m, "invalid part_id");
	rs.part_id = PRT;
	rs.message_id = "";
	expect_invalid_why(&m, "invalid message_id");
	rs.message_id = "msg_x y";
	expect_invalid_why(&m, "invalid message_id");
	m.revert_session = NULL;
	expect_invalid_why(&m, "invalid session_id");

	m.payload_case = OPENCODE__CLIENT_MESSAGE__PAYLOAD_UNREVERT_SESSION;
	m.unrevert_session = &un;
	un.session_id = SES;
	expect_call(&m, API_POST, "/session/" SES "/unrevert",
	    API_KIND_SESSION_INFO, NULL);
	expect_session(&m, SES);
	un.session_id = "ses_x\n";
	expect_invalid_why(&m, "invalid session_id");

	m.payload_case = OPENCODE__CLIENT_MESSAGE__PAYLOAD_LIST_SESSION_STATUS;
	m.list_session_status = &ls;
	expect_call(&m, API_GET, "/session/status",
	    API_KIND_SESSION_STATUS_LIST, NULL);
	expect_session(&m, "");

	m.payload_case = OPENCODE__CLIENT_MESSAGE__PAYLOAD_GET_TODOS;
	m.get_todos = &gt;
	gt.session_id = SES;
	expect_call(&m, API_GET, "/session/" SES "/todo", API_KIND_TODO_LIST,
	    NULL);
	expect_session(&m, SES);
	gt.session_id = "ses_\xc3\xa9";
	expect_invalid_why(&m, "invalid session_id");

	/* The 4A calls that name a session record it too. */
	m.payload_case = OPENCODE__CLIENT_MESSAGE__PAYLOAD_DELETE_SESSION;
	m.delete_session = &ds;
	ds.session_id = SES;
	expect_session(&m, SES);
}

static void
test_build_v2_diff(void **state)
{
	Opencode__ClientMessage		m = OPENCODE__CLIENT_MESSAGE__INIT;
	Opencode__GetDiff		gd = OPENCODE__GET_DIFF__INIT;
	struct built			b;

	(void)state;
	m.payload_case = OPENCODE__CLIENT_MESSAGE__PAYLOAD_GET_DIFF;
	m.get_diff = &gd;
	gd.session_id = SES;
	expect_call(&m, API_GET, "/session/" SES "/diff", API_KIND_DIFF_LIST,
	    NULL);
	build_ok(&m, &b);
	assert_string_equal(b.call.session_id, SES);
	assert_string_equal(b.call.message_id, "");
	gd._message_id_case = OPENCODE__GET_DIFF___MESSAGE_ID_MESSAGE_ID;
	gd.message_id = MSG;
	expect_call(&m, API_GET, "/session/" SES "/diff?messageID=" MSG,
	    API_KIND_DIFF_LIST, NULL);
	build_ok(&m, &b);
	assert_string_equal(b.call.message_id, MSG);
	gd.message_id = "msg_&x=1";
	expect_invalid_why(&m, "invalid message_id");
	gd.message_id = SES;
	expect_invalid_why(&m, "invalid message_id");
	gd.message_id = MSG;
	gd.session_id = NULL;
	expect_invalid_why(&m, "invalid session_id");
	m.get_diff = NULL;
	expect_invalid_why(&m, "invalid session_id");
}

static void
test_build_v2_summarize(void **state)
{
	Opencode__ClientMessage		m = OPENCODE__CLIENT_MESSAGE__INIT;
	Opencode__SummarizeSession	ss = OPENCODE__SUMMARIZE_SESSION__INIT;

	(void)state;
	m.payload_case = OPENCODE__CLIENT_MESSAGE__PAYLOAD_SUMMARIZE_SESSION;
	m.summarize_session = &ss;
	ss.session_id = SES;
	ss.provider_id = "mock";
	ss.model_id = "mock-1";
	expect_call(&m, API_POST, "/session/" SES "/summarize", API_KIND_EMPTY,
	    "{\"providerID\":\"mock\",\"modelID\":\"mock-1\"}");
	expect_session(&m, SES);
	ss.model_id = "";
	expect_invalid_why(&m, "invalid model_id");
	ss.model_id = "m\xff";
	expect_invalid_why(&m, "invalid model_id");
	ss.model_id = "mock-1";
	ss.provider_id = "";
	expect_invalid_why(&m, "invalid provider_id");
	ss.provider_id = "..";
	expect_invalid_why(&m, "invalid provider_id");
	ss.provider_id = "mock";
	ss.session_id = "";
	expect_invalid_why(&m, "invalid session_id");
}

static void
test_build_v2_messages(void **state)
{
	Opencode__ClientMessage		m = OPENCODE__CLIENT_MESSAGE__INIT;
	Opencode__ListMessages		lm = OPENCODE__LIST_MESSAGES__INIT;
	struct built			b;
	const char			*base = "/session/" SES "/message";

	(void)state;
	m.payload_case = OPENCODE__CLIENT_MESSAGE__PAYLOAD_LIST_MESSAGES;
	m.list_messages = &lm;
	lm.session_id = SES;
	/* One more than asked for: `more` is known from the reply. */
	expect_call(&m, API_GET, "/session/" SES "/message?limit=101",
	    API_KIND_MESSAGE_LIST, NULL);
	build_ok(&m, &b);
	assert_int_equal(b.call.limit, API_MESSAGES_DEFAULT);
	assert_string_equal(b.call.session_id, SES);
	assert_int_equal(b.call.max_reply, 0);	/* netproc's to set */
	assert_true(strlen(b.call.path) > strlen(base));

	lm._limit_case = OPENCODE__LIST_MESSAGES___LIMIT_LIMIT;
	lm.limit = 1;
	expect_call(&m, API_GET, "/session/" SES "/message?limit=2",
	    API_KIND_MESSAGE_LIST, NULL);
	lm.limit = API_MESSAGES_MAX;
	expect_call(&m, API_GET, "/session/" SES "/message?limit=1001",
	    API_KIND_MESSAGE_LIST, NULL);
	build_ok(&m, &b);
	assert_int_equal(b.call.limit, API_MESSAGES_MAX);
	lm.limit = 0;
	expect_invalid_why(&m, "invalid limit: 1..1000");
	lm.limit = API_MESSAGES_MAX + 1;
	expect_invalid_why(&m, "invalid limit: 1..1000");
	lm.limit = UINT32_MAX;
	expect_invalid_why(&m, "invalid limit: 1..1000");

	/*
	 * The server's before is a cursor, not an id (it answers a msg_ id
	 * with 400): a page before an id first GETs that message, whose
	 * creation time makes the cursor (api_second_path).
	 */
	lm.limit = 20;
	lm._before_case = OPENCODE__LIST_MESSAGES___BEFORE_BEFORE;
	lm.before = MSG;
	expect_call(&m, API_GET, "/session/" SES "/message/" MSG,
	    API_KIND_MESSAGE_LIST, NULL);
	build_ok(&m, &b);
	assert_string_equal(b.call.before, MSG);
	assert_int_equal(b.call.limit, 20);
	assert_true(b.call.path2_from_reply);
	assert_string_equal(b.call.path2, "");
	lm.before = "";
	expect_invalid_why(&m, "invalid before: a msg_ id");
	lm.before = SES;
	expect_invalid_why(&m, "invalid before: a msg_ id");
	lm.before = "msg_1&limit=5";
	expect_invalid_why(&m, "invalid before: a msg_ id");
	lm.before = "eyJpZCI6Im1zZ18yM2NhNmZlNjQwMDF2QndhRGJhbWpISXVjNCIsInRp";
	expect_invalid_why(&m, "invalid before: a msg_ id");
	lm.before = MSG;
	lm.session_id = "ses_1?x";
	expect_invalid_why(&m, "invalid session_id");
	m.list_messages = NULL;
	expect_invalid_why(&m, "invalid session_id");

	/* The longest ids fit. */
	{
		char	ses[PATHENC_ID_MAX + 1], msg[PATHENC_ID_MAX + 1];

		memset(ses, 'a', sizeof(ses) - 1);
		memcpy(ses, "ses_", 4);
		ses[sizeof(ses) - 1] = '\0';
		memset(msg, 'b', sizeof(msg) - 1);
		memcpy(msg, "msg_", 4);
		msg[sizeof(msg) - 1] = '\0';
		m.list_messages = &lm;
		lm.session_id = ses;
		lm.before = msg;
		lm.limit = 1000;
		build_ok(&m, &b);
		assert_string_equal(b.call.before, msg);
		assert_string_equal(b.call.session_id, ses);
		lm._before_case = OPENCODE__LIST_MESSAGES___BEFORE__NOT_SET;
		build_ok(&m, &b);
		assert_non_null(strstr(b.call.path, "/message?limit=1001"));
		assert_string_equal(b.call.before, "");
	}
}

static void
test_build_v2_question(void **state)
{
	Opencode__ClientMessage		m = OPENCODE__CLIENT_MESSAGE__INIT;
	Opencode__ReplyQuestion		rq = OPENCODE__REPLY_QUESTION__INIT;
	Opencode__RejectQuestion	rj = OPENCODE__REJECT_QUESTION__INIT;
	Opencode__QuestionAnswer	qa[API_ANSWERS_MAX + 1];
	Opencode__QuestionAnswer	*pa[API_ANSWERS_MAX + 1];
	char				*labels[API_LABELS_MAX + 1];
	char				*big;
	struct built			 b;
	size_t				 i;

	(void)state;
	for (i = 0; i <= API_ANSWERS_MAX; i++) {
		opencode__question_answer__init(&qa[i]);
		pa[i] = &qa[i];
	}
	for (i = 0; i <= API_LABELS_MAX; i++)
		labels[i] = "l";
	m.payload_case = OPENCODE__CLIENT_MESSAGE__PAYLOAD_REPLY_QUESTION;
	m.reply_question = &rq;
	rq.question_id = QUE;
	rq.answers = pa;
	rq.n_answers = 2;
	qa[0].labels = (char *[]){ "Red" };
	qa[0].n_labels = 1;
	qa[1].labels = (char *[]){ "Green \"g\"", "caf\xc3\xa9" };
	qa[1].n_labels = 2;
	expect_call(&m, API_POST, "/question/" QUE "/reply", API_KIND_EMPTY,
	    "{\"answers\":[[\"Red\"],[\"Green \\\"g\\\"\",\"caf\xc3\xa9\"]]}");
	expect_session(&m, "");

	rq.n_answers = 0;
	expect_invalid_why(&m, "no answers");
	rq.n_answers = API_ANSWERS_MAX + 1;
	for (i = 0; i <= API_ANSWERS_MAX; i++) {
		qa[i].labels = labels;
		qa[i].n_labels = 1;
	}
	expect_invalid_why(&m, "too many answers");
	rq.n_answers = API_ANSWERS_MAX;
	build_ok(&m, &b);
	assert_int_equal(strncmp(b.call.body, "{\"answers\":[[\"l\"],[",
	    strlen("{\"answers\":[[\"l\"],[")), 0);
	api_call_free(&b.call);
	rq.n_answers = 1;
	qa[0].n_labels = 0;
	expect_invalid_why(&m, "an answer without labels");
	qa[0].n_labels = API_LABELS_MAX + 1;
	expect_invalid_why(&m, "too many labels");
	qa[0].n_labels = API_LABELS_MAX;
	build_ok(&m, &b);
	api_call_free(&b.call);
	qa[0].labels = (char *[]){ "a", "" };
	qa[0].n_labels = 2;
	expect_invalid_why(&m, "empty label");
	qa[0].labels = (char *[]){ "\xed\xa0\x80" };
	qa[0].n_labels = 1;
	expect_invalid_why(&m, "invalid label");
	big = malloc(API_LABEL_MAX + 2);
	assert_non_null(big);
	memset(big, 'x', API_LABEL_MAX + 1);
	big[API_LABEL_MAX + 1] = '\0';
	qa[0].labels = &big;
	expect_invalid_why(&m, "invalid label");
	big[API_LABEL_MAX] = '\0';
	build_ok(&m, &b);
	assert_int_equal(b.call.body_len, API_LABEL_MAX + 18);
	api_call_free(&b.call);
	free(big);
	pa[0] = NULL;
	expect_invalid_why(&m, "an answer without labels");
	pa[0] = &qa[0];
	qa[0].labels = labels;
	rq.question_id = "que_";
	expect_invalid_why(&m, "invalid question_id");
	rq.question_id = "per_216264a5a001SZP3O5Om9g1xn2";
	expect_invalid_why(&m, "invalid question_id");
	rq.question_id = "que_../../x";
	expect_invalid_why(&m, "invalid question_id");
	m.reply_question = NULL;
	expect_invalid_why(&m, "invalid question_id");

	m.payload_case = OPENCODE__CLIENT_MESSAGE__PAYLOAD_REJECT_QUESTION;
	m.reject_question = &rj;
	rj.question_id = QUE;
	expect_call(&m, API_POST, "/question/" QUE "/reject", API_KIND_EMPTY,
	    NULL);
	rj.question_id = "que_x%2f";
	expect_invalid_why(&m, "invalid question_id");
	rj.question_id = NULL;
	expect_invalid_why(&m, "invalid question_id");
}

static void
test_build_v2_command(void **state)
{
	Opencode__ClientMessage		m = OPENCODE__CLIENT_MESSAGE__INIT;
	Opencode__RunCommand		rc = OPENCODE__RUN_COMMAND__INIT;
	Opencode__CancelRequest		cr = OPENCODE__CANCEL_REQUEST__INIT;
	const char			*path = "/session/" SES "/command";
	char				 name[API_NAME_MAX + 2];
	struct built			 b;

	(void)state;
	m.payload_case = OPENCODE__CLIENT_MESSAGE__PAYLOAD_RUN_COMMAND;
	m.run_command = &rc;
	rc.session_id = SES;
	rc.command = "init";
	expect_call(&m, API_POST, path, API_KIND_EMPTY,
	    "{\"command\":\"init\",\"arguments\":\"\"}");
	build_ok(&m, &b);
	assert_int_equal(b.call.timeout_ms, API_TIMEOUT_LONG_MS);
	assert_int_equal(b.call.ends_with_cancel, 1);
	assert_int_equal(b.call.cancels_session, 0);
	assert_string_equal(b.call.session_id, SES);
	api_call_free(&b.call);
	rc.arguments = "a \"b\"\n";
	rc._agent_case = OPENCODE__RUN_COMMAND___AGENT_AGENT;
	rc.agent = "plan";
	rc._provider_id_case = OPENCODE__RUN_COMMAND___PROVIDER_ID_PROVIDER_ID;
	rc.provider_id = "cloudflare-workers-ai";
	rc._model_id_case = OPENCODE__RUN_COMMAND___MODEL_ID_MODEL_ID;
	rc.model_id = "@cf/zai \"q\"";
	expect_call(&m, API_POST, path, API_KIND_EMPTY,
	    "{\"command\":\"init\",\"arguments\":\"a \\\"b\\\"\\n\","
	    "\"agent\":\"plan\","
	    "\"model\":\"cloudflare-workers-ai/@cf/zai \\\"q\\\"\"}");
	rc._model_id_case = OPENCODE__RUN_COMMAND___MODEL_ID__NOT_SET;
	expect_invalid_why(&m, "provider_id and model_id go together");
	rc._model_id_case = OPENCODE__RUN_COMMAND___MODEL_ID_MODEL_ID;
	rc.model_id = "";
	expect_invalid_why(&m, "invalid model_id");
	rc.model_id = "m";
	rc.provider_id = "a/b";
	expect_invalid_why(&m, "invalid provider_id");
	rc.provider_id = "mock";
	rc.agent = "";
	expect_invalid_why(&m, "invalid agent");
	rc.agent = "build";
	rc.arguments = "\xc0\xaf";
	expect_invalid_why(&m, "invalid arguments");
	rc.arguments = "";
	rc.command = "";
	expect_invalid_why(&m, "invalid command");
	rc.command = "/init";
	expect_invalid_why(&m, "invalid command");
	rc.command = "a/b";
	expect_invalid_why(&m, "invalid command");
	rc.command = "a\tb";
	expect_invalid_why(&m, "invalid command");
	rc.command = "a\x7f";
	expect_invalid_why(&m, "invalid command");
	rc.command = "\xff";
	expect_invalid_why(&m, "invalid command");
	rc.command = NULL;
	expect_invalid_why(&m, "invalid command");
	memset(name, 'c', sizeof(name));
	name[API_NAME_MAX + 1] = '\0';
	rc.command = name;
	expect_invalid_why(&m, "invalid command");
	name[API_NAME_MAX] = '\0';
	build_ok(&m, &b);
	api_call_free(&b.call);
	rc.command = "caf\xc3\xa9 review";
	build_ok(&m, &b);
	api_call_free(&b.call);
	rc.session_id = "ses_";
	expect_invalid_why(&m, "invalid session_id");
	m.run_command = NULL;
	expect_invalid_why(&m, "invalid session_id");

	/* A CancelRequest ends the session's RunCommand calls. */
	m.payload_case = OPENCODE__CLIENT_MESSAGE__PAYLOAD_CANCEL_REQUEST;
	m.cancel_request = &cr;
	cr.session_id = SES;
	expect_call(&m, API_POST, "/session/" SES "/abort", API_KIND_EMPTY,
	    NULL);
	build_ok(&m, &b);
	assert_int_equal(b.call.cancels_session, 1);
	assert_int_equal(b.call.ends_with_cancel, 0);
	assert_string_equal(b.call.session_id, SES);
	cr.session_id = "x";
	expect_invalid_why(&m, "invalid session_id");
}

static void
test_build_v2_files(void **state)
{
	Opencode__ClientMessage		m = OPENCODE__CLIENT_MESSAGE__INIT;
	Opencode__SendMessage		sm = OPENCODE__SEND_MESSAGE__INIT;
	Opencode__FileAttachment	fa[API_FILES_MAX + 1];
	Opencode__FileAttachment	*pf[API_FILES_MAX + 1];
	const char			*path = "/session/" SES "/prompt_async";
	static const char *const	 bad_urls[] = {
		"", "file://", "file://relative/x", "file:relative",
		"http://example.com/x", "https://x/y", "data", "DATA:x",
		"File:///x", " file:///x", "file:///a\nb", "data:a\x01",
		"file:///\xff", "javascript:alert(1)",
	};
	static const char *const	 bad_mimes[] = {
		"", "text", "text/", "/plain", "text/plain; charset=utf-8",
		"a/b/c", "text /plain", "t\xc3\xa9xt/plain", "text/pl\"ain",
	};
	struct built			 b;
	size_t				 i;

	(void)state;
	for (i = 0; i <= API_FILES_MAX; i++) {
		opencode__file_attachment__init(&fa[i]);
		fa[i].mime = "text/plain";
		fa[i].url = "file:///home/user/project/hello.txt";
		pf[i] = &fa[i];
	}
	m.payload_case = OPENCODE__CLIENT_MESSAGE__PAYLOAD_SEND_MESSAGE;
	m.send_message = &sm;
	sm.session_id = SES;
	sm.text = "look";
	sm.files = pf;
	sm.n_files = 2;
	fa[1].mime = "image/png";
	fa[1].filename = "dot \"1\".png";
	fa[1].url = "data:image/png;base64,iVBORw0KGgo=";
	expect_call(&m, API_POST, path, API_KIND_EMPTY,
	    "{\"parts\":[{\"type\":\"text\",\"text\":\"look\"},"
	    "{\"type\":\"file\",\"mime\":\"text/plain\","
	    "\"url\":\"file:///home/user/project/hello.txt\"},"
	    "{\"type\":\"file\",\"mime\":\"image/png\","
	    "\"filename\":\"dot \\\"1\\\".png\","
	    "\"url\":\"data:image/png;base64,iVBORw0KGgo=\"}]}");
	build_ok(&m, &b);
	assert_string_equal(b.call.session_id, SES);
	api_call_free(&b.call);
	fa[1].filename = "";
	fa[1].mime = "application/vnd.oasis.opendocument.text+xml";
	build_ok(&m, &b);
	assert_null(strstr(b.call.body, "filename"));
	api_call_free(&b.call);

	for (i = 0; i < sizeof(bad_urls) / sizeof(bad_urls[0]); i++) {
		fa[1].url = (char *)bad_urls[i];
		expect_invalid_why(&m,
		    "invalid file url: file:///path or data: only");
	}
	fa[1].url = NULL;
	expect_invalid_why(&m, "invalid file url: file:///path or data: only");
	fa[1].url = "data:,x";
	for (i = 0; i < sizeof(bad_mimes) / sizeof(bad_mimes[0]); i++) {
		fa[1].mime = (char *)bad_mimes[i];
		expect_invalid_why(&m, "invalid file mime");
	}
	fa[1].mime = NULL;
	expect_invalid_why(&m, "invalid file mime");
	fa[1].mime = "text/plain";
	fa[1].filename = "\xc3";
	expect_invalid_why(&m, "invalid file filename");
	fa[1].filename = NULL;
	pf[1] = NULL;
	expect_invalid_why(&m, "missing file");
	pf[1] = &fa[1];
	sm.n_files = API_FILES_MAX + 1;
	expect_invalid_why(&m, "too many files");
	sm.n_files = API_FILES_MAX;
	build_ok(&m, &b);
	api_call_free(&b.call);
}

static void
test_build_v2_lists(void **state)
{
	Opencode__ClientMessage		m = OPENCODE__CLIENT_MESSAGE__INIT;
	Opencode__ListCommands		lc = OPENCODE__LIST_COMMANDS__INIT;
	Opencode__ListProviders		lp = OPENCODE__LIST_PROVIDERS__INIT;
	Opencode__ListPending		pe = OPENCODE__LIST_PENDING__INIT;
	struct built			b;

	(void)state;
	m.payload_case = OPENCODE__CLIENT_MESSAGE__PAYLOAD_LIST_COMMANDS;
	m.list_commands = &lc;
	expect_call(&m, API_GET, "/command", API_KIND_COMMAND_LIST, NULL);

	m.payload_case = OPENCODE__CLIENT_MESSAGE__PAYLOAD_LIST_PROVIDERS;
	m.list_providers = &lp;
	expect_call(&m, API_GET, "/provider", API_KIND_PROVIDER_LIST, NULL);
	build_ok(&m, &b);
	assert_int_equal(b.call.include_all, 0);
	assert_int_equal(b.call.quote_errors, 0);
	lp.include_all = 1;
	build_ok(&m, &b);
	assert_int_equal(b.call.include_all, 1);
	assert_int_equal(b.call.quote_errors, 0);

	m.payload_case = OPENCODE__CLIENT_MESSAGE__PAYLOAD_LIST_PENDING;
	m.list_pending = &pe;
	expect_call(&m, API_GET, "/permission", API_KIND_PENDING_LIST, NULL);
	build_ok(&m, &b);
	assert_string_equal(b.call.path2, "/question");
	assert_int_equal(b.call.quote_errors, 1);

	/* Only ListPending has a second GET. */
	m.payload_case = OPENCODE__CLIENT_MESSAGE__PAYLOAD_LIST_COMMANDS;
	build_ok(&m, &b);
	assert_string_equal(b.call.path2, "");
}

static void
test_pathenc_v2(void **state)
{
	(void)state;
	assert_true(pathenc_message_id(MSG));
	assert_true(pathenc_part_id(PRT));
	assert_true(pathenc_question_id(QUE));
	assert_false(pathenc_message_id(PRT));
	assert_false(pathenc_part_id(QUE));
	assert_false(pathenc_question_id(MSG));
	assert_false(pathenc_message_id("msg_"));
	assert_false(pathenc_message_id("msg_a.b"));
	assert_false(pathenc_question_id("que_a-b"));
	assert_false(pathenc_part_id(NULL));
	assert_false(pathenc_message_id("MSG_abc"));
}

/* ---- protocol v2: replies ---- */

static Opencode__ServerMessage *
reply2(const struct api_call *c, const struct api_response *r, size_t *lenp)
{
	Opencode__ServerMessage	*sm;
	uint8_t			*out;
	size_t			 outlen;

	assert_int_equal(api_reply_pack(c, r, &out, &outlen), 0);
	if (c->max_reply > 0 && outlen > c->max_reply)
		fail_msg("reply of %zu bytes, max_reply %zu", outlen,
		    c->max_reply);
	sm = opencode__server_message__unpack(NULL, outlen, out);
	assert_non_null(sm);
	assert_true(sm->request_id == c->request_id);
	free(out);
	if (lenp != NULL)
		*lenp = outlen;
	return sm;
}

static void
test_status_list(void **state)
{
	Opencode__ServerMessage		*sm;
	Opencode__SessionStatus		*st;
	struct api_call			 c;
	uint8_t				*body;
	size_t				 len;
	static const char *const	 bad[] = {
		"[]", "1", "{\"ses_a\":1}", "{\"ses_a\":{}}",
		"{\"ses_a\":{\"type\":1}}",
		"{\"ses_a\":{\"type\":\"retry\",\"attempt\":\"2\"}}",
		"{\"ses_a\":{\"type\":\"retry\",\"next\":1.5}}",
		"{\"ses_a\":{\"type\":\"retry\",\"message\":[]}}",
	};

	(void)state;
	call_init(&c, API_KIND_SESSION_STATUS_LIST, 1);
	body = fx_load("session-status-retry.json", &len);
	sm = reply(&c, 200, JSON_CT, body, len);
	assert_int_equal(sm->payload_case,
	    OPENCODE__SERVER_MESSAGE__PAYLOAD_SESSION_STATUS_LIST);
	assert_int_equal(sm->session_status_list->n_statuses, 1);
	st = sm->session_status_list->statuses[0];
	assert_string_equal(st->session_id, "ses_de9d944ebffeAAivTN2TRQLU7O");
	assert_string_equal(st->status, "retry");
	assert_int_equal(st->attempt, 2);
	assert_string_equal(st->message,
	    "mock error 500 (requested by the prompt)");
	assert_true(st->next_ms == 1795667974651LL);
	opencode__server_message__free_unpacked(sm, NULL);
	free(body);

	body = fx_load("session-status.json", &len);
	sm = reply(&c, 200, JSON_CT, body, len);
	assert_int_equal(sm->payload_case,
	    OPENCODE__SERVER_MESSAGE__PAYLOAD_SESSION_STATUS_LIST);
	assert_int_equal(sm->session_status_list->n_statuses, 0);
	opencode__server_message__free_unpacked(sm, NULL);
	free(body);

	sm = reply_str(&c, 200, JSON_CT, "{\"ses_a\":{\"type\":\"busy\"},"
	    "\"ses_b\":{\"type\":\"idle\",\"attempt\":null},"
	    "\"ses_c\":{\"type\":\"retry\",\"attempt\":1,\"message\":\"m\","
	    "\"next\":5,\"action\":{\"reason\":\"r\"}}}");
	assert_int_equal(sm->session_status_list->n_statuses, 3);
	st = sm->session_status_list->statuses[0];
	assert_string_equal(st->session_id, "ses_a");
	assert_string_equal(st->status, "busy");
	assert_int_equal(st->attempt, 0);
	assert_string_equal(st->message, "");
	st = sm->session_status_list->statuses[1];
	assert_string_equal(st->status, "idle");
	st = sm->session_status_list->statuses[2];
	assert_string_equal(st->session_id, "ses_c");
	assert_int_equal(st->attempt, 1);
	assert_int_equal(st->next_ms, 5);
	opencode__server_message__free_unpacked(sm, NULL);

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		expect_error(reply_str(&c, 200, JSON_CT, bad[i]),
		    ERR_PARSE_ERROR, NULL);
	expect_error(reply_str(&c, 500, JSON_CT, "{\"name\":\"boom\"}"),
	    ERR_UPSTREAM_ERROR, "HTTP 500: boom");
}

static void
test_message_list(void **state)
{
	Opencode__ServerMessage		*sm;
	Opencode__MessageList		*ml;
	Opencode__MessageWithParts	*mw;
	struct api_call			 c;
	uint8_t				*body;
	size_t				 len;
	static const char *const	 bad[] = {
		"{}", "[1]", "[{}]", "[{\"info\":{},\"parts\":[]}]",
		"[{\"info\":[],\"parts\":[]}]",
		"[{\"info\":{\"id\":\"msg_a\",\"sessionID\":\"ses_a\","
		    "\"role\":\"user\"}}]",
		"[{\"info\":{\"id\":\"msg_a\",\"sessionID\":\"ses_a\","
		    "\"role\":\"user\"},\"parts\":{}}]",
		"[{\"info\":{\"id\":\"msg_a\",\"sessionID\":\"ses_a\","
		    "\"role\":\"user\"},\"parts\":[1]}]",
	};

	(void)state;
	call_init(&c, API_KIND_MESSAGE_LIST, 1);
	snprintf(c.session_id, sizeof(c.session_id), "%s",
	    "ses_de9d9cc0cffehGld5NiPkdFvkF");
	body = fx_load("session-messages-tool.json", &len);

	/* Fewer than asked for: all of them, no more. */
	c.limit = 100;
	sm = reply(&c, 200, JSON_CT, body, len);
	assert_int_equal(sm->payload_case,
	    OPENCODE__SERVER_MESSAGE__PAYLOAD_MESSAGE_LIST);
	ml = sm->message_list;
	assert_string_equal(ml->session_id, "ses_de9d9cc0cffehGld5NiPkdFvkF");
	assert_int_equal(ml->n_messages, 3);
	assert_false(ml->more);
	mw = ml->messages[0];
	assert_string_equal(mw->info->id, "msg_21626378d001coYGuelMlqQmRq");
	assert_string_equal(mw->info->role, "user");
	assert_int_equal(mw->n_parts, 1);
	assert_string_equal(mw->parts[0]->kind, "text");
	assert_string_equal(mw->parts[0]->text, "tool");
	mw = ml->messages[1];
	assert_string_equal(mw->info->id, "msg_2162637d3001D3oiM0PZUN3pqM");
	assert_string_equal(mw->info->role, "assistant");
	assert_int_equal(mw->info->input_tokens, 120);
	assert_int_equal(mw->n_parts, 3);
	assert_string_equal(mw->parts[0]->kind, "step-start");
	assert_string_equal(mw->parts[1]->kind, "tool");
	assert_non_null(mw->parts[1]->tool);
	assert_string_equal(mw->parts[1]->tool->tool, "read");
	assert_string_equal(mw->parts[2]->kind, "step-finish");
	assert_string_equal(ml->messages[2]->info->id,
	    "msg_216263a96001SKCFNDr8w9qs3X");
	opencode__server_message__free_unpacked(sm, NULL);

	/* Exactly as many as asked for: no more. */
	c.limit = 3;
	sm = reply(&c, 200, JSON_CT, body, len);
	assert_int_equal(sm->message_list->n_messages, 3);
	assert_false(sm->message_list->more);
	opencode__server_message__free_unpacked(sm, NULL);

	/* limit + 1 came (limit=2 asked limit=3): the oldest goes. */
	c.limit = 2;
	sm = reply(&c, 200, JSON_CT, body, len);
	ml = sm->message_list;
	assert_int_equal(ml->n_messages, 2);
	assert_true(ml->more);
	assert_string_equal(ml->messages[0]->info->id,
	    "msg_2162637d3001D3oiM0PZUN3pqM");
	assert_string_equal(ml->messages[1]->info->id,
	    "msg_216263a96001SKCFNDr8w9qs3X");
	opencode__server_message__free_unpacked(sm, NULL);
	c.limit = 1;
	sm = reply(&c, 200, JSON_CT, body, len);
	assert_int_equal(sm->message_list->n_messages, 1);
	assert_true(sm->message_list->more);
	assert_string_equal(sm->message_list->messages[0]->info->id,
	    "msg_216263a96001SKCFNDr8w9qs3X");
	opencode__server_message__free_unpacked(sm, NULL);

	/* The dropped oldest is not even mapped. */
	c.limit = 1;
	sm = reply_str(&c, 200, JSON_CT, "[1,{\"info\":{\"id\":\"msg_b\","
	    "\"sessionID\":\"ses_a\",\"role\":\"user\"},\"parts\":[]}]");
	assert_int_equal(sm->payload_case,
	    OPENCODE__SERVER_MESSAGE__PAYLOAD_MESSAGE_LIST);
	assert_int_equal(sm->message_list->n_messages, 1);
	assert_true(sm->message_list->more);
	opencode__server_message__free_unpacked(sm, NULL);

	c.limit = 100;
	sm = reply_str(&c, 200, JSON_CT, "[]");
	assert_int_equal(sm->message_list->n_messages, 0);
	assert_false(sm->message_list->more);
	opencode__server_message__free_unpacked(sm, NULL);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		expect_error(reply_str(&c, 200, JSON_CT, bad[i]),
		    ERR_PARSE_ERROR, NULL);
	expect_error(reply_str(&c, 404, JSON_CT,
	    "{\"name\":\"NotFoundError\",\"data\":{\"message\":\"Session not "
	    "found: ses_x\"}}"), ERR_NOT_FOUND,
	    "HTTP 404: Session not found: ses_x");
	free(body);
}

/* ---- MessageList and max_reply ---- */

struct sbuf {
	char	*p;
	size_t	 len, cap;
};

static void	sb_add(struct sbuf *, const char *, ...)
		    __attribute__((format(printf, 2, 3)));

static void
sb_add(struct sbuf *b, const char *fmt, ...)
{
	va_list	ap;
	int	n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	assert_true(n >= 0);
	if (b->cap - b->len <= (size_t)n) {
		b->cap = (b->cap + (size_t)n + 1) * 2;
		b->p = realloc(b->p, b->cap);
		assert_non_null(b->p);
	}
	va_start(ap, fmt);
	vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

/* n bytes of text: "é" (2 bytes) repeated, then an 'x' when n is odd. */
static void
sb_text(struct sbuf *b, size_t n)
{
	size_t	i;

	for (i = 0; i + 2 <= n; i += 2)
		sb_add(b, "\xc3\xa9");
	if (i < n)
		sb_add(b, "x");
}

static void
sb_msg_open(struct sbuf *b, size_t i)
{
	sb_add(b, "%s{\"info\":{\"id\":\"msg_%06zu\",\"sessionID\":"
	    "\"ses_a\",\"role\":\"assistant\",\"time\":{\"created\":%zu}},"
	    "\"parts\":[", i == 0 ? "" : ",", i, 1000 + i);
}

static void
sb_text_part(struct sbuf *b, size_t i, size_t k, size_t textlen)
{
	sb_add(b, "%s{\"id\":\"prt_%06zu%03zu\",\"messageID\":\"msg_%06zu\","
	    "\"sessionID\":\"ses_a\",\"type\":\"text\",\"text\":\"",
	    k == 0 ? "" : ",", i, k, i);
	sb_text(b, textlen);
	sb_add(b, "\"}");
}

/* n messages of one text part of textlen bytes each, oldest first. */
static char *
gen_messages(size_t n, size_t textlen, size_t *lenp)
{
	struct sbuf	b = { NULL, 0, 0 };
	size_t		i;

	sb_add(&b, "[");
	for (i = 0; i < n; i++) {
		sb_msg_open(&b, i);
		sb_text_part(&b, i, 0, textlen);
		sb_add(&b, "]}");
	}
	sb_add(&b, "]");
	*lenp = b.len;
	return b.p;
}

static void
msg_call(struct api_call *c, uint32_t limit, size_t max)
{
	call_init(c, API_KIND_MESSAGE_LIST, 1);
	snprintf(c->session_id, sizeof(c->session_id), "ses_a");
	c->limit = limit;
	c->max_reply = max;
}

static void
test_message_cap(void **state)
{
	Opencode__ServerMessage	*sm;
	Opencode__MessageList	*ml;
	struct api_response	 r = { 200, JSON_CT, NULL, 0, NULL };
	struct api_call		 c;
	char			*body, id[32];
	size_t			 len, full, got, k, i, max;

	(void)state;
	body = gen_messages(30, 1001, &len);
	r.body = (const uint8_t *)body;
	r.body_len = len;
	msg_call(&c, 100, 0);
	sm = reply2(&c, &r, &full);
	assert_int_equal(sm->message_list->n_messages, 30);
	assert_false(sm->message_list->more);
	opencode__server_message__free_unpacked(sm, NULL);

	/* A cap it fits under exactly changes nothing. */
	msg_call(&c, 100, full);
	sm = reply2(&c, &r, &got);
	assert_int_equal(got, full);
	assert_int_equal(sm->message_list->n_messages, 30);
	assert_false(sm->message_list->more);
	opencode__server_message__free_unpacked(sm, NULL);

	/* A third of it: the newest that fit, more set. */
	max = full / 3;
	msg_call(&c, 100, max);
	sm = reply2(&c, &r, &got);
	ml = sm->message_list;
	k = ml->n_messages;
	assert_true(k >= 8 && k <= 10);
	assert_true(ml->more);
	assert_string_equal(ml->session_id, "ses_a");
	for (i = 0; i < k; i++) {
		snprintf(id, sizeof(id), "msg_%06zu", 30 - k + i);
		assert_string_equal(ml->messages[i]->info->id, id);
		assert_false(ml->messages[i]->parts[0]->truncated);
		assert_int_equal(strlen(ml->messages[i]->parts[0]->text), 1001);
	}
	opencode__server_message__free_unpacked(sm, NULL);
	/* ... and one message more would not have fitted. */
	msg_call(&c, (uint32_t)k + 1, 0);
	sm = reply2(&c, &r, &got);
	assert_int_equal(sm->message_list->n_messages, k + 1);
	assert_true(got > max);
	opencode__server_message__free_unpacked(sm, NULL);
	/* ... while k did (with limit = k the reply is the same). */
	msg_call(&c, (uint32_t)k, 0);
	sm = reply2(&c, &r, &got);
	assert_true(got <= max);
	opencode__server_message__free_unpacked(sm, NULL);

	/* The limit and the cap together. */
	msg_call(&c, 5, max);
	sm = reply2(&c, &r, NULL);
	assert_int_equal(sm->message_list->n_messages, 5);
	assert_true(sm->message_list->more);
	assert_string_equal(sm->message_list->messages[4]->info->id,
	    "msg_000029");
	opencode__server_message__free_unpacked(sm, NULL);
	free(body);

	/* 1000 messages under a small cap: each measured once. */
	body = gen_messages(1000, 200, &len);
	r.body = (const uint8_t *)body;
	r.body_len = len;
	msg_call(&c, 1000, 4096);
	sm = reply2(&c, &r, NULL);
	assert_true(sm->message_list->n_messages >= 10);
	assert_true(sm->message_list->more);
	assert_string_equal(sm->message_list->messages[
	    sm->message_list->n_messages - 1]->info->id, "msg_000999");
	opencode__server_message__free_unpacked(sm, NULL);
	free(body);
}

static int
is_prefix(const char *p, const char *s)
{
	return strncmp(p, s, strlen(p)) == 0;
}

/* The newest message alone is larger than the cap: its texts are cut. */
static void
test_message_cap_one(void **state)
{
	Opencode__ServerMessage		*sm;
	Opencode__MessageWithParts	*mw;
	Opencode__PartInfo		*p;
	struct api_response		 r = { 200, JSON_CT, NULL, 0, NULL };
	struct api_call			 c;
	struct sbuf			 b = { NULL, 0, 0 };
	size_t				 got, k, max = 64 * 1024;
	char				*whole;

	(void)state;
	whole = malloc(200001);
	assert_non_null(whole);
	{
		struct sbuf t = { NULL, 0, 0 };

		sb_text(&t, 200000);
		memcpy(whole, t.p, t.len + 1);
		free(t.p);
	}
	sb_add(&b, "[");
	sb_msg_open(&b, 0);
	sb_text_part(&b, 0, 0, 10);
	sb_add(&b, "]}");
	sb_msg_open(&b, 1);
	for (k = 0; k < 3; k++)
		sb_text_part(&b, 1, k, 200000);
	sb_add(&b, ",{\"id\":\"prt_tool\",\"messageID\":\"msg_000001\","
	    "\"sessionID\":\"ses_a\",\"type\":\"tool\",\"callID\":\"call_1\","
	    "\"tool\":\"write\",\"state\":{\"status\":\"completed\","
	    "\"title\":\"t\",\"input\":{\"content\":\"");
	sb_text(&b, 100000);
	sb_add(&b, "\"},\"output\":\"");
	sb_text(&b, 100000);
	sb_add(&b, "\"}},{\"id\":\"prt_step\",\"messageID\":\"msg_000001\","
	    "\"sessionID\":\"ses_a\",\"type\":\"step-finish\"}]}]");
	r.body = (const uint8_t *)b.p;
	r.body_len = b.len;

	msg_call(&c, 100, max);
	sm = reply2(&c, &r, &got);
	assert_int_equal(sm->payload_case,
	    OPENCODE__SERVER_MESSAGE__PAYLOAD_MESSAGE_LIST);
	assert_true(sm->message_list->more);
	assert_int_equal(sm->message_list->n_messages, 1);
	/* Cut at one length for all: close to the cap, never over. */
	assert_true(got > max - 64);
	mw = sm->message_list->messages[0];
	assert_string_equal(mw->info->id, "msg_000001");
	assert_int_equal(mw->n_parts, 5);
	for (k = 0; k < 3; k++) {
		p = mw->parts[k];
		assert_true(p->truncated);
		assert_true(strlen(p->text) < 200000);
		assert_true(strlen(p->text) > 1000);
		assert_true(is_prefix(p->text, whole));
		assert_true(utf8_valid((const uint8_t *)p->text,
		    strlen(p->text)));
	}
	p = mw->parts[3];
	assert_true(p->truncated);
	assert_non_null(p->tool);
	assert_string_equal(p->tool->input_json, "");	/* not cut: emptied */
	assert_true(is_prefix(p->tool->output, whole));
	assert_true(strlen(p->tool->output) < 100000);
	assert_string_equal(p->tool->title, "t");
	assert_false(mw->parts[4]->truncated);
	assert_string_equal(mw->parts[4]->kind, "step-finish");
	opencode__server_message__free_unpacked(sm, NULL);

	/* A message that does not fit even with every text empty. */
	b.len = 0;
	sb_add(&b, "[");
	sb_msg_open(&b, 7);
	for (k = 0; k < 300; k++)
		sb_text_part(&b, 7, k, 1);
	sb_add(&b, "]}]");
	r.body = (const uint8_t *)b.p;
	r.body_len = b.len;
	msg_call(&c, 100, 1024);
	expect_error(reply2(&c, &r, NULL), ERR_UPSTREAM_ERROR,
	    "message msg_000007 too large to send");
	/* Without a cap it goes whole. */
	msg_call(&c, 100, 0);
	sm = reply2(&c, &r, NULL);
	assert_int_equal(sm->message_list->messages[0]->n_parts, 300);
	opencode__server_message__free_unpacked(sm, NULL);
	free(b.p);
	free(whole);
}

static void
test_command_list(void **state)
{
	Opencode__ServerMessage		*sm;
	Opencode__CommandInfo		*ci;
	struct api_call			 c;
	static const char *const	 bad[] = {
		"{}", "[1]", "[{}]", "[{\"name\":1}]",
		"[{\"name\":\"a\",\"hints\":\"x\"}]",
		"[{\"name\":\"a\",\"hints\":[1]}]",
		"[{\"name\":\"a\",\"subtask\":\"yes\"}]",
		"[{\"name\":\"a\",\"agent\":{}}]",
		"[{\"name\":\"a\",\"description\":2}]",
	};

	(void)state;
	call_init(&c, API_KIND_COMMAND_LIST, 1);
	sm = reply_str(&c, 200, JSON_CT, "[{\"name\":\"init\",\"description\":"
	    "\"create/update AGENTS.md\",\"source\":\"command\",\"template\":"
	    "\"secret-ish template text\",\"hints\":[\"$ARGUMENTS\"]},"
	    "{\"name\":\"review\",\"template\":\"t\",\"hints\":[],"
	    "\"agent\":\"plan\",\"model\":\"mock/mock-1\",\"subtask\":true,"
	    "\"description\":null}]");
	assert_int_equal(sm->payload_case,
	    OPENCODE__SERVER_MESSAGE__PAYLOAD_COMMAND_LIST);
	assert_int_equal(sm->command_list->n_commands, 2);
	ci = sm->command_list->commands[0];
	assert_string_equal(ci->name, "init");
	assert_string_equal(ci->description, "create/update AGENTS.md");
	assert_string_equal(ci->source, "command");
	assert_string_equal(ci->agent, "");
	assert_false(ci->subtask);
	assert_int_equal(ci->n_hints, 1);
	assert_string_equal(ci->hints[0], "$ARGUMENTS");
	ci = sm->command_list->commands[1];
	assert_string_equal(ci->name, "review");
	assert_string_equal(ci->agent, "plan");
	assert_string_equal(ci->model, "mock/mock-1");
	assert_string_equal(ci->description, "");
	assert_true(ci->subtask);
	assert_int_equal(ci->n_hints, 0);
	opencode__server_message__free_unpacked(sm, NULL);
	sm = reply_str(&c, 200, JSON_CT, "[]");
	assert_int_equal(sm->command_list->n_commands, 0);
	opencode__server_message__free_unpacked(sm, NULL);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		expect_error(reply_str(&c, 200, JSON_CT, bad[i]),
		    ERR_PARSE_ERROR, NULL);
}

static void
test_todo_diff(void **state)
{
	Opencode__ServerMessage	*sm;
	struct api_call		 c;

	(void)state;
	call_init(&c, API_KIND_TODO_LIST, 1);
	snprintf(c.session_id, sizeof(c.session_id), "ses_t");
	sm = reply_str(&c, 200, JSON_CT, "[{\"content\":\"write tests\","
	    "\"status\":\"in_progress\",\"priority\":\"high\"},"
	    "{\"content\":\"ship\",\"status\":\"pending\","
	    "\"priority\":\"low\"}]");
	assert_int_equal(sm->payload_case,
	    OPENCODE__SERVER_MESSAGE__PAYLOAD_TODO_LIST);
	assert_string_equal(sm->todo_list->session_id, "ses_t");
	assert_int_equal(sm->todo_list->n_todos, 2);
	assert_string_equal(sm->todo_list->todos[0]->content, "write tests");
	assert_string_equal(sm->todo_list->todos[0]->status, "in_progress");
	assert_string_equal(sm->todo_list->todos[1]->priority, "low");
	opencode__server_message__free_unpacked(sm, NULL);
	sm = reply_str(&c, 200, JSON_CT, "[]");
	assert_string_equal(sm->todo_list->session_id, "ses_t");
	assert_int_equal(sm->todo_list->n_todos, 0);
	opencode__server_message__free_unpacked(sm, NULL);
	expect_error(reply_str(&c, 200, JSON_CT, "{}"), ERR_PARSE_ERROR, NULL);
	expect_error(reply_str(&c, 200, JSON_CT, "[1]"), ERR_PARSE_ERROR, NULL);
	expect_error(reply_str(&c, 200, JSON_CT, "[{\"content\":1}]"),
	    ERR_PARSE_ERROR, NULL);

	call_init(&c, API_KIND_DIFF_LIST, 1);
	snprintf(c.session_id, sizeof(c.session_id), "ses_d");
	snprintf(c.message_id, sizeof(c.message_id), "msg_d");
	sm = reply_str(&c, 200, JSON_CT, "[{\"file\":\"hello.txt\","
	    "\"status\":\"modified\",\"additions\":2,\"deletions\":1,"
	    "\"patch\":\"@@ -1 +1,2 @@\\n-a\\n+b\\n+c\\n\"}]");
	assert_int_equal(sm->payload_case,
	    OPENCODE__SERVER_MESSAGE__PAYLOAD_DIFF_LIST);
	assert_string_equal(sm->diff_list->session_id, "ses_d");
	assert_string_equal(sm->diff_list->message_id, "msg_d");
	assert_int_equal(sm->diff_list->n_files, 1);
	assert_string_equal(sm->diff_list->files[0]->path, "hello.txt");
	assert_int_equal(sm->diff_list->files[0]->additions, 2);
	assert_int_equal(sm->diff_list->files[0]->deletions, 1);
	assert_false(sm->diff_list->files[0]->truncated);
	opencode__server_message__free_unpacked(sm, NULL);
	c.message_id[0] = '\0';
	sm = reply_str(&c, 200, JSON_CT, "[]");
	assert_string_equal(sm->diff_list->message_id, "");
	assert_int_equal(sm->diff_list->n_files, 0);
	opencode__server_message__free_unpacked(sm, NULL);
	expect_error(reply_str(&c, 200, JSON_CT, "{\"file\":\"x\"}"),
	    ERR_PARSE_ERROR, NULL);
	expect_error(reply_str(&c, 200, JSON_CT, "[{\"additions\":\"2\"}]"),
	    ERR_PARSE_ERROR, NULL);
}

#define QUESTIONS	"[{\"id\":\"que_1\",\"sessionID\":\"ses_q\"," \
	"\"questions\":[{\"question\":\"Colour?\",\"header\":\"Pick\"," \
	"\"options\":[{\"label\":\"Red\",\"description\":\"warm\"}," \
	"{\"label\":\"Blue\",\"description\":\"cold\"}],\"multiple\":false}]," \
	"\"tool\":{\"messageID\":\"msg_q\",\"callID\":\"call_q\"}}]"

static void
test_pending_list(void **state)
{
	Opencode__ServerMessage		*sm;
	Opencode__QuestionRequest	*qr;
	struct api_response		 r, q;
	struct api_call			 c;
	uint8_t				*perm;
	size_t				 len;

	(void)state;
	call_init(&c, API_KIND_PENDING_LIST, 1);
	perm = fx_load("permission-list.json", &len);
	memset(&r, 0, sizeof(r));
	memset(&q, 0, sizeof(q));
	r.status = 200;
	r.content_type = JSON_CT;
	r.body = perm;
	r.body_len = len;
	r.second = &q;
	q.status = 200;
	q.content_type = JSON_CT;
	q.body = (const uint8_t *)QUESTIONS;
	q.body_len = strlen(QUESTIONS);
	sm = reply2(&c, &r, NULL);
	assert_int_equal(sm->payload_case,
	    OPENCODE__SERVER_MESSAGE__PAYLOAD_PENDING_LIST);
	assert_int_equal(sm->pending_list->n_permissions, 1);
	assert_string_equal(sm->pending_list->permissions[0]->permission_id,
	    "per_216264a5a001SZP3O5Om9g1xn2");
	assert_string_equal(sm->pending_list->permissions[0]->permission,
	    "bash");
	assert_int_equal(sm->pending_list->n_questions, 1);
	qr = sm->pending_list->questions[0];
	assert_string_equal(qr->id, "que_1");
	assert_string_equal(qr->session_id, "ses_q");
	assert_string_equal(qr->message_id, "msg_q");
	assert_int_equal(qr->n_questions, 1);
	assert_string_equal(qr->questions[0]->question, "Colour?");
	assert_int_equal(qr->questions[0]->n_options, 2);
	assert_string_equal(qr->questions[0]->options[1]->label, "Blue");
	opencode__server_message__free_unpacked(sm, NULL);

	/* Nothing pending. */
	r.body = (const uint8_t *)"[]";
	r.body_len = 2;
	q.body = (const uint8_t *)"[]";
	q.body_len = 2;
	sm = reply2(&c, &r, NULL);
	assert_int_equal(sm->payload_case,
	    OPENCODE__SERVER_MESSAGE__PAYLOAD_PENDING_LIST);
	assert_int_equal(sm->pending_list->n_permissions, 0);
	assert_int_equal(sm->pending_list->n_questions, 0);
	opencode__server_message__free_unpacked(sm, NULL);

	/* Either half wrong: the whole reply is that error. */
	q.body = (const uint8_t *)"{}";
	expect_error(reply2(&c, &r, NULL), ERR_PARSE_ERROR,
	    "unexpected reply: question list");
	q.body = (const uint8_t *)"[1]";
	q.body_len = 3;
	expect_error(reply2(&c, &r, NULL), ERR_PARSE_ERROR, NULL);
	q.body = (const uint8_t *)"[";
	q.body_len = 1;
	expect_error(reply2(&c, &r, NULL), ERR_PARSE_ERROR, "invalid JSON");
	q.body = (const uint8_t *)"[]";
	q.body_len = 2;
	q.content_type = "text/html";
	expect_error(reply2(&c, &r, NULL), ERR_UPSTREAM_ERROR,
	    "unexpected content type");
	q.content_type = JSON_CT;
	q.status = 500;
	q.body = (const uint8_t *)"{\"name\":\"UnknownError\"}";
	q.body_len = strlen((const char *)q.body);
	expect_error(reply2(&c, &r, NULL), ERR_UPSTREAM_ERROR,
	    "HTTP 500: UnknownError");
	q.status = 404;
	expect_error(reply2(&c, &r, NULL), ERR_NOT_FOUND, NULL);
	r.second = NULL;
	expect_error(reply2(&c, &r, NULL), ERR_UPSTREAM_ERROR,
	    "no reply to GET /question");
	r.second = &q;
	q.status = 200;
	q.body = (const uint8_t *)"[]";
	q.body_len = 2;
	r.body = (const uint8_t *)"{}";
	expect_error(reply2(&c, &r, NULL), ERR_PARSE_ERROR,
	    "unexpected reply: permission list");
	r.status = 401;
	expect_error(reply2(&c, &r, NULL), ERR_UPSTREAM_ERROR, "HTTP 401");
	free(perm);
}

/* ListProviders: the mapper is providers.c's; errors are never quoted. */
static void
test_provider_list_errors(void **state)
{
	struct api_call	c;

	(void)state;
	call_init(&c, API_KIND_PROVIDER_LIST, 0);
	expect_error(reply_str(&c, 400, JSON_CT,
	    "{\"data\":{\"message\":\"key sk-secret\"}}"), ERR_UPSTREAM_ERROR,
	    "HTTP 400");
	expect_error(reply_str(&c, 404, JSON_CT, "{}"), ERR_NOT_FOUND,
	    "HTTP 404");
}

/* Every v2 kind on truncated, garbage, wrong-type, huge, nested input. */
static void
test_v2_hostile(void **state)
{
	static const struct {
		int		 kind;
		const char	*file;		/* NULL: body below */
		const char	*body;
	} cases[] = {
		{ API_KIND_SESSION_STATUS_LIST, "session-status-retry.json", NULL },
		{ API_KIND_MESSAGE_LIST, "session-messages-tool.json", NULL },
		{ API_KIND_COMMAND_LIST, NULL,
		    "[{\"name\":\"init\",\"template\":\"t\",\"hints\":[]}]" },
		{ API_KIND_TODO_LIST, NULL,
		    "[{\"content\":\"a\",\"status\":\"pending\","
		    "\"priority\":\"high\"}]" },
		{ API_KIND_DIFF_LIST, NULL,
		    "[{\"file\":\"a\",\"additions\":1,\"deletions\":0}]" },
		{ API_KIND_PENDING_LIST, "permission-list.json", NULL },
	};
	Opencode__ServerMessage	*sm;
	struct api_response	 r, q;
	struct api_call		 c;
	static const char	 alpha[] = "[]{}\",:0123truefalsnl\\ x";
	uint8_t			*body, *buf;
	size_t			 len, full, n, i, k;
	unsigned int		 seed = 7;

	(void)state;
	buf = malloc(4 * 1024 * 1024);
	assert_non_null(buf);
	memset(&q, 0, sizeof(q));
	q.status = 200;
	q.content_type = JSON_CT;
	q.body = (const uint8_t *)QUESTIONS;
	q.body_len = strlen(QUESTIONS);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if (cases[i].file != NULL)
			body = fx_load(cases[i].file, &len);
		else {
			len = strlen(cases[i].body);
			body = malloc(len);
			assert_non_null(body);
			memcpy(body, cases[i].body, len);
		}
		call_init(&c, cases[i].kind, 1);
		c.limit = 100;
		memset(&r, 0, sizeof(r));
		r.status = 200;
		r.content_type = JSON_CT;
		r.second = &q;
		/* Whole, then every proper prefix. */
		r.body = body;
		r.body_len = len;
		sm = reply2(&c, &r, NULL);
		assert_int_not_equal(sm->payload_case,
		    OPENCODE__SERVER_MESSAGE__PAYLOAD_ERROR);
		opencode__server_message__free_unpacked(sm, NULL);
		for (full = len; full > 0 && strchr(" \t\r\n",
		    body[full - 1]) != NULL; full--)
			;
		for (n = 0; n < full; n++) {
			r.body_len = n;
			expect_error(reply2(&c, &r, NULL), ERR_PARSE_ERROR,
			    NULL);
		}
		/* Wrong root types. */
		for (k = 0; k < 5; k++) {
			static const char *const roots[] = {
				"1", "\"s\"", "null", "true", "[[]]",
			};
			r.body = (const uint8_t *)roots[k];
			r.body_len = strlen(roots[k]);
			expect_error(reply2(&c, &r, NULL), ERR_PARSE_ERROR,
			    NULL);
		}
		/* Deep nesting. */
		memset(buf, '[', 5000);
		memset(buf + 5000, ']', 5000);
		r.body = buf;
		r.body_len = 10000;
		expect_error(reply2(&c, &r, NULL), ERR_PARSE_ERROR, NULL);
		/* Garbage: anything but a crash or a leak. */
		for (n = 0; n < 100; n++) {
			len = (size_t)rand_r(&seed) % 300;
			for (k = 0; k < len; k++)
				buf[k] = (uint8_t)alpha[(size_t)rand_r(&seed) %
				    (sizeof(alpha) - 1)];
			r.body_len = len;
			opencode__server_message__free_unpacked(
			    reply2(&c, &r, NULL), NULL);
		}
		free(body);
	}

	/* Huge: 100 000 todos, 3 MB, map whole. */
	call_init(&c, API_KIND_TODO_LIST, 1);
	n = 0;
	buf[n++] = '[';
	for (i = 0; i < 100000; i++) {
		memcpy(buf + n, "{\"content\":\"x\"},", 16);
		n += 16;
	}
	buf[n - 1] = ']';
	sm = reply(&c, 200, JSON_CT, buf, n);
	assert_int_equal(sm->todo_list->n_todos, 100000);
	opencode__server_message__free_unpacked(sm, NULL);
	free(buf);
}

/* The ids of a MessageList, oldest first, one per line. */
static void
ids_of(const Opencode__MessageList *ml, char *out, size_t outsize)
{
	size_t	i, n = 0;

	out[0] = '\0';
	for (i = 0; i < ml->n_messages; i++)
		n += (size_t)snprintf(out + n, outsize - n, "%s\n",
		    ml->messages[i]->info->id);
}

/* The same, from an upstream array of {info, parts}. */
static void
ids_of_json(const uint8_t *body, size_t len, char *out, size_t outsize)
{
	struct json	*j;
	struct arena	 a;
	char		*s;
	size_t		 n = 0;
	int		 i, t;

	arena_init(&a);
	assert_int_equal(json_parse(body, len, &j), 0);
	out[0] = '\0';
	for (i = 0, t = 1; i < json_len(j, 0); i++, t = json_next(j, t)) {
		assert_int_equal(json_get_str(j, json_obj_get(j,
		    json_obj_get(j, t, "info"), "id"), &a, &s), 0);
		n += (size_t)snprintf(out + n, outsize - n, "%s\n", s);
	}
	json_free(j);
	arena_free(&a);
}

/* The v2 captures: every part kind, the server's paging, a fork. */
/*
 * The cursor made from a message equals the one the real server wrote
 * for it (X-Next-Cursor of message-list-limit.http names the oldest
 * message of that page), and the second path asks for limit + 1.
 */
static void
test_message_cursor(void **state)
{
	struct api_call		 c;
	struct api_error	 err;
	struct http		 h;
	struct json		*j;
	struct api_response	 first;
	const char		*hdr, *q;
	char			 want[256];
	size_t			 off, len, n;

	(void)state;
	load_http("message-list-limit.http", &h);
	hdr = strstr((const char *)h.raw, "x-next-cursor: ");
	assert_non_null(hdr);
	hdr += strlen("x-next-cursor: ");
	n = strcspn(hdr, "\r\n");
	assert_true(n > 0 && n < sizeof(want));
	memcpy(want, hdr, n);
	want[n] = '\0';
	/* Element 0 of the page, as GET /session/{id}/message/{id} gives it. */
	assert_int_equal(json_parse(h.resp.body, h.resp.body_len, &j), 0);
	assert_int_equal(json_raw(j, 1, &off, &len), 0);
	json_free(j);
	memset(&first, 0, sizeof(first));
	first.status = 200;
	first.content_type = JSON_CT;
	first.body = h.resp.body + off;
	first.body_len = len;

	msg_call(&c, 2, 0);
	snprintf(c.path, sizeof(c.path), "/session/ses_a/message/x");
	c.path2_from_reply = 1;
	/* The wrong message. */
	snprintf(c.before, sizeof(c.before), "msg_0000");
	assert_int_equal(api_second_path(&c, &first, &err), -1);
	assert_string_equal(err.code, ERR_PARSE_ERROR);
	assert_string_equal(c.path2, "");
	/* Its own: the server's cursor, as our url-safe unpadded base64. */
	{
		struct arena	 a;
		char		*id;

		arena_init(&a);
		assert_int_equal(json_parse(first.body, first.body_len, &j), 0);
		assert_int_equal(json_get_str(j, json_obj_get(j,
		    json_obj_get(j, 0, "info"), "id"), &a, &id), 0);
		snprintf(c.before, sizeof(c.before), "%s", id);
		json_free(j);
		arena_free(&a);
	}
	assert_int_equal(api_second_path(&c, &first, &err), 0);
	assert_non_null(q = strstr(c.path2, "?limit=3&before="));
	assert_true(strncmp(c.path2, "/session/ses_a/message?", 23) == 0);
	for (n = 0; want[n] != '\0'; n++)
		if (want[n] == '+')
			want[n] = '-';
		else if (want[n] == '/')
			want[n] = '_';
		else if (want[n] == '=')
			want[n] = '\0';
	assert_string_equal(q + strlen("?limit=3&before="), want);
	/* Not JSON, no time, a negative time. */
	first.body = (const uint8_t *)"nope";
	first.body_len = 4;
	assert_int_equal(api_second_path(&c, &first, &err), -1);
	first.body = (const uint8_t *)"{\"info\":{\"id\":\"msg_x\"}}";
	first.body_len = strlen((const char *)first.body);
	snprintf(c.before, sizeof(c.before), "msg_x");
	assert_int_equal(api_second_path(&c, &first, &err), -1);
	first.body = (const uint8_t *)
	    "{\"info\":{\"id\":\"msg_x\",\"time\":{\"created\":-1}}}";
	first.body_len = strlen((const char *)first.body);
	assert_int_equal(api_second_path(&c, &first, &err), -1);
	first.body = (const uint8_t *)
	    "{\"info\":{\"id\":\"msg_x\",\"time\":{\"created\":7}}}";
	first.body_len = strlen((const char *)first.body);
	assert_int_equal(api_second_path(&c, &first, &err), 0);
	/* {"id":"msg_x","time":7} */
	assert_string_equal(c.path2, "/session/ses_a/message?limit=3&before="
	    "eyJpZCI6Im1zZ194IiwidGltZSI6N30");
	free(h.raw);
}

static void
test_message_list_v2_fixtures(void **state)
{
	Opencode__ServerMessage	*sm;
	Opencode__MessageList	*ml;
	struct api_call		 c;
	struct http		 h;
	uint8_t			*full, *page;
	size_t			 flen, plen, i, k;
	char			 want[4096], got[4096], before[64];
	const char		*kinds[] = {
		"text", "file", "compaction", "step-start", "reasoning",
		"tool", "step-finish", "patch",
	};
	int			 seen[8] = { 0 };

	(void)state;
	full = fx_load("message-list-full.json", &flen);
	msg_call(&c, 100, 0);
	sm = reply(&c, 200, JSON_CT, full, flen);
	ml = sm->message_list;
	assert_int_equal(ml->n_messages, 17);
	assert_false(ml->more);
	for (i = 0; i < ml->n_messages; i++) {
		assert_true(strncmp(ml->messages[i]->info->id, "msg_", 4) == 0);
		for (k = 0; k < ml->messages[i]->n_parts; k++) {
			for (size_t x = 0; x < 8; x++)
				if (strcmp(ml->messages[i]->parts[k]->kind,
				    kinds[x]) == 0)
					seen[x] = 1;
			if (strcmp(ml->messages[i]->parts[k]->kind, "file") == 0)
				assert_true(strncmp(ml->messages[i]->parts[k]->
				    file->url, "data:", 5) == 0);
		}
	}
	for (i = 0; i < 8; i++)
		if (!seen[i])
			fail_msg("no %s part in message-list-full.json",
			    kinds[i]);
	opencode__server_message__free_unpacked(sm, NULL);

	/* ?limit=2 as the server answered it, asked with limit 1. */
	load_http("message-list-limit.http", &h);
	msg_call(&c, 1, 0);
	sm = reply2(&c, &h.resp, NULL);
	assert_int_equal(sm->message_list->n_messages, 1);
	assert_true(sm->message_list->more);
	opencode__server_message__free_unpacked(sm, NULL);
	/* The oldest of the server's limit=2 page: its cursor's message. */
	msg_call(&c, 2, 0);
	sm = reply2(&c, &h.resp, NULL);
	assert_int_equal(sm->message_list->n_messages, 2);
	snprintf(before, sizeof(before), "%s",
	    sm->message_list->messages[0]->info->id);
	opencode__server_message__free_unpacked(sm, NULL);
	free(h.raw);
	/*
	 * A page before an id: the first reply is that message, the second
	 * the page the server gave for the cursor made from it.
	 */
	page = fx_load("message-list-before.json", &plen);
	ids_of_json(page, plen, want, sizeof(want));
	msg_call(&c, 2, 0);
	snprintf(c.before, sizeof(c.before), "%s", before);
	c.path2_from_reply = 1;
	{
		struct api_response second = { 200, JSON_CT, page, plen, NULL };
		struct api_response first = { 200, JSON_CT, (const uint8_t *)
		    "{\"info\":{}}", 11, &second };

		sm = reply2(&c, &first, NULL);
		ids_of(sm->message_list, got, sizeof(got));
		assert_string_equal(got, want);
		/* 2 asked, 2 came (the server was asked for 2 as well). */
		assert_false(sm->message_list->more);
		opencode__server_message__free_unpacked(sm, NULL);
		/* The page GET failed: its error is the answer. */
		second.status = 500;
		second.body = (const uint8_t *)"{}";
		second.body_len = 2;
		expect_error(reply2(&c, &first, NULL), ERR_UPSTREAM_ERROR,
		    NULL);
		/* No second reply at all. */
		first.second = NULL;
		expect_error(reply2(&c, &first, NULL), ERR_UPSTREAM_ERROR,
		    "no reply to the page GET");
		/* The message is not there: the first GET's 404. */
		first.status = 404;
		expect_error(reply2(&c, &first, NULL), ERR_NOT_FOUND, NULL);
	}
	free(page);
	free(full);

	/* The rest map whole. */
	{
		static const char *const files[] = {
			"message-list-full-flow.json",
			"message-list-after-revert.json",
			"message-list-after-part-revert.json",
			"session-fork-message-list.json",
		};

		for (i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
			full = fx_load(files[i], &flen);
			msg_call(&c, 1000, 1024 * 1024);
			sm = reply(&c, 200, JSON_CT, full, flen);
			if (sm->payload_case !=
			    OPENCODE__SERVER_MESSAGE__PAYLOAD_MESSAGE_LIST)
				fail_msg("%s: %s", files[i],
				    sm->error->message);
			assert_true(sm->message_list->n_messages > 0);
			opencode__server_message__free_unpacked(sm, NULL);
			free(full);
		}
	}
}

/* The other v2 captures through their mappers. */
static void
test_v2_fixtures(void **state)
{
	Opencode__ServerMessage	*sm;
	struct api_response	 r, q;
	struct api_call		 c;
	struct http		 h;
	uint8_t			*b1, *b2;
	size_t			 l1, l2, i;

	(void)state;
	/* Session info from fork, revert, unrevert. */
	{
		static const char *const files[] = {
			"session-fork.json", "session-revert.json",
			"session-unrevert.json", "session-revert-part.json",
		};

		call_init(&c, API_KIND_SESSION_INFO, 1);
		for (i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
			b1 = fx_load(files[i], &l1);
			sm = reply(&c, 200, JSON_CT, b1, l1);
			assert_int_equal(sm->payload_case,
			    OPENCODE__SERVER_MESSAGE__PAYLOAD_SESSION_INFO);
			assert_true(strncmp(sm->session_info->id, "ses_", 4) ==
			    0);
			opencode__server_message__free_unpacked(sm, NULL);
			free(b1);
		}
	}

	call_init(&c, API_KIND_SESSION_STATUS_LIST, 1);
	b1 = fx_load("session-status-busy.json", &l1);
	sm = reply(&c, 200, JSON_CT, b1, l1);
	assert_true(sm->session_status_list->n_statuses >= 1);
	assert_string_equal(sm->session_status_list->statuses[0]->status,
	    "busy");
	opencode__server_message__free_unpacked(sm, NULL);
	free(b1);

	call_init(&c, API_KIND_COMMAND_LIST, 1);
	b1 = fx_load("command-list.json", &l1);
	sm = reply(&c, 200, JSON_CT, b1, l1);
	assert_int_equal(sm->payload_case,
	    OPENCODE__SERVER_MESSAGE__PAYLOAD_COMMAND_LIST);
	{
		int	found = 0;

		for (i = 0; i < sm->command_list->n_commands; i++)
			if (strcmp(sm->command_list->commands[i]->name,
			    "ocb-think") == 0)
				found = 1;
		assert_true(found);
	}
	opencode__server_message__free_unpacked(sm, NULL);
	free(b1);

	call_init(&c, API_KIND_TODO_LIST, 1);
	snprintf(c.session_id, sizeof(c.session_id), "ses_t");
	b1 = fx_load("todo-list.json", &l1);
	sm = reply(&c, 200, JSON_CT, b1, l1);
	assert_int_equal(sm->todo_list->n_todos, 3);
	assert_string_equal(sm->todo_list->session_id, "ses_t");
	opencode__server_message__free_unpacked(sm, NULL);
	free(b1);

	call_init(&c, API_KIND_DIFF_LIST, 1);
	b1 = fx_load("diff-message.json", &l1);
	sm = reply(&c, 200, JSON_CT, b1, l1);
	assert_int_equal(sm->diff_list->n_files, 2);
	assert_true(sm->diff_list->files[0]->path[0] != '\0');
	assert_true(sm->diff_list->files[0]->patch[0] != '\0');
	opencode__server_message__free_unpacked(sm, NULL);
	free(b1);
	b1 = fx_load("diff.json", &l1);
	sm = reply(&c, 200, JSON_CT, b1, l1);
	assert_int_equal(sm->diff_list->n_files, 0);
	opencode__server_message__free_unpacked(sm, NULL);
	free(b1);

	call_init(&c, API_KIND_PENDING_LIST, 1);
	b1 = fx_load("permission-list-pending.json", &l1);
	b2 = fx_load("question-list.json", &l2);
	memset(&r, 0, sizeof(r));
	memset(&q, 0, sizeof(q));
	r.status = q.status = 200;
	r.content_type = q.content_type = JSON_CT;
	r.body = b1;
	r.body_len = l1;
	q.body = b2;
	q.body_len = l2;
	r.second = &q;
	sm = reply2(&c, &r, NULL);
	assert_int_equal(sm->pending_list->n_permissions, 1);
	assert_int_equal(sm->pending_list->n_questions, 1);
	assert_true(strncmp(sm->pending_list->questions[0]->id, "que_", 4) ==
	    0);
	assert_true(pathenc_question_id(sm->pending_list->questions[0]->id));
	assert_true(sm->pending_list->questions[0]->questions[0]->n_options >=
	    2);
	opencode__server_message__free_unpacked(sm, NULL);
	free(b1);
	free(b2);

	/* The replies and errors, as captured. */
	{
		static const struct {
			const char	*file;
			int		 kind;
			const char	*code;	/* NULL: success */
		} ex[] = {
			{ "question-reply.http", API_KIND_EMPTY, NULL },
			{ "question-reject.http", API_KIND_EMPTY, NULL },
			{ "summarize.http", API_KIND_EMPTY, NULL },
			{ "command-run.http", API_KIND_EMPTY, NULL },
			{ "session-fork.http", API_KIND_SESSION_INFO, NULL },
			{ "session-revert.http", API_KIND_SESSION_INFO, NULL },
			{ "session-unrevert.http", API_KIND_SESSION_INFO, NULL },
			{ "error-question-unknown.http", API_KIND_EMPTY,
			    ERR_NOT_FOUND },
			{ "error-question-already-replied.http", API_KIND_EMPTY,
			    ERR_NOT_FOUND },
			{ "error-question-reject-unknown.http", API_KIND_EMPTY,
			    ERR_NOT_FOUND },
			{ "error-command-unknown.http", API_KIND_EMPTY,
			    ERR_UPSTREAM_ERROR },
			{ "error-summarize-bad-model.http", API_KIND_EMPTY,
			    ERR_UPSTREAM_ERROR },
			{ "error-revert-busy.http", API_KIND_SESSION_INFO,
			    ERR_UPSTREAM_ERROR },
			{ "error-v2-unknown-session-message.http",
			    API_KIND_MESSAGE_LIST, ERR_NOT_FOUND },
			{ "error-v2-unknown-session-todo.http",
			    API_KIND_TODO_LIST, ERR_NOT_FOUND },
			{ "error-v2-unknown-session-fork.http",
			    API_KIND_SESSION_INFO, ERR_NOT_FOUND },
			{ "error-v2-unknown-session-command.http",
			    API_KIND_EMPTY, ERR_NOT_FOUND },
			{ "error-v2-unknown-session-diff.http",
			    API_KIND_DIFF_LIST, NULL },
		};

		for (i = 0; i < sizeof(ex) / sizeof(ex[0]); i++) {
			load_http(ex[i].file, &h);
			call_init(&c, ex[i].kind, 1);
			c.limit = 100;
			sm = reply2(&c, &h.resp, NULL);
			if (ex[i].code == NULL) {
				if (sm->payload_case ==
				    OPENCODE__SERVER_MESSAGE__PAYLOAD_ERROR)
					fail_msg("%s: %s %s", ex[i].file,
					    sm->error->code,
					    sm->error->message);
				opencode__server_message__free_unpacked(sm,
				    NULL);
			} else {
				if (sm->payload_case !=
				    OPENCODE__SERVER_MESSAGE__PAYLOAD_ERROR)
					fail_msg("%s: no error", ex[i].file);
				print_message("%s: %s\n", ex[i].file,
				    sm->error->message);
				expect_error(sm, ex[i].code, NULL);
			}
			free(h.raw);
		}
	}
}

/* The request line and body of a *.http capture ("" for no body). */
static void
captured(const char *name, char *line, size_t linesize, char *body,
    size_t bodysize)
{
	uint8_t	*raw;
	size_t	 len, i = 0, e;
	char	*l;

	raw = fx_load(name, &len);
	line[0] = body[0] = '\0';
	while (i < len) {
		for (e = i; e < len && raw[e] != '\n'; e++)
			;
		l = (char *)raw + i;
		if (e - i > 2 && l[0] == '>' && l[1] == ' ') {
			if (line[0] == '\0')
				snprintf(line, linesize, "%.*s", (int)(e - i - 2),
				    l + 2);
			else if (l[2] == '{')
				snprintf(body, bodysize, "%.*s",
				    (int)(e - i - 2), l + 2);
		}
		i = e + 1;
	}
	free(raw);
}

/* m builds exactly the request the capture sent. */
static void
expect_captured(Opencode__ClientMessage *m, const char *name)
{
	struct built	b;
	char		line[1024], body[4096], ours[1024];

	captured(name, line, sizeof(line), body, sizeof(body));
	build_ok(m, &b);
	snprintf(ours, sizeof(ours), "%s %s HTTP/1.1",
	    api_method_name(b.call.method), b.call.path);
	assert_string_equal(ours, line);
	if (body[0] == '\0')
		assert_null(b.call.body);
	else
		assert_string_equal(b.call.body, body);
	api_call_free(&b.call);
}

static void
test_build_v2_captured(void **state)
{
	Opencode__ClientMessage		m = OPENCODE__CLIENT_MESSAGE__INIT;
	Opencode__SendMessage		sm = OPENCODE__SEND_MESSAGE__INIT;
	Opencode__FileAttachment	fa = OPENCODE__FILE_ATTACHMENT__INIT;
	Opencode__FileAttachment	*pf[1] = { &fa };
	Opencode__RunCommand		rc = OPENCODE__RUN_COMMAND__INIT;
	Opencode__ReplyQuestion		rq = OPENCODE__REPLY_QUESTION__INIT;
	Opencode__QuestionAnswer	qa = OPENCODE__QUESTION_ANSWER__INIT;
	Opencode__QuestionAnswer	*pa[1] = { &qa };
	Opencode__RejectQuestion	rj = OPENCODE__REJECT_QUESTION__INIT;
	Opencode__ForkSession		fs = OPENCODE__FORK_SESSION__INIT;
	Opencode__RevertSession		rs = OPENCODE__REVERT_SESSION__INIT;
	Opencode__UnrevertSession	un = OPENCODE__UNREVERT_SESSION__INIT;
	Opencode__SummarizeSession	ss = OPENCODE__SUMMARIZE_SESSION__INIT;
	char				*green[] = { "Green" };

	(void)state;
	m.payload_case = OPENCODE__CLIENT_MESSAGE__PAYLOAD_SEND_MESSAGE;
	m.send_message = &sm;
	sm.session_id = "ses_dc3593a9effeUUmi4cweUcCu4B";
	sm.text = "text with a file";
	sm.files = pf;
	sm.n_files = 1;
	fa.mime = "text/plain";
	fa.filename = "a.txt";
	fa.url = "data:text/plain;base64,ZmlsZSBjb250ZW50cyBsaW5lCg==";
	expect_captured(&m, "prompt-async-file.http");

	m.payload_case = OPENCODE__CLIENT_MESSAGE__PAYLOAD_RUN_COMMAND;
	m.run_command = &rc;
	rc.session_id = "ses_dc3589dd5ffeDETZFPs4XlrmtG";
	rc.command = "ocb-think";
	rc.arguments = "it";
	expect_captured(&m, "command-run.http");

	m.payload_case = OPENCODE__CLIENT_MESSAGE__PAYLOAD_REPLY_QUESTION;
	m.reply_question = &rq;
	rq.question_id = "que_23ca6f3c8001Wae0IA47jDmPc1";
	rq.answers = pa;
	rq.n_answers = 1;
	qa.labels = green;
	qa.n_labels = 1;
	expect_captured(&m, "question-reply.http");

	m.payload_case = OPENCODE__CLIENT_MESSAGE__PAYLOAD_REJECT_QUESTION;
	m.reject_question = &rj;
	rj.question_id = "que_23ca70da3001JLuNh8m96SRC1y";
	expect_captured(&m, "question-reject.http");

	m.payload_case = OPENCODE__CLIENT_MESSAGE__PAYLOAD_FORK_SESSION;
	m.fork_session = &fs;
	fs.session_id = "ses_dc3593a9effeUUmi4cweUcCu4B";
	expect_captured(&m, "session-fork.http");
	fs._message_id_case = OPENCODE__FORK_SESSION___MESSAGE_ID_MESSAGE_ID;
	fs.message_id = "msg_23ca6df4c0019igD5G79DmvwuF";
	expect_captured(&m, "session-fork-message.http");

	m.payload_case = OPENCODE__CLIENT_MESSAGE__PAYLOAD_REVERT_SESSION;
	m.revert_session = &rs;
	rs.session_id = "ses_dc358d8d0ffeGDlx4MOxiEyax3";
	rs.message_id = "msg_23ca727fb0013n5KuNKEk1vwj3";
	expect_captured(&m, "session-revert.http");
	rs.message_id = "msg_23ca73bdb001KbjX90FSIAWNd4";
	rs._part_id_case = OPENCODE__REVERT_SESSION___PART_ID_PART_ID;
	rs.part_id = "prt_23ca73d10001flJVwrZ4E2FY2h";
	expect_captured(&m, "session-revert-part.http");

	m.payload_case = OPENCODE__CLIENT_MESSAGE__PAYLOAD_UNREVERT_SESSION;
	m.unrevert_session = &un;
	un.session_id = "ses_dc358d8d0ffeGDlx4MOxiEyax3";
	expect_captured(&m, "session-unrevert.http");

	m.payload_case = OPENCODE__CLIENT_MESSAGE__PAYLOAD_SUMMARIZE_SESSION;
	m.summarize_session = &ss;
	ss.session_id = "ses_dc3593a9effeUUmi4cweUcCu4B";
	ss.provider_id = "mock";
	ss.model_id = "mock-1";
	expect_captured(&m, "summarize.http");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_build_simple),
		cmocka_unit_test(test_build_sessions),
		cmocka_unit_test(test_build_auth),
		cmocka_unit_test(test_build_prompt),
		cmocka_unit_test(test_build_wire),
		cmocka_unit_test(test_session_list),
		cmocka_unit_test(test_session_info),
		cmocka_unit_test(test_agent_list),
		cmocka_unit_test(test_health),
		cmocka_unit_test(test_provider),
		cmocka_unit_test(test_provider_skim),
		cmocka_unit_test(test_http_fixtures),
		cmocka_unit_test(test_status_mapping),
		cmocka_unit_test(test_wrong_types),
		cmocka_unit_test(test_session_skim),
		cmocka_unit_test(test_truncated),
		cmocka_unit_test(test_hostile),
		cmocka_unit_test(test_error_pack),
		cmocka_unit_test(test_pathenc_v2),
		cmocka_unit_test(test_build_v2_sessions),
		cmocka_unit_test(test_build_v2_diff),
		cmocka_unit_test(test_build_v2_summarize),
		cmocka_unit_test(test_build_v2_messages),
		cmocka_unit_test(test_build_v2_question),
		cmocka_unit_test(test_build_v2_command),
		cmocka_unit_test(test_build_v2_files),
		cmocka_unit_test(test_build_v2_lists),
		cmocka_unit_test(test_status_list),
		cmocka_unit_test(test_message_list),
		cmocka_unit_test(test_message_cap),
		cmocka_unit_test(test_message_cap_one),
		cmocka_unit_test(test_command_list),
		cmocka_unit_test(test_todo_diff),
		cmocka_unit_test(test_pending_list),
		cmocka_unit_test(test_provider_list_errors),
		cmocka_unit_test(test_v2_hostile),
		cmocka_unit_test(test_message_cursor),
		cmocka_unit_test(test_message_list_v2_fixtures),
		cmocka_unit_test(test_v2_fixtures),
		cmocka_unit_test(test_build_v2_captured),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
