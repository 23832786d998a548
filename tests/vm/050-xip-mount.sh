#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# XIP inside one guest (issue 4, acceptance 1-5 and 8): the host shares an
# image as an ivshmem segment; the guest mounts it three times, twice with
# -o xip=on (A, B) and once with -o xip=off (C, the control: FUSE reads).
#  1. Same frame: a page of libc mapped by two processes through A and by
#     one through B is the segment's own frame (BAR 2 + image page, from
#     /proc/PID/pagemap); through C it is a page-cache copy.  Likewise a
#     mount (D) of a tmpfs segment loaded in the guest by xipfsctl maps
#     the segment file's own page, and a mount (E) of the image file (the
#     daemon's sealed memfd) one page for all processes.
#  2. Page cache: reading every file in full (sha256sum and mmap) through A
#     leaves the guest's Cached nearly unchanged; through C it grows by the
#     data read.  The sums equal the source tree's.
#  3. Programs: ls, python3 (stdlib, extension modules by dlopen, libraries
#     by the dynamic loader, ctypes) and the loader itself run from A and
#     print what the host's own files print; their maps show the mount.
#  4. COW: MAP_PRIVATE writes stay private; writable shared maps refused.
#  5. ptrace and gdb: text reads, breakpoints.
#  6. Daemon death: kill -9 of B's daemon; an existing mapping still reads
#     the file; a new open gets ENOTCONN.
#  7. No bytes past EOF (issue 9, 3f): in a crafted image a file's last
#     page holds a non-zero byte after EOF; XIP refuses that file, saying
#     why, and a mapping of it shows zeros after EOF (FUSE reads serve it).
# The kernel log must stay clean (vm_boot checks it), and the host segment
# file must be unchanged afterwards.
set -u
. "$top_srcdir/tests/vm/xip-lib.sh"
xip_prepare

vm_workdir xip-mount
seg=$dir/seg
cp "$XIP_SEG" "$seg" || exit 99
lib=/usr/lib/x86_64-linux-gnu
libc=$lib/libc.so.6
off=131072
py=/usr/bin/python3.11
cat >"$dir/work.py" <<'EOF'
import ctypes, decimal, hashlib, json, lzma, bz2, sqlite3, sys, zlib
db = sqlite3.connect(":memory:")
db.execute("create table t (k integer, v text)")
db.executemany("insert into t values (?, ?)", [(i, str(i * i)) for i in range(500)])
rows = db.execute("select count(*), sum(k), max(v) from t").fetchone()
blob = json.dumps({"rows": rows, "pi": str(decimal.Decimal(355) / decimal.Decimal(113))}).encode()
libc = ctypes.CDLL("libc.so.6")
print(rows, hashlib.sha256(blob).hexdigest(), len(zlib.compress(blob * 50)),
      len(lzma.compress(blob)) > 0, len(bz2.compress(blob)) > 0, libc.abs(-42))
maps = open("/proc/self/maps").read()
for mod in ("_sqlite3", "_ctypes", "_lzma", "_bz2", "_decimal", "libc.so.6", "libsqlite3"):
    paths = sorted({l.split()[-1] for l in maps.splitlines() if mod in l})
    print("MAP", mod, " ".join(paths))
EOF
# The host's own run, to compare with (maps lines differ by design).
/usr/bin/python3.11 "$dir/work.py" | grep -v '^MAP' >"$dir/host.out" || exit 99

# 7: t (100 bytes) gets an 'X' 200 bytes into its page, after its EOF.
mkdir -p "$dir/tail"
head -c 100 /dev/urandom >"$dir/tail/t"
head -c 5000 /dev/urandom >"$dir/tail/u"
"$top_builddir/src/mkxipfs/mkxipfs" -q "$dir/tail" "$dir/tail.img" || exit 99
eoft=$top_srcdir/tests/integration/eof-tail.py
/usr/bin/python3 "$eoft" poke "$dir/tail/t" "$dir/tail.img" "$dir/tail.img" >/dev/null || exit 99

