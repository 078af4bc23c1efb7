#!/usr/bin/env bash
# Copyright (c) 2026 The ocbroker authors
# SPDX-License-Identifier: ISC (the licence is in the file LICENSE)
#
# Quick start: build ocbroker and run it in front of an OpenCode server.
#
# usage: tests/quickstart.sh [--upstream URL] [other ocbroker arguments]
#
# On a Debian 12 machine it first installs what is missing of the build
# dependencies with apt (as root, or through sudo).  It builds ocbroker in
# build/ (autoreconf when configure is missing or stale, configure when
# build/Makefile is missing, then make), and runs it:
#   - with --upstream URL, in front of that server;
#   - without, in front of the pinned OpenCode 1.18.34 from npm, started
#     offline against the mock model by tests/e2e/opencode.sh and stopped
#     again when ocbroker exits.
# Every argument is passed to ocbroker.  It prints ocbroker's ready line (port
# and token) and where the smoke page is.  Ctrl-C (or SIGTERM) stops it.
#
# Environment: BUILD_DIR (default build/ in the source tree), JOBS (make -j),
# CONFIGURE_FLAGS (extra ./configure arguments), and those of
# tests/e2e/opencode.sh.

set -euo pipefail

here=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
srcdir=$(cd -- "$here/.." && pwd)
builddir=${BUILD_DIR:-$srcdir/build}
ctl=$here/e2e/opencode.sh
smoke=$srcdir/examples/smoke-page/index.html

BUILD_DEPS=(build-essential autoconf automake libtool pkg-config libevent-dev
    libprotobuf-c-dev protobuf-c-compiler libcurl4-openssl-dev libseccomp-dev
    libjsmn-dev libcmocka-dev zlib1g-dev nodejs npm)
# Only for the npm OpenCode server: the mock model, its scratch project, and
# the CA bundle Debian's Node.js uses to reach the npm registry.
SERVER_DEPS=(python3 git ca-certificates)

state=
ocb_pid=
tmp=

say() {
	printf 'quickstart: %s\n' "$*" >&2
}

die() {
	say "$*"
	exit 1
}

# ---- arguments ----

