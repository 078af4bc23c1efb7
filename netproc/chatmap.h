/*
 * The chat shapes that both replies (api.c) and events (events.c) carry: a
 * message, a part (a tool call among them), a permission, a question, a todo
 * list, file diffs.  One mapper per shape, from a token of an upstream JSON
 * document to the protobuf-c struct, every string decoded into the caller's
 * arena.  Pure: no I/O, no logging, no global state.
 *
 * Rules (the same as events.h states for the 4B events):
 * - fields are looked up by name; a required one missing or of the wrong
 *   type fails the mapper, an optional one absent or null takes its
 *   default ("" or 0), one of the wrong type fails it too;
 * - every string is valid UTF-8 without NUL (json.h decodes so);
 * - a part's text and a tool's output, and a diff's patch, are cut at
 *   CHATMAP_TEXT_MAX bytes on a UTF-8 boundary, with truncated set.
 */
#ifndef OCB_NETPROC_CHATMAP_H
#define OCB_NETPROC_CHATMAP_H

#include <stddef.h>

#include "proto/messages.pb-c.h"

#define CHATMAP_TEXT_MAX	(256 * 1024)	/* bytes of a text, output or patch */

struct arena;
struct json;

/* One document being mapped. */
struct chatmap {
	const struct json	*j;
	const char		*buf;	/* the JSON text j was parsed from (raw JSON values) */
	size_t			 len;
	struct arena		*a;
	const char		*why;	/* on failure: the member that did not map */
	int			 oom;	/* on failure: out of memory */
};

/* Each returns 0, or -1 with why (or oom) set; t is the object's token. */
int	chatmap_message(struct chatmap *, int, Opencode__MessageInfo *);
int	chatmap_part(struct chatmap *, int, Opencode__PartInfo *);
int	chatmap_tool(struct chatmap *, int, Opencode__ToolCallEvent *,
	    int *truncated);
int	chatmap_permission(struct chatmap *, int, Opencode__PermissionRequest *);
int	chatmap_question(struct chatmap *, int, Opencode__QuestionRequest *);
/* t is the array of Todo objects; session_id is left to the caller. */
int	chatmap_todos(struct chatmap *, int, Opencode__TodoList *);
/* t is the array of FileDiff objects; the ids are left to the caller. */
int	chatmap_diffs(struct chatmap *, int, Opencode__DiffList *);

/*
 * The length of the longest prefix of s[0..len) (valid UTF-8) that is at
 * most max bytes and ends on a character boundary.
 */
size_t	chatmap_cut(const char *, size_t, size_t);

#endif /* OCB_NETPROC_CHATMAP_H */