cat >"$dir/guest.sh" <<EOF
PATH=/usr/sbin:/usr/bin:/sbin:/bin
$(xip_guest_lib)
insmod $XIPMAP_KO || exit 1
$(xip_mount_cmd a /tmp/a xip=on "ivshmem:$XIP_UUID")
$(xip_mount_cmd b /tmp/b xip=on ivshmem)
$(xip_mount_cmd c /tmp/c xip=off "ivshmem:$XIP_UUID")
ck "A logs the XIP path" "grep -q 'XIP: files map' a.log"
ck "C logs why it serves FUSE reads" "grep -q 'serving reads through FUSE: -o xip=off' c.log"
ck "xipfsctl reads the ivshmem segment (info, fsck --verify-data)" "$XIPFSCTL info ivshmem | grep -qx uuid=$XIP_UUID && $XIPFSCTL fsck --verify-data -q ivshmem:$XIP_UUID"
dev=\$(ivshmem_dev)

echo "== 1. one frame"
want=\$($XIP_PROBE segpfn $XIP_IMG $libc $off \$dev)
probe_bg hold hold /tmp/a$libc $off
p1=\$(sed -n '1s/^pfn //p' hold.out)
p2=\$(pfn /tmp/a$libc $off)
p3=\$(pfn /tmp/b$libc $off)
pc=\$(pfn /tmp/c$libc $off)
echo "segment frame \$want; A: \$p1 and \$p2; B: \$p3; C (xip=off): \$pc"
ck "two processes on mount A map the segment's frame" "[ '\$p1' = '\$want' ] && [ '\$p2' = '\$want' ]"
ck "mount B (same segment) maps the same frame" "[ '\$p3' = '\$want' ]"
ck "the xip=off mount maps a copy (control)" "[ -n '\$pc' ] && [ '\$pc' != '\$want' ]"
probe_go
# The same through a host-style segment: a tmpfs file loaded by xipfsctl.
at=\$($XIP_PROBE imgoff $XIP_IMG $libc $off)
$XIPFSCTL load $XIP_IMG t || fail=1
$(xip_mount_cmd d /tmp/d xip=on seg:t)
ps=\$(pfn /dev/shm/xipfs.t \$at)
pd=\$(pfn /tmp/d$libc $off)
pd2=\$(pfn /tmp/d$libc $off)
echo "tmpfs segment: page frame \$ps; through its mount: \$pd, \$pd2"
ck "a mount of a tmpfs segment maps the segment file's own frame" "[ -n '\$ps' ] && [ '\$ps' != 0 ] && [ '\$pd' = '\$ps' ] && [ '\$pd2' = '\$ps' ]"
# And an image file: the daemon's private sealed memfd.
$(xip_mount_cmd e /tmp/e xip=on $XIP_IMG)
pe=\$(pfn /tmp/e$libc $off)
pe2=\$(pfn /tmp/e$libc $off)
echo "image file (sealed memfd): \$pe, \$pe2"
ck "an image file's mount maps one frame for every process" "[ -n '\$pe' ] && [ '\$pe' != 0 ] && [ '\$pe' = '\$pe2' ] && [ '\$pe' != '\$ps' ]"
ck "and reads the file right" "cmp -s /tmp/e$libc $XIP_TREE$libc"
umount /tmp/e

echo "== 2. page cache"
sync; echo 3 >/proc/sys/vm/drop_caches
cached() { sed -n 's/^Cached: *\([0-9]*\) kB/\1/p' /proc/meminfo; }
c0=\$(cached)
(cd /tmp/a && find . -type f -print0 | sort -z | xargs -0 sha256sum) >sums.a
ms=\$(cd /tmp/a && find . -type f -print0 | sort -z | xargs -0 $XIP_PROBE mapsum)
c1=\$(cached)
(cd /tmp/c && find . -type f -print0 | sort -z | xargs -0 sha256sum) >sums.c
c2=\$(cached)
kb=\$(du -s -k --apparent-size /tmp/a | cut -f1)
echo "data \${kb} kB; Cached grew \$((c1 - c0)) kB reading A (read + mmap: \$ms), \$((c2 - c1)) kB reading C"
ck "every file read through A equals the source" "cmp -s sums.a $XIP_SUMS"
ck "every file read through C equals the source" "cmp -s sums.c $XIP_SUMS"
ck "reading A in full grew the page cache by < 2% of the data" "[ \$((c1 - c0)) -lt \$((kb / 50)) ]"
ck "reading C grew it by > 80% of the data (control)" "[ \$((c2 - c1)) -gt \$((kb * 4 / 5)) ]"

