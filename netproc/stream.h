/*
 * Copyright (c) 2026 The ocbroker authors
 * SPDX-License-Identifier: ISC (the licence is in the file LICENSE)
 */

/*
 * The one long-lived subscription to the upstream's GET /event.  Bytes go to
 * the SSE parser, events to the mapper, mapped messages out through the emit
 * callback.  The stream is watched: no response head within a few seconds, or
 * no byte for STREAM_IDLE_TIMEOUT_S (the server's heartbeat comes every ~10 s),
 * and it is dropped and reconnected with backoff.  Every loss and every
 * recovery is told to clients as UpstreamStatus, once per transition: the
 * upstream replays nothing, so this is their signal to refetch state.  The
 * backoff grows until a stream stayed open STREAM_STABLE_S, so an upstream
 * whose stream keeps ending is asked less and less often.
 */
#ifndef OCB_STREAM_H
#define OCB_STREAM_H

#include "netproc/events.h"
#include "netproc/upstream.h"

#define STREAM_HEAD_TIMEOUT_S		5
#define STREAM_IDLE_TIMEOUT_S		30
#define STREAM_BACKOFF_FIRST_MS		100
#define STREAM_BACKOFF_MAX_MS		5000
#define STREAM_STABLE_S			10	/* a stream open this long resets the backoff */
#define STREAM_HEALTH_MAX		4096	/* bytes of /global/health kept */

struct stream;

struct stream	*stream_new(struct upstream *, event_emit_fn, void *arg);
void		 stream_start(struct stream *);
void		 stream_free(struct stream *);
/*
 * An event could not be delivered (out of memory): the stream is dropped
 * as if lost, so clients hear connected:false, then true, and refetch what
 * they missed.  Safe from inside the emit callback.
 */
void		 stream_resync(struct stream *, const char *why);
/* Reads no more of the stream (what was read is still mapped and emitted)
 * until stream_resume: the consumer of the events is behind. */
void		 stream_pause(struct stream *);
void		 stream_resume(struct stream *);

#endif
