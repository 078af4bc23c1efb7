/*
 * Request building and reply mapping for the OpenCode 1.18 HTTP API; see
 * api.h and DESIGN.md ("Messages", "Error codes").
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
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/utf8.h"
#include "netproc/api.h"
#include "netproc/arena.h"
#include "netproc/json.h"
#include "netproc/pathenc.h"

/* ---- request building ---- */

static int
fail(struct api_error *err, const char *code, const char *msg)
{
	err->code = code;
	snprintf(err->message, sizeof(err->message), "%s", msg);
	return -1;
}

static int
invalid(struct api_error *err, const char *msg)
{
	return fail(err, ERR_INVALID_REQUEST, msg);
}

static int
has_title(const Opencode__CreateSessionRequest *cs)
{
	return cs != NULL &&
	    cs->_title_case == OPENCODE__CREATE_SESSION_REQUEST___TITLE_TITLE;
}

/* A string that may go in a body: valid UTF-8, not absurdly long. */
static int
str_ok(const char *s)
{
	size_t	len;

	if (s == NULL)
		return 0;
	len = strnlen(s, API_FIELD_MAX + 1);
	return len <= API_FIELD_MAX && utf8_valid((const uint8_t *)s, len);
}

static int
name_ok(const char *s)
{
	return s != NULL && s[0] != '\0' && strnlen(s, API_NAME_MAX + 1) <=
	    API_NAME_MAX && str_ok(s);
}

/* JSON body writer; with p == NULL it only measures. */
struct jw {
	char	*p;
	size_t	 len;
};

static void
jw_raw(struct jw *w, const char *s)
{
	size_t	n = strlen(s);

	if (w->p != NULL)
		memcpy(w->p + w->len, s, n);
	w->len += n;
}

static void
jw_str(struct jw *w, const char *s)
{
	static const char	 hex[] = "0123456789abcdef";
	char			 esc[7];
	unsigned char		 c;

	jw_raw(w, "\"");
	for (; *s != '\0'; s++) {
		c = (unsigned char)*s;
		switch (c) {
		case '"':
			jw_raw(w, "\\\"");
			break;
		case '\\':
			jw_raw(w, "\\\\");
			break;
		case '\n':
			jw_raw(w, "\\n");
			break;
		case '\r':
			jw_raw(w, "\\r");
			break;
		case '\t':
			jw_raw(w, "\\t");
			break;
		default:
			if (c < 0x20) {
				memcpy(esc, "\\u00", 4);
				esc[4] = hex[c >> 4];
				esc[5] = hex[c & 0xf];
				esc[6] = '\0';
				jw_raw(w, esc);
			} else {
				if (w->p != NULL)
					w->p[w->len] = (char)c;
				w->len++;
			}
			break;
		}
	}
	jw_raw(w, "\"");
}

static void
jw_int(struct jw *w, int64_t v)
{
	char	buf[32];

	snprintf(buf, sizeof(buf), "%" PRId64, v);
	jw_raw(w, buf);
}

