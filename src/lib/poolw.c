// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Writing pool segments: create, add, remove, gc.  One writer at a time
 * (flock(LOCK_EX) on the segment file).  A writer only ever writes pages
 * that no committed directory names (free runs and pages past
 * d_next_page), and commits with one atomic 8-byte store of the new
 * directory's offset, so readers see the old pool or the new one, never a
 * partial image, and a writer killed at any point changes nothing.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <linux/falloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"
#include "xipfs/pool.h"

struct pool_writer {
	char name[XIPFS_SEGMENT_NAME_MAX + 1];
	char path[PATH_MAX];
	int rfd, wfd;			/* read-only (lock), read-write */
	uint8_t *base;
	size_t size;
	uint64_t psize;
	struct xipfs_pool_info *pool;
	bool immutable;			/* restore FS_IMMUTABLE_FL at the end */
	bool stop_commit;		/* SIGSTOP before the commit (tests) */
	/* The allocator: the free runs and the bump pointer. */
	struct xipfs_pool_run *runs;
	uint32_t nruns;
	uint64_t next_page, limit;
};

static void wclose(struct pool_writer *w)
{
	if (w->base)
		munmap(w->base, w->size);
	if (w->wfd >= 0) {
		if (w->immutable)
			xipfs_seg_immutable(w->wfd, true);
		close(w->wfd);
	}
	if (w->rfd >= 0)
		close(w->rfd);	/* drops the flock */
	xipfs_pool_free(w->pool);
	free(w->runs);
}

/* Open the segment read-only and take the writers' lock; it must be a pool. */
static int wlock(struct pool_writer *w, struct stat *st)
{
	uint8_t head[XIPFS_POOL_OFFSET + sizeof(struct xipfs_pool)];
	int err;

	w->rfd = open(w->path, O_RDONLY | O_CLOEXEC);
	if (w->rfd < 0) {
		err = -errno;
		xipfs_log(XIPFS_LOG_ERR, "pool %s: %s: %s%s", w->name, w->path, strerror(errno),
			  errno == ENOENT ? " (make it with: xipfsctl create NAME --size SIZE)" : "");
		return err;
	}
	if (flock(w->rfd, LOCK_EX) < 0 || fstat(w->rfd, st) < 0) {
		err = -errno;
		xipfs_log(XIPFS_LOG_ERR, "pool %s: %s", w->name, strerror(errno));
		return err;
	}
	if (pread(w->rfd, head, sizeof(head), 0) != (ssize_t)sizeof(head) ||
	    !xipfs_is_pool(head, sizeof(head))) {
		xipfs_log(XIPFS_LOG_ERR,
			  "segment %s is not a pool (xipfsctl load made it for one image; make a pool with xipfsctl create NAME --size SIZE)",
			  w->name);
		return -EINVAL;
	}
	return 0;
}

/*
 * Lift FS_IMMUTABLE_FL (wclose() sets it again), open the file locked as
 * @locked for writing and map it.
 */
static int wmap_rw(struct pool_writer *w, const struct stat *locked)
{
	struct stat st;
	int err;

	err = xipfs_seg_immutable(w->rfd, false);
	if (!err) {
		w->immutable = true;
	} else if (err != -ENOTTY && err != -EOPNOTSUPP) {
		xipfs_log(XIPFS_LOG_ERR, "pool %s: %s", w->name, strerror(-err));
		return err;
	}
	w->wfd = open(w->path, O_RDWR | O_CLOEXEC);
	if (w->wfd < 0) {
		err = -errno;
		xipfs_log(XIPFS_LOG_ERR, errno == ETXTBSY ?
			  "pool %s: %s is attached by the xipmap helper (an XIP mount of seg:%s on this machine) and cannot be written until it is unmounted; share pools with guests over ivshmem, or mount with -o xip=off" :
			  "pool %s: %s: cannot open for writing: %s", w->name, w->path,
			  errno == ETXTBSY ? w->name : strerror(errno));
		return err;
	}
	if (fstat(w->wfd, &st) < 0 || locked->st_ino != st.st_ino || locked->st_dev != st.st_dev) {
		xipfs_log(XIPFS_LOG_ERR, "pool %s: replaced while opening it: try again", w->name);
		return -EAGAIN;
	}
	w->size = st.st_size;
	w->base = mmap(NULL, w->size, PROT_READ | PROT_WRITE, MAP_SHARED, w->wfd, 0);
	if (w->base == MAP_FAILED) {
		w->base = NULL;
		err = -errno;
		xipfs_log(XIPFS_LOG_ERR, "pool %s: %s", w->name, strerror(errno));
		return err;
	}
	return 0;
}

