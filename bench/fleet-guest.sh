#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# bench/fleet-guest.sh: a fleet of real Debian 13 guests (contrib/build-guest.sh)
# sharing one /usr, booted under TCG, in variants measured in the same run:
#   xipfs        /usr mounted by the initramfs from one host segment shared
#                by every guest over ivshmem (xipfs.usr=ivshmem:UUID), XIP
#   erofs-pmem   the same /usr as EROFS (mkfs.erofs -Enoinline_data) on one
#                shared virtio-pmem file, mounted with dax=always (the
#                in-kernel way to share host pages; the guest pays memmap)
#   erofs-blk    that EROFS image on a virtio-blk disk per guest (cache=none,
#                so the host page cache holds no copy; the guest caches)
# The peers mount /usr from the root disk's /etc/fstab (initramfs-tools
# does that before switch_root), on a copy of root.img with that fstab.
# Per guest: the time from QEMU's start until a python3 started by the
# guest (xipfs-guest-run.service) printed; after the guest ran python3
# (json, sqlite3, ssl, email), gcc --version and dpkg -l: the guest's RAM in
# use (MemTotal - MemFree, /proc/meminfo), its memmap (nr_memmap_pages of
# /proc/vmstat: struct pages of the pmem device), its page cache (Cached),
# and the host PSS of its QEMU process (/proc/PID/smaps): of the guest's RAM
# mapping plus the shared segment or pmem file (whose pages are divided among
# the guests mapping them), without QEMU's own memory (mostly TCG's
# translation cache, the same in every variant), which "qemu_M" shows.
#
# Usage (root): top_builddir=BUILD top_srcdir=SRC bench/fleet-guest.sh
#   FLEET_GUESTS (default 4), FLEET_VARIANTS ("xipfs erofs-pmem erofs-blk"),
#   FLEET_GUEST_MEM (default 512M).  Needs the guest (contrib/build-guest.sh)
#   and mkfs.erofs.  Slow under TCG: minutes per variant.
set -u
die() { echo "fleet-guest.sh: $*" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] || die "needs root (QEMU, debugfs on images, /dev/shm)"
command -v mkfs.erofs >/dev/null && command -v debugfs >/dev/null ||
	die "needs mkfs.erofs and debugfs (contrib/install-deps.sh)"
top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}
top_builddir=${top_builddir:?set top_builddir to a build directory}
export top_srcdir top_builddir
. "$top_srcdir/tests/vm/guest-lib.sh"
guest_require
variants=${FLEET_VARIANTS:-xipfs erofs-pmem erofs-blk}
guests=${FLEET_GUESTS:-4}
mem=${FLEET_GUEST_MEM:-512M}
BW=$(mktemp -d "$top_builddir/bench-fleet-guest.XXXXXX") || exit 1
pmem=
pids=
cleanup() {
	for p in $pids; do kill "$p" 2>/dev/null; done
	wait 2>/dev/null
	[ -n "$pmem" ] && rm -f "$pmem"
	rm -rf "$BW"
}
trap cleanup EXIT

# The same /usr as EROFS, cached next to the guest (rebuilt with the guest).
erofs=$GUEST_CACHE/usr.erofs
if [ ! -s "$erofs" ] || [ "$erofs" -ot "$GUEST_CACHE/usr.xipfs" ]; then
	echo "# mkfs.erofs -Enoinline_data of $GUEST_CACHE/root/usr" >&2
	mkfs.erofs -Enoinline_data "$erofs.tmp" "$GUEST_CACHE/root/usr" >/dev/null 2>&1 &&
		mv "$erofs.tmp" "$erofs" || { echo "fleet-guest.sh: mkfs.erofs failed" >&2; exit 1; }
fi

# A root disk whose /etc/fstab mounts /usr: root_with_fstab NAME LINE
root_with_fstab() {
	cp --sparse=always "$GUEST_CACHE/root.img" "$BW/root-$1.img" &&
	printf '/dev/vda / ext4 rw 0 0\n%s\n' "$2" >"$BW/fstab-$1" &&
	debugfs -w -R "rm /etc/fstab" "$BW/root-$1.img" >/dev/null 2>&1 &&
	debugfs -w -R "write $BW/fstab-$1 /etc/fstab" "$BW/root-$1.img" >/dev/null 2>&1
}

cat >"$BW/run.sh" <<'EOS'
python3 -c 'print("python-ok")'
python3 -c 'import json, sqlite3, ssl, email.parser, http.client; print("imports-ok")'
gcc --version >/dev/null && dpkg -l >/dev/null
sync
awk '/^(MemTotal|MemFree|Cached):/ { printf "%s %s\n", $1, $2 }' /proc/meminfo
awk '/^nr_memmap_pages / { print "memmap_pages:", $2 }' /proc/vmstat
findmnt -n -o FSTYPE,SOURCE,OPTIONS /usr
echo STATS-DONE
EOS

