/*
 * Copyright (c) 2026 The ocbroker authors
 * SPDX-License-Identifier: ISC (the licence is in the file LICENSE)
 */

/* The GET /event subscription; see stream.h. */
#include "config.h"

#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/buf.h"
#include "common/log.h"
#include "common/timer.h"
#include "netproc/arena.h"
#include "netproc/json.h"
#include "netproc/sse.h"
#include "netproc/stream.h"
#include "netproc/upauth.h"

enum stream_state {
	STREAM_IDLE,		/* waiting to (re)connect */
	STREAM_CONNECTING,	/* request sent, no response head yet */
	STREAM_OPEN,		/* head accepted, events flowing */
};

struct health_xfer {
	struct upstream_xfer	 xfer;
	struct stream		*st;
	CURL			*easy;
	struct curl_slist	*headers;
	struct buf		 body;
};

struct stream {
	struct upstream_xfer	 xfer;		/* first: the easy handle's private */
	struct upstream		*up;
	event_emit_fn		 emit;
	void			*emit_arg;
	enum stream_state	 state;
	CURL			*easy;
	struct curl_slist	*headers;
	struct sse_parser	 sse;
	struct event_mapper	*mapper;
	struct event		*retry_timer;
	struct event		*watch_timer;	/* head, then idle timeout */
	struct event		*health_ev;	/* starts the /global/health fetch */
	struct event		*resume_ev;	/* unpauses libcurl from the loop */
	int			 paused;	/* stream_pause: read nothing more */
	int			 curl_paused;	/* write_cb handed a chunk back */
	unsigned		 backoff_ms;
	struct timespec		 opened;	/* when the head was accepted */
	int			 announced;	/* clients were told connected:true */
	int			 said;		/* clients were told anything yet */
	int			 connected;	/* server.connected on this stream */
	int			 head_ok;
	const char		*resync;	/* an event was lost: why */
	struct health_xfer	*health;
};

static void	stream_connect(struct stream *);

static void
emit_status(struct stream *st, int connected, const char *version)
{
	Opencode__ServerMessage sm = OPENCODE__SERVER_MESSAGE__INIT;
	Opencode__UpstreamStatus us = OPENCODE__UPSTREAM_STATUS__INIT;
	uint8_t buf[256];
	size_t len;

	us.connected = connected;
	us.version = (char *)(version != NULL ? version : "");
	sm.payload_case = OPENCODE__SERVER_MESSAGE__PAYLOAD_UPSTREAM_STATUS;
	sm.upstream_status = &us;
	if (opencode__server_message__get_packed_size(&sm) > sizeof(buf))
		us.version = (char *)"";
	len = opencode__server_message__pack(&sm, buf);
	st->emit(st->emit_arg, "", buf, len);
	st->announced = connected;
	st->said = 1;
}

static void
watch(struct stream *st, int seconds)
{
	struct timeval tv = { seconds, 0 };

	evtimer_add(st->watch_timer, &tv);
}

static void
health_free(struct health_xfer *h)
{
	if (h == NULL)
		return;
	if (h->easy != NULL) {
		upstream_xfer_remove(h->st->up, h->easy);
		curl_easy_cleanup(h->easy);
	}
	curl_slist_free_all(h->headers);
	buf_free(&h->body);
	free(h);
}

static size_t
health_write_cb(char *data, size_t size, size_t n, void *arg)
{
	struct health_xfer *h = arg;

	if (buf_used(&h->body) + size * n > STREAM_HEALTH_MAX)
		return 0;
	return buf_add(&h->body, data, size * n) == 0 ? size * n : 0;
}

/* The version for UpstreamStatus comes from /global/health; without it the
 * status still goes out, with an empty version. */
