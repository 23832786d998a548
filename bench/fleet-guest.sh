#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# bench/fleet-guest.sh: a fleet of real Debian 13 guests (contrib/build-guest.sh)
# sharing one /usr, booted under TCG, in variants measured in the same run
# (interleaved: FLEET_ROUNDS rounds, each boots every variant's fleet in
# turn, in the opposite order every other round):
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
# guest (xipfs-guest-run.service) printed, and by the guest's clock how
# much of it went to the kernel (until it ran /init, from the console), the
# initramfs and the real root's userspace (until python3; systemd's
# Userspace timestamp); after the guest ran python3
# (json, sqlite3, ssl, email), gcc --version and dpkg -l, its memory:
#   total_M    MemTotal (QEMU's -m SIZE,slots=N,maxmem=M form, which
#              virtio-pmem needs, leaves the guest less of its SIZE)
#   used_M     MemTotal - MemFree; avail_M: MemTotal - MemAvailable
#   usr_M      what hosting /usr costs the guest, the sum of:
#     memmap   nr_memmap_pages of /proc/vmstat: the pmem device's struct pages
#     usrcache the page cache of /usr's files (mincore(2) of each, but
#              /usr/src: kernel headers only a module build reads), walked
#              after every other figure is taken
#     daemon   the xipfs daemon's anonymous memory and page tables
#              (smaps_rollup Anonymous + VmPTE)
#     held     initramfs files the daemon keeps alive by mapping them (its
#              program and libraries: deleted at switch_root, but a ramfs
#              file stays in RAM, whole, while mapped)
#     slab     the file system's inodes (fuse_inode or erofs_inode objects)
#   kslab      the guest's whole Slab, for what usr_M leaves out
# and the host PSS of its QEMU process (/proc/PID/smaps), taken once those
# figures are out: the guest's RAM mapping plus the shared segment or pmem
# file (whose pages are divided among the guests mapping them), without
# QEMU's own memory (mostly TCG's translation cache, the same in every
# variant).  Not in usr_M: kernel memory outside those slabs (xipmap's page
# lists and backing files, FUSE's requests).  The guest's own report of
# its boot (systemd-analyze blame) is in each run.txt (FLEET_KEEP).
#
# Usage (root): top_builddir=BUILD top_srcdir=SRC bench/fleet-guest.sh
#   FLEET_GUESTS (default 4), FLEET_ROUNDS (default 2), FLEET_VARIANTS
#   ("xipfs erofs-pmem erofs-blk"), FLEET_GUEST_MEM (default 512M),
#   FLEET_KEEP (a directory: keep each guest's run.txt and console log
#   there, as VARIANT/run-rROUND-GUEST.txt).  Needs the guest
#   (contrib/build-guest.sh) and mkfs.erofs.  Slow under TCG: minutes per
#   variant and round.
# Prints a row per guest and round, then each variant's medians over all
# its guests and rounds, and for python_s each variant's ratio to xipfs
# per round (the medians of that round's guests: paired, measured minutes
# apart) and the median of those ratios.
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
rounds=${FLEET_ROUNDS:-2}
BW=$(mktemp -d "$top_builddir/bench-fleet-guest.XXXXXX") || exit 1
: >"$BW/rows"
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
awk '{ print "k uptime_ms", int($1 * 1000) }' /proc/uptime
python3 -c 'import json, sqlite3, ssl, email.parser, http.client; print("imports-ok")'
gcc --version >/dev/null && dpkg -l >/dev/null
sync
# The guest's memory, as "k NAME KB" lines, before anything else runs.
awk '/^(MemTotal|MemFree|MemAvailable|Cached|Shmem|Slab|PageTables):/ {
	sub(":", "", $1); print "k", $1, $2 }' /proc/meminfo
awk '$1 == "nr_memmap_pages" { print "k memmap", $2 * 4 }' /proc/vmstat
awk '$1 == "fuse_inode" || $1 == "erofs_inode" || $1 == "dentry" || $1 == "inode_cache" || $1 == "filp" {
	print "k slab_" $1, int($2 * $4 / 1024) }' /proc/slabinfo
