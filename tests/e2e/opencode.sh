#!/usr/bin/env bash
# Copyright (c) 2026 The ocbroker authors
# SPDX-License-Identifier: ISC (the licence is in the file LICENSE)
#
# A real OpenCode server for the end-to-end test, offline, against the mock
# language model in mock_llm.py.
#
# usage: opencode.sh start|stop|url|start-server|stop-server|kill-server [DIR]
#
#   start         install opencode-linux-x64@1.18.34 with npm (cached), make a
#                 fresh state dir, start the mock model and
#                 `opencode serve --hostname 127.0.0.1 --port 0 --pure
#                 --print-logs`, wait for GET /global/health, print the base URL
#   stop          stop the server and the mock (SIGTERM, SIGKILL after a
#                 timeout) and remove the state dir
#   url           print the base URL
#   stop-server   stop only the server (SIGTERM, then SIGKILL); the mock and
#                 the state dir stay, for start-server
#   kill-server   the same with SIGKILL at once (a crash)
#   start-server  start the server again on the port it had, wait for health,
#                 print the base URL
#
# The state dir is DIR, else $OCB_E2E_DIR; `start` creates it (it may exist
# if it is empty) or, with neither given, makes one with mktemp and names it
# on stderr.  Inside it: home/ (HOME and the XDG_* dirs, so the user's own
# ~/.config/opencode is never read or written), tmp/ (the server's TMPDIR:
# it leaves a 5.5 MB .so there), home/project (a git repository with one
# commit, the server's working directory), the logs (server.log, mock.log),
# the pids and url.  The config (write_config) asks before bash, and defines
# two commands for RunCommand tests: ocb-think ("think about $ARGUMENTS") and
# ocb-slow ("slow $ARGUMENTS").
#
# Environment:
#   OCB_E2E_DIR            the state dir (see above)
#   OCB_E2E_CACHE          where the npm package is installed and kept between
#                          runs; default ${XDG_CACHE_HOME:-$HOME/.cache}/ocbroker-e2e
#   OPENCODE_BIN           use this opencode binary instead (it must report
#                          the pinned version)
#   OCB_E2E_START_TIMEOUT  seconds to wait for the server's health (60)
#   OCB_E2E_STOP_TIMEOUT   seconds between SIGTERM and SIGKILL (10)
#   OCB_E2E_KEEP           1: `stop` keeps the state dir (logs) for a look
#
# Exit status: 0; 1 on an error; 2 on a usage error; 77 when the pinned
# package cannot be installed (no npm, no registry, not x86_64): the caller
# reports SKIP.  Needs bash, npm (only to install), python3, git.

set -euo pipefail

readonly OPENCODE_VERSION=1.18.34
readonly OPENCODE_PKG=opencode-linux-x64
readonly EXIT_SKIP=77
readonly MARKER=.ocb-e2e-state
readonly MOCK_API_KEY=mock-key-not-a-secret
# What the server prints on stdout once it listens (a sed pattern).
# How the server's command line reads (to recognise its pid).
readonly SERVER_CMD='serve --hostname 127.0.0.1 --port'
readonly LISTENING='opencode server listening on http://127\.0\.0\.1:'

prog=opencode.sh
here=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
cache=${OCB_E2E_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/ocbroker-e2e}
start_timeout=${OCB_E2E_START_TIMEOUT:-60}
stop_timeout=${OCB_E2E_STOP_TIMEOUT:-10}
dir=
bin=

usage() {
	sed -n '6,20s/^# \{0,1\}//p' "${BASH_SOURCE[0]}" >&2
	exit 2
}

say() {
	printf '%s: %s\n' "$prog" "$*" >&2
}

die() {
	say "$*"
	exit 1
}

skip() {
	printf '%s: SKIP: %s\n' "$prog" "$*" >&2
	exit "$EXIT_SKIP"
}

is_uint() {
	[[ $1 =~ ^[0-9]+$ ]]
}

# ---- the pinned package ----

# The version field of a package.json, read with node (npm needs it anyway)
# or, without node, with sed.
pkg_version() {
	if command -v node >/dev/null 2>&1; then
		node -e 'process.stdout.write(String(JSON.parse(
		    require("fs").readFileSync(process.argv[1], "utf8")).version))' \
		    "$1"
	else
		sed -n 's/^ *"version": *"\([^"]*\)".*/\1/p' "$1" | head -n 1
	fi
}

