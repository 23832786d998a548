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
#   virtiofs     the guest tree's /usr (a read-only bind mount of
#                GUEST_CACHE/root/usr) served by virtiofsd, one per guest
#                (a vhost-user-fs backend serves one QEMU), -o cache=always
#                (FLEET_VIRTIOFS_CACHE): the tree never changes under the
#                fleet, so the guests may keep entries, attributes and pages
#                without asking again.  vhost-user needs the guest's RAM in
#                shared memory: memory-backend-memfd share=on.  The guest
#                caches /usr's pages; the host's page cache holds the pages
#                virtiofsd read (hcache, dropped before each fleet).  The
#                guest kernel has virtiofs built in (CONFIG_VIRTIO_FS=y), so
#                its initramfs mounts the fstab's "usr /usr virtiofs" as is.
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
#     devcache the page cache of /usr's block device (mincore(2) of the
#              device): what EROFS reads of its metadata, DAX or not
#     daemon   the xipfs daemon's anonymous memory and page tables
#              (smaps_rollup Anonymous + VmPTE)
#     held     initramfs files the daemon keeps alive by mapping them (its
#              program and libraries: deleted at switch_root, but a ramfs
#              file stays in RAM, whole, while mapped)
#     slab     the file system's inodes: fuse_inode or erofs_inode objects,
#              the LSM blob of each (lsm_inode_cache) and FUSE's forget
#              record (kmalloc-cg-32), by /proc/slabinfo's count and each
#              cache's slab_size
#     bfiles   xipfs's backing files: xipmap's count of the segment's
#              live ones (XIPMAP_IOC_SEG_STAT: one per content opened
#              and not yet dropped, -o xip_idle, and the daemon's view of
#              the segment) times what each holds: its inode, dentry and
#              file with their LSM blobs, the credentials (and their LSM
#              blob) and record FUSE keeps with a registered backing file
#              (cred, kmalloc-cg-16, kmalloc-64) and xipmap's record
#              (kmalloc-cg-64; a file not stored as one run also has a
#              page list, 8 bytes a page, not counted).  The objects are
#              those slub_debug=U's allocation sites showed per backing
#              file (FLEET_APPEND="slab_nomerge slub_debug=U" dumps them)
#   kslab      the guest's whole Slab, for what usr_M leaves out
# and the host PSS of its QEMU process (/proc/PID/smaps), taken once those
# figures are out: the guest's RAM mapping plus the shared segment or pmem
# file (whose pages are divided among the guests mapping them), without
# QEMU's own memory (mostly TCG's translation cache, the same in every
# variant), plus the whole PSS of its virtiofsd (hostd: its heap, and its
# share of the guest RAM pages it touched, which the two processes split).
# hcache: the host page cache of the tree virtiofsd serves after the
# fleet's run, divided among the fleet's guests (no process maps it, so it
# is in no PSS; reclaimable).  Not in usr_M: /usr's dentries (both kinds
# have one per name looked up; FUSE's READDIRPLUS also makes an inode and
# a dentry for each entry of a directory listed), the records of open
# files (a FUSE file with a backing file is two files and a fuse_file where
# EROFS's is one), EROFS DAX's entries in each file's mapping tree
# (radix_tree_node) and other kernel memory: after the table, every slab
# cache and meminfo line in which a variant's guests differ from the first
# variant's by 32 KiB or more (medians), the whole difference.  The
# guest's own report of its boot (systemd-analyze blame) is in each
# run.txt (FLEET_KEEP).  FLEET_APPEND: more guest kernel command line.
#
# Usage (root): top_builddir=BUILD top_srcdir=SRC bench/fleet-guest.sh
#   FLEET_GUESTS (default 4), FLEET_ROUNDS (default 2), FLEET_VARIANTS
#   ("xipfs erofs-pmem erofs-blk virtiofs"), FLEET_GUEST_MEM (default 512M),
#   FLEET_SMP (default 1: vCPUs per guest, every variant alike; N >= 2
#   runs them under -accel tcg,thread=single and pins the xipfs daemon to
#   the last vCPU with xipfs.opts=allow_other,suid,cpus=N-1, as
#   bench/startup-guest.sh's SMP=N does: a FUSE round trip then wakes the
#   daemon on its own vCPU instead of switching address spaces, which under
#   TCG (no PCID) empties the emulated TLB twice a request),
#   FLEET_TRACE (non-empty: which processes and files make the FUSE round
#   trips: every variant boots with kprobe events on fuse_open,
#   fuse_dir_open and fuse_file_ioctl (the opener, the file's name) and on
#   each exec, from early boot (kprobe_event=) until python3 answered, and
#   the xipfs daemon counts its requests (-o stats); each run.txt gets "T
#   COUNT open|opendir|ioctl by COMM|of FILE" and "T COUNT exec PROGRAM"
#   lines, 25 of each kind, and "T stats: ..."; it slows the boot, so its
#   times are not comparable with a run without it),
#   FLEET_KEEP (a directory: keep each guest's run.txt and console log
#   there, as VARIANT/run-rROUND-GUEST.txt).  Needs the guest
#   (contrib/build-guest.sh), mkfs.erofs and for virtiofs a virtiofsd
#   (VIRTIOFSD, else Debian 13's /usr/libexec/virtiofsd or Debian 12's
#   /usr/lib/qemu/virtiofsd of qemu-system-common).  Slow under TCG:
#   minutes per variant and round.
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
variants=${FLEET_VARIANTS:-xipfs erofs-pmem erofs-blk virtiofs}
guests=${FLEET_GUESTS:-4}
mem=${FLEET_GUEST_MEM:-512M}
rounds=${FLEET_ROUNDS:-2}
vfs_cache=${FLEET_VIRTIOFS_CACHE:-always}
smp=${FLEET_SMP:-1}
# smp_args: every variant's vCPUs and kernel arguments; dopts: the xipfs
# daemon's mount options (xipfs.opts= replaces the initramfs's default).
dopts=allow_other,suid
case $smp in
1) smp_args=() ;;
[2-9]) smp_args=(--smp "$smp" --accel tcg,thread=single)
	dopts=$dopts,cpus=$((smp - 1)) ;;
