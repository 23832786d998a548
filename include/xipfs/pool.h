/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Pool segments: several images in one segment, each distinct data page
 * stored once (the format is in <xipfs/format.h> and xipfs(5)).
 *
 * Readers take a consistent snapshot of the directory (the commit record)
 * with xipfs_pool_read() and open an image by label.  A host process that
 * uses an image of a pool holds an open-file-description read lock on the
 * first byte of the image's superblock for as long as it uses it
 * (xipfs_pool_hold()); `xipfsctl gc` never reclaims an image so held.
 * Writers (create, add, remove, gc) serialise on flock(LOCK_EX) of the
 * segment file and commit by one atomic store; see xipfsctl(8).
 */
#ifndef XIPFS_POOL_H
#define XIPFS_POOL_H

#include <stdint.h>

#include "xipfs/xipfs.h"
#include "xipfs/segment.h"

/* A directory entry, decoded. */
struct xipfs_pool_label {
	char label[XIPFS_POOL_LABEL_MAX + 1];
	uint64_t super;			/* byte offset of its superblock */
	uint32_t version;
	uint32_t flags;			/* XIPFS_POOL_LIVE */
	uint64_t time;
};

/* A checked snapshot of a pool's header and directory. */
struct xipfs_pool_info {
	unsigned page_shift;
	uint64_t size;			/* segment bytes (page 0's s_size) */
	uint8_t uuid[16];
	uint64_t create_time;
	uint64_t dir_off, dir_bytes;	/* the directory: 0, 0 when empty */
	uint64_t generation, commit_time;
	uint64_t next_page;		/* pages >= this never handed out */
	uint32_t count, free_count;
	struct xipfs_pool_label *labels;	/* [count], in directory order; never NULL */
	struct xipfs_pool_run *runs;	/* [free_count], host endian; never NULL */
};

/* 1 if the mapping starts with a pool header, else 0. */
int xipfs_is_pool(const void *base, size_t size);

/*
 * Check and copy the pool at @base: header, directory CRC, every entry and
 * free run in bounds.  @name is for messages.  -EUCLEAN (logged) if damaged.
 */
int xipfs_pool_read(const void *base, size_t size, const char *name,
		    struct xipfs_pool_info **out);
void xipfs_pool_free(struct xipfs_pool_info *pool);

/* 0 if @label is a valid label ([A-Za-z0-9_.-], 1..39, no leading '.'). */
int xipfs_label_ok(const char *label);

/* The index of the live entry of @label (NULL: the first live entry), or -ENOENT. */
int xipfs_pool_find(const struct xipfs_pool_info *pool, const char *label);

/*
 * Open the image of segment @seg that @label names: for a pool its live
 * entry (NULL: the first live one), for a one-image segment the image
 * (@label must be NULL).  On a host segment the image is held
 * (xipfs_pool_hold) until the segment's fd closes; inside a guest its
 * metadata is copied into private pages as xipfs_segment_ivshmem() does.
 * @name names the source in messages.
 */
int xipfs_segment_image(struct xipfs_segment *seg, const char *name, const char *label,
			unsigned flags, struct xipfs_image **out);

/* Take an OFD read lock on byte @sb_off of @fd: "this image is in use". */
int xipfs_pool_hold(int fd, uint64_t sb_off);
/* Drop that lock. */
void xipfs_pool_release(int fd, uint64_t sb_off);
/* 1 if some open file description holds the image at @sb_off, 0 if not, -errno. */
int xipfs_pool_held(int fd, uint64_t sb_off);

/* ---- page accounting (stat, fsck, gc, add) ----------------------------- */

enum xipfs_pool_kind {
	XIPFS_PG_UNUSED,		/* handed out, named by nothing: gc frees it */
	XIPFS_PG_HEADER,		/* page 0 */
	XIPFS_PG_DIR,			/* the current directory */
	XIPFS_PG_META,			/* an image's superblock or metadata */
	XIPFS_PG_DATA,			/* named by an extent */
	XIPFS_PG_FREE,			/* in a free run */
};

struct xipfs_pool_usage {
	uint64_t pages;			/* distinct data pages the image names */
	uint64_t shared;		/* of those, named by another image too */
	uint64_t saved;			/* bytes: sum of psize * (1 - 1/refs) */
	uint64_t meta_pages;		/* superblock and metadata */
	uint64_t files;
};

struct xipfs_pool_map {
	uint64_t pages;			/* next_page: the entries of kind, refs */
	uint8_t *kind;			/* enum xipfs_pool_kind per page */
	uint32_t *refs;			/* images naming each data page */
	struct xipfs_pool_usage *use;	/* per entry of the directory */
	uint64_t data, meta, dir, free, unused;	/* page counts */
	uint64_t errors;		/* overlaps and bad extents (logged) */
};

/*
 * Classify every page the pool handed out, from the entries with
 * @keep[i] true (@keep NULL: all of them).  Each image is opened and
 * checked (@flags as xipfs_open_mem) first; a damaged one is an error.
 */
int xipfs_pool_map(const void *base, size_t size, const struct xipfs_pool_info *pool,
		   const char *name, const unsigned char *keep, unsigned flags,
		   struct xipfs_pool_map **out);
void xipfs_pool_map_free(struct xipfs_pool_map *map);

/* ---- writing (root; one writer at a time) ------------------------------ */

/* Make an empty pool segment NAME of @size bytes (rounded up to a power of two). */
int xipfs_pool_create(const char *name, uint64_t size, unsigned page_shift);

struct xipfs_pool_add_stats {
	uint64_t pages;			/* data pages of the image */
	uint64_t new_pages;		/* of those, written now */
	uint64_t meta_pages;		/* superblock + metadata written */
	uint64_t super;			/* where its superblock went */
	uint32_t version;
};

/*
 * Add image file @image to pool NAME as @label (live; a live entry of the
 * same label is retired).  Writes only pages the pool lacks, then commits.
 */
int xipfs_pool_add(const char *name, const char *image, const char *label,
		   struct xipfs_pool_add_stats *st);
/* Retire the live entry of @label. */
int xipfs_pool_remove(const char *name, const char *label);

#define XIPFS_GC_GUESTS_DONE	0x1	/* the operator says no guest uses retired images */

struct xipfs_pool_gc_stats {
	uint32_t dropped, held, kept_guests;	/* retired entries */
	uint64_t freed;				/* pages given back */
	int guest_users;			/* processes mapping it, no xipfs */
};
int xipfs_pool_gc(const char *name, unsigned flags, struct xipfs_pool_gc_stats *st);

#endif
