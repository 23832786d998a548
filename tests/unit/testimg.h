/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * An in-memory xipfs image builder for the unit tests.
 *
 * It is a second, deliberately simple encoder of include/xipfs/format.h,
 * written apart from mkxipfs, so a test can check the library's decoder
 * against a model it controls: the test describes inodes, entries, file
 * pages and xattr sets, timg_build() lays them out and seals the CRCs, and
 * the same description (struct timg_node) is the expected answer.  The
 * damage helpers change one field and re-seal the CRC, so the library's
 * deeper checks (not just the checksum) are what refuses the image.
 *
 * Layout: page 0 superblock, then data pages in inode order (each file's
 * pages in logical order unless TIMG_REVERSE), then the metadata area:
 * inodes, dirents, extents, names, xattr area, page checksums.  No dedupe;
 * an all-zero page is a hole.  Out-of-memory aborts (it is a test).
 */
#ifndef XIPFS_TESTIMG_H
#define XIPFS_TESTIMG_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "xipfs/xipfs.h"

/* Layout flags for a regular file (timg_layout). */
#define TIMG_SPLIT	0x1	/* one extent per page, even when contiguous */
#define TIMG_REVERSE	0x2	/* store the pages in reverse order */

struct timg_page {
	uint64_t lpage;
	uint8_t *data;		/* page_size bytes */
	uint32_t ipage;		/* image page, set by timg_build() */
};

struct timg_dent {
	char *name;
	size_t len;
	uint32_t ino;
	uint64_t name_off;	/* in the names table, set by timg_build() */
};

struct timg_node {
	uint32_t mode, nlink, uid, gid;
	uint64_t size;
	int64_t mtime, ctime;
	uint32_t mtime_nsec, ctime_nsec;
	uint32_t xattr;		/* set index + 1, 0 none */
	uint32_t major, minor;	/* devices */
	int nlink_fixed;	/* keep nlink as set: timg_build() won't count */
	/* directories (entries sorted by timg_build()) */
	struct timg_dent *ents;
	uint32_t nents, ecap;
	/* regular files (pages sorted by lpage) */
	struct timg_page *pages;
	uint32_t npages, pcap;
	uint32_t share;		/* inode whose extent list this file uses, or 0 */
	unsigned layout;	/* TIMG_* */
	/* symlinks */
	char *target;
	size_t tlen;
	/* set by timg_build() */
	uint32_t count;
	uint64_t offset;
};

struct timg_xentry {
	char *name;
	size_t nlen;
	uint8_t *value;
	uint32_t vlen;
};

struct timg_xset {
	struct timg_xentry *e;
	uint32_t n, cap;
	uint64_t off;		/* relative to the xattr area, set by timg_build() */
};

struct timg {
	unsigned shift, psize;
	struct timg_node *nodes;	/* [ino], [0] unused */
	uint32_t nnodes, ncap;		/* nnodes = highest inode + 1 */
	struct timg_xset *sets;
	uint32_t nsets;
	/* the image, after timg_build() */
	uint8_t *buf;
	size_t size;
	uint32_t data_start, data_pages;
	uint64_t meta_off, meta_size;
	uint64_t inode_off, dirent_off, extent_off, extent_count;
	uint64_t names_off, names_size, xattr_off, xattr_size, pagesum_off;
};

/* A builder with a root directory (inode 1, 0755); @shift 12, 14 or 16. */
struct timg *timg_new(unsigned shift);
void timg_free(struct timg *t);
struct timg_node *timg_node(struct timg *t, uint32_t ino);

/* A new inode of @mode named @name (@len bytes) in @dir; its number. */
uint32_t timg_addn(struct timg *t, uint32_t dir, const char *name, size_t len,
		   uint32_t mode);
uint32_t timg_add(struct timg *t, uint32_t dir, const char *name, uint32_t mode);
/* Another name for @ino (a hardlink, or any entry a test wants). */
void timg_link(struct timg *t, uint32_t dir, const char *name, size_t len,
	       uint32_t ino);
uint32_t timg_symlink(struct timg *t, uint32_t dir, const char *name,
		      const char *target);
uint32_t timg_mknod(struct timg *t, uint32_t dir, const char *name,
		    uint32_t mode, uint32_t major, uint32_t minor);

/* File content: write bytes (extends the size), fill pages, set the size. */
void timg_write(struct timg *t, uint32_t ino, uint64_t off, const void *buf,
		size_t len);
/* @count pages of non-zero pseudo-random bytes from @seed at @lpage. */
void timg_fill(struct timg *t, uint32_t ino, uint64_t lpage, uint32_t count,
	       uint32_t seed);
void timg_truncate(struct timg *t, uint32_t ino, uint64_t size);
void timg_layout(struct timg *t, uint32_t ino, unsigned flags);
/* @dst gets @src's size, content and its very extent list. */
void timg_share(struct timg *t, uint32_t dst, uint32_t src);

/* A new, empty xattr set: its index + 1, for timg_node()->xattr. */
uint32_t timg_xset(struct timg *t);
void timg_xattr(struct timg *t, uint32_t set, const char *name,
		const void *value, uint32_t vlen);

/* Lay out, encode and seal.  Can be called again after model changes. */
void timg_build(struct timg *t);
/* xipfs_open_mem() on the built image. */
int timg_open(struct timg *t, struct xipfs_image **img);

/* The model's answers. */
const uint8_t *timg_page_data(struct timg *t, uint32_t ino, uint64_t lpage);
ssize_t timg_model_read(struct timg *t, uint32_t ino, uint64_t off, size_t len,
			void *buf);
int64_t timg_model_seek(struct timg *t, uint32_t ino, uint64_t off, int whence);
uint64_t timg_model_blocks(struct timg *t, uint32_t ino);

/* Byte offsets in the built image, for damage. */
uint64_t timg_inode_off(struct timg *t, uint32_t ino);
uint64_t timg_dirent_off(struct timg *t, uint32_t dir, uint32_t index);
uint64_t timg_extent_off(struct timg *t, uint32_t ino, uint32_t index);
uint64_t timg_xset_off(struct timg *t, uint32_t set);	/* absolute */

/* Damage: store @len bytes of @val (little endian) at @off; re-seal. */
void timg_poke(struct timg *t, uint64_t off, uint64_t val, unsigned len);
void timg_poke_bytes(struct timg *t, uint64_t off, const void *p, size_t len);
void timg_seal(struct timg *t);		/* superblock CRC only */
void timg_seal_pages(struct timg *t);	/* per-page sums, then the CRC */

/*
 * Library messages: timg_log_capture() routes them into a buffer (and
 * away from stderr); timg_log() is everything since the last capture.
 */
void timg_log_capture(void);
const char *timg_log(void);

/*
 * An assertion for hot loops: Check records the location of every passing
 * ck_assert (a pipe write in fork mode), which made 100,000-iteration
 * loops slow under ASan.  This only calls into Check on failure.
 */
#define TIMG_REQUIRE(cond, ...)					\
	do {							\
		if (!(cond))					\
			ck_abort_msg(__VA_ARGS__);		\
	} while (0)

/* Run a Check suite (the argument is a Suite *): EXIT_SUCCESS or EXIT_FAILURE. */
int timg_run(void *suite);

struct TTest;
/*
 * Run the NULL-terminated @tests as one Check suite and test case @name,
 * each test between @setup and @teardown (NULL: none).
 */
int timg_main(const char *name, void (*setup)(void), void (*teardown)(void),
	      const struct TTest *const *tests);

#endif
