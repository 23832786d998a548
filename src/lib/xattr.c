// SPDX-License-Identifier: GPL-2.0-or-later
/* Extended attributes: shared sets, parsed and bounds-checked on access. */
#include <errno.h>

#include "internal.h"

/* Byte offset (relative to the xattr area) of the set of @ino, and its count. */
static int set_start(const struct xipfs_image *img, const struct xipfs_ino *ino,
		     uint64_t *pos, uint32_t *count)
{
	const uint8_t *area = img->base + img->xattr_off;
	uint64_t off;

	if (!ino->xattr) {
		*count = 0;
		return 0;
	}
	if (ino->xattr > img->xattr_sets)
		return xipfs_corrupt(img, "inode", xipfs_inode_off(img, ino->ino),
				     "inode %u: xattr set %u does not exist",
				     ino->ino, ino->xattr);
	off = ld32(area + (uint64_t)(ino->xattr - 1) * sizeof(uint32_t));
	if (off % 4 || !xipfs_within(off, 4, 0, img->xattr_size))
		return xipfs_corrupt(img, "xattr set", img->xattr_off + off,
				     "set %u starts outside the xattr area",
				     ino->xattr - 1);
	*count = ld32(area + off);
	*pos = off + 4;
	/*
	 * Each entry takes at least 12 bytes: a count that cannot fit is
	 * corrupt, for every accessor alike (find or at would otherwise
	 * answer from a set that count refuses).
	 */
	if (*count > img->xattr_size / (sizeof(struct xipfs_xattr_entry) + 4))
		return xipfs_corrupt(img, "xattr set", img->xattr_off + off,
				     "%u entries cannot fit", *count);
	return 0;
}

/* Parse the entry at *@pos and advance past it. */
static int next_entry(const struct xipfs_image *img, uint64_t *pos,
		      struct xipfs_xattr *out)
{
	const uint8_t *area = img->base + img->xattr_off;
	const uint64_t hdr = sizeof(struct xipfs_xattr_entry);
	uint64_t p = *pos, len;

	if (!xipfs_within(p, hdr, 0, img->xattr_size))
		return xipfs_corrupt(img, "xattr entry", img->xattr_off + p,
				     "entry header outside the xattr area");
	out->name_len = ld16(area + p + offsetof(struct xipfs_xattr_entry, x_name_len));
	out->value_len = ld32(area + p + offsetof(struct xipfs_xattr_entry, x_value_len));
	len = hdr + (uint64_t)out->name_len + out->value_len;
	if (out->name_len < 1 || out->name_len > XIPFS_XATTR_NAME_MAX ||
	    out->value_len > XIPFS_XATTR_VALUE_MAX ||
	    !xipfs_within(p, len, 0, img->xattr_size))
		return xipfs_corrupt(img, "xattr entry", img->xattr_off + p,
				     "name length %u / value length %u invalid or outside the xattr area",
				     out->name_len, out->value_len);
	out->name = (const char *)area + p + hdr;
	out->value = area + p + hdr + out->name_len;
	if (memchr(out->name, '\0', out->name_len))
		return xipfs_corrupt(img, "xattr entry", img->xattr_off + p,
				     "name contains NUL");
	*pos = p + ((len + 3) & ~(uint64_t)3);
	return 0;
}

int xipfs_xattr_count(const struct xipfs_image *img, const struct xipfs_ino *ino)
{
	uint64_t pos;
	uint32_t count;
	int err = set_start(img, ino, &pos, &count);

	if (err)
		return err;
	return (int)count;
}

int xipfs_xattr_at(const struct xipfs_image *img, const struct xipfs_ino *ino,
		   uint32_t index, struct xipfs_xattr *out)
{
	uint64_t pos;
	uint32_t count;
	int err = set_start(img, ino, &pos, &count);

	if (err)
		return err;
	if (index >= count)
		return -ENODATA;
	for (uint32_t i = 0; i <= index; i++) {
		err = next_entry(img, &pos, out);
		if (err)
			return err;
	}
	return 0;
}

int xipfs_xattr_find(const struct xipfs_image *img, const struct xipfs_ino *ino,
		     const char *name, struct xipfs_xattr *out)
{
	size_t len = strlen(name);
	uint64_t pos;
	uint32_t count;
	int err = set_start(img, ino, &pos, &count);

	if (err)
		return err;
	for (uint32_t i = 0; i < count; i++) {
		err = next_entry(img, &pos, out);
		if (err)
			return err;
		if (out->name_len == len && !memcmp(out->name, name, len))
			return 0;
	}
	return -ENODATA;
}

ssize_t xipfs_xattr_list(const struct xipfs_image *img,
			 const struct xipfs_ino *ino, char *buf, size_t size)
{
	struct xipfs_xattr x;
	uint64_t pos;
	uint32_t count;
	size_t need = 0;
	int err = set_start(img, ino, &pos, &count);

	if (err)
		return err;
	for (uint32_t i = 0; i < count; i++) {
		err = next_entry(img, &pos, &x);
		if (err)
			return err;
		if (size) {
			if (need + x.name_len + 1 > size)
				return -ERANGE;
			memcpy(buf + need, x.name, x.name_len);
			buf[need + x.name_len] = '\0';
		}
		need += x.name_len + 1;
	}
	return (ssize_t)need;
}
