/*
 * Copyright (c) 2026 The ocbroker authors
 * SPDX-License-Identifier: ISC (the licence is in the file LICENSE)
 */

/*
 * cmocka tests of netproc/providers.c: ListProviders on the real GET
 * /provider (tests/fixtures/provider.json.gz) and on hostile variants.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/errcode.h"
#include "common/utf8.h"
#include "netproc/json.h"
#include "netproc/providers.h"
#include "tests/support/cases.h"
#include "tests/support/fixture.h"

static char	*doc;		/* the gunzipped /provider */
static size_t	 doclen;

static int
setup(void **state)
{
	(void)state;
	doc = fx_load("provider.json.gz", &doclen);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	free(doc);
	return 0;
}

/* The provider-list GET, as netproc's request table makes it. */
static void
call_init(struct api_call *c, uint64_t request_id, int include_all)
{
	*c = (struct api_call){ .request_id = request_id, .method = API_GET,
	    .kind = API_KIND_PROVIDER_LIST, .include_all = include_all };
}

/* An upstream answer to it. */
static void
response_init(struct api_response *r, long status, const char *type,
    const char *body, size_t len)
{
	memset(r, 0, sizeof(*r));
	r->status = status;
	r->content_type = type;
	r->body = (const uint8_t *)body;
	r->body_len = len;
}

/* providers_reply_pack() on body; the packed reply in *rawp (malloc'd). */
static Opencode__ServerMessage *
run(const char *body, size_t len, int include_all, size_t max_reply,
    uint8_t **rawp, size_t *rawlenp)
{
	struct api_call		 c;
	struct api_response	 r;
	Opencode__ServerMessage	*sm;
	uint8_t			*out;
	size_t			 outlen;

	call_init(&c, 42, include_all);
	c.max_reply = max_reply;
	response_init(&r, 200, "application/json; charset=utf-8", body, len);
	assert_int_equal(providers_reply_pack(&c, &r, &out, &outlen), 0);
	sm = opencode__server_message__unpack(NULL, outlen, out);
	assert_non_null(sm);
	assert_int_equal(sm->request_id, 42);
	if (rawp != NULL) {
		*rawp = out;
		*rawlenp = outlen;
	} else
		free(out);
	return sm;
}

static Opencode__ProviderList *
list_ok(Opencode__ServerMessage *sm)
{
	if (sm->payload_case != OPENCODE__SERVER_MESSAGE__PAYLOAD_PROVIDER_LIST)
		fail_msg("not a ProviderList: %s",
		    sm->payload_case == OPENCODE__SERVER_MESSAGE__PAYLOAD_ERROR ?
		    sm->error->message : "?");
	return sm->provider_list;
}

/* The ErrorResponse code of a mapping of body, checked. */
static void
expect_error(const char *body, int include_all, const char *code,
    const char *msg)
{
	Opencode__ServerMessage	*sm;

	sm = run(body, strlen(body), include_all, 0, NULL, NULL);
	if (sm->payload_case != OPENCODE__SERVER_MESSAGE__PAYLOAD_ERROR)
		fail_msg("mapped: %s", body);
	assert_string_equal(sm->error->code, code);
	if (msg != NULL && strcmp(sm->error->message, msg) != 0)
		fail_msg("\"%s\" for %s", sm->error->message, body);
	opencode__server_message__free_unpacked(sm, NULL);
}

static const Opencode__ModelInfo *
find_model(const Opencode__ProviderInfo *p, const char *id)
{
	size_t	i;

	for (i = 0; i < p->n_models; i++)
		if (strcmp(p->models[i]->id, id) == 0)
			return p->models[i];
	fail_msg("no model %s in %s", id, p->id);
	return NULL;
}

static void
check_strings(const Opencode__ProviderList *pl)
{
	const Opencode__ProviderInfo	*p;
	const Opencode__ModelInfo	*m;
	size_t				 i, k;

	for (i = 0; i < pl->n_providers; i++) {
		p = pl->providers[i];
		assert_true(utf8_valid((const uint8_t *)p->id, strlen(p->id)));
		assert_true(utf8_valid((const uint8_t *)p->name,
		    strlen(p->name)));
		for (k = 0; k < p->n_models; k++) {
			m = p->models[k];
			assert_true(m->id[0] != '\0');
			assert_true(utf8_valid((const uint8_t *)m->name,
			    strlen(m->name)));
		}
	}
}

