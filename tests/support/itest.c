/*
 * Copyright (c) 2026 The ocbroker authors
 * SPDX-License-Identifier: ISC (the licence is in the file LICENSE)
 */

/*
 * The cmocka glue of the integration tests (see itest.h).
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "tests/support/itest.h"
#include "tests/support/itest_req.h"

int
it_setup_env(void **state, const struct it_opts *o)
{
	struct it_env *e;

	if ((e = calloc(1, sizeof(*e))) == NULL)
		return -1;
	*state = e;
	if (o != NULL && it_start(e, o) == -1)
		return -1;
	return 0;
}

int
it_setup_default(void **state)
{
	static const struct it_opts o;

	return it_setup_env(state, &o);
}

int
it_setup_none(void **state)
{
	return it_setup_env(state, NULL);
}

int
it_setup_args(void **state, const char *const *args)
{
	struct it_opts o;

	memset(&o, 0, sizeof(o));
	o.ocb_args = args;
	return it_setup_env(state, &o);
}

int
it_setup_argv(void **state)
{
	return it_setup_args(state, *state);
}

int
it_stop_running(void **state)
{
	struct it_env *e = *state;

	if (e->running)
		it_stop(e, T_EXIT, NULL);
	return 0;
}

int
it_teardown(void **state)
{
	struct it_env *e = *state;
	int st, extra, bad = 0;

	if (e == NULL)
		return 0;
	if (e->running) {
		st = it_stop(e, T_EXIT, &extra);
		if (st == -1 || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
			fprintf(stderr, "teardown: ocbroker did not exit 0 on "
			    "SIGTERM (wait status %d, log %s)\n", st,
			    e->ocb_log);
			bad = 1;
		}
		if (extra) {
			fprintf(stderr, "teardown: ocbroker wrote to stdout "
			    "after its ready line\n");
			bad = 1;
		}
	}
	free(e);
	*state = NULL;
	return bad ? -1 : 0;
}

void
it_start_or_fail(struct it_env *e, const struct it_opts *o)
{
	if (it_start(e, o) == -1)
		fail_msg("could not start ocbroker/fake_upstream");
}

void
it_start_streaming(struct it_env *e, const struct it_opts *o, int timeout_ms)
{
	static const struct it_opts defaults;

	it_start_or_fail(e, o != NULL ? o : &defaults);
	if (it_fake_wait_streams(e, 1, timeout_ms) == -1)
		fail_msg("ocbroker never subscribed to /event");
}

void
it_client(const struct it_env *e, struct wsc *w)
{
	int r;

	if (wsc_open(w, e->port, T_IO) == -1)
		fail_msg("WebSocket opening handshake to port %u failed",
		    (unsigned)e->port);
	if ((r = wsc_auth(w, e->token, 1, T_IO)) != 1)
		fail_msg("auth with the ready line's token: %d", r);
}

int
it_run_group(const char *name, const struct CMUnitTest *tests, size_t n,
    void (*done)(void))
{
	const char *filter;
	int failed;

	/* A peer that closes first must not kill the test with SIGPIPE. */
	signal(SIGPIPE, SIG_IGN);
	if ((filter = getenv("OCB_IT_FILTER")) != NULL && *filter != '\0')
		cmocka_set_test_filter(filter);
	failed = _cmocka_run_group_tests(name, tests, n, NULL, NULL);
	if (done != NULL)
		done();
	if (failed == 0) {
		it_logdir_remove();
		return 0;
	}
	fprintf(stderr, "%s: logs kept in %s\n", name, it_logdir());
	fflush(NULL);
	_exit(1);
}

const char *
it_describe(const Opencode__ServerMessage *m)
{
	static char buf[512];

	if (m == NULL)
		return "no message";
	switch (m->payload_case) {
	case SMP(_NOT_SET):
		snprintf(buf, sizeof(buf), "empty reply (request_id %llu)",
		    (unsigned long long)m->request_id);
		break;
	case SMP(ERROR):
		snprintf(buf, sizeof(buf), "error %s \"%s\" (request_id %llu)",
		    m->error->code, m->error->message,
		    (unsigned long long)m->request_id);
		break;
	default:
		snprintf(buf, sizeof(buf), "payload %d (request_id %llu)",
		    (int)m->payload_case, (unsigned long long)m->request_id);
	}
	return buf;
}

Opencode__ServerMessage *
it_call(struct wsc *w, Opencode__ClientMessage *cm, int timeout_ms)
{
	if (wsc_send_msg(w, cm, T_IO) == -1)
		fail_msg("send failed");
	return wsc_recv_reply(w, cm->request_id, timeout_ms);
}

