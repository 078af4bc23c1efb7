/*
 * Copyright (c) 2026 The ocbroker authors
 * SPDX-License-Identifier: ISC (the licence is in the file LICENSE)
 */

/* Path parameter validation and percent-encoding; see pathenc.h. */
#include <string.h>

#include "netproc/pathenc.h"

static int
is_alnum(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') ||
	    (c >= 'a' && c <= 'z');
}

static int
is_unreserved(char c)
{
	return is_alnum(c) || c == '-' || c == '.' || c == '_' || c == '~';
}

static int
prefixed_id(const char *s, const char *prefix)
{
	size_t	i, plen = strlen(prefix), len;

	if (s == NULL || strncmp(s, prefix, plen) != 0)
		return 0;
	len = strnlen(s, PATHENC_ID_MAX + 1);
	if (len > PATHENC_ID_MAX || len == plen)
		return 0;
	for (i = plen; i < len; i++)
		if (!is_alnum(s[i]))
			return 0;
	return 1;
}

int
pathenc_session_id(const char *s)
{
	return prefixed_id(s, "ses_");
}

int
pathenc_permission_id(const char *s)
{
	return prefixed_id(s, "per_");
}

int
pathenc_message_id(const char *s)
{
	return prefixed_id(s, "msg_");
}

int
pathenc_part_id(const char *s)
{
	return prefixed_id(s, "prt_");
}

int
pathenc_question_id(const char *s)
{
	return prefixed_id(s, "que_");
}

int
pathenc_provider_id(const char *s)
{
	size_t	i, len;

	if (s == NULL)
		return 0;
	len = strnlen(s, PATHENC_ID_MAX + 1);
	if (len == 0 || len > PATHENC_ID_MAX ||
	    strcmp(s, ".") == 0 || strcmp(s, "..") == 0)
		return 0;
	for (i = 0; i < len; i++)
		if (!is_alnum(s[i]) && s[i] != '.' && s[i] != '_' &&
		    s[i] != '-')
			return 0;
	return 1;
}

int
pathenc_append(char *dst, size_t dstsize, const char *s)
{
	static const char	 hex[] = "0123456789ABCDEF";
	size_t			 n, need = 0, i;
	unsigned char		 c;

	n = strnlen(dst, dstsize);
	if (n == dstsize)
		return -1;
	for (i = 0; s[i] != '\0'; i++)
		need += is_unreserved(s[i]) ? 1 : 3;
	if (need >= dstsize - n)
		return -1;
	for (i = 0; s[i] != '\0'; i++) {
		c = (unsigned char)s[i];
		if (is_unreserved(s[i]))
			dst[n++] = s[i];
		else {
			dst[n++] = '%';
			dst[n++] = hex[c >> 4];
			dst[n++] = hex[c & 0xf];
		}
	}
	dst[n] = '\0';
	return 0;
}
