// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Layout and writing.  After the data pages (written by the store while
 * the tree was read), number the inodes, serialize the metadata area
 * (inodes, dirents, extents, xattr sets, page checksums, names) in one
 * buffer, then write it and the superblock into page 0.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>
#include <xxhash.h>

#include "xipfs/xipfs.h"
#include "xipfs/xalloc.h"
#include "mkxipfs.h"

struct buf {
	uint8_t *p;
	size_t len, cap;
};

/* Append @len bytes (zeros when @data is NULL); returns their offset. */
static size_t buf_add(struct buf *b, const void *data, size_t len)
{
	size_t at = b->len;

	if (!len)
		return at;
	if (b->len + len > b->cap) {
		b->cap = (b->len + len) * 2 + 4096;
		b->p = xreallocarray(b->p, b->cap, 1);
	}
	if (data)
		memcpy(b->p + at, data, len);
	else
		memset(b->p + at, 0, len);
	b->len += len;
	return at;
}

static void buf_align(struct buf *b, size_t a)
{
	if (b->len % a)
		buf_add(b, NULL, a - b->len % a);
}

/* A distinct xattr set: where its bytes are in the xattr area. */
struct xset {
	uint64_t h;			/* XXH3 of the serialized set */
	uint32_t off, len;
};

struct layout {
	struct node **order;		/* inodes, by inode number - 1 */
	uint32_t ninodes;
	uint64_t ndirents;
	struct buf names, xattrs;
	struct xset *sets;
	uint32_t nsets;
	size_t capsets;
	uint32_t *set_slots;		/* open addressing: set index + 1, 0 free */
	size_t nslots;
};

/* Byte offsets of the tables inside the metadata area. */
struct meta_at {
	uint64_t inode, dirent, extent, xattr, sum, names;
};

static int cmp_xattr(const void *a, const void *b)
{
	return strcmp(((const struct xattr_kv *)a)->name,
		      ((const struct xattr_kv *)b)->name);
}

static void set_slots_grow(struct layout *l)
{
	free(l->set_slots);
	l->nslots = l->nslots ? l->nslots * 2 : 256;
	l->set_slots = xcalloc(l->nslots, sizeof(*l->set_slots));
	for (uint32_t i = 0; i < l->nsets; i++) {
		size_t j = l->sets[i].h & (l->nslots - 1);

		while (l->set_slots[j])
			j = (j + 1) & (l->nslots - 1);
		l->set_slots[j] = i + 1;
	}
}

/* Serialize @n's xattrs as a set and return its index + 1 (shared). */
static uint32_t xattr_set(struct layout *l, struct node *n)
{
	struct buf s = { 0 };
	uint32_t v;
	uint64_t h;
	size_t j;

	if (!n->nxattrs)
		return 0;
	qsort(n->xattrs, n->nxattrs, sizeof(*n->xattrs), cmp_xattr);
	v = xipfs_cpu_to_le32(n->nxattrs);
	buf_add(&s, &v, sizeof(v));
	for (uint32_t i = 0; i < n->nxattrs; i++) {
		size_t nl = strlen(n->xattrs[i].name);
		struct xipfs_xattr_entry e = {
			.x_name_len = xipfs_cpu_to_le16((uint16_t)nl),
			.x_value_len = xipfs_cpu_to_le32(n->xattrs[i].len),
		};

		buf_add(&s, &e, sizeof(e));
		buf_add(&s, n->xattrs[i].name, nl);
		buf_add(&s, n->xattrs[i].value, n->xattrs[i].len);
		buf_align(&s, 4);
	}
	h = XXH3_64bits(s.p, s.len);
	if ((l->nsets + 1) * 2 > l->nslots)
		set_slots_grow(l);
	for (j = h & (l->nslots - 1); l->set_slots[j]; j = (j + 1) & (l->nslots - 1)) {
		const struct xset *x = &l->sets[l->set_slots[j] - 1];

		if (x->h == h && x->len == s.len && !memcmp(l->xattrs.p + x->off, s.p, s.len)) {
			free(s.p);
			return l->set_slots[j];
		}
	}
	if (l->nsets == l->capsets) {
		l->capsets = l->capsets ? l->capsets * 2 : 64;
		l->sets = xreallocarray(l->sets, l->capsets, sizeof(*l->sets));
	}
	l->sets[l->nsets] = (struct xset){ h, (uint32_t)buf_add(&l->xattrs, s.p, s.len),
					   (uint32_t)s.len };
	l->set_slots[j] = ++l->nsets;
	free(s.p);
	return l->nsets;
}

