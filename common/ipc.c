/*
 * Copyright (c) 2026 The ocbroker authors
 * SPDX-License-Identifier: ISC (the licence is in the file LICENSE)
 */

/* IPC frame codec and the few socket calls it needs; see ipc.h. */
#include "config.h"

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/ipc.h"
#include "common/pbcheck.h"
#include "common/pbtrack.h"

#define IPC_READ_CHUNK	65536

/* Ancillary data for up to IPC_MAX_FDS descriptors, aligned as a cmsghdr. */
union cmsgbuf {
	struct cmsghdr hdr;
	char buf[CMSG_SPACE(sizeof(int) * IPC_MAX_FDS)];
};

void
ipc_reader_init(struct ipc_reader *r)
{
	memset(r, 0, sizeof(*r));
	buf_init(&r->in);
}

void
ipc_reader_free(struct ipc_reader *r)
{
	while (r->nfds > 0)
		close(r->fds[--r->nfds]);
	buf_free(&r->in);
	r->held = 0;
}

/* The frame handed out in place is done with: its bytes go (wiped). */
static void
ipc_reader_release(struct ipc_reader *r)
{
	if (r->held > 0) {
		buf_drain(&r->in, r->held);
		r->held = 0;
	}
}

static enum ipc_status
ipc_reader_fail(struct ipc_reader *r, const char *why)
{
	r->bad = 1;
	r->why = why;
	return IPC_BAD;
}

int
ipc_reader_feed(struct ipc_reader *r, const void *p, size_t n)
{
	ipc_reader_release(r);
	return buf_add(&r->in, p, n);
}

/*
 * What a frame that did not decode for lack of memory carried; -1 when its
 * bytes are not a frame after all (then it is malformed as well).
 */
static int
ipc_peek(const uint8_t *p, size_t len, struct ipc_lost *lost)
{
	const uint8_t *sub = NULL;
	size_t sublen = 0;
	uint64_t v = 0;

	memset(lost, 0, sizeof(*lost));
	if (pbcheck_wire(&ocb__ipc__frame__descriptor, p, len) != PBCHECK_OK)
		return -1;
	/* A oneof: the last body on the wire is the one decoded. */
	for (uint32_t field = 2; field <= 7; field++) {
		const uint8_t *s;
		size_t sl;

		if (pbpeek(p, len, field, 2, &v, &s, &sl) == 1 &&
		    (sub == NULL || s > sub)) {
			sub = s;
			sublen = sl;
			lost->body_case = (Ocb__Ipc__Frame__BodyCase)field;
		}
	}
	switch (lost->body_case) {
	case OCB__IPC__FRAME__BODY_REQUEST:
	case OCB__IPC__FRAME__BODY_REPLY:
		if (pbpeek(sub, sublen, 2, 0, &v, NULL, NULL) == 1)
			lost->request_id = v;
		/* FALLTHROUGH */
	case OCB__IPC__FRAME__BODY_CANCEL:
		if (pbpeek(sub, sublen, 1, 0, &v, NULL, NULL) == 1)
			lost->conn_id = v;
		break;
	case OCB__IPC__FRAME__BODY_CONTROL:
		if (pbpeek(sub, sublen, 1, 0, &v, NULL, NULL) == 1)
			lost->control_kind = v;
		break;
	default:
		break;
	}
	return 0;
}

