/*
 * Copyright (c) 2026 The ocbroker authors
 * SPDX-License-Identifier: ISC (the licence is in the file LICENSE)
 */

/*
 * cmocka tests of netproc/events.c on every captured GET /event transcript
 * (tests/fixtures/sse-*.txt, directory from $OCB_FIXTURES) and on hostile
 * event data.  Expected values were read off the captures (and the reference
 * README, "Event shapes" and "State machines as observed"); the sequences are
 * written as one letter per emitted message:
 *   T ChatToken  X ChatCompleted  K ToolCallEvent  P PermissionRequest
 *   SessionEvent: C created  U updated  D deleted  S status  I idle  E error
 *   v2: M MessageInfo  A PartInfo  F DiffList  O TodoList
 *   Q QuestionRequest  q QuestionResolved  R PermissionResolved
 *   m MessageRemoved  a PartRemoved
 * (o.codes has every message, o.v1 only the 4B letters: the 4B sequences
 * did not change with v2.)
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
#include "netproc/events.h"
#include "netproc/json.h"
#include "netproc/sse.h"
#include "netproc/chatmap.h"
#include "netproc/token_wire.h"
#include "proto/messages.pb-c.h"
#include "tests/support/cases.h"
#include "tests/support/sm_check.h"
#include "tests/support/fixture.h"
#include "tests/support/v2_codes.h"

#define MAX_CODES	4096

/* ---- what the mapper emits ---- */

struct out {
	Opencode__ServerMessage	**msg;
	char			**sid;		/* as passed to emit */
	size_t			  n, cap, nv1;
	char			  codes[MAX_CODES + 1];
	char			  v1[MAX_CODES + 1];	/* the 4B messages only */
};

static char
code_of(const Opencode__ServerMessage *m)
{
	const char	*k;

	switch (m->payload_case) {
	case OPENCODE__SERVER_MESSAGE__PAYLOAD_TOKEN:
		return 'T';
	case OPENCODE__SERVER_MESSAGE__PAYLOAD_COMPLETED:
		return 'X';
	case OPENCODE__SERVER_MESSAGE__PAYLOAD_TOOL_CALL:
		return 'K';
	case OPENCODE__SERVER_MESSAGE__PAYLOAD_PERMISSION_REQUEST:
		return 'P';
	case OPENCODE__SERVER_MESSAGE__PAYLOAD_MESSAGE_UPDATED:
		return 'M';
	case OPENCODE__SERVER_MESSAGE__PAYLOAD_PART_UPDATED:
		return 'A';
	case OPENCODE__SERVER_MESSAGE__PAYLOAD_DIFF_UPDATED:
		return 'F';
	case OPENCODE__SERVER_MESSAGE__PAYLOAD_TODO_UPDATED:
		return 'O';
	case OPENCODE__SERVER_MESSAGE__PAYLOAD_QUESTION_REQUEST:
		return 'Q';
	case OPENCODE__SERVER_MESSAGE__PAYLOAD_QUESTION_RESOLVED:
		return 'q';
	case OPENCODE__SERVER_MESSAGE__PAYLOAD_PERMISSION_RESOLVED:
		return 'R';
	case OPENCODE__SERVER_MESSAGE__PAYLOAD_MESSAGE_REMOVED:
		return 'm';
	case OPENCODE__SERVER_MESSAGE__PAYLOAD_PART_REMOVED:
		return 'a';
	case OPENCODE__SERVER_MESSAGE__PAYLOAD_SESSION_EVENT:
		k = m->session_event->kind;
		if (strcmp(k, "created") == 0)
			return 'C';
		if (strcmp(k, "updated") == 0)
			return 'U';
		if (strcmp(k, "deleted") == 0)
			return 'D';
		if (strcmp(k, "status") == 0)
			return 'S';
		if (strcmp(k, "idle") == 0)
			return 'I';
		if (strcmp(k, "error") == 0)
			return 'E';
		return '?';
	default:
		return '?';
	}
}

/* sm_check.h, the fuzz target's check too. */
static void
check_msg(const Opencode__ServerMessage *m, const char *sid)
{
	const char	*why;

	if ((why = sm_check(m, sid)) != NULL)
		fail_msg("emitted message fails the check: %s", why);
}

static void
record(void *arg, const char *sid, const uint8_t *buf, size_t len)
{
	struct out		*o = arg;
	Opencode__ServerMessage	*m;

	m = opencode__server_message__unpack(NULL, len, buf);
	assert_non_null(m);
	check_msg(m, sid);
	if (o->n == o->cap) {
		o->cap = o->cap * 2 + 64;
		o->msg = realloc(o->msg, o->cap * sizeof(*o->msg));
		o->sid = realloc(o->sid, o->cap * sizeof(*o->sid));
		assert_non_null(o->msg);
		assert_non_null(o->sid);
	}
	if (o->n < MAX_CODES) {
		o->codes[o->n] = code_of(m);
		o->codes[o->n + 1] = '\0';
	}
	if (o->nv1 < MAX_CODES && strchr("TXKPCUDSIE", code_of(m)) != NULL) {
		o->v1[o->nv1++] = code_of(m);
		o->v1[o->nv1] = '\0';
	}
	o->sid[o->n] = strdup(sid);
	o->msg[o->n++] = m;
}

static void
out_free(struct out *o)
{
	size_t	i;

	for (i = 0; i < o->n; i++) {
		opencode__server_message__free_unpacked(o->msg[i], NULL);
		free(o->sid[i]);
	}
	free(o->msg);
	free(o->sid);
	memset(o, 0, sizeof(*o));
}

/* The n-th emitted message with that code. */
static const Opencode__ServerMessage *
nth(const struct out *o, char code, size_t n)
{
	size_t	i;

	for (i = 0; i < o->n; i++)
		if (code_of(o->msg[i]) == code && n-- == 0)
			return o->msg[i];
	fail_msg("no message %c #%zu", code, n);
	return NULL;
}

static size_t
count(const struct out *o, char code)
{
	size_t	i, n = 0;

	for (i = 0; i < o->n; i++)
		if (code_of(o->msg[i]) == code)
			n++;
	return n;
}

/* Kinds returned per fixture. */
struct kinds {
	size_t	events, mapped, ignored, connected, heartbeat, invalid;
};

/* Maps a whole transcript through the SSE parser into o. */
static void
map_fixture(struct event_mapper *m, const char *name, struct out *o,
    struct kinds *k)
{
	struct sse_parser	 p;
	struct sse_event	 ev;
	enum sse_status		 s;
	uint8_t			*buf;
	size_t			 len, off = 0, used;

	memset(k, 0, sizeof(*k));
	buf = fx_load(name, &len);
	sse_parser_init(&p);
	for (;;) {
		s = sse_parser_feed(&p, buf + off, len - off, &used, &ev);
		assert_int_not_equal(s, SSE_ERROR);
		off += used;
		if (s == SSE_NEED_MORE)
			break;
		k->events++;
		switch (event_map(m, ev.data, ev.data_len, record, o)) {
		case EVENT_MAPPED:
			k->mapped++;
			break;
		case EVENT_IGNORED:
			k->ignored++;
			break;
		case EVENT_CONNECTED:
			k->connected++;
			break;
		case EVENT_HEARTBEAT:
			k->heartbeat++;
			break;
		case EVENT_INVALID:
			k->invalid++;
			break;
		}
	}
	sse_parser_free(&p);
	free(buf);
	/* Every real event is understood. */
	assert_int_equal(k->invalid, 0);
	assert_int_equal(k->connected, 1);
}

static void
run(const char *name, struct out *o, struct kinds *k)
{
	struct event_mapper	*m;
	const struct event_stats *st;

	assert_non_null(m = event_mapper_new());
	map_fixture(m, name, o, k);
	st = event_mapper_stats(m);
	assert_int_equal(st->mapped, k->mapped);
	assert_int_equal(st->ignored, k->ignored);
	assert_int_equal(st->invalid, 0);
	assert_int_equal(st->connected, 1);
	assert_int_equal(st->emitted, o->n);
	event_mapper_free(m);
}

static char *
concat_tokens(const struct out *o)
{
	size_t	 i, len = 0;
	char	*s;

	for (i = 0; i < o->n; i++)
		if (code_of(o->msg[i]) == 'T')
			len += strlen(o->msg[i]->token->delta);
	s = malloc(len + 1);
	assert_non_null(s);
	len = 0;
	for (i = 0; i < o->n; i++)
		if (code_of(o->msg[i]) == 'T') {
			size_t dl = strlen(o->msg[i]->token->delta);

			memcpy(s + len, o->msg[i]->token->delta, dl);
			len += dl;
		}
	s[len] = '\0';
	return s;
}

/* ---- the captures ---- */

static void
test_text(void **state)
{
	struct out				 o = { 0 };
	struct kinds				 k;
	const Opencode__ServerMessage		*m;
	const Opencode__ChatCompleted		*cc;
	char					*s;
	size_t					 i;

	(void)state;
	run("sse-text.txt", &o, &k);
	assert_string_equal(o.v1, "CUUSUSUTTTTTTXSSIU");
	assert_int_equal(k.events, 31);
	/* Every event but server.connected maps; one gives M and X. */
	assert_int_equal(k.mapped, 30);
	assert_int_equal(count(&o, 'T'), 6);
	s = concat_tokens(&o);
	assert_string_equal(s, "Hello from the mock language model.");
	free(s);
	for (i = 0; i < 6; i++) {
		m = nth(&o, 'T', i);
		assert_string_equal(m->token->session_id,
		    "ses_de9d9dd34ffervjM6BvxQjuyqi");
		assert_string_equal(m->token->message_id,
		    "msg_216262588001q3VujcXqF77pVu");
		assert_string_equal(m->token->part_id,
		    "prt_2162626f0001PDqpN9fe8vUGKY");
	}
	assert_string_equal(nth(&o, 'T', 0)->token->delta, "Hello ");
	cc = nth(&o, 'X', 0)->completed;
	assert_string_equal(cc->session_id, "ses_de9d9dd34ffervjM6BvxQjuyqi");
	assert_string_equal(cc->message_id, "msg_216262588001q3VujcXqF77pVu");
	assert_string_equal(cc->finish, "stop");
	assert_int_equal(cc->input_tokens, 120);
	assert_int_equal(cc->output_tokens, 6);
	assert_string_equal(cc->error, "");

	m = nth(&o, 'C', 0);
	assert_string_equal(m->session_event->info->id,
	    "ses_de9d9dd34ffervjM6BvxQjuyqi");
	assert_int_equal(m->session_event->info->_title_case,
	    OPENCODE__SESSION_INFO___TITLE_TITLE);
	assert_string_equal(m->session_event->info->title,
	    "New session - 2026-11-26T04:38:47.756Z");
	assert_int_equal(m->session_event->info->created_at, 1795667927756LL);
	assert_int_equal(m->session_event->info->updated_at, 1795667927756LL);
	/* The server names the session on the first prompt. */
	assert_string_equal(nth(&o, 'U', 2)->session_event->info->title,
	    "Mock session title");
	assert_string_equal(nth(&o, 'S', 0)->session_event->status, "busy");
	assert_string_equal(nth(&o, 'S', 3)->session_event->status, "idle");
	assert_string_equal(nth(&o, 'I', 0)->session_event->session_id,
	    "ses_de9d9dd34ffervjM6BvxQjuyqi");
	out_free(&o);
}