# The xipfs daemon (started in the initramfs as @xipfs): its anonymous
# memory and page tables, and the initramfs files it keeps alive (its
# binary and libraries: run-init deleted them, but a ramfs file's pages
# stay in RAM while it is mapped or open).
pid=$(pgrep -x @xipfs | head -n 1)
if [ -n "$pid" ]; then
	awk '/^(Rss|Pss|Anonymous|Private_Clean|Private_Dirty):/ {
		sub(":", "", $1); print "k d_" $1, $2 }' /proc/$pid/smaps_rollup
	awk '/^(VmPTE|Threads):/ { sub(":", "", $1); print "k d_" $1, $2 }' /proc/$pid/status
	rdev=$(stat -L -c %d /proc/$pid/root)
	for f in /proc/$pid/map_files/* /proc/$pid/fd/*; do
		stat -L -c '%d %i %s' "$f" 2>/dev/null
	done | sort -u | awk -v d="$rdev" '$1 == d { s += $3 } END { print "k d_held", int(s / 1024) }'
fi
echo MEM-DONE
# The page cache of /usr's files (mincore(2) over a fresh mapping of each;
# /usr/src, the kernel headers only a module build reads, left out), after
# the figures above: opening every file costs each file system inodes.
# (cachestat(2) would not map, but on an EROFS DAX file 6.12 oopses in it.)
python3 - <<'EOP'
import ctypes, os
libc = ctypes.CDLL(None, use_errno=True)
libc.mmap.restype = ctypes.c_void_p
libc.mmap.argtypes = (ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int,
                      ctypes.c_int, ctypes.c_long)
libc.munmap.argtypes = (ctypes.c_void_p, ctypes.c_size_t)
libc.mincore.argtypes = (ctypes.c_void_p, ctypes.c_size_t, ctypes.c_char_p)
pages = files = fails = 0
for d, dirs, names in os.walk('/usr'):
    if d == '/usr':
        dirs[:] = [x for x in dirs if x != 'src']
    for n in names:
        try:
            fd = os.open(os.path.join(d, n), os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
        except OSError:
            continue
        size = os.fstat(fd).st_size
        if size:
            a = libc.mmap(None, size, 1, 1, fd, 0)    # PROT_READ, MAP_SHARED
            vec = ctypes.create_string_buffer((size + 4095) // 4096)
            if a not in (None, ctypes.c_void_p(-1).value) and libc.mincore(a, size, vec) == 0:
                pages += sum(b & 1 for b in vec.raw)
                files += 1
            else:
                fails += 1
            if a not in (None, ctypes.c_void_p(-1).value):
                libc.munmap(a, size)
        os.close(fd)
print("k usrcache", pages * 4)
print("mincore:", files, "files,", fails, "failed")
EOP
# Where the boot went: systemd's start in the real root (monotonic, ms),
# and what systemd waited for longest.
systemctl show -p UserspaceTimestampMonotonic | awk -F= '{ print "k", $1, int($2 / 1000) }'
systemd-analyze blame 2>&1 | head -n 12 | sed 's/^/SA /'
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

# row_fmt: one row of the table (per guest, and the medians).
row_fmt='%-11s %3s %3s %8.1f %6.1f %6.1f %6.1f %8.1f %7.1f %7.1f %7.1f %7.2f %7.2f %7.2f %7.2f %7.2f %7.2f %7.1f\n'
header() {
	printf '%-11s %3s %3s %8s %6s %6s %6s %8s %7s %7s %7s %7s %7s %7s %7s %7s %7s %7s\n' variant r g \
		python_s kern_s initrd_s user_s hostPSS total_M used_M avail_M usr_M memmap usrcache \
		daemon held slab kslab
}

# variant_args V: the guest_boot options of variant V (in the array args),
# preparing its files the first time.
variant_args() {
	args=()
	case $1 in
	xipfs) ;;
	erofs-pmem)
		if [ -z "$pmem" ]; then
			pmem=/dev/shm/xipfs-bench-fleet-pmem.$$
			vm_pmem_file "$erofs" "$pmem" || return 1
			root_with_fstab "$1" "/dev/pmem0 /usr erofs ro,dax=always 0 0" || return 1
		fi
		args=(--no-usr --root "$BW/root-$1.img" --qemu-arg "-m $mem,slots=2,maxmem=8G"
			--qemu-arg "$(vm_pmem_qemu "$pmem")")
		;;
	erofs-blk)
		[ -e "$BW/root-$1.img" ] ||
			root_with_fstab "$1" "/dev/vdb /usr erofs ro 0 0" || return 1
		args=(--no-usr --root "$BW/root-$1.img"
			--qemu-arg "-drive file=$erofs,format=raw,if=virtio,readonly=on,cache=none")
		;;
	*) echo "fleet-guest.sh: unknown variant $1" >&2; return 1 ;;
	esac
}

# fleet V R: boot variant V's guests at once (round R), print a row per
# guest (also kept in $BW/rows), and stop them.
fleet() {
	local v=$1 r=$2 g d deadline done_all p q rinit
	variant_args "$v" || exit 1
	pids=
	for g in $(seq 1 "$guests"); do
		d=$BW/$v/$r/$g
		mkdir -p "$d"
		now >"$d/start"
		guest_boot --background --mem "$mem" --append xipfs.run=keep --timeout 1500 \
			"${args[@]}" "$BW/run.sh" "$d"
		echo "$GUEST_PID" >"$d/pid"
		pids="$pids $GUEST_PID"
	done
	# Each guest's time to python and its host PSS once its memory figures
	# are out (before the page cache walk); then wait for all of them.
	deadline=$(( $(date +%s) + 1400 ))
	while [ "$(date +%s)" -lt $deadline ]; do
		done_all=1
		for g in $(seq 1 "$guests"); do
			d=$BW/$v/$r/$g
			if [ ! -e "$d/python" ] && grep -q python-ok "$d/run.out" 2>/dev/null; then
				echo "$(now) - $(cat "$d/start")" | bc >"$d/python"
			fi
			if [ ! -e "$d/pss" ] && grep -q MEM-DONE "$d/run.out" 2>/dev/null; then
				pss "$(cat "$d/pid")" >"$d/pss"
			fi
			# done: its figures are out, or the guest is gone
			grep -q STATS-DONE "$d/run.out" 2>/dev/null ||
				! kill -0 "$(cat "$d/pid")" 2>/dev/null || done_all=0
		done
		[ $done_all -eq 1 ] && break
		sleep 0.2
	done
	for g in $(seq 1 "$guests"); do
		d=$BW/$v/$r/$g
		p=
		read -r p q <"$d/pss" 2>/dev/null
		tr -d '\r' <"$d/run.out" >"$d/run.txt"
		if ! grep -q STATS-DONE "$d/run.txt"; then
			echo "fleet-guest.sh: $v round $r guest $g gave no figures; console tail:" >&2
			tail -n 15 "$d/console.log" >&2
			continue
		fi
		# usr_M, the guest's cost of hosting /usr: the device's memmap,
		# /usr's page cache, the daemon's anonymous memory, page tables
		# and kept initramfs files, and the file system's inode slab.
		# The kernel's part: until it ran the initramfs's /init.
		rinit=$(tr -d '\r' <"$d/console.log" |
			sed -n 's/^\[ *\([0-9.]*\)\] Run \/init as init process.*/\1/p' | head -n 1)
		awk -v v="$v" -v r="$r" -v g="$g" -v t="$(cat "$d/python" 2>/dev/null || echo nan)" \
			-v p="${p:-0}" -v rinit="${rinit:-0}" -v fmt="$row_fmt" '
			$1 == "k" { k[$2] = $3 }
			END {
				m = 1024
				daemon = k["d_Anonymous"] + k["d_VmPTE"]
				slab = k["slab_fuse_inode"] + k["slab_erofs_inode"]
				usr = k["memmap"] + k["usrcache"] + daemon + k["d_held"] + slab
				ird = rinit * 1000; usp = k["UserspaceTimestampMonotonic"]
				printf fmt, v, r, g, t, ird / 1000, (usp - ird) / 1000, (k["uptime_ms"] - usp) / 1000,
					p / m, k["MemTotal"] / m, (k["MemTotal"] - k["MemFree"]) / m,
					(k["MemTotal"] - k["MemAvailable"]) / m, usr / m, k["memmap"] / m,
					k["usrcache"] / m, daemon / m, k["d_held"] / m, slab / m, k["Slab"] / m
			}' "$d/run.txt" | tee -a "$BW/rows"
		sed -n 's/^\(fuse\|erofs\)/    \/usr: &/p' "$d/run.txt" | head -n 1 >&2
	done
	if [ -n "${FLEET_KEEP:-}" ]; then
		mkdir -p "$FLEET_KEEP/$v"
		for g in $(seq 1 "$guests"); do
			cp "$BW/$v/$r/$g/run.txt" "$FLEET_KEEP/$v/run-r$r-$g.txt" 2>/dev/null
			cp "$BW/$v/$r/$g/console.log" "$FLEET_KEEP/$v/console-r$r-$g.log" 2>/dev/null
		done
	fi
	for p in $pids; do kill "$p" 2>/dev/null; done
	wait 2>/dev/null
	pids=
}

