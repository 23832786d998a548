#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""treecmp.py [options] A B: compare two trees stat by stat and byte by byte.

Checks every path's type, mode, uid, gid, size, mtime (ns), rdev, link
count, symlink target, xattrs and content, that hardlinks map one to one
(the same inode groups in both trees), and optionally the data/hole map of
sparse files.  Prints every difference; exit 1 if there is any.

  --no-xattr        do not compare xattrs
  --no-nlink-dirs   do not compare directory link counts
  --holes           compare SEEK_DATA/SEEK_HOLE maps of files with holes
  --exclude-type T  ignore entries of type T (s: sockets)
  --self-test       check that the comparer itself notices differences
"""
import os, stat, sys, tempfile, shutil

def xattrs(p):
    try:
        return {n: os.getxattr(p, n, follow_symlinks=False)
                for n in os.listxattr(p, follow_symlinks=False)}
    except OSError:
        return {}

def holemap(p, size):
    fd = os.open(p, os.O_RDONLY)
    try:
        out, off = [], 0
        while off < size:
            try:
                d = os.lseek(fd, off, os.SEEK_DATA)
            except OSError:
                break
            h = os.lseek(fd, d, os.SEEK_HOLE)
            out.append((d, h))
            off = h
        return out
    finally:
        os.close(fd)

def regions_equal(x, y, regions):
    with open(x, "rb") as fx, open(y, "rb") as fy:
        for d, h in regions:
            fx.seek(d); fy.seek(d)
            left = h - d
            while left > 0:
                n = min(left, 1 << 20)
                if fx.read(n) != fy.read(n):
                    return False
                left -= n
    return True

def same_content(a, b, size):
    if size <= (64 << 20):
        return regions_equal(a, b, [(0, size)])
    # Big (sparse) files: every data region of either side must match the
    # other side, and what neither side has as data is zeros in both.
    return (regions_equal(a, b, holemap(a, size)) and
            regions_equal(b, a, holemap(b, size)))

def links_in_tree(A):
    # Names each multiply-linked non-directory has inside A: links outside
    # the tree (perf's ~/.debug build-id cache hardlinks system libraries)
    # cannot be part of an image built from A.
    count = {}
    for root, dirs, files in os.walk(A):
        for n in files + dirs:
            st = os.lstat(os.path.join(root, n))
            if not stat.S_ISDIR(st.st_mode) and st.st_nlink > 1:
                k = (st.st_dev, st.st_ino)
                count[k] = count.get(k, 0) + 1
    return count

def compare(A, B, opts):
    errs = []
    inomap, rinomap = {}, {}
    intree = links_in_tree(A)
    def err(path, what):
        errs.append("%s: %s" % (os.fsdecode(path) or ".", what))
    for root, dirs, files in os.walk(A):
        rel = os.path.relpath(root, A) if root != A else b""
        rel = os.fsencode(rel) if isinstance(rel, str) else rel
        names = set(dirs) | set(files)
        bdir = os.path.join(B, rel) if rel else B
        try:
            bnames = set(os.listdir(bdir))
        except OSError as e:
            err(rel, "cannot list in B: %s" % e); continue
        skip = set()
        for n in names:
            st = os.lstat(os.path.join(root, n))
            if "s" in opts["exclude"] and stat.S_ISSOCK(st.st_mode):
                skip.add(n)
        for n in sorted((names - skip) - bnames):
            err(os.path.join(rel, n), "missing in B")
        for n in sorted(bnames - names):
            err(os.path.join(rel, n), "only in B")
        for n in sorted(([b""] if not rel else []) + sorted((names - skip) & bnames)):
            pa, pb = os.path.join(root, n), os.path.join(bdir, n)
            p = os.path.join(rel, n) if n else rel
            sa, sb = os.lstat(pa), os.lstat(pb)
            if stat.S_IFMT(sa.st_mode) != stat.S_IFMT(sb.st_mode):
                err(p, "type %o != %o" % (stat.S_IFMT(sa.st_mode), stat.S_IFMT(sb.st_mode)))
                continue
            for f in ("st_mode", "st_uid", "st_gid", "st_mtime_ns"):
                if getattr(sa, f) != getattr(sb, f):
                    err(p, "%s %r != %r" % (f, getattr(sa, f), getattr(sb, f)))
            isdir = stat.S_ISDIR(sa.st_mode)
            if not isdir and sa.st_size != sb.st_size:
                err(p, "size %d != %d" % (sa.st_size, sb.st_size))
            na = sa.st_nlink if isdir else intree.get((sa.st_dev, sa.st_ino), sa.st_nlink)
            if (not isdir or opts["nlink_dirs"]) and na != sb.st_nlink:
                err(p, "nlink %d != %d" % (na, sb.st_nlink))
            if stat.S_ISCHR(sa.st_mode) or stat.S_ISBLK(sa.st_mode):
                if sa.st_rdev != sb.st_rdev:
                    err(p, "rdev %x != %x" % (sa.st_rdev, sb.st_rdev))
            if stat.S_ISLNK(sa.st_mode):
                if os.readlink(pa) != os.readlink(pb):
                    err(p, "symlink target %r != %r" % (os.readlink(pa), os.readlink(pb)))
            elif opts["xattr"] and xattrs(pa) != xattrs(pb):
                err(p, "xattrs %r != %r" % (xattrs(pa), xattrs(pb)))
            if not isdir and sa.st_nlink > 1:
                ka, kb = (sa.st_dev, sa.st_ino), (sb.st_dev, sb.st_ino)
                if inomap.setdefault(ka, kb) != kb or rinomap.setdefault(kb, ka) != ka:
                    err(p, "hardlink identity differs")
            if stat.S_ISREG(sa.st_mode) and sa.st_size == sb.st_size:
                if not same_content(pa, pb, sa.st_size):
                    err(p, "content differs")
                elif opts["holes"] and sa.st_blocks * 512 < sa.st_size:
                    ha, hb = holemap(pa, sa.st_size), holemap(pb, sb.st_size)
                    if ha != hb:
                        err(p, "data/hole map %r != %r" % (ha[:4], hb[:4]))
    return errs

def self_test():
    t = tempfile.mkdtemp()
    try:
        a, b = os.path.join(t, "a"), os.path.join(t, "b")
        os.makedirs(os.path.join(a, "d"))
        with open(os.path.join(a, "d", "f"), "wb") as f:
            f.write(b"x" * 10000)
        shutil.copytree(a, b, symlinks=True)
        os.utime(os.path.join(b, "d", "f"), ns=(0, os.stat(os.path.join(a, "d", "f")).st_mtime_ns))
        os.utime(os.path.join(b, "d"), ns=(0, os.stat(os.path.join(a, "d")).st_mtime_ns))
        base = dict(xattr=True, nlink_dirs=True, holes=False, exclude="")
        assert compare(a.encode(), b.encode(), base) == [], "identical trees differ"
        with open(os.path.join(b, "d", "f"), "r+b") as f:
            f.seek(5000); f.write(b"y")
        os.utime(os.path.join(b, "d", "f"), ns=(0, os.stat(os.path.join(a, "d", "f")).st_mtime_ns))
        e = compare(a.encode(), b.encode(), base)
        assert any("content differs" in x for x in e), e
        os.chmod(os.path.join(b, "d"), 0o700)
        e = compare(a.encode(), b.encode(), base)
        assert any("st_mode" in x for x in e), e
        print("treecmp self-test: ok")
    finally:
        shutil.rmtree(t)

def main():
    args = sys.argv[1:]
    if "--self-test" in args:
        self_test(); return 0
    opts = dict(xattr=True, nlink_dirs=True, holes=False, exclude="")
    pos = []
    while args:
        a = args.pop(0)
        if a == "--no-xattr": opts["xattr"] = False
        elif a == "--no-nlink-dirs": opts["nlink_dirs"] = False
        elif a == "--holes": opts["holes"] = True
        elif a == "--exclude-type": opts["exclude"] += args.pop(0)
        else: pos.append(a)
    if len(pos) != 2:
        print(__doc__, file=sys.stderr); return 2
    errs = compare(os.fsencode(pos[0]), os.fsencode(pos[1]), opts)
    for e in errs[:200]:
        print("DIFF " + e)
    if len(errs) > 200:
        print("... and %d more differences" % (len(errs) - 200))
    print("treecmp: %s vs %s: %d differences" % (pos[0], pos[1], len(errs)))
    return 1 if errs else 0

sys.exit(main())
