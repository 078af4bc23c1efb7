#!/usr/bin/env bash
# Copyright (c) 2026 The ocbroker authors
# SPDX-License-Identifier: ISC (the licence is in the file LICENSE)
# Every test ocbroker has, in one command (the README's test command):
#   1. gcc build: make check, then make distcheck
#   2. clang build with -Werror: make check
#   3. ASan+UBSan build: make check
#   4. libFuzzer build: each target runs briefly from its seed corpus
# Build trees go under build-test/; nothing else in the checkout is written.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
out=$top/build-test
jobs=${JOBS:-2}
fuzz_seconds=${FUZZ_SECONDS:-20}

step() { printf '\n==== %s\n' "$*"; }

cd "$top"
step "dependencies (tests/deps.sh)"
tests/deps.sh

step "autoreconf"
autoreconf -fi >/dev/null 2>&1 || autoreconf -fi

run_build() {	# name, configure args...
	local name=$1; shift
	rm -rf "$out/$name"; mkdir -p "$out/$name"
	# -Werror would be the default in a git checkout; say it, so a copy
	# without .git is held to it too.
	(cd "$out/$name" && "$top/configure" -q --enable-werror "$@" && make -s -j"$jobs")
}

# After a failed make check under $1: the log of each failed test, then
# their names, so the end of CI's output says what failed.
show_failures() {
	local trs failed=""
	for trs in $(find "$1" -name '*.trs' 2>/dev/null); do
		grep -q -E '^:test-result: (FAIL|ERROR)' "$trs" || continue
		echo "---- ${trs%.trs}.log"; tail -n 60 "${trs%.trs}.log"
		failed="$failed ${trs%.trs}"
	done
	echo "==== failed:${failed:- (no test failed; the build did)}"
}

check() {	# name
	if ! (cd "$out/$1" && make -s -j"$jobs" check); then
		show_failures "$out/$1"
		return 1
	fi
	grep -h -E '^(PASS|FAIL|ERROR|XFAIL|XPASS|SKIP):' "$out/$1/test-suite.log" 2>/dev/null || true
}

step "gcc: build and make check"
run_build gcc CC=gcc
check gcc

step "gcc: make distcheck"
if ! (cd "$out/gcc" && make -s -j"$jobs" distcheck >"$out/distcheck.log" 2>&1); then
	tail -n 30 "$out/distcheck.log"
	show_failures "$out/gcc/ocbroker-0.1.0"
	exit 1
fi

# The one build that links libcurl the old way (every other loads it in
# netproc alone), so both stay built and tested.
step "clang, --disable-curl-dlopen: build and make check"
run_build clang CC=clang --disable-curl-dlopen
check clang

step "ASan+UBSan (clang): build and make check"
run_build asan CC=clang --enable-sanitizers
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 check asan

step "libFuzzer: ${fuzz_seconds}s per target"
run_build fuzz CC=clang --enable-fuzzing --enable-sanitizers
for t in "$out"/fuzz/tests/fuzz/fuzz_*; do
	[ -x "$t" ] || continue
	name=${t##*/fuzz_}
	work=$out/fuzz/corpus-$name
	mkdir -p "$work"
	# New inputs go to the scratch corpus, the seeds stay as committed.
	"$t" -max_total_time="$fuzz_seconds" -rss_limit_mb=2048 \
		"$work" "$top/tests/fuzz/corpus/$name" 2>"$out/fuzz/$name.log" ||
		{ tail -n 40 "$out/fuzz/$name.log"; exit 1; }
	echo "fuzz $name: $(grep -Eo 'Done [0-9]+ runs in [0-9]+ second' "$out/fuzz/$name.log" | tail -1)"
done

step "end to end: the real OpenCode server (npm opencode-linux-x64, pinned)"
# run.sh reports SKIP (77) when the package cannot be installed; under CI=true
# that is a failure instead: CI never skips it.
(cd "$out/gcc" && make -s e2e)

step "real clients: the smoke page in headless Chromium, and a ws client"
OCBROKER="$out/gcc/ocbroker" OUT_DIR="$out/browser" tests/browser/run.sh

step "all tests passed"
