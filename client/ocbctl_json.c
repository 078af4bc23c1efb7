/*
 * Copyright (c) 2026 The ocbroker authors
 * SPDX-License-Identifier: ISC (the licence is in the file LICENSE)
 */

/*
 * ocbctl's JSON lines.  An object is printed from its protobuf-c descriptor
 * and a list of the keys it has (its fields' names, in the order shown);
 * each payload has its line's name.  Nothing here parses JSON: strings
 * that carry JSON (a tool's input, a permission's metadata) are printed as
 * JSON strings, never embedded.
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
	/* Short escapes: the character and the letter after the backslash. */
	static const char short_esc[] = "\"\\\n\r\t\b\f";
	static const char letter[] = "\"\\nrtbf";
	const uint8_t *p = (const uint8_t *)(s != NULL ? s : "");
	const char *e;
	size_t n;

	putc('"', f);
	while (*p != '\0') {
		if (*p < 0x80) {
			if ((e = strchr(short_esc, *p)) != NULL) {
				putc('\\', f);
				putc(letter[e - short_esc], f);
			} else if (*p < 0x20 || *p == 0x7f)
				fprintf(f, "\\u%04x", (unsigned)*p);
			else
				putc(*p, f);
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

/* The shortest form that reads back the same; null when not finite. */
static void
put_double(double v)
{
	char buf[40];
	int prec;

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
line_end(void)
{
	fputs("}\n", stdout);
	fflush(stdout);
}

/* ---- objects: the keys each message shows ---- */

/*
 * Space-separated field names, in the order printed.  "name?" is shown only
 * when present: an optional field that is set, a message that is there, a
 * list that is not empty.  Every other field is always shown.
 */
static const struct shape {
	const ProtobufCMessageDescriptor	*desc;
	const char				*keys;
} shapes[] = {
	{ &opencode__session_info__descriptor,
	    "id title? created_at updated_at" },
	{ &opencode__tool_call_event__descriptor,
	    "session_id message_id part_id call_id tool status title "
	    "input_json output error truncated" },
	{ &opencode__permission_request__descriptor,
	    "session_id permission_id permission patterns message_id call_id "
	    "metadata_json" },
	{ &opencode__question_request__descriptor,
	    "id session_id questions message_id call_id" },
	{ &opencode__question__descriptor,
	    "question header options multiple custom" },
	{ &opencode__question_option__descriptor, "label description" },
	{ &opencode__file_attachment__descriptor, "mime filename url" },
	{ &opencode__message_info__descriptor,
	    "id session_id role created_at completed_at agent provider_id "
	    "model_id finish error_name error_message input_tokens "
	    "output_tokens reasoning_tokens cost parent_id" },
	{ &opencode__part_info__descriptor,
	    "id message_id session_id kind text synthetic truncated tool? "
	    "file? files?" },
	{ &opencode__todo_list__descriptor, "session_id todos" },
	{ &opencode__todo__descriptor, "content status priority" },
	{ &opencode__diff_list__descriptor, "session_id message_id files" },
	{ &opencode__file_diff__descriptor,
	    "path status additions deletions patch truncated" },
	{ &opencode__provider_info__descriptor,
	    "id name connected default_model_id models" },
	{ &opencode__model_info__descriptor,
	    "id name family reasoning attachment toolcall context_limit "
	    "output_limit cost_input cost_output" },
	{ &opencode__command_info__descriptor,
	    "name description agent model source subtask hints" },
	{ &opencode__session_status__descriptor,
	    "session_id status attempt message next_ms" },
	{ &opencode__agent_info__descriptor,
	    "name description? mode? built_in color?" },
	{ &opencode__error_response__descriptor, "code message" },
	{ &opencode__provider_status__descriptor, "connected" },
	{ &opencode__auth_status__descriptor, "provider_id connected" },
	{ &opencode__upstream_health__descriptor, "healthy version" },
	{ &opencode__chat_token__descriptor,
	    "session_id message_id part_id kind delta" },
	{ &opencode__chat_completed__descriptor,
	    "session_id message_id finish input_tokens output_tokens error" },
	{ &opencode__session_event__descriptor,
	    "session_id kind info? status error_name error_message attempt" },
	{ &opencode__upstream_status__descriptor, "connected version" },
	{ &opencode__question_resolved__descriptor,
	    "session_id question_id rejected" },
	{ &opencode__permission_resolved__descriptor,
	    "session_id permission_id reply" },
	{ &opencode__message_removed__descriptor, "session_id message_id" },
	{ &opencode__part_removed__descriptor,
	    "session_id message_id part_id" },
};

static void	obj(const ProtobufCMessage *);

/* One value of field f stored at p (an element, for a list). */
static void
value(const ProtobufCFieldDescriptor *f, const void *p)
{
	switch (f->type) {
	case PROTOBUF_C_TYPE_STRING:
		json_str(stdout, *(char *const *)p);
		break;
	case PROTOBUF_C_TYPE_BOOL:
		fputs(*(const protobuf_c_boolean *)p ? "true" : "false",
		    stdout);
		break;
	case PROTOBUF_C_TYPE_UINT32:
		printf("%" PRIu32, *(const uint32_t *)p);
		break;
	case PROTOBUF_C_TYPE_INT64:
	case PROTOBUF_C_TYPE_UINT64:	/* shown as an int64, as before */
		printf("%" PRId64, *(const int64_t *)p);
		break;
	case PROTOBUF_C_TYPE_DOUBLE:
		put_double(*(const double *)p);
		break;
	case PROTOBUF_C_TYPE_MESSAGE:
		obj(*(const ProtobufCMessage *const *)p);
		break;
	default:
		/* A type messages.proto does not use (yet). */
		fputs("null", stdout);
	}
}

/* The size of one element of a repeated field. */
static size_t
elem_size(const ProtobufCFieldDescriptor *f)
{
	switch (f->type) {
	case PROTOBUF_C_TYPE_STRING:
	case PROTOBUF_C_TYPE_MESSAGE:
		return sizeof(void *);
	case PROTOBUF_C_TYPE_BOOL:
		return sizeof(protobuf_c_boolean);
	case PROTOBUF_C_TYPE_DOUBLE:
	case PROTOBUF_C_TYPE_INT64:
	case PROTOBUF_C_TYPE_UINT64:
		return 8;
	default:
		return 4;
	}
}

/* "name":value for the field of m called name (len bytes). */
static void
member(int *first, const ProtobufCMessage *m, const char *name, size_t len)
{
	const ProtobufCFieldDescriptor *f;
	const char *base = (const char *)m;
	const void *p;
	char buf[64];
	size_t n = 0, i, sz;
	int opt = len > 0 && name[len - 1] == '?';
	uint32_t oneof;

	snprintf(buf, sizeof(buf), "%.*s", (int)(len - (size_t)opt), name);
	/* A key missing from messages.proto is a bug in shapes[]. */
	if ((f = protobuf_c_message_descriptor_get_field_by_name(m->descriptor,
	    buf)) == NULL)
		abort();
	p = base + f->offset;
	if (f->label == PROTOBUF_C_LABEL_REPEATED)
		memcpy(&n, base + f->quantifier_offset, sizeof(n));
	if (opt) {
		if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
			memcpy(&oneof, base + f->quantifier_offset,
			    sizeof(oneof));
			if (oneof != f->id)
				return;
		} else if (f->label == PROTOBUF_C_LABEL_REPEATED ? n == 0 :
		    *(const void *const *)p == NULL)
			return;
	}
	key(first, buf);
	if (f->label != PROTOBUF_C_LABEL_REPEATED) {
		value(f, p);
		return;
	}
	sz = elem_size(f);
	putchar('[');
	for (i = 0; i < n; i++) {
		if (i > 0)
			putchar(',');
		value(f, *(const char *const *)p + i * sz);
	}
	putchar(']');
}

/* The members of m that its shape names, without the braces. */
static void
members(int *first, const ProtobufCMessage *m)
{
	const char *k, *e;
	size_t i;

	for (i = 0; i < sizeof(shapes) / sizeof(shapes[0]); i++)
		if (shapes[i].desc == m->descriptor)
			break;
	if (i == sizeof(shapes) / sizeof(shapes[0]))
		abort();	/* a message shapes[] does not have */
	for (k = shapes[i].keys; *k != '\0'; k = *e != '\0' ? e + 1 : e) {
		if ((e = strchr(k, ' ')) == NULL)
			e = k + strlen(k);
		member(first, m, k, (size_t)(e - k));
	}
}

static void
obj(const ProtobufCMessage *m)
{
	int f = 1;

	if (m == NULL) {
		fputs("null", stdout);
		return;
	}
	putchar('{');
	members(&f, m);
	putchar('}');
}

/* {"name":<obj>} on a line of its own. */
static void
line(const char *name, const void *m)
{
	putchar('{');
	json_str(stdout, name);
	putchar(':');
	obj(m);
	line_end();
}

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
		obj(mw->info != NULL ? &mw->info->base : &none.base);
		fputs(",\"parts\":[", stdout);
		for (j = 0; j < mw->n_parts; j++) {
			if (j > 0)
				putchar(',');
			obj(&mw->parts[j]->base);
		}
		putchar(']');
		putchar('}');
		line_end();
	}
	printf("{\"more\":%s", l->more ? "true" : "false");
	line_end();
}