static void apply_opts(struct node *n, const struct opts *o)
{
	if (o->all_root)
		n->uid = n->gid = 0;
	n->uid = (uint32_t)(n->uid + o->uid_offset);
	n->gid = (uint32_t)(n->gid + o->gid_offset);
	if (o->force_uid >= 0)
		n->uid = (uint32_t)o->force_uid;
	if (o->force_gid >= 0)
		n->gid = (uint32_t)o->force_gid;
	if (o->have_timestamp) {
		if (n->mtime > o->timestamp) {
			n->mtime = o->timestamp;
			n->mtime_ns = 0;
		}
		if (n->ctime > o->timestamp) {
			n->ctime = o->timestamp;
			n->ctime_ns = 0;
		}
	}
}

/*
 * Number inodes breadth first (root = 1), so a directory's entries get
 * consecutive numbers; hardlinks take the number of their first name.
 */
static int number_inodes(struct build *b, struct layout *l, struct node *root)
{
	size_t cap = 1024;

	l->order = xreallocarray(NULL, cap, sizeof(*l->order));
	l->order[0] = root;
	root->ino = 1;
	l->ninodes = 1;
	for (uint32_t i = 0; i < l->ninodes; i++) {
		struct node *d = l->order[i];
		uint32_t subdirs = 0;

		apply_opts(d, b->o);
		d->xattr_set = xattr_set(l, d);
		if (!S_ISDIR(d->mode))
			continue;
		for (uint32_t k = 0; k < d->nkids; k++) {
			struct node *t = d->kids[k]->link ? d->kids[k]->link : d->kids[k];

			l->ndirents++;
			if (S_ISDIR(t->mode))
				subdirs++;
			if (t->ino)
				continue;
			if (l->ninodes == UINT32_MAX) {
				die_path(b, "(tree)", "more than 2^32-1 inodes");
				return -EOVERFLOW;
			}
			if (l->ninodes == cap) {
				cap *= 2;
				l->order = xreallocarray(l->order, cap, sizeof(*l->order));
			}
			t->ino = ++l->ninodes;
			l->order[l->ninodes - 1] = t;
		}
		d->nlink = 2 + subdirs;
	}
	if (l->ndirents > UINT32_MAX) {
		die_path(b, "(tree)", "more than 2^32-1 directory entries");
		return -EOVERFLOW;
	}
	return 0;
}

static void put_inode(struct xipfs_inode *di, const struct node *n, uint64_t dirent_index,
		      uint64_t name_off)
{
	memset(di, 0, sizeof(*di));
	di->i_mode = xipfs_cpu_to_le16((uint16_t)n->mode);
	di->i_nlink = xipfs_cpu_to_le32(n->nlink);
	di->i_uid = xipfs_cpu_to_le32(n->uid);
	di->i_gid = xipfs_cpu_to_le32(n->gid);
	di->i_mtime = (int64_t)xipfs_cpu_to_le64((uint64_t)n->mtime);
	di->i_ctime = (int64_t)xipfs_cpu_to_le64((uint64_t)n->ctime);
	di->i_mtime_nsec = xipfs_cpu_to_le32(n->mtime_ns);
	di->i_ctime_nsec = xipfs_cpu_to_le32(n->ctime_ns);
	di->i_xattr = xipfs_cpu_to_le32(n->xattr_set);
	switch (n->mode & S_IFMT) {
	case S_IFREG:
		di->i_size = xipfs_cpu_to_le64(n->size);
		di->i_count = xipfs_cpu_to_le32(n->ext_count);
		di->i_offset = xipfs_cpu_to_le64(n->ext_off);
		break;
	case S_IFDIR:
		di->i_size = xipfs_cpu_to_le64((uint64_t)n->nkids * sizeof(struct xipfs_dirent));
		di->i_count = xipfs_cpu_to_le32(n->nkids);
		di->i_offset = xipfs_cpu_to_le64(dirent_index);
		break;
	case S_IFLNK:
		di->i_size = xipfs_cpu_to_le64(n->size);
		di->i_offset = xipfs_cpu_to_le64(name_off);
		break;
	case S_IFCHR:
	case S_IFBLK:
		di->i_offset = xipfs_cpu_to_le64((uint64_t)major(n->rdev) << 32 |
						 minor(n->rdev));
		break;
	}
}

/*
 * The tables whose size is known now, into @m: room for inodes and
 * dirents, the extents, the xattr area (offset table, then the sets) and
 * the page checksums.  Names come last: their offsets go into the dirents
 * and symlink inodes (fill_tree()).
 */
static void lay_out_tables(struct layout *l, const struct store *st, struct buf *m,
			   struct meta_at *at)
{
	uint32_t data_pages = st->next_page - 1;

