#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# -o selfmap=/ (what the initramfs gives with /usr, issue 11): once
# mounted, the daemon's libraries that the image holds (libc, the loader,
# ...) are mapped from the mount, XIP, none from their own files any more
# (an initramfs's copies are freed then); the daemon keeps serving (every
# file reads right), and stops cleanly on SIGTERM.
set -u
. "$top_srcdir/tests/vm/xip-lib.sh"
xip_prepare

vm_workdir xip-selfmap
seg=$dir/seg
cp "$XIP_SEG" "$seg" || exit 99

cat >"$dir/guest.sh" <<EOF
PATH=/usr/sbin:/usr/bin:/sbin:/bin
$(xip_guest_lib)
insmod $XIPMAP_KO || exit 1
$(xip_mount_cmd s /tmp/s xip=on,selfmap=/ "ivshmem:$XIP_UUID")
# The daemon's own thread maps the code once the mount serves.
i=0; while ! grep -q 'mappings now from the mount' s.log && [ \$i -lt 150 ]; do sleep 0.2; i=\$((i + 1)); done
cat s.log
spid=\$(cat s.pid)
grep -E 'libc\.so|ld-linux' /proc/\$spid/maps
ck "selfmap moved mappings to the mount" "grep -Eq 'selfmap: [1-9][0-9]* mappings now from the mount' s.log"
ck "libc is mapped from the mount only" "grep -q ' /tmp/s/usr/lib/x86_64-linux-gnu/libc.so.6\\\$' /proc/\$spid/maps && ! grep -q ' /usr/lib/x86_64-linux-gnu/libc.so.6' /proc/\$spid/maps"
ck "the loader is mapped from the mount only" "! grep -q ' /usr/lib/x86_64-linux-gnu/ld-linux' /proc/\$spid/maps"
ck "every file reads right through the mount" "(cd /tmp/s && sha256sum -c --quiet $XIP_SUMS)"
kill \$spid
i=0; while kill -0 \$spid 2>/dev/null && [ \$i -lt 100 ]; do sleep 0.2; i=\$((i + 1)); done
ck "the selfmapped daemon stops on SIGTERM" "! kill -0 \$spid 2>/dev/null"
ck "and its mount is gone" "! grep -q ' /tmp/s ' /proc/mounts"
exit \$fail
EOF

vm_boot --name xip-selfmap --mem 512M --timeout 420 --work "$dir" \
	--ivshmem "$seg" -- ". ./guest.sh"
