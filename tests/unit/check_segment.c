// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * src/lib/segment.c: a named segment under a test-unique name in /dev/shm
 * (load, open, replace, unload, refusals that leave nothing behind) and
 * the private sealed memfd (seals present, every way of writing refused).
 * The segment's bytes are compared with the image the builder made.
 */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <dlfcn.h>
#include <stdarg.h>
#include <stdbool.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testimg.h"
#include "xipfs/segment.h"

static struct timg *t;
static char name[64], seg_path[PATH_MAX], img_path[PATH_MAX];
static uint32_t file;

/* Write the builder's image to a temporary file. */
static void write_image(void)
{
	int fd;

	snprintf(img_path, sizeof(img_path), "/tmp/check_segment.XXXXXX");
	fd = mkstemp(img_path);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, t->buf, t->size), (ssize_t)t->size);
	close(fd);
}

static void make_image(uint32_t seed)
{
	timg_free(t);
	t = timg_new(12);
	file = timg_add(t, 1, "file", S_IFREG | 0644);
	timg_fill(t, file, 0, 3, seed);
	timg_fill(t, file, 5, 1, seed + 1);
	timg_build(t);
	write_image();
}

static void setup(void)
{
	timg_log_capture();
	t = NULL;
	snprintf(name, sizeof(name), "unit-test.%d", (int)getpid());
	xipfs_segment_path(name, seg_path, sizeof(seg_path));
	make_image(1);
}

static void teardown(void)
{
	xipfs_segment_unload(name);
	unlink(img_path);
	timg_free(t);
}

/* The segment holds the image, zero padded; the library reads it. */
static void check_content(const void *base, size_t size)
{
	struct xipfs_image *img;
	struct xipfs_ino i;
	uint8_t *buf = malloc(t->nodes[file].size), *want = malloc(t->nodes[file].size);

	ck_assert_uint_ge(size, t->size);
	ck_assert_mem_eq(base, t->buf, t->size);
	for (size_t k = t->size; k < size; k++)
		ck_assert_uint_eq(((const uint8_t *)base)[k], 0);
	ck_assert_int_eq(xipfs_open_mem(base, size, "seg", 0, &img), 0);
	ck_assert_int_eq(xipfs_path_lookup(img, "/file", &i), 0);
	ck_assert_int_eq(xipfs_file_read(img, &i, buf, i.size, 0), (ssize_t)i.size);
	ck_assert_int_eq(timg_model_read(t, file, 0, i.size, want), (ssize_t)i.size);
	ck_assert_mem_eq(buf, want, i.size);
	xipfs_close(img);
	free(buf);
	free(want);
}

/* No segment file and no temporary file of @name is left in /dev/shm. */
static void check_nothing_left(void)
{
	char tmp_prefix[96];
	DIR *dir = opendir(XIPFS_SEGMENT_DIR);
	struct dirent *de;
	struct stat st;

	ck_assert_int_eq(lstat(seg_path, &st), -1);
	ck_assert_int_eq(errno, ENOENT);
	snprintf(tmp_prefix, sizeof(tmp_prefix), ".xipfs.%s.", name);
	ck_assert_ptr_nonnull(dir);
	while ((de = readdir(dir)))
		ck_assert_msg(strncmp(de->d_name, tmp_prefix, strlen(tmp_prefix)),
			      "left behind: %s", de->d_name);
	closedir(dir);
}

START_TEST(test_names)
{
	static const char *const good[] = { "a", "A-z_0.9", "x.y", "root",
		"1234567890123456789012345678901234567890123456789012345678901234" };
	static const char *const bad[] = { "", ".hidden", "a/b", "..", "a b", "ä",
		"12345678901234567890123456789012345678901234567890123456789012345",
		"a\n", "*" };
	struct xipfs_segment *seg;
	char p[PATH_MAX];

	for (size_t k = 0; k < sizeof(good) / sizeof(good[0]); k++)
		ck_assert_msg(xipfs_segment_name_ok(good[k]) == 0, "'%s' refused", good[k]);
	for (size_t k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
		ck_assert_msg(xipfs_segment_name_ok(bad[k]) == -EINVAL, "'%s' accepted", bad[k]);
		ck_assert_int_eq(xipfs_segment_load(img_path, bad[k], NULL), -EINVAL);
		ck_assert_int_eq(xipfs_segment_open(bad[k], &seg), -EINVAL);
		ck_assert_int_eq(xipfs_segment_unload(bad[k]), -EINVAL);
	}
	xipfs_segment_path("abc", p, sizeof(p));
	ck_assert_str_eq(p, "/dev/shm/xipfs.abc");
}
END_TEST

