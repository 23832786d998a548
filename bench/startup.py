# SPDX-License-Identifier: GPL-2.0-or-later
"""Time python3 starts whose stdlib lives on each of several mounts.

Usage: startup.py ROUNDS RUNS NAME=HOME[@PID]...  (one PYTHONHOME a mount,
                                                PID: its daemon's)
       startup.py latency ROUNDS NAME=DIR...  (cost of single calls)
       startup.py requests HOME PID LOG       (FUSE requests of a start)

Every round runs RUNS sweeps; a sweep starts python once on every variant,
in a new order each time, so that load from other work on the machine
falls on all of them alike.  Prints, per variant: median and best of all
ROUNDS * RUNS starts and their ratio to the first variant (the reference,
tmpfs); "x paired", the median over the sweeps of the ratio of a start to
the reference's start in the same sweep, which a load that comes and goes
disturbs least; and the CPU time per start, python's own (user + system,
which holds the kernel's FUSE work) plus the daemon's (clock ticks, summed
over all runs).  In a QEMU guest whose host /proc is at hand,
XIPFS_VM_TASKS=/proc/QEMU_PID/task (the host's, seen from the guest) adds
the CPU time the host spent in QEMU's vCPU threads during each start
("vm cpu": what the start cost the emulator, which other work on the host
does not stretch as it stretches the guest's clock).  The interpreter is Debian's /usr/bin/python3, whose
stdlib a PYTHONHOME elsewhere must match (ENVIRONMENT.md).

"requests" starts python twice on a daemon mounted with -o stats (cold,
then warm: every kernel cache filled), asks the daemon for its counts
(SIGUSR1) after each and prints the requests of each start by type, with
the daemon's mean CPU time per request.
"""
import os
import random
import signal
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


def vcpu_files():
    """The schedstat files of the vCPU threads of XIPFS_VM_TASKS (named
    "CPU N/TCG" or "ALL CPUs/TCG" under -name ...,debug-threads=on), open."""
    d = os.environ.get("XIPFS_VM_TASKS")
    if not d:
        return []
    fds = []
    for t in os.listdir(d):
        try:
            with open(f"{d}/{t}/comm") as f:
                if f.read().rstrip().endswith("/TCG"):
                    fds.append(os.open(f"{d}/{t}/schedstat", os.O_RDONLY))
        except OSError:
            pass                            # a thread that ended meanwhile
    if not fds:
        sys.exit(f"startup.py: XIPFS_VM_TASKS={d}: no vCPU thread (QEMU without debug-threads=on?)")
    return fds


VCPUS = vcpu_files()


def vcpu_ns():
    """Nanoseconds the host ran the vCPU threads so far (0 without them)."""
    return sum(int(os.pread(fd, 64, 0).split()[0]) for fd in VCPUS)


def start(home):
    """Wall time, the child's CPU time (user + system) and the vCPU time
    (0 unless XIPFS_VM_TASKS) of one start, in seconds."""
    env = {"PYTHONHOME": home, "PYTHONDONTWRITEBYTECODE": "1", "PATH": "/usr/bin:/bin"}
    v0 = vcpu_ns()
    t0 = time.perf_counter()
    p = subprocess.Popen([PY, "-c", WORK], env=env)
    _, status, ru = os.wait4(p.pid, 0)
    wall = time.perf_counter() - t0
    vcpu = (vcpu_ns() - v0) / 1e9
    if status:
        sys.exit(f"startup.py: python3 with PYTHONHOME={home} failed ({status:#x})")
    return wall, ru.ru_utime + ru.ru_stime, vcpu


def startup(rounds, runs, variants):
    variants = [(n, h.split("@")[0], int(h.split("@")[1]) if "@" in h else 0)
                for n, h in variants]
    ref_name = variants[0][0]
    times = {name: [] for name, _, _ in variants}
    paired = {name: [] for name, _, _ in variants}
    vtimes = {name: [] for name, _, _ in variants}
    vpaired = {name: [] for name, _, _ in variants}
    cpu = {name: 0.0 for name, _, _ in variants}
    ticks = {name: 0 for name, _, _ in variants}
    for name, home, _ in variants:         # warm every cache first
        start(home)
        start(home)
    order = list(variants)
    for _ in range(rounds * runs):
        random.shuffle(order)
        sweep = {}
        vsweep = {}
        for name, home, pid in order:
            t0 = daemon_ticks(pid)
            wall, c, v = start(home)
            ticks[name] += daemon_ticks(pid) - t0
            times[name].append(wall)
            vtimes[name].append(v)
            cpu[name] += c
            sweep[name] = wall
            vsweep[name] = v
        for name in sweep:
            paired[name].append(sweep[name] / sweep[ref_name])
            if VCPUS:
                vpaired[name].append(vsweep[name] / vsweep[ref_name])
    n = rounds * runs
    hz = os.sysconf("SC_CLK_TCK")
    ref = statistics.median(times[ref_name])
    ref_best = min(times[ref_name])
    ref_cpu = cpu[ref_name] / n
    print(f"{'variant':<16} {'median ms':>10} {'best ms':>8} {'x median':>9} {'x best':>7}"
          f" {'x paired':>9} {'py cpu ms':>10} {'daemon ms':>10} {'x cpu':>6}")
    for name, _, _ in variants:
        med, best = statistics.median(times[name]), min(times[name])
        c, d = cpu[name] / n, ticks[name] / hz / n
        print(f"{name:<16} {med * 1e3:10.2f} {best * 1e3:8.2f} {med / ref:9.3f}"
              f" {best / ref_best:7.3f} {statistics.median(paired[name]):9.3f}"
              f" {c * 1e3:10.2f} {d * 1e3:10.2f} {(c + d) / ref_cpu:6.3f}")
    print(f"({rounds} rounds of {runs} sweeps: {n} starts a variant; x: ratio to {ref_name})")
    if VCPUS:
        vref, vref_best = statistics.median(vtimes[ref_name]), min(vtimes[ref_name])
        print(f"\n{'variant':<16} {'vm cpu ms':>10} {'best ms':>8} {'x median':>9} {'x best':>7}"
              f" {'x paired':>9}")
        for name, _, _ in variants:
            med, best = statistics.median(vtimes[name]), min(vtimes[name])
            print(f"{name:<16} {med * 1e3:10.2f} {best * 1e3:8.2f} {med / vref:9.3f}"
                  f" {best / vref_best:7.3f} {statistics.median(vpaired[name]):9.3f}")
        print("(vm cpu: the host's CPU time in QEMU's vCPU threads during each start,"
              " XIPFS_VM_TASKS)")