/* Read the committed directory; the allocator starts from its free runs. */
static int wload(struct pool_writer *w)
{
	int err = xipfs_pool_read(w->base, w->size, w->path, &w->pool);

	if (err)
		return err;
	w->psize = 1ull << w->pool->page_shift;
	w->limit = w->pool->size / w->psize;
	w->next_page = w->pool->next_page;
	w->nruns = w->pool->free_count;
	w->runs = calloc(w->nruns + 1, sizeof(*w->runs));
	if (!w->runs)
		return -ENOMEM;
	memcpy(w->runs, w->pool->runs, w->nruns * sizeof(*w->runs));
	return 0;
}

static int wopen(struct pool_writer *w, const char *name)
{
	struct stat st;
	int err;

	memset(w, 0, sizeof(*w));
	w->rfd = w->wfd = -1;
	if (xipfs_segment_name_ok(name)) {
		xipfs_log(XIPFS_LOG_ERR, "invalid segment name '%s'", name);
		return -EINVAL;
	}
	snprintf(w->name, sizeof(w->name), "%s", name);
	xipfs_segment_path(name, w->path, sizeof(w->path));
	err = wlock(w, &st);
	if (!err)
		err = wmap_rw(w, &st);
	if (!err)
		err = wload(w);
	if (err)
		wclose(w);
	return err;
}

/* @n consecutive pages, first fit in the free runs, else past next_page. */
static int64_t walloc(struct pool_writer *w, uint64_t n)
{
	for (uint32_t i = 0; i < w->nruns; i++) {
		struct xipfs_pool_run *r = &w->runs[i];

		if (r->r_count >= n) {
			uint64_t p = r->r_page;

			r->r_page += n;
			r->r_count -= n;
			if (!r->r_count) {
				memmove(r, r + 1, (w->nruns - i - 1) * sizeof(*r));
				w->nruns--;
			}
			return (int64_t)p;
		}
	}
	if (n > w->limit - w->next_page)
		return -ENOSPC;
	w->next_page += n;
	return (int64_t)(w->next_page - n);
}

static uint64_t free_pages(const struct pool_writer *w)
{
	uint64_t n = w->limit - w->next_page;

	for (uint32_t i = 0; i < w->nruns; i++)
		n += w->runs[i].r_count;
	return n;
}

static int wfull(struct pool_writer *w, const char *what, uint64_t need)
{
	xipfs_log(XIPFS_LOG_ERR,
		  "pool %s is full: %s needs %llu more pages of %llu bytes, %llu are free (nothing was changed; xipfsctl gc may free retired images, or make a bigger pool)",
		  w->name, what, (unsigned long long)need, (unsigned long long)w->psize,
		  (unsigned long long)free_pages(w));
	return -ENOSPC;
}

/*
 * Write a directory of @count entries and the allocator's free runs into
 * free pages, then commit it.
 */
static int wcommit(struct pool_writer *w, const struct xipfs_pool_label *labels,
		   uint32_t count)
{
	uint64_t bytes, pages, off;
	struct xipfs_pool_dir d = { 0 };
	uint8_t *p;
	int64_t at;
	uint32_t crc;

	/* Taking the run from a free run's start never adds a run. */
	pages = (xipfs_pool_dir_bytes(count, w->nruns) + w->psize - 1) / w->psize;
	at = walloc(w, pages);
	if (at < 0)
		return wfull(w, "the directory", pages);
	/* ...but may take one away. */
	bytes = xipfs_pool_dir_bytes(count, w->nruns);
	off = (uint64_t)at * w->psize;
	p = w->base + off;
	memset(p, 0, pages * w->psize);
	memcpy(d.d_magic, XIPFS_POOL_DIR_MAGIC_STR, 8);
	d.d_generation = xipfs_cpu_to_le64(w->pool->generation + 1);
	d.d_count = xipfs_cpu_to_le32(count);
	d.d_bytes = xipfs_cpu_to_le64(bytes);
	d.d_next_page = xipfs_cpu_to_le64(w->next_page);
	d.d_free_count = xipfs_cpu_to_le32(w->nruns);
	d.d_commit_time = xipfs_cpu_to_le64((uint64_t)time(NULL));
	for (uint32_t i = 0; i < count; i++) {
		struct xipfs_pool_entry e = { 0 };

		memcpy(e.e_label, labels[i].label, strlen(labels[i].label));
		e.e_super = xipfs_cpu_to_le64(labels[i].super);
		e.e_version = xipfs_cpu_to_le32(labels[i].version);
		e.e_flags = xipfs_cpu_to_le32(labels[i].flags);
		e.e_time = xipfs_cpu_to_le64(labels[i].time);
		memcpy(p + xipfs_pool_dir_bytes(i, 0), &e, sizeof(e));
	}
	for (uint32_t i = 0; i < w->nruns; i++) {
		struct xipfs_pool_run r = {
			.r_page = xipfs_cpu_to_le64(w->runs[i].r_page),
			.r_count = xipfs_cpu_to_le64(w->runs[i].r_count),
		};

		memcpy(p + xipfs_pool_dir_bytes(count, i), &r, sizeof(r));
	}
	crc = xipfs_crc32c(0, &d, sizeof(d));
	crc = xipfs_crc32c(crc, p + sizeof(d), bytes - sizeof(d));
	d.d_crc = xipfs_cpu_to_le32(crc);
	memcpy(p, &d, sizeof(d));
	if (w->stop_commit)
		raise(SIGSTOP);
	/* Everything above is in place before the one store that publishes it. */
	__atomic_store_n((uint64_t *)(w->base + XIPFS_POOL_OFFSET + 8), xipfs_cpu_to_le64(off),
			 __ATOMIC_RELEASE);
	return 0;
}

