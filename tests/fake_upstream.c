/*
 * Copyright (c) 2026 The ocbroker authors
 * SPDX-License-Identifier: ISC (the licence is in the file LICENSE)
 */

/*
 * A fake OpenCode server for the integration tests, on libevent's evhttp.
 *
 * usage: fake_upstream --fixtures DIR [--port N] [--heartbeat S]
 * It binds 127.0.0.1 (port 0 = any), prints {"port":N} on stdout once
 * listening, logs to stderr and exits 0 on SIGTERM/SIGINT.  It answers the
 * routes ocbroker uses with the captured fixtures of OpenCode 1.18.34
 * (bodies byte for byte, application/json); unknown routes get 200
 * text/html, as from the real server.  With FAKE_UPSTREAM_PASSWORD set,
 * every non-control route needs basic auth opencode:<password> (else 401
 * with www-authenticate and an empty body).
 *
 * Control interface (never password protected):
 *   POST /__fake/mode     "normal" | "status N" | "hang" | "html" | "close" |
 *                         "te-gzip" | "ce-gzip":
 *                         how every following non-control request is answered
 *                         (te-gzip, ce-gzip: 200 with the session list
 *                         gzipped, as Transfer-Encoding: gzip, chunked or
 *                         as Content-Encoding: gzip, which nobody asked for)
 *   GET  /__fake/last[?method=M][&prefix=P]
 *                         "METHOD URI\n<body>" of the last non-control request
 *                         (of method M, with a URI starting with P);
 *                         404 if none
 *   GET  /__fake/log      "METHOD URI" of every non-control request, a line
 *                         each (the last HISTORY_MAX), oldest first
 *   GET  /__fake/count    {"requests":N,"connections":N,"open":N,"streams":N}:
 *                         requests and distinct TCP connections since start or
 *                         reset, connections and /event streams open now; the
 *                         GET /event streams are only counted in "streams", so
 *                         that a background subscription does not blur a
 *                         keep-alive count
 *   POST /__fake/reset    zero the counters, forget the history, mode normal
 *   POST /__fake/sse      "sse-NAME.txt [RATE]": replay that transcript to
 *                         every open /event stream, one event per chunk, at
 *                         RATE events/s (default: all at once)
 *   POST /__fake/sse-end  end every /event stream once its queue is sent,
 *                         without the terminating chunk (as the real server
 *                         on SIGTERM)
 *   POST /__fake/event    one event JSON a line: each is sent to every open
 *                         /event stream as "data: LINE\n\n" (events no
 *                         transcript holds yet)
 *   POST /__fake/command  "normal" | "hang" | "stall": POST /session/{id}/
 *                         command is answered at once, or held until a
 *                         POST /session/{id}/abort of the same session, or
 *                         never
 *   POST /__fake/messages "FILE.json": the list GET /session/{id}/message
 *                         pages through (default message-list-full.json)
 *   GET  /__fake/stalls   {"sent":N,"broken":N}: GET /session/ses_stall*
 *                         bodies sent up to their stall, and closed by the
 *                         client before that
 *   POST /__fake/stall-end close every connection whose stalled body is sent
 *   GET  /__fake/stream-queued {"queued":N}: bytes of the /event streams
 *                         not yet handed to the kernel (a reader that
 *                         stopped reading leaves them here)
 *   POST /__fake/drop-idle close every other connection that has no request
 *                         in progress (as a server whose keep-alive timeout
 *                         passed): {"closed":N}
 *   POST /__fake/event-life "MS" | "never": each /event stream opened from now
 *                         on ends MS milliseconds after its server.connected
 *                         (0: at once), as a flapping upstream; reset: never
 *   POST /__fake/release  "PATH": answer the requests held for PATH (see
 *                         --hold) and hold no more
 * Options: --event-life MS sets the above from the start; --hold PATH (up to
 * HOLD_MAX times) holds every request for PATH, unanswered, until a
 * POST /__fake/release of it: what ocbroker does before the fake answers.
 * /event streams start with a server.connected event and get a
 * server.heartbeat every S seconds (default 10, 0 = none) when idle.
 *
 * GET /session/ses_stall* and POST /session/ses_stallN/command (any mode)
 * announce Content-Length 64 MiB, send 60 MiB and then nothing: a broken
 * upstream, for netproc's body budget.
 * GET /session/{id}/message pages as the real server does: limit = the
 * newest N (0: all), oldest first; before = the opaque cursor of its
 * X-Next-Cursor header (a plain msg_ id is 400); msg_ ids sort in time order.
 * Sessions whose id starts with ses_0000, questions que_0000 and
 * permissions per_0000 are unknown (404 as the real server answers).
 * A v2 fixture that has not been captured yet is replaced by the closest
 * real one, or by a body written from the OpenAPI schema (logged at start).
 *
 * This is test code: it trusts its fixtures directory and its control
 * clients, but a control request cannot name a file outside the fixtures.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <netinet/in.h>
#include <netinet/tcp.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <zlib.h>

#define CONNECTED_EVENT \
	"data: {\"id\":\"evt_x\",\"type\":\"server.connected\"," \
	"\"properties\":{}}\n\n"
#define HEARTBEAT_EVENT \
	"data: {\"id\":\"evt_hb\",\"type\":\"server.heartbeat\"," \
	"\"properties\":{}}\n\n"
#define CTL_PREFIX	"/__fake/"
#define MAX_FILE	(64 * 1024 * 1024)
/* Idle connections and streams outlive any test (evhttp's default: 50 s). */
#define CONN_TIMEOUT	(24 * 3600)

enum mode {
	MODE_NORMAL,
	MODE_STATUS,
	MODE_HANG,
	MODE_HTML,
	MODE_CLOSE,
	MODE_TE_GZIP,
	MODE_CE_GZIP
};

struct blob {
	char	*data;
	size_t	 len;
};

struct stream;

/* Every connection that carried a non-control request (or a stream). */
struct conn {
	TAILQ_ENTRY(conn)		 entry;
	struct evhttp_connection	*evcon;
	uint64_t			 serial;
	uint64_t			 epoch;	/* counted in this epoch */
	struct stream			*stream;
	struct evhttp_request		*hung;	/* never to be answered */
	struct evhttp_request		*held;	/* until /__fake/release */
	char				 held_for[64];
	struct evhttp_request		*cmd;	/* a held POST .../command */
	char				 cmd_session[256];
	int				 cmd_stall; /* not even on an abort */
	int				 freeing; /* we free it ourselves */
	struct evhttp_request		*stall;	/* GET /session/ses_stall* */
	size_t				 stall_sent;
	int				 stall_done;
};

struct stream {
	TAILQ_ENTRY(stream)		 entry;
	struct evhttp_request		*req;
	struct conn			*conn;
	struct evbuffer			*queue;	/* transcript bytes to send */
	double				 rate;	/* events/s, 0 = at once */
	struct event			*timer;
	int				 ending;
};

static TAILQ_HEAD(, conn)	 conns = TAILQ_HEAD_INITIALIZER(conns);
static TAILQ_HEAD(, stream)	 streams = TAILQ_HEAD_INITIALIZER(streams);

static struct event_base	*base;
static struct evhttp		*http;
static const char		*fixtures;
static char			*auth_expected;	/* "Basic ..." or NULL */
static enum mode		 mode = MODE_NORMAL;
static int			 mode_status;
static uint64_t			 n_requests;
static uint64_t			 n_connections;
static uint64_t			 epoch = 1;
static uint64_t			 next_serial = 1;

/* The last non-control requests, oldest first. */
#define HISTORY_MAX	512
struct hist {
	char	*line;		/* "METHOD URI" */
	char	*body;
	size_t	 blen;
};
static struct hist		 history[HISTORY_MAX];
static size_t			 hist_start, hist_len;
static int			 heartbeat_s = 10;
static long			 event_life_ms = -1;	/* -1: streams live on */
#define HOLD_MAX	4
static const char		*hold[HOLD_MAX];	/* --hold paths */

/* Fixture bodies, loaded once at start. */
static struct blob	 fx_session_list, fx_session_create, fx_session_get;
static struct blob	 fx_agent_list, fx_health, fx_provider;
static struct blob	 fx_404_delete, fx_404_get, fx_500_malformed;
static struct blob	 fx_404_prompt, fx_400_prompt_parts;
static struct blob	 fx_404_permission, fx_400_permission;
static struct blob	 fx_400_auth, fx_400_bad_json, fx_html;
/* Protocol v2. */
static struct blob	 fx_session_update, fx_session_fork, fx_session_revert;
static struct blob	 fx_session_unrevert, fx_session_status, fx_command_list;
static struct blob	 fx_command_run, fx_permission_list, fx_question_list;
static struct blob	 fx_todo_list, fx_diff, fx_diff_message, fx_summarize;
static struct blob	 fx_question_reply, fx_question_reject, fx_404_question;
static struct blob	 fx_404_question_reject, fx_400_question_id;
static struct blob	 fx_500_command;
static struct blob	 fx_messages;
static char		 fx_messages_name[80];

enum cmd_mode { CMD_NORMAL, CMD_HANG, CMD_STALL };
static enum cmd_mode	 cmd_mode = CMD_NORMAL;

/* The top-level elements of fx_messages, and each one's info.id. */
#define MSG_MAX		4096
struct msg_elem {
	size_t	 off, len;
	char	 id[64];
};
static struct msg_elem	*msgs;
static size_t		 n_msgs;

static void	stream_schedule(struct stream *, double);

/* One line on stderr: "fake_upstream: " what (may be empty), the message. */
static void __attribute__((format(printf, 2, 0)))
vlogmsg(const char *what, const char *fmt, va_list ap)
{
	fprintf(stderr, "fake_upstream: %s", what);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

static void __attribute__((format(printf, 1, 2)))
logmsg(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlogmsg("", fmt, ap);
	va_end(ap);
}

static void __attribute__((noreturn, format(printf, 1, 2)))
fatal(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlogmsg("fatal: ", fmt, ap);
	va_end(ap);
	exit(2);
}

static int
read_file(const char *name, struct blob *out)
{
	char path[PATH_MAX];
	struct stat st;
	ssize_t n;
	size_t got = 0;
	int fd;

	if (snprintf(path, sizeof(path), "%s/%s", fixtures, name) >=
	    (int)sizeof(path))
		return -1;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return -1;
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode) ||
	    st.st_size > MAX_FILE) {
		close(fd);
		return -1;
	}
	if ((out->data = malloc((size_t)st.st_size + 1)) == NULL)
		fatal("malloc");
	while (got < (size_t)st.st_size) {
		n = read(fd, out->data + got, (size_t)st.st_size - got);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	close(fd);
	out->data[got] = '\0';
	out->len = got;
	return 0;
}

