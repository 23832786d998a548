// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * src/lib/pool.c and poolw.c: a pool under a test-unique name in /dev/shm.
 * Two images made by the test builder share four pages: the pool stores
 * the union once, every file reads as the builder's model says, a live
 * update and a remove change what a label names, a full pool refuses and
 * commits nothing, and the reader refuses each damaged field of the
 * header and directory (CRC re-sealed, so the field check is what refuses
 * it) with a message naming the offset.  Creating a pool writes its
 * headers whole through short writes, and a failed write is refused with
 * a message naming the file and offset.
 */
#include <check.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testimg.h"
#include "xipfs/pool.h"

static struct timg *tx, *ty;

/*
 * pwrite() as the library sees it, for xipfs_pool_create(): every call
 * short (7 bytes at most), or the one at the pool header's offset failing
 * with EIO or writing nothing.
 */
static enum { PW_REAL, PW_SHORT, PW_EIO_HDR, PW_ZERO_HDR } pw_mode;

ssize_t pwrite(int fd, const void *buf, size_t len, off_t off)
{
	static ssize_t (*real_pwrite)(int, const void *, size_t, off_t);

	if (!real_pwrite)
		real_pwrite = (ssize_t (*)(int, const void *, size_t, off_t))
			dlsym(RTLD_NEXT, "pwrite");
	if (pw_mode == PW_SHORT && len > 7)
		len = 7;
	if (off == XIPFS_POOL_OFFSET && pw_mode == PW_EIO_HDR) {
		errno = EIO;
		return -1;
	}
	if (off == XIPFS_POOL_OFFSET && pw_mode == PW_ZERO_HDR)
		return 0;
	return real_pwrite(fd, buf, len, off);
}
static char name[64], px[PATH_MAX], py[PATH_MAX];

static void write_image(struct timg *t, char *path)
{
	int fd;

	snprintf(path, PATH_MAX, "/tmp/check_pool.XXXXXX");
	fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, t->buf, t->size), (ssize_t)t->size);
	close(fd);
}

/* X: a (seed 1, 4 pages), b (seed 2: 2 pages, a hole, 1 page); Y: a, c. */
static void setup(void)
{
	uint32_t f;

	timg_log_capture();
	snprintf(name, sizeof(name), "unit-pool.%d", (int)getpid());
	tx = timg_new(12);
	f = timg_add(tx, 1, "a", S_IFREG | 0644);
	timg_fill(tx, f, 0, 4, 1);
	f = timg_add(tx, 1, "b", S_IFREG | 0600);
	timg_fill(tx, f, 0, 2, 2);
	timg_fill(tx, f, 7, 1, 2);
	timg_truncate(tx, f, 7 * 4096 + 100);
	timg_build(tx);
	write_image(tx, px);
	ty = timg_new(12);
	f = timg_add(ty, 1, "a", S_IFREG | 0644);
	timg_fill(ty, f, 0, 4, 1);
	f = timg_add(ty, 1, "c", S_IFREG | 0644);
	timg_fill(ty, f, 0, 3, 3);
	timg_build(ty);
	write_image(ty, py);
	ck_assert_int_eq(xipfs_pool_create(name, 1 << 20, 12), 0);
}

static void teardown(void)
{
	xipfs_segment_unload(name);
	unlink(px);
	unlink(py);
	timg_free(tx);
	timg_free(ty);
}

/* Every file of @t reads through @label of the pool as the model says. */
static void check_label(struct timg *t, const char *label)
{
	struct xipfs_segment *seg;
	struct xipfs_image *img;

	ck_assert_int_eq(xipfs_segment_open(name, &seg), 0);
	ck_assert_int_eq(xipfs_segment_image(seg, "pool", label, 0, &img), 0);
	ck_assert(xipfs_super_offset(img) > 0);
	for (uint32_t ino = 2; ino < t->nnodes; ino++) {
		struct xipfs_ino in;
		char want[8 * 4096], got[8 * 4096];
		ssize_t n;

		ck_assert_int_eq(xipfs_inode_get(img, ino, &in), 0);
		ck_assert_uint_eq(in.size, t->nodes[ino].size);
		n = timg_model_read(t, ino, 0, sizeof(want), want);
		ck_assert_int_eq(xipfs_file_read(img, &in, got, sizeof(got), 0), n);
		ck_assert_mem_eq(got, want, (size_t)n);
	}
	xipfs_close(img);
	xipfs_segment_close(seg);
}

