// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * mkxipfs: build an xipfs image from a directory or a tar archive.
 *
 * Data pages are written as the tree is read (page 1 onwards), then the
 * metadata area, then the superblock into page 0.  Everything goes to a
 * temporary file next to IMAGE that is renamed into place only when
 * complete; any failure removes it.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <libgen.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "xipfs/xipfs.h"
#include "xipfs/xalloc.h"
#include "mkxipfs.h"

static const char progname[] = "mkxipfs";
/* The temporary image, for the signal handler to remove. */
static char *tmp_path;

static void on_signal(int sig)
{
	if (tmp_path)
		unlink(tmp_path);
	signal(sig, SIG_DFL);
	raise(sig);
}

static void usage(FILE *f)
{
	fprintf(f,
"Usage: %s [OPTIONS] SOURCE IMAGE\n"
"Build an xipfs execute-in-place image from SOURCE, a directory, a tar\n"
"archive (plain, gzip, bzip2, xz, zstd), '-' for a tar on standard input,\n"
"or a container image: oci:DIR[:TAG] (an OCI image layout) or\n"
"docker-archive:FILE (docker save).\n"
"\n"
"  -a, --all-root          store every file as owned by root (uid/gid 0)\n"
"      --uid-offset=N      add N to every uid\n"
"      --gid-offset=N      add N to every gid\n"
"      --force-uid=N       store every file with uid N\n"
"      --force-gid=N       store every file with gid N\n"
"  -x, --exclude=PATTERN   leave out paths (relative to SOURCE) matching the\n"
"                          fnmatch(3) PATTERN; repeatable\n"
"  -T, --timestamp=SECS    clamp every time to SECS and use it as build time\n"
"                          (default: $SOURCE_DATE_EPOCH when set)\n"
"  -U, --uuid=UUID         image UUID (default: random, or derived from the\n"
"                          content when a timestamp is given)\n"
"      --no-dedupe         store every page, even repeated ones\n"
"      --no-merkle         leave out the SHA-256 Merkle tree (xipfsctl verify)\n"
"      --platform=OS/ARCH  the manifest of a multi-platform image to take\n"
"                          (default: this host's)\n"
"      --io=uring|read     read input files ahead through io_uring (default;\n"
"                          falls back to read(2) where io_uring is off)\n"
"  -b, --page-size=BYTES   4096 (default), 16384 or 65536\n"
"  -q, --quiet             print errors only\n"
"  -v, --verbose           print each step\n"
"  -h, --help              show this help\n"
"  -V, --version           show the version\n", progname);
}

static int parse_num(const char *s, const char *what, int64_t *out)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(s, &end, 0);
	if (errno || end == s || *end) {
		fprintf(stderr, "%s: invalid %s '%s'\n", progname, what, s);
		return -1;
	}
	*out = v;
	return 0;
}

/* ---- main --------------------------------------------------------------- */

