#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# Build (and test) xipfs against libfuse >= 3.17 so the FUSE passthrough
# (XIP) path is compiled in, on Debian 12 whose own libfuse is 3.14.
#
# Usage: contrib/ci-build-passthrough.sh [--no-check] BUILDDIR [CONFIGURE-ARGS...]
#
# libfuse goes to ${XIPFS_LIBFUSE_PREFIX:-/var/cache/xipfs-libfuse} (built
# once by contrib/build-libfuse.sh, cached).  xipfs is configured in BUILDDIR
# with that libfuse's pkg-config directory and an rpath to it, so the
# programs find it at run time without LD_LIBRARY_PATH.  Fails unless
# configure found fuse_passthrough_open (HAVE_FUSE_PASSTHROUGH_OPEN).  Then
# runs make and, unless --no-check, make check.
set -eu
check=1
if [ "${1:-}" = "--no-check" ]; then
	check=
	shift
fi
build=${1:?usage: ci-build-passthrough.sh [--no-check] BUILDDIR [CONFIGURE-ARGS...]}
shift
top=$(cd "$(dirname "$0")/.." && pwd)
prefix=${XIPFS_LIBFUSE_PREFIX:-/var/cache/xipfs-libfuse}
jobs=$(nproc 2>/dev/null || echo 2)

"$top/contrib/build-libfuse.sh" "$prefix"
lib=$(dirname "$(dirname "$(find "$prefix" -name fuse3.pc | head -n 1)")")
mkdir -p "$build"
cd "$build"
PKG_CONFIG_PATH=$lib/pkgconfig "$top/configure" -q LDFLAGS="-Wl,-rpath,$lib" "$@"
if ! grep -q '^#define HAVE_FUSE_PASSTHROUGH_OPEN 1' config.h; then
	echo "ci-build-passthrough.sh: configure did not find fuse_passthrough_open in $lib; see $build/config.log" >&2
	exit 1
fi
make -s -j"$jobs"
if [ -n "$check" ]; then
	make -s -j"$jobs" check
fi
