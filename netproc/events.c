/*
 * Copyright (c) 2026 The ocbroker authors
 * SPDX-License-Identifier: ISC (the licence is in the file LICENSE)
 */

/*
 * Upstream event -> ServerMessage mapping; see events.h for the policy and
 * tests/fixtures/README.md for the shapes.  The chat
 * shapes (message, part, tool, permission, question, todos, diffs) are
 * chatmap.c's, shared with the replies.
 *
 * Hot path (message.part.delta, thousands per second): no allocation per
 * event.  The JSON is parsed into a struct json the mapper keeps (its token
 * array is reused, json_clear() frees one above JSON_KEEP_TOKENS), strings
 * are decoded into an arena that is reset after each event (it keeps its
 * first chunk), and messages are packed into a buffer the mapper keeps.
 *
 * Two id sets, each a FIFO ring indexed by a chained hash table (FNV-1a;
 * the upstream is the trusted server, so no keyed hash: a worst case is
 * one ring's worth of string compares on one event): the completed message
 * ids (EVENT_COMPLETED_MAX) and the ids of reasoning parts
 * (EVENT_PART_KINDS_MAX), which give a delta its kind.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "netproc/arena.h"
#include "netproc/chatmap.h"
#include "netproc/events.h"
#include "netproc/json.h"
#include "netproc/token_wire.h"
#include "proto/messages.pb-c.h"

#define OUT_MIN		256

_Static_assert(EVENT_ERRMSG_MAX == CHATMAP_ERRMSG_MAX,
    "events.h documents chatmap_error_text()'s limit");
_Static_assert((EVENT_COMPLETED_MAX & (EVENT_COMPLETED_MAX - 1)) == 0 &&
    (EVENT_PART_KINDS_MAX & (EVENT_PART_KINDS_MAX - 1)) == 0,
    "id rings have a power of two of entries");

struct id_ent {
	char		*id;		/* NULL: slot never used */
	uint64_t	 hash;
	int32_t		 next;		/* next in its bucket, or -1 */
};

/* A set of at most size ids; adding to a full one drops the oldest. */
struct idring {
	struct id_ent	*ent;		/* size entries */
	int32_t		*bucket;	/* 2 * size chain heads */
	uint32_t	 size;
	uint32_t	 next;		/* next slot: the oldest once full */
	uint64_t	 evicted;
};

struct event_mapper {
	struct arena		 a;
	struct json		*j;		/* reused for every event */
	uint8_t			*out;		/* packed message */
	size_t			 out_cap;
	struct event_stats	 st;
	struct idring		 done;		/* completed message ids */
	struct idring		 reasoning;	/* reasoning part ids */
	int			 slow_only;	/* no delta_fast() (tests) */
};

/*
 * One event being mapped.  The fields are read with chatmap's readers; an
 * allocation failure there (cm.st) or here (oom) is the event's.
 */
struct ctx {
	struct event_mapper	*m;
	const struct json	*j;
	struct chatmap		 cm;		/* its strings in m->a */
	int			 props;		/* the properties object */
	int			 oom;
	event_emit_fn		 emit;
	void			*arg;
};

typedef enum event_kind (*map_fn)(struct ctx *, const char *);

#define EMPTY	((char *)protobuf_c_empty_string)

/* ---- id sets ---- */

static uint64_t
hash_id(const char *s)
{
	uint64_t	h = 0xcbf29ce484222325ULL;

	for (; *s != '\0'; s++) {
		h ^= (uint8_t)*s;
		h *= 0x100000001b3ULL;
	}
	return h;
}

static int
ring_init(struct idring *r, uint32_t size)
{
	uint32_t	i;

	memset(r, 0, sizeof(*r));
	if ((r->ent = calloc(size, sizeof(*r->ent))) == NULL ||
	    (r->bucket = calloc(2 * (size_t)size,
	    sizeof(*r->bucket))) == NULL) {
		free(r->ent);
		r->ent = NULL;
		return -1;
	}
	r->size = size;
	for (i = 0; i < size; i++)
		r->ent[i].next = -1;
	for (i = 0; i < 2 * size; i++)
		r->bucket[i] = -1;
	return 0;
}

