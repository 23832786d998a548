// SPDX-License-Identifier: GPL-2.0-or-later
/* Image inspection: info, ls, cat, extract and fsck. */
#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <dirent.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/uio.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#include "xipfs/xipfs.h"
#include "xipfs/segment.h"
#include "xipfs/xalloc.h"
#include "xipfs/pool.h"
#include "xipfsctl.h"

/* Open IMAGE: a file, "seg:NAME[/LABEL]", "ivshmem[:UUID][/LABEL]" or "pmem..." (libxipfs says why not). */
static int open_any(const char *arg, unsigned flags, struct xipfs_image **img,
		    struct xipfs_segment **seg)
{
	struct xipfs_source src;
	int err = xipfs_source_parse(arg, &src);

	if (err)
		return err;
	return xipfs_source_open(&src, flags, seg, img);
}

static void close_any(struct xipfs_image *img, struct xipfs_segment *seg)
{
	xipfs_close(img);
	xipfs_segment_close(seg);
}

int cmd_info(int argc, char **argv)
{
	struct xipfs_image *img;
	struct xipfs_segment *seg;
	const struct xipfs_super *sb;
	uint64_t types[16] = { 0 };
	char uuid[XIPFS_UUID_STR_LEN + 1], when[64];
	uint64_t fpages, holes, dedup, data;
	time_t bt;

	if (argc != 2) {
		fprintf(stderr, "Usage: xipfsctl info IMAGE|seg:NAME\n");
		return 2;
	}
	if (open_any(argv[1], 0, &img, &seg))
		return 1;
	sb = xipfs_super(img);
	for (uint32_t i = 1; i <= xipfs_inode_count(img); i++) {
		struct xipfs_ino ino;

		if (xipfs_inode_get(img, i, &ino)) {
			close_any(img, seg);
			return 1;
		}
		types[(ino.mode & S_IFMT) >> 12]++;
	}
	xipfs_uuid_format(sb->s_uuid, uuid);
	bt = (time_t)xipfs_le64(sb->s_build_time);
	{
		struct tm tm;

		if (gmtime_r(&bt, &tm))
			strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S UTC", &tm);
		else
			snprintf(when, sizeof(when), "out of range");
	}
	fpages = xipfs_le64(sb->s_stat_file_pages);
	holes = xipfs_le64(sb->s_stat_hole_pages);
	dedup = xipfs_le64(sb->s_stat_dedup_pages);
	data = xipfs_le32(sb->s_data_pages);
	printf("image=%s\n", argv[1]);
	printf("version=%u.%u\n", xipfs_le16(sb->s_version_major), xipfs_le16(sb->s_version_minor));
	printf("uuid=%s\n", uuid);
	printf("build_time=%" PRIu64 " (%s)\n", (uint64_t)bt, when);
	printf("page_size=%u\n", xipfs_page_size(img));
	printf("features_compat=0x%x%s%s\n", xipfs_le32(sb->s_compat),
	       xipfs_le32(sb->s_compat) & XIPFS_FEATURE_COMPAT_PAGESUM ? " pagesum" : "",
	       xipfs_le32(sb->s_compat) & XIPFS_FEATURE_COMPAT_MERKLE ? " merkle" : "");
	printf("features_incompat=0x%x\n", xipfs_le32(sb->s_incompat));
	printf("size=%zu\n", xipfs_image_size(img));
	printf("crc=0x%08x\n", xipfs_le32(sb->s_crc));
	if (xipfs_le32(sb->s_compat) & XIPFS_FEATURE_COMPAT_MERKLE) {
		char digest[XIPFS_DIGEST_STR_LEN];

		xipfs_digest_format(sb->s_merkle_root, digest);
		printf("digest=%s\nmerkle_offset=%llu\nmerkle_size=%llu\n", digest,
		       (unsigned long long)xipfs_le64(sb->s_merkle_offset),
		       (unsigned long long)xipfs_le64(sb->s_merkle_size));
	}
	printf("inodes=%u\n", xipfs_inode_count(img));
	printf("regular=%" PRIu64 "\ndirectories=%" PRIu64 "\nsymlinks=%" PRIu64 "\n",
	       types[S_IFREG >> 12], types[S_IFDIR >> 12], types[S_IFLNK >> 12]);
	printf("chardevs=%" PRIu64 "\nblockdevs=%" PRIu64 "\nfifos=%" PRIu64 "\nsockets=%" PRIu64 "\n",
	       types[S_IFCHR >> 12], types[S_IFBLK >> 12], types[S_IFIFO >> 12],
	       types[S_IFSOCK >> 12]);
	printf("dirents=%u\n", xipfs_le32(sb->s_dirent_count));
	printf("extents=%" PRIu64 "\n", xipfs_le64(sb->s_extent_count));
	printf("xattr_sets=%u\n", xipfs_le32(sb->s_xattr_sets));
	printf("names_bytes=%" PRIu64 "\n", xipfs_le64(sb->s_names_size));
	printf("metadata_offset=%" PRIu64 "\nmetadata_bytes=%" PRIu64 "\n",
	       xipfs_le64(sb->s_meta_offset), xipfs_le64(sb->s_meta_size));
	printf("data_start=%u\ndata_pages=%" PRIu64 "\n", xipfs_le32(sb->s_data_start), data);
	printf("file_bytes=%" PRIu64 "\n", xipfs_le64(sb->s_stat_bytes));
	printf("file_pages=%" PRIu64 "\nhole_pages=%" PRIu64 "\ndedup_pages=%" PRIu64 "\n",
	       fpages, holes, dedup);
	if (fpages)
		printf("stored_ratio=%.3f\n", (double)data / (double)fpages);
	close_any(img, seg);
	return 0;
}

