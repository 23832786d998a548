// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * libxipfs on hand-made images: a minimal valid image (root directory with
 * one file of two extents around a hole, a symlink and an xattr), and the
 * superblock damage that must be refused with -EUCLEAN.
 */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "xipfs/xipfs.h"

#define PS 4096
enum { DATA = 1, NDATA = 2, META = 3, NPAGES = 4 };

static uint8_t *img;

static void quiet(int level, const char *msg, void *arg) { }

/* Build: page 0 sb, pages 1-2 data, page 3 metadata. */
static void build(void)
{
	struct xipfs_super *sb;
	struct xipfs_inode *ino;
	struct xipfs_dirent *de;
	struct xipfs_extent *ex;
	uint8_t *m;
	uint32_t crc, v;

	img = calloc(NPAGES, PS);
	sb = (struct xipfs_super *)img;
	memset(img + DATA * PS, 'A', PS);
	memset(img + (DATA + 1) * PS, 'B', 100);	/* last page: zero tail */
	m = img + META * PS;
	ino = (struct xipfs_inode *)m;			/* 3 inodes at +0 */
	de = (struct xipfs_dirent *)(m + 192);		/* 2 dirents */
	ex = (struct xipfs_extent *)(m + 216);		/* 2 extents */
	memcpy(m + 240, "filelinktarget", 14);		/* names at +240 */
	/* xattr area at +256: offset table, one set with one entry. */
	v = 4; memcpy(m + 256, &v, 4);
	v = 1; memcpy(m + 260, &v, 4);
	{
		struct xipfs_xattr_entry e = { .x_name_len = 7, .x_value_len = 2 };

		memcpy(m + 264, &e, 8);
		memcpy(m + 272, "user.ab12", 9);
	}
	ino[0].i_mode = S_IFDIR | 0755; ino[0].i_nlink = 2;
	ino[0].i_count = 2; ino[0].i_offset = 0; ino[0].i_size = 24;
	ino[1].i_mode = S_IFREG | 0644; ino[1].i_nlink = 1;
	ino[1].i_size = 2 * PS + 100;		/* pages 0, (hole), 2 */
	ino[1].i_count = 2; ino[1].i_offset = 0; ino[1].i_xattr = 1;
	ino[2].i_mode = S_IFLNK | 0777; ino[2].i_nlink = 1;
	ino[2].i_size = 6; ino[2].i_offset = 8;	/* "target" */
	de[0] = (struct xipfs_dirent){ .d_ino = 2, .d_name = 0, .d_namelen = 4, .d_type = 8 };
	de[1] = (struct xipfs_dirent){ .d_ino = 3, .d_name = 4, .d_namelen = 4, .d_type = 10 };
	ex[0] = (struct xipfs_extent){ .e_lpage = 0, .e_count = 1, .e_page = 1 };
	ex[1] = (struct xipfs_extent){ .e_lpage = 2, .e_count = 1, .e_page = 2 };
	memcpy(sb->s_magic, XIPFS_MAGIC_STR, 8);
	sb->s_version_major = 1;
	sb->s_page_shift = 12;
	sb->s_root_ino = 1;
	sb->s_size = NPAGES * PS;
	sb->s_data_start = DATA; sb->s_data_pages = NDATA;
	sb->s_meta_offset = META * PS; sb->s_meta_size = PS;
	sb->s_inode_offset = META * PS; sb->s_inode_count = 3;
	sb->s_dirent_offset = META * PS + 192; sb->s_dirent_count = 2;
	sb->s_extent_offset = META * PS + 216; sb->s_extent_count = 2;
	sb->s_names_offset = META * PS + 240; sb->s_names_size = 14;
	sb->s_xattr_offset = META * PS + 256; sb->s_xattr_size = 28; sb->s_xattr_sets = 1;
	crc = xipfs_image_crc(img, sb);
	sb->s_crc = crc;
}

static void setup(void) { xipfs_set_log(quiet, NULL); build(); }
static void teardown(void) { free(img); }

static void refix(void)
{
	struct xipfs_super *sb = (struct xipfs_super *)img;

	/* xipfs_image_crc() reads the metadata area: only when it exists. */
	if (sb->s_meta_offset <= NPAGES * PS &&
	    sb->s_meta_size <= NPAGES * PS - sb->s_meta_offset)
		sb->s_crc = xipfs_image_crc(img, sb);
}

