// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * src/lib/file.c: extents, page lookup, reads, zero-copy iovecs and
 * SEEK_DATA/SEEK_HOLE, on files with holes, split, reversed and shared
 * extents, EOF tails and a sparse file past 4 GiB, all against the
 * builder's model of each file.
 */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testimg.h"

static struct timg *t;
static struct xipfs_image *img;
static uint8_t *got, *want;

enum { BUF = 1 << 20 };

static void setup(void)
{
	timg_log_capture();
	t = NULL;
	img = NULL;
	got = malloc(BUF);
	want = malloc(BUF);
}

static void teardown(void)
{
	xipfs_close(img);
	timg_free(t);
	free(got);
	free(want);
}

/* Files of every shape, inode numbers in @f[]: see the comments. */
enum {
	F_PLAIN, F_HOLES, F_SPLIT, F_REVERSE, F_SHARED, F_ALLHOLE, F_EMPTY,
	F_ZEROPAGE, F_TAILHOLE, F_ONEBYTE, NFILES
};

static uint32_t f[NFILES];

static void build_files(unsigned shift)
{
	static const char *const names[NFILES] = {
		"plain", "holes", "split", "reverse", "shared", "allhole",
		"empty", "zeropage", "tailhole", "onebyte",
	};
	uint8_t *zero;

	t = timg_new(shift);
	for (int i = 0; i < NFILES; i++)
		f[i] = timg_add(t, 1, names[i], S_IFREG | 0644);
	/* Contiguous: one extent, a partial last page. */
	timg_fill(t, f[F_PLAIN], 0, 3, 1);
	timg_truncate(t, f[F_PLAIN], 2 * (uint64_t)t->psize + 1000);
	/* Leading hole, inner holes, a hole before EOF. */
	timg_fill(t, f[F_HOLES], 2, 2, 2);
	timg_fill(t, f[F_HOLES], 5, 1, 3);
	timg_fill(t, f[F_HOLES], 9, 3, 4);
	timg_truncate(t, f[F_HOLES], 14 * (uint64_t)t->psize + 7);
	/* Abutting one-page extents, contiguous in the image. */
	timg_fill(t, f[F_SPLIT], 0, 4, 5);
	timg_fill(t, f[F_SPLIT], 6, 2, 6);
	timg_layout(t, f[F_SPLIT], TIMG_SPLIT);
	/* Pages stored backwards: every page its own extent. */
	timg_fill(t, f[F_REVERSE], 1, 5, 7);
	timg_truncate(t, f[F_REVERSE], 6 * (uint64_t)t->psize - 1);
	timg_layout(t, f[F_REVERSE], TIMG_REVERSE);
	timg_share(t, f[F_SHARED], f[F_HOLES]);
	timg_truncate(t, f[F_ALLHOLE], 3 * (uint64_t)t->psize + 5);
	/* An explicitly written zero page is a hole, not data. */
	zero = calloc(1, t->psize);
	timg_fill(t, f[F_ZEROPAGE], 0, 1, 8);
	timg_write(t, f[F_ZEROPAGE], t->psize, zero, t->psize);
	timg_fill(t, f[F_ZEROPAGE], 2, 1, 9);
	free(zero);
	timg_fill(t, f[F_TAILHOLE], 0, 1, 10);
	timg_truncate(t, f[F_TAILHOLE], 4 * (uint64_t)t->psize);
	timg_write(t, f[F_ONEBYTE], 0, "x", 1);
	timg_build(t);
	ck_assert_int_eq(timg_open(t, &img), 0);
}

static void get(uint32_t ino, struct xipfs_ino *i)
{
	int err = xipfs_inode_get(img, ino, i);

	TIMG_REQUIRE(err == 0, "inode %u: %d", ino, err);
}

/* Read @len at @off through file_read and file_iov (@maxiov), vs the model. */
static void check_read(uint32_t ino, uint64_t off, size_t len, int maxiov)
{
	struct xipfs_ino i;
	struct iovec iov[8];
	ssize_t w = timg_model_read(t, ino, off, len, want);
	ssize_t g;
	size_t bytes, pos = 0;
	int n;

	get(ino, &i);
	memset(got, 0xa5, len);
	g = xipfs_file_read(img, &i, got, len, off);
	TIMG_REQUIRE(g == w, "inode %u read %zu at %llu: %zd bytes, want %zd", ino, len,
		     (unsigned long long)off, g, w);
	TIMG_REQUIRE(!memcmp(got, want, (size_t)w), "inode %u read %zu at %llu: wrong bytes",
		     ino, len, (unsigned long long)off);
	n = xipfs_file_iov(img, &i, off, len, iov, maxiov, &bytes);
	/* Stopped early only when out of iovecs; never more bytes than asked. */
	TIMG_REQUIRE(n >= 0 && n <= maxiov && bytes <= (size_t)w &&
		     (n > 0 || bytes == 0) && (n == maxiov || bytes == (size_t)w),
		     "inode %u iov %zu at %llu (%d iovecs): %d, %zu bytes of %zd", ino, len,
		     (unsigned long long)off, maxiov, n, bytes, w);
	for (int k = 0; k < n; k++) {
		TIMG_REQUIRE(iov[k].iov_len > 0 &&
			     !memcmp(iov[k].iov_base, want + pos, iov[k].iov_len),
			     "inode %u iov %zu at %llu: iovec %d wrong", ino, len,
			     (unsigned long long)off, k);
		pos += iov[k].iov_len;
	}
	TIMG_REQUIRE(pos == bytes, "iovecs hold %zu bytes, %zu reported", pos, bytes);
}