static void mode_str(uint32_t m, char *s)
{
	static const char t[] = "?pc?d?b?-?l?s???";

	s[0] = t[(m & S_IFMT) >> 12];
	for (int i = 0; i < 9; i++)
		s[1 + i] = m & (0400 >> i) ? "rwxrwxrwx"[i] : '-';
	if (m & S_ISUID)
		s[3] = m & 0100 ? 's' : 'S';
	if (m & S_ISGID)
		s[6] = m & 0010 ? 's' : 'S';
	if (m & S_ISVTX)
		s[9] = m & 0001 ? 't' : 'T';
	s[10] = '\0';
}

/*
 * A recursive walk (ls -R, extract) enters each directory once and no
 * deeper than DIR_DEPTH_MAX: in an intact image every directory has one
 * name (fsck checks it the same way), so a directory met twice is a cycle
 * or a directory hardlink, and following it would recurse until the stack
 * ran out.
 */
#define DIR_DEPTH_MAX	4096

struct dir_guard {
	const struct xipfs_image *img;
	uint8_t *seen;			/* by inode number */
	unsigned depth;
};

static void guard_init(struct dir_guard *g, const struct xipfs_image *img)
{
	g->img = img;
	g->seen = xcalloc((size_t)xipfs_inode_count(img) + 1, 1);
	g->depth = 0;
}

static int guard_enter(struct dir_guard *g, const struct xipfs_ino *dir, const char *path)
{
	if (g->seen[dir->ino]) {
		fprintf(stderr, "xipfsctl: %s: directory %s (inode %u) is reached a second time: the image is damaged (a directory cycle or hardlink; see xipfsctl fsck)\n",
			xipfs_image_name(g->img), path, dir->ino);
		return -EUCLEAN;
	}
	if (g->depth == DIR_DEPTH_MAX) {
		fprintf(stderr, "xipfsctl: %s: directory %s is nested more than %d deep\n",
			xipfs_image_name(g->img), path, DIR_DEPTH_MAX);
		return -ELOOP;
	}
	g->seen[dir->ino] = 1;
	g->depth++;
	return 0;
}

static void guard_leave(struct dir_guard *g)
{
	g->depth--;
}

struct ls {
	struct xipfs_image *img;
	bool lng, rec;
	struct dir_guard guard;
};

