#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The mounted tree equals the source: content, types, modes, ownership,
# sizes, mtimes, xattrs, symlink targets, hardlink identity, rdev and the
# SEEK_DATA/SEEK_HOLE map of sparse files; for the generated tree and for
# /usr/lib/x86_64-linux-gnu.  Also statfs, st_blocks, EROFS and seg: mounts.
. "$(dirname "$0")/lib.sh"
need_fuse
"$TESTS/gentree.sh" "$WORK/src"
gen_image "$WORK/src" "$WORK/gen.img"
mount_xipfs "$WORK/gen.img" "$WORK/m1" -o dev,suid
"$PY" "$TESTS/treecmp.py" --holes "$WORK/src" "$WORK/m1" || fail "mounted generated tree differs"
# Hardlinks share st_ino; inode numbers are stable across mounts.
[ "$(stat -c %i "$WORK/m1/hard/a")" = "$(stat -c %i "$WORK/m1/c-link")" ] || fail "hardlinks differ in st_ino"
ino1=$(stat -c %i "$WORK/m1/deep/d1/d2")
# st_blocks counts stored pages only.
[ "$(stat -c %b "$WORK/m1/big-sparse")" -le 16 ] || fail "st_blocks of a sparse file"
# statfs reports the image.
[ "$(stat -f -c %b "$WORK/m1")" = $(( $(stat -c %s "$WORK/gen.img") / 4096 )) ] || fail "statfs blocks"
[ "$(stat -f -c %c "$WORK/m1")" = "$(info_field "$WORK/gen.img" inodes)" ] || fail "statfs files"
# Every write is refused.
for op in "touch $WORK/m1/new" "mkdir $WORK/m1/newdir" "rm $WORK/m1/hello.txt" \
	  "chmod 600 $WORK/m1/hello.txt" "ln -s x $WORK/m1/l2" "mv $WORK/m1/odd $WORK/m1/odd2" \
	  "setfattr -n user.x -v 1 $WORK/m1/hello.txt" "truncate -s 0 $WORK/m1/hello.txt"; do
	if out=$($op 2>&1); then fail "'$op' succeeded on the mount"; fi
	echo "$out" | grep -q "Read-only file system" || fail "'$op': $out"
done
fusermount3 -u "$WORK/m1"
mount_xipfs "$WORK/gen.img" "$WORK/m1"
[ "$(stat -c %i "$WORK/m1/deep/d1/d2")" = "$ino1" ] || fail "inode numbers changed across mounts"
# nosuid,nodev by default.
grep " $WORK/m1 " /proc/self/mounts | grep -q "nosuid,nodev" || fail "not nosuid,nodev by default"
fusermount3 -u "$WORK/m1"
# The spliced read path (-o read=splice, kept for bench/mount.sh) serves the
# same bytes and holes.
mount_xipfs "$WORK/gen.img" "$WORK/m1" -o read=splice,dev,suid
"$PY" "$TESTS/treecmp.py" --holes "$WORK/src" "$WORK/m1" || fail "read=splice mount differs"
fusermount3 -u "$WORK/m1"

src=/usr/lib/x86_64-linux-gnu
gen_image "$src" "$WORK/lib.img"
mount_xipfs "$WORK/lib.img" "$WORK/m2"
"$PY" "$TESTS/treecmp.py" "$src" "$WORK/m2" || fail "mounted $src differs"
