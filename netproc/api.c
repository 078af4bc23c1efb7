/*
 * Copyright (c) 2026 The ocbroker authors
 * SPDX-License-Identifier: ISC (the licence is in the file LICENSE)
 */

/*
 * Reply mapping for the OpenCode 1.18 HTTP API: status, content type and
 * JSON checks, the 4A/4B mappers, the dispatch to the v2 ones (api_chat.c,
 * providers.c); see api.h and doc/protocol.md ("Mapping to the OpenCode
 * API", "Error codes").
 * Requests are built in api_build.c.
 *
 * Error text policy: a failed request answers "HTTP <status>", plus up to
 * API_QUOTE_MAX bytes of the upstream's own message (data.message, message,
 * name or _tag) for the endpoints whose request carries no secret
 * (api_call.quote_errors).  Bodies can echo the request, so /auth (which
 * carries keys) and /provider (whose document holds configured keys) are
 * never quoted, nor is a 401.  Quoted text is valid UTF-8 with control
 * characters replaced by spaces.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/utf8.h"
#include "netproc/api.h"
#include "netproc/api_chat.h"
#include "netproc/arena.h"
#include "netproc/json.h"
#include "netproc/providers.h"

static int
pack(const Opencode__ServerMessage *sm, uint8_t **out, size_t *out_len)
{
	size_t	 n;
	uint8_t	*p;

	n = opencode__server_message__get_packed_size(sm);
	if ((p = malloc(n > 0 ? n : 1)) == NULL)
		return -1;
	if (opencode__server_message__pack(sm, p) != n) {
		free(p);
		return -1;
	}
	*out = p;
	*out_len = n;
	return 0;
}

/* s[*ip...] as it will be shown: invalid UTF-8 as U+FFFD, controls as ' '. */
static size_t
msg_char(const char *s, size_t *ip, size_t len, uint8_t enc[4])
{
	uint32_t	cp;

	*ip += json_utf8_next((const uint8_t *)s + *ip, len - *ip, &cp);
	if (cp < 0x20 || (cp >= 0x7f && cp < 0xa0) || cp == 0x2028 ||
	    cp == 0x2029)
		cp = ' ';
	return utf8_encode(cp, enc);
}

/*
 * Appends s to dst (NUL-terminated, dstsize bytes), at most max bytes of
 * it; a cut falls on a character boundary and is marked "...".
 */
static void
msg_append(char *dst, size_t dstsize, const char *s, size_t max)
{
	uint8_t	enc[4];
	size_t	n, i, len, w, budget, total = 0;
	int	mark;

	n = strnlen(dst, dstsize);
	if (n + 1 >= dstsize)
		return;
	if (max > dstsize - n - 1)
		max = dstsize - n - 1;
	len = strlen(s);
	for (i = 0; i < len && total <= max; )
		total += msg_char(s, &i, len, enc);
	mark = total > max && max >= 3;
	budget = mark ? max - 3 : max;
	for (i = 0; i < len; ) {
		w = msg_char(s, &i, len, enc);
		if (w > budget)
			break;
		memcpy(dst + n, enc, w);
		n += w;
		budget -= w;
	}
	if (mark) {
		memcpy(dst + n, "...", 3);
		n += 3;
	}
	dst[n] = '\0';
}

static int
known_code(const char *code)
{
	static const char *const codes[] = {
		ERR_UNAUTHENTICATED, ERR_BAD_MESSAGE,
		ERR_UNKNOWN_REQUEST, ERR_INVALID_REQUEST,
		ERR_NOT_FOUND, ERR_UPSTREAM_UNAVAILABLE,
		ERR_UPSTREAM_TIMEOUT, ERR_UPSTREAM_ERROR,
		ERR_PARSE_ERROR, ERR_TOO_MANY_REQUESTS,
		ERR_INTERNAL
	};
	size_t	i;

	if (code == NULL)
		return 0;
	for (i = 0; i < sizeof(codes) / sizeof(codes[0]); i++)
		if (strcmp(code, codes[i]) == 0)
			return 1;
	return 0;
}

int
api_error_pack(uint64_t request_id, const char *code, const char *message,
    uint8_t **out, size_t *out_len)
{
	uint8_t	buf[API_ERRPACK_MAX];
	size_t	len;

	*out = NULL;
	*out_len = 0;
	len = api_error_pack_buf(request_id, code, message, buf);
	if ((*out = malloc(len)) == NULL)
		return -1;
	memcpy(*out, buf, len);
	*out_len = len;
	return 0;
}

