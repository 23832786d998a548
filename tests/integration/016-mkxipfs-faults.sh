#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# mkxipfs on bad input and failing output: a clear error naming the path,
# a non-zero exit, and no image or temporary file left behind.
. "$(dirname "$0")/lib.sh"
need_root

# expect_fail NAME OUTDIR PATTERN -- mkxipfs args: fails, says PATTERN, leaves nothing.
expect_fail() {
	local what=$1 out=$2 pat=$3 rc=0
	shift 4
	"$MKXIPFS" -q ${IO:+--io=$IO} "$@" 2>"$WORK/err" || rc=$?
	[ "$rc" -ne 0 ] || fail "$what: mkxipfs succeeded"
	[ "$rc" -lt 128 ] || fail "$what: mkxipfs died (exit $rc)"
	[ "$(wc -l <"$WORK/err")" -ge 1 ] || fail "$what: no message"
	grep -q -- "$pat" "$WORK/err" || fail "$what: message lacks '$pat': $(cat "$WORK/err")"
	[ -z "$(ls -A "$out")" ] || fail "$what: left files behind: $(ls -A "$out")"
	note "$what: $(head -n 1 "$WORK/err")"
}

mkdir -p "$WORK/src/d" "$WORK/out"
head -c 3000000 /dev/urandom >"$WORK/src/d/big"
printf 'x\n' >"$WORK/src/small"

# A full disk: a 1 MiB tmpfs for a 3 MB image.
mkdir "$WORK/full"
mount -t tmpfs -o size=1m tmpfs "$WORK/full"
expect_fail "full disk" "$WORK/full" "No space left" -- "$WORK/src" "$WORK/full/img"
umount "$WORK/full"

# An unreadable file: a directory we cannot open (root bypasses modes, so
# use a directory whose read fails: a FUSE-less trick is a file that
# disappears; here, a path that is a dangling place in /proc).
mkdir -p "$WORK/src2"
ln -s /proc/self/fd/999 "$WORK/src2/ok-symlink"	# symlinks are never followed
mkfifo "$WORK/src2/fifo"			# fifos are stored, never opened
"$MKXIPFS" -q "$WORK/src2" "$WORK/out/fine.img" || fail "special files broke the build"
rm -f "$WORK/out/fine.img"

# The input read paths: io_uring prefetch (the default) and read(2).
for IO in uring read; do
	# A file that grows while it is read: /proc files report size 0 but
	# have content.
	mkdir -p "$WORK/src3"
	: >"$WORK/src3/copy"
	mount --bind /proc/version "$WORK/src3/copy"
	expect_fail "file that grows while read ($IO)" "$WORK/out" "grew while being read" -- "$WORK/src3" "$WORK/out/img"
	umount "$WORK/src3/copy"

	# A file truncated while it is read, from another process, once
	# mkxipfs has read 64 MiB of it (rchar in /proc/PID/io), so the race
	# is won the same way however slow the machine and whatever the
	# prefetch read first.
	rm -rf "$WORK/src4"
	mkdir -p "$WORK/src4"
	"$PY" -c '
import os, sys
fd = os.open(sys.argv[1], os.O_CREAT | os.O_WRONLY)
os.ftruncate(fd, 256 << 30)	# 256 GiB sparse: reading takes many seconds
' "$WORK/src4/shrinking"
	(
		for _ in $(seq 1200); do
			pid=$(pgrep -n -f "mkxipfs.*$WORK/src4" || true)
			if [ -n "$pid" ] &&
				[ "$(awk '$1 == "rchar:" { print $2 }' "/proc/$pid/io" 2>/dev/null || echo 0)" -gt 67108864 ]; then
				truncate -s 4096 "$WORK/src4/shrinking"
				exit 0
			fi
			sleep 0.05
		done
	) &
	expect_fail "file shrinking while read ($IO)" "$WORK/out" "shrank while being read" -- "$WORK/src4" "$WORK/out/img"
	wait
done
IO=

# An unreadable directory entry: a permission-less file read as nobody
# is not possible as root; use a directory removed during the walk instead.
expect_fail "missing source" "$WORK/out" "cannot" -- "$WORK/does-not-exist" "$WORK/out/img"

# Bad tar: truncated archives and garbage.
tar -C "$WORK/src" -cf "$WORK/t.tar" .
head -c 1500000 "$WORK/t.tar" >"$WORK/short.tar"
expect_fail "truncated tar" "$WORK/out" "short.tar" -- "$WORK/short.tar" "$WORK/out/img"
head -c 10000 /dev/urandom >"$WORK/garbage.tar"
expect_fail "garbage tar" "$WORK/out" "garbage.tar" -- "$WORK/garbage.tar" "$WORK/out/img"
gzip -c "$WORK/t.tar" >"$WORK/t.tar.gz"
head -c 100000 "$WORK/t.tar.gz" >"$WORK/short.tar.gz"
expect_fail "truncated tar.gz" "$WORK/out" "short.tar.gz" -- "$WORK/short.tar.gz" "$WORK/out/img"
expect_fail "truncated tar on stdin" "$WORK/out" "standard input" -- - "$WORK/out/img" <"$WORK/short.tar"