	at->inode = buf_add(m, NULL, (size_t)l->ninodes * sizeof(struct xipfs_inode));
	at->dirent = buf_add(m, NULL, l->ndirents * sizeof(struct xipfs_dirent));
	buf_align(m, 8);
	at->extent = buf_add(m, NULL, st->next * sizeof(struct xipfs_extent));
	for (uint64_t i = 0; i < st->next; i++) {
		struct xipfs_extent *e = (struct xipfs_extent *)(m->p + at->extent) + i;

		e->e_lpage = xipfs_cpu_to_le32(st->ext[i].lpage);
		e->e_count = xipfs_cpu_to_le32(st->ext[i].count);
		e->e_page = xipfs_cpu_to_le32(st->ext[i].page);
	}
	buf_align(m, 8);
	at->xattr = m->len;
	for (uint32_t i = 0; i < l->nsets; i++) {
		uint32_t v = xipfs_cpu_to_le32(l->sets[i].off + sizeof(v) * l->nsets);

		buf_add(m, &v, sizeof(v));
	}
	buf_add(m, l->xattrs.p, l->xattrs.len);
	buf_align(m, 8);
	at->sum = m->len;
	for (uint32_t i = 0; i < data_pages; i++) {
		uint32_t v = xipfs_cpu_to_le32(st->sums[i]);

		buf_add(m, &v, sizeof(v));
	}
	buf_align(m, 8);
	at->names = m->len;
}

/* Directory @n's entries, from dirent @index on; their names into l->names. */
static int put_dirents(struct build *b, struct layout *l, struct buf *m,
		       const struct meta_at *at, const struct node *n, uint64_t index)
{
	for (uint32_t k = 0; k < n->nkids; k++) {
		const struct node *kid = n->kids[k];
		const struct node *t = kid->link ? kid->link : kid;
		struct xipfs_dirent *de = (struct xipfs_dirent *)(m->p + at->dirent) + index + k;
		uint64_t name = buf_add(&l->names, kid->name, kid->namelen);

		if (name + kid->namelen > UINT32_MAX) {
			die_path(b, "(tree)", "more than 4 GiB of names");
			return -EOVERFLOW;
		}
		de->d_ino = xipfs_cpu_to_le32(t->ino);
		de->d_name = xipfs_cpu_to_le32((uint32_t)name);
		de->d_namelen = (uint8_t)kid->namelen;
		de->d_type = (uint8_t)xipfs_mode_to_dtype(t->mode);
	}
	return 0;
}

/* Inodes and dirents, in inode order; then the names table. */
static int fill_tree(struct build *b, struct layout *l, struct buf *m,
		     const struct meta_at *at)
{
	uint64_t dirent_index = 0;
	int err;

	for (uint32_t i = 0; i < l->ninodes; i++) {
		struct node *n = l->order[i];
		uint64_t name_off = 0;

		if (S_ISLNK(n->mode))
			name_off = buf_add(&l->names, n->target, n->size);
		if (S_ISDIR(n->mode)) {
			err = put_dirents(b, l, m, at, n, dirent_index);
			if (err)
				return err;
		}
		put_inode((struct xipfs_inode *)(m->p + at->inode) + i, n, dirent_index, name_off);
		if (S_ISDIR(n->mode))
			dirent_index += n->nkids;
	}
	buf_add(m, l->names.p, l->names.len);
	buf_align(m, b->st->psize);
	return 0;
}

static void fill_super(struct xipfs_super *sb, const struct build *b, const struct layout *l,
		       const struct buf *m, const struct meta_at *at, uint64_t meta_off)
{
	const struct store *st = b->st;
	uint32_t data_pages = st->next_page - 1;

	memset(sb, 0, sizeof(*sb));
	memcpy(sb->s_magic, XIPFS_MAGIC_STR, sizeof(sb->s_magic));
	sb->s_version_major = xipfs_cpu_to_le16(XIPFS_VERSION_MAJOR);
	sb->s_version_minor = xipfs_cpu_to_le16(XIPFS_VERSION_MINOR);
	sb->s_page_shift = xipfs_cpu_to_le32(st->shift);
	sb->s_compat = xipfs_cpu_to_le32(XIPFS_FEATURE_COMPAT_PAGESUM);
	sb->s_root_ino = xipfs_cpu_to_le32(XIPFS_ROOT_INO);
	sb->s_build_time = xipfs_cpu_to_le64(b->o->have_timestamp ? (uint64_t)b->o->timestamp :
					     b->o->from_image ? 0 : (uint64_t)time(NULL));
	sb->s_size = xipfs_cpu_to_le64(meta_off + m->len);
	sb->s_data_start = xipfs_cpu_to_le32(1);
	sb->s_data_pages = xipfs_cpu_to_le32(data_pages);
	sb->s_meta_offset = xipfs_cpu_to_le64(meta_off);
	sb->s_meta_size = xipfs_cpu_to_le64(m->len);
	sb->s_inode_offset = xipfs_cpu_to_le64(meta_off + at->inode);
	sb->s_inode_count = xipfs_cpu_to_le32(l->ninodes);
	sb->s_dirent_count = xipfs_cpu_to_le32((uint32_t)l->ndirents);
	sb->s_dirent_offset = xipfs_cpu_to_le64(meta_off + at->dirent);
	sb->s_extent_offset = xipfs_cpu_to_le64(meta_off + at->extent);
	sb->s_extent_count = xipfs_cpu_to_le64(st->next);
	sb->s_names_offset = xipfs_cpu_to_le64(meta_off + at->names);
	sb->s_names_size = xipfs_cpu_to_le64(l->names.len);
	sb->s_xattr_offset = xipfs_cpu_to_le64(meta_off + at->xattr);
	sb->s_xattr_size = xipfs_cpu_to_le64(sizeof(uint32_t) * l->nsets + l->xattrs.len);
	sb->s_xattr_sets = xipfs_cpu_to_le32(l->nsets);
	sb->s_pagesum_offset = xipfs_cpu_to_le64(meta_off + at->sum);
	sb->s_pagesum_count = xipfs_cpu_to_le64(data_pages);
	sb->s_stat_files = xipfs_cpu_to_le64(st->files);
	sb->s_stat_bytes = xipfs_cpu_to_le64(st->bytes);
	sb->s_stat_file_pages = xipfs_cpu_to_le64(st->file_pages);
	sb->s_stat_hole_pages = xipfs_cpu_to_le64(st->hole_pages);
	sb->s_stat_dedup_pages = xipfs_cpu_to_le64(st->dedup_pages);
}