enum ipc_status
ipc_reader_next(struct ipc_reader *r, Ocb__Ipc__Frame **out)
{
	const uint8_t *h;
	uint32_t len;
	Ocb__Ipc__Frame *f;
	struct pb_track t;

	*out = NULL;
	ipc_reader_release(r);
	if (r->bad)
		return IPC_BAD;
	if (buf_used(&r->in) < IPC_HEADER)
		return IPC_NEED_MORE;
	h = buf_head(&r->in);
	len = (uint32_t)h[0] << 24 | (uint32_t)h[1] << 16 |
	    (uint32_t)h[2] << 8 | (uint32_t)h[3];
	/* Refuse an oversized frame from its header, before buffering it. */
	if (len > IPC_MAX_FRAME)
		return ipc_reader_fail(r, "frame too long");
	if (buf_used(&r->in) - IPC_HEADER < len)
		return IPC_NEED_MORE;
	if (r->views && ipc_view_read(&r->view, h + IPC_HEADER, len) == 0) {
		r->held = IPC_HEADER + (size_t)len;
		*out = &r->view.frame;
		return IPC_FRAME;
	}
	/* Plain malloc blocks: ipc_frame_free releases them as protobuf-c's
	 * default allocator would. */
	pb_track_init(&t, r->alloc);
	f = ocb__ipc__frame__unpack(&t.a, len, h + IPC_HEADER);
	if (f == NULL && t.failed && r->nomem_ok &&
	    ipc_peek(h + IPC_HEADER, len, &r->lost) == 0) {
		buf_drain(&r->in, IPC_HEADER + (size_t)len);
		return IPC_NOMEM;
	}
	buf_drain(&r->in, IPC_HEADER + (size_t)len);
	if (f == NULL)
		return ipc_reader_fail(r, t.failed ?
		    "out of memory decoding a frame" : "frame does not decode");
	if (f->version != IPC_VERSION) {
		ocb__ipc__frame__free_unpacked(f, NULL);
		return ipc_reader_fail(r, "wrong protocol version");
	}
	if (f->body_case == OCB__IPC__FRAME__BODY__NOT_SET) {
		ocb__ipc__frame__free_unpacked(f, NULL);
		return ipc_reader_fail(r, "frame has no body");
	}
	*out = f;
	return IPC_FRAME;
}

void
ipc_frame_free(Ocb__Ipc__Frame *f)
{
	if (f == NULL)
		return;
	/* Config frames carry the token or the upstream password. */
	if (f->body_case == OCB__IPC__FRAME__BODY_CONFIG) {
		Ocb__Ipc__Config *c = f->config;
		wipe(c->token.data, c->token.len);
		wipe(c->upstream_password.data, c->upstream_password.len);
	} else if (f->body_case == OCB__IPC__FRAME__BODY_REQUEST)
		wipe(f->request->client_message.data,
		    f->request->client_message.len);
	ocb__ipc__frame__free_unpacked(f, NULL);
}

int
ipc_reader_take_fd(struct ipc_reader *r)
{
	int fd;

	if (r->nfds == 0)
		return -1;
	fd = r->fds[0];
	memmove(r->fds, r->fds + 1, (r->nfds - 1) * sizeof(int));
	r->nfds--;
	return fd;
}

int
ipc_frame_pack(struct buf *out, Ocb__Ipc__Frame *f)
{
	size_t len;
	uint8_t *p;

	f->version = IPC_VERSION;
	len = ocb__ipc__frame__get_packed_size(f);
	if (len > IPC_MAX_FRAME) {
		errno = EMSGSIZE;
		return -1;
	}
	if (buf_reserve(out, IPC_HEADER + len) == -1) {
		errno = ENOMEM;
		return -1;
	}
	p = buf_tail(out);
	p[0] = (uint8_t)(len >> 24);
	p[1] = (uint8_t)(len >> 16);
	p[2] = (uint8_t)(len >> 8);
	p[3] = (uint8_t)len;
	ocb__ipc__frame__pack(f, p + IPC_HEADER);
	buf_commit(out, IPC_HEADER + len);
	return 0;
}

