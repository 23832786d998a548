// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The image walk shared by the fuzz targets.  Besides running every
 * read-only function of libxipfs (ASan and UBSan catch bad memory accesses),
 * it checks the promises of include/xipfs/xipfs.h that hold for any input,
 * valid or not: error codes, pointers inside the image, read and zero-copy
 * read agreeing.  Work per image is bounded (FUZZ_* in fuzz.h) so the
 * fuzzer keeps its speed; a hang inside the library is still a bug that
 * libFuzzer's -timeout reports.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz.h"

void fuzz_fail(const char *file, int line, const char *what)
{
	fprintf(stderr, "%s:%d: libxipfs broke its promise: %s\n", file, line, what);
	abort();
}

static void quiet_log(int level, const char *msg, void *arg)
{
	(void)level;
	(void)msg;
	(void)arg;
}

void fuzz_quiet(void)
{
	if (!getenv("FUZZ_VERBOSE"))
		xipfs_set_log(quiet_log, NULL);
}

/* An error a reader of a damaged image may see. */
static bool ok_err(long err)
{
	return err == -EUCLEAN || err == -ENOMEM || err == -EIO;
}

static bool in_image(const struct xipfs_image *img, const void *p, uint64_t len)
{
	const uint8_t *b = xipfs_image_base(img), *q = p;

	return q >= b && (uint64_t)(q - b) <= xipfs_image_size(img) &&
	       len <= xipfs_image_size(img) - (uint64_t)(q - b);
}

static void err_find(const struct xipfs_image *img, const struct xipfs_ino *ino,
		     const char *name)
{
	struct xipfs_xattr x;
	int err = xipfs_xattr_find(img, ino, name, &x);

	if (!err)
		FUZZ_CHECK(x.name_len == strlen(name) && !memcmp(x.name, name, x.name_len));
	else
		FUZZ_CHECK(err == -ENODATA || ok_err(err));
}

static void walk_xattrs(const struct xipfs_image *img, const struct xipfs_ino *ino)
{
	int n = xipfs_xattr_count(img, ino);
	ssize_t need, got;
	char name[XIPFS_XATTR_NAME_MAX + 1], *buf;
	struct xipfs_xattr x, y;

	if (n < 0) {
		FUZZ_CHECK(ok_err(n));
		return;
	}
	for (int i = 0; i < n && i < 256; i++) {
		int err = xipfs_xattr_at(img, ino, (uint32_t)i, &x);

		if (err) {
			FUZZ_CHECK(ok_err(err));
			continue;
		}
		FUZZ_CHECK(x.name_len >= 1 && x.name_len <= XIPFS_XATTR_NAME_MAX);
		FUZZ_CHECK(x.value_len <= XIPFS_XATTR_VALUE_MAX);
		FUZZ_CHECK(in_image(img, x.name, x.name_len));
		FUZZ_CHECK(in_image(img, x.value, x.value_len));
		memcpy(name, x.name, x.name_len);
		name[x.name_len] = 0;
		err = xipfs_xattr_find(img, ino, name, &y);
		if (!err)
			FUZZ_CHECK(y.name_len == strlen(name) &&
				   !memcmp(y.name, name, y.name_len));
		else
			FUZZ_CHECK(err == -ENODATA || ok_err(err));
	}
	/*
	 * The fuzzer may store any name, "user.absent" too (it is in the
	 * dictionary): a find only promises to return what it was asked for.
	 */
	err_find(img, ino, "user.absent");
	err_find(img, ino, "");
	xipfs_xattr_find(img, ino, "security.capability", &y);

	need = xipfs_xattr_list(img, ino, NULL, 0);
	if (need < 0) {
		FUZZ_CHECK(ok_err(need));
		return;
	}
	FUZZ_CHECK(need > 0 || n == 0);
	if (!need)
		return;
	buf = malloc((size_t)need);
	if (!buf)
		return;
	got = xipfs_xattr_list(img, ino, buf, (size_t)need);
	FUZZ_CHECK(got == need || (got < 0 && ok_err(got)));
	if (got > 0)
		FUZZ_CHECK(buf[got - 1] == 0);
	got = xipfs_xattr_list(img, ino, buf, (size_t)need - 1);
	FUZZ_CHECK(got == -ERANGE || (got < 0 && ok_err(got)));
	free(buf);
}