size_t
api_error_pack_buf(uint64_t request_id, const char *code, const char *message,
    uint8_t buf[API_ERRPACK_MAX])
{
	Opencode__ServerMessage	sm = OPENCODE__SERVER_MESSAGE__INIT;
	Opencode__ErrorResponse	er = OPENCODE__ERROR_RESPONSE__INIT;
	char			msg[API_MSG_MAX];

	msg[0] = '\0';
	if (message != NULL)
		msg_append(msg, sizeof(msg), message, sizeof(msg) - 1);
	er.code = (char *)(known_code(code) ? code : ERR_INTERNAL);
	er.message = msg;
	sm.request_id = request_id;
	sm.payload_case = OPENCODE__SERVER_MESSAGE__PAYLOAD_ERROR;
	sm.error = &er;
	/* A known code and API_MSG_MAX - 1 bytes: well under the size. */
	return opencode__server_message__pack(&sm, buf);
}

void
api_transport_error(enum api_transport t, const char *detail,
    struct api_error *err)
{
	const char *msg = detail;

	err->code = ERR_UPSTREAM_ERROR;
	switch (t) {
	case API_XPORT_TIMEOUT:
		err->code = ERR_UPSTREAM_TIMEOUT;
		msg = "the upstream did not answer in time";
		break;
	case API_XPORT_UNREACHABLE:
		err->code = ERR_UPSTREAM_UNAVAILABLE;
		break;
	case API_XPORT_TLS:
		msg = "TLS: the upstream's certificate did not verify";
		break;
	case API_XPORT_OVER_BUDGET:
		snprintf(err->message, sizeof(err->message),
		    "netproc's body budget (%s) is spent", detail);
		return;
	case API_XPORT_TOO_LARGE:
		msg = "the upstream's answer is too large";
		break;
	case API_XPORT_NO_MEMORY:
		/* netproc's own failure, not the upstream's. */
		err->code = ERR_INTERNAL;
		msg = "out of memory";
		break;
	case API_XPORT_OTHER:
		break;
	}
	snprintf(err->message, sizeof(err->message), "%s",
	    msg != NULL ? msg : "");
}

enum api_status
api_status_errno(int err)
{
	switch (err) {
	case ENOMEM:
		return API_ERR_NOMEM;
	case E2BIG:
		return API_ERR_TOO_BIG;
	case ENOENT:
		return API_ERR_ABSENT;
	default:
		return API_ERR_MALFORMED;
	}
}

int
api_is_json_type(const char *ct)
{
	static const char	mt[] = "application/json";

	if (ct == NULL)
		return 0;
	while (*ct == ' ' || *ct == '\t')
		ct++;
	if (strncasecmp(ct, mt, sizeof(mt) - 1) != 0)
		return 0;
	ct += sizeof(mt) - 1;
	while (*ct == ' ' || *ct == '\t')
		ct++;
	return *ct == '\0' || *ct == ';';
}

/* The upstream's own error text, from the three shapes it uses. */
static void
quote_upstream(const struct api_response *r, char *msg, size_t msgsize)
{
	static const char *const keys[] = { "message", "name", "_tag" };
	struct json	*j;
	struct arena	 a;
	char		*s = NULL;
	size_t		 i;
	int		 t;

	if (!api_is_json_type(r->content_type) || r->body == NULL ||
	    r->body_len == 0 || r->body_len > API_ERRBODY_MAX ||
	    json_parse(r->body, r->body_len, &j) == -1)
		return;
	arena_init(&a);
	t = json_obj_get(j, json_obj_get(j, 0, "data"), "message");
	if (json_type(j, t) != JSON_STRING) {
		for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
			t = json_obj_get(j, 0, keys[i]);
			if (json_type(j, t) == JSON_STRING)
				break;
		}
	}
	if (json_type(j, t) == JSON_STRING && json_get_str(j, t, &a, &s) == 0 &&
	    s[0] != '\0') {
		msg_append(msg, msgsize, ": ", 2);
		msg_append(msg, msgsize, s, API_QUOTE_MAX);
	}
	arena_free(&a);
	json_free(j);
}

