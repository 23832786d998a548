// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Tar input.  A tar_tree applies archive entries, one at a time, to an
 * in-memory tree: each entry's path is resolved component by component
 * (through a node_index, so a directory of a million entries costs no
 * more per entry than a small one), missing parents are created as
 * implicit directories, a later entry of the same path replaces the
 * earlier one's metadata and content, hardlinks name an earlier file.
 * An entry's metadata and data (tar_entry_meta(), tar_entry_data()) are
 * read the same way for image layers (layers.c).
 */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "xipfs/xipfs.h"
#include "xipfs/xalloc.h"
#include "mkxipfs.h"

struct tar_tree {
	struct build *b;
	struct node *root;
	struct node_index index;
	char where[4096 + 96];		/* "ARCHIVE: at byte N: entry 'PATH'", for messages */
};

static struct tar_tree *tar_tree_new(struct build *b)
{
	struct tar_tree *t = xcalloc(1, sizeof(*t));

	t->b = b;
	t->root = node_new(NULL, "", 0);
	t->root->mode = S_IFDIR | 0755;
	t->root->mtime = b->o->have_timestamp ? b->o->timestamp : 0;
	return t;
}

static void tar_tree_free(struct tar_tree *t)
{
	if (!t)
		return;
	tree_free(t->root);
	index_free(&t->index);
	free(t);
}

static struct node *tar_tree_finish(struct tar_tree *t)
{
	struct node *root = t->root;

	t->root = NULL;
	tar_tree_free(t);
	tree_sort(root);
	return root;
}

/* The node for @path, its missing components made; NULL if it cannot be (reported). */
static struct node *tar_node(struct tar_tree *t, const char *path)
{
	const char *name;
	size_t len;
	struct node *dir = entry_parent(t->b, &t->index, t->root, path, 0, t->where,
					&name, &len), *n;

	if (!dir || !len)
		return dir;
	n = index_find(&t->index, dir, name, len);
	return n ? n : implicit_dir(&t->index, dir, name, len, t->root, 0);
}

/* A hardlink entry: @path names the earlier file @hl. */
static int add_hardlink(struct tar_tree *t, const char *path, const char *hl)
{
	struct node *target = index_lookup(&t->index, t->root, hl), *n;

	if (!target || target->link || S_ISDIR(target->mode)) {
		die_path(t->b, t->where, "hardlink to '%s', which is not an earlier file", hl);
		return -EINVAL;
	}
	n = tar_node(t, path);
	if (!n)
		return -EINVAL;
	if (n == t->root) {
		die_path(t->b, t->where, "a hardlink cannot be the root directory");
		return -EINVAL;
	}
	if (n == target)
		return 0;
	if (n->nkids) {
		die_path(t->b, t->where, "hardlink replaces a directory that has entries");
		return -EINVAL;
	}
	n->link = target;
	target->nlink++;
	return 0;
}

/* The metadata of entry @e onto @n: its xattrs replace any earlier entry's. */
static int set_meta(struct build *b, const char *where, struct node *n,
		    struct archive_entry *e)
{
	const char *xn;
	const void *xv;
	size_t xl;

	n->mode = archive_entry_mode(e);
	n->uid = (uint32_t)archive_entry_uid(e);
	n->gid = (uint32_t)archive_entry_gid(e);
	n->mtime = archive_entry_mtime(e);
	n->mtime_ns = (uint32_t)archive_entry_mtime_nsec(e);
	if (archive_entry_ctime_is_set(e)) {
		n->ctime = archive_entry_ctime(e);
		n->ctime_ns = (uint32_t)archive_entry_ctime_nsec(e);
	} else {
		n->ctime = n->mtime;
		n->ctime_ns = n->mtime_ns;
	}
	if (S_ISCHR(n->mode) || S_ISBLK(n->mode))
		n->rdev = archive_entry_rdev(e);
	clear_xattrs(n);
	archive_entry_xattr_reset(e);
	while (archive_entry_xattr_next(e, &xn, &xv, &xl) == ARCHIVE_OK) {
		if (add_xattr(n, xn, xv, xl)) {
			die_path(b, where, "extended attribute '%s' too large", xn);
			return -E2BIG;
		}
	}
	return 0;
}

/*
 * A read(2) over an archive entry's data blocks: gaps between blocks (sparse
 * entries) and the tail after the last block read as zeros, up to the size
 * the caller asks for.
 */
struct ar_reader {
	struct build *b;
	struct archive *a;
	const char *where;		/* for messages */
	const uint8_t *blk;
	size_t blen;
	int64_t boff, pos;
	bool eof;
};

/* Make the block holding r->pos current, unless the data ends first. */
static int ar_next_block(struct ar_reader *r)
{
	while (!r->eof && r->pos >= r->boff + (int64_t)r->blen) {
		const void *b;
		size_t n;
		la_int64_t o;
		int rc = archive_read_data_block(r->a, &b, &n, &o);

		if (rc == ARCHIVE_EOF) {
			r->eof = true;
			break;
		}
		if (rc < ARCHIVE_WARN || o < r->pos) {
			die_path(r->b, r->where, "truncated or corrupt archive: %s",
				 rc < ARCHIVE_WARN ? archive_error_string(r->a)
						   : "data blocks out of order");
			return -EIO;
		}
		r->blk = b;
		r->blen = n;
		r->boff = o;
	}
	return 0;
}

