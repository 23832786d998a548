// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * src/lib/inode.c: inodes of every type, directory entries and lookup
 * (a 100,000-entry directory against a linear scan), path lookup and
 * symlinks, each checked against the test image builder's model.
 */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "testimg.h"

static struct timg *t;
static struct xipfs_image *img;

static void setup(void)
{
	timg_log_capture();
	t = NULL;
	img = NULL;
}

static void teardown(void)
{
	xipfs_close(img);
	timg_free(t);
}

static void open_ok(void)
{
	timg_build(t);
	ck_assert_int_eq(timg_open(t, &img), 0);
}

/* Strictly before, in the format's order (bytes, a shorter prefix first). */
static int name_lt(const char *a, size_t al, const char *b, size_t bl)
{
	int c = memcmp(a, b, al < bl ? al : bl);

	return c < 0 || (c == 0 && al < bl);
}

static void check_ino(uint32_t ino)
{
	struct timg_node *n = timg_node(t, ino);
	struct xipfs_ino i;

	ck_assert_int_eq(xipfs_inode_get(img, ino, &i), 0);
	ck_assert_uint_eq(i.ino, ino);
	ck_assert_uint_eq(i.mode, n->mode);
	ck_assert_uint_eq(i.nlink, n->nlink);
	ck_assert_uint_eq(i.uid, n->uid);
	ck_assert_uint_eq(i.gid, n->gid);
	ck_assert_uint_eq(i.size, n->size);
	ck_assert_int_eq(i.mtime, n->mtime);
	ck_assert_int_eq(i.ctime, n->ctime);
	ck_assert_uint_eq(i.mtime_nsec, n->mtime_nsec);
	ck_assert_uint_eq(i.ctime_nsec, n->ctime_nsec);
	ck_assert_uint_eq(i.xattr, n->xattr);
	if (S_ISCHR(n->mode) || S_ISBLK(n->mode))
		ck_assert_uint_eq(i.rdev, makedev(n->major, n->minor));
	else
		ck_assert_uint_eq(i.rdev, 0);
	if (S_ISREG(n->mode))
		ck_assert_uint_eq(i.blocks, timg_model_blocks(t, ino));
	if (S_ISREG(n->mode) || S_ISDIR(n->mode))
		ck_assert_uint_eq(i.count, n->count);
}

/* Every type, at every page size: all fields as the model has them. */
START_TEST(test_types)
{
	static const unsigned shifts[] = { 12, 14, 16 };
	uint32_t d, f, h;
	struct xipfs_ino i;

	t = timg_new(shifts[_i]);
	d = timg_add(t, 1, "dir", S_IFDIR | 01777);
	timg_add(t, d, "sub", S_IFDIR | 0700);
	f = timg_add(t, 1, "file", S_IFREG | 06755);
	timg_fill(t, f, 0, 2, 1);
	timg_fill(t, f, 5, 1, 2);
	timg_truncate(t, f, (5ull << t->shift) + 17);
	timg_link(t, d, "hardlink", 8, f);
	timg_link(t, 1, "hardlink2", 9, f);
	timg_node(t, f)->uid = 0xfffffffeu;
	timg_node(t, f)->gid = 0x80000001u;
	timg_node(t, f)->mtime = -1234567890123ll;
	timg_node(t, f)->mtime_nsec = 999999999u;
	h = timg_add(t, 1, "huge", S_IFREG | 0600);
	timg_fill(t, h, 0, 1, 3);
	timg_fill(t, h, (6ull << 30) >> t->shift, 1, 4);
	timg_truncate(t, h, (6ull << 30) + 12345);	/* > 4 GiB, sparse */
	timg_add(t, 1, "empty", S_IFREG | 0644);
	timg_symlink(t, 1, "sym", "dir/sub");
	timg_mknod(t, d, "chr", S_IFCHR | 0620, 0xfffffu, 0xfffffu);
	timg_mknod(t, d, "blk", S_IFBLK | 0660, 259, 0x12345678u);
	timg_mknod(t, d, "null", S_IFCHR | 0666, 1, 3);
	timg_add(t, d, "fifo", S_IFIFO | 0644);
	timg_add(t, d, "sock", S_IFSOCK | 0755);
	open_ok();
	ck_assert_uint_eq(xipfs_inode_count(img), t->nnodes - 1);
	for (uint32_t ino = 1; ino < t->nnodes; ino++)
		check_ino(ino);
	ck_assert_uint_eq(timg_node(t, f)->nlink, 3);
	ck_assert_uint_eq(timg_node(t, 1)->nlink, 3);
	ck_assert_uint_gt(timg_node(t, h)->size, 1ull << 32);
	ck_assert_uint_eq(timg_model_blocks(t, h), 2 * (t->psize / 512));
	ck_assert_int_eq(xipfs_inode_get(img, 0, &i), -ENOENT);
	ck_assert_int_eq(xipfs_inode_get(img, t->nnodes, &i), -ENOENT);
	ck_assert_int_eq(xipfs_inode_get(img, UINT32_MAX, &i), -ENOENT);
}
END_TEST

