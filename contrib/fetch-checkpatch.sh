#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# Fetch the kernel's scripts/checkpatch.pl (with its spelling and
# const_structs lists) from Debian's linux-source package, once, into
# ${XIPFS_VM_CACHE:-/var/cache/xipfs-vm}/checkpatch, and print its path.
# Only the three files are kept; the 150 MB package is not.
set -eu
cache=${XIPFS_VM_CACHE:-/var/cache/xipfs-vm}/checkpatch
pkg=${XIPFS_CHECKPATCH_PKG:-linux-source-6.12}
found=$(find "$cache" -name checkpatch.pl -path '*/scripts/*' 2>/dev/null | head -n 1)
if [ -z "$found" ]; then
	mkdir -p "$cache"
	tmp=$(mktemp -d "$cache/fetch.XXXXXX")
	trap 'rm -rf "$tmp"' EXIT
	# bookworm-backports carries linux-source-6.12 (contrib/apt-sources.sh).
	(cd "$tmp" && apt-get download -q "$pkg") >&2 || {
		echo "fetch-checkpatch.sh: apt-get download $pkg failed (run contrib/apt-sources.sh and apt-get update)" >&2
		exit 1
	}
	dpkg-deb --fsys-tarfile "$tmp"/"$pkg"_*.deb |
		tar -xO --wildcards './usr/src/linux-source-*.tar.xz' |
		tar -xJ -C "$tmp" --wildcards '*/scripts/checkpatch.pl' '*/scripts/spelling.txt' \
			'*/scripts/const_structs.checkpatch'
	dir=$(dirname "$(dirname "$(find "$tmp" -name checkpatch.pl | head -n 1)")")
	rm -rf "${cache:?}/$(basename "$dir")"
	mv "$dir" "$cache/"
	found=$cache/$(basename "$dir")/scripts/checkpatch.pl
fi
echo "$found"
