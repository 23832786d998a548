/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Shared memory segments holding an xipfs image.
 *
 * A named segment is a file /dev/shm/xipfs.NAME (or a symlink there to a
 * file on a hugetlbfs mount), root-owned, mode 0444, immutable where the
 * file system supports it, its size padded with zeros to a power of two so
 * QEMU's ivshmem can share it with guests.  A private segment is a sealed
 * memfd holding a copy of an image file.  Either way the mapping is
 * read-only; validate it with xipfs_open_mem() before use.
 */
#ifndef XIPFS_SEGMENT_H
#define XIPFS_SEGMENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#include "xipfs/xipfs.h"

struct xipfs_segment;

#define XIPFS_SEGMENT_DIR	"/dev/shm"
#define XIPFS_SEGMENT_PREFIX	"xipfs."
#define XIPFS_SEGMENT_NAME_MAX	64

/* 0 if @name is a valid segment name ([A-Za-z0-9_.-], 1..64, no leading '.'). */
int xipfs_segment_name_ok(const char *name);
/* Path of segment @name into @buf (PATH_MAX bytes). */
void xipfs_segment_path(const char *name, char *buf, size_t len);

/* Map loaded segment @name read-only. */
int xipfs_segment_open(const char *name, struct xipfs_segment **out);
/*
 * Copy image file @path into a new sealed memfd, map it and validate the
 * copy (never the file: it may change while it is read).
 */
int xipfs_segment_memfd(const char *path, struct xipfs_segment **out);
/*
 * Copy image @path into segment @name, validate the copy and put it in
 * place, atomically replacing any segment of that name.  @hugetlb_dir: a hugetlbfs mount to back the
 * segment, or NULL for tmpfs.
 */
int xipfs_segment_load(const char *path, const char *name, const char *hugetlb_dir);
struct xipfs_load_opts {
	const char *hugetlb_dir;	/* back the segment by hugetlbfs, or NULL */
	const uint8_t *digest;		/* Merkle root the content must have, or NULL */
	int verify;			/* verify the Merkle tree even without @digest */
	const uint8_t *blob_sha256;	/* SHA-256 the copied bytes must have, or NULL */
};
/*
 * xipfs_segment_load() with options: with @digest or @verify the copy is
 * verified against its Merkle tree (and the root against @digest) before
 * it is put in place and sealed, and with @blob_sha256 (an OCI layer
 * digest) the copy's plain SHA-256 must match; a mismatch leaves nothing
 * behind.
 */
int xipfs_segment_load_opts(const char *path, const char *name,
			    const struct xipfs_load_opts *o);
/* Remove segment @name (mappings that exist stay valid). */
int xipfs_segment_unload(const char *name);

/*
 * Processes mapping or holding open the segment file @st names (found
 * through /proc); with @foreign only those that are not xipfs programs.
 * -1 if /proc cannot be read.
 */
int xipfs_segment_users(const struct stat *st, bool foreign);

const void *xipfs_segment_base(const struct xipfs_segment *seg);
size_t xipfs_segment_size(const struct xipfs_segment *seg);
/* The segment's file descriptor (O_RDONLY), owned by the segment. */
int xipfs_segment_fd(const struct xipfs_segment *seg);
void xipfs_segment_close(struct xipfs_segment *seg);

/*
 * Inside a guest: map the xipfs segment shared as a QEMU ivshmem-plain
 * device, found through the xipmap helper by its superblock UUID (@uuid in
 * the usual 36-character form, or "" for the first one the helper bound).
 * Reads go through the segment's own frames; only page 0 is a private copy.
 */
int xipfs_segment_ivshmem(const char *uuid, struct xipfs_segment **out);
/*
 * The same for a virtio-pmem device's region, which xipmap drives itself
 * (no nd_pmem, no struct pages in the guest).
 */
int xipfs_segment_pmem(const char *uuid, struct xipfs_segment **out);
/* The xipmap segment handle of an ivshmem segment, else -1. */
int xipfs_segment_handle(const struct xipfs_segment *seg);

