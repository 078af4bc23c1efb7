/*
 * libFuzzer target: the input is an upstream GET /event body, preceded by a
 * chunking plan.  Byte 0: n = byte & 0x0f plan bytes follow, each a chunk
 * size minus one, used in turn (n = 0: the body in one feed).  The body is
 * fed to the SSE parser in those chunks and, as a reference, in one piece;
 * both must give the same events and the same error.  Every event's data
 * goes through event_map, and every message that comes out must unpack,
 * carry request_id 0 and the emitted session id, and hold only valid UTF-8.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/utf8.h"
#include "netproc/events.h"
#include "netproc/json.h"
#include "netproc/sse.h"
#include "proto/messages.pb-c.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

struct run {
	uint64_t	hash;		/* of every event, in order */
	size_t		events;
	int		error;
};

static void
check_str(const char *s)
{
	if (s == NULL || !utf8_valid((const uint8_t *)s, strlen(s)))
		abort();
}

/* input_json and metadata_json: "" or a JSON value json.c accepts. */
static void
check_json(const char *s)
{
	struct json	*j;

	check_str(s);
	if (s[0] == '\0')
		return;
	if (json_parse(s, strlen(s), &j) == -1)
		abort();
	json_free(j);
}

static void
emit(void *arg, const char *sid, const uint8_t *buf, size_t len)
{
	Opencode__ServerMessage	*m;
	const char		*msid;
	size_t			 i;

	(void)arg;
	check_str(sid);
	if ((m = opencode__server_message__unpack(NULL, len, buf)) == NULL ||
	    m->request_id != 0)
		abort();
	switch (m->payload_case) {
	case OPENCODE__SERVER_MESSAGE__PAYLOAD_TOKEN:
		msid = m->token->session_id;
		check_str(m->token->message_id);
		check_str(m->token->part_id);
		check_str(m->token->delta);
		break;
	case OPENCODE__SERVER_MESSAGE__PAYLOAD_COMPLETED:
		msid = m->completed->session_id;
		check_str(m->completed->message_id);
		check_str(m->completed->finish);
		check_str(m->completed->error);
		break;
	case OPENCODE__SERVER_MESSAGE__PAYLOAD_TOOL_CALL:
		msid = m->tool_call->session_id;
		check_str(m->tool_call->message_id);
		check_str(m->tool_call->call_id);
		check_str(m->tool_call->tool);
		check_str(m->tool_call->status);
		check_str(m->tool_call->title);
		check_json(m->tool_call->input_json);
		check_str(m->tool_call->output);
		check_str(m->tool_call->part_id);
		check_str(m->tool_call->error);
		break;
	case OPENCODE__SERVER_MESSAGE__PAYLOAD_PERMISSION_REQUEST:
		msid = m->permission_request->session_id;
		check_str(m->permission_request->permission_id);
		check_str(m->permission_request->permission);
		for (i = 0; i < m->permission_request->n_patterns; i++)
			check_str(m->permission_request->patterns[i]);
		check_str(m->permission_request->message_id);
		check_str(m->permission_request->call_id);
		check_json(m->permission_request->metadata_json);
		break;
	case OPENCODE__SERVER_MESSAGE__PAYLOAD_SESSION_EVENT:
		msid = m->session_event->session_id;
		check_str(m->session_event->kind);
		check_str(m->session_event->status);
		check_str(m->session_event->error_name);
		check_str(m->session_event->error_message);
		if (strlen(m->session_event->error_message) > EVENT_ERRMSG_MAX)
			abort();
		if (m->session_event->info != NULL) {
			check_str(m->session_event->info->id);
			if (m->session_event->info->_title_case ==
			    OPENCODE__SESSION_INFO___TITLE_TITLE)
				check_str(m->session_event->info->title);
		}
		break;
	default:
		abort();
	}
	check_str(msid);
	if (strcmp(msid, sid) != 0)
		abort();
	opencode__server_message__free_unpacked(m, NULL);
}

static uint64_t
mix(uint64_t h, const void *p, size_t n)
{
	const uint8_t	*b = p;

	while (n-- > 0) {
		h ^= *b++;
		h *= 0x100000001b3ULL;
	}
	return h;
}

static void
take(struct run *r, const struct sse_event *ev, struct event_mapper *m)
{
	if (ev->data == NULL || ev->type == NULL || ev->id == NULL ||
	    ev->data[ev->data_len] != '\0' || ev->type[ev->type_len] != '\0' ||
	    ev->id[ev->id_len] != '\0' || ev->type_len == 0 ||
	    ev->retry_ms < -1 || ev->retry_ms > SSE_RETRY_MAX_MS ||
	    ev->data_len >= SSE_MAX_DATA)
		abort();
	r->events++;
	r->hash = mix(r->hash, &ev->data_len, sizeof(ev->data_len));
	r->hash = mix(r->hash, ev->data, ev->data_len);
	r->hash = mix(r->hash, ev->type, ev->type_len + 1);
	r->hash = mix(r->hash, ev->id, ev->id_len + 1);
	r->hash = mix(r->hash, &ev->retry_ms, sizeof(ev->retry_ms));
	if (m != NULL)
		(void)event_map(m, ev->data, ev->data_len, emit, NULL);
}

/* Feeds one chunk; 0, or -1 once the parser failed. */
static int
feed(struct sse_parser *p, const uint8_t *b, size_t len, struct run *r,
    struct event_mapper *m)
{
	struct sse_event	ev;
	enum sse_status		s;
	size_t			used;

	for (;;) {
		s = sse_parser_feed(p, b, len, &used, &ev);
		if (s == SSE_ERROR) {
			if (p->error == NULL)
				abort();
			r->error = 1;
			return -1;
		}
		if (used > len)
			abort();
		b += used;
		len -= used;
		if (s == SSE_NEED_MORE) {
			if (len != 0)
				abort();
			return 0;
		}
		if (s != SSE_EVENT || used == 0)
			abort();
		take(r, &ev, m);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sse_parser	 p;
	struct event_mapper	*m;
	struct run		 whole = { 0xcbf29ce484222325ULL, 0, 0 };
	struct run		 chunked = { 0xcbf29ce484222325ULL, 0, 0 };
	const uint8_t		*plan, *body;
	size_t			 nplan, len, off, n, k = 0;

	if (size == 0)
		return 0;
	nplan = data[0] & 0x0f;
	if (size < 1 + nplan)
		return 0;
	plan = data + 1;
	body = data + 1 + nplan;
	len = size - 1 - nplan;

	sse_parser_init(&p);
	(void)feed(&p, body, len, &whole, NULL);
	sse_parser_free(&p);

	if ((m = event_mapper_new()) == NULL)
		abort();
	sse_parser_init(&p);
	for (off = 0; off < len; off += n) {
		n = nplan == 0 ? len : (size_t)plan[k++ % nplan] + 1;
		if (n > len - off)
			n = len - off;
		if (feed(&p, body + off, n, &chunked, m) == -1)
			break;
	}
	/* Once failed, it stays failed until a reset. */
	if (chunked.error) {
		struct sse_event	ev;
		size_t			used;

		if (sse_parser_feed(&p, (const uint8_t *)"\n\n", 2, &used,
		    &ev) != SSE_ERROR)
			abort();
	}
	sse_parser_reset(&p);
	sse_parser_free(&p);
	event_mapper_free(m);

	if (whole.events != chunked.events || whole.hash != chunked.hash ||
	    whole.error != chunked.error)
		abort();
	return 0;
}