*) die "FLEET_SMP=$smp: expected 1 to 9" ;;
esac
# FLEET_TRACE: kprobes from the guest's boot on (kprobe_event=) on the FUSE
# opens and ioctls with the opener's name and the file's, and each exec.
if [ -n "${FLEET_TRACE:-}" ]; then
	f='name=file->f_path.dentry->d_name.name:string'
	smp_args+=(--append "trace_buf_size=16M trace_event=sched:sched_process_exec kprobe_event=p:kprobes/open,fuse_open,$f;p:kprobes/opendir,fuse_dir_open,$f;p:kprobes/ioctl,fuse_file_ioctl,$f,cmd=cmd")
	dopts=$dopts,stats
fi
xipfs_opts=()
[ "$dopts" = allow_other,suid ] || xipfs_opts=(--append "xipfs.opts=$dopts")
virtiofsd=
case " $variants " in
*" virtiofs "*)
	for virtiofsd in "${VIRTIOFSD:-}" /usr/libexec/virtiofsd /usr/lib/qemu/virtiofsd; do
		[ -x "$virtiofsd" ] && break
	done
	[ -x "$virtiofsd" ] || die "virtiofs: no virtiofsd (contrib/install-deps.sh, or set VIRTIOFSD)" ;;
esac
BW=$(mktemp -d "$top_builddir/bench-fleet-guest.XXXXXX") || exit 1
: >"$BW/rows"
pmem=
pids=
vfsd_pids=
usrro=
cleanup() {
	for p in $pids; do kill "$p" 2>/dev/null; done
	vfsd_stop
	wait 2>/dev/null
	[ -n "$pmem" ] && rm -f "$pmem"
	if [ -n "$usrro" ] && ! umount "$usrro"; then
		echo "fleet-guest.sh: cannot unmount $usrro; $BW left behind" >&2
		return
	fi
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

# vfsd_start DIR: a virtiofsd for one guest, its socket DIR/vfsd.sock,
# serving $usrro; its pid in DIR/vfsd.
vfsd_start() {
	local i=0
	"$virtiofsd" --socket-path="$1/vfsd.sock" -o source="$usrro" -o cache="$vfs_cache" \
		</dev/null >"$1/vfsd.log" 2>&1 &
	echo $! >"$1/vfsd"
	vfsd_pids="$vfsd_pids $!"
	while [ ! -S "$1/vfsd.sock" ] && [ $i -lt 100 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	[ -S "$1/vfsd.sock" ] || { cat "$1/vfsd.log" >&2; die "virtiofsd made no socket"; }
}
# vfsd_stop: each virtiofsd and the children it forks (its sandbox).
vfsd_stop() {
	local p
	for p in $vfsd_pids; do
		pkill -P "$p" 2>/dev/null
		kill "$p" 2>/dev/null
	done
	vfsd_pids=
}
# tree_pss PID: the PSS in kB of PID and its children (0 without PID).
tree_pss() {
	[ -n "$1" ] || { echo 0; return; }
	for p in "$1" $(pgrep -P "$1"); do
		cat "/proc/$p/smaps_rollup" 2>/dev/null
	done | awk '$1 == "Pss:" { s += $2 } END { print s + 0 }'
}
# host_cache drop|count DIR: drop the host's page cache of DIR's files, or
# print how much of it is cached (kB).
host_cache() {
	case $1 in
	drop) /usr/bin/python3 - "$2" <<'EOP' ;;
import os, sys
for d, dirs, names in os.walk(sys.argv[1]):
    for n in names:
        try:
            fd = os.open(os.path.join(d, n), os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
        except OSError:
            continue
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        os.close(fd)
EOP
	count) find "$2" -type f -print0 | xargs -0 fincore -b -n -o RES 2>/dev/null |
		awk '{ s += $1 } END { print int(s / 1024) }' ;;
	esac
}

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
# FLEET_TRACE: the trace of the boot's FUSE requests ends at python3, and
# the daemon's count of them by type (-o stats, to the kernel log).
t=/sys/kernel/tracing
grep -q . $t/kprobe_events 2>/dev/null && echo 0 >$t/tracing_on
grep -q 'xipfs.opts=[^ ]*stats' /proc/cmdline && pkill -USR1 -x @xipfs
python3 -c 'import json, sqlite3, ssl, email.parser, http.client; print("imports-ok")'
gcc --version >/dev/null && dpkg -l >/dev/null
sync
# The guest's memory, as "k NAME KB" lines, before anything else runs.
awk '/^(MemTotal|MemFree|MemAvailable|Cached|Shmem|Slab|PageTables):/ {
	sub(":", "", $1); print "k", $1, $2 }' /proc/meminfo
