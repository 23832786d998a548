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
# file mapped from /usr is the host's frame (pagemap against the ivshmem
# BAR), files read back equal the guest tree they were built from, and
# xipfs-mounts.service mounts a second segment after boot.  Then the guest
# powers off through systemd, which must not kill the daemon or hang.
# Before the boot: guest_require removed the /usr segment of the guest's
# previous build.
# Not in `make check`: building the guest takes minutes (make check-guest).
set -u
. "${top_srcdir:?}/tests/vm/guest-lib.sh"
# The /usr segment of a previous build of this guest (another UUID), as
# guest_require recorded it: guest_require replaces it by the current one.
stale=/dev/shm/xipfs-test-00000000-0000-4000-8000-000000000000
cache=${XIPFS_GUEST_CACHE:-/var/cache/xipfs-guest}
trap 'rm -f "$stale"' EXIT
if [ -s "$cache/usr.uuid" ]; then
	: >"$stale" && echo "$stale" >"$cache/usr.seg" || exit 99
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

cat >"$work/run.sh" <<EOS
set -u
fail() { echo "FAIL: \$*"; exit 1; }
set -- \$(findmnt -n -o FSTYPE,SOURCE /usr)
[ "\$1 \$2" = "fuse.xipfs ivshmem:$GUEST_UUID" ] || fail "/usr is \$*"
echo "usr: \$1 \$2"
pid=\$(pgrep -x @xipfs) || fail "no @xipfs daemon"
argv0=\$(tr '\0' '\n' </proc/\$pid/cmdline | head -n 1)
[ "\$argv0" = @xipfs ] || fail "daemon argv[0] is \$argv0"
cg=\$(cat /proc/\$pid/cgroup)
case \$cg in "0::/"|"0::/init.scope") ;; *) fail "daemon in cgroup \$cg, a unit systemd stops" ;; esac
echo "daemon: pid \$pid argv[0] \$argv0 cgroup \$cg"
# The guest was built updated (contrib/build-guest.sh): no boot redoes
# the work of a changed /usr.
for u in ldconfig.service systemd-journal-catalog-update.service; do
	[ "\$(systemctl show -P ConditionResult \$u)" = no ] || fail "\$u ran at boot: /usr counts as updated"
done
echo "update services: skipped"
modinfo -n xipmap | grep -q /updates/dkms/ || fail "xipmap is not dkms's: \$(modinfo -n xipmap)"
out=\$(python3 -c 'import json, sqlite3, ssl, sys; print("python", sys.version.split()[0], json.dumps([1]))') ||
	fail "python3"
echo "\$out"
n=\$(dpkg -l | grep -c '^ii')
[ "\$n" -gt 100 ] || fail "dpkg -l lists \$n packages"
dpkg -l xipfs xipmap-dkms | grep -q '^ii  xipmap-dkms' || fail "xipmap-dkms not installed"
echo "dpkg: \$n packages installed"
printf '#include <stdio.h>\nint main(void) { puts("gcc-ok"); return 0; }\n' >/tmp/h.c
gcc -O2 -o /tmp/h /tmp/h.c && [ "\$(/tmp/h)" = gcc-ok ] || fail "gcc"
echo "gcc: \$(gcc -dumpfullversion) built and ran a program"
cd / && echo "$sums" | sha256sum --quiet -c - || fail "files differ from the guest tree"
echo "sha256: $(echo "$sums" | wc -l) files equal the guest tree"
python3 - "$py" <<'PY' || fail "pagemap"
import ctypes, glob, mmap, os, struct, sys
bars = []
for d in glob.glob('/sys/bus/pci/devices/*'):
    if open(d + '/vendor').read().strip() == '0x1af4' and open(d + '/device').read().strip() == '0x1110':
        s, e, _ = open(d + '/resource').read().splitlines()[2].split()
        bars.append((int(s, 16), int(e, 16)))
fd = os.open(sys.argv[1], os.O_RDONLY)
m = mmap.mmap(fd, 0, flags=mmap.MAP_PRIVATE, prot=mmap.PROT_READ | mmap.PROT_WRITE)
m[8192]    # a read: the page stays the segment's own frame
addr = ctypes.addressof(ctypes.c_char.from_buffer(m)) + 8192
with open('/proc/self/pagemap', 'rb') as pm:
    pm.seek(addr // 4096 * 8)
    e = struct.unpack('<Q', pm.read(8))[0]
pfn = e & ((1 << 55) - 1)
ok = e >> 63 and any(s <= pfn * 4096 <= en for s, en in bars)
print('xip: %s page 2 at frame 0x%x, ivshmem BARs %s: %s' % (sys.argv[1], pfn, ['0x%x-0x%x' % b for b in bars], 'in a BAR' if ok else 'NOT in a BAR'))
sys.exit(0 if ok else 1)
PY
echo "ivshmem:$extra_uuid /opt/extra allow_other" >>/etc/xipfs/mounts
systemctl restart xipfs-mounts.service || fail "xipfs-mounts.service"
[ "\$(cat /opt/extra/sub/hello)" = "a further segment $$" ] || fail "/opt/extra/sub/hello"
echo "xipfs-mounts: \$(findmnt -n -o SOURCE /opt/extra) on /opt/extra"
EOS

guest_boot --name thin --ivshmem "$extra_seg" "$work/run.sh" "$work/guest"
rc=$?
if [ $rc -ne 0 ]; then
	echo "FAIL: the guest run failed ($rc); console: $work/guest/console.log" >&2
	tail -n 40 "$work/guest/console.log" >&2
	exit 1
fi
# systemd-shutdown names what it still has to signal; the daemon of /usr
# must not be among them.
if grep -E 'Sending SIG[A-Z]+ to PID [0-9]+ \(@?xipfs\)' "$work/guest/console.log"; then
	echo "FAIL: systemd-shutdown signalled the daemon of /usr" >&2
	exit 1
fi
grep -a -E 'shutdown\[1\]|reboot: ' "$work/guest/console.log" | sed 's/^/console: /' | tail -n 8
echo "boot, run and poweroff: ${GUEST_SECONDS}s"
