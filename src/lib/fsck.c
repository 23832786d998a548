// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Whole-image check: walk every directory from the root (breadth first,
 * with an explicit queue, so deep trees cannot exhaust the stack and a
 * directory reached twice cannot loop), decode every inode, and compare
 * link counts with the names found.
 */
#include <errno.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "internal.h"

static void check_file_data(const struct xipfs_image *img,
			    const struct xipfs_ino *ino,
			    struct xipfs_fsck_stats *st)
{
	int64_t off = xipfs_file_tail(img, ino);

	if (off > 0) {
		xipfs_corrupt(img, "data page", (uint64_t)off,
			      "inode %u: bytes after end of file are not zero", ino->ino);
		st->errors++;
	}
}

static void check_pages(const struct xipfs_image *img, struct xipfs_fsck_stats *st)
{
	const uint8_t *sums = img->base + img->pagesum_off;

	if (!(xipfs_le32(img->sb.s_compat) & XIPFS_FEATURE_COMPAT_PAGESUM))
		return;
	for (uint32_t i = 0; i < img->data_pages; i++) {
		uint64_t off = (uint64_t)(img->data_start + i) << img->shift;
		uint32_t want = ld32(sums + (uint64_t)i * 4);

		if (xipfs_crc32c(0, img->base + off, img->psize) != want) {
			xipfs_corrupt(img, "data page", off,
				      "page %u fails its checksum",
				      img->data_start + i);
			st->bad_pages++;
			st->errors++;
		}
	}
}

/* Every entry decodes, and the names are sorted and unique as the format says. */
static void check_xattrs(const struct xipfs_image *img,
			 const struct xipfs_ino *ino, struct xipfs_fsck_stats *st)
{
	int n = xipfs_xattr_count(img, ino);
	struct xipfs_xattr x, prev = { 0 };

	if (n < 0) {
		st->errors++;
		return;
	}
	for (int i = 0; i < n; i++) {
		if (xipfs_xattr_at(img, ino, (uint32_t)i, &x)) {
			st->errors++;
			return;
		}
		if (i && xipfs_name_cmp(prev.name, prev.name_len, x.name, x.name_len) >= 0) {
			uint64_t set = ld32(img->base + img->xattr_off +
					    (uint64_t)(ino->xattr - 1) * 4);

			xipfs_corrupt(img, "xattr set", img->xattr_off + set,
				      "inode %u: attribute names not sorted or duplicated",
				      ino->ino);
			st->errors++;
			return;
		}
		prev = x;
	}
}

/* What the walk from the root counts, by inode number. */
struct fsck_walk {
	uint32_t *names;		/* entries naming the inode */
	uint32_t *subdirs;		/* subdirectories of a directory */
	uint32_t *queue;		/* directories to visit, breadth first */
	uint32_t head, tail;
};

/* Entry @i of @dir: order, type, and counting its inode's names. */
static void check_entry(const struct xipfs_image *img, const struct xipfs_ino *dir,
			uint32_t i, struct xipfs_entry *prev, struct fsck_walk *w,
			struct xipfs_fsck_stats *st)
{
	uint64_t off = xipfs_dirent_off(img, dir->offset + i);
	struct xipfs_ino child;
	struct xipfs_entry e;

	if (xipfs_dir_entry(img, dir, i, &e)) {
		st->errors++;
		return;
	}
	if (prev->name && xipfs_name_cmp(prev->name, prev->namelen, e.name, e.namelen) >= 0) {
		xipfs_corrupt(img, "dirent", off, "directory %u: entries not sorted or duplicated",
			      dir->ino);
		st->errors++;
	}
	*prev = e;
	if (xipfs_inode_get(img, e.ino, &child)) {
		st->errors++;
		return;
	}
	if (e.type != xipfs_mode_to_dtype(child.mode)) {
		xipfs_corrupt(img, "dirent", off, "type %u does not match inode %u", e.type, e.ino);
		st->errors++;
	}
	if (!S_ISDIR(child.mode)) {
		w->names[e.ino]++;
		return;
	}
	w->subdirs[dir->ino]++;
	if (w->names[e.ino]++) {
		xipfs_corrupt(img, "dirent", off,
			      "directory inode %u is named twice (a cycle or a directory hardlink)",
			      e.ino);
		st->errors++;
		return;
	}
	if (w->tail <= img->inode_count)
		w->queue[w->tail++] = e.ino;
}

/* Every directory reachable from the root, each entered once. */
static void walk_tree(const struct xipfs_image *img, struct fsck_walk *w,
		      struct xipfs_fsck_stats *st)
{
	w->names[XIPFS_ROOT_INO] = 1;
	w->queue[w->tail++] = XIPFS_ROOT_INO;
	while (w->head < w->tail) {
		struct xipfs_entry prev = { 0 };
		struct xipfs_ino dir;

		if (xipfs_inode_get(img, w->queue[w->head++], &dir)) {
			st->errors++;
			continue;
		}
		for (uint32_t i = 0; i < dir.count; i++)
			check_entry(img, &dir, i, &prev, w, st);
	}
}

/* Inode @ino itself: type counts, xattrs, being named, nlink, its tail page. */
static void check_inode(const struct xipfs_image *img, uint32_t ino,
			const struct fsck_walk *w, struct xipfs_fsck_stats *st)
{
	uint64_t off = xipfs_inode_off(img, ino);
	struct xipfs_ino i;
	uint32_t want;

	st->inodes++;
	if (xipfs_inode_get(img, ino, &i)) {
		st->errors++;
		return;
	}
	if (S_ISDIR(i.mode))
		st->dirs++;
	else if (S_ISREG(i.mode))
		st->files++;
	else if (S_ISLNK(i.mode))
		st->symlinks++;
	else
		st->others++;
	check_xattrs(img, &i, st);
	if (!w->names[ino]) {
		xipfs_corrupt(img, "inode", off, "inode %u is not in any directory", ino);
		st->unreachable++;
		st->errors++;
		return;
	}
	want = S_ISDIR(i.mode) ? 2 + w->subdirs[ino] : w->names[ino];
	if (i.nlink != want) {
		xipfs_corrupt(img, "inode", off, "inode %u: link count %u, but %u found", ino,
			      i.nlink, want);
		st->errors++;
	}
	/* Cheap (one page a file), and what XIP relies on: always. */
	if (S_ISREG(i.mode))
		check_file_data(img, &i, st);
}

int xipfs_fsck(const struct xipfs_image *img, unsigned flags,
	       struct xipfs_fsck_stats *st)
{
	uint32_t n = img->inode_count;
	struct fsck_walk w = {
		.names = calloc((size_t)n + 1, sizeof(*w.names)),
		.subdirs = calloc((size_t)n + 1, sizeof(*w.subdirs)),
		.queue = calloc((size_t)n + 1, sizeof(*w.queue)),
	};
	int ret = -ENOMEM;

	memset(st, 0, sizeof(*st));
	if (!w.names || !w.subdirs || !w.queue)
		goto out;
	walk_tree(img, &w, st);
	for (uint32_t ino = 1; ino <= n; ino++)
		check_inode(img, ino, &w, st);
	if (flags & XIPFS_FSCK_DATA)
		check_pages(img, st);
	ret = st->errors ? -EUCLEAN : 0;
out:
	free(w.names);
	free(w.subdirs);
	free(w.queue);
	return ret;
}
