// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Regular file data: extents map runs of logical pages to runs of image
 * pages; gaps are holes.  xipfs_inode_get() already checked that a file's
 * extents are in order, inside the data area and inside the file, so the
 * functions here only search them.
 */
#include <errno.h>
#include <unistd.h>
#include <sys/stat.h>

#include "internal.h"

/* Holes are served from this page; 64 KiB covers every page size. */
static const uint8_t zero_page[1u << XIPFS_PAGE_SHIFT_MAX];

int xipfs_extent(const struct xipfs_image *img, const struct xipfs_ino *ino,
		 uint32_t index, struct xipfs_extent_info *out)
{
	uint64_t off;
	const uint8_t *p;

	if (!S_ISREG(ino->mode))
		return -EINVAL;
	if (index >= ino->count)
		return -ENOENT;
	off = xipfs_extent_off(img, ino->offset + index);
	p = img->base + off;
	out->lpage = ld32(p + offsetof(struct xipfs_extent, e_lpage));
	out->count = ld32(p + offsetof(struct xipfs_extent, e_count));
	out->page = ld32(p + offsetof(struct xipfs_extent, e_page));
	if (out->count < 1 ||
	    out->page < img->data_start ||
	    out->page - img->data_start > img->data_pages ||
	    out->count > img->data_pages - (out->page - img->data_start))
		return xipfs_corrupt(img, "extent", off,
				     "pages %u+%u outside the data area (pages %u+%u)",
				     out->page, out->count, img->data_start,
				     img->data_pages);
	return 0;
}

/*
 * Index of the last extent starting at or before @lpage, or -1.  Extents
 * were validated by xipfs_inode_get(), so errors here mean the caller
 * passed an inode that did not come from it.
 */
static int64_t find_extent(const struct xipfs_image *img,
			   const struct xipfs_ino *ino, uint64_t lpage,
			   struct xipfs_extent_info *e)
{
	int64_t lo = 0, hi = (int64_t)ino->count - 1, found = -1;

	while (lo <= hi) {
		int64_t mid = lo + (hi - lo) / 2;
		int err = xipfs_extent(img, ino, (uint32_t)mid, e);

		if (err)
			return err;
		if (e->lpage <= lpage) {
			found = mid;
			lo = mid + 1;
		} else {
			hi = mid - 1;
		}
	}
	if (found >= 0) {
		int err = xipfs_extent(img, ino, (uint32_t)found, e);

		if (err)
			return err;
	}
	return found;
}

int64_t xipfs_file_page(const struct xipfs_image *img,
			const struct xipfs_ino *ino, uint64_t lpage)
{
	struct xipfs_extent_info e;
	int64_t i;

	if (!S_ISREG(ino->mode))
		return -EINVAL;
	i = find_extent(img, ino, lpage, &e);
	if (i < -1)
		return i;
	if (i < 0 || lpage >= e.lpage + e.count)
		return 0;
	return (int64_t)e.page + (int64_t)(lpage - e.lpage);
}

int64_t xipfs_file_tail(const struct xipfs_image *img, const struct xipfs_ino *ino)
{
	uint64_t tail = ino->size & (img->psize - 1);
	const uint8_t *p;
	int64_t page;

	if (!S_ISREG(ino->mode))
		return -EINVAL;
	if (!tail)
		return 0;
	page = xipfs_file_page(img, ino, ino->size >> img->shift);
	if (page <= 0)
		return page;
	p = img->base + ((uint64_t)page << img->shift);
	for (uint64_t k = tail; k < img->psize; k++) {
		if (p[k])
			return (int64_t)(((uint64_t)page << img->shift) + k);
	}
	return 0;
}

