# SPDX-License-Identifier: GPL-2.0-or-later
"""Time python3 starts whose stdlib lives on each of several mounts.

Usage: startup.py ROUNDS RUNS NAME=HOME...   (one NAME=PYTHONHOME a mount)
       startup.py latency NAME=DIR...        (round trip of single requests)

Every variant runs RUNS starts in each of ROUNDS rounds, the variants in a
new order each round, so that load from other work on the machine falls on
all of them alike.  Prints median and best per variant and their ratio to
the first (the reference, tmpfs).  The interpreter is Debian's
/usr/bin/python3, whose stdlib a PYTHONHOME elsewhere must match
(ENVIRONMENT.md).
"""
import os
import random
import statistics
import subprocess
import sys
import time

PY = "/usr/bin/python3"
WORK = ("import json, re, collections, subprocess, argparse, logging, "
        "email.parser, decimal, http.client")


def start(home):
    env = {"PYTHONHOME": home, "PYTHONDONTWRITEBYTECODE": "1", "PATH": "/usr/bin:/bin"}
    t0 = time.perf_counter()
    subprocess.run([PY, "-c", WORK], env=env, check=True)
    return time.perf_counter() - t0


def startup(rounds, runs, variants):
    times = {name: [] for name, _ in variants}
    for name, home in variants:         # warm every cache first
        start(home)
        start(home)
    order = list(variants)
    for _ in range(rounds):
        random.shuffle(order)
        for name, home in order:
            for _ in range(runs):
                times[name].append(start(home))
    ref = statistics.median(times[variants[0][0]])
    ref_best = min(times[variants[0][0]])
    print(f"{'variant':<22} {'median ms':>10} {'best ms':>9} {'x median':>9} {'x best':>7}")
    for name, _ in variants:
        med, best = statistics.median(times[name]), min(times[name])
        print(f"{name:<22} {med * 1e3:10.2f} {best * 1e3:9.2f} "
              f"{med / ref:9.3f} {best / ref_best:7.3f}")


def per_op(fn, n):
    t0 = time.perf_counter()
    for i in range(n):
        fn(i)
    return (time.perf_counter() - t0) / n


def latency(variants, n=4000):
    """Per-call cost of requests the kernel cannot cache, and of cached ones."""
    import termios
    print(f"{'variant':<22} {'neg. lookup us':>15} {'ioctl us':>9} {'cached stat us':>15}"
          f" {'open+close us':>14}")
    for name, top in variants:
        d = os.path.join(top, "usr/lib/python3.11")
        tag = "%d%d" % (os.getpid(), random.randrange(1 << 30))
        look = per_op(lambda i: os.path.exists(f"{d}/absent-{tag}-{i}"), n)
        fd = os.open(f"{d}/os.py", os.O_RDONLY)

        def tcgets(_):
            try:
                termios.tcgetattr(fd)
            except termios.error:
                pass
        ioc = per_op(tcgets, n)
        os.close(fd)
        st = per_op(lambda i: os.stat(f"{d}/os.py"), n)
        oc = per_op(lambda i: os.close(os.open(f"{d}/os.py", os.O_RDONLY)), n)
        print(f"{name:<22} {look * 1e6:15.1f} {ioc * 1e6:9.1f} {st * 1e6:15.1f} {oc * 1e6:14.1f}")


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "latency":
        latency([a.split("=", 1) for a in sys.argv[2:]])
        return
    rounds, runs = int(sys.argv[1]), int(sys.argv[2])
    startup(rounds, runs, [a.split("=", 1) for a in sys.argv[3:]])


if __name__ == "__main__":
    main()
