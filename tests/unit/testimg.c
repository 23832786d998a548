// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The unit tests' image builder: see testimg.h.  Written from
 * include/xipfs/format.h alone; it shares no code with mkxipfs.
 */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testimg.h"

static void *xalloc(void *p, size_t n)
{
	p = realloc(p, n ? n : 1);
	if (!p) {
		perror("testimg");
		abort();
	}
	return p;
}

static void *xzalloc(size_t n)
{
	return memset(xalloc(NULL, n), 0, n ? n : 1);
}

static char *xmemdup(const void *p, size_t n)
{
	char *d = xalloc(NULL, n + 1);

	memcpy(d, p, n);
	d[n] = '\0';
	return d;
}

static int name_cmp(const char *a, size_t al, const char *b, size_t bl)
{
	int c = memcmp(a, b, al < bl ? al : bl);

	if (c)
		return c;
	return al < bl ? -1 : al > bl;
}

static uint32_t new_node(struct timg *t, uint32_t mode)
{
	uint32_t ino = t->nnodes++;
	struct timg_node *n;

	if (t->nnodes > t->ncap) {
		t->ncap = t->ncap ? t->ncap * 2 : 16;
		t->nodes = xalloc(t->nodes, t->ncap * sizeof(*t->nodes));
	}
	n = &t->nodes[ino];
	memset(n, 0, sizeof(*n));
	n->mode = mode;
	n->nlink = 1;
	/* Distinct times per inode, so a decoder mixing inodes up is seen. */
	n->mtime = 1700000000 + (int64_t)ino;
	n->ctime = -(int64_t)ino;
	n->mtime_nsec = (ino * 7919u) % 1000000000u;
	n->ctime_nsec = 999999999u - ino % 1000u;
	return ino;
}

struct timg *timg_new(unsigned shift)
{
	struct timg *t = xzalloc(sizeof(*t));

	t->shift = shift;
	t->psize = 1u << shift;
	new_node(t, 0);				/* [0]: no inode 0 */
	new_node(t, S_IFDIR | 0755);		/* the root, inode 1 */
	return t;
}

void timg_free(struct timg *t)
{
	if (!t)
		return;
	for (uint32_t i = 0; i < t->nnodes; i++) {
		struct timg_node *n = &t->nodes[i];

		for (uint32_t k = 0; k < n->nents; k++)
			free(n->ents[k].name);
		for (uint32_t k = 0; k < n->npages; k++)
			free(n->pages[k].data);
		free(n->ents);
		free(n->pages);
		free(n->target);
	}
	for (uint32_t i = 0; i < t->nsets; i++) {
		for (uint32_t k = 0; k < t->sets[i].n; k++) {
			free(t->sets[i].e[k].name);
			free(t->sets[i].e[k].value);
		}
		free(t->sets[i].e);
	}
	free(t->sets);
	free(t->nodes);
	free(t->buf);
	free(t);
}

struct timg_node *timg_node(struct timg *t, uint32_t ino)
{
	return &t->nodes[ino];
}

void timg_link(struct timg *t, uint32_t dir, const char *name, size_t len,
	       uint32_t ino)
{
	struct timg_node *d = &t->nodes[dir];

	if (d->nents == d->ecap) {
		d->ecap = d->ecap ? d->ecap * 2 : 8;
		d->ents = xalloc(d->ents, d->ecap * sizeof(*d->ents));
	}
	d->ents[d->nents++] = (struct timg_dent){ .name = xmemdup(name, len),
						  .len = len, .ino = ino };
}

uint32_t timg_addn(struct timg *t, uint32_t dir, const char *name, size_t len,
		   uint32_t mode)
{
	uint32_t ino = new_node(t, mode);

	timg_link(t, dir, name, len, ino);
	return ino;
}

uint32_t timg_add(struct timg *t, uint32_t dir, const char *name, uint32_t mode)
{
	return timg_addn(t, dir, name, strlen(name), mode);
}

