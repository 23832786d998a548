// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Reading pool segments.  The directory is copied out of the segment after
 * its CRC matched, so a later commit or gc cannot change what a reader
 * decided on; only the images it opens stay in the segment, and those are
 * never written while an entry names them.
 */
#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"
#include "xipfs/pool.h"

int xipfs_is_pool(const void *base, size_t size)
{
	const struct xipfs_super *sb = base;
	const uint8_t *p = (const uint8_t *)base + XIPFS_POOL_OFFSET;

	return size >= XIPFS_POOL_OFFSET + sizeof(struct xipfs_pool) &&
	       !memcmp(sb->s_magic, XIPFS_MAGIC_STR, 8) &&
	       (xipfs_le32(sb->s_incompat) & XIPFS_FEATURE_INCOMPAT_SHARED_POOL) &&
	       !memcmp(p, XIPFS_POOL_MAGIC_STR, 8);
}

int xipfs_label_ok(const char *label)
{
	return xipfs_seg_word_ok(label, XIPFS_POOL_LABEL_MAX);
}

static int pool_bad(const char *name, uint64_t off, const char *why)
{
	xipfs_log(XIPFS_LOG_ERR, "%s: corrupt pool %s at offset %llu", name, why,
		  (unsigned long long)off);
	return -EUCLEAN;
}

/* Decode the directory at @dir_off into @p; -EUCLEAN (not logged) if bad. */
static int read_dir(const uint8_t *base, struct xipfs_pool_info *p, uint64_t dir_off,
		    const char **why)
{
	struct xipfs_pool_dir d;
	uint64_t psize = 1ull << p->page_shift, bytes, need;
	uint32_t crc;

	*why = "directory offset";
	if (dir_off % psize || dir_off < psize || dir_off > p->size - sizeof(d))
		return -EUCLEAN;
	memcpy(&d, base + dir_off, sizeof(d));
	*why = "directory magic";
	if (memcmp(d.d_magic, XIPFS_POOL_DIR_MAGIC_STR, 8))
		return -EUCLEAN;
	bytes = xipfs_le64(d.d_bytes);
	p->count = xipfs_le32(d.d_count);
	p->free_count = xipfs_le32(d.d_free_count);
	need = xipfs_pool_dir_bytes(p->count, p->free_count);
	*why = "directory size";
	if (bytes != need || bytes > p->size - dir_off)
		return -EUCLEAN;
	d.d_crc = 0;
	crc = xipfs_crc32c(0, &d, sizeof(d));
	crc = xipfs_crc32c(crc, base + dir_off + sizeof(d), bytes - sizeof(d));
	*why = "directory checksum";
	if (crc != ld32(base + dir_off + offsetof(struct xipfs_pool_dir, d_crc)))
		return -EUCLEAN;
	p->dir_off = dir_off;
	p->dir_bytes = bytes;
	p->generation = xipfs_le64(d.d_generation);
	p->commit_time = xipfs_le64(d.d_commit_time);
	p->next_page = xipfs_le64(d.d_next_page);
	*why = "directory next page";
	if (p->next_page < 1 || p->next_page > p->size >> p->page_shift ||
	    (dir_off + bytes + psize - 1) >> p->page_shift > p->next_page)
		return -EUCLEAN;
	p->labels = calloc(p->count + 1, sizeof(*p->labels));
	p->runs = calloc(p->free_count + 1, sizeof(*p->runs));
	if (!p->labels || !p->runs)
		return -ENOMEM;
	for (uint32_t i = 0; i < p->count; i++) {
		const uint8_t *e = base + dir_off + xipfs_pool_dir_bytes(i, 0);
		struct xipfs_pool_label *l = &p->labels[i];

		memcpy(l->label, e, sizeof(((struct xipfs_pool_entry *)0)->e_label));
		l->label[XIPFS_POOL_LABEL_MAX] = '\0';
		l->super = ld64(e + offsetof(struct xipfs_pool_entry, e_super));
		l->version = ld32(e + offsetof(struct xipfs_pool_entry, e_version));
		l->flags = ld32(e + offsetof(struct xipfs_pool_entry, e_flags));
		l->time = ld64(e + offsetof(struct xipfs_pool_entry, e_time));
		*why = "directory entry";
		if (xipfs_label_ok(l->label) || e[XIPFS_POOL_LABEL_MAX] || l->super % psize ||
		    l->super < psize || l->super >> p->page_shift >= p->next_page ||
		    l->flags & ~XIPFS_POOL_LIVE || !l->version)
			return -EUCLEAN;
		for (uint32_t j = 0; j < i; j++)
			if ((l->flags & p->labels[j].flags & XIPFS_POOL_LIVE) &&
			    !strcmp(l->label, p->labels[j].label))
				return -EUCLEAN;
	}
	for (uint32_t i = 0; i < p->free_count; i++) {
		const uint8_t *r = base + dir_off + xipfs_pool_dir_bytes(p->count, i);

		p->runs[i].r_page = ld64(r);
		p->runs[i].r_count = ld64(r + 8);
		*why = "free run";
		if (p->runs[i].r_page < 1 || !p->runs[i].r_count ||
		    p->runs[i].r_page > p->next_page ||
		    p->runs[i].r_count > p->next_page - p->runs[i].r_page ||
		    (i && p->runs[i].r_page <= p->runs[i - 1].r_page + p->runs[i - 1].r_count))
			return -EUCLEAN;
	}
	return 0;
}

