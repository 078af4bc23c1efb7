/*
 * Copyright (c) 2026 The ocbroker authors
 * SPDX-License-Identifier: ISC (the licence is in the file LICENSE)
 */

/*
 * ocbctl: a command-line client for ocbroker, on libocbclient.  Every reply
 * and event is printed as one JSON object per line on stdout (ocbctl_json.c);
 * diagnostics go to stderr.  `send` alone prints the answer as plain text
 * unless --json.  The token is read from a file (its first line), never from
 * the command line, where every user could read it in ps(1).
 *
 * Exit status: 0 ok, 1 the server answered with an ErrorResponse, 2 usage
 * (bad arguments, unreadable token file), 3 connection or auth failure (or
 * no reply in time), 4 the answer `send` waited for ended in an error,
 * 130 a signal ended the wait of `send`.
 */
#include "config.h"

#include <sys/stat.h>
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
#include <strings.h>
#include <unistd.h>

#include "client/ocbclient.h"
#include "client/ocbctl_json.h"
#include "common/utf8.h"

#define EXIT_REPLY_ERROR	1
#define EXIT_USAGE		2
#define EXIT_CONNECT		3
#define EXIT_ANSWER_ERROR	4
#define EXIT_INTERRUPTED	130

#define DEFAULT_TIMEOUT_MS	35000	/* above the broker's 30 s limit */
#define RUN_TIMEOUT_MS		660000	/* above RunCommand's 10 minutes */
#define CLOSE_TIMEOUT_MS	2000
#define TOKEN_MAX		1024
#define FILES_MAX		32	/* the broker's limit on attachments */
#define SNIFF_LEN		4096	/* read to tell text from binary */
#define LIMIT_MAX		1000	/* ListMessages.limit */

#define USAGE_HEAD	"usage: ocbctl --port P --token-file F [--timeout MS] "

static volatile sig_atomic_t got_signal;

static const char usage_text[] =
    USAGE_HEAD "COMMAND [ARG...]\n"
    "commands:\n"
    "  sessions | agents | providers | health | status | pending | commands\n"
    "  models [--all]\n"
    "  create [TITLE] | delete SESSION | session SESSION\n"
    "  rename SESSION TITLE | fork SESSION [MSG]\n"
    "  history [--limit N] [--before MSG] SESSION\n"
    "  send [--agent NAME] [--model PROVIDER/MODEL] [--file PATH]...\n"
    "       [--json] [--reasoning] [--no-wait] SESSION TEXT\n"
    "  cancel SESSION | auth-status PROVIDER\n"
    "  reply-permission SESSION PERMISSION once|always|reject\n"
    "  answer QUESTION LABELS... | reject-question QUESTION\n"
    "  todos SESSION | diff SESSION [MSG]\n"
    "  revert SESSION MSG [PART] | unrevert SESSION\n"
    "  summarize SESSION PROVIDER/MODEL\n"
    "  run-command [--agent NAME] [--model PROVIDER/MODEL] SESSION NAME "
    "[ARG...]\n"
    "  watch [SESSION...]\n";

static const char help_text[] =
    "\n"
    "Every reply and event is one JSON object per line on stdout; see\n"
    "client/README.md for the shapes.  Options may appear anywhere; \"--\"\n"
    "ends them.\n"
    "\n"
    "options:\n"
    "  --port P          the broker's port on 127.0.0.1\n"
    "  --token-file F    the token is the first line of F\n"
    "  --timeout MS      for connecting and for each reply (default 35000;\n"
    "                    run-command: 660000)\n"
    "  --agent NAME      send, run-command: the agent\n"
    "  --model P/M       send, run-command: the provider and model\n"
    "  --file PATH       send: attach a file (repeatable, at most 32)\n"
    "  --json            send: print every event as a JSON line instead of\n"
    "                    the answer's text\n"
    "  --reasoning       send: print reasoning tokens to stderr\n"
    "  --no-wait         send: print {\"ok\":true} once accepted, do not wait\n"
    "  --limit N         history: at most N messages (1-1000, default 100)\n"
    "  --before MSG      history: only messages older than MSG\n"
    "  --all             models: every provider, not only connected ones\n"
    "  --help            this text\n"
    "\n"
    "send waits until the answer is complete and the session idle, printing\n"
    "the text as it streams; permission requests and questions are shown on\n"
    "stderr.  answer takes one argument per question, its labels separated\n"
    "by commas (\\, is a comma in a label, \\\\ a backslash):\n"
    "  ocbctl ... answer que_1 Yes \"A,B\"\n"
    "\n"
    "exit status: 0 ok, 1 error reply, 2 usage, 3 connection or timeout,\n"
    "4 send: the answer ended in an error, 130 send: interrupted\n";

/* The one usage line; --help has the rest. */
static void __attribute__((noreturn))
usage(void)
{
	fputs(USAGE_HEAD "COMMAND [ARG...]\n"
	    "       ocbctl --help lists every command and option\n", stderr);
	exit(EXIT_USAGE);
}

