// SPDX-License-Identifier: GPL-2.0-or-later
/* Inodes, directories, symlinks and path lookup. */
#include <errno.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "internal.h"

static int check_extents(const struct xipfs_image *img, struct xipfs_ino *ino,
			 uint64_t ioff)
{
	uint64_t npages = (ino->size + img->psize - 1) >> img->shift;
	uint64_t next = 0, stored = 0;
	uint32_t known;

	if (ino->offset > img->extent_count ||
	    ino->count > img->extent_count - ino->offset)
		return xipfs_corrupt(img, "inode", ioff,
				     "inode %u: extents %llu+%u outside the extent table",
				     ino->ino, (unsigned long long)ino->offset,
				     ino->count);
	known = __atomic_load_n(&img->ext_pages[ino->ino], __ATOMIC_RELAXED);
	if (known) {
		ino->blocks = (uint64_t)(known - 1) << (img->shift - 9);
		return 0;
	}
	for (uint32_t i = 0; i < ino->count; i++) {
		struct xipfs_extent_info e;
		int err = xipfs_extent(img, ino, i, &e);

		if (err)
			return err;
		if (e.lpage < next)
			return xipfs_corrupt(img, "extent",
					     xipfs_extent_off(img, ino->offset + i),
					     "inode %u: extents out of order or overlapping",
					     ino->ino);
		next = e.lpage + e.count;
		if (next > npages)
			return xipfs_corrupt(img, "extent",
					     xipfs_extent_off(img, ino->offset + i),
					     "inode %u: extent past the end of the file",
					     ino->ino);
		stored += e.count;
	}
	ino->blocks = stored << (img->shift - 9);
	if (stored < UINT32_MAX)
		__atomic_store_n(&img->ext_pages[ino->ino], (uint32_t)stored + 1,
				 __ATOMIC_RELAXED);
	return 0;
}

/* The fields whose meaning depends on the type of inode @out (at @off). */
static int check_type(const struct xipfs_image *img, struct xipfs_ino *out, uint64_t off)
{
	uint32_t ino = out->ino;

	switch (out->mode & S_IFMT) {
	case S_IFREG:
		if (out->size > ((uint64_t)UINT32_MAX << img->shift))
			return xipfs_corrupt(img, "inode", off,
					     "inode %u: size %llu too large", ino,
					     (unsigned long long)out->size);
		return check_extents(img, out, off);
	case S_IFDIR:
		if (out->offset > img->dirent_count ||
		    out->count > img->dirent_count - out->offset)
			return xipfs_corrupt(img, "inode", off,
					     "inode %u: entries %llu+%u outside the dirent table",
					     ino, (unsigned long long)out->offset,
					     out->count);
		if (out->size != (uint64_t)out->count * sizeof(struct xipfs_dirent))
			return xipfs_corrupt(img, "inode", off,
					     "inode %u: directory size %llu does not match %u entries",
					     ino, (unsigned long long)out->size,
					     out->count);
		return 0;
	case S_IFLNK:
		if (out->size < 1 || out->size > XIPFS_SYMLINK_MAX ||
		    !xipfs_within(out->offset, out->size, 0, img->names_size))
			return xipfs_corrupt(img, "inode", off,
					     "inode %u: symlink target outside the names table",
					     ino);
		/* No path holds a NUL: readers would silently cut the target. */
		if (memchr(img->base + img->names_off + out->offset, '\0', out->size))
			return xipfs_corrupt(img, "inode", off,
					     "inode %u: symlink target contains NUL", ino);
		return 0;
	case S_IFCHR:
	case S_IFBLK:
		out->rdev = makedev((unsigned)(out->offset >> 32),
				    (unsigned)(out->offset & 0xffffffffu));
		if (out->size)
			return xipfs_corrupt(img, "inode", off,
					     "inode %u: device with a size", ino);
		return 0;
	case S_IFIFO:
	case S_IFSOCK:
		if (out->size)
			return xipfs_corrupt(img, "inode", off,
					     "inode %u: special file with a size", ino);
		return 0;
	default:
		return xipfs_corrupt(img, "inode", off,
				     "inode %u: unknown file type 0%o", ino,
				     out->mode & S_IFMT);
	}
}

int xipfs_inode_get(const struct xipfs_image *img, uint32_t ino,
		    struct xipfs_ino *out)
{
	const uint8_t *p;
	uint64_t off;

	if (ino < 1 || ino > img->inode_count)
		return -ENOENT;
	off = xipfs_inode_off(img, ino);
	p = img->base + off;
	memset(out, 0, sizeof(*out));
	out->ino = ino;
	out->mode = ld16(p + offsetof(struct xipfs_inode, i_mode));
	out->nlink = ld32(p + offsetof(struct xipfs_inode, i_nlink));
	out->uid = ld32(p + offsetof(struct xipfs_inode, i_uid));
	out->gid = ld32(p + offsetof(struct xipfs_inode, i_gid));
	out->size = ld64(p + offsetof(struct xipfs_inode, i_size));
	out->mtime = (int64_t)ld64(p + offsetof(struct xipfs_inode, i_mtime));
	out->ctime = (int64_t)ld64(p + offsetof(struct xipfs_inode, i_ctime));
	out->mtime_nsec = ld32(p + offsetof(struct xipfs_inode, i_mtime_nsec));
	out->ctime_nsec = ld32(p + offsetof(struct xipfs_inode, i_ctime_nsec));
	out->xattr = ld32(p + offsetof(struct xipfs_inode, i_xattr));
	out->count = ld32(p + offsetof(struct xipfs_inode, i_count));
	out->offset = ld64(p + offsetof(struct xipfs_inode, i_offset));