static void
test_tool(void **state)
{
	static const char *const status[] = { "pending", "running", "completed" };
	struct out			 o = { 0 };
	struct kinds			 k;
	const Opencode__ToolCallEvent	*tc;
	const Opencode__ChatCompleted	*cc;
	char				*s;
	size_t				 i;

	(void)state;
	run("sse-tool.txt", &o, &k);
	assert_string_equal(o.v1, "CUUSSUKKKXSUSTTTTXSSIU");
	for (i = 0; i < 3; i++) {
		tc = nth(&o, 'K', i)->tool_call;
		assert_string_equal(tc->status, status[i]);
		assert_string_equal(tc->tool, "read");
		assert_string_equal(tc->call_id, "call_mock_0005");
		assert_string_equal(tc->session_id,
		    "ses_de9d9cc0cffehGld5NiPkdFvkF");
		assert_string_equal(tc->message_id,
		    "msg_2162637d3001D3oiM0PZUN3pqM");
		assert_string_equal(tc->part_id,
		    nth(&o, 'K', 0)->tool_call->part_id);
		assert_string_equal(tc->error, "");
	}
	tc = nth(&o, 'K', 0)->tool_call;
	assert_string_equal(tc->input_json, "{}");
	assert_string_equal(tc->title, "");
	assert_string_equal(tc->output, "");
	tc = nth(&o, 'K', 1)->tool_call;
	assert_string_equal(tc->input_json, "{\"filePath\":\"hello.txt\"}");
	assert_string_equal(tc->output, "");
	tc = nth(&o, 'K', 2)->tool_call;
	assert_string_equal(tc->input_json, "{\"filePath\":\"hello.txt\"}");
	assert_string_equal(tc->title, "hello.txt");
	assert_non_null(strstr(tc->output, "/home/user/project/hello.txt"));
	assert_non_null(strstr(tc->output, "hello from the ocbroker probe project"));
	assert_false(tc->truncated);

	/* Two assistant messages: 120/4 + 140/4 (README, token mapping). */
	cc = nth(&o, 'X', 0)->completed;
	assert_string_equal(cc->message_id, "msg_2162637d3001D3oiM0PZUN3pqM");
	assert_string_equal(cc->finish, "tool-calls");
	assert_int_equal(cc->input_tokens, 120);
	assert_int_equal(cc->output_tokens, 4);
	cc = nth(&o, 'X', 1)->completed;
	assert_string_equal(cc->message_id, "msg_216263a96001SKCFNDr8w9qs3X");
	assert_string_equal(cc->finish, "stop");
	assert_int_equal(cc->input_tokens, 140);
	assert_int_equal(cc->output_tokens, 4);
	s = concat_tokens(&o);
	assert_string_equal(s, "The tool call finished; this is the mock's answer.");
	free(s);
	for (i = 0; i < 4; i++)
		assert_string_equal(nth(&o, 'T', i)->token->message_id,
		    "msg_216263a96001SKCFNDr8w9qs3X");
	out_free(&o);
}

static void
test_permission(void **state)
{
	static const char *const status[] = { "pending", "running", "running",
	    "running", "completed" };
	static const char *const output[] = { "", "", "",
	    "hello from the mock\n", "hello from the mock\n" };
	struct out			 o = { 0 };
	struct kinds			 k;
	const Opencode__PermissionRequest *pr;
	const Opencode__ToolCallEvent	*tc;
	size_t				 i;

	(void)state;
	run("sse-permission.txt", &o, &k);
	assert_string_equal(o.v1, "CUUSUSKKPKKKXSUSTTTTXSSIU");
	pr = nth(&o, 'P', 0)->permission_request;
	assert_string_equal(pr->session_id, "ses_de9d9baa3ffe6SsOQyL6OP9AJP");
	assert_string_equal(pr->permission_id, "per_216264a5a001SZP3O5Om9g1xn2");
	assert_string_equal(pr->permission, "bash");
	assert_int_equal(pr->n_patterns, 1);
	assert_string_equal(pr->patterns[0], "echo hello from the mock");
	assert_string_equal(pr->message_id, "msg_21626484f001xcMbZ0W2yhhjY3");
	assert_string_equal(pr->call_id, "call_mock_0007");
	assert_string_equal(pr->metadata_json,
	    "{\"command\":\"echo hello from the mock\"}");
	for (i = 0; i < 5; i++) {
		tc = nth(&o, 'K', i)->tool_call;
		assert_string_equal(tc->tool, "bash");
		assert_string_equal(tc->call_id, "call_mock_0007");
		assert_string_equal(tc->status, status[i]);
		/* Running bash streams metadata.output; completed has output. */
		assert_string_equal(tc->output, output[i]);
	}
	assert_string_equal(nth(&o, 'K', 1)->tool_call->input_json,
	    "{\"command\":\"echo hello from the mock\","
	    "\"description\":\"Print a greeting\"}");
	assert_string_equal(nth(&o, 'K', 4)->tool_call->title,
	    "echo hello from the mock");
	assert_int_equal(count(&o, 'X'), 2);
	out_free(&o);

	run("sse-permission-reject.txt", &o, &k);
	assert_string_equal(o.v1, "CUUSUSKPKKXSIU");
	tc = nth(&o, 'K', 2)->tool_call;
	assert_string_equal(tc->status, "error");
	assert_string_equal(tc->error,
	    "The user rejected permission to use this specific tool call.");
	assert_string_equal(nth(&o, 'P', 0)->permission_request->permission_id,
	    "per_216265ce1001662Y9m56RK1l4W");
	assert_string_equal(nth(&o, 'X', 0)->completed->finish, "tool-calls");
	out_free(&o);
}

static void
test_abort(void **state)
{
	struct event_mapper		*m;
	struct out			 o = { 0 };
	struct kinds			 k;
	const Opencode__ChatCompleted	*cc;
	const Opencode__SessionEvent	*se;
	char				*s;

	(void)state;
	run("sse-abort.txt", &o, &k);
	assert_string_equal(o.v1, "CUUSUSTTTESIXSI");
	s = concat_tokens(&o);
	assert_string_equal(s, "tick1 tick2 tick3 ");
	free(s);
	assert_int_equal(count(&o, 'X'), 1);
	cc = nth(&o, 'X', 0)->completed;
	assert_string_equal(cc->message_id, "msg_216266b58001yX93srUzPtrsMo");
	assert_string_equal(cc->error, "MessageAbortedError");
	assert_string_equal(cc->finish, "");
	assert_int_equal(cc->input_tokens, 0);
	assert_int_equal(cc->output_tokens, 0);
	se = nth(&o, 'E', 0)->session_event;
	assert_string_equal(se->session_id, "ses_de9d997ceffe562ZA3dhHlShtT");
	assert_string_equal(se->error_name, "MessageAbortedError");
	assert_string_equal(se->error_message, "Aborted");
	assert_null(se->info);
	out_free(&o);

	/* The same stream again (the server re-sends): no second completion. */
	assert_non_null(m = event_mapper_new());
	map_fixture(m, "sse-abort.txt", &o, &k);
	assert_int_equal(count(&o, 'X'), 1);
	out_free(&o);
	map_fixture(m, "sse-abort.txt", &o, &k);
	assert_string_equal(o.v1, "CUUSUSTTTESISI");
	assert_int_equal(event_mapper_stats(m)->duplicates, 1);
	out_free(&o);
	event_mapper_free(m);

	run("sse-abort-idle.txt", &o, &k);
	assert_string_equal(o.v1, "SI");
	assert_string_equal(nth(&o, 'S', 0)->session_event->status, "idle");
	out_free(&o);
}

/* The text of the finished text part, read from the transcript itself. */
static char *
final_text(const char *name, const char *message_id)
{
	struct sse_parser	 p;
	struct sse_event	 ev;
	struct arena		 a;
	struct json		*j;
	uint8_t			*buf;
	size_t			 len, off = 0, used;
	char			*text = NULL, *s;
	int			 part, tm;

	buf = fx_load(name, &len);
	sse_parser_init(&p);
	arena_init(&a);
	while (sse_parser_feed(&p, buf + off, len - off, &used, &ev) ==
	    SSE_EVENT) {
		off += used;
		assert_int_equal(json_parse(ev.data, ev.data_len, &j), 0);
		part = json_obj_get(j, json_obj_get(j, 0, "properties"), "part");
		tm = json_obj_get(j, part, "time");
		if (json_str_eq(j, json_obj_get(j, 0, "type"),
		    "message.part.updated") &&
		    json_str_eq(j, json_obj_get(j, part, "type"), "text") &&
		    json_str_eq(j, json_obj_get(j, part, "messageID"),
		    message_id) &&
		    json_obj_get(j, tm, "end") != -1) {
			assert_int_equal(json_get_str(j,
			    json_obj_get(j, part, "text"), &a, &s), 0);
			assert_null(text);
			text = strdup(s);
		}
		json_free(j);
	}
	arena_free(&a);
	sse_parser_free(&p);
	free(buf);
	assert_non_null(text);
	return text;
}

static void
test_many(void **state)
{
	struct out	 o = { 0 };
	struct kinds	 k;
	char		 want[2048 + 16], *s, *text;
	size_t		 i;

	(void)state;
	run("sse-many.txt", &o, &k);
	memcpy(want, "CUUSUS", 6);
	memset(want + 6, 'T', 2000);
	memcpy(want + 2006, "XSSIU", 6);
	assert_string_equal(o.v1, want);
	assert_int_equal(count(&o, 'T'), 2000);
	s = concat_tokens(&o);
	text = final_text("sse-many.txt", nth(&o, 'T', 0)->token->message_id);
	assert_true(strlen(text) > 2000);
	assert_string_equal(s, text);
	for (i = 0; i < 2000; i++)
		assert_string_equal(nth(&o, 'T', i)->token->part_id,
		    nth(&o, 'T', 0)->token->part_id);
	free(s);
	free(text);
	out_free(&o);
}

static void
test_sessions(void **state)
{
	struct out			 o = { 0 };
	struct kinds			 k;
	const Opencode__SessionEvent	*se;

	(void)state;
	run("sse-sessions.txt", &o, &k);
	assert_string_equal(o.v1, "CUD");
	se = nth(&o, 'C', 0)->session_event;
	assert_string_equal(se->kind, "created");
	assert_string_equal(se->session_id, "ses_de9da0d54ffehULAtvbJczpmni");
	assert_string_equal(se->info->id, "ses_de9da0d54ffehULAtvbJczpmni");
	assert_string_equal(se->info->title, "fixture session");
	se = nth(&o, 'U', 0)->session_event;
	assert_string_equal(se->info->title, "fixture session (renamed)");
	/* PATCH did not change time.updated (README). */
	assert_int_equal(se->info->updated_at,
	    nth(&o, 'C', 0)->session_event->info->updated_at);
	se = nth(&o, 'D', 0)->session_event;
	assert_string_equal(se->kind, "deleted");
	assert_string_equal(se->info->title, "fixture session (renamed)");
	out_free(&o);
}

static void
test_retry(void **state)
{
	static const char *const st[] = { "busy", "busy", "retry", "busy",
	    "retry", "idle" };
	struct out			 o = { 0 };
	struct kinds			 k;
	const Opencode__SessionEvent	*se;
	const Opencode__ChatCompleted	*cc;
	size_t				 i;

	(void)state;
	run("sse-retry.txt", &o, &k);
	assert_string_equal(o.v1, "CUUSUSSSSXSI");
	for (i = 0; i < 6; i++) {
		se = nth(&o, 'S', i)->session_event;
		assert_string_equal(se->status, st[i]);
		if (strcmp(st[i], "retry") == 0) {
			assert_int_equal(se->attempt, i == 2 ? 1 : 2);
			assert_string_equal(se->error_message,
			    "mock error 500 (requested by the prompt)");
		} else {
			assert_int_equal(se->attempt, 0);
			assert_string_equal(se->error_message, "");
		}
	}
	/* Aborted during retries: completed without finish or error. */
	cc = nth(&o, 'X', 0)->completed;
	assert_string_equal(cc->finish, "");
	assert_string_equal(cc->error, "");
	out_free(&o);
}

