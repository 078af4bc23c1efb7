/*
 * Copyright (c) 2026 The ocbroker authors
 * SPDX-License-Identifier: ISC (the licence is in the file LICENSE)
 */

/*
 * Request building for the OpenCode 1.18 HTTP API: every field of a
 * ClientMessage is validated before a path or body is made from it, so a
 * bad id, name or string is INVALID_REQUEST and nothing goes upstream.  See
 * api.h and doc/protocol.md ("Mapping to the OpenCode API", "Protocol v2").
 *
 * Bounds (api.h): ListMessages limit 1..API_MESSAGES_MAX; ReplyQuestion at
 * most API_ANSWERS_MAX answers of 1..API_LABELS_MAX non-empty labels of at
 * most API_LABEL_MAX bytes; SendMessage at most API_FILES_MAX files, each a
 * url "file:///abs/path" or "data:...", a mime "type/subtype" (RFC 7230
 * token characters, no parameters); names (model, agent, command, file
 * name) at most API_NAME_MAX bytes; any other string API_FIELD_MAX.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/base64.h"
#include "common/errcode.h"
#include "common/utf8.h"
#include "netproc/api.h"
#include "netproc/json.h"
#include "netproc/pathenc.h"

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

/* A slash command's name: a name without '/' or control characters. */
static int
command_ok(const char *s)
{
	size_t	i;

	if (!name_ok(s))
		return 0;
	for (i = 0; s[i] != '\0'; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f || s[i] == '/')
			return 0;
	return 1;
}

/* RFC 7230 tchar. */
static int
is_tchar(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') ||
	    (c >= 'a' && c <= 'z') || (c != '\0' && strchr("!#$%&'*+-.^_`|~",
	    c) != NULL);
}

/* "type/subtype", both non-empty tokens, nothing else. */
static int
mime_ok(const char *s)
{
	size_t	i, slash = 0, n;

	if (s == NULL || (n = strnlen(s, API_NAME_MAX + 1)) > API_NAME_MAX)
		return 0;
	for (i = 0; i < n; i++) {
		if (s[i] == '/') {
			if (slash != 0 || i == 0)
				return 0;
			slash = i;
		} else if (!is_tchar(s[i]))
			return 0;
	}
	return slash != 0 && slash + 1 < n;
}

/*
 * An attachment's url: "file://" and an absolute path, or a data: URL.
 * Control characters are refused in either.
 */