# Names too long for a tar entry path component, and '..' in tar paths.
"$PY" - "$WORK/evil.tar" <<'PY'
import io, sys, tarfile
with tarfile.open(sys.argv[1], "w", format=tarfile.PAX_FORMAT) as t:
    ti = tarfile.TarInfo("../escape"); ti.size = 1
    t.addfile(ti, io.BytesIO(b"x"))
PY
expect_fail "tar path with .." "$WORK/out" "'..'" -- "$WORK/evil.tar" "$WORK/out/img"

# A tar whose root entry ("" or ".") is not a directory: refused, naming
# the entry (it used to make an image whose root is a file, which no reader
# opens).  The first is the fuzzer's reproducer.
expect_fail "tar root entry is a file" "$WORK/out" "entry '': the entry names the root directory" -- \
	"$top_srcdir/tests/fuzz/corpus/fuzz_tar/crash-tar-root-is-a-file.tar" "$WORK/out/img"
"$PY" - "$WORK/rootdot.tar" "$WORK/dirfile.tar" <<'PY'
import io, sys, tarfile
with tarfile.open(sys.argv[1], "w") as t:
    t.addfile(tarfile.TarInfo("a"), io.BytesIO(b""))
    ti = tarfile.TarInfo("."); ti.type = tarfile.SYMTYPE; ti.linkname = "a"
    t.addfile(ti)
with tarfile.open(sys.argv[2], "w") as t:
    t.addfile(tarfile.TarInfo("d/f"), io.BytesIO(b""))
    t.addfile(tarfile.TarInfo("d"), io.BytesIO(b""))
PY
expect_fail "tar root entry '.' is a symlink" "$WORK/out" "entry '.': the entry names the root directory.*type 0120000" -- \
	"$WORK/rootdot.tar" "$WORK/out/img"
expect_fail "tar file replacing a directory with entries" "$WORK/out" "entry 'd': entry replaces a directory that has entries" -- \
	"$WORK/dirfile.tar" "$WORK/out/img"
# A member under a file: the message names the archive, the member's
# header offset and the path's file (the same text for image layers: 020).
"$PY" - "$WORK/underfile.tar" <<'PY'
import io, sys, tarfile
with tarfile.open(sys.argv[1], "w", format=tarfile.USTAR_FORMAT) as t:
    i = tarfile.TarInfo("etc/passwd"); i.size = 5
    t.addfile(i, io.BytesIO(b"root\n"))
    t.addfile(tarfile.TarInfo("etc/passwd/x"), io.BytesIO(b""))
PY
expect_fail "tar member under a file" "$WORK/out" \
	"underfile.tar: at byte 1024: entry 'etc/passwd/x': entry path runs through 'etc/passwd', which is not a directory" -- \
	"$WORK/underfile.tar" "$WORK/out/img"

# Bad options.
rc=0; "$MKXIPFS" --page-size 1234 "$WORK/src" "$WORK/out/img" 2>"$WORK/err" || rc=$?
[ "$rc" -eq 2 ] && grep -q "page size" "$WORK/err" || fail "bad --page-size accepted (rc $rc)"
rc=0; "$MKXIPFS" "$WORK/src" 2>"$WORK/err" || rc=$?
[ "$rc" -eq 2 ] && grep -q Usage "$WORK/err" || fail "missing IMAGE argument accepted"
"$MKXIPFS" --help | grep -q -- --exclude || fail "--help lacks options"
[ -z "$(ls -A "$WORK/out")" ] || fail "bad options left files"

# An output directory that does not exist.
expect_fail "missing output directory" "$WORK/out" "cannot create" -- "$WORK/src" "$WORK/nodir/img"

# Interrupted: SIGTERM mid-build leaves nothing.
mkdir "$WORK/src5" && truncate -s 64G "$WORK/src5/huge"
"$MKXIPFS" -q "$WORK/src5" "$WORK/out/img" & pid=$!
sleep 0.5; kill -TERM $pid || fail "mkxipfs ended too early to interrupt"
wait $pid && fail "mkxipfs survived SIGTERM"
[ -z "$(ls -A "$WORK/out")" ] || fail "SIGTERM left files: $(ls -A "$WORK/out")"
