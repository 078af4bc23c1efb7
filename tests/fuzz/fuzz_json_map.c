/*
 * Copyright (c) 2026 The ocbroker authors
 * SPDX-License-Identifier: ISC (the licence is in the file LICENSE)
 */

/*
 * libFuzzer target: the input is an upstream reply body.  Every reply mapper
 * sees it as a 200 application/json answer, the error path as a 400 and a
 * 404 with quoting on, and the JSON layer is walked token by token.  Every
 * string that comes out must be valid UTF-8 without a NUL.  The v2 kinds
 * run too: ListPending with the input as either of its two replies,
 * MessageList with a limit, a `before` and a max_reply that the packed
 * reply must never exceed.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/utf8.h"
#include "netproc/api.h"
#include "netproc/arena.h"
#include "netproc/json.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void
check_str(const char *s)
{
	if (s == NULL || !utf8_valid((const uint8_t *)s, strlen(s)))
		abort();
}

/* s is the id the request named. */
static void
check_is(const char *s, const char *want)
{
	if (strcmp(s, want) != 0)
		abort();
}

static void
check_message_list(const Opencode__MessageList *ml)
{
	const Opencode__MessageWithParts	*mw;
	const Opencode__PartInfo		*p;
	size_t					 i, k;

	check_str(ml->session_id);
	for (i = 0; i < ml->n_messages; i++) {
		mw = ml->messages[i];
		if (mw->info == NULL)
			abort();
		check_str(mw->info->id);
		check_str(mw->info->role);
		for (k = 0; k < mw->n_parts; k++) {
			p = mw->parts[k];
			check_str(p->id);
			check_str(p->kind);
			check_str(p->text);
			if (p->tool != NULL) {
				check_str(p->tool->output);
				check_str(p->tool->input_json);
			}
			if (p->file != NULL)
				check_str(p->file->url);
		}
	}
}

static void
check_v2(const Opencode__ServerMessage *sm)
{
	const Opencode__SessionStatus	*st;
	size_t				 i, k;

	switch (sm->payload_case) {
	case OPENCODE__SERVER_MESSAGE__PAYLOAD_SESSION_STATUS_LIST:
		for (i = 0; i < sm->session_status_list->n_statuses; i++) {
			st = sm->session_status_list->statuses[i];
			check_str(st->session_id);
			check_str(st->status);
			check_str(st->message);
		}
		break;
	case OPENCODE__SERVER_MESSAGE__PAYLOAD_MESSAGE_LIST:
		check_message_list(sm->message_list);
		break;
	case OPENCODE__SERVER_MESSAGE__PAYLOAD_COMMAND_LIST:
		for (i = 0; i < sm->command_list->n_commands; i++) {
			check_str(sm->command_list->commands[i]->name);
			for (k = 0; k < sm->command_list->commands[i]->n_hints;
			    k++)
				check_str(sm->command_list->commands[i]->
				    hints[k]);
		}
		break;
	case OPENCODE__SERVER_MESSAGE__PAYLOAD_PENDING_LIST:
		for (i = 0; i < sm->pending_list->n_permissions; i++)
			check_str(sm->pending_list->permissions[i]->
			    permission_id);
		for (i = 0; i < sm->pending_list->n_questions; i++)
			check_str(sm->pending_list->questions[i]->id);
		break;
	case OPENCODE__SERVER_MESSAGE__PAYLOAD_TODO_LIST:
		check_is(sm->todo_list->session_id, "ses_f");
		for (i = 0; i < sm->todo_list->n_todos; i++)
			check_str(sm->todo_list->todos[i]->content);
		break;
	case OPENCODE__SERVER_MESSAGE__PAYLOAD_DIFF_LIST:
		check_is(sm->diff_list->message_id, "msg_f");
		for (i = 0; i < sm->diff_list->n_files; i++) {
			check_str(sm->diff_list->files[i]->path);
			check_str(sm->diff_list->files[i]->patch);
		}
		break;
	case OPENCODE__SERVER_MESSAGE__PAYLOAD_PROVIDER_LIST:
		for (i = 0; i < sm->provider_list->n_providers; i++)
			check_str(sm->provider_list->providers[i]->id);
		break;
	default:
		break;
	}
}

static void
check_reply(const uint8_t *out, size_t len)
{
	Opencode__ServerMessage	*sm;
	size_t			 i;

	if ((sm = opencode__server_message__unpack(NULL, len, out)) == NULL)
		abort();
	if (sm->request_id != 7)
		abort();
	switch (sm->payload_case) {
	case OPENCODE__SERVER_MESSAGE__PAYLOAD_ERROR:
		check_str(sm->error->code);
		check_str(sm->error->message);
		if (strlen(sm->error->message) >= API_MSG_MAX)
			abort();
		break;
	case OPENCODE__SERVER_MESSAGE__PAYLOAD_SESSION_LIST:
		for (i = 0; i < sm->session_list->n_sessions; i++) {
			check_str(sm->session_list->sessions[i]->id);
			if (sm->session_list->sessions[i]->_title_case ==
			    OPENCODE__SESSION_INFO___TITLE_TITLE)
				check_str(sm->session_list->sessions[i]->title);
		}
		break;
	case OPENCODE__SERVER_MESSAGE__PAYLOAD_SESSION_INFO:
		check_str(sm->session_info->id);
		break;
	case OPENCODE__SERVER_MESSAGE__PAYLOAD_AGENT_LIST:
		for (i = 0; i < sm->agent_list->n_agents; i++)
			check_str(sm->agent_list->agents[i]->name);
		break;
	case OPENCODE__SERVER_MESSAGE__PAYLOAD_PROVIDER_STATUS:
		for (i = 0; i < sm->provider_status->n_connected; i++)
			check_str(sm->provider_status->connected[i]);
		break;
	case OPENCODE__SERVER_MESSAGE__PAYLOAD_AUTH_STATUS:
		check_is(sm->auth_status->provider_id, "mock");
		break;
	case OPENCODE__SERVER_MESSAGE__PAYLOAD_UPSTREAM_HEALTH:
		check_str(sm->upstream_health->version);
		break;
	default:
		check_v2(sm);
		break;
	}
	opencode__server_message__free_unpacked(sm, NULL);
}

