#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Segments: load, list, stat; two daemons serve the same segment; the
# segment and the private memfd cannot be written by root through any path
# tried; unload refuses while in use; a load, into tmpfs or hugetlbfs, leaves
# the image file out of the page cache.
. "$(dirname "$0")/lib.sh"
need_fuse
seg=test$$
"$TESTS/gentree.sh" "$WORK/src" --small
gen_image "$WORK/src" "$WORK/img"
"$XIPFSCTL" load "$WORK/img" "$seg" || fail "load failed"
SEGMENTS+=("$seg")
f=/dev/shm/xipfs.$seg
[ -f "$f" ] || fail "$f missing"
[ "$(stat -c %a:%u "$f")" = 444:0 ] || fail "segment mode/owner $(stat -c %a:%u "$f")"
sz=$(stat -c %s "$f")
[ $((sz & (sz - 1))) -eq 0 ] || fail "segment size $sz is not a power of two"
cmp -n "$(stat -c %s "$WORK/img")" "$f" "$WORK/img" || fail "segment content differs from the image"
"$XIPFSCTL" list | grep -q "^$seg " || fail "list does not show $seg"
"$XIPFSCTL" stat "$seg" | grep -q "^users=0" || fail "stat users != 0"
# Two daemons on one segment.
mount_xipfs "seg:$seg" "$WORK/a"
mount_xipfs "seg:$seg" "$WORK/b"
"$PY" "$TESTS/treecmp.py" "$WORK/src" "$WORK/a" || fail "first mount differs"
"$PY" "$TESTS/treecmp.py" "$WORK/src" "$WORK/b" || fail "second mount differs"
users=$("$XIPFSCTL" stat "$seg" | sed -n 's/^users=//p')
[ "$users" -ge 2 ] || fail "stat counts $users users with two daemons"
rc=0; "$XIPFSCTL" unload "$seg" 2>"$WORK/err" || rc=$?
[ $rc -ne 0 ] && grep -q "in use" "$WORK/err" || fail "unload of a segment in use succeeded"
# Root cannot write the segment: open for write, truncate, shared writable map.
"$PY" - "$f" <<'PY' || fail "the segment could be written"
import mmap, os, sys
f = sys.argv[1]
bad = []
for flags in (os.O_WRONLY, os.O_RDWR, os.O_WRONLY | os.O_TRUNC, os.O_RDWR | os.O_APPEND):
    try:
        os.close(os.open(f, flags)); bad.append("open %#o" % flags)
    except OSError:
        pass
try:
    os.truncate(f, 0); bad.append("truncate")
except OSError:
    pass
fd = os.open(f, os.O_RDONLY)
try:
    mmap.mmap(fd, 4096, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE); bad.append("mmap shared rw")
except (OSError, ValueError):
    pass
try:
    os.rename(f, f + ".x"); os.rename(f + ".x", f); bad.append("rename")
except OSError:
    pass
try:
    os.unlink(f); bad.append("unlink")
except OSError:
    pass
print("segment writes refused" if not bad else "ALLOWED: %s" % bad)
sys.exit(1 if bad else 0)
PY
# The private sealed memfd of an image-file mount: through the daemon's fd.
mount_xipfs "$WORK/img" "$WORK/c"
pid=$(pgrep -n -f "xipfs $WORK/img $WORK/c")
memfd=$(ls -l /proc/$pid/fd | awk '/memfd:xipfs/ { print $9; exit }')
[ -n "$memfd" ] || fail "no memfd in the daemon ($pid)"
"$PY" - "/proc/$pid/fd/$memfd" <<'PY' || fail "the private memfd could be written"
import fcntl, mmap, os, sys
p = sys.argv[1]
bad = []
# Reopening through /proc gives a read-write file: only the seals stop it.
fd = os.open(p, os.O_RDWR)
try:
    os.write(fd, b"x"); bad.append("write")
except OSError:
    pass
for size in (0, 1 << 40):
    try:
        os.ftruncate(fd, size); bad.append("ftruncate %d" % size)
    except OSError:
        pass
seals = fcntl.fcntl(fd, 1034)  # F_GET_SEALS
if seals & 0xf != 0xf:
    bad.append("seals %#x" % seals)
try:
    mmap.mmap(fd, 4096, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE); bad.append("mmap")
except (OSError, ValueError):
    pass
print("memfd writes refused" if not bad else "ALLOWED: %s" % bad)
sys.exit(1 if bad else 0)
PY
unmount_wait "$WORK/a"; unmount_wait "$WORK/b"; unmount_wait "$WORK/c"
"$XIPFSCTL" unload "$seg" || fail "unload after unmount failed"
[ ! -e "$f" ] || fail "$f still there after unload"
# Loading a corrupt image is refused and leaves nothing.
cp "$WORK/img" "$WORK/bad.img"; printf 'X' | dd of="$WORK/bad.img" bs=1 seek=4100 conv=notrunc status=none
printf '\xff' | dd of="$WORK/bad.img" bs=1 seek=$(( $(info_field "$WORK/img" metadata_offset) + 3 )) conv=notrunc status=none
rc=0; "$XIPFSCTL" load "$WORK/bad.img" "$seg" 2>"$WORK/err" || rc=$?
[ $rc -ne 0 ] && grep -q corrupt "$WORK/err" || fail "a corrupt image was loaded"
[ -z "$(ls -A /dev/shm | grep "xipfs.$seg")" ] || fail "failed load left files"
# A load leaves the image out of the page cache, into tmpfs and hugetlbfs
# alike: the segment is the copy that gets used.  The image is written back
# first (dirty pages cannot be dropped), then read in.  Huge pages come from
# the surplus pool, raised for the test and put back after.
need_cmd fincore util-linux
cached() { sync "$WORK/img"; cat "$WORK/img" >/dev/null; }
resident() { fincore -n -o PAGES "$WORK/img" | tr -d ' '; }
cached
[ "$(resident)" -gt 0 ] || fail "the image is not in the page cache after reading it"
"$XIPFSCTL" load "$WORK/img" "$seg" || fail "load failed"
[ "$(resident)" -eq 0 ] || fail "load into tmpfs left $(resident) pages of the image cached"
"$XIPFSCTL" unload "$seg" || fail "unload failed"
over=/proc/sys/vm/nr_overcommit_hugepages
old_over=$(cat "$over")
# The hugetlbfs segment goes before cleanup unmounts its file system.
trap '"$XIPFSCTL" unload --force "$seg" 2>/dev/null || true; cleanup; echo "$old_over" >"$over"' EXIT
echo $((old_over + 4)) >"$over"
mkdir "$WORK/huge"
mount -t hugetlbfs -o pagesize=2M none "$WORK/huge"
cached
"$XIPFSCTL" load --hugetlb "$WORK/huge" "$WORK/img" "$seg" || fail "load --hugetlb failed"
[ "$(resident)" -eq 0 ] || fail "load into hugetlbfs left $(resident) pages of the image cached"
cmp -n "$(stat -c %s "$WORK/img")" "$f" "$WORK/img" || fail "hugetlbfs segment content differs from the image"
"$XIPFSCTL" unload "$seg" || fail "unload of the hugetlbfs segment failed"
umount "$WORK/huge"
