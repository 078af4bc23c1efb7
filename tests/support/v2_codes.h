/*
 * Copyright (c) 2026 The ocbroker authors
 * SPDX-License-Identifier: ISC (the licence is in the file LICENSE)
 */

/*
 * Every capture's protocol v2 event sequence, one letter per message
 * (the mapping table in netproc/events.h; X after the M of the first
 * completion of an assistant message).  Written out once from the
 * captures: tests/test_events.c checks the mapper against it,
 * tests/test_streaming.c the broker's output read back by a client, so
 * that two derivations of the same rules agree.
 */
#ifndef OCB_TESTS_SUPPORT_V2_CODES_H
#define OCB_TESTS_SUPPORT_V2_CODES_H

#include <stddef.h>

#include "tests/support/cases.h"

/* in: the capture's file name, want: its sequence. */
extern const struct str_case	v2_codes[];
extern const size_t		v2_ncodes;

#endif /* OCB_TESTS_SUPPORT_V2_CODES_H */
