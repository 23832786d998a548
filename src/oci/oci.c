// SPDX-License-Identifier: GPL-2.0-or-later
/* OCI image layouts: references, descriptors, blobs, index walking. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "xipfs/xipfs.h"
#include "oci.h"

int oci_parse_ref(const char *arg, char **dir, char **tag)
{
	const char *colon, *slash;

	if (strncmp(arg, "oci:", 4))
		return -EINVAL;
	arg += 4;
	colon = strrchr(arg, ':');
	slash = strrchr(arg, '/');
	/* A colon in the last path component starts the tag. */
	if (colon && (!slash || colon > slash)) {
		*dir = strndup(arg, (size_t)(colon - arg));
		*tag = strdup(colon + 1);
	} else {
		*dir = strdup(arg);
		*tag = NULL;
	}
	if (!*dir || (colon && (!slash || colon > slash) && !*tag)) {
		free(*dir);
		return -ENOMEM;
	}
	if (!**dir || (*tag && !**tag)) {
		xipfs_log(XIPFS_LOG_ERR, "oci:%s: expected oci:DIR[:TAG]", arg);
		free(*dir);
		free(*tag);
		return -EINVAL;
	}
	return 0;
}

static const char *str_of(json_object *obj, const char *key)
{
	json_object *v;

	if (!json_object_object_get_ex(obj, key, &v) || !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

int oci_desc_get(json_object *obj, const char *where, struct oci_desc *d)
{
	const char *mt = str_of(obj, "mediaType"), *dg = str_of(obj, "digest");
	json_object *sz;
	uint8_t raw[32];
	int64_t size;

	if (!json_object_is_type(obj, json_type_object) || !mt || !dg ||
	    !json_object_object_get_ex(obj, "size", &sz) || !json_object_is_type(sz, json_type_int)) {
		xipfs_log(XIPFS_LOG_ERR, "%s: a descriptor needs mediaType, digest and size", where);
		return -EINVAL;
	}
	size = json_object_get_int64(sz);
	if (xipfs_digest_parse(dg, raw) || size < 0 || strlen(mt) >= sizeof(d->media_type)) {
		xipfs_log(XIPFS_LOG_ERR, "%s: descriptor %s (size %lld): not a sha256 digest (64 lower-case hex digits) and a size",
			  where, dg, (long long)size);
		return -EINVAL;
	}
	snprintf(d->media_type, sizeof(d->media_type), "%s", mt);
	snprintf(d->digest, sizeof(d->digest), "%s", dg);
	d->size = (uint64_t)size;
	return 0;
}

void oci_blob_path(const char *dir, const char *digest, char *buf, size_t len)
{
	snprintf(buf, len, "%s/blobs/sha256/%s", dir, digest + 7);
}

static int read_file(const char *path, size_t max, char **buf, size_t *len)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC), err = 0;
	ssize_t n;

	if (fd < 0 || fstat(fd, &st) < 0) {
		err = -errno;
		xipfs_log(XIPFS_LOG_ERR, "%s: %s", path, strerror(errno));
		goto out;
	}
	if (!S_ISREG(st.st_mode) || (uint64_t)st.st_size > max) {
		xipfs_log(XIPFS_LOG_ERR, "%s: not a regular file of at most %zu bytes", path, max);
		err = -EFBIG;
		goto out;
	}
	*buf = malloc((size_t)st.st_size + 1);
	if (!*buf) {
		err = -ENOMEM;
		goto out;
	}
	n = pread(fd, *buf, (size_t)st.st_size, 0);
	if (n != st.st_size) {
		err = n < 0 ? -errno : -EIO;
		xipfs_log(XIPFS_LOG_ERR, "%s: short read", path);
		free(*buf);
		goto out;
	}
	(*buf)[n] = '\0';
	*len = (size_t)n;
out:
	if (fd >= 0)
		close(fd);
	return err;
}

