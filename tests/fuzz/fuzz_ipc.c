/*
 * Copyright (c) 2026 The ocbroker authors
 * SPDX-License-Identifier: ISC (the licence is in the file LICENSE)
 */

/* libFuzzer target: arbitrary bytes from a peer into the IPC reader, fed in
 * chunks whose sizes come from the input, reading Replies and Events in place
 * for every other input; the input as one frame's body through
 * ipc_view_read, which must read it as protobuf-c does or leave it; and
 * the input as the ids, session id and server message of a Reply and an
 * Event, which ipc_put must write as protobuf-c does. */
#include "config.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "common/ipc.h"
#include "tests/support/ipc_put_check.h"
#include "tests/support/ipc_view_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ipc_reader r;
	Ocb__Ipc__Frame *f;
	size_t off = 0;

	if (ipc_view_check(data, size) == -1)
		abort();
	if (size >= 17) {
		uint64_t conn = 0, rid = 0;
		char sid[64];
		size_t i, n = data[16] % sizeof(sid);

		for (i = 0; i < 8; i++) {
			conn = conn << 8 | data[i];
			rid = rid << 8 | data[8 + i];
		}
		/* A string: its bytes up to a NUL. */
		for (i = 0; i < n && 17 + i < size && data[17 + i] != 0; i++)
			sid[i] = (char)data[17 + i];
		sid[i] = '\0';
		if (ipc_put_check(conn, rid, NULL, data + 17, size - 17) == -1 ||
		    ipc_put_check(0, 0, sid, data + 17, size - 17) == -1)
			abort();
	}
	ipc_reader_init(&r);
	r.views = size % 2;
	while (off < size) {
		size_t chunk = 1 + data[off] % 64;
		enum ipc_status st;

		if (chunk > size - off)
			chunk = size - off;
		ipc_reader_feed(&r, data + off, chunk);
		off += chunk;
		while ((st = ipc_reader_next(&r, &f)) == IPC_FRAME)
			if (!ipc_frame_is_view(&r, f))
				ipc_frame_free(f);
		if (st == IPC_BAD)
			break;
	}
	ipc_reader_free(&r);
	return 0;
}
