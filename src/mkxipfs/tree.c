// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Building the in-memory tree from a directory (walked with openat() so
 * depth is not limited by PATH_MAX, entries sorted by name so the result
 * does not depend on readdir order) or from a tar stream (libarchive).
 * File data goes to the page store as it is met.
 */
#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#include "xipfs/xipfs.h"
#include "mkxipfs.h"

static void *xcalloc(size_t n, size_t s)
{
	void *p = calloc(n, s);

	if (!p) {
		fprintf(stderr, "%s: out of memory\n", progname);
		exit(1);
	}
	return p;
}

static char *xstrndup(const char *s, size_t n)
{
	char *p = xcalloc(1, n + 1);

	memcpy(p, s, n);
	return p;
}

struct node *node_new(struct node *parent, const char *name, size_t len)
{
	struct node *n = xcalloc(1, sizeof(*n));

	n->name = xstrndup(name, len);
	n->namelen = len;
	n->parent = parent;
	n->nlink = 1;
	if (parent) {
		if (parent->nkids == parent->capkids) {
			parent->capkids = parent->capkids ? parent->capkids * 2 : 8;
			parent->kids = realloc(parent->kids,
					       parent->capkids * sizeof(*parent->kids));
			if (!parent->kids) {
				fprintf(stderr, "%s: out of memory\n", progname);
				exit(1);
			}
		}
		parent->kids[parent->nkids++] = n;
	}
	return n;
}

void tree_free(struct node *n)
{
	if (!n)
		return;
	for (uint32_t i = 0; i < n->nkids; i++)
		tree_free(n->kids[i]);
	for (uint32_t i = 0; i < n->nxattrs; i++) {
		free(n->xattrs[i].name);
		free(n->xattrs[i].value);
	}
	free(n->xattrs);
	free(n->kids);
	free(n->name);
	free(n->target);
	free(n);
}

void progress_tick(const struct opts *o, const struct store *st, bool force)
{
	static struct timespec last;
	struct timespec now;

	if (!o->progress)
		return;
	clock_gettime(CLOCK_MONOTONIC, &now);
	if (!force && now.tv_sec == last.tv_sec &&
	    now.tv_nsec - last.tv_nsec < 250000000)
		return;
	last = now;
	fprintf(stderr, "\r%s: %llu files, %llu MiB read, %u unique pages%s",
		progname, (unsigned long long)st->files,
		(unsigned long long)(st->bytes >> 20), st->next_page - 1,
		force ? "\n" : "");
}

static void set_times(struct node *n, const struct stat *s)
{
	n->mtime = s->st_mtim.tv_sec;
	n->mtime_ns = s->st_mtim.tv_nsec;
	n->ctime = s->st_ctim.tv_sec;
	n->ctime_ns = s->st_ctim.tv_nsec;
}

static bool excluded(const struct opts *o, const char *rel)
{
	for (size_t i = 0; i < o->nexcludes; i++)
		if (!fnmatch(o->excludes[i], rel, 0))
			return true;
	return false;
}

static int add_xattr(struct node *n, const char *name, const void *val, size_t len)
{
	struct xattr_kv *x;

	if (strlen(name) > XIPFS_XATTR_NAME_MAX || len > XIPFS_XATTR_VALUE_MAX)
		return -E2BIG;
	x = realloc(n->xattrs, (n->nxattrs + 1) * sizeof(*x));
	if (!x)
		return -ENOMEM;
	n->xattrs = x;
	x += n->nxattrs++;
	x->name = strdup(name);
	x->value = malloc(len ? len : 1);
	if (!x->name || !x->value)
		return -ENOMEM;
	if (len)
		memcpy(x->value, val, len);
	x->len = (uint32_t)len;
	return 0;
}

/* Read the xattrs of @name in directory @dirfd (without following links). */
static int read_xattrs(struct node *n, int dirfd, const char *name,
		       const char *path)
{
	char p[64 + NAME_MAX], *list = NULL, *val = NULL;
	ssize_t ll, vl;
	int err = 0;

	snprintf(p, sizeof(p), "/proc/self/fd/%d/%s", dirfd, name);
	ll = llistxattr(p, NULL, 0);
	if (ll <= 0)
		return ll < 0 && errno != ENOTSUP ? -errno : 0;
	list = malloc(ll);
	if (!list)
		return -ENOMEM;
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
		val = malloc(vl ? vl : 1);
		if (!val) {
			err = -ENOMEM;
			goto out;
		}
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
		die_path(path, "cannot read extended attributes: %s", strerror(-err));
	free(list);
	free(val);
	return err;
}

