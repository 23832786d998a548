// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * xipfs images as OCI artifacts: oci-pack writes an OCI image layout whose
 * one layer is the image (media type application/vnd.xipfs.image.v1, with
 * the image's UUID and Merkle root as annotations), and load oci:DIR[:TAG]
 * loads it back, checking the layer digest on the copy it seals.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "xipfs/xipfs.h"
#include "xipfs/segment.h"
#include "oci/oci.h"
#include "xipfsctl.h"

#define JSON_OUT (JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)

static json_object *desc_new(const char *media_type, const char *digest, uint64_t size)
{
	json_object *d = json_object_new_object();

	json_object_object_add(d, "mediaType", json_object_new_string(media_type));
	json_object_object_add(d, "digest", json_object_new_string(digest));
	json_object_object_add(d, "size", json_object_new_int64((int64_t)size));
	return d;
}

/* Store @len bytes as a blob of layout @dir (kept if already there). */
static int put_blob(const char *dir, const void *buf, size_t len, char *digest)
{
	char path[PATH_MAX];
	uint8_t sum[32];
	struct stat st;
	int err = xipfs_sha256(buf, len, sum);

	if (err)
		return err;
	xipfs_digest_format(sum, digest);
	oci_blob_path(dir, digest, path, sizeof(path));
	if (stat(path, &st) == 0 && (size_t)st.st_size == len)
		return 0;
	return oci_write_file(path, buf, len);
}

static int put_json(const char *dir, json_object *obj, char *digest, size_t *len)
{
	size_t n;
	const char *s = json_object_to_json_string_length(obj, JSON_OUT, &n);

	*len = n;
	return put_blob(dir, s, n, digest);
}

static int make_dirs(const char *dir)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/blobs/sha256", dir);
	for (char *p = path + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(path, 0755) < 0 && errno != EEXIST)
			goto fail;
		*p = '/';
	}
	if (mkdir(path, 0755) < 0 && errno != EEXIST)
		goto fail;
	return 0;
fail:
	xipfs_log(XIPFS_LOG_ERR, "%s: cannot create: %s", path, strerror(errno));
	return -errno;
}

/* index.json with @tag pointing at manifest @m (other tags kept). */
static int put_index(const char *dir, const char *tag, const char *digest, size_t len)
{
	char path[PATH_MAX];
	json_object *index = NULL, *list, *keep, *d, *ann;
	FILE *f;
	int err;

	snprintf(path, sizeof(path), "%s/index.json", dir);
	f = fopen(path, "re");
	if (f) {
		fclose(f);
		index = json_object_from_file(path);
		if (!index || !json_object_object_get_ex(index, "manifests", &list) ||
		    !json_object_is_type(list, json_type_array)) {
			xipfs_log(XIPFS_LOG_ERR, "%s: not an OCI image index; choose another directory",
				  path);
			json_object_put(index);
			return -EINVAL;
		}
	} else {
		index = json_object_new_object();
		json_object_object_add(index, "schemaVersion", json_object_new_int(2));
		json_object_object_add(index, "mediaType", json_object_new_string(OCI_INDEX_TYPE));
		json_object_object_add(index, "manifests", json_object_new_array());
		json_object_object_get_ex(index, "manifests", &list);
	}
	keep = json_object_new_array();
	for (size_t i = 0; i < json_object_array_length(list); i++) {
		json_object *e = json_object_array_get_idx(list, i), *a, *r;

		if (json_object_object_get_ex(e, "annotations", &a) &&
		    json_object_object_get_ex(a, OCI_REF_NAME, &r) &&
		    !strcmp(json_object_get_string(r), tag))
			continue;
		json_object_array_add(keep, json_object_get(e));
	}
	d = desc_new(OCI_MANIFEST_TYPE, digest, len);
	json_object_object_add(d, "artifactType", json_object_new_string(XIPFS_OCI_TYPE));
	ann = json_object_new_object();
	json_object_object_add(ann, OCI_REF_NAME, json_object_new_string(tag));
	json_object_object_add(d, "annotations", ann);
	json_object_array_add(keep, d);
	json_object_object_add(index, "manifests", keep);
	{
		size_t n;
		const char *s = json_object_to_json_string_length(index, JSON_OUT, &n);

		err = oci_write_file(path, s, n);
	}
	json_object_put(index);
	return err;
}

static json_object *xipfs_annotations(const struct xipfs_super *sb)
{
	json_object *a = json_object_new_object();
	char uuid[XIPFS_UUID_STR_LEN + 1], digest[XIPFS_DIGEST_STR_LEN];

	xipfs_uuid_format(sb->s_uuid, uuid);
	json_object_object_add(a, XIPFS_OCI_UUID, json_object_new_string(uuid));
	if (xipfs_le32(sb->s_compat) & XIPFS_FEATURE_COMPAT_MERKLE) {
		xipfs_digest_format(sb->s_merkle_root, digest);
		json_object_object_add(a, XIPFS_OCI_DIGEST, json_object_new_string(digest));
	}
	return a;
}