static void
ring_free(struct idring *r)
{
	uint32_t	i;

	if (r->ent != NULL)
		for (i = 0; i < r->size; i++)
			free(r->ent[i].id);
	free(r->ent);
	free(r->bucket);
}

static int32_t *
ring_head(struct idring *r, uint64_t h)
{
	return &r->bucket[h & (2 * (uint64_t)r->size - 1)];
}

static int
ring_has(struct idring *r, const char *id, uint64_t h)
{
	int32_t	i;

	for (i = *ring_head(r, h); i != -1; i = r->ent[i].next)
		if (r->ent[i].hash == h && strcmp(r->ent[i].id, id) == 0)
			return 1;
	return 0;
}

static int
ring_add(struct idring *r, const char *id, uint64_t h)
{
	struct id_ent	*e = &r->ent[r->next];
	int32_t		*pp;
	char		*copy;

	if ((copy = strdup(id)) == NULL)
		return -1;
	if (e->id != NULL) {
		/* Full: the oldest id leaves its chain. */
		for (pp = ring_head(r, e->hash); *pp != (int32_t)r->next;
		    pp = &r->ent[*pp].next)
			;
		*pp = e->next;
		free(e->id);
		r->evicted++;
	}
	e->id = copy;
	e->hash = h;
	pp = ring_head(r, h);
	e->next = *pp;
	*pp = (int32_t)r->next;
	r->next = (r->next + 1) % r->size;
	return 0;
}

/* ---- field access ---- */

/* A required, non-empty string member of the event's properties. */
static int
prop_str(struct ctx *c, const char *key, char **out)
{
	return chatmap_req_str(&c->cm, c->props, key, out);
}

/* properties.sessionID, else the sessionID of the nested object alt. */
static int
event_session(struct ctx *c, int alt, const char *altkey, char **out)
{
	int	t = json_obj_get(c->j, c->props, "sessionID");

	if (json_type(c->j, t) == -1 || json_type(c->j, t) == JSON_NULL)
		t = json_obj_get(c->j, alt, altkey);
	return chatmap_req_tok(&c->cm, t, "sessionID", out);
}

/* ---- output ---- */

/* Room for n bytes in the mapper's output buffer; -1 out of memory. */
static int
out_room(struct ctx *c, size_t n)
{
	struct event_mapper	*m = c->m;
	size_t			 cap;

	if (n <= m->out_cap)
		return 0;
	cap = n < OUT_MIN ? OUT_MIN : n;
	free(m->out);
	m->out_cap = 0;
	if ((m->out = malloc(cap)) == NULL) {
		c->oom = 1;
		return -1;
	}
	m->out_cap = cap;
	return 0;
}

/* Hands the n bytes packed in the output buffer on. */
static enum event_kind
emit_out(struct ctx *c, size_t n, const char *sid)
{
	struct event_mapper	*m = c->m;

	if (c->emit != NULL)
		c->emit(c->arg, sid, m->out, n);
	m->st.emitted++;
	if (m->out_cap > EVENT_OUT_KEEP) {
		free(m->out);
		m->out = NULL;
		m->out_cap = 0;
	}
	return EVENT_MAPPED;
}

static enum event_kind
emit_msg(struct ctx *c, const Opencode__ServerMessage *sm, const char *sid)
{
	size_t n;

	n = opencode__server_message__get_packed_size(sm);
	if (out_room(c, n) == -1)
		return EVENT_INVALID;
	if (opencode__server_message__pack(sm, c->m->out) != n) {
		c->oom = 1;
		return EVENT_INVALID;
	}
	return emit_out(c, n, sid);
}

/* A ChatToken, written by token_wire (the same bytes as emit_msg's). */
static enum event_kind
emit_token(struct ctx *c, const Opencode__ChatToken *tk)
{
	struct event_mapper	*m = c->m;
	size_t			 n;

	if ((n = token_wire_pack(tk, m->out, m->out_cap)) > m->out_cap) {
		if (out_room(c, n) == -1)
			return EVENT_INVALID;
		token_wire_pack(tk, m->out, m->out_cap);
	}
	return emit_out(c, n, tk->session_id);
}

