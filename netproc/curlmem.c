/*
 * Copyright (c) 2026 The ocbroker authors
 * SPDX-License-Identifier: ISC (the licence is in the file LICENSE)
 */

/* The wiping allocator given to libcurl; see curlmem.h. */
#include "config.h"

#include <curl/curl.h>
#include <malloc.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "netproc/curlmem.h"

/*
 * libcurl 7.88 does not survive every failed allocation (one of its hash
 * tables is left with no slots and a later lookup divides by zero: a
 * SIGFPE in curl_multi_socket_action, found with tests/failalloc.so).  So
 * libcurl's allocations are shielded: a failed one is tried again after
 * the reserve is given back (a real shortage), up to CURLMEM_TRIES times
 * (a transient one: 1 in 8 allocations failing at random still reaches
 * libcurl as 1 in 8^16), and the reserve is taken again when memory
 * allows.  Even so libcurl may be told out of memory, which costs its
 * transfer, but some of its failure paths give other errors than
 * CURLE_OUT_OF_MEMORY (CURLE_GOT_NOTHING was seen).  netproc's own allocations fail as they are, and
 * cost one request each.  Static: libcurl's hooks take no argument.
 */
#define CURLMEM_RESERVE		(256 * 1024)
#define CURLMEM_TRIES		16

static void	*cm_reserve;

static void
cm_give_back(void)
{
	free(cm_reserve);
	cm_reserve = NULL;
}

/*
 * malloc_usable_size tells how much of a block to wipe: libcurl does not
 * say the size it frees, and a header of our own in front of each block
 * would have to be right in realloc and strdup too.
 */
static void
cm_free(void *p)
{
	if (p == NULL)
		return;
	wipe(p, malloc_usable_size(p));
	free(p);
	if (cm_reserve == NULL)
		cm_reserve = malloc(CURLMEM_RESERVE);
}

static void *
cm_malloc(size_t size)
{
	void *p = NULL;

	for (int i = 0; i < CURLMEM_TRIES && p == NULL; i++)
		if ((p = malloc(size)) == NULL)
			cm_give_back();
	return p;
}

static void *
cm_calloc(size_t n, size_t size)
{
	void *p = NULL;

	for (int i = 0; i < CURLMEM_TRIES && p == NULL; i++)
		if ((p = calloc(n, size)) == NULL)
			cm_give_back();
	return p;
}

/* Never the C library's realloc: it would free the old block unwiped. */
static void *
cm_realloc(void *p, size_t size)
{
	size_t old;
	void *np;

	if (p == NULL)
		return cm_malloc(size);
	if (size == 0)
		size = 1;
	old = malloc_usable_size(p);
	if (size <= old)
		return p;
	if ((np = cm_malloc(size)) == NULL)
		return NULL;
	memcpy(np, p, old);
	cm_free(p);
	return np;
}

static char *
cm_strdup(const char *s)
{
	size_t len = strlen(s) + 1;
	char *d;

	if ((d = cm_malloc(len)) == NULL)
		return NULL;
	memcpy(d, s, len);
	return d;
}

int
curlmem_global_init(long flags)
{
	if ((cm_reserve = malloc(CURLMEM_RESERVE)) == NULL ||
	    curl_global_init_mem(flags, cm_malloc, cm_free, cm_realloc,
	    cm_strdup, cm_calloc) != CURLE_OK)
		return -1;
	return 0;
}

void
curlmem_global_cleanup(void)
{
	curl_global_cleanup();
	cm_give_back();
}
