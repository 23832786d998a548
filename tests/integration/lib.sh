# SPDX-License-Identifier: GPL-2.0-or-later
# Shared helpers for the integration scenarios (sourced, not run).
# Each scenario: `. "$(dirname "$0")/lib.sh"`, then uses $WORK (a private
# temporary directory removed on exit, with every mount under it unmounted).
set -euo pipefail

: "${top_builddir:=$(cd "$(dirname "$0")/../.." && pwd)}"
: "${top_srcdir:=$(cd "$(dirname "$0")/../.." && pwd)}"
MKXIPFS=$top_builddir/src/mkxipfs/mkxipfs
XIPFSCTL=$top_builddir/src/xipfsctl/xipfsctl
XIPFS=$top_builddir/src/xipfs/xipfs
TESTS=$top_srcdir/tests/integration
PY=/usr/bin/python3
NAME=$(basename "$0" .sh)

# Skip (exit 77) for a missing requirement.  In CI (XIPFS_NO_SKIP=1) every
# requirement is provided, so a skip there is a failure.
skip() {
	echo "SKIP $NAME: $*" >&2
	if [ -n "${XIPFS_NO_SKIP:-}" ]; then
		echo "FAIL $NAME: skipping is not allowed here (XIPFS_NO_SKIP)" >&2
		exit 1
	fi
	exit 77
}
fail() { echo "FAIL $NAME: $*" >&2; exit 1; }
# A --without-fuse build has no daemon: the tests that mount skip.
if [ ! -x "$XIPFS" ] && grep -qE 'mount_xipfs|[$]XIPFS\b|XIPFS_REAL' "$0"; then
	skip "the xipfs daemon was not built (configure --without-fuse)"
fi
note() { echo "# $*"; }

need_root() { [ "$(id -u)" -eq 0 ] || skip "needs root"; }
need_fuse() {
	need_root
	[ -c /dev/fuse ] || skip "needs /dev/fuse"
	command -v fusermount3 >/dev/null || skip "needs fusermount3 (package fuse3)"
}
need_cmd() { command -v "$1" >/dev/null || skip "needs $1${2:+ (package $2)}"; }

WORK=$(mktemp -d "${TMPDIR:-/tmp}/xipfs-$NAME.XXXXXX")
SEGMENTS=()
CLEANUP_FILES=()
cleanup() {
	local m
	# Unmount everything below $WORK, deepest first.
	for m in $(awk -v w="$WORK" 'index($2, w) == 1 { print $2 }' /proc/self/mounts | sort -r); do
		fusermount3 -u "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true
	done
	for m in "${SEGMENTS[@]}"; do
		"$XIPFSCTL" unload --force "$m" 2>/dev/null || true
	done
	for m in "${CLEANUP_FILES[@]}"; do
		rm -f "$m"
	done
	rm -rf "$WORK"
}
trap cleanup EXIT

# mount_xipfs SOURCE DIR [options...]: mount and wait until it answers.
mount_xipfs() {
	local src=$1 dir=$2
	shift 2
	mkdir -p "$dir"
	"$XIPFS" "$src" "$dir" "$@" || fail "xipfs $src $dir failed"
	mountpoint -q "$dir" || fail "$dir is not a mount point after xipfs"
}

# serve_fg SOURCE DIR LOG [options...]: a foreground daemon, in the
# background, its stderr in LOG; waits until DIR is mounted, and sets
# DAEMON_PID.
serve_fg() {
	local src=$1 dir=$2 log=$3
	shift 3
	mkdir -p "$dir"
	"$XIPFS" -f "$@" "$src" "$dir" 2>"$log" &
	DAEMON_PID=$!
	for _ in $(seq 100); do
		mountpoint -q "$dir" && return 0
		sleep 0.05
	done
	fail "xipfs $* $src did not mount on $dir: $(cat "$log")"
}

# unmount_wait DIR: unmount DIR and wait for its daemon to exit (fusermount3
# returns before it does): its use of a segment, its locks go with it.
unmount_wait() {
	local pids p n=0
	pids=$(pgrep -f -- " $1\$") || fail "no daemon for $1"
	fusermount3 -u "$1" || fail "cannot unmount $1"
	for p in $pids; do
		while kill -0 "$p" 2>/dev/null; do
			n=$((n + 1))
			[ $n -lt 600 ] || fail "the daemon of $1 does not exit"
			sleep 0.1
		done
	done
}

# A generated image once per scenario: gen_image SRCDIR IMAGE [mkxipfs options]
gen_image() {
	local src=$1 img=$2
	shift 2
	"$MKXIPFS" -q "$@" "$src" "$img" || fail "mkxipfs $src failed"
}

# info_field IMAGE KEY: a value from `xipfsctl info`.
info_field() {
	"$XIPFSCTL" info "$1" | sed -n "s/^$2=//p" | sed 's/ .*//'
}
