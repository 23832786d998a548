# SPDX-License-Identifier: GPL-2.0-or-later
# tests/vm/xipmap-lib.sh: shared by the 0[1-4]x-xipmap-*.sh guest tests.
#
#	. "$top_srcdir/tests/vm/xipmap-lib.sh"
#	xipmap_prepare     # vm_require, then build xipmap.ko for the guest
#	vm_boot ... -- "insmod $XIPMAP_KO && $XIPMAP_TEST memfd"
#
# Sets XIPMAP_KO (the module, built against $VM_KDIR in
# $top_builddir/kmod by `make module`) and XIPMAP_TEST (the guest test
# driver tests/vm/xipmap-test, built by make check or here).
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
	if [ ! -x "$XIPMAP_TEST" ] &&
		! make -s -C "$top_builddir" tests/vm/xipmap-test >&2; then
		echo "ERROR: building tests/vm/xipmap-test failed" >&2
		exit 99
	fi
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