START_TEST(test_named)
{
	struct xipfs_segment *seg, *seg2;
	struct stat st;
	size_t pow2 = 1;
	int flags, fd;

	while (pow2 < t->size)
		pow2 <<= 1;
	if (geteuid() != 0) {
		/* A segment is root's: others fail cleanly. */
		ck_assert_int_eq(xipfs_segment_load(img_path, name, NULL), -EPERM);
		check_nothing_left();
		return;
	}
	ck_assert_int_eq(xipfs_segment_load(img_path, name, NULL), 0);
	ck_assert_int_eq(lstat(seg_path, &st), 0);
	ck_assert(S_ISREG(st.st_mode));
	ck_assert_uint_eq(st.st_mode & 07777, 0444);
	ck_assert_uint_eq(st.st_uid, 0);
	ck_assert_uint_eq((uint64_t)st.st_size, pow2);
	ck_assert_int_eq(xipfs_segment_open(name, &seg), 0);
	ck_assert_uint_eq(xipfs_segment_size(seg), pow2);
	check_content(xipfs_segment_base(seg), xipfs_segment_size(seg));
	ck_assert_int_eq(fcntl(xipfs_segment_fd(seg), F_GETFL) & O_ACCMODE, O_RDONLY);
	/* tmpfs has FS_IMMUTABLE_FL since Linux 6.0: then even root cannot write. */
	if (ioctl(xipfs_segment_fd(seg), FS_IOC_GETFLAGS, &flags) == 0) {
		ck_assert(flags & FS_IMMUTABLE_FL);
		ck_assert_int_eq(open(seg_path, O_WRONLY), -1);
		ck_assert_int_eq(errno, EPERM);
		ck_assert_int_eq(unlink(seg_path), -1);
	} else {
		printf("check_segment: %s: no FS_IOC_GETFLAGS (%s), immutable flag not checked\n",
		       seg_path, strerror(errno));
	}
	ck_assert_ptr_eq(mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED,
			      xipfs_segment_fd(seg), 0), MAP_FAILED);

	/* Replace with another image: new opens see it, the old mapping stays. */
	{
		uint8_t *old = malloc(t->size);
		size_t old_size = t->size;

		memcpy(old, t->buf, t->size);
		unlink(img_path);
		make_image(7);
		ck_assert_mem_ne(old + 4096, t->buf + 4096, 4096);
		ck_assert_int_eq(xipfs_segment_load(img_path, name, NULL), 0);
		ck_assert_int_eq(xipfs_segment_open(name, &seg2), 0);
		check_content(xipfs_segment_base(seg2), xipfs_segment_size(seg2));
		ck_assert_mem_eq(xipfs_segment_base(seg), old, old_size);
		xipfs_segment_close(seg2);
		free(old);
	}
	xipfs_segment_close(seg);
	ck_assert_int_eq(xipfs_segment_unload(name), 0);
	check_nothing_left();
	ck_assert_int_eq(xipfs_segment_unload(name), -ENOENT);
	ck_assert_int_eq(xipfs_segment_open(name, &seg), -ENOENT);
	fd = open(seg_path, O_RDONLY);
	ck_assert_int_eq(fd, -1);
}
END_TEST

/* A corrupt or missing image is never loaded and leaves nothing behind. */
START_TEST(test_refused)
{
	struct xipfs_segment *seg;
	int fd;

	timg_poke(t, t->inode_off + offsetof(struct xipfs_inode, i_mode), 0, 2);
	unlink(img_path);
	write_image();
	ck_assert_int_eq(xipfs_segment_load(img_path, name, NULL), -EUCLEAN);
	ck_assert_int_eq(xipfs_segment_memfd(img_path, &seg), -EUCLEAN);
	check_nothing_left();
	/* Truncated. */
	fd = open(img_path, O_WRONLY | O_TRUNC);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, t->buf, 4096), 4096);
	close(fd);
	ck_assert_int_eq(xipfs_segment_load(img_path, name, NULL), -EUCLEAN);
	check_nothing_left();
	ck_assert_int_eq(xipfs_segment_load("/nonexistent/x.img", name, NULL), -ENOENT);
	check_nothing_left();
	/* A segment file too short for a superblock is not mapped. */
	fd = open(seg_path, O_WRONLY | O_CREAT | O_EXCL, 0444);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, t->buf, 100), 100);
	close(fd);
	ck_assert_int_eq(xipfs_segment_open(name, &seg), -EUCLEAN);
	ck_assert_ptr_nonnull(strstr(timg_log(), seg_path));
	ck_assert_int_eq(xipfs_segment_unload(name), 0);
	check_nothing_left();
}
END_TEST

/*
 * An image file that changes while it is being loaded.  This test binary
 * interposes open(2) (libxipfs's calls resolve to it first): from the
 * change_at-th open of the image file on, each open flips a byte of its
 * names table (a CRC mismatch) before it returns.  Whatever a load then
 * does, what it put in a segment must validate: the library checks the
 * copy it made, not the file it copied from.
 */