static void
test_errors(void **state)
{
	struct out			 o = { 0 };
	struct kinds			 k;
	const Opencode__SessionEvent	*se;

	(void)state;
	run("sse-error.txt", &o, &k);
	assert_string_equal(o.v1, "CUUSSUESIXSI");
	se = nth(&o, 'E', 0)->session_event;
	assert_string_equal(se->error_name, "APIError");
	assert_string_equal(se->error_message,
	    "mock error 400 (requested by the prompt)");
	assert_string_equal(nth(&o, 'X', 0)->completed->error, "APIError");
	out_free(&o);

	/* The second error carries a stack trace: only its first line stays. */
	run("sse-bad-agent.txt", &o, &k);
	assert_string_equal(o.v1, "CEE");
	se = nth(&o, 'E', 0)->session_event;
	assert_string_equal(se->error_name, "UnknownError");
	assert_string_equal(se->error_message, "Agent not found: "
	    "\"no-such-agent\". Available agents: build, explore, general, plan");
	se = nth(&o, 'E', 1)->session_event;
	assert_string_equal(se->error_message, "UnknownError: UnknownError");
	out_free(&o);

	run("sse-bad-model.txt", &o, &k);
	assert_string_equal(o.v1, "CUUSESIE");
	assert_string_equal(nth(&o, 'E', 1)->session_event->error_message,
	    "ProviderModelNotFoundError: Model not found: nope/x. "
	    "Did you mean: standardcompute?");
	out_free(&o);
}

static void
test_other_fixtures(void **state)
{
	/* in: the capture, want: its v1 sequence. */
	static const struct str_case fx[] = {
		{ "sse-first-prompt.txt", "CUUSUUSTTTTTTXSSIU" },
		{ "sse-queued.txt", "CUUSSUTUTTTXSUSTTTTTTXSSIU" },
		{ "sse-auth.txt", "" },
		{ "sse-reconnect-1.txt", "" },
		{ "sse-reconnect-2.txt", "" },
		{ "sse-server-sigterm.txt", "" },
		{ "sse-server-sigkill.txt", "" },
	};
	struct event_mapper		*m;
	const struct event_stats	*st;
	struct out			 o = { 0 };
	struct kinds			 k;
	size_t				 i;
	int				 plugins = 0;

	(void)state;
	for (i = 0; i < NCASES(fx); i++) {
		run(fx[i].in, &o, &k);
		assert_string_equal(o.v1, fx[i].want);
		/* Of these, only the second reconnect has a heartbeat. */
		assert_int_equal(k.heartbeat,
		    strcmp(fx[i].in, "sse-reconnect-2.txt") == 0);
		out_free(&o);
	}

	/* Ignored events are counted by type. */
	assert_non_null(m = event_mapper_new());
	map_fixture(m, "sse-first-prompt.txt", &o, &k);
	out_free(&o);
	st = event_mapper_stats(m);
	for (i = 0; i < st->n_ignored_types; i++) {
		if (strcmp(st->ignored_types[i].name, "plugin.added") == 0) {
			assert_int_equal(st->ignored_types[i].count, 45);
			plugins = 1;
		}
		if (strcmp(st->ignored_types[i].name, "catalog.updated") == 0)
			assert_int_equal(st->ignored_types[i].count, 2);
	}
	assert_true(plugins);
	assert_int_equal(st->ignored_other, 0);
	event_mapper_free(m);
}

/* ---- the walk of message.part.delta against the full way ---- */

/* Every kind returned and every message emitted, as bytes. */
struct trace {
	uint8_t	*buf;
	size_t	 len, cap;
};

static void
trace_add(struct trace *t, const void *p, size_t n)
{
	if (t->len + n > t->cap) {
		t->cap = (t->len + n) * 2 + 256;
		t->buf = realloc(t->buf, t->cap);
		assert_non_null(t->buf);
	}
	memcpy(t->buf + t->len, p, n);
	t->len += n;
}

static void
trace_emit(void *arg, const char *sid, const uint8_t *msg, size_t len)
{
	struct trace	*t = arg;

	trace_add(t, "M", 1);
	trace_add(t, sid, strlen(sid) + 1);
	trace_add(t, &len, sizeof(len));
	trace_add(t, msg, len);
}

/* Maps data[0..len) with both mappers; each keeps its own trace. */
static void
both_map(struct event_mapper *fast, struct event_mapper *slow,
    struct trace *tf, struct trace *ts, const char *data, size_t len)
{
	enum event_kind	kf, ks;

	kf = event_map(fast, data, len, trace_emit, tf);
	ks = event_map(slow, data, len, trace_emit, ts);
	trace_add(tf, &kf, sizeof(kf));
	trace_add(ts, &ks, sizeof(ks));
	if (kf != ks || tf->len != ts->len ||
	    memcmp(tf->buf, ts->buf, tf->len) != 0)
		fail_msg("the walk and the full way differ (%d, %d) on "
		    "%.*s", (int)kf, (int)ks, (int)(len > 300 ? 300 : len),
		    data);
}

/*
 * token_wire writes protobuf-c's bytes for ServerMessage{token}: strings of
 * every length where a varint gains a byte (the field's and the token's),
 * empty and NULL ones (left out), in 2000 seeded mixes; and with too small
 * a buffer it only tells the size.
 */
static void
test_token_wire(void **state)
{
	static const size_t lens[] = { 0, 1, 2, 59, 60, 61, 126, 127, 128,
	    129, 200, 16371, 16383, 16384, 16385, 2097151, 2097152 };
	const size_t nlens = sizeof(lens) / sizeof(lens[0]);
	Opencode__ServerMessage sm = OPENCODE__SERVER_MESSAGE__INIT;
	Opencode__ChatToken tk = OPENCODE__CHAT_TOKEN__INIT;
	char *str[5], **f[5] = { &tk.session_id, &tk.message_id, &tk.part_id,
	    &tk.delta, &tk.kind };
	uint8_t *want, *got;
	size_t cap = 6 * 2097152 + 64, n, wn;
	uint32_t seed = 7;

	(void)state;
	sm.payload_case = OPENCODE__SERVER_MESSAGE__PAYLOAD_TOKEN;
	sm.token = &tk;
	assert_non_null(want = malloc(cap));
	assert_non_null(got = malloc(cap));
	for (int i = 0; i < 5; i++) {
		assert_non_null(str[i] = malloc(2097152 + 1));
		memset(str[i], 'a' + i, 2097152);
	}
	for (int round = 0; round < 2000; round++) {
		for (int i = 0; i < 5; i++) {
			size_t len;

			seed = seed * 1103515245u + 12345u;
			/* Mostly short ones: the large ones cost memcpy. */
			len = lens[(seed >> 16) % (round < 1900 ? 11 : nlens)];
			if (len == 0 && (seed >> 8) % 2 == 0) {
				*f[i] = NULL;
				continue;
			}
			/* A NUL where the string ends; restored below. */
			str[i][len] = '\0';
			*f[i] = str[i];
		}
		wn = opencode__server_message__get_packed_size(&sm);
		assert_int_equal(opencode__server_message__pack(&sm, want), wn);
		n = token_wire_pack(&tk, got, cap);
		assert_int_equal(n, wn);
		assert_memory_equal(got, want, wn);
		/* One byte short: the size, and nothing written. */
		memset(got, 0x5a, wn);
		assert_int_equal(token_wire_pack(&tk, got, wn - 1), wn);
		n = 0;
		for (size_t k = 0; k < wn; k++)
			n += got[k] != 0x5a;
		assert_int_equal(n, 0);
		for (int i = 0; i < 5; i++)
			if (*f[i] != NULL)
				str[i][strlen(*f[i])] = (char)('a' + i);
	}
	for (int i = 0; i < 5; i++)
		free(str[i]);
	free(want);
	free(got);
}

#define DP(rest)	"{\"type\":\"message.part.delta\",\"properties\":{" \
			"\"sessionID\":\"ses_1\",\"messageID\":\"msg_1\"," \
			"\"partID\":\"prt_1\",\"field\":\"text\"," rest "}}"

/*
 * What delta_fast() (events.c) takes must map exactly as the full way,
 * and what it leaves goes the full way: every capture, then odd shapes,
 * then every prefix of a delta, through a mapper with the walk and one
 * without it.
 */
