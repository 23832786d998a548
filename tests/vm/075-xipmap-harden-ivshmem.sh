#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# xipmap.ko hardening on an ivshmem segment, in a guest booted with
# proc_mem.force_override=never (see tests/vm/xipmap-harden.c):
# - cow, cowrace: a tracer's pokes into a forked child never reach the
#   parent's pages or the segment, nor lose the child's own writes racing
#   them;
# - procmem: /proc/PID/mem writes need FOLL_FORCE where the kernel says so;
# - hotremove, twice: removing the PCI device under load gives SIGBUS and
#   EIO, no oops, and the segment comes back after a rescan.
set -u
. "$top_srcdir/tests/vm/xipmap-lib.sh"
xipmap_prepare

vm_workdir xipmap-harden
xipmap_segment "$dir/seg" 1048576 || exit 99

vm_boot --name xipmap-harden-ivshmem --smp 2 --work "$dir" --ivshmem "$dir/seg" \
	--append proc_mem.force_override=never -- "
	PATH=/usr/sbin:/usr/bin:/sbin:/bin
	insmod $XIPMAP_KO || exit 1
	rc=0
	$XIPMAP_HARDEN cow $dir/seg || rc=1
	$XIPMAP_HARDEN cowrace $dir/seg 2000 || rc=1
	$XIPMAP_HARDEN procmem $dir/seg || rc=1
	$XIPMAP_HARDEN hotremove $dir/seg || rc=1
	$XIPMAP_HARDEN hotremove $dir/seg || rc=1
	rmmod xipmap || { echo 'FAIL: rmmod at the end'; rc=1; }
	exit \$rc
"
