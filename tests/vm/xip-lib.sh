# SPDX-License-Identifier: GPL-2.0-or-later
# tests/vm/xip-lib.sh: shared by the 05x-xip-*.sh guest tests, which run the
# daemon's XIP path (FUSE passthrough + xipmap.ko) inside QEMU guests.
#
#	. "$top_srcdir/tests/vm/xip-lib.sh"
#	xip_prepare        # xipmap_prepare, a passthrough build, the test image
#	xip_programs       # only the first two (for a bench with its own data)
#
# Sets, besides XIPMAP_KO (see xipmap-lib.sh):
#   XIPFS, XIPFSCTL, XIP_PROBE   the programs of this (passthrough) build
#                                (xip_programs sets only these)
#   XIP_TREE    a small real root: /usr/bin/{python3.11,ls,sha256sum} and
#               the libraries they and python's lib-dynload modules load,
#               the dynamic loader, and /usr/lib/python3.11
#   XIP_IMG     the image of XIP_TREE, XIP_SEG the same padded to a power
#               of two (an ivshmem segment), XIP_UUID its UUID
#   XIP_SUMS    "sha256  ./path" of every regular file of XIP_TREE
# The data is built once per build directory (under a lock) and reused.
. "$top_srcdir/tests/vm/xipmap-lib.sh"

xip_programs() {
	: "${top_builddir:?top_builddir is not set (run through make check)}"
	if ! grep -q '^#define HAVE_FUSE_PASSTHROUGH_OPEN 1' "$top_builddir/config.h"; then
		vm_skip "the XIP tests need xipfs built against libfuse >= 3.17 (contrib/ci-build-passthrough.sh); this build has libfuse $(pkg-config --modversion fuse3 2>/dev/null || echo '?')"
	fi
	xipmap_prepare
	XIPFS=$top_builddir/src/xipfs/xipfs
	XIPFSCTL=$top_builddir/src/xipfsctl/xipfsctl
	XIP_PROBE=$top_builddir/tests/vm/xip-probe
	if [ ! -x "$XIP_PROBE" ] && ! make -s -C "$top_builddir" tests/vm/xip-probe >&2; then
		echo "ERROR: building tests/vm/xip-probe failed" >&2
		exit 99
	fi
}

xip_prepare() {
	xip_programs
	XIP_DATA=$top_builddir/tests/vm/xip-data
	XIP_TREE=$XIP_DATA/tree
	XIP_IMG=$XIP_DATA/img
	XIP_SEG=$XIP_DATA/seg
	XIP_SUMS=$XIP_DATA/sums
	mkdir -p "$XIP_DATA"
	if ! (flock 9 && xip_build_data) 9>"$XIP_DATA.lock"; then
		echo "ERROR: building the XIP test image in $XIP_DATA failed" >&2
		exit 99
	fi
	XIP_UUID=$("$XIPFSCTL" info "$XIP_IMG" | sed -n 's/^uuid=//p')
	[ -n "$XIP_UUID" ] || { echo "ERROR: no uuid in xipfsctl info $XIP_IMG" >&2; exit 99; }
}

# Copy $1 (a host file) to the same path under $XIP_TREE, following links.
xip_copy() {
	mkdir -p "$XIP_TREE$(dirname "$1")" && cp -L "$1" "$XIP_TREE$1"
}

