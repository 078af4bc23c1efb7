/*
 * Copyright (c) 2026 The ocbroker authors
 * SPDX-License-Identifier: ISC (the licence is in the file LICENSE)
 */

/*
 * ListProviders: GET /provider (6.5 MB, 226 providers, 8 298 models in
 * OpenCode 1.18.34) -> ProviderList.  The document is walked without
 * tokens (json_walk): the values of `key`, `options` and `env`, and of
 * everything else not put in the reply, are skimmed, never decoded or
 * copied; without include_all a provider that is not connected is never
 * looked into past its `id`.  Pure: no I/O, no logging, no global state.
 */
#ifndef OCB_NETPROC_PROVIDERS_H
#define OCB_NETPROC_PROVIDERS_H

#include <stddef.h>
#include <stdint.h>

#include "netproc/api.h"

#define PROVIDERS_MAX		4096		/* in `all`, `connected` and `default` each */
#define PROVIDERS_MODELS_MAX	(128 * 1024)	/* models in one reply */

/*
 * api_reply_pack() for API_KIND_PROVIDER_LIST, with its contract: a packed
 * ServerMessage (request_id = call->request_id) in a malloc'd buffer, an
 * ErrorResponse when the reply cannot be mapped (PARSE_ERROR) or when the
 * ProviderList would exceed call->max_reply (UPSTREAM_ERROR); -1 only when
 * out of memory.  Meant for a 2xx reply; another status gets a plain
 * ErrorResponse (api_reply_pack() maps those itself).
 */
int	providers_reply_pack(const struct api_call *,
	    const struct api_response *, uint8_t **, size_t *);

#endif /* OCB_NETPROC_PROVIDERS_H */
