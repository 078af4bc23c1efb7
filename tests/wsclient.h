/*
 * Copyright (c) 2026 The ocbroker authors
 * SPDX-License-Identifier: ISC (the licence is in the file LICENSE)
 */

/*
 * A small blocking WebSocket client for the tests: POSIX sockets, poll(2)
 * with a timeout on every wait, 127.0.0.1 only.  Frames are encoded and
 * decoded with common/ws_frame.h (client role).  It lets a test misbehave on
 * purpose: override or drop handshake headers, send raw bytes, unmasked or
 * fragmented frames, text frames.
 *
 * Every function that waits takes timeout_ms and never blocks longer.
 */
#ifndef OCB_TESTS_WSCLIENT_H
#define OCB_TESTS_WSCLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "common/ws_frame.h"
#include "proto/messages.pb-c.h"

#define WSC_MAX_HEADERS	32

struct wsc_header {
	char	*name;
	char	*value;
};

struct wsc_pending;

struct wsc {
	int			 fd;
	uint16_t		 port;
	char			 key[128];	/* Sec-WebSocket-Key we sent */
	struct ws_parser	 parser;
	int			 parser_done;	/* a close/error was parsed */

	/* Bytes read from the socket and not yet consumed. */
	uint8_t			*rbuf;
	size_t			 rlen;
	size_t			 rcap;

	/* The response head, once read. */
	int			 status;	/* HTTP status, 0 before */
	char			*head;		/* the whole head, NUL-ended */
	char			*head_cut;	/* a copy the headers point in */
	struct wsc_header	 headers[WSC_MAX_HEADERS];
	size_t			 nheaders;
	int			 accept_ok;	/* Sec-WebSocket-Accept good */

	/* Replies received while waiting for another request_id. */
	struct wsc_pending	*pending;
};

enum wsc_kind {
	WSC_MESSAGE,	/* a whole binary message: data/len */
	WSC_PING,	/* data/len: the payload */
	WSC_PONG,	/* data/len: the payload */
	WSC_CLOSE,	/* code (1005 when empty), data/len: the reason */
	WSC_EOF,	/* the server closed TCP */
	WSC_TIMEOUT,	/* nothing complete within the timeout */
	WSC_BAD,	/* the server broke RFC 6455; code: the close to send */
	WSC_ERROR	/* a socket error, or bytes after a close */
};

struct wsc_frame {
	enum wsc_kind	 kind;
	uint8_t		*data;		/* malloc'd, NUL-terminated, or NULL */
	size_t		 len;
	uint16_t	 code;
};

/* Opens a TCP connection to 127.0.0.1:port; 0 or -1. */
int	wsc_connect(struct wsc *, uint16_t port, int timeout_ms);

/*
 * Sends an opening handshake.  request_line NULL means "GET / HTTP/1.1".
 * The default headers are Host: 127.0.0.1:PORT, Upgrade: websocket,
 * Connection: Upgrade, a fresh Sec-WebSocket-Key, Sec-WebSocket-Version: 13.
 * Each entry of extra (NULL-terminated, may be NULL) is "Name: value": it
 * replaces the default header of that name (case-insensitive), or is added;
 * "Name:" with nothing after the colon removes the default.  0 or -1.
 */
int	wsc_send_handshake(struct wsc *, const char *request_line,
	    const char *const *extra, int timeout_ms);

/*
 * Reads the response head: returns the HTTP status, or -1 (timeout, EOF,
 * garbage).  Bytes after the head are kept for wsc_recv().  For a 101,
 * accept_ok tells whether Sec-WebSocket-Accept matched our key.
 */
int	wsc_read_response(struct wsc *, int timeout_ms);

/* The value of a response header (case-insensitive name), or NULL. */
const char *wsc_header(const struct wsc *, const char *name);

/* connect + default handshake + 101 with a valid accept; 0 or -1. */
int	wsc_open(struct wsc *, uint16_t port, int timeout_ms);

/* Closes the socket and frees everything; the struct can be reused. */
void	wsc_close(struct wsc *);

/* Half-closes (SHUT_WR) so that the server sees EOF. */
void	wsc_shutdown_write(struct wsc *);

/* Sends bytes as they are; 0 or -1. */
int	wsc_send_raw(struct wsc *, const void *, size_t, int timeout_ms);
/*
 * Sends all len bytes on the socket fd (blocking or not) within timeout_ms,
 * without SIGPIPE; 0 or -1.  For any socket, not only a struct wsc's.
 */
int	wsc_send_all(int fd, const void *data, size_t len, int timeout_ms);

/*
 * Sends one frame.  fin 0 leaves FIN clear (fragments); masked 0 sends it
 * unmasked (a protocol error from a client); rsv is OR-ed into the first
 * byte (0x70 bits).  0 or -1.
 */
int	wsc_send_frame(struct wsc *, int fin, enum ws_opcode op, uint8_t rsv,
	    const void *data, size_t len, int masked, int timeout_ms);
int	wsc_send_binary(struct wsc *, const void *, size_t, int timeout_ms);
int	wsc_send_text(struct wsc *, const char *, int timeout_ms);
int	wsc_send_ping(struct wsc *, const void *, size_t, int timeout_ms);
int	wsc_send_close(struct wsc *, uint16_t code, const char *reason,
	    int timeout_ms);

/* Receives the next message or control frame (see enum wsc_kind). */
enum wsc_kind wsc_recv(struct wsc *, struct wsc_frame *, int timeout_ms);
void	wsc_frame_free(struct wsc_frame *);

/*
 * Waits for the connection to end: returns the close code received (and
 * the TCP close that must follow it), 0 for an EOF without a close frame,
 * or -1 on a timeout, an error or a data message.  Pings, pongs and
 * events (messages with request_id 0) are skipped.
 */
int	wsc_wait_close(struct wsc *, int timeout_ms);

/* Packs and sends a ClientMessage as one binary message; 0 or -1. */
int	wsc_send_msg(struct wsc *, const Opencode__ClientMessage *,
	    int timeout_ms);

/*
 * Receives the next binary message and unpacks it as a ServerMessage.
 * Returns NULL for anything else (the frame is then left in *other when
 * other is not NULL; free it with wsc_frame_free).
 */
Opencode__ServerMessage *wsc_recv_msg(struct wsc *, struct wsc_frame *other,
	    int timeout_ms);

/*
 * Receives until the reply carrying request_id arrives; replies to other
 * requests are kept for a later call, events (request_id 0) are dropped.
 * NULL on a timeout, a close or an error.
 */
Opencode__ServerMessage *wsc_recv_reply(struct wsc *, uint64_t request_id,
	    int timeout_ms);

/* Frees an unpacked ServerMessage (NULL is fine). */
void	wsc_msg_free(Opencode__ServerMessage *);

/*
 * Sends AuthHandshake{token} with request_id and waits for the reply:
 * 1 success, 0 refused ({success: false}), -1 anything else.
 */
int	wsc_auth(struct wsc *, const char *token, uint64_t request_id,
	    int timeout_ms);

#endif
