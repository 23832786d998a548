# SPDX-License-Identifier: GPL-2.0-or-later
# shellcheck shell=sh
# tests/vm/guest-lib.sh: boot the real Debian 13 guest of
# contrib/build-guest.sh (its own kernel, initramfs and root disk; /usr an
# xipfs image the host shares), for tests/vm/090-thin-guest.sh and
# bench/fleet-guest.sh.
#
#	. "$top_srcdir/tests/vm/guest-lib.sh"
#	guest_require          # skip unless the guest is built; sets GUEST_CACHE,
#	                       # GUEST_UUID (the /usr image's), GUEST_SEG
#	guest_require_root     # the same for the whole-root image: sets
#	                       # GUEST_ROOT_UUID, GUEST_ROOT_SEG
#	guest_boot [OPTIONS] SCRIPT DIR
#	guest_verdict $? DIR WHAT  # after guest_boot: its status, and the
#	                       # shutdown of the guest whose WHAT (/usr, /) is
#	                       # xipfs
#
# guest_require: the guest is built by contrib/build-guest.sh into
# $XIPFS_GUEST_CACHE (default /var/cache/xipfs-guest); it exits 77 (1 with
# XIPFS_NO_SKIP) when it is missing.  GUEST_SEG is the /usr image as an
# ivshmem segment file in /dev/shm (contrib/xipfs-vm-segment.sh), recorded
# in $GUEST_CACHE/usr.seg: one per guest cache, the previous build's is
# removed when a rebuilt guest gets its own.  guest_require_root does the
# same for root.xipfs (the whole tree, for boot=xipfs xipfs.root=), recorded
# in root.seg.
#
# guest_boot boots the guest under TCG (with lib.sh's VM_KERNEL_ARGS, for a
# loaded host) with its root disk as a snapshot (the guest's writes are
# thrown away), /usr from the segment
# (xipfs.usr=ivshmem:GUEST_UUID unless --append gives other usr= options)
# or, with --xipfs-root, no disk and the whole root from the root segment,
# and SCRIPT (a host file) run as root once the guest is up
# (xipfs-guest-run.service), after which the guest powers off.  DIR (made
# if needed) gets console.log (the kernel console), run.out (SCRIPT's
# output) and qemu.out.  Prints SCRIPT's output; returns SCRIPT's status, or
# 1 when the guest did not finish within the timeout, did not power off, or
# its kernel log has WARNING/BUG/Oops/Call Trace/panic.  GUEST_SECONDS is
# the run's wall time.
# Options:
#   --name N         a name for messages (default guest)
#   --mem SIZE       guest RAM (default 512M)
#   --append ARGS    more kernel command line (repeatable)
#   --no-usr         no xipfs.usr= argument (and no /usr segment device)
#   --xipfs-root     boot=xipfs xipfs.root=ivshmem:GUEST_ROOT_UUID (the root
#                    segment is the first device) and no root disk (--root
#                    gives one, /dev/vda), no xipfs.usr=; needs
#                    guest_require_root
#   --ivshmem FILE   one more segment file as ivshmem-plain, read-only
#                    (repeatable; the /usr segment is the first device)
#   --qemu-arg ARG   one more QEMU argument (repeatable; split on spaces)
#   --smp N          vCPUs (default 1)
#   --accel ACCEL    QEMU's -accel argument (default tcg), e.g.
#                    tcg,thread=single
#   --timeout SEC    (default $XIPFS_VM_TIMEOUT or 900: TCG on a loaded host)
#   --root IMG       the root disk (default the guest's root.img)
#   --background     start the guest and return at once: GUEST_PID is the
#                    pid of timeout(1), whose child is QEMU; nothing is
#                    checked (bench/fleet-guest.sh reads DIR itself)
. "${top_srcdir:?}/tests/vm/lib.sh"

guest_require() {
	g_need root.img usr.xipfs usr.uuid
	GUEST_UUID=$(cat "$GUEST_CACHE/usr.uuid")
	g_segment usr
	GUEST_SEG=$g_seg
}

guest_require_root() {
	g_need root.xipfs root.uuid
	# shellcheck disable=SC2034 # for the caller
	GUEST_ROOT_UUID=$(cat "$GUEST_CACHE/root.uuid")
	g_segment root
	# shellcheck disable=SC2034
	GUEST_ROOT_SEG=$g_seg
}

