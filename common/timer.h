/*
 * Copyright (c) 2026 The ocbroker authors
 * SPDX-License-Identifier: ISC (the licence is in the file LICENSE)
 */

/*
 * The two ways the processes re-arm a libevent timer: a retry soon (the
 * channel's and netproc's writes), and an exponential backoff (the event
 * stream's reconnect, the parent's netproc restart).
 */
#ifndef OCB_COMMON_TIMER_H
#define OCB_COMMON_TIMER_H

#include <sys/time.h>

#include <event2/event.h>

/* Arms ev to fire in ms milliseconds, unless it is armed already. */
static inline void
timer_soon(struct event *ev, unsigned ms)
{
	struct timeval	tv = { ms / 1000, (ms % 1000) * 1000 };

	if (!evtimer_pending(ev, NULL))
		evtimer_add(ev, &tv);
}

/* Arms ev to fire in *ms milliseconds, then doubles *ms up to max. */
static inline void
timer_backoff(struct event *ev, unsigned *ms, unsigned max)
{
	struct timeval	tv = { *ms / 1000, (*ms % 1000) * 1000 };

	evtimer_add(ev, &tv);
	*ms *= 2;
	if (*ms > max)
		*ms = max;
}

#endif /* OCB_COMMON_TIMER_H */
