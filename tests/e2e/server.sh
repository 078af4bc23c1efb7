# Copyright (c) 2026 The ocbroker authors
# SPDX-License-Identifier: ISC (the licence is in the file LICENSE)
#
# Sourced by tests/e2e/run.sh and tests/browser/run.sh: their messages, the
# SKIP rule and the OpenCode server's start and stop (tests/e2e/opencode.sh).
# The caller sets say_as (its name in messages), srcdir, ctl (opencode.sh)
# and ci, and shares the globals below and ocbroker.
# shellcheck shell=bash
# shellcheck disable=SC2154  # say_as, ci, ctl, srcdir: set by the caller

readonly EXIT_SKIP=77
state=		# the server's directory
started=0	# 1 while there is a server for server_stop to stop
rc=1		# what the exit trap reports
url=

# Sets ocbroker (OCBROKER, or build-test/gcc/ocbroker under srcdir) to an
# absolute path; fails when there is no such binary.
find_ocbroker() {
	ocbroker=${OCBROKER:-$srcdir/build-test/gcc/ocbroker}
	if [[ ! -x $ocbroker ]]; then
		say "FAIL: no ocbroker binary at $ocbroker (build it first, or set OCBROKER)"
		exit 1
	fi
	ocbroker=$(cd -- "$(dirname -- "$ocbroker")" && pwd)/$(basename -- "$ocbroker")
}

say() {
	printf '%s: %s\n' "$say_as" "$*" >&2
}

now() {
	date +%s
}

# SKIP (77), or a failure under CI=true.
skip() {
	if [[ $ci == true ]]; then
		say "FAIL: $* (CI=true: no skipping)"
		rc=1
	else
		say "SKIP: $*"
		rc=$EXIT_SKIP
	fi
	exit "$rc"
}

# Starts the server in $state and sets url; its stderr goes to DIR/start.err.
server_start() {	# DIR
	local st reason

	started=1
	set +e
	url=$(OCB_E2E_DIR=$state "$ctl" start 2>"$1/start.err")
	st=$?
	set -e
	cat -- "$1/start.err" >&2
	if [[ $st == "$EXIT_SKIP" ]]; then
		started=0
		reason=$(sed -n 's/^opencode.sh: SKIP: //p' "$1/start.err" |
		    head -n 1)
		skip "${reason:-the OpenCode server is not available}"
	fi
	if [[ $st != 0 || -z $url ]]; then
		[[ -d $state ]] || started=0
		say "FAIL: the OpenCode server did not start (status $st)"
		rc=1
		exit 1
	fi
}

# Stops the server (from the exit trap); when rc says something failed,
# its own logs are kept in DIR first.
server_stop() {	# DIR
	[[ $started == 1 ]] || return 0
	if [[ $rc != 0 && -d $state ]]; then
		cp -- "$state/server.log" "$state/mock.log" "$1/" \
		    2>/dev/null || true
	fi
	OCB_E2E_DIR=$state "$ctl" stop || say "stopping the server failed"
}

server_log_tail() {
	if [[ -f $state/server.log ]]; then
		say "last lines of the server log:"
		tail -n 20 -- "$state/server.log" | sed 's/^/    /' >&2
	fi
}
