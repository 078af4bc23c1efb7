/*
 * Upstream event -> ServerMessage mapping; see events.h for the policy and
 * shared/reference/opencode-1.18.34/README.md for the shapes.
 *
 * Hot path (message.part.delta, thousands per second): no allocation per
 * event.  The JSON is parsed into a struct json the mapper keeps (its token
 * array is reused, json_clear() frees one above JSON_KEEP_TOKENS), strings
 * are decoded into an arena that is reset after each event (it keeps its
 * first chunk), and messages are packed into a buffer the mapper keeps.
 *
 * Completed message ids live in a FIFO ring of EVENT_COMPLETED_MAX entries
 * indexed by a chained hash table (FNV-1a; the upstream is the trusted
 * server, so no keyed hash: a worst case is EVENT_COMPLETED_MAX string
 * compares on one completion event, never on a delta).
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/utf8.h"
#include "netproc/arena.h"
#include "netproc/events.h"
#include "netproc/json.h"
#include "proto/messages.pb-c.h"

#define DONE_BUCKETS	(2 * EVENT_COMPLETED_MAX)	/* a power of two */
#define OUT_MIN		256

struct done_ent {
	char		*id;		/* NULL: slot never used */
	uint64_t	 hash;
	int32_t		 next;		/* next in its bucket, or -1 */
};

struct event_mapper {
	struct arena		 a;
	struct json		*j;		/* reused for every event */
	uint8_t			*out;		/* packed message */
	size_t			 out_cap;
	struct event_stats	 st;
	uint32_t		 done_next;	/* slot to fill next: the oldest once full */
	struct done_ent		 done[EVENT_COMPLETED_MAX];
	int32_t			 bucket[DONE_BUCKETS];
};

/* One event being mapped. */
struct ctx {
	struct event_mapper	*m;
	const struct json	*j;
	const char		*buf;		/* the event's JSON text */
	size_t			 len;
	int			 props;		/* the properties object */
	int			 oom;
	event_emit_fn		 emit;
	void			*arg;
};

typedef enum event_kind (*map_fn)(struct ctx *, const char *);

#define EMPTY	((char *)protobuf_c_empty_string)

/* ---- completed message ids ---- */

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
done_has(const struct event_mapper *m, const char *id, uint64_t h)
{
	int32_t	i;

	for (i = m->bucket[h & (DONE_BUCKETS - 1)]; i != -1; i = m->done[i].next)
		if (m->done[i].hash == h && strcmp(m->done[i].id, id) == 0)
			return 1;
	return 0;
}

static int
done_add(struct event_mapper *m, const char *id, uint64_t h)
{
	struct done_ent	*e = &m->done[m->done_next];
	int32_t		*pp;
	char		*copy;

	if ((copy = strdup(id)) == NULL)
		return -1;
	if (e->id != NULL) {
		/* Full: the oldest id leaves its chain. */
		for (pp = &m->bucket[e->hash & (DONE_BUCKETS - 1)];
		    *pp != (int32_t)m->done_next; pp = &m->done[*pp].next)
			;
		*pp = e->next;
		free(e->id);
	}
	e->id = copy;
	e->hash = h;
	e->next = m->bucket[h & (DONE_BUCKETS - 1)];
	m->bucket[h & (DONE_BUCKETS - 1)] = (int32_t)m->done_next;
	m->done_next = (m->done_next + 1) % EVENT_COMPLETED_MAX;
	return 0;
}

/* ---- field access ---- */

static void *
c_alloc(struct ctx *c, size_t nmemb, size_t size)
{
	void	*p;

	if ((p = arena_calloc(&c->m->a, nmemb, size)) == NULL) {
		c->oom = 1;
		return NULL;
	}
	return p;
}

/* String token t, decoded: valid UTF-8 without NUL (json.h). */
static int
c_str(struct ctx *c, int t, char **out)
{
	if (json_type(c->j, t) != JSON_STRING)
		return -1;
	errno = 0;
	if (json_get_str(c->j, t, &c->m->a, out) == -1) {
		if (errno == ENOMEM)
			c->oom = 1;
		return -1;
	}
	return 0;
}

