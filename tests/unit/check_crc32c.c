// SPDX-License-Identifier: GPL-2.0-or-later
/* CRC32C known answers (RFC 3720 B.4 and the common check value). */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "xipfs/xipfs.h"

START_TEST(test_check_value)
{
	ck_assert_uint_eq(xipfs_crc32c(0, "123456789", 9), 0xE3069283u);
}
END_TEST

START_TEST(test_rfc3720)
{
	unsigned char buf[32];

	memset(buf, 0, sizeof(buf));
	ck_assert_uint_eq(xipfs_crc32c(0, buf, 32), 0x8A9136AAu);
	memset(buf, 0xff, sizeof(buf));
	ck_assert_uint_eq(xipfs_crc32c(0, buf, 32), 0x62A8AB43u);
	for (int i = 0; i < 32; i++)
		buf[i] = (unsigned char)i;
	ck_assert_uint_eq(xipfs_crc32c(0, buf, 32), 0x46DD794Eu);
}
END_TEST

/* Chaining and every alignment/length give the same as one pass. */
START_TEST(test_chain)
{
	unsigned char buf[1000];
	uint32_t whole;

	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (unsigned char)(i * 31 + 7);
	whole = xipfs_crc32c(0, buf, sizeof(buf));
	for (size_t cut = 0; cut <= sizeof(buf); cut += 37)
		ck_assert_uint_eq(xipfs_crc32c(xipfs_crc32c(0, buf, cut), buf + cut,
					       sizeof(buf) - cut), whole);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("crc32c");
	TCase *tc = tcase_create("core");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, test_check_value);
	tcase_add_test(tc, test_rfc3720);
	tcase_add_test(tc, test_chain);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
