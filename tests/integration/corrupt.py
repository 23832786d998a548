#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""corrupt.py XIPFSCTL IMAGE WORKDIR: damage IMAGE at many offsets inside every
metadata structure (once leaving the CRC wrong, once with the CRC recomputed
so the library's bounds checks, not the checksum, must catch it) and truncate
it at many lengths; run info, ls -lR, extract and fsck --verify-data on each.
Every run must end normally: no signal, no sanitizer report, no hang, and a
message on stderr whenever it fails.  Prints a summary; exit 1 on any bad run.
"""
import os, random, shutil, struct, subprocess, sys

def crc32c_table():
    t = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ (0x82F63B78 if c & 1 else 0)
        t.append(c)
    return t
T = crc32c_table()

def crc32c(data, crc=0):
    c = crc ^ 0xFFFFFFFF
    for b in data:
        c = (c >> 8) ^ T[(c ^ b) & 0xFF]
    return c ^ 0xFFFFFFFF

SB = struct.Struct("<8sHHIIIII16sQQQIIQQQIIQQQQQQQIIQQ")
FIELDS = ("magic vmaj vmin shift compat incompat crc root uuid build size pool "
          "data_start data_pages meta_off meta_size inode_off inode_count "
          "dirent_count dirent_off extent_off extent_count names_off names_size "
          "xattr_off xattr_size xattr_sets res0 pagesum_off pagesum_count").split()

def parse(img):
    return dict(zip(FIELDS, SB.unpack_from(img, 0)))

def fix_crc(img):
    sb = parse(img)
    b = bytearray(img)
    mo, ms = sb["meta_off"], sb["meta_size"]
    if mo + ms > len(b) or mo < 512:
        return bytes(b)
    b[24:28] = b"\0\0\0\0"
    c = crc32c(bytes(b[:512]))
    c = crc32c(bytes(b[mo:mo + ms]), c)
    b[24:28] = struct.pack("<I", c)
    return bytes(b)

def main():
    ctl, image, work = sys.argv[1:4]
    rng = random.Random(1234)
    img = open(image, "rb").read()
    sb = parse(img)
    regions = {
        "superblock": (0, 232),
        "inode table": (sb["inode_off"], sb["inode_count"] * 64),
        "dirents": (sb["dirent_off"], sb["dirent_count"] * 12),
        "extents": (sb["extent_off"], sb["extent_count"] * 12),
        "names": (sb["names_off"], sb["names_size"]),
        "xattrs": (sb["xattr_off"], sb["xattr_size"]),
        "page sums": (sb["pagesum_off"], sb["pagesum_count"] * 4),
        "data": (sb["data_start"] * 4096, sb["data_pages"] * 4096),
    }
    cases = []
    for name, (off, size) in regions.items():
        assert size > 0, "test image lacks a %s region" % name
        # Every byte of the superblock fields; a sample elsewhere.
        offs = range(off, off + size) if name == "superblock" else \
            sorted(set(rng.randrange(off, off + size) for _ in range(min(size, 24))))
        for i, o in enumerate(offs):
            b = bytearray(img)
            b[o] ^= rng.choice([0x01, 0x80, 0xFF, 0x10])
            # With the CRC left wrong the checksum catches everything alike:
            # a sample is enough.  With it fixed, every offset counts.
            if i % 8 == 0:
                cases.append(("%s+%d" % (name, o - off), bytes(b)))
            if name != "superblock" or o not in range(24, 28):
                cases.append(("%s+%d crc-fixed" % (name, o - off), fix_crc(bytes(b))))
        # Big values in 4-byte fields, CRC fixed: overflow paths.
        for o in (list(range(off, off + size, 4)) if name == "superblock" else list(offs)[::4][:6]):
            for v in (0xFFFFFFFF, 0x80000000, 0x7FFFFFFF):
                b = bytearray(img)
                if o + 4 <= len(b):
                    b[o:o + 4] = struct.pack("<I", v)
                    cases.append(("%s+%d=%#x crc-fixed" % (name, o - off, v), fix_crc(bytes(b))))
    for n in sorted(set([0, 1, 100, 511, 512, 4095, 4096, 8192, len(img) // 2,
                         len(img) - 4096, len(img) - 1] +
                        [rng.randrange(len(img)) for _ in range(10)])):
        cases.append(("truncated to %d" % n, img[:n]))
    bad, failures = [], 0
    path = os.path.join(work, "c.img")
    cmds = [["info", path], ["ls", "-lR", path], ["extract", path, None],
            ["fsck", "--verify-data", path]]
    for label, data in cases:
        with open(path, "wb") as f:
            f.write(data)
        for cmd in cmds:
            out = os.path.join(work, "x")
            shutil.rmtree(out, ignore_errors=True)
            argv = [ctl] + [out if a is None else a for a in cmd]
            try:
                r = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                   timeout=60)
            except subprocess.TimeoutExpired:
                bad.append("%s: %s: hang" % (label, cmd[0])); continue
            err = r.stderr.decode(errors="replace")
            if r.returncode < 0 or r.returncode >= 128:
                bad.append("%s: %s: killed by signal / exit %d: %s" % (label, cmd[0], r.returncode, err[-300:]))
            elif "Sanitizer" in err or "runtime error" in err:
                bad.append("%s: %s: sanitizer report: %s" % (label, cmd[0], err[-500:]))
            elif r.returncode != 0:
                failures += 1
                if not err.strip():
                    bad.append("%s: %s: failed (exit %d) without a message" % (label, cmd[0], r.returncode))
    print("corrupt.py: %d damaged images, %d runs, %d clean failures, %d bad" %
          (len(cases), len(cases) * len(cmds), failures, len(bad)))
    for b in bad[:50]:
        print("BAD " + b)
    # The damage must be noticed: most damaged images must fail somewhere.
    if failures < len(cases):
        print("BAD: only %d failing runs for %d damaged images" % (failures, len(cases)))
        return 1
    return 1 if bad else 0

if __name__ == "__main__":
    sys.exit(main())
