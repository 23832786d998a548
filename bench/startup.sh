#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# python3 start plus 9 stdlib imports, with the stdlib on each mount
# (Debian's /usr/bin/python3, PYTHONHOME pointing into the mount), on the
# host: tmpfs, xipfs (one thread, its default, and -o mt), in-kernel erofs and
# squashfuse_ll: wall time, and CPU time (python's and the daemon's), which
# a loaded machine disturbs less.  Then the FUSE requests of one cold and
# one warm start by type with the daemon's CPU time per request (-o stats),
# and the round trip of requests the kernel cannot cache.
# bench/startup-guest.sh does the same inside a guest, with XIP.
#
#   make bench-startup                 # ROUNDS=7 RUNS=5 by default
#   PIN=1 make bench-startup           # on CPU 1 only, SCHED_FIFO
#   XIPFS_OTHERS="base=/path/to/xipfs pt317=/path/to/xipfs:-o,mt" make bench-startup
#
# XIPFS_OTHERS adds daemons from other builds (an older commit, the
# libfuse 3.17 passthrough build) to the same interleaved rounds, each
# NAME=DAEMON[:ARG,ARG...] with the arguments it is started with.
# PIN=CPU runs everything on that CPU under SCHED_FIFO instead (see below).
if [ -n "${PIN:-}" ] && [ -z "${STARTUP_PINNED:-}" ]; then
	STARTUP_PINNED=1 exec taskset -c "$PIN" chrt -f 1 bash "$0" "$@"
fi
. "$(dirname "$0")/lib.sh"
ROUNDS=${ROUNDS:-7}
RUNS=${RUNS:-5}
PY=/usr/bin/python3
STDLIB=/usr/lib/python3.11
DRIVER=$(dirname "$0")/startup.py
# The machine is shared: give the runs (python and the daemons, which
# inherit it) the first claim on the CPUs, so that other work adds less noise.
# Under PIN=CPU every FUSE round trip is a switch on one CPU: the cost of
# the work itself, where the default also counts the wake-ups of a daemon
# on the other CPU, which a loaded machine makes slow.
renice -n -20 $$ >/dev/null
[ -x "$PY" ] && [ -d "$STDLIB" ] || { echo "bench: needs Debian's $PY and $STDLIB" >&2; exit 1; }

mkdir -p "$BW/tree/usr/lib"
cp -a "$STDLIB" "$BW/tree/usr/lib/"
"$MKXIPFS" -q "$BW/tree" "$BW/py.xipfs"
mkdir -p "$BW/tmpfs"
mount -t tmpfs -o size=256m tmpfs "$BW/tmpfs"
cp -a "$BW/tree/usr" "$BW/tmpfs/"
variants=("tmpfs=$BW/tmpfs/usr")

mount_xipfs() {		# NAME DAEMON [OPTIONS...]
	local name=$1 daemon=$2
	shift 2
	mkdir -p "$BW/$name"
	"$daemon" "$@" "$BW/py.xipfs" "$BW/$name"
	variants+=("$name=$BW/$name/usr@$(pgrep -n -f "$BW/py.xipfs $BW/$name\$")")
}
mount_xipfs xipfs "$XIPFS"
mount_xipfs xipfs-mt "$XIPFS" -o mt
for o in ${XIPFS_OTHERS:-}; do
	d=${o#*=}
	extra=()
	case $d in *:*) IFS=, read -r -a extra <<<"${d#*:}" ;; esac
	mount_xipfs "${o%%=*}" "${d%%:*}" "${extra[@]}"
done
if command -v mkfs.erofs >/dev/null; then
	mkfs.erofs --quiet --preserve-mtime "$BW/py.erofs" "$BW/tree" >/dev/null
	mkdir -p "$BW/erofs"
	if mount -t erofs -o ro "$BW/py.erofs" "$BW/erofs" 2>/dev/null; then
		variants+=("erofs=$BW/erofs/usr")
	fi
fi
if command -v squashfuse_ll >/dev/null && command -v mksquashfs >/dev/null; then
	mksquashfs "$BW/tree" "$BW/py.sqfs" -quiet -noappend >/dev/null
	mkdir -p "$BW/squashfuse_ll"
	squashfuse_ll "$BW/py.sqfs" "$BW/squashfuse_ll"
	variants+=("squashfuse_ll=$BW/squashfuse_ll/usr@$(pgrep -n -f "$BW/py.sqfs $BW/squashfuse_ll\$")")
fi

echo "== python3 start + 9 imports, $ROUNDS rounds of $RUNS interleaved sweeps;" \
	"${PIN:+on CPU $PIN, SCHED_FIFO; }load $(cut -d' ' -f1-3 /proc/loadavg)"
python3 "$DRIVER" "$ROUNDS" "$RUNS" "${variants[@]}"

echo
echo "== FUSE requests of one python start, by type (xipfs -o stats)"
mkdir -p "$BW/count"
"$XIPFS" -f -o stats "$BW/py.xipfs" "$BW/count" 2>"$BW/count.log" &
pid=$!
wait_mount "$BW/count" "$pid"
"$PY" "$DRIVER" requests "$BW/count/usr" "$pid" "$BW/count.log"
fusermount3 -u "$BW/count"
wait "$pid" || true

echo
echo "== per-call cost, $PY"
lat=()
for v in "${variants[@]}"; do
	v=${v%@*}
	lat+=("${v%%=*}=${v#*=}/..")
done
"$PY" "$DRIVER" latency "$ROUNDS" "${lat[@]}"
