/*
 * Copyright (c) 2026 The ocbroker authors
 * SPDX-License-Identifier: ISC (the licence is in the file LICENSE)
 */

/*
 * Integration tests of protocol v2: the real ocbroker binary (OCBROKER)
 * against tests/fake_upstream (FAKE_UPSTREAM) serving the captured OpenCode
 * 1.18.34 fixtures (OCB_FIXTURES).
 *
 * For every v2 request: a good request, whose reply is checked against
 * values this file reads itself out of the body the fake serves (the
 * fixture, or its stand-in until it is captured); the method, path and body
 * that reached the upstream; the error mappings; and bad input, which must
 * be INVALID_REQUEST without any upstream call.  Then the v2 events, pushed
 * through the fake's /event stream, and the Subscribe filter on them.
 *
 * The JSON reader below is deliberately not netproc's: a test that reused
 * the code under test to compute its expectations could not fail.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <ctype.h>
#include <math.h>

#include "tests/support/cases.h"
#include "tests/support/fixture.h"
#include "tests/support/itest.h"
#include "tests/support/itest_req.h"
#include "tests/support/itest_sse.h"

#define FX_SESSION	"ses_de9d9dd34ffervjM6BvxQjuyqi"
#define OTHER_SESSION	"ses_someotherchat0000000000000"
#define UNKNOWN_SESSION	"ses_0000000000000000000000000000"
#define FX_MESSAGE	"msg_21626378d001coYGuelMlqQmRq"
#define FX_PART		"prt_21626379e001UXsmWtXmAuCWeX"
#define FX_QUESTION	"que_21626500a001QqQqQqQqQqQqQq"
#define UNKNOWN_QUESTION "que_0000000000000000000000000000"

/* ---- strings kept until the end of a test ---- */

static char	**pool;
static size_t	  npool, poolcap;

static char *
keep(char *s)
{
	char **np;

	if (s == NULL)
		fail_msg("out of memory");
	if (npool == poolcap) {
		poolcap = poolcap == 0 ? 1024 : poolcap * 2;
		if ((np = realloc(pool, poolcap * sizeof(*pool))) == NULL)
			fail_msg("out of memory");
		pool = np;
	}
	pool[npool++] = s;
	return s;
}

static void
pool_free(void)
{
	while (npool > 0)
		free(pool[--npool]);
	free(pool);
	pool = NULL;
	poolcap = 0;
}

/* ---- a small JSON reader for the fixtures ---- */

static const char *
jws(const char *p)
{
	while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
		p++;
	return p;
}

/* One past the end of the value at p, or NULL when it is malformed. */
static const char *
jskip(const char *p)
{
	int depth = 0;

	p = jws(p);
	if (*p == '"') {
		for (p++; *p != '\0' && *p != '"'; p++)
			if (*p == '\\' && p[1] != '\0')
				p++;
		return *p == '"' ? p + 1 : NULL;
	}
	if (*p == '{' || *p == '[') {
		for (; *p != '\0'; p++) {
			if (*p == '"') {
				if ((p = jskip(p)) == NULL)
					return NULL;
				p--;
			} else if (*p == '{' || *p == '[')
				depth++;
			else if ((*p == '}' || *p == ']') && --depth == 0)
				return p + 1;
		}
		return NULL;
	}
	while (*p != '\0' && *p != ',' && *p != '}' && *p != ']' &&
	    !isspace((unsigned char)*p))
		p++;
	return p;
}

/* The value of member key of the object at obj, or NULL. */
static const char *
jget(const char *obj, const char *key)
{
	const char *p, *k, *ke;
	size_t kl = strlen(key);

	if (obj == NULL || *(p = jws(obj)) != '{')
		return NULL;
	p++;
	for (;;) {
		p = jws(p);
		if (*p != '"')
			return NULL;
		k = p + 1;
		if ((ke = jskip(p)) == NULL)
			return NULL;
		p = jws(ke);
		if (*p != ':')
			return NULL;
		p = jws(p + 1);
		if ((size_t)(ke - 1 - k) == kl && strncmp(k, key, kl) == 0)
			return p;
		if ((p = jskip(p)) == NULL)
			return NULL;
		p = jws(p);
		if (*p != ',')
			return NULL;
		p++;
	}
}

/* jget along a dotted path ("time.created"). */
static const char *
jpath(const char *obj, const char *path)
{
	char key[64];
	const char *dot;
	size_t n;

	while (obj != NULL && *path != '\0') {
		dot = strchr(path, '.');
		n = dot != NULL ? (size_t)(dot - path) : strlen(path);
		assert_true(n < sizeof(key));
		memcpy(key, path, n);
		key[n] = '\0';
		obj = jget(obj, key);
		path += n + (dot != NULL);
	}
	return obj;
}

/* Element i of the array at arr, or NULL. */
static const char *
jat(const char *arr, size_t i)
{
	const char *p;
	size_t k = 0;

	if (arr == NULL || *(p = jws(arr)) != '[')
		return NULL;
	p = jws(p + 1);
	if (*p == ']')
		return NULL;
	for (;;) {
		p = jws(p);
		if (k++ == i)
			return p;
		if ((p = jskip(p)) == NULL)
			return NULL;
		p = jws(p);
		if (*p != ',')
			return NULL;
		p++;
	}
}

/* Up to max elements of the array at arr, in one pass; their number. */
static size_t
jarray(const char *arr, const char **out, size_t max)
{
	const char *p;
	size_t n = 0;

	if (arr == NULL || *(p = jws(arr)) != '[')
		return 0;
	p = jws(p + 1);
	if (*p == ']')
		return 0;
	for (;;) {
		p = jws(p);
		if (n < max)
			out[n] = p;
		n++;
		if ((p = jskip(p)) == NULL)
			return n;
		p = jws(p);
		if (*p != ',')
			return n;
		p++;
	}
}

static size_t
jcount(const char *arr)
{
	size_t n = 0;

	while (jat(arr, n) != NULL)
		n++;
	return n;
}

/* Member i of the object at obj: its key (kept) and its value. */
static const char *
jmember(const char *obj, size_t i, char **key)
{
	const char *p, *ke;
	size_t k = 0;

	if (obj == NULL || *(p = jws(obj)) != '{')
		return NULL;
	p++;
	for (;;) {
		p = jws(p);
		if (*p != '"' || (ke = jskip(p)) == NULL)
			return NULL;
		if (k++ == i) {
			*key = keep(strndup(p + 1, (size_t)(ke - p - 2)));
			return jws(jws(ke) + 1);
		}
		p = jws(ke);
		if (*p != ':' || (p = jskip(p + 1)) == NULL)
			return NULL;
		p = jws(p);
		if (*p != ',')
			return NULL;
		p++;
	}
}

/* Up to max members of the object at obj, in one pass; their number. */
static size_t
jmembers(const char *obj, const char **keys, size_t *keylens,
    const char **vals, size_t max)
{
	const char *p, *ke;
	size_t n = 0;

	if (obj == NULL || *(p = jws(obj)) != '{')
		return 0;
	p++;
	for (;;) {
		p = jws(p);
		if (*p != '"' || (ke = jskip(p)) == NULL)
			return n;
		if (n < max) {
			keys[n] = p + 1;
			keylens[n] = (size_t)(ke - p - 2);
		}
		p = jws(ke);
		if (*p != ':')
			return n;
		p = jws(p + 1);
		if (n < max)
			vals[n] = p;
		n++;
		if ((p = jskip(p)) == NULL)
			return n;
		p = jws(p);
		if (*p != ',')
			return n;
		p++;
	}
}

static void
utf8_put(char **o, unsigned long c)
{
	unsigned char *u = (unsigned char *)*o;

	if (c < 0x80)
		*u++ = (unsigned char)c;
	else if (c < 0x800) {
		*u++ = (unsigned char)(0xc0 | (c >> 6));
		*u++ = (unsigned char)(0x80 | (c & 0x3f));
	} else if (c < 0x10000) {
		*u++ = (unsigned char)(0xe0 | (c >> 12));
		*u++ = (unsigned char)(0x80 | ((c >> 6) & 0x3f));
		*u++ = (unsigned char)(0x80 | (c & 0x3f));
	} else {
		*u++ = (unsigned char)(0xf0 | (c >> 18));
		*u++ = (unsigned char)(0x80 | ((c >> 12) & 0x3f));
		*u++ = (unsigned char)(0x80 | ((c >> 6) & 0x3f));
		*u++ = (unsigned char)(0x80 | (c & 0x3f));
	}
	*o = (char *)u;
}

/* The decoded string at v ("" for an absent or null value), kept. */
static const char *
S(const char *v)
{
	const char *end;
	char *out, *o, hex[5];
	unsigned long c, lo;

	if (v == NULL || *v != '"')
		return "";
	assert_non_null(end = jskip(v));
	o = out = keep(malloc((size_t)(end - v)));
	for (v++; v < end - 1; v++) {
		if (*v != '\\') {
			*o++ = *v;
			continue;
		}
		switch (*++v) {
		case 'n': *o++ = '\n'; break;
		case 't': *o++ = '\t'; break;
		case 'r': *o++ = '\r'; break;
		case 'b': *o++ = '\b'; break;
		case 'f': *o++ = '\f'; break;
		case 'u':
			memcpy(hex, v + 1, 4);
			hex[4] = '\0';
			c = strtoul(hex, NULL, 16);
			v += 4;
			if (c >= 0xd800 && c < 0xdc00 && v[1] == '\\' &&
			    v[2] == 'u') {
				memcpy(hex, v + 3, 4);
				lo = strtoul(hex, NULL, 16);
				c = 0x10000 + ((c - 0xd800) << 10) +
				    (lo - 0xdc00);
				v += 6;
			}
			utf8_put(&o, c);
			break;
		default: *o++ = *v; break;
		}
	}
	*o = '\0';
	return out;
}

static long long
LL(const char *v)
{
	if (v == NULL || strncmp(v, "null", 4) == 0)
		return 0;
	return (long long)strtod(v, NULL);
}

static double
D(const char *v)
{
	return v == NULL ? 0 : strtod(v, NULL);
}

static int
B(const char *v)
{
	return v != NULL && strncmp(v, "true", 4) == 0;
}

/* ---- processes ---- */

static int
teardown(void **state)
{
	pool_free();
	return it_teardown(state);
}

/* The body the fake serves on a route (the fixture), kept. */
static const char *
served(struct it_env *e, const char *method, const char *path)
{
	char *body = NULL;
	int code;

	code = it_fake_req(e, method, path, NULL, &body);
	if (code != 200 || body == NULL)
		fail_msg("the fake answered %s %s with %d", method, path,
		    code);
	return keep(body);
}

/* A fixture that may not be captured yet: name, else fallback. */
static const char *
fixture(const char *name, const char *fallback)
{
	char *s;

	if ((s = it_read_fixture(name, NULL)) == NULL && fallback != NULL)
		s = it_read_fixture(fallback, NULL);
	if (s == NULL)
		fail_msg("no fixture %s (nor %s)", name,
		    fallback != NULL ? fallback : "-");
	return keep(s);
}

/* The newest upstream request of method under prefix: "M URI\nbody". */
static const char *
upstream(struct it_env *e, const char *method, const char *prefix)
{
	char *s;

	if ((s = it_fake_last(e, method, prefix)) == NULL)
		fail_msg("the upstream got no %s %s...", method, prefix);
	return keep(s);
}

/* Asserts that the newest request under prefix starts with line. */
static const char *
expect_upstream(struct it_env *e, const char *method, const char *prefix,
    const char *line)
{
	const char *got = upstream(e, method, prefix);

	if (strncmp(got, line, strlen(line)) != 0)
		fail_msg("upstream: expected \"%s\", got \"%s\"", line, got);
	return strchr(got, '\n') + 1;
}

/* ---- messages ---- */

/* Every request payload in one place, to build any v2 request. */
enum rk {
	RK_GET_SESSION,
	RK_UPDATE_SESSION,
	RK_FORK,
	RK_STATUS_LIST,
	RK_LIST_MESSAGES,
	RK_REVERT,
	RK_UNREVERT,
	RK_COMMANDS,
	RK_PROVIDERS,
	RK_REPLY_QUESTION,
	RK_REJECT_QUESTION,
	RK_PENDING,
	RK_TODOS,
	RK_DIFF,
	RK_SUMMARIZE,
	RK_RUN_COMMAND,
	RK_COUNT
};

static const char *const rk_name[RK_COUNT] = {
	"GetSession", "UpdateSession", "ForkSession", "ListSessionStatus",
	"ListMessages", "RevertSession", "UnrevertSession", "ListCommands",
	"ListProviders", "ReplyQuestion", "RejectQuestion", "ListPending",
	"GetTodos", "GetDiff", "SummarizeSession", "RunCommand"
};

struct rq {
	Opencode__ClientMessage		 cm;
	Opencode__GetSession		 gs;
	Opencode__UpdateSession		 us;
	Opencode__ForkSession		 fs;
	Opencode__ListSessionStatus	 ss;
	Opencode__ListMessages		 lm;
	Opencode__RevertSession		 rv;
	Opencode__UnrevertSession	 ur;
	Opencode__ListCommands		 lc;
	Opencode__ListProviders		 lp;
	Opencode__ReplyQuestion		 rq;
	Opencode__QuestionAnswer	 qa;
	Opencode__QuestionAnswer	*qap[1];
	char				*labels[2];
	Opencode__RejectQuestion	 rj;
	Opencode__ListPending		 pe;
	Opencode__GetTodos		 gt;
	Opencode__GetDiff		 gd;
	Opencode__SummarizeSession	 sz;
	Opencode__RunCommand		 rc;
};

