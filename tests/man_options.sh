#!/bin/sh
# Copyright (c) 2026 The ocbroker authors
# SPDX-License-Identifier: ISC (the licence is in the file LICENSE)
# The manuals cannot drift from the parsers: every long option in the tables
# of common/options.c and client/ocbctl.c, and every ocbctl command, has its
# entry in doc/ocbroker.8 or doc/ocbctl.1; ocbroker's options are also in
# README.md, and `ocbroker --help` has one line for each.  With mandoc, both
# pages lint clean at warning level.
# Run by `make check` (srcdir set); OCBROKER and OCBCTL name the binaries.

srcdir=${srcdir:-.}
fail=0

bad() {
	echo "FAIL: $*" >&2
	fail=1
}

# The names in a getopt_long table: lines like  { "name", x_argument, ...
longopts() {
	sed -n 's/^[[:space:]]*{ "\([a-z-]*\)",[[:space:]]*[a-z_]*_argument.*/\1/p' "$1"
}

# The commands in ocbctl.c's cmds[] table: lines like  { "name", 0, 0, ...
commands() {
	sed -n '/^static const struct cmd cmds\[\] = {/,/^};/s/^[[:space:]]*{ "\([a-z-]*\)",[[:space:]]*[0-9].*/\1/p' "$1"
}

# has TEXT ERE MESSAGE: a line of TEXT matches ERE, else MESSAGE fails.
has() {
	printf "%s\n" "$1" | grep -Eq -- "$2" || bad "$3"
}

# A page with mdoc's \- written as -: ".Fl \-port" (--port) reads "Fl -port".
page() {
	sed 's/\\-/-/g' "$1"
}

broker_opts=$(longopts "$srcdir/common/options.c")
ctl_opts=$(longopts "$srcdir/client/ocbctl.c")
ctl_cmds=$(commands "$srcdir/client/ocbctl.c")
[ $(echo "$broker_opts" | wc -w) -ge 13 ] ||
	bad "found only: $broker_opts in common/options.c"
[ $(echo "$ctl_opts" | wc -w) -ge 13 ] ||
	bad "found only: $ctl_opts in client/ocbctl.c"
[ $(echo "$ctl_cmds" | wc -w) -ge 20 ] ||
	bad "found only: $ctl_cmds in client/ocbctl.c's cmds[]"

man8=$(page "$srcdir/doc/ocbroker.8")
man1=$(page "$srcdir/doc/ocbctl.1")

synopsis8=$(printf "%s\n" "$man8" | sed -n '/^\.Sh SYNOPSIS/,/^\.Sh/p')
for o in $broker_opts; do
	has "$man8" "^\.It Fl -$o( |\$)" "doc/ocbroker.8 has no .It Fl \\-$o"
	has "$synopsis8" "(Fl|\|) -$o( |\$)" \
	    "doc/ocbroker.8's SYNOPSIS lacks --$o"
	grep -Eq -- "(\[|\| )--$o[] ]" "$srcdir/README.md" ||
		bad "README.md's synopsis lacks --$o"
	grep -Fq -- "| \`--$o" "$srcdir/README.md" ||
		bad "README.md's table lacks --$o"
done
for o in $ctl_opts; do
	has "$man1" "^\.It Fl -$o( |\$)" "doc/ocbctl.1 has no .It Fl \\-$o"
done
for c in $ctl_cmds; do
	has "$man1" "^\.(It )?Cm $c( |\$)" \
	    "doc/ocbctl.1 has no entry for the command $c"
done

if [ -n "$OCBROKER" ] && [ -x "$OCBROKER" ]; then
	help=$("$OCBROKER" --help) || bad "ocbroker --help failed"
	n=$(printf "%s\n" "$help" | grep -c '^  --')
	[ "$n" -eq $(echo "$broker_opts" | wc -w) ] ||
		bad "ocbroker --help has $n option lines"
	for o in $broker_opts; do
		has "$help" "^  --$o " "ocbroker --help has no line for --$o"
	done
fi
if [ -n "$OCBCTL" ] && [ -x "$OCBCTL" ]; then
	help=$("$OCBCTL" --help) || bad "ocbctl --help failed"
	for c in $ctl_cmds; do
		has "$help" "(^|[ |])$c( |\$)" "ocbctl --help does not list $c"
	done
fi

if command -v mandoc >/dev/null 2>&1; then
	mandoc -Tlint -Wwarning "$srcdir/doc/ocbroker.8" "$srcdir/doc/ocbctl.1" ||
		bad "mandoc -Tlint -Wwarning"
else
	echo "mandoc not installed: lint skipped" >&2
fi

exit $fail
