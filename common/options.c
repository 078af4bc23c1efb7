/*
 * Copyright (c) 2026 The ocbroker authors
 * SPDX-License-Identifier: ISC (the licence is in the file LICENSE)
 */

/* Command-line parsing; every value is range-checked where it is read. */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/options.h"

enum {
	OPT_PORT = 256, OPT_PORT_RANGE, OPT_UPSTREAM, OPT_UPSTREAM_CA,
	OPT_UPSTREAM_CONNS, OPT_TOKEN_FD,
	OPT_ALLOW_ORIGIN, OPT_MAX_MESSAGE, OPT_USER, OPT_LOG_LEVEL,
	OPT_SYSLOG, OPT_INSECURE, OPT_VERSION, OPT_HELP,
};

static const struct option longopts[] = {
	{ "port",		required_argument, NULL, OPT_PORT },
	{ "port-range",		required_argument, NULL, OPT_PORT_RANGE },
	{ "upstream",		required_argument, NULL, OPT_UPSTREAM },
	{ "upstream-ca",	required_argument, NULL, OPT_UPSTREAM_CA },
	{ "upstream-connections", required_argument, NULL, OPT_UPSTREAM_CONNS },
	{ "token-fd",		required_argument, NULL, OPT_TOKEN_FD },
	{ "allow-origin",	required_argument, NULL, OPT_ALLOW_ORIGIN },
	{ "max-message",	required_argument, NULL, OPT_MAX_MESSAGE },
	{ "user",		required_argument, NULL, OPT_USER },
	{ "log-level",		required_argument, NULL, OPT_LOG_LEVEL },
	{ "syslog",		no_argument,	   NULL, OPT_SYSLOG },
	{ "insecure-no-sandbox", no_argument,	   NULL, OPT_INSECURE },
	{ "version",		no_argument,	   NULL, OPT_VERSION },
	{ "help",		no_argument,	   NULL, OPT_HELP },
	{ NULL, 0, NULL, 0 },
};

void
options_usage(FILE *fp)
{
	fprintf(fp,
	    "usage: ocbroker [--port N | --port-range A-B] [--upstream URL]\n"
	    "                [--upstream-ca FILE] [--upstream-connections N]\n"
	    "                [--token-fd FD] [--allow-origin ORIGIN]...\n"
	    "                [--max-message BYTES] [--user NAME]\n"
	    "                [--log-level error|warn|info|debug] [--syslog]\n"
	    "                [--insecure-no-sandbox] [--version] [--help]\n");
}

/* One line per option; ocbroker(8) says the rest. */
static void
options_help(FILE *fp)
{
	options_usage(fp);
	fprintf(fp,
	    "\n"
	    "  --port N              listen on 127.0.0.1:N (0: any free port)\n"
	    "  --port-range A-B      the first free port in A-B (default %u-%u)\n"
	    "  --upstream URL        the OpenCode server (default %s)\n"
	    "  --upstream-ca FILE    CA bundle for an https:// upstream (absolute path)\n"
	    "  --upstream-connections N keep-alive upstream connections, %d-%d (default %d)\n"
	    "  --token-fd FD         read the client token from descriptor FD\n"
	    "  --allow-origin ORIGIN allow this browser Origin (repeatable, at most %d)\n"
	    "  --max-message BYTES   largest client message, %u-%u (default %u)\n"
	    "  --user NAME           started as root: the children's user (default %s)\n"
	    "  --log-level LEVEL     error, warn, info or debug (default info)\n"
	    "  --syslog              log to syslog instead of stderr\n"
	    "  --insecure-no-sandbox run without a sandbox backend\n"
	    "  --version             print the version and exit\n"
	    "  --help                print this text and exit\n",
	    OPT_PORT_LO_DEFAULT, OPT_PORT_HI_DEFAULT, OPT_UPSTREAM_DEFAULT,
	    OPT_UPSTREAM_CONNS_MIN, OPT_UPSTREAM_CONNS_MAX,
	    OPT_UPSTREAM_CONNS_DEFAULT, OPT_MAX_ORIGINS, OPT_MAX_MESSAGE_MIN, OPT_MAX_MESSAGE_MAX,
	    OPT_MAX_MESSAGE_DEFAULT, OPT_USER_DEFAULT);
}

/* A decimal number in [lo, hi], the whole string, no sign, no spaces. */
static int
parse_u64(const char *s, uint64_t lo, uint64_t hi, uint64_t *out)
{
	char *end;
	unsigned long long v;

	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < lo || v > hi)
		return -1;
	*out = v;
	return 0;
}

/* Says in err what is wrong with the command line. */
static enum options_result __attribute__((format(printf, 3, 4)))
usage(char *err, size_t errlen, const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return OPTIONS_USAGE;
}

/* parse_u64 for --name, with the usage message "expected lo..hi<unit>". */
static int
parse_range(const char *s, const char *name, uint64_t lo, uint64_t hi,
    const char *unit, uint64_t *out, char *err, size_t errlen)
{
	if (parse_u64(s, lo, hi, out) == 0)
		return 0;
	snprintf(err, errlen, "--%s: expected %llu..%llu%s", name,
	    (unsigned long long)lo, (unsigned long long)hi, unit);
	return -1;
}

