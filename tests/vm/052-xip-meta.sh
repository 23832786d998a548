#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# The daemon of an ivshmem segment keeps no copy of the image's metadata
# (issue 11: it cost each guest 4.7 MiB for a Debian /usr): it reads names,
# inodes and xattrs straight from its mapping of the segment (BAR frames,
# no struct page), so that mapping holds no anonymous page but the
# superblock's, and what it replies with from there comes through: an
# xattr value (writev() straight from a BAR frame cannot pin it), a
# symlink and the file behind it, a directory of 3000 names.  A file whose
# last page is not zero after EOF (read through the helper's handle, not
# the mapping) is refused XIP, and reads right.
set -u
. "$top_srcdir/tests/vm/xip-lib.sh"
xip_prepare

vm_workdir xip-meta
# A metadata-heavy image with an xattr and a symlink.
meta=$dir/meta
mkdir -p "$meta/d" || exit 99
i=0
while [ $i -lt 3000 ]; do
	: >"$meta/d/name-$i-$(printf %040d $i)"
	i=$((i + 1))
done
echo "some bytes $$" >"$meta/f"
ln -s d/../f "$meta/l"
val=$(head -c 1500 /dev/urandom | od -A n -t x1 | tr -d ' \n')
/usr/bin/python3 -c 'import os, sys; os.setxattr(sys.argv[1], "user.big", sys.argv[2].encode())' \
	"$meta/f" "$val" || exit 99
# t (100 bytes) gets an 'X' after its EOF in the image: the daemon must find
# it (reading the page through the helper's handle) and not map t.
head -c 100 /dev/urandom >"$meta/t"
head -c 5000 /dev/urandom >"$meta/u"
"$top_builddir/src/mkxipfs/mkxipfs" -q "$meta" "$dir/meta.img" || exit 99
/usr/bin/python3 "$top_srcdir/tests/integration/eof-tail.py" poke "$meta/t" "$dir/meta.img" \
	"$dir/meta.img" >/dev/null || exit 99
cp "$dir/meta.img" "$dir/meta.seg" && truncate -s 4M "$dir/meta.seg" || exit 99
muuid=$("$XIPFSCTL" info "$dir/meta.img" | sed -n 's/^uuid=//p')
metakb=$(($("$XIPFSCTL" info "$dir/meta.img" | sed -n 's/^metadata_bytes=//p') / 1024))
[ -n "$muuid" ] && [ "$metakb" -gt 64 ] || { echo "ERROR: meta.img: uuid '$muuid', metadata ${metakb} kB"; exit 99; }
py=/usr/bin/python3.11

cat >"$dir/guest.sh" <<EOF
PATH=/usr/sbin:/usr/bin:/sbin:/bin
$(xip_guest_lib)
insmod $XIPMAP_KO || exit 1
$(xip_mount_cmd m /tmp/m xip=on "ivshmem:$muuid")

got=\$($py -c 'import os; print(os.getxattr("/tmp/m/f", "user.big").decode())')
ck "the xattr value (3000 bytes) comes through" "[ '\$got' = '$val' ]"
ck "the symlink reads" "[ \"\\\$(readlink /tmp/m/l)\" = d/../f ] && [ \"\\\$(cat /tmp/m/l)\" = 'some bytes $$' ]"
ck "3000 names listed" "[ \\\$(ls /tmp/m/d | wc -l) = 3000 ]"
ck "t, whose page is not zero after EOF, is refused XIP and reads right" "cmp -s /tmp/m/t $meta/t && grep -q 'after end of file is not zero' m.log"
ck "u, clean, reads right and is not refused" "cmp -s /tmp/m/u $meta/u && [ \\\$(grep -c 'after end of file is not zero' m.log) = 1 ]"
# The daemon's mapping of the segment: a backing file of the helper's.
grep xipmap /proc/\$(cat m.pid)/maps
anon=\$(awk '/^[0-9a-f]+-/ { cur = (\$6 ~ /xipmap/); n += cur }
	cur && /^Anonymous:/ { s += \$2 } END { print n + 0, s + 0 }' /proc/\$(cat m.pid)/smaps)
echo "segment mapping: vmas, anonymous kB: \$anon (metadata: $metakb kB)"
ck "the segment mapping holds no copy but the superblock page" "[ \\\${anon#* } = 4 ]"

umount /tmp/m
exit \$fail
EOF

vm_boot --name xip-meta --mem 512M --timeout 420 --work "$dir" \
	--ivshmem "$dir/meta.seg" -- ". ./guest.sh"
