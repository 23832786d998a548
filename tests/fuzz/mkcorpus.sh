#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# Regenerate the seed corpora in tests/fuzz/corpus/ (committed; run this
# only when the format changes).  Small tars of every entry type (plain,
# pax with xattrs, GNU long names and sparse files, compressed), the images
# mkxipfs builds from them (4 KiB pages, a few pages each), and for
# fuzz_fuse the images prefixed with a request script touching every inode.
# Usage: mkcorpus.sh MKXIPFS [OUTDIR]   (as root: trusted.* xattrs)
set -eu
mkxipfs=$1
here=$(cd "$(dirname "$0")" && pwd)
out=${2:-$here/corpus}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$out/fuzz_tar" "$out/fuzz_image" "$out/fuzz_fuse"

# Tars with every entry type, written by Python's tarfile (devices without root).
python3 - "$tmp" <<'PY'
import io, sys, tarfile
tmp = sys.argv[1]

def add(t, name, type=tarfile.REGTYPE, data=b"", **kw):
    i = tarfile.TarInfo(name)
    i.type = type
    i.size = len(data) if type == tarfile.REGTYPE else 0
    i.mtime = kw.pop("mtime", 1700000000)
    i.mode = kw.pop("mode", 0o755 if type == tarfile.DIRTYPE else 0o644)
    for k, v in kw.items():
        setattr(i, k, v)
    t.addfile(i, io.BytesIO(data) if type == tarfile.REGTYPE else None)

def everything(t, pax=False):
    x = {"pax_headers": {"SCHILY.xattr.user.comment": "seed",
                         "SCHILY.xattr.trusted.k": "v" * 40}} if pax else {}
    add(t, "d", tarfile.DIRTYPE, **x)
    add(t, "d/file", data=b"hello xipfs\n" * 5, uid=1000, gid=1000, **x)
    add(t, "d/empty")
    add(t, "d/zeros", data=bytes(9000))
    add(t, "d/twopages", data=b"A" * 4096 + b"B" * 100)
    add(t, "d/dup", data=b"A" * 4096)
    add(t, "d/link", tarfile.SYMTYPE, linkname="file", mode=0o777)
    add(t, "d/hard", tarfile.LNKTYPE, linkname="d/file")
    add(t, "d/sub/deep/x", data=b"x")
    add(t, "chr", tarfile.CHRTYPE, devmajor=1, devminor=3)
    add(t, "blk", tarfile.BLKTYPE, devmajor=7, devminor=0)
    add(t, "fifo", tarfile.FIFOTYPE)
    add(t, "exec", data=b"#!/bin/sh\n", mode=0o4755)

for name, fmt in (("ustar", tarfile.USTAR_FORMAT), ("gnu", tarfile.GNU_FORMAT)):
    with tarfile.open(f"{tmp}/{name}.tar", "w", format=fmt) as t:
        everything(t)
        if fmt == tarfile.GNU_FORMAT:
            add(t, "long/" + "n" * 200 + "/" + "m" * 120, data=b"long")
with tarfile.open(f"{tmp}/pax.tar", "w", format=tarfile.PAX_FORMAT) as t:
    everything(t, pax=True)
    add(t, "p/" + "q" * 250, data=b"pax long name",
        pax_headers={"mtime": "1700000000.123456789", "uname": "u"})
with tarfile.open(f"{tmp}/bad-dotdot.tar", "w", format=tarfile.PAX_FORMAT) as t:
    add(t, "a/../../etc/x", data=b"x")
with tarfile.open(f"{tmp}/bad-through-file.tar", "w") as t:
    add(t, "f", data=b"1")
    add(t, "f/g", data=b"2")
with tarfile.open(f"{tmp}/dupe-entries.tar", "w") as t:
    add(t, "x", data=b"first")
    add(t, "x", data=b"second")
    add(t, "x", tarfile.DIRTYPE)
    add(t, "./y/./z", data=b"z")