int xipfs_pool_read(const void *base, size_t size, const char *name,
		    struct xipfs_pool_info **out)
{
	const struct xipfs_super *sb = base;
	const uint8_t *b = base;
	struct xipfs_pool_info *p;
	struct xipfs_pool hdr;
	const char *why = "";
	int err = -EUCLEAN;

	if (!xipfs_is_pool(base, size))
		return pool_bad(name, XIPFS_POOL_OFFSET, "header: no pool magic");
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->page_shift = xipfs_le32(sb->s_page_shift);
	p->size = xipfs_le64(sb->s_size);
	memcpy(p->uuid, sb->s_uuid, 16);
	memcpy(&hdr, b + XIPFS_POOL_OFFSET, sizeof(hdr));
	p->create_time = xipfs_le64(hdr.p_create_time);
	if (!XIPFS_PAGE_SHIFT_OK(p->page_shift) ||
	    p->size > size || p->size < 2ull << p->page_shift || p->size % (1ull << p->page_shift) ||
	    xipfs_le32(sb->s_root_ino) || xipfs_le64(sb->s_pool_offset)) {
		err = pool_bad(name, 0, "superblock (page size, size, root or pool offset)");
		goto out_free;
	}
	/*
	 * A commit stores p_dir while we read; a gc may even reuse the old
	 * directory's pages.  The CRC catches a torn read: look again.
	 */
	for (int tries = 0; tries < 8; tries++) {
		uint64_t dir = __atomic_load_n((const uint64_t *)(b + XIPFS_POOL_OFFSET + 8),
					       __ATOMIC_ACQUIRE);

		dir = xipfs_le64(dir);
		free(p->labels);
		free(p->runs);
		p->labels = NULL;
		p->runs = NULL;
		p->count = p->free_count = 0;
		if (!dir) {
			/* Empty, but never NULL: callers copy count entries. */
			p->next_page = 1;
			p->labels = calloc(1, sizeof(*p->labels));
			p->runs = calloc(1, sizeof(*p->runs));
			err = p->labels && p->runs ? 0 : -ENOMEM;
			break;
		}
		err = read_dir(b, p, dir, &why);
		if (err != -EUCLEAN)
			break;
	}
	if (err == -EUCLEAN)
		err = pool_bad(name, XIPFS_POOL_OFFSET + 8, why);
	if (!err) {
		*out = p;
		return 0;
	}
out_free:
	xipfs_pool_free(p);
	return err;
}

void xipfs_pool_free(struct xipfs_pool_info *pool)
{
	if (!pool)
		return;
	free(pool->labels);
	free(pool->runs);
	free(pool);
}

int xipfs_pool_find(const struct xipfs_pool_info *pool, const char *label)
{
	for (uint32_t i = 0; i < pool->count; i++)
		if ((pool->labels[i].flags & XIPFS_POOL_LIVE) &&
		    (!label || !strcmp(pool->labels[i].label, label)))
			return (int)i;
	return -ENOENT;
}

