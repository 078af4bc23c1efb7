/*
 * Copyright (c) 2026 The ocbroker authors
 * SPDX-License-Identifier: ISC (the licence is in the file LICENSE)
 */

/*
 * ocbctl's JSON lines: one printer per ServerMessage payload.  Nothing here
 * parses JSON: strings that carry JSON (a tool's input, a permission's
 * metadata) are printed as JSON strings, never embedded.
 */
#include "config.h"

#include <inttypes.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/ocbctl_json.h"
#include "common/utf8.h"

void
json_str(FILE *f, const char *s)
{
	const uint8_t *p = (const uint8_t *)(s != NULL ? s : "");
	size_t n;

	putc('"', f);
	while (*p != '\0') {
		if (*p < 0x80) {
			switch (*p) {
			case '"':
				fputs("\\\"", f);
				break;
			case '\\':
				fputs("\\\\", f);
				break;
			case '\n':
				fputs("\\n", f);
				break;
			case '\r':
				fputs("\\r", f);
				break;
			case '\t':
				fputs("\\t", f);
				break;
			case '\b':
				fputs("\\b", f);
				break;
			case '\f':
				fputs("\\f", f);
				break;
			default:
				if (*p < 0x20 || *p == 0x7f)
					fprintf(f, "\\u%04x", (unsigned)*p);
				else
					putc(*p, f);
			}
			p++;
			continue;
		}
		if (*p >= 0xf0)
			n = 4;
		else if (*p >= 0xe0)
			n = 3;
		else
			n = 2;
		if (strnlen((const char *)p, n) == n && utf8_valid(p, n)) {
			fwrite(p, 1, n, f);
			p += n;
		} else {
			fputs("\\ufffd", f);
			p++;
		}
	}
	putc('"', f);
}

/* ---- "key":value, with a leading comma unless first ---- */

static void
key(int *first, const char *k)
{
	if (!*first)
		putchar(',');
	*first = 0;
	json_str(stdout, k);
	putchar(':');
}

static void
kv_str(int *first, const char *k, const char *v)
{
	key(first, k);
	json_str(stdout, v);
}

static void
kv_int(int *first, const char *k, int64_t v)
{
	key(first, k);
	printf("%" PRId64, v);
}

static void
kv_bool(int *first, const char *k, int v)
{
	key(first, k);
	fputs(v ? "true" : "false", stdout);
}

/* The shortest form that reads back the same; null when not finite. */
static void
kv_double(int *first, const char *k, double v)
{
	char buf[40];
	int prec;

	key(first, k);
	if (!isfinite(v)) {
		fputs("null", stdout);
		return;
	}
	for (prec = 1; prec < 17; prec++) {
		snprintf(buf, sizeof(buf), "%.*g", prec, v);
		if (strtod(buf, NULL) == v)
			break;
	}
	printf("%.*g", prec, v);
}

static void
kv_strs(int *first, const char *k, char **v, size_t n)
{
	size_t i;

	key(first, k);
	putchar('[');
	for (i = 0; i < n; i++) {
		if (i > 0)
			putchar(',');
		json_str(stdout, v[i]);
	}
	putchar(']');
}

static void
line_end(void)
{
	fputs("}\n", stdout);
	fflush(stdout);
}

/* ---- objects ---- */

static void
session_obj(const Opencode__SessionInfo *s)
{
	int f = 1;

	putchar('{');
	kv_str(&f, "id", s->id);
	if (s->_title_case == OPENCODE__SESSION_INFO___TITLE_TITLE)
		kv_str(&f, "title", s->title);
	kv_int(&f, "created_at", s->created_at);
	kv_int(&f, "updated_at", s->updated_at);
	putchar('}');
}

static void
tool_obj(const Opencode__ToolCallEvent *t)
{
	int f = 1;

	putchar('{');
	kv_str(&f, "session_id", t->session_id);
	kv_str(&f, "message_id", t->message_id);
	kv_str(&f, "part_id", t->part_id);
	kv_str(&f, "call_id", t->call_id);
	kv_str(&f, "tool", t->tool);
	kv_str(&f, "status", t->status);
	kv_str(&f, "title", t->title);
	/* A string, not raw JSON: nothing here parses or trusts it. */
	kv_str(&f, "input_json", t->input_json);
	kv_str(&f, "output", t->output);
	kv_str(&f, "error", t->error);
	kv_bool(&f, "truncated", t->truncated);
	putchar('}');
}

