/*
 * Copyright (c) 2026 The ocbroker authors
 * SPDX-License-Identifier: ISC (the licence is in the file LICENSE)
 */

/*
 * Incremental HTTP/1.1 request-head parser: a byte-at-a-time state machine
 * over a fixed buffer.  See http_head.h for the accepted syntax.
 */
#include <string.h>

#include "broker/http_head.h"

enum {
	ST_METHOD = 0,		/* 0: http_head_init zeroes the parser */
	ST_TARGET,
	ST_VERSION,		/* "HTTP/x.y" then CR, vpos counts */
	ST_RL_LF,		/* LF ending the request line */
	ST_LINE_START,		/* start of a header line or the blank line */
	ST_NAME,
	ST_OWS,			/* after the colon, before the value */
	ST_VALUE,
	ST_HDR_LF,		/* LF ending a header line */
	ST_END_LF,		/* LF ending the blank line */
	ST_DONE,
	ST_ERROR
};

static const char http_version_prefix[] = "HTTP/";

/* tchar, RFC 9110 section 5.6.2. */
static int
is_tchar(uint8_t c)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9'))
		return 1;
	return c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/* field-vchar, RFC 9110 section 5.5: VCHAR or obs-text. */
static int
is_field_vchar(uint8_t c)
{
	return (c >= 0x21 && c <= 0x7e) || c >= 0x80;
}

static int
is_digit(uint8_t c)
{
	return c >= '0' && c <= '9';
}

static int
fail(struct http_head_parser *p, int status, const char *reason)
{
	p->state = ST_ERROR;
	p->error_status = status;
	p->error_reason = reason;
	return HTTP_HEAD_ERROR;
}

/* Processes byte c, already stored at p->buf[off]. */
static int
step(struct http_head_parser *p, uint8_t c, size_t off)
{
	struct http_head *h = &p->head;
	struct http_header *hdr;

	/* Catch-alls first, so each gets a precise log reason. */
	if (c == '\0')
		return fail(p, 400, "NUL byte in request head");
	if (c == '\n' && p->state != ST_RL_LF && p->state != ST_HDR_LF &&
	    p->state != ST_END_LF)
		return fail(p, 400, "bare LF in request head");

	switch (p->state) {
	case ST_METHOD:
		if (c == ' ') {
			if (off == 0)
				return fail(p, 400, "malformed request line");
			h->method = p->buf;
			h->method_len = off;
			p->mark = off + 1;
			p->state = ST_TARGET;
		} else if (!is_tchar(c))
			return fail(p, 400, "malformed request line");
		break;
	case ST_TARGET:
		if (c == ' ') {
			if (off == p->mark)
				return fail(p, 400, "malformed request line");
			h->target = p->buf + p->mark;
			h->target_len = off - p->mark;
			p->vpos = 0;
			p->state = ST_VERSION;
		} else if (c < 0x21 || c > 0x7e)
			return fail(p, 400, "malformed request target");
		break;
	case ST_VERSION:
		if (p->vpos < sizeof(http_version_prefix) - 1) {
			if (c != (uint8_t)http_version_prefix[p->vpos])
				return fail(p, 400, "malformed HTTP version");
		} else if (p->vpos == 5 || p->vpos == 7) {
			if (!is_digit(c))
				return fail(p, 400, "malformed HTTP version");
			if (p->vpos == 5)
				h->version_major = c - '0';
			else
				h->version_minor = c - '0';
		} else if (p->vpos == 6) {
			if (c != '.')
				return fail(p, 400, "malformed HTTP version");
		} else {
			if (c != '\r')
				return fail(p, 400, "malformed request line");
			p->state = ST_RL_LF;
		}
		p->vpos++;
		break;
	case ST_RL_LF:
	case ST_HDR_LF:
	case ST_END_LF:
		if (c != '\n')
			return fail(p, 400, "CR not followed by LF");
		if (p->state == ST_END_LF) {
			p->state = ST_DONE;
			return HTTP_HEAD_DONE;
		}
		if (p->state == ST_HDR_LF) {
			hdr = &h->headers[h->nheaders++];
			hdr->name = p->buf + p->mark;
			hdr->name_len = p->name_end - p->mark;
			hdr->value = p->buf + p->value_start;
			hdr->value_len = p->value_end - p->value_start;
		}
		p->state = ST_LINE_START;
		break;
	case ST_LINE_START:
		if (c == '\r')
			p->state = ST_END_LF;
		else if (c == ' ' || c == '\t')
			return fail(p, 400,
			    "obs-fold or whitespace at line start");
		else if (!is_tchar(c))
			return fail(p, 400, "malformed header name");
		else if (h->nheaders == HTTP_HEAD_MAX_HEADERS)
			return fail(p, 431, "too many header fields");
		else {
			p->mark = off;
			p->state = ST_NAME;
		}
		break;
	case ST_NAME:
		if (c == ':') {
			p->name_end = off;
			p->state = ST_OWS;
		} else if (c == ' ' || c == '\t')
			return fail(p, 400, "whitespace before colon");
		else if (c == '\r')
			return fail(p, 400, "header line without colon");
		else if (!is_tchar(c))
			return fail(p, 400, "malformed header name");
		break;
	case ST_OWS:
		if (c == ' ' || c == '\t')
			break;
		if (c == '\r') {
			p->value_start = p->value_end = off;
			p->state = ST_HDR_LF;
		} else if (is_field_vchar(c)) {
			p->value_start = off;
			p->value_end = off + 1;
			p->state = ST_VALUE;
		} else
			return fail(p, 400,
			    "control character in header value");
		break;
	case ST_VALUE:
		if (c == '\r')
			p->state = ST_HDR_LF;
		else if (is_field_vchar(c))
			p->value_end = off + 1;
		else if (c != ' ' && c != '\t')
			return fail(p, 400,
			    "control character in header value");
		break;
	default:
		/* ST_DONE/ST_ERROR: http_head_feed never gets here. */
		return fail(p, 400, "internal parser state");
	}
	return HTTP_HEAD_INCOMPLETE;
}

