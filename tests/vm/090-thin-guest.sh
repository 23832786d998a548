#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# The real thin guest (contrib/build-guest.sh): Debian 13 with the archive's
# kernel, xipfs and xipmap-dkms installed from the .debs built here (dkms
# built xipmap.ko in the guest tree), booted under QEMU with /usr mounted
# from the host's segment over ivshmem by the initramfs (xipfs.usr=).
# Inside the guest: /usr is the xipfs mount of that segment, its daemon was
# started in the initramfs as @xipfs and sits in no unit systemd stops
# (init.scope, where systemd puts the processes it finds at boot), the
# services that redo the work of a changed /usr (ldconfig, the journal
# catalog) were skipped (the guest is built updated), python3,
# dpkg -l and gcc (cc1, as, ld: a compiler build and run) work from it, a
# file mapped from /usr is the host's frame, and so is every page of
# python3's own code and libc's (pagemap against the ivshmem BAR; the checks
# are tests/vm/guest-checks.sh's), files read back equal the guest tree
# they were built from, and
# xipfs-mounts.service mounts a second segment after boot.  Then the guest
# powers off through systemd, which must not kill the daemon or hang.
# Before the boot: guest_require removed the /usr segment of the guest's
# previous build.
# Not in `make check`: building the guest takes minutes (make check-guest).
set -u
. "${top_srcdir:?}/tests/vm/guest-lib.sh"
# The /usr segment of a previous build of this guest (another UUID), as
# guest_require recorded it: guest_require replaces it by the current one.
# The one recorded when it is still there (the guest was rebuilt: 1 GiB of
# /dev/shm that must go), else a stand-in put in its place.
stale=/dev/shm/xipfs-test-00000000-0000-4000-8000-000000000000
cache=${XIPFS_GUEST_CACHE:-/var/cache/xipfs-guest}
trap 'rm -f "$stale"' EXIT
if [ -s "$cache/usr.uuid" ]; then
	prev=$(cat "$cache/usr.seg" 2>/dev/null) || prev=
	case $prev in
	"/dev/shm/xipfs-test-$(cat "$cache/usr.uuid")") ;;
	/dev/shm/xipfs-test-*) [ -f "$prev" ] && stale=$prev ;;
	esac
	if [ "$stale" != "$prev" ]; then
		: >"$stale" && echo "$stale" >"$cache/usr.seg" || exit 99
	fi
fi
guest_require
if [ -e "$stale" ] || [ "$(cat "$GUEST_CACHE/usr.seg")" != "$GUEST_SEG" ]; then
	echo "FAIL: the previous build's segment $stale is still there, or $GUEST_CACHE/usr.seg does not name $GUEST_SEG" >&2
	exit 1
fi
echo "segment: $GUEST_SEG, the previous build's removed"
MKXIPFS=$top_builddir/src/mkxipfs/mkxipfs
work=$(mktemp -d)
trap 'rm -rf "$work"; rm -f "$extra_seg" "$stale"' EXIT
extra_seg=

# A second segment, for xipfs-mounts.service.
mkdir -p "$work/extra/sub"
echo "a further segment $$" >"$work/extra/sub/hello"
"$MKXIPFS" -q "$work/extra" "$work/extra.xipfs" || exit 99
extra_seg=$(mktemp /dev/shm/xipfs-test-extra.XXXXXX)
cp "$work/extra.xipfs" "$extra_seg" && truncate -s 1M "$extra_seg" || exit 99
extra_uuid=$("$top_builddir/src/xipfsctl/xipfsctl" info "$work/extra.xipfs" | sed -n 's/^uuid=//p')

# Files to compare with the tree the image was built from (not the image).
root=$GUEST_CACHE/root
py=$(readlink -f "$root/usr/bin/python3"); py=${py#"$root"}
cc1=$(cd "$root" && find usr/libexec/gcc -name cc1 -type f | head -n 1)
sums=$( (cd "$root" && sha256sum "./$py" "./$cc1" ./usr/bin/dpkg \
	./usr/lib/x86_64-linux-gnu/libc.so.6 ./usr/lib/os-release \
	"$(find ./usr/lib/python3* -maxdepth 1 -name 'os.py' | head -n 1)") ) || exit 99

{ cat "$top_srcdir/tests/vm/guest-checks.sh"; cat <<EOS; } >"$work/run.sh"
set -u
set -- \$(findmnt -n -o FSTYPE,SOURCE /usr)
[ "\$1 \$2" = "fuse.xipfs ivshmem:$GUEST_UUID" ] || fail "/usr is \$*"
echo "usr: \$1 \$2"
check_daemon
# The guest was built updated (contrib/build-guest.sh): no boot redoes
# the work of a changed /usr.
for u in ldconfig.service systemd-journal-catalog-update.service; do
	[ "\$(systemctl show -P ConditionResult \$u)" = no ] || fail "\$u ran at boot: /usr counts as updated"
done
echo "update services: skipped"
check_programs
check_sums "$sums"
check_xip "$py" "$py" /usr/lib/x86_64-linux-gnu/libc.so.6
echo "ivshmem:$extra_uuid /opt/extra allow_other" >>/etc/xipfs/mounts
systemctl restart xipfs-mounts.service || fail "xipfs-mounts.service"
[ "\$(cat /opt/extra/sub/hello)" = "a further segment $$" ] || fail "/opt/extra/sub/hello"
echo "xipfs-mounts: \$(findmnt -n -o SOURCE /opt/extra) on /opt/extra"
EOS

guest_boot --name thin --ivshmem "$extra_seg" "$work/run.sh" "$work/guest"
guest_verdict $? "$work/guest" /usr || exit 1