static struct xipfs_pool_info *read_pool(struct xipfs_segment **seg)
{
	struct xipfs_pool_info *p;

	ck_assert_int_eq(xipfs_segment_open(name, seg), 0);
	ck_assert_int_eq(xipfs_pool_read(xipfs_segment_base(*seg), xipfs_segment_size(*seg),
					 "pool", &p), 0);
	return p;
}

START_TEST(test_add)
{
	struct xipfs_pool_add_stats st;
	struct xipfs_segment *seg;
	struct xipfs_pool_info *p;
	struct xipfs_pool_map *m;

	ck_assert_int_eq(xipfs_pool_add(name, px, "x", &st), 0);
	ck_assert_uint_eq(st.pages, 7);
	ck_assert_uint_eq(st.new_pages, 7);
	ck_assert_uint_eq(st.version, 1);
	ck_assert_int_eq(xipfs_pool_add(name, py, "y", &st), 0);
	ck_assert_uint_eq(st.pages, 7);
	ck_assert_uint_eq(st.new_pages, 3);
	check_label(tx, "x");
	check_label(ty, "y");
	check_label(tx, NULL);	/* the first live image */
	p = read_pool(&seg);
	ck_assert_uint_eq(p->count, 2);
	ck_assert_uint_eq(p->generation, 2);
	ck_assert_int_eq(xipfs_pool_map(xipfs_segment_base(seg), xipfs_segment_size(seg), p,
					"pool", NULL, 0, &m), 0);
	ck_assert_uint_eq(m->errors, 0);
	ck_assert_uint_eq(m->data, 10);
	ck_assert_uint_eq(m->use[0].pages, 7);
	ck_assert_uint_eq(m->use[0].shared, 4);
	ck_assert_uint_eq(m->use[1].shared, 4);
	/* Four pages held by two images: each saves half of each. */
	ck_assert_uint_eq(m->use[0].saved + m->use[1].saved, 4 * 4096);
	xipfs_pool_map_free(m);
	xipfs_pool_free(p);
	xipfs_segment_close(seg);
	ck_assert_str_eq(timg_log(), "");
}
END_TEST

START_TEST(test_update_remove)
{
	struct xipfs_pool_add_stats st;
	struct xipfs_segment *seg;
	struct xipfs_pool_info *p;
	struct xipfs_image *img;

	ck_assert_int_eq(xipfs_pool_add(name, px, "l", &st), 0);
	ck_assert_int_eq(xipfs_pool_add(name, py, "l", &st), 0);
	ck_assert_uint_eq(st.version, 2);
	ck_assert_uint_eq(st.new_pages, 3);
	check_label(ty, "l");
	p = read_pool(&seg);
	ck_assert_uint_eq(p->count, 2);
	ck_assert_uint_eq(p->labels[0].flags, 0);
	ck_assert_uint_eq(p->labels[1].flags, XIPFS_POOL_LIVE);
	ck_assert_int_eq(xipfs_pool_find(p, "l"), 1);
	xipfs_pool_free(p);
	xipfs_segment_close(seg);
	ck_assert_int_eq(xipfs_pool_remove(name, "l"), 0);
	ck_assert_int_eq(xipfs_pool_remove(name, "l"), -ENOENT);
	ck_assert_int_eq(xipfs_segment_open(name, &seg), 0);
	ck_assert_int_eq(xipfs_segment_image(seg, "pool", "l", 0, &img), -ENOENT);
	ck_assert_ptr_nonnull(strstr(timg_log(), "pool: the pool has no image labelled 'l'"));
	xipfs_segment_close(seg);
}
END_TEST