/* http:// or https:// followed by a non-empty authority, printable ASCII only. */
static int
valid_upstream(const char *u)
{
	const char *rest;
	size_t len = strlen(u);

	if (len == 0 || len > OPT_URL_MAX)
		return 0;
	for (const char *p = u; *p != '\0'; p++)
		if (*p <= 0x20 || *p >= 0x7f)
			return 0;
	if (strncmp(u, "http://", 7) == 0)
		rest = u + 7;
	else if (strncmp(u, "https://", 8) == 0)
		rest = u + 8;
	else
		return 0;
	return *rest != '\0' && *rest != '/' && *rest != ':';
}

static int
valid_origin(const char *o)
{
	size_t len = strlen(o);

	if (len == 0 || len > OPT_ORIGIN_MAX)
		return 0;
	for (const char *p = o; *p != '\0'; p++)
		if (*p <= 0x20 || *p >= 0x7f || *p == ',')
			return 0;
	return 1;
}

enum options_result
options_parse(int argc, char **argv, struct options *o, char *err, size_t errlen)
{
	int ch, have_port = 0, have_range = 0;
	uint64_t v, v2;

	memset(o, 0, sizeof(*o));
	o->port_lo = OPT_PORT_LO_DEFAULT;
	o->port_hi = OPT_PORT_HI_DEFAULT;
	o->upstream = OPT_UPSTREAM_DEFAULT;
	o->upstream_connections = OPT_UPSTREAM_CONNS_DEFAULT;
	o->token_fd = -1;
	o->max_message = OPT_MAX_MESSAGE_DEFAULT;
	o->user = OPT_USER_DEFAULT;
	o->log_level = LOG_LEVEL_INFO;

	optind = 1;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (ch) {
		case OPT_PORT:
			if (parse_u64(optarg, 0, 65535, &v) == -1)
				return usage(err, errlen, "--port: not a port number");
			o->port_lo = o->port_hi = (uint16_t)v;
			have_port = 1;
			break;
		case OPT_PORT_RANGE: {
			char a[8], *dash = strchr(optarg, '-');

			if (dash == NULL || (size_t)(dash - optarg) >= sizeof(a))
				return usage(err, errlen, "--port-range: expected A-B");
			memcpy(a, optarg, (size_t)(dash - optarg));
			a[dash - optarg] = '\0';
			if (parse_u64(a, 1, 65535, &v) == -1 ||
			    parse_u64(dash + 1, 1, 65535, &v2) == -1 || v > v2)
				return usage(err, errlen,
				    "--port-range: expected A-B with 1 <= A <= B <= 65535");
			o->port_lo = (uint16_t)v;
			o->port_hi = (uint16_t)v2;
			have_range = 1;
			break;
		}
		case OPT_UPSTREAM:
			if (!valid_upstream(optarg))
				return usage(err, errlen,
				    "--upstream: expected http://HOST[:PORT] or https://HOST[:PORT]");
			o->upstream = optarg;
			break;
		case OPT_UPSTREAM_CA:
			if (*optarg != '/' || strlen(optarg) >= OPT_URL_MAX)
				return usage(err, errlen,
				    "--upstream-ca: expected an absolute path");
			o->upstream_ca = optarg;
			break;
		case OPT_UPSTREAM_CONNS:
			if (parse_range(optarg, "upstream-connections",
			    OPT_UPSTREAM_CONNS_MIN, OPT_UPSTREAM_CONNS_MAX, "",
			    &v, err, errlen) == -1)
				return OPTIONS_USAGE;
			o->upstream_connections = (unsigned)v;
			break;
		case OPT_TOKEN_FD:
			if (parse_u64(optarg, 0, 1 << 20, &v) == -1)
				return usage(err, errlen, "--token-fd: not a descriptor number");
			o->token_fd = (int)v;
			break;
		case OPT_ALLOW_ORIGIN:
			if (!valid_origin(optarg))
				return usage(err, errlen, "--allow-origin: not a valid origin");
			if (o->n_allow_origins == OPT_MAX_ORIGINS)
				return usage(err, errlen, "--allow-origin: at most %d",
				    OPT_MAX_ORIGINS);
			o->allow_origins[o->n_allow_origins++] = optarg;
			break;
		case OPT_MAX_MESSAGE:
			if (parse_range(optarg, "max-message",
			    OPT_MAX_MESSAGE_MIN, OPT_MAX_MESSAGE_MAX, " bytes",
			    &v, err, errlen) == -1)
				return OPTIONS_USAGE;
			o->max_message = v;
			break;
		case OPT_USER:
			if (*optarg == '\0' || strlen(optarg) > 64)
				return usage(err, errlen, "--user: not a user name");
			o->user = optarg;
			break;
		case OPT_LOG_LEVEL:
			if ((o->log_level = log_level_parse(optarg)) == -1)
				return usage(err, errlen,
				    "--log-level: expected error, warn, info or debug");
			break;
		case OPT_SYSLOG:
			o->use_syslog = 1;
			break;
		case OPT_INSECURE:
			o->insecure_no_sandbox = 1;
			break;
		case OPT_VERSION:
			printf("ocbroker %s\n", PACKAGE_VERSION);
			return OPTIONS_EXIT_OK;
		case OPT_HELP:
			options_help(stdout);
			return OPTIONS_EXIT_OK;
		default:
			return usage(err, errlen, "unknown or incomplete option");
		}
	}
	if (optind != argc)
		return usage(err, errlen, "unexpected argument");
	if (have_port && have_range)
		return usage(err, errlen, "--port and --port-range exclude each other");
	return OPTIONS_RUN;
}
