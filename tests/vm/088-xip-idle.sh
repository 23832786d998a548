#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# -o xip_idle=N: the daemon keeps at most N backing files of closed files
# registered.  In a guest, a tmpfs segment is mounted with -o xip=on and
# six files of different content are read once each (opened and closed);
# the helper's count of live backing files of the segment (`xipfsctl
# stat`, mapped_files) and the daemon's (-o stats: backing, idle) must
# then be N for xip_idle=2, none for xip_idle=0 and all six by default.  A value that is not a count is
# refused before mounting.
set -u
. "$top_srcdir/tests/vm/xip-lib.sh"
xip_prepare

vm_workdir xip-idle

# mount_read OPTS WANT: mount the segment with OPTS, read six files, print
# the helper's count of live backing files once it is WANT (RELEASE is
# asynchronous, and so is the kernel's last reference to a backing file;
# at most 10 s), unmount and wait for the daemon.
cat >"$dir/guest.sh" <<EOF
PATH=/usr/sbin:/usr/bin:/sbin:/bin
$(xip_guest_lib)
insmod $XIPMAP_KO || exit 1
$XIPFSCTL load $XIP_IMG t || exit 1
files=\$(cd /usr/lib/python3.11/lib-dynload && ls *.so | head -n 6)
ck "six different files to read" "[ \$(cd /usr/lib/python3.11/lib-dynload && cat \$files | wc -c) -gt 0 ] &&
	[ \$(cd /usr/lib/python3.11/lib-dynload && sha256sum \$files | cut -c1-64 | sort -u | wc -l) = 6 ]"
mount_read() {
	$(xip_mount_cmd d /tmp/d "xip=on,stats\$1" seg:t)
	for f in \$files; do cat /tmp/d/usr/lib/python3.11/lib-dynload/\$f >/dev/null || echo "FAIL: reading \$f"; done
	i=0
	while n=\$($XIPFSCTL stat t | sed -n 's/^mapped_files=//p') && [ "\$n" != "\$2" ] && [ \$i -lt 100 ]; do
		sleep 0.1; i=\$((i+1))
	done
	kill -USR1 \$(cat d.pid)
	i=0; while ! grep -q 'stats:' d.log && [ \$i -lt 50 ]; do sleep 0.1; i=\$((i+1)); done
	echo "\$n \$(sed -n 's/.*stats:.* backing \\([0-9]*\\) idle \\([0-9]*\\)\$/\\1 \\2/p' d.log | tail -n 1)"
	umount /tmp/d
	i=0; while [ -d /proc/\$(cat d.pid) ] && [ \$i -lt 100 ]; do sleep 0.1; i=\$((i+1)); done
}
n=\$(mount_read ,xip_idle=2 2); echo "xip_idle=2: \$n (helper's files, daemon's backing and idle)"
ck "xip_idle=2 keeps two backing files of six closed files" "[ '\$n' = '2 2 2' ]"
n=\$(mount_read ,xip_idle=0 0); echo "xip_idle=0: \$n"
ck "xip_idle=0 keeps none" "[ '\$n' = '0 0 0' ]"
n=\$(mount_read '' 6); echo "default: \$n"
ck "the default keeps all six" "[ '\$n' = '6 6 6' ]"
mkdir -p /tmp/e
$XIPFS -f -o xip_idle=-1 seg:t /tmp/e 2>bad.log; rc=\$?
ck "xip_idle=-1 is refused with status 2, naming the option" "[ \$rc = 2 ] && grep -q 'xip_idle=-1' bad.log"
ck "and nothing is mounted" "! grep -q ' /tmp/e ' /proc/mounts"
exit \$fail
EOF

vm_boot --name xip-idle --work "$dir" -- ". $dir/guest.sh"
