#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# One segment, two guests at once: both bind the same host file as an
# ivshmem BAR (share=on,readonly=on), attach it by UUID, map a backing file
# and compare it with the host file; then the host changes a marker byte
# once, and both guests must see the new byte through their mappings: the
# guests map the host's one copy, not copies of their own.
set -u
. "$top_srcdir/tests/vm/xipmap-lib.sh"
xipmap_prepare

vm_workdir xipmap-2g
seg=$dir/seg
xipmap_segment "$seg" 1048576 || exit 99
marker=100

XIPMAP_PIDS=
for g in a b; do
	mkdir "$dir/$g"
	vm_boot --name "xipmap-2g-$g" --work "$dir/$g" --ivshmem "$seg" -- "
		PATH=/usr/sbin:/usr/bin:/sbin:/bin
		insmod $XIPMAP_KO || exit 1
		$XIPMAP_TEST ivshmem $seg $marker
	" >"$dir/$g.out" 2>&1 &
	XIPMAP_PIDS="$XIPMAP_PIDS $!"
done

flipped=
xipmap_flip_when_ready "$seg" "$marker" "$dir/a" "$dir/b" && flipped=1
xipmap_guests_done "$flipped" "$dir" a b