/* Reads at page edges, straddling extents and holes, and past EOF. */
START_TEST(test_read)
{
	static const unsigned shifts[] = { 12, 14, 16 };
	uint64_t s = 12345;

	build_files(shifts[_i]);
	for (int k = 0; k < NFILES; k++) {
		uint64_t size = timg_node(t, f[k])->size, ps = t->psize;
		const uint64_t offs[] = { 0, 1, ps - 1, ps, ps + 1, 2 * ps - 3, 3 * ps,
					  5 * ps - 10, size ? size - 1 : 0, size, size + 1,
					  size + ps, UINT64_MAX - 5 };
		const size_t lens[] = { 0, 1, 7, ps - 1, ps, ps + 1, 2 * ps + 5, 9 * ps,
					BUF };

		for (size_t a = 0; a < sizeof(offs) / sizeof(offs[0]); a++)
			for (size_t b = 0; b < sizeof(lens) / sizeof(lens[0]); b++)
				for (int m = 1; m <= 8; m *= 2)
					check_read(f[k], offs[a], lens[b], m);
		/* And some random ones. */
		for (int r = 0; r < 200; r++) {
			s = s * 6364136223846793005ull + 1442695040888963407ull;
			check_read(f[k], (s >> 20) % (size + ps), (s >> 40) % (4 * ps), 1 + r % 8);
		}
	}
}
END_TEST

/* The image page of each logical page, and the extents, vs the model. */
START_TEST(test_pages_extents)
{
	static const unsigned shifts[] = { 12, 14, 16 };

	build_files(shifts[_i]);
	for (int k = 0; k < NFILES; k++) {
		struct timg_node *n = timg_node(t, f[k]);
		struct timg_node *d = n->share ? timg_node(t, n->share) : n;
		struct xipfs_extent_info e;
		struct xipfs_ino i;
		uint64_t covered = 0, next = 0;

		get(f[k], &i);
		ck_assert_uint_eq(i.count, n->count);
		ck_assert_uint_eq(i.blocks, timg_model_blocks(t, f[k]));
		for (uint64_t lp = 0; lp < ((n->size + t->psize - 1) >> t->shift) + 3; lp++) {
			const uint8_t *data = timg_page_data(t, f[k], lp);
			int64_t p = xipfs_file_page(img, &i, lp);

			if (!data) {
				ck_assert_int_eq(p, 0);
				continue;
			}
			ck_assert_int_gt(p, 0);
			ck_assert_mem_eq(t->buf + ((uint64_t)p << t->shift), data, t->psize);
			for (uint32_t x = 0; x < d->npages; x++)
				if (d->pages[x].lpage == lp)
					ck_assert_uint_eq(p, d->pages[x].ipage);
		}
		for (uint32_t x = 0; x < i.count; x++) {
			ck_assert_int_eq(xipfs_extent(img, &i, x, &e), 0);
			ck_assert_uint_ge(e.lpage, next);
			ck_assert_uint_ge(e.count, 1);
			for (uint32_t c = 0; c < e.count; c++)
				ck_assert_int_eq(xipfs_file_page(img, &i, e.lpage + c), e.page + c);
			next = e.lpage + e.count;
			covered += e.count;
		}
		ck_assert_uint_eq(covered * (t->psize / 512), timg_model_blocks(t, f[k]));
		ck_assert_int_eq(xipfs_extent(img, &i, i.count, &e), -ENOENT);
	}
	{
		struct xipfs_ino i;
		struct xipfs_extent_info e;

		ck_assert_uint_eq(timg_node(t, f[F_SPLIT])->count, 6);
		ck_assert_uint_eq(timg_node(t, f[F_REVERSE])->count, 5);
		ck_assert_uint_eq(timg_node(t, f[F_PLAIN])->count, 1);
		ck_assert_uint_eq(timg_node(t, f[F_ZEROPAGE])->count, 2);
		get(1, &i);
		ck_assert_int_eq(xipfs_extent(img, &i, 0, &e), -EINVAL);
	}
}
END_TEST

