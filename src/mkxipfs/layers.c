// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Container images as input: an OCI image layout (oci:DIR[:TAG]) or the
 * output of `docker save` (docker-archive:FILE).  Layers are streamed
 * through libarchive (plain, gzip or zstd) and never unpacked to disk.
 *
 * Two passes over the layers, bottom layer first:
 *   1. headers only: apply every layer's entries to the tree, with the OCI
 *      whiteouts (.wh.NAME deletes NAME from lower layers, .wh..wh..opq
 *      hides everything lower layers put in its directory), hardlinks to
 *      files of this or lower layers, PAX xattrs and times;
 *   2. data: read each regular file that survived, from the layer entry
 *      that last wrote it, into the page store; a layer is decompressed
 *      only up to its last surviving file, and not at all without one.
 * So a file deleted or replaced by a later layer costs no page in the
 * image, and the result depends only on the final tree.  Each layer's
 * digest is checked in every pass that reads it.
 *
 * Nodes removed from the tree are kept (marked dead) until the end: a
 * hardlinked file whose first name was deleted stays the inode of its
 * other names.  Entries are found through a (parent, name) index.
 */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <openssl/evp.h>

#include "xipfs/xipfs.h"
#include "xipfs/xalloc.h"
#include "oci/oci.h"
#include "mkxipfs.h"

#define WH_PREFIX	".wh."
#define WH_OPAQUE	".wh..wh..opq"

struct layer {
	char digest[72];		/* OCI: checked against the blob */
	uint64_t size;
	char *member;			/* docker-archive: the layer's tar member */
	struct node **files;		/* pass 1: entry index -> file inode */
	size_t nfiles, capfiles;
};

struct image {
	struct build *b;
	const char *label;		/* the SOURCE argument, for messages */
	char *dir;			/* oci: the layout */
	char *archive;			/* docker-archive: the file */
	struct layer *layers;
	size_t nlayers;
	struct node **dead;		/* removed nodes, freed at the end */
	size_t ndead, capdead;
	struct node *root;
	struct node_index index;	/* the live tree's entries */
};

/* ---- reading one layer -------------------------------------------------- */

struct layer_in {
	struct archive *a;
	int fd;				/* oci: the blob */
	EVP_MD_CTX *md;
	uint64_t bytes;
	struct archive *outer;		/* docker-archive: the outer tar */
	uint8_t buf[1 << 16];
};

static la_ssize_t blob_read(struct archive *a, void *ctx, const void **out)
{
	struct layer_in *in = ctx;
	ssize_t n;

	do
		n = read(in->fd, in->buf, sizeof(in->buf));
	while (n < 0 && errno == EINTR);
	if (n < 0) {
		archive_set_error(a, errno, "read: %s", strerror(errno));
		return -1;
	}
	EVP_DigestUpdate(in->md, in->buf, (size_t)n);
	in->bytes += (uint64_t)n;
	*out = in->buf;
	return n;
}

static la_ssize_t member_read(struct archive *a, void *ctx, const void **out)
{
	static const uint8_t gzip[] = { 0x1f, 0x8b }, zstd[] = { 0x28, 0xb5, 0x2f, 0xfd };
	struct layer_in *in = ctx;
	la_ssize_t n = archive_read_data(in->outer, in->buf, sizeof(in->buf));

	if (n < 0)
		archive_set_error(a, EIO, "%s", archive_error_string(in->outer));
	/* A diff_id is the digest of the tar: a compressed member has none to check. */
	if (n > 0 && in->md && !in->bytes &&
	    ((n >= 2 && !memcmp(in->buf, gzip, 2)) || (n >= 4 && !memcmp(in->buf, zstd, 4)))) {
		EVP_MD_CTX_free(in->md);
		in->md = NULL;
	}
	if (n > 0 && in->md)
		EVP_DigestUpdate(in->md, in->buf, (size_t)n);
	in->bytes += n > 0 ? (uint64_t)n : 0;
	*out = in->buf;
	return n;
}

