# SPDX-License-Identifier: GPL-2.0-or-later
# tests/vm/lib.sh: boot QEMU test guests that run host programs as root.
#
# Source it from a test script (sh, bash or dash):
#
#	. "$top_srcdir/tests/vm/lib.sh"
#	vm_require                    # exit 77 with a message if no qemu/kernel
#	out=$(vm_boot -- 'uname -r')  # run a command in a guest
#
# vm_require
#	Checks for qemu-system-x86_64 and the guest kernel (fetched once into
#	a cache by tests/vm/fetch-kernel.sh, see there), builds the initramfs
#	(cached), and sets VM_KVER (e.g. 6.12.117+deb12-amd64), VM_KDIR (the
#	headers for `make -C $VM_KDIR M=... modules`), VM_KERNEL, VM_INITRD.
#	Exits 77 with a message when something is missing (1 when
#	XIPFS_NO_SKIP is set, as in CI).
#
# vm_boot [OPTIONS] -- SCRIPT...
#	Boots a guest under TCG that runs SCRIPT (the remaining arguments,
#	joined by spaces, as /bin/sh script text) as root inside a chroot of the
#	HOST ROOT (read-only 9p, so every host binary, library and build product
#	is reachable by its host path), with fresh proc, sys, devtmpfs, devpts
#	and tmpfs on /tmp, /run and /dev/shm.  The cwd is a per-run WORK
#	directory, writable, shared with the host and mounted in the guest at
#	the same path as on the host ($PWD in SCRIPT); put anything the guest
#	must write or the host must read back there.  /dev/fuse exists (FUSE is
#	built in); insmod is the host's kmod (insmod /path/to/xipmap.ko).
#	Prints the script's stdout on stdout and its stderr on stderr; returns
#	the script's exit status, or 1 (with the log tail on stderr) when the
#	guest did not finish within the timeout, the guest failed to set up, or
#	the kernel log shows WARNING/BUG/Oops/Call Trace/panic.
#	Options:
#	  --mem SIZE         guest RAM (default 512M)
#	  --smp N            vCPUs (default $XIPFS_VM_SMP or 1)
#	  --accel ACCEL      QEMU's -accel argument (default tcg), e.g.
#	                     tcg,thread=single: every vCPU in one host thread
#	  --timeout SEC      kill the guest after SEC s (default $XIPFS_VM_TIMEOUT or 180)
#	  --name NAME        names the log file (default vm); use distinct names for
#	                     guests running at once
#	  --work DIR         use DIR (must exist) as the work directory and keep
#	                     it; default: a fresh directory in the log directory,
#	                     removed afterwards (XIPFS_VM_KEEP=1 keeps it).  The
#	                     guest's /tmp, /run and /dev/shm are fresh tmpfs, so
#	                     host files there are not visible in the guest (a
#	                     work dir there still is)
#	  --ivshmem FILE[,FILE...]
#	                     give each FILE to the guest as a QEMU ivshmem-plain
#	                     PCI device (1af4:1110), share=on,readonly=on, BAR 2 =
#	                     the file; its size must be a power of two (truncate
#	                     -s it up); devices appear in the order given
#	  --no-klog-check    do not fail on WARNING/BUG/... in the kernel log
#	  --qemu-arg ARG     extra QEMU argument (repeatable)
#	  --append ARG       extra kernel command line argument (repeatable)
#	After the run the log file ($VM_LOG, kept) holds the console output,
#	the script's stdout/stderr, its status and the guest's dmesg.
#	Logs go to $XIPFS_VM_LOGDIR, else $top_builddir/tests/vm/logs, else
#	/tmp.  Several vm_boot calls may run at once (`vm_boot ... &` and
#	`wait`), each with its own --name.
#
# Helpers, each described where it is defined: vm_workdir (a test's
# directory), vm_pow2, vm_modules (the guest kernel's own modules, for
# modprobe -d in a guest), vm_pmem_file, vm_pmem_qemu, vm_pmem_cmd and
# vm_erofs_dax_cmd (a virtio-pmem device, EROFS DAX on it).
#
# Environment: XIPFS_VM_CACHE (kernel cache, default /var/cache/xipfs-vm),
# XIPFS_VM_KVER (pin a kernel version), XIPFS_VM_TIMEOUT, XIPFS_VM_SMP,
# XIPFS_VM_LOGDIR, XIPFS_VM_KEEP=1 (keep work directories).

vm_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/vm

