#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# Build libfuse >= 3.17 (FUSE passthrough) from Debian 13's source package
# into PREFIX, for Debian 12 hosts whose libfuse 3.14 cannot negotiate
# passthrough.  Debian 13's binaries need a newer glibc, its source does not.
#
# Usage: contrib/build-libfuse.sh PREFIX
# Needs: the trixie deb-src entry of contrib/apt-sources.sh (run as root),
# meson, ninja-build, gcc.  Idempotent: returns at once when PREFIX already
# holds a fuse3 >= 3.17 pkg-config file.  Then build xipfs against it:
#
#   P=PREFIX/lib/x86_64-linux-gnu
#   PKG_CONFIG_PATH=$P/pkgconfig /path/to/configure LDFLAGS="-Wl,-rpath,$P"
#
# (contrib/ci-build-passthrough.sh does both.)
set -eu
prefix=${1:?usage: build-libfuse.sh PREFIX}
mkdir -p "$prefix"
prefix=$(cd "$prefix" && pwd)
pc=$(find "$prefix" -name fuse3.pc 2>/dev/null | head -n 1)
if [ -n "$pc" ] && PKG_CONFIG_PATH=${pc%/*} pkg-config --atleast-version=3.17 fuse3; then
	exit 0
fi
for t in meson ninja apt-get; do
	command -v "$t" >/dev/null || { echo "build-libfuse.sh: $t not found (contrib/install-deps.sh)" >&2; exit 1; }
done
if [ "$(id -u)" -eq 0 ]; then
	"$(dirname "$0")/apt-sources.sh"
fi
src=$prefix/src
rm -rf "$src"
mkdir -p "$src"
(cd "$src" && apt-get source -q --download-only fuse3/trixie) >&2 || {
	echo "build-libfuse.sh: apt-get source fuse3/trixie failed; run contrib/apt-sources.sh as root" >&2
	exit 1
}
orig=$(ls "$src"/fuse3_*.orig.tar.* | grep -v '\.asc$' | head -n 1)
tar -C "$src" -xf "$orig"
dir=$(find "$src" -mindepth 1 -maxdepth 1 -type d -name 'fuse-3*' | head -n 1)
[ -n "$dir" ] || { echo "build-libfuse.sh: no fuse-3.* directory in $orig" >&2; exit 1; }
(cd "$dir" &&
	meson setup build --prefix="$prefix" -Dexamples=false -Dutils=false -Dtests=false &&
	ninja -C build install) >"$src/build.log" 2>&1 || {
	echo "build-libfuse.sh: build failed; see $src/build.log" >&2
	tail -n 20 "$src/build.log" >&2
	exit 1
}
rm -rf "$src"
pc=$(find "$prefix" -name fuse3.pc | head -n 1)
echo "build-libfuse.sh: installed libfuse $(PKG_CONFIG_PATH=${pc%/*} pkg-config --modversion fuse3) in $prefix" >&2