static void
walk(const uint8_t *data, size_t size)
{
	struct json	*j;
	struct arena	 a;
	char		*s;
	int64_t		 v;
	int		 t, n, b;

	if (json_parse(data, size, &j) == -1)
		return;
	arena_init(&a);
	n = json_ntokens(j);
	for (t = 0; t < n; t++) {
		if (json_next(j, t) <= t || json_next(j, t) > n)
			abort();
		switch (json_type(j, t)) {
		case JSON_STRING:
			if (json_get_str(j, t, &a, &s) == 0) {
				check_str(s);
				if (!json_str_eq(j, t, s))
					abort();
			}
			break;
		case JSON_NUMBER:
			(void)json_get_int64(j, t, &v);
			break;
		case JSON_BOOL:
			if (json_get_bool(j, t, &b) == -1)
				abort();
			break;
		case JSON_OBJECT:
			(void)json_obj_get(j, t, "id");
			break;
		case JSON_ARRAY:
		case JSON_NULL:
			break;
		default:
			abort();
		}
	}
	arena_free(&a);
	json_free(j);
}

static void
run(const struct api_call *c, const struct api_response *r)
{
	uint8_t	*out;
	size_t	 len;

	if (api_reply_pack(c, r, &out, &len) == -1)
		abort();	/* only on ENOMEM */
	if (c->max_reply > 0 && len > c->max_reply)
		abort();
	check_reply(out, len);
	free(out);
}

/* The v2 kinds with the call fields they read. */
static void
run_v2(const uint8_t *data, size_t size)
{
	static const char	 empty[] = "[]";
	static const size_t	 caps[] = { 0, 1024, 4096 };
	struct api_response	 r, q, first, page;
	struct api_call		 c;
	struct api_error	 err;
	size_t			 i;

	memset(&c, 0, sizeof(c));
	memset(&r, 0, sizeof(r));
	memset(&q, 0, sizeof(q));
	memset(&first, 0, sizeof(first));
	c.request_id = 7;
	c.quote_errors = 1;
	memcpy(c.provider_id, "mock", 5);
	memcpy(c.session_id, "ses_f", 6);
	memcpy(c.message_id, "msg_f", 6);
	r.status = q.status = 200;
	r.content_type = q.content_type = "application/json";
	r.body = data;
	r.body_len = size;

	/* ListPending: the input as the permissions, then the questions. */
	c.kind = API_KIND_PENDING_LIST;
	q.body = (const uint8_t *)empty;
	q.body_len = 2;
	r.second = &q;
	run(&c, &r);
	r.body = (const uint8_t *)empty;
	r.body_len = 2;
	q.body = data;
	q.body_len = size;
	run(&c, &r);
	r.body = data;
	r.body_len = size;
	r.second = NULL;

	/* MessageList: with and without a limit, a before, a cap. */
	c.kind = API_KIND_MESSAGE_LIST;
	for (i = 0; i < sizeof(caps) / sizeof(caps[0]); i++) {
		c.max_reply = caps[i];
		c.limit = 2;
		run(&c, &r);
		/* before: the input as the message (the cursor is made
		 * from it), then as the page. */
		c.limit = 100;
		memcpy(c.before, "msg_b", 6);
		c.path2_from_reply = 1;
		snprintf(c.path, sizeof(c.path), "/session/ses_a/message/msg_b");
		if (api_second_path(&c, &r, &err) == 0 &&
		    strncmp(c.path2, "/session/ses_a/message?limit=101&before=",
		    40) != 0)
			abort();
		page = r;
		page.second = NULL;
		first.status = 200;
		first.content_type = r.content_type;
		first.body = (const uint8_t *)"{}";
		first.body_len = 2;
		first.second = &page;
		run(&c, &first);
		c.path2_from_reply = 0;
		c.path[0] = '\0';
		c.path2[0] = '\0';
		c.before[0] = '\0';
	}
	c.max_reply = 0;
	c.limit = 0;
	for (c.kind = API_KIND_SESSION_STATUS_LIST;
	    c.kind <= API_KIND_DIFF_LIST; c.kind++)
		if (c.kind != API_KIND_PENDING_LIST)
			run(&c, &r);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const long	 status[] = { 200, 400, 404 };
	struct api_response	 r;
	struct api_call		 c;
	size_t			 s;
	int			 k;

	memset(&c, 0, sizeof(c));
	memset(&r, 0, sizeof(r));
	c.request_id = 7;
	c.quote_errors = 1;
	memcpy(c.provider_id, "mock", 5);
	r.content_type = "application/json";
	r.body = data;
	r.body_len = size;
	for (s = 0; s < sizeof(status) / sizeof(status[0]); s++) {
		r.status = status[s];
		for (k = API_KIND_EMPTY; k <= API_KIND_HEALTH; k++) {
			c.kind = k;
			run(&c, &r);
			if (status[s] != 200)
				break;	/* the error path ignores the kind */
		}
	}
	run_v2(data, size);
	walk(data, size);
	return 0;
}
