/*
 * Copyright (c) 2026 The ocbroker authors
 * SPDX-License-Identifier: ISC (the licence is in the file LICENSE)
 */

/*
 * The protocol v2 reply mappers of api.c (api_chat.c): a parsed upstream
 * reply, as a struct chatmap, into the payload of a ServerMessage.  Pure:
 * no I/O, no logging, no global state.
 *
 * Each returns 0 with the payload set in sm; 0 with cm->why set when the
 * reply is well formed but cannot be sent (api.c answers UPSTREAM_ERROR
 * with why); -1 with cm->why (PARSE_ERROR) or cm->st API_ERR_NOMEM; -2 with
 * cm->why when what the call names is not in the reply (NOT_FOUND).
 * Strings are decoded into cm->a, which must outlive the packing of sm.
 */
#ifndef OCB_NETPROC_API_CHAT_H
#define OCB_NETPROC_API_CHAT_H

#include "netproc/api.h"
#include "netproc/chatmap.h"

/* GET /session/status: an object keyed by session id. */
int	api_map_status_list(struct chatmap *, Opencode__ServerMessage *);

/*
 * GET /session/{id}/message?limit=N+1: an array of {info, parts}, oldest
 * first.  More than call->limit messages: the oldest are dropped and more
 * is set.  With call->before (the whole list was asked for), the page is
 * the call->limit messages before that one; -2 when it is not there.
 *
 * With call->max_reply, sm (request_id already set) is made to pack in at
 * most that many bytes: the oldest messages are dropped (more set); when
 * the newest alone is too large, its parts' texts, tool outputs and errors
 * are cut further, to one length found by bisection, and tool inputs and
 * file urls longer than it emptied (truncated set on each part changed);
 * when even empty strings do not fit, why names the message (UPSTREAM_ERROR:
 * the client can page past it with before = that id).
 */
int	api_map_message_list(struct chatmap *, const struct api_call *,
	    Opencode__ServerMessage *);

/* GET /command: an array of Command. */
int	api_map_command_list(struct chatmap *, Opencode__ServerMessage *);

/* GET /session/{id}/todo and /diff; the ids come from the call. */
int	api_map_todo_list(struct chatmap *, const struct api_call *,
	    Opencode__ServerMessage *);
int	api_map_diff_list(struct chatmap *, const struct api_call *,
	    Opencode__ServerMessage *);

/*
 * GET /permission (first) and GET /question (second): two arrays, two
 * documents, one arena (first->a == second->a).  A failure is reported
 * in first (why, st), whichever document it came from.
 */
int	api_map_pending_list(struct chatmap *, struct chatmap *,
	    Opencode__ServerMessage *);

#endif /* OCB_NETPROC_API_CHAT_H */