static void
test_delta_walk_same(void **state)
{
	static const char *const fixtures[] = {
		"sse-text.txt", "sse-reasoning.txt", "sse-tool.txt",
		"sse-many.txt", "sse-queued.txt", "sse-command.txt",
		"sse-file.txt", "sse-edit.txt", "sse-summarize.txt",
		"sse-first-prompt.txt", "sse-permission.txt",
	};
	static const char *const odd[] = {
		DP("\"delta\":\"word \""),
		DP("\"delta\":\"\""),
		DP("\"delta\":\"\\u00e9\\ud83d\\ude00\\u0000\\udc00\""),
		DP("\"delta\":\"\xff\xfe bad utf-8\""),
		DP("\"delta\":\"a\001\""),
		DP("\"delta\":5"),
		DP("\"delta\":null"),
		DP("\"delta\":\"x\",\"delta\":\"second\""),
		DP("\"delta\":\"x\",\"sessionID\":\"ses_2\""),
		DP("\"delta\":\"x\",\"n\":01"),
		DP("\"delta\":\"x\",\"n\":-1.5e3,\"b\":true,\"z\":null"),
		DP("\"delta\":\"x\",\"o\":{\"a\":[1,2]}"),
		DP("\"delta\":\"x\",\"o\":{\"a\" 1}"),
		DP("\"delta\":\"x\",\"s\":\"a\001\""),
		DP("\"delta\":\"x\",\"s\":\"\\q\""),
		DP("\"delt\\u0061\":\"escaped key\""),
		"{\"type\":\"message.part.delta\",\"properties\":{"
		    "\"sessionID\":\"\",\"sessionID\":\"ses_1\","
		    "\"messageID\":\"msg_1\",\"partID\":\"prt_1\","
		    "\"field\":\"text\",\"delta\":\"x\"}}",
		"{\"type\":\"message.part.delt\\u0061\",\"properties\":{"
		    "\"sessionID\":\"ses_1\",\"messageID\":\"msg_1\","
		    "\"partID\":\"prt_1\",\"field\":\"text\",\"delta\":\"x\"}}",
		"{\"type\":\"message.part.delta\",\"properties\":{"
		    "\"sessionID\":\"ses_1\",\"messageID\":\"msg_1\","
		    "\"partID\":\"prt_1\",\"field\":\"te\\u0078t\","
		    "\"delta\":\"x\"}}",
		"{\"type\":\"message.part.delta\",\"properties\":{"
		    "\"sessionID\":\"ses_1\",\"messageID\":\"msg_1\","
		    "\"partID\":\"prt_1\",\"field\":\"reasoning\","
		    "\"delta\":\"x\"}}",
		"{\"properties\":{\"sessionID\":\"ses_1\",\"messageID\":"
		    "\"msg_1\",\"partID\":\"prt_1\",\"field\":\"text\","
		    "\"delta\":\"x\"},\"type\":\"message.part.delta\"}",
		"{\"type\":\"message.part.delta\",\"type\":\"session.idle\","
		    "\"properties\":{\"sessionID\":\"ses_1\",\"messageID\":"
		    "\"msg_1\",\"partID\":\"prt_1\",\"field\":\"text\","
		    "\"delta\":\"x\"}}",
		"{\"type\":\"session.idle\",\"type\":\"message.part.delta\","
		    "\"properties\":{\"sessionID\":\"ses_1\"}}",
		"{\"type\":\"message.part.delta\",\"properties\":\"x\","
		    "\"properties\":{\"sessionID\":\"ses_1\",\"messageID\":"
		    "\"msg_1\",\"partID\":\"prt_1\",\"field\":\"text\","
		    "\"delta\":\"x\"}}",
		"{\"type\":\"message.part.delta\",\"properties\":{"
		    "\"sessionID\":\"ses_1\",\"messageID\":\"msg_1\","
		    "\"partID\":\"prt_1\",\"field\":\"text\",\"delta\":\"x\"},"
		    "\"properties\":{}}",
		"{\"meta\":{\"a\":1},\"type\":\"message.part.delta\","
		    "\"properties\":{\"sessionID\":\"ses_1\",\"messageID\":"
		    "\"msg_1\",\"partID\":\"prt_1\",\"field\":\"text\","
		    "\"delta\":\"x\"}}",
		DP("\"delta\":\"x\"") " ",
		DP("\"delta\":\"x\"") " x",
		DP("\"delta\":\"x\"") "}",
		"[" DP("\"delta\":\"x\"") "]",
	};
	struct event_mapper	*fast, *slow;
	struct trace		 tf = { 0 }, ts = { 0 };
	struct sse_parser	 p;
	struct sse_event	 ev;
	const char		*d;
	uint8_t			*buf;
	size_t			 i, len, off, used, n;
	uint64_t		 walked;

	(void)state;
	assert_non_null(fast = event_mapper_new());
	assert_non_null(slow = event_mapper_new());
	event_mapper_slow_only(slow, 1);
	for (i = 0; i < NCASES(fixtures); i++) {
		buf = fx_load(fixtures[i], &len);
		sse_parser_init(&p);
		for (off = 0; sse_parser_feed(&p, buf + off, len - off, &used,
		    &ev) == SSE_EVENT; off += used)
			both_map(fast, slow, &tf, &ts, ev.data, ev.data_len);
		sse_parser_free(&p);
		free(buf);
	}
	walked = event_mapper_stats(fast)->walked;
	/* The captures' deltas took the walk (sse-many alone has 2000). */
	assert_true(walked >= 2000);
	assert_int_equal(event_mapper_stats(slow)->walked, 0);

	for (i = 0; i < NCASES(odd); i++)
		both_map(fast, slow, &tf, &ts, odd[i], strlen(odd[i]));
	d = odd[0];
	n = strlen(d);
	for (len = 0; len < n; len++)
		both_map(fast, slow, &tf, &ts, d, len);
	print_message("%llu of the events took the walk\n",
	    (unsigned long long)event_mapper_stats(fast)->walked);
	assert_true(event_mapper_stats(fast)->walked > walked);
	assert_int_equal(event_mapper_stats(fast)->mapped,
	    event_mapper_stats(slow)->mapped);
	assert_int_equal(event_mapper_stats(fast)->invalid,
	    event_mapper_stats(slow)->invalid);
	assert_int_equal(event_mapper_stats(fast)->ignored,
	    event_mapper_stats(slow)->ignored);
	free(tf.buf);
	free(ts.buf);
	event_mapper_free(fast);
	event_mapper_free(slow);
}

/* ---- hostile event data ---- */

static enum event_kind
map1(struct event_mapper *m, const char *json, struct out *o)
{
	return event_map(m, json, strlen(json), record, o);
}

#define DELTA(props)	"{\"id\":\"evt_1\",\"type\":\"message.part.delta\"," \
			"\"properties\":{" props "}}"

static void
test_malformed(void **state)
{
	static const char *const bad[] = {
		"",
		"   ",
		"{",
		"{\"type\":\"message.part.delta\",\"properties\":{\"sessionID\"",
		"[]",
		"\"message.part.delta\"",
		"42",
		"null",
		"{}",
		"{\"type\":5,\"properties\":{}}",
		"{\"type\":null}",
		"{\"type\":[\"server.connected\"]}",
		"{\"type\":\"message.part.delta\"}",
		"{\"type\":\"message.part.delta\",\"properties\":[]}",
		"{\"type\":\"message.part.delta\",\"properties\":\"x\"}",
		/* wrong types */
		DELTA("\"sessionID\":\"ses_1\",\"messageID\":\"msg_1\","
		    "\"partID\":\"prt_1\",\"field\":\"text\",\"delta\":5"),
		DELTA("\"sessionID\":\"ses_1\",\"messageID\":\"msg_1\","
		    "\"partID\":7,\"field\":\"text\",\"delta\":\"x\""),
		DELTA("\"sessionID\":\"ses_1\",\"messageID\":\"msg_1\","
		    "\"partID\":\"prt_1\",\"field\":1,\"delta\":\"x\""),
		/* missing fields */
		DELTA("\"messageID\":\"msg_1\",\"partID\":\"prt_1\","
		    "\"field\":\"text\",\"delta\":\"x\""),
		DELTA("\"sessionID\":\"ses_1\",\"messageID\":\"msg_1\","
		    "\"field\":\"text\",\"delta\":\"x\""),
		DELTA("\"sessionID\":\"ses_1\",\"partID\":\"prt_1\","
		    "\"field\":\"text\",\"delta\":\"x\""),
		DELTA("\"sessionID\":\"ses_1\",\"messageID\":\"msg_1\","
		    "\"partID\":\"prt_1\",\"field\":\"text\""),
		DELTA("\"sessionID\":\"\",\"messageID\":\"msg_1\","
		    "\"partID\":\"prt_1\",\"field\":\"text\",\"delta\":\"x\""),
		/* a raw control character in a string */
		DELTA("\"sessionID\":\"ses_1\",\"messageID\":\"msg_1\","
		    "\"partID\":\"prt_1\",\"field\":\"text\",\"delta\":\"a\001\""),
		/* trailing garbage, a bad literal */
		DELTA("\"sessionID\":\"ses_1\"") "x",
		"{\"type\":\"session.idle\",\"properties\":{\"sessionID\":nul}}",
		"{\"type\":\"session.idle\",\"properties\":{}}",
		"{\"type\":\"session.idle\",\"properties\":{\"sessionID\":{}}}",
		"{\"type\":\"session.status\",\"properties\":"
		    "{\"sessionID\":\"ses_1\",\"status\":\"busy\"}}",
		"{\"type\":\"session.status\",\"properties\":"
		    "{\"sessionID\":\"ses_1\",\"status\":{\"type\":\"retry\","
		    "\"attempt\":1.5}}}",
		"{\"type\":\"session.created\",\"properties\":"
		    "{\"sessionID\":\"ses_1\",\"info\":{\"id\":\"ses_1\"}}}",
		"{\"type\":\"session.created\",\"properties\":"
		    "{\"sessionID\":\"ses_1\",\"info\":{\"id\":\"ses_1\","
		    "\"time\":{\"created\":\"x\",\"updated\":1}}}}",
		"{\"type\":\"session.error\",\"properties\":{\"error\":\"boom\"}}",
		"{\"type\":\"message.updated\",\"properties\":{\"info\":5}}",
		"{\"type\":\"message.updated\",\"properties\":{\"info\":"
		    "{\"role\":\"assistant\",\"id\":\"msg_1\",\"sessionID\":"
		    "\"ses_1\",\"time\":{\"completed\":\"soon\"}}}}",
		"{\"type\":\"message.updated\",\"properties\":{\"info\":"
		    "{\"role\":\"assistant\",\"id\":\"msg_1\",\"sessionID\":"
		    "\"ses_1\",\"time\":{\"completed\":1},\"tokens\":"
		    "{\"input\":\"x\"}}}}",
		"{\"type\":\"message.updated\",\"properties\":{\"info\":"
		    "{\"role\":\"assistant\",\"sessionID\":\"ses_1\","
		    "\"time\":{\"completed\":1}}}}",
		"{\"type\":\"message.part.updated\",\"properties\":{\"part\":"
		    "{\"type\":\"tool\",\"id\":\"prt_1\",\"messageID\":\"msg_1\","
		    "\"sessionID\":\"ses_1\",\"callID\":\"c\",\"tool\":\"bash\"}}}",
		"{\"type\":\"permission.asked\",\"properties\":{\"id\":\"per_1\","
		    "\"sessionID\":\"ses_1\",\"permission\":\"bash\","
		    "\"patterns\":[\"a\",1]}}",
		"{\"type\":\"permission.asked\",\"properties\":{\"id\":\"per_1\","
		    "\"sessionID\":\"ses_1\",\"permission\":\"bash\","
		    "\"patterns\":\"a\"}}",
		"{\"type\":\"permission.asked\",\"properties\":{\"id\":\"per_1\","
		    "\"sessionID\":\"ses_1\",\"permission\":\"bash\","
		    "\"tool\":\"x\"}}",
		"{\"type\":\"message.updated\",\"properties\":{\"info\":"
		    "{\"role\":5}}}",
		"{\"type\":\"message.updated\",\"properties\":{\"info\":"
		    "{\"role\":\"assistant\",\"time\":5}}}",
		"{\"type\":\"message.part.updated\",\"properties\":{\"part\":"
		    "{\"type\":\"tool\",\"id\":\"prt_1\",\"messageID\":\"msg_1\","
		    "\"sessionID\":\"ses_1\",\"callID\":\"c\",\"tool\":\"bash\","
		    "\"state\":{\"status\":\"completed\",\"output\":5}}}}",
		"{\"type\":\"message.part.updated\",\"properties\":{\"part\":"
		    "{\"type\":7}}}",
		"{\"type\":\"session.deleted\",\"properties\":"
		    "{\"sessionID\":\"ses_1\",\"info\":{\"title\":\"t\","
		    "\"time\":{\"created\":1,\"updated\":2}}}}",
	};
	struct event_mapper	*m;
	struct out		 o = { 0 };
	size_t			 i;

	(void)state;
	assert_non_null(m = event_mapper_new());
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (map1(m, bad[i], &o) != EVENT_INVALID)
			fail_msg("bad[%zu] is not invalid: %s", i, bad[i]);
	assert_int_equal(o.n, 0);
	assert_int_equal(event_mapper_stats(m)->invalid,
	    sizeof(bad) / sizeof(bad[0]));
	assert_int_equal(event_mapper_stats(m)->mapped, 0);

	/* Not NUL-terminated, and a length that stops early. */
	assert_int_equal(event_map(m, "{\"type\":\"server.connected\"}xyz", 27,
	    record, &o), EVENT_CONNECTED);
	assert_int_equal(event_map(m, "{\"type\":\"server.heartbeat\"}", 20,
	    record, &o), EVENT_INVALID);
	out_free(&o);
	event_mapper_free(m);
}

static void
test_deep(void **state)
{
	static const char	 head[] = "{\"type\":\"message.part.delta\","
	    "\"properties\":{\"sessionID\":\"ses_1\",\"messageID\":\"msg_1\","
	    "\"partID\":\"prt_1\",\"field\":\"text\",\"delta\":\"x\",\"d\":";
	struct event_mapper	*m;
	struct out		 o = { 0 };
	size_t			 depth = 100000, n, i;
	char			*s;

	(void)state;
	n = sizeof(head) - 1 + 2 * depth + 2;
	assert_non_null(s = malloc(n + 1));
	memcpy(s, head, sizeof(head) - 1);
	for (i = 0; i < depth; i++) {
		s[sizeof(head) - 1 + i] = '[';
		s[sizeof(head) - 1 + depth + i] = ']';
	}
	memcpy(s + n - 2, "}}", 3);
	assert_non_null(m = event_mapper_new());
	assert_int_equal(map1(m, s, &o), EVENT_INVALID);
	/* Object nesting too. */
	for (i = 0; i < depth; i++)
		s[sizeof(head) - 1 + i] = '{';
	assert_int_equal(map1(m, s, &o), EVENT_INVALID);
	assert_int_equal(o.n, 0);
	free(s);
	event_mapper_free(m);
}

