/* SPDX-License-Identifier: GPL-2.0-or-later OR MIT */
/*
 * The xipfs on-disk format.
 *
 * An image is a sequence of pages of (1 << s_page_shift) bytes:
 *
 *   page 0             superblock (struct xipfs_super), zero padded
 *   pages 1 .. D       the data area: every distinct non-zero file page once,
 *                      in first-seen order of a sorted tree walk
 *   pages D+1 ..       the metadata area, itself page aligned and zero padded:
 *                      inode table, directory entries, extents, names,
 *                      xattr sets, per-page checksums
 *   last pages         with COMPAT_MERKLE: the SHA-256 Merkle tree over
 *                      every page before it but the superblock (below)
 *
 * A file's content is a sorted list of extents, each mapping a run of
 * logical pages to a run of consecutive image pages.  Logical pages not
 * covered by an extent are holes and read as zeros.  The bytes after EOF in
 * a file's last page are zero, so a page can be mapped whole into a process.
 *
 * Page numbers count from the start of the image (byte offset =
 * page << s_page_shift); page 0 is the superblock, so no extent ever starts
 * at page 0.  Every byte offset below counts from the start of the image.
 * (An image inside a pool segment counts both from the segment start
 * instead: see INCOMPAT_SHARED_POOL.)
 * Every multi-byte field is little endian.  The CRC32C in s_crc covers the
 * superblock (with s_crc read as zero) and the whole metadata area.
 *
 * This header is C99, usable by userspace and (for the segment header) by
 * the kernel helper.  The man page xipfs(5) documents the same format.
 */
#ifndef XIPFS_FORMAT_H
#define XIPFS_FORMAT_H

#ifdef __KERNEL__
#include <linux/types.h>
#else
#include <stdint.h>
#endif

#define XIPFS_MAGIC_STR		"XIPFSIMG"	/* s_magic bytes, 8 of them */
#define XIPFS_VERSION_MAJOR	1
#define XIPFS_VERSION_MINOR	0

#define XIPFS_PAGE_SHIFT_MIN	12		/* 4 KiB */
#define XIPFS_PAGE_SHIFT_MAX	16		/* 64 KiB */
#define XIPFS_PAGE_SHIFT_DEFAULT 12
/* The page sizes an image or pool may use: 4, 16 and 64 KiB. */
#define XIPFS_PAGE_SHIFT_OK(s)	((s) == 12 || (s) == 14 || (s) == 16)

#define XIPFS_ROOT_INO		1		/* inode numbers start at 1 */
#define XIPFS_NAME_MAX		255
#define XIPFS_SYMLINK_MAX	4095
#define XIPFS_XATTR_NAME_MAX	255
#define XIPFS_XATTR_VALUE_MAX	65536
#define XIPFS_XATTR_SET_MAX	(1u << 20)	/* bytes in one inode's set */

/*
 * Feature bits.  A reader that meets an INCOMPAT bit it does not know must
 * refuse the image; unknown COMPAT bits are ignored.
 */
#define XIPFS_FEATURE_COMPAT_PAGESUM	0x00000001u	/* s_pagesum_* valid */
#define XIPFS_FEATURE_COMPAT_MERKLE	0x00000002u	/* s_merkle_* valid */
#define XIPFS_FEATURE_COMPAT_MASK	(XIPFS_FEATURE_COMPAT_PAGESUM | \
					 XIPFS_FEATURE_COMPAT_MERKLE)

/*
 * The integrity tree (COMPAT_MERKLE).  The covered pages are the image's
 * pages 1 .. N, N = s_merkle_offset / page size - 1: the data and the
 * metadata area, everything between the superblock and the tree.  With
 * H = page size / 32 hashes per tree page:
 *
 *   level 0        SHA-256 of each covered page, in page order, H to a
 *                  tree page, the last tree page zero padded
 *   level k + 1    SHA-256 of each tree page of level k, packed the same
 *                  way; the first level that fits in one page is the top
 *
 * The levels are stored one after the other from level 0 up, each a whole
 * number of pages, at s_merkle_offset, and end where the image ends
 * (s_merkle_offset + s_merkle_size == s_size).  The root is
 *
 *   s_merkle_root = SHA-256(superblock with s_crc and s_merkle_root zero,
 *                           all 512 bytes || SHA-256(top tree page))
 *
 * so it covers the superblock, the tree and, through the tree, every page.
 * The two things it cannot cover a verifier checks directly: s_crc (which
 * covers the root) must hold, and page 0 after the superblock must be zero.  "sha256:" and the root in hex is the image's digest.
 * It depends only on the image's own bytes, never on where the image is
 * stored, so it stays valid for a copy of the image kept in a segment.
 */
