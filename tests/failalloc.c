/*
 * Copyright (c) 2026 The ocbroker authors
 * SPDX-License-Identifier: ISC (the licence is in the file LICENSE)
 */

/*
 * failalloc.so: an LD_PRELOAD shim that makes malloc, calloc, realloc and
 * the aligned allocators fail at random in chosen ocbroker processes, for
 * tests/test_failalloc (issue 11, item 12).  Linux and glibc only: the real
 * allocator is reached through glibc's __libc_* entry points, so the
 * allocation wrappers never allocate and need no dlsym.
 *
 * Environment:
 *   FAILALLOC_ROLES  comma-separated roles that fail: "front", "netproc",
 *                    "parent" (a process without --role: the parent, and
 *                    the spawner forked from it).  Unset: none.
 *   FAILALLOC_RATE   N: each allocation fails with probability 1/N.
 *   FAILALLOC_SEED   decides which ones: the i-th allocation made while
 *                    armed fails when a hash of (seed, role, i) says so,
 *                    so a run fails the same calls for the same sequence.
 *   FAILALLOC_ARM    "now": failing from the start; otherwise (the
 *                    default) only between SIGUSR1 and SIGUSR2, which a
 *                    test sends once its clients are set up.  SIGUSR2 also
 *                    writes "failalloc: <role>[<pid>]: F of N allocations
 *                    failed" to stderr (N counts those made while armed).
 *
 * ocbroker re-executes itself for each child with a scrubbed environment
 * (common/proc.c): the execve wrapper, and one around syscall(3) for the
 * execveat netproc is started with, put LD_PRELOAD and the FAILALLOC_*
 * variables back, so the shim follows into every process without any change
 * to the production code.  Only for tests: never install it.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <sys/syscall.h>

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/support/procfs.h"

extern void	*__libc_malloc(size_t);
extern void	*__libc_calloc(size_t, size_t);
extern void	*__libc_realloc(void *, size_t);
extern void	*__libc_memalign(size_t, size_t);

#define FA_VARS		5
#define FA_VAR_MAX	4096
#define FA_ENV_MAX	256

static const char *const fa_names[FA_VARS] = {
	"LD_PRELOAD", "FAILALLOC_ROLES", "FAILALLOC_RATE", "FAILALLOC_SEED",
	"FAILALLOC_ARM",
};
static char		 fa_saved[FA_VARS][FA_VAR_MAX];	/* "NAME=value" or "" */

static int		 fa_selected;		/* this process's role fails */
static volatile sig_atomic_t fa_armed;
static uint64_t		 fa_rate;		/* 0: never */
static uint64_t		 fa_seed;
static uint64_t		 fa_calls, fa_failed;	/* while armed */
static char		 fa_role[16] = "parent";

