#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Pool segments (issue 10): three overlapping trees in one pool
#  A  the python3.11 stdlib with the libraries python and its extension
#     modules load,
#  B  A with 5% of its files changed,
#  C  a different tree (perl-base) that shares libc with A;
# each label mounted reproduces its tree (treecmp), the pool stores the
# distinct non-zero pages of the union exactly once (counted independently
# by pool-pages.py), fsck is clean; live update, remove and gc keep mounted
# images intact; load and one-image segments still work; a full pool
# refuses an add and changes nothing.
. "$(dirname "$0")/lib.sh"
need_fuse
py=/usr/lib/python3.11
perl=/usr/lib/x86_64-linux-gnu/perl-base
[ -d "$py" ] && [ -d "$perl" ] || skip "needs $py and $perl"
pool=pool$$
SEGMENTS+=("$pool" "one$$")

# --- the three trees
A=$WORK/A B=$WORK/B C=$WORK/C
mkdir -p "$A/usr/lib/x86_64-linux-gnu" "$A/usr/bin" "$C/usr/lib/x86_64-linux-gnu"
tar -C / --exclude=usr/lib/python3.11/config-3.11-x86_64-linux-gnu -cf - usr/lib/python3.11 |
	tar -C "$A" -xf -
cp /usr/bin/python3.11 "$A/usr/bin/"
{ ldd /usr/bin/python3.11; ldd "$py"/lib-dynload/*.so; } | awk '/=> \// { print $3 }' |
	sort -u | while read -r l; do cp -L "$l" "$A/usr/lib/x86_64-linux-gnu/"; done
[ -f "$A/usr/lib/x86_64-linux-gnu/libc.so.6" ] || fail "no libc in tree A"
cp -a "$A" "$B"
# 5% of B's regular files, every 20th in sorted order: bytes appended to
# some, bytes overwritten in the middle of others.
"$PY" - "$B" <<'PY' || fail "changing B failed"
import os, sys
files = sorted(os.path.join(r, f) for r, _, fs in os.walk(sys.argv[1]) for f in fs
               if os.path.isfile(os.path.join(r, f)) and not os.path.islink(os.path.join(r, f)))
for i, p in enumerate(files[::20]):
    with open(p, "r+b") as f:
        size = f.seek(0, 2)
        if i % 2 or size < 16:
            f.write(b"changed %d\n" % i)
        else:
            f.seek(size // 2)
            f.write(b"CHANGED")
print(len(files[::20]), "of", len(files), "files changed")
PY
cp -a "$perl" "$C/usr/lib/x86_64-linux-gnu/"
cp -L /usr/lib/x86_64-linux-gnu/libc.so.6 "$C/usr/lib/x86_64-linux-gnu/"
for t in A B C; do gen_image "$WORK/$t" "$WORK/$t.img"; done

# --- one pool, three images
"$XIPFSCTL" create "$pool" --size 256M || fail "create failed"
f=/dev/shm/xipfs.$pool
[ "$(stat -c %s:%a:%u "$f")" = 268435456:444:0 ] || fail "pool file $(stat -c %s:%a:%u "$f")"
"$XIPFSCTL" add "$pool" "$WORK/A.img" || fail "add A failed"
"$XIPFSCTL" add "$pool" "$WORK/B.img" B || fail "add B failed"
"$XIPFSCTL" add "$pool" "$WORK/C.img" || fail "add C failed"
"$XIPFSCTL" fsck "seg:$pool" || fail "fsck of the pool failed"
for t in A B C; do
	mount_xipfs "seg:$pool/$t" "$WORK/m$t"
	"$PY" "$TESTS/treecmp.py" "$WORK/$t" "$WORK/m$t" || fail "label $t differs from its tree"
done
mount_xipfs "seg:$pool" "$WORK/first"
"$PY" "$TESTS/treecmp.py" "$A" "$WORK/first" || fail "seg:NAME does not mount the first image"

# --- size: the union's distinct non-zero pages, once
want=$("$PY" "$TESTS/pool-pages.py" "$A" "$B" "$C")
"$XIPFSCTL" stat --json "$pool" >"$WORK/stat.json" || fail "stat --json failed"
"$PY" - "$WORK/stat.json" "$want" "$WORK" "$TESTS/pool-pages.py" <<'PY' || fail "pool sizes are wrong"
import json, subprocess, sys
st = json.load(open(sys.argv[1]))
want = int(sys.argv[2])
img = {i["label"]: i for i in st["images"]}
print("pool data pages %d, distinct non-zero pages of A+B+C %d" % (st["data_pages"], want))
print("images: " + ", ".join("%s %d pages (%d shared, %d bytes saved)" %
      (l, i["pages"], i["shared"], i["saved_bytes"]) for l, i in sorted(img.items())))
assert st["data_pages"] == want, "data pages %d != %d" % (st["data_pages"], want)
pc = lambda t: int(subprocess.check_output([sys.executable, sys.argv[4], sys.argv[3] + "/" + t]))
for t in "ABC":
    assert img[t]["pages"] == pc(t), "%s: %d pages, tree has %d" % (t, img[t]["pages"], pc(t))
# C shares exactly libc with A: its perl pages are its own.
assert img["C"]["shared"] > 0 and img["C"]["shared"] < img["C"]["pages"]
assert st["image_pages"] - st["data_pages"] == sum(
    i["pages"] for i in img.values()) - st["data_pages"]
assert abs(st["saved_bytes"] - (st["image_pages"] - st["data_pages"]) * 4096) <= len(img)
PY
"$XIPFSCTL" list >"$WORK/list" || fail "list failed"
grep -q "^$pool .* 3 " "$WORK/list" || fail "list does not show 3 images in $pool"
"$XIPFSCTL" list --json | "$PY" -c 'import json,sys; l=json.load(sys.stdin); p=[s for s in l if s["name"]==sys.argv[1]][0]; assert p["pool"] and p["images"]==3 and 0<p["fill"]<100, p' "$pool" ||
	fail "list --json is wrong"

# --- live update: an open file and a mapping of the old B keep old bytes
changed=$(cd "$B" && find usr/lib/python3.11 -name '*.py' -size +8k | sort | sed -n 1p)
[ -n "$changed" ] || fail "no file to update"
cp "$B/$changed" "$WORK/old"
printf 'NEW VERSION\n' | dd of="$B/$changed" bs=1 seek=100 conv=notrunc status=none
gen_image "$B" "$WORK/B2.img"
"$PY" - "$WORK/mB/$changed" "$WORK/old" "$XIPFSCTL" "$pool" "$WORK/B2.img" <<'PY' || fail "live update changed an open file or mapping"
import mmap, subprocess, sys
path, old, ctl, pool, img = sys.argv[1:]
f = open(path, "rb")
m = mmap.mmap(f.fileno(), 0, prot=mmap.PROT_READ)
before = bytes(m)
subprocess.check_call([ctl, "add", pool, img, "B"])
want = open(old, "rb").read()
assert before == want and bytes(m) == want, "mapping changed"
f.seek(0)
assert f.read() == want, "open file changed"
PY
"$PY" "$TESTS/treecmp.py" "$WORK/A" "$WORK/mA" >/dev/null || fail "A changed by the update"
mount_xipfs "seg:$pool/B" "$WORK/mB2"
"$PY" "$TESTS/treecmp.py" "$B" "$WORK/mB2" || fail "a new mount of B does not show the update"
cmp -s "$WORK/old" "$WORK/mB/$changed" || fail "the old mount of B shows new bytes"
"$XIPFSCTL" stat "$pool" >"$WORK/stat" || fail "stat failed"
grep -Eq '^B +1 retired' "$WORK/stat" || fail "B v1 is not retired"
grep -Eq '^B +2 live' "$WORK/stat" || fail "B v2 is not live"
grep -Eq '^B +1 retired .* yes$' "$WORK/stat" || fail "stat does not show B v1 held by its mount"
grep -Eq '^C +1 live .* yes$' "$WORK/stat" || fail "stat does not show C held by its mount"

# --- remove and gc: a mounted retired image is kept, then freed
"$XIPFSCTL" remove "$pool" C || fail "remove failed"
rc=0; "$XIPFSCTL" remove "$pool" C 2>/dev/null || rc=$?
[ $rc -ne 0 ] || fail "removing a removed label succeeded"
mkdir "$WORK/gone"
"$XIPFS" "seg:$pool/C" "$WORK/gone" 2>/dev/null && fail "a removed label mounts"
"$XIPFSCTL" gc "$pool" | tee "$WORK/gc1" || fail "gc failed"
grep -q "2 kept: mounted on this host" "$WORK/gc1" || fail "gc did not keep the mounted retired images"
"$PY" "$TESTS/treecmp.py" "$C" "$WORK/mC" || fail "the mounted removed image C changed"
unmount_wait "$WORK/mC"
unmount_wait "$WORK/mB"
"$XIPFSCTL" gc "$pool" | tee "$WORK/gc2" || fail "gc failed"
grep -q "^$pool: 2 retired images dropped" "$WORK/gc2" || fail "gc did not drop the unmounted images"
"$XIPFSCTL" fsck "seg:$pool" || fail "fsck after gc failed"
want=$("$PY" "$TESTS/pool-pages.py" "$A" "$B")
got=$("$XIPFSCTL" stat --json "$pool" | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["data_pages"])')
[ "$got" = "$want" ] || fail "after gc the pool holds $got data pages, A+B2 have $want"
"$PY" "$TESTS/treecmp.py" "$A" "$WORK/mA" >/dev/null || fail "A changed by gc"
"$PY" "$TESTS/treecmp.py" "$B" "$WORK/mB2" >/dev/null || fail "B2 changed by gc"
# Pages gc freed are handed out again.
"$XIPFSCTL" add "$pool" "$WORK/C.img" || fail "add C again failed"
"$XIPFSCTL" fsck -q "seg:$pool" || fail "fsck after re-adding C failed"
"$XIPFSCTL" stat "$pool" >"$WORK/stat" || fail "stat failed"
grep -Eq '^C +1 live .* no$' "$WORK/stat" || fail "stat shows the unmounted C held"

# --- refusals: a full pool, a bad label, a one-image segment
"$XIPFSCTL" create "tiny$$" --size 64K || fail "create tiny failed"
SEGMENTS+=("tiny$$")
gen0=$("$XIPFSCTL" stat --json "tiny$$" | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["generation"])')
rc=0; "$XIPFSCTL" add "tiny$$" "$WORK/C.img" 2>"$WORK/err" || rc=$?
[ $rc -ne 0 ] && grep -q "is full" "$WORK/err" || fail "add to a full pool: rc $rc, $(cat "$WORK/err")"
gen1=$("$XIPFSCTL" stat --json "tiny$$" | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["generation"])')
[ "$gen0" = "$gen1" ] || fail "a failed add committed"
"$XIPFSCTL" fsck -q "seg:tiny$$" || fail "fsck after a failed add"
rc=0; "$XIPFSCTL" add "$pool" "$WORK/C.img" 'bad/label' 2>/dev/null || rc=$?
[ $rc -ne 0 ] || fail "a bad label was accepted"
"$XIPFSCTL" load "$WORK/C.img" "one$$" || fail "load failed"
"$XIPFSCTL" add "one$$" "$WORK/A.img" 2>"$WORK/err" && fail "add to a one-image segment succeeded"
grep -q "not a pool" "$WORK/err" || fail "add to a one-image segment: $(cat "$WORK/err")"
mount_xipfs "seg:one$$" "$WORK/one"
"$PY" "$TESTS/treecmp.py" "$C" "$WORK/one" >/dev/null || fail "a loaded one-image segment differs"
mkdir "$WORK/one2"
"$XIPFS" "seg:one$$/C" "$WORK/one2" 2>/dev/null && fail "a label of a one-image segment mounted"
exit 0
