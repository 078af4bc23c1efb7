/*
 * Copyright (c) 2026 The ocbroker authors
 * SPDX-License-Identifier: ISC (the licence is in the file LICENSE)
 */

/*
 * The front's memory is bounded per connection (doc/design.md, "The send
 * queue is bounded"; issue 11, items 1 and 2), tested on the real ocbroker binary against
 * tests/fake_upstream:
 * - clients that ping as fast as they can and never read, before and after
 *   auth, ten at once, grow the front's resident set by less than 32 MiB,
 *   and another client's requests are answered meanwhile and after;
 * - before auth, a message over 1 KiB, or one whose first field is not the
 *   auth handshake, is refused with 1008 and costs the front nothing like
 *   its size.
 * The floods are a fixed number of bytes, not a time: the front's peak
 * resident set (VmHWM, reset through clear_refs first) is what is compared.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <sys/socket.h>
#include <netinet/in.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>

#include "broker/auth.h"

#include "tests/support/itest.h"

#define MIB		(1024 * 1024)
#define FLOODERS	10
#define FLOOD_BYTES	(12 * MIB)	/* pings each flooder sends */
#define FLOOD_ROUND	(256 * 1024)	/* per flooder between two requests */
#define FLOOD_STALLS	50		/* 100 ms polls with no progress: stop */
#define DRAIN_POLLS	200		/* 50 ms polls for the front to read all */
#define GROWTH_MAX	(32L * 1024)	/* kB the flood may add to the front */
#define PINGS_PER_BUF	512

static const uint8_t MASK[4] = { 0x37, 0xfa, 0x21, 0x3d };

/* ---- the front's process ---- */

/*
 * The front's memory from now on: VmHWM is reset to the current resident set
 * ("5" to clear_refs), so that a later VmHWM is the peak since this call.
 * Samples taken with peak_sample() count too, should the reset be refused.
 */
struct peak {
	pid_t	pid;
	long	base;		/* kB resident at the start */
	long	max;		/* kB, the largest sample */
};

static void
peak_start(struct peak *pk, pid_t pid)
{
	char path[64];
	int fd;

	pk->pid = pid;
	snprintf(path, sizeof(path), "/proc/%ld/clear_refs", (long)pid);
	if ((fd = open(path, O_WRONLY)) != -1) {
		if (write(fd, "5", 1) != 1)
			fprintf(stderr, "clear_refs: %s\n", strerror(errno));
		close(fd);
	}
	pk->base = procfs_status(pid, "VmRSS");
	assert_true(pk->base > 0);
	pk->max = pk->base;
}

static void
peak_sample(struct peak *pk)
{
	long v = procfs_status(pk->pid, "VmRSS");

	if (v > pk->max)
		pk->max = v;
}

/* kB the front grew by at its peak since peak_start. */
static long
peak_growth(struct peak *pk)
{
	long hwm = procfs_status(pk->pid, "VmHWM");

	peak_sample(pk);
	if (hwm > pk->max)
		pk->max = hwm;
	return pk->max - pk->base;
}

/*
 * The send and receive queues of the TCP connection from lport to rport (both
 * on 127.0.0.1), from /proc/net/tcp; 0, or -1 when it is not listed.
 */
static int
tcp_queues(uint16_t lport, uint16_t rport, unsigned long *tx,
    unsigned long *rx)
{
	char line[512];
	FILE *fp;
	int found = -1;

	if ((fp = fopen("/proc/net/tcp", "r")) == NULL)
		return -1;
	while (found == -1 && fgets(line, sizeof(line), fp) != NULL) {
		unsigned int la, lp, ra, rp, st;

		if (sscanf(line, " %*u: %x:%x %x:%x %x %lx:%lx", &la, &lp, &ra,
		    &rp, &st, tx, rx) == 7 && lp == lport && rp == rport)
			found = 0;
	}
	fclose(fp);
	return found;
}

static uint16_t
local_port(int fd)
{
	struct sockaddr_in sin;
	socklen_t sl = sizeof(sin);

	assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &sl), 0);
	return ntohs(sin.sin_port);
}

/* ---- clients ---- */