/*
 * A .http fixture: the response body follows the line that is just "<".
 * -1 when the file cannot be read.
 */
static int
read_http_body(const char *name, struct blob *out)
{
	struct blob all;
	char *p;
	size_t off;

	if (read_file(name, &all) == -1)
		return -1;
	if (strncmp(all.data, "<\n", 2) == 0)
		p = all.data;
	else if ((p = strstr(all.data, "\n<\n")) != NULL)
		p++;
	else
		fatal("%s: no \"<\" line", name);
	off = (size_t)(p - all.data) + 2;
	out->len = all.len - off;
	if ((out->data = malloc(out->len + 1)) == NULL)
		fatal("malloc");
	memcpy(out->data, all.data + off, out->len);
	out->data[out->len] = '\0';
	free(all.data);
	return 0;
}

static int
read_any(const char *name, struct blob *out)
{
	size_t n = strlen(name);

	if (n > 5 && strcmp(name + n - 5, ".http") == 0)
		return read_http_body(name, out);
	return read_file(name, out);
}

/* A fixture, as read_any() reads it, or exits. */
static void
load(const char *name, struct blob *out)
{
	if (read_any(name, out) == -1)
		fatal("cannot read fixture %s/%s", fixtures, name);
}

/*
 * A v2 fixture: the file when it has been captured, else the closest real
 * one (fallback, may be NULL), else a body written from the OpenAPI schema.
 */
static void
load_v2(const char *name, const char *fallback, const char *schema,
    struct blob *out)
{
	if (read_any(name, out) == 0)
		return;
	if (fallback != NULL && read_any(fallback, out) == 0) {
		logmsg("%s not captured yet: serving %s", name, fallback);
		return;
	}
	if (schema == NULL)
		fatal("cannot read fixture %s/%s", fixtures, name);
	logmsg("%s not captured yet: serving a body from the schema", name);
	if ((out->data = strdup(schema)) == NULL)
		fatal("strdup");
	out->len = strlen(schema);
}

/* The 6.5 MB /provider document is kept gzipped in the tree. */
static void
load_gunzip(const char *name, struct blob *out)
{
	struct blob gz;
	z_stream zs;
	size_t cap = 8 * 1024 * 1024;
	int r;

	load(name, &gz);
	memset(&zs, 0, sizeof(zs));
	if (inflateInit2(&zs, 16 + MAX_WBITS) != Z_OK)
		fatal("inflateInit2");
	if ((out->data = malloc(cap)) == NULL)
		fatal("malloc");
	zs.next_in = (Bytef *)gz.data;
	zs.avail_in = (uInt)gz.len;
	for (;;) {
		if (zs.total_out == cap) {
			if (cap >= MAX_FILE)
				fatal("%s: too large", name);
			cap *= 2;
			if ((out->data = realloc(out->data, cap)) == NULL)
				fatal("realloc");
		}
		zs.next_out = (Bytef *)out->data + zs.total_out;
		zs.avail_out = (uInt)(cap - zs.total_out);
		r = inflate(&zs, Z_NO_FLUSH);
		if (r == Z_STREAM_END)
			break;
		if (r != Z_OK && r != Z_BUF_ERROR)
			fatal("%s: inflate: %d", name, r);
		if (r == Z_BUF_ERROR && zs.avail_in == 0)
			fatal("%s: truncated", name);
	}
	out->len = zs.total_out;
	inflateEnd(&zs);
	free(gz.data);
}

static char *
base64(const char *in)
{
	static const char tab[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	const unsigned char *s = (const unsigned char *)in;
	size_t n = strlen(in), i, o = 0;
	char *out;

	if ((out = malloc((n + 2) / 3 * 4 + 1)) == NULL)
		fatal("malloc");
	for (i = 0; i + 2 < n; i += 3) {
		out[o++] = tab[s[i] >> 2];
		out[o++] = tab[((s[i] & 3) << 4) | (s[i + 1] >> 4)];
		out[o++] = tab[((s[i + 1] & 15) << 2) | (s[i + 2] >> 6)];
		out[o++] = tab[s[i + 2] & 63];
	}
	if (n - i == 1) {
		out[o++] = tab[s[i] >> 2];
		out[o++] = tab[(s[i] & 3) << 4];
		out[o++] = '=';
		out[o++] = '=';
	} else if (n - i == 2) {
		out[o++] = tab[s[i] >> 2];
		out[o++] = tab[((s[i] & 3) << 4) | (s[i + 1] >> 4)];
		out[o++] = tab[(s[i + 1] & 15) << 2];
		out[o++] = '=';
	}
	out[o] = '\0';
	return out;
}

static const char *
method_name(enum evhttp_cmd_type t)
{
	switch (t) {
	case EVHTTP_REQ_GET:	return "GET";
	case EVHTTP_REQ_POST:	return "POST";
	case EVHTTP_REQ_HEAD:	return "HEAD";
	case EVHTTP_REQ_PUT:	return "PUT";
	case EVHTTP_REQ_DELETE:	return "DELETE";
	case EVHTTP_REQ_OPTIONS: return "OPTIONS";
	case EVHTTP_REQ_TRACE:	return "TRACE";
	case EVHTTP_REQ_CONNECT: return "CONNECT";
	case EVHTTP_REQ_PATCH:	return "PATCH";
	}
	return "?";
}

/* The request body as a NUL-terminated string (the caller frees it). */
static char *
body_string(struct evhttp_request *req, size_t *lenp)
{
	struct evbuffer *in = evhttp_request_get_input_buffer(req);
	size_t len = evbuffer_get_length(in);
	char *s;

	if ((s = malloc(len + 1)) == NULL)
		fatal("malloc");
	evbuffer_copyout(in, s, len);
	s[len] = '\0';
	if (lenp != NULL)
		*lenp = len;
	return s;
}

static void
reply(struct evhttp_request *req, int code, const char *ctype,
    const char *data, size_t len)
{
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);
	struct evbuffer *b;

	if ((b = evbuffer_new()) == NULL)
		fatal("evbuffer_new");
	if (ctype != NULL)
		evhttp_add_header(h, "Content-Type", ctype);
	evhttp_add_header(h, "Vary", "Origin");
	/* The fixtures outlive every request: no copy of the 6.5 MB body. */
	if (len > 0 && evbuffer_add_reference(b, data, len, NULL, NULL) == -1)
		fatal("evbuffer_add_reference");
	evhttp_send_reply(req, code, NULL, b);
	evbuffer_free(b);
}

static void
reply_json(struct evhttp_request *req, int code, const struct blob *bl)
{
	reply(req, code, "application/json", bl->data, bl->len);
}

static void
reply_text(struct evhttp_request *req, int code, const char *s)
{
	struct evbuffer *b;
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);

	if ((b = evbuffer_new()) == NULL)
		fatal("evbuffer_new");
	evhttp_add_header(h, "Content-Type", "text/plain");
	evbuffer_add(b, s, strlen(s));
	evhttp_send_reply(req, code, NULL, b);
	evbuffer_free(b);
}

static void
reply_owned(struct evhttp_request *req, int code, const char *ctype,
    struct evbuffer *b)
{
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);

	evhttp_add_header(h, "Content-Type", ctype);
	evhttp_add_header(h, "Vary", "Origin");
	evhttp_send_reply(req, code, NULL, b);
	evbuffer_free(b);
}

/* ---- GET /session/ses_stall*: a body that stops before its end ---- */

#define STALL_LENGTH	(64 * 1024 * 1024)	/* announced */
#define STALL_SENT	(60 * 1024 * 1024)	/* sent, then nothing */
#define STALL_CHUNK	(1024 * 1024)

static char	*stall_bytes;		/* STALL_CHUNK of filler, shared */
static long	 stalls_sent, stalls_broken;

static void	stall_next(struct evhttp_connection *, void *);

static void
stall_send(struct conn *c)
{
	struct evbuffer *b;

	if ((b = evbuffer_new()) == NULL ||
	    evbuffer_add_reference(b, stall_bytes, STALL_CHUNK, NULL,
	    NULL) == -1)
		fatal("evbuffer");
	c->stall_sent += STALL_CHUNK;
	evhttp_send_reply_chunk_with_cb(c->stall, b, stall_next, c);
	evbuffer_free(b);
}

/* The previous chunk is out: the next one, until the stall. */
static void
stall_next(struct evhttp_connection *evcon, void *arg)
{
	struct conn *c = arg;

	(void)evcon;
	if (c->stall_done)
		return;
	if (c->stall_sent < STALL_SENT) {
		stall_send(c);
		return;
	}
	c->stall_done = 1;
	stalls_sent++;
	logmsg("stalled body sent (%zu bytes)", c->stall_sent);
}

static void
stall_start(struct evhttp_request *req, struct conn *c)
{
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);
	char cl[32];

	if (stall_bytes == NULL) {
		if ((stall_bytes = malloc(STALL_CHUNK)) == NULL)
			fatal("malloc");
		memset(stall_bytes, ' ', STALL_CHUNK);
	}
	c->stall = req;
	snprintf(cl, sizeof(cl), "%d", STALL_LENGTH);
	evhttp_add_header(h, "Content-Type", "application/json");
	evhttp_add_header(h, "Content-Length", cl);
	evhttp_send_reply_start(req, 200, "OK");
	stall_send(c);
}

/* From conn_closed(): a request evhttp detached is ours to end. */
static void
stall_closed(struct conn *c)
{
	if (c->stall == NULL)
		return;
	if (!c->stall_done)
		stalls_broken++;
	if (!c->freeing && evhttp_request_get_connection(c->stall) == NULL)
		evhttp_send_reply_end(c->stall);
}

/* ---- connection tracking ---- */

