#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# bench/fleet.sh: memory of a fleet of guests sharing one tree (issue 4,
# acceptance 7).  Three QEMU guests (TCG) boot at once and each reads the
# whole tree twice (read(2) of every file, then every file mapped and read
# through the mapping), in three variants measured in the same run:
#   xipfs      one host segment (/dev/shm, xipfsctl load) given to every
#              guest as an ivshmem-plain device, mounted with -o xip=on
#   erofs      every guest its own virtio-blk erofs image (mkfs.erofs),
#              in-kernel erofs in the guest
#   squashfs   the same with a mksquashfs image (default compression)
# Disks use cache=none, so the host page cache holds no copy; what a guest
# caches lives in its RAM, i.e. in its QEMU process.
# Measured: each guest's page-cache growth (/proc/meminfo Cached in the
# guest), and on the host the growth of the three QEMU processes' PSS
# (/proc/PID/smaps_rollup, split into anon and shmem) between "booted and
# mounted" and "read everything", plus the segment's own size.
# The tree is the XIP guest tests' (tests/vm/xip-lib.sh: python3.11 with
# its stdlib and the libraries it loads, ~75 MB).
#
#
# With FLEET_POOL=1 (make bench-fleet-pool), a mixed fleet (issue 10): guest
# i runs image i of three overlapping trees (T1 the tree above, T2 the same
# with 5% of its files changed, T3 its libraries with perl-base: a different
# tree sharing libc), in the variants
#   pool       one pool segment holding all three images (xipfsctl create,
#              add), shared over ivshmem, guest i mounts ivshmem/tI xip=on
#   erofs-dax  per image an erofs file (-Enoinline_data --chunksize=4096) in
#              /dev/shm given to its guests as virtio-pmem, mounted
#              dax=always: the strongest in-kernel peer (host pages shared,
#              no guest page cache), one device per image
#   erofs      per guest its image on virtio-blk (cache=none)
# and the table adds the host memory that holds the images: the pool's
# pages (the union's distinct pages, once) against the sum of the images.
#
# Usage (root): top_builddir=BUILD top_srcdir=SRC bench/fleet.sh
#   BUILD must be configured against libfuse >= 3.17 (XIP);
#   FLEET_VARIANTS="xipfs erofs squashfs" picks variants; FLEET_GUESTS=3;
#   FLEET_POOL=1 the mixed fleet (variants "pool erofs-dax erofs").
set -u
: "${top_srcdir:=$(cd "$(dirname "$0")/.." && pwd)}"
: "${top_builddir:?set top_builddir to a build configured against libfuse >= 3.17}"
export top_srcdir top_builddir
[ "$(id -u)" -eq 0 ] || { echo "fleet.sh: needs root" >&2; exit 1; }
. "$top_srcdir/tests/vm/xip-lib.sh"
xip_prepare
command -v mkfs.erofs >/dev/null && command -v mksquashfs >/dev/null || {
	echo "fleet.sh: needs mkfs.erofs and mksquashfs (contrib/install-deps.sh)" >&2
	exit 1
}
mixed=${FLEET_POOL:-0}
if [ "$mixed" = 1 ]; then
	variants=${FLEET_VARIANTS:-pool erofs-dax erofs}
else
	variants=${FLEET_VARIANTS:-xipfs erofs squashfs}
fi
guests=${FLEET_GUESTS:-3}
mem=${FLEET_GUEST_MEM:-768M}
seg=fleetbench$$
BW=$(mktemp -d "$top_builddir/bench-fleet.XXXXXX") || exit 1
cleanup() {
	"$XIPFSCTL" unload --force "$seg" >/dev/null 2>&1
	rm -f /dev/shm/xipfs-fleet-dax.$$.*
	rm -rf "$BW"
}
trap cleanup EXIT

# The guest kernel's own modules (erofs, squashfs, virtio_blk), loadable in
# the guest with modprobe -d.
vm_modules

