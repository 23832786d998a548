#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Incremental container images: the next version of an image (one more
# layer) added to a pool holding the previous one writes only the pages
# that version brings: exactly the distinct non-zero file pages of the new
# tree that the old tree lacks, counted by Python from `umoci unpack`
# output.  Both versions then mount as umoci unpacks them.
. "$(dirname "$0")/lib.sh"
need_fuse
need_cmd umoci umoci
L=$WORK/layout
"$TESTS/ocilayout.sh" "$L" "$WORK" >/dev/null
for t in l2 top; do
	umoci unpack --image "$L:$t" "$WORK/ref-$t" >/dev/null
	gen_image "oci:$L:$t" "$WORK/$t.img"
done
want=$("$PY" - "$WORK/ref-l2/rootfs" "$WORK/ref-top/rootfs" <<'PY'
import hashlib, os, sys
def pages(top):
    seen = set()
    for root, dirs, files in os.walk(top):
        for name in files:
            p = os.path.join(root, name)
            if os.path.islink(p) or not os.path.isfile(p):
                continue
            with open(p, "rb") as f:
                while True:
                    b = f.read(4096)
                    if not b:
                        break
                    b = b.ljust(4096, b"\0")
                    if any(b):
                        seen.add(hashlib.sha256(b).digest())
    return seen
print(len(pages(sys.argv[2]) - pages(sys.argv[1])))
PY
)
pool=xipfs-test-022-$$
SEGMENTS+=("$pool")
"$XIPFSCTL" create "$pool" --size 16M >/dev/null || fail "create failed"
"$XIPFSCTL" add "$pool" "$WORK/l2.img" app >/dev/null || fail "add of the first version failed"
out=$("$XIPFSCTL" add "$pool" "$WORK/top.img" app) || fail "add of the next version failed"
new=$(echo "$out" | sed -n 's/.* data pages, \([0-9]*\) new, .*/\1/p')
meta=$(echo "$out" | sed -n 's/.*, \([0-9]*\) metadata pages$/\1/p')
[ -n "$new" ] && [ "$new" = "$want" ] ||
	fail "the one-layer update wrote $new new data pages, the trees differ by $want: $out"
note "one-layer update: $new new data pages + $meta metadata pages = $(((new + meta) * 4096)) bytes written; the image alone is $(stat -c %s "$WORK/top.img") bytes"
"$XIPFSCTL" fsck "seg:$pool" >/dev/null || fail "fsck of the pool failed"
mount_xipfs "seg:$pool/app" "$WORK/m"
"$PY" "$TESTS/treecmp.py" "$WORK/ref-top/rootfs" "$WORK/m" || fail "the updated label differs"