struct xipmap_create;
/*
 * XIPMAP_IOC_CREATE on the helper @dev of a backing file whose page i is
 * the segment's page @first + i, for all @cr->count pages of @cr->size
 * bytes (@cr->seg_fd set): XIPMAP_CREATE_LINEAR, with no page list in the
 * kernel, or the page list from a helper older than the flag (the module
 * loaded before an upgrade), which refuses it with EINVAL.  *@no_linear
 * records that refusal, so that a caller making many files asks once.
 * Returns 0 with the file's descriptor in @cr->fd, or -errno.
 */
int xipfs_xipmap_create_run(int dev, struct xipmap_create *cr, uint64_t first, bool *no_linear);

/*
 * What the xipmap helper maps of a loaded segment now, counted by the
 * helper from the page tables when asked (XIPMAP_IOC_SEG_STAT in
 * xipfs/xipmap.h): backing files, mappings (vmas) of them and the
 * processes holding those, segment pages mapped and the PTEs mapping them,
 * private copies (COW) in those mappings.  Mappings of the segment file
 * itself (the daemon's view, a VMM's guest memory) are not counted.
 */
struct xipfs_mapped {
	uint64_t files, mappings, processes, pages, ptes, private_ptes;
};
/*
 * Fill @out for @seg: 0 (all zeros when the helper never attached it, so
 * nothing is mapped through it), -ENODEV when the helper is not loaded,
 * else -errno (an older helper: -EINVAL or -ENOTTY).
 */
int xipfs_segment_mapped(const struct xipfs_segment *seg, struct xipfs_mapped *out);

/* ---- image sources: what the programs accept where an image goes ------ */

enum xipfs_source_kind {
	XIPFS_SOURCE_FILE,		/* an image file (or block device) */
	XIPFS_SOURCE_SEGMENT,		/* "seg:NAME": a loaded segment */
	XIPFS_SOURCE_IVSHMEM,		/* "ivshmem[:UUID]" or "pmem[:UUID]": in a guest */
};

struct xipfs_source {
	enum xipfs_source_kind kind;
	const char *arg;		/* as given: names the image in messages */
	const char *path;		/* FILE: the path (points into arg) */
	char segment[XIPFS_SEGMENT_NAME_MAX + 1];	/* SEGMENT: the name */
	bool pmem;				/* IVSHMEM: a virtio-pmem region */
	char uuid[XIPFS_UUID_STR_LEN + 1];	/* IVSHMEM: canonical, "" = first bound */
	char label[XIPFS_POOL_LABEL_MAX + 1];	/* SEGMENT, IVSHMEM: "/LABEL", or "" */
};

/*
 * Parse @arg into @src (which points into @arg: keep it alive).  -EINVAL,
 * after a log line saying what is wrong, for a bad segment name or UUID.
 */
int xipfs_source_parse(const char *arg, struct xipfs_source *src);

/* xipfs_source_open(): copy an image file into a sealed memfd (the daemon). */
#define XIPFS_OPEN_COPY		0x2

/*
 * Open and validate the image of @src (@flags: XIPFS_OPEN_NOCRC,
 * XIPFS_OPEN_COPY).  An image file is mapped, or with XIPFS_OPEN_COPY
 * copied into a private segment; *@seg is the segment holding the image, or
 * NULL.  Close with xipfs_close(*@img), then xipfs_segment_close(*@seg).
 */
int xipfs_source_open(const struct xipfs_source *src, unsigned flags,
		      struct xipfs_segment **seg, struct xipfs_image **img);

/*
 * Open only the segment of @src (an image file: with XIPFS_OPEN_COPY its
 * memfd copy, else nothing and 1), for callers that look at a whole pool.
 */
int xipfs_source_segment(const struct xipfs_source *src, unsigned flags,
			 struct xipfs_segment **seg);

#endif
