// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Segments.  What protects a loaded segment from writes: the file is root's,
 * mode 0444, and carries FS_IMMUTABLE_FL (tmpfs supports it since Linux
 * 6.0), which makes even root's open for writing, truncate, rename and
 * unlink fail until the flag is cleared; without write opens no shared
 * writable mapping can exist.  A private segment is a memfd sealed with
 * F_SEAL_WRITE|F_SEAL_SHRINK|F_SEAL_GROW|F_SEAL_SEAL, which nobody can undo.
 */
#include <dirent.h>
#include <endian.h>
#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "xipfs/xipfs.h"
#include "xipfs/segment.h"
#include "xipfs/xipmap.h"
#include "internal.h"

struct xipfs_segment {
	int fd;
	void *base;
	size_t size;
	int handle;		/* ivshmem: the xipmap segment handle, else -1 */
};

int xipfs_seg_word_ok(const char *name, size_t max)
{
	size_t n = strlen(name);

	if (n < 1 || n > max || name[0] == '.' ||
	    strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") != n)
		return -EINVAL;
	return 0;
}

int xipfs_segment_name_ok(const char *name)
{
	return xipfs_seg_word_ok(name, XIPFS_SEGMENT_NAME_MAX);
}

void xipfs_segment_path(const char *name, char *buf, size_t len)
{
	snprintf(buf, len, "%s/%s%s", XIPFS_SEGMENT_DIR, XIPFS_SEGMENT_PREFIX, name);
}

static int seg_map(int fd, struct xipfs_segment **out)
{
	struct xipfs_segment *s;
	struct stat st;

	if (fstat(fd, &st) < 0)
		return -errno;
	if (st.st_size < (off_t)sizeof(struct xipfs_super))
		return -EUCLEAN;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->size = st.st_size;
	s->base = mmap(NULL, s->size, PROT_READ, MAP_SHARED, fd, 0);
	if (s->base == MAP_FAILED) {
		int err = -errno;

		free(s);
		return err;
	}
	s->fd = fd;
	s->handle = -1;
	*out = s;
	return 0;
}

int xipfs_segment_open(const char *name, struct xipfs_segment **out)
{
	char path[PATH_MAX];
	int fd, err;

	if (xipfs_segment_name_ok(name)) {
		xipfs_log(XIPFS_LOG_ERR, "invalid segment name '%s'", name);
		return -EINVAL;
	}
	xipfs_segment_path(name, path, sizeof(path));
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		err = -errno;
		xipfs_log(XIPFS_LOG_ERR, "segment %s: %s%s", name, strerror(errno),
			  errno == ENOENT ? " (load it with: xipfsctl load IMAGE NAME)" : "");
		return err;
	}
	err = seg_map(fd, out);
	if (err) {
		xipfs_log(XIPFS_LOG_ERR, "segment %s: cannot map %s: %s", name, path,
			  strerror(-err));
		close(fd);
	}
	return err;
}

int xipfs_pread_all(int fd, void *buf, size_t len, off_t off)
{
	while (len) {
		ssize_t n = pread(fd, buf, len, off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		buf = (uint8_t *)buf + n;
		len -= (size_t)n;
		off += n;
	}
	return 0;
}

int xipfs_pwrite_all(int fd, const void *buf, size_t len, off_t off)
{
	while (len) {
		ssize_t n = pwrite(fd, buf, len, off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)	/* 0: no progress, which retrying would not change */
			return n < 0 ? -errno : -EIO;
		buf = (const uint8_t *)buf + n;
		len -= (size_t)n;
		off += n;
	}
	return 0;
}

/* Copy the first @len bytes of @in to the start of @out. */
static int copy_fd(int in, int out, size_t len)
{
	char buf[1 << 16];
	int err = 0;

	for (size_t done = 0; done < len && !err;) {
		size_t n = sizeof(buf) < len - done ? sizeof(buf) : len - done;

		err = xipfs_pread_all(in, buf, n, (off_t)done);
		if (!err)
			err = xipfs_pwrite_all(out, buf, n, (off_t)done);
		done += n;
	}
	return err;
}

/*
 * Open image file @path and learn how many bytes to copy: s_size from its
 * superblock, clamped to the file.  Nothing here is trusted: the copy is
 * what gets validated (xipfs_seg_check_image()), so a file that changes while it is
 * read cannot put an unchecked image into a segment.
 */
int xipfs_seg_open_image(const char *path, int *in, size_t *len)
{
	struct xipfs_super sb;
	struct stat st;
	off_t end;
	int err;

	*in = open(path, O_RDONLY | O_CLOEXEC);
	if (*in < 0) {
		err = -errno;
		xipfs_log(XIPFS_LOG_ERR, "%s: cannot open: %s", path, strerror(errno));
		return err;
	}
	if (fstat(*in, &st) < 0) {
		err = -errno;
		xipfs_log(XIPFS_LOG_ERR, "%s: cannot stat: %s", path, strerror(errno));
		goto out_close;
	}
	if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode)) {
		err = -EINVAL;
		xipfs_log(XIPFS_LOG_ERR, "%s: not a regular file", path);
		goto out_close;
	}
	/* A block device's st_size is 0: its size is where it ends. */
	end = lseek(*in, 0, SEEK_END);
	if (end < 0) {
		err = -errno;
		xipfs_log(XIPFS_LOG_ERR, "%s: cannot get the size: %s", path, strerror(errno));
		goto out_close;
	}
	if (pread(*in, &sb, sizeof(sb), 0) != (ssize_t)sizeof(sb)) {
		err = -EUCLEAN;
		xipfs_log(XIPFS_LOG_ERR,
			  "%s: corrupt superblock at offset 0: file is %lld bytes, too short for an xipfs image",
			  path, (long long)end);
		goto out_close;
	}
	*len = (uint64_t)end;
	if (xipfs_le64(sb.s_size) < *len)
		*len = xipfs_le64(sb.s_size);
	if (*len < sizeof(sb))
		*len = sizeof(sb);	/* the check of the copy says what is wrong */
	return 0;
