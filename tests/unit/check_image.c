// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * src/lib/image.c: opening images from memory and from files, superblock
 * validation (each field damaged alone, the CRC re-sealed so the field
 * check is what refuses it), the metadata CRC, truncation, the accessors
 * and the corruption message format.  Images come from testimg.c.
 */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/loop.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testimg.h"

static struct timg *t;
static struct xipfs_image *img;

/* Root, a file with a hole, a symlink, an xattr: every table non-empty. */
static void make(unsigned shift)
{
	uint32_t f;

	timg_free(t);
	t = timg_new(shift);
	f = timg_add(t, 1, "file", S_IFREG | 0644);
	timg_fill(t, f, 0, 1, 1);
	timg_fill(t, f, 2, 1, 2);
	timg_truncate(t, f, 2 * (uint64_t)t->psize + 100);
	timg_symlink(t, 1, "link", "target");
	timg_node(t, f)->xattr = timg_xset(t);
	timg_xattr(t, 1, "user.ab", "12", 2);
	timg_build(t);
}

static void setup(void)
{
	timg_log_capture();
	img = NULL;
	t = NULL;
	make(12);
}

static void teardown(void)
{
	xipfs_close(img);
	timg_free(t);
}

static void reopen_ok(void)
{
	xipfs_close(img);
	img = NULL;
	ck_assert_int_eq(timg_open(t, &img), 0);
}

START_TEST(test_accessors)
{
	static const unsigned shifts[] = { 12, 14, 16 };
	const struct xipfs_super *sb;

	make(shifts[_i]);
	ck_assert_int_eq(xipfs_open_mem(t->buf, t->size, "mem-name", 0, &img), 0);
	ck_assert_str_eq(xipfs_image_name(img), "mem-name");
	ck_assert_ptr_eq(xipfs_image_base(img), t->buf);
	ck_assert_uint_eq(xipfs_image_size(img), t->size);
	ck_assert_uint_eq(xipfs_page_size(img), t->psize);
	ck_assert_uint_eq(xipfs_page_shift(img), t->shift);
	ck_assert_uint_eq(xipfs_inode_count(img), t->nnodes - 1);
	sb = xipfs_super(img);
	ck_assert_mem_eq(sb, t->buf, sizeof(*sb));
	ck_assert_uint_eq(xipfs_image_crc(t->buf, sb), xipfs_le32(sb->s_crc));
	ck_assert_str_eq(timg_log(), "");
}
END_TEST

START_TEST(test_mode_to_dtype)
{
	static const struct { uint32_t mode; unsigned dt; } m[] = {
		{ S_IFREG | 0644, DT_REG }, { S_IFDIR | 0755, DT_DIR },
		{ S_IFLNK | 0777, DT_LNK }, { S_IFCHR, DT_CHR }, { S_IFBLK, DT_BLK },
		{ S_IFIFO, DT_FIFO }, { S_IFSOCK | 07777, DT_SOCK },
	};

	for (size_t k = 0; k < sizeof(m) / sizeof(m[0]); k++)
		ck_assert_uint_eq(xipfs_mode_to_dtype(m[k].mode), m[k].dt);
}
END_TEST

