#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# Build one fuzz target with AFL++ (Debian's afl++ package) and run it
# under afl-fuzz.  The targets are libFuzzer-style; afl-clang-fast turns
# -fsanitize=fuzzer into its own driver, so the same sources and the same
# Makemodule.am rules serve both fuzzers.
# Usage: afl.sh [TARGET [SECONDS]]    TARGET: fuzz_image (default),
#        fuzz_tar or fuzz_fuse; SECONDS: default 60.
# Builds in $AFL_BUILD (default ./build-afl); findings in $AFL_BUILD/afl-TARGET.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
target=${1:-fuzz_image}
seconds=${2:-60}
build=${AFL_BUILD:-$PWD/build-afl}

for tool in afl-clang-fast afl-fuzz; do
	if ! command -v $tool >/dev/null; then
		echo "afl.sh: $tool not found: install the afl++ package" >&2
		exit 77
	fi
done
case $target in
fuzz_image|fuzz_tar|fuzz_fuse) ;;
*) echo "afl.sh: unknown target '$target' (fuzz_image, fuzz_tar, fuzz_fuse)" >&2; exit 2 ;;
esac
mkdir -p "$build"
cd "$build"
[ -f Makefile ] || CC=afl-clang-fast "$top/configure" -q --enable-fuzzing
# AFL_USE_ASAN/UBSAN make afl-clang-fast add the sanitizers it supports.
AFL_USE_ASAN=1 AFL_USE_UBSAN=1 make -s "tests/fuzz/$target" \
	FUZZ_SAN= FUZZ_CC_FLAGS="-fsanitize=fuzzer-no-link -g -O1" \
	FUZZ_LD_FLAGS="-fsanitize=fuzzer"
out=$build/afl-$target
rm -rf "$out"
echo "afl.sh: fuzzing $target for ${seconds}s; findings in $out/default/crashes"
AFL_SKIP_CPUFREQ=1 AFL_NO_UI=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 \
FUZZ_TMPDIR=/dev/shm nice -n 10 \
	afl-fuzz -V "$seconds" -m none -t 20000 -i "$here/corpus/$target" -o "$out" \
	-x "$here/xipfs.dict" -- "./tests/fuzz/$target" >"$out.log" 2>&1 || {
	tail -n 30 "$out.log" >&2
	echo "afl.sh: afl-fuzz failed; log: $out.log" >&2
	exit 1
}
crashes=$(ls "$out/default/crashes" 2>/dev/null | grep -c '^id:' || true)
grep -E 'execs_done|execs_per_sec|edges_found|saved_crashes|saved_hangs' \
	"$out/default/fuzzer_stats" || true
if [ "$crashes" -gt 0 ]; then
	echo "afl.sh: $crashes crash(es) in $out/default/crashes" >&2
	exit 1
fi
echo "afl.sh: $target: no crash in ${seconds}s"