/* A good request of kind k, on FX_SESSION; the caller may change it. */
static Opencode__ClientMessage *
rq_make(struct rq *r, enum rk k, uint64_t id)
{
	memset(r, 0, sizeof(*r));
	opencode__client_message__init(&r->cm);
	r->cm.request_id = id;
	switch (k) {
	case RK_GET_SESSION:
		opencode__get_session__init(&r->gs);
		r->gs.session_id = FX_SESSION;
		r->cm.payload_case = CMP(GET_SESSION);
		r->cm.get_session = &r->gs;
		break;
	case RK_UPDATE_SESSION:
		opencode__update_session__init(&r->us);
		r->us.session_id = FX_SESSION;
		r->us.title = "Renamed \"by\" v2 \xc3\xa9";
		r->cm.payload_case = CMP(UPDATE_SESSION);
		r->cm.update_session = &r->us;
		break;
	case RK_FORK:
		opencode__fork_session__init(&r->fs);
		r->fs.session_id = FX_SESSION;
		r->cm.payload_case = CMP(FORK_SESSION);
		r->cm.fork_session = &r->fs;
		break;
	case RK_STATUS_LIST:
		opencode__list_session_status__init(&r->ss);
		r->cm.payload_case = CMP(LIST_SESSION_STATUS);
		r->cm.list_session_status = &r->ss;
		break;
	case RK_LIST_MESSAGES:
		opencode__list_messages__init(&r->lm);
		r->lm.session_id = FX_SESSION;
		r->cm.payload_case = CMP(LIST_MESSAGES);
		r->cm.list_messages = &r->lm;
		break;
	case RK_REVERT:
		opencode__revert_session__init(&r->rv);
		r->rv.session_id = FX_SESSION;
		r->rv.message_id = FX_MESSAGE;
		r->cm.payload_case = CMP(REVERT_SESSION);
		r->cm.revert_session = &r->rv;
		break;
	case RK_UNREVERT:
		opencode__unrevert_session__init(&r->ur);
		r->ur.session_id = FX_SESSION;
		r->cm.payload_case = CMP(UNREVERT_SESSION);
		r->cm.unrevert_session = &r->ur;
		break;
	case RK_COMMANDS:
		opencode__list_commands__init(&r->lc);
		r->cm.payload_case = CMP(LIST_COMMANDS);
		r->cm.list_commands = &r->lc;
		break;
	case RK_PROVIDERS:
		opencode__list_providers__init(&r->lp);
		r->cm.payload_case = CMP(LIST_PROVIDERS);
		r->cm.list_providers = &r->lp;
		break;
	case RK_REPLY_QUESTION:
		opencode__reply_question__init(&r->rq);
		opencode__question_answer__init(&r->qa);
		r->labels[0] = "Red";
		r->qa.n_labels = 1;
		r->qa.labels = r->labels;
		r->qap[0] = &r->qa;
		r->rq.question_id = FX_QUESTION;
		r->rq.n_answers = 1;
		r->rq.answers = r->qap;
		r->cm.payload_case = CMP(REPLY_QUESTION);
		r->cm.reply_question = &r->rq;
		break;
	case RK_REJECT_QUESTION:
		opencode__reject_question__init(&r->rj);
		r->rj.question_id = FX_QUESTION;
		r->cm.payload_case = CMP(REJECT_QUESTION);
		r->cm.reject_question = &r->rj;
		break;
	case RK_PENDING:
		opencode__list_pending__init(&r->pe);
		r->cm.payload_case = CMP(LIST_PENDING);
		r->cm.list_pending = &r->pe;
		break;
	case RK_TODOS:
		opencode__get_todos__init(&r->gt);
		r->gt.session_id = FX_SESSION;
		r->cm.payload_case = CMP(GET_TODOS);
		r->cm.get_todos = &r->gt;
		break;
	case RK_DIFF:
		opencode__get_diff__init(&r->gd);
		r->gd.session_id = FX_SESSION;
		r->cm.payload_case = CMP(GET_DIFF);
		r->cm.get_diff = &r->gd;
		break;
	case RK_SUMMARIZE:
		opencode__summarize_session__init(&r->sz);
		r->sz.session_id = FX_SESSION;
		r->sz.provider_id = "mock";
		r->sz.model_id = "mock-1";
		r->cm.payload_case = CMP(SUMMARIZE_SESSION);
		r->cm.summarize_session = &r->sz;
		break;
	case RK_RUN_COMMAND:
		opencode__run_command__init(&r->rc);
		r->rc.session_id = FX_SESSION;
		r->rc.command = "init";
		r->rc.arguments = "first second";
		r->cm.payload_case = CMP(RUN_COMMAND);
		r->cm.run_command = &r->rc;
		break;
	case RK_COUNT:
		fail_msg("no such request kind");
	}
	return &r->cm;
}

static Opencode__ServerMessage *
send_rq(struct wsc *w, enum rk k, uint64_t id)
{
	struct rq r;

	return it_call(w, rq_make(&r, k, id), T_REPLY);
}

/* ---- expected values, read from the JSON ---- */

static void
check_session(const Opencode__SessionInfo *si, const char *js)
{
	const char *title = jget(js, "title");

	assert_non_null(si);
	assert_string_equal(si->id, S(jget(js, "id")));
	if (title != NULL) {
		assert_int_equal(si->_title_case,
		    OPENCODE__SESSION_INFO___TITLE_TITLE);
		assert_string_equal(si->title, S(title));
	}
	assert_int_equal(si->created_at, LL(jpath(js, "time.created")));
	assert_int_equal(si->updated_at, LL(jpath(js, "time.updated")));
}

/* Every top-level key of the object want is in the JSON object got. */
static void
check_same_keys(const char *got, const char *want)
{
	const char *v;
	char *key;
	size_t i;

	for (i = 0; (v = jmember(want, i, &key)) != NULL; i++)
		if (jget(got, key) == NULL)
			fail_msg("%s has no \"%s\" (want %s)", got, key, want);
}

static void
check_tool(const Opencode__ToolCallEvent *t, const char *pj)
{
	const char *st = jget(pj, "state");

	assert_non_null(t);
	assert_string_equal(t->session_id, S(jget(pj, "sessionID")));
	assert_string_equal(t->message_id, S(jget(pj, "messageID")));
	assert_string_equal(t->part_id, S(jget(pj, "id")));
	assert_string_equal(t->call_id, S(jget(pj, "callID")));
	assert_string_equal(t->tool, S(jget(pj, "tool")));
	assert_string_equal(t->status, S(jget(st, "status")));
	assert_string_equal(t->title, S(jget(st, "title")));
	assert_string_equal(t->output, S(jget(st, "output")));
	assert_string_equal(t->error, S(jget(st, "error")));
	if (jget(st, "input") != NULL && *jget(st, "input") == '{')
		check_same_keys(t->input_json, jget(st, "input"));
}

static void
check_part(const Opencode__PartInfo *p, const char *pj)
{
	const char *type = S(jget(pj, "type")), *files;
	size_t i;

	assert_non_null(p);
	assert_string_equal(p->id, S(jget(pj, "id")));
	assert_string_equal(p->message_id, S(jget(pj, "messageID")));
	assert_string_equal(p->session_id, S(jget(pj, "sessionID")));
	assert_string_equal(p->kind, type);
	assert_int_equal(p->synthetic, B(jget(pj, "synthetic")));
	if (strcmp(type, "text") == 0 || strcmp(type, "reasoning") == 0) {
		assert_string_equal(p->text, S(jget(pj, "text")));
		assert_false(p->truncated);
	}
	if (strcmp(type, "tool") == 0)
		check_tool(p->tool, pj);
	if (strcmp(type, "file") == 0) {
		assert_non_null(p->file);
		assert_string_equal(p->file->mime, S(jget(pj, "mime")));
		assert_string_equal(p->file->filename,
		    S(jget(pj, "filename")));
		assert_string_equal(p->file->url, S(jget(pj, "url")));
	}
	if (strcmp(type, "patch") == 0) {
		files = jget(pj, "files");
		assert_int_equal(p->n_files, jcount(files));
		for (i = 0; i < p->n_files; i++)
			assert_string_equal(p->files[i], S(jat(files, i)));
	}
}

static void
check_message_info(const Opencode__MessageInfo *mi, const char *info)
{
	const char *user = strcmp(S(jget(info, "role")), "user") == 0 ?
	    "model." : "";
	char path[32];

	assert_non_null(mi);
	assert_string_equal(mi->id, S(jget(info, "id")));
	assert_string_equal(mi->session_id, S(jget(info, "sessionID")));
	assert_string_equal(mi->role, S(jget(info, "role")));
	assert_int_equal(mi->created_at, LL(jpath(info, "time.created")));
	assert_int_equal(mi->completed_at, LL(jpath(info, "time.completed")));
	assert_string_equal(mi->agent, S(jget(info, "agent")));
	/* A user message names its model as model{providerID, modelID}. */
	snprintf(path, sizeof(path), "%sproviderID", user);
	assert_string_equal(mi->provider_id, S(jpath(info, path)));
	snprintf(path, sizeof(path), "%smodelID", user);
	assert_string_equal(mi->model_id, S(jpath(info, path)));
	assert_string_equal(mi->finish, S(jget(info, "finish")));
	assert_string_equal(mi->error_name, S(jpath(info, "error.name")));
	assert_string_equal(mi->error_message,
	    S(jpath(info, "error.data.message")));
	assert_int_equal(mi->input_tokens, LL(jpath(info, "tokens.input")));
	assert_int_equal(mi->output_tokens, LL(jpath(info, "tokens.output")));
	assert_int_equal(mi->reasoning_tokens,
	    LL(jpath(info, "tokens.reasoning")));
	assert_true(fabs(mi->cost - D(jget(info, "cost"))) < 1e-9);
	assert_string_equal(mi->parent_id, S(jget(info, "parentID")));
}

static void
check_message(const Opencode__MessageWithParts *mw, const char *el)
{
	const char *parts = jget(el, "parts");
	size_t i;

	assert_non_null(mw);
	check_message_info(mw->info, jget(el, "info"));
	assert_int_equal(mw->n_parts, jcount(parts));
	for (i = 0; i < mw->n_parts; i++)
		check_part(mw->parts[i], jat(parts, i));
}

static void
check_permission(const Opencode__PermissionRequest *p, const char *pj)
{
	const char *pat = jget(pj, "patterns");
	size_t i;

	assert_non_null(p);
	assert_string_equal(p->permission_id, S(jget(pj, "id")));
	assert_string_equal(p->session_id, S(jget(pj, "sessionID")));
	assert_string_equal(p->permission, S(jget(pj, "permission")));
	assert_string_equal(p->message_id, S(jpath(pj, "tool.messageID")));
	assert_string_equal(p->call_id, S(jpath(pj, "tool.callID")));
	assert_int_equal(p->n_patterns, jcount(pat));
	for (i = 0; i < p->n_patterns; i++)
		assert_string_equal(p->patterns[i], S(jat(pat, i)));
	if (jget(pj, "metadata") != NULL)
		check_same_keys(p->metadata_json, jget(pj, "metadata"));
}

static void
check_question(const Opencode__QuestionRequest *q, const char *qj)
{
	const char *qs = jget(qj, "questions"), *one, *opts;
	size_t i, k;

	assert_non_null(q);
	assert_string_equal(q->id, S(jget(qj, "id")));
	assert_string_equal(q->session_id, S(jget(qj, "sessionID")));
	assert_string_equal(q->message_id, S(jpath(qj, "tool.messageID")));
	assert_string_equal(q->call_id, S(jpath(qj, "tool.callID")));
	assert_int_equal(q->n_questions, jcount(qs));
	for (i = 0; i < q->n_questions; i++) {
		one = jat(qs, i);
		opts = jget(one, "options");
		assert_string_equal(q->questions[i]->question,
		    S(jget(one, "question")));
		assert_string_equal(q->questions[i]->header,
		    S(jget(one, "header")));
		assert_int_equal(q->questions[i]->multiple,
		    B(jget(one, "multiple")));
		assert_int_equal(q->questions[i]->custom,
		    B(jget(one, "custom")));
		assert_int_equal(q->questions[i]->n_options, jcount(opts));
		for (k = 0; k < q->questions[i]->n_options; k++) {
			assert_string_equal(q->questions[i]->options[k]->label,
			    S(jget(jat(opts, k), "label")));
			assert_string_equal(
			    q->questions[i]->options[k]->description,
			    S(jget(jat(opts, k), "description")));
		}
	}
}

static void
check_todos(const Opencode__TodoList *tl, const char *arr, const char *sid)
{
	size_t i;

	assert_non_null(tl);
	assert_string_equal(tl->session_id, sid);
	assert_int_equal(tl->n_todos, jcount(arr));
	for (i = 0; i < tl->n_todos; i++) {
		assert_string_equal(tl->todos[i]->content,
		    S(jget(jat(arr, i), "content")));
		assert_string_equal(tl->todos[i]->status,
		    S(jget(jat(arr, i), "status")));
		assert_string_equal(tl->todos[i]->priority,
		    S(jget(jat(arr, i), "priority")));
	}
}

static void
check_diffs(const Opencode__DiffList *dl, const char *arr, const char *sid,
    const char *mid)
{
	size_t i;

	assert_non_null(dl);
	assert_string_equal(dl->session_id, sid);
	assert_string_equal(dl->message_id, mid);
	assert_int_equal(dl->n_files, jcount(arr));
	for (i = 0; i < dl->n_files; i++) {
		assert_string_equal(dl->files[i]->path,
		    S(jget(jat(arr, i), "file")));
		assert_string_equal(dl->files[i]->status,
		    S(jget(jat(arr, i), "status")));
		assert_int_equal(dl->files[i]->additions,
		    LL(jget(jat(arr, i), "additions")));
		assert_int_equal(dl->files[i]->deletions,
		    LL(jget(jat(arr, i), "deletions")));
		assert_string_equal(dl->files[i]->patch,
		    S(jget(jat(arr, i), "patch")));
		assert_false(dl->files[i]->truncated);
	}
}

