/*
 * Copyright (c) 2026 The ocbroker authors
 * SPDX-License-Identifier: ISC (the licence is in the file LICENSE)
 */

/*
 * Dropping root, in OpenSSH's order: chroot to an empty directory, chdir("/"),
 * setgroups, setresgid, setresuid, and then proving that the old ids cannot
 * be had back.  Shared by every sandbox backend; see sandbox.h.
 *
 * The chroot directory is SANDBOX_CHROOT_DIR, one fixed directory shared by
 * every instance (as OpenSSH's /run/sshd), not a per-run mkdtemp directory:
 * nothing has to be removed at exit (the parent's filter has no rmdir), a
 * killed parent leaves nothing behind, and a netproc restarted hours later
 * still finds it.  The parent creates it when it is missing and refuses to
 * start when it is not empty, not root-owned or writable by anyone else.
 */
#include "config.h"

#include <sys/types.h>
#include <sys/stat.h>
#ifdef __linux__
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <linux/capability.h>
#include <linux/securebits.h>
#endif

#include <dirent.h>
#include <errno.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "sandbox/sandbox.h"

int
sandbox_user_lookup(const char *name, uid_t *uid, gid_t *gid)
{
	struct passwd *pw;

	errno = 0;
	if ((pw = getpwnam(name)) == NULL) {
		if (errno != 0)
			log_warn("user %s", name);
		else
			log_warnx("user %s does not exist", name);
		return -1;
	}
	/* Dropping to root (or to a root group) would drop nothing. */
	if (pw->pw_uid == 0 || pw->pw_gid == 0) {
		log_warnx("user %s has uid or gid 0; choose an unprivileged "
		    "user with --user", name);
		return -1;
	}
	*uid = pw->pw_uid;
	*gid = pw->pw_gid;
	return 0;
}

/* One directory on the way: root-owned, not a symlink, not writable by
 * group or others. */
static int
check_component(const char *path)
{
	struct stat st;

	if (lstat(path, &st) == -1) {
		log_warn("chroot directory: %s", path);
		return -1;
	}
	if (!S_ISDIR(st.st_mode)) {
		log_warnx("chroot directory: %s is not a directory", path);
		return -1;
	}
	if (st.st_uid != 0) {
		log_warnx("chroot directory: %s is not owned by root", path);
		return -1;
	}
	/* The sticky bit does not help here: others could still put an entry
	 * in it. */
	if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
		log_warnx("chroot directory: %s is writable by group or others",
		    path);
		return -1;
	}
	return 0;
}