/* A ChatToken's kind: its part's type, as part.updated announced it. */
static char *
token_kind(struct ctx *c, const char *part_id)
{
	return ring_has(&c->m->reasoning, part_id, hash_id(part_id)) ?
	    (char *)"reasoning" : (char *)"text";
}

/* The pending value is exactly the JSON text lit (n bytes, unescaped). */
static int
walk_raw_is(struct json_walk *w, const char *lit, size_t n)
{
	size_t off, len;

	return json_walk_span(w, &off, &len) == 0 && len == n &&
	    memcmp(w->s + off, lit, n) == 0;
}

/* A SessionEvent of the given kind. */
static enum event_kind
emit_session_event(struct ctx *c, Opencode__SessionEvent *se,
    const char *kind)
{
	Opencode__ServerMessage	sm = OPENCODE__SERVER_MESSAGE__INIT;

	se->kind = (char *)kind;
	sm.payload_case = OPENCODE__SERVER_MESSAGE__PAYLOAD_SESSION_EVENT;
	sm.session_event = se;
	return emit_msg(c, &sm, se->session_id);
}

/* ---- mappers ---- */

/* message.part.delta -> ChatToken, of the kind its part was announced with */
static enum event_kind
map_delta(struct ctx *c, const char *unused)
{
	static const char *const keys[] = { "field", "sessionID", "messageID",
	    "partID", "delta" };
	Opencode__ServerMessage	sm = OPENCODE__SERVER_MESSAGE__INIT;
	Opencode__ChatToken	tk = OPENCODE__CHAT_TOKEN__INIT;
	int			t[5];

	(void)unused;
	/* One walk finds the five: five json_obj_get compare three times as
	 * many keys. */
	json_obj_pick(c->j, c->props, keys, t, 5);
	if (json_type(c->j, t[0]) != JSON_STRING)
		return EVENT_INVALID;
	if (!json_str_eq(c->j, t[0], "text"))
		return EVENT_IGNORED;
	if (chatmap_req_tok(&c->cm, t[1], keys[1], &tk.session_id) == -1 ||
	    chatmap_req_tok(&c->cm, t[2], keys[2], &tk.message_id) == -1 ||
	    chatmap_req_tok(&c->cm, t[3], keys[3], &tk.part_id) == -1 ||
	    chatmap_tok_str(&c->cm, t[4], keys[4], &tk.delta) == -1)
		return EVENT_INVALID;
	tk.kind = token_kind(c, tk.part_id);
	sm.payload_case = OPENCODE__SERVER_MESSAGE__PAYLOAD_TOKEN;
	sm.token = &tk;
	return emit_msg(c, &sm, tk.session_id);
}

/*
 * message.part.delta, the event of every token, the usual way: read with
 * json_walk, in one pass and without tokens (jsmn was a third of netproc's
 * time on a token flood).  It takes only the usual shape: "type" before
 * "properties", "type" and "field" spelled without escapes, and no array
 * or object anywhere but the properties.  Anything else is left to the
 * full way (-1), so that what this takes, the full way takes too, with the
 * same checks (no value goes unchecked: the skimmed ones are strings and
 * literals, checked as jsmn and validate() in json.c check them) and the
 * same result; test_events and fuzz_sse compare the two.
 */
static int
delta_props(struct ctx *c, struct json_walk *w, Opencode__ChatToken *tk)
{
	static const char field_text[] = "\"text\"";
	static const char *const keys[] = { "field", "sessionID", "messageID",
	    "partID", "delta" };
	char		**str[] = { NULL, &tk->session_id, &tk->message_id,
	    &tk->part_id, &tk->delta };
	int		r, k, seen[5] = { 0 };

	if (json_walk_enter(w) == -1)
		return -1;
	while ((r = json_walk_next(w)) == 1) {
		k = json_walk_type(w);
		if (k == JSON_OBJECT || k == JSON_ARRAY || k == -1)
			return -1;
		if ((k = json_walk_key_pick(w, keys, 5)) == -1 || seen[k])
			continue;
		seen[k] = 1;
		if (k == 0) {
			if (!walk_raw_is(w, field_text, sizeof(field_text) - 1))
				return -1;
		} else if (json_walk_type(w) != JSON_STRING ||
		    json_walk_str(w, &c->m->a, str[k]) == -1 ||
		    (k < 4 && (*str[k])[0] == '\0'))
			return -1;
	}
	if (r == -1)
		return -1;
	for (k = 0; k < 5; k++)
		if (!seen[k])
			return -1;
	return 0;
}