static void __attribute__((format(printf, 1, 0)))
vwarnx_(const char *fmt, va_list ap)
{
	fputs("ocbctl: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

static void __attribute__((format(printf, 1, 2)))
warnx_(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vwarnx_(fmt, ap);
	va_end(ap);
}

static void __attribute__((noreturn, format(printf, 1, 2)))
usage_err(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vwarnx_(fmt, ap);
	va_end(ap);
	usage();
}

/*
 * Server text for a terminal: control characters (but tab and newline)
 * become '?', so an answer cannot drive the terminal.  --json has the bytes.
 */
static void
term_puts(FILE *f, const char *s)
{
	const unsigned char *p;

	for (p = (const unsigned char *)(s != NULL ? s : ""); *p != '\0'; p++)
		putc((*p < 0x20 && *p != '\t' && *p != '\n') || *p == 0x7f ?
		    '?' : *p, f);
}

/* ---- arguments ---- */

static long
number(const char *s, long min, long max, const char *what)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (*s == '\0' || *end != '\0' || errno != 0 || v < min || v > max)
		usage_err("bad %s: %s", what, s);
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

/* PROVIDER/MODEL split in place; exits with usage when malformed. */
static void
split_model(char *s, char **provider, char **model)
{
	char *slash;

	if ((slash = strchr(s, '/')) == NULL || slash == s ||
	    slash[1] == '\0')
		usage_err("want PROVIDER/MODEL: %s", s);
	*slash = '\0';
	*provider = s;
	*model = slash + 1;
}

/*
 * One question's answer: labels separated by ',', where "\," is a comma and
 * "\\" a backslash.  labels_check() counts them, and exits with usage on
 * an empty label or another escape; parse_labels() fills qa with labels
 * that point into one copy of arg, kept in *store.
 */
static size_t
labels_check(const char *arg)
{
	const char *p;
	size_t n = 1, len = 0;

	for (p = arg;; p++) {
		if (*p == '\\') {
			if (p[1] != ',' && p[1] != '\\')
				usage_err("bad label list \"%s\": \\ must be "
				    "followed by , or \\", arg);
			p++;
			len++;
		} else if (*p == ',' || *p == '\0') {
			if (len == 0)
				usage_err("bad label list \"%s\": empty label",
				    arg);
			if (*p == '\0')
				break;
			n++;
			len = 0;
		} else
			len++;
	}
	return n;
}

static void
parse_labels(const char *arg, Opencode__QuestionAnswer *qa, char **store)
{
	char *out, **labels;
	const char *p;
	size_t n = labels_check(arg), i = 0;

	if ((*store = out = malloc(strlen(arg) + 1)) == NULL ||
	    (labels = calloc(n, sizeof(*labels))) == NULL) {
		warnx_("out of memory");
		exit(EXIT_CONNECT);
	}
	labels[i++] = out;
	for (p = arg; *p != '\0'; p++) {
		if (*p == '\\')
			*out++ = *++p;
		else if (*p == ',') {
			*out++ = '\0';
			labels[i++] = out;
		} else
			*out++ = *p;
	}
	*out = '\0';
	qa->labels = labels;
	qa->n_labels = n;
}

/* ---- file attachments ---- */

static const struct {
	const char	*ext;
	const char	*mime;
} mimes[] = {
	{ "txt", "text/plain" },	{ "md", "text/markdown" },
	{ "c", "text/x-c" },		{ "h", "text/x-c" },
	{ "cc", "text/x-c++" },		{ "cpp", "text/x-c++" },
	{ "py", "text/x-python" },	{ "sh", "text/x-shellscript" },
	{ "go", "text/x-go" },		{ "rs", "text/x-rust" },
	{ "js", "text/javascript" },	{ "ts", "text/x-typescript" },
	{ "html", "text/html" },	{ "htm", "text/html" },
	{ "css", "text/css" },		{ "csv", "text/csv" },
	{ "json", "application/json" },	{ "xml", "application/xml" },
	{ "yaml", "application/yaml" },	{ "yml", "application/yaml" },
	{ "toml", "application/toml" },	{ "pdf", "application/pdf" },
	{ "png", "image/png" },		{ "jpg", "image/jpeg" },
	{ "jpeg", "image/jpeg" },	{ "gif", "image/gif" },
	{ "webp", "image/webp" },	{ "svg", "image/svg+xml" },
};

/*
 * The extension's type; else text/plain when the first SNIFF_LEN bytes are
 * UTF-8 without NUL (a cut character at the end is allowed), else
 * application/octet-stream.
 */
static const char *
guess_mime(const char *path, int fd)
{
	uint8_t buf[SNIFF_LEN];
	const char *base, *dot;
	size_t i, len = 0, cut;
	ssize_t r;

	base = strrchr(path, '/') != NULL ? strrchr(path, '/') + 1 : path;
	if ((dot = strrchr(base, '.')) != NULL && dot != base)
		for (i = 0; i < sizeof(mimes) / sizeof(mimes[0]); i++)
			if (strcasecmp(dot + 1, mimes[i].ext) == 0)
				return mimes[i].mime;
	while (len < sizeof(buf)) {
		r = read(fd, buf + len, sizeof(buf) - len);
		if (r == -1 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		len += (size_t)r;
	}
	if (memchr(buf, '\0', len) != NULL)
		return "application/octet-stream";
	for (cut = 0; cut < 4 && cut < len; cut++)
		if (utf8_valid(buf, len - cut))
			return "text/plain";
	return len == 0 ? "text/plain" : "application/octet-stream";
}

/*
 * A file:// URL of an absolute path, percent-encoding what a URL path may
 * not hold (as Node's pathToFileURL, which the server's fileURLToPath
 * reverses).
 */
static char *
file_url(const char *path)
{
	static const char hex[] = "0123456789ABCDEF";
	const unsigned char *p;
	char *url, *o;

	if ((url = malloc(sizeof("file://") + 3 * strlen(path))) == NULL)
		return NULL;
	memcpy(url, "file://", sizeof("file://") - 1);
	o = url + sizeof("file://") - 1;
	for (p = (const unsigned char *)path; *p != '\0'; p++) {
		if (*p <= 0x20 || *p >= 0x7f || strchr("\"#%<>?\\^`{|}",
		    *p) != NULL) {
			*o++ = '%';
			*o++ = hex[*p >> 4];
			*o++ = hex[*p & 0xf];
		} else
			*o++ = (char)*p;
	}
	*o = '\0';
	return url;
}

/*
 * Opens PATH's real path (in real); exits with usage when it is not a
 * readable regular file.
 */
static int
attach_open(const char *path, char real[PATH_MAX])
{
	struct stat st;
	int fd;

	if (realpath(path, real) == NULL)
		usage_err("--file %s: %s", path, strerror(errno));
	/* O_NONBLOCK: a FIFO must not hang us before fstat refuses it. */
	if ((fd = open(real, O_RDONLY | O_CLOEXEC | O_NOCTTY |
	    O_NONBLOCK)) == -1)
		usage_err("--file %s: %s", path, strerror(errno));
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode))
		usage_err("--file %s: not a regular file", path);
	return fd;
}

/* PATH as an attachment. */
static void
attach(const char *path, Opencode__FileAttachment *fa, char **url_store)
{
	char real[PATH_MAX];
	const char *base;
	int fd;

	fd = attach_open(path, real);
	fa->mime = (char *)(uintptr_t)guess_mime(real, fd);
	close(fd);
	base = strrchr(real, '/') + 1;
	if ((fa->filename = strdup(base)) == NULL ||
	    (*url_store = fa->url = file_url(real)) == NULL) {
		warnx_("out of memory");
		exit(EXIT_CONNECT);
	}
}

/* ---- commands ---- */

enum {
	O_AGENT		= 1 << 0,
	O_MODEL		= 1 << 1,
	O_FILE		= 1 << 2,
	O_JSON		= 1 << 3,
	O_REASONING	= 1 << 4,
	O_NO_WAIT	= 1 << 5,
	O_LIMIT		= 1 << 6,
	O_BEFORE	= 1 << 7,
	O_ALL		= 1 << 8
};

struct opts {
	int		 set;		/* the O_* given */
	const char	*agent;
	char		*model;
	const char	*files[FILES_MAX];
	size_t		 nfiles;
	long		 limit;
	const char	*before;
};

/* Storage for any request: it must live until it is packed. */
struct req {
	Opencode__ClientMessage		cm;
	/* Room for any request in cmds[]; base is their common head. */
	union {
		ProtobufCMessage			base;
		Opencode__ListSessionsRequest		ls;
		Opencode__ListAgentsRequest		la;
		Opencode__GetProviderStatusRequest	gp;
		Opencode__HealthCheck			hc;
		Opencode__ListSessionStatus		lss;
		Opencode__ListPending			lp;
		Opencode__ListCommands			lc;
		Opencode__ListProviders			lpr;
		Opencode__CreateSessionRequest		create;
		Opencode__DeleteSessionRequest		del;
		Opencode__GetSession			gs;
		Opencode__UpdateSession			us;
		Opencode__ForkSession			fs;
		Opencode__ListMessages			lm;
		Opencode__SendMessage			sm;
		Opencode__CancelRequest			cr;
		Opencode__GetAuthRequest		ga;
		Opencode__ReplyPermission		rp;
		Opencode__ReplyQuestion			rq;
		Opencode__RejectQuestion		rj;
		Opencode__GetTodos			gt;
		Opencode__GetDiff			gd;
		Opencode__RevertSession			rv;
		Opencode__UnrevertSession		ur;
		Opencode__SummarizeSession		ss;
		Opencode__RunCommand			rc;
	} u;
	/* What the request points into, freed by req_free(). */
	Opencode__FileAttachment	 files[FILES_MAX];
	Opencode__FileAttachment	*filep[FILES_MAX];
	char				*urls[FILES_MAX];
	Opencode__QuestionAnswer	*answers;
	Opencode__QuestionAnswer	**answerp;
	char				**label_store;
	size_t				 nanswers;
	char				*joined;
};

static void
req_free(struct req *r)
{
	size_t i;

	for (i = 0; i < FILES_MAX; i++) {
		free(r->files[i].filename);
		free(r->urls[i]);
	}
	for (i = 0; i < r->nanswers; i++) {
		free(r->answers[i].labels);
		free(r->label_store[i]);
	}
	free(r->answers);
	free(r->answerp);
	free(r->label_store);
	free(r->joined);
}

/* --agent and --model into r->u.field, a SendMessage or a RunCommand. */
#define AGENT_MODEL(field, T, o) do {					\
	if ((o)->agent != NULL) {					\
		r->u.field._agent_case = OPENCODE__##T##___AGENT_AGENT;	\
		r->u.field.agent = (char *)(uintptr_t)(o)->agent;	\
	}								\
	if ((o)->model != NULL) {					\
		split_model((o)->model, &r->u.field.provider_id,	\
		    &r->u.field.model_id);				\
		r->u.field._provider_id_case =				\
		    OPENCODE__##T##___PROVIDER_ID_PROVIDER_ID;		\
		r->u.field._model_id_case =				\
		    OPENCODE__##T##___MODEL_ID_MODEL_ID;		\
	}								\
} while (0)