# pss PID...: "total anon shmem ram" in kB, summed over the processes: PSS,
# its anonymous and shmem parts, and the resident part of the guest RAM
# mapping (the one anonymous mapping of exactly the guest's memory size;
# the rest of QEMU's anonymous memory is mostly TCG's translation cache).
pss() {
	local p ramkb
	ramkb=$(numfmt --from=iec "$mem")
	ramkb=$((ramkb / 1024))
	for p in "$@"; do
		cat "/proc/$p/smaps_rollup"
		awk -v want="$ramkb" '/^Size:/ {size = $2} /^Rss:/ && size == want {print "GuestRam:", $2}' \
			"/proc/$p/smaps"
	done |
		awk '/^Pss:/ {t += $2} /^Pss_Anon:/ {a += $2} /^Pss_Shmem:/ {s += $2}
			/^GuestRam:/ {r += $2} END {print t + 0, a + 0, s + 0, r + 0}'
}
# wait_all WORD DIR...: until every DIR/stdout has a line WORD (or a guest ended).
wait_all() {
	local word=$1 d n
	shift
	while :; do
		n=0
		for d in "$@"; do grep -q "^$word" "$d/stdout" 2>/dev/null && n=$((n + 1)); done
		[ "$n" -eq $# ] && return 0
		[ -n "$(jobs -rp)" ] || return 1
		sleep 1
	done
}

# The QEMU process of the guest with work directory $1 (not its timeout).
qemu_pid() {
	local p
	for p in $(pgrep -f "xipfs.work=$1 "); do
		[ "$(basename "$(readlink "/proc/$p/exe")")" = qemu-system-x86_64 ] && echo "$p"
	done
}

guest_script() {	# VARIANT [LABEL]: the guest's script
	local v=$1 warm=/tmp/m/usr/lib/python3.11/email
	[ "$mixed" = 1 ] && warm=/tmp/m/usr/lib/x86_64-linux-gnu
	echo 'PATH=/usr/sbin:/usr/bin:/sbin:/bin'
	case $v in
	xipfs)
		echo "insmod $XIPMAP_KO || exit 1"
		xip_mount_cmd xipfs /tmp/m xip=on ivshmem ;;
	pool)
		echo "insmod $XIPMAP_KO || exit 1"
		xip_mount_cmd xipfs /tmp/m xip=on "ivshmem/$2" ;;
	erofs-dax)
		vm_erofs_dax_cmd /tmp/m ;;
	erofs|squashfs)
		echo "modprobe -d $VM_MODROOT -a virtio_blk crc32c_generic libcrc32c $v || exit 1"
		echo "mkdir -p /tmp/m; i=0; while [ ! -b /dev/vda ] && [ \$i -lt 50 ]; do sleep 0.1; i=\$((i+1)); done"
		echo "mount -t $v -o ro /dev/vda /tmp/m || exit 1" ;;
	esac
	cat <<EOF
meminfo() { awk '/^(Cached|MemAvailable|AnonPages|Shmem):/ { printf "%s%s ", \$1, \$2 }' /proc/meminfo; echo; }
# Warm up: QEMU's TCG translates the reading programs and the file system
# code once, and that (not the data) would otherwise count as growth.
for w in 1 2; do
	(cd $warm && find . -type f -print0 | head -z -n 200 | xargs -0 cat >/dev/null)
	(cd $warm && find . -type f -print0 | head -z -n 200 | xargs -0 $XIP_PROBE mapsum) >/dev/null
done
sync; echo 3 >/proc/sys/vm/drop_caches
echo "BEFORE \$(meminfo)"
echo FLEET-BOOTED
while [ ! -e go1 ]; do sleep 0.2; done
t0=\$(date +%s.%N)
(cd /tmp/m && find . -type f -print0 | xargs -0 cat >/dev/null)
(cd /tmp/m && find . -type f -print0 | xargs -0 $XIP_PROBE mapsum) >sum
t1=\$(date +%s.%N)
echo "AFTER \$(meminfo)"
echo "SECONDS \$(echo "\$t1 - \$t0" | bc)"
echo "SUM \$(cat sum)"
echo FLEET-READ
while [ ! -e go2 ]; do sleep 0.2; done
umount /tmp/m
EOF
}

