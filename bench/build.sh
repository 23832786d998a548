#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# bench/build.sh [DIR]: image size and build time of mkxipfs against
# mkfs.erofs (plain and --chunksize=4096 dedupe) and mksquashfs without
# compression, on DIR (default /usr/lib/x86_64-linux-gnu), warm cache;
# then cold-cache builds (caches dropped before each run) of mkxipfs reading
# its input through io_uring (the default) and through read(2) (--io=read),
# against mkfs.erofs plain.
# Targets (issue 2): size <= erofs-chunk; time <= 0.5x erofs-chunk and
# <= 1.2x erofs plain.
. "$(dirname "$0")/lib.sh"
src=${1:-/usr/lib/x86_64-linux-gnu}
for c in mkfs.erofs mksquashfs bc; do
	command -v $c >/dev/null || { echo "bench: needs $c (erofs-utils, squashfs-tools, bc)" >&2; exit 1; }
done
tar -C "$src" -cf - . | cat >/dev/null		# warm the cache for everyone
declare -A T S
run() {
	local name=$1 img=$BW/$1.img
	shift
	T[$name]=$(best "rm -f $img" "$@" "$img")
	S[$name]=$(stat -c %s "$img")
	rm -f "$img"
}
mk_xipfs() { "$MKXIPFS" -q "$src" "$1"; }
mk_erofs() { mkfs.erofs --quiet "$1" "$src"; }
mk_erofs_chunk() { mkfs.erofs --quiet --chunksize=4096 "$1" "$src"; }
mk_squash() { mksquashfs "$src" "$1" -noI -noD -noF -noX -no-progress -quiet -no-xattrs -processors 2; }
run mkxipfs mk_xipfs
run erofs mk_erofs
run erofs-chunk mk_erofs_chunk
run squashfs mk_squash
echo "Build of $src ($(du -sb "$src" | cut -f1) bytes), best of $REPS, warm cache"
printf '%-14s %14s %10s %12s %10s\n' tool "image bytes" "size/xip" "seconds" "time/xip"
for n in mkxipfs erofs erofs-chunk squashfs; do
	printf '%-14s %14s %10s %12s %10s\n' "$n" "${S[$n]}" "$(ratio "${S[$n]}" "${S[mkxipfs]}")" \
		"${T[$n]}" "$(ratio "${T[$n]}" "${T[mkxipfs]}")"
done
echo
echo "targets: size mkxipfs/erofs-chunk = $(ratio "${S[mkxipfs]}" "${S[erofs-chunk]}") (<= 1.00)," \
     "time mkxipfs/erofs-chunk = $(ratio "${T[mkxipfs]}" "${T[erofs-chunk]}") (<= 0.50)," \
     "time mkxipfs/erofs = $(ratio "${T[mkxipfs]}" "${T[erofs]}") (<= 1.20)"
for n in mkxipfs erofs erofs-chunk squashfs; do echo "raw $n bytes=${S[$n]} seconds=${T[$n]}"; done

# Cold cache: what the input reads cost.
cold() {
	local name=$1 img=$BW/$1.img
	shift
	T[$name]=$(best "rm -f $img; drop_caches" "$@" "$img")
	rm -f "$img"
}
mk_xipfs_read() { "$MKXIPFS" -q --io=read "$src" "$1"; }
cold cold-uring mk_xipfs
cold cold-read mk_xipfs_read
cold cold-erofs mk_erofs
echo
echo "Cold cache (caches dropped before each run), best of $REPS"
printf '%-22s %10s %12s\n' tool seconds "time/uring"
printf '%-22s %10s %12s\n' "mkxipfs --io=uring" "${T[cold-uring]}" 1.00
printf '%-22s %10s %12s\n' "mkxipfs --io=read" "${T[cold-read]}" "$(ratio "${T[cold-read]}" "${T[cold-uring]}")"
printf '%-22s %10s %12s\n' "mkfs.erofs" "${T[cold-erofs]}" "$(ratio "${T[cold-erofs]}" "${T[cold-uring]}")"
echo "io_uring / read(2), cold: $(ratio "${T[cold-uring]}" "${T[cold-read]}")"
for n in cold-uring cold-read cold-erofs; do echo "raw $n seconds=${T[$n]}"; done