static void
conn_closed(struct evhttp_connection *evcon, void *arg)
{
	struct conn *c = arg;
	struct stream *s;

	(void)evcon;
	if ((s = c->stream) != NULL) {
		TAILQ_REMOVE(&streams, s, entry);
		event_free(s->timer);
		evbuffer_free(s->queue);
		/*
		 * A request evhttp detached on a network error is ours to
		 * free; one still attached is freed with the connection.
		 */
		if (!c->freeing &&
		    evhttp_request_get_connection(s->req) == NULL)
			evhttp_send_reply_end(s->req);
		free(s);
	}
	if (c->hung != NULL && !c->freeing &&
	    evhttp_request_get_connection(c->hung) == NULL)
		evhttp_request_free(c->hung);
	if (c->cmd != NULL && !c->freeing &&
	    evhttp_request_get_connection(c->cmd) == NULL)
		evhttp_request_free(c->cmd);
	if (c->held != NULL && !c->freeing &&
	    evhttp_request_get_connection(c->held) == NULL)
		evhttp_request_free(c->held);
	stall_closed(c);
	TAILQ_REMOVE(&conns, c, entry);
	free(c);
}

/*
 * A real server (Bun's, OpenCode's) sends without Nagle: evhttp would hold
 * a body's last short segment until the previous one is acknowledged, and
 * the peer's delayed acknowledgement makes that a 40 ms stall.
 */
static void
nodelay(struct evhttp_connection *evcon)
{
	struct bufferevent *bev = evhttp_connection_get_bufferevent(evcon);
	int one = 1;

	if (bev != NULL)
		(void)setsockopt(bufferevent_getfd(bev), IPPROTO_TCP,
		    TCP_NODELAY, &one, sizeof(one));
}

static struct conn *
conn_get(struct evhttp_connection *evcon, int counted)
{
	struct conn *c;

	TAILQ_FOREACH(c, &conns, entry)
		if (c->evcon == evcon)
			break;
	if (c == NULL) {
		if ((c = calloc(1, sizeof(*c))) == NULL)
			fatal("calloc");
		c->evcon = evcon;
		c->serial = next_serial++;
		nodelay(evcon);
		TAILQ_INSERT_TAIL(&conns, c, entry);
		evhttp_connection_set_closecb(evcon, conn_closed, c);
	}
	if (counted) {
		n_requests++;
		if (c->epoch != epoch) {
			c->epoch = epoch;
			n_connections++;
		}
	}
	return c;
}

static struct conn *
conn_by_serial(uint64_t serial)
{
	struct conn *c;

	TAILQ_FOREACH(c, &conns, entry)
		if (c->serial == serial)
			return c;
	return NULL;
}

static void
conn_free(struct conn *c)
{
	c->freeing = 1;
	evhttp_connection_free(c->evcon);	/* calls conn_closed() */
}

/* Deferred so that evhttp is not inside its own callback when it is freed. */
static void
close_deferred(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c;

	(void)fd;
	(void)what;
	if ((c = conn_by_serial((uint64_t)(uintptr_t)arg)) != NULL)
		conn_free(c);
}

/* ---- /event streams ---- */

static size_t
next_event_len(struct evbuffer *q)
{
	struct evbuffer_ptr p;
	size_t len = evbuffer_get_length(q);

	if (len == 0)
		return 0;
	p = evbuffer_search(q, "\n\n", 2, NULL);
	if (p.pos == -1)
		return len;
	return (size_t)p.pos + 2;
}

static void
stream_send(struct stream *s, const void *data, size_t len)
{
	struct evbuffer *b;

	if ((b = evbuffer_new()) == NULL)
		fatal("evbuffer_new");
	evbuffer_add(b, data, len);
	evhttp_send_reply_chunk(s->req, b);
	evbuffer_free(b);
}

/* Sends one event as one chunk, as the real server does. */
static void
stream_send_one(struct stream *s)
{
	struct evbuffer *b;
	size_t n;

	if ((n = next_event_len(s->queue)) == 0)
		return;
	if ((b = evbuffer_new()) == NULL)
		fatal("evbuffer_new");
	evbuffer_remove_buffer(s->queue, b, n);
	evhttp_send_reply_chunk(s->req, b);
	evbuffer_free(b);
}

/* Bytes of the stream handed to libevent that the kernel has not taken. */
static size_t
stream_unsent(const struct stream *s)
{
	struct bufferevent *bev;

	bev = evhttp_connection_get_bufferevent(s->conn->evcon);
	return evbuffer_get_length(bufferevent_get_output(bev));
}

static void
stream_pump(evutil_socket_t fd, short what, void *arg)
{
	struct stream *s = arg;

	(void)fd;
	(void)what;
	if (s->rate <= 0) {
		while (evbuffer_get_length(s->queue) > 0)
			stream_send_one(s);
	} else
		stream_send_one(s);
	if (evbuffer_get_length(s->queue) > 0) {
		stream_schedule(s, 1.0 / s->rate);
		return;
	}
	if (!s->ending)
		return;
	/* Close only once every byte is out, and without the last chunk. */
	if (stream_unsent(s) > 0) {
		stream_schedule(s, 0.01);
		return;
	}
	logmsg("ending /event stream (no terminating chunk)");
	conn_free(s->conn);
}

static void
stream_schedule(struct stream *s, double secs)
{
	struct timeval tv;

	tv.tv_sec = (time_t)secs;
	tv.tv_usec = (suseconds_t)((secs - (double)tv.tv_sec) * 1e6);
	event_add(s->timer, &tv);
}

static void
stream_open(struct evhttp_request *req, struct conn *c)
{
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);
	struct stream *s;

	if ((s = calloc(1, sizeof(*s))) == NULL)
		fatal("calloc");
	s->req = req;
	s->conn = c;
	if ((s->queue = evbuffer_new()) == NULL)
		fatal("evbuffer_new");
	if ((s->timer = evtimer_new(base, stream_pump, s)) == NULL)
		fatal("evtimer_new");
	c->stream = s;
	TAILQ_INSERT_TAIL(&streams, s, entry);

	evhttp_add_header(h, "Cache-Control", "no-cache, no-transform");
	evhttp_add_header(h, "X-Content-Type-Options", "nosniff");
	evhttp_add_header(h, "Content-Type", "text/event-stream");
	evhttp_add_header(h, "Vary", "Origin");
	evhttp_add_header(h, "x-accel-buffering", "no");
	evhttp_send_reply_start(req, 200, "OK");
	stream_send(s, CONNECTED_EVENT, sizeof(CONNECTED_EVENT) - 1);
	if (event_life_ms >= 0) {
		/* stream_pump ends it once its bytes are out. */
		s->ending = 1;
		stream_schedule(s, (double)event_life_ms / 1000.0);
	}
}

static void
heartbeat(evutil_socket_t fd, short what, void *arg)
{
	struct stream *s;

	(void)fd;
	(void)what;
	(void)arg;
	/* Never inside a replay: a transcript is sent byte for byte. */
	TAILQ_FOREACH(s, &streams, entry)
		if (!s->ending && evbuffer_get_length(s->queue) == 0)
			stream_send(s, HEARTBEAT_EVENT,
			    sizeof(HEARTBEAT_EVENT) - 1);
}

/* ---- the OpenCode routes ---- */

static int
is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/*
 * Finds the value of "key" in a flat JSON object and returns a pointer to
 * its first byte (or NULL).  Enough for the bodies ocbroker sends; this is
 * a fake, not a JSON parser.
 */
static const char *
json_value(const char *body, const char *key)
{
	char pat[64];
	const char *p = body;

	snprintf(pat, sizeof(pat), "\"%s\"", key);
	while ((p = strstr(p, pat)) != NULL) {
		p += strlen(pat);
		while (is_space(*p))
			p++;
		if (*p != ':')
			continue;
		p++;
		while (is_space(*p))
			p++;
		return p;
	}
	return NULL;
}

/* Length of the JSON string token at p (quotes included), 0 if none. */
static size_t
json_string_len(const char *p)
{
	size_t i = 1;

	if (*p != '"')
		return 0;
	for (; p[i] != '\0'; i++) {
		if (p[i] == '\\' && p[i + 1] != '\0')
			i++;
		else if (p[i] == '"')
			return i + 1;
	}
	return 0;
}

static int
json_string_is(const char *body, const char *key, const char *want)
{
	const char *v = json_value(body, key);
	size_t n;

	if (v == NULL || (n = json_string_len(v)) == 0)
		return 0;
	return n == strlen(want) + 2 && strncmp(v + 1, want, n - 2) == 0;
}

static int
json_has(const char *body, const char *key)
{
	return json_value(body, key) != NULL;
}

/* POST /session: the fixture, with the title asked for or the default one. */
static void
session_create(struct evhttp_request *req, const char *body)
{
	static const char fx_title[] = "\"title\":\"fixture session\"";
	struct evbuffer *b;
	const char *at, *v;
	size_t n;
	char def[80];
	struct tm tm;
	struct timespec ts;

	if (*body != '\0' && *body != '{') {
		reply_json(req, 400, &fx_400_bad_json);
		return;
	}
	if ((at = strstr(fx_session_create.data, fx_title)) == NULL)
		fatal("session-create.json: no fixture title");
	if ((b = evbuffer_new()) == NULL)
		fatal("evbuffer_new");
	evbuffer_add(b, fx_session_create.data,
	    (size_t)(at - fx_session_create.data));
	evbuffer_add(b, "\"title\":", 8);
	if ((v = json_value(body, "title")) != NULL &&
	    (n = json_string_len(v)) > 0)
		evbuffer_add(b, v, n);
	else {
		clock_gettime(CLOCK_REALTIME, &ts);
		gmtime_r(&ts.tv_sec, &tm);
		n = strftime(def, sizeof(def),
		    "\"New session - %Y-%m-%dT%H:%M:%S", &tm);
		snprintf(def + n, sizeof(def) - n, ".%03ldZ\"",
		    ts.tv_nsec / 1000000);
		evbuffer_add(b, def, strlen(def));
	}
	at += sizeof(fx_title) - 1;
	evbuffer_add(b, at, fx_session_create.len -
	    (size_t)(at - fx_session_create.data));
	reply_owned(req, 200, "application/json", b);
}

