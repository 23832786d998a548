// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Opening an image and validating its superblock.  After xipfs_validate()
 * every table the superblock names is known to lie inside the metadata
 * area, and the metadata area inside the image; the accessors then only
 * check indices against those tables.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"

static xipfs_log_fn log_fn;
static void *log_arg;

void xipfs_set_log(xipfs_log_fn fn, void *arg)
{
	log_fn = fn;
	log_arg = arg;
}

void xipfs_log(int level, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (log_fn)
		log_fn(level, msg, log_arg);
	else if (level <= XIPFS_LOG_WARN)
		fprintf(stderr, "%s: %s\n", program_invocation_short_name, msg);
}

int xipfs_corrupt(const struct xipfs_image *img, const char *what,
		  uint64_t off, const char *fmt, ...)
{
	char why[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	xipfs_log(XIPFS_LOG_ERR, "%s: corrupt %s at offset %llu: %s",
		  img->name, what, (unsigned long long)off, why);
	return -EUCLEAN;
}

uint32_t xipfs_image_crc(const void *base, const struct xipfs_super *sb)
{
	struct xipfs_super tmp = *sb;
	uint32_t crc;

	tmp.s_crc = 0;
	crc = xipfs_crc32c(0, &tmp, sizeof(tmp));
	return xipfs_crc32c(crc, (const uint8_t *)base +
			    xipfs_le64(sb->s_meta_offset),
			    xipfs_le64(sb->s_meta_size));
}

int xipfs_check_crc(const struct xipfs_image *img)
{
	uint32_t want = xipfs_image_crc(img->base, &img->sb);

	if (want == xipfs_le32(img->sb.s_crc))
		return 0;
	return xipfs_corrupt(img, "superblock", SB_OFF(s_crc),
			     "metadata checksum mismatch (stored 0x%08x, computed 0x%08x)",
			     xipfs_le32(img->sb.s_crc), want);
}

/* Check that a table of @count entries of @esize bytes at @off fits. */
static int check_table(struct xipfs_image *img, const char *what, size_t field,
		       uint64_t off, uint64_t count, uint64_t esize)
{
	if (count > UINT64_MAX / esize ||
	    !xipfs_within(off, count * esize, img->meta_off, img->meta_size))
		return xipfs_corrupt(img, "superblock", field,
				     "%s table (offset %llu, %llu entries) lies outside the metadata area",
				     what, (unsigned long long)off,
				     (unsigned long long)count);
	return 0;
}

/* Magic, version, page size, features, the pool placement, the root inode. */
static int check_header(struct xipfs_image *img)
{
	const struct xipfs_super *sb = &img->sb;
	uint32_t incompat;

	if (memcmp(sb->s_magic, XIPFS_MAGIC_STR, sizeof(sb->s_magic)))
		return xipfs_corrupt(img, "superblock", 0,
				     "bad magic: not an xipfs image");
	if (xipfs_le16(sb->s_version_major) != XIPFS_VERSION_MAJOR)
		return xipfs_corrupt(img, "superblock", SB_OFF(s_version_major),
				     "format version %u is not supported (this is version %u)",
				     xipfs_le16(sb->s_version_major),
				     XIPFS_VERSION_MAJOR);
	img->shift = xipfs_le32(sb->s_page_shift);
	if (!XIPFS_PAGE_SHIFT_OK(img->shift))
		return xipfs_corrupt(img, "superblock", SB_OFF(s_page_shift),
				     "page shift %u (allowed: 12, 14, 16)",
				     img->shift);
	img->psize = 1u << img->shift;
	incompat = xipfs_le32(sb->s_incompat);
	if (incompat & ~XIPFS_FEATURE_INCOMPAT_MASK)
		return xipfs_corrupt(img, "superblock", SB_OFF(s_incompat),
				     "unknown incompatible features 0x%x: a newer xipfs made this image",
				     incompat & ~XIPFS_FEATURE_INCOMPAT_MASK);
	if (incompat & XIPFS_FEATURE_INCOMPAT_SHARED_POOL) {
		if (!img->sb_off && !xipfs_le32(sb->s_root_ino)) {
			xipfs_log(XIPFS_LOG_ERR,
				  "%s: a pool of images: name one of them (seg:NAME/LABEL, ivshmem[:UUID]/LABEL; xipfsctl stat NAME lists the labels)",
				  img->name);
			return -EISDIR;
		}
		if (!img->sb_off)
			return xipfs_corrupt(img, "superblock", SB_OFF(s_incompat),
					     "a pool image (incompatible feature SHARED_POOL) at the start of the segment");
		if (xipfs_le64(sb->s_pool_offset) != img->sb_off || img->sb_off % img->psize)
			return xipfs_corrupt(img, "superblock", img->sb_off + SB_OFF(s_pool_offset),
					     "pool offset %llu, but the superblock lies at %llu",
					     (unsigned long long)xipfs_le64(sb->s_pool_offset),
					     (unsigned long long)img->sb_off);
	} else if (img->sb_off) {
		return xipfs_corrupt(img, "superblock", img->sb_off + SB_OFF(s_incompat),
				     "not at the start of the segment, yet not a pool image");
	}
	if (xipfs_le32(sb->s_root_ino) != XIPFS_ROOT_INO)
		return xipfs_corrupt(img, "superblock", SB_OFF(s_root_ino), "root inode is %u, not 1",
				     xipfs_le32(sb->s_root_ino));
	return 0;
}

/* The image size, then the metadata and data areas inside it. */
static int check_areas(struct xipfs_image *img)
{
	const struct xipfs_super *sb = &img->sb;
	uint64_t s = xipfs_le64(sb->s_size);

	if (s % img->psize || s < img->psize || s > img->size || img->sb_off >= s)
		return xipfs_corrupt(img, "superblock", SB_OFF(s_size),
				     "image size %llu is not a page multiple or exceeds the %zu bytes available (truncated image?)",
				     (unsigned long long)s, img->size);
	img->size = s;
	img->data_start = xipfs_le32(sb->s_data_start);
	img->data_pages = xipfs_le32(sb->s_data_pages);
	img->meta_off = xipfs_le64(sb->s_meta_offset);
	img->meta_size = xipfs_le64(sb->s_meta_size);
	if (img->meta_off % img->psize || img->meta_size % img->psize ||
	    !xipfs_within(img->meta_off, img->meta_size, img->psize,
			  img->size - img->psize))
		return xipfs_corrupt(img, "superblock", SB_OFF(s_meta_offset),
				     "metadata area (offset %llu, %llu bytes) is unaligned or outside the image",
				     (unsigned long long)img->meta_off,
				     (unsigned long long)img->meta_size);
	/*
	 * In a pool, data and the metadata of several images interleave:
	 * the data area is every page the pool handed out (the pool's fsck
	 * checks that extents name data pages).  Memory safety only needs it
	 * inside the segment.
	 */
	if (img->data_start < 1 ||
	    !xipfs_within((uint64_t)img->data_start << img->shift,
			  (uint64_t)img->data_pages << img->shift,
			  img->psize, img->sb_off ? img->size - img->psize :
			  img->meta_off - img->psize))
		return xipfs_corrupt(img, "superblock", SB_OFF(s_data_start),
				     "data area (page %u, %u pages) overlaps the superblock or the metadata",
				     img->data_start, img->data_pages);
	return 0;
}

static void read_tables(struct xipfs_image *img)
{
	const struct xipfs_super *sb = &img->sb;

	img->inode_off = xipfs_le64(sb->s_inode_offset);
	img->inode_count = xipfs_le32(sb->s_inode_count);
	img->dirent_count = xipfs_le32(sb->s_dirent_count);
	img->dirent_off = xipfs_le64(sb->s_dirent_offset);
	img->extent_off = xipfs_le64(sb->s_extent_offset);
	img->extent_count = xipfs_le64(sb->s_extent_count);
	img->names_off = xipfs_le64(sb->s_names_offset);
	img->names_size = xipfs_le64(sb->s_names_size);
	img->xattr_off = xipfs_le64(sb->s_xattr_offset);
	img->xattr_size = xipfs_le64(sb->s_xattr_size);
	img->xattr_sets = xipfs_le32(sb->s_xattr_sets);
	img->pagesum_off = xipfs_le64(sb->s_pagesum_offset);
	img->pagesum_count = xipfs_le64(sb->s_pagesum_count);
}

/* Every table the superblock names lies inside the metadata area. */
static int check_tables(struct xipfs_image *img)
{
	const struct xipfs_super *sb = &img->sb;
	int err;

	if (img->inode_count < 1)
		return xipfs_corrupt(img, "superblock", SB_OFF(s_inode_count), "no inodes");
	err = check_table(img, "inode", SB_OFF(s_inode_offset), img->inode_off, img->inode_count,
			  sizeof(struct xipfs_inode));
	if (!err)
		err = check_table(img, "dirent", SB_OFF(s_dirent_offset), img->dirent_off,
				  img->dirent_count, sizeof(struct xipfs_dirent));
	if (!err)
		err = check_table(img, "extent", SB_OFF(s_extent_offset), img->extent_off,
				  img->extent_count, sizeof(struct xipfs_extent));
	if (!err)
		err = check_table(img, "names", SB_OFF(s_names_offset), img->names_off,
				  img->names_size, 1);
	if (!err && img->names_size > UINT32_MAX)
		err = xipfs_corrupt(img, "superblock", SB_OFF(s_names_size),
				    "names table larger than 4 GiB");
	if (!err)
		err = check_table(img, "xattr", SB_OFF(s_xattr_offset), img->xattr_off,
				  img->xattr_size, 1);
	if (!err && (img->xattr_size > UINT32_MAX ||
		     (uint64_t)img->xattr_sets * 4 > img->xattr_size))
		err = xipfs_corrupt(img, "superblock", SB_OFF(s_xattr_sets),
				    "%u xattr sets do not fit in %llu bytes",
				    img->xattr_sets,
				    (unsigned long long)img->xattr_size);
	if (!err && (xipfs_le32(sb->s_compat) & XIPFS_FEATURE_COMPAT_PAGESUM)) {
		if (img->pagesum_count != img->data_pages)
			err = xipfs_corrupt(img, "superblock", SB_OFF(s_pagesum_count),
					    "%llu page checksums for %u data pages",
					    (unsigned long long)img->pagesum_count,
					    img->data_pages);
		else
			err = check_table(img, "page checksum",
					  SB_OFF(s_pagesum_offset), img->pagesum_off, img->pagesum_count, 4);
	}
	return err;
}

int xipfs_validate(struct xipfs_image *img, unsigned flags)
{
	int err;

	if (img->size < sizeof(img->sb) || img->sb_off > img->size - sizeof(img->sb))
		return xipfs_corrupt(img, "superblock", img->sb_off,
				     "image is %zu bytes, too short to hold a superblock",
				     img->size);
	memcpy(&img->sb, img->base + img->sb_off, sizeof(img->sb));
	err = check_header(img);
	if (!err)
		err = check_areas(img);
	if (err)
		return err;
	read_tables(img);
	err = check_tables(img);
	if (err)
		return err;
	/* At most meta_size / 16 bytes: the inode table fits in the metadata. */
	img->ext_pages = calloc((size_t)img->inode_count + 1, sizeof(*img->ext_pages));
	if (!img->ext_pages)
		return -ENOMEM;
	if (!(flags & XIPFS_OPEN_NOCRC)) {
		err = xipfs_check_crc(img);
		if (err)
			return err;
	}
	{
		struct xipfs_ino root;

		err = xipfs_inode_get(img, XIPFS_ROOT_INO, &root);
		if (err)
			return err;
		if (!S_ISDIR(root.mode))
			return xipfs_corrupt(img, "inode", img->inode_off,
					     "root inode is not a directory");
	}
	return 0;
}

static int image_new(const void *base, size_t size, uint64_t sb_off, const char *name,
		     struct xipfs_image **out)
{
	struct xipfs_image *img = calloc(1, sizeof(*img));

	if (!img)
		return -ENOMEM;
	img->name = strdup(name ? name : "(memory)");
	if (!img->name) {
		free(img);
		return -ENOMEM;
	}
	img->base = base;
	img->size = size;
	img->sb_off = sb_off;
	*out = img;
	return 0;
}

int xipfs_open_mem(const void *base, size_t size, const char *name,
		   unsigned flags, struct xipfs_image **out)
{
	return xipfs_open_mem_at(base, size, 0, name, flags, out);
}

int xipfs_open_mem_at(const void *base, size_t size, uint64_t sb_off, const char *name,
		      unsigned flags, struct xipfs_image **out)
{
	struct xipfs_image *img;
	int err = image_new(base, size, sb_off, name, &img);

	if (err)
		return err;
	err = xipfs_validate(img, flags);
	if (err) {
		xipfs_close(img);
		return err;
	}
	*out = img;
	return 0;
}

int xipfs_open_file(const char *path, unsigned flags, struct xipfs_image **out)
{
	struct xipfs_image *img;
	struct stat st;
	void *map;
	int fd, err;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		err = -errno;
		xipfs_log(XIPFS_LOG_ERR, "%s: cannot open: %s", path, strerror(errno));
		return err;
	}
	if (fstat(fd, &st) < 0) {
		err = -errno;
		goto out_close;
	}
	if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode)) {
		xipfs_log(XIPFS_LOG_ERR, "%s: not a regular file", path);
		err = -EINVAL;
		goto out_close;
	}
	/* A block device's st_size is 0: its size is where it ends. */
	if (S_ISBLK(st.st_mode)) {
		st.st_size = lseek(fd, 0, SEEK_END);
		if (st.st_size < 0) {
			err = -errno;
			xipfs_log(XIPFS_LOG_ERR, "%s: cannot get the device size: %s", path,
				  strerror(errno));
			goto out_close;
		}
	}
	if (st.st_size < (off_t)sizeof(struct xipfs_super)) {
		xipfs_log(XIPFS_LOG_ERR,
			  "%s: corrupt superblock at offset 0: file is %lld bytes, too short for an xipfs image",
			  path, (long long)st.st_size);
		err = -EUCLEAN;
		goto out_close;
	}
	map = mmap(NULL, st.st_size, PROT_READ, MAP_SHARED, fd, 0);
	if (map == MAP_FAILED) {
		err = -errno;
		xipfs_log(XIPFS_LOG_ERR, "%s: cannot map: %s", path, strerror(errno));
		goto out_close;
	}
	err = image_new(map, st.st_size, 0, path, &img);
	if (err) {
		munmap(map, st.st_size);
		goto out_close;
	}
	img->map_size = st.st_size;
	err = xipfs_validate(img, flags);
	if (err) {
		xipfs_close(img);
		goto out_close;
	}
	*out = img;
out_close:
	close(fd);
	return err;
}

void xipfs_close(struct xipfs_image *img)
{
	if (!img)
		return;
	if (img->map_size)
		munmap((void *)img->base, img->map_size);
	free(img->ext_pages);
	free(img->name);
	free(img);
}

const char *xipfs_image_name(const struct xipfs_image *img) { return img->name; }
const void *xipfs_image_base(const struct xipfs_image *img) { return img->base; }
size_t xipfs_image_size(const struct xipfs_image *img) { return img->size; }
unsigned xipfs_page_size(const struct xipfs_image *img) { return img->psize; }
unsigned xipfs_page_shift(const struct xipfs_image *img) { return img->shift; }
const struct xipfs_super *xipfs_super(const struct xipfs_image *img) { return &img->sb; }
uint64_t xipfs_super_offset(const struct xipfs_image *img) { return img->sb_off; }
uint32_t xipfs_inode_count(const struct xipfs_image *img) { return img->inode_count; }

unsigned xipfs_mode_to_dtype(uint32_t mode)
{
	return (mode & S_IFMT) >> 12;
}