out_close:
	close(*in);
	*in = -1;
	return err;
}

/* Validate the copy at @base (@len bytes) of image @path, as any image. */
int xipfs_seg_check_image(const void *base, size_t len, const char *path)
{
	struct xipfs_image *img;
	int err = xipfs_open_mem(base, len, path, 0, &img);

	if (!err)
		xipfs_close(img);
	return err;
}

int xipfs_seg_close_image(const char *path, int in, int err)
{
	/* The copy is what gets used: don't keep the file cached too. */
	posix_fadvise(in, 0, 0, POSIX_FADV_DONTNEED);
	close(in);
	if (err)
		xipfs_log(XIPFS_LOG_ERR, "%s: cannot copy the image into memory: %s", path,
			  strerror(-err));
	return err;
}

/* Copy the image in @path to @out; the caller validates the copy. */
int xipfs_seg_copy_image(const char *path, int out, size_t *size)
{
	int in, err = xipfs_seg_open_image(path, &in, size);

	if (err)
		return err;
	return xipfs_seg_close_image(path, in, copy_fd(in, out, *size));
}

int xipfs_segment_memfd(const char *path, struct xipfs_segment **out)
{
	struct xipfs_segment *seg;
	size_t size;
	int fd = memfd_create("xipfs", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	int err;

	if (fd < 0)
		return -errno;
	err = xipfs_seg_copy_image(path, fd, &size);
	if (!err && fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE | F_SEAL_SHRINK |
				    F_SEAL_GROW | F_SEAL_SEAL) < 0)
		err = -errno;
	if (!err) {
		/* Reopen read-only so the fd we hand out cannot even try. */
		char p[64];
		int ro;

		snprintf(p, sizeof(p), "/proc/self/fd/%d", fd);
		ro = open(p, O_RDONLY | O_CLOEXEC);
		if (ro < 0) {
			err = -errno;
		} else {
			close(fd);
			fd = ro;
		}
	}
	if (!err)
		err = seg_map(fd, &seg);
	if (err) {
		close(fd);
		return err;
	}
	/* Sealed: what is checked now is what every reader will see. */
	err = xipfs_seg_check_image(seg->base, seg->size, path);
	if (err) {
		xipfs_segment_close(seg);
		return err;
	}
	*out = seg;
	return 0;
}

int xipfs_seg_immutable(int fd, bool on)
{
	int flags;

	if (ioctl(fd, FS_IOC_GETFLAGS, &flags) < 0)
		return -errno;
	flags = on ? flags | FS_IMMUTABLE_FL : flags & ~FS_IMMUTABLE_FL;
	return ioctl(fd, FS_IOC_SETFLAGS, &flags) < 0 ? -errno : 0;
}

int xipfs_seg_unlock_path(const char *path)
{
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
	int err;

	if (fd < 0)
		return errno == ENOENT || errno == ELOOP ? 0 : -errno;
	err = xipfs_seg_immutable(fd, false);
	close(fd);
	return err == -ENOTTY || err == -EOPNOTSUPP ? 0 : err;
}

