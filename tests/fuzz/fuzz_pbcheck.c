/*
 * Copyright (c) 2026 The ocbroker authors
 * SPDX-License-Identifier: ISC (the licence is in the file LICENSE)
 */

/*
 * libFuzzer target: arbitrary bytes as a ClientMessage into pbcheck_strings,
 * checked against protobuf-c's own decoder: whatever protobuf-c decodes,
 * pbcheck must walk (never MALFORMED), and when pbcheck says OK every
 * string protobuf-c decoded must be valid UTF-8.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/pbcheck.h"
#include "common/utf8.h"
#include "proto/messages.pb-c.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* Every string field of m and of the messages below it, without recursion
 * deeper than the generated types go (a ClientMessage nests 4 levels). */
static void
check_strings(const ProtobufCMessage *m, int depth)
{
	const ProtobufCMessageDescriptor	*d = m->descriptor;
	const ProtobufCFieldDescriptor		*f;
	const char				*base = (const char *)m;
	unsigned				 i;
	size_t					 k, n;

	if (depth > PBCHECK_MAX_DEPTH)
		abort();
	for (i = 0; i < d->n_fields; i++) {
		f = &d->fields[i];
		if (f->label == PROTOBUF_C_LABEL_REPEATED) {
			n = *(const size_t *)(base + f->quantifier_offset);
			for (k = 0; k < n; k++) {
				const void *el = (*(void *const *)(base +
				    f->offset));
				if (f->type == PROTOBUF_C_TYPE_STRING) {
					const char *s = ((char *const *)el)[k];
					if (!utf8_valid((const uint8_t *)s,
					    strlen(s)))
						abort();
				} else if (f->type == PROTOBUF_C_TYPE_MESSAGE)
					check_strings(((ProtobufCMessage *const *)
					    el)[k], depth + 1);
			}
			continue;
		}
		if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF &&
		    *(const uint32_t *)(base + f->quantifier_offset) != f->id)
			continue;
		if (f->type == PROTOBUF_C_TYPE_STRING) {
			const char *s = *(char *const *)(base + f->offset);
			if (s != NULL && !utf8_valid((const uint8_t *)s,
			    strlen(s)))
				abort();
		} else if (f->type == PROTOBUF_C_TYPE_MESSAGE) {
			const ProtobufCMessage *sub =
			    *(ProtobufCMessage *const *)(base + f->offset);
			if (sub != NULL)
				check_strings(sub, depth + 1);
		}
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	Opencode__ClientMessage	*m;
	enum pbcheck_result	 r;

	r = pbcheck_strings(&opencode__client_message__descriptor, data, size);
	m = opencode__client_message__unpack(NULL, size, data);
	if (m != NULL) {
		if (r == PBCHECK_MALFORMED)
			abort();
		if (r == PBCHECK_OK)
			check_strings(&m->base, 0);
		opencode__client_message__free_unpacked(m, NULL);
	}
	return 0;
}