#define PC(x)	OPENCODE__SERVER_MESSAGE__PAYLOAD_##x

/* The message in m's payload; NULL when this version does not know it. */
static const ProtobufCMessage *
payload(const Opencode__ServerMessage *m)
{
	const ProtobufCFieldDescriptor *f;
	const ProtobufCMessage *p;

	if ((f = protobuf_c_message_descriptor_get_field(m->base.descriptor,
	    (unsigned)m->payload_case)) == NULL ||
	    f->type != PROTOBUF_C_TYPE_MESSAGE)
		return NULL;
	memcpy(&p, (const char *)m + f->offset, sizeof(p));
	return p;
}

/* The list replies: a line per element of their list, named name. */
static const struct {
	Opencode__ServerMessage__PayloadCase	 pc;
	const char				*list;
	const char				*name;
} lists[] = {
	{ PC(SESSION_LIST), "sessions", "session" },
	{ PC(SESSION_STATUS_LIST), "statuses", "session_status" },
	{ PC(COMMAND_LIST), "commands", "command" },
	{ PC(PROVIDER_LIST), "providers", "provider" },
	{ PC(PENDING_LIST), "permissions", "permission" },
	{ PC(PENDING_LIST), "questions", "question" },
	{ PC(AGENT_LIST), "agents", "agent" },
};

