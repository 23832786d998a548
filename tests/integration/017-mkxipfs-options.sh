#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Ownership, exclusion, time clamping and page size options, checked through
# the extracted tree.
. "$(dirname "$0")/lib.sh"
need_root
s=$WORK/src
mkdir -p "$s/keep" "$s/skip"
printf 'a\n' >"$s/keep/a.txt"; printf 'b\n' >"$s/keep/b.pyc"; printf 'c\n' >"$s/skip/c"
chown -R 1000:2000 "$s"
touch -d '2030-01-01' "$s/keep/a.txt"
gen_image "$s" "$WORK/1.img" --all-root -x '*.pyc' -x skip -T 1600000000
"$XIPFSCTL" extract "$WORK/1.img" "$WORK/1"
[ -e "$WORK/1/keep/a.txt" ] && [ ! -e "$WORK/1/keep/b.pyc" ] && [ ! -e "$WORK/1/skip" ] ||
	fail "--exclude: $(cd "$WORK/1" && find .)"
[ "$(stat -c %u:%g "$WORK/1/keep/a.txt")" = 0:0 ] || fail "--all-root"
[ "$(stat -c %Y "$WORK/1/keep/a.txt")" = 1600000000 ] || fail "--timestamp did not clamp"
gen_image "$s" "$WORK/2.img" --uid-offset 10 --gid-offset 20
"$XIPFSCTL" extract "$WORK/2.img" "$WORK/2"
[ "$(stat -c %u:%g "$WORK/2/keep/a.txt")" = 1010:2020 ] || fail "--uid-offset/--gid-offset"
gen_image "$s" "$WORK/3.img" --force-uid 7 --force-gid 8
"$XIPFSCTL" extract "$WORK/3.img" "$WORK/3"
[ "$(stat -c %u:%g "$WORK/3/skip/c")" = 7:8 ] || fail "--force-uid/--force-gid"
for ps in 16384 65536; do
	gen_image "$s" "$WORK/$ps.img" -b $ps
	[ "$(info_field "$WORK/$ps.img" page_size)" = $ps ] || fail "page size $ps not recorded"
	"$XIPFSCTL" fsck --verify-data "$WORK/$ps.img" >/dev/null || fail "fsck of $ps image"
	"$XIPFSCTL" extract "$WORK/$ps.img" "$WORK/x$ps"
	"$PY" "$TESTS/treecmp.py" "$s" "$WORK/x$ps" || fail "page size $ps round trip"
done