/* "/prefix/ID/suffix": copies ID (up to the next '/') into id. */
static int
path_id(const char *path, const char *prefix, char *id, size_t idsz,
    const char **rest)
{
	size_t pl = strlen(prefix), n;
	const char *p;

	if (strncmp(path, prefix, pl) != 0)
		return 0;
	p = path + pl;
	n = strcspn(p, "/");
	if (n == 0 || n >= idsz)
		return 0;
	memcpy(id, p, n);
	id[n] = '\0';
	*rest = p + n;
	return 1;
}

/* ---- protocol v2 routes ---- */

/*
 * Splits the message list fixture into its top-level elements (strings
 * and nesting followed; the fixture is a JSON array of {info, parts}).
 */
static void
messages_split(void)
{
	const char *d = fx_messages.data, *id;
	size_t i, start = 0, n;
	int depth = 0, instr = 0;

	free(msgs);
	if ((msgs = calloc(MSG_MAX, sizeof(*msgs))) == NULL)
		fatal("calloc");
	n_msgs = 0;
	for (i = 0; i < fx_messages.len; i++) {
		if (instr) {
			if (d[i] == '\\')
				i++;
			else if (d[i] == '"')
				instr = 0;
			continue;
		}
		if (d[i] == '"')
			instr = 1;
		else if (d[i] == '{' || d[i] == '[') {
			if (depth++ == 1)
				start = i;
		} else if (d[i] == '}' || d[i] == ']') {
			if (--depth == 1) {
				if (n_msgs == MSG_MAX)
					fatal("%s: too many messages",
					    fx_messages_name);
				msgs[n_msgs].off = start;
				msgs[n_msgs].len = i + 1 - start;
				n_msgs++;
			}
		}
	}
	/* The message's id: the only "id" whose value starts msg_. */
	for (i = 0; i < n_msgs; i++) {
		if ((id = memmem(d + msgs[i].off, msgs[i].len, "\"id\":\"msg_",
		    10)) == NULL)
			fatal("%s: message %zu has no id", fx_messages_name, i);
		id += 6;
		n = strcspn(id, "\"");
		if (n >= sizeof(msgs[i].id))
			fatal("%s: id too long", fx_messages_name);
		memcpy(msgs[i].id, id, n);
		msgs[i].id[n] = '\0';
	}
	logmsg("%s: %zu messages", fx_messages_name, n_msgs);
}

static int
messages_load(const char *name)
{
	struct blob b;

	if (read_file(name, &b) == -1)
		return -1;
	free(fx_messages.data);
	fx_messages = b;
	snprintf(fx_messages_name, sizeof(fx_messages_name), "%s", name);
	messages_split();
	return 0;
}

/* Base64 (standard alphabet, padding optional) into out; -1 if not. */
static int
unbase64(const char *in, char *out, size_t outsz)
{
	static const char tab[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	unsigned long acc = 0;
	size_t o = 0;
	int bits = 0;
	const char *c;

	for (; *in != '\0' && *in != '='; in++) {
		/* The server reads base64url as well (ocbroker writes it). */
		if ((c = strchr(tab, *in == '-' ? '+' : *in == '_' ? '/' :
		    *in)) == NULL)
			return -1;
		acc = (acc << 6) | (unsigned long)(c - tab);
		if ((bits += 6) >= 8) {
			bits -= 8;
			if (o + 1 >= outsz)
				return -1;
			out[o++] = (char)((acc >> bits) & 0xff);
		}
	}
	out[o] = '\0';
	return 0;
}

/*
 * The real server's cursor: base64 of {"id":"msg_...","time":<created>}
 * of the oldest message returned; a plain msg_ id is 400.
 */
static int
cursor_id(const char *cursor, char *id, size_t idsz)
{
	char json[512];
	const char *p;
	size_t n;

	if (unbase64(cursor, json, sizeof(json)) == -1 ||
	    (p = strstr(json, "\"id\":\"msg_")) == NULL)
		return -1;
	p += 6;
	n = strcspn(p, "\"");
	if (n >= idsz || p[n] != '"')
		return -1;
	memcpy(id, p, n);
	id[n] = '\0';
	return 0;
}

static long long
message_created(const struct msg_elem *m)
{
	const char *p;

	p = memmem(fx_messages.data + m->off, m->len, "\"created\":", 10);
	return p != NULL ? strtoll(p + 10, NULL, 10) : 0;
}

/*
 * GET /session/{id}/message[?limit=N][&before=CURSOR]: the newest N (0:
 * all) older than the cursor, oldest first, with X-Next-Cursor and Link
 * when older ones exist, as the real server pages.
 */
static void
messages_page(struct evhttp_request *req, const char *path)
{
	const char *q, *v, *before = NULL;
	struct evkeyvalq args;
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);
	struct evbuffer *b;
	size_t i, first, end, limit = 0;
	char *e, bid[64], cur[160], *enc, *link;

	TAILQ_INIT(&args);
	q = evhttp_uri_get_query(evhttp_request_get_evhttp_uri(req));
	if (q != NULL && evhttp_parse_query_str(q, &args) == -1) {
		reply_json(req, 400, &fx_400_bad_json);
		return;
	}
	if ((v = evhttp_find_header(&args, "limit")) != NULL) {
		errno = 0;
		limit = strtoul(v, &e, 10);
		if (*v == '\0' || *e != '\0' || errno != 0) {
			evhttp_clear_headers(&args);
			reply_json(req, 400, &fx_400_bad_json);
			return;
		}
	}
	end = n_msgs;
	if ((before = evhttp_find_header(&args, "before")) != NULL) {
		if (cursor_id(before, bid, sizeof(bid)) == -1) {
			evhttp_clear_headers(&args);
			reply_json(req, 400, &fx_400_bad_json);
			return;
		}
		for (end = 0; end < n_msgs && strcmp(msgs[end].id, bid) < 0;
		    end++)
			;
	}
	evhttp_clear_headers(&args);
	first = limit > 0 && limit < end ? end - limit : 0;
	if (first > 0) {
		snprintf(cur, sizeof(cur), "{\"id\":\"%s\",\"time\":%lld}",
		    msgs[first].id, message_created(&msgs[first]));
		enc = base64(cur);
		if (asprintf(&link, "<http://127.0.0.1%s?limit=%zu&before=%s>; "
		    "rel=\"next\"", path, limit, enc) == -1)
			fatal("asprintf");
		evhttp_add_header(h, "Access-Control-Expose-Headers",
		    "Link, X-Next-Cursor");
		evhttp_add_header(h, "Link", link);
		evhttp_add_header(h, "X-Next-Cursor", enc);
		free(link);
		free(enc);
	}
	if ((b = evbuffer_new()) == NULL)
		fatal("evbuffer_new");
	evbuffer_add(b, "[", 1);
	for (i = first; i < end; i++) {
		if (i > first)
			evbuffer_add(b, ",", 1);
		evbuffer_add(b, fx_messages.data + msgs[i].off, msgs[i].len);
	}
	evbuffer_add(b, "]", 1);
	reply_owned(req, 200, "application/json", b);
}

/* GET /session/{id}/message/{mid}: that message and its parts, or 404. */
static void
message_one(struct evhttp_request *req, const char *mid)
{
	struct evbuffer *b;
	size_t i;

	for (i = 0; i < n_msgs; i++)
		if (strcmp(msgs[i].id, mid) == 0)
			break;
	if (i == n_msgs) {
		reply_json(req, 404, &fx_404_get);
		return;
	}
	if ((b = evbuffer_new()) == NULL)
		fatal("evbuffer_new");
	evbuffer_add(b, fx_messages.data + msgs[i].off, msgs[i].len);
	reply_owned(req, 200, "application/json", b);
}

/* A held RunCommand is answered when its session is aborted. */
static void
commands_release(const char *session)
{
	struct conn *c;

	TAILQ_FOREACH(c, &conns, entry) {
		if (c->cmd == NULL || c->cmd_stall ||
		    strcmp(c->cmd_session, session) != 0)
			continue;
		logmsg("abort of %s: answering its command", session);
		reply_json(c->cmd, 200, &fx_command_run);
		c->cmd = NULL;
	}
}

static void
command_run(struct evhttp_request *req, struct conn *c, const char *sid,
    const char *body)
{
	if (!json_has(body, "command")) {
		reply_json(req, 400, &fx_400_bad_json);
		return;
	}
	if (json_string_is(body, "command", "no-such-command")) {
		reply_json(req, 500, &fx_500_command);
		return;
	}
	if (cmd_mode == CMD_NORMAL) {
		reply_json(req, 200, &fx_command_run);
		return;
	}
	/* Held; freed with the connection if nobody answers it. */
	c->cmd = req;
	c->cmd_stall = cmd_mode == CMD_STALL;
	snprintf(c->cmd_session, sizeof(c->cmd_session), "%s", sid);
	logmsg("holding the command of %s%s", sid,
	    c->cmd_stall ? " for ever" : " until its abort");
}

/* POST /question/{id}/reply and /reject. */
static void
question_route(struct evhttp_request *req, const char *id, const char *rest,
    const char *body)
{
	/* These newer routes answer a malformed id with 400, not 500. */
	if (strncmp(id, "que", 3) != 0) {
		reply_json(req, 400, &fx_400_question_id);
		return;
	}
	if (strcmp(rest, "/reply") == 0) {
		const char *v = json_value(body, "answers");

		if (v == NULL || *v != '[') {
			reply_json(req, 400, &fx_400_bad_json);
			return;
		}
	}
	if (strncmp(id, "que_0000", 8) == 0)
		reply_json(req, 404, strcmp(rest, "/reply") == 0 ?
		    &fx_404_question : &fx_404_question_reject);
	else if (strcmp(rest, "/reply") == 0)
		reply_json(req, 200, &fx_question_reply);
	else
		reply_json(req, 200, &fx_question_reject);
}

/* GET /session/{id}/diff[?messageID=...] */
static void
diff_route(struct evhttp_request *req)
{
	const char *q;
	struct evkeyvalq args;
	int msg;

	TAILQ_INIT(&args);
	q = evhttp_uri_get_query(evhttp_request_get_evhttp_uri(req));
	if (q != NULL && evhttp_parse_query_str(q, &args) == -1) {
		reply_json(req, 400, &fx_400_bad_json);
		return;
	}
	msg = evhttp_find_header(&args, "messageID") != NULL;
	evhttp_clear_headers(&args);
	reply_json(req, 200, msg ? &fx_diff_message : &fx_diff);
}

