/*
 * Copyright (c) 2026 The ocbroker authors
 * SPDX-License-Identifier: ISC (the licence is in the file LICENSE)
 */

/*
 * The shared chat mappers (chatmap.h).  Every list is walked once, element
 * by element (json_next), and mapped into an array the size of the JSON's
 * own list: nothing here recurses and nothing grows beyond what the parsed
 * document already holds.  The one value copied as JSON text (a tool's
 * input, a permission's metadata) is cleaned so that it stays valid JSON
 * and valid UTF-8.
 */
#include "config.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/utf8.h"
#include "netproc/arena.h"
#include "netproc/chatmap.h"
#include "netproc/json.h"
#include "proto/messages.pb-c.h"

#define EMPTY	((char *)protobuf_c_empty_string)

/* A count the upstream types as "number": an integer up to 2^53. */
#define NUM_INT_MAX	9007199254740992.0

static int
fail(struct chatmap *cm, const char *why)
{
	if (cm->why == NULL)
		cm->why = why;
	return -1;
}

void *
chatmap_alloc(struct chatmap *cm, size_t nmemb, size_t size)
{
	void	*p;

	if ((p = arena_calloc(cm->a, nmemb, size)) == NULL) {
		cm->st = API_ERR_NOMEM;
		return NULL;
	}
	return p;
}

/* String token t, decoded: valid UTF-8 without NUL (json.h). */
int
chatmap_tok_str(struct chatmap *cm, int t, const char *why, char **out)
{
	if (json_type(cm->j, t) != JSON_STRING)
		return fail(cm, why);
	errno = 0;
	if (json_get_str(cm->j, t, cm->a, out) == -1) {
		if (api_status_errno(errno) == API_ERR_NOMEM)
			cm->st = API_ERR_NOMEM;
		return fail(cm, why);
	}
	return 0;
}

/* A required string member, "" allowed. */
int
chatmap_str(struct chatmap *cm, int obj, const char *key, char **out)
{
	return chatmap_tok_str(cm, json_obj_get(cm->j, obj, key), key, out);
}

/* A required, non-empty string token. */
int
chatmap_req_tok(struct chatmap *cm, int t, const char *why, char **out)
{
	if (chatmap_tok_str(cm, t, why, out) == -1)
		return -1;
	if ((*out)[0] == '\0')
		return fail(cm, why);
	return 0;
}

/* A required, non-empty string member. */
int
chatmap_req_str(struct chatmap *cm, int obj, const char *key, char **out)
{
	return chatmap_req_tok(cm, json_obj_get(cm->j, obj, key), key, out);
}

/*
 * The value of an optional member, or -1 when it is absent or null: the
 * member then takes its default.
 */
static int
opt_member(const struct chatmap *cm, int obj, const char *key)
{
	int	t = json_obj_get(cm->j, obj, key);

	switch (json_type(cm->j, t)) {
	case -1:
	case JSON_NULL:
		return -1;
	default:
		return t;
	}
}

/* An optional string member: absent or null is "". */
int
chatmap_opt_str(struct chatmap *cm, int obj, const char *key, char **out)
{
	int	t = opt_member(cm, obj, key);

	*out = EMPTY;
	return t == -1 ? 0 : chatmap_tok_str(cm, t, key, out);
}

/* An optional boolean member: absent or null is false. */
int
chatmap_opt_bool(struct chatmap *cm, int obj, const char *key,
    protobuf_c_boolean *v)
{
	int	t = opt_member(cm, obj, key), b;

	*v = 0;
	if (t == -1)
		return 0;
	if (json_get_bool(cm->j, t, &b) == -1)
		return fail(cm, key);
	*v = b != 0;
	return 0;
}

/* An optional integer member: absent or null is 0, a fraction fails. */
int
chatmap_opt_int(struct chatmap *cm, int obj, const char *key, int64_t *v)
{
	int	t = opt_member(cm, obj, key);

	*v = 0;
	if (t != -1 && json_get_int64(cm->j, t, v) == -1)
		return fail(cm, key);
	return 0;
}

