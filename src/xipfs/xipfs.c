// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * xipfs: the FUSE daemon.  Serves an image, read-only, from a segment: a
 * private sealed memfd holding a copy of an image file, or a loaded shared
 * segment (seg:NAME).  FUSE inode numbers are the image's inode numbers
 * (root = 1 = FUSE_ROOT_ID), so nothing is allocated per lookup and forget
 * has nothing to do.  The image never changes, so the kernel may cache
 * every entry, attribute, symlink, directory and page for as long as it
 * likes.
 */
#include <errno.h>
#include <pthread.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

#include "xipfs/xipfs.h"
#include "xipfs/segment.h"
#include "daemon.h"

#define CACHE_TIMEOUT	86400.0		/* the image is immutable */

_Static_assert(sizeof(uint64_t) >= sizeof(uintptr_t), "fi->fh holds a pointer");

static struct xipfs_state *state(fuse_req_t req)
{
	return fuse_req_userdata(req);
}

/* Library errors: -EUCLEAN (already logged by libxipfs) becomes EIO. */
static int to_errno(int err)
{
	return err == -EUCLEAN ? EIO : -err;
}

static void fill_stat(const struct xipfs_state *s, const struct xipfs_ino *ino,
		      struct stat *st)
{
	memset(st, 0, sizeof(*st));
	st->st_ino = ino->ino;
	st->st_mode = ino->mode;
	st->st_nlink = ino->nlink;
	st->st_uid = ino->uid;
	st->st_gid = ino->gid;
	st->st_size = (off_t)ino->size;
	st->st_rdev = (dev_t)ino->rdev;
	st->st_blksize = (blksize_t)xipfs_page_size(s->img);
	if (S_ISREG(ino->mode))
		st->st_blocks = (blkcnt_t)ino->blocks;
	else
		st->st_blocks = (blkcnt_t)((ino->size + 511) / 512);
	st->st_mtim.tv_sec = ino->mtime;
	st->st_mtim.tv_nsec = ino->mtime_nsec;
	st->st_ctim.tv_sec = ino->ctime;
	st->st_ctim.tv_nsec = ino->ctime_nsec;
	st->st_atim = st->st_mtim;
}

static int get_ino(fuse_req_t req, fuse_ino_t n, struct xipfs_ino *ino)
{
	int err;

	if (n > UINT32_MAX)
		return ENOENT;
	err = xipfs_inode_get(state(req)->img, (uint32_t)n, ino);
	return err ? to_errno(err) : 0;
}

static void xipfs_op_init(void *userdata, struct fuse_conn_info *conn)
{
	struct xipfs_state *s = userdata;

	if (conn->capable & FUSE_CAP_CACHE_SYMLINKS)
		conn->want |= FUSE_CAP_CACHE_SYMLINKS;
	if (conn->capable & FUSE_CAP_READDIRPLUS)
		conn->want |= FUSE_CAP_READDIRPLUS;
	conn->want &= ~(unsigned)FUSE_CAP_READDIRPLUS_AUTO;
	if (conn->capable & FUSE_CAP_SPLICE_WRITE)
		conn->want |= FUSE_CAP_SPLICE_WRITE;
	conn->want &= ~(unsigned)FUSE_CAP_WRITEBACK_CACHE;
	conn->max_readahead = conn->max_readahead ? conn->max_readahead : 1u << 20;
	xip_init(s, conn);
	/*
	 * Open-less files and directories: the kernel sends no OPEN, FLUSH or
	 * RELEASE and caches pages and directories as with keep_cache and
	 * cache_readdir (its defaults for no_open).  A python start opens
	 * hundreds of files, each an OPEN and a RELEASE round trip otherwise.
	 * XIP needs its opens: they hand the kernel the backing file.
	 */
	if (!s->xip_active && (conn->capable & FUSE_CAP_NO_OPEN_SUPPORT)) {
		conn->want |= FUSE_CAP_NO_OPEN_SUPPORT;
		s->no_open = true;
	}
	if (conn->capable & FUSE_CAP_NO_OPENDIR_SUPPORT) {
		conn->want |= FUSE_CAP_NO_OPENDIR_SUPPORT;
		s->no_opendir = true;
	}
}