/* One bad field per inode type: -EUCLEAN naming the inode, never a crash. */
/*
 * A file's extents are walked once: a second get answers from what the
 * first found.  Shown by breaking the contract on purpose (changing the
 * image under an open handle): the second get does not see it, a fresh
 * handle does.  Damaged extents are never remembered: each get reports them.
 */
START_TEST(test_extents_once)
{
	struct xipfs_ino i;
	uint32_t f;

	t = timg_new(12);
	f = timg_add(t, 1, "f", S_IFREG | 0644);
	timg_fill(t, f, 0, 2, 1);
	timg_fill(t, f, 4, 1, 2);
	open_ok();
	ck_assert_int_eq(xipfs_inode_get(img, f, &i), 0);
	ck_assert_uint_eq(i.blocks, 3 * 8);
	/* Extent 1 now overlaps extent 0. */
	timg_poke(t, timg_extent_off(t, f, 1) + offsetof(struct xipfs_extent, e_lpage), 1, 4);
	ck_assert_int_eq(xipfs_inode_get(img, f, &i), 0);
	ck_assert_uint_eq(i.blocks, 3 * 8);
	xipfs_close(img);
	img = NULL;
	ck_assert_int_eq(timg_open(t, &img), 0);
	timg_log_capture();
	for (int k = 0; k < 2; k++) {
		ck_assert_int_eq(xipfs_inode_get(img, f, &i), -EUCLEAN);
		ck_assert_ptr_nonnull(strstr(timg_log(), "extents out of order or overlapping"));
		timg_log_capture();
	}
}
END_TEST

START_TEST(test_inode_hostile)
{
	static const struct {
		int which;		/* 0 file, 1 dir, 2 symlink, 3 chr, 4 fifo */
		size_t field;
		uint64_t val;
		unsigned len;
	} bad[] = {
		{ 0, offsetof(struct xipfs_inode, i_mtime_nsec), 1000000000u, 4 },
		{ 0, offsetof(struct xipfs_inode, i_ctime_nsec), UINT32_MAX, 4 },
		{ 0, offsetof(struct xipfs_inode, i_xattr), 2, 4 },
		{ 0, offsetof(struct xipfs_inode, i_nlink), 0, 4 },
		{ 0, offsetof(struct xipfs_inode, i_mode), 0644, 2 },
		{ 0, offsetof(struct xipfs_inode, i_mode), 0xf000 | 0644, 2 },
		{ 0, offsetof(struct xipfs_inode, i_size), UINT64_MAX, 8 },
		{ 0, offsetof(struct xipfs_inode, i_size), 1, 8 },	/* extent past EOF */
		{ 0, offsetof(struct xipfs_inode, i_count), 1000, 4 },
		{ 0, offsetof(struct xipfs_inode, i_offset), UINT64_MAX, 8 },
		{ 1, offsetof(struct xipfs_inode, i_offset), 1000, 8 },
		{ 1, offsetof(struct xipfs_inode, i_count), UINT32_MAX, 4 },
		{ 1, offsetof(struct xipfs_inode, i_size), 13, 8 },
		{ 2, offsetof(struct xipfs_inode, i_size), 0, 8 },
		{ 2, offsetof(struct xipfs_inode, i_size), 4096, 8 },
		{ 2, offsetof(struct xipfs_inode, i_offset), 1u << 20, 8 },
		{ 2, offsetof(struct xipfs_inode, i_offset), UINT64_MAX - 1, 8 },
		{ 3, offsetof(struct xipfs_inode, i_size), 1, 8 },
		{ 4, offsetof(struct xipfs_inode, i_size), 4096, 8 },
	};
	uint32_t inos[5];

	t = timg_new(12);
	inos[0] = timg_add(t, 1, "f", S_IFREG | 0644);
	timg_fill(t, inos[0], 1, 2, 9);
	timg_node(t, inos[0])->xattr = timg_xset(t);
	timg_xattr(t, 1, "user.x", "y", 1);
	inos[1] = timg_add(t, 1, "d", S_IFDIR | 0755);
	timg_add(t, inos[1], "x", S_IFREG | 0644);
	inos[2] = timg_symlink(t, 1, "l", "target");
	inos[3] = timg_mknod(t, 1, "c", S_IFCHR | 0644, 1, 2);
	inos[4] = timg_add(t, 1, "p", S_IFIFO | 0644);
	timg_build(t);
	for (size_t k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
		uint32_t ino = inos[bad[k].which];
		struct xipfs_ino i;
		char want[32];

		timg_build(t);
		timg_poke(t, timg_inode_off(t, ino) + bad[k].field, bad[k].val, bad[k].len);
		ck_assert_int_eq(timg_open(t, &img), 0);
		timg_log_capture();
		ck_assert_msg(xipfs_inode_get(img, ino, &i) == -EUCLEAN,
			      "damage %zu accepted", k);
		snprintf(want, sizeof(want), "inode %u", ino);
		ck_assert_msg(strstr(timg_log(), want) && strstr(timg_log(), "corrupt "),
			      "damage %zu: message '%s' does not name %s", k,
			      timg_log(), want);
		check_ino(1);		/* the neighbours are unaffected */
		xipfs_close(img);
		img = NULL;
	}
}
END_TEST

