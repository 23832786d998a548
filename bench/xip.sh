#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# bench/xip.sh: first-touch page fault cost of XIP mappings inside a guest
# (issue 9, goal 1).  One QEMU guest (TCG) maps shared libraries
# MAP_PRIVATE and reads one byte per page (tests/vm/xip-probe touch), the
# same files from six places, in rotating order, round after round:
#   tmpfs        copies on the guest's tmpfs (the page cache: the reference)
#   xip-memfd    xipfs -o xip=on on a segment loaded in the guest
#                (xipfsctl load: a tmpfs file, pages with struct page)
#   xip-ivshmem  xipfs -o xip=on on the host's segment as an ivshmem BAR
#                (no struct pages)
#   xip=off      xipfs -o xip=off on the same BAR (FUSE reads, page cache)
#   erofs-dax    in-kernel EROFS, mkfs.erofs -Enoinline_data, on a
#                virtio-pmem device backed by a shared host file, mounted
#                -o dax=always (the in-kernel way to share host pages)
# A first round warms up (page caches, QEMU's translation cache) and is not
# counted.  Printed: best and median of the rounds, in microseconds, per
# file and variant; the ratio to tmpfs; minor faults per run.  Every
# variant must read the same bytes (a sum per file), and after the rounds
# the guest checks that pages XIP mapped by fault-around (not touched) are
# the segment's own frames ("frames:" lines).
#
# Usage (root): top_builddir=BUILD top_srcdir=SRC bench/xip.sh
#   BUILD must be configured against libfuse >= 3.17 (XIP).
#   XIP_BENCH_ROUNDS=9   counted rounds
#   XIP_BENCH_FILES="..." host files to measure (default: libc, libstdc++,
#                        libcrypto, libsqlite3)
#   XIP_BENCH_MODE=plain touch mode: plain, random, sequential, populate,
#                        sparse (one page in 32)
#   XIP_BENCH_VARIANTS="tmpfs xip-memfd xip-ivshmem xip=off erofs-dax"
#   XIP_BENCH_KO=PATH    an xipmap.ko to measure instead of this build's
#   XIP_BENCH_MODPARAMS="fault_around=16"  xipmap.ko parameters (insmod)
# Other work on the machine makes TCG timings noisy: compare the ratios of
# one run, not absolute times across runs.
set -u
: "${top_srcdir:=$(cd "$(dirname "$0")/.." && pwd)}"
: "${top_builddir:?set top_builddir to a build configured against libfuse >= 3.17}"
export top_srcdir top_builddir
. "$top_srcdir/tests/vm/xip-lib.sh"
[ "$(id -u)" -eq 0 ] || vm_skip "bench/xip.sh needs root"
command -v mkfs.erofs >/dev/null || vm_skip "mkfs.erofs not found (contrib/install-deps.sh)"
xip_programs
XIPMAP_KO=${XIP_BENCH_KO:-$XIPMAP_KO}
MKXIPFS=$top_builddir/src/mkxipfs/mkxipfs

rounds=${XIP_BENCH_ROUNDS:-9}
mode=${XIP_BENCH_MODE:-plain}
lib=/usr/lib/x86_64-linux-gnu
files=${XIP_BENCH_FILES:-$lib/libc.so.6 $lib/libstdc++.so.6 $lib/libcrypto.so.3 $lib/libsqlite3.so.0}
variants=${XIP_BENCH_VARIANTS:-tmpfs xip-memfd xip-ivshmem xip=off erofs-dax}

BW=$(mktemp -d "$top_builddir/bench-xip.XXXXXX") || exit 99
PMEM=$(mktemp /dev/shm/xipfs-bench-pmem.XXXXXX) || exit 99
trap 'rm -rf "$BW" "$PMEM"' EXIT

# The tree: the files under their host paths; an xipfs image of it, the
# same padded to a power of two (the ivshmem segment); an EROFS image
# without inline tails (they would turn DAX off), padded to 2 MiB.
for f in $files; do
	mkdir -p "$BW/tree$(dirname "$f")" && cp -L "$f" "$BW/tree$f" || exit 99
