#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# `xipfsctl stat` shows what the xipmap helper maps of a segment now.  In a
# guest, a tmpfs segment loaded by xipfsctl is mounted with -o xip=on and
# two processes map the first pages of python3.11 from the mount and read
# them.  The "mapped" figures of `xipfsctl stat --json` (and the text form)
# must grow by what those processes' /proc/PID/pagemap shows: one PTE per
# non-zero page in each process (zero pages are holes, not segment pages),
# and the distinct frames among them; they fall back when the processes
# exit, and to no backing file once the mount is gone.
set -u
. "$top_srcdir/tests/vm/xip-lib.sh"
xip_prepare

vm_workdir xip-stat
py=/usr/bin/python3.11
pages=64

# Map the first $pages pages of a file, read them, print the frames of the
# non-zero pages ("FRAMES n1 n2 ..."), wait for a line on stdin, exit.
cat >"$dir/hold.py" <<'EOF'
import mmap, os, struct, sys
path, n = sys.argv[1], int(sys.argv[2])
fd = os.open(path, os.O_RDONLY)
m = mmap.mmap(fd, n * 4096, mmap.MAP_SHARED, mmap.PROT_READ)
zero = bytes(4096)
data = [m[i * 4096:(i + 1) * 4096] != zero for i in range(n)]
ino = os.fstat(fd).st_ino
start = None
for line in open("/proc/self/maps"):
    f = line.split()
    lo, hi = (int(x, 16) for x in f[0].split("-"))
    if int(f[4]) == ino and hi - lo == n * 4096 and f[2] == "00000000":
        start = lo
pm = os.open("/proc/self/pagemap", os.O_RDONLY)
frames = []
for i in range(n):
    ent, = struct.unpack("<Q", os.pread(pm, 8, (start // 4096 + i) * 8))
    if data[i]:
        frames.append(ent & ((1 << 55) - 1) if ent >> 63 else 0)
print("FRAMES", *frames, flush=True)
sys.stdin.readline()
EOF

cat >"$dir/mapped.py" <<'EOF'
import json, sys
m = json.load(sys.stdin)["mapped"]
print(m["files"], m["mappings"], m["processes"], m["pages"], m["ptes"], m["private"])
EOF

cat >"$dir/guest.sh" <<EOF
PATH=/usr/sbin:/usr/bin:/sbin:/bin
$(xip_guest_lib)
insmod $XIPMAP_KO || exit 1
$XIPFSCTL load $XIP_IMG t || exit 1
$(xip_mount_cmd d /tmp/d xip=on seg:t)
mapped() { $XIPFSCTL stat --json t | $py $dir/mapped.py; }
read f0 m0 p0 pg0 pt0 pr0 <<X
\$(mapped)
X
echo "before: files \$f0 mappings \$m0 processes \$p0 pages \$pg0 ptes \$pt0"
ck "nothing mapped before" "[ \$m0 = 0 ] && [ \$pg0 = 0 ] && [ \$pt0 = 0 ]"
mkfifo /tmp/h1 /tmp/h2
$py $dir/hold.py /tmp/d$py $pages </tmp/h1 >h1.out &
h1=\$!
exec 8>/tmp/h1
$py $dir/hold.py /tmp/d$py $pages </tmp/h2 >h2.out &
h2=\$!
exec 9>/tmp/h2
i=0; while ! { grep -q FRAMES h1.out && grep -q FRAMES h2.out; } && [ \$i -lt 300 ]; do sleep 0.1; i=\$((i+1)); done
fr1=\$(sed -n 's/^FRAMES//p' h1.out); fr2=\$(sed -n 's/^FRAMES//p' h2.out)
n1=\$(echo \$fr1 | wc -w); n2=\$(echo \$fr2 | wc -w)
d=\$(echo \$fr1 \$fr2 | tr ' ' '\n' | sort -u | grep -cv '^0\$')
echo "pagemap: \$n1 + \$n2 non-zero pages mapped, \$d distinct frames"
ck "every non-zero page is mapped (pagemap)" "! echo \$fr1 \$fr2 | grep -qw 0 && [ \$n1 -gt 0 ] && [ \$n1 = \$n2 ]"
ck "both processes map the same frames" "[ '\$fr1' = '\$fr2' ]"
read f m p pg pt pr <<X
\$(mapped)
X
echo "stat --json: files \$f mappings \$m processes \$p pages \$pg ptes \$pt private \$pr"
ck "two more mappings, in two processes" "[ \$m = \$((m0 + 2)) ] && [ \$p = \$((p0 + 2)) ]"
ck "PTEs: one per non-zero page in each process" "[ \$pt = \$((pt0 + n1 + n2)) ]"
ck "pages: the distinct frames" "[ \$pg = \$((pg0 + d)) ]"
ck "no private copies" "[ \$pr = 0 ]"
ck "the text form says the same" "$XIPFSCTL stat t | grep -qx mapped_pages=\$pg && $XIPFSCTL stat t | grep -qx mapped_ptes=\$pt"
$XIPFSCTL stat t | grep ^mapped
echo >&8; exec 8>&-; wait \$h1
read f m p pg pt pr <<X
\$(mapped)
X
echo "one process left: mappings \$m pages \$pg ptes \$pt"
ck "one process gone: its mapping and PTEs are gone" "[ \$m = \$((m0 + 1)) ] && [ \$pt = \$((pt0 + n2)) ] && [ \$pg = \$((pg0 + d)) ]"
echo >&9; exec 9>&-; wait \$h2
read f m p pg pt pr <<X
\$(mapped)
X
ck "both gone: back to nothing mapped" "[ \$m = \$m0 ] && [ \$pg = 0 ] && [ \$pt = 0 ] && [ \$p = \$p0 ]"
umount /tmp/d
i=0; while [ -d /proc/\$(cat d.pid) ] && [ \$i -lt 100 ]; do sleep 0.1; i=\$((i+1)); done
ck "after unmount: the helper holds no backing file of the segment" "$XIPFSCTL stat --json t | $py $dir/mapped.py | grep -q '^0 0 0 0 0 0\$'"
exit \$fail
EOF

vm_boot --name xip-stat --work "$dir" -- ". $dir/guest.sh"
