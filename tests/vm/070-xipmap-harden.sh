#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# xipmap.ko hardening on memfd and /dev/shm segments, in a two-vCPU guest
# with two NUMA nodes (see tests/vm/xipmap-harden.c for each check):
# - lifetime: backing files, O_PATH descriptors of them and mappings keep
#   the module loaded; last closes racing rmmod leave the log clean;
# - immutable: no truncate, O_TRUNC, chmod, chown, utimes or xattr through
#   /proc/self/fd/N, no exec of a backing file itself, capabilities of the
#   opener, ATTACH wants a readable descriptor;
# - pins: attach pins the segment; compaction and move_pages() on mapped
#   XIP pages leave bytes and frames alone; detach unpins;
# - writepin: a /dev/shm file with a long-term writable pin is refused.
set -u
. "$top_srcdir/tests/vm/xipmap-lib.sh"
xipmap_prepare

numa="-object memory-backend-ram,id=n0,size=256M -numa node,nodeid=0,memdev=n0"
numa="$numa -object memory-backend-ram,id=n1,size=256M -numa node,nodeid=1,memdev=n1"
vm_boot --name xipmap-harden --smp 2 --mem 512M --qemu-arg "$numa" -- "
	PATH=/usr/sbin:/usr/bin:/sbin:/bin
	insmod $XIPMAP_KO || exit 1
	rc=0
	$XIPMAP_HARDEN lifetime $XIPMAP_KO 100 || rc=1
	$XIPMAP_HARDEN immutable || rc=1
	$XIPMAP_HARDEN pins || rc=1
	$XIPMAP_HARDEN writepin || rc=1
	rmmod xipmap || { echo 'FAIL: rmmod at the end'; rc=1; }
	exit \$rc
"
