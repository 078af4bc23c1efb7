/*
 * Copyright (c) 2026 The ocbroker authors
 * SPDX-License-Identifier: ISC (the licence is in the file LICENSE)
 */

/* The protocol v2 reply mappers; see api_chat.h. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "netproc/api_chat.h"
#include "netproc/arena.h"
#include "netproc/json.h"
#include "common/varint.h"

static int
cm_fail(struct chatmap *cm, const char *why)
{
	if (cm->st == API_OK)
		cm->st = api_status_errno(errno);
	cm->why = why;
	return -1;
}

static char *
cm_strdup(struct chatmap *cm, const char *s)
{
	size_t	 n = strlen(s) + 1;
	char	*p;

	if ((p = chatmap_alloc(cm, n, 1)) != NULL)
		memcpy(p, s, n);
	return p;
}

/* The root as an array of n elements; -1 when it is not one. */
static int
root_array(struct chatmap *cm, const char *what, size_t *n)
{
	errno = 0;
	if (json_type(cm->j, 0) != JSON_ARRAY)
		return cm_fail(cm, what);
	*n = (size_t)json_len(cm->j, 0);
	return 0;
}

/* ---- SessionStatusList ---- */

static int
map_status(struct chatmap *cm, int key, Opencode__SessionStatus *st)
{
	int	v = key + 1;	/* a member's value follows its key */

	opencode__session_status__init(st);
	errno = 0;
	if (json_type(cm->j, key) != JSON_STRING ||
	    json_get_str(cm->j, key, cm->a, &st->session_id) == -1)
		return cm_fail(cm, "session id");
	if (json_type(cm->j, v) != JSON_OBJECT)
		return cm_fail(cm, "status");
	if (chatmap_str(cm, v, "type", &st->status) == -1 ||
	    chatmap_opt_int(cm, v, "attempt", &st->attempt) == -1 ||
	    chatmap_opt_str(cm, v, "message", &st->message) == -1 ||
	    chatmap_opt_int(cm, v, "next", &st->next_ms) == -1)
		return -1;
	return 0;
}

int
api_map_status_list(struct chatmap *cm, Opencode__ServerMessage *sm)
{
	Opencode__SessionStatusList	*sl;
	Opencode__SessionStatus		*st;
	size_t				 i, n;
	int				 k;

	errno = 0;
	if (json_type(cm->j, 0) != JSON_OBJECT)
		return cm_fail(cm, "session status");
	n = (size_t)json_len(cm->j, 0);
	if ((sl = chatmap_alloc(cm, 1, sizeof(*sl))) == NULL)
		return -1;
	opencode__session_status_list__init(sl);
	if ((sl->statuses = chatmap_alloc(cm, n,
	    sizeof(*sl->statuses))) == NULL ||
	    (st = chatmap_alloc(cm, n, sizeof(*st))) == NULL)
		return -1;
	for (i = 0, k = 1; i < n; i++, k = json_next(cm->j, k)) {
		if (map_status(cm, k, &st[i]) == -1)
			return -1;
		sl->statuses[i] = &st[i];
	}
	sl->n_statuses = n;
	sm->payload_case =
	    OPENCODE__SERVER_MESSAGE__PAYLOAD_SESSION_STATUS_LIST;
	sm->session_status_list = sl;
	return 0;
}

/* ---- MessageList ---- */

static int
map_with_parts(struct chatmap *cm, int t, Opencode__MessageWithParts *mw)
{
	Opencode__PartInfo	*pi;
	size_t			 i, n;
	int			 info, parts, p;

	opencode__message_with_parts__init(mw);
	errno = 0;
	if (json_type(cm->j, t) != JSON_OBJECT)
		return cm_fail(cm, "message");
	info = json_obj_get(cm->j, t, "info");
	parts = json_obj_get(cm->j, t, "parts");
	if (json_type(cm->j, info) != JSON_OBJECT)
		return cm_fail(cm, "info");
	if (json_type(cm->j, parts) != JSON_ARRAY)
		return cm_fail(cm, "parts");
	n = (size_t)json_len(cm->j, parts);
	if ((mw->info = chatmap_alloc(cm, 1, sizeof(*mw->info))) == NULL ||
	    (mw->parts = chatmap_alloc(cm, n, sizeof(*mw->parts))) == NULL ||
	    (pi = chatmap_alloc(cm, n, sizeof(*pi))) == NULL)
		return -1;
	if (chatmap_message(cm, info, mw->info) == -1)
		return -1;
	for (i = 0, p = parts + 1; i < n; i++, p = json_next(cm->j, p)) {
		if (chatmap_part(cm, p, &pi[i]) == -1)
			return -1;
		mw->parts[i] = &pi[i];
	}
	mw->n_parts = n;
	return 0;
}