static void check_seek(uint32_t ino, const struct xipfs_ino *i, uint64_t off)
{
	static const int whence[] = { SEEK_DATA, SEEK_HOLE };

	for (int w = 0; w < 2; w++) {
		int64_t g = xipfs_file_seek(img, i, off, whence[w]);
		int64_t m = timg_model_seek(t, ino, off, whence[w]);

		TIMG_REQUIRE(g == m, "inode %u %s %llu: %lld, want %lld", ino,
			     w ? "SEEK_HOLE" : "SEEK_DATA", (unsigned long long)off,
			     (long long)g, (long long)m);
	}
}

/* SEEK_DATA and SEEK_HOLE at every page edge of every file. */
START_TEST(test_seek)
{
	static const unsigned shifts[] = { 12, 16 };

	build_files(shifts[_i]);
	for (int k = 0; k < NFILES; k++) {
		uint64_t size = timg_node(t, f[k])->size, ps = t->psize;
		struct xipfs_ino i;

		get(f[k], &i);
		for (uint64_t base = 0; base <= size + ps; base += ps) {
			const uint64_t offs[] = { base, base + 1, base + ps / 2, base + ps - 1,
						  size - 1, size, size + 1 };

			for (size_t a = 0; a < sizeof(offs) / sizeof(offs[0]); a++)
				check_seek(f[k], &i, offs[a]);
		}
		ck_assert_int_eq(xipfs_file_seek(img, &i, 0, SEEK_SET), size ? -EINVAL : -ENXIO);
	}
	/* The model itself: the split file is data up to its hole at page 4. */
	ck_assert_int_eq(timg_model_seek(t, f[F_SPLIT], 0, SEEK_HOLE), 4 * t->psize);
	ck_assert_int_eq(timg_model_seek(t, f[F_HOLES], 0, SEEK_DATA), 2 * t->psize);
}
END_TEST

/* A sparse file past 4 GiB: offsets above 32 bits in every call. */
START_TEST(test_huge)
{
	static const unsigned shifts[] = { 12, 16 };
	uint64_t g4 = 1ull << 32, size = 5 * g4 + 4321;
	struct xipfs_ino i;
	uint32_t h;

	t = timg_new(shifts[_i]);
	h = timg_add(t, 1, "huge", S_IFREG | 0644);
	timg_fill(t, h, 0, 1, 1);
	timg_fill(t, h, (g4 >> t->shift) - 1, 2, 2);	/* straddles 4 GiB */
	timg_fill(t, h, (3 * g4 >> t->shift), 1, 3);
	timg_fill(t, h, size >> t->shift, 1, 4);
	timg_truncate(t, h, size);
	timg_build(t);
	ck_assert_int_eq(timg_open(t, &img), 0);
	get(h, &i);
	ck_assert_uint_eq(i.size, size);
	ck_assert_uint_eq(i.blocks, 5 * (t->psize / 512));
	{
		const uint64_t offs[] = { 0, g4 - t->psize - 1, g4 - 3, g4, g4 + t->psize - 1,
					  2 * g4, 3 * g4 - 1, 3 * g4 + 5, size - 4321, size - 10,
					  size, size + g4 };

		for (size_t a = 0; a < sizeof(offs) / sizeof(offs[0]); a++) {
			check_read(h, offs[a], 3 * t->psize, 4);
			check_read(h, offs[a], 10, 1);
			check_seek(h, &i, offs[a]);
		}
	}
	ck_assert_int_eq(xipfs_file_seek(img, &i, g4 - 3, SEEK_HOLE), g4 + t->psize);
	ck_assert_int_eq(xipfs_file_seek(img, &i, g4 + t->psize, SEEK_DATA), 3 * g4);
	ck_assert_int_gt(xipfs_file_page(img, &i, size >> t->shift), 0);
	ck_assert_int_eq(xipfs_file_page(img, &i, (size >> t->shift) + 1), 0);
}
END_TEST

/*
 * Pieces adjacent in memory are one iovec, even across extents; a hole is
 * served one zero page per iovec; reversed pages never merge.
 */
START_TEST(test_iov_merge)
{
	uint64_t ps;
	struct xipfs_ino i;
	struct iovec iov[8];
	size_t bytes;

	build_files(12);
	ps = t->psize;
	get(f[F_SPLIT], &i);
	ck_assert_int_eq(xipfs_file_iov(img, &i, 10, 8 * ps, iov, 1, &bytes), 1);
	ck_assert_uint_eq(bytes, 4 * ps - 10);
	ck_assert_int_eq(xipfs_file_iov(img, &i, 0, 8 * ps, iov, 8, &bytes), 4);
	ck_assert_uint_eq(iov[1].iov_len, ps);		/* hole page 4 */
	ck_assert_uint_eq(iov[2].iov_len, ps);		/* hole page 5 */
	ck_assert_uint_eq(iov[3].iov_len, 2 * ps);	/* pages 6-7 */
	ck_assert_uint_eq(bytes, 8 * ps);
	get(f[F_REVERSE], &i);
	ck_assert_int_eq(xipfs_file_iov(img, &i, ps, 3 * ps, iov, 8, &bytes), 3);
	ck_assert_uint_eq(bytes, 3 * ps);
}
END_TEST