static ssize_t ar_read(void *ctx, void *buf, size_t len)
{
	struct ar_reader *r = ctx;
	size_t n;

	if (ar_next_block(r)) {
		errno = EIO;
		return -1;
	}
	if (r->eof || r->pos < r->boff) {
		int64_t gap = r->eof ? (int64_t)len : r->boff - r->pos;

		n = (int64_t)len < gap ? len : (size_t)gap;
		memset(buf, 0, n);
	} else {
		size_t in = (size_t)(r->pos - r->boff);

		n = r->blen - in < len ? r->blen - in : len;
		memcpy(buf, r->blk + in, n);
	}
	r->pos += n;
	return (ssize_t)n;
}

/* What entry @e holds, by type: a symlink target, a file's size, nothing. */
static int add_content(struct build *b, const char *where, struct node *n,
		       struct archive_entry *e)
{
	if (S_ISLNK(n->mode)) {
		const char *target = archive_entry_symlink(e);
		size_t tl = target ? strlen(target) : 0;

		if (tl < 1 || tl > XIPFS_SYMLINK_MAX) {
			die_path(b, where, "symlink target of %zu bytes (1..4095 allowed)", tl);
			return -ENAMETOOLONG;
		}
		free(n->target);
		n->target = xstrndup(target, tl);
		n->size = tl;
		return 0;
	}
	if (S_ISREG(n->mode)) {
		n->size = archive_entry_size_is_set(e) ? (uint64_t)archive_entry_size(e) : 0;
		return 0;
	}
	if (!S_ISDIR(n->mode) && !S_ISCHR(n->mode) && !S_ISBLK(n->mode) &&
	    !S_ISFIFO(n->mode) && !S_ISSOCK(n->mode)) {
		die_path(b, where, "unsupported entry type 0%o", n->mode & S_IFMT);
		return -EINVAL;
	}
	return 0;
}

int tar_entry_meta(struct build *b, struct node *n, struct archive_entry *e,
		   const char *where)
{
	int err = set_meta(b, where, n, e);

	return err ? err : add_content(b, where, n, e);
}

int tar_entry_data(struct build *b, struct archive *a, struct node *n, const char *where)
{
	struct ar_reader rd = { .b = b, .a = a, .where = where };
	int err = add_data(b, n, ar_read, &rd, where);

	progress_tick(b, false);
	return err;
}

/*
 * Apply entry @e of archive @a (its data is read from @a) to the tree.
 * @label names the archive in messages.  0, or -errno after die_path().
 */
static int tar_tree_add(struct tar_tree *t, struct archive *a, struct archive_entry *e,
		 const char *label)
{
	const char *path = archive_entry_pathname(e);
	const char *hl = archive_entry_hardlink(e);
	mode_t mode = archive_entry_mode(e);
	struct node *n;
	int err;

	if (!path) {
		die_path(t->b, label, "entry without a name");
		return -EINVAL;
	}
	snprintf(t->where, sizeof(t->where), "%s: at byte %lld: entry '%s'", label,
		 (long long)archive_read_header_position(a), path);
	if (excluded(t->b->o, path))
		return 0;
	if (hl)
		return add_hardlink(t, path, hl);
	n = tar_node(t, path);
	if (!n)
		return -EINVAL;
	/* "", "." and "/" name the root: it stays a directory. */
	if (n == t->root && !S_ISDIR(mode)) {
		die_path(t->b, t->where,
			 "the entry names the root directory (\"\", \".\" or \"/\") but is not a directory (type 0%o): refusing it",
			 (unsigned)(mode & S_IFMT));
		return -EINVAL;
	}
	if (n->link) {
		die_path(t->b, t->where, "entry replaces a hardlink");
		return -EINVAL;
	}
	if (n->nkids && !S_ISDIR(mode)) {
		die_path(t->b, t->where, "entry replaces a directory that has entries");
		return -EINVAL;
	}
	err = tar_entry_meta(t->b, n, e, t->where);
	if (!err && S_ISREG(n->mode))
		err = tar_entry_data(t->b, a, n, t->where);
	return err;
}

struct archive *tar_archive_new(void)
{
	struct archive *a = archive_read_new();

	if (!a)
		xipfs_oom();
	archive_read_support_filter_all(a);
	archive_read_support_format_tar(a);
	archive_read_support_format_gnutar(a);
	return a;
}

struct node *tree_from_tar(struct build *b, const char *src)
{
	struct archive *a = tar_archive_new();
	struct archive_entry *e;
	struct tar_tree *t;
	const char *label = strcmp(src, "-") ? src : "(standard input)";
	int r, err = 0;

	r = strcmp(src, "-") ? archive_read_open_filename(a, src, 1 << 16)
			     : archive_read_open_fd(a, 0, 1 << 16);
	if (r != ARCHIVE_OK) {
		die_path(b, label, "cannot read archive: %s", archive_error_string(a));
		archive_read_free(a);
		return NULL;
	}
	t = tar_tree_new(b);
	/* ARCHIVE_WARN: e.g. a name not in the locale's charset; the raw bytes are kept. */
	while (!err && ((r = archive_read_next_header(a, &e)) == ARCHIVE_OK || r == ARCHIVE_WARN))
		err = tar_tree_add(t, a, e, label);
	if (!err && r != ARCHIVE_EOF) {
		die_path(b, label, "bad or truncated archive: %s", archive_error_string(a));
		err = -EIO;
	}
	archive_read_free(a);
	if (err) {
		tar_tree_free(t);
		return NULL;
	}
	return tar_tree_finish(t);
}
