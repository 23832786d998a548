// SPDX-License-Identifier: GPL-2.0-or-later
/* Pool commands: create, add, remove, gc; pool views for stat, list, fsck. */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "xipfs/xipfs.h"
#include "xipfs/segment.h"
#include "xipfs/pool.h"
#include "xipfsctl.h"

/* "64M", "1G", "4096": bytes, or 0 if not a size. */
static uint64_t parse_size(const char *s)
{
	static const char units[] = "kmgt";	/* 2^10, 2^20, 2^30, 2^40 */
	char *end;
	unsigned long long v = strtoull(s, &end, 10);
	const char *unit = *end ? strchr(units, tolower((unsigned char)*end)) : NULL;
	int shift = unit ? 10 * (int)(unit - units + 1) : 0;

	if (*end && !unit)
		return 0;
	if (*end && end[1] && strcmp(end + 1, "iB") && strcmp(end + 1, "B"))
		return 0;
	if (end == s || v > (UINT64_MAX >> shift))
		return 0;
	return (uint64_t)v << shift;
}

int cmd_create(int argc, char **argv)
{
	static const struct option lopts[] = {
		{ "size", required_argument, NULL, 's' },
		{ "page-size", required_argument, NULL, 'p' },
		{ NULL, 0, NULL, 0 }
	};
	uint64_t size = 0, psize = 4096;
	unsigned shift = 12;
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "s:p:", lopts, NULL)) != -1) {
		if (c == 's')
			size = parse_size(optarg);
		else if (c == 'p')
			psize = parse_size(optarg);
		else
			return 2;
	}
	if (argc - optind != 1 || !size) {
		fprintf(stderr, "Usage: xipfsctl create NAME --size SIZE[K|M|G] [--page-size 4096|16384|65536]\n");
		return 2;
	}
	while (shift < XIPFS_PAGE_SHIFT_MAX && (1ull << shift) < psize)
		shift++;
	if ((1ull << shift) != psize || !XIPFS_PAGE_SHIFT_OK(shift)) {
		fprintf(stderr, "xipfsctl: --page-size %" PRIu64 ": use 4096, 16384 or 65536\n", psize);
		return 2;
	}
	return xipfs_pool_create(argv[optind], size, shift) ? 1 : 0;
}

int cmd_add(int argc, char **argv)
{
	struct xipfs_pool_add_stats st;
	char label[XIPFS_POOL_LABEL_MAX + 2];
	const char *name, *image;

	if (argc != 3 && argc != 4) {
		fprintf(stderr, "Usage: xipfsctl add NAME IMAGE [LABEL]\n");
		return 2;
	}
	name = argv[1];
	image = argv[2];
	if (argc == 4) {
		snprintf(label, sizeof(label), "%s", argv[3]);
	} else {
		/* The file name without its directory and extension. */
		const char *b = strrchr(image, '/');
		char *dot;

		snprintf(label, sizeof(label), "%s", b ? b + 1 : image);
		dot = strrchr(label, '.');
		if (dot && dot != label)
			*dot = '\0';
	}
	if (xipfs_pool_add(name, image, label, &st))
		return 1;
	printf("%s/%s: version %u, %" PRIu64 " data pages, %" PRIu64 " new, %" PRIu64
	       " already in the pool, %" PRIu64 " metadata pages\n", name, label, st.version,
	       st.pages, st.new_pages, st.pages - st.new_pages, st.meta_pages);
	return 0;
}

int cmd_remove(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "Usage: xipfsctl remove NAME LABEL\n");
		return 2;
	}
	return xipfs_pool_remove(argv[1], argv[2]) ? 1 : 0;
}

int cmd_gc(int argc, char **argv)
{
	struct xipfs_pool_gc_stats st;
	unsigned flags = 0;

	if (argc == 3 && !strcmp(argv[1], "--guests-done")) {
		flags |= XIPFS_GC_GUESTS_DONE;
	} else if (argc != 2) {
		fprintf(stderr, "Usage: xipfsctl gc [--guests-done] NAME\n");
		return 2;
	}
	if (xipfs_pool_gc(argv[argc - 1], flags, &st))
		return 1;
	printf("%s: %u retired images dropped, %" PRIu64 " pages freed", argv[argc - 1],
	       st.dropped, st.freed);
	if (st.held)
		printf("; %u kept: mounted on this host", st.held);
	if (st.kept_guests)
		printf("; %u kept: %d processes that are not xipfs map the pool (QEMU guests?) and the host cannot see what they use: when no guest uses them any more, run xipfsctl gc --guests-done %s",
		       st.kept_guests, st.guest_users, argv[argc - 1]);
	printf("\n");
	return 0;
}