/* Names sorted by bytes, prefixes first, 255-byte and non-UTF-8 names. */
START_TEST(test_dir_small)
{
	static const char *const names[] = {
		"b", "a", "ab", "abc", "aa", "\xff\xfe", "\x80", "B", "-", "a b",
	};
	char longname[XIPFS_NAME_MAX + 1];
	struct xipfs_ino root, f;
	struct xipfs_entry e;
	struct timg_node *r;
	uint32_t ino;

	t = timg_new(12);
	for (size_t k = 0; k < sizeof(names) / sizeof(names[0]); k++)
		timg_add(t, 1, names[k], S_IFREG | 0644);
	memset(longname, 'z', sizeof(longname));
	ino = timg_addn(t, 1, longname, XIPFS_NAME_MAX, S_IFDIR | 0755);
	open_ok();
	r = timg_node(t, 1);
	ck_assert_int_eq(xipfs_inode_get(img, 1, &root), 0);
	ck_assert_uint_eq(root.count, r->nents);
	for (uint32_t k = 0; k < r->nents; k++) {
		ck_assert_int_eq(xipfs_dir_entry(img, &root, k, &e), 0);
		ck_assert_uint_eq(e.namelen, r->ents[k].len);
		ck_assert_mem_eq(e.name, r->ents[k].name, e.namelen);
		ck_assert_uint_eq(e.ino, r->ents[k].ino);
		ck_assert_uint_eq(e.type, xipfs_mode_to_dtype(timg_node(t, e.ino)->mode));
		memset(&e, 0, sizeof(e));
		ck_assert_int_eq(xipfs_dir_lookup(img, &root, r->ents[k].name,
						  r->ents[k].len, &e), 0);
		ck_assert_uint_eq(e.ino, r->ents[k].ino);
		if (k)
			ck_assert(name_lt(r->ents[k - 1].name, r->ents[k - 1].len,
					  e.name, e.namelen));
	}
	ck_assert_int_eq(xipfs_dir_entry(img, &root, r->nents, &e), -ENOENT);
	ck_assert_int_eq(xipfs_dir_lookup(img, &root, "abcd", 4, &e), -ENOENT);
	ck_assert_int_eq(xipfs_dir_lookup(img, &root, "ab", 1, &e), 0);	/* "a" */
	ck_assert_uint_eq(e.namelen, 1);
	ck_assert_int_eq(xipfs_dir_lookup(img, &root, "", 0, &e), -ENOENT);
	ck_assert_int_eq(xipfs_dir_lookup(img, &root, "\xff", 1, &e), -ENOENT);
	ck_assert_int_eq(xipfs_dir_lookup(img, &root, "zzzz", 4, &e), -ENOENT);
	ck_assert_int_eq(xipfs_dir_lookup(img, &root, longname, XIPFS_NAME_MAX, &e), 0);
	ck_assert_uint_eq(e.ino, ino);
	ck_assert_int_eq(xipfs_dir_lookup(img, &root, longname, XIPFS_NAME_MAX + 1, &e),
			 -ENAMETOOLONG);
	ck_assert_int_eq(xipfs_path_lookup(img, "a", &f), 0);
	ck_assert_int_eq(xipfs_dir_entry(img, &f, 0, &e), -ENOTDIR);
	ck_assert_int_eq(xipfs_dir_lookup(img, &f, "a", 1, &e), -ENOTDIR);
	ck_assert_str_eq(timg_log(), "");
}
END_TEST