/* Position the outer docker-archive tar at @member. */
static int open_member(struct image *im, const char *member, struct archive **outer)
{
	struct archive_entry *e;
	int r;

	*outer = tar_archive_new();
	if (archive_read_open_filename(*outer, im->archive, 1 << 16) != ARCHIVE_OK) {
		die_path(im->b, im->archive, "cannot read: %s", archive_error_string(*outer));
		return -EIO;
	}
	while ((r = archive_read_next_header(*outer, &e)) == ARCHIVE_OK || r == ARCHIVE_WARN) {
		const char *p = archive_entry_pathname(e);

		while (p && p[0] == '.' && p[1] == '/')
			p += 2;
		if (p && !strcmp(p, member))
			return 0;
	}
	die_path(im->b, im->archive, "no member '%s' in the archive", member);
	return -ENOENT;
}

static int layer_open(struct image *im, struct layer *l, struct layer_in *in)
{
	int r;

	memset(in, 0, offsetof(struct layer_in, buf));
	in->fd = -1;
	if (im->archive) {
		int err = open_member(im, l->member, &in->outer);

		if (err)
			return err;
		if (l->digest[0]) {
			in->md = EVP_MD_CTX_new();
			if (!in->md || !EVP_DigestInit_ex(in->md, EVP_sha256(), NULL))
				return -ENOMEM;
		}
		in->a = tar_archive_new();
		r = archive_read_open(in->a, in, NULL, member_read, NULL);
	} else {
		char path[PATH_MAX];

		oci_blob_path(im->dir, l->digest, path, sizeof(path));
		in->fd = open(path, O_RDONLY | O_CLOEXEC);
		if (in->fd < 0) {
			die_path(im->b, path, "cannot open layer %s: %s", l->digest, strerror(errno));
			return -errno;
		}
		in->md = EVP_MD_CTX_new();
		if (!in->md || !EVP_DigestInit_ex(in->md, EVP_sha256(), NULL))
			return -ENOMEM;
		in->a = tar_archive_new();
		r = archive_read_open(in->a, in, NULL, blob_read, NULL);
	}
	if (r != ARCHIVE_OK) {
		die_path(im->b, im->label, "layer %s: %s", l->member ? l->member : l->digest,
			 archive_error_string(in->a));
		return -EIO;
	}
	return 0;
}

/* Finish a layer: the rest of the blob is read, so its digest can be checked. */
static int layer_close(struct image *im, struct layer *l, struct layer_in *in, bool check)
{
	int err = 0;

	if (in->md && check) {
		const void *p;

		/* The digest covers all of it: the tar's end padding too. */
		while ((in->fd >= 0 ? blob_read(in->a, in, &p) : member_read(in->a, in, &p)) > 0)
			;
	}
	if (in->md && check) {
		uint8_t sum[32];
		char got[XIPFS_DIGEST_STR_LEN];
		unsigned len;

		EVP_DigestFinal_ex(in->md, sum, &len);
		xipfs_digest_format(sum, got);
		if (in->fd < 0 && strcmp(got, l->digest)) {
			die_path(im->b, im->label, "layer %s: its tar has digest %s, the image config's diff_id is %s",
				 l->member, got, l->digest);
			err = -EUCLEAN;
		} else if (in->fd >= 0 && (strcmp(got, l->digest) || in->bytes != l->size)) {
			die_path(im->b, im->label, "layer %s: the blob is %llu bytes with digest %s, the manifest says %llu bytes",
				 l->digest, (unsigned long long)in->bytes, got,
				 (unsigned long long)l->size);
			err = -EUCLEAN;
		}
	}
	archive_read_free(in->a);
	archive_read_free(in->outer);
	EVP_MD_CTX_free(in->md);
	if (in->fd >= 0)
		close(in->fd);
	return err;
}

/* ---- applying entries ---------------------------------------------------- */