struct pool_view {
	struct xipfs_segment *seg;
	struct xipfs_pool_info *pool;
	struct xipfs_pool_map *map;
};

static void view_close(struct pool_view *v)
{
	xipfs_pool_map_free(v->map);
	xipfs_pool_free(v->pool);
	xipfs_segment_close(v->seg);
}

static int view_open(struct xipfs_segment *seg, const char *name, unsigned flags,
		     struct pool_view *v)
{
	int err;

	memset(v, 0, sizeof(*v));
	v->seg = seg;
	err = xipfs_pool_read(xipfs_segment_base(seg), xipfs_segment_size(seg), name, &v->pool);
	if (!err)
		err = xipfs_pool_map(xipfs_segment_base(seg), xipfs_segment_size(seg), v->pool,
				     name, NULL, flags, &v->map);
	return err;
}

/* Percentage of the pool's pages handed out and named by something. */
static double fill(const struct pool_view *v)
{
	uint64_t total = v->pool->size >> v->pool->page_shift;

	return total ? 100.0 * (double)(v->map->pages - v->map->free) / (double)total : 0;
}

int pool_list_counts(struct xipfs_segment *seg, const char *name, unsigned int *live,
		     unsigned int *images, double *pct)
{
	struct pool_view v;
	int err = view_open(seg, name, XIPFS_OPEN_NOCRC, &v);

	if (!err) {
		*live = 0;
		for (uint32_t i = 0; i < v.pool->count; i++)
			*live += !!(v.pool->labels[i].flags & XIPFS_POOL_LIVE);
		*images = v.pool->count;
		*pct = fill(&v);
	}
	v.seg = NULL;
	view_close(&v);
	return err;
}

/* A process on this host uses the image (a mount, a reader): gc keeps it. */
static bool held(struct xipfs_segment *seg, const struct xipfs_pool_label *l)
{
	return xipfs_pool_held(xipfs_segment_fd(seg), l->super) > 0;
}

