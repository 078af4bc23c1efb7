/*
 * Copyright (c) 2026 The ocbroker authors
 * SPDX-License-Identifier: ISC (the licence is in the file LICENSE)
 */

/*
 * netproc: the only process that may reach the upstream.  It reads requests
 * from the front over fd 3, turns each into an upstream call (api.c) carried by
 * libcurl (upstream.c), and writes the mapped reply back.  It never touches a
 * client socket; all JSON is parsed here.
 */
#include "config.h"

#include <curl/curl.h>
#include <errno.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/chan.h"
#include "common/ipc.h"
#include "common/log.h"
#include "common/options.h"
#include "common/pballoc.h"
#include "common/proc.h"
#include "common/timer.h"
#include "netproc/api.h"
#include "netproc/curlmem.h"
#include "netproc/request.h"
#include "netproc/stream.h"
#include "netproc/upstream.h"
#include "parent/parent.h"
#include "sandbox/sandbox.h"

#define NETPROC_OUTQ_MAX	(256u * 1024 * 1024)	/* the front stopped reading */
/* Events queued for the front above this pause the upstream event stream
 * until the queue is empty: a front that falls behind (its CPU, not its
 * clients: it drops slow clients) slows the upstream down through TCP,
 * instead of making netproc buffer the difference. */
#define NETPROC_EVENTQ_HIGH	(256u * 1024)
#define NETPROC_MMAP_MIN	(1024 * 1024)
#define NETPROC_OWED_MAX	256	/* answers waiting for memory */
#define NETPROC_RETRY_MS	20	/* how soon an owed answer is tried again */

/* A request whose answer could not be queued yet: INTERNAL is owed. */
struct owed {
	uint64_t	 conn_id;
	uint64_t	 request_id;
};

struct netproc {
	struct event_base	*base;
	struct chan		 chan;		/* to the front */
	struct upstream		*up;
	struct stream		*stream;
	size_t			 max_reply;	/* the client's --max-message */
	struct event		*retry;		/* owed answers */
	struct owed		 owed[NETPROC_OWED_MAX];
	size_t			 nowed;
};

/* What libcurl or its TLS library would read from the environment. */
static const char *const scrub_env[] = {
	"SSLKEYLOGFILE", "http_proxy", "HTTP_PROXY", "https_proxy",
	"HTTPS_PROXY", "all_proxy", "ALL_PROXY", "no_proxy", "NO_PROXY",
	"CURL_CA_BUNDLE", "SSL_CERT_FILE", "SSL_CERT_DIR", "CURL_HOME",
};

static void
retry_soon(struct netproc *np)
{
	timer_soon(np->retry, NETPROC_RETRY_MS);
}

/* What a chan_send*() returned: 0, or -1 when out of memory (nothing was
 * queued); the rest is fatal. */
static int
sent(int rc)
{
	if (rc == 0)
		return 0;
	switch (errno) {
	case ENOMEM:
		return -1;
	case ENOTCONN:
		return 0;	/* the front is gone: the loop is ending */
	case EAGAIN:
		fatalx("the front stopped reading");
	default:
		fatalx("cannot pack a frame");
	}
}

static int
send_reply(struct netproc *np, uint64_t conn_id, uint64_t request_id,
    const uint8_t *msg, size_t len)
{
	return sent(chan_send_reply(&np->chan, conn_id, request_id, msg, len));
}

/*
 * Answers INTERNAL "out of memory" (packed on the stack); when even that
 * cannot be queued, it is owed and tried again soon, so that the request
 * still gets its one reply.
 */
static void
answer_nomem(struct netproc *np, uint64_t conn_id, uint64_t request_id)
{
	struct request_answer ans;

	request_nomem(request_id, &ans);
	if (np->nowed == 0 &&
	    send_reply(np, conn_id, request_id, ans.msg, ans.len) == 0)
		return;
	if (np->nowed == NETPROC_OWED_MAX) {
		log_warnx("request %llu gets no answer: out of memory",
		    (unsigned long long)request_id);
		return;
	}
	np->owed[np->nowed].conn_id = conn_id;
	np->owed[np->nowed].request_id = request_id;
	np->nowed++;
	retry_soon(np);
}