static void
permission_obj(const Opencode__PermissionRequest *p)
{
	int f = 1;

	putchar('{');
	kv_str(&f, "session_id", p->session_id);
	kv_str(&f, "permission_id", p->permission_id);
	kv_str(&f, "permission", p->permission);
	kv_strs(&f, "patterns", p->patterns, p->n_patterns);
	kv_str(&f, "message_id", p->message_id);
	kv_str(&f, "call_id", p->call_id);
	kv_str(&f, "metadata_json", p->metadata_json);
	putchar('}');
}

static void
question_obj(const Opencode__QuestionRequest *q)
{
	const Opencode__Question *qq;
	size_t i, j;
	int f = 1, g, h;

	putchar('{');
	kv_str(&f, "id", q->id);
	kv_str(&f, "session_id", q->session_id);
	key(&f, "questions");
	putchar('[');
	for (i = 0; i < q->n_questions; i++) {
		qq = q->questions[i];
		g = 1;
		fputs(i > 0 ? ",{" : "{", stdout);
		kv_str(&g, "question", qq->question);
		kv_str(&g, "header", qq->header);
		key(&g, "options");
		putchar('[');
		for (j = 0; j < qq->n_options; j++) {
			h = 1;
			fputs(j > 0 ? ",{" : "{", stdout);
			kv_str(&h, "label", qq->options[j]->label);
			kv_str(&h, "description", qq->options[j]->description);
			putchar('}');
		}
		putchar(']');
		kv_bool(&g, "multiple", qq->multiple);
		kv_bool(&g, "custom", qq->custom);
		putchar('}');
	}
	putchar(']');
	kv_str(&f, "message_id", q->message_id);
	kv_str(&f, "call_id", q->call_id);
	putchar('}');
}

static void
file_obj(const Opencode__FileAttachment *a)
{
	int f = 1;

	putchar('{');
	kv_str(&f, "mime", a->mime);
	kv_str(&f, "filename", a->filename);
	kv_str(&f, "url", a->url);
	putchar('}');
}

static void
message_info_obj(const Opencode__MessageInfo *m)
{
	int f = 1;

	putchar('{');
	kv_str(&f, "id", m->id);
	kv_str(&f, "session_id", m->session_id);
	kv_str(&f, "role", m->role);
	kv_int(&f, "created_at", m->created_at);
	kv_int(&f, "completed_at", m->completed_at);
	kv_str(&f, "agent", m->agent);
	kv_str(&f, "provider_id", m->provider_id);
	kv_str(&f, "model_id", m->model_id);
	kv_str(&f, "finish", m->finish);
	kv_str(&f, "error_name", m->error_name);
	kv_str(&f, "error_message", m->error_message);
	kv_int(&f, "input_tokens", m->input_tokens);
	kv_int(&f, "output_tokens", m->output_tokens);
	kv_int(&f, "reasoning_tokens", m->reasoning_tokens);
	kv_double(&f, "cost", m->cost);
	kv_str(&f, "parent_id", m->parent_id);
	putchar('}');
}

/* tool, file and files only when the part has them. */
static void
part_obj(const Opencode__PartInfo *p)
{
	int f = 1;

	putchar('{');
	kv_str(&f, "id", p->id);
	kv_str(&f, "message_id", p->message_id);
	kv_str(&f, "session_id", p->session_id);
	kv_str(&f, "kind", p->kind);
	kv_str(&f, "text", p->text);
	kv_bool(&f, "synthetic", p->synthetic);
	kv_bool(&f, "truncated", p->truncated);
	if (p->tool != NULL) {
		key(&f, "tool");
		tool_obj(p->tool);
	}
	if (p->file != NULL) {
		key(&f, "file");
		file_obj(p->file);
	}
	if (p->n_files > 0)
		kv_strs(&f, "files", p->files, p->n_files);
	putchar('}');
}

static void
todos_obj(const Opencode__TodoList *t)
{
	size_t i;
	int f = 1, g;

	putchar('{');
	kv_str(&f, "session_id", t->session_id);
	key(&f, "todos");
	putchar('[');
	for (i = 0; i < t->n_todos; i++) {
		g = 1;
		fputs(i > 0 ? ",{" : "{", stdout);
		kv_str(&g, "content", t->todos[i]->content);
		kv_str(&g, "status", t->todos[i]->status);
		kv_str(&g, "priority", t->todos[i]->priority);
		putchar('}');
	}
	fputs("]}", stdout);
}

