/*
 * Copyright (c) 2026 The ocbroker authors
 * SPDX-License-Identifier: ISC (the licence is in the file LICENSE)
 */

/*
 * ocbroker: one binary, three processes.  Started by a user it is the parent;
 * the parent re-executes it with the internal role flag to become the front or
 * netproc.  The role flag is not an interface: an unknown role is fatal.
 * Where configure chose it, libcurl is loaded by netproc alone (curl_dl.c).
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/proc.h"
#include "parent/parent.h"
#ifdef OCB_CURL_DLOPEN
#include "netproc/curl_dl.h"
#endif

/* netproc's entry: libcurl first, before netproc reads a byte or enters its
 * sandbox, so that no other process of the tree maps it. */
static int
netproc_start(void)
{
#ifdef OCB_CURL_DLOPEN
	const char *why;

	log_init("netproc", LOG_LEVEL_INFO, 0);
	if (curl_dl_open(&why) == -1)
		fatalx("cannot load %s: %s", OCB_CURL_LIB, why);
#endif
	return netproc_main();
}

static const struct {
	const char	*name;
	int		(*main)(void);
} roles[] = {
	{ "front",	front_main },
	{ "netproc",	netproc_start },
};

int
main(int argc, char **argv)
{
	if (argc >= 2 && strcmp(argv[1], PROC_ROLE_FLAG) == 0) {
		if (argc != 3) {
			fprintf(stderr, "ocbroker: internal role flag misused\n");
			return 1;
		}
		for (size_t i = 0; i < sizeof(roles) / sizeof(roles[0]); i++)
			if (strcmp(argv[2], roles[i].name) == 0)
				return roles[i].main();
		fprintf(stderr, "ocbroker: unknown role\n");
		return 1;
	}
	return parent_main(argc, argv);
}