void
http_head_init(struct http_head_parser *p)
{
	memset(p, 0, sizeof(*p));
	p->state = ST_METHOD;
}

enum http_head_status
http_head_feed(struct http_head_parser *p, const uint8_t *data, size_t len,
    size_t *consumed)
{
	size_t i, off;
	int r;

	if (consumed != NULL)
		*consumed = 0;
	if (p->state == ST_DONE)
		return HTTP_HEAD_DONE;
	if (p->state == ST_ERROR)
		return HTTP_HEAD_ERROR;

	for (i = 0; i < len; i++) {
		/* Invariant: p->len < HTTP_HEAD_MAX here (checked below). */
		off = p->len;
		p->buf[p->len++] = (char)data[i];
		r = step(p, data[i], off);
		if (r == HTTP_HEAD_INCOMPLETE && p->len == HTTP_HEAD_MAX)
			r = fail(p, 431, "request head too large");
		if (r != HTTP_HEAD_INCOMPLETE) {
			if (consumed != NULL)
				*consumed = i + 1;
			return r;
		}
	}
	if (consumed != NULL)
		*consumed = len;
	return HTTP_HEAD_INCOMPLETE;
}

static int
ascii_lower(int c)
{
	return (c >= 'A' && c <= 'Z') ? c - 'A' + 'a' : c;
}

const struct http_header *
http_head_find(const struct http_head *h, const char *name, size_t *count)
{
	const struct http_header *first = NULL;
	size_t i, k, n = 0, len = strlen(name);

	for (i = 0; i < h->nheaders; i++) {
		const struct http_header *hdr = &h->headers[i];

		if (hdr->name_len != len)
			continue;
		for (k = 0; k < len; k++)
			if (ascii_lower((unsigned char)hdr->name[k]) !=
			    ascii_lower((unsigned char)name[k]))
				break;
		if (k != len)
			continue;
		if (first == NULL)
			first = hdr;
		n++;
	}
	if (count != NULL)
		*count = n;
	return first;
}
