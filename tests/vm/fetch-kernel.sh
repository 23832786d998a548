#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# Fetch the guest kernel (Debian bookworm-backports 6.12) and its headers
# into a cache, without installing anything kernel-related on the host.
#
# Usage: tests/vm/fetch-kernel.sh [--print-kdir | --print-dir | --print-kver]
#
# Cache: ${XIPFS_VM_CACHE:-/var/cache/xipfs-vm}/<kver>/, where <kver> is e.g.
# 6.12.117+deb12-amd64: $XIPFS_VM_KVER if set, else the newest kernel already
# fetched into the cache (no network needed then), else the newest
# linux-image-6.12.*+deb12-amd64-unsigned apt knows (after apt-sources.sh).
# The four packages (image, headers -amd64 and -common, kbuild) are unpacked
# with dpkg -x into <cache>/<kver>/root, so the headers' relative symlinks
# (scripts, tools -> ../../lib/linux-kbuild-...) resolve inside that root.
# The only absolute path, the -amd64 Makefile's `include /usr/src/...-common`,
# is rewritten to point into the cache.  KDIR is then
# <cache>/<kver>/root/usr/src/linux-headers-<kver>, usable from anywhere
# (a fresh CI clone included): make -C $KDIR M=$PWD modules.
#
# Prints the requested path on stdout (default: --print-kdir); progress and
# errors go to stderr.  Exit 0 = ready, 77 = cannot fetch (no apt, no
# network, no such package), 1 = other error.  Idempotent; concurrent callers
# serialise on a lock file.
set -eu
what=${1:---print-kdir}
top=${XIPFS_VM_CACHE:-/var/cache/xipfs-vm}
here=$(cd "$(dirname "$0")" && pwd)

skip() {
	echo "fetch-kernel.sh: $*" >&2
	exit 77
}

kver=${XIPFS_VM_KVER:-}
if [ -z "$kver" ]; then
	# A previous run may have left a ready cache: use the newest one without
	# touching apt, so tests work offline once fetched.
	kver=$(ls "$top" 2>/dev/null | grep '^6\.12\..*+deb12-amd64$' | sort -V | tail -n 1 || true)
	if [ -n "$kver" ] && [ ! -e "$top/$kver/ready" ]; then
		kver=""
	fi
fi
if [ -z "$kver" ]; then
	command -v apt-get >/dev/null || skip "apt-get not found: cannot fetch the guest kernel"
	if [ "$(id -u)" -eq 0 ] && [ -x "$here/../../contrib/apt-sources.sh" ]; then
		"$here/../../contrib/apt-sources.sh" >&2 || skip "contrib/apt-sources.sh failed"
	fi
	kver=$(apt-cache search --names-only '^linux-image-6\.12\..*\+deb12-amd64-unsigned$' |
		sed -n 's/^linux-image-\(6\.12\.[^ ]*+deb12-amd64\)-unsigned .*/\1/p' |
		sort -V | tail -n 1)
	[ -n "$kver" ] || skip "no linux-image-6.12.*+deb12-amd64-unsigned in the apt cache (run contrib/apt-sources.sh as root)"
fi

dir=$top/$kver
root=$dir/root
kdir=$root/usr/src/linux-headers-$kver
base=${kver%-amd64}

if [ ! -e "$dir/ready" ]; then
	mkdir -p "$dir" || skip "cannot create $dir (set XIPFS_VM_CACHE)"
	exec 9>"$dir/lock"
	flock 9
	if [ ! -e "$dir/ready" ]; then
		echo "fetch-kernel.sh: fetching $kver into $dir" >&2
		mkdir -p "$dir/debs"
		(cd "$dir/debs" && apt-get download -q \
			"linux-image-$kver-unsigned" "linux-headers-$kver" \
			"linux-headers-$base-common" "linux-kbuild-$base") >&2 ||
			skip "apt-get download of the $kver packages failed"
		rm -rf "$root"
		mkdir -p "$root"
		for deb in "$dir"/debs/*.deb; do
			dpkg -x "$deb" "$root"
		done
		sed -i "s|^include /usr/src/|include $root/usr/src/|" "$kdir/Makefile"
		[ -f "$root/boot/vmlinuz-$kver" ] || { echo "fetch-kernel.sh: no vmlinuz-$kver in the image package" >&2; exit 1; }
		rm -rf "$dir/debs"
		touch "$dir/ready"
	fi
	exec 9>&-
fi

case $what in
--print-kdir) echo "$kdir" ;;
--print-dir) echo "$dir" ;;
--print-kver) echo "$kver" ;;
*) echo "usage: fetch-kernel.sh [--print-kdir | --print-dir | --print-kver]" >&2; exit 1 ;;
esac
