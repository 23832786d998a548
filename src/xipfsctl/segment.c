// SPDX-License-Identifier: GPL-2.0-or-later
/* Segment commands: load, list, stat, unload (pools: pool.c). */
#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "xipfs/xipfs.h"
#include "xipfs/segment.h"
#include "xipfs/pool.h"
#include "xipfsctl.h"

enum show_mode { SHOW_STAT, SHOW_LINE, SHOW_JSON_STAT, SHOW_JSON_LINE };

void mapped_print(int err, const struct xipfs_mapped *m, bool json)
{
	if (err && json) {
		printf(", \"mapped\": null");
	} else if (err) {
		printf("mapped=%s\n", err == -ENODEV ? "unknown (xipmap not loaded)" :
		       strerror(-err));
	} else if (json) {
		printf(", \"mapped\": {\"files\": %" PRIu64 ", \"mappings\": %" PRIu64
		       ", \"processes\": %" PRIu64 ", \"pages\": %" PRIu64 ", \"ptes\": %" PRIu64
		       ", \"private\": %" PRIu64 "}", m->files, m->mappings, m->processes,
		       m->pages, m->ptes, m->private_ptes);
	} else {
		printf("mapped_files=%" PRIu64 "\nmapped_mappings=%" PRIu64
		       "\nmapped_processes=%" PRIu64 "\nmapped_pages=%" PRIu64
		       "\nmapped_ptes=%" PRIu64 "\nmapped_private=%" PRIu64 "\n", m->files,
		       m->mappings, m->processes, m->pages, m->ptes, m->private_ptes);
	}
}

/* show() of a pool segment @seg (closed here), its file's stat in @s. */
static int show_pool(struct xipfs_segment *seg, const char *name, const char *path,
		     const struct stat *s, enum show_mode mode, bool first)
{
	char uuid[XIPFS_UUID_STR_LEN + 1];
	bool json = mode == SHOW_JSON_STAT || mode == SHOW_JSON_LINE;
	unsigned int live, images;
	double pct;
	int err, users;

	xipfs_uuid_format(((const struct xipfs_super *)xipfs_segment_base(seg))->s_uuid, uuid);
	if (mode == SHOW_STAT || mode == SHOW_JSON_STAT) {
		/* Users are counted with our mapping: one less. */
		users = xipfs_segment_users(s, false) - 1;
		err = pool_stat(seg, name, path, users, json);
		xipfs_segment_close(seg);
		return err;
	}
	err = pool_list_counts(seg, name, &live, &images, &pct);
	xipfs_segment_close(seg);
	if (err)
		return err;
	users = xipfs_segment_users(s, false);
	if (json)
		printf("%s{\"name\": \"%s\", \"uuid\": \"%s\", \"size\": %lld, \"users\": %d, \"pool\": true, \"images\": %u, \"retired\": %u, \"fill\": %.1f}",
		       first ? "" : ", ", name, uuid, (long long)s->st_size, users,
		       live, images - live, pct);
	else
		printf("%-20s %s %12lld %5d %6u %5.1f%%\n", name, uuid,
		       (long long)s->st_size, users, live, pct);
	return 0;
}

static int show(const char *name, enum show_mode mode, bool first)
{
	struct xipfs_segment *seg;
	struct xipfs_image *img;
	struct xipfs_mapped mapped;
	struct stat s;
	char path[PATH_MAX], uuid[XIPFS_UUID_STR_LEN + 1];
	size_t isize;
	int err, users, mapped_err = 0;

	err = xipfs_segment_open(name, &seg);
	if (err)
		return err;
	xipfs_segment_path(name, path, sizeof(path));
	fstat(xipfs_segment_fd(seg), &s);
	if (xipfs_is_pool(xipfs_segment_base(seg), xipfs_segment_size(seg)))
		return show_pool(seg, name, path, &s, mode, first);
	err = xipfs_open_mem(xipfs_segment_base(seg), xipfs_segment_size(seg), path, 0, &img);
	if (err) {
		xipfs_segment_close(seg);
		return err;
	}
	xipfs_uuid_format(xipfs_super(img)->s_uuid, uuid);
	isize = xipfs_image_size(img);
	xipfs_close(img);
	if (mode == SHOW_STAT || mode == SHOW_JSON_STAT)
		mapped_err = xipfs_segment_mapped(seg, &mapped);
	xipfs_segment_close(seg);
	/* Our own mapping is gone now: only the others are counted. */
	users = xipfs_segment_users(&s, false);
	switch (mode) {
	case SHOW_STAT:
		printf("name=%s\npath=%s\nuuid=%s\nimage_size=%zu\nsegment_size=%lld\nusers=%d\n",
		       name, path, uuid, isize, (long long)s.st_size, users);
		mapped_print(mapped_err, &mapped, false);
		break;
	case SHOW_LINE:
		printf("%-20s %s %12lld %5d %6d %5.1f%%\n", name, uuid, (long long)s.st_size,
		       users, 1, 100.0 * (double)isize / (double)s.st_size);
		break;
	case SHOW_JSON_STAT:
	case SHOW_JSON_LINE:
		printf("%s{\"name\": \"%s\", \"path\": \"%s\", \"uuid\": \"%s\", \"pool\": false, \"image_size\": %zu, \"size\": %lld, \"users\": %d, \"images\": 1, \"fill\": %.1f",
		       first ? "" : ", ", name, path, uuid, isize, (long long)s.st_size, users,
		       100.0 * (double)isize / (double)s.st_size);
		if (mode == SHOW_JSON_STAT)
			mapped_print(mapped_err, &mapped, true);
		printf("}%s", mode == SHOW_JSON_STAT ? "\n" : "");
		break;
	}
	return 0;
}