/* One string of a part that may be cut (or emptied) to fit. */
struct cut {
	char			**field;
	char			 *orig;
	size_t			  len;
	size_t			  at;	/* where a NUL was put, or SIZE_MAX */
	char			  saved; /* the byte it replaced */
	int			  drop;	/* a cut is no use: empty it */
	int			  truncated; /* the part's flag before */
	Opencode__PartInfo	 *part;
};

static void
cut_add(struct cut *cuts, size_t *n, char **field, int drop,
    Opencode__PartInfo *part)
{
	struct cut	*c;

	if (*field == NULL || (*field)[0] == '\0')
		return;
	c = &cuts[(*n)++];
	c->field = field;
	c->orig = *field;
	c->len = strlen(*field);
	c->at = SIZE_MAX;
	c->saved = '\0';
	c->drop = drop;
	c->truncated = part->truncated;
	c->part = part;
}

/*
 * Every string to at most max bytes, truncated set on the parts cut (it
 * counts in the size too); the originals come back first.
 */
static void
cut_apply(struct cut *cuts, size_t n, size_t max, char *empty)
{
	struct cut	*c;
	size_t		 i;

	for (i = 0; i < n; i++) {
		c = &cuts[i];
		if (c->at != SIZE_MAX)
			c->orig[c->at] = c->saved;
		c->at = SIZE_MAX;
		*c->field = c->orig;
		c->part->truncated = c->truncated;
	}
	for (i = 0; i < n; i++) {
		c = &cuts[i];
		if (c->len <= max)
			continue;
		if (c->drop)
			*c->field = empty;
		else {
			c->at = chatmap_cut(c->orig, c->len, max);
			c->saved = c->orig[c->at];
			c->orig[c->at] = '\0';
		}
		c->part->truncated = 1;
	}
}

/*
 * The newest message alone is larger than max: cut its strings to the
 * largest length (found by bisection, each step packing one message) at
 * which the reply fits.
 */
static int
shrink(struct chatmap *cm, Opencode__MessageWithParts *mw,
    Opencode__ServerMessage *sm, size_t max)
{
	Opencode__PartInfo	*p;
	struct cut		*cuts;
	char			*empty, *why;
	size_t			 i, n = 0, lo, hi, mid;

	if ((cuts = chatmap_alloc(cm, mw->n_parts,
	    5 * sizeof(*cuts))) == NULL ||
	    (empty = chatmap_alloc(cm, 1, 1)) == NULL ||
	    (why = chatmap_alloc(cm, 1, API_MSG_MAX)) == NULL)
		return -1;
	hi = 0;
	for (i = 0; i < mw->n_parts; i++) {
		p = mw->parts[i];
		cut_add(cuts, &n, &p->text, 0, p);
		if (p->tool != NULL) {
			cut_add(cuts, &n, &p->tool->output, 0, p);
			cut_add(cuts, &n, &p->tool->error, 0, p);
			/* Cut JSON is not JSON, nor a cut data: URL a URL. */
			cut_add(cuts, &n, &p->tool->input_json, 1, p);
		}
		if (p->file != NULL)
			cut_add(cuts, &n, &p->file->url, 1, p);
	}
	for (i = 0; i < n; i++)
		if (cuts[i].len > hi)
			hi = cuts[i].len;
	cut_apply(cuts, n, 0, empty);
	if (opencode__server_message__get_packed_size(sm) > max) {
		cut_apply(cuts, n, hi, empty);
		/* The id lets the client page past it (before = id). */
		snprintf(why, API_MSG_MAX, "message %s too large to send",
		    mw->info->id);
		cm->why = why;
		return 0;
	}
	/* lo fits, hi (everything whole) does not. */
	lo = 0;
	while (hi - lo > 1) {
		mid = lo + (hi - lo) / 2;
		cut_apply(cuts, n, mid, empty);
		if (opencode__server_message__get_packed_size(sm) <= max)
			lo = mid;
		else
			hi = mid;
	}
	cut_apply(cuts, n, lo, empty);
	return 0;
}

/*
 * Keeps the newest messages that fit in max bytes of packed ServerMessage.
 * Each message is measured once; the sizes of the list and of the
 * ServerMessage around it follow from protobuf's length prefixes.
 */