/*
 * What a command adds to its request beyond the string arguments cmds[]
 * names; nargs is at least the command's min_args.
 */
static void
fill_models(struct req *r, char **args, int nargs, const struct opts *o)
{
	r->u.lpr.include_all = (o->set & O_ALL) != 0;
}

static void
fill_history(struct req *r, char **args, int nargs, const struct opts *o)
{
	if (o->set & O_LIMIT) {
		r->u.lm._limit_case = OPENCODE__LIST_MESSAGES___LIMIT_LIMIT;
		r->u.lm.limit = (uint32_t)o->limit;
	}
	if (o->set & O_BEFORE) {
		r->u.lm._before_case = OPENCODE__LIST_MESSAGES___BEFORE_BEFORE;
		r->u.lm.before = (char *)(uintptr_t)o->before;
	}
}

static void
fill_send(struct req *r, char **args, int nargs, const struct opts *o)
{
	static const Opencode__FileAttachment fa =
	    OPENCODE__FILE_ATTACHMENT__INIT;
	char real[PATH_MAX];
	size_t i;

	AGENT_MODEL(sm, SEND_MESSAGE, o);
	/* Every file is checked before anything is allocated. */
	for (i = 0; i < o->nfiles; i++)
		close(attach_open(o->files[i], real));
	for (i = 0; i < o->nfiles; i++) {
		r->files[i] = fa;
		attach(o->files[i], &r->files[i], &r->urls[i]);
		r->filep[i] = &r->files[i];
	}
	r->u.sm.n_files = o->nfiles;
	r->u.sm.files = o->nfiles > 0 ? r->filep : NULL;
}