static void
diff_obj(const Opencode__DiffList *d)
{
	const Opencode__FileDiff *fd;
	size_t i;
	int f = 1, g;

	putchar('{');
	kv_str(&f, "session_id", d->session_id);
	kv_str(&f, "message_id", d->message_id);
	key(&f, "files");
	putchar('[');
	for (i = 0; i < d->n_files; i++) {
		fd = d->files[i];
		g = 1;
		fputs(i > 0 ? ",{" : "{", stdout);
		kv_str(&g, "path", fd->path);
		kv_str(&g, "status", fd->status);
		kv_int(&g, "additions", fd->additions);
		kv_int(&g, "deletions", fd->deletions);
		kv_str(&g, "patch", fd->patch);
		kv_bool(&g, "truncated", fd->truncated);
		putchar('}');
	}
	fputs("]}", stdout);
}

static void
provider_obj(const Opencode__ProviderInfo *p)
{
	const Opencode__ModelInfo *m;
	size_t i;
	int f = 1, g;

	putchar('{');
	kv_str(&f, "id", p->id);
	kv_str(&f, "name", p->name);
	kv_bool(&f, "connected", p->connected);
	kv_str(&f, "default_model_id", p->default_model_id);
	key(&f, "models");
	putchar('[');
	for (i = 0; i < p->n_models; i++) {
		m = p->models[i];
		g = 1;
		fputs(i > 0 ? ",{" : "{", stdout);
		kv_str(&g, "id", m->id);
		kv_str(&g, "name", m->name);
		kv_str(&g, "family", m->family);
		kv_bool(&g, "reasoning", m->reasoning);
		kv_bool(&g, "attachment", m->attachment);
		kv_bool(&g, "toolcall", m->toolcall);
		kv_int(&g, "context_limit", m->context_limit);
		kv_int(&g, "output_limit", m->output_limit);
		kv_double(&g, "cost_input", m->cost_input);
		kv_double(&g, "cost_output", m->cost_output);
		putchar('}');
	}
	fputs("]}", stdout);
}

static void
command_obj(const Opencode__CommandInfo *c)
{
	int f = 1;

	putchar('{');
	kv_str(&f, "name", c->name);
	kv_str(&f, "description", c->description);
	kv_str(&f, "agent", c->agent);
	kv_str(&f, "model", c->model);
	kv_str(&f, "source", c->source);
	kv_bool(&f, "subtask", c->subtask);
	kv_strs(&f, "hints", c->hints, c->n_hints);
	putchar('}');
}

static void
status_obj(const Opencode__SessionStatus *s)
{
	int f = 1;

	putchar('{');
	kv_str(&f, "session_id", s->session_id);
	kv_str(&f, "status", s->status);
	kv_int(&f, "attempt", s->attempt);
	kv_str(&f, "message", s->message);
	kv_int(&f, "next_ms", s->next_ms);
	putchar('}');
}

/* {"name":<obj>} on a line of its own. */
#define LINE(name, fn, arg) do {					\
	fputs("{\"" name "\":", stdout);				\
	fn(arg);							\
	line_end();							\
} while (0)

/* ---- lists: a line per element ---- */

static void
message_list(const Opencode__MessageList *l)
{
	const Opencode__MessageWithParts *mw;
	Opencode__MessageInfo none = OPENCODE__MESSAGE_INFO__INIT;
	size_t i, j;

	for (i = 0; i < l->n_messages; i++) {
		mw = l->messages[i];
		fputs("{\"message\":{\"info\":", stdout);
		message_info_obj(mw->info != NULL ? mw->info : &none);
		fputs(",\"parts\":[", stdout);
		for (j = 0; j < mw->n_parts; j++) {
			if (j > 0)
				putchar(',');
			part_obj(mw->parts[j]);
		}
		putchar(']');
		putchar('}');
		line_end();
	}
	printf("{\"more\":%s", l->more ? "true" : "false");
	line_end();
}

static void
pending_list(const Opencode__PendingList *l)
{
	size_t i;

	for (i = 0; i < l->n_permissions; i++)
		LINE("permission", permission_obj, l->permissions[i]);
	for (i = 0; i < l->n_questions; i++)
		LINE("question", question_obj, l->questions[i]);
}

