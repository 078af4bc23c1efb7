/*
 * Copyright (c) 2026 The ocbroker authors
 * SPDX-License-Identifier: ISC (the licence is in the file LICENSE)
 */

/*
 * The FreeBSD sandbox: Capsicum capability mode (cap_enter(2)), in the manner
 * of OpenSSH's sandbox-capsicum.c, with cap_net(3) for netproc.
 *
 * UNTESTED: written to the capsicum(4), cap_enter(2), capsicum_helpers(3) and
 * cap_net(3) manuals; no FreeBSD machine was at hand.  It compiles only on
 * FreeBSD (configure --with-sandbox=capsicum, the default there; link with
 * -lcasper -lcap_net).
 *
 * What it does, and what it does not (doc/sandbox.md has the comparison):
 *  - Every role caches time-zone data and the message catalogue first
 *    (caph_cache_tzdata, caph_cache_catpages): in capability mode no path
 *    can be opened, /etc/localtime included.
 *  - front: capability mode.  accept(2) on the listener it holds,
 *    recvmsg(2) of descriptors and kqueue keep working; socket(2) does too
 *    (capability mode allows creating sockets) but connect(2) and bind(2)
 *    with an address do not, and no path can be opened.  Rights on single
 *    descriptors are not narrowed here (sandbox_enter does not know them,
 *    and sockets accepted on a limited listener inherit its limits).
 *  - netproc: capability mode, so connect(2) fails with ECAPMODE; the one
 *    connection it may make goes through a cap_net(3) channel limited to
 *    the pinned upstream address (sandbox_capsicum_allow_connect, before
 *    sandbox_enter), with sandbox_capsicum_connect in place of connect(2).
 *    libcurl calls connect(2) itself: upstream.c must, on FreeBSD, connect
 *    in its CURLOPT_OPENSOCKETFUNCTION with sandbox_capsicum_connect and
 *    answer CURL_SOCKOPT_ALREADY_CONNECTED from CURLOPT_SOCKOPTFUNCTION.
 *    That wiring is not done yet: until it is, netproc on FreeBSD cannot
 *    reach the upstream with the sandbox on.
 *  - parent: left outside capability mode.  It must fork and execve our
 *    own binary for a netproc restart, and execve(2) is not allowed in
 *    capability mode (fexecve of a held descriptor is, but the loader of
 *    the new image then runs in capability mode too and cannot open its
 *    libraries).  sandbox_enter(SANDBOX_PARENT) only caches what it can and
 *    returns 0, and the start-up log says the parent is not confined.
 */
#include "config.h"

#if defined(__FreeBSD__)

#include <sys/types.h>
#include <sys/capsicum.h>
#include <sys/socket.h>

#include <capsicum_helpers.h>
#include <errno.h>
#include <libcasper.h>
#include <casper/cap_net.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "sandbox/sandbox.h"

static cap_channel_t		*capnet;	/* netproc: connect only */
static struct sockaddr_storage	 upstream_sa;
static socklen_t		 upstream_salen;

const char *
sandbox_backend(void)
{
	return "capsicum";
}

int
sandbox_available(void)
{
	u_int mode;

	/* ENOSYS: a kernel without "options CAPABILITY_MODE". */
	return cap_getmode(&mode) == 0;
}

int
sandbox_capsicum_allow_connect(const struct sockaddr *sa, socklen_t salen)
{
	if (salen == 0 || salen > sizeof(upstream_sa)) {
		errno = EINVAL;
		return -1;
	}
	memcpy(&upstream_sa, sa, salen);
	upstream_salen = salen;
	return 0;
}

int
sandbox_capsicum_connect(int s, const struct sockaddr *sa, socklen_t salen)
{
	if (capnet == NULL)
		return connect(s, sa, salen);
	return cap_connect(capnet, s, sa, salen);
}

/* A cap_net channel that can connect to the pinned upstream and nothing
 * else: no name lookups, no bind. */
static int
open_capnet(void)
{
	cap_channel_t *casper;
	cap_net_limit_t *limit;

	if (upstream_salen == 0) {
		log_warnx("capsicum: no upstream address to allow");
		errno = EINVAL;
		return -1;
	}
	if ((casper = cap_init()) == NULL) {
		log_warn("cap_init");
		return -1;
	}
	capnet = cap_service_open(casper, "system.net");
	cap_close(casper);
	if (capnet == NULL) {
		log_warn("cap_service_open system.net");
		return -1;
	}
	if ((limit = cap_net_limit_init(capnet, CAPNET_CONNECT)) == NULL ||
	    cap_net_limit_connect(limit, (struct sockaddr *)&upstream_sa,
	    upstream_salen) == NULL ||
	    cap_net_limit(limit) == -1) {
		log_warn("cap_net_limit");
		return -1;
	}
	return 0;
}

int
sandbox_enter(enum sandbox_role role)
{
	/* Before capability mode: nothing can be opened after. */
	caph_cache_tzdata();
	caph_cache_catpages();

	switch (role) {
	case SANDBOX_PARENT:
	case SANDBOX_SPAWNER:
		log_warnx("capsicum: the parent is not confined (it must "
		    "execve a restarted netproc)");
		return 0;
	case SANDBOX_NETPROC:
		if (open_capnet() == -1)
			return -1;
		break;
	case SANDBOX_FRONT:
		break;
	default:
		errno = EINVAL;
		return -1;
	}
	if (caph_limit_stdio() == -1) {
		log_warn("caph_limit_stdio");
		return -1;
	}
	if (caph_enter() == -1) {
		log_warn("cap_enter");
		return -1;
	}
	return 0;
}

#else /* !__FreeBSD__ */

/* Keeps the translation unit non-empty elsewhere. */
typedef int sandbox_capsicum_freebsd_only;

#endif