static void
fill_answer(struct req *r, char **args, int nargs, const struct opts *o)
{
	static const Opencode__QuestionAnswer qa =
	    OPENCODE__QUESTION_ANSWER__INIT;
	size_t i, n = (size_t)nargs - 1;

	/* Every argument is checked before anything is allocated. */
	for (i = 0; i < n; i++)
		(void)labels_check(args[i + 1]);
	if ((r->answers = calloc(n, sizeof(*r->answers))) == NULL ||
	    (r->answerp = calloc(n, sizeof(*r->answerp))) == NULL ||
	    (r->label_store = calloc(n, sizeof(*r->label_store))) == NULL) {
		warnx_("out of memory");
		exit(EXIT_CONNECT);
	}
	for (i = 0; i < n; i++) {
		r->answers[i] = qa;
		r->nanswers = i + 1;
		parse_labels(args[i + 1], &r->answers[i], &r->label_store[i]);
		r->answerp[i] = &r->answers[i];
	}
	r->u.rq.n_answers = n;
	r->u.rq.answers = r->answerp;
}

static void
fill_summarize(struct req *r, char **args, int nargs, const struct opts *o)
{
	split_model(args[1], &r->u.ss.provider_id, &r->u.ss.model_id);
}

static void
fill_run(struct req *r, char **args, int nargs, const struct opts *o)
{
	size_t len = 1, off = 0, n;
	int i;

	/* The arguments travel as one string, as typed after /NAME. */
	for (i = 2; i < nargs; i++)
		len += strlen(args[i]) + 1;
	if ((r->joined = calloc(1, len)) == NULL) {
		warnx_("out of memory");
		exit(EXIT_CONNECT);
	}
	for (i = 2; i < nargs; i++) {
		if (i > 2)
			r->joined[off++] = ' ';
		n = strlen(args[i]);
		memcpy(r->joined + off, args[i], n);
		off += n;
	}
	r->u.rc.arguments = r->joined;
	AGENT_MODEL(rc, RUN_COMMAND, o);
}

#define FIELDS_MAX	3

struct cmd {
	const char	*name;
	int		 min_args;
	int		 max_args;	/* -1: any */
	int		 opts;		/* the O_* it takes */
	const char	*synopsis;	/* its usage line, after the name */
	/* Its request (none for watch) and the ClientMessage case it is in. */
	const ProtobufCMessageDescriptor	*desc;
	Opencode__ClientMessage__PayloadCase	 payload;
	/* The string fields its arguments fill, in order; optional ones last. */
	const char	*fields[FIELDS_MAX];
	void		(*fill)(struct req *, char **, int, const struct opts *);
};

#define REQ(d, p)	&opencode__##d##__descriptor, \
			OPENCODE__CLIENT_MESSAGE__PAYLOAD_##p

static const struct cmd cmds[] = {
	{ "sessions",		0, 0, 0, "",
	    REQ(list_sessions_request, LIST_SESSIONS), { NULL }, NULL },
	{ "agents",		0, 0, 0, "",
	    REQ(list_agents_request, LIST_AGENTS), { NULL }, NULL },
	{ "providers",		0, 0, 0, "",
	    REQ(get_provider_status_request, GET_PROVIDER_STATUS), { NULL },
	    NULL },
	{ "health",		0, 0, 0, "",
	    REQ(health_check, HEALTH_CHECK), { NULL }, NULL },
	{ "status",		0, 0, 0, "",
	    REQ(list_session_status, LIST_SESSION_STATUS), { NULL }, NULL },
	{ "pending",		0, 0, 0, "",
	    REQ(list_pending, LIST_PENDING), { NULL }, NULL },
	{ "commands",		0, 0, 0, "",
	    REQ(list_commands, LIST_COMMANDS), { NULL }, NULL },
	{ "models",		0, 0, O_ALL, "[--all]",
	    REQ(list_providers, LIST_PROVIDERS), { NULL }, fill_models },
	{ "create",		0, 1, 0, "[TITLE]",
	    REQ(create_session_request, CREATE_SESSION), { "title" }, NULL },
	{ "delete",		1, 1, 0, "SESSION",
	    REQ(delete_session_request, DELETE_SESSION), { "session_id" },
	    NULL },
	{ "session",		1, 1, 0, "SESSION",
	    REQ(get_session, GET_SESSION), { "session_id" }, NULL },
	{ "rename",		2, 2, 0, "SESSION TITLE",
	    REQ(update_session, UPDATE_SESSION), { "session_id", "title" },
	    NULL },
	{ "fork",		1, 2, 0, "SESSION [MSG]",
	    REQ(fork_session, FORK_SESSION), { "session_id", "message_id" },
	    NULL },
	{ "history",		1, 1, O_LIMIT | O_BEFORE,
	    "[--limit N] [--before MSG] SESSION",
	    REQ(list_messages, LIST_MESSAGES), { "session_id" },
	    fill_history },
	{ "send",		2, 2, O_AGENT | O_MODEL | O_FILE | O_JSON |
	    O_REASONING | O_NO_WAIT,
	    "[--agent NAME] [--model PROVIDER/MODEL] [--file PATH]... "
	    "[--json] [--reasoning] [--no-wait] SESSION TEXT",
	    REQ(send_message, SEND_MESSAGE), { "session_id", "text" },
	    fill_send },
	{ "cancel",		1, 1, 0, "SESSION",
	    REQ(cancel_request, CANCEL_REQUEST), { "session_id" }, NULL },
	{ "auth-status",	1, 1, 0, "PROVIDER",
	    REQ(get_auth_request, GET_AUTH), { "provider_id" }, NULL },
	{ "reply-permission",	3, 3, 0,
	    "SESSION PERMISSION once|always|reject",
	    REQ(reply_permission, REPLY_PERMISSION),
	    { "session_id", "permission_id", "reply" }, NULL },
	{ "answer",		2, -1, 0, "QUESTION LABEL[,LABEL...]...",
	    REQ(reply_question, REPLY_QUESTION), { "question_id" },
	    fill_answer },
	{ "reject-question",	1, 1, 0, "QUESTION",
	    REQ(reject_question, REJECT_QUESTION), { "question_id" }, NULL },
	{ "todos",		1, 1, 0, "SESSION",
	    REQ(get_todos, GET_TODOS), { "session_id" }, NULL },
	{ "diff",		1, 2, 0, "SESSION [MSG]",
	    REQ(get_diff, GET_DIFF), { "session_id", "message_id" }, NULL },
	{ "revert",		2, 3, 0, "SESSION MSG [PART]",
	    REQ(revert_session, REVERT_SESSION),
	    { "session_id", "message_id", "part_id" }, NULL },
	{ "unrevert",		1, 1, 0, "SESSION",
	    REQ(unrevert_session, UNREVERT_SESSION), { "session_id" }, NULL },
	{ "summarize",		2, 2, 0, "SESSION PROVIDER/MODEL",
	    REQ(summarize_session, SUMMARIZE_SESSION), { "session_id" },
	    fill_summarize },
	{ "run-command",	2, -1, O_AGENT | O_MODEL,
	    "[--agent NAME] [--model PROVIDER/MODEL] SESSION NAME [ARG...]",
	    REQ(run_command, RUN_COMMAND), { "session_id", "command" },
	    fill_run },
	{ "watch",		0, -1, 0, "[SESSION...]",
	    NULL, OPENCODE__CLIENT_MESSAGE__PAYLOAD__NOT_SET, { NULL }, NULL },
};