# A TCG guest on a busy host can go 20 s without running a kthread: RCU
# stall and soft-lockup reports (with stack dumps) would then fail a test
# that did nothing wrong.  Real hangs are still caught by vm_boot's timeout.
# no_timer_check: a loaded host can also delay the 8254 timer past the
# kernel's IO-APIC timer check, which then panics at boot ("IO-APIC + timer
# doesn't work").
# cryptomgr.notests: the crypto self-tests at boot seed the DRBG from the
# jitter entropy source, whose health test fails when the host starves the
# guest; testmgr then logs a WARNING ("drbg: Failed to reset rng") that
# fails the test, though nothing of ours had run yet.
VM_KERNEL_ARGS="rcupdate.rcu_cpu_stall_suppress=1 nowatchdog no_timer_check cryptomgr.notests"

# In CI (XIPFS_NO_SKIP=1) everything is provided, so a skip is a failure.
vm_skip() {
	echo "SKIP: $*" >&2
	if [ -n "${XIPFS_NO_SKIP:-}" ]; then
		echo "FAIL: skipping is not allowed here (XIPFS_NO_SKIP)" >&2
		exit 1
	fi
	exit 77
}

# bench_smoke SCRIPT [VAR=VALUE...]: a smoke test's run of bench/SCRIPT
# with those variables: its output printed and kept in $out, its status in
# $rc; a skip of the bench (77) is the test's.  Then ck NAME CONDITION
# checks one thing (eval'd; fail=1 if it does not hold), the first being
# that the bench succeeded; the test ends with exit $fail.
bench_smoke() {
	local script=$1
	shift
	out=$(env "$@" bash "$top_srcdir/bench/$script" 2>&1)
	rc=$?
	echo "$out"
	[ $rc = 77 ] && exit 77
	fail=0
	ck "bench/$script succeeded" "[ $rc = 0 ]"
}
ck() { if eval "$2"; then echo "ok: $1"; else echo "FAIL: $1"; fail=1; fi; }

vm_require() {
	command -v qemu-system-x86_64 >/dev/null ||
		vm_skip "qemu-system-x86_64 not found (apt-get install qemu-system-x86)"
	command -v cpio >/dev/null || vm_skip "cpio not found (apt-get install cpio)"
	[ -x /bin/busybox ] || vm_skip "/bin/busybox not found (apt-get install busybox-static)"
	vm_rc=0
	vm_dir=$("$vm_srcdir/fetch-kernel.sh" --print-dir) || vm_rc=$?
	case $vm_rc in
	0) ;;
	77) vm_skip "guest kernel not available (tests/vm/fetch-kernel.sh)" ;;
	*) echo "ERROR: tests/vm/fetch-kernel.sh failed" >&2; exit 99 ;;
	esac
	VM_KVER=${vm_dir##*/}
	VM_KDIR=$vm_dir/root/usr/src/linux-headers-$VM_KVER
	VM_KERNEL=$vm_dir/root/boot/vmlinuz-$VM_KVER
	vm_initrd || exit 99
}

# Build (once per /init version) the initramfs: static busybox, /init and the
# 9p modules, decompressed so busybox insmod can load them.
vm_initrd() {
	vm_sum=$(cat "$vm_srcdir/guest-init.sh" /bin/busybox | sha256sum | cut -c1-16)
	VM_INITRD=$vm_dir/initramfs-$vm_sum.cpio.gz
	[ -s "$VM_INITRD" ] && return 0
	vm_t=$(mktemp -d) || return 1
	mkdir -p "$vm_t/bin" "$vm_t/lib/modules" "$vm_t/proc" "$vm_t/sys" \
		"$vm_t/dev" "$vm_t/tmp" "$vm_t/host"
	cp /bin/busybox "$vm_t/bin/busybox"
	cp "$vm_srcdir/guest-init.sh" "$vm_t/init"
	chmod 755 "$vm_t/init"
	for vm_m in fs/netfs/netfs net/9p/9pnet net/9p/9pnet_virtio fs/9p/9p; do
		vm_f=$vm_dir/root/lib/modules/$VM_KVER/kernel/$vm_m.ko
		if [ -e "$vm_f.xz" ]; then
			xz -dc "$vm_f.xz" >"$vm_t/lib/modules/${vm_m##*/}.ko"
		elif [ -e "$vm_f" ]; then
			cp "$vm_f" "$vm_t/lib/modules/"
		fi
	done
	(cd "$vm_t" && find . | cpio -o -H newc --quiet | gzip -1) >"$VM_INITRD.tmp.$$" &&
		mv "$VM_INITRD.tmp.$$" "$VM_INITRD"
	vm_rc=$?
	rm -rf "$vm_t"
	return $vm_rc
}

# Smallest power of two >= $1.
vm_pow2() {
	vm_p=1
	while [ "$vm_p" -lt "$1" ]; do
		vm_p=$((vm_p * 2))
	done
	echo "$vm_p"
}

# vm_workdir NAME: sets dir to a fresh directory under
# $top_builddir/tests/vm (for a test's files and its guests' work
# directories), removed on exit; exits 99 if it cannot be made.  A test that
# must clean up more sets its own EXIT trap afterwards.
vm_workdir() {
	dir=$(mktemp -d "${top_builddir:?}/tests/vm/$1.XXXXXX") || exit 99
	trap 'rm -rf "$dir"' EXIT
}