/* Feed a file's bytes to the store page by page; @rd reads like read(2). */
typedef ssize_t (*read_fn)(void *ctx, void *buf, size_t len);

static int add_data(struct store *st, struct node *n, read_fn rd, void *ctx,
		    const char *path)
{
	static uint8_t *buf;
	static size_t bufsize;
	struct page_sig sig[CHUNK_PAGES];
	size_t chunk = (size_t)CHUNK_PAGES << st->shift;
	uint64_t done = 0;
	uint32_t lpage = 0;
	int err;

	if ((n->size + st->psize - 1) >> st->shift > UINT32_MAX) {
		die_path(path, "file too large for page numbers");
		return -EFBIG;
	}
	if (bufsize < chunk) {
		free(buf);
		bufsize = chunk;
		buf = aligned_alloc(64, bufsize);
		if (!buf)
			return -ENOMEM;
	}
	file_begin(st);
	while (done < n->size) {
		size_t want = n->size - done < chunk ? n->size - done : chunk;
		size_t got = 0;
		uint32_t pages;

		while (got < want) {
			ssize_t r = rd(ctx, buf + got, want - got);

			if (r < 0) {
				die_path(path, "read error: %s", strerror(errno));
				return -EIO;
			}
			if (r == 0) {
				die_path(path, "file shrank while being read (expected %llu bytes, got %llu)",
					 (unsigned long long)n->size,
					 (unsigned long long)(done + got));
				return -EIO;
			}
			got += r;
		}
		pages = (uint32_t)((got + st->psize - 1) >> st->shift);
		memset(buf + got, 0, ((size_t)pages << st->shift) - got);
		store_sign(st, buf, pages, sig);
		for (uint32_t i = 0; i < pages; i++) {
			err = file_page(st, lpage++, buf + ((size_t)i << st->shift), &sig[i]);
			if (err) {
				die_path(path, "cannot write image: %s", strerror(-err));
				return err;
			}
		}
		done += got;
	}
	st->files++;
	st->bytes += n->size;
	return file_end(st, n);
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
	const struct opts *o;
	struct store *st;
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

static int hl_add(struct walk *w, const struct stat *s, struct node *n)
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
	return 0;
}