START_TEST(test_full)
{
	struct xipfs_pool_add_stats st;
	struct xipfs_segment *seg;
	struct xipfs_pool_info *p;

	xipfs_segment_unload(name);
	ck_assert_int_eq(xipfs_pool_create(name, 16384, 12), 0);	/* 3 free pages */
	ck_assert_int_eq(xipfs_pool_add(name, px, "x", &st), -ENOSPC);
	ck_assert_ptr_nonnull(strstr(timg_log(), "is full"));
	p = read_pool(&seg);
	ck_assert_uint_eq(p->generation, 0);
	ck_assert_uint_eq(p->count, 0);
	xipfs_pool_free(p);
	xipfs_segment_close(seg);
	ck_assert_int_eq(xipfs_pool_add(name, px, "bad/label", &st), -EINVAL);
}
END_TEST

/* Headers written seven bytes at a time make the same pool. */
START_TEST(test_create_short_writes)
{
	struct xipfs_pool_add_stats st;

	xipfs_segment_unload(name);
	pw_mode = PW_SHORT;
	ck_assert_int_eq(xipfs_pool_create(name, 1 << 20, 12), 0);
	pw_mode = PW_REAL;
	ck_assert_str_eq(timg_log(), "");
	ck_assert_int_eq(xipfs_pool_add(name, px, "x", &st), 0);
	check_label(tx, "x");
}
END_TEST

/* A header write that fails or makes no progress: refused, naming file and offset. */
START_TEST(test_create_write_fails)
{
	char want[128];
	int mode;

	snprintf(want, sizeof(want), "xipfs.%s.", name);
	for (mode = PW_EIO_HDR; mode <= PW_ZERO_HDR; mode++) {
		xipfs_segment_unload(name);
		timg_log_capture();
		pw_mode = mode;
		ck_assert_int_eq(xipfs_pool_create(name, 1 << 20, 12), -EIO);
		pw_mode = PW_REAL;
		ck_assert_ptr_nonnull(strstr(timg_log(), want));
		ck_assert_ptr_nonnull(strstr(timg_log(), ": cannot write 64 bytes at offset 512: "));
		ck_assert_int_eq(xipfs_segment_unload(name), -ENOENT);
	}
}
END_TEST

/* Re-seal the directory's CRC after a change, as a writer would. */
static void seal_dir(uint8_t *b, uint64_t dir)
{
	struct xipfs_pool_dir d;
	uint32_t crc;

	memcpy(&d, b + dir, sizeof(d));
	d.d_crc = 0;
	crc = xipfs_crc32c(0, &d, sizeof(d));
	crc = xipfs_crc32c(crc, b + dir + sizeof(d), xipfs_le64(d.d_bytes) - sizeof(d));
	d.d_crc = xipfs_cpu_to_le32(crc);
	memcpy(b + dir, &d, sizeof(d));
}

