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
#include <zlib.h>

#include "common/utf8.h"
#include "netproc/api.h"
#include "netproc/json.h"

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

static const char *
fixdir(void)
{
	const char	*d = getenv("OCB_FIXTURES");

	if (d != NULL && *d != '\0')
		return d;
	if (access("tests/fixtures/health.json", R_OK) == 0)
		return "tests/fixtures";
	return "fixtures";
}

static uint8_t *
load(const char *name, size_t *lenp)
{
	char	 path[1024];
	uint8_t	*buf = NULL;
	size_t	 cap = 0, len = 0;
	gzFile	 f;
	int	 n;

	snprintf(path, sizeof(path), "%s/%s", fixdir(), name);
	/* gzread reads plain files as they are. */
	if ((f = gzopen(path, "rb")) == NULL)
		fail_msg("cannot open %s", path);
	for (;;) {
		if (cap - len < 65536) {
			cap = cap * 2 + 65536;
			buf = realloc(buf, cap);
			assert_non_null(buf);
		}
		n = gzread(f, buf + len, 65536);
		if (n < 0)
			fail_msg("cannot read %s", path);
		if (n == 0)
			break;
		len += (size_t)n;
	}
	gzclose(f);
	*lenp = len;
	return buf;
}

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
	h->raw = load(name, &len);
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

static double
now_ms(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
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
	body = load("session-list.json", &len);
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
	body = load("session-create.json", &len);
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
	body = load("session-update.json", &len);
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
	body = load("agent-list.json", &len);
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
	body = load("health.json", &len);
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
	body = load("provider.json.gz", &len);
	assert_int_equal(len, 6529060);
	/* The document echoes the configured apiKey: it must not leak. */
	assert_true(contains(body, len, "mock-key-not-a-secret"));

	call_init(&c, API_KIND_PROVIDER_STATUS, 0);
	r.status = 200;
	r.content_type = JSON_CT;
	r.body = body;
	r.body_len = len;
	for (k = 0; k < 5; k++) {
		t0 = now_ms();
		assert_int_equal(api_reply_pack(&c, &r, &out, &outlen), 0);
		t = now_ms() - t0;
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

	body = load("provider-after-auth-put.json", &len);
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

static void
test_wrong_types(void **state)
{
	static const struct {
		int		 kind;
		const char	*body;
	} cases[] = {
		{ API_KIND_SESSION_LIST, "{}" },
		{ API_KIND_SESSION_LIST, "[1]" },
		{ API_KIND_SESSION_LIST, "[null]" },
		{ API_KIND_SESSION_LIST, "[{\"id\":\"s\",\"time\":\"x\"}]" },
		{ API_KIND_SESSION_LIST, "[{\"id\":\"s\"}]" },
		{ API_KIND_SESSION_LIST, "[{\"id\":\"s\",\"time\":{}}]" },
		{ API_KIND_SESSION_LIST,
		  "[{\"id\":\"s\",\"time\":{\"created\":1}}]" },
		{ API_KIND_SESSION_LIST,
		  "[{\"id\":\"s\",\"time\":{\"created\":1,\"updated\":\"2\"}}]" },
		{ API_KIND_SESSION_LIST,
		  "[{\"id\":\"s\",\"time\":{\"created\":1.5,\"updated\":2}}]" },
		{ API_KIND_SESSION_LIST,
		  "[{\"id\":\"s\",\"time\":{\"created\":1e3,\"updated\":2}}]" },
		{ API_KIND_SESSION_LIST, "[{\"id\":\"s\",\"time\":{\"created\":"
		  "99999999999999999999,\"updated\":2}}]" },
		{ API_KIND_SESSION_LIST,
		  "[{\"id\":1,\"time\":{\"created\":1,\"updated\":2}}]" },
		{ API_KIND_SESSION_LIST,
		  "[{\"time\":{\"created\":1,\"updated\":2}}]" },
		{ API_KIND_SESSION_LIST, "[{\"id\":\"s\",\"title\":5,"
		  "\"time\":{\"created\":1,\"updated\":2}}]" },
		{ API_KIND_SESSION_LIST, "[{\"id\":\"s\x01\","
		  "\"time\":{\"created\":1,\"updated\":2}}]" },
		{ API_KIND_SESSION_INFO, "[]" },
		{ API_KIND_SESSION_INFO, "true" },
		{ API_KIND_AGENT_LIST, "{}" },
		{ API_KIND_AGENT_LIST, "[{}]" },
		{ API_KIND_AGENT_LIST, "[{\"name\":null}]" },
		{ API_KIND_AGENT_LIST, "[{\"name\":\"a\",\"native\":\"yes\"}]" },
		{ API_KIND_AGENT_LIST, "[{\"name\":\"a\",\"native\":1}]" },
		{ API_KIND_AGENT_LIST, "[{\"name\":\"a\",\"mode\":{}}]" },
		{ API_KIND_AGENT_LIST, "[{\"name\":\"a\",\"color\":[]}]" },
		{ API_KIND_AGENT_LIST, "[{\"name\":\"a\",\"description\":0}]" },
		{ API_KIND_PROVIDER_STATUS, "{\"connected\":{}}" },
		{ API_KIND_PROVIDER_STATUS, "{\"connected\":\"mock\"}" },
		{ API_KIND_PROVIDER_STATUS, "{\"connected\":[1]}" },
		{ API_KIND_PROVIDER_STATUS, "{\"connected\":[\"a\",null]}" },
		{ API_KIND_PROVIDER_STATUS, "{\"all\":[]}" },
		{ API_KIND_PROVIDER_STATUS, "[\"connected\"]" },
		{ API_KIND_PROVIDER_STATUS, "{\"x\":{\"connected\":[]}}" },
		{ API_KIND_AUTH_STATUS, "{\"connected\":{}}" },
		{ API_KIND_AUTH_STATUS, "{\"connected\":[\"mock\",1]}" },
		{ API_KIND_AUTH_STATUS, "{}" },
		{ API_KIND_HEALTH, "{\"healthy\":\"true\",\"version\":\"1\"}" },
		{ API_KIND_HEALTH, "{\"version\":\"1\"}" },
		{ API_KIND_HEALTH, "{\"healthy\":true}" },
		{ API_KIND_HEALTH, "{\"healthy\":true,\"version\":1}" },
		{ API_KIND_HEALTH, "[]" },
	};
	struct api_call	c;
	size_t		i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		call_init(&c, cases[i].kind, 1);
		expect_error(reply_str(&c, 200, JSON_CT, cases[i].body),
		    ERR_PARSE_ERROR, NULL);
	}
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
		body = load(files[f].file, &len);
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
	t0 = now_ms();
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
	    now_ms() - t0);

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
	t0 = now_ms();
	sm = reply(&c, 200, JSON_CT, buf, k + n + 2);
	print_message("8 MiB title mapped in %.1f ms\n", now_ms() - t0);
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
		cmocka_unit_test(test_truncated),
		cmocka_unit_test(test_hostile),
		cmocka_unit_test(test_error_pack),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