static void
test_connected(void **state)
{
	Opencode__ServerMessage		*sm;
	Opencode__ProviderList		*pl;
	const Opencode__ProviderInfo	*oc, *mock;
	const Opencode__ModelInfo	*m;

	(void)state;
	sm = run(doc, doclen, 0, 1024 * 1024, NULL, NULL);
	pl = list_ok(sm);
	/* connected: ["opencode","mock"], in the order of `all`. */
	assert_int_equal(pl->n_providers, 2);
	oc = pl->providers[0];
	mock = pl->providers[1];
	assert_string_equal(oc->id, "opencode");
	assert_string_equal(oc->name, "OpenCode Zen");
	assert_true(oc->connected);
	assert_string_equal(oc->default_model_id, "big-pickle");
	assert_int_equal(oc->n_models, 8);
	m = find_model(oc, "big-pickle");
	assert_string_equal(m->name, "Big Pickle");
	assert_string_equal(m->family, "big-pickle");
	assert_true(m->reasoning);
	assert_false(m->attachment);
	assert_true(m->toolcall);
	assert_int_equal(m->context_limit, 200000);
	assert_int_equal(m->output_limit, 32000);

	assert_string_equal(mock->id, "mock");
	assert_string_equal(mock->name, "Mock");
	assert_true(mock->connected);
	assert_string_equal(mock->default_model_id, "mock-1");
	assert_int_equal(mock->n_models, 1);
	m = mock->models[0];
	assert_string_equal(m->id, "mock-1");
	assert_string_equal(m->name, "Mock 1");
	assert_string_equal(m->family, "");
	assert_false(m->reasoning);
	assert_true(m->toolcall);
	assert_int_equal(m->context_limit, 128000);
	assert_int_equal(m->output_limit, 4096);
	assert_true(m->cost_input == 0 && m->cost_output == 0);
	check_strings(pl);
	opencode__server_message__free_unpacked(sm, NULL);
}

static void
test_include_all(void **state)
{
	Opencode__ServerMessage		*sm;
	Opencode__ProviderList		*pl;
	const Opencode__ProviderInfo	*p;
	const Opencode__ModelInfo	*m;
	size_t				 i, models = 0, conn = 0;

	(void)state;
	sm = run(doc, doclen, 1, 4 * 1024 * 1024, NULL, NULL);
	pl = list_ok(sm);
	assert_int_equal(pl->n_providers, 226);
	for (i = 0; i < pl->n_providers; i++) {
		p = pl->providers[i];
		models += p->n_models;
		conn += p->connected;
		if (strcmp(p->id, "anthropic") == 0) {
			assert_false(p->connected);
			assert_string_equal(p->default_model_id,
			    "claude-sonnet-4-6");
		}
		if (strcmp(p->id, "deepinfra") == 0) {
			m = find_model(p, "tencent/Hy3");
			/* Costs with fractions. */
			assert_true(m->cost_input > 0.1299 &&
			    m->cost_input < 0.1301);
			assert_true(m->cost_output > 0.5299 &&
			    m->cost_output < 0.5301);
			assert_int_equal(m->context_limit, 262144);
		}
	}
	assert_int_equal(models, 8298);
	assert_int_equal(conn, 2);
	check_strings(pl);
	opencode__server_message__free_unpacked(sm, NULL);

	/* Larger than the client's --max-message: an error, not a cut list. */
	sm = run(doc, doclen, 1, 64 * 1024, NULL, NULL);
	assert_int_equal(sm->payload_case,
	    OPENCODE__SERVER_MESSAGE__PAYLOAD_ERROR);
	assert_string_equal(sm->error->code, ERR_UPSTREAM_ERROR);
	opencode__server_message__free_unpacked(sm, NULL);
}

/*
 * `connected` as GET /provider answered right after PUT /auth/anthropic
 * (provider-after-auth-put.json), put into the full document.
 */
