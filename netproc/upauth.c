/*
 * Copyright (c) 2026 The ocbroker authors
 * SPDX-License-Identifier: ISC (the licence is in the file LICENSE)
 */

/* Masked upstream credentials; see upauth.h. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/base64.h"
#include "common/buf.h"
#include "common/token.h"
#include "netproc/upauth.h"

#define AUTH_PREFIX	"Authorization: Basic "

/*
 * user:password XOR a random pad, the two in separate blocks: a scan of
 * memory (a core, a heap read gone wrong) finds neither the password nor
 * its base64.  Code running inside netproc can still unmask it; nothing
 * short of not holding it could stop that.
 */
struct upauth {
	uint8_t	*masked;
	uint8_t	*pad;
	size_t	 len;
};

struct upauth *
upauth_new(const char *user, const uint8_t *password, size_t len)
{
	struct upauth *a;
	size_t ulen = strlen(user);

	if (ulen + 1 > UPAUTH_MAX || len > UPAUTH_MAX - ulen - 1)
		return NULL;
	if ((a = calloc(1, sizeof(*a))) == NULL)
		return NULL;
	a->len = ulen + 1 + len;
	if ((a->masked = malloc(a->len)) == NULL ||
	    (a->pad = malloc(a->len)) == NULL ||
	    token_random(a->pad, a->len) == -1) {
		upauth_free(a);
		return NULL;
	}
	/* Masked byte by byte: user:password is never whole here. */
	for (size_t i = 0; i < ulen; i++)
		a->masked[i] = (uint8_t)user[i] ^ a->pad[i];
	a->masked[ulen] = (uint8_t)':' ^ a->pad[ulen];
	for (size_t i = 0; i < len; i++)
		a->masked[ulen + 1 + i] = password[i] ^ a->pad[ulen + 1 + i];
	return a;
}

void
upauth_free(struct upauth *a)
{
	if (a == NULL)
		return;
	if (a->masked != NULL) {
		wipe(a->masked, a->len);
		free(a->masked);
	}
	if (a->pad != NULL) {
		wipe(a->pad, a->len);
		free(a->pad);
	}
	free(a);
}

struct curl_slist *
upauth_append(const struct upauth *a, struct curl_slist *list)
{
	uint8_t plain[UPAUTH_MAX];
	char line[sizeof(AUTH_PREFIX) + BASE64_ENCODED_LEN(UPAUTH_MAX)];
	struct curl_slist *r = NULL;
	size_t pl = sizeof(AUTH_PREFIX) - 1;

	if (list == NULL)
		return NULL;
	for (size_t i = 0; i < a->len; i++)
		plain[i] = a->masked[i] ^ a->pad[i];
	memcpy(line, AUTH_PREFIX, pl);
	if (base64_encode(plain, a->len, line + pl, sizeof(line) - pl) != -1)
		r = curl_slist_append(list, line);	/* a copy, wiped when freed */
	wipe(plain, sizeof(plain));
	wipe(line, sizeof(line));
	return r;
}

void
upauth_scrub(struct curl_slist *list)
{
	static const char name[] = "Authorization:";

	for (; list != NULL; list = list->next)
		if (strncasecmp(list->data, name, sizeof(name) - 1) == 0)
			wipe(list->data + sizeof(name) - 1,
			    strlen(list->data + sizeof(name) - 1));
}