echo "== 3. programs"
ck "ls runs from the mount" "/tmp/a/usr/bin/ls /tmp/a/usr/lib/python3.11 | grep -qx json"
PYTHONHOME=/tmp/a/usr LD_LIBRARY_PATH=/tmp/a$lib /tmp/a$py work.py >py.out 2>&1
cat py.out
grep -v ^MAP py.out >py.res
ck "python3 from the mount prints what the host's python prints" "cmp -s py.res host.out"
for m in _sqlite3 _ctypes _lzma _bz2 _decimal libc.so.6 libsqlite3; do
	ck "\$m was mapped from the mount only" "grep -q '^MAP '\$m' /tmp/a/[^ ]*\$' py.out"
done
PYTHONHOME=/tmp/a/usr /tmp/a$lib/ld-linux-x86-64.so.2 --library-path /tmp/a$lib /tmp/a$py work.py 2>&1 |
	grep -v ^MAP >py2.res
ck "the dynamic loader itself runs from the mount" "cmp -s py2.res host.out"

echo "== 4. copy on write"
$XIP_PROBE cow /tmp/a$libc || fail=1
ck "the mapped libc still equals the source after the private writes" "cmp -s /tmp/b$libc $XIP_TREE$libc"

echo "== 5. ptrace and gdb"
$XIP_PROBE ptrace /tmp/a/usr/bin/ls || fail=1
PYTHONHOME=/tmp/a/usr LD_LIBRARY_PATH=/tmp/a$lib gdb -nx -batch -ex 'set debuginfod enabled off' \
	-ex 'break Py_BytesMain' -ex run -ex 'info symbol \$pc' -ex 'x/2i \$pc' -ex continue \
	--args /tmp/a$py -c 'print(6 * 7)' >gdb.out 2>&1
cat gdb.out
ck "gdb stops at a breakpoint in python3 running from the mount" "grep -q 'Breakpoint 1, .*Py_BytesMain' gdb.out"
ck "the program then runs on to a clean exit" "grep -qx 42 gdb.out && grep -q 'exited normally' gdb.out"

echo "== 6. daemon death"
probe_bg dying dying /tmp/b$py
kill -9 \$(cat b.pid); sleep 1
probe_go; rc=\$?
cat dying.out
ck "mappings outlive the daemon; new opens get ENOTCONN" "[ \$rc = 0 ]"
umount -l /tmp/b
ck "A still serves after B's daemon died" "cmp -s /tmp/a$py $XIP_TREE$py"

echo "== 7. bytes past EOF"
$(xip_mount_cmd f /tmp/f xip=on $dir/tail.img)
ck "a mapping of t shows zeros after its EOF" "/usr/bin/python3 $eoft map /tmp/f/t"
ck "t and u read right" "cmp -s /tmp/f/t $dir/tail/t && cmp -s /tmp/f/u $dir/tail/u"
cat f.log
ck "XIP refused t and said why" "grep -q 'after end of file is not zero: not mapped in place' f.log"
ck "and only t" "[ \$(grep -c 'not mapped in place' f.log) = 1 ]"
umount /tmp/f

umount /tmp/a; umount /tmp/c; umount /tmp/d
wait
$XIPFSCTL unload t || fail=1
exit \$fail
EOF

vm_boot --name xip-mount --mem 768M --timeout 420 --work "$dir" --ivshmem "$seg" -- ". ./guest.sh"
rc=$?
if ! cmp -s "$seg" "$XIP_SEG"; then
	echo "FAIL: the host segment file changed"
	rc=1
fi
exit $rc
