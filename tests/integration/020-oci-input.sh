#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Container images as mkxipfs input.  An image built with umoci from a base
# tree and three layers (see ocilayout.sh: deletes, a deleted directory, an
# opaque directory, replaced files, file->dir and dir->file, hardlinks in a
# layer and to a lower one, xattrs, PAX times), read as oci:DIR:TAG, mounts
# as exactly the tree `umoci unpack` makes of it; the image is
# byte-identical across runs, with zstd instead of gzip layers, and from
# the docker-archive skopeo writes; a multi-platform index gives the host's
# platform or --platform's; a damaged layer blob is refused by digest.
. "$(dirname "$0")/lib.sh"
need_fuse
need_cmd umoci umoci
need_cmd skopeo skopeo
need_cmd zstd zstd
L=$WORK/layout
"$TESTS/ocilayout.sh" "$L" "$WORK" >/dev/null
umoci unpack --image "$L:top" "$WORK/ref" >/dev/null
gen_image "oci:$L:top" "$WORK/a.img"
gen_image "oci:$L:top" "$WORK/b.img"
cmp "$WORK/a.img" "$WORK/b.img" || fail "two builds of one image differ"
mount_xipfs "$WORK/a.img" "$WORK/m"
"$PY" "$TESTS/treecmp.py" "$WORK/ref/rootfs" "$WORK/m" ||
	fail "the mounted image differs from umoci unpack"
[ "$(cat "$WORK/m/usr/bin/tool")" = "$(printf '#!/bin/sh\necho replaced')" ] ||
	fail "a replaced file has the wrong content"
[ ! -e "$WORK/m/gone" ] && [ ! -e "$WORK/m/opq/old1" ] && [ -f "$WORK/m/d2f" ] ||
	fail "a whiteout was not applied"

"$PY" "$TESTS/ocizstd.py" "$L" top ztop
gen_image "oci:$L:ztop" "$WORK/z.img"
cmp "$WORK/a.img" "$WORK/z.img" || fail "zstd layers give another image than gzip ones"
skopeo copy -q "oci:$L:top" "docker-archive:$WORK/d.tar:test:top"
gen_image "docker-archive:$WORK/d.tar" "$WORK/d.img"
cmp "$WORK/a.img" "$WORK/d.img" || fail "the docker-archive gives another image"
# A docker-archive layer is checked against the config's diff_id.
member=$("$PY" "$TESTS/dockerflip.py" "$WORK/d.tar" 2)
if "$MKXIPFS" -q "docker-archive:$WORK/d.tar" "$WORK/bad.img" 2>"$WORK/err"; then
	fail "a damaged docker-archive layer was accepted"
fi
grep -q "layer $member: its tar has digest sha256:.*diff_id is" "$WORK/err" ||
	fail "wrong message: $(cat "$WORK/err")"

# A multi-platform index: this host's platform, unless --platform says.
"$PY" - "$L" <<'PY'
import hashlib, json, os, sys
lay = sys.argv[1]
idx = json.load(open(os.path.join(lay, "index.json")))
by = {m["annotations"]["org.opencontainers.image.ref.name"]: m for m in idx["manifests"]}
def plat(tag, arch):
    d = {k: by[tag][k] for k in ("mediaType", "digest", "size")}
    d["platform"] = {"os": "linux", "architecture": arch}
    return d
sub = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
       "manifests": [plat("l1", "arm64"), plat("top", "amd64"), plat("l2", "riscv64")]}
data = json.dumps(sub).encode()
digest = hashlib.sha256(data).hexdigest()
open(os.path.join(lay, "blobs", "sha256", digest), "wb").write(data)
idx["manifests"].append({"mediaType": sub["mediaType"], "digest": "sha256:" + digest,
                         "size": len(data),
                         "annotations": {"org.opencontainers.image.ref.name": "multi"}})
json.dump(idx, open(os.path.join(lay, "index.json"), "w"))
PY
if [ "$(uname -m)" = x86_64 ]; then
	gen_image "oci:$L:multi" "$WORK/multi.img"
	cmp "$WORK/a.img" "$WORK/multi.img" || fail "the index did not pick linux/amd64"
fi
gen_image "oci:$L:multi" "$WORK/arm.img" --platform linux/arm64
gen_image "oci:$L:l1" "$WORK/l1.img"
cmp "$WORK/l1.img" "$WORK/arm.img" || fail "--platform linux/arm64 did not pick its manifest"
if "$MKXIPFS" -q --platform linux/s390x "oci:$L:multi" "$WORK/none.img" 2>"$WORK/err"; then
	fail "a platform the index lacks was accepted"
fi
grep -q "no manifest for platform linux/s390x" "$WORK/err" || fail "wrong message: $(cat "$WORK/err")"

# A layer member under a lower layer's file: the same message as for a tar
# (016), naming the image, the layer and the member's header offset.
"$PY" - "$WORK/underfile.tar" <<'PY'
import io, sys, tarfile
with tarfile.open(sys.argv[1], "w", format=tarfile.USTAR_FORMAT) as t:
    t.addfile(tarfile.TarInfo("etc/passwd/x"), io.BytesIO(b""))
PY
umoci raw add-layer --image "$L:top" --tag underfile "$WORK/underfile.tar"
if "$MKXIPFS" -q "oci:$L:underfile" "$WORK/bad.img" 2>"$WORK/err"; then
	fail "a layer member under a file was accepted"
fi
grep -q "layer 4: at byte 0: entry 'etc/passwd/x': entry path runs through 'etc/passwd', which is not a directory" \
	"$WORK/err" || fail "wrong message: $(cat "$WORK/err")"
[ ! -e "$WORK/bad.img" ] || fail "a failed build left an image"

# A damaged layer blob: refused, naming the layer's digest.
layer=$("$PY" - "$L" <<'PY'
import json, os, sys
lay = sys.argv[1]
idx = json.load(open(os.path.join(lay, "index.json")))
[d] = [m for m in idx["manifests"] if m["annotations"]["org.opencontainers.image.ref.name"] == "top"]
man = json.load(open(os.path.join(lay, "blobs", "sha256", d["digest"][7:])))
print(man["layers"][1]["digest"][7:])
PY
)
"$PY" "$TESTS/merkle.py" flip "$L/blobs/sha256/$layer" 30
if "$MKXIPFS" -q "oci:$L:top" "$WORK/bad.img" 2>"$WORK/err"; then
	fail "a damaged layer was accepted"
fi
grep -q "layer sha256:$layer" "$WORK/err" || fail "wrong message: $(cat "$WORK/err")"
[ ! -e "$WORK/bad.img" ] || fail "a failed build left an image"

# Bad layouts: a clear message naming the file (and offset), no image.
mkdir -p "$WORK/badl"
printf '{"manifests": [ {"mediaType": "x", ' >"$WORK/badl/index.json"
if "$MKXIPFS" -q "oci:$WORK/badl" "$WORK/bad.img" 2>"$WORK/err"; then
	fail "a truncated index.json was accepted"
fi
grep -q "badl/index.json: not a JSON object (offset 35" "$WORK/err" || fail "wrong message: $(cat "$WORK/err")"
printf '{"manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": "sha256:../../etc/passwd", "size": 1}]}' \
	>"$WORK/badl/index.json"
if "$MKXIPFS" -q "oci:$WORK/badl" "$WORK/bad.img" 2>"$WORK/err"; then
	fail "a digest naming another path was accepted"
fi
grep -q "not a sha256 digest" "$WORK/err" || fail "wrong message: $(cat "$WORK/err")"
[ ! -e "$WORK/bad.img" ] || fail "a failed build left an image"