static int
reply_failure(const struct api_call *c, const struct api_response *r,
    uint8_t **out, size_t *out_len)
{
	const char	*code;
	char		 msg[API_MSG_MAX];

	if (r->status == 404)
		code = ERR_NOT_FOUND;
	else if (r->status == 429)
		code = ERR_TOO_MANY_REQUESTS;
	else
		code = ERR_UPSTREAM_ERROR;
	if (r->status < 100 || r->status > 599)
		snprintf(msg, sizeof(msg), "invalid HTTP status");
	else {
		snprintf(msg, sizeof(msg), "HTTP %ld", r->status);
		if (c->quote_errors && r->status != 401)
			quote_upstream(r, msg, sizeof(msg));
	}
	return api_error_pack(c->request_id, code, msg, out, out_len);
}

/* Mapping state; a mapper returns -1 with why and st set. */
struct map {
	const struct json	*j;
	struct arena		 a;
	const char		*why;
	enum api_status		 st;
};

/* After a json.c call that set errno (cleared before it), or a wrong type. */
static int
map_fail(struct map *m, const char *why)
{
	if (m->st == API_OK)
		m->st = api_status_errno(errno);
	m->why = why;
	return -1;
}

static void *
map_alloc(struct map *m, size_t nmemb, size_t size)
{
	void	*p;

	if ((p = arena_calloc(&m->a, nmemb, size)) == NULL)
		m->st = API_ERR_NOMEM;
	return p;
}

/* A required string: token t, the value of member key. */
static int
map_str_tok(struct map *m, int t, const char *key, char **out)
{
	errno = 0;
	if (json_type(m->j, t) != JSON_STRING ||
	    json_get_str(m->j, t, &m->a, out) == -1)
		return map_fail(m, key);
	return 0;
}

/* A required string member. */
static int
map_str(struct map *m, int obj, const char *key, char **out)
{
	return map_str_tok(m, json_obj_get(m->j, obj, key), key, out);
}

/* An optional string (token t, -1 if absent): absent or null leaves *set 0. */
static int
map_optstr_tok(struct map *m, int t, const char *key, char **out, int *set)
{
	*set = 0;
	errno = 0;
	switch (json_type(m->j, t)) {
	case -1:
	case JSON_NULL:
		return 0;
	case JSON_STRING:
		if (json_get_str(m->j, t, &m->a, out) == -1)
			return map_fail(m, key);
		*set = 1;
		return 0;
	default:
		return map_fail(m, key);
	}
}

/* An optional string member: absent or null leaves *set 0. */
static int
map_optstr(struct map *m, int obj, const char *key, char **out, int *set)
{
	return map_optstr_tok(m, json_obj_get(m->j, obj, key), key, out, set);
}

/*
 * GET /session and GET /session/{id} are read with a json_walk, without
 * tokens: of a session's dozen members three are read and the rest skimmed
 * (tokenizing the 5.5 KB list of ten sessions was most of netproc's CPU per
 * ListSessions).  What a skimmed value is checked for is in json.h.  The
 * first of duplicate keys counts, as json_obj_pick() has it.
 */

/* An array or object (type) at the cursor, entered; else why (EDOM). */
static int
map_enter(struct map *m, struct json_walk *w, int type, const char *why)
{
	errno = EDOM;
	if (json_walk_type(w) != type || json_walk_enter(w) == -1)
		return map_fail(m, why);
	return 0;
}

/* `time` at the cursor: {created, updated}, both required integers. */
static int
walk_session_time(struct map *m, struct json_walk *w,
    Opencode__SessionInfo *si)
{
	static const char *const keys[] = { "created", "updated" };
	int64_t	*v[] = { &si->created_at, &si->updated_at };
	int	 seen[2] = { 0, 0 }, k, r;

	if (map_enter(m, w, JSON_OBJECT, "time") == -1)
		return -1;
	while ((r = json_walk_next(w)) == 1) {
		if ((k = json_walk_key_pick(w, keys, 2)) == -1 || seen[k])
			continue;
		seen[k] = 1;
		if (json_walk_int64(w, v[k]) == -1)
			return map_fail(m, keys[k]);
	}
	if (r == -1)
		return map_fail(m, "time");
	errno = EDOM;
	for (k = 0; k < 2; k++)
		if (!seen[k])
			return map_fail(m, keys[k]);
	return 0;
}

