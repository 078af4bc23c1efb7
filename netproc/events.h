/*
 * Copyright (c) 2026 The ocbroker authors
 * SPDX-License-Identifier: ISC (the licence is in the file LICENSE)
 */

/*
 * Maps the data of one upstream `GET /event` event (one JSON object, see
 * tests/fixtures/README.md) to zero or more packed ServerMessages with
 * request_id 0 (doc/protocol.md, "Events").  Pure: no I/O, no logging, no
 * global state; the mapper remembers only which assistant messages were
 * already reported complete and which part ids are reasoning parts.
 *
 * - message.part.delta (field "text")	-> ChatToken, kind "reasoning" when
 *   the part id was announced as a reasoning part by message.part.updated
 *   (remembered: the last EVENT_PART_KINDS_MAX reasoning part ids, FIFO),
 *   else "text" (an unknown or forgotten id included); another field is
 *   ignored (1.18.34 only sends "text")
 * - message.updated, every role	-> MessageInfo (message_updated), then,
 *   for an assistant message with time.completed set, ChatCompleted, once
 *   per message id (the last EVENT_COMPLETED_MAX ids, FIFO)
 * - message.part.updated, a tool part	-> ToolCallEvent
 * - message.part.updated, any other	-> PartInfo (part_updated)
 * - message.removed			-> MessageRemoved
 * - message.part.removed		-> PartRemoved
 * - permission.asked			-> PermissionRequest
 * - permission.replied			-> PermissionResolved
 * - question.asked			-> QuestionRequest
 * - question.replied / .rejected	-> QuestionResolved (rejected set)
 * - todo.updated			-> TodoList (todo_updated)
 * - session.diff			-> DiffList (diff_updated), with
 *					   message_id ""
 * - session.created/updated/deleted/status/idle/error -> SessionEvent
 * - server.connected, server.heartbeat	-> reported, nothing emitted
 * - anything else			-> ignored, counted by type
 *
 * The chat shapes are mapped by chatmap.c (chatmap.h states their rules:
 * texts, tool outputs and patches cut at CHATMAP_TEXT_MAX with truncated
 * set, raw JSON cleaned, the ids required).  Every message carries its
 * session id, the one passed to emit (for the front's session filter).
 * Fields are looked up by name (the upstream's key order is not stable).  A
 * required field that is missing or of the wrong type makes the event
 * EVENT_INVALID and nothing is emitted; an optional one that is absent or
 * null takes its default ("" or 0), one of the wrong type is invalid too
 * (the one exception: a tool's state.metadata.output, a fallback for
 * state.output, is used only when it is a string).  Every string emitted
 * is valid UTF-8 without NUL.  input_json and metadata_json are the
 * upstream's own JSON text of that value, except that invalid UTF-8
 * becomes U+FFFD and a raw control character inside a string becomes a
 * \u00XX escape (so the text stays valid JSON).  Error texts
 * (SessionEvent.error_message, MessageInfo.error_message) keep only their
 * first line (the upstream puts server stack traces after it), with
 * control characters as spaces, cut to EVENT_ERRMSG_MAX bytes.  A message
 * id longer than EVENT_ID_MAX makes message.updated invalid; a longer
 * reasoning part id is not remembered (its deltas say "text").
 */
#ifndef OCB_NETPROC_EVENTS_H
#define OCB_NETPROC_EVENTS_H

#include <stddef.h>
#include <stdint.h>

#define EVENT_COMPLETED_MAX	4096		/* completed message ids remembered, FIFO */
#define EVENT_PART_KINDS_MAX	1024		/* reasoning part ids remembered, FIFO */
#define EVENT_ID_MAX		256		/* a longer message id is invalid */
#define EVENT_ERRMSG_MAX	1024		/* bytes of an error text, "..." included
						   (CHATMAP_ERRMSG_MAX) */
#define EVENT_STATS_TYPES	32		/* ignored event types counted by name */
#define EVENT_TYPE_NAME_MAX	48		/* with the NUL; longer names count as other */
#define EVENT_ARENA_KEEP	(64 * 1024)	/* string bytes kept between arena frees */
#define EVENT_OUT_KEEP		(64 * 1024)	/* a larger output buffer is released */

enum event_kind {
	EVENT_MAPPED,		/* a message was emitted */
	EVENT_IGNORED,		/* nothing to send (unknown type, another delta field) */
	EVENT_CONNECTED,	/* server.connected: the caller sends UpstreamStatus */
	EVENT_HEARTBEAT,	/* server.heartbeat */
	EVENT_INVALID		/* not an event, or a known type with a bad shape */
};

/*
 * One packed ServerMessage; session_id is "" when the event names no
 * session.  Both pointers are valid only during the call.
 */
typedef void (*event_emit_fn)(void *arg, const char *session_id,
    const uint8_t *msg, size_t len);

struct event_type_count {
	char		name[EVENT_TYPE_NAME_MAX];	/* [A-Za-z0-9._-] only */
	uint64_t	count;
};

struct event_stats {
	uint64_t	mapped;		/* EVENT_MAPPED */
	uint64_t	walked;		/* of them, deltas read without tokens */
	uint64_t	emitted;	/* messages handed to emit */
	uint64_t	ignored;	/* EVENT_IGNORED */
	uint64_t	duplicates;	/* completions already reported (MessageInfo only) */
	uint64_t	reasoning_evicted; /* reasoning part ids forgotten, the table full */
	uint64_t	invalid;	/* EVENT_INVALID, nomem included */
	uint64_t	nomem;		/* allocation failures: an event lost, or a completion not remembered */
	uint64_t	connected;
	uint64_t	heartbeats;
	/* ignored events by type; the rest (table full, odd names) in other */
	size_t		n_ignored_types;
	struct event_type_count ignored_types[EVENT_STATS_TYPES];
	uint64_t	ignored_other;
};

struct event_mapper;

struct event_mapper	*event_mapper_new(void);
void			 event_mapper_free(struct event_mapper *);
/* Maps the event data json[0..len) (need not be NUL-terminated). */
enum event_kind		 event_map(struct event_mapper *, const char *, size_t,
			    event_emit_fn, void *);
const struct event_stats *event_mapper_stats(const struct event_mapper *);
/*
 * For tests: with on, every event takes the full way (tokens), none the
 * walk that message.part.delta takes when it has its usual shape; both
 * must give the same.
 */
void			 event_mapper_slow_only(struct event_mapper *, int);

#endif /* OCB_NETPROC_EVENTS_H */
