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

#include "tests/integration_util.h"
#include "tests/support/procfs.h"

#define WAIT_MS		10000
#define SKIP_ALL	77

#define CAP_SYS_CHROOT_BIT	(1ULL << 18)

static struct it_env e;

static int
stop_leftover(void **state)
{
	(void)state;
	if (e.running)
		it_stop(&e, WAIT_MS, NULL);
	return 0;
}

/* The value of the "Key:" line of /proc/PID/status, tabs and all, in out;
 * 0 or -1. */
static int
status_line(pid_t pid, const char *key, char *out, size_t len)
{
	char path[64], line[512];
	size_t klen = strlen(key);
	int rc = -1;
	FILE *fp;

	snprintf(path, sizeof(path), "/proc/%ld/status", (long)pid);
	if ((fp = fopen(path, "r")) == NULL)
		return -1;
	while (fgets(line, sizeof(line), fp) != NULL)
		if (strncmp(line, key, klen) == 0 && line[klen] == ':') {
			line[strcspn(line, "\n")] = '\0';
			snprintf(out, len, "%s", line + klen + 1);
			rc = 0;
			break;
		}
	fclose(fp);
	return rc;
}

static unsigned long long
status_caps(pid_t pid, const char *key)
{
	char v[64];

	if (status_line(pid, key, v, sizeof(v)) == -1)
		fail_msg("pid %ld: no %s line", (long)pid, key);
	return strtoull(v, NULL, 16);
}

/* Real, effective, saved and filesystem ids (the Uid: or Gid: line) are
 * all id. */
static void
assert_ids(pid_t pid, const char *key, unsigned long id)
{
	char v[128];
	unsigned long a, b, c, d;

	assert_int_equal(status_line(pid, key, v, sizeof(v)), 0);
	if (sscanf(v, "%lu %lu %lu %lu", &a, &b, &c, &d) != 4)
		fail_msg("pid %ld: %s:%s", (long)pid, key, v);
	if (a != id || b != id || c != id || d != id)
		fail_msg("pid %ld: %s:%s, want %lu everywhere", (long)pid, key,
		    v, id);
}

/* The Groups: line is exactly gid. */
static void
assert_groups(pid_t pid, unsigned long gid)
{
	char v[256], want[32];
	size_t n;

	assert_int_equal(status_line(pid, "Groups", v, sizeof(v)), 0);
	n = strlen(v);
	while (n > 0 && (v[n - 1] == ' ' || v[n - 1] == '\t'))
		v[--n] = '\0';
	snprintf(want, sizeof(want), "\t%lu", gid);
	if (strcmp(v, want) != 0)
		fail_msg("pid %ld: Groups:%s, want only %lu", (long)pid, v, gid);
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
	unsigned long uid, gid;
	pid_t spawner, np;

	(void)state;
	nobody(&uid, &gid);
	assert_int_equal(it_start(&e, NULL), 0);
	assert_int_equal(it_fake_wait_streams(&e, 1, WAIT_MS), 0);
	spawner = procfs_role_pid(e.ocb_pid, NULL);
	np = procfs_role_pid(e.ocb_pid, "netproc");
	assert_true(spawner > 0 && np > 0);

	/* Not uid 0 in any slot, no group but its own. */
	assert_ids(spawner, "Uid", uid);
	assert_ids(spawner, "Gid", gid);
	assert_groups(spawner, gid);
	/* CAP_SYS_CHROOT only, and only to pass on to a netproc. */
	assert_int_equal(status_caps(spawner, "CapEff"), 0);
	assert_int_equal(status_caps(spawner, "CapPrm"), CAP_SYS_CHROOT_BIT);
	assert_int_equal(status_caps(spawner, "CapInh"), CAP_SYS_CHROOT_BIT);
	assert_int_equal(status_caps(spawner, "CapAmb"), CAP_SYS_CHROOT_BIT);
	assert_int_equal(status_caps(spawner, "CapBnd"), 0);
	assert_int_equal(procfs_status(spawner, "NoNewPrivs"), 1);

	/* netproc: the same ids, and it cleared what it was given. */
	assert_ids(np, "Uid", uid);
	assert_ids(np, "Gid", gid);
	assert_groups(np, gid);
	assert_int_equal(status_caps(np, "CapEff"), 0);
	assert_int_equal(status_caps(np, "CapPrm"), 0);
	assert_int_equal(status_caps(np, "CapInh"), 0);
	assert_int_equal(status_caps(np, "CapAmb"), 0);
	assert_int_equal(status_caps(np, "CapBnd"), 0);
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
	np = procfs_role_pid(e.ocb_pid, "netproc");
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
		cmocka_unit_test_teardown(test_spawner_runs_as_user,
		    stop_leftover),
		cmocka_unit_test_teardown(test_root_only_ca, stop_leftover),
	};
	int rc;

	if (geteuid() != 0 || !it_sandboxed()) {
		fprintf(stderr, "test_spawner_privs: needs root and the sandbox "
		    "(a sanitizer build runs without it)\n");
		return SKIP_ALL;
	}
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	if (rc == 0)
		it_logdir_remove();
	return rc;
}
