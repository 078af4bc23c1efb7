/*
 * Copyright (c) 2026 The ocbroker authors
 * SPDX-License-Identifier: ISC (the licence is in the file LICENSE)
 */

/* Logging to stderr or syslog; see log.h for the conventions. */
#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"

#define LOG_LINE_MAX	1024
#define LOG_REPEAT_SLOTS	8	/* distinct lines remembered */

/*
 * A line logged recently: the same text again (same level) within the
 * window is counted, not written; the count is written once the window
 * is over.  A flapping peer repeats a few lines in turn, not only one.
 */
struct log_repeat {
	int		 used;
	int		 level;
	int64_t		 start;		/* window start, CLOCK_MONOTONIC ms */
	uint64_t	 seq;		/* the oldest is evicted first */
	unsigned long	 count;		/* not written since start */
	char		 text[LOG_LINE_MAX];
};

/* The process's own logging configuration, set once at start. */
static const char	*log_procname = "ocbroker";
static int		 log_level = LOG_LEVEL_INFO;
static int		 log_syslog;
static int		 log_repeat_s = LOG_REPEAT_WINDOW_S;
static struct log_repeat log_repeats[LOG_REPEAT_SLOTS];
static uint64_t		 log_repeat_seq;

void
log_init(const char *procname, int level, int use_syslog)
{
	struct tm tm;
	time_t now = time(NULL);

	log_procname = procname;
	log_level = level;
	log_syslog = use_syslog;
	/* glibc reads /etc/localtime at the first time conversion, even for
	 * gmtime_r: do it now, before any sandbox forbids the open. */
	tzset();
	gmtime_r(&now, &tm);
	if (use_syslog)
		openlog("ocbroker", LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

void
log_setlevel(int level)
{
	log_level = level;
}

void
log_setrepeat(int seconds)
{
	log_repeat_s = seconds;
	memset(log_repeats, 0, sizeof(log_repeats));
}

int
log_getlevel(void)
{
	return log_level;
}

int
log_level_parse(const char *name)
{
	static const char *const names[] = { "error", "warn", "info", "debug" };

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(name, names[i]) == 0)
			return (int)i;
	return -1;
}

static void vlog(int, const char *, va_list, const char *)
    __attribute__((format(printf, 2, 0)));

static void
emit(int level, const char *msg)
{
	static const char *const tags[] = { "error", "warn", "info", "debug" };
	static const int prios[] = { LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG };
	char line[LOG_LINE_MAX + 128];
	struct timespec ts;
	struct tm tm;
	int n;

	if (log_syslog) {
		syslog(prios[level], "%s: %s", log_procname, msg);
		return;
	}
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	n = snprintf(line, sizeof(line),
	    "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ ocbroker %s[%ld] %s: %s\n",
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
	    tm.tm_sec, ts.tv_nsec / 1000000, log_procname, (long)getpid(),
	    tags[level], msg);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(line)) {
		n = sizeof(line) - 1;
		line[n - 1] = '\n';
	}
	/* One write per line; a failing stderr has nowhere to be reported. */
	(void)!write(STDERR_FILENO, line, (size_t)n);
}

/* Writes how often a line was not written, and forgets it. */
static void
repeat_end(struct log_repeat *r)
{
	char msg[LOG_LINE_MAX + 64];

	if (r->count > 0) {
		snprintf(msg, sizeof(msg), "%s (%lu more times, not logged)",
		    r->text, r->count);
		emit(r->level, msg);
	}
	r->used = 0;
}

/* 1 when text was logged within the window (it is counted instead). */
static int
repeat_seen(int level, const char *text)
{
	struct log_repeat *r, *oldest = &log_repeats[0];
	struct timespec ts;
	int64_t now;

	if (log_repeat_s <= 0 || level == LOG_LEVEL_ERROR)
		return 0;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	now = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
	for (size_t i = 0; i < LOG_REPEAT_SLOTS; i++)
		if (log_repeats[i].used &&
		    now - log_repeats[i].start >= (int64_t)log_repeat_s * 1000)
			repeat_end(&log_repeats[i]);
	for (size_t i = 0; i < LOG_REPEAT_SLOTS; i++) {
		r = &log_repeats[i];
		if (r->used && r->level == level && strcmp(r->text, text) == 0) {
			r->count++;
			return 1;
		}
		if (!r->used || (oldest->used && r->seq < oldest->seq))
			oldest = r;
	}
	/* An evicted line's count is written now, not lost. */
	if (oldest->used)
		repeat_end(oldest);
	oldest->used = 1;
	oldest->level = level;
	oldest->start = now;
	oldest->seq = ++log_repeat_seq;
	oldest->count = 0;
	snprintf(oldest->text, sizeof(oldest->text), "%s", text);
	return 0;
}

static void
vlog(int level, const char *fmt, va_list ap, const char *suffix)
{
	char msg[LOG_LINE_MAX], text[LOG_LINE_MAX];

	if (level > log_level)
		return;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	/* A line that does not fit is cut. */
	if ((size_t)snprintf(text, sizeof(text), "%s%s%s", msg,
	    suffix ? ": " : "", suffix ? suffix : "") >= sizeof(text))
		text[sizeof(text) - 1] = '\0';
	if (repeat_seen(level, text))
		return;
	emit(level, text);
}

#define LOG_BODY(level, suffix) do {		\
	va_list ap;				\
	va_start(ap, fmt);			\
	vlog(level, fmt, ap, suffix);		\
	va_end(ap);				\
} while (0)

void
log_warn(const char *fmt, ...)
{
	const char *err = strerror(errno);

	LOG_BODY(LOG_LEVEL_WARN, err);
}

void
log_warnx(const char *fmt, ...)
{
	LOG_BODY(LOG_LEVEL_WARN, NULL);
}

void
log_info(const char *fmt, ...)
{
	LOG_BODY(LOG_LEVEL_INFO, NULL);
}

void
log_debug(const char *fmt, ...)
{
	LOG_BODY(LOG_LEVEL_DEBUG, NULL);
}

void
fatal(const char *fmt, ...)
{
	const char *err = strerror(errno);

	LOG_BODY(LOG_LEVEL_ERROR, err);
	exit(1);
}

void
fatalx(const char *fmt, ...)
{
	LOG_BODY(LOG_LEVEL_ERROR, NULL);
	exit(1);
}

const char *
log_sanitize(char *dst, size_t dstlen, const void *src, size_t srclen)
{
	const unsigned char *s = src;
	size_t i;

	if (dstlen == 0)
		return dst;
	for (i = 0; i < srclen && i < dstlen - 1; i++)
		dst[i] = (s[i] >= 0x20 && s[i] < 0x7f) ? (char)s[i] : '?';
	dst[i] = '\0';
	return dst;
}