/* A Session at the cursor: id and time required, title optional. */
static int
walk_session(struct map *m, struct json_walk *w, Opencode__SessionInfo *si)
{
	static const char *const keys[] = { "id", "title", "time" };
	int	seen[3] = { 0, 0, 0 }, k, r;

	opencode__session_info__init(si);
	if (map_enter(m, w, JSON_OBJECT, "session") == -1)
		return -1;
	while ((r = json_walk_next(w)) == 1) {
		if ((k = json_walk_key_pick(w, keys, 3)) == -1 || seen[k])
			continue;
		seen[k] = 1;
		if (k == 0) {
			if (json_walk_str(w, &m->a, &si->id) == -1)
				return map_fail(m, "id");
		} else if (k == 1) {
			/* null is skimmed by the next step, as absent. */
			if (json_walk_type(w) == JSON_NULL)
				continue;
			if (json_walk_str(w, &m->a, &si->title) == -1)
				return map_fail(m, "title");
			si->_title_case = OPENCODE__SESSION_INFO___TITLE_TITLE;
		} else if (walk_session_time(m, w, si) == -1)
			return -1;
	}
	if (r == -1)
		return map_fail(m, "session");
	errno = EDOM;
	if (!seen[0])
		return map_fail(m, "id");
	if (!seen[2])
		return map_fail(m, "time");
	return 0;
}

static int
walk_session_list(struct map *m, struct json_walk *w,
    Opencode__ServerMessage *sm)
{
	Opencode__SessionList	 *sl;
	Opencode__SessionInfo	**v = NULL, **nv;
	size_t			  n = 0, cap = 0;
	int			  r;

	if ((sl = map_alloc(m, 1, sizeof(*sl))) == NULL)
		return -1;
	opencode__session_list__init(sl);
	if (map_enter(m, w, JSON_ARRAY, "session list") == -1)
		return -1;
	while ((r = json_walk_next(w)) == 1) {
		if (n == cap) {
			/* The old arrays stay in the arena: 2n at most. */
			cap = cap == 0 ? 16 : cap * 2;
			if ((nv = map_alloc(m, cap, sizeof(*nv))) == NULL)
				return -1;
			if (n > 0)
				memcpy(nv, v, n * sizeof(*v));
			v = nv;
		}
		if ((v[n] = map_alloc(m, 1, sizeof(*v[n]))) == NULL ||
		    walk_session(m, w, v[n]) == -1)
			return -1;
		n++;
	}
	if (r == -1)
		return map_fail(m, "session list");
	sl->sessions = v;
	sl->n_sessions = n;
	sm->payload_case = OPENCODE__SERVER_MESSAGE__PAYLOAD_SESSION_LIST;
	sm->session_list = sl;
	return 0;
}

static int
walk_session_info(struct map *m, struct json_walk *w,
    Opencode__ServerMessage *sm)
{
	Opencode__SessionInfo	*si;

	if ((si = map_alloc(m, 1, sizeof(*si))) == NULL ||
	    walk_session(m, w, si) == -1)
		return -1;
	sm->payload_case = OPENCODE__SERVER_MESSAGE__PAYLOAD_SESSION_INFO;
	sm->session_info = si;
	return 0;
}

static int
map_agent(struct map *m, int t, Opencode__AgentInfo *ai)
{
	int	set, b, v;

	opencode__agent_info__init(ai);
	errno = 0;
	if (json_type(m->j, t) != JSON_OBJECT)
		return map_fail(m, "agent");
	if (map_str(m, t, "name", &ai->name) == -1)
		return -1;
	if (map_optstr(m, t, "description", &ai->description, &set) == -1)
		return -1;
	if (set)
		ai->_description_case =
		    OPENCODE__AGENT_INFO___DESCRIPTION_DESCRIPTION;
	if (map_optstr(m, t, "mode", &ai->mode, &set) == -1)
		return -1;
	if (set)
		ai->_mode_case = OPENCODE__AGENT_INFO___MODE_MODE;
	if (map_optstr(m, t, "color", &ai->color, &set) == -1)
		return -1;
	if (set)
		ai->_color_case = OPENCODE__AGENT_INFO___COLOR_COLOR;
	b = json_obj_get(m->j, t, "native");
	switch (json_type(m->j, b)) {
	case -1:
	case JSON_NULL:
		break;
	case JSON_BOOL:
		if (json_get_bool(m->j, b, &v) == -1)
			return map_fail(m, "native");
		ai->built_in = v;
		break;
	default:
		return map_fail(m, "native");
	}
	return 0;
}

