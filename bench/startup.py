# SPDX-License-Identifier: GPL-2.0-or-later
"""Time python3 starts whose stdlib lives on each of several mounts.

Usage: startup.py ROUNDS RUNS NAME=HOME[@PID]...  (one PYTHONHOME a mount,
                                                PID: its daemon's)
       startup.py latency NAME=DIR...        (round trip of single requests)

Every variant runs RUNS starts in each of ROUNDS rounds, the variants in a
new order each round, so that load from other work on the machine falls on
all of them alike.  Prints median and best per variant and their ratio to
the first (the reference, tmpfs); and the CPU time per start, python's
own (user + system, which holds the kernel's FUSE work) plus the daemon's
(clock ticks, summed over all runs), which other work on a loaded
machine disturbs far less than wall time.  The interpreter is Debian's
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


def daemon_ticks(pid):
    """utime + stime of every thread, living or gone, in clock ticks."""
    if not pid:
        return 0
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def start(home):
    """Wall time and the child's CPU time (user + system) of one start."""
    env = {"PYTHONHOME": home, "PYTHONDONTWRITEBYTECODE": "1", "PATH": "/usr/bin:/bin"}
    t0 = time.perf_counter()
    p = subprocess.Popen([PY, "-c", WORK], env=env)
    _, status, ru = os.wait4(p.pid, 0)
    wall = time.perf_counter() - t0
    if status:
        sys.exit(f"startup.py: python3 with PYTHONHOME={home} failed ({status:#x})")
    return wall, ru.ru_utime + ru.ru_stime


def startup(rounds, runs, variants):
    variants = [(n, h.split("@")[0], int(h.split("@")[1]) if "@" in h else 0)
                for n, h in variants]
    times = {name: [] for name, _, _ in variants}
    cpu = {name: 0.0 for name, _, _ in variants}
    ticks = {name: 0 for name, _, _ in variants}
    for name, home, _ in variants:         # warm every cache first
        start(home)
        start(home)
    order = list(variants)
    for _ in range(rounds):
        random.shuffle(order)
        for name, home, pid in order:
            for _ in range(runs):
                t0 = daemon_ticks(pid)
                wall, c = start(home)
                ticks[name] += daemon_ticks(pid) - t0
                times[name].append(wall)
                cpu[name] += c
    n = rounds * runs
    hz = os.sysconf("SC_CLK_TCK")
    ref = statistics.median(times[variants[0][0]])
    ref_best = min(times[variants[0][0]])
    ref_cpu = cpu[variants[0][0]] / n
    print(f"{'variant':<16} {'median ms':>10} {'best ms':>8} {'x median':>9} {'x best':>7}"
          f" {'py cpu ms':>10} {'daemon ms':>10} {'x cpu':>6}")
    for name, _, _ in variants:
        med, best = statistics.median(times[name]), min(times[name])
        c, d = cpu[name] / n, ticks[name] / hz / n
        print(f"{name:<16} {med * 1e3:10.2f} {best * 1e3:8.2f} {med / ref:9.3f}"
              f" {best / ref_best:7.3f} {c * 1e3:10.2f} {d * 1e3:10.2f} {(c + d) / ref_cpu:6.3f}")


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
