/*
 * Copyright (c) 2026 The ocbroker authors
 * SPDX-License-Identifier: ISC (the licence is in the file LICENSE)
 */

/*
 * libcurl's allocator in netproc: every block libcurl frees or moves is
 * wiped first, so the requests it built (an Authorization header, a
 * SetAuth body with an API key) do not stay readable in freed heap memory.
 * libcurl's allocations also get a reserve to fall back on (curlmem.c says
 * why).
 */
#ifndef OCB_NETPROC_CURLMEM_H
#define OCB_NETPROC_CURLMEM_H

/* curl_global_init_mem with the wiping functions; 0 or -1. */
int	curlmem_global_init(long flags);
void	curlmem_global_cleanup(void);

#endif
