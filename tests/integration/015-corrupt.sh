#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Damaged and truncated images: info, ls, extract and fsck end with a clear
# error, never a crash (run under ASan+UBSan in CI).
. "$(dirname "$0")/lib.sh"
need_root
s=$WORK/src
mkdir -p "$s/dir/sub"
printf 'hello\n' >"$s/hello"
head -c 20000 /dev/urandom >"$s/dir/random"
cp "$s/dir/random" "$s/dir/sub/copy"
ln "$s/hello" "$s/dir/hard"
ln -s ../hello "$s/dir/link"
mknod "$s/null" c 1 3
mkfifo "$s/fifo"
"$PY" -c 'import os,sys; f=open(sys.argv[1],"wb"); f.write(b"x"); f.seek(40000); f.write(b"y")' "$s/sparse"
setfattr -n user.a -v 1 "$s/hello" 2>/dev/null || "$PY" -c 'import os,sys; os.setxattr(sys.argv[1], "user.a", b"1")' "$s/hello"
"$PY" -c 'import os,sys; os.setxattr(sys.argv[1], "user.b", b"2" * 100)' "$s/dir/random"
gen_image "$s" "$WORK/good.img"
"$XIPFSCTL" fsck --verify-data "$WORK/good.img" >/dev/null || fail "the undamaged image fails fsck"
"$PY" "$TESTS/corrupt.py" "$XIPFSCTL" "$WORK/good.img" "$WORK"
