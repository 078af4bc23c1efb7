#!/bin/sh
# Copyright (c) 2026 The ocbroker authors
# SPDX-License-Identifier: ISC (the licence is in the file LICENSE)
# The link of libocbclient.la: runs the libtool command it is given, then
# makes every symbol of the static archive local except the API.
#
#   ltlink.sh 'PATTERN...' AR LD OBJCOPY libtool --mode=link ... -o X.la ...
#
# libtool's -export-symbols-regex hides the internals of the shared library
# only.  In the static one, sha1() or base64_encode() would clash with an
# application's own, so its members are linked into one relocatable object
# (ld -r: the calls between them are resolved there) in which objcopy keeps
# global only the symbols matching a PATTERN (objcopy --wildcard syntax).
set -eu
patterns=$1 ar=$2 ld=$3 objcopy=$4
shift 4
"$@"

la=
while [ $# -gt 0 ]; do
	if [ "$1" = -o ] && [ $# -gt 1 ]; then
		la=$2
	fi
	shift
done
old=$(sed -n "s/^old_library='\(.*\)'\$/\1/p" "$la")
[ -n "$old" ] || exit 0		# --disable-static
dir=$(dirname "$la")/.libs
tmp=$dir/ltlink.tmp
rm -rf "$tmp"
mkdir "$tmp"
(cd "$tmp" && $ar x "../$old")
$ld -r -o "$tmp/libocbclient.o" "$tmp"/*.o
keep=
set -f
for p in $patterns; do
	keep="$keep --keep-global-symbol=$p"
done
$objcopy --wildcard $keep "$tmp/libocbclient.o"
set +f
rm -f "$dir/$old"
$ar crs "$dir/$old" "$tmp/libocbclient.o"
rm -rf "$tmp"