static int change_at, opens;

static void flip_names_byte(int (*real_open)(const char *, int, ...))
{
	uint64_t names;
	uint8_t b;
	int fd = real_open(img_path, O_RDWR);

	memcpy(&names, t->buf + offsetof(struct xipfs_super, s_names_offset), 8);
	names = xipfs_le64(names);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(pread(fd, &b, 1, (off_t)names), 1);
	b ^= 0x20;
	ck_assert_int_eq(pwrite(fd, &b, 1, (off_t)names), 1);
	close(fd);
}

int open(const char *path, int flags, ...)
{
	static int (*real_open)(const char *, int, ...);
	mode_t mode = 0;
	int fd;

	if (flags & (O_CREAT | O_TMPFILE)) {
		va_list ap;

		va_start(ap, flags);
		mode = va_arg(ap, mode_t);
		va_end(ap);
	}
	if (!real_open)
		real_open = (int (*)(const char *, int, ...))dlsym(RTLD_NEXT, "open");
	fd = real_open(path, flags, mode);
	if (change_at && fd >= 0 && !strcmp(path, img_path) && ++opens >= change_at)
		flip_names_byte(real_open);
	return fd;
}

/* Load @img_path both ways; what loads must validate. */
static int load_changing(int at, bool memfd)
{
	struct xipfs_segment *seg;
	struct xipfs_image *img;
	int err;

	unlink(img_path);
	make_image(1);
	change_at = at;
	opens = 0;
	err = memfd ? xipfs_segment_memfd(img_path, &seg)
		    : xipfs_segment_load(img_path, name, NULL);
	change_at = 0;
	if (!err && !memfd)
		err = xipfs_segment_open(name, &seg);
	if (err)
		return err;
	ck_assert_int_eq(xipfs_open_mem(xipfs_segment_base(seg), xipfs_segment_size(seg),
					"seg", 0, &img), 0);
	xipfs_close(img);
	xipfs_segment_close(seg);
	return 0;
}

START_TEST(test_changing_file)
{
	for (int memfd = 0; memfd < 2; memfd++) {
		/* Changed after it was first opened: loaded as it was then, or refused. */
		int err = load_changing(2, memfd);

		ck_assert(err == 0 || err == -EUCLEAN);
		/* Changed as it is opened: the copy is the changed file, refused. */
		ck_assert_int_eq(load_changing(1, memfd), -EUCLEAN);
		xipfs_segment_unload(name);
		check_nothing_left();
	}
}
END_TEST

START_TEST(test_memfd)
{
	const int want = F_SEAL_WRITE | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL;
	struct xipfs_segment *seg;
	char p[64];
	int fd, rw;

	ck_assert_int_eq(xipfs_segment_memfd(img_path, &seg), 0);
	ck_assert_uint_eq(xipfs_segment_size(seg), t->size);
	check_content(xipfs_segment_base(seg), xipfs_segment_size(seg));
	fd = xipfs_segment_fd(seg);
	ck_assert_int_eq(fcntl(fd, F_GET_SEALS) & want, want);
	ck_assert_int_eq(fcntl(fd, F_GETFL) & O_ACCMODE, O_RDONLY);
	ck_assert_int_eq(write(fd, "x", 1), -1);
	/* Even a writable descriptor to the same memfd cannot change it. */
	snprintf(p, sizeof(p), "/proc/self/fd/%d", fd);
	rw = open(p, O_RDWR);
	ck_assert_int_ge(rw, 0);
	ck_assert_int_eq(pwrite(rw, "x", 1, 0), -1);
	ck_assert_int_eq(errno, EPERM);
	ck_assert_int_eq(ftruncate(rw, 0), -1);
	ck_assert_int_eq(ftruncate(rw, (off_t)t->size * 2), -1);
	ck_assert_ptr_eq(mmap(NULL, t->size, PROT_READ | PROT_WRITE, MAP_SHARED, rw, 0),
			 MAP_FAILED);
	ck_assert_int_eq(errno, EPERM);
	ck_assert_int_eq(fcntl(rw, F_ADD_SEALS, 0), -1);	/* sealed for good */
	close(rw);
	check_content(xipfs_segment_base(seg), xipfs_segment_size(seg));
	xipfs_segment_close(seg);
}
END_TEST

int main(void)
{
	const struct TTest *tests[] = { test_names, test_named, test_refused, test_memfd,
					test_changing_file, NULL };
	struct stat st;

	if (stat(XIPFS_SEGMENT_DIR, &st) < 0 || !S_ISDIR(st.st_mode)) {
		printf("SKIP: %s is missing: named segments live there (mount a tmpfs on it)\n",
		       XIPFS_SEGMENT_DIR);
		return 77;
	}
	return timg_main("segment", setup, teardown, tests);
}