awk '$1 == "nr_memmap_pages" { print "k memmap", $2 * 4 }' /proc/vmstat
awk '$1 == "fuse_inode" || $1 == "erofs_inode" || $1 == "dentry" || $1 == "inode_cache" || $1 == "filp" {
	print "k slab_" $1, int($2 * $4 / 1024) }' /proc/slabinfo
# Every slab cache (name, objects in use, object size, kB of its slabs)
# and every meminfo line, to compare the variants' kernel memory.
awk 'NR > 2 { print "S", $1, $2, $4, $15 * $6 * 4 }' /proc/slabinfo
awk '{ sub(":", "", $1); print "M", $1, $2 }' /proc/meminfo
# Each process's page tables (P NAME KB), and with slub_debug=U on the
# guest's command line (FLEET_APPEND) each cache's allocation sites
# (A CACHE COUNT FUNCTION, from debugfs), to tell who made the objects.
for p in /proc/[0-9]*; do
	awk -v c="$(cat "$p/comm" 2>/dev/null)" '$1 == "VmPTE:" { print "P", c, $2 }' "$p/status" 2>/dev/null
done
if grep -q slub_debug /proc/cmdline; then
	mountpoint -q /sys/kernel/debug || mount -t debugfs debugfs /sys/kernel/debug
	for c in /sys/kernel/debug/slab/*/alloc_traces; do
		n=${c%/alloc_traces}
		awk -v n="${n##*/}" '$1 ~ /^[0-9]+$/ { sub(/\+.*/, "", $2); print "A", n, $1, $2 }' "$c"
	done
