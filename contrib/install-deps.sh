#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# Install the Debian 12 packages xipfs needs to build, test and benchmark.
# Usage: contrib/install-deps.sh [--build-only]
set -eu
build="build-essential autoconf automake libtool pkg-config
	libfuse3-dev fuse3 liburing-dev check libxxhash-dev libarchive-dev
	libattr1-dev attr zstd xz-utils gzip libssl-dev libjson-c-dev"
# qemu-system-common: Debian 12's virtiofsd (/usr/lib/qemu/virtiofsd; a
# package of its own from Debian 13) for bench/fleet-guest.sh's virtiofs.
tests="erofs-utils squashfs-tools squashfuse util-linux debootstrap
	qemu-system-x86 busybox-static cpio kmod dwarves meson ninja-build
	clang libclang-rt-14-dev afl++
	python3 tar bc gdb valgrind umoci skopeo docker-registry
	debhelper dh-dkms dkms devscripts lintian fakeroot mmdebstrap
	e2fsprogs libvirt-clients qemu-system-common"
pkgs="$build"
[ "${1:-}" = "--build-only" ] || pkgs="$pkgs $tests"
if [ "$(id -u)" -ne 0 ]; then
	echo "install-deps.sh: must run as root (apt-get install)" >&2
	exit 1
fi
missing=""
for p in $pkgs; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
		missing="$missing $p"
done
if [ -n "$missing" ]; then
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	# shellcheck disable=SC2086
	apt-get install -y -qq --no-install-recommends $missing
fi