/* ---- sessions ---- */

static void
test_get_session(void **state)
{
	struct it_env *e = *state;
	const char *js = served(e, "GET", "/session/" FX_SESSION);
	Opencode__ServerMessage *m;
	struct rq r;
	struct wsc w;

	it_client(e, &w);
	m = send_rq(&w, RK_GET_SESSION, 10);
	it_expect_case(m, 10, SMP(SESSION_INFO), "GetSession");
	check_session(m->session_info, js);
	wsc_msg_free(m);
	assert_string_equal(expect_upstream(e, "GET", "/session/",
	    "GET /session/" FX_SESSION "\n"), "");

	rq_make(&r, RK_GET_SESSION, 11)->get_session->session_id =
	    UNKNOWN_SESSION;
	m = it_call(&w, &r.cm, T_REPLY);
	it_expect_error(m, 11, "NOT_FOUND", "GetSession of an unknown session");
	wsc_msg_free(m);
	wsc_close(&w);
}

static void
test_update_session(void **state)
{
	struct it_env *e = *state;
	const char *js = fixture("session-update.json", NULL), *body;
	Opencode__ServerMessage *m;
	struct rq r;
	struct wsc w;

	it_client(e, &w);
	m = it_call(&w, rq_make(&r, RK_UPDATE_SESSION, 12), T_REPLY);
	it_expect_case(m, 12, SMP(SESSION_INFO), "UpdateSession");
	check_session(m->session_info, js);
	wsc_msg_free(m);
	body = expect_upstream(e, "PATCH", "/session/",
	    "PATCH /session/" FX_SESSION "\n");
	/* The title, JSON-escaped, and nothing it was not asked for. */
	assert_string_equal(S(jget(body, "title")), r.us.title);
	assert_int_equal(jmember(body, 1, &(char *){ NULL }) == NULL, 1);

	r.us.session_id = UNKNOWN_SESSION;
	r.cm.request_id = 13;
	m = it_call(&w, &r.cm, T_REPLY);
	it_expect_error(m, 13, "NOT_FOUND", "UpdateSession of an unknown session");
	wsc_msg_free(m);
	wsc_close(&w);
}

static void
test_fork_session(void **state)
{
	struct it_env *e = *state;
	const char *js = fixture("session-fork.json", "session-create.json");
	const char *body;
	Opencode__ServerMessage *m;
	struct rq r;
	struct wsc w;

	it_client(e, &w);
	m = send_rq(&w, RK_FORK, 14);
	it_expect_case(m, 14, SMP(SESSION_INFO), "ForkSession");
	check_session(m->session_info, js);
	wsc_msg_free(m);
	body = expect_upstream(e, "POST", "/session/",
	    "POST /session/" FX_SESSION "/fork\n");
	/* Without message_id: an empty body or {}, never a messageID. */
	if (*body != '\0' && jget(body, "messageID") != NULL)
		fail_msg("fork without message_id sent %s", body);

	rq_make(&r, RK_FORK, 15);
	r.fs._message_id_case = OPENCODE__FORK_SESSION___MESSAGE_ID_MESSAGE_ID;
	r.fs.message_id = FX_MESSAGE;
	m = it_call(&w, &r.cm, T_REPLY);
	it_expect_case(m, 15, SMP(SESSION_INFO), "ForkSession at a message");
	wsc_msg_free(m);
	body = expect_upstream(e, "POST", "/session/",
	    "POST /session/" FX_SESSION "/fork\n");
	assert_string_equal(S(jget(body, "messageID")), FX_MESSAGE);
	wsc_close(&w);
}

static void
test_revert_unrevert(void **state)
{
	struct it_env *e = *state;
	const char *rev = fixture("session-revert.json", "session-get.json");
	const char *unrev = fixture("session-unrevert.json",
	    "session-get.json");
	const char *body;
	Opencode__ServerMessage *m;
	struct rq r;
	struct wsc w;

	it_client(e, &w);
	m = send_rq(&w, RK_REVERT, 16);
	it_expect_case(m, 16, SMP(SESSION_INFO), "RevertSession");
	check_session(m->session_info, rev);
	wsc_msg_free(m);
	body = expect_upstream(e, "POST", "/session/",
	    "POST /session/" FX_SESSION "/revert\n");
	assert_string_equal(S(jget(body, "messageID")), FX_MESSAGE);
	assert_null(jget(body, "partID"));

	rq_make(&r, RK_REVERT, 17);
	r.rv._part_id_case = OPENCODE__REVERT_SESSION___PART_ID_PART_ID;
	r.rv.part_id = FX_PART;
	m = it_call(&w, &r.cm, T_REPLY);
	it_expect_case(m, 17, SMP(SESSION_INFO), "RevertSession of a part");
	wsc_msg_free(m);
	body = expect_upstream(e, "POST", "/session/",
	    "POST /session/" FX_SESSION "/revert\n");
	assert_string_equal(S(jget(body, "messageID")), FX_MESSAGE);
	assert_string_equal(S(jget(body, "partID")), FX_PART);

	m = send_rq(&w, RK_UNREVERT, 18);
	it_expect_case(m, 18, SMP(SESSION_INFO), "UnrevertSession");
	check_session(m->session_info, unrev);
	wsc_msg_free(m);
	expect_upstream(e, "POST", "/session/",
	    "POST /session/" FX_SESSION "/unrevert\n");

	rq_make(&r, RK_UNREVERT, 19)->unrevert_session->session_id =
	    UNKNOWN_SESSION;
	m = it_call(&w, &r.cm, T_REPLY);
	it_expect_error(m, 19, "NOT_FOUND", "UnrevertSession, unknown session");
	wsc_msg_free(m);
	wsc_close(&w);
}

static void
test_list_session_status(void **state)
{
	struct it_env *e = *state;
	const char *js = served(e, "GET", "/session/status"), *v;
	Opencode__ServerMessage *m;
	Opencode__SessionStatus *st;
	struct wsc w;
	char *key;
	size_t i, n = 0;

	while (jmember(js, n, &key) != NULL)
		n++;
	assert_true(n >= 1);
	it_client(e, &w);
	m = send_rq(&w, RK_STATUS_LIST, 20);
	it_expect_case(m, 20, SMP(SESSION_STATUS_LIST), "ListSessionStatus");
	assert_int_equal(m->session_status_list->n_statuses, n);
	for (i = 0; i < n; i++) {
		v = jmember(js, i, &key);
		st = m->session_status_list->statuses[i];
		assert_string_equal(st->session_id, key);
		assert_string_equal(st->status, S(jget(v, "type")));
		assert_int_equal(st->attempt, LL(jget(v, "attempt")));
		assert_string_equal(st->message, S(jget(v, "message")));
		assert_int_equal(st->next_ms, LL(jget(v, "next")));
	}
	wsc_msg_free(m);
	assert_string_equal(expect_upstream(e, "GET", "/session/status",
	    "GET /session/status\n"), "");
	wsc_close(&w);
}

/* ---- messages ---- */

/* The list the fake pages through (see fake_upstream.c). */
static const char *
message_list(void)
{
	return fixture("message-list-full.json", "session-messages-tool.json");
}

static Opencode__ServerMessage *
list_messages(struct wsc *w, uint64_t id, uint32_t limit, const char *before)
{
	struct rq r;

	rq_make(&r, RK_LIST_MESSAGES, id);
	if (limit > 0) {
		r.lm._limit_case = OPENCODE__LIST_MESSAGES___LIMIT_LIMIT;
		r.lm.limit = limit;
	}
	if (before != NULL) {
		r.lm._before_case = OPENCODE__LIST_MESSAGES___BEFORE_BEFORE;
		r.lm.before = (char *)before;
	}
	return it_call(w, &r.cm, T_REPLY);
}

/* The reply holds elements [first, first + n) of the fixture list. */
static void
check_page(const Opencode__MessageList *ml, const char *list, size_t first,
    size_t n)
{
	size_t i;

	assert_string_equal(ml->session_id, FX_SESSION);
	assert_int_equal(ml->n_messages, n);
	for (i = 0; i < n; i++)
		check_message(ml->messages[i], jat(list, first + i));
}

static void
test_list_messages(void **state)
{
	struct it_env *e = *state;
	const char *list = message_list(), *q;
	size_t n = jcount(list), first;
	Opencode__ServerMessage *m;
	struct wsc w;
	char before[64];

	assert_true(n >= 3);
	it_client(e, &w);

	/* No limit: 100, asked as 101 to learn whether there are more. */
	m = list_messages(&w, 30, 0, NULL);
	it_expect_case(m, 30, SMP(MESSAGE_LIST), "ListMessages");
	first = n > 100 ? n - 100 : 0;
	check_page(m->message_list, list, first, n - first);
	assert_int_equal(m->message_list->more, n > 100);
	wsc_msg_free(m);
	expect_upstream(e, "GET", "/session/",
	    "GET /session/" FX_SESSION "/message?limit=101\n");

	/* The newest two, and more. */
	m = list_messages(&w, 31, 2, NULL);
	it_expect_case(m, 31, SMP(MESSAGE_LIST), "ListMessages limit 2");
	check_page(m->message_list, list, n - 2, 2);
	assert_true(m->message_list->more);
	snprintf(before, sizeof(before), "%s",
	    m->message_list->messages[0]->info->id);
	wsc_msg_free(m);
	expect_upstream(e, "GET", "/session/",
	    "GET /session/" FX_SESSION "/message?limit=3\n");

	/* The page before them. */
	m = list_messages(&w, 32, 2, before);
	it_expect_case(m, 32, SMP(MESSAGE_LIST), "ListMessages before");
	first = n - 2 >= 2 ? n - 4 : 0;
	check_page(m->message_list, list, first, n - 2 - first);
	assert_int_equal(m->message_list->more, n - 2 > 2);
	wsc_msg_free(m);
	/*
	 * The server's before is an opaque cursor, and a plain msg_ id
	 * there is 400 (error-message-before-msgid.http): how netproc gets
	 * the older page is its business, but never with before=msg_.
	 */
	q = upstream(e, "GET", "/session/");
	if (strncmp(q, "GET /session/" FX_SESSION "/message",
	    strlen("GET /session/" FX_SESSION "/message")) != 0 ||
	    strstr(q, "before=msg_") != NULL)
		fail_msg("upstream got %s", q);
	print_message("ListMessages before %s was asked upstream as %.*s\n",
	    before, (int)(strchr(q, '\n') - q), q);

	/* Before the second oldest: the oldest only, and no more. */
	snprintf(before, sizeof(before), "%s", S(jpath(jat(list, 1),
	    "info.id")));
	m = list_messages(&w, 35, 5, before);
	it_expect_case(m, 35, SMP(MESSAGE_LIST), "ListMessages before the 2nd");
	check_page(m->message_list, list, 0, 1);
	assert_false(m->message_list->more);
	wsc_msg_free(m);
	/*
	 * Before a message the session does not have: NOT_FOUND, "an id
	 * the upstream does not know" (netproc's choice, within the
	 * contract).
	 */
	m = list_messages(&w, 36, 5, "msg_0000000000000000000000000");
	it_expect_error(m, 36, "NOT_FOUND", "ListMessages before msg_0000");
	wsc_msg_free(m);

	/* An unknown session. */
	{
		struct rq r;

		rq_make(&r, RK_LIST_MESSAGES, 33)->list_messages->session_id =
		    UNKNOWN_SESSION;
		m = it_call(&w, &r.cm, T_REPLY);
		it_expect_error(m, 33, "NOT_FOUND", "ListMessages, unknown");
		wsc_msg_free(m);
	}
	wsc_close(&w);
}

/* ocbroker's arguments for the next test (it_setup_argv). */
static const char *small_message_args[] = { "--max-message", "4096", NULL };

/*
 * --max-message 4096: the reply must fit, keep the newest messages in
 * order and say more.  The session-messages-tool.json stand-in is smaller
 * than 4 KiB, so until message-list-full.json is captured the list served
 * is that one's messages... which may all fit: then more must be false.
 */
static void
test_list_messages_max_message(void **state)
{
	struct it_env *e = *state;
	const char *list = message_list();
	size_t n = jcount(list), got, size;
	Opencode__ServerMessage *m;
	struct wsc w;

	it_client(e, &w);
	m = list_messages(&w, 34, 0, NULL);
	it_expect_case(m, 34, SMP(MESSAGE_LIST), "ListMessages, 4 KiB");
	size = opencode__server_message__get_packed_size(m);
	got = m->message_list->n_messages;
	print_message("%zu of %zu messages in %zu bytes\n", got, n, size);
	assert_true(size <= 4096);
	assert_true(got >= 1);
	check_page(m->message_list, list, n - got, got);
	assert_int_equal(m->message_list->more, got < n);
	if (strlen(list) > 3 * 4096)
		assert_true(m->message_list->more);
	wsc_msg_free(m);
	wsc_close(&w);
}

/* ---- commands, providers ---- */

static void
test_list_commands(void **state)
{
	struct it_env *e = *state;
	const char *js = served(e, "GET", "/command"), *c, *h;
	Opencode__ServerMessage *m;
	Opencode__CommandInfo *ci;
	struct wsc w;
	size_t i, k;

	it_client(e, &w);
	m = send_rq(&w, RK_COMMANDS, 40);
	it_expect_case(m, 40, SMP(COMMAND_LIST), "ListCommands");
	assert_int_equal(m->command_list->n_commands, jcount(js));
	for (i = 0; i < m->command_list->n_commands; i++) {
		c = jat(js, i);
		ci = m->command_list->commands[i];
		assert_string_equal(ci->name, S(jget(c, "name")));
		assert_string_equal(ci->description,
		    S(jget(c, "description")));
		assert_string_equal(ci->agent, S(jget(c, "agent")));
		assert_string_equal(ci->model, S(jget(c, "model")));
		assert_string_equal(ci->source, S(jget(c, "source")));
		assert_int_equal(ci->subtask, B(jget(c, "subtask")));
		h = jget(c, "hints");
		assert_int_equal(ci->n_hints, jcount(h));
		for (k = 0; k < ci->n_hints; k++)
			assert_string_equal(ci->hints[k], S(jat(h, k)));
	}
	wsc_msg_free(m);
	expect_upstream(e, "GET", "/command", "GET /command\n");
	wsc_close(&w);
}