/* File parts of a prompt need a mime and a url (the real schema). */
static int
prompt_ok(const char *body)
{
	const char *p = body;

	if (!json_has(body, "parts"))
		return 0;
	while ((p = strstr(p, "\"type\":\"file\"")) != NULL) {
		p += 13;
		if (!json_has(p, "mime") || !json_has(p, "url"))
			return 0;
	}
	return 1;
}

static int
is_method(struct evhttp_request *req, enum evhttp_cmd_type t)
{
	return evhttp_request_get_command(req) == t;
}

/* The routes under /session/{id}; 0 when none matched. */
static int
session_route(struct evhttp_request *req, struct conn *c, const char *id,
    const char *rest, const char *body)
{
	int unknown = strncmp(id, "ses_0000", 8) == 0;

	if (strcmp(rest, "/abort") == 0 && is_method(req, EVHTTP_REQ_POST)) {
		/* true even for an unknown or idle session, as real. */
		commands_release(id);
		reply(req, 200, "application/json", "true", 4);
		return 1;
	}
	if (*rest == '\0' && is_method(req, EVHTTP_REQ_DELETE)) {
		if (unknown)
			reply_json(req, 404, &fx_404_delete);
		else
			reply(req, 200, "application/json", "true", 4);
		return 1;
	}
	if (strcmp(rest, "/prompt_async") == 0 &&
	    is_method(req, EVHTTP_REQ_POST)) {
		if (unknown)
			reply_json(req, 404, &fx_404_prompt);
		else if (!prompt_ok(body))
			reply_json(req, 400, &fx_400_prompt_parts);
		else
			reply(req, 204, NULL, NULL, 0);
		return 1;
	}
	/* The diff of an unknown session is 200 [], as real. */
	if (unknown && strcmp(rest, "/diff") == 0 &&
	    is_method(req, EVHTTP_REQ_GET)) {
		reply(req, 200, "application/json", "[]", 2);
		return 1;
	}
	if (unknown) {
		reply_json(req, 404, &fx_404_get);
		return 1;
	}
	if (*rest == '\0' && is_method(req, EVHTTP_REQ_GET))
		reply_json(req, 200, &fx_session_get);
	else if (*rest == '\0' && is_method(req, EVHTTP_REQ_PATCH))
		reply_json(req, 200, &fx_session_update);
	else if (strcmp(rest, "/fork") == 0 && is_method(req, EVHTTP_REQ_POST))
		reply_json(req, 200, &fx_session_fork);
	else if (strcmp(rest, "/message") == 0 &&
	    is_method(req, EVHTTP_REQ_GET))
		messages_page(req, evhttp_uri_get_path(
		    evhttp_request_get_evhttp_uri(req)));
	else if (strncmp(rest, "/message/msg_", 13) == 0 &&
	    is_method(req, EVHTTP_REQ_GET))
		message_one(req, rest + 9);
	else if (strcmp(rest, "/revert") == 0 &&
	    is_method(req, EVHTTP_REQ_POST)) {
		if (!json_has(body, "messageID"))
			reply_json(req, 400, &fx_400_bad_json);
		else
			reply_json(req, 200, &fx_session_revert);
	} else if (strcmp(rest, "/unrevert") == 0 &&
	    is_method(req, EVHTTP_REQ_POST))
		reply_json(req, 200, &fx_session_unrevert);
	else if (strcmp(rest, "/todo") == 0 && is_method(req, EVHTTP_REQ_GET))
		reply_json(req, 200, &fx_todo_list);
	else if (strcmp(rest, "/diff") == 0 && is_method(req, EVHTTP_REQ_GET))
		diff_route(req);
	else if (strcmp(rest, "/summarize") == 0 &&
	    is_method(req, EVHTTP_REQ_POST)) {
		if (!json_has(body, "providerID") || !json_has(body, "modelID"))
			reply_json(req, 400, &fx_400_bad_json);
		else
			reply_json(req, 200, &fx_summarize);
	} else if (strcmp(rest, "/command") == 0 &&
	    is_method(req, EVHTTP_REQ_POST))
		command_run(req, c, id, body);
	else
		return 0;
	return 1;
}

/* A GET of a fixed path, answered with a fixture as it is. */
struct fixed_get {
	const char		*path;
	const struct blob	*fx;
};

static const struct fixed_get get_fixed[] = {
	{ "/global/health",	&fx_health },
	{ "/session",		&fx_session_list },
	{ "/agent",		&fx_agent_list },
	{ "/provider",		&fx_provider },
	{ "/session/status",	&fx_session_status },
	{ "/permission",	&fx_permission_list },
	{ "/question",		&fx_question_list },
	{ "/command",		&fx_command_list },
};

static void
route(struct evhttp_request *req, struct conn *c, const char *path,
    const char *body)
{
	enum evhttp_cmd_type m = evhttp_request_get_command(req);
	const char *rest;
	char id[256];
	size_t i;

	if (strcmp(path, "/event") == 0 && m == EVHTTP_REQ_GET) {
		stream_open(req, c);
		return;
	}
	/* GET /session/ses_stall*, or a RunCommand on it (10 min timeout). */
	if (strncmp(path, "/session/ses_stall", 18) == 0 &&
	    (m == EVHTTP_REQ_GET || (m == EVHTTP_REQ_POST &&
	    strstr(path, "/command") != NULL))) {
		stall_start(req, c);
		return;
	}
	for (i = 0; m == EVHTTP_REQ_GET &&
	    i < sizeof(get_fixed) / sizeof(get_fixed[0]); i++)
		if (strcmp(path, get_fixed[i].path) == 0) {
			reply_json(req, 200, get_fixed[i].fx);
			return;
		}
	if (strcmp(path, "/session") == 0 && m == EVHTTP_REQ_POST) {
		session_create(req, body);
		return;
	}
	if (path_id(path, "/question/", id, sizeof(id), &rest) &&
	    (strcmp(rest, "/reply") == 0 || strcmp(rest, "/reject") == 0) &&
	    m == EVHTTP_REQ_POST) {
		question_route(req, id, rest, body);
		return;
	}
	if (path_id(path, "/session/", id, sizeof(id), &rest)) {
		/* The real server answers an id without its prefix with 500. */
		if (strncmp(id, "ses", 3) != 0) {
			reply_json(req, 500, &fx_500_malformed);
			return;
		}
		if (session_route(req, c, id, rest, body))
			return;
	}
	if (path_id(path, "/permission/", id, sizeof(id), &rest) &&
	    strcmp(rest, "/reply") == 0 && m == EVHTTP_REQ_POST) {
		if (!json_string_is(body, "reply", "once") &&
		    !json_string_is(body, "reply", "always") &&
		    !json_string_is(body, "reply", "reject"))
			reply_json(req, 400, &fx_400_permission);
		else if (strncmp(id, "per_0000", 8) == 0)
			reply_json(req, 404, &fx_404_permission);
		else
			reply(req, 200, "application/json", "true", 4);
		return;
	}
	if (path_id(path, "/auth/", id, sizeof(id), &rest) && *rest == '\0') {
		if (m == EVHTTP_REQ_PUT) {
			int ok = 0;

			if (json_string_is(body, "type", "api"))
				ok = json_value(body, "key") != NULL;
			else if (json_string_is(body, "type", "oauth"))
				ok = json_has(body, "refresh") &&
				    json_has(body, "access") &&
				    json_has(body, "expires");
			if (ok)
				reply(req, 200, "application/json", "true", 4);
			else
				reply_json(req, 400, &fx_400_auth);
			return;
		}
		if (m == EVHTTP_REQ_DELETE) {
			reply(req, 200, "application/json", "true", 4);
			return;
		}
	}
	/* Anything else is the embedded web UI. */
	reply(req, 200, "text/html", fx_html.data, fx_html.len);
}

static void
reply_status(struct evhttp_request *req, int code)
{
	struct evbuffer *b;

	switch (code) {
	case 500:
		reply_json(req, code, &fx_500_malformed);
		return;
	case 404:
		reply_json(req, code, &fx_404_get);
		return;
	case 400:
		reply_json(req, code, &fx_400_bad_json);
		return;
	case 204:
		reply(req, code, NULL, NULL, 0);
		return;
	}
	if ((b = evbuffer_new()) == NULL)
		fatal("evbuffer_new");
	evbuffer_add_printf(b, "{\"name\":\"UnknownError\",\"data\":"
	    "{\"message\":\"fake status %d\"}}", code);
	reply_owned(req, code, "application/json", b);
}

/* Bodies from the OpenAPI schemas, until the real ones are captured. */
#define SCHEMA_QUESTIONS \
	"[{\"id\":\"que_21626500a001QqQqQqQqQqQqQq\"," \
	"\"sessionID\":\"ses_de9d9dd34ffervjM6BvxQjuyqi\"," \
	"\"questions\":[{\"question\":\"Which colour should the button " \
	"be?\",\"header\":\"Button colour\",\"options\":[{\"label\":" \
	"\"Red\",\"description\":\"Warm and loud\"},{\"label\":\"Blue\"," \
	"\"description\":\"Calm\"}],\"multiple\":false,\"custom\":true}]," \
	"\"tool\":{\"messageID\":\"msg_216264f00001AbCdEfGhIjKlMn\"," \
	"\"callID\":\"call_mock_0011\"}}]"
#define SCHEMA_COMMANDS \
	"[{\"name\":\"init\",\"description\":\"create/update AGENTS.md\"," \
	"\"source\":\"command\",\"template\":\"Please analyze this " \
	"codebase\",\"hints\":[]},{\"name\":\"review\",\"description\":" \
	"\"review changes [commit|branch|pr], defaults to uncommitted\"," \
	"\"agent\":\"plan\",\"source\":\"command\",\"subtask\":true," \
	"\"template\":\"Review $ARGUMENTS\",\"hints\":[\"$ARGUMENTS\"]}]"
#define SCHEMA_TODOS \
	"[{\"content\":\"Read the plan\",\"status\":\"completed\"," \
	"\"priority\":\"high\"},{\"content\":\"Write the code\"," \
	"\"status\":\"in_progress\",\"priority\":\"medium\"}," \
	"{\"content\":\"Run the tests\",\"status\":\"pending\"," \
	"\"priority\":\"low\"}]"