static void ls_entry(struct ls *l, const struct xipfs_entry *e, const struct xipfs_ino *ino)
{
	if (l->lng) {
		char m[11];

		mode_str(ino->mode, m);
		if (S_ISCHR(ino->mode) || S_ISBLK(ino->mode))
			printf("%s %3u %5u %5u %4u, %4u ", m, ino->nlink, ino->uid, ino->gid,
			       major(ino->rdev), minor(ino->rdev));
		else
			printf("%s %3u %5u %5u %10" PRIu64 " ", m, ino->nlink, ino->uid,
			       ino->gid, ino->size);
	}
	fwrite(e->name, 1, e->namelen, stdout);
	if (l->lng && S_ISLNK(ino->mode)) {
		const char *t;
		size_t tl;

		xipfs_readlink(l->img, ino, &t, &tl);
		printf(" -> ");
		fwrite(t, 1, tl, stdout);
	}
	putchar('\n');
}

static int ls_dir(struct ls *l, const struct xipfs_ino *dir, const char *path)
{
	int err = 0;

	if (l->rec)
		printf("%s:\n", path);
	for (uint32_t i = 0; i < dir->count; i++) {
		struct xipfs_entry e;
		struct xipfs_ino ino;

		err = xipfs_dir_entry(l->img, dir, i, &e);
		if (!err)
			err = xipfs_inode_get(l->img, e.ino, &ino);
		if (err)
			return err;
		ls_entry(l, &e, &ino);
	}
	if (!l->rec)
		return 0;
	for (uint32_t i = 0; i < dir->count && !err; i++) {
		struct xipfs_entry e;
		struct xipfs_ino ino;
		char *sub;

		err = xipfs_dir_entry(l->img, dir, i, &e);
		if (!err)
			err = xipfs_inode_get(l->img, e.ino, &ino);
		if (err || !S_ISDIR(ino.mode))
			continue;
		sub = xasprintf("%s/%.*s", strcmp(path, "/") ? path : "", e.namelen, e.name);
		putchar('\n');
		err = guard_enter(&l->guard, &ino, sub);
		if (!err) {
			err = ls_dir(l, &ino, sub);
			guard_leave(&l->guard);
		}
		free(sub);
	}
	return err;
}

static int lookup_or_complain(struct xipfs_image *img, const char *path,
			      struct xipfs_ino *ino)
{
	int err = xipfs_path_lookup(img, path, ino);

	if (err && err != -EUCLEAN)
		fprintf(stderr, "xipfsctl: %s: %s: %s\n", xipfs_image_name(img), path,
			strerror(-err));
	return err;
}

int cmd_ls(int argc, char **argv)
{
	struct xipfs_segment *seg;
	struct xipfs_ino ino;
	struct ls l = { 0 };
	const char *path;
	int c, err;

	optind = 1;
	while ((c = getopt(argc, argv, "lR")) != -1) {
		if (c == 'l')
			l.lng = true;
		else if (c == 'R')
			l.rec = true;
		else
			return 2;
	}
	if (argc - optind < 1 || argc - optind > 2) {
		fprintf(stderr, "Usage: xipfsctl ls [-l] [-R] IMAGE [PATH]\n");
		return 2;
	}
	path = argc - optind == 2 ? argv[optind + 1] : "/";
	if (open_any(argv[optind], 0, &l.img, &seg))
		return 1;
	guard_init(&l.guard, l.img);
	err = lookup_or_complain(l.img, path, &ino);
	if (!err && S_ISDIR(ino.mode))
		err = guard_enter(&l.guard, &ino, path);
	if (!err) {
		if (S_ISDIR(ino.mode))
			err = ls_dir(&l, &ino, path);
		else
			printf("%s\n", path);
	}
	free(l.guard.seen);
	close_any(l.img, seg);
	return err ? 1 : 0;
}