static void
test_utf8(void **state)
{
	struct event_mapper		*m;
	struct out			 o = { 0 };
	const Opencode__ToolCallEvent	*tc;
	struct json			*j;

	(void)state;
	assert_non_null(m = event_mapper_new());
	/* Invalid bytes, a lone surrogate and \u0000 become U+FFFD. */
	assert_int_equal(map1(m, DELTA("\"sessionID\":\"ses_1\","
	    "\"messageID\":\"msg_1\",\"partID\":\"prt_1\",\"field\":\"text\","
	    "\"delta\":\"a\xff" "b\xc3(\\ud800\\u0000\xe2\x82\xac\""), &o),
	    EVENT_MAPPED);
	assert_string_equal(nth(&o, 'T', 0)->token->delta,
	    "a\xef\xbf\xbd" "b\xef\xbf\xbd(\xef\xbf\xbd\xef\xbf\xbd\xe2\x82\xac");
	/* Invalid UTF-8 in the session id, too. */
	assert_int_equal(map1(m, "{\"type\":\"session.idle\",\"properties\":"
	    "{\"sessionID\":\"ses_\xc0\xaf\"}}", &o), EVENT_MAPPED);
	assert_string_equal(o.sid[1], "ses_\xef\xbf\xbd\xef\xbf\xbd");

	/* Tool input: raw text kept, made valid UTF-8 and valid JSON. */
	assert_int_equal(map1(m, "{\"type\":\"message.part.updated\","
	    "\"properties\":{\"part\":{\"type\":\"tool\",\"id\":\"prt_1\","
	    "\"messageID\":\"msg_1\",\"sessionID\":\"ses_1\",\"callID\":\"c1\","
	    "\"tool\":\"bash\",\"state\":{\"status\":\"running\","
	    "\"input\":{\"a\":\"x\xffy\tz\\\"\",\"\xe2\x82\xac\":[1,-2.5e3]}}}}}",
	    &o), EVENT_MAPPED);
	tc = nth(&o, 'K', 0)->tool_call;
	assert_string_equal(tc->input_json,
	    "{\"a\":\"x\xef\xbf\xbdy\\u0009z\\\"\",\"\xe2\x82\xac\":[1,-2.5e3]}");
	assert_int_equal(json_parse(tc->input_json, strlen(tc->input_json), &j),
	    0);
	json_free(j);
	out_free(&o);
	event_mapper_free(m);
}

static void
test_raw_json(void **state)
{
	struct event_mapper		*m;
	struct out			 o = { 0 };
	const Opencode__ToolCallEvent	*tc;

	(void)state;
	assert_non_null(m = event_mapper_new());
	/*
	 * Key order, whitespace and values before "input" that hold every
	 * kind of token; the input's own text comes out exactly.
	 */
	assert_int_equal(map1(m, "{ \"properties\" : { \"part\" : {"
	    " \"state\" : { \"x\" : [ 1 , true , null , -2.5e3 , { \"k\" :"
	    " \"v\\\"]}\" } , [ ] , \"}\" ] , \"status\":\"running\" ,"
	    " \"input\" : { \"cmd\" : \"ls \\\"-l\\\"\" , \"n\" : [1,2] } ,"
	    " \"title\" : \"t\" , \"metadata\" : {\"output\":\"so far\"} } ,"
	    " \"tool\":\"bash\", \"callID\":\"c\", \"messageID\":\"msg_1\","
	    " \"id\":\"prt_1\", \"sessionID\":\"ses_1\", \"type\":\"tool\" } ,"
	    " \"sessionID\" : \"ses_1\" } , \"type\" : \"message.part.updated\""
	    " }", &o), EVENT_MAPPED);
	tc = nth(&o, 'K', 0)->tool_call;
	assert_string_equal(tc->input_json,
	    "{ \"cmd\" : \"ls \\\"-l\\\"\" , \"n\" : [1,2] }");
	assert_string_equal(tc->title, "t");
	assert_string_equal(tc->output, "so far");

	/* A scalar input, and none at all. */
	assert_int_equal(map1(m, "{\"type\":\"message.part.updated\","
	    "\"properties\":{\"part\":{\"type\":\"tool\",\"id\":\"prt_1\","
	    "\"messageID\":\"msg_1\",\"sessionID\":\"ses_1\",\"callID\":\"c\","
	    "\"tool\":\"t\",\"state\":{\"status\":\"pending\","
	    "\"input\":\"a\\u00e9\"}}}}", &o), EVENT_MAPPED);
	assert_string_equal(nth(&o, 'K', 1)->tool_call->input_json,
	    "\"a\\u00e9\"");
	assert_int_equal(map1(m, "{\"type\":\"message.part.updated\","
	    "\"properties\":{\"part\":{\"type\":\"tool\",\"id\":\"prt_1\","
	    "\"messageID\":\"msg_1\",\"sessionID\":\"ses_1\",\"callID\":\"c\","
	    "\"tool\":\"t\",\"state\":{\"status\":\"pending\",\"input\":null,"
	    "\"output\":null}}}}", &o), EVENT_MAPPED);
	assert_string_equal(nth(&o, 'K', 2)->tool_call->input_json, "");

	/* Permission: metadata of any shape, tool optional. */
	assert_int_equal(map1(m, "{\"type\":\"permission.asked\",\"properties\":"
	    "{\"patterns\":[],\"metadata\":[1,{\"a\":\"\\n\"}],\"id\":\"per_1\","
	    "\"permission\":\"edit\",\"sessionID\":\"ses_1\"}}", &o),
	    EVENT_MAPPED);
	assert_string_equal(nth(&o, 'P', 0)->permission_request->metadata_json,
	    "[1,{\"a\":\"\\n\"}]");
	assert_int_equal(nth(&o, 'P', 0)->permission_request->n_patterns, 0);
	assert_string_equal(nth(&o, 'P', 0)->permission_request->call_id, "");
	out_free(&o);
	event_mapper_free(m);
}

static void
test_ignored(void **state)
{
	static const char *const ign[] = {
		"{\"type\":\"no.such.event\"}",
		"{\"type\":\"weird name\\n\"}",
		DELTA("\"sessionID\":\"ses_1\",\"messageID\":\"msg_1\","
		    "\"partID\":\"prt_1\",\"field\":\"reasoning\",\"delta\":\"x\""),
		/* real 1.18.34 types nobody maps */
		"{\"type\":\"file.edited\",\"properties\":{\"file\":\"a\"}}",
		"{\"type\":\"session.compacted\",\"properties\":{}}",
		"{\"type\":\"file.edited\",\"properties\":{\"file\":\"b\"}}",
	};
	struct event_mapper		*m;
	const struct event_stats	*st;
	struct out			 o = { 0 };
	size_t				 i;

	(void)state;
	assert_non_null(m = event_mapper_new());
	for (i = 0; i < sizeof(ign) / sizeof(ign[0]); i++)
		if (map1(m, ign[i], &o) != EVENT_IGNORED)
			fail_msg("ign[%zu] is not ignored: %s", i, ign[i]);
	assert_int_equal(o.n, 0);
	st = event_mapper_stats(m);
	assert_int_equal(st->ignored, sizeof(ign) / sizeof(ign[0]));
	assert_int_equal(st->ignored_other, 1);		/* the weird name */
	assert_string_equal(st->ignored_types[0].name, "no.such.event");
	assert_string_equal(st->ignored_types[1].name, "message.part.delta");
	assert_string_equal(st->ignored_types[2].name, "file.edited");
	assert_int_equal(st->ignored_types[2].count, 2);
	assert_string_equal(st->ignored_types[3].name, "session.compacted");
	assert_int_equal(st->n_ignored_types, 4);

	/* The table is bounded. */
	for (i = 0; i < 2 * EVENT_STATS_TYPES; i++) {
		char	 buf[64];

		snprintf(buf, sizeof(buf), "{\"type\":\"t%zu\"}", i);
		assert_int_equal(map1(m, buf, &o), EVENT_IGNORED);
	}
	assert_int_equal(st->n_ignored_types, EVENT_STATS_TYPES);
	out_free(&o);
	event_mapper_free(m);
}

static void
completed_json(char *buf, size_t size, unsigned id)
{
	snprintf(buf, size, "{\"type\":\"message.updated\",\"properties\":"
	    "{\"sessionID\":\"ses_1\",\"info\":{\"time\":{\"completed\":5,"
	    "\"created\":1},\"tokens\":{\"output\":2,\"input\":1},"
	    "\"finish\":\"stop\",\"id\":\"msg_%06u\",\"role\":\"assistant\","
	    "\"sessionID\":\"ses_1\"}}}",
	    id);
}

/* Maps one event: how many ChatCompleted it emitted (and one MessageInfo). */
static size_t
completions(struct event_mapper *m, const char *json)
{
	struct out	o = { 0 };
	size_t		n;

	assert_int_equal(map1(m, json, &o), EVENT_MAPPED);
	assert_int_equal(count(&o, 'M'), 1);
	n = count(&o, 'X');
	assert_int_equal(o.n, 1 + n);
	if (n == 1)
		assert_string_equal(o.codes, "MX");
	out_free(&o);
	return n;
}

static void
test_completed_once(void **state)
{
	struct event_mapper	*m;
	struct out		 o = { 0 };
	char			 buf[512], longid[EVENT_ID_MAX + 200], big[1024];
	unsigned		 i;

	(void)state;
	assert_non_null(m = event_mapper_new());
	completed_json(buf, sizeof(buf), 0);
	assert_int_equal(map1(m, buf, &o), EVENT_MAPPED);
	assert_int_equal(map1(m, buf, &o), EVENT_MAPPED);
	assert_string_equal(o.codes, "MXM");
	assert_string_equal(o.msg[1]->completed->message_id, "msg_000000");
	assert_string_equal(o.msg[1]->completed->session_id, "ses_1");
	assert_int_equal(o.msg[1]->completed->input_tokens, 1);
	assert_int_equal(o.msg[1]->completed->output_tokens, 2);
	assert_string_equal(o.msg[1]->completed->finish, "stop");
	assert_string_equal(o.msg[2]->message_updated->id, "msg_000000");
	assert_int_equal(o.msg[2]->message_updated->completed_at, 5);
	out_free(&o);

	/* FIFO: after EVENT_COMPLETED_MAX more ids the first one is gone. */
	for (i = 1; i <= EVENT_COMPLETED_MAX; i++) {
		completed_json(buf, sizeof(buf), i);
		assert_int_equal(completions(m, buf), 1);
	}
	completed_json(buf, sizeof(buf), EVENT_COMPLETED_MAX);
	assert_int_equal(completions(m, buf), 0);
	completed_json(buf, sizeof(buf), 1);
	assert_int_equal(completions(m, buf), 0);
	completed_json(buf, sizeof(buf), 0);
	assert_int_equal(completions(m, buf), 1);
	/* ... which evicted id 1. */
	completed_json(buf, sizeof(buf), 1);
	assert_int_equal(completions(m, buf), 1);
	assert_int_equal(event_mapper_stats(m)->duplicates, 3);

	/* An absurd message id is not remembered: invalid, nothing sent. */
	memset(longid, 'a', sizeof(longid) - 1);
	longid[sizeof(longid) - 1] = '\0';
	snprintf(big, sizeof(big), "{\"type\":\"message.updated\","
	    "\"properties\":{\"sessionID\":\"s\",\"info\":{\"id\":\"%s\","
	    "\"sessionID\":\"s\",\"role\":\"assistant\",\"time\":"
	    "{\"completed\":1}}}}", longid);
	assert_int_equal(map1(m, big, &o), EVENT_INVALID);
	assert_int_equal(o.n, 0);
	out_free(&o);
	event_mapper_free(m);
}