int oci_read_blob(const char *dir, const struct oci_desc *d, char **buf, size_t *len)
{
	char path[PATH_MAX], got[XIPFS_DIGEST_STR_LEN];
	uint8_t sum[32];
	int err;

	if (d->size > OCI_JSON_MAX) {
		xipfs_log(XIPFS_LOG_ERR, "%s: blob %s is %llu bytes, too large for a manifest",
			  dir, d->digest, (unsigned long long)d->size);
		return -EFBIG;
	}
	oci_blob_path(dir, d->digest, path, sizeof(path));
	err = read_file(path, OCI_JSON_MAX, buf, len);
	if (err)
		return err;
	err = xipfs_sha256(*buf, *len, sum);
	xipfs_digest_format(sum, got);
	if (!err && (*len != d->size || strcmp(got, d->digest))) {
		xipfs_log(XIPFS_LOG_ERR, "%s: %zu bytes with digest %s, the descriptor says %llu bytes, %s",
			  path, *len, got, (unsigned long long)d->size, d->digest);
		err = -EUCLEAN;
	}
	if (err)
		free(*buf);
	return err;
}

json_object *oci_parse_json(const char *what, const char *text, size_t len, json_type type)
{
	struct json_tokener *tok = json_tokener_new();
	json_object *obj;

	if (!tok)
		return NULL;
	obj = json_tokener_parse_ex(tok, text, (int)len);
	if (!obj || json_tokener_get_error(tok) != json_tokener_success ||
	    !json_object_is_type(obj, type)) {
		enum json_tokener_error je = json_tokener_get_error(tok);

		xipfs_log(XIPFS_LOG_ERR, "%s: not a JSON %s (offset %zu: %s)", what,
			  json_type_to_name(type), json_tokener_get_parse_end(tok),
			  je == json_tokener_continue ? "the text ends too early" :
			  je == json_tokener_success ? "another type" : json_tokener_error_desc(je));
		json_object_put(obj);
		obj = NULL;
	}
	json_tokener_free(tok);
	return obj;
}

const char *oci_host_platform(void)
{
	static char buf[96];
	struct utsname u;
	const char *arch;

	if (uname(&u) < 0)
		return "linux/amd64";
	if (!strcmp(u.machine, "x86_64"))
		arch = "amd64";
	else if (!strcmp(u.machine, "aarch64"))
		arch = "arm64";
	else if (!strncmp(u.machine, "armv7", 5))
		arch = "arm/v7";
	else if (u.machine[0] == 'i' && !strcmp(u.machine + 2, "86"))
		arch = "386";
	else
		arch = u.machine;	/* ppc64le, s390x, riscv64: the same names */
	snprintf(buf, sizeof(buf), "linux/%s", arch);
	return buf;
}

static bool platform_matches(json_object *desc, const char *want)
{
	json_object *p;
	const char *os, *arch, *variant;
	char have[160];

	if (!json_object_object_get_ex(desc, "platform", &p))
		return false;
	os = str_of(p, "os");
	arch = str_of(p, "architecture");
	variant = str_of(p, "variant");
	if (!os || !arch)
		return false;
	snprintf(have, sizeof(have), "%s/%s", os, arch);
	if (!strcmp(have, want))
		return true;	/* no variant asked for: any */
	snprintf(have, sizeof(have), "%s/%s/%s", os, arch, variant ? variant : "");
	return !strcmp(have, want);
}

static bool is_index(const char *mt)
{
	return !strcmp(mt, OCI_INDEX_TYPE) || !strcmp(mt, DOCKER_LIST_TYPE);
}

/* The entry of @manifests whose ref name is @tag, or the only one. */
static json_object *pick_tag(json_object *manifests, const char *dir, const char *tag)
{
	size_t n = json_object_array_length(manifests);

	if (!tag) {
		if (n == 1)
			return json_object_array_get_idx(manifests, 0);
		xipfs_log(XIPFS_LOG_ERR, "oci:%s: %zu manifests in index.json: name one as oci:%s:TAG",
			  dir, n, dir);
		return NULL;
	}
	for (size_t i = 0; i < n; i++) {
		json_object *e = json_object_array_get_idx(manifests, i), *ann;
		const char *ref;

		if (!json_object_object_get_ex(e, "annotations", &ann))
			continue;
		ref = str_of(ann, OCI_REF_NAME);
		if (ref && !strcmp(ref, tag))
			return e;
	}
	xipfs_log(XIPFS_LOG_ERR, "oci:%s: no manifest tagged '%s' in index.json", dir, tag);
	return NULL;
}

