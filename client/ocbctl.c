/*
 * ocbctl: a command-line client for ocbroker, on libocbclient.  Every reply
 * and event is printed as one JSON object per line on stdout; diagnostics go
 * to stderr.  The token is read from a file (its first line), never from the
 * command line, where every user could read it in ps(1).
 *
 * Exit status: 0 ok, 1 the server answered with an ErrorResponse, 2 usage
 * (bad arguments, unreadable token file), 3 connection or auth failure (or
 * no reply in time).
 */
#include "config.h"

#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "client/ocbclient.h"
#include "common/utf8.h"

#define EXIT_REPLY_ERROR	1
#define EXIT_USAGE		2
#define EXIT_CONNECT		3

#define DEFAULT_TIMEOUT_MS	35000	/* above the broker's 30 s limit */
#define CLOSE_TIMEOUT_MS	2000
#define TOKEN_MAX		1024

static volatile sig_atomic_t got_signal;

static void __attribute__((noreturn))
usage(void)
{
	fprintf(stderr,
	    "usage: ocbctl --port P --token-file F [--timeout MS] COMMAND\n"
	    "commands:\n"
	    "  sessions | agents | providers | health\n"
	    "  create [TITLE] | delete SESSION\n"
	    "  send [--agent NAME] [--model PROVIDER/MODEL] SESSION TEXT\n"
	    "  cancel SESSION | auth-status PROVIDER\n"
	    "  reply-permission SESSION PERMISSION once|always|reject\n"
	    "  watch [SESSION...]\n");
	exit(EXIT_USAGE);
}