/* A required, non-empty string. */
static int
req_tok(struct ctx *c, int t, char **out)
{
	if (c_str(c, t, out) == -1 || (*out)[0] == '\0')
		return -1;
	return 0;
}

/* A required, non-empty string member. */
static int
req_str(struct ctx *c, int obj, const char *key, char **out)
{
	return req_tok(c, json_obj_get(c->j, obj, key), out);
}

/* An optional string member: absent or null is "". */
static int
opt_str(struct ctx *c, int obj, const char *key, char **out)
{
	int	t = json_obj_get(c->j, obj, key);

	switch (json_type(c->j, t)) {
	case -1:
	case JSON_NULL:
		*out = EMPTY;
		return 0;
	default:
		return c_str(c, t, out);
	}
}

/* An optional integer member: absent or null is 0. */
static int
opt_int(struct ctx *c, int obj, const char *key, int64_t *v)
{
	int	t = json_obj_get(c->j, obj, key);

	*v = 0;
	switch (json_type(c->j, t)) {
	case -1:
	case JSON_NULL:
		return 0;
	default:
		return json_get_int64(c->j, t, v);
	}
}

/*
 * An optional object member: its token, -1 when absent or null, -2 when it
 * is something else.  Lookups in -1 or -2 find nothing (json.h).
 */
static int
opt_obj(struct ctx *c, int obj, const char *key)
{
	int	t = json_obj_get(c->j, obj, key);

	switch (json_type(c->j, t)) {
	case -1:
	case JSON_NULL:
		return -1;
	case JSON_OBJECT:
		return t;
	default:
		return -2;
	}
}

static int
req_obj(struct ctx *c, int obj, const char *key)
{
	int	t = json_obj_get(c->j, obj, key);

	return json_type(c->j, t) == JSON_OBJECT ? t : -1;
}

/* properties.sessionID, else the sessionID of the nested object alt. */
static int
event_session(struct ctx *c, int alt, const char *altkey, char **out)
{
	int	t = json_obj_get(c->j, c->props, "sessionID");

	if (json_type(c->j, t) == -1 || json_type(c->j, t) == JSON_NULL)
		t = json_obj_get(c->j, alt, altkey);
	if (c_str(c, t, out) == -1 || (*out)[0] == '\0')
		return -1;
	return 0;
}

/*
 * The text of an error for the UI: its first line only (the upstream
 * appends server stack traces), control characters as spaces, at most
 * EVENT_ERRMSG_MAX bytes cut on a character boundary and marked "...".
 * In place: s was decoded into the arena.
 */
static void
error_text(char *s)
{
	size_t	i, n, cut;

	if (s[0] == '\0')
		return;		/* maybe the read-only EMPTY */
	n = strcspn(s, "\r\n");
	s[n] = '\0';
	for (i = 0; i < n; i++)
		if ((uint8_t)s[i] < 0x20 || s[i] == 0x7f)
			s[i] = ' ';
	if (n > EVENT_ERRMSG_MAX) {
		cut = EVENT_ERRMSG_MAX - 3;
		while (cut > 0 && ((uint8_t)s[cut] & 0xc0) == 0x80)
			cut--;
		memcpy(s + cut, "...", 4);
	}
}

/* ---- raw JSON text of a value ---- */

/*
 * Copies JSON text, making it valid UTF-8 (an invalid byte becomes U+FFFD)
 * and escaping raw control characters inside strings (jsmn lets them
 * through), so the copy is still valid JSON.  dst NULL only measures.
 */
