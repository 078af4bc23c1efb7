/*
 * Copyright (c) 2026 The ocbroker authors
 * SPDX-License-Identifier: ISC (the licence is in the file LICENSE)
 */

/*
 * What every ServerMessage the event mapper emits must satisfy, checked the
 * same way by tests/test_events.c and tests/fuzz/fuzz_sse.c: it unpacked,
 * request_id 0, a payload the mapper makes, every string valid UTF-8, raw
 * JSON fields valid JSON, the cuts (texts, outputs, patches, error texts)
 * within their limits, and the session id passed to emit equal to the
 * message's own (non-empty for every event but a SessionEvent from a
 * session.error without one).  sm_check() returns NULL when all hold,
 * else what failed.  Header-only: both programs include it once.
 */
#ifndef OCB_TESTS_SM_CHECK_H
#define OCB_TESTS_SM_CHECK_H

#include <stdint.h>
#include <string.h>

#include "common/utf8.h"
#include "netproc/chatmap.h"
#include "netproc/events.h"
#include "netproc/json.h"
#include "proto/messages.pb-c.h"

#define SM_STR(s, what) do {						\
	if ((s) == NULL ||						\
	    !utf8_valid((const uint8_t *)(s), strlen(s)))		\
		return (what);						\
} while (0)

/* A required id: valid and non-empty. */
#define SM_ID(s, what) do {						\
	SM_STR(s, what);						\
	if ((s)[0] == '\0')						\
		return (what);						\
} while (0)

#define SM_MAX(s, max, what) do {					\
	SM_STR(s, what);						\
	if (strlen(s) > (max))						\
		return (what);						\
} while (0)

/* "" or a JSON value json.c accepts. */
static const char *
sm_json(const char *s, const char *what)
{
	struct json	*j;

	SM_STR(s, what);
	if (s[0] == '\0')
		return NULL;
	if (json_parse(s, strlen(s), &j) == -1)
		return what;
	json_free(j);
	return NULL;
}

static const char *
sm_error_text(const char *s, const char *what)
{
	SM_MAX(s, EVENT_ERRMSG_MAX, what);
	if (strchr(s, '\n') != NULL || strchr(s, '\r') != NULL)
		return what;
	return NULL;
}

static const char *
sm_tool(const Opencode__ToolCallEvent *tc)
{
	const char	*why;

	if (tc == NULL)
		return "tool_call";
	SM_ID(tc->session_id, "tool_call.session_id");
	SM_ID(tc->message_id, "tool_call.message_id");
	SM_ID(tc->call_id, "tool_call.call_id");
	SM_ID(tc->tool, "tool_call.tool");
	SM_ID(tc->status, "tool_call.status");
	SM_ID(tc->part_id, "tool_call.part_id");
	SM_STR(tc->title, "tool_call.title");
	SM_MAX(tc->output, CHATMAP_TEXT_MAX, "tool_call.output");
	SM_MAX(tc->error, CHATMAP_TEXT_MAX, "tool_call.error");
	if ((why = sm_json(tc->input_json, "tool_call.input_json")) != NULL)
		return why;
	return NULL;
}

static const char *
sm_permission(const Opencode__PermissionRequest *pr)
{
	size_t	i;

	SM_ID(pr->session_id, "permission.session_id");
	SM_ID(pr->permission_id, "permission.permission_id");
	SM_ID(pr->permission, "permission.permission");
	for (i = 0; i < pr->n_patterns; i++)
		SM_STR(pr->patterns[i], "permission.patterns");
	SM_STR(pr->message_id, "permission.message_id");
	SM_STR(pr->call_id, "permission.call_id");
	return sm_json(pr->metadata_json, "permission.metadata_json");
}

