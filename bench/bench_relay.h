/*
 * Copyright (c) 2026 The ocbroker authors
 * SPDX-License-Identifier: ISC (the licence is in the file LICENSE)
 */

#ifndef BENCH_RELAY_H
#define BENCH_RELAY_H

#include <sys/types.h>

#include <stdint.h>

/*
 * The floor of a design with two processes between a client and the
 * upstream, measured rather than argued: two processes that only copy
 * bytes, joined by a socketpair as the front and netproc are.
 *
 *   client(s) --TCP-- near --socketpair-- far --TCP-- upstream
 *
 * near accepts nclients connections on 127.0.0.1:port (in the order they
 * connect), then:
 *
 * RELAY_FANOUT: the first client's bytes go to far, the others' are read
 *	and dropped (they exist to be fanned out to); what far sends back is
 *	written to every client.  far has one connection to the upstream.
 * RELAY_MUX: every client is a connection of its own to the upstream: far
 *	opens nclients, and each side prefixes what it passes over the
 *	socketpair with the connection's index and length (5 bytes), the
 *	least a broker's IPC can do.
 *
 * Both loop on poll(2), read(2), write(2): no parsing beyond that prefix,
 * no allocation, no libevent.  What the relay adds to a direct round trip
 * is what two process hops cost on this machine before any work is done.
 */
enum relay_mode { RELAY_FANOUT, RELAY_MUX };

#define RELAY_MAX_CLIENTS	64

struct relay {
	pid_t		near, far;
	uint16_t	port;
};

int	relay_start(struct relay *, uint16_t upstream_port, int nclients,
	    enum relay_mode);
void	relay_stop(struct relay *);

#endif