uint32_t timg_symlink(struct timg *t, uint32_t dir, const char *name,
		      const char *target)
{
	uint32_t ino = timg_add(t, dir, name, S_IFLNK | 0777);
	struct timg_node *n = &t->nodes[ino];

	n->tlen = strlen(target);
	n->target = xmemdup(target, n->tlen);
	n->size = n->tlen;
	return ino;
}

uint32_t timg_mknod(struct timg *t, uint32_t dir, const char *name,
		    uint32_t mode, uint32_t major, uint32_t minor)
{
	uint32_t ino = timg_add(t, dir, name, mode);

	t->nodes[ino].major = major;
	t->nodes[ino].minor = minor;
	return ino;
}

/* The page at @lpage of @n, created (zero) if @create. */
static struct timg_page *find_page(struct timg *t, struct timg_node *n,
				   uint64_t lpage, int create)
{
	uint32_t lo = 0, hi = n->npages;

	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;

		if (n->pages[mid].lpage == lpage)
			return &n->pages[mid];
		if (n->pages[mid].lpage < lpage)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (!create)
		return NULL;
	if (n->npages == n->pcap) {
		n->pcap = n->pcap ? n->pcap * 2 : 4;
		n->pages = xalloc(n->pages, n->pcap * sizeof(*n->pages));
	}
	memmove(&n->pages[lo + 1], &n->pages[lo], (n->npages - lo) * sizeof(*n->pages));
	n->npages++;
	n->pages[lo] = (struct timg_page){ .lpage = lpage, .data = xzalloc(t->psize) };
	return &n->pages[lo];
}

void timg_write(struct timg *t, uint32_t ino, uint64_t off, const void *buf,
		size_t len)
{
	struct timg_node *n = &t->nodes[ino];
	const uint8_t *src = buf;

	while (len) {
		uint64_t in = off & (t->psize - 1);
		size_t chunk = t->psize - in < len ? t->psize - in : len;

		memcpy(find_page(t, n, off >> t->shift, 1)->data + in, src, chunk);
		src += chunk;
		off += chunk;
		len -= chunk;
		if (off > n->size)
			n->size = off;
	}
}

/* splitmix64: reproducible bytes for a (seed, page) pair. */
static uint64_t mix(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

void timg_fill(struct timg *t, uint32_t ino, uint64_t lpage, uint32_t count,
	       uint32_t seed)
{
	struct timg_node *n = &t->nodes[ino];

	for (uint32_t i = 0; i < count; i++) {
		uint8_t *d = find_page(t, n, lpage + i, 1)->data;
		uint64_t s = (uint64_t)seed << 40 ^ (lpage + i);

		for (unsigned k = 0; k < t->psize; k += 8) {
			uint64_t v = mix(&s) | 1;	/* never an all-zero page */

			memcpy(d + k, &v, 8);
		}
	}
	if ((lpage + count) << t->shift > n->size)
		n->size = (lpage + count) << t->shift;
}

void timg_truncate(struct timg *t, uint32_t ino, uint64_t size)
{
	struct timg_node *n = &t->nodes[ino];
	uint64_t tail = size & (t->psize - 1);
	uint32_t keep = 0;

	for (uint32_t i = 0; i < n->npages; i++) {
		struct timg_page *p = &n->pages[i];

		if (p->lpage << t->shift >= size) {
			free(p->data);
			continue;
		}
		if (p->lpage == size >> t->shift && tail)
			memset(p->data + tail, 0, t->psize - tail);
		n->pages[keep++] = *p;
	}
	n->npages = keep;
	n->size = size;
}

void timg_layout(struct timg *t, uint32_t ino, unsigned flags)
{
	t->nodes[ino].layout = flags;
}

void timg_share(struct timg *t, uint32_t dst, uint32_t src)
{
	t->nodes[dst].share = src;
}

uint32_t timg_xset(struct timg *t)
{
	t->sets = xalloc(t->sets, (t->nsets + 1) * sizeof(*t->sets));
	memset(&t->sets[t->nsets], 0, sizeof(*t->sets));
	return ++t->nsets;
}

void timg_xattr(struct timg *t, uint32_t set, const char *name,
		const void *value, uint32_t vlen)
{
	struct timg_xset *s = &t->sets[set - 1];

	if (s->n == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 4;
		s->e = xalloc(s->e, s->cap * sizeof(*s->e));
	}
	s->e[s->n].nlen = strlen(name);
	s->e[s->n].name = xmemdup(name, s->e[s->n].nlen);
	s->e[s->n].value = (uint8_t *)xmemdup(value, vlen);
	s->e[s->n].vlen = vlen;
	s->n++;
}

static int page_is_zero(const struct timg *t, const uint8_t *d)
{
	for (unsigned k = 0; k < t->psize; k++)
		if (d[k])
			return 0;
	return 1;
}

/* The node holding @ino's data: itself, or the one it shares extents with. */
static struct timg_node *data_node(struct timg *t, uint32_t ino)
{
	struct timg_node *n = &t->nodes[ino];

	return n->share ? &t->nodes[n->share] : n;
}

static int dent_cmp(const void *a, const void *b)
{
	const struct timg_dent *x = a, *y = b;

	return name_cmp(x->name, x->len, y->name, y->len);
}

static int xent_cmp(const void *a, const void *b)
{
	const struct timg_xentry *x = a, *y = b;

	return name_cmp(x->name, x->nlen, y->name, y->nlen);
}

static void put16(uint8_t *p, uint16_t v) { v = xipfs_cpu_to_le16(v); memcpy(p, &v, 2); }
static void put32(uint8_t *p, uint32_t v) { v = xipfs_cpu_to_le32(v); memcpy(p, &v, 4); }
static void put64(uint8_t *p, uint64_t v) { v = xipfs_cpu_to_le64(v); memcpy(p, &v, 8); }

static uint32_t get32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return xipfs_le32(v);
}