/* Write a header of the pool being made at @path; 0 or -errno, logged. */
static int create_write(int fd, const char *path, const void *buf, size_t len, off_t off)
{
	int err = xipfs_pwrite_all(fd, buf, len, off);

	if (err)
		xipfs_log(XIPFS_LOG_ERR, "%s: cannot write %zu bytes at offset %lld: %s", path,
			  len, (long long)off, strerror(-err));
	return err;
}

int xipfs_pool_create(const char *name, uint64_t size, unsigned page_shift)
{
	char dst[PATH_MAX], tmp[PATH_MAX];
	struct xipfs_super sb = { 0 };
	struct xipfs_pool hdr = { 0 };
	uint64_t psize = 1ull << page_shift;
	int fd, err = 0;

	if (!XIPFS_PAGE_SHIFT_OK(page_shift) || size > (1ull << 44)) {
		xipfs_log(XIPFS_LOG_ERR, "pool %s: size or page size out of range", name);
		return -EINVAL;
	}
	if (size < 4 * psize)
		size = 4 * psize;
	size = xipfs_seg_pow2(size);
	fd = xipfs_seg_begin(name, XIPFS_SEGMENT_DIR, tmp, dst);
	if (fd < 0)
		return fd;
	memcpy(sb.s_magic, XIPFS_MAGIC_STR, 8);
	sb.s_version_major = xipfs_cpu_to_le16(XIPFS_VERSION_MAJOR);
	sb.s_version_minor = xipfs_cpu_to_le16(XIPFS_VERSION_MINOR);
	sb.s_page_shift = xipfs_cpu_to_le32(page_shift);
	sb.s_incompat = xipfs_cpu_to_le32(XIPFS_FEATURE_INCOMPAT_SHARED_POOL);
	sb.s_build_time = xipfs_cpu_to_le64((uint64_t)time(NULL));
	sb.s_size = xipfs_cpu_to_le64(size);
	if (getrandom(sb.s_uuid, sizeof(sb.s_uuid), 0) != (ssize_t)sizeof(sb.s_uuid)) {
		err = -errno;
		goto out;
	}
	sb.s_uuid[6] = (sb.s_uuid[6] & 0x0f) | 0x40;
	sb.s_uuid[8] = (sb.s_uuid[8] & 0x3f) | 0x80;
	sb.s_crc = xipfs_cpu_to_le32(xipfs_crc32c(0, &sb, sizeof(sb)));
	memcpy(hdr.p_magic, XIPFS_POOL_MAGIC_STR, 8);
	hdr.p_create_time = sb.s_build_time;
	if (ftruncate(fd, (off_t)size) < 0) {
		err = -errno;
		xipfs_log(XIPFS_LOG_ERR, "%s: cannot size to %llu bytes: %s", tmp,
			  (unsigned long long)size, strerror(errno));
		goto out;
	}
	err = create_write(fd, tmp, &sb, sizeof(sb), 0);
	if (!err)
		err = create_write(fd, tmp, &hdr, sizeof(hdr), XIPFS_POOL_OFFSET);
	if (err)
		goto out;
	if (fchown(fd, 0, 0) < 0 || fchmod(fd, 0444) < 0) {
		err = -errno;
		xipfs_log(XIPFS_LOG_ERR, "%s: %s", tmp, strerror(errno));
		goto out;
	}
	/* Never over an existing segment: that would pull pages from its users. */
	if (link(tmp, dst) < 0) {
		err = -errno;
		xipfs_log(XIPFS_LOG_ERR, "%s: %s%s", dst, strerror(errno),
			  errno == EEXIST ? " (remove it first: xipfsctl unload NAME)" : "");
		goto out;
	}
	unlink(tmp);
out:
	return xipfs_seg_end(fd, tmp, dst, err);
}