int
it_send_str(struct wsc *w, uint64_t id,
    Opencode__ClientMessage__PayloadCase c, const char *s, int timeout_ms)
{
	Opencode__ClientMessage cm;
	const ProtobufCFieldDescriptor *f;
	const ProtobufCMessageDescriptor *d = NULL;
	union {
		ProtobufCMessage	base;
		uint64_t		space[16];
	} sub;

	/* A oneof case is its field's number. */
	f = protobuf_c_message_descriptor_get_field(
	    &opencode__client_message__descriptor, (unsigned)c);
	if (f != NULL && f->type == PROTOBUF_C_TYPE_MESSAGE)
		d = f->descriptor;
	if (d == NULL || d->sizeof_message > sizeof(sub) ||
	    (s == NULL && d->n_fields != 0) ||
	    (s != NULL && (d->n_fields == 0 || d->fields[0].id != 1 ||
	    d->fields[0].type != PROTOBUF_C_TYPE_STRING ||
	    d->fields[0].label == PROTOBUF_C_LABEL_REPEATED)))
		fail_msg("payload case %d is not a request %s", (int)c,
		    s == NULL ? "without fields" : "with a string field 1");
	protobuf_c_message_init(d, &sub);
	/* Where protobuf-c keeps the field, as its packer finds it. */
	if (s != NULL)
		*(const char **)(void *)((char *)&sub + d->fields[0].offset) = s;
	it_request_init(&cm, id, c, &sub);
	return wsc_send_msg(w, &cm, timeout_ms);
}

int
it_send_empty(struct wsc *w, uint64_t id,
    Opencode__ClientMessage__PayloadCase c, int timeout_ms)
{
	return it_send_str(w, id, c, NULL, timeout_ms);
}

void
it_health(struct wsc *w, uint64_t id, int timeout_ms)
{
	Opencode__ServerMessage *m;

	m = it_request_empty(w, id, CMP(HEALTH_CHECK), timeout_ms);
	it_expect_case(m, id, SMP(UPSTREAM_HEALTH), "HealthCheck");
	wsc_msg_free(m);
}

int
it_send_list(struct wsc *w, uint64_t id, int timeout_ms)
{
	return it_send_empty(w, id, CMP(LIST_SESSIONS), timeout_ms);
}

void
it_send_command(struct wsc *w, uint64_t id, const char *sid,
    const char *command, int timeout_ms)
{
	Opencode__ClientMessage cm = OPENCODE__CLIENT_MESSAGE__INIT;
	Opencode__RunCommand rc = OPENCODE__RUN_COMMAND__INIT;

	rc.session_id = (char *)sid;
	rc.command = (char *)command;
	rc.arguments = "";
	cm.request_id = id;
	cm.payload_case = CMP(RUN_COMMAND);
	cm.run_command = &rc;
	if (wsc_send_msg(w, &cm, timeout_ms) == -1)
		fail_msg("send failed");
}

Opencode__ServerMessage *
it_next_reply(struct wsc *w, int timeout_ms)
{
	Opencode__ServerMessage *m;
	int64_t deadline = it_now_ms() + timeout_ms;

	for (;;) {
		if ((m = wsc_recv_msg(w, NULL, it_left_ms(deadline))) == NULL)
			return NULL;
		if (m->request_id != 0)
			return m;
		wsc_msg_free(m);
	}
}

void
it_expect_error(const Opencode__ServerMessage *m, uint64_t id,
    const char *code, const char *what)
{
	if (what == NULL)
		what = "reply";
	if (m == NULL)
		fail_msg("%s: expected error %s for request %llu, got no reply",
		    what, code, (unsigned long long)id);
	if (m->payload_case != SMP(ERROR) ||
	    strcmp(m->error->code, code) != 0)
		fail_msg("%s: expected error %s, got %s", what, code,
		    it_describe(m));
	assert_int_equal(m->request_id, id);
}

void
it_expect_case(const Opencode__ServerMessage *m, uint64_t id,
    Opencode__ServerMessage__PayloadCase c, const char *what)
{
	if (what == NULL)
		what = "reply";
	if (m == NULL)
		fail_msg("%s: expected payload %d for request %llu, got no "
		    "reply", what, (int)c, (unsigned long long)id);
	if (m->payload_case != c)
		fail_msg("%s: expected payload %d, got %s", what, (int)c,
		    it_describe(m));
	assert_int_equal(m->request_id, id);
}