static void __attribute__((format(printf, 1, 2)))
warnx_(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("ocbctl: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

/* ---- JSON output ---- */

/* A JSON string: escapes, and U+FFFD for bytes that are not UTF-8. */
static void
json_str(const char *s)
{
	const uint8_t *p = (const uint8_t *)(s != NULL ? s : "");
	size_t n;

	putchar('"');
	while (*p != '\0') {
		if (*p < 0x80) {
			switch (*p) {
			case '"':
				fputs("\\\"", stdout);
				break;
			case '\\':
				fputs("\\\\", stdout);
				break;
			case '\n':
				fputs("\\n", stdout);
				break;
			case '\r':
				fputs("\\r", stdout);
				break;
			case '\t':
				fputs("\\t", stdout);
				break;
			case '\b':
				fputs("\\b", stdout);
				break;
			case '\f':
				fputs("\\f", stdout);
				break;
			default:
				if (*p < 0x20 || *p == 0x7f)
					printf("\\u%04x", (unsigned)*p);
				else
					putchar(*p);
			}
			p++;
			continue;
		}
		if (*p >= 0xf0)
			n = 4;
		else if (*p >= 0xe0)
			n = 3;
		else
			n = 2;
		if (strnlen((const char *)p, n) == n && utf8_valid(p, n)) {
			fwrite(p, 1, n, stdout);
			p += n;
		} else {
			fputs("\\ufffd", stdout);
			p++;
		}
	}
	putchar('"');
}

/* "key":"value" with a leading comma unless first. */
static void
kv_str(int *first, const char *k, const char *v)
{
	if (!*first)
		putchar(',');
	*first = 0;
	json_str(k);
	putchar(':');
	json_str(v);
}

static void
kv_int(int *first, const char *k, int64_t v)
{
	if (!*first)
		putchar(',');
	*first = 0;
	json_str(k);
	printf(":%" PRId64, v);
}

static void
kv_bool(int *first, const char *k, int v)
{
	if (!*first)
		putchar(',');
	*first = 0;
	json_str(k);
	fputs(v ? ":true" : ":false", stdout);
}

static void
kv_strs(int *first, const char *k, char **v, size_t n)
{
	size_t i;

	if (!*first)
		putchar(',');
	*first = 0;
	json_str(k);
	fputs(":[", stdout);
	for (i = 0; i < n; i++) {
		if (i > 0)
			putchar(',');
		json_str(v[i]);
	}
	putchar(']');
}

static void
session_obj(const Opencode__SessionInfo *s)
{
	int f = 1;

	putchar('{');
	kv_str(&f, "id", s->id);
	if (s->_title_case == OPENCODE__SESSION_INFO___TITLE_TITLE)
		kv_str(&f, "title", s->title);
	kv_int(&f, "created_at", s->created_at);
	kv_int(&f, "updated_at", s->updated_at);
	putchar('}');
}

static void
line_end(void)
{
	fputs("}\n", stdout);
	fflush(stdout);
}

/*
 * Prints any ServerMessage: one line per session or agent for the lists,
 * one line for everything else.  Returns 1 for an ErrorResponse, else 0.
 */
static int
print_message(const Opencode__ServerMessage *m)
{
	size_t i;
	int f = 1;

	switch (m->payload_case) {
	case OPENCODE__SERVER_MESSAGE__PAYLOAD__NOT_SET:
		fputs("{\"ok\":true", stdout);
		break;
	case OPENCODE__SERVER_MESSAGE__PAYLOAD_ERROR:
		fputs("{\"error\":{", stdout);
		kv_str(&f, "code", m->error->code);
		kv_str(&f, "message", m->error->message);
		putchar('}');
		line_end();
		return 1;
	case OPENCODE__SERVER_MESSAGE__PAYLOAD_SESSION_LIST:
		for (i = 0; i < m->session_list->n_sessions; i++) {
			fputs("{\"session\":", stdout);
			session_obj(m->session_list->sessions[i]);
			line_end();
		}
		return 0;
	case OPENCODE__SERVER_MESSAGE__PAYLOAD_SESSION_INFO:
		fputs("{\"session\":", stdout);
		session_obj(m->session_info);
		break;
	case OPENCODE__SERVER_MESSAGE__PAYLOAD_AGENT_LIST:
		for (i = 0; i < m->agent_list->n_agents; i++) {
			const Opencode__AgentInfo *a = m->agent_list->agents[i];

			f = 1;
			fputs("{\"agent\":{", stdout);
			kv_str(&f, "name", a->name);
			if (a->_description_case ==
			    OPENCODE__AGENT_INFO___DESCRIPTION_DESCRIPTION)
				kv_str(&f, "description", a->description);
			if (a->_mode_case == OPENCODE__AGENT_INFO___MODE_MODE)
				kv_str(&f, "mode", a->mode);
			kv_bool(&f, "built_in", a->built_in);
			if (a->_color_case ==
			    OPENCODE__AGENT_INFO___COLOR_COLOR)
				kv_str(&f, "color", a->color);
			putchar('}');
			line_end();
		}
		return 0;
	case OPENCODE__SERVER_MESSAGE__PAYLOAD_PROVIDER_STATUS:
		fputs("{\"provider_status\":{", stdout);
		kv_strs(&f, "connected", m->provider_status->connected,
		    m->provider_status->n_connected);
		putchar('}');
		break;
	case OPENCODE__SERVER_MESSAGE__PAYLOAD_AUTH_STATUS:
		fputs("{\"auth_status\":{", stdout);
		kv_str(&f, "provider_id", m->auth_status->provider_id);
		kv_bool(&f, "connected", m->auth_status->connected);
		putchar('}');
		break;
	case OPENCODE__SERVER_MESSAGE__PAYLOAD_UPSTREAM_HEALTH:
		fputs("{\"upstream_health\":{", stdout);
		kv_bool(&f, "healthy", m->upstream_health->healthy);
		kv_str(&f, "version", m->upstream_health->version);
		putchar('}');
		break;
	case OPENCODE__SERVER_MESSAGE__PAYLOAD_TOKEN:
		fputs("{\"token\":{", stdout);
		kv_str(&f, "session_id", m->token->session_id);
		kv_str(&f, "message_id", m->token->message_id);
		kv_str(&f, "part_id", m->token->part_id);
		kv_str(&f, "delta", m->token->delta);
		putchar('}');
		break;
	case OPENCODE__SERVER_MESSAGE__PAYLOAD_COMPLETED:
		fputs("{\"completed\":{", stdout);
		kv_str(&f, "session_id", m->completed->session_id);
		kv_str(&f, "message_id", m->completed->message_id);
		kv_str(&f, "finish", m->completed->finish);
		kv_int(&f, "input_tokens", m->completed->input_tokens);
		kv_int(&f, "output_tokens", m->completed->output_tokens);
		kv_str(&f, "error", m->completed->error);
		putchar('}');
		break;
	case OPENCODE__SERVER_MESSAGE__PAYLOAD_TOOL_CALL:
		fputs("{\"tool_call\":{", stdout);
		kv_str(&f, "session_id", m->tool_call->session_id);
		kv_str(&f, "message_id", m->tool_call->message_id);
		kv_str(&f, "part_id", m->tool_call->part_id);
		kv_str(&f, "call_id", m->tool_call->call_id);
		kv_str(&f, "tool", m->tool_call->tool);
		kv_str(&f, "status", m->tool_call->status);
		kv_str(&f, "title", m->tool_call->title);
		/* A string, not raw JSON: nothing here parses or trusts it. */
		kv_str(&f, "input_json", m->tool_call->input_json);
		kv_str(&f, "output", m->tool_call->output);
		kv_str(&f, "error", m->tool_call->error);
		putchar('}');
		break;
	case OPENCODE__SERVER_MESSAGE__PAYLOAD_PERMISSION_REQUEST:
		fputs("{\"permission\":{", stdout);
		kv_str(&f, "session_id", m->permission_request->session_id);
		kv_str(&f, "permission_id",
		    m->permission_request->permission_id);
		kv_str(&f, "permission", m->permission_request->permission);
		kv_strs(&f, "patterns", m->permission_request->patterns,
		    m->permission_request->n_patterns);
		kv_str(&f, "message_id", m->permission_request->message_id);
		kv_str(&f, "call_id", m->permission_request->call_id);
		kv_str(&f, "metadata_json",
		    m->permission_request->metadata_json);
		putchar('}');
		break;
	case OPENCODE__SERVER_MESSAGE__PAYLOAD_SESSION_EVENT:
		fputs("{\"session_event\":{", stdout);
		kv_str(&f, "session_id", m->session_event->session_id);
		kv_str(&f, "kind", m->session_event->kind);
		if (m->session_event->info != NULL) {
			fputs(",\"info\":", stdout);
			session_obj(m->session_event->info);
		}
		kv_str(&f, "status", m->session_event->status);
		kv_str(&f, "error_name", m->session_event->error_name);
		kv_str(&f, "error_message", m->session_event->error_message);
		kv_int(&f, "attempt", m->session_event->attempt);
		putchar('}');
		break;
	case OPENCODE__SERVER_MESSAGE__PAYLOAD_UPSTREAM_STATUS:
		fputs("{\"upstream_status\":{", stdout);
		kv_bool(&f, "connected", m->upstream_status->connected);
		kv_str(&f, "version", m->upstream_status->version);
		putchar('}');
		break;
	default:
		/* A payload this version does not know. */
		fputs("{\"unknown\":{", stdout);
		kv_int(&f, "request_id", (int64_t)m->request_id);
		kv_int(&f, "payload", (int64_t)m->payload_case);
		putchar('}');
		break;
	}
	line_end();
	return 0;
}

/* ---- arguments ---- */

static long
number(const char *s, long min, long max, const char *what)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (*s == '\0' || *end != '\0' || errno != 0 || v < min || v > max) {
		warnx_("bad %s: %s", what, s);
		usage();
	}
	return v;
}

/* The first line of the file; 0 or -1 (with a message). */
static int
read_token(const char *path, char *tok, size_t toksz)
{
	char buf[TOKEN_MAX + 2];
	size_t got = 0, n;
	ssize_t r;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY)) == -1) {
		warnx_("%s: %s", path, strerror(errno));
		return -1;
	}
	while (got < sizeof(buf) - 1) {
		r = read(fd, buf + got, sizeof(buf) - 1 - got);
		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1) {
			warnx_("%s: %s", path, strerror(errno));
			close(fd);
			explicit_bzero(buf, sizeof(buf));
			return -1;
		}
		if (r == 0)
			break;
		got += (size_t)r;
		if (memchr(buf, '\n', got) != NULL)
			break;
	}
	close(fd);
	buf[got] = '\0';
	n = strcspn(buf, "\r\n");
	if (n == 0 || n >= toksz || memchr(buf, '\0', n) != NULL) {
		warnx_("%s: %s", path, n == 0 ? "no token on the first line" :
		    "token too long");
		explicit_bzero(buf, sizeof(buf));
		return -1;
	}
	memcpy(tok, buf, n);
	tok[n] = '\0';
	explicit_bzero(buf, sizeof(buf));
	return 0;
}

