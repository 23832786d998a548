#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The whole xipfs test suite, as CI runs it (as root on Debian 12):
#   1. install the Debian packages the build and tests need;
#   2. plain: a -Werror build with Debian's libfuse 3.14; `make check` runs
#      the Check unit tests and the integration scenarios;
#   3. asan: the same with AddressSanitizer + UndefinedBehaviorSanitizer;
#   4. distcheck: the release tarball builds and passes its tests;
#   5. fuzz: clang --enable-fuzzing build, `make fuzz-smoke` (seed corpora
#      replayed, each fuzz target run briefly, the planted-crash check).
#   6. passthrough: built against libfuse 3.17 (Debian 13 source, built by
#      contrib/build-libfuse.sh) so the FUSE passthrough/XIP path is compiled
#      in; `make check` (contrib/ci-build-passthrough.sh), including the
#      QEMU guest tests (tests/vm: xipmap.ko and the daemon's XIP path).
#   7. guest: the real Debian 13 guest (contrib/build-guest.sh, cached in
#      $XIPFS_GUEST_CACHE, default build/guest: a fresh clone builds it, a
#      second run reuses it) and its tests, `make check-guest` in the
#      passthrough build (built here if that stage did not run).
# Logs of failed tests are printed, and each stage's time.  Exit status: 0
# only if every stage passed.  Set XIPFS_STAGES to a subset of
# "plain asan distcheck fuzz passthrough guest" to run fewer.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
stages=${XIPFS_STAGES:-plain asan distcheck fuzz passthrough guest}
build=${XIPFS_BUILD_ROOT:-$top/build}
jobs=$(nproc 2>/dev/null || echo 2)

if [ "$(id -u)" -ne 0 ]; then
	echo "run-all.sh: the test suite needs root (FUSE mounts, loop devices, QEMU guests)" >&2
	exit 1
fi
# In CI nothing may be skipped for lack of a tool: tests that skip on a
# missing requirement fail instead when XIPFS_NO_SKIP is set.
export XIPFS_NO_SKIP=${XIPFS_NO_SKIP:-${CI:+1}}

contrib/install-deps.sh
[ -x configure ] && [ configure -nt configure.ac ] || autoreconf -fi

failed=()
# The QEMU guest tests (tests/vm) need the passthrough build (the XIP path)
# and run in that stage only, which keeps the run short.
novm="VM_TESTS="
show_logs() {
	find "$1" -name '*.log' -path '*tests*' -newer "$1/config.status" \
		-exec grep -l -E '^(FAIL|ERROR|XFAIL)' {} + 2>/dev/null | while read -r f; do
		echo "===== $f"; tail -n 60 "${f%.log}.log"
	done
}
stage() {
	local name=$1; shift
	local dir=$build/$name
	echo "=== stage $name: configure $*"
	mkdir -p "$dir"
	if ! (cd "$dir" && "$top/configure" -q --enable-werror "$@" &&
		make -s -j"$jobs" && make -s -j"$jobs" check); then
		show_logs "$dir" || true
		failed+=("$name")
	fi
}

for s in $stages; do
	t0=$SECONDS
	case $s in
	plain)
		MAKEFLAGS="$novm" stage plain ;;
	asan)
		MAKEFLAGS="$novm" stage asan --enable-asan --enable-ubsan ;;
	distcheck)
		echo "=== stage distcheck"
		mkdir -p "$build/dist"
		(cd "$build/dist" && "$top/configure" -q &&
			MAKEFLAGS="$novm" make -s -j"$jobs" distcheck) ||
			failed+=(distcheck) ;;
	fuzz)
		echo "=== stage fuzz"
		mkdir -p "$build/fuzz"
		(cd "$build/fuzz" && CC=clang "$top/configure" -q --enable-fuzzing &&
			make -s -j"$jobs" && make -s fuzz-smoke) || failed+=(fuzz) ;;
	passthrough)
		echo "=== stage passthrough"
		contrib/ci-build-passthrough.sh "$build/passthrough" --enable-werror ||
			{ show_logs "$build/passthrough" || true; failed+=(passthrough); } ;;
	guest)
		# The host side (xipfsctl, mkxipfs) is the passthrough build's;
		# build-guest.sh prints the tail of its failed step's log.
		echo "=== stage guest"
		export XIPFS_GUEST_CACHE=${XIPFS_GUEST_CACHE:-$build/guest}
		if ! { [ -f "$build/passthrough/Makefile" ] ||
			contrib/ci-build-passthrough.sh --no-check "$build/passthrough" --enable-werror; } ||
			! make -s -C "$build/passthrough" -j"$jobs" check-guest; then
			show_logs "$build/passthrough" || true
			failed+=(guest)
		fi ;;
	*)
		echo "run-all.sh: unknown stage '$s'" >&2; exit 2 ;;
	esac
	echo "=== stage $s: $((SECONDS - t0)) s"
done

if [ ${#failed[@]} -gt 0 ]; then
	echo "FAILED stages: ${failed[*]}"
	exit 1
fi
echo "all stages passed: $stages"
