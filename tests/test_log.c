/*
 * Copyright (c) 2026 The ocbroker authors
 * SPDX-License-Identifier: ISC (the licence is in the file LICENSE)
 */

/*
 * common/log.c: a line repeated within the window is counted, not written,
 * and the count is written once the window is over or the line is evicted
 * by others; lines that differ are all written.  stderr goes to a file the
 * test reads back.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/log.h"

static int	saved_stderr = -1;
static FILE	*capture;

static int
setup(void **state)
{
	(void)state;
	if ((capture = tmpfile()) == NULL)
		return -1;
	fflush(stderr);
	saved_stderr = dup(STDERR_FILENO);
	if (saved_stderr == -1 ||
	    dup2(fileno(capture), STDERR_FILENO) == -1)
		return -1;
	log_init("test", LOG_LEVEL_DEBUG, 0);
	log_setrepeat(LOG_REPEAT_WINDOW_S);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	dup2(saved_stderr, STDERR_FILENO);
	close(saved_stderr);
	fclose(capture);
	return 0;
}

static char	*logged(void);

/* Empty slots and nothing logged yet. */
static void
fresh(void **state)
{
	(void)state;
	log_setrepeat(LOG_REPEAT_WINDOW_S);
	free(logged());
}

/* What was logged since the last call, malloc'd. */
static char *
logged(void)
{
	static long done;
	long end;
	char *s;

	fseek(capture, 0, SEEK_END);
	end = ftell(capture);
	assert_non_null(s = calloc(1, (size_t)(end - done) + 1));
	fseek(capture, done, SEEK_SET);
	assert_int_equal(fread(s, 1, (size_t)(end - done), capture),
	    (size_t)(end - done));
	done = end;
	return s;
}

static int
count(const char *text, const char *needle)
{
	int n = 0;

	for (const char *p = text; (p = strstr(p, needle)) != NULL; p++)
		n++;
	return n;
}

/* Fails unless the log holds exactly n lines. */
static void
expect_lines(int n)
{
	char *s = logged();

	assert_int_equal(count(s, "\n"), n);
	free(s);
}

static void
test_same_line_once(void **state)
{
	char *s;

	fresh(state);
	for (int i = 0; i < 100; i++)
		log_warnx("event stream lost: %s", "the upstream ended it");
	s = logged();
	assert_int_equal(count(s, "\n"), 1);
	assert_int_equal(count(s, "event stream lost: the upstream ended it"),
	    1);
	free(s);
}

static void
test_alternating_lines(void **state)
{
	char *s;

	fresh(state);
	for (int i = 0; i < 50; i++) {
		log_info("flap %s", "up");
		log_warnx("flap %s", "down");
	}
	s = logged();
	assert_int_equal(count(s, "\n"), 2);
	assert_int_equal(count(s, "info: flap up"), 1);
	assert_int_equal(count(s, "warn: flap down"), 1);
	free(s);
}

static void
test_different_lines_all_written(void **state)
{
	fresh(state);
	for (int i = 0; i < 100; i++)
		log_info("request %d refused", i);
	expect_lines(100);
}

/* The same text at another level is another line. */
static void
test_level_counts(void **state)
{
	fresh(state);
	log_info("same text");
	log_debug("same text");
	log_info("same text");
	expect_lines(2);
}

/* A counted line pushed out by newer ones has its count written. */
static void
test_evicted_count_written(void **state)
{
	char *s;

	fresh(state);
	for (int i = 0; i < 5; i++)
		log_warnx("noisy");
	for (int i = 0; i < 16; i++)
		log_info("other %d", i);
	s = logged();
	assert_int_equal(count(s, "warn: noisy\n"), 1);
	assert_int_equal(count(s, "warn: noisy (4 more times, not logged)\n"),
	    1);
	assert_int_equal(count(s, "info: other "), 16);
	free(s);
}

/* Once the window is over, the next line writes the count. */
static void
test_window_over(void **state)
{
	char *s;

	fresh(state);
	log_setrepeat(1);
	log_warnx("windowed");
	log_warnx("windowed");
	log_warnx("windowed");
	sleep(2);	/* the 1 s window is over */
	log_info("later");
	s = logged();
	assert_int_equal(count(s, "warn: windowed\n"), 1);
	assert_int_equal(count(s,
	    "warn: windowed (2 more times, not logged)\n"), 1);
	assert_int_equal(count(s, "info: later\n"), 1);
	free(s);
}

static void
test_off(void **state)
{
	fresh(state);
	log_setrepeat(0);
	for (int i = 0; i < 10; i++)
		log_warnx("every one");
	expect_lines(10);
	log_setrepeat(LOG_REPEAT_WINDOW_S);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_same_line_once),
		cmocka_unit_test(test_alternating_lines),
		cmocka_unit_test(test_different_lines_all_written),
		cmocka_unit_test(test_level_counts),
		cmocka_unit_test(test_evicted_count_written),
		cmocka_unit_test(test_window_over),
		cmocka_unit_test(test_off),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
