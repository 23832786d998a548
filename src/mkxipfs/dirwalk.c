// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Building the in-memory tree from a directory, walked with openat() so
 * depth is not limited by PATH_MAX, entries sorted by name so the result
 * does not depend on readdir order.  File data goes to the page store as
 * it is met, read ahead through io_uring where it can be (prefetch.c).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#include "xipfs/xipfs.h"
#include "xipfs/xalloc.h"
#include "mkxipfs.h"

static void set_times(struct node *n, const struct stat *s)
{
	n->mtime = s->st_mtim.tv_sec;
	n->mtime_ns = s->st_mtim.tv_nsec;
	n->ctime = s->st_ctim.tv_sec;
	n->ctime_ns = s->st_ctim.tv_nsec;
}

/* Read the xattrs of @name in directory @dirfd (without following links). */
static int read_xattrs(struct build *b, struct node *n, int dirfd, const char *name,
		       const char *path)
{
	char p[64 + NAME_MAX], *list = NULL, *val = NULL;
	ssize_t ll, vl;
	int err = 0;

	snprintf(p, sizeof(p), "/proc/self/fd/%d/%s", dirfd, name);
	ll = llistxattr(p, NULL, 0);
	if (ll < 0 && errno != ENOTSUP)
		err = -errno;
	if (ll <= 0)
		goto out;
	list = xmalloc(ll);
	ll = llistxattr(p, list, ll);
	if (ll < 0) {
		err = -errno;
		goto out;
	}
	for (char *k = list; k < list + ll; k += strlen(k) + 1) {
		vl = lgetxattr(p, k, NULL, 0);
		if (vl < 0) {
			err = -errno;
			goto out;
		}
		free(val);
		val = xmalloc(vl);
		vl = lgetxattr(p, k, val, vl);
		if (vl < 0) {
			err = -errno;
			goto out;
		}
		err = add_xattr(n, k, val, vl);
		if (err)
			goto out;
	}
out:
	if (err)
		die_path(b, path, "cannot read extended attributes: %s", strerror(-err));
	free(list);
	free(val);
	return err;
}

/* A file being read: first the prefetched bytes, if any, then pread(2). */
struct src_rd {
	int fd;
	const uint8_t *pre;
	size_t prelen;
	off_t pos;
};

static ssize_t src_read(void *ctx, void *buf, size_t len)
{
	struct src_rd *r = ctx;
	ssize_t n;

	if ((size_t)r->pos < r->prelen) {
		n = (ssize_t)(r->prelen - (size_t)r->pos < len ? r->prelen - (size_t)r->pos : len);
		memcpy(buf, r->pre + r->pos, (size_t)n);
		r->pos += n;
		return n;
	}
	do
		n = pread(r->fd, buf, len, r->pos);
	while (n < 0 && errno == EINTR);
	if (n > 0)
		r->pos += n;
	return n;
}

struct walk {
	struct build *b;
	const struct opts *o;
	struct hl { dev_t dev; ino_t ino; struct node *n; } *hl;
	size_t nhl, caphl, hlslots;
	char *path;			/* full path of the current entry */
	size_t plen, pcap, rootlen;
	unsigned depth;
	struct prefetch *pf;		/* NULL: plain read(2) */
	unsigned long owners;		/* walk_dir() calls so far */
	unsigned long owner;		/* of the entry walk_entry() gets */
	size_t index;
};

/* Hardlinked files: an open-addressing table keyed by (st_dev, st_ino). */
static struct hl *hl_slot(struct walk *w, const struct stat *s)
{
	size_t j = ((size_t)s->st_ino * 0x9E3779B97F4A7C15ull ^ s->st_dev) &
		   (w->hlslots - 1);

	while (w->hl[j].n && (w->hl[j].dev != s->st_dev || w->hl[j].ino != s->st_ino))
		j = (j + 1) & (w->hlslots - 1);
	return &w->hl[j];
}

static void hl_add(struct walk *w, const struct stat *s, struct node *n)
{
	if ((w->nhl + 1) * 2 > w->hlslots) {
		struct hl *old = w->hl;
		size_t oldn = w->hlslots;

		w->hlslots = oldn ? oldn * 2 : 256;
		w->hl = xcalloc(w->hlslots, sizeof(*w->hl));
		for (size_t i = 0; i < oldn; i++) {
			if (old[i].n) {
				struct stat t = { .st_dev = old[i].dev, .st_ino = old[i].ino };

				*hl_slot(w, &t) = old[i];
			}
		}
		free(old);
	}
	*hl_slot(w, s) = (struct hl){ s->st_dev, s->st_ino, n };
	w->nhl++;
}