/* Answers what is owed, oldest first; 0 when nothing is left. */
static int
pay_owed(struct netproc *np)
{
	struct request_answer ans;
	size_t i;

	for (i = 0; i < np->nowed; i++) {
		request_nomem(np->owed[i].request_id, &ans);
		if (send_reply(np, np->owed[i].conn_id,
		    np->owed[i].request_id, ans.msg, ans.len) == -1)
			break;
	}
	memmove(np->owed, np->owed + i, (np->nowed - i) * sizeof(np->owed[0]));
	np->nowed -= i;
	return np->nowed == 0 ? 0 : -1;
}

/* A connection that went away is owed nothing. */
static void
forget_owed(struct netproc *np, uint64_t conn_id)
{
	size_t i, n = 0;

	for (i = 0; i < np->nowed; i++)
		if (np->owed[i].conn_id != conn_id)
			np->owed[n++] = np->owed[i];
	np->nowed = n;
}

static void
reply_cb(void *arg, uint64_t conn_id, uint64_t request_id, const uint8_t *msg,
    size_t len)
{
	struct netproc *np = arg;

	if (send_reply(np, conn_id, request_id, msg, len) == 0)
		return;
	log_warnx("request %llu: out of memory queueing its reply",
	    (unsigned long long)request_id);
	answer_nomem(np, conn_id, request_id);
}

/* One mapped upstream event, to the front for fan-out. */
static void
event_cb(void *arg, const char *session_id, const uint8_t *msg, size_t len)
{
	struct netproc *np = arg;

	/* Clients must not miss it unawares: they are told to refetch. */
	if (sent(chan_send_event(&np->chan, session_id, msg, len)) == -1)
		stream_resync(np->stream, "out of memory queueing an event");
	else if (buf_used(&np->chan.out) > NETPROC_EVENTQ_HIGH)
		stream_pause(np->stream);
}

static void
handle_request(struct netproc *np, Ocb__Ipc__Request *rq)
{
	struct request_answer ans;
	enum request_result r;
	struct api_call *call;

	r = request_prepare(rq, pb_wiping_allocator(), np->max_reply, &call,
	    &ans);
	/*
	 * The encoded request may hold an API key: it is wiped once decoded,
	 * not when its frame is freed, since the call can complete and be
	 * answered inside upstream_submit (a fast upstream on a kept-alive
	 * connection) and the client must not hold an answer while netproc
	 * still holds the key.
	 */
	wipe(rq->client_message.data, rq->client_message.len);
	switch (r) {
	case REQUEST_SUBMIT:
		upstream_submit(np->up, rq->conn_id, call);
		break;
	case REQUEST_ANSWER:
		if (ans.nomem)
			log_warnx("request %llu: out of memory",
			    (unsigned long long)rq->request_id);
		else
			log_info("request %llu refused: %s: %s",
			    (unsigned long long)rq->request_id, ans.err.code,
			    ans.err.message);
		reply_cb(np, rq->conn_id, rq->request_id, ans.msg, ans.len);
		break;
	case REQUEST_MALFORMED:
		/* The front decoded it already: this is the front's bug. */
		fatalx("the front forwarded a request that does not decode");
	}
}

/* A frame from the front that could not be decoded for lack of memory. */
static void
frame_lost(struct netproc *np, const struct ipc_lost *lost)
{
	switch (lost->body_case) {
	case OCB__IPC__FRAME__BODY_REQUEST:
		log_warnx("request %llu: out of memory decoding it",
		    (unsigned long long)lost->request_id);
		answer_nomem(np, lost->conn_id, lost->request_id);
		break;
	case OCB__IPC__FRAME__BODY_CANCEL:
		/* Its requests run to their end; the front drops the
		 * replies of a connection it no longer has. */
		log_warnx("out of memory decoding the cancel of connection "
		    "%llu", (unsigned long long)lost->conn_id);
		break;
	default:
		log_warnx("out of memory decoding a frame from the front");
		break;
	}
}