START_TEST(test_valid)
{
	struct xipfs_image *im;
	struct xipfs_ino root, f, l;
	struct xipfs_entry e;
	struct xipfs_xattr x;
	struct xipfs_fsck_stats st;
	char buf[3 * PS];
	const char *t;
	size_t tl;

	ck_assert_int_eq(xipfs_open_mem(img, NPAGES * PS, "t", 0, &im), 0);
	ck_assert_int_eq(xipfs_inode_get(im, 1, &root), 0);
	ck_assert_int_eq(xipfs_dir_lookup(im, &root, "file", 4, &e), 0);
	ck_assert_uint_eq(e.ino, 2);
	ck_assert_int_eq(xipfs_dir_lookup(im, &root, "fil", 3, &e), -ENOENT);
	ck_assert_int_eq(xipfs_dir_lookup(im, &root, "zzz", 3, &e), -ENOENT);
	ck_assert_int_eq(xipfs_inode_get(im, 2, &f), 0);
	ck_assert_uint_eq(f.blocks, 2 * PS / 512);
	ck_assert_int_eq(xipfs_file_read(im, &f, buf, sizeof(buf), 0), 2 * PS + 100);
	ck_assert_int_eq(buf[0], 'A');
	ck_assert_int_eq(buf[PS], 0);			/* the hole */
	ck_assert_int_eq(buf[2 * PS + 99], 'B');
	ck_assert_int_eq(xipfs_file_page(im, &f, 1), 0);
	ck_assert_int_eq(xipfs_file_page(im, &f, 2), 2);
	ck_assert_int_eq(xipfs_file_seek(im, &f, 10, SEEK_HOLE), PS);
	ck_assert_int_eq(xipfs_file_seek(im, &f, PS, SEEK_DATA), 2 * PS);
	ck_assert_int_eq(xipfs_file_seek(im, &f, 2 * PS + 100, SEEK_DATA), -ENXIO);
	ck_assert_int_eq(xipfs_xattr_find(im, &f, "user.a", &x), -ENODATA);
	ck_assert_int_eq(xipfs_xattr_find(im, &f, "user.ab", &x), 0);
	ck_assert_uint_eq(x.value_len, 2);
	ck_assert_int_eq(memcmp(x.value, "12", 2), 0);
	ck_assert_int_eq(xipfs_xattr_count(im, &f), 1);
	ck_assert_int_eq(xipfs_xattr_list(im, &f, NULL, 0), 8);
	ck_assert_int_eq(xipfs_xattr_list(im, &f, buf, 3), -ERANGE);
	ck_assert_int_eq(xipfs_inode_get(im, 3, &l), 0);
	ck_assert_int_eq(xipfs_readlink(im, &l, &t, &tl), 0);
	ck_assert_uint_eq(tl, 6);
	ck_assert_int_eq(memcmp(t, "target", 6), 0);
	ck_assert_int_eq(xipfs_path_lookup(im, "/link", &l), 0);
	ck_assert_int_eq(xipfs_path_lookup(im, "/file/x", &l), -ENOTDIR);
	ck_assert_int_eq(xipfs_fsck(im, XIPFS_FSCK_DATA, &st), 0);
	xipfs_close(im);
}
END_TEST

/* Each mutation of a superblock or table field is refused. */
START_TEST(test_refused)
{
	static const struct { size_t off; uint64_t val; int len; } bad[] = {
		{ 0, 'Y', 1 },					/* magic */
		{ 8, 2, 2 },					/* version */
		{ 12, 13, 4 }, { 12, 40, 4 },			/* page shift */
		{ 20, 1, 4 }, { 20, 0x80, 4 },			/* incompat */
		{ 28, 2, 4 },					/* root */
		{ 56, NPAGES * PS + PS, 8 }, { 56, 100, 8 },	/* size */
		{ 72, 0, 4 }, { 76, 3, 4 },			/* data area */
		{ 80, 5 * PS, 8 }, { 80, 0, 8 }, { 88, 8 * PS, 8 },
		{ 108, 0, 4 }, { 108, 0x7fffffff, 4 },		/* inode count */
		{ 112, 1000, 4 },				/* dirent count */
		{ 136, UINT64_MAX / 2, 8 },			/* extent count */
		{ 152, UINT64_MAX - 10, 8 },			/* names size */
		{ 168, 1u << 30, 4 },				/* xattr sets */
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct xipfs_image *im = NULL;

		free(img);
		build();
		memcpy(img + bad[i].off, &bad[i].val, bad[i].len);
		refix();
		ck_assert_msg(xipfs_open_mem(img, NPAGES * PS, "t", 0, &im) == -EUCLEAN,
			      "mutation %zu accepted", i);
	}
}
END_TEST

START_TEST(test_crc_and_short)
{
	struct xipfs_image *im;

	img[META * PS + 5] ^= 1;
	ck_assert_int_eq(xipfs_open_mem(img, NPAGES * PS, "t", 0, &im), -EUCLEAN);
	ck_assert_int_eq(xipfs_open_mem(img, 100, "t", 0, &im), -EUCLEAN);
	ck_assert_int_eq(xipfs_open_mem(img, 3 * PS, "t", 0, &im), -EUCLEAN);
}
END_TEST

