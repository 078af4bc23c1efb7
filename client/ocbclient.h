/*
 * Copyright (c) 2026 The ocbroker authors
 * SPDX-License-Identifier: ISC (the licence is in the file LICENSE)
 */

/*
 * libocbclient: a small C client for ocbroker's WebSocket + protobuf
 * protocol (doc/protocol.md), for native apps and tools.
 *
 * - Everything hangs off a struct ocb_client: no global state, no threads,
 *   no JSON.  Different clients may be used from different threads; one
 *   client must not be used by two threads at once.
 * - It connects to 127.0.0.1 only (the broker listens nowhere else).
 * - Requests are correlated by request_id, which the library assigns; many
 *   may be in flight and their replies may come in any order.
 * - It can be driven two ways: with the blocking helpers (ocb_client_connect,
 *   ocb_client_call, ocb_client_close), each bounded by a timeout, or from the
 *   application's own poll loop: poll ocb_client_fd() for POLLIN (and POLLOUT
 *   while ocb_client_want_write() is true) and call ocb_client_process(c, 0)
 *   when it is ready.  The socket is non-blocking; nothing but the blocking
 *   helpers ever waits.
 * - Callbacks run only inside ocb_client_process() and the blocking helpers
 *   (ocb_client_connect included, for events that follow the auth reply).
 *   A callback may send requests; it must not call ocb_client_process(),
 *   ocb_client_call(), ocb_client_close() (they fail) or ocb_client_free().
 * - Errors: functions return -1 (or NULL) and ocb_client_error() has a
 *   human-readable text.  The token is never stored, logged or put in an
 *   error text; buffers that held it are wiped.
 */
#ifndef OCB_CLIENT_H
#define OCB_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "proto/messages.pb-c.h"

/* Default limit on a server message, in bytes. */
#define OCB_CLIENT_MAX_MESSAGE	(64u * 1024 * 1024)
/* The close code reported when TCP ended without a close frame. */
#define OCB_CLOSE_ABNORMAL	1006

struct ocb_client;

/*
 * A request's reply.  reply is only valid during the call (copy what you
 * need); it may be an ErrorResponse or carry no payload (success with
 * nothing to return).  reply is NULL when the request will never be answered:
 * the connection ended, or the client is being freed.  Each callback is
 * called exactly once, unless the request was forgotten with
 * ocb_client_forget().
 */
typedef void	(*ocb_reply_fn)(struct ocb_client *, uint64_t request_id,
		    const Opencode__ServerMessage *reply, void *arg);

/*
 * An unsolicited message (request_id 0): a ChatToken, ChatCompleted,
 * ToolCallEvent, PermissionRequest, SessionEvent, UpstreamStatus, a
 * protocol v2 event (QuestionRequest, QuestionResolved, PermissionResolved,
 * todo_updated, diff_updated, MessageRemoved, PartRemoved, message_updated,
 * part_updated), or an ErrorResponse that could not be tied to a request
 * (BAD_MESSAGE).  An event newer than this library's messages.proto comes
 * with payload_case 0.  msg is only valid during the call.
 */
typedef void	(*ocb_event_fn)(struct ocb_client *,
		    const Opencode__ServerMessage *msg, void *arg);

/* A new, unconnected client; NULL when out of memory. */
struct ocb_client *ocb_client_new(void);

/*
 * Frees everything and closes the socket at once (without a closing
 * handshake: call ocb_client_close() first for a clean one).  The callbacks
 * of requests still in flight are called with reply NULL.  NULL is fine.
 */
void	ocb_client_free(struct ocb_client *);

/* Where events go; cb NULL drops them.  May be changed at any time. */
void	ocb_client_set_event_cb(struct ocb_client *, ocb_event_fn cb,
	    void *arg);

/* Largest server message accepted (OCB_CLIENT_MAX_MESSAGE); before connect. */
void	ocb_client_set_max_message(struct ocb_client *, size_t max);

/*
 * Connects to 127.0.0.1:port, does the RFC 6455 opening handshake (checks
 * the 101 and Sec-WebSocket-Accept) and the auth handshake with token, all
 * within timeout_ms (-1: no limit).  0 once authenticated; -1 otherwise.
 * After a refused token, ocb_client_close_code() is the server's close code
 * (1008) when it arrived within the timeout.  A client connects once: after
 * a failure (or the end of the connection) it can only be freed.  The token
 * is not kept.
 */
int	ocb_client_connect(struct ocb_client *, uint16_t port,
	    const char *token, int timeout_ms);

/* The socket, for the application's poll loop; -1 when not connected. */
int	ocb_client_fd(const struct ocb_client *);

/* 1 when bytes wait to be sent: poll for POLLOUT too. */
int	ocb_client_want_write(const struct ocb_client *);

/*
 * Sends msg (any payload but auth_handshake) with the next request_id, which
 * is written to msg->request_id.  cb (may be NULL: the reply is dropped) gets
 * the reply later, from ocb_client_process() or a blocking helper.  The
 * message is queued and sent as far as the socket takes it without waiting.
 * 0 or -1 (not connected, out of memory, or the message is too big).
 */
int	ocb_client_request(struct ocb_client *, Opencode__ClientMessage *msg,
	    ocb_reply_fn cb, void *arg);

/*
 * Waits up to timeout_ms (0: do not wait, -1: no limit) for the socket,
 * then reads what is there, answers pings, sends queued bytes, and
 * dispatches replies and events to their callbacks.  Returns 0 while the
 * connection is up (also when nothing happened or a signal interrupted the
 * wait), -1 once it has ended: closed by the server
 * (ocb_client_close_code()), lost, or a protocol error.  Must not be called
 * from a callback.
 */
int	ocb_client_process(struct ocb_client *, int timeout_ms);

/*
 * Sends msg and waits up to timeout_ms for its reply, dispatching the events
 * (and other replies) that arrive meanwhile.  0 with *reply set (an
 * ErrorResponse is a reply too: check payload_case; free it with
 * ocb_message_free()), or -1 on a timeout (the late reply is then dropped)
 * or the end of the connection.  Must not be called from a callback.
 */
int	ocb_client_call(struct ocb_client *, Opencode__ClientMessage *msg,
	    int timeout_ms, Opencode__ServerMessage **reply);

/*
 * Drops a request still in flight: its callback is never called and a late
 * reply is discarded.  0, or -1 when no such request is in flight.
 */
int	ocb_client_forget(struct ocb_client *, uint64_t request_id);

/* Requests sent and not answered yet. */
size_t	ocb_client_in_flight(const struct ocb_client *);

/*
 * Clean shutdown: sends a close frame (1000), waits up to timeout_ms for
 * the server's close and the end of TCP (replies that arrive meanwhile are
 * dispatched), then closes the socket.  0 when the server answered the
 * close, -1 otherwise (the socket is closed all the same).  The client can
 * then only be freed.
 */
int	ocb_client_close(struct ocb_client *, int timeout_ms);

/*
 * The close code received from the server (1005 for a close without a code,
 * OCB_CLOSE_ABNORMAL when TCP ended without one); 0 while the connection is
 * up or when it ended some other way.
 */
int	ocb_client_close_code(const struct ocb_client *);

/* The last error, or "" (never NULL). */
const char *ocb_client_error(const struct ocb_client *);

/* The session an event belongs to; NULL for one that has none
 * (UpstreamStatus) and for a reply. */
const char *ocb_event_session(const Opencode__ServerMessage *);

/* Frees a reply returned by ocb_client_call(); NULL is fine. */
void	ocb_message_free(Opencode__ServerMessage *);

#endif
