#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# python3 start plus 9 stdlib imports inside a TCG guest (Debian's
# /usr/bin/python3, PYTHONHOME on each mount): the guest's tmpfs, an XIP
# mount of the image shared as an ivshmem segment, and the same segment
# mounted xip=off.  Interleaved rounds as in bench/startup.py, with the
# CPU time of each start.  Needs a passthrough build (libfuse >= 3.17) and
# the guest kernel of tests/vm (tests/vm/README.md).
#
#   make bench-startup-guest           # ROUNDS=5 RUNS=3 by default
#
# EROFS DAX on virtio-pmem is not measured here (bench/xip.sh boots it).
set -u
: "${top_srcdir:?run through make bench-startup-guest}"
. "$top_srcdir/tests/vm/xip-lib.sh"
xip_prepare
ROUNDS=${ROUNDS:-5}
RUNS=${RUNS:-3}
dir=$(mktemp -d "$top_builddir/bench-startup-guest.XXXXXX") || exit 1
trap 'rm -rf "$dir"' EXIT
cp "$XIP_SEG" "$dir/seg" || exit 1

cat >"$dir/guest.sh" <<EOF
PATH=/usr/sbin:/usr/bin:/sbin:/bin
$(xip_guest_lib)
insmod $XIPMAP_KO || exit 1
$(xip_mount_cmd a /tmp/a xip=on "ivshmem:$XIP_UUID")
$(xip_mount_cmd c /tmp/c xip=off "ivshmem:$XIP_UUID")
mkdir -p /tmp/t
mount -t tmpfs -o size=512m tmpfs /tmp/t || exit 1
cp -a $XIP_TREE/usr /tmp/t/ || exit 1
echo "== python3 start + 9 imports in the guest, $ROUNDS interleaved rounds of $RUNS"
/usr/bin/python3 $top_srcdir/bench/startup.py $ROUNDS $RUNS tmpfs=/tmp/t/usr \
	xip=/tmp/a/usr@\$(cat a.pid) xip-off=/tmp/c/usr@\$(cat c.pid)
umount /tmp/a; umount /tmp/c
EOF
vm_boot --name startup-guest --mem 1G --timeout 1800 --work "$dir" --ivshmem "$dir/seg" -- ". ./guest.sh"
