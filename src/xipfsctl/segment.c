// SPDX-License-Identifier: GPL-2.0-or-later
/* Segment commands: load, list, stat, unload. */
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
#include "xipfsctl.h"

/*
 * Processes using a segment: those mapping it or holding it open, found
 * through /proc (an xipfs daemon keeps both).  Matched by device and inode,
 * so a replaced segment's old users are not counted for the new one.
 */
static int count_users(const struct stat *seg)
{
	DIR *proc = opendir("/proc");
	struct dirent *de;
	int users = 0;

	if (!proc)
		return -1;
	while ((de = readdir(proc))) {
		char path[PATH_MAX];
		struct stat s;
		DIR *fds;
		struct dirent *fe;
		int found = 0;

		if (de->d_name[0] < '1' || de->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/map_files", de->d_name);
		for (int pass = 0; pass < 2 && !found; pass++) {
			if (pass)
				snprintf(path, sizeof(path), "/proc/%s/fd", de->d_name);
			fds = opendir(path);
			if (!fds)
				continue;
			while (!found && (fe = readdir(fds))) {
				char p[PATH_MAX + NAME_MAX + 2];

				if (fe->d_name[0] == '.')
					continue;
				snprintf(p, sizeof(p), "%s/%s", path, fe->d_name);
				if (stat(p, &s) == 0 && s.st_dev == seg->st_dev &&
				    s.st_ino == seg->st_ino)
					found = 1;
			}
			closedir(fds);
		}
		users += found;
	}
	closedir(proc);
	return users;
}

static int show(const char *name, bool header)
{
	struct xipfs_segment *seg;
	struct xipfs_image *img;
	struct stat s;
	char path[PATH_MAX], uuid[XIPFS_UUID_STR_LEN + 1];
	int err;

	err = xipfs_segment_open(name, &seg);
	if (err)
		return err;
	xipfs_segment_path(name, path, sizeof(path));
	err = xipfs_open_mem(xipfs_segment_base(seg), xipfs_segment_size(seg), path, 0, &img);
	if (err) {
		xipfs_segment_close(seg);
		return err;
	}
	fstat(xipfs_segment_fd(seg), &s);
	xipfs_uuid_format(xipfs_super(img)->s_uuid, uuid);
	size_t isize = xipfs_image_size(img);

	xipfs_close(img);
	xipfs_segment_close(seg);
	/* Our own mapping is gone now: only the others are counted. */
	if (header)
		printf("name=%s\npath=%s\nuuid=%s\nimage_size=%zu\nsegment_size=%lld\nusers=%d\n",
		       name, path, uuid, isize, (long long)s.st_size, count_users(&s));
	else
		printf("%-20s %s %12lld %5d\n", name, uuid, (long long)s.st_size,
		       count_users(&s));
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
		fprintf(stderr, "Usage: xipfsctl load [--hugetlb DIR] [--verify] [--digest sha256:ROOT] IMAGE NAME\n");
		return 2;
	}
	return xipfs_segment_load_opts(argv[optind], argv[optind + 1], &o) ? 1 : 0;
}

int cmd_list(int argc, char **argv)
{
	DIR *d = opendir(XIPFS_SEGMENT_DIR);
	struct dirent *de;
	size_t pl = strlen(XIPFS_SEGMENT_PREFIX);

	if (argc != 1) {
		fprintf(stderr, "Usage: xipfsctl list\n");
		return 2;
	}
	if (!d) {
		fprintf(stderr, "xipfsctl: %s: %s\n", XIPFS_SEGMENT_DIR, strerror(errno));
		return 1;
	}
	printf("%-20s %-36s %12s %5s\n", "NAME", "UUID", "SIZE", "USERS");
	while ((de = readdir(d)))
		if (!strncmp(de->d_name, XIPFS_SEGMENT_PREFIX, pl))
			show(de->d_name + pl, false);
	closedir(d);
	return 0;
}

int cmd_stat(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "Usage: xipfsctl stat NAME\n");
		return 2;
	}
	return show(argv[1], true) ? 1 : 0;
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
	users = count_users(&s);
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