static const char *
sm_question(const Opencode__QuestionRequest *qr)
{
	const Opencode__Question	*q;
	size_t				 i, k;

	SM_ID(qr->id, "question.id");
	SM_ID(qr->session_id, "question.session_id");
	SM_STR(qr->message_id, "question.message_id");
	SM_STR(qr->call_id, "question.call_id");
	for (i = 0; i < qr->n_questions; i++) {
		q = qr->questions[i];
		SM_STR(q->question, "question.question");
		SM_STR(q->header, "question.header");
		for (k = 0; k < q->n_options; k++) {
			SM_ID(q->options[k]->label, "question.label");
			SM_STR(q->options[k]->description,
			    "question.description");
		}
	}
	return NULL;
}

static const char *
sm_part(const Opencode__PartInfo *pi)
{
	size_t	i;

	SM_ID(pi->id, "part.id");
	SM_ID(pi->message_id, "part.message_id");
	SM_ID(pi->session_id, "part.session_id");
	SM_ID(pi->kind, "part.kind");
	SM_MAX(pi->text, CHATMAP_TEXT_MAX, "part.text");
	/* Tool parts are sent as ToolCallEvent, never inside a PartInfo. */
	if (pi->tool != NULL)
		return "part.tool";
	if (pi->file != NULL) {
		SM_STR(pi->file->mime, "part.file.mime");
		SM_STR(pi->file->filename, "part.file.filename");
		SM_MAX(pi->file->url, CHATMAP_TEXT_MAX, "part.file.url");
	}
	for (i = 0; i < pi->n_files; i++)
		SM_STR(pi->files[i], "part.files");
	return NULL;
}

static const char *
sm_message(const Opencode__MessageInfo *mi)
{
	SM_ID(mi->id, "message.id");
	if (strlen(mi->id) > EVENT_ID_MAX)
		return "message.id";
	SM_ID(mi->session_id, "message.session_id");
	SM_ID(mi->role, "message.role");
	SM_STR(mi->agent, "message.agent");
	SM_STR(mi->provider_id, "message.provider_id");
	SM_STR(mi->model_id, "message.model_id");
	SM_STR(mi->finish, "message.finish");
	SM_STR(mi->error_name, "message.error_name");
	SM_STR(mi->parent_id, "message.parent_id");
	if (mi->cost != mi->cost)
		return "message.cost";
	return sm_error_text(mi->error_message, "message.error_message");
}