static int
delta_fast(struct ctx *c, const char *json, size_t len, enum event_kind *kp)
{
	static const char type_delta[] = "\"message.part.delta\"";
	Opencode__ChatToken	tk = OPENCODE__CHAT_TOKEN__INIT;
	struct json_walk	w;
	int			r, k, type = 0, props = 0;

	if (json_walk_init(&w, json, len, 0) == -1 ||
	    json_walk_type(&w) != JSON_OBJECT || json_walk_enter(&w) == -1)
		return -1;
	while ((r = json_walk_next(&w)) == 1) {
		k = json_walk_type(&w);
		if (json_walk_key_eq(&w, "properties")) {
			/* After "type", once, an object: else the full way. */
			if (!type || props++ || k != JSON_OBJECT ||
			    delta_props(c, &w, &tk) == -1)
				return -1;
			continue;
		}
		if (k == JSON_OBJECT || k == JSON_ARRAY || k == -1)
			return -1;
		if (!type && json_walk_key_eq(&w, "type")) {
			type = 1;
			if (!walk_raw_is(&w, type_delta, sizeof(type_delta) - 1))
				return -1;
		}
	}
	if (r == -1 || json_walk_end(&w) == -1 || !props)
		return -1;
	tk.kind = token_kind(c, tk.part_id);
	*kp = emit_token(c, &tk);
	return 0;
}

/*
 * message.updated -> MessageInfo (every role, every time), then
 * ChatCompleted once per completed assistant message
 */
static enum event_kind
map_message(struct ctx *c, const char *unused)
{
	Opencode__ServerMessage	sm = OPENCODE__SERVER_MESSAGE__INIT;
	Opencode__MessageInfo	mi;
	Opencode__ChatCompleted	cc = OPENCODE__CHAT_COMPLETED__INIT;
	enum event_kind		k;
	uint64_t		h;
	int			info, completed;

	(void)unused;
	if ((info = chatmap_req_obj(&c->cm, c->props, "info")) == -1 ||
	    chatmap_message(&c->cm, info, &mi) == -1 ||
	    strlen(mi.id) > EVENT_ID_MAX)
		return EVENT_INVALID;
	/* chatmap checked them: time an object or absent, completed a number */
	completed = json_obj_get(c->j, json_obj_get(c->j, info, "time"),
	    "completed");
	sm.payload_case = OPENCODE__SERVER_MESSAGE__PAYLOAD_MESSAGE_UPDATED;
	sm.message_updated = &mi;
	if ((k = emit_msg(c, &sm, mi.session_id)) != EVENT_MAPPED)
		return k;
	if (strcmp(mi.role, "assistant") != 0 ||
	    json_type(c->j, completed) != JSON_NUMBER)
		return EVENT_MAPPED;	/* still running, or a user message */
	h = hash_id(mi.id);
	if (ring_has(&c->m->done, mi.id, h)) {
		c->m->st.duplicates++;
		return EVENT_MAPPED;
	}
	cc.session_id = mi.session_id;
	cc.message_id = mi.id;
	cc.finish = mi.finish;
	cc.input_tokens = mi.input_tokens;
	cc.output_tokens = mi.output_tokens;
	cc.error = mi.error_name;
	sm.payload_case = OPENCODE__SERVER_MESSAGE__PAYLOAD_COMPLETED;
	sm.completed = &cc;
	if ((k = emit_msg(c, &sm, cc.session_id)) == EVENT_MAPPED &&
	    ring_add(&c->m->done, cc.message_id, h) == -1)
		c->oom = 1;	/* sent, but a re-send would be sent again */
	return EVENT_MAPPED;	/* MessageInfo went out in any case */
}

/*
 * message.part.updated -> ToolCallEvent for a tool part, PartInfo for any
 * other; a reasoning part's id is remembered for its deltas.
 */
