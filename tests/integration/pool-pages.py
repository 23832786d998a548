#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Count the distinct non-zero 4 KiB pages of the regular files in the
given trees (the last page of a file zero padded), independently of xipfs:
what a pool holding exactly these trees must store."""
import hashlib
import os
import sys

PAGE = 4096
ZERO = bytes(PAGE)


def main():
    seen = set()
    for top in sys.argv[1:]:
        for root, dirs, files in os.walk(top):
            dirs.sort()
            for name in sorted(files):
                path = os.path.join(root, name)
                if os.path.islink(path) or not os.path.isfile(path):
                    continue
                with open(path, "rb") as f:
                    while True:
                        page = f.read(PAGE)
                        if not page:
                            break
                        page = page.ljust(PAGE, b"\0")
                        if page != ZERO:
                            seen.add(hashlib.sha256(page).digest())
    print(len(seen))


if __name__ == "__main__":
    main()
