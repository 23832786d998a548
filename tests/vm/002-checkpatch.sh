#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# xipmap.ko and its user API header are checkpatch-clean (--strict), with
# the kernel's own checkpatch.pl (contrib/fetch-checkpatch.sh).  One check
# is left out: LINUX_VERSION_CODE, which an out-of-tree module that builds
# for several kernels needs (vmf_insert_mixed() changed in 6.17).
set -u
. "$top_srcdir/tests/vm/lib.sh"
cp=$("$top_srcdir/contrib/fetch-checkpatch.sh") || vm_skip "checkpatch.pl could not be fetched (contrib/fetch-checkpatch.sh)"
command -v perl >/dev/null || vm_skip "perl not found"
out=$(perl "$cp" --no-tree --strict --ignore LINUX_VERSION_CODE --show-types \
	-f "$top_srcdir"/kernel/*.c "$top_srcdir"/kernel/*.h \
	"$top_srcdir/include/xipfs/xipmap.h" 2>&1)
rc=$?
echo "$out" | grep -E '^(ERROR|WARNING|CHECK|total)'
if [ $rc -ne 0 ] || echo "$out" | grep -qE '^(ERROR|WARNING|CHECK)'; then
	echo "$out"
	echo "FAIL: checkpatch reports the above"
	exit 1
fi
echo "ok: checkpatch --strict is clean"
