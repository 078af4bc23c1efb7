/*
 * Copyright (c) 2026 The ocbroker authors
 * SPDX-License-Identifier: ISC (the licence is in the file LICENSE)
 */

/*
 * cmocka tests of netproc/chatmap.c: every mapper on captured replies and
 * events (tests/fixtures, directory from $OCB_FIXTURES), then on truncated,
 * garbage, wrong-type, huge and deeply nested variants.  Expected values
 * were read off the captures.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/utf8.h"
#include "netproc/arena.h"
#include "netproc/chatmap.h"
#include "netproc/json.h"
#include "proto/messages.pb-c.h"
#include "tests/support/cases.h"
#include "tests/support/fixture.h"

/* ---- fixtures ---- */

/*
 * The data of the first event of type `type` in an SSE transcript whose
 * data has needle in it (NULL: any), copied NUL-terminated; NULL when none.
 */
static char *
sse_find(const char *sse, const char *type, const char *needle, int nth)
{
	char		 pat[128];
	const char	*p = sse, *e;
	char		*d;

	snprintf(pat, sizeof(pat), "\"type\":\"%s\"", type);
	while ((p = strstr(p, "data: ")) != NULL) {
		p += 6;
		e = strchr(p, '\n');
		if (e == NULL)
			e = p + strlen(p);
		d = strndup(p, (size_t)(e - p));
		assert_non_null(d);
		if (strstr(d, pat) != NULL &&
		    (needle == NULL || strstr(d, needle) != NULL) && nth-- == 0)
			return d;
		free(d);
		p = e;
	}
	return NULL;
}

/* ---- a document being mapped ---- */

struct doc {
	struct json	*j;
	struct arena	 a;
	struct chatmap	 cm;
	char		*own;	/* the text, when doc_close() frees it */
};

static void
doc_open(struct doc *d, const char *s, size_t len)
{
	memset(d, 0, sizeof(*d));
	if (json_parse(s, len, &d->j) == -1)
		fail_msg("fixture is not JSON");
	arena_init(&d->a);
	d->cm.j = d->j;
	d->cm.buf = s;
	d->cm.len = len;
	d->cm.a = &d->a;
}

/* doc_open() on a fixture file. */
static void
doc_load(struct doc *d, const char *name)
{
	char	*buf;
	size_t	 len;

	buf = fx_load(name, &len);
	doc_open(d, buf, len);
	d->own = buf;
}

/* doc_open() on an event's data from sse_find(). */
static void
doc_event(struct doc *d, char *ev)
{
	doc_open(d, ev, strlen(ev));
	d->own = ev;
}

static void
doc_close(struct doc *d)
{
	json_free(d->j);
	arena_free(&d->a);
	free(d->own);
}

static void
check_str(const char *s)
{
	assert_non_null(s);
	if (!utf8_valid((const uint8_t *)s, strlen(s)))
		fail_msg("invalid UTF-8 in a mapped string");
}

static void
check_json(const char *s)
{
	struct json	*j;

	check_str(s);
	if (s[0] == '\0')
		return;
	if (json_parse(s, strlen(s), &j) == -1)
		fail_msg("not JSON: %s", s);
	json_free(j);
}

/* The mapped struct packs and unpacks: protobuf-c accepts what we built. */
static void
roundtrip_part(const Opencode__PartInfo *pi)
{
	uint8_t			*b;
	size_t			 n;
	Opencode__PartInfo	*u;

	n = opencode__part_info__get_packed_size(pi);
	assert_non_null(b = malloc(n + 1));
	assert_int_equal(opencode__part_info__pack(pi, b), n);
	assert_non_null(u = opencode__part_info__unpack(NULL, n, b));
	assert_string_equal(u->id, pi->id);
	assert_string_equal(u->kind, pi->kind);
	opencode__part_info__free_unpacked(u, NULL);
	free(b);
}

/*
 * map_<kind>(s, out, d): one object (JSON text) mapped by chatmap_<kind>()
 * into a zeroed struct, as from arena_calloc: the mapper initialises it
 * (roundtrip_part proves it packs).
 */
#define MAPPER(kind, type)						\
static int								\
map_##kind(const char *s, type *out, struct doc *d)			\
{									\
	doc_open(d, s, strlen(s));					\
	memset(out, 0, sizeof(*out));					\
	return chatmap_##kind(&d->cm, 0, out);				\
}

MAPPER(message, Opencode__MessageInfo)
MAPPER(part, Opencode__PartInfo)
MAPPER(question, Opencode__QuestionRequest)
MAPPER(todos, Opencode__TodoList)
MAPPER(diffs, Opencode__DiffList)
MAPPER(permission, Opencode__PermissionRequest)