static void
health_done(struct upstream_xfer *x, CURLcode rc)
{
	struct health_xfer *h = (struct health_xfer *)x;
	struct stream *st = h->st;
	struct json *js = NULL;
	struct arena a;
	char *version = NULL;
	long status = 0;
	int i;

	curl_easy_getinfo(h->easy, CURLINFO_RESPONSE_CODE, &status);
	arena_init(&a);
	if (rc == CURLE_OK && status == 200 &&
	    json_parse(buf_head(&h->body), buf_used(&h->body), &js) == 0 &&
	    (i = json_obj_get(js, 0, "version")) >= 0)
		(void)json_get_str(js, i, &a, &version);
	if (st->state == STREAM_OPEN && !st->announced)
		emit_status(st, 1, version);
	if (js != NULL)
		json_free(js);
	arena_free(&a);
	st->health = NULL;
	health_free(h);
}

static void
health_fetch(struct stream *st)
{
	struct health_xfer *h;

	if (st->health != NULL)
		return;
	if ((h = calloc(1, sizeof(*h))) == NULL)
		goto fail;
	h->st = st;
	h->xfer.done = health_done;
	buf_init(&h->body);
	h->headers = curl_slist_append(NULL, "Accept: application/json");
	if (h->headers == NULL || (h->easy = curl_easy_init()) == NULL ||
	    upstream_easy_setup(st->up, h->easy, "/global/health",
	    h->headers) == -1 ||
	    curl_easy_setopt(h->easy, CURLOPT_WRITEFUNCTION, health_write_cb) != CURLE_OK ||
	    curl_easy_setopt(h->easy, CURLOPT_WRITEDATA, h) != CURLE_OK ||
	    curl_easy_setopt(h->easy, CURLOPT_TIMEOUT_MS,
	    (long)UPSTREAM_CONNECT_TIMEOUT_MS * 2) != CURLE_OK ||
	    upstream_xfer_add(st->up, h->easy, &h->xfer) == -1) {
		if (h != NULL && h->easy != NULL) {
			curl_easy_cleanup(h->easy);
			h->easy = NULL;
		}
		health_free(h);
		goto fail;
	}
	st->health = h;
	return;
fail:
	if (!st->announced)
		emit_status(st, 1, NULL);
}

/* Seconds the open stream has lived (0 when it never opened). */
static long
stream_lived(const struct stream *st)
{
	struct timespec now;

	if (!st->head_ok)
		return 0;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return (long)(now.tv_sec - st->opened.tv_sec);
}

/* Tears the transfer down and schedules the next attempt. */
static void
stream_lost(struct stream *st, const char *why)
{
	if (st->easy != NULL) {
		upstream_xfer_remove(st->up, st->easy);
		curl_easy_cleanup(st->easy);
		st->easy = NULL;
	}
	curl_slist_free_all(st->headers);
	st->headers = NULL;
	/* Only a stream that stayed up resets the backoff: one that ends
	 * right after server.connected must not be retried at once. */
	if (stream_lived(st) >= STREAM_STABLE_S)
		st->backoff_ms = STREAM_BACKOFF_FIRST_MS;
	st->head_ok = 0;
	st->resync = NULL;
	st->paused = st->curl_paused = 0;
	evtimer_del(st->watch_timer);
	health_free(st->health);
	st->health = NULL;
	if (st->announced) {
		log_warnx("event stream lost: %s", why);
		emit_status(st, 0, NULL);
	} else if (st->connected && !st->said) {
		/* Its events reached clients before /global/health answered
		 * (the first stream, on a loaded machine): they must hear of
		 * the gap, or they would take the next connected:true for
		 * the first.  After a false, that true already says it. */
		log_warnx("event stream lost before it was announced: %s",
		    why);
		emit_status(st, 0, NULL);
	} else
		log_debug("event stream not up: %s", why);
	st->connected = 0;
	st->state = STREAM_IDLE;
	timer_backoff(st->retry_timer, &st->backoff_ms, STREAM_BACKOFF_MAX_MS);
}