def per_op(fn, n):
    t0 = time.perf_counter()
    for i in range(n):
        fn(i)
    return (time.perf_counter() - t0) / n


def latency(rounds, variants, n=500):
    """Per-call cost of requests the kernel cannot cache, and of cached ones:
    the median over ROUNDS interleaved rounds of N calls each."""
    import termios

    def costs(top):
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
        return look, ioc, st, oc

    got = {name: [] for name, _ in variants}
    order = list(variants)
    for _ in range(rounds):
        random.shuffle(order)
        for name, top in order:
            got[name].append(costs(top))
    print(f"{'variant':<16} {'neg. lookup us':>15} {'ioctl us':>9} {'cached stat us':>15}"
          f" {'open+close us':>14}")
    for name, _ in variants:
        med = [statistics.median(r[k] for r in got[name]) * 1e6 for k in range(4)]
        print(f"{name:<16} {med[0]:15.1f} {med[1]:9.1f} {med[2]:15.1f} {med[3]:14.1f}")
    print(f"(median of {rounds} interleaved rounds of {n} calls; a negative lookup"
          " and an ioctl are one round trip each on FUSE)")


def stats_line(log, before):
    """The first "stats:" line of LOG after BEFORE of them, as
    {TYPE: (count, mean ns)}; waits for the daemon to write it."""
    for _ in range(200):
        with open(log) as f:
            lines = [ln for ln in f if "stats: requests" in ln]
        if len(lines) > before:
            words = lines[before].split("stats: requests ", 1)[1].split()[1:]
            # TYPE COUNT/NS pairs; "backing N idle N" (XIP) follow them
            return {t: tuple(int(x) for x in v.split("/"))
                    for t, v in zip(words[::2], words[1::2]) if "/" in v}
        time.sleep(0.02)
    sys.exit(f"startup.py: no stats line in {log} (is the daemon mounted with -o stats?)")


def requests(home, pid, log):
    """Cold and warm start on a -o stats daemon: the requests of each."""
    with open(log) as f:
        seen = sum("stats: requests" in ln for ln in f)
    snaps = [{}]
    for _ in range(2):
        start(home)
        os.kill(pid, signal.SIGUSR1)
        snaps.append(stats_line(log, seen))
        seen += 1
    types = sorted(set(snaps[1]) | set(snaps[2]), key=lambda t: -snaps[2].get(t, (0, 0))[0])
    print(f"{'request':<12} {'cold':>6} {'mean us':>8} {'warm':>6} {'mean us':>8}")
    tot = [0, 0]
    for t in types:
        row = []
        for i in (1, 2):
            c1, ns1 = snaps[i].get(t, (0, 0))
            c0, ns0 = snaps[i - 1].get(t, (0, 0))
            c = c1 - c0
            tot[i - 1] += c
            row.append((c, (c1 * ns1 - c0 * ns0) / c / 1e3 if c else 0))
        print(f"{t:<12} {row[0][0]:6d} {row[0][1]:8.1f} {row[1][0]:6d} {row[1][1]:8.1f}")
    print(f"{'total':<12} {tot[0]:6d} {'':>8} {tot[1]:6d}")
    print("(mean us: the daemon's CPU time per request, handler and reply;"
          " INIT and FLUSH are answered by libfuse and not counted)")


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "latency":
        latency(int(sys.argv[2]), [a.split("=", 1) for a in sys.argv[3:]])
        return
    if len(sys.argv) > 1 and sys.argv[1] == "requests":
        requests(sys.argv[2], int(sys.argv[3]), sys.argv[4])
        return
    rounds, runs = int(sys.argv[1]), int(sys.argv[2])
    startup(rounds, runs, [a.split("=", 1) for a in sys.argv[3:]])


if __name__ == "__main__":
    main()