/*
 * A JSON number token as a double.  json.c checked its syntax; strtod
 * reads it (netproc never calls setlocale, so the point is '.').  An
 * overflow to infinity is refused.
 */
static int
tok_double(struct chatmap *cm, int t, const char *why, double *v)
{
	size_t	 start, n;
	char	*s, *end;

	if (json_type(cm->j, t) != JSON_NUMBER ||
	    json_raw(cm->j, t, &start, &n) == -1 || n == 0 ||
	    start >= cm->len || n > cm->len - start)
		return fail(cm, why);
	if ((s = arena_strndup(cm->a, cm->buf + start, n)) == NULL) {
		cm->st = API_ERR_NOMEM;
		return fail(cm, why);
	}
	*v = strtod(s, &end);
	if (*end != '\0' || !isfinite(*v))
		return fail(cm, why);
	return 0;
}

/* An optional number member as a double: absent or null is 0. */
static int
opt_double(struct chatmap *cm, int obj, const char *key, double *v)
{
	int	t = opt_member(cm, obj, key);

	*v = 0;
	return t == -1 ? 0 : tok_double(cm, t, key, v);
}

/*
 * An optional count member: absent or null is 0.  The upstream types token
 * counts and diff line counts as "number": an integer is read exactly, a
 * fraction up to 2^53 in magnitude is truncated toward zero.
 */
static int
opt_count(struct chatmap *cm, int obj, const char *key, int64_t *v)
{
	int	t = opt_member(cm, obj, key);
	double	d;

	*v = 0;
	if (t == -1 || json_get_int64(cm->j, t, v) == 0)
		return 0;
	if (tok_double(cm, t, key, &d) == -1)
		return -1;
	if (d > NUM_INT_MAX || d < -NUM_INT_MAX)
		return fail(cm, key);
	*v = (int64_t)d;
	return 0;
}

/*
 * An optional object member: its token, -1 when absent or null (lookups in
 * -1 find nothing, json.h), -2 (why set) when it is something else.
 */
int
chatmap_opt_obj(struct chatmap *cm, int obj, const char *key)
{
	int	t = opt_member(cm, obj, key);

	if (t != -1 && json_type(cm->j, t) != JSON_OBJECT) {
		(void)fail(cm, key);
		return -2;
	}
	return t;
}

/* A required object member, or -1 (why set). */
int
chatmap_req_obj(struct chatmap *cm, int obj, const char *key)
{
	int	t = json_obj_get(cm->j, obj, key);

	if (json_type(cm->j, t) != JSON_OBJECT)
		return fail(cm, key);
	return t;
}

/*
 * Cuts s (decoded into the arena, so writable unless it is "") at
 * CHATMAP_TEXT_MAX bytes on a character boundary; sets *truncated when it
 * did.
 */
static void
cut_text(char *s, protobuf_c_boolean *truncated)
{
	size_t	n = strlen(s);

	if (n <= CHATMAP_TEXT_MAX)
		return;
	s[chatmap_cut(s, n, CHATMAP_TEXT_MAX)] = '\0';
	*truncated = 1;
}

size_t
chatmap_cut(const char *s, size_t len, size_t max)
{
	size_t	cut;

	if (len <= max)
		return len;
	/* s[max] begins the first character cut, unless it continues one. */
	for (cut = max; cut > 0 && ((uint8_t)s[cut] & 0xc0) == 0x80; cut--)
		;
	return cut;
}

