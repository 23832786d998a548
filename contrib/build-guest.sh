#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# Build a minimal Debian 13 (trixie) guest whose /usr is an xipfs image.
#
# Usage: contrib/build-guest.sh [--force] [CACHE]   (root; CACHE defaults to
#        $XIPFS_GUEST_CACHE or /var/cache/xipfs-guest)
#
# Everything comes from the Debian archive already configured for apt (the
# URIs of /etc/apt/sources.list.d/debian.sources) and from this source tree:
#   CACHE/root/         the guest tree (mmdebstrap, trixie): kernel, systemd,
#                       python3, gcc, dkms; xipfs and xipmap-dkms built in it
#                       with dpkg-buildpackage (against trixie's libfuse 3.17)
#                       and installed from those .debs, so dkms builds
#                       xipmap.ko there for the guest kernel
#   CACHE/debs/         the .debs built in the guest tree
#   CACHE/usr.xipfs     mkxipfs of CACHE/root/usr (the host puts it in a segment)
#   CACHE/root.img      ext4 root disk: /etc, /var and the rest, /usr empty
#   CACHE/vmlinuz, CACHE/initrd.img   the guest kernel and its initramfs
#                       (with the xipfs hook of debian/xipfs.initramfs-hook)
#   CACHE/usr.uuid      the image's UUID, for xipfs.usr=ivshmem:UUID
#   CACHE/root.xipfs    mkxipfs of the whole guest tree, /usr included, with
#                       an /etc/fstab of its own (nothing to mount): the root
#                       of boot=xipfs xipfs.root=ivshmem:UUID, with no disk
#   CACHE/root.uuid     its UUID
# Each step is cached: a second run only redoes what is missing (--force
# redoes everything).  The first run downloads about 400 MB and takes a while.
set -eu
force=0
[ "${1:-}" = "--force" ] && { force=1; shift; }
cache=${1:-${XIPFS_GUEST_CACHE:-/var/cache/xipfs-guest}}
srcdir=$(cd "$(dirname "$0")/.." && pwd)
me=build-guest.sh
die() { echo "$me: $*" >&2; exit 1; }
# die_log LOG MESSAGE: the end of a failed step's log, then die (CI shows it).
die_log() { tail -n 30 "$1" >&2; die "$2; see $1"; }
[ "$(id -u)" -eq 0 ] || die "must run as root (mmdebstrap, chroot)"
for t in mmdebstrap mkfs.ext4 chroot; do
	command -v "$t" >/dev/null || die "$t not found (run contrib/install-deps.sh)"
done
mkdir -p "$cache"
cache=$(cd "$cache" && pwd)
[ $force -eq 1 ] && rm -rf "$cache/root" "$cache/debs" "$cache"/*.stamp
uri=$(sed -n 's/^URIs:[[:space:]]*//p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -n 1)
[ -n "$uri" ] || uri=$(sed -n 's/^deb[[:space:]]\{1,\}\([^[:space:]]*\).*/\1/p' /etc/apt/sources.list 2>/dev/null | head -n 1)
[ -n "$uri" ] || die "cannot find the Debian archive URI in /etc/apt"
root=$cache/root

# The guest userland, the kernel and its headers (for dkms) and the build
# dependencies of debian/control (for dpkg-buildpackage in the chroot).
runtime="systemd-sysv udev kmod linux-image-amd64 initramfs-tools fuse3
	python3 procps dkms linux-headers-amd64 gcc make"
builddeps="build-essential debhelper dh-dkms dpkg-dev autoconf automake libtool pkg-config
	libfuse3-dev liburing-dev libxxhash-dev libarchive-dev libattr1-dev
	libssl-dev libjson-c-dev check"
if [ ! -e "$cache/root.stamp" ]; then
	rm -rf "$root"
	echo "$me: mmdebstrap trixie from $uri into $root" >&2
	# shellcheck disable=SC2086
	mmdebstrap --variant=apt --components=main \
		--include="$(echo $runtime $builddeps | tr ' ' ',')" \
		trixie "$root" "deb $uri trixie main" >"$cache/mmdebstrap.log" 2>&1 ||
		die_log "$cache/mmdebstrap.log" "mmdebstrap failed"
	touch "$cache/root.stamp"
fi
run() { "$srcdir/contrib/chroot-run.sh" "$root" "$@"; }
kver=$(ls "$root/lib/modules" | sort -V | tail -n 1)
[ -n "$kver" ] && [ -e "$root/boot/vmlinuz-$kver" ] || die "no kernel in $root/boot"

# The packages, built in the guest tree so they link trixie's libraries.  A
# changed source tree (its exported file list and contents) rebuilds them.
src_id=$(cd "$srcdir" && { git ls-files -z --cached --others --exclude-standard 2>/dev/null |
	xargs -0 sh -c 'for f; do [ -f "$f" ] && printf "%s\0" "$f"; done' sh | xargs -0 sha256sum; } |
	sha256sum | cut -c1-16)
