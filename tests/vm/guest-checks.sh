# SPDX-License-Identifier: GPL-2.0-or-later
# shellcheck shell=sh
# tests/vm/guest-checks.sh: checks that run inside the real guest of
# contrib/build-guest.sh, shared by the guest scripts of
# tests/vm/090-thin-guest.sh and 091-thin-guest-root.sh, which begin with
# this file.
#   fail MSG               prints FAIL: MSG and exits 1
#   check_daemon           the daemon runs as @xipfs in init.scope (no unit
#                          systemd stops), xipmap is dkms's module
#   check_programs         python3 (json, sqlite3, ssl), dpkg -l (more than
#                          100 packages, xipmap-dkms among them), gcc builds
#                          and runs a program
#   check_sums SUMS        sha256sum lines (paths relative to /) match
#   check_xip FILE [PATH...]
#                          a page of FILE mapped privately and read is a frame
#                          of an ivshmem BAR (the segment's, in place), and so
#                          is every page present in python3's own executable
#                          mappings of the files PATH (its program, libc, ...)
#                          but holes (pages of zeros), all on one frame
fail() { echo "FAIL: $*"; exit 1; }

check_daemon() {
	pid=$(pgrep -x @xipfs) || fail "no @xipfs daemon"
	argv0=$(tr '\0' '\n' <"/proc/$pid/cmdline" | head -n 1)
	[ "$argv0" = @xipfs ] || fail "daemon argv[0] is $argv0"
	cg=$(cat "/proc/$pid/cgroup")
	case $cg in "0::/"|"0::/init.scope") ;; *) fail "daemon in cgroup $cg, a unit systemd stops" ;; esac
	echo "daemon: pid $pid argv[0] $argv0 cgroup $cg"
	modinfo -n xipmap | grep -q /updates/dkms/ || fail "xipmap is not dkms's: $(modinfo -n xipmap)"
}

check_programs() {
	out=$(python3 -c 'import json, sqlite3, ssl, sys; print("python", sys.version.split()[0], json.dumps([1]))') ||
		fail "python3"
	echo "$out"
	n=$(dpkg -l | grep -c '^ii')
	[ "$n" -gt 100 ] || fail "dpkg -l lists $n packages"
	dpkg -l xipfs xipmap-dkms | grep -q '^ii  xipmap-dkms' || fail "xipmap-dkms not installed"
	echo "dpkg: $n packages installed"
	printf '#include <stdio.h>\nint main(void) { puts("gcc-ok"); return 0; }\n' >/tmp/h.c
	gcc -O2 -o /tmp/h /tmp/h.c && [ "$(/tmp/h)" = gcc-ok ] || fail "gcc"
	echo "gcc: $(gcc -dumpfullversion) built and ran a program"
}

check_sums() {
	(cd / && echo "$1" | sha256sum --quiet -c -) || fail "files differ from the guest tree"
	echo "sha256: $(echo "$1" | wc -l) files equal the guest tree"
}

check_xip() {
	python3 - "$@" <<'PY' || fail "pagemap"
import ctypes, glob, mmap, os, struct, sys
bars = []
for d in glob.glob('/sys/bus/pci/devices/*'):
    if open(d + '/vendor').read().strip() == '0x1af4' and open(d + '/device').read().strip() == '0x1110':
        s, e, _ = open(d + '/resource').read().splitlines()[2].split()
        bars.append((int(s, 16), int(e, 16)))
pm = open('/proc/self/pagemap', 'rb')
def frame(addr):
    pm.seek(addr // 4096 * 8)
    e = struct.unpack('<Q', pm.read(8))[0]
    return e & ((1 << 55) - 1) if e >> 63 else None
def in_bar(pfn):
    return pfn is not None and any(s <= pfn * 4096 <= en for s, en in bars)
fd = os.open(sys.argv[1], os.O_RDONLY)
m = mmap.mmap(fd, 0, flags=mmap.MAP_PRIVATE, prot=mmap.PROT_READ | mmap.PROT_WRITE)
m[8192]    # a read: the page stays the segment's own frame
pfn = frame(ctypes.addressof(ctypes.c_char.from_buffer(m)) + 8192)
ok = in_bar(pfn)
print('xip: %s page 2 at frame %s, ivshmem BARs %s: %s' % (sys.argv[1], pfn and hex(pfn),
      ['0x%x-0x%x' % b for b in bars], 'in a BAR' if ok else 'NOT in a BAR'))
# A hole (a page of zeros the image does not store) is xipmap's one zero
# page, not the segment's.
zero = set()
for path in sys.argv[2:]:
    name = os.path.basename(path)
    pages = inbar = holes = 0
    with open(path, 'rb') as fh:
        for line in open('/proc/self/maps'):
            f = line.split()
            # The code: data mappings hold the loader's writes (relocations,
            # RELRO), anonymous copies.
            if len(f) < 6 or os.path.basename(f[5]) != name or f[1][2] != 'x':
                continue
            start, end = (int(x, 16) for x in f[0].split('-'))
            for a in range(start, end, 4096):
                p = frame(a)
                if p is None:
                    continue
                pages += 1
                if in_bar(p):
                    inbar += 1
                    continue
                off = int(f[2], 16) + a - start
                fh.seek(off)
                if not fh.read(4096).strip(b'\0'):
                    holes += 1
                    zero.add(p)
                elif pages - inbar - holes <= 3:
                    print('xip: %s offset 0x%x at frame 0x%x: not the segment\'s' % (path, off, p))
    ok &= pages > 0 and inbar + holes == pages and len(zero) <= 1
    print('xip: %s mapped by python3: %d of %d present pages in a BAR, %d holes on %s' %
          (path, inbar, pages, holes, [hex(z) for z in zero] or 'no frame'))
sys.exit(0 if ok else 1)
PY
}
