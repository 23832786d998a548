#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# xipmap drives a virtio-pmem device itself: the image is a 1 GiB
# virtio-pmem region (QEMU virtio-pmem-pci on a host file, share=on), bound
# by xipmap with no struct pages.  Guest A mounts pmem:UUID with -o xip=on:
# files equal the tree, a page of libc mapped by two processes is one frame,
# the region's own (its physical address from /proc/iomem plus the page's
# offset in the image), and nr_memmap_pages stays 0.  Guest B, the control,
# gives the same device to virtio_pmem/nd_pmem (the path EROFS DAX takes),
# which must build a memmap for it.  Both print MemFree before and after,
# for the report; no threshold is asserted on it.
set -u
. "$top_srcdir/tests/vm/xip-lib.sh"
xip_prepare

vm_workdir xip-pmem
seg=$dir/pmem
cp "$XIP_IMG" "$seg" && truncate -s 1G "$seg" || exit 99
vm_modules
lib=/usr/lib/x86_64-linux-gnu
libc=$lib/libc.so.6
off=131072
pmem=$(vm_pmem_qemu "$seg" ,readonly=on)

# The start of both guests' scripts: mem LABEL prints MemFree and the
# memmap's size, first before anything is loaded.
guest_head() {
	cat <<EOF
PATH=/usr/sbin:/usr/bin:/sbin:/bin
$(xip_guest_lib)
mem() { echo "\$1: MemFree \$(awk '/^MemFree/ { print \$2 }' /proc/meminfo) kB, nr_memmap_pages \$(awk '/^nr_memmap_pages/ { print \$2 }' /proc/vmstat)"; }
mem before
EOF
}

cat >"$dir/a.sh" <<EOF
$(guest_head)
insmod $XIPMAP_KO || exit 1
ck "xipmap binds the virtio-pmem region" "dmesg | grep -q 'xipmap virtio.*: segment $XIP_UUID'"
start=\$(sed -n 's/^ *\([0-9a-f]*\)-[0-9a-f]* : xipmap\$/\1/p' /proc/iomem | head -n 1)
echo "region at 0x\$start"
$(xip_mount_cmd p /tmp/p xip=on "pmem:$XIP_UUID")
ck "the files equal the tree" "cd /tmp/p && sha256sum -c --quiet $XIP_SUMS; r=\\\$?; cd - >/dev/null; [ \\\$r = 0 ]"
at=\$($XIP_PROBE imgoff $XIP_IMG $libc $off)
want=\$(( (0x\$start + at) / 4096 ))
p1=\$(pfn /tmp/p$libc $off)
p2=\$(pfn /tmp/p$libc $off)
echo "libc page: region frame \$want; process 1 \$p1, process 2 \$p2"
ck "two processes map the region's own frame" "[ -n '\$start' ] && [ '\$p1' = \$want ] && [ '\$p2' = \$want ]"
ck "pmem:UUID/LABEL-less first region works too" "$XIPFSCTL info pmem | grep -qx uuid=$XIP_UUID"
ck "ivshmem does not name a pmem region" "! $XIPFSCTL info ivshmem:$XIP_UUID 2>/dev/null"
ck "no memmap for the region" "[ \"\$(awk '/^nr_memmap_pages/ { print \$2 }' /proc/vmstat)\" = 0 ]"
mem "after mount (xipmap)"
umount /tmp/p
i=0; while [ -d /proc/\$(cat p.pid) ] && [ \$i -lt 100 ]; do sleep 0.1; i=\$((i+1)); done
d=\$(basename \$(readlink -f /sys/bus/virtio/drivers/xipmap/virtio*))
echo "device \$d"
ck "unbind through sysfs releases the region" "echo \$d >/sys/bus/virtio/drivers/xipmap/unbind && ! grep -q ' : xipmap\$' /proc/iomem"
ck "bind through sysfs takes it again" "echo \$d >/sys/bus/virtio/drivers/xipmap/bind && grep -q ' : xipmap\$' /proc/iomem"
dmesg | grep xipmap | tail -n 4
rmmod xipmap || { echo 'FAIL: rmmod'; exit 1; }
exit \$fail
EOF

cat >"$dir/b.sh" <<EOF
$(guest_head)
$(vm_pmem_cmd)
ck "nd_pmem binds the same device (/dev/pmem0, DAX)" "[ -b /dev/pmem0 ] && [ \"\$(cat /sys/block/pmem0/queue/dax)\" = 1 ]"
ck "and builds a memmap for it" "[ \"\$(awk '/^nr_memmap_pages/ { print \$2 }' /proc/vmstat)\" -gt 0 ]"
mem "after nd_pmem"
exit \$fail
EOF

rc=0
vm_boot --name xip-pmem-a --work "$dir" --mem 512M,slots=2,maxmem=4G --qemu-arg "$pmem" -- ". $dir/a.sh" || rc=1
vm_boot --name xip-pmem-b --work "$dir" --mem 512M,slots=2,maxmem=4G --qemu-arg "$pmem" -- ". $dir/b.sh" || rc=1
exit $rc
