/* The wiping allocator given to libcurl; see curlmem.h. */
#include "config.h"

#include <curl/curl.h>
#include <malloc.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "netproc/curlmem.h"

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
}

static void *
cm_malloc(size_t size)
{
	return malloc(size);
}

static void *
cm_calloc(size_t n, size_t size)
{
	return calloc(n, size);
}

/* Never the C library's realloc: it would free the old block unwiped. */
static void *
cm_realloc(void *p, size_t size)
{
	size_t old;
	void *np;

	if (p == NULL)
		return malloc(size);
	if (size == 0)
		size = 1;
	old = malloc_usable_size(p);
	if (size <= old)
		return p;
	if ((np = malloc(size)) == NULL)
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

	if ((d = malloc(len)) == NULL)
		return NULL;
	memcpy(d, s, len);
	return d;
}

int
curlmem_global_init(long flags)
{
	if (curl_global_init_mem(flags, cm_malloc, cm_free, cm_realloc,
	    cm_strdup, cm_calloc) != CURLE_OK)
		return -1;
	return 0;
}