done
"$MKXIPFS" -q "$BW/tree" "$BW/img" || exit 99
cp "$BW/img" "$BW/seg" && truncate -s "$(vm_pow2 "$(stat -c %s "$BW/img")")" "$BW/seg" || exit 99
seg_size=$(stat -c %s "$BW/seg")
[ "$seg_size" -ge 1048576 ] || truncate -s 1048576 "$BW/seg"
mkfs.erofs --quiet -Enoinline_data "$BW/erofs" "$BW/tree" >/dev/null || exit 99
vm_pmem_file "$BW/erofs" "$PMEM" || exit 99
uuid=$("$XIPFSCTL" info "$BW/img" | sed -n 's/^uuid=//p')
[ -n "$uuid" ] || exit 99

# The guest kernel's own modules for virtio-pmem and erofs (modprobe -d).
vm_modules

# Where each variant's copy of the files lives in the guest.
vdir() {
	case $1 in
	tmpfs) echo /tmp/v/tmpfs ;;
	xip-memfd) echo /tmp/v/memfd ;;
	xip-ivshmem) echo /tmp/v/ivshmem ;;
	xip=off) echo /tmp/v/off ;;
	erofs-dax) echo /tmp/v/erofs ;;
	*) echo "bench/xip.sh: unknown variant $1" >&2; exit 2 ;;
	esac
}

{
	echo 'PATH=/usr/sbin:/usr/bin:/sbin:/bin'
	xip_guest_lib
	echo "insmod $XIPMAP_KO ${XIP_BENCH_MODPARAMS:-} || exit 1"
	echo 'echo "xipmap: fault_around=$(cat /sys/module/xipmap/parameters/fault_around)"'
	for v in $variants; do
		d=$(vdir "$v")
		case $v in
		tmpfs)
			echo "mkdir -p $d && cp -a $BW/tree/. $d/ || exit 1" ;;
		xip-memfd)
			echo "$XIPFSCTL load $BW/img bench || exit 1"
			xip_mount_cmd memfd "$d" xip=on seg:bench ;;
		xip-ivshmem)
			xip_mount_cmd ivshmem "$d" xip=on "ivshmem:$uuid" ;;
		xip=off)
			xip_mount_cmd off "$d" xip=off "ivshmem:$uuid" ;;
		erofs-dax)
			vm_erofs_dax_cmd "$d" ;;
		esac
	done
	# Rounds: round 0 warms up; the order rotates so that no variant
	# always runs first or last.
	echo "set -- $variants"
	cat <<EOF
n=\$#
r=0
while [ \$r -le $rounds ]; do
	k=0
	while [ \$k -lt \$n ]; do
		i=\$(( (r + k) % n + 1 ))
		eval v=\\\${\$i}
		case \$v in
$(for v in $variants; do printf '\t\t%s) d=%s ;;\n' "$v" "$(vdir "$v")"; done)
		esac
		set -f
		paths=
		for f in $files; do paths="\$paths \$d\$f"; done
		$XIP_PROBE touch $mode \$paths | sed "s|^\$d|R\$r \$v |" || fail=1
		set +f
		k=\$((k + 1))
	done
	r=\$((r + 1))
done >touch.out
EOF
	# Fault-around must map the segment's own frames: pages next to a
	# touched one, never touched themselves.
	first=${files%% *}
	for v in $variants; do
		d=$(vdir "$v")
		case $v in
		xip-ivshmem) echo "around_ck $v $d$first $BW/img $first \$(ivshmem_dev)" ;;
		xip-memfd) echo "around_ck $v $d$first $BW/img $first /dev/shm/xipfs.bench" ;;
		esac
	done
	echo 'exit $fail'
} >"$BW/guest.sh"