/* Writes the body of request m; the fields were validated before. */
static void
body_emit(struct jw *w, const Opencode__ClientMessage *m)
{
	const Opencode__CreateSessionRequest	*cs;
	const Opencode__AuthInfo		*ai;
	const Opencode__SendMessage		*sm;

	switch (m->payload_case) {
	case OPENCODE__CLIENT_MESSAGE__PAYLOAD_CREATE_SESSION:
		cs = m->create_session;
		jw_raw(w, "{");
		if (has_title(cs)) {
			jw_raw(w, "\"title\":");
			jw_str(w, cs->title);
		}
		jw_raw(w, "}");
		break;
	case OPENCODE__CLIENT_MESSAGE__PAYLOAD_SET_AUTH:
		ai = m->set_auth->auth;
		if (ai->auth_type_case ==
		    OPENCODE__AUTH_INFO__AUTH_TYPE_API_KEY) {
			jw_raw(w, "{\"type\":\"api\",\"key\":");
			jw_str(w, ai->api_key->key);
		} else {
			jw_raw(w, "{\"type\":\"oauth\",\"refresh\":");
			jw_str(w, ai->oauth->refresh_token);
			jw_raw(w, ",\"access\":");
			jw_str(w, ai->oauth->access_token);
			jw_raw(w, ",\"expires\":");
			jw_int(w, ai->oauth->expires_at);
		}
		jw_raw(w, "}");
		break;
	case OPENCODE__CLIENT_MESSAGE__PAYLOAD_SEND_MESSAGE:
		sm = m->send_message;
		jw_raw(w, "{\"parts\":[{\"type\":\"text\",\"text\":");
		jw_str(w, sm->text);
		jw_raw(w, "}]");
		if (sm->_provider_id_case ==
		    OPENCODE__SEND_MESSAGE___PROVIDER_ID_PROVIDER_ID) {
			jw_raw(w, ",\"model\":{\"providerID\":");
			jw_str(w, sm->provider_id);
			jw_raw(w, ",\"modelID\":");
			jw_str(w, sm->model_id);
			jw_raw(w, "}");
		}
		if (sm->_agent_case == OPENCODE__SEND_MESSAGE___AGENT_AGENT) {
			jw_raw(w, ",\"agent\":");
			jw_str(w, sm->agent);
		}
		jw_raw(w, "}");
		break;
	case OPENCODE__CLIENT_MESSAGE__PAYLOAD_REPLY_PERMISSION:
		jw_raw(w, "{\"reply\":");
		jw_str(w, m->reply_permission->reply);
		jw_raw(w, "}");
		break;
	default:
		break;
	}
}

/*
 * Measures, then writes into a buffer of the exact size: a key is never
 * left behind in memory freed by a realloc.
 */
static int
body_build(struct api_call *c, const Opencode__ClientMessage *m,
    struct api_error *err)
{
	struct jw	w = { NULL, 0 };

	body_emit(&w, m);
	if ((w.p = malloc(w.len + 1)) == NULL)
		return fail(err, ERR_INTERNAL, "out of memory");
	c->body_len = w.len;
	w.len = 0;
	body_emit(&w, m);
	w.p[w.len] = '\0';
	c->body = w.p;
	return 0;
}

static int
set_path(struct api_call *c, const char *prefix, const char *id,
    const char *suffix, struct api_error *err)
{
	c->path[0] = '\0';
	if (strlen(prefix) >= sizeof(c->path))
		return fail(err, ERR_INTERNAL, "path too long");
	memcpy(c->path, prefix, strlen(prefix) + 1);
	if ((id != NULL &&
	    pathenc_append(c->path, sizeof(c->path), id) == -1) ||
	    strlen(c->path) + strlen(suffix) >= sizeof(c->path))
		return invalid(err, "path too long");
	memcpy(c->path + strlen(c->path), suffix, strlen(suffix) + 1);
	return 0;
}

static void
set_call(struct api_call *c, enum api_method method, int kind, int quote)
{
	c->method = method;
	c->kind = kind;
	c->quote_errors = quote;
}

static int
build_set_auth(const Opencode__SetAuthRequest *sa, struct api_call *c,
    struct api_error *err)
{
	const Opencode__AuthInfo	*ai;