ssize_t
ipc_read(struct ipc_reader *r, int fd)
{
	union cmsgbuf cmsgbuf;
	struct msghdr msg;
	struct cmsghdr *cmsg;
	struct iovec iov;
	ssize_t n;

	ipc_reader_release(r);
	if (buf_reserve(&r->in, IPC_READ_CHUNK) == -1) {
		errno = ENOMEM;
		return -1;
	}
	memset(&msg, 0, sizeof(msg));
	iov.iov_base = buf_tail(&r->in);
	iov.iov_len = IPC_READ_CHUNK;
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = cmsgbuf.buf;
	msg.msg_controllen = sizeof(cmsgbuf.buf);
	n = recvmsg(fd, &msg, MSG_CMSG_CLOEXEC);
	if (n <= 0)
		return n;
	buf_commit(&r->in, (size_t)n);
	for (cmsg = CMSG_FIRSTHDR(&msg); cmsg != NULL;
	    cmsg = CMSG_NXTHDR(&msg, cmsg)) {
		size_t nfd;

		if (cmsg->cmsg_level != SOL_SOCKET ||
		    cmsg->cmsg_type != SCM_RIGHTS)
			continue;
		nfd = (cmsg->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < nfd; i++) {
			int rfd;

			memcpy(&rfd, CMSG_DATA(cmsg) + i * sizeof(int),
			    sizeof(int));
			if (r->nfds < IPC_MAX_FDS)
				r->fds[r->nfds++] = rfd;
			else
				close(rfd);
		}
	}
	return n;
}

int
ipc_send_fd(int sock, Ocb__Ipc__Frame *f, int fd)
{
	return ipc_send_fds(sock, f, &fd, fd != -1 ? 1 : 0);
}

int
ipc_send_fds(int sock, Ocb__Ipc__Frame *f, const int *fds, size_t nfds)
{
	union cmsgbuf cmsgbuf;
	struct msghdr msg;
	struct cmsghdr *cmsg;
	struct iovec iov;
	struct buf out;
	size_t off = 0;
	int rc = -1;

	buf_init(&out);
	if (nfds > IPC_MAX_FDS) {
		errno = EINVAL;
		goto done;
	}
	if (ipc_frame_pack(&out, f) == -1)
		goto done;
	while (off < buf_used(&out)) {
		ssize_t n;

		memset(&msg, 0, sizeof(msg));
		iov.iov_base = buf_head(&out) + off;
		iov.iov_len = buf_used(&out) - off;
		msg.msg_iov = &iov;
		msg.msg_iovlen = 1;
		if (off == 0 && nfds > 0) {
			memset(&cmsgbuf, 0, sizeof(cmsgbuf));
			msg.msg_control = cmsgbuf.buf;
			msg.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
			cmsg = CMSG_FIRSTHDR(&msg);
			cmsg->cmsg_level = SOL_SOCKET;
			cmsg->cmsg_type = SCM_RIGHTS;
			cmsg->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
			memcpy(CMSG_DATA(cmsg), fds, sizeof(int) * nfds);
		}
		n = sendmsg(sock, &msg, MSG_NOSIGNAL);
		if (n == -1) {
			struct pollfd pfd = { .fd = sock, .events = POLLOUT };

			if (errno == EINTR)
				continue;
			if (errno != EAGAIN || poll(&pfd, 1, 5000) <= 0)
				goto done;
			continue;
		}
		off += (size_t)n;
	}
	rc = 0;
done:
	buf_free(&out);
	return rc;
}

int
ipc_read_frame_blocking(struct ipc_reader *r, int fd, Ocb__Ipc__Frame **out)
{
	/* Its callers free what it returns. */
	if (r->views) {
		errno = EINVAL;
		return -1;
	}
	for (;;) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		enum ipc_status st;
		ssize_t n;

		st = ipc_reader_next(r, out);
		if (st == IPC_FRAME)
			return 0;
		if (st == IPC_BAD)
			return -1;
		if (poll(&pfd, 1, -1) == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		n = ipc_read(r, fd);
		if (n == 0) {
			errno = EPIPE;
			return -1;
		}
		if (n == -1 && errno != EINTR && errno != EAGAIN)
			return -1;
	}
}

int
ipc_flush_blocking(struct buf *b, int fd)
{
	while (buf_used(b) > 0) {
		struct pollfd pfd = { .fd = fd, .events = POLLOUT };
		ssize_t n = send(fd, buf_head(b), buf_used(b), MSG_NOSIGNAL);

		if (n > 0) {
			buf_drain(b, (size_t)n);
			continue;
		}
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && errno == EAGAIN && poll(&pfd, 1, 5000) > 0)
			continue;
		return -1;
	}
	return 0;
}