static int
check_empty(const char *dir)
{
	struct dirent *de;
	DIR *d;
	int rc = 0;

	if ((d = opendir(dir)) == NULL) {
		log_warn("chroot directory: %s", dir);
		return -1;
	}
	while ((errno = 0, de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		log_warnx("chroot directory: %s is not empty", dir);
		rc = -1;
		break;
	}
	if (rc == 0 && errno != 0) {
		log_warn("chroot directory: %s", dir);
		rc = -1;
	}
	closedir(d);
	return rc;
}

int
sandbox_chroot_prepare(const char *dir)
{
	char path[PATH_MAX];
	size_t len;

	len = strlen(dir);
	if (len == 0 || dir[0] != '/' || len >= sizeof(path)) {
		log_warnx("chroot directory: %s is not an absolute path", dir);
		return -1;
	}
	/* umask may be anything; 0755 and root's ownership are checked below
	 * either way. */
	if (mkdir(dir, 0755) == -1 && errno != EEXIST) {
		log_warn("chroot directory: mkdir %s", dir);
		return -1;
	}
	/* Every directory from "/" down: a writable one above would let its
	 * owner swap the chroot directory for another. */
	memcpy(path, dir, len + 1);
	for (char *p = path + 1;; p++) {
		if (*p == '/' || *p == '\0') {
			char c = *p;

			*p = '\0';
			if (check_component(path) == -1)
				return -1;
			*p = c;
			if (c == '\0')
				break;
		}
	}
	if (check_component("/") == -1)
		return -1;
	return check_empty(dir);
}

/*
 * Proves a change of ids: uid and gid in every slot, gid the one group,
 * and neither uid 0 nor gid 0 to be had back.  who starts each message.
 */
static int
ids_hold(const char *who, uid_t uid, gid_t gid)
{
	uid_t ruid, euid, suid;
	gid_t rgid, egid, sgid, groups[2];

	if (getresuid(&ruid, &euid, &suid) == -1 ||
	    getresgid(&rgid, &egid, &sgid) == -1) {
		log_warn("%s: getresuid/getresgid", who);
		return -1;
	}
	if (ruid != uid || euid != uid || suid != uid ||
	    rgid != gid || egid != gid || sgid != gid) {
		log_warnx("%s: ids are %ld/%ld/%ld:%ld/%ld/%ld, expected %ld:%ld",
		    who, (long)ruid, (long)euid, (long)suid,
		    (long)rgid, (long)egid, (long)sgid, (long)uid, (long)gid);
		return -1;
	}
	if (getgroups(2, groups) != 1 || groups[0] != gid) {
		log_warnx("%s: supplementary groups remain", who);
		return -1;
	}
	if (setuid(0) != -1 || seteuid(0) != -1) {
		log_warnx("%s: uid 0 could be regained", who);
		return -1;
	}
	if (setgid(0) != -1 || setegid(0) != -1) {
		log_warnx("%s: gid 0 could be regained", who);
		return -1;
	}
	return 0;
}

#ifdef __linux__
/* Drops from the bounding set every capability not in keep (a mask of
 * CAP_* bits); needs CAP_SETPCAP for each one still there (a netproc, whose
 * spawner emptied the set, has nothing to drop and no CAP_SETPCAP).  0 or -1
 * (logged). */
static int
bounding_limit(uint64_t keep)
{
	int cap, r;

	for (cap = 0; cap < 64; cap++) {
		if ((keep & (1ULL << cap)) != 0)
			continue;
		if ((r = prctl(PR_CAPBSET_READ, cap, 0, 0, 0)) == 0)
			continue;
		if (r == -1 && errno == EINVAL)
			break;	/* past the kernel's last one */
		if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) == -1) {
			log_warn("prctl(PR_CAPBSET_DROP, %d)", cap);
			return -1;
		}
	}
	/* Prove it. */
	for (cap = 0; cap < 64; cap++) {
		r = prctl(PR_CAPBSET_READ, cap, 0, 0, 0);
		if (r == -1)
			break;
		if (r == 1 && (keep & (1ULL << cap)) == 0) {
			log_warnx("capability %d is still in the bounding set",
			    cap);
			return -1;
		}
	}
	return 0;
}

/* The three capability sets, as masks of CAP_* bits: capget(2), or with
 * set capset(2).  0 or -1. */
static int
caps_io(int set, uint64_t *eff, uint64_t *prm, uint64_t *inh)
{
	struct __user_cap_header_struct hdr;
	struct __user_cap_data_struct d[2];

	memset(&hdr, 0, sizeof(hdr));
	memset(d, 0, sizeof(d));
	hdr.version = _LINUX_CAPABILITY_VERSION_3;
	if (set) {
		for (int i = 0; i < 2; i++) {
			d[i].effective = (uint32_t)(*eff >> (32 * i));
			d[i].permitted = (uint32_t)(*prm >> (32 * i));
			d[i].inheritable = (uint32_t)(*inh >> (32 * i));
		}
		return (int)syscall(SYS_capset, &hdr, d);
	}
	if (syscall(SYS_capget, &hdr, d) == -1)
		return -1;
	*eff = (uint64_t)d[1].effective << 32 | d[0].effective;
	*prm = (uint64_t)d[1].permitted << 32 | d[0].permitted;
	*inh = (uint64_t)d[1].inheritable << 32 | d[0].inheritable;
	return 0;
}

static int
caps_set(uint64_t eff, uint64_t prm, uint64_t inh)
{
	return caps_io(1, &eff, &prm, &inh);
}

/* Are the three sets exactly these?  1, 0, or -1. */
static int
caps_are(uint64_t eff, uint64_t prm, uint64_t inh)
{
	uint64_t e, p, i;

	if (caps_io(0, &e, &p, &i) == -1)
		return -1;
	return e == eff && p == prm && i == inh;
}

int
sandbox_spawner_caps(void)
{
	const uint64_t eff = (1ULL << CAP_SETUID) | (1ULL << CAP_SETGID) |
	    (1ULL << CAP_SYS_CHROOT);
	/* CAP_SETPCAP is never effective here: it only passes through to a
	 * netproc (a root exec gets what we permit and bound), which needs it
	 * to empty its own bounding set.  A sanitizer build only: with a
	 * privilege drop the spawner leaves root (sandbox_spawner_drop). */
	const uint64_t prm = eff | (1ULL << CAP_SETPCAP);

	if (geteuid() != 0)
		return 0;
	if (bounding_limit(prm) == -1)
		return -1;
	if (caps_set(eff, prm, 0) == -1) {
		log_warn("capset");
		return -1;
	}
	return 0;
}

