#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# bench/million.sh [INODES]: a huge generated tree (default 1,000,000 inodes,
# issue 5): build time, peak RSS and metadata size of mkxipfs, then the
# mounted tree walked (find -ls) and read in full (every file, checked
# against the source by one checksum of all contents in path order), with
# the daemon's memory afterwards; mkfs.erofs (in-kernel erofs) and
# mksquashfs + squashfuse_ll measured on the same tree in the same run.
# The tree lives on a tmpfs: 1000 directories of 990 small files (contents
# from 0 to 511 bytes, many repeated, so dedupe and tails matter), one
# directory of 10,000 entries, hardlinks, symlinks and a 100-deep chain.
. "$(dirname "$0")/lib.sh"
want=${1:-1000000}
for c in mkfs.erofs mksquashfs squashfuse_ll /usr/bin/time; do
	command -v $c >/dev/null || { echo "bench: needs $c (erofs-utils, squashfs-tools, squashfuse, time)" >&2; exit 1; }
done
t=$BW/tree
mkdir -p "$t"
mount -t tmpfs -o size=8g,nr_inodes=$((want * 2 + 100000)) tmpfs "$t"
/usr/bin/python3 - "$t" "$want" <<'PY'
import os, sys
root, want = sys.argv[1], int(sys.argv[2])
made = 1
big = os.path.join(root, "big")
os.mkdir(big); made += 1
for i in range(10000):
    with open(os.path.join(big, "entry%05d" % i), "w") as f:
        f.write("%d\n" % i)
made += 10000
d = root
for i in range(100):
    d = os.path.join(d, "deep%02d" % i)
    os.mkdir(d); made += 1
per = 990
ndirs = 0
while made < want:
    p = os.path.join(root, "d%04d" % ndirs)
    os.mkdir(p); made += 1
    n = min(per, want - made)
    for i in range(n):
        name = os.path.join(p, "f%03d" % i)
        if i % 97 == 1:
            os.link(os.path.join(p, "f000"), name)
        elif i % 89 == 2:
            os.symlink("f000", name)
        else:
            size = (i * 37 + ndirs) % 512 if i % 5 else 0
            with open(name, "wb") as f:
                f.write((b"%d:%d " % (ndirs % 13, i % 11)) * (size // 8) if size else b"")
    made += n
    ndirs += 1
print(made)
PY
inodes=$(df --output=iused "$t" | tail -n 1 | tr -d " ")
sum_tree() { (cd "$1" && find . -type f -print0 | sort -z | xargs -0 cat | sha256sum | cut -d' ' -f1); }
want_sum=$(sum_tree "$t")

# build NAME CMD...: time and peak RSS of building $BW/NAME.img.
declare -A B_T B_RSS B_SIZE W_LS W_READ D_RSS D_ANON
build() {
	local name=$1
	shift
	drop_caches
	/usr/bin/time -f "%e %M" -o "$BW/$name.time" "$@" >/dev/null 2>"$BW/$name.err" ||
		{ echo "bench: $name build failed: $(tail -n 5 "$BW/$name.err")" >&2; exit 1; }
	read -r B_T[$name] B_RSS[$name] <"$BW/$name.time"
	B_SIZE[$name]=$(stat -c %s "$BW/$name.img")
}
build mkxipfs "$MKXIPFS" -q "$t" "$BW/mkxipfs.img"
build erofs mkfs.erofs --quiet "$BW/erofs.img" "$t"
build squashfs mksquashfs "$t" "$BW/squashfs.img" -no-progress -quiet -processors 2

# walk NAME DIR [PID]: find -ls and a full read (checked) of a mounted tree.
walk() {
	local name=$1 dir=$2 pid=${3:-} t0 t1 got
	drop_caches
	t0=$(now); find "$dir" -ls >/dev/null; t1=$(now)
	W_LS[$name]=$(printf '%.2f' "$(echo "$t1 - $t0" | bc -l)")
	t0=$(now); got=$(sum_tree "$dir"); t1=$(now)
	W_READ[$name]=$(printf '%.2f' "$(echo "$t1 - $t0" | bc -l)")
	[ "$got" = "$want_sum" ] || { echo "bench: $name: contents differ from the tree" >&2; exit 1; }
	if [ -n "$pid" ]; then
		D_RSS[$name]=$(awk '/^VmRSS:/ { print $2 }' "/proc/$pid/status")
		D_ANON[$name]=$(awk '/^RssAnon:/ { print $2 }' "/proc/$pid/status")
	fi
}
mkdir -p "$BW/m1" "$BW/m2" "$BW/m3"
"$XIPFS" -f "$BW/mkxipfs.img" "$BW/m1" 2>"$BW/xipfs.log" &
xpid=$!
wait_mount "$BW/m1" "$xpid"
walk mkxipfs "$BW/m1" "$xpid"
fusermount3 -u "$BW/m1"; wait $xpid
mount -t erofs -o ro "$BW/erofs.img" "$BW/m2"
walk erofs "$BW/m2"
umount "$BW/m2"
squashfuse_ll -f "$BW/squashfs.img" "$BW/m3" 2>"$BW/sq.log" &
spid=$!
wait_mount "$BW/m3" "$spid"
walk squashfs "$BW/m3" "$spid"
fusermount3 -u "$BW/m3"; wait $spid

meta=$("$XIPFSCTL" info "$BW/mkxipfs.img" | sed -n 's/^metadata_bytes=//p')
mib() { echo "scale=1; $1 / 1048576" | bc | sed 's/^\./0./'; }
echo "Tree: $inodes inodes (tmpfs), $(du -s --apparent-size -B1 "$t" | cut -f1) bytes; load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "xipfs image metadata: $meta bytes ($(mib "$meta") MiB, $(echo "$meta / $inodes" | bc) bytes per inode)"
printf '%-10s %10s %10s %12s %10s %10s %12s %12s\n' tool "build s" "peak MiB" "image MiB" "find -ls s" "read s" "daemon RSS" "daemon anon"
for n in mkxipfs erofs squashfs; do
	printf '%-10s %10s %10s %12s %10s %10s %12s %12s\n' "$n" "${B_T[$n]}" "$(echo "${B_RSS[$n]} / 1024" | bc)" \
		"$(mib "${B_SIZE[$n]}")" "${W_LS[$n]}" "${W_READ[$n]}" \
		"${D_RSS[$n]:+$((D_RSS[$n] / 1024)) MiB}" "${D_ANON[$n]:+$((D_ANON[$n] / 1024)) MiB}"
done
echo "(erofs is mounted by the kernel: no daemon; squashfs is served by squashfuse_ll)"
echo "mkxipfs / erofs build time: $(ratio "${B_T[mkxipfs]}" "${B_T[erofs]}"), image: $(ratio "${B_SIZE[mkxipfs]}" "${B_SIZE[erofs]}");" \
	"xipfs / squashfuse_ll: find $(ratio "${W_LS[mkxipfs]}" "${W_LS[squashfs]}"), read $(ratio "${W_READ[mkxipfs]}" "${W_READ[squashfs]}")," \
	"daemon RSS $(ratio "${D_RSS[mkxipfs]}" "${D_RSS[squashfs]}")"
for n in mkxipfs erofs squashfs; do
	echo "raw $n build_s=${B_T[$n]} peak_kb=${B_RSS[$n]} image_bytes=${B_SIZE[$n]} find_s=${W_LS[$n]} read_s=${W_READ[$n]} rss_kb=${D_RSS[$n]:-} anon_kb=${D_ANON[$n]:-}"
done
echo "raw inodes=$inodes metadata_bytes=$meta"