fi
# xipfs: the live backing files of /usr's segment (xipmap counts them:
# XIPMAP_IOC_SEG_STAT on the ivshmem segment's handle), for bfiles; and
# the bytes an object of each cache slab and bfiles count takes (merged
# caches too), as "k sz_CACHE BYTES".
for c in fuse_inode erofs_inode lsm_inode_cache lsm_file_cache inode_cache dentry filp cred \
	kmalloc-cg-16 kmalloc-cg-32 kmalloc-64 kmalloc-cg-64; do
	echo "k sz_$c $(cat "/sys/kernel/slab/$c/slab_size" 2>/dev/null || echo 0)"
done
python3 - <<'EOP'
import fcntl, os, re, struct, uuid
m = re.search(r"xipfs\.usr=ivshmem:(\S+)", open("/proc/cmdline").read())
if m and os.path.exists("/dev/xipmap"):
    iowr = lambda nr, size: 3 << 30 | size << 16 | 0xB8 << 8 | nr
    dev = os.open("/dev/xipmap", os.O_RDWR)
    # struct xipmap_attach: kind IVSHMEM, fd, uuid, flags EXISTING, seg_fd, size
    at = bytearray(struct.pack("<Ii16sIiQ", 2, -1, uuid.UUID(m.group(1)).bytes, 1, -1, 0))
    fcntl.ioctl(dev, iowr(1, len(at)), at)
    seg = struct.unpack("<Ii16sIiQ", at)[4]
    st = bytearray(64)          # struct xipmap_seg_stat
    fcntl.ioctl(seg, iowr(3, len(st)), st)
    print("k xip_files", struct.unpack("<IIQQQQQQQ", st)[3])