int xipfs_pool_hold(int fd, uint64_t sb_off)
{
	struct flock fl = { .l_type = F_RDLCK, .l_whence = SEEK_SET,
			    .l_start = (off_t)sb_off, .l_len = 1 };

	return fcntl(fd, F_OFD_SETLK, &fl) < 0 ? -errno : 0;
}

void xipfs_pool_release(int fd, uint64_t sb_off)
{
	struct flock fl = { .l_type = F_UNLCK, .l_whence = SEEK_SET,
			    .l_start = (off_t)sb_off, .l_len = 1 };

	fcntl(fd, F_OFD_SETLK, &fl);
}

int xipfs_pool_held(int fd, uint64_t sb_off)
{
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET,
			    .l_start = (off_t)sb_off, .l_len = 1 };

	if (fcntl(fd, F_OFD_GETLK, &fl) < 0)
		return -errno;
	return fl.l_type != F_UNLCK;
}

int xipfs_segment_image(struct xipfs_segment *seg, const char *name, const char *label,
			unsigned flags, struct xipfs_image **out)
{
	const void *base = xipfs_segment_base(seg);
	size_t size = xipfs_segment_size(seg);
	struct xipfs_pool_info *pool;
	struct xipfs_image *img;
	uint64_t off = 0;
	int i, err;

	if (!xipfs_is_pool(base, size)) {
		if (label) {
			xipfs_log(XIPFS_LOG_ERR, "%s: the segment holds one image, not a pool: drop /%s",
				  name, label);
			return -ENOENT;
		}
		return xipfs_open_mem(base, size, name, flags, out);
	}
	if (label && xipfs_label_ok(label)) {
		xipfs_log(XIPFS_LOG_ERR, "%s: invalid label '%s' (use letters, digits, '_', '.', '-')",
			  name, label);
		return -EINVAL;
	}
	/*
	 * Find the image, hold it, and look again: a gc between the two
	 * steps may have dropped it (a remove came first) and reused its
	 * pages.  Once held and still listed, gc leaves it alone.
	 */
	for (int tries = 0;; tries++) {
		bool listed = false;

		err = xipfs_pool_read(base, size, name, &pool);
		if (err)
			return err;
		i = xipfs_pool_find(pool, label);
		if (i < 0 || tries == 8) {
			xipfs_log(XIPFS_LOG_ERR, i >= 0 ? "%s: the image of '%s' keeps changing: try again" :
				  label ? "%s: the pool has no image labelled '%s'" :
				  "%s: the pool holds no image yet%s", name, label ? label : "");
			xipfs_pool_free(pool);
			return i < 0 ? -ENOENT : -EAGAIN;
		}
		off = pool->labels[i].super;
		xipfs_pool_free(pool);
		if (xipfs_segment_handle(seg) >= 0)
			break;		/* a guest: see xipfsctl(8) on gc */
		err = xipfs_pool_hold(xipfs_segment_fd(seg), off);
		if (err) {
			xipfs_log(XIPFS_LOG_ERR, "%s: cannot hold the image at %llu: %s", name,
				  (unsigned long long)off, strerror(-err));
			return err;
		}
		err = xipfs_pool_read(base, size, name, &pool);
		if (err)
			return err;
		for (uint32_t k = 0; k < pool->count; k++)
			listed |= pool->labels[k].super == off;
		xipfs_pool_free(pool);
		if (listed)
			break;
		xipfs_pool_release(xipfs_segment_fd(seg), off);
	}
	err = xipfs_open_mem_at(base, size, off, name, flags, &img);
	if (err)
		return err;
	*out = img;
	return 0;
}

void xipfs_pool_map_free(struct xipfs_pool_map *map)
{
	if (!map)
		return;
	free(map->kind);
	free(map->refs);
	free(map->use);
	free(map);
}

static const char *const kind_name[] = {
	"unused", "header", "directory", "metadata", "data", "free"
};

/* Mark @n pages from @page as @kind; overlap with anything else is damage. */
static void mark(struct xipfs_pool_map *m, const char *name, uint64_t page, uint64_t n,
		 uint8_t kind, const char *what)
{
	for (uint64_t p = page; p < page + n; p++) {
		if (p >= m->pages) {
			xipfs_log(XIPFS_LOG_ERR, "%s: %s: page %llu lies past the pages handed out (%llu)",
				  name, what, (unsigned long long)p, (unsigned long long)m->pages);
			m->errors++;
			return;
		}
		if (m->kind[p] != XIPFS_PG_UNUSED) {
			xipfs_log(XIPFS_LOG_ERR, "%s: %s: page %llu is already %s",
				  name, what, (unsigned long long)p, kind_name[m->kind[p]]);
			m->errors++;
			return;
		}
		m->kind[p] = kind;
	}
}