static void
test_after_auth(void **state)
{
	static const char	 conn[] = "\"connected\":[\"opencode\",\"mock\"]";
	Opencode__ServerMessage	*sm;
	Opencode__ProviderList	*pl;
	const Opencode__ModelInfo *m;
	struct json		*j;
	char			*after, *at, *ids, *body;
	size_t			 alen, off, len, blen;
	int			 t;

	(void)state;
	{
		char	path[1024];
		FILE	*fp;

		snprintf(path, sizeof(path), "%s/provider-after-auth-put.json",
		    fx_dir());
		assert_non_null(fp = fopen(path, "rb"));
		assert_non_null(after = calloc(1, 65536));
		alen = fread(after, 1, 65535, fp);
		fclose(fp);
	}
	assert_int_equal(json_parse(after, alen, &j), 0);
	t = json_obj_get(j, 0, "connected");
	assert_int_equal(json_type(j, t), JSON_ARRAY);
	assert_int_equal(json_raw(j, t, &off, &len), 0);
	assert_non_null(ids = strndup(after + off, len));
	json_free(j);
	free(after);

	assert_non_null(at = strstr(doc, conn));
	blen = doclen - (sizeof(conn) - 1) + strlen("\"connected\":") +
	    strlen(ids);
	assert_non_null(body = malloc(blen + 1));
	off = (size_t)(at - doc);
	memcpy(body, doc, off);
	len = (size_t)snprintf(body + off, blen + 1 - off, "\"connected\":%s",
	    ids);
	memcpy(body + off + len, at + sizeof(conn) - 1,
	    doclen - off - (sizeof(conn) - 1));
	free(ids);

	sm = run(body, blen, 0, 1024 * 1024, NULL, NULL);
	pl = list_ok(sm);
	assert_int_equal(pl->n_providers, 3);
	/* Order of `all`: anthropic (18), opencode (180), mock (225). */
	assert_string_equal(pl->providers[0]->id, "anthropic");
	assert_string_equal(pl->providers[1]->id, "opencode");
	assert_string_equal(pl->providers[2]->id, "mock");
	assert_string_equal(pl->providers[0]->name, "Anthropic");
	assert_true(pl->providers[0]->connected);
	assert_string_equal(pl->providers[0]->default_model_id,
	    "claude-sonnet-4-6");
	assert_int_equal(pl->providers[0]->n_models, 19);
	m = find_model(pl->providers[0], "claude-sonnet-4-6");
	assert_true(m->attachment && m->reasoning && m->toolcall);
	assert_true(m->cost_input == 3.0 && m->cost_output == 15.0);
	assert_int_equal(m->context_limit, 1000000);
	opencode__server_message__free_unpacked(sm, NULL);
	free(body);
}

/* Every string under members key, options and env of every provider. */
static size_t
secrets(struct json *j, const char **v, size_t *vl, size_t max)
{
	static const char *const keys[] = { "key", "options", "env" };
	size_t	 n = 0, off, len, i, k;
	int	 all, p, np, t, end;

	all = json_obj_get(j, 0, "all");
	np = json_len(j, all);
	for (i = 0, p = all + 1; i < (size_t)np; i++, p = json_next(j, p)) {
		for (k = 0; k < 3; k++) {
			if ((t = json_obj_get(j, p, keys[k])) == -1)
				continue;
			for (end = json_next(j, t); t < end; t++) {
				if (json_type(j, t) != JSON_STRING ||
				    json_raw(j, t, &off, &len) == -1 ||
				    len < 2 + 4 || n == max)
					continue;
				v[n] = doc + off + 1;
				vl[n++] = len - 2;
			}
		}
	}
	return n;
}

static int
str_is(const char *s, const char *v, size_t vl)
{
	return strlen(s) == vl && memcmp(s, v, vl) == 0;
}

/* 1 when a string of the list is exactly v. */
static int
in_reply(const Opencode__ProviderList *pl, const char *v, size_t vl)
{
	const Opencode__ProviderInfo	*p;
	const Opencode__ModelInfo	*m;
	size_t				 i, k;

	for (i = 0; i < pl->n_providers; i++) {
		p = pl->providers[i];
		if (str_is(p->id, v, vl) || str_is(p->name, v, vl) ||
		    str_is(p->default_model_id, v, vl))
			return 1;
		for (k = 0; k < p->n_models; k++) {
			m = p->models[k];
			if (str_is(m->id, v, vl) || str_is(m->name, v, vl) ||
			    str_is(m->family, v, vl))
				return 1;
		}
	}
	return 0;
}

