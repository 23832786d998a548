#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# XIP from a pool (issue 10, guest acceptance): the host makes one pool
# segment holding image A (the XIP test tree: python3.11 and its
# libraries) and image B (a different small tree with the same libc) and
# shares it with a guest over ivshmem.  In the guest:
#  1. libc mapped through a mount of ivshmem/A and through a mount of
#     ivshmem/B is one frame: the pool's page (BAR 2 + pool page), stored
#     once for both images;
#  2. live update: while a program runs from B and another process maps
#     B's file ver, the host adds B2 as the new B.  New mounts of
#     ivshmem/B show B2; the program keeps running, the mapping keeps the
#     old bytes in the same frame, the old mount keeps serving B;
#  3. a label the host added after the guest booted mounts;
#  4. the pool is fsck clean, seen from the guest and from the host.
set -u
. "$top_srcdir/tests/vm/xip-lib.sh"
xip_prepare

vm_workdir xip-pool
pool=vmpool$$
trap '"$XIPFSCTL" unload --force $pool 2>/dev/null; rm -rf "$dir"' EXIT
lib=/usr/lib/x86_64-linux-gnu
libc=$lib/libc.so.6
off=135168
# B: libc, the loader and sleep from the XIP tree, and a 3-page file ver;
# B2 changes ver; L is added once the guest runs.
for t in B B2; do
	mkdir -p "$dir/$t$lib" "$dir/$t/usr/bin" || exit 99
	cp "$XIP_TREE$libc" "$XIP_TREE$lib/ld-linux-x86-64.so.2" "$dir/$t$lib/" || exit 99
	cp /usr/bin/sleep "$dir/$t/usr/bin/" || exit 99
done
head -c 12288 /dev/zero | tr '\0' 1 >"$dir/B/ver"
head -c 12288 /dev/zero | tr '\0' 2 >"$dir/B2/ver"
mkdir -p "$dir/L" && echo "added while the guest ran" >"$dir/L/late" || exit 99
for t in B B2 L; do
	"$top_builddir/src/mkxipfs/mkxipfs" -q "$dir/$t" "$dir/$t.img" || exit 99
done
"$XIPFSCTL" create $pool --size 256M || exit 99
"$XIPFSCTL" add $pool "$XIP_IMG" A || exit 99
"$XIPFSCTL" add $pool "$dir/B.img" B || exit 99
"$XIPFSCTL" stat $pool | grep -E '^(data_pages|image_pages|saved_bytes)=' || exit 99

cat >"$dir/guest.sh" <<EOF
PATH=/usr/sbin:/usr/bin:/sbin:/bin
$(xip_guest_lib)
insmod $XIPMAP_KO || exit 1
$(xip_mount_cmd a /tmp/a xip=on ivshmem/A)
$(xip_mount_cmd b /tmp/b xip=on ivshmem/B)
dev=\$(ivshmem_dev)

echo "== 1. one frame for two images"
want=\$($XIP_PROBE segpfn ivshmem/A $libc $off \$dev)
wantb=\$($XIP_PROBE segpfn ivshmem/B $libc $off \$dev)
pa=\$(pfn /tmp/a$libc $off)
pb=\$(pfn /tmp/b$libc $off)
echo "pool frame of A's libc \$want, of B's \$wantb; mapped through A \$pa, through B \$pb"
ck "A and B store libc's page once: one pool page" "[ -n '\$want' ] && [ '\$want' = '\$wantb' ]"
ck "both mounts map that frame" "[ '\$pa' = '\$want' ] && [ '\$pb' = '\$want' ]"
ck "libc reads right through both" "cmp -s /tmp/a$libc $XIP_TREE$libc && cmp -s /tmp/b$libc $XIP_TREE$libc"

echo "== 2. live update"
/tmp/b$lib/ld-linux-x86-64.so.2 --library-path /tmp/b$lib /tmp/b/usr/bin/sleep 600 &
runner=\$!
probe_bg hold hold /tmp/b/ver 0
old=\$($XIPFSCTL info ivshmem/B | sed -n 's/^uuid=//p')
touch go-update
i=0
while [ "\$($XIPFSCTL info ivshmem/B 2>/dev/null | sed -n 's/^uuid=//p')" = "\$old" ]; do
	i=\$((i + 1)); [ \$i -lt 600 ] || { echo "FAIL: the host's update never showed"; exit 1; }
	sleep 0.2
done
$(xip_mount_cmd b2 /tmp/b2 xip=on ivshmem/B)
probe_go
cat hold.out
p1=\$(sed -n '1s/^pfn //p' hold.out)
p2=\$(sed -n 's/^pfn //p' hold.out | tail -n 1)
ck "a new mount of B shows B2" "cmp -s /tmp/b2/ver $dir/B2/ver"
ck "the old mount of B still shows B" "cmp -s /tmp/b/ver $dir/B/ver"
ck "the mapping held across the update reads the old bytes, same frame" "grep -qx 'byte 49' hold.out && [ '\$p1' = '\$p2' ]"
ck "the program running from B runs on" "kill -0 \$runner && grep -q ' /tmp/b/usr/bin/sleep\$' /proc/\$runner/maps"
kill \$runner

echo "== 3. a label added after boot"
i=0
until $XIPFSCTL info ivshmem/late >/dev/null 2>&1; do
	i=\$((i + 1)); [ \$i -lt 600 ] || { echo "FAIL: label late never showed"; exit 1; }
	sleep 0.2
done
$(xip_mount_cmd l /tmp/l xip=on ivshmem/late)
ck "it mounts and reads right" "cmp -s /tmp/l/late $dir/L/late"

echo "== 4. fsck"
ck "the pool is clean, seen from the guest" "$XIPFSCTL fsck ivshmem"
umount /tmp/a; umount /tmp/b; umount /tmp/b2; umount /tmp/l
wait
exit \$fail
EOF

# The host's side of the update: when the guest asks, add B2 as B, then L.
(
	i=0
	while [ ! -e "$dir/go-update" ]; do
		i=$((i + 1)); [ $i -lt 3000 ] || exit 1
		sleep 0.2
	done
	"$XIPFSCTL" add $pool "$dir/B2.img" B && "$XIPFSCTL" add $pool "$dir/L.img" late
) >"$dir/host-add.out" 2>&1 &
adder=$!

vm_boot --name xip-pool --mem 768M --timeout 420 --work "$dir" --ivshmem "/dev/shm/xipfs.$pool" \
	-- ". ./guest.sh"
rc=$?
[ -e "$dir/go-update" ] || kill $adder 2>/dev/null
wait $adder || { echo "FAIL: the host's adds failed:"; cat "$dir/host-add.out"; rc=1; }
cat "$dir/host-add.out"
"$XIPFSCTL" fsck "seg:$pool" || { echo "FAIL: the pool is not clean on the host"; rc=1; }
"$XIPFSCTL" stat $pool | grep -E ' (live|retired) ' || rc=1
exit $rc
