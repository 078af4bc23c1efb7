/*
 * Copyright (c) 2026 The ocbroker authors
 * SPDX-License-Identifier: ISC (the licence is in the file LICENSE)
 */

/* WebSocket opening-handshake policy; see ws_upgrade.h for the rules. */
#include <stdio.h>
#include <string.h>

#include "broker/ws_upgrade.h"
#include "common/base64.h"

/* Room for "[::1]:65535". */
#define HOST_MAX	32

static int
ascii_lower(int c)
{
	return (c >= 'A' && c <= 'Z') ? c - 'A' + 'a' : c;
}

/* ASCII case-insensitive equality of s[0..len) and the C string lit. */
static int
eq_nocase(const char *s, size_t len, const char *lit)
{
	size_t i;

	if (strlen(lit) != len)
		return 0;
	for (i = 0; i < len; i++)
		if (ascii_lower((unsigned char)s[i]) !=
		    ascii_lower((unsigned char)lit[i]))
			return 0;
	return 1;
}

static int
eq_exact(const char *s, size_t len, const char *lit)
{
	return strlen(lit) == len && memcmp(s, lit, len) == 0;
}

/*
 * Whether any field line called name holds token (case-insensitive) as an
 * element of its comma-separated list (RFC 9110 section 5.6.1; empty
 * elements are allowed and ignored).
 */
static int
list_has_token(const struct http_head *h, const char *name, const char *token)
{
	const struct http_header *hdr;
	size_t i, s, e, end;

	for (i = 0; i < h->nheaders; i++) {
		hdr = &h->headers[i];
		if (!eq_nocase(hdr->name, hdr->name_len, name))
			continue;
		for (s = 0; s <= hdr->value_len; s = end + 1) {
			end = s;
			while (end < hdr->value_len && hdr->value[end] != ',')
				end++;
			e = end;
			while (s < e && (hdr->value[s] == ' ' ||
			    hdr->value[s] == '\t'))
				s++;
			while (e > s && (hdr->value[e - 1] == ' ' ||
			    hdr->value[e - 1] == '\t'))
				e--;
			if (eq_nocase(hdr->value + s, e - s, token))
				return 1;
		}
	}
	return 0;
}

static int
key_valid(const struct http_header *key)
{
	uint8_t raw[WS_KEY_DECODED_LEN + 3];

	/* 16 bytes encode to exactly 24 characters. */
	if (key->value_len != BASE64_ENCODED_LEN(WS_KEY_DECODED_LEN))
		return 0;
	return base64_decode(key->value, key->value_len, raw, sizeof(raw)) ==
	    WS_KEY_DECODED_LEN;
}

static int
host_allowed(const struct http_header *host, uint16_t port)
{
	static const char *const names[] = {
		"127.0.0.1", "localhost", "[::1]"
	};
	char want[HOST_MAX];
	size_t i;
	int n;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		n = snprintf(want, sizeof(want), "%s:%u", names[i],
		    (unsigned int)port);
		if (n < 0 || (size_t)n >= sizeof(want))
			return 0;
		if (eq_nocase(host->value, host->value_len, want))
			return 1;
	}
	return 0;
}

static int
origin_allowed(const struct http_header *origin,
    const struct ws_upgrade_policy *pol)
{
	size_t i;

	for (i = 0; i < pol->n_allow_origins; i++)
		if (pol->allow_origins[i] != NULL &&
		    eq_nocase(origin->value, origin->value_len,
		    pol->allow_origins[i]))
			return 1;
	return 0;
}

static int
result(struct ws_upgrade_result *res, int status, const char *reason)
{
	res->status = status;
	res->reason = reason;
	return status;
}

/* The header that must stand exactly once; NULL, with a 400, otherwise. */
static const struct http_header *
find_once(const struct http_head *h, const char *name, const char *missing,
    const char *duplicate, struct ws_upgrade_result *res)
{
	const struct http_header *hdr;
	size_t n;

	hdr = http_head_find(h, name, &n);
	if (n == 1)
		return hdr;
	result(res, 400, n == 0 ? missing : duplicate);
	return NULL;
}

int
ws_upgrade_check(const struct http_head *h, const struct ws_upgrade_policy *pol,
    struct ws_upgrade_result *res)
{
	const struct http_header *host, *key, *ver, *origin, *cl;
	size_t n;

	memset(res, 0, sizeof(*res));

