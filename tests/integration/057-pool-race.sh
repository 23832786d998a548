#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Pool segments under concurrency and crashes (issue 10): the pool stays
# fsck clean and no mount ever sees a partial image when
#  - an add is SIGKILLed after writing some of its data pages, and just
#    before its commit (XIPFS_POOL_STOP stops it at that point first);
#  - two adds run at once;
#  - adds (live updates of one label) race mounts and full reads of it:
#    every mount shows one version exactly;
# and gc keeps retired images while a process that is not xipfs (QEMU)
# maps the pool, until --guests-done.  The generated tree (xattrs, holes,
# a > 4 GiB sparse file, hard links, devices) round-trips through a pool.
. "$(dirname "$0")/lib.sh"
need_fuse
py=/usr/lib/python3.11
[ -d "$py/email" ] || skip "needs $py"
pool=race$$
SEGMENTS+=("$pool")

"$TESTS/gentree.sh" "$WORK/G" --small
mkdir -p "$WORK/P1" "$WORK/P2" "$WORK/V1" "$WORK/V2"
cp -a "$py/email" "$py/json" "$WORK/P1/"
cp -a "$py/asyncio" "$py/json" "$WORK/P2/"
cp -a "$py/email" "$WORK/V1/"
cp -a "$py/email" "$WORK/V2/"
find "$WORK/V2" -name '*.py' | sort | sed -n '1~5p' | while read -r f; do echo "# v2" >>"$f"; done
for t in G P1 P2 V1 V2; do gen_image "$WORK/$t" "$WORK/$t.img"; done
"$XIPFSCTL" create "$pool" --size 64M || fail "create failed"
"$XIPFSCTL" add "$pool" "$WORK/G.img" || fail "add G failed"
mount_xipfs "seg:$pool/G" "$WORK/mG"
"$PY" "$TESTS/treecmp.py" "$WORK/G" "$WORK/mG" || fail "the generated tree differs through the pool"

gen() { "$XIPFSCTL" stat --json "$pool" | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["generation"])'; }
has() { "$XIPFSCTL" stat --json "$pool" | "$PY" -c 'import json,sys; sys.exit(not any(i["label"]==sys.argv[1] for i in json.load(sys.stdin)["images"]))' "$1"; }

# --- SIGKILL in the middle of an add, at known points
blocks0=$(stat -c %b "/dev/shm/xipfs.$pool")
for stop in 1 40 0; do
	g0=$(gen)
	XIPFS_POOL_STOP=$stop "$XIPFSCTL" add "$pool" "$WORK/P1.img" killed &
	pid=$!
	n=0
	until [ "$(awk '{ print $3 }' /proc/$pid/stat 2>/dev/null)" = T ]; do
		n=$((n + 1))
		[ $n -lt 600 ] || fail "the add did not reach its stop point $stop"
		sleep 0.1
	done
	# Meanwhile: readers see the old pool, and wait for nothing.
	"$XIPFSCTL" fsck -q "seg:$pool" || fail "fsck while an add is stopped (stop $stop)"
	kill -9 $pid
	wait $pid 2>/dev/null || true
	"$XIPFSCTL" fsck "seg:$pool" || fail "fsck after SIGKILL at stop $stop"
	[ "$(gen)" = "$g0" ] || fail "a killed add committed (stop $stop)"
	has killed && fail "a killed add left its label (stop $stop)"
	mkdir -p "$WORK/k$stop"
	"$XIPFS" "seg:$pool/killed" "$WORK/k$stop" 2>/dev/null && fail "a killed add mounts"
done
# The killed adds did write (tmpfs allocated their pages): only nothing named them.
[ "$(stat -c %b "/dev/shm/xipfs.$pool")" -gt "$blocks0" ] || fail "the killed adds wrote nothing"
"$XIPFSCTL" add "$pool" "$WORK/P1.img" P1 || fail "add after the kills failed"
mount_xipfs "seg:$pool/P1" "$WORK/mP1"
"$PY" "$TESTS/treecmp.py" "$WORK/P1" "$WORK/mP1" || fail "P1 differs after the kills"

