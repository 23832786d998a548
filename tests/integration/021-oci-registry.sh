#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# xipfs images as OCI artifacts through a real registry: oci-pack, push
# with skopeo to Debian's docker-registry on 127.0.0.1, pull into a fresh
# layout as another host would, load oci:DIR:TAG, mount, compare with the
# source tree.  load oci: refuses a layer whose bytes are not its digest,
# even where the image itself still validates (no Merkle tree to say so).
. "$(dirname "$0")/lib.sh"
need_fuse
need_cmd skopeo skopeo
need_cmd docker-registry docker-registry
seg=xipfs-test-021-$$
SEGMENTS+=("$seg")
# A small tree (the registry round trip is the point; 050 covers fidelity).
mkdir -p "$WORK/src/lib" "$WORK/src/etc"
cp -a /usr/lib/python3.11/json "$WORK/src/lib/"
head -c 300000 /dev/urandom >"$WORK/src/lib/blob"
printf 'hello\n' >"$WORK/src/etc/hello"
ln "$WORK/src/etc/hello" "$WORK/src/etc/hardlink"
ln -s ../lib/blob "$WORK/src/etc/link"
setfattr -n user.x -v registry "$WORK/src/etc/hello"
gen_image "$WORK/src" "$WORK/img"
digest=$(info_field "$WORK/img" digest)
"$XIPFSCTL" oci-pack "$WORK/img" "oci:$WORK/layout:v1" >/dev/null || fail "oci-pack failed"
"$PY" - "$WORK/layout" "$digest" <<'PY' || fail "the layout is not what OCI and xipfs(5) say"
import hashlib, json, os, sys
d, root = sys.argv[1], sys.argv[2]
def blob(desc):
    b = open(os.path.join(d, "blobs", "sha256", desc["digest"][7:]), "rb").read()
    assert hashlib.sha256(b).hexdigest() == desc["digest"][7:] and len(b) == desc["size"], desc
    return b
assert json.load(open(os.path.join(d, "oci-layout")))["imageLayoutVersion"] == "1.0.0"
idx = json.load(open(os.path.join(d, "index.json")))
[m] = [m for m in idx["manifests"] if m["annotations"]["org.opencontainers.image.ref.name"] == "v1"]
man = json.loads(blob(m))
assert man["mediaType"] == "application/vnd.oci.image.manifest.v1+json"
[layer] = man["layers"]
assert layer["mediaType"] == "application/vnd.xipfs.image.v1"
assert layer["annotations"]["io.xipfs.image.digest"] == root
assert blob(layer)[:8] == b"XIPFSIMG"
PY

# The layer digest is checked on the copy: damage a data byte of an image
# without a tree (its metadata CRC still holds, so only the digest can tell).
gen_image "$WORK/src" "$WORK/plain.img" --no-merkle
"$XIPFSCTL" oci-pack "$WORK/plain.img" "oci:$WORK/bad:v1" >/dev/null
blob=$(ls -S "$WORK/bad/blobs/sha256" | head -1)
"$PY" "$TESTS/merkle.py" flip "$WORK/bad/blobs/sha256/$blob" 4200
if "$XIPFSCTL" load "oci:$WORK/bad:v1" "$seg" 2>"$WORK/err"; then
	fail "load oci: accepted a layer that is not its digest"
fi
grep -q "not the layer digest sha256:$blob" "$WORK/err" || fail "wrong message: $(cat "$WORK/err")"
[ ! -e "/dev/shm/xipfs.$seg" ] || fail "a refused load left a segment"

port=$("$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cat >"$WORK/registry.yml" <<YML
version: 0.1
log:
  level: error
storage:
  filesystem:
    rootdirectory: $WORK/registry
http:
  addr: 127.0.0.1:$port
YML
docker-registry serve "$WORK/registry.yml" >"$WORK/registry.log" 2>&1 &
regpid=$!
trap 'kill "$regpid" 2>/dev/null; wait "$regpid" 2>/dev/null || true; cleanup' EXIT
"$PY" - "$port" <<'PY' || fail "the registry did not come up: $(cat "$WORK/registry.log")"
import sys, time, urllib.request
for _ in range(100):
    try:
        urllib.request.urlopen("http://127.0.0.1:%s/v2/" % sys.argv[1], timeout=2)
        sys.exit(0)
    except Exception:
        time.sleep(0.1)
sys.exit(1)
PY
ref=docker://127.0.0.1:$port/xipfs/test:v1
timeout 120 skopeo copy -q --dest-tls-verify=false "oci:$WORK/layout:v1" "$ref" ||
	fail "skopeo push failed"
timeout 120 skopeo copy -q --src-tls-verify=false "$ref" "oci:$WORK/pulled:v1" ||
	fail "skopeo pull failed"
"$XIPFSCTL" load "oci:$WORK/pulled:v1" "$seg" || fail "load oci: of the pulled layout failed"
"$XIPFSCTL" verify -q --digest "$digest" "seg:$seg" || fail "the loaded segment is not the image"
mount_xipfs "seg:$seg" "$WORK/m"
"$PY" "$TESTS/treecmp.py" "$WORK/src" "$WORK/m" || fail "the mounted tree differs from the source"
note "pushed, pulled, loaded and mounted $digest through 127.0.0.1:$port"
