#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# Run COMMAND in the chroot ROOT with proc, sys, dev, devpts and a tmpfs
# /dev/shm mounted, in a private mount namespace, so nothing stays mounted
# when it ends (or fails).
# Usage: contrib/chroot-run.sh ROOT COMMAND [ARG...]
set -eu
root=${1:?usage: chroot-run.sh ROOT COMMAND [ARG...]}
shift
[ -d "$root/proc" ] || { echo "chroot-run.sh: $root is not a root tree" >&2; exit 1; }
exec unshare --mount --propagation private sh -ec '
	r=$1; shift
	mount -t proc proc "$r/proc"
	mount -t sysfs sys "$r/sys"
	mount --bind /dev "$r/dev"
	mount -t devpts -o newinstance,ptmxmode=0666 devpts "$r/dev/pts"
	mount -t tmpfs -o mode=1777 tmpfs "$r/dev/shm"
	mount -t tmpfs tmpfs "$r/run"
	exec env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 \
		DEBIAN_FRONTEND=noninteractive chroot "$r" "$@"' sh "$root" "$@"