/* Each superblock field damaged alone is refused, naming the superblock. */
START_TEST(test_superblock_fields)
{
#define AT(field) offsetof(struct xipfs_super, field)
#define SZ(field) sizeof(((struct xipfs_super *)0)->field)
	const uint64_t size = t->size, ps = t->psize, meta = t->meta_off;
	/* rep: the field the message names, when not the damaged one (0: the same). */
	const struct { size_t off; unsigned len; uint64_t val; size_t rep; } bad[] = {
		{ 0, 1, 'Y' },
		{ AT(s_version_major), SZ(s_version_major), 2 }, { AT(s_version_major), SZ(s_version_major), 0 },
		{ AT(s_page_shift), SZ(s_page_shift), 11 }, { AT(s_page_shift), SZ(s_page_shift), 13 }, { AT(s_page_shift), SZ(s_page_shift), 17 },
		{ AT(s_page_shift), SZ(s_page_shift), 44 },
		{ AT(s_incompat), SZ(s_incompat), XIPFS_FEATURE_INCOMPAT_SHARED_POOL }, { AT(s_incompat), SZ(s_incompat), 0x80 },
		{ AT(s_root_ino), SZ(s_root_ino), 0 }, { AT(s_root_ino), SZ(s_root_ino), 2 },
		{ AT(s_size), SZ(s_size), size + ps }, { AT(s_size), SZ(s_size), size - 1 }, { AT(s_size), SZ(s_size), 0 },
		{ AT(s_size), SZ(s_size), 100 }, { AT(s_size), SZ(s_size), UINT64_MAX & ~(ps - 1) },
		{ AT(s_data_start), SZ(s_data_start), 0 }, { AT(s_data_pages), SZ(s_data_pages), t->data_pages + 1, AT(s_data_start) },
		{ AT(s_data_pages), SZ(s_data_pages), UINT32_MAX, AT(s_data_start) },
		{ AT(s_meta_offset), SZ(s_meta_offset), meta + 1 }, { AT(s_meta_offset), SZ(s_meta_offset), 0 },
		{ AT(s_meta_offset), SZ(s_meta_offset), size }, { AT(s_meta_offset), SZ(s_meta_offset), UINT64_MAX & ~(ps - 1) },
		{ AT(s_meta_size), SZ(s_meta_size), t->meta_size + ps, AT(s_meta_offset) },
		{ AT(s_meta_size), SZ(s_meta_size), 1, AT(s_meta_offset) },
		{ AT(s_meta_size), SZ(s_meta_size), UINT64_MAX & ~(ps - 1), AT(s_meta_offset) },
		{ AT(s_inode_offset), SZ(s_inode_offset), meta - 64 }, { AT(s_inode_offset), SZ(s_inode_offset), UINT64_MAX - 8 },
		{ AT(s_inode_count), SZ(s_inode_count), 0 }, { AT(s_inode_count), SZ(s_inode_count), 0x7fffffff, AT(s_inode_offset) },
		{ AT(s_dirent_count), SZ(s_dirent_count), 1000000, AT(s_dirent_offset) }, { AT(s_dirent_offset), SZ(s_dirent_offset), size },
		{ AT(s_extent_count), SZ(s_extent_count), UINT64_MAX / 2, AT(s_extent_offset) },
		{ AT(s_extent_count), SZ(s_extent_count), UINT64_MAX, AT(s_extent_offset) },
		{ AT(s_extent_offset), SZ(s_extent_offset), UINT64_MAX - 4 },
		{ AT(s_names_size), SZ(s_names_size), UINT64_MAX - 10, AT(s_names_offset) }, { AT(s_names_offset), SZ(s_names_offset), meta + size },
		{ AT(s_xattr_sets), SZ(s_xattr_sets), 1u << 30 }, { AT(s_xattr_size), SZ(s_xattr_size), UINT64_MAX, AT(s_xattr_offset) },
		{ AT(s_xattr_size), SZ(s_xattr_size), 3, AT(s_xattr_sets) },
		{ AT(s_pagesum_count), SZ(s_pagesum_count), t->data_pages + 1 }, { AT(s_pagesum_count), SZ(s_pagesum_count), 0 },
		{ AT(s_pagesum_offset), SZ(s_pagesum_offset), UINT64_MAX - 3 },
	};
#undef SZ
#undef AT

	for (size_t k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
		char want[80];

		timg_build(t);
		timg_poke(t, bad[k].off, bad[k].val, bad[k].len);
		timg_log_capture();
		ck_assert_msg(timg_open(t, &img) == -EUCLEAN, "damage %zu (offset %zu) accepted",
			      k, bad[k].off);
		img = NULL;
		/*
		 * The CRC was re-sealed: the field check must be what refused
		 * it, naming the field's offset.
		 */
		snprintf(want, sizeof(want), "timg: corrupt superblock at offset %zu: ",
			 bad[k].rep ? bad[k].rep : bad[k].off);
		ck_assert_msg(strstr(timg_log(), want) && !strstr(timg_log(), "checksum mismatch"),
			      "damage %zu: '%s', want '%s'", k, timg_log(), want);
	}
}
END_TEST