int xipfs_seg_begin(const char *name, const char *dir, char *tmp, char *dst)
{
	int fd, err;

	if (xipfs_segment_name_ok(name)) {
		xipfs_log(XIPFS_LOG_ERR, "invalid segment name '%s' (use letters, digits, '_', '.', '-')",
			  name);
		return -EINVAL;
	}
	xipfs_segment_path(name, dst, PATH_MAX);
	snprintf(tmp, PATH_MAX, "%s/.xipfs.%s.XXXXXX", dir, name);
	fd = mkstemp(tmp);
	if (fd < 0) {
		err = -errno;
		xipfs_log(XIPFS_LOG_ERR, "%s: cannot create: %s", tmp, strerror(errno));
		return err;
	}
	return fd;
}

int xipfs_seg_end(int fd, const char *tmp, const char *dst, int err)
{
	if (err) {
		unlink(tmp);
	} else {
		int e = xipfs_seg_immutable(fd, true);

		if (e && e != -ENOTTY && e != -EOPNOTSUPP)
			xipfs_log(XIPFS_LOG_WARN, "%s: cannot set the immutable flag: %s", dst,
				  strerror(-e));
	}
	close(fd);
	return err;
}

size_t xipfs_seg_pow2(size_t n)
{
	size_t p = 1;

	while (p < n)
		p <<= 1;
	return p;
}

int xipfs_segment_unload(const char *name)
{
	char path[PATH_MAX], target[PATH_MAX];
	ssize_t l;
	int err;

	if (xipfs_segment_name_ok(name))
		return -EINVAL;
	xipfs_segment_path(name, path, sizeof(path));
	l = readlink(path, target, sizeof(target) - 1);
	if (l > 0) {
		target[l] = '\0';
		unlink(target);
	}
	err = xipfs_seg_unlock_path(path);
	if (err)
		return err;
	return unlink(path) < 0 ? -errno : 0;
}

static bool is_xipfs(const char *pid)
{
	char path[300], comm[32] = "";
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%s/comm", pid);
	f = fopen(path, "re");
	if (!f)
		return false;
	if (!fgets(comm, sizeof(comm), f))
		comm[0] = '\0';
	fclose(f);
	/* lt-*: the programs run uninstalled, through libtool's wrapper. */
	return !strcmp(comm, "xipfs\n") || !strcmp(comm, "xipfsctl\n") ||
	       !strcmp(comm, "lt-xipfs\n") || !strcmp(comm, "lt-xipfsctl\n");
}

/*
 * Processes using a segment: those mapping it or holding it open, found
 * through /proc (an xipfs daemon keeps both).  Matched by device and inode,
 * so a replaced segment's old users are not counted for the new one.  With
 * @foreign, only those that are not xipfs programs (this process, xipfs
 * daemons and xipfsctl are skipped): on a host, QEMU sharing it with guests.
 */
int xipfs_segment_users(const struct stat *seg, bool foreign)
{
	DIR *proc = opendir("/proc");
	struct dirent *de;
	int users = 0;

	if (!proc)
		return -1;
	while ((de = readdir(proc))) {
		char path[PATH_MAX];
		struct stat s;
		DIR *fds;
		struct dirent *fe;
		int found = 0;

		if (de->d_name[0] < '1' || de->d_name[0] > '9')
			continue;
		if (foreign && (atoi(de->d_name) == getpid() || is_xipfs(de->d_name)))
			continue;
		snprintf(path, sizeof(path), "/proc/%s/map_files", de->d_name);
		for (int pass = 0; pass < 2 && !found; pass++) {
			if (pass)
				snprintf(path, sizeof(path), "/proc/%s/fd", de->d_name);
			fds = opendir(path);
			if (!fds)
				continue;
			while (!found && (fe = readdir(fds))) {
				char p[PATH_MAX + NAME_MAX + 2];

				if (fe->d_name[0] == '.')
					continue;
				snprintf(p, sizeof(p), "%s/%s", path, fe->d_name);
				if (stat(p, &s) == 0 && s.st_dev == seg->st_dev &&
				    s.st_ino == seg->st_ino)
					found = 1;
			}
			closedir(fds);
		}
		users += found;
	}
	closedir(proc);
	return users;
}

const void *xipfs_segment_base(const struct xipfs_segment *seg) { return seg->base; }
size_t xipfs_segment_size(const struct xipfs_segment *seg) { return seg->size; }
int xipfs_segment_fd(const struct xipfs_segment *seg) { return seg->fd; }