static size_t
header_cb(char *data, size_t size, size_t n, void *arg)
{
	struct stream *st = arg;
	size_t len = size * n;
	const char *ctype = NULL;
	long status = 0;
	char why[96];

	/* Identity and chunked only: nothing is decoded (upstream.h). */
	if (upstream_coding_check(data, len, why, sizeof(why)) == -1) {
		log_warnx("event stream refused: %s", why);
		return 0;
	}
	/* The blank line ends the head: check it before any body byte. */
	if (len > 2 || (len == 2 && data[0] != '\r') || (len == 1 && data[0] != '\n'))
		return len;
	curl_easy_getinfo(st->easy, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_getinfo(st->easy, CURLINFO_CONTENT_TYPE, &ctype);
	if (status != 200 || ctype == NULL ||
	    strncasecmp(ctype, "text/event-stream", 17) != 0) {
		log_warnx("event stream refused: HTTP %ld, %s", status,
		    ctype != NULL ? "unexpected content type" : "no content type");
		return 0;
	}
	/* The request is sent: its credentials are not needed again. */
	upauth_scrub(st->headers);
	st->head_ok = 1;
	clock_gettime(CLOCK_MONOTONIC, &st->opened);
	st->state = STREAM_OPEN;
	watch(st, STREAM_IDLE_TIMEOUT_S);
	return len;
}

static size_t
write_cb(char *data, size_t size, size_t n, void *arg)
{
	struct stream *st = arg;
	const uint8_t *p = (const uint8_t *)data;
	size_t len = size * n, used;
	struct sse_event ev;
	uint64_t nomem;

	if (!st->head_ok)
		return 0;
	if (st->paused) {
		/* libcurl keeps the chunk and reads no more until resumed. */
		st->curl_paused = 1;
		return CURL_WRITEFUNC_PAUSE;
	}
	watch(st, STREAM_IDLE_TIMEOUT_S);
	while (len > 0) {
		enum sse_status s = sse_parser_feed(&st->sse, p, len, &used, &ev);

		p += used;
		len -= used;
		if (s == SSE_ERROR) {
			log_warnx("event stream: %s", st->sse.error != NULL ?
			    st->sse.error : "malformed");
			return 0;
		}
		if (s == SSE_NEED_MORE)
			break;
		nomem = event_mapper_stats(st->mapper)->nomem;
		switch (event_map(st->mapper, ev.data, ev.data_len, st->emit,
		    st->emit_arg)) {
		case EVENT_CONNECTED:
			/* Clients hear of transitions only: a second
			 * server.connected in an open stream changes
			 * nothing they know. */
			st->connected = 1;
			if (st->announced)
				break;
			log_info("event stream connected");
			/* libcurl refuses new transfers from inside its
			 * callbacks: start the fetch from the loop. */
			event_active(st->health_ev, EV_TIMEOUT, 1);
			break;
		case EVENT_INVALID:
			/* Out of memory is not a bad event: it is lost. */
			if (event_mapper_stats(st->mapper)->nomem != nomem) {
				stream_resync(st,
				    "out of memory mapping an event");
				break;
			}
			log_debug("event stream: an event that does not map");
			break;
		default:
			break;
		}
		/* Ends the transfer: stream_done tells clients. */
		if (st->resync != NULL) {
			log_warnx("event stream: %s: reconnecting", st->resync);
			return 0;
		}
	}
	return size * n;
}

static void
stream_done(struct upstream_xfer *x, CURLcode rc)
{
	struct stream *st = (struct stream *)x;

	stream_lost(st, st->resync != NULL ? st->resync : rc == CURLE_OK ?
	    "the upstream ended it" : curl_easy_strerror(rc));
}

void
stream_resync(struct stream *st, const char *why)
{
	/* Only an open stream delivers events; the first reason stays. */
	if (st->state == STREAM_OPEN && st->resync == NULL)
		st->resync = why;
}

void
stream_pause(struct stream *st)
{
	if (st->state != STREAM_OPEN || st->paused)
		return;
	st->paused = 1;
	/* Not reading is not a dead stream: the watch starts again on
	 * resume. */
	evtimer_del(st->watch_timer);
}

void
stream_resume(struct stream *st)
{
	if (!st->paused)
		return;
	st->paused = 0;
	/* curl_easy_pause may call write_cb at once: never under a caller
	 * that is itself sending. */
	event_active(st->resume_ev, EV_TIMEOUT, 1);
}

static void
resume_cb(evutil_socket_t fd, short what, void *arg)
{
	struct stream *st = arg;

	if (st->paused || st->state != STREAM_OPEN)
		return;
	watch(st, STREAM_IDLE_TIMEOUT_S);
	if (!st->curl_paused)
		return;
	st->curl_paused = 0;
	if (curl_easy_pause(st->easy, CURLPAUSE_CONT) != CURLE_OK)
		stream_lost(st, "cannot resume reading");
}

static void
stream_connect(struct stream *st)
{
	CURL *e;

	sse_parser_reset(&st->sse);
	st->head_ok = 0;
	st->headers = curl_slist_append(NULL, "Accept: text/event-stream");
	if (st->headers == NULL || (st->easy = e = curl_easy_init()) == NULL ||
	    upstream_easy_setup(st->up, e, "/event", st->headers) == -1 ||
	    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, header_cb) != CURLE_OK ||
	    curl_easy_setopt(e, CURLOPT_HEADERDATA, st) != CURLE_OK ||
	    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, write_cb) != CURLE_OK ||
	    curl_easy_setopt(e, CURLOPT_WRITEDATA, st) != CURLE_OK ||
	    upstream_xfer_add(st->up, e, &st->xfer) == -1) {
		stream_lost(st, "cannot set up the request");
		return;
	}
	st->state = STREAM_CONNECTING;
	/* A restarting server accepts before it answers. */
	watch(st, STREAM_HEAD_TIMEOUT_S);
}