/* ---- add ---- */

/* Open addressing on the page CRC; equal content is confirmed by memcmp. */
struct page_index {
	uint64_t *page;			/* 0: empty slot */
	uint32_t *crc;
	uint64_t mask, used;
};

static int index_init(struct page_index *ix, uint64_t want)
{
	uint64_t n = 1024;

	while (n < want * 2)
		n <<= 1;
	ix->page = calloc(n, sizeof(*ix->page));
	ix->crc = calloc(n, sizeof(*ix->crc));
	ix->mask = n - 1;
	ix->used = 0;
	return ix->page && ix->crc ? 0 : -ENOMEM;
}

static uint64_t index_find(const struct page_index *ix, const uint8_t *base, uint64_t psize,
			   const void *content, uint32_t crc, uint64_t *slot)
{
	uint64_t i = (crc * 0x9e3779b97f4a7c15ULL >> 20) & ix->mask;

	for (; ix->page[i]; i = (i + 1) & ix->mask)
		if (ix->crc[i] == crc && !memcmp(base + ix->page[i] * psize, content, psize))
			break;
	*slot = i;
	return ix->page[i];
}

static void index_put(struct page_index *ix, uint64_t slot, uint64_t page, uint32_t crc)
{
	ix->page[slot] = page;
	ix->crc[slot] = crc;
	ix->used++;
}

static void st64(uint8_t *p, uint64_t v)
{
	v = xipfs_cpu_to_le64(v);
	memcpy(p, &v, 8);
}

static void st32(uint8_t *p, uint32_t v)
{
	v = xipfs_cpu_to_le32(v);
	memcpy(p, &v, 4);
}

struct run_memo {
	uint64_t new_off;		/* + 1; 0: not made yet */
	uint32_t old_cnt, new_cnt;
};

struct remap {
	long stop;			/* XIPFS_POOL_STOP, or -1 */
	struct pool_writer *w;
	const struct xipfs_image *in;
	struct page_index ix;
	uint64_t *pmap;			/* input page -> pool page, 0 unset */
	struct xipfs_extent *ext;	/* new extent table, host endian */
	uint64_t next, cap;
	struct run_memo *memo;		/* by the old first extent index */
	uint64_t *ioff;			/* per inode: its new extent run */
	uint32_t *icnt;
	struct xipfs_pool_add_stats *st;
};

static int64_t remap_page(struct remap *r, uint64_t page)
{
	struct pool_writer *w = r->w;
	const uint8_t *src = (const uint8_t *)xipfs_image_base(r->in) + page * w->psize;
	uint64_t slot, found;
	uint32_t crc;
	int64_t at;

	if (r->pmap[page])
		return (int64_t)r->pmap[page];
	crc = xipfs_crc32c(0, src, w->psize);
	found = index_find(&r->ix, w->base, w->psize, src, crc, &slot);
	if (!found) {
		at = walloc(w, 1);
		if (at < 0)
			return at;
		memcpy(w->base + (uint64_t)at * w->psize, src, w->psize);
		found = (uint64_t)at;
		if (++r->st->new_pages == (uint64_t)r->stop)
			raise(SIGSTOP);
		if (r->ix.used * 2 < r->ix.mask)
			index_put(&r->ix, slot, found, crc);
	}
	r->st->pages++;
	r->pmap[page] = found;
	return (int64_t)found;
}

/* Append page @page at logical @lpage, merging with extents from @first on. */
static int push_extent(struct remap *r, uint64_t first, uint64_t lpage, uint64_t page)
{
	struct xipfs_extent *e = r->next > first ? &r->ext[r->next - 1] : NULL;

	if (lpage > UINT32_MAX || page > UINT32_MAX)
		return -EFBIG;
	if (e && (uint64_t)e->e_lpage + e->e_count == lpage &&
	    (uint64_t)e->e_page + e->e_count == page) {
		e->e_count++;
		return 0;
	}
	if (r->next == r->cap) {
		uint64_t cap = r->cap ? r->cap * 2 : 4096;
		struct xipfs_extent *n = realloc(r->ext, cap * sizeof(*n));

		if (!n)
			return -ENOMEM;
		r->ext = n;
		r->cap = cap;
	}
	r->ext[r->next++] = (struct xipfs_extent){ (uint32_t)lpage, 1, (uint32_t)page };
	return 0;
}