static json_object *manifests_of(json_object *index, const char *what)
{
	json_object *m;

	if (!json_object_object_get_ex(index, "manifests", &m) ||
	    !json_object_is_type(m, json_type_array)) {
		xipfs_log(XIPFS_LOG_ERR, "%s: an image index needs a manifests array", what);
		return NULL;
	}
	return m;
}

int oci_find_manifest(const char *dir, const char *tag, const char *platform,
		      struct oci_desc *d, json_object **manifest)
{
	char path[PATH_MAX], *text;
	json_object *index, *entry, *list;
	size_t len;
	int err, depth;

	snprintf(path, sizeof(path), "%s/index.json", dir);
	err = read_file(path, OCI_JSON_MAX, &text, &len);
	if (err)
		return err;
	index = oci_parse_json(path, text, len, json_type_object);
	free(text);
	if (!index)
		return -EINVAL;
	list = manifests_of(index, path);
	entry = list ? pick_tag(list, dir, tag) : NULL;
	err = entry ? oci_desc_get(entry, path, d) : -ENOENT;
	/* Nested indexes (multi-platform images): a few levels at most. */
	for (depth = 0; !err && is_index(d->media_type); depth++) {
		json_object *sub;
		size_t n;

		if (depth == 4) {
			xipfs_log(XIPFS_LOG_ERR, "oci:%s: image indexes nested too deep", dir);
			err = -ELOOP;
			break;
		}
		err = oci_read_blob(dir, d, &text, &len);
		if (err)
			break;
		sub = oci_parse_json(d->digest, text, len, json_type_object);
		free(text);
		json_object_put(index);
		index = sub;
		list = sub ? manifests_of(sub, d->digest) : NULL;
		if (!list) {
			err = -EINVAL;
			break;
		}
		n = json_object_array_length(list);
		entry = NULL;
		for (size_t i = 0; i < n && !entry; i++)
			if (platform_matches(json_object_array_get_idx(list, i), platform))
				entry = json_object_array_get_idx(list, i);
		if (!entry) {
			xipfs_log(XIPFS_LOG_ERR, "oci:%s: index %s has no manifest for platform %s (choose one with --platform OS/ARCH)",
				  dir, d->digest, platform);
			err = -ENOENT;
			break;
		}
		err = oci_desc_get(entry, d->digest, d);
	}
	if (!err && strcmp(d->media_type, OCI_MANIFEST_TYPE) &&
	    strcmp(d->media_type, DOCKER_MANIFEST_TYPE)) {
		xipfs_log(XIPFS_LOG_ERR, "oci:%s: %s is a %s, not an image manifest", dir, d->digest,
			  d->media_type);
		err = -EINVAL;
	}
	if (!err) {
		err = oci_read_blob(dir, d, &text, &len);
		if (!err) {
			*manifest = oci_parse_json(d->digest, text, len, json_type_object);
			free(text);
			if (!*manifest)
				err = -EINVAL;
		}
	}
	json_object_put(index);
	return err;
}

int oci_write_file(const char *path, const void *buf, size_t len)
{
	char tmp[PATH_MAX];
	int fd, err = 0;

	snprintf(tmp, sizeof(tmp), "%s.XXXXXX", path);
	fd = mkstemp(tmp);
	if (fd < 0) {
		err = -errno;
		xipfs_log(XIPFS_LOG_ERR, "%s: cannot create: %s", tmp, strerror(errno));
		return err;
	}
	for (size_t done = 0; done < len;) {
		ssize_t n = write(fd, (const char *)buf + done, len - done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			err = -errno;
			break;
		}
		done += (size_t)n;
	}
	if (!err && (fchmod(fd, 0644) < 0 || fsync(fd) < 0))
		err = -errno;
	close(fd);
	if (!err && rename(tmp, path) < 0)
		err = -errno;
	if (err) {
		xipfs_log(XIPFS_LOG_ERR, "%s: cannot write: %s", path, strerror(-err));
		unlink(tmp);
	}
	return err;
}
