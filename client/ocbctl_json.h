/*
 * Copyright (c) 2026 The ocbroker authors
 * SPDX-License-Identifier: ISC (the licence is in the file LICENSE)
 */

/*
 * ocbctl's output: every ServerMessage as one JSON object per line on
 * stdout (a list reply as one line per element).  The line shapes are in
 * client/README.md.  Strings are escaped as JSON requires; bytes that are
 * not UTF-8 become U+FFFD, so a line is always valid JSON.
 */
#ifndef OCBCTL_JSON_H
#define OCBCTL_JSON_H

#include <stdio.h>

#include "proto/messages.pb-c.h"

/* s (NULL: "") as a JSON string on f. */
void	json_str(FILE *f, const char *s);

/*
 * Prints m on stdout and flushes it.  Returns 1 for an ErrorResponse (the
 * caller's exit status), else 0.
 */
int	json_message(const Opencode__ServerMessage *m);

/* {"ok":true}, the line of a reply with nothing to return. */
void	json_ok(void);

#endif