static uint64_t align8(uint64_t v) { return (v + 7) & ~(uint64_t)7; }

/* Count links, sort entries and xattrs, give every stored page its place. */
static void lay_out(struct timg *t, uint64_t *nextents, uint64_t *names)
{
	uint32_t *links = xzalloc(t->nnodes * sizeof(*links));
	uint32_t *subdirs = xzalloc(t->nnodes * sizeof(*subdirs));
	uint32_t ipage = 1;

	*nextents = 0;
	*names = 0;
	for (uint32_t i = 1; i < t->nnodes; i++) {
		struct timg_node *n = &t->nodes[i];

		if (n->nents)
			qsort(n->ents, n->nents, sizeof(*n->ents), dent_cmp);
		for (uint32_t k = 0; k < n->nents; k++) {
			uint32_t c = n->ents[k].ino;

			links[c]++;
			if (c < t->nnodes && S_ISDIR(t->nodes[c].mode))
				subdirs[i]++;
			*names += n->ents[k].len;
		}
		*names += n->tlen;
	}
	for (uint32_t i = 1; i < t->nnodes; i++) {
		struct timg_node *n = &t->nodes[i];

		if (!n->nlink_fixed)
			n->nlink = S_ISDIR(n->mode) ? 2 + subdirs[i] : links[i];
		if (S_ISDIR(n->mode))
			n->size = (uint64_t)n->nents * sizeof(struct xipfs_dirent);
		if (!S_ISREG(n->mode) || n->share)
			continue;
		n->count = 0;
		for (uint32_t k = 0; k < n->npages; k++) {
			uint32_t j = n->layout & TIMG_REVERSE ? n->npages - 1 - k : k;
			struct timg_page *p = &n->pages[j];

			p->ipage = page_is_zero(t, p->data) ? 0 : ipage++;
		}
		for (uint32_t k = 0, prev = UINT32_MAX; k < n->npages; k++) {
			struct timg_page *p = &n->pages[k];

			if (!p->ipage)
				continue;
			if (prev == UINT32_MAX || n->layout & TIMG_SPLIT ||
			    n->pages[prev].lpage + 1 != p->lpage ||
			    n->pages[prev].ipage + 1 != p->ipage)
				n->count++;
			prev = k;
		}
		n->offset = *nextents;
		*nextents += n->count;
	}
	for (uint32_t i = 1; i < t->nnodes; i++) {
		struct timg_node *n = &t->nodes[i];

		if (S_ISREG(n->mode) && n->share) {
			n->count = t->nodes[n->share].count;
			n->offset = t->nodes[n->share].offset;
			n->size = t->nodes[n->share].size;
		}
	}
	for (uint32_t i = 0; i < t->nsets; i++)
		if (t->sets[i].n)
			qsort(t->sets[i].e, t->sets[i].n, sizeof(*t->sets[i].e), xent_cmp);
	t->data_start = 1;
	t->data_pages = ipage - 1;
	free(links);
	free(subdirs);
}