/* Stores p at offset off of message m (a field protobuf-c describes). */
static void
put(void *m, size_t off, const void *p, size_t len)
{
	memcpy((char *)m + off, p, len);
}

/* Fills r for every command but watch; exits with usage on bad input. */
static void
build(struct req *r, const struct cmd *c, char **args, int nargs,
    const struct opts *o)
{
	static const Opencode__ClientMessage cm =
	    OPENCODE__CLIENT_MESSAGE__INIT;
	const ProtobufCFieldDescriptor *f;
	void *msg = &r->u;
	int i;

	memset(r, 0, sizeof(*r));
	r->cm = cm;
	/* A misspelt name in cmds[] is a bug: no request goes out. */
	if (c->desc->sizeof_message > sizeof(r->u) ||
	    (f = protobuf_c_message_descriptor_get_field(
	    &opencode__client_message__descriptor, c->payload)) == NULL)
		abort();
	protobuf_c_message_init(c->desc, &r->u);
	r->cm.payload_case = c->payload;
	put(&r->cm, f->offset, &msg, sizeof(msg));
	for (i = 0; i < nargs && i < FIELDS_MAX && c->fields[i] != NULL;
	    i++) {
		f = protobuf_c_message_descriptor_get_field_by_name(c->desc,
		    c->fields[i]);
		if (f == NULL || f->type != PROTOBUF_C_TYPE_STRING)
			abort();
		put(&r->u, f->offset, &args[i], sizeof(args[i]));
		/* An optional field is a oneof of one: its case is its id. */
		if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF)
			put(&r->u, f->quantifier_offset, &f->id, sizeof(f->id));
	}
	if (c->fill != NULL)
		c->fill(r, args, nargs, o);
}

/* ---- waiting for events ---- */

static void
on_signal(int sig)
{
	(void)sig;
	got_signal = 1;
}

/* SIGINT and SIGTERM set got_signal; they stay blocked but in ppoll. */
static void
signals_catch(sigset_t *orig)
{
	struct sigaction sa;
	sigset_t block;

	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	sigprocmask(SIG_BLOCK, &block, orig);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
}

enum wait_end { WAIT_DONE, WAIT_SIGNAL, WAIT_CLOSED, WAIT_FAILED };

/*
 * Dispatches events until *done, a signal or the end of the connection.
 * The signals are blocked except inside ppoll(2), so one that arrives
 * between two waits is not lost.
 */
static enum wait_end
wait_events(struct ocb_client *c, const int *done, const sigset_t *orig)
{
	struct pollfd pfd;
	int r;

	while (!*done) {
		if (got_signal)
			return WAIT_SIGNAL;
		pfd.fd = ocb_client_fd(c);
		pfd.events = POLLIN | (ocb_client_want_write(c) ? POLLOUT : 0);
		r = ppoll(&pfd, 1, NULL, orig);
		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1) {
			warnx_("poll: %s", strerror(errno));
			return WAIT_FAILED;
		}
		if (ocb_client_process(c, 0) == -1)
			return *done ? WAIT_DONE : WAIT_CLOSED;
	}
	return WAIT_DONE;
}

/* Sends a Subscribe; 0, or the exit status. */
static int
subscribe(struct ocb_client *c, char **sessions, int nsessions,
    int timeout_ms)
{
	Opencode__ClientMessage cm = OPENCODE__CLIENT_MESSAGE__INIT;
	Opencode__Subscribe sub = OPENCODE__SUBSCRIBE__INIT;
	Opencode__ServerMessage *reply;
	int ret = 0;

	sub.n_session_ids = (size_t)nsessions;
	sub.session_ids = sessions;
	cm.payload_case = OPENCODE__CLIENT_MESSAGE__PAYLOAD_SUBSCRIBE;
	cm.subscribe = &sub;
	if (ocb_client_call(c, &cm, timeout_ms, &reply) == -1) {
		warnx_("subscribe: %s", ocb_client_error(c));
		return EXIT_CONNECT;
	}
	if (reply->payload_case == OPENCODE__SERVER_MESSAGE__PAYLOAD_ERROR) {
		(void)json_message(reply);
		ret = EXIT_REPLY_ERROR;
	}
	ocb_message_free(reply);
	return ret;
}

static void
on_watch_event(struct ocb_client *c, const Opencode__ServerMessage *m,
    void *arg)
{
	(void)c;
	(void)arg;
	(void)json_message(m);
}

