#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""stress.py MODE MNT SRC SECONDS PROCS: hammer a mounted tree from PROCS
processes for SECONDS: stat, open + pread at random offsets + close,
readdir, and lookups of names that do not exist, every answer checked
against the source tree SRC.

MODE "verify": any error fails.  MODE "race" (the mount goes away while
this runs): ENOTCONN, ENOENT and friends are counted, not failures, but a
read that returns bytes must return the right ones.

Prints "ops N errors E wrong W" and exits 1 if W > 0 (or E > 0 in verify).
"""
import errno
import multiprocessing
import os
import random
import stat
import sys
import time

ALLOWED = {errno.ENOTCONN, errno.ENOENT, errno.EIO, errno.ENODEV, errno.EBADF,
           errno.ENOTDIR, errno.ECONNABORTED}


def worker(args):
    mode, mnt, src, files, dirs, seconds, seed = args
    rnd = random.Random(seed)
    ops = errs = wrong = 0
    end = time.monotonic() + seconds
    held = []                           # fds kept open across operations
    while time.monotonic() < end:
        ops += 1
        op = rnd.random()
        rel = rnd.choice(files)
        try:
            if op < 0.25:
                a = os.lstat(os.path.join(mnt, rel))
                b = os.lstat(os.path.join(src, rel))
                if (a.st_size, stat.S_IFMT(a.st_mode)) != (b.st_size, stat.S_IFMT(b.st_mode)):
                    print("WRONG stat", rel, a.st_size, b.st_size, flush=True)
                    wrong += 1
            elif op < 0.75:
                fd = os.open(os.path.join(mnt, rel), os.O_RDONLY)
                try:
                    size = os.fstat(fd).st_size
                    off = rnd.randrange(size + 1) if size else 0
                    n = rnd.choice([1, 100, 4096, 65536, 1 << 20])
                    got = os.pread(fd, n, off)
                    with open(os.path.join(src, rel), "rb") as f:
                        f.seek(off)
                        want = f.read(n)
                    if got != want[:len(got)] or (mode == "verify" and got != want):
                        print("WRONG bytes", rel, off, n, len(got), len(want), flush=True)
                        wrong += 1
                finally:
                    if rnd.random() < 0.05 and len(held) < 64:
                        held.append((fd, rel))
                    else:
                        os.close(fd)
            elif op < 0.85:
                d = rnd.choice(dirs)
                got = sorted(os.listdir(os.path.join(mnt, d)))
                want = sorted(os.listdir(os.path.join(src, d)))
                if got != want and mode == "race" and d == "" and not got:
                    errs += 1   # the mount is gone: the empty directory below
                elif got != want:
                    print("WRONG readdir", d, len(got), len(want), flush=True)
                    wrong += 1
            elif op < 0.95:
                try:
                    os.lstat(os.path.join(mnt, rel + ".no-such-name"))
                    print("WRONG: found", rel + ".no-such-name", flush=True)
                    wrong += 1
                except FileNotFoundError:
                    pass
            elif held:
                # Read again through a descriptor opened long ago.
                fd, hrel = held.pop(rnd.randrange(len(held)))
                try:
                    got = os.pread(fd, 4096, 0)
                    with open(os.path.join(src, hrel), "rb") as f:
                        want = f.read(4096)
                    if got != want[:len(got)] or (mode == "verify" and got != want):
                        print("WRONG held bytes", hrel, flush=True)
                        wrong += 1
                finally:
                    os.close(fd)
        except OSError as e:
            if mode == "race" and e.errno in ALLOWED:
                errs += 1
            else:
                print("ERROR", rel, e, flush=True)
                errs += 1
                if mode == "verify":
                    wrong += 1
    for fd, _ in held:
        os.close(fd)
    return ops, errs, wrong


def main():
    mode, mnt, src, seconds, procs = sys.argv[1:6]
    files, dirs = [], [""]
    for root, dnames, fnames in os.walk(src):
        r = os.path.relpath(root, src)
        r = "" if r == "." else r
        dirs += [os.path.join(r, d) for d in dnames]
        files += [os.path.join(r, f) for f in fnames
                  if stat.S_ISREG(os.lstat(os.path.join(root, f)).st_mode)]
    jobs = [(mode, mnt, src, files, dirs, float(seconds), i) for i in range(int(procs))]
    with multiprocessing.Pool(int(procs)) as pool:
        res = pool.map(worker, jobs)
    ops = sum(r[0] for r in res)
    errs = sum(r[1] for r in res)
    wrong = sum(r[2] for r in res)
    print("ops %d errors %d wrong %d" % (ops, errs, wrong), flush=True)
    sys.exit(1 if wrong or (mode == "verify" and errs) else 0)


if __name__ == "__main__":
    main()