static size_t
json_clean(const char *s, size_t n, char *dst)
{
	static const char	 hex[] = "0123456789abcdef";
	uint8_t			 enc[4];
	uint32_t		 cp;
	size_t			 i = 0, o = 0, w, k;
	int			 in_str = 0;
	uint8_t			 ch;

	while (i < n) {
		ch = (uint8_t)s[i];
		if (ch >= 0x80) {
			k = json_utf8_next((const uint8_t *)s + i, n - i, &cp);
			if (cp == 0xfffd && k == 1)
				w = utf8_encode(cp, enc);
			else {
				w = k;
				memcpy(enc, s + i, k);
			}
			if (dst != NULL)
				memcpy(dst + o, enc, w);
			o += w;
			i += k;
			continue;
		}
		if (in_str && ch < 0x20) {
			if (dst != NULL) {
				memcpy(dst + o, "\\u00", 4);
				dst[o + 4] = hex[ch >> 4];
				dst[o + 5] = hex[ch & 0xf];
			}
			o += 6;
			i++;
			continue;
		}
		if (ch == '"')
			in_str = !in_str;
		else if (ch == '\\' && in_str && i + 1 < n) {
			/* jsmn checked the escape: one ASCII byte follows. */
			if (dst != NULL)
				dst[o] = s[i];
			o++;
			i++;
			ch = (uint8_t)s[i];
			if (ch >= 0x80 || ch < 0x20)
				continue;	/* jsmn refuses it; cleaned anyway */
		}
		if (dst != NULL)
			dst[o] = (char)ch;
		o++;
		i++;
	}
	return o;
}

/* The JSON text of token t; absent or null gives "". */
static int
raw_json(struct ctx *c, int t, char **out)
{
	size_t	 start, end, n;
	char	*p;

	if (json_type(c->j, t) == -1 || json_type(c->j, t) == JSON_NULL) {
		*out = EMPTY;
		return 0;
	}
	if (json_raw(c->j, t, &start, &n) == -1 || start >= c->len ||
	    n > c->len - start)
		return -1;
	end = start + n;
	/* A tripwire: the span must start like the token it stands for. */
	switch (json_type(c->j, t)) {
	case JSON_OBJECT:
		if (c->buf[start] != '{')
			return -1;
		break;
	case JSON_ARRAY:
		if (c->buf[start] != '[')
			return -1;
		break;
	case JSON_STRING:
		if (c->buf[start] != '"')
			return -1;
		break;
	default:
		if (c->buf[start] == '{' || c->buf[start] == '[' ||
		    c->buf[start] == '"')
			return -1;
		break;
	}
	n = json_clean(c->buf + start, end - start, NULL);
	if ((p = c_alloc(c, n + 1, 1)) == NULL)
		return -1;
	json_clean(c->buf + start, end - start, p);
	*out = p;
	return 0;
}

/* ---- output ---- */

static enum event_kind
emit_msg(struct ctx *c, const Opencode__ServerMessage *sm, const char *sid)
{
	struct event_mapper	*m = c->m;
	size_t			 n, cap;

	n = opencode__server_message__get_packed_size(sm);
	if (n > m->out_cap) {
		cap = n < OUT_MIN ? OUT_MIN : n;
		free(m->out);
		m->out_cap = 0;
		if ((m->out = malloc(cap)) == NULL) {
			c->oom = 1;
			return EVENT_INVALID;
		}
		m->out_cap = cap;
	}
	if (opencode__server_message__pack(sm, m->out) != n) {
		c->oom = 1;
		return EVENT_INVALID;
	}
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

/* ---- mappers ---- */

/* message.part.delta -> ChatToken */
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
	if (req_tok(c, t[1], &tk.session_id) == -1 ||
	    req_tok(c, t[2], &tk.message_id) == -1 ||
	    req_tok(c, t[3], &tk.part_id) == -1 ||
	    c_str(c, t[4], &tk.delta) == -1)
		return EVENT_INVALID;
	sm.payload_case = OPENCODE__SERVER_MESSAGE__PAYLOAD_TOKEN;
	sm.token = &tk;
	return emit_msg(c, &sm, tk.session_id);
}