PY
# A GNU sparse file (holes inside a tar), from a real tree.
mkdir -p "$tmp/tree"
printf 'start' >"$tmp/tree/sparse"
truncate -s 40000 "$tmp/tree/sparse"
printf 'end' >>"$tmp/tree/sparse"
tar -C "$tmp/tree" --sparse --format=gnu -cf "$tmp/sparse.tar" sparse
tar -C "$tmp/tree" --sparse --format=posix -cf "$tmp/sparse-pax.tar" sparse
gzip -9n -c "$tmp/ustar.tar" >"$tmp/ustar.tar.gz"
xz -c "$tmp/pax.tar" >"$tmp/pax.tar.xz"
bzip2 -c "$tmp/gnu.tar" >"$tmp/gnu.tar.bz2"
zstd -q -c "$tmp/ustar.tar" >"$tmp/ustar.tar.zst"
head -c 1536 "$tmp/ustar.tar" >"$tmp/truncated.tar"
for f in "$tmp"/*.tar "$tmp"/*.tar.*; do
	cp "$f" "$out/fuzz_tar/"
done

# Images, 4 KiB pages, from the good tars.
for t in ustar gnu pax sparse sparse-pax; do
	"$mkxipfs" -q -T 1700000000 -U 01234567-89ab-cdef-0123-456789abcdef \
		-b 4096 "$tmp/$t.tar" "$out/fuzz_image/$t.img"
done
# A directory tree with hardlinks and xattrs from the file system.
mkdir -p "$tmp/fs/a/b"
printf 'data' >"$tmp/fs/a/f"
ln "$tmp/fs/a/f" "$tmp/fs/a/b/f2"
ln -s ../f "$tmp/fs/a/b/up"
setfattr -n user.mime -v text/plain "$tmp/fs/a/f" 2>/dev/null || true
setfattr -n user.empty "$tmp/fs/a" 2>/dev/null || true
"$mkxipfs" -q -T 1700000000 -U 01234567-89ab-cdef-0123-456789abcdef \
	-b 4096 "$tmp/fs" "$out/fuzz_image/tree.img"
# One image with 16 KiB pages (shift 14).
"$mkxipfs" -q -T 1700000000 -U 01234567-89ab-cdef-0123-456789abcdef \
	-b 16384 "$tmp/fs" "$out/fuzz_image/tree-16k.img"
# A directory cycle that opens (the CRC resealed): for the walkers' guards.
python3 "$(dirname "$0")/../integration/mkcycle.py" "$out/fuzz_image/tree.img" \
	"$out/fuzz_image/cycle.img"

# fuzz_fuse: le32 script length, script, image.
python3 - "$out/fuzz_image" "$out/fuzz_fuse" <<'PY'
import os, struct, sys
src, dst = sys.argv[1:]
def op(code, ino, rest=b""):
    return bytes([code]) + struct.pack("<H", ino) + rest
def name(s):
    s = s.encode()
    return bytes([len(s)]) + s
for f in sorted(os.listdir(src)):
    img = open(os.path.join(src, f), "rb").read()
    count = struct.unpack_from("<I", img, 104)[0]	# s_inode_count
    s = op(6, 1) + op(3, 1, struct.pack("<HH", 4095, 0)) + \
        op(4, 1, struct.pack("<HH", 200, 1))
    for n in ("d", "chr", "fifo", "absent", "exec"):
        s += op(0, 1, name(n))
    for i in range(1, min(count, 24) + 1):
        s += op(1, i) + op(2, i) + op(5, i, struct.pack("<HI", 2047, 0))
        s += op(0x85, i, struct.pack("<HI", 3, 1))
        s += op(7, i, struct.pack("<H", 256) + name("user.comment"))
        s += op(8, i, struct.pack("<H", 0)) + op(8, i, struct.pack("<H", 4096))
    s += op(1, count + 1) + op(1, 0xffff) + op(9, 1, b"\x01") + op(10, 1, name("new"))
    s += op(11, 1)
    open(os.path.join(dst, f + ".fuse"), "wb").write(struct.pack("<I", len(s)) + s + img)
PY
ls -l "$out"/*
