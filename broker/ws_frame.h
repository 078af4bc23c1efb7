/*
 * Copyright (c) 2026 The ocbroker authors
 * SPDX-License-Identifier: ISC (the licence is in the file LICENSE)
 */

/*
 * The framer moved to common/ws_frame.h (the front and libocbclient share
 * it).  This forwarding header goes once broker/front.h and the tests
 * include that one.
 */
#include "common/ws_frame.h"
