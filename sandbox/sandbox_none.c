/*
 * Copyright (c) 2026 The ocbroker authors
 * SPDX-License-Identifier: ISC (the licence is in the file LICENSE)
 */

/* No sandbox backend: ocbroker only runs with --insecure-no-sandbox. */
#include "config.h"

#include <errno.h>

#include "sandbox/sandbox.h"

const char *
sandbox_backend(void)
{
	return "none";
}

int
sandbox_available(void)
{
	return 0;
}

int
sandbox_enter(enum sandbox_role role)
{
	(void)role;
	errno = ENOSYS;
	return -1;
}
