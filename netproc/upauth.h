/*
 * Copyright (c) 2026 The ocbroker authors
 * SPDX-License-Identifier: ISC (the licence is in the file LICENSE)
 */

/*
 * The upstream's basic-auth credentials, held masked: the password is
 * needed for every upstream request, but its bytes, and those of the
 * header made from it, are never left in netproc's memory as they are.
 * Each request gets its own "Authorization: Basic ..." header line, made
 * when the request is set up and wiped with the request's header list
 * (libcurl's allocator wipes, curlmem.c).  libcurl itself is never given
 * the password, so neither its handles nor its connections keep a copy.
 */
#ifndef OCB_NETPROC_UPAUTH_H
#define OCB_NETPROC_UPAUTH_H

#include <stddef.h>
#include <stdint.h>

#include <curl/curl.h>

#define UPAUTH_MAX	1024	/* bytes of user:password */

struct upauth;

/* Before the sandbox (it reads random bytes); NULL when out of memory or
 * when user:password is over UPAUTH_MAX. */
struct upauth		*upauth_new(const char *user, const uint8_t *password,
			    size_t len);
void			 upauth_free(struct upauth *);
/*
 * Appends the Authorization header line to list (which must not be NULL:
 * the caller's list grows and stays the caller's to free).  Returns list,
 * or NULL when out of memory.
 */
struct curl_slist	*upauth_append(const struct upauth *,
			    struct curl_slist *list);
/* Wipes the credentials in an Authorization line of list, once the request
 * is sent (a long-lived transfer keeps its list). */
void			 upauth_scrub(struct curl_slist *list);

#endif