static void bury(struct image *im, struct node *n)
{
	if (im->ndead == im->capdead) {
		im->capdead = im->capdead ? im->capdead * 2 : 64;
		im->dead = xreallocarray(im->dead, im->capdead, sizeof(*im->dead));
	}
	im->dead[im->ndead++] = n;
}

/* Drop one name: a hardlinked inode lives on while other names have it. */
static void drop_names(struct node *n)
{
	struct node *ino = n->link ? n->link : n;

	for (uint32_t i = 0; i < n->nkids; i++)
		drop_names(n->kids[i]);
	if (S_ISDIR(ino->mode))
		return;
	if (ino->nlink)
		ino->nlink--;
	if (!ino->nlink)
		ino->dead = true;
}

/* @n and everything under it out of the index; directories and links dead. */
static void mark_dead(struct image *im, struct node *n)
{
	for (uint32_t i = 0; i < n->nkids; i++)
		mark_dead(im, n->kids[i]);
	index_remove(&im->index, n);
	if (S_ISDIR(n->mode) || n->link)
		n->dead = true;
}

/* Remove @n (and everything under it) from the tree. */
static void remove_kid(struct image *im, struct node *n)
{
	struct node *dir = n->parent;
	uint32_t i = 0;

	while (dir->kids[i] != n)
		i++;
	memmove(dir->kids + i, dir->kids + i + 1, (dir->nkids - i - 1) * sizeof(*dir->kids));
	dir->nkids--;
	drop_names(n);
	mark_dead(im, n);
	n->parent = NULL;
	bury(im, n);
}

/* A new entry @name of @dir, findable. */
static struct node *add_kid(struct image *im, struct node *dir, const char *name, size_t len)
{
	struct node *n = node_new(dir, name, len);

	index_add(&im->index, n);
	return n;
}

/* Everything under @dir that layer @layer did not write goes (opaque). */
static void prune_lower(struct image *im, struct node *dir, uint32_t layer)
{
	for (uint32_t i = dir->nkids; i-- > 0;) {
		struct node *k = dir->kids[i];

		if (k->layer != layer)
			remove_kid(im, k);
		else if (S_ISDIR(k->mode) && !k->link)
			prune_lower(im, k, layer);
	}
}

static void file_source(struct layer *l, size_t index, struct node *n)
{
	if (index >= l->capfiles) {
		size_t cap = l->capfiles ? l->capfiles * 2 : 256;

		while (cap <= index)
			cap *= 2;
		l->files = xreallocarray(l->files, cap, sizeof(*l->files));
		memset(l->files + l->capfiles, 0, (cap - l->capfiles) * sizeof(*l->files));
		l->capfiles = cap;
	}
	l->files[index] = n;
	if (index >= l->nfiles)
		l->nfiles = index + 1;
}

static bool is_whiteout(const char *path)
{
	const char *base = strrchr(path, '/');

	base = base ? base + 1 : path;
	return !strncmp(base, WH_PREFIX, strlen(WH_PREFIX));
}

/*
 * .wh.NAME removes NAME as lower layers left it; .wh..wh..opq empties its
 * directory of what lower layers put there.  Neither touches what this
 * layer wrote, and a whiteout under a path that is not a directory (any
 * more) has nothing to remove.
 */
static void whiteout(struct image *im, const char *path, uint32_t layer)
{
	const char *base = strrchr(path, '/');
	struct node *dir = im->root, *n;

	if (base) {
		char *d = xstrndup(path, (size_t)(base - path));

		dir = index_lookup(&im->index, im->root, d);
		free(d);
		base++;
	} else {
		base = path;
	}
	if (!dir || dir->link || !S_ISDIR(dir->mode))
		return;
	if (!strcmp(base, WH_OPAQUE)) {
		prune_lower(im, dir, layer);
		return;
	}
	base += strlen(WH_PREFIX);
	n = index_find(&im->index, dir, base, strlen(base));
	if (n && n->layer != layer)
		remove_kid(im, n);
}