	if (sa == NULL || !pathenc_provider_id(sa->provider_id))
		return invalid(err, "invalid provider_id");
	if ((ai = sa->auth) == NULL)
		return invalid(err, "missing auth");
	switch (ai->auth_type_case) {
	case OPENCODE__AUTH_INFO__AUTH_TYPE_API_KEY:
		if (ai->api_key == NULL || ai->api_key->key == NULL ||
		    ai->api_key->key[0] == '\0' || !str_ok(ai->api_key->key))
			return invalid(err, "invalid api key");
		break;
	case OPENCODE__AUTH_INFO__AUTH_TYPE_OAUTH:
		if (ai->oauth == NULL || ai->oauth->access_token == NULL ||
		    ai->oauth->access_token[0] == '\0' ||
		    !str_ok(ai->oauth->access_token) ||
		    !str_ok(ai->oauth->refresh_token))
			return invalid(err, "invalid oauth tokens");
		if (ai->oauth->expires_at < 0)
			return invalid(err, "invalid expires_at");
		break;
	default:
		return invalid(err, "missing auth");
	}
	if (set_path(c, "/auth/", sa->provider_id, "", err) == -1)
		return -1;
	set_call(c, API_PUT, API_KIND_EMPTY, 0);
	return 0;
}

static int
build_send(const Opencode__SendMessage *sm, struct api_call *c,
    struct api_error *err)
{
	int	has_p, has_m;

	if (sm == NULL || !pathenc_session_id(sm->session_id))
		return invalid(err, "invalid session_id");
	if (sm->text == NULL || sm->text[0] == '\0')
		return invalid(err, "empty text");
	if (!str_ok(sm->text))
		return invalid(err, "invalid text");
	has_p = sm->_provider_id_case ==
	    OPENCODE__SEND_MESSAGE___PROVIDER_ID_PROVIDER_ID;
	has_m = sm->_model_id_case ==
	    OPENCODE__SEND_MESSAGE___MODEL_ID_MODEL_ID;
	if (has_p != has_m)
		return invalid(err, "provider_id and model_id go together");
	if (has_p && !pathenc_provider_id(sm->provider_id))
		return invalid(err, "invalid provider_id");
	if (has_m && !name_ok(sm->model_id))
		return invalid(err, "invalid model_id");
	if (sm->_agent_case == OPENCODE__SEND_MESSAGE___AGENT_AGENT &&
	    !name_ok(sm->agent))
		return invalid(err, "invalid agent");
	if (set_path(c, "/session/", sm->session_id, "/prompt_async",
	    err) == -1)
		return -1;
	set_call(c, API_POST, API_KIND_EMPTY, 1);
	return 0;
}

static int
build_reply(const Opencode__ReplyPermission *rp, struct api_call *c,
    struct api_error *err)
{
	if (rp == NULL || !pathenc_permission_id(rp->permission_id))
		return invalid(err, "invalid permission_id");
	if (rp->session_id != NULL && rp->session_id[0] != '\0' &&
	    !pathenc_session_id(rp->session_id))
		return invalid(err, "invalid session_id");
	if (rp->reply == NULL || (strcmp(rp->reply, "once") != 0 &&
	    strcmp(rp->reply, "always") != 0 &&
	    strcmp(rp->reply, "reject") != 0))
		return invalid(err, "invalid reply");
	if (set_path(c, "/permission/", rp->permission_id, "/reply", err) == -1)
		return -1;
	set_call(c, API_POST, API_KIND_EMPTY, 1);
	return 0;
}

static int
build(const Opencode__ClientMessage *m, struct api_call *c,
    struct api_error *err)
{
	const Opencode__CreateSessionRequest	*cs;
	const char				*id;