static const char *
sm_payload(const Opencode__ServerMessage *m, const char **msid)
{
	const Opencode__SessionEvent	*se;
	size_t				 i;

	switch (m->payload_case) {
	case OPENCODE__SERVER_MESSAGE__PAYLOAD_TOKEN:
		*msid = m->token->session_id;
		SM_ID(m->token->message_id, "token.message_id");
		SM_ID(m->token->part_id, "token.part_id");
		SM_STR(m->token->delta, "token.delta");
		SM_STR(m->token->kind, "token.kind");
		if (strcmp(m->token->kind, "text") != 0 &&
		    strcmp(m->token->kind, "reasoning") != 0)
			return "token.kind";
		return NULL;
	case OPENCODE__SERVER_MESSAGE__PAYLOAD_COMPLETED:
		*msid = m->completed->session_id;
		SM_ID(m->completed->message_id, "completed.message_id");
		SM_STR(m->completed->finish, "completed.finish");
		SM_STR(m->completed->error, "completed.error");
		return NULL;
	case OPENCODE__SERVER_MESSAGE__PAYLOAD_TOOL_CALL:
		*msid = m->tool_call->session_id;
		return sm_tool(m->tool_call);
	case OPENCODE__SERVER_MESSAGE__PAYLOAD_PERMISSION_REQUEST:
		*msid = m->permission_request->session_id;
		return sm_permission(m->permission_request);
	case OPENCODE__SERVER_MESSAGE__PAYLOAD_SESSION_EVENT:
		se = m->session_event;
		*msid = se->session_id;
		SM_ID(se->kind, "session_event.kind");
		SM_STR(se->status, "session_event.status");
		SM_STR(se->error_name, "session_event.error_name");
		if (se->info != NULL) {
			SM_ID(se->info->id, "session_event.info.id");
			if (se->info->_title_case ==
			    OPENCODE__SESSION_INFO___TITLE_TITLE)
				SM_STR(se->info->title,
				    "session_event.info.title");
		}
		if (strcmp(se->kind, "error") != 0)
			SM_ID(se->session_id, "session_event.session_id");
		return sm_error_text(se->error_message,
		    "session_event.error_message");
	case OPENCODE__SERVER_MESSAGE__PAYLOAD_QUESTION_REQUEST:
		*msid = m->question_request->session_id;
		return sm_question(m->question_request);
	case OPENCODE__SERVER_MESSAGE__PAYLOAD_QUESTION_RESOLVED:
		*msid = m->question_resolved->session_id;
		SM_ID(m->question_resolved->question_id,
		    "question_resolved.question_id");
		return NULL;
	case OPENCODE__SERVER_MESSAGE__PAYLOAD_PERMISSION_RESOLVED:
		*msid = m->permission_resolved->session_id;
		SM_ID(m->permission_resolved->permission_id,
		    "permission_resolved.permission_id");
		SM_ID(m->permission_resolved->reply,
		    "permission_resolved.reply");
		return NULL;
	case OPENCODE__SERVER_MESSAGE__PAYLOAD_TODO_UPDATED:
		*msid = m->todo_updated->session_id;
		for (i = 0; i < m->todo_updated->n_todos; i++) {
			SM_STR(m->todo_updated->todos[i]->content,
			    "todo.content");
			SM_STR(m->todo_updated->todos[i]->status,
			    "todo.status");
			SM_STR(m->todo_updated->todos[i]->priority,
			    "todo.priority");
		}
		return NULL;
	case OPENCODE__SERVER_MESSAGE__PAYLOAD_DIFF_UPDATED:
		*msid = m->diff_updated->session_id;
		SM_STR(m->diff_updated->message_id, "diff.message_id");
		for (i = 0; i < m->diff_updated->n_files; i++) {
			SM_STR(m->diff_updated->files[i]->path, "diff.path");
			SM_STR(m->diff_updated->files[i]->status,
			    "diff.status");
			SM_MAX(m->diff_updated->files[i]->patch,
			    CHATMAP_TEXT_MAX, "diff.patch");
		}
		return NULL;
	case OPENCODE__SERVER_MESSAGE__PAYLOAD_MESSAGE_REMOVED:
		*msid = m->message_removed->session_id;
		SM_ID(m->message_removed->message_id,
		    "message_removed.message_id");
		return NULL;
	case OPENCODE__SERVER_MESSAGE__PAYLOAD_PART_REMOVED:
		*msid = m->part_removed->session_id;
		SM_ID(m->part_removed->message_id, "part_removed.message_id");
		SM_ID(m->part_removed->part_id, "part_removed.part_id");
		return NULL;
	case OPENCODE__SERVER_MESSAGE__PAYLOAD_MESSAGE_UPDATED:
		*msid = m->message_updated->session_id;
		return sm_message(m->message_updated);
	case OPENCODE__SERVER_MESSAGE__PAYLOAD_PART_UPDATED:
		*msid = m->part_updated->session_id;
		return sm_part(m->part_updated);
	default:
		return "payload";
	}
}

static const char *
sm_check(const Opencode__ServerMessage *m, const char *sid)
{
	const char	*msid = NULL, *why;

	if (m->request_id != 0)
		return "request_id";
	if ((why = sm_payload(m, &msid)) != NULL)
		return why;
	SM_STR(sid, "emitted session id");
	SM_STR(msid, "session_id");
	if (msid[0] == '\0' && m->payload_case !=
	    OPENCODE__SERVER_MESSAGE__PAYLOAD_SESSION_EVENT)
		return "session_id";
	if (strcmp(msid, sid) != 0)
		return "emitted session id differs";
	return NULL;
}

#endif /* OCB_TESTS_SM_CHECK_H */
