/*
 * Copyright (c) 2026 The ocbroker authors
 * SPDX-License-Identifier: ISC (the licence is in the file LICENSE)
 */

/* The command line (README.md, "Running"), parsed and range-checked. */
#ifndef OCB_OPTIONS_H
#define OCB_OPTIONS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define OPT_PORT_LO_DEFAULT	50051
#define OPT_PORT_HI_DEFAULT	50060
#define OPT_UPSTREAM_DEFAULT	"http://127.0.0.1:4096"
#define OPT_MAX_MESSAGE_DEFAULT	(1024u * 1024)
#define OPT_MAX_MESSAGE_MIN	1024u
#define OPT_MAX_MESSAGE_MAX	(64u * 1024 * 1024)
/* netproc's keep-alive connections to the upstream, of each lane. */
#define OPT_UPSTREAM_CONNS_DEFAULT	8
#define OPT_UPSTREAM_CONNS_MIN		1
#define OPT_UPSTREAM_CONNS_MAX		64
#define OPT_MAX_ORIGINS		32
#define OPT_ORIGIN_MAX		256
#define OPT_URL_MAX		1024
#define OPT_USER_DEFAULT	"nobody"

struct options {
	uint16_t	 port_lo, port_hi;	/* --port N sets both; 0 = any */
	const char	*upstream;
	const char	*upstream_ca;		/* NULL: the system bundle */
	unsigned	 upstream_connections;
	int		 token_fd;		/* -1: generate */
	const char	*allow_origins[OPT_MAX_ORIGINS];
	size_t		 n_allow_origins;
	uint64_t	 max_message;
	const char	*user;
	int		 log_level;
	int		 use_syslog;
	int		 insecure_no_sandbox;
};

enum options_result {
	OPTIONS_RUN = 0,
	OPTIONS_EXIT_OK,	/* --help or --version was printed */
	OPTIONS_USAGE,		/* err says what is wrong */
};

enum options_result options_parse(int argc, char **argv, struct options *,
	    char *err, size_t errlen);
void	options_usage(FILE *);

#endif
