#!/bin/sh
# Copyright (c) 2026 The ocbroker authors
# SPDX-License-Identifier: ISC (the licence is in the file LICENSE)
# libocbclient as an application sees it: installed into a DESTDIR, found
# with pkg-config, linked shared and static by a program that has its own
# sha1(), base64_encode(), utf8_valid() and ws_parser_init(); and the shared
# library exports nothing but ocb_* and opencode__*.  Linux (GNU ld, nm -D).
set -eu
: "${OCBLIB_BUILDDIR:?}" "${OCBLIB_LIBDIR:?}" "${OCBLIB_PKGCONFIGDIR:?}"
cc=${OCBLIB_CC:-cc}
nm=${OCBLIB_NM:-nm}
pkg_config=${OCBLIB_PKG_CONFIG:-pkg-config}

fail() { echo "FAIL: $*" >&2; exit 1; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/ocblib.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
dest=$tmp/dest

${MAKE:-make} -s -C "$OCBLIB_BUILDDIR" DESTDIR="$dest" install-libLTLIBRARIES \
	install-pkgconfigDATA install-ocbclientHEADERS \
	install-nobase_nodist_ocbclientHEADERS >"$tmp/install.log" 2>&1 ||
	{ cat "$tmp/install.log" >&2; fail "make install into a DESTDIR"; }
lib=$dest$OCBLIB_LIBDIR
[ -f "$lib/libocbclient.a" ] || fail "no libocbclient.a in $lib"
objdump=${OCBLIB_OBJDUMP:-objdump}
so=$(ls "$lib"/libocbclient.so.* | head -n 1)
soname=$($objdump -p "$so" | sed -n 's/^ *SONAME *//p')
case $soname in
libocbclient.so.[0-9]*) ;;
*) fail "soname '$soname' is not versioned" ;;
esac

# Only the API: no _init/_fini either (none is defined), but tolerate the
# linker's own _edata/_end/__bss_start.
extra=$($nm -D --defined-only "$so" | awk '{ print $NF }' |
	grep -v -E '^(ocb_|opencode__|_init$|_fini$|_edata$|_end$|__bss_start$)' || true)
[ -z "$extra" ] || fail "the shared library exports: $extra"
$nm -D --defined-only "$so" | grep -q ' ocb_client_new$' ||
	fail "ocb_client_new is not exported"
$nm -D --defined-only "$so" | grep -q ' opencode__client_message__pack$' ||
	fail "opencode__client_message__pack is not exported"
extra=$($nm -g --defined-only "$lib/libocbclient.a" | awk 'NF == 3 { print $3 }' |
	grep -v -E '^(ocb_|opencode__)' || true)
[ -z "$extra" ] || fail "the static library has global: $extra"

export PKG_CONFIG_SYSROOT_DIR=$dest
export PKG_CONFIG_PATH=$dest$OCBLIB_PKGCONFIGDIR${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}
cflags=$($pkg_config --cflags libocbclient) || fail "pkg-config --cflags"
libs=$($pkg_config --libs libocbclient) || fail "pkg-config --libs"

cat >"$tmp/app.c" <<'EOC'
#include <sys/socket.h>
#include <sys/wait.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <ocbclient.h>

/*
 * The application's own functions with the names of the library's
 * internal ones: the link must not clash, and the library must not call
 * them (they abort).
 */
void	sha1(void);
void	sha1_init(void);
void	sha1_update(void);
void	sha1_final(void);
void	base64_encode(void);
void	utf8_valid(void);
void	ws_parser_init(void);
void	ws_accept_compute(void);
void sha1(void) { abort(); }
void sha1_init(void) { abort(); }
void sha1_update(void) { abort(); }
void sha1_final(void) { abort(); }
void base64_encode(void) { abort(); }
void utf8_valid(void) { abort(); }
void ws_parser_init(void) { abort(); }
void ws_accept_compute(void) { abort(); }

/* A server that answers the upgrade with a wrong Sec-WebSocket-Accept. */
static void
serve(int ls)
{
	static const char resp[] = "HTTP/1.1 101 Switching Protocols\r\n"
	    "Upgrade: websocket\r\nConnection: Upgrade\r\n"
	    "Sec-WebSocket-Accept: AAAAAAAAAAAAAAAAAAAAAAAAAAA=\r\n\r\n";
	char buf[4096];
	size_t got = 0;
	ssize_t n;
	int s;

	alarm(60);
	if ((s = accept(ls, NULL, NULL)) == -1)
		_exit(2);
	while (got < sizeof(buf) - 1 && (n = read(s, buf + got,
	    sizeof(buf) - 1 - got)) > 0) {
		got += (size_t)n;
		buf[got] = '\0';
		if (strstr(buf, "\r\n\r\n") != NULL)
			break;
	}
	if (write(s, resp, sizeof(resp) - 1) != (ssize_t)(sizeof(resp) - 1))
		_exit(3);
	while (read(s, buf, sizeof(buf)) > 0)
		;
	_exit(0);
}

int
main(void)
{
	Opencode__ClientMessage m = OPENCODE__CLIENT_MESSAGE__INIT;
	struct sockaddr_in sin;
	socklen_t sl = sizeof(sin);
	struct ocb_client *c;
	const char *err;
	pid_t pid;
	int ls, st;

	m.request_id = 7;
	if (opencode__client_message__get_packed_size(&m) == 0)
		return 10;
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((ls = socket(AF_INET, SOCK_STREAM, 0)) == -1 ||
	    bind(ls, (struct sockaddr *)&sin, sizeof(sin)) == -1 ||
	    listen(ls, 1) == -1 ||
	    getsockname(ls, (struct sockaddr *)&sin, &sl) == -1)
		return 11;
	if ((pid = fork()) == -1)
		return 12;
	if (pid == 0)
		serve(ls);
	close(ls);
	if ((c = ocb_client_new()) == NULL)
		return 13;
	if (ocb_client_connect(c, ntohs(sin.sin_port), "token", 60000) != -1)
		return 14;
	err = ocb_client_error(c);
	printf("connect: %s\n", err);
	if (strstr(err, "Sec-WebSocket-Accept") == NULL)
		return 15;
	ocb_client_free(c);
	if (waitpid(pid, &st, 0) == -1 || !WIFEXITED(st) ||
	    WEXITSTATUS(st) != 0)
		return 16;
	return 0;
}
EOC

# shellcheck disable=SC2086
$cc ${OCBLIB_CFLAGS:-} -Wall -Wextra -Werror -o "$tmp/app_shared" "$tmp/app.c" \
	$cflags $libs || fail "linking against the shared library"
# shellcheck disable=SC2086
$cc ${OCBLIB_CFLAGS:-} -Wall -Wextra -Werror -o "$tmp/app_static" "$tmp/app.c" \
	$cflags $(echo "$libs" | sed 's/-locbclient/-l:libocbclient.a/') ||
	fail "linking against the static library"
$objdump -p "$tmp/app_static" | grep -q 'NEEDED.*libocbclient' &&
	fail "app_static needs the shared library"
$objdump -p "$tmp/app_shared" | grep -q "NEEDED *$soname" ||
	fail "app_shared does not need $soname"

LD_LIBRARY_PATH=$lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH} "$tmp/app_shared" ||
	fail "app_shared exited $?"
"$tmp/app_static" || fail "app_static exited $?"
echo "libocbclient: installed, $soname, exports ocb_*/opencode__* only; shared and static links run"
