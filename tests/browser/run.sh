#!/usr/bin/env bash
# Copyright (c) 2026 The ocbroker authors
# SPDX-License-Identifier: ISC (the licence is in the file LICENSE)
#
# Real clients against the real ocbroker in front of a real OpenCode server
# (tests/e2e/opencode.sh: npm opencode-linux-x64, pinned, with the mock
# model):
#   ws_client_check.mjs  a second, independent client on npm `ws`
#   smoke_page_test.mjs  examples/smoke-page in headless Chromium (Debian's
#                        /usr/bin/chromium, driven by playwright-core; no
#                        browser is ever downloaded)
#
# usage: tests/browser/run.sh
#
# Environment:
#   OCBROKER  the binary (default build-test/gcc/ocbroker under the checkout)
#   OUT_DIR   screenshot (smoke-page.png) and logs (default build-test/browser)
#   CHROMIUM  the browser (default /usr/bin/chromium)
#   CI        true: what would be a SKIP is a failure
#
# It runs `npm ci` in tests/browser and examples/smoke-page (exact versions
# from their package-lock.json files, no install scripts) and `npm run build`
# in examples/smoke-page (pbjs compiles proto/messages.proto to messages.js).
#
# Exit status: 0 passed; 77 SKIP when Chromium, Node.js >= 20 with npm, the
# npm packages or the pinned OpenCode server are not available -- except
# with CI=true, where that is a failure; anything else failed.

set -euo pipefail

here=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
srcdir=$(cd -- "$here/../.." && pwd)
page=$srcdir/examples/smoke-page
ctl=$srcdir/tests/e2e/opencode.sh
readonly EXIT_SKIP=77
ci=${CI:-false}

ocbroker=${OCBROKER:-$srcdir/build-test/gcc/ocbroker}
out=${OUT_DIR:-$srcdir/build-test/browser}
chromium=${CHROMIUM:-/usr/bin/chromium}
work=
state=
started=0
rc=1

say() {
	printf 'browser: %s\n' "$*" >&2
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

# shellcheck disable=SC2317  # reached through the trap
cleanup() {
	local st=$?
	trap - EXIT INT TERM
	if [[ $started == 1 ]]; then
		if [[ $rc != 0 && -d $state ]]; then
			cp -- "$state/server.log" "$state/mock.log" "$out/" \
			    2>/dev/null || true
		fi
		OCB_E2E_DIR=$state "$ctl" stop || say "stopping the server failed"
	fi
	[[ -z $work || ! -d $work ]] || rm -rf -- "$work"
	[[ $rc == 0 ]] || exit "$rc"
	exit "$st"
}

trap cleanup EXIT
trap 'rc=130; exit 130' INT TERM

t0=$(now)
if [[ ! -x $ocbroker ]]; then
	say "FAIL: no ocbroker binary at $ocbroker (build it first, or set OCBROKER)"
	exit 1
fi
ocbroker=$(cd -- "$(dirname -- "$ocbroker")" && pwd)/$(basename -- "$ocbroker")
mkdir -p -- "$out"
out=$(cd -- "$out" && pwd)

# ---- what it needs ----

[[ -x $chromium ]] ||
    skip "no Chromium at $chromium (apt-get install chromium, or set CHROMIUM)"
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
	skip "Node.js and npm are needed"
fi
node_major=$(node -p 'process.versions.node.split(".")[0]')
[[ $node_major -ge 20 ]] ||
    skip "Node.js $node_major is too old for playwright-core (20 or later)"

# Exact versions from the lock files; no package runs an install script,
# and playwright-core never fetches a browser.
npm_ci() {	# dir, log name
	if ! (cd -- "$1" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 \
	    npm ci --no-audit --no-fund --ignore-scripts --prefer-offline) \
	    >"$out/$2" 2>&1; then
		tail -n 5 -- "$out/$2" >&2
		skip "npm ci in ${1#"$srcdir"/} failed (no registry?), log $out/$2"
	fi
}
npm_ci "$here" npm-ci-browser.log
npm_ci "$page" npm-ci-smoke-page.log
if ! (cd -- "$page" && npm run -s build) >"$out/npm-build.log" 2>&1; then
	cat -- "$out/npm-build.log" >&2
	say "FAIL: pbjs could not compile proto/messages.proto"
	exit 1
fi
t1=$(now)
say "npm ci and the page's build: $((t1 - t0)) s"

# ---- the server ----

work=$(mktemp -d "${TMPDIR:-/tmp}/ocb-browser.XXXXXX")
state=$work/state
started=1
set +e
url=$(OCB_E2E_DIR=$state "$ctl" start 2>"$work/start.err")
st=$?
set -e
cat -- "$work/start.err" >&2
if [[ $st == "$EXIT_SKIP" ]]; then
	started=0
	reason=$(sed -n 's/^opencode.sh: SKIP: //p' "$work/start.err" | head -n 1)
	skip "${reason:-the OpenCode server is not available}"
fi
if [[ $st != 0 || -z $url ]]; then
	[[ -d $state ]] || started=0
	say "FAIL: the OpenCode server did not start (status $st)"
	exit 1
fi
t2=$(now)
say "OpenCode server at $url ($((t2 - t1)) s)"

# ---- the clients ----

failed=0
for test in ws_client_check.mjs smoke_page_test.mjs; do
	ts=$(now)
	set +e
	(cd -- "$here" && env OCBROKER="$ocbroker" OPENCODE_URL="$url" \
	    OUT_DIR="$out" CHROMIUM="$chromium" TMPDIR="$work" \
	    timeout 600 node "$test")
	st=$?
	set -e
	if [[ $st == 0 ]]; then
		say "PASS $test ($(($(now) - ts)) s)"
	else
		say "FAIL $test (status $st, $(($(now) - ts)) s; logs in $out)"
		failed=1
	fi
done

if [[ $failed == 0 ]]; then
	rc=0
	say "PASS ($(($(now) - t0)) s in all; screenshot $out/smoke-page.png)"
else
	rc=1
	if [[ -f $state/server.log ]]; then
		say "last lines of the server log:"
		tail -n 20 -- "$state/server.log" | sed 's/^/    /' >&2
	fi
fi
exit "$rc"