/* message.updated, a completed assistant message -> ChatCompleted, once */
static enum event_kind
map_message(struct ctx *c, const char *unused)
{
	Opencode__ServerMessage	sm = OPENCODE__SERVER_MESSAGE__INIT;
	Opencode__ChatCompleted	cc = OPENCODE__CHAT_COMPLETED__INIT;
	enum event_kind		k;
	uint64_t		h;
	int			info, role, tm, completed, tokens, err;

	(void)unused;
	if ((info = req_obj(c, c->props, "info")) == -1)
		return EVENT_INVALID;
	role = json_obj_get(c->j, info, "role");
	if (json_type(c->j, role) != JSON_STRING)
		return EVENT_INVALID;
	if (!json_str_eq(c->j, role, "assistant"))
		return EVENT_IGNORED;
	if ((tm = opt_obj(c, info, "time")) == -2)
		return EVENT_INVALID;
	completed = json_obj_get(c->j, tm, "completed");
	switch (json_type(c->j, completed)) {
	case -1:
	case JSON_NULL:
		return EVENT_IGNORED;	/* still running */
	case JSON_NUMBER:
		break;
	default:
		return EVENT_INVALID;
	}
	if (req_str(c, info, "id", &cc.message_id) == -1 ||
	    strlen(cc.message_id) > EVENT_ID_MAX)
		return EVENT_INVALID;
	h = hash_id(cc.message_id);
	if (done_has(c->m, cc.message_id, h)) {
		c->m->st.duplicates++;
		return EVENT_IGNORED;
	}
	if (event_session(c, info, "sessionID", &cc.session_id) == -1 ||
	    opt_str(c, info, "finish", &cc.finish) == -1 ||
	    (tokens = opt_obj(c, info, "tokens")) == -2 ||
	    opt_int(c, tokens, "input", &cc.input_tokens) == -1 ||
	    opt_int(c, tokens, "output", &cc.output_tokens) == -1 ||
	    (err = opt_obj(c, info, "error")) == -2 ||
	    opt_str(c, err, "name", &cc.error) == -1)
		return EVENT_INVALID;
	sm.payload_case = OPENCODE__SERVER_MESSAGE__PAYLOAD_COMPLETED;
	sm.completed = &cc;
	if ((k = emit_msg(c, &sm, cc.session_id)) == EVENT_MAPPED &&
	    done_add(c->m, cc.message_id, h) == -1)
		c->oom = 1;	/* sent, but a re-send would be sent again */
	return k;
}

/* message.part.updated, a tool part -> ToolCallEvent */
static enum event_kind
map_part(struct ctx *c, const char *unused)
{
	Opencode__ServerMessage	sm = OPENCODE__SERVER_MESSAGE__INIT;
	Opencode__ToolCallEvent	tc = OPENCODE__TOOL_CALL_EVENT__INIT;
	int			part, type, state, out, meta;

	(void)unused;
	if ((part = req_obj(c, c->props, "part")) == -1)
		return EVENT_INVALID;
	type = json_obj_get(c->j, part, "type");
	if (json_type(c->j, type) != JSON_STRING)
		return EVENT_INVALID;
	if (!json_str_eq(c->j, type, "tool"))
		return EVENT_IGNORED;
	if ((state = req_obj(c, part, "state")) == -1 ||
	    event_session(c, part, "sessionID", &tc.session_id) == -1 ||
	    req_str(c, part, "messageID", &tc.message_id) == -1 ||
	    req_str(c, part, "callID", &tc.call_id) == -1 ||
	    req_str(c, part, "tool", &tc.tool) == -1 ||
	    req_str(c, part, "id", &tc.part_id) == -1 ||
	    req_str(c, state, "status", &tc.status) == -1 ||
	    opt_str(c, state, "title", &tc.title) == -1 ||
	    opt_str(c, state, "error", &tc.error) == -1 ||
	    raw_json(c, json_obj_get(c->j, state, "input"), &tc.input_json) == -1)
		return EVENT_INVALID;
	/* Completed tools have output; a running bash streams metadata.output. */
	out = json_obj_get(c->j, state, "output");
	if (json_type(c->j, out) == -1 || json_type(c->j, out) == JSON_NULL) {
		meta = json_obj_get(c->j, state, "metadata");
		out = json_obj_get(c->j, meta, "output");
		if (json_type(c->j, out) != JSON_STRING)
			out = -1;
	}
	if (out != -1 && c_str(c, out, &tc.output) == -1)
		return EVENT_INVALID;
	sm.payload_case = OPENCODE__SERVER_MESSAGE__PAYLOAD_TOOL_CALL;
	sm.tool_call = &tc;
	return emit_msg(c, &sm, tc.session_id);
}