/* Apply entry number @index of layer @li to the tree. */
static int apply_entry(struct image *im, struct node *root, struct archive_entry *e,
		       uint32_t li, size_t index, const char *where)
{
	const char *path = archive_entry_pathname(e), *hl = archive_entry_hardlink(e);
	uint32_t layer = li + 1;
	const char *name;
	struct node *dir, *n;
	size_t len;

	if (!path) {
		die_path(im->b, where, "entry without a name");
		return -EINVAL;
	}
	if (excluded(im->b->o, path))
		return 0;
	if (is_whiteout(path)) {
		whiteout(im, path, layer);
		return 0;
	}
	dir = entry_parent(im->b, &im->index, root, path, layer, where, &name, &len);
	if (!dir)
		return -EINVAL;
	if (!len) {	/* the root directory's own entry */
		if (!S_ISDIR(archive_entry_mode(e)))
			return 0;
		return tar_entry_meta(im->b, root, e, where);
	}
	n = index_find(&im->index, dir, name, len);
	if (hl) {
		struct node *target = index_lookup(&im->index, im->root, hl);

		if (target && target->link)
			target = target->link;
		if (!target || S_ISDIR(target->mode)) {
			die_path(im->b, where, "hardlink to '%s', which is not a file of this or a lower layer",
				 hl);
			return -EINVAL;
		}
		if (n && (n == target || n->link == target))
			return 0;
		if (n)
			remove_kid(im, n);
		n = add_kid(im, dir, name, len);
		n->layer = layer;
		n->link = target;
		target->nlink++;
		return 0;
	}
	if (n && (n->link || !S_ISDIR(n->mode) || !S_ISDIR(archive_entry_mode(e)))) {
		remove_kid(im, n);
		n = NULL;
	}
	if (!n)
		n = add_kid(im, dir, name, len);
	n->layer = layer;
	/* A directory again: its metadata is new, its entries stay. */
	if (tar_entry_meta(im->b, n, e, where))
		return -EINVAL;
	if (S_ISREG(n->mode))
		file_source(&im->layers[li], index, n);
	return 0;
}

/* ---- the two passes ------------------------------------------------------ */

/*
 * The entries pass 2 must read: up to the last one holding a surviving
 * file.  The rest of the layer is not decompressed again; layer_close()
 * still reads its raw bytes for the digest.
 */
static size_t data_entries(const struct layer *l)
{
	size_t n = l->nfiles;

	while (n && (!l->files[n - 1] || l->files[n - 1]->dead))
		n--;
	return n;
}

static int layer_pass(struct image *im, struct node *root, uint32_t li, bool data)
{
	struct layer *l = &im->layers[li];
	size_t index = 0, end = data ? data_entries(l) : SIZE_MAX;
	struct layer_in in;
	struct archive_entry *e;
	char where[PATH_MAX + 128];
	int r, err;

	if (!end)
		return 0;	/* no file of this layer survived: nothing to read */
	err = layer_open(im, l, &in);
	for (; !err && index < end && ((r = archive_read_next_header(in.a, &e)) == ARCHIVE_OK ||
				       r == ARCHIVE_WARN); index++) {
		const char *p = archive_entry_pathname(e);

		snprintf(where, sizeof(where), "%s: layer %u: at byte %lld: entry '%s'", im->label,
			 li + 1, (long long)archive_read_header_position(in.a), p ? p : "");
		if (!data) {
			err = apply_entry(im, root, e, li, index, where);
		} else if (index < l->nfiles && l->files[index] && !l->files[index]->dead) {
			struct node *n = l->files[index];

			if (!S_ISREG(archive_entry_mode(e)) ||
			    (uint64_t)archive_entry_size(e) != n->size) {
				die_path(im->b, where, "the layer changed between two reads");
				err = -EIO;
				break;
			}
			err = tar_entry_data(im->b, in.a, n, where);
		}
	}
	if (!err && index < end && r != ARCHIVE_EOF) {
		die_path(im->b, im->label, "layer %u: bad or truncated archive: %s", li + 1,
			 archive_error_string(in.a));
		err = -EIO;
	}
	r = layer_close(im, l, &in, !err);
	return err ? err : r;
}

