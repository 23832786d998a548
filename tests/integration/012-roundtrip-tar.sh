#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Tar input (plain, gzip, xz, zstd, and on standard input) against the tree
# the archive came from.  tar cannot store sockets, so they are left out.
# A later entry of a path replaces the earlier one, xattrs included.
. "$(dirname "$0")/lib.sh"
need_root
need_cmd zstd zstd
need_cmd xz xz-utils
"$TESTS/gentree.sh" "$WORK/src" --small
rm -f "$WORK/src/socket"
tar --xattrs --xattrs-include='*' --format=pax --sparse -C "$WORK/src" -cf "$WORK/t.tar" .
gzip -k "$WORK/t.tar"
xz -k -T1 "$WORK/t.tar"
zstd -q "$WORK/t.tar"
for a in t.tar t.tar.gz t.tar.xz t.tar.zst; do
	SOURCE_DATE_EPOCH=4000000000 gen_image "$WORK/$a" "$WORK/$a.img"
	"$XIPFSCTL" fsck --verify-data "$WORK/$a.img" || fail "fsck of $a image failed"
	"$XIPFSCTL" extract "$WORK/$a.img" "$WORK/out-$a" || fail "extract of $a failed"
	# pax keeps mtime with ns; the root's own entry "." carries its times.
	"$PY" "$TESTS/treecmp.py" "$WORK/src" "$WORK/out-$a" || fail "$a round trip differs"
done
SOURCE_DATE_EPOCH=4000000000 "$MKXIPFS" -q - "$WORK/stdin.img" <"$WORK/t.tar.zst" || fail "tar on stdin failed"
# The same archive gives the same image whichever way it arrives.
cmp "$WORK/stdin.img" "$WORK/t.tar.zst.img" || fail "stdin image differs from file image"
"$XIPFSCTL" extract "$WORK/stdin.img" "$WORK/out-stdin2" || fail "extract of stdin image failed"
"$PY" "$TESTS/treecmp.py" "$WORK/src" "$WORK/out-stdin2" || fail "stdin round trip differs"
# A later entry of a path replaces the earlier one's xattrs, as tar -x does.
"$PY" - "$WORK/dup.tar" <<'PY'
import io, sys, tarfile
with tarfile.open(sys.argv[1], "w", format=tarfile.PAX_FORMAT) as t:
    for v in ("1", "2"):
        ti = tarfile.TarInfo("f")
        ti.size = 1
        ti.pax_headers = {"SCHILY.xattr.user.a": v, "SCHILY.xattr.user.only" + v: v}
        t.addfile(ti, io.BytesIO(v.encode()))
PY
gen_image "$WORK/dup.tar" "$WORK/dup.img"
"$XIPFSCTL" fsck "$WORK/dup.img" || fail "fsck of an image with a replaced entry failed"
"$XIPFSCTL" extract "$WORK/dup.img" "$WORK/out-dup" || fail "extract of dup.tar failed"
x=$("$PY" -c 'import os, sys; f = sys.argv[1]
print(sorted((n, os.getxattr(f, n).decode()) for n in os.listxattr(f)))' "$WORK/out-dup/f")
[ "$x" = "[('user.a', '2'), ('user.only2', '2')]" ] ||
	fail "a replaced entry's xattrs are not the last entry's: $x"
