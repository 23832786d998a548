#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# XIP on segments held in huge (2 MiB) shmem folios (issue 9, item 3h), and
# fault-around (goal 1), in one guest:
#  1. /dev/shm remounted huge=always, a segment loaded there (xipfsctl
#     load): the segment is in huge folios (ShmemHugePages grows) and a
#     mount of it maps every file right: the bytes read through MAP_SHARED
#     and MAP_PRIVATE mappings equal the host's; a page next to a touched
#     one is mapped too (fault-around) and is the segment's own frame;
#     private writes stay private; a program runs from it.
#  2. shmem_enabled=always, the image file mounted (the daemon's sealed
#     memfd, in huge folios): the same bytes.
#  3. fault_around (the module parameter): with 16 pages, a fault maps at
#     most 16 and MADV_SEQUENTIAL maps more; the default maps more than
#     16; MADV_RANDOM maps only the touched page; 0 is refused and other
#     values are rounded down to a power of two.
# Before huge folios were handled, such faults got SIGBUS.
set -u
. "$top_srcdir/tests/vm/xip-lib.sh"
xip_prepare

vm_workdir xip-huge
lib=/usr/lib/x86_64-linux-gnu
libc=$lib/libc.so.6
py=/usr/bin/python3.11
# The files read through mappings, and the host's sums of them.
files="$py $libc $lib/libcrypto.so.3 $lib/libsqlite3.so.0"
rel=$(for f in $files; do printf ' .%s' "$f"; done)
(cd "$XIP_TREE" && "$XIP_PROBE" mapsum $rel) >"$dir/want.shared" || exit 99
(cd "$XIP_TREE" && "$XIP_PROBE" touch plain $rel) | awk '{ print $1, $2, $5 }' >"$dir/want.private" || exit 99

cat >"$dir/guest.sh" <<EOF
PATH=/usr/sbin:/usr/bin:/sbin:/bin
$(xip_guest_lib)
insmod $XIPMAP_KO || exit 1
thp=/sys/kernel/mm/transparent_hugepage/shmem_enabled
[ -w \$thp ] || { echo "FAIL: no \$thp: the guest kernel has no THP for shmem"; exit 1; }
huge() { sed -n 's/^ShmemHugePages: *\([0-9]*\) kB/\1/p' /proc/meminfo; }
# Byte sums of the files read through MAP_SHARED and (one byte a page)
# MAP_PRIVATE mappings, to compare with the host's.
sums() {
	(cd \$1 && $XIP_PROBE mapsum $rel) >got.shared
	(cd \$1 && $XIP_PROBE touch plain $rel) | awk '{ print \$1, \$2, \$5 }' >got.private
	ck "\$1: MAP_SHARED reads of every file equal the host's" "cmp got.shared want.shared"
	ck "\$1: MAP_PRIVATE reads equal the host's" "cmp got.private want.private"
	ck "\$1: read() too" "(for f in $files; do cmp \$1\\\$f $XIP_TREE\\\$f || exit 1; done)"
}

echo "== 1. a tmpfs segment in huge folios"
mount -o remount,huge=always /dev/shm || exit 1
h0=\$(huge)
$XIPFSCTL load $XIP_IMG h || exit 1
h1=\$(huge)
echo "ShmemHugePages \$h0 kB before the load, \$h1 kB after"
ck "the segment is held in huge folios" "[ \$h1 -ge \$((h0 + 2048)) ]"
$(xip_mount_cmd h /tmp/h xip=on seg:h)
sums /tmp/h
around_ck h /tmp/h$libc $XIP_IMG $libc /dev/shm/xipfs.h
$XIP_PROBE cow /tmp/h$libc || fail=1
ck "private writes left the segment unchanged" "cmp -s /tmp/h$libc $XIP_TREE$libc"
PYTHONHOME=/tmp/h/usr LD_LIBRARY_PATH=/tmp/h$lib /tmp/h$py -c 'import json; print(json.dumps(6 * 7))' >py.out 2>&1
ck "python3 runs from the mount" "[ \"\\\$(cat py.out)\" = 42 ]"

echo "== 2. an image file in a memfd of huge folios"
echo always >\$thp || exit 1
h2=\$(huge)
$(xip_mount_cmd m /tmp/m xip=on $XIP_IMG)
h3=\$(huge)
echo "ShmemHugePages \$h2 kB before the mount, \$h3 kB after"
ck "the daemon's memfd is held in huge folios" "[ \$h3 -ge \$((h2 + 2048)) ]"
sums /tmp/m

echo "== 3. fault_around and madvise"
fa=/sys/module/xipmap/parameters/fault_around
def=\$(cat \$fa)
echo 16 >\$fa || fail=1
r=\$($XIP_PROBE touch random /tmp/h$libc | cut -d' ' -f2,4)
s=\$($XIP_PROBE touch sequential /tmp/h$libc | cut -d' ' -f2,4)
p=\$($XIP_PROBE touch plain /tmp/h$libc | cut -d' ' -f2,4)
echo \$def >\$fa || fail=1
d=\$($XIP_PROBE touch plain /tmp/h$libc | cut -d' ' -f2,4)
echo "pages and faults: MADV_RANDOM \$r, MADV_SEQUENTIAL \$s, none \$p (fault_around=16), none \$d (fault_around=\$def)"
ck "MADV_RANDOM: one fault per page" "[ \${r% *} = \${r#* } ]"
ck "fault_around=16: a fault maps at most 16 pages" "[ \${p#* } -ge \$(( (\${p% *} + 15) / 16 )) ]"
ck "MADV_SEQUENTIAL: fewer faults than without advice" "[ \${s#* } -lt \${p#* } ]"
ck "the default window is wider than 16 pages" "[ \${d#* } -lt \${p#* } ]"
ck "fault_around=0 is refused" "! echo 0 2>/dev/null >\$fa"
echo 100 >\$fa
ck "fault_around=100 is rounded down to 64" "[ \$(cat \$fa) = 64 ]"
echo \$def >\$fa

umount /tmp/h; umount /tmp/m
wait
$XIPFSCTL unload h || fail=1
exit \$fail
EOF

vm_boot --name xip-huge --mem 768M --timeout 420 --work "$dir" -- ". ./guest.sh"