EOP
# The xipfs daemon (started in the initramfs as @xipfs): its anonymous
# memory and page tables, and the initramfs files it keeps alive (its
# binary and libraries: run-init deleted them, but a ramfs file's pages
# stay in RAM while it is mapped or open).
pid=$(pgrep -x @xipfs | head -n 1)
if [ -n "$pid" ]; then
	awk '/^(Rss|Pss|Anonymous|Private_Clean|Private_Dirty):/ {
		sub(":", "", $1); print "k d_" $1, $2 }' /proc/$pid/smaps_rollup
	awk '/^(VmPTE|Threads):/ { sub(":", "", $1); print "k d_" $1, $2 }' /proc/$pid/status
	sed -n 's/^Cpus_allowed_list:[[:space:]]*/daemon cpus /p' /proc/$pid/status
	rdev=$(stat -L -c %d /proc/$pid/root)
	for f in /proc/$pid/map_files/* /proc/$pid/fd/*; do
		stat -L -c '%d %i %s' "$f" 2>/dev/null
	done | sort -u | awk -v d="$rdev" '$1 == d { s += $3 } END { print "k d_held", int(s / 1024) }'
fi
echo MEM-DONE
# Where the boot went: systemd's start in the real root (monotonic, ms),
# and what systemd waited for longest.
systemctl show -p UserspaceTimestampMonotonic | awk -F= '{ print "k", $1, int($2 / 1000) }'
systemd-analyze blame 2>&1 | head -n 12 | sed 's/^/SA /'
findmnt -n -r -o FSTYPE,SOURCE,OPTIONS /usr
# The page cache of /usr's files (mincore(2) over a fresh mapping of each;
# /usr/src, the kernel headers only a module build reads, left out), after
# the figures above: opening every file costs each file system inodes.
# (cachestat(2) would not map, but on an EROFS DAX file 6.12 oopses in it.)
# Also the root disk's (its files but /usr's), for usrcache_est: Cached -
# Shmem - rootcache, the page cache of everything else, which is /usr's.
# On virtiofs only that estimate: virtiofsd holds a descriptor for each
# inode the guest knows, and a walk of /usr's 40000 entries takes more
# than a host limit of 20000 open files allows (EMFILE in the guest).
python3 - "$(findmnt -n -r -o FSTYPE /usr)" "$(findmnt -n -r -o SOURCE /usr)" <<'EOP'
import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
libc.mmap.restype = ctypes.c_void_p
libc.mmap.argtypes = (ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int,
                      ctypes.c_int, ctypes.c_long)
libc.munmap.argtypes = (ctypes.c_void_p, ctypes.c_size_t)
libc.mincore.argtypes = (ctypes.c_void_p, ctypes.c_size_t, ctypes.c_char_p)
def resident(fd, size):
    """Pages of fd's first size bytes in the page cache, or None."""
    a = libc.mmap(None, size, 1, 1, fd, 0)    # PROT_READ, MAP_SHARED
    if a in (None, ctypes.c_void_p(-1).value):
        return None
    vec = ctypes.create_string_buffer((size + 4095) // 4096)
    ok = libc.mincore(a, size, vec) == 0
    libc.munmap(a, size)
    return sum(b & 1 for b in vec.raw) if ok else None
def cached(top, skip):
    """kB of page cache of the files under top, on top's file system, but skip."""
    pages = files = fails = 0
    dev = os.stat(top).st_dev
    for d, dirs, names in os.walk(top):
        dirs[:] = [x for x in dirs if os.path.join(d, x) not in skip and
                   os.lstat(os.path.join(d, x)).st_dev == dev]
        for n in names:
            try:
                fd = os.open(os.path.join(d, n), os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
            except OSError:
                continue
            st = os.fstat(fd)
            size = st.st_size if st.st_dev == dev and (st.st_mode & 0o170000) == 0o100000 else 0
            if size:
                n = resident(fd, size)
                if n is None:
                    fails += 1
                else:
                    pages += n
                    files += 1
            os.close(fd)
    print("mincore", top + ":", files, "files,", fails, "failed")
    return pages * 4
# The page cache of /usr's block device itself: what EROFS reads of its
# metadata (inodes, directories) through the device, DAX or not
# (before the walks below, which read all of it).
if sys.argv[2].startswith("/dev/"):
    fd = os.open(sys.argv[2], os.O_RDONLY)
    print("k devcache", (resident(fd, os.lseek(fd, 0, os.SEEK_END)) or 0) * 4)
    os.close(fd)
mem = {l.split(":")[0]: int(l.split()[1]) for l in open("/proc/meminfo")}
root = cached("/", ("/usr", "/proc", "/sys", "/dev", "/run", "/tmp"))
print("k rootcache", root)
print("k usrcache_est", mem["Cached"] - mem["Shmem"] - root)
if sys.argv[1] != "virtiofs":
    print("k usrcache", cached("/usr", ("/usr/src",)))
EOP
# FLEET_TRACE's summary: FUSE opens and ioctls by process and by file, the
# most frequent first, and the programs run (execs) before python3.
if grep -q . $t/kprobe_events 2>/dev/null; then
	dmesg | sed -n 's/.*xipfs\[[0-9]*\]: \(stats: .*\)/T \1/p' | tail -n 1
	grep -v '^#' $t/trace | awk '
		$5 ~ /^(open|opendir|ioctl):$/ {
			c = $1; sub(/-[0-9]+$/, "", c); e = $5; sub(":", "", e)
			n = $0; sub(/.* name="/, "", n); sub(/".*/, "", n)
			by[e " by " c]++; of[e " of " n]++ }
		$5 == "sched_process_exec:" { f = $6; sub("filename=", "", f); ex["exec " f]++ }
		END {
			for (k in by) { split(k, w, " "); print w[1] " by|" by[k] "|" k }
			for (k in of) { split(k, w, " "); print w[1] " of|" of[k] "|" k }
			for (k in ex) print "exec|" ex[k] "|" k
		}' | sort -t '|' -k 1,1 -k 2,2nr | awk -F '|' '++n[$1] <= 25 { print "T", $2, $3 }'
fi
echo STATS-DONE
EOS