/* ---- finding the layers ---------------------------------------------------- */

static bool layer_type_ok(const char *mt)
{
	static const char *const ok[] = {
		"application/vnd.oci.image.layer.v1.tar",
		"application/vnd.oci.image.layer.v1.tar+gzip",
		"application/vnd.oci.image.layer.v1.tar+zstd",
		"application/vnd.oci.image.layer.nondistributable.v1.tar",
		"application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
		"application/vnd.oci.image.layer.nondistributable.v1.tar+zstd",
		"application/vnd.docker.image.rootfs.diff.tar.gzip",
		"application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
	};

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		if (!strcmp(mt, ok[i]))
			return true;
	return false;
}

static int oci_layers(struct image *im, const char *src, const struct opts *o)
{
	char *tag = NULL;
	struct oci_desc d;
	json_object *m = NULL, *layers;
	int err = oci_parse_ref(src, &im->dir, &tag);

	if (err)
		return err;
	err = oci_find_manifest(im->dir, tag, o->platform ? o->platform : oci_host_platform(),
				&d, &m);
	free(tag);
	if (err)
		return err;
	if (!json_object_object_get_ex(m, "layers", &layers) ||
	    !json_object_is_type(layers, json_type_array)) {
		die_path(im->b, src, "manifest %s has no layers array", d.digest);
		err = -EINVAL;
		goto out;
	}
	im->nlayers = json_object_array_length(layers);
	im->layers = xcalloc(im->nlayers, sizeof(*im->layers));
	for (size_t i = 0; i < im->nlayers && !err; i++) {
		struct oci_desc ld;

		err = oci_desc_get(json_object_array_get_idx(layers, i), d.digest, &ld);
		if (err)
			break;
		if (!layer_type_ok(ld.media_type)) {
			die_path(im->b, src, "layer %zu (%s) has media type %s, not a tar layer%s", i + 1,
				 ld.digest, ld.media_type,
				 strcmp(ld.media_type, XIPFS_OCI_TYPE) ? "" :
				 " (an xipfs image already: xipfsctl load it)");
			err = -EINVAL;
			break;
		}
		memcpy(im->layers[i].digest, ld.digest, sizeof(ld.digest));
		im->layers[i].size = ld.size;
	}
out:
	json_object_put(m);
	return err;
}

/* Member @name of the docker archive, whole (a JSON file), parsed as @type. */
static json_object *read_member(struct image *im, const char *name, json_type type)
{
	struct archive *outer = NULL;
	json_object *obj = NULL;
	char *text = xmalloc(OCI_JSON_MAX + 1);
	la_ssize_t n = 0;
	size_t len = 0;

	if (open_member(im, name, &outer))
		goto out;
	while (len < OCI_JSON_MAX &&
	       (n = archive_read_data(outer, text + len, OCI_JSON_MAX - len)) > 0)
		len += (size_t)n;
	if (n < 0)
		die_path(im->b, im->archive, "%s: %s", name, archive_error_string(outer));
	else
		obj = oci_parse_json(name, text, len, type);
out:
	archive_read_free(outer);
	free(text);
	return obj;
}

/*
 * The image config's rootfs.diff_ids: the SHA-256 of each layer's tar, as
 * docker save stores them (uncompressed), checked while they are read.
 */
