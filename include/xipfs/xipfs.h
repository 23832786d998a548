/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * libxipfs: read and validate xipfs images, wherever they live (an image
 * file, a shared memory segment, a buffer).
 *
 * Conventions: functions return 0 (or a count) on success and -errno on
 * failure.  A corrupt image gives -EUCLEAN, after one log line (through the
 * log callback) that names the image, the structure and its byte offset.
 * Nothing here trusts the image: every offset, count, length and index is
 * bounds-checked before use, so any byte string is safe to open and walk.
 * An opened image is immutable and every function is thread safe.
 */
#ifndef XIPFS_XIPFS_H
#define XIPFS_XIPFS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "xipfs/format.h"

#ifdef __cplusplus
extern "C" {
#endif

struct xipfs_image;

/* ---- logging ---------------------------------------------------------- */

enum xipfs_log_level { XIPFS_LOG_ERR = 3, XIPFS_LOG_WARN = 4,
		       XIPFS_LOG_INFO = 6, XIPFS_LOG_DEBUG = 7 };
typedef void (*xipfs_log_fn)(int level, const char *msg, void *arg);

/*
 * Route library messages.  The default writes "PROGNAME: msg\n" to stderr
 * for levels <= XIPFS_LOG_WARN (PROGNAME from program_invocation_short_name).
 * fn == NULL restores the default.  Process wide; set it before threads.
 */
void xipfs_set_log(xipfs_log_fn fn, void *arg);
void xipfs_log(int level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* ---- opening ---------------------------------------------------------- */

#define XIPFS_OPEN_NOCRC	0x1	/* skip the metadata CRC (fsck reports it) */

/*
 * Open an image file: mmap it read-only (MAP_SHARED) and validate it.  The
 * name used in messages is the path.
 */
int xipfs_open_file(const char *path, unsigned flags, struct xipfs_image **out);

/*
 * Validate an image that is already in memory (a mapped segment, a buffer).
 * The memory must stay mapped and unchanged until xipfs_close(); it is not
 * freed by the library.  @name is used in messages (copied).
 */
int xipfs_open_mem(const void *base, size_t size, const char *name,
		   unsigned flags, struct xipfs_image **out);

/*
 * The same for an image of a pool segment mapped at @base (@size bytes):
 * its superblock lies at byte @sb_off (see xipfs_pool_find()).
 */
int xipfs_open_mem_at(const void *base, size_t size, uint64_t sb_off, const char *name,
		      unsigned flags, struct xipfs_image **out);

void xipfs_close(struct xipfs_image *img);

const char *xipfs_image_name(const struct xipfs_image *img);
const void *xipfs_image_base(const struct xipfs_image *img);
size_t xipfs_image_size(const struct xipfs_image *img);	/* s_size */
unsigned xipfs_page_size(const struct xipfs_image *img);
unsigned xipfs_page_shift(const struct xipfs_image *img);
/* The superblock as stored (little endian fields: use xipfs_le*()). */
const struct xipfs_super *xipfs_super(const struct xipfs_image *img);
/* Byte offset of the superblock in the mapping: 0, or an image's in a pool. */
uint64_t xipfs_super_offset(const struct xipfs_image *img);
uint32_t xipfs_inode_count(const struct xipfs_image *img);

/* Report corruption: logs "NAME: corrupt WHAT at offset OFF: REASON". */
int xipfs_corrupt(const struct xipfs_image *img, const char *what,
		  uint64_t off, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* ---- inodes ----------------------------------------------------------- */

/* A decoded, validated inode. */
struct xipfs_ino {
	uint32_t ino;
	uint32_t mode;		/* st_mode */
	uint32_t nlink;
	uint32_t uid, gid;
	uint64_t size;
	int64_t mtime, ctime;
	uint32_t mtime_nsec, ctime_nsec;
	uint32_t xattr;		/* set index + 1; 0 none */
	uint32_t count;		/* extents / dirents */
	uint64_t offset;	/* first extent / dirent index; symlink name offset */
	uint64_t rdev;		/* dev_t (makedev) for devices, else 0 */
	uint64_t blocks;	/* st_blocks: 512-byte units of non-hole pages */
};

/*
 * Decode inode @ino (1..count) and check it: known type, counts and offsets
 * inside their tables, nsec < 1e9, extents for regular files in order and
 * inside the data area, directory sizes consistent.  -ENOENT if @ino is out
 * of range (only -EUCLEAN when the number came from the image: callers that
 * got @ino from a dirent treat -ENOENT as corruption, see xipfs_dir_*).
 */
int xipfs_inode_get(const struct xipfs_image *img, uint32_t ino,
		    struct xipfs_ino *out);

/* ---- directories ------------------------------------------------------ */

struct xipfs_entry {
	uint32_t ino;
	uint8_t type;		/* DT_* */
	uint8_t namelen;
	const char *name;	/* inside the image, NOT NUL terminated */
};

/* Entry @index (0..dir->count-1) of directory @dir, validated. */
int xipfs_dir_entry(const struct xipfs_image *img, const struct xipfs_ino *dir,
		    uint32_t index, struct xipfs_entry *out);

/*
 * Binary search for @name (@len bytes) in @dir: 0, -ENOENT, -ENOTDIR,
 * -ENAMETOOLONG or -EUCLEAN.
 */
int xipfs_dir_lookup(const struct xipfs_image *img, const struct xipfs_ino *dir,
		     const char *name, size_t len, struct xipfs_entry *out);

/*
 * Resolve an absolute or root-relative path ("/", "usr/lib/x") without
 * following symlinks in the last component (intermediate symlinks are an
 * error, -ENOTDIR, as the image has no mount context).
 */
int xipfs_path_lookup(const struct xipfs_image *img, const char *path,
		      struct xipfs_ino *out);

/* ---- symlinks --------------------------------------------------------- */

/* Point *@target at the (not NUL terminated) target, *@len bytes. */
int xipfs_readlink(const struct xipfs_image *img, const struct xipfs_ino *ino,
		   const char **target, size_t *len);

/* ---- file data -------------------------------------------------------- */

struct xipfs_extent_info {
	uint64_t lpage;		/* first logical page */
	uint32_t count;		/* pages */
	uint32_t page;		/* first image page */
};

/* Extent @index (0..ino->count-1) of regular file @ino, validated. */
int xipfs_extent(const struct xipfs_image *img, const struct xipfs_ino *ino,
		 uint32_t index, struct xipfs_extent_info *out);

/*
 * Image page that holds logical page @lpage of @ino (binary search over the
 * extents): > 0 the page number, 0 a hole (or past EOF), < 0 -errno.
 */
int64_t xipfs_file_page(const struct xipfs_image *img,
			const struct xipfs_ino *ino, uint64_t lpage);

/*
 * The bytes after EOF in @ino's last page must be zero (a page is mapped
 * whole): 0 if they are (or the page is a hole), else the image offset of
 * the first that is not; < 0 -errno.  Logs nothing: the caller decides.
 */
int64_t xipfs_file_tail(const struct xipfs_image *img, const struct xipfs_ino *ino);

/* Copy up to @len bytes at @off into @buf; returns bytes (0 at EOF). */
ssize_t xipfs_file_read(const struct xipfs_image *img,
			const struct xipfs_ino *ino, void *buf, size_t len,
			uint64_t off);

/*
 * Zero-copy read: fill @iov (at most @maxiov entries) with pointers into
 * the image (and into a static zero page for holes) covering up to @len
 * bytes at @off, clamped at EOF.  Returns the number of iovecs used; the
 * byte total is stored in *@bytes.  Adjacent pieces are merged.
 */
int xipfs_file_iov(const struct xipfs_image *img, const struct xipfs_ino *ino,
		   uint64_t off, size_t len, struct iovec *iov, int maxiov,
		   size_t *bytes);

/* lseek(2) SEEK_DATA / SEEK_HOLE over holes: new offset or -ENXIO. */
int64_t xipfs_file_seek(const struct xipfs_image *img,
			const struct xipfs_ino *ino, uint64_t off, int whence);

/* ---- extended attributes ---------------------------------------------- */

struct xipfs_xattr {
	const char *name;	/* inside the image, NOT NUL terminated */
	uint16_t name_len;
	const void *value;
	uint32_t value_len;
};

/* Number of xattrs of @ino (0 if none), or -EUCLEAN. */
int xipfs_xattr_count(const struct xipfs_image *img, const struct xipfs_ino *ino);
/* Attribute @index (0..count-1), validated. */
int xipfs_xattr_at(const struct xipfs_image *img, const struct xipfs_ino *ino,
		   uint32_t index, struct xipfs_xattr *out);
/* Find by NUL-terminated full name: 0, -ENODATA or -EUCLEAN. */
int xipfs_xattr_find(const struct xipfs_image *img, const struct xipfs_ino *ino,
		     const char *name, struct xipfs_xattr *out);
/*
 * listxattr(2) semantics: with @size 0 return the bytes needed, else fill
 * @buf with NUL-separated names, -ERANGE if it is too small.
 */
ssize_t xipfs_xattr_list(const struct xipfs_image *img,
			 const struct xipfs_ino *ino, char *buf, size_t size);

/* ---- whole-image checks ----------------------------------------------- */

struct xipfs_fsck_stats {
	uint64_t inodes, dirs, files, symlinks, others;
	uint64_t errors;		/* corruption found (each logged) */
	uint64_t unreachable;		/* inodes no directory names */
	uint64_t bad_pages;		/* data pages failing their checksum */
};

#define XIPFS_FSCK_DATA		0x1	/* verify every data page checksum */

/*
 * Walk everything reachable from the root and check every structure, the
 * nlink counts, that each inode is named, directory order, and with
 * XIPFS_FSCK_DATA every data page against s_pagesum and the zero tail of
 * each file's last page.  Returns 0 if clean, -EUCLEAN if anything was
 * wrong (details logged and counted in @st).
 */
int xipfs_fsck(const struct xipfs_image *img, unsigned flags,
	       struct xipfs_fsck_stats *st);

/* ---- integrity: the SHA-256 Merkle tree (COMPAT_MERKLE) ----------------- */

/* "sha256:" and 64 hex digits, NUL terminated. */
#define XIPFS_DIGEST_STR_LEN	72

/* Bytes of tree for @npages covered pages of (1 << @shift) bytes. */
uint64_t xipfs_merkle_tree_size(uint64_t npages, unsigned shift);

/*
 * Build the tree over @npages pages at @content (the image's pages 1..N)
 * into @tree (xipfs_merkle_tree_size() bytes; padding is zeroed) and the
 * hash of its top page into @top.
 */
int xipfs_merkle_build(const void *content, uint64_t npages, unsigned shift,
		       void *tree, uint8_t top[32]);

/* The root for superblock @sb (its s_crc and s_merkle_root are ignored). */
int xipfs_merkle_root(const struct xipfs_super *sb, const uint8_t top[32],
		      uint8_t root[32]);

struct xipfs_verify_stats {
	uint64_t pages;			/* covered pages hashed and compared */
	uint64_t bad_pages;		/* of those, damaged */
	uint64_t bad_tree_pages;	/* tree pages not matching their parent */
	uint64_t unchecked_pages;	/* under a damaged tree page */
	uint64_t errors;		/* messages logged */
	uint8_t root[32];		/* the verified root */
};

/*
 * Verify the image bytes at @base (@size bytes available) against their
 * tree: every covered page, every tree page and the superblock.  Works on
 * raw bytes, so it names damaged pages even where the image would not
 * open.  With @expect, the root must also equal it.  0 when intact,
 * -EUCLEAN when damaged (each damaged page logged), -ENODATA when the
 * image has no tree.
 */
int xipfs_verify_mem(const void *base, size_t size, const char *name,
		     const uint8_t *expect, struct xipfs_verify_stats *st);

/*
 * Append a tree to the finished image (no tree yet) open for writing and
 * reading in @fd, and update its superblock (feature bit, fields, root,
 * CRC).  The new image size goes to *@image_bytes.
 */
int xipfs_merkle_append(int fd, uint64_t *image_bytes);

/* SHA-256 of @len bytes at @buf. */
int xipfs_sha256(const void *buf, size_t len, uint8_t out[32]);

/* Parse "sha256:HEX" (lower-case hex) into 32 bytes: 0 or -EINVAL. */
int xipfs_digest_parse(const char *str, uint8_t out[32]);
/* Format 32 bytes as "sha256:HEX" into @out. */
void xipfs_digest_format(const uint8_t d[32], char out[XIPFS_DIGEST_STR_LEN]);

/*
 * fsck(8) exit status bits (util-linux include/exitcodes.h names them
 * FSCK_EX_*): xipfsctl fsck and fsck.xipfs exit with these.  An image is
 * read-only, so nothing is ever corrected: found errors are UNCORRECTED.
 */
#define XIPFS_FSCK_EX_OK		0	/* no errors */
#define XIPFS_FSCK_EX_NONDESTRUCT	1	/* errors corrected */
#define XIPFS_FSCK_EX_REBOOT		2	/* system should be rebooted */
#define XIPFS_FSCK_EX_UNCORRECTED	4	/* errors left uncorrected */
#define XIPFS_FSCK_EX_ERROR		8	/* operational error */
#define XIPFS_FSCK_EX_USAGE		16	/* usage or syntax error */
#define XIPFS_FSCK_EX_LIBRARY		128	/* shared library error */

/* ---- helpers shared by the programs ----------------------------------- */

/*
 * Out of memory: every libxipfs function returns -ENOMEM (or NULL where it
 * returns a pointer), never aborts and never logs it, since only the caller
 * knows what it was doing.  The programs of this tree report it once and
 * give up (xipfs/xalloc.h); the daemon answers the request with ENOMEM.
 */

/* The metadata CRC: 0, or -EUCLEAN after logging both sums. */
int xipfs_check_crc(const struct xipfs_image *img);

/* UUIDs: 16 bytes, shown as 36 characters, 8-4-4-4-12 lower-case hex. */
#define XIPFS_UUID_STR_LEN	36
void xipfs_uuid_format(const uint8_t uuid[16], char out[XIPFS_UUID_STR_LEN + 1]);
/* The 36-character form (any case) or its 32 hex digits alone; -EINVAL. */
int xipfs_uuid_parse(const char *str, uint8_t uuid[16]);

/* CRC32C (Castagnoli), seed 0 for a fresh sum; chainable. */
uint32_t xipfs_crc32c(uint32_t crc, const void *buf, size_t len);

/*
 * All @len bytes at @off of @fd, through short and interrupted calls: 0,
 * -errno, or -EIO when a read meets the end of the file or a write makes
 * no progress.
 */
int xipfs_pread_all(int fd, void *buf, size_t len, off_t off);
int xipfs_pwrite_all(int fd, const void *buf, size_t len, off_t off);

/* The CRC a superblock must carry, given the image bytes in memory. */
uint32_t xipfs_image_crc(const void *base, const struct xipfs_super *sb);

/* DT_* for an st_mode. */
unsigned xipfs_mode_to_dtype(uint32_t mode);

#ifdef __cplusplus
}
#endif

#endif /* XIPFS_XIPFS_H */
