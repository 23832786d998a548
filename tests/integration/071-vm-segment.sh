#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# contrib/xipfs-vm-segment.sh, the host side of thin guests: the segment
# file it makes (the image padded to a power of two, read-only, made once,
# one per tenant), QEMU accepting its arguments (QEMU itself opens the
# read-only backend and realizes the ivshmem-plain device), its libvirt
# fragments valid against libvirt's domain schema (virt-xml-validate), and
# refusals of bad input.
. "$(dirname "$0")/lib.sh"
SEGCMD=$top_srcdir/contrib/xipfs-vm-segment.sh
export XIPFSCTL
command -v qemu-system-x86_64 >/dev/null || skip "needs qemu-system-x86_64 (package qemu-system-x86)"
command -v virt-xml-validate >/dev/null || skip "needs virt-xml-validate (package libvirt-clients)"

mkdir -p "$WORK/tree/d" "$WORK/shm"
head -c 300000 /dev/urandom >"$WORK/tree/d/blob"
echo hello >"$WORK/tree/hello"
"$MKXIPFS" -q "$WORK/tree" "$WORK/img"
uuid=$("$XIPFSCTL" info "$WORK/img" | sed -n 's/^uuid=//p')
size=$(stat -c %s "$WORK/img")

args=$("$SEGCMD" --dir "$WORK/shm" --tenant a --id useg qemu "$WORK/img")
seg=$WORK/shm/xipfs-a-$uuid
pow=2097152
while [ $pow -lt "$size" ]; do pow=$((pow * 2)); done
[ "$args" = "-object memory-backend-file,id=useg,mem-path=$seg,size=$pow,share=on,readonly=on -device ivshmem-plain,memdev=useg" ] ||
	fail "qemu arguments: $args"
[ "$(stat -c %s:%a "$seg")" = "$pow:444" ] || fail "segment $seg: $(stat -c %s:%a "$seg"), want $pow:444"
cmp -n "$size" "$WORK/img" "$seg" || fail "the segment does not start with the image"
[ "$(tail -c +$((size + 1)) "$seg" | tr -d '\0' | wc -c)" -eq 0 ] || fail "the padding is not zero"
ino=$(stat -c %i "$seg")
"$SEGCMD" --dir "$WORK/shm" --tenant a --id useg qemu "$WORK/img" >/dev/null
[ "$(stat -c %i "$seg")" = "$ino" ] || fail "a second call rewrote the segment"
"$SEGCMD" --dir "$WORK/shm" --tenant b qemu "$WORK/img" >/dev/null
cmp "$seg" "$WORK/shm/xipfs-b-$uuid" || fail "tenant b's segment differs"
[ "$(stat -c %i "$WORK/shm/xipfs-b-$uuid")" != "$ino" ] || fail "tenants a and b share a file"
note "segment $pow bytes for a $size-byte image, one file per tenant"

# QEMU opens the backend read-only and realizes the device, then quits.
# shellcheck disable=SC2086
out=$(printf '%s\n' '{"execute":"qmp_capabilities"}' \
	'{"execute":"qom-get","arguments":{"path":"/objects/useg","property":"readonly"}}' \
	'{"execute":"quit"}' |
	timeout 60 qemu-system-x86_64 -accel tcg -M pc -nodefaults -display none -S -qmp stdio $args 2>&1) ||
	fail "qemu refused the arguments: $out"
grep -q '"return": true' <<<"$out" || fail "QEMU's backend is not readonly: $out"
note "QEMU accepted the arguments, backend readonly=true"

# libvirt: each fragment inside a minimal domain, against libvirt's schema.
domain() {
	cat <<EOX
<domain type="qemu" xmlns:qemu="http://libvirt.org/schemas/domain/qemu/1.0">
  <name>thin</name>
  <memory unit="MiB">512</memory>
  <os><type arch="x86_64" machine="pc">hvm</type></os>
  <devices>$2</devices>
$1
</domain>
EOX
}
domain "$("$SEGCMD" --dir "$WORK/shm" --tenant a --id useg libvirt "$WORK/img")" "" >"$WORK/cmdline.xml"
grep -q "<qemu:arg value=\"memory-backend-file,id=useg,mem-path=$seg,size=$pow,share=on,readonly=on\"/>" \
	"$WORK/cmdline.xml" || fail "libvirt fragment: $(cat "$WORK/cmdline.xml")"
virt-xml-validate "$WORK/cmdline.xml" domain >"$WORK/v1" 2>&1 || fail "qemu:commandline form: $(cat "$WORK/v1")"
domain "" "$("$SEGCMD" --dir "$WORK/shm" --tenant a libvirt-shmem "$WORK/img")" >"$WORK/shmem.xml"
virt-xml-validate "$WORK/shmem.xml" domain >"$WORK/v2" 2>&1 || fail "<shmem> form: $(cat "$WORK/v2")"
note "both libvirt fragments validate against the domain schema"

# Cloud Hypervisor and Firecracker: the same segment file as virtio-pmem,
# mounted as pmem:UUID in the guest.
out=$("$SEGCMD" --dir "$WORK/shm" --tenant a cloud-hypervisor "$WORK/img")
grep -qx -- "--pmem file=$seg,size=$pow,discard_writes=on" <<<"$out" ||
	fail "cloud-hypervisor: $out"
grep -q "xipfs pmem:$uuid" <<<"$out" || fail "cloud-hypervisor: no guest command: $out"
out=$("$SEGCMD" --dir "$WORK/shm" --tenant a --id p0 firecracker "$WORK/img")
grep -v '^#' <<<"$out" | sed 's/^"pmem": //' | python3 -c '
import json, sys
d = json.load(sys.stdin)[0]
assert d == {"id": "p0", "path_on_host": sys.argv[1], "root_device": False, "read_only": True}, d
' "$seg" || fail "firecracker: $out"
[ "$(stat -c %i "$seg")" = "$ino" ] || fail "the pmem targets rewrote the segment"
note "cloud-hypervisor and firecracker get the same file as read-only virtio-pmem"

# Bad input: a file that is no image, a bad tenant name, an unknown target.
head -c 8192 /dev/zero >"$WORK/notimg"
if "$SEGCMD" --dir "$WORK/shm" qemu "$WORK/notimg" >"$WORK/o" 2>&1; then fail "accepted a non-image"; fi
grep -q "$WORK/notimg: not an xipfs image" "$WORK/o" || fail "non-image message: $(cat "$WORK/o")"
if "$SEGCMD" --dir "$WORK/shm" --tenant ../x qemu "$WORK/img" >"$WORK/o" 2>&1; then fail "accepted tenant ../x"; fi
if "$SEGCMD" --dir "$WORK/shm" vmware "$WORK/img" >"$WORK/o" 2>&1; then fail "accepted target vmware"; fi
[ "$(ls "$WORK/shm")" = "$(printf 'xipfs-a-%s\nxipfs-b-%s' "$uuid" "$uuid")" ] ||
	fail "refusals left files: $(ls "$WORK/shm")"
note "refusals: non-image, bad tenant, unknown target"