static enum event_kind
map_part(struct ctx *c, const char *unused)
{
	Opencode__ServerMessage	sm = OPENCODE__SERVER_MESSAGE__INIT;
	Opencode__PartInfo	pi;
	uint64_t		h;
	int			part;

	(void)unused;
	if ((part = chatmap_req_obj(&c->cm, c->props, "part")) == -1 ||
	    chatmap_part(&c->cm, part, &pi) == -1)
		return EVENT_INVALID;
	if (strcmp(pi.kind, "reasoning") == 0 &&
	    strlen(pi.id) <= EVENT_ID_MAX) {
		h = hash_id(pi.id);
		if (!ring_has(&c->m->reasoning, pi.id, h) &&
		    ring_add(&c->m->reasoning, pi.id, h) == -1)
			c->oom = 1;	/* its deltas will say "text" */
		c->m->st.reasoning_evicted = c->m->reasoning.evicted;
	}
	if (pi.tool != NULL) {
		sm.payload_case = OPENCODE__SERVER_MESSAGE__PAYLOAD_TOOL_CALL;
		sm.tool_call = pi.tool;
	} else {
		sm.payload_case =
		    OPENCODE__SERVER_MESSAGE__PAYLOAD_PART_UPDATED;
		sm.part_updated = &pi;
	}
	return emit_msg(c, &sm, pi.session_id);
}

/* permission.asked -> PermissionRequest */
static enum event_kind
map_permission(struct ctx *c, const char *unused)
{
	Opencode__ServerMessage		sm = OPENCODE__SERVER_MESSAGE__INIT;
	Opencode__PermissionRequest	pr;

	(void)unused;
	if (chatmap_permission(&c->cm, c->props, &pr) == -1)
		return EVENT_INVALID;
	sm.payload_case = OPENCODE__SERVER_MESSAGE__PAYLOAD_PERMISSION_REQUEST;
	sm.permission_request = &pr;
	return emit_msg(c, &sm, pr.session_id);
}

/* permission.replied -> PermissionResolved */
static enum event_kind
map_permission_replied(struct ctx *c, const char *unused)
{
	Opencode__ServerMessage		sm = OPENCODE__SERVER_MESSAGE__INIT;
	Opencode__PermissionResolved	pr =
					    OPENCODE__PERMISSION_RESOLVED__INIT;

	(void)unused;
	if (prop_str(c, "sessionID", &pr.session_id) == -1 ||
	    prop_str(c, "requestID", &pr.permission_id) == -1 ||
	    prop_str(c, "reply", &pr.reply) == -1)
		return EVENT_INVALID;
	sm.payload_case = OPENCODE__SERVER_MESSAGE__PAYLOAD_PERMISSION_RESOLVED;
	sm.permission_resolved = &pr;
	return emit_msg(c, &sm, pr.session_id);
}

/* question.asked -> QuestionRequest */
static enum event_kind
map_question(struct ctx *c, const char *unused)
{
	Opencode__ServerMessage		sm = OPENCODE__SERVER_MESSAGE__INIT;
	Opencode__QuestionRequest	qr;

	(void)unused;
	if (chatmap_question(&c->cm, c->props, &qr) == -1)
		return EVENT_INVALID;
	sm.payload_case = OPENCODE__SERVER_MESSAGE__PAYLOAD_QUESTION_REQUEST;
	sm.question_request = &qr;
	return emit_msg(c, &sm, qr.session_id);
}

/* question.replied, question.rejected -> QuestionResolved */
static enum event_kind
map_question_resolved(struct ctx *c, const char *kind)
{
	Opencode__ServerMessage		sm = OPENCODE__SERVER_MESSAGE__INIT;
	Opencode__QuestionResolved	qr = OPENCODE__QUESTION_RESOLVED__INIT;

	if (prop_str(c, "sessionID", &qr.session_id) == -1 ||
	    prop_str(c, "requestID", &qr.question_id) == -1)
		return EVENT_INVALID;
	qr.rejected = strcmp(kind, "rejected") == 0;
	sm.payload_case = OPENCODE__SERVER_MESSAGE__PAYLOAD_QUESTION_RESOLVED;
	sm.question_resolved = &qr;
	return emit_msg(c, &sm, qr.session_id);
}

