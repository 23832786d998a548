#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# xipmap.ko against a hostile caller, inside a guest: out-of-range page
# indices, count 0, huge and overflowing counts, sizes that disagree with
# the page count, bad pointers, unsealed and partly sealed memfds, a
# non-tmpfs file, a shm file open for writing, bad fds, unknown ioctls and
# a non-root caller (uid 65534 with an inherited /dev/xipmap fd, and
# opening /dev/xipmap).  Every case must be refused with its errno and the
# kernel log must show no WARNING, BUG or Oops (vm_boot checks).
set -u
. "$top_srcdir/tests/vm/xipmap-lib.sh"
xipmap_prepare

vm_boot --name xipmap-hostile -- "
	PATH=/usr/sbin:/usr/bin:/sbin:/bin
	insmod $XIPMAP_KO || exit 1
	$XIPMAP_TEST hostile || exit 1
	dmesg | grep -q 'xipmap: create: entry 0: page' ||
		{ echo 'FAIL: no refusal reason in the kernel log'; exit 1; }
"