static void
test_error_text(void **state)
{
	struct event_mapper		*m;
	struct out			 o = { 0 };
	const Opencode__SessionEvent	*se;
	char				*s, *p;
	size_t				 i, n;

	(void)state;
	/* A first line of 1000 two-byte characters, then a stack trace. */
	n = 4096;
	assert_non_null(s = malloc(n));
	p = s + snprintf(s, n, "{\"type\":\"session.error\",\"properties\":"
	    "{\"error\":{\"name\":\"UnknownError\",\"data\":{\"message\":\"");
	for (i = 0; i < 1000; i++) {
		memcpy(p, "\xc3\xa9", 2);
		p += 2;
	}
	snprintf(p, n - (size_t)(p - s), "\\tx\\n    at <anonymous> "
	    "(/$bunfs/root/chunk.js:1:2)\"}}}}");
	assert_non_null(m = event_mapper_new());
	assert_int_equal(map1(m, s, &o), EVENT_MAPPED);
	se = nth(&o, 'E', 0)->session_event;
	/* No sessionID: the event belongs to no session. */
	assert_string_equal(se->session_id, "");
	assert_string_equal(o.sid[0], "");
	assert_string_equal(se->error_name, "UnknownError");
	assert_true(strlen(se->error_message) <= EVENT_ERRMSG_MAX);
	assert_true(strlen(se->error_message) >= EVENT_ERRMSG_MAX - 4);
	assert_null(strstr(se->error_message, "bunfs"));
	assert_string_equal(se->error_message + strlen(se->error_message) - 3,
	    "...");
	assert_memory_equal(se->error_message, "\xc3\xa9\xc3\xa9", 4);

	/* Short: controls become spaces, the trace goes. */
	assert_int_equal(map1(m, "{\"type\":\"session.error\",\"properties\":"
	    "{\"sessionID\":\"ses_1\",\"error\":{\"name\":\"E\",\"data\":"
	    "{\"message\":\"bad\\tthing\\r\\n  at x\"}}}}", &o), EVENT_MAPPED);
	assert_string_equal(nth(&o, 'E', 1)->session_event->error_message,
	    "bad thing");
	/* No error object at all. */
	assert_int_equal(map1(m, "{\"type\":\"session.error\",\"properties\":"
	    "{\"sessionID\":\"ses_1\"}}", &o), EVENT_MAPPED);
	assert_string_equal(nth(&o, 'E', 2)->session_event->error_name, "");
	out_free(&o);
	free(s);
	event_mapper_free(m);
}

/* Large messages: the buffers grow for them and are given back after. */
/*
 * The mapper's struct json and arena are reused: an event with more tokens
 * than are kept, invalid events and many small ones in between leave
 * nothing behind.
 */
static void
test_reuse(void **state)
{
	static const char	 head[] = "{\"type\":\"message.part.updated\","
	    "\"properties\":{\"part\":{\"type\":\"tool\",\"id\":\"prt_1\","
	    "\"messageID\":\"msg_1\",\"sessionID\":\"ses_1\",\"callID\":\"c\","
	    "\"tool\":\"read\",\"state\":{\"status\":\"running\","
	    "\"input\":{\"n\":[";
	struct event_mapper	*m;
	struct out		 o = { 0 };
	size_t			 n = 3 * JSON_KEEP_TOKENS, i, len;
	char			*s, *p, ev[256], want[32];

	(void)state;
	assert_non_null(s = malloc(sizeof(head) + 2 * n + 16));
	memcpy(s, head, sizeof(head) - 1);
	p = s + sizeof(head) - 1;
	for (i = 0; i < n; i++) {
		*p++ = (char)('0' + i % 10);
		*p++ = ',';
	}
	memcpy(p - 1, "]}}}}}", 7);
	len = strlen(s);
	assert_non_null(m = event_mapper_new());
	for (i = 0; i < 3000; i++) {
		if (i % 1000 == 0) {
			assert_int_equal(event_map(m, s, len, record, &o),
			    EVENT_MAPPED);
			p = o.msg[o.n - 1]->tool_call->input_json;
			assert_int_equal(strlen(p), 2 * n + 7);
			assert_memory_equal(p, "{\"n\":[0,1,2,", 12);
			assert_int_equal(p[2 * n + 4], '0' + (n - 1) % 10);
			assert_string_equal(p + 2 * n + 5, "]}");
		}
		if (i % 100 == 0) {
			assert_int_equal(map1(m, "{\"type\":", &o),
			    EVENT_INVALID);
			assert_int_equal(map1(m, DELTA("\"field\":\"text\","
			    "\"delta\":\"x\""), &o), EVENT_INVALID);
		}
		snprintf(want, sizeof(want), "d%zu\u00e9", i);
		snprintf(ev, sizeof(ev), DELTA("\"sessionID\":\"ses_%zu\","
		    "\"messageID\":\"msg_1\",\"partID\":\"prt_1\","
		    "\"field\":\"text\",\"delta\":\"d%zu\\u00e9\""), i % 7, i);
		assert_int_equal(map1(m, ev, &o), EVENT_MAPPED);
		snprintf(want, sizeof(want), "d%zu\xc3\xa9", i);
		assert_string_equal(o.msg[o.n - 1]->token->delta, want);
		snprintf(want, sizeof(want), "ses_%zu", i % 7);
		assert_string_equal(o.msg[o.n - 1]->token->session_id, want);
		if (o.n > 64)
			out_free(&o);
	}
	assert_int_equal(event_mapper_stats(m)->nomem, 0);
	out_free(&o);
	free(s);
	event_mapper_free(m);
}

static void
test_big(void **state)
{
	static const char	 head[] = "{\"type\":\"message.part.updated\","
	    "\"properties\":{\"part\":{\"type\":\"tool\",\"id\":\"prt_1\","
	    "\"messageID\":\"msg_1\",\"sessionID\":\"ses_1\",\"callID\":\"c\","
	    "\"tool\":\"read\",\"state\":{\"status\":\"completed\","
	    "\"input\":{},\"output\":\"";
	struct event_mapper	*m;
	struct out		 o = { 0 };
	size_t			 big = 3 * 1024 * 1024, n, i;
	char			*s;

	(void)state;
	n = sizeof(head) - 1 + big + 6;
	assert_non_null(s = malloc(n + 1));
	memcpy(s, head, sizeof(head) - 1);
	memset(s + sizeof(head) - 1, 'x', big);
	memcpy(s + sizeof(head) - 1 + big, "\"}}}}", 6);
	assert_non_null(m = event_mapper_new());
	for (i = 0; i < 3; i++) {
		assert_int_equal(map1(m, s, &o), EVENT_MAPPED);
		/* cut (chatmap.h), still above EVENT_OUT_KEEP */
		assert_int_equal(strlen(o.msg[o.n - 1]->tool_call->output),
		    CHATMAP_TEXT_MAX);
		assert_true(o.msg[o.n - 1]->tool_call->truncated);
		assert_int_equal(map1(m, DELTA("\"sessionID\":\"ses_1\","
		    "\"messageID\":\"msg_1\",\"partID\":\"prt_1\","
		    "\"field\":\"text\",\"delta\":\"small\""), &o), EVENT_MAPPED);
		assert_string_equal(o.msg[o.n - 1]->token->delta, "small");
	}
	out_free(&o);
	free(s);
	event_mapper_free(m);
}

/* ---- protocol v2 events on the captures ---- */

/*
 * Every transcript's whole sequence, as tests/support/v2_codes.c writes
 * it out (derived from the captures by the mapping table in events.h, not
 * by running the mapper).
 */
static void
test_v2_sequences(void **state)
{
	struct out	o = { 0 };
	struct kinds	k;
	char		want[2100];
	size_t		i;

	(void)state;
	for (i = 0; i < v2_ncodes; i++) {
		run(v2_codes[i].in, &o, &k);
		if (strcmp(o.codes, v2_codes[i].want) != 0)
			fail_msg("%s: %s, want %s", v2_codes[i].in, o.codes,
			    v2_codes[i].want);
		/* One event per message, but M and X come from one. */
		assert_int_equal(k.mapped, o.n - count(&o, 'X'));
		out_free(&o);
	}
	run("sse-many.txt", &o, &k);
	memcpy(want, "CUMAUSMUFMSAA", 13);
	memset(want + 13, 'T', 2000);
	memcpy(want + 2013, "AAMMXSSIUFM", 12);
	assert_string_equal(o.codes, want);
	out_free(&o);
}

/* Reasoning deltas say so: the kind comes from the part announced before. */
static void
test_reasoning(void **state)
{
	static const char *const want[] = { "The user", " wants", " a thought",
	    " first.", "Thought", " about", " it." };
	struct out			 o = { 0 };
	struct kinds			 k;
	const Opencode__ChatToken	*tk;
	const Opencode__PartInfo	*pi;
	size_t				 i, nreason = 0;

	(void)state;
	run("sse-reasoning.txt", &o, &k);
	assert_int_equal(count(&o, 'T'), 7);
	for (i = 0; i < 7; i++) {
		tk = nth(&o, 'T', i)->token;
		assert_string_equal(tk->delta, want[i]);
		assert_string_equal(tk->kind, i < 4 ? "reasoning" : "text");
		assert_string_equal(tk->part_id, i < 4 ?
		    "prt_23ca6c755001RPuSzfF98Dkdxx" :
		    "prt_23ca6c75e001A7sDJXH69cmMMz");
	}
	for (i = 0; i < count(&o, 'A'); i++) {
		pi = nth(&o, 'A', i)->part_updated;
		if (strcmp(pi->kind, "reasoning") != 0)
			continue;
		assert_string_equal(pi->id, "prt_23ca6c755001RPuSzfF98Dkdxx");
		assert_string_equal(pi->text, nreason == 0 ? "" :
		    "The user wants a thought first.");
		assert_false(pi->truncated);
		nreason++;
	}
	assert_int_equal(nreason, 2);
	out_free(&o);

	/* Every other transcript: text only. */
	run("sse-text.txt", &o, &k);
	for (i = 0; i < count(&o, 'T'); i++)
		assert_string_equal(nth(&o, 'T', i)->token->kind, "text");
	out_free(&o);
}

