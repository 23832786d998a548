#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# xipmap.ko on QEMU ivshmem-plain segments: two host files, each with an
# xipfs superblock header, are given to one guest (share=on,readonly=on).
# The module binds both BARs; the guest attaches each by its UUID, maps a
# backing file with scattered pages and a hole and compares it with the
# host file read over 9p (mapping, read(), /proc/self/mem, private COW,
# SIGBUS past EOF).  Then, live, the host changes a marker byte in the
# first file and the guest must see the new byte through its mapping.
set -u
. "$top_srcdir/tests/vm/xipmap-lib.sh"
xipmap_prepare

vm_workdir xipmap-ivshmem
seg1=$dir/seg1
seg2=$dir/seg2
xipmap_segment "$seg1" 1048576 || exit 99
xipmap_segment "$seg2" 2097152 || exit 99
marker=200

vm_boot --name xipmap-ivshmem --work "$dir" --ivshmem "$seg1,$seg2" -- "
	PATH=/usr/sbin:/usr/bin:/sbin:/bin
	insmod $XIPMAP_KO || exit 1
	n=\$(dmesg | grep -c 'xipmap 0000:.*: segment')
	[ \"\$n\" = 2 ] || { echo \"FAIL: module bound \$n ivshmem segments, expected 2\"; exit 1; }
	$XIPMAP_TEST ivshmem $seg2 || exit 1
	$XIPMAP_TEST ivshmem $seg1 $marker || exit 1
" >"$dir/out" 2>&1 &
XIPMAP_PIDS=$!

# When the guest maps the marker page, change its first byte on the host.
flipped=
xipmap_flip_when_ready "$seg1" "$marker" "$dir" && flipped=1
wait $XIPMAP_PIDS
rc=$?
cat "$dir/out"
if [ -z "$flipped" ]; then
	echo "FAIL: the guest never reported XIPMAP-READY"
	rc=1
fi
exit $rc