/* The new extent run of @ino: the one made for an identical file, if any. */
static int remap_file(struct remap *r, const struct xipfs_ino *ino, uint64_t *off, uint32_t *cnt)
{
	struct run_memo *m = &r->memo[ino->offset];
	uint64_t first = r->next;
	int err;

	*off = 0;
	*cnt = 0;
	if (!ino->count)
		return 0;
	if (m->new_off && m->old_cnt == ino->count) {
		*off = m->new_off - 1;
		*cnt = m->new_cnt;
		return 0;
	}
	for (uint32_t x = 0; x < ino->count; x++) {
		struct xipfs_extent_info e;

		err = xipfs_extent(r->in, ino, x, &e);
		if (err)
			return err;
		for (uint64_t j = 0; j < e.count; j++) {
			int64_t p = remap_page(r, e.page + j);

			if (p < 0)
				return (int)p;
			err = push_extent(r, first, e.lpage + j, (uint64_t)p);
			if (err)
				return err;
		}
	}
	*off = first;
	*cnt = (uint32_t)(r->next - first);
	if (!m->new_off) {
		m->new_off = first + 1;
		m->old_cnt = ino->count;
		m->new_cnt = *cnt;
	}
	return 0;
}

/* Account for every page; a writer stops at any damage. */
static int wmap(struct pool_writer *w, const unsigned char *keep, const char *what,
		struct xipfs_pool_map **map)
{
	int err = xipfs_pool_map(w->base, w->size, w->pool, w->path, keep, 0, map);

	if (!err && (*map)->errors) {
		xipfs_log(XIPFS_LOG_ERR, "pool %s is damaged (see above; xipfsctl fsck seg:%s): %s",
			  w->name, w->name, what);
		err = -EUCLEAN;
	}
	return err;
}

static uint64_t al8(uint64_t v)
{
	return (v + 7) & ~7ull;
}

/* The directory as it is, plus room for one more entry. */
static struct xipfs_pool_label *labels_copy(const struct xipfs_pool_info *pool)
{
	struct xipfs_pool_label *l = calloc(pool->count + 1, sizeof(*l));

	if (l)
		memcpy(l, pool->labels, pool->count * sizeof(*l));
	return l;
}

/* Index every data page the pool holds, so an image's pages find them. */
static int index_pool(struct remap *r, const struct xipfs_pool_map *map, uint64_t more)
{
	struct pool_writer *w = r->w;
	int err = index_init(&r->ix, map->data + more);

	for (uint64_t p = 1; !err && p < map->pages; p++) {
		const uint8_t *c = w->base + p * w->psize;
		uint32_t crc;
		uint64_t slot;

		if (map->kind[p] != XIPFS_PG_DATA)
			continue;
		crc = xipfs_crc32c(0, c, w->psize);
		if (!index_find(&r->ix, w->base, w->psize, c, crc, &slot))
			index_put(&r->ix, slot, p, crc);
	}
	return err;
}

/*
 * Lay out @in's metadata after a fresh superblock page, with its extents
 * replaced by @r's and every offset counted from the segment start.
 */