# What the binary itself says, run with a throwaway HOME so that it cannot
# create anything in the user's real config or cache dirs.
bin_version() {
	local b=$1 h out
	h=$(mktemp -d "${TMPDIR:-/tmp}/ocb-opencode-version.XXXXXX")
	out=$(cd "$h" && env -i PATH="$PATH" HOME="$h" XDG_CONFIG_HOME="$h" \
	    XDG_DATA_HOME="$h" XDG_CACHE_HOME="$h" XDG_STATE_HOME="$h" \
	    TMPDIR="$h" OPENCODE_DISABLE_AUTOUPDATE=1 \
	    timeout 30 "$b" --version 2>/dev/null) || out=
	rm -rf -- "$h"
	printf '%s' "${out%%$'\n'*}"
}

# Sets $bin, installing the pinned package into the cache when needed.
install_opencode() {
	local pkgdir stamp tmp v last

	if [[ -n ${OPENCODE_BIN:-} ]]; then
		[[ -x $OPENCODE_BIN ]] || die "OPENCODE_BIN $OPENCODE_BIN is not executable"
		v=$(bin_version "$OPENCODE_BIN")
		[[ $v == "$OPENCODE_VERSION" ]] ||
		    die "OPENCODE_BIN reports version '$v', pinned $OPENCODE_VERSION"
		bin=$OPENCODE_BIN
		return
	fi
	[[ $(uname -s) == Linux && $(uname -m) == x86_64 ]] ||
	    skip "$OPENCODE_PKG needs Linux on x86_64, this is $(uname -sm)"

	pkgdir=$cache/$OPENCODE_PKG-$OPENCODE_VERSION
	stamp=$pkgdir/installed-version
	bin=$pkgdir/node_modules/$OPENCODE_PKG/bin/opencode
	if [[ -x $bin && -f $stamp ]]; then
		v=$(<"$stamp")
		[[ $v == "$OPENCODE_VERSION" ]] ||
		    die "$pkgdir holds version '$v', pinned $OPENCODE_VERSION (remove it)"
		v=$(pkg_version "$pkgdir/node_modules/$OPENCODE_PKG/package.json")
		[[ $v == "$OPENCODE_VERSION" ]] ||
		    die "$pkgdir holds package version '$v', pinned $OPENCODE_VERSION (remove it)"
		return
	fi

	command -v npm >/dev/null 2>&1 ||
	    skip "npm not found: cannot install $OPENCODE_PKG@$OPENCODE_VERSION"
	mkdir -p -- "$cache"
	chmod 700 -- "$cache"
	tmp=$(mktemp -d "$cache/install.XXXXXX")
	say "installing $OPENCODE_PKG@$OPENCODE_VERSION with npm into $pkgdir"
	# --ignore-scripts: the package has none, and none may run.
	if ! npm install --no-audit --no-fund --ignore-scripts --save-exact \
	    --prefix "$tmp" "$OPENCODE_PKG@$OPENCODE_VERSION" \
	    >"$tmp.log" 2>&1; then
		last=$(grep '^npm error [a-z]' "$tmp.log" | head -n 3 |
		    sed 's/^npm error //' | paste -sd ';' - | cut -c 1-200) || true
		rm -rf -- "$tmp" "$tmp.log"
		skip "npm install $OPENCODE_PKG@$OPENCODE_VERSION failed${last:+: $last}"
	fi
	rm -f -- "$tmp.log"
	v=$(pkg_version "$tmp/node_modules/$OPENCODE_PKG/package.json" 2>/dev/null) || v=
	if [[ $v != "$OPENCODE_VERSION" ]]; then
		rm -rf -- "$tmp"
		die "npm installed $OPENCODE_PKG version '$v', pinned $OPENCODE_VERSION"
	fi
	v=$(bin_version "$tmp/node_modules/$OPENCODE_PKG/bin/opencode")
	if [[ $v != "$OPENCODE_VERSION" ]]; then
		rm -rf -- "$tmp"
		die "the installed opencode reports version '$v', pinned $OPENCODE_VERSION"
	fi
	printf '%s\n' "$OPENCODE_VERSION" >"$tmp/installed-version"
	rm -rf -- "$pkgdir"
	# Another run may have won the race: then use what it installed.
	if ! mv -T -- "$tmp" "$pkgdir" 2>/dev/null; then
		rm -rf -- "$tmp"
		[[ -x $bin && -f $stamp ]] || die "cannot move the package to $pkgdir"
	fi
}

# ---- state dir and processes ----

