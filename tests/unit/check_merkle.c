// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * src/lib/merkle.c: xipfs_merkle_append() gives an image that opens, passes
 * fsck and verifies, whose root is the one xipfs_merkle_build() and
 * xipfs_merkle_root() compute over the same pages; a flipped byte in a data
 * page, a metadata page, a tree page of either level or the superblock is
 * caught and named; digests parse and print; no input crashes the verifier.
 */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testimg.h"

static struct timg *t;
static uint8_t *img;		/* the image with its tree */
static size_t size;
static uint64_t tree_off, covered;

static void setup(void)
{
	uint32_t f, d;
	uint64_t n;
	int fd;

	timg_log_capture();
	t = timg_new(12);
	d = timg_add(t, 1, "d", S_IFDIR | 0755);
	f = timg_add(t, d, "big", S_IFREG | 0644);
	timg_fill(t, f, 0, 300, 7);		/* > 128 pages: a two-level tree */
	timg_write(t, timg_add(t, 1, "small", S_IFREG | 0644), 0, "hi", 2);
	timg_build(t);
	fd = memfd_create("check_merkle", 0);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(pwrite(fd, t->buf, t->size, 0), (ssize_t)t->size);
	ck_assert_int_eq(xipfs_merkle_append(fd, &n), 0);
	ck_assert_int_eq(xipfs_merkle_append(fd, &n), -EINVAL);	/* has one */
	size = n;
	img = malloc(size);
	ck_assert_ptr_nonnull(img);
	ck_assert_int_eq(pread(fd, img, size, 0), (ssize_t)size);
	close(fd);
	tree_off = xipfs_le64(((struct xipfs_super *)img)->s_merkle_offset);
	covered = tree_off / 4096 - 1;
}

static void teardown(void)
{
	free(img);
	timg_free(t);
}

START_TEST(test_roundtrip)
{
	const struct xipfs_super *sb = (const void *)img;
	struct xipfs_verify_stats st;
	struct xipfs_fsck_stats fst;
	struct xipfs_image *im;
	uint8_t top[32], root[32], *tree;

	ck_assert_uint_eq(tree_off, t->size);
	ck_assert(xipfs_le32(sb->s_compat) & XIPFS_FEATURE_COMPAT_MERKLE);
	ck_assert_uint_eq(xipfs_le64(sb->s_size), size);
	ck_assert_uint_eq(xipfs_le64(sb->s_merkle_size), xipfs_merkle_tree_size(covered, 12));
	/* 301 data pages + metadata: 3 level-0 pages and a top page. */
	ck_assert_uint_eq(xipfs_merkle_tree_size(covered, 12), 4 * 4096);
	ck_assert_int_eq(xipfs_open_mem(img, size, "m", 0, &im), 0);
	ck_assert_int_eq(xipfs_fsck(im, XIPFS_FSCK_DATA, &fst), 0);
	xipfs_close(im);
	ck_assert_int_eq(xipfs_verify_mem(img, size, "m", NULL, &st), 0);
	ck_assert_uint_eq(st.pages, covered);
	ck_assert_uint_eq(st.bad_pages + st.bad_tree_pages + st.unchecked_pages + st.errors, 0);
	ck_assert_mem_eq(st.root, sb->s_merkle_root, 32);
	/* The same root, built in memory from the covered pages. */
	tree = malloc(xipfs_merkle_tree_size(covered, 12));
	ck_assert_int_eq(xipfs_merkle_build(img + 4096, covered, 12, tree, top), 0);
	ck_assert_mem_eq(tree, img + tree_off, xipfs_merkle_tree_size(covered, 12));
	ck_assert_int_eq(xipfs_merkle_root(sb, top, root), 0);
	ck_assert_mem_eq(root, sb->s_merkle_root, 32);
	free(tree);
	ck_assert_int_eq(xipfs_verify_mem(img, size, "m", root, &st), 0);
	ck_assert_str_eq(timg_log(), "");
}
END_TEST

/* Flip one bit at @off: verify fails, says @want, and counts as given. */
static void flip(uint64_t off, const char *want, uint64_t bad, uint64_t bad_tree,
		 uint64_t unchecked)
{
	struct xipfs_verify_stats st;

	img[off] ^= 0x10;
	timg_log_capture();
	ck_assert_int_eq(xipfs_verify_mem(img, size, "m", NULL, &st), -EUCLEAN);
	ck_assert_msg(strstr(timg_log(), want), "verify said '%s', not '%s'", timg_log(), want);
	ck_assert_uint_eq(st.bad_pages, bad);
	ck_assert_uint_eq(st.bad_tree_pages, bad_tree);
	ck_assert_uint_eq(st.unchecked_pages, unchecked);
	img[off] ^= 0x10;
	ck_assert_int_eq(xipfs_verify_mem(img, size, "m", NULL, &st), 0);
}