# vm_modules: sets VM_MODROOT, the root of the guest kernel's module tree, so
# that a guest can load the kernel's own modules (virtio-pmem, erofs,
# virtio_blk, ...) with `modprobe -d $VM_MODROOT`; runs depmod there once.
vm_modules() {
	VM_MODROOT=$(dirname "$(dirname "$VM_KDIR")")
	VM_MODROOT=${VM_MODROOT%/usr}
	[ -f "$VM_MODROOT/lib/modules/$VM_KVER/modules.dep" ] ||
		depmod -b "$VM_MODROOT" "$VM_KVER" || exit 99
}

# vm_pmem_file SRC DEST: copy SRC to DEST padded to a multiple of 2 MiB,
# the size a virtio-pmem device needs.
vm_pmem_file() {
	cp "$1" "$2" || return 1
	vm_sz=$(stat -c %s "$2")
	truncate -s $(((vm_sz + 2097151) / 2097152 * 2097152)) "$2"
}

# vm_pmem_qemu FILE [MORE]: the QEMU arguments (one string, for vm_boot
# --qemu-arg or guest_boot --qemu-arg) of a virtio-pmem device on FILE,
# share=on, MORE appended to the memory backend (e.g. ",readonly=on").  The
# guest needs --mem SIZE,slots=2,maxmem=... for it.
vm_pmem_qemu() {
	echo "-object memory-backend-file,id=pm0,mem-path=$1,size=$(stat -c %s "$1"),share=on${2:-} -device virtio-pmem-pci,memdev=pm0"
}

# vm_pmem_cmd [MODULES...]: guest script text (after vm_modules) that loads
# MODULES and the kernel's virtio-pmem driver (virtio_pmem, nd_pmem) and
# waits for /dev/pmem0.
vm_pmem_cmd() {
	cat <<EOF
modprobe -d $VM_MODROOT -a $* libnvdimm nd_pmem nd_virtio virtio_pmem || exit 1
i=0; while [ ! -b /dev/pmem0 ] && [ \$i -lt 100 ]; do sleep 0.1; i=\$((i+1)); done
EOF
}

# vm_erofs_dax_cmd DIR: guest script text that mounts the EROFS image of
# the virtio-pmem device at DIR with -o dax=always (the in-kernel way to
# share host pages) and fails the script unless the mount is a DAX one.
vm_erofs_dax_cmd() {
	vm_pmem_cmd crc32c_generic libcrc32c erofs nd_btt
	cat <<EOF
mkdir -p $1 && mount -t erofs -o ro,dax=always /dev/pmem0 $1 || exit 1
if [ "\$(cat /sys/block/pmem0/queue/dax)" = 1 ] && grep -q ' $1 erofs .*dax=always' /proc/mounts; then
	echo "ok: erofs on /dev/pmem0 is a DAX mount"
else
	echo "FAIL: erofs on /dev/pmem0 is not a DAX mount"; exit 1
fi
EOF
}

# The guest's /tmp is a fresh tmpfs: name the build and source trees when
# they live under /tmp (a checkout in /tmp) so the guest init binds them back.
vm_keep_arg() {
	local p keep=
	for p in "${top_builddir:-}" "${top_srcdir:-}"; do
		case $p in
		/tmp/?*) [ -d "$p" ] && keep=$keep${keep:+,}$(cd "$p" && pwd) ;;
		esac
	done
	[ -z "$keep" ] || printf ' xipfs.keep=%s' "$keep"
}

