#!/bin/sh
# Copyright (c) 2026 The ocbroker authors
# SPDX-License-Identifier: ISC (the licence is in the file LICENSE)
#
# Every source file carries the licence header in its first lines, and the
# LICENSE it points at is there.  Generated code (protoc-c's proto/*.pb-c.*,
# pbjs's messages.js) and data (fixtures, fuzz corpora) are not sources.
set -eu
top=${srcdir:-$(dirname "$0")/..}
cd "$top"
[ -f LICENSE ] || { echo "LICENSE is missing"; exit 1; }
grep -q "ISC" LICENSE || { echo "LICENSE is not the ISC licence"; exit 1; }
bad=0
count=0
for f in $(find . -path ./tests/fixtures -prune -o -path ./tests/fuzz/corpus -prune \
    -o -path '*/node_modules' -prune -o -path './build*' -prune -o -path ./_build -prune -o -path ./_inst -prune \
    -o -path ./autom4te.cache -prune -o -path './ocbroker-*' -prune -o -type f \
    \( -name '*.c' -o -name '*.h' -o -name '*.proto' -o -name '*.sh' \
    -o -name '*.py' -o -name '*.mjs' -o -name '*.js' -o -name '*.css' \
    -o -name '*.html' -o -name Makefile.am -o -name configure.ac \) -print); do
	case $f in
	*.pb-c.c|*.pb-c.h|*/messages.js|./config.h) continue ;;
	esac
	count=$((count + 1))
	if ! head -n 4 "$f" | grep -q 'SPDX-License-Identifier: ISC'; then
		echo "no licence header: $f"
		bad=1
	fi
done
[ "$count" -gt 100 ] || { echo "only $count sources found under $top"; exit 1; }
[ "$bad" -eq 0 ] || exit 1
echo "$count sources carry the licence header"