static void walk_dir(const struct xipfs_image *img, const struct xipfs_ino *dir)
{
	static const char *const absent[] = { "", ".", "..", "a/b", "\xff",
		"zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz" };
	struct xipfs_entry e, f;
	char name[XIPFS_NAME_MAX + 1];
	int err;

	for (uint32_t i = 0; i < dir->count && i < FUZZ_MAX_ENTRIES; i++) {
		err = xipfs_dir_entry(img, dir, i, &e);
		if (err) {
			FUZZ_CHECK(ok_err(err));
			continue;
		}
		FUZZ_CHECK(e.namelen >= 1 && in_image(img, e.name, e.namelen));
		FUZZ_CHECK(e.ino >= 1 && e.ino <= xipfs_inode_count(img));
		memcpy(name, e.name, e.namelen);
		name[e.namelen] = 0;
		err = xipfs_dir_lookup(img, dir, name, e.namelen, &f);
		if (!err)
			FUZZ_CHECK(f.namelen == e.namelen &&
				   !memcmp(f.name, name, e.namelen));
		else
			FUZZ_CHECK(err == -ENOENT || ok_err(err));
	}
	for (size_t i = 0; i < sizeof(absent) / sizeof(absent[0]); i++) {
		err = xipfs_dir_lookup(img, dir, absent[i], strlen(absent[i]), &f);
		if (!err)
			FUZZ_CHECK(f.namelen == strlen(absent[i]));
	}
	memset(name, 'x', sizeof(name));
	err = xipfs_dir_lookup(img, dir, name, sizeof(name), &f);
	FUZZ_CHECK(err != 0);
}

static void walk_extents(const struct xipfs_image *img, const struct xipfs_ino *ino)
{
	uint64_t size = xipfs_image_size(img);
	unsigned shift = xipfs_page_shift(img);
	struct xipfs_extent_info x;

	for (uint32_t i = 0; i < ino->count && i < FUZZ_MAX_ENTRIES; i++) {
		int err = xipfs_extent(img, ino, i, &x);
		int64_t p;

		if (err) {
			FUZZ_CHECK(ok_err(err));
			continue;
		}
		FUZZ_CHECK(x.count >= 1 && x.page >= 1);
		FUZZ_CHECK(((uint64_t)x.page + x.count) << shift <= size);
		p = xipfs_file_page(img, ino, x.lpage);
		FUZZ_CHECK(p < 0 || p == 0 || ((uint64_t)p + 1) << shift <= size);
		p = xipfs_file_page(img, ino, x.lpage + x.count - 1);
		FUZZ_CHECK(p < 0 || p == 0 || ((uint64_t)p + 1) << shift <= size);
	}
	xipfs_file_page(img, ino, 0);
	xipfs_file_page(img, ino, UINT64_MAX);
	xipfs_file_page(img, ino, ino->size >> shift);
}