# The mixed fleet's trees T1..T3 and their xipfs images, once.
mixed_prepare() {
	local t
	mkdir -p "$BW/T2" "$BW/T3/usr/lib" || return 1
	ln -s "$XIP_TREE" "$BW/T1"
	cp -a "$XIP_TREE/." "$BW/T2/" || return 1
	# 5% of T2's files, every 20th in sorted order, get bytes appended.
	(cd "$BW/T2" && find . -type f | sort | sed -n '1~20p' | while read -r f; do
		echo "# changed" >>"$f"; done) || return 1
	cp -a "$XIP_TREE/usr/lib/x86_64-linux-gnu" "$BW/T3/usr/lib/" || return 1
	cp -a /usr/lib/x86_64-linux-gnu/perl-base "$BW/T3/usr/lib/x86_64-linux-gnu/" || return 1
	for t in 1 2 3; do
		"$top_builddir/src/mkxipfs/mkxipfs" -q "$BW/T$t/" "$BW/x$t.img" || return 1
	done
}
# The image (1..3) guest G runs in the mixed fleet.
img_of() { echo $((($1 - 1) % 3 + 1)); }
shmem_kb() { awk '$1 == "Shmem:" { print $2 }' /proc/meminfo; }

declare -A R_HOST R_ANON R_SHM R_RAM R_CACHE R_SECS R_SEGMB R_OK R_SUMS
run_variant() {
	local v=$1 g dirs=() pids=() qp=() before after ok=1 img="" segfile="" shm0 i
	shm0=$(shmem_kb)
	case $v in
	xipfs)
		"$XIPFSCTL" load "$XIP_IMG" "$seg" || return 1
		segfile=/dev/shm/xipfs.$seg
		R_SEGMB[$v]=$((($(shmem_kb) - shm0) / 1024)) ;;
	pool)
		"$XIPFSCTL" create "$seg" --size 1G || return 1
		for i in 1 2 3; do
			"$XIPFSCTL" add "$seg" "$BW/x$i.img" "t$i" || return 1
		done
		"$XIPFSCTL" stat "$seg" | sed -n 's/^\(data_pages\|image_pages\|saved_bytes\)=/raw pool \1=/p'
		segfile=/dev/shm/xipfs.$seg
		R_SEGMB[$v]=$((($(shmem_kb) - shm0) / 1024)) ;;
	erofs-dax)
		for i in 1 2 3; do
			# mkfs.erofs 1.5 cannot write to tmpfs (EIO): build, then copy.
			rm -f "$BW/d$i.img"
			mkfs.erofs --quiet -Enoinline_data --chunksize=4096 "$BW/d$i.img" "$BW/T$i/" \
				>/dev/null || return 1
			vm_pmem_file "$BW/d$i.img" "/dev/shm/xipfs-fleet-dax.$$.$i" || return 1
		done
		R_SEGMB[$v]=$((($(shmem_kb) - shm0) / 1024)) ;;
	erofs)
		rm -f "$BW/img"
		if [ "$mixed" = 1 ]; then
			for i in 1 2 3; do
				rm -f "$BW/e$i.img"
				mkfs.erofs --quiet "$BW/e$i.img" "$BW/T$i/" >/dev/null || return 1
			done
		else
			mkfs.erofs --quiet "$BW/img" "$XIP_TREE" >/dev/null || return 1
		fi ;;
	squashfs)
		rm -f "$BW/img"
		mksquashfs "$XIP_TREE" "$BW/img" -quiet -no-progress -noappend >/dev/null || return 1 ;;
	esac
	for g in $(seq "$guests"); do
		local d=$BW/$v-$g args=() gm=$mem
		i=$(img_of "$g")
		mkdir -p "$d"
		guest_script "$v" "t$i" >"$d/guest.sh"
		if [ -n "$segfile" ]; then
			args=(--ivshmem "$segfile")
		elif [ "$v" = erofs-dax ]; then
			local f=/dev/shm/xipfs-fleet-dax.$$.$i
			gm="$mem,slots=2,maxmem=8G"
			# Linux 6.12 warns (fs/dax.c dax_insert_entry) when two files
			# map one deduplicated chunk; the data read is right (the sums
			# are checked), so the warning is reported, not fatal.
			args=(--no-klog-check --qemu-arg "$(vm_pmem_qemu "$f")")
		else
			if [ "$mixed" = 1 ]; then
				cp "$BW/e$i.img" "$d/disk" || return 1
			else
				cp "$BW/img" "$d/disk" || return 1
			fi
			args=(--qemu-arg -drive --qemu-arg "file=$d/disk,if=virtio,format=raw,readonly=on,cache=none")
		fi
		vm_boot --name "fleet-$v-$g" --mem "$gm" --timeout 1200 --work "$d" "${args[@]}" \
			-- ". ./guest.sh" >"$d/out" 2>&1 &
		pids+=($!)
		dirs+=("$d")
	done
	if ! wait_all FLEET-BOOTED "${dirs[@]}"; then
		echo "fleet.sh: $v: a guest did not boot and mount:" >&2
		ok=0
	else
		for d in "${dirs[@]}"; do
			qp+=($(qemu_pid "$d"))
		done
		before=$(pss "${qp[@]}")
		for d in "${dirs[@]}"; do touch "$d/go1"; done
		if wait_all FLEET-READ "${dirs[@]}"; then
			after=$(pss "${qp[@]}")
		else
			ok=0
		fi
		for d in "${dirs[@]}"; do touch "$d/go2"; done
	fi
	for p in "${pids[@]}"; do wait "$p" || ok=0; done
	if [ "$ok" = 0 ]; then
		for d in "${dirs[@]}"; do echo "== $d"; tail -n 30 "$d/out"; done >&2
		R_OK[$v]=0
		[ -z "$segfile" ] || "$XIPFSCTL" unload --force "$seg" >/dev/null 2>&1
		rm -f /dev/shm/xipfs-fleet-dax.$$.*
		return 1
	fi
	set -- $before $after
	R_HOST[$v]=$(($5 - $1)); R_ANON[$v]=$(($6 - $2)); R_SHM[$v]=$(($7 - $3))
	R_RAM[$v]=$(($8 - $4))
	local c=0 s=0 sums=""
	for d in "${dirs[@]}"; do
		b=$(sed -n 's/^BEFORE .*Cached:\([0-9]*\).*/\1/p' "$d/stdout")
		a=$(sed -n 's/^AFTER .*Cached:\([0-9]*\).*/\1/p' "$d/stdout")
		c=$((c + a - b))
		s=$(echo "$s + $(sed -n 's/^SECONDS //p' "$d/stdout")" | bc)
		sums="$sums$(sed -n 's/^SUM //p' "$d/stdout")|"
		echo "raw $v guest $(basename "$d"): $(grep -E '^(BEFORE|AFTER|SECONDS|SUM)' "$d/stdout" | tr '\n' ' ')"
	done
	R_CACHE[$v]=$((c / guests))
	if [ "$v" = erofs-dax ]; then
		n=$(grep -l 'WARNING: .* fs/dax.c' "$top_builddir"/tests/vm/logs/fleet-$v-*.log 2>/dev/null | wc -l)
		[ "$n" = 0 ] || echo "note: erofs-dax: the kernel of $n of $guests guests warned in fs/dax.c (a chunk shared by two files)"
	fi
	R_SECS[$v]=$(echo "scale=1; $s / $guests" | bc)
	# Every guest must have read the same bytes (in the mixed fleet: the
	# same as the guests of the other variants that ran its image).
	if [ "$mixed" = 1 ]; then
		R_SUMS[$v]=$sums
		for w in $variants; do
			[ -n "${R_SUMS[$w]:-}" ] && [ "${R_SUMS[$w]}" != "$sums" ] && {
				echo "fleet.sh: $v and $w guests read different data: $sums / ${R_SUMS[$w]}" >&2
				R_OK[$v]=0
				return 1
			}
		done
	elif [ "$(echo "$sums" | tr '|' '\n' | sort -u | grep -c .)" != 1 ]; then
		echo "fleet.sh: $v: the guests read different data: $sums" >&2
		R_OK[$v]=0
		return 1
	fi
	R_OK[$v]=1
	: "${R_SEGMB[$v]:=0}"
	[ -z "$segfile" ] || "$XIPFSCTL" unload --force "$seg" >/dev/null 2>&1
	rm -f /dev/shm/xipfs-fleet-dax.$$.*
	echo "raw $v host: qemu before $before after $after (pss, pss anon, pss shmem, guest ram rss; kB)"
}