static void
front_frame(struct chan *ch, Ocb__Ipc__Frame *fr, void *arg)
{
	struct netproc *np = arg;

	switch (fr->body_case) {
	case OCB__IPC__FRAME__BODY_REQUEST:
		handle_request(np, fr->request);
		break;
	case OCB__IPC__FRAME__BODY_CANCEL:
		upstream_cancel_conn(np->up, fr->cancel->conn_id);
		forget_owed(np, fr->cancel->conn_id);
		break;
	default:
		fatalx("the front sent a frame it must not send");
	}
}

static void
front_lost(struct chan *ch, const struct ipc_lost *lost, void *arg)
{
	frame_lost(arg, lost);
}

static void
front_closed(struct chan *ch, enum chan_end end, const char *why, void *arg)
{
	struct netproc *np = arg;

	switch (end) {
	case CHAN_CLOSED:
		log_debug("the front closed our channel");
		break;
	case CHAN_WRITE_FAILED:
		if (errno != EPIPE && errno != ECONNRESET)
			fatal("front channel: write");
		/* The front is gone (shutdown): nothing left to do. */
		log_debug("front channel closed");
		break;
	case CHAN_BAD:
		fatalx("front channel: %s", why);
	}
	event_base_loopexit(np->base, NULL);
}

/* The front has taken every queued frame: the event stream may go on. */
static void
front_drained(struct chan *ch, void *arg)
{
	struct netproc *np = arg;

	if (np->stream != NULL)
		stream_resume(np->stream);
}

/* From the configuration on, out of memory costs a frame, not the channel. */
static const struct chan_cb front_cb = {
	front_frame, front_lost, front_closed, front_drained
};

static void
retry_cb(evutil_socket_t fd, short what, void *arg)
{
	struct netproc *np = arg;

	if (pay_owed(np) == -1)
		retry_soon(np);
}

static void
sigterm_cb(evutil_socket_t sig, short what, void *arg)
{
	struct netproc *np = arg;

	event_base_loopexit(np->base, NULL);
}

/*
 * epoll's change list: libcurl moves a socket from write to read interest
 * and back on every request (and to none when its connection returns to
 * the pool, then to write when the next request takes it), and each move
 * is an event_del and an event_add, so two epoll_ctl calls; with the change
 * list libevent applies one change per descriptor per loop iteration.
 * Its caveat (a dup()ed descriptor) does not apply: libcurl dups nothing.
 */
static struct event_base *
base_new(void)
{
	struct event_config *ec;
	struct event_base *base;

	if ((ec = event_config_new()) == NULL)
		return NULL;
	event_config_set_flag(ec, EVENT_BASE_FLAG_EPOLL_USE_CHANGELIST);
	base = event_base_new_with_config(ec);
	event_config_free(ec);
	return base;
}

