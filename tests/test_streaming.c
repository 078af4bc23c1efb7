/*
 * Copyright (c) 2026 The ocbroker authors
 * SPDX-License-Identifier: ISC (the licence is in the file LICENSE)
 */

/*
 * Streaming integration tests: the real ocbroker binary (OCBROKER, sandbox
 * on unless this is a sanitizer build) against tests/fake_upstream
 * (FAKE_UPSTREAM), which replays captured `GET /event` transcripts of
 * OpenCode 1.18.34 (OCB_FIXTURES) to ocbroker's one event stream.
 *
 * The events a client must receive are derived here from the transcript
 * files themselves, by a small JSON and SSE reader of this file's own (not
 * netproc's) and the mapping rules of doc/protocol.md ("Events") and
 * proto/messages.proto, v2 included: MessageInfo for every message.updated
 * (before its ChatCompleted), PartInfo for every part but a tool, the
 * question and permission answers, todos, diffs, removals, and ChatToken's
 * kind from the parts announced as reasoning.  The mapper's bounds (ids
 * remembered, texts and errors cut) are not modelled: the reader fails on a
 * capture that would reach them.  Each event, expected or received, is
 * written as one canonical line (JSON values with sorted keys), so a
 * mismatch shows both.
 *
 * UpstreamStatus{connected: true} follows every server.connected of the
 * stream (the transcripts begin with one) once /global/health answered;
 * where it lands among the other events depends on that fetch, so it is
 * counted beside the sequence, which is otherwise checked exactly.  The end
 * of a sequence is marked by ending the stream (POST /__fake/sse-end): no
 * event may come between the last expected one and UpstreamStatus{false}.
 *
 * Transcripts that no capture has (a flood of large deltas) are generated
 * at start into a directory of our own beside symbolic links to every
 * fixture, and OCB_FIXTURES is pointed there for the fake.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <sys/socket.h>

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>

#include "tests/support/itest.h"
#include "tests/support/itest_sse.h"
#include "tests/support/v2_codes.h"

#define T_STREAM	15000	/* a replay's events; a reconnect */
#define T_FLOOD		30000	/* a flood's events */

#define WS_CLOSE_TRY_AGAIN 1013	/* a slow reader's queue overflowed */

#define FX_VERSION	"1.18.34"	/* health.json */
#define SES_TEXT	"ses_de9d9dd34ffervjM6BvxQjuyqi"	/* sse-text */
#define SES_TOOL	"ses_de9d9cc0cffehGld5NiPkdFvkF"	/* sse-tool */
#define UNKNOWN_SESSION	"ses_0000000000000000000000000000"

/*
 * A client that does not read leaves what is sent to it first in the
 * kernel: the front's socket send buffer (which grows up to tcp_wmem's
 * maximum, 4 MiB by default) and ours.  Only the rest queues in the front,
 * so the slow-reader tests send that much and MARGIN more.
 */
#define KERNEL_MARGIN	(6L * 1024 * 1024)

/* sse-many replayed at least this many times in a row (>1 MiB queued). */
#define MANY_REPLAYS_MIN 48
#define MANY_REPLAYS_MAX 400

/* The generated flood: deltas too large to be merged, > 8 MiB in all. */
#define FLOOD_FILE	"sse-gen-flood.txt"
#define FLOOD_EVENTS_MIN 3000
#define FLOOD_DELTA	8000	/* JSON text bytes; 6.2 KB decoded, about */
#define FRONT_QUEUE_MAX	(8L * 1024 * 1024)	/* then 1013 */
#define FRONT_MERGE_MAX	4096	/* a merged frame grows up to this */
#define FLOOD_SES	"ses_floodFloodFlood00000000001"
/* netproc's event queue mark (256 KiB) and what it reads past it, with
 * room to spare; the flood is > 20 MiB. */
#define NETPROC_STALL_GROWTH_KB	4096
#define STALL_LOOKS	20	/* unchanged looks: the fake is held up */
#define STALL_LOOKS_MAX	3000
#define FLOOD_MSG	"msg_floodFloodFlood00000000001"
#define FLOOD_PART	"prt_floodFloodFlood00000000001"

/* The front's memory bound (VmHWM) in a build without sanitizers. */
#define FRONT_HWM_MAX_KB	(64L * 1024)

static char	 gen_dir[PATH_MAX];	/* generated transcripts + links */
static size_t	 flood_events;		/* in the generated flood */

/* ---- growable strings ---- */

struct sb {
	char	*p;
	size_t	 len;
	size_t	 cap;
};