/* refused_<kind>(s, want): map_<kind>() refuses s for want (NULL: any). */
#define REFUSED(kind, type)						\
static void								\
refused_##kind(const char *s, const char *want)				\
{									\
	type		out;						\
	struct doc	d;						\
									\
	if (map_##kind(s, &out, &d) != -1)				\
		fail_msg("mapped: %s", s);				\
	if (want != NULL && (d.cm.why == NULL ||			\
	    strcmp(d.cm.why, want) != 0))				\
		fail_msg("%s: why \"%s\", not \"%s\"", s,		\
		    d.cm.why != NULL ? d.cm.why : "(none)", want);	\
	if (d.cm.st != API_OK)						\
		fail_msg("%s: status %d", s, (int)d.cm.st);		\
	doc_close(&d);							\
}

REFUSED(message, Opencode__MessageInfo)
REFUSED(part, Opencode__PartInfo)
REFUSED(question, Opencode__QuestionRequest)
REFUSED(todos, Opencode__TodoList)
REFUSED(diffs, Opencode__DiffList)

/* ---- on the captures ---- */

static void
test_message_list(void **state)
{
	Opencode__MessageInfo	mi;
	Opencode__PartInfo	pi;
	struct doc		d;
	int			m, p, parts, np, nparts_seen = 0;
	int			i, k;

	(void)state;
	doc_load(&d, "session-messages-tool.json");
	assert_int_equal(json_type(d.j, 0), JSON_ARRAY);
	assert_int_equal(json_len(d.j, 0), 3);
	for (i = 0, m = 1; i < 3; i++, m = json_next(d.j, m)) {
		opencode__message_info__init(&mi);
		assert_int_equal(chatmap_message(&d.cm,
		    json_obj_get(d.j, m, "info"), &mi), 0);
		assert_string_equal(mi.session_id,
		    "ses_de9d9cc0cffehGld5NiPkdFvkF");
		assert_string_equal(mi.agent, "build");
		assert_string_equal(mi.provider_id, "mock");
		assert_string_equal(mi.model_id, "mock-1");
		assert_true(mi.cost == 0.0);
		switch (i) {
		case 0:
			assert_string_equal(mi.id,
			    "msg_21626378d001coYGuelMlqQmRq");
			assert_string_equal(mi.role, "user");
			assert_int_equal(mi.created_at, 1795667933069LL);
			assert_int_equal(mi.completed_at, 0);
			assert_string_equal(mi.finish, "");
			assert_string_equal(mi.parent_id, "");
			break;
		case 1:
			assert_string_equal(mi.role, "assistant");
			assert_int_equal(mi.created_at, 1795667933139LL);
			assert_int_equal(mi.completed_at, 1795667933837LL);
			assert_string_equal(mi.finish, "tool-calls");
			assert_string_equal(mi.parent_id,
			    "msg_21626378d001coYGuelMlqQmRq");
			assert_int_equal(mi.input_tokens, 120);
			assert_int_equal(mi.output_tokens, 4);
			assert_int_equal(mi.reasoning_tokens, 0);
			assert_string_equal(mi.error_name, "");
			break;
		case 2:
			assert_string_equal(mi.finish, "stop");
			assert_int_equal(mi.input_tokens, 140);
			break;
		}
		parts = json_obj_get(d.j, m, "parts");
		np = json_len(d.j, parts);
		for (k = 0, p = parts + 1; k < np; k++, p = json_next(d.j, p)) {
			opencode__part_info__init(&pi);
			assert_int_equal(chatmap_part(&d.cm, p, &pi), 0);
			assert_string_equal(pi.message_id, mi.id);
			assert_string_equal(pi.session_id, mi.session_id);
			assert_false(pi.truncated);
			roundtrip_part(&pi);
			nparts_seen++;
			if (strcmp(pi.kind, "tool") == 0) {
				assert_non_null(pi.tool);
				assert_string_equal(pi.tool->tool, "read");
				assert_false(pi.tool->truncated);
				assert_string_equal(pi.tool->status, "completed");
				assert_string_equal(pi.tool->call_id,
				    "call_mock_0005");
				assert_string_equal(pi.tool->title, "hello.txt");
				assert_string_equal(pi.tool->part_id, pi.id);
				assert_string_equal(pi.tool->session_id,
				    pi.session_id);
				assert_string_equal(pi.tool->input_json,
				    "{\"filePath\":\"hello.txt\"}");
				assert_non_null(strstr(pi.tool->output,
				    "1: hello from the ocbroker probe project\n"));
			} else if (strcmp(pi.kind, "text") == 0) {
				assert_null(pi.tool);
				assert_true(strcmp(pi.text, "tool") == 0 ||
				    strcmp(pi.text, "The tool call finished; "
				    "this is the mock's answer.") == 0);
			} else {
				/* step-start, step-finish: ids and kind only */
				assert_true(strcmp(pi.kind, "step-start") == 0 ||
				    strcmp(pi.kind, "step-finish") == 0);
				assert_string_equal(pi.text, "");
				assert_null(pi.tool);
				assert_null(pi.file);
				assert_int_equal(pi.n_files, 0);
			}
		}
	}
	assert_int_equal(nparts_seen, 7);
	doc_close(&d);
}

static void
test_permission_list(void **state)
{
	Opencode__PermissionRequest	pr;
	struct doc			d;

	(void)state;
	doc_load(&d, "permission-list.json");
	assert_int_equal(json_len(d.j, 0), 1);
	opencode__permission_request__init(&pr);
	assert_int_equal(chatmap_permission(&d.cm, 1, &pr), 0);
	assert_string_equal(pr.permission_id, "per_216264a5a001SZP3O5Om9g1xn2");
	assert_string_equal(pr.session_id, "ses_de9d9baa3ffe6SsOQyL6OP9AJP");
	assert_string_equal(pr.permission, "bash");
	assert_int_equal(pr.n_patterns, 1);
	assert_string_equal(pr.patterns[0], "echo hello from the mock");
	assert_string_equal(pr.message_id, "msg_21626484f001xcMbZ0W2yhhjY3");
	assert_string_equal(pr.call_id, "call_mock_0007");
	assert_string_equal(pr.metadata_json,
	    "{\"command\":\"echo hello from the mock\"}");
	doc_close(&d);
}

/* permission.asked's properties have the shape of GET /permission's items. */
static void
test_permission_event(void **state)
{
	Opencode__PermissionRequest	pr;
	struct doc			d;
	char				*sse, *ev;
	size_t				len;

	(void)state;
	sse = fx_load("sse-permission.txt", &len);
	assert_non_null(ev = sse_find(sse, "permission.asked", NULL, 0));
	doc_event(&d, ev);
	opencode__permission_request__init(&pr);
	assert_int_equal(chatmap_permission(&d.cm,
	    json_obj_get(d.j, 0, "properties"), &pr), 0);
	assert_string_equal(pr.permission, "bash");
	assert_string_equal(pr.call_id, "call_mock_0007");
	check_json(pr.metadata_json);
	doc_close(&d);
	free(sse);
}

/* Every message.updated and message.part.updated of every transcript. */
static void
test_transcripts(void **state)
{
	static const char *const files[] = { "sse-text.txt", "sse-tool.txt",
	    "sse-permission.txt", "sse-permission-reject.txt", "sse-abort.txt",
	    "sse-error.txt", "sse-bad-model.txt", "sse-many.txt",
	    "sse-retry.txt", "sse-queued.txt", "sse-reasoning.txt",
	    "sse-edit.txt", "sse-file.txt", "sse-todo.txt", "sse-question.txt",
	    "sse-full.txt", "sse-summarize.txt", "sse-command.txt",
	    "sse-revert-prompt.txt" };
	Opencode__MessageInfo	mi;
	Opencode__PartInfo	pi;
	struct doc		d;
	char			*sse, *ev;
	size_t			i, len;
	int			n, nmsg = 0, npart = 0, ntool = 0;

	(void)state;
	for (i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		sse = fx_load(files[i], &len);
		for (n = 0; (ev = sse_find(sse, "message.updated", NULL, n)) !=
		    NULL; n++) {
			doc_event(&d, ev);
			opencode__message_info__init(&mi);
			if (chatmap_message(&d.cm, json_obj_get(d.j,
			    json_obj_get(d.j, 0, "properties"), "info"),
			    &mi) == -1)
				fail_msg("%s: message.updated %d: %s", files[i],
				    n, d.cm.why);
			assert_true(strcmp(mi.role, "user") == 0 ||
			    strcmp(mi.role, "assistant") == 0);
			check_str(mi.error_message);
			assert_true(strlen(mi.error_message) <=
			    CHATMAP_ERRMSG_MAX);
			assert_null(strchr(mi.error_message, '\n'));
			nmsg++;
			doc_close(&d);
		}
		for (n = 0; (ev = sse_find(sse, "message.part.updated", NULL,
		    n)) != NULL; n++) {
			doc_event(&d, ev);
			opencode__part_info__init(&pi);
			if (chatmap_part(&d.cm, json_obj_get(d.j,
			    json_obj_get(d.j, 0, "properties"), "part"),
			    &pi) == -1)
				fail_msg("%s: part %d: %s", files[i], n,
				    d.cm.why);
			if (pi.tool != NULL) {
				check_json(pi.tool->input_json);
				ntool++;
			}
			roundtrip_part(&pi);
			npart++;
			doc_close(&d);
		}
		free(sse);
	}
	assert_true(nmsg > 20);
	assert_true(npart > 20);
	assert_true(ntool >= 3);
}

/* The aborted chat's error: name and the first line of data.message. */
static void
test_message_error(void **state)
{
	Opencode__MessageInfo	mi;
	struct doc		d;
	char			*sse, *ev;
	size_t			len;

	(void)state;
	sse = fx_load("sse-abort.txt", &len);
	ev = sse_find(sse, "message.updated", "\"error\":{", 0);
	assert_non_null(ev);
	doc_event(&d, ev);
	opencode__message_info__init(&mi);
	assert_int_equal(chatmap_message(&d.cm, json_obj_get(d.j,
	    json_obj_get(d.j, 0, "properties"), "info"), &mi), 0);
	assert_string_equal(mi.role, "assistant");
	assert_string_equal(mi.error_name, "MessageAbortedError");
	assert_string_equal(mi.error_message, "Aborted");
	doc_close(&d);
	free(sse);

	/* A stack trace after the first line is dropped. */
	assert_int_equal(map_message("{\"id\":\"msg_1\",\"sessionID\":\"ses_1\","
	    "\"role\":\"assistant\",\"error\":{\"name\":\"UnknownError\","
	    "\"data\":{\"message\":\"boom\\n    at x (y.js:1)\"}}}", &mi, &d), 0);
	assert_string_equal(mi.error_name, "UnknownError");
	assert_string_equal(mi.error_message, "boom");
	doc_close(&d);
}

/* ---- the shapes no 4B capture has ---- */

static void
test_cost_and_counts(void **state)
{
	/* Wrong types, an overflowing double, a count beyond 2^53. */
	static const struct str_case bad[] = {
		{ "{\"id\":\"msg_1\",\"sessionID\":\"ses_1\","
		    "\"role\":\"assistant\",\"cost\":\"1\"}", "cost" },
		{ "{\"id\":\"msg_1\",\"sessionID\":\"ses_1\","
		    "\"role\":\"assistant\",\"cost\":1e999}", NULL },
		{ "{\"id\":\"msg_1\",\"sessionID\":\"ses_1\","
		    "\"role\":\"assistant\",\"tokens\":{\"input\":1e300}}",
		    "input" },
		{ "{\"id\":\"msg_1\",\"sessionID\":\"ses_1\","
		    "\"role\":\"assistant\",\"tokens\":[]}", "tokens" },
	};
	Opencode__MessageInfo	mi;
	struct doc		d;
	size_t			i;

	(void)state;
	assert_int_equal(map_message("{\"id\":\"msg_1\",\"sessionID\":\"ses_1\","
	    "\"role\":\"assistant\",\"cost\":0.0123,\"time\":{\"created\":5,"
	    "\"completed\":7.9},\"tokens\":{\"input\":1e3,\"output\":2.5,"
	    "\"reasoning\":33}}", &mi, &d), 0);
	assert_true(mi.cost > 0.01229 && mi.cost < 0.01231);
	assert_int_equal(mi.created_at, 5);
	assert_int_equal(mi.completed_at, 7);
	assert_int_equal(mi.input_tokens, 1000);
	assert_int_equal(mi.output_tokens, 2);
	assert_int_equal(mi.reasoning_tokens, 33);
	/* It packs: the zeroed struct was initialised. */
	assert_int_equal(opencode__message_info__get_packed_size(&mi) > 0, 1);
	doc_close(&d);

	for (i = 0; i < NCASES(bad); i++)
		refused_message(bad[i].in, bad[i].want);
	/* null is absent */
	assert_int_equal(map_message("{\"id\":\"msg_1\",\"sessionID\":\"ses_1\","
	    "\"role\":\"user\",\"cost\":null,\"tokens\":null,\"time\":null,"
	    "\"error\":null,\"model\":{\"providerID\":\"p\",\"modelID\":\"m\"}}",
	    &mi, &d), 0);
	assert_string_equal(mi.provider_id, "p");
	assert_string_equal(mi.model_id, "m");
	doc_close(&d);
}

static void
test_message_required(void **state)
{
	static const struct str_case bad[] = {
		{ "{\"sessionID\":\"s\",\"role\":\"user\"}", "id" },
		{ "{\"id\":\"\",\"sessionID\":\"s\",\"role\":\"user\"}", "id" },
		{ "{\"id\":1,\"sessionID\":\"s\",\"role\":\"user\"}", "id" },
		{ "{\"id\":\"m\",\"role\":\"user\"}", "sessionID" },
		{ "{\"id\":\"m\",\"sessionID\":\"s\"}", "role" },
		{ "{\"id\":\"m\",\"sessionID\":\"s\",\"role\":\"u\","
		    "\"time\":\"x\"}", "time" },
		{ "{\"id\":\"m\",\"sessionID\":\"s\",\"role\":\"u\","
		    "\"agent\":7}", "agent" },
		{ "{\"id\":\"m\",\"sessionID\":\"s\",\"role\":\"u\","
		    "\"model\":\"x\"}", "model" },
		{ "{\"id\":\"m\",\"sessionID\":\"s\",\"role\":\"u\","
		    "\"error\":{\"data\":{\"message\":[]}}}", "message" },
		{ "[]", "info" },
		{ "\"msg\"", "info" },
	};
	size_t	i;

	(void)state;
	for (i = 0; i < NCASES(bad); i++)
		refused_message(bad[i].in, bad[i].want);
}

static void
test_part_kinds(void **state)
{
	Opencode__PartInfo	pi;
	struct doc		d;

	(void)state;
	assert_int_equal(map_part("{\"id\":\"prt_1\",\"messageID\":\"msg_1\","
	    "\"sessionID\":\"ses_1\",\"type\":\"reasoning\",\"text\":\"hm\","
	    "\"time\":{\"start\":1}}", &pi, &d), 0);
	assert_string_equal(pi.kind, "reasoning");
	assert_string_equal(pi.text, "hm");
	doc_close(&d);

	assert_int_equal(map_part("{\"id\":\"prt_1\",\"messageID\":\"msg_1\","
	    "\"sessionID\":\"ses_1\",\"type\":\"text\",\"text\":\"x\","
	    "\"synthetic\":true}", &pi, &d), 0);
	assert_true(pi.synthetic);
	doc_close(&d);

	assert_int_equal(map_part("{\"id\":\"prt_1\",\"messageID\":\"msg_1\","
	    "\"sessionID\":\"ses_1\",\"type\":\"file\",\"mime\":\"text/plain\","
	    "\"filename\":\"a.txt\",\"url\":\"file:///home/user/a.txt\","
	    "\"source\":{\"type\":\"file\",\"path\":\"a.txt\"}}", &pi, &d), 0);
	assert_non_null(pi.file);
	assert_string_equal(pi.file->mime, "text/plain");
	assert_string_equal(pi.file->filename, "a.txt");
	assert_string_equal(pi.file->url, "file:///home/user/a.txt");
	roundtrip_part(&pi);
	doc_close(&d);

	assert_int_equal(map_part("{\"id\":\"prt_1\",\"messageID\":\"msg_1\","
	    "\"sessionID\":\"ses_1\",\"type\":\"patch\",\"hash\":\"abc\","
	    "\"files\":[\"/p/a.txt\",\"/p/b.txt\"]}", &pi, &d), 0);
	assert_int_equal(pi.n_files, 2);
	assert_string_equal(pi.files[1], "/p/b.txt");
	roundtrip_part(&pi);
	doc_close(&d);

	/* Unknown kinds: ids and kind, whatever else they hold. */
	assert_int_equal(map_part("{\"id\":\"prt_1\",\"messageID\":\"msg_1\","
	    "\"sessionID\":\"ses_1\",\"type\":\"hologram\",\"text\":7,"
	    "\"files\":{},\"tool\":[]}", &pi, &d), 0);
	assert_string_equal(pi.kind, "hologram");
	assert_string_equal(pi.text, "");
	assert_null(pi.tool);
	doc_close(&d);
	assert_int_equal(map_part("{\"id\":\"prt_1\",\"messageID\":\"msg_1\","
	    "\"sessionID\":\"ses_1\",\"type\":\"compaction\",\"auto\":true}",
	    &pi, &d), 0);
	assert_string_equal(pi.kind, "compaction");
	doc_close(&d);

	/* Wrong types in a known kind fail it. */
	refused_part("{\"id\":\"prt_1\",\"messageID\":\"msg_1\","
	    "\"sessionID\":\"ses_1\",\"type\":\"text\",\"text\":7}", "text");
	refused_part("{\"id\":\"prt_1\",\"messageID\":\"msg_1\","
	    "\"sessionID\":\"ses_1\",\"type\":\"patch\",\"files\":[1]}", NULL);
	refused_part("{\"id\":\"prt_1\",\"messageID\":\"msg_1\","
	    "\"sessionID\":\"ses_1\",\"type\":\"patch\",\"files\":\"a\"}", NULL);
	refused_part("{\"id\":\"prt_1\",\"messageID\":\"msg_1\","
	    "\"sessionID\":\"ses_1\",\"type\":\"text\",\"synthetic\":1}", NULL);
	refused_part("{\"id\":\"prt_1\",\"messageID\":\"msg_1\","
	    "\"sessionID\":\"ses_1\",\"type\":\"file\",\"url\":{}}", NULL);
	refused_part("{\"id\":\"prt_1\",\"messageID\":\"msg_1\","
	    "\"sessionID\":\"ses_1\",\"type\":\"tool\",\"tool\":\"bash\","
	    "\"callID\":\"c\"}", "state");
	/* Missing ids and type. */
	refused_part("{\"id\":\"prt_1\",\"messageID\":\"msg_1\","
	    "\"sessionID\":\"ses_1\"}", "type");
	refused_part("{\"id\":\"prt_1\",\"sessionID\":\"ses_1\","
	    "\"type\":\"text\"}", "messageID");
	refused_part("[{\"id\":\"prt_1\"}]", NULL);
}

/* A running bash streams metadata.output; a completed tool has output. */
static void
test_tool(void **state)
{
	Opencode__PartInfo	pi;
	struct doc		d;

	(void)state;
	assert_int_equal(map_part("{\"id\":\"prt_1\",\"messageID\":\"msg_1\","
	    "\"sessionID\":\"ses_1\",\"type\":\"tool\",\"tool\":\"bash\","
	    "\"callID\":\"c\",\"state\":{\"status\":\"running\",\"input\":"
	    "{\"command\":\"ls\"},\"metadata\":{\"output\":\"a\\nb\"}}}",
	    &pi, &d), 0);
	assert_string_equal(pi.tool->output, "a\nb");
	assert_string_equal(pi.tool->input_json, "{\"command\":\"ls\"}");
	doc_close(&d);
	assert_int_equal(map_part("{\"id\":\"prt_1\",\"messageID\":\"msg_1\","
	    "\"sessionID\":\"ses_1\",\"type\":\"tool\",\"tool\":\"bash\","
	    "\"callID\":\"c\",\"state\":{\"status\":\"error\",\"input\":{},"
	    "\"error\":\"denied\",\"metadata\":{\"output\":7}}}", &pi, &d), 0);
	assert_string_equal(pi.tool->status, "error");
	assert_string_equal(pi.tool->error, "denied");
	assert_string_equal(pi.tool->output, "");
	doc_close(&d);
}

static void
test_question(void **state)
{
	static const char q[] = "{\"id\":\"que_1\",\"sessionID\":\"ses_1\","
	    "\"questions\":[{\"question\":\"Which colour?\",\"header\":"
	    "\"Colour\",\"options\":[{\"label\":\"Red\",\"description\":"
	    "\"warm\"},{\"label\":\"Blue\",\"description\":\"cold\"}],"
	    "\"multiple\":true},{\"question\":\"Why?\",\"header\":\"Why\","
	    "\"options\":[],\"custom\":true}],\"tool\":{\"messageID\":"
	    "\"msg_1\",\"callID\":\"call_1\"}}";
	Opencode__QuestionRequest	qr;
	struct doc			d;
	size_t				i;
	static const struct str_case bad[] = {
		{ "{\"id\":\"que_1\",\"sessionID\":\"ses_1\"}", "questions" },
		{ "{\"id\":\"que_1\",\"sessionID\":\"ses_1\",\"questions\":{}}",
		    "questions" },
		{ "{\"id\":\"que_1\",\"sessionID\":\"ses_1\",\"questions\":[1]}",
		    "questions" },
		{ "{\"id\":\"que_1\",\"sessionID\":\"ses_1\",\"questions\":"
		    "[{\"options\":[{}]}]}", "label" },
		{ "{\"id\":\"que_1\",\"sessionID\":\"ses_1\",\"questions\":"
		    "[{\"options\":[\"a\"]}]}", "options" },
		{ "{\"id\":\"que_1\",\"sessionID\":\"ses_1\",\"questions\":"
		    "[{\"multiple\":\"yes\"}]}", "multiple" },
		{ "{\"id\":\"que_1\",\"sessionID\":\"ses_1\",\"questions\":[],"
		    "\"tool\":1}", "tool" },
		{ "{\"sessionID\":\"ses_1\",\"questions\":[]}", "id" },
	};

	(void)state;
	assert_int_equal(map_question(q, &qr, &d), 0);
	assert_string_equal(qr.id, "que_1");
	assert_string_equal(qr.session_id, "ses_1");
	assert_string_equal(qr.message_id, "msg_1");
	assert_string_equal(qr.call_id, "call_1");
	assert_int_equal(qr.n_questions, 2);
	assert_string_equal(qr.questions[0]->question, "Which colour?");
	assert_string_equal(qr.questions[0]->header, "Colour");
	assert_true(qr.questions[0]->multiple);
	assert_false(qr.questions[0]->custom);
	assert_int_equal(qr.questions[0]->n_options, 2);
	assert_string_equal(qr.questions[0]->options[1]->label, "Blue");
	assert_string_equal(qr.questions[0]->options[1]->description, "cold");
	assert_true(qr.questions[1]->custom);
	assert_int_equal(qr.questions[1]->n_options, 0);
	doc_close(&d);

	for (i = 0; i < NCASES(bad); i++)
		refused_question(bad[i].in, bad[i].want);
}

static void
test_todos(void **state)
{
	static const char t[] = "[{\"content\":\"one\",\"status\":\"pending\","
	    "\"priority\":\"high\",\"id\":\"1\"},{\"content\":\"two\","
	    "\"status\":\"in_progress\",\"priority\":\"low\"}]";
	Opencode__TodoList	tl;
	struct doc		d;

	(void)state;
	assert_int_equal(map_todos(t, &tl, &d), 0);
	assert_int_equal(tl.n_todos, 2);
	assert_string_equal(tl.todos[0]->content, "one");
	assert_string_equal(tl.todos[0]->priority, "high");
	assert_string_equal(tl.todos[1]->status, "in_progress");
	assert_string_equal(tl.session_id, "");
	doc_close(&d);

	assert_int_equal(map_todos("[]", &tl, &d), 0);
	assert_int_equal(tl.n_todos, 0);
	doc_close(&d);

	refused_todos("{}", NULL);
	refused_todos("[{\"content\":1}]", "content");
	refused_todos("[null]", NULL);
	/* A missing list token (a failed lookup) is refused, not empty. */
	doc_open(&d, "{}", 2);
	assert_int_equal(chatmap_todos(&d.cm, -1, &tl), -1);
	doc_close(&d);
}

static void
test_diffs(void **state)
{
	static const char t[] = "[{\"file\":\"hello.txt\",\"patch\":\"@@ -1 +1 @@"
	    "\\n-a\\n+b\\n\",\"additions\":1,\"deletions\":1,\"status\":"
	    "\"modified\"},{\"path\":\"new.txt\",\"status\":\"added\","
	    "\"additions\":3.0,\"deletions\":0,\"patch\":\"\"}]";
	Opencode__DiffList	dl;
	struct doc		d;

	(void)state;
	assert_int_equal(map_diffs(t, &dl, &d), 0);
	assert_int_equal(dl.n_files, 2);
	assert_string_equal(dl.files[0]->path, "hello.txt");
	assert_string_equal(dl.files[0]->status, "modified");
	assert_int_equal(dl.files[0]->additions, 1);
	assert_string_equal(dl.files[0]->patch, "@@ -1 +1 @@\n-a\n+b\n");
	assert_false(dl.files[0]->truncated);
	assert_string_equal(dl.files[1]->path, "new.txt");
	assert_int_equal(dl.files[1]->additions, 3);
	doc_close(&d);

	refused_diffs("[{\"file\":[]}]", "file");
	refused_diffs("[{\"file\":\"a\",\"additions\":\"1\"}]", NULL);
}

/* ---- huge, cut on a boundary ---- */

static void
test_cut(void **state)
{
	/* U+1F600 is F0 9F 98 80. */
	static const char	s[] = "ab\xf0\x9f\x98\x80" "c";

	(void)state;
	assert_int_equal(chatmap_cut(s, 7, 100), 7);
	assert_int_equal(chatmap_cut(s, 7, 7), 7);
	assert_int_equal(chatmap_cut(s, 7, 6), 6);
	assert_int_equal(chatmap_cut(s, 7, 5), 2);
	assert_int_equal(chatmap_cut(s, 7, 4), 2);
	assert_int_equal(chatmap_cut(s, 7, 3), 2);
	assert_int_equal(chatmap_cut(s, 7, 2), 2);
	assert_int_equal(chatmap_cut(s, 7, 1), 1);
	assert_int_equal(chatmap_cut(s, 7, 0), 0);
	assert_int_equal(chatmap_cut("\xf0\x9f\x98\x80", 4, 3), 0);
}

/*
 * A JSON object {"id":...,"type":kind,<key>:"<fill>"} whose string value is
 * n bytes: 'x' up to off, then a 4-byte character at off (when off < n),
 * then 'y'.
 */
static char *
huge_part(const char *kind, const char *key, size_t n, size_t off)
{
	static const char	 emoji[] = "\xf0\x9f\x98\x80";
	char			 head[256];
	char			*s, *p;
	size_t			 hl, i;

	hl = (size_t)snprintf(head, sizeof(head), "{\"id\":\"prt_1\","
	    "\"messageID\":\"msg_1\",\"sessionID\":\"ses_1\",\"type\":\"%s\","
	    "\"tool\":\"bash\",\"callID\":\"c\",\"url\":\"\",\"state\":"
	    "{\"status\":\"completed\",\"input\":{},\"%s\":\"", kind, key);
	assert_non_null(s = malloc(hl + n + 8));
	memcpy(s, head, hl);
	p = s + hl;
	for (i = 0; i < n; i++) {
		if (i == off && off + 4 <= n) {
			memcpy(p + i, emoji, 4);
			i += 3;
		} else
			p[i] = i < off ? 'x' : 'y';
	}
	memcpy(p + n, "\"}}", 4);
	return s;
}

static void
test_huge(void **state)
{
	Opencode__PartInfo	pi;
	struct doc		d;
	char			*s;
	size_t			off;

	(void)state;
	/* 1 MiB of text: cut at exactly 256 KiB, truncated. */
	{
		size_t	n = 1024 * 1024, hl;
		char	*t;

		assert_non_null(t = malloc(n + 200));
		hl = (size_t)snprintf(t, 200, "{\"id\":\"prt_1\",\"messageID\":"
		    "\"msg_1\",\"sessionID\":\"ses_1\",\"type\":\"text\","
		    "\"text\":\"");
		memset(t + hl, 'a', n);
		memcpy(t + hl + n, "\"}", 3);
		assert_int_equal(map_part(t, &pi, &d), 0);
		assert_int_equal(strlen(pi.text), CHATMAP_TEXT_MAX);
		assert_true(pi.truncated);
		roundtrip_part(&pi);
		doc_close(&d);
		/* Exactly the limit is not cut. */
		memcpy(t + hl + CHATMAP_TEXT_MAX, "\"}", 3);
		assert_int_equal(map_part(t, &pi, &d), 0);
		assert_int_equal(strlen(pi.text), CHATMAP_TEXT_MAX);
		assert_false(pi.truncated);
		doc_close(&d);
		free(t);
	}
	/* A 4-byte character at each position across the cut. */
	for (off = CHATMAP_TEXT_MAX - 4; off <= CHATMAP_TEXT_MAX; off++) {
		s = huge_part("tool", "output", CHATMAP_TEXT_MAX + 16, off);
		assert_int_equal(map_part(s, &pi, &d), 0);
		assert_non_null(pi.tool);
		assert_true(pi.truncated);
		assert_true(pi.tool->truncated);
		check_str(pi.tool->output);
		if (off + 4 <= CHATMAP_TEXT_MAX)
			assert_int_equal(strlen(pi.tool->output),
			    CHATMAP_TEXT_MAX);
		else
			assert_int_equal(strlen(pi.tool->output), off);
		doc_close(&d);
		free(s);
	}
	/* A tool's error too. */
	s = huge_part("tool", "error", CHATMAP_TEXT_MAX + 1, 0);
	assert_int_equal(map_part(s, &pi, &d), 0);
	assert_true(pi.truncated);
	assert_int_equal(strlen(pi.tool->error), CHATMAP_TEXT_MAX);
	doc_close(&d);
	free(s);
}

static void
test_huge_patch(void **state)
{
	Opencode__DiffList	dl;
	struct doc		d;
	size_t			n = CHATMAP_TEXT_MAX * 2, hl;
	char			*t;

	(void)state;
	assert_non_null(t = malloc(n + 200));
	hl = (size_t)snprintf(t, 200, "[{\"file\":\"a\",\"patch\":\"");
	memset(t + hl, 'p', n);
	memcpy(t + hl + n, "\"}]", 4);
	assert_int_equal(map_diffs(t, &dl, &d), 0);
	assert_true(dl.files[0]->truncated);
	assert_int_equal(strlen(dl.files[0]->patch), CHATMAP_TEXT_MAX);
	doc_close(&d);
	free(t);
}

/* Nesting up to json.c's depth limit maps; nothing here recurses into it. */
static void
test_deep(void **state)
{
	Opencode__PartInfo	pi;
	struct doc		d;
	char			buf[1024], *p;
	int			i, depth = JSON_MAX_DEPTH - 4;

	(void)state;
	p = buf + snprintf(buf, sizeof(buf), "{\"id\":\"prt_1\",\"messageID\":"
	    "\"msg_1\",\"sessionID\":\"ses_1\",\"type\":\"tool\",\"tool\":"
	    "\"t\",\"callID\":\"c\",\"state\":{\"status\":\"running\","
	    "\"input\":");
	for (i = 0; i < depth; i++)
		*p++ = '[';
	for (i = 0; i < depth; i++)
		*p++ = ']';
	memcpy(p, "}}", 3);
	assert_int_equal(map_part(buf, &pi, &d), 0);
	check_json(pi.tool->input_json);
	assert_int_equal(strlen(pi.tool->input_json), (size_t)depth * 2);
	doc_close(&d);
}

/* Broken UTF-8 and control characters in raw JSON still give valid JSON. */
static void
test_raw_clean(void **state)
{
	static const char	s[] = "{\"id\":\"per_1\",\"sessionID\":\"ses_1\","
	    "\"permission\":\"bash\",\"metadata\":{\"k\":\"a\xff\tb\"}}";
	Opencode__PermissionRequest	pr;
	struct doc			d;

	(void)state;
	/* json.c refuses a raw tab inside a string only when it reads it. */
	if (json_parse(s, strlen(s), &d.j) == -1)
		skip();
	json_free(d.j);
	assert_int_equal(map_permission(s, &pr, &d), 0);
	assert_string_equal(pr.metadata_json,
	    "{\"k\":\"a\xef\xbf\xbd\\u0009b\"}");
	check_json(pr.metadata_json);
	assert_int_equal(pr.n_patterns, 0);
	doc_close(&d);
}

static void
test_error_text(void **state)
{
	char	buf[CHATMAP_ERRMSG_MAX * 2 + 8];
	char	empty[1] = "";

	(void)state;
	chatmap_error_text(empty);
	snprintf(buf, sizeof(buf), "one\ttwo\r\nthree");
	chatmap_error_text(buf);
	assert_string_equal(buf, "one two");
	memset(buf, 'e', sizeof(buf) - 1);
	buf[sizeof(buf) - 1] = '\0';
	memcpy(buf + CHATMAP_ERRMSG_MAX - 4, "\xc3\xa9", 2);
	chatmap_error_text(buf);
	assert_true(strlen(buf) <= CHATMAP_ERRMSG_MAX);
	assert_int_equal(strlen(buf), CHATMAP_ERRMSG_MAX - 1);
	assert_string_equal(buf + strlen(buf) - 3, "...");
	check_str(buf);
}

/* ---- the protocol v2 captures ---- */

/*
 * Every message and part of a GET /session/{id}/message reply maps; the
 * parts' kinds in order are returned as one letter each (t text, T
 * synthetic text, r reasoning, k tool, s step-start, f step-finish, p
 * patch, F file, c compaction, ? other), messages separated by '|'.
 */
static char *
map_list(const char *name, size_t *nmsg)
{
	Opencode__MessageInfo	mi;
	Opencode__PartInfo	pi;
	struct doc		d;
	char			*kinds, *o;
	size_t			i, k, n, np;
	int			m, p, parts;

	doc_load(&d, name);
	assert_int_equal(json_type(d.j, 0), JSON_ARRAY);
	n = (size_t)json_len(d.j, 0);
	assert_non_null(kinds = o = malloc(d.cm.len));
	for (i = 0, m = 1; i < n; i++, m = json_next(d.j, m)) {
		memset(&mi, 0, sizeof(mi));
		if (chatmap_message(&d.cm, json_obj_get(d.j, m, "info"),
		    &mi) == -1)
			fail_msg("%s: message %zu: %s", name, i, d.cm.why);
		assert_true(opencode__message_info__get_packed_size(&mi) > 0);
		parts = json_obj_get(d.j, m, "parts");
		np = (size_t)json_len(d.j, parts);
		for (k = 0, p = parts + 1; k < np; k++, p = json_next(d.j, p)) {
			memset(&pi, 0, sizeof(pi));
			if (chatmap_part(&d.cm, p, &pi) == -1)
				fail_msg("%s: part %zu.%zu: %s", name, i, k,
				    d.cm.why);
			assert_string_equal(pi.message_id, mi.id);
			roundtrip_part(&pi);
			if (strcmp(pi.kind, "text") == 0)
				*o++ = pi.synthetic ? 'T' : 't';
			else if (strcmp(pi.kind, "reasoning") == 0)
				*o++ = 'r';
			else if (strcmp(pi.kind, "tool") == 0)
				*o++ = 'k';
			else if (strcmp(pi.kind, "step-start") == 0)
				*o++ = 's';
			else if (strcmp(pi.kind, "step-finish") == 0)
				*o++ = 'f';
			else if (strcmp(pi.kind, "patch") == 0)
				*o++ = 'p';
			else if (strcmp(pi.kind, "file") == 0)
				*o++ = 'F';
			else if (strcmp(pi.kind, "compaction") == 0)
				*o++ = 'c';
			else
				*o++ = '?';
		}
		*o++ = '|';
	}
	*o = '\0';
	doc_close(&d);
	*nmsg = n;
	return kinds;
}

static void
test_v2_message_lists(void **state)
{
	Opencode__MessageInfo	mi;
	Opencode__PartInfo	pi;
	struct doc		d;
	char			*kinds;
	size_t			n;
	int			m, p;

	(void)state;
	kinds = map_list("message-list-full.json", &n);
	assert_int_equal(n, 17);
	/* Read off the capture (README, "Part kinds seen"). */
	assert_string_equal(kinds, "t|srtf|t|skfp|skf|skfp|stf|tTTF|stf|t|skf|"
	    "stf|t|skf|stf|c|stf|");
	free(kinds);
	kinds = map_list("message-list-full-flow.json", &n);
	assert_int_equal(n, 5);
	assert_null(strchr(kinds, '?'));
	free(kinds);
	kinds = map_list("message-list-limit.json", &n);
	assert_int_equal(n, 2);
	free(kinds);
	kinds = map_list("session-fork-message-list.json", &n);
	free(kinds);

	/* A few values of message-list-full.json. */
	doc_load(&d, "message-list-full.json");
	/* the compaction answer, the last message */
	m = json_next(d.j, 1);
	for (n = 2; n < 17; n++)
		m = json_next(d.j, m);
	assert_int_equal(chatmap_message(&d.cm, json_obj_get(d.j, m, "info"),
	    &mi), 0);
	assert_string_equal(mi.id, "msg_23ca6fe85001cTIY440waqZaV0");
	assert_string_equal(mi.agent, "compaction");
	assert_string_equal(mi.parent_id, "msg_23ca6fe64001vBwaDbamjHIuc4");
	assert_int_equal(mi.created_at, 1796313906821LL);
	assert_int_equal(mi.completed_at, 1796313907108LL);
	assert_int_equal(mi.input_tokens, 120);
	assert_int_equal(mi.output_tokens, 3);
	/* message 2's reasoning part */
	m = json_next(d.j, 1);
	p = json_obj_get(d.j, m, "parts") + 1;
	p = json_next(d.j, p);
	assert_int_equal(chatmap_part(&d.cm, p, &pi), 0);
	assert_string_equal(pi.kind, "reasoning");
	assert_string_equal(pi.text, "The user wants a thought first.");
	doc_close(&d);

	/* POST /session/{id}/command answers one {info, parts}. */
	doc_load(&d, "command-run.json");
	assert_int_equal(chatmap_message(&d.cm, json_obj_get(d.j, 0, "info"),
	    &mi), 0);
	assert_string_equal(mi.role, "assistant");
	assert_int_equal(chatmap_part(&d.cm, json_obj_get(d.j, 0, "parts") + 1,
	    &pi), 0);
	doc_close(&d);
}

static void
test_v2_lists(void **state)
{
	Opencode__QuestionRequest	qr;
	Opencode__PermissionRequest	pr;
	Opencode__TodoList		tl;
	Opencode__DiffList		dl;
	struct doc			d;

	(void)state;
	doc_load(&d, "question-list.json");
	assert_int_equal(json_len(d.j, 0), 1);
	assert_int_equal(chatmap_question(&d.cm, 1, &qr), 0);
	assert_string_equal(qr.id, "que_23ca6f3c8001Wae0IA47jDmPc1");
	assert_string_equal(qr.session_id, "ses_dc3593a9effeUUmi4cweUcCu4B");
	assert_string_equal(qr.message_id, "msg_23ca6f263001TwmqVmYhZUvisc");
	assert_string_equal(qr.call_id, "call_mock000015");
	assert_int_equal(qr.n_questions, 1);
	assert_string_equal(qr.questions[0]->header, "Colour");
	assert_int_equal(qr.questions[0]->n_options, 3);
	assert_string_equal(qr.questions[0]->options[2]->label, "Red");
	assert_string_equal(qr.questions[0]->options[2]->description,
	    "The colour of a stop sign");
	doc_close(&d);

	doc_load(&d, "permission-list-pending.json");
	assert_int_equal(chatmap_permission(&d.cm, 1, &pr), 0);
	assert_string_equal(pr.permission_id, "per_23ca71a97001jppDrrhFruOiWW");
	assert_string_equal(pr.patterns[0], "echo full step");
	assert_string_equal(pr.call_id, "call_mock000025");
	doc_close(&d);

	doc_load(&d, "todo-list.json");
	assert_int_equal(chatmap_todos(&d.cm, 0, &tl), 0);
	assert_int_equal(tl.n_todos, 3);
	assert_string_equal(tl.todos[0]->content, "Read the probe file");
	assert_string_equal(tl.todos[0]->status, "completed");
	assert_string_equal(tl.todos[2]->priority, "low");
	doc_close(&d);
	doc_load(&d, "todo-list-full.json");
	assert_int_equal(chatmap_todos(&d.cm, 0, &tl), 0);
	assert_int_equal(tl.n_todos, 3);
	doc_close(&d);

	/* 1.18.34 sends SnapshotFileDiff: "file", not the OpenAPI's "path". */
	doc_load(&d, "diff-message.json");
	assert_int_equal(chatmap_diffs(&d.cm, 0, &dl), 0);
	assert_int_equal(dl.n_files, 2);
	assert_string_equal(dl.files[0]->path, "hello.txt");
	assert_string_equal(dl.files[0]->status, "modified");
	assert_int_equal(dl.files[0]->additions, 1);
	assert_int_equal(dl.files[0]->deletions, 1);
	assert_non_null(strstr(dl.files[0]->patch,
	    "+goodbye from the ocbroker probe project\n"));
	assert_string_not_equal(dl.files[1]->path, "");
	doc_close(&d);
	doc_load(&d, "diff.json");
	assert_int_equal(chatmap_diffs(&d.cm, 0, &dl), 0);
	assert_int_equal(dl.n_files, 0);
	doc_close(&d);
}

/* Every v2 transcript's chat shapes map (question.asked as a question). */
static void
test_v2_transcripts(void **state)
{
	static const char *const files[] = { "sse-question.txt",
	    "sse-question-reject.txt", "sse-full.txt" };
	Opencode__QuestionRequest	qr;
	struct doc			d;
	char				*sse, *ev;
	size_t				i, len;
	int				n, total = 0;

	(void)state;
	for (i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		sse = fx_load(files[i], &len);
		for (n = 0; (ev = sse_find(sse, "question.asked", NULL, n)) !=
		    NULL; n++) {
			doc_event(&d, ev);
			assert_int_equal(chatmap_question(&d.cm, json_obj_get(d.j,
			    0, "properties"), &qr), 0);
			assert_int_equal(qr.questions[0]->n_options, 3);
			total++;
			doc_close(&d);
		}
		free(sse);
	}
	assert_int_equal(total, 3);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_message_list),
		cmocka_unit_test(test_permission_list),
		cmocka_unit_test(test_permission_event),
		cmocka_unit_test(test_transcripts),
		cmocka_unit_test(test_message_error),
		cmocka_unit_test(test_cost_and_counts),
		cmocka_unit_test(test_message_required),
		cmocka_unit_test(test_part_kinds),
		cmocka_unit_test(test_tool),
		cmocka_unit_test(test_question),
		cmocka_unit_test(test_todos),
		cmocka_unit_test(test_diffs),
		cmocka_unit_test(test_cut),
		cmocka_unit_test(test_huge),
		cmocka_unit_test(test_huge_patch),
		cmocka_unit_test(test_deep),
		cmocka_unit_test(test_raw_clean),
		cmocka_unit_test(test_error_text),
		cmocka_unit_test(test_v2_message_lists),
		cmocka_unit_test(test_v2_lists),
		cmocka_unit_test(test_v2_transcripts),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
