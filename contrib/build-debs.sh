#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# Build the Debian packages (xipfs, xipmap-dkms) of this source tree with
# dpkg-buildpackage and copy them to OUTDIR (default: ./debs).
# Usage: contrib/build-debs.sh [--chroot ROOT] [OUTDIR] [DPKG-BUILDPACKAGE-ARGS]
# --chroot ROOT builds inside that root tree (contrib/chroot-run.sh), e.g. a
# Debian 13 tree, so the packages link its libraries (libfuse 3.17).
# Needs the build dependencies of debian/control (contrib/install-deps.sh on
# Debian 12; contrib/build-guest.sh installs them in its Debian 13 tree).
# The tree is exported first (git's tracked and unignored files, or a copy
# without build directories), so build products in it do not leak in.
set -eu
srcdir=$(cd "$(dirname "$0")/.." && pwd)
root=
if [ "${1:-}" = "--chroot" ]; then
	root=$(cd "${2:?--chroot needs a directory}" && pwd)
	shift 2
fi
out=${1:-debs}
[ $# -gt 0 ] && shift
mkdir -p "$out"
out=$(cd "$out" && pwd)
version=$(dpkg-parsechangelog -l "$srcdir/debian/changelog" -SVersion)
if [ -n "$root" ]; then
	mkdir -p "$root/tmp"
	tmp=$(mktemp -d "$root/tmp/xipfs-debs.XXXXXX")
else
	tmp=$(mktemp -d)
fi
trap 'rm -rf "$tmp"' EXIT
dir=$tmp/xipfs-$version
mkdir "$dir"
if git -C "$srcdir" rev-parse --git-dir >/dev/null 2>&1; then
	(cd "$srcdir" && git ls-files -z --cached --others --exclude-standard |
		xargs -0 sh -c 'for f; do [ -e "$f" ] || [ -L "$f" ] && printf "%s\0" "$f"; done' sh |
		tar --null -T - -cf -) | tar -C "$dir" -xf -
else
	(cd "$srcdir" && tar --exclude='./build*' --exclude='./debs' -cf - .) | tar -C "$dir" -xf -
fi
if [ -n "$root" ]; then
	"$srcdir/contrib/chroot-run.sh" "$root" sh -c 'cd "$1" && shift && dpkg-buildpackage -us -uc "$@"' \
		sh "${dir#"$root"}" "$@"
else
	(cd "$dir" && dpkg-buildpackage -us -uc "$@")
fi >"$tmp/build.log" 2>&1 || {
	tail -n 40 "$tmp/build.log" >&2
	cp "$tmp/build.log" "$out/build.log"
	echo "build-debs.sh: dpkg-buildpackage failed; see $out/build.log" >&2
	exit 1
}
cp "$tmp/build.log" "$out/build.log"
for f in "$tmp"/*.deb "$tmp"/*.changes "$tmp"/*.dsc "$tmp"/*.tar.* "$tmp"/*.buildinfo; do
	[ -e "$f" ] && cp "$f" "$out/"
done
ls "$out"/*.deb