/* Events until a signal or the end of the connection. */
static int
watch(struct ocb_client *c, char **sessions, int nsessions, int timeout_ms)
{
	sigset_t orig;
	int code, ret, never = 0;

	signals_catch(&orig);
	ocb_client_set_event_cb(c, on_watch_event, NULL);
	if (nsessions > 0 &&
	    (ret = subscribe(c, sessions, nsessions, timeout_ms)) != 0) {
		if (ret == EXIT_REPLY_ERROR)
			(void)ocb_client_close(c, CLOSE_TIMEOUT_MS);
		return ret;
	}
	switch (wait_events(c, &never, &orig)) {
	case WAIT_CLOSED:
		code = ocb_client_close_code(c);
		warnx_("%s", ocb_client_error(c));
		(void)ocb_client_close(c, CLOSE_TIMEOUT_MS);
		/* The broker going away ends a watch cleanly. */
		return code == 1000 || code == 1001 ? 0 : EXIT_CONNECT;
	case WAIT_FAILED:
		return EXIT_CONNECT;
	default:
		(void)ocb_client_close(c, CLOSE_TIMEOUT_MS);
		return 0;
	}
}

/* ---- send: waiting for the answer ---- */

struct answer {
	const char	*session;
	int		 json;
	int		 reasoning;
	int		 started;	/* a busy (or retry) status came */
	int		 completed;	/* an assistant message completed */
	int		 idle;		/* the session's last status: idle */
	int		 failed;	/* the answer ended in an error */
	int		 done;
	int		 mid_line;	/* text printed without a final \n */
	int		 mid_think;	/* the same for reasoning, on stderr */
};

/* Ends the reasoning's line on stderr before anything else is shown. */
static void
think_end(struct answer *a)
{
	if (a->mid_think) {
		fputc('\n', stderr);
		fflush(stderr);
		a->mid_think = 0;
	}
}

/* Text mode: why the wait goes on (or ended), on stderr. */
static void
tell(struct answer *a, const Opencode__ServerMessage *m)
{
	const Opencode__PermissionRequest *p;
	const Opencode__QuestionRequest *q;
	const Opencode__SessionEvent *se;
	size_t i, j;

	think_end(a);
	if (a->mid_line) {
		/* Keep stderr lines off the answer's line on a terminal. */
		fflush(stdout);
		if (isatty(STDOUT_FILENO) && isatty(STDERR_FILENO))
			fputc('\n', stderr);
	}
	switch (m->payload_case) {
	case OPENCODE__SERVER_MESSAGE__PAYLOAD_PERMISSION_REQUEST:
		p = m->permission_request;
		fputs("ocbctl: permission asked: ", stderr);
		term_puts(stderr, p->permission);
		for (i = 0; i < p->n_patterns; i++) {
			fputs(i == 0 ? " (" : ", ", stderr);
			term_puts(stderr, p->patterns[i]);
		}
		fputs(p->n_patterns > 0 ? ")\n" : "\n", stderr);
		fputs("  reply: ocbctl reply-permission ", stderr);
		term_puts(stderr, p->session_id);
		fputc(' ', stderr);
		term_puts(stderr, p->permission_id);
		fputs(" once|always|reject\n", stderr);
		break;
	case OPENCODE__SERVER_MESSAGE__PAYLOAD_QUESTION_REQUEST:
		q = m->question_request;
		fputs("ocbctl: question asked:\n", stderr);
		for (i = 0; i < q->n_questions; i++) {
			fprintf(stderr, "  %zu. ", i + 1);
			term_puts(stderr, q->questions[i]->question);
			fputs(q->questions[i]->multiple ? " (several)\n" :
			    "\n", stderr);
			for (j = 0; j < q->questions[i]->n_options; j++) {
				fputs("     - ", stderr);
				term_puts(stderr,
				    q->questions[i]->options[j]->label);
				fputc('\n', stderr);
			}
		}
		fputs("  answer: ocbctl answer ", stderr);
		term_puts(stderr, q->id);
		fputs(" LABELS... (or reject-question)\n", stderr);
		break;
	case OPENCODE__SERVER_MESSAGE__PAYLOAD_SESSION_EVENT:
		se = m->session_event;
		if (strcmp(se->kind, "error") == 0) {
			fputs("ocbctl: session error: ", stderr);
			term_puts(stderr, se->error_name);
			fputs(": ", stderr);
			term_puts(stderr, se->error_message);
		} else if (strcmp(se->kind, "deleted") == 0)
			fputs("ocbctl: the session was deleted", stderr);
		else {
			fprintf(stderr, "ocbctl: retrying (attempt %" PRId64
			    "): ", se->attempt);
			term_puts(stderr, se->error_message);
		}
		fputc('\n', stderr);
		break;
	case OPENCODE__SERVER_MESSAGE__PAYLOAD_COMPLETED:
		fputs("ocbctl: the answer ended in an error: ", stderr);
		term_puts(stderr, m->completed->error);
		fputc('\n', stderr);
		break;
	case OPENCODE__SERVER_MESSAGE__PAYLOAD_UPSTREAM_STATUS:
		fputs("ocbctl: the broker lost OpenCode's event stream\n",
		    stderr);
		break;
	default:
		break;
	}
	fflush(stderr);
}

/* Text mode: the answer's text on stdout, reasoning on stderr if asked. */
static void
text_event(struct answer *a, const Opencode__ServerMessage *m)
{
	const Opencode__ChatToken *t;
	const Opencode__SessionEvent *se;
	size_t n;

	switch (m->payload_case) {
	case OPENCODE__SERVER_MESSAGE__PAYLOAD_TOKEN:
		t = m->token;
		/* An older broker sends no kind: its tokens are text. */
		if (strcmp(t->kind, "reasoning") == 0) {
			if (a->reasoning && (n = strlen(t->delta)) > 0) {
				term_puts(stderr, t->delta);
				fflush(stderr);
				a->mid_think = t->delta[n - 1] != '\n';
			}
			return;
		}
		if ((n = strlen(t->delta)) == 0)
			return;
		think_end(a);
		term_puts(stdout, t->delta);
		fflush(stdout);
		a->mid_line = t->delta[n - 1] != '\n';
		return;
	case OPENCODE__SERVER_MESSAGE__PAYLOAD_PERMISSION_REQUEST:
	case OPENCODE__SERVER_MESSAGE__PAYLOAD_QUESTION_REQUEST:
		tell(a, m);
		return;
	case OPENCODE__SERVER_MESSAGE__PAYLOAD_SESSION_EVENT:
		se = m->session_event;
		if (strcmp(se->kind, "error") == 0 ||
		    strcmp(se->kind, "deleted") == 0 ||
		    (strcmp(se->kind, "status") == 0 &&
		    strcmp(se->status, "retry") == 0))
			tell(a, m);
		return;
	case OPENCODE__SERVER_MESSAGE__PAYLOAD_COMPLETED:
		/* Not the turn before ours (see track()). */
		if (a->started && *m->completed->error != '\0')
			tell(a, m);
		return;
	case OPENCODE__SERVER_MESSAGE__PAYLOAD_UPSTREAM_STATUS:
		if (!m->upstream_status->connected)
			tell(a, m);
		return;
	default:
		return;
	}
}