/*
 * Name @i of the big directory, 2 to 6 bytes: the hex digits of 2i end in
 * an even digit, so the same with 2i + 1 (@absent) is never stored.
 */
static size_t big_name(char *buf, uint32_t i, int absent)
{
	return (size_t)sprintf(buf, "%c%x", 'a' + i % 7, 2 * i + !!absent);
}

/* 100,000 entries: the binary search agrees with a linear scan. */
START_TEST(test_dir_big)
{
	enum { N = 100000 };
	struct xipfs_entry *scan = calloc(N, sizeof(*scan));
	struct xipfs_ino root;
	struct xipfs_entry e;
	char name[32];

	t = timg_new(12);
	for (uint32_t i = 0; i < N; i++) {
		size_t len = big_name(name, i, 0);

		TIMG_REQUIRE(timg_addn(t, 1, name, len, S_IFREG | 0644) == i + 2, "inode");
	}
	open_ok();
	ck_assert_int_eq(xipfs_inode_get(img, 1, &root), 0);
	ck_assert_uint_eq(root.count, N);
	/* The linear scan: every entry, in strictly increasing order. */
	for (uint32_t k = 0; k < N; k++) {
		TIMG_REQUIRE(xipfs_dir_entry(img, &root, k, &scan[k]) == 0, "entry %u", k);
		TIMG_REQUIRE(!k || name_lt(scan[k - 1].name, scan[k - 1].namelen,
					   scan[k].name, scan[k].namelen),
			     "entry %u out of order", k);
	}
	/* Each name found by the search is the entry the scan has there. */
	for (uint32_t k = 0; k < N; k++) {
		int err = xipfs_dir_lookup(img, &root, scan[k].name, scan[k].namelen, &e);

		TIMG_REQUIRE(err == 0 && e.name == scan[k].name && e.ino == scan[k].ino,
			     "lookup of entry %u: %d, inode %u, want %u", k, err, e.ino,
			     scan[k].ino);
	}
	/* And the model's names map to the inodes the model made for them. */
	for (uint32_t i = 0; i < N; i++) {
		size_t len = big_name(name, i, 0);
		int err = xipfs_dir_lookup(img, &root, name, len, &e);

		TIMG_REQUIRE(err == 0 && e.ino == i + 2, "lookup of '%s': %d, inode %u, want %u",
			     name, err, e.ino, i + 2);
		len = big_name(name, i, 1);
		err = xipfs_dir_lookup(img, &root, name, len, &e);
		TIMG_REQUIRE(err == -ENOENT, "lookup of absent '%s': %d", name, err);
	}
	free(scan);
}
END_TEST