static int
fit(struct chatmap *cm, Opencode__MessageList *ml,
    Opencode__ServerMessage *sm, size_t max)
{
	Opencode__MessageWithParts	**all = ml->messages;
	size_t				  i, n = ml->n_messages, keep, s;
	size_t				  base_sm, base_ml, ml_len;
	size_t				  sm_len;
	size_t				 *sz;

	if (opencode__server_message__get_packed_size(sm) <= max)
		return 0;
	if ((sz = chatmap_alloc(cm, n, sizeof(*sz))) == NULL)
		return -1;
	for (i = 0; i < n; i++) {
		s = opencode__message_with_parts__get_packed_size(all[i]);
		/* field 2's tag, the length, the message */
		sz[i] = 1 + varint_len(s) + s;
	}
	ml->n_messages = 0;
	ml->more = 1;
	base_sm = opencode__server_message__get_packed_size(sm);
	base_ml = opencode__message_list__get_packed_size(ml);
	ml_len = base_ml;
	for (keep = 0; keep < n; keep++) {
		s = ml_len + sz[n - 1 - keep];
		sm_len = base_sm - varint_len(base_ml) + varint_len(s) +
		    (s - base_ml);
		if (sm_len > max)
			break;
		ml_len = s;
	}
	if (keep == 0 && n == 0) {
		cm->why = "reply too large to send";
		return 0;
	}
	ml->messages = all + n - (keep > 0 ? keep : 1);
	ml->n_messages = keep > 0 ? keep : 1;
	if (keep == 0)
		return shrink(cm, ml->messages[0], sm, max);
	return 0;
}

int
api_map_message_list(struct chatmap *cm, const struct api_call *c,
    Opencode__ServerMessage *sm)
{
	Opencode__MessageList		*ml;
	Opencode__MessageWithParts	*mw;
	size_t				 i, n, first = 0, end;
	int				 t;

	if (root_array(cm, "message list", &n) == -1)
		return -1;
	if ((ml = chatmap_alloc(cm, 1, sizeof(*ml))) == NULL)
		return -1;
	opencode__message_list__init(ml);
	/* The server paged (its cursor, made from c->before): all is ours. */
	end = n;
	/* More than asked for: older messages exist. */
	if (c->limit > 0 && end > c->limit) {
		first = end - c->limit;
		ml->more = 1;
	}
	if ((ml->session_id = cm_strdup(cm, c->session_id)) == NULL ||
	    (ml->messages = chatmap_alloc(cm, end - first,
	    sizeof(*ml->messages))) == NULL ||
	    (mw = chatmap_alloc(cm, end - first, sizeof(*mw))) == NULL)
		return -1;
	for (i = 0, t = 1; i < end; i++, t = json_next(cm->j, t)) {
		if (i < first)
			continue;
		if (map_with_parts(cm, t, &mw[i - first]) == -1)
			return -1;
		ml->messages[i - first] = &mw[i - first];
	}
	ml->n_messages = end - first;
	sm->payload_case = OPENCODE__SERVER_MESSAGE__PAYLOAD_MESSAGE_LIST;
	sm->message_list = ml;
	if (c->max_reply > 0)
		return fit(cm, ml, sm, c->max_reply);
	return 0;
}

/* ---- CommandList ---- */

static int
map_command(struct chatmap *cm, int t, Opencode__CommandInfo *ci)
{
	size_t	i, n;
	int	h, e;

	opencode__command_info__init(ci);
	errno = 0;
	if (json_type(cm->j, t) != JSON_OBJECT)
		return cm_fail(cm, "command");
	if (chatmap_str(cm, t, "name", &ci->name) == -1 ||
	    chatmap_opt_str(cm, t, "description", &ci->description) == -1 ||
	    chatmap_opt_str(cm, t, "agent", &ci->agent) == -1 ||
	    chatmap_opt_str(cm, t, "model", &ci->model) == -1 ||
	    chatmap_opt_str(cm, t, "source", &ci->source) == -1 ||
	    chatmap_opt_bool(cm, t, "subtask", &ci->subtask) == -1)
		return -1;
	h = json_obj_get(cm->j, t, "hints");
	switch (json_type(cm->j, h)) {
	case -1:
	case JSON_NULL:
		return 0;
	case JSON_ARRAY:
		break;
	default:
		return cm_fail(cm, "hints");
	}
	n = (size_t)json_len(cm->j, h);
	if ((ci->hints = chatmap_alloc(cm, n, sizeof(*ci->hints))) == NULL)
		return -1;
	for (i = 0, e = h + 1; i < n; i++, e = json_next(cm->j, e)) {
		errno = 0;
		if (json_type(cm->j, e) != JSON_STRING ||
		    json_get_str(cm->j, e, cm->a, &ci->hints[i]) == -1)
			return cm_fail(cm, "hints");
	}
	ci->n_hints = n;
	return 0;
}