int
sandbox_spawner_drop(uid_t uid, gid_t gid)
{
	/* What a netproc needs for its chroot, and the spawner for nothing:
	 * not effective here, passed on as an ambient capability. */
	const uint64_t pass = 1ULL << CAP_SYS_CHROOT;
	/* And what the steps below take. */
	const uint64_t work = pass | (1ULL << CAP_SETUID) |
	    (1ULL << CAP_SETGID) | (1ULL << CAP_SETPCAP);
	const int bits = SECBIT_NO_SETUID_FIXUP | SECBIT_NO_SETUID_FIXUP_LOCKED |
	    SECBIT_NOROOT | SECBIT_NOROOT_LOCKED | SECBIT_KEEP_CAPS_LOCKED;

	if (uid == 0 || gid == 0) {
		log_warnx("spawner: refusing to \"drop\" to uid or gid 0");
		return -1;
	}
	/* The uid change below leaves the capability sets alone, and uid 0
	 * means nothing at exec any more; locked, for the netprocs too. */
	if (prctl(PR_SET_SECUREBITS, bits, 0, 0, 0) == -1) {
		log_warn("spawner: PR_SET_SECUREBITS");
		return -1;
	}
	/* Inheritable while the bounding set still has it (capset refuses it
	 * after); the ambient set is not bounded, so the set can go empty. */
	if (caps_set(work, work, pass) == -1) {
		log_warn("spawner: capset");
		return -1;
	}
	if (bounding_limit(0) == -1)
		return -1;
	/* --user's ids, its own group as the only one. */
	if (setgroups(1, &gid) == -1 || setresgid(gid, gid, gid) == -1 ||
	    setresuid(uid, uid, uid) == -1) {
		log_warn("spawner: cannot become uid %ld", (long)uid);
		return -1;
	}
	if (caps_set(0, pass, pass) == -1 ||
	    prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, CAP_SYS_CHROOT, 0, 0) == -1) {
		log_warn("spawner: capabilities");
		return -1;
	}

	/* Prove it. */
	if (caps_are(0, pass, pass) != 1 ||
	    prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, CAP_SYS_CHROOT, 0, 0) != 1 ||
	    prctl(PR_GET_SECUREBITS, 0, 0, 0, 0) != bits) {
		log_warnx("spawner: capabilities are not as set");
		return -1;
	}
	return ids_hold("spawner", uid, gid);
}
#else
int
sandbox_spawner_caps(void)
{
	return 0;
}

int
sandbox_spawner_drop(uid_t uid, gid_t gid)
{
	(void)uid;
	(void)gid;
	errno = ENOSYS;
	return -1;
}
#endif

int
sandbox_drop_privileges(const char *dir, uid_t uid, gid_t gid)
{
	gid_t groups[2];
	int n;

	if (dir == NULL || *dir != '/') {
		log_warnx("privilege drop: no chroot directory");
		return -1;
	}
	if (uid == 0 || gid == 0) {
		log_warnx("privilege drop: refusing to \"drop\" to uid or gid 0");
		return -1;
	}
#ifdef __linux__
	/* An empty bounding set: nothing can ever be had back, not even by
	 * exec.  Our effective capabilities stay for what follows. */
	if (bounding_limit(0) == -1)
		return -1;
#endif
	if (chroot(dir) == -1) {
		log_warn("chroot %s", dir);
		return -1;
	}
	if (chdir("/") == -1) {
		log_warn("chdir to the new root");
		return -1;
	}
	/* A netproc's spawner left it gid as its one group already, and no
	 * CAP_SETGID to set it again. */
	if (((n = getgroups(2, groups)) != 1 || groups[0] != gid) &&
	    setgroups(1, &gid) == -1) {
		log_warn("setgroups");
		return -1;
	}
	if (setresgid(gid, gid, gid) == -1) {
		log_warn("setresgid");
		return -1;
	}
	if (setresuid(uid, uid, uid) == -1) {
		log_warn("setresuid");
		return -1;
	}
#ifdef __linux__
	/* Leaving uid 0 cleared them; a netproc never had uid 0 and holds
	 * CAP_SYS_CHROOT (ambient, from the spawner) until here. */
	if (caps_set(0, 0, 0) == -1 || caps_are(0, 0, 0) != 1) {
		log_warn("privilege drop: capabilities remain");
		return -1;
	}
#endif

	/* Prove it: the old ids must be gone from every slot, and must not
	 * come back. */
	if (ids_hold("privilege drop", uid, gid) == -1)
		return -1;
	return 0;
}