void xipfs_segment_close(struct xipfs_segment *seg)
{
	if (!seg)
		return;
	munmap(seg->base, seg->size);
	close(seg->fd);
	if (seg->handle >= 0)
		close(seg->handle);
	free(seg);
}

int xipfs_segment_handle(const struct xipfs_segment *seg)
{
	return seg->handle;
}

int xipfs_segment_mapped(const struct xipfs_segment *seg, struct xipfs_mapped *out)
{
	struct xipmap_attach at = {
		.kind = XIPMAP_SEG_FD, .fd = seg->fd, .flags = XIPMAP_ATTACH_EXISTING,
	};
	struct xipmap_seg_stat st = { 0 };
	int dev, err = 0;

	memset(out, 0, sizeof(*out));
	dev = open(XIPMAP_DEVICE, O_RDWR | O_CLOEXEC);
	if (dev < 0)
		return errno == ENOENT || errno == ENXIO || errno == ENODEV ? -ENODEV : -errno;
	/* Never attached: nothing is mapped through the helper. */
	if (ioctl(dev, XIPMAP_IOC_ATTACH, &at) < 0) {
		err = errno == ENOENT ? 0 : -errno;
		goto out;
	}
	if (ioctl(at.seg_fd, XIPMAP_IOC_SEG_STAT, &st) < 0)
		err = -errno;
	close(at.seg_fd);
	out->files = st.files;
	out->mappings = st.mappings;
	out->processes = st.processes;
	out->pages = st.mapped_pages;
	out->ptes = st.mapped_ptes;
	out->private_ptes = st.private_ptes;
out:
	close(dev);
	return err;
}

/* A region the helper bound inside a guest: XIPMAP_SEG_IVSHMEM or _PMEM. */
struct region {
	const char *what;		/* "ivshmem" or "pmem", for messages */
	const char *uuid;		/* as the caller wrote it; "": the first */
	int dev;			/* /dev/xipmap */
	struct xipmap_attach at;	/* at.seg_fd: the region's handle */
	long kps;			/* the kernel's page size */
};

/* Open the helper's device and attach the region @r->at names. */
static int region_attach(struct region *r)
{
	int err;

	r->dev = open(XIPMAP_DEVICE, O_RDWR | O_CLOEXEC);
	if (r->dev < 0) {
		err = -errno;
		xipfs_log(XIPFS_LOG_ERR, "%s: %s (%s segments need the xipmap helper: modprobe xipmap)",
			  XIPMAP_DEVICE, strerror(errno), r->what);
		return err;
	}
	if (ioctl(r->dev, XIPMAP_IOC_ATTACH, &r->at) < 0) {
		err = -errno;
		if (errno == ENOENT)
			xipfs_log(XIPFS_LOG_ERR, "%s:%s: no %s device bound by xipmap holds such an xipfs segment",
				  r->what, r->uuid,
				  r->at.kind == XIPMAP_SEG_PMEM ? "virtio-pmem" : "ivshmem-plain");
		else
			xipfs_log(XIPFS_LOG_ERR, "%s:%s: attach: %s", r->what, r->uuid, strerror(errno));
		close(r->dev);
		return err;
	}
	return 0;
}

/* The region's superblock, if it is one of an image of a size the helper can map. */
static int region_super(const struct region *r, struct xipfs_super *sb)
{
	uint64_t kps = (uint64_t)r->kps, size;

	if (pread(r->at.seg_fd, sb, sizeof(*sb), 0) != (ssize_t)sizeof(*sb) ||
	    memcmp(sb->s_magic, XIPFS_MAGIC_STR, 8))
		size = 0;
	else
		size = le64toh(sb->s_size);
	if (size < kps || size > r->at.size || size % kps || size / kps > XIPMAP_MAX_PAGES) {
		xipfs_log(XIPFS_LOG_ERR, "%s:%s: superblock at offset 0: no xipfs image of a usable size",
			  r->what, r->uuid);
		return -EUCLEAN;
	}
	return 0;
}

int xipfs_xipmap_create_run(int dev, struct xipmap_create *cr, uint64_t first, bool *no_linear)
{
	uint64_t *pages;
	int err = -EINVAL;

	if (!__atomic_load_n(no_linear, __ATOMIC_RELAXED)) {
		cr->flags = XIPMAP_CREATE_LINEAR;
		cr->pages = first;
		err = ioctl(dev, XIPMAP_IOC_CREATE, cr) < 0 ? -errno : 0;
		if (err != -EINVAL)
			return err;
		__atomic_store_n(no_linear, true, __ATOMIC_RELAXED);
	}
	pages = malloc(cr->count * sizeof(*pages));
	if (!pages)
		return -ENOMEM;
	for (uint64_t i = 0; i < cr->count; i++)
		pages[i] = first + i;
	cr->flags = 0;
	cr->pages = (uintptr_t)pages;
	err = ioctl(dev, XIPMAP_IOC_CREATE, cr) < 0 ? -errno : 0;
	free(pages);
	return err;
}