	if (out->mtime_nsec >= 1000000000u || out->ctime_nsec >= 1000000000u)
		return xipfs_corrupt(img, "inode", off,
				     "inode %u: nanoseconds out of range", ino);
	if (out->xattr > img->xattr_sets)
		return xipfs_corrupt(img, "inode", off,
				     "inode %u: xattr set %u does not exist", ino,
				     out->xattr);
	if (out->nlink < 1)
		return xipfs_corrupt(img, "inode", off, "inode %u: zero links", ino);
	return check_type(img, out, off);
}

int xipfs_dir_entry(const struct xipfs_image *img, const struct xipfs_ino *dir,
		    uint32_t index, struct xipfs_entry *out)
{
	uint64_t off;
	const uint8_t *p;
	uint32_t name;

	if (!S_ISDIR(dir->mode))
		return -ENOTDIR;
	if (index >= dir->count)
		return -ENOENT;
	off = xipfs_dirent_off(img, dir->offset + index);
	p = img->base + off;
	out->ino = ld32(p + offsetof(struct xipfs_dirent, d_ino));
	name = ld32(p + offsetof(struct xipfs_dirent, d_name));
	out->namelen = p[offsetof(struct xipfs_dirent, d_namelen)];
	out->type = p[offsetof(struct xipfs_dirent, d_type)];
	if (out->ino < 1 || out->ino > img->inode_count)
		return xipfs_corrupt(img, "dirent", off,
				     "directory %u entry %u names inode %u of %u",
				     dir->ino, index, out->ino, img->inode_count);
	if (out->namelen < 1)
		return xipfs_corrupt(img, "dirent", off,
				     "directory %u entry %u has an empty name",
				     dir->ino, index);
	if (!xipfs_within(name, out->namelen, 0, img->names_size))
		return xipfs_corrupt(img, "dirent", off,
				     "directory %u entry %u: name outside the names table",
				     dir->ino, index);
	out->name = (const char *)img->base + img->names_off + name;
	if (memchr(out->name, '/', out->namelen) ||
	    memchr(out->name, '\0', out->namelen))
		return xipfs_corrupt(img, "dirent", off,
				     "directory %u entry %u: name contains '/' or NUL",
				     dir->ino, index);
	/* "." and ".." are never stored: a reader following them would loop. */
	if (out->name[0] == '.' &&
	    (out->namelen == 1 || (out->namelen == 2 && out->name[1] == '.')))
		return xipfs_corrupt(img, "dirent", off,
				     "directory %u entry %u is named \"%.*s\"",
				     dir->ino, index, out->namelen, out->name);
	return 0;
}

int xipfs_dir_lookup(const struct xipfs_image *img, const struct xipfs_ino *dir,
		     const char *name, size_t len, struct xipfs_entry *out)
{
	uint32_t lo = 0, hi;

	if (!S_ISDIR(dir->mode))
		return -ENOTDIR;
	if (len > XIPFS_NAME_MAX)
		return -ENAMETOOLONG;
	hi = dir->count;
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		int err = xipfs_dir_entry(img, dir, mid, out);
		int c;

		if (err)
			return err;
		c = xipfs_name_cmp(name, len, out->name, out->namelen);
		if (!c)
			return 0;
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return -ENOENT;
}

/*
 * ".." is resolved lexically, through the directories walked so far (the
 * image stores no parent links); that is also the physical parent, since
 * intermediate symlinks are refused.  ".." at the root stays at the root.
 */
int xipfs_path_lookup(const struct xipfs_image *img, const char *path,
		      struct xipfs_ino *out)
{
	/* Each stacked component took at least two bytes ("x/"). */
	uint32_t *up = malloc((strlen(path) / 2 + 1) * sizeof(*up));
	size_t depth = 0;
	int err;

	if (!up)
		return -ENOMEM;
	err = xipfs_inode_get(img, XIPFS_ROOT_INO, out);
	while (!err && *path) {
		struct xipfs_entry e;
		size_t len;

		while (*path == '/')
			path++;
		len = strcspn(path, "/");
		if (!len)
			break;
		if (!S_ISDIR(out->mode)) {
			err = -ENOTDIR;
			break;
		}
		if (len == 2 && path[0] == '.' && path[1] == '.') {
			if (depth)
				err = xipfs_inode_get(img, up[--depth], out);
		} else if (!(len == 1 && path[0] == '.')) {
			err = xipfs_dir_lookup(img, out, path, len, &e);
			if (!err) {
				up[depth++] = out->ino;
				err = xipfs_inode_get(img, e.ino, out);
				if (err == -ENOENT)
					err = -EUCLEAN;
			}
		}
		path += len;
	}
	free(up);
	return err;
}

int xipfs_readlink(const struct xipfs_image *img, const struct xipfs_ino *ino,
		   const char **target, size_t *len)
{
	if (!S_ISLNK(ino->mode))
		return -EINVAL;
	*target = (const char *)img->base + img->names_off + ino->offset;
	*len = ino->size;
	return 0;
}