now() { date +%s.%N; }
# pss PID: "guest qemu" PSS in kB of timeout(1)'s child, QEMU: the guest's
# RAM mapping (the anonymous mapping of its memory size) plus the shared
# file under /dev/shm, and everything else
pss() {
	local q ramkb
	q=$(pgrep -P "$1" | head -n 1)
	ramkb=$(( $(numfmt --from=iec "$mem") / 1024 ))
	awk -v ram="$ramkb" '
		/^[0-9a-f]+-[0-9a-f]+ / { path = $6; anon = (path == "")
			guest = (path ~ /^\/dev\/shm\//) }
		/^Size:/ { if (anon && $2 >= ram && $2 <= ram + 4096) guest = 1 }
		/^Pss:/ { if (guest) g += $2; else o += $2 }
		END { print g + 0, o + 0 }' "/proc/$q/smaps" 2>/dev/null
}

printf '%-11s %5s %9s %9s %9s %9s %9s %9s\n' variant guest python_s hostPSS_M qemu_M used_M memmap_M cached_M
for v in $variants; do
	args=()
	case $v in
	xipfs) ;;
	erofs-pmem)
		pmem=/dev/shm/xipfs-bench-fleet-pmem.$$
		vm_pmem_file "$erofs" "$pmem" || exit 1
		root_with_fstab "$v" "/dev/pmem0 /usr erofs ro,dax=always 0 0" || exit 1
		args=(--no-usr --root "$BW/root-$v.img" --qemu-arg "-m $mem,slots=2,maxmem=8G"
			--qemu-arg "$(vm_pmem_qemu "$pmem")")
		;;
	erofs-blk)
		root_with_fstab "$v" "/dev/vdb /usr erofs ro 0 0" || exit 1
		args=(--no-usr --root "$BW/root-$v.img"
			--qemu-arg "-drive file=$erofs,format=raw,if=virtio,readonly=on,cache=none")
		;;
	*) echo "fleet-guest.sh: unknown variant $v" >&2; exit 1 ;;
	esac
	pids=
	for g in $(seq 1 "$guests"); do
		mkdir -p "$BW/$v/$g"
		now >"$BW/$v/$g/start"
		guest_boot --background --mem "$mem" --append xipfs.run=keep --timeout 1500 \
			"${args[@]}" "$BW/run.sh" "$BW/$v/$g"
		echo "$GUEST_PID" >"$BW/$v/$g/pid"
		pids="$pids $GUEST_PID"
	done
	# Each guest's time to python, then wait until all have their figures.
	deadline=$(( $(date +%s) + 1400 ))
	while [ "$(date +%s)" -lt $deadline ]; do
		done_all=1
		for g in $(seq 1 "$guests"); do
			d=$BW/$v/$g
			if [ ! -e "$d/python" ] && grep -q python-ok "$d/run.out" 2>/dev/null; then
				echo "$(now) - $(cat "$d/start")" | bc >"$d/python"
			fi
			# done: its figures are out, or the guest is gone
			grep -q STATS-DONE "$d/run.out" 2>/dev/null ||
				! kill -0 "$(cat "$d/pid")" 2>/dev/null || done_all=0
		done
		[ $done_all -eq 1 ] && break
		sleep 0.2
	done
	for g in $(seq 1 "$guests"); do
		d=$BW/$v/$g
		read -r p q <<<"$(pss "$(cat "$d/pid")")"
		tr -d '\r' <"$d/run.out" >"$d/run.txt"
		if ! grep -q STATS-DONE "$d/run.txt"; then
			echo "fleet-guest.sh: $v guest $g gave no figures; console tail:" >&2
			tail -n 15 "$d/console.log" >&2
			continue
		fi
		awk -v v="$v" -v g="$g" -v t="$(cat "$d/python" 2>/dev/null || echo nan)" -v p="${p:-0}" -v q="${q:-0}" '
			$1 == "MemTotal:" { tot = $2 } $1 == "MemFree:" { free = $2 }
			$1 == "Cached:" { c = $2 } $1 == "memmap_pages:" { mm = $2 }
			END { printf "%-11s %5s %9.1f %9.1f %9.1f %9.1f %9.1f %9.1f\n", v, g, t, p / 1024, q / 1024,
				(tot - free) / 1024, mm * 4 / 1024, c / 1024 }' "$d/run.txt"
		sed -n 's/^\(fuse\|erofs\)/    \/usr: &/p' "$d/run.txt" | head -n 1 >&2
	done
	for p in $pids; do kill "$p" 2>/dev/null; done
	wait 2>/dev/null
	pids=
	[ -n "$pmem" ] && rm -f "$pmem" && pmem=
done
echo "# segment/pmem file shared by all guests of a variant: its pages count once per host," \
	"split among the guests in PSS; other work ran on this host at the same time (TCG, $(nproc) cores)"