/* Option @c into @o: -1 to go on, else the exit code. */
static int parse_opt(int c, struct opts *o)
{
	int64_t v;

	switch (c) {
	case 'a':
		o->all_root = true;
		break;
	case 1:
		return parse_num(optarg, "uid offset", &o->uid_offset) ? 2 : -1;
	case 2:
		return parse_num(optarg, "gid offset", &o->gid_offset) ? 2 : -1;
	case 3:
	case 4:
		if (parse_num(optarg, "id", &v) || v < 0 || v > UINT32_MAX) {
			fprintf(stderr, "%s: ids are 0..4294967295\n", progname);
			return 2;
		}
		*(c == 3 ? &o->force_uid : &o->force_gid) = v;
		break;
	case 5:
		o->dedupe = false;
		break;
	case 7:
		o->merkle = false;
		break;
	case 8:
		o->platform = optarg;
		break;
	case 'x':
		o->excludes = xreallocarray(o->excludes, o->nexcludes + 1, sizeof(char *));
		o->excludes[o->nexcludes++] = optarg;
		break;
	case 'T':
		if (parse_num(optarg, "timestamp", &o->timestamp))
			return 2;
		o->have_timestamp = true;
		break;
	case 'U':
		if (xipfs_uuid_parse(optarg, o->uuid)) {
			fprintf(stderr, "%s: invalid UUID '%s'\n", progname, optarg);
			return 2;
		}
		o->have_uuid = true;
		break;
	case 'b':
		if (parse_num(optarg, "page size", &v) || !v || v & (v - 1) ||
		    !XIPFS_PAGE_SHIFT_OK(__builtin_ctzll((unsigned long long)v))) {
			fprintf(stderr, "%s: page size must be 4096, 16384 or 65536\n", progname);
			return 2;
		}
		o->page_shift = (unsigned)__builtin_ctzll((unsigned long long)v);
		break;
	case 6:
		if (strcmp(optarg, "uring") && strcmp(optarg, "read")) {
			fprintf(stderr, "%s: --io=%s: expected uring or read\n", progname, optarg);
			return 2;
		}
		o->io_uring = !strcmp(optarg, "uring");
		break;
	case 'q':
		o->quiet = true;
		break;
	case 'v':
		o->verbose = true;
		break;
	case 'h':
		usage(stdout);
		return 0;
	case 'V':
		printf("mkxipfs (xipfs) %s\n", PACKAGE_VERSION);
		return 0;
	default:
		usage(stderr);
		return 2;
	}
	return -1;
}

static bool is_dir(const char *src)
{
	struct stat s;

	return strcmp(src, "-") && stat(src, &s) == 0 && S_ISDIR(s.st_mode);
}

static double now_s(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

/* Options into @o, SOURCE and IMAGE into @src, @image: -1 to go on, else an exit code. */
static int parse_args(int argc, char **argv, struct opts *o, const char **src,
		      const char **image)
{
	static const struct option lopts[] = {
		{ "all-root", no_argument, NULL, 'a' },
		{ "uid-offset", required_argument, NULL, 1 },
		{ "gid-offset", required_argument, NULL, 2 },
		{ "force-uid", required_argument, NULL, 3 },
		{ "force-gid", required_argument, NULL, 4 },
		{ "no-dedupe", no_argument, NULL, 5 },
		{ "io", required_argument, NULL, 6 },
		{ "no-merkle", no_argument, NULL, 7 },
		{ "platform", required_argument, NULL, 8 },
		{ "exclude", required_argument, NULL, 'x' },
		{ "timestamp", required_argument, NULL, 'T' },
		{ "uuid", required_argument, NULL, 'U' },
		{ "page-size", required_argument, NULL, 'b' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 }
	};
	const char *sde;
	int c;

	/* 0, not 1: glibc rescans from scratch, so main() may run twice in a process. */
	optind = 0;
	while ((c = getopt_long(argc, argv, "ax:T:U:b:qvhV", lopts, NULL)) != -1) {
		int rc = parse_opt(c, o);

		if (rc >= 0)
			return rc;
	}
	if (argc - optind != 2) {
		usage(stderr);
		return 2;
	}
	*src = argv[optind];
	*image = argv[optind + 1];
	sde = getenv("SOURCE_DATE_EPOCH");
	if (!o->have_timestamp && sde && *sde) {
		if (parse_num(sde, "SOURCE_DATE_EPOCH", &o->timestamp))
			return 2;
		o->have_timestamp = true;
	}
	o->progress = !o->quiet && isatty(2);
	return -1;
}

/* Create the temporary image next to @image (tmp_path); its fd, or -1. */
static int open_output(const char *image)
{
	char *dirc = xstrdup(image);
	int fd;

	tmp_path = xasprintf("%s/.%s.XXXXXX", dirname(dirc), basename((char *)image));
	free(dirc);
	fd = mkstemp(tmp_path);
	if (fd < 0) {
		fprintf(stderr, "%s: %s: cannot create the image: %s\n", progname, image,
			strerror(errno));
		return -1;
	}
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGHUP, on_signal);
	return fd;
}