now() { date +%s.%N; }
# pss PID: "guest qemu" PSS in kB of timeout(1)'s child, QEMU: the guest's
# RAM mapping (the anonymous or memfd mapping of its memory size) plus the
# shared file under /dev/shm, and everything else
pss() {
	local q ramkb
	q=$(pgrep -P "$1" | head -n 1)
	ramkb=$(( $(numfmt --from=iec "$mem") / 1024 ))
	awk -v ram="$ramkb" '
		/^[0-9a-f]+-[0-9a-f]+ / { path = $6; anon = (path == "" || path ~ /^\/memfd:/)
			guest = (path ~ /^\/dev\/shm\//) }
		/^Size:/ { if (anon && $2 >= ram && $2 <= ram + 4096) guest = 1 }
		/^Pss:/ { if (guest) g += $2; else o += $2 }
		END { print g + 0, o + 0 }' "/proc/$q/smaps" 2>/dev/null
}

# row_fmt: one row of the table (per guest, and the medians).
row_fmt='%-11s %3s %3s %8.1f %6.1f %6.1f %6.1f %8.1f %6.1f %6.1f %7.1f %7.1f %7.1f %7.2f %7.2f %7.2f %8.2f %7.2f %7.2f %7.2f %7.2f %7.1f\n'
header() {
	printf '%-11s %3s %3s %8s %6s %6s %6s %8s %6s %6s %7s %7s %7s %7s %7s %7s %8s %7s %7s %7s %7s %7s\n' variant r g \
		python_s kern_s initrd_s user_s hostPSS hostd hcache total_M used_M avail_M usr_M memmap \
		usrcache devcache daemon held slab bfiles kslab
}

# variant_args V: the guest_boot options of variant V (in the array args),
# preparing its files the first time.
variant_args() {
	args=()
	case $1 in
	xipfs) args=("${xipfs_opts[@]}") ;;
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
	virtiofs)
		if [ -z "$usrro" ]; then
			root_with_fstab "$1" "usr /usr virtiofs ro 0 0" || return 1
			mkdir -p "$BW/usr-ro" &&
				mount --bind "$GUEST_CACHE/root/usr" "$BW/usr-ro" || return 1
			usrro=$BW/usr-ro
			mount -o remount,bind,ro "$usrro" || return 1
		fi
		# The same host page cache at each fleet's start: none of /usr.
		host_cache drop "$usrro"
		args=(--no-usr --root "$BW/root-$1.img"
			--qemu-arg "-object memory-backend-memfd,id=mem,size=$mem,share=on"
			--qemu-arg "-machine memory-backend=mem")
		;;
	*) echo "fleet-guest.sh: unknown variant $1" >&2; return 1 ;;
	esac
}

