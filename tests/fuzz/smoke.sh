#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# fuzz-smoke: for each target, replay its seed corpus, then fuzz it for
# FUZZ_SECONDS (default 20) under ASan+UBSan.  A crash, a leak, a timeout or
# a broken API promise fails the run; the reproducer is left in
# BUILDDIR/findings/TARGET/ (or FUZZ_FINDINGS) and named in the message.
# Usage: smoke.sh SRCDIR BUILDDIR TARGET...
#   FUZZ_SEEDS: seed directory (default SRCDIR/corpus/NAME)
#   FUZZ_TIMEOUT: seconds one input may take (default 20)
#   FUZZ_CORPUS: keep the corpus the fuzzer grows in this directory (one
#     subdirectory per target) across runs, instead of a scratch one
set -u
src=$1 build=$2
shift 2
seconds=${FUZZ_SECONDS:-20}
timeout=${FUZZ_TIMEOUT:-20}
export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=0:detect_leaks=1:allocator_may_return_null=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
status=0

for t in "$@"; do
	name=$(basename "$t")
	seeds=${FUZZ_SEEDS:-$src/corpus/$name}
	findings=${FUZZ_FINDINGS:-$build/findings/$name}
	work=$build/work/$name
	log=$build/work/$name.log
	if [ -n "${FUZZ_CORPUS:-}" ]; then
		work=$FUZZ_CORPUS/$name
	else
		rm -rf "$work"
	fi
	mkdir -p "$work" "$findings" "$build/work"
	if [ ! -x "$t" ]; then
		echo "fuzz-smoke: $t is not built" >&2
		status=1
		continue
	fi
	fail() {
		echo "fuzz-smoke: $name FAILED ($1); log: $log" >&2
		tail -n 40 "$log" >&2
		echo "fuzz-smoke: $name: reproducer(s) in $findings/:" >&2
		ls -1 "$findings" >&2
		echo "fuzz-smoke: replay one with: $t $findings/FILE" >&2
		status=1
	}
	# 1. Every seed, once (named files: a crash says which seed).
	if [ -d "$seeds" ] && [ -n "$(ls -A "$seeds" 2>/dev/null)" ]; then
		if ! "$t" -artifact_prefix="$findings/" -timeout="$timeout" \
			"$seeds"/* >"$log" 2>&1; then
			fail "replaying $seeds"
			continue
		fi
		n=$(ls -1 "$seeds" | wc -l)
		echo "fuzz-smoke: $name: $n seeds replayed"
	fi
	# 2. Fuzz for a bounded time; new inputs go to the scratch corpus.
	dict=
	[ -f "$src/xipfs.dict" ] && dict=-dict=$src/xipfs.dict
	if ! nice -n 10 "$t" -max_total_time="$seconds" -timeout="$timeout" \
		-rss_limit_mb=2048 -max_len=262144 $dict -print_final_stats=1 \
		-artifact_prefix="$findings/" "$work" ${seeds:+"$seeds"} \
		>>"$log" 2>&1; then
		fail "fuzzing for ${seconds}s"
		continue
	fi
	stats=$(grep -E '^#[0-9]+' "$log" | tail -n 1)
	execs=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)
	runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
	echo "fuzz-smoke: $name: ${seconds}s, ${runs:-?} executions, ${execs:-?} exec/s, corpus $(ls -1 "$work" | wc -l) files, last: $stats"
done
exit $status
