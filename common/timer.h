/*
 * Copyright (c) 2026 The ocbroker authors
 * SPDX-License-Identifier: ISC (the licence is in the file LICENSE)
 */

/*
 * The ways the processes arm a libevent timer: in so many milliseconds,
 * a retry soon (the channel's and netproc's writes), and an exponential
 * backoff (the event stream's reconnect, the parent's netproc restart).
 */
#ifndef OCB_COMMON_TIMER_H
#define OCB_COMMON_TIMER_H

#include <sys/time.h>

#include <stdint.h>

#include <event2/event.h>

/* (Re-)arms ev to fire in ms milliseconds. */
static inline void
timer_arm(struct event *ev, uint64_t ms)
{
	struct timeval	tv;

	tv.tv_sec = (time_t)(ms / 1000);
	tv.tv_usec = (suseconds_t)(ms % 1000) * 1000;
	evtimer_add(ev, &tv);
}

/* Arms ev to fire in ms milliseconds, unless it is armed already. */
static inline void
timer_soon(struct event *ev, unsigned ms)
{
	if (!evtimer_pending(ev, NULL))
		timer_arm(ev, ms);
}

/* Arms ev to fire in *ms milliseconds, then doubles *ms up to max. */
static inline void
timer_backoff(struct event *ev, unsigned *ms, unsigned max)
{
	timer_arm(ev, *ms);
	*ms *= 2;
	if (*ms > max)
		*ms = max;
}

#endif /* OCB_COMMON_TIMER_H */
