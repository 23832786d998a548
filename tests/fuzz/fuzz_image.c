// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * fuzz_image: the input is an image.  Open it (without the metadata CRC, so
 * mutations are not all rejected by it), walk everything libxipfs can reach,
 * then fix the CRC and check that a normal open accepts the same bytes.
 * Merkle verification runs first, on the same raw bytes.
 */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"

#ifdef XIPFS_FUZZ_PLANT
/*
 * A deliberate heap overflow, compiled only into fuzz_plant, the target
 * tests/fuzz/test-smoke-plant.sh uses to show that fuzz-smoke fails on a
 * crash.  libFuzzer finds the input quickly through its memcmp hook.
 */
static void plant(const uint8_t *data, size_t size)
{
	if (size >= 8 && !memcmp(data, "PLANTED!", 8)) {
		volatile char *p = malloc(8);

		p[8] = 1;
		free((void *)p);
	}
}
#endif

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct xipfs_image *img = NULL;
	void *buf;
	int err;

#ifdef XIPFS_FUZZ_PLANT
	plant(data, size);
#endif
	if (size > FUZZ_MAX_INPUT)
		return -1;
	fuzz_quiet();
	/*
	 * Images live page aligned in a segment; exactly @size bytes, so ASan
	 * sees any read past the end.
	 */
	if (posix_memalign(&buf, 4096, size ? size : 1))
		return 0;
	memcpy(buf, data, size);
	{
		/* Verification reads raw bytes: any input, no crash. */
		struct xipfs_verify_stats vst;

		err = xipfs_verify_mem(buf, size, "fuzz", NULL, &vst);
		FUZZ_CHECK(err <= 0);
	}
	err = xipfs_open_mem(buf, size, "fuzz", XIPFS_OPEN_NOCRC, &img);
	if (err) {
		FUZZ_CHECK(err < 0 && !img);
		goto out;
	}
	FUZZ_CHECK(xipfs_image_size(img) <= size);
	fuzz_walk(img);
	{
		struct xipfs_super *sb = buf;
		uint32_t crc = xipfs_image_crc(buf, sb);

		xipfs_close(img);
		img = NULL;
		sb->s_crc = xipfs_cpu_to_le32(crc);
		err = xipfs_open_mem(buf, size, "fuzz", 0, &img);
		FUZZ_CHECK(err == 0);
	}
	xipfs_close(img);
out:
	free(buf);
	return 0;
}
