// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * src/lib/fsck.c: a clean image passes with the model's counts; each
 * damaged structure is reported as "corrupt STRUCTURE at offset OFF" with
 * the offset the damage was put at; XIPFS_FSCK_DATA (xipfsctl fsck
 * --verify-data) catches a flipped data page and bytes after EOF.
 */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "testimg.h"

static struct timg *t;
static struct xipfs_image *img;
static struct xipfs_fsck_stats st;
static uint32_t d, sub, f, f2, g, l, c, p, xs;

static void setup(void)
{
	timg_log_capture();
	img = NULL;
	t = timg_new(12);
	d = timg_add(t, 1, "d", S_IFDIR | 0755);
	sub = timg_add(t, d, "sub", S_IFDIR | 0755);
	timg_add(t, sub, "deep", S_IFDIR | 0755);
	f2 = timg_add(t, d, "f2", S_IFREG | 0644);
	timg_write(t, f2, 0, "hello", 5);
	l = timg_symlink(t, d, "l", "../f");
	f = timg_add(t, 1, "f", S_IFREG | 0644);
	timg_fill(t, f, 0, 2, 1);
	timg_fill(t, f, 4, 1, 2);
	timg_truncate(t, f, 4 * 4096 + 100);
	timg_link(t, 1, "h", 1, f);
	g = timg_add(t, 1, "g", S_IFREG | 0644);
	timg_share(t, g, f);
	c = timg_mknod(t, 1, "c", S_IFCHR | 0600, 4, 64);
	p = timg_add(t, 1, "p", S_IFIFO | 0600);
	timg_add(t, 1, "s", S_IFSOCK | 0600);
	xs = timg_xset(t);
	timg_xattr(t, xs, "user.k", "v", 1);
	timg_xattr(t, xs, "security.capability", "\1\0\0\2", 4);
	timg_node(t, f)->xattr = xs;
	timg_node(t, d)->xattr = xs;
	timg_build(t);
}

static void teardown(void)
{
	xipfs_close(img);
	timg_free(t);
}

static uint32_t ent(uint32_t dir, const char *name)
{
	struct timg_node *n = timg_node(t, dir);

	for (uint32_t k = 0; k < n->nents; k++)
		if (n->ents[k].len == strlen(name) &&
		    !memcmp(n->ents[k].name, name, n->ents[k].len))
			return k;
	ck_abort_msg("no entry %s", name);
	return 0;
}

/* Open (the CRC was re-sealed), fsck must fail and report @what at @off. */
static void expect(unsigned flags, const char *what, uint64_t off)
{
	char want[128];

	snprintf(want, sizeof(want), "corrupt %s at offset %llu", what,
		 (unsigned long long)off);
	ck_assert_int_eq(timg_open(t, &img), 0);
	timg_log_capture();
	ck_assert_int_eq(xipfs_fsck(img, flags, &st), -EUCLEAN);
	ck_assert_uint_ge(st.errors, 1);
	ck_assert_msg(strstr(timg_log(), want), "fsck said '%s', not '%s'", timg_log(), want);
	xipfs_close(img);
	img = NULL;
	timg_build(t);			/* undamaged again, for the next case */
}

START_TEST(test_clean)
{
	uint64_t dirs = 0, files = 0, links = 0, others = 0;

	for (uint32_t i = 1; i < t->nnodes; i++) {
		uint32_t m = timg_node(t, i)->mode;

		dirs += S_ISDIR(m);
		files += S_ISREG(m);
		links += S_ISLNK(m);
		others += !S_ISDIR(m) && !S_ISREG(m) && !S_ISLNK(m);
	}
	ck_assert_int_eq(timg_open(t, &img), 0);
	ck_assert_int_eq(xipfs_fsck(img, XIPFS_FSCK_DATA, &st), 0);
	ck_assert_uint_eq(st.inodes, t->nnodes - 1);
	ck_assert_uint_eq(st.dirs, dirs);
	ck_assert_uint_eq(st.files, files);
	ck_assert_uint_eq(st.symlinks, links);
	ck_assert_uint_eq(st.others, others);
	ck_assert_uint_eq(st.errors + st.unreachable + st.bad_pages, 0);
	ck_assert_int_eq(xipfs_fsck(img, 0, &st), 0);
	ck_assert_str_eq(timg_log(), "");
	ck_assert_uint_eq(timg_node(t, f)->nlink, 2);
	ck_assert_uint_eq(timg_node(t, d)->nlink, 3);
}
END_TEST

#define INODE(ino, field) (timg_inode_off(t, ino) + offsetof(struct xipfs_inode, field))
#define DIRENT(dir, name, field) \
	(timg_dirent_off(t, dir, ent(dir, name)) + offsetof(struct xipfs_dirent, field))

START_TEST(test_inodes)
{
	timg_poke(t, INODE(f, i_nlink), 1, 4);		/* two names */
	expect(0, "inode", timg_inode_off(t, f));
	timg_poke(t, INODE(d, i_nlink), 2, 4);		/* one subdirectory */
	expect(0, "inode", timg_inode_off(t, d));
	timg_poke(t, INODE(g, i_mtime_nsec), 1000000000, 4);
	expect(0, "inode", timg_inode_off(t, g));
	timg_poke(t, INODE(p, i_mode), 0xe000 | 0600, 2);
	expect(0, "inode", timg_inode_off(t, p));
	timg_poke(t, INODE(l, i_offset), 1u << 30, 8);
	expect(0, "inode", timg_inode_off(t, l));
	timg_poke(t, INODE(sub, i_count), 7, 4);
	expect(0, "inode", timg_inode_off(t, sub));
	/* "p" names the device instead: the fifo is named nowhere. */
	timg_poke(t, DIRENT(1, "p", d_ino), c, 4);
	timg_poke(t, DIRENT(1, "p", d_type), DT_CHR, 1);
	expect(0, "inode", timg_inode_off(t, p));
	ck_assert_uint_eq(st.unreachable, 1);
}
END_TEST