	switch (m->payload_case) {
	case OPENCODE__CLIENT_MESSAGE__PAYLOAD_LIST_SESSIONS:
		set_call(c, API_GET, API_KIND_SESSION_LIST, 1);
		return set_path(c, "/session", NULL, "", err);
	case OPENCODE__CLIENT_MESSAGE__PAYLOAD_CREATE_SESSION:
		cs = m->create_session;
		if (has_title(cs) && !str_ok(cs->title))
			return invalid(err, "invalid title");
		set_call(c, API_POST, API_KIND_SESSION_INFO, 1);
		return set_path(c, "/session", NULL, "", err);
	case OPENCODE__CLIENT_MESSAGE__PAYLOAD_DELETE_SESSION:
		id = m->delete_session != NULL ?
		    m->delete_session->session_id : NULL;
		if (!pathenc_session_id(id))
			return invalid(err, "invalid session_id");
		set_call(c, API_DELETE, API_KIND_EMPTY, 1);
		return set_path(c, "/session/", id, "", err);
	case OPENCODE__CLIENT_MESSAGE__PAYLOAD_LIST_AGENTS:
		set_call(c, API_GET, API_KIND_AGENT_LIST, 1);
		return set_path(c, "/agent", NULL, "", err);
	case OPENCODE__CLIENT_MESSAGE__PAYLOAD_GET_PROVIDER_STATUS:
		set_call(c, API_GET, API_KIND_PROVIDER_STATUS, 0);
		return set_path(c, "/provider", NULL, "", err);
	case OPENCODE__CLIENT_MESSAGE__PAYLOAD_SET_AUTH:
		return build_set_auth(m->set_auth, c, err);
	case OPENCODE__CLIENT_MESSAGE__PAYLOAD_GET_AUTH:
		id = m->get_auth != NULL ? m->get_auth->provider_id : NULL;
		if (!pathenc_provider_id(id))
			return invalid(err, "invalid provider_id");
		/* PATHENC_ID_MAX < API_PROVIDER_MAX */
		snprintf(c->provider_id, sizeof(c->provider_id), "%s", id);
		set_call(c, API_GET, API_KIND_AUTH_STATUS, 0);
		return set_path(c, "/provider", NULL, "", err);
	case OPENCODE__CLIENT_MESSAGE__PAYLOAD_DELETE_AUTH:
		id = m->delete_auth != NULL ?
		    m->delete_auth->provider_id : NULL;
		if (!pathenc_provider_id(id))
			return invalid(err, "invalid provider_id");
		set_call(c, API_DELETE, API_KIND_EMPTY, 0);
		return set_path(c, "/auth/", id, "", err);
	case OPENCODE__CLIENT_MESSAGE__PAYLOAD_HEALTH_CHECK:
		set_call(c, API_GET, API_KIND_HEALTH, 1);
		return set_path(c, "/global/health", NULL, "", err);
	case OPENCODE__CLIENT_MESSAGE__PAYLOAD_SEND_MESSAGE:
		return build_send(m->send_message, c, err);
	case OPENCODE__CLIENT_MESSAGE__PAYLOAD_CANCEL_REQUEST:
		id = m->cancel_request != NULL ?
		    m->cancel_request->session_id : NULL;
		if (!pathenc_session_id(id))
			return invalid(err, "invalid session_id");
		set_call(c, API_POST, API_KIND_EMPTY, 1);
		return set_path(c, "/session/", id, "/abort", err);
	case OPENCODE__CLIENT_MESSAGE__PAYLOAD_REPLY_PERMISSION:
		return build_reply(m->reply_permission, c, err);
	case OPENCODE__CLIENT_MESSAGE__PAYLOAD__NOT_SET:
		return fail(err, ERR_UNKNOWN_REQUEST, "no payload");
	default:
		/* AuthHandshake and Subscribe are the front's. */
		return fail(err, ERR_UNKNOWN_REQUEST, "unknown request");
	}
}

int
api_call_build(const Opencode__ClientMessage *m, struct api_call *c,
    struct api_error *err)
{
	memset(c, 0, sizeof(*c));
	err->code = NULL;
	err->message[0] = '\0';
	if (m == NULL)
		return fail(err, ERR_UNKNOWN_REQUEST, "no payload");
	c->request_id = m->request_id;
	if (build(m, c, err) == -1)
		goto bad;
	switch (m->payload_case) {
	case OPENCODE__CLIENT_MESSAGE__PAYLOAD_CREATE_SESSION:
	case OPENCODE__CLIENT_MESSAGE__PAYLOAD_SET_AUTH:
	case OPENCODE__CLIENT_MESSAGE__PAYLOAD_SEND_MESSAGE:
	case OPENCODE__CLIENT_MESSAGE__PAYLOAD_REPLY_PERMISSION:
		if (body_build(c, m, err) == -1)
			goto bad;
		break;
	default:
		break;
	}
	return 0;
bad:
	memset(c, 0, sizeof(*c));
	return -1;
}

