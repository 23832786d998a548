#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Integrity: the Merkle root that mkxipfs records equals one computed from
# xipfs(5) by Python's hashlib; xipfsctl verify and load --digest catch a
# one-bit flip in a data page, a metadata page, the tree itself and the
# superblock, name the damaged page, and leave no segment behind.
. "$(dirname "$0")/lib.sh"
need_root
s=$WORK/src
mkdir -p "$s/d/e"
for i in 1 2 3 4 5 6; do head -c $((i * 9000 + 17)) /dev/urandom >"$s/d/f$i"; done
# Enough pages for a two-level tree (128 hashes per 4 KiB tree page).
head -c $((300 * 4096)) /dev/urandom >"$s/big"
printf 'hello\n' >"$s/d/e/hello"
ln -s d/e/hello "$s/link"
gen_image "$s" "$WORK/good.img" -T 1700000000
gen_image "$s" "$WORK/other.img" -T 1700000001
digest=$(info_field "$WORK/good.img" digest)
want=$("$PY" "$TESTS/merkle.py" root "$WORK/good.img")
[ "$digest" = "$want" ] || fail "recorded root $digest, hashlib computes $want"
note "root $digest"
out=$("$XIPFSCTL" verify "$WORK/good.img") || fail "the intact image fails verify"
echo "$out" | grep -q "$digest verified" || fail "verify printed: $out"
"$XIPFSCTL" verify -q --digest "$digest" "$WORK/good.img" || fail "verify --digest of the right digest failed"
other=$(info_field "$WORK/other.img" digest)
[ "$other" != "$digest" ] || fail "two different images share a digest"
if "$XIPFSCTL" verify -q --digest "$other" "$WORK/good.img" 2>"$WORK/err"; then
	fail "verify accepted another image's digest"
fi
grep -q "not the expected image" "$WORK/err" || fail "wrong message: $(cat "$WORK/err")"

seg=xipfs-test-019-$$
SEGMENTS+=("$seg")
"$XIPFSCTL" load --digest "$digest" "$WORK/good.img" "$seg" || fail "load --digest of the intact image failed"
"$XIPFSCTL" verify -q --digest "$digest" "seg:$seg" || fail "verify of the loaded segment failed"
"$XIPFSCTL" unload "$seg"

# flip KIND WHAT-THE-MESSAGE-SAYS: one bit, in the middle of that page.
flip() {
	local kind=$1 say=$2 page off img=$WORK/bad-$1.img
	cp "$WORK/good.img" "$img"
	page=$("$PY" "$TESTS/merkle.py" page "$img" "$kind")
	off=$((page * 4096 + 1234))
	[ "$kind" = super ] && off=$3
	"$PY" "$TESTS/merkle.py" flip "$img" "$off"
	if "$XIPFSCTL" verify "$img" 2>"$WORK/err" >/dev/null; then
		fail "$kind: a flipped bit at offset $off went unnoticed"
	fi
	grep -q "$say" "$WORK/err" || fail "$kind: expected '$say' in: $(cat "$WORK/err")"
	note "$kind: $(head -1 "$WORK/err")"
	if "$XIPFSCTL" load --digest "$digest" "$img" "$seg" 2>"$WORK/err"; then
		fail "$kind: load --digest accepted a damaged image"
	fi
	if "$XIPFSCTL" load --verify "$img" "$seg" 2>"$WORK/err"; then
		fail "$kind: load --verify accepted a damaged image"
	fi
	[ ! -e "/dev/shm/xipfs.$seg" ] || fail "$kind: a refused load left a segment"
	! ls /dev/shm/.xipfs."$seg".* >/dev/null 2>&1 || fail "$kind: a refused load left a temporary file"
}
data=$("$PY" "$TESTS/merkle.py" page "$WORK/good.img" data)
meta=$("$PY" "$TESTS/merkle.py" page "$WORK/good.img" meta)
tree0=$("$PY" "$TESTS/merkle.py" page "$WORK/good.img" tree0)
top=$("$PY" "$TESTS/merkle.py" page "$WORK/good.img" top)
[ "$tree0" != "$top" ] || fail "the test image should have a two-level tree"
flip data "data page $data at offset $((data * 4096))"
flip meta "metadata page $meta at offset $((meta * 4096))"
flip tree0 "Merkle tree page $tree0 (level 0)"
flip top "Merkle tree top page $top at offset $((top * 4096)) is damaged"
flip super "superblock (page 0) is damaged" 100
flip super "superblock (page 0) is damaged" 260	# the recorded root itself

gen_image "$s" "$WORK/plain.img" --no-merkle
if "$XIPFSCTL" verify "$WORK/plain.img" 2>"$WORK/err"; then
	fail "verify passed an image without a tree"
fi
grep -q "no Merkle tree" "$WORK/err" || fail "wrong message: $(cat "$WORK/err")"
"$XIPFSCTL" fsck --verify-data "$WORK/good.img" >/dev/null || fail "fsck fails the image with a tree"
