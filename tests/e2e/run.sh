#!/usr/bin/env bash
# Copyright (c) 2026 The ocbroker authors
# SPDX-License-Identifier: ISC (the licence is in the file LICENSE)
#
# The end-to-end test: ocbroker in front of a real OpenCode 1.18.34 server
# (npm opencode-linux-x64, pinned) that talks to the mock model.
#
# usage: tests/e2e/run.sh
#
# It builds nothing of ocbroker: OCBROKER names the binary (default
# build-test/gcc/ocbroker under the source tree).  The test program is
# TEST_E2E when set (the Makefile's tests/e2e/test_e2e); otherwise it is
# compiled here with ${CC:-cc} from tests/e2e/test_e2e.c and the test client
# sources, using proto/messages.pb-c.c of the directory OCBROKER is in (or one
# generated with protoc-c).
#
# OCB_E2E_FILTER (a cmocka pattern, e.g. 'test_v2_*') runs only the tests it
# matches; later tests may need what earlier ones made.
#
# The server is always stopped at the end.  Exit status: 0 passed; 77 SKIP
# when the pinned npm package cannot be installed (no npm, no registry) --
# except with CI=true, where that is a failure (CI never skips); anything
# else failed.  Work files go to a temp dir (kept, and named, on failure).

set -euo pipefail

here=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
srcdir=$(cd -- "$here/../.." && pwd)
ctl=$here/opencode.sh
ci=${CI:-false}
say_as=e2e
# shellcheck source=tests/e2e/server.sh
. "$here/server.sh"

work=

# shellcheck disable=SC2317  # reached through the trap
cleanup() {
	local st=$?
	trap - EXIT INT TERM
	server_stop "$work"
	if [[ -n $work && -d $work ]]; then
		if [[ $rc == 0 || $rc == "$EXIT_SKIP" ]]; then
			rm -rf -- "$work"
		else
			say "work files kept in $work"
		fi
	fi
	[[ $rc == 0 ]] || exit "$rc"
	exit "$st"
}

trap cleanup EXIT
trap 'rc=130; exit 130' INT TERM

find_ocbroker
work=$(mktemp -d "${TMPDIR:-/tmp}/ocb-e2e.XXXXXX")
mkdir -p -- "$work/tmp"

# ---- the test program ----

if [[ -n ${TEST_E2E:-} ]]; then
	test_e2e=$TEST_E2E
	[[ -x $test_e2e ]] || { say "FAIL: TEST_E2E $test_e2e is not executable"; exit 1; }
else
	builddir=$(dirname -- "$ocbroker")
	pbdir=$builddir
	if [[ ! -f $builddir/proto/messages.pb-c.c ]]; then
		pbdir=$work/gen
		mkdir -p -- "$pbdir/proto"
		protoc-c --c_out="$pbdir/proto" -I"$srcdir/proto" \
		    "$srcdir/proto/messages.proto"
	fi
	test_e2e=$work/test_e2e
	say "compiling $test_e2e with ${CC:-cc}"
	# shellcheck disable=SC2046  # pkg-config prints several words
	"${CC:-cc}" -std=c11 -D_GNU_SOURCE -O1 -g -Wall -Wextra -Wshadow \
	    -Wstrict-prototypes -Wmissing-prototypes -Wpointer-arith \
	    -Wformat=2 -Wno-unused-parameter \
	    -I"$pbdir" -I"$srcdir" -o "$test_e2e" \
	    "$here/test_e2e.c" "$srcdir/tests/wsclient.c" \
	    "$srcdir/tests/integration_util.c" "$srcdir/tests/support/clock.c" \
	    "$srcdir/tests/support/fixture.c" \
	    "$srcdir/common/ws_frame.c" "$srcdir/common/ws_accept.c" \
	    "$srcdir/common/utf8.c" "$srcdir/common/sha1.c" \
	    "$srcdir/common/base64.c" "$srcdir/client/ocbclient.c" \
	    "$pbdir/proto/messages.pb-c.c" \
	    $(pkg-config --cflags --libs libprotobuf-c cmocka zlib)
fi

# ---- the server ----

state=$work/state
t0=$(now)
server_start "$work"
t1=$(now)
say "OpenCode server at $url ($((t1 - t0)) s)"

# ---- the test ----

set +e
env OPENCODE_URL="$url" OCBROKER="$ocbroker" OPENCODE_CTL="$ctl" \
    OCB_E2E_DIR="$state" TMPDIR="$work/tmp" \
    timeout 900 "$test_e2e"
rc=$?
set -e
t2=$(now)
if [[ $rc == 0 ]]; then
	say "PASS ($((t2 - t1)) s test, $((t2 - t0)) s in all)"
else
	[[ $rc != "$EXIT_SKIP" ]] || rc=1	# the environment was set: no skip
	say "FAIL (status $rc, $((t2 - t1)) s)"
	server_log_tail
fi
exit "$rc"
