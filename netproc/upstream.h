/*
 * Copyright (c) 2026 The ocbroker authors
 * SPDX-License-Identifier: ISC (the licence is in the file LICENSE)
 */

/*
 * The upstream connection: libcurl's multi interface driven by netproc's own
 * libevent loop (curl_multi_socket_action), keep-alive reuse of connections,
 * the destination pinned at start-up.  It only moves bytes: building the
 * request and mapping the reply are api.c's.
 */
#ifndef OCB_UPSTREAM_H
#define OCB_UPSTREAM_H

#include <stddef.h>
#include <stdint.h>

#include <curl/curl.h>
#include <event2/event.h>

#include "common/options.h"
#include "netproc/api.h"

#define UPSTREAM_CONNECT_TIMEOUT_MS	2000
#define UPSTREAM_REQUEST_TIMEOUT_MS	30000
/*
 * The pool: at most UPSTREAM_CONNECTIONS_DEFAULT (--upstream-connections)
 * requests are handed to libcurl at once, so that many keep-alive
 * connections carry them all; the rest wait in FIFO order.  Long calls
 * (RunCommand, minutes) have a lane of as many connections of their own, so
 * that they never hold a short call's turn.  The event stream and its
 * /global/health fetch are outside both.
 */
#define UPSTREAM_CONNECTIONS_DEFAULT	OPT_UPSTREAM_CONNS_DEFAULT
#define UPSTREAM_CONNECTIONS_MAX	OPT_UPSTREAM_CONNS_MAX
/*
 * What may wait for a connection, in count and in memory (each waiting
 * call's own size and its request body): past either, a request is
 * refused with TOO_MANY_REQUESTS.  Waiting counts against the call's
 * timeout.
 */
#define UPSTREAM_QUEUE_MAX		4096
#define UPSTREAM_QUEUE_BYTES		(64u * 1024 * 1024)
#define UPSTREAM_MAX_BODY		(64u * 1024 * 1024)	/* /provider is 6.5 MB */
/*
 * Every upstream body in flight (both of a path2 call) together: a request
 * whose next bytes would pass it fails with UPSTREAM_ERROR and its memory
 * is released; the others go on.  With the pool, at most twice
 * --upstream-connections bodies are in flight (both lanes); 128 of
 * UPSTREAM_MAX_BODY would be 8 GiB, the default 16 of the 6.5 MB /provider
 * 104 MB.  The event stream is not charged: the SSE parser bounds it
 * (SSE_MAX_LINE + SSE_MAX_DATA, and a type and an id of a line each).
 */
#define UPSTREAM_BODY_BUDGET		(256u * 1024 * 1024)
#define UPSTREAM_BODY_BUDGET_STR	"256 MiB"
#define UPSTREAM_CA_BUNDLE		"/etc/ssl/certs/ca-certificates.crt"
#define UPSTREAM_CA_MAX			(8u * 1024 * 1024)
#define UPSTREAM_URL_MAX		1024

struct upstream;

/* Called once per submitted request with a packed ServerMessage (the reply or
 * an ErrorResponse); the callee copies what it keeps. */
typedef void (*upstream_done_cb)(void *arg, uint64_t conn_id,
    uint64_t request_id, const uint8_t *msg, size_t len);

struct upstream_config {
	const char	*url;		/* http[s]://host[:port][/prefix] */
	const char	*username;
	const uint8_t	*password;	/* NULL: no basic auth */
	size_t		 password_len;
	const char	*ca_file;	/* https only; NULL: UPSTREAM_CA_BUNDLE */
	unsigned	 connections;	/* of each lane; 0: the default */
};

/* Everything that needs the file system or the resolver happens here, before
 * the sandbox: the CA bundle is read into memory, the host resolved and pinned.
 * Returns NULL with a logged reason. */
struct upstream	*upstream_new(struct event_base *, const struct upstream_config *,
		    upstream_done_cb, void *arg);
void		 upstream_free(struct upstream *);
/* For transfers other than request/reply (the event stream): the easy handle's
 * private is an upstream_xfer, whose done runs when the transfer ends. */
struct upstream_xfer {
	void	(*done)(struct upstream_xfer *, CURLcode);
};
/* Sets what every transfer shares: URL from path, the pinned address, the
 * second destination check, TLS from memory, no proxy, no redirects, auth.
 * headers must not be NULL: the basic-auth line is appended to it (upauth.h),
 * and it is the caller's to free (curl_slist_free_all wipes it). */
int		 upstream_easy_setup(struct upstream *, CURL *, const char *path,
		    struct curl_slist *headers);
int		 upstream_xfer_add(struct upstream *, CURL *, struct upstream_xfer *);
void		 upstream_xfer_remove(struct upstream *, CURL *);
struct event_base *upstream_base(struct upstream *);
/*
 * A header line of a reply: -1 (with why, for the log and the client) when
 * it names a transfer coding other than identity or chunked, or a content
 * coding other than identity; else 0.  Every transfer's default header
 * callback applies it; one with its own callback must call it.
 */
int		 upstream_coding_check(const char *line, size_t len, char *why,
		    size_t whylen);

/*
 * Takes ownership of call; the answer comes through the done callback, maybe
 * before this returns (for a request refused at once).  The call's own
 * timeout_ms applies (0: UPSTREAM_REQUEST_TIMEOUT_MS), counted from here:
 * a call that waits for a connection that long ends with UPSTREAM_TIMEOUT
 * without reaching the upstream.  With path2 set, a
 * GET of path2 follows a 2xx answer to path, and api_reply_pack gets both
 * (a failed first answer alone); both bodies count against
 * UPSTREAM_MAX_BODY and UPSTREAM_BODY_BUDGET.  A cancels_session call
 * answered 2xx ends, after its own reply, every ends_with_cancel call on
 * the same session_id (any connection) with the empty
 * ServerMessage{request_id}.
 */
void		 upstream_submit(struct upstream *, uint64_t conn_id,
		    struct api_call *call);
/* Drops every request of a connection that went away, waiting or not; no
 * callback. */
void		 upstream_cancel_conn(struct upstream *, uint64_t conn_id);
/* Requests held: running and waiting. */
size_t		 upstream_inflight(const struct upstream *);

#endif