# fleet V R: boot variant V's guests at once (round R), print a row per
# guest (also kept in $BW/rows), and stop them.
fleet() {
	local v=$1 r=$2 g d deadline done_all p q h rinit hc=0 gargs
	variant_args "$v" || exit 1
	pids=
	for g in $(seq 1 "$guests"); do
		d=$BW/$v/$r/$g
		mkdir -p "$d"
		gargs=()
		if [ "$v" = virtiofs ]; then
			vfsd_start "$d"
			gargs=(--qemu-arg "-chardev socket,id=vfs,path=$d/vfsd.sock"
				--qemu-arg "-device vhost-user-fs-pci,chardev=vfs,tag=usr")
		fi
		now >"$d/start"
		guest_boot --background --mem "$mem" --append "xipfs.run=keep${FLEET_APPEND:+ $FLEET_APPEND}" --timeout 1500 \
			"${smp_args[@]}" "${args[@]}" "${gargs[@]}" "$BW/run.sh" "$d"
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
				echo "$(pss "$(cat "$d/pid")") $(tree_pss "$(cat "$d/vfsd" 2>/dev/null)")" >"$d/pss"
			fi
			# done: its figures are out, or the guest is gone
			grep -q STATS-DONE "$d/run.out" 2>/dev/null ||
				! kill -0 "$(cat "$d/pid")" 2>/dev/null || done_all=0
		done
		[ $done_all -eq 1 ] && break
		sleep 0.2
	done
	[ "$v" = virtiofs ] && hc=$(host_cache count "$usrro")
	for g in $(seq 1 "$guests"); do
		d=$BW/$v/$r/$g
		p='' h=''
		read -r p q h <"$d/pss" 2>/dev/null
		tr -d '\r' <"$d/run.out" >"$d/run.txt"
		if ! grep -q STATS-DONE "$d/run.txt"; then
			echo "fleet-guest.sh: $v round $r guest $g gave no figures; console tail:" >&2
			tail -n 15 "$d/console.log" >&2
			continue
		fi
		# usr_M, the guest's cost of hosting /usr: the device's memmap,
		# /usr's page cache and its device's, the daemon's anonymous
		# memory, page tables and kept initramfs files, the file
		# system's inodes and xipfs's backing files (the header says
		# which objects).
		# The kernel's part: until it ran the initramfs's /init.
		rinit=$(tr -d '\r' <"$d/console.log" |
			sed -n 's/^\[ *\([0-9.]*\)\] Run \/init as init process.*/\1/p' | head -n 1)
		awk -v v="$v" -v r="$r" -v g="$g" -v t="$(cat "$d/python" 2>/dev/null || echo nan)" \
			-v p="${p:-0}" -v h="${h:-0}" -v hc="$((hc / guests))" -v rinit="${rinit:-0}" \
			-v fmt="$row_fmt" '
			$1 == "k" { k[$2] = $3 }
			$1 == "S" { n[$2] = $3 }
			END {
				m = 1024
				daemon = k["d_Anonymous"] + k["d_VmPTE"]
				lsm = k["sz_lsm_inode_cache"]
				slab = n["fuse_inode"] * (k["sz_fuse_inode"] + lsm + k["sz_kmalloc-cg-32"])
				slab = (slab + n["erofs_inode"] * (k["sz_erofs_inode"] + lsm)) / m
				bfile = k["sz_inode_cache"] + k["sz_dentry"] + k["sz_filp"] + lsm
				bfile += k["sz_lsm_file_cache"] + k["sz_cred"] + k["sz_kmalloc-cg-16"]
				bfile += k["sz_kmalloc-64"] + k["sz_kmalloc-cg-64"]
				bfiles = k["xip_files"] * bfile / m
				if (!("usrcache" in k))
					k["usrcache"] = k["usrcache_est"]
				usr = k["memmap"] + k["usrcache"] + k["devcache"] + daemon + k["d_held"] + slab + bfiles
				ird = rinit * 1000; usp = k["UserspaceTimestampMonotonic"]
				printf fmt, v, r, g, t, ird / 1000, (usp - ird) / 1000, (k["uptime_ms"] - usp) / 1000,
					(p + h) / m, h / m, hc / m, k["MemTotal"] / m, (k["MemTotal"] - k["MemFree"]) / m,
					(k["MemTotal"] - k["MemAvailable"]) / m, usr / m, k["memmap"] / m,
					k["usrcache"] / m, k["devcache"] / m, daemon / m, k["d_held"] / m, slab / m,
					bfiles / m, k["Slab"] / m
			}' "$d/run.txt" | tee -a "$BW/rows"
		sed -n 's/^\(fuse\|erofs\|virtiofs\)[^ ]* /    \/usr: &/p' "$d/run.txt" | head -n 1 >&2
	done
	if [ -n "${FLEET_KEEP:-}" ]; then
		mkdir -p "$FLEET_KEEP/$v"
		for g in $(seq 1 "$guests"); do
			cp "$BW/$v/$r/$g/run.txt" "$FLEET_KEEP/$v/run-r$r-$g.txt" 2>/dev/null
			cp "$BW/$v/$r/$g/console.log" "$FLEET_KEEP/$v/console-r$r-$g.log" 2>/dev/null
			cp "$BW/$v/$r/$g/vfsd.log" "$FLEET_KEEP/$v/virtiofsd-r$r-$g.log" 2>/dev/null
		done
	fi
	for p in $pids; do kill "$p" 2>/dev/null; done
	vfsd_stop
	wait 2>/dev/null
	pids=
}

# median: the median of the numbers on stdin ("nan" and blank lines left out).
median() {
	grep -v -e nan -e '^$' | sort -g |
		awk '{ a[NR] = $1 } END { if (NR) print (a[int((NR + 1) / 2)] + a[int(NR / 2) + 1]) / 2; else print "nan" }'
}

