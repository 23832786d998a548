#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# Smoke test of bench/fleet-guest.sh (make bench-fleet-guest): one round of
# one real Debian 13 guest (contrib/build-guest.sh) per variant, xipfs and
# EROFS DAX on virtio-pmem.  The table must come out whole: a row per
# guest with a figure in every column, each guest's python3 answered (and
# its imports), /usr mounted the variant's way, the medians and the paired
# ratio to xipfs, and usr_M's parts that need the guest's kernel: xipmap's
# count of backing files (bfiles) and the page cache of EROFS's device
# (devcache), and the table of kernel memory by slab cache.  No time or
# size is judged.  The bench skips (77) only when QEMU or the guest is
# missing (guest_require).
set -u
. "${top_srcdir:?}/tests/vm/lib.sh"
keep=$(mktemp -d "${top_builddir:?}/tests/vm/096.XXXXXX") || exit 99
trap 'rm -rf "$keep"' EXIT
bench_smoke fleet-guest.sh FLEET_GUESTS=1 FLEET_ROUNDS=1 FLEET_VARIANTS="xipfs erofs-pmem" \
	FLEET_KEEP="$keep"
for v in xipfs erofs-pmem; do
	row=$(echo "$out" | grep "^$v  *1  *1 ")
	echo "$v: $row"
	# shellcheck disable=SC2086
	set -- $row
	ck "$v: one row of 22 columns" "[ $# = 22 ]"
	ck "$v: every figure is a number" \
		"[ \$(echo \"\$row\" | tr ' ' '\n' | tail -n +4 | grep -cE '^-?[0-9]+\.[0-9]+$') = 19 ]"
	run=$keep/$v/run-r1-1.txt
	ck "$v: the guest's python3 answered" "grep -q '^python-ok' '$run'"
	ck "$v: and imported json, sqlite3, ssl, email" "grep -q '^imports-ok' '$run'"
	ck "$v: the guest walked /usr's page cache" "grep -q '^k usrcache ' '$run'"
	ck "$v: a median row" "echo \"\$out\" | grep -qE '^$v +med +1 '"
done
ck "xipfs: /usr is the xipfs daemon's" \
	"grep -q '^fuse.xipfs ' '$keep/xipfs/run-r1-1.txt'"
ck "erofs-pmem: /usr is EROFS DAX on /dev/pmem0" \
	"grep -qE '^erofs +/dev/pmem0 .*dax=always' '$keep/erofs-pmem/run-r1-1.txt'"
ck "xipfs: xipmap counted the segment's backing files (bfiles)" \
	"grep -qE '^k xip_files [1-9]' '$keep/xipfs/run-r1-1.txt'"
ck "xipfs: bfiles is more than nothing" "[ \$(echo \"\$out\" | awk '\$1 == \"xipfs\" && \$2 == 1 { print (\$21 > 0) }') = 1 ]"
ck "erofs-pmem: the page cache of /dev/pmem0 was read (devcache)" \
	"grep -qE '^k devcache [1-9]' '$keep/erofs-pmem/run-r1-1.txt'"
ck "the table of kernel memory by slab cache and meminfo line" \
	"echo \"\$out\" | grep -qE '^slab:fuse_inode +[0-9]+ +[0-9]+\$'"
ck "a paired ratio for erofs-pmem" \
	"echo \"\$out\" | grep -qE '^erofs-pmem +[0-9]+\.[0-9]+ +[0-9]+\.[0-9]+\$'"
exit $fail
