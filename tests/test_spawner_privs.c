/*
 * Copyright (c) 2026 The ocbroker authors
 * SPDX-License-Identifier: ISC (the licence is in the file LICENSE)
 */

/*
 * What the spawner can do, seen from outside (/proc/PID/status) on the real
 * binary started as root with its sandbox on: it runs as --user (nobody),
 * with its own group as its only group, and holds CAP_SYS_CHROOT alone,
 * permitted, inheritable and ambient but not effective, with an empty
 * bounding set: not uid 0, so DAC no longer lets it read root's files
 * (/etc/shadow is 0640 root:shadow).  The netproc it starts ends with no
 * capability at all.  A root-only --upstream-ca (0600 in a 0700 directory)
 * still reaches netproc: the spawner read it as root, and netproc holds the
 * sealed copy on fd 4.  Exit 77 unless root with the sandbox on.
 */
#include "config.h"

#include <sys/types.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "tests/support/itest.h"

#define WAIT_MS		10000
#define SKIP_ALL	77

#define CAP_SYS_CHROOT_BIT	(1ULL << 18)

static struct it_env e;

/* What a process's /proc/PID/status says: read whole, then searched. */
struct status {
	pid_t	pid;
	char	text[8192];
};

static void
status_read(struct status *st, pid_t pid)
{
	char path[64];
	ssize_t n;
	int fd;

	st->pid = pid;
	snprintf(path, sizeof(path), "/proc/%ld/status", (long)pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		fail_msg("%s: %s", path, strerror(errno));
	n = read(fd, st->text, sizeof(st->text) - 1);
	close(fd);
	assert_true(n > 0);
	st->text[n] = '\0';
}

/* The rest of the "Key:" line, without its newline, in out. */
static void
status_field(const struct status *st, const char *key, char *out, size_t len)
{
	char pat[32];
	const char *at, *end;

	snprintf(pat, sizeof(pat), "\n%s:", key);
	if ((at = strstr(st->text, pat)) == NULL)
		fail_msg("pid %ld: no %s line", (long)st->pid, key);
	at += strlen(pat);
	end = strchr(at, '\n');
	snprintf(out, len, "%.*s", (int)(end != NULL ? end - at :
	    (ptrdiff_t)strlen(at)), at);
}

/* Real, effective, saved and filesystem ids (the Uid: or Gid: line) are
 * all id. */
static void
assert_ids(const struct status *st, const char *key, unsigned long id)
{
	char v[128];
	unsigned long a, b, c, d;

	status_field(st, key, v, sizeof(v));
	if (sscanf(v, "%lu %lu %lu %lu", &a, &b, &c, &d) != 4 ||
	    a != id || b != id || c != id || d != id)
		fail_msg("pid %ld: %s:%s, want %lu everywhere", (long)st->pid,
		    key, v, id);
}

/* The Groups: line is exactly gid. */
static void
assert_groups(const struct status *st, unsigned long gid)
{
	char v[256];
	unsigned long g;
	int used = 0;

	status_field(st, "Groups", v, sizeof(v));
	if (sscanf(v, "%lu %n", &g, &used) != 1 || g != gid ||
	    v[used] != '\0')
		fail_msg("pid %ld: Groups:%s, want only %lu", (long)st->pid, v,
		    gid);
}

/* The five capability sets, in /proc's hexadecimal. */
static const char *const cap_keys[] = {
	"CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb",
};

static void
assert_caps(const struct status *st, const unsigned long long want[5])
{
	char v[64];

	for (size_t i = 0; i < 5; i++) {
		status_field(st, cap_keys[i], v, sizeof(v));
		if (strtoull(v, NULL, 16) != want[i])
			fail_msg("pid %ld: %s:%s, want %016llx", (long)st->pid,
			    cap_keys[i], v, want[i]);
	}
}

/* --user's ids, one group, the capability sets in cap_keys' order, and
 * NO_NEW_PRIVS. */
static void
assert_process(pid_t pid, unsigned long uid, unsigned long gid,
    const unsigned long long caps[5])
{
	struct status st;
	char v[16];

	status_read(&st, pid);
	assert_ids(&st, "Uid", uid);
	assert_ids(&st, "Gid", gid);
	assert_groups(&st, gid);
	assert_caps(&st, caps);
	status_field(&st, "NoNewPrivs", v, sizeof(v));
	assert_string_equal(v + strspn(v, " \t"), "1");
}

/* Does the log file say needle? */
static int
log_has(const char *path, const char *needle)
{
	char line[1024];
	int found = 0;
	FILE *fp;

	if ((fp = fopen(path, "r")) == NULL)
		fail_msg("%s: %s", path, strerror(errno));
	while (!found && fgets(line, sizeof(line), fp) != NULL)
		found = strstr(line, needle) != NULL;
	fclose(fp);
	return found;
}

static void
nobody(unsigned long *uid, unsigned long *gid)
{
	struct passwd *pw = getpwnam("nobody");

	assert_non_null(pw);
	*uid = pw->pw_uid;
	*gid = pw->pw_gid;
}

static void
test_spawner_runs_as_user(void **state)
{
	/* Inheritable, permitted, effective, bounding, ambient. */
	static const unsigned long long spawner_caps[5] = {
		CAP_SYS_CHROOT_BIT, CAP_SYS_CHROOT_BIT, 0, 0, CAP_SYS_CHROOT_BIT,
	};
	static const unsigned long long no_caps[5] = { 0, 0, 0, 0, 0 };
	unsigned long uid, gid;
	pid_t spawner, np;

	(void)state;
	nobody(&uid, &gid);
	assert_int_equal(it_start(&e, NULL), 0);
	assert_int_equal(it_fake_wait_streams(&e, 1, WAIT_MS), 0);
	spawner = procfs_role_pid(e.ocb_pid, NULL);
	np = procfs_role_pid(e.ocb_pid, "netproc");
	assert_true(spawner > 0 && np > 0);

	/* Not uid 0 in any slot, no group but its own; CAP_SYS_CHROOT only,
	 * and only to pass on to a netproc. */
	assert_process(spawner, uid, gid, spawner_caps);
	/* netproc: the same ids, and it cleared what it was given. */
	assert_process(np, uid, gid, no_caps);
	assert_int_equal(it_stop(&e, WAIT_MS, NULL), 0);
}

static void
test_root_only_ca(void **state)
{
	static const char pem[] = "-----BEGIN CERTIFICATE-----\n"
	    "bm90IGEgcmVhbCBjZXJ0aWZpY2F0ZQ==\n-----END CERTIFICATE-----\n";
	char dir[] = "/tmp/ocb-ca.XXXXXX", ca[64], fd4[64], target[128];
	const char *args[] = { "--upstream", "https://127.0.0.1:1",
	    "--upstream-ca", ca, NULL };
	struct it_opts o;
	struct stat st;
	pid_t np;
	ssize_t n;
	int fd;

	(void)state;
	/* Root's alone: a 0600 file in a 0700 directory. */
	assert_non_null(mkdtemp(dir));
	snprintf(ca, sizeof(ca), "%s/ca.pem", dir);
	fd = open(ca, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	assert_true(fd != -1);
	assert_int_equal(write(fd, pem, sizeof(pem) - 1), (ssize_t)sizeof(pem) - 1);
	close(fd);
	assert_int_equal(stat(ca, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);

	memset(&o, 0, sizeof(o));
	o.no_fake = 1;
	o.ocb_args = args;
	assert_int_equal(it_start(&e, &o), 0);
	np = procfs_wait_role(e.ocb_pid, "netproc", WAIT_MS);
	assert_true(np > 0);
	/* The spawner's sealed copy, not the file: netproc (nobody) could
	 * not open that. */
	snprintf(fd4, sizeof(fd4), "/proc/%ld/fd/4", (long)np);
	n = readlink(fd4, target, sizeof(target) - 1);
	if (n == -1)
		fail_msg("%s: %s", fd4, strerror(errno));
	target[n] = '\0';
	if (strncmp(target, "/memfd:ocbroker-ca", 18) != 0)
		fail_msg("netproc's fd 4 is %s", target);
	assert_int_equal(it_stop(&e, WAIT_MS, NULL), 0);
	/* And read it: netproc says so when it cannot. */
	assert_false(log_has(e.ocb_log, "CA bundle"));
	unlink(ca);
	rmdir(dir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		IT_TEST_ON(test_spawner_runs_as_user, &e),
		IT_TEST_ON(test_root_only_ca, &e),
	};

	if (geteuid() != 0 || !it_sandboxed()) {
		fprintf(stderr, "test_spawner_privs: needs root and the sandbox "
		    "(a sanitizer build runs without it)\n");
		return SKIP_ALL;
	}
	return IT_RUN("test_spawner_privs", tests, NULL);
}