static int write_image(struct pool_writer *w, const struct xipfs_image *in, struct remap *r,
		       const char *image, uint64_t *sb_off, uint64_t *pages)
{
	const struct xipfs_super *isb = xipfs_super(in);
	const uint8_t *ib = xipfs_image_base(in);
	uint32_t n = xipfs_inode_count(in);
	uint64_t o_dirent, o_ext, o_names, o_xattr, total, meta_pages, meta;
	struct xipfs_super sb;
	uint8_t *m;
	int64_t at;

	o_dirent = al8((uint64_t)n * sizeof(struct xipfs_inode));
	o_ext = al8(o_dirent + (uint64_t)xipfs_le32(isb->s_dirent_count) *
		    sizeof(struct xipfs_dirent));
	o_names = al8(o_ext + r->next * sizeof(struct xipfs_extent));
	o_xattr = al8(o_names + xipfs_le64(isb->s_names_size));
	total = o_xattr + xipfs_le64(isb->s_xattr_size);
	meta_pages = (total + w->psize - 1) / w->psize;
	if (!meta_pages)
		meta_pages = 1;
	at = walloc(w, 1 + meta_pages);
	if (at < 0)
		return wfull(w, image, 1 + meta_pages);
	*sb_off = (uint64_t)at * w->psize;
	*pages = 1 + meta_pages;
	meta = *sb_off + w->psize;
	m = w->base + meta;
	memset(w->base + *sb_off, 0, (1 + meta_pages) * w->psize);
	memcpy(m, ib + xipfs_le64(isb->s_inode_offset), (uint64_t)n * sizeof(struct xipfs_inode));
	for (uint32_t i = 0; i < n; i++) {
		uint8_t *p = m + (uint64_t)i * sizeof(struct xipfs_inode);

		if (!S_ISREG(ld16(p)))
			continue;
		st32(p + offsetof(struct xipfs_inode, i_count), r->icnt[i]);
		st64(p + offsetof(struct xipfs_inode, i_offset), r->ioff[i]);
	}
	memcpy(m + o_dirent, ib + xipfs_le64(isb->s_dirent_offset),
	       (uint64_t)xipfs_le32(isb->s_dirent_count) * sizeof(struct xipfs_dirent));
	for (uint64_t i = 0; i < r->next; i++) {
		uint8_t *p = m + o_ext + i * sizeof(struct xipfs_extent);

		st32(p, r->ext[i].e_lpage);
		st32(p + 4, r->ext[i].e_count);
		st32(p + 8, r->ext[i].e_page);
	}
	memcpy(m + o_names, ib + xipfs_le64(isb->s_names_offset), xipfs_le64(isb->s_names_size));
	memcpy(m + o_xattr, ib + xipfs_le64(isb->s_xattr_offset), xipfs_le64(isb->s_xattr_size));

	sb = *isb;
	sb.s_incompat = xipfs_cpu_to_le32(xipfs_le32(isb->s_incompat) |
					  XIPFS_FEATURE_INCOMPAT_SHARED_POOL);
	/* Page sums and the Merkle tree describe the image file's layout. */
	sb.s_compat = xipfs_cpu_to_le32(xipfs_le32(isb->s_compat) &
					~(XIPFS_FEATURE_COMPAT_PAGESUM | XIPFS_FEATURE_COMPAT_MERKLE));
	sb.s_merkle_offset = 0;
	sb.s_merkle_size = 0;
	memset(sb.s_merkle_root, 0, sizeof(sb.s_merkle_root));
	sb.s_pool_offset = xipfs_cpu_to_le64(*sb_off);
	sb.s_size = xipfs_cpu_to_le64(w->next_page * w->psize);
	sb.s_data_start = xipfs_cpu_to_le32(1);
	sb.s_data_pages = xipfs_cpu_to_le32((uint32_t)(w->next_page - 1));
	sb.s_meta_offset = xipfs_cpu_to_le64(meta);
	sb.s_meta_size = xipfs_cpu_to_le64(meta_pages * w->psize);
	sb.s_inode_offset = xipfs_cpu_to_le64(meta);
	sb.s_dirent_offset = xipfs_cpu_to_le64(meta + o_dirent);
	sb.s_extent_offset = xipfs_cpu_to_le64(meta + o_ext);
	sb.s_extent_count = xipfs_cpu_to_le64(r->next);
	sb.s_names_offset = xipfs_cpu_to_le64(meta + o_names);
	sb.s_xattr_offset = xipfs_cpu_to_le64(meta + o_xattr);
	sb.s_pagesum_offset = 0;
	sb.s_pagesum_count = 0;
	sb.s_crc = 0;
	sb.s_crc = xipfs_cpu_to_le32(xipfs_image_crc(w->base, &sb));
	memcpy(w->base + *sb_off, &sb, sizeof(sb));
	return 0;
}

/* @r's tables for @r->in, and the pool's data pages indexed. */
static int remap_init(struct remap *r, const struct xipfs_pool_map *map)
{
	const struct xipfs_super *sb = xipfs_super(r->in);
	uint32_t n = xipfs_inode_count(r->in);

	r->pmap = calloc(xipfs_image_size(r->in) / r->w->psize + 1, sizeof(*r->pmap));
	r->memo = calloc(xipfs_le64(sb->s_extent_count) + 1, sizeof(*r->memo));
	r->ioff = calloc(n, sizeof(*r->ioff));
	r->icnt = calloc(n, sizeof(*r->icnt));
	if (!r->pmap || !r->memo || !r->ioff || !r->icnt ||
	    index_pool(r, map, xipfs_le32(sb->s_data_pages)))
		return -ENOMEM;
	return 0;
}

static void remap_free(struct remap *r)
{
	free(r->ix.page);
	free(r->ix.crc);
	free(r->pmap);
	free(r->memo);
	free(r->ext);
	free(r->ioff);
	free(r->icnt);
}

/* Every regular file's pages into the pool, and its new extent run. */
static int remap_inodes(struct remap *r, const char *image)
{
	uint32_t n = xipfs_inode_count(r->in);
	int err = 0;

	for (uint32_t i = 0; !err && i < n; i++) {
		struct xipfs_ino ino;

		err = xipfs_inode_get(r->in, i + 1, &ino);
		if (!err && S_ISREG(ino.mode))
			err = remap_file(r, &ino, &r->ioff[i], &r->icnt[i]);
	}
	if (err == -ENOSPC)
		xipfs_log(XIPFS_LOG_ERR,
			  "pool %s is full: %llu new data pages of %s written, more needed, none free (nothing was changed; xipfsctl gc may free retired images, or make a bigger pool)",
			  r->w->name, (unsigned long long)r->st->new_pages, image);
	return err;
}