/* The gunzipped /provider document. */
static const char *
provider_doc(void)
{
	return keep(fx_load("provider.json.gz", NULL));
}

static int
in_array(const char *arr, const char *s)
{
	size_t i;

	for (i = 0; jat(arr, i) != NULL; i++)
		if (strcmp(S(jat(arr, i)), s) == 0)
			return 1;
	return 0;
}

#define MAX_MODELS	4096
#define MAX_PROVIDERS	1024

static void
check_provider(const Opencode__ProviderInfo *pi, const char *pj,
    const char *doc)
{
	static const char *keys[MAX_MODELS], *vals[MAX_MODELS];
	static size_t keylens[MAX_MODELS];
	const char *mj;
	size_t n, i, k;

	assert_string_equal(pi->id, S(jget(pj, "id")));
	assert_string_equal(pi->name, S(jget(pj, "name")));
	assert_int_equal(pi->connected,
	    in_array(jget(doc, "connected"), pi->id));
	assert_string_equal(pi->default_model_id,
	    S(jget(jget(doc, "default"), pi->id)));
	n = jmembers(jget(pj, "models"), keys, keylens, vals, MAX_MODELS);
	assert_true(n <= MAX_MODELS);
	assert_int_equal(pi->n_models, n);
	/* Every model, found by its key (in the document's order first). */
	for (i = 0; i < pi->n_models; i++) {
		k = i;
		if (keylens[k] != strlen(pi->models[i]->id) ||
		    strncmp(keys[k], pi->models[i]->id, keylens[k]) != 0)
			for (k = 0; k < n; k++)
				if (keylens[k] == strlen(pi->models[i]->id) &&
				    strncmp(keys[k], pi->models[i]->id,
				    keylens[k]) == 0)
					break;
		if (k == n)
			fail_msg("%s: model %s is not in the document", pi->id,
			    pi->models[i]->id);
		mj = vals[k];
		assert_string_equal(pi->models[i]->id, S(jget(mj, "id")));
		assert_string_equal(pi->models[i]->name, S(jget(mj, "name")));
		assert_string_equal(pi->models[i]->family,
		    S(jget(mj, "family")));
		assert_int_equal(pi->models[i]->reasoning,
		    B(jpath(mj, "capabilities.reasoning")));
		assert_int_equal(pi->models[i]->attachment,
		    B(jpath(mj, "capabilities.attachment")));
		assert_int_equal(pi->models[i]->toolcall,
		    B(jpath(mj, "capabilities.toolcall")));
		assert_int_equal(pi->models[i]->context_limit,
		    LL(jpath(mj, "limit.context")));
		assert_int_equal(pi->models[i]->output_limit,
		    LL(jpath(mj, "limit.output")));
		assert_true(fabs(pi->models[i]->cost_input -
		    D(jpath(mj, "cost.input"))) < 1e-9);
		assert_true(fabs(pi->models[i]->cost_output -
		    D(jpath(mj, "cost.output"))) < 1e-9);
	}
}

static void
test_list_providers(void **state)
{
	static const char *all[MAX_PROVIDERS];
	struct it_env *e = *state;
	const char *doc = provider_doc(), *connected = jget(doc, "connected");
	Opencode__ServerMessage *m;
	Opencode__ProviderList *pl;
	struct rq r;
	struct wsc w;
	size_t i, k, n, nconn = 0, len;
	uint8_t *buf;

	n = jarray(jget(doc, "all"), all, MAX_PROVIDERS);
	assert_true(n > 100 && n <= MAX_PROVIDERS);
	for (i = 0; i < n; i++)
		nconn += in_array(connected, S(jget(all[i], "id")));
	assert_true(nconn >= 1);
	it_client(e, &w);

	m = send_rq(&w, RK_PROVIDERS, 41);
	it_expect_case(m, 41, SMP(PROVIDER_LIST), "ListProviders");
	pl = m->provider_list;
	assert_int_equal(pl->n_providers, nconn);
	for (i = 0, k = 0; i < n; i++) {
		if (!in_array(connected, S(jget(all[i], "id"))))
			continue;
		assert_true(pl->providers[k]->connected);
		check_provider(pl->providers[k++], all[i], doc);
	}
	wsc_msg_free(m);
	expect_upstream(e, "GET", "/provider", "GET /provider\n");

	rq_make(&r, RK_PROVIDERS, 42)->list_providers->include_all = 1;
	m = it_call(&w, &r.cm, T_REPLY);
	it_expect_case(m, 42, SMP(PROVIDER_LIST), "ListProviders include_all");
	pl = m->provider_list;
	assert_int_equal(pl->n_providers, n);
	for (i = 0; i < n; i++)
		check_provider(pl->providers[i], all[i], doc);
	/* options.apiKey of the config is in the document, never here. */
	len = opencode__server_message__get_packed_size(m);
	assert_non_null(buf = malloc(len));
	opencode__server_message__pack(m, buf);
	if (memmem(buf, len, "mock-key-not-a-secret", 21) != NULL)
		fail_msg("an apiKey from options reached the reply");
	free(buf);
	wsc_msg_free(m);
	wsc_close(&w);
}

/* ---- questions, permissions, todos, diffs ---- */

static void
test_reply_reject_question(void **state)
{
	struct it_env *e = *state;
	const char *body, *a;
	Opencode__ServerMessage *m;
	Opencode__QuestionAnswer qa2, *qap[2];
	char *labels2[2] = { "Blue", "Typed by the user" };
	struct rq r;
	struct wsc w;

	it_client(e, &w);
	m = send_rq(&w, RK_REPLY_QUESTION, 50);
	it_expect_case(m, 50, SMP(_NOT_SET), "ReplyQuestion");
	wsc_msg_free(m);
	body = expect_upstream(e, "POST", "/question/",
	    "POST /question/" FX_QUESTION "/reply\n");
	a = jget(body, "answers");
	assert_int_equal(jcount(a), 1);
	assert_int_equal(jcount(jat(a, 0)), 1);
	assert_string_equal(S(jat(jat(a, 0), 0)), "Red");

	/* Two questions, the second with two labels, in order. */
	rq_make(&r, RK_REPLY_QUESTION, 51);
	opencode__question_answer__init(&qa2);
	qa2.n_labels = 2;
	qa2.labels = labels2;
	qap[0] = &r.qa;
	qap[1] = &qa2;
	r.rq.n_answers = 2;
	r.rq.answers = qap;
	m = it_call(&w, &r.cm, T_REPLY);
	it_expect_case(m, 51, SMP(_NOT_SET), "ReplyQuestion, two answers");
	wsc_msg_free(m);
	body = expect_upstream(e, "POST", "/question/",
	    "POST /question/" FX_QUESTION "/reply\n");
	a = jget(body, "answers");
	assert_int_equal(jcount(a), 2);
	assert_string_equal(S(jat(jat(a, 0), 0)), "Red");
	assert_int_equal(jcount(jat(a, 1)), 2);
	assert_string_equal(S(jat(jat(a, 1), 0)), "Blue");
	assert_string_equal(S(jat(jat(a, 1), 1)), "Typed by the user");

	m = send_rq(&w, RK_REJECT_QUESTION, 52);
	it_expect_case(m, 52, SMP(_NOT_SET), "RejectQuestion");
	wsc_msg_free(m);
	expect_upstream(e, "POST", "/question/",
	    "POST /question/" FX_QUESTION "/reject\n");

	rq_make(&r, RK_REPLY_QUESTION, 53)->reply_question->question_id =
	    UNKNOWN_QUESTION;
	m = it_call(&w, &r.cm, T_REPLY);
	it_expect_error(m, 53, "NOT_FOUND", "ReplyQuestion, unknown question");
	wsc_msg_free(m);
	rq_make(&r, RK_REJECT_QUESTION, 54)->reject_question->question_id =
	    UNKNOWN_QUESTION;
	m = it_call(&w, &r.cm, T_REPLY);
	it_expect_error(m, 54, "NOT_FOUND", "RejectQuestion, unknown question");
	wsc_msg_free(m);
	wsc_close(&w);
}

static void
test_list_pending(void **state)
{
	struct it_env *e = *state;
	const char *perms = served(e, "GET", "/permission");
	const char *qs = served(e, "GET", "/question");
	Opencode__ServerMessage *m;
	struct wsc w;
	size_t i;

	assert_true(jcount(perms) >= 1 && jcount(qs) >= 1);
	it_fake_post(e, "/__fake/reset", "");
	it_client(e, &w);
	m = send_rq(&w, RK_PENDING, 60);
	it_expect_case(m, 60, SMP(PENDING_LIST), "ListPending");
	assert_int_equal(m->pending_list->n_permissions, jcount(perms));
	for (i = 0; i < m->pending_list->n_permissions; i++)
		check_permission(m->pending_list->permissions[i],
		    jat(perms, i));
	assert_int_equal(m->pending_list->n_questions, jcount(qs));
	for (i = 0; i < m->pending_list->n_questions; i++)
		check_question(m->pending_list->questions[i], jat(qs, i));
	wsc_msg_free(m);
	expect_upstream(e, "GET", "/permission", "GET /permission\n");
	expect_upstream(e, "GET", "/question", "GET /question\n");
	assert_int_equal(it_fake_calls(e), 2);
	wsc_close(&w);
}

/* ListPending is two calls: a failure of either is the reply. */
static void
test_list_pending_errors(void **state)
{
	struct it_env *e = *state;
	Opencode__ServerMessage *m;
	struct wsc w;

	it_client(e, &w);
	assert_int_equal(it_fake_mode(e, "status 500"), 0);
	m = send_rq(&w, RK_PENDING, 61);
	it_expect_error(m, 61, "UPSTREAM_ERROR", "ListPending, 500");
	wsc_msg_free(m);
	assert_int_equal(it_fake_mode(e, "html"), 0);
	m = send_rq(&w, RK_PENDING, 62);
	it_expect_error(m, 62, "UPSTREAM_ERROR", "ListPending, html");
	wsc_msg_free(m);
	wsc_close(&w);
}

static void
test_get_todos(void **state)
{
	struct it_env *e = *state;
	const char *js = served(e, "GET", "/session/" FX_SESSION "/todo");
	Opencode__ServerMessage *m;
	struct rq r;
	struct wsc w;

	it_client(e, &w);
	m = send_rq(&w, RK_TODOS, 70);
	it_expect_case(m, 70, SMP(TODO_LIST), "GetTodos");
	check_todos(m->todo_list, js, FX_SESSION);
	wsc_msg_free(m);
	expect_upstream(e, "GET", "/session/",
	    "GET /session/" FX_SESSION "/todo\n");
	rq_make(&r, RK_TODOS, 71)->get_todos->session_id = UNKNOWN_SESSION;
	m = it_call(&w, &r.cm, T_REPLY);
	it_expect_error(m, 71, "NOT_FOUND", "GetTodos, unknown session");
	wsc_msg_free(m);
	wsc_close(&w);
}

static void
test_get_diff(void **state)
{
	struct it_env *e = *state;
	const char *all = served(e, "GET", "/session/" FX_SESSION "/diff");
	const char *one = served(e, "GET", "/session/" FX_SESSION
	    "/diff?messageID=" FX_MESSAGE);
	Opencode__ServerMessage *m;
	struct rq r;
	struct wsc w;

	it_client(e, &w);
	m = send_rq(&w, RK_DIFF, 72);
	it_expect_case(m, 72, SMP(DIFF_LIST), "GetDiff");
	check_diffs(m->diff_list, all, FX_SESSION, "");
	wsc_msg_free(m);
	expect_upstream(e, "GET", "/session/",
	    "GET /session/" FX_SESSION "/diff\n");

	rq_make(&r, RK_DIFF, 73);
	r.gd._message_id_case = OPENCODE__GET_DIFF___MESSAGE_ID_MESSAGE_ID;
	r.gd.message_id = FX_MESSAGE;
	m = it_call(&w, &r.cm, T_REPLY);
	it_expect_case(m, 73, SMP(DIFF_LIST), "GetDiff of a message");
	check_diffs(m->diff_list, one, FX_SESSION, FX_MESSAGE);
	wsc_msg_free(m);
	expect_upstream(e, "GET", "/session/",
	    "GET /session/" FX_SESSION "/diff?messageID=" FX_MESSAGE "\n");
	/* The real server answers 200 [] for an unknown session here. */
	rq_make(&r, RK_DIFF, 74)->get_diff->session_id = UNKNOWN_SESSION;
	m = it_call(&w, &r.cm, T_REPLY);
	it_expect_case(m, 74, SMP(DIFF_LIST), "GetDiff, unknown session");
	check_diffs(m->diff_list, "[]", UNKNOWN_SESSION, "");
	wsc_msg_free(m);
	wsc_close(&w);
}

/* ---- summarize, commands, files ---- */

static void
test_summarize(void **state)
{
	struct it_env *e = *state;
	const char *body;
	Opencode__ServerMessage *m;
	struct rq r;
	struct wsc w;

	it_client(e, &w);
	m = send_rq(&w, RK_SUMMARIZE, 80);
	it_expect_case(m, 80, SMP(_NOT_SET), "SummarizeSession");
	wsc_msg_free(m);
	body = expect_upstream(e, "POST", "/session/",
	    "POST /session/" FX_SESSION "/summarize\n");
	assert_string_equal(S(jget(body, "providerID")), "mock");
	assert_string_equal(S(jget(body, "modelID")), "mock-1");
	rq_make(&r, RK_SUMMARIZE, 81)->summarize_session->session_id =
	    UNKNOWN_SESSION;
	m = it_call(&w, &r.cm, T_REPLY);
	it_expect_error(m, 81, "NOT_FOUND", "SummarizeSession, unknown");
	wsc_msg_free(m);
	wsc_close(&w);
}

