#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# The fuzz-smoke harness must fail on a crash.  fuzz_plant is fuzz_image
# built with -DXIPFS_FUZZ_PLANT: a heap overflow on inputs starting with
# "PLANTED!".  Run smoke.sh on it; it must exit non-zero, name the
# directory and leave a reproducer there that crashes fuzz_plant again
# while the real fuzz_image runs it cleanly (the plant is only in the test
# build).
# Usage: test-smoke-plant.sh SRCDIR BUILDDIR
set -u
src=$1 build=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir "$tmp/seeds" "$tmp/findings"
printf 'XIPFSIMG' >"$tmp/seeds/seed"

echo "test-smoke-plant: fuzz-smoke on a target with a planted crash (must fail)"
FUZZ_SEEDS=$tmp/seeds FUZZ_FINDINGS=$tmp/findings FUZZ_SECONDS=${PLANT_SECONDS:-120} \
	sh "$src/smoke.sh" "$src" "$tmp" "$build/fuzz_plant" >"$tmp/out" 2>&1
rc=$?
if [ $rc -eq 0 ]; then
	cat "$tmp/out"
	echo "test-smoke-plant: FAIL: smoke.sh passed despite the planted crash" >&2
	exit 1
fi
if ! grep -q "reproducer(s) in $tmp/findings/" "$tmp/out"; then
	cat "$tmp/out"
	echo "test-smoke-plant: FAIL: the failure message does not name the findings directory" >&2
	exit 1
fi
repro=$(ls "$tmp/findings"/crash-* 2>/dev/null | head -n 1)
if [ -z "$repro" ]; then
	cat "$tmp/out"
	echo "test-smoke-plant: FAIL: no crash-* reproducer left in $tmp/findings" >&2
	exit 1
fi
if "$build/fuzz_plant" "$repro" >"$tmp/replay" 2>&1 ||
   ! grep -q "heap-buffer-overflow" "$tmp/replay"; then
	cat "$tmp/replay"
	echo "test-smoke-plant: FAIL: the reproducer does not crash fuzz_plant" >&2
	exit 1
fi
if ! "$build/fuzz_image" "$repro" >"$tmp/replay" 2>&1; then
	cat "$tmp/replay"
	echo "test-smoke-plant: FAIL: the plant is in the real fuzz_image target" >&2
	exit 1
fi
echo "test-smoke-plant: PASS: fuzz-smoke failed (exit $rc) and left $(basename "$repro")"