static int
url_ok(const char *s)
{
	size_t	i;

	if (!str_ok(s))
		return 0;
	if (strncmp(s, "file:///", 8) != 0 && strncmp(s, "data:", 5) != 0)
		return 0;
	for (i = 0; s[i] != '\0'; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return 0;
	return 1;
}

/* Records the session a call names; the id was validated before. */
static void
set_session(struct api_call *c, const char *id)
{
	snprintf(c->session_id, sizeof(c->session_id), "%s", id);
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

/* s as the inside of a JSON string. */
static void
jw_esc(struct jw *w, const char *s)
{
	static const char	 hex[] = "0123456789abcdef";
	char			 esc[7];
	unsigned char		 c;

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
}

static void
jw_str(struct jw *w, const char *s)
{
	jw_raw(w, "\"");
	jw_esc(w, s);
	jw_raw(w, "\"");
}

static void
jw_int(struct jw *w, int64_t v)
{
	char	buf[32];

	snprintf(buf, sizeof(buf), "%" PRId64, v);
	jw_raw(w, buf);
}

/* {"type":"file","mime":...,"filename":...,"url":...} */
static void
file_emit(struct jw *w, const Opencode__FileAttachment *fa)
{
	jw_raw(w, ",{\"type\":\"file\",\"mime\":");
	jw_str(w, fa->mime);
	if (fa->filename != NULL && fa->filename[0] != '\0') {
		jw_raw(w, ",\"filename\":");
		jw_str(w, fa->filename);
	}
	jw_raw(w, ",\"url\":");
	jw_str(w, fa->url);
	jw_raw(w, "}");
}

static void
answers_emit(struct jw *w, const Opencode__ReplyQuestion *rq)
{
	size_t	i, k;

	jw_raw(w, "{\"answers\":[");
	for (i = 0; i < rq->n_answers; i++) {
		jw_raw(w, i == 0 ? "[" : ",[");
		for (k = 0; k < rq->answers[i]->n_labels; k++) {
			if (k > 0)
				jw_raw(w, ",");
			jw_str(w, rq->answers[i]->labels[k]);
		}
		jw_raw(w, "]");
	}
	jw_raw(w, "]}");
}

static void
command_emit(struct jw *w, const Opencode__RunCommand *rc)
{
	jw_raw(w, "{\"command\":");
	jw_str(w, rc->command);
	jw_raw(w, ",\"arguments\":");
	jw_str(w, rc->arguments != NULL ? rc->arguments : "");
	if (rc->_agent_case == OPENCODE__RUN_COMMAND___AGENT_AGENT) {
		jw_raw(w, ",\"agent\":");
		jw_str(w, rc->agent);
	}
	/* The command endpoint takes the model as one "provider/model". */
	if (rc->_provider_id_case ==
	    OPENCODE__RUN_COMMAND___PROVIDER_ID_PROVIDER_ID) {
		jw_raw(w, ",\"model\":\"");
		jw_esc(w, rc->provider_id);
		jw_raw(w, "/");
		jw_esc(w, rc->model_id);
		jw_raw(w, "\"");
	}
	jw_raw(w, "}");
}

/* Writes the body of request m; the fields were validated before. */
static void
body_emit(struct jw *w, const Opencode__ClientMessage *m)
{
	const Opencode__CreateSessionRequest	*cs;
	const Opencode__AuthInfo		*ai;
	const Opencode__SendMessage		*sm;
	size_t					 i;

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
		jw_raw(w, "}");
		for (i = 0; i < sm->n_files; i++)
			file_emit(w, sm->files[i]);
		jw_raw(w, "]");
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
	case OPENCODE__CLIENT_MESSAGE__PAYLOAD_UPDATE_SESSION:
		jw_raw(w, "{\"title\":");
		jw_str(w, m->update_session->title);
		jw_raw(w, "}");
		break;
	case OPENCODE__CLIENT_MESSAGE__PAYLOAD_FORK_SESSION:
		jw_raw(w, "{");
		if (m->fork_session->_message_id_case ==
		    OPENCODE__FORK_SESSION___MESSAGE_ID_MESSAGE_ID) {
			jw_raw(w, "\"messageID\":");
			jw_str(w, m->fork_session->message_id);
		}
		jw_raw(w, "}");
		break;
	case OPENCODE__CLIENT_MESSAGE__PAYLOAD_REVERT_SESSION:
		jw_raw(w, "{\"messageID\":");
		jw_str(w, m->revert_session->message_id);
		if (m->revert_session->_part_id_case ==
		    OPENCODE__REVERT_SESSION___PART_ID_PART_ID) {
			jw_raw(w, ",\"partID\":");
			jw_str(w, m->revert_session->part_id);
		}
		jw_raw(w, "}");
		break;
	case OPENCODE__CLIENT_MESSAGE__PAYLOAD_REPLY_QUESTION:
		answers_emit(w, m->reply_question);
		break;
	case OPENCODE__CLIENT_MESSAGE__PAYLOAD_SUMMARIZE_SESSION:
		jw_raw(w, "{\"providerID\":");
		jw_str(w, m->summarize_session->provider_id);
		jw_raw(w, ",\"modelID\":");
		jw_str(w, m->summarize_session->model_id);
		jw_raw(w, "}");
		break;
	case OPENCODE__CLIENT_MESSAGE__PAYLOAD_RUN_COMMAND:
		command_emit(w, m->run_command);
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
files_ok(const Opencode__SendMessage *sm, struct api_error *err)
{
	const Opencode__FileAttachment	*fa;
	size_t				 i;

	if (sm->n_files > API_FILES_MAX)
		return invalid(err, "too many files");
	for (i = 0; i < sm->n_files; i++) {
		if ((fa = sm->files[i]) == NULL)
			return invalid(err, "missing file");
		if (!url_ok(fa->url))
			return invalid(err,
			    "invalid file url: file:///path or data: only");
		if (!mime_ok(fa->mime))
			return invalid(err, "invalid file mime");
		if (fa->filename != NULL && fa->filename[0] != '\0' &&
		    !name_ok(fa->filename))
			return invalid(err, "invalid file filename");
	}
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
	if (files_ok(sm, err) == -1)
		return -1;
	if (set_path(c, "/session/", sm->session_id, "/prompt_async",
	    err) == -1)
		return -1;
	set_session(c, sm->session_id);
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
	if (rp->session_id != NULL)
		set_session(c, rp->session_id);
	set_call(c, API_POST, API_KIND_EMPTY, 1);
	return 0;
}

/* GET, POST or PATCH /session/{id}<suffix>: the calls that name a session. */
static int
session_call(const char *id, const char *suffix, enum api_method method,
    int kind, struct api_call *c, struct api_error *err)
{
	if (!pathenc_session_id(id))
		return invalid(err, "invalid session_id");
	if (set_path(c, "/session/", id, suffix, err) == -1)
		return -1;
	set_session(c, id);
	set_call(c, method, kind, 1);
	return 0;
}

/* Appends "<sep><key>=<value>" to the path; value is percent-encoded. */
static int
add_query(struct api_call *c, const char *sep, const char *key,
    const char *value, struct api_error *err)
{
	size_t	n = strlen(c->path);

	if (n + strlen(sep) + strlen(key) + 1 >= sizeof(c->path))
		return invalid(err, "path too long");
	snprintf(c->path + n, sizeof(c->path) - n, "%s%s=", sep, key);
	if (pathenc_append(c->path, sizeof(c->path), value) == -1) {
		c->path[n] = '\0';
		return invalid(err, "path too long");
	}
	return 0;
}

/* Appends "<sep><value>" to the path; value is percent-encoded. */
static int
set_path_more(struct api_call *c, const char *sep, const char *value,
    struct api_error *err)
{
	size_t	n = strlen(c->path);

	if (n + strlen(sep) >= sizeof(c->path))
		return invalid(err, "path too long");
	snprintf(c->path + n, sizeof(c->path) - n, "%s", sep);
	if (pathenc_append(c->path, sizeof(c->path), value) == -1) {
		c->path[n] = '\0';
		return invalid(err, "path too long");
	}
	return 0;
}

static int
build_update(const Opencode__UpdateSession *us, struct api_call *c,
    struct api_error *err)
{
	if (us == NULL)
		return invalid(err, "invalid session_id");
	if (us->title == NULL || us->title[0] == '\0')
		return invalid(err, "empty title");
	if (!str_ok(us->title))
		return invalid(err, "invalid title");
	return session_call(us->session_id, "", API_PATCH,
	    API_KIND_SESSION_INFO, c, err);
}

static int
build_fork(const Opencode__ForkSession *fs, struct api_call *c,
    struct api_error *err)
{
	if (fs == NULL)
		return invalid(err, "invalid session_id");
	if (fs->_message_id_case ==
	    OPENCODE__FORK_SESSION___MESSAGE_ID_MESSAGE_ID &&
	    !pathenc_message_id(fs->message_id))
		return invalid(err, "invalid message_id");
	return session_call(fs->session_id, "/fork", API_POST,
	    API_KIND_SESSION_INFO, c, err);
}

/*
 * The upstream is asked for one message more than the client wants: when
 * it comes, older messages exist (MessageList.more).  The server's own
 * `before` is an opaque cursor (base64 of the oldest message's id and
 * creation time), not a message id (it answers an id with 400): a page
 * before a msg_ id first asks for that message (GET
 * /session/{id}/message/{before}, 404 when the session has no such
 * message), and api_second_path() makes the cursor from its time.
 */
static int
build_messages(const Opencode__ListMessages *lm, struct api_call *c,
    struct api_error *err)
{
	char		num[16];
	uint32_t	limit = API_MESSAGES_DEFAULT;
	int		before;

	if (lm == NULL)
		return invalid(err, "invalid session_id");
	if (lm->_limit_case == OPENCODE__LIST_MESSAGES___LIMIT_LIMIT) {
		if (lm->limit < 1 || lm->limit > API_MESSAGES_MAX)
			return invalid(err, "invalid limit: 1..1000");
		limit = lm->limit;
	}
	before = lm->_before_case == OPENCODE__LIST_MESSAGES___BEFORE_BEFORE;
	if (before && !pathenc_message_id(lm->before))
		return invalid(err, "invalid before: a msg_ id");
	if (session_call(lm->session_id, "/message", API_GET,
	    API_KIND_MESSAGE_LIST, c, err) == -1)
		return -1;
	c->limit = limit;
	if (before) {
		snprintf(c->before, sizeof(c->before), "%s", lm->before);
		c->path2_from_reply = 1;
		return set_path_more(c, "/", lm->before, err);
	}
	snprintf(num, sizeof(num), "%" PRIu32, limit + 1);
	return add_query(c, "?", "limit", num, err);
}

/*
 * The cursor for a page before c->before: base64url, unpadded, of
 * {"id":"msg_...","time":<created>}, as the server writes X-Next-Cursor.
 * Only `info` of the (possibly large) message is parsed.
 */
int
api_second_path(struct api_call *c, const struct api_response *r,
    struct api_error *err)
{
	struct json	*j;
	char		 cur[PATHENC_ID_MAX + 64], enc[2 * sizeof(cur)];
	char		 num[16];
	int64_t		 created;
	ssize_t		 n, i;
	int		 t;

	c->path2[0] = '\0';
	if (!c->path2_from_reply || c->before[0] == '\0')
		return fail(err, ERR_INTERNAL, "no second request");
	if (r->body == NULL || json_parse_member(r->body, r->body_len, "info",
	    &j) == -1)
		return fail(err, ERR_PARSE_ERROR,
		    "unexpected reply: message info");
	t = json_obj_get(j, json_obj_get(j, 0, "time"), "created");
	if (!json_str_eq(j, json_obj_get(j, 0, "id"), c->before) ||
	    json_get_int64(j, t, &created) == -1 || created < 0) {
		json_free(j);
		return fail(err, ERR_PARSE_ERROR,
		    "unexpected reply: message info");
	}
	json_free(j);
	snprintf(cur, sizeof(cur), "{\"id\":\"%s\",\"time\":%" PRId64 "}",
	    c->before, created);
	if ((n = base64_encode(cur, strlen(cur), enc, sizeof(enc))) < 0)
		return fail(err, ERR_INTERNAL, "cursor too long");
	for (i = 0; i < n; i++) {
		if (enc[i] == '+')
			enc[i] = '-';
		else if (enc[i] == '/')
			enc[i] = '_';
		else if (enc[i] == '=') {
			enc[i] = '\0';
			break;
		}
	}
	/* path is /session/{id}/message/{before}: drop the last segment. */
	snprintf(c->path2, sizeof(c->path2), "%s", c->path);
	if ((t = (int)(strrchr(c->path2, '/') - c->path2)) <= 0)
		return fail(err, ERR_INTERNAL, "no message path");
	c->path2[t] = '\0';
	snprintf(num, sizeof(num), "%" PRIu32, c->limit + 1);
	if (strlen(c->path2) + strlen("?limit=&before=") + strlen(num) +
	    strlen(enc) >= sizeof(c->path2)) {
		c->path2[0] = '\0';
		return invalid(err, "path too long");
	}
	snprintf(c->path2 + strlen(c->path2), sizeof(c->path2) -
	    strlen(c->path2), "?limit=%s&before=%s", num, enc);
	return 0;
}

static int
build_revert(const Opencode__RevertSession *rs, struct api_call *c,
    struct api_error *err)
{
	if (rs == NULL)
		return invalid(err, "invalid session_id");
	if (!pathenc_message_id(rs->message_id))
		return invalid(err, "invalid message_id");
	if (rs->_part_id_case == OPENCODE__REVERT_SESSION___PART_ID_PART_ID &&
	    !pathenc_part_id(rs->part_id))
		return invalid(err, "invalid part_id");
	return session_call(rs->session_id, "/revert", API_POST,
	    API_KIND_SESSION_INFO, c, err);
}

static int
build_question(const Opencode__ReplyQuestion *rq, struct api_call *c,
    struct api_error *err)
{
	const Opencode__QuestionAnswer	*qa;
	size_t				 i, k, n;

	if (rq == NULL || !pathenc_question_id(rq->question_id))
		return invalid(err, "invalid question_id");
	if (rq->n_answers == 0)
		return invalid(err, "no answers");
	if (rq->n_answers > API_ANSWERS_MAX)
		return invalid(err, "too many answers");
	for (i = 0; i < rq->n_answers; i++) {
		if ((qa = rq->answers[i]) == NULL || qa->n_labels == 0)
			return invalid(err, "an answer without labels");
		if (qa->n_labels > API_LABELS_MAX)
			return invalid(err, "too many labels");
		for (k = 0; k < qa->n_labels; k++) {
			if (qa->labels[k] == NULL || qa->labels[k][0] == '\0')
				return invalid(err, "empty label");
			n = strnlen(qa->labels[k], API_LABEL_MAX + 1);
			if (n > API_LABEL_MAX || !str_ok(qa->labels[k]))
				return invalid(err, "invalid label");
		}
	}
	if (set_path(c, "/question/", rq->question_id, "/reply", err) == -1)
		return -1;
	set_call(c, API_POST, API_KIND_EMPTY, 1);
	return 0;
}

static int
build_diff(const Opencode__GetDiff *gd, struct api_call *c,
    struct api_error *err)
{
	int	has_m;

	if (gd == NULL)
		return invalid(err, "invalid session_id");
	has_m = gd->_message_id_case ==
	    OPENCODE__GET_DIFF___MESSAGE_ID_MESSAGE_ID;
	if (has_m && !pathenc_message_id(gd->message_id))
		return invalid(err, "invalid message_id");
	if (session_call(gd->session_id, "/diff", API_GET, API_KIND_DIFF_LIST,
	    c, err) == -1)
		return -1;
	if (has_m) {
		if (add_query(c, "?", "messageID", gd->message_id, err) == -1)
			return -1;
		snprintf(c->message_id, sizeof(c->message_id), "%s",
		    gd->message_id);
	}
	return 0;
}

static int
build_summarize(const Opencode__SummarizeSession *ss, struct api_call *c,
    struct api_error *err)
{
	if (ss == NULL)
		return invalid(err, "invalid session_id");
	if (!pathenc_provider_id(ss->provider_id))
		return invalid(err, "invalid provider_id");
	if (!name_ok(ss->model_id))
		return invalid(err, "invalid model_id");
	return session_call(ss->session_id, "/summarize", API_POST,
	    API_KIND_EMPTY, c, err);
}

/*
 * A command runs as long as the model does: the call waits up to
 * API_TIMEOUT_LONG_MS and ends early when the session is cancelled.
 */
static int
build_command(const Opencode__RunCommand *rc, struct api_call *c,
    struct api_error *err)
{
	int	has_p, has_m;

	if (rc == NULL)
		return invalid(err, "invalid session_id");
	if (!command_ok(rc->command))
		return invalid(err, "invalid command");
	if (rc->arguments != NULL && !str_ok(rc->arguments))
		return invalid(err, "invalid arguments");
	if (rc->_agent_case == OPENCODE__RUN_COMMAND___AGENT_AGENT &&
	    !name_ok(rc->agent))
		return invalid(err, "invalid agent");
	has_p = rc->_provider_id_case ==
	    OPENCODE__RUN_COMMAND___PROVIDER_ID_PROVIDER_ID;
	has_m = rc->_model_id_case == OPENCODE__RUN_COMMAND___MODEL_ID_MODEL_ID;
	if (has_p != has_m)
		return invalid(err, "provider_id and model_id go together");
	if (has_p && !pathenc_provider_id(rc->provider_id))
		return invalid(err, "invalid provider_id");
	if (has_m && !name_ok(rc->model_id))
		return invalid(err, "invalid model_id");
	if (session_call(rc->session_id, "/command", API_POST, API_KIND_EMPTY,
	    c, err) == -1)
		return -1;
	c->timeout_ms = API_TIMEOUT_LONG_MS;
	c->ends_with_cancel = 1;
	return 0;
}

/* Protocol v2 (doc/protocol.md, "Protocol v2"). */
static int
build_v2(const Opencode__ClientMessage *m, struct api_call *c,
    struct api_error *err)
{
	const char	*id;

	switch (m->payload_case) {
	case OPENCODE__CLIENT_MESSAGE__PAYLOAD_GET_SESSION:
		id = m->get_session != NULL ? m->get_session->session_id : NULL;
		return session_call(id, "", API_GET, API_KIND_SESSION_INFO, c,
		    err);
	case OPENCODE__CLIENT_MESSAGE__PAYLOAD_UPDATE_SESSION:
		return build_update(m->update_session, c, err);
	case OPENCODE__CLIENT_MESSAGE__PAYLOAD_FORK_SESSION:
		return build_fork(m->fork_session, c, err);
	case OPENCODE__CLIENT_MESSAGE__PAYLOAD_LIST_SESSION_STATUS:
		set_call(c, API_GET, API_KIND_SESSION_STATUS_LIST, 1);
		return set_path(c, "/session/status", NULL, "", err);
	case OPENCODE__CLIENT_MESSAGE__PAYLOAD_LIST_MESSAGES:
		return build_messages(m->list_messages, c, err);
	case OPENCODE__CLIENT_MESSAGE__PAYLOAD_REVERT_SESSION:
		return build_revert(m->revert_session, c, err);
	case OPENCODE__CLIENT_MESSAGE__PAYLOAD_UNREVERT_SESSION:
		id = m->unrevert_session != NULL ?
		    m->unrevert_session->session_id : NULL;
		return session_call(id, "/unrevert", API_POST,
		    API_KIND_SESSION_INFO, c, err);
	case OPENCODE__CLIENT_MESSAGE__PAYLOAD_LIST_COMMANDS:
		set_call(c, API_GET, API_KIND_COMMAND_LIST, 1);
		return set_path(c, "/command", NULL, "", err);
	case OPENCODE__CLIENT_MESSAGE__PAYLOAD_LIST_PROVIDERS:
		/* The /provider document holds configured keys: no quoting. */
		set_call(c, API_GET, API_KIND_PROVIDER_LIST, 0);
		c->include_all = m->list_providers != NULL &&
		    m->list_providers->include_all;
		return set_path(c, "/provider", NULL, "", err);
	case OPENCODE__CLIENT_MESSAGE__PAYLOAD_REPLY_QUESTION:
		return build_question(m->reply_question, c, err);
	case OPENCODE__CLIENT_MESSAGE__PAYLOAD_REJECT_QUESTION:
		id = m->reject_question != NULL ?
		    m->reject_question->question_id : NULL;
		if (!pathenc_question_id(id))
			return invalid(err, "invalid question_id");
		set_call(c, API_POST, API_KIND_EMPTY, 1);
		return set_path(c, "/question/", id, "/reject", err);
	case OPENCODE__CLIENT_MESSAGE__PAYLOAD_LIST_PENDING:
		set_call(c, API_GET, API_KIND_PENDING_LIST, 1);
		snprintf(c->path2, sizeof(c->path2), "/question");
		return set_path(c, "/permission", NULL, "", err);
	case OPENCODE__CLIENT_MESSAGE__PAYLOAD_GET_TODOS:
		id = m->get_todos != NULL ? m->get_todos->session_id : NULL;
		return session_call(id, "/todo", API_GET, API_KIND_TODO_LIST, c,
		    err);
	case OPENCODE__CLIENT_MESSAGE__PAYLOAD_GET_DIFF:
		return build_diff(m->get_diff, c, err);
	case OPENCODE__CLIENT_MESSAGE__PAYLOAD_SUMMARIZE_SESSION:
		return build_summarize(m->summarize_session, c, err);
	case OPENCODE__CLIENT_MESSAGE__PAYLOAD_RUN_COMMAND:
		return build_command(m->run_command, c, err);
	case OPENCODE__CLIENT_MESSAGE__PAYLOAD__NOT_SET:
		return fail(err, ERR_UNKNOWN_REQUEST, "no payload");
	default:
		/* AuthHandshake and Subscribe are the front's. */
		return fail(err, ERR_UNKNOWN_REQUEST, "unknown request");
	}
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
		return session_call(id, "", API_DELETE, API_KIND_EMPTY, c,
		    err);
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
		c->cancels_session = 1;
		return session_call(id, "/abort", API_POST, API_KIND_EMPTY, c,
		    err);
	case OPENCODE__CLIENT_MESSAGE__PAYLOAD_REPLY_PERMISSION:
		return build_reply(m->reply_permission, c, err);
	default:
		return build_v2(m, c, err);
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
	case OPENCODE__CLIENT_MESSAGE__PAYLOAD_UPDATE_SESSION:
	case OPENCODE__CLIENT_MESSAGE__PAYLOAD_FORK_SESSION:
	case OPENCODE__CLIENT_MESSAGE__PAYLOAD_REVERT_SESSION:
	case OPENCODE__CLIENT_MESSAGE__PAYLOAD_REPLY_QUESTION:
	case OPENCODE__CLIENT_MESSAGE__PAYLOAD_SUMMARIZE_SESSION:
	case OPENCODE__CLIENT_MESSAGE__PAYLOAD_RUN_COMMAND:
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