int xipfs_file_iov(const struct xipfs_image *img, const struct xipfs_ino *ino,
		   uint64_t off, size_t len, struct iovec *iov, int maxiov,
		   size_t *bytes)
{
	struct xipfs_extent_info e;
	uint64_t end;
	int64_t i;
	int n = 0;

	*bytes = 0;
	if (!S_ISREG(ino->mode))
		return -EINVAL;
	if (off >= ino->size || !len || maxiov < 1)
		return 0;
	end = ino->size - off < len ? ino->size : off + len;
	i = find_extent(img, ino, off >> img->shift, &e);
	if (i < -1)
		return (int)i;
	if (i < 0) {
		i = 0;
		if (ino->count && xipfs_extent(img, ino, 0, &e))
			return -EUCLEAN;
	}
	while (off < end) {
		uint64_t lp = off >> img->shift;
		uint64_t in_page = off & (img->psize - 1);
		const uint8_t *src;
		uint64_t chunk;

		while (i < (int64_t)ino->count && lp >= e.lpage + e.count) {
			if (++i < (int64_t)ino->count &&
			    xipfs_extent(img, ino, (uint32_t)i, &e))
				return -EUCLEAN;
		}
		if (i < (int64_t)ino->count && lp >= e.lpage) {
			/* Inside an extent: contiguous until its end. */
			uint64_t ext_end = (e.lpage + e.count) << img->shift;

			src = img->base + ((uint64_t)(e.page + (lp - e.lpage)) << img->shift) +
			      in_page;
			chunk = (ext_end < end ? ext_end : end) - off;
		} else {
			/* A hole: up to the next extent or the end, one zero page at a time. */
			uint64_t hole_end = i < (int64_t)ino->count ?
					    (uint64_t)e.lpage << img->shift : end;

			src = zero_page + in_page;
			chunk = (hole_end < end ? hole_end : end) - off;
			if (chunk > img->psize - in_page)
				chunk = img->psize - in_page;
		}
		if (n > 0 && (const uint8_t *)iov[n - 1].iov_base +
			     iov[n - 1].iov_len == src && src != zero_page) {
			iov[n - 1].iov_len += chunk;
		} else {
			/* Out of iovecs only when a piece cannot extend the last. */
			if (n == maxiov)
				break;
			iov[n].iov_base = (void *)src;
			iov[n].iov_len = chunk;
			n++;
		}
		off += chunk;
		*bytes += chunk;
	}
	return n;
}

ssize_t xipfs_file_read(const struct xipfs_image *img,
			const struct xipfs_ino *ino, void *buf, size_t len,
			uint64_t off)
{
	struct iovec iov[64];
	size_t done = 0;

	while (done < len) {
		size_t bytes;
		int n = xipfs_file_iov(img, ino, off + done, len - done, iov, 64,
				       &bytes);

		if (n < 0)
			return n;
		if (!n)
			break;
		for (int k = 0; k < n; k++) {
			memcpy((uint8_t *)buf + done, iov[k].iov_base, iov[k].iov_len);
			done += iov[k].iov_len;
		}
	}
	return (ssize_t)done;
}

int64_t xipfs_file_seek(const struct xipfs_image *img,
			const struct xipfs_ino *ino, uint64_t off, int whence)
{
	struct xipfs_extent_info e;
	int64_t i;

	if (!S_ISREG(ino->mode))
		return -EINVAL;
	if (off >= ino->size)
		return -ENXIO;
	i = find_extent(img, ino, off >> img->shift, &e);
	if (i < -1)
		return i;
	if (whence == SEEK_DATA) {
		if (i >= 0 && (off >> img->shift) < e.lpage + e.count)
			return (int64_t)off;
		/* Next extent after the hole. */
		if (++i >= (int64_t)ino->count)
			return -ENXIO;
		if (xipfs_extent(img, ino, (uint32_t)i, &e))
			return -EUCLEAN;
		return (int64_t)((uint64_t)e.lpage << img->shift);
	}
	if (whence == SEEK_HOLE) {
		if (i < 0 || (off >> img->shift) >= e.lpage + e.count)
			return (int64_t)off;
		/* Follow abutting extents to the end of the data run. */
		for (;;) {
			uint64_t end = e.lpage + e.count;
			struct xipfs_extent_info n;

			if (i + 1 >= (int64_t)ino->count ||
			    xipfs_extent(img, ino, (uint32_t)(i + 1), &n) ||
			    n.lpage != end) {
				uint64_t b = end << img->shift;

				return (int64_t)(b < ino->size ? b : ino->size);
			}
			e = n;
			i++;
		}
	}
	return -EINVAL;
}
