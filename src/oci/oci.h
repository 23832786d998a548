/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * OCI image layouts (image-layout, image-index and image-manifest of the
 * OCI image specification), shared by mkxipfs (reading container images)
 * and xipfsctl (xipfs images as OCI artifacts).  Everything read from a
 * layout is untrusted: digests are checked against the bytes, JSON is
 * parsed with json-c's depth limit, and a digest becomes a path only after
 * it is known to be "sha256:" and 64 lower-case hex digits.
 */
#ifndef XIPFS_OCI_H
#define XIPFS_OCI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <json-c/json.h>

#define OCI_INDEX_TYPE		"application/vnd.oci.image.index.v1+json"
#define OCI_MANIFEST_TYPE	"application/vnd.oci.image.manifest.v1+json"
#define DOCKER_LIST_TYPE	"application/vnd.docker.distribution.manifest.list.v2+json"
#define DOCKER_MANIFEST_TYPE	"application/vnd.docker.distribution.manifest.v2+json"
#define OCI_EMPTY_TYPE		"application/vnd.oci.empty.v1+json"
#define OCI_REF_NAME		"org.opencontainers.image.ref.name"
#define XIPFS_OCI_TYPE		"application/vnd.xipfs.image.v1"
#define XIPFS_OCI_UUID		"io.xipfs.image.uuid"
#define XIPFS_OCI_DIGEST	"io.xipfs.image.digest"

/* Manifests and indexes are small; layers are streamed, never held. */
#define OCI_JSON_MAX		(4u << 20)

/* "oci:DIR[:TAG]" split into its parts (the caller frees both). */
int oci_parse_ref(const char *arg, char **dir, char **tag);

/* A content descriptor. */
struct oci_desc {
	char media_type[128];
	char digest[72];		/* "sha256:HEX", checked */
	uint64_t size;
};

/* Fill @d from a descriptor object; -EINVAL (logged, naming @where) if bad. */
int oci_desc_get(json_object *obj, const char *where, struct oci_desc *d);

/* DIR/blobs/sha256/HEX for a checked digest, into @buf. */
void oci_blob_path(const char *dir, const char *digest, char *buf, size_t len);

/*
 * Read blob @d of layout @dir whole (at most OCI_JSON_MAX bytes) and check
 * its size and SHA-256 against @d; NUL terminated.
 */
int oci_read_blob(const char *dir, const struct oci_desc *d, char **buf, size_t *len);

/* Parse @len bytes of JSON whose top level must be of @type. */
json_object *oci_parse_json(const char *what, const char *text, size_t len, json_type type);

/*
 * The manifest of @tag in layout @dir (NULL: the only one there), through
 * image indexes down to one manifest: a platform "os/arch[/variant]"
 * (NULL: this host's) picks among the entries of a multi-platform index.
 * *@manifest is the parsed manifest, its own descriptor in @d.
 */
int oci_find_manifest(const char *dir, const char *tag, const char *platform,
		      struct oci_desc *d, json_object **manifest);

/* The host's platform as OCI names it ("linux/amd64"). */
const char *oci_host_platform(void);

/* Write @len bytes to @path atomically (temporary file, fsync, rename). */
int oci_write_file(const char *path, const void *buf, size_t len);

#endif