static int pack(const char *image, const char *dir, const char *tag)
{
	static const char empty[] = "{}";
	char layer[XIPFS_DIGEST_STR_LEN], config[XIPFS_DIGEST_STR_LEN];
	char manifest[XIPFS_DIGEST_STR_LEN];
	struct xipfs_image *img;
	json_object *m = NULL, *layers, *l, *title;
	struct stat st;
	size_t mlen;
	int err;

	err = xipfs_open_file(image, 0, &img);
	if (err)
		return err;
	if (stat(image, &st) < 0 || (uint64_t)st.st_size != xipfs_image_size(img)) {
		xipfs_log(XIPFS_LOG_ERR, "%s: the file is not exactly the image's %zu bytes", image,
			  xipfs_image_size(img));
		err = -EINVAL;
		goto out;
	}
	err = make_dirs(dir);
	if (!err) {
		char path[PATH_MAX];
		static const char layout[] = "{\"imageLayoutVersion\":\"1.0.0\"}";

		snprintf(path, sizeof(path), "%s/oci-layout", dir);
		err = oci_write_file(path, layout, sizeof(layout) - 1);
	}
	if (!err)
		err = put_blob(dir, xipfs_image_base(img), xipfs_image_size(img), layer);
	if (!err)
		err = put_blob(dir, empty, 2, config);
	if (err)
		goto out;
	m = json_object_new_object();
	json_object_object_add(m, "schemaVersion", json_object_new_int(2));
	json_object_object_add(m, "mediaType", json_object_new_string(OCI_MANIFEST_TYPE));
	json_object_object_add(m, "artifactType", json_object_new_string(XIPFS_OCI_TYPE));
	json_object_object_add(m, "config", desc_new(OCI_EMPTY_TYPE, config, 2));
	l = desc_new(XIPFS_OCI_TYPE, layer, xipfs_image_size(img));
	title = xipfs_annotations(xipfs_super(img));
	{
		const char *base = strrchr(image, '/');

		json_object_object_add(title, "org.opencontainers.image.title",
				       json_object_new_string(base ? base + 1 : image));
	}
	json_object_object_add(l, "annotations", title);
	layers = json_object_new_array();
	json_object_array_add(layers, l);
	json_object_object_add(m, "layers", layers);
	json_object_object_add(m, "annotations", xipfs_annotations(xipfs_super(img)));
	err = put_json(dir, m, manifest, &mlen);
	if (!err)
		err = put_index(dir, tag, manifest, mlen);
	if (!err)
		printf("oci:%s:%s manifest %s layer %s (%zu bytes)\n", dir, tag, manifest, layer,
		       xipfs_image_size(img));
out:
	json_object_put(m);
	xipfs_close(img);
	return err;
}

int cmd_oci_pack(int argc, char **argv)
{
	char *dir, *tag;
	int err;

	if (argc != 3 || oci_parse_ref(argv[2], &dir, &tag)) {
		fprintf(stderr, "Usage: xipfsctl oci-pack IMAGE oci:DIR[:TAG]\n");
		return 2;
	}
	err = pack(argv[1], dir, tag ? tag : "latest");
	free(dir);
	free(tag);
	return err ? 1 : 0;
}

/* The xipfs layer of the manifest tagged @tag in layout @dir. */
static int find_layer(const char *dir, const char *tag, struct oci_desc *layer,
		      uint8_t root[32], bool *have_root)
{
	struct oci_desc d;
	json_object *m = NULL, *layers;
	int err = oci_find_manifest(dir, tag, oci_host_platform(), &d, &m);

	if (err)
		return err;
	err = -ENOENT;
	if (json_object_object_get_ex(m, "layers", &layers) &&
	    json_object_is_type(layers, json_type_array)) {
		for (size_t i = 0; i < json_object_array_length(layers) && err == -ENOENT; i++) {
			json_object *l = json_object_array_get_idx(layers, i), *a, *r;

			err = oci_desc_get(l, d.digest, layer);
			if (err)
				break;
			if (strcmp(layer->media_type, XIPFS_OCI_TYPE)) {
				err = -ENOENT;
				continue;
			}
			*have_root = json_object_object_get_ex(l, "annotations", &a) &&
				     json_object_object_get_ex(a, XIPFS_OCI_DIGEST, &r) &&
				     !xipfs_digest_parse(json_object_get_string(r), root);
		}
	}
	if (err == -ENOENT)
		xipfs_log(XIPFS_LOG_ERR, "oci:%s: manifest %s has no %s layer: not an xipfs image (build one with mkxipfs oci:%s IMAGE, then xipfsctl oci-pack)",
			  dir, d.digest, XIPFS_OCI_TYPE, dir);
	json_object_put(m);
	return err;
}

int oci_load(const char *ref, const char *name, struct xipfs_load_opts *o)
{
	char *dir, *tag, path[PATH_MAX];
	struct oci_desc layer;
	uint8_t root[32], blob[32];
	bool have_root = false;
	struct stat st;
	int err = oci_parse_ref(ref, &dir, &tag);

	if (err)
		return err;
	err = find_layer(dir, tag, &layer, root, &have_root);
	if (err)
		goto out;
	oci_blob_path(dir, layer.digest, path, sizeof(path));
	if (stat(path, &st) < 0 || (uint64_t)st.st_size != layer.size) {
		xipfs_log(XIPFS_LOG_ERR, "%s: missing, or not the %llu bytes the manifest says",
			  path, (unsigned long long)layer.size);
		err = -EUCLEAN;
		goto out;
	}
	xipfs_digest_parse(layer.digest, blob);
	o->blob_sha256 = blob;
	if (!o->digest && have_root)
		o->digest = root;
	err = xipfs_segment_load_opts(path, name, o);
out:
	free(dir);
	free(tag);
	return err;
}