/*
 * A backing file of the whole image (the helper's file descriptor in
 * @cr->fd): page i of the file is page i of the region, all @cr->size
 * bytes of it (xipfs_xipmap_create_run()).
 */
static int region_file(const struct region *r, struct xipmap_create *cr)
{
	bool no_linear = false;
	int err = xipfs_xipmap_create_run(r->dev, cr, 0, &no_linear);

	if (err)
		xipfs_log(XIPFS_LOG_ERR, "%s:%s: create: %s", r->what, r->uuid, strerror(-err));
	return err;
}

/*
 * Map the image through a backing file of the whole segment.  Index 0 is
 * a hole by the helper's rules, so page 0 (the superblock) is written into
 * our private copy of that page; every other page is the segment's own
 * frame, the metadata included: the daemon reads names, inodes and extents
 * straight from the guest's mapping of the host's pages (cacheable, like
 * RAM), which costs the guest no memory.  BAR frames have no struct page,
 * so the kernel cannot pin them (GUP): the daemon never hands /dev/fuse a
 * pointer into this mapping (writev() would fail), it replies from its own
 * buffers or, for file data, splices from the backing file.  On success
 * *@fd is the backing file, *@base its mapping.
 */
static int region_map(const struct region *r, const struct xipfs_super *sb, int *fd, void **base)
{
	struct xipmap_create cr = { .seg_fd = r->at.seg_fd, .size = le64toh(sb->s_size) };
	void *m;
	int err;

	cr.count = cr.size / r->kps;
	err = region_file(r, &cr);
	if (err)
		return err;
	m = mmap(NULL, cr.size, PROT_READ, MAP_PRIVATE, cr.fd, 0);
	err = m == MAP_FAILED ? -errno : 0;
	if (!err && mprotect(m, r->kps, PROT_READ | PROT_WRITE) < 0)
		err = -errno;
	if (!err && pread(r->at.seg_fd, m, r->kps, 0) != r->kps)
		err = -EIO;
	if (!err && mprotect(m, cr.size, PROT_READ) < 0)
		err = -errno;
	if (err) {
		xipfs_log(XIPFS_LOG_ERR, "%s:%s: map: %s", r->what, r->uuid, strerror(-err));
		if (m != MAP_FAILED)
			munmap(m, cr.size);
		close(cr.fd);
		return err;
	}
	*fd = cr.fd;
	*base = m;
	return 0;
}

static int region_open(uint32_t kind, const char *uuid_str, struct xipfs_segment **out)
{
	struct region r = {
		.what = kind == XIPMAP_SEG_PMEM ? "pmem" : "ivshmem",
		.uuid = uuid_str,
		.at = { .kind = kind },
		.kps = sysconf(_SC_PAGESIZE),
	};
	struct xipfs_segment *s = NULL;
	struct xipfs_super sb;
	void *m = NULL;
	int fd = -1, err;

	/* No UUID: zeros, the first segment the helper bound. */
	if (*uuid_str && xipfs_uuid_parse(uuid_str, r.at.uuid)) {
		xipfs_log(XIPFS_LOG_ERR, "%s:%s: not a UUID", r.what, uuid_str);
		return -EINVAL;
	}
	err = region_attach(&r);
	if (err)
		return err;
	err = region_super(&r, &sb);
	if (!err)
		err = region_map(&r, &sb, &fd, &m);
	if (!err) {
		s = calloc(1, sizeof(*s));
		if (!s) {
			err = -ENOMEM;
			munmap(m, le64toh(sb.s_size));
			close(fd);
		}
	}
	if (err) {
		close(r.at.seg_fd);
	} else {
		s->base = m;
		s->size = le64toh(sb.s_size);
		s->fd = fd;
		s->handle = r.at.seg_fd;
		*out = s;
	}
	close(r.dev);
	return err;
}

int xipfs_segment_ivshmem(const char *uuid, struct xipfs_segment **out)
{
	return region_open(XIPMAP_SEG_IVSHMEM, uuid, out);
}

int xipfs_segment_pmem(const char *uuid, struct xipfs_segment **out)
{
	return region_open(XIPMAP_SEG_PMEM, uuid, out);
}