static int cmp_name(const void *a, const void *b)
{
	/* strcmp compares as unsigned char and NUL sorts first: memcmp order. */
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int walk_dir(struct walk *w, struct node *dir, int dfd);

static int walk_symlink(struct walk *w, struct node *n, int dfd, const char *name)
{
	char buf[XIPFS_SYMLINK_MAX + 2];
	ssize_t l = readlinkat(dfd, name, buf, sizeof(buf));

	if (l < 0) {
		int err = -errno;

		die_path(w->b, w->path, "cannot read symlink: %s", strerror(errno));
		return err;
	}
	if (l > XIPFS_SYMLINK_MAX || l == 0) {
		die_path(w->b, w->path, "symlink target of %zd bytes (1..4095 allowed)", l);
		return -ENAMETOOLONG;
	}
	n->target = xstrndup(buf, l);
	n->size = l;
	return 0;
}

/*
 * Open regular file @name for reading: the prefetched fd and bytes when
 * they are still the file lstat() saw (@s), else a fresh open.
 */
static int open_file(struct walk *w, int dfd, const char *name, const struct stat *s,
		     struct src_rd *rd, struct pf_data *pd)
{
	struct stat fs;

	if (w->pf && pf_take(w->pf, w->owner, w->index, pd) == 0) {
		if (pd->fd >= 0 && fstat(pd->fd, &fs) == 0 && fs.st_dev == s->st_dev &&
		    fs.st_ino == s->st_ino) {
			rd->fd = pd->fd;
			rd->pre = pd->buf;
			rd->prelen = pd->len;
			return 0;
		}
		if (pd->fd >= 0)
			close(pd->fd);
	}
	rd->fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOATIME);
	if (rd->fd < 0 && errno == EPERM)
		rd->fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (rd->fd < 0) {
		int err = -errno;

		die_path(w->b, w->path, "cannot open: %s", strerror(errno));
		return err;
	}
	posix_fadvise(rd->fd, 0, 0, POSIX_FADV_SEQUENTIAL);
	return 0;
}

static int walk_file(struct walk *w, struct node *n, int dfd, const char *name,
		     const struct stat *s)
{
	struct src_rd rd = { .fd = -1 };
	struct pf_data pd = { .fd = -1 };
	int err = open_file(w, dfd, name, s, &rd, &pd);

	if (!err) {
		n->size = s->st_size;
		err = add_data(w->b, n, src_read, &rd, w->path);
	}
	if (!err) {
		char extra;

		if (src_read(&rd, &extra, 1) > 0) {
			die_path(w->b, w->path, "file grew while being read");
			err = -EIO;
		}
	}
	if (rd.fd >= 0)
		close(rd.fd);
	if (w->pf)
		pf_done(w->pf, &pd);
	progress_tick(w->b, false);
	return err;
}

static int walk_subdir(struct walk *w, struct node *n, int dfd, const char *name)
{
	int sub = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	int err;

	if (sub < 0) {
		err = -errno;
		die_path(w->b, w->path, "cannot open directory: %s", strerror(errno));
		return err;
	}
	err = walk_dir(w, n, sub);
	close(sub);
	return err;
}

/* Add entry @name of directory @dfd under @dir; w->path is its full path. */
static int walk_entry(struct walk *w, struct node *dir, int dfd, const char *name)
{
	struct stat s;
	struct node *n;
	size_t len = strlen(name);
	int err;

	if (len > XIPFS_NAME_MAX) {
		die_path(w->b, w->path, "name longer than 255 bytes");
		return -ENAMETOOLONG;
	}
	if (fstatat(dfd, name, &s, AT_SYMLINK_NOFOLLOW) < 0) {
		err = -errno;
		die_path(w->b, w->path, "cannot stat: %s", strerror(errno));
		return err;
	}
	if (s.st_dev == w->o->skip_dev && s.st_ino == w->o->skip_ino)
		return 0;
	if (!S_ISDIR(s.st_mode) && s.st_nlink > 1 && w->hlslots) {
		struct hl *h = hl_slot(w, &s);

		if (h->n) {
			n = node_new(dir, name, len);
			n->link = h->n;
			h->n->nlink++;
			return 0;
		}
	}
	n = node_new(dir, name, len);
	n->mode = s.st_mode;
	n->uid = s.st_uid;
	n->gid = s.st_gid;
	set_times(n, &s);
	if (S_ISCHR(s.st_mode) || S_ISBLK(s.st_mode))
		n->rdev = s.st_rdev;
	err = read_xattrs(w->b, n, dfd, name, w->path);
	if (err)
		return err;
	if (!S_ISDIR(s.st_mode) && s.st_nlink > 1)
		hl_add(w, &s, n);
	if (S_ISLNK(s.st_mode))
		return walk_symlink(w, n, dfd, name);
	if (S_ISREG(s.st_mode))
		return walk_file(w, n, dfd, name, &s);
	if (S_ISDIR(s.st_mode))
		return walk_subdir(w, n, dfd, name);
	return 0;
}

/*
 * Queue regular files of @names from entry @i on (the walk's next ones)
 * for prefetch while there is room; @next: the first not considered yet.
 * Returns the new @next.
 */
