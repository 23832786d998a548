// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The in-memory tree and what both inputs (dirwalk.c, tar.c) share: error
 * reporting, progress, xattrs and feeding file data to the page store.
 */
#include <errno.h>
#include <fnmatch.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <xxhash.h>

#include "xipfs/xipfs.h"
#include "xipfs/xalloc.h"
#include "mkxipfs.h"

void build_init(struct build *b, const struct opts *o, struct store *st)
{
	memset(b, 0, sizeof(*b));
	b->o = o;
	b->st = st;
}

void build_free(struct build *b)
{
	free(b->chunk);
	b->chunk = NULL;
	b->chunk_size = 0;
}

void die_path(struct build *b, const char *path, const char *fmt, ...)
{
	va_list ap;

	if (b->failed)
		return;		/* the first error is the one that matters */
	b->failed = true;
	fprintf(stderr, "%s: %s: ", program_invocation_short_name, path);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

void progress_tick(struct build *b, bool force)
{
	struct timespec now;

	if (!b->o->progress)
		return;
	clock_gettime(CLOCK_MONOTONIC, &now);
	if (!force && now.tv_sec == b->last_tick.tv_sec &&
	    now.tv_nsec - b->last_tick.tv_nsec < 250000000)
		return;
	b->last_tick = now;
	fprintf(stderr, "\r%s: %llu files, %llu MiB read, %u unique pages%s",
		program_invocation_short_name, (unsigned long long)b->st->files,
		(unsigned long long)(b->st->bytes >> 20), b->st->next_page - 1,
		force ? "\n" : "");
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
			parent->kids = xreallocarray(parent->kids, parent->capkids,
						     sizeof(*parent->kids));
		}
		parent->kids[parent->nkids++] = n;
	}
	return n;
}

void clear_xattrs(struct node *n)
{
	for (uint32_t i = 0; i < n->nxattrs; i++) {
		free(n->xattrs[i].name);
		free(n->xattrs[i].value);
	}
	free(n->xattrs);
	n->xattrs = NULL;
	n->nxattrs = 0;
}

void tree_free(struct node *n)
{
	if (!n)
		return;
	for (uint32_t i = 0; i < n->nkids; i++)
		tree_free(n->kids[i]);
	clear_xattrs(n);
	free(n->kids);
	free(n->name);
	free(n->target);
	free(n);
}

static int cmp_node(const void *a, const void *b)
{
	const struct node *x = *(struct node *const *)a, *y = *(struct node *const *)b;
	int c = memcmp(x->name, y->name, x->namelen < y->namelen ? x->namelen : y->namelen);

	return c ? c : (x->namelen > y->namelen) - (x->namelen < y->namelen);
}

void tree_sort(struct node *n)
{
	if (n->nkids > 1)
		qsort(n->kids, n->nkids, sizeof(*n->kids), cmp_node);
	for (uint32_t i = 0; i < n->nkids; i++)
		tree_sort(n->kids[i]);
}

bool excluded(const struct opts *o, const char *rel)
{
	/* An archive entry's path may start with "/" or "./". */
	while (*rel == '/' || (rel[0] == '.' && rel[1] == '/'))
		rel += *rel == '/' ? 1 : 2;
	if (!*rel)
		return false;
	for (size_t i = 0; i < o->nexcludes; i++)
		if (!fnmatch(o->excludes[i], rel, 0))
			return true;
	return false;
}

size_t path_next(const char **path)
{
	for (;;) {
		size_t len;

		while (**path == '/')
			(*path)++;
		len = strcspn(*path, "/");
		if (len != 1 || **path != '.')
			return len;
		(*path)++;
	}
}

static const char *name_bad(const char *name, size_t len)
{
	if (len == 2 && name[0] == '.' && name[1] == '.')
		return "entry path contains '..': refusing it";
	if (len > XIPFS_NAME_MAX)
		return "entry name longer than 255 bytes";
	return NULL;
}

struct node *implicit_dir(struct node_index *x, struct node *dir, const char *name,
			  size_t len, const struct node *root, uint32_t layer)
{
	struct node *n = node_new(dir, name, len);

	n->mode = S_IFDIR | 0755;
	n->mtime = root->mtime;
	n->layer = layer;
	index_add(x, n);
	return n;
}

struct node *entry_parent(struct build *b, struct node_index *x, struct node *root,
			  const char *path, uint32_t layer, const char *where,
			  const char **name, size_t *len)
{
	const char *start = path;
	struct node *cur = root;
	size_t l;

	*len = 0;
	for (; (l = path_next(&path)); path += l) {
		const char *why = name_bad(path, l), *rest = path + l;
		struct node *next;

		if (why) {
			die_path(b, where, "%s", why);
			return NULL;
		}
		if (!path_next(&rest)) {
			*name = path;
			*len = l;
			return cur;
		}
		next = index_find(x, cur, path, l);
		if (!next) {
			next = implicit_dir(x, cur, path, l, root, layer);
		} else if (next->link || !S_ISDIR(next->mode)) {
			die_path(b, where, "entry path runs through '%.*s', which is not a directory",
				 (int)(path + l - start), start);
			return NULL;
		}
		cur = next;
	}
	return cur;		/* the root itself: *len == 0 */
}

