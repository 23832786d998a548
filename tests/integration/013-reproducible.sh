#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Same input and SOURCE_DATE_EPOCH: byte-identical images, even from a copy
# of the tree whose directories were filled in a different order.
. "$(dirname "$0")/lib.sh"
need_root
"$TESTS/gentree.sh" "$WORK/a" --small
# The same tree created in reverse order (different readdir order, inode
# numbers and disk layout), through tar, which keeps hardlinks but cannot
# store sockets.
rm "$WORK/a/socket"
mkdir "$WORK/b"
(cd "$WORK/a" && find . -print0 | sort -rz |
	tar --xattrs --xattrs-include='*' --sparse --no-recursion --null -T - -cf -) |
	tar --warning=no-timestamp --xattrs --xattrs-include='*' -C "$WORK/b" -xf -
"$PY" "$TESTS/treecmp.py" "$WORK/a" "$WORK/b" >/dev/null || fail "the copy differs from the tree"
export SOURCE_DATE_EPOCH=1700000000
gen_image "$WORK/a" "$WORK/1.img"
gen_image "$WORK/a" "$WORK/2.img"
gen_image "$WORK/b" "$WORK/3.img"
cmp "$WORK/1.img" "$WORK/2.img" || fail "two builds of the same tree differ"
cmp "$WORK/1.img" "$WORK/3.img" || fail "builds of identical trees in another order differ"
# And the check can fail: another epoch gives another image.
SOURCE_DATE_EPOCH=1700000001 gen_image "$WORK/a" "$WORK/4.img"
! cmp -s "$WORK/1.img" "$WORK/4.img" || fail "SOURCE_DATE_EPOCH had no effect"
# Without it the UUID is random: two builds differ only in the superblock.
unset SOURCE_DATE_EPOCH
gen_image "$WORK/a" "$WORK/5.img" -T 1700000000 -U 01234567-89ab-cdef-0123-456789abcdef
[ "$(info_field "$WORK/5.img" uuid)" = 01234567-89ab-cdef-0123-456789abcdef ] || fail "--uuid ignored"