/* ---- commands ---- */

struct cmd {
	const char	*name;
	int		 min_args;
	int		 max_args;	/* -1: any */
};

static const struct cmd cmds[] = {
	{ "sessions",		0, 0 },
	{ "agents",		0, 0 },
	{ "providers",		0, 0 },
	{ "health",		0, 0 },
	{ "create",		0, 1 },
	{ "delete",		1, 1 },
	{ "send",		2, 2 },
	{ "cancel",		1, 1 },
	{ "auth-status",	1, 1 },
	{ "reply-permission",	3, 3 },
	{ "watch",		0, -1 },
};

static void
on_signal(int sig)
{
	(void)sig;
	got_signal = 1;
}

static void
on_event(struct ocb_client *c, const Opencode__ServerMessage *m, void *arg)
{
	(void)c;
	(void)arg;
	(void)print_message(m);
}

/*
 * Events until a signal or the end of the connection.  The signals are
 * blocked except inside ppoll(2), so one that arrives between two waits is
 * not lost.
 */
static int
watch(struct ocb_client *c, char **sessions, int nsessions, int timeout_ms)
{
	Opencode__ClientMessage cm = OPENCODE__CLIENT_MESSAGE__INIT;
	Opencode__Subscribe sub = OPENCODE__SUBSCRIBE__INIT;
	Opencode__ServerMessage *reply;
	struct sigaction sa;
	struct pollfd pfd;
	sigset_t block, orig;
	int code, r;

	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	sigprocmask(SIG_BLOCK, &block, &orig);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);

	ocb_client_set_event_cb(c, on_event, NULL);
	if (nsessions > 0) {
		sub.n_session_ids = (size_t)nsessions;
		sub.session_ids = sessions;
		cm.payload_case = OPENCODE__CLIENT_MESSAGE__PAYLOAD_SUBSCRIBE;
		cm.subscribe = &sub;
		if (ocb_client_call(c, &cm, timeout_ms, &reply) == -1) {
			warnx_("subscribe: %s", ocb_client_error(c));
			return EXIT_CONNECT;
		}
		if (reply->payload_case ==
		    OPENCODE__SERVER_MESSAGE__PAYLOAD_ERROR) {
			(void)print_message(reply);
			ocb_message_free(reply);
			(void)ocb_client_close(c, CLOSE_TIMEOUT_MS);
			return EXIT_REPLY_ERROR;
		}
		ocb_message_free(reply);
	}

	while (!got_signal) {
		pfd.fd = ocb_client_fd(c);
		pfd.events = POLLIN | (ocb_client_want_write(c) ? POLLOUT : 0);
		r = ppoll(&pfd, 1, NULL, &orig);
		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1) {
			warnx_("poll: %s", strerror(errno));
			return EXIT_CONNECT;
		}
		if (ocb_client_process(c, 0) == -1) {
			code = ocb_client_close_code(c);
			warnx_("%s", ocb_client_error(c));
			(void)ocb_client_close(c, CLOSE_TIMEOUT_MS);
			/* The broker going away ends a watch cleanly. */
			return code == 1000 || code == 1001 ? 0 : EXIT_CONNECT;
		}
	}
	(void)ocb_client_close(c, CLOSE_TIMEOUT_MS);
	return 0;
}