/* todo.updated -> TodoList (todo_updated) */
static enum event_kind
map_todos(struct ctx *c, const char *unused)
{
	Opencode__ServerMessage	sm = OPENCODE__SERVER_MESSAGE__INIT;
	Opencode__TodoList	tl;
	char			*sid;

	(void)unused;
	if (prop_str(c, "sessionID", &sid) == -1 ||
	    chatmap_todos(&c->cm, json_obj_get(c->j, c->props,
	    "todos"), &tl) == -1)
		return EVENT_INVALID;
	tl.session_id = sid;
	sm.payload_case = OPENCODE__SERVER_MESSAGE__PAYLOAD_TODO_UPDATED;
	sm.todo_updated = &tl;
	return emit_msg(c, &sm, tl.session_id);
}

/* session.diff -> DiffList (diff_updated), message_id "" */
static enum event_kind
map_diff(struct ctx *c, const char *unused)
{
	Opencode__ServerMessage	sm = OPENCODE__SERVER_MESSAGE__INIT;
	Opencode__DiffList	dl;
	char			*sid;

	(void)unused;
	if (prop_str(c, "sessionID", &sid) == -1 ||
	    chatmap_diffs(&c->cm, json_obj_get(c->j, c->props,
	    "diff"), &dl) == -1)
		return EVENT_INVALID;
	dl.session_id = sid;
	sm.payload_case = OPENCODE__SERVER_MESSAGE__PAYLOAD_DIFF_UPDATED;
	sm.diff_updated = &dl;
	return emit_msg(c, &sm, dl.session_id);
}

/* message.removed -> MessageRemoved */
static enum event_kind
map_message_removed(struct ctx *c, const char *unused)
{
	Opencode__ServerMessage	sm = OPENCODE__SERVER_MESSAGE__INIT;
	Opencode__MessageRemoved mr = OPENCODE__MESSAGE_REMOVED__INIT;

	(void)unused;
	if (prop_str(c, "sessionID", &mr.session_id) == -1 ||
	    prop_str(c, "messageID", &mr.message_id) == -1)
		return EVENT_INVALID;
	sm.payload_case = OPENCODE__SERVER_MESSAGE__PAYLOAD_MESSAGE_REMOVED;
	sm.message_removed = &mr;
	return emit_msg(c, &sm, mr.session_id);
}

/* message.part.removed -> PartRemoved */
static enum event_kind
map_part_removed(struct ctx *c, const char *unused)
{
	Opencode__ServerMessage	sm = OPENCODE__SERVER_MESSAGE__INIT;
	Opencode__PartRemoved	pr = OPENCODE__PART_REMOVED__INIT;

	(void)unused;
	if (prop_str(c, "sessionID", &pr.session_id) == -1 ||
	    prop_str(c, "messageID", &pr.message_id) == -1 ||
	    prop_str(c, "partID", &pr.part_id) == -1)
		return EVENT_INVALID;
	sm.payload_case = OPENCODE__SERVER_MESSAGE__PAYLOAD_PART_REMOVED;
	sm.part_removed = &pr;
	return emit_msg(c, &sm, pr.session_id);
}

/* The Session object (as api.c maps it for replies). */
static int
session_info(struct ctx *c, int t, Opencode__SessionInfo *si)
{
	int	title, tm;

	if (chatmap_req_str(&c->cm, t, "id", &si->id) == -1)
		return -1;
	title = json_obj_get(c->j, t, "title");
	if (json_type(c->j, title) != -1 && json_type(c->j, title) != JSON_NULL) {
		if (chatmap_tok_str(&c->cm, title, "title", &si->title) == -1)
			return -1;
		si->_title_case = OPENCODE__SESSION_INFO___TITLE_TITLE;
	}
	if ((tm = chatmap_req_obj(&c->cm, t, "time")) == -1 ||
	    json_get_int64(c->j, json_obj_get(c->j, tm, "created"),
	    &si->created_at) == -1 ||
	    json_get_int64(c->j, json_obj_get(c->j, tm, "updated"),
	    &si->updated_at) == -1)
		return -1;
	return 0;
}