/* One pass over the pages an image's extents name. */
struct page_walk {
	struct xipfs_pool_map *m;
	const char *name;
	uint32_t *seen, stamp;		/* seen[p] == stamp: counted for this image */
	struct xipfs_pool_usage *u;
	double psize, saved;
};

typedef void page_fn(struct page_walk *pw, uint32_t ino, uint64_t page);

/*
 * Call @fn on every page the extents of @img's regular files name, and
 * count those files in *@files (if not NULL).  A damaged inode or extent
 * ends the walk with its error, or with @skip_bad skips that inode or the
 * rest of its extents.
 */
static int walk_pages(const struct xipfs_image *img, bool skip_bad, uint64_t *files,
		      page_fn *fn, struct page_walk *pw)
{
	for (uint32_t i = 1; i <= xipfs_inode_count(img); i++) {
		struct xipfs_ino ino;
		int err = xipfs_inode_get(img, i, &ino);

		if (err && !skip_bad)
			return err;
		if (err || !S_ISREG(ino.mode))
			continue;
		if (files)
			(*files)++;
		for (uint32_t x = 0; x < ino.count; x++) {
			struct xipfs_extent_info e;

			err = xipfs_extent(img, &ino, x, &e);
			if (err && !skip_bad)
				return err;
			if (err)
				break;
			for (uint64_t p = e.page; p < (uint64_t)e.page + e.count; p++)
				fn(pw, i, p);
		}
	}
	return 0;
}

/* First pass: mark a data page, counting it once per image. */
static void map_page(struct page_walk *pw, uint32_t ino, uint64_t p)
{
	struct xipfs_pool_map *m = pw->m;
	uint8_t k = p < m->pages ? m->kind[p] : XIPFS_PG_HEADER;

	if (k != XIPFS_PG_UNUSED && k != XIPFS_PG_DATA) {
		xipfs_log(XIPFS_LOG_ERR, "%s: inode %u names page %llu, a %s page",
			  pw->name, ino, (unsigned long long)p,
			  p < m->pages ? kind_name[k] : "never handed out");
		m->errors++;
		return;
	}
	m->kind[p] = XIPFS_PG_DATA;
	if (pw->seen[p] != pw->stamp) {
		pw->seen[p] = pw->stamp;
		m->refs[p]++;
		pw->u->pages++;
	}
}

/* Second pass, once every reference is counted: shared and saved. */
static void share_page(struct page_walk *pw, uint32_t ino, uint64_t p)
{
	struct xipfs_pool_map *m = pw->m;

	(void)ino;
	if (p >= m->pages || pw->seen[p] == pw->stamp || !m->refs[p])
		return;
	pw->seen[p] = pw->stamp;
	if (m->refs[p] > 1) {
		pw->u->shared++;
		pw->saved += pw->psize * (m->refs[p] - 1) / m->refs[p];
	}
}

/* The header, the current directory and the free runs. */
static void mark_pool(struct xipfs_pool_map *m, const struct xipfs_pool_info *pool,
		      const char *name)
{
	uint64_t psize = 1ull << pool->page_shift;

	m->kind[0] = XIPFS_PG_HEADER;
	if (pool->dir_off)
		mark(m, name, pool->dir_off / psize, (pool->dir_bytes + psize - 1) / psize,
		     XIPFS_PG_DIR, "directory");
	for (uint32_t r = 0; r < pool->free_count; r++)
		mark(m, name, pool->runs[r].r_page, pool->runs[r].r_count, XIPFS_PG_FREE,
		     "free run");
}