int
main(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "port",	required_argument,	NULL, 'p' },
		{ "token-file",	required_argument,	NULL, 't' },
		{ "timeout",	required_argument,	NULL, 'T' },
		{ "agent",	required_argument,	NULL, 'a' },
		{ "model",	required_argument,	NULL, 'm' },
		{ "help",	no_argument,		NULL, 'h' },
		{ NULL,		0,			NULL, 0 }
	};
	Opencode__ClientMessage cm = OPENCODE__CLIENT_MESSAGE__INIT;
	Opencode__CreateSessionRequest create =
	    OPENCODE__CREATE_SESSION_REQUEST__INIT;
	Opencode__DeleteSessionRequest del =
	    OPENCODE__DELETE_SESSION_REQUEST__INIT;
	Opencode__ListSessionsRequest ls =
	    OPENCODE__LIST_SESSIONS_REQUEST__INIT;
	Opencode__ListAgentsRequest la = OPENCODE__LIST_AGENTS_REQUEST__INIT;
	Opencode__GetProviderStatusRequest gp =
	    OPENCODE__GET_PROVIDER_STATUS_REQUEST__INIT;
	Opencode__HealthCheck hc = OPENCODE__HEALTH_CHECK__INIT;
	Opencode__SendMessage sm = OPENCODE__SEND_MESSAGE__INIT;
	Opencode__CancelRequest cr = OPENCODE__CANCEL_REQUEST__INIT;
	Opencode__GetAuthRequest ga = OPENCODE__GET_AUTH_REQUEST__INIT;
	Opencode__ReplyPermission rp = OPENCODE__REPLY_PERMISSION__INIT;
	Opencode__ServerMessage *reply;
	struct ocb_client *c;
	const struct cmd *cmd = NULL;
	const char *token_file = NULL, *agent = NULL, *cname;
	char *model = NULL, *slash, token[TOKEN_MAX + 1];
	long port = 0, timeout = DEFAULT_TIMEOUT_MS;
	int ch, nargs, ret;
	size_t i;
	char **args;

	/* Options may come anywhere; "--" ends them (TEXT starting with -). */
	while ((ch = getopt_long(argc, argv, "p:t:T:h", longopts,
	    NULL)) != -1) {
		switch (ch) {
		case 'p':
			port = number(optarg, 1, 65535, "port");
			break;
		case 't':
			token_file = optarg;
			break;
		case 'T':
			timeout = number(optarg, 1, INT_MAX, "timeout");
			break;
		case 'a':
			agent = optarg;
			break;
		case 'm':
			model = optarg;
			break;
		default:
			usage();
		}
	}
	if (optind >= argc || port == 0 || token_file == NULL)
		usage();
	cname = argv[optind];
	args = argv + optind + 1;
	nargs = argc - optind - 1;
	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (strcmp(cname, cmds[i].name) == 0)
			cmd = &cmds[i];
	if (cmd == NULL || nargs < cmd->min_args ||
	    (cmd->max_args >= 0 && nargs > cmd->max_args))
		usage();
	if ((agent != NULL || model != NULL) && strcmp(cname, "send") != 0)
		usage();
	if (model != NULL && ((slash = strchr(model, '/')) == NULL ||
	    slash == model || slash[1] == '\0')) {
		warnx_("--model wants PROVIDER/MODEL");
		usage();
	}

	if (read_token(token_file, token, sizeof(token)) == -1)
		return EXIT_USAGE;
	if ((c = ocb_client_new()) == NULL) {
		explicit_bzero(token, sizeof(token));
		warnx_("out of memory");
		return EXIT_CONNECT;
	}
	ret = ocb_client_connect(c, (uint16_t)port, token, (int)timeout);
	explicit_bzero(token, sizeof(token));
	if (ret == -1) {
		warnx_("%s", ocb_client_error(c));
		ocb_client_free(c);
		return EXIT_CONNECT;
	}

	if (strcmp(cname, "watch") == 0) {
		ret = watch(c, args, nargs, (int)timeout);
		ocb_client_free(c);
		return ret;
	}

	if (strcmp(cname, "sessions") == 0) {
		cm.payload_case =
		    OPENCODE__CLIENT_MESSAGE__PAYLOAD_LIST_SESSIONS;
		cm.list_sessions = &ls;
	} else if (strcmp(cname, "agents") == 0) {
		cm.payload_case = OPENCODE__CLIENT_MESSAGE__PAYLOAD_LIST_AGENTS;
		cm.list_agents = &la;
	} else if (strcmp(cname, "providers") == 0) {
		cm.payload_case =
		    OPENCODE__CLIENT_MESSAGE__PAYLOAD_GET_PROVIDER_STATUS;
		cm.get_provider_status = &gp;
	} else if (strcmp(cname, "health") == 0) {
		cm.payload_case =
		    OPENCODE__CLIENT_MESSAGE__PAYLOAD_HEALTH_CHECK;
		cm.health_check = &hc;
	} else if (strcmp(cname, "create") == 0) {
		if (nargs == 1) {
			create._title_case =
			    OPENCODE__CREATE_SESSION_REQUEST___TITLE_TITLE;
			create.title = args[0];
		}
		cm.payload_case =
		    OPENCODE__CLIENT_MESSAGE__PAYLOAD_CREATE_SESSION;
		cm.create_session = &create;
	} else if (strcmp(cname, "delete") == 0) {
		del.session_id = args[0];
		cm.payload_case =
		    OPENCODE__CLIENT_MESSAGE__PAYLOAD_DELETE_SESSION;
		cm.delete_session = &del;
	} else if (strcmp(cname, "send") == 0) {
		sm.session_id = args[0];
		sm.text = args[1];
		if (agent != NULL) {
			sm._agent_case = OPENCODE__SEND_MESSAGE___AGENT_AGENT;
			sm.agent = (char *)(uintptr_t)agent;
		}
		if (model != NULL) {
			slash = strchr(model, '/');
			*slash = '\0';
			sm._provider_id_case =
			    OPENCODE__SEND_MESSAGE___PROVIDER_ID_PROVIDER_ID;
			sm.provider_id = model;
			sm._model_id_case =
			    OPENCODE__SEND_MESSAGE___MODEL_ID_MODEL_ID;
			sm.model_id = slash + 1;
		}
		cm.payload_case =
		    OPENCODE__CLIENT_MESSAGE__PAYLOAD_SEND_MESSAGE;
		cm.send_message = &sm;
	} else if (strcmp(cname, "cancel") == 0) {
		cr.session_id = args[0];
		cm.payload_case =
		    OPENCODE__CLIENT_MESSAGE__PAYLOAD_CANCEL_REQUEST;
		cm.cancel_request = &cr;
	} else if (strcmp(cname, "auth-status") == 0) {
		ga.provider_id = args[0];
		cm.payload_case = OPENCODE__CLIENT_MESSAGE__PAYLOAD_GET_AUTH;
		cm.get_auth = &ga;
	} else {	/* reply-permission */
		rp.session_id = args[0];
		rp.permission_id = args[1];
		rp.reply = args[2];
		cm.payload_case =
		    OPENCODE__CLIENT_MESSAGE__PAYLOAD_REPLY_PERMISSION;
		cm.reply_permission = &rp;
	}

	if (ocb_client_call(c, &cm, (int)timeout, &reply) == -1) {
		warnx_("%s: %s", cname, ocb_client_error(c));
		ocb_client_free(c);
		return EXIT_CONNECT;
	}
	ret = print_message(reply) ? EXIT_REPLY_ERROR : 0;
	ocb_message_free(reply);
	(void)ocb_client_close(c, CLOSE_TIMEOUT_MS);
	ocb_client_free(c);
	if (fflush(stdout) == EOF || ferror(stdout)) {
		warnx_("stdout: %s", strerror(errno));
		return EXIT_CONNECT;
	}
	return ret;
}
