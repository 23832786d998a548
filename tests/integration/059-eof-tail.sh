#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# A crafted image whose file has non-zero bytes after EOF in its last page
# (mkxipfs writes zeros there): fsck flags the byte by offset, without
# --verify-data too; the mount reads the file right and a mapping of its
# last page shows zeros after EOF.  (XIP refusing such a file is checked
# in the guest, tests/vm/050.)
. "$(dirname "$0")/lib.sh"
need_fuse
mkdir -p "$WORK/src" "$WORK/m"
head -c 100 /dev/urandom >"$WORK/src/t"
head -c 5000 /dev/urandom >"$WORK/src/u"
gen_image "$WORK/src" "$WORK/good.img"
"$XIPFSCTL" fsck "$WORK/good.img" >/dev/null || fail "fsck of the good image"

# The byte 200 into t's page (t is 100 bytes long) becomes 'X'.
off=$("$PY" "$TESTS/eof-tail.py" poke "$WORK/src/t" "$WORK/good.img" "$WORK/bad.img")
rc=0
"$XIPFSCTL" fsck "$WORK/bad.img" >"$WORK/out" 2>&1 || rc=$?
[ "$rc" = 4 ] || fail "fsck of an image with a byte after EOF: exit $rc, not 4: $(cat "$WORK/out")"
grep -q "offset $off: .*bytes after end of file are not zero" "$WORK/out" ||
	fail "fsck does not name offset $off: $(cat "$WORK/out")"
note "$(grep 'after end of file' "$WORK/out")"

mount_xipfs "$WORK/bad.img" "$WORK/m"
cmp "$WORK/src/t" "$WORK/m/t" || fail "t reads wrong"
cmp "$WORK/src/u" "$WORK/m/u" || fail "u reads wrong"
"$PY" "$TESTS/eof-tail.py" map "$WORK/m/t" >/dev/null || fail "a mapping of t shows bytes after EOF"
