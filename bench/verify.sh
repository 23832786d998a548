#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# bench/verify.sh: what the Merkle tree costs.  For images of growing size
# (random files, so no dedupe), best of $REPS, variants interleaved, wall
# seconds and CPU seconds (user + system) of:
#   build:  mkxipfs with the tree (default) against --no-merkle
#   load:   xipfsctl load, load --verify, load --digest (the copy verified)
#   verify: xipfsctl verify of the loaded segment (pages in memory)
# Every command must succeed.  Needs root (segments in /dev/shm).  SIZES in
# MiB, default "16 128 512".
. "$(dirname "$0")/lib.sh"
SIZES=${SIZES:-16 128 512}
seg=xipfs-bench-verify-$$
trap '"$XIPFSCTL" unload --force "$seg" 2>/dev/null; bench_cleanup' EXIT
declare -A wall cpu
# timed KEY CMD...: keep the best wall and CPU seconds of CMD under KEY.
timed() {
	local key=$1 w u s
	shift
	/usr/bin/time -o "$BW/time" -f '%e %U %S' "$@" >/dev/null 2>"$BW/err" ||
		{ echo "bench: $* failed: $(cat "$BW/err")" >&2; exit 1; }
	read -r w u s <"$BW/time"
	u=$(echo "$u + $s" | bc -l)
	if [ -z "${wall[$key]:-}" ] || [ "$(echo "$w < ${wall[$key]}" | bc -l)" = 1 ]; then wall[$key]=$w; fi
	if [ -z "${cpu[$key]:-}" ] || [ "$(echo "$u < ${cpu[$key]}" | bc -l)" = 1 ]; then cpu[$key]=$u; fi
}
printf '%-5s %9s %8s %13s %13s %13s %13s %13s %13s %7s\n' MiB image_MiB tree_KiB \
	build build_nomerkle load load_verify load_digest verify dig/load
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
	wall=(); cpu=()
	for _ in $(seq "$REPS"); do
		timed b "$MKXIPFS" -q "$src" "$BW/img2"
		timed bn "$MKXIPFS" -q --no-merkle "$src" "$BW/img2"
		timed l "$XIPFSCTL" load "$BW/img" "$seg"
		timed lv "$XIPFSCTL" load --verify "$BW/img" "$seg"
		timed ld "$XIPFSCTL" load --digest "$digest" "$BW/img" "$seg"
		timed v "$XIPFSCTL" verify -q --digest "$digest" "seg:$seg"
	done
	cell() { printf '%s/%s' "${wall[$1]}" "${cpu[$1]}"; }
	printf '%-5s %9.1f %8d %13s %13s %13s %13s %13s %13s %7s\n' "$mib" \
		"$(echo "$isize / 1048576" | bc -l)" $((tsize / 1024)) "$(cell b)" "$(cell bn)" \
		"$(cell l)" "$(cell lv)" "$(cell ld)" "$(cell v)" "$(ratio "${wall[ld]}" "${wall[l]}")"
	rm -rf "$src" "$BW/img" "$BW/img2"
	"$XIPFSCTL" unload --force "$seg"
done
echo "(wall/CPU seconds, best of $REPS; dig/load: wall of load --digest / load; other work was running on this machine)"