static void
open_authed(struct it_env *e, struct wsc *w, uint64_t rid)
{
	assert_int_equal(wsc_open(w, e->port, T_IO), 0);
	assert_int_equal(wsc_auth(w, e->token, rid, T_IO), 1);
}

static void
expect_sessions(struct wsc *w, uint64_t rid)
{
	Opencode__ServerMessage *m = wsc_recv_reply(w, rid, T_REPLY);

	if (m == NULL)
		fail_msg("request %llu got no reply", (unsigned long long)rid);
	assert_int_equal(m->payload_case, SMP(SESSION_LIST));
	wsc_msg_free(m);
}

/* PINGS_PER_BUF masked pings of 125 bytes: whole frames, sent in a cycle. */
static uint8_t *
ping_buffer(size_t *len)
{
	size_t one = 6 + WS_MAX_CONTROL, off = 0;
	uint8_t *b = malloc(one * PINGS_PER_BUF);

	assert_non_null(b);
	for (size_t i = 0; i < PINGS_PER_BUF; i++) {
		uint8_t *pl;
		size_t h = ws_frame_header(b + off, WS_OP_PING, WS_MAX_CONTROL,
		    MASK);

		pl = b + off + h;
		memset(pl, 'a' + (int)(i % 26), WS_MAX_CONTROL);
		memcpy(pl, &i, sizeof(i));
		ws_mask(pl, WS_MAX_CONTROL, MASK, 0);
		off += h + WS_MAX_CONTROL;
	}
	*len = off;
	return b;
}

struct flooder {
	struct wsc	w;
	size_t		sent;
	int		done;
};