/* session.created, session.updated, session.deleted -> SessionEvent */
static enum event_kind
map_session(struct ctx *c, const char *kind)
{
	Opencode__SessionEvent	se = OPENCODE__SESSION_EVENT__INIT;
	Opencode__SessionInfo	si = OPENCODE__SESSION_INFO__INIT;
	int			info;

	if ((info = chatmap_req_obj(&c->cm, c->props, "info")) == -1 ||
	    event_session(c, info, "id", &se.session_id) == -1 ||
	    session_info(c, info, &si) == -1)
		return EVENT_INVALID;
	se.info = &si;
	return emit_session_event(c, &se, kind);
}

/* session.status -> SessionEvent{status} */
static enum event_kind
map_status(struct ctx *c, const char *kind)
{
	Opencode__SessionEvent	se = OPENCODE__SESSION_EVENT__INIT;
	struct chatmap		*cm = &c->cm;
	int			 st;

	if (prop_str(c, "sessionID", &se.session_id) == -1 ||
	    (st = chatmap_req_obj(cm, c->props, "status")) == -1 ||
	    chatmap_req_str(cm, st, "type", &se.status) == -1 ||
	    chatmap_opt_int(cm, st, "attempt", &se.attempt) == -1 ||
	    chatmap_opt_str(cm, st, "message", &se.error_message) == -1)
		return EVENT_INVALID;
	chatmap_error_text(se.error_message);
	return emit_session_event(c, &se, kind);
}

/* session.idle -> SessionEvent{idle} */
static enum event_kind
map_idle(struct ctx *c, const char *kind)
{
	Opencode__SessionEvent	se = OPENCODE__SESSION_EVENT__INIT;

	if (prop_str(c, "sessionID", &se.session_id) == -1)
		return EVENT_INVALID;
	return emit_session_event(c, &se, kind);
}

/* session.error (sessionID and error both optional) -> SessionEvent{error} */
static enum event_kind
map_error(struct ctx *c, const char *kind)
{
	Opencode__SessionEvent	se = OPENCODE__SESSION_EVENT__INIT;
	struct chatmap		*cm = &c->cm;
	int			 err, data;

	if (chatmap_opt_str(cm, c->props, "sessionID", &se.session_id) == -1 ||
	    (err = chatmap_opt_obj(cm, c->props, "error")) == -2 ||
	    chatmap_opt_str(cm, err, "name", &se.error_name) == -1 ||
	    (data = chatmap_opt_obj(cm, err, "data")) == -2 ||
	    chatmap_opt_str(cm, data, "message", &se.error_message) == -1)
		return EVENT_INVALID;
	chatmap_error_text(se.error_message);
	return emit_session_event(c, &se, kind);
}

/* The hot one first. */
static const struct {
	const char	*type;
	map_fn		 map;
	const char	*kind;		/* SessionEvent.kind */
} mappers[] = {
	{ "message.part.delta",		map_delta,	NULL },
	{ "message.part.updated",	map_part,	NULL },
	{ "message.updated",		map_message,	NULL },
	{ "session.status",		map_status,	"status" },
	{ "session.updated",		map_session,	"updated" },
	{ "session.idle",		map_idle,	"idle" },
	{ "session.created",		map_session,	"created" },
	{ "session.deleted",		map_session,	"deleted" },
	{ "session.error",		map_error,	"error" },
	{ "session.diff",		map_diff,	NULL },
	{ "todo.updated",		map_todos,	NULL },
	{ "permission.asked",		map_permission,	NULL },
	{ "permission.replied",		map_permission_replied, NULL },
	{ "question.asked",		map_question,	NULL },
	{ "question.replied",		map_question_resolved, "replied" },
	{ "question.rejected",		map_question_resolved, "rejected" },
	{ "message.removed",		map_message_removed, NULL },
	{ "message.part.removed",	map_part_removed, NULL },
};

/* ---- the mapper ---- */

struct event_mapper *
event_mapper_new(void)
{
	struct event_mapper	*m;

	if ((m = calloc(1, sizeof(*m))) == NULL)
		return NULL;
	if ((m->j = json_new()) == NULL ||
	    ring_init(&m->done, EVENT_COMPLETED_MAX) == -1 ||
	    ring_init(&m->reasoning, EVENT_PART_KINDS_MAX) == -1) {
		event_mapper_free(m);
		return NULL;
	}
	arena_init(&m->a);
	return m;
}