static void
test_question_events(void **state)
{
	struct out			 o = { 0 };
	struct kinds			 k;
	const Opencode__QuestionRequest	*qr;
	const Opencode__QuestionResolved *qd;
	static const char *const label[] = { "Blue", "Green", "Red" };
	size_t				 i;

	(void)state;
	run("sse-question.txt", &o, &k);
	qr = nth(&o, 'Q', 0)->question_request;
	assert_string_equal(qr->id, "que_23ca6f3c8001Wae0IA47jDmPc1");
	assert_string_equal(qr->session_id, "ses_dc3593a9effeUUmi4cweUcCu4B");
	assert_string_equal(qr->message_id, "msg_23ca6f263001TwmqVmYhZUvisc");
	assert_string_equal(qr->call_id, "call_mock000015");
	assert_int_equal(qr->n_questions, 1);
	assert_string_equal(qr->questions[0]->question,
	    "Which colour should the mock use?");
	assert_string_equal(qr->questions[0]->header, "Colour");
	assert_false(qr->questions[0]->multiple);
	assert_false(qr->questions[0]->custom);
	assert_int_equal(qr->questions[0]->n_options, 3);
	for (i = 0; i < 3; i++)
		assert_string_equal(qr->questions[0]->options[i]->label,
		    label[i]);
	assert_string_equal(qr->questions[0]->options[1]->description,
	    "The colour of grass");
	qd = nth(&o, 'q', 0)->question_resolved;
	assert_string_equal(qd->session_id, "ses_dc3593a9effeUUmi4cweUcCu4B");
	assert_string_equal(qd->question_id, "que_23ca6f3c8001Wae0IA47jDmPc1");
	assert_false(qd->rejected);
	/* The tool part around it: pending, running, completed. */
	assert_string_equal(nth(&o, 'K', 2)->tool_call->status, "completed");
	assert_string_equal(nth(&o, 'K', 2)->tool_call->tool, "question");
	out_free(&o);

	run("sse-question-reject.txt", &o, &k);
	qd = nth(&o, 'q', 0)->question_resolved;
	assert_string_equal(qd->question_id, "que_23ca70da3001JLuNh8m96SRC1y");
	assert_string_equal(qd->session_id, "ses_dc358f3daffe07YiS2yq4dYWcQ");
	assert_true(qd->rejected);
	assert_string_equal(nth(&o, 'K', 2)->tool_call->status, "error");
	assert_string_equal(nth(&o, 'K', 2)->tool_call->error,
	    "The user dismissed this question");
	out_free(&o);
}

static void
test_permission_resolved(void **state)
{
	struct out				 o = { 0 };
	struct kinds				 k;
	const Opencode__PermissionResolved	*pr;

	(void)state;
	run("sse-full.txt", &o, &k);
	pr = nth(&o, 'R', 0)->permission_resolved;
	assert_string_equal(pr->session_id, "ses_dc358eab3ffe5QdeLYCzx8ePlr");
	assert_string_equal(pr->permission_id, "per_23ca71a97001jppDrrhFruOiWW");
	assert_string_equal(pr->reply, "once");
	assert_string_equal(nth(&o, 'P', 0)->permission_request->permission_id,
	    pr->permission_id);
	out_free(&o);
	run("sse-permission-reject.txt", &o, &k);
	assert_string_equal(nth(&o, 'R', 0)->permission_resolved->reply,
	    "reject");
	out_free(&o);
}

static void
test_todo_event(void **state)
{
	static const char *const content[] = { "Read the probe file",
	    "Write the notes", "Run the tests" };
	static const char *const status[] = { "completed", "in_progress",
	    "pending" };
	static const char *const prio[] = { "high", "medium", "low" };
	struct out			 o = { 0 };
	struct kinds			 k;
	const Opencode__TodoList	*tl;
	size_t				 i;

	(void)state;
	run("sse-todo.txt", &o, &k);
	assert_int_equal(count(&o, 'O'), 1);
	tl = nth(&o, 'O', 0)->todo_updated;
	assert_string_equal(tl->session_id, "ses_dc3593a9effeUUmi4cweUcCu4B");
	assert_int_equal(tl->n_todos, 3);
	for (i = 0; i < 3; i++) {
		assert_string_equal(tl->todos[i]->content, content[i]);
		assert_string_equal(tl->todos[i]->status, status[i]);
		assert_string_equal(tl->todos[i]->priority, prio[i]);
	}
	out_free(&o);
}

/* Patch parts, the diffs after a revert, the removals after it. */
static void
test_edit_revert(void **state)
{
	struct out			 o = { 0 };
	struct kinds			 k;
	const Opencode__PartInfo	*pi;
	const Opencode__DiffList	*dl;
	size_t				 i, npatch = 0;

	(void)state;
	run("sse-edit.txt", &o, &k);
	for (i = 0; i < count(&o, 'A'); i++) {
		pi = nth(&o, 'A', i)->part_updated;
		if (strcmp(pi->kind, "patch") != 0) {
			assert_int_equal(pi->n_files, 0);
			continue;
		}
		assert_int_equal(pi->n_files, 1);
		assert_string_equal(pi->files[0], npatch == 0 ?
		    "/home/user/project/notes.txt" :
		    "/home/user/project/hello.txt");
		npatch++;
	}
	assert_int_equal(npatch, 2);
	/* session.diff was [] throughout the edits (README). */
	for (i = 0; i < count(&o, 'F'); i++) {
		dl = nth(&o, 'F', i)->diff_updated;
		assert_int_equal(dl->n_files, 0);
		assert_string_equal(dl->message_id, "");
		assert_string_equal(dl->session_id,
		    "ses_dc3593a9effeUUmi4cweUcCu4B");
	}
	out_free(&o);

	run("sse-revert.txt", &o, &k);
	dl = nth(&o, 'F', 0)->diff_updated;
	assert_string_equal(dl->session_id, "ses_dc358d8d0ffeGDlx4MOxiEyax3");
	assert_int_equal(dl->n_files, 2);
	assert_string_equal(dl->files[0]->path, "hello.txt");
	assert_string_equal(dl->files[0]->status, "modified");
	assert_int_equal(dl->files[0]->additions, 1);
	assert_int_equal(dl->files[0]->deletions, 1);
	assert_non_null(strstr(dl->files[0]->patch,
	    "\n+hello from the ocbroker probe project\n"));
	assert_string_equal(dl->files[1]->path, "notes2.txt");
	assert_string_equal(dl->files[1]->status, "added");
	assert_int_equal(dl->files[1]->additions, 2);
	assert_int_equal(dl->files[1]->deletions, 0);
	assert_false(dl->files[1]->truncated);
	out_free(&o);

	run("sse-revert-prompt.txt", &o, &k);
	assert_string_equal(nth(&o, 'm', 0)->message_removed->message_id,
	    "msg_23ca72e3b001KomCAq3v39vYky");
	assert_string_equal(nth(&o, 'm', 1)->message_removed->message_id,
	    "msg_23ca72e63001oGDapYq97tan67");
	assert_string_equal(nth(&o, 'm', 1)->message_removed->session_id,
	    "ses_dc358d8d0ffeGDlx4MOxiEyax3");
	out_free(&o);

	run("sse-revert-part.txt", &o, &k);
	assert_string_equal(nth(&o, 'a', 0)->part_removed->session_id,
	    "ses_dc358d8d0ffeGDlx4MOxiEyax3");
	assert_string_equal(nth(&o, 'a', 0)->part_removed->message_id,
	    "msg_23ca73bdb001KbjX90FSIAWNd4");
	assert_string_equal(nth(&o, 'a', 0)->part_removed->part_id,
	    "prt_23ca73d10001flJVwrZ4E2FY2h");
	out_free(&o);
}

/* MessageInfo for both roles; PartInfo for a file part and synthetic text. */
static void
test_message_part_info(void **state)
{
	struct out			 o = { 0 };
	struct kinds			 k;
	const Opencode__MessageInfo	*mi;
	const Opencode__PartInfo	*pi;
	size_t				 i, nsynth = 0, nfile = 0;

	(void)state;
	run("sse-text.txt", &o, &k);
	mi = nth(&o, 'M', 0)->message_updated;
	assert_string_equal(mi->role, "user");
	assert_string_equal(mi->agent, "build");
	assert_string_equal(mi->provider_id, "mock");
	assert_string_equal(mi->model_id, "mock-1");
	assert_int_equal(mi->completed_at, 0);
	/* The last M is the completed assistant message, the one X reports. */
	for (i = 0; i < count(&o, 'M'); i++) {
		mi = nth(&o, 'M', i)->message_updated;
		if (strcmp(mi->role, "assistant") == 0 && mi->completed_at != 0)
			break;
	}
	assert_true(i < count(&o, 'M'));
	assert_string_equal(mi->id, nth(&o, 'X', 0)->completed->message_id);
	assert_string_equal(mi->finish, "stop");
	assert_int_equal(mi->input_tokens, 120);
	assert_int_equal(mi->output_tokens, 6);
	assert_string_equal(mi->provider_id, "mock");
	assert_string_not_equal(mi->parent_id, "");
	out_free(&o);

	run("sse-abort.txt", &o, &k);
	for (i = 0; i < count(&o, 'M'); i++) {
		mi = nth(&o, 'M', i)->message_updated;
		if (mi->error_name[0] != '\0')
			break;
	}
	assert_string_equal(mi->error_name, "MessageAbortedError");
	assert_string_equal(mi->error_message, "Aborted");
	out_free(&o);

	run("sse-file.txt", &o, &k);
	for (i = 0; i < count(&o, 'A'); i++) {
		pi = nth(&o, 'A', i)->part_updated;
		if (pi->synthetic)
			nsynth++;
		if (strcmp(pi->kind, "file") == 0) {
			assert_non_null(pi->file);
			assert_string_equal(pi->file->mime, "text/plain");
			assert_string_equal(pi->file->filename, "a.txt");
			assert_string_equal(pi->file->url,
			    "data:text/plain;base64,ZmlsZSBjb250ZW50cyBsaW5lCg==");
			nfile++;
		} else
			assert_null(pi->file);
	}
	assert_int_equal(nfile, 1);
	assert_int_equal(nsynth, 2);
	out_free(&o);
}

/* ---- protocol v2 events, hostile ---- */

#define EV(type, props)	"{\"type\":\"" type "\",\"properties\":{" props "}}"