static int
map_agent_list(struct map *m, Opencode__ServerMessage *sm)
{
	Opencode__AgentList	*al;
	Opencode__AgentInfo	*ai;
	size_t			 i, n;
	int			 t;

	errno = 0;
	if (json_type(m->j, 0) != JSON_ARRAY)
		return map_fail(m, "agent list");
	n = (size_t)json_len(m->j, 0);
	if ((al = map_alloc(m, 1, sizeof(*al))) == NULL)
		return -1;
	opencode__agent_list__init(al);
	if ((al->agents = map_alloc(m, n, sizeof(*al->agents))) == NULL ||
	    (ai = map_alloc(m, n, sizeof(*ai))) == NULL)
		return -1;
	for (i = 0, t = 1; i < n; i++, t = json_next(m->j, t)) {
		if (map_agent(m, t, &ai[i]) == -1)
			return -1;
		al->agents[i] = &ai[i];
	}
	al->n_agents = n;
	sm->payload_case = OPENCODE__SERVER_MESSAGE__PAYLOAD_AGENT_LIST;
	sm->agent_list = al;
	return 0;
}

/*
 * The top-level `connected` array of GET /provider: only that member was
 * parsed (json_parse_member), it is the root.
 */
static int
connected_array(struct map *m)
{
	errno = 0;
	if (json_type(m->j, 0) != JSON_ARRAY)
		return map_fail(m, "connected");
	return 0;
}

static int
map_provider_status(struct map *m, Opencode__ServerMessage *sm)
{
	Opencode__ProviderStatus	*ps;
	size_t				 i, n;
	int				 arr, t;

	if ((arr = connected_array(m)) == -1)
		return -1;
	n = (size_t)json_len(m->j, arr);
	if ((ps = map_alloc(m, 1, sizeof(*ps))) == NULL)
		return -1;
	opencode__provider_status__init(ps);
	if ((ps->connected = map_alloc(m, n, sizeof(*ps->connected))) == NULL)
		return -1;
	for (i = 0, t = arr + 1; i < n; i++, t = json_next(m->j, t)) {
		errno = 0;
		if (json_type(m->j, t) != JSON_STRING ||
		    json_get_str(m->j, t, &m->a, &ps->connected[i]) == -1)
			return map_fail(m, "connected");
	}
	ps->n_connected = n;
	sm->payload_case = OPENCODE__SERVER_MESSAGE__PAYLOAD_PROVIDER_STATUS;
	sm->provider_status = ps;
	return 0;
}

static int
map_auth_status(struct map *m, const struct api_call *c,
    Opencode__ServerMessage *sm)
{
	Opencode__AuthStatus	*as;
	size_t			 i, n;
	int			 arr, t;

	if ((arr = connected_array(m)) == -1)
		return -1;
	if ((as = map_alloc(m, 1, sizeof(*as))) == NULL)
		return -1;
	opencode__auth_status__init(as);
	if ((as->provider_id = arena_strndup(&m->a, c->provider_id,
	    strnlen(c->provider_id, sizeof(c->provider_id) - 1))) == NULL) {
		m->st = API_ERR_NOMEM;
		return -1;
	}
	n = (size_t)json_len(m->j, arr);
	for (i = 0, t = arr + 1; i < n; i++, t = json_next(m->j, t)) {
		errno = 0;
		if (json_type(m->j, t) != JSON_STRING)
			return map_fail(m, "connected");
		if (json_str_eq(m->j, t, as->provider_id))
			as->connected = 1;
	}
	sm->payload_case = OPENCODE__SERVER_MESSAGE__PAYLOAD_AUTH_STATUS;
	sm->auth_status = as;
	return 0;
}

