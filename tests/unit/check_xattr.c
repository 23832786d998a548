// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * src/lib/xattr.c: count, at, find and list over shared xattr sets,
 * listxattr's size rules, and hostile offsets and lengths, against the
 * builder's model of each set.
 */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "testimg.h"

static struct timg *t;
static struct xipfs_image *img;
static uint32_t file, dir, lnk, plain, other;
static char *big;

static void setup(void)
{
	static const uint8_t cap[20] = { 0, 0, 0, 2, 0x20, 0, 0, 0 };
	char name[XIPFS_XATTR_NAME_MAX + 1];
	uint32_t shared, one, empty;

	timg_log_capture();
	img = NULL;
	big = malloc(XIPFS_XATTR_VALUE_MAX);
	for (int i = 0; i < XIPFS_XATTR_VALUE_MAX; i++)
		big[i] = (char)(i * 31 + 7);
	t = timg_new(12);
	file = timg_add(t, 1, "file", S_IFREG | 0644);
	timg_fill(t, file, 0, 1, 1);
	dir = timg_add(t, 1, "dir", S_IFDIR | 0755);
	lnk = timg_symlink(t, dir, "lnk", "../file");
	plain = timg_add(t, 1, "plain", S_IFREG | 0644);
	other = timg_add(t, 1, "other", S_IFIFO | 0644);

	/* One set shared by a file, a directory and a symlink. */
	shared = timg_xset(t);
	timg_xattr(t, shared, "user.b", "2", 1);
	timg_xattr(t, shared, "user.a", "1", 1);
	timg_xattr(t, shared, "user.ab", "", 0);
	timg_xattr(t, shared, "trusted.overlay.opaque", "y", 1);
	timg_xattr(t, shared, "security.capability", cap, sizeof(cap));
	timg_xattr(t, shared, "security.selinux", "system_u:object_r:bin_t:s0\0", 27);
	timg_xattr(t, shared, "user.big", big, XIPFS_XATTR_VALUE_MAX);
	memset(name, 'n', sizeof(name));
	memcpy(name, "user.", 5);
	name[XIPFS_XATTR_NAME_MAX] = '\0';
	timg_xattr(t, shared, name, "\xff", 1);
	timg_node(t, file)->xattr = shared;
	timg_node(t, dir)->xattr = shared;
	timg_node(t, lnk)->xattr = shared;
	one = timg_xset(t);
	timg_xattr(t, one, "user.only", "v", 1);
	timg_node(t, 1)->xattr = one;
	empty = timg_xset(t);
	timg_node(t, other)->xattr = empty;
	timg_build(t);
}

static void teardown(void)
{
	xipfs_close(img);
	timg_free(t);
	free(big);
}

static void get(uint32_t ino, struct xipfs_ino *i)
{
	ck_assert_int_eq(xipfs_inode_get(img, ino, i), 0);
}

/* count, at, find and list of @ino against its model set. */
static void check_set(uint32_t ino)
{
	uint32_t set = timg_node(t, ino)->xattr;
	struct timg_xset *m = set ? &t->sets[set - 1] : NULL;
	uint32_t n = m ? m->n : 0;
	struct xipfs_ino i;
	struct xipfs_xattr x;
	char list[4096], *p = list;
	size_t need = 0;

	get(ino, &i);
	ck_assert_int_eq(xipfs_xattr_count(img, &i), (int)n);
	for (uint32_t k = 0; k < n; k++) {
		struct timg_xentry *e = &m->e[k];
		char name[XIPFS_XATTR_NAME_MAX + 1];

		ck_assert_int_eq(xipfs_xattr_at(img, &i, k, &x), 0);
		ck_assert_uint_eq(x.name_len, e->nlen);
		ck_assert_mem_eq(x.name, e->name, e->nlen);
		ck_assert_uint_eq(x.value_len, e->vlen);
		if (e->vlen)
			ck_assert_mem_eq(x.value, e->value, e->vlen);
		memcpy(name, e->name, e->nlen);
		name[e->nlen] = '\0';
		memset(&x, 0, sizeof(x));
		ck_assert_int_eq(xipfs_xattr_find(img, &i, name, &x), 0);
		ck_assert_uint_eq(x.value_len, e->vlen);
		if (e->vlen)
			ck_assert_mem_eq(x.value, e->value, e->vlen);
		/* A prefix of a name is a different name. */
		name[e->nlen - 1] = '\0';
		if (!(e->nlen == 7 && !memcmp(e->name, "user.ab", 7)))
			ck_assert_int_eq(xipfs_xattr_find(img, &i, name, &x), -ENODATA);
		need += e->nlen + 1;
	}
	ck_assert_int_eq(xipfs_xattr_at(img, &i, n, &x), -ENODATA);
	ck_assert_int_eq(xipfs_xattr_find(img, &i, "user.nope", &x), -ENODATA);
	ck_assert_int_eq(xipfs_xattr_find(img, &i, "", &x), -ENODATA);
	ck_assert_int_eq(xipfs_xattr_list(img, &i, NULL, 0), (ssize_t)need);
	ck_assert_int_eq(xipfs_xattr_list(img, &i, list, sizeof(list)), (ssize_t)need);
	for (uint32_t k = 0; k < n; k++) {
		ck_assert_mem_eq(p, m->e[k].name, m->e[k].nlen);
		ck_assert_int_eq(p[m->e[k].nlen], '\0');
		p += m->e[k].nlen + 1;
	}
	ck_assert_int_eq(xipfs_xattr_list(img, &i, list, need), (ssize_t)need);
	if (need) {
		ck_assert_int_eq(xipfs_xattr_list(img, &i, list, need - 1), -ERANGE);
		ck_assert_int_eq(xipfs_xattr_list(img, &i, list, 1), -ERANGE);
	}
}

