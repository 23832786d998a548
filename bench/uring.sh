#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# bench/uring.sh [DIR]: should mkxipfs read its input through io_uring?
# Reads every file of DIR (default /usr/lib/x86_64-linux-gnu) with cold
# caches, once with read(2) in mkxipfs's order, once with liburing keeping
# 16 reads in flight; best of $REPS each.  Needs root (drop_caches).
set -euo pipefail
src=${1:-/usr/lib/x86_64-linux-gnu}
REPS=${REPS:-3}
[ "$(id -u)" -eq 0 ] || { echo "bench: needs root (drop_caches)" >&2; exit 1; }
w=$(mktemp -d)
trap 'rm -rf "$w"' EXIT
cc -O2 -o "$w/uring-read" "$(dirname "$0")/uring-read.c" $(pkg-config --cflags --libs liburing)
declare -A best
for mode in read uring; do
	for _ in $(seq "$REPS"); do
		sync; echo 3 >/proc/sys/vm/drop_caches
		out=$("$w/uring-read" $mode "$src")
		echo "raw $out"
		t=${out##*seconds=}
		if [ -z "${best[$mode]:-}" ] || [ "$(echo "$t < ${best[$mode]}" | bc -l)" = 1 ]; then
			best[$mode]=$t
		fi
	done
done
echo "cold-cache read of $src, best of $REPS: read(2) ${best[read]} s, io_uring QD16 ${best[uring]} s," \
     "uring/read = $(echo "scale=2; ${best[uring]} / ${best[read]}" | bc -l | sed 's/^\./0./')"
