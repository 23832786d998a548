#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The main job on a small built-in example, as root on Debian 12: install
# the build dependencies, build xipfs, build an image from a sample tree,
# inspect it, load it into a shared segment, mount it, show it, clean up.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
if [ "$(id -u)" -ne 0 ]; then
	echo "demo.sh: run as root (it installs packages and mounts a FUSE file system)" >&2
	exit 1
fi
contrib/install-deps.sh --build-only
[ -x configure ] && [ configure -nt configure.ac ] || autoreconf -fi
b=$top/build/demo
mkdir -p "$b"
(cd "$b" && { [ -f Makefile ] || "$top/configure" -q; } && make -s -j"$(nproc)")

work=$(mktemp -d /tmp/xipfs-demo.XXXXXX)
mnt=$work/mnt
seg=demo$$
cleanup() {
	mountpoint -q "$mnt" 2>/dev/null && fusermount3 -u "$mnt"
	"$b/src/xipfsctl/xipfsctl" unload "$seg" 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT

say() { printf '\n\033[1m$ %s\033[0m\n' "$*"; }
run() { say "$*"; "$@"; }

# The sample tree: a few text files, two copies of a real shared library (so
# dedupe shows), a sparse file, a symlink, a hardlink and a directory.
src=$work/sample
mkdir -p "$src/docs" "$src/lib"
printf 'Hello from xipfs.\n' >"$src/hello.txt"
cp "$top/README.md" "$src/docs/"
lib=$(ls /usr/lib/x86_64-linux-gnu/libz.so.1.* 2>/dev/null | head -n 1 || true)
[ -n "$lib" ] || lib=$(ls /usr/lib/x86_64-linux-gnu/libc.so.6)
cp "$lib" "$src/lib/libdemo.so"
cp "$lib" "$src/lib/libdemo-copy.so"
truncate -s 1M "$src/sparse.img"
printf 'data in the middle' | dd of="$src/sparse.img" bs=1 seek=524288 conv=notrunc status=none
ln -s hello.txt "$src/greeting"
ln "$src/hello.txt" "$src/docs/hello-hardlink.txt"

x="$b/src"
run "$x/mkxipfs/mkxipfs" "$src" "$work/demo.xipfs"
run "$x/xipfsctl/xipfsctl" info "$work/demo.xipfs"
run "$x/xipfsctl/xipfsctl" fsck --verify-data "$work/demo.xipfs"
run "$x/xipfsctl/xipfsctl" load "$work/demo.xipfs" "$seg"
run "$x/xipfsctl/xipfsctl" list
mkdir -p "$mnt"
run "$x/xipfs/xipfs" "seg:$seg" "$mnt"
run ls -lR "$mnt"
run cat "$mnt/greeting"
run df -h "$mnt"
say "diff -r $src $mnt"
diff -r "$src" "$mnt" && echo "identical"
run fusermount3 -u "$mnt"
run "$x/xipfsctl/xipfsctl" unload "$seg"
