#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Round trip of real input: /usr/lib/x86_64-linux-gnu.
. "$(dirname "$0")/lib.sh"
need_root
src=/usr/lib/x86_64-linux-gnu
[ -d "$src" ] || skip "needs $src"
gen_image "$src" "$WORK/img"
"$XIPFSCTL" fsck --verify-data "$WORK/img" || fail "fsck failed"
"$XIPFSCTL" extract "$WORK/img" "$WORK/out" || fail "extract failed"
"$PY" "$TESTS/treecmp.py" "$src" "$WORK/out" || fail "extracted tree differs from $src"
