#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# xipfsctl as a user meets it: fsck(8) exit codes (0 clean, 4 errors, 16
# usage) also under the fsck.xipfs name with the options fsck(8) passes,
# a damaged data page found by --verify-data only, usage errors, ls and cat
# against the source tree, extract refusing a non-empty directory.
. "$(dirname "$0")/lib.sh"
s=$WORK/src
mkdir -p "$s/dir/sub"
printf 'hello\n' >"$s/hello"
head -c 50000 /dev/urandom >"$s/dir/random"
printf 'deeper\n' >"$s/dir/sub/file"
ln -s ../hello "$s/dir/link"
gen_image "$s" "$WORK/good.img"

# rc CMD...: the exit status of CMD, whatever it is.
rc() { local r=0; "$@" >/dev/null 2>"$WORK/err" || r=$?; echo "$r"; }

[ "$(rc "$XIPFSCTL" fsck "$WORK/good.img")" = 0 ] || fail "fsck of a good image is not 0"
[ "$(rc "$XIPFSCTL" fsck --verify-data -q "$WORK/good.img")" = 0 ] ||
	fail "fsck --verify-data of a good image is not 0"
[ "$(rc "$XIPFSCTL" fsck --no-such-option "$WORK/good.img")" = 16 ] || fail "fsck usage error is not 16"
[ "$(rc "$XIPFSCTL" fsck)" = 16 ] || fail "fsck without an image is not 16"
[ "$(rc "$XIPFSCTL" fsck "$WORK/missing.img")" = 8 ] || fail "fsck of a missing file is not 8"
grep -q missing.img "$WORK/err" || fail "fsck of a missing file does not name it"

# A directory cycle (the root's subdirectory entry names the root): ls -R
# and extract stop with a message naming the directory instead of
# recursing until the stack runs out; fsck finds the same (4).  The fuzz
# corpus holds the same kind of image (cycle.img).
"$PY" "$TESTS/mkcycle.py" "$WORK/good.img" "$WORK/cycle.img"
for img in "$WORK/cycle.img" "$top_srcdir/tests/fuzz/corpus/fuzz_image/cycle.img"; do
	[ "$(rc "$XIPFSCTL" ls -R "$img")" = 1 ] || fail "ls -R of a cycle is not 1"
	grep -q "directory /[a-z]* (inode 1) is reached a second time: the image is damaged" "$WORK/err" ||
		fail "ls -R of a cycle: $(cat "$WORK/err")"
	rm -rf "$WORK/cyc"
	[ "$(rc "$XIPFSCTL" extract "$img" "$WORK/cyc")" = 1 ] || fail "extract of a cycle is not 1"
	grep -q "cyc/[a-z]* (inode 1) is reached a second time" "$WORK/err" ||
		fail "extract of a cycle: $(cat "$WORK/err")"
	[ "$(rc "$XIPFSCTL" fsck "$img")" = 4 ] || fail "fsck of a cycle is not 4"
done

# fsck(8) runs fsck.xipfs -a IMAGE (or -p, -n, -y, -f): the same checker.
ln -s "$XIPFSCTL" "$WORK/fsck.xipfs"
for o in -a -p -n -y -f; do
	[ "$(rc "$WORK/fsck.xipfs" $o "$WORK/good.img")" = 0 ] || fail "fsck.xipfs $o on a good image"
done

# One flipped bit in a data page: only --verify-data can see it, and then
# it is an error left uncorrected (4).
ps=$(info_field "$WORK/good.img" page_size)
ds=$(info_field "$WORK/good.img" data_start)
cp "$WORK/good.img" "$WORK/data.img"
"$PY" -c '
import sys
f = open(sys.argv[1], "r+b"); f.seek(int(sys.argv[2]) + 100)
b = f.read(1); f.seek(-1, 1); f.write(bytes([b[0] ^ 1]))
' "$WORK/data.img" $((ds * ps))
[ "$(rc "$XIPFSCTL" fsck "$WORK/data.img")" = 0 ] || fail "fsck without --verify-data reads data"
[ "$(rc "$XIPFSCTL" fsck --verify-data "$WORK/data.img")" = 4 ] ||
	fail "fsck --verify-data misses a damaged data page"
[ "$(rc "$WORK/fsck.xipfs" -a --verify-data "$WORK/data.img")" = 4 ] ||
	fail "fsck.xipfs --verify-data misses a damaged data page"
# Damaged metadata (an inode's bytes): 4 as well, with a message.
ioff=$(info_field "$WORK/good.img" metadata_offset)
cp "$WORK/good.img" "$WORK/meta.img"
"$PY" -c '
import sys
f = open(sys.argv[1], "r+b"); f.seek(int(sys.argv[2]) + 3)
b = f.read(1); f.seek(-1, 1); f.write(bytes([b[0] ^ 0x40]))
' "$WORK/meta.img" "$ioff"
[ "$(rc "$XIPFSCTL" fsck "$WORK/meta.img")" = 4 ] || fail "fsck of damaged metadata is not 4"
[ -s "$WORK/err" ] || fail "fsck of damaged metadata says nothing"
[ "$(rc "$XIPFSCTL" info "$WORK/meta.img")" = 1 ] || fail "info accepts damaged metadata"

# Usage errors: exit 2 with usage on stderr; --help and --version succeed.
for args in "" "nosuchcommand" "info" "ls" "cat $WORK/good.img" "extract $WORK/good.img" "ls -Z $WORK/good.img"; do
	[ "$(rc "$XIPFSCTL" $args)" = 2 ] || fail "xipfsctl $args: not exit 2"
	[ -s "$WORK/err" ] || fail "xipfsctl $args: no usage message"
done
"$XIPFSCTL" --help | grep -q extract || fail "--help does not list the commands"
"$XIPFSCTL" --version | grep -q xipfsctl || fail "--version"

# ls and cat against the source tree.
diff <("$XIPFSCTL" ls "$WORK/good.img") <(cd "$s" && LC_ALL=C ls -A | LC_ALL=C sort) ||
	fail "ls of the root differs"
diff <("$XIPFSCTL" ls "$WORK/good.img" /dir) <(cd "$s/dir" && LC_ALL=C ls -A | LC_ALL=C sort) ||
	fail "ls of /dir differs"
"$XIPFSCTL" ls -lR "$WORK/good.img" | grep -q 'link -> ../hello' || fail "ls -l shows no symlink target"
[ "$("$XIPFSCTL" ls -R "$WORK/good.img" | grep -c ':$')" = 3 ] || fail "ls -R does not list 3 directories"
cmp <("$XIPFSCTL" cat "$WORK/good.img" /dir/random) "$s/dir/random" || fail "cat differs"
[ "$(rc "$XIPFSCTL" cat "$WORK/good.img" /nonexistent)" = 1 ] || fail "cat of a missing path"
grep -q nonexistent "$WORK/err" || fail "cat of a missing path does not name it"
[ "$(rc "$XIPFSCTL" cat "$WORK/good.img" /dir)" = 1 ] || fail "cat of a directory"

# extract: DIR must be empty or not exist.
mkdir "$WORK/full" && : >"$WORK/full/x"
[ "$(rc "$XIPFSCTL" extract "$WORK/good.img" "$WORK/full")" = 1 ] || fail "extract into a non-empty dir"
grep -q full "$WORK/err" || fail "extract into a non-empty dir does not name it"
mkdir "$WORK/empty"
"$XIPFSCTL" extract "$WORK/good.img" "$WORK/empty" || fail "extract into an empty dir"
cmp "$WORK/empty/dir/random" "$s/dir/random" || fail "extracted file differs"
note "ok"
