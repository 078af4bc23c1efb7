/*
 * Copyright (c) 2026 The ocbroker authors
 * SPDX-License-Identifier: ISC (the licence is in the file LICENSE)
 */

/*
 * Incremental text/event-stream parser; see sse.h.  A line that is whole in
 * the caller's buffer is interpreted in place; only a line split across
 * feeds is copied into the line buffer first.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "netproc/sse.h"

#define SSE_BUF_MIN	256
#define SSE_SCAN_WINDOW	512	/* bytes searched for a line end per step */

static const char	sse_bom[3] = { '\xef', '\xbb', '\xbf' };

static void
sbuf_free(struct sse_buf *b)
{
	free(b->p);
	b->p = NULL;
	b->len = 0;
	b->cap = 0;
}

/* Empties b; a buffer that grew large for one event is given back. */
static void
sbuf_clear(struct sse_buf *b)
{
	if (b->cap > SSE_BUF_KEEP)
		sbuf_free(b);
	b->len = 0;
	if (b->p != NULL)
		b->p[0] = '\0';
}

/* Appends n bytes and keeps the NUL; callers bound len + n by the caps. */
static int
sbuf_add(struct sse_buf *b, const char *s, size_t n)
{
	size_t	 ncap;
	char	*np;

	if (b->cap - b->len <= n) {
		ncap = b->cap < SSE_BUF_MIN ? SSE_BUF_MIN : b->cap;
		while (ncap - b->len <= n)
			ncap *= 2;
		if ((np = realloc(b->p, ncap)) == NULL)
			return -1;
		b->p = np;
		b->cap = ncap;
	}
	if (n > 0)
		memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
	return 0;
}

static int
sbuf_set(struct sse_buf *b, const char *s, size_t n)
{
	b->len = 0;
	return sbuf_add(b, s, n);
}

void
sse_parser_init(struct sse_parser *p)
{
	memset(p, 0, sizeof(*p));
	p->state = SSE_ST_LINE_START;
	p->retry_ms = -1;
}

/* fn on each of the parser's buffers: one list for freeing and clearing. */
static void
each_sbuf(struct sse_parser *p, void (*fn)(struct sse_buf *))
{
	fn(&p->line);
	fn(&p->data);
	fn(&p->type);
	fn(&p->id);
}

void
sse_parser_free(struct sse_parser *p)
{
	each_sbuf(p, sbuf_free);
	sse_parser_init(p);
}

void
sse_parser_reset(struct sse_parser *p)
{
	each_sbuf(p, sbuf_clear);
	p->state = SSE_ST_LINE_START;
	p->bom_done = 0;
	p->retry_ms = -1;
	p->dispatched = 0;
	p->error = NULL;
}

static int
field_is(const char *f, size_t n, const char *name)
{
	return n == strlen(name) && memcmp(f, name, n) == 0;
}

static void
set_retry(struct sse_parser *p, const char *v, size_t n)
{
	int64_t	ms = 0;
	size_t	i;

	if (n == 0)
		return;
	for (i = 0; i < n; i++)
		if (v[i] < '0' || v[i] > '9')
			return;
	for (i = 0; i < n; i++) {
		ms = ms * 10 + (v[i] - '0');
		if (ms > SSE_RETRY_MAX_MS) {
			ms = SSE_RETRY_MAX_MS;
			break;
		}
	}
	p->retry_ms = ms;
}

/*
 * Interprets one line (without its end).  Returns 1 when it dispatches an
 * event, 0 when not, -1 with p->error set on error.
 */
static int
process_line(struct sse_parser *p, const char *s, size_t n)
{
	const char	*colon, *v;
	size_t		 fn, vn;

	if (!p->bom_done) {
		p->bom_done = 1;
		if (n >= sizeof(sse_bom) && memcmp(s, sse_bom, sizeof(sse_bom)) == 0) {
			s += sizeof(sse_bom);
			n -= sizeof(sse_bom);
		}
	}
	if (n == 0) {
		if (p->data.len == 0) {
			/* Nothing to dispatch: only the event type is forgotten. */
			p->type.len = 0;
			return 0;
		}
		/* Every data line added a "\n": the last one goes. */
		p->data.p[--p->data.len] = '\0';
		return 1;
	}
	if (s[0] == ':')
		return 0;
	if ((colon = memchr(s, ':', n)) != NULL) {
		fn = (size_t)(colon - s);
		v = colon + 1;
		vn = n - fn - 1;
		if (vn > 0 && v[0] == ' ') {
			v++;
			vn--;
		}
	} else {
		fn = n;
		v = s + n;
		vn = 0;
	}
	if (field_is(s, fn, "data")) {
		if (p->data.len + vn + 1 > SSE_MAX_DATA) {
			p->error = "event data too long";
			return -1;
		}
		if (sbuf_add(&p->data, v, vn) == -1 ||
		    sbuf_add(&p->data, "\n", 1) == -1)
			goto nomem;
	} else if (field_is(s, fn, "event")) {
		if (sbuf_set(&p->type, v, vn) == -1)
			goto nomem;
	} else if (field_is(s, fn, "id")) {
		/* The spec ignores an id with a NUL in it. */
		if (memchr(v, '\0', vn) == NULL && sbuf_set(&p->id, v, vn) == -1)
			goto nomem;
	} else if (field_is(s, fn, "retry"))
		set_retry(p, v, vn);
	return 0;
nomem:
	p->error = "out of memory";
	return -1;
}