static size_t index_bucket(const struct node_index *x, const struct node *dir,
			   const char *name, size_t len)
{
	return XXH3_64bits_withSeed(name, len, (uint64_t)(uintptr_t)dir) & (x->nbuckets - 1);
}

struct node *index_find(const struct node_index *x, const struct node *dir,
			const char *name, size_t len)
{
	if (!x->nbuckets)
		return NULL;
	for (struct node *m = x->buckets[index_bucket(x, dir, name, len)]; m; m = m->hnext)
		if (m->parent == dir && m->namelen == len && !memcmp(m->name, name, len))
			return m;
	return NULL;
}

void index_add(struct node_index *x, struct node *n)
{
	size_t j;

	if (x->count + 1 > x->nbuckets) {
		struct node **old = x->buckets;
		size_t oldn = x->nbuckets;

		x->nbuckets = oldn ? oldn * 2 : 1024;
		x->buckets = xcalloc(x->nbuckets, sizeof(*x->buckets));
		for (size_t i = 0; i < oldn; i++) {
			for (struct node *m = old[i], *next; m; m = next) {
				next = m->hnext;
				j = index_bucket(x, m->parent, m->name, m->namelen);
				m->hnext = x->buckets[j];
				x->buckets[j] = m;
			}
		}
		free(old);
	}
	j = index_bucket(x, n->parent, n->name, n->namelen);
	n->hnext = x->buckets[j];
	x->buckets[j] = n;
	x->count++;
}

void index_remove(struct node_index *x, struct node *n)
{
	struct node **p;

	if (!x->nbuckets)
		return;
	for (p = &x->buckets[index_bucket(x, n->parent, n->name, n->namelen)]; *p;
	     p = &(*p)->hnext) {
		if (*p == n) {
			*p = n->hnext;
			x->count--;
			return;
		}
	}
}

void index_free(struct node_index *x)
{
	free(x->buckets);
	memset(x, 0, sizeof(*x));
}

struct node *index_lookup(const struct node_index *x, struct node *root, const char *path)
{
	struct node *cur = root;
	size_t len;

	for (; cur && (len = path_next(&path)); path += len) {
		if (cur->link || !S_ISDIR(cur->mode))
			return NULL;
		cur = index_find(x, cur, path, len);
	}
	return cur;
}

int add_xattr(struct node *n, const char *name, const void *val, size_t len)
{
	struct xattr_kv *x;

	if (strlen(name) > XIPFS_XATTR_NAME_MAX || len > XIPFS_XATTR_VALUE_MAX)
		return -E2BIG;
	n->xattrs = xreallocarray(n->xattrs, n->nxattrs + 1, sizeof(*n->xattrs));
	x = &n->xattrs[n->nxattrs++];
	x->name = xstrdup(name);
	x->value = xmalloc(len);
	if (len)
		memcpy(x->value, val, len);
	x->len = (uint32_t)len;
	return 0;
}

/* Read @want bytes into @buf, or report why not. */
static int read_chunk(struct build *b, struct node *n, read_fn rd, void *ctx,
		      const char *path, uint8_t *buf, size_t want, uint64_t done)
{
	size_t got = 0;

	while (got < want) {
		ssize_t r = rd(ctx, buf + got, want - got);

		if (r < 0) {
			die_path(b, path, "read error: %s", strerror(errno));
			return -EIO;
		}
		if (r == 0) {
			die_path(b, path, "file shrank while being read (expected %llu bytes, got %llu)",
				 (unsigned long long)n->size, (unsigned long long)(done + got));
			return -EIO;
		}
		got += r;
	}
	return 0;
}

int add_data(struct build *b, struct node *n, read_fn rd, void *ctx, const char *path)
{
	struct store *st = b->st;
	struct page_sig sig[CHUNK_PAGES];
	size_t chunk = (size_t)CHUNK_PAGES << st->shift;
	uint64_t done = 0;
	uint32_t lpage = 0;
	int err;

	if ((n->size + st->psize - 1) >> st->shift > UINT32_MAX) {
		die_path(b, path, "file too large for page numbers");
		return -EFBIG;
	}
	if (b->chunk_size < chunk) {
		free(b->chunk);
		b->chunk_size = chunk;
		b->chunk = aligned_alloc(64, chunk);
		if (!b->chunk)
			xipfs_oom();
	}
	file_begin(st);
	while (done < n->size) {
		size_t got = n->size - done < chunk ? n->size - done : chunk;
		uint32_t pages = (uint32_t)((got + st->psize - 1) >> st->shift);

		err = read_chunk(b, n, rd, ctx, path, b->chunk, got, done);
		if (err)
			return err;
		memset(b->chunk + got, 0, ((size_t)pages << st->shift) - got);
		store_sign(st, b->chunk, pages, sig);
		for (uint32_t i = 0; i < pages; i++) {
			err = file_page(st, lpage++, b->chunk + ((size_t)i << st->shift), &sig[i]);
			if (err) {
				die_path(b, path, "cannot write image: %s", strerror(-err));
				return err;
			}
		}
		done += got;
	}
	st->files++;
	st->bytes += n->size;
	return file_end(st, n);
}