#define SCHEMA_DIFF \
	"[{\"file\":\"hello.txt\",\"patch\":\"--- a/hello.txt\\n+++ " \
	"b/hello.txt\\n@@ -1 +1 @@\\n-hello\\n+hello again\\n\"," \
	"\"additions\":1,\"deletions\":1,\"status\":\"modified\"}]"
#define SCHEMA_404_QUESTION \
	"{\"_tag\":\"QuestionNotFoundError\",\"requestID\":" \
	"\"que_0000000000000000000000000000\",\"message\":" \
	"\"Question request not found\"}"

static void
load_v2_fixtures(void)
{
	load_v2("session-update.json", NULL, NULL, &fx_session_update);
	load_v2("session-fork.json", "session-create.json", NULL,
	    &fx_session_fork);
	load_v2("session-revert.json", "session-get.json", NULL,
	    &fx_session_revert);
	load_v2("session-unrevert.json", "session-get.json", NULL,
	    &fx_session_unrevert);
	load_v2("session-status-busy.json", "session-status-retry.json", NULL,
	    &fx_session_status);
	load_v2("command-list.json", NULL, SCHEMA_COMMANDS, &fx_command_list);
	load_v2("permission-list-pending.json", "permission-list.json", NULL,
	    &fx_permission_list);
	load_v2("question-list.json", NULL, SCHEMA_QUESTIONS,
	    &fx_question_list);
	load_v2("todo-list.json", NULL, SCHEMA_TODOS, &fx_todo_list);
	load_v2("diff.json", NULL, SCHEMA_DIFF, &fx_diff);
	load_v2("diff-message.json", "diff.json", SCHEMA_DIFF,
	    &fx_diff_message);
	load_v2("summarize.http", NULL, "true", &fx_summarize);
	load_v2("question-reply.http", NULL, "true", &fx_question_reply);
	load_v2("question-reject.http", NULL, "true", &fx_question_reject);
	load_v2("error-question-unknown.http", NULL, SCHEMA_404_QUESTION,
	    &fx_404_question);
	load_v2("error-question-reject-unknown.http",
	    "error-question-unknown.http", SCHEMA_404_QUESTION,
	    &fx_404_question_reject);
	load_v2("error-question-bad-id.http", "error-bad-json.http", NULL,
	    &fx_400_question_id);
	load_v2("error-command-unknown.http", "error-malformed-id.http", NULL,
	    &fx_500_command);
	if (messages_load("message-list-full.json") == -1) {
		logmsg("message-list-full.json not captured yet: serving "
		    "session-messages-tool.json");
		if (messages_load("session-messages-tool.json") == -1)
			fatal("cannot read session-messages-tool.json");
	}
	/* The reply of a command is one {info, parts} of the list. */
	if (read_any("command-run.json", &fx_command_run) == -1) {
		logmsg("command-run.json not captured yet: serving the "
		    "newest message of %s", fx_messages_name);
		if (n_msgs == 0)
			fatal("%s: no messages", fx_messages_name);
		fx_command_run.len = msgs[n_msgs - 1].len;
		if ((fx_command_run.data = strndup(fx_messages.data +
		    msgs[n_msgs - 1].off, fx_command_run.len)) == NULL)
			fatal("strndup");
	}
}

/* ---- /__fake/ control ---- */

static void
hist_clear(void)
{
	size_t i;

	for (i = 0; i < hist_len; i++) {
		free(history[(hist_start + i) % HISTORY_MAX].line);
		free(history[(hist_start + i) % HISTORY_MAX].body);
	}
	hist_start = hist_len = 0;
}

static void
hist_add(const char *method, const char *uri, const char *body, size_t blen)
{
	struct hist *h;

	if (hist_len == HISTORY_MAX) {
		h = &history[hist_start];
		free(h->line);
		free(h->body);
		hist_start = (hist_start + 1) % HISTORY_MAX;
		hist_len--;
	}
	h = &history[(hist_start + hist_len) % HISTORY_MAX];
	if (asprintf(&h->line, "%s %s", method, uri) == -1)
		fatal("asprintf");
	if ((h->body = malloc(blen + 1)) == NULL)
		fatal("malloc");
	memcpy(h->body, body, blen);
	h->body[blen] = '\0';
	h->blen = blen;
	hist_len++;
}

/* GET /__fake/last[?method=M][&prefix=P]: the newest matching request. */
static void
ctl_last(struct evhttp_request *req, const char *body)
{
	const char *q, *method = NULL, *prefix = NULL;
	struct evkeyvalq args;
	struct evbuffer *b;
	struct hist *h;
	size_t i, ml;

	(void)body;
	TAILQ_INIT(&args);
	q = evhttp_uri_get_query(evhttp_request_get_evhttp_uri(req));
	if (q != NULL && evhttp_parse_query_str(q, &args) == -1) {
		reply_text(req, 400, "bad query\n");
		return;
	}
	method = evhttp_find_header(&args, "method");
	prefix = evhttp_find_header(&args, "prefix");
	for (i = hist_len; i > 0; i--) {
		h = &history[(hist_start + i - 1) % HISTORY_MAX];
		if (method != NULL) {
			ml = strlen(method);
			if (strncmp(h->line, method, ml) != 0 ||
			    h->line[ml] != ' ')
				continue;
		}
		if (prefix != NULL && strncmp(strchr(h->line, ' ') + 1, prefix,
		    strlen(prefix)) != 0)
			continue;
		if ((b = evbuffer_new()) == NULL)
			fatal("evbuffer_new");
		evbuffer_add_printf(b, "%s\n", h->line);
		evbuffer_add(b, h->body, h->blen);
		reply_owned(req, 200, "text/plain", b);
		evhttp_clear_headers(&args);
		return;
	}
	evhttp_clear_headers(&args);
	reply_text(req, 404, "");
}

/* A word and what it stands for (a value >= 0). */
struct word {
	const char	*word;
	int		 value;
};

#define NWORDS(t)	(sizeof(t) / sizeof((t)[0]))

/* The value of s in t, or -1. */
static int
word_value(const char *s, const struct word *t, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcmp(s, t[i].word) == 0)
			return t[i].value;
	return -1;
}

static int
parse_mode(const char *s)
{
	static const struct word modes[] = {
		{ "normal",	MODE_NORMAL },
		{ "hang",	MODE_HANG },
		{ "html",	MODE_HTML },
		{ "close",	MODE_CLOSE },
		{ "te-gzip",	MODE_TE_GZIP },
		{ "ce-gzip",	MODE_CE_GZIP },
	};
	char word[16];
	int n, code, end = 0, v;

	n = sscanf(s, "%15s %d %n", word, &code, &end);
	if (n == 2 && strcmp(word, "status") == 0 && code >= 100 &&
	    code <= 599 && s[end] == '\0') {
		mode = MODE_STATUS;
		mode_status = code;
		return 0;
	}
	end = 0;
	if (sscanf(s, "%15s %n", word, &end) != 1 || s[end] != '\0')
		return -1;
	if ((v = word_value(word, modes, NWORDS(modes))) == -1)
		return -1;
	mode = (enum mode)v;
	return 0;
}

/*
 * The session list gzipped, with a coding nobody asked for: as a transfer
 * coding (evhttp adds chunked after it, so the reply says
 * "Transfer-Encoding: gzip" and "Transfer-Encoding: chunked") or as a
 * content coding.
 */
static void
reply_gzip(struct evhttp_request *req, int transfer)
{
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);
	struct evbuffer *b;
	z_stream zs;
	uLong cap = compressBound((uLong)fx_session_list.len) + 32;
	Bytef *out;

	if ((out = malloc(cap)) == NULL)
		fatal("malloc");
	memset(&zs, 0, sizeof(zs));
	if (deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED,
	    16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) != Z_OK)
		fatal("deflateInit2");
	zs.next_in = (Bytef *)fx_session_list.data;
	zs.avail_in = (uInt)fx_session_list.len;
	zs.next_out = out;
	zs.avail_out = (uInt)cap;
	if (deflate(&zs, Z_FINISH) != Z_STREAM_END)
		fatal("deflate");
	if ((b = evbuffer_new()) == NULL ||
	    evbuffer_add(b, out, zs.total_out) == -1)
		fatal("evbuffer");
	deflateEnd(&zs);
	free(out);
	evhttp_add_header(h, "Content-Type", "application/json");
	if (transfer) {
		evhttp_add_header(h, "Transfer-Encoding", "gzip");
		evhttp_send_reply_start(req, 200, "OK");
		evhttp_send_reply_chunk(req, b);
		evhttp_send_reply_end(req);
	} else {
		evhttp_add_header(h, "Content-Encoding", "gzip");
		evhttp_send_reply(req, 200, "OK", b);
	}
	evbuffer_free(b);
}

static int
sse_name_ok(const char *f)
{
	size_t n = strlen(f), i;

	if (n < 9 || n > 64 || strncmp(f, "sse-", 4) != 0 ||
	    strcmp(f + n - 4, ".txt") != 0)
		return 0;
	for (i = 0; i < n; i++)
		if (!isalnum((unsigned char)f[i]) && f[i] != '-' && f[i] != '.')
			return 0;
	return strstr(f, "..") == NULL;
}

static void
ctl_sse(struct evhttp_request *req, const char *body)
{
	char file[80], msg[64];
	double rate = 0;
	struct blob tr;
	struct stream *s;
	int n = 0, k, end = 0;

	k = sscanf(body, "%79s %n", file, &end);
	if (k == 1 && body[end] != '\0') {
		if (sscanf(body + end, "%lf %n", &rate, &k) != 1 ||
		    body[end + k] != '\0' || rate < 0 || rate > 1e6) {
			reply_text(req, 400, "bad rate\n");
			return;
		}
	}
	if (k < 1 || !sse_name_ok(file)) {
		reply_text(req, 400, "usage: sse-NAME.txt [RATE]\n");
		return;
	}
	if (read_file(file, &tr) == -1) {
		reply_text(req, 404, "no such transcript\n");
		return;
	}
	TAILQ_FOREACH(s, &streams, entry) {
		if (s->ending)
			continue;
		evbuffer_add(s->queue, tr.data, tr.len);
		s->rate = rate;
		if (!evtimer_pending(s->timer, NULL))
			stream_schedule(s, 0);
		n++;
	}
	free(tr.data);
	logmsg("replaying %s at %g events/s to %d stream(s)", file, rate, n);
	snprintf(msg, sizeof(msg), "{\"streams\":%d}\n", n);
	reply_text(req, 200, msg);
}

