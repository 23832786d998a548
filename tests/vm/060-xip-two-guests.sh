#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# XIP across guests (issue 4, acceptance 1): two guests share one host
# segment file (ivshmem, share=on,readonly=on), each mounts it with
# -o xip=on and maps a page of libc from its mount.  Both must map the
# segment's own frame (BAR 2 + image page), and when the host then changes
# one byte of that page in the segment file, both guests must see the new
# byte through the mappings they already hold, and through read(): the
# guests use the host's one copy, not copies of their own.
set -u
. "$top_srcdir/tests/vm/xip-lib.sh"
xip_prepare

vm_workdir xip-2g
seg=$dir/seg
cp "$XIP_SEG" "$seg" || exit 99
libc=/usr/lib/x86_64-linux-gnu/libc.so.6
off=135168	# a page boundary: xip-probe hold reads the page's first byte
# Where that byte lives in the segment file, and its value now.
at=$("$XIP_PROBE" imgoff "$XIP_IMG" "$libc" "$off") || exit 99
case $at in ''|hole) echo "ERROR: byte $off of $libc is not stored in the image ($at)"; exit 99 ;; esac
[ $((at % 4096)) = 0 ] || { echo "ERROR: byte $off of $libc is not at a page start in the image ($at)"; exit 99; }
old=$(od -A n -t u1 -j "$at" -N 1 "$seg" | tr -d ' ')
new=$(((old + 1) & 255))

XIPMAP_PIDS=
for g in a b; do
	mkdir "$dir/$g"
	cat >"$dir/$g/guest.sh" <<EOF
PATH=/usr/sbin:/usr/bin:/sbin:/bin
$(xip_guest_lib)
insmod $XIPMAP_KO || exit 1
$(xip_mount_cmd xipfs /tmp/x xip=on "ivshmem:$XIP_UUID")
want=\$($XIP_PROBE segpfn $XIP_IMG $libc $off \$(ivshmem_dev))
probe_bg hold hold /tmp/x$libc $off
before=\$(od -A n -t u1 -j $off -N 1 /tmp/x$libc | tr -d ' ')
echo "XIPMAP-READY"
# The host changes the byte, then creates ./go in this work directory.
i=0; while [ ! -e go ] && [ \$i -lt 1200 ]; do sleep 0.1; i=\$((i+1)); done
probe_go
cat hold.out
p1=\$(sed -n '1s/^pfn //p' hold.out)
p2=\$(sed -n 's/^pfn //p' hold.out | tail -n 1)
byte=\$(sed -n 's/^byte //p' hold.out)
after=\$(od -A n -t u1 -j $off -N 1 /tmp/x$libc | tr -d ' ')
echo "segment frame \$want, mapped \$p1 then \$p2; byte $off read \$before then \$after"
ck "the mapping is the segment's frame" "[ '\$p1' = '\$want' ] && [ '\$p2' = '\$want' ]"
ck "read() saw the old byte first ($old)" "[ '\$before' = $old ]"
ck "the mapping held since before sees the host's new byte ($new)" "[ '\$byte' = $new ]"
ck "read() sees the host's new byte too" "[ '\$after' = $new ]"
umount /tmp/x
exit \$fail
EOF
	vm_boot --name "xip-2g-$g" --mem 512M --timeout 420 --work "$dir/$g" --ivshmem "$seg" \
		-- ". ./guest.sh" >"$dir/$g.out" 2>&1 &
	XIPMAP_PIDS="$XIPMAP_PIDS $!"
done

# Wait until both guests hold their mappings, then change the byte once.
flipped=
xipmap_flip_when_ready "$seg" $((at / 4096)) "$dir/a" "$dir/b" && flipped=1
touch "$dir/a/go" "$dir/b/go"
xipmap_guests_done "$flipped" "$dir" a b
