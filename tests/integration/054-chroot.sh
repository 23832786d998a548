#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Real programs: a minimal Debian root (debootstrap minbase + python3) built
# into an image, mounted and chrooted into; python3 (json, sqlite3, ssl),
# coreutils and ldd run, and every library they load comes from the mount.
. "$(dirname "$0")/lib.sh"
need_fuse
need_cmd debootstrap debootstrap
cache=${XIPFS_TEST_CACHE:-/var/cache/xipfs-test}
root=$cache/bookworm-minbase
if [ ! -x "$root/usr/bin/python3" ]; then
	mirror=$(sed -n 's/^URIs:[[:space:]]*//p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -n 1)
	[ -n "$mirror" ] || mirror=http://deb.debian.org/debian
	rm -rf "$root.tmp"
	mkdir -p "$cache"
	debootstrap --variant=minbase --include=python3 bookworm "$root.tmp" "$mirror" \
		>"$cache/debootstrap.log" 2>&1 || { tail -n 20 "$cache/debootstrap.log"; skip "debootstrap could not reach the Debian archive"; }
	mv "$root.tmp" "$root"
fi
gen_image "$root" "$WORK/root.img"
mount_xipfs "$WORK/root.img" "$WORK/r" -o dev,suid
mount -t proc proc "$WORK/r/proc" 2>/dev/null || mount --bind /proc "$WORK/r/proc" 2>/dev/null ||
	note "proc could not be mounted over the read-only tree; running without it"
# /proc cannot be mounted on a read-only FUSE dir that is not a mount point
# we own?  It can: mounting needs only a directory.  Check it is there.
mountpoint -q "$WORK/r/proc" || fail "cannot mount /proc inside the image"
run() { chroot "$WORK/r" /usr/bin/env -i PATH=/usr/bin:/bin HOME=/ "$@"; }
out=$(run python3 -c 'import json, sqlite3, ssl
db = sqlite3.connect(":memory:")
db.execute("create table t (x)"); db.execute("insert into t values (42)")
print(json.dumps({"sqlite": db.execute("select x from t").fetchone()[0],
                  "ssl": ssl.OPENSSL_VERSION.split()[0]}))') || fail "python3 failed in the chroot"
[ "$out" = '{"sqlite": 42, "ssl": "OpenSSL"}' ] || fail "python3 printed: $out"
# The same run from the source root gives the same answer.
ref=$(chroot "$root" /usr/bin/env -i PATH=/usr/bin:/bin python3 -c 'import json, sqlite3, ssl
db = sqlite3.connect(":memory:")
db.execute("create table t (x)"); db.execute("insert into t values (42)")
print(json.dumps({"sqlite": db.execute("select x from t").fetchone()[0],
                  "ssl": ssl.OPENSSL_VERSION.split()[0]}))')
[ "$out" = "$ref" ] || fail "chroot answers differ: $out vs $ref"
[ "$(run sh -c 'echo abc | tr a-c x-z | wc -c')" = 4 ] || fail "coreutils pipeline"
run ls -l /usr/lib >/dev/null || fail "ls failed"
run sort --version >/dev/null || fail "sort failed"
ldd_out=$(run ldd /usr/bin/ls) || fail "ldd failed"
echo "$ldd_out" | grep -q "libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6" || fail "ldd: $ldd_out"
# Every file a running python3 maps comes from the mount (its device).
dev=$(stat -c %d "$WORK/r/usr/bin/python3")
maps=$(run python3 -c 'import ssl, sqlite3, os, time
print(open("/proc/self/maps").read())')
n=0
while read -r path; do
	[ "$(stat -c %d "$WORK/r$path")" = "$dev" ] || fail "$path is not from the mount"
	n=$((n + 1))
done < <(echo "$maps" | awk '$6 ~ /^\// { print $6 }' | sort -u)
[ $n -ge 5 ] || fail "only $n mapped files seen"
note "python3 mapped $n files, all from the xipfs mount"
umount "$WORK/r/proc"
