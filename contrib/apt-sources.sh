#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# Add the two extra apt sources xipfs's test scripts use, reusing the archive
# URI already configured: bookworm-backports (the 6.12 guest kernel) and a
# trixie deb-src entry (libfuse >= 3.17 source).  Idempotent; prints nothing
# on success.
set -eu
src=/etc/apt/sources.list.d/debian.sources
uri=$(sed -n 's/^URIs:[[:space:]]*//p' "$src" 2>/dev/null | head -n 1)
if [ -z "$uri" ]; then
	uri=$(sed -n 's/^deb[[:space:]]\{1,\}\([^[:space:]]*\).*/\1/p' /etc/apt/sources.list 2>/dev/null | head -n 1)
fi
if [ -z "$uri" ]; then
	echo "apt-sources.sh: cannot find the Debian archive URI in $src or /etc/apt/sources.list" >&2
	exit 1
fi
out=/etc/apt/sources.list.d/xipfs-extra.sources
want="Types: deb
URIs: $uri
Suites: bookworm-backports
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb-src
URIs: $uri
Suites: trixie
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg"
if [ "$(cat "$out" 2>/dev/null)" != "$want" ]; then
	printf '%s\n' "$want" >"$out"
	apt-get update -qq
fi
