#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""The xipfs Merkle tree, computed from its description in xipfs(5) with
Python's hashlib, independently of libxipfs.

  merkle.py root IMAGE          print the digest ("sha256:HEX") from the bytes
  merkle.py page IMAGE KIND     print a page number of KIND: data, meta,
                                tree0 (first level-0 tree page), top
  merkle.py flip IMAGE OFFSET   flip the lowest bit of the byte at OFFSET
"""
import hashlib
import struct
import sys


def sb(img):
    shift, = struct.unpack_from("<I", img, 12)
    f = {"shift": shift, "psize": 1 << shift}
    f["size"], = struct.unpack_from("<Q", img, 56)
    f["data_start"], f["data_pages"] = struct.unpack_from("<II", img, 72)
    f["meta_off"], f["meta_size"] = struct.unpack_from("<QQ", img, 80)
    f["tree_off"], f["tree_size"] = struct.unpack_from("<QQ", img, 232)
    f["root"] = img[248:280]
    return f


def levels(n, psize):
    per = psize // 32
    out, first = [], 0
    while True:
        pages = (n + per - 1) // per
        out.append((first, pages, n))
        first += pages
        n = pages
        if pages == 1:
            return out


def root(img):
    f = sb(img)
    ps = f["psize"]
    n = f["tree_off"] // ps - 1
    hashes = [hashlib.sha256(img[(i + 1) * ps:(i + 2) * ps]).digest() for i in range(n)]
    while True:
        blob = b"".join(hashes)
        blob += b"\0" * (-len(blob) % ps)
        pages = [blob[i:i + ps] for i in range(0, len(blob), ps)]
        if len(pages) == 1:
            top = hashlib.sha256(pages[0]).digest()
            break
        hashes = [hashlib.sha256(p).digest() for p in pages]
    s = bytearray(img[:512])
    s[24:28] = b"\0" * 4
    s[248:280] = b"\0" * 32
    return hashlib.sha256(bytes(s) + top).digest()


def main():
    cmd, path = sys.argv[1], sys.argv[2]
    with open(path, "rb") as fh:
        img = bytearray(fh.read())
    if cmd == "root":
        print("sha256:" + root(img).hex())
    elif cmd == "page":
        f = sb(img)
        ps = f["psize"]
        lv = levels(f["tree_off"] // ps - 1, ps)
        kind = sys.argv[3]
        if kind == "data":
            print(f["data_start"] + f["data_pages"] // 2)
        elif kind == "meta":
            print(f["meta_off"] // ps)
        elif kind == "tree0":
            print(f["tree_off"] // ps)
        elif kind == "top":
            print(f["tree_off"] // ps + lv[-1][0])
    elif cmd == "flip":
        off = int(sys.argv[3])
        img[off] ^= 1
        with open(path, "r+b") as fh:
            fh.seek(off)
            fh.write(bytes([img[off]]))


if __name__ == "__main__":
    main()