if [ "$(cat "$cache/debs.stamp" 2>/dev/null)" != "$src_id" ]; then
	echo "$me: building the .debs in the trixie tree" >&2
	# shellcheck disable=SC2086
	run apt-get install -y -qq $builddeps >"$cache/apt.log" 2>&1 ||
		die_log "$cache/apt.log" "installing the build dependencies failed"
	rm -rf "$cache/debs"
	"$srcdir/contrib/build-debs.sh" --chroot "$root" "$cache/debs" >/dev/null ||
		die "dpkg-buildpackage failed in $root; see $cache/debs/build.log"
	grep -q '^checking for fuse_passthrough_open... yes' "$cache/debs/build.log" ||
		die_log "$cache/debs/build.log" "the trixie build has no FUSE passthrough"
	echo "$src_id" >"$cache/debs.stamp"
	rm -f "$cache/install.stamp"
fi

# Install them; xipmap-dkms's postinst makes dkms build xipmap.ko for the
# guest kernel (the chroot's uname -r is the host's, so name it).  Then the
# guest's configuration and its initramfs, with the xipfs hook.
if [ ! -e "$cache/install.stamp" ]; then
	echo "$me: installing the .debs; dkms builds xipmap for $kver" >&2
	rm -rf "$root/tmp/debs"
	mkdir -p "$root/tmp/debs"
	cp "$cache/debs"/xipfs_*.deb "$cache/debs"/xipmap-dkms_*.deb "$root/tmp/debs/"
	run sh -c 'dpkg --purge xipfs xipmap-dkms >/dev/null 2>&1
		apt-get install -y -qq /tmp/debs/xipfs_*.deb /tmp/debs/xipmap-dkms_*.deb &&
		{ dkms status -k "$1" | grep -q installed || dkms install xipmap/"$2" -k "$1"; }' \
		sh "$kver" "$(dpkg-parsechangelog -l "$srcdir/debian/changelog" -SVersion)" \
		>"$cache/install.log" 2>&1 ||
		die_log "$cache/install.log" "installing the .debs failed"
	ko=$(find "$root/lib/modules/$kver/updates" -name 'xipmap.ko*' 2>/dev/null | head -n 1)
	[ -n "$ko" ] || die_log "$cache/install.log" "dkms built no xipmap.ko for $kver"
	rm -rf "$root/tmp/debs"
	# The guest: a root disk on virtio-blk, a console on the serial port, the
	# test hook xipfs-guest-run.service, no waiting for absent devices.
	echo xipfs-guest >"$root/etc/hostname"
	printf '%s\n' '/dev/vda / ext4 rw,errors=remount-ro 0 0' >"$root/etc/fstab"
	run passwd -dq root	# a console login for debugging a guest by hand
	install -m 0755 "$srcdir/contrib/guest/xipfs-guest-run" "$root/usr/libexec/xipfs/xipfs-guest-run"
	install -m 0644 "$srcdir/contrib/guest/xipfs-guest-run.service" "$root/etc/systemd/system/"
	run sh -c 'systemctl enable xipfs-guest-run.service &&
		systemctl mask apt-daily.timer apt-daily-upgrade.timer e2scrub_all.timer \
			e2scrub_reap.service dpkg-db-backup.timer fstrim.timer systemd-timesyncd.service \
			2>/dev/null; true' >>"$cache/install.log" 2>&1
	printf '%s\n' qemu_fw_cfg >"$root/etc/modules-load.d/xipfs-guest.conf"
	# A small initramfs boots faster: only the root disk's drivers (the
	# xipfs hook adds fuse and xipmap), and what bench/fleet-guest.sh's
	# peers need to mount /usr from fstab (erofs on virtio-pmem or -blk).
	printf '%s\n' MODULES=list COMPRESS=gzip >"$root/etc/initramfs-tools/conf.d/xipfs-guest"
	printf '%s\n' virtio_pci virtio_blk ext4 erofs virtio_pmem nd_pmem \
		>"$root/etc/initramfs-tools/modules"
	run update-initramfs -u -k "$kver" >>"$cache/install.log" 2>&1 ||
		die_log "$cache/install.log" "update-initramfs failed"
	# What systemd redoes at a boot after /usr changed (ConditionNeedsUpdate:
	# ldconfig.service, systemd-journal-catalog-update.service, ...), done
	# once here, and systemd-update-done's stamps in /etc and /var naming
	# /usr's mtime (which the xipfs and EROFS images keep to the
	# nanosecond).  Otherwise every boot of the root disk (a snapshot: the
	# stamps of a boot are thrown away) runs them again: in a TCG guest
	# ldconfig opened every library for about 50 s and the catalog update
	# read its files a line and an isatty() (a FUSE ioctl) at a time.
	run sh -c 'ldconfig && journalctl --update-catalog && systemd-sysusers &&
		/usr/lib/systemd/systemd-update-done' >>"$cache/install.log" 2>&1 ||
		die_log "$cache/install.log" "the first-boot updates failed in $root"
	rm -f "$cache/images.stamp" "$cache/root-xipfs.stamp"
	touch "$cache/install.stamp"
fi

