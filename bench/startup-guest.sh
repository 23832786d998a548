#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# python3 start plus 9 stdlib imports inside a TCG guest (Debian's
# /usr/bin/python3, PYTHONHOME on each mount): the guest's tmpfs, an XIP
# mount of the image shared as an ivshmem segment (the daemon's default
# single-threaded loop, and -o mt), the same segment mounted xip=off, and
# the peer: EROFS (mkfs.erofs -Enoinline_data) on a virtio-pmem device
# backed by a shared host file, mounted dax=always.  Interleaved sweeps as
# in bench/startup.py, with the CPU time of each start; then the FUSE
# requests of one cold and one warm start by type with the daemon's time
# per request (-o stats), XIP and xip=off, and the cost of single calls.
# Needs a passthrough build (libfuse >= 3.17), the guest kernel of
# tests/vm (tests/vm/README.md) and mkfs.erofs.
#
#   make bench-startup-guest           # ROUNDS=7 RUNS=3 by default
#   ICOUNT=0 make bench-startup-guest  # guest time counts instructions
#   SMP=2 make bench-startup-guest     # daemons on a vCPU of their own
#
# XIP_IDLE="N ..." adds, for each N, an XIP mount with -o xip_idle=N to the
# sweeps (xip-idleN) and the requests of its cold and warm start (OPEN's
# time includes making a backing file): what a smaller cache of closed
# files' backing files costs each start that finds its files dropped.
#
# Other work on the machine makes TCG timings noisy: compare the ratios of
# one run, not absolute times across runs.  ICOUNT=N runs QEMU with
# -icount shift=N: the guest's clock advances 2^N ns an instruction while
# it runs (and with the host's clock only while it idles, waiting for 9p),
# so host load no longer stretches it, and the table compares the work
# each variant makes the guest do.  Without it, TCG's own cost of a
# context switch (its TLB flushed and refilled) weighs on every FUSE round
# trip: an ioctl took 650 us more than on tmpfs in one run, and 26 us of
# instructions under -icount.
#
# SMP=N (N >= 2) is the guest configuration that avoids those switches: N
# vCPUs, every daemon on the last (xipfs -o cpus), python and the peers
# pinned to the others alike.  A request then wakes the daemon on its own
# vCPU, and neither vCPU changes address space.  QEMU runs all vCPUs in one
# host thread (-accel tcg,thread=single) then: with a thread each, waking
# the idle vCPU waits for the host to run its thread, milliseconds on a
# loaded 2-CPU host, where one thread hands over for nothing.
set -u
: "${top_srcdir:?run through make bench-startup-guest}"
. "$top_srcdir/tests/vm/xip-lib.sh"
[ "$(id -u)" -eq 0 ] || vm_skip "bench/startup-guest.sh needs root"
command -v mkfs.erofs >/dev/null || vm_skip "mkfs.erofs not found (contrib/install-deps.sh)"
xip_prepare
ROUNDS=${ROUNDS:-7}
RUNS=${RUNS:-3}
SMP=${SMP:-1}
case $SMP in
1) dcpu= pin= ;;
[2-9]) dcpu=,cpus=$((SMP - 1)) pin="taskset -c 0-$((SMP - 2))" ;;
*) echo "bench/startup-guest.sh: SMP=$SMP: expected 1 to 9" >&2; exit 2 ;;
esac
dir=$(mktemp -d "$top_builddir/bench-startup-guest.XXXXXX") || exit 1
pmem=$(mktemp /dev/shm/xipfs-bench-pmem.XXXXXX) || exit 1
trap 'rm -rf "$dir" "$pmem"' EXIT
cp "$XIP_SEG" "$dir/seg" || exit 1
# Inline tails would turn DAX off for the files that have them.
mkfs.erofs --quiet -Enoinline_data "$dir/erofs" "$XIP_TREE" >/dev/null || exit 1
vm_pmem_file "$dir/erofs" "$pmem" || exit 1
vm_modules
py="$pin /usr/bin/python3 $top_srcdir/bench/startup.py"
idle_mounts= idle_sweep= idle_requests= idle_umount=
for n in ${XIP_IDLE:-}; do
	case $n in
	*[!0-9]*) echo "bench/startup-guest.sh: XIP_IDLE=$XIP_IDLE: expected counts" >&2; exit 2 ;;
	esac
	idle_mounts="$idle_mounts