# --- two adds at once
"$XIPFSCTL" add "$pool" "$WORK/P2.img" P2 >"$WORK/a1" 2>&1 &
p1=$!
"$XIPFSCTL" add "$pool" "$WORK/V1.img" V >"$WORK/a2" 2>&1 &
p2=$!
wait $p1 || fail "the first of two adds failed: $(cat "$WORK/a1")"
wait $p2 || fail "the second of two adds failed: $(cat "$WORK/a2")"
"$XIPFSCTL" fsck "seg:$pool" || fail "fsck after two adds at once"
mount_xipfs "seg:$pool/P2" "$WORK/mP2"
mount_xipfs "seg:$pool/V" "$WORK/mV"
"$PY" "$TESTS/treecmp.py" "$WORK/P2" "$WORK/mP2" || fail "P2 differs"
"$PY" "$TESTS/treecmp.py" "$WORK/V1" "$WORK/mV" || fail "V differs"

# --- live updates of V racing mounts and reads of V
(
	for i in 1 2 3 4 5 6; do
		[ $((i % 2)) -eq 1 ] && img=V2 || img=V1
		"$XIPFSCTL" add "$pool" "$WORK/$img.img" V >/dev/null || exit 1
	done
) &
writer=$!
for i in 1 2 3 4 5 6; do
	d=$WORK/r$i
	mount_xipfs "seg:$pool/V" "$d"
	"$PY" "$TESTS/treecmp.py" "$WORK/V1" "$d" >/dev/null 2>&1 ||
		"$PY" "$TESTS/treecmp.py" "$WORK/V2" "$d" >/dev/null ||
		fail "mount $i of V during updates is neither version"
	"$PY" "$TESTS/treecmp.py" "$WORK/V1" "$WORK/mV" >/dev/null ||
		fail "the first mount of V changed during updates"
done
wait $writer || fail "the updates failed"
"$XIPFSCTL" fsck "seg:$pool" || fail "fsck after updates racing mounts"

# --- gc with a process that is not xipfs mapping the pool (as QEMU does)
"$PY" -c 'import mmap, os, sys, time
fd = os.open(sys.argv[1], os.O_RDONLY)
m = mmap.mmap(fd, 0, prot=mmap.PROT_READ)
print("ready", flush=True)
time.sleep(600)' "/dev/shm/xipfs.$pool" >"$WORK/qemu" &
qemu=$!
n=0
until grep -q ready "$WORK/qemu"; do
	n=$((n + 1)); [ $n -lt 600 ] || fail "the mapping process did not start"; sleep 0.1
done
fusermount3 -u "$WORK/mV"
for i in 1 2 3 4 5 6; do fusermount3 -u "$WORK/r$i"; done
"$XIPFSCTL" gc "$pool" >"$WORK/gc" 2>&1 || fail "gc failed: $(cat "$WORK/gc")"
cat "$WORK/gc"
grep -q "0 retired images dropped" "$WORK/gc" && grep -q "kept: 1 processes that are not xipfs" "$WORK/gc" ||
	fail "gc dropped retired images while a foreign process maps the pool"
# Daemons exit after their unmount: wait until no retired image is held.
n=0
until "$XIPFSCTL" gc --guests-done "$pool" >"$WORK/gc" 2>&1 && ! grep -q "mounted on this host" "$WORK/gc"; do
	n=$((n + 1)); [ $n -lt 100 ] || fail "retired images stay held: $(cat "$WORK/gc")"; sleep 0.2
done
cat "$WORK/gc"
kill $qemu
"$XIPFSCTL" stat "$pool" | grep -q retired && fail "gc --guests-done kept retired images"
"$XIPFSCTL" fsck "seg:$pool" || fail "fsck after gc"
for t in G P1 P2; do
	"$PY" "$TESTS/treecmp.py" "$WORK/$t" "$WORK/m$t" >/dev/null || fail "$t changed by gc"
done
exit 0