#define XIPFS_MERKLE_HASH_SIZE		32

/*
 * Several images in one segment (a pool, see struct xipfs_pool below).
 * Set in the pool's own superblock (page 0) and in every image's
 * superblock inside it.  An image's superblock then lies at byte
 * s_pool_offset of the segment (a page multiple, never 0), and every byte
 * offset and page number in it counts from the segment start, not from its
 * superblock: extents name segment pages, so one data page serves every
 * image that holds it.
 */
#define XIPFS_FEATURE_INCOMPAT_SHARED_POOL 0x00000001u
#define XIPFS_FEATURE_INCOMPAT_MASK	XIPFS_FEATURE_INCOMPAT_SHARED_POOL

/*
 * The superblock: byte 0 of the image, 512 bytes, the rest of page 0 zero.
 * It doubles as the segment header a guest uses to identify a shared
 * segment (magic, UUID, size at fixed offsets).
 */
struct xipfs_super {
	uint8_t  s_magic[8];		/* XIPFS_MAGIC_STR, no NUL */
	uint16_t s_version_major;	/* XIPFS_VERSION_MAJOR; others refused */
	uint16_t s_version_minor;	/* informational */
	uint32_t s_page_shift;		/* log2(page size): 12, 14 or 16 */
	uint32_t s_compat;		/* XIPFS_FEATURE_COMPAT_* */
	uint32_t s_incompat;		/* XIPFS_FEATURE_INCOMPAT_* */
	uint32_t s_crc;			/* CRC32C of superblock + metadata */
	uint32_t s_root_ino;		/* XIPFS_ROOT_INO */
	uint8_t  s_uuid[16];		/* random, or derived from the content */
	uint64_t s_build_time;		/* seconds since the epoch */
	uint64_t s_size;		/* total image bytes, page multiple */
	/* SHARED_POOL: this superblock's byte offset in the segment, else 0 */
	uint64_t s_pool_offset;

	uint32_t s_data_start;		/* first data page (1) */
	/*
	 * Distinct data pages stored; in a pool: s_size pages - 1, since data
	 * may lie in any page the pool gave out (xipfsctl fsck checks which).
	 */
	uint32_t s_data_pages;
	uint64_t s_meta_offset;		/* metadata area: byte offset, page aligned */
	uint64_t s_meta_size;		/* metadata area: bytes, page multiple */

	uint64_t s_inode_offset;	/* struct xipfs_inode[s_inode_count] */
	uint32_t s_inode_count;		/* inode numbers 1..s_inode_count */
	uint32_t s_dirent_count;	/* entries in the dirent table */
	uint64_t s_dirent_offset;	/* struct xipfs_dirent[s_dirent_count] */
	uint64_t s_extent_offset;	/* struct xipfs_extent[s_extent_count] */
	uint64_t s_extent_count;
	uint64_t s_names_offset;	/* names and symlink targets, raw bytes */
	uint64_t s_names_size;
	uint64_t s_xattr_offset;	/* xattr sets (struct xipfs_xattr_set) */
	uint64_t s_xattr_size;		/* bytes of the xattr area */
	uint32_t s_xattr_sets;		/* number of distinct xattr sets */
	uint32_t s_reserved0;
	uint64_t s_pagesum_offset;	/* uint32_t CRC32C per data page */
	uint64_t s_pagesum_count;	/* == s_data_pages when COMPAT_PAGESUM */

	/* Build statistics, informational only (never trusted by readers). */
	uint64_t s_stat_files;		/* regular files */
	uint64_t s_stat_bytes;		/* sum of regular file sizes */
	uint64_t s_stat_file_pages;	/* logical pages of regular files */
	uint64_t s_stat_hole_pages;	/* of those, all-zero (holes) */
	uint64_t s_stat_dedup_pages;	/* of those, stored elsewhere already */

