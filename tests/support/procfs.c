/*
 * Copyright (c) 2026 The ocbroker authors
 * SPDX-License-Identifier: ISC (the licence is in the file LICENSE)
 */

/*
 * /proc readers for the tests that watch ocbroker's processes.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif
#ifndef _GNU_SOURCE
#define _GNU_SOURCE	/* O_CLOEXEC under -std=c11 (the failalloc.so rule) */
#endif

#include <sys/types.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/support/clock.h"
#include "tests/support/procfs.h"

#define MAX_KIDS	8

int
procfs_children(pid_t parent, pid_t *out, int max)
{
	char path[64], buf[256], *p, *end;
	FILE *fp;
	int n = 0;

	snprintf(path, sizeof(path), "/proc/%ld/task/%ld/children",
	    (long)parent, (long)parent);
	if ((fp = fopen(path, "re")) == NULL)
		return -1;
	if (fgets(buf, sizeof(buf), fp) == NULL)
		buf[0] = '\0';
	fclose(fp);
	for (p = buf; n < max; p = end) {
		long v = strtol(p, &end, 10);

		if (end == p)
			break;
		out[n++] = (pid_t)v;
	}
	return n;
}

ssize_t
procfs_cmdline(pid_t pid, char *buf, size_t size)
{
	return procfs_read(pid, "cmdline", buf, size);
}

ssize_t
procfs_read(pid_t pid, const char *file, char *buf, size_t size)
{
	char path[64];
	size_t len = 0;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%ld/%s", (long)pid, file);
	if (size == 0 || (fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return -1;
	while (len < size - 1 &&
	    (n = read(fd, buf + len, size - 1 - len)) > 0)
		len += (size_t)n;
	close(fd);
	buf[len] = '\0';
	return (ssize_t)len;
}

const char *
procfs_cmdline_role(const char *cmd, size_t len)
{
	size_t off;

	for (off = 0; off < len; off += strlen(cmd + off) + 1)
		if (strcmp(cmd + off, "--role") == 0 &&
		    off + sizeof("--role") < len)
			return cmd + off + sizeof("--role");
	return NULL;
}

pid_t
procfs_role_pid(pid_t parent, const char *role)
{
	pid_t kids[MAX_KIDS];
	int n = procfs_children(parent, kids, MAX_KIDS);

	for (int i = 0; i < n; i++) {
		char cmd[256];
		const char *r;
		ssize_t len;

		if ((len = procfs_cmdline(kids[i], cmd, sizeof(cmd))) == -1)
			continue;
		r = procfs_cmdline_role(cmd, (size_t)len);
		if (role == NULL ? r == NULL :
		    r != NULL && strcmp(r, role) == 0)
			return kids[i];
	}
	return -1;
}

pid_t
procfs_wait_role(pid_t parent, const char *role, int timeout_ms)
{
	int64_t deadline = it_now_ms() + timeout_ms;
	pid_t pid;

	while ((pid = procfs_role_pid(parent, role)) == -1 &&
	    it_now_ms() < deadline)
		usleep(10 * 1000);
	return pid;
}

static pid_t
descend(pid_t root, const char *role, int depth)
{
	pid_t kids[MAX_KIDS], found;
	int n;

	if ((found = procfs_role_pid(root, role)) != -1 || depth == 0)
		return found;
	n = procfs_children(root, kids, MAX_KIDS);
	for (int i = 0; i < n && found == -1; i++)
		found = descend(kids[i], role, depth - 1);
	return found;
}

pid_t
procfs_descendant(pid_t root, const char *role)
{
	return descend(root, role, 2);
}

int
procfs_line(pid_t pid, const char *file, const char *prefix, char *line,
    size_t len)
{
	char path[64];
	size_t plen = strlen(prefix);
	int rc = -1;
	FILE *fp;

	snprintf(path, sizeof(path), "/proc/%ld/%s", (long)pid, file);
	if ((fp = fopen(path, "re")) == NULL)
		return -1;
	while (rc == -1 && fgets(line, (int)len, fp) != NULL)
		if (strncmp(line, prefix, plen) == 0)
			rc = 0;
	fclose(fp);
	return rc;
}

long
procfs_status(pid_t pid, const char *key)
{
	char prefix[64], line[256];

	snprintf(prefix, sizeof(prefix), "%s:", key);
	if (procfs_line(pid, "status", prefix, line, sizeof(line)) == -1)
		return -1;
	return strtol(line + strlen(prefix), NULL, 10);
}

/*
 * /proc/PID/stat read into line, from the ')' that ends the command name
 * (which may hold spaces): " state ppid ..." follows it.  NULL on error.
 */
static const char *
stat_after_comm(pid_t pid, char *line, size_t len)
{
	if (procfs_line(pid, "stat", "", line, len) == -1)
		return NULL;
	return strrchr(line, ')');
}

long
procfs_minflt(pid_t pid)
{
	char line[1024];
	const char *p;
	int field;

	/* ") state ppid pgrp session tty tpgid flags minflt": field 10. */
	p = stat_after_comm(pid, line, sizeof(line));
	for (field = 2; field < 10 && p != NULL; field++)
		p = strchr(p + 1, ' ');
	return p != NULL ? strtol(p + 1, NULL, 10) : -1;
}

int
procfs_state(pid_t pid)
{
	char line[1024];
	const char *p;

	if ((p = stat_after_comm(pid, line, sizeof(line))) == NULL ||
	    p[1] != ' ' || p[2] == '\0')
		return -1;
	return (unsigned char)p[2];
}

int
procfs_asleep(pid_t pid, int looks)
{
	int asleep = 0;

	for (int i = 0; i < looks; i++) {
		asleep += procfs_state(pid) == 'S';
		usleep(10 * 1000);
	}
	return asleep;
}

int
procfs_maps_has(pid_t pid, const char *s)
{
	char path[64], line[512];
	int found = 0;
	FILE *fp;

	snprintf(path, sizeof(path), "/proc/%ld/maps", (long)pid);
	if ((fp = fopen(path, "re")) == NULL)
		return -1;
	while (!found && fgets(line, sizeof(line), fp) != NULL)
		found = strstr(line, s) != NULL;
	fclose(fp);
	return found;
}
