#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The daemon under stress (issue 5): thousands of parallel lookups, opens,
# reads and readdirs checked byte for byte against the source; readers
# racing unmounts (fusermount3 -u -z, umount -l, umount); SIGTERM in the
# middle of heavy load.  Every time the daemon must exit 0, leave no mount
# behind and print no sanitizer report: in the ASan+UBSan build LeakSanitizer
# checks it for leaks at exit; in other builds a bounded run under valgrind
# does (definite and indirect leaks and memory errors fail).
. "$(dirname "$0")/lib.sh"
need_fuse

src=$WORK/src
"$PY" - "$src" <<'PY'
import os, random, sys
root = sys.argv[1]
rnd = random.Random(55)
blob = os.urandom(1 << 20)
for d in range(40):
    p = os.path.join(root, "d%02d" % d)
    os.makedirs(p)
    for i in range(100):
        n = rnd.choice([0, 1, 512, 4096, 5000, 65536, 300000])
        o = rnd.randrange(len(blob) - n) if n < len(blob) else 0
        with open(os.path.join(p, "f%03d" % i), "wb") as f:
            f.write(blob[o:o + n])
big = os.path.join(root, "big")
os.makedirs(big)
for i in range(6000):
    with open(os.path.join(big, "e%05d" % i), "wb") as f:
        f.write(b"%d\n" % i)
PY
img=$WORK/img
gen_image "$src" "$img"
mnt=$WORK/m
mkdir -p "$mnt"

# start_daemon LOG [WRAPPER...]: the daemon in the foreground, in the background.
start_daemon() {
	local log=$1
	shift
	"$@" "$XIPFS_REAL" -f "$img" "$mnt" 2>"$log" &
	DPID=$!
	for _ in $(seq 600); do
		mountpoint -q "$mnt" && return 0
		kill -0 "$DPID" 2>/dev/null || fail "the daemon died at start: $(cat "$log")"
		sleep 0.1
	done
	fail "the daemon did not mount in 60 s"
}
# stop_daemon LOG WHAT: wait for the daemon (up to 60 s), which must exit 0
# with a clean log and no mount left.
stop_daemon() {
	local log=$1 what=$2 rc=0
	for _ in $(seq 600); do
		kill -0 "$DPID" 2>/dev/null || break
		sleep 0.1
	done
	kill -0 "$DPID" 2>/dev/null && { kill -KILL "$DPID"; fail "$what: the daemon did not exit"; }
	wait "$DPID" || rc=$?
	[ "$rc" -eq 0 ] || fail "$what: the daemon exited $rc: $(tail -n 30 "$log")"
	! grep -E "LeakSanitizer|AddressSanitizer|runtime error|definitely lost|Invalid (read|write)" "$log" ||
		fail "$what: sanitizer report above"
	! grep -q " $mnt " /proc/self/mounts || fail "$what: the mount is still there"
	note "$what: daemon exited 0, log clean"
}

# The real binary (libxipfs is linked in, no libtool wrapper): valgrind sees it.
XIPFS_REAL=$XIPFS
asan=
grep -q '^SAN_CFLAGS = .*-fsanitize=address' "$top_builddir/Makefile" && asan=1
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}

# 1. Parallel load, every answer checked.
start_daemon "$WORK/d1.log"
"$PY" "$TESTS/stress.py" verify "$mnt" "$src" 8 16 >"$WORK/s1.out" 2>&1 ||
	fail "parallel load: $(tail -n 20 "$WORK/s1.out")"
ops=$(sed -n 's/^ops \([0-9]*\) .*/\1/p' "$WORK/s1.out")
[ "${ops:-0}" -ge 2000 ] || fail "parallel load ran only ${ops:-0} operations"
note "parallel load: $(tail -n 1 "$WORK/s1.out") from 16 processes"
fusermount3 -u "$mnt" || fail "fusermount3 -u after the load"
stop_daemon "$WORK/d1.log" "unmount after load"

# 2. Readers racing unmounts.
for how in "fusermount3 -u -z" "umount -l" "umount"; do
	start_daemon "$WORK/d2.log"
	"$PY" "$TESTS/stress.py" race "$mnt" "$src" 4 8 >"$WORK/s2.out" 2>&1 &
	spid=$!
	sleep 1.5
	# A plain umount fails while files are open: then detach it lazily.
	$how "$mnt" 2>/dev/null || umount -l "$mnt" || fail "$how failed"
	wait "$spid" || fail "readers racing '$how': $(tail -n 20 "$WORK/s2.out")"
	note "readers racing '$how': $(tail -n 1 "$WORK/s2.out")"
	stop_daemon "$WORK/d2.log" "$how under load"
done

# 3. SIGTERM under load.
start_daemon "$WORK/d3.log"
"$PY" "$TESTS/stress.py" race "$mnt" "$src" 4 8 >"$WORK/s3.out" 2>&1 &
spid=$!
sleep 1.5
kill -TERM "$DPID"
wait "$spid" || fail "readers during SIGTERM: $(tail -n 20 "$WORK/s3.out")"
note "readers during SIGTERM: $(tail -n 1 "$WORK/s3.out")"
stop_daemon "$WORK/d3.log" "SIGTERM under load"

# 4. Leaks outside ASan: a bounded run under valgrind.
if [ -z "$asan" ]; then
	need_cmd valgrind valgrind
	start_daemon "$WORK/d4.log" valgrind -q --leak-check=full --show-leak-kinds=definite,indirect \
		--errors-for-leak-kinds=definite,indirect --error-exitcode=99
	"$PY" "$TESTS/stress.py" verify "$mnt" "$src" 5 4 >"$WORK/s4.out" 2>&1 ||
		fail "load under valgrind: $(tail -n 20 "$WORK/s4.out")"
	note "under valgrind: $(tail -n 1 "$WORK/s4.out")"
	fusermount3 -u "$mnt" || fail "fusermount3 -u under valgrind"
	stop_daemon "$WORK/d4.log" "valgrind run"
else
	note "ASan build: LeakSanitizer checked every daemon exit above"
fi