	/* 1. 400: not a well-formed WebSocket upgrade request. */
	if (!eq_exact(h->method, h->method_len, "GET"))
		return result(res, 400, "method is not GET");
	if (h->version_major != 1 || h->version_minor != 1)
		return result(res, 400, "version is not HTTP/1.1");
	if ((host = find_once(h, "Host", "missing Host", "duplicate Host",
	    res)) == NULL)
		return res->status;
	if (http_head_find(h, "Transfer-Encoding", NULL) != NULL)
		return result(res, 400, "request has Transfer-Encoding");
	cl = http_head_find(h, "Content-Length", &n);
	if (n > 1 || (cl != NULL && !eq_exact(cl->value, cl->value_len, "0")))
		return result(res, 400, "request has a body");
	if (!list_has_token(h, "Upgrade", "websocket"))
		return result(res, 400, "Upgrade lacks websocket");
	if (!list_has_token(h, "Connection", "upgrade"))
		return result(res, 400, "Connection lacks upgrade");
	if ((key = find_once(h, "Sec-WebSocket-Key",
	    "missing Sec-WebSocket-Key", "duplicate Sec-WebSocket-Key",
	    res)) == NULL)
		return res->status;
	if (!key_valid(key))
		return result(res, 400, "invalid Sec-WebSocket-Key");

	/* 2. 404: the only resource is "/". */
	if (!eq_exact(h->target, h->target_len, "/"))
		return result(res, 404, "request target is not /");

	/* 3. 426: only version 13 is spoken. */
	ver = http_head_find(h, "Sec-WebSocket-Version", &n);
	if (n != 1 || !eq_exact(ver->value, ver->value_len, "13"))
		return result(res, 426, "Sec-WebSocket-Version is not 13");

	/* 4. 403: DNS rebinding, then cross-site WebSocket hijacking. */
	if (!host_allowed(host, pol->port))
		return result(res, 403, "Host not allowed");
	origin = http_head_find(h, "Origin", &n);
	if (n > 1)
		return result(res, 403, "duplicate Origin");
	if (origin != NULL && !origin_allowed(origin, pol))
		return result(res, 403, "Origin not allowed");

	ws_accept_compute(key->value, key->value_len, res->accept);
	return result(res, 101, "upgrade accepted");
}

/* Bounded appender: remembers overflow instead of checking every call. */
struct outbuf {
	char	*p;
	size_t	 len, cap;
	int	 overflow;
};

static void
put(struct outbuf *o, const char *s)
{
	size_t n = strlen(s);

	if (o->overflow || o->cap - o->len <= n) {	/* keep room for NUL */
		o->overflow = 1;
		return;
	}
	memcpy(o->p + o->len, s, n);
	o->len += n;
	o->p[o->len] = '\0';
}

static const char *
status_line(int status)
{
	switch (status) {
	case 101:
		return "HTTP/1.1 101 Switching Protocols\r\n";
	case 400:
		return "HTTP/1.1 400 Bad Request\r\n";
	case 403:
		return "HTTP/1.1 403 Forbidden\r\n";
	case 404:
		return "HTTP/1.1 404 Not Found\r\n";
	case 426:
		return "HTTP/1.1 426 Upgrade Required\r\n";
	case 431:
		return "HTTP/1.1 431 Request Header Fields Too Large\r\n";
	case 500:
		return "HTTP/1.1 500 Internal Server Error\r\n";
	case 503:
		return "HTTP/1.1 503 Service Unavailable\r\n";
	default:
		return NULL;
	}
}

/* Exactly 28 base64 characters: nothing else may reach the header. */
static int
accept_valid(const char *accept)
{
	size_t i;

	if (accept == NULL)
		return 0;
	for (i = 0; i < WS_ACCEPT_LEN; i++) {
		char c = accept[i];

		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		    (c >= '0' && c <= '9') || c == '+' || c == '/' ||
		    (c == '=' && i == WS_ACCEPT_LEN - 1)))
			return 0;
	}
	return accept[WS_ACCEPT_LEN] == '\0';
}

int
ws_upgrade_response(int status, const char *accept, char *out, size_t outlen)
{
	struct outbuf o = { out, 0, outlen, 0 };
	const char *line;

	if ((line = status_line(status)) == NULL || out == NULL || outlen == 0)
		return -1;
	if (status == 101 && !accept_valid(accept))
		return -1;
	out[0] = '\0';
	put(&o, line);
	if (status == 101) {
		put(&o, "Upgrade: websocket\r\n");
		put(&o, "Connection: Upgrade\r\n");
		put(&o, "Sec-WebSocket-Accept: ");
		put(&o, accept);
		put(&o, "\r\n");
	} else if (status == 426) {
		put(&o, "Connection: close, Upgrade\r\n");
		put(&o, "Upgrade: websocket\r\n");
		put(&o, "Sec-WebSocket-Version: 13\r\n");
		put(&o, "Content-Length: 0\r\n");
	} else {
		put(&o, "Connection: close\r\n");
		put(&o, "Content-Length: 0\r\n");
	}
	put(&o, "\r\n");
	if (o.overflow)
		return -1;
	return (int)o.len;
}