/*
 * Where the answer stands.  It is over once an assistant message completed
 * and the session went idle (a tool-using answer is several messages, and
 * only the idle says the last one came); busy after idle means it works
 * on.  It failed at once on a session error (an unknown agent brings one
 * and nothing else), an assistant message that completed with an error, or
 * the session's deletion.  Completions and idles count only after a busy
 * (or retry): the tail of the turn before ours (as an aborted message's
 * completion, which comes after its idle) may arrive before our turn
 * starts, and must not end our wait.
 */
static void
track(struct answer *a, const Opencode__ServerMessage *m)
{
	const Opencode__SessionEvent *se;
	const Opencode__MessageInfo *mi;

	switch (m->payload_case) {
	case OPENCODE__SERVER_MESSAGE__PAYLOAD_COMPLETED:
		if (!a->started)
			return;
		a->completed = 1;
		if (*m->completed->error != '\0')
			a->failed = 1;
		break;
	case OPENCODE__SERVER_MESSAGE__PAYLOAD_MESSAGE_UPDATED:
		mi = m->message_updated;
		if (!a->started || strcmp(mi->role, "assistant") != 0 ||
		    mi->completed_at == 0)
			return;
		a->completed = 1;
		if (*mi->error_name != '\0')
			a->failed = 1;
		break;
	case OPENCODE__SERVER_MESSAGE__PAYLOAD_SESSION_EVENT:
		se = m->session_event;
		if (strcmp(se->kind, "idle") == 0 ||
		    (strcmp(se->kind, "status") == 0 &&
		    strcmp(se->status, "idle") == 0))
			a->idle = a->started;
		else if (strcmp(se->kind, "status") == 0) {
			a->started = 1;
			a->idle = 0;
		} else if (strcmp(se->kind, "error") == 0 ||
		    strcmp(se->kind, "deleted") == 0)
			a->failed = 1;
		break;
	default:
		return;
	}
	if (a->failed || (a->idle && a->completed))
		a->done = 1;
}

static void
on_send_event(struct ocb_client *c, const Opencode__ServerMessage *m,
    void *arg)
{
	struct answer *a = arg;
	const char *sid;

	(void)c;
	/* The Subscribe filters; this also covers events before it took. */
	if (a->done || ((sid = ocb_event_session(m)) != NULL &&
	    strcmp(sid, a->session) != 0))
		return;
	if (a->json)
		(void)json_message(m);
	else
		text_event(a, m);
	track(a, m);
}

/* Subscribe, then send; 0, or the exit status. */
static int
send_start(struct ocb_client *c, struct req *r, int timeout_ms, int json)
{
	Opencode__ServerMessage *reply;
	int ret;

	if ((ret = subscribe(c, &r->u.sm.session_id, 1, timeout_ms)) != 0)
		return ret;
	if (ocb_client_call(c, &r->cm, timeout_ms, &reply) == -1) {
		warnx_("send: %s", ocb_client_error(c));
		return EXIT_CONNECT;
	}
	if (reply->payload_case == OPENCODE__SERVER_MESSAGE__PAYLOAD_ERROR) {
		if (json)
			(void)json_message(reply);
		else
			warnx_("send: %s: %s", reply->error->code,
			    reply->error->message);
		ocb_message_free(reply);
		return EXIT_REPLY_ERROR;
	}
	ocb_message_free(reply);
	return 0;
}

/* Waits for the answer's end; the exit status. */
static int
send_end(struct ocb_client *c, struct answer *a, const sigset_t *orig)
{
	int ret;

	switch (wait_events(c, &a->done, orig)) {
	case WAIT_DONE:
		ret = a->failed ? EXIT_ANSWER_ERROR : 0;
		break;
	case WAIT_SIGNAL:
		warnx_("interrupted (the session goes on; `ocbctl cancel` "
		    "stops it)");
		ret = EXIT_INTERRUPTED;
		break;
	case WAIT_CLOSED:
		warnx_("the connection ended before the answer: %s",
		    ocb_client_error(c));
		ret = EXIT_CONNECT;
		break;
	default:
		ret = EXIT_CONNECT;
		break;
	}
	return ret;
}

/*
 * send: Subscribe to the session, send, then print the answer until it is
 * over.  With --no-wait, only the acknowledgement ({"ok":true}).
 */
static int
send_wait(struct ocb_client *c, struct req *r, const struct opts *o,
    int timeout_ms)
{
	struct answer a;
	sigset_t orig;
	int ret;

	memset(&a, 0, sizeof(a));
	a.session = r->u.sm.session_id;
	a.json = (o->set & O_JSON) != 0;
	a.reasoning = (o->set & O_REASONING) != 0;
	signals_catch(&orig);
	ocb_client_set_event_cb(c, on_send_event, &a);
	ret = send_start(c, r, timeout_ms, a.json);
	if (ret == 0)
		ret = send_end(c, &a, &orig);
	/* a lives on this stack: later events (while closing) go nowhere. */
	ocb_client_set_event_cb(c, NULL, NULL);
	think_end(&a);
	if (a.mid_line)
		putchar('\n');
	return ret;
}