static void
test_no_secrets(void **state)
{
	static const char *v[4096];
	static size_t	 vl[4096];
	struct json	*j;
	uint8_t		*raw;
	size_t		 rawlen, n, i, found = 0;
	int		 all;

	(void)state;
	assert_int_equal(json_parse(doc, doclen, &j), 0);
	n = secrets(j, v, vl, 4096);
	/* env names for every provider, mock's apiKey and baseURL... */
	assert_true(n > 200);
	for (i = 0; i < n; i++)
		if (vl[i] == strlen("mock-key-not-a-secret") &&
		    memcmp(v[i], "mock-key-not-a-secret", vl[i]) == 0)
			found = 1;
	assert_true(found);
	for (all = 0; all <= 1; all++) {
		Opencode__ServerMessage	*sm;

		sm = run(doc, doclen, all, 0, &raw, &rawlen);
		for (i = 0; i < n; i++) {
			/* No string of the reply is one of them... */
			if (in_reply(list_ok(sm), v[i], vl[i]))
				fail_msg("include_all %d: \"%.*s\" is a string "
				    "of the reply", all, (int)vl[i], v[i]);
			/*
			 * ...nor anywhere in its bytes, but for short ones
			 * ("public", opencode's apiKey, is in model ids).
			 */
			if (vl[i] >= 8 && memmem(raw, rawlen, v[i], vl[i]) !=
			    NULL)
				fail_msg("include_all %d: \"%.*s\" is in the "
				    "reply", all, (int)vl[i], v[i]);
		}
		opencode__server_message__free_unpacked(sm, NULL);
		free(raw);
	}
	json_free(j);
}

/*
 * key, options and env are never decoded: a raw control character in them
 * (which decoding refuses) does not fail the mapping.  Nor is a provider
 * that is not connected looked into without include_all.
 */
static void
test_not_decoded(void **state)
{
	static const char body[] = "{\"all\":["
	    "{\"id\":\"p\",\"name\":\"P\",\"env\":[\"A\x01\"],"
	    "\"key\":\"sk-\x02secret\",\"options\":{\"apiKey\":\"\x03\","
	    "\"headers\":{\"x\":[\"\x04\"]}},\"models\":{\"m\":{\"id\":\"m\","
	    "\"options\":{\"k\":\"\x05\"},\"headers\":{\"h\":\"\x06\"}}}},"
	    "{\"id\":\"q\",\"name\":\"\x01\",\"models\":{\"m\":{\"id\":5}}}"
	    "],\"default\":{\"p\":\"m\"},\"connected\":[\"p\"]}";
	Opencode__ServerMessage	*sm;
	Opencode__ProviderList	*pl;

	(void)state;
	sm = run(body, sizeof(body) - 1, 0, 0, NULL, NULL);
	pl = list_ok(sm);
	assert_int_equal(pl->n_providers, 1);
	assert_string_equal(pl->providers[0]->id, "p");
	assert_string_equal(pl->providers[0]->default_model_id, "m");
	assert_int_equal(pl->providers[0]->n_models, 1);
	opencode__server_message__free_unpacked(sm, NULL);
	/* With include_all, q is read and its bad name fails the reply. */
	expect_error(body, 1, ERR_PARSE_ERROR, "unexpected reply: name");
}

static void
test_shapes(void **state)
{
	static const char	 devstyle[] = "{\"connected\":[\"a\",\"a\"],"
	    "\"default\":{\"a\":\"x\",\"a\":\"y\",\"b\":null},\"all\":["
	    "{\"id\":\"a\",\"id\":\"ignored\",\"name\":\"A\\u00e9\","
	    "\"models\":{\"x\":{\"id\":\"x\",\"name\":null,\"family\":null,"
	    "\"reasoning\":true,\"tool_call\":true,\"attachment\":null,"
	    "\"limit\":{\"context\":5,\"output\":null},\"cost\":{\"input\":"
	    "1.5e-1,\"output\":2}}}},"
	    "{\"id\":\"b\",\"name\":\"B\",\"models\":{}}],\"extra\":[{}]}";
	Opencode__ServerMessage	*sm;
	Opencode__ProviderList	*pl;
	const Opencode__ProviderInfo *p;
	const Opencode__ModelInfo *m;

	(void)state;
	/* models.dev's spelling, duplicates (the first counts), nulls. */
	sm = run(devstyle, sizeof(devstyle) - 1, 0, 0, NULL, NULL);
	pl = list_ok(sm);
	assert_int_equal(pl->n_providers, 1);
	p = pl->providers[0];
	assert_string_equal(p->name, "A\xc3\xa9");
	assert_string_equal(p->default_model_id, "x");
	m = p->models[0];
	assert_string_equal(m->name, "");
	assert_true(m->reasoning && m->toolcall && !m->attachment);
	assert_int_equal(m->context_limit, 5);
	assert_int_equal(m->output_limit, 0);
	assert_true(m->cost_input > 0.1499 && m->cost_input < 0.1501);
	assert_true(m->cost_output == 2.0);
	opencode__server_message__free_unpacked(sm, NULL);
	sm = run(devstyle, sizeof(devstyle) - 1, 1, 0, NULL, NULL);
	pl = list_ok(sm);
	assert_int_equal(pl->n_providers, 2);
	p = pl->providers[1];
	assert_false(p->connected);
	assert_string_equal(p->default_model_id, "");
	assert_int_equal(p->n_models, 0);
	opencode__server_message__free_unpacked(sm, NULL);

	/* An empty catalogue. */
	sm = run("{\"all\":[],\"connected\":[]}", 25, 1, 0, NULL, NULL);
	assert_int_equal(list_ok(sm)->n_providers, 0);
	opencode__server_message__free_unpacked(sm, NULL);
}