if [ "$mixed" = 1 ]; then
	mixed_prepare || { echo "fleet.sh: building the mixed fleet's trees failed" >&2; exit 1; }
	echo "mixed fleet: images $(for i in 1 2 3; do echo -n "T$i $(($(stat -c %s "$BW/x$i.img") / 1048576)) MiB, "; done)distinct pages of the union $("$top_srcdir/tests/integration/pool-pages.py" "$BW/T1/" "$BW/T2/" "$BW/T3/")"
fi
echo "fleet: $guests guests x $mem, tree $(du -sm --apparent-size "$XIP_TREE" | cut -f1) MiB, image $(($(stat -c %s "$XIP_IMG") / 1048576)) MiB; load $(cut -d' ' -f1-3 /proc/loadavg)"
rc=0
for v in $variants; do
	run_variant "$v" || rc=1
done

mib() { echo "scale=1; $1 / 1024" | bc | sed 's/^\./0./'; }
printf '\n%-9s %10s %10s %10s %10s %10s %12s %8s\n' variant "host MiB" "guest RAM" "qemu anon" "qemu shm" "segment" "guest cache" "read s"
for v in $variants; do
	[ "${R_OK[$v]:-0}" = 1 ] || { printf '%-9s failed\n' "$v"; continue; }
	printf '%-9s %10s %10s %10s %10s %10s %12s %8s\n' "$v" "$(mib "${R_HOST[$v]}")" \
		"$(mib "${R_RAM[$v]}")" "$(mib "${R_ANON[$v]}")" "$(mib "${R_SHM[$v]}")" \
		"${R_SEGMB[$v]}" "$(mib "${R_CACHE[$v]}")" "${R_SECS[$v]}"