xip_build_data() {
	[ -s "$XIP_SUMS" ] && [ "$XIP_SUMS" -nt "$top_builddir/src/mkxipfs/mkxipfs" ] && return 0
	rm -rf "$XIP_TREE" "$XIP_IMG" "$XIP_SEG" "$XIP_SUMS"
	mkdir -p "$XIP_TREE/usr/lib" || return 1
	py=/usr/bin/python3.11
	[ -x "$py" ] && [ -d /usr/lib/python3.11 ] || {
		echo "ERROR: Debian's python3.11 (/usr/bin/python3.11, /usr/lib/python3.11) is missing" >&2
		return 1
	}
	cp -a /usr/lib/python3.11 "$XIP_TREE/usr/lib/" || return 1
	for f in $py /usr/bin/ls /usr/bin/sha256sum; do
		xip_copy "$f" || return 1
	done
	# Every library the programs and the extension modules need, by the
	# path the host's loader resolves (so a search path on the mount finds
	# them), plus the loader itself.
	ldd $py /usr/bin/ls /usr/bin/sha256sum /usr/lib/python3.11/lib-dynload/*.so 2>/dev/null |
		awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// && $2 ~ /^\(/ { print $1 }' |
		sort -u | while read -r lib; do
			dest=/usr/lib/x86_64-linux-gnu/$(basename "$lib")
			mkdir -p "$XIP_TREE/usr/lib/x86_64-linux-gnu" &&
				cp -L "$lib" "$XIP_TREE$dest" || exit 1
		done || return 1
	"$top_builddir/src/mkxipfs/mkxipfs" -q "$XIP_TREE" "$XIP_IMG" || return 1
	cp "$XIP_IMG" "$XIP_SEG" || return 1
	size=$(stat -c %s "$XIP_SEG")
	p=1048576
	while [ "$p" -lt "$size" ]; do p=$((p * 2)); done
	truncate -s "$p" "$XIP_SEG" || return 1
	(cd "$XIP_TREE" && find . -type f -print0 | sort -z | xargs -0 sha256sum) >"$XIP_SUMS.tmp" &&
		mv "$XIP_SUMS.tmp" "$XIP_SUMS"
}

# Guest script text: mount the segment at DIR with xipfs OPTIONS, log in
# $PWD/NAME.log, and wait for the mount (fails the guest script if it does
# not come up).  Usage in a guest script: $(xip_mount_cmd NAME DIR OPTS SOURCE)
xip_mount_cmd() {
	cat <<EOF
mkdir -p $2
$XIPFS -f -o $3 $4 $2 >\$PWD/$1.log 2>&1 &
echo \$! >\$PWD/$1.pid
i=0
while ! grep -q " $2 fuse.xipfs " /proc/mounts; do
	i=\$((i + 1))
	if [ \$i -gt 100 ] || ! kill -0 \$(cat \$PWD/$1.pid) 2>/dev/null; then
		echo "FAIL: xipfs $3 $4 $2 did not mount:"; cat \$PWD/$1.log; exit 1
	fi
	sleep 0.2
done
EOF
}

# Guest script text shared by the XIP tests: ck NAME TEST (prints ok/FAIL,
# sets fail=1), ivshmem_dev (the first ivshmem-plain PCI device),
# pfn FILE OFFSET (the frame mapped at byte OFFSET of FILE, xip-probe pfn),
# probe_bg NAME ARGS... (xip-probe ARGS in the background, reading the
# fifo /tmp/NAME, output in NAME.out; returns once it printed READY),
# probe_go (a line to it; waits for it and returns its status) and
# around_ck NAME FILE IMAGE PATH SEG: FILE (PATH in IMAGE, on an xip=on
# mount) is touched 64 KiB in, and every page fault-around mapped with that
# one (xip-probe around) must be the segment's own frame; SEG is the
# segment: a file (a tmpfs segment, read through its own pagemap) or the
# PCI device of an ivshmem BAR (ivshmem_dev).  Prints a "frames:" line.
xip_guest_lib() {
	cat <<EOF
fail=0
ck() { if eval "\$2"; then echo "ok: \$1"; else echo "FAIL: \$1"; fail=1; fi; }
pfn() { $XIP_PROBE pfn "\$@" | sed 's/^pfn //'; }
ivshmem_dev() {
	for d in /sys/bus/pci/devices/*; do
		[ "\$(cat \$d/vendor)" = 0x1af4 ] && [ "\$(cat \$d/device)" = 0x1110 ] && echo \${d##*/}
	done | head -n 1
}
probe_bg() {
	n=\$1; shift
	mkfifo /tmp/\$n
	$XIP_PROBE "\$@" </tmp/\$n >\$n.out &
	probe_pid=\$!
	exec 8>/tmp/\$n
	i=0; while ! grep -q READY \$n.out && [ \$i -lt 100 ]; do sleep 0.1; i=\$((i+1)); done
}
probe_go() { echo >&8; exec 8>&-; wait \$probe_pid; }
around_ck() {
	$XIP_PROBE around \$2 65536 >around.\$1
	nb=0; bad=0
	while read -r off got; do
		[ "\$off" = 65536 ] || nb=\$((nb + 1))
		if [ -f "\$5" ]; then
			want=\$(pfn \$5 \$($XIP_PROBE imgoff \$3 \$4 \$off))
		else
			want=\$($XIP_PROBE segpfn \$3 \$4 \$off \$5)
		fi
		[ "\$got" = "\$want" ] || { bad=\$((bad + 1)); echo "\$1: page at \$off maps pfn \$got, the segment's is \$want"; }
	done <around.\$1
	echo "frames: \$1: \$nb neighbours mapped with the touched page, \$bad not the segment's frame"
	ck "\$1: fault-around maps segment frames" "[ \$nb -gt 0 ] && [ \$bad = 0 ]"
}
EOF
}
