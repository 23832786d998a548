#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Page dedupe: two copies of a real library and a file of one repeated page
# store each distinct page once.  The expected count is computed
# independently, by hashing the source pages in Python.
. "$(dirname "$0")/lib.sh"
lib=$(ls /usr/lib/x86_64-linux-gnu/libc.so.6)
mkdir -p "$WORK/src/a" "$WORK/src/b"
cp "$lib" "$WORK/src/a/libc.so.6"
cp "$lib" "$WORK/src/b/libc-copy.so"
"$PY" -c '
import sys
page = bytes((i * 7) % 251 for i in range(4096))
open(sys.argv[1], "wb").write(page * 100)
' "$WORK/src/repeated"
expect=$("$PY" - "$WORK/src" <<'PY'
import os, sys
pages, zero, total = set(), bytes(4096), 0
for root, _, files in os.walk(sys.argv[1]):
    for f in files:
        data = open(os.path.join(root, f), "rb").read()
        for i in range(0, len(data), 4096):
            p = data[i:i + 4096].ljust(4096, b"\0")
            total += 1
            if p != zero:
                pages.add(p)
print(len(pages), total)
PY
)
set -- $expect
gen_image "$WORK/src" "$WORK/img"
got=$(info_field "$WORK/img" data_pages)
[ "$got" = "$1" ] || fail "image stores $got data pages, $1 are distinct"
[ "$(info_field "$WORK/img" file_pages)" = "$2" ] || fail "file page count differs"
# Identical files share one extent list.
libext=$("$PY" -c 'import os,sys; print(-(-os.path.getsize(sys.argv[1]) // 4096))' "$lib")
[ "$(info_field "$WORK/img" dedup_pages)" -ge $((libext + 99)) ] || fail "dedupe saved too little"
# --no-dedupe stores every non-zero page.
gen_image "$WORK/src" "$WORK/nodup.img" --no-dedupe
[ "$(info_field "$WORK/nodup.img" data_pages)" -gt "$got" ] || fail "--no-dedupe still deduped"
cmp <("$XIPFSCTL" cat "$WORK/img" b/libc-copy.so) "$lib" || fail "deduped copy reads back wrong"
note "ok: $got distinct pages of $2 file pages"