/* What a reader may ignore: minor version, unknown COMPAT bits, no page sums. */
START_TEST(test_superblock_tolerated)
{
	timg_poke(t, offsetof(struct xipfs_super, s_version_minor), 99, 2);
	reopen_ok();
	timg_poke(t, offsetof(struct xipfs_super, s_compat),
		  XIPFS_FEATURE_COMPAT_PAGESUM | 0x80000000u, 4);
	reopen_ok();
	timg_poke(t, offsetof(struct xipfs_super, s_compat), 0, 4);
	timg_poke(t, offsetof(struct xipfs_super, s_pagesum_count), 12345, 8);
	reopen_ok();
	timg_poke(t, offsetof(struct xipfs_super, s_stat_files), UINT64_MAX, 8);
	reopen_ok();
}
END_TEST

START_TEST(test_root_not_dir)
{
	/* A valid fifo inode (size 0), but not a directory. */
	timg_poke(t, timg_inode_off(t, 1), S_IFIFO | 0644, 2);
	timg_poke(t, timg_inode_off(t, 1) + offsetof(struct xipfs_inode, i_size), 0, 8);
	ck_assert_int_eq(timg_open(t, &img), -EUCLEAN);
	ck_assert_ptr_nonnull(strstr(timg_log(), "root inode is not a directory"));
	timg_build(t);
	timg_poke(t, timg_inode_off(t, 1) + offsetof(struct xipfs_inode, i_count), 99, 4);
	ck_assert_int_eq(timg_open(t, &img), -EUCLEAN);
	img = NULL;
}
END_TEST

/* The CRC covers the superblock and the metadata, not the data pages. */
START_TEST(test_crc)
{
	uint32_t f = 2;
	uint64_t data = (uint64_t)timg_node(t, f)->pages[0].ipage << t->shift;

	t->buf[t->meta_off + 5] ^= 1;
	ck_assert_int_eq(timg_open(t, &img), -EUCLEAN);
	ck_assert_ptr_nonnull(strstr(timg_log(),
				     "corrupt superblock at offset 24: metadata checksum mismatch (stored 0x"));
	ck_assert_int_eq(xipfs_open_mem(t->buf, t->size, "t", XIPFS_OPEN_NOCRC, &img), 0);
	xipfs_close(img);
	img = NULL;
	t->buf[t->meta_off + 5] ^= 1;
	t->buf[offsetof(struct xipfs_super, s_reserved) + 7] = 1;
	ck_assert_int_eq(timg_open(t, &img), -EUCLEAN);
	t->buf[offsetof(struct xipfs_super, s_reserved) + 7] = 0;
	t->buf[t->meta_off + t->meta_size - 1] ^= 0x80;	/* the zero padding too */
	ck_assert_int_eq(timg_open(t, &img), -EUCLEAN);
	t->buf[t->meta_off + t->meta_size - 1] ^= 0x80;
	t->buf[data] ^= 1;
	reopen_ok();
}
END_TEST

/* Short buffers are refused; a longer one is clamped to s_size. */
START_TEST(test_sizes)
{
	uint8_t *big = calloc(1, t->size + 3 * t->psize);

	ck_assert_int_eq(xipfs_open_mem(t->buf, 0, "t", 0, &img), -EUCLEAN);
	ck_assert_int_eq(xipfs_open_mem(t->buf, 511, "t", 0, &img), -EUCLEAN);
	ck_assert_int_eq(xipfs_open_mem(t->buf, t->psize, "t", 0, &img), -EUCLEAN);
	ck_assert_int_eq(xipfs_open_mem(t->buf, t->size - 1, "t", 0, &img), -EUCLEAN);
	ck_assert_ptr_nonnull(strstr(timg_log(), "truncated"));
	memcpy(big, t->buf, t->size);
	ck_assert_int_eq(xipfs_open_mem(big, t->size + 3 * t->psize, "t", 0, &img), 0);
	ck_assert_uint_eq(xipfs_image_size(img), t->size);
	xipfs_close(img);
	img = NULL;
	free(big);
}
END_TEST