int pool_stat(struct xipfs_segment *seg, const char *name, const char *path, int users,
	      bool json)
{
	uint64_t psize, total, sum = 0, saved = 0;
	struct pool_view v;
	struct xipfs_mapped mapped;
	char uuid[XIPFS_UUID_STR_LEN + 1];
	int err = view_open(seg, name, 0, &v), mapped_err = xipfs_segment_mapped(seg, &mapped);

	if (err) {
		v.seg = NULL;
		view_close(&v);
		return err;
	}
	psize = 1ull << v.pool->page_shift;
	total = v.pool->size / psize;
	for (uint32_t i = 0; i < v.pool->count; i++) {
		sum += v.map->use[i].pages;
		saved += v.map->use[i].saved;
	}
	xipfs_uuid_format(v.pool->uuid, uuid);
	if (json) {
		/*
		 * Names and labels are [A-Za-z0-9_.-] (xipfs_segment_name_ok()),
		 * the path is the name's under XIPFS_SEGMENT_DIR: nothing to escape.
		 */
		printf("{\"name\": \"%s\", \"path\": \"%s\", \"uuid\": \"%s\", \"pool\": true"
		       ", \"page_size\": %" PRIu64
		       ", \"segment_size\": %" PRIu64 ", \"pages\": %" PRIu64
		       ", \"generation\": %" PRIu64 ", \"users\": %d"
		       ", \"data_pages\": %" PRIu64 ", \"metadata_pages\": %" PRIu64
		       ", \"directory_pages\": %" PRIu64 ", \"free_pages\": %" PRIu64
		       ", \"unused_pages\": %" PRIu64 ", \"image_pages\": %" PRIu64
		       ", \"saved_bytes\": %" PRIu64 ", \"fill\": %.2f, \"images\": [",
		       name, path, uuid, psize, v.pool->size, total, v.pool->generation, users,
		       v.map->data, v.map->meta, v.map->dir,
		       v.map->free + total - v.map->pages, v.map->unused, sum, saved, fill(&v));
		for (uint32_t i = 0; i < v.pool->count; i++) {
			const struct xipfs_pool_label *l = &v.pool->labels[i];
			const struct xipfs_pool_usage *u = &v.map->use[i];

			printf("%s{\"label\": \"%s\", \"version\": %u, \"live\": %s, \"held\": %s"
			       ", \"super\": %" PRIu64
			       ", \"added\": %" PRIu64 ", \"files\": %" PRIu64 ", \"pages\": %" PRIu64
			       ", \"shared\": %" PRIu64 ", \"saved_bytes\": %" PRIu64
			       ", \"metadata_pages\": %" PRIu64 "}", i ? ", " : "", l->label,
			       l->version, l->flags & XIPFS_POOL_LIVE ? "true" : "false",
			       held(seg, l) ? "true" : "false", l->super,
			       l->time, u->files, u->pages, u->shared, u->saved, u->meta_pages);
		}
		printf("]");
		mapped_print(mapped_err, &mapped, true);
		printf("}\n");
	} else {
		printf("name=%s\npath=%s\nuuid=%s\npool=yes\npage_size=%" PRIu64
		       "\nsegment_size=%" PRIu64 "\nusers=%d\ngeneration=%" PRIu64 "\n",
		       name, path, uuid, psize, v.pool->size, users, v.pool->generation);
		printf("pages=%" PRIu64 "\ndata_pages=%" PRIu64 "\nmetadata_pages=%" PRIu64
		       "\ndirectory_pages=%" PRIu64 "\nfree_pages=%" PRIu64 "\nunused_pages=%" PRIu64
		       "\nimage_pages=%" PRIu64 "\nsaved_bytes=%" PRIu64 "\nfill=%.1f%%\n",
		       total, v.map->data, v.map->meta, v.map->dir,
		       v.map->free + total - v.map->pages, v.map->unused, sum, saved, fill(&v));
		mapped_print(mapped_err, &mapped, false);
		printf("%-20s %4s %-7s %9s %9s %9s %12s %4s\n", "LABEL", "VER", "STATE", "FILES",
		       "PAGES", "SHARED", "SAVED", "HELD");
		for (uint32_t i = 0; i < v.pool->count; i++) {
			const struct xipfs_pool_label *l = &v.pool->labels[i];
			const struct xipfs_pool_usage *u = &v.map->use[i];

			printf("%-20s %4u %-7s %9" PRIu64 " %9" PRIu64 " %9" PRIu64 " %12" PRIu64
			       " %4s\n", l->label, l->version,
			       l->flags & XIPFS_POOL_LIVE ? "live" : "retired",
			       u->files, u->pages, u->shared, u->saved, held(seg, l) ? "yes" : "no");
		}
	}
	err = v.map->errors ? -EUCLEAN : 0;
	v.seg = NULL;
	view_close(&v);
	return err;
}

int pool_fsck(struct xipfs_segment *seg, const char *name, unsigned flags, bool quiet)
{
	const void *base = xipfs_segment_base(seg);
	size_t size = xipfs_segment_size(seg);
	uint64_t errors = 0, inodes = 0;
	struct pool_view v;
	int err = view_open(seg, name, XIPFS_OPEN_NOCRC, &v);

	v.seg = NULL;
	if (err) {
		view_close(&v);
		return err == -ENOMEM ? XIPFS_FSCK_EX_ERROR : XIPFS_FSCK_EX_UNCORRECTED;
	}
	errors = v.map->errors;
	for (uint32_t i = 0; i < v.pool->count; i++) {
		struct xipfs_fsck_stats st = { 0 };
		struct xipfs_image *img;
		char what[256];

		snprintf(what, sizeof(what), "%s/%s (v%u)", name, v.pool->labels[i].label,
			 v.pool->labels[i].version);
		if (xipfs_open_mem_at(base, size, v.pool->labels[i].super, what, 0, &img)) {
			errors++;
			continue;
		}
		xipfs_fsck(img, flags & ~XIPFS_FSCK_DATA, &st);
		errors += st.errors;
		inodes += st.inodes;
		xipfs_close(img);
	}
	if (!quiet)
		printf("%s: pool of %u images (%" PRIu64 " inodes), %" PRIu64 " data pages, %" PRIu64
		       " metadata pages, %" PRIu64 " free, %" PRIu64 " unused, %" PRIu64 " errors\n",
		       name, v.pool->count, inodes, v.map->data, v.map->meta, v.map->free,
		       v.map->unused, errors);
	view_close(&v);
	return errors ? XIPFS_FSCK_EX_UNCORRECTED : XIPFS_FSCK_EX_OK;
}