pmem_args=(--qemu-arg "$(vm_pmem_qemu "$PMEM")")
case " $variants " in
*" erofs-dax "*) mem=1024M,slots=2,maxmem=4G ;;
*) mem=768M; pmem_args=() ;;
esac
echo "bench/xip.sh: $rounds rounds (+1 warm-up), mode $mode; load $(cut -d' ' -f1-3 /proc/loadavg)"
vm_boot --name bench-xip --mem "$mem" --timeout "${XIP_BENCH_TIMEOUT:-1800}" --work "$BW" \
	--ivshmem "$BW/seg" "${pmem_args[@]}" -- ". ./guest.sh" >"$BW/out" 2>&1
rc=$?
grep -E '^(ok|FAIL|frames|xipmap):' "$BW/out"
if [ $rc != 0 ]; then
	echo "bench/xip.sh: the guest failed (status $rc); log $VM_LOG:" >&2
	tail -n 40 "$BW/out" >&2
	[ -s "$BW/touch.out" ] || exit 1
fi

# touch.out: "R<round> VARIANT PATH PAGES NS MINFLT SUM".  The table: per
# file, per variant, best/median microseconds, the ratios to tmpfs and
# the median minor faults.
awk -v variants="$variants" -v rounds="$rounds" '
function median(list,    a, n, i, j, t) {
	n = split(list, a, " ")
	for (i = 2; i <= n; i++)
		for (j = i; j > 1 && a[j - 1] + 0 > a[j] + 0; j--) { t = a[j]; a[j] = a[j - 1]; a[j - 1] = t }
	return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
}
function best(list,    a, n, i, b) {
	n = split(list, a, " ")
	b = a[1]
	for (i = 2; i <= n; i++) if (a[i] + 0 < b + 0) b = a[i]
	return b
}
$1 != "R0" {
	f = $3; sub(".*/", "", f)
	if (!(f in pages)) { order[++nf] = f }
	pages[f] = $4
	ns[f, $2] = ns[f, $2] " " $5
	flt[f, $2] = flt[f, $2] " " $6
	sums[f, $2] = sums[f, $2] " " $7
}
END {
	nv = split(variants, v, " ")
	# Every variant, every round, must read the bytes the first one read.
	for (k = 1; k <= nf; k++)
		for (i = 1; i <= nv; i++) {
			split(sums[order[k], v[1]], ref, " ")
			n = split(sums[order[k], v[i]], got, " ")
			for (j = 1; j <= n; j++)
				if (got[j] != ref[1]) { bad = bad " " order[k] "(" v[i] ")"; break }
		}
	printf "%-18s %6s", "file (us)", "pages"
	for (i = 1; i <= nv; i++) printf " %15s", v[i]
	printf "\n"
	for (k = 1; k <= nf; k++) {
		f = order[k]
		printf "%-18s %6d", f, pages[f]
		for (i = 1; i <= nv; i++) {
			b[i] = best(ns[f, v[i]]) / 1000; m[i] = median(ns[f, v[i]]) / 1000
			printf " %15s", sprintf("%.0f/%.0f", b[i], m[i])
		}
		printf "\n"
		bt[k] = b[1]; mt[k] = m[1]
		for (i = 1; i <= nv; i++) { B[k, i] = b[i]; M[k, i] = m[i] }
	}
	printf "\n%-18s %6s", "ratio to " v[1], ""
	for (i = 1; i <= nv; i++) printf " %15s", v[i]
	printf "\n"
	for (k = 1; k <= nf; k++) {
		printf "%-18s %6s", order[k], ""
		for (i = 1; i <= nv; i++)
			printf " %15s", sprintf("%.2f/%.2f", B[k, i] / bt[k], M[k, i] / mt[k])
		printf "\n"
	}
	printf "\n%-18s %6s", "minor faults", ""
	for (i = 1; i <= nv; i++) printf " %15s", v[i]
	printf "\n"
	for (k = 1; k <= nf; k++) {
		printf "%-18s %6s", order[k], ""
		for (i = 1; i <= nv; i++) printf " %15s", median(flt[order[k], v[i]])
		printf "\n"
	}
	printf "\nbest/median of %d rounds; ratio: best/best and median/median against %s\n", rounds, v[1]
	if (bad != "") { printf "FAIL: variants read different bytes:%s\n", bad; exit 1 }
}' "$BW/touch.out" || rc=1
exit $rc