void
api_call_free(struct api_call *c)
{
	if (c == NULL || c->body == NULL)
		return;
	explicit_bzero(c->body, c->body_len);
	free(c->body);
	c->body = NULL;
	c->body_len = 0;
}

const char *
api_method_name(enum api_method m)
{
	switch (m) {
	case API_GET:
		return "GET";
	case API_POST:
		return "POST";
	case API_PUT:
		return "PUT";
	case API_DELETE:
		return "DELETE";
	case API_PATCH:
		return "PATCH";
	}
	return "GET";
}

/* ---- replies ---- */

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
	Opencode__ServerMessage	sm = OPENCODE__SERVER_MESSAGE__INIT;
	Opencode__ErrorResponse	er = OPENCODE__ERROR_RESPONSE__INIT;
	char			msg[API_MSG_MAX];

	*out = NULL;
	*out_len = 0;
	msg[0] = '\0';
	if (message != NULL)
		msg_append(msg, sizeof(msg), message, sizeof(msg) - 1);
	er.code = (char *)(known_code(code) ? code : ERR_INTERNAL);
	er.message = msg;
	sm.request_id = request_id;
	sm.payload_case = OPENCODE__SERVER_MESSAGE__PAYLOAD_ERROR;
	sm.error = &er;
	return pack(&sm, out, out_len);
}

