// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Where an image lives, as the programs name it: "seg:NAME" (a loaded
 * segment), "ivshmem" or "ivshmem:UUID" (inside a guest, a segment the host
 * shares), anything else an image file.  xipfsctl and the daemon parse and
 * open sources only through here, so they accept the same words.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "xipfs/xipfs.h"
#include "xipfs/segment.h"

void xipfs_uuid_format(const uint8_t uuid[16], char out[XIPFS_UUID_STR_LEN + 1])
{
	static const char hex[] = "0123456789abcdef";
	char *p = out;

	for (int i = 0; i < 16; i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10)
			*p++ = '-';
		*p++ = hex[uuid[i] >> 4];
		*p++ = hex[uuid[i] & 15];
	}
	*p = '\0';
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int xipfs_uuid_parse(const char *str, uint8_t uuid[16])
{
	/* 8-4-4-4-12 with the dashes, or the 32 digits alone. */
	bool dashed = strlen(str) == XIPFS_UUID_STR_LEN;
	const char *p = str;

	if (!dashed && strlen(str) != 32)
		return -EINVAL;
	for (int i = 0; i < 16; i++) {
		int hi, lo;

		if (dashed && (i == 4 || i == 6 || i == 8 || i == 10) && *p++ != '-')
			return -EINVAL;
		hi = hexval(p[0]);
		lo = hi < 0 ? -1 : hexval(p[1]);
		if (lo < 0)
			return -EINVAL;
		uuid[i] = (uint8_t)(hi << 4 | lo);
		p += 2;
	}
	return 0;
}

/*
 * "seg:NAME".  Everything after "seg:" is the name for now; a '/' in it is
 * refused by the name check, which leaves "seg:NAME/SUFFIX" free for later.
 */
static int parse_segment(const char *arg, const char *rest, struct xipfs_source *src)
{
	if (xipfs_segment_name_ok(rest)) {
		xipfs_log(XIPFS_LOG_ERR,
			  "%s: invalid segment name '%s' (1..%d of letters, digits, '_', '.', '-'; no leading '.')",
			  arg, rest, XIPFS_SEGMENT_NAME_MAX);
		return -EINVAL;
	}
	src->kind = XIPFS_SOURCE_SEGMENT;
	snprintf(src->segment, sizeof(src->segment), "%s", rest);
	return 0;
}

int xipfs_source_parse(const char *arg, struct xipfs_source *src)
{
	uint8_t uuid[16];

	memset(src, 0, sizeof(*src));
	src->arg = arg;
	if (!strncmp(arg, "seg:", 4))
		return parse_segment(arg, arg + 4, src);
	if (!strcmp(arg, "ivshmem")) {
		src->kind = XIPFS_SOURCE_IVSHMEM;
		return 0;
	}
	if (!strncmp(arg, "ivshmem:", 8)) {
		if (xipfs_uuid_parse(arg + 8, uuid)) {
			xipfs_log(XIPFS_LOG_ERR,
				  "%s: not a UUID (expected ivshmem:xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)",
				  arg);
			return -EINVAL;
		}
		src->kind = XIPFS_SOURCE_IVSHMEM;
		xipfs_uuid_format(uuid, src->uuid);
		return 0;
	}
	if (!*arg) {
		xipfs_log(XIPFS_LOG_ERR, "empty image name");
		return -EINVAL;
	}
	src->kind = XIPFS_SOURCE_FILE;
	src->path = arg;
	return 0;
}

int xipfs_source_open(const struct xipfs_source *src, unsigned flags,
		      struct xipfs_segment **seg, struct xipfs_image **img)
{
	unsigned oflags = flags & XIPFS_OPEN_NOCRC;
	int err;

	*seg = NULL;
	*img = NULL;
	switch (src->kind) {
	case XIPFS_SOURCE_FILE:
		if (!(flags & XIPFS_OPEN_COPY))
			return xipfs_open_file(src->path, oflags, img);
		err = xipfs_segment_memfd(src->path, seg);
		break;
	case XIPFS_SOURCE_SEGMENT:
		err = xipfs_segment_open(src->segment, seg);
		break;
	case XIPFS_SOURCE_IVSHMEM:
		err = xipfs_segment_ivshmem(src->uuid, seg);
		break;
	default:
		return -EINVAL;
	}
	if (err)
		return err;
	/* A segment is checked exactly like an image file. */
	err = xipfs_open_mem(xipfs_segment_base(*seg), xipfs_segment_size(*seg),
			     src->arg, oflags, img);
	if (err) {
		xipfs_segment_close(*seg);
		*seg = NULL;
	}
	return err;
}