static void put_inode(struct timg *t, uint32_t ino)
{
	struct timg_node *n = &t->nodes[ino];
	uint8_t *p = t->buf + timg_inode_off(t, ino);
	uint64_t off = n->offset;

	if (S_ISCHR(n->mode) || S_ISBLK(n->mode))
		off = (uint64_t)n->major << 32 | n->minor;
	put16(p + offsetof(struct xipfs_inode, i_mode), (uint16_t)n->mode);
	put32(p + offsetof(struct xipfs_inode, i_nlink), n->nlink);
	put32(p + offsetof(struct xipfs_inode, i_uid), n->uid);
	put32(p + offsetof(struct xipfs_inode, i_gid), n->gid);
	put64(p + offsetof(struct xipfs_inode, i_size), n->size);
	put64(p + offsetof(struct xipfs_inode, i_mtime), (uint64_t)n->mtime);
	put64(p + offsetof(struct xipfs_inode, i_ctime), (uint64_t)n->ctime);
	put32(p + offsetof(struct xipfs_inode, i_mtime_nsec), n->mtime_nsec);
	put32(p + offsetof(struct xipfs_inode, i_ctime_nsec), n->ctime_nsec);
	put32(p + offsetof(struct xipfs_inode, i_xattr), n->xattr);
	put32(p + offsetof(struct xipfs_inode, i_count), n->count);
	put64(p + offsetof(struct xipfs_inode, i_offset), off);
}

static void put_extents(struct timg *t, struct timg_node *n)
{
	uint8_t *p = t->buf + t->extent_off + n->offset * sizeof(struct xipfs_extent);
	uint32_t prev = UINT32_MAX;

	for (uint32_t k = 0; k < n->npages; k++) {
		struct timg_page *pg = &n->pages[k];

		if (!pg->ipage)
			continue;
		memcpy(t->buf + ((uint64_t)pg->ipage << t->shift), pg->data, t->psize);
		if (prev != UINT32_MAX && !(n->layout & TIMG_SPLIT) &&
		    n->pages[prev].lpage + 1 == pg->lpage &&
		    n->pages[prev].ipage + 1 == pg->ipage) {
			put32(p - 8, get32(p - 8) + 1);
		} else {
			put32(p, (uint32_t)pg->lpage);
			put32(p + 4, 1);
			put32(p + 8, pg->ipage);
			p += sizeof(struct xipfs_extent);
		}
		prev = k;
	}
}

/* The xattr area: the offset table, then each set; returns its size. */
static uint64_t put_xattrs(struct timg *t, uint8_t *area)
{
	uint64_t pos = (uint64_t)t->nsets * 4;

	for (uint32_t i = 0; i < t->nsets; i++) {
		struct timg_xset *s = &t->sets[i];

		s->off = pos;
		if (area) {
			put32(area + i * 4, (uint32_t)pos);
			put32(area + pos, s->n);
		}
		pos += 4;
		for (uint32_t k = 0; k < s->n; k++) {
			struct timg_xentry *e = &s->e[k];

			if (area) {
				put16(area + pos, (uint16_t)e->nlen);
				put32(area + pos + 4, e->vlen);
				memcpy(area + pos + 8, e->name, e->nlen);
				memcpy(area + pos + 8 + e->nlen, e->value, e->vlen);
			}
			pos += (8 + e->nlen + e->vlen + 3) & ~(uint64_t)3;
		}
	}
	return pos;
}