static void reply_entry(fuse_req_t req, const struct xipfs_ino *ino)
{
	struct fuse_entry_param e = { 0 };

	e.ino = ino->ino;
	e.generation = 1;
	e.attr_timeout = CACHE_TIMEOUT;
	e.entry_timeout = CACHE_TIMEOUT;
	fill_stat(state(req), ino, &e.attr);
	fuse_reply_entry(req, &e);
}

static void xipfs_op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct xipfs_state *s = state(req);
	struct xipfs_ino dir, ino;
	struct xipfs_entry e;
	int err = get_ino(req, parent, &dir);

	if (!err) {
		err = xipfs_dir_lookup(s->img, &dir, name, strlen(name), &e);
		if (err == -ENOENT) {
			/* A negative entry, cached as long as a positive one. */
			struct fuse_entry_param neg = { .entry_timeout = CACHE_TIMEOUT };

			fuse_reply_entry(req, &neg);
			return;
		}
		err = err ? to_errno(err) : 0;
	}
	if (!err) {
		err = xipfs_inode_get(s->img, e.ino, &ino);
		err = err == -ENOENT ? EIO : to_errno(err);
	}
	if (err)
		fuse_reply_err(req, err);
	else
		reply_entry(req, &ino);
}

static void xipfs_op_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	fuse_reply_none(req);
}

static void xipfs_op_forget_multi(fuse_req_t req, size_t count,
				  struct fuse_forget_data *forgets)
{
	fuse_reply_none(req);
}

static void xipfs_op_getattr(fuse_req_t req, fuse_ino_t n, struct fuse_file_info *fi)
{
	struct xipfs_ino ino;
	struct stat st;
	int err = get_ino(req, n, &ino);

	if (err) {
		fuse_reply_err(req, err);
		return;
	}
	fill_stat(state(req), &ino, &st);
	fuse_reply_attr(req, &st, CACHE_TIMEOUT);
}

static void xipfs_op_readlink(fuse_req_t req, fuse_ino_t n)
{
	char buf[XIPFS_SYMLINK_MAX + 1];
	struct xipfs_ino ino;
	const char *t;
	size_t len;
	int err = get_ino(req, n, &ino);

	if (!err)
		err = to_errno(xipfs_readlink(state(req)->img, &ino, &t, &len));
	if (err) {
		fuse_reply_err(req, err);
		return;
	}
	memcpy(buf, t, len);
	buf[len] = '\0';
	fuse_reply_readlink(req, buf);
}

static void xipfs_op_opendir(fuse_req_t req, fuse_ino_t n, struct fuse_file_info *fi)
{
	struct xipfs_ino ino;
	int err;

	/* ENOSYS once: then the kernel opens directories by itself. */
	if (state(req)->no_opendir) {
		fuse_reply_err(req, ENOSYS);
		return;
	}
	err = get_ino(req, n, &ino);
	if (!err && !S_ISDIR(ino.mode))
		err = ENOTDIR;
	if (err) {
		fuse_reply_err(req, err);
		return;
	}
	fi->cache_readdir = 1;
	fi->keep_cache = 1;
	fuse_reply_open(req, fi);
}

/*
 * Directory offsets: 1 is after ".", 2 after "..", 2 + i + 1 after entry i.
 */
