/*
 * Copyright (c) 2026 The ocbroker authors
 * SPDX-License-Identifier: ISC (the licence is in the file LICENSE)
 */

/*
 * The Linux sandbox: one seccomp-bpf allowlist per role, built with
 * libseccomp, in the manner of OpenSSH's sandbox-seccomp-filter.c.
 *
 * The filter reads as a table (sc_rules below): one line per syscall (or per
 * allowed argument value) with the roles it is allowed for and the reason.
 * The roles column is a picture: "PSFN" is parent, spawner, front and
 * netproc, "__F_" the front alone, "_S_N" the spawner and netproc, and so
 * on.  Argument checks are macros of their own (NO_PROT_EXEC, SOCK_DOMAIN,
 * FUTEX_CMD, ...); soft
 * denials (an errno instead of death, where libc probes and copes) are a
 * table of their own, sc_soft.  Everything that is not listed kills the whole
 * process (SCMP_ACT_KILL_PROCESS), and so does a syscall made for another
 * architecture (x32 or i386 on x86_64).  doc/sandbox.md's tables are
 * printed from these two by `sandbox_probe describe`
 * (sandbox_seccomp_describe).
 *
 * Filters are inherited across fork and exec and they stack: every netproc
 * is started by the spawner (a fork of the parent that does nothing else) and
 * runs under the spawner's filter first, through the dynamic loader and its
 * whole start-up, and then adds its own.  That is why the spawner's column is
 * the loosest: it holds what the loader and netproc's start-up need (the
 * lines marked "netproc:"), and socket(2) for AF_INET/AF_INET6 and connect(2)
 * although the spawner itself never calls them.  The parent's column is what
 * supervision needs and nothing that creates a process, a socket or a file.
 * doc/sandbox.md explains the split.
 *
 * With SANDBOX_SECCOMP_DEBUG (configure --enable-seccomp-debug) the default
 * action is SCMP_ACT_TRAP and a SIGSYS handler names the offending syscall
 * on stderr before the process dies of SIGSYS.  Never for production: code
 * that has taken over the process can install its own SIGSYS handler, and
 * every denial then becomes a failed call it survives and learns from.
 */
#include "config.h"

#include <sys/types.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <seccomp.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "sandbox/sandbox.h"

/* The roles column: Parent, Spawner, Front, Netproc. */
#define P___	(1u << SANDBOX_PARENT)
#define _S__	(1u << SANDBOX_SPAWNER)
#define __F_	(1u << SANDBOX_FRONT)
#define ___N	(1u << SANDBOX_NETPROC)
#define PS__	(P___ | _S__)
#define P_FN	(P___ | __F_ | ___N)
#define _S_N	(_S__ | ___N)
#define _SFN	(_S__ | __F_ | ___N)
#define PSFN	(P___ | _S__ | __F_ | ___N)

#define SC_MAX_ARGS	3

struct sc_rule {
	unsigned		 roles;
	int			 nr;		/* SCMP_SYS() */
	const char		*name;
	int			 err;		/* soft denial: errno; 0: allow */
	unsigned		 nargs;
	struct scmp_arg_cmp	 args[SC_MAX_ARGS];
	const char		*cond;		/* the argument checks, as written */
	const char		*why;
};

/*
 * Argument checks.  Arguments are compared as the 64-bit registers the
 * kernel hands to seccomp; a 32-bit argument (an int) is compared under a
 * 32-bit mask so that garbage in the upper half cannot slip past, and an EQ
 * on an int with garbage above it fails closed.
 */
#define ARG_EQ(n, v) \
	{ (n), SCMP_CMP_EQ, (scmp_datum_t)(v), 0 }
#define ARG_NE(n, v) \
	{ (n), SCMP_CMP_NE, (scmp_datum_t)(v), 0 }
#define ARG_MASKED_EQ(n, mask, v) \
	{ (n), SCMP_CMP_MASKED_EQ, (scmp_datum_t)(mask), (scmp_datum_t)(v) }
#define ARG_MASK32	0xffffffffULL

/* mmap(addr, len, prot, ...) and mprotect(addr, len, prot): no PROT_EXEC. */
#define NO_PROT_EXEC		ARG_MASKED_EQ(2, PROT_EXEC, 0)
/* fcntl(fd, cmd, ...) */
#define FCNTL_CMD(c)		ARG_EQ(1, c)
/* ioctl(fd, request, ...) */
#define IOCTL_REQ(r)		ARG_MASKED_EQ(1, ARG_MASK32, r)
/* futex(uaddr, op, ...): the operation, private or not, any clock. */
#define FUTEX_CMD_BITS		(ARG_MASK32 & \
	~(scmp_datum_t)(FUTEX_PRIVATE_FLAG | FUTEX_CLOCK_REALTIME))
#define FUTEX_CMD(o)		ARG_MASKED_EQ(1, FUTEX_CMD_BITS, o)
/* socket(domain, type, protocol) and socketpair(domain, type, ...): the type
 * without SOCK_NONBLOCK and SOCK_CLOEXEC. */
