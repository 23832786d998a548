#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# The real thin guest (contrib/build-guest.sh) with its whole root from the
# host's segment: no disk, boot=xipfs xipfs.root=ivshmem:UUID on the kernel
# command line, the root image root.xipfs (the guest tree, /usr included)
# over ivshmem.  The initramfs's boot script (contrib/initramfs/xipfs)
# mounts it with XIP at /run/initramfs/xipfs/ro and puts an overlayfs with
# its upper layer on a tmpfs (the default xipfs.overlay=tmpfs) on /.
# Inside the guest: / is that overlay, its lower layer the fuse.xipfs mount
# of the segment and its upper layer the tmpfs, /usr is no mount of its
# own; the daemon is @xipfs in no unit systemd stops; python3, dpkg -l and
# gcc (a compiler build and run) work; writes to /etc and /var (a new file
# and a copied-up one) land in the upper layer and leave the image alone;
# a file of /usr mapped through the overlay is the host's frame, and every
# page python3 has of its own program and of libc (mapped through overlayfs,
# FUSE passthrough and xipmap) is one of the segment's frames (pagemap
# against the ivshmem BAR); files read back equal the guest tree.  Then the
# guest powers off through systemd with / on the overlay: it must not hang,
# kill the daemon, or fail to unmount anything.  A second boot puts the
# upper layer on a disk (xipfs.overlay=LABEL=...): what the guest wrote is
# on the disk afterwards, which is left clean.
# Not in `make check`: building the guest takes minutes (make check-guest).
set -u
. "${top_srcdir:?}/tests/vm/guest-lib.sh"
guest_require_root
echo "segment: $GUEST_ROOT_SEG (root.xipfs, uuid $GUEST_ROOT_UUID)"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# Files to compare with the tree the image was built from (not the image).
root=$(cd "$GUEST_CACHE/root" && pwd -P) || exit 99
py=$(readlink -f "$root/usr/bin/python3"); py=${py#"$root"}
cc1=$(cd "$root" && find usr/libexec/gcc -name cc1 -type f | head -n 1)
sums=$( (cd "$root" && sha256sum "./$py" "./$cc1" ./usr/bin/dpkg \
	./usr/lib/x86_64-linux-gnu/libc.so.6 ./etc/debian_version ./etc/passwd \
	"$(find ./usr/lib/python3* -maxdepth 1 -name 'os.py' | head -n 1)") ) || exit 99

{ cat "$top_srcdir/tests/vm/guest-checks.sh"; cat <<EOS; } >"$work/run.sh"
set -u
echo "uptime at the script's start: \$(cut -d' ' -f1 /proc/uptime) s"
d=/run/initramfs/xipfs
set -- \$(findmnt -n -o FSTYPE,SOURCE /)
[ "\$1 \$2" = "overlay xipfs-root" ] || fail "/ is \$*"
o=,\$(findmnt -n -o OPTIONS /),
case \$o in *,lowerdir=\$d/ro,*) ;; *) fail "/ has lowerdir other than \$d/ro: \$o" ;; esac
case \$o in *,upperdir=\$d/rw/upper,*) ;; *) fail "/ has upperdir other than \$d/rw/upper: \$o" ;; esac
case \$o in *,rw,*) ;; *) fail "/ is not writable: \$o" ;; esac
set -- \$(findmnt -n -o FSTYPE,SOURCE \$d/ro)
[ "\$1 \$2" = "fuse.xipfs ivshmem:$GUEST_ROOT_UUID" ] || fail "\$d/ro is \$*"
[ "\$(findmnt -n -o FSTYPE \$d/rw)" = tmpfs ] || fail "\$d/rw is \$(findmnt -n -o FSTYPE,SOURCE \$d/rw)"
! findmnt -n /usr >/dev/null || fail "/usr is a mount of its own: \$(findmnt -n /usr)"
echo "root: overlay, lower \$d/ro fuse.xipfs ivshmem:$GUEST_ROOT_UUID, upper on tmpfs"
check_daemon
# run-init deleted the initramfs: with -o selfmap=/ the daemon maps none of
# its files any more (it runs from the image it serves).  Its one deleted
# file is xipmap's segment.
! grep '(deleted)\$' /proc/\$pid/maps | grep -v ' /xipmap (deleted)\$' ||
	fail "the daemon still maps files of the initramfs"
