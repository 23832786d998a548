#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""mkcycle.py IMAGE OUT: copy IMAGE with a directory cycle: the root's first
entry that is a directory is pointed back at the root (inode 1), and the
CRC is resealed, so the image opens and only a walk that tracks the
directories it entered (fsck, ls -R, extract) can tell."""
import struct, sys

sys.path.insert(0, __import__("os").path.dirname(__file__))
from corrupt import fix_crc, parse

INODE = struct.Struct("<HHIIIQqqIIIIQ")
DIRENT = struct.Struct("<IIBBH")
DT_DIR = 4

img = bytearray(open(sys.argv[1], "rb").read())
sb = parse(img)
root = INODE.unpack_from(img, sb["inode_off"])
count, first = root[11], root[12]
for i in range(first, first + count):
    at = sb["dirent_off"] + i * DIRENT.size
    ino, name, namelen, dtype, _ = DIRENT.unpack_from(img, at)
    if dtype == DT_DIR:
        struct.pack_into("<I", img, at, 1)
        break
else:
    sys.exit("mkcycle.py: the root has no subdirectory")
open(sys.argv[2], "wb").write(fix_crc(bytes(img)))