#define SOCK_DOMAIN(d)		ARG_EQ(0, d)
#define SOCK_TYPE(t)		ARG_MASKED_EQ(1, \
	ARG_MASK32 & ~(scmp_datum_t)(SOCK_NONBLOCK | SOCK_CLOEXEC), t)
#define SOCK_PROTO(p)		ARG_EQ(2, p)
/* setsockopt/getsockopt(fd, level, optname, ...) */
#define SOCKOPT_LEVEL(l)	ARG_EQ(1, l)
#define SOCKOPT_NAME(o)		ARG_EQ(2, o)
/* newfstatat(dirfd, path, buf, flags): fstat(fd) as glibc >= 2.33 does it. */
#define FSTATAT_EMPTY_PATH	ARG_EQ(3, AT_EMPTY_PATH)
#define FSTATAT_NOT_EMPTY_PATH	ARG_NE(3, AT_EMPTY_PATH)
/* openat(dirfd, path, flags, mode): read-only, never creating anything. */
#define OPEN_FLAGS_MASK		(ARG_MASK32 & ~(scmp_datum_t)(O_CLOEXEC | \
	O_LARGEFILE | O_NOCTTY | O_NONBLOCK | O_DIRECTORY | O_NOFOLLOW))
#define OPEN_READONLY		ARG_MASKED_EQ(2, OPEN_FLAGS_MASK, O_RDONLY)
/* clone(flags, ...): a process (fork), never a thread, a shared address
 * space or a new namespace. */
#define CLONE_FORBIDDEN		(CLONE_VM | CLONE_THREAD | CLONE_SIGHAND | \
	CLONE_FS | CLONE_FILES | CLONE_PARENT | CLONE_PTRACE | CLONE_VFORK | \
	CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER | \
	CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWCGROUP | CLONE_IO)
#define CLONE_FORK_ONLY		ARG_MASKED_EQ(0, CLONE_FORBIDDEN, 0)
/* clone(CLONE_PARENT | SIGCHLD): as CLONE_FORK_ONLY, and the new process is
 * our parent's child (the spawner's netprocs), never our own. */
#define CLONE_SIBLING_ONLY	ARG_MASKED_EQ(0, CLONE_FORBIDDEN, CLONE_PARENT)
/* pidfd_send_signal(pidfd, sig, ...) and tgkill(tgid, tid, sig) */
#define KILL_SIG(s)		ARG_EQ(1, s)
#define TGKILL_SIG(s)		ARG_EQ(2, s)
#define TGKILL_SELF		ARG_EQ(0, SC_PID_SELF)
/* prctl(option, ...) and seccomp(op, ...) */
#define PRCTL_OP(o)		ARG_EQ(0, o)
#define SECCOMP_OP(o)		ARG_EQ(0, o)
/* prlimit64(pid, ...): our own limits only. */
#define PRLIMIT_SELF		ARG_EQ(0, 0)
/* madvise(addr, len, advice) */
#define MADV(a)			ARG_EQ(2, a)
/* getrandom(buf, len, flags) */
#define GETRANDOM_FLAGS(f)	ARG_MASKED_EQ(2, ARG_MASK32, f)

/* Stands for our own pid, which sc_add() puts in when the filter is built
 * (~0 is no pid). */
#define SC_PID_SELF		(~(scmp_datum_t)0)