static void
sb_addn(struct sb *b, const void *s, size_t n)
{
	char *np;
	size_t ncap;

	if (b->cap - b->len <= n) {
		ncap = b->cap == 0 ? 256 : b->cap;
		while (ncap - b->len <= n)
			ncap *= 2;
		if ((np = realloc(b->p, ncap)) == NULL)
			fail_msg("out of memory");
		b->p = np;
		b->cap = ncap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static void
sb_adds(struct sb *b, const char *s)
{
	sb_addn(b, s, strlen(s));
}

static void __attribute__((format(printf, 2, 3)))
sb_printf(struct sb *b, const char *fmt, ...)
{
	va_list ap;
	char *s;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (n == -1)
		fail_msg("out of memory");
	sb_addn(b, s, (size_t)n);
	free(s);
}

/* A string as a JSON string literal: quotes, backslash and controls escaped. */
static void
sb_quote(struct sb *b, const char *s, size_t n)
{
	size_t i;

	sb_adds(b, "\"");
	for (i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];

		if (ch == '"' || ch == '\\')
			sb_printf(b, "\\%c", ch);
		else if (ch < 0x20 || ch == 0x7f)
			sb_printf(b, "\\u%04x", ch);
		else
			sb_addn(b, &s[i], 1);
	}
	sb_adds(b, "\"");
}

static char *
sb_take(struct sb *b)
{
	char *p = b->p;

	if (p == NULL && (p = strdup("")) == NULL)
		fail_msg("out of memory");
	b->p = NULL;
	b->len = b->cap = 0;
	return p;
}

/* ---- a small strict JSON reader (RFC 8259), independent of netproc ---- */

enum jt {
	J_NULL,
	J_FALSE,
	J_TRUE,
	J_NUM,
	J_STR,
	J_ARR,
	J_OBJ
};

struct jv {
	enum jt		  type;
	char		 *str;	/* J_STR: decoded bytes; J_NUM: the text */
	size_t		  slen;
	size_t		  n;	/* J_ARR, J_OBJ: members */
	char		**keys;	/* J_OBJ, decoded */
	struct jv	**kids;
};

struct jp {
	const char	*s;
	size_t		 len;
	size_t		 i;
	int		 depth;
};

static void	jv_free(struct jv *);
static struct jv *jp_value(struct jp *);

static void
jp_ws(struct jp *p)
{
	while (p->i < p->len && (p->s[p->i] == ' ' || p->s[p->i] == '\t' ||
	    p->s[p->i] == '\n' || p->s[p->i] == '\r'))
		p->i++;
}

static int
hex4(const char *s, unsigned *v)
{
	int k;

	*v = 0;
	for (k = 0; k < 4; k++) {
		*v <<= 4;
		if (s[k] >= '0' && s[k] <= '9')
			*v |= (unsigned)(s[k] - '0');
		else if (s[k] >= 'a' && s[k] <= 'f')
			*v |= (unsigned)(s[k] - 'a' + 10);
		else if (s[k] >= 'A' && s[k] <= 'F')
			*v |= (unsigned)(s[k] - 'A' + 10);
		else
			return -1;
	}
	return 0;
}

static void
put_utf8(struct sb *b, unsigned cp)
{
	char u[4];

	if (cp < 0x80) {
		u[0] = (char)cp;
		sb_addn(b, u, 1);
	} else if (cp < 0x800) {
		u[0] = (char)(0xc0 | cp >> 6);
		u[1] = (char)(0x80 | (cp & 0x3f));
		sb_addn(b, u, 2);
	} else if (cp < 0x10000) {
		u[0] = (char)(0xe0 | cp >> 12);
		u[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		u[2] = (char)(0x80 | (cp & 0x3f));
		sb_addn(b, u, 3);
	} else {
		u[0] = (char)(0xf0 | cp >> 18);
		u[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
		u[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
		u[3] = (char)(0x80 | (cp & 0x3f));
		sb_addn(b, u, 4);
	}
}

/* A string at p->s[p->i] == '"', decoded; -1 when malformed. */
static int
jp_string(struct jp *p, char **out, size_t *outlen)
{
	struct sb b = { NULL, 0, 0 };
	unsigned cp, lo;
	char ch;

	p->i++;
	for (;;) {
		if (p->i >= p->len)
			goto bad;
		ch = p->s[p->i++];
		if (ch == '"')
			break;
		if ((unsigned char)ch < 0x20)
			goto bad;
		if (ch != '\\') {
			sb_addn(&b, &ch, 1);
			continue;
		}
		if (p->i >= p->len)
			goto bad;
		ch = p->s[p->i++];
		switch (ch) {
		case '"': case '\\': case '/':
			sb_addn(&b, &ch, 1);
			break;
		case 'b': sb_adds(&b, "\b"); break;
		case 'f': sb_adds(&b, "\f"); break;
		case 'n': sb_adds(&b, "\n"); break;
		case 'r': sb_adds(&b, "\r"); break;
		case 't': sb_adds(&b, "\t"); break;
		case 'u':
			if (p->len - p->i < 4 || hex4(p->s + p->i, &cp) == -1)
				goto bad;
			p->i += 4;
			if (cp >= 0xd800 && cp < 0xdc00) {
				if (p->len - p->i < 6 || p->s[p->i] != '\\' ||
				    p->s[p->i + 1] != 'u' ||
				    hex4(p->s + p->i + 2, &lo) == -1 ||
				    lo < 0xdc00 || lo > 0xdfff)
					goto bad;
				p->i += 6;
				cp = 0x10000 + ((cp - 0xd800) << 10) +
				    (lo - 0xdc00);
			} else if (cp >= 0xdc00 && cp <= 0xdfff)
				goto bad;
			put_utf8(&b, cp);
			break;
		default:
			goto bad;
		}
	}
	*outlen = b.len;
	*out = sb_take(&b);
	return 0;
 bad:
	free(b.p);
	return -1;
}

static int
jp_digits(struct jp *p)
{
	size_t start = p->i;

	while (p->i < p->len && isdigit((unsigned char)p->s[p->i]))
		p->i++;
	return p->i > start ? 0 : -1;
}

static struct jv *
jv_new(enum jt t)
{
	struct jv *v;

	if ((v = calloc(1, sizeof(*v))) == NULL)
		fail_msg("out of memory");
	v->type = t;
	return v;
}

static void
jv_push(struct jv *v, char *key, struct jv *kid)
{
	if ((v->kids = reallocarray(v->kids, v->n + 1,
	    sizeof(*v->kids))) == NULL ||
	    (v->type == J_OBJ && (v->keys = reallocarray(v->keys, v->n + 1,
	    sizeof(*v->keys))) == NULL))
		fail_msg("out of memory");
	if (v->type == J_OBJ)
		v->keys[v->n] = key;
	v->kids[v->n++] = kid;
}

static struct jv *
jp_container(struct jp *p, char close)
{
	struct jv *v = jv_new(close == '}' ? J_OBJ : J_ARR), *kid;
	char *key = NULL;
	size_t klen;

	if (++p->depth > 64)
		goto bad;
	p->i++;
	jp_ws(p);
	if (p->i < p->len && p->s[p->i] == close) {
		p->i++;
		p->depth--;
		return v;
	}
	for (;;) {
		jp_ws(p);
		if (close == '}') {
			if (p->i >= p->len || p->s[p->i] != '"' ||
			    jp_string(p, &key, &klen) == -1)
				goto bad;
			jp_ws(p);
			if (p->i >= p->len || p->s[p->i] != ':')
				goto bad;
			p->i++;
		}
		if ((kid = jp_value(p)) == NULL)
			goto bad;
		jv_push(v, key, kid);
		key = NULL;
		jp_ws(p);
		if (p->i >= p->len)
			goto bad;
		if (p->s[p->i] == close) {
			p->i++;
			p->depth--;
			return v;
		}
		if (p->s[p->i] != ',')
			goto bad;
		p->i++;
	}
 bad:
	free(key);
	jv_free(v);
	return NULL;
}

/* The literal word (true, false, null) at p, as a value of type t. */
static struct jv *
jp_word(struct jp *p, const char *word, enum jt t)
{
	size_t n = strlen(word);

	if (p->len - p->i < n || memcmp(p->s + p->i, word, n) != 0)
		return NULL;
	p->i += n;
	return jv_new(t);
}

static struct jv *
jp_value(struct jp *p)
{
	struct jv *v;
	size_t start;

	jp_ws(p);
	if (p->i >= p->len)
		return NULL;
	switch (p->s[p->i]) {
	case '{':
		return jp_container(p, '}');
	case '[':
		return jp_container(p, ']');
	case '"':
		v = jv_new(J_STR);
		if (jp_string(p, &v->str, &v->slen) == -1) {
			jv_free(v);
			return NULL;
		}
		return v;
	case 't':
		return jp_word(p, "true", J_TRUE);
	case 'f':
		return jp_word(p, "false", J_FALSE);
	case 'n':
		return jp_word(p, "null", J_NULL);
	}
	start = p->i;
	if (p->s[p->i] == '-')
		p->i++;
	if (p->i < p->len && p->s[p->i] == '0')
		p->i++;
	else if (jp_digits(p) == -1)
		return NULL;
	if (p->i < p->len && p->s[p->i] == '.') {
		p->i++;
		if (jp_digits(p) == -1)
			return NULL;
	}
	if (p->i < p->len && (p->s[p->i] == 'e' || p->s[p->i] == 'E')) {
		p->i++;
		if (p->i < p->len && (p->s[p->i] == '+' || p->s[p->i] == '-'))
			p->i++;
		if (jp_digits(p) == -1)
			return NULL;
	}
	v = jv_new(J_NUM);
	v->slen = p->i - start;
	if ((v->str = strndup(p->s + start, v->slen)) == NULL)
		fail_msg("out of memory");
	return v;
}

/* The whole text as one JSON value, or NULL. */
static struct jv *
json_read(const char *s, size_t len)
{
	struct jp p = { s, len, 0, 0 };
	struct jv *v;

	if ((v = jp_value(&p)) == NULL)
		return NULL;
	jp_ws(&p);
	if (p.i != len) {
		jv_free(v);
		return NULL;
	}
	return v;
}

static void
jv_free(struct jv *v)
{
	size_t i;

	if (v == NULL)
		return;
	for (i = 0; i < v->n; i++) {
		if (v->keys != NULL)
			free(v->keys[i]);
		jv_free(v->kids[i]);
	}
	free(v->keys);
	free(v->kids);
	free(v->str);
	free(v);
}

/* The first member named key (as a JSON object lookup is usually done). */
static const struct jv *
jv_get(const struct jv *o, const char *key)
{
	size_t i;

	if (o == NULL || o->type != J_OBJ)
		return NULL;
	for (i = 0; i < o->n; i++)
		if (strcmp(o->keys[i], key) == 0)
			return o->kids[i];
	return NULL;
}

/* A string member, or NULL when absent, null or not a string. */
static const char *
jv_str(const struct jv *o, const char *key)
{
	const struct jv *v = jv_get(o, key);

	return v != NULL && v->type == J_STR ? v->str : NULL;
}

/* A string member, "" when absent or null (optional fields). */
static const char *
jv_ostr(const struct jv *o, const char *key)
{
	const char *s = jv_str(o, key);

	return s != NULL ? s : "";
}

/* A required string member: the fixtures are fixed bytes. */
static const char *
jv_rstr(const struct jv *o, const char *key)
{
	const char *s = jv_str(o, key);

	if (s == NULL)
		fail_msg("transcript: no string member \"%s\"", key);
	return s;
}

/* An integer member, 0 when absent or null. */
static long long
jv_int(const struct jv *o, const char *key)
{
	const struct jv *v = jv_get(o, key);
	char *end;
	long long n;

	if (v == NULL || v->type == J_NULL)
		return 0;
	if (v->type != J_NUM)
		fail_msg("transcript: member \"%s\" is not a number", key);
	errno = 0;
	n = strtoll(v->str, &end, 10);
	if (*end != '\0' || errno != 0)
		fail_msg("transcript: member \"%s\" is not an integer", key);
	return n;
}

/* Present and not null. */
static int
jv_set(const struct jv *v)
{
	return v != NULL && v->type != J_NULL;
}

/* A boolean member, 0 when absent or null. */
static int
jv_bool(const struct jv *o, const char *key)
{
	const struct jv *v = jv_get(o, key);

	if (!jv_set(v))
		return 0;
	if (v->type != J_TRUE && v->type != J_FALSE)
		fail_msg("transcript: member \"%s\" is not a boolean", key);
	return v->type == J_TRUE;
}

/* A number member as a double, 0 when absent or null. */
static double
jv_double(const struct jv *o, const char *key)
{
	const struct jv *v = jv_get(o, key);

	if (!jv_set(v))
		return 0;
	if (v->type != J_NUM)
		fail_msg("transcript: member \"%s\" is not a number", key);
	return strtod(v->str, NULL);
}

/* An array member (an absent or null one is empty). */
static const struct jv *
jv_arr(const struct jv *o, const char *key)
{
	static const struct jv empty = { J_ARR, NULL, 0, 0, NULL, NULL };
	const struct jv *v = jv_get(o, key);

	if (!jv_set(v))
		return &empty;
	if (v->type != J_ARR)
		fail_msg("transcript: member \"%s\" is not an array", key);
	return v;
}

/*
 * A value in one canonical text: object members sorted by name (equal names
 * kept in order), integers as integers, strings re-escaped the same way.
 * Two values with the same meaning get the same text.
 */
static void
jv_canon(const struct jv *v, struct sb *b)
{
	struct { const char *k; size_t i; } *ord;
	char *end;
	long long n;
	size_t i, j;

	switch (v->type) {
	case J_NULL:
		sb_adds(b, "null");
		break;
	case J_FALSE:
		sb_adds(b, "false");
		break;
	case J_TRUE:
		sb_adds(b, "true");
		break;
	case J_NUM:
		errno = 0;
		n = strtoll(v->str, &end, 10);
		if (*end == '\0' && errno == 0)
			sb_printf(b, "%lld", n);
		else
			sb_adds(b, v->str);
		break;
	case J_STR:
		sb_quote(b, v->str, v->slen);
		break;
	case J_ARR:
		sb_adds(b, "[");
		for (i = 0; i < v->n; i++) {
			if (i > 0)
				sb_adds(b, ",");
			jv_canon(v->kids[i], b);
		}
		sb_adds(b, "]");
		break;
	case J_OBJ:
		if ((ord = calloc(v->n + 1, sizeof(*ord))) == NULL)
			fail_msg("out of memory");
		for (i = 0; i < v->n; i++) {
			ord[i].k = v->keys[i];
			ord[i].i = i;
		}
		/* Insertion sort: stable, and objects here are small. */
		for (i = 1; i < v->n; i++)
			for (j = i; j > 0 && (strcmp(ord[j - 1].k, ord[j].k) > 0);
			    j--) {
				ord[v->n] = ord[j];
				ord[j] = ord[j - 1];
				ord[j - 1] = ord[v->n];
			}
		sb_adds(b, "{");
		for (i = 0; i < v->n; i++) {
			if (i > 0)
				sb_adds(b, ",");
			sb_quote(b, ord[i].k, strlen(ord[i].k));
			sb_adds(b, ":");
			jv_canon(v->kids[ord[i].i], b);
		}
		sb_adds(b, "}");
		free(ord);
		break;
	}
}

/* JSON text as received (input_json, metadata_json) in canonical form. */
static void
canon_text(struct sb *b, const char *text)
{
	struct jv *v;

	if (text == NULL || *text == '\0')
		return;
	if ((v = json_read(text, strlen(text))) == NULL) {
		sb_adds(b, "<not JSON: ");
		sb_quote(b, text, strlen(text));
		sb_adds(b, ">");
		return;
	}
	jv_canon(v, b);
	jv_free(v);
}

/* ---- the SSE framing (text/event-stream), for the transcripts ---- */

typedef void (*sse_fn)(void *, const char *, size_t);

/* Calls fn with each event's data (its data lines joined by LF). */
static void
sse_each(const char *s, size_t len, sse_fn fn, void *arg)
{
	struct sb data = { NULL, 0, 0 };
	size_t i = 0, ll, vl;
	const char *line, *v;
	int have = 0;

	sb_adds(&data, "");
	while (i < len) {
		line = s + i;
		ll = strcspn(line, "\r\n");
		if (ll > len - i)
			ll = len - i;
		i += ll;
		/* CRLF, LF or CR ends a line. */
		if (i < len && s[i] == '\r') {
			if (++i < len && s[i] == '\n')
				i++;
		} else if (i < len)
			i++;
		if (ll == 0) {
			if (have)
				fn(arg, data.p, data.len);
			data.len = 0;
			data.p[0] = '\0';
			have = 0;
			continue;
		}
		if (line[0] == ':' || ll < 4 || memcmp(line, "data", 4) != 0 ||
		    (ll > 4 && line[4] != ':'))
			continue;	/* a comment, or a field we do not use */
		v = ll > 4 ? line + 5 : line + ll;
		vl = ll > 4 ? ll - 5 : 0;
		if (vl > 0 && *v == ' ') {
			v++;
			vl--;
		}
		if (have)
			sb_adds(&data, "\n");
		sb_addn(&data, v, vl);
		have = 1;
	}
	/* An event without its blank line is not dispatched (WHATWG). */
	free(data.p);
}

/* ---- expected events ---- */

struct xev {
	int	 kind;		/* ServerMessage payload case */
	char	*line;		/* canonical text */
	/* ChatToken only */
	char	*ses, *msg, *part, *delta;
	size_t	 dlen;
	const char *tkind;	/* "text" or "reasoning" (static) */
};

struct xlist {
	struct xev	*v;
	size_t		 n;
	size_t		 cap;
	size_t		 connected;	/* server.connected events */
	size_t		 deltas;	/* ChatTokens */
};

/* Ids, each once; looked up in order (a transcript has few). */
struct idset {
	char	**v;
	size_t	  n;
};

/*
 * What the mapping remembers across events: completed assistant messages,
 * and the parts announced as reasoning (whose deltas say so).  Unbounded
 * here: no transcript comes near the mapper's bounds.
 */
struct xstate {
	struct idset	done;
	struct idset	reasoning;
};

static struct xev *
x_add(struct xlist *x, int kind, struct sb *line)
{
	struct xev *e;

	if (x->n == x->cap) {
		x->cap = x->cap == 0 ? 256 : x->cap * 2;
		if ((x->v = reallocarray(x->v, x->cap, sizeof(*x->v))) == NULL)
			fail_msg("out of memory");
	}
	e = &x->v[x->n++];
	memset(e, 0, sizeof(*e));
	e->kind = kind;
	e->line = sb_take(line);
	return e;
}

static void
xev_free(struct xev *e)
{
	free(e->line);
	free(e->ses);
	free(e->msg);
	free(e->part);
	free(e->delta);
}

static void
x_free(struct xlist *x)
{
	while (x->n > 0)
		xev_free(&x->v[--x->n]);
	free(x->v);
	memset(x, 0, sizeof(*x));
}

static char *
xstrdup(const char *s, size_t n)
{
	char *p;

	if ((p = malloc(n + 1)) == NULL)
		fail_msg("out of memory");
	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

static char *
xdup(const char *s)
{
	return xstrdup(s, strlen(s));
}

static int
idset_has(const struct idset *set, const char *id)
{
	size_t i;

	for (i = 0; i < set->n; i++)
		if (strcmp(set->v[i], id) == 0)
			return 1;
	return 0;
}

static void
idset_add(struct idset *set, const char *id)
{
	if (idset_has(set, id))
		return;
	if ((set->v = reallocarray(set->v, set->n + 1,
	    sizeof(*set->v))) == NULL)
		fail_msg("out of memory");
	set->v[set->n++] = xdup(id);
}

static void
idset_free(struct idset *set)
{
	while (set->n > 0)
		free(set->v[--set->n]);
	free(set->v);
	set->v = NULL;
}

static void
xstate_free(struct xstate *st)
{
	idset_free(&st->done);
	idset_free(&st->reasoning);
}

/* The canonical lines; received events are written by the same functions. */
static void
line_token(struct sb *b, const char *ses, const char *msg, const char *part,
    const char *kind, const char *delta, size_t dlen)
{
	sb_printf(b, "ChatToken ses=%s msg=%s part=%s kind=%s delta=", ses, msg,
	    part, kind);
	sb_quote(b, delta, dlen);
}

static void
line_completed(struct sb *b, const char *ses, const char *msg,
    const char *finish, long long in, long long out, const char *error)
{
	sb_printf(b, "ChatCompleted ses=%s msg=%s finish=%s input=%lld "
	    "output=%lld error=%s", ses, msg, finish, in, out, error);
}

static void
line_tool_head(struct sb *b, const char *ses, const char *msg,
    const char *part, const char *call, const char *tool, const char *status,
    const char *title, const char *error)
{
	sb_printf(b, "ToolCallEvent ses=%s msg=%s part=%s call=%s tool=%s "
	    "status=%s title=", ses, msg, part, call, tool, status);
	sb_quote(b, title, strlen(title));
	sb_adds(b, " error=");
	sb_quote(b, error, strlen(error));
	sb_adds(b, " input=");
}

static void
line_session_head(struct sb *b, const char *ses, const char *kind,
    const char *status, long long attempt, const char *ename,
    const char *emsg)
{
	sb_printf(b, "SessionEvent ses=%s kind=%s status=%s attempt=%lld "
	    "error_name=%s error_message=", ses, kind, status, attempt, ename);
	sb_quote(b, emsg, strlen(emsg));
	sb_adds(b, " info=");
}

static void
line_info(struct sb *b, const char *id, const char *title, long long created,
    long long updated)
{
	sb_printf(b, "{id=%s title=", id);
	if (title != NULL)
		sb_quote(b, title, strlen(title));
	else
		sb_adds(b, "(unset)");
	sb_printf(b, " created=%lld updated=%lld}", created, updated);
}

/* MessageInfo: the fields a chat UI shows (ids, model, state, tokens). */
static void
line_message(struct sb *b, const char *ses, const char *id, const char *role,
    long long created, long long completed, const char *parent,
    const char *agent, const char *provider, const char *model,
    const char *finish, const char *ename, const char *emsg, long long in,
    long long out, long long reasoning, double cost)
{
	sb_printf(b, "MessageInfo ses=%s id=%s role=%s created=%lld "
	    "completed=%lld parent=%s agent=%s provider=%s model=%s finish=%s "
	    "error_name=%s error_message=", ses, id, role, created, completed,
	    parent, agent, provider, model, finish, ename);
	sb_quote(b, emsg, strlen(emsg));
	sb_printf(b, " input=%lld output=%lld reasoning=%lld cost=%.17g", in,
	    out, reasoning, cost);
}

/* PartInfo up to its text; files= and file= follow. */
static void
line_part_head(struct sb *b, const char *ses, const char *msg,
    const char *id, const char *kind, int synthetic, int truncated,
    const char *text, size_t tlen)
{
	sb_printf(b, "PartInfo ses=%s msg=%s id=%s kind=%s synthetic=%d "
	    "truncated=%d text=", ses, msg, id, kind, synthetic, truncated);
	sb_quote(b, text, tlen);
	sb_adds(b, " files=[");
}

static void
line_file(struct sb *b, const char *mime, const char *filename,
    const char *url)
{
	sb_adds(b, "] file={mime=");
	sb_quote(b, mime, strlen(mime));
	sb_adds(b, " filename=");
	sb_quote(b, filename, strlen(filename));
	sb_adds(b, " url=");
	sb_quote(b, url, strlen(url));
	sb_adds(b, "}");
}

/* One element of a list: a quoted string after a comma when not first. */
static void
line_item(struct sb *b, size_t i, const char *s, size_t n)
{
	if (i > 0)
		sb_adds(b, ",");
	sb_quote(b, s, n);
}

static void
line_question_head(struct sb *b, size_t i, const char *q, const char *header,
    int multiple, int custom)
{
	sb_adds(b, i > 0 ? ",{q=" : "{q=");
	sb_quote(b, q, strlen(q));
	sb_adds(b, " header=");
	sb_quote(b, header, strlen(header));
	sb_printf(b, " multiple=%d custom=%d options=[", multiple, custom);
}

static void
line_option(struct sb *b, size_t i, const char *label, const char *desc)
{
	line_item(b, i, label, strlen(label));
	sb_adds(b, ":");
	sb_quote(b, desc, strlen(desc));
}

static void
line_todo(struct sb *b, size_t i, const char *content, const char *status,
    const char *priority)
{
	line_item(b, i, content, strlen(content));
	sb_printf(b, "/%s/%s", status, priority);
}

static void
line_diff(struct sb *b, size_t i, const char *path, const char *status,
    long long add, long long del, int truncated, const char *patch)
{
	line_item(b, i, path, strlen(path));
	sb_printf(b, " %s +%lld -%lld truncated=%d patch=", status, add, del,
	    truncated);
	sb_quote(b, patch, strlen(patch));
}

static void
line_permission_resolved(struct sb *b, const char *ses, const char *id,
    const char *reply)
{
	sb_printf(b, "PermissionResolved ses=%s id=%s reply=%s", ses, id,
	    reply);
}

static void
line_question_resolved(struct sb *b, const char *ses, const char *id,
    int rejected)
{
	sb_printf(b, "QuestionResolved ses=%s id=%s rejected=%d", ses, id,
	    rejected);
}

/* MessageRemoved, or PartRemoved when part is not NULL. */
static void
line_removed(struct sb *b, const char *ses, const char *msg, const char *part)
{
	if (part == NULL)
		sb_printf(b, "MessageRemoved ses=%s msg=%s", ses, msg);
	else
		sb_printf(b, "PartRemoved ses=%s msg=%s part=%s", ses, msg,
		    part);
}

/* Error texts go to the UI with their first line only (stack traces). */
static char *
first_line(const char *s)
{
	return xstrdup(s, strcspn(s, "\r\n"));
}

/*
 * MessageInfo.error_message: the first line, control characters as spaces.
 * The mapper also cuts it at 1 KiB; no capture has one that long.
 */
static char *
error_text(const char *s)
{
	char *t = first_line(s), *q;

	if (strlen(t) >= 1024)
		fail_msg("transcript: an error text this reader cannot cut");
	for (q = t; *q != '\0'; q++)
		if ((unsigned char)*q < 0x20 || *q == 0x7f)
			*q = ' ';
	return t;
}

/* Texts, outputs and patches are cut at 256 KiB; no capture has one. */
static const char *
x_uncut(const char *s)
{
	if (strlen(s) > 256 * 1024)
		fail_msg("transcript: a text this reader cannot cut");
	return s;
}


/*
 * A part but a tool: text and synthetic for text and reasoning, the
 * changed files for patch, the attachment for file; ids and kind for any
 * other.
 */
static void
x_part(struct sb *b, const struct jv *o)
{
	const char *kind = jv_rstr(o, "type"), *text = "";
	const struct jv *v;
	int synthetic = 0;
	size_t i;

	if (strcmp(kind, "text") == 0 || strcmp(kind, "reasoning") == 0) {
		text = x_uncut(jv_ostr(o, "text"));
		synthetic = jv_bool(o, "synthetic");
	}
	line_part_head(b, jv_rstr(o, "sessionID"), jv_rstr(o, "messageID"),
	    jv_rstr(o, "id"), kind, synthetic, 0, text, strlen(text));
	if (strcmp(kind, "patch") == 0) {
		v = jv_arr(o, "files");
		for (i = 0; i < v->n; i++) {
			if (v->kids[i]->type != J_STR)
				fail_msg("transcript: a patch file that is "
				    "not a string");
			line_item(b, i, v->kids[i]->str, v->kids[i]->slen);
		}
	}
	if (strcmp(kind, "file") == 0)
		line_file(b, jv_ostr(o, "mime"), jv_ostr(o, "filename"),
		    x_uncut(jv_ostr(o, "url")));
	else
		sb_adds(b, "] file=none");
}

struct xctx {
	struct xstate	*st;
	struct xlist	*x;
};

/* One upstream event, mapped by doc/protocol.md "Events". */
static void
x_event(void *arg, const char *data, size_t len)
{
	struct xctx *c = arg;
	struct xlist *x = c->x;
	struct xstate *st = c->st;
	struct sb b = { NULL, 0, 0 };
	const struct jv *p, *o, *s, *t, *v;
	struct jv *root;
	const char *type, *ses, *id, *kind;
	struct xev *e;
	char *em;
	size_t i, k;

	if ((root = json_read(data, len)) == NULL)
		fail_msg("transcript: an event that is not JSON: %.*s",
		    (int)(len > 200 ? 200 : len), data);
	type = jv_rstr(root, "type");
	p = jv_get(root, "properties");
	if (strcmp(type, "server.connected") == 0)
		x->connected++;
	else if (strcmp(type, "message.part.delta") == 0) {
		if (strcmp(jv_rstr(p, "field"), "text") != 0)
			goto done;
		s = jv_get(p, "delta");
		if (s == NULL || s->type != J_STR)
			fail_msg("transcript: delta without text");
		/* Its part's type, when that was announced before. */
		id = jv_rstr(p, "partID");
		kind = idset_has(&st->reasoning, id) ? "reasoning" : "text";
		line_token(&b, jv_rstr(p, "sessionID"), jv_rstr(p, "messageID"),
		    id, kind, s->str, s->slen);
		e = x_add(x, SMP(TOKEN), &b);
		e->tkind = kind;
		e->ses = xdup(jv_rstr(p, "sessionID"));
		e->msg = xdup(jv_rstr(p, "messageID"));
		e->part = xdup(jv_rstr(p, "partID"));
		e->delta = xstrdup(s->str, s->slen);
		e->dlen = s->slen;
		x->deltas++;
	} else if (strcmp(type, "message.updated") == 0) {
		/* Every one as MessageInfo; the model is the assistant's own,
		 * else the one the user asked for. */
		o = jv_get(p, "info");
		v = strcmp(jv_rstr(o, "role"), "assistant") == 0 ? o :
		    jv_get(o, "model");
		t = jv_get(jv_get(o, "error"), "data");
		em = error_text(jv_ostr(t, "message"));
		line_message(&b, jv_rstr(o, "sessionID"), jv_rstr(o, "id"),
		    jv_rstr(o, "role"), jv_int(jv_get(o, "time"), "created"),
		    jv_int(jv_get(o, "time"), "completed"),
		    jv_ostr(o, "parentID"), jv_ostr(o, "agent"),
		    jv_ostr(v, "providerID"), jv_ostr(v, "modelID"),
		    jv_ostr(o, "finish"), jv_ostr(jv_get(o, "error"), "name"),
		    em, jv_int(jv_get(o, "tokens"), "input"),
		    jv_int(jv_get(o, "tokens"), "output"),
		    jv_int(jv_get(o, "tokens"), "reasoning"),
		    jv_double(o, "cost"));
		free(em);
		x_add(x, SMP(MESSAGE_UPDATED), &b);
		/* Then, once per assistant message, its completion. */
		if (strcmp(jv_rstr(o, "role"), "assistant") != 0 ||
		    !jv_set(jv_get(jv_get(o, "time"), "completed")))
			goto done;
		id = jv_rstr(o, "id");
		if (idset_has(&st->done, id))
			goto done;
		idset_add(&st->done, id);
		ses = jv_str(p, "sessionID");
		line_completed(&b, ses != NULL ? ses : jv_rstr(o, "sessionID"),
		    id, jv_ostr(o, "finish"),
		    jv_int(jv_get(o, "tokens"), "input"),
		    jv_int(jv_get(o, "tokens"), "output"),
		    jv_ostr(jv_get(o, "error"), "name"));
		x_add(x, SMP(COMPLETED), &b);
	} else if (strcmp(type, "message.part.updated") == 0) {
		o = jv_get(p, "part");
		kind = jv_rstr(o, "type");
		if (strcmp(kind, "reasoning") == 0)
			idset_add(&st->reasoning, jv_rstr(o, "id"));
		if (strcmp(kind, "tool") != 0) {
			x_part(&b, o);
			x_add(x, SMP(PART_UPDATED), &b);
			goto done;
		}
		t = jv_get(o, "state");
		ses = jv_str(p, "sessionID");
		line_tool_head(&b, ses != NULL ? ses : jv_rstr(o, "sessionID"),
		    jv_rstr(o, "messageID"), jv_rstr(o, "id"),
		    jv_rstr(o, "callID"), jv_rstr(o, "tool"),
		    jv_rstr(t, "status"), jv_ostr(t, "title"),
		    jv_ostr(t, "error"));
		if (jv_set(v = jv_get(t, "input")))
			jv_canon(v, &b);
		sb_adds(&b, " output=");
		/* A running bash streams its output in metadata.output. */
		if ((v = jv_get(t, "output")) == NULL || v->type == J_NULL)
			v = jv_get(jv_get(t, "metadata"), "output");
		if (v != NULL && v->type == J_STR)
			sb_quote(&b, v->str, v->slen);
		else
			sb_quote(&b, "", 0);
		x_add(x, SMP(TOOL_CALL), &b);
	} else if (strcmp(type, "permission.asked") == 0) {
		sb_printf(&b, "PermissionRequest ses=%s id=%s permission=%s "
		    "patterns=[", jv_rstr(p, "sessionID"), jv_rstr(p, "id"),
		    jv_rstr(p, "permission"));
		v = jv_get(p, "patterns");
		for (i = 0; v != NULL && v->type == J_ARR && i < v->n; i++) {
			if (i > 0)
				sb_adds(&b, ",");
			if (v->kids[i]->type != J_STR)
				fail_msg("transcript: a pattern not a string");
			sb_quote(&b, v->kids[i]->str, v->kids[i]->slen);
		}
		o = jv_get(p, "tool");
		sb_printf(&b, "] msg=%s call=%s metadata=",
		    jv_ostr(o, "messageID"), jv_ostr(o, "callID"));
		if (jv_set(v = jv_get(p, "metadata")))
			jv_canon(v, &b);
		x_add(x, SMP(PERMISSION_REQUEST), &b);
	} else if (strcmp(type, "permission.replied") == 0) {
		line_permission_resolved(&b, jv_rstr(p, "sessionID"),
		    jv_rstr(p, "requestID"), jv_rstr(p, "reply"));
		x_add(x, SMP(PERMISSION_RESOLVED), &b);
	} else if (strcmp(type, "question.asked") == 0) {
		o = jv_get(p, "tool");
		sb_printf(&b, "QuestionRequest ses=%s id=%s msg=%s call=%s "
		    "questions=[", jv_rstr(p, "sessionID"), jv_rstr(p, "id"),
		    jv_ostr(o, "messageID"), jv_ostr(o, "callID"));
		v = jv_get(p, "questions");
		if (v == NULL || v->type != J_ARR)
			fail_msg("transcript: a question without questions");
		for (i = 0; i < v->n; i++) {
			o = v->kids[i];
			line_question_head(&b, i, jv_ostr(o, "question"),
			    jv_ostr(o, "header"), jv_bool(o, "multiple"),
			    jv_bool(o, "custom"));
			t = jv_arr(o, "options");
			for (k = 0; k < t->n; k++)
				line_option(&b, k, jv_rstr(t->kids[k], "label"),
				    jv_ostr(t->kids[k], "description"));
			sb_adds(&b, "]}");
		}
		sb_adds(&b, "]");
		x_add(x, SMP(QUESTION_REQUEST), &b);
	} else if (strcmp(type, "question.replied") == 0 ||
	    strcmp(type, "question.rejected") == 0) {
		line_question_resolved(&b, jv_rstr(p, "sessionID"),
		    jv_rstr(p, "requestID"),
		    strcmp(type, "question.rejected") == 0);
		x_add(x, SMP(QUESTION_RESOLVED), &b);
	} else if (strcmp(type, "todo.updated") == 0) {
		sb_printf(&b, "TodoList ses=%s todos=[",
		    jv_rstr(p, "sessionID"));
		v = jv_arr(p, "todos");
		for (i = 0; i < v->n; i++)
			line_todo(&b, i, jv_ostr(v->kids[i], "content"),
			    jv_ostr(v->kids[i], "status"),
			    jv_ostr(v->kids[i], "priority"));
		sb_adds(&b, "]");
		x_add(x, SMP(TODO_UPDATED), &b);
	} else if (strcmp(type, "session.diff") == 0) {
		/* The stream does not say which message: "". */
		sb_printf(&b, "DiffList ses=%s msg= files=[",
		    jv_rstr(p, "sessionID"));
		v = jv_arr(p, "diff");
		for (i = 0; i < v->n; i++) {
			o = v->kids[i];
			line_diff(&b, i, jv_str(o, "file") != NULL ?
			    jv_str(o, "file") : jv_ostr(o, "path"),
			    jv_ostr(o, "status"), jv_int(o, "additions"),
			    jv_int(o, "deletions"), 0,
			    x_uncut(jv_ostr(o, "patch")));
		}
		sb_adds(&b, "]");
		x_add(x, SMP(DIFF_UPDATED), &b);
	} else if (strcmp(type, "message.removed") == 0) {
		line_removed(&b, jv_rstr(p, "sessionID"),
		    jv_rstr(p, "messageID"), NULL);
		x_add(x, SMP(MESSAGE_REMOVED), &b);
	} else if (strcmp(type, "message.part.removed") == 0) {
		line_removed(&b, jv_rstr(p, "sessionID"),
		    jv_rstr(p, "messageID"), jv_rstr(p, "partID"));
		x_add(x, SMP(PART_REMOVED), &b);
	} else if (strcmp(type, "session.created") == 0 ||
	    strcmp(type, "session.updated") == 0 ||
	    strcmp(type, "session.deleted") == 0) {
		o = jv_get(p, "info");
		ses = jv_str(p, "sessionID");
		line_session_head(&b, ses != NULL ? ses : jv_rstr(o, "id"),
		    type + 8, "", 0, "", "");
		line_info(&b, jv_rstr(o, "id"), jv_str(o, "title"),
		    jv_int(jv_get(o, "time"), "created"),
		    jv_int(jv_get(o, "time"), "updated"));
		x_add(x, SMP(SESSION_EVENT), &b);
	} else if (strcmp(type, "session.status") == 0) {
		o = jv_get(p, "status");
		em = first_line(jv_ostr(o, "message"));
		line_session_head(&b, jv_rstr(p, "sessionID"), "status",
		    jv_rstr(o, "type"), jv_int(o, "attempt"), "", em);
		free(em);
		sb_adds(&b, "none");
		x_add(x, SMP(SESSION_EVENT), &b);
	} else if (strcmp(type, "session.idle") == 0) {
		line_session_head(&b, jv_rstr(p, "sessionID"), "idle", "", 0,
		    "", "");
		sb_adds(&b, "none");
		x_add(x, SMP(SESSION_EVENT), &b);
	} else if (strcmp(type, "session.error") == 0) {
		o = jv_get(p, "error");
		em = first_line(jv_ostr(jv_get(o, "data"), "message"));
		line_session_head(&b, jv_ostr(p, "sessionID"), "error", "", 0,
		    jv_ostr(o, "name"), em);
		free(em);
		sb_adds(&b, "none");
		x_add(x, SMP(SESSION_EVENT), &b);
	}
	/* Anything else (file.edited, server.heartbeat, ...) maps to
	 * nothing. */
 done:
	free(b.p);
	jv_free(root);
}

/* Appends what a replay of fixture name must produce. */
static void
x_transcript(struct xstate *st, struct xlist *x, const char *name)
{
	struct xctx c = { st, x };
	size_t len;
	char *text;

	if ((text = it_read_fixture(name, &len)) == NULL)
		fail_msg("cannot read fixture %s", name);
	sse_each(text, len, x_event, &c);
	free(text);
}

/* Only the events of one session (a Subscribe filter). */
static void
x_filter(const struct xlist *in, struct xlist *out, const char *ses)
{
	struct sb b = { NULL, 0, 0 };
	char pat[80];
	size_t i;
	struct xev *e;

	/* Every line is "Kind ses=ID ...". */
	snprintf(pat, sizeof(pat), " ses=%s ", ses);
	for (i = 0; i < in->n; i++) {
		if (strncmp(strchr(in->v[i].line, ' '), pat, strlen(pat)) != 0)
			continue;
		sb_adds(&b, in->v[i].line);
		e = x_add(out, in->v[i].kind, &b);
		if (in->v[i].kind == SMP(TOKEN)) {
			e->ses = xdup(in->v[i].ses);
			e->msg = xdup(in->v[i].msg);
			e->part = xdup(in->v[i].part);
			e->delta = xstrdup(in->v[i].delta, in->v[i].dlen);
			e->dlen = in->v[i].dlen;
			e->tkind = in->v[i].tkind;
			out->deltas++;
		}
	}
}

/* How many expected events are of one kind, and with a text in the line. */
static size_t
x_count(const struct xlist *x, int kind, const char *needle)
{
	size_t i, n = 0;

	for (i = 0; i < x->n; i++)
		if (x->v[i].kind == kind && (needle == NULL ||
		    strstr(x->v[i].line, needle) != NULL))
			n++;
	return n;
}

/* ---- received events ---- */

static void
rx_line(struct sb *b, const Opencode__ServerMessage *m)
{
	const Opencode__ChatToken *tk;
	const Opencode__ChatCompleted *cc;
	const Opencode__ToolCallEvent *tc;
	const Opencode__PermissionRequest *pr;
	const Opencode__SessionEvent *se;
	const Opencode__MessageInfo *mi;
	const Opencode__PartInfo *pi;
	const Opencode__QuestionRequest *qr;
	const Opencode__Question *q;
	const Opencode__FileDiff *fd;
	const Opencode__Todo *td;
	size_t i, k;

	switch (m->payload_case) {
	case SMP(TOKEN):
		tk = m->token;
		line_token(b, tk->session_id, tk->message_id, tk->part_id,
		    tk->kind, tk->delta, strlen(tk->delta));
		break;
	case SMP(COMPLETED):
		cc = m->completed;
		line_completed(b, cc->session_id, cc->message_id, cc->finish,
		    (long long)cc->input_tokens, (long long)cc->output_tokens,
		    cc->error);
		break;
	case SMP(TOOL_CALL):
		tc = m->tool_call;
		line_tool_head(b, tc->session_id, tc->message_id, tc->part_id,
		    tc->call_id, tc->tool, tc->status, tc->title, tc->error);
		canon_text(b, tc->input_json);
		sb_adds(b, " output=");
		sb_quote(b, tc->output, strlen(tc->output));
		break;
	case SMP(PERMISSION_REQUEST):
		pr = m->permission_request;
		sb_printf(b, "PermissionRequest ses=%s id=%s permission=%s "
		    "patterns=[", pr->session_id, pr->permission_id,
		    pr->permission);
		for (i = 0; i < pr->n_patterns; i++) {
			if (i > 0)
				sb_adds(b, ",");
			sb_quote(b, pr->patterns[i], strlen(pr->patterns[i]));
		}
		sb_printf(b, "] msg=%s call=%s metadata=", pr->message_id,
		    pr->call_id);
		canon_text(b, pr->metadata_json);
		break;
	case SMP(SESSION_EVENT):
		se = m->session_event;
		line_session_head(b, se->session_id, se->kind, se->status,
		    (long long)se->attempt, se->error_name, se->error_message);
		if (se->info == NULL)
			sb_adds(b, "none");
		else
			line_info(b, se->info->id, se->info->_title_case ==
			    OPENCODE__SESSION_INFO___TITLE_TITLE ?
			    se->info->title : NULL,
			    (long long)se->info->created_at,
			    (long long)se->info->updated_at);
		break;
	case SMP(MESSAGE_UPDATED):
		mi = m->message_updated;
		line_message(b, mi->session_id, mi->id, mi->role,
		    (long long)mi->created_at, (long long)mi->completed_at,
		    mi->parent_id, mi->agent, mi->provider_id, mi->model_id,
		    mi->finish, mi->error_name, mi->error_message,
		    (long long)mi->input_tokens, (long long)mi->output_tokens,
		    (long long)mi->reasoning_tokens, mi->cost);
		break;
	case SMP(PART_UPDATED):
		pi = m->part_updated;
		line_part_head(b, pi->session_id, pi->message_id, pi->id,
		    pi->kind, pi->synthetic, pi->truncated, pi->text,
		    strlen(pi->text));
		for (i = 0; i < pi->n_files; i++)
			line_item(b, i, pi->files[i], strlen(pi->files[i]));
		if (pi->file != NULL)
			line_file(b, pi->file->mime, pi->file->filename,
			    pi->file->url);
		else
			sb_adds(b, "] file=none");
		if (pi->tool != NULL)
			sb_adds(b, " tool=set");
		break;
	case SMP(PERMISSION_RESOLVED):
		line_permission_resolved(b, m->permission_resolved->session_id,
		    m->permission_resolved->permission_id,
		    m->permission_resolved->reply);
		break;
	case SMP(QUESTION_REQUEST):
		qr = m->question_request;
		sb_printf(b, "QuestionRequest ses=%s id=%s msg=%s call=%s "
		    "questions=[", qr->session_id, qr->id, qr->message_id,
		    qr->call_id);
		for (i = 0; i < qr->n_questions; i++) {
			q = qr->questions[i];
			line_question_head(b, i, q->question, q->header,
			    q->multiple, q->custom);
			for (k = 0; k < q->n_options; k++)
				line_option(b, k, q->options[k]->label,
				    q->options[k]->description);
			sb_adds(b, "]}");
		}
		sb_adds(b, "]");
		break;
	case SMP(QUESTION_RESOLVED):
		line_question_resolved(b, m->question_resolved->session_id,
		    m->question_resolved->question_id,
		    (int)m->question_resolved->rejected);
		break;
	case SMP(TODO_UPDATED):
		sb_printf(b, "TodoList ses=%s todos=[",
		    m->todo_updated->session_id);
		for (i = 0; i < m->todo_updated->n_todos; i++) {
			td = m->todo_updated->todos[i];
			line_todo(b, i, td->content, td->status, td->priority);
		}
		sb_adds(b, "]");
		break;
	case SMP(DIFF_UPDATED):
		sb_printf(b, "DiffList ses=%s msg=%s files=[",
		    m->diff_updated->session_id, m->diff_updated->message_id);
		for (i = 0; i < m->diff_updated->n_files; i++) {
			fd = m->diff_updated->files[i];
			line_diff(b, i, fd->path, fd->status,
			    (long long)fd->additions, (long long)fd->deletions,
			    fd->truncated, fd->patch);
		}
		sb_adds(b, "]");
		break;
	case SMP(MESSAGE_REMOVED):
		line_removed(b, m->message_removed->session_id,
		    m->message_removed->message_id, NULL);
		break;
	case SMP(PART_REMOVED):
		line_removed(b, m->part_removed->session_id,
		    m->part_removed->message_id, m->part_removed->part_id);
		break;
	case SMP(UPSTREAM_STATUS):
		sb_printf(b, "UpstreamStatus connected=%d version=%s",
		    (int)m->upstream_status->connected,
		    m->upstream_status->version);
		break;
	default:
		sb_printf(b, "payload %d request_id %llu", (int)m->payload_case,
		    (unsigned long long)m->request_id);
		break;
	}
}

static const char *
kind_name(enum wsc_kind k)
{
	switch (k) {
	case WSC_MESSAGE:	return "a message";
	case WSC_PING:		return "a ping";
	case WSC_PONG:		return "a pong";
	case WSC_CLOSE:		return "a close";
	case WSC_EOF:		return "EOF";
	case WSC_TIMEOUT:	return "nothing (timeout)";
	case WSC_BAD:		return "a protocol error";
	case WSC_ERROR:		return "a socket error";
	}
	return "?";
}

/* Why the event stream of a client stopped. */
struct rxend {
	enum wsc_kind	kind;
	uint16_t	code;	/* WSC_CLOSE */
};

/*
 * A test client.  Events are read here rather than with wsc_recv(), which
 * moves its whole buffer down after every frame: with thousands of small
 * frames queued that is quadratic, and a reader that falls behind would
 * fall further behind.  off counts the bytes of w.rbuf already parsed;
 * cl_sync() gives the wsc back a consistent buffer before any wsc_ call.
 */
struct cl {
	struct wsc	w;
	size_t		off;
};

#define CL_READ		(256 * 1024)

static void
cl_sync(struct cl *c)
{
	struct wsc *w = &c->w;

	if (c->off == 0)
		return;
	memmove(w->rbuf, w->rbuf + c->off, w->rlen - c->off);
	w->rlen -= c->off;
	c->off = 0;
}

static void
cl_close(struct cl *c)
{
	wsc_close(&c->w);
	c->off = 0;
}

/* More bytes into the buffer: 1, or the kind of end (EOF, timeout, error). */
static int
cl_fill(struct cl *c, int64_t deadline, enum wsc_kind *kind)
{
	struct wsc *w = &c->w;
	struct pollfd pfd;
	uint8_t *nb;
	ssize_t n;
	int64_t left;
	int r;

	cl_sync(c);
	if (w->rcap - w->rlen < CL_READ) {
		if ((nb = realloc(w->rbuf, w->rlen + 2 * CL_READ)) == NULL)
			fail_msg("out of memory");
		w->rbuf = nb;
		w->rcap = w->rlen + 2 * CL_READ;
	}
	for (;;) {
		n = recv(w->fd, w->rbuf + w->rlen, w->rcap - w->rlen,
		    MSG_DONTWAIT);
		if (n > 0) {
			w->rlen += (size_t)n;
			return 1;
		}
		if (n == 0 || (n == -1 && errno == ECONNRESET)) {
			*kind = WSC_EOF;
			return 0;
		}
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK) {
			*kind = WSC_ERROR;
			return 0;
		}
		pfd.fd = w->fd;
		pfd.events = POLLIN;
		left = deadline - it_now_ms();
		r = poll(&pfd, 1, left < 0 ? 0 : (int)left);
		if (r == -1 && errno == EINTR)
			continue;
		if (r <= 0) {
			*kind = r == 0 ? WSC_TIMEOUT : WSC_ERROR;
			return 0;
		}
	}
}

/*
 * The next event (request_id 0) before the deadline, or NULL with *end
 * telling what came instead.  A reply to a request fails the test: these
 * tests have none in flight while they read events.
 */
static Opencode__ServerMessage *
next_event(struct cl *c, const char *who, int64_t deadline,
    struct rxend *end)
{
	struct wsc *w = &c->w;
	Opencode__ServerMessage *m;
	struct ws_event ev;
	enum ws_event_type t;
	struct sb b = { NULL, 0, 0 };
	size_t used;

	for (;;) {
		if (w->parser_done) {
			end->kind = c->off < w->rlen ? WSC_ERROR : WSC_EOF;
			end->code = 0;
			return NULL;
		}
		if (c->off == w->rlen && !cl_fill(c, deadline, &end->kind)) {
			end->code = 0;
			return NULL;
		}
		memset(&ev, 0, sizeof(ev));
		switch ((t = ws_parser_feed(&w->parser, w->rbuf + c->off,
		    w->rlen - c->off, &used, &ev))) {
		case WS_EV_NONE:
			c->off += used;
			if (c->off == w->rlen)
				continue;
			fail_msg("%s: the frame parser stopped short", who);
			break;
		case WS_EV_MESSAGE:
			c->off += used;
			if ((m = opencode__server_message__unpack(NULL, ev.len,
			    ev.data)) == NULL)
				fail_msg("%s: a message that is not a "
				    "ServerMessage (%zu bytes)", who, ev.len);
			if (m->request_id != 0 || m->payload_case < 200) {
				rx_line(&b, m);
				fail_msg("%s: not an event: %s", who, b.p);
			}
			return m;
		case WS_EV_PING:
		case WS_EV_PONG:
			c->off += used;
			continue;
		case WS_EV_CLOSE:
		case WS_EV_ERROR:
			c->off += used;
			w->parser_done = 1;
			end->kind = t == WS_EV_CLOSE ? WSC_CLOSE : WSC_BAD;
			end->code = ev.code;
			return NULL;
		}
	}
}

/* UpstreamStatus that go beside a sequence. */
struct rxstat {
	size_t	trues;		/* connected:true, version FX_VERSION */
	size_t	tokens;		/* ChatToken messages received */
	size_t	merged_max;	/* largest ChatToken carrying >1 delta */
	size_t	merged_reasoning; /* merged ChatTokens of kind "reasoning" */
};

static int
token_is(const Opencode__ChatToken *tk, const struct xev *e)
{
	return strcmp(tk->delta, e->delta) == 0 && strlen(tk->delta) ==
	    e->dlen && strcmp(tk->part_id, e->part) == 0 &&
	    strcmp(tk->message_id, e->msg) == 0 &&
	    strcmp(tk->session_id, e->ses) == 0 &&
	    strcmp(tk->kind, e->tkind) == 0;
}

static int
status_true_ok(const Opencode__ServerMessage *m)
{
	return m->payload_case == SMP(UPSTREAM_STATUS) &&
	    m->upstream_status->connected &&
	    strcmp(m->upstream_status->version, FX_VERSION) == 0;
}

/*
 * Receives x->v[from..to) exactly, in order; UpstreamStatus{true, version}
 * may come anywhere and are counted.  Waits for at least min_trues of them
 * too.  With merged set, consecutive ChatTokens of one part may come as one
 * (their deltas concatenated), as for a slow reader; with end not NULL the
 * stream may also stop early (a close): *reached tells how far it came.
 */
static void
expect_seq(struct cl *w, const char *who, const struct xlist *x, size_t from,
    size_t to, struct rxstat *rs, size_t min_trues, int timeout_ms,
    int merged, struct rxend *end, size_t *reached)
{
	int64_t deadline = it_now_ms() + timeout_ms;
	struct sb b = { NULL, 0, 0 };
	Opencode__ServerMessage *m;
	const Opencode__ChatToken *tk;
	const struct xev *e;
	struct rxend why;
	size_t i = from, off, dl;

	while (i < to || rs->trues < min_trues) {
		if ((m = next_event(w, who, deadline, &why)) == NULL) {
			if (end != NULL && why.kind != WSC_TIMEOUT) {
				*end = why;
				*reached = i;
				free(b.p);
				return;
			}
			fail_msg("%s: got %s (code %u) after %zu of %zu events "
			    "and %zu UpstreamStatus (%zu wanted)%s%s", who,
			    kind_name(why.kind), why.code, i - from, to - from,
			    rs->trues, min_trues, i < to ? "; next expected: " :
			    "", i < to ? x->v[i].line : "");
		}
		b.len = 0;
		if (m->payload_case == SMP(UPSTREAM_STATUS)) {
			if (!status_true_ok(m)) {
				rx_line(&b, m);
				fail_msg("%s: after %zu of %zu events: %s "
				    "(expected connected:true, version %s)",
				    who, i - from, to - from, b.p, FX_VERSION);
			}
			rs->trues++;
			wsc_msg_free(m);
			continue;
		}
		if (i >= to) {
			rx_line(&b, m);
			fail_msg("%s: an event after the %zu expected: %s", who,
			    to - from, b.p);
		}
		e = &x->v[i];
		if (m->payload_case == SMP(TOKEN))
			rs->tokens++;
		if (!merged || m->payload_case != SMP(TOKEN) ||
		    e->kind != SMP(TOKEN)) {
			/* The hot case, without writing the line. */
			if (m->payload_case == SMP(TOKEN) &&
			    e->kind == SMP(TOKEN) && token_is(m->token, e)) {
				i++;
				wsc_msg_free(m);
				continue;
			}
			rx_line(&b, m);
			if (strcmp(b.p, e->line) != 0)
				fail_msg("%s: event %zu of %zu:\n  expected %s\n"
				    "  got      %s", who, i - from, to - from,
				    e->line, b.p);
			i++;
			wsc_msg_free(m);
			continue;
		}
		/* One or more consecutive deltas of the same part. */
		tk = m->token;
		dl = strlen(tk->delta);
		off = 0;
		do {
			e = i < to ? &x->v[i] : NULL;
			if (e == NULL || e->kind != SMP(TOKEN) ||
			    strcmp(e->ses, tk->session_id) != 0 ||
			    strcmp(e->msg, tk->message_id) != 0 ||
			    strcmp(e->part, tk->part_id) != 0 ||
			    strcmp(e->tkind, tk->kind) != 0 ||
			    e->dlen > dl - off ||
			    memcmp(tk->delta + off, e->delta, e->dlen) != 0) {
				rx_line(&b, m);
				fail_msg("%s: event %zu of %zu: a ChatToken that "
				    "is not the next deltas of one part "
				    "(%zu bytes matched):\n  expected %s\n"
				    "  got      %.300s...", who, i - from,
				    to - from, off, e != NULL ? e->line : "(none)",
				    b.p);
			}
			off += e->dlen;
			i++;
		} while (off < dl);
		if (dl > e->dlen &&
		    opencode__server_message__get_packed_size(m) >
		    rs->merged_max)
			rs->merged_max =
			    opencode__server_message__get_packed_size(m);
		if (dl > e->dlen && strcmp(tk->kind, "reasoning") == 0)
			rs->merged_reasoning++;
		wsc_msg_free(m);
	}
	free(b.p);
	if (end != NULL) {
		end->kind = WSC_MESSAGE;
		*reached = i;
	}
}

/*
 * The stream is lost: UpstreamStatus{false} must come next.  Stray
 * connected:true before it are counted; any other event fails (nothing may
 * follow a sequence).
 */
static void
expect_down(struct cl *w, const char *who, struct rxstat *rs)
{
	int64_t deadline = it_now_ms() + T_STREAM;
	struct sb b = { NULL, 0, 0 };
	Opencode__ServerMessage *m;
	struct rxend why;

	for (;;) {
		if ((m = next_event(w, who, deadline, &why)) == NULL)
			fail_msg("%s: got %s waiting for UpstreamStatus{"
			    "connected: false}", who, kind_name(why.kind));
		if (m->payload_case == SMP(UPSTREAM_STATUS) &&
		    !m->upstream_status->connected)
			break;
		if (!status_true_ok(m)) {
			rx_line(&b, m);
			fail_msg("%s: %s where UpstreamStatus{connected: false} "
			    "was expected", who, b.p);
		}
		rs->trues++;
		wsc_msg_free(m);
	}
	wsc_msg_free(m);
	free(b.p);
}

/* The stream is back: UpstreamStatus{true, "1.18.34"} must come next. */
static void
expect_up(struct cl *w, const char *who)
{
	struct sb b = { NULL, 0, 0 };
	Opencode__ServerMessage *m;
	struct rxend why;

	if ((m = next_event(w, who, it_now_ms() + T_STREAM, &why)) == NULL)
		fail_msg("%s: got %s waiting for UpstreamStatus{connected: "
		    "true}", who, kind_name(why.kind));
	if (!status_true_ok(m)) {
		rx_line(&b, m);
		fail_msg("%s: %s (expected UpstreamStatus{connected: true, "
		    "version: %s})", who, b.p, FX_VERSION);
	}
	wsc_msg_free(m);
}

/* After POST /__fake/sse-end: {false}, then {true} once the stream is back. */
static void
expect_resync(struct cl *w, const char *who, struct rxstat *rs)
{
	expect_down(w, who, rs);
	expect_up(w, who);
}

/*
 * Waits until ocbroker has asked the fake for its version, which it does
 * on its stream's first server.connected (the fake's, on opening it).
 * The stream is announced on that reply, which is then on its way before
 * a replay starts instead of racing the replay's end: a stream that ends
 * before it is announced is not reported lost, and a client would wait
 * for connected:false in vain (seen once on a loaded machine).
 */
static void
wait_version_asked(struct it_env *e)
{
	int64_t deadline = it_now_ms() + T_STREAM;
	char *last;

	it_wait_stream(e);
	while ((last = it_fake_last(e, "GET", "/global/health")) == NULL) {
		if (it_now_ms() >= deadline)
			fail_msg("ocbroker never asked the fake for its version");
		usleep(20 * 1000);
	}
	free(last);
}

/* The fake ends its stream (as on the server's SIGTERM); w resyncs. */
static void
end_stream(struct it_env *e, struct cl *w, const char *who, struct rxstat *rs)
{
	it_fake_post(e, "/__fake/sse-end", "");
	expect_resync(w, who, rs);
}

/* Bytes the fake's /event streams hold that the kernel has not taken. */
static long
stream_queued(struct it_env *e)
{
	char *resp = NULL;
	long n = -1;

	if (it_fake_req(e, "GET", "/__fake/stream-queued", "", &resp) != 200 ||
	    resp == NULL || sscanf(resp, "{\"queued\":%ld}", &n) != 1)
		fail_msg("no stream-queued from the fake");
	free(resp);
	return n;
}

/* ---- processes, clients, the fake ---- */

/* Opens a WebSocket and authenticates with the ready line's token. */
static void
client(struct it_env *e, struct cl *c, uint64_t id)
{
	int r;

	c->off = 0;
	if (wsc_open(&c->w, e->port, T_IO) == -1)
		fail_msg("WebSocket opening handshake to port %u failed",
		    (unsigned)e->port);
	if ((r = wsc_auth(&c->w, e->token, id, T_IO)) != 1)
		fail_msg("auth with the ready line's token: %d", r);
}

static Opencode__ServerMessage *
call(struct cl *c, Opencode__ClientMessage *cm, int timeout_ms)
{
	cl_sync(c);
	if (wsc_send_msg(&c->w, cm, T_IO) == -1)
		fail_msg("send failed");
	return wsc_recv_reply(&c->w, cm->request_id, timeout_ms);
}

static void
expect_empty(Opencode__ServerMessage *m, uint64_t id)
{
	struct sb b = { NULL, 0, 0 };

	if (m == NULL)
		fail_msg("no reply to request %llu", (unsigned long long)id);
	if (m->payload_case != SMP(_NOT_SET)) {
		if (m->payload_case == SMP(ERROR))
			fail_msg("request %llu: error %s \"%s\"",
			    (unsigned long long)id, m->error->code,
			    m->error->message);
		rx_line(&b, m);
		fail_msg("request %llu: expected an empty ack, got %s",
		    (unsigned long long)id, b.p);
	}
	assert_int_equal(m->request_id, id);
}

static void
subscribe(struct cl *w, uint64_t id, const char *const *ids, size_t n)
{
	Opencode__ClientMessage cm = OPENCODE__CLIENT_MESSAGE__INIT;
	Opencode__Subscribe sub = OPENCODE__SUBSCRIBE__INIT;
	Opencode__ServerMessage *m;

	sub.n_session_ids = n;
	sub.session_ids = (char **)ids;
	cm.request_id = id;
	cm.payload_case = CMP(SUBSCRIBE);
	cm.subscribe = &sub;
	m = call(w, &cm, T_REPLY);
	expect_empty(m, id);
	wsc_msg_free(m);
}

/* Starts a fake on the port the first one had (after that one stopped). */
static void
fake_restart_same_port(struct it_env *e)
{
	const char *bin = getenv("FAKE_UPSTREAM"), *fx = getenv("OCB_FIXTURES");
	char port[16], line[128];
	char *argv[] = { (char *)bin, "--fixtures", (char *)fx, "--port", port,
	    NULL };
	int64_t deadline;
	struct pollfd pfd;
	unsigned got = 0;
	size_t len = 0;
	ssize_t n;
	pid_t pid;
	int p[2], fd;

	assert_non_null(bin);
	assert_non_null(fx);
	snprintf(port, sizeof(port), "%u", (unsigned)e->fake_port);
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	if ((pid = fork()) == -1)
		fail_msg("fork: %s", strerror(errno));
	if (pid == 0) {
		setpgid(0, 0);
		if ((fd = open("/dev/null", O_RDONLY)) != -1)
			dup2(fd, 0);
		dup2(p[1], 1);
		if ((fd = open(e->fake_log, O_WRONLY | O_CREAT | O_APPEND,
		    0644)) != -1)
			dup2(fd, 2);
		close_range(3, ~0U, 0);
		execv(bin, argv);
		_exit(127);
	}
	setpgid(pid, pid);
	close(p[1]);
	/* it_wait() stops this one at teardown. */
	e->fake_pid = pid;
	deadline = it_now_ms() + T_IO;
	while (len + 1 < sizeof(line) && memchr(line, '\n', len) == NULL) {
		pfd.fd = p[0];
		pfd.events = POLLIN;
		if (poll(&pfd, 1, (int)(deadline - it_now_ms() > 0 ?
		    deadline - it_now_ms() : 0)) <= 0)
			break;
		if ((n = read(p[0], line + len, sizeof(line) - 1 - len)) <= 0)
			break;
		len += (size_t)n;
	}
	close(p[0]);
	line[len] = '\0';
	if (sscanf(line, "{\"port\":%u}", &got) != 1 || got != e->fake_port)
		fail_msg("the new fake did not start on port %u: \"%s\" "
		    "(log %s)", (unsigned)e->fake_port, line, e->fake_log);
}

static void
fake_stop(struct it_env *e)
{
	int64_t deadline = it_now_ms() + T_IO;
	int st;
	pid_t r;

	assert_true(e->fake_pid > 0);
	kill(e->fake_pid, SIGTERM);
	while ((r = waitpid(e->fake_pid, &st, WNOHANG)) == 0 &&
	    it_now_ms() < deadline)
		usleep(10000);
	if (r != e->fake_pid)
		fail_msg("the fake did not exit on SIGTERM");
	e->fake_pid = 0;
}

/* ---- the front's memory ---- */

/*
 * The front's memory while (or after) a slow client's queue is full: queues
 * are bounded at 8 MiB a connection, so it must stay small.  A sanitizer
 * build keeps freed memory in quarantine: there it is only reported.
 */
static void
check_front_memory(struct it_env *e, const char *when)
{
	pid_t fp;
	long rss, hwm;

	if ((fp = procfs_role_pid(e->ocb_pid, "front")) == -1)
		fail_msg("no \"ocbroker --role front\" child of %ld",
		    (long)e->ocb_pid);
	rss = procfs_status(fp, "VmRSS");
	hwm = procfs_status(fp, "VmHWM");
	print_message("front (pid %ld) %s: VmRSS %ld KiB, VmHWM %ld KiB\n",
	    (long)fp, when, rss, hwm);
	assert_true(rss > 0 && hwm > 0);
	if (it_sandboxed() && hwm >= FRONT_HWM_MAX_KB)
		fail_msg("the front's VmHWM is %ld KiB (bound %ld KiB)", hwm,
		    FRONT_HWM_MAX_KB);
}

/* Whether ocbroker's log has a line with that text. */
static int
log_has(const struct it_env *e, const char *text)
{
	char line[1024];
	int found = 0;
	FILE *f;

	if ((f = fopen(e->ocb_log, "re")) == NULL)
		return 0;
	while (!found && fgets(line, sizeof(line), f) != NULL)
		found = strstr(line, text) != NULL;
	fclose(f);
	return found;
}

/* ---- 1. one transcript, the exact sequence ---- */

/*
 * One client; the fake replays the transcript; the client must get exactly
 * the events the transcript maps to, in order, nothing more (the stream's
 * end marks the end), and UpstreamStatus{true, "1.18.34"} for the
 * transcript's server.connected.  Then, on the new stream, the same
 * transcript once more: the same events but no ChatCompleted, as every
 * assistant message was already reported complete.
 */
static void
transcript_exact(struct it_env *e, const char *fixture, struct xlist *x)
{
	struct xstate st = { { NULL, 0 }, { NULL, 0 } };
	struct xlist again = { NULL, 0, 0, 0, 0 };
	struct rxstat rs = { 0, 0, 0, 0 };
	const char *v;
	struct cl w;
	size_t i;

	x_transcript(&st, x, fixture);
	x_transcript(&st, &again, fixture);
	xstate_free(&st);
	assert_true(x->n > 0);
	assert_int_equal(x->connected, 1);
	assert_int_equal(x_count(&again, SMP(COMPLETED), NULL), 0);
	assert_int_equal(again.n, x->n - x_count(x, SMP(COMPLETED), NULL));

	client(e, &w, 1);
	wait_version_asked(e);
	it_replay(e, fixture);
	/* The stream was announced before the client authenticated, and
	 * the replay's server.connected is no transition: UpstreamStatus
	 * may come (the stream's first, if after our auth), none is due. */
	expect_seq(&w, fixture, x, 0, x->n, &rs, 0, T_STREAM, 0, NULL, NULL);
	end_stream(e, &w, fixture, &rs);
	/* At most one more: the stream's first, if it came after our auth. */
	if (rs.trues > x->connected + 1)
		fail_msg("%s: %zu UpstreamStatus{connected:true} for %zu "
		    "server.connected", fixture, rs.trues, x->connected);
	print_message("%s: %zu events in order, %zu ChatTokens, "
	    "%zu UpstreamStatus\n", fixture, x->n, x->deltas, rs.trues);
	if ((v = getenv("OCB_IT_VERBOSE")) != NULL && *v != '\0' &&
	    strcmp(v, "0") != 0)
		for (i = 0; i < x->n; i++)
			print_message("  %.200s\n", x->v[i].line);

	/* Once more: the stream is announced, so the transcript's
	 * server.connected gives no UpstreamStatus at all. */
	rs.trues = 0;
	it_replay(e, fixture);
	expect_seq(&w, fixture, &again, 0, again.n, &rs, 0, T_STREAM, 0, NULL,
	    NULL);
	end_stream(e, &w, fixture, &rs);
	assert_int_equal(rs.trues, 0);
	x_free(&again);
	cl_close(&w);
}

static void
test_transcript_text(void **state)
{
	struct xlist x = { NULL, 0, 0, 0, 0 };
	struct sb text = { NULL, 0, 0 };
	size_t i;

	transcript_exact(*state, "sse-text.txt", &x);
	/* What the transcript says, in the reader's own terms. */
	for (i = 0; i < x.n; i++)
		if (x.v[i].kind == SMP(TOKEN))
			sb_addn(&text, x.v[i].delta, x.v[i].dlen);
	assert_string_equal(text.p, "Hello from the mock language model.");
	assert_int_equal(x.deltas, 6);
	assert_int_equal(x_count(&x, SMP(COMPLETED), NULL), 1);
	assert_int_equal(x_count(&x, SMP(COMPLETED),
	    "finish=stop input=120 output=6 error="), 1);
	assert_int_equal(x_count(&x, SMP(SESSION_EVENT), "kind=created"), 1);
	assert_int_equal(x_count(&x, SMP(SESSION_EVENT), "kind=idle"), 1);
	assert_int_equal(x_count(&x, SMP(SESSION_EVENT),
	    "kind=status status=idle"), 1);
	assert_int_equal(x_count(&x, SMP(TOOL_CALL), NULL), 0);
	free(text.p);
	x_free(&x);
}

static void
test_transcript_tool(void **state)
{
	struct xlist x = { NULL, 0, 0, 0, 0 };
	const char *want[] = { "status=pending", "status=running",
	    "status=completed" };
	size_t i, k = 0, c = 0;

	transcript_exact(*state, "sse-tool.txt", &x);
	/* read: pending -> running -> completed, one call id, and then the
	 * two completions, tool-calls first. */
	for (i = 0; i < x.n; i++) {
		const char *l = x.v[i].line;

		if (x.v[i].kind == SMP(TOOL_CALL)) {
			assert_true(k < 3);
			assert_non_null(strstr(l, want[k]));
			assert_non_null(strstr(l, " call=call_mock_0005 "));
			assert_non_null(strstr(l, " tool=read "));
			if (k > 0)
				assert_non_null(strstr(l,
				    "input={\"filePath\":\"hello.txt\"}"));
			if (k == 2) {
				assert_non_null(strstr(l, "title=\"hello.txt\""));
				assert_non_null(strstr(l, "hello from the "
				    "ocbroker probe project"));
			}
			k++;
		} else if (x.v[i].kind == SMP(COMPLETED)) {
			assert_int_equal(k, 3);
			assert_non_null(strstr(l, c == 0 ?
			    "finish=tool-calls input=120 output=4 " :
			    "finish=stop "));
			c++;
		}
	}
	assert_int_equal(k, 3);
	assert_int_equal(c, 2);
	assert_int_equal(x.deltas, 4);
	x_free(&x);
}

static void
test_transcript_permission(void **state)
{
	struct xlist x = { NULL, 0, 0, 0, 0 };

	transcript_exact(*state, "sse-permission.txt", &x);
	assert_int_equal(x_count(&x, SMP(PERMISSION_REQUEST), NULL), 1);
	assert_int_equal(x_count(&x, SMP(PERMISSION_REQUEST),
	    "id=per_216264a5a001SZP3O5Om9g1xn2 permission=bash "
	    "patterns=[\"echo hello from the mock\"] "
	    "msg=msg_21626484f001xcMbZ0W2yhhjY3 call=call_mock_0007 "
	    "metadata={\"command\":\"echo hello from the mock\"}"), 1);
	/* bash streams its output through metadata.output while running. */
	assert_int_equal(x_count(&x, SMP(TOOL_CALL),
	    "status=running"), 3);
	assert_int_equal(x_count(&x, SMP(TOOL_CALL),
	    "status=running title=\"\" error=\"\" input={\"command\":\"echo "
	    "hello from the mock\",\"description\":\"Print a greeting\"} "
	    "output=\"hello from the mock\\u000a\""), 1);
	assert_int_equal(x_count(&x, SMP(TOOL_CALL), "status=completed"), 1);
	assert_int_equal(x_count(&x, SMP(COMPLETED), NULL), 2);
	x_free(&x);
}

static void
test_transcript_abort(void **state)
{
	struct xlist x = { NULL, 0, 0, 0, 0 };

	transcript_exact(*state, "sse-abort.txt", &x);
	assert_int_equal(x_count(&x, SMP(SESSION_EVENT),
	    "kind=error status= attempt=0 error_name=MessageAbortedError "
	    "error_message=\"Aborted\""), 1);
	assert_int_equal(x_count(&x, SMP(COMPLETED),
	    "finish= input=0 output=0 error=MessageAbortedError"), 1);
	assert_int_equal(x_count(&x, SMP(COMPLETED), NULL), 1);
	assert_int_equal(x_count(&x, SMP(SESSION_EVENT), "kind=idle"), 2);
	assert_int_equal(x.deltas, 3);
	x_free(&x);
}

/*
 * The v2 events on the captures that have them: reasoning tokens, the
 * question and permission answers, todos, diffs, removals, patch and file
 * parts.  transcript_exact() checks every line; here what the reader found
 * is checked to be there at all.
 */
static void
test_transcript_v2(void **state)
{
	static const struct {
		const char	*name;
		int		 kind;
		const char	*needle;
		size_t		 count;
	} fx[] = {
		{ "sse-reasoning.txt", SMP(TOKEN), " kind=reasoning ", 4 },
		{ "sse-reasoning.txt", SMP(PART_UPDATED), " kind=reasoning "
		    "synthetic=0 truncated=0 text=\"The user wants a thought "
		    "first.\"", 1 },
		{ "sse-full.txt", SMP(QUESTION_REQUEST), "{q=\"Which colour "
		    "should the mock use?\" header=\"Colour\" multiple=0 "
		    "custom=0 options=[\"Blue\":\"The colour of the sky\",",
		    1 },
		{ "sse-full.txt", SMP(QUESTION_RESOLVED), " rejected=0", 1 },
		{ "sse-full.txt", SMP(PERMISSION_RESOLVED), " reply=once", 1 },
		{ "sse-full.txt", SMP(TODO_UPDATED), "todos=[\"Read the probe "
		    "file\"/completed/high,\"Write the notes\"/in_progress/"
		    "medium,\"Run the tests\"/pending/low]", 1 },
		{ "sse-question-reject.txt", SMP(QUESTION_RESOLVED),
		    " rejected=1", 1 },
		{ "sse-revert-part.txt", SMP(PART_REMOVED), NULL, 1 },
		{ "sse-revert-prompt.txt", SMP(MESSAGE_REMOVED), NULL, 2 },
		{ "sse-revert.txt", SMP(DIFF_UPDATED), " msg= files=["
		    "\"hello.txt\" modified +1 -1 truncated=0 patch=", 1 },
		{ "sse-edit.txt", SMP(PART_UPDATED), " kind=patch synthetic=0 "
		    "truncated=0 text=\"\" files=[\"/home/user/project/notes"
		    ".txt\"]", 1 },
		{ "sse-file.txt", SMP(PART_UPDATED), " kind=file synthetic=0 "
		    "truncated=0 text=\"\" files=[] file={mime=\"text/plain\" "
		    "filename=\"a.txt\" url=\"data:", 1 },
		{ "sse-file.txt", SMP(PART_UPDATED), " synthetic=1 ", 2 },
	};
	struct xlist x = { NULL, 0, 0, 0, 0 };
	const char *done = "";
	size_t i, n;

	for (i = 0; i < sizeof(fx) / sizeof(fx[0]); i++) {
		if (strcmp(fx[i].name, done) != 0) {
			x_free(&x);
			transcript_exact(*state, fx[i].name, &x);
			done = fx[i].name;
		}
		n = x_count(&x, fx[i].kind, fx[i].needle);
		if (n != fx[i].count)
			fail_msg("%s: %zu events of payload %d with %s, "
			    "want %zu", fx[i].name, n, fx[i].kind,
			    fx[i].needle != NULL ? fx[i].needle : "anything",
			    fx[i].count);
	}
	x_free(&x);
}

/* ---- 2. slow readers ---- */

/* The text of part part_id in its last message.part.updated. */
static char *
final_part_text(const char *fixture, const char *part_id)
{
	char *fx, *p, *q, pat[128];
	size_t len;
	struct jv *v = NULL;
	char *out = NULL;
	const char *t;

	assert_non_null(fx = it_read_fixture(fixture, &len));
	snprintf(pat, sizeof(pat), "\"id\":\"%s\"", part_id);
	/* The last data line that has that part with its text. */
	for (p = fx; (p = strstr(p, "\ndata: ")) != NULL; p++) {
		q = strchr(p + 1, '\n');
		if (q == NULL || memmem(p, (size_t)(q - p), pat,
		    strlen(pat)) == NULL ||
		    memmem(p, (size_t)(q - p), "message.part.updated", 20) ==
		    NULL)
			continue;
		jv_free(v);
		assert_non_null(v = json_read(p + 7, (size_t)(q - p - 7)));
	}
	assert_non_null(v);
	t = jv_rstr(jv_get(jv_get(v, "properties"), "part"), "text");
	assert_non_null(out = strdup(t));
	jv_free(v);
	free(fx);
	return out;
}

/* How much a connection's socket send buffer may grow to. */
static long
tcp_wmem_max(void)
{
	long lo, def, max = 4L * 1024 * 1024;
	FILE *f;

	if ((f = fopen("/proc/sys/net/ipv4/tcp_wmem", "re")) != NULL) {
		if (fscanf(f, "%ld %ld %ld", &lo, &def, &max) != 3)
			max = 4L * 1024 * 1024;
		fclose(f);
	}
	return max;
}

/*
 * sse-many (2000 deltas) replayed many times in a row, as fast as
 * the fake can, while one client reads nothing until the other has received
 * everything: the fast one gets every delta unmerged and in order; the slow
 * one, whose queue passed 1 MiB, gets fewer ChatTokens carrying the same
 * text (lossless, order kept), and the front's memory stays bounded.
 * sse-reasoning follows, while that queue is still full: its reasoning
 * deltas, merged, still say "reasoning".
 */
static void
test_slow_reader_merges(void **state)
{
	struct it_env *e = *state;
	struct xstate st = { { NULL, 0 }, { NULL, 0 } };
	struct xlist x = { NULL, 0, 0, 0, 0 };
	struct rxstat fast_rs = { 0, 0, 0, 0 }, slow_rs = { 0, 0, 0, 0 };
	struct sb want = { NULL, 0, 0 };
	struct cl fast, slow;
	char *final;
	const char *part = NULL;
	size_t i, r, replays, once = 0, nmany;
	int64_t t0;

	/* Enough replays that the kernel cannot take it all. */
	x_transcript(&st, &x, "sse-many.txt");
	for (i = 0; i < x.n; i++)	/* what the ChatTokens take, at least */
		if (x.v[i].kind == SMP(TOKEN))
			once += strlen(x.v[i].ses) + strlen(x.v[i].msg) +
			    strlen(x.v[i].part) + x.v[i].dlen + 10;
	replays = (size_t)(tcp_wmem_max() + KERNEL_MARGIN) / once + 1;
	if (replays < MANY_REPLAYS_MIN)
		replays = MANY_REPLAYS_MIN;
	if (replays > MANY_REPLAYS_MAX)
		fail_msg("tcp_wmem allows %ld bytes in the kernel: too much for "
		    "this test", tcp_wmem_max());
	for (r = 1; r < replays; r++)
		x_transcript(&st, &x, "sse-many.txt");
	assert_int_equal(x.deltas, (size_t)2000 * replays);
	/* The message completes once, however often it is replayed. */
	assert_int_equal(x_count(&x, SMP(COMPLETED), NULL), 1);
	nmany = x.n;
	x_transcript(&st, &x, "sse-reasoning.txt");
	xstate_free(&st);
	assert_int_equal(x_count(&x, SMP(TOKEN), " kind=reasoning "), 4);
	for (i = 0; i < nmany; i++) {
		if (x.v[i].kind != SMP(TOKEN))
			continue;
		if (part == NULL)
			part = x.v[i].part;
		/* One part only: the per-part text is the whole text. */
		assert_string_equal(x.v[i].part, part);
		sb_addn(&want, x.v[i].delta, x.v[i].dlen);
	}
	/* The deltas add up to the part's final text, every time. */
	final = final_part_text("sse-many.txt", part);
	assert_int_equal(want.len, strlen(final) * replays);
	for (r = 0; r < replays; r++)
		assert_memory_equal(want.p + r * strlen(final), final,
		    strlen(final));

	client(e, &fast, 1);
	client(e, &slow, 1);
	wait_version_asked(e);
	t0 = it_now_ms();
	for (r = 0; r < replays; r++)
		it_fake_post(e, "/__fake/sse", "sse-many.txt");
	it_fake_post(e, "/__fake/sse", "sse-reasoning.txt");
	expect_seq(&fast, "fast client", &x, 0, x.n, &fast_rs, 0, T_FLOOD, 0,
	    NULL, NULL);
	print_message("fast client: sse-many x %zu: %zu events, %zu ChatTokens "
	    "unmerged, in %lld ms\n", replays, x.n, fast_rs.tokens,
	    (long long)(it_now_ms() - t0));
	assert_int_equal(fast_rs.tokens, x.deltas);
	/* Everything is queued for the slow one now. */
	check_front_memory(e, "with the slow client's queue full");

	end_stream(e, &fast, "fast client", &fast_rs);

	t0 = it_now_ms();
	expect_seq(&slow, "slow client", &x, 0, x.n, &slow_rs, 0, T_FLOOD, 1,
	    NULL, NULL);
	expect_resync(&slow, "slow client", &slow_rs);
	print_message("slow client: %zu deltas arrived as %zu ChatTokens, the "
	    "largest merged one %zu bytes (read in %lld ms)\n", x.deltas,
	    slow_rs.tokens, slow_rs.merged_max, (long long)(it_now_ms() - t0));
	if (slow_rs.tokens >= x.deltas)
		fail_msg("no ChatToken was merged for the slow client "
		    "(%zu for %zu deltas): its queue never passed 1 MiB",
		    slow_rs.tokens, x.deltas);
	/* The reasoning deltas came after every sse-many one, the queue
	 * still full: three of them were merged into the first. */
	assert_int_equal(slow_rs.merged_reasoning, 1);
	/* Merging is bounded: a merged message is re-encoded on every merge. */
	if (slow_rs.merged_max > FRONT_MERGE_MAX)
		fail_msg("a merged ChatToken of %zu bytes (merging stops at "
		    "%d)", slow_rs.merged_max, FRONT_MERGE_MAX);
	check_front_memory(e, "after the slow client caught up");
	free(final);
	free(want.p);
	x_free(&x);
	cl_close(&fast);
	cl_close(&slow);
}

/*
 * A front that falls behind (stopped here with SIGSTOP) makes netproc stop
 * reading the event stream instead of buffering it: while the flood waits
 * at the upstream, netproc sleeps and its memory stays within its queue's
 * mark (it held the whole flood, tens of MiB, before); once the front runs
 * again the client gets every event, in order.
 */
static void
test_stalled_front_pauses_stream(void **state)
{
	struct it_env *e = *state;
	struct xstate st = { { NULL, 0 }, { NULL, 0 } };
	struct xlist x = { NULL, 0, 0, 0, 0 };
	struct rxstat rs = { 0, 0, 0, 0 };
	struct cl c;
	pid_t fp, np;
	long rss0, rss, queued = -1, last = -2;
	int i, same = 0, asleep;

	x_transcript(&st, &x, FLOOD_FILE);
	client(e, &c, 1);
	fp = procfs_role_pid(e->ocb_pid, "front");
	np = procfs_role_pid(e->ocb_pid, "netproc");
	if (fp == -1 || np == -1)
		fail_msg("no front or netproc child of %ld", (long)e->ocb_pid);
	rss0 = procfs_status(np, "VmRSS");
	assert_int_equal(kill(fp, SIGSTOP), 0);
	it_replay(e, FLOOD_FILE);
	/* Until what the fake holds stops going down (or it holds nothing). */
	for (i = 0; i < STALL_LOOKS_MAX && same < STALL_LOOKS; i++) {
		queued = stream_queued(e);
		same = queued == last ? same + 1 : 0;
		last = queued;
		usleep(10 * 1000);
	}
	asleep = procfs_asleep(np, STALL_LOOKS);
	rss = procfs_status(np, "VmRSS");
	/* First let the front go, so that a failure does not leave it
	 * stopped. */
	assert_int_equal(kill(fp, SIGCONT), 0);
	print_message("front stopped: the fake holds %ld bytes; netproc "
	    "VmRSS %ld -> %ld KiB, asleep in %d of %d looks\n", queued, rss0,
	    rss, asleep, STALL_LOOKS);
	if (queued <= 0)
		fail_msg("the fake sent the whole flood to a stopped front: "
		    "netproc kept reading");
	/* A sanitizer's quarantine keeps what is freed: no bound there. */
	if (it_sandboxed() && rss - rss0 > NETPROC_STALL_GROWTH_KB)
		fail_msg("netproc grew by %ld KiB while the front was stopped "
		    "(bound %d KiB)", rss - rss0, NETPROC_STALL_GROWTH_KB);
	assert_true(asleep >= STALL_LOOKS - 5);

	expect_seq(&c, "client", &x, 0, x.n, &rs, 0, T_FLOOD, 0, NULL, NULL);
	assert_int_equal(rs.tokens, x.deltas);
	end_stream(e, &c, "client", &rs);
	xstate_free(&st);
	x_free(&x);
	cl_close(&c);
}

/* Writes the flood transcript: flood_events deltas of FLOOD_DELTA bytes. */
static int
gen_flood(const char *dir)
{
	static const char *const bits[] = {
		"plain words ", "\\\"quoted\\\" ", "back\\\\slash ",
		"line\\nbreak ", "tab\\there ", "\\u00e9t\\u00e9 ",
		"caf\xc3\xa9 ", "\xe6\x97\xa5\xe6\x9c\xac ",
		"\\ud83c\\udf89 ", "\xf0\x9f\x8e\x89 ", "slash\\/ ",
		"ctl\\u0001 "
	};
	char path[PATH_MAX + 64];
	uint32_t seed = 12345;
	size_t i, n;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, FLOOD_FILE);
	if ((f = fopen(path, "we")) == NULL)
		return -1;
	/* Past the queue's bound, whatever the kernel holds: 6 KB each. */
	flood_events = (size_t)(FRONT_QUEUE_MAX + tcp_wmem_max() +
	    KERNEL_MARGIN) / 6000 + 1;
	if (flood_events < FLOOD_EVENTS_MIN)
		flood_events = FLOOD_EVENTS_MIN;
	for (i = 0; i < flood_events; i++) {
		fprintf(f, "data: {\"id\":\"evt_flood%06zu\",\"type\":"
		    "\"message.part.delta\",\"properties\":{\"sessionID\":\""
		    FLOOD_SES "\",\"messageID\":\"" FLOOD_MSG "\",\"partID\":\""
		    FLOOD_PART "\",\"field\":\"text\",\"delta\":\"[%zu]", i, i);
		/* JSON text bytes, roughly FLOOD_DELTA decoded ones. */
		for (n = 0; n < FLOOD_DELTA; ) {
			const char *b;

			seed = seed * 1103515245u + 12345u;
			b = bits[(seed >> 16) % (sizeof(bits) /
			    sizeof(bits[0]))];
			fputs(b, f);
			n += strlen(b);
		}
		fputs("\"}}\n\n", f);
	}
	return fclose(f) == 0 ? 0 : -1;
}

/*
 * A client that never reads while far more than 8 MiB of events (deltas too
 * large to merge) go out: it is closed with 1013 after a lossless prefix,
 * while the other client gets every event and keeps getting them.
 */
static void
test_never_reader_closed_1013(void **state)
{
	struct it_env *e = *state;
	struct xstate st = { { NULL, 0 }, { NULL, 0 } };
	struct xlist x = { NULL, 0, 0, 0, 0 }, t = { NULL, 0, 0, 0, 0 };
	struct rxstat fast_rs = { 0, 0, 0, 0 }, dead_rs = { 0, 0, 0, 0 };
	struct rxend end;
	struct cl fast, dead;
	size_t i, bytes = 0, reached = 0;
	int64_t t0;

	x_transcript(&st, &x, FLOOD_FILE);
	assert_int_equal(x.deltas, flood_events);
	for (i = 0; i < x.n; i++) {
		bytes += x.v[i].dlen;
		/* None of them can be merged. */
		assert_true(x.v[i].dlen > FRONT_MERGE_MAX);
	}
	print_message("flood: %zu deltas, %zu bytes of text\n", x.n, bytes);
	assert_true(bytes > (size_t)(FRONT_QUEUE_MAX + tcp_wmem_max() +
	    KERNEL_MARGIN / 2));
	x_transcript(&st, &t, "sse-text.txt");

	client(e, &fast, 1);
	client(e, &dead, 1);
	it_replay(e, FLOOD_FILE);
	t0 = it_now_ms();
	expect_seq(&fast, "fast client", &x, 0, x.n, &fast_rs, 0, T_FLOOD, 0,
	    NULL, NULL);
	print_message("fast client: %zu deltas (%zu bytes) in %lld ms\n",
	    x.n, bytes, (long long)(it_now_ms() - t0));
	check_front_memory(e, "after a flood");

	/* The other one: what it got is a lossless prefix, then 1013. */
	expect_seq(&dead, "never-reading client", &x, 0, x.n, &dead_rs, 0,
	    T_FLOOD, 1, &end, &reached);
	print_message("never-reading client: %zu of %zu deltas, then %s "
	    "(code %u)\n", reached, x.n, kind_name(end.kind), end.code);
	if (end.kind == WSC_MESSAGE)
		fail_msg("the never-reading client got every event: nothing "
		    "overflowed");
	if (end.kind == WSC_CLOSE)
		assert_int_equal(end.code, WS_CLOSE_TRY_AGAIN);
	else if (end.kind != WSC_EOF)
		fail_msg("never-reading client: %s", kind_name(end.kind));
	/* Either way the front said why (a peer too slow to read even our
	 * close is cut off after 5 s: then only EOF is left to see). */
	if (!log_has(e, "close 1013"))
		fail_msg("no \"close 1013\" in %s", e->ocb_log);
	assert_true(reached < x.n);
	cl_close(&dead);

	/* The fast client keeps receiving. */
	it_replay(e, "sse-text.txt");
	expect_seq(&fast, "fast client", &t, 0, t.n, &fast_rs, 0, T_STREAM, 0,
	    NULL, NULL);
	end_stream(e, &fast, "fast client", &fast_rs);
	xstate_free(&st);
	x_free(&x);
	x_free(&t);
	cl_close(&fast);
}

/* ---- 3. the upstream restarts ---- */

/*
 * The stream ends (as on the server's SIGTERM), then the server goes away
 * and a new one starts on the same port: each time the client sees
 * UpstreamStatus{false} then {true, "1.18.34"}, and what is replayed after
 * arrives.
 */
static void
test_upstream_restart(void **state)
{
	struct it_env *e = *state;
	struct xstate st = { { NULL, 0 }, { NULL, 0 } };
	struct xlist a = { NULL, 0, 0, 0, 0 }, b = { NULL, 0, 0, 0, 0 };
	struct xlist c = { NULL, 0, 0, 0, 0 };
	struct rxstat rs = { 0, 0, 0, 0 };
	struct cl w;
	int64_t t0;

	x_transcript(&st, &a, "sse-text.txt");
	x_transcript(&st, &b, "sse-tool.txt");
	x_transcript(&st, &c, "sse-permission.txt");
	client(e, &w, 1);

	/* Up, with events: so the stream was announced. */
	wait_version_asked(e);
	it_replay(e, "sse-text.txt");
	expect_seq(&w, "before", &a, 0, a.n, &rs, 0, T_STREAM, 0, NULL, NULL);

	/* 1: the stream ends; ocbroker reconnects. */
	t0 = it_now_ms();
	end_stream(e, &w, "stream end", &rs);
	print_message("stream end: connected again after %lld ms\n",
	    (long long)(it_now_ms() - t0));
	it_replay(e, "sse-tool.txt");
	rs.trues = 0;
	expect_seq(&w, "after the stream's end", &b, 0, b.n, &rs, 0, T_STREAM,
	    0, NULL, NULL);

	/* 2: the server goes away; a new one takes its port. */
	t0 = it_now_ms();
	fake_stop(e);
	expect_down(&w, "server stop", &rs);
	print_message("server stopped: connected:false after %lld ms\n",
	    (long long)(it_now_ms() - t0));
	fake_restart_same_port(e);
	t0 = it_now_ms();
	expect_up(&w, "server restart");
	print_message("new server: connected:true after %lld ms\n",
	    (long long)(it_now_ms() - t0));
	it_replay(e, "sse-permission.txt");
	rs.trues = 0;
	expect_seq(&w, "after the restart", &c, 0, c.n, &rs, 0, T_STREAM, 0,
	    NULL, NULL);
	end_stream(e, &w, "after the restart", &rs);

	xstate_free(&st);
	x_free(&a);
	x_free(&b);
	x_free(&c);
	cl_close(&w);
}

/* ---- 4. SendMessage ---- */

static Opencode__ServerMessage *
send_message(struct cl *w, uint64_t id, const char *ses, const char *text,
    const char *provider, const char *model, const char *agent)
{
	Opencode__ClientMessage cm = OPENCODE__CLIENT_MESSAGE__INIT;
	Opencode__SendMessage sm = OPENCODE__SEND_MESSAGE__INIT;

	sm.session_id = (char *)ses;
	sm.text = (char *)text;
	if (provider != NULL) {
		sm._provider_id_case =
		    OPENCODE__SEND_MESSAGE___PROVIDER_ID_PROVIDER_ID;
		sm.provider_id = (char *)provider;
	}
	if (model != NULL) {
		sm._model_id_case = OPENCODE__SEND_MESSAGE___MODEL_ID_MODEL_ID;
		sm.model_id = (char *)model;
	}
	if (agent != NULL) {
		sm._agent_case = OPENCODE__SEND_MESSAGE___AGENT_AGENT;
		sm.agent = (char *)agent;
	}
	cm.request_id = id;
	cm.payload_case = CMP(SEND_MESSAGE);
	cm.send_message = &sm;
	return call(w, &cm, T_REPLY);
}

/*
 * The prompt body the fake got, checked as JSON: exactly
 * {"parts":[{"type":"text","text":TEXT}]} plus model and agent when given.
 */
static void
check_prompt(struct it_env *e, const char *ses, const char *text,
    const char *provider, const char *model, const char *agent)
{
	char want_line[128], *last, *body;
	const struct jv *parts, *p0 = NULL, *mo;
	struct jv *v;
	size_t nkeys = 1;

	snprintf(want_line, sizeof(want_line), "POST /session/%s/prompt_async",
	    ses);
	assert_non_null(last = it_fake_last(e, "POST", "/session/"));
	if ((body = strchr(last, '\n')) == NULL ||
	    strncmp(last, want_line, strlen(want_line)) != 0 ||
	    body != last + strlen(want_line))
		fail_msg("upstream got: %s (expected %s)", last, want_line);
	body++;
	if ((v = json_read(body, strlen(body))) == NULL ||
	    v->type != J_OBJ)
		fail_msg("prompt body is not a JSON object: %s", body);
	parts = jv_get(v, "parts");
	if (parts == NULL || parts->type != J_ARR || parts->n != 1 ||
	    (p0 = parts->kids[0])->type != J_OBJ || p0->n != 2 ||
	    jv_str(p0, "type") == NULL ||
	    strcmp(jv_str(p0, "type"), "text") != 0 ||
	    jv_get(p0, "text") == NULL || jv_get(p0, "text")->type != J_STR)
		fail_msg("prompt body: parts is not [{type:text, text}]: %s",
		    body);
	/* The text, byte for byte (with a NUL, strlen would stop short). */
	if (jv_get(p0, "text")->slen != strlen(text) ||
	    memcmp(jv_get(p0, "text")->str, text, strlen(text)) != 0)
		fail_msg("prompt body: the text changed on the way: %s", body);
	if (provider != NULL) {
		nkeys++;
		mo = jv_get(v, "model");
		if (mo == NULL || mo->type != J_OBJ || mo->n != 2 ||
		    jv_str(mo, "providerID") == NULL ||
		    strcmp(jv_str(mo, "providerID"), provider) != 0 ||
		    jv_str(mo, "modelID") == NULL ||
		    strcmp(jv_str(mo, "modelID"), model) != 0)
			fail_msg("prompt body: model is not {providerID: %s, "
			    "modelID: %s}: %s", provider, model, body);
	} else if (jv_get(v, "model") != NULL)
		fail_msg("prompt body: a model nobody asked for: %s", body);
	if (agent != NULL) {
		nkeys++;
		if (jv_str(v, "agent") == NULL ||
		    strcmp(jv_str(v, "agent"), agent) != 0)
			fail_msg("prompt body: agent is not %s: %s", agent,
			    body);
	} else if (jv_get(v, "agent") != NULL)
		fail_msg("prompt body: an agent nobody asked for: %s", body);
	if (v->n != nkeys)
		fail_msg("prompt body: %zu members, %zu expected: %s", v->n,
		    nkeys, body);
	jv_free(v);
	free(last);
}

static void
test_send_message(void **state)
{
	static const char tricky[] = "He said \"hi\" \\ back\\slash\n"
	    "tab\there \x01\x1f ctl, caf\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac "
	    "\xf0\x9f\x8e\x89 </script> \\u0041";
	struct it_env *e = *state;
	Opencode__ServerMessage *m;
	struct cl w;
	char *last;

	client(e, &w, 1);

	/* A session the upstream does not know: its 404 is NOT_FOUND. */
	m = send_message(&w, 10, UNKNOWN_SESSION, "text", NULL, NULL, NULL);
	if (m == NULL || m->payload_case != SMP(ERROR) ||
	    strcmp(m->error->code, "NOT_FOUND") != 0)
		fail_msg("SendMessage to an unknown session: expected "
		    "NOT_FOUND, got %s", m == NULL ? "no reply" :
		    m->payload_case == SMP(ERROR) ? m->error->code :
		    "something else");
	assert_int_equal(m->request_id, 10);
	wsc_msg_free(m);
	assert_non_null(last = it_fake_last(e, "POST", "/session/"));
	assert_memory_equal(last, "POST /session/" UNKNOWN_SESSION
	    "/prompt_async\n", strlen("POST /session/" UNKNOWN_SESSION
	    "/prompt_async\n"));
	free(last);

	/* A known one: an empty ack, and the body as the contract says. */
	m = send_message(&w, 11, SES_TEXT, "text", NULL, NULL, NULL);
	expect_empty(m, 11);
	wsc_msg_free(m);
	check_prompt(e, SES_TEXT, "text", NULL, NULL, NULL);

	m = send_message(&w, 12, SES_TOOL, tricky, "mock", "mock-1", "build");
	expect_empty(m, 12);
	wsc_msg_free(m);
	check_prompt(e, SES_TOOL, tricky, "mock", "mock-1", "build");

	m = send_message(&w, 13, SES_TEXT, "only an agent", NULL, NULL, "plan");
	expect_empty(m, 13);
	wsc_msg_free(m);
	check_prompt(e, SES_TEXT, "only an agent", NULL, NULL, "plan");
	cl_close(&w);
}

/* ---- 5. Subscribe ---- */

/*
 * Three clients: one subscribed to the sse-text session, one to the
 * sse-tool session (after first naming another), one to everything.  Both
 * transcripts are replayed: each client gets exactly its sessions' events,
 * and all of them get UpstreamStatus.
 */
static void
test_subscribe_sessions(void **state)
{
	struct it_env *e = *state;
	static const char *const only_text[] = { SES_TEXT };
	static const char *const only_tool[] = { SES_TOOL };
	static const char *const other[] = { UNKNOWN_SESSION, SES_TEXT };
	struct xstate st = { { NULL, 0 }, { NULL, 0 } };
	struct xlist all = { NULL, 0, 0, 0, 0 };
	struct xlist xa = { NULL, 0, 0, 0, 0 }, xb = { NULL, 0, 0, 0, 0 };
	struct rxstat rs_all = { 0, 0, 0, 0 }, rs_a = { 0, 0, 0, 0 };
	struct rxstat rs_b = { 0, 0, 0, 0 };
	struct cl wall, wa, wb;

	x_transcript(&st, &all, "sse-text.txt");
	x_transcript(&st, &all, "sse-tool.txt");
	x_filter(&all, &xa, SES_TEXT);
	x_filter(&all, &xb, SES_TOOL);
	assert_true(xa.n > 0 && xb.n > 0);
	assert_int_equal(xa.n + xb.n, all.n);

	client(e, &wall, 1);
	client(e, &wa, 1);
	client(e, &wb, 1);
	subscribe(&wa, 2, only_text, 1);
	subscribe(&wb, 2, other, 2);
	subscribe(&wb, 3, only_tool, 1);	/* replaces the list */

	wait_version_asked(e);
	it_replay(e, "sse-text.txt");
	it_fake_post(e, "/__fake/sse", "sse-tool.txt");
	expect_seq(&wall, "unfiltered client", &all, 0, all.n, &rs_all, 0,
	    T_STREAM, 0, NULL, NULL);
	expect_seq(&wa, "client of " SES_TEXT, &xa, 0, xa.n, &rs_a, 0,
	    T_STREAM, 0, NULL, NULL);
	expect_seq(&wb, "client of " SES_TOOL, &xb, 0, xb.n, &rs_b, 0,
	    T_STREAM, 0, NULL, NULL);
	/* UpstreamStatus has no session: it passes every filter. */
	end_stream(e, &wall, "unfiltered client", &rs_all);
	expect_resync(&wa, "client of " SES_TEXT, &rs_a);
	expect_resync(&wb, "client of " SES_TOOL, &rs_b);
	/* Those came to every client authenticated when they went out (the
	 * unfiltered one authenticated first). */
	assert_true(rs_a.trues <= rs_all.trues);
	assert_true(rs_b.trues <= rs_all.trues);

	xstate_free(&st);
	x_free(&all);
	x_free(&xa);
	x_free(&xb);
	cl_close(&wall);
	cl_close(&wa);
	cl_close(&wb);
}

/* ---- the reader itself ---- */

static void
collect(void *arg, const char *data, size_t len)
{
	struct sb *b = arg;

	sb_addn(b, data, len);
	sb_adds(b, "|");
}

static void
test_reader(void **state)
{
	static const char sse[] = "data: a\r\ndata: b\r\n\r\n: note\n\n"
	    "id: 1\nevent: x\ndata:c\n\ndata: d\r\rdata\n\ndata: lost\n";
	static const char doc[] = " {\"b\":[1,-2.5e3,true,null],"
	    "\"a\":\"\\u00e9\\ud83c\\udf89\\n\",\"a\":{}} ";
	struct sb b = { NULL, 0, 0 };
	struct jv *v;

	(void)state;
	assert_non_null(v = json_read(doc, strlen(doc)));
	jv_canon(v, &b);
	assert_string_equal(b.p, "{\"a\":\"\xc3\xa9\xf0\x9f\x8e\x89\\u000a\","
	    "\"a\":{},\"b\":[1,-2.5e3,true,null]}");
	assert_string_equal(jv_str(v, "a"), "\xc3\xa9\xf0\x9f\x8e\x89\n");
	jv_free(v);
	assert_null(json_read("{\"a\":1,}", 8));
	assert_null(json_read("[01]", 4));
	assert_null(json_read("\"\\ud800\"", 8));
	assert_null(json_read("\"a\nb\"", 5));
	assert_null(json_read("{} x", 4));
	free(b.p);

	/* SSE: CRLF, CR or LF; data lines joined; comments and other fields
	 * skipped; an event without its blank line is not dispatched. */
	memset(&b, 0, sizeof(b));
	sse_each(sse, strlen(sse), collect, &b);
	assert_string_equal(b.p, "a\nb|c|d||");
	free(b.p);
}

/*
 * The reader's sequences, one letter per event, against the ones
 * tests/support/v2_codes.c writes out for every capture (test_events.c
 * checks the mapper against the same), so that two derivations of the
 * same rules agree.
 */
static char
x_code(const struct xev *e)
{
	static const struct {
		int		 kind;
		char		 code;
		const char	*needle;
	} tab[] = {
		{ SMP(TOKEN), 'T', NULL }, { SMP(COMPLETED), 'X', NULL },
		{ SMP(TOOL_CALL), 'K', NULL },
		{ SMP(PERMISSION_REQUEST), 'P', NULL },
		{ SMP(MESSAGE_UPDATED), 'M', NULL },
		{ SMP(PART_UPDATED), 'A', NULL },
		{ SMP(DIFF_UPDATED), 'F', NULL },
		{ SMP(TODO_UPDATED), 'O', NULL },
		{ SMP(QUESTION_REQUEST), 'Q', NULL },
		{ SMP(QUESTION_RESOLVED), 'q', NULL },
		{ SMP(PERMISSION_RESOLVED), 'R', NULL },
		{ SMP(MESSAGE_REMOVED), 'm', NULL },
		{ SMP(PART_REMOVED), 'a', NULL },
		{ SMP(SESSION_EVENT), 'C', " kind=created " },
		{ SMP(SESSION_EVENT), 'U', " kind=updated " },
		{ SMP(SESSION_EVENT), 'D', " kind=deleted " },
		{ SMP(SESSION_EVENT), 'S', " kind=status " },
		{ SMP(SESSION_EVENT), 'I', " kind=idle " },
		{ SMP(SESSION_EVENT), 'E', " kind=error " },
	};
	size_t i;

	for (i = 0; i < sizeof(tab) / sizeof(tab[0]); i++)
		if (tab[i].kind == e->kind && (tab[i].needle == NULL ||
		    strstr(e->line, tab[i].needle) != NULL))
			return tab[i].code;
	return '?';
}

static void
test_v2_codes(void **state)
{
	struct xstate st = { { NULL, 0 }, { NULL, 0 } };
	struct xlist x = { NULL, 0, 0, 0, 0 };
	struct sb b = { NULL, 0, 0 };
	size_t i, k;

	(void)state;
	for (i = 0; i < v2_ncodes; i++) {
		x_transcript(&st, &x, v2_codes[i].in);
		b.len = 0;
		sb_adds(&b, "");
		for (k = 0; k < x.n; k++)
			sb_addn(&b, (char []){ x_code(&x.v[k]) }, 1);
		if (strcmp(b.p, v2_codes[i].want) != 0)
			fail_msg("%s: %s, want %s", v2_codes[i].in, b.p,
			    v2_codes[i].want);
		x_free(&x);
		xstate_free(&st);
	}
	free(b.p);
}

/* ---- main ---- */

/* Links every fixture into a directory of ours and writes the flood. */
static int
gen_fixtures(void)
{
	const char *fx = getenv("OCB_FIXTURES"), *tmp = getenv("TMPDIR");
	char src[PATH_MAX + 256], dst[PATH_MAX + 256], abs[PATH_MAX];
	struct dirent *de;
	DIR *d;

	if (fx == NULL || *fx == '\0' || realpath(fx, abs) == NULL) {
		fprintf(stderr, "OCB_FIXTURES is not set or not there\n");
		return -1;
	}
	if (tmp == NULL || *tmp == '\0')
		tmp = "/tmp";
	snprintf(gen_dir, sizeof(gen_dir), "%s/ocb-st-fx.XXXXXX", tmp);
	if (mkdtemp(gen_dir) == NULL) {
		fprintf(stderr, "mkdtemp %s: %s\n", gen_dir, strerror(errno));
		gen_dir[0] = '\0';
		return -1;
	}
	if ((d = opendir(abs)) == NULL)
		return -1;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(src, sizeof(src), "%s/%s", abs, de->d_name);
		snprintf(dst, sizeof(dst), "%s/%s", gen_dir, de->d_name);
		if (symlink(src, dst) == -1) {
			closedir(d);
			return -1;
		}
	}
	closedir(d);
	if (gen_flood(gen_dir) == -1)
		return -1;
	return setenv("OCB_FIXTURES", gen_dir, 1);
}

static void
gen_fixtures_remove(void)
{
	if (gen_dir[0] != '\0')
		it_remove_dir(gen_dir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reader),
		cmocka_unit_test(test_v2_codes),
		cmocka_unit_test_setup_teardown(test_transcript_text,
		    it_setup_default, it_teardown),
		cmocka_unit_test_setup_teardown(test_transcript_tool,
		    it_setup_default, it_teardown),
		cmocka_unit_test_setup_teardown(test_transcript_permission,
		    it_setup_default, it_teardown),
		cmocka_unit_test_setup_teardown(test_transcript_abort,
		    it_setup_default, it_teardown),
		cmocka_unit_test_setup_teardown(test_transcript_v2,
		    it_setup_default, it_teardown),
		cmocka_unit_test_setup_teardown(test_slow_reader_merges,
		    it_setup_default, it_teardown),
		cmocka_unit_test_setup_teardown(test_never_reader_closed_1013,
		    it_setup_default, it_teardown),
		cmocka_unit_test_setup_teardown(test_stalled_front_pauses_stream,
		    it_setup_default, it_teardown),
		cmocka_unit_test_setup_teardown(test_upstream_restart,
		    it_setup_default, it_teardown),
		cmocka_unit_test_setup_teardown(test_send_message,
		    it_setup_default, it_teardown),
		cmocka_unit_test_setup_teardown(test_subscribe_sessions,
		    it_setup_default, it_teardown),
	};

	if (gen_fixtures() == -1) {
		fprintf(stderr, "cannot prepare the generated transcripts\n");
		gen_fixtures_remove();
		return 1;
	}
	return IT_RUN("streaming", tests, gen_fixtures_remove);
}