static void
test_v2_malformed(void **state)
{
	static const char *const bad[] = {
		/* question.asked */
		EV("question.asked", "\"sessionID\":\"s\",\"questions\":[]"),
		EV("question.asked", "\"id\":\"q\",\"questions\":[]"),
		EV("question.asked", "\"id\":\"q\",\"sessionID\":\"s\""),
		EV("question.asked", "\"id\":\"q\",\"sessionID\":\"s\","
		    "\"questions\":[{\"options\":[{\"label\":1}]}]"),
		EV("question.asked", "\"id\":\"q\",\"sessionID\":\"s\","
		    "\"questions\":[[]]"),
		EV("question.asked", "\"id\":\"q\",\"sessionID\":\"s\","
		    "\"questions\":[],\"tool\":\"x\""),
		/* question.replied / rejected */
		EV("question.replied", "\"sessionID\":\"s\""),
		EV("question.rejected", "\"requestID\":\"q\""),
		EV("question.rejected", "\"sessionID\":\"\",\"requestID\":\"q\""),
		EV("question.replied", "\"sessionID\":7,\"requestID\":\"q\""),
		/* permission.replied */
		EV("permission.replied", ""),
		EV("permission.replied", "\"sessionID\":\"s\",\"requestID\":\"p\""),
		EV("permission.replied", "\"sessionID\":\"s\",\"requestID\":\"p\","
		    "\"reply\":true"),
		/* todo.updated */
		EV("todo.updated", "\"sessionID\":\"s\""),
		EV("todo.updated", "\"todos\":[]"),
		EV("todo.updated", "\"sessionID\":\"s\",\"todos\":{}"),
		EV("todo.updated", "\"sessionID\":\"s\",\"todos\":[1]"),
		EV("todo.updated", "\"sessionID\":\"s\",\"todos\":"
		    "[{\"content\":[]}]"),
		/* session.diff */
		EV("session.diff", "\"sessionID\":\"s\""),
		EV("session.diff", "\"diff\":[]"),
		EV("session.diff", "\"sessionID\":\"s\",\"diff\":null"),
		EV("session.diff", "\"sessionID\":\"s\",\"diff\":[{\"file\":1}]"),
		EV("session.diff", "\"sessionID\":\"s\",\"diff\":"
		    "[{\"additions\":\"1\"}]"),
		EV("session.diff", "\"sessionID\":\"s\",\"diff\":"
		    "[{\"deletions\":1e400}]"),
		/* message.removed, message.part.removed */
		EV("message.removed", "\"sessionID\":\"s\""),
		EV("message.removed", "\"messageID\":\"m\""),
		EV("message.part.removed", "\"sessionID\":\"s\",\"messageID\":\"m\""),
		EV("message.part.removed", "\"sessionID\":\"s\",\"partID\":\"p\""),
		EV("message.part.removed", "\"sessionID\":\"s\",\"messageID\":\"m\","
		    "\"partID\":[]"),
		/* message.updated, any role */
		EV("message.updated", "\"info\":{\"role\":\"user\",\"id\":\"m\"}"),
		EV("message.updated", "\"info\":{\"role\":\"user\","
		    "\"sessionID\":\"s\"}"),
		EV("message.updated", "\"info\":{\"id\":\"m\",\"sessionID\":\"s\"}"),
		EV("message.updated", "\"info\":{\"id\":\"m\",\"sessionID\":\"s\","
		    "\"role\":\"user\",\"cost\":\"0\"}"),
		EV("message.updated", "\"info\":{\"id\":\"m\",\"sessionID\":\"s\","
		    "\"role\":\"user\",\"model\":[]}"),
		EV("message.updated", "\"info\":{\"id\":\"m\",\"sessionID\":\"s\","
		    "\"role\":\"assistant\",\"time\":{\"completed\":\"x\"}}"),
		/* message.part.updated, any kind */
		EV("message.part.updated", "\"part\":{\"type\":\"step-finish\"}"),
		EV("message.part.updated", "\"part\":{\"id\":\"p\","
		    "\"messageID\":\"m\",\"sessionID\":\"s\"}"),
		EV("message.part.updated", "\"part\":{\"id\":\"p\","
		    "\"messageID\":\"m\",\"sessionID\":\"s\",\"type\":\"reasoning\","
		    "\"text\":1}"),
		EV("message.part.updated", "\"part\":{\"id\":\"p\","
		    "\"messageID\":\"m\",\"sessionID\":\"s\",\"type\":\"patch\","
		    "\"files\":[null]}"),
		EV("message.part.updated", "\"part\":{\"id\":\"p\","
		    "\"messageID\":\"m\",\"sessionID\":\"s\",\"type\":\"file\","
		    "\"mime\":5}"),
		EV("message.part.updated", "\"part\":7"),
	};
	struct event_mapper	*m;
	struct out		 o = { 0 };
	size_t			 i;

	(void)state;
	assert_non_null(m = event_mapper_new());
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (map1(m, bad[i], &o) != EVENT_INVALID)
			fail_msg("bad[%zu] is not invalid: %s", i, bad[i]);
	/* Never half-mapped: nothing went out. */
	assert_int_equal(o.n, 0);
	assert_int_equal(event_mapper_stats(m)->invalid,
	    sizeof(bad) / sizeof(bad[0]));
	assert_int_equal(event_mapper_stats(m)->nomem, 0);

	/* The smallest valid ones map, with their session id. */
	assert_int_equal(map1(m, EV("question.rejected", "\"sessionID\":\"s1\","
	    "\"requestID\":\"q\""), &o), EVENT_MAPPED);
	assert_int_equal(map1(m, EV("todo.updated", "\"sessionID\":\"s2\","
	    "\"todos\":[]"), &o), EVENT_MAPPED);
	assert_int_equal(map1(m, EV("session.diff", "\"sessionID\":\"s3\","
	    "\"diff\":[{}]"), &o), EVENT_MAPPED);
	assert_int_equal(map1(m, EV("message.part.updated", "\"part\":"
	    "{\"id\":\"p\",\"messageID\":\"m\",\"sessionID\":\"s4\","
	    "\"type\":\"subtask\",\"prompt\":{\"deep\":[[[]]]}}"), &o),
	    EVENT_MAPPED);
	assert_int_equal(map1(m, EV("message.updated", "\"info\":{\"id\":\"m\","
	    "\"sessionID\":\"s5\",\"role\":\"system\"}"), &o), EVENT_MAPPED);
	assert_string_equal(o.codes, "qOFAM");
	assert_string_equal(o.sid[0], "s1");
	assert_true(o.msg[0]->question_resolved->rejected);
	assert_string_equal(o.sid[1], "s2");
	assert_int_equal(o.msg[1]->todo_updated->n_todos, 0);
	assert_string_equal(o.sid[2], "s3");
	assert_string_equal(o.msg[2]->diff_updated->files[0]->path, "");
	assert_string_equal(o.sid[3], "s4");
	assert_string_equal(o.msg[3]->part_updated->kind, "subtask");
	assert_string_equal(o.sid[4], "s5");
	assert_string_equal(o.msg[4]->message_updated->role, "system");
	out_free(&o);
	event_mapper_free(m);
}

static void
reasoning_part(char *buf, size_t size, unsigned id)
{
	snprintf(buf, size, EV("message.part.updated", "\"sessionID\":\"ses_1\","
	    "\"part\":{\"id\":\"prt_%06u\",\"messageID\":\"msg_1\","
	    "\"sessionID\":\"ses_1\",\"type\":\"reasoning\",\"text\":\"\","
	    "\"time\":{\"start\":1}}"), id);
}

/* The kind a delta gets for part prt_<id>. */
static const char *
delta_kind(struct event_mapper *m, unsigned id, struct out *o)
{
	char	buf[512];

	snprintf(buf, sizeof(buf), DELTA("\"sessionID\":\"ses_1\","
	    "\"messageID\":\"msg_1\",\"partID\":\"prt_%06u\",\"field\":\"text\","
	    "\"delta\":\"d\""), id);
	assert_int_equal(map1(m, buf, o), EVENT_MAPPED);
	return o->msg[o->n - 1]->token->kind;
}

/* The reasoning part table holds EVENT_PART_KINDS_MAX ids, FIFO: counted. */
static void
test_part_kinds_bound(void **state)
{
	struct event_mapper		*m;
	const struct event_stats	*st;
	struct out			 o = { 0 };
	char				 buf[512];
	unsigned			 i;

	(void)state;
	assert_non_null(m = event_mapper_new());
	st = event_mapper_stats(m);
	/* Unknown part: text. */
	assert_string_equal(delta_kind(m, 0, &o), "text");
	for (i = 0; i < EVENT_PART_KINDS_MAX; i++) {
		reasoning_part(buf, sizeof(buf), i);
		assert_int_equal(map1(m, buf, &o), EVENT_MAPPED);
		/* The same part again (it is re-sent) takes no second slot. */
		assert_int_equal(map1(m, buf, &o), EVENT_MAPPED);
		if (o.n > 64)
			out_free(&o);
	}
	assert_int_equal(st->reasoning_evicted, 0);
	/* Full: every one of them is still known. */
	for (i = 0; i < EVENT_PART_KINDS_MAX; i++) {
		assert_string_equal(delta_kind(m, i, &o), "reasoning");
		if (o.n > 64)
			out_free(&o);
	}
	/* One more pushes out the oldest, and only it. */
	reasoning_part(buf, sizeof(buf), EVENT_PART_KINDS_MAX);
	assert_int_equal(map1(m, buf, &o), EVENT_MAPPED);
	assert_int_equal(st->reasoning_evicted, 1);
	assert_string_equal(delta_kind(m, 0, &o), "text");
	assert_string_equal(delta_kind(m, 1, &o), "reasoning");
	assert_string_equal(delta_kind(m, EVENT_PART_KINDS_MAX, &o),
	    "reasoning");
	/* Another EVENT_PART_KINDS_MAX: all the first ones are gone. */
	for (i = 0; i < EVENT_PART_KINDS_MAX; i++) {
		reasoning_part(buf, sizeof(buf), EVENT_PART_KINDS_MAX + 1 + i);
		assert_int_equal(map1(m, buf, &o), EVENT_MAPPED);
		if (o.n > 64)
			out_free(&o);
	}
	assert_int_equal(st->reasoning_evicted, 1 + EVENT_PART_KINDS_MAX);
	for (i = 0; i <= EVENT_PART_KINDS_MAX; i++) {
		assert_string_equal(delta_kind(m, i, &o), "text");
		if (o.n > 64)
			out_free(&o);
	}
	assert_string_equal(delta_kind(m, 2 * EVENT_PART_KINDS_MAX, &o),
	    "reasoning");
	/* A text part is never remembered; a long id is not either. */
	snprintf(buf, sizeof(buf), EV("message.part.updated", "\"part\":"
	    "{\"id\":\"prt_%06u\",\"messageID\":\"msg_1\",\"sessionID\":\"ses_1\","
	    "\"type\":\"text\",\"text\":\"\"}"), 5u);
	assert_int_equal(map1(m, buf, &o), EVENT_MAPPED);
	assert_int_equal(st->reasoning_evicted, 1 + EVENT_PART_KINDS_MAX);
	assert_int_equal(st->nomem, 0);
	out_free(&o);
	event_mapper_free(m);
}

/* A huge text part is cut like a reply's; the tool output too. */
static void
test_v2_huge(void **state)
{
	static const char	 head[] = "{\"type\":\"message.part.updated\","
	    "\"properties\":{\"part\":{\"type\":\"text\",\"id\":\"prt_1\","
	    "\"messageID\":\"msg_1\",\"sessionID\":\"ses_1\",\"text\":\"";
	struct event_mapper	*m;
	struct out		 o = { 0 };
	size_t			 big = 1024 * 1024, n;
	char			*s;

	(void)state;
	n = sizeof(head) - 1 + big + 5;
	assert_non_null(s = malloc(n + 1));
	memcpy(s, head, sizeof(head) - 1);
	memset(s + sizeof(head) - 1, 'x', big);
	/* a 4-byte character straddling the cut */
	memcpy(s + sizeof(head) - 1 + CHATMAP_TEXT_MAX - 2, "\xf0\x9f\x98\x80",
	    4);
	memcpy(s + sizeof(head) - 1 + big, "\"}}}", 5);
	assert_non_null(m = event_mapper_new());
	assert_int_equal(map1(m, s, &o), EVENT_MAPPED);
	assert_int_equal(strlen(o.msg[0]->part_updated->text),
	    CHATMAP_TEXT_MAX - 2);
	assert_true(o.msg[0]->part_updated->truncated);
	out_free(&o);
	free(s);
	event_mapper_free(m);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_text),
		cmocka_unit_test(test_tool),
		cmocka_unit_test(test_permission),
		cmocka_unit_test(test_abort),
		cmocka_unit_test(test_many),
		cmocka_unit_test(test_sessions),
		cmocka_unit_test(test_retry),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_other_fixtures),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_token_wire),
		cmocka_unit_test(test_delta_walk_same),
		cmocka_unit_test(test_deep),
		cmocka_unit_test(test_utf8),
		cmocka_unit_test(test_raw_json),
		cmocka_unit_test(test_reuse),
		cmocka_unit_test(test_ignored),
		cmocka_unit_test(test_completed_once),
		cmocka_unit_test(test_error_text),
		cmocka_unit_test(test_big),
		cmocka_unit_test(test_v2_sequences),
		cmocka_unit_test(test_reasoning),
		cmocka_unit_test(test_question_events),
		cmocka_unit_test(test_permission_resolved),
		cmocka_unit_test(test_todo_event),
		cmocka_unit_test(test_edit_revert),
		cmocka_unit_test(test_message_part_info),
		cmocka_unit_test(test_v2_malformed),
		cmocka_unit_test(test_part_kinds_bound),
		cmocka_unit_test(test_v2_huge),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
