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

#include "netproc/api.h"

#define UPSTREAM_CONNECT_TIMEOUT_MS	2000
#define UPSTREAM_REQUEST_TIMEOUT_MS	30000
#define UPSTREAM_MAX_INFLIGHT		512
#define UPSTREAM_MAX_BODY		(64u * 1024 * 1024)	/* /provider is 6.5 MB */
/*
 * Every upstream body in flight (both of a path2 call) together: a request
 * whose next bytes would pass it fails with UPSTREAM_ERROR and its memory
 * is released; the others go on.  512 bodies of UPSTREAM_MAX_BODY would be
 * 32 GiB.  Not 256 MiB: 50 clients asking for /provider at once (6.5 MB
 * each, 325 MB; test_integration's concurrent clients) must fit.  The event
 * stream is not charged: the SSE parser bounds it (SSE_MAX_LINE +
 * SSE_MAX_DATA, and a type and an id of a line each).
 */
#define UPSTREAM_BODY_BUDGET		(384u * 1024 * 1024)
#define UPSTREAM_BODY_BUDGET_STR	"384 MiB"
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
 * second destination check, TLS from memory, no proxy, no redirects, auth. */
int		 upstream_easy_setup(struct upstream *, CURL *, const char *path,
		    struct curl_slist *headers);
int		 upstream_xfer_add(struct upstream *, CURL *, struct upstream_xfer *);
void		 upstream_xfer_remove(struct upstream *, CURL *);
struct event_base *upstream_base(struct upstream *);

/*
 * Takes ownership of call; the answer comes through the done callback, maybe
 * before this returns (for a request refused at once).  The call's own
 * timeout_ms applies (0: UPSTREAM_REQUEST_TIMEOUT_MS).  With path2 set, a
 * GET of path2 follows a 2xx answer to path, and api_reply_pack gets both
 * (a failed first answer alone); both bodies count against
 * UPSTREAM_MAX_BODY and UPSTREAM_BODY_BUDGET.  A cancels_session call
 * answered 2xx ends, after its own reply, every ends_with_cancel call on
 * the same session_id (any connection) with the empty
 * ServerMessage{request_id}.
 */
void		 upstream_submit(struct upstream *, uint64_t conn_id,
		    struct api_call *call);
/* Drops every request of a connection that went away; no callback. */
void		 upstream_cancel_conn(struct upstream *, uint64_t conn_id);
size_t		 upstream_inflight(const struct upstream *);

#endif