/* Check the image written at @sb_off as any reader will, before anyone can see it. */
static int check_written(struct pool_writer *w, uint64_t sb_off, const char *label,
			 const char *image)
{
	struct xipfs_fsck_stats fst = { 0 };
	struct xipfs_image *chk = NULL;
	int err;

	err = xipfs_open_mem_at(w->base, w->size, sb_off, label, 0, &chk);
	if (!err)
		err = xipfs_fsck(chk, 0, &fst);
	xipfs_close(chk);
	if (err)
		xipfs_log(XIPFS_LOG_ERR, "%s: the image as written into pool %s fails its check: nothing added",
			  image, w->name);
	return err;
}

/*
 * Append a live entry @label for the image at @sb_off to the @count
 * entries of @labels (which has room for it); the images of that label
 * before it are live no longer.  Returns the new entry's version.
 */
static uint32_t label_append(struct xipfs_pool_label *labels, uint32_t count, const char *label,
			     uint64_t sb_off)
{
	uint32_t version = 1;

	for (uint32_t i = 0; i < count; i++) {
		if (strcmp(labels[i].label, label))
			continue;
		if (labels[i].version >= version)
			version = labels[i].version + 1;
		labels[i].flags &= ~XIPFS_POOL_LIVE;
	}
	snprintf(labels[count].label, sizeof(labels->label), "%s", label);
	labels[count].super = sb_off;
	labels[count].version = version;
	labels[count].flags = XIPFS_POOL_LIVE;
	labels[count].time = (uint64_t)time(NULL);
	return version;
}

int xipfs_pool_add(const char *name, const char *image, const char *label,
		   struct xipfs_pool_add_stats *st)
{
	struct xipfs_image *in = NULL;
	struct xipfs_pool_map *map = NULL;
	struct xipfs_pool_label *labels = NULL;
	struct pool_writer w;
	struct remap r = { .w = &w, .st = st, .stop = -1 };
	uint64_t sb_off = 0;
	uint32_t version;
	int err;

	memset(st, 0, sizeof(*st));
	/*
	 * Fault injection for the tests (057-pool-race.sh): stop with
	 * SIGSTOP after writing N new data pages, or with 0 just before the
	 * commit, so that a test can SIGKILL the writer at a known point.
	 */
	if (getenv("XIPFS_POOL_STOP"))
		r.stop = strtol(getenv("XIPFS_POOL_STOP"), NULL, 10);
	if (xipfs_label_ok(label)) {
		xipfs_log(XIPFS_LOG_ERR, "invalid label '%s' (1 to %d letters, digits, '_', '.', '-')",
			  label, XIPFS_POOL_LABEL_MAX);
		return -EINVAL;
	}
	err = xipfs_open_file(image, 0, &in);
	if (err)
		return err;
	r.in = in;
	err = wopen(&w, name);
	if (err) {
		xipfs_close(in);
		return err;
	}
	if (xipfs_page_shift(in) != w.pool->page_shift) {
		xipfs_log(XIPFS_LOG_ERR, "%s: pages of %u bytes, pool %s has %llu (build it with mkxipfs --page-size %llu)",
			  image, xipfs_page_size(in), name, (unsigned long long)w.psize,
			  (unsigned long long)w.psize);
		err = -EINVAL;
		goto out;
	}
	err = wmap(&w, NULL, "nothing added", &map);
	if (err)
		goto out;
	labels = labels_copy(w.pool);
	err = labels ? remap_init(&r, map) : -ENOMEM;
	if (!err)
		err = remap_inodes(&r, image);
	if (!err)
		err = write_image(&w, in, &r, image, &sb_off, &st->meta_pages);
	if (!err)
		err = check_written(&w, sb_off, label, image);
	if (err)
		goto out;
	version = label_append(labels, w.pool->count, label, sb_off);
	w.stop_commit = r.stop == 0;
	err = wcommit(&w, labels, w.pool->count + 1);
	st->super = sb_off;
	st->version = version;
out:
	remap_free(&r);
	free(labels);
	xipfs_pool_map_free(map);
	wclose(&w);
	xipfs_close(in);
	return err;
}

int xipfs_pool_remove(const char *name, const char *label)
{
	struct xipfs_pool_label *labels;
	struct pool_writer w;
	int i, err;

	err = wopen(&w, name);
	if (err)
		return err;
	i = xipfs_pool_find(w.pool, label);
	labels = labels_copy(w.pool);
	if (i < 0) {
		xipfs_log(XIPFS_LOG_ERR, "pool %s has no live image labelled '%s'", name, label);
		err = -ENOENT;
	} else if (!labels) {
		err = -ENOMEM;
	} else {
		labels[i].flags &= ~XIPFS_POOL_LIVE;
		err = wcommit(&w, labels, w.pool->count);
	}
	free(labels);
	wclose(&w);
	return err;
}

