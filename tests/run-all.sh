#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The whole xipfs test suite, as CI runs it (as root on Debian 12):
#   1. install the Debian packages the build and tests need;
#   2. a -Werror build with libfuse 3.14 (Debian's): `make check` runs the
#      Check unit tests, the integration scenarios and the QEMU guest tests;
#   3. the same with AddressSanitizer + UndefinedBehaviorSanitizer;
#   4. a build against libfuse >= 3.17 (FUSE passthrough), whose guest tests
#      exercise XIP through xipmap.ko;
#   5. `make distcheck` and the fuzz smoke run.
# Logs of failed tests are printed.  Exit status: 0 only if every stage passed.
# Set XIPFS_STAGES to a subset of "plain asan passthrough distcheck fuzz" to
# run fewer stages.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
stages=${XIPFS_STAGES:-plain asan passthrough distcheck fuzz}
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
contrib/apt-sources.sh
[ -x configure ] && [ configure -nt configure.ac ] || autoreconf -fi

failed=()
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
	case $s in
	plain)
		stage plain ;;
	asan)
		# Guest tests run in the plain and passthrough stages; ASan here
		# covers the library, the builder, xipfsctl and the daemon.
		XIPFS_SKIP_VM=1 stage asan --enable-asan --enable-ubsan ;;
	passthrough)
		prefix=$build/libfuse-3.17
		contrib/build-libfuse.sh "$prefix"
		PKG_CONFIG_PATH=$(dirname "$(find "$prefix" -name fuse3.pc | head -n 1)") \
		LDFLAGS="-Wl,-rpath,$(dirname "$(find "$prefix" -name 'libfuse3.so' | head -n 1)")" \
			stage passthrough ;;
	distcheck)
		echo "=== stage distcheck"
		mkdir -p "$build/dist"
		(cd "$build/dist" && "$top/configure" -q && XIPFS_SKIP_VM=1 make -s -j"$jobs" distcheck) ||
			failed+=(distcheck) ;;
	fuzz)
		echo "=== stage fuzz-smoke"
		mkdir -p "$build/fuzz"
		(cd "$build/fuzz" && CC=clang "$top/configure" -q --enable-fuzzing &&
			make -s -j"$jobs" && make -s fuzz-smoke) || failed+=(fuzz) ;;
	*)
		echo "run-all.sh: unknown stage '$s'" >&2; exit 2 ;;
	esac
done

if [ ${#failed[@]} -gt 0 ]; then
	echo "FAILED stages: ${failed[*]}"
	exit 1
fi
echo "all stages passed: $stages"
