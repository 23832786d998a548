#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Load: 64 concurrent readers, random offsets and sizes, for a bounded time,
# every byte checked against the source; the daemon's memory stays bounded.
. "$(dirname "$0")/lib.sh"
need_fuse
src=/usr/lib/x86_64-linux-gnu
gen_image "$src" "$WORK/img"
# Under AddressSanitizer freed memory waits in a quarantine (256 MiB by
# default) that would be counted as the daemon's: keep it small.
ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=4:thread_local_quarantine_size_kb=64 \
	mount_xipfs "$WORK/img" "$WORK/m"
pid=$(pgrep -n -f "$WORK/img $WORK/m")
rss() { awk '/^VmRSS/ { print $2 }' /proc/$pid/status; }
before=$(rss)
"$PY" - "$src" "$WORK/m" 64 "${XIPFS_LOAD_SECONDS:-15}" <<'PY' || fail "readers saw errors"
import os, random, sys, threading, time
src, mnt, n, secs = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
files = []
for root, _, fs in os.walk(src):
    for f in fs:
        p = os.path.join(root, f)
        if os.path.isfile(p) and not os.path.islink(p) and os.path.getsize(p) > 0:
            files.append(os.path.relpath(p, src))
stop = time.time() + secs
stats = {"reads": 0, "bytes": 0, "bad": 0, "err": 0}
lock = threading.Lock()
def reader(seed):
    rng = random.Random(seed)
    r = b = bad = err = 0
    while time.time() < stop:
        f = rng.choice(files)
        size = os.path.getsize(os.path.join(src, f))
        off = rng.randrange(size)
        ln = rng.choice([1, 100, 4096, 65536, 1 << 20, rng.randrange(1, 300000)])
        try:
            with open(os.path.join(mnt, f), "rb") as m:
                m.seek(off); got = m.read(ln)
            with open(os.path.join(src, f), "rb") as s:
                s.seek(off); want = s.read(ln)
        except OSError as e:
            err += 1; continue
        r += 1; b += len(got)
        if got != want:
            bad += 1
    with lock:
        stats["reads"] += r; stats["bytes"] += b; stats["bad"] += bad; stats["err"] += err
# Processes would be truer to the kernel; threads release the GIL in read().
ts = [threading.Thread(target=reader, args=(i,)) for i in range(n)]
[t.start() for t in ts]; [t.join() for t in ts]
print("load: %(reads)d reads, %(bytes)d bytes, %(bad)d mismatches, %(err)d errors" % stats)
sys.exit(1 if stats["bad"] or stats["err"] or not stats["reads"] else 0)
PY
after=$(rss)
note "daemon RSS: $before kB before, $after kB after"
# The daemon allocates nothing per request that outlives it; its RSS is the
# mapped image pages it touched (file-backed, reclaimable) plus a few thread
# stacks.  Bound: the image size plus 64 MiB.
bound=$(( $(stat -c %s "$WORK/img") / 1024 + 65536 ))
[ "$after" -le "$bound" ] || fail "daemon RSS $after kB exceeds $bound kB"
# Anonymous memory (heap, stacks) is what would leak: keep it small.  Under
# AddressSanitizer add the shadow of the image pages it touched (1/8).
anon=$(awk '/^RssAnon/ { print $2 }' /proc/$pid/status)
abound=65536
grep -q libasan "/proc/$pid/maps" && abound=$((abound + $(stat -c %s "$WORK/img") / 8192))
note "daemon anonymous RSS: $anon kB (bound $abound kB)"
[ "$anon" -le "$abound" ] || fail "daemon anonymous memory $anon kB"