int cmd_load(int argc, char **argv)
{
	static const struct option lopts[] = {
		{ "hugetlb", required_argument, NULL, 'H' },
		{ "digest", required_argument, NULL, 'd' },
		{ "verify", no_argument, NULL, 'v' },
		{ NULL, 0, NULL, 0 }
	};
	struct xipfs_load_opts o = { 0 };
	uint8_t digest[32];
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "H:d:v", lopts, NULL)) != -1) {
		switch (c) {
		case 'H':
			o.hugetlb_dir = optarg;
			break;
		case 'd':
			if (digest_arg(optarg, digest))
				return 2;
			o.digest = digest;
			break;
		case 'v':
			o.verify = 1;
			break;
		default:
			return 2;
		}
	}
	if (argc - optind != 2) {
		fprintf(stderr, "Usage: xipfsctl load [--hugetlb DIR] [--verify] [--digest sha256:ROOT] IMAGE|oci:DIR[:TAG] NAME\n");
		return 2;
	}
	if (!strncmp(argv[optind], "oci:", 4))
		return oci_load(argv[optind], argv[optind + 1], &o) ? 1 : 0;
	return xipfs_segment_load_opts(argv[optind], argv[optind + 1], &o) ? 1 : 0;
}

int cmd_list(int argc, char **argv)
{
	bool json = argc == 2 && !strcmp(argv[1], "--json"), first = true;
	size_t pl = strlen(XIPFS_SEGMENT_PREFIX);
	struct dirent *de;
	DIR *d;

	if (argc != 1 && !json) {
		fprintf(stderr, "Usage: xipfsctl list [--json]\n");
		return 2;
	}
	d = opendir(XIPFS_SEGMENT_DIR);
	if (!d) {
		fprintf(stderr, "xipfsctl: %s: %s\n", XIPFS_SEGMENT_DIR, strerror(errno));
		return 1;
	}
	if (json)
		printf("[");
	else
		printf("%-20s %-36s %12s %5s %6s %6s\n", "NAME", "UUID", "SIZE", "USERS", "IMAGES",
		       "FILL");
	while ((de = readdir(d)))
		if (!strncmp(de->d_name, XIPFS_SEGMENT_PREFIX, pl) &&
		    !show(de->d_name + pl, json ? SHOW_JSON_LINE : SHOW_LINE, first))
			first = false;
	if (json)
		printf("]\n");
	closedir(d);
	return 0;
}

int cmd_stat(int argc, char **argv)
{
	bool json = argc == 3 && !strcmp(argv[1], "--json");

	if (argc != 2 && !json) {
		fprintf(stderr, "Usage: xipfsctl stat [--json] NAME\n");
		return 2;
	}
	return show(argv[argc - 1], json ? SHOW_JSON_STAT : SHOW_STAT, true) ? 1 : 0;
}

int cmd_unload(int argc, char **argv)
{
	struct xipfs_segment *seg;
	struct stat s;
	bool force = false;
	const char *name;
	int users, err;

	if (argc == 3 && !strcmp(argv[1], "--force"))
		force = true;
	else if (argc != 2) {
		fprintf(stderr, "Usage: xipfsctl unload [--force] NAME\n");
		return 2;
	}
	name = argv[argc - 1];
	err = xipfs_segment_open(name, &seg);
	if (err)
		return 1;
	fstat(xipfs_segment_fd(seg), &s);
	xipfs_segment_close(seg);
	users = xipfs_segment_users(&s, false);
	if (users > 0 && !force) {
		fprintf(stderr, "xipfsctl: segment %s is in use by %d process%s; unmount it first or use --force\n",
			name, users, users == 1 ? "" : "es");
		return 1;
	}
	err = xipfs_segment_unload(name);
	if (err) {
		fprintf(stderr, "xipfsctl: segment %s: cannot remove: %s\n", name, strerror(-err));
		return 1;
	}
	return 0;
}