static int docker_diff_ids(struct image *im, json_object *image)
{
	json_object *cfgname, *cfg, *rootfs, *ids;
	int err = 0;

	if (!json_object_object_get_ex(image, "Config", &cfgname) ||
	    !json_object_is_type(cfgname, json_type_string))
		return 0;	/* nothing to check against */
	cfg = read_member(im, json_object_get_string(cfgname), json_type_object);
	if (!cfg)
		return -EINVAL;
	if (json_object_object_get_ex(cfg, "rootfs", &rootfs) &&
	    json_object_object_get_ex(rootfs, "diff_ids", &ids) &&
	    json_object_is_type(ids, json_type_array)) {
		if (json_object_array_length(ids) != im->nlayers) {
			die_path(im->b, im->archive, "%s: %zu diff_ids for %zu layers",
				 json_object_get_string(cfgname), json_object_array_length(ids),
				 im->nlayers);
			err = -EINVAL;
		}
		for (size_t i = 0; !err && i < im->nlayers; i++) {
			const char *d = json_object_get_string(json_object_array_get_idx(ids, i));
			uint8_t raw[32];

			if (!d || xipfs_digest_parse(d, raw)) {
				die_path(im->b, im->archive, "%s: diff_id %zu is not a sha256 digest",
					 json_object_get_string(cfgname), i + 1);
				err = -EINVAL;
				break;
			}
			snprintf(im->layers[i].digest, sizeof(im->layers[i].digest), "%s", d);
			im->layers[i].size = UINT64_MAX;	/* not known */
		}
	}
	json_object_put(cfg);
	return err;
}

/* docker save: manifest.json names the layers (tar members) in order. */
static int docker_layers(struct image *im, const char *src)
{
	json_object *m, *image, *layers;
	int err = 0;

	im->archive = xstrdup(src + strlen("docker-archive:"));
	m = read_member(im, "manifest.json", json_type_array);
	if (!m)
		return -EINVAL;
	image = json_object_array_get_idx(m, 0);
	if (json_object_array_length(m) != 1 ||
	    !json_object_object_get_ex(image, "Layers", &layers) ||
	    !json_object_is_type(layers, json_type_array)) {
		die_path(im->b, im->archive, "manifest.json: expected one image with a Layers array");
		err = -EINVAL;
		goto out;
	}
	im->nlayers = json_object_array_length(layers);
	im->layers = xcalloc(im->nlayers, sizeof(*im->layers));
	for (size_t i = 0; i < im->nlayers; i++) {
		json_object *l = json_object_array_get_idx(layers, i);

		if (!json_object_is_type(l, json_type_string)) {
			die_path(im->b, im->archive, "manifest.json: layer %zu is not a member name", i + 1);
			err = -EINVAL;
			goto out;
		}
		im->layers[i].member = xstrdup(json_object_get_string(l));
	}
	err = docker_diff_ids(im, image);
out:
	json_object_put(m);
	return err;
}

/* Removed nodes of the last image read: the tree may still link to them. */
static struct node **graveyard;
static size_t ngraves;

void image_free(void)
{
	for (size_t i = 0; i < ngraves; i++)
		tree_free(graveyard[i]);
	free(graveyard);
	graveyard = NULL;
	ngraves = 0;
}

struct node *tree_from_image(struct build *b, const char *src)
{
	const struct opts *o = b->o;
	struct image im = { .b = b, .label = src };
	struct node *root;
	int err;

	err = !strncmp(src, "oci:", 4) ? oci_layers(&im, src, o) : docker_layers(&im, src);
	root = node_new(NULL, "", 0);
	root->mode = S_IFDIR | 0755;
	root->mtime = o->have_timestamp ? o->timestamp : 0;
	im.root = root;
	for (uint32_t i = 0; !err && i < im.nlayers; i++)
		err = layer_pass(&im, root, i, false);
	for (uint32_t i = 0; !err && i < im.nlayers; i++)
		err = layer_pass(&im, root, i, true);
	for (size_t i = 0; i < im.nlayers; i++) {
		free(im.layers[i].files);
		free(im.layers[i].member);
	}
	free(im.layers);
	index_free(&im.index);
	free(im.dir);
	free(im.archive);
	graveyard = im.dead;
	ngraves = im.ndead;
	if (err) {
		image_free();
		tree_free(root);
		return NULL;
	}
	tree_sort(root);
	return root;
}