static int
map_health(struct map *m, Opencode__ServerMessage *sm)
{
	Opencode__UpstreamHealth	*uh;
	int				 v;

	errno = 0;
	if (json_type(m->j, 0) != JSON_OBJECT)
		return map_fail(m, "health");
	if ((uh = map_alloc(m, 1, sizeof(*uh))) == NULL)
		return -1;
	opencode__upstream_health__init(uh);
	if (json_get_bool(m->j, json_obj_get(m->j, 0, "healthy"), &v) == -1)
		return map_fail(m, "healthy");
	uh->healthy = v;
	if (map_str(m, 0, "version", &uh->version) == -1)
		return -1;
	sm->payload_case = OPENCODE__SERVER_MESSAGE__PAYLOAD_UPSTREAM_HEALTH;
	sm->upstream_health = uh;
	return 0;
}

/*
 * Checks the content type and parses r's body.  0 with *jp set; 1 when
 * the answer is an ErrorResponse already packed in *out; -1 out of memory.
 */
/*
 * Unknown routes answer 200 text/html (the server's web UI): 1 when r is
 * such a reply and its error is packed, -1 out of memory, 0 JSON.
 */
static int
reply_not_json(const struct api_call *c, const struct api_response *r,
    uint8_t **out, size_t *out_len)
{
	if (api_is_json_type(r->content_type))
		return 0;
	return api_error_pack(c->request_id, ERR_UPSTREAM_ERROR,
	    "unexpected content type", out, out_len) == -1 ? -1 : 1;
}

static int
reply_parse(const struct api_call *c, const struct api_response *r,
    struct json **jp, uint8_t **out, size_t *out_len)
{
	enum api_status	st;
	int		provider, rc;

	if ((rc = reply_not_json(c, r, out, out_len)) != 0)
		return rc;
	/* GET /provider is 6.5 MB, of which only `connected` is read. */
	provider = c->kind == API_KIND_PROVIDER_STATUS ||
	    c->kind == API_KIND_AUTH_STATUS;
	if (r->body == NULL || (provider ?
	    json_parse_member(r->body, r->body_len, "connected", jp) :
	    json_parse(r->body, r->body_len, jp)) == -1) {
		st = r->body == NULL ? API_ERR_MALFORMED :
		    api_status_errno(errno);
		if (st == API_ERR_NOMEM)
			return -1;
		return api_error_pack(c->request_id, ERR_PARSE_ERROR,
		    st == API_ERR_TOO_BIG ? "reply too large" :
		    st == API_ERR_ABSENT ? "unexpected reply: connected" :
		    "invalid JSON", out, out_len) == -1 ? -1 : 1;
	}
	return 0;
}

/*
 * Packs sm, or the error a mapper's result stands for: rc 0 with why set
 * is a well-formed reply that cannot be sent (UPSTREAM_ERROR), rc -1 one
 * that did not map (PARSE_ERROR) or, with st API_ERR_NOMEM, out of memory,
 * rc -2 one without what the call named (NOT_FOUND); see api_chat.h.
 */
static int
reply_finish(const struct api_call *c, const Opencode__ServerMessage *sm,
    int rc, const char *why, enum api_status st, uint8_t **out,
    size_t *out_len)
{
	char	msg[API_MSG_MAX];

	if (rc == -2)
		return api_error_pack(c->request_id, ERR_NOT_FOUND, why, out,
		    out_len);
	if (rc == 0 && why != NULL)
		return api_error_pack(c->request_id, ERR_UPSTREAM_ERROR, why,
		    out, out_len);
	if (rc == 0)
		return pack(sm, out, out_len);
	if (st == API_ERR_NOMEM)
		return -1;
	snprintf(msg, sizeof(msg), "unexpected reply: %s",
	    why != NULL ? why : "?");
	return api_error_pack(c->request_id, ERR_PARSE_ERROR, msg, out,
	    out_len);
}

/* The v2 mappers work on a struct chatmap over the same document. */
static int
map_chat(struct map *m, const struct api_call *c,
    const struct api_response *r, Opencode__ServerMessage *sm)
{
	struct chatmap	cm;
	int		rc;

	memset(&cm, 0, sizeof(cm));
	cm.j = m->j;
	cm.buf = (const char *)r->body;
	cm.len = r->body_len;
	cm.a = &m->a;
	switch (c->kind) {
	case API_KIND_SESSION_STATUS_LIST:
		rc = api_map_status_list(&cm, sm);
		break;
	case API_KIND_MESSAGE_LIST:
		rc = api_map_message_list(&cm, c, sm);
		break;
	case API_KIND_COMMAND_LIST:
		rc = api_map_command_list(&cm, sm);
		break;
	case API_KIND_TODO_LIST:
		rc = api_map_todo_list(&cm, c, sm);
		break;
	default:
		rc = api_map_diff_list(&cm, c, sm);
		break;
	}
	m->why = cm.why;
	m->st = cm.st;
	return rc;
}

