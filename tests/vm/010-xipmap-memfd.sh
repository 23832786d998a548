#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# xipmap.ko on host-style segments, inside a guest: a sealed memfd and a
# write-denied /dev/shm file.  Checks read/pread/splice content, that
# MAP_SHARED mappings (two in one process, one in another) reach the
# segment's own frame (pagemap PFN equal to the memfd's mapping), COW of
# MAP_PRIVATE writes, refusal of writable shared mappings and mprotect,
# SIGBUS past EOF, /proc/PID/mem and process_vm_readv reads, and that a
# backing file holding /bin/true cannot be run or mapped executable itself
# (noexec).  The kernel log must stay clean.
set -u
. "$top_srcdir/tests/vm/xipmap-lib.sh"
xipmap_prepare

vm_boot --name xipmap-memfd -- "
	PATH=/usr/sbin:/usr/bin:/sbin:/bin
	insmod $XIPMAP_KO || exit 1
	[ \"\$(stat -c %a /dev/xipmap)\" = 600 ] || { echo 'FAIL: /dev/xipmap is not mode 0600'; exit 1; }
	$XIPMAP_TEST memfd || exit 1
	$XIPMAP_TEST shm || exit 1
	rmmod xipmap || { echo 'FAIL: rmmod after the files are closed'; exit 1; }
"
