/*
 * Copyright (c) 2026 The ocbroker authors
 * SPDX-License-Identifier: ISC (the licence is in the file LICENSE)
 */

/*
 * An incremental text/event-stream parser (WHATWG HTML, "Server-sent events",
 * event stream interpretation).  Pure: no I/O, no logging, no global state.
 *
 * Bytes may arrive in any chunking: a line, a CRLF pair or the leading BOM
 * may be split across feeds.  Lines end in CRLF, LF or a lone CR.  A line
 * starting with ':' is a comment; a line without ':' is a field with an
 * empty value; one space after the colon is dropped.  Fields: `data`
 * (joined with "\n"), `event`, `id` (ignored when it holds a NUL), `retry`
 * (only ASCII digits); others are ignored.  A blank line dispatches the
 * event when it has data; an event cut off by the end of the stream is never
 * dispatched (the caller simply resets on reconnect).
 *
 * Values are bytes as received: nothing here checks UTF-8 (the JSON layer
 * does, on the data).  Every returned string is also NUL-terminated; data
 * may itself contain NUL bytes, hence the lengths.
 *
 * Errors are terminal: a line over SSE_MAX_LINE, an event's data over
 * SSE_MAX_DATA, or out of memory.  The parser then returns SSE_ERROR on
 * every feed until sse_parser_reset() (the caller drops the connection and
 * reconnects).
 */
#ifndef OCB_NETPROC_SSE_H
#define OCB_NETPROC_SSE_H

#include <stddef.h>
#include <stdint.h>

#define SSE_MAX_LINE		(1024 * 1024)		/* bytes, without the line end */
#define SSE_MAX_DATA		(4 * 1024 * 1024)	/* bytes of one event's data */
#define SSE_RETRY_MAX_MS	(24 * 3600 * 1000)	/* larger retry values saturate */
#define SSE_BUF_KEEP		(64 * 1024)		/* a buffer grown above this is released on reset */

enum sse_status {
	SSE_EVENT,		/* *ev holds one event */
	SSE_NEED_MORE,		/* every byte was consumed, no event yet */
	SSE_ERROR		/* terminal; parser.error says why */
};

/* Where the parser is between two bytes. */
enum sse_state {
	SSE_ST_LINE_START,	/* nothing of the current line seen */
	SSE_ST_IN_LINE,		/* part of a line is held in the line buffer */
	SSE_ST_AFTER_CR,	/* a line ended in CR: a following LF belongs to it */
	SSE_ST_FAILED		/* an error was returned; only a reset helps */
};

/* A growable byte string, always NUL-terminated once allocated. */
struct sse_buf {
	char	*p;
	size_t	 len;
	size_t	 cap;
};

struct sse_event {
	const char	*data;		/* data lines joined with "\n" */
	size_t		 data_len;
	const char	*type;		/* the event field, "message" when none */
	size_t		 type_len;
	const char	*id;		/* the last event id of the stream, "" when none */
	size_t		 id_len;
	int64_t		 retry_ms;	/* the last valid retry of the stream, or -1 */
};

struct sse_parser {
	enum sse_state	 state;
	int		 bom_done;	/* the leading BOM, if any, is behind us */
	struct sse_buf	 line;		/* a line that spans feeds */
	struct sse_buf	 data;		/* the event being built */
	struct sse_buf	 type;
	struct sse_buf	 id;		/* the last event id buffer: kept across events */
	int64_t		 retry_ms;
	int		 dispatched;	/* the returned event's buffers are cleared on the next feed */
	const char	*error;		/* static string, set with SSE_ERROR */
};

void		sse_parser_init(struct sse_parser *);
void		sse_parser_free(struct sse_parser *);
/* A new connection: forgets everything (last event id and retry included). */
void		sse_parser_reset(struct sse_parser *);
/*
 * Consumes bytes up to and including the end of the line that completed an
 * event (*consumed says how many) and returns SSE_EVENT with *ev valid until
 * the next call on this parser; or consumes everything and returns
 * SSE_NEED_MORE; or returns SSE_ERROR (parser.error is set).
 */
enum sse_status	sse_parser_feed(struct sse_parser *, const uint8_t *, size_t,
		    size_t *, struct sse_event *);

#endif /* OCB_NETPROC_SSE_H */
