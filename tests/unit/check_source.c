// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * src/lib/source.c: the image sources every program accepts (seg:NAME,
 * ivshmem[:UUID], a file), UUID text both ways, and opening a source: a
 * file and a copy of it in a sealed memfd give the same image.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testimg.h"
#include "xipfs/segment.h"

START_TEST(test_uuid)
{
	static const uint8_t u[16] = { 0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef,
				       0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0xff };
	static const char *const bad[] = { "", "0123", "01234567-89ab-cdef-0011-2233445566f",
		"01234567-89ab-cdef-0011-2233445566fff", "0123456789abcdef00112233445566f",
		"01234567+89ab-cdef-0011-2233445566ff", "01234567-89ab-cdef-0011-2233445566fg",
		"0123456-789ab-cdef-0011-2233445566ff", " 1234567-89ab-cdef-0011-2233445566ff" };
	char s[XIPFS_UUID_STR_LEN + 1];
	uint8_t v[16];

	xipfs_uuid_format(u, s);
	ck_assert_str_eq(s, "01234567-89ab-cdef-0011-2233445566ff");
	ck_assert_int_eq(xipfs_uuid_parse(s, v), 0);
	ck_assert_mem_eq(u, v, 16);
	memset(v, 0, 16);
	ck_assert_int_eq(xipfs_uuid_parse("0123456789ABCDEF00112233445566FF", v), 0);
	ck_assert_mem_eq(u, v, 16);
	for (size_t k = 0; k < sizeof(bad) / sizeof(bad[0]); k++)
		ck_assert_msg(xipfs_uuid_parse(bad[k], v) == -EINVAL, "'%s' accepted", bad[k]);
}
END_TEST

START_TEST(test_parse)
{
	/* @label NULL: not checked. */
	static const struct {
		const char *arg;
		enum xipfs_source_kind kind;
		const char *what, *label;
	} good[] = {
		{ "seg:base.1", XIPFS_SOURCE_SEGMENT, "base.1", "" },
		{ "ivshmem", XIPFS_SOURCE_IVSHMEM, "" },
		{ "ivshmem:0123456789ABCDEF00112233445566FF", XIPFS_SOURCE_IVSHMEM,
		  "01234567-89ab-cdef-0011-2233445566ff" },
		{ "./seg:x", XIPFS_SOURCE_FILE, "./seg:x" },
		{ "ivshmemx", XIPFS_SOURCE_FILE, "ivshmemx" },
		{ "pmem", XIPFS_SOURCE_IVSHMEM, "" },
		{ "pmem:0123456789ABCDEF00112233445566FF", XIPFS_SOURCE_IVSHMEM,
		  "01234567-89ab-cdef-0011-2233445566ff" },
		{ "pmemx", XIPFS_SOURCE_FILE, "pmemx" },
		/* "/LABEL": one image of a pool. */
		{ "seg:base.1/py-3.11", XIPFS_SOURCE_SEGMENT, "base.1", "py-3.11" },
		{ "ivshmem/b", XIPFS_SOURCE_IVSHMEM, "", "b" },
		{ "ivshmem:0123456789ABCDEF00112233445566FF/b", XIPFS_SOURCE_IVSHMEM,
		  "01234567-89ab-cdef-0011-2233445566ff", "b" },
		{ "pmem:0123456789ABCDEF00112233445566FF/b", XIPFS_SOURCE_IVSHMEM,
		  "01234567-89ab-cdef-0011-2233445566ff", "b" },
		{ "pmem/b", XIPFS_SOURCE_IVSHMEM, "", "b" },
	};
	struct xipfs_source src;

	timg_log_capture();
	for (size_t k = 0; k < sizeof(good) / sizeof(good[0]); k++) {
		ck_assert_int_eq(xipfs_source_parse(good[k].arg, &src), 0);
		ck_assert_int_eq(src.kind, good[k].kind);
		ck_assert_str_eq(src.arg, good[k].arg);
		ck_assert_str_eq(src.kind == XIPFS_SOURCE_SEGMENT ? src.segment :
				 src.kind == XIPFS_SOURCE_IVSHMEM ? src.uuid : src.path,
				 good[k].what);
		ck_assert_int_eq(src.pmem, !strncmp(good[k].arg, "pmem", 4) &&
				 src.kind == XIPFS_SOURCE_IVSHMEM);
		if (good[k].label)
			ck_assert_str_eq(src.label, good[k].label);
	}
	ck_assert_str_eq(timg_log(), "");

	ck_assert_int_eq(xipfs_source_parse("pmem:1234", &src), -EINVAL);
	ck_assert_ptr_nonnull(strstr(timg_log(), "expected pmem:"));
	ck_assert_int_eq(xipfs_source_parse("seg:", &src), -EINVAL);
	ck_assert_int_eq(xipfs_source_parse("seg:.x", &src), -EINVAL);
	ck_assert_int_eq(xipfs_source_parse("seg:a/b/c", &src), -EINVAL);
	ck_assert_ptr_nonnull(strstr(timg_log(), "seg:a/b/c: invalid label 'b/c'"));
	ck_assert_int_eq(xipfs_source_parse("seg:a/", &src), -EINVAL);
	ck_assert_int_eq(xipfs_source_parse("seg:/b", &src), -EINVAL);
	ck_assert_int_eq(xipfs_source_parse("ivshmem/.b", &src), -EINVAL);
	ck_assert_int_eq(xipfs_source_parse("ivshmem:1234/b", &src), -EINVAL);
	ck_assert_int_eq(xipfs_source_parse("ivshmem:", &src), -EINVAL);
	ck_assert_int_eq(xipfs_source_parse("ivshmem:1234", &src), -EINVAL);
	ck_assert_ptr_nonnull(strstr(timg_log(), "ivshmem:1234: not a UUID"));
	ck_assert_int_eq(xipfs_source_parse("", &src), -EINVAL);
}
END_TEST

