#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# -o stats in a daemon that went to the background (an initramfs daemon's
# case: its stderr is /dev/null): SIGUSR1 puts the counts in the kernel
# log, under the daemon's pid, where a guest reads them with dmesg.
. "$(dirname "$0")/lib.sh"
need_fuse
need_cmd dmesg util-linux
need_cmd pgrep procps
dmesg >/dev/null 2>&1 || skip "cannot read the kernel log (dmesg)"
mkdir -p "$WORK/src/d"
printf 'g\n' >"$WORK/src/d/g"
gen_image "$WORK/src" "$WORK/img"
mount_xipfs "$WORK/img" "$WORK/m" -o stats
pid=$(pgrep -f -x "$XIPFS $WORK/img $WORK/m -o stats" || true)
[ -n "$pid" ] || fail "no daemon process for $WORK/m"
stat "$WORK/m/d/g" >/dev/null
kill -USR1 "$pid"
line=
for _ in $(seq 100); do
	line=$(dmesg | grep -F "xipfs[$pid]: stats: requests" | tail -n 1 || true)
	[ -n "$line" ] && break
	sleep 0.05
done
[ -n "$line" ] || fail "no stats line of daemon $pid in the kernel log after SIGUSR1"
echo "$line" | grep -q ' LOOKUP [1-9][0-9]*/' || fail "the kernel log's stats line counts no LOOKUP: $line"
note "$line"
fusermount3 -u "$WORK/m"
