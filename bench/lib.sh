# SPDX-License-Identifier: GPL-2.0-or-later
# Shared benchmark helpers (sourced).  Timings are best of $REPS runs, all
# measured in the same invocation, so ratios compare like with like on a
# shared, noisy machine.
set -euo pipefail
: "${top_builddir:=$(cd "$(dirname "$0")/.." && pwd)}"
REPS=${REPS:-3}
MKXIPFS=$top_builddir/src/mkxipfs/mkxipfs
XIPFSCTL=$top_builddir/src/xipfsctl/xipfsctl
XIPFS=$top_builddir/src/xipfs/xipfs
for p in "$MKXIPFS" "$XIPFSCTL" "$XIPFS"; do
	[ -x "$p" ] || { echo "bench: build xipfs first ($p missing; set top_builddir)" >&2; exit 1; }
done
[ "$(id -u)" -eq 0 ] || { echo "bench: needs root (mounts, drop_caches)" >&2; exit 1; }
BW=$(mktemp -d "${TMPDIR:-/var/tmp}/xipfs-bench.XXXXXX")
bench_cleanup() {
	local m
	for m in $(awk -v w="$BW" 'index($2, w) == 1 { print $2 }' /proc/self/mounts | sort -r); do
		umount "$m" 2>/dev/null || fusermount3 -u "$m" 2>/dev/null || umount -l "$m" || true
	done
	rm -rf "$BW"
}
trap bench_cleanup EXIT

now() { date +%s.%N; }
drop_caches() { sync; echo 3 >/proc/sys/vm/drop_caches; }
# best SETUP CMD...: best wall time of $REPS runs of CMD; SETUP runs before each.
best() {
	local setup=$1 b="" t0 t1 t
	shift
	for _ in $(seq "$REPS"); do
		eval "$setup"
		t0=$(now); "$@" >/dev/null 2>&1; t1=$(now)
		t=$(echo "$t1 - $t0" | bc -l)
		if [ -z "$b" ] || [ "$(echo "$t < $b" | bc -l)" = 1 ]; then b=$t; fi
	done
	printf '%.3f' "$b"
}
ratio() { echo "scale=2; $1 / $2" | bc -l | sed 's/^\./0./'; }
# wait_mount DIR PID: until DIR is a mount point, or fail if the daemon PID
# that should mount it ends first, or after a minute.
wait_mount() {
	local dir=$1 pid=$2
	for _ in $(seq 600); do
		mountpoint -q "$dir" && return 0
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	echo "bench: $dir was not mounted (daemon $pid)" >&2
	exit 1
}
