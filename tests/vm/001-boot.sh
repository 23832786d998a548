#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# The guest harness itself: one guest boots the Debian 6.12 kernel, runs host
# binaries from the shared host root (compared with the same run on the
# host), mounts a FUSE file system (squashfuse on a squashfs image built on
# the host, compared with the source file), sees an ivshmem-plain device
# (1af4:1110) whose BAR 2 has the segment file's size, returns the script's
# exit status, and leaves a clean kernel log (vm_boot checks it).
set -u
. "$top_srcdir/tests/vm/lib.sh"
vm_require

fail() {
	echo "FAIL: $*" >&2
	exit 1
}

work=$(mktemp -d "${top_builddir:-/tmp}/vm-001.XXXXXX") || exit 99
trap 'rm -rf "$work"' EXIT

command -v mksquashfs >/dev/null || vm_skip "mksquashfs not found (apt-get install squashfs-tools)"
command -v squashfuse >/dev/null || vm_skip "squashfuse not found (apt-get install squashfuse)"
mkdir "$work/tree"
head -c 100000 /dev/urandom >"$work/tree/data"
mksquashfs "$work/tree" "$work/img.sqfs" -quiet -no-progress >/dev/null || exit 99
want_fuse=$(sha256sum <"$work/tree/data")
want_host=$(/usr/bin/python3 -c 'import sys; print(sys.version)')
seg=$work/seg
truncate -s 1M "$seg"

vm_boot --name 001-boot --work "$work" --ivshmem "$seg" -- '
	echo "uname=$(uname -r)"
	echo "python=$(/usr/bin/python3 -c "import sys; print(sys.version)")"
	[ -c /dev/fuse ] && echo fuse-dev=yes
	mkdir /tmp/mnt
	if squashfuse img.sqfs /tmp/mnt; then
		echo "fuse=$(sha256sum </tmp/mnt/data)"
		fusermount3 -u /tmp/mnt || umount /tmp/mnt
	fi
	for d in /sys/bus/pci/devices/*; do
		[ "$(cat $d/vendor):$(cat $d/device)" = 0x1af4:0x1110 ] || continue
		sed -n 3p $d/resource | {
			read -r start end flags
			echo "ivshmem-bar2=$((end - start + 1))"
		}
	done
	exit 42
' >"$work/out"
rc=$?
cat "$work/out"
echo "# boot-run-poweroff: ${VM_SECONDS}s"
[ "$rc" -eq 42 ] || fail "vm_boot returned $rc, expected the script's 42 (log: $VM_LOG)"
grep -qx "uname=$VM_KVER" "$work/out" || fail "guest kernel is not $VM_KVER"
grep -qxF "python=$want_host" "$work/out" || fail "host python3 in the guest printed something else"
grep -qx "fuse-dev=yes" "$work/out" || fail "no /dev/fuse in the guest"
grep -qxF "fuse=$want_fuse" "$work/out" || fail "squashfuse mount in the guest did not serve the file"
grep -qx "ivshmem-bar2=1048576" "$work/out" || fail "no ivshmem device 1af4:1110 with a 1 MiB BAR 2"
exit 0