/*
 * The first CR or LF in s[0..n), or NULL.  Two memchr per window, both
 * vectorised; the window keeps it linear when lines end in lone CRs (a
 * memchr for the LF over the whole rest would be quadratic: the caller feeds
 * the rest again after every event).
 */
static const char *
find_eol(const char *s, size_t n)
{
	const char	*lf, *cr;
	size_t		 w;

	while (n > 0) {
		w = n < SSE_SCAN_WINDOW ? n : SSE_SCAN_WINDOW;
		lf = memchr(s, '\n', w);
		cr = memchr(s, '\r', lf != NULL ? (size_t)(lf - s) : w);
		if (cr != NULL)
			return cr;
		if (lf != NULL)
			return lf;
		s += w;
		n -= w;
	}
	return NULL;
}

static enum sse_status
fail(struct sse_parser *p, const char *why)
{
	if (why != NULL)
		p->error = why;
	p->state = SSE_ST_FAILED;
	return SSE_ERROR;
}

enum sse_status
sse_parser_feed(struct sse_parser *p, const uint8_t *buf, size_t len,
    size_t *consumed, struct sse_event *ev)
{
	const char	*in = (const char *)buf, *eol, *line;
	size_t		 i = 0, end, n;
	int		 r;

	*consumed = 0;
	if (p->state == SSE_ST_FAILED)
		return SSE_ERROR;
	if (p->dispatched) {
		/* The event handed out last time is no longer needed. */
		p->dispatched = 0;
		sbuf_clear(&p->data);
		p->type.len = 0;
	}
	while (i < len) {
		if (p->state == SSE_ST_AFTER_CR) {
			p->state = SSE_ST_LINE_START;
			if (in[i] == '\n') {
				i++;
				continue;
			}
		}
		if ((eol = find_eol(in + i, len - i)) == NULL) {
			/* No line end yet: keep the partial line. */
			if (p->line.len + (len - i) > SSE_MAX_LINE) {
				*consumed = i;
				return fail(p, "line too long");
			}
			if (sbuf_add(&p->line, in + i, len - i) == -1) {
				*consumed = i;
				return fail(p, "out of memory");
			}
			p->state = SSE_ST_IN_LINE;
			i = len;
			break;
		}
		end = (size_t)(eol - in);
		n = end - i;
		if (p->state == SSE_ST_IN_LINE) {
			if (p->line.len + n > SSE_MAX_LINE) {
				*consumed = i;
				return fail(p, "line too long");
			}
			if (sbuf_add(&p->line, in + i, n) == -1) {
				*consumed = i;
				return fail(p, "out of memory");
			}
			line = p->line.p;
			n = p->line.len;
		} else {
			if (n > SSE_MAX_LINE) {
				*consumed = i;
				return fail(p, "line too long");
			}
			line = in + i;
		}
		i = end + 1;
		p->state = SSE_ST_LINE_START;
		if (*eol == '\r') {
			if (i < len && in[i] == '\n')
				i++;
			else if (i == len)
				p->state = SSE_ST_AFTER_CR;	/* the LF may come next */
		}
		r = process_line(p, line, n);
		sbuf_clear(&p->line);
		if (r == -1) {
			*consumed = i;
			return fail(p, NULL);
		}
		if (r == 1) {
			ev->data = p->data.p;
			ev->data_len = p->data.len;
			if (p->type.len > 0) {
				ev->type = p->type.p;
				ev->type_len = p->type.len;
			} else {
				ev->type = "message";
				ev->type_len = strlen("message");
			}
			ev->id = p->id.p != NULL ? p->id.p : "";
			ev->id_len = p->id.len;
			ev->retry_ms = p->retry_ms;
			p->dispatched = 1;
			*consumed = i;
			return SSE_EVENT;
		}
	}
	*consumed = len;
	return SSE_NEED_MORE;
}
