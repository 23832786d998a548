// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Loading an image into a named segment (xipfsctl load): a tmpfs file in
 * /dev/shm or a hugetlbfs file, checked as any image and, when asked,
 * against a digest or its Merkle tree before it is put in place.  Apart
 * from segment.c so that what only loading needs (SHA-256: libcrypto)
 * stays out of the programs that only open segments: the daemon, which a
 * guest's initramfs carries and keeps in memory.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "xipfs/xipfs.h"
#include "xipfs/segment.h"
#include "internal.h"

static int check_blob(const void *base, size_t len, const char *path, const uint8_t *want)
{
	char a[XIPFS_DIGEST_STR_LEN], b[XIPFS_DIGEST_STR_LEN];
	uint8_t got[32];
	int err = xipfs_sha256(base, len, got);

	if (err || !memcmp(got, want, sizeof(got)))
		return err;
	xipfs_digest_format(got, a);
	xipfs_digest_format(want, b);
	xipfs_log(XIPFS_LOG_ERR, "%s: the copied bytes are %s, not the layer digest %s",
		  path, a, b);
	return -EUCLEAN;
}

/*
 * Validate the copy at @base (@len bytes) of image @path, as any image,
 * and with @o's digest or verify against its Merkle tree: what is checked
 * is what gets sealed and served.
 */
static int check_copy(const void *base, size_t len, const char *path,
		      const struct xipfs_load_opts *o)
{
	struct xipfs_verify_stats st;
	int err = xipfs_seg_check_image(base, len, path);

	if (!err && o && (o->digest || o->verify))
		err = xipfs_verify_mem(base, len, path, o->digest, &st);
	if (!err && o && o->blob_sha256)
		err = check_blob(base, len, path, o->blob_sha256);
	return err;
}

/* Validate the @size bytes written to @fd, through a read-only mapping. */
static int check_fd(int fd, size_t size, const char *path, const struct xipfs_load_opts *o)
{
	void *m = mmap(NULL, size, PROT_READ, MAP_SHARED, fd, 0);
	int err;

	if (m == MAP_FAILED) {
		err = -errno;
		xipfs_log(XIPFS_LOG_ERR, "%s: cannot map the copy: %s", path, strerror(errno));
		return err;
	}
	err = check_copy(m, size, path, o);
	munmap(m, size);
	return err;
}

/* hugetlbfs has no write(): size the file, map it, read the image into it. */
static int fill_hugetlb(const char *path, int fd, const char *tmp,
			const struct xipfs_load_opts *o)
{
	size_t len, size;
	int in, err = xipfs_seg_open_image(path, &in, &len);
	void *m;

	if (err)
		return err;
	size = xipfs_seg_pow2(len);
	if (size < (2u << 20))
		size = 2u << 20;
	m = ftruncate(fd, (off_t)size) < 0 ? MAP_FAILED :
	    mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (m == MAP_FAILED) {
		err = -errno;
		xipfs_log(XIPFS_LOG_ERR, "%s: cannot size the hugetlbfs segment: %s", tmp,
			  strerror(errno));
		close(in);
		return err;
	}
	err = xipfs_seg_close_image(path, in, xipfs_pread_all(in, m, len, 0));
	if (!err)
		err = check_copy(m, len, path, o);
	munmap(m, size);
	return err;
}

/* Copy the image into the tmpfs file @fd, check the copy, pad to a power of 2. */
static int fill_tmpfs(const char *path, int fd, const char *tmp,
		      const struct xipfs_load_opts *o)
{
	size_t size;
	int err = xipfs_seg_copy_image(path, fd, &size);

	if (!err)
		err = check_fd(fd, size, path, o);
	if (err)
		return err;
	if (ftruncate(fd, (off_t)xipfs_seg_pow2(size)) < 0 || fsync(fd) < 0) {
		err = -errno;
		xipfs_log(XIPFS_LOG_ERR, "%s: %s", tmp, strerror(errno));
	}
	return err;
}

int xipfs_segment_load(const char *path, const char *name, const char *hugetlb_dir)
{
	struct xipfs_load_opts o = { .hugetlb_dir = hugetlb_dir };

	return xipfs_segment_load_opts(path, name, &o);
}

int xipfs_segment_load_opts(const char *path, const char *name,
			    const struct xipfs_load_opts *o)
{
	const char *hugetlb_dir = o->hugetlb_dir;
	char dst[PATH_MAX], tmp[PATH_MAX], hpath[PATH_MAX] = "";
	int fd, err;

	fd = xipfs_seg_begin(name, hugetlb_dir ? hugetlb_dir : XIPFS_SEGMENT_DIR, tmp, dst);
	if (fd < 0)
		return fd;
	if (hugetlb_dir)
		err = fill_hugetlb(path, fd, tmp, o);
	else
		err = fill_tmpfs(path, fd, tmp, o);
	if (err)
		goto out;
	if (fchown(fd, 0, 0) < 0 || fchmod(fd, 0444) < 0) {
		err = -errno;
		goto out;
	}
	err = xipfs_seg_unlock_path(dst);
	if (err) {
		xipfs_log(XIPFS_LOG_ERR, "%s: cannot replace: %s", dst, strerror(-err));
		goto out;
	}
	if (hugetlb_dir) {
		char link[PATH_MAX];

		snprintf(hpath, sizeof(hpath), "%s/xipfs.%s", hugetlb_dir, name);
		snprintf(link, sizeof(link), "%s/.xipfs.%s.link", XIPFS_SEGMENT_DIR, name);
		if (rename(tmp, hpath) < 0 || (unlink(link), symlink(hpath, link)) < 0 ||
		    rename(link, dst) < 0)
			err = -errno;
	} else if (rename(tmp, dst) < 0) {
		err = -errno;
	}
	if (err)
		xipfs_log(XIPFS_LOG_ERR, "%s: cannot put the segment in place: %s", dst,
			  strerror(-err));
out:
	return xipfs_seg_end(fd, tmp, dst, err);
}