vm_boot() {
	[ -n "${VM_INITRD:-}" ] || vm_require
	vm_mem=512M
	vm_smp=${XIPFS_VM_SMP:-1}
	vm_accel=tcg
	vm_timeout=${XIPFS_VM_TIMEOUT:-180}
	vm_name=vm
	vm_work=
	vm_shm=
	vm_klog=1
	vm_extra=
	vm_append=
	while [ $# -gt 0 ]; do
		case $1 in
		--mem) vm_mem=$2; shift 2 ;;
		--smp) vm_smp=$2; shift 2 ;;
		--accel) vm_accel=$2; shift 2 ;;
		--timeout) vm_timeout=$2; shift 2 ;;
		--name) vm_name=$2; shift 2 ;;
		--work) vm_work=$2; shift 2 ;;
		--ivshmem) vm_shm=$2; shift 2 ;;
		--no-klog-check) vm_klog=; shift ;;
		--qemu-arg) vm_extra="$vm_extra $2"; shift 2 ;;
		--append) vm_append="$vm_append $2"; shift 2 ;;
		--) shift; break ;;
		*) echo "vm_boot: unknown option $1" >&2; return 2 ;;
		esac
	done
	vm_logdir=${XIPFS_VM_LOGDIR:-${top_builddir:+$top_builddir/tests/vm/logs}}
	vm_logdir=${vm_logdir:-/tmp}
	mkdir -p "$vm_logdir" || return 1
	VM_LOG=$(cd "$vm_logdir" && pwd)/$vm_name.log

	vm_own=
	if [ -z "$vm_work" ]; then
		vm_work=$(mktemp -d "$vm_logdir/$vm_name.work.XXXXXX") || return 1
		vm_own=1
	fi
	vm_work=$(cd "$vm_work" && pwd) || return 1
	case $vm_work in
	*[[:space:]]*) echo "vm_boot: work dir path has spaces: $vm_work" >&2; return 1 ;;
	esac
	rm -f "$vm_work/stdout" "$vm_work/stderr" "$vm_work/status" "$vm_work/dmesg"
	printf '%s\n' "$*" >"$vm_work/run.sh"

	# shellcheck disable=SC2086
	set -- -accel "$vm_accel" -cpu max -m "$vm_mem" -smp "$vm_smp" \
		-nodefaults -no-reboot -display none -monitor none \
		-serial "file:$vm_work/console" \
		-kernel "$VM_KERNEL" -initrd "$VM_INITRD" \
		-append "console=ttyS0 loglevel=5 panic=-1 $VM_KERNEL_ARGS$vm_append xipfs.work=$vm_work$(vm_keep_arg)" \
		-virtfs "local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap" \
		-virtfs "local,path=$vm_work,mount_tag=work,security_model=none" $vm_extra
	vm_i=0
	vm_oldifs=$IFS
	IFS=,
	for vm_f in $vm_shm; do
		IFS=$vm_oldifs
		vm_sz=$(stat -L -c %s "$vm_f") || return 1
		if [ "$(vm_pow2 "$vm_sz")" != "$vm_sz" ]; then
			echo "vm_boot: ivshmem $vm_f: size $vm_sz is not a power of two; truncate -s $(vm_pow2 "$vm_sz") it" >&2
			return 1
		fi
		set -- "$@" -object "memory-backend-file,id=seg$vm_i,mem-path=$vm_f,size=$vm_sz,share=on,readonly=on" \
			-device "ivshmem-plain,memdev=seg$vm_i"
		vm_i=$((vm_i + 1))
	done
	IFS=$vm_oldifs

	vm_t0=$(date +%s.%N)
	timeout -k 5 "$vm_timeout" qemu-system-x86_64 "$@" \
		</dev/null >"$vm_work/qemu.out" 2>&1
	vm_qrc=$?
	VM_SECONDS=$(echo "$(date +%s.%N) - $vm_t0" | bc)

	{
		echo "== qemu-system-x86_64 $* (exit $vm_qrc, ${VM_SECONDS}s)"
		cat "$vm_work/qemu.out"
		echo "== console"
		cat "$vm_work/console" 2>/dev/null
		echo "== stdout"
		cat "$vm_work/stdout" 2>/dev/null
		echo "== stderr"
		cat "$vm_work/stderr" 2>/dev/null
		echo "== status: $(cat "$vm_work/status" 2>/dev/null)"
		echo "== dmesg"
		cat "$vm_work/dmesg" 2>/dev/null
	} >"$VM_LOG"

	vm_rc=
	if [ -s "$vm_work/status" ]; then
		vm_rc=$(cat "$vm_work/status")
		cat "$vm_work/stdout" 2>/dev/null
		cat "$vm_work/stderr" >&2 2>/dev/null
	elif [ "$vm_qrc" -eq 124 ] || [ "$vm_qrc" -eq 137 ]; then
		echo "vm_boot: guest $vm_name did not finish within ${vm_timeout}s; log $VM_LOG:" >&2
	else
		echo "vm_boot: guest $vm_name stopped without a status (qemu exit $vm_qrc); log $VM_LOG:" >&2
	fi
	# dmesg holds the whole kernel log; the console only what passed loglevel.
	vm_klogf=$vm_work/dmesg
	[ -s "$vm_klogf" ] || vm_klogf=$vm_work/console
	if [ -n "$vm_rc" ] && [ -n "$vm_klog" ] &&
		grep -E 'WARNING:|BUG:|Oops|Call Trace|Kernel panic|general protection' \
			"$vm_klogf" >&2; then
		echo "vm_boot: guest $vm_name kernel log is not clean (above); log $VM_LOG" >&2
		vm_rc=1
	fi
	if [ -z "$vm_rc" ]; then
		tail -n 30 "$VM_LOG" >&2
		vm_rc=1
	fi
	if [ -n "$vm_own" ] && [ -z "${XIPFS_VM_KEEP:-}" ]; then
		rm -rf "$vm_work"
	fi
	return "$vm_rc"
}
