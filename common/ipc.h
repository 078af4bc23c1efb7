/*
 * Copyright (c) 2026 The ocbroker authors
 * SPDX-License-Identifier: ISC (the licence is in the file LICENSE)
 */

/*
 * IPC framing between ocbroker's processes, in the manner of OpenBSD's imsg:
 * a 4-byte big-endian length, then one ocb.ipc.Frame of that many bytes.
 *
 * The reader is a pure state machine (no I/O): bytes go in with ipc_reader_feed
 * or straight into ipc_reader_buf, frames come out of ipc_reader_next.  A frame
 * that is too long, does not decode or carries another protocol version marks
 * the reader bad for good: the peer is never read again.  A frame whose
 * decode ran out of memory is not malformed: see nomem_ok.
 */
#ifndef OCB_IPC_H
#define OCB_IPC_H

#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/ipc_view.h"
#include "common/options.h"
#include "proto/ipc.pb-c.h"

#define IPC_VERSION		1
#define IPC_HEADER		4
/*
 * A frame holds the largest client message --max-message allows (a Request
 * carries it as received; a Reply is fitted to it) plus the frame's own
 * fields: ids, tags and lengths take well under IPC_FRAME_OVERHEAD.
 */
#define IPC_FRAME_OVERHEAD	4096u
#define IPC_MAX_FRAME		(OPT_MAX_MESSAGE_MAX + IPC_FRAME_OVERHEAD)
#define IPC_MAX_FDS		4			/* descriptors queued ahead of their frames */

enum ipc_status {
	IPC_BAD = -1,		/* malformed: stop reading this peer */
	IPC_NEED_MORE = 0,
	IPC_FRAME = 1,
	IPC_NOMEM = 2,		/* a good frame lost to a failed allocation */
};

/*
 * What a frame lost to out of memory was, read from its wire bytes: the
 * body's case and, for a Request, Reply or Cancel, its ids, for a Control its
 * kind, so that the one request it carried can be answered.
 */
struct ipc_lost {
	Ocb__Ipc__Frame__BodyCase	 body_case;
	uint64_t			 conn_id, request_id;
	uint64_t			 control_kind;
};

struct ipc_reader {
	struct buf	 in;
	int		 bad;
	const char	*why;		/* static text: why the reader went bad */
	int		 fds[IPC_MAX_FDS];	/* received with SCM_RIGHTS, oldest first */
	size_t		 nfds;
	/*
	 * Set by a caller that handles IPC_NOMEM: a frame whose decode fails
	 * for lack of memory is then skipped and described in lost, and the
	 * reader stays good.  Unset, that frame marks the reader bad.
	 */
	int		 nomem_ok;
	struct ipc_lost	 lost;
	/* Where decoded frames come from; NULL: malloc(3).  Frames are
	 * released with free(3), so a test's allocator must hand out
	 * malloc(3) blocks (it may fail some). */
	ProtobufCAllocator *alloc;
	/*
	 * Set by the owner of a chan_dispatch loop (the front, for netproc's
	 * frames): a Reply or Event in protobuf-c's layout is handed out in
	 * place (ipc_view.h), as the reader's own frame, valid until the
	 * reader is next used; its bytes stay in the buffer until then.
	 */
	int		 views;
	size_t		 held;		/* bytes of the frame handed out in place */
	struct ipc_view	 view;
};

void		 ipc_reader_init(struct ipc_reader *);
void		 ipc_reader_free(struct ipc_reader *);	/* closes queued fds, wipes */
int		 ipc_reader_feed(struct ipc_reader *, const void *, size_t);
/* On IPC_FRAME *out is a frame to release with ipc_frame_free, unless it is
 * the reader's own (ipc_frame_is_view); on IPC_NOMEM r->lost says what was
 * skipped. */
enum ipc_status	 ipc_reader_next(struct ipc_reader *, Ocb__Ipc__Frame **out);
void		 ipc_frame_free(Ocb__Ipc__Frame *);
/* Whether f was read in place by r (only compares addresses: r may have been
 * freed since). */
static inline int ipc_frame_is_view(const struct ipc_reader *r,
    const Ocb__Ipc__Frame *f)
{
	return f == &r->view.frame;
}
/* Takes the oldest descriptor that came with SCM_RIGHTS, or -1. */
int		 ipc_reader_take_fd(struct ipc_reader *);

/* Appends one framed message to out (version filled in); -1 with errno
 * EMSGSIZE (over IPC_MAX_FRAME) or ENOMEM. */
int		 ipc_frame_pack(struct buf *out, Ocb__Ipc__Frame *);

/* I/O: read what is there into the reader (also collecting SCM_RIGHTS fds);
 * returns bytes read, 0 on EOF, -1 with errno. */
ssize_t		 ipc_read(struct ipc_reader *, int fd);
/* Sends one frame with a descriptor attached to its first byte (blocking). */
int		 ipc_send_fd(int sock, Ocb__Ipc__Frame *, int fd);
/* The same with nfds (at most IPC_MAX_FDS) descriptors, in this order. */
int		 ipc_send_fds(int sock, Ocb__Ipc__Frame *, const int *fds,
		    size_t nfds);
/* Reads frames synchronously until one arrives (used at child start-up). */
int		 ipc_read_frame_blocking(struct ipc_reader *, int fd, Ocb__Ipc__Frame **out);
/* Writes the whole buffer synchronously (start-up and shutdown paths only). */
int		 ipc_flush_blocking(struct buf *, int fd);

#endif