/* Writes pings without blocking until the socket is full or quota is sent. */
static void
flood_some(struct flooder *fl, const uint8_t *pings, size_t plen,
    size_t quota, int *progress)
{
	/* Whole frames only: the flooders' last ping must be complete. */
	size_t limit = FLOOD_BYTES / plen * plen, goal = fl->sent + quota;

	if (goal > limit)
		goal = limit;
	while (!fl->done && fl->sent < goal) {
		size_t off = fl->sent % plen, n = plen - off;
		ssize_t r;

		if (n > goal - fl->sent)
			n = goal - fl->sent;
		r = send(fl->w.fd, pings + off, n, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (r > 0) {
			fl->sent += (size_t)r;
			*progress = 1;
		} else if (r == -1 && errno == EINTR)
			continue;
		else if (r == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		else
			fl->done = 1;	/* the front closed it */
	}
	if (fl->sent >= limit)
		fl->done = 1;
}

/*
 * Waits until the front has read every byte the flooders sent: nothing in
 * flight from a flooder, nothing unread on the front's side.  0 or -1.
 */
static int
wait_drained(struct it_env *e, struct flooder *fl)
{
	for (int t = 0; t < DRAIN_POLLS; t++) {
		int busy = 0;

		for (int i = 0; i < FLOODERS; i++) {
			uint16_t me = local_port(fl[i].w.fd);
			unsigned long tx, rx, tx2, rx2;

			if (tcp_queues(me, e->port, &tx, &rx) == -1 ||
			    tcp_queues(e->port, me, &tx2, &rx2) == -1)
				continue;	/* closed by the front */
			busy += tx > 0 || rx2 > 0;
		}
		if (busy == 0)
			return 0;
		poll(NULL, 0, 50);
	}
	return -1;
}

/*
 * Ten clients ping without reading, a fixed number of bytes each, while
 * another client's requests go back and forth; returns the front's growth
 * in kB and the bytes sent in all.
 */
static long
flood(struct it_env *e, struct flooder *fl, struct wsc *good, size_t *total)
{
	struct peak pk;
	struct pollfd pfd[FLOODERS];
	uint8_t *pings;
	size_t plen;
	uint64_t rid = 100;
	int stalls = 0, left;
	pid_t front = procfs_role_pid(e->ocb_pid, "front");

	assert_true(front > 0);
	pings = ping_buffer(&plen);
	peak_start(&pk, front);
	for (;;) {
		int progress = 0, n = 0;

		/* A request in flight while the front is flooded. */
		assert_int_equal(it_send_list(good, ++rid, T_IO), 0);
		left = 0;
		for (int i = 0; i < FLOODERS; i++) {
			flood_some(&fl[i], pings, plen, FLOOD_ROUND, &progress);
			left += !fl[i].done;
		}
		expect_sessions(good, rid);
		peak_sample(&pk);
		if (left == 0)
			break;
		if (progress) {
			stalls = 0;
			continue;
		}
		/* Every socket is full: wait a little for the front to read. */
		for (int i = 0; i < FLOODERS; i++)
			if (!fl[i].done) {
				pfd[n].fd = fl[i].w.fd;
				pfd[n].events = POLLOUT;
				n++;
			}
		if (poll(pfd, (nfds_t)n, 100) == 0 && ++stalls == FLOOD_STALLS)
			break;
	}
	free(pings);
	/* The growth counts once the front has read it all. */
	assert_int_equal(wait_drained(e, fl), 0);
	*total = 0;
	for (int i = 0; i < FLOODERS; i++)
		*total += fl[i].sent;
	return peak_growth(&pk);
}

/* ---- fixtures ---- */

/* ocbroker's arguments for test_preauth_big_subscribe (it_setup_argv). */
static const char *big_args[] = { "--max-message", "8388608", NULL };

/* ---- tests ---- */

/* The pre-auth check on the wire bytes, without the binary. */
static void
test_first_field(void **state)
{
	static const uint8_t hs[] = { 0x52, 0x02, 0x0a, 0x00 };
	static const uint8_t rid_hs[] = { 0x08, 0xac, 0x02, 0x52, 0x00 };
	static const uint8_t rid_only[] = { 0x08, 0x07 };
	static const uint8_t sub[] = { 0x08, 0x07, 0x82, 0x05, 0x00 };
	static const uint8_t hs_late[] = { 0x82, 0x05, 0x00, 0x52, 0x00 };
	static const uint8_t open_varint[] = { 0x08, 0x80, 0x80 };
	uint8_t long_varint[16], big[AUTH_MAX_MESSAGE + 1];
	uint64_t rid;

	(void)state;
	assert_int_equal(auth_first_field(hs, sizeof(hs), &rid), 0);
	assert_int_equal(rid, 0);
	assert_int_equal(auth_first_field(rid_hs, sizeof(rid_hs), &rid), 0);
	assert_int_equal(rid, 300);
	assert_int_equal(auth_first_field(rid_only, sizeof(rid_only), &rid), -1);
	assert_int_equal(rid, 7);
	assert_int_equal(auth_first_field(sub, sizeof(sub), &rid), -1);
	assert_int_equal(rid, 7);
	assert_int_equal(auth_first_field(hs_late, sizeof(hs_late), &rid), -1);
	assert_int_equal(auth_first_field(open_varint, sizeof(open_varint),
	    &rid), -1);
	assert_int_equal(auth_first_field(hs, 0, &rid), -1);
	/* A varint of 11 bytes is not one. */
	long_varint[0] = 0x08;
	memset(long_varint + 1, 0x80, 10);
	long_varint[11] = 0x01;
	long_varint[12] = 0x52;
	long_varint[13] = 0x00;
	assert_int_equal(auth_first_field(long_varint, 14, &rid), -1);
	/* Over the limit, even when it starts right. */
	memset(big, 0, sizeof(big));
	big[0] = 0x52;
	assert_int_equal(auth_first_field(big, sizeof(big), &rid), -1);
	assert_int_equal(auth_first_field(big, sizeof(big) - 1, &rid), 0);
}

static void
ping_flood(struct it_env *e, int authed)
{
	struct flooder fl[FLOODERS];
	struct wsc good;
	struct wsc_frame f;
	size_t total;
	long growth;
	int got = 0;

	memset(fl, 0, sizeof(fl));
	memset(&good, 0, sizeof(good));
	open_authed(e, &good, 1);
	for (int i = 0; i < FLOODERS; i++) {
		if (authed)
			open_authed(e, &fl[i].w, 1);
		else
			assert_int_equal(wsc_open(&fl[i].w, e->port, T_IO), 0);
	}
	growth = flood(e, fl, &good, &total);
	fprintf(stderr, "%s flood: %zu bytes of pings, front grew %ld kB\n",
	    authed ? "authenticated" : "unauthenticated", total, growth);
	/* Enough was sent for unbounded pongs to show twice over. */
	assert_true(total >= 2 * (size_t)GROWTH_MAX * 1024);
	assert_true(growth < GROWTH_MAX);
	/* Answered after, too. */
	assert_int_equal(it_send_list(&good, 9000, T_IO), 0);
	expect_sessions(&good, 9000);

	if (authed) {
		/* The newest ping is answered once the flooder reads. */
		assert_int_equal(wsc_send_ping(&fl[0].w, "newest", 6, T_IO), 0);
		while (!got) {
			enum wsc_kind k = wsc_recv(&fl[0].w, &f, T_IO);

			if (k != WSC_PONG && k != WSC_MESSAGE)
				fail_msg("no pong for the newest ping (got %d)",
				    (int)k);
			got = k == WSC_PONG && f.len == 6 &&
			    memcmp(f.data, "newest", 6) == 0;
			wsc_frame_free(&f);
		}
	}
	for (int i = 0; i < FLOODERS; i++)
		wsc_close(&fl[i].w);
	wsc_close(&good);
}

static void
test_ping_flood_unauthenticated(void **state)
{
	ping_flood(*state, 0);
}

static void
test_ping_flood_authenticated(void **state)
{
	ping_flood(*state, 1);
}

/* cm packed into a malloc'd buffer extra bytes longer; *len: its size. */
static uint8_t *
pack(const Opencode__ClientMessage *cm, size_t extra, size_t *len)
{
	uint8_t *p;

	*len = opencode__client_message__get_packed_size(cm);
	assert_non_null(p = malloc(*len + extra));
	opencode__client_message__pack(cm, p);
	return p;
}

/* ClientMessage{request_id, auth_handshake{token}}, as pack() packs it. */
static uint8_t *
pack_handshake(const char *token, uint64_t rid, size_t extra, size_t *len)
{
	Opencode__ClientMessage cm = OPENCODE__CLIENT_MESSAGE__INIT;
	Opencode__AuthHandshake ah = OPENCODE__AUTH_HANDSHAKE__INIT;

	ah.token = (char *)token;
	cm.request_id = rid;
	cm.payload_case = CMP(AUTH_HANDSHAKE);
	cm.auth_handshake = &ah;
	return pack(&cm, extra, len);
}

/* A Subscribe to the n ids, as pack() packs it. */
static uint8_t *
pack_subscribe(uint64_t rid, char **ids, size_t n, size_t extra, size_t *len)
{
	Opencode__ClientMessage cm = OPENCODE__CLIENT_MESSAGE__INIT;
	Opencode__Subscribe sub = OPENCODE__SUBSCRIBE__INIT;

	sub.n_session_ids = n;
	sub.session_ids = ids;
	cm.request_id = rid;
	cm.payload_case = CMP(SUBSCRIBE);
	cm.subscribe = &sub;
	return pack(&cm, extra, len);
}

/* A right handshake padded over 1 KiB with an unknown field: 1008, no reply. */
static void
test_preauth_over_1k(void **state)
{
	struct it_env *e = *state;
	Opencode__ServerMessage *m;
	struct wsc w;
	uint8_t *msg;
	size_t len;

	memset(&w, 0, sizeof(w));
	msg = pack_handshake(e->token, 1, 2048 + 4, &len);
	/* Field 1000, length-delimited, 2048 bytes: ignored by a decoder. */
	msg[len++] = 0xc2;
	msg[len++] = 0x3e;
	msg[len++] = 0x80;
	msg[len++] = 0x10;
	memset(msg + len, 'x', 2048);
	len += 2048;
	assert_true(len > 2 * 1024);
	assert_int_equal(wsc_open(&w, e->port, T_IO), 0);
	assert_int_equal(wsc_send_binary(&w, msg, len, T_IO), 0);
	/* -1 would mean a reply came (the handshake was decoded). */
	assert_int_equal(wsc_wait_close(&w, T_IO), 1008);
	wsc_close(&w);

	/* The same handshake under 1 KiB is accepted. */
	free(msg);
	msg = pack_handshake(e->token, 1, 0, &len);
	assert_int_equal(wsc_open(&w, e->port, T_IO), 0);
	assert_int_equal(wsc_send_binary(&w, msg, len, T_IO), 0);
	m = wsc_recv_reply(&w, 1, T_IO);
	assert_non_null(m);
	assert_int_equal(m->payload_case, SMP(AUTH_HANDSHAKE_RESPONSE));
	assert_true(m->auth_handshake_response->success);
	wsc_msg_free(m);
	assert_int_equal(it_send_list(&w, 2, T_IO), 0);
	expect_sessions(&w, 2);
	wsc_close(&w);
	free(msg);
}

/*
 * A Subscribe first, then a right handshake in the same message (a decoder
 * keeps the last member of a oneof): refused from its first field, with
 * UNAUTHENTICATED carrying its request_id, then 1008.
 */
static void
test_preauth_first_field(void **state)
{
	struct it_env *e = *state;
	Opencode__ServerMessage *m;
	char *ids[1] = { (char *)"ses_abc" };
	uint8_t *msg, *hs;
	size_t len, hlen;
	struct wsc w;

	memset(&w, 0, sizeof(w));
	hs = pack_handshake(e->token, 0, 0, &hlen);
	msg = pack_subscribe(5, ids, 1, hlen, &len);
	memcpy(msg + len, hs, hlen);
	len += hlen;
	assert_true(len < AUTH_MAX_MESSAGE);

	assert_int_equal(wsc_open(&w, e->port, T_IO), 0);
	assert_int_equal(wsc_send_binary(&w, msg, len, T_IO), 0);
	m = wsc_recv_msg(&w, NULL, T_IO);
	assert_non_null(m);
	assert_int_equal(m->request_id, 5);
	assert_int_equal(m->payload_case, SMP(ERROR));
	assert_string_equal(m->error->code, "UNAUTHENTICATED");
	wsc_msg_free(m);
	assert_int_equal(wsc_wait_close(&w, T_IO), 1008);
	wsc_close(&w);
	free(msg);
	free(hs);
}

/*
 * A 4 MiB Subscribe of 120k session ids as the first message (the limit being
 * 8 MiB): 1008 from its header, and the front does not grow by its size.
 */
static void
test_preauth_big_subscribe(void **state)
{
	struct it_env *e = *state;
	const size_t nids = 120000;
	static const char id[] = "ses_0123456789abcdefghijklmn";
	struct peak pk;
	struct wsc w;
	char **ids;
	uint8_t *msg;
	size_t len;
	long growth;
	int code;

	memset(&w, 0, sizeof(w));
	assert_non_null(ids = calloc(nids, sizeof(char *)));
	for (size_t i = 0; i < nids; i++)
		ids[i] = (char *)id;
	msg = pack_subscribe(7, ids, nids, 0, &len);
	assert_true(len > 3 * MIB && len < 8 * MIB);

	assert_int_equal(wsc_open(&w, e->port, T_IO), 0);
	peak_start(&pk, procfs_role_pid(e->ocb_pid, "front"));
	/* The front may close before it is all sent. */
	(void)wsc_send_binary(&w, msg, len, T_IO);
	code = wsc_wait_close(&w, T_IO);
	growth = peak_growth(&pk);
	fprintf(stderr, "%zu-byte Subscribe: front grew %ld kB\n", len, growth);
	assert_true(growth < (long)(len / 1024 / 4));
	assert_int_equal(code, 1008);
	wsc_close(&w);
	free(msg);
	free(ids);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_first_field),
		cmocka_unit_test_setup_teardown(test_ping_flood_unauthenticated,
		    it_setup_default, it_teardown),
		cmocka_unit_test_setup_teardown(test_ping_flood_authenticated,
		    it_setup_default, it_teardown),
		cmocka_unit_test_setup_teardown(test_preauth_over_1k,
		    it_setup_default, it_teardown),
		cmocka_unit_test_setup_teardown(test_preauth_first_field,
		    it_setup_default, it_teardown),
		cmocka_unit_test_prestate_setup_teardown(
		    test_preauth_big_subscribe, it_setup_argv, it_teardown,
		    big_args),
	};

	return IT_RUN("front_memory", tests, NULL);
}
