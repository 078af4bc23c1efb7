/*
 * Copyright (c) 2026 The ocbroker authors
 * SPDX-License-Identifier: ISC (the licence is in the file LICENSE)
 */

/* String fields of an encoded protobuf message, and peeking at one field;
 * see pbcheck.h. */
#include "config.h"

#include <string.h>

#include "common/pbcheck.h"
#include "common/utf8.h"

enum { WIRE_VARINT = 0, WIRE_64BIT = 1, WIRE_LEN = 2, WIRE_32BIT = 5 };

struct frame {
	const ProtobufCMessageDescriptor	*desc;
	size_t					 end;	/* offset just past this message */
};

/* A base-128 varint at data[*pos..end); -1 when it is cut or too long. */
static int
varint(const uint8_t *data, size_t end, size_t *pos, uint64_t *v)
{
	unsigned	shift;

	*v = 0;
	for (shift = 0; shift < 64; shift += 7) {
		if (*pos >= end)
			return -1;
		*v |= (uint64_t)(data[*pos] & 0x7f) << shift;
		if ((data[(*pos)++] & 0x80) == 0)
			return 0;
	}
	return -1;
}

/*
 * One field's key at data[*pos..end) and, after it, its varint value
 * (WIRE_VARINT) or the length of the bytes that follow, which must fit
 * before end (the others). -1 when it is cut or malformed: groups are not
 * proto3, and protobuf-c refuses them too.
 */
static int
field(const uint8_t *data, size_t end, size_t *pos, uint64_t *key,
    uint64_t *n)
{
	if (varint(data, end, pos, key) == -1)
		return -1;
	switch (*key & 7) {
	case WIRE_VARINT:
		return varint(data, end, pos, n);
	case WIRE_LEN:
		if (varint(data, end, pos, n) == -1)
			return -1;
		break;
	case WIRE_64BIT:
		*n = 8;
		break;
	case WIRE_32BIT:
		*n = 4;
		break;
	default:
		return -1;
	}
	return *n > end - *pos ? -1 : 0;
}

/* The walk; string fields are checked when strings is set. */
static enum pbcheck_result
walk(const ProtobufCMessageDescriptor *desc, const uint8_t *data, size_t len,
    int strings)
{
	struct frame				 stack[PBCHECK_MAX_DEPTH + 1];
	const ProtobufCFieldDescriptor		*fd;
	size_t					 depth = 0, pos = 0;
	uint64_t				 key, n;

	if (desc == NULL || (data == NULL && len > 0))
		return PBCHECK_MALFORMED;
	stack[0].desc = desc;
	stack[0].end = len;
	for (;;) {
		/* Leave every message that ends here. */
		while (pos == stack[depth].end) {
			if (depth == 0)
				return PBCHECK_OK;
			depth--;
		}
		/* Field 0 is not valid protobuf, but protobuf-c skips it as
		 * unknown: so do we (the fuzz target holds us to the decoder). */
		if (field(data, stack[depth].end, &pos, &key, &n) == -1 ||
		    (key >> 3) > UINT32_MAX)
			return PBCHECK_MALFORMED;
		if ((key & 7) == WIRE_VARINT)
			continue;
		fd = protobuf_c_message_descriptor_get_field(stack[depth].desc,
		    (unsigned)(key >> 3));
		if (fd != NULL && (key & 7) == WIRE_LEN) {
			if (fd->type == PROTOBUF_C_TYPE_STRING && strings) {
				if (memchr(data + pos, '\0', n) != NULL)
					return PBCHECK_NUL;
				if (!utf8_valid(data + pos, n))
					return PBCHECK_UTF8;
			} else if (fd->type == PROTOBUF_C_TYPE_MESSAGE) {
				if (depth == PBCHECK_MAX_DEPTH)
					return PBCHECK_MALFORMED;
				depth++;
				stack[depth].desc = fd->descriptor;
				stack[depth].end = pos + n;
				continue;
			}
		}
		pos += n;
	}
}

enum pbcheck_result
pbcheck_strings(const ProtobufCMessageDescriptor *desc, const uint8_t *data,
    size_t len)
{
	return walk(desc, data, len, 1);
}

enum pbcheck_result
pbcheck_wire(const ProtobufCMessageDescriptor *desc, const uint8_t *data,
    size_t len)
{
	return walk(desc, data, len, 0);
}

int
pbpeek(const uint8_t *data, size_t len, uint32_t number, unsigned wiretype,
    uint64_t *value, const uint8_t **sub, size_t *sublen)
{
	size_t pos = 0;
	uint64_t key, n;
	int found = 0;

	while (pos < len) {
		if (field(data, len, &pos, &key, &n) == -1)
			return -1;
		if ((key & 7) == WIRE_VARINT) {
			if ((key >> 3) == number && wiretype == WIRE_VARINT) {
				*value = n;
				found = 1;
			}
			continue;
		}
		if ((key >> 3) == number && (key & 7) == WIRE_LEN &&
		    wiretype == WIRE_LEN) {
			*sub = data + pos;
			*sublen = (size_t)n;
			found = 1;
		}
		pos += n;
	}
	return found;
}

const char *
pbcheck_why(enum pbcheck_result r)
{
	switch (r) {
	case PBCHECK_OK:
		return "ok";
	case PBCHECK_NUL:
		return "a string field contains a NUL byte";
	case PBCHECK_UTF8:
		return "a string field is not valid UTF-8";
	case PBCHECK_MALFORMED:
		break;
	}
	return "malformed message";
}