# Boot work a guest with only a serial console need not do at every boot
# (every /usr variant of bench/fleet-guest.sh gains alike):
# - glibc's locale archive.  systemd gives each process LANG=C.UTF-8, and
#   with only the directory /usr/lib/locale/C.utf8 every process that calls
#   setlocale() opens its 13 category files one by one (185 opens in a
#   boot, each an OPEN and a RELEASE round trip on a FUSE /usr); from
#   locale-archive it maps them all after one open.
# - No gettys on virtual terminals, which a guest run with QEMU -nodefaults
#   -display none has no screen for: getty@tty1 and getty-static.service
#   (Debian's fallback without logind: five more on tty2-tty6, 12 s of
#   systemd-analyze blame beside the boot's way to python3, their unit
#   read a line and an isatty() at a time for each).  The serial console
#   keeps its getty (systemd-getty-generator, from console=ttyS0).
if [ ! -e "$cache/trim.stamp" ]; then
	echo "$me: locale archive, no VT gettys" >&2
	run sh -c 'localedef --replace --add-to-archive /usr/lib/locale/C.utf8 &&
		systemctl mask getty-static.service && systemctl disable getty@tty1.service' \
		>>"$cache/install.log" 2>&1 || die_log "$cache/install.log" "trimming the boot failed"
	rm -f "$cache/images.stamp" "$cache/root-xipfs.stamp"
	touch "$cache/trim.stamp"
fi

# /usr becomes an xipfs image (built by the guest's own mkxipfs), the rest
# an ext4 root disk with an empty /usr, the mount point.
if [ ! -e "$cache/images.stamp" ]; then
	echo "$me: building usr.xipfs and root.img" >&2
	run apt-get clean
	run mkxipfs -q /usr /tmp/usr.xipfs || die "mkxipfs of $root/usr failed"
	run xipfsctl info /tmp/usr.xipfs | sed -n 's/^uuid=//p' >"$cache/usr.uuid"
	[ -s "$cache/usr.uuid" ] || die "no uuid in xipfsctl info of $cache/usr.xipfs"
	mv "$root/tmp/usr.xipfs" "$cache/usr.xipfs"
	stage=$cache/stage
	rm -rf "$stage"
	mkdir -p "$stage"
	(cd "$root" && tar --numeric-owner --xattrs --exclude='./usr/*' --exclude='./tmp/*' \
		--exclude='./var/cache/apt/*' --exclude='./var/lib/apt/lists/*' -cf - .) |
		tar -C "$stage" --numeric-owner --xattrs -xpf -
	size=$(du -sm "$stage" | cut -f1)
	rm -f "$cache/root.img"
	truncate -s $((size + 512))M "$cache/root.img"
	mkfs.ext4 -q -L xipfs-root -d "$stage" "$cache/root.img" || die "mkfs.ext4 -d $stage failed"
	rm -rf "$stage"
	cp "$root/boot/vmlinuz-$kver" "$cache/vmlinuz"
	cp "$root/boot/initrd.img-$kver" "$cache/initrd.img"
	touch "$cache/images.stamp"
fi
# The whole tree as one image for an xipfs root (contrib/initramfs/xipfs):
# what root.img and usr.xipfs hold together, with an /etc/fstab that
# mounts nothing (root.img's names /dev/vda, which such a guest has not,
# and systemd-remount-fs would apply its ext4 options to the overlay).  A
# tar stream of the tree in which that fstab replaces the tree's.
if [ ! -e "$cache/root-xipfs.stamp" ]; then
	echo "$me: building root.xipfs" >&2
	run apt-get clean
	etc=$(mktemp -d)
	mkdir "$etc/etc"
	printf '%s\n' '# / is an overlayfs over the xipfs image of this tree (boot=xipfs' \
		'# xipfs.root=SOURCE, see xipfs(1)): nothing to mount or remount.' >"$etc/etc/fstab"
	(cd "$root" && tar --numeric-owner --xattrs --exclude=./etc/fstab --exclude='./tmp/*' \
		--exclude='./var/cache/apt/*' --exclude='./var/lib/apt/lists/*' -cf - . \
		-C "$etc" etc/fstab) | run mkxipfs -q - /tmp/root.xipfs ||
		{ rm -rf "$etc"; die "mkxipfs of $root (a tar stream) failed"; }
	rm -rf "$etc"
	run xipfsctl info /tmp/root.xipfs | sed -n 's/^uuid=//p' >"$cache/root.uuid"
	[ -s "$cache/root.uuid" ] || die "no uuid in xipfsctl info of $cache/root.xipfs"
	mv "$root/tmp/root.xipfs" "$cache/root.xipfs"
	touch "$cache/root-xipfs.stamp"
fi
uuid=$(cat "$cache/usr.uuid")
echo "$me: guest kernel $kver, /usr image $cache/usr.xipfs ($(du -h "$cache/usr.xipfs" | cut -f1), uuid $uuid), root disk $cache/root.img, whole-root image $cache/root.xipfs (uuid $(cat "$cache/root.uuid"))" >&2
