/*
 * One small interface to the operating system's sandbox, as OpenSSH has it:
 * a backend per system, chosen by configure (--with-sandbox=...).
 */
#ifndef OCB_SANDBOX_H
#define OCB_SANDBOX_H

enum sandbox_role {
	SANDBOX_PARENT,
	SANDBOX_FRONT,
	SANDBOX_NETPROC,
};

/* The backend's name for the start-up log line ("seccomp", "none", ...). */
const char	*sandbox_backend(void);
/* 1 when this build and this machine can confine processes. */
int		 sandbox_available(void);
/* Confines the calling process for the rest of its life; 0 or -1.
 * Failing to confine is fatal for the caller. */
int		 sandbox_enter(enum sandbox_role);

#endif