/* permission.asked -> PermissionRequest */
static enum event_kind
map_permission(struct ctx *c, const char *unused)
{
	Opencode__ServerMessage		sm = OPENCODE__SERVER_MESSAGE__INIT;
	Opencode__PermissionRequest	pr = OPENCODE__PERMISSION_REQUEST__INIT;
	size_t				i, n;
	int				pats, t, tool;

	(void)unused;
	if (req_str(c, c->props, "sessionID", &pr.session_id) == -1 ||
	    req_str(c, c->props, "id", &pr.permission_id) == -1 ||
	    req_str(c, c->props, "permission", &pr.permission) == -1 ||
	    raw_json(c, json_obj_get(c->j, c->props, "metadata"),
	    &pr.metadata_json) == -1 ||
	    (tool = opt_obj(c, c->props, "tool")) == -2 ||
	    opt_str(c, tool, "messageID", &pr.message_id) == -1 ||
	    opt_str(c, tool, "callID", &pr.call_id) == -1)
		return EVENT_INVALID;
	pats = json_obj_get(c->j, c->props, "patterns");
	switch (json_type(c->j, pats)) {
	case -1:
	case JSON_NULL:
		break;
	case JSON_ARRAY:
		n = (size_t)json_len(c->j, pats);
		if (n > 0 && (pr.patterns = c_alloc(c, n,
		    sizeof(*pr.patterns))) == NULL)
			return EVENT_INVALID;
		for (i = 0, t = pats + 1; i < n; i++, t = json_next(c->j, t))
			if (c_str(c, t, &pr.patterns[i]) == -1)
				return EVENT_INVALID;
		pr.n_patterns = n;
		break;
	default:
		return EVENT_INVALID;
	}
	sm.payload_case = OPENCODE__SERVER_MESSAGE__PAYLOAD_PERMISSION_REQUEST;
	sm.permission_request = &pr;
	return emit_msg(c, &sm, pr.session_id);
}