START_TEST(test_damage)
{
	struct xipfs_pool_add_stats st;
	struct xipfs_segment *seg;
	struct xipfs_pool_info *p;
	struct xipfs_image *img;
	uint8_t *b;
	size_t size;
	uint64_t dir, e0;
	/* off: from the directory (dir) or page 0; seal: re-seal the CRC. */
	const struct {
		bool in_dir;
		uint64_t off;
		unsigned len;
		uint64_t val;
		bool seal;
		const char *why;
	} bad[] = {
		{ false, 512, 1, 'Y', false, "header: no pool magic" },
		{ false, 520, 8, 4095, false, "directory offset" },
		{ false, 28, 4, 1, false, "superblock" },
		{ true, 0, 1, 'Y', false, "directory magic" },
		{ true, 70, 1, 1, false, "directory checksum" },
		{ true, offsetof(struct xipfs_pool_dir, d_count), 4, 3, true, "directory size" },
		{ true, offsetof(struct xipfs_pool_dir, d_next_page), 8, 1 << 20, true,
		  "directory next page" },
		{ true, 64, 1, '/', true, "directory entry" },
		{ true, 64 + 40, 8, 4096 + 1, true, "directory entry" },
		{ true, 64 + 52, 4, 2, true, "directory entry" },
	};

	ck_assert_int_eq(xipfs_pool_add(name, px, "x", &st), 0);
	ck_assert_int_eq(xipfs_segment_open(name, &seg), 0);
	size = xipfs_segment_size(seg);
	b = malloc(size);
	ck_assert_ptr_nonnull(b);
	memcpy(&dir, (const uint8_t *)xipfs_segment_base(seg) + 520, 8);
	dir = xipfs_le64(dir);
	memcpy(&e0, (const uint8_t *)xipfs_segment_base(seg) + dir + 64 + 40, 8);
	e0 = xipfs_le64(e0);
	for (size_t k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
		uint64_t at = (bad[k].in_dir ? dir : 0) + bad[k].off, v = xipfs_cpu_to_le64(bad[k].val);
		char want[128];

		memcpy(b, xipfs_segment_base(seg), size);
		memcpy(b + at, &v, bad[k].len);
		if (bad[k].seal)
			seal_dir(b, dir);
		timg_log_capture();
		ck_assert_msg(xipfs_pool_read(b, size, "pool", &p) == -EUCLEAN,
			      "damage %zu accepted", k);
		snprintf(want, sizeof(want), "pool: corrupt pool %s", bad[k].why);
		ck_assert_msg(strstr(timg_log(), want), "damage %zu: '%s', want '%s'", k,
			      timg_log(), want);
	}
	/* A free run over the image's pages, or out of order. */
	memcpy(b, xipfs_segment_base(seg), size);
	{
		struct xipfs_pool_dir d;
		struct xipfs_pool_run r = { xipfs_cpu_to_le64(e0 / 4096), xipfs_cpu_to_le64(1) };
		struct xipfs_pool_map *m;

		memcpy(&d, b + dir, sizeof(d));
		d.d_free_count = xipfs_cpu_to_le32(1);
		d.d_bytes = xipfs_cpu_to_le64(xipfs_le64(d.d_bytes) + sizeof(r));
		memcpy(b + dir, &d, sizeof(d));
		memcpy(b + dir + 64 + 64, &r, sizeof(r));
		seal_dir(b, dir);
		ck_assert_int_eq(xipfs_pool_read(b, size, "pool", &p), 0);
		timg_log_capture();
		ck_assert_int_eq(xipfs_pool_map(b, size, p, "pool", NULL, 0, &m), 0);
		ck_assert_uint_ne(m->errors, 0);
		ck_assert_ptr_nonnull(strstr(timg_log(), "is already free"));
		xipfs_pool_map_free(m);
		xipfs_pool_free(p);
	}
	/* The pool itself is no image; an image is only where an entry says. */
	timg_log_capture();
	ck_assert_int_eq(xipfs_open_mem(xipfs_segment_base(seg), size, "pool", 0, &img), -EISDIR);
	ck_assert_ptr_nonnull(strstr(timg_log(), "a pool of images"));
	ck_assert_int_eq(xipfs_open_mem_at(xipfs_segment_base(seg), size, e0 + 4096, "pool", 0,
					   &img), -EUCLEAN);
	ck_assert_int_eq(xipfs_open_mem_at(xipfs_segment_base(seg), size, e0, "pool", 0, &img), 0);
	xipfs_close(img);
	free(b);
	xipfs_segment_close(seg);
}
END_TEST

int main(void)
{
	const struct TTest *tests[] = { test_add, test_update_remove, test_full, test_damage,
					test_create_short_writes, test_create_write_fails, NULL };

	if (geteuid() != 0) {
		fprintf(stderr, "SKIP check_pool: pools are root's (/dev/shm, chown)\n");
		return getenv("XIPFS_NO_SKIP") ? 1 : 77;
	}
	return timg_main("pool", setup, teardown, tests);
}