static int cmp_name(const void *a, const void *b)
{
	/* strcmp compares as unsigned char and NUL sorts first: memcmp order. */
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int walk_dir(struct walk *w, struct node *dir, int dfd);

/* Add entry @name of directory @dfd under @dir; w->path is its full path. */
static int walk_entry(struct walk *w, struct node *dir, int dfd, const char *name)
{
	const char *path = w->path;
	struct stat s;
	struct node *n;
	size_t len = strlen(name);
	int err = 0;

	if (len > XIPFS_NAME_MAX) {
		die_path(path, "name longer than 255 bytes");
		return -ENAMETOOLONG;
	}
	if (fstatat(dfd, name, &s, AT_SYMLINK_NOFOLLOW) < 0) {
		err = -errno;
		die_path(path, "cannot stat: %s", strerror(errno));
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
	err = read_xattrs(n, dfd, name, path);
	if (err)
		return err;
	if (!S_ISDIR(s.st_mode) && s.st_nlink > 1)
		hl_add(w, &s, n);
	if (S_ISLNK(s.st_mode)) {
		char buf[XIPFS_SYMLINK_MAX + 2];
		ssize_t l = readlinkat(dfd, name, buf, sizeof(buf));

		if (l < 0) {
			err = -errno;
			die_path(path, "cannot read symlink: %s", strerror(errno));
			return err;
		}
		if (l > XIPFS_SYMLINK_MAX || l == 0) {
			die_path(path, "symlink target of %zd bytes (1..4095 allowed)", l);
			return -ENAMETOOLONG;
		}
		n->target = xstrndup(buf, l);
		n->size = l;
	} else if (S_ISREG(s.st_mode)) {
		struct src_rd rd = { .fd = -1 };
		struct pf_data pd = { .fd = -1 };
		struct stat fs;

		/* Prefetched, if it is still the file lstat() saw. */
		if (w->pf && pf_take(w->pf, w->owner, w->index, &pd) == 0) {
			if (pd.fd >= 0 && fstat(pd.fd, &fs) == 0 && fs.st_dev == s.st_dev &&
			    fs.st_ino == s.st_ino) {
				rd.fd = pd.fd;
				rd.pre = pd.buf;
				rd.prelen = pd.len;
			} else if (pd.fd >= 0) {
				close(pd.fd);
			}
		}
		if (rd.fd < 0) {
			rd.fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOATIME);
			if (rd.fd < 0 && errno == EPERM)
				rd.fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
			if (rd.fd < 0) {
				err = -errno;
				die_path(path, "cannot open: %s", strerror(errno));
				if (w->pf)
					pf_done(w->pf, &pd);
				return err;
			}
			posix_fadvise(rd.fd, 0, 0, POSIX_FADV_SEQUENTIAL);
		}
		n->size = s.st_size;
		err = add_data(w->st, n, src_read, &rd, path);
		if (!err) {
			char extra;

			if (src_read(&rd, &extra, 1) > 0) {
				die_path(path, "file grew while being read");
				err = -EIO;
			}
		}
		close(rd.fd);
		if (w->pf)
			pf_done(w->pf, &pd);
		progress_tick(w->o, w->st, false);
	} else if (S_ISDIR(s.st_mode)) {
		int sub = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

		if (sub < 0) {
			err = -errno;
			die_path(path, "cannot open directory: %s", strerror(errno));
			return err;
		}
		err = walk_dir(w, n, sub);
		close(sub);
	}
	return err;
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

static int walk_dir(struct walk *w, struct node *dir, int dfd)
{
	DIR *d;
	struct dirent *de;
	char **names = NULL;
	unsigned long owner;
	size_t n = 0, cap = 0, plen = w->plen, next = 0;
	int err = 0, fd2 = dup(dfd);

	if (fd2 < 0 || !(d = fdopendir(fd2))) {
		err = -errno;
		die_path(w->path, "cannot read directory: %s", strerror(errno));
		if (fd2 >= 0)
			close(fd2);
		return err;
	}
	if (++w->depth > 4000) {
		die_path(w->path, "directories nested more than 4000 deep");
		closedir(d);
		return -ELOOP;
	}
	errno = 0;
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			names = realloc(names, cap * sizeof(*names));
			if (!names)
				return -ENOMEM;
		}
		names[n++] = xstrndup(de->d_name, strlen(de->d_name));
		errno = 0;
	}
	if (errno) {
		err = -errno;
		die_path(w->path, "cannot read directory: %s", strerror(errno));
	}
	closedir(d);
	if (n > 1)
		qsort(names, n, sizeof(*names), cmp_name);
	owner = ++w->owners;
	for (size_t i = 0; i < n && !err; i++) {
		size_t l = strlen(names[i]);

		if (w->pf)
			next = prefetch_ahead(w, owner, dfd, names, n, i, next);
		if (plen + l + 2 > w->pcap) {
			w->pcap = (plen + l + 2) * 2;
			w->path = realloc(w->path, w->pcap);
			if (!w->path)
				return -ENOMEM;
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

struct node *tree_from_dir(const char *src, const struct opts *o, struct store *st)
{
	struct walk w = { .o = o, .st = st };
	struct node *root;
	struct stat s;
	int fd, err;

	fd = open(src, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &s) < 0) {
		die_path(src, "cannot open directory: %s", strerror(errno));
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
	if (o->io_uring) {
		const char *why = "";

		w.pf = pf_new(&why);
		if (o->verbose)
			fprintf(stderr, w.pf ? "mkxipfs: reading input through io_uring (prefetch)\n" :
				"mkxipfs: io_uring unavailable (%s): reading input with read(2)\n", why);
	} else if (o->verbose) {
		fprintf(stderr, "mkxipfs: reading input with read(2) (--io=read)\n");
	}
	err = read_xattrs(root, fd, ".", src);
	if (!err)
		err = walk_dir(&w, root, fd);
	pf_free(w.pf);
	close(fd);
	free(w.path);
	free(w.hl);
	if (err) {
		tree_free(root);
		return NULL;
	}
	return root;
}

/* ---- tar input ---------------------------------------------------------- */

/*
 * A read(2) over an archive entry's data blocks: gaps between blocks (sparse
 * entries) and the tail after the last block read as zeros, up to the size
 * the caller asks for.
 */
struct ar_reader {
	struct archive *a;
	const char *where;		/* for messages */
	const uint8_t *blk;
	size_t blen;
	int64_t boff, pos;
	bool eof;
};

static ssize_t ar_read(void *ctx, void *buf, size_t len)
{
	struct ar_reader *r = ctx;

	while (!r->eof && r->pos >= r->boff + (int64_t)r->blen) {
		const void *b;
		size_t n;
		la_int64_t o;
		int rc = archive_read_data_block(r->a, &b, &n, &o);

		if (rc == ARCHIVE_EOF) {
			r->eof = true;
			break;
		}
		if (rc < ARCHIVE_WARN || o < r->pos) {
			die_path(r->where, "truncated or corrupt archive: %s",
				 rc < ARCHIVE_WARN ? archive_error_string(r->a)
						   : "data blocks out of order");
			errno = EIO;
			return -1;
		}
		r->blk = b;
		r->blen = n;
		r->boff = o;
	}
	if (r->eof || r->pos < r->boff) {
		int64_t gap = r->eof ? (int64_t)len : r->boff - r->pos;
		size_t n = (int64_t)len < gap ? len : (size_t)gap;

		memset(buf, 0, n);
		r->pos += n;
		return (ssize_t)n;
	}
	{
		size_t in = (size_t)(r->pos - r->boff);
		size_t n = r->blen - in < len ? r->blen - in : len;

		memcpy(buf, r->blk + in, n);
		r->pos += n;
		return (ssize_t)n;
	}
}

/* Find or create the node for @path (components split on '/'). */
static struct node *tar_node(struct node *root, const char *path, bool create,
			     const char *tarname)
{
	struct node *cur = root;

	while (*path) {
		size_t len;
		struct node *next = NULL;

		while (*path == '/')
			path++;
		len = strcspn(path, "/");
		if (!len)
			break;
		if (len == 1 && path[0] == '.') {
			path += len;
			continue;
		}
		if (len == 2 && path[0] == '.' && path[1] == '.') {
			die_path(tarname, "entry path contains '..': refusing it");
			return NULL;
		}
		if (len > XIPFS_NAME_MAX) {
			die_path(tarname, "entry name longer than 255 bytes");
			return NULL;
		}
		if (cur->link || !S_ISDIR(cur->mode)) {
			die_path(tarname, "entry path runs through a non-directory");
			return NULL;
		}
		for (uint32_t i = cur->nkids; i-- > 0;) {
			if (cur->kids[i]->namelen == len &&
			    !memcmp(cur->kids[i]->name, path, len)) {
				next = cur->kids[i];
				break;
			}
		}
		if (!next) {
			if (!create && !path[len])
				return NULL;
			next = node_new(cur, path, len);
			/* An implicit directory: defaults until its own entry comes. */
			next->mode = S_IFDIR | 0755;
			next->mtime = root->mtime;
		}
		cur = next;
		path += len;
	}
	return cur;
}

static int cmp_node(const void *a, const void *b)
{
	const struct node *x = *(struct node *const *)a, *y = *(struct node *const *)b;
	int c = memcmp(x->name, y->name, x->namelen < y->namelen ? x->namelen : y->namelen);

	return c ? c : (x->namelen > y->namelen) - (x->namelen < y->namelen);
}

static void sort_tree(struct node *n)
{
	if (n->nkids > 1)
		qsort(n->kids, n->nkids, sizeof(*n->kids), cmp_node);
	for (uint32_t i = 0; i < n->nkids; i++)
		sort_tree(n->kids[i]);
}

struct node *tree_from_tar(const char *src, const struct opts *o, struct store *st)
{
	struct archive *a = archive_read_new();
	struct archive_entry *e;
	struct node *root;
	const char *label = strcmp(src, "-") ? src : "(standard input)";
	char where[4096 + 64];
	int r, err = 0;

	archive_read_support_filter_all(a);
	archive_read_support_format_tar(a);
	archive_read_support_format_gnutar(a);
	r = strcmp(src, "-") ? archive_read_open_filename(a, src, 1 << 16)
			     : archive_read_open_fd(a, 0, 1 << 16);
	if (r != ARCHIVE_OK) {
		die_path(label, "cannot read archive: %s", archive_error_string(a));
		archive_read_free(a);
		return NULL;
	}
	root = node_new(NULL, "", 0);
	root->mode = S_IFDIR | 0755;
	root->mtime = o->have_timestamp ? o->timestamp : 0;
	/* ARCHIVE_WARN: e.g. a name not in the locale's charset; the raw bytes are kept. */
	while (!err && ((r = archive_read_next_header(a, &e)) == ARCHIVE_OK || r == ARCHIVE_WARN)) {
		const char *path = archive_entry_pathname(e);
		const char *hl = archive_entry_hardlink(e);
		struct node *n;
		const char *xn;
		const void *xv;
		size_t xl;

		if (!path) {
			die_path(label, "entry without a name");
			err = -EINVAL;
			break;
		}
		snprintf(where, sizeof(where), "%s: entry '%s'", label, path);
		{
			const char *rel = path;

			while (*rel == '/' || (rel[0] == '.' && rel[1] == '/'))
				rel += *rel == '/' ? 1 : 2;
			if (*rel && excluded(o, rel))
				continue;
		}
		if (hl) {
			struct node *target = tar_node(root, hl, false, where);

			if (!target || target->link || S_ISDIR(target->mode)) {
				die_path(where, "hardlink to '%s', which is not an earlier file", hl);
				err = -EINVAL;
				break;
			}
			n = tar_node(root, path, true, where);
			if (!n) {
				err = -EINVAL;
				break;
			}
			if (n == target)
				continue;
			n->link = target;
			target->nlink++;
			continue;
		}
		n = tar_node(root, path, true, where);
		if (!n) {
			err = -EINVAL;
			break;
		}
		if (n->link) {
			die_path(where, "entry replaces a hardlink");
			err = -EINVAL;
			break;
		}
		n->mode = archive_entry_mode(e);
		n->uid = (uint32_t)archive_entry_uid(e);
		n->gid = (uint32_t)archive_entry_gid(e);
		n->mtime = archive_entry_mtime(e);
		n->mtime_ns = (uint32_t)archive_entry_mtime_nsec(e);
		if (archive_entry_ctime_is_set(e)) {
			n->ctime = archive_entry_ctime(e);
			n->ctime_ns = (uint32_t)archive_entry_ctime_nsec(e);
		} else {
			n->ctime = n->mtime;
			n->ctime_ns = n->mtime_ns;
		}
		if (S_ISCHR(n->mode) || S_ISBLK(n->mode))
			n->rdev = archive_entry_rdev(e);
		archive_entry_xattr_reset(e);
		while (!err && archive_entry_xattr_next(e, &xn, &xv, &xl) == ARCHIVE_OK)
			if (add_xattr(n, xn, xv, xl)) {
				die_path(where, "extended attribute '%s' too large", xn);
				err = -E2BIG;
			}
		if (err)
			break;
		if (S_ISLNK(n->mode)) {
			const char *t = archive_entry_symlink(e);
			size_t tl = t ? strlen(t) : 0;

			if (tl < 1 || tl > XIPFS_SYMLINK_MAX) {
				die_path(where, "symlink target of %zu bytes (1..4095 allowed)", tl);
				err = -ENAMETOOLONG;
				break;
			}
			free(n->target);
			n->target = xstrndup(t, tl);
			n->size = tl;
		} else if (S_ISREG(n->mode)) {
			struct ar_reader rd = { .a = a, .where = where };

			n->size = archive_entry_size_is_set(e) ? (uint64_t)archive_entry_size(e) : 0;
			err = add_data(st, n, ar_read, &rd, where);
			progress_tick(o, st, false);
		} else if (!S_ISDIR(n->mode) && !S_ISCHR(n->mode) && !S_ISBLK(n->mode) &&
			   !S_ISFIFO(n->mode) && !S_ISSOCK(n->mode)) {
			die_path(where, "unsupported entry type 0%o", n->mode & S_IFMT);
			err = -EINVAL;
		}
	}
	if (!err && r != ARCHIVE_EOF) {
		die_path(label, "bad or truncated archive: %s", archive_error_string(a));
		err = -EIO;
	}
	archive_read_free(a);
	if (err) {
		tree_free(root);
		return NULL;
	}
	sort_tree(root);
	return root;
}
