/*
 * Copyright (c) 2026 The ocbroker authors
 * SPDX-License-Identifier: ISC (the licence is in the file LICENSE)
 */

/*
 * common/chan.c over a socketpair with a libevent base: frames both ways, a
 * peer that closes, a malformed frame stops the channel, the out-queue cap,
 * a frame lost to out of memory costs that frame only (and stops a channel
 * whose owner has no lost callback), the blocking paths, descriptors, and
 * a send with no write due written before it returns.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <sys/socket.h>

#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/event.h>

#include "common/chan.h"

#define MAX_SEEN	64

struct side {
	struct chan	 ch;
	uint64_t	 kinds[MAX_SEEN];	/* Control kinds received */
	size_t		 nframes;
	struct ipc_lost	 lost[MAX_SEEN];
	size_t		 nlost;
	int		 closed;
	enum chan_end	 end;
	const char	*why;
	int		 free_on_close;
	int		 drained;		/* drained calls */
};

struct pair {
	struct event_base	*base;
	struct side		 a, b;
};

static void
on_frame(struct chan *ch, Ocb__Ipc__Frame *fr, void *arg)
{
	struct side *s = arg;

	assert_int_equal(fr->body_case, OCB__IPC__FRAME__BODY_CONTROL);
	if (s->nframes < MAX_SEEN)
		s->kinds[s->nframes] = fr->control->kind;
	s->nframes++;
}

static void
on_lost(struct chan *ch, const struct ipc_lost *l, void *arg)
{
	struct side *s = arg;

	if (s->nlost < MAX_SEEN)
		s->lost[s->nlost] = *l;
	s->nlost++;
}

static void
on_closed(struct chan *ch, enum chan_end end, const char *why, void *arg)
{
	struct side *s = arg;

	s->closed++;
	s->end = end;
	s->why = why;
	if (s->free_on_close)
		chan_free(ch);
}

static void
on_drained(struct chan *ch, void *arg)
{
	struct side *s = arg;

	s->drained++;
}

static const struct chan_cb cb_lost = { on_frame, on_lost, on_closed, NULL };
static const struct chan_cb cb_nolost = { on_frame, NULL, on_closed, NULL };
static const struct chan_cb cb_drained = {
	on_frame, on_lost, on_closed, on_drained
};

static int
setup(void **state)
{
	struct pair *p = calloc(1, sizeof(*p));
	int sp[2];

	assert_non_null(p);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp),
	    0);
	assert_non_null(p->base = event_base_new());
	chan_init(&p->a.ch, sp[0]);
	chan_init(&p->b.ch, sp[1]);
	*state = p;
	return 0;
}

static int
teardown(void **state)
{
	struct pair *p = *state;

	chan_free(&p->a.ch);
	chan_free(&p->b.ch);
	event_base_free(p->base);
	free(p);
	return 0;
}

static void
start(struct pair *p, const struct chan_cb *cba, const struct chan_cb *cbb)
{
	if (cba != NULL)
		assert_int_equal(chan_start(&p->a.ch, p->base, cba, &p->a), 0);
	if (cbb != NULL)
		assert_int_equal(chan_start(&p->b.ch, p->base, cbb, &p->b), 0);
}

static int
send_kind(struct chan *ch, Ocb__Ipc__Control__Kind kind)
{
	Ocb__Ipc__Frame fr = OCB__IPC__FRAME__INIT;
	Ocb__Ipc__Control ctl = OCB__IPC__CONTROL__INIT;

	ctl.kind = kind;
	fr.body_case = OCB__IPC__FRAME__BODY_CONTROL;
	fr.control = &ctl;
	return chan_send(ch, &fr);
}

