#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""dockerflip.py ARCHIVE N: flip one bit in the data of the first non-empty
regular file of layer N (1-based) of a docker-archive, in place: the layer
stays a valid tar, only its digest changes.  Prints the layer's member."""
import io
import json
import sys
import tarfile

path, n = sys.argv[1], int(sys.argv[2])
with tarfile.open(path) as t:
    name = json.load(t.extractfile("manifest.json"))[0]["Layers"][n - 1]
    mem = t.getmember(name)
    while mem.issym() or mem.islnk():
        mem = t.getmember(mem.linkname)
    inner = tarfile.open(fileobj=io.BytesIO(t.extractfile(mem).read()))
    f = next(m for m in inner.getmembers() if m.isreg() and m.size > 0)
    off = mem.offset_data + f.offset_data
with open(path, "r+b") as fh:
    fh.seek(off)
    b = fh.read(1)
    fh.seek(off)
    fh.write(bytes([b[0] ^ 1]))
print(name)
