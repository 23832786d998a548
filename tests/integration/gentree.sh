#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# gentree.sh DIR [--small]: generate a tree holding every inode type and the
# edge cases xipfs must keep: holes, a > 4 GiB sparse file, hardlinks, a
# 100,000-entry directory (1,000 with --small), 255-byte and non-UTF-8
# names, deep nesting, xattrs (user, trusted, security.capability),
# setuid/setgid/sticky bits, high uid/gid and nanosecond times.  Needs root.
set -euo pipefail
d=$1
big=100000
[ "${2:-}" = --small ] && big=1000
mkdir -p "$d"
cd "$d"
printf 'hello\n' >hello.txt
: >empty
head -c 4096 /dev/urandom >one-page
head -c 4097 /dev/urandom >page-plus-one
head -c 300000 /dev/urandom >random
cp random random-copy			# dedupe: same pages again
# A file of one page repeated, and holes in the middle and at the end.
/usr/bin/python3 - <<'PY'
import os
page = bytes(range(256)) * 16
with open("repeated", "wb") as f:
    f.write(page * 64)
with open("sparse", "wb") as f:
    f.write(b"start")
    f.seek(5 * 4096)
    f.write(b"middle" * 1000)
    f.truncate(64 * 4096)
with open("big-sparse", "wb") as f:
    f.write(b"head")
    f.seek(4 * 1024**3 + 12345)
    f.write(b"beyond 4 GiB")
    f.truncate(5 * 1024**3)
PY
mkdir hard && printf 'linked\n' >hard/a && ln hard/a hard/b && ln hard/a c-link
ln -s hello.txt symlink
ln -s /nonexistent/target dangling
ln -s "$(printf 'x%.0s' $(seq 1 300))" long-target
mknod chardev c 1 3
mknod blockdev b 7 200
mkfifo fifo
/usr/bin/python3 -c 'import socket; s = socket.socket(socket.AF_UNIX); s.bind("socket")'
# Names: the longest allowed, and bytes that are not UTF-8.
long=$(printf 'n%.0s' $(seq 1 255))
printf 'long name\n' >"$long"
printf 'latin-1\n' >"$(printf 'caf\xe9-\xff\xfe')"
printf 'spaces\n' >"name with spaces, commas and \\ backslash"
# Deep nesting.
p=deep
for i in $(seq 1 100); do p=$p/d$i; done
mkdir -p "$p" && printf 'bottom\n' >"$p/file"
# A big directory.
mkdir many
/usr/bin/python3 -c "
import os
for i in range($big):
    os.close(os.open('many/entry-%06d' % i, os.O_CREAT | os.O_WRONLY, 0o644))
"
# Modes and owners.
printf '#!/bin/sh\n' >setuid && chmod 4755 setuid
mkdir setgid-dir && chmod 2775 setgid-dir
mkdir sticky && chmod 1777 sticky
printf 'odd mode\n' >odd && chmod 0604 odd
printf 'owner\n' >high-ids && chown 4000000000:4000000001 high-ids
chown 1234:5678 hello.txt
chown -h 42:43 symlink
# Extended attributes.
/usr/bin/python3 - <<'PY'
import os, struct
os.setxattr("hello.txt", "user.greeting", b"bonjour")
os.setxattr("hello.txt", "user.empty", b"")
os.setxattr("hello.txt", "trusted.secret", b"\x00\x01\x02binary")
os.setxattr("random", "user.greeting", b"bonjour")
os.setxattr("setgid-dir", "user.dir", b"on a directory")
# The same set on two files: stored once.
for f in ("one-page", "page-plus-one"):
    os.setxattr(f, "user.shared", b"same set")
# security.capability, revision 2: cap_net_bind_service (bit 10), effective.
os.setxattr("setuid", "security.capability",
            struct.pack("<IIIII", 0x02000001, 1 << 10, 0, 0, 0))
os.setxattr("many/entry-000007", "user.big", b"v" * 4000)
# security.selinux: a kernel without SELinux may refuse it; only that one
# may be skipped.
try:
    os.setxattr("odd", "security.selinux", b"system_u:object_r:etc_t:s0\0")
except OSError as e:
    print("gentree.sh: note: security.selinux not settable here (%s), left out" % e)
PY
# Nanosecond times, set last (directories after their contents).
find . -depth ! -type l -exec touch -h -d '2021-03-04 05:06:07.123456789' {} +
touch -h -d '2019-12-31 23:59:59.987654321' symlink
touch -d '1970-01-01 00:00:01.000000001' hello.txt
touch -d '2038-01-19 03:14:08.5' odd