/* A session or a list of them, read with a walk (see walk_session()). */
static int
reply_walked(const struct api_call *c, const struct api_response *r,
    Opencode__ServerMessage *sm, uint8_t **out, size_t *out_len)
{
	struct json_walk	w;
	struct map		m;
	int			rc;

	if ((rc = reply_not_json(c, r, out, out_len)) != 0)
		return rc == 1 ? 0 : -1;
	memset(&m, 0, sizeof(m));
	arena_init(&m.a);
	/* No body is an empty one: malformed. */
	if (json_walk_init(&w, r->body, r->body != NULL ? r->body_len : 0,
	    0) == -1)
		rc = map_fail(&m, "invalid JSON");
	else if (c->kind == API_KIND_SESSION_LIST)
		rc = walk_session_list(&m, &w, sm);
	else
		rc = walk_session_info(&m, &w, sm);
	if (rc == 0 && json_walk_end(&w) == -1)
		rc = map_fail(&m, "invalid JSON");
	/* Malformed anywhere is told as json_parse()'s refusal is. */
	if (rc == -1 && w.failed && m.st != API_ERR_NOMEM)
		rc = api_error_pack(c->request_id, ERR_PARSE_ERROR,
		    m.st == API_ERR_TOO_BIG ? "reply too large" :
		    "invalid JSON", out, out_len);
	else
		rc = reply_finish(c, sm, rc, m.why, m.st, out, out_len);
	arena_free(&m.a);
	return rc;
}

static int
reply_success(const struct api_call *c, const struct api_response *r,
    uint8_t **out, size_t *out_len)
{
	Opencode__ServerMessage	 sm = OPENCODE__SERVER_MESSAGE__INIT;
	struct map		 m;
	struct json		*j;
	int			 rc, v;

	sm.request_id = c->request_id;
	if (c->kind == API_KIND_EMPTY && r->body_len == 0)
		return pack(&sm, out, out_len);
	if (c->kind == API_KIND_SESSION_LIST ||
	    c->kind == API_KIND_SESSION_INFO)
		return reply_walked(c, r, &sm, out, out_len);
	if ((rc = reply_parse(c, r, &j, out, out_len)) != 0)
		return rc == 1 ? 0 : -1;

	memset(&m, 0, sizeof(m));
	m.j = j;
	arena_init(&m.a);
	switch (c->kind) {
	case API_KIND_EMPTY:
		/* The body is `true`; `false` means it did not happen. */
		rc = 0;
		if (json_get_bool(j, 0, &v) == 0 && v == 0)
			m.why = "upstream answered false";
		break;
	case API_KIND_AGENT_LIST:
		rc = map_agent_list(&m, &sm);
		break;
	case API_KIND_PROVIDER_STATUS:
		rc = map_provider_status(&m, &sm);
		break;
	case API_KIND_AUTH_STATUS:
		rc = map_auth_status(&m, c, &sm);
		break;
	case API_KIND_HEALTH:
		rc = map_health(&m, &sm);
		break;
	default:
		rc = map_chat(&m, c, r, &sm);
		break;
	}
	rc = reply_finish(c, &sm, rc, m.why, m.st, out, out_len);
	arena_free(&m.a);
	json_free(j);
	return rc;
}

/*
 * ListPending: GET /permission (r) and GET /question (r->second), both
 * needed; when the second failed, or never came, that is the answer.
 */
