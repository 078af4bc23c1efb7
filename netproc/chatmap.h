/*
 * Copyright (c) 2026 The ocbroker authors
 * SPDX-License-Identifier: ISC (the licence is in the file LICENSE)
 */

/*
 * The chat shapes that both replies (api.c) and events (events.c) carry: a
 * message, a part (a tool call among them), a permission, a question, a todo
 * list, file diffs.  One mapper per shape, from a token of an upstream JSON
 * document to the protobuf-c struct, every string decoded into the caller's
 * arena.  Pure: no I/O, no logging, no global state, no recursion.
 *
 * Rules (the same as events.h states for the 4B events):
 * - each mapper initialises the struct it is given (opencode__..._init)
 *   first, so the caller needs only to allocate it (and sets what is
 *   "left to the caller" afterwards); on -1 it holds a partial result that
 *   must not be sent;
 * - fields are looked up by name; a required one missing or of the wrong
 *   type fails the mapper, an optional one absent or null takes its
 *   default ("", 0 or false), one of the wrong type fails it too;
 *   required: the ids (id, sessionID, messageID, callID...), a message's
 *   role, a part's type, a tool's tool and state.status, a permission's
 *   permission, a question's questions list and each option's label;
 * - every string is valid UTF-8 without NUL (json.h decodes so);
 * - a part's text (text, reasoning), a tool's output and error, a file
 *   part's url (a data: URL holds the file) and a diff's patch are cut at
 *   CHATMAP_TEXT_MAX bytes on a UTF-8 boundary, with truncated set;
 * - input_json and metadata_json are the upstream's own JSON text of that
 *   value (not cut: a cut would not be JSON), except that invalid UTF-8
 *   becomes U+FFFD and a raw control character inside a string becomes a
 *   \u00XX escape;
 * - error_message (MessageInfo) is the error's data.message, first line
 *   only, as chatmap_error_text() makes it;
 * - counts the upstream types as "number" (tokens, time, additions,
 *   deletions) are read as integers, a fraction truncated; cost is a double;
 * - a list maps to as many elements as the JSON list has, so the parsed
 *   document bounds every result;
 * - message model: assistant providerID/modelID, else the user message's
 *   model.providerID/modelID;
 * - part kinds: text/reasoning -> text, synthetic; tool -> tool; file ->
 *   file; patch -> files; any other kind (known or not) -> ids and kind;
 * - a diff's path is its "file" member (SnapshotFileDiff, what 1.18.34
 *   sends), else "path" (the OpenAPI's FileDiff).
 */
#ifndef OCB_NETPROC_CHATMAP_H
#define OCB_NETPROC_CHATMAP_H

#include <stddef.h>

#include "netproc/api.h"
#include "proto/messages.pb-c.h"

#define CHATMAP_TEXT_MAX	(256 * 1024)	/* bytes of a text, output or patch */
#define CHATMAP_ERRMSG_MAX	1024		/* bytes of an error text, "..." included */

struct arena;
struct json;

/* One document being mapped. */
struct chatmap {
	const struct json	*j;
	const char		*buf;	/* the JSON text j was parsed from (raw JSON values) */
	size_t			 len;
	struct arena		*a;
	const char		*why;	/* on failure: the member that did not map */
	enum api_status		 st;	/* on failure: API_ERR_NOMEM is out of memory */
};

/* Each returns 0, or -1 with why (or st) set; t is the object's token. */
int	chatmap_message(struct chatmap *, int, Opencode__MessageInfo *);
int	chatmap_part(struct chatmap *, int, Opencode__PartInfo *);
/* *truncated is tc->truncated, for a caller that keeps its own flag. */
int	chatmap_tool(struct chatmap *, int, Opencode__ToolCallEvent *,
	    int *truncated);
int	chatmap_permission(struct chatmap *, int, Opencode__PermissionRequest *);
int	chatmap_question(struct chatmap *, int, Opencode__QuestionRequest *);
/* t is the array of Todo objects; session_id is left to the caller. */
int	chatmap_todos(struct chatmap *, int, Opencode__TodoList *);
/* t is the array of FileDiff objects; the ids are left to the caller. */
int	chatmap_diffs(struct chatmap *, int, Opencode__DiffList *);

/*
 * The field readers every netproc mapper uses; obj is an object's token
 * (lookups in -1 find nothing).  Each returns 0, or -1 with why (the key,
 * unless why was set already) or st set; a value of the wrong type fails.
 * chatmap_str: a required string ("" allowed), chatmap_req_str a required
 * non-empty one; the optional ones take their default when the member is
 * absent or null: "", false, 0 (chatmap_opt_int refuses a fraction).
 * chatmap_req_obj returns the object member's token, or -1;
 * chatmap_opt_obj its token, -1 when absent or null, -2 (why set) when it
 * is something else.  The _tok forms read token t itself, why naming it.
 */
int	chatmap_str(struct chatmap *, int, const char *, char **);
int	chatmap_req_str(struct chatmap *, int, const char *, char **);
int	chatmap_tok_str(struct chatmap *, int, const char *, char **);
int	chatmap_req_tok(struct chatmap *, int, const char *, char **);
int	chatmap_req_obj(struct chatmap *, int, const char *);
int	chatmap_opt_obj(struct chatmap *, int, const char *);
int	chatmap_opt_str(struct chatmap *, int, const char *, char **);
int	chatmap_opt_bool(struct chatmap *, int, const char *,
	    protobuf_c_boolean *);
int	chatmap_opt_int(struct chatmap *, int, const char *, int64_t *);

/* nmemb zeroed elements in the arena, or NULL with st API_ERR_NOMEM. */
void	*chatmap_alloc(struct chatmap *, size_t, size_t);

/*
 * An error text for the UI, in place: the first line only (the upstream
 * appends server stack traces), control characters as spaces, at most
 * CHATMAP_ERRMSG_MAX bytes cut on a character boundary and ending "...".
 * s is writable unless it is "".
 */
void	chatmap_error_text(char *);

/*
 * The length of the longest prefix of s[0..len) (valid UTF-8) that is at
 * most max bytes and ends on a character boundary.
 */
size_t	chatmap_cut(const char *, size_t, size_t);

#endif /* OCB_NETPROC_CHATMAP_H */