#define SC_ALLOW(r, sys, why) \
	{ (r), SCMP_SYS(sys), #sys, 0, 0, { { 0 } }, "", (why) }
#define SC_ALLOW_ARG(r, sys, a, why) \
	{ (r), SCMP_SYS(sys), #sys, 0, 1, { a }, #a, (why) }
#define SC_ALLOW_ARG2(r, sys, a, b, why) \
	{ (r), SCMP_SYS(sys), #sys, 0, 2, { a, b }, #a " && " #b, (why) }
#define SC_ALLOW_ARG3(r, sys, a, b, c, why) \
	{ (r), SCMP_SYS(sys), #sys, 0, 3, { a, b, c }, \
	    #a " && " #b " && " #c, (why) }
#define SC_DENY(r, sys, e, why) \
	{ (r), SCMP_SYS(sys), #sys, (e), 0, { { 0 } }, "", (why) }
#define SC_DENY_ARG(r, sys, e, a, why) \
	{ (r), SCMP_SYS(sys), #sys, (e), 1, { a }, #a, (why) }

/*
 * Soft denials: the call fails with this errno instead of killing, because
 * libc probes it and copes.  Kept apart from the allowlist on purpose.
 */
static const struct sc_rule sc_soft[] = {
	SC_DENY(PSFN, clone3, ENOSYS,
	    "pthread_create() tries it first; glibc falls back to clone(2), whose flags the filter can read"),
	SC_DENY(P_FN, newfstatat, EACCES,
	    "stat by name would disclose any path; glibc's fstat() uses it too and the children cope"),
	SC_DENY_ARG(_S__, newfstatat, EACCES, FSTATAT_NOT_EMPTY_PATH,
	    "stat by name (the fstat() form is in the allowlist)"),
	SC_DENY(PSFN, stat, EACCES,
	    "stat by name"),
	SC_DENY(PSFN, lstat, EACCES,
	    "stat by name"),
	SC_DENY(PSFN, statx, EACCES,
	    "stat by name"),
	SC_DENY(PSFN, access, EACCES,
	    "the loader's /etc/ld.so.preload probe (netproc under the spawner's filter); treated as absent"),
	SC_DENY(PSFN, faccessat, EACCES,
	    "as access"),
	SC_DENY(PSFN, faccessat2, EACCES,
	    "as access"),
	SC_DENY_ARG(_S__, seccomp, EINVAL, SECCOMP_OP(SECCOMP_SET_MODE_STRICT),
	    "netproc: libseccomp's probe for seccomp(2) expects EINVAL; strict mode is never wanted"),
	SC_DENY_ARG(PS__, socket, EACCES, SOCK_DOMAIN(AF_UNIX),
	    "syslog(3) reconnecting; netproc: getaddrinfo's nscd probe; both cope"),
};

/*
 * The allowlist.  P = parent, S = spawner, F = front, N = netproc.
 */
static const struct sc_rule sc_rules[] = {
	/* Memory. */
	SC_ALLOW(PSFN, brk,
	    "malloc"),
	SC_ALLOW_ARG(P_FN, mmap, NO_PROT_EXEC,
	    "malloc of large blocks, buffers; never executable"),
	SC_ALLOW(_S__, mmap,
	    "netproc: the loader maps shared libraries executable"),
	SC_ALLOW_ARG(P_FN, mprotect, NO_PROT_EXEC,
	    "malloc heap growth; never executable"),
	SC_ALLOW(_S__, mprotect,
	    "netproc: the loader (RELRO, text)"),
	SC_ALLOW(PSFN, munmap,
	    "free of large blocks"),
	SC_ALLOW(PSFN, mremap,
	    "realloc of large blocks (the 6.5 MB /provider body)"),
	SC_ALLOW_ARG(PSFN, madvise, MADV(MADV_DONTNEED),
	    "free() gives pages back"),

	/* Descriptors and I/O. */
	SC_ALLOW(PSFN, read,
	    "IPC channels, libevent's signal pipe, log pipes"),
	SC_ALLOW(PSFN, write,
	    "IPC channels, WebSocket frames, log lines on stderr"),
	SC_ALLOW(PSFN, close,
	    "connections, upstream sockets, channels"),
	SC_ALLOW(_SFN, recvfrom,
	    "recv(2): client connections, upstream responses"),
	SC_ALLOW(PSFN, sendto,
	    "send(2): IPC flush, upstream requests, syslog"),
	SC_ALLOW(PSFN, recvmsg,
	    "IPC frames with SCM_RIGHTS descriptors"),
	SC_ALLOW(PS__, sendmsg,
	    "SCM_RIGHTS: parent: the listener and each netproc end to the front; spawner: netproc's end and stderr pipe to the parent"),
	SC_ALLOW(PSFN, poll,
	    "blocking IPC flush; libcurl's connection checks"),
	SC_ALLOW(PSFN, ppoll,
	    "poll(2) on architectures without it"),
	SC_ALLOW(PSFN, epoll_wait,
	    "libevent's loop"),
	SC_ALLOW(PSFN, epoll_pwait,
	    "libevent's loop on architectures without epoll_wait"),
	SC_ALLOW(PSFN, epoll_ctl,
	    "libevent's loop"),
	SC_ALLOW_ARG(PSFN, fcntl, FCNTL_CMD(F_GETFL),
	    "O_NONBLOCK on channels and sockets (libcurl, libevent)"),
	SC_ALLOW_ARG(PSFN, fcntl, FCNTL_CMD(F_SETFL),
	    "O_NONBLOCK on channels and sockets (libcurl, libevent)"),
	SC_ALLOW_ARG(_SFN, fcntl, FCNTL_CMD(F_GETFD),
	    "FD_CLOEXEC (libevent; the spawner before exec)"),
	SC_ALLOW_ARG(_SFN, fcntl, FCNTL_CMD(F_SETFD),
	    "FD_CLOEXEC (libevent; the spawner before exec)"),
	SC_ALLOW_ARG(_SFN, ioctl, IOCTL_REQ(FIONREAD),
	    "libevent sizes a read with it"),
	SC_ALLOW_ARG(_S__, openat, OPEN_READONLY,
	    "netproc: the loader's libraries; netproc's CA bundle, openssl.cnf, /etc/localtime, /etc/hosts; read-only, never creating"),
	SC_ALLOW(_S__, pread64,
	    "netproc: the loader reads ELF headers"),
	SC_ALLOW(_S__, lseek,
	    "netproc: glibc's tzfile reader"),
	SC_ALLOW_ARG(_S__, newfstatat, FSTATAT_EMPTY_PATH,
	    "netproc: fstat() of an open descriptor (the loader checks every library); only by descriptor"),
	SC_ALLOW(_SFN, fstat,
	    "fstat() of an open descriptor on architectures and libcs that still use it"),
	SC_ALLOW(_S__, pipe2,
	    "--syslog: netproc's stderr pipe; netproc: libevent's signal pipe"),
	SC_ALLOW(_S__, dup2,
	    "the forked child puts its channel on fd 3 and /dev/null on 0 and 1"),
	SC_ALLOW(_S__, dup3,
	    "dup2(2) on architectures without it"),
	SC_ALLOW(_S__, close_range,
	    "the forked child closes every inherited descriptor before exec"),
	SC_ALLOW_ARG(_S__, epoll_create1, ARG_EQ(0, EPOLL_CLOEXEC),
	    "netproc: netproc's event_base_new"),

	/* Sockets. */
	SC_ALLOW(__F_, accept4,
	    "new WebSocket clients on the inherited listener"),
	SC_ALLOW(__F_, shutdown,
	    "half-close after a WebSocket close frame"),
	SC_ALLOW_ARG2(__F_, setsockopt, SOCKOPT_LEVEL(IPPROTO_TCP),
	    SOCKOPT_NAME(TCP_NODELAY),
	    "small frames go out at once"),
	SC_ALLOW_ARG3(_S_N, socket, SOCK_DOMAIN(AF_INET), SOCK_TYPE(SOCK_STREAM),
	    SOCK_PROTO(IPPROTO_TCP),
	    "libcurl's upstream connection, IPv4 (the spawner's column too: netproc runs under both filters)"),
	SC_ALLOW_ARG3(_S_N, socket, SOCK_DOMAIN(AF_INET), SOCK_TYPE(SOCK_STREAM),
	    SOCK_PROTO(0),
	    "libcurl's upstream connection, IPv4"),
	SC_ALLOW_ARG3(_S_N, socket, SOCK_DOMAIN(AF_INET6), SOCK_TYPE(SOCK_STREAM),
	    SOCK_PROTO(IPPROTO_TCP),
	    "libcurl's upstream connection, IPv6"),
	SC_ALLOW_ARG3(_S_N, socket, SOCK_DOMAIN(AF_INET6), SOCK_TYPE(SOCK_STREAM),
	    SOCK_PROTO(0),
	    "libcurl's upstream connection, IPv6"),
	SC_ALLOW_ARG2(_S__, socket, SOCK_DOMAIN(AF_INET), SOCK_TYPE(SOCK_DGRAM),
	    "netproc: getaddrinfo's DNS query and source-address sorting, IPv4"),
	SC_ALLOW_ARG2(_S__, socket, SOCK_DOMAIN(AF_INET6), SOCK_TYPE(SOCK_DGRAM),
	    "netproc: getaddrinfo's DNS query and source-address sorting, IPv6"),
	SC_ALLOW(_S_N, connect,
	    "libcurl's upstream connection (netproc: and getaddrinfo's UDP)"),
	SC_ALLOW(_S__, sendmmsg,
	    "netproc: getaddrinfo's DNS queries (A and AAAA at once)"),
	SC_ALLOW(_S_N, getsockname,
	    "libcurl records the local address"),
	SC_ALLOW(_S_N, getpeername,
	    "libcurl records the peer address"),
	SC_ALLOW_ARG2(_S_N, getsockopt, SOCKOPT_LEVEL(SOL_SOCKET),
	    SOCKOPT_NAME(SO_ERROR),
	    "libcurl: the outcome of a non-blocking connect"),
	SC_ALLOW_ARG2(_S__, getsockopt, SOCKOPT_LEVEL(SOL_SOCKET),
	    SOCKOPT_NAME(SO_DOMAIN),
	    "netproc: a child checks that fd 3 is an AF_UNIX socket"),
	SC_ALLOW_ARG2(_S_N, setsockopt, SOCKOPT_LEVEL(IPPROTO_TCP),
	    SOCKOPT_NAME(TCP_NODELAY),
	    "libcurl: requests go out at once"),
	SC_ALLOW_ARG2(_S_N, setsockopt, SOCKOPT_LEVEL(SOL_SOCKET),
	    SOCKOPT_NAME(SO_KEEPALIVE),
	    "CURLOPT_TCP_KEEPALIVE: a dead upstream is noticed"),
	SC_ALLOW_ARG2(_S_N, setsockopt, SOCKOPT_LEVEL(IPPROTO_TCP),
	    SOCKOPT_NAME(TCP_KEEPIDLE),
	    "CURLOPT_TCP_KEEPALIVE"),
	SC_ALLOW_ARG2(_S_N, setsockopt, SOCKOPT_LEVEL(IPPROTO_TCP),
	    SOCKOPT_NAME(TCP_KEEPINTVL),
	    "CURLOPT_TCP_KEEPALIVE"),
	SC_ALLOW_ARG2(_S_N, setsockopt, SOCKOPT_LEVEL(IPPROTO_TCP),
	    SOCKOPT_NAME(TCP_KEEPCNT),
	    "CURLOPT_TCP_KEEPALIVE (newer libcurl)"),
	SC_ALLOW_ARG2(_S__, setsockopt, SOCKOPT_LEVEL(IPPROTO_IP),
	    SOCKOPT_NAME(IP_RECVERR),
	    "netproc: getaddrinfo's DNS socket wants ICMP errors, IPv4"),
	SC_ALLOW_ARG2(_S__, setsockopt, SOCKOPT_LEVEL(IPPROTO_IPV6),
	    SOCKOPT_NAME(IPV6_RECVERR),
	    "netproc: getaddrinfo's DNS socket wants ICMP errors, IPv6"),
	SC_ALLOW_ARG2(_S__, socketpair, SOCK_DOMAIN(AF_UNIX),
	    SOCK_TYPE(SOCK_STREAM),
	    "the channel of a new netproc; netproc: libcurl's wake-up pair"),

	/* Processes and signals. */
	SC_ALLOW_ARG(_S__, clone, CLONE_SIBLING_ONLY,
	    "a new netproc: a process, never a thread, and the parent's child (CLONE_PARENT): the parent reaps it"),
	SC_ALLOW(_S__, execve,
	    "a new netproc re-executes our own binary"),
	SC_ALLOW(_S__, execveat,
	    "as execve, through our binary's descriptor opened before the spawner left root (--user need not reach its directory)"),
	SC_ALLOW(P___, wait4,
	    "reaping the front, the spawner and netprocs (CLONE_PARENT makes them ours)"),
	SC_ALLOW_ARG(P___, pidfd_send_signal, KILL_SIG(SIGTERM),
	    "relaying SIGTERM/SIGINT to the front; stopping netproc; only through a child's pidfd, never kill(2) on a pid"),
	SC_ALLOW_ARG(P___, pidfd_send_signal, KILL_SIG(SIGKILL),
	    "children that do not stop in time; a netproc that misbehaved"),
	SC_ALLOW_ARG2(P_FN, tgkill, TGKILL_SELF, TGKILL_SIG(SIGABRT),
	    "abort() on a failed assertion or heap corruption, to ourselves only"),
	SC_ALLOW_ARG(_S__, tgkill, TGKILL_SIG(SIGABRT),
	    "abort(), ours and a netproc's: netproc runs under this filter too, with a pid it cannot name (SIGABRT only)"),
	SC_ALLOW(PSFN, gettid,
	    "abort(): glibc's raise() signals the calling thread by its id"),
	SC_ALLOW(PSFN, rt_sigaction,
	    "libevent installs and restores its signal handlers"),
	SC_ALLOW(PSFN, rt_sigprocmask,
	    "libevent, abort(), fork"),
	SC_ALLOW(PSFN, rt_sigreturn,
	    "return from a signal handler"),
	SC_ALLOW(PSFN, restart_syscall,
	    "resume an allowed call that a signal interrupted"),
	SC_ALLOW(PSFN, getpid,
	    "log lines carry the pid"),
	SC_ALLOW(PSFN, exit,
	    "exit"),
	SC_ALLOW(PSFN, exit_group,
	    "exit"),

	/* Time, randomness, locks. */
	SC_ALLOW(PSFN, clock_gettime,
	    "timers and log times, when the vDSO falls back to the kernel"),
	SC_ALLOW(PSFN, gettimeofday,
	    "libevent's clock, when the vDSO falls back to the kernel"),
	SC_ALLOW_ARG(_SFN, getrandom, GETRANDOM_FLAGS(0),
	    "OpenSSL's DRBG, glibc's malloc"),
	SC_ALLOW_ARG(_SFN, getrandom, GETRANDOM_FLAGS(GRND_NONBLOCK),
	    "OpenSSL's DRBG, glibc's malloc"),
	SC_ALLOW_ARG(PSFN, futex, FUTEX_CMD(FUTEX_WAIT),
	    "glibc and OpenSSL locks (uncontended without threads)"),
	SC_ALLOW_ARG(PSFN, futex, FUTEX_CMD(FUTEX_WAKE),
	    "glibc and OpenSSL locks, pthread_once"),
	SC_ALLOW_ARG(PSFN, futex, FUTEX_CMD(FUTEX_WAIT_BITSET),
	    "glibc locks with a timeout"),
	SC_ALLOW_ARG(PSFN, futex, FUTEX_CMD(FUTEX_WAKE_BITSET),
	    "glibc locks"),

	/*
	 * Spawner only: the start-up of a netproc it starts (loader, libc,
	 * libcurl/OpenSSL initialisation, privilege drop, sandbox_enter),
	 * which runs under this filter before netproc adds its own.
	 */
	SC_ALLOW(_S__, arch_prctl,
	    "netproc: the loader sets up thread-local storage"),
	SC_ALLOW(_S__, set_tid_address,
	    "netproc: libc start-up"),
	SC_ALLOW(_S__, set_robust_list,
	    "netproc: libc start-up"),
	SC_ALLOW(_S__, rseq,
	    "netproc: libc start-up registers restartable sequences"),
	SC_ALLOW_ARG(_S__, prlimit64, PRLIMIT_SELF,
	    "netproc: libc reads RLIMIT_STACK; RLIMIT_CORE and RLIMIT_NPROC 0; our own limits only"),
	SC_ALLOW_ARG(_S__, prctl, PRCTL_OP(PR_SET_DUMPABLE),
	    "netproc: not dumpable"),
	SC_ALLOW_ARG(_S__, prctl, PRCTL_OP(PR_SET_NO_NEW_PRIVS),
	    "netproc: sandbox_enter"),
	SC_ALLOW_ARG(_S__, prctl, PRCTL_OP(PR_CAPBSET_READ),
	    "netproc: the privilege drop checks that the bounding set is empty (the spawner emptied it)"),
	SC_ALLOW_ARG(_S__, prctl, PRCTL_OP(PR_GET_SECCOMP),
	    "netproc: libseccomp probes the kernel"),
	SC_ALLOW_ARG(_S__, seccomp, SECCOMP_OP(SECCOMP_SET_MODE_FILTER),
	    "netproc: netproc stacks its own, stricter filter"),
	SC_ALLOW_ARG(_S__, seccomp, SECCOMP_OP(SECCOMP_GET_ACTION_AVAIL),
	    "netproc: libseccomp probes the kernel"),
	SC_ALLOW_ARG(_S__, seccomp, SECCOMP_OP(SECCOMP_GET_NOTIF_SIZES),
	    "netproc: libseccomp probes the kernel"),
	SC_ALLOW(_S__, sysinfo,
	    "netproc: OpenSSL's initialisation"),
	SC_ALLOW(_S__, uname,
	    "netproc: libc and OpenSSL initialisation"),
	SC_ALLOW(_S__, getuid,
	    "netproc: libevent and OpenSSL check for set-id execution"),
	SC_ALLOW(_S__, geteuid,
	    "netproc: as getuid"),
	SC_ALLOW(_S__, getgid,
	    "netproc: as getuid"),
	SC_ALLOW(_S__, getegid,
	    "netproc: as getuid"),
	SC_ALLOW(_S__, getresuid,
	    "netproc: the privilege drop checks its result"),
	SC_ALLOW(_S__, getresgid,
	    "netproc: the privilege drop checks its result"),
	SC_ALLOW(_S__, getgroups,
	    "netproc: the privilege drop checks its result"),
	SC_ALLOW(_S__, chroot,
	    "netproc: the privilege drop (to the empty directory), with the CAP_SYS_CHROOT it got from the spawner"),
	SC_ALLOW(_S__, capset,
	    "netproc: the privilege drop clears CAP_SYS_CHROOT, its one capability; the spawner permits no other, so this only lowers"),
	SC_ALLOW(_S__, capget,
	    "netproc: the privilege drop checks that no capability is left"),
	SC_ALLOW(_S__, chdir,
	    "netproc: the privilege drop (chdir(\"/\") in the chroot)"),
	SC_ALLOW(_S__, setresgid,
	    "netproc: the privilege drop"),
	SC_ALLOW(_S__, setresuid,
	    "netproc: the privilege drop"),
	SC_ALLOW(_S__, setuid,
	    "netproc: the privilege drop verifies that setuid(0) fails"),
	SC_ALLOW(_S__, setgid,
	    "netproc: the privilege drop verifies that setgid(0) fails"),
};

static const char *const sc_role_names[] = {
	[SANDBOX_PARENT] = "parent",
	[SANDBOX_FRONT] = "front",
	[SANDBOX_NETPROC] = "netproc",
	[SANDBOX_SPAWNER] = "spawner",
};

#ifdef SANDBOX_SECCOMP_DEBUG
/*
 * The SIGSYS handler may only make async-signal-safe calls, and resolving a
 * syscall number with libseccomp allocates: every name is looked up before
 * the filter goes on and kept in this table.
 */
#define SC_NAMES_MAX	1024

static const char	*sc_names[SC_NAMES_MAX];
static const char	*sc_debug_role = "?";

static size_t
sc_append(char *buf, size_t off, size_t len, const char *s)
{
	while (*s != '\0' && off < len)
		buf[off++] = *s++;
	return off;
}

static size_t
sc_append_num(char *buf, size_t off, size_t len, long v)
{
	char digits[24];
	size_t n = 0;
	unsigned long u = v < 0 ? 0UL - (unsigned long)v : (unsigned long)v;

	do {
		digits[n++] = (char)('0' + u % 10);
		u /= 10;
	} while (u != 0 && n < sizeof(digits));
	if (v < 0 && off < len)
		buf[off++] = '-';
	while (n > 0 && off < len)
		buf[off++] = digits[--n];
	return off;
}

static void
sc_sigsys(int sig, siginfo_t *info, void *uctx)
{
	char msg[160];
	size_t off = 0;
	int nr = info->si_syscall;
	const char *name = NULL;

	(void)sig;
	(void)uctx;
	if (nr >= 0 && nr < SC_NAMES_MAX)
		name = sc_names[nr];
	off = sc_append(msg, off, sizeof(msg), "sandbox: role ");
	off = sc_append(msg, off, sizeof(msg), sc_debug_role);
	off = sc_append(msg, off, sizeof(msg), " denied syscall ");
	off = sc_append(msg, off, sizeof(msg), name != NULL ? name : "?");
	off = sc_append(msg, off, sizeof(msg), " (");
	off = sc_append_num(msg, off, sizeof(msg), nr);
	off = sc_append(msg, off, sizeof(msg), ")\n");
	(void)!write(STDERR_FILENO, msg, off);
	/*
	 * Die of SIGSYS as the production filter would make us: a second
	 * trapped call while SIGSYS is blocked (we are in its handler) makes
	 * the kernel deliver it with the default action.  getppid is in no
	 * allowlist; should it ever be, _exit tells the same story.
	 */
	(void)syscall(SYS_getppid);
	_exit(128 + SIGSYS);
}

static int
sc_debug_init(enum sandbox_role role)
{
	struct sigaction sa;

	sc_debug_role = sc_role_names[role];
	for (int nr = 0; nr < SC_NAMES_MAX; nr++)
		if (sc_names[nr] == NULL)
			sc_names[nr] = seccomp_syscall_resolve_num_arch(
			    SCMP_ARCH_NATIVE, nr);
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = sc_sigsys;
	sa.sa_flags = SA_SIGINFO;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGSYS, &sa, NULL) == -1)
		return -1;
	return 0;
}
#endif /* SANDBOX_SECCOMP_DEBUG */

static void
sc_describe_table(FILE *fp, const struct sc_rule *rules, size_t n,
    unsigned bit)
{
	size_t lines = 0, names = 0;

	for (size_t i = 0; i < n; i++) {
		size_t j;

		if ((rules[i].roles & bit) == 0)
			continue;
		lines++;
		for (j = 0; j < i; j++)
			if ((rules[j].roles & bit) != 0 &&
			    strcmp(rules[j].name, rules[i].name) == 0)
				break;
		if (j == i)
			names++;
	}
	fprintf(fp, "%zu syscalls, %zu lines\n\n", names, lines);
	fprintf(fp, "| syscall | argument check | why |\n| --- | --- | --- |\n");
	for (size_t i = 0; i < n; i++)
		if ((rules[i].roles & bit) != 0)
			fprintf(fp, "| `%s` | %s%s%s | %s |\n", rules[i].name,
			    *rules[i].cond != '\0' ? "`" : "", rules[i].cond,
			    *rules[i].cond != '\0' ? "`" : "", rules[i].why);
}

int
sandbox_seccomp_describe(FILE *fp)
{
	/* The picture's order, as in the source. */
	static const enum sandbox_role col_roles[] = { SANDBOX_PARENT,
	    SANDBOX_SPAWNER, SANDBOX_FRONT, SANDBOX_NETPROC };
	static const char *const role_cols[] = { "P", "S", "F", "N" };
	const size_t nrules = sizeof(sc_rules) / sizeof(sc_rules[0]);
	const size_t nsoft = sizeof(sc_soft) / sizeof(sc_soft[0]);

	for (int role = SANDBOX_FRONT; role <= SANDBOX_NETPROC; role++) {
		fprintf(fp, "#### %s: ", sc_role_names[role]);
		sc_describe_table(fp, sc_rules, nrules, 1u << role);
		fprintf(fp, "\n");
	}
	fprintf(fp, "#### %s: ", sc_role_names[SANDBOX_PARENT]);
	sc_describe_table(fp, sc_rules, nrules, 1u << SANDBOX_PARENT);
	fprintf(fp, "\n#### %s: ", sc_role_names[SANDBOX_SPAWNER]);
	sc_describe_table(fp, sc_rules, nrules, 1u << SANDBOX_SPAWNER);
	fprintf(fp, "\n#### Soft denials\n\n"
	    "| roles | syscall | argument check | errno | why |\n"
	    "| --- | --- | --- | --- | --- |\n");
	for (size_t i = 0; i < nsoft; i++) {
		const struct sc_rule *r = &sc_soft[i];

		fprintf(fp, "| ");
		for (int c = 0; c < 4; c++)
			fprintf(fp, "%s", (r->roles & (1u << col_roles[c])) != 0 ?
			    role_cols[c] : "-");
		fprintf(fp, " | `%s` | %s%s%s | %s | %s |\n", r->name,
		    *r->cond != '\0' ? "`" : "", r->cond,
		    *r->cond != '\0' ? "`" : "",
		    r->err == EACCES ? "EACCES" : r->err == ENOSYS ? "ENOSYS" :
		    r->err == EINVAL ? "EINVAL" : "?", r->why);
	}
	return ferror(fp) ? -1 : 0;
}

const char *
sandbox_backend(void)
{
	return "seccomp";
}

int
sandbox_available(void)
{
	/* -1 (EINVAL) when the kernel has no seccomp at all. */
	if (prctl(PR_GET_SECCOMP, 0, 0, 0, 0) < 0)
		return 0;
	/* 3: filters, the seccomp(2) syscall and SECCOMP_RET_KILL_PROCESS
	 * (Linux 4.14). */
	if (seccomp_api_get() < 3)
		return 0;
	return 1;
}

/* Rules may name our own pid (tgkill to ourselves). */
static void
sc_fixup(struct scmp_arg_cmp *args, unsigned nargs)
{
	for (unsigned i = 0; i < nargs; i++)
		if (args[i].op == SCMP_CMP_EQ && args[i].datum_a == SC_PID_SELF)
			args[i].datum_a = (scmp_datum_t)getpid();
}

static int
sc_add(scmp_filter_ctx ctx, const struct sc_rule *r, uint32_t action)
{
	struct scmp_arg_cmp args[SC_MAX_ARGS];
	int rc;

	/* A syscall this architecture does not have (epoll_wait on aarch64)
	 * has a negative pseudo-number: nothing to allow or deny. */
	if (r->nr < 0)
		return 0;
	memcpy(args, r->args, sizeof(args));
	sc_fixup(args, r->nargs);
	rc = seccomp_rule_add_array(ctx, action, r->nr, r->nargs, args);
	if (rc < 0) {
		errno = -rc;
		log_warn("seccomp rule for %s", r->name);
		return -1;
	}
	return 0;
}

static const unsigned sc_data_mb[] = {
	[SANDBOX_PARENT] = SANDBOX_DATA_MB_PARENT,
	[SANDBOX_FRONT] = SANDBOX_DATA_MB_FRONT,
	[SANDBOX_NETPROC] = SANDBOX_DATA_MB_NETPROC,
	[SANDBOX_SPAWNER] = SANDBOX_DATA_MB_SPAWNER,
};

static int
sc_limits(enum sandbox_role role)
{
	struct rlimit zero = { 0, 0 }, data;

	/*
	 * No new processes or threads, even should a filter line ever let
	 * clone through (not enforced while still root, which is why the
	 * privilege drop comes first).  The parent too: once its filter is on
	 * it never forks (the spawner, which does, keeps its limit).  RLIMIT_FSIZE is left alone: stderr
	 * may be a log file, and writing past a 0 limit raises SIGXFSZ.
	 * RLIMIT_NOFILE is left alone too: the front needs one descriptor per
	 * client, and prlimit64 is not allowed, so no limit can be raised.
	 */
	if (role == SANDBOX_FRONT || role == SANDBOX_NETPROC ||
	    role == SANDBOX_PARENT) {
		if (setrlimit(RLIMIT_NPROC, &zero) == -1) {
			log_warn("setrlimit(RLIMIT_NPROC)");
			return -1;
		}
	}
	if (setrlimit(RLIMIT_CORE, &zero) == -1) {
		log_warn("setrlimit(RLIMIT_CORE)");
		return -1;
	}
	/* Memory bounded per process, not only per item: a role that goes
	 * past this gets ENOMEM from malloc, not the machine's memory. */
	data.rlim_cur = data.rlim_max = (rlim_t)sc_data_mb[role] * 1024 * 1024;
	if (setrlimit(RLIMIT_DATA, &data) == -1) {
		log_warn("setrlimit(RLIMIT_DATA)");
		return -1;
	}
	return 0;
}

int
sandbox_enter(enum sandbox_role role)
{
	scmp_filter_ctx ctx;
	uint32_t deflt = SCMP_ACT_KILL_PROCESS;
	unsigned bit;
	int rc;

	if ((unsigned)role >= sizeof(sc_role_names) / sizeof(sc_role_names[0])) {
		errno = EINVAL;
		return -1;
	}
	bit = 1u << role;
#ifdef SANDBOX_SECCOMP_DEBUG
	deflt = SCMP_ACT_TRAP;
	if (sc_debug_init(role) == -1) {
		log_warn("sandbox debug: SIGSYS handler");
		return -1;
	}
	log_warnx("sandbox: DEBUG filter (denied syscalls trap and are "
	    "reported); not for production");
#endif
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == -1) {
		log_warn("prctl(PR_SET_NO_NEW_PRIVS)");
		return -1;
	}
	if (sc_limits(role) == -1)
		return -1;

	/* seccomp_init adds the native architecture only. */
	if ((ctx = seccomp_init(deflt)) == NULL) {
		log_warnx("seccomp_init failed");
		errno = ENOMEM;
		return -1;
	}
	/* Another architecture's syscall (x32, i386 on x86_64) is always
	 * fatal, in the debug mode too: its numbers mean other calls. */
	if ((rc = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH,
	    SCMP_ACT_KILL_PROCESS)) < 0 ||
	    (rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 1)) < 0) {
		errno = -rc;
		log_warn("seccomp_attr_set");
		goto fail;
	}
	for (size_t i = 0; i < sizeof(sc_soft) / sizeof(sc_soft[0]); i++)
		if ((sc_soft[i].roles & bit) != 0 &&
		    sc_add(ctx, &sc_soft[i], SCMP_ACT_ERRNO(sc_soft[i].err)) == -1)
			goto fail;
	for (size_t i = 0; i < sizeof(sc_rules) / sizeof(sc_rules[0]); i++)
		if ((sc_rules[i].roles & bit) != 0 &&
		    sc_add(ctx, &sc_rules[i], SCMP_ACT_ALLOW) == -1)
			goto fail;
	if ((rc = seccomp_load(ctx)) < 0) {
		errno = -rc;
		log_warn("seccomp_load");
		goto fail;
	}
	seccomp_release(ctx);
	log_debug("sandbox: seccomp filter for %s loaded", sc_role_names[role]);
	return 0;
 fail:
	seccomp_release(ctx);
	return -1;
}