/* Read @src into the store and write the image to @fd; 0 or -1 (reported). */
static int build_image(struct build *b, struct opts *o, const char *src, const char *image,
		       int fd, uint64_t *meta_bytes, uint64_t *image_bytes)
{
	struct node *root;
	struct stat ts;
	int err;

	/* Never read the image being written, if it lies inside SOURCE. */
	if (fstat(fd, &ts) == 0) {
		o->skip_dev = ts.st_dev;
		o->skip_ino = ts.st_ino;
	}
	o->from_image = !strncmp(src, "oci:", 4) || !strncmp(src, "docker-archive:", 15);
	if (o->from_image)
		root = tree_from_image(b, src);
	else
		root = is_dir(src) ? tree_from_dir(b, src) : tree_from_tar(b, src);
	if (!root || b->failed) {
		tree_free(root);
		image_free();
		return -1;
	}
	progress_tick(b, true);
	err = store_flush(b->st);
	if (!err)
		err = finish_image(b, root, meta_bytes, image_bytes);
	if (!err && o->merkle)
		err = xipfs_merkle_append(fd, image_bytes);
	tree_free(root);
	image_free();
	if (!err && fsync(fd) < 0)
		err = -errno;
	if (!err && fchmod(fd, 0644) < 0)
		err = -errno;
	if (err)
		die_path(b, image, "cannot write the image: %s", strerror(-err));
	return b->failed ? -1 : 0;
}

static void print_summary(const struct store *st, const char *image, unsigned shift,
			  uint64_t meta_bytes, uint64_t image_bytes, double t0)
{
	uint64_t saved = st->dedup_pages;

	printf("%s: %s\n", progname, image);
	printf("  files            %llu (%llu bytes in)\n",
	       (unsigned long long)st->files, (unsigned long long)st->bytes);
	printf("  unique pages     %u of %llu file pages\n", st->next_page - 1,
	       (unsigned long long)st->file_pages);
	printf("  saved by dedupe  %llu pages (%llu bytes)\n",
	       (unsigned long long)saved, (unsigned long long)(saved << shift));
	printf("  holes            %llu pages\n", (unsigned long long)st->hole_pages);
	printf("  metadata         %llu bytes\n", (unsigned long long)meta_bytes);
	printf("  image size       %llu bytes\n", (unsigned long long)image_bytes);
	printf("  time             %.2f s\n", now_s() - t0);
}

int main(int argc, char **argv)
{
	struct opts o = { .page_shift = XIPFS_PAGE_SHIFT_DEFAULT, .dedupe = true, .io_uring = true,
			  .merkle = true, .force_uid = -1, .force_gid = -1 };
	uint64_t meta_bytes = 0, image_bytes = 0;
	const char *src = NULL, *image = NULL;
	double t0 = now_s();
	struct build b;
	struct store st;
	int fd, ret;

	ret = parse_args(argc, argv, &o, &src, &image);
	if (ret >= 0)
		goto out_opts;
	ret = 1;
	fd = open_output(image);
	if (fd < 0)
		goto out_tmp;
	if (store_init(&st, fd, tmp_path, o.page_shift, o.dedupe))
		xipfs_oom();
	build_init(&b, &o, &st);
	if (build_image(&b, &o, src, image, fd, &meta_bytes, &image_bytes))
		goto out_close;
	if (close(fd) < 0) {
		fd = -1;
		die_path(&b, image, "cannot write the image: %s", strerror(errno));
		goto out_close;
	}
	fd = -1;
	if (rename(tmp_path, image) < 0) {
		die_path(&b, image, "cannot rename the finished image into place: %s",
			 strerror(errno));
		goto out_close;
	}
	if (!o.quiet)
		print_summary(&st, image, o.page_shift, meta_bytes, image_bytes, t0);
	ret = 0;
out_close:
	if (fd >= 0)
		close(fd);
	if (ret)
		unlink(tmp_path);
	build_free(&b);
	store_free(&st);
out_tmp:
	free(tmp_path);
	tmp_path = NULL;
out_opts:
	free(o.excludes);
	return ret;
}