# g_need FILE...: GUEST_CACHE, or skip unless QEMU, the guest's kernel,
# its initramfs and FILE... are there.
g_need() {
	command -v qemu-system-x86_64 >/dev/null ||
		vm_skip "qemu-system-x86_64 not found (apt-get install qemu-system-x86)"
	GUEST_CACHE=${XIPFS_GUEST_CACHE:-/var/cache/xipfs-guest}
	for f in vmlinuz initrd.img "$@"; do
		[ -s "$GUEST_CACHE/$f" ] ||
			vm_skip "no Debian 13 guest in $GUEST_CACHE ($f missing): run contrib/build-guest.sh as root (or make check-guest)"
	done
}

# g_segment NAME: g_seg, the image NAME.xipfs of the guest as a segment
# file, recorded in NAME.seg.
g_segment() {
	g_seg=$(XIPFSCTL=${XIPFSCTL:-${top_builddir:?}/src/xipfsctl/xipfsctl} \
		"$top_srcdir/contrib/xipfs-vm-segment.sh" --tenant test qemu "$GUEST_CACHE/$1.xipfs" |
		sed -n 's/.*mem-path=\([^,]*\),.*/\1/p')
	[ -f "$g_seg" ] || { echo "ERROR: contrib/xipfs-vm-segment.sh made no segment of $1.xipfs" >&2; exit 99; }
	# The segment of this guest's previous build (another image, another
	# UUID: 1 GiB) goes when a new one is made; other guest caches' stay.  A
	# guest still running on it keeps its mapping of the unlinked file.
	g_prev=$(cat "$GUEST_CACHE/$1.seg" 2>/dev/null) || g_prev=
	if [ "$g_prev" != "$g_seg" ]; then
		case $g_prev in */xipfs-test-*) rm -f "$g_prev" ;; esac
		echo "$g_seg" >"$GUEST_CACHE/$1.seg"
	fi
}