int
api_map_command_list(struct chatmap *cm, Opencode__ServerMessage *sm)
{
	Opencode__CommandList	*cl;
	Opencode__CommandInfo	*ci;
	size_t			 i, n;
	int			 t;

	if (root_array(cm, "command list", &n) == -1)
		return -1;
	if ((cl = chatmap_alloc(cm, 1, sizeof(*cl))) == NULL)
		return -1;
	opencode__command_list__init(cl);
	if ((cl->commands = chatmap_alloc(cm, n,
	    sizeof(*cl->commands))) == NULL ||
	    (ci = chatmap_alloc(cm, n, sizeof(*ci))) == NULL)
		return -1;
	for (i = 0, t = 1; i < n; i++, t = json_next(cm->j, t)) {
		if (map_command(cm, t, &ci[i]) == -1)
			return -1;
		cl->commands[i] = &ci[i];
	}
	cl->n_commands = n;
	sm->payload_case = OPENCODE__SERVER_MESSAGE__PAYLOAD_COMMAND_LIST;
	sm->command_list = cl;
	return 0;
}

/* ---- TodoList, DiffList ---- */

int
api_map_todo_list(struct chatmap *cm, const struct api_call *c,
    Opencode__ServerMessage *sm)
{
	Opencode__TodoList	*tl;
	size_t			 n;

	if (root_array(cm, "todo list", &n) == -1)
		return -1;
	if ((tl = chatmap_alloc(cm, 1, sizeof(*tl))) == NULL)
		return -1;
	opencode__todo_list__init(tl);
	if (chatmap_todos(cm, 0, tl) == -1)
		return -1;
	if ((tl->session_id = cm_strdup(cm, c->session_id)) == NULL)
		return -1;
	sm->payload_case = OPENCODE__SERVER_MESSAGE__PAYLOAD_TODO_LIST;
	sm->todo_list = tl;
	return 0;
}

int
api_map_diff_list(struct chatmap *cm, const struct api_call *c,
    Opencode__ServerMessage *sm)
{
	Opencode__DiffList	*dl;
	size_t			 n;

	if (root_array(cm, "diff list", &n) == -1)
		return -1;
	if ((dl = chatmap_alloc(cm, 1, sizeof(*dl))) == NULL)
		return -1;
	opencode__diff_list__init(dl);
	if (chatmap_diffs(cm, 0, dl) == -1)
		return -1;
	if ((dl->session_id = cm_strdup(cm, c->session_id)) == NULL ||
	    (dl->message_id = cm_strdup(cm, c->message_id)) == NULL)
		return -1;
	sm->payload_case = OPENCODE__SERVER_MESSAGE__PAYLOAD_DIFF_LIST;
	sm->diff_list = dl;
	return 0;
}

/* ---- PendingList ---- */

static int
map_permissions(struct chatmap *cm, Opencode__PendingList *pl)
{
	Opencode__PermissionRequest	*pr;
	size_t				 i, n;
	int				 t;

	if (root_array(cm, "permission list", &n) == -1)
		return -1;
	if ((pl->permissions = chatmap_alloc(cm, n,
	    sizeof(*pl->permissions))) == NULL ||
	    (pr = chatmap_alloc(cm, n, sizeof(*pr))) == NULL)
		return -1;
	for (i = 0, t = 1; i < n; i++, t = json_next(cm->j, t)) {
		if (chatmap_permission(cm, t, &pr[i]) == -1)
			return -1;
		pl->permissions[i] = &pr[i];
	}
	pl->n_permissions = n;
	return 0;
}

static int
map_questions(struct chatmap *cm, Opencode__PendingList *pl)
{
	Opencode__QuestionRequest	*qr;
	size_t				 i, n;
	int				 t;

	if (root_array(cm, "question list", &n) == -1)
		return -1;
	if ((pl->questions = chatmap_alloc(cm, n,
	    sizeof(*pl->questions))) == NULL ||
	    (qr = chatmap_alloc(cm, n, sizeof(*qr))) == NULL)
		return -1;
	for (i = 0, t = 1; i < n; i++, t = json_next(cm->j, t)) {
		if (chatmap_question(cm, t, &qr[i]) == -1)
			return -1;
		pl->questions[i] = &qr[i];
	}
	pl->n_questions = n;
	return 0;
}

int
api_map_pending_list(struct chatmap *perm, struct chatmap *ques,
    Opencode__ServerMessage *sm)
{
	Opencode__PendingList	*pl;

	if ((pl = chatmap_alloc(perm, 1, sizeof(*pl))) == NULL)
		return -1;
	opencode__pending_list__init(pl);
	if (map_permissions(perm, pl) == -1)
		return -1;
	if (map_questions(ques, pl) == -1) {
		perm->why = ques->why;
		perm->st = ques->st;
		return -1;
	}
	sm->payload_case = OPENCODE__SERVER_MESSAGE__PAYLOAD_PENDING_LIST;
	sm->pending_list = pl;
	return 0;
}