/* Components, ".", "..", repeated slashes, symlinks, errors. */
START_TEST(test_path)
{
	static const struct {
		const char *path;
		const char *expect;	/* "/"-joined model path, or NULL */
		int err;
	} cases[] = {
		{ "", "", 0 }, { "/", "", 0 }, { "//", "", 0 }, { ".", "", 0 },
		{ "..", "", 0 }, { "/../..", "", 0 }, { "a", "a", 0 },
		{ "/a/b/c", "a/b/c", 0 }, { "a//b/./c/", "a/b/c", 0 },
		{ "/a/b/..", "a", 0 }, { "a/b/../../f", "f", 0 },
		{ "/../a/./b/../b/c", "a/b/c", 0 }, { "a/b/../../a/b/..", "a", 0 },
		{ "a/lnk", "a/lnk", 0 }, { "abs", "abs", 0 },
		{ "a/lnk/c", NULL, -ENOTDIR }, { "a/lnk/..", NULL, -ENOTDIR },
		{ "f/x", NULL, -ENOTDIR }, { "f/..", NULL, -ENOTDIR },
		{ "f/.", NULL, -ENOTDIR }, { "a/b/c/d", NULL, -ENOTDIR },
		{ "a/missing", NULL, -ENOENT }, { "a/missing/..", NULL, -ENOENT },
		{ "A", NULL, -ENOENT }, { "a/b/c ", NULL, -ENOENT },
	};
	char longpath[600];
	uint32_t a, b, c, f, l, s, n;
	struct xipfs_ino i;

	t = timg_new(12);
	a = timg_add(t, 1, "a", S_IFDIR | 0755);
	b = timg_add(t, a, "b", S_IFDIR | 0755);
	c = timg_add(t, b, "c", S_IFREG | 0644);
	f = timg_add(t, 1, "f", S_IFREG | 0644);
	l = timg_symlink(t, a, "lnk", "b");
	s = timg_symlink(t, 1, "abs", "/a/b/c");
	memset(longpath, 'n', sizeof(longpath));
	n = timg_addn(t, b, longpath, XIPFS_NAME_MAX, S_IFREG | 0644);
	open_ok();
	for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
		const char *x = cases[k].expect;
		uint32_t want = !x ? 0 : !*x ? 1 : !strcmp(x, "a") ? a :
				!strcmp(x, "a/b/c") ? c : !strcmp(x, "f") ? f :
				!strcmp(x, "a/lnk") ? l : s;
		int err = xipfs_path_lookup(img, cases[k].path, &i);

		ck_assert_msg(err == cases[k].err, "'%s': %d, want %d",
			      cases[k].path, err, cases[k].err);
		if (!err)
			ck_assert_msg(i.ino == want, "'%s' is inode %u, want %u",
				      cases[k].path, i.ino, want);
	}
	/* A 255-byte component resolves, a 256-byte one is too long. */
	memcpy(longpath, "/a/b/", 5);
	longpath[5 + XIPFS_NAME_MAX] = '\0';
	ck_assert_int_eq(xipfs_path_lookup(img, longpath, &i), 0);
	ck_assert_uint_eq(i.ino, n);
	longpath[5 + XIPFS_NAME_MAX] = 'n';
	longpath[6 + XIPFS_NAME_MAX] = '\0';
	ck_assert_int_eq(xipfs_path_lookup(img, longpath, &i), -ENAMETOOLONG);
	ck_assert_str_eq(timg_log(), "");
}
END_TEST

START_TEST(test_readlink)
{
	char target[XIPFS_SYMLINK_MAX + 1];
	uint32_t l1, l2, l3, f;
	struct xipfs_ino i;
	const char *p;
	size_t len;

	memset(target, 'x', sizeof(target) - 1);
	target[sizeof(target) - 1] = '\0';
	t = timg_new(12);
	l1 = timg_symlink(t, 1, "one", "/");
	l2 = timg_symlink(t, 1, "long", target);
	l3 = timg_symlink(t, 1, "bytes", "\xff../\x01 x");
	f = timg_add(t, 1, "f", S_IFREG | 0644);
	open_ok();
	for (uint32_t ino = l1; ino <= l3; ino++) {
		struct timg_node *n = timg_node(t, ino);

		ck_assert_int_eq(xipfs_inode_get(img, ino, &i), 0);
		ck_assert_int_eq(xipfs_readlink(img, &i, &p, &len), 0);
		ck_assert_uint_eq(len, n->tlen);
		ck_assert_mem_eq(p, n->target, len);
	}
	ck_assert_uint_eq(timg_node(t, l2)->tlen, XIPFS_SYMLINK_MAX);
	ck_assert_int_eq(xipfs_inode_get(img, f, &i), 0);
	ck_assert_int_eq(xipfs_readlink(img, &i, &p, &len), -EINVAL);
	/* No path holds a NUL: a target with one is damage, not silently cut. */
	xipfs_close(img);
	img = NULL;
	timg_poke(t, t->names_off + timg_node(t, l3)->offset + 1, 0, 1);
	ck_assert_int_eq(timg_open(t, &img), 0);
	timg_log_capture();
	ck_assert_int_eq(xipfs_inode_get(img, l3, &i), -EUCLEAN);
	ck_assert_ptr_nonnull(strstr(timg_log(), "inode"));
	ck_assert_int_eq(xipfs_inode_get(img, 1, &i), 0);
	ck_assert_int_eq(xipfs_readlink(img, &i, &p, &len), -EINVAL);
}
END_TEST

/*
 * Names only a damaged image has ("", ".", "..", with '/' or NUL) and bad
 * entry fields: dir_entry and dir_lookup both refuse them, naming the
 * directory inode and the entry's offset.
 */
