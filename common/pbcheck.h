/*
 * Copyright (c) 2026 The ocbroker authors
 * SPDX-License-Identifier: ISC (the licence is in the file LICENSE)
 */

/*
 * Checks every string field of an encoded protobuf message, at any depth,
 * on the wire bytes: protobuf-c unpacks a string into a NUL-terminated C
 * string, so "ses_a\0b" would be read as "ses_a" by everything after the
 * decoder, and it does not check UTF-8 at all.  Pure: no I/O, no
 * allocation, no recursion.  The same walk tells a message that does not
 * decode from a decode that ran out of memory (pbcheck_wire, pbpeek).
 */
#ifndef OCB_PBCHECK_H
#define OCB_PBCHECK_H

#include <stddef.h>
#include <stdint.h>

#include <protobuf-c/protobuf-c.h>

#define PBCHECK_MAX_DEPTH	32	/* nested messages; deeper is refused */

enum pbcheck_result {
	PBCHECK_OK = 0,
	PBCHECK_NUL,		/* a string field holds a NUL byte */
	PBCHECK_UTF8,		/* a string field is not valid UTF-8 */
	PBCHECK_MALFORMED	/* not a message of that type, or too deep */
};

/*
 * Walks data[0..len) as a message of type desc.  Fields the descriptor does
 * not know are skipped (a newer client's), as protobuf-c does.
 */
enum pbcheck_result pbcheck_strings(const ProtobufCMessageDescriptor *,
		    const uint8_t *, size_t);

/* The same walk without the string checks: PBCHECK_OK when the bytes are a
 * well-formed message of that type as far as the wire goes. */
enum pbcheck_result pbcheck_wire(const ProtobufCMessageDescriptor *,
		    const uint8_t *, size_t);

/*
 * Peeks at one top-level field of an encoded message without decoding it:
 * when a decode failed for lack of memory, the ids it carried are still
 * wanted for the answer.  wiretype 0: a varint into *value; 2: a
 * length-delimited field into *sub and *sublen (the bytes stay in data).
 * The last occurrence wins, as in a decode.  Returns 1 when found, 0 when
 * absent, -1 when the bytes are not a message.  Pure, like the walk.
 */
int		 pbpeek(const uint8_t *, size_t, uint32_t field,
		    unsigned wiretype, uint64_t *value, const uint8_t **sub,
		    size_t *sublen);

/* "a string field contains a NUL byte", ... */
const char	*pbcheck_why(enum pbcheck_result);

#endif /* OCB_PBCHECK_H */