/* ---- main ---- */

static void
parse_options(int argc, char *argv[], struct opts *o, long *port,
    const char **token_file, long *timeout)
{
	static const struct option longopts[] = {
		{ "port",	required_argument,	NULL, 'p' },
		{ "token-file",	required_argument,	NULL, 't' },
		{ "timeout",	required_argument,	NULL, 'T' },
		{ "agent",	required_argument,	NULL, 'a' },
		{ "model",	required_argument,	NULL, 'm' },
		{ "file",	required_argument,	NULL, 'f' },
		{ "json",	no_argument,		NULL, 'j' },
		{ "reasoning",	no_argument,		NULL, 'r' },
		{ "no-wait",	no_argument,		NULL, 'n' },
		{ "limit",	required_argument,	NULL, 'l' },
		{ "before",	required_argument,	NULL, 'b' },
		{ "all",	no_argument,		NULL, 'A' },
		{ "help",	no_argument,		NULL, 'h' },
		{ NULL,		0,			NULL, 0 }
	};
	int ch;

	/* Options may come anywhere; "--" ends them (TEXT starting with -). */
	while ((ch = getopt_long(argc, argv, "p:t:T:h", longopts,
	    NULL)) != -1) {
		switch (ch) {
		case 'p':
			*port = number(optarg, 1, 65535, "port");
			break;
		case 't':
			*token_file = optarg;
			break;
		case 'T':
			*timeout = number(optarg, 1, INT_MAX, "timeout");
			break;
		case 'a':
			o->set |= O_AGENT;
			o->agent = optarg;
			break;
		case 'm':
			o->set |= O_MODEL;
			o->model = optarg;
			break;
		case 'f':
			if (o->nfiles == FILES_MAX)
				usage_err("at most %d --file", FILES_MAX);
			o->set |= O_FILE;
			o->files[o->nfiles++] = optarg;
			break;
		case 'j':
			o->set |= O_JSON;
			break;
		case 'r':
			o->set |= O_REASONING;
			break;
		case 'n':
			o->set |= O_NO_WAIT;
			break;
		case 'l':
			o->set |= O_LIMIT;
			o->limit = number(optarg, 1, LIMIT_MAX, "limit");
			break;
		case 'b':
			o->set |= O_BEFORE;
			o->before = optarg;
			break;
		case 'A':
			o->set |= O_ALL;
			break;
		case 'h':
			fputs(usage_text, stdout);
			fputs(help_text, stdout);
			exit(0);
		default:
			usage();
		}
	}
}

int
main(int argc, char *argv[])
{
	struct req r;
	struct opts o;
	Opencode__ServerMessage *reply;
	struct ocb_client *c;
	const struct cmd *cmd = NULL;
	const char *token_file = NULL, *cname;
	char token[TOKEN_MAX + 1];
	long port = 0, timeout = -1;
	int nargs, ret;
	size_t i;
	char **args;

	memset(&o, 0, sizeof(o));
	parse_options(argc, argv, &o, &port, &token_file, &timeout);
	if (optind >= argc || port == 0 || token_file == NULL)
		usage();
	cname = argv[optind];
	args = argv + optind + 1;
	nargs = argc - optind - 1;
	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (strcmp(cname, cmds[i].name) == 0)
			cmd = &cmds[i];
	if (cmd == NULL)
		usage_err("unknown command: %s", cname);
	if (nargs < cmd->min_args ||
	    (cmd->max_args >= 0 && nargs > cmd->max_args) ||
	    (o.set & ~cmd->opts) != 0) {
		warnx_("%s: %s", cname, (o.set & ~cmd->opts) != 0 ?
		    "an option it does not take" :
		    "wrong number of arguments");
		fprintf(stderr, USAGE_HEAD "%s%s%s\n", cname,
		    *cmd->synopsis != '\0' ? " " : "", cmd->synopsis);
		return EXIT_USAGE;
	}
	if (timeout == -1)
		timeout = strcmp(cname, "run-command") == 0 ? RUN_TIMEOUT_MS :
		    DEFAULT_TIMEOUT_MS;
	/* Bad arguments are found before connecting. */
	if (cmd->desc != NULL)
		build(&r, cmd, args, nargs, &o);

	if (read_token(token_file, token, sizeof(token)) == -1)
		ret = EXIT_USAGE;
	else if ((c = ocb_client_new()) == NULL) {
		warnx_("out of memory");
		ret = EXIT_CONNECT;
	} else if ((ret = ocb_client_connect(c, (uint16_t)port, token,
	    (int)timeout)) == -1) {
		warnx_("%s", ocb_client_error(c));
		ocb_client_free(c);
		ret = EXIT_CONNECT;
	}
	explicit_bzero(token, sizeof(token));
	if (ret != 0) {
		if (strcmp(cname, "watch") != 0)
			req_free(&r);
		return ret;
	}

	if (strcmp(cname, "watch") == 0) {
		ret = watch(c, args, nargs, (int)timeout);
		ocb_client_free(c);
		return ret;
	}
	if (strcmp(cname, "send") == 0 && !(o.set & O_NO_WAIT)) {
		ret = send_wait(c, &r, &o, (int)timeout);
		if (ret != EXIT_CONNECT && ret != EXIT_INTERRUPTED)
			(void)ocb_client_close(c, CLOSE_TIMEOUT_MS);
	} else if (ocb_client_call(c, &r.cm, (int)timeout, &reply) == -1) {
		warnx_("%s: %s", cname, ocb_client_error(c));
		ret = EXIT_CONNECT;
	} else {
		ret = json_message(reply) ? EXIT_REPLY_ERROR : 0;
		ocb_message_free(reply);
		(void)ocb_client_close(c, CLOSE_TIMEOUT_MS);
	}
	ocb_client_free(c);
	req_free(&r);
	if (fflush(stdout) == EOF || ferror(stdout)) {
		warnx_("stdout: %s", strerror(errno));
		return EXIT_CONNECT;
	}
	return ret;
}