static int
reply_pending(const struct api_call *c, const struct api_response *r,
    uint8_t **out, size_t *out_len)
{
	Opencode__ServerMessage	 sm = OPENCODE__SERVER_MESSAGE__INIT;
	const struct api_response *q = r->second;
	struct chatmap		 cp, cq;
	struct arena		 a;
	struct json		*jp, *jq;
	int			 rc;

	if (q == NULL)
		return api_error_pack(c->request_id, ERR_UPSTREAM_ERROR,
		    "no reply to GET /question", out, out_len);
	if (q->status < 200 || q->status > 299)
		return reply_failure(c, q, out, out_len);
	if ((rc = reply_parse(c, r, &jp, out, out_len)) != 0)
		return rc == 1 ? 0 : -1;
	if ((rc = reply_parse(c, q, &jq, out, out_len)) != 0) {
		json_free(jp);
		return rc == 1 ? 0 : -1;
	}
	sm.request_id = c->request_id;
	arena_init(&a);
	memset(&cp, 0, sizeof(cp));
	memset(&cq, 0, sizeof(cq));
	cp.j = jp;
	cp.buf = (const char *)r->body;
	cp.len = r->body_len;
	cp.a = &a;
	cq.j = jq;
	cq.buf = (const char *)q->body;
	cq.len = q->body_len;
	cq.a = &a;
	rc = api_map_pending_list(&cp, &cq, &sm);
	rc = reply_finish(c, &sm, rc, cp.why, cp.st, out, out_len);
	arena_free(&a);
	json_free(jq);
	json_free(jp);
	return rc;
}

int
api_reply_pack(const struct api_call *c, const struct api_response *r,
    uint8_t **out, size_t *out_len)
{
	*out = NULL;
	*out_len = 0;
	if (r->status < 200 || r->status > 299)
		return reply_failure(c, r, out, out_len);
	if (c->kind < API_KIND_EMPTY || c->kind > API_KIND_DIFF_LIST)
		return api_error_pack(c->request_id, ERR_INTERNAL,
		    "unknown reply kind", out, out_len);
	if (c->kind == API_KIND_PROVIDER_LIST)
		return providers_reply_pack(c, r, out, out_len);
	if (c->kind == API_KIND_PENDING_LIST)
		return reply_pending(c, r, out, out_len);
	if (c->path2_from_reply) {
		/* The message before which to page was there; the page is
		 * the second reply. */
		if (r->second == NULL)
			return api_error_pack(c->request_id,
			    ERR_UPSTREAM_ERROR, "no reply to the page GET", out,
			    out_len);
		if (r->second->status < 200 || r->second->status > 299)
			return reply_failure(c, r->second, out, out_len);
		return reply_success(c, r->second, out, out_len);
	}
	return reply_success(c, r, out, out_len);
}

/* ans holds ErrorResponse{code, message}, packed in ans->buf. */
static void
answer_error(const struct api_call *c, const char *code, const char *message,
    struct api_answer *ans)
{
	ans->err.code = code;
	snprintf(ans->err.message, sizeof(ans->err.message), "%s", message);
	ans->len = api_error_pack_buf(c->request_id, code, message, ans->buf);
	ans->msg = ans->buf;
}

void
api_answer(const struct api_call *c, const struct api_outcome *o,
    struct api_answer *ans)
{
	Opencode__ServerMessage sm = OPENCODE__SERVER_MESSAGE__INIT;
	struct api_error err;

	memset(ans, 0, sizeof(*ans));
	switch (o->end) {
	case API_END_REPLY:
		if (api_reply_pack(c, o->resp, &ans->msg, &ans->len) == -1)
			answer_error(c, ERR_INTERNAL, "out of memory", ans);
		return;
	case API_END_TRANSPORT:
		api_transport_error(o->transport, o->detail, &err);
		answer_error(c, err.code, err.message, ans);
		return;
	case API_END_ERROR:
		answer_error(c, o->err->code, o->err->message, ans);
		return;
	case API_END_QUEUE_FULL:
		answer_error(c, ERR_TOO_MANY_REQUESTS,
		    "too many upstream requests waiting in netproc", ans);
		return;
	case API_END_NO_MEMORY:
		answer_error(c, ERR_INTERNAL, "out of memory", ans);
		return;
	case API_END_SETUP:
		answer_error(c, ERR_INTERNAL,
		    "cannot set up the upstream request", ans);
		return;
	case API_END_ENDED:
		/* "The command ended": request_id alone, at most 11 bytes. */
		sm.request_id = c->request_id;
		ans->len = opencode__server_message__pack(&sm, ans->buf);
		ans->msg = ans->buf;
		return;
	}
	answer_error(c, ERR_INTERNAL, "unknown outcome", ans);
}

void
api_answer_free(struct api_answer *ans)
{
	if (ans->msg != ans->buf)
		free(ans->msg);
	ans->msg = NULL;
	ans->len = 0;
}
