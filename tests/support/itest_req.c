/*
 * Copyright (c) 2026 The ocbroker authors
 * SPDX-License-Identifier: ISC (the licence is in the file LICENSE)
 */

/*
 * Requests from a payload case and a body (see itest_req.h).
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "tests/support/itest.h"
#include "tests/support/itest_req.h"

/* The oneof member for pc: a message field, or the test fails. */
static const ProtobufCFieldDescriptor *
member(Opencode__ClientMessage__PayloadCase pc)
{
	const ProtobufCFieldDescriptor *f;

	f = protobuf_c_message_descriptor_get_field(
	    &opencode__client_message__descriptor, (unsigned)pc);
	if (f == NULL || f->type != PROTOBUF_C_TYPE_MESSAGE)
		fail_msg("payload case %d is not a request", (int)pc);
	return f;
}

void
it_request_init(Opencode__ClientMessage *cm, uint64_t id,
    Opencode__ClientMessage__PayloadCase pc, void *body)
{
	const ProtobufCFieldDescriptor *f = member(pc);

	if (((ProtobufCMessage *)body)->descriptor != f->descriptor)
		fail_msg("payload case %d: a body of another type", (int)pc);
	opencode__client_message__init(cm);
	cm->request_id = id;
	cm->payload_case = pc;
	memcpy((char *)cm + f->offset, &body, sizeof(body));
}

Opencode__ServerMessage *
it_request(struct wsc *w, uint64_t id, Opencode__ClientMessage__PayloadCase pc,
    void *body, int timeout_ms)
{
	Opencode__ClientMessage cm;

	it_request_init(&cm, id, pc, body);
	return it_call(w, &cm, timeout_ms);
}

Opencode__ServerMessage *
it_request_empty(struct wsc *w, uint64_t id,
    Opencode__ClientMessage__PayloadCase pc, int timeout_ms)
{
	const ProtobufCMessageDescriptor *d = member(pc)->descriptor;
	Opencode__ServerMessage *m;
	void *body;

	if ((body = calloc(1, d->sizeof_message)) == NULL)
		fail_msg("out of memory");
	protobuf_c_message_init(d, body);
	m = it_request(w, id, pc, body, timeout_ms);
	free(body);
	return m;
}