static void
test_run_command(void **state)
{
	struct it_env *e = *state;
	const char *body;
	Opencode__ServerMessage *m;
	struct rq r;
	struct wsc w;

	it_client(e, &w);
	m = send_rq(&w, RK_RUN_COMMAND, 90);
	it_expect_case(m, 90, SMP(_NOT_SET), "RunCommand");
	wsc_msg_free(m);
	body = expect_upstream(e, "POST", "/session/",
	    "POST /session/" FX_SESSION "/command\n");
	assert_string_equal(S(jget(body, "command")), "init");
	assert_string_equal(S(jget(body, "arguments")), "first second");
	assert_null(jget(body, "agent"));
	assert_null(jget(body, "model"));

	/* agent and model ("provider/model", the server's shape). */
	rq_make(&r, RK_RUN_COMMAND, 91);
	r.rc._agent_case = OPENCODE__RUN_COMMAND___AGENT_AGENT;
	r.rc.agent = "plan";
	r.rc._provider_id_case =
	    OPENCODE__RUN_COMMAND___PROVIDER_ID_PROVIDER_ID;
	r.rc.provider_id = "mock";
	r.rc._model_id_case = OPENCODE__RUN_COMMAND___MODEL_ID_MODEL_ID;
	r.rc.model_id = "mock-1";
	m = it_call(&w, &r.cm, T_REPLY);
	it_expect_case(m, 91, SMP(_NOT_SET), "RunCommand with a model");
	wsc_msg_free(m);
	body = expect_upstream(e, "POST", "/session/",
	    "POST /session/" FX_SESSION "/command\n");
	assert_string_equal(S(jget(body, "agent")), "plan");
	assert_string_equal(S(jget(body, "model")), "mock/mock-1");

	rq_make(&r, RK_RUN_COMMAND, 92)->run_command->session_id =
	    UNKNOWN_SESSION;
	m = it_call(&w, &r.cm, T_REPLY);
	it_expect_error(m, 92, "NOT_FOUND", "RunCommand, unknown session");
	wsc_msg_free(m);
	/* An unknown command is 500 UnknownError (error-command-unknown). */
	rq_make(&r, RK_RUN_COMMAND, 93)->run_command->command =
	    "no-such-command";
	m = it_call(&w, &r.cm, T_REPLY);
	it_expect_error(m, 93, "UPSTREAM_ERROR", "RunCommand, unknown command");
	wsc_msg_free(m);
	wsc_close(&w);
}

static int
command_arrived(struct it_env *e, const char *sid)
{
	char prefix[128], *s;
	int64_t deadline = it_now_ms() + T_REPLY;

	snprintf(prefix, sizeof(prefix), "/session/%s/command", sid);
	do {
		if ((s = it_fake_last(e, "POST", prefix)) != NULL) {
			free(s);
			return 1;
		}
		usleep(20000);
	} while (it_now_ms() < deadline);
	return 0;
}

/* Sends RunCommand id on sid and waits until it reached the upstream. */
static void
command_held(struct it_env *e, struct wsc *w, uint64_t id, const char *sid)
{
	struct rq r;

	rq_make(&r, RK_RUN_COMMAND, id)->run_command->session_id = (char *)sid;
	if (wsc_send_msg(w, &r.cm, T_IO) == -1)
		fail_msg("send failed");
	assert_true(command_arrived(e, sid));
}

/* CancelRequest id for FX_SESSION on w: its empty reply. */
static void
cancel_session(struct wsc *w, uint64_t id, const char *what)
{
	Opencode__CancelRequest cr = OPENCODE__CANCEL_REQUEST__INIT;
	Opencode__ServerMessage *m;

	cr.session_id = FX_SESSION;
	m = it_request(w, id, CMP(CANCEL_REQUEST), &cr, T_REPLY);
	it_expect_case(m, id, SMP(_NOT_SET), what);
	wsc_msg_free(m);
}

/* The reply to id, which must be empty. */
static void
expect_empty_reply(struct wsc *w, uint64_t id, const char *what)
{
	Opencode__ServerMessage *m;

	m = wsc_recv_reply(w, id, T_REPLY);
	it_expect_case(m, id, SMP(_NOT_SET), what);
	wsc_msg_free(m);
}

/*
 * A RunCommand the upstream never answers (not even after the abort) is
 * ended by a CancelRequest on its session: both replies arrive, empty; a
 * RunCommand on another session stays pending.
 */
static void
test_run_command_cancel(void **state)
{
	struct it_env *e = *state;
	Opencode__ServerMessage *m;
	struct wsc w;

	it_client(e, &w);
	assert_int_equal(it_fake_command(e, "stall"), 0);
	command_held(e, &w, 100, FX_SESSION);
	command_held(e, &w, 101, OTHER_SESSION);
	/* Nothing yet: the long call is still running. */
	assert_null(m = wsc_recv_reply(&w, 100, 500));

	cancel_session(&w, 102, "CancelRequest");
	expect_upstream(e, "POST", "/session/",
	    "POST /session/" FX_SESSION "/abort\n");
	expect_empty_reply(&w, 100, "RunCommand after its cancel");
	/* The other session's command was not ended. */
	assert_null(m = wsc_recv_reply(&w, 101, 1000));
	wsc_close(&w);
}

/* A CancelRequest from another connection ends it too. */
static void
test_run_command_cancel_other_conn(void **state)
{
	struct it_env *e = *state;
	struct wsc w, w2;

	it_client(e, &w);
	it_client(e, &w2);
	assert_int_equal(it_fake_command(e, "stall"), 0);
	command_held(e, &w, 103, FX_SESSION);
	cancel_session(&w2, 104, "CancelRequest, 2nd connection");
	expect_empty_reply(&w, 103, "RunCommand, cancelled elsewhere");
	wsc_close(&w2);
	wsc_close(&w);
}

/*
 * RunCommand is the long call: 10 minutes, not the 30 s of every other
 * request.  After 35 s it is still pending (a 30 s timeout would have
 * answered UPSTREAM_TIMEOUT), and a GetSession on the same connection is
 * answered meanwhile.
 */
static void
test_run_command_long(void **state)
{
	struct it_env *e = *state;
	Opencode__ServerMessage *m;
	struct wsc w;

	it_client(e, &w);
	assert_int_equal(it_fake_command(e, "stall"), 0);
	command_held(e, &w, 105, FX_SESSION);
	m = send_rq(&w, RK_GET_SESSION, 106);
	it_expect_case(m, 106, SMP(SESSION_INFO), "GetSession during a command");
	wsc_msg_free(m);
	m = wsc_recv_reply(&w, 105, 35000);
	if (m != NULL)
		fail_msg("RunCommand ended within 35 s: %s", it_describe(m));
	wsc_close(&w);
}

/* The fake answers the held command once the abort reaches it. */
static void
test_run_command_abort_answered(void **state)
{
	struct it_env *e = *state;
	Opencode__ServerMessage *m;
	struct wsc w;

	it_client(e, &w);
	assert_int_equal(it_fake_command(e, "hang"), 0);
	command_held(e, &w, 110, FX_SESSION);
	cancel_session(&w, 111, "CancelRequest");
	expect_empty_reply(&w, 110, "RunCommand, aborted upstream");
	/* Exactly one reply: nothing more for 110. */
	assert_null(m = wsc_recv_reply(&w, 110, 1000));
	wsc_close(&w);
}

static void
test_send_message_files(void **state)
{
	struct it_env *e = *state;
	Opencode__SendMessage sm = OPENCODE__SEND_MESSAGE__INIT;
	Opencode__FileAttachment f1 = OPENCODE__FILE_ATTACHMENT__INIT;
	Opencode__FileAttachment f2 = OPENCODE__FILE_ATTACHMENT__INIT;
	Opencode__FileAttachment *files[2] = { &f1, &f2 };
	Opencode__ServerMessage *m;
	const char *body, *parts, *p;
	struct wsc w;

	it_client(e, &w);
	f1.mime = "image/png";
	f1.filename = "dot.png";
	f1.url = "data:image/png;base64,iVBORw0KGgo=";
	f2.mime = "text/plain";
	f2.filename = "hello.txt";
	f2.url = "file:///home/user/project/hello.txt";
	sm.session_id = FX_SESSION;
	sm.text = "describe these";
	sm.n_files = 2;
	sm.files = files;
	m = it_request(&w, 120, CMP(SEND_MESSAGE), &sm, T_REPLY);
	it_expect_case(m, 120, SMP(_NOT_SET), "SendMessage with files");
	wsc_msg_free(m);
	body = expect_upstream(e, "POST", "/session/",
	    "POST /session/" FX_SESSION "/prompt_async\n");
	parts = jget(body, "parts");
	assert_int_equal(jcount(parts), 3);
	p = jat(parts, 0);
	assert_string_equal(S(jget(p, "type")), "text");
	assert_string_equal(S(jget(p, "text")), "describe these");
	p = jat(parts, 1);
	assert_string_equal(S(jget(p, "type")), "file");
	assert_string_equal(S(jget(p, "mime")), f1.mime);
	assert_string_equal(S(jget(p, "filename")), f1.filename);
	assert_string_equal(S(jget(p, "url")), f1.url);
	/* Every member the captured request's file part has. */
	{
		const char *cap = fixture("prompt-async-file.http", NULL);
		const char *req = strstr(cap, "\n> {");

		assert_non_null(req);
		check_same_keys(p, jat(jget(req + 3, "parts"), 1));
		check_same_keys(jat(jget(req + 3, "parts"), 1), p);
	}
	p = jat(parts, 2);
	assert_string_equal(S(jget(p, "type")), "file");
	assert_string_equal(S(jget(p, "mime")), f2.mime);
	assert_string_equal(S(jget(p, "filename")), f2.filename);
	assert_string_equal(S(jget(p, "url")), f2.url);
	wsc_close(&w);
}

/* ---- error mappings ---- */

/* Every v2 request, for each failure of the upstream. */
static void
test_v2_error_mappings(void **state)
{
	/* in: the fake's mode, want: the error code of every reply. */
	static const struct str_case cases[] = {
		{ "status 404", "NOT_FOUND" },
		{ "status 500", "UPSTREAM_ERROR" },
		{ "html", "UPSTREAM_ERROR" },
	};
	struct it_env *e = *state;
	Opencode__ServerMessage *m;
	struct wsc w;
	char what[96];
	uint64_t id = 200;
	size_t i;
	int k;

	it_client(e, &w);
	for (i = 0; i < NCASES(cases); i++) {
		assert_int_equal(it_fake_mode(e, cases[i].in), 0);
		for (k = 0; k < RK_COUNT; k++) {
			snprintf(what, sizeof(what), "%s, upstream %s",
			    rk_name[k], cases[i].in);
			m = send_rq(&w, (enum rk)k, id);
			it_expect_error(m, id, cases[i].want, what);
			if (strcmp(cases[i].in, "status 500") == 0 &&
			    strstr(m->error->message, "500") == NULL)
				fail_msg("%s: the message does not name the "
				    "status: %s", what, m->error->message);
			wsc_msg_free(m);
			id++;
		}
	}
	wsc_close(&w);
}

/*
 * A 200 whose JSON is not the shape asked for (the fake's "status 200"
 * body is an error object where these expect an array) is UPSTREAM_ERROR
 * or PARSE_ERROR, never a half-mapped reply.
 */
static void
test_v2_wrong_shape(void **state)
{
	static const enum rk kinds[] = {
		RK_LIST_MESSAGES, RK_COMMANDS, RK_PENDING, RK_TODOS, RK_DIFF
	};
	struct it_env *e = *state;
	Opencode__ServerMessage *m;
	struct wsc w;
	size_t i;

	it_client(e, &w);
	assert_int_equal(it_fake_mode(e, "status 200"), 0);
	for (i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		m = send_rq(&w, kinds[i], 250 + i);
		if (m == NULL || m->payload_case != SMP(ERROR) ||
		    (strcmp(m->error->code, "UPSTREAM_ERROR") != 0 &&
		    strcmp(m->error->code, "PARSE_ERROR") != 0))
			fail_msg("%s, an object where an array belongs: %s",
			    rk_name[kinds[i]], it_describe(m));
		wsc_msg_free(m);
	}
	wsc_close(&w);
}

/* ---- bad input: INVALID_REQUEST and no upstream call ---- */

