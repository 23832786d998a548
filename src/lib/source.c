// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Where an image lives, as the programs name it: "seg:NAME" (a loaded
 * segment), "ivshmem" or "ivshmem:UUID" (inside a guest, a segment the host
 * shares as an ivshmem-plain device), "pmem" or "pmem:UUID" (the same as a
 * virtio-pmem device), each ending in "/LABEL" for one image of a pool, anything
 * else an image file.  xipfsctl and the daemon parse and
 * open sources only through here, so they accept the same words.
 */
#include <errno.h>
#include <stddef.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "xipfs/xipfs.h"
#include "xipfs/segment.h"
#include "xipfs/pool.h"

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

/* "/LABEL" ending a segment source: one image of a pool. */
static int parse_label(const char *arg, const char *slash, struct xipfs_source *src)
{
	if (!slash)
		return 0;
	if (xipfs_label_ok(slash + 1)) {
		xipfs_log(XIPFS_LOG_ERR,
			  "%s: invalid label '%s' (1..%d of letters, digits, '_', '.', '-'; no leading '.')",
			  arg, slash + 1, XIPFS_POOL_LABEL_MAX);
		return -EINVAL;
	}
	snprintf(src->label, sizeof(src->label), "%s", slash + 1);
	return 0;
}

/* "seg:NAME" or "seg:NAME/LABEL". */
static int parse_segment(const char *arg, const char *rest, struct xipfs_source *src)
{
	const char *slash = strchr(rest, '/');
	char name[XIPFS_SEGMENT_NAME_MAX + 2];

	snprintf(name, sizeof(name), "%.*s", (int)(slash ? slash - rest : (ptrdiff_t)strlen(rest)),
		 rest);
	if ((slash && slash - rest > XIPFS_SEGMENT_NAME_MAX) || xipfs_segment_name_ok(name)) {
		xipfs_log(XIPFS_LOG_ERR,
			  "%s: invalid segment name '%s' (1..%d of letters, digits, '_', '.', '-'; no leading '.')",
			  arg, rest, XIPFS_SEGMENT_NAME_MAX);
		return -EINVAL;
	}
	src->kind = XIPFS_SOURCE_SEGMENT;
	memcpy(src->segment, name, strlen(name) + 1);	/* checked: fits */
	return parse_label(arg, slash, src);
}

static int parse_file(const char *arg, struct xipfs_source *src)
{
	if (!*arg) {
		xipfs_log(XIPFS_LOG_ERR, "empty image name");
		return -EINVAL;
	}
	src->kind = XIPFS_SOURCE_FILE;
	src->path = arg;
	return 0;
}

int xipfs_source_parse(const char *arg, struct xipfs_source *src)
{
	const char *what, *rest;
	uint8_t uuid[16];

	memset(src, 0, sizeof(*src));
	src->arg = arg;
	if (!strncmp(arg, "seg:", 4))
		return parse_segment(arg, arg + 4, src);
	/* The word alone, or followed by ':' or '/' (strchr() finds the NUL too). */
	if (!strncmp(arg, "pmem", 4) && strchr(":/", arg[4]))
		src->pmem = true;
	else if (strncmp(arg, "ivshmem", 7) || !strchr(":/", arg[7]))
		return parse_file(arg, src);
	/* "ivshmem" or "pmem", then [:UUID] and [/LABEL] */
	what = src->pmem ? "pmem" : "ivshmem";
	rest = arg + strlen(what);
	src->kind = XIPFS_SOURCE_IVSHMEM;
	if (*rest == ':') {
		const char *slash = strchr(arg, '/');
		char u[XIPFS_UUID_STR_LEN + 2];

		rest++;
		snprintf(u, sizeof(u), "%.*s",
			 (int)(slash ? slash - rest : (ptrdiff_t)strlen(rest)), rest);
		if ((slash && slash - rest > XIPFS_UUID_STR_LEN) || xipfs_uuid_parse(u, uuid)) {
			xipfs_log(XIPFS_LOG_ERR,
				  "%s: not a UUID (expected %s:xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)",
				  arg, what);
			return -EINVAL;
		}
		xipfs_uuid_format(uuid, src->uuid);
	}
	return parse_label(arg, strchr(arg, '/'), src);
}

int xipfs_source_segment(const struct xipfs_source *src, unsigned flags,
			 struct xipfs_segment **seg)
{
	*seg = NULL;
	switch (src->kind) {
	case XIPFS_SOURCE_FILE:
		if (!(flags & XIPFS_OPEN_COPY))
			return 1;
		return xipfs_segment_memfd(src->path, seg);
	case XIPFS_SOURCE_SEGMENT:
		return xipfs_segment_open(src->segment, seg);
	case XIPFS_SOURCE_IVSHMEM:
		return src->pmem ? xipfs_segment_pmem(src->uuid, seg) :
				   xipfs_segment_ivshmem(src->uuid, seg);
	}
	return -EINVAL;
}

int xipfs_source_open(const struct xipfs_source *src, unsigned flags,
		      struct xipfs_segment **seg, struct xipfs_image **img)
{
	unsigned oflags = flags & XIPFS_OPEN_NOCRC;
	int err;

	*img = NULL;
	err = xipfs_source_segment(src, flags, seg);
	if (err == 1)
		return xipfs_open_file(src->path, oflags, img);
	if (err)
		return err;
	/*
	 * A segment is checked exactly like an image file; in a pool, the
	 * image the label names (held on the host: see xipfs_pool_hold()).
	 */
	err = xipfs_segment_image(*seg, src->arg, src->label[0] ? src->label : NULL, oflags, img);
	if (err) {
		xipfs_segment_close(*seg);
		*seg = NULL;
	}
	return err;
}