START_TEST(test_damage)
{
	char want[160];
	uint64_t tp = tree_off / 4096, meta = t->meta_off / 4096;

	snprintf(want, sizeof(want), "data page 5 at offset %u is damaged", 5 * 4096);
	flip(5 * 4096 + 17, want, 1, 0, 0);
	snprintf(want, sizeof(want), "metadata page %llu at offset %llu is damaged",
		 (unsigned long long)meta, (unsigned long long)t->meta_off);
	flip(t->meta_off + 3, want, 1, 0, 0);
	/* The second level-0 page: its 128 pages cannot be checked. */
	snprintf(want, sizeof(want), "Merkle tree page %llu (level 0)", (unsigned long long)tp + 1);
	flip(tree_off + 4096 + 40, want, 0, 1, 128);
	snprintf(want, sizeof(want), "Merkle tree top page %llu", (unsigned long long)tp + 3);
	flip(tree_off + 3 * 4096 + 1, want, 0, 0, 0);
	flip(100, "superblock (page 0) is damaged", 0, 0, 0);
	flip(offsetof(struct xipfs_super, s_merkle_root) + 31, "superblock (page 0) is damaged",
	     0, 0, 0);
}
END_TEST

START_TEST(test_digest)
{
	static const char hex[] = "sha256:00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
	char out[XIPFS_DIGEST_STR_LEN];
	struct xipfs_verify_stats st;
	uint8_t d[32];

	ck_assert_int_eq(xipfs_digest_parse(hex, d), 0);
	ck_assert_uint_eq(d[0], 0x00);
	ck_assert_uint_eq(d[31], 0xff);
	xipfs_digest_format(d, out);
	ck_assert_str_eq(out, hex);
	ck_assert_int_eq(xipfs_digest_parse("sha256:00", d), -EINVAL);
	ck_assert_int_eq(xipfs_digest_parse("sha512:00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff", d), -EINVAL);
	ck_assert_int_eq(xipfs_digest_parse("sha256:00112233445566778899AABBCCDDEEFF00112233445566778899aabbccddeeff", d), -EINVAL);
	ck_assert_int_eq(xipfs_digest_parse("sha256:00112233445566778899aabbccddeeff00112233445566778899aabbccddeeffaa", d), -EINVAL);
	/* Another root: refused, both digests named. */
	ck_assert_int_eq(xipfs_verify_mem(img, size, "m", d, &st), -EUCLEAN);
	ck_assert_ptr_nonnull(strstr(timg_log(), "not the expected image"));
	ck_assert_ptr_nonnull(strstr(timg_log(), hex));
}
END_TEST

START_TEST(test_hostile)
{
	struct xipfs_verify_stats st;
	struct xipfs_super *sb = (void *)img;
	uint64_t v;

	/* No tree at all. */
	ck_assert_int_eq(xipfs_verify_mem(t->buf, t->size, "plain", NULL, &st), -ENODATA);
	/* Truncated: the tree lies past the end. */
	ck_assert_int_eq(xipfs_verify_mem(img, size - 4096, "short", NULL, &st), -EUCLEAN);
	ck_assert_int_eq(xipfs_verify_mem(img, 100, "tiny", NULL, &st), -EUCLEAN);
	/* Tree geometry that does not add up. */
	v = sb->s_merkle_size;
	sb->s_merkle_size = xipfs_cpu_to_le64(4096);
	ck_assert_int_eq(xipfs_verify_mem(img, size, "geom", NULL, &st), -EUCLEAN);
	sb->s_merkle_size = v;
	v = sb->s_merkle_offset;
	sb->s_merkle_offset = xipfs_cpu_to_le64(4096);
	ck_assert_int_eq(xipfs_verify_mem(img, size, "geom", NULL, &st), -EUCLEAN);
	sb->s_merkle_offset = xipfs_cpu_to_le64(UINT64_MAX & ~4095ull);
	ck_assert_int_eq(xipfs_verify_mem(img, size, "geom", NULL, &st), -EUCLEAN);
	sb->s_merkle_offset = v;
	sb->s_page_shift = xipfs_cpu_to_le32(40);
	ck_assert_int_eq(xipfs_verify_mem(img, size, "shift", NULL, &st), -EUCLEAN);
	sb->s_page_shift = xipfs_cpu_to_le32(12);
	/* One byte of page 0 changed, anywhere after the magic: never verifies. */
	{
		uint8_t page0[4096];

		memcpy(page0, img, sizeof(page0));
		srand(1);
		for (int i = 0; i < 300; i++) {
			size_t off = 8 + (size_t)rand() % (sizeof(page0) - 8);

			img[off] ^= (uint8_t)(1 + rand() % 255);
			TIMG_REQUIRE(xipfs_verify_mem(img, size, "fuzz", NULL, &st) != 0,
				     "page 0 changed at byte %zu verified", off);
			memcpy(img, page0, sizeof(page0));
		}
	}
	flip(offsetof(struct xipfs_super, s_crc) + 1, "its CRC field (offset 24)", 0, 0, 0);
	flip(3000, "byte 3000 after the superblock is not zero", 0, 0, 0);
}
END_TEST

int main(void)
{
	const struct TTest *tests[] = { test_roundtrip, test_damage, test_digest, test_hostile, NULL };

	return timg_main("merkle", setup, teardown, tests);
}
