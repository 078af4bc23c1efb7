/*
 * Copyright (c) 2026 The ocbroker authors
 * SPDX-License-Identifier: ISC (the licence is in the file LICENSE)
 */

/*
 * Helpers for tests that run the real ocbroker binary against
 * tests/fake_upstream: spawning both, reading and checking the ready lines,
 * the fake's /__fake/ control interface, and tearing everything down.
 *
 * Paths come from the environment: OCBROKER (the binary), FAKE_UPSTREAM
 * (the fake server) and OCB_FIXTURES (the fixtures directory).  Logs of
 * every process go to files under it_logdir() (kept when a test fails), or
 * to our stderr when OCB_IT_VERBOSE is set.
 */
#ifndef OCB_TESTS_INTEGRATION_UTIL_H
#define OCB_TESTS_INTEGRATION_UTIL_H

#include <sys/types.h>

#include <stddef.h>
#include <stdint.h>

#include "tests/support/clock.h"

#define IT_TOKEN_LEN	64

struct it_opts {
	const char *const *ocb_args;	/* more arguments, NULL-ended */
	const char	*fake_password;	/* FAKE_UPSTREAM_PASSWORD of the fake */
	const char	*ocb_password;	/* OPENCODE_SERVER_PASSWORD */
	int		 no_fake;	/* upstream: a port nobody listens on */
	int		 fake_heartbeat; /* seconds, 0 = the fake's default */
	const char *const *fake_args;	/* more for the fake, NULL-ended */
	int		 token_fd;	/* pass --token-fd with token_in */
	const char	*token_in;
};

struct it_env {
	int		 running;

	pid_t		 fake_pid;
	uint16_t	 fake_port;	/* upstream port (no_fake: refused) */

	pid_t		 ocb_pid;
	int		 ocb_out;	/* ocbroker's stdout, past ready */
	uint16_t	 port;
	char		 token[IT_TOKEN_LEN + 1];
	char		 version[32];
	int		 has_token;	/* the ready line carried a token */

	char		 ocb_log[256];
	char		 fake_log[256];
};

/* Where the logs go (created on first use). */
/* 1 when ocbroker runs with its sandbox (not in a sanitizer build). */
int	it_sandboxed(void);
const char *it_logdir(void);
/* Removes the log directory (call when every test passed). */
void	it_logdir_remove(void);
/* Removes dir and the files in it (no subdirectories). */
void	it_remove_dir(const char *dir);
/* How many lines of the file at path (a log) hold needle, or -1. */
long	it_log_lines(const char *path, const char *needle);

/* Starts the fake (unless no_fake) and ocbroker; 0, or -1 (said on stderr). */
int	it_start(struct it_env *, const struct it_opts *);

/*
 * Sends SIGTERM to ocbroker and waits (at most timeout_ms) for it to exit,
 * then stops the fake.  Returns ocbroker's wait status, or -1 when it had
 * to be killed.  *extra_stdout is set when ocbroker printed anything after
 * its ready line (the contract says one line only).
 */
int	it_stop(struct it_env *, int timeout_ms, int *extra_stdout);
/* it_stop() in two halves: signal; wait for the exit and stop the fake. */
void	it_signal(struct it_env *, int sig);
int	it_wait(struct it_env *, int timeout_ms, int *extra_stdout);

/*
 * Parses a ready line strictly (without its newline):
 * {"ready":true,"port":N,"token":"<64 lowercase hex>","version":"X.Y.Z"},
 * the token being optional.  0 or -1.
 */
int	it_parse_ready(const char *line, uint16_t *port, char *token,
	    int *has_token, char *version, size_t versionsz);

/*
 * One HTTP/1.1 request to the fake (Connection: close).  Returns the status
 * and sets *body (NUL-terminated, malloc'd; may be NULL when not wanted), or
 * -1.
 */
/* One HTTP/1.1 request to 127.0.0.1:port (Connection: close; headers is
 * extra "Name: value\r\n" lines or NULL).  The whole response, head and
 * body, NUL-terminated and malloc'd, in *raw (NULL on failure).  Returns the
 * status, or -1. */
int	it_http(uint16_t port, const char *method, const char *path,
	    const char *body, const char *headers, int timeout_ms, char **raw,
	    size_t *rawlen);
int	it_fake_req(const struct it_env *, const char *method,
	    const char *path, const char *body, char **resp);

/* POST /__fake/mode; 0 or -1. */
int	it_fake_mode(const struct it_env *, const char *mode);
/*
 * GET /__fake/last: "METHOD URI\n<body>" of the newest request of that
 * method (NULL: any) whose URI starts with prefix (NULL: any), malloc'd, or
 * NULL when there is none.  Filtering keeps ocbroker's own background
 * requests (GET /event, GET /global/health) out of the way.
 */
char	*it_fake_last(const struct it_env *, const char *method,
	    const char *prefix);
/* GET /__fake/log: "METHOD URI" lines since start or reset, malloc'd. */
char	*it_fake_log(const struct it_env *);
/* GET /__fake/count (GET /event streams count only in streams); 0 or -1. */
int	it_fake_count(const struct it_env *, long *requests, long *connections,
	    long *streams);
/* GET /__fake/stalls: the stalled bodies sent whole and broken; 0 or -1. */
int	it_fake_stalls(const struct it_env *, long *sent, long *broken);
/* Waits until the fake has at least n open /event streams; 0 or -1. */
int	it_fake_wait_streams(const struct it_env *, long n, int timeout_ms);

/*
 * POST /__fake/event: each line of lines is one event's JSON, sent to every
 * open /event stream; 0 or -1.
 */
int	it_fake_event(const struct it_env *, const char *lines);
/* POST /__fake/command "normal" | "hang" | "stall"; 0 or -1. */
int	it_fake_command(const struct it_env *, const char *mode);
/* POST /__fake/messages FILE.json (the list the fake pages); 0 or -1. */
int	it_fake_messages(const struct it_env *, const char *file);
/*
 * How many requests the fake logged that were not ocbroker's background
 * ones (GET /event, GET /global/health), or -1.
 */
long	it_fake_calls(const struct it_env *);

/* fx_read(): a whole fixture, NUL-terminated, malloc'd, NULL on error. */
char	*it_read_fixture(const char *name, size_t *len);

#endif