guest_boot() {
	g_name=guest g_mem=512M g_append='' g_usr=1 g_dev='' g_extra='' g_i=1 g_bg=0
	g_smp=1 g_accel=tcg
	g_root='' g_xroot=0
	g_timeout=${XIPFS_VM_TIMEOUT:-900}
	while [ $# -gt 2 ]; do
		case $1 in
		--name) g_name=$2 ;;
		--mem) g_mem=$2 ;;
		--append) g_append="$g_append $2" ;;
		--no-usr) g_usr=0; shift; continue ;;
		--xipfs-root) g_xroot=1 g_usr=0; shift; continue ;;
		--background) g_bg=1; shift; continue ;;
		--root) g_root=$2 ;;
		--ivshmem)
			g_dev="$g_dev -object memory-backend-file,id=gseg$g_i,mem-path=$2,size=$(stat -c %s "$2"),share=on,readonly=on -device ivshmem-plain,memdev=gseg$g_i"
			g_i=$((g_i + 1)) ;;
		--qemu-arg) g_extra="$g_extra $2" ;;
		--timeout) g_timeout=$2 ;;
		--smp) g_smp=$2 ;;
		--accel) g_accel=$2 ;;
		*) echo "guest_boot: unknown option $1" >&2; return 1 ;;
		esac
		shift 2
	done
	g_script=$1 g_dir=$2
	mkdir -p "$g_dir"
	rm -f "$g_dir/console.log" "$g_dir/run.out" "$g_dir/qemu.out"
	# The root: the disk, or the whole-root segment (the first device).
	if [ $g_xroot -eq 1 ]; then
		g_append="boot=xipfs xipfs.root=ivshmem:$GUEST_ROOT_UUID rw$g_append"
		g_seg=$GUEST_ROOT_SEG
	else
		g_append="root=/dev/vda rw$g_append"
		[ -n "$g_root" ] || g_root=$GUEST_CACHE/root.img
		g_seg=$GUEST_SEG
	fi
	if [ $g_usr -eq 1 ]; then
		g_append="xipfs.usr=ivshmem:$GUEST_UUID $g_append"
	fi
	if [ $g_usr -eq 1 ] || [ $g_xroot -eq 1 ]; then
		g_dev="-object memory-backend-file,id=gseg0,mem-path=$g_seg,size=$(stat -c %s "$g_seg"),share=on,readonly=on -device ivshmem-plain,memdev=gseg0$g_dev"
	fi
	g_start=$(date +%s)
	# shellcheck disable=SC2086
	set -- timeout -k 5 "$g_timeout" qemu-system-x86_64 -accel "$g_accel" -cpu max -m "$g_mem" -smp "$g_smp" \
		-nodefaults -display none -no-reboot \
		-serial "file:$g_dir/console.log" -serial "file:$g_dir/run.out" \
		-kernel "$GUEST_CACHE/vmlinuz" -initrd "$GUEST_CACHE/initrd.img" \
		-append "console=ttyS0 panic=-1 $VM_KERNEL_ARGS xipfs.run $g_append" \
		${g_root:+-drive "file=$g_root,format=raw,if=virtio,snapshot=on"} \
		-fw_cfg "name=opt/xipfs/run,file=$g_script" $g_dev $g_extra
	if [ $g_bg -eq 1 ]; then
		"$@" </dev/null >"$g_dir/qemu.out" 2>&1 &
		# shellcheck disable=SC2034 # for the caller
		GUEST_PID=$!
		return 0
	fi
	"$@" </dev/null >"$g_dir/qemu.out" 2>&1
	g_qrc=$?
	GUEST_SECONDS=$(($(date +%s) - g_start))
	tr -d '\r' <"$g_dir/run.out" >"$g_dir/run.txt" 2>/dev/null
	sed -n '/^XIPFS-RUN-BEGIN$/,/^XIPFS-RUN-END/{/^XIPFS-RUN-/d;p}' "$g_dir/run.txt"
	g_end=$(sed -n 's/^XIPFS-RUN-END //p' "$g_dir/run.txt")
	g_rc=0
	if [ $g_qrc -ne 0 ]; then
		echo "guest_boot $g_name: qemu exit $g_qrc after ${GUEST_SECONDS}s (timeout ${g_timeout}s?); console tail:" >&2
		tail -n 25 "$g_dir/console.log" >&2
		cat "$g_dir/qemu.out" >&2
		g_rc=1
	elif ! grep -q 'reboot: Power down' "$g_dir/console.log"; then
		echo "guest_boot $g_name: the guest stopped without powering off; console tail:" >&2
		tail -n 25 "$g_dir/console.log" >&2
		g_rc=1
	fi
	if grep -n -E 'WARNING:|BUG:|Oops|Call Trace|Kernel panic' "$g_dir/console.log" >&2; then
		echo "guest_boot $g_name: the kernel log above is not clean ($g_dir/console.log)" >&2
		g_rc=1
	fi
	case $g_end in
	'') echo "guest_boot $g_name: the script did not finish (no XIPFS-RUN-END in $g_dir/run.out)" >&2; return 1 ;;
	*[!0-9]*) echo "guest_boot $g_name: $g_end" >&2; return 1 ;;
	esac
	[ $g_rc -eq 0 ] || return $g_rc
	return "$g_end"
}

# guest_verdict STATUS DIR WHAT: 1 (saying why, with the console's tail)
# when guest_boot's STATUS is not 0, when systemd-shutdown signalled the
# daemon of WHAT (it names what it still has to signal) or when the console
# shows an unmount failing (systemd leaves the mounts under /run/initramfs
# alone, / and /usr stay mounted); otherwise prints the console's last
# lines of the shutdown and the run's time.
guest_verdict() {
	if [ "$1" -ne 0 ]; then
		echo "FAIL: the guest run failed ($1); console: $2/console.log" >&2
		tail -n 40 "$2/console.log" >&2
		return 1
	fi
	if grep -E 'Sending SIG[A-Z]+ to PID [0-9]+ \(@?xipfs\)' "$2/console.log"; then
		echo "FAIL: systemd-shutdown signalled the daemon of $3" >&2
		return 1
	fi
	if grep -a -i -E 'unmount.*(fail|busy|error)|fail.*unmount|run-initramfs-xipfs' "$2/console.log"; then
		echo "FAIL: the console shows unmount failures or a stop of the xipfs mounts" >&2
		return 1
	fi
	grep -a -E 'shutdown\[1\]|reboot: ' "$2/console.log" | sed 's/^/console: /' | tail -n 8
	echo "boot, run and poweroff: ${GUEST_SECONDS}s"
}