/* The lists (and the empty reply): 1 if m is one, else 0. */
static int
json_list(const Opencode__ServerMessage *m)
{
	size_t i;

	switch (m->payload_case) {
	case OPENCODE__SERVER_MESSAGE__PAYLOAD_SESSION_LIST:
		for (i = 0; i < m->session_list->n_sessions; i++)
			LINE("session", session_obj,
			    m->session_list->sessions[i]);
		return 1;
	case OPENCODE__SERVER_MESSAGE__PAYLOAD_SESSION_STATUS_LIST:
		for (i = 0; i < m->session_status_list->n_statuses; i++)
			LINE("session_status", status_obj,
			    m->session_status_list->statuses[i]);
		return 1;
	case OPENCODE__SERVER_MESSAGE__PAYLOAD_MESSAGE_LIST:
		message_list(m->message_list);
		return 1;
	case OPENCODE__SERVER_MESSAGE__PAYLOAD_COMMAND_LIST:
		for (i = 0; i < m->command_list->n_commands; i++)
			LINE("command", command_obj,
			    m->command_list->commands[i]);
		return 1;
	case OPENCODE__SERVER_MESSAGE__PAYLOAD_PROVIDER_LIST:
		for (i = 0; i < m->provider_list->n_providers; i++)
			LINE("provider", provider_obj,
			    m->provider_list->providers[i]);
		return 1;
	case OPENCODE__SERVER_MESSAGE__PAYLOAD_PENDING_LIST:
		pending_list(m->pending_list);
		return 1;
	default:
		return 0;
	}
}

static void
agent_line(const Opencode__AgentInfo *a)
{
	int f = 1;

	fputs("{\"agent\":{", stdout);
	kv_str(&f, "name", a->name);
	if (a->_description_case ==
	    OPENCODE__AGENT_INFO___DESCRIPTION_DESCRIPTION)
		kv_str(&f, "description", a->description);
	if (a->_mode_case == OPENCODE__AGENT_INFO___MODE_MODE)
		kv_str(&f, "mode", a->mode);
	kv_bool(&f, "built_in", a->built_in);
	if (a->_color_case == OPENCODE__AGENT_INFO___COLOR_COLOR)
		kv_str(&f, "color", a->color);
	putchar('}');
	line_end();
}

void
json_ok(void)
{
	fputs("{\"ok\":true", stdout);
	line_end();
}

