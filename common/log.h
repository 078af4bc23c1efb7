/*
 * Copyright (c) 2026 The ocbroker authors
 * SPDX-License-Identifier: ISC (the licence is in the file LICENSE)
 */

/*
 * Logging, in the manner of OpenBSD's log.c.
 *
 * The one error convention of ocbroker: a function returns 0 (or a count) on
 * success and -1 on failure, and the caller decides whether to log.  log_warn
 * appends strerror(errno), log_warnx does not; fatal and fatalx are for states
 * the process cannot continue from and exit at once.  Every line is one write(2),
 * so lines from the three processes never interleave on a shared stderr.
 * Nothing that a client or the upstream sent may be logged unsanitized, and no
 * secret is ever passed to these functions.
 */
#ifndef OCB_LOG_H
#define OCB_LOG_H

#include <stdarg.h>

enum log_level {
	LOG_LEVEL_ERROR = 0,
	LOG_LEVEL_WARN,
	LOG_LEVEL_INFO,
	LOG_LEVEL_DEBUG,
};

void	log_init(const char *procname, int level, int use_syslog);
void	log_setlevel(int level);
/*
 * The same line (text and level) logged again within seconds of its first
 * time is counted, not written; "(N more times in S s, not logged)" follows
 * once the window is over, at the next line logged.  Errors are always
 * written.  0 writes every line.
 */
#define LOG_REPEAT_WINDOW_S	30
void	log_setrepeat(int seconds);
int	log_getlevel(void);
int	log_level_parse(const char *name);	/* -1 when unknown */

void	log_warn(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_warnx(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_info(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_debug(const char *, ...) __attribute__((format(printf, 1, 2)));
void	fatal(const char *, ...) __attribute__((format(printf, 1, 2), noreturn));
void	fatalx(const char *, ...) __attribute__((format(printf, 1, 2), noreturn));

/* Copies at most dstlen-1 bytes of src into dst, replacing anything that is not
 * printable ASCII with '?', so that peer-supplied text is safe in a log line. */
const char *log_sanitize(char *dst, size_t dstlen, const void *src, size_t srclen);

#endif
