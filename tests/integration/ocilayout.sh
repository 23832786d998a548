#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# ocilayout.sh DIR WORK: build the OCI image layout DIR, tag "top": a base
# tree and three layers, two made by umoci from tree changes and one made
# by hand (Python's tarfile) for what umoci does not write itself.  The
# layers cover: deleted files and a deleted directory, an opaque
# directory, replaced files, a file turned into a directory and a
# directory into a file, hardlinks within a layer and to a lower layer,
# a deleted hardlink name, xattrs (from the tree and as PAX records),
# nanosecond PAX times, symlinks and a FIFO.  Needs root and umoci.
set -euo pipefail
L=$1 W=$2
b=$W/bundle
umoci init --layout "$L"
umoci new --image "$L:base"
umoci unpack --image "$L:base" "$b" >/dev/null
r=$b/rootfs
# Layer 1: the base tree.
mkdir -p "$r/etc" "$r/gone/sub" "$r/opq/keep" "$r/d2f" "$r/hl" "$r/usr/bin"
printf 'root:x:0:0::/root:/bin/sh\n' >"$r/etc/passwd"
for f in a b sub/c; do printf 'gone %s\n' "$f" >"$r/gone/$f"; done
printf 'old\n' >"$r/opq/old1"
printf 'old\n' >"$r/opq/keep/old2"
printf 'first\n' >"$r/rep"
printf 'file\n' >"$r/f2d"
printf 'x\n' >"$r/d2f/x"
head -c 10000 /dev/urandom >"$r/hl/orig"
ln "$r/hl/orig" "$r/hl/link1"
head -c 20000 /dev/urandom >"$r/usr/bin/tool"
chmod 4755 "$r/usr/bin/tool"
printf 'del\n' >"$r/del1"
printf 'x\n' >"$r/xa"
setfattr -n user.one -v 1 "$r/xa"
ln -s ../etc/passwd "$r/usr/pw"
mkfifo "$r/fifo"
umoci repack --image "$L:l1" "$b" >/dev/null
rm -rf "$b"
# Layer 2: changes to the tree, diffed by umoci.
umoci unpack --image "$L:l1" "$b" >/dev/null
rm -rf "$r/gone" "$r/del1" "$r/f2d" "$r/d2f"
printf 'second, longer\n' >"$r/rep"
mkdir "$r/f2d"
printf 'in\n' >"$r/f2d/in"
printf 'now a file\n' >"$r/d2f"
setfattr -n user.two -v 2 "$r/xa"
ln "$r/hl/orig" "$r/hl/link2"
chmod 0700 "$r/etc"
umoci repack --image "$L:l2" "$b" >/dev/null
rm -rf "$b"
# Layer 3, by hand: an opaque directory, a hardlink to a file only a lower
# layer has, a whited-out hardlink name, PAX xattrs and nanosecond times,
# a directory's entry named DIR/.
/usr/bin/python3 - "$W/l3.tar" <<'PY'
import io, sys, tarfile
t = tarfile.open(sys.argv[1], "w", format=tarfile.PAX_FORMAT)
def add(name, kind=tarfile.REGTYPE, data=b"", mode=0o644, pax=None, link=""):
    i = tarfile.TarInfo(name)
    i.type, i.mode, i.size, i.linkname = kind, mode, len(data), link
    i.mtime = 1700000000
    i.pax_headers = dict(pax or {})
    t.addfile(i, io.BytesIO(data) if kind == tarfile.REGTYPE else None)
add("opq", tarfile.DIRTYPE, mode=0o755)
add("opq/.wh..wh..opq")
add("opq/new1", data=b"new in an opaque dir\n")
add("hl/xlink", tarfile.LNKTYPE, link="hl/orig")
add("hl/.wh.link1")
add("paxx", data=b"pax\n", pax={"SCHILY.xattr.user.pax": "value",
                                "SCHILY.xattr.trusted.t": "tt",
                                "mtime": "1700000000.123456789"})
add("usr/bin/.wh.tool")
add("usr/bin/tool", data=b"#!/bin/sh\necho replaced\n", mode=0o755)
add("usr/bin/.", tarfile.DIRTYPE, mode=0o711)   # the directory, not the root
t.close()
PY
umoci raw add-layer --image "$L:l2" --tag top "$W/l3.tar"