/* The lists: 1 if m is one (and printed), else 0. */
static int
json_list(const Opencode__ServerMessage *m)
{
	const ProtobufCFieldDescriptor *f;
	const ProtobufCMessage *l;
	void **v;
	size_t i, j, n;
	int found = 0;

	if (m->payload_case == PC(MESSAGE_LIST)) {
		message_list(m->message_list);
		return 1;
	}
	for (i = 0; i < sizeof(lists) / sizeof(lists[0]); i++) {
		if (lists[i].pc != m->payload_case)
			continue;
		l = payload(m);
		if ((f = protobuf_c_message_descriptor_get_field_by_name(
		    l->descriptor, lists[i].list)) == NULL)
			abort();	/* a misspelt list in lists[] */
		memcpy(&n, (const char *)l + f->quantifier_offset, sizeof(n));
		memcpy(&v, (const char *)l + f->offset, sizeof(v));
		for (j = 0; j < n; j++)
			line(lists[i].name, v[j]);
		found = 1;
	}
	return found;
}

void
json_ok(void)
{
	fputs("{\"ok\":true", stdout);
	line_end();
}

/* The name of each payload's line; the rest show by their shape. */
static const struct {
	Opencode__ServerMessage__PayloadCase	 pc;
	const char				*name;
} names[] = {
	{ PC(ERROR), "error" },
	{ PC(SESSION_INFO), "session" },
	{ PC(PROVIDER_STATUS), "provider_status" },
	{ PC(AUTH_STATUS), "auth_status" },
	{ PC(UPSTREAM_HEALTH), "upstream_health" },
	{ PC(TODO_LIST), "todos" },
	{ PC(DIFF_LIST), "diff" },
	{ PC(TOKEN), "token" },
	{ PC(COMPLETED), "completed" },
	{ PC(TOOL_CALL), "tool_call" },
	{ PC(PERMISSION_REQUEST), "permission" },
	{ PC(SESSION_EVENT), "session_event" },
	{ PC(UPSTREAM_STATUS), "upstream_status" },
	{ PC(QUESTION_REQUEST), "question" },
	{ PC(QUESTION_RESOLVED), "question_resolved" },
	{ PC(PERMISSION_RESOLVED), "permission_resolved" },
	{ PC(TODO_UPDATED), "todos" },
	{ PC(DIFF_UPDATED), "diff" },
	{ PC(MESSAGE_REMOVED), "message_removed" },
	{ PC(PART_REMOVED), "part_removed" },
	{ PC(MESSAGE_UPDATED), "message_updated" },
	{ PC(PART_UPDATED), "part_updated" },
};

int
json_message(const Opencode__ServerMessage *m)
{
	const ProtobufCMessage *p;
	size_t i;
	int first = 1;

	if (json_list(m))
		return 0;
	if (m->payload_case == PC(_NOT_SET) && m->request_id != 0) {
		json_ok();
		return 0;
	}
	/* An event newer than our messages.proto has no payload too. */
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (names[i].pc == m->payload_case)
			break;
	if (i == sizeof(names) / sizeof(names[0]) || (p = payload(m)) == NULL) {
		/* A payload this version does not know. */
		fputs("{\"unknown\":{", stdout);
		key(&first, "request_id");
		printf("%" PRId64, (int64_t)m->request_id);
		key(&first, "payload");
		printf("%" PRId64, (int64_t)m->payload_case);
		putchar('}');
		line_end();
		return 0;
	}
	line(names[i].name, p);
	return m->payload_case == PC(ERROR);
}