static void put_super(struct timg *t)
{
	struct xipfs_super *sb = (struct xipfs_super *)t->buf;
	uint64_t files = 0, bytes = 0, fpages = 0, holes = 0;

	for (uint32_t i = 1; i < t->nnodes; i++) {
		struct timg_node *n = &t->nodes[i];
		uint64_t np = (n->size + t->psize - 1) >> t->shift;

		if (!S_ISREG(n->mode))
			continue;
		files++;
		bytes += n->size;
		fpages += np;
		holes += np - timg_model_blocks(t, i) / (t->psize / 512);
	}
	memset(sb, 0, sizeof(*sb));
	memcpy(sb->s_magic, XIPFS_MAGIC_STR, 8);
	sb->s_version_major = xipfs_cpu_to_le16(XIPFS_VERSION_MAJOR);
	sb->s_version_minor = xipfs_cpu_to_le16(XIPFS_VERSION_MINOR);
	sb->s_page_shift = xipfs_cpu_to_le32(t->shift);
	sb->s_compat = xipfs_cpu_to_le32(XIPFS_FEATURE_COMPAT_PAGESUM);
	sb->s_root_ino = xipfs_cpu_to_le32(XIPFS_ROOT_INO);
	memcpy(sb->s_uuid, "unit-test-image!", 16);
	sb->s_build_time = xipfs_cpu_to_le64(1700000000);
	sb->s_size = xipfs_cpu_to_le64(t->size);
	sb->s_data_start = xipfs_cpu_to_le32(t->data_start);
	sb->s_data_pages = xipfs_cpu_to_le32(t->data_pages);
	sb->s_meta_offset = xipfs_cpu_to_le64(t->meta_off);
	sb->s_meta_size = xipfs_cpu_to_le64(t->meta_size);
	sb->s_inode_offset = xipfs_cpu_to_le64(t->inode_off);
	sb->s_inode_count = xipfs_cpu_to_le32(t->nnodes - 1);
	sb->s_dirent_offset = xipfs_cpu_to_le64(t->dirent_off);
	sb->s_dirent_count = xipfs_cpu_to_le32((uint32_t)((t->extent_off - t->dirent_off) /
						 sizeof(struct xipfs_dirent)));
	sb->s_extent_offset = xipfs_cpu_to_le64(t->extent_off);
	sb->s_extent_count = xipfs_cpu_to_le64(t->extent_count);
	sb->s_names_offset = xipfs_cpu_to_le64(t->names_off);
	sb->s_names_size = xipfs_cpu_to_le64(t->names_size);
	sb->s_xattr_offset = xipfs_cpu_to_le64(t->xattr_off);
	sb->s_xattr_size = xipfs_cpu_to_le64(t->xattr_size);
	sb->s_xattr_sets = xipfs_cpu_to_le32(t->nsets);
	sb->s_pagesum_offset = xipfs_cpu_to_le64(t->pagesum_off);
	sb->s_pagesum_count = xipfs_cpu_to_le64(t->data_pages);
	sb->s_stat_files = xipfs_cpu_to_le64(files);
	sb->s_stat_bytes = xipfs_cpu_to_le64(bytes);
	sb->s_stat_file_pages = xipfs_cpu_to_le64(fpages);
	sb->s_stat_hole_pages = xipfs_cpu_to_le64(holes);
}

