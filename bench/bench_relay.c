/*
 * Copyright (c) 2026 The ocbroker authors
 * SPDX-License-Identifier: ISC (the licence is in the file LICENSE)
 */

/* A relay of two processes that only copy bytes: see bench_relay.h. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdlib.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "bench/bench_relay.h"

#define MUX_HEAD	5		/* index, then a 32-bit length */
#define MUX_IN		(256 * 1024)

/* Blocking: the whole of p, or -1. */
static int
write_all(int fd, const char *p, size_t len)
{
	ssize_t	n;

	while (len > 0) {
		if ((n = write(fd, p, len)) == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static void
nodelay(int fd)
{
	int	one = 1;

	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

/* p[0] watches first, p[1..n] the fds. */
static void
watch(struct pollfd *p, int first, const int *fds, int n)
{
	int	i;

	p[0].fd = first;
	p[0].events = POLLIN;
	for (i = 0; i < n; i++) {
		p[i + 1].fd = fds[i];
		p[i + 1].events = POLLIN;
	}
}

/* poll(2) until something is ready; -1 on an error. */
static int
wait_ready(struct pollfd *p, int n)
{
	while (poll(p, (nfds_t)n, -1) == -1)
		if (errno != EINTR)
			return -1;
	return 0;
}

/*
 * Copies what up sends to every client, and what the first client sends to
 * up (the others' bytes are read and dropped), until up or the first
 * client closes.
 */
static void
pump(int up, int *cl, int ncl)
{
	static char	 buf[65536];
	struct pollfd	 p[RELAY_MAX_CLIENTS + 1];
	ssize_t		 n;
	int		 i, k;

	watch(p, up, cl, ncl);
	for (;;) {
		if (wait_ready(p, ncl + 1) == -1)
			return;
		for (i = 0; i <= ncl; i++) {
			if (p[i].fd == -1 ||
			    !(p[i].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			if ((n = read(p[i].fd, buf, sizeof(buf))) <= 0) {
				if (i <= 1)
					return;
				p[i].fd = -1;	/* a listener went */
				continue;
			}
			if (i == 0) {
				for (k = 0; k < ncl; k++)
					if (p[k + 1].fd != -1 &&
					    write_all(cl[k], buf, (size_t)n) == -1)
						p[k + 1].fd = -1;
			} else if (i == 1 && write_all(up, buf, (size_t)n) == -1)
				return;
		}
	}
}

/*
 * RELAY_MUX, either side: what fds[k] sends goes to sp with k and its
 * length in front; what sp sends is cut at those prefixes and written to
 * the fd they name.  Until anything closes.
 */
static void
mux_pump(int sp, int *fds, int n)
{
	static char	 out[MUX_HEAD + 65536], in[MUX_IN];
	struct pollfd	 p[RELAY_MAX_CLIENTS + 1];
	size_t		 have = 0, off, len;
	ssize_t		 r;
	uint32_t	 l;
	int		 i;

	watch(p, sp, fds, n);
	for (;;) {
		if (wait_ready(p, n + 1) == -1)
			return;
		for (i = 1; i <= n; i++) {
			if (!(p[i].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			if ((r = read(p[i].fd, out + MUX_HEAD, sizeof(out) -
			    MUX_HEAD)) <= 0)
				return;
			l = (uint32_t)r;
			out[0] = (char)(i - 1);
			memcpy(out + 1, &l, sizeof(l));
			if (write_all(sp, out, MUX_HEAD + (size_t)r) == -1)
				return;
		}
		if (!(p[0].revents & (POLLIN | POLLHUP | POLLERR)))
			continue;
		if ((r = read(sp, in + have, sizeof(in) - have)) <= 0)
			return;
		have += (size_t)r;
		for (off = 0; have - off >= MUX_HEAD; off += MUX_HEAD + len) {
			memcpy(&l, in + off + 1, sizeof(l));
			len = l;
			if (have - off - MUX_HEAD < len)
				break;
			if ((uint8_t)in[off] >= n ||
			    write_all(fds[(uint8_t)in[off]], in + off + MUX_HEAD,
			    len) == -1)
				return;
		}
		memmove(in, in + off, have - off);
		have -= off;
	}
}

/*
 * A relay process keeps none of the bench's descriptors but a and b: a
 * copy of a client connection the bench closes would keep it open.
 */
static void
close_others(int a, int b)
{
	struct dirent	*de;
	DIR		*d;
	char		*end;
	long		 fd;

	if ((d = opendir("/proc/self/fd")) == NULL)
		_exit(1);
	while ((de = readdir(d)) != NULL) {
		/* Only whole numbers name descriptors ("." and ".." do not). */
		errno = 0;
		fd = strtol(de->d_name, &end, 10);
		if (errno != 0 || end == de->d_name || *end != '\0' ||
		    fd <= 2 || fd > INT_MAX)
			continue;
		if (fd != a && fd != b && fd != dirfd(d))
			close((int)fd);
	}
	closedir(d);
}

/* The process nearest to the clients: accepts them, then pumps. */
static void __attribute__((noreturn))
near_main(int lfd, int sp, int nclients, enum relay_mode mode)
{
	int	cl[RELAY_MAX_CLIENTS], i;

	close_others(lfd, sp);
	for (i = 0; i < nclients; i++) {
		if ((cl[i] = accept(lfd, NULL, NULL)) == -1)
			_exit(1);
		nodelay(cl[i]);
	}
	close(lfd);
	if (mode == RELAY_MUX)
		mux_pump(sp, cl, nclients);
	else
		pump(sp, cl, nclients);
	_exit(0);
}

/* The process nearest to the upstream: its connections, then pumps. */
static void __attribute__((noreturn))
far_main(int sp, uint16_t upstream_port, int nclients, enum relay_mode mode)
{
	struct sockaddr_in	sin;
	int			fd[RELAY_MAX_CLIENTS], i;

	close_others(sp, -1);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons(upstream_port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	for (i = 0; i < (mode == RELAY_MUX ? nclients : 1); i++) {
		if ((fd[i] = socket(AF_INET, SOCK_STREAM, 0)) == -1)
			_exit(1);
		nodelay(fd[i]);
		if (connect(fd[i], (struct sockaddr *)&sin, sizeof(sin)) == -1)
			_exit(1);
	}
	if (mode == RELAY_MUX)
		mux_pump(sp, fd, nclients);
	else
		pump(fd[0], &sp, 1);
	_exit(0);
}

int
relay_start(struct relay *r, uint16_t upstream_port, int nclients,
    enum relay_mode mode)
{
	struct sockaddr_in	sin;
	socklen_t		slen = sizeof(sin);
	int			lfd, sp[2];

	memset(r, 0, sizeof(*r));
	if (nclients < 1 || nclients > RELAY_MAX_CLIENTS)
		return -1;
	if ((lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return -1;
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(lfd, (struct sockaddr *)&sin, sizeof(sin)) == -1 ||
	    listen(lfd, RELAY_MAX_CLIENTS) == -1 ||
	    getsockname(lfd, (struct sockaddr *)&sin, &slen) == -1 ||
	    socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) == -1) {
		close(lfd);
		return -1;
	}
	r->port = ntohs(sin.sin_port);
	if ((r->near = fork()) == 0) {
		close(sp[1]);
		near_main(lfd, sp[0], nclients, mode);
	}
	close(lfd);
	close(sp[0]);
	if (r->near == -1) {
		close(sp[1]);
		return -1;
	}
	if ((r->far = fork()) == 0)
		far_main(sp[1], upstream_port, nclients, mode);
	close(sp[1]);
	if (r->far == -1) {
		relay_stop(r);
		return -1;
	}
	return 0;
}

void
relay_stop(struct relay *r)
{
	if (r->near > 0) {
		kill(r->near, SIGKILL);
		waitpid(r->near, NULL, 0);
	}
	if (r->far > 0) {
		kill(r->far, SIGKILL);
		waitpid(r->far, NULL, 0);
	}
	r->near = r->far = 0;
}