# Sets $dir for every command but start.
existing_dir() {
	dir=${1:-${OCB_E2E_DIR:-}}
	[[ -n $dir ]] || die "no state dir: give DIR or set OCB_E2E_DIR"
	[[ -d $dir && -f $dir/$MARKER ]] ||
	    die "$dir is not a state dir made by $prog start"
	dir=$(cd -- "$dir" && pwd)
}

# Sets $dir for start: a new or empty directory, mode 700.
new_dir() {
	dir=${1:-${OCB_E2E_DIR:-}}
	if [[ -z $dir ]]; then
		dir=$(mktemp -d "${TMPDIR:-/tmp}/ocb-opencode.XXXXXX")
		say "state dir $dir (stop with: OCB_E2E_DIR=$dir $0 stop)"
	elif [[ -e $dir ]]; then
		[[ -d $dir && ! -L $dir ]] || die "$dir is not a directory"
		[[ -z $(ls -A -- "$dir") ]] || die "$dir is not empty"
		chmod 700 -- "$dir"
	else
		mkdir -m 700 -- "$dir"
	fi
	dir=$(cd -- "$dir" && pwd)
	: >"$dir/$MARKER"
}

# running PID: it exists and is not a zombie (no init reaps it here in some
# containers).  The start-up waits use this, not alive(): while setsid or env
# execs the program, /proc/PID/cmdline can read empty, and alive() took a
# starting process for a dead one ("the mock model did not start" after
# 0.4 s, once in 27 starts).
running() {
	local state
	[[ -r /proc/$1/stat ]] || return 1
	state=$(sed 's/^.*) \(.\).*/\1/' "/proc/$1/stat" 2>/dev/null) || return 1
	[[ -n $state && $state != Z ]]
}

# True while pid runs and is what we started (its command line holds what).
alive() {
	local pid=$1 what=$2
	running "$pid" || return 1
	tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$what"
}

# The process group of pid, from /proc (procps may not be installed).
pgid_of() {
	sed -n 's/^.*) . [0-9]* \([0-9]*\) .*/\1/p' "/proc/$1/stat" 2>/dev/null
}

# stop_pid NAME WHAT TERM|KILL: stops the process in $dir/NAME.pid, and its
# process group when it leads one (spawn() makes it so).
stop_pid() {
	local name=$1 what=$2 how=$3 pidfile pid target i
	pidfile=$dir/$name.pid
	[[ -f $pidfile ]] || return 0
	pid=$(<"$pidfile")
	if is_uint "$pid" && alive "$pid" "$what"; then
		target=$pid
		[[ $(pgid_of "$pid") != "$pid" ]] || target=-$pid
		if [[ $how == TERM ]]; then
			kill -TERM -- "$target" 2>/dev/null || true
			for ((i = 0; i < stop_timeout * 10; i++)); do
				alive "$pid" "$what" || break
				sleep 0.1
			done
			! alive "$pid" "$what" ||
			    say "$name did not exit on SIGTERM: SIGKILL"
		fi
		kill -KILL -- "$target" 2>/dev/null || true
		for ((i = 0; i < 50; i++)); do
			alive "$pid" "$what" || break
			sleep 0.1
		done
		! alive "$pid" "$what" || die "$name (pid $pid) survived SIGKILL"
	fi
	rm -f -- "$pidfile"
}

# Starts a command in its own session (so that its group can be signalled)
# with stdin from /dev/null and its output in files: nothing of it may hold
# the stdout of our caller, which may be a $(...) that waits for EOF.
# Returns once the command runs (its command line holds what).
spawn() {
	local name=$1 what=$2 out=$3 log=$4 pid i
	shift 4
	setsid "$@" </dev/null >>"$out" 2>>"$log" &
	pid=$!
	printf '%s\n' "$pid" >"$dir/$name.pid"
	# Until the exec, the child is a copy of this shell.
	for ((i = 0; i < 100; i++)); do
		alive "$pid" "$what" && return 0
		[[ -d /proc/$pid ]] || break
		sleep 0.05
	done
	say "$name did not start (log $log)"
	return 1
}

log_tail() {
	local f=$1
	[[ -s $f ]] || return 0
	say "last lines of $f:"
	tail -n 15 -- "$f" | sed 's/^/    /' >&2
}

# One GET with python3 (no curl needed); prints the body, fails on non-2xx.
http_get() {
	python3 - "$1" <<'EOF'
import sys
import urllib.request
try:
    with urllib.request.urlopen(sys.argv[1], timeout=2) as r:
        sys.stdout.write(r.read().decode("utf-8", "replace"))
except Exception:
    sys.exit(1)
EOF
}

