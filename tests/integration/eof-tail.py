#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""eof-tail.py poke FILE IMAGE OUT: write OUT, IMAGE with an 'X' 200 bytes
into the last page of FILE's data (FILE is shorter than 200 bytes, stored
once), so a byte after its EOF is not zero; prints the byte's offset.
eof-tail.py map PATH: map PATH's first page, shared and private, and fail
unless it shows PATH's bytes, then zeros after EOF.
"""
import ctypes, os, sys


def poke(path, image, out):
    data = open(path, "rb").read()
    img = bytearray(open(image, "rb").read())
    page = img.find(data)
    assert len(data) < 200 and page > 0 and page % 4096 == 0, "no page-aligned copy of FILE"
    assert not any(img[page + len(data):page + 4096]), "the image already has a dirty tail"
    img[page + 200] = ord("X")
    open(out, "wb").write(img)
    print(page + 200)


def check_map(path):
    libc = ctypes.CDLL(None, use_errno=True)
    libc.mmap.restype = ctypes.c_void_p
    libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int,
                          ctypes.c_int, ctypes.c_long]
    data = open(path, "rb").read()
    fd = os.open(path, os.O_RDONLY)
    for flags in (1, 2):            # MAP_SHARED, MAP_PRIVATE
        p = libc.mmap(None, 4096, 1, flags, fd, 0)          # PROT_READ
        assert p not in (None, ctypes.c_void_p(-1).value), os.strerror(ctypes.get_errno())
        page = ctypes.string_at(p, 4096)
        assert page[:len(data)] == data, "wrong bytes before EOF"
        assert not any(page[len(data):]), "bytes after EOF: %r" % page[len(data):].strip(b"\0")
    print("zeros after EOF")


if __name__ == "__main__":
    if sys.argv[1] == "poke":
        poke(*sys.argv[2:5])
    else:
        check_map(sys.argv[2])