# median: the median of the numbers on stdin ("nan" and blank lines left out).
median() {
	grep -v -e nan -e '^$' | sort -g |
		awk '{ a[NR] = $1 } END { if (NR) print (a[int((NR + 1) / 2)] + a[int(NR / 2) + 1]) / 2; else print "nan" }'
}

# The rounds: every variant's fleet in each, the order reversed every other
# round (A B C, C B A, A B C, ...), so that a drift in the host's load
# falls on every variant alike.
header
rev=
for v in $variants; do rev="$v $rev"; done
for r in $(seq 1 "$rounds"); do
	order=$variants
	[ $((r % 2)) -eq 0 ] && order=$rev
	for v in $order; do
		fleet "$v" "$r"
	done
done

echo "# medians over all guests and rounds (g: how many guests gave figures)"
header
for v in $variants; do
	n=$(awk -v v="$v" '$1 == v' "$BW/rows" | wc -l)
	[ "$n" -gt 0 ] || continue
	cols=
	for c in $(seq 4 18); do
		cols="$cols $(awk -v v="$v" -v c="$c" '$1 == v { print $c }' "$BW/rows" | median)"
	done
	# shellcheck disable=SC2059,SC2086
	printf "$row_fmt" "$v" med "$n" $cols
done
# Boot to python3 against xipfs, paired: each round's median of a variant
# over that round's median of xipfs, then the median of those ratios.
if echo " $variants " | grep -q ' xipfs '; then
	echo "# python_s / xipfs's, per round (medians of the round's guests) and their median"
	printf '%-11s' variant
	for r in $(seq 1 "$rounds"); do printf ' %7s' "r$r"; done
	printf ' %7s\n' median
	for v in $variants; do
		[ "$v" = xipfs ] && continue
		ratios=
		for r in $(seq 1 "$rounds"); do
			a=$(awk -v v="$v" -v r="$r" '$1 == v && $2 == r { print $4 }' "$BW/rows" | median)
			b=$(awk -v r="$r" '$1 == "xipfs" && $2 == r { print $4 }' "$BW/rows" | median)
			ratios="$ratios $(awk -v a="$a" -v b="$b" 'BEGIN { if (a == "nan" || b == "nan" || b == 0) print "nan"; else printf "%.3f", a / b }')"
		done
		printf '%-11s' "$v"
		# shellcheck disable=SC2086
		printf ' %7s' $ratios
		# shellcheck disable=SC2086
		printf ' %7s\n' "$(printf '%s\n' $ratios | median)"
	done
fi
echo "# MiB per guest. total_M: MemTotal; used_M: MemTotal - MemFree; avail_M: MemTotal - MemAvailable; usr_M: what" \
	"hosting /usr costs the guest = memmap (nr_memmap_pages: the pmem device's struct pages)" \
	"+ usrcache (page cache of /usr's files but /usr/src, mincore) + daemon (the xipfs" \
	"daemon's anonymous memory and page tables) + held (initramfs files the daemon keeps in RAM)" \
	"+ slab (fuse_inode or erofs_inode objects); kslab: the guest's whole Slab (xipmap's backing" \
	"files are inode_cache and filp objects, in run.txt).  python_s: from QEMU's start to python3's" \
	"answer; kern_s, initrd_s, user_s: the guest's clock until the initramfs, in it, and from" \
	"systemd's start in the real root to python3"
echo "# hostPSS: the guest's RAM and the segment/pmem file shared by all guests of a variant (its" \
	"pages split among the guests mapping them), without QEMU's own memory; other work ran on" \
	"this host at the same time (TCG, $(nproc) cores)"
