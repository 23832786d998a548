#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# The userspace C (src/, include/, tests/, bench/) follows the house style,
# the kernel's (STYLE.md), as the kernel's own checkpatch.pl checks it
# (Debian's linux-source package, via contrib/fetch-checkpatch.sh, as for
# kernel/ in tests/vm/002-checkpatch.sh).  Left out, because they do not
# apply to userspace or are wrong for it:
#   UNSPECIFIED_INT, PREFER_DEFINED_ATTRIBUTE_MACRO, ARRAY_SIZE, STRCPY:
#     prefer the kernel's own names (unsigned int, __printf, ARRAY_SIZE,
#     strscpy), which libc does not have or C spells otherwise;
#   VOLATILE: the fuzz plant and the ivshmem page touch need it;
#   USE_NEGATIVE_ERRNO: the daemon hands positive errnos to fuse_reply_err;
#   ENOSYS: FUSE reads ENOSYS as "not implemented, do not ask again";
#   STATIC_CONST_CHAR_ARRAY: execve's argv is char *const[], never static;
#   EMBEDDED_FUNCTION_NAME, CONSTANT_COMPARISON: false positives on
#     words in messages and on macros;
#   AVOID_EXTERNS: libFuzzer's entry points are declared where defined;
#   SPLIT_STRING: JSON formats split around PRIu64.
set -u
: "${top_srcdir:=$(cd "$(dirname "$0")/../.." && pwd)}"
skip() {
	echo "SKIP: $1"
	[ -z "${XIPFS_NO_SKIP:-}" ] || { echo "FAIL: XIPFS_NO_SKIP is set"; exit 1; }
	exit 77
}
cp=$("$top_srcdir/contrib/fetch-checkpatch.sh") || skip "checkpatch.pl could not be fetched (contrib/fetch-checkpatch.sh)"
command -v perl >/dev/null || skip "perl not found"
cd "$top_srcdir" || exit 99
files=$(find src include tests bench -name '*.[ch]' ! -path 'tests/fuzz/corpus/*' \
	! -name xipmap.h | sort)
out=$(perl "$cp" --no-tree --terse --show-types --max-line-length=100 \
	--ignore UNSPECIFIED_INT,PREFER_DEFINED_ATTRIBUTE_MACRO,ARRAY_SIZE,STRCPY \
	--ignore VOLATILE,USE_NEGATIVE_ERRNO,ENOSYS,STATIC_CONST_CHAR_ARRAY \
	--ignore EMBEDDED_FUNCTION_NAME,CONSTANT_COMPARISON,AVOID_EXTERNS,SPLIT_STRING \
	-f $files 2>&1)
if echo "$out" | grep -qE '(ERROR|WARNING|CHECK):'; then
	echo "$out" | grep -E '(ERROR|WARNING|CHECK):'
	echo "FAIL: checkpatch reports the above (fix them, or argue a new --ignore here)"
	exit 1
fi
echo "ok: $(echo "$files" | wc -l) userspace C files are checkpatch-clean"
