#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# bench/mount.sh [DIR]: full-tree read (tar | cat, warm and cold) and a
# metadata walk (find -ls) on xipfs, squashfuse_ll over an uncompressed
# squashfs, in-kernel erofs (file-backed mount) and the source directory;
# then page-cache growth reading everything through 1 and 3 mounts.
# Target (issue 3): xipfs <= 1.0x squashfuse_ll on every row.
# "xipfs splice" is the daemon with the hidden -o read=splice (reads
# spliced from the segment fd) against the default writev from the mapping.
. "$(dirname "$0")/lib.sh"
src=${1:-/usr/lib/x86_64-linux-gnu}
for c in mkfs.erofs mksquashfs squashfuse_ll bc; do
	command -v $c >/dev/null || { echo "bench: needs $c (erofs-utils, squashfs-tools, squashfuse, bc)" >&2; exit 1; }
done
"$MKXIPFS" -q "$src" "$BW/x.img"
mksquashfs "$src" "$BW/s.img" -noI -noD -noF -noX -no-progress -quiet >/dev/null
mkfs.erofs --quiet "$BW/e.img" "$src"
mkdir -p "$BW/x" "$BW/p" "$BW/s" "$BW/e"
mnt() {
	case $1 in
	x) "$XIPFS" "$BW/x.img" "$BW/x$2" ;;
	p) "$XIPFS" "$BW/x.img" "$BW/p$2" -o read=splice ;;
	g) "$XIPFS" "seg:bench$$" "$BW/g$2" ;;
	s) squashfuse_ll "$BW/s.img" "$BW/s$2" ;;
	e) mount -t erofs -o ro "$BW/e.img" "$BW/e$2" ;;
	esac
}
umnt() { umount "$BW/$1$2"; }
for k in x p s e; do mnt $k ""; done
dir_of() { case $1 in src) echo "$src" ;; *) echo "$BW/$1" ;; esac; }
readall() { tar -C "$1" -cf - . | cat >/dev/null; }
walk() { find "$1" -ls >/dev/null; }
declare -A R
declare -a G
for k in x p s e src; do
	d=$(dir_of $k)
	readall "$d"
	R[$k,warm]=$(best ":" readall "$d")
	R[$k,cold]=$(best "drop_caches" readall "$d")
	R[$k,walkwarm]=$(best "walk $d" walk "$d")
	R[$k,walkcold]=$(best "drop_caches" walk "$d")
done
name() { case $1 in x) echo xipfs ;; p) echo "xipfs splice" ;; g) echo "xipfs seg:" ;; s) echo squashfuse_ll ;; e) echo erofs-kernel ;; src) echo source-dir ;; esac; }
echo "Reads of $src, best of $REPS (seconds; ratio to squashfuse_ll)"
printf '%-16s %12s %12s %12s %12s\n' "" "read warm" "read cold" "find warm" "find cold"
for k in x p s e src; do
	printf '%-16s' "$(name $k)"
	for r in warm cold walkwarm walkcold; do
		printf ' %6s (%4s)' "${R[$k,$r]}" "$(ratio "${R[$k,$r]}" "${R[s,$r]}")"
	done
	echo
done
printf 'target xipfs/squashfuse_ll <= 1.00:'
for r in warm cold walkwarm walkcold; do printf ' %s=%s' $r "$(ratio "${R[x,$r]}" "${R[s,$r]}")"; done
echo
for k in x p s e src; do for r in warm cold walkwarm walkcold; do echo "raw $(name $k) $r seconds=${R[$k,$r]}"; done; done

# Page cache: Cached in /proc/meminfo before and after reading every file
# through N mounts of the same image.  "xipfs" mounts the image file (each
# daemon copies it into a private memfd: counted here); "xipfs seg:" mounts
# one loaded segment, loaded before the measurement and so not counted.
# Without XIP every FUSE mount also has its own page cache.
cached() { awk '/^Cached:/ { print $2 }' /proc/meminfo; }
for k in x p s e; do umnt $k ""; done
echo
echo "Page cache growth reading the whole tree (MiB)"
printf '%-16s %10s %10s\n' "" "1 mount" "3 mounts"
"$XIPFSCTL" load "$BW/x.img" "bench$$"
trap '"$XIPFSCTL" unload --force "bench$$" 2>/dev/null; bench_cleanup' EXIT
for k in x g s e; do
	for n in 1 3; do
		drop_caches
		c0=$(cached)
		for i in $(seq $n); do mkdir -p "$BW/$k$i"; mnt $k $i; done
		for i in $(seq $n); do readall "$BW/$k$i"; done
		c1=$(cached)
		G[$n]=$(( (c1 - c0) / 1024 ))
		for i in $(seq $n); do umnt $k $i; done
	done
	printf '%-16s %10s %10s\n' "$(name $k)" "${G[1]}" "${G[3]}"
	echo "raw $(name $k) cache_mib_1=${G[1]} cache_mib_3=${G[3]}" >>"$BW/raw"
done
cat "$BW/raw"