static uint64_t
mix(uint64_t x)
{
	/* splitmix64's finalizer */
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

/* 1 when this allocation is to fail (and counts it). */
static int
fa_fail(void)
{
	uint64_t n;

	if (!fa_selected || !fa_armed || fa_rate == 0)
		return 0;
	n = __atomic_fetch_add(&fa_calls, 1, __ATOMIC_RELAXED);
	if (mix(fa_seed ^ mix(n)) % fa_rate != 0)
		return 0;
	__atomic_fetch_add(&fa_failed, 1, __ATOMIC_RELAXED);
	errno = ENOMEM;
	return 1;
}

void *
malloc(size_t n)
{
	return fa_fail() ? NULL : __libc_malloc(n);
}

void *
calloc(size_t a, size_t b)
{
	return fa_fail() ? NULL : __libc_calloc(a, b);
}

void *
realloc(void *p, size_t n)
{
	/* realloc(p, 0) frees: it is not an allocation that can fail. */
	if (n > 0 && fa_fail())
		return NULL;
	return __libc_realloc(p, n);
}

void *
memalign(size_t al, size_t n)
{
	return fa_fail() ? NULL : __libc_memalign(al, n);
}

void *
aligned_alloc(size_t al, size_t n)
{
	return fa_fail() ? NULL : __libc_memalign(al, n);
}

int
posix_memalign(void **out, size_t al, size_t n)
{
	void *p;

	if (al < sizeof(void *) || (al & (al - 1)) != 0)
		return EINVAL;
	if (fa_fail())
		return ENOMEM;
	if ((p = __libc_memalign(al, n)) == NULL)
		return ENOMEM;
	*out = p;
	return 0;
}

/* ---- the re-exec: put our variables back ---- */

static int
is_ours(const char *kv)
{
	for (size_t i = 0; i < FA_VARS; i++) {
		size_t l = strlen(fa_names[i]);

		if (strncmp(kv, fa_names[i], l) == 0 && kv[l] == '=')
			return 1;
	}
	return 0;
}

/* envp with our variables put back, in env (FA_ENV_MAX + FA_VARS + 1). */
static char **
fa_env(char *const envp[], char **env)
{
	size_t n = 0;

	for (size_t i = 0; envp != NULL && envp[i] != NULL &&
	    n < FA_ENV_MAX; i++)
		if (!is_ours(envp[i]))
			env[n++] = envp[i];
	for (size_t i = 0; i < FA_VARS; i++)
		if (fa_saved[i][0] != '\0')
			env[n++] = fa_saved[i];
	env[n] = NULL;
	return env;
}

typedef long	(*syscall_fn)(long, ...);

static syscall_fn
real_syscall(void)
{
	static syscall_fn fn;

	/* dlsym may allocate: fine, our malloc never comes back here. */
	if (fn == NULL)
		fn = (syscall_fn)dlsym(RTLD_NEXT, "syscall");
	return fn;
}

int
execve(const char *path, char *const argv[], char *const envp[])
{
	char *env[FA_ENV_MAX + FA_VARS + 1];

	return (int)real_syscall()(SYS_execve, path, argv, fa_env(envp, env));
}

/*
 * ocbroker starts netproc with a raw execveat(2) on its own binary's
 * descriptor, through syscall(3): that one is caught here.  Six arguments
 * are passed on whatever the call had, as glibc's syscall(3) itself does.
 */
long
syscall(long nr, ...)
{
	char *env[FA_ENV_MAX + FA_VARS + 1];
	va_list ap;
	long a[6];

	va_start(ap, nr);
	for (int i = 0; i < 6; i++)
		a[i] = va_arg(ap, long);
	va_end(ap);
	if (nr == SYS_execve)
		a[2] = (long)fa_env((char *const *)a[2], env);
#ifdef SYS_execveat
	else if (nr == SYS_execveat)
		a[3] = (long)fa_env((char *const *)a[3], env);
#endif
	return real_syscall()(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
}

/* ---- set-up ---- */

/* The report line is built without stdio: it is written from a signal
 * handler. */
static void
put(char *buf, size_t *len, size_t cap, const char *s)
{
	while (*s != '\0' && *len < cap)
		buf[(*len)++] = *s++;
}

static void
put_u64(char *buf, size_t *len, size_t cap, uint64_t v)
{
	char d[24];
	size_t i = sizeof(d);

	d[--i] = '\0';
	do {
		d[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v > 0);
	put(buf, len, cap, d + i);
}

static void
report(void)
{
	char line[160];
	size_t len = 0;
	int saved = errno;

	put(line, &len, sizeof(line), "failalloc: ");
	put(line, &len, sizeof(line), fa_role);
	put(line, &len, sizeof(line), "[");
	put_u64(line, &len, sizeof(line), (uint64_t)getpid());
	put(line, &len, sizeof(line), "]: ");
	put_u64(line, &len, sizeof(line), fa_failed);
	put(line, &len, sizeof(line), " of ");
	put_u64(line, &len, sizeof(line), fa_calls);
	put(line, &len, sizeof(line), " allocations failed\n");
	(void)write(2, line, len);
	errno = saved;
}

static void
on_signal(int sig)
{
	if (sig == SIGUSR1)
		fa_armed = 1;
	else {
		fa_armed = 0;
		report();
	}
}

static uint64_t
number(const char *s)
{
	uint64_t v = 0;

	while (s != NULL && *s >= '0' && *s <= '9')
		v = v * 10 + (uint64_t)(*s++ - '0');
	return v;
}

/* The value after "--role" in our command line, or "parent". */
static void
find_role(void)
{
	char cmd[512];
	const char *r;
	ssize_t n;
	size_t l;

	if ((n = procfs_cmdline(getpid(), cmd, sizeof(cmd))) <= 0 ||
	    (r = procfs_cmdline_role(cmd, (size_t)n)) == NULL)
		return;
	l = strlen(r) < sizeof(fa_role) - 1 ? strlen(r) : sizeof(fa_role) - 1;
	memcpy(fa_role, r, l);
	fa_role[l] = '\0';
}

static int
role_listed(const char *list)
{
	size_t rl = strlen(fa_role);

	while (list != NULL && *list != '\0') {
		size_t l = strcspn(list, ",");

		if (l == rl && strncmp(list, fa_role, l) == 0)
			return 1;
		list += l;
		if (*list == ',')
			list++;
	}
	return 0;
}

__attribute__((constructor)) static void
failalloc_init(void)
{
	struct sigaction sa;
	const char *arm;

	for (size_t i = 0; i < FA_VARS; i++) {
		const char *v = getenv(fa_names[i]);
		size_t l = strlen(fa_names[i]);

		if (v == NULL || l + 1 + strlen(v) + 1 > FA_VAR_MAX)
			continue;
		memcpy(fa_saved[i], fa_names[i], l);
		fa_saved[i][l] = '=';
		memcpy(fa_saved[i] + l + 1, v, strlen(v) + 1);
	}
	find_role();
	fa_selected = role_listed(getenv("FAILALLOC_ROLES"));
	fa_rate = number(getenv("FAILALLOC_RATE"));
	fa_seed = mix(number(getenv("FAILALLOC_SEED")) ^
	    mix((uint64_t)fa_role[0] << 8 | (uint64_t)fa_role[1]));
	if (!fa_selected)
		return;
	arm = getenv("FAILALLOC_ARM");
	if (arm != NULL && strcmp(arm, "now") == 0)
		fa_armed = 1;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sa.sa_flags = SA_RESTART;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGUSR1, &sa, NULL);
	sigaction(SIGUSR2, &sa, NULL);
}