$(xip_mount_cmd i$n /tmp/i$n xip=on,xip_idle=$n$dcpu "ivshmem:$XIP_UUID")
$(xip_mount_cmd si$n /tmp/si$n xip=on,stats,xip_idle=$n$dcpu "ivshmem:$XIP_UUID")"
	idle_sweep="$idle_sweep xip-idle$n=/tmp/i$n/usr@\$(cat i$n.pid)"
	idle_requests="$idle_requests
echo
echo \"== the same, XIP with -o xip_idle=$n\"
$py requests /tmp/si$n/usr \$(cat si$n.pid) si$n.log || exit 1"
	idle_umount="$idle_umount i$n si$n"
done

cat >"$dir/guest.sh" <<EOF
PATH=/usr/sbin:/usr/bin:/sbin:/bin
$(xip_guest_lib)
insmod $XIPMAP_KO || exit 1
$(xip_mount_cmd a /tmp/a xip=on$dcpu "ivshmem:$XIP_UUID")
$(xip_mount_cmd m /tmp/m xip=on,mt$dcpu "ivshmem:$XIP_UUID")
$(xip_mount_cmd c /tmp/c xip=off$dcpu "ivshmem:$XIP_UUID")
$(xip_mount_cmd sa /tmp/sa xip=on,stats$dcpu "ivshmem:$XIP_UUID")
$(xip_mount_cmd sc /tmp/sc xip=off,stats$dcpu "ivshmem:$XIP_UUID")$idle_mounts
$(vm_erofs_dax_cmd /tmp/e)
mkdir -p /tmp/t
mount -t tmpfs -o size=512m tmpfs /tmp/t || exit 1
cp -a $XIP_TREE/usr /tmp/t/ || exit 1
# The host's /proc, under the guest's own: QEMU's vCPU threads for
# startup.py (XIPFS_VM_TASKS).
mkdir -p /tmp/h && mount --bind / /tmp/h || exit 1
for p in /tmp/h/proc/[0-9]*; do
	[ "\$(cat \$p/comm 2>/dev/null)" = qemu-system-x86 ] &&
		tr '\\0' ' ' <\$p/cmdline 2>/dev/null | grep -q "xipfs.work=\$PWD " &&
		export XIPFS_VM_TASKS=\$p/task
done
[ -n "\${XIPFS_VM_TASKS:-}" ] || { echo "FAIL: QEMU's process not found in the host's /proc"; exit 1; }
echo "== python3 start + 9 imports in the guest ($SMP vCPU${pin:+, daemons on vCPU $((SMP - 1)), python on the others}), $ROUNDS rounds of $RUNS interleaved sweeps"
$py $ROUNDS $RUNS tmpfs=/tmp/t/usr xip=/tmp/a/usr@\$(cat a.pid) xip-mt=/tmp/m/usr@\$(cat m.pid) \
	xip-off=/tmp/c/usr@\$(cat c.pid) erofs-dax=/tmp/e/usr$idle_sweep || exit 1
echo
echo "== FUSE requests of one python start in the guest, XIP (xipfs -o stats)"
$py requests /tmp/sa/usr \$(cat sa.pid) sa.log || exit 1
echo
echo "== the same, xip=off"
$py requests /tmp/sc/usr \$(cat sc.pid) sc.log || exit 1$idle_requests
echo
echo "== per-call cost in the guest"
$py latency $ROUNDS tmpfs=/tmp/t xip=/tmp/a xip-mt=/tmp/m xip-off=/tmp/c erofs-dax=/tmp/e || exit 1
for m in a m c sa sc$idle_umount; do umount /tmp/\$m || exit 1; done
umount /tmp/e
umount /tmp/h
EOF
# The machine is shared: give the guest (QEMU's vCPU thread) the first
# claim on a CPU, as bench/startup.sh does for its runs, so that the
# guest's clock, which is the host's, counts less of other work.
renice -n -20 $$ >/dev/null
set -- --qemu-arg "$(vm_pmem_qemu "$pmem")" --qemu-arg "-name startup-guest,debug-threads=on"
[ -z "${ICOUNT:-}" ] || set -- "$@" --qemu-arg "-icount shift=$ICOUNT"
[ "$SMP" = 1 ] || set -- "$@" --smp "$SMP" --accel tcg,thread=single
vm_boot --name startup-guest --mem 1024M,slots=2,maxmem=4G --timeout 3600 --work "$dir" \
	--ivshmem "$dir/seg" "$@" -- ". ./guest.sh"