int
netproc_main(void)
{
	struct netproc np;
	struct upstream_config ucfg;
	Ocb__Ipc__Frame *fr;
	Ocb__Ipc__Config *cfg;
	struct event *ev_term;
	struct tm tm;
	time_t now;
	int insecure, drop;
	unsigned drop_uid, drop_gid;
	char chroot_dir[256];

	log_init("netproc", LOG_LEVEL_INFO, 0);
	/*
	 * Blocks of a MiB or more (JSON tokens, packed replies; upstream.c
	 * maps its large bodies itself) are mapped on their own and go back
	 * to the system when freed: a refused body's memory is given back at
	 * once, and the body budget bounds what stays resident.
	 * glibc would otherwise raise the threshold to 32 MiB as big blocks
	 * are freed and keep them in its heap.
	 */
#ifdef M_MMAP_THRESHOLD
	(void)mallopt(M_MMAP_THRESHOLD, NETPROC_MMAP_MIN);
#endif
	signal(SIGPIPE, SIG_IGN);
	/* The parent relays a terminal's ^C; the front owns the shutdown. */
	signal(SIGINT, SIG_IGN);
	if (proc_no_core() == -1)
		fatal("cannot disable core dumps");
	if (proc_check_ipc_fd() == -1)
		fatalx("fd %d is not our channel", PROC_IPC_FD);

	memset(&np, 0, sizeof(np));
	chan_init(&np.chan, PROC_IPC_FD);
	np.chan.outq_max = NETPROC_OUTQ_MAX;
	if (chan_read_blocking(&np.chan, &fr) == -1 ||
	    fr->body_case != OCB__IPC__FRAME__BODY_CONFIG)
		fatalx("cannot read the configuration");
	cfg = fr->config;
	log_setlevel((int)cfg->log_level);
	insecure = cfg->insecure_no_sandbox;
	drop = cfg->drop_privileges;
	drop_uid = cfg->uid;
	drop_gid = cfg->gid;
	snprintf(chroot_dir, sizeof(chroot_dir), "%s", cfg->chroot_dir);
	/* 0 (a parent that does not send it): OPT_MAX_MESSAGE_DEFAULT. */
	np.max_reply = cfg->max_message > 0 ? (size_t)cfg->max_message :
	    (size_t)OPT_MAX_MESSAGE_DEFAULT;

	/* doc/sandbox.md, "netproc before its filter", in this order. */
	for (size_t i = 0; i < sizeof(scrub_env) / sizeof(scrub_env[0]); i++)
		unsetenv(scrub_env[i]);
	/* libcurl's buffers are wiped when freed (curlmem.c): the first
	 * libcurl call, before any of its allocations. */
	if (curlmem_global_init(CURL_GLOBAL_DEFAULT) == -1)
		fatalx("curl_global_init failed");
	/* The first TLS handshake would otherwise open /etc/localtime. */
	tzset();
	now = time(NULL);
	localtime_r(&now, &tm);

	if ((np.base = base_new()) == NULL)
		fatalx("event_base_new failed");
	memset(&ucfg, 0, sizeof(ucfg));
	ucfg.url = cfg->upstream_url;
	ucfg.connections = cfg->upstream_connections;	/* 0: the default */
	if (cfg->upstream_ca_file[0] != '\0')
		ucfg.ca_file = cfg->upstream_ca_file;
	ucfg.username = cfg->upstream_username;
	if (cfg->upstream_password.len > 0) {
		ucfg.password = cfg->upstream_password.data;
		ucfg.password_len = cfg->upstream_password.len;
	}
	if ((np.up = upstream_new(np.base, &ucfg, reply_cb, &np)) == NULL)
		fatalx("cannot set up the upstream %s", cfg->upstream_url);
	ipc_frame_free(fr);	/* wipes the password */
	if ((np.stream = stream_new(np.up, event_cb, &np)) == NULL)
		fatalx("cannot set up the event stream");

	np.retry = evtimer_new(np.base, retry_cb, &np);
	ev_term = evsignal_new(np.base, SIGTERM, sigterm_cb, &np);
	if (np.retry == NULL || ev_term == NULL ||
	    chan_start(&np.chan, np.base, &front_cb, &np) == -1 ||
	    evsignal_add(ev_term, NULL) == -1)
		fatalx("cannot set up the event loop");

	if (drop && sandbox_drop_privileges(chroot_dir, drop_uid, drop_gid) == -1)
		fatalx("cannot drop privileges");
	if (!insecure && sandbox_enter(SANDBOX_NETPROC) == -1)
		fatal("cannot enter the sandbox");

	stream_start(np.stream);
	/* Requests may have arrived in the same read as the configuration. */
	chan_dispatch(&np.chan);
	event_base_dispatch(np.base);

	/* Everything released, so a sanitizer build can check for leaks. */
	stream_free(np.stream);
	upstream_free(np.up);
	chan_free(&np.chan);
	event_free(np.retry);
	event_free(ev_term);
	event_base_free(np.base);
	curlmem_global_cleanup();
	return 0;
}