/*
 * The UUID: as given; derived from the content for a reproducible build
 * (a timestamp was given); else random.
 */
static int set_uuid(struct xipfs_super *sb, const struct opts *o, const struct buf *m)
{
	if (o->have_uuid) {
		memcpy(sb->s_uuid, o->uuid, sizeof(sb->s_uuid));
		return 0;
	}
	/* Reproducible builds (container images are, always): from the content. */
	if (o->have_timestamp || o->from_image) {
		XXH3_state_t *h = XXH3_createState();
		XXH128_hash_t d;

		if (!h)
			xipfs_oom();
		XXH3_128bits_reset(h);
		XXH3_128bits_update(h, sb, sizeof(*sb));
		XXH3_128bits_update(h, m->p, m->len);
		d = XXH3_128bits_digest(h);
		XXH3_freeState(h);
		memcpy(sb->s_uuid, &d.low64, 8);
		memcpy(sb->s_uuid + 8, &d.high64, 8);
		sb->s_uuid[6] = (sb->s_uuid[6] & 0x0f) | 0x80;	/* RFC 9562 v8 */
	} else {
		if (getrandom(sb->s_uuid, sizeof(sb->s_uuid), 0) != sizeof(sb->s_uuid))
			return -errno;
		sb->s_uuid[6] = (sb->s_uuid[6] & 0x0f) | 0x40;	/* v4 */
	}
	sb->s_uuid[8] = (sb->s_uuid[8] & 0x3f) | 0x80;		/* RFC 9562 variant */
	return 0;
}

/* The metadata at @meta_off, the superblock zero padded into page 0. */
static int write_meta(struct store *st, struct xipfs_super *sb, const struct buf *m,
		      uint64_t meta_off)
{
	uint32_t crc = xipfs_crc32c(0, sb, sizeof(*sb));
	uint8_t *page0;
	int err;

	sb->s_crc = xipfs_cpu_to_le32(xipfs_crc32c(crc, m->p, m->len));
	err = xipfs_pwrite_all(st->fd, m->p, m->len, (off_t)meta_off);
	if (err)
		return err;
	page0 = xcalloc(1, st->psize);
	memcpy(page0, sb, sizeof(*sb));
	err = xipfs_pwrite_all(st->fd, page0, st->psize, 0);
	free(page0);
	if (!err && ftruncate(st->fd, (off_t)(meta_off + m->len)) < 0)
		err = -errno;
	return err;
}

int finish_image(struct build *b, struct node *root, uint64_t *meta_bytes,
		 uint64_t *image_bytes)
{
	uint64_t meta_off = (uint64_t)b->st->next_page << b->st->shift;
	struct layout l = { 0 };
	struct buf m = { 0 };
	struct xipfs_super sb;
	struct meta_at at;
	int err = number_inodes(b, &l, root);

	if (!err) {
		lay_out_tables(&l, b->st, &m, &at);
		err = fill_tree(b, &l, &m, &at);
	}
	if (!err) {
		fill_super(&sb, b, &l, &m, &at, meta_off);
		err = set_uuid(&sb, b->o, &m);
	}
	if (!err)
		err = write_meta(b->st, &sb, &m, meta_off);
	*meta_bytes = m.len;
	*image_bytes = meta_off + m.len;
	free(l.order);
	free(l.names.p);
	free(l.xattrs.p);
	free(l.sets);
	free(l.set_slots);
	free(m.p);
	return err;
}
