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
ci=${CI:-false}
say_as=browser
# shellcheck source=tests/e2e/server.sh
. "$srcdir/tests/e2e/server.sh"

out=${OUT_DIR:-$srcdir/build-test/browser}
chromium=${CHROMIUM:-/usr/bin/chromium}
work=

# shellcheck disable=SC2317  # reached through the trap
cleanup() {
	local st=$?
	trap - EXIT INT TERM
	server_stop "$out"
	[[ -z $work || ! -d $work ]] || rm -rf -- "$work"
	[[ $rc == 0 ]] || exit "$rc"
	exit "$st"
}

trap cleanup EXIT
trap 'rc=130; exit 130' INT TERM

t0=$(now)
find_ocbroker
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
server_start "$work"
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
	server_log_tail
fi
exit "$rc"