/* A file source opens mapped, or copied (XIPFS_OPEN_COPY): the same bytes. */
START_TEST(test_open)
{
	struct timg *t = timg_new(12);
	struct xipfs_segment *seg;
	struct xipfs_image *img;
	struct xipfs_source src;
	char path[] = "/tmp/check_source.XXXXXX";
	uint32_t f = timg_add(t, 1, "f", S_IFREG | 0644);
	int fd;

	timg_fill(t, f, 0, 2, 7);
	timg_build(t);
	fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, t->buf, t->size), (ssize_t)t->size);
	close(fd);
	ck_assert_int_eq(xipfs_source_parse(path, &src), 0);
	ck_assert_int_eq(xipfs_source_open(&src, 0, &seg, &img), 0);
	ck_assert_ptr_null(seg);
	ck_assert_mem_eq(xipfs_image_base(img), t->buf, t->size);
	xipfs_close(img);
	ck_assert_int_eq(xipfs_source_open(&src, XIPFS_OPEN_COPY, &seg, &img), 0);
	ck_assert_ptr_nonnull(seg);
	ck_assert_ptr_eq(xipfs_image_base(img), xipfs_segment_base(seg));
	ck_assert_mem_eq(xipfs_image_base(img), t->buf, t->size);
	ck_assert_str_eq(xipfs_image_name(img), path);
	xipfs_close(img);
	xipfs_segment_close(seg);
	/* A bad CRC: refused, unless NOCRC asks for the image anyway (fsck). */
	t->buf[t->meta_off] ^= 1;
	fd = open(path, O_WRONLY);
	ck_assert_int_eq(pwrite(fd, t->buf, t->size, 0), (ssize_t)t->size);
	close(fd);
	timg_log_capture();
	ck_assert_int_eq(xipfs_source_open(&src, XIPFS_OPEN_COPY, &seg, &img), -EUCLEAN);
	ck_assert_ptr_null(seg);
	ck_assert_ptr_null(img);
	ck_assert_int_eq(xipfs_source_open(&src, XIPFS_OPEN_NOCRC, &seg, &img), 0);
	ck_assert_int_eq(xipfs_check_crc(img), -EUCLEAN);
	ck_assert_ptr_nonnull(strstr(timg_log(), "corrupt superblock at offset 24: metadata checksum mismatch"));
	xipfs_close(img);
	unlink(path);
	timg_free(t);
}
END_TEST

int main(void)
{
	const struct TTest *tests[] = { test_uuid, test_parse, test_open, NULL };

	return timg_main("source", NULL, NULL, tests);
}