START_TEST(test_sets)
{
	struct xipfs_xattr a, b;
	struct xipfs_ino i, j;

	ck_assert_int_eq(timg_open(t, &img), 0);
	for (uint32_t ino = 1; ino < t->nnodes; ino++)
		check_set(ino);
	/* Shared means stored once: the same bytes for all three. */
	get(file, &i);
	get(lnk, &j);
	ck_assert_uint_eq(i.xattr, j.xattr);
	ck_assert_int_eq(xipfs_xattr_find(img, &i, "security.capability", &a), 0);
	ck_assert_int_eq(xipfs_xattr_find(img, &j, "security.capability", &b), 0);
	ck_assert_ptr_eq(a.value, b.value);
	/* Sorted by full name, as the format says. */
	ck_assert_int_eq(xipfs_xattr_at(img, &i, 0, &a), 0);
	ck_assert_mem_eq(a.name, "security.capability", a.name_len);
	ck_assert_int_eq(xipfs_xattr_count(img, &i), 8);
	get(plain, &i);
	ck_assert_int_eq(xipfs_xattr_count(img, &i), 0);
	ck_assert_int_eq(xipfs_xattr_list(img, &i, NULL, 0), 0);
	ck_assert_str_eq(timg_log(), "");
}
END_TEST

/* Offsets, counts and lengths that point outside: -EUCLEAN, not a crash. */
START_TEST(test_hostile)
{
	enum { TABLE, COUNT, NAMELEN, VALUELEN, NAMEBYTE };
	static const struct { int where; uint64_t val; unsigned len; } bad[] = {
		{ TABLE, 1, 4 }, { TABLE, 2, 4 }, { TABLE, 1u << 30, 4 },
		{ TABLE, UINT32_MAX - 3, 4 }, { COUNT, UINT32_MAX, 4 },
		{ COUNT, 1u << 20, 4 }, { NAMELEN, 0, 2 }, { NAMELEN, 256, 2 },
		{ NAMELEN, UINT16_MAX, 2 }, { VALUELEN, XIPFS_XATTR_VALUE_MAX + 1, 4 },
		{ VALUELEN, UINT32_MAX, 4 }, { VALUELEN, 1u << 20, 4 }, { NAMEBYTE, 0, 1 },
	};
	struct xipfs_xattr x;
	struct xipfs_ino i;
	char list[8];

	for (size_t k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
		/* Set 2 ("user.only", on the root) sits at the end of the area. */
		uint64_t set = timg_xset_off(t, 2), off;

		timg_build(t);
		switch (bad[k].where) {
		case TABLE:
			off = t->xattr_off + 4;
			break;
		case COUNT:
			off = set;
			break;
		case NAMELEN:
			off = set + 4;
			break;
		case VALUELEN:
			off = set + 8;
			break;
		default:
			off = set + 4 + 8 + 2;
			break;
		}
		timg_poke(t, off, bad[k].val, bad[k].len);
		ck_assert_int_eq(timg_open(t, &img), 0);
		get(1, &i);
		timg_log_capture();
		if (bad[k].where == COUNT)
			ck_assert_int_eq(xipfs_xattr_count(img, &i), -EUCLEAN);
		else if (bad[k].where == TABLE)
			ck_assert_msg(xipfs_xattr_count(img, &i) == -EUCLEAN,
				      "damage %zu: count accepted", k);
		ck_assert_msg(xipfs_xattr_find(img, &i, "user.only", &x) == -EUCLEAN,
			      "damage %zu: find accepted", k);
		ck_assert_int_eq(xipfs_xattr_list(img, &i, NULL, 0), -EUCLEAN);
		ck_assert_int_eq(xipfs_xattr_list(img, &i, list, sizeof(list)), -EUCLEAN);
		ck_assert_int_eq(xipfs_xattr_at(img, &i, 0, &x), -EUCLEAN);
		ck_assert_msg(strstr(timg_log(), "corrupt xattr"), "damage %zu: '%s'", k,
			      timg_log());
		/* The other set is intact. */
		check_set(file);
		xipfs_close(img);
		img = NULL;
	}
}
END_TEST

int main(void)
{
	const struct TTest *tests[] = { test_sets, test_hostile, NULL };

	return timg_main("xattr", setup, teardown, tests);
}