start_mock() {
	local i port
	: >"$dir/mock.out"
	spawn mock mock_llm.py "$dir/mock.out" "$dir/mock.log" \
	    python3 "$here/mock_llm.py" || return 1
	for ((i = 0; i < 100; i++)); do
		port=$(sed -n 's/^{"port":\([0-9]\{1,5\}\)}$/\1/p' "$dir/mock.out")
		[[ -z $port ]] || break
		running "$(<"$dir/mock.pid")" || break
		sleep 0.1
	done
	if [[ -z $port ]]; then
		log_tail "$dir/mock.log"
		return 1
	fi
	printf '%s\n' "$port" >"$dir/mock.port"
}

make_project() {
	local p=$dir/home/project
	mkdir -p -- "$p"
	printf 'hello from the ocbroker probe project\n' >"$p/hello.txt"
	# Fixed author and dates: the same commit, so the same projectID, on
	# every run.  No system or user git config is read.
	(cd -- "$p" && env -i PATH="$PATH" HOME="$dir/home" \
	    GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null \
	    GIT_AUTHOR_NAME="ocbroker e2e" GIT_AUTHOR_EMAIL=e2e@ocbroker.invalid \
	    GIT_COMMITTER_NAME="ocbroker e2e" \
	    GIT_COMMITTER_EMAIL=e2e@ocbroker.invalid \
	    GIT_AUTHOR_DATE=2000-01-01T00:00:00Z \
	    GIT_COMMITTER_DATE=2000-01-01T00:00:00Z \
	    sh -c 'git init -q && git add hello.txt &&
	        git -c commit.gpgsign=false commit -q -m "e2e project"')
}

write_config() {
	local mport=$1
	mkdir -p -- "$dir/home/.config/opencode"
	cat >"$dir/home/.config/opencode/opencode.json" <<EOF
{
  "\$schema": "https://opencode.ai/config.json",
  "model": "mock/mock-1",
  "small_model": "mock/mock-1",
  "autoupdate": false,
  "share": "disabled",
  "permission": { "bash": "ask" },
  "command": {
    "ocb-think": {
      "template": "think about \$ARGUMENTS",
      "description": "The mock's reasoning answer, as a command"
    },
    "ocb-slow": {
      "template": "slow \$ARGUMENTS",
      "description": "The mock's slow answer, as a command"
    }
  },
  "provider": {
    "mock": {
      "npm": "@ai-sdk/openai-compatible",
      "name": "Mock",
      "options": {
        "baseURL": "http://127.0.0.1:$mport/v1",
        "apiKey": "$MOCK_API_KEY"
      },
      "models": {
        "mock-1": {
          "name": "Mock 1",
          "tool_call": true,
          "limit": { "context": 128000, "output": 4096 }
        }
      }
    }
  }
}
EOF
}

# Starts the server on port $1 (0: its choice) and waits until it is healthy.
start_server() {
	local want=$1 h=$dir/home i port='' pid url
	: >"$dir/server.out"
	printf -- '---- start (port %s) %s\n' "$want" "$(date -u +%FT%TZ)" \
	    >>"$dir/server.log"
	# A clean environment: nothing of the caller's (API keys that would make
	# a provider "connected", OPENCODE_* settings, proxies) reaches it.
	(cd -- "$h/project" && spawn server "$SERVER_CMD" "$dir/server.out" \
	    "$dir/server.log" \
	    env -i PATH="$PATH" HOME="$h" LANG=C.UTF-8 \
	    SHELL=/bin/bash TERM=dumb \
	    XDG_CONFIG_HOME="$h/.config" XDG_DATA_HOME="$h/.local/share" \
	    XDG_CACHE_HOME="$h/.cache" XDG_STATE_HOME="$h/.local/state" \
	    TMPDIR="$dir/tmp" \
	    OPENCODE_DISABLE_AUTOUPDATE=1 OPENCODE_DISABLE_MODELS_FETCH=1 \
	    OPENCODE_DISABLE_LSP_DOWNLOAD=1 \
	    "$bin" serve --hostname 127.0.0.1 --port "$want" --pure --print-logs) ||
	    return 1
	pid=$(<"$dir/server.pid")

	# It prints "opencode server listening on http://127.0.0.1:PORT".
	for ((i = 0; i < start_timeout * 10; i++)); do
		port=$(sed -n "s|^$LISTENING\\([0-9]\\{1,5\\}\\)\$|\\1|p" \
		    "$dir/server.out" | tail -n 1)
		if [[ -n $port && ($want == 0 || $port == "$want") ]]; then
			break
		fi
		port=
		running "$pid" || break
		sleep 0.1
	done
	if [[ -z $port ]]; then
		say "the server did not report its port (log $dir/server.log)"
		log_tail "$dir/server.out"
		log_tail "$dir/server.log"
		return 1
	fi
	url=http://127.0.0.1:$port
	for (( ; i < start_timeout * 10; i++)); do
		if http_get "$url/global/health" 2>/dev/null |
		    grep -q '"healthy":true'; then
			printf '%s\n' "$port" >"$dir/server.port"
			printf '%s\n' "$url" >"$dir/url"
			return 0
		fi
		running "$pid" || break
		sleep 0.1
	done
	say "the server at $url did not become healthy (log $dir/server.log)"
	log_tail "$dir/server.log"
	return 1
}

# ---- commands ----

cmd_start() {
	local mport

	install_opencode
	command -v python3 >/dev/null 2>&1 || die "python3 is needed for the mock model"
	command -v git >/dev/null 2>&1 || die "git is needed for the scratch project"
	new_dir "${1:-}"
	mkdir -p -- "$dir/home/.config" "$dir/home/.local/share" \
	    "$dir/home/.cache" "$dir/home/.local/state" "$dir/tmp"
	make_project || { cmd_stop_quiet; die "cannot make the git project"; }
	if ! start_mock; then
		cmd_stop_quiet
		die "the mock model did not start"
	fi
	mport=$(<"$dir/mock.port")
	write_config "$mport"
	if ! start_server 0; then
		cmd_stop_quiet
		die "the OpenCode server did not start"
	fi
	cat -- "$dir/url"
}

# The state dir goes, unless OCB_E2E_KEEP=1.
drop_dir() {
	if [[ ${OCB_E2E_KEEP:-0} == 1 ]]; then
		say "state dir kept: $dir"
	else
		rm -rf -- "$dir"
	fi
}

cmd_stop_quiet() {
	stop_pid server "$SERVER_CMD" TERM || true
	stop_pid mock mock_llm.py TERM || true
	drop_dir
}

cmd_stop() {
	existing_dir "${1:-}"
	stop_pid server "$SERVER_CMD" TERM
	stop_pid mock mock_llm.py TERM
	drop_dir
}

cmd_url() {
	existing_dir "${1:-}"
	[[ -f $dir/url ]] || die "no server was started in $dir"
	cat -- "$dir/url"
}

# True while something accepts connections on 127.0.0.1:$1.
port_open() {
	(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

cmd_stop_server() {
	local port='' i
	existing_dir "${2:-}"
	[[ ! -f $dir/server.port ]] || port=$(<"$dir/server.port")
	stop_pid server "$SERVER_CMD" "$1"
	# A killed leader thread is reported dead before the other threads
	# have exited and the listening socket is closed: wait for that too.
	if is_uint "$port"; then
		for ((i = 0; i < 50; i++)); do
			port_open "$port" || return 0
			sleep 0.1
		done
		die "port $port still accepts connections after the server stopped"
	fi
}

cmd_start_server() {
	local port
	existing_dir "${1:-}"
	[[ -f $dir/server.port ]] || die "no earlier server port in $dir"
	port=$(<"$dir/server.port")
	is_uint "$port" || die "bad port in $dir/server.port"
	if [[ -f $dir/server.pid ]] && alive "$(<"$dir/server.pid")" "$SERVER_CMD"; then
		die "the server is still running"
	fi
	# --port 0 means 4096 when free: another server may have taken it.
	! port_open "$port" ||
	    die "port $port is in use by another process: cannot start again"
	install_opencode
	start_server "$port" || die "the OpenCode server did not start again"
	cat -- "$dir/url"
}

[[ $# -ge 1 && $# -le 2 ]] || usage
case $1 in
start)		cmd_start "${2:-}" ;;
stop)		cmd_stop "${2:-}" ;;
url)		cmd_url "${2:-}" ;;
stop-server)	cmd_stop_server TERM "${2:-}" ;;
kill-server)	cmd_stop_server KILL "${2:-}" ;;
start-server)	cmd_start_server "${2:-}" ;;
-h|--help|help)	usage ;;
*)		usage ;;
esac
