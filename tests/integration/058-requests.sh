#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# What the kernel may cache, it asks once (-o stats counts the requests):
# a second stat of a path, a second negative lookup, a second listing and
# a second read of a file send nothing; files and directories are opened
# without OPEN/RELEASE (no XIP here); every ioctl is a request, and an
# answered one; an image without xattrs is asked for them once.
. "$(dirname "$0")/lib.sh"
need_fuse
mkdir -p "$WORK/src/d" "$WORK/m"
head -c 300000 /dev/urandom >"$WORK/src/d/f"
printf 'g\n' >"$WORK/src/d/g"
ln -s f "$WORK/src/d/l"
gen_image "$WORK/src" "$WORK/img"

serve_fg "$WORK/img" "$WORK/m" "$WORK/log" -o stats

# count TYPE: the daemon's count of TYPE requests so far (0 if none).
count() {
	local n before
	before=$(grep -c 'stats:' "$WORK/log" || true)
	kill -USR1 "$DAEMON_PID"
	for _ in $(seq 100); do
		n=$(grep -c 'stats:' "$WORK/log" || true)
		[ "$n" -gt "$before" ] && break
		sleep 0.02
	done
	[ "$n" -gt "$before" ] || fail "no stats line after SIGUSR1: $(cat "$WORK/log")"
	grep 'stats:' "$WORK/log" | tail -n 1 |
		awk -v t="$1" '{ for (i = 1; i < NF; i++) if ($i == t) { split($(i + 1), a, "/"); print a[1]; exit } print 0 }'
}
# same TYPE BEFORE WHAT: no TYPE request since BEFORE.
same() {
	local now
	now=$(count "$1")
	[ "$now" = "$2" ] || fail "$3 sent $(( now - $2 )) $1 request(s); the kernel should have cached it"
}

stat "$WORK/m/d/g" >/dev/null
l=$(count LOOKUP)
[ "$l" -ge 2 ] || fail "stat of d/g counted $l LOOKUPs (-o stats counts nothing?)"
stat "$WORK/m/d/g" >/dev/null
same LOOKUP "$l" "a second stat of d/g"

! stat "$WORK/m/d/absent" 2>/dev/null || fail "d/absent exists"
l=$(count LOOKUP)
! stat "$WORK/m/d/absent" 2>/dev/null || fail "d/absent exists"
same LOOKUP "$l" "a second stat of a missing name"

ls -l "$WORK/m/d" >/dev/null
r=$(count READDIRPLUS)
[ "$r" -ge 1 ] || fail "listing d sent no READDIRPLUS"
ls -l "$WORK/m/d" >/dev/null
same READDIRPLUS "$r" "a second listing of d"
[ "$(readlink "$WORK/m/d/l")" = f ] || fail "readlink d/l"
k=$(count READLINK)
readlink "$WORK/m/d/l" >/dev/null
same READLINK "$k" "a second readlink of d/l"

cmp "$WORK/src/d/f" "$WORK/m/d/f" || fail "d/f differs"
r=$(count READ)
[ "$r" -ge 1 ] || fail "reading d/f sent no READ"
cmp "$WORK/src/d/f" "$WORK/m/d/f" || fail "d/f differs the second time"
cmp "$WORK/src/d/g" "$WORK/m/d/g" || fail "d/g differs"
same READ "$(( r + 1 ))" "reading d/f again (and d/g once)"
# Open-less: one OPEN and one OPENDIR (answered ENOSYS) for the whole mount.
[ "$(count OPEN)" -le 1 ] || fail "files are opened through the daemon: $(count OPEN) OPENs"
[ "$(count RELEASE)" = 0 ] || fail "RELEASE requests on an open-less mount"
[ "$(count OPENDIR)" -le 1 ] || fail "directories are opened through the daemon: $(count OPENDIR)"

# An ioctl reaches the daemon every time (no cache) and fails ENOTTY.
i=$(count IOCTL)
"$PY" -c 'import os, sys; assert not os.isatty(os.open(sys.argv[1], os.O_RDONLY))' "$WORK/m/d/g" ||
	fail "isatty on d/g"
[ "$(count IOCTL)" = "$(( i + 1 ))" ] || fail "isatty on d/g did not send one IOCTL"

# The image has no xattrs: the first getxattr is answered ENOSYS, the
# kernel answers every later one (EOPNOTSUPP) and listxattr by itself.
x=$(count GETXATTR)
"$PY" -c '
import errno, os, sys
for p in sys.argv[1:]:
    try:
        os.getxattr(p, "security.capability")
        sys.exit(p + ": getxattr succeeded")
    except OSError as e:
        if e.errno != errno.EOPNOTSUPP:
            sys.exit(p + ": getxattr: " + e.strerror)
    try:
        os.listxattr(p)
        sys.exit(p + ": listxattr succeeded")
    except OSError as e:
        if e.errno != errno.EOPNOTSUPP:
            sys.exit(p + ": listxattr: " + e.strerror)
' "$WORK/m/d/f" "$WORK/m/d/g" "$WORK/m/d" || fail "xattrs of an image without any"
[ "$(count GETXATTR)" -le "$(( x + 1 ))" ] || fail "getxattr of an image without xattrs keeps asking the daemon"
[ "$(count LISTXATTR)" -le 1 ] || fail "listxattr of an image without xattrs keeps asking the daemon"

fusermount3 -u "$WORK/m"
wait "$DAEMON_PID" || fail "daemon exit status $?"
grep -q 'stats: requests [0-9]*: LOOKUP' "$WORK/log" || fail "no stats at exit: $(cat "$WORK/log")"
note "$(tail -n 1 "$WORK/log")"