# kdiff: the guests' kernel memory by slab cache (slab pages, from
# /proc/slabinfo) and by /proc/meminfo line, each variant's median over its
# guests (KiB), wherever a variant's differs from the first variant's by
# 32 KiB or more: the whole difference, of which usr_M attributes a part.
kdiff() {
	local v f
	for v in $variants; do
		for f in "$BW/$v"/*/*/run.txt; do
			grep -q STATS-DONE "$f" 2>/dev/null || continue
			awk -v v="$v" '$1 == "S" { print v, "slab:" $2, $5 }
				$1 == "M" && $2 ~ /^(Slab|SReclaimable|SUnreclaim|PageTables|KernelStack|Percpu|VmallocUsed|Buffers|Cached|Shmem|AnonPages)$/ {
					print v, $2, $3 }' "$f"
		done
	done | LC_ALL=C sort -k1,1 -k2,2 -k3,3g | awk -v vs="$variants" '
		function flush() {
			if (n)
				med[key] = (a[int((n + 1) / 2)] + a[int(n / 2) + 1]) / 2
			n = 0
		}
		{ k = $1 SUBSEP $2; if (k != key) { flush(); key = k }; a[++n] = $3; names[$2] = 1 }
		END {
			flush()
			nv = split(vs, V, " ")
			for (c in names) {
				show = 0
				for (i = 2; i <= nv; i++) {
					d = med[V[i], c] - med[V[1], c]
					if (d >= 32 || d <= -32)
						show = 1
				}
				if (!show)
					continue
				printf "%-28s", c
				for (i = 1; i <= nv; i++)
					printf " %10.0f", med[V[i], c]
				printf "\n"
			}
		}' | LC_ALL=C sort
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
	for c in $(seq 4 22); do
		cols="$cols $(awk -v v="$v" -v c="$c" '$1 == v { print $c }' "$BW/rows" | median)"
	done
	# shellcheck disable=SC2059,SC2086
	printf "$row_fmt" "$v" med "$n" $cols
done
echo "# the guest kernel's memory where a variant differs from $(echo "$variants" | awk '{ print $1 }') by 32 KiB or more" \
	"(KiB, medians; slab: a cache's slab pages; the rest /proc/meminfo)"
printf '%-28s' memory
for v in $variants; do printf ' %10s' "$v"; done
echo
kdiff
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
		printf ' %7.3f\n' "$(printf '%s\n' $ratios | median)"
	done
fi
echo "# MiB per guest. total_M: MemTotal; used_M: MemTotal - MemFree; avail_M: MemTotal - MemAvailable; usr_M: what" \
	"hosting /usr costs the guest = memmap (nr_memmap_pages: the pmem device's struct pages)" \
	"+ usrcache (page cache of /usr's files but /usr/src, mincore; on virtiofs Cached - Shmem - the" \
	"root disk's files' page cache, since virtiofsd cannot hold a descriptor for every file of /usr" \
	"within this host's open-file limit) + daemon (the xipfs" \
	"daemon's anonymous memory and page tables) + held (initramfs files the daemon keeps in RAM)" \
	"+ devcache (page cache of /usr's block device: EROFS's metadata) + slab (the fs's inodes:" \
	"fuse_inode or erofs_inode, with their LSM blobs) + bfiles (xipfs's backing files: inode," \
	"dentry, file, FUSE's and xipmap's records); kslab: the guest's whole Slab.  python_s: from QEMU's start to python3's" \
	"answer; kern_s, initrd_s, user_s: the guest's clock until the initramfs, in it, and from" \
	"systemd's start in the real root to python3"
echo "# hostPSS: the guest's RAM and the segment/pmem file shared by all guests of a variant (its" \
	"pages split among the guests mapping them), without QEMU's own memory, plus hostd: its" \
	"virtiofsd's whole PSS; hcache: the host page cache of the tree virtiofsd served, per guest" \
	"(in no PSS).  r: the round (variants interleaved, the order reversed every other round);" \
	"other work ran on this host at the same time (TCG, $(nproc) cores; $smp vCPU per guest$(
	[ "$smp" = 1 ] || echo ", thread=single, the xipfs daemon on vCPU $((smp - 1))"))"