static int write_file(struct xipfs_image *img, const struct xipfs_ino *ino, int fd,
		      bool sparse)
{
	uint64_t off = 0;

	while (off < ino->size) {
		struct iovec iov[64];
		size_t bytes;
		int n;

		if (sparse) {
			int64_t d = xipfs_file_seek(img, ino, off, SEEK_DATA);

			if (d == -ENXIO)
				break;
			if (d < 0)
				return (int)d;
			off = (uint64_t)d;
		}
		n = xipfs_file_iov(img, ino, off, 1u << 20, iov, 64, &bytes);
		if (n < 0)
			return n;
		if (sparse) {
			/* Stop at the next hole so it stays a hole. */
			int64_t h = xipfs_file_seek(img, ino, off, SEEK_HOLE);
			size_t keep = 0;
			int k;

			if (h > 0 && (uint64_t)h < off + bytes) {
				for (k = 0; k < n && keep + iov[k].iov_len <= (uint64_t)h - off; k++)
					keep += iov[k].iov_len;
				if (k < n && keep < (uint64_t)h - off) {
					iov[k].iov_len = (uint64_t)h - off - keep;
					keep = (uint64_t)h - off;
					k++;
				}
				n = k;
				bytes = keep;
			}
		}
		for (size_t done = 0; done < bytes;) {
			ssize_t w = sparse ? pwritev(fd, iov, n, (off_t)(off + done))
					   : writev(fd, iov, n);

			if (w < 0) {
				if (errno == EINTR)
					continue;
				return -errno;
			}
			done += (size_t)w;
			/* Drop what was written from the iovec array. */
			while (n && (size_t)w >= iov[0].iov_len) {
				w -= (ssize_t)iov[0].iov_len;
				memmove(iov, iov + 1, --n * sizeof(*iov));
			}
			if (n) {
				iov[0].iov_base = (char *)iov[0].iov_base + w;
				iov[0].iov_len -= (size_t)w;
			}
		}
		off += bytes;
	}
	if (sparse && ftruncate(fd, (off_t)ino->size) < 0)
		return -errno;
	return 0;
}

int cmd_cat(int argc, char **argv)
{
	struct xipfs_image *img;
	struct xipfs_segment *seg;
	struct xipfs_ino ino;
	int err;

	if (argc != 3) {
		fprintf(stderr, "Usage: xipfsctl cat IMAGE PATH\n");
		return 2;
	}
	if (open_any(argv[1], 0, &img, &seg))
		return 1;
	err = lookup_or_complain(img, argv[2], &ino);
	if (!err && !S_ISREG(ino.mode)) {
		fprintf(stderr, "xipfsctl: %s: not a regular file\n", argv[2]);
		err = -EINVAL;
	}
	if (!err) {
		err = write_file(img, &ino, 1, false);
		if (err && err != -EUCLEAN)
			fprintf(stderr, "xipfsctl: write: %s\n", strerror(-err));
	}
	close_any(img, seg);
	return err ? 1 : 0;
}

/* ---- extract ------------------------------------------------------------ */

struct extract {
	struct xipfs_image *img;
	struct dir_guard guard;
	char **first;			/* first extracted path of each inode (hardlinks) */
	int err;
};

static int fail(struct extract *x, const char *path, const char *what, int err)
{
	fprintf(stderr, "xipfsctl: %s: %s: %s\n", path, what, strerror(err));
	x->err = -err;
	return -err;
}

static int restore_meta(struct extract *x, const char *path, const struct xipfs_ino *ino)
{
	struct timespec ts[2];
	int n = xipfs_xattr_count(x->img, ino);

	if (lchown(path, ino->uid, ino->gid) < 0)
		return fail(x, path, "cannot set owner", errno);
	if (!S_ISLNK(ino->mode) && chmod(path, ino->mode & 07777) < 0)
		return fail(x, path, "cannot set mode", errno);
	if (n < 0)
		return x->err = n;
	/* After chown: it would clear security.capability. */
	for (int i = 0; i < n; i++) {
		struct xipfs_xattr a;
		char name[XIPFS_XATTR_NAME_MAX + 1];
		int err = xipfs_xattr_at(x->img, ino, (uint32_t)i, &a);

		if (err)
			return x->err = err;
		memcpy(name, a.name, a.name_len);
		name[a.name_len] = '\0';
		if (lsetxattr(path, name, a.value, a.value_len, 0) < 0) {
			char what[300];

			snprintf(what, sizeof(what), "cannot set xattr %s", name);
			return fail(x, path, what, errno);
		}
	}
	ts[0].tv_sec = ino->mtime;
	ts[0].tv_nsec = ino->mtime_nsec;
	ts[1] = ts[0];
	if (utimensat(AT_FDCWD, path, ts, AT_SYMLINK_NOFOLLOW) < 0)
		return fail(x, path, "cannot set times", errno);
	return 0;
}