static int
is_json_type(const char *ct)
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

	if (!is_json_type(r->content_type) || r->body == NULL ||
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

/* Mapping state; a mapper returns -1 with why set, or oom on ENOMEM. */
struct map {
	const struct json	*j;
	struct arena		 a;
	const char		*why;
	int			 oom;
};

static int
map_fail(struct map *m, const char *why)
{
	if (errno == ENOMEM)
		m->oom = 1;
	m->why = why;
	return -1;
}

static void *
map_alloc(struct map *m, size_t nmemb, size_t size)
{
	void	*p;

	if ((p = arena_calloc(&m->a, nmemb, size)) == NULL)
		m->oom = 1;
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

static int
map_int_tok(struct map *m, int t, const char *key, int64_t *v)
{
	errno = 0;
	if (json_get_int64(m->j, t, v) == -1)
		return map_fail(m, key);
	return 0;
}

static int
map_session(struct map *m, int t, Opencode__SessionInfo *si)
{
	static const char *const keys[] = { "id", "title", "time" };
	static const char *const tkeys[] = { "created", "updated" };
	int	set, v[3], tv[2];

	opencode__session_info__init(si);
	errno = 0;
	if (json_type(m->j, t) != JSON_OBJECT)
		return map_fail(m, "session");
	/* One walk over the members finds the three (a list has dozens). */
	json_obj_pick(m->j, t, keys, v, 3);
	if (map_str_tok(m, v[0], "id", &si->id) == -1 ||
	    map_optstr_tok(m, v[1], "title", &si->title, &set) == -1)
		return -1;
	if (set)
		si->_title_case = OPENCODE__SESSION_INFO___TITLE_TITLE;
	if (json_type(m->j, v[2]) != JSON_OBJECT)
		return map_fail(m, "time");
	json_obj_pick(m->j, v[2], tkeys, tv, 2);
	if (map_int_tok(m, tv[0], "created", &si->created_at) == -1 ||
	    map_int_tok(m, tv[1], "updated", &si->updated_at) == -1)
		return -1;
	return 0;
}

static int
map_session_list(struct map *m, Opencode__ServerMessage *sm)
{
	Opencode__SessionList	 *sl;
	Opencode__SessionInfo	 *si;
	size_t			  i, n;
	int			  t;

	errno = 0;
	if (json_type(m->j, 0) != JSON_ARRAY)
		return map_fail(m, "session list");
	n = (size_t)json_len(m->j, 0);
	if ((sl = map_alloc(m, 1, sizeof(*sl))) == NULL)
		return -1;
	opencode__session_list__init(sl);
	if ((sl->sessions = map_alloc(m, n, sizeof(*sl->sessions))) == NULL ||
	    (si = map_alloc(m, n, sizeof(*si))) == NULL)
		return -1;
	for (i = 0, t = 1; i < n; i++, t = json_next(m->j, t)) {
		if (map_session(m, t, &si[i]) == -1)
			return -1;
		sl->sessions[i] = &si[i];
	}
	sl->n_sessions = n;
	sm->payload_case = OPENCODE__SERVER_MESSAGE__PAYLOAD_SESSION_LIST;
	sm->session_list = sl;
	return 0;
}

static int
map_session_info(struct map *m, Opencode__ServerMessage *sm)
{
	Opencode__SessionInfo	*si;

	if ((si = map_alloc(m, 1, sizeof(*si))) == NULL ||
	    map_session(m, 0, si) == -1)
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
		m->oom = 1;
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

static int
reply_success(const struct api_call *c, const struct api_response *r,
    uint8_t **out, size_t *out_len)
{
	Opencode__ServerMessage	 sm = OPENCODE__SERVER_MESSAGE__INIT;
	struct map		 m;
	struct json		*j;
	char			 msg[API_MSG_MAX];
	int			 rc, v, provider;

	sm.request_id = c->request_id;
	if (c->kind < API_KIND_EMPTY || c->kind > API_KIND_HEALTH)
		return api_error_pack(c->request_id, ERR_INTERNAL,
		    "unknown reply kind", out, out_len);
	if (c->kind == API_KIND_EMPTY && r->body_len == 0)
		return pack(&sm, out, out_len);
	/* Unknown routes answer 200 text/html (the server's web UI). */
	if (!is_json_type(r->content_type))
		return api_error_pack(c->request_id, ERR_UPSTREAM_ERROR,
		    "unexpected content type", out, out_len);
	/* GET /provider is 6.5 MB, of which only `connected` is read. */
	provider = c->kind == API_KIND_PROVIDER_STATUS ||
	    c->kind == API_KIND_AUTH_STATUS;
	if (r->body == NULL || (provider ?
	    json_parse_member(r->body, r->body_len, "connected", &j) :
	    json_parse(r->body, r->body_len, &j)) == -1) {
		if (r->body != NULL && errno == ENOMEM)
			return -1;
		return api_error_pack(c->request_id, ERR_PARSE_ERROR,
		    r->body == NULL ? "invalid JSON" :
		    errno == E2BIG ? "reply too large" :
		    errno == ENOENT ? "unexpected reply: connected" :
		    "invalid JSON", out, out_len);
	}

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
	case API_KIND_SESSION_LIST:
		rc = map_session_list(&m, &sm);
		break;
	case API_KIND_SESSION_INFO:
		rc = map_session_info(&m, &sm);
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
	default:
		rc = map_health(&m, &sm);
		break;
	}

	if (rc == 0 && m.why != NULL)
		rc = api_error_pack(c->request_id, ERR_UPSTREAM_ERROR,
		    m.why, out, out_len);
	else if (rc == 0)
		rc = pack(&sm, out, out_len);
	else if (!m.oom) {
		snprintf(msg, sizeof(msg), "unexpected reply: %s",
		    m.why != NULL ? m.why : "?");
		rc = api_error_pack(c->request_id, ERR_PARSE_ERROR, msg,
		    out, out_len);
	}
	arena_free(&m.a);
	json_free(j);
	return rc;
}

int
api_reply_pack(const struct api_call *c, const struct api_response *r,
    uint8_t **out, size_t *out_len)
{
	*out = NULL;
	*out_len = 0;
	if (r->status >= 200 && r->status <= 299)
		return reply_success(c, r, out, out_len);
	return reply_failure(c, r, out, out_len);
}
