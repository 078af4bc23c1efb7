/*
 * Copyright (c) 2026 The ocbroker authors
 * SPDX-License-Identifier: ISC (the licence is in the file LICENSE)
 */

/*
 * netproc's HTTP <-> protobuf mapping: turns a decoded ClientMessage into an
 * upstream call and the upstream's reply into a packed ServerMessage.  Pure:
 * no I/O, no logging, no global state; the libcurl glue calls it.
 */
#ifndef OCB_NETPROC_API_H
#define OCB_NETPROC_API_H

#include <stddef.h>
#include <stdint.h>

#include "common/errcode.h"
#include "netproc/pathenc.h"
#include "proto/messages.pb-c.h"

#define API_PATH_MAX		512
#define API_PROVIDER_MAX	128		/* api_call.provider_id, with the NUL */
#define API_MSG_MAX		256		/* ErrorResponse.message, with the NUL */
#define API_QUOTE_MAX		120		/* bytes of upstream error text quoted */
#define API_ERRBODY_MAX		(64 * 1024)	/* larger error bodies are not read */
#define API_NAME_MAX		256		/* model id and agent name in a prompt */
#define API_FIELD_MAX		(16 * 1024 * 1024) /* any string put in a body */

/*
 * Why a reply did not map, as the mappers (api.c, api_chat.c, chatmap.c,
 * providers.c) carry it.  json.c and json_skim.c report through errno;
 * api_status_errno() turns that into a status once, where they fail.
 */
enum api_status {
	API_OK = 0,
	API_ERR_NOMEM,		/* out of memory: no answer, the caller's INTERNAL */
	API_ERR_MALFORMED,	/* not what was expected (EINVAL, EDOM, a wrong type) */
	API_ERR_TOO_BIG,	/* past a limit (E2BIG): "reply too large" */
	API_ERR_ABSENT		/* json_parse_member found no such member (ENOENT) */
};

enum api_status	api_status_errno(int);

enum api_method { API_GET, API_POST, API_PUT, API_DELETE, API_PATCH };

/* Which reply mapper applies (api_call.kind); 0 is never valid. */
enum api_kind {
	API_KIND_EMPTY = 1,		/* no payload: 204, empty, or `true` */
	API_KIND_SESSION_LIST,		/* GET /session */
	API_KIND_SESSION_INFO,		/* POST /session */
	API_KIND_AGENT_LIST,		/* GET /agent */
	API_KIND_PROVIDER_STATUS,	/* GET /provider, `connected` */
	API_KIND_AUTH_STATUS,		/* GET /provider, provider_id connected? */
	API_KIND_HEALTH,		/* GET /global/health */
	/* protocol v2 */
	API_KIND_SESSION_STATUS_LIST,	/* GET /session/status */
	API_KIND_MESSAGE_LIST,		/* GET /session/{id}/message */
	API_KIND_COMMAND_LIST,		/* GET /command */
	API_KIND_PROVIDER_LIST,		/* GET /provider, skimmed */
	API_KIND_PENDING_LIST,		/* GET /permission, then GET /question (path2) */
	API_KIND_TODO_LIST,		/* GET /session/{id}/todo */
	API_KIND_DIFF_LIST		/* GET /session/{id}/diff */
};

#define API_TIMEOUT_LONG_MS	(10 * 60 * 1000)	/* RunCommand */
#define API_MESSAGES_DEFAULT	100			/* ListMessages without a limit */
#define API_MESSAGES_MAX	1000			/* a larger limit is INVALID_REQUEST */
#define API_ANSWERS_MAX		64		/* ReplyQuestion: answers (one per question) */
#define API_LABELS_MAX		64		/* ReplyQuestion: labels in one answer */
#define API_LABEL_MAX		(16 * 1024)	/* bytes of one label (custom answers are typed) */
#define API_FILES_MAX		32		/* SendMessage: file attachments */

struct api_call {
	uint64_t	 request_id;
	enum api_method	 method;
	char		 path[API_PATH_MAX];	/* e.g. "/session/ses_abc/abort", already percent-encoded */
	char		*body;			/* JSON request body, NULL for none; may hold an API key: api_call_free wipes it */
	size_t		 body_len;		/* body is also NUL-terminated */
	int		 kind;			/* enum api_kind */
	char		 provider_id[API_PROVIDER_MAX];	/* GetAuth: which provider to look for in GET /provider */
	int		 quote_errors;		/* the upstream's error text may be quoted back */
	/* protocol v2 */
	long		 timeout_ms;		/* 0: UPSTREAM_REQUEST_TIMEOUT_MS; RunCommand: API_TIMEOUT_LONG_MS */
	char		 session_id[PATHENC_ID_MAX + 1];	/* the session the request names, "" for none */
	char		 message_id[PATHENC_ID_MAX + 1];	/* GetDiff: echoed in DiffList */
	char		 path2[API_PATH_MAX];	/* a second GET whose reply the mapper needs too ("" for none) */
	int		 include_all;		/* ListProviders */
	uint32_t	 limit;			/* ListMessages: messages asked for (the upstream is asked for one more) */
	int		 ends_with_cancel;	/* RunCommand: a CancelRequest on session_id ends it */
	int		 cancels_session;	/* CancelRequest: ends the RunCommand calls on session_id once it succeeded */
	size_t		 max_reply;		/* the client's --max-message: a reply never exceeds it (MessageList) */
	char		 before[PATHENC_ID_MAX + 1];	/* ListMessages: the page before this msg_ id ("" for none) */
	int		 path2_from_reply;	/* path2 is made from the first reply (api_second_path) */
};

