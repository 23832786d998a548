#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# Smoke test of bench/xip.sh (make bench-xip): one counted round over one
# small library, every variant.  The bench itself checks in the guest that
# the pages fault-around maps are the segment's own frames and that every
# variant reads the same bytes; here the table must come out whole: a row
# per section with a figure for each variant, and as many faults for the
# XIP variants as for tmpfs (fault-around).  No timing is judged.
set -u
. "$top_srcdir/tests/vm/lib.sh"
bench_smoke xip.sh XIP_BENCH_ROUNDS=1 XIP_BENCH_FILES=/usr/lib/x86_64-linux-gnu/libsqlite3.so.0 \
	XIP_BENCH_TIMEOUT=400
ck "it checked the XIP frames (memfd and ivshmem)" \
	"[ \$(echo \"\$out\" | grep -c '^ok: xip-.*: fault-around maps segment frames') = 2 ]"
ck "no check failed" "! echo \"\$out\" | grep -q '^FAIL'"
rows=$(echo "$out" | grep -c '^libsqlite3.so.0 ')
ck "a time, a ratio and a fault row for the file" "[ $rows = 3 ]"
faults=$(echo "$out" | sed -n '/^minor faults/,$p' | grep '^libsqlite3.so.0 ')
echo "faults: $faults"
ck "five variants in the fault row" "[ \$(echo \$faults | wc -w) = 6 ]"
set -- $faults x x x x
tmpfs=$2 memfd=$3 ivshmem=$4
ck "XIP (memfd, ivshmem) faults no more often than tmpfs" \
	"[ \"\$memfd\" -le \"\$tmpfs\" ] && [ \"\$ivshmem\" -le \"\$tmpfs\" ]" 2>/dev/null
exit $fail
