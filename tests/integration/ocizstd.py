#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""ocizstd.py LAYOUT TAG NEWTAG: tag NEWTAG in LAYOUT as a copy of TAG whose
gzip layers are recompressed with zstd (the zstd program), each with its
own media type, digest and size: the same image, other layer bytes."""
import gzip, hashlib, json, os, subprocess, sys

lay, tag, newtag = sys.argv[1:4]


def put(data):
    d = hashlib.sha256(data).hexdigest()
    with open(os.path.join(lay, "blobs", "sha256", d), "wb") as f:
        f.write(data)
    return "sha256:" + d


def get(digest):
    with open(os.path.join(lay, "blobs", "sha256", digest[7:]), "rb") as f:
        return f.read()


idx = json.load(open(os.path.join(lay, "index.json")))
[desc] = [m for m in idx["manifests"]
          if m.get("annotations", {}).get("org.opencontainers.image.ref.name") == tag]
man = json.loads(get(desc["digest"]))
for layer in man["layers"]:
    if layer["mediaType"].endswith("+gzip"):
        raw = gzip.decompress(get(layer["digest"]))
        z = subprocess.run(["zstd", "-q", "-c", "-3"], input=raw, check=True,
                           stdout=subprocess.PIPE).stdout
        layer["mediaType"] = layer["mediaType"][:-5] + "+zstd"
        layer["digest"], layer["size"] = put(z), len(z)
data = json.dumps(man).encode()
new = dict(desc, digest=put(data), size=len(data),
           annotations={"org.opencontainers.image.ref.name": newtag})
idx["manifests"].append(new)
with open(os.path.join(lay, "index.json"), "w") as f:
    json.dump(idx, f)