static void
ctl_sse_end(struct evhttp_request *req, const char *body)
{
	struct stream *s;
	char msg[64];
	int n = 0;

	(void)body;
	TAILQ_FOREACH(s, &streams, entry) {
		s->ending = 1;
		if (!evtimer_pending(s->timer, NULL))
			stream_schedule(s, 0);
		n++;
	}
	snprintf(msg, sizeof(msg), "{\"streams\":%d}\n", n);
	reply_text(req, 200, msg);
}

/* POST /__fake/event: each line of the body is one event's JSON. */
static void
ctl_event(struct evhttp_request *req, const char *body)
{
	struct stream *s;
	const char *p, *nl;
	size_t n;
	char msg[64];
	int ns = 0, ne = 0;

	TAILQ_FOREACH(s, &streams, entry) {
		if (s->ending)
			continue;
		ne = 0;
		for (p = body; *p != '\0'; p = *nl != '\0' ? nl + 1 : nl) {
			nl = p + strcspn(p, "\n");
			n = (size_t)(nl - p);
			if (n > 0 && p[n - 1] == '\r')
				n--;
			if (n == 0)
				continue;
			evbuffer_add(s->queue, "data: ", 6);
			evbuffer_add(s->queue, p, n);
			evbuffer_add(s->queue, "\n\n", 2);
			ne++;
		}
		s->rate = 0;
		if (!evtimer_pending(s->timer, NULL))
			stream_schedule(s, 0);
		ns++;
	}
	snprintf(msg, sizeof(msg), "{\"streams\":%d,\"events\":%d}\n", ns,
	    ne);
	reply_text(req, 200, msg);
}

static int
parse_command(const char *s)
{
	static const struct word cmds[] = {
		{ "normal",	CMD_NORMAL },
		{ "hang",	CMD_HANG },
		{ "stall",	CMD_STALL },
	};
	int v;

	if ((v = word_value(s, cmds, NWORDS(cmds))) == -1)
		return -1;
	cmd_mode = (enum cmd_mode)v;
	return 0;
}


static void
ctl_messages(struct evhttp_request *req, const char *body)
{
	size_t n = strlen(body), i;

	for (i = 0; i < n; i++)
		if (!isalnum((unsigned char)body[i]) && body[i] != '-' &&
		    body[i] != '.' && body[i] != '_')
			break;
	if (n < 6 || n > 64 || i != n || strstr(body, "..") != NULL ||
	    strcmp(body + n - 5, ".json") != 0) {
		reply_text(req, 400, "usage: FILE.json\n");
		return;
	}
	if (messages_load(body) == -1) {
		reply_text(req, 404, "no such fixture\n");
		return;
	}
	reply_text(req, 200, "ok\n");
}

static void
ctl_log(struct evhttp_request *req, const char *body)
{
	struct evbuffer *b;
	size_t i;

	(void)body;
	if ((b = evbuffer_new()) == NULL)
		fatal("evbuffer_new");
	for (i = 0; i < hist_len; i++)
		evbuffer_add_printf(b, "%s\n",
		    history[(hist_start + i) % HISTORY_MAX].line);
	reply_owned(req, 200, "text/plain", b);
}

static void
ctl_count(struct evhttp_request *req, const char *body)
{
	struct evbuffer *b;
	struct stream *s;
	struct conn *c;
	int ns = 0, nc = 0;

	(void)body;
	TAILQ_FOREACH(s, &streams, entry)
		ns++;
	TAILQ_FOREACH(c, &conns, entry)
		nc++;
	if ((b = evbuffer_new()) == NULL)
		fatal("evbuffer_new");
	evbuffer_add_printf(b, "{\"requests\":%llu,"
	    "\"connections\":%llu,\"open\":%d,\"streams\":%d}\n",
	    (unsigned long long)n_requests,
	    (unsigned long long)n_connections, nc, ns);
	reply_owned(req, 200, "application/json", b);
}

static void
ctl_stream_queued(struct evhttp_request *req, const char *body)
{
	struct evbuffer *b;
	struct stream *s;
	size_t n = 0;

	(void)body;
	TAILQ_FOREACH(s, &streams, entry)
		n += evbuffer_get_length(s->queue) + stream_unsent(s);
	if ((b = evbuffer_new()) == NULL)
		fatal("evbuffer_new");
	evbuffer_add_printf(b, "{\"queued\":%zu}\n", n);
	reply_owned(req, 200, "application/json", b);
}

static void
ctl_reset(struct evhttp_request *req, const char *body)
{
	(void)body;
	n_requests = 0;
	n_connections = 0;
	epoch++;
	hist_clear();
	mode = MODE_NORMAL;
	cmd_mode = CMD_NORMAL;
	event_life_ms = -1;
	reply_text(req, 200, "ok\n");
}

static int
parse_event_life(const char *s)
{
	char *end;
	long v = strtol(s, &end, 10);

	if (strncmp(s, "never", 5) == 0)
		event_life_ms = -1;
	else if (end != s && v >= 0 && v <= 3600000)
		event_life_ms = v;
	else
		return -1;
	return 0;
}

static int
held_path(const char *path)
{
	for (size_t i = 0; i < HOLD_MAX; i++)
		if (hold[i] != NULL && strcmp(hold[i], path) == 0)
			return 1;
	return 0;
}

/* Answers what was held for the body's path, and holds it no more. */
static void
ctl_release(struct evhttp_request *req, const char *body)
{
	struct evhttp_request *r;
	struct conn *c, *next;
	char path[sizeof(c->held_for)];
	size_t i;

	for (i = 0; i < HOLD_MAX; i++)
		if (hold[i] != NULL && strcmp(hold[i], body) == 0)
			hold[i] = NULL;
	for (c = TAILQ_FIRST(&conns); c != NULL; c = next) {
		next = TAILQ_NEXT(c, entry);
		if (c->held == NULL || strcmp(c->held_for, body) != 0)
			continue;
		r = c->held;
		c->held = NULL;
		memcpy(path, c->held_for, sizeof(path));
		route(r, c, path, "");
	}
	reply_text(req, 200, "ok\n");
}

static void
ctl_stalls(struct evhttp_request *req, const char *body)
{
	struct evbuffer *b;

	(void)body;
	if ((b = evbuffer_new()) == NULL)
		fatal("evbuffer_new");
	evbuffer_add_printf(b, "{\"sent\":%ld,\"broken\":%ld}\n",
	    stalls_sent, stalls_broken);
	reply_owned(req, 200, "application/json", b);
}

static void
ctl_stall_end(struct evhttp_request *req, const char *body)
{
	struct conn *c, *next;

	(void)body;
	for (c = TAILQ_FIRST(&conns); c != NULL; c = next) {
		next = TAILQ_NEXT(c, entry);
		if (c->stall != NULL && c->stall_done)
			conn_free(c);
	}
	reply_text(req, 200, "ok\n");
}

static void
ctl_drop_idle(struct evhttp_request *req, const char *body)
{
	struct evhttp_connection *self = evhttp_request_get_connection(req);
	struct conn *c, *next;
	char out[64];
	int n = 0;

	(void)body;
	for (c = TAILQ_FIRST(&conns); c != NULL; c = next) {
		next = TAILQ_NEXT(c, entry);
		if (c->evcon == self || c->stream != NULL || c->hung != NULL ||
		    c->held != NULL || c->cmd != NULL || c->stall != NULL)
			continue;
		conn_free(c);
		n++;
	}
	snprintf(out, sizeof(out), "{\"closed\":%d}", n);
	reply_text(req, 200, out);
}

/*
 * A control request: /__fake/OP with that method, answered by fn, or a
 * setting (POST): set takes the body (0) or refuses it (400 with usage);
 * log: a setting taken is logged as "OP: body".
 */
struct ctl_op {
	const char		*op;
	enum evhttp_cmd_type	 method;
	void			(*fn)(struct evhttp_request *, const char *);
	int			(*set)(const char *);
	const char		*usage;
	int			 log;
};

#define CTL(op, method, fn)	{ op, method, fn, NULL, NULL, 0 }
#define SET(op, set, usage, log) \
	{ op, EVHTTP_REQ_POST, NULL, set, usage, log }

static const struct ctl_op ctl_ops[] = {
	SET("mode", parse_mode,
	    "usage: normal | status N | hang | html | close\n", 1),
	CTL("last",	EVHTTP_REQ_GET,		ctl_last),
	CTL("log",	EVHTTP_REQ_GET,		ctl_log),
	CTL("count",	EVHTTP_REQ_GET,		ctl_count),
	CTL("stream-queued", EVHTTP_REQ_GET,	ctl_stream_queued),
	CTL("reset",	EVHTTP_REQ_POST,	ctl_reset),
	CTL("sse",	EVHTTP_REQ_POST,	ctl_sse),
	CTL("event",	EVHTTP_REQ_POST,	ctl_event),
	SET("command", parse_command, "usage: normal | hang | stall\n", 0),
	CTL("messages",	EVHTTP_REQ_POST,	ctl_messages),
	SET("event-life", parse_event_life, "usage: MS | never\n", 1),
	CTL("sse-end",	EVHTTP_REQ_POST,	ctl_sse_end),
	CTL("stalls",	EVHTTP_REQ_GET,		ctl_stalls),
	CTL("stall-end", EVHTTP_REQ_POST,	ctl_stall_end),
	CTL("drop-idle", EVHTTP_REQ_POST,	ctl_drop_idle),
	CTL("release",	EVHTTP_REQ_POST,	ctl_release),
};