int
json_message(const Opencode__ServerMessage *m)
{
	size_t i;
	int f = 1;

	if (json_list(m))
		return 0;
	switch (m->payload_case) {
	case OPENCODE__SERVER_MESSAGE__PAYLOAD__NOT_SET:
		/* An event newer than our messages.proto has no payload too. */
		if (m->request_id == 0)
			goto unknown;
		json_ok();
		return 0;
	case OPENCODE__SERVER_MESSAGE__PAYLOAD_ERROR:
		fputs("{\"error\":{", stdout);
		kv_str(&f, "code", m->error->code);
		kv_str(&f, "message", m->error->message);
		putchar('}');
		line_end();
		return 1;
	case OPENCODE__SERVER_MESSAGE__PAYLOAD_AGENT_LIST:
		for (i = 0; i < m->agent_list->n_agents; i++)
			agent_line(m->agent_list->agents[i]);
		return 0;
	case OPENCODE__SERVER_MESSAGE__PAYLOAD_SESSION_INFO:
		fputs("{\"session\":", stdout);
		session_obj(m->session_info);
		break;
	case OPENCODE__SERVER_MESSAGE__PAYLOAD_PROVIDER_STATUS:
		fputs("{\"provider_status\":{", stdout);
		kv_strs(&f, "connected", m->provider_status->connected,
		    m->provider_status->n_connected);
		putchar('}');
		break;
	case OPENCODE__SERVER_MESSAGE__PAYLOAD_AUTH_STATUS:
		fputs("{\"auth_status\":{", stdout);
		kv_str(&f, "provider_id", m->auth_status->provider_id);
		kv_bool(&f, "connected", m->auth_status->connected);
		putchar('}');
		break;
	case OPENCODE__SERVER_MESSAGE__PAYLOAD_UPSTREAM_HEALTH:
		fputs("{\"upstream_health\":{", stdout);
		kv_bool(&f, "healthy", m->upstream_health->healthy);
		kv_str(&f, "version", m->upstream_health->version);
		putchar('}');
		break;
	case OPENCODE__SERVER_MESSAGE__PAYLOAD_TODO_LIST:
		fputs("{\"todos\":", stdout);
		todos_obj(m->todo_list);
		break;
	case OPENCODE__SERVER_MESSAGE__PAYLOAD_DIFF_LIST:
		fputs("{\"diff\":", stdout);
		diff_obj(m->diff_list);
		break;
	case OPENCODE__SERVER_MESSAGE__PAYLOAD_TOKEN:
		fputs("{\"token\":{", stdout);
		kv_str(&f, "session_id", m->token->session_id);
		kv_str(&f, "message_id", m->token->message_id);
		kv_str(&f, "part_id", m->token->part_id);
		kv_str(&f, "kind", m->token->kind);
		kv_str(&f, "delta", m->token->delta);
		putchar('}');
		break;
	case OPENCODE__SERVER_MESSAGE__PAYLOAD_COMPLETED:
		fputs("{\"completed\":{", stdout);
		kv_str(&f, "session_id", m->completed->session_id);
		kv_str(&f, "message_id", m->completed->message_id);
		kv_str(&f, "finish", m->completed->finish);
		kv_int(&f, "input_tokens", m->completed->input_tokens);
		kv_int(&f, "output_tokens", m->completed->output_tokens);
		kv_str(&f, "error", m->completed->error);
		putchar('}');
		break;
	case OPENCODE__SERVER_MESSAGE__PAYLOAD_TOOL_CALL:
		fputs("{\"tool_call\":", stdout);
		tool_obj(m->tool_call);
		break;
	case OPENCODE__SERVER_MESSAGE__PAYLOAD_PERMISSION_REQUEST:
		fputs("{\"permission\":", stdout);
		permission_obj(m->permission_request);
		break;
	case OPENCODE__SERVER_MESSAGE__PAYLOAD_SESSION_EVENT:
		fputs("{\"session_event\":{", stdout);
		kv_str(&f, "session_id", m->session_event->session_id);
		kv_str(&f, "kind", m->session_event->kind);
		if (m->session_event->info != NULL) {
			key(&f, "info");
			session_obj(m->session_event->info);
		}
		kv_str(&f, "status", m->session_event->status);
		kv_str(&f, "error_name", m->session_event->error_name);
		kv_str(&f, "error_message", m->session_event->error_message);
		kv_int(&f, "attempt", m->session_event->attempt);
		putchar('}');
		break;
	case OPENCODE__SERVER_MESSAGE__PAYLOAD_UPSTREAM_STATUS:
		fputs("{\"upstream_status\":{", stdout);
		kv_bool(&f, "connected", m->upstream_status->connected);
		kv_str(&f, "version", m->upstream_status->version);
		putchar('}');
		break;
	case OPENCODE__SERVER_MESSAGE__PAYLOAD_QUESTION_REQUEST:
		fputs("{\"question\":", stdout);
		question_obj(m->question_request);
		break;
	case OPENCODE__SERVER_MESSAGE__PAYLOAD_QUESTION_RESOLVED:
		fputs("{\"question_resolved\":{", stdout);
		kv_str(&f, "session_id", m->question_resolved->session_id);
		kv_str(&f, "question_id", m->question_resolved->question_id);
		kv_bool(&f, "rejected", m->question_resolved->rejected);
		putchar('}');
		break;
	case OPENCODE__SERVER_MESSAGE__PAYLOAD_PERMISSION_RESOLVED:
		fputs("{\"permission_resolved\":{", stdout);
		kv_str(&f, "session_id", m->permission_resolved->session_id);
		kv_str(&f, "permission_id",
		    m->permission_resolved->permission_id);
		kv_str(&f, "reply", m->permission_resolved->reply);
		putchar('}');
		break;
	case OPENCODE__SERVER_MESSAGE__PAYLOAD_TODO_UPDATED:
		fputs("{\"todos\":", stdout);
		todos_obj(m->todo_updated);
		break;
	case OPENCODE__SERVER_MESSAGE__PAYLOAD_DIFF_UPDATED:
		fputs("{\"diff\":", stdout);
		diff_obj(m->diff_updated);
		break;
	case OPENCODE__SERVER_MESSAGE__PAYLOAD_MESSAGE_REMOVED:
		fputs("{\"message_removed\":{", stdout);
		kv_str(&f, "session_id", m->message_removed->session_id);
		kv_str(&f, "message_id", m->message_removed->message_id);
		putchar('}');
		break;
	case OPENCODE__SERVER_MESSAGE__PAYLOAD_PART_REMOVED:
		fputs("{\"part_removed\":{", stdout);
		kv_str(&f, "session_id", m->part_removed->session_id);
		kv_str(&f, "message_id", m->part_removed->message_id);
		kv_str(&f, "part_id", m->part_removed->part_id);
		putchar('}');
		break;
	case OPENCODE__SERVER_MESSAGE__PAYLOAD_MESSAGE_UPDATED:
		fputs("{\"message_updated\":", stdout);
		message_info_obj(m->message_updated);
		break;
	case OPENCODE__SERVER_MESSAGE__PAYLOAD_PART_UPDATED:
		fputs("{\"part_updated\":", stdout);
		part_obj(m->part_updated);
		break;
	default:
	unknown:
		/* A payload this version does not know. */
		fputs("{\"unknown\":{", stdout);
		kv_int(&f, "request_id", (int64_t)m->request_id);
		kv_int(&f, "payload", (int64_t)m->payload_case);
		putchar('}');
		break;
	}
	line_end();
	return 0;
}