/* Hostile tables with a valid CRC: caught at access, never read past. */
START_TEST(test_hostile_tables)
{
	struct xipfs_image *im;
	struct xipfs_ino root, f;
	struct xipfs_entry e;
	struct xipfs_inode *ino = (struct xipfs_inode *)(img + META * PS);
	struct xipfs_dirent *de = (struct xipfs_dirent *)(img + META * PS + 192);
	struct xipfs_extent *ex = (struct xipfs_extent *)(img + META * PS + 216);

	de[0].d_ino = 99;
	ex[1].e_page = 3;			/* metadata page, not data */
	ino[2].i_size = 5000;			/* symlink past names */
	refix();
	ck_assert_int_eq(xipfs_open_mem(img, NPAGES * PS, "t", 0, &im), 0);
	ck_assert_int_eq(xipfs_inode_get(im, 1, &root), 0);
	ck_assert_int_eq(xipfs_dir_entry(im, &root, 0, &e), -EUCLEAN);
	ck_assert_int_eq(xipfs_inode_get(im, 2, &f), -EUCLEAN);
	ck_assert_int_eq(xipfs_inode_get(im, 3, &f), -EUCLEAN);
	ck_assert_int_eq(xipfs_inode_get(im, 4, &f), -ENOENT);
	xipfs_close(im);
}
END_TEST

/*
 * Damage that only a whole walk or a deeper access sees: a directory
 * cycle (must end, not loop), a name with '/', unsorted extents, and
 * non-zero bytes after EOF (only with XIPFS_FSCK_DATA).
 */
START_TEST(test_fsck_hostile)
{
	struct xipfs_image *im;
	struct xipfs_ino root, f;
	struct xipfs_entry e;
	struct xipfs_fsck_stats st;
	struct xipfs_dirent *de = (struct xipfs_dirent *)(img + META * PS + 192);
	struct xipfs_extent *ex = (struct xipfs_extent *)(img + META * PS + 216);

	/* Implicit hole at EOF; SEEK_HOLE/SEEK_DATA at EOF is ENXIO. */
	ck_assert_int_eq(xipfs_open_mem(img, NPAGES * PS, "t", 0, &im), 0);
	ck_assert_int_eq(xipfs_path_lookup(im, "/file", &f), 0);
	ck_assert_int_eq(xipfs_file_seek(im, &f, 2 * PS, SEEK_HOLE), 2 * PS + 100);
	ck_assert_int_eq(xipfs_file_seek(im, &f, 2 * PS + 100, SEEK_HOLE), -ENXIO);
	ck_assert_int_eq(xipfs_file_seek(im, &f, 0, SEEK_DATA), 0);
	xipfs_close(im);

	img[DATA * PS + PS + 100] = 'x';		/* after EOF, data page 2 */
	ck_assert_int_eq(xipfs_open_mem(img, NPAGES * PS, "t", 0, &im), 0);
	ck_assert_int_eq(xipfs_fsck(im, 0, &st), 0);
	ck_assert_int_eq(xipfs_fsck(im, XIPFS_FSCK_DATA, &st), -EUCLEAN);
	ck_assert_uint_eq(st.errors, 1);
	xipfs_close(im);

	de[1].d_ino = 1;				/* "link" -> root: a cycle */
	de[1].d_type = 4;
	refix();
	ck_assert_int_eq(xipfs_open_mem(img, NPAGES * PS, "t", 0, &im), 0);
	ck_assert_int_eq(xipfs_fsck(im, 0, &st), -EUCLEAN);
	ck_assert_uint_eq(st.unreachable, 1);		/* the symlink */
	xipfs_close(im);

	free(img);
	build();
	ex = (struct xipfs_extent *)(img + META * PS + 216);
	img[META * PS + 240 + 2] = '/';			/* "fi/e" */
	ex[0].e_lpage = 2;				/* extents out of order */
	ex[1].e_lpage = 0;
	refix();
	ck_assert_int_eq(xipfs_open_mem(img, NPAGES * PS, "t", 0, &im), 0);
	ck_assert_int_eq(xipfs_inode_get(im, 1, &root), 0);
	ck_assert_int_eq(xipfs_dir_entry(im, &root, 0, &e), -EUCLEAN);
	ck_assert_int_eq(xipfs_inode_get(im, 2, &f), -EUCLEAN);
	ck_assert_int_eq(xipfs_fsck(im, 0, &st), -EUCLEAN);
	xipfs_close(im);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("image");
	TCase *tc = tcase_create("core");
	SRunner *sr;
	int failed;

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_valid);
	tcase_add_test(tc, test_refused);
	tcase_add_test(tc, test_crc_and_short);
	tcase_add_test(tc, test_hostile_tables);
	tcase_add_test(tc, test_fsck_hostile);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