static size_t prefetch_ahead(struct walk *w, unsigned long owner, int dfd,
			     char **names, size_t n, size_t i, size_t next)
{
	size_t plen = w->plen;
	struct stat s;

	if (next < i)
		next = i;
	for (; next < n && pf_room(w->pf); next++) {
		size_t l = strlen(names[next]);

		if (fstatat(dfd, names[next], &s, AT_SYMLINK_NOFOLLOW) < 0 ||
		    !S_ISREG(s.st_mode) || s.st_size == 0 ||
		    (s.st_dev == w->o->skip_dev && s.st_ino == w->o->skip_ino))
			continue;
		if (plen + l + 2 > w->pcap)
			continue;	/* rare: the walk grows the buffer itself */
		w->path[plen] = '/';
		memcpy(w->path + plen + 1, names[next], l + 1);
		if (!excluded(w->o, w->path + w->rootlen + 1))
			pf_queue(w->pf, owner, next, dfd, names[next]);
		w->path[plen] = '\0';
	}
	return next;
}

/* The names in directory @dfd, sorted; *@n of them.  NULL after an error. */
static char **read_names(struct walk *w, int dfd, size_t *n)
{
	char **names = NULL;
	struct dirent *de;
	size_t cap = 0;
	int fd2 = dup(dfd);
	DIR *d;

	*n = 0;
	d = fd2 < 0 ? NULL : fdopendir(fd2);
	if (!d) {
		die_path(w->b, w->path, "cannot read directory: %s", strerror(errno));
		if (fd2 >= 0)
			close(fd2);
		return NULL;
	}
	errno = 0;
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (*n == cap) {
			cap = cap ? cap * 2 : 64;
			names = xreallocarray(names, cap, sizeof(*names));
		}
		names[(*n)++] = xstrdup(de->d_name);
		errno = 0;
	}
	if (errno)
		die_path(w->b, w->path, "cannot read directory: %s", strerror(errno));
	closedir(d);
	if (*n > 1)
		qsort(names, *n, sizeof(*names), cmp_name);
	return names;
}

static int walk_dir(struct walk *w, struct node *dir, int dfd)
{
	unsigned long owner;
	size_t n, plen = w->plen, next = 0;
	char **names;
	int err = 0;

	if (w->depth + 1 > 4000) {
		die_path(w->b, w->path, "directories nested more than 4000 deep");
		return -ELOOP;
	}
	names = read_names(w, dfd, &n);
	if (w->b->failed)
		err = -EIO;
	w->depth++;
	owner = ++w->owners;
	for (size_t i = 0; i < n && !err; i++) {
		size_t l = strlen(names[i]);

		if (w->pf)
			next = prefetch_ahead(w, owner, dfd, names, n, i, next);
		if (plen + l + 2 > w->pcap) {
			w->pcap = (plen + l + 2) * 2;
			w->path = xreallocarray(w->path, w->pcap, 1);
		}
		w->path[plen] = '/';
		memcpy(w->path + plen + 1, names[i], l + 1);
		w->plen = plen + 1 + l;
		w->owner = owner;
		w->index = i;
		if (!excluded(w->o, w->path + w->rootlen + 1))
			err = walk_entry(w, dir, dfd, names[i]);
		w->plen = plen;
		w->path[plen] = '\0';
		if (w->pf)
			pf_drop(w->pf, owner, i);
	}
	if (w->pf)
		pf_drop(w->pf, owner, SIZE_MAX);
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	w->depth--;
	return err;
}

static void start_prefetch(struct walk *w)
{
	const char *why = "";

	if (!w->o->io_uring) {
		if (w->o->verbose)
			fprintf(stderr, "mkxipfs: reading input with read(2) (--io=read)\n");
		return;
	}
	w->pf = pf_new(&why);
	if (w->o->verbose)
		fprintf(stderr, w->pf ? "mkxipfs: reading input through io_uring (prefetch)\n" :
			"mkxipfs: io_uring unavailable (%s): reading input with read(2)\n", why);
}

struct node *tree_from_dir(struct build *b, const char *src)
{
	struct walk w = { .b = b, .o = b->o };
	struct node *root;
	struct stat s;
	int fd, err;

	fd = open(src, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &s) < 0) {
		die_path(b, src, "cannot open directory: %s", strerror(errno));
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	root = node_new(NULL, "", 0);
	root->mode = s.st_mode;
	root->uid = s.st_uid;
	root->gid = s.st_gid;
	set_times(root, &s);
	w.rootlen = strlen(src);
	while (w.rootlen > 1 && src[w.rootlen - 1] == '/')
		w.rootlen--;
	w.pcap = w.rootlen + 256;
	w.path = xcalloc(1, w.pcap);
	memcpy(w.path, src, w.rootlen);
	w.plen = w.rootlen;
	start_prefetch(&w);
	err = read_xattrs(b, root, fd, ".", src);
	if (!err)
		err = walk_dir(&w, root, fd);
	pf_free(w.pf);
	close(fd);
	free(w.path);
	free(w.hl);
	if (err || b->failed) {
		tree_free(root);
		return NULL;
	}
	return root;
}