done
echo "host MiB: growth of the $guests QEMU processes' PSS while every guest read the tree"
echo "(for xipfs this includes the segment pages the guests touched, counted once in all);"
echo "guest RAM: growth of the resident guest RAM of the $guests QEMUs (what the guests' own"
echo "page caches cost the host); qemu anon/shm: the PSS growth split; segment: host Shmem (MiB)"
echo "taken by loading the segment (xipfsctl load), once for all guests;"
echo "guest cache: growth of Cached per guest (mean); read s: per guest (mean, TCG)."
if [ "$mixed" = 1 ]; then
	echo "segment (mixed fleet): host Shmem taken by the images: the pool (every image, each"
	echo "distinct page once) or the erofs-dax pmem files (one per image); erofs on virtio-blk"
	echo "holds its data in each guest's page cache instead (guest RAM)."
	for p in erofs-dax erofs; do
		[ "${R_OK[pool]:-0}" = 1 ] && [ "${R_OK[$p]:-0}" = 1 ] || continue
		held_pool=$((${R_RAM[pool]} + ${R_SEGMB[pool]} * 1024))
		held_p=$((${R_RAM[$p]} + ${R_SEGMB[$p]} * 1024))
		[ "$held_p" -gt 0 ] || continue
		echo "pool / $p: data held on the host for all $guests guests (images + guest RAM growth)" \
			"$(mib $held_pool) / $(mib $held_p) MiB = $(echo "scale=3; $held_pool / $held_p" | bc | sed 's/^\./0./')"
	done
fi
for p in erofs squashfs; do
	if [ "${R_OK[xipfs]:-0}" = 1 ] && [ "${R_OK[$p]:-0}" = 1 ] && [ "${R_HOST[$p]}" -gt 0 ]; then
		echo "xipfs / $p: host PSS growth $(echo "scale=3; ${R_HOST[xipfs]} / ${R_HOST[$p]}" | bc | sed 's/^\./0./')," \
			"guest RAM growth $(echo "scale=3; ${R_RAM[xipfs]} / ${R_RAM[$p]}" | bc | sed 's/^\./0./')," \
			"data held for all $guests guests $(echo "scale=3; (${R_RAM[xipfs]} + ${R_SEGMB[xipfs]} * 1024) / ${R_RAM[$p]}" | bc | sed 's/^\./0./')" \
			"(guest RAM growth, plus the segment for xipfs)"
	fi
done
exit $rc