static void
test_v2_invalid_requests(void **state)
{
	struct it_env *e = *state;
	Opencode__ClientMessage cm = OPENCODE__CLIENT_MESSAGE__INIT;
	Opencode__SendMessage sm = OPENCODE__SEND_MESSAGE__INIT;
	Opencode__FileAttachment f = OPENCODE__FILE_ATTACHMENT__INIT;
	Opencode__FileAttachment *files[1] = { &f };
	Opencode__QuestionAnswer empty = OPENCODE__QUESTION_ANSWER__INIT;
	Opencode__QuestionAnswer *ap[1] = { &empty };
	char *blank[1] = { "" };
	Opencode__ServerMessage *m;
	struct rq r;
	struct wsc w;
	long before, after;
	uint64_t id = 300;
	static const char *const bad_urls[] = {
		"http://example.com/x.png", "https://example.com/x",
		"file://relative/x", "file:", "ftp:///x", "", "javascript:1"
	};
	size_t i;

#define BAD(what) do {							\
	m = it_call(&w, &r.cm, T_REPLY);					\
	it_expect_error(m, r.cm.request_id, "INVALID_REQUEST", what);	\
	wsc_msg_free(m);						\
} while (0)

	it_client(e, &w);
	assert_true((before = it_fake_calls(e)) >= 0);

	rq_make(&r, RK_GET_SESSION, id++)->get_session->session_id =
	    "ses_a/../b";
	BAD("GetSession ses_a/../b");
	rq_make(&r, RK_GET_SESSION, id++)->get_session->session_id = "ses_";
	BAD("GetSession ses_");
	rq_make(&r, RK_UPDATE_SESSION, id++)->update_session->session_id =
	    "ses_a/../b";
	BAD("UpdateSession ses_a/../b");
	rq_make(&r, RK_UPDATE_SESSION, id++)->update_session->title =
	    "bad \xff utf-8";
	BAD("UpdateSession, invalid UTF-8 title");
	rq_make(&r, RK_FORK, id++);
	r.fs._message_id_case = OPENCODE__FORK_SESSION___MESSAGE_ID_MESSAGE_ID;
	r.fs.message_id = "msg_";
	BAD("ForkSession msg_");
	rq_make(&r, RK_FORK, id++)->fork_session->session_id = "..";
	BAD("ForkSession ..");

	rq_make(&r, RK_LIST_MESSAGES, id++);
	r.lm._before_case = OPENCODE__LIST_MESSAGES___BEFORE_BEFORE;
	r.lm.before = "prt_21626379e001UXsmWtXmAuCWeX";
	BAD("ListMessages before a part id");
	rq_make(&r, RK_LIST_MESSAGES, id++);
	r.lm._before_case = OPENCODE__LIST_MESSAGES___BEFORE_BEFORE;
	r.lm.before = "msg_x&limit=1";
	BAD("ListMessages before msg_x&limit=1");
	rq_make(&r, RK_LIST_MESSAGES, id++);
	r.lm._before_case = OPENCODE__LIST_MESSAGES___BEFORE_BEFORE;
	r.lm.before = "msg_";
	BAD("ListMessages before msg_");
	rq_make(&r, RK_LIST_MESSAGES, id++);
	r.lm._limit_case = OPENCODE__LIST_MESSAGES___LIMIT_LIMIT;
	r.lm.limit = 0;
	BAD("ListMessages limit 0");
	rq_make(&r, RK_LIST_MESSAGES, id++);
	r.lm._limit_case = OPENCODE__LIST_MESSAGES___LIMIT_LIMIT;
	r.lm.limit = 1001;
	BAD("ListMessages limit 1001");
	rq_make(&r, RK_LIST_MESSAGES, id++)->list_messages->session_id =
	    "ses_a/../b";
	BAD("ListMessages ses_a/../b");

	rq_make(&r, RK_REVERT, id++)->revert_session->message_id = "msg_";
	BAD("RevertSession msg_");
	rq_make(&r, RK_REVERT, id++)->revert_session->message_id = "";
	BAD("RevertSession without a message");
	rq_make(&r, RK_REVERT, id++);
	r.rv._part_id_case = OPENCODE__REVERT_SESSION___PART_ID_PART_ID;
	r.rv.part_id = "msg_21626378d001coYGuelMlqQmRq";
	BAD("RevertSession, a message id as part id");
	rq_make(&r, RK_UNREVERT, id++)->unrevert_session->session_id =
	    "msg_21626378d001coYGuelMlqQmRq";
	BAD("UnrevertSession of a message id");

	rq_make(&r, RK_REPLY_QUESTION, id++)->reply_question->question_id =
	    "que_x y";
	BAD("ReplyQuestion que_x y");
	rq_make(&r, RK_REPLY_QUESTION, id++)->reply_question->question_id =
	    "per_21626500a001QqQqQqQqQqQqQq";
	BAD("ReplyQuestion of a permission id");
	rq_make(&r, RK_REPLY_QUESTION, id++);
	r.rq.answers = ap;
	BAD("ReplyQuestion with an empty answer");
	rq_make(&r, RK_REPLY_QUESTION, id++);
	r.qa.labels = blank;
	BAD("ReplyQuestion with an empty label");
	rq_make(&r, RK_REJECT_QUESTION, id++)->reject_question->question_id =
	    "que_x y";
	BAD("RejectQuestion que_x y");
	rq_make(&r, RK_REJECT_QUESTION, id++)->reject_question->question_id =
	    "que_../x";
	BAD("RejectQuestion que_../x");

	rq_make(&r, RK_TODOS, id++)->get_todos->session_id = "ses_a/../b";
	BAD("GetTodos ses_a/../b");
	rq_make(&r, RK_DIFF, id++);
	r.gd._message_id_case = OPENCODE__GET_DIFF___MESSAGE_ID_MESSAGE_ID;
	r.gd.message_id = "msg_";
	BAD("GetDiff msg_");
	rq_make(&r, RK_DIFF, id++)->get_diff->session_id = "ses_a/../b";
	BAD("GetDiff ses_a/../b");
	rq_make(&r, RK_SUMMARIZE, id++)->summarize_session->session_id =
	    "ses_a/../b";
	BAD("SummarizeSession ses_a/../b");
	rq_make(&r, RK_RUN_COMMAND, id++)->run_command->session_id =
	    "ses_a/../b";
	BAD("RunCommand ses_a/../b");

	/* File attachments: file:///absolute or data: only. */
	f.mime = "image/png";
	f.filename = "x.png";
	sm.session_id = FX_SESSION;
	sm.text = "look";
	sm.n_files = 1;
	sm.files = files;
	cm.payload_case = CMP(SEND_MESSAGE);
	cm.send_message = &sm;
	for (i = 0; i < sizeof(bad_urls) / sizeof(bad_urls[0]); i++) {
		char what[96];

		f.url = (char *)bad_urls[i];
		cm.request_id = id++;
		snprintf(what, sizeof(what), "file url \"%s\"", bad_urls[i]);
		m = it_call(&w, &cm, T_REPLY);
		it_expect_error(m, cm.request_id, "INVALID_REQUEST", what);
		wsc_msg_free(m);
	}
#undef BAD

	/* Nothing of it reached the upstream. */
	after = it_fake_calls(e);
	if (after != before) {
		char *log = it_fake_log(e);

		fail_msg("%ld upstream calls for invalid requests:\n%s",
		    after - before, log != NULL ? log : "?");
	}
	wsc_close(&w);
}

/* ---- events ---- */

#define EV_Q \
	"{\"id\":\"evt_v2q1\",\"type\":\"question.asked\",\"properties\":" \
	"{\"id\":\"que_ev1\",\"sessionID\":\"%s\",\"questions\":[{" \
	"\"question\":\"Pick one\",\"header\":\"Pick\",\"options\":[{" \
	"\"label\":\"A\",\"description\":\"first\"},{\"label\":\"B\"," \
	"\"description\":\"second\"}],\"multiple\":true}],\"tool\":{" \
	"\"messageID\":\"msg_ev1\",\"callID\":\"call_ev1\"}}}"
#define EV_QREPLIED \
	"{\"id\":\"evt_v2q2\",\"type\":\"question.replied\",\"properties\":" \
	"{\"sessionID\":\"%s\",\"requestID\":\"que_ev1\",\"answers\":" \
	"[[\"A\"]]}}"
#define EV_QREJECTED \
	"{\"id\":\"evt_v2q3\",\"type\":\"question.rejected\",\"properties\":" \
	"{\"sessionID\":\"%s\",\"requestID\":\"que_ev2\"}}"
#define EV_PREPLIED \
	"{\"id\":\"evt_v2p1\",\"type\":\"permission.replied\",\"properties\":" \
	"{\"sessionID\":\"%s\",\"requestID\":\"per_ev1\",\"reply\":" \
	"\"always\"}}"
#define EV_TODO \
	"{\"id\":\"evt_v2t1\",\"type\":\"todo.updated\",\"properties\":{" \
	"\"sessionID\":\"%s\",\"todos\":[{\"content\":\"Plan\",\"status\":" \
	"\"completed\",\"priority\":\"high\"},{\"content\":\"Build \\u00e9\"," \
	"\"status\":\"in_progress\",\"priority\":\"low\"}]}}"
#define EV_DIFF \
	"{\"id\":\"evt_v2d1\",\"type\":\"session.diff\",\"properties\":{" \
	"\"sessionID\":\"%s\",\"diff\":[{\"file\":\"a.txt\",\"patch\":" \
	"\"@@ -1 +1,2 @@\\n-a\\n+b\\n+c\\n\",\"additions\":2,\"deletions\":1," \
	"\"status\":\"modified\"}]}}"
#define EV_MREMOVED \
	"{\"id\":\"evt_v2r1\",\"type\":\"message.removed\",\"properties\":{" \
	"\"sessionID\":\"%s\",\"messageID\":\"msg_ev2\"}}"
#define EV_PREMOVED \
	"{\"id\":\"evt_v2r2\",\"type\":\"message.part.removed\"," \
	"\"properties\":{\"sessionID\":\"%s\",\"messageID\":\"msg_ev2\"," \
	"\"partID\":\"prt_ev2\"}}"
#define EV_USER \
	"{\"id\":\"evt_v2u1\",\"type\":\"message.updated\",\"properties\":{" \
	"\"sessionID\":\"%s\",\"info\":{\"id\":\"msg_ev3\",\"sessionID\":" \
	"\"%s\",\"role\":\"user\",\"time\":{\"created\":1795667933069}," \
	"\"agent\":\"build\",\"model\":{\"providerID\":\"mock\",\"modelID\":" \
	"\"mock-1\"}}}}"
#define EV_REASONING \
	"{\"id\":\"evt_v2k1\",\"type\":\"message.part.updated\"," \
	"\"properties\":{\"sessionID\":\"%s\",\"part\":{\"id\":\"prt_ev4\"," \
	"\"messageID\":\"msg_ev4\",\"sessionID\":\"%s\",\"type\":" \
	"\"reasoning\",\"text\":\"\",\"time\":{\"start\":1795667933100}}," \
	"\"time\":1795667933100}}"
#define EV_RDELTA \
	"{\"id\":\"evt_v2k2\",\"type\":\"message.part.delta\",\"properties\":" \
	"{\"sessionID\":\"%s\",\"messageID\":\"msg_ev4\",\"partID\":" \
	"\"prt_ev4\",\"field\":\"text\",\"delta\":\"Thinking\"}}"
#define EV_TEXT \
	"{\"id\":\"evt_v2k3\",\"type\":\"message.part.updated\"," \
	"\"properties\":{\"sessionID\":\"%s\",\"part\":{\"id\":\"prt_ev5\"," \
	"\"messageID\":\"msg_ev4\",\"sessionID\":\"%s\",\"type\":\"text\"," \
	"\"text\":\"\",\"time\":{\"start\":1795667933200}},\"time\":" \
	"1795667933200}}"
#define EV_TDELTA \
	"{\"id\":\"evt_v2k4\",\"type\":\"message.part.delta\",\"properties\":" \
	"{\"sessionID\":\"%s\",\"messageID\":\"msg_ev4\",\"partID\":" \
	"\"prt_ev5\",\"field\":\"text\",\"delta\":\"Answer\"}}"
/* The last one: once it arrives, everything before it was handled. */
#define EV_SENTINEL \
	"{\"id\":\"evt_v2end\",\"type\":\"message.removed\",\"properties\":{" \
	"\"sessionID\":\"%s\",\"messageID\":\"msg_sentinel\"}}"

/* The v2 events of session sid, one a line, then a sentinel of endsid. */
static char *
v2_events(const char *sid, const char *endsid)
{
	char *s;

	if (asprintf(&s, EV_Q "\n" EV_QREPLIED "\n" EV_QREJECTED "\n"
	    EV_PREPLIED "\n" EV_TODO "\n" EV_DIFF "\n" EV_MREMOVED "\n"
	    EV_PREMOVED "\n" EV_USER "\n" EV_REASONING "\n" EV_RDELTA "\n"
	    EV_TEXT "\n" EV_TDELTA "\n" EV_SENTINEL "\n", sid, sid, sid, sid,
	    sid, sid, sid, sid, sid, sid, sid, sid, sid, sid, sid, sid,
	    endsid) == -1)
		fail_msg("asprintf");
	return keep(s);
}

#define MAX_EVENTS	64

/* Events until the sentinel's MessageRemoved (kept in out). */
static size_t
collect(struct wsc *w, Opencode__ServerMessage **out)
{
	Opencode__ServerMessage *m = NULL;
	int64_t deadline = it_now_ms() + T_REPLY;
	size_t n = 0;

	for (;;) {
		int left = (int)(deadline - it_now_ms());

		if (left <= 0 || (m = wsc_recv_msg(w, NULL, left)) == NULL)
			fail_msg("the sentinel event never arrived (%zu "
			    "events before)", n);
		assert_int_equal(m->request_id, 0);
		if (m->payload_case == SMP(MESSAGE_REMOVED) &&
		    strcmp(m->message_removed->message_id, "msg_sentinel") ==
		    0) {
			wsc_msg_free(m);
			return n;
		}
		if (m->payload_case == SMP(UPSTREAM_STATUS) ||
		    n == MAX_EVENTS) {
			wsc_msg_free(m);
			continue;
		}
		out[n++] = m;
	}
}

static void
subscribe(struct wsc *w, uint64_t id, const char *sid)
{
	Opencode__Subscribe sub = OPENCODE__SUBSCRIBE__INIT;
	Opencode__ServerMessage *m;
	char *ids[1] = { (char *)sid };

	sub.n_session_ids = 1;
	sub.session_ids = ids;
	m = it_request(w, id, CMP(SUBSCRIBE), &sub, T_REPLY);
	it_expect_case(m, id, SMP(_NOT_SET), "Subscribe");
	wsc_msg_free(m);
}