static void
test_hostile(void **state)
{
	static const struct str_case bad[] = {
		{ "", "invalid JSON" },
		{ "[]", "unexpected reply: provider" },
		{ "{\"all\":[]}", "unexpected reply: connected" },
		{ "{\"connected\":[]}", "unexpected reply: all" },
		{ "{\"all\":{},\"connected\":[]}", "unexpected reply: all" },
		{ "{\"all\":[1],\"connected\":[]}", "unexpected reply: all" },
		{ "{\"all\":[],\"connected\":{}}", "unexpected reply: connected" },
		{ "{\"all\":[],\"connected\":[1]}", "unexpected reply: connected" },
		{ "{\"all\":[],\"connected\":[],\"default\":[]}",
		  "unexpected reply: default" },
		{ "{\"all\":[],\"connected\":[],\"default\":{\"a\":1}}",
		  "unexpected reply: default" },
		{ "{\"all\":[{\"name\":\"x\",\"models\":{}}],\"connected\":[]}",
		  "unexpected reply: id" },
		{ "{\"all\":[{\"id\":1,\"name\":\"x\",\"models\":{}}],"
		  "\"connected\":[]}", "unexpected reply: id" },
		{ "{\"all\":[{\"id\":\"a\",\"models\":{}}],\"connected\":[]}",
		  "unexpected reply: name" },
		{ "{\"all\":[{\"id\":\"a\",\"name\":\"x\"}],\"connected\":[]}",
		  "unexpected reply: models" },
		{ "{\"all\":[{\"id\":\"a\",\"name\":\"x\",\"models\":[]}],"
		  "\"connected\":[]}", "unexpected reply: models" },
		{ "{\"all\":[{\"id\":\"a\",\"name\":\"x\",\"models\":{\"m\":1}}],"
		  "\"connected\":[\"a\"]}", "unexpected reply: models" },
		{ "{\"all\":[{\"id\":\"a\",\"name\":\"x\",\"models\":{\"m\":{}}}],"
		  "\"connected\":[\"a\"]}", "unexpected reply: models: id" },
		{ "{\"all\":[{\"id\":\"a\",\"name\":\"x\",\"models\":{\"m\":"
		  "{\"id\":\"m\",\"limit\":{\"context\":\"1\"}}}}],"
		  "\"connected\":[\"a\"]}", "unexpected reply: limit" },
		{ "{\"all\":[{\"id\":\"a\",\"name\":\"x\",\"models\":{\"m\":"
		  "{\"id\":\"m\",\"limit\":{\"context\":1.5}}}}],"
		  "\"connected\":[\"a\"]}", "unexpected reply: limit" },
		{ "{\"all\":[{\"id\":\"a\",\"name\":\"x\",\"models\":{\"m\":"
		  "{\"id\":\"m\",\"cost\":{\"input\":1e999}}}}],"
		  "\"connected\":[\"a\"]}", "unexpected reply: cost" },
		{ "{\"all\":[{\"id\":\"a\",\"name\":\"x\",\"models\":{\"m\":"
		  "{\"id\":\"m\",\"capabilities\":{\"reasoning\":1}}}}],"
		  "\"connected\":[\"a\"]}", "unexpected reply: reasoning" },
		{ "{\"all\":[{\"id\":\"a\",\"name\":\"x\",\"models\":{\"m\":"
		  "{\"id\":\"m\",\"capabilities\":[]}}}],"
		  "\"connected\":[\"a\"]}", "unexpected reply: capabilities" },
		/* Malformed where it is only skimmed. */
		{ "{\"all\":[{\"id\":\"a\",\"name\":\"x\",\"models\":{},"
		  "\"options\":{\"k\":[}}],\"connected\":[]}", NULL },
		{ "{\"all\":[],\"connected\":[],\"x\":\"\\q\"}", NULL },
		{ "{\"all\":[],\"connected\":[]} x", "invalid JSON" },
		{ "{\"all\":[],\"connected\":[],}", NULL },
		{ "{\"all\":[],\"connected\":[]", NULL },
	};
	char	*s;
	size_t	 i, n, cap;

	(void)state;
	for (i = 0; i < NCASES(bad); i++)
		expect_error(bad[i].in, 1, ERR_PARSE_ERROR, bad[i].want);

	/* Deeply nested inside options: skimmed, yet bounded. */
	n = 1000;
	assert_non_null(s = malloc(2 * n + 200));
	i = (size_t)snprintf(s, 200, "{\"all\":[{\"id\":\"a\",\"name\":\"x\","
	    "\"models\":{},\"options\":");
	memset(s + i, '[', n);
	memset(s + i + n, ']', n);
	snprintf(s + i + 2 * n, 200, "}],\"connected\":[]}");
	expect_error(s, 0, ERR_PARSE_ERROR, "reply too large");
	free(s);

	/* More providers than PROVIDERS_MAX. */
	n = PROVIDERS_MAX + 1;
	cap = n * 48 + 64;
	assert_non_null(s = malloc(cap));
	i = (size_t)snprintf(s, cap, "{\"connected\":[],\"all\":[");
	for (size_t k = 0; k < n; k++) {
		i += (size_t)snprintf(s + i, cap - i, "%s{\"id\":\"p%zu\","
		    "\"name\":\"\",\"models\":{}}", k > 0 ? "," : "", k);
		assert_true(i < cap);
	}
	assert_true((size_t)snprintf(s + i, cap - i, "]}") < cap - i);
	expect_error(s, 0, ERR_PARSE_ERROR, "reply too large");
	free(s);

	/* Every cut of the real document is refused, never mapped. */
	for (i = 0; i < doclen; i += doclen / 97 + 1) {
		Opencode__ServerMessage	*sm;

		sm = run(doc, i, 0, 0, NULL, NULL);
		assert_int_equal(sm->payload_case,
		    OPENCODE__SERVER_MESSAGE__PAYLOAD_ERROR);
		opencode__server_message__free_unpacked(sm, NULL);
	}
}

