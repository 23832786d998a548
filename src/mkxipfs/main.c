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
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>
#include <xxhash.h>

#include "xipfs/xipfs.h"
#include "mkxipfs.h"

const char *progname = "mkxipfs";
bool failed;
static char *tmp_path;

void die_path(const char *path, const char *fmt, ...)
{
	va_list ap;

	if (failed)
		return;		/* the first error is the one that matters */
	failed = true;
	fprintf(stderr, "%s: %s: ", progname, path);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

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
"archive (plain, gzip, bzip2, xz, zstd) or '-' for a tar on standard input.\n"
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

/* ---- layout ------------------------------------------------------------- */

struct buf {
	uint8_t *p;
	size_t len, cap;
};

static size_t buf_add(struct buf *b, const void *data, size_t len)
{
	size_t at = b->len;

	if (!len)
		return at;
	if (b->len + len > b->cap) {
		b->cap = (b->len + len) * 2 + 4096;
		b->p = realloc(b->p, b->cap);
		if (!b->p) {
			fprintf(stderr, "%s: out of memory\n", progname);
			exit(1);
		}
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

struct layout {
	struct node **order;		/* inodes, by inode number - 1 */
	uint32_t ninodes;
	uint64_t ndirents;
	struct buf names, xattrs;
	struct { uint64_t h; uint32_t off, len; } *sets;
	uint32_t nsets;
	struct buf setoffs;
};

static int cmp_xattr(const void *a, const void *b)
{
	return strcmp(((const struct xattr_kv *)a)->name,
		      ((const struct xattr_kv *)b)->name);
}

/* Serialize @n's xattrs as a set and return its index + 1 (shared). */
static uint32_t xattr_set(struct layout *l, struct node *n)
{
	struct buf s = { 0 };
	uint32_t v;
	uint64_t h;

	if (!n->nxattrs)
		return 0;
	qsort(n->xattrs, n->nxattrs, sizeof(*n->xattrs), cmp_xattr);
	v = xipfs_cpu_to_le32(n->nxattrs);
	buf_add(&s, &v, 4);
	for (uint32_t i = 0; i < n->nxattrs; i++) {
		struct xipfs_xattr_entry e = {
			.x_name_len = xipfs_cpu_to_le16((uint16_t)strlen(n->xattrs[i].name)),
			.x_value_len = xipfs_cpu_to_le32(n->xattrs[i].len),
		};

		buf_add(&s, &e, sizeof(e));
		buf_add(&s, n->xattrs[i].name, strlen(n->xattrs[i].name));
		buf_add(&s, n->xattrs[i].value, n->xattrs[i].len);
		buf_align(&s, 4);
	}
	h = XXH3_64bits(s.p, s.len);
	for (uint32_t i = 0; i < l->nsets; i++) {
		if (l->sets[i].h == h && l->sets[i].len == s.len &&
		    !memcmp(l->xattrs.p + l->sets[i].off, s.p, s.len)) {
			free(s.p);
			return i + 1;
		}
	}
	l->sets = realloc(l->sets, (l->nsets + 1) * sizeof(*l->sets));
	if (!l->sets) {
		fprintf(stderr, "%s: out of memory\n", progname);
		exit(1);
	}
	l->sets[l->nsets].h = h;
	l->sets[l->nsets].len = (uint32_t)s.len;
	l->sets[l->nsets].off = (uint32_t)buf_add(&l->xattrs, s.p, s.len);
	free(s.p);
	return ++l->nsets;
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

/* Number inodes breadth first (root = 1), so a directory's entries get
 * consecutive numbers; hardlinks take the number of their first name. */
static int number_inodes(struct layout *l, struct node *root, const struct opts *o)
{
	size_t cap = 1024;

	l->order = malloc(cap * sizeof(*l->order));
	if (!l->order)
		return -ENOMEM;
	l->order[0] = root;
	root->ino = 1;
	l->ninodes = 1;
	for (uint32_t i = 0; i < l->ninodes; i++) {
		struct node *d = l->order[i];
		uint32_t subdirs = 0;

		apply_opts(d, o);
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
				fprintf(stderr, "%s: more than 2^32-1 inodes\n", progname);
				return -EOVERFLOW;
			}
			if (l->ninodes == cap) {
				cap *= 2;
				l->order = realloc(l->order, cap * sizeof(*l->order));
				if (!l->order)
					return -ENOMEM;
			}
			t->ino = ++l->ninodes;
			l->order[l->ninodes - 1] = t;
		}
		d->nlink = 2 + subdirs;
	}
	if (l->ndirents > UINT32_MAX)
		return -EOVERFLOW;
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

static int write_all(int fd, const void *p, size_t len, off_t off)
{
	while (len) {
		ssize_t n = pwrite(fd, p, len, off);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p = (const uint8_t *)p + n;
		len -= n;
		off += n;
	}
	return 0;
}

/* Lay out and write the metadata and the superblock. */
static int finish_image(struct store *st, struct node *root, const struct opts *o,
			uint64_t *meta_bytes, uint64_t *image_bytes)
{
	struct layout l = { 0 };
	struct buf m = { 0 };
	struct xipfs_super sb = { 0 };
	uint64_t inode_at, dirent_at, extent_at, xattr_at, sum_at, names_at;
	uint64_t dirent_index = 0, meta_off, total;
	uint32_t data_pages = st->next_page - 1;
	int err = number_inodes(&l, root, o);

	if (err)
		goto out;
	/* Names first (their offsets go into dirents and symlink inodes). */
	inode_at = buf_add(&m, NULL, (size_t)l.ninodes * sizeof(struct xipfs_inode));
	dirent_at = buf_add(&m, NULL, l.ndirents * sizeof(struct xipfs_dirent));
	buf_align(&m, 8);
	extent_at = buf_add(&m, NULL, st->next * sizeof(struct xipfs_extent));
	for (uint64_t i = 0; i < st->next; i++) {
		struct xipfs_extent *e = (struct xipfs_extent *)(m.p + extent_at) + i;

		e->e_lpage = xipfs_cpu_to_le32(st->ext[i].lpage);
		e->e_count = xipfs_cpu_to_le32(st->ext[i].count);
		e->e_page = xipfs_cpu_to_le32(st->ext[i].page);
	}
	buf_align(&m, 8);
	xattr_at = m.len;
	for (uint32_t i = 0; i < l.nsets; i++) {
		uint32_t v = xipfs_cpu_to_le32(l.sets[i].off + 4 * l.nsets);

		buf_add(&m, &v, 4);
	}
	buf_add(&m, l.xattrs.p, l.xattrs.len);
	buf_align(&m, 8);
	sum_at = m.len;
	for (uint32_t i = 0; i < data_pages; i++) {
		uint32_t v = xipfs_cpu_to_le32(st->sums[i]);

		buf_add(&m, &v, 4);
	}
	buf_align(&m, 8);
	names_at = m.len;
	for (uint32_t i = 0; i < l.ninodes; i++) {
		struct node *n = l.order[i];
		uint64_t name_off = 0;

		if (S_ISLNK(n->mode))
			name_off = buf_add(&l.names, n->target, n->size);
		if (S_ISDIR(n->mode)) {
			for (uint32_t k = 0; k < n->nkids; k++) {
				struct node *kid = n->kids[k];
				struct node *t = kid->link ? kid->link : kid;
				struct xipfs_dirent *de = (struct xipfs_dirent *)(m.p + dirent_at) +
							  dirent_index + k;
				uint64_t at = buf_add(&l.names, kid->name, kid->namelen);

				if (at + kid->namelen > UINT32_MAX) {
					fprintf(stderr, "%s: more than 4 GiB of names\n", progname);
					err = -EOVERFLOW;
					goto out;
				}
				de->d_ino = xipfs_cpu_to_le32(t->ino);
				de->d_name = xipfs_cpu_to_le32((uint32_t)at);
				de->d_namelen = (uint8_t)kid->namelen;
				de->d_type = (uint8_t)xipfs_mode_to_dtype(t->mode);
			}
		}
		put_inode((struct xipfs_inode *)(m.p + inode_at) + i, n, dirent_index, name_off);
		if (S_ISDIR(n->mode))
			dirent_index += n->nkids;
	}
	buf_add(&m, l.names.p, l.names.len);
	buf_align(&m, st->psize);

	meta_off = (uint64_t)st->next_page << st->shift;
	total = meta_off + m.len;
	memcpy(sb.s_magic, XIPFS_MAGIC_STR, 8);
	sb.s_version_major = xipfs_cpu_to_le16(XIPFS_VERSION_MAJOR);
	sb.s_version_minor = xipfs_cpu_to_le16(XIPFS_VERSION_MINOR);
	sb.s_page_shift = xipfs_cpu_to_le32(st->shift);
	sb.s_compat = xipfs_cpu_to_le32(XIPFS_FEATURE_COMPAT_PAGESUM);
	sb.s_root_ino = xipfs_cpu_to_le32(XIPFS_ROOT_INO);
	sb.s_build_time = xipfs_cpu_to_le64(o->have_timestamp ? (uint64_t)o->timestamp
							      : (uint64_t)time(NULL));
	sb.s_size = xipfs_cpu_to_le64(total);
	sb.s_data_start = xipfs_cpu_to_le32(1);
	sb.s_data_pages = xipfs_cpu_to_le32(data_pages);
	sb.s_meta_offset = xipfs_cpu_to_le64(meta_off);
	sb.s_meta_size = xipfs_cpu_to_le64(m.len);
	sb.s_inode_offset = xipfs_cpu_to_le64(meta_off + inode_at);
	sb.s_inode_count = xipfs_cpu_to_le32(l.ninodes);
	sb.s_dirent_count = xipfs_cpu_to_le32((uint32_t)l.ndirents);
	sb.s_dirent_offset = xipfs_cpu_to_le64(meta_off + dirent_at);
	sb.s_extent_offset = xipfs_cpu_to_le64(meta_off + extent_at);
	sb.s_extent_count = xipfs_cpu_to_le64(st->next);
	sb.s_names_offset = xipfs_cpu_to_le64(meta_off + names_at);
	sb.s_names_size = xipfs_cpu_to_le64(l.names.len);
	sb.s_xattr_offset = xipfs_cpu_to_le64(meta_off + xattr_at);
	sb.s_xattr_size = xipfs_cpu_to_le64(4 * l.nsets + l.xattrs.len);
	sb.s_xattr_sets = xipfs_cpu_to_le32(l.nsets);
	sb.s_pagesum_offset = xipfs_cpu_to_le64(meta_off + sum_at);
	sb.s_pagesum_count = xipfs_cpu_to_le64(data_pages);
	sb.s_stat_files = xipfs_cpu_to_le64(st->files);
	sb.s_stat_bytes = xipfs_cpu_to_le64(st->bytes);
	sb.s_stat_file_pages = xipfs_cpu_to_le64(st->file_pages);
	sb.s_stat_hole_pages = xipfs_cpu_to_le64(st->hole_pages);
	sb.s_stat_dedup_pages = xipfs_cpu_to_le64(st->dedup_pages);
	if (o->have_uuid) {
		memcpy(sb.s_uuid, o->uuid, 16);
	} else if (o->have_timestamp) {
		/* Reproducible builds: the UUID follows from the content. */
		XXH3_state_t *h = XXH3_createState();
		XXH128_hash_t d;

		XXH3_128bits_reset(h);
		XXH3_128bits_update(h, &sb, sizeof(sb));
		XXH3_128bits_update(h, m.p, m.len);
		d = XXH3_128bits_digest(h);
		XXH3_freeState(h);
		memcpy(sb.s_uuid, &d.low64, 8);
		memcpy(sb.s_uuid + 8, &d.high64, 8);
		sb.s_uuid[6] = (sb.s_uuid[6] & 0x0f) | 0x80;	/* RFC 9562 v8 */
		sb.s_uuid[8] = (sb.s_uuid[8] & 0x3f) | 0x80;
	} else if (getrandom(sb.s_uuid, 16, 0) != 16) {
		err = -errno;
		goto out;
	} else {
		sb.s_uuid[6] = (sb.s_uuid[6] & 0x0f) | 0x40;	/* v4 */
		sb.s_uuid[8] = (sb.s_uuid[8] & 0x3f) | 0x80;
	}
	{
		uint32_t crc = xipfs_crc32c(0, &sb, sizeof(sb));

		sb.s_crc = xipfs_cpu_to_le32(xipfs_crc32c(crc, m.p, m.len));
	}
	err = write_all(st->fd, m.p, m.len, (off_t)meta_off);
	if (!err) {
		uint8_t *page0 = calloc(1, st->psize);

		if (!page0) {
			err = -ENOMEM;
			goto out;
		}
		memcpy(page0, &sb, sizeof(sb));
		err = write_all(st->fd, page0, st->psize, 0);
		free(page0);
	}
	if (!err && ftruncate(st->fd, (off_t)total) < 0)
		err = -errno;
	*meta_bytes = m.len;
	*image_bytes = total;
out:
	free(l.order);
	free(l.names.p);
	free(l.xattrs.p);
	free(l.sets);
	free(m.p);
	return err;
}

/* ---- main --------------------------------------------------------------- */

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

int main(int argc, char **argv)
{
	static const struct option lopts[] = {
		{ "all-root", no_argument, NULL, 'a' },
		{ "uid-offset", required_argument, NULL, 1 },
		{ "gid-offset", required_argument, NULL, 2 },
		{ "force-uid", required_argument, NULL, 3 },
		{ "force-gid", required_argument, NULL, 4 },
		{ "no-dedupe", no_argument, NULL, 5 },
		{ "io", required_argument, NULL, 6 },
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
	struct opts o = { .page_shift = XIPFS_PAGE_SHIFT_DEFAULT, .dedupe = true, .io_uring = true,
			  .force_uid = -1, .force_gid = -1 };
	struct store st;
	struct node *root = NULL;
	const char *src, *image, *sde;
	char *dirc = NULL;
	uint64_t meta_bytes = 0, image_bytes = 0;
	double t0 = now_s();
	int c, fd = -1, err;
	int64_t v;

	while ((c = getopt_long(argc, argv, "ax:T:U:b:qvhV", lopts, NULL)) != -1) {
		switch (c) {
		case 'a':
			o.all_root = true;
			break;
		case 1:
			if (parse_num(optarg, "uid offset", &o.uid_offset))
				return 2;
			break;
		case 2:
			if (parse_num(optarg, "gid offset", &o.gid_offset))
				return 2;
			break;
		case 3:
		case 4:
			if (parse_num(optarg, "id", &v) || v < 0 || v > UINT32_MAX) {
				fprintf(stderr, "%s: ids are 0..4294967295\n", progname);
				return 2;
			}
			*(c == 3 ? &o.force_uid : &o.force_gid) = v;
			break;
		case 5:
			o.dedupe = false;
			break;
		case 'x':
			o.excludes = realloc(o.excludes, (o.nexcludes + 1) * sizeof(char *));
			if (!o.excludes)
				return 1;
			o.excludes[o.nexcludes++] = optarg;
			break;
		case 'T':
			if (parse_num(optarg, "timestamp", &o.timestamp))
				return 2;
			o.have_timestamp = true;
			break;
		case 'U':
			if (xipfs_uuid_parse(optarg, o.uuid)) {
				fprintf(stderr, "%s: invalid UUID '%s'\n", progname, optarg);
				return 2;
			}
			o.have_uuid = true;
			break;
		case 'b':
			if (parse_num(optarg, "page size", &v) ||
			    (v != 4096 && v != 16384 && v != 65536)) {
				fprintf(stderr, "%s: page size must be 4096, 16384 or 65536\n",
					progname);
				return 2;
			}
			o.page_shift = (unsigned)__builtin_ctzll((unsigned long long)v);
			break;
		case 6:
			if (strcmp(optarg, "uring") && strcmp(optarg, "read")) {
				fprintf(stderr, "%s: --io=%s: expected uring or read\n", progname, optarg);
				return 2;
			}
			o.io_uring = !strcmp(optarg, "uring");
			break;
		case 'q':
			o.quiet = true;
			break;
		case 'v':
			o.verbose = true;
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
	}
	if (argc - optind != 2) {
		usage(stderr);
		return 2;
	}
	src = argv[optind];
	image = argv[optind + 1];
	sde = getenv("SOURCE_DATE_EPOCH");
	if (!o.have_timestamp && sde && *sde) {
		if (parse_num(sde, "SOURCE_DATE_EPOCH", &o.timestamp))
			return 2;
		o.have_timestamp = true;
	}
	o.progress = !o.quiet && isatty(2);

	dirc = strdup(image);
	if (!dirc)
		return 1;
	if (asprintf(&tmp_path, "%s/.%s.XXXXXX", dirname(dirc), basename((char *)image)) < 0)
		return 1;
	fd = mkstemp(tmp_path);
	if (fd < 0) {
		fprintf(stderr, "%s: %s: cannot create the image: %s\n", progname, image,
			strerror(errno));
		free(tmp_path);
		return 1;
	}
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGHUP, on_signal);
	if (store_init(&st, fd, tmp_path, o.page_shift, o.dedupe)) {
		fprintf(stderr, "%s: out of memory\n", progname);
		goto fail;
	}
	{
		struct stat ts;

		if (fstat(fd, &ts) == 0) {
			o.skip_dev = ts.st_dev;
			o.skip_ino = ts.st_ino;
		}
	}
	root = is_dir(src) ? tree_from_dir(src, &o, &st) : tree_from_tar(src, &o, &st);
	if (!root || failed)
		goto fail;
	progress_tick(&o, &st, true);
	err = store_flush(&st);
	if (!err)
		err = finish_image(&st, root, &o, &meta_bytes, &image_bytes);
	if (!err && fsync(fd) < 0)
		err = -errno;
	if (!err && fchmod(fd, 0644) < 0)
		err = -errno;
	if (err) {
		die_path(image, "cannot write the image: %s", strerror(-err));
		goto fail;
	}
	if (close(fd) < 0) {
		fd = -1;
		die_path(image, "cannot write the image: %s", strerror(errno));
		goto fail;
	}
	fd = -1;
	if (rename(tmp_path, image) < 0) {
		die_path(image, "cannot rename the finished image into place: %s",
			 strerror(errno));
		goto fail;
	}
	if (!o.quiet) {
		uint64_t saved = st.dedup_pages;

		printf("%s: %s\n", progname, image);
		printf("  files            %llu (%llu bytes in)\n",
		       (unsigned long long)st.files, (unsigned long long)st.bytes);
		printf("  unique pages     %u of %llu file pages\n", st.next_page - 1,
		       (unsigned long long)st.file_pages);
		printf("  saved by dedupe  %llu pages (%llu bytes)\n",
		       (unsigned long long)saved,
		       (unsigned long long)(saved << o.page_shift));
		printf("  holes            %llu pages\n", (unsigned long long)st.hole_pages);
		printf("  metadata         %llu bytes\n", (unsigned long long)meta_bytes);
		printf("  image size       %llu bytes\n", (unsigned long long)image_bytes);
		printf("  time             %.2f s\n", now_s() - t0);
	}
	tree_free(root);
	store_free(&st);
	free(tmp_path);
	free(dirc);
	free(o.excludes);
	return 0;
fail:
	if (fd >= 0)
		close(fd);
	unlink(tmp_path);
	tree_free(root);
	store_free(&st);
	free(tmp_path);
	free(dirc);
	free(o.excludes);
	return 1;
}