/* The first collected event of that case (after *from), or NULL. */
static Opencode__ServerMessage *
find(Opencode__ServerMessage **ev, size_t n, size_t *from,
    Opencode__ServerMessage__PayloadCase c)
{
	size_t i;

	for (i = from != NULL ? *from : 0; i < n; i++)
		if (ev[i]->payload_case == c) {
			if (from != NULL)
				*from = i + 1;
			return ev[i];
		}
	return NULL;
}

static Opencode__ServerMessage *
must_find(Opencode__ServerMessage **ev, size_t n, size_t *from,
    Opencode__ServerMessage__PayloadCase c, const char *what)
{
	Opencode__ServerMessage *m = find(ev, n, from, c);

	if (m == NULL)
		fail_msg("no %s event arrived", what);
	return m;
}

static void
check_v2_events(Opencode__ServerMessage **ev, size_t n, const char *sid)
{
	Opencode__ServerMessage *m;
	const char *line, *lines = v2_events(sid, sid);
	size_t from = 0, i;

	/* question.asked, compared with the event's own properties. */
	m = must_find(ev, n, NULL, SMP(QUESTION_REQUEST), "question.asked");
	line = strstr(lines, "{\"id\":\"evt_v2q1\"");
	check_question(m->question_request, jget(line, "properties"));

	m = must_find(ev, n, &from, SMP(QUESTION_RESOLVED), "question.replied");
	assert_string_equal(m->question_resolved->session_id, sid);
	assert_string_equal(m->question_resolved->question_id, "que_ev1");
	assert_false(m->question_resolved->rejected);
	m = must_find(ev, n, &from, SMP(QUESTION_RESOLVED),
	    "question.rejected");
	assert_string_equal(m->question_resolved->session_id, sid);
	assert_string_equal(m->question_resolved->question_id, "que_ev2");
	assert_true(m->question_resolved->rejected);

	m = must_find(ev, n, NULL, SMP(PERMISSION_RESOLVED),
	    "permission.replied");
	assert_string_equal(m->permission_resolved->session_id, sid);
	assert_string_equal(m->permission_resolved->permission_id, "per_ev1");
	assert_string_equal(m->permission_resolved->reply, "always");

	m = must_find(ev, n, NULL, SMP(TODO_UPDATED), "todo.updated");
	line = strstr(lines, "{\"id\":\"evt_v2t1\"");
	check_todos(m->todo_updated, jpath(line, "properties.todos"), sid);
	assert_string_equal(m->todo_updated->todos[1]->content,
	    "Build \xc3\xa9");

	m = must_find(ev, n, NULL, SMP(DIFF_UPDATED), "session.diff");
	line = strstr(lines, "{\"id\":\"evt_v2d1\"");
	check_diffs(m->diff_updated, jpath(line, "properties.diff"), sid, "");

	from = 0;
	m = must_find(ev, n, &from, SMP(MESSAGE_REMOVED), "message.removed");
	assert_string_equal(m->message_removed->session_id, sid);
	assert_string_equal(m->message_removed->message_id, "msg_ev2");
	m = must_find(ev, n, NULL, SMP(PART_REMOVED), "message.part.removed");
	assert_string_equal(m->part_removed->session_id, sid);
	assert_string_equal(m->part_removed->message_id, "msg_ev2");
	assert_string_equal(m->part_removed->part_id, "prt_ev2");

	m = must_find(ev, n, NULL, SMP(MESSAGE_UPDATED),
	    "message.updated (user)");
	line = strstr(lines, "{\"id\":\"evt_v2u1\"");
	check_message_info(m->message_updated, jpath(line, "properties.info"));
	/* A user message never completes a chat. */
	assert_null(find(ev, n, NULL, SMP(COMPLETED)));

	/* The reasoning part, its delta (kind reasoning), then text's. */
	from = 0;
	m = must_find(ev, n, &from, SMP(PART_UPDATED), "reasoning part");
	line = strstr(lines, "{\"id\":\"evt_v2k1\"");
	check_part(m->part_updated, jpath(line, "properties.part"));
	m = must_find(ev, n, &from, SMP(TOKEN), "reasoning delta");
	assert_string_equal(m->token->session_id, sid);
	assert_string_equal(m->token->message_id, "msg_ev4");
	assert_string_equal(m->token->part_id, "prt_ev4");
	assert_string_equal(m->token->delta, "Thinking");
	assert_string_equal(m->token->kind, "reasoning");
	m = must_find(ev, n, &from, SMP(PART_UPDATED), "text part");
	line = strstr(lines, "{\"id\":\"evt_v2k3\"");
	check_part(m->part_updated, jpath(line, "properties.part"));
	m = must_find(ev, n, &from, SMP(TOKEN), "text delta");
	assert_string_equal(m->token->part_id, "prt_ev5");
	assert_string_equal(m->token->delta, "Answer");
	assert_string_equal(m->token->kind, "text");

	/* Nothing else: every event mapped to exactly one message. */
	for (i = 0; i < n; i++)
		if (ev[i]->payload_case == SMP(ERROR))
			fail_msg("an event arrived as an error");
	assert_int_equal(n, 13);
}

static void
free_events(Opencode__ServerMessage **ev, size_t n)
{
	while (n > 0)
		wsc_msg_free(ev[--n]);
}

static void
test_v2_events(void **state)
{
	struct it_env *e = *state;
	Opencode__ServerMessage *ev[MAX_EVENTS];
	struct wsc w;
	size_t n;

	it_client(e, &w);
	it_wait_stream(e);
	assert_int_equal(it_fake_event(e, v2_events(FX_SESSION, FX_SESSION)),
	    0);
	n = collect(&w, ev);
	check_v2_events(ev, n, FX_SESSION);
	free_events(ev, n);
	wsc_close(&w);
}

static void
test_v2_events_filter(void **state)
{
	struct it_env *e = *state;
	Opencode__ServerMessage *ev[MAX_EVENTS];
	struct wsc w;
	size_t n, i;

	it_client(e, &w);
	it_wait_stream(e);
	/* Subscribed to another session: none of FX_SESSION's arrive. */
	subscribe(&w, 2, OTHER_SESSION);
	assert_int_equal(it_fake_event(e, v2_events(FX_SESSION,
	    OTHER_SESSION)), 0);
	n = collect(&w, ev);
	for (i = 0; i < n; i++)
		fail_msg("a filtered-out event arrived: %s", it_describe(ev[i]));
	/* Subscribed to it: all of them, and none of the other's. */
	subscribe(&w, 3, FX_SESSION);
	assert_int_equal(it_fake_event(e, v2_events(OTHER_SESSION,
	    OTHER_SESSION)), 0);
	assert_int_equal(it_fake_event(e, v2_events(FX_SESSION, FX_SESSION)),
	    0);
	n = collect(&w, ev);
	check_v2_events(ev, n, FX_SESSION);
	free_events(ev, n);
	wsc_close(&w);
}

/*
 * A reasoning part of 300 001 bytes ("a" and 150 000 two-byte characters)
 * arrives cut at 256 KiB on a character boundary, with truncated set.
 */
static void
test_v2_long_part(void **state)
{
	struct it_env *e = *state;
	Opencode__ServerMessage *ev[MAX_EVENTS];
	char *text, *line;
	size_t n, i, len, tl = 1 + 150000 * 2;
	struct wsc w;
	Opencode__PartInfo *p;

	assert_non_null(text = malloc(tl + 1));
	text[0] = 'a';
	for (i = 1; i < tl; i += 2)
		memcpy(text + i, "\xc3\xa9", 2);
	text[tl] = '\0';
	if (asprintf(&line, "{\"id\":\"evt_long\",\"type\":"
	    "\"message.part.updated\",\"properties\":{\"sessionID\":\"%s\","
	    "\"part\":{\"id\":\"prt_long\",\"messageID\":\"msg_long\","
	    "\"sessionID\":\"%s\",\"type\":\"reasoning\",\"text\":\"%s\","
	    "\"time\":{\"start\":1}},\"time\":1}}\n" EV_SENTINEL "\n",
	    FX_SESSION, FX_SESSION, text, FX_SESSION) == -1)
		fail_msg("asprintf");
	keep(line);
	keep(text);
	it_client(e, &w);
	it_wait_stream(e);
	assert_int_equal(it_fake_event(e, line), 0);
	n = collect(&w, ev);
	assert_int_equal(n, 1);
	assert_int_equal(ev[0]->payload_case, SMP(PART_UPDATED));
	p = ev[0]->part_updated;
	len = strlen(p->text);
	print_message("300001 bytes of text arrived as %zu\n", len);
	assert_true(p->truncated);
	assert_true(len <= 256 * 1024 && len > 256 * 1024 - 4);
	/* A prefix of the original, ending on a character boundary. */
	assert_memory_equal(p->text, text, len);
	assert_true(len % 2 == 1);
	assert_string_equal(p->kind, "reasoning");
	free_events(ev, n);
	wsc_close(&w);
}

/*
 * The rebuild rule: the state a client builds from the events of the "full"
 * turn (sse-full.txt) equals what ListMessages returns for that session
 * afterwards (message-list-full-flow.json, captured right after it).
 * MessageInfo and PartInfo replace by id, ToolCallEvent replaces the tool
 * part, ChatToken appends to its part's text; compared as packed bytes.
 */
#define RB_MAX	128

struct rb_item {
	char			*id;
	Opencode__ServerMessage	*m;
	char			*text;	/* PartInfo: rebuilt text */
};

static struct rb_item *
rb_find(struct rb_item *it, size_t *n, const char *id)
{
	size_t i;

	for (i = 0; i < *n; i++)
		if (strcmp(it[i].id, id) == 0)
			return &it[i];
	if (*n == RB_MAX)
		fail_msg("too many items to rebuild");
	memset(&it[*n], 0, sizeof(it[*n]));
	it[*n].id = keep(strdup(id));
	return &it[(*n)++];
}

static void
rb_set(struct rb_item *it, Opencode__ServerMessage *m)
{
	wsc_msg_free(it->m);
	it->m = m;
}

static void
same_packed(const ProtobufCMessage *a, const ProtobufCMessage *b,
    const char *what, const char *id)
{
	size_t la, lb;
	uint8_t *pa, *pb;

	if (a == NULL || b == NULL)
		fail_msg("%s %s: %s", what, id, a == NULL ?
		    "never streamed" : "not in the list");
	la = protobuf_c_message_get_packed_size(a);
	lb = protobuf_c_message_get_packed_size(b);
	assert_non_null(pa = malloc(la + 1));
	assert_non_null(pb = malloc(lb + 1));
	protobuf_c_message_pack(a, pa);
	protobuf_c_message_pack(b, pb);
	if (la != lb || memcmp(pa, pb, la) != 0)
		fail_msg("%s %s: streamed and listed differ (%zu and %zu "
		    "bytes)", what, id, la, lb);
	free(pa);
	free(pb);
}

static void
test_v2_rebuild(void **state)
{
	static struct rb_item msgs[RB_MAX], parts[RB_MAX], tools[RB_MAX];
	struct it_env *e = *state;
	Opencode__ServerMessage *m = NULL;
	Opencode__MessageWithParts *mw;
	Opencode__PartInfo *p, copy;
	struct rb_item *it;
	size_t nm = 0, np = 0, nt = 0, i, k, nparts = 0;
	char *sent, *t;
	struct wsc w;
	int64_t deadline;

	char *f1 = it_read_fixture("sse-full.txt", NULL);
	char *f2 = it_read_fixture("message-list-full-flow.json", NULL);

	free(f1);
	free(f2);
	if (f1 == NULL || f2 == NULL) {
		print_message("sse-full.txt or message-list-full-flow.json "
		    "not captured: skipped\n");
		return;
	}
	it_client(e, &w);
	it_replay(e, "sse-full.txt");
	if (asprintf(&sent, EV_SENTINEL, FX_SESSION) == -1)
		fail_msg("asprintf");
	assert_int_equal(it_fake_event(e, keep(sent)), 0);
	deadline = it_now_ms() + 30000;
	for (;;) {
		int left = (int)(deadline - it_now_ms());

		if (left <= 0 || (m = wsc_recv_msg(&w, NULL, left)) == NULL)
			fail_msg("the sentinel never arrived");
		if (m->payload_case == SMP(MESSAGE_REMOVED) &&
		    strcmp(m->message_removed->message_id, "msg_sentinel") ==
		    0)
			break;
		switch (m->payload_case) {
		case SMP(MESSAGE_UPDATED):
			rb_set(rb_find(msgs, &nm, m->message_updated->id), m);
			continue;
		case SMP(PART_UPDATED):
			it = rb_find(parts, &np, m->part_updated->id);
			it->text = keep(strdup(m->part_updated->text));
			rb_set(it, m);
			continue;
		case SMP(TOOL_CALL):
			rb_set(rb_find(tools, &nt, m->tool_call->part_id), m);
			continue;
		case SMP(TOKEN):
			it = rb_find(parts, &np, m->token->part_id);
			if (asprintf(&t, "%s%s", it->text != NULL ? it->text :
			    "", m->token->delta) == -1)
				fail_msg("asprintf");
			it->text = keep(t);
			break;
		default:
			break;
		}
		wsc_msg_free(m);
	}
	wsc_msg_free(m);

	assert_int_equal(it_fake_messages(e, "message-list-full-flow.json"),
	    0);
	m = list_messages(&w, 37, 0, NULL);
	it_expect_case(m, 37, SMP(MESSAGE_LIST), "ListMessages after the turn");
	assert_int_equal(m->message_list->n_messages, nm);
	for (i = 0; i < m->message_list->n_messages; i++) {
		mw = m->message_list->messages[i];
		it = rb_find(msgs, &nm, mw->info->id);
		same_packed(it->m != NULL ? &it->m->message_updated->base :
		    NULL, &mw->info->base, "message", mw->info->id);
		for (k = 0; k < mw->n_parts; k++, nparts++) {
			p = mw->parts[k];
			if (strcmp(p->kind, "tool") == 0) {
				it = rb_find(tools, &nt, p->id);
				same_packed(it->m != NULL ?
				    &it->m->tool_call->base : NULL,
				    &p->tool->base, "tool part", p->id);
				continue;
			}
			it = rb_find(parts, &np, p->id);
			if (it->m == NULL)
				fail_msg("part %s was never streamed", p->id);
			copy = *it->m->part_updated;
			copy.text = it->text;
			same_packed(&copy.base, &p->base, "part", p->id);
		}
	}
	print_message("%zu messages and %zu parts rebuilt from the events "
	    "equal the list\n", nm, nparts);
	assert_int_equal(nparts, np + nt);
	wsc_msg_free(m);
	for (i = 0; i < nm; i++)
		wsc_msg_free(msgs[i].m);
	for (i = 0; i < np; i++)
		wsc_msg_free(parts[i].m);
	for (i = 0; i < nt; i++)
		wsc_msg_free(tools[i].m);
	wsc_close(&w);
}