/*
 * The reply is packed without protobuf-c's packer: it must be the very
 * bytes protobuf-c packs for what it unpacks to, and its size must be the
 * one --max-message is checked against (that size passes, one less not).
 */
static void
expect_canonical(const char *body, size_t len, int include_all,
    uint64_t request_id, size_t nprov)
{
	struct api_call		 c;
	struct api_response	 r;
	Opencode__ServerMessage	*sm;
	uint8_t			*out, *re;
	size_t			 outlen, n;

	call_init(&c, request_id, include_all);
	response_init(&r, 200, "application/json", body, len);
	assert_int_equal(providers_reply_pack(&c, &r, &out, &outlen), 0);
	assert_non_null(sm = opencode__server_message__unpack(NULL, outlen,
	    out));
	assert_true(sm->request_id == request_id);
	assert_int_equal(list_ok(sm)->n_providers, nprov);
	n = opencode__server_message__get_packed_size(sm);
	assert_int_equal(n, outlen);
	assert_non_null(re = malloc(n));
	assert_int_equal(opencode__server_message__pack(sm, re), n);
	assert_memory_equal(re, out, n);
	free(re);
	opencode__server_message__free_unpacked(sm, NULL);
	free(out);

	c.max_reply = outlen;
	assert_int_equal(providers_reply_pack(&c, &r, &out, &n), 0);
	assert_int_equal(n, outlen);
	free(out);
	c.max_reply = outlen - 1;
	assert_int_equal(providers_reply_pack(&c, &r, &out, &n), 0);
	assert_non_null(sm = opencode__server_message__unpack(NULL, n, out));
	assert_int_equal(sm->payload_case,
	    OPENCODE__SERVER_MESSAGE__PAYLOAD_ERROR);
	assert_string_equal(sm->error->code, ERR_UPSTREAM_ERROR);
	opencode__server_message__free_unpacked(sm, NULL);
	free(out);
}

