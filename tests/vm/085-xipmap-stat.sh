#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# XIPMAP_IOC_SEG_STAT: what of a segment is mapped now.  On a sealed memfd
# and on an ivshmem BAR, two processes map two backing files that share
# segment pages; the counters (mappings, processes, mapped segment pages
# and PTEs, private copies) must equal what /proc/PID/pagemap shows and
# what the layout implies, and fall as the processes MADV_DONTNEED, unmap
# and exit (tests/vm/xipmap-stat.c).  The kernel log must stay clean.
set -u
. "$top_srcdir/tests/vm/xipmap-lib.sh"
xipmap_prepare

vm_workdir xipmap-stat
xipmap_segment "$dir/seg" 1048576 || exit 99

vm_boot --name xipmap-stat --work "$dir" --ivshmem "$dir/seg" -- "
	PATH=/usr/sbin:/usr/bin:/sbin:/bin
	insmod $XIPMAP_KO || exit 1
	$XIPMAP_STAT memfd || exit 1
	$XIPMAP_STAT ivshmem $dir/seg || exit 1
	rmmod xipmap || { echo 'FAIL: rmmod after the files are closed'; exit 1; }
"
