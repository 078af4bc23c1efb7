/*
 * libFuzzer target: the input is an upstream reply body.  Every reply mapper
 * sees it as a 200 application/json answer, the error path as a 400 and a
 * 404 with quoting on, and the JSON layer is walked token by token.  Every
 * string that comes out must be valid UTF-8 without a NUL.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/utf8.h"
#include "netproc/api.h"
#include "netproc/arena.h"
#include "netproc/json.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void
check_str(const char *s)
{
	if (s == NULL || !utf8_valid((const uint8_t *)s, strlen(s)))
		abort();
}

static void
check_reply(const uint8_t *out, size_t len)
{
	Opencode__ServerMessage	*sm;
	size_t			 i;

	if ((sm = opencode__server_message__unpack(NULL, len, out)) == NULL)
		abort();
	if (sm->request_id != 7)
		abort();
	switch (sm->payload_case) {
	case OPENCODE__SERVER_MESSAGE__PAYLOAD_ERROR:
		check_str(sm->error->code);
		check_str(sm->error->message);
		if (strlen(sm->error->message) >= API_MSG_MAX)
			abort();
		break;
	case OPENCODE__SERVER_MESSAGE__PAYLOAD_SESSION_LIST:
		for (i = 0; i < sm->session_list->n_sessions; i++) {
			check_str(sm->session_list->sessions[i]->id);
			if (sm->session_list->sessions[i]->_title_case ==
			    OPENCODE__SESSION_INFO___TITLE_TITLE)
				check_str(sm->session_list->sessions[i]->title);
		}
		break;
	case OPENCODE__SERVER_MESSAGE__PAYLOAD_SESSION_INFO:
		check_str(sm->session_info->id);
		break;
	case OPENCODE__SERVER_MESSAGE__PAYLOAD_AGENT_LIST:
		for (i = 0; i < sm->agent_list->n_agents; i++)
			check_str(sm->agent_list->agents[i]->name);
		break;
	case OPENCODE__SERVER_MESSAGE__PAYLOAD_PROVIDER_STATUS:
		for (i = 0; i < sm->provider_status->n_connected; i++)
			check_str(sm->provider_status->connected[i]);
		break;
	case OPENCODE__SERVER_MESSAGE__PAYLOAD_AUTH_STATUS:
		if (strcmp(sm->auth_status->provider_id, "mock") != 0)
			abort();
		break;
	case OPENCODE__SERVER_MESSAGE__PAYLOAD_UPSTREAM_HEALTH:
		check_str(sm->upstream_health->version);
		break;
	default:
		break;
	}
	opencode__server_message__free_unpacked(sm, NULL);
}

static void
walk(const uint8_t *data, size_t size)
{
	struct json	*j;
	struct arena	 a;
	char		*s;
	int64_t		 v;
	int		 t, n, b;

	if (json_parse(data, size, &j) == -1)
		return;
	arena_init(&a);
	n = json_ntokens(j);
	for (t = 0; t < n; t++) {
		if (json_next(j, t) <= t || json_next(j, t) > n)
			abort();
		switch (json_type(j, t)) {
		case JSON_STRING:
			if (json_get_str(j, t, &a, &s) == 0) {
				check_str(s);
				if (!json_str_eq(j, t, s))
					abort();
			}
			break;
		case JSON_NUMBER:
			(void)json_get_int64(j, t, &v);
			break;
		case JSON_BOOL:
			if (json_get_bool(j, t, &b) == -1)
				abort();
			break;
		case JSON_OBJECT:
			(void)json_obj_get(j, t, "id");
			break;
		case JSON_ARRAY:
		case JSON_NULL:
			break;
		default:
			abort();
		}
	}
	arena_free(&a);
	json_free(j);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const long	 status[] = { 200, 400, 404 };
	struct api_response	 r;
	struct api_call		 c;
	uint8_t			*out;
	size_t			 len, s;
	int			 k;

	memset(&c, 0, sizeof(c));
	c.request_id = 7;
	c.quote_errors = 1;
	memcpy(c.provider_id, "mock", 5);
	r.content_type = "application/json";
	r.body = data;
	r.body_len = size;
	for (s = 0; s < sizeof(status) / sizeof(status[0]); s++) {
		r.status = status[s];
		for (k = API_KIND_EMPTY; k <= API_KIND_HEALTH; k++) {
			c.kind = k;
			if (api_reply_pack(&c, &r, &out, &len) == -1)
				abort();	/* only on ENOMEM */
			check_reply(out, len);
			free(out);
			if (status[s] != 200)
				break;	/* the error path ignores the kind */
		}
	}
	walk(data, size);
	return 0;
}
