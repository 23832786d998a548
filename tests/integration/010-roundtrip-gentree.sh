#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Round trip of the generated tree (every inode type and edge case):
# mkxipfs, then xipfsctl extract reproduces it exactly.
. "$(dirname "$0")/lib.sh"
need_root
"$PY" "$TESTS/treecmp.py" --self-test
"$TESTS/gentree.sh" "$WORK/src"
gen_image "$WORK/src" "$WORK/img"
"$XIPFSCTL" fsck --verify-data "$WORK/img" || fail "fsck of a fresh image failed"
"$XIPFSCTL" extract "$WORK/img" "$WORK/out" || fail "extract failed"
"$PY" "$TESTS/treecmp.py" "$WORK/src" "$WORK/out" || fail "extracted tree differs"
# The > 4 GiB sparse file stays sparse on extraction.
[ "$(stat -c %b "$WORK/out/big-sparse")" -lt 1000 ] || fail "big-sparse was not extracted sparse"
# cat reads files through the library, holes included.
cmp <("$XIPFSCTL" cat "$WORK/img" sparse) "$WORK/src/sparse" || fail "cat sparse differs"
note "ok: $(info_field "$WORK/img" inodes) inodes round-tripped"
