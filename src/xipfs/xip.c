// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The XIP path: with libfuse >= 3.17 (FUSE passthrough) and the xipmap.ko
 * helper, every open of a regular file is answered with a backing file
 * whose page i is the segment page holding the file's page i.  The kernel
 * then serves read, splice and mmap of the FUSE file from that backing
 * file, so mappings reach the segment's own frames: one physical copy for
 * every process, every mount of the segment and every guest sharing it.
 *
 * One backing file serves every open of an inode, and every inode with the
 * same extent list (mkxipfs stores identical files' extents once): the
 * kernel insists that all passthrough opens of an inode use one backing
 * file, and sharing it keeps one set of frames per content.  The backing
 * id is registered at the first open and kept after the last release, up
 * to -o xip_idle idle ones; open files and mappings hold their own
 * references in the kernel, so nothing the daemon does later (even dying)
 * can pull a page from under them.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "xipfs/xipfs.h"
#include "xipfs/segment.h"
#include "xipfs/xipmap.h"
#include "daemon.h"

#ifdef HAVE_FUSE_PASSTHROUGH_OPEN

/* A backing file registered with the kernel, shared by identical files. */
struct xip_backing {
	struct xip_backing *next;
	struct xip_backing *idle_prev, *idle_next;	/* on the idle list */
	uint64_t offset;	/* the extent list: first index, count, size */
	uint32_t count;
	uint64_t size;
	int backing_id;
	unsigned int opens;
};

/*
 * Backing files nothing has open stay registered, the least recently
 * used closed first beyond s->xip_idle_max (-o xip_idle): a program that
 * opens the same files at every start (python, its modules) finds them
 * ready, instead of the daemon making each one again (an xipmap ioctl and
 * a passthrough open per file).  Each costs the kernel a file, an inode
 * and its page list, no data.
 */
static void idle_del(struct xipfs_state *s, struct xip_backing *b)
{
	*(b->idle_prev ? &b->idle_prev->idle_next : &s->xip_idle_first) = b->idle_next;
	*(b->idle_next ? &b->idle_next->idle_prev : &s->xip_idle_last) = b->idle_prev;
	b->idle_prev = b->idle_next = NULL;
	s->xip_idle--;
}

static void idle_add(struct xipfs_state *s, struct xip_backing *b)
{
	b->idle_next = NULL;
	b->idle_prev = s->xip_idle_last;
	*(s->xip_idle_last ? &s->xip_idle_last->idle_next : &s->xip_idle_first) = b;
	s->xip_idle_last = b;
	s->xip_idle++;
}

static size_t xip_hash(const struct xipfs_state *s, uint64_t offset, uint32_t count,
		       uint64_t size)
{
	uint64_t h = offset * 0x9e3779b97f4a7c15ULL ^ (count + size * 0xff51afd7ed558ccdULL);

	return (size_t)(h ^ h >> 29) & (s->xip_buckets - 1);
}

/* Double the table when it holds more entries than buckets. */
static void xip_grow(struct xipfs_state *s)
{
	size_t nb = s->xip_buckets ? s->xip_buckets * 2 : 256, old = s->xip_buckets;
	struct xip_backing **nt = calloc(nb, sizeof(*nt)), **ot = s->xip_table;

	if (!nt)
		return;		/* keep the old table: longer chains, still right */
	s->xip_table = nt;
	s->xip_buckets = nb;
	for (size_t i = 0; i < old; i++) {
		for (struct xip_backing *b = ot[i], *n; b; b = n) {
			size_t h = xip_hash(s, b->offset, b->count, b->size);

			n = b->next;
			b->next = nt[h];
			nt[h] = b;
		}
	}
	free(ot);
}

/* Under xip_lock: where @ino's backing is, or would be inserted. */
static struct xip_backing **xip_find_key(struct xipfs_state *s, uint64_t offset,
					 uint32_t count, uint64_t size)
{
	struct xip_backing **pp;

	if (s->xip_entries >= s->xip_buckets)
		xip_grow(s);
	if (!s->xip_table)
		return NULL;
	pp = &s->xip_table[xip_hash(s, offset, count, size)];
	for (; *pp; pp = &(*pp)->next) {
		if ((*pp)->offset == offset && (*pp)->count == count && (*pp)->size == size)
			return pp;
	}
	return pp;
}

static struct xip_backing **xip_find(struct xipfs_state *s, const struct xipfs_ino *ino)
{
	return xip_find_key(s, ino->offset, ino->count, ino->size);
}

/*
 * A page is mapped whole, so the bytes after EOF in a file's last page
 * would be visible through mmap.  mkxipfs writes zeros there; a crafted or
 * damaged image may not.  Such a file is not mapped (as cramfs refuses
 * direct mapping of a last page shared with other data): FUSE reads serve
 * it, and the page cache zeroes what lies past EOF.
 */
/*
 * xipfs_file_tail() for a segment inside a guest, read through the
 * helper's handle instead of the daemon's mapping: every file's last page
 * touched there would cost the daemon a page table page per 2 MiB of the
 * image it reaches (hundreds for a Debian /usr: more than the rest of the
 * daemon), where this read copies one page into a buffer.
 */
static int64_t tail_pread(const struct xipfs_state *s, const struct xipfs_ino *ino)
{
	uint64_t ps = xipfs_page_size(s->img), at = ino->size & (ps - 1);
	int handle = xipfs_segment_handle(s->seg);
	unsigned char buf[4096];
	int64_t page;

	if (handle < 0 || !S_ISREG(ino->mode) || !at)
		return xipfs_file_tail(s->img, ino);
	page = xipfs_file_page(s->img, ino, ino->size / ps);
	if (page <= 0)
		return page;
	while (at < ps) {
		size_t n = ps - at < sizeof(buf) ? ps - at : sizeof(buf);
		uint64_t off = (uint64_t)page * ps + at;
		int err = xipfs_pread_all(handle, buf, n, (off_t)off);

		if (err)
			return err;
		for (size_t k = 0; k < n; k++) {
			if (buf[k])
				return (int64_t)(off + k);
		}
		at += n;
	}
	return 0;
}

static int xip_tail_clean(const struct xipfs_state *s, const struct xipfs_ino *ino)
{
	int64_t off = tail_pread(s, ino);

	if (off < 0)
		return (int)off;
	if (off > 0) {
		xipfs_log(XIPFS_LOG_WARN,
			  "inode %u: byte at image offset %lld after end of file is not zero: not mapped in place, served by FUSE reads (run xipfsctl fsck)",
			  ino->ino, (long long)off);
		return -EPERM;
	}
	return 0;
}

/*
 * Whether @ino's @count kernel pages are one run of the segment's, from its
 * extents (which cover the file in order, holes left out): 1 with the
 * run's first kernel page in *@first, 0 if not, or -errno.
 */
static int xip_run(const struct xipfs_state *s, const struct xipfs_ino *ino,
		   uint64_t count, uint64_t *first)
{
	uint64_t per = xipfs_page_size(s->img) / s->xip_page_size, next = 0;
	struct xipfs_extent_info e, prev = { 0 };

	for (uint32_t i = 0; i < ino->count; i++) {
		int err = xipfs_extent(s->img, ino, i, &e);

		if (err)
			return err;
		if (e.lpage != next || (i && e.page != prev.page + prev.count))
			return 0;
		if (i == 0)
			*first = (uint64_t)e.page * per;
		next = e.lpage + e.count;
		prev = e;
	}
	return ino->count && next * per >= count;
}

/*
 * Make the backing file of @ino: kernel page k of the file is the segment's
 * kernel page pages[k], XIPMAP_HOLE for a hole.  Returns its fd or -errno.
 * A file stored as one run (most are: mkxipfs writes a file's extents in
 * order) is made XIPMAP_CREATE_LINEAR, which keeps no page list in the
 * kernel: 8 bytes less per page of every file open or kept idle (a 7 MiB
 * libpython's list is a 16 KiB allocation).  A helper older than the flag
 * refuses it once, and every file gets its list from then on
 * (xipfs_xipmap_create_run()).  The run is read off the extents: no list
 * is built for it.
 */
static int xip_create(struct xipfs_state *s, const struct xipfs_ino *ino)
{
	uint64_t kps = s->xip_page_size, per = xipfs_page_size(s->img) / kps;
	struct xipmap_create cr = { .seg_fd = s->xip_seg, .size = ino->size };
	uint64_t *pages, first = 0;
	int err = xip_tail_clean(s, ino);

	if (err)
		return err;
	cr.count = (ino->size + kps - 1) / kps;
	if (cr.count > s->xip_max_pages)
		return -EFBIG;
	err = xip_run(s, ino, cr.count, &first);
	if (err < 0)
		return err;
	if (err) {
		err = xipfs_xipmap_create_run(s->xip_dev, &cr, first, &s->xip_no_linear);
		return err ? err : cr.fd;
	}
	pages = calloc(cr.count, sizeof(*pages));
	if (!pages)
		return -ENOMEM;
	for (uint32_t i = 0; i < ino->count && !err; i++) {
		struct xipfs_extent_info e;

		err = xipfs_extent(s->img, ino, i, &e);
		for (uint64_t j = 0; !err && j < (uint64_t)e.count * per; j++) {
			uint64_t k = e.lpage * per + j;

			/* The tail of the last image page may lie past EOF. */
			if (k < cr.count)
				pages[k] = (uint64_t)e.page * per + j;
		}
	}
	if (!err) {
		cr.pages = (uintptr_t)pages;
		err = ioctl(s->xip_dev, XIPMAP_IOC_CREATE, &cr) < 0 ? -errno : cr.fd;
	}
	free(pages);
	return err;
}

/*
 * Take a reference on @ino's backing: its id, -EPERM if it was refused
 * (xip_tail_clean(), no reference then), -ENOMEM if the table cannot be
 * had.  If it has none, @b (a new one made for @ino, its reference taken)
 * goes in and is consumed, *b = NULL; without @b, 0.  A racing open may
 * have put one in since: @b stays with the caller then.
 */
static int xip_get(struct xipfs_state *s, const struct xipfs_ino *ino,
		   struct xip_backing **b)
{
	struct xip_backing **pp;
	int id = 0;

	pthread_mutex_lock(&s->xip_lock);
	pp = xip_find(s, ino);
	if (!pp) {
		id = -ENOMEM;
	} else if (*pp) {
		id = (*pp)->backing_id;
		if (id > 0 && (*pp)->opens++ == 0)
			idle_del(s, *pp);
	} else if (b) {
		(*b)->offset = ino->offset;
		(*b)->count = ino->count;
		(*b)->size = ino->size;
		*pp = *b;
		*b = NULL;
		s->xip_entries++;
		id = (*pp)->backing_id;
	}
	pthread_mutex_unlock(&s->xip_lock);
	return id;
}

/*
 * Register a new backing for @ino with the kernel.  The ioctls run outside
 * xip_lock, so opens of other files go on meanwhile; two first opens of
 * one content may race here, and the loser's id is closed in favour of the
 * one in the table (the kernel wants one backing file per inode).
 */
static int xip_new(struct xipfs_state *s, fuse_req_t req, const struct xipfs_ino *ino)
{
	struct xip_backing *b = calloc(1, sizeof(*b));
	int fd = b ? xip_create(s, ino) : -ENOMEM;
	int id;

	if (fd == -EPERM) {
		/* Remember the refusal: it is logged once, not at every open. */
		b->backing_id = -EPERM;
		id = xip_get(s, ino, &b);
		free(b);
		return id;
	}
	if (fd < 0) {
		free(b);
		return fd;
	}
	b->backing_id = fuse_passthrough_open(req, fd);
	b->opens = 1;
	/* The kernel holds its own reference to the file now. */
	close(fd);
	if (b->backing_id <= 0) {
		free(b);
		return -EIO;
	}
	id = xip_get(s, ino, &b);
	if (b) {
		fuse_passthrough_close(req, b->backing_id);
		free(b);
	}
	return id;
}

int xip_open(struct xipfs_state *s, fuse_req_t req, struct xipfs_open *of,
	     struct fuse_file_info *fi)
{
	const struct xipfs_ino *ino = &of->ino;
	int id;

	/* Empty files have no pages to map: FUSE serves them (no reads). */
	if (!s->xip_active || ino->size == 0)
		return 0;
	id = xip_get(s, ino, NULL);
	if (id == 0)
		id = xip_new(s, req, ino);
	if (id == -EUCLEAN)
		return -EIO;	/* libxipfs logged the damage */
	if (id == -EPERM)
		return 0;	/* xip_tail_clean() said why */
	if (id < 0) {
		/* A file the helper cannot map (too big, ...) is still readable. */
		xipfs_log(XIPFS_LOG_WARN, "inode %u: no backing file (%s): served by FUSE reads",
			  ino->ino, strerror(-id));
		return 0;
	}
	of->backing_id = id;
	fi->backing_id = id;
	fi->keep_cache = 0;	/* the kernel refuses it with a backing file */
	fi->direct_io = 0;
	return 1;
}

void xip_release(struct xipfs_state *s, fuse_req_t req, struct xipfs_open *of)
{
	struct xip_backing **pp, *b = NULL;

	/* fi->backing_id is not carried to release: the open remembers it. */
	if (!of->backing_id)
		return;
	pthread_mutex_lock(&s->xip_lock);
	pp = xip_find(s, &of->ino);
	if (pp && *pp && (*pp)->backing_id == of->backing_id && --(*pp)->opens == 0)
		idle_add(s, *pp);
	if (s->xip_idle > s->xip_idle_max) {
		b = s->xip_idle_first;
		idle_del(s, b);
		pp = xip_find_key(s, b->offset, b->count, b->size);
		*pp = b->next;		/* b is in the table: pp is not NULL */
		s->xip_entries--;
	}
	pthread_mutex_unlock(&s->xip_lock);
	if (b) {
		fuse_passthrough_close(req, b->backing_id);
		free(b);
	}
}

bool xip_backed(struct xipfs_state *s, const struct xipfs_ino *ino)
{
	struct xip_backing **pp;
	bool ok;

	pthread_mutex_lock(&s->xip_lock);
	pp = xip_find(s, ino);
	ok = pp && *pp && (*pp)->backing_id > 0;
	pthread_mutex_unlock(&s->xip_lock);
	return ok;
}

void xip_exit(struct xipfs_state *s)
{
	for (size_t i = 0; i < s->xip_buckets; i++) {
		for (struct xip_backing *b = s->xip_table[i], *n; b; b = n) {
			n = b->next;
			free(b);
		}
	}
	free(s->xip_table);
	s->xip_table = NULL;
	if (s->xip_seg >= 0)
		close(s->xip_seg);
	if (s->xip_dev >= 0)
		close(s->xip_dev);
	s->xip_seg = s->xip_dev = -1;
}

int xip_check(struct xipfs_state *s, char *why, size_t len)
{
	struct xipmap_version v = { 0 };
	struct xipmap_attach at = { 0 };
	uint32_t ips = xipfs_page_size(s->img);
	int handle = xipfs_segment_handle(s->seg);

	s->xip_dev = open(XIPMAP_DEVICE, O_RDWR | O_CLOEXEC);
	if (s->xip_dev < 0) {
		snprintf(why, len, "the xipmap kernel helper is not loaded (%s: %s)",
			 XIPMAP_DEVICE, strerror(errno));
		return -ENOTSUP;
	}
	if (ioctl(s->xip_dev, XIPMAP_IOC_VERSION, &v) < 0 || v.version != XIPMAP_API_VERSION) {
		snprintf(why, len, "%s speaks API version %u, this xipfs needs %u",
			 XIPMAP_DEVICE, v.version, XIPMAP_API_VERSION);
		goto out_dev;
	}
	if (!v.page_size || ips % v.page_size) {
		snprintf(why, len, "image page size %u is not a multiple of the kernel's %u",
			 ips, v.page_size);
		goto out_dev;
	}
	s->xip_page_size = v.page_size;
	s->xip_max_pages = v.max_pages;
	if (handle >= 0) {
		/* An ivshmem segment: the handle came with the mapping. */
		s->xip_seg = dup(handle);
		if (s->xip_seg < 0) {
			snprintf(why, len, "dup: %s", strerror(errno));
			goto out_dev;
		}
		return 0;
	}
	at.kind = XIPMAP_SEG_FD;
	at.fd = xipfs_segment_fd(s->seg);
	if (ioctl(s->xip_dev, XIPMAP_IOC_ATTACH, &at) < 0) {
		snprintf(why, len, "the xipmap helper refused the segment: %s", strerror(errno));
		goto out_dev;
	}
	s->xip_seg = at.seg_fd;
	return 0;

out_dev:
	close(s->xip_dev);
	s->xip_dev = -1;
	return -ENOTSUP;
}

void xip_init(struct xipfs_state *s, struct fuse_conn_info *conn)
{
	s->xip_active = false;
	if (!s->xip_ok) {
		xip_give_up(s, s->xip_why);
		return;
	}
	if (!(conn->capable & FUSE_CAP_PASSTHROUGH)) {
		xip_give_up(s, "the kernel offers no FUSE passthrough (needs Linux >= 6.9 with CONFIG_FUSE_PASSTHROUGH)");
		return;
	}
	if (conn->want & FUSE_CAP_WRITEBACK_CACHE) {
		xip_give_up(s, "FUSE passthrough excludes the writeback cache");
		return;
	}
	conn->want |= FUSE_CAP_PASSTHROUGH;
	__atomic_store_n(&s->xip_active, true, __ATOMIC_RELEASE);
	xipfs_log(XIPFS_LOG_INFO, "XIP: files map the segment's frames (xipmap helper, FUSE passthrough)");
}

#else /* !HAVE_FUSE_PASSTHROUGH_OPEN */

int xip_check(struct xipfs_state *s, char *why, size_t len)
{
	(void)s;
	snprintf(why, len, "xipfs was built without FUSE passthrough (needs libfuse >= 3.17)");
	return -ENOTSUP;
}

void xip_init(struct xipfs_state *s, struct fuse_conn_info *conn)
{
	(void)conn;
	s->xip_active = false;
	xip_give_up(s, s->xip_why);
}

int xip_open(struct xipfs_state *s, fuse_req_t req, struct xipfs_open *of,
	     struct fuse_file_info *fi)
{
	(void)s, (void)req, (void)of, (void)fi;
	return 0;
}

void xip_release(struct xipfs_state *s, fuse_req_t req, struct xipfs_open *of)
{
	(void)s, (void)req, (void)of;
}

void xip_exit(struct xipfs_state *s)
{
	(void)s;
}

bool xip_backed(struct xipfs_state *s, const struct xipfs_ino *ino)
{
	(void)s;
	(void)ino;
	return false;
}

#endif

/*
 * XIP was wanted but the connection cannot give it: with xip=auto say so
 * once and serve reads through FUSE; with xip=on end the session, so the
 * mount goes away and the daemon exits non-zero with the reason logged.
 */
void xip_give_up(struct xipfs_state *s, const char *why)
{
	if (s->xip == XIP_ON) {
		xipfs_log(XIPFS_LOG_ERR, "-o xip=on: XIP is not available: %s", why);
		s->xip_failed = true;
		fuse_session_exit(s->se);
		return;
	}
	xipfs_log(XIPFS_LOG_INFO, "serving reads through FUSE: %s", why);
}
