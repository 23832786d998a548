#!/bin/busybox sh
# SPDX-License-Identifier: GPL-2.0-or-later
# /init of the xipfs test guests' initramfs (built by tests/vm/lib.sh).
#
# The host root arrives read-only on 9p tag "hostroot", the per-run work
# directory read-write on tag "work"; the kernel command line names the work
# directory's host path (xipfs.work=PATH), and it is mounted at that same path
# inside the chroot so host and guest agree on every path.  The guest runs
# PATH/run.sh as root in `chroot /host` with cwd PATH, stores stdout, stderr,
# the exit status and the kernel log in PATH/{stdout,stderr,status,dmesg},
# prints "XIPFS-VM-EXIT=<status>" on the console and powers off.
/bin/busybox --install -s /bin
export PATH=/bin

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t tmpfs tmpfs /tmp

rc=
work=
keep=
for arg in $(cat /proc/cmdline); do
	case $arg in
	xipfs.work=*) work=${arg#xipfs.work=} ;;
	xipfs.keep=*) keep=${arg#xipfs.keep=} ;;
	esac
done

fail() {
	echo "xipfs-init: $*" >/dev/console
	rc=${rc:-125}
}

# Dependency order (modinfo -F depends): netfs <- 9pnet <- 9pnet_virtio, 9p.
for m in netfs 9pnet 9pnet_virtio 9p; do
	[ -e /lib/modules/$m.ko ] || continue
	insmod /lib/modules/$m.ko || fail "insmod $m failed"
done

o=trans=virtio,version=9p2000.L,msize=262144,cache=none
mkdir -p /host
mount -t 9p -o "$o,ro" hostroot /host || fail "cannot mount the host root (9p tag hostroot)"
if [ -z "$rc" ]; then
	mount -t proc proc /host/proc &&
	mount -t sysfs sysfs /host/sys &&
	mount -t devtmpfs devtmpfs /host/dev &&
	mkdir -p /dev/pts /dev/shm /hosttmp &&
	mount -t devpts devpts /host/dev/pts &&
	mount -t tmpfs tmpfs /host/dev/shm &&
	mount --bind /host/tmp /hosttmp &&
	mount -t tmpfs tmpfs /host/tmp &&
	mount -t tmpfs tmpfs /host/run ||
		fail "cannot mount proc/sys/dev/tmpfs inside /host"
fi
# Host directories under /tmp that the tests need (the build and source
# trees, when they live there: xipfs.keep=P1,P2), back over the fresh tmpfs,
# read-only.
if [ -z "$rc" ] && [ -n "$keep" ]; then
	for p in $(echo "$keep" | tr , ' '); do
		case $p in
		/tmp/?*)
			mkdir -p "/host$p" &&
			mount --bind "/hosttmp/${p#/tmp/}" "/host$p" ||
				fail "cannot expose $p in the guest" ;;
		esac
	done
fi
if [ -z "$rc" ]; then
	[ -n "$work" ] || fail "no xipfs.work=PATH on the kernel command line"
fi
if [ -z "$rc" ]; then
	mkdir -p "/host$work" 2>/dev/null
	mount -t 9p -o "$o,rw" work "/host$work" ||
		fail "cannot mount the work directory (9p tag work) on $work"
fi
if [ -z "$rc" ]; then
	chroot /host /bin/sh -c 'cd "$1" && exec /bin/sh ./run.sh' sh "$work" \
		>"/host$work/stdout" 2>"/host$work/stderr" </dev/null
	rc=$?
	echo "$rc" >"/host$work/status"
	dmesg >"/host$work/dmesg"
	sync
fi
echo "XIPFS-VM-EXIT=$rc" >/dev/console
poweroff -f
echo o >/proc/sysrq-trigger
