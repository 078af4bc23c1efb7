/*
 * Copyright (c) 2026 The ocbroker authors
 * SPDX-License-Identifier: ISC (the licence is in the file LICENSE)
 */

/*
 * No secret stays readable in netproc's memory once a request completed
 * (libcurl's buffers included): the real ocbroker against tests/fake_upstream
 * with an upstream password (basic auth on every upstream request), a
 * SetAuth carrying a marker API key, then every writable mapping of netproc
 * read through /proc/<pid>/mem and searched for the key, the password and
 * the base64 of user:password.  As root this reads a sandboxed netproc
 * (CAP_SYS_PTRACE); as another user it needs --insecure-no-sandbox, so that
 * netproc keeps our uid.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <fcntl.h>

#include "common/base64.h"
#include "tests/support/itest.h"
#include "tests/support/itest_req.h"

#define MARK_KEY	"sk-ocbheap-3e1f0a9d7c5b4288"
#define MARK_PASSWORD	"pw-ocbheap-91d2c4e6f8a0b3"
#define MARK_USER	"opencode"

static struct it_env	e;

struct needle {
	const char	*what;
	const char	*s;
	size_t		 len;
	int		 hits;
};

/*
 * Reads every writable mapping of pid and counts each needle's hits.
 * Returns the bytes scanned, or -1 when the memory cannot be read.
 * Mappings over SCAN_MAP_MAX are a sanitizer's shadow, not a heap.
 */
#define SCAN_CHUNK	(1024 * 1024)
#define SCAN_OVERLAP	128		/* longer than every needle */
#define SCAN_MAP_MAX	(1024ul * 1024 * 1024)

static long
scan(pid_t pid, struct needle *nd, size_t nn)
{
	char path[64], line[512];
	FILE *maps;
	int mem;
	long total = 0;
	uint8_t *chunk;

	snprintf(path, sizeof(path), "/proc/%ld/maps", (long)pid);
	if ((maps = fopen(path, "r")) == NULL)
		return -1;
	snprintf(path, sizeof(path), "/proc/%ld/mem", (long)pid);
	if ((mem = open(path, O_RDONLY)) == -1) {
		fclose(maps);
		return -1;
	}
	if ((chunk = malloc(SCAN_CHUNK + SCAN_OVERLAP)) == NULL)
		abort();
	while (fgets(line, sizeof(line), maps) != NULL) {
		unsigned long lo, hi;
		char perms[8];
		size_t keep = 0;

		if (sscanf(line, "%lx-%lx %7s", &lo, &hi, perms) != 3 ||
		    perms[1] != 'w' || hi - lo > SCAN_MAP_MAX ||
		    strstr(line, "[vvar") != NULL ||
		    strstr(line, "[vsyscall]") != NULL)
			continue;
		for (unsigned long a = lo; a < hi;) {
			size_t want = hi - a < SCAN_CHUNK ? hi - a : SCAN_CHUNK;
			ssize_t n = pread(mem, chunk + keep, want, (off_t)a);
			size_t have;

			if (n <= 0)
				break;	/* a guard page, or gone */
			total += n;
			have = keep + (size_t)n;
			for (size_t i = 0; i < nn; i++)
				if (memmem(chunk, have, nd[i].s, nd[i].len) !=
				    NULL)
					nd[i].hits++;
			/* A needle across two chunks is found in the next. */
			keep = have < SCAN_OVERLAP ? have : SCAN_OVERLAP;
			memmove(chunk, chunk + have - keep, keep);
			a += (unsigned long)n;
		}
	}
	free(chunk);
	close(mem);
	fclose(maps);
	return total;
}

static void
set_auth(struct wsc *w, uint64_t id)
{
	Opencode__SetAuthRequest sa = OPENCODE__SET_AUTH_REQUEST__INIT;
	Opencode__AuthInfo ai = OPENCODE__AUTH_INFO__INIT;
	Opencode__ApiKeyAuth ak = OPENCODE__API_KEY_AUTH__INIT;
	Opencode__ServerMessage *m;

	ak.key = MARK_KEY;
	ai.auth_type_case = OPENCODE__AUTH_INFO__AUTH_TYPE_API_KEY;
	ai.api_key = &ak;
	sa.provider_id = "anthropic";
	sa.auth = &ai;
	m = it_request(w, id, CMP(SET_AUTH), &sa, T_REPLY);
	if (m == NULL || m->payload_case != SMP(_NOT_SET))
		fail_msg("SetAuth was not answered with success");
	wsc_msg_free(m);
}

static void
test_no_secret_in_netproc(void **state)
{
	static const char *const insecure[] = { "--insecure-no-sandbox", NULL };
	struct it_opts o;
	struct needle nd[3];
	char b64[128], userpw[128];
	struct wsc w;
	pid_t np;
	long scanned;
	int bad = 0;

	(void)state;
	memset(&o, 0, sizeof(o));
	o.fake_password = MARK_PASSWORD;
	o.ocb_password = MARK_PASSWORD;
	/* Another user cannot read a netproc that changed uid. */
	if (geteuid() != 0)
		o.ocb_args = insecure;
	snprintf(userpw, sizeof(userpw), "%s:%s", MARK_USER, MARK_PASSWORD);
	if (base64_encode(userpw, strlen(userpw), b64, sizeof(b64)) == -1)
		fail_msg("base64");
	nd[0] = (struct needle){ "the API key", MARK_KEY, strlen(MARK_KEY), 0 };
	nd[1] = (struct needle){ "the password", MARK_PASSWORD,
	    strlen(MARK_PASSWORD), 0 };
	nd[2] = (struct needle){ "the basic-auth credentials", b64,
	    strlen(b64), 0 };

	if (it_start(&e, &o) == -1)
		fail_msg("could not start ocbroker/fake_upstream");
	/* The ready line waits for the front only: netproc is up once its
	 * event stream is. */
	if (it_fake_wait_streams(&e, 1, T_REPLY) == -1)
		fail_msg("netproc did not open the event stream");
	if ((np = procfs_descendant(e.ocb_pid, "netproc")) == -1)
		fail_msg("no netproc");
	it_client(&e, &w);
	set_auth(&w, 2);
	/* Proves basic auth works: the fake refuses requests without it. */
	it_health(&w, 3, T_REPLY);
	set_auth(&w, 4);

	if ((scanned = scan(np, nd, 3)) <= 0)
		fail_msg("cannot read netproc's memory (pid %ld)", (long)np);
	for (int i = 0; i < 3; i++)
		if (nd[i].hits > 0) {
			fprintf(stderr, "netproc's memory holds %s (%d "
			    "chunks)\n", nd[i].what, nd[i].hits);
			bad = 1;
		}
	fprintf(stderr, "scanned %ld bytes of netproc's writable memory\n",
	    scanned);
	wsc_close(&w);
	if (bad)
		fail_msg("secrets left in netproc's memory");
	if (it_stop(&e, T_EXIT, NULL) == -1)
		fail_msg("ocbroker did not stop");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		IT_TEST_ON(test_no_secret_in_netproc, &e),
	};

	return IT_RUN("test_heap_secrets", tests, NULL);
}