echo "daemon: maps no file of the initramfs"
check_programs
# Writes: a new file in /etc and /var, and a file of the image changed
# (copied up); the upper layer has them, the image not.
echo "new $$" >/etc/xipfs-root-test && mkdir -p /var/lib/xipfs-root-test &&
	echo "var $$" >/var/lib/xipfs-root-test/f && echo "# changed $$" >>/etc/motd ||
	fail "writing to /etc or /var"
[ "\$(cat \$d/rw/upper/etc/xipfs-root-test)" = "new $$" ] || fail "/etc/xipfs-root-test is not in the upper layer"
[ "\$(cat \$d/rw/upper/var/lib/xipfs-root-test/f)" = "var $$" ] || fail "/var/lib/xipfs-root-test/f is not in the upper layer"
[ "\$(tail -n 1 \$d/rw/upper/etc/motd)" = "# changed $$" ] || fail "/etc/motd was not copied up"
[ ! -e \$d/ro/etc/xipfs-root-test ] && ! grep -q "changed $$" \$d/ro/etc/motd ||
	fail "a write reached the image's mount"
echo "writes: /etc and /var in the upper layer, /etc/motd copied up, the image unchanged"
check_sums "$sums"
# A file of /usr mapped through the overlay, and python3's own program and
# libc as the loader mapped them (overlayfs, FUSE passthrough, xipmap).
check_xip "$py" "$py" /usr/lib/x86_64-linux-gnu/libc.so.6
EOS

guest_boot --name root --xipfs-root "$work/run.sh" "$work/guest"
guest_verdict $? "$work/guest" / || exit 1

# The upper layer on a disk (xipfs.overlay=LABEL=...): a fresh ext4 image
# the guest writes through; after poweroff the host finds the guest's file
# in upper/ and the file system clean (systemd-shutdown remounted it
# read-only).
mkfs.ext4 -q -L xipfs-upper "$work/upper.img" 64M >/dev/null || exit 99
{ cat "$top_srcdir/tests/vm/guest-checks.sh"; cat <<EOS; } >"$work/disk.sh"
set -u
d=/run/initramfs/xipfs
o=,\$(findmnt -n -o OPTIONS /),
case \$o in *,upperdir=\$d/rw/upper,*) ;; *) fail "/ has upperdir other than \$d/rw/upper: \$o" ;; esac
set -- \$(findmnt -n -o FSTYPE,SOURCE \$d/rw)
[ "\$1 \$2" = "ext4 /dev/vda" ] || fail "\$d/rw is \$*, not the disk"
echo "upper: \$1 \$2 (LABEL=xipfs-upper)"
echo "disk $$" >/etc/xipfs-disk-test || fail "writing to /etc"
check_daemon
EOS
guest_boot --name root-disk --xipfs-root --append xipfs.overlay=LABEL=xipfs-upper \
	--qemu-arg "-drive file=$work/upper.img,format=raw,if=virtio" "$work/disk.sh" "$work/disk"
guest_verdict $? "$work/disk" / || exit 1
got=$(debugfs -R 'cat /upper/etc/xipfs-disk-test' "$work/upper.img" 2>/dev/null)
[ "$got" = "disk $$" ] || { echo "FAIL: upper/etc/xipfs-disk-test on the disk holds '$got'" >&2; exit 1; }
state=$(dumpe2fs -h "$work/upper.img" 2>/dev/null | sed -n 's/^Filesystem state: *//p')
features=$(dumpe2fs -h "$work/upper.img" 2>/dev/null | sed -n 's/^Filesystem features: *//p')
case $features in *needs_recovery*) state="$state, journal to recover" ;; esac
if [ "$state" != clean ]; then
	echo "FAIL: the upper disk is left '$state' ($features)" >&2
	exit 1
fi
echo "upper disk: the guest's file persisted, the file system is $state"
