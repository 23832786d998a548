#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The daemon needs no library only loading a segment uses (issue 11): a
# guest's initramfs carries the daemon with every library it needs, and
# libcrypto with its own (libz, libzstd) cost each guest 7.5 MiB there.
# What it needs is libfuse and libc, and nothing else (ELF NEEDED), but
# for the sanitizer runtimes of an --enable-asan/--enable-ubsan build,
# which no package is built with.
. "$(dirname "$0")/lib.sh"
need_cmd readelf binutils
needed=$(readelf -d "$XIPFS" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | sort | tr '\n' ' ')
note "the daemon's NEEDED: $needed"
[ -n "$needed" ] || fail "readelf -d $XIPFS lists no NEEDED library"
for lib in $needed; do
	case $lib in
	libfuse3.so.*|libc.so.*) ;;
	libasan.so.*|libubsan.so.*) ;;
	*) fail "the daemon needs $lib, which the guest's initramfs would carry" ;;
	esac
done
echo "PASS $NAME"