void timg_build(struct timg *t)
{
	uint64_t nextents, names, ndirents = 0, pos, meta;

	lay_out(t, &nextents, &names);
	for (uint32_t i = 1; i < t->nnodes; i++) {
		t->nodes[i].offset = S_ISDIR(t->nodes[i].mode) ? ndirents :
				     t->nodes[i].offset;
		if (S_ISDIR(t->nodes[i].mode)) {
			t->nodes[i].count = t->nodes[i].nents;
			ndirents += t->nodes[i].nents;
		}
	}
	/* The dirent table sits between inodes and extents: its size is implied. */
	t->meta_off = (uint64_t)(t->data_start + t->data_pages) << t->shift;
	t->inode_off = t->meta_off;
	t->dirent_off = align8(t->inode_off + (uint64_t)(t->nnodes - 1) *
			       sizeof(struct xipfs_inode));
	t->extent_off = t->dirent_off + ndirents * sizeof(struct xipfs_dirent);
	t->extent_count = nextents;
	t->names_off = align8(t->extent_off + nextents * sizeof(struct xipfs_extent));
	t->names_size = names;
	t->xattr_off = align8(t->names_off + names);
	t->xattr_size = put_xattrs(t, NULL);
	t->pagesum_off = align8(t->xattr_off + t->xattr_size);
	meta = t->pagesum_off + (uint64_t)t->data_pages * 4 - t->meta_off;
	t->meta_size = (meta + t->psize - 1) & ~(uint64_t)(t->psize - 1);
	t->size = t->meta_off + t->meta_size;
	free(t->buf);
	t->buf = xzalloc(t->size);

	pos = t->names_off;
	for (uint32_t i = 1; i < t->nnodes; i++) {
		struct timg_node *n = &t->nodes[i];

		for (uint32_t k = 0; k < n->nents; k++) {
			struct timg_dent *d = &n->ents[k];
			uint8_t *p = t->buf + timg_dirent_off(t, i, k);
			uint32_t c = d->ino;

			memcpy(t->buf + pos, d->name, d->len);
			d->name_off = pos - t->names_off;
			put32(p, c);
			put32(p + 4, (uint32_t)d->name_off);
			p[8] = (uint8_t)d->len;
			p[9] = c < t->nnodes ? (uint8_t)xipfs_mode_to_dtype(t->nodes[c].mode) : 0;
			pos += d->len;
		}
		if (S_ISLNK(n->mode)) {
			memcpy(t->buf + pos, n->target, n->tlen);
			n->offset = pos - t->names_off;
			pos += n->tlen;
		}
		if (S_ISREG(n->mode) && !n->share)
			put_extents(t, n);
	}
	for (uint32_t i = 1; i < t->nnodes; i++)
		put_inode(t, i);
	put_xattrs(t, t->buf + t->xattr_off);
	put_super(t);
	timg_seal_pages(t);
}

int timg_open(struct timg *t, struct xipfs_image **img)
{
	return xipfs_open_mem(t->buf, t->size, "timg", 0, img);
}

const uint8_t *timg_page_data(struct timg *t, uint32_t ino, uint64_t lpage)
{
	struct timg_node *n = data_node(t, ino);
	struct timg_page *p = find_page(t, n, lpage, 0);

	return p && !page_is_zero(t, p->data) ? p->data : NULL;
}

ssize_t timg_model_read(struct timg *t, uint32_t ino, uint64_t off, size_t len,
			void *buf)
{
	struct timg_node *n = data_node(t, ino);
	uint8_t *dst = buf;
	size_t done = 0;

	if (off >= n->size)
		return 0;
	if (len > n->size - off)
		len = n->size - off;
	while (done < len) {
		uint64_t in = off & (t->psize - 1);
		size_t chunk = t->psize - in < len - done ? t->psize - in : len - done;
		const uint8_t *src = timg_page_data(t, ino, off >> t->shift);

		if (src)
			memcpy(dst + done, src + in, chunk);
		else
			memset(dst + done, 0, chunk);
		done += chunk;
		off += chunk;
	}
	return (ssize_t)done;
}

/* lseek(2) on the model: pages are data or holes, EOF is a hole. */
int64_t timg_model_seek(struct timg *t, uint32_t ino, uint64_t off, int whence)
{
	struct timg_node *n = data_node(t, ino);
	uint64_t lp = off >> t->shift;

	if (off >= n->size)
		return -ENXIO;
	if (whence == SEEK_DATA) {
		if (timg_page_data(t, ino, lp))
			return (int64_t)off;
		for (uint32_t k = 0; k < n->npages; k++)
			if (n->pages[k].lpage > lp && !page_is_zero(t, n->pages[k].data))
				return (int64_t)(n->pages[k].lpage << t->shift);
		return -ENXIO;
	}
	if (!timg_page_data(t, ino, lp))
		return (int64_t)off;
	while (timg_page_data(t, ino, lp + 1))
		lp++;
	return (int64_t)((lp + 1) << t->shift < n->size ? (lp + 1) << t->shift : n->size);
}