/* Runs the loop until *n reaches want (counted rounds, no clock). */
static void
run_until(struct pair *p, const size_t *n, size_t want)
{
	for (int i = 0; i < 100000 && *n < want; i++)
		event_base_loop(p->base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
	assert_true(*n >= want);
}

static void
run_until_int(struct pair *p, const int *n, int want)
{
	for (int i = 0; i < 100000 && *n < want; i++)
		event_base_loop(p->base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
	assert_true(*n >= want);
}

/*
 * b ended CHAN_BAD for why, and is never read again: a frame a sends it
 * afterwards is not handed out (b keeps the nframes it had).
 */
static void
assert_bad_then_deaf(struct pair *p, const char *why, size_t nframes)
{
	assert_int_equal(p->b.closed, 1);
	assert_int_equal(p->b.end, CHAN_BAD);
	assert_string_equal(p->b.why, why);
	assert_int_equal(send_kind(&p->a.ch, OCB__IPC__CONTROL__KIND__READY), 0);
	assert_int_equal(chan_flush_blocking(&p->a.ch), 0);
	for (int i = 0; i < 100; i++)
		event_base_loop(p->base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
	assert_int_equal(p->b.nframes, nframes);
	assert_int_equal(p->b.closed, 1);
}

static void
test_both_ways(void **state)
{
	struct pair *p = *state;

	start(p, &cb_lost, &cb_lost);
	assert_int_equal(send_kind(&p->a.ch, OCB__IPC__CONTROL__KIND__READY), 0);
	assert_int_equal(send_kind(&p->a.ch,
	    OCB__IPC__CONTROL__KIND__RESTART_NETPROC), 0);
	assert_int_equal(send_kind(&p->b.ch,
	    OCB__IPC__CONTROL__KIND__NETPROC_FD), 0);
	run_until(p, &p->b.nframes, 2);
	run_until(p, &p->a.nframes, 1);
	assert_int_equal(p->b.kinds[0], OCB__IPC__CONTROL__KIND__READY);
	assert_int_equal(p->b.kinds[1], OCB__IPC__CONTROL__KIND__RESTART_NETPROC);
	assert_int_equal(p->a.kinds[0], OCB__IPC__CONTROL__KIND__NETPROC_FD);
	assert_int_equal(buf_used(&p->a.ch.out), 0);
	assert_int_equal(p->a.closed + p->b.closed, 0);
}

/* Many frames, more than the socket holds: all arrive, in order. */
static void
test_many(void **state)
{
	struct pair *p = *state;
	Ocb__Ipc__Frame fr = OCB__IPC__FRAME__INIT;
	Ocb__Ipc__Event ev = OCB__IPC__EVENT__INIT;
	static uint8_t big[256 * 1024];
	size_t n = 64;
	size_t got = 0;

	start(p, &cb_lost, NULL);
	ev.server_message.data = big;
	ev.server_message.len = sizeof(big);
	fr.body_case = OCB__IPC__FRAME__BODY_EVENT;
	fr.event = &ev;
	for (size_t i = 0; i < n; i++)
		assert_int_equal(chan_send(&p->a.ch, &fr), 0);
	/* The reading side, read blocking as at start-up. */
	while (got < n) {
		Ocb__Ipc__Frame *in;

		event_base_loop(p->base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
		while (ipc_reader_next(&p->b.ch.in, &in) == IPC_FRAME) {
			assert_int_equal(in->body_case,
			    OCB__IPC__FRAME__BODY_EVENT);
			assert_int_equal(in->event->server_message.len,
			    sizeof(big));
			ipc_frame_free(in);
			got++;
		}
		if (got < n)
			(void)ipc_read(&p->b.ch.in, p->b.ch.fd);
	}
	assert_int_equal(p->a.closed, 0);
}

static void
test_peer_closes(void **state)
{
	struct pair *p = *state;

	start(p, &cb_lost, NULL);
	chan_free(&p->b.ch);
	run_until_int(p, &p->a.closed, 1);
	assert_int_equal(p->a.end, CHAN_CLOSED);
	assert_int_equal(p->a.closed, 1);
	/* Stopped: nothing is queued any more. */
	assert_int_equal(send_kind(&p->a.ch, OCB__IPC__CONTROL__KIND__READY), -1);
	assert_int_equal(errno, ENOTCONN);
}

/* The owner frees the channel from closed (as the front does with netproc). */
static void
test_free_on_close(void **state)
{
	struct pair *p = *state;

	p->a.free_on_close = 1;
	start(p, &cb_lost, NULL);
	chan_free(&p->b.ch);
	run_until_int(p, &p->a.closed, 1);
	assert_int_equal(p->a.ch.fd, -1);
	assert_null(p->a.ch.rev);
}

static void
test_oversized(void **state)
{
	struct pair *p = *state;
	const uint8_t hdr[4] = { 0xff, 0xff, 0xff, 0xff };

	start(p, NULL, &cb_lost);
	assert_int_equal(send_kind(&p->a.ch, OCB__IPC__CONTROL__KIND__READY), 0);
	assert_int_equal(chan_flush_blocking(&p->a.ch), 0);
	assert_int_equal(write(p->a.ch.fd, hdr, sizeof(hdr)), (ssize_t)sizeof(hdr));
	run_until_int(p, &p->b.closed, 1);
	/* The good frame before it was handed out. */
	assert_int_equal(p->b.nframes, 1);
	assert_bad_then_deaf(p, "frame too long", 1);
}

/* Above outq_max chan_send refuses (EAGAIN) and queues nothing. */
static void
test_outq_cap(void **state)
{
	struct pair *p = *state;
	size_t used;
	int n = 0;

	p->a.ch.outq_max = 200;
	start(p, &cb_lost, NULL);	/* b does not read */
	while (send_kind(&p->a.ch, OCB__IPC__CONTROL__KIND__READY) == 0)
		n++;
	assert_int_equal(errno, EAGAIN);
	assert_true(buf_used(&p->a.ch.out) > 200);
	assert_true(n > 1);
	used = buf_used(&p->a.ch.out);
	assert_int_equal(send_kind(&p->a.ch, OCB__IPC__CONTROL__KIND__READY), -1);
	assert_int_equal(buf_used(&p->a.ch.out), used);
	/* Once flushed it takes frames again. */
	assert_int_equal(chan_flush_blocking(&p->a.ch), 0);
	assert_int_equal(send_kind(&p->a.ch, OCB__IPC__CONTROL__KIND__READY), 0);
}

/*
 * drained comes when the loop's writes empty a queue the kernel had refused,
 * and not while the peer reads nothing (netproc resumes the event stream on
 * it).
 */
static void
test_drained(void **state)
{
	struct pair *p = *state;
	size_t sent = 0;
	int before;

	start(p, &cb_drained, NULL);	/* b does not read yet */
	while (buf_used(&p->a.ch.out) < 256 * 1024) {
		assert_int_equal(send_kind(&p->a.ch,
		    OCB__IPC__CONTROL__KIND__READY), 0);
		sent++;
		event_base_loop(p->base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
	}
	before = p->a.drained;
	for (int i = 0; i < 100; i++)
		event_base_loop(p->base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
	assert_int_equal(p->a.drained, before);
	assert_true(buf_used(&p->a.ch.out) >= 256 * 1024);

	start(p, NULL, &cb_lost);	/* b reads everything */
	run_until(p, &p->b.nframes, sent);
	assert_int_equal(p->b.nframes, sent);
	assert_int_equal(buf_used(&p->a.ch.out), 0);
	assert_true(p->a.drained > before);
}

/*
 * A send with no write due is written before chan_send returns (the first
 * frame of a burst does not wait for the loop); the frames that follow in
 * the same loop iteration wait and leave together.
 */
static void
test_write_now(void **state)
{
	struct pair *p = *state;
	Ocb__Ipc__Frame *in;

	start(p, &cb_lost, NULL);	/* b is read by hand */
	assert_int_equal(send_kind(&p->a.ch, OCB__IPC__CONTROL__KIND__READY), 0);
	assert_int_equal(buf_used(&p->a.ch.out), 0);
	assert_true(ipc_read(&p->b.ch.in, p->b.ch.fd) > 0);
	assert_int_equal(ipc_reader_next(&p->b.ch.in, &in), IPC_FRAME);
	assert_int_equal(in->control->kind, OCB__IPC__CONTROL__KIND__READY);
	ipc_frame_free(in);

	/* Batched: queued until the loop runs, then written. */
	assert_int_equal(send_kind(&p->a.ch,
	    OCB__IPC__CONTROL__KIND__RESTART_NETPROC), 0);
	assert_true(buf_used(&p->a.ch.out) > 0);
	for (int i = 0; i < 100 && buf_used(&p->a.ch.out) > 0; i++)
		event_base_loop(p->base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
	assert_int_equal(buf_used(&p->a.ch.out), 0);
	assert_true(ipc_read(&p->b.ch.in, p->b.ch.fd) > 0);
	assert_int_equal(ipc_reader_next(&p->b.ch.in, &in), IPC_FRAME);
	assert_int_equal(in->control->kind,
	    OCB__IPC__CONTROL__KIND__RESTART_NETPROC);
	ipc_frame_free(in);

	/* Once the loop has written, the next send is written at once again. */
	assert_int_equal(send_kind(&p->a.ch,
	    OCB__IPC__CONTROL__KIND__NETPROC_FD), 0);
	assert_int_equal(buf_used(&p->a.ch.out), 0);
	assert_int_equal(p->a.closed, 0);
}

/* A write that fails inside chan_send is reported by the loop, never under
 * the caller (who may free the channel from closed). */
static void
test_write_now_fails_later(void **state)
{
	struct pair *p = *state;

	signal(SIGPIPE, SIG_IGN);	/* as the three processes do */
	p->a.free_on_close = 1;
	start(p, &cb_lost, NULL);
	chan_free(&p->b.ch);
	assert_int_equal(send_kind(&p->a.ch, OCB__IPC__CONTROL__KIND__READY), 0);
	assert_int_equal(p->a.closed, 0);
	assert_int_not_equal(p->a.ch.fd, -1);
	run_until_int(p, &p->a.closed, 1);
	assert_int_equal(p->a.closed, 1);
	assert_int_equal(p->a.ch.fd, -1);
}

/* Fails every allocation while armed; otherwise malloc(3). */
static int fail_armed;

static void *
fail_alloc(void *data, size_t size)
{
	return fail_armed ? NULL : malloc(size);
}

static void
fail_free(void *data, void *ptr)
{
	free(ptr);
}

static ProtobufCAllocator failing = { fail_alloc, fail_free, NULL };

/*
 * b started with cb; a sends it a frame that does not decode for lack of
 * memory, then a good one.
 */
static void
lost_then_good(struct pair *p, const struct chan_cb *cb)
{
	struct side *s = &p->b;

	start(p, NULL, cb);
	fail_armed = 1;
	s->ch.in.alloc = &failing;
	assert_int_equal(send_kind(&p->a.ch,
	    OCB__IPC__CONTROL__KIND__RESTART_NETPROC), 0);
	assert_int_equal(chan_flush_blocking(&p->a.ch), 0);
	for (int i = 0; i < 10000 && s->nlost == 0 && s->closed == 0; i++)
		event_base_loop(p->base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
	fail_armed = 0;
	assert_int_equal(send_kind(&p->a.ch, OCB__IPC__CONTROL__KIND__READY), 0);
	assert_int_equal(chan_flush_blocking(&p->a.ch), 0);
	for (int i = 0; i < 1000 && s->nframes == 0 && s->closed == 0; i++)
		event_base_loop(p->base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
}

static void
test_lost(void **state)
{
	struct pair *p = *state;

	lost_then_good(p, &cb_lost);
	assert_int_equal(p->b.nlost, 1);
	assert_int_equal(p->b.lost[0].body_case, OCB__IPC__FRAME__BODY_CONTROL);
	assert_int_equal(p->b.lost[0].control_kind,
	    OCB__IPC__CONTROL__KIND__RESTART_NETPROC);
	assert_int_equal(p->b.nframes, 1);
	assert_int_equal(p->b.kinds[0], OCB__IPC__CONTROL__KIND__READY);
	assert_int_equal(p->b.closed, 0);
}

static void
test_lost_without_callback(void **state)
{
	struct pair *p = *state;

	lost_then_good(p, &cb_nolost);
	/* Without the callback the frame cannot be given up: b ends. */
	assert_bad_then_deaf(p, "out of memory decoding a frame", 0);
	assert_int_equal(p->b.nlost, 0);
}

static void
test_fail(void **state)
{
	struct pair *p = *state;

	start(p, NULL, &cb_lost);
	chan_fail(&p->b.ch, "unexpected frame");
	assert_bad_then_deaf(p, "unexpected frame", 0);
}

/* Start-up: blocking reads and writes, a descriptor with its frame, and
 * frames read with the first one are handed out by chan_dispatch. */
static void
test_blocking(void **state)
{
	struct pair *p = *state;
	Ocb__Ipc__Frame fr = OCB__IPC__FRAME__INIT, *in;
	Ocb__Ipc__Control ctl = OCB__IPC__CONTROL__INIT;
	int pp[2], got;
	char c = 0;

	assert_int_equal(pipe(pp), 0);
	ctl.kind = OCB__IPC__CONTROL__KIND__LISTENER_FD;
	fr.body_case = OCB__IPC__FRAME__BODY_CONTROL;
	fr.control = &ctl;
	assert_int_equal(chan_send_fds(&p->a.ch, &fr, &pp[1], 1), 0);
	close(pp[1]);
	ctl.kind = OCB__IPC__CONTROL__KIND__READY;
	assert_int_equal(chan_send_blocking(&p->a.ch, &fr), 0);
	assert_int_equal(chan_read_blocking(&p->b.ch, &in), 0);
	assert_int_equal(in->control->kind, OCB__IPC__CONTROL__KIND__LISTENER_FD);
	ipc_frame_free(in);
	assert_true((got = chan_take_fd(&p->b.ch)) != -1);
	assert_int_equal(chan_take_fd(&p->b.ch), -1);
	assert_int_equal(write(got, "x", 1), 1);
	assert_int_equal(read(pp[0], &c, 1), 1);
	assert_int_equal(c, 'x');
	close(got);
	close(pp[0]);
	/* The READY may have come in the same read. */
	start(p, NULL, &cb_lost);
	chan_dispatch(&p->b.ch);
	run_until(p, &p->b.nframes, 1);
	assert_int_equal(p->b.kinds[0], OCB__IPC__CONTROL__KIND__READY);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_both_ways, setup, teardown),
		cmocka_unit_test_setup_teardown(test_many, setup, teardown),
		cmocka_unit_test_setup_teardown(test_drained, setup, teardown),
		cmocka_unit_test_setup_teardown(test_peer_closes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_free_on_close, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_oversized, setup, teardown),
		cmocka_unit_test_setup_teardown(test_outq_cap, setup, teardown),
		cmocka_unit_test_setup_teardown(test_write_now, setup, teardown),
		cmocka_unit_test_setup_teardown(test_write_now_fails_later, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_lost, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lost_without_callback,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_fail, setup, teardown),
		cmocka_unit_test_setup_teardown(test_blocking, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