static void
test_canonical(void **state)
{
	static const char	 empty[] = "{\"all\":[],\"connected\":[]}";
	/* Defaults everywhere: a provider and a model that pack to nothing. */
	static const char	 bare[] = "{\"all\":[{\"id\":\"\",\"name\":\"\","
	    "\"models\":{\"m\":{\"id\":\"m\",\"name\":null}}},"
	    "{\"id\":\"p\",\"name\":\"P\",\"models\":{}},"
	    "{\"id\":\"q\",\"name\":\"Q\\u0000\",\"models\":{\"x\":{\"id\":"
	    "\"x\",\"limit\":{\"context\":-1,\"output\":9223372036854775807},"
	    "\"cost\":{\"input\":-0.5,\"output\":1e300},\"reasoning\":true,"
	    "\"capabilities\":{\"attachment\":true,\"toolcall\":false}}}}],"
	    "\"default\":{\"q\":\"x\"},\"connected\":[\"q\",\"p\"]}";
	char			*big;
	size_t			 i, n;

	(void)state;
	expect_canonical(doc, doclen, 1, 42, 226);
	expect_canonical(doc, doclen, 0, 42, 2);
	expect_canonical(doc, doclen, 1, 0, 226);	/* request_id omitted */
	expect_canonical(doc, doclen, 1, UINT64_MAX, 226);
	expect_canonical(empty, sizeof(empty) - 1, 1, 1, 0);
	expect_canonical(empty, sizeof(empty) - 1, 0, 0, 0);
	expect_canonical(bare, sizeof(bare) - 1, 1, 7, 3);
	expect_canonical(bare, sizeof(bare) - 1, 0, 7, 2);

	/* Names long enough for 2- and 3-byte lengths at every level. */
	n = 70000;
	assert_non_null(big = malloc(n + 256));
	i = (size_t)snprintf(big, 256, "{\"all\":[{\"id\":\"a\",\"name\":\"");
	memset(big + i, 'n', 200);
	i += 200;
	i += (size_t)snprintf(big + i, 256, "\",\"models\":{\"m\":{\"id\":\"m\","
	    "\"name\":\"");
	memset(big + i, 'm', n - i - 64);
	i = n - 64;
	snprintf(big + i, 256, "\"}}}],\"connected\":[\"a\"]}");
	expect_canonical(big, strlen(big), 0, 3, 1);
	expect_canonical(big, strlen(big), 1, 3, 1);
	free(big);
}

static void
test_status(void **state)
{
	struct api_call		 c;
	struct api_response	 r;
	Opencode__ServerMessage	*sm;
	uint8_t			*out;
	size_t			 len;

	(void)state;
	call_init(&c, 9, 0);
	response_init(&r, 500, "application/json", doc, doclen);
	assert_int_equal(providers_reply_pack(&c, &r, &out, &len), 0);
	assert_non_null(sm = opencode__server_message__unpack(NULL, len, out));
	assert_string_equal(sm->error->code, ERR_UPSTREAM_ERROR);
	opencode__server_message__free_unpacked(sm, NULL);
	free(out);
	/* The server's web UI answers unknown routes with HTML. */
	r.status = 200;
	r.content_type = "text/html";
	assert_int_equal(providers_reply_pack(&c, &r, &out, &len), 0);
	assert_non_null(sm = opencode__server_message__unpack(NULL, len, out));
	assert_string_equal(sm->error->code, ERR_UPSTREAM_ERROR);
	assert_string_equal(sm->error->message, "unexpected content type");
	opencode__server_message__free_unpacked(sm, NULL);
	free(out);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_connected),
		cmocka_unit_test(test_include_all),
		cmocka_unit_test(test_after_auth),
		cmocka_unit_test(test_no_secrets),
		cmocka_unit_test(test_not_decoded),
		cmocka_unit_test(test_shapes),
		cmocka_unit_test(test_hostile),
		cmocka_unit_test(test_status),
		cmocka_unit_test(test_canonical),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