/* Non-files are refused; a read of 0 bytes or past EOF reads nothing. */
START_TEST(test_not_file)
{
	struct xipfs_ino i;
	struct iovec iov[2];
	size_t bytes = 99;
	char c;

	build_files(12);
	get(1, &i);
	ck_assert_int_eq(xipfs_file_read(img, &i, &c, 1, 0), -EINVAL);
	ck_assert_int_eq(xipfs_file_iov(img, &i, 0, 1, iov, 2, &bytes), -EINVAL);
	ck_assert_uint_eq(bytes, 0);
	ck_assert_int_eq(xipfs_file_page(img, &i, 0), -EINVAL);
	ck_assert_int_eq(xipfs_file_seek(img, &i, 0, SEEK_DATA), -EINVAL);
	get(f[F_ONEBYTE], &i);
	ck_assert_int_eq(xipfs_file_iov(img, &i, 0, 1, iov, 0, &bytes), 0);
	ck_assert_int_eq(xipfs_file_read(img, &i, &c, 1, 0), 1);
	ck_assert_int_eq(c, 'x');
	ck_assert_int_eq(xipfs_file_read(img, &i, &c, 1, 1), 0);
	ck_assert_str_eq(timg_log(), "");
}
END_TEST

/* Damaged extents: inode_get refuses the file, naming the extent. */
START_TEST(test_extent_hostile)
{
	static const struct { int ext; size_t field; uint64_t val; } bad[] = {
		{ 0, offsetof(struct xipfs_extent, e_count), 0 },
		{ 0, offsetof(struct xipfs_extent, e_page), 0 },
		{ 0, offsetof(struct xipfs_extent, e_page), 1000 },
		{ 0, offsetof(struct xipfs_extent, e_page), UINT32_MAX },
		{ 0, offsetof(struct xipfs_extent, e_count), UINT32_MAX },
		{ 2, offsetof(struct xipfs_extent, e_count), 7 },	/* past EOF */
		{ 2, offsetof(struct xipfs_extent, e_count), 200 },	/* past the data */
		{ 1, offsetof(struct xipfs_extent, e_lpage), 0 },	/* overlaps */
		{ 1, offsetof(struct xipfs_extent, e_lpage), 3 },	/* overlaps */
		{ 2, offsetof(struct xipfs_extent, e_lpage), 100 },	/* past EOF */
		{ 2, offsetof(struct xipfs_extent, e_lpage), UINT32_MAX },
		{ 1, offsetof(struct xipfs_extent, e_page), 0 },	/* see below */
	};
	const size_t n = sizeof(bad) / sizeof(bad[0]);
	struct xipfs_ino i;

	build_files(12);
	for (size_t k = 0; k < n; k++) {
		/* The last case: the first metadata page, just past the data. */
		uint64_t val = k == n - 1 ? t->data_start + t->data_pages : bad[k].val;

		xipfs_close(img);
		img = NULL;
		timg_build(t);
		timg_poke(t, timg_extent_off(t, f[F_HOLES], bad[k].ext) + bad[k].field, val, 4);
		ck_assert_int_eq(timg_open(t, &img), 0);
		timg_log_capture();
		ck_assert_msg(xipfs_inode_get(img, f[F_HOLES], &i) == -EUCLEAN,
			      "damage %zu accepted", k);
		ck_assert_msg(strstr(timg_log(), "corrupt extent at offset"),
			      "damage %zu: '%s'", k, timg_log());
		/* The file sharing the list is refused too; the others are fine. */
		ck_assert_int_eq(xipfs_inode_get(img, f[F_SHARED], &i), -EUCLEAN);
		get(f[F_PLAIN], &i);
		check_read(f[F_PLAIN], 0, 3 * t->psize, 4);
	}
}
END_TEST

int main(void)
{
	Suite *s = suite_create("file");
	TCase *tc = tcase_create("file");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_loop_test(tc, test_read, 0, 3);
	tcase_add_loop_test(tc, test_pages_extents, 0, 3);
	tcase_add_loop_test(tc, test_seek, 0, 2);
	tcase_add_loop_test(tc, test_huge, 0, 2);
	tcase_add_test(tc, test_iov_merge);
	tcase_add_test(tc, test_not_file);
	tcase_add_test(tc, test_extent_hostile);
	suite_add_tcase(s, tc);
	return timg_run(s);
}
