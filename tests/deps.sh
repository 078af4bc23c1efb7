#!/usr/bin/env bash
# Copyright (c) 2026 The ocbroker authors
# SPDX-License-Identifier: ISC (the licence is in the file LICENSE)
# Installs what building ocbroker and running every test needs on Debian 12
# (run as root).  Does nothing when everything is there already.
set -euo pipefail

pkgs=(build-essential autoconf automake libtool pkg-config git ca-certificates
	libevent-dev libprotobuf-c-dev protobuf-c-compiler libcurl4-openssl-dev
	libseccomp-dev libcmocka-dev libjsmn-dev zlib1g-dev
	clang libclang-rt-14-dev llvm openssl strace python3
	chromium fonts-noto-color-emoji)

missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' ||
		missing+=("$p")
done
# The end-to-end test installs OpenCode from the npm registry; a machine that
# already has Node.js (with its own npm) keeps it.
command -v npm >/dev/null 2>&1 || missing+=(nodejs npm)
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" != 0 ]; then
	echo "tests/deps.sh: missing packages: ${missing[*]} (run as root to install)" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
