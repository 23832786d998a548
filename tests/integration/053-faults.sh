#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Failures: before mounting they are one line and a non-zero exit with
# nothing mounted; a killed daemon gives ENOTCONN and fusermount3 -u cleans up.
. "$(dirname "$0")/lib.sh"
need_fuse
mkdir -p "$WORK/src/d" "$WORK/m"
printf 'x\n' >"$WORK/src/d/f"
gen_image "$WORK/src" "$WORK/img"

# expect_mount_fail PATTERN -- xipfs args
expect_mount_fail() {
	local pat=$1 rc=0
	shift 2
	"$XIPFS" "$@" 2>"$WORK/err" || rc=$?
	[ $rc -ne 0 ] || fail "xipfs $* succeeded"
	[ "$(wc -l <"$WORK/err")" -eq 1 ] || fail "xipfs $*: not one line: $(cat "$WORK/err")"
	grep -q -- "$pat" "$WORK/err" || fail "xipfs $*: '$pat' not in: $(cat "$WORK/err")"
	! mountpoint -q "$WORK/m" || fail "xipfs $* left a mount"
	note "$(cat "$WORK/err")"
}
expect_mount_fail "No such file" -- "$WORK/missing.img" "$WORK/m"
expect_mount_fail "segment nosuch" -- seg:nosuch$$ "$WORK/m"
expect_mount_fail "not a directory" -- "$WORK/img" "$WORK/src/d/f"
expect_mount_fail "mount point" -- "$WORK/img" "$WORK/nodir"
cp "$WORK/img" "$WORK/bad.img"
printf '\x01' | dd of="$WORK/bad.img" bs=1 seek=$(( $(info_field "$WORK/img" metadata_offset) + 1 )) conv=notrunc status=none
expect_mount_fail "corrupt" -- "$WORK/bad.img" "$WORK/m"
head -c 1000 "$WORK/img" >"$WORK/short.img"
expect_mount_fail "corrupt" -- "$WORK/short.img" "$WORK/m"
expect_mount_fail "xip" -- "$WORK/img" "$WORK/m" -o xip=bogus
# XIP needs the xipmap module (never loaded on a host without module
# support) and a passthrough build: xip=on refuses to mount without them,
# saying which is missing; ivshmem segments need the module too.
if [ ! -e /dev/xipmap ]; then
	if grep -q '^#define HAVE_FUSE_PASSTHROUGH_OPEN 1' "$top_builddir/config.h"; then
		why="xipmap kernel helper is not loaded"
	else
		why="built without FUSE passthrough"
	fi
	expect_mount_fail "xip=on: XIP is not available: .*$why" -- "$WORK/img" "$WORK/m" -o xip=on
	expect_mount_fail "/dev/xipmap: No such file" -- ivshmem "$WORK/m"
fi
"$XIPFS" --help | grep -q "seg:NAME" || fail "--help"

# xipfs leaves /dev/fuse to libfuse: a user who cannot open it (0600)
# may still mount where libfuse hands the mount to setuid fusermount3
# (libfuse 3.14 does for -o auto_unmount).  xipfs must not refuse by
# itself; where libfuse cannot mount either, its own message says why.
asnobody() { setpriv --reuid=65534 --regid=65534 --clear-groups "$@"; }
need_cmd setpriv util-linux
if asnobody test -r /dev/fuse -a -w /dev/fuse; then
	note "/dev/fuse is open to everyone here: an unprivileged mount proves nothing"
else
	chmod 755 "$WORK"
	chmod 644 "$WORK/img"
	mkdir "$WORK/um"
	chown 65534 "$WORK/um"
	rc=0
	asnobody "$XIPFS" -o auto_unmount "$WORK/img" "$WORK/um" 2>"$WORK/err" || rc=$?
	if [ "$rc" = 0 ]; then
		[ "$(asnobody cat "$WORK/um/d/f")" = x ] || fail "read as nobody"
		asnobody fusermount3 -u "$WORK/um" || fail "fusermount3 -u as nobody"
		note "nobody mounted through fusermount3 without access to /dev/fuse"
	else
		# libfuse's own word (3.14 with auto_unmount asks fusermount3,
		# 3.17 opens the device itself), not an xipfs check before it.
		grep -q -e '^fusermount3: ' -e '^fuse: ' "$WORK/err" &&
			! grep -q '^xipfs: /dev/fuse' "$WORK/err" ||
			fail "xipfs refused by itself: $(cat "$WORK/err")"
		note "libfuse could not mount here: $(head -n 1 "$WORK/err")"
	fi
fi

# Kill the daemon: users get ENOTCONN, fusermount3 -u cleans up.
mount_xipfs "$WORK/img" "$WORK/m"
# A busy mount point (already a mount root) is refused, not stacked on.
rc=0; "$XIPFS" "$WORK/img" "$WORK/m" 2>"$WORK/err" || rc=$?
[ $rc -ne 0 ] && [ "$(wc -l <"$WORK/err")" -eq 1 ] && grep -q busy "$WORK/err" ||
	fail "mounting on a busy mount point: rc=$rc $(cat "$WORK/err")"
[ "$(grep -c " $WORK/m " /proc/self/mounts)" -eq 1 ] || fail "a second mount was stacked"
cat "$WORK/m/d/f" >/dev/null
pid=$(pgrep -n -f "$WORK/img $WORK/m")
kill -9 "$pid"
sleep 0.2
out=$(stat "$WORK/m/d" 2>&1) && fail "stat after daemon death succeeded"
echo "$out" | grep -q "Transport endpoint is not connected" || fail "expected ENOTCONN: $out"
fusermount3 -u "$WORK/m" || fail "fusermount3 -u failed"
! mountpoint -q "$WORK/m" || fail "still mounted"

# mount -t fuse.xipfs and an fstab line, through mount.fuse3, which finds
# "xipfs" on mount(8)'s sanitized PATH: put it in /usr/local/sbin for the
# test unless an xipfs is installed.
if ! command -v xipfs >/dev/null; then
	ln -s "$XIPFS" /usr/local/sbin/xipfs
	CLEANUP_FILES+=(/usr/local/sbin/xipfs)
fi
mount -t fuse.xipfs "$WORK/img" "$WORK/m" -o allow_other ||
	fail "mount -t fuse.xipfs failed"
[ "$(cat "$WORK/m/d/f")" = x ] || fail "mount -t fuse.xipfs serves wrong data"
grep " $WORK/m fuse.xipfs " /proc/self/mounts | grep -q allow_other || fail "allow_other lost"
umount "$WORK/m"
printf '%s %s fuse.xipfs defaults,nofail 0 0\n' "$WORK/img" "$WORK/m" >"$WORK/fstab"
mount -T "$WORK/fstab" "$WORK/m" || fail "mount from an fstab line failed"
[ "$(cat "$WORK/m/d/f")" = x ] || fail "fstab mount serves wrong data"
umount "$WORK/m"