	/* COMPAT_MERKLE, else zero: the integrity tree described above. */
	uint64_t s_merkle_offset;	/* tree: byte offset, page aligned */
	uint64_t s_merkle_size;		/* tree: bytes, page multiple */
	uint8_t  s_merkle_root[32];	/* root hash, SHA-256 */

	uint8_t  s_reserved[232];	/* zero */
};

/*
 * An inode: 64 bytes, in a table indexed by inode number - 1.
 * Hardlinks are one inode with i_nlink > 1 named by several dirents.
 *
 *   type     i_size            i_count            i_offset
 *   S_IFREG  file bytes        extents            index of first extent
 *   S_IFDIR  entries * 12      dirents            index of first dirent
 *   S_IFLNK  target bytes      0                  byte offset of target in names
 *   S_IFCHR, S_IFBLK           0                  rdev: major << 32 | minor
 *   S_IFIFO, S_IFSOCK          0                  0
 *
 * Identical regular files may share one extent run (same i_offset, i_count).
 */
struct xipfs_inode {
	uint16_t i_mode;		/* type and permission bits, as st_mode */
	uint16_t i_flags;		/* zero */
	uint32_t i_nlink;
	uint32_t i_uid;
	uint32_t i_gid;
	uint64_t i_size;
	int64_t  i_mtime;		/* seconds, signed */
	int64_t  i_ctime;
	uint32_t i_mtime_nsec;		/* < 1000000000 */
	uint32_t i_ctime_nsec;
	uint32_t i_xattr;		/* 0: none, else xattr set index + 1 */
	uint32_t i_count;
	uint64_t i_offset;
};

/*
 * A directory entry: 12 bytes.  A directory's entries are contiguous and
 * sorted by name bytes (memcmp order, a shorter prefix first), so lookup is
 * a binary search.  "." and ".." are not stored.
 */
struct xipfs_dirent {
	uint32_t d_ino;			/* 1..s_inode_count */
	uint32_t d_name;		/* byte offset of the name in names */
	uint8_t  d_namelen;		/* 1..255; any byte but '/' and NUL */
	uint8_t  d_type;		/* DT_* as in dirent.h */
	uint16_t d_reserved;		/* zero */
};

/*
 * An extent: 12 bytes.  A file's extents are sorted by e_lpage and do not
 * overlap; gaps are holes.  Every page of an extent lies in the data area.
 */
struct xipfs_extent {
	uint32_t e_lpage;		/* first logical page in the file */
	uint32_t e_count;		/* pages, >= 1 */
	uint32_t e_page;		/* first image page */
};

/*
 * The xattr area starts with a table of s_xattr_sets little-endian
 * uint32_t byte offsets (relative to s_xattr_offset), one per set, each
 * 4-aligned.  A set is a uint32_t entry count followed by that many
 * entries, sorted by full name; each entry is struct xipfs_xattr_entry,
 * then the name bytes (full name, prefix included, no NUL), then the value
 * bytes, padded with zeros to a multiple of 4.  Identical sets are stored
 * once and shared by every inode that has them.
 */
struct xipfs_xattr_entry {
	uint16_t x_name_len;		/* 1..255 */
	uint16_t x_reserved;		/* zero */
	uint32_t x_value_len;		/* 0..65536 */
};

/*
 * A pool segment: page 0 holds a superblock with INCOMPAT_SHARED_POOL,
 * s_root_ino 0, s_pool_offset 0, s_size the whole segment and s_uuid the
 * pool's UUID (the header by which a guest finds the segment), followed at
 * byte XIPFS_POOL_OFFSET by struct xipfs_pool.  Everything else lives in
 * pages handed out by the writer: data pages (each distinct content once,
 * shared by every image that holds it), one run per image of its
 * superblock page and metadata area, and one run per directory.
 *
 * The directory is the commit record.  A writer (xipfsctl, one at a time:
 * flock(LOCK_EX) on the segment file) writes everything an image needs,
 * then a new directory, into free pages, and commits by one aligned 8-byte
 * store of the directory's offset into p_dir.  Until that store nothing
 * refers to the new pages, so a writer killed at any point leaves the pool
 * as it was; a reader loads p_dir once and checks the directory's CRC.
 * Pages a committed directory refers to, directly or through an image,
 * never change while it is current or retired; only `xipfsctl gc` frees
 * them (see xipfsctl(8) for the rule that keeps mapped pages safe).
 */
