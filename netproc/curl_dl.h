/*
 * Copyright (c) 2026 The ocbroker authors
 * SPDX-License-Identifier: ISC (the licence is in the file LICENSE)
 */

/* libcurl, loaded by netproc alone; see curl_dl.c. */
#ifndef OCB_CURL_DL_H
#define OCB_CURL_DL_H

/* Opens OCB_CURL_LIB and binds the functions netproc calls: 0, or -1 with
 * why (dlerror's text: no secret in it). */
int	curl_dl_open(const char **why);

#endif