static void
ctl_handle(struct evhttp_request *req, const char *path, const char *body)
{
	enum evhttp_cmd_type m = evhttp_request_get_command(req);
	const char *op = path + strlen(CTL_PREFIX);
	size_t i;

	for (i = 0; i < sizeof(ctl_ops) / sizeof(ctl_ops[0]); i++)
		if (strcmp(op, ctl_ops[i].op) == 0 && m == ctl_ops[i].method)
			break;
	if (i == sizeof(ctl_ops) / sizeof(ctl_ops[0]))
		reply_text(req, 404, "unknown control request\n");
	else if (ctl_ops[i].fn != NULL)
		ctl_ops[i].fn(req, body);
	else if (ctl_ops[i].set(body) == -1)
		reply_text(req, 400, ctl_ops[i].usage);
	else {
		if (ctl_ops[i].log)
			logmsg("%s: %s", ctl_ops[i].op, body);
		reply_text(req, 200, "ok\n");
	}
}

/* ---- dispatch ---- */

static int
authorized(struct evhttp_request *req)
{
	const char *h;

	if (auth_expected == NULL)
		return 1;
	h = evhttp_find_header(evhttp_request_get_input_headers(req),
	    "Authorization");
	return h != NULL && strcmp(h, auth_expected) == 0;
}

static void
handle(struct evhttp_request *req, void *arg)
{
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	const char *path = evhttp_uri_get_path(uri);
	const char *raw = evhttp_request_get_uri(req);
	const char *mname = method_name(evhttp_request_get_command(req));
	struct evhttp_connection *evcon;
	struct timeval zero = { 0, 0 };
	struct conn *c;
	char *body;
	size_t blen;

	(void)arg;
	if (path == NULL || *path == '\0')
		path = "/";
	body = body_string(req, &blen);

	if (strncmp(path, CTL_PREFIX, strlen(CTL_PREFIX)) == 0) {
		ctl_handle(req, path, body);
		free(body);
		return;
	}

	evcon = evhttp_request_get_connection(req);
	c = conn_get(evcon, strcmp(path, "/event") != 0);
	hist_add(mname, raw, body, blen);
	logmsg("%s %s (%zu bytes)", mname, raw, blen);

	if (!authorized(req)) {
		evhttp_add_header(evhttp_request_get_output_headers(req),
		    "www-authenticate", "Basic realm=\"Secure Area\"");
		reply(req, 401, NULL, NULL, 0);
		free(body);
		return;
	}
	if (c->held == NULL && strlen(path) < sizeof(c->held_for) &&
	    held_path(path)) {
		c->held = req;
		snprintf(c->held_for, sizeof(c->held_for), "%s", path);
		free(body);
		return;
	}

	switch (mode) {
	case MODE_NORMAL:
		route(req, c, path, body);
		break;
	case MODE_STATUS:
		reply_status(req, mode_status);
		break;
	case MODE_HANG:
		/* Never answered; freed with the connection or at exit. */
		c->hung = req;
		break;
	case MODE_HTML:
		reply(req, 200, "text/html", fx_html.data, fx_html.len);
		break;
	case MODE_TE_GZIP:
	case MODE_CE_GZIP:
		reply_gzip(req, mode == MODE_TE_GZIP);
		break;
	case MODE_CLOSE:
		if (event_base_once(base, -1, EV_TIMEOUT, close_deferred,
		    (void *)(uintptr_t)c->serial, &zero) == -1)
			fatal("event_base_once");
		break;
	}
	free(body);
}

static void
on_signal(evutil_socket_t sig, short what, void *arg)
{
	(void)what;
	(void)arg;
	logmsg("signal %d, exiting", (int)sig);
	event_base_loopexit(base, NULL);
}

static void __attribute__((noreturn))
usage(void)
{
	fprintf(stderr,
	    "usage: fake_upstream --fixtures DIR [--port N] [--heartbeat S]\n"
	    "\t[--event-life MS] [--hold PATH ...]\n");
	exit(2);
}

/* A decimal number from 0 to max, or usage(). */
static long
num_arg(const char *s, long max)
{
	char *end;
	long v;

	v = strtol(s, &end, 10);
	if (*s == '\0' || *end != '\0' || v < 0 || v > max)
		usage();
	return v;
}

/* Sets fixtures and heartbeat_s; returns the port to listen on (0: any). */
static long
parse_args(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "fixtures",	required_argument, NULL, 'f' },
		{ "port",	required_argument, NULL, 'p' },
		{ "heartbeat",	required_argument, NULL, 'h' },
		{ "event-life",	required_argument, NULL, 'l' },
		{ "hold",	required_argument, NULL, 'H' },
		{ NULL,		0,		   NULL, 0 }
	};
	long port = 0;
	int ch, nhold = 0;

	while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (ch) {
		case 'f':
			fixtures = optarg;
			break;
		case 'p':
			port = num_arg(optarg, 65535);
			break;
		case 'h':
			heartbeat_s = (int)num_arg(optarg, 3600);
			break;
		case 'l':
			event_life_ms = num_arg(optarg, 3600000);
			break;
		case 'H':
			if (nhold == HOLD_MAX)
				usage();
			hold[nhold++] = optarg;
			break;
		default:
			usage();
		}
	}
	if (fixtures == NULL || optind != argc)
		usage();
	return port;
}

int
main(int argc, char *argv[])
{
	struct evhttp_bound_socket *bound;
	struct sockaddr_in sin;
	socklen_t slen = sizeof(sin);
	struct event *sigterm, *sigint, *hb = NULL;
	struct timeval tv;
	const char *pw;
	char *b64, *cred;
	long port;

	port = parse_args(argc, argv);
	signal(SIGPIPE, SIG_IGN);

	load("session-list.json", &fx_session_list);
	load("session-create.json", &fx_session_create);
	load("session-get.json", &fx_session_get);
	load("agent-list.json", &fx_agent_list);
	load("health.json", &fx_health);
	load_gunzip("provider.json.gz", &fx_provider);
	load("error-delete-unknown-session.http", &fx_404_delete);
	load("error-unknown-session.http", &fx_404_get);
	load("error-malformed-id.http", &fx_500_malformed);
	load("error-prompt-unknown-session.http", &fx_404_prompt);
	load("error-prompt-missing-parts.http", &fx_400_prompt_parts);
	load("error-permission-unknown.http", &fx_404_permission);
	load("error-permission-bad-reply.http", &fx_400_permission);
	load("auth-put-bad.http", &fx_400_auth);
	load("error-bad-json.http", &fx_400_bad_json);
	load("error-unknown-route.http", &fx_html);
	load_v2_fixtures();

	if ((pw = getenv("FAKE_UPSTREAM_PASSWORD")) != NULL) {
		if (asprintf(&cred, "opencode:%s", pw) == -1)
			fatal("asprintf");
		b64 = base64(cred);
		if (asprintf(&auth_expected, "Basic %s", b64) == -1)
			fatal("asprintf");
		free(b64);
		free(cred);
	}

	if ((base = event_base_new()) == NULL)
		fatal("event_base_new");
	if ((http = evhttp_new(base)) == NULL)
		fatal("evhttp_new");
	evhttp_set_allowed_methods(http, EVHTTP_REQ_GET | EVHTTP_REQ_POST |
	    EVHTTP_REQ_HEAD | EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE |
	    EVHTTP_REQ_OPTIONS | EVHTTP_REQ_PATCH);
	evhttp_set_timeout(http, CONN_TIMEOUT);
	/* The real server sends no Content-Type on a 401 or a 204. */
	evhttp_set_default_content_type(http, NULL);
	evhttp_set_gencb(http, handle, NULL);
	if ((bound = evhttp_bind_socket_with_handle(http, "127.0.0.1",
	    (ev_uint16_t)port)) == NULL)
		fatal("cannot bind 127.0.0.1:%ld", port);
	if (getsockname(evhttp_bound_socket_get_fd(bound),
	    (struct sockaddr *)&sin, &slen) == -1)
		fatal("getsockname: %s", strerror(errno));

	sigterm = evsignal_new(base, SIGTERM, on_signal, NULL);
	sigint = evsignal_new(base, SIGINT, on_signal, NULL);
	if (sigterm == NULL || sigint == NULL ||
	    evsignal_add(sigterm, NULL) == -1 ||
	    evsignal_add(sigint, NULL) == -1)
		fatal("evsignal");
	if (heartbeat_s > 0) {
		hb = event_new(base, -1, EV_PERSIST, heartbeat, NULL);
		tv.tv_sec = heartbeat_s;
		tv.tv_usec = 0;
		if (hb == NULL || event_add(hb, &tv) == -1)
			fatal("heartbeat timer");
	}

	printf("{\"port\":%u}\n", (unsigned)ntohs(sin.sin_port));
	if (fflush(stdout) == EOF)
		fatal("stdout: %s", strerror(errno));
	logmsg("listening on 127.0.0.1:%u, fixtures %s%s",
	    (unsigned)ntohs(sin.sin_port), fixtures,
	    auth_expected != NULL ? ", password required" : "");

	event_base_dispatch(base);

	/* Frees every connection (and so every stream, via conn_closed). */
	evhttp_free(http);
	if (hb != NULL)
		event_free(hb);
	event_free(sigterm);
	event_free(sigint);
	hist_clear();
	event_base_free(base);
	free(auth_expected);
	free(fx_session_list.data);
	free(fx_session_create.data);
	free(fx_session_get.data);
	free(fx_agent_list.data);
	free(fx_health.data);
	free(fx_provider.data);
	free(fx_404_delete.data);
	free(fx_404_get.data);
	free(fx_500_malformed.data);
	free(fx_404_prompt.data);
	free(fx_400_prompt_parts.data);
	free(fx_404_permission.data);
	free(fx_400_permission.data);
	free(fx_400_auth.data);
	free(fx_400_bad_json.data);
	free(fx_html.data);
	free(fx_session_update.data);
	free(fx_session_fork.data);
	free(fx_session_revert.data);
	free(fx_session_unrevert.data);
	free(fx_session_status.data);
	free(fx_command_list.data);
	free(fx_command_run.data);
	free(fx_permission_list.data);
	free(fx_question_list.data);
	free(fx_todo_list.data);
	free(fx_diff.data);
	free(fx_diff_message.data);
	free(fx_summarize.data);
	free(fx_question_reply.data);
	free(fx_question_reject.data);
	free(fx_404_question.data);
	free(fx_404_question_reject.data);
	free(fx_400_question_id.data);
	free(fx_500_command.data);
	free(fx_messages.data);
	free(msgs);
	return 0;
}