static void
retry_cb(evutil_socket_t fd, short what, void *arg)
{
	stream_connect(arg);
}

static void
health_cb(evutil_socket_t fd, short what, void *arg)
{
	struct stream *st = arg;

	if (st->state == STREAM_OPEN)
		health_fetch(st);
}

static void
watch_cb(evutil_socket_t fd, short what, void *arg)
{
	struct stream *st = arg;

	stream_lost(st, st->state == STREAM_CONNECTING ?
	    "no response head in time" : "no byte in time (dead stream)");
}

struct stream *
stream_new(struct upstream *up, event_emit_fn emit, void *arg)
{
	struct stream *st;

	if ((st = calloc(1, sizeof(*st))) == NULL)
		return NULL;
	st->up = up;
	st->emit = emit;
	st->emit_arg = arg;
	st->xfer.done = stream_done;
	st->backoff_ms = STREAM_BACKOFF_FIRST_MS;
	sse_parser_init(&st->sse);
	st->mapper = event_mapper_new();
	st->retry_timer = evtimer_new(upstream_base(up), retry_cb, st);
	st->watch_timer = evtimer_new(upstream_base(up), watch_cb, st);
	st->health_ev = evtimer_new(upstream_base(up), health_cb, st);
	st->resume_ev = evtimer_new(upstream_base(up), resume_cb, st);
	if (st->mapper == NULL || st->retry_timer == NULL ||
	    st->watch_timer == NULL || st->health_ev == NULL ||
	    st->resume_ev == NULL) {
		stream_free(st);
		return NULL;
	}
	return st;
}

void
stream_start(struct stream *st)
{
	stream_connect(st);
}

void
stream_free(struct stream *st)
{
	if (st == NULL)
		return;
	if (st->easy != NULL) {
		upstream_xfer_remove(st->up, st->easy);
		curl_easy_cleanup(st->easy);
	}
	health_free(st->health);
	curl_slist_free_all(st->headers);
	sse_parser_free(&st->sse);
	event_mapper_free(st->mapper);
	if (st->retry_timer != NULL)
		event_free(st->retry_timer);
	if (st->watch_timer != NULL)
		event_free(st->watch_timer);
	if (st->health_ev != NULL)
		event_free(st->health_ev);
	if (st->resume_ev != NULL)
		event_free(st->resume_ev);
	free(st);
}
