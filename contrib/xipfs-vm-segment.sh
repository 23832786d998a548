#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# Host side of thin guests: put an xipfs image into a shared segment file
# and print how to give it to a virtual machine.
#
# Usage: contrib/xipfs-vm-segment.sh [--tenant T] [--id ID] [--dir DIR]
#            qemu|libvirt|libvirt-shmem|cloud-hypervisor|firecracker IMAGE
#
# The segment is DIR/xipfs-T-UUID (DIR default /dev/shm, T default
# "shared", UUID the image's): a copy of IMAGE padded to a power of two (an
# ivshmem BAR), mode 0444.  It is made once; every guest given the same
# segment maps the same host pages.  Guests of different trust domains
# should get different tenants: a shared read-only page lets one guest time
# another's accesses to it (Flush+Reload), see "Trust domains" in xipfs(1).
#   qemu               QEMU arguments (memory-backend-file share=on,readonly=on
#                      + ivshmem-plain)
#   libvirt            a domain XML fragment: <qemu:commandline> with the same
#                      arguments (libvirt's <shmem> cannot map read-only)
#   libvirt-shmem      libvirt's own <shmem> ivshmem-plain element: writable by
#                      the guest, so only for a guest trusted with the segment
#   cloud-hypervisor, firecracker   the same file as a read-only
#                      virtio-pmem device (neither VMM has ivshmem)
# The guest mounts it with "xipfs ivshmem:UUID DIR" (pmem:UUID for a
# virtio-pmem device), or as its /usr with xipfs.usr=ivshmem:UUID (or
# pmem:UUID) on its kernel command line, or as its whole root with
# boot=xipfs xipfs.root=ivshmem:UUID (contrib/initramfs/xipfs).  The file is at least 2 MiB:
# virtio-pmem devices are 2 MiB-aligned.
set -eu
me=xipfs-vm-segment.sh
die() { echo "$me: $*" >&2; exit 1; }
tenant=shared id=xipfs0 dir=/dev/shm
while [ $# -gt 0 ]; do
	case $1 in
	--tenant) tenant=${2:?--tenant needs a name}; shift 2 ;;
	--id) id=${2:?--id needs a name}; shift 2 ;;
	--dir) dir=${2:?--dir needs a directory}; shift 2 ;;
	-h|--help) sed -n '3,/^set -eu/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
	-*) die "unknown option $1" ;;
	*) break ;;
	esac
done
[ $# -eq 2 ] || die "usage: $me [--tenant T] [--id ID] [--dir DIR] qemu|libvirt|libvirt-shmem|cloud-hypervisor|firecracker IMAGE"
what=$1 img=$2
case $what in
qemu|libvirt|libvirt-shmem|cloud-hypervisor|firecracker) ;;
*) die "unknown target $what (qemu, libvirt, libvirt-shmem, cloud-hypervisor, firecracker)" ;;
esac
case $tenant in *[!A-Za-z0-9_.-]*|'') die "--tenant $tenant: use letters, digits, _ . -" ;; esac
case $id in *[!A-Za-z0-9_-]*|'') die "--id $id: use letters, digits, _ -" ;; esac
xipfsctl=${XIPFSCTL:-xipfsctl}
info=$("$xipfsctl" info "$img") || die "$img: not an xipfs image (xipfsctl info failed)"
uuid=$(printf '%s\n' "$info" | sed -n 's/^uuid=//p')
[ -n "$uuid" ] || die "$img: xipfsctl info printed no uuid"
size=$(stat -L -c %s "$img")
pow=2097152
while [ "$pow" -lt "$size" ]; do pow=$((pow * 2)); done
seg=$dir/xipfs-$tenant-$uuid
if ! [ -f "$seg" ] || [ "$(stat -c %s "$seg")" -ne "$pow" ] ||
	! cmp -s -n "$size" "$img" "$seg"; then
	tmp=$seg.tmp.$$
	cp "$img" "$tmp" && truncate -s "$pow" "$tmp" && chmod 0444 "$tmp" && mv -f "$tmp" "$seg" ||
		{ rm -f "$tmp"; die "cannot write $seg"; }
fi
obj="memory-backend-file,id=$id,mem-path=$seg,size=$pow,share=on,readonly=on"
dev="ivshmem-plain,memdev=$id"
case $what in
qemu)
	printf '%s\n' "-object $obj -device $dev"
	;;
libvirt)
	cat <<EOX
<!-- xipfs segment $uuid (tenant $tenant): guest "xipfs ivshmem:$uuid DIR".
     libvirt's <shmem> has no read-only mode, so the segment is given as QEMU
     arguments; the <domain> element needs
     xmlns:qemu="http://libvirt.org/schemas/domain/qemu/1.0"
     and the QEMU process read access to $seg. -->
<qemu:commandline>
  <qemu:arg value="-object"/>
  <qemu:arg value="$obj"/>
  <qemu:arg value="-device"/>
  <qemu:arg value="$dev"/>
</qemu:commandline>
EOX
	;;
cloud-hypervisor|firecracker)
	echo "# xipfs segment $uuid (tenant $tenant) as a read-only virtio-pmem device;"
	echo "# in the guest: xipfs pmem:$uuid DIR (or xipfs.usr=pmem:$uuid), with"
	echo "# virtio_pmem kept from binding the device first: \"blacklist virtio_pmem\""
	echo "# in /etc/modprobe.d (and update-initramfs), see xipfs(1)."
	if [ "$what" = cloud-hypervisor ]; then
		# discard_writes=on: opened read-only, mapped private.
		echo "--pmem file=$seg,size=$pow,discard_writes=on"
	else
		# The "pmem" list of a config file (or PUT /pmem/$id), in
		# releases with virtio-pmem.
		printf '"pmem": [{ "id": "%s", "path_on_host": "%s", "root_device": false, "read_only": true }]\n' \
			"$id" "$seg"
	fi
	;;
libvirt-shmem)
	cat <<EOX
<!-- xipfs segment $uuid (tenant $tenant), WRITABLE by the guest: libvirt maps
     /dev/shm/$(basename "$seg") with share=yes and no read-only option.
     Only for a guest trusted with every guest sharing it. -->
<shmem name="$(basename "$seg")">
  <model type="ivshmem-plain"/>
  <size unit="B">$pow</size>
</shmem>
EOX
	;;
esac