/* Entry @i's superblock and metadata pages, before any extent is marked. */
static void mark_meta(struct xipfs_pool_map *m, const void *base, size_t size,
		      const struct xipfs_pool_info *pool, uint32_t i, const char *name)
{
	const struct xipfs_pool_label *l = &pool->labels[i];
	const struct xipfs_super *sb = (const void *)((const uint8_t *)base + l->super);
	uint64_t psize = 1ull << pool->page_shift, meta = xipfs_le64(sb->s_meta_offset);

	if (meta != l->super + psize || meta % psize || xipfs_le64(sb->s_meta_size) % psize ||
	    xipfs_le64(sb->s_meta_size) > size - meta) {
		xipfs_log(XIPFS_LOG_ERR, "%s: image '%s' v%u at %llu: its metadata does not follow its superblock page",
			  name, l->label, l->version, (unsigned long long)l->super);
		m->errors++;
		return;
	}
	m->use[i].meta_pages = 1 + xipfs_le64(sb->s_meta_size) / psize;
	mark(m, name, l->super / psize, m->use[i].meta_pages, XIPFS_PG_META, l->label);
}

static void count_kinds(struct xipfs_pool_map *m)
{
	uint64_t n[XIPFS_PG_FREE + 1] = { 0 };

	for (uint64_t p = 0; p < m->pages; p++)
		n[m->kind[p]]++;
	m->data = n[XIPFS_PG_DATA];
	m->meta = n[XIPFS_PG_META];
	m->dir = n[XIPFS_PG_DIR];
	m->free = n[XIPFS_PG_FREE];
	m->unused = n[XIPFS_PG_UNUSED];
}

int xipfs_pool_map(const void *base, size_t size, const struct xipfs_pool_info *pool,
		   const char *name, const unsigned char *keep, unsigned flags,
		   struct xipfs_pool_map **out)
{
	struct xipfs_pool_map *m = calloc(1, sizeof(*m));
	struct xipfs_image **imgs = NULL;
	struct page_walk pw = { .m = m, .psize = (double)(1ull << pool->page_shift) };
	int err = -ENOMEM;

	if (!m)
		return -ENOMEM;
	m->pages = pool->next_page;
	m->kind = calloc(m->pages, 1);
	m->refs = calloc(m->pages, sizeof(*m->refs));
	m->use = calloc(pool->count + 1, sizeof(*m->use));
	pw.seen = calloc(m->pages, sizeof(*pw.seen));
	imgs = calloc(pool->count + 1, sizeof(*imgs));
	if (!m->kind || !m->refs || !m->use || !pw.seen || !imgs)
		goto out;
	mark_pool(m, pool, name);
	/* Metadata first, so an extent into another image's metadata shows. */
	for (uint32_t i = 0; i < pool->count; i++)
		if (!keep || keep[i])
			mark_meta(m, base, size, pool, i, name);
	for (uint32_t i = 0; i < pool->count; i++) {
		char what[XIPFS_SEGMENT_NAME_MAX + XIPFS_POOL_LABEL_MAX + 64];

		if (keep && !keep[i])
			continue;
		snprintf(what, sizeof(what), "%s/%s (v%u)", name, pool->labels[i].label,
			 pool->labels[i].version);
		err = xipfs_open_mem_at(base, size, pool->labels[i].super, what, flags, &imgs[i]);
		if (!err) {
			pw.name = what;
			pw.stamp = i + 1;
			pw.u = &m->use[i];
			err = walk_pages(imgs[i], false, &pw.u->files, map_page, &pw);
		}
		if (err == -ENOMEM)
			goto out;
		if (err)
			m->errors++;
	}
	count_kinds(m);
	memset(pw.seen, 0, m->pages * sizeof(*pw.seen));
	for (uint32_t i = 0; i < pool->count; i++) {
		/* An image the first pass could not open is still looked at. */
		if ((keep && !keep[i]) || (!imgs[i] &&
		    xipfs_open_mem_at(base, size, pool->labels[i].super, name,
				      XIPFS_OPEN_NOCRC, &imgs[i])))
			continue;
		pw.stamp = i + 1;
		pw.u = &m->use[i];
		pw.saved = 0;
		walk_pages(imgs[i], true, NULL, share_page, &pw);
		pw.u->saved = (uint64_t)(pw.saved + 0.5);
	}
	err = 0;
out:
	for (uint32_t i = 0; imgs && i < pool->count; i++)
		xipfs_close(imgs[i]);
	free(imgs);
	free(pw.seen);
	if (err) {
		xipfs_pool_map_free(m);
		return err;
	}
	*out = m;
	return 0;
}