static void do_readdir(fuse_req_t req, fuse_ino_t n, size_t size, off_t off, bool plus)
{
	struct xipfs_state *s = state(req);
	struct xipfs_ino dir;
	char *buf, name[XIPFS_NAME_MAX + 1];
	size_t used = 0;
	int err = get_ino(req, n, &dir);

	if (err) {
		fuse_reply_err(req, err);
		return;
	}
	buf = malloc(size);
	if (!buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	for (uint64_t pos = (uint64_t)off; pos < 2 + (uint64_t)dir.count; pos++) {
		struct fuse_entry_param e = { 0 };
		struct xipfs_ino ino;
		size_t len;

		if (pos < 2) {
			strcpy(name, pos ? ".." : ".");
			ino = dir;
			if (pos)
				ino.ino = 0;	/* unknown parent: the kernel fills it */
			e.attr.st_ino = ino.ino ? ino.ino : FUSE_ROOT_ID;
			e.attr.st_mode = S_IFDIR;
		} else {
			struct xipfs_entry de;

			err = xipfs_dir_entry(s->img, &dir, (uint32_t)(pos - 2), &de);
			if (!err)
				err = xipfs_inode_get(s->img, de.ino, &ino);
			if (err) {
				err = err == -ENOENT ? EIO : to_errno(err);
				break;
			}
			memcpy(name, de.name, de.namelen);
			name[de.namelen] = '\0';
			fill_stat(s, &ino, &e.attr);
			if (plus) {
				e.ino = ino.ino;
				e.generation = 1;
				e.attr_timeout = CACHE_TIMEOUT;
				e.entry_timeout = CACHE_TIMEOUT;
			}
		}
		if (plus)
			len = fuse_add_direntry_plus(req, buf + used, size - used, name,
						     &e, (off_t)pos + 1);
		else
			len = fuse_add_direntry(req, buf + used, size - used, name,
						&e.attr, (off_t)pos + 1);
		if (len > size - used)
			break;
		used += len;
	}
	if (err && !used)
		fuse_reply_err(req, err);
	else
		fuse_reply_buf(req, buf, used);
	free(buf);
}

static void xipfs_op_readdir(fuse_req_t req, fuse_ino_t n, size_t size, off_t off,
			     struct fuse_file_info *fi)
{
	do_readdir(req, n, size, off, false);
}

static void xipfs_op_readdirplus(fuse_req_t req, fuse_ino_t n, size_t size, off_t off,
				 struct fuse_file_info *fi)
{
	do_readdir(req, n, size, off, true);
}

static void xipfs_op_releasedir(fuse_req_t req, fuse_ino_t n, struct fuse_file_info *fi)
{
	fuse_reply_err(req, 0);
}

/*
 * Every open file's state, on a list: the kernel holds the only other
 * pointer (fi->fh), and a daemon that stops with files still open (a
 * SIGTERM, a lazy unmount) frees them at exit instead of leaking them.
 */
static void open_track(struct xipfs_state *s, struct xipfs_open *of)
{
	pthread_mutex_lock(&s->opens_lock);
	of->next = &s->opens;
	of->prev = s->opens.prev;
	s->opens.prev->next = of;
	s->opens.prev = of;
	pthread_mutex_unlock(&s->opens_lock);
}

static void open_free(struct xipfs_state *s, struct xipfs_open *of)
{
	pthread_mutex_lock(&s->opens_lock);
	of->prev->next = of->next;
	of->next->prev = of->prev;
	pthread_mutex_unlock(&s->opens_lock);
	free(of);
}

void xipfs_free_opens(struct xipfs_state *s)
{
	while (s->opens.next != &s->opens)
		open_free(s, s->opens.next);
}

static void xipfs_op_open(fuse_req_t req, fuse_ino_t n, struct fuse_file_info *fi)
{
	struct xipfs_state *s = state(req);
	struct xipfs_open *of;
	struct xipfs_ino *ino;
	int err;

	if ((fi->flags & O_ACCMODE) != O_RDONLY || (fi->flags & O_TRUNC)) {
		fuse_reply_err(req, EROFS);
		return;
	}
	/* ENOSYS once: the kernel opens files by itself from then on. */
	if (s->no_open) {
		fuse_reply_err(req, ENOSYS);
		return;
	}
	of = calloc(1, sizeof(*of));
	if (!of) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	ino = &of->ino;
	err = get_ino(req, n, ino);
	if (!err && !S_ISREG(ino->mode))
		err = EINVAL;
	if (err) {
		free(of);
		fuse_reply_err(req, err);
		return;
	}
	/* The decoded inode lives as long as the open file: reads skip it. */
	fi->fh = (uintptr_t)of;
	err = xip_open(s, req, of, fi);
	if (err < 0) {
		free(of);
		fuse_reply_err(req, -err);
		return;
	}
	if (err == 0)
		fi->keep_cache = 1;	/* FUSE reads: the image never changes */
	open_track(s, of);
	if (fuse_reply_open(req, fi)) {
		/* The opener is gone (interrupted): no release will come. */
		xip_release(s, req, of);
		open_free(s, of);
	}
}

/* The inode of an open file: decoded at open, or now if open-less. */
static int file_ino(fuse_req_t req, fuse_ino_t n, const struct fuse_file_info *fi,
		    struct xipfs_ino *ino)
{
	const struct xipfs_open *of = (const struct xipfs_open *)(uintptr_t)fi->fh;
	int err;

	if (of) {
		*ino = of->ino;
		return 0;
	}
	err = get_ino(req, n, ino);
	return !err && !S_ISREG(ino->mode) ? EINVAL : err;
}

/*
 * The -o read=splice variant: the same extents, but data inside the segment
 * goes to the kernel by splice from the segment fd (libfuse splices it into
 * a pipe and the pipe into /dev/fuse) instead of writev from the mapping.
 * Anything outside the segment (the library's zero page for holes) stays a
 * memory buffer.  bench/mount.sh measures both.  iov is the default: both
 * copy once into the reader's page cache, and a cold read of
 * /usr/lib/x86_64-linux-gnu cost the daemon 98-107 CPU ticks with writev
 * against 118-139 with the two splices and their pipe.
 */
static void reply_splice(fuse_req_t req, const struct xipfs_state *s,
			 const struct iovec *iov, int cnt)
{
	const char *base = xipfs_segment_base(s->seg);
	size_t segsz = xipfs_segment_size(s->seg);
	struct fuse_bufvec *bv;

	if (!cnt) {
		fuse_reply_buf(req, NULL, 0);
		return;
	}
	bv = malloc(sizeof(*bv) + (size_t)(cnt - 1) * sizeof(bv->buf[0]));
	if (!bv) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	*bv = (struct fuse_bufvec)FUSE_BUFVEC_INIT(0);
	bv->count = (size_t)cnt;
	for (int i = 0; i < cnt; i++) {
		const char *p = iov[i].iov_base;
		struct fuse_buf *b = &bv->buf[i];

		memset(b, 0, sizeof(*b));
		b->size = iov[i].iov_len;
		if (p >= base && p < base + segsz) {
			b->flags = FUSE_BUF_IS_FD | FUSE_BUF_FD_SEEK;
			b->fd = xipfs_segment_fd(s->seg);
			b->pos = p - base;
		} else {
			b->mem = iov[i].iov_base;
		}
	}
	fuse_reply_data(req, bv, FUSE_BUF_SPLICE_MOVE);
	free(bv);
}

static void xipfs_op_read(fuse_req_t req, fuse_ino_t n, size_t size, off_t off,
			  struct fuse_file_info *fi)
{
	struct xipfs_state *s = state(req);
	struct iovec stack[64], *iov = stack;
	/* A run of holes takes one iovec a page; data runs merge. */
	size_t max = size / xipfs_page_size(s->img) + 2, bytes;
	struct xipfs_ino ino;
	int cnt = file_ino(req, n, fi, &ino);

	if (cnt) {
		fuse_reply_err(req, cnt);
		return;
	}

	if (max > 64) {
		iov = malloc(max * sizeof(*iov));
		if (!iov) {
			fuse_reply_err(req, ENOMEM);
			return;
		}
	} else {
		max = 64;
	}
	cnt = xipfs_file_iov(s->img, &ino, (uint64_t)off, size, iov, (int)max, &bytes);
	if (cnt < 0)
		fuse_reply_err(req, to_errno(cnt));
	else if (s->splice_read)
		reply_splice(req, s, iov, cnt);
	else
		fuse_reply_iov(req, iov, cnt);
	if (iov != stack)
		free(iov);
}

static void xipfs_op_release(fuse_req_t req, fuse_ino_t n, struct fuse_file_info *fi)
{
	struct xipfs_open *of = (struct xipfs_open *)(uintptr_t)fi->fh;

	if (of) {
		xip_release(state(req), req, of);
		open_free(state(req), of);
	}
	fuse_reply_err(req, 0);
}

static void xipfs_op_lseek(fuse_req_t req, fuse_ino_t n, off_t off, int whence,
			   struct fuse_file_info *fi)
{
	struct xipfs_ino ino;
	int64_t r;
	int err = file_ino(req, n, fi, &ino);

	if (err) {
		fuse_reply_err(req, err);
		return;
	}
	if (whence != SEEK_DATA && whence != SEEK_HOLE) {
		fuse_reply_err(req, EINVAL);
		return;
	}
	if (off < 0) {
		fuse_reply_err(req, ENXIO);
		return;
	}
	r = xipfs_file_seek(state(req)->img, &ino, (uint64_t)off, whence);
	if (r < 0)
		fuse_reply_err(req, to_errno((int)r));
	else
		fuse_reply_lseek(req, (off_t)r);
}

static void xipfs_op_statfs(fuse_req_t req, fuse_ino_t n)
{
	struct xipfs_state *s = state(req);
	struct statvfs sv = { 0 };

	sv.f_bsize = xipfs_page_size(s->img);
	sv.f_frsize = sv.f_bsize;
	sv.f_blocks = xipfs_image_size(s->img) / sv.f_bsize;
	sv.f_files = xipfs_inode_count(s->img);
	sv.f_namemax = XIPFS_NAME_MAX;
	fuse_reply_statfs(req, &sv);
}

/*
 * An image without any xattr answers ENOSYS, once: the kernel then answers
 * every getxattr and listxattr of the mount with EOPNOTSUPP itself.  It
 * asks for security.capability at every exec, a round trip each that no
 * cache saves (a guest's boot runs hundreds of programs from /usr).
 */
static bool no_xattrs(fuse_req_t req)
{
	return !xipfs_le32(xipfs_super(state(req)->img)->s_xattr_sets);
}

/*
 * The value is copied out of the image first: writev() to /dev/fuse pins
 * the pages it sends (GUP), which the frames of an ivshmem or pmem segment
 * (no struct page) refuse, and the daemon maps those frames directly.
 */
static void xipfs_op_getxattr(fuse_req_t req, fuse_ino_t n, const char *name, size_t size)
{
	struct xipfs_ino ino;
	struct xipfs_xattr x;
	void *buf;
	int err = no_xattrs(req) ? ENOSYS : get_ino(req, n, &ino);

	if (!err)
		err = to_errno(xipfs_xattr_find(state(req)->img, &ino, name, &x));
	if (err) {
		fuse_reply_err(req, err);
		return;
	}
	if (!size) {
		fuse_reply_xattr(req, x.value_len);
		return;
	}
	if (size < x.value_len) {
		fuse_reply_err(req, ERANGE);
		return;
	}
	buf = malloc(x.value_len ? x.value_len : 1);
	if (!buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	memcpy(buf, x.value, x.value_len);
	fuse_reply_buf(req, buf, x.value_len);
	free(buf);
}

static void xipfs_op_listxattr(fuse_req_t req, fuse_ino_t n, size_t size)
{
	struct xipfs_state *s = state(req);
	struct xipfs_ino ino;
	ssize_t need;
	char *buf;
	int err = no_xattrs(req) ? ENOSYS : get_ino(req, n, &ino);

	if (err) {
		fuse_reply_err(req, err);
		return;
	}
	need = xipfs_xattr_list(s->img, &ino, NULL, 0);
	if (need < 0) {
		fuse_reply_err(req, to_errno((int)need));
		return;
	}
	if (!size) {
		fuse_reply_xattr(req, (size_t)need);
		return;
	}
	if (size < (size_t)need) {
		fuse_reply_err(req, ERANGE);
		return;
	}
	buf = malloc(need ? (size_t)need : 1);
	if (!buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	need = xipfs_xattr_list(s->img, &ino, buf, (size_t)need);
	if (need < 0)
		fuse_reply_err(req, to_errno((int)need));
	else
		fuse_reply_buf(req, buf, (size_t)need);
	free(buf);
}

/*
 * No ioctls.  The kernel asks anyway, for every one: Python's open() calls
 * isatty() (TCGETS) on each file it reads, one round trip a module that no
 * cache can save.  Answered here (libfuse would say ENOSYS, which the
 * kernel turns into this) so that -o stats counts them.
 */
static void xipfs_op_ioctl(fuse_req_t req, fuse_ino_t n, unsigned int cmd, void *arg,
			   struct fuse_file_info *fi, unsigned int flags, const void *in,
			   size_t in_size, size_t out_size)
{
	fuse_reply_err(req, ENOTTY);
}

/* Every request that would change something. */
static void xipfs_op_setattr(fuse_req_t req, fuse_ino_t n, struct stat *a, int to_set,
			     struct fuse_file_info *fi)
{
	fuse_reply_err(req, EROFS);
}

static void xipfs_op_mknod(fuse_req_t req, fuse_ino_t p, const char *name, mode_t m, dev_t r)
{
	fuse_reply_err(req, EROFS);
}

static void xipfs_op_mkdir(fuse_req_t req, fuse_ino_t p, const char *name, mode_t m)
{
	fuse_reply_err(req, EROFS);
}

static void xipfs_op_unlink(fuse_req_t req, fuse_ino_t p, const char *name)
{
	fuse_reply_err(req, EROFS);
}

static void xipfs_op_symlink(fuse_req_t req, const char *link, fuse_ino_t p, const char *name)
{
	fuse_reply_err(req, EROFS);
}

static void xipfs_op_rename(fuse_req_t req, fuse_ino_t p, const char *name, fuse_ino_t np,
			    const char *nn, unsigned int flags)
{
	fuse_reply_err(req, EROFS);
}

static void xipfs_op_link(fuse_req_t req, fuse_ino_t n, fuse_ino_t np, const char *nn)
{
	fuse_reply_err(req, EROFS);
}

static void xipfs_op_write(fuse_req_t req, fuse_ino_t n, const char *buf, size_t size,
			   off_t off, struct fuse_file_info *fi)
{
	fuse_reply_err(req, EROFS);
}

static void xipfs_op_create(fuse_req_t req, fuse_ino_t p, const char *name, mode_t m,
			    struct fuse_file_info *fi)
{
	fuse_reply_err(req, EROFS);
}

static void xipfs_op_setxattr(fuse_req_t req, fuse_ino_t n, const char *name,
			      const char *value, size_t size, int flags)
{
	fuse_reply_err(req, EROFS);
}

static void xipfs_op_removexattr(fuse_req_t req, fuse_ino_t n, const char *name)
{
	fuse_reply_err(req, EROFS);
}

static void xipfs_op_fallocate(fuse_req_t req, fuse_ino_t n, int mode, off_t off,
			       off_t len, struct fuse_file_info *fi)
{
	fuse_reply_err(req, EROFS);
}

static void xipfs_op_copy_file_range(fuse_req_t req, fuse_ino_t in, off_t oin,
				     struct fuse_file_info *fin, fuse_ino_t out, off_t oout,
				     struct fuse_file_info *fout, size_t len, int flags)
{
	fuse_reply_err(req, EROFS);
}

const struct fuse_lowlevel_ops xipfs_ops = {
	.init = xipfs_op_init,
	.lookup = xipfs_op_lookup,
	.forget = xipfs_op_forget,
	.forget_multi = xipfs_op_forget_multi,
	.getattr = xipfs_op_getattr,
	.readlink = xipfs_op_readlink,
	.opendir = xipfs_op_opendir,
	.readdir = xipfs_op_readdir,
	.readdirplus = xipfs_op_readdirplus,
	.releasedir = xipfs_op_releasedir,
	.open = xipfs_op_open,
	.read = xipfs_op_read,
	.release = xipfs_op_release,
	.lseek = xipfs_op_lseek,
	.statfs = xipfs_op_statfs,
	.getxattr = xipfs_op_getxattr,
	.listxattr = xipfs_op_listxattr,
	.ioctl = xipfs_op_ioctl,
	.setattr = xipfs_op_setattr,
	.mknod = xipfs_op_mknod,
	.mkdir = xipfs_op_mkdir,
	.unlink = xipfs_op_unlink,
	.rmdir = xipfs_op_unlink,
	.symlink = xipfs_op_symlink,
	.rename = xipfs_op_rename,
	.link = xipfs_op_link,
	.write = xipfs_op_write,
	.create = xipfs_op_create,
	.setxattr = xipfs_op_setxattr,
	.removexattr = xipfs_op_removexattr,
	.fallocate = xipfs_op_fallocate,
	.copy_file_range = xipfs_op_copy_file_range,
};