static int extract_dir(struct extract *x, const struct xipfs_ino *dir, const char *path);

static int extract_file(struct extract *x, const struct xipfs_ino *ino, const char *p)
{
	int fd = open(p, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	int err;

	if (fd < 0)
		return fail(x, p, "cannot create file", errno);
	err = write_file(x->img, ino, fd, true);
	if (close(fd) < 0 && !err)
		err = -errno;
	if (err && err != -EUCLEAN)
		fail(x, p, "cannot write file", -err);
	else if (err)
		x->err = err;
	return err;
}

static int extract_symlink(struct extract *x, const struct xipfs_ino *ino, const char *p)
{
	const char *t;
	size_t tl;
	char *target;
	int err = 0;

	xipfs_readlink(x->img, ino, &t, &tl);
	target = xstrndup(t, tl);
	if (symlink(target, p) < 0)
		err = fail(x, p, "cannot create symlink", errno);
	free(target);
	return err;
}

/* Create @p as the inode @ino, a directory with everything below it. */
static int extract_inode(struct extract *x, const struct xipfs_ino *ino, const char *p)
{
	int err;

	switch (ino->mode & S_IFMT) {
	case S_IFDIR:
		if (mkdir(p, 0700) < 0)
			return fail(x, p, "cannot create directory", errno);
		err = guard_enter(&x->guard, ino, p);
		if (err)
			return x->err = err;
		err = extract_dir(x, ino, p);
		guard_leave(&x->guard);
		break;
	case S_IFREG:
		err = extract_file(x, ino, p);
		break;
	case S_IFLNK:
		err = extract_symlink(x, ino, p);
		break;
	default:
		err = 0;
		if (mknod(p, (ino->mode & S_IFMT) | 0600, (dev_t)ino->rdev) < 0)
			err = fail(x, p, "cannot create special file", errno);
		break;
	}
	return err ? err : restore_meta(x, p, ino);
}

static int extract_dir(struct extract *x, const struct xipfs_ino *dir, const char *path)
{
	int err = 0;

	for (uint32_t i = 0; i < dir->count && !err; i++) {
		struct xipfs_entry e;
		struct xipfs_ino ino;
		char *p;

		/* The library refuses entries named "." or "..": nothing loops through them. */
		err = xipfs_dir_entry(x->img, dir, i, &e);
		if (!err)
			err = xipfs_inode_get(x->img, e.ino, &ino);
		if (err)
			return x->err = err;
		p = xasprintf("%s/%.*s", path, e.namelen, e.name);
		if (!S_ISDIR(ino.mode) && x->first[e.ino]) {
			if (link(x->first[e.ino], p) < 0)
				err = fail(x, p, "cannot create hardlink", errno);
			free(p);
			continue;
		}
		err = extract_inode(x, &ino, p);
		if (!err && !S_ISDIR(ino.mode) && ino.nlink > 1)
			x->first[e.ino] = p;
		else
			free(p);
	}
	return err;
}

int cmd_extract(int argc, char **argv)
{
	struct extract x = { 0 };
	struct xipfs_segment *seg;
	struct xipfs_ino root;
	struct stat s;
	int err;

	if (argc != 3) {
		fprintf(stderr, "Usage: xipfsctl extract IMAGE DIR\n");
		return 2;
	}
	if (stat(argv[2], &s) == 0) {
		DIR *d = opendir(argv[2]);
		int entries = 0;

		if (d) {
			struct dirent *de;

			while ((de = readdir(d)))
				entries += strcmp(de->d_name, ".") && strcmp(de->d_name, "..");
			closedir(d);
		}
		if (!d || entries) {
			fprintf(stderr, "xipfsctl: %s: must be an empty directory or not exist\n",
				argv[2]);
			return 1;
		}
	} else if (mkdir(argv[2], 0700) < 0) {
		fprintf(stderr, "xipfsctl: %s: cannot create: %s\n", argv[2], strerror(errno));
		return 1;
	}
	if (open_any(argv[1], 0, &x.img, &seg))
		return 1;
	x.first = xcalloc((size_t)xipfs_inode_count(x.img) + 1, sizeof(*x.first));
	guard_init(&x.guard, x.img);
	umask(0);
	err = xipfs_inode_get(x.img, XIPFS_ROOT_INO, &root);
	if (!err)
		err = guard_enter(&x.guard, &root, "/");
	if (!err)
		err = extract_dir(&x, &root, argv[2]);
	if (!err)
		err = restore_meta(&x, argv[2], &root);
	for (uint32_t i = 0; i <= xipfs_inode_count(x.img); i++)
		free(x.first[i]);
	free(x.first);
	free(x.guard.seen);
	close_any(x.img, seg);
	return err || x.err ? 1 : 0;
}

/* ---- fsck --------------------------------------------------------------- */

int cmd_fsck(int argc, char **argv)
{
	static const struct option lopts[] = {
		{ "verify-data", no_argument, NULL, 'D' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	struct xipfs_image *img;
	struct xipfs_segment *seg;
	struct xipfs_fsck_stats st;
	struct xipfs_source src;
	unsigned flags = 0;
	bool quiet = false, bad_crc;
	int c, err;

	optind = 1;
	/* -a -p -n -y -f -V are what fsck(8) passes; a read-only image needs none. */
	while ((c = getopt_long(argc, argv, "qapnyfVh", lopts, NULL)) != -1) {
		switch (c) {
		case 'D':
			flags |= XIPFS_FSCK_DATA;
			break;
		case 'q':
			quiet = true;
			break;
		case 'h':
			printf("Usage: xipfsctl fsck [--verify-data] [-q] IMAGE\n");
			return 0;
		case 'a': case 'p': case 'n': case 'y': case 'f': case 'V':
			break;
		default:
			fprintf(stderr, "Usage: xipfsctl fsck [--verify-data] [-q] IMAGE\n");
			return XIPFS_FSCK_EX_USAGE;
		}
	}
	if (argc - optind != 1) {
		fprintf(stderr, "Usage: xipfsctl fsck [--verify-data] [-q] IMAGE\n");
		return XIPFS_FSCK_EX_USAGE;
	}
	if (xipfs_source_parse(argv[optind], &src))
		return XIPFS_FSCK_EX_USAGE;
	/* A whole pool: its directory, every image, every page's use. */
	err = src.label[0] ? 1 : xipfs_source_segment(&src, 0, &seg);
	if (!err && xipfs_is_pool(xipfs_segment_base(seg), xipfs_segment_size(seg))) {
		err = pool_fsck(seg, argv[optind], flags, quiet);
		xipfs_segment_close(seg);
		return err;
	}
	/* One image: a file, a pool's label, or the segment opened above. */
	if (err == 1) {
		err = xipfs_source_open(&src, XIPFS_OPEN_NOCRC, &seg, &img);
	} else if (!err) {
		err = xipfs_segment_image(seg, src.arg, NULL, XIPFS_OPEN_NOCRC, &img);
		if (err)
			xipfs_segment_close(seg);
	}
	if (err)
		return err == -EUCLEAN ? XIPFS_FSCK_EX_UNCORRECTED : XIPFS_FSCK_EX_ERROR;
	/* Opened without the CRC so the walk still runs: the CRC is one more error. */
	bad_crc = xipfs_check_crc(img) != 0;
	err = xipfs_fsck(img, flags, &st);
	st.errors += bad_crc;
	if (!quiet)
		printf("%s: %" PRIu64 " inodes (%" PRIu64 " directories, %" PRIu64
		       " files, %" PRIu64 " symlinks, %" PRIu64 " other), %" PRIu64
		       " errors%s\n", argv[optind], st.inodes, st.dirs, st.files,
		       st.symlinks, st.others, st.errors,
		       flags & XIPFS_FSCK_DATA ? ", data verified" : "");
	close_any(img, seg);
	if (err == -ENOMEM)
		return XIPFS_FSCK_EX_ERROR;
	return st.errors ? XIPFS_FSCK_EX_UNCORRECTED : XIPFS_FSCK_EX_OK;
}