/*
 * Which images gc keeps (@keep[i] = 1): the live ones, those a mount on
 * this host holds, and, while guests share the segment and the caller has
 * not said that they are done, every retired one: a guest may map it and
 * we cannot see.
 */
static void gc_choose(const struct pool_writer *w, unsigned flags, unsigned char *keep,
		      struct xipfs_pool_gc_stats *st)
{
	for (uint32_t i = 0; i < w->pool->count; i++) {
		int held;

		if (w->pool->labels[i].flags & XIPFS_POOL_LIVE) {
			keep[i] = 1;
			continue;
		}
		held = xipfs_pool_held(w->rfd, w->pool->labels[i].super);
		if (held) {
			keep[i] = 1;		/* a mount on this host, or we cannot tell */
			st->held++;
		} else if (st->guest_users && !(flags & XIPFS_GC_GUESTS_DONE)) {
			keep[i] = 1;		/* a guest may map it: we cannot see */
			st->kept_guests++;
		} else {
			st->dropped++;
		}
	}
}

/*
 * The new free runs: every page nothing kept names.  The current
 * directory stays out of them: a reader may still be reading it; the
 * next gc frees it.
 */
static int gc_runs(struct pool_writer *w, const struct xipfs_pool_map *map)
{
	uint64_t end = 1;

	free(w->runs);
	w->runs = calloc(map->pages / 2 + 2, sizeof(*w->runs));
	if (!w->runs)
		return -ENOMEM;
	w->nruns = 0;
	for (uint64_t p = 1; p < map->pages; p++) {
		uint8_t k = map->kind[p];
		struct xipfs_pool_run *last = w->nruns ? &w->runs[w->nruns - 1] : NULL;

		if (k != XIPFS_PG_UNUSED && k != XIPFS_PG_FREE) {
			end = p + 1;
			continue;
		}
		if (last && last->r_page + last->r_count == p)
			last->r_count++;
		else
			w->runs[w->nruns++] = (struct xipfs_pool_run){ p, 1 };
	}
	/* Free pages at the top go back past next_page. */
	while (w->nruns && w->runs[w->nruns - 1].r_page >= end)
		w->nruns--;
	w->next_page = end;
	return 0;
}

/* Give the memory back (tmpfs): only pages nothing names any more. */
static void gc_release(const struct pool_writer *w)
{
	for (uint32_t i = 0; i <= w->nruns; i++) {
		uint64_t p = i < w->nruns ? w->runs[i].r_page : w->next_page;
		uint64_t c = i < w->nruns ? w->runs[i].r_count : w->limit - w->next_page;

		if (c && fallocate(w->wfd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
				   (off_t)(p * w->psize), (off_t)(c * w->psize)) < 0 &&
		    errno != EOPNOTSUPP) {
			xipfs_log(XIPFS_LOG_WARN, "pool %s: cannot release pages %llu+%llu: %s",
				  w->name, (unsigned long long)p, (unsigned long long)c,
				  strerror(errno));
			break;
		}
	}
}

int xipfs_pool_gc(const char *name, unsigned flags, struct xipfs_pool_gc_stats *st)
{
	struct xipfs_pool_label *labels = NULL;
	struct xipfs_pool_map *map = NULL;
	unsigned char *keep = NULL;
	struct pool_writer w;
	uint64_t before, after;
	uint32_t kept = 0;
	struct stat s;
	int err;

	memset(st, 0, sizeof(*st));
	err = wopen(&w, name);
	if (err)
		return err;
	before = free_pages(&w);
	fstat(w.rfd, &s);
	/* Our own mapping is skipped: only the others are counted. */
	st->guest_users = xipfs_segment_users(&s, true);
	keep = calloc(w.pool->count + 1, 1);
	labels = labels_copy(w.pool);
	err = -ENOMEM;
	if (!keep || !labels)
		goto out;
	gc_choose(&w, flags, keep, st);
	err = wmap(&w, keep, "gc frees nothing", &map);
	if (!err)
		err = gc_runs(&w, map);
	if (err)
		goto out;
	for (uint32_t i = 0; i < w.pool->count; i++)
		if (keep[i])
			labels[kept++] = w.pool->labels[i];
	err = wcommit(&w, labels, kept);
	if (err)
		goto out;
	gc_release(&w);
	after = free_pages(&w);
	st->freed = after > before ? after - before : 0;
out:
	free(keep);
	free(labels);
	xipfs_pool_map_free(map);
	wclose(&w);
	return err;
}