void
event_mapper_free(struct event_mapper *m)
{
	if (m == NULL)
		return;
	ring_free(&m->done);
	ring_free(&m->reasoning);
	arena_free(&m->a);
	json_free(m->j);
	free(m->out);
	free(m);
}

const struct event_stats *
event_mapper_stats(const struct event_mapper *m)
{
	return &m->st;
}

static int
name_ok(const char *s)
{
	for (; *s != '\0'; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		    (*s >= '0' && *s <= '9') || *s == '.' || *s == '_' ||
		    *s == '-'))
			return 0;
	return 1;
}

static void
count_ignored(struct event_mapper *m, const struct json *j, int t)
{
	struct event_stats	*st = &m->st;
	char			 name[EVENT_TYPE_NAME_MAX];
	size_t			 i, n;

	st->ignored++;
	if (json_str_decode(j, t, name, sizeof(name), &n) == -1 || n == 0 ||
	    !name_ok(name)) {
		st->ignored_other++;
		return;
	}
	for (i = 0; i < st->n_ignored_types; i++) {
		if (strcmp(st->ignored_types[i].name, name) == 0) {
			st->ignored_types[i].count++;
			return;
		}
	}
	if (st->n_ignored_types == EVENT_STATS_TYPES) {
		st->ignored_other++;
		return;
	}
	memcpy(st->ignored_types[i].name, name, n + 1);
	st->ignored_types[i].count = 1;
	st->n_ignored_types++;
}

void
event_mapper_slow_only(struct event_mapper *m, int on)
{
	m->slow_only = on;
}

enum event_kind
event_map(struct event_mapper *m, const char *json, size_t len,
    event_emit_fn emit, void *arg)
{
	struct ctx	 c;
	struct json	*j = m->j;
	enum event_kind	 k;
	size_t		 i;
	int		 type = -1;	/* none: a walked delta */

	memset(&c, 0, sizeof(c));
	c.m = m;
	c.emit = emit;
	c.arg = arg;
	if (!m->slow_only && delta_fast(&c, json, len, &k) == 0) {
		m->st.walked += k == EVENT_MAPPED;
		goto mapped;
	}
	/* What the walk decoded before it gave up. */
	arena_reset(&m->a);
	if (json_parse_into(j, json, len) == -1) {
		if (api_status_errno(errno) == API_ERR_NOMEM)
			m->st.nomem++;
		m->st.invalid++;
		json_clear(j);
		return EVENT_INVALID;
	}
	type = json_obj_get(j, 0, "type");
	if (json_type(j, type) != JSON_STRING) {
		k = EVENT_INVALID;
		goto done;
	}
	for (i = 0; i < sizeof(mappers) / sizeof(mappers[0]); i++)
		if (json_str_eq(j, type, mappers[i].type))
			break;
	if (i == sizeof(mappers) / sizeof(mappers[0])) {
		if (json_str_eq(j, type, "server.heartbeat"))
			k = EVENT_HEARTBEAT;
		else if (json_str_eq(j, type, "server.connected"))
			k = EVENT_CONNECTED;
		else
			k = EVENT_IGNORED;
		goto done;
	}
	c.j = j;
	c.cm.j = j;
	c.cm.buf = json;
	c.cm.len = len;
	c.cm.a = &m->a;
	if ((c.props = chatmap_req_obj(&c.cm, 0, "properties")) == -1)
		k = EVENT_INVALID;
	else
		k = mappers[i].map(&c, mappers[i].kind);
mapped:
	if (c.oom || c.cm.st == API_ERR_NOMEM) {
		m->st.nomem++;
		if (k != EVENT_MAPPED)
			k = EVENT_INVALID;
	}
	arena_reset(&m->a);
done:
	switch (k) {
	case EVENT_MAPPED:
		m->st.mapped++;
		break;
	case EVENT_IGNORED:
		count_ignored(m, j, type);
		break;
	case EVENT_CONNECTED:
		m->st.connected++;
		break;
	case EVENT_HEARTBEAT:
		m->st.heartbeats++;
		break;
	case EVENT_INVALID:
		m->st.invalid++;
		break;
	}
	json_clear(j);
	return k;
}
