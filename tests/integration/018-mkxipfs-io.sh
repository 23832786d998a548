#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# mkxipfs reads directory input through io_uring (prefetching the next
# files of each directory) or, with --io=read, through read(2): both paths
# must give byte-identical images of a tree built to stress the prefetch
# (many small files, files of exactly and just over the prefetch buffer,
# empty files, hardlinks, excluded files, special files, deep and wide
# directories), and that image must hold the tree (xipfsctl extract).
. "$(dirname "$0")/lib.sh"

src=$WORK/src
mkdir -p "$src/wide" "$src/deep"
"$PY" - "$src" <<'PY'
import os, random, sys
root = sys.argv[1]
rnd = random.Random(18)
for i in range(2000):
    n = rnd.choice([0, 1, 100, 4095, 4096, 4097, 65536, 200000, 262143, 262144, 262145, 600000])
    with open(os.path.join(root, "wide", "f%04d" % i), "wb") as f:
        f.write(bytes(rnd.getrandbits(8) for _ in range(min(n, 64))) * (n // 64) +
                bytes(n % 64))
d = os.path.join(root, "deep")
for i in range(40):
    d = os.path.join(d, "d%d" % i)
    os.mkdir(d)
    with open(os.path.join(d, "leaf"), "wb") as f:
        f.write(os.urandom(rnd.randint(1, 300000)))
PY
ln "$src/wide/f0007" "$src/wide/hardlink"
printf 'secret\n' >"$src/wide/skip-me"
mkfifo "$src/wide/fifo"
# Times before SOURCE_DATE_EPOCH, which clamps newer ones.
find "$src" -exec touch -h -d @1600000000 {} +
export SOURCE_DATE_EPOCH=1700000000

grep -q '^#define HAVE_LIBURING 1' "$top_builddir/config.h" ||
	skip "mkxipfs was built without liburing (configure --without-liburing)"
"$MKXIPFS" -v -x 'wide/skip-*' "$src" "$WORK/uring.img" 2>"$WORK/uring.err" >/dev/null ||
	fail "mkxipfs --io=uring: $(cat "$WORK/uring.err")"
grep -q "through io_uring" "$WORK/uring.err" ||
	fail "-v does not say io_uring is used: $(head -n 3 "$WORK/uring.err")"
"$MKXIPFS" -v --io=read -x 'wide/skip-*' "$src" "$WORK/read.img" 2>"$WORK/read.err" >/dev/null ||
	fail "mkxipfs --io=read: $(cat "$WORK/read.err")"
grep -q "with read(2)" "$WORK/read.err" || fail "-v does not say read(2) is used"
cmp "$WORK/uring.img" "$WORK/read.img" || fail "io_uring and read(2) images differ"

rm "$src/wide/skip-me" && touch -d @1600000000 "$src/wide"
"$XIPFSCTL" extract "$WORK/uring.img" "$WORK/out" || fail "extract"
"$PY" "$top_srcdir/tests/integration/treecmp.py" "$src" "$WORK/out" || fail "the image does not hold the tree"

rc=0; "$MKXIPFS" --io=bogus "$src" "$WORK/x.img" 2>"$WORK/err" || rc=$?
[ "$rc" -eq 2 ] && grep -q "expected uring or read" "$WORK/err" || fail "--io=bogus: rc $rc, $(cat "$WORK/err")"
[ ! -e "$WORK/x.img" ] || fail "--io=bogus left an image"
note "ok: io_uring and read(2) images identical ($(stat -c %s "$WORK/uring.img") bytes)"
