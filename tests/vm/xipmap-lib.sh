# SPDX-License-Identifier: GPL-2.0-or-later
# tests/vm/xipmap-lib.sh: shared by the 0[1-4]x-xipmap-*.sh guest tests.
#
#	. "$top_srcdir/tests/vm/xipmap-lib.sh"
#	xipmap_prepare     # vm_require, then build xipmap.ko for the guest
#	vm_boot ... -- "insmod $XIPMAP_KO && $XIPMAP_TEST memfd"
#
# Sets XIPMAP_KO (the module, built against $VM_KDIR in
# $top_builddir/kmod by `make module`), XIPMAP_TEST, XIPMAP_HARDEN and
# XIPMAP_STAT (the guest test drivers tests/vm/xipmap-test, xipmap-harden
# and xipmap-stat, built by make check or here).
. "$top_srcdir/tests/vm/lib.sh"

xipmap_prepare() {
	vm_require
	: "${top_builddir:?top_builddir is not set (run through make check)}"
	# One Kbuild run at a time in the shared kmod directory.
	if ! (flock 9 && make -s -C "$top_builddir" module KDIR="$VM_KDIR" >&2) \
		9>"$top_builddir/kmod.lock"; then
		echo "ERROR: building xipmap.ko against $VM_KDIR failed" >&2
		exit 99
	fi
	XIPMAP_KO=$top_builddir/kmod/kernel/xipmap.ko
	XIPMAP_TEST=$top_builddir/tests/vm/xipmap-test
	XIPMAP_HARDEN=$top_builddir/tests/vm/xipmap-harden
	XIPMAP_STAT=$top_builddir/tests/vm/xipmap-stat
	for xp_prog in "$XIPMAP_TEST" "$XIPMAP_HARDEN" "$XIPMAP_STAT"; do
		if [ ! -x "$xp_prog" ] &&
			! make -s -C "$top_builddir" "tests/vm/${xp_prog##*/}" >&2; then
			echo "ERROR: building tests/vm/${xp_prog##*/} failed" >&2
			exit 99
		fi
	done
}

# xipmap_segment FILE SIZE: a host file holding an xipfs superblock header
# (magic, a random UUID, s_size = SIZE) and random page contents.
xipmap_segment() {
	head -c "$2" /dev/urandom >"$1" || return 1
	{
		printf 'XIPFSIMG'
		head -c 24 /dev/zero
		head -c 16 /dev/urandom
		head -c 8 /dev/zero
		# s_size, little endian
		i=0
		while [ $i -lt 8 ]; do
			printf "\\$(printf %03o $((($2 >> (8 * i)) & 255)))"
			i=$((i + 1))
		done
		head -c $((4096 - 64)) /dev/zero
	} | dd of="$1" conv=notrunc status=none
}

# xipmap_flip_when_ready FILE PAGE WORKDIR...: while any of the background
# jobs $XIPMAP_PIDS runs, wait until every WORKDIR/stdout (a guest's) has a
# line "XIPMAP-READY", then add 1 to the first byte of page PAGE of FILE,
# once.  Returns 0 if it flipped the byte, 1 if the guests ended first.
xipmap_flip_when_ready() {
	xf_file=$1
	xf_off=$(($2 * 4096))
	shift 2
	while :; do
		xf_alive=
		for xf_pid in $XIPMAP_PIDS; do
			kill -0 "$xf_pid" 2>/dev/null && xf_alive=1
		done
		[ -n "$xf_alive" ] || return 1
		xf_ready=1
		for xf_dir in "$@"; do
			grep -q '^XIPMAP-READY' "$xf_dir/stdout" 2>/dev/null || xf_ready=
		done
		if [ -n "$xf_ready" ]; then
			xf_old=$(od -A n -t u1 -j "$xf_off" -N 1 "$xf_file" | tr -d ' ')
			printf "\\$(printf %03o $(((xf_old + 1) & 255)))" |
				dd of="$xf_file" bs=1 seek="$xf_off" conv=notrunc status=none
			return 0
		fi
		sleep 1
	done
}

# xipmap_guests_done FLIPPED DIR GUEST...: wait for the guests $XIPMAP_PIDS,
# print each one's output (DIR/GUEST.out), and fail if any guest failed or
# FLIPPED is empty (xipmap_flip_when_ready never saw them all ready).
xipmap_guests_done() {
	gd_flipped=$1 gd_dir=$2
	shift 2
	gd_rc=0
	for gd_pid in $XIPMAP_PIDS; do
		wait "$gd_pid" || gd_rc=1
	done
	for gd_g in "$@"; do
		echo "== guest $gd_g"
		cat "$gd_dir/$gd_g.out"
	done
	if [ -z "$gd_flipped" ]; then
		echo "FAIL: the guests never all reported XIPMAP-READY"
		gd_rc=1
	fi
	return $gd_rc
}
