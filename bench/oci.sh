#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# bench/oci.sh [DIR...]: a container image straight into mkxipfs against
# unpacking it with umoci first.  Builds an OCI layout with umoci: one
# layer per DIR (default /usr/bin and /usr/lib/python3.11), then a layer
# deleting half of the first DIR's files and changing 20 others.  Then,
# best of $REPS, interleaved:
#   direct:  mkxipfs oci:LAYOUT:top IMG (layers streamed, nothing on disk)
#   umoci:   umoci unpack, then mkxipfs ROOTFS IMG (and the unpacked bytes)
# with wall time and peak RSS (GNU time); and the bytes a pool update to
# the last layer writes (xipfsctl add of both versions).  Needs root, umoci.
. "$(dirname "$0")/lib.sh"
command -v umoci >/dev/null || { echo "bench: needs umoci" >&2; exit 1; }
dirs=("$@")
[ ${#dirs[@]} -gt 0 ] || dirs=(/usr/bin /usr/lib/python3.11)
L=$BW/layout
umoci init --layout "$L"
umoci new --image "$L:base"
tag=base
n=0
for d in "${dirs[@]}"; do
	umoci unpack --image "$L:$tag" "$BW/b" >/dev/null
	mkdir -p "$BW/b/rootfs$d"
	cp -a "$d/." "$BW/b/rootfs$d/"
	n=$((n + 1))
	tag=t$n
	umoci repack --image "$L:$tag" "$BW/b" >/dev/null
	rm -rf "$BW/b"
done
umoci unpack --image "$L:$tag" "$BW/b" >/dev/null
find "$BW/b/rootfs${dirs[0]}" -type f | sort | awk 'NR % 2' | xargs rm -f
find "$BW/b/rootfs${dirs[-1]}" -type f -size +8k | sort | head -20 |
	while read -r f; do echo changed >>"$f"; done
umoci repack --image "$L:top" "$BW/b" >/dev/null
rm -rf "$BW/b"
layout_mb=$(du -sm "$L" | cut -f1)
# run CMD...: wall seconds and peak RSS (KiB) of CMD
run() {
	/usr/bin/time -o "$BW/time" -f '%e %M' "$@" >/dev/null 2>&1
	tail -1 "$BW/time"
}
best_d="" best_u="" rss_d=0 rss_u=0 rss_m=0
for _ in $(seq "$REPS"); do
	drop_caches
	read -r t m <<<"$(run "$MKXIPFS" -q "oci:$L:top" "$BW/direct.img")"
	[ -z "$best_d" ] || [ "$(echo "$t < $best_d" | bc -l)" = 1 ] && best_d=$t
	[ "$m" -gt "$rss_d" ] && rss_d=$m
	rm -rf "$BW/u"
	drop_caches
	read -r t1 m1 <<<"$(run umoci unpack --image "$L:top" "$BW/u")"
	unpacked_mb=$(du -sm "$BW/u/rootfs" | cut -f1)
	read -r t2 m2 <<<"$(run "$MKXIPFS" -q "$BW/u/rootfs" "$BW/umoci.img")"
	t=$(echo "$t1 + $t2" | bc -l)
	[ -z "$best_u" ] || [ "$(echo "$t < $best_u" | bc -l)" = 1 ] && best_u=$t
	[ "$m1" -gt "$rss_u" ] && rss_u=$m1
	[ "$m2" -gt "$rss_m" ] && rss_m=$m2
done
printf 'layout %s MiB (%d layers + a delete layer), unpacked tree %s MiB, image %s MiB\n' \
	"$layout_mb" "${#dirs[@]}" "$unpacked_mb" "$(( $(stat -c %s "$BW/direct.img") >> 20 ))"
printf '%-34s %9s %12s %12s\n' path seconds peak_RSS_MiB disk_MiB
printf '%-34s %9s %12d %12d\n' "mkxipfs oci:LAYOUT:top" "$best_d" $((rss_d / 1024)) 0
printf '%-34s %9s %12d %12d\n' "umoci unpack + mkxipfs ROOTFS" "$best_u" \
	$(( (rss_u > rss_m ? rss_u : rss_m) / 1024 )) "$unpacked_mb"
echo "direct/umoci time = $(ratio "$best_d" "$best_u") (best of $REPS, cold caches; other work was running on this machine)"
# The update to the last layer, through a pool.
pool=xipfs-bench-oci-$$
trap '"$XIPFSCTL" unload --force "$pool" 2>/dev/null; bench_cleanup' EXIT
"$MKXIPFS" -q "oci:$L:$tag" "$BW/prev.img"
"$XIPFSCTL" create "$pool" --size $(( ($(stat -c %s "$BW/prev.img") + $(stat -c %s "$BW/direct.img")) / 1048576 + 64 ))M >/dev/null
"$XIPFSCTL" add "$pool" "$BW/prev.img" app >/dev/null
out=$("$XIPFSCTL" add "$pool" "$BW/direct.img" app)
new=$(echo "$out" | sed -n 's/.* data pages, \([0-9]*\) new, .*/\1/p')
meta=$(echo "$out" | sed -n 's/.*, \([0-9]*\) metadata pages$/\1/p')
echo "pool update to the last layer: $new new data pages + $meta metadata pages = $(( (new + meta) * 4 )) KiB written, against $(( $(stat -c %s "$BW/direct.img") >> 10 )) KiB for the whole image"