struct api_error {
	const char	*code;			/* API_ERR_* */
	char		 message[API_MSG_MAX];
};

struct api_response {
	long		 status;
	const char	*content_type;		/* may be NULL */
	const uint8_t	*body;
	size_t		 body_len;
	const struct api_response *second;	/* the reply to call->path2, or NULL */
};

/*
 * Turns one decoded ClientMessage into an upstream call.  Returns 0, or -1
 * with err filled: INVALID_REQUEST (bad or missing ids or fields),
 * UNKNOWN_REQUEST (no payload, or one netproc does not handle, such as
 * AuthHandshake or Subscribe), INTERNAL (out of memory).  A body, when set,
 * is JSON (Content-Type: application/json).  On -1 nothing needs freeing.
 */
int	 api_call_build(const Opencode__ClientMessage *, struct api_call *,
	    struct api_error *);
/*
 * For a call with path2_from_reply (ListMessages with before): makes
 * call->path2 out of the first GET's 2xx reply.  The server pages by a
 * cursor of the message's id and creation time, and GET
 * /session/{id}/message/{before} tells the time.  Returns 0, or -1 with
 * err filled (PARSE_ERROR, INVALID_REQUEST when the path does not fit).
 */
int	 api_second_path(struct api_call *, const struct api_response *,
	    struct api_error *);

/* explicit_bzero()s and frees the body. */
void	 api_call_free(struct api_call *);

/*
 * Maps the upstream reply into a packed ServerMessage (request_id =
 * call->request_id) in a malloc'd buffer.  A reply that cannot be mapped
 * becomes an ErrorResponse; -1 only when out of memory.
 */
int	 api_reply_pack(const struct api_call *, const struct api_response *,
	    uint8_t **, size_t *);

/*
 * A packed ServerMessage carrying ErrorResponse{code, message}.  A code
 * outside the set becomes INTERNAL; the message is cut to API_MSG_MAX - 1
 * bytes and made valid UTF-8 without control characters.
 */
int	 api_error_pack(uint64_t, const char *, const char *, uint8_t **,
	    size_t *);
/*
 * The same into buf, without allocating: how a request is still answered
 * when memory ran out.  Returns the packed length.
 */
#define API_ERRPACK_MAX		(API_MSG_MAX + 128)
size_t	 api_error_pack_buf(uint64_t, const char *, const char *,
	    uint8_t[API_ERRPACK_MAX]);

/* How a transfer failed below HTTP: upstream.c tells, api.c names it. */
enum api_transport {
	API_XPORT_TIMEOUT,	/* no answer within the call's time */
	API_XPORT_UNREACHABLE,	/* no connection, or it broke */
	API_XPORT_TLS,		/* the upstream's certificate did not verify */
	API_XPORT_OVER_BUDGET,	/* netproc's body budget is spent */
	API_XPORT_TOO_LARGE,	/* the answer passed its size limit */
	API_XPORT_NO_MEMORY,	/* netproc's: INTERNAL, not UPSTREAM_ERROR */
	API_XPORT_OTHER,
};

/*
 * The contract's code and message for a transport failure.  detail is
 * libcurl's text for UNREACHABLE and OTHER, the budget ("384 MiB") for
 * OVER_BUDGET, unused otherwise.
 */
void	 api_transport_error(enum api_transport, const char *detail,
	    struct api_error *);

/*
 * What became of a submitted call, as upstream.c tells it (it only moves
 * bytes); api_answer maps that to the one ServerMessage that answers it.
 */
enum api_end {
	API_END_REPLY,		/* the upstream answered over HTTP: resp */
	API_END_TRANSPORT,	/* it failed below HTTP: transport, detail */
	API_END_ERROR,		/* err (api_second_path said why) */
	API_END_QUEUE_FULL,	/* netproc's queue of waiting calls is full */
	API_END_NO_MEMORY,	/* netproc ran out of memory holding it */
	API_END_SETUP,		/* the transfer could not be set up */
	API_END_ENDED		/* ended by a cancel: the empty reply */
};

struct api_outcome {
	enum api_end		 end;
	const struct api_response *resp;	/* API_END_REPLY */
	enum api_transport	 transport;	/* API_END_TRANSPORT */
	const char		*detail;	/* API_END_TRANSPORT, as api_transport_error */
	const struct api_error	*err;		/* API_END_ERROR */
};

struct api_answer {
	uint8_t		*msg;		/* the packed ServerMessage: heap or buf */
	size_t		 len;
	struct api_error err;		/* what was answered, for the log: code NULL for a reply */
	uint8_t		 buf[API_ERRPACK_MAX];
};

/*
 * Packs the answer to call: the mapped reply, or ErrorResponse{code,
 * message}.  It never fails: when the reply cannot be allocated, the
 * answer is INTERNAL "out of memory", packed in ans->buf.
 */
void	 api_answer(const struct api_call *, const struct api_outcome *,
	    struct api_answer *);
/* Frees what api_answer allocated. */
void	 api_answer_free(struct api_answer *);

/* 1 when a Content-Type is application/json, with parameters or none. */
int		 api_is_json_type(const char *);

/* "GET", "POST", ... */
const char	*api_method_name(enum api_method);

#endif /* OCB_NETPROC_API_H */