upstream=
args=("$@")
for ((i = 0; i < ${#args[@]}; i++)); do
	case ${args[i]} in
	--upstream)
		((i + 1 < ${#args[@]})) || die "--upstream needs a URL"
		upstream=${args[i + 1]}
		;;
	--upstream=*)
		upstream=${args[i]#--upstream=}
		;;
	-h|--help)
		sed -n '4,20s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"
		exit 0
		;;
	esac
done

# ---- dependencies ----

install_deps() {
	local missing=() p sudo=()

	command -v dpkg-query >/dev/null 2>&1 || {
		say "not a Debian system: install the equivalent of ${BUILD_DEPS[*]} yourself"
		return 0
	}
	for p in "$@"; do
		# A tool that is already there from elsewhere (Node.js from
		# NodeSource bundles npm and conflicts with Debian's) will do.
		case $p in
		nodejs)	command -v node >/dev/null 2>&1 && continue ;;
		npm|python3|git)
			command -v "$p" >/dev/null 2>&1 && continue ;;
		esac
		if [[ $(dpkg-query -W -f='${Status}' "$p" 2>/dev/null) != \
		    "install ok installed" ]]; then
			missing+=("$p")
		fi
	done
	((${#missing[@]} > 0)) || return 0
	if [[ $(id -u) != 0 ]]; then
		command -v sudo >/dev/null 2>&1 ||
		    die "missing packages: ${missing[*]} (run as root, or install them)"
		sudo=(sudo)
	fi
	say "installing ${missing[*]}"
	"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q
	"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
	    apt-get install -y -q --no-install-recommends "${missing[@]}"
}

if [[ -n $upstream ]]; then
	install_deps "${BUILD_DEPS[@]}"
else
	install_deps "${BUILD_DEPS[@]}" "${SERVER_DEPS[@]}"
fi

# ---- build ----

cd -- "$srcdir"
if [[ ! -x configure || configure.ac -nt configure ||
    Makefile.am -nt Makefile.in ]]; then
	say "autoreconf"
	autoreconf -fi
fi
mkdir -p -- "$builddir"
cd -- "$builddir"
if [[ ! -f Makefile ]]; then
	say "configure in $builddir"
	# shellcheck disable=SC2086  # CONFIGURE_FLAGS is a list of words
	"$srcdir/configure" ${CONFIGURE_FLAGS:-}
fi
say "make in $builddir"
make -j"${JOBS:-$(nproc 2>/dev/null || echo 1)}"
ocbroker=$builddir/ocbroker
[[ -x $ocbroker ]] || die "no $ocbroker after make"

# ---- the upstream ----

# shellcheck disable=SC2317  # reached through the trap
cleanup() {
	local st=$?
	trap - EXIT INT TERM
	if [[ -n $ocb_pid ]] && kill -0 "$ocb_pid" 2>/dev/null; then
		kill -TERM "$ocb_pid" 2>/dev/null || true
		wait "$ocb_pid" 2>/dev/null || true
	fi
	if [[ -n $state ]]; then
		say "stopping the OpenCode server"
		OCB_E2E_DIR=$state "$ctl" stop || true
	fi
	[[ -z $tmp ]] || rm -rf -- "$tmp"
	exit "$st"
}
trap cleanup EXIT
# The first signal stops ocbroker; cleanup then stops the rest.
# shellcheck disable=SC2317  # reached through the trap
on_signal() {
	if [[ -n $ocb_pid ]]; then
		kill -TERM "$ocb_pid" 2>/dev/null || true
	else
		exit 130
	fi
}
trap on_signal INT TERM

tmp=$(mktemp -d "${TMPDIR:-/tmp}/ocb-quickstart.XXXXXX")
if [[ -z $upstream ]]; then
	state=$tmp/opencode
	say "starting OpenCode 1.18.34 (npm opencode-linux-x64, offline, mock model)"
	set +e
	upstream=$(OCB_E2E_DIR=$state "$ctl" start)
	st=$?
	set -e
	if [[ $st != 0 ]]; then
		[[ -d $state ]] || state=
		[[ $st != 77 ]] ||
		    die "cannot install the OpenCode server from npm; give --upstream URL of a running one"
		die "the OpenCode server did not start"
	fi
	say "OpenCode server at $upstream (state in $state)"
	args+=(--upstream "$upstream")
fi

# ---- ocbroker ----

mkfifo -m 600 "$tmp/stdout"
say "starting $ocbroker ${args[*]}"
"$ocbroker" "${args[@]}" >"$tmp/stdout" &
ocb_pid=$!
exec 3<"$tmp/stdout"
if ! IFS= read -r -t 30 ready <&3; then
	die "ocbroker printed no ready line"
fi
printf '%s\n' "$ready"
port=$(printf '%s\n' "$ready" | sed -n 's/.*"port":\([0-9]*\).*/\1/p')
printf 'smoke page: open %s in a browser and connect to %s with the token above\n' \
    "$smoke" "ws://127.0.0.1:${port:-PORT}/"
printf '%s\n' '(a file:// page sends "Origin: null": if refused, add --allow-origin null)'
# Anything ocbroker prints later (nothing, by contract) still comes through.
cat <&3 &
# wait returns early (above 128) when a trapped signal comes: wait again;
# bash keeps the status of a child it reaped meanwhile for the next wait.
set +e
while :; do
	wait "$ocb_pid"
	st=$?
	((st > 128)) || break
	if ! kill -0 "$ocb_pid" 2>/dev/null; then
		wait "$ocb_pid"
		st2=$?
		((st2 == 127)) || st=$st2
		break
	fi
done
set -e
exec 3<&-
say "ocbroker exited (status $st)"
exit "$st"