START_TEST(test_open_file)
{
	char path[] = "/tmp/check_image.XXXXXX";
	struct xipfs_ino i;
	int fd = mkstemp(path);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, t->buf, t->size), (ssize_t)t->size);
	ck_assert_int_eq(xipfs_open_file(path, 0, &img), 0);
	ck_assert_str_eq(xipfs_image_name(img), path);
	ck_assert_mem_eq(xipfs_image_base(img), t->buf, t->size);
	ck_assert_int_eq(xipfs_path_lookup(img, "/link", &i), 0);
	xipfs_close(img);
	img = NULL;
	ck_assert_int_eq(ftruncate(fd, (off_t)t->size - t->psize), 0);
	ck_assert_int_eq(xipfs_open_file(path, 0, &img), -EUCLEAN);
	ck_assert_int_eq(ftruncate(fd, 100), 0);
	timg_log_capture();
	ck_assert_int_eq(xipfs_open_file(path, 0, &img), -EUCLEAN);
	ck_assert_ptr_nonnull(strstr(timg_log(), path));
	close(fd);
	unlink(path);
	ck_assert_int_eq(xipfs_open_file(path, 0, &img), -ENOENT);
	ck_assert_int_eq(xipfs_open_file("/tmp", 0, &img), -EINVAL);
	img = NULL;
}
END_TEST

/*
 * An image on a block device (a read-only loop device over an image file):
 * st_size is 0 there, the size must come from the device.  Needs root and
 * loop devices; without them the case says so and passes.
 */
START_TEST(test_open_blockdev)
{
	struct loop_config cfg = { .info.lo_flags = LO_FLAGS_READ_ONLY | LO_FLAGS_AUTOCLEAR };
	char path[] = "/tmp/check_image.XXXXXX", dev[32];
	int fd = mkstemp(path), ctl, loop = -1;
	struct xipfs_ino i;

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, t->buf, t->size), (ssize_t)t->size);
	unlink(path);
	ctl = open("/dev/loop-control", O_RDWR | O_CLOEXEC);
	/* Another process may take the free device first: try a few. */
	for (int tries = 0; ctl >= 0 && loop < 0 && tries < 10; tries++) {
		int n = ioctl(ctl, LOOP_CTL_GET_FREE);

		if (n < 0)
			break;
		snprintf(dev, sizeof(dev), "/dev/loop%d", n);
		loop = open(dev, O_RDONLY | O_CLOEXEC);
		cfg.fd = (uint32_t)fd;
		if (loop >= 0 && ioctl(loop, LOOP_CONFIGURE, &cfg) < 0) {
			close(loop);
			loop = -1;
		}
	}
	if (loop < 0) {
		printf("check_image: no loop device (%s): block device open not tested\n",
		       strerror(errno));
		goto out;
	}
	ck_assert_int_eq(xipfs_open_file(dev, 0, &img), 0);
	ck_assert_uint_eq(xipfs_image_size(img), t->size);
	ck_assert_mem_eq(xipfs_image_base(img), t->buf, t->size);
	ck_assert_int_eq(xipfs_path_lookup(img, "/file", &i), 0);
	close(loop);		/* autoclear: detached once the image is closed */
out:
	if (ctl >= 0)
		close(ctl);
	close(fd);
}
END_TEST

START_TEST(test_corrupt_message)
{
	ck_assert_int_eq(timg_open(t, &img), 0);
	timg_log_capture();
	ck_assert_int_eq(xipfs_corrupt(img, "thing", 1234567890123ull, "why %d", 42), -EUCLEAN);
	ck_assert_str_eq(timg_log(), "timg: corrupt thing at offset 1234567890123: why 42\n");
}
END_TEST

int main(void)
{
	Suite *s = suite_create("image");
	TCase *tc = tcase_create("image");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_loop_test(tc, test_accessors, 0, 3);
	tcase_add_test(tc, test_mode_to_dtype);
	tcase_add_test(tc, test_superblock_fields);
	tcase_add_test(tc, test_superblock_tolerated);
	tcase_add_test(tc, test_root_not_dir);
	tcase_add_test(tc, test_crc);
	tcase_add_test(tc, test_sizes);
	tcase_add_test(tc, test_open_file);
	tcase_add_test(tc, test_open_blockdev);
	tcase_add_test(tc, test_corrupt_message);
	suite_add_tcase(s, tc);
	return timg_run(s);
}