uint64_t timg_model_blocks(struct timg *t, uint32_t ino)
{
	struct timg_node *n = data_node(t, ino);
	uint64_t stored = 0;

	for (uint32_t k = 0; k < n->npages; k++)
		stored += !page_is_zero(t, n->pages[k].data);
	return stored * (t->psize / 512);
}

uint64_t timg_inode_off(struct timg *t, uint32_t ino)
{
	return t->inode_off + (uint64_t)(ino - 1) * sizeof(struct xipfs_inode);
}

uint64_t timg_dirent_off(struct timg *t, uint32_t dir, uint32_t index)
{
	return t->dirent_off + (t->nodes[dir].offset + index) * sizeof(struct xipfs_dirent);
}

uint64_t timg_extent_off(struct timg *t, uint32_t ino, uint32_t index)
{
	return t->extent_off + (data_node(t, ino)->offset + index) *
	       sizeof(struct xipfs_extent);
}

uint64_t timg_xset_off(struct timg *t, uint32_t set)
{
	return t->xattr_off + t->sets[set - 1].off;
}

void timg_poke_bytes(struct timg *t, uint64_t off, const void *p, size_t len)
{
	memcpy(t->buf + off, p, len);
	timg_seal(t);
}

void timg_poke(struct timg *t, uint64_t off, uint64_t val, unsigned len)
{
	uint8_t b[8];

	for (unsigned i = 0; i < len; i++)
		b[i] = (uint8_t)(val >> (8 * i));
	timg_poke_bytes(t, off, b, len);
}

void timg_seal(struct timg *t)
{
	struct xipfs_super *sb = (struct xipfs_super *)t->buf;
	uint64_t mo = xipfs_le64(sb->s_meta_offset), ms = xipfs_le64(sb->s_meta_size);

	/* A damaged metadata area field: seal what the builder made. */
	if (mo > t->size || ms > t->size - mo) {
		struct xipfs_super tmp = *sb;

		tmp.s_meta_offset = xipfs_cpu_to_le64(t->meta_off);
		tmp.s_meta_size = xipfs_cpu_to_le64(t->meta_size);
		sb->s_crc = xipfs_cpu_to_le32(xipfs_image_crc(t->buf, &tmp));
		return;
	}
	sb->s_crc = xipfs_cpu_to_le32(xipfs_image_crc(t->buf, sb));
}

void timg_seal_pages(struct timg *t)
{
	for (uint32_t i = 0; i < t->data_pages; i++)
		put32(t->buf + t->pagesum_off + (uint64_t)i * 4,
		      xipfs_crc32c(0, t->buf + ((uint64_t)(t->data_start + i) << t->shift),
				   t->psize));
	timg_seal(t);
}

static char log_buf[1 << 16];
static size_t log_len;

static void log_store(int level, const char *msg, void *arg)
{
	int n = snprintf(log_buf + log_len, sizeof(log_buf) - log_len, "%s\n", msg);

	if (n > 0)
		log_len += (size_t)n < sizeof(log_buf) - log_len ? (size_t)n :
			   sizeof(log_buf) - log_len - 1;
}

void timg_log_capture(void)
{
	log_len = 0;
	log_buf[0] = '\0';
	xipfs_set_log(log_store, NULL);
}

const char *timg_log(void)
{
	return log_buf;
}

int timg_run(void *suite)
{
	SRunner *sr = srunner_create(suite);
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

int timg_main(const char *name, void (*setup)(void), void (*teardown)(void),
	      const struct TTest *const *tests)
{
	Suite *s = suite_create(name);
	TCase *tc = tcase_create(name);

	if (setup || teardown)
		tcase_add_checked_fixture(tc, setup, teardown);
	for (; *tests; tests++)
		tcase_add_test(tc, *tests);
	suite_add_tcase(s, tc);
	return timg_run(s);
}
