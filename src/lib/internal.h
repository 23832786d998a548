/* SPDX-License-Identifier: GPL-2.0-or-later */
/* libxipfs private state: the decoded, bounds-checked superblock. */
#ifndef XIPFS_INTERNAL_H
#define XIPFS_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include "xipfs/xipfs.h"

struct xipfs_image {
	const uint8_t *base;
	size_t size;			/* s_size */
	uint64_t sb_off;		/* superblock offset: 0, or in a pool */
	size_t map_size;		/* bytes mapped by xipfs_open_file, else 0 */
	char *name;
	struct xipfs_super sb;		/* copy, as stored (little endian) */
	unsigned shift, psize;
	uint32_t data_start, data_pages;
	uint64_t meta_off, meta_size;
	uint64_t inode_off;
	uint32_t inode_count, dirent_count;
	uint64_t dirent_off;
	uint64_t extent_off, extent_count;
	uint64_t names_off, names_size;
	uint64_t xattr_off, xattr_size;
	uint32_t xattr_sets;
	uint64_t pagesum_off, pagesum_count;
	/*
	 * Per inode number: 1 + the pages its extents store, once they were
	 * walked and found valid (0: not yet).  Extents are checked once per
	 * inode, not on every lookup and getattr.  Filled racily with relaxed
	 * atomics: every thread computes the same value.
	 */
	uint32_t *ext_pages;
};

/* Unaligned little-endian loads from the image. */
static inline uint16_t ld16(const void *p)
{
	uint16_t v;

	memcpy(&v, p, sizeof(v));
	return xipfs_le16(v);
}

static inline uint32_t ld32(const void *p)
{
	uint32_t v;

	memcpy(&v, p, sizeof(v));
	return xipfs_le32(v);
}

static inline uint64_t ld64(const void *p)
{
	uint64_t v;

	memcpy(&v, p, sizeof(v));
	return xipfs_le64(v);
}

/* True if [off, off + len) lies inside [lo, lo + size), without overflow. */
static inline bool xipfs_within(uint64_t off, uint64_t len, uint64_t lo,
				uint64_t size)
{
	return off >= lo && off - lo <= size && len <= size - (off - lo);
}

/* memcmp order, a shorter prefix first: the order mkxipfs sorts names by. */
static inline int xipfs_name_cmp(const char *a, size_t al, const char *b,
				 size_t bl)
{
	int c = memcmp(a, b, al < bl ? al : bl);

	if (c)
		return c;
	return al < bl ? -1 : al > bl;
}

/* Byte offsets of on-disk fields and records: the one way to name them. */
#define SB_OFF(field)	offsetof(struct xipfs_super, field)

static inline uint64_t xipfs_inode_off(const struct xipfs_image *img, uint32_t ino)
{
	return img->inode_off + (uint64_t)(ino - 1) * sizeof(struct xipfs_inode);
}

static inline uint64_t xipfs_dirent_off(const struct xipfs_image *img, uint64_t index)
{
	return img->dirent_off + index * sizeof(struct xipfs_dirent);
}

static inline uint64_t xipfs_extent_off(const struct xipfs_image *img, uint64_t index)
{
	return img->extent_off + index * sizeof(struct xipfs_extent);
}

int xipfs_validate(struct xipfs_image *img, unsigned flags);

/* Bytes of a pool directory of @count entries and @runs free runs. */
static inline uint64_t xipfs_pool_dir_bytes(uint64_t count, uint64_t runs)
{
	return sizeof(struct xipfs_pool_dir) + count * sizeof(struct xipfs_pool_entry) +
	       runs * sizeof(struct xipfs_pool_run);
}

/* segment.c: 0 if @name is 1..@max of [A-Za-z0-9_.-], not starting with '.'. */
int xipfs_seg_word_ok(const char *name, size_t max);
/* segment.c: FS_IMMUTABLE_FL on or off (-ENOTTY where unsupported). */
int xipfs_seg_immutable(int fd, bool on);
/*
 * Making a segment: check @name, create a temporary file in @dir (its path
 * in @tmp) and put the segment's path in @dst (PATH_MAX bytes each).  The
 * fd, or -errno (logged).
 */
int xipfs_seg_begin(const char *name, const char *dir, char *tmp, char *dst);
/*
 * Then, with @err 0 once @tmp is in place at @dst: make it immutable (warn
 * if refused); else remove @tmp.  Closes @fd and returns @err.
 */
int xipfs_seg_end(int fd, const char *tmp, const char *dst, int err);
/* The power of two >= @n: segment sizes QEMU's ivshmem accepts. */
size_t xipfs_seg_pow2(size_t n);
/*
 * segment.c, for segload.c: open image file @path (*in) and learn how many
 * bytes to copy (*len); copy it to @out; validate a copy as any image;
 * clear FS_IMMUTABLE_FL of the file at @path if there is one.
 */
int xipfs_seg_open_image(const char *path, int *in, size_t *len);
int xipfs_seg_copy_image(const char *path, int out, size_t *size);
/*
 * Close image file @in of @path once its bytes are copied (@err: how the
 * copy went, logged if it failed), dropping its pages from the page cache:
 * the copy is what gets used.  Returns @err.
 */
int xipfs_seg_close_image(const char *path, int in, int err);
int xipfs_seg_check_image(const void *base, size_t len, const char *path);
int xipfs_seg_unlock_path(const char *path);

#endif