/*
 * A captured transcript: every event of a v2 type in it arrives, in order,
 * mapped from that event's own properties.
 */
#define TR_MAX	4096

struct tr_event {
	const char	*type;
	const char	*props;
};

/* The transcript's events of the given types, in order. */
static size_t
tr_select(const struct tr_event *all, size_t n, const char *const *types,
    const struct tr_event **out)
{
	size_t i, k, m = 0;

	for (i = 0; i < n; i++)
		for (k = 0; types[k] != NULL; k++)
			if (strcmp(all[i].type, types[k]) == 0 && m < TR_MAX)
				out[m++] = &all[i];
	return m;
}

static void
replay_case(struct it_env *e, const char *file)
{
	static const char *const t_q[] = { "question.asked", NULL };
	static const char *const t_qr[] = { "question.replied",
	    "question.rejected", NULL };
	static const char *const t_pr[] = { "permission.replied", NULL };
	static const char *const t_todo[] = { "todo.updated", NULL };
	static const char *const t_diff[] = { "session.diff", NULL };
	static const char *const t_mr[] = { "message.removed", NULL };
	static const char *const t_pt[] = { "message.part.removed", NULL };
	static const char *const t_mu[] = { "message.updated", NULL };
	static const struct tr_event *q[TR_MAX], *qr[TR_MAX], *pr[TR_MAX];
	static const struct tr_event *todo[TR_MAX], *diff[TR_MAX];
	static const struct tr_event *mr[TR_MAX], *pt[TR_MAX], *mu[TR_MAX];
	static const struct tr_event *pu[TR_MAX];
	static struct tr_event all[TR_MAX];
	static const char *rparts[TR_MAX];
	size_t n = 0, i, nr = 0, rdeltas = 0, rtok = 0;
	size_t nq, nqr, npr, ntodo, ndiff, nmr, npt, nmu, npu;
	size_t gq = 0, gqr = 0, gpr = 0, gtodo = 0, gdiff = 0, gmr = 0, gpt = 0;
	size_t gmu = 0, gpu = 0;
	const struct tr_event *t;
	Opencode__ServerMessage *m = NULL;
	char *tr, *sent;
	const char *p;
	struct wsc w;
	int64_t deadline;

	if ((tr = it_read_fixture(file, NULL)) == NULL) {
		print_message("%s is not captured yet: skipped\n", file);
		return;
	}
	keep(tr);
	for (p = tr; (p = strstr(p, "data: ")) != NULL && n < TR_MAX; p++) {
		all[n].type = S(jget(p + 6, "type"));
		all[n].props = jget(p + 6, "properties");
		if (strcmp(all[n].type, "message.part.updated") == 0 &&
		    strcmp(S(jpath(all[n].props, "part.type")), "reasoning") ==
		    0 && nr < TR_MAX)
			rparts[nr++] = S(jpath(all[n].props, "part.id"));
		if (strcmp(all[n].type, "message.part.delta") == 0)
			for (i = 0; i < nr; i++)
				if (strcmp(rparts[i],
				    S(jget(all[n].props, "partID"))) == 0) {
					rdeltas++;
					break;
				}
		n++;
	}
	nq = tr_select(all, n, t_q, q);
	nqr = tr_select(all, n, t_qr, qr);
	npr = tr_select(all, n, t_pr, pr);
	ntodo = tr_select(all, n, t_todo, todo);
	ndiff = tr_select(all, n, t_diff, diff);
	nmr = tr_select(all, n, t_mr, mr);
	npt = tr_select(all, n, t_pt, pt);
	nmu = tr_select(all, n, t_mu, mu);
	/* Every part but a tool's is a PartInfo (tools: ToolCallEvent). */
	for (i = 0, npu = 0; i < n; i++)
		if (strcmp(all[i].type, "message.part.updated") == 0 &&
		    strcmp(S(jpath(all[i].props, "part.type")), "tool") != 0)
			pu[npu++] = &all[i];

	it_client(e, &w);
	it_replay(e, file);
	if (asprintf(&sent, EV_SENTINEL, FX_SESSION) == -1)
		fail_msg("asprintf");
	assert_int_equal(it_fake_event(e, keep(sent)), 0);
	deadline = it_now_ms() + 30000;
	for (;;) {
		int left = (int)(deadline - it_now_ms());

		if (left <= 0 || (m = wsc_recv_msg(&w, NULL, left)) == NULL)
			fail_msg("%s: the sentinel never arrived", file);
		switch (m->payload_case) {
		case SMP(MESSAGE_REMOVED):
			if (strcmp(m->message_removed->message_id,
			    "msg_sentinel") == 0)
				goto done;
			if (gmr == nmr)
				fail_msg("%s: more MessageRemoved than "
				    "message.removed", file);
			t = mr[gmr++];
			assert_string_equal(m->message_removed->session_id,
			    S(jget(t->props, "sessionID")));
			assert_string_equal(m->message_removed->message_id,
			    S(jget(t->props, "messageID")));
			break;
		case SMP(PART_REMOVED):
			if (gpt == npt)
				fail_msg("%s: too many PartRemoved", file);
			t = pt[gpt++];
			assert_string_equal(m->part_removed->session_id,
			    S(jget(t->props, "sessionID")));
			assert_string_equal(m->part_removed->message_id,
			    S(jget(t->props, "messageID")));
			assert_string_equal(m->part_removed->part_id,
			    S(jget(t->props, "partID")));
			break;
		case SMP(QUESTION_REQUEST):
			if (gq == nq)
				fail_msg("%s: too many QuestionRequests", file);
			check_question(m->question_request, q[gq++]->props);
			break;
		case SMP(QUESTION_RESOLVED):
			if (gqr == nqr)
				fail_msg("%s: too many QuestionResolved", file);
			t = qr[gqr++];
			assert_string_equal(m->question_resolved->session_id,
			    S(jget(t->props, "sessionID")));
			assert_string_equal(m->question_resolved->question_id,
			    S(jget(t->props, "requestID")));
			assert_int_equal(m->question_resolved->rejected,
			    strcmp(t->type, "question.rejected") == 0);
			break;
		case SMP(PERMISSION_RESOLVED):
			if (gpr == npr)
				fail_msg("%s: too many PermissionResolved",
				    file);
			t = pr[gpr++];
			assert_string_equal(m->permission_resolved->session_id,
			    S(jget(t->props, "sessionID")));
			assert_string_equal(
			    m->permission_resolved->permission_id,
			    S(jget(t->props, "requestID")));
			assert_string_equal(m->permission_resolved->reply,
			    S(jget(t->props, "reply")));
			break;
		case SMP(TODO_UPDATED):
			if (gtodo == ntodo)
				fail_msg("%s: too many todo lists", file);
			t = todo[gtodo++];
			check_todos(m->todo_updated, jget(t->props, "todos"),
			    S(jget(t->props, "sessionID")));
			break;
		case SMP(DIFF_UPDATED):
			if (gdiff == ndiff)
				fail_msg("%s: too many DiffLists", file);
			t = diff[gdiff++];
			check_diffs(m->diff_updated, jget(t->props, "diff"),
			    S(jget(t->props, "sessionID")), "");
			break;
		case SMP(MESSAGE_UPDATED):
			if (gmu == nmu)
				fail_msg("%s: too many MessageInfos", file);
			check_message_info(m->message_updated,
			    jget(mu[gmu++]->props, "info"));
			break;
		case SMP(PART_UPDATED):
			if (gpu == npu)
				fail_msg("%s: too many PartInfos", file);
			check_part(m->part_updated,
			    jget(pu[gpu++]->props, "part"));
			break;
		case SMP(TOKEN):
			if (strcmp(m->token->kind, "reasoning") == 0)
				rtok++;
			else
				assert_string_equal(m->token->kind, "text");
			break;
		default:
			break;
		}
		wsc_msg_free(m);
	}
done:
	wsc_msg_free(m);
	print_message("%s: question %zu/%zu, resolved %zu/%zu, permission "
	    "%zu/%zu, todo %zu/%zu, diff %zu/%zu, removed %zu/%zu + %zu/%zu, "
	    "message %zu/%zu, part %zu/%zu, reasoning deltas %zu -> %zu "
	    "tokens\n", file, gq, nq, gqr, nqr, gpr, npr, gtodo, ntodo, gdiff,
	    ndiff, gmr, nmr, gpt, npt, gmu, nmu, gpu, npu, rdeltas, rtok);
	if (gq != nq || gqr != nqr || gpr != npr || gtodo != ntodo ||
	    gdiff != ndiff || gmr != nmr || gpt != npt || gmu != nmu ||
	    gpu != npu)
		fail_msg("%s: events were lost", file);
	/* Tokens may be merged, never lost: at least one per part. */
	if (rdeltas > 0 && (rtok == 0 || rtok > rdeltas))
		fail_msg("%s: %zu reasoning deltas gave %zu reasoning "
		    "ChatTokens", file, rdeltas, rtok);
	wsc_close(&w);
}

static void
test_v2_transcripts(void **state)
{
	static const char *const files[] = {
		"sse-question.txt", "sse-question-reject.txt", "sse-todo.txt",
		"sse-edit.txt", "sse-reasoning.txt", "sse-revert.txt",
		"sse-revert-prompt.txt", "sse-revert-part.txt",
		"sse-file.txt", "sse-summarize.txt", "sse-command.txt",
		"sse-full.txt", "sse-permission.txt", "sse-tool.txt"
	};
	struct it_env *e = *state;
	struct it_opts o;
	int st, extra;
	size_t i;

	memset(&o, 0, sizeof(o));
	for (i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		if (it_start(e, &o) == -1)
			fail_msg("could not start ocbroker/fake_upstream");
		replay_case(e, files[i]);
		st = it_stop(e, T_EXIT, &extra);
		assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
		assert_false(extra);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_get_session,
		    it_setup_default, teardown),
		cmocka_unit_test_setup_teardown(test_update_session,
		    it_setup_default, teardown),
		cmocka_unit_test_setup_teardown(test_fork_session,
		    it_setup_default, teardown),
		cmocka_unit_test_setup_teardown(test_revert_unrevert,
		    it_setup_default, teardown),
		cmocka_unit_test_setup_teardown(test_list_session_status,
		    it_setup_default, teardown),
		cmocka_unit_test_setup_teardown(test_list_messages,
		    it_setup_default, teardown),
		cmocka_unit_test_prestate_setup_teardown(
		    test_list_messages_max_message, it_setup_argv, teardown,
		    small_message_args),
		cmocka_unit_test_setup_teardown(test_list_commands,
		    it_setup_default, teardown),
		cmocka_unit_test_setup_teardown(test_list_providers,
		    it_setup_default, teardown),
		cmocka_unit_test_setup_teardown(test_reply_reject_question,
		    it_setup_default, teardown),
		cmocka_unit_test_setup_teardown(test_list_pending,
		    it_setup_default, teardown),
		cmocka_unit_test_setup_teardown(test_list_pending_errors,
		    it_setup_default, teardown),
		cmocka_unit_test_setup_teardown(test_get_todos,
		    it_setup_default, teardown),
		cmocka_unit_test_setup_teardown(test_get_diff,
		    it_setup_default, teardown),
		cmocka_unit_test_setup_teardown(test_summarize,
		    it_setup_default, teardown),
		cmocka_unit_test_setup_teardown(test_run_command,
		    it_setup_default, teardown),
		cmocka_unit_test_setup_teardown(test_run_command_cancel,
		    it_setup_default, teardown),
		cmocka_unit_test_setup_teardown(
		    test_run_command_abort_answered, it_setup_default, teardown),
		cmocka_unit_test_setup_teardown(
		    test_run_command_cancel_other_conn, it_setup_default,
		    teardown),
		cmocka_unit_test_setup_teardown(test_run_command_long,
		    it_setup_default, teardown),
		cmocka_unit_test_setup_teardown(test_send_message_files,
		    it_setup_default, teardown),
		cmocka_unit_test_setup_teardown(test_v2_error_mappings,
		    it_setup_default, teardown),
		cmocka_unit_test_setup_teardown(test_v2_wrong_shape,
		    it_setup_default, teardown),
		cmocka_unit_test_setup_teardown(test_v2_invalid_requests,
		    it_setup_default, teardown),
		cmocka_unit_test_setup_teardown(test_v2_events,
		    it_setup_default, teardown),
		cmocka_unit_test_setup_teardown(test_v2_events_filter,
		    it_setup_default, teardown),
		cmocka_unit_test_setup_teardown(test_v2_long_part,
		    it_setup_default, teardown),
		cmocka_unit_test_setup_teardown(test_v2_rebuild,
		    it_setup_default, teardown),
		cmocka_unit_test_setup_teardown(test_v2_transcripts,
		    it_setup_none, teardown),
	};

	return IT_RUN("integration_v2", tests, NULL);
}
