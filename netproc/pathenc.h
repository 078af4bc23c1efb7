/*
 * Copyright (c) 2026 The ocbroker authors
 * SPDX-License-Identifier: ISC (the licence is in the file LICENSE)
 */

/*
 * Validation and percent-encoding of upstream path parameters.  The ids are
 * checked against the shapes the server uses, so "../x", "ses_%2e%2e" or an
 * empty id never reach a URL; the encoding is defence in depth.
 */
#ifndef OCB_NETPROC_PATHENC_H
#define OCB_NETPROC_PATHENC_H

#include <stddef.h>

#define PATHENC_ID_MAX	100	/* bytes, any id */

/* Each returns 1 when s is a valid id of that kind, else 0. */
int	pathenc_session_id(const char *);	/* "ses_" [0-9A-Za-z]+ */
int	pathenc_permission_id(const char *);	/* "per_" [0-9A-Za-z]+ */
int	pathenc_message_id(const char *);	/* "msg_" [0-9A-Za-z]+ */
int	pathenc_part_id(const char *);		/* "prt_" ... */
int	pathenc_question_id(const char *);	/* "que_" ... */
int	pathenc_provider_id(const char *);	/* [A-Za-z0-9._-]+, not . or .. */

/*
 * Appends s to the NUL-terminated string in dst (dstsize bytes), every byte
 * but RFC 3986 unreserved ones percent-encoded.  -1 when it does not fit
 * (dst is then left unchanged).
 */
int	pathenc_append(char *, size_t, const char *);

#endif /* OCB_NETPROC_PATHENC_H */
