// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The SHA-256 Merkle tree over an image (COMPAT_MERKLE, see format.h):
 * building it, and verifying an image against it.
 *
 * Verification works on the raw bytes and never needs the image to open:
 * a flipped bit in the metadata may make the image unreadable, and the
 * point is to say which page is damaged.  It checks the stored tree top
 * down first (root, then each tree page against its parent's entry), so a
 * page is only blamed when the tree page holding its hash is itself
 * proven good; pages under a damaged tree page are reported as unchecked.
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <openssl/evp.h>

#include "internal.h"

#define HS XIPFS_MERKLE_HASH_SIZE

struct level {
	uint64_t first;		/* first tree page of the level, from the tree start */
	uint64_t pages;		/* tree pages in the level */
	uint64_t entries;	/* hashes in the level */
};

/* The tree's shape: at most 64 levels (each one is H times smaller). */
struct shape {
	struct level lv[64];
	unsigned nlevels;
	uint64_t pages;		/* total tree pages */
};

static void shape_of(uint64_t npages, unsigned shift, struct shape *s)
{
	uint64_t per = (1u << shift) / HS, n = npages ? npages : 1;

	s->nlevels = 0;
	s->pages = 0;
	do {
		struct level *l = &s->lv[s->nlevels++];

		l->entries = n;
		l->pages = (n + per - 1) / per;
		l->first = s->pages;
		s->pages += l->pages;
		n = l->pages;
	} while (n > 1);
}

uint64_t xipfs_merkle_tree_size(uint64_t npages, unsigned shift)
{
	struct shape s;

	shape_of(npages, shift, &s);
	return s.pages << shift;
}

struct hasher {
	EVP_MD_CTX *ctx;
};

static int hasher_init(struct hasher *h)
{
	h->ctx = EVP_MD_CTX_new();
	return h->ctx ? 0 : -ENOMEM;
}

static void hasher_free(struct hasher *h)
{
	EVP_MD_CTX_free(h->ctx);
}

/* SHA-256 of one or two buffers (@b may be NULL). */
static int sha256(struct hasher *h, const void *a, size_t alen, const void *b,
		  size_t blen, uint8_t out[HS])
{
	unsigned int len;

	if (!EVP_DigestInit_ex(h->ctx, EVP_sha256(), NULL) ||
	    !EVP_DigestUpdate(h->ctx, a, alen) ||
	    (b && !EVP_DigestUpdate(h->ctx, b, blen)) ||
	    !EVP_DigestFinal_ex(h->ctx, out, &len))
		return -EIO;
	return 0;
}

static int root_of(struct hasher *h, const struct xipfs_super *sb,
		   const uint8_t top[HS], uint8_t root[HS])
{
	struct xipfs_super tmp = *sb;

	tmp.s_crc = 0;
	memset(tmp.s_merkle_root, 0, sizeof(tmp.s_merkle_root));
	return sha256(h, &tmp, sizeof(tmp), top, HS, root);
}

int xipfs_merkle_root(const struct xipfs_super *sb, const uint8_t top[32],
		      uint8_t root[32])
{
	struct hasher h;
	int err = hasher_init(&h);

	if (err)
		return err;
	err = root_of(&h, sb, top, root);
	hasher_free(&h);
	return err;
}

int xipfs_sha256(const void *buf, size_t len, uint8_t out[32])
{
	struct hasher h;
	int err = hasher_init(&h);

	if (err)
		return err;
	err = sha256(&h, buf, len, NULL, 0, out);
	hasher_free(&h);
	return err;
}

/* Levels 1 and up of tree @t, whose level 0 is filled in, and the top hash. */
static int build_upper(struct hasher *h, uint8_t *t, const struct shape *sp, unsigned shift,
		       uint8_t top[32])
{
	const struct shape s = *sp;
	size_t psize = (size_t)1 << shift;
	int err = 0;

	for (unsigned l = 1; l < s.nlevels && !err; l++)
		for (uint64_t i = 0; i < s.lv[l].entries && !err; i++)
			err = sha256(h, t + ((s.lv[l - 1].first + i) << shift), psize,
				     NULL, 0, t + (s.lv[l].first << shift) + i * HS);
	if (!err)
		err = sha256(h, t + ((s.pages - 1) << shift), psize, NULL, 0, top);
	return err;
}

int xipfs_merkle_build(const void *content, uint64_t npages, unsigned shift,
		       void *tree, uint8_t top[32])
{
	const uint8_t *c = content;
	uint8_t *t = tree;
	size_t psize = (size_t)1 << shift;
	struct shape s;
	struct hasher h;
	int err = hasher_init(&h);

	if (err)
		return err;
	shape_of(npages, shift, &s);
	memset(t, 0, s.pages << shift);
	for (uint64_t i = 0; i < npages && !err; i++)
		err = sha256(&h, c + (i << shift), psize, NULL, 0,
			     t + (s.lv[0].first << shift) + i * HS);
	if (!err)
		err = build_upper(&h, t, &s, shift, top);
	hasher_free(&h);
	return err;
}

int xipfs_digest_parse(const char *str, uint8_t out[32])
{
	if (strncmp(str, "sha256:", 7))
		return -EINVAL;
	str += 7;
	if (strlen(str) != 2 * HS)
		return -EINVAL;
	for (int i = 0; i < HS; i++) {
		unsigned v = 0;

		for (int k = 0; k < 2; k++) {
			char ch = str[2 * i + k];

			v <<= 4;
			if (ch >= '0' && ch <= '9')
				v |= (unsigned)(ch - '0');
			else if (ch >= 'a' && ch <= 'f')
				v |= (unsigned)(ch - 'a' + 10);
			else
				return -EINVAL;
		}
		out[i] = (uint8_t)v;
	}
	return 0;
}

void xipfs_digest_format(const uint8_t d[32], char out[XIPFS_DIGEST_STR_LEN])
{
	memcpy(out, "sha256:", 7);
	for (int i = 0; i < HS; i++)
		snprintf(out + 7 + 2 * i, 3, "%02x", d[i]);
}

/* ---- verification ------------------------------------------------------ */

struct verify {
	const uint8_t *base;
	const char *name;
	unsigned shift;
	size_t psize;
	uint64_t npages;	/* covered pages: image pages 1..npages */
	uint64_t tree_page;	/* image page number of the first tree page */
	struct shape s;
	uint8_t *good;		/* per tree page: proven by its parent */
	struct hasher h;
	struct xipfs_verify_stats *st;
};

static const uint8_t *tree_at(const struct verify *v, uint64_t tpage)
{
	return v->base + ((v->tree_page + tpage) << v->shift);
}

static const char *page_kind(const struct xipfs_super *sb, uint64_t page)
{
	uint64_t ds = xipfs_le32(sb->s_data_start), dn = xipfs_le32(sb->s_data_pages);
	uint64_t mo = xipfs_le64(sb->s_meta_offset), ms = xipfs_le64(sb->s_meta_size);
	uint64_t off = page << xipfs_le32(sb->s_page_shift);

	if (page >= ds && page - ds < dn)
		return "data page";
	if (off >= mo && off - mo < ms)
		return "metadata page";
	return "page";
}

static int bad(struct verify *v, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static int bad(struct verify *v, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	xipfs_log(XIPFS_LOG_ERR, "%s: %s", v->name, msg);
	v->st->errors++;
	return -EUCLEAN;
}

/* Prove the stored tree top down: which tree pages can be trusted. */
static int check_tree(struct verify *v)
{
	uint8_t hash[HS];
	int err;

	for (unsigned l = v->s.nlevels - 1; l-- > 0;) {
		const struct level *lv = &v->s.lv[l], *up = &v->s.lv[l + 1];

		for (uint64_t i = 0; i < lv->pages; i++) {
			uint64_t parent = up->first + i / (v->psize / HS);
			const uint8_t *want = tree_at(v, parent) + (i % (v->psize / HS)) * HS;

			if (!v->good[parent])
				continue;
			err = sha256(&v->h, tree_at(v, lv->first + i), v->psize, NULL, 0, hash);
			if (err)
				return err;
			if (memcmp(hash, want, HS)) {
				bad(v, "Merkle tree page %llu (level %u) at offset %llu is damaged",
				    (unsigned long long)(v->tree_page + lv->first + i), l,
				    (unsigned long long)((v->tree_page + lv->first + i) << v->shift));
				v->st->bad_tree_pages++;
			} else {
				v->good[lv->first + i] = 1;
			}
		}
	}
	return 0;
}

static int check_pages(struct verify *v, const struct xipfs_super *sb)
{
	uint64_t per = v->psize / HS, skipped = 0;
	uint8_t hash[HS];
	int err;

	for (uint64_t i = 0; i < v->npages; i++) {
		const uint8_t *want = tree_at(v, i / per) + (i % per) * HS;

		if (!v->good[i / per]) {
			skipped++;
			continue;
		}
		err = sha256(&v->h, v->base + ((i + 1) << v->shift), v->psize, NULL, 0, hash);
		if (err)
			return err;
		v->st->pages++;
		if (memcmp(hash, want, HS)) {
			bad(v, "%s %llu at offset %llu is damaged (its SHA-256 does not match the tree)",
			    page_kind(sb, i + 1), (unsigned long long)(i + 1),
			    (unsigned long long)((i + 1) << v->shift));
			v->st->bad_pages++;
		}
	}
	if (skipped) {
		v->st->unchecked_pages = skipped;
		bad(v, "%llu pages could not be checked: the tree pages holding their hashes are damaged",
		    (unsigned long long)skipped);
	}
	return 0;
}

/* The superblock's tree fields, checked against the image's size. */
static int check_geometry(struct verify *v, const struct xipfs_super *sb, size_t size)
{
	uint64_t off = xipfs_le64(sb->s_merkle_offset), len = xipfs_le64(sb->s_merkle_size);
	uint64_t isize = xipfs_le64(sb->s_size);
	unsigned shift = xipfs_le32(sb->s_page_shift);

	if (!XIPFS_PAGE_SHIFT_OK(shift))
		return bad(v, "superblock (page 0) is damaged: page shift %u", shift);
	v->shift = shift;
	v->psize = (size_t)1 << shift;
	if (isize > size || isize % v->psize || off % v->psize || off < 2 * v->psize ||
	    off > isize || len != isize - off)
		return bad(v, "superblock (page 0) is damaged: Merkle tree at offset %llu, %llu bytes, does not end a %llu-byte image",
			   (unsigned long long)off, (unsigned long long)len,
			   (unsigned long long)isize);
	v->npages = (off >> shift) - 1;
	v->tree_page = off >> shift;
	shape_of(v->npages, shift, &v->s);
	if ((v->s.pages << shift) != len)
		return bad(v, "superblock (page 0) is damaged: a tree over %llu pages needs %llu bytes, not %llu",
			   (unsigned long long)v->npages,
			   (unsigned long long)(v->s.pages << shift), (unsigned long long)len);
	return 0;
}

static bool sb_crc_holds(const struct xipfs_super *sb, const void *base)
{
	uint64_t mo = xipfs_le64(sb->s_meta_offset), ms = xipfs_le64(sb->s_meta_size);

	if (mo > xipfs_le64(sb->s_merkle_offset) || ms > xipfs_le64(sb->s_merkle_offset) - mo)
		return false;
	return xipfs_image_crc(base, sb) == xipfs_le32(sb->s_crc);
}

/*
 * What the root does not cover in page 0: s_crc (the CRC covers the root,
 * so the root cannot cover the CRC) and the zeros after the superblock.
 */
static void check_page0(struct verify *v, const struct xipfs_super *sb)
{
	for (size_t k = sizeof(*sb); k < v->psize; k++) {
		if (v->base[k]) {
			bad(v, "superblock page (page 0) is damaged: byte %zu after the superblock is not zero",
			    k);
			return;
		}
	}
	if (!v->st->bad_pages && !v->st->bad_tree_pages && !v->st->unchecked_pages &&
	    !sb_crc_holds(sb, v->base))
		bad(v, "superblock (page 0) is damaged: its CRC field (offset %zu) does not match",
		    offsetof(struct xipfs_super, s_crc));
}

int xipfs_verify_mem(const void *base, size_t size, const char *name,
		     const uint8_t *expect, struct xipfs_verify_stats *st)
{
	struct verify v = { .base = base, .name = name ? name : "(memory)", .st = st };
	struct xipfs_super sb;
	uint8_t top[HS], root[HS];
	char a[XIPFS_DIGEST_STR_LEN], b[XIPFS_DIGEST_STR_LEN];
	int err;

	memset(st, 0, sizeof(*st));
	if (size < sizeof(sb) || memcmp(base, XIPFS_MAGIC_STR, 8))
		return bad(&v, "superblock (page 0) is damaged: bad magic, not an xipfs image");
	memcpy(&sb, base, sizeof(sb));
	if (!(xipfs_le32(sb.s_compat) & XIPFS_FEATURE_COMPAT_MERKLE)) {
		if (xipfs_le32(sb.s_incompat) & XIPFS_FEATURE_INCOMPAT_SHARED_POOL)
			xipfs_log(XIPFS_LOG_ERR, "%s: a pool segment: images in a pool carry no Merkle tree (verify an image file, with --digest, before xipfsctl add)",
				  v.name);
		else
			xipfs_log(XIPFS_LOG_ERR, "%s: the image has no Merkle tree (built with mkxipfs --no-merkle, or damaged superblock)",
				  v.name);
		return -ENODATA;
	}
	err = check_geometry(&v, &sb, size);
	if (err)
		return err;
	err = hasher_init(&v.h);
	if (err)
		return err;
	v.good = calloc(v.s.pages, 1);
	if (!v.good) {
		err = -ENOMEM;
		goto out;
	}
	err = sha256(&v.h, tree_at(&v, v.s.pages - 1), v.psize, NULL, 0, top);
	if (!err)
		err = root_of(&v.h, &sb, top, root);
	if (err)
		goto out;
	xipfs_digest_format(root, a);
	xipfs_digest_format(sb.s_merkle_root, b);
	if (memcmp(root, sb.s_merkle_root, HS)) {
		/* The CRC (superblock and metadata) tells which of the two. */
		if (sb_crc_holds(&sb, base))
			err = bad(&v, "Merkle tree top page %llu at offset %llu is damaged: the tree hashes to %s, the superblock records %s",
				  (unsigned long long)(v.tree_page + v.s.pages - 1),
				  (unsigned long long)((v.tree_page + v.s.pages - 1) << v.shift),
				  a, b);
		else
			err = bad(&v, "superblock (page 0) is damaged: it fails its CRC, and with the tree hashes to %s where it records %s",
				  a, b);
		goto out;
	}
	if (expect && memcmp(root, expect, HS)) {
		xipfs_digest_format(expect, b);
		err = bad(&v, "not the expected image: its digest is %s, expected %s", a, b);
		goto out;
	}
	memcpy(st->root, root, HS);
	v.good[v.s.pages - 1] = 1;
	err = check_tree(&v);
	if (!err)
		err = check_pages(&v, &sb);
	if (!err)
		check_page0(&v, &sb);
	if (!err && st->errors)
		err = -EUCLEAN;
out:
	free(v.good);
	hasher_free(&v.h);
	return err;
}

/* ---- adding the tree to a finished image --------------------------------- */

#define APPEND_CHUNK	(1u << 20)	/* bytes read at a time */

/*
 * Level 0 of @t from pages 1..@npages of @fd, read in chunks (a mapping
 * of the whole image would count as the builder's memory).
 */
static int hash_file(struct hasher *h, int fd, uint64_t npages, unsigned shift,
		     const struct shape *s, uint8_t *t)
{
	uint64_t end = (npages + 1) << shift;
	uint8_t *buf = malloc(APPEND_CHUNK);
	int err = buf ? 0 : -ENOMEM;

	for (uint64_t off = 1ull << shift; !err && off < end;) {
		size_t len = end - off < APPEND_CHUNK ? (size_t)(end - off) : APPEND_CHUNK;

		err = xipfs_pread_all(fd, buf, len, (off_t)off);
		for (size_t k = 0; !err && k < len; k += (size_t)1 << shift)
			err = sha256(h, buf + k, (size_t)1 << shift, NULL, 0,
				     t + (s->lv[0].first << shift) +
				     (((off + k) >> shift) - 1) * HS);
		off += len;
	}
	free(buf);
	return err;
}

/* Set @sb's CRC over itself and the metadata area of @fd. */
static int meta_crc(int fd, struct xipfs_super *sb)
{
	uint64_t mo = xipfs_le64(sb->s_meta_offset), ms = xipfs_le64(sb->s_meta_size);
	uint8_t *buf = malloc(APPEND_CHUNK);
	uint32_t crc;
	int err = buf ? 0 : -ENOMEM;

	sb->s_crc = 0;
	crc = xipfs_crc32c(0, sb, sizeof(*sb));
	for (uint64_t off = 0; !err && off < ms;) {
		size_t len = ms - off < APPEND_CHUNK ? (size_t)(ms - off) : APPEND_CHUNK;

		err = xipfs_pread_all(fd, buf, len, (off_t)(mo + off));
		if (!err)
			crc = xipfs_crc32c(crc, buf, len);
		off += len;
	}
	free(buf);
	sb->s_crc = xipfs_cpu_to_le32(crc);
	return err;
}

int xipfs_merkle_append(int fd, uint64_t *image_bytes)
{
	struct xipfs_super sb;
	struct shape s;
	struct hasher h;
	uint64_t size, npages, tsize;
	uint8_t top[HS], *tree = NULL;
	unsigned shift;
	int err;

	err = xipfs_pread_all(fd, &sb, sizeof(sb), 0);
	if (err)
		return err;
	shift = xipfs_le32(sb.s_page_shift);
	size = xipfs_le64(sb.s_size);
	if (memcmp(sb.s_magic, XIPFS_MAGIC_STR, 8) || !XIPFS_PAGE_SHIFT_OK(shift) ||
	    size % (1u << shift) || size < (2u << shift) ||
	    (xipfs_le32(sb.s_compat) & XIPFS_FEATURE_COMPAT_MERKLE))
		return -EINVAL;
	npages = (size >> shift) - 1;
	shape_of(npages, shift, &s);
	tsize = s.pages << shift;
	err = hasher_init(&h);
	if (err)
		return err;
	tree = calloc(1, tsize);
	err = tree ? 0 : -ENOMEM;
	sb.s_compat = xipfs_cpu_to_le32(xipfs_le32(sb.s_compat) | XIPFS_FEATURE_COMPAT_MERKLE);
	sb.s_merkle_offset = xipfs_cpu_to_le64(size);
	sb.s_merkle_size = xipfs_cpu_to_le64(tsize);
	sb.s_size = xipfs_cpu_to_le64(size + tsize);
	sb.s_crc = 0;
	if (!err)
		err = hash_file(&h, fd, npages, shift, &s, tree);
	if (!err)
		err = build_upper(&h, tree, &s, shift, top);
	if (!err)
		err = xipfs_pwrite_all(fd, tree, tsize, (off_t)size);
	if (!err)
		err = root_of(&h, &sb, top, sb.s_merkle_root);
	if (err)
		goto out;
	/* The CRC covers the superblock: its new fields and the root. */
	err = meta_crc(fd, &sb);
	if (!err)
		err = xipfs_pwrite_all(fd, &sb, sizeof(sb), 0);
	if (!err)
		*image_bytes = size + tsize;
out:
	free(tree);
	hasher_free(&h);
	return err;
}
