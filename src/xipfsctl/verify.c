// SPDX-License-Identifier: GPL-2.0-or-later
/* xipfsctl verify: check an image or a segment against its Merkle tree. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "xipfs/xipfs.h"
#include "xipfs/segment.h"
#include "xipfsctl.h"

/*
 * The raw bytes of IMAGE, seg:NAME or ivshmem[:UUID], without validating
 * them: a damaged image must still be verifiable, page by page.
 */
static int map_raw(const char *arg, const void **base, size_t *size,
		   struct xipfs_segment **seg, void **map)
{
	struct stat st;
	int fd, err = 0;

	struct xipfs_source src;

	*seg = NULL;
	*map = NULL;
	err = xipfs_source_parse(arg, &src);
	if (err)
		return err;
	if (src.kind != XIPFS_SOURCE_FILE) {
		err = xipfs_source_segment(&src, 0, seg);
		if (err)
			return err;
		*base = xipfs_segment_base(*seg);
		*size = xipfs_segment_size(*seg);
		return 0;
	}
	arg = src.path;
	fd = open(arg, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0) {
		err = -errno;
		fprintf(stderr, "xipfsctl: %s: %s\n", arg, strerror(errno));
		goto out;
	}
	if (!st.st_size) {
		fprintf(stderr, "xipfsctl: %s: empty file, not an xipfs image\n", arg);
		err = -EINVAL;
		goto out;
	}
	*map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
	if (*map == MAP_FAILED) {
		*map = NULL;
		err = -errno;
		fprintf(stderr, "xipfsctl: %s: cannot map: %s\n", arg, strerror(errno));
		goto out;
	}
	*base = *map;
	*size = (size_t)st.st_size;
out:
	if (fd >= 0)
		close(fd);
	return err;
}

int digest_arg(const char *arg, uint8_t out[32])
{
	if (!xipfs_digest_parse(arg, out))
		return 0;
	fprintf(stderr, "xipfsctl: --digest %s: expected sha256: and 64 lower-case hex digits\n", arg);
	return -1;
}

static double now_s(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

int cmd_verify(int argc, char **argv)
{
	static const struct option lopts[] = {
		{ "digest", required_argument, NULL, 'd' },
		{ "quiet", no_argument, NULL, 'q' },
		{ NULL, 0, NULL, 0 }
	};
	uint8_t want[32];
	const uint8_t *expect = NULL;
	struct xipfs_verify_stats st;
	struct xipfs_segment *seg;
	char digest[XIPFS_DIGEST_STR_LEN];
	const void *base = NULL;
	void *map;
	size_t size = 0;
	bool quiet = false;
	double t0;
	int c, err;

	optind = 1;
	while ((c = getopt_long(argc, argv, "d:q", lopts, NULL)) != -1) {
		switch (c) {
		case 'd':
			if (digest_arg(optarg, want))
				return 2;
			expect = want;
			break;
		case 'q':
			quiet = true;
			break;
		default:
			return 2;
		}
	}
	if (argc - optind != 1) {
		fprintf(stderr, "Usage: xipfsctl verify [--digest sha256:ROOT] [-q] IMAGE|seg:NAME\n");
		return 2;
	}
	if (map_raw(argv[optind], &base, &size, &seg, &map))
		return 1;
	t0 = now_s();
	err = xipfs_verify_mem(base, size, argv[optind], expect, &st);
	t0 = now_s() - t0;
	if (!err && !quiet) {
		xipfs_digest_format(st.root, digest);
		printf("%s: %s verified: %llu pages in %.3f s (%.0f MB/s)\n", argv[optind],
		       digest, (unsigned long long)st.pages, t0,
		       (double)size / 1e6 / (t0 > 0 ? t0 : 1e-9));
	} else if (err == -EUCLEAN) {
		fprintf(stderr, "xipfsctl: %s: damaged: %llu bad pages, %llu bad tree pages, %llu unchecked\n",
			argv[optind], (unsigned long long)st.bad_pages,
			(unsigned long long)st.bad_tree_pages,
			(unsigned long long)st.unchecked_pages);
	}
	if (map)
		munmap(map, size);
	xipfs_segment_close(seg);
	return err ? 1 : 0;
}
