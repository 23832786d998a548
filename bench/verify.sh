#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# bench/verify.sh: what the Merkle tree costs.  For images of growing size
# (random files, so no dedupe), best of $REPS, variants interleaved:
#   build:  mkxipfs with the tree (default) against --no-merkle
#   load:   xipfsctl load, load --verify, load --digest (the copy verified)
#   verify: xipfsctl verify of the loaded segment (pages in memory)
# Needs root (segments in /dev/shm).  SIZES in MiB, default "16 128 512".
. "$(dirname "$0")/lib.sh"
SIZES=${SIZES:-16 128 512}
seg=xipfs-bench-verify-$$
trap '"$XIPFSCTL" unload --force "$seg" 2>/dev/null; bench_cleanup' EXIT
printf '%-8s %10s %9s %9s %9s %9s %9s %9s %9s %8s %9s\n' MiB image_MiB tree_KiB \
	build build_nm load load_ver load_dig verify load_ratio verify_MB/s
for mib in $SIZES; do
	src=$BW/src-$mib
	mkdir -p "$src"
	for i in $(seq 0 $((mib / 4 - 1))); do
		head -c $((4 << 20)) /dev/urandom >"$src/f$i"
	done
	"$MKXIPFS" -q "$src" "$BW/img"
	digest=$("$XIPFSCTL" info "$BW/img" | sed -n 's/^digest=//p')
	isize=$(stat -c %s "$BW/img")
	tsize=$("$XIPFSCTL" info "$BW/img" | sed -n 's/^merkle_size=//p')
	b=""; bn=""; l=""; lv=""; ld=""; v=""
	for _ in $(seq "$REPS"); do
		b=$(printf '%s\n%s\n' "$b" "$(REPS=1 best : "$MKXIPFS" -q "$src" "$BW/img2")")
		bn=$(printf '%s\n%s\n' "$bn" "$(REPS=1 best : "$MKXIPFS" -q --no-merkle "$src" "$BW/img2")")
		l=$(printf '%s\n%s\n' "$l" "$(REPS=1 best : "$XIPFSCTL" load "$BW/img" "$seg")")
		lv=$(printf '%s\n%s\n' "$lv" "$(REPS=1 best : "$XIPFSCTL" load --verify "$BW/img" "$seg")")
		ld=$(printf '%s\n%s\n' "$ld" "$(REPS=1 best : "$XIPFSCTL" load --digest "$digest" "$BW/img" "$seg")")
		v=$(printf '%s\n%s\n' "$v" "$(REPS=1 best : "$XIPFSCTL" verify -q "seg:$seg")")
	done
	min() { echo "$1" | sed '/^$/d' | sort -n | head -1; }
	b=$(min "$b"); bn=$(min "$bn"); l=$(min "$l"); lv=$(min "$lv"); ld=$(min "$ld"); v=$(min "$v")
	printf '%-8s %10.1f %9d %9s %9s %9s %9s %9s %9s %8s %9.0f\n' "$mib" \
		"$(echo "$isize / 1048576" | bc -l)" $((tsize / 1024)) "$b" "$bn" "$l" "$lv" "$ld" "$v" \
		"$(ratio "$ld" "$l")" "$(echo "$isize / 1000000 / $v" | bc -l)"
	rm -rf "$src" "$BW/img" "$BW/img2"
	"$XIPFSCTL" unload --force "$seg"
done
echo "(times in seconds, best of $REPS; load_ratio = load --digest / load; other work was running on this machine)"
