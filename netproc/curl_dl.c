/*
 * Copyright (c) 2026 The ocbroker authors
 * SPDX-License-Identifier: ISC (the licence is in the file LICENSE)
 */

/*
 * libcurl, loaded by netproc alone (configure's --enable-curl-dlopen, the
 * default where the soname can be found).  ocbroker is one binary, re-executed
 * for every role; linked against libcurl, the parent, the spawner and the
 * front would each map libcurl and its 35 libraries (OpenSSL, GnuTLS,
 * Kerberos, LDAP, ...) and relocate them at every exec: ~0.8 MiB of each
 * process's own memory, most of the time to start, and code that the front,
 * which faces unauthenticated local clients, must never run.  So the ocbroker
 * binary links these definitions in place of -lcurl, and netproc opens the
 * library (the path configure found) before it reads a byte from anyone and
 * before its sandbox.  The test programs link libcurl itself.
 *
 * Each definition forwards to the function of the same name; the variadic
 * ones read their argument with the type libcurl reads it with, which the
 * option number's range says (a callback goes through as a generic function
 * pointer: POSIX systems pass every function pointer alike).  The integration
 * tests set each option netproc uses through here, the off_t and blob ones
 * included.  Only what netproc calls is here: a call outside this list fails
 * to link.  A call before curl_dl_open() would jump to NULL; main.c opens the
 * library first thing in the netproc role.
 */
#include "config.h"

#define CURL_DISABLE_TYPECHECK	/* these are the functions, not calls */
#include <curl/curl.h>
#include <dlfcn.h>
#include <stdarg.h>
#include <string.h>

#include "netproc/curl_dl.h"

typedef void (*curl_fnptr)(void);

static struct {
	CURLcode	 (*global_init_mem)(long, curl_malloc_callback,
			    curl_free_callback, curl_realloc_callback,
			    curl_strdup_callback, curl_calloc_callback);
	void		 (*global_cleanup)(void);
	CURL		*(*easy_init)(void);
	void		 (*easy_reset)(CURL *);
	void		 (*easy_cleanup)(CURL *);
	CURLcode	 (*easy_setopt)(CURL *, CURLoption, ...);
	CURLcode	 (*easy_getinfo)(CURL *, CURLINFO, ...);
	const char	*(*easy_strerror)(CURLcode);
	CURLcode	 (*easy_pause)(CURL *, int);
	struct curl_slist *(*slist_append)(struct curl_slist *, const char *);
	void		 (*slist_free_all)(struct curl_slist *);
	CURLM		*(*multi_init)(void);
	CURLMcode	 (*multi_cleanup)(CURLM *);
	CURLMcode	 (*multi_setopt)(CURLM *, CURLMoption, ...);
	CURLMcode	 (*multi_add_handle)(CURLM *, CURL *);
	CURLMcode	 (*multi_remove_handle)(CURLM *, CURL *);
	CURLMcode	 (*multi_assign)(CURLM *, curl_socket_t, void *);
	CURLMcode	 (*multi_socket_action)(CURLM *, curl_socket_t, int,
			    int *);
	CURLMsg		*(*multi_info_read)(CURLM *, int *);
} curl;

static int
curl_sym(void *lib, const char *name, void *slot)
{
	void *p;

	/* POSIX makes dlsym's object pointer convertible to a function's. */
	if ((p = dlsym(lib, name)) == NULL)
		return -1;
	memcpy(slot, &p, sizeof(p));
	return 0;
}

int
curl_dl_open(const char **why)
{
	void *lib;

	if ((lib = dlopen(OCB_CURL_LIB, RTLD_NOW | RTLD_LOCAL)) == NULL) {
		if ((*why = dlerror()) == NULL)
			*why = "dlopen failed";
		return -1;
	}
#define SYM(f)	curl_sym(lib, "curl_" #f, &curl.f)
	if (SYM(global_init_mem) == -1 || SYM(global_cleanup) == -1 ||
	    SYM(easy_init) == -1 || SYM(easy_reset) == -1 ||
	    SYM(easy_cleanup) == -1 || SYM(easy_setopt) == -1 ||
	    SYM(easy_getinfo) == -1 || SYM(easy_strerror) == -1 ||
	    SYM(easy_pause) == -1 ||
	    SYM(slist_append) == -1 || SYM(slist_free_all) == -1 ||
	    SYM(multi_init) == -1 || SYM(multi_cleanup) == -1 ||
	    SYM(multi_setopt) == -1 || SYM(multi_add_handle) == -1 ||
	    SYM(multi_remove_handle) == -1 || SYM(multi_assign) == -1 ||
	    SYM(multi_socket_action) == -1 || SYM(multi_info_read) == -1) {
		*why = "a libcurl function is missing";
		return -1;
	}
#undef SYM
	return 0;	/* the library stays open for the life of netproc */
}