void
chatmap_error_text(char *s)
{
	size_t	i, n, cut;

	if (s[0] == '\0')
		return;		/* maybe the read-only "" */
	n = strcspn(s, "\r\n");
	s[n] = '\0';
	for (i = 0; i < n; i++)
		if ((uint8_t)s[i] < 0x20 || s[i] == 0x7f)
			s[i] = ' ';
	if (n > CHATMAP_ERRMSG_MAX) {
		cut = chatmap_cut(s, n, CHATMAP_ERRMSG_MAX - 3);
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
raw_json(struct chatmap *cm, int t, const char *why, char **out)
{
	size_t	 start, end, n;
	char	*p;

	if (json_type(cm->j, t) == -1 || json_type(cm->j, t) == JSON_NULL) {
		*out = EMPTY;
		return 0;
	}
	if (json_raw(cm->j, t, &start, &n) == -1 || start >= cm->len ||
	    n > cm->len - start)
		return fail(cm, why);
	end = start + n;
	/* A tripwire: the span must start like the token it stands for. */
	switch (json_type(cm->j, t)) {
	case JSON_OBJECT:
		if (cm->buf[start] != '{')
			return fail(cm, why);
		break;
	case JSON_ARRAY:
		if (cm->buf[start] != '[')
			return fail(cm, why);
		break;
	case JSON_STRING:
		if (cm->buf[start] != '"')
			return fail(cm, why);
		break;
	default:
		if (cm->buf[start] == '{' || cm->buf[start] == '[' ||
		    cm->buf[start] == '"')
			return fail(cm, why);
		break;
	}
	n = json_clean(cm->buf + start, end - start, NULL);
	if ((p = chatmap_alloc(cm, n + 1, 1)) == NULL)
		return fail(cm, why);
	json_clean(cm->buf + start, end - start, p);
	*out = p;
	return 0;
}

/*
 * An array member (or t itself when key is NULL): its length in *n, its
 * first element's token returned; absent or null is an empty list when
 * optional.  -2 (why set) when it is missing and required, or not an array.
 */
static int
list(struct chatmap *cm, int obj, const char *key, int required, size_t *n)
{
	int	t = key == NULL ? obj : json_obj_get(cm->j, obj, key);

	*n = 0;
	switch (json_type(cm->j, t)) {
	case -1:
	case JSON_NULL:
		if (required) {
			(void)fail(cm, key == NULL ? "list" : key);
			return -2;
		}
		return -1;
	case JSON_ARRAY:
		*n = (size_t)json_len(cm->j, t);
		return t + 1;
	default:
		(void)fail(cm, key == NULL ? "list" : key);
		return -2;
	}
}

/* An array of strings (an absent one is empty). */
static int
str_list(struct chatmap *cm, int obj, const char *key, char ***out,
    size_t *nout)
{
	size_t	i, n;
	int	t;

	*out = NULL;
	*nout = 0;
	if ((t = list(cm, obj, key, 0, &n)) == -2)
		return -1;
	if (n == 0)
		return 0;
	if ((*out = chatmap_alloc(cm, n, sizeof(**out))) == NULL)
		return fail(cm, key);
	for (i = 0; i < n; i++, t = json_next(cm->j, t))
		if (chatmap_tok_str(cm, t, key, &(*out)[i]) == -1)
			return -1;
	*nout = n;
	return 0;
}

/* ---- the mappers ---- */

int
chatmap_message(struct chatmap *cm, int t, Opencode__MessageInfo *mi)
{
	int	tm, tokens, err, data, model;

	opencode__message_info__init(mi);
	if (json_type(cm->j, t) != JSON_OBJECT)
		return fail(cm, "info");
	if (chatmap_req_str(cm, t, "id", &mi->id) == -1 ||
	    chatmap_req_str(cm, t, "sessionID", &mi->session_id) == -1 ||
	    chatmap_req_str(cm, t, "role", &mi->role) == -1 ||
	    (tm = chatmap_opt_obj(cm, t, "time")) == -2 ||
	    opt_count(cm, tm, "created", &mi->created_at) == -1 ||
	    opt_count(cm, tm, "completed", &mi->completed_at) == -1 ||
	    chatmap_opt_str(cm, t, "agent", &mi->agent) == -1 ||
	    chatmap_opt_str(cm, t, "providerID", &mi->provider_id) == -1 ||
	    chatmap_opt_str(cm, t, "modelID", &mi->model_id) == -1 ||
	    chatmap_opt_str(cm, t, "finish", &mi->finish) == -1 ||
	    chatmap_opt_str(cm, t, "parentID", &mi->parent_id) == -1 ||
	    opt_double(cm, t, "cost", &mi->cost) == -1 ||
	    (tokens = chatmap_opt_obj(cm, t, "tokens")) == -2 ||
	    opt_count(cm, tokens, "input", &mi->input_tokens) == -1 ||
	    opt_count(cm, tokens, "output", &mi->output_tokens) == -1 ||
	    opt_count(cm, tokens, "reasoning", &mi->reasoning_tokens) == -1 ||
	    (err = chatmap_opt_obj(cm, t, "error")) == -2 ||
	    chatmap_opt_str(cm, err, "name", &mi->error_name) == -1 ||
	    (data = chatmap_opt_obj(cm, err, "data")) == -2 ||
	    chatmap_opt_str(cm, data, "message", &mi->error_message) == -1)
		return -1;
	chatmap_error_text(mi->error_message);
	/* A user message names its model in model{providerID, modelID}. */
	if (mi->provider_id[0] == '\0' && mi->model_id[0] == '\0') {
		if ((model = chatmap_opt_obj(cm, t, "model")) == -2 ||
		    chatmap_opt_str(cm, model, "providerID", &mi->provider_id) == -1 ||
		    chatmap_opt_str(cm, model, "modelID", &mi->model_id) == -1)
			return -1;
	}
	return 0;
}

int
chatmap_tool(struct chatmap *cm, int t, Opencode__ToolCallEvent *tc,
    int *truncated)
{
	protobuf_c_boolean	cut = 0;
	int			state, out, meta;

	opencode__tool_call_event__init(tc);
	*truncated = 0;
	if (json_type(cm->j, t) != JSON_OBJECT)
		return fail(cm, "part");
	if ((state = chatmap_req_obj(cm, t, "state")) == -1 ||
	    chatmap_req_str(cm, t, "sessionID", &tc->session_id) == -1 ||
	    chatmap_req_str(cm, t, "messageID", &tc->message_id) == -1 ||
	    chatmap_req_str(cm, t, "callID", &tc->call_id) == -1 ||
	    chatmap_req_str(cm, t, "tool", &tc->tool) == -1 ||
	    chatmap_req_str(cm, t, "id", &tc->part_id) == -1 ||
	    chatmap_req_str(cm, state, "status", &tc->status) == -1 ||
	    chatmap_opt_str(cm, state, "title", &tc->title) == -1 ||
	    chatmap_opt_str(cm, state, "error", &tc->error) == -1 ||
	    raw_json(cm, json_obj_get(cm->j, state, "input"), "input",
	    &tc->input_json) == -1)
		return -1;
	/* A completed tool has output; a running bash metadata.output. */
	out = json_obj_get(cm->j, state, "output");
	if (json_type(cm->j, out) == -1 || json_type(cm->j, out) == JSON_NULL) {
		meta = json_obj_get(cm->j, state, "metadata");
		out = json_obj_get(cm->j, meta, "output");
		if (json_type(cm->j, out) != JSON_STRING)
			out = -1;
	}
	if (out != -1 && chatmap_tok_str(cm, out, "output", &tc->output) == -1)
		return -1;
	cut_text(tc->output, &cut);
	cut_text(tc->error, &cut);
	tc->truncated = cut;
	*truncated = cut;
	return 0;
}

int
chatmap_part(struct chatmap *cm, int t, Opencode__PartInfo *pi)
{
	Opencode__ToolCallEvent		*tc;
	Opencode__FileAttachment	*fa;
	int				 type, trunc;

	opencode__part_info__init(pi);
	if (json_type(cm->j, t) != JSON_OBJECT)
		return fail(cm, "part");
	if (chatmap_req_str(cm, t, "id", &pi->id) == -1 ||
	    chatmap_req_str(cm, t, "messageID", &pi->message_id) == -1 ||
	    chatmap_req_str(cm, t, "sessionID", &pi->session_id) == -1 ||
	    chatmap_req_str(cm, t, "type", &pi->kind) == -1)
		return -1;
	type = json_obj_get(cm->j, t, "type");
	if (json_str_eq(cm->j, type, "text") ||
	    json_str_eq(cm->j, type, "reasoning")) {
		if (chatmap_opt_str(cm, t, "text", &pi->text) == -1 ||
		    chatmap_opt_bool(cm, t, "synthetic", &pi->synthetic) == -1)
			return -1;
		cut_text(pi->text, &pi->truncated);
	} else if (json_str_eq(cm->j, type, "tool")) {
		if ((tc = chatmap_alloc(cm, 1, sizeof(*tc))) == NULL)
			return fail(cm, "tool");
		if (chatmap_tool(cm, t, tc, &trunc) == -1)
			return -1;
		pi->tool = tc;
		pi->truncated = trunc != 0;
	} else if (json_str_eq(cm->j, type, "file")) {
		if ((fa = chatmap_alloc(cm, 1, sizeof(*fa))) == NULL)
			return fail(cm, "file");
		opencode__file_attachment__init(fa);
		if (chatmap_opt_str(cm, t, "mime", &fa->mime) == -1 ||
		    chatmap_opt_str(cm, t, "filename", &fa->filename) == -1 ||
		    chatmap_opt_str(cm, t, "url", &fa->url) == -1)
			return -1;
		/* A data: URL carries the file itself. */
		cut_text(fa->url, &pi->truncated);
		pi->file = fa;
	} else if (json_str_eq(cm->j, type, "patch")) {
		if (str_list(cm, t, "files", &pi->files, &pi->n_files) == -1)
			return -1;
	}
	/* Every other kind: the ids and the kind, nothing else. */
	return 0;
}

int
chatmap_permission(struct chatmap *cm, int t, Opencode__PermissionRequest *pr)
{
	int	tool;

	opencode__permission_request__init(pr);
	if (json_type(cm->j, t) != JSON_OBJECT)
		return fail(cm, "permission");
	if (chatmap_req_str(cm, t, "sessionID", &pr->session_id) == -1 ||
	    chatmap_req_str(cm, t, "id", &pr->permission_id) == -1 ||
	    chatmap_req_str(cm, t, "permission", &pr->permission) == -1 ||
	    raw_json(cm, json_obj_get(cm->j, t, "metadata"), "metadata",
	    &pr->metadata_json) == -1 ||
	    (tool = chatmap_opt_obj(cm, t, "tool")) == -2 ||
	    chatmap_opt_str(cm, tool, "messageID", &pr->message_id) == -1 ||
	    chatmap_opt_str(cm, tool, "callID", &pr->call_id) == -1 ||
	    str_list(cm, t, "patterns", &pr->patterns, &pr->n_patterns) == -1)
		return -1;
	return 0;
}

/* One QuestionInfo. */
static int
question_info(struct chatmap *cm, int t, Opencode__Question *q)
{
	Opencode__QuestionOption	*op;
	size_t				 i, n;
	int				 o;

	if (json_type(cm->j, t) != JSON_OBJECT)
		return fail(cm, "questions");
	if (chatmap_opt_str(cm, t, "question", &q->question) == -1 ||
	    chatmap_opt_str(cm, t, "header", &q->header) == -1 ||
	    chatmap_opt_bool(cm, t, "multiple", &q->multiple) == -1 ||
	    chatmap_opt_bool(cm, t, "custom", &q->custom) == -1 ||
	    (o = list(cm, t, "options", 0, &n)) == -2)
		return -1;
	if (n == 0)
		return 0;
	if ((q->options = chatmap_alloc(cm, n, sizeof(*q->options))) == NULL ||
	    (op = chatmap_alloc(cm, n, sizeof(*op))) == NULL)
		return fail(cm, "options");
	for (i = 0; i < n; i++, o = json_next(cm->j, o)) {
		opencode__question_option__init(&op[i]);
		q->options[i] = &op[i];
		if (json_type(cm->j, o) != JSON_OBJECT)
			return fail(cm, "options");
		if (chatmap_req_str(cm, o, "label", &op[i].label) == -1 ||
		    chatmap_opt_str(cm, o, "description", &op[i].description) == -1)
			return -1;
	}
	q->n_options = n;
	return 0;
}

int
chatmap_question(struct chatmap *cm, int t, Opencode__QuestionRequest *qr)
{
	Opencode__Question	*qs;
	size_t			 i, n;
	int			 tool, q;

	opencode__question_request__init(qr);
	if (json_type(cm->j, t) != JSON_OBJECT)
		return fail(cm, "question");
	if (chatmap_req_str(cm, t, "id", &qr->id) == -1 ||
	    chatmap_req_str(cm, t, "sessionID", &qr->session_id) == -1 ||
	    (tool = chatmap_opt_obj(cm, t, "tool")) == -2 ||
	    chatmap_opt_str(cm, tool, "messageID", &qr->message_id) == -1 ||
	    chatmap_opt_str(cm, tool, "callID", &qr->call_id) == -1 ||
	    (q = list(cm, t, "questions", 1, &n)) == -2)
		return -1;
	if (n == 0)
		return 0;
	if ((qr->questions = chatmap_alloc(cm, n, sizeof(*qr->questions))) ==
	    NULL || (qs = chatmap_alloc(cm, n, sizeof(*qs))) == NULL)
		return fail(cm, "questions");
	for (i = 0; i < n; i++, q = json_next(cm->j, q)) {
		opencode__question__init(&qs[i]);
		qr->questions[i] = &qs[i];
		if (question_info(cm, q, &qs[i]) == -1)
			return -1;
	}
	qr->n_questions = n;
	return 0;
}

int
chatmap_todos(struct chatmap *cm, int t, Opencode__TodoList *tl)
{
	Opencode__Todo	*td;
	size_t		 i, n;
	int		 e;

	opencode__todo_list__init(tl);
	if ((e = list(cm, t, NULL, 1, &n)) == -2)
		return -1;
	if (n == 0)
		return 0;
	if ((tl->todos = chatmap_alloc(cm, n, sizeof(*tl->todos))) == NULL ||
	    (td = chatmap_alloc(cm, n, sizeof(*td))) == NULL)
		return fail(cm, "todos");
	for (i = 0; i < n; i++, e = json_next(cm->j, e), td++) {
		opencode__todo__init(td);
		tl->todos[i] = td;
		if (json_type(cm->j, e) != JSON_OBJECT)
			return fail(cm, "todos");
		if (chatmap_opt_str(cm, e, "content", &td->content) == -1 ||
		    chatmap_opt_str(cm, e, "status", &td->status) == -1 ||
		    chatmap_opt_str(cm, e, "priority", &td->priority) == -1)
			return -1;
	}
	tl->n_todos = n;
	return 0;
}

int
chatmap_diffs(struct chatmap *cm, int t, Opencode__DiffList *dl)
{
	Opencode__FileDiff	*fd;
	size_t			 i, n;
	int			 e;

	opencode__diff_list__init(dl);
	if ((e = list(cm, t, NULL, 1, &n)) == -2)
		return -1;
	if (n == 0)
		return 0;
	if ((dl->files = chatmap_alloc(cm, n, sizeof(*dl->files))) == NULL ||
	    (fd = chatmap_alloc(cm, n, sizeof(*fd))) == NULL)
		return fail(cm, "diff");
	for (i = 0; i < n; i++, e = json_next(cm->j, e), fd++) {
		opencode__file_diff__init(fd);
		dl->files[i] = fd;
		if (json_type(cm->j, e) != JSON_OBJECT)
			return fail(cm, "diff");
		/* SnapshotFileDiff says file, FileDiff path: either. */
		if (chatmap_opt_str(cm, e, "file", &fd->path) == -1 ||
		    (fd->path[0] == '\0' &&
		    chatmap_opt_str(cm, e, "path", &fd->path) == -1) ||
		    chatmap_opt_str(cm, e, "status", &fd->status) == -1 ||
		    opt_count(cm, e, "additions", &fd->additions) == -1 ||
		    opt_count(cm, e, "deletions", &fd->deletions) == -1 ||
		    chatmap_opt_str(cm, e, "patch", &fd->patch) == -1)
			return -1;
		cut_text(fd->patch, &fd->truncated);
	}
	dl->n_files = n;
	return 0;
}