START_TEST(test_dirents)
{
	struct timg_node *root = timg_node(t, 1);
	uint32_t a = ent(1, "c"), b = ent(1, "d");
	uint64_t na = root->ents[a].name_off, nb = root->ents[b].name_off;

	timg_poke(t, DIRENT(1, "c", d_type), DT_REG, 1);
	expect(0, "dirent", timg_dirent_off(t, 1, a));
	/* Swap two names: the second is then out of order. */
	timg_poke(t, timg_dirent_off(t, 1, a) + offsetof(struct xipfs_dirent, d_name), nb, 4);
	timg_poke(t, timg_dirent_off(t, 1, b) + offsetof(struct xipfs_dirent, d_name), na, 4);
	expect(0, "dirent", timg_dirent_off(t, 1, b));
	/* A name "..", and a directory named twice (a cycle). */
	timg_poke_bytes(t, t->names_off + timg_node(t, d)->ents[ent(d, "sub")].name_off, "..", 2);
	timg_poke(t, DIRENT(d, "sub", d_namelen), 2, 1);
	expect(0, "dirent", timg_dirent_off(t, d, ent(d, "sub")));
	timg_poke(t, DIRENT(d, "sub", d_ino), d, 4);
	expect(0, "dirent", timg_dirent_off(t, d, ent(d, "sub")));
	timg_poke(t, DIRENT(d, "sub", d_ino), 1, 4);
	expect(0, "dirent", timg_dirent_off(t, d, ent(d, "sub")));
	timg_poke(t, DIRENT(d, "l", d_ino), 1000, 4);
	expect(0, "dirent", timg_dirent_off(t, d, ent(d, "l")));
}
END_TEST

START_TEST(test_extents_xattrs)
{
	timg_poke(t, timg_extent_off(t, f, 0) + offsetof(struct xipfs_extent, e_page), 0, 4);
	expect(0, "extent", timg_extent_off(t, f, 0));
	timg_poke(t, timg_extent_off(t, f, 1) + offsetof(struct xipfs_extent, e_lpage), 1, 4);
	expect(0, "extent", timg_extent_off(t, f, 1));
	timg_poke(t, timg_xset_off(t, xs), 1u << 24, 4);
	expect(0, "xattr set", timg_xset_off(t, xs));
	timg_poke(t, timg_xset_off(t, xs) + 4, 0, 2);
	expect(0, "xattr entry", timg_xset_off(t, xs) + 4);
	timg_poke(t, t->xattr_off, 2, 4);
	expect(0, "xattr set", t->xattr_off + 2);
	/* "security.capability" renamed "vecurity...": now after "user.k". */
	timg_poke(t, timg_xset_off(t, xs) + 4 + 8, 'v', 1);
	expect(0, "xattr set", timg_xset_off(t, xs));
}
END_TEST

/* --verify-data: page checksums and the zero tail after EOF. */
START_TEST(test_data)
{
	uint64_t page = (uint64_t)timg_node(t, f)->pages[1].ipage << t->shift;
	uint64_t last = (uint64_t)timg_node(t, f)->pages[2].ipage << t->shift;
	uint64_t two = (uint64_t)timg_node(t, f2)->pages[0].ipage << t->shift;

	t->buf[page + 77] ^= 0x10;		/* a bit flip the CRC does not cover */
	ck_assert_int_eq(timg_open(t, &img), 0);
	ck_assert_int_eq(xipfs_fsck(img, 0, &st), 0);
	xipfs_close(img);
	img = NULL;
	expect(XIPFS_FSCK_DATA, "data page", page);
	ck_assert_uint_eq(st.bad_pages, 1);
	ck_assert_uint_eq(st.errors, 1);

	/* Not zero after EOF, with a matching page sum: only the tail check sees it. */
	t->buf[last + 100] = 'x';
	timg_seal_pages(t);
	expect(XIPFS_FSCK_DATA, "data page", last + 100);
	ck_assert_uint_eq(st.bad_pages, 0);
	t->buf[two + 4095] = 1;
	timg_seal_pages(t);
	expect(XIPFS_FSCK_DATA, "data page", two + 4095);

	/* A wrong page sum. */
	timg_poke(t, t->pagesum_off + 4 * (two / 4096 - t->data_start), 0, 4);
	expect(XIPFS_FSCK_DATA, "data page", two);
	ck_assert_uint_eq(st.bad_pages, 1);
}
END_TEST

/* What open refuses never reaches fsck: the message names the superblock. */
START_TEST(test_superblock)
{
	char want[64];

	timg_poke(t, offsetof(struct xipfs_super, s_inode_count), 1u << 30, 4);
	ck_assert_int_eq(timg_open(t, &img), -EUCLEAN);
	/* The table check names the table's offset field. */
	snprintf(want, sizeof(want), "corrupt superblock at offset %zu: inode table",
		 offsetof(struct xipfs_super, s_inode_offset));
	ck_assert_ptr_nonnull(strstr(timg_log(), want));
	img = NULL;
}
END_TEST

int main(void)
{
	const struct TTest *tests[] = { test_clean, test_inodes, test_dirents, test_extents_xattrs,
					test_data, test_superblock, NULL };

	return timg_main("fsck", setup, teardown, tests);
}