START_TEST(test_bad_entries)
{
	static const struct { const char *name; size_t len; } bad[] = {
		{ "", 0 }, { ".", 1 }, { "..", 2 }, { "a/b", 3 }, { "/", 1 },
		{ "a\0b", 3 }, { "..\0", 3 },
	};
	struct xipfs_ino dir;
	struct xipfs_entry e;
	char want[96];
	uint32_t d;

	for (size_t k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
		t = timg_new(12);
		d = timg_add(t, 1, "d", S_IFDIR | 0755);
		timg_link(t, d, bad[k].name, bad[k].len, 1);
		open_ok();
		ck_assert_int_eq(xipfs_inode_get(img, d, &dir), 0);
		timg_log_capture();
		ck_assert_msg(xipfs_dir_entry(img, &dir, 0, &e) == -EUCLEAN,
			      "name %zu accepted", k);
		snprintf(want, sizeof(want), "corrupt dirent at offset %llu: directory %u entry 0",
			 (unsigned long long)timg_dirent_off(t, d, 0), d);
		ck_assert_msg(strstr(timg_log(), want), "name %zu: '%s' lacks '%s'", k,
			      timg_log(), want);
		ck_assert_int_eq(xipfs_dir_lookup(img, &dir, "x", 1, &e), -EUCLEAN);
		ck_assert_int_eq(xipfs_dir_lookup(img, &dir, bad[k].name, bad[k].len, &e),
				 -EUCLEAN);
		xipfs_close(img);
		img = NULL;
		timg_free(t);
		t = NULL;
	}
	/* The names "..." and ".x" are fine. */
	t = timg_new(12);
	timg_add(t, 1, "...", S_IFREG | 0644);
	timg_add(t, 1, ".x", S_IFREG | 0644);
	open_ok();
	ck_assert_int_eq(xipfs_path_lookup(img, "/...", &dir), 0);
	ck_assert_int_eq(xipfs_path_lookup(img, "/.x", &dir), 0);
}
END_TEST

START_TEST(test_dirent_hostile)
{
	static const struct { size_t field; uint64_t val; unsigned len; } bad[] = {
		{ offsetof(struct xipfs_dirent, d_ino), 0, 4 },
		{ offsetof(struct xipfs_dirent, d_ino), 99, 4 },
		{ offsetof(struct xipfs_dirent, d_ino), UINT32_MAX, 4 },
		{ offsetof(struct xipfs_dirent, d_name), 1u << 20, 4 },
		{ offsetof(struct xipfs_dirent, d_name), UINT32_MAX, 4 },
		{ offsetof(struct xipfs_dirent, d_namelen), 0, 1 },
		{ offsetof(struct xipfs_dirent, d_namelen), 255, 1 },
	};
	struct xipfs_ino root, i;
	struct xipfs_entry e;

	t = timg_new(12);
	timg_add(t, 1, "m", S_IFREG | 0644);
	timg_add(t, 1, "n", S_IFDIR | 0755);
	timg_add(t, 1, "o", S_IFREG | 0644);
	for (size_t k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
		timg_build(t);
		timg_poke(t, timg_dirent_off(t, 1, 1) + bad[k].field, bad[k].val, bad[k].len);
		ck_assert_int_eq(timg_open(t, &img), 0);
		ck_assert_int_eq(xipfs_inode_get(img, 1, &root), 0);
		ck_assert_msg(xipfs_dir_entry(img, &root, 1, &e) == -EUCLEAN,
			      "damage %zu accepted", k);
		ck_assert_int_eq(xipfs_dir_entry(img, &root, 0, &e), 0);
		ck_assert_int_eq(xipfs_dir_lookup(img, &root, "n", 1, &e), -EUCLEAN);
		ck_assert_int_eq(xipfs_path_lookup(img, "/n", &i), -EUCLEAN);
		xipfs_close(img);
		img = NULL;
	}
}
END_TEST

int main(void)
{
	Suite *s = suite_create("inode");
	TCase *tc = tcase_create("inode");
	TCase *big = tcase_create("bigdir");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_loop_test(tc, test_types, 0, 3);
	tcase_add_test(tc, test_inode_hostile);
	tcase_add_test(tc, test_extents_once);
	tcase_add_test(tc, test_dir_small);
	tcase_add_test(tc, test_path);
	tcase_add_test(tc, test_readlink);
	tcase_add_test(tc, test_bad_entries);
	tcase_add_test(tc, test_dirent_hostile);
	suite_add_tcase(s, tc);
	tcase_add_checked_fixture(big, setup, teardown);
	tcase_set_timeout(big, 60);
	tcase_add_test(big, test_dir_big);
	suite_add_tcase(s, big);
	return timg_run(s);
}