/* The Session object (as api.c maps it for replies). */
static int
session_info(struct ctx *c, int t, Opencode__SessionInfo *si)
{
	int	title, tm;

	if (req_str(c, t, "id", &si->id) == -1)
		return -1;
	title = json_obj_get(c->j, t, "title");
	if (json_type(c->j, title) != -1 && json_type(c->j, title) != JSON_NULL) {
		if (c_str(c, title, &si->title) == -1)
			return -1;
		si->_title_case = OPENCODE__SESSION_INFO___TITLE_TITLE;
	}
	if ((tm = req_obj(c, t, "time")) == -1 ||
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
	Opencode__ServerMessage	sm = OPENCODE__SERVER_MESSAGE__INIT;
	Opencode__SessionEvent	se = OPENCODE__SESSION_EVENT__INIT;
	Opencode__SessionInfo	si = OPENCODE__SESSION_INFO__INIT;
	int			info;

	if ((info = req_obj(c, c->props, "info")) == -1 ||
	    event_session(c, info, "id", &se.session_id) == -1 ||
	    session_info(c, info, &si) == -1)
		return EVENT_INVALID;
	se.kind = (char *)kind;
	se.info = &si;
	sm.payload_case = OPENCODE__SERVER_MESSAGE__PAYLOAD_SESSION_EVENT;
	sm.session_event = &se;
	return emit_msg(c, &sm, se.session_id);
}

/* session.status -> SessionEvent{status} */
static enum event_kind
map_status(struct ctx *c, const char *kind)
{
	Opencode__ServerMessage	sm = OPENCODE__SERVER_MESSAGE__INIT;
	Opencode__SessionEvent	se = OPENCODE__SESSION_EVENT__INIT;
	int			st;

	if (req_str(c, c->props, "sessionID", &se.session_id) == -1 ||
	    (st = req_obj(c, c->props, "status")) == -1 ||
	    req_str(c, st, "type", &se.status) == -1 ||
	    opt_int(c, st, "attempt", &se.attempt) == -1 ||
	    opt_str(c, st, "message", &se.error_message) == -1)
		return EVENT_INVALID;
	error_text(se.error_message);
	se.kind = (char *)kind;
	sm.payload_case = OPENCODE__SERVER_MESSAGE__PAYLOAD_SESSION_EVENT;
	sm.session_event = &se;
	return emit_msg(c, &sm, se.session_id);
}

/* session.idle -> SessionEvent{idle} */
static enum event_kind
map_idle(struct ctx *c, const char *kind)
{
	Opencode__ServerMessage	sm = OPENCODE__SERVER_MESSAGE__INIT;
	Opencode__SessionEvent	se = OPENCODE__SESSION_EVENT__INIT;

	if (req_str(c, c->props, "sessionID", &se.session_id) == -1)
		return EVENT_INVALID;
	se.kind = (char *)kind;
	sm.payload_case = OPENCODE__SERVER_MESSAGE__PAYLOAD_SESSION_EVENT;
	sm.session_event = &se;
	return emit_msg(c, &sm, se.session_id);
}

/* session.error (sessionID and error both optional) -> SessionEvent{error} */
static enum event_kind
map_error(struct ctx *c, const char *kind)
{
	Opencode__ServerMessage	sm = OPENCODE__SERVER_MESSAGE__INIT;
	Opencode__SessionEvent	se = OPENCODE__SESSION_EVENT__INIT;
	int			err, data;

	if (opt_str(c, c->props, "sessionID", &se.session_id) == -1 ||
	    (err = opt_obj(c, c->props, "error")) == -2 ||
	    opt_str(c, err, "name", &se.error_name) == -1 ||
	    (data = opt_obj(c, err, "data")) == -2 ||
	    opt_str(c, data, "message", &se.error_message) == -1)
		return EVENT_INVALID;
	error_text(se.error_message);
	se.kind = (char *)kind;
	sm.payload_case = OPENCODE__SERVER_MESSAGE__PAYLOAD_SESSION_EVENT;
	sm.session_event = &se;
	return emit_msg(c, &sm, se.session_id);
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
	{ "permission.asked",		map_permission,	NULL },
};

/* ---- the mapper ---- */

struct event_mapper *
event_mapper_new(void)
{
	struct event_mapper	*m;
	size_t			 i;

	if ((m = calloc(1, sizeof(*m))) == NULL)
		return NULL;
	if ((m->j = json_new()) == NULL) {
		free(m);
		return NULL;
	}
	arena_init(&m->a);
	for (i = 0; i < DONE_BUCKETS; i++)
		m->bucket[i] = -1;
	for (i = 0; i < EVENT_COMPLETED_MAX; i++)
		m->done[i].next = -1;
	return m;
}

void
event_mapper_free(struct event_mapper *m)
{
	size_t	i;

	if (m == NULL)
		return;
	for (i = 0; i < EVENT_COMPLETED_MAX; i++)
		free(m->done[i].id);
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

enum event_kind
event_map(struct event_mapper *m, const char *json, size_t len,
    event_emit_fn emit, void *arg)
{
	struct ctx	 c;
	struct json	*j = m->j;
	enum event_kind	 k;
	size_t		 i;
	int		 type;

	if (json_parse_into(j, json, len) == -1) {
		if (errno == ENOMEM)
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
	memset(&c, 0, sizeof(c));
	c.m = m;
	c.j = j;
	c.buf = json;
	c.len = len;
	c.emit = emit;
	c.arg = arg;
	if ((c.props = req_obj(&c, 0, "properties")) == -1)
		k = EVENT_INVALID;
	else
		k = mappers[i].map(&c, mappers[i].kind);
	if (c.oom) {
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