/*
 * The argument of curl_easy_setopt and curl_multi_setopt, by the option's
 * range (curl.h's CURLOPTTYPE_*, which the multi options share).
 */
#define SETOPT(fn, h, opt, ap, rc) do {					\
	if ((opt) < CURLOPTTYPE_OBJECTPOINT)				\
		(rc) = (fn)((h), (opt), va_arg((ap), long));		\
	else if ((opt) < CURLOPTTYPE_FUNCTIONPOINT)			\
		(rc) = (fn)((h), (opt), va_arg((ap), void *));		\
	else if ((opt) < CURLOPTTYPE_OFF_T)				\
		(rc) = (fn)((h), (opt), va_arg((ap), curl_fnptr));	\
	else if ((opt) < CURLOPTTYPE_BLOB)				\
		(rc) = (fn)((h), (opt), va_arg((ap), curl_off_t));	\
	else								\
		(rc) = (fn)((h), (opt), va_arg((ap), void *));		\
} while (0)

CURLcode
(curl_easy_setopt)(CURL *h, CURLoption opt, ...)
{
	CURLcode rc;
	va_list ap;

	va_start(ap, opt);
	SETOPT(curl.easy_setopt, h, opt, ap, rc);
	va_end(ap);
	return rc;
}

CURLMcode
(curl_multi_setopt)(CURLM *m, CURLMoption opt, ...)
{
	CURLMcode rc;
	va_list ap;

	va_start(ap, opt);
	SETOPT(curl.multi_setopt, m, opt, ap, rc);
	va_end(ap);
	return rc;
}

/* Every CURLINFO's argument is a pointer to where the answer goes. */
CURLcode
(curl_easy_getinfo)(CURL *h, CURLINFO info, ...)
{
	CURLcode rc;
	va_list ap;

	va_start(ap, info);
	rc = curl.easy_getinfo(h, info, va_arg(ap, void *));
	va_end(ap);
	return rc;
}

CURLcode
curl_global_init_mem(long flags, curl_malloc_callback m, curl_free_callback f,
    curl_realloc_callback r, curl_strdup_callback s, curl_calloc_callback c)
{
	return curl.global_init_mem(flags, m, f, r, s, c);
}

void
curl_global_cleanup(void)
{
	curl.global_cleanup();
}

CURL *
curl_easy_init(void)
{
	return curl.easy_init();
}

void
curl_easy_reset(CURL *h)
{
	curl.easy_reset(h);
}

void
curl_easy_cleanup(CURL *h)
{
	curl.easy_cleanup(h);
}

const char *
curl_easy_strerror(CURLcode rc)
{
	return curl.easy_strerror(rc);
}

CURLcode
curl_easy_pause(CURL *h, int bitmask)
{
	return curl.easy_pause(h, bitmask);
}

struct curl_slist *
curl_slist_append(struct curl_slist *l, const char *s)
{
	return curl.slist_append(l, s);
}

void
curl_slist_free_all(struct curl_slist *l)
{
	curl.slist_free_all(l);
}

CURLM *
curl_multi_init(void)
{
	return curl.multi_init();
}

CURLMcode
curl_multi_cleanup(CURLM *m)
{
	return curl.multi_cleanup(m);
}

CURLMcode
curl_multi_add_handle(CURLM *m, CURL *h)
{
	return curl.multi_add_handle(m, h);
}

CURLMcode
curl_multi_remove_handle(CURLM *m, CURL *h)
{
	return curl.multi_remove_handle(m, h);
}

CURLMcode
curl_multi_assign(CURLM *m, curl_socket_t s, void *p)
{
	return curl.multi_assign(m, s, p);
}

CURLMcode
curl_multi_socket_action(CURLM *m, curl_socket_t s, int ev, int *running)
{
	return curl.multi_socket_action(m, s, ev, running);
}

CURLMsg *
curl_multi_info_read(CURLM *m, int *left)
{
	return curl.multi_info_read(m, left);
}