#define XIPFS_POOL_MAGIC_STR	"XIPFSPOL"
#define XIPFS_POOL_DIR_MAGIC_STR "XIPFSDIR"
#define XIPFS_POOL_OFFSET	512		/* struct xipfs_pool in page 0 */
#define XIPFS_POOL_LABEL_MAX	39		/* bytes, NUL padded to 40 */

struct xipfs_pool {
	uint8_t  p_magic[8];		/* XIPFS_POOL_MAGIC_STR */
	/* Byte offset of the current directory, page aligned; 0: empty pool. */
	uint64_t p_dir;
	uint64_t p_create_time;		/* seconds since the epoch */
	uint8_t  p_reserved[40];	/* zero */
};

/*
 * A directory: this header, then d_count entries, then d_free_count free
 * runs, in consecutive pages starting at a page boundary.
 */
struct xipfs_pool_dir {
	uint8_t  d_magic[8];		/* XIPFS_POOL_DIR_MAGIC_STR */
	uint64_t d_generation;		/* commits so far, this one included */
	uint32_t d_crc;			/* CRC32C of d_bytes bytes, this field 0 */
	uint32_t d_count;		/* entries */
	uint64_t d_bytes;		/* header + entries + runs */
	uint64_t d_next_page;		/* pages >= this were never handed out */
	uint32_t d_free_count;		/* free runs below d_next_page */
	uint32_t d_reserved0;		/* zero */
	uint64_t d_commit_time;		/* seconds since the epoch */
	uint8_t  d_reserved[8];		/* zero */
};

#define XIPFS_POOL_LIVE		0x1	/* new mounts of the label get this one */

/*
 * An image of the pool.  Entries are in the order they were added; a label
 * has at most one LIVE entry.  Entries without LIVE are retired: replaced
 * by a newer version or removed, kept (with all their pages) until gc.
 */
struct xipfs_pool_entry {
	char     e_label[40];		/* [A-Za-z0-9_.-], NUL padded */
	uint64_t e_super;		/* byte offset of the image's superblock */
	uint32_t e_version;		/* 1, 2, ... per label */
	uint32_t e_flags;		/* XIPFS_POOL_* */
	uint64_t e_time;		/* when it was added, seconds */
};

/* Pages [r_page, r_page + r_count) are free: the writer may reuse them. */
struct xipfs_pool_run {
	uint64_t r_page;
	uint64_t r_count;
};

#ifndef __KERNEL__
/* Field accessors: every on-disk integer is read and written through these. */
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define XIPFS_LE(bits, v)	((uint##bits##_t)(v))
#else
#define XIPFS_LE(bits, v)	__builtin_bswap##bits(v)
#endif
static inline uint16_t xipfs_le16(uint16_t v) { return XIPFS_LE(16, v); }
static inline uint32_t xipfs_le32(uint32_t v) { return XIPFS_LE(32, v); }
static inline uint64_t xipfs_le64(uint64_t v) { return XIPFS_LE(64, v); }
#define xipfs_cpu_to_le16 xipfs_le16
#define xipfs_cpu_to_le32 xipfs_le32
#define xipfs_cpu_to_le64 xipfs_le64
#endif

#define XIPFS_STATIC_ASSERT(c, m) _Static_assert(c, m)
XIPFS_STATIC_ASSERT(sizeof(struct xipfs_super) == 512, "superblock size");
XIPFS_STATIC_ASSERT(sizeof(struct xipfs_inode) == 64, "inode size");
XIPFS_STATIC_ASSERT(sizeof(struct xipfs_dirent) == 12, "dirent size");
XIPFS_STATIC_ASSERT(sizeof(struct xipfs_extent) == 12, "extent size");
XIPFS_STATIC_ASSERT(sizeof(struct xipfs_xattr_entry) == 8, "xattr entry size");
XIPFS_STATIC_ASSERT(sizeof(struct xipfs_pool) == 64, "pool header size");
XIPFS_STATIC_ASSERT(sizeof(struct xipfs_pool_dir) == 64, "pool directory size");
XIPFS_STATIC_ASSERT(sizeof(struct xipfs_pool_entry) == 64, "pool entry size");
XIPFS_STATIC_ASSERT(sizeof(struct xipfs_pool_run) == 16, "pool run size");

#endif /* XIPFS_FORMAT_H */