/* Read with file_read and with file_iov: both must give the same bytes. */
static void walk_data(const struct xipfs_image *img, const struct xipfs_ino *ino,
		      size_t *budget)
{
	enum { CHUNK = 8192, MAXIOV = 8 };
	static uint8_t a[CHUNK], b[CHUNK];
	struct iovec iov[MAXIOV];
	uint64_t off = 0;

	while (off < ino->size && *budget > 0) {
		size_t len = CHUNK < *budget ? CHUNK : *budget, bytes = 0, at = 0;
		ssize_t n = xipfs_file_read(img, ino, a, len, off);
		int k;

		if (n < 0) {
			FUZZ_CHECK(ok_err(n));
			return;
		}
		FUZZ_CHECK((size_t)n <= len && (uint64_t)n <= ino->size - off);
		if (n == 0)
			return;
		k = xipfs_file_iov(img, ino, off, (size_t)n, iov, MAXIOV, &bytes);
		if (k < 0) {
			FUZZ_CHECK(ok_err(k));
			return;
		}
		FUZZ_CHECK(k <= MAXIOV && bytes <= (size_t)n);
		for (int i = 0; i < k; i++) {
			FUZZ_CHECK(at + iov[i].iov_len <= bytes);
			memcpy(b + at, iov[i].iov_base, iov[i].iov_len);
			at += iov[i].iov_len;
		}
		FUZZ_CHECK(at == bytes);
		FUZZ_CHECK(!memcmp(a, b, bytes));
		*budget -= (size_t)n;
		off += (uint64_t)n;
	}
	/* Past EOF and at absurd offsets. */
	FUZZ_CHECK(xipfs_file_read(img, ino, a, 16, ino->size) <= 0);
	FUZZ_CHECK(xipfs_file_read(img, ino, a, 16, UINT64_MAX - 3) <= 0);
	{
		size_t bytes = 1;
		int k = xipfs_file_iov(img, ino, UINT64_MAX - 3, 16, iov, MAXIOV, &bytes);

		FUZZ_CHECK(k < 0 || bytes == 0);
	}
}

static void walk_seek(const struct xipfs_image *img, const struct xipfs_ino *ino)
{
	const uint64_t offs[] = { 0, 1, xipfs_page_size(img), ino->size / 2,
				  ino->size ? ino->size - 1 : 0, ino->size,
				  UINT64_MAX };

	for (size_t i = 0; i < sizeof(offs) / sizeof(offs[0]); i++) {
		for (int w = 0; w < 2; w++) {
			int whence = w ? SEEK_HOLE : SEEK_DATA;
			int64_t r = xipfs_file_seek(img, ino, offs[i], whence);

			if (r < 0) {
				FUZZ_CHECK(r == -ENXIO || ok_err(r));
				continue;
			}
			FUZZ_CHECK((uint64_t)r >= offs[i] && (uint64_t)r <= ino->size);
		}
	}
}

void fuzz_walk(const struct xipfs_image *img)
{
	uint32_t count = xipfs_inode_count(img);
	size_t budget = FUZZ_READ_BUDGET;
	struct xipfs_fsck_stats st;
	struct xipfs_ino ino;
	int err;

	FUZZ_CHECK(xipfs_inode_get(img, 0, &ino) == -ENOENT);
	if (count < UINT32_MAX)
		FUZZ_CHECK(xipfs_inode_get(img, count + 1, &ino) == -ENOENT);
	for (uint32_t i = 1; i <= count && i <= FUZZ_MAX_INODES; i++) {
		const char *target;
		size_t len;

		err = xipfs_inode_get(img, i, &ino);
		if (err) {
			FUZZ_CHECK(ok_err(err));
			continue;
		}
		FUZZ_CHECK(ino.ino == i);
		walk_xattrs(img, &ino);
		switch (ino.mode & S_IFMT) {
		case S_IFDIR:
			walk_dir(img, &ino);
			break;
		case S_IFLNK:
			err = xipfs_readlink(img, &ino, &target, &len);
			if (err)
				FUZZ_CHECK(ok_err(err));
			else
				FUZZ_CHECK(len == ino.size && in_image(img, target, len));
			break;
		case S_IFREG:
			walk_extents(img, &ino);
			walk_data(img, &ino, &budget);
			walk_seek(img, &ino);
			break;
		default:
			break;
		}
	}
	xipfs_path_lookup(img, "/", &ino);
	xipfs_path_lookup(img, "", &ino);
	xipfs_path_lookup(img, "/a/b/c", &ino);
	xipfs_path_lookup(img, "//x//", &ino);
	memset(&st, 0, sizeof(st));
	err = xipfs_fsck(img, XIPFS_FSCK_DATA, &st);
	FUZZ_CHECK(err == 0 || ok_err(err));
	FUZZ_CHECK(err != 0 || st.errors == 0);
}
